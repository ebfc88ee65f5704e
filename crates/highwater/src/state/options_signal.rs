//! The `signal` option of every stream constructor (Node's
//! `new Readable({ signal })`…): the state layer only keeps the signal; the
//! stream layer applies it when the stream is made (Node's
//! `addAbortSignal(signal, this)`).
//!
//! The options are plain data, `Send + Sync` (they may be built on one
//! thread and used on a loop thread), while a signal is a single-threaded
//! handle like the streams. So the options hold a key: the signal itself
//! waits in a table of the thread that set it, for as long as a clone of
//! the options lives, and only a stream made on that thread finds it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::{self, ThreadId};

use super::abort::AbortSignal;
use super::options::{DuplexOptions, ReadableOptions, TransformOptions, WritableOptions};

thread_local! {
    static SIGNALS: RefCell<HashMap<u64, AbortSignal>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// Where the options keep their signal: a key to this thread's table.
#[derive(Clone, Debug)]
pub(crate) struct SignalSlot(Arc<Key>);

#[derive(Debug)]
struct Key {
    id: u64,
    thread: ThreadId,
}

impl SignalSlot {
    fn new(signal: AbortSignal) -> Self {
        let id = NEXT.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        SIGNALS.with(|m| m.borrow_mut().insert(id, signal));
        SignalSlot(Arc::new(Key {
            id,
            thread: thread::current().id(),
        }))
    }

    /// The signal, on the thread that set it; `None` elsewhere.
    pub(crate) fn get(&self) -> Option<AbortSignal> {
        if thread::current().id() != self.0.thread {
            return None;
        }
        SIGNALS
            .try_with(|m| m.borrow().get(&self.0.id).cloned())
            .ok()
            .flatten()
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        // Dropped on another thread, the entry stays until its thread ends.
        if thread::current().id() == self.thread {
            let _ = SIGNALS.try_with(|m| m.borrow_mut().remove(&self.id));
        }
    }
}

impl<T> ReadableOptions<T> {
    /// The signal the stream should watch.
    pub(crate) fn abort_signal(&self) -> Option<AbortSignal> {
        self.signal.as_ref().and_then(SignalSlot::get)
    }

    /// Node's `signal`: aborting it destroys the stream with an
    /// `AbortError` whose cause is the reason (at once if it is already
    /// aborted). The stream takes its listener off once done.
    ///
    /// The signal works on the thread it was made on (it is not `Send`): a
    /// stream made from these options on another thread does not watch it.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, Readable, ReadableOptions};
    ///
    /// let ac = AbortController::new();
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default().signal(ac.signal()));
    /// ac.abort();
    /// assert!(r.destroyed());
    /// assert_eq!(r.errored().unwrap().code(), "ABORT_ERR");
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(SignalSlot::new(signal));
        self
    }
}

impl<T> WritableOptions<T> {
    /// The signal the stream should watch.
    pub(crate) fn abort_signal(&self) -> Option<AbortSignal> {
        self.signal.as_ref().and_then(SignalSlot::get)
    }

    /// Node's `signal`: aborting it destroys the stream with an
    /// `AbortError` whose cause is the reason (at once if it is already
    /// aborted). The stream takes its listener off once done.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortSignal, Error, Writable, WritableOptions};
    ///
    /// let gone = AbortSignal::abort(Some(Error::msg("too late")));
    /// let w = Writable::from_fn(WritableOptions::default().signal(gone), |_c: Bytes| Ok(()));
    /// assert!(w.destroyed());
    /// assert_eq!(w.errored().unwrap().cause().unwrap().to_string(), "too late");
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(SignalSlot::new(signal));
        self
    }
}

impl<R, W> DuplexOptions<R, W> {
    /// Node's `signal`: aborting it destroys the Duplex (both sides) with an
    /// `AbortError` whose cause is the reason. Without it, a signal set on
    /// the writable side's options, else on the readable side's, is used.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Q;
    /// # impl ReadableImpl<bytes::Bytes> for Q { fn read(&self, _: usize, _: &Source<bytes::Bytes>) {} }
    /// # impl WritableImpl<bytes::Bytes> for Q { fn write(&self, _: bytes::Bytes, d: Done) { d.ok() } }
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, Duplex, DuplexOptions};
    ///
    /// let ac = AbortController::new();
    /// let d = Duplex::new(DuplexOptions::default().signal(ac.signal()), Q, Q);
    /// ac.abort();
    /// assert!(d.destroyed());
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(SignalSlot::new(signal));
        self
    }

    /// The signal the stream should watch.
    pub(crate) fn abort_signal(&self) -> Option<AbortSignal> {
        self.signal
            .as_ref()
            .or(self.writable.signal.as_ref())
            .or(self.readable.signal.as_ref())
            .and_then(SignalSlot::get)
    }
}

impl<In, Out> TransformOptions<In, Out> {
    /// Node's `signal`: aborting it destroys the Transform with an
    /// `AbortError` whose cause is the reason.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, PassThrough, TransformOptions};
    ///
    /// let ac = AbortController::new();
    /// let p = PassThrough::<Bytes>::new(TransformOptions::default().signal(ac.signal()));
    /// ac.abort();
    /// assert!(p.destroyed());
    /// assert_eq!(p.errored().unwrap().code(), "ABORT_ERR");
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.duplex.signal = Some(SignalSlot::new(signal));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AbortController;

    fn entries() -> usize {
        SIGNALS.with(|m| m.borrow().len())
    }

    #[test]
    fn the_table_entry_lives_as_long_as_a_clone_of_the_options() {
        let before = entries();
        let ac = AbortController::new();
        let o = ReadableOptions::<u8>::objects().signal(ac.signal());
        let o2 = o.clone();
        assert_eq!(entries(), before + 1);
        drop(o);
        assert!(o2.abort_signal().is_some_and(|s| s.same(&ac.signal())));
        drop(o2);
        assert_eq!(entries(), before);
    }

    #[test]
    fn another_thread_does_not_see_the_signal() {
        let o = WritableOptions::<u8>::objects().signal(AbortController::new().signal());
        let o2 = o.clone();
        let seen = std::thread::spawn(move || o2.abort_signal().is_some())
            .join()
            .unwrap_or(true);
        assert!(!seen);
        assert!(o.abort_signal().is_some());
    }
}
