//! Writable streams: a sink behind a buffer bounded by a high-water mark.
//!
//! A [`Writable`] accepts chunks with [`write`](WritableSide::write) and hands them
//! one at a time (or in batches, see [`WritableImpl::writev`]) to the sink that
//! implements it. While the sink is busy, chunks wait in the stream's buffer.
//! This module is Node's `lib/internal/streams/writable.js`, transition for
//! transition; the state machine lives in `machine.rs`, free of I/O.
//!
//! # Backpressure
//!
//! `write()` returns `false` once the bytes accepted and not yet completed
//! (the in-flight chunk included) reach the high-water mark: the producer
//! should stop and wait for `'drain'`, which comes when the buffer is empty
//! again. The chunk is accepted either way; the mark is advice, and ignoring
//! it lets the buffer grow without bound. The rule is Node's exactly:
//! `length < mark || length == 0`, computed *after* the sink was called, so a
//! sink that completes synchronously never causes backpressure.
//!
//! In async code, [`write_async`](WritableSide::write_async) does the waiting:
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::{Writable, WritableOptions};
//!
//! highwater::block_on(async {
//!     let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
//!     for _ in 0..10 {
//!         w.write_async(Bytes::from_static(b"data")).await?;
//!     }
//!     w.end_async().await
//! })
//! .unwrap();
//! ```
//!
//! # Ending and finishing
//!
//! [`end`](WritableSide::end) says no more chunks will come. Once every chunk has
//! been completed, the sink's [`finish`](WritableImpl::finish) hook runs (if
//! it has one), `'prefinish'` and then `'finish'` are emitted (always on a
//! later tick than `end()`), and with `auto_destroy` the stream is destroyed
//! and emits `'close'`.
//!
//! # Errors
//!
//! Errors carry Node's codes ([`Error::code`]). A sink error fails the write's
//! callback first, then every buffered write, then is emitted as `'error'`
//! (and the stream destroyed, unless `auto_destroy` is off). Misuse is not a
//! panic: `write()` after `end()` returns `false`, its callback gets
//! `ERR_STREAM_WRITE_AFTER_END` and the stream errors; `write()` after
//! `destroy()` gets `ERR_STREAM_DESTROYED`.
//!
//! # Differences from Node, on purpose
//!
//! * Chunks are typed: a byte stream takes any [`ByteLen`] type (`Bytes`,
//!   `Vec<u8>`, `String`), an object stream any `T`. Node's `write(null)` and
//!   `write(42)` (which throw in Node) cannot be written, and there are no
//!   string encodings: a `String` is its UTF-8 bytes.
//! * A mark is a `usize`, so Node's invalid marks (`-1`, `1.5`, `NaN`) cannot
//!   be expressed and there is nothing to throw.
//! * An `'error'` emitted with no listener does not crash the process (Node
//!   throws it as an uncaught exception); it stays readable through
//!   [`errored`](crate::StreamBase::errored) and fails the awaitable methods.
//! * Node's `_construct` is [`WritableImpl::construct`] (named in
//!   [`WritableImpl::hooks`]), as the other optional hooks are: writes wait
//!   in the buffer until it calls `done`.

pub(crate) mod machine;
mod sinks;

use std::cell::RefCell;
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use bytes::Bytes;

use crate::runtime::events::Listeners;
use crate::state::writable::WState;
use crate::state::{Error, WritableOptions};

use super::core::{Core, WSide};
use super::side::sealed::{Handle, HasWritable};
#[cfg(doc)]
use super::WritableSide;
use super::{Hooks, WritableImpl};

pub use sinks::AsyncSink;

/// The events of a writable side that carry no value. `'error'` has its own
/// methods ([`on_error`](crate::StreamBase::on_error)) because it carries
/// the error.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableEvent, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Vec<u8>| Ok(()));
/// let finished = Rc::new(Cell::new(false));
/// let f = finished.clone();
/// w.once(WritableEvent::Finish, move || f.set(true));
/// w.end();
/// highwater::run_until_idle();
/// assert!(finished.get());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WritableEvent {
    /// The buffer emptied after a `write()` returned `false`.
    Drain,
    /// Everything is written and `_final` (if any) is done; `'finish'` is next.
    Prefinish,
    /// `end()` was called and every chunk is written.
    Finish,
    /// The stream is destroyed and released its resources.
    Close,
}

impl<R: 'static, W: 'static> Core<R, W> {
    pub(crate) fn wevent(&self, ev: WritableEvent) -> &Listeners<()> {
        match ev {
            WritableEvent::Drain => &self.events.drain,
            WritableEvent::Prefinish => &self.events.prefinish,
            WritableEvent::Finish => &self.events.finish,
            WritableEvent::Close => &self.events.close,
        }
    }
}

/// A writable side built from its options and its sink.
pub(crate) fn writable_side<W: 'static>(
    opts: &WritableOptions<W>,
    imp: Box<dyn WritableImpl<W>>,
) -> WSide<W> {
    let hwm = opts.mark();
    let hooks = imp.hooks();
    let mut state = WState::new(
        opts.mode.object_mode(),
        hwm,
        opts.len_of,
        hooks.contains(Hooks::WRITEV),
        hooks.contains(Hooks::WRITE_SYNC),
        hooks.contains(Hooks::FINAL),
        opts.common.emit_close,
        opts.common.auto_destroy,
    );
    state.lwm = opts
        .low_water_mark
        .map_or(0, |l| l.min(hwm.saturating_sub(1)));
    state.max_items = opts.common.max_items;
    WSide {
        state: RefCell::new(state),
        imp,
        hooks,
    }
}

/// A Writable stream of chunks `T` (bytes by default): Node's `Writable`.
///
/// A cheap handle: clones refer to the same stream, so listeners and hooks
/// can hold one. It is `!Send`; it lives on the thread that created it, whose
/// [event loop](crate::event_loop) runs its deferred work. Its methods are
/// those of [`StreamBase`](crate::StreamBase) and [`WritableSide`] (bring
/// them into scope with `use highwater::prelude::*`).
///
/// Three constructors: [`new`](Self::new) over a [`WritableImpl`] (Node's
/// `new Writable({ write, writev, final, construct, destroy })`),
/// [`from_fn`](Self::from_fn) over a closure, and
/// [`from_async`](Self::from_async) over an [`AsyncSink`]. How chunks count
/// toward the mark (bytes, objects, weights) is the options' choice (see
/// [`WritableOptions`]).
///
/// # Examples
///
/// Backpressure and `'drain'`, with a sink that completes later:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Done, Writable, WritableEvent, WritableImpl, WritableOptions};
///
/// // A sink that holds each write until we complete it by hand.
/// #[derive(Default, Clone)]
/// struct Slow(Rc<RefCell<Vec<Done>>>);
/// impl WritableImpl<Bytes> for Slow {
///     fn write(&self, _chunk: Bytes, done: Done) { self.0.borrow_mut().push(done) }
/// }
///
/// let sink = Slow::default();
/// let w = Writable::new(WritableOptions::default().high_water_mark(4), sink.clone());
/// let drained = Rc::new(RefCell::new(false));
/// let d = drained.clone();
/// w.on(WritableEvent::Drain, move || *d.borrow_mut() = true);
///
/// assert!(w.write(Bytes::from_static(b"ab")));   // 2 < 4
/// assert!(!w.write(Bytes::from_static(b"cd")));  // 4: stop writing
/// assert!(w.writable_need_drain());
/// let first = sink.0.borrow_mut().remove(0);
/// first.ok();                                     // "cd" goes to the sink
/// let second = sink.0.borrow_mut().remove(0);
/// second.ok();                                    // empty: 'drain'
/// assert!(*drained.borrow());
/// ```
pub struct Writable<T: 'static = Bytes> {
    pub(crate) core: Rc<Core<Infallible, T>>,
}

impl<T: 'static> Clone for Writable<T> {
    fn clone(&self) -> Self {
        Writable {
            core: self.core.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for Writable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.core.ws().borrow();
        f.debug_struct("Writable")
            .field("id", &self.core.id)
            .field("object_mode", &st.object_mode())
            .field("high_water_mark", &st.hwm)
            .field("length", &st.length)
            .field("need_drain", &st.need_drain())
            .field("corked", &st.corked())
            .field("ending", &st.ending())
            .field("finished", &st.finished())
            .field("destroyed", &st.destroyed())
            .finish()
    }
}

impl<T: 'static> Handle for Writable<T> {
    type R = Infallible;
    type W = T;
    fn core(&self) -> &Rc<Core<Infallible, T>> {
        &self.core
    }
}

impl<T: 'static> HasWritable for Writable<T> {}

impl<T: 'static> Writable<T> {
    /// Creates a stream over `imp`, its chunks counted as `opts` says.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Default)]
    /// struct Collect(RefCell<Vec<u8>>);
    /// impl WritableImpl<Bytes> for Collect {
    ///     fn write(&self, chunk: Bytes, done: Done) {
    ///         self.0.borrow_mut().extend_from_slice(&chunk);
    ///         done.ok();
    ///     }
    /// }
    ///
    /// let w = Writable::new(WritableOptions::default(), Collect::default());
    /// assert!(w.write(Bytes::from_static(b"hi")));
    /// ```
    pub fn new(opts: WritableOptions<T>, imp: impl WritableImpl<T>) -> Self {
        let side = writable_side(&opts, Box::new(imp));
        let core = Core::new(Some(side), None, true);
        if let Some(signal) = opts.abort_signal() {
            crate::stream::abort::apply(&core, &signal);
        }
        Writable { core }
    }

    /// A stream whose sink is a synchronous closure, called once per
    /// chunk; an `Err` fails the write and the stream.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let out = Rc::new(RefCell::new(String::new()));
    /// let o = out.clone();
    /// let w = Writable::from_fn(WritableOptions::default(), move |s: String| {
    ///     o.borrow_mut().push_str(&s);
    ///     Ok(())
    /// });
    /// assert!(w.write("hello ".to_string()));
    /// w.end_with_chunk("world".to_string());
    /// assert_eq!(*out.borrow(), "hello world");
    /// ```
    pub fn from_fn(
        opts: WritableOptions<T>,
        f: impl FnMut(T) -> Result<(), Error> + 'static,
    ) -> Self {
        Self::new(opts, sinks::FnSink::new(f))
    }

    /// A stream whose sink is an [`AsyncSink`]: each chunk is awaited on a
    /// task of the event loop before the next is handed over, so the mark
    /// bounds what waits in between.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AsyncSink, Error, Writable, WritableOptions};
    ///
    /// struct Slow;
    /// impl AsyncSink<Bytes> for Slow {
    ///     async fn write(&mut self, _chunk: Bytes) -> Result<(), Error> {
    ///         tokio::task::yield_now().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_async(WritableOptions::default(), Slow);
    ///     w.write_async(Bytes::from_static(b"x")).await?;
    ///     w.end_async().await
    /// })
    /// .unwrap();
    /// ```
    pub fn from_async(opts: WritableOptions<T>, sink: impl AsyncSink<T>) -> Self {
        Self::new(opts, sinks::AsyncDriver::spawn(sink))
    }
}

#[cfg(test)]
mod tests;
