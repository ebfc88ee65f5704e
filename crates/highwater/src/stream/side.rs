//! The public shape of every stream: [`StreamBase`] (what every stream has),
//! [`WritableSide`] (what can be written to) and [`ReadableSide`] (what can be
//! read from), implemented once, for every stream type of the library.
//!
//! Node builds every stream from two state objects and one `destroy`; so
//! does highwater (`Core`). A stream type is a handle to one `Core`, and says
//! so through the sealed [`Handle`](sealed::Handle) trait; the blanket impls
//! below give it the methods of the sides it has. A `Writable` gets
//! `StreamBase + WritableSide`, a `Readable` `StreamBase + ReadableSide`, a
//! `Duplex`, `Transform`, `PassThrough` or `net::Socket` all three, an
//! `fs::ReadStream` the readable ones. Code generic over "anything I can write
//! bytes to" takes `&impl WritableSide<Bytes>`.
//!
//! The traits are sealed: a new kind of stream is made by giving hooks
//! ([`WritableImpl`](crate::WritableImpl), [`ReadableImpl`](crate::ReadableImpl))
//! to a constructor, not by implementing them. Each method is monomorphised
//! for its stream type, so calling one through the trait costs what the
//! inherent method did.

use std::future::Future;
use std::rc::Rc;
use std::task::Poll;

use crate::runtime::event_loop::park_waker;
use crate::runtime::ListenerId;
use crate::state::callback::Cb;
use crate::state::stats::{ReadableStats, WritableStats};
use crate::state::{Callback, Error, ErrorKind, StreamId};

use super::core::{self as core_, Core};
use super::readable::machine as rm;
use super::writable::machine as wm;
use super::{ReadableEvent, StreamEvent, WritableEvent};

pub(crate) mod sealed {
    use std::rc::Rc;

    use crate::stream::core::Core;

    /// A handle to one stream: what the blanket impls of the side traits are
    /// written against. Not nameable outside the crate.
    pub trait Handle {
        /// The readable side's chunk type (`Infallible` when there is none).
        type R: 'static;
        /// The writable side's chunk type (`Infallible` when there is none).
        type W: 'static;
        /// The stream.
        fn core(&self) -> &Rc<Core<Self::R, Self::W>>;
    }

    /// The handle's stream has a writable side.
    pub trait HasWritable: Handle {}

    /// The handle's stream has a readable side.
    pub trait HasReadable: Handle {}
}

use sealed::{Handle, HasReadable, HasWritable};

/// What every stream has: identity, `destroy`, the `'error'` and `'close'`
/// events, and the state getters both sides share (Node's `destroyed`,
/// `closed`, `errored`).
///
/// # Examples
///
/// A function that works on any stream:
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, Readable, ReadableOptions, TransformOptions};
///
/// fn shut(s: &impl StreamBase) {
///     s.destroy(None);
/// }
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let p = PassThrough::<Bytes>::new(TransformOptions::default());
/// shut(&r);
/// shut(&p);
/// assert!(r.destroyed() && p.destroyed());
/// ```
pub trait StreamBase: Handle {
    /// This stream's identity (what `'pipe'`/`'unpipe'` listeners receive).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let a = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let b = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert_eq!(a.id(), a.clone().id()); // a handle's clone: the same stream
    /// assert_ne!(a.id(), b.id());
    /// ```
    fn id(&self) -> StreamId {
        self.core().id
    }

    /// Whether both handles refer to the same stream.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let a = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let b = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&b));
    /// ```
    fn ptr_eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(self.core(), other.core())
    }

    /// Destroys the stream: no more writes or reads, `'close'` on the next
    /// tick (after `'error'` if `err` is given). Buffered writes fail with
    /// `err` or `ERR_STREAM_DESTROYED`. Destroying twice does nothing.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let closed = Rc::new(Cell::new(false));
    /// let c = closed.clone();
    /// w.on_close(move || c.set(true));
    /// w.destroy(Some(Error::msg("cancelled")));
    /// assert!(w.destroyed() && !w.writable());
    /// assert!(!closed.get()); // 'close' comes on the next tick
    /// highwater::run_until_idle();
    /// assert!(closed.get());
    /// assert_eq!(w.errored().unwrap().code(), "cancelled");
    /// ```
    fn destroy(&self, err: Option<Error>) {
        core_::destroy(self.core(), err);
    }

    /// Node's `destroy(err, cb)`: destroys the stream as
    /// [`destroy`](Self::destroy) does, and calls `cb` once it is destroyed:
    /// with the outcome the destroy hook reported (`Err` when it failed or
    /// passed `err` on), before `'error'` and `'close'` are emitted. When the
    /// stream was already destroyed, `cb` is called right away with `Ok(())`
    /// and `err` is ignored, as in Node.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let (a, b, c) = (log.clone(), log.clone(), log.clone());
    /// w.on_error(move |e| a.borrow_mut().push(format!("error {}", e.code())));
    /// w.on_close(move || b.borrow_mut().push("close".to_string()));
    /// w.destroy_with_callback(Some(Error::msg("boom")), move |r: Result<(), Error>| {
    ///     c.borrow_mut().push(format!("cb {}", r.unwrap_err().code()))
    /// });
    /// // The default destroy hook calls back at once: so does the callback.
    /// assert_eq!(*log.borrow(), ["cb boom"]);
    /// highwater::run_until_idle();
    /// assert_eq!(*log.borrow(), ["cb boom", "error boom", "close"]);
    ///
    /// // Already destroyed: called right away, without an error.
    /// let again = Rc::new(RefCell::new(None));
    /// let g = again.clone();
    /// w.destroy_with_callback(Some(Error::msg("ignored")), move |r: Result<(), Error>| {
    ///     *g.borrow_mut() = Some(r.is_ok())
    /// });
    /// assert_eq!(*again.borrow(), Some(true));
    /// ```
    fn destroy_with_callback(&self, err: Option<Error>, cb: impl Into<Callback>) {
        core_::destroy_cb(self.core(), err, cb.into().0);
    }

    /// `destroy()` was called (or an error destroyed the stream).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert!(!r.destroyed());
    /// r.destroy(None);
    /// assert!(r.destroyed());
    /// ```
    fn destroyed(&self) -> bool {
        self.core().is_destroyed()
    }

    /// The destroy hook has called back (`'close'` is due or emitted).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert!(!w.closed());
    /// w.destroy(None);
    /// highwater::run_until_idle();
    /// assert!(w.closed());
    /// ```
    fn closed(&self) -> bool {
        self.core().is_closed()
    }

    /// The error the stream failed with, if any.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Err(Error::msg("full")));
    /// assert!(w.errored().is_none());
    /// let _ = w.write(Bytes::from_static(b"x")); // the sink fails the write
    /// highwater::run_until_idle();
    /// assert_eq!(w.errored().unwrap().code(), "full");
    /// ```
    fn errored(&self) -> Option<Error> {
        self.core().errored()
    }

    /// Adds an `'error'` listener.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let s = seen.clone();
    /// w.on_error(move |e| s.borrow_mut().push(e.code().to_string()));
    /// w.destroy(Some(Error::msg("boom")));
    /// highwater::run_until_idle(); // 'error' is emitted on the next tick
    /// assert_eq!(*seen.borrow(), ["boom"]);
    /// ```
    fn on_error(&self, f: impl Fn(&Error) + 'static) -> ListenerId {
        self.core().events.error.add(Rc::new(f), false, false)
    }

    /// Adds an `'error'` listener called at most once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let calls = Rc::new(Cell::new(0));
    /// let c = calls.clone();
    /// r.once_error(move |_e| c.set(c.get() + 1));
    /// assert_eq!(r.error_listener_count(), 1);
    /// r.destroy(Some(Error::msg("boom")));
    /// highwater::run_until_idle();
    /// assert_eq!(calls.get(), 1);
    /// assert_eq!(r.error_listener_count(), 0); // removed after its call
    /// ```
    fn once_error(&self, f: impl Fn(&Error) + 'static) -> ListenerId {
        self.core().events.error.add(Rc::new(f), true, false)
    }

    /// Adds a `'close'` listener.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let closes = Rc::new(Cell::new(0));
    /// let c = closes.clone();
    /// w.on_close(move || c.set(c.get() + 1));
    /// w.end(); // finishes, then auto-destroys
    /// highwater::run_until_idle();
    /// assert!(w.writable_finished());
    /// assert_eq!(closes.get(), 1);
    /// ```
    fn on_close(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .close
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'close'` listener called at most once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableEvent, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let closed = Rc::new(Cell::new(false));
    /// let c = closed.clone();
    /// w.once_close(move || c.set(true));
    /// assert_eq!(w.listener_count(WritableEvent::Close), 1);
    /// w.destroy(None);
    /// highwater::run_until_idle();
    /// assert!(closed.get());
    /// assert_eq!(w.listener_count(WritableEvent::Close), 0);
    /// ```
    fn once_close(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .close
            .add(Rc::new(move |_| f()), true, false)
    }

    /// Removes a listener added by any of the `on`/`once` methods.
    /// Returns whether it was registered.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let id = w.on_error(|_e| panic!("removed before the error"));
    /// assert!(w.off(id));
    /// assert!(!w.off(id)); // no longer registered
    /// w.destroy(Some(Error::msg("boom")));
    /// highwater::run_until_idle();
    /// ```
    fn off(&self, id: ListenerId) -> bool {
        self.core().remove_listener(id)
    }

    /// How many `'error'` listeners the stream has.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert_eq!(r.error_listener_count(), 0);
    /// let id = r.on_error(|_e| {});
    /// r.once_error(|_e| {});
    /// assert_eq!(r.error_listener_count(), 2);
    /// r.off(id);
    /// assert_eq!(r.error_listener_count(), 1);
    /// ```
    fn error_listener_count(&self) -> usize {
        self.core().events.error.count()
    }

    /// How many listeners `event` has (Node's `listenerCount(event)`): a
    /// [`WritableEvent`], a [`ReadableEvent`] or any [`StreamEvent`]. The
    /// listeners the library adds count too, as Node's do: a `pipe()` adds
    /// `'data'` and `'end'` on the source and `'unpipe'`, `'error'`,
    /// `'close'` and `'finish'` on the destination, as Node's `pipe` does.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{
    ///     Readable, ReadableEvent, ReadableOptions, StreamEvent, Writable, WritableEvent,
    ///     WritableOptions,
    /// };
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert_eq!(w.listener_count(WritableEvent::Finish), 0);
    /// let id = w.on(WritableEvent::Finish, || {});
    /// w.once(WritableEvent::Finish, || {});
    /// assert_eq!(w.listener_count(WritableEvent::Finish), 2);
    /// w.off(id);
    /// assert_eq!(w.listener_count(WritableEvent::Finish), 1);
    /// assert_eq!(w.listener_count(WritableEvent::Drain), 0);
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.on_end(|| {});
    /// assert_eq!(r.listener_count(ReadableEvent::End), 1);
    /// r.pipe(&w);
    /// assert_eq!(r.listener_count(ReadableEvent::End), 2); // the pipe's own
    /// assert_eq!(r.listener_count(StreamEvent::Data), 1);
    /// assert_eq!(w.listener_count(StreamEvent::Unpipe), 1);
    /// ```
    fn listener_count(&self, event: impl Into<StreamEvent>) -> usize {
        let e = &self.core().events;
        match event.into() {
            StreamEvent::Data => e.data.count(),
            StreamEvent::Readable => e.readable.count(),
            StreamEvent::End => e.end.count(),
            StreamEvent::Pause => e.pause.count(),
            StreamEvent::Resume => e.resume.count(),
            StreamEvent::Drain => e.drain.count(),
            StreamEvent::Prefinish => e.prefinish.count(),
            StreamEvent::Finish => e.finish.count(),
            StreamEvent::Pipe => e.pipe.count(),
            StreamEvent::Unpipe => e.unpipe.count(),
            StreamEvent::Error => e.error.count(),
            StreamEvent::Close => e.close.count(),
        }
    }
}

impl<S: Handle> StreamBase for S {}

/// The writable side of a stream: what a producer writes to. Node's
/// `Writable` interface, plus awaitable forms that make respecting
/// backpressure the easy path.
///
/// # Examples
///
/// A producer generic over any byte destination: a `Writable`, a file, a
/// socket, a Transform's input.
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, TransformOptions, Writable, WritableOptions};
///
/// async fn produce(dest: &impl WritableSide<Bytes>, n: usize) -> Result<(), highwater::Error> {
///     for _ in 0..n {
///         dest.write_async(Bytes::from_static(b"tick ")).await?; // waits for 'drain'
///     }
///     dest.end_async().await
/// }
///
/// highwater::block_on(async {
///     let w = Writable::from_fn(WritableOptions::default().high_water_mark(8), |_c: Bytes| Ok(()));
///     produce(&w, 10).await?;
///     let p = PassThrough::<Bytes>::new(TransformOptions::default());
///     p.resume();
///     produce(&p, 10).await
/// })
/// .unwrap();
/// ```
pub trait WritableSide<T: 'static>: StreamBase + HasWritable + Handle<W = T> {
    /// Writes a chunk. Returns `false` when the caller should stop writing
    /// until `'drain'` (the buffer reached the mark), or when the stream is
    /// ended, destroyed or errored.
    ///
    /// The chunk is accepted even when this returns `false` (unless the
    /// stream is ended or destroyed, in which case the stream errors as
    /// Node's does). Prefer [`write_async`](Self::write_async) in async code.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
    /// w.cork(); // keep the chunks in the buffer
    /// assert!(w.write(Bytes::from_static(b"ab")));  // 2 < 4
    /// assert!(!w.write(Bytes::from_static(b"cd"))); // 4: wait for 'drain'
    /// assert_eq!(w.writable_length(), 4);           // both were accepted
    /// ```
    #[must_use = "write() returns false when the producer must wait for 'drain'"]
    #[inline]
    fn write(&self, chunk: T) -> bool {
        wm::write_plain(self.core(), chunk)
    }

    /// Writes a chunk with a callback, called once the chunk is written
    /// (or with the error that failed it). Returns as [`write`](Self::write).
    ///
    /// A sink that completes synchronously has the callback called on the
    /// next tick; one that completes later has it called right then.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let outcome = Rc::new(RefCell::new(None));
    /// let o = outcome.clone();
    /// let ok = w.write_cb(Bytes::from_static(b"x"), move |r: Result<(), Error>| {
    ///     *o.borrow_mut() = Some(r);
    /// });
    /// assert!(ok);
    /// assert!(outcome.borrow().is_none()); // a synchronous sink: called on the next tick
    /// highwater::run_until_idle();
    /// assert!(matches!(*outcome.borrow(), Some(Ok(()))));
    /// ```
    #[must_use = "write_cb() returns false when the producer must wait for 'drain'"]
    fn write_cb(&self, chunk: T, cb: impl Into<Callback>) -> bool {
        matches!(wm::write_(self.core(), chunk, cb.into().0), Ok(true))
    }

    /// Says no more chunks will be written (Node's `end()`). Fully uncorks.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// w.cork();
    /// let _ = w.write(Bytes::from_static(b"x"));
    /// w.end();
    /// assert!(w.writable_ended() && w.writable_corked() == 0);
    /// assert!(!w.writable_finished()); // 'finish' comes on a later tick
    /// highwater::run_until_idle();
    /// assert!(w.writable_finished());
    /// ```
    fn end(&self) {
        wm::end(self.core(), None, Cb::Nop);
    }

    /// Writes a last chunk (without a callback) and ends, like `end(chunk)`.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let out = Rc::new(RefCell::new(Vec::new()));
    /// let o = out.clone();
    /// let w = Writable::from_fn(WritableOptions::default(), move |s: String| {
    ///     o.borrow_mut().push(s);
    ///     Ok(())
    /// });
    /// w.end_with_chunk("last".to_string());
    /// assert_eq!(*out.borrow(), ["last"]);
    /// assert!(w.writable_ended());
    /// ```
    fn end_with_chunk(&self, chunk: T) {
        wm::end(self.core(), Some(chunk), Cb::Nop);
    }

    /// The general `end([chunk][, cb])`: `cb` is called just before
    /// `'finish'`, or with the error that prevents it: the stream's error,
    /// `ERR_STREAM_ALREADY_FINISHED`, `ERR_STREAM_DESTROYED`.
    ///
    /// As in Node, after a plain `destroy()` (no error) the callback is
    /// never called; use [`end_async`](Self::end_async) if that matters.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Callback, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let log: Rc<RefCell<Vec<String>>> = Rc::default();
    /// let record = |log: Rc<RefCell<Vec<String>>>| {
    ///     Callback::once(move |r| {
    ///         log.borrow_mut().push(r.map_or_else(|e| e.code().into(), |()| "ok".into()))
    ///     })
    /// };
    /// w.end_with(Some(Bytes::from_static(b"bye")), Some(record(log.clone())));
    /// highwater::run_until_idle();
    /// w.end_with(None, Some(record(log.clone()))); // once more, after 'finish'
    /// highwater::run_until_idle();
    /// assert_eq!(*log.borrow(), ["ok", "ERR_STREAM_ALREADY_FINISHED"]);
    /// ```
    fn end_with(&self, chunk: Option<T>, cb: Option<Callback>) {
        wm::end(self.core(), chunk, Cb::from_opt(cb));
    }

    /// Buffers writes until [`uncork`](Self::uncork) (as many uncorks as corks).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let calls = Rc::new(Cell::new(0));
    /// let c = calls.clone();
    /// let w = Writable::from_fn(WritableOptions::default(), move |_c: Bytes| {
    ///     c.set(c.get() + 1);
    ///     Ok(())
    /// });
    /// w.cork();
    /// let _ = w.write(Bytes::from_static(b"a"));
    /// let _ = w.write(Bytes::from_static(b"b"));
    /// assert_eq!((calls.get(), w.writable_length()), (0, 2)); // held in the buffer
    /// w.uncork();
    /// assert_eq!((calls.get(), w.writable_length()), (2, 0));
    /// ```
    fn cork(&self) {
        self.core().ws().borrow_mut().cork();
    }

    /// Undoes one [`cork`](Self::cork); at zero, hands the buffered chunks
    /// to the sink (as one `writev` batch if the sink has one).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, Writable, WritableImpl, WritableOptions};
    ///
    /// // `Batches` has a `writev` hook and records the size of each batch it is handed.
    /// # #[derive(Default, Clone)]
    /// # struct Batches(Rc<RefCell<Vec<usize>>>);
    /// # impl WritableImpl<Vec<u8>> for Batches {
    /// #     fn write(&self, _c: Vec<u8>, done: Done) { self.0.borrow_mut().push(1); done.ok() }
    /// #     fn writev(&self, cs: Vec<Vec<u8>>, done: Done) {
    /// #         self.0.borrow_mut().push(cs.len());
    /// #         done.ok()
    /// #     }
    /// #     fn hooks(&self) -> Hooks { Hooks::WRITEV }
    /// # }
    /// let sink = Batches::default();
    /// let w = Writable::new(WritableOptions::default(), sink.clone());
    /// w.cork();
    /// w.cork();
    /// for _ in 0..3 {
    ///     let _ = w.write(b"x".to_vec());
    /// }
    /// w.uncork();
    /// assert!(sink.0.borrow().is_empty()); // still corked once
    /// w.uncork();
    /// assert_eq!(*sink.0.borrow(), [3]);   // one writev batch of 3 chunks
    /// ```
    fn uncork(&self) {
        wm::uncork(self.core());
    }

    /// Adds a listener for `event`, called each time it is emitted.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableEvent, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
    /// let drains = Rc::new(Cell::new(0));
    /// let d = drains.clone();
    /// w.on(WritableEvent::Drain, move || d.set(d.get() + 1));
    /// for _ in 0..2 {
    ///     w.cork();
    ///     assert!(!w.write(Bytes::from_static(b"full"))); // at the mark
    ///     w.uncork();
    ///     highwater::run_until_idle(); // written: 'drain'
    /// }
    /// assert_eq!(drains.get(), 2);
    /// ```
    fn on(&self, event: WritableEvent, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .wevent(event)
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a listener called the next time `event` is emitted, then removed.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableEvent, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
    /// let drains = Rc::new(Cell::new(0));
    /// let d = drains.clone();
    /// w.once(WritableEvent::Drain, move || d.set(d.get() + 1));
    /// for _ in 0..2 {
    ///     w.cork();
    ///     assert!(!w.write(Bytes::from_static(b"full"))); // at the mark
    ///     w.uncork();
    ///     highwater::run_until_idle(); // written: 'drain'
    /// }
    /// assert_eq!(drains.get(), 1);
    /// ```
    fn once(&self, event: WritableEvent, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .wevent(event)
            .add(Rc::new(move |_| f()), true, false)
    }

    /// Adds a listener that runs before those already registered (Node's
    /// `prependListener`).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableEvent, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let (a, b) = (log.clone(), log.clone());
    /// w.on(WritableEvent::Finish, move || a.borrow_mut().push("added first"));
    /// w.prepend(WritableEvent::Finish, move || b.borrow_mut().push("prepended"));
    /// w.end();
    /// highwater::run_until_idle();
    /// assert_eq!(*log.borrow(), ["prepended", "added first"]);
    /// ```
    fn prepend(&self, event: WritableEvent, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .wevent(event)
            .add(Rc::new(move |_| f()), false, true)
    }

    /// Adds a `'pipe'` listener: a Readable started piping into this
    /// stream (the argument identifies it).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let from = Rc::new(Cell::new(None));
    /// let f = from.clone();
    /// dst.on_pipe(move |id| f.set(Some(id)));
    /// src.pipe(&dst);
    /// assert_eq!(from.get(), Some(src.id()));
    /// ```
    fn on_pipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core()
            .events
            .pipe
            .add(Rc::new(move |id: &StreamId| f(*id)), false, false)
    }

    /// Adds a `'pipe'` listener called once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let pipes = Rc::new(Cell::new(0));
    /// let p = pipes.clone();
    /// dst.once_pipe(move |_id| p.set(p.get() + 1));
    /// src.pipe(&dst);
    /// src.unpipe(&dst);
    /// src.pipe(&dst);
    /// assert_eq!(pipes.get(), 1);
    /// ```
    fn once_pipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core()
            .events
            .pipe
            .add(Rc::new(move |id: &StreamId| f(*id)), true, false)
    }

    /// Adds an `'unpipe'` listener: a Readable stopped piping into this stream.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let from = Rc::new(Cell::new(None));
    /// let f = from.clone();
    /// dst.on_unpipe(move |id| f.set(Some(id)));
    /// src.pipe(&dst);
    /// assert_eq!(from.get(), None);
    /// src.unpipe(&dst);
    /// assert_eq!(from.get(), Some(src.id()));
    /// ```
    fn on_unpipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core().events.unpipe.add(
            Rc::new(move |info: &super::target::UnpipeInfo| f(info.src)),
            false,
            false,
        )
    }

    /// Adds an `'unpipe'` listener called once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let unpipes = Rc::new(Cell::new(0));
    /// let u = unpipes.clone();
    /// dst.once_unpipe(move |_id| u.set(u.get() + 1));
    /// for _ in 0..2 {
    ///     src.pipe(&dst);
    ///     src.unpipe(&dst);
    /// }
    /// assert_eq!(unpipes.get(), 1);
    /// ```
    fn once_unpipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core().events.unpipe.add(
            Rc::new(move |info: &super::target::UnpipeInfo| f(info.src)),
            true,
            false,
        )
    }

    /// *Beyond Node.* A snapshot of the buffer, marks and counters (see
    /// [`stats`](crate::stats)).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
    /// w.cork();
    /// let _ = w.write(Bytes::from_static(b"ab"));
    /// let _ = w.write(Bytes::from_static(b"cd"));
    /// let s = w.writable_stats();
    /// assert_eq!((s.length, s.items, s.high_water_mark), (4, 2, 4));
    /// assert!(s.need_drain);
    /// assert_eq!((s.writes, s.false_returns), (2, 1));
    /// ```
    fn writable_stats(&self) -> WritableStats {
        self.core().ws().borrow().stats()
    }

    /// Node's `writableBuffer`, lent rather than copied: calls `f` with an
    /// iterator over the chunks waiting in the buffer (not the one the sink
    /// is writing now), oldest first, and returns what it returns. Nothing
    /// is copied and the stream's hot path is untouched.
    ///
    /// `f` runs while the buffer is borrowed: it may call the stream's
    /// getters, but a method that changes the stream (`write`, `end`,
    /// `destroy`, ...) called from inside `f` panics.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// w.cork();
    /// let _ = w.write(Bytes::from_static(b"ab"));
    /// let _ = w.write(Bytes::from_static(b"c"));
    /// let (n, bytes) = w.with_writable_buffer(|it| (it.len(), it.map(|c| c.len()).sum::<usize>()));
    /// assert_eq!((n, bytes), (2, 3));
    /// w.uncork();
    /// assert_eq!(w.with_writable_buffer(|it| it.len()), 0); // written
    /// ```
    fn with_writable_buffer<U>(
        &self,
        f: impl FnOnce(&mut dyn ExactSizeIterator<Item = &T>) -> U,
    ) -> U {
        let st = self.core().ws().borrow();
        f(&mut st.buffered.iter().map(|b| &b.chunk))
    }

    /// Bytes (items) accepted and not yet written, in-flight chunk included.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// w.cork();
    /// let _ = w.write(Bytes::from_static(b"abc"));
    /// assert_eq!(w.writable_length(), 3); // buffered
    /// w.uncork();
    /// assert_eq!(w.writable_length(), 0); // written
    /// ```
    fn writable_length(&self) -> usize {
        self.core().ws().borrow().length
    }

    /// The mark `write()` compares against.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(64), |_c: Bytes| Ok(()));
    /// assert_eq!(w.writable_high_water_mark(), 64);
    /// let o = Writable::from_fn(WritableOptions::objects(), |_c: u32| Ok(()));
    /// assert_eq!(o.writable_high_water_mark(), highwater::DEFAULT_OBJECT_HIGH_WATER_MARK);
    /// ```
    fn writable_high_water_mark(&self) -> usize {
        self.core().ws().borrow().hwm
    }

    /// A `write()` returned `false` and `'drain'` has not come yet (false
    /// once ended or destroyed, since no `'drain'` will come then).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(2), |_c: Bytes| Ok(()));
    /// w.cork();
    /// assert!(!w.writable_need_drain());
    /// assert!(!w.write(Bytes::from_static(b"ab")));
    /// assert!(w.writable_need_drain());
    /// w.uncork();
    /// highwater::run_until_idle(); // 'drain'
    /// assert!(!w.writable_need_drain());
    /// ```
    fn writable_need_drain(&self) -> bool {
        let st = self.core().ws().borrow();
        st.need_drain() && !st.destroyed() && !st.ending()
    }

    /// The cork depth.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// w.cork();
    /// w.cork();
    /// assert_eq!(w.writable_corked(), 2);
    /// w.uncork();
    /// assert_eq!(w.writable_corked(), 1);
    /// w.end(); // fully uncorks
    /// assert_eq!(w.writable_corked(), 0);
    /// ```
    fn writable_corked(&self) -> u32 {
        self.core().ws().borrow().corked()
    }

    /// `end()` was called (Node's `writableEnded`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert!(!w.writable_ended());
    /// w.end();
    /// assert!(w.writable_ended());    // at once
    /// assert!(!w.writable_finished()); // 'finish' is still to come
    /// ```
    fn writable_ended(&self) -> bool {
        self.core().ws().borrow().ending()
    }

    /// `'finish'` was emitted.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// w.end_with_chunk(Bytes::from_static(b"last"));
    /// assert!(!w.writable_finished());
    /// highwater::run_until_idle();
    /// assert!(w.writable_finished());
    /// ```
    fn writable_finished(&self) -> bool {
        self.core().ws().borrow().finished()
    }

    /// Whether the writable side is in object mode.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let rows = Writable::from_fn(WritableOptions::objects(), |_row: (u32, String)| Ok(()));
    /// let bytes = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert!(rows.writable_object_mode());
    /// assert!(!bytes.writable_object_mode());
    /// ```
    fn writable_object_mode(&self) -> bool {
        self.core().ws().borrow().object_mode()
    }

    /// Whether `write()` may be called: not ended, destroyed or errored.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let a = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let b = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert!(a.writable());
    /// a.end();
    /// b.destroy(None);
    /// assert!(!a.writable() && !b.writable());
    /// ```
    fn writable(&self) -> bool {
        let st = self.core().ws().borrow();
        st.writable_side && !st.ending() && !st.ended() && !st.destroyed() && !st.is_errored()
    }

    /// Destroyed or errored before `'finish'` (Node's `writableAborted`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let done = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let cut = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// done.end();
    /// highwater::run_until_idle(); // finished (then auto-destroyed)
    /// cut.destroy(None);
    /// assert!(!done.writable_aborted());
    /// assert!(cut.writable_aborted());
    /// ```
    fn writable_aborted(&self) -> bool {
        let st = self.core().ws().borrow();
        st.writable_side && (st.destroyed() || st.is_errored()) && !st.finished()
    }

    /// Resolves once the producer may write again: at once when no
    /// `'drain'` is pending, else at the `'drain'` (or at `end()`, after
    /// which no `'drain'` comes). Fails with the stream's error (or
    /// `ERR_STREAM_DESTROYED`) if the stream errors or is destroyed while
    /// the `'drain'` is still pending.
    ///
    /// It cannot miss its wake-up: it checks the state each time it is
    /// polled, and `'drain'` wakes every waiting future.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
    ///     w.drained().await?; // nothing pending: at once
    ///     w.cork();
    ///     assert!(!w.write(Bytes::from_static(b"full")));
    ///     w.uncork();         // written now, 'drain' on the next tick
    ///     w.drained().await?;
    ///     assert!(!w.writable_need_drain());
    ///     Ok::<(), highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    fn drained(&self) -> impl Future<Output = Result<(), Error>> + 'static {
        drained_future(self.core().clone())
    }

    /// Writes a chunk and waits until the producer may write again (the
    /// stream's buffer is below its mark, or drained). This is the
    /// backpressure-respecting loop of Node, `if (!w.write(c)) await
    /// once(w, 'drain')`, in one call.
    ///
    /// # Errors
    ///
    /// `ERR_STREAM_WRITE_AFTER_END` / `ERR_STREAM_DESTROYED` when the
    /// stream no longer accepts writes; the stream's error if it fails
    /// while waiting.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Writable, WritableImpl, WritableOptions};
    ///
    /// // `Later` completes each write from a task, on a later turn of the loop.
    /// # struct Later;
    /// # impl WritableImpl<Bytes> for Later {
    /// #     fn write(&self, _c: Bytes, done: Done) {
    /// #         highwater::spawn(async move { done.ok() });
    /// #     }
    /// # }
    /// highwater::block_on(async {
    ///     let w = Writable::new(WritableOptions::default().high_water_mark(4), Later);
    ///     w.write_async(Bytes::from_static(b"full")).await?; // waits for 'drain'
    ///     assert_eq!(w.writable_length(), 0);
    ///     w.end();
    ///     let err = w.write_async(Bytes::from_static(b"late")).await.unwrap_err();
    ///     assert_eq!(err.code(), "ERR_STREAM_WRITE_AFTER_END");
    ///     Ok::<(), highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    fn write_async(&self, chunk: T) -> impl Future<Output = Result<(), Error>> + 'static {
        let core = self.core().clone();
        async move {
            if matches!(wm::write_(&core, chunk, Cb::Nop), Ok(true)) {
                return Ok(());
            }
            // `false` because this write failed (after end, after destroy, or
            // a sink that failed synchronously), or because the buffer is full.
            let failed = {
                let st = core.ws().borrow();
                match st.errored() {
                    Some(e) => Some(e.clone()),
                    None if st.destroyed() => Some(Error::destroyed("write")),
                    None => None,
                }
            };
            match failed {
                Some(e) => Err(e),
                None => drained_future(core).await,
            }
        }
    }

    /// Ends the writable side and resolves on `'finish'`.
    ///
    /// # Errors
    ///
    /// The stream's error if it fails before finishing;
    /// `ERR_STREAM_PREMATURE_CLOSE` if it is destroyed without an error
    /// before finishing.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    ///     w.write_async(Bytes::from_static(b"x")).await?;
    ///     w.end_async().await?;
    ///     assert!(w.writable_finished());
    ///
    ///     let cut = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    ///     cut.destroy(None);
    ///     let err = cut.end_async().await.unwrap_err();
    ///     assert_eq!(err.code(), "ERR_STREAM_PREMATURE_CLOSE");
    ///     Ok::<(), highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    fn end_async(&self) -> impl Future<Output = Result<(), Error>> + 'static {
        let core = self.core().clone();
        async move {
            let ending = core.ws().borrow().ending();
            if !ending {
                wm::end(&core, None, Cb::Nop);
            }
            finished_future(core).await
        }
    }

    /// Resolves on `'finish'` without ending the stream (Node's
    /// `finished(w, { readable: false })` for the writable side).
    ///
    /// # Errors
    ///
    /// As [`end_async`](Self::end_async).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    ///     let producer = w.clone();
    ///     highwater::spawn(async move { producer.end_with_chunk(Bytes::from_static(b"x")) });
    ///     w.writable_finished_async().await?; // someone else ends it
    ///     assert!(w.writable_finished());
    ///     Ok::<(), highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    fn writable_finished_async(&self) -> impl Future<Output = Result<(), Error>> + 'static {
        finished_future(self.core().clone())
    }
}

impl<S: HasWritable> WritableSide<S::W> for S {}

pub(crate) fn drained_future<R: 'static, W: 'static>(
    core: Rc<Core<R, W>>,
) -> impl Future<Output = Result<(), Error>> + 'static {
    std::future::poll_fn(move |cx| {
        let mut st = core.ws().borrow_mut();
        // No 'drain' pending any more: it came, or the stream was ended and
        // none will come. Checked first, so that a stream that drained and
        // then finished (and was auto-destroyed) still reports success.
        if !st.need_drain() || st.ending() {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.errored() {
            return Poll::Ready(Err(e.clone()));
        }
        if st.destroyed() {
            return Poll::Ready(Err(Error::destroyed("write")));
        }
        park_waker(&mut st.wakers, cx.waker());
        Poll::Pending
    })
}

pub(crate) fn finished_future<R: 'static, W: 'static>(
    core: Rc<Core<R, W>>,
) -> impl Future<Output = Result<(), Error>> + 'static {
    std::future::poll_fn(move |cx| {
        let mut st = core.ws().borrow_mut();
        if st.finished() {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.errored() {
            return Poll::Ready(Err(e.clone()));
        }
        if st.destroyed() {
            return Poll::Ready(Err(Error::new(ErrorKind::PrematureClose)));
        }
        park_waker(&mut st.wakers, cx.waker());
        Poll::Pending
    })
}

/// The readable side of a stream: what a consumer reads from. Node's
/// `Readable` interface (flowing and paused modes, `push` for a source
/// feeding it from outside). Piping and the async iterator are operations,
/// in [`ReadableExt`](crate::ReadableExt).
///
/// # Examples
///
/// A consumer generic over any byte source: a `Readable`, a file, a socket,
/// a Transform's output.
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// fn count_bytes(src: &impl ReadableSide<Bytes>) -> Rc<RefCell<usize>> {
///     let n = Rc::new(RefCell::new(0));
///     let m = n.clone();
///     src.on_data(move |c| *m.borrow_mut() += c.len());
///     n
/// }
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let n = count_bytes(&r);
/// r.push(Bytes::from_static(b"hello"));
/// r.push_eof();
/// highwater::run_until_idle();
/// assert_eq!(*n.borrow(), 5);
/// ```
pub trait ReadableSide<T: 'static>: StreamBase + HasReadable + Handle<R = T> {
    /// Adds a chunk to the buffer, as the source would (Node's
    /// `readable.push(chunk)` from outside `_read`). Returns `false` once
    /// the buffer reached the mark.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    /// assert!(r.push(Bytes::from_static(b"ab")));  // 2 < 4
    /// assert!(!r.push(Bytes::from_static(b"cd"))); // 4: the source should wait
    /// assert_eq!(r.readable_length(), 4);          // both were buffered
    /// ```
    fn push(&self, chunk: T) -> bool {
        rm::push(self.core(), Some(chunk))
    }

    /// Ends the readable side (Node's `push(null)`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// r.push(1u32);
    /// r.push_eof();
    /// assert_eq!(r.read(None), Some(1));
    /// assert_eq!(r.read(None), None);
    /// highwater::run_until_idle();
    /// assert!(r.readable_ended()); // 'end' once the last item was read
    /// ```
    fn push_eof(&self) -> bool {
        rm::push(self.core(), None)
    }

    /// Puts a chunk back at the front of the buffer (Node's `unshift`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// r.push("second");
    /// r.unshift("first");
    /// assert_eq!(r.read(None), Some("first"));
    /// assert_eq!(r.read(None), Some("second"));
    /// ```
    fn unshift(&self, chunk: T) -> bool {
        rm::unshift(self.core(), Some(chunk))
    }

    /// Node's `read([n])`: takes `n` bytes (or, with `None`, everything
    /// buffered; one item in object mode) if available, else `None` (and
    /// asks the source for more).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"hello world"));
    /// assert_eq!(r.read(Some(5)), Some(Bytes::from_static(b"hello")));
    /// assert_eq!(r.read(Some(100)), None); // only 6 bytes buffered, not ended
    /// assert_eq!(r.read(None), Some(Bytes::from_static(b" world")));
    /// ```
    fn read(&self, n: Option<usize>) -> Option<T> {
        rm::read(self.core(), n)
    }

    /// Stops flowing mode (`'pause'`).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// let seen = Rc::new(Cell::new(0));
    /// let s = seen.clone();
    /// r.on_data(move |_n: &u32| s.set(s.get() + 1));
    /// r.pause();
    /// r.push(1);
    /// highwater::run_until_idle();
    /// assert_eq!(seen.get(), 0); // paused: the item waits in the buffer
    /// assert_eq!(r.readable_length(), 1);
    /// assert_eq!(r.readable_flowing(), Some(false));
    /// ```
    fn pause(&self) {
        rm::pause(self.core());
    }

    /// Starts (or resumes) flowing mode, from the next tick (`'resume'`).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// let seen = Rc::new(Cell::new(0));
    /// let s = seen.clone();
    /// r.pause();
    /// r.on_data(move |_n: &u32| s.set(s.get() + 1)); // paused explicitly: no flowing
    /// r.push(1);
    /// r.resume();
    /// assert_eq!(seen.get(), 0); // flowing starts on the next tick
    /// highwater::run_until_idle();
    /// assert_eq!(seen.get(), 1);
    /// ```
    fn resume(&self) {
        rm::resume(self.core());
    }

    /// Paused explicitly (`pause()` called and not resumed).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert!(!r.is_paused());
    /// r.pause();
    /// assert!(r.is_paused());
    /// r.resume();
    /// assert!(!r.is_paused());
    /// ```
    fn is_paused(&self) -> bool {
        self.core().rs().borrow().paused()
    }

    /// Adds a `'data'` listener; starts flowing unless paused explicitly.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// let got = Rc::new(RefCell::new(Vec::new()));
    /// let g = got.clone();
    /// r.on_data(move |n: &u32| g.borrow_mut().push(*n));
    /// assert_eq!(r.readable_flowing(), Some(true));
    /// r.push(1);
    /// r.push(2);
    /// highwater::run_until_idle();
    /// assert_eq!(*got.borrow(), [1, 2]);
    /// ```
    fn on_data(&self, f: impl Fn(&T) + 'static) -> ListenerId {
        let id = self.core().events.data.add(Rc::new(f), false, false);
        rm::on_data_listener_added(self.core());
        id
    }

    /// Adds a `'data'` listener called once.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// let got = Rc::new(RefCell::new(Vec::new()));
    /// let g = got.clone();
    /// r.once_data(move |n: &u32| g.borrow_mut().push(*n));
    /// r.push(1);
    /// r.push(2);
    /// highwater::run_until_idle();
    /// assert_eq!(*got.borrow(), [1]); // the listener saw only the first item
    /// ```
    fn once_data(&self, f: impl Fn(&T) + 'static) -> ListenerId {
        let id = self.core().events.data.add(Rc::new(f), true, false);
        rm::on_data_listener_added(self.core());
        id
    }

    /// Adds a `'readable'` listener: switches to paused mode; `'readable'`
    /// says `read()` will return data (or that the stream ended).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let readable = Rc::new(Cell::new(0));
    /// let c = readable.clone();
    /// r.on_readable(move || c.set(c.get() + 1));
    /// assert_eq!(r.readable_flowing(), Some(false)); // paused mode
    /// r.push(Bytes::from_static(b"abc"));
    /// highwater::run_until_idle();
    /// assert_eq!(readable.get(), 1);
    /// assert_eq!(r.read(None), Some(Bytes::from_static(b"abc")));
    /// ```
    fn on_readable(&self, f: impl Fn() + 'static) -> ListenerId {
        let id = self
            .core()
            .events
            .readable
            .add(Rc::new(move |_| f()), false, false);
        rm::on_readable_listener_added(self.core());
        id
    }

    /// Adds a `'readable'` listener called once.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let readable = Rc::new(Cell::new(0));
    /// let c = readable.clone();
    /// r.once_readable(move || c.set(c.get() + 1));
    /// for chunk in [&b"ab"[..], b"cd"] {
    ///     r.push(Bytes::from_static(chunk));
    ///     highwater::run_until_idle();
    ///     assert_eq!(r.read(None), Some(Bytes::from_static(chunk)));
    /// }
    /// assert_eq!(readable.get(), 1);
    /// ```
    fn once_readable(&self, f: impl Fn() + 'static) -> ListenerId {
        let id = self
            .core()
            .events
            .readable
            .add(Rc::new(move |_| f()), true, false);
        rm::on_readable_listener_added(self.core());
        id
    }

    /// Adds an `'end'` listener: everything was read after `push_eof`.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let ended = Rc::new(Cell::new(false));
    /// let e = ended.clone();
    /// r.on_end(move || e.set(true));
    /// r.push(Bytes::from_static(b"data"));
    /// r.push_eof();
    /// highwater::run_until_idle();
    /// assert!(!ended.get()); // not everything was read yet
    /// r.resume();
    /// highwater::run_until_idle();
    /// assert!(ended.get());
    /// ```
    fn on_end(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .end
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'pause'` listener.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let pauses = Rc::new(Cell::new(0));
    /// let p = pauses.clone();
    /// r.on_pause(move || p.set(p.get() + 1));
    /// r.pause();
    /// r.pause(); // already paused: no event
    /// assert_eq!(pauses.get(), 1);
    /// ```
    fn on_pause(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .pause
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'resume'` listener.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let resumed = Rc::new(Cell::new(false));
    /// let c = resumed.clone();
    /// r.on_resume(move || c.set(true));
    /// r.resume();
    /// assert!(!resumed.get()); // 'resume' comes on the next tick
    /// highwater::run_until_idle();
    /// assert!(resumed.get());
    /// ```
    fn on_resume(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .resume
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a listener for an event of the readable side that carries no
    /// value, called once and removed (`'data'` and `'readable'` have their
    /// own methods, because adding them changes the mode).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableEvent, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let pauses = Rc::new(Cell::new(0));
    /// let p = pauses.clone();
    /// r.once_event(ReadableEvent::Pause, move || p.set(p.get() + 1));
    /// for _ in 0..2 {
    ///     r.resume();
    ///     highwater::run_until_idle();
    ///     r.pause(); // 'pause' each time, the listener only the first
    /// }
    /// assert_eq!(pauses.get(), 1);
    /// ```
    fn once_event(&self, event: ReadableEvent, f: impl Fn() + 'static) -> ListenerId {
        let e = &self.core().events;
        let l = match event {
            ReadableEvent::End => &e.end,
            ReadableEvent::Pause => &e.pause,
            ReadableEvent::Resume => &e.resume,
            ReadableEvent::Close => &e.close,
        };
        l.add(Rc::new(move |_| f()), true, false)
    }

    /// *Beyond Node.* A snapshot of the buffer, mark and counters (see
    /// [`stats`](crate::stats)).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    /// let _ = r.push(Bytes::from_static(b"ab"));
    /// let _ = r.push(Bytes::from_static(b"cd"));
    /// let _ = r.read(Some(1));
    /// let s = r.readable_stats();
    /// assert_eq!((s.length, s.high_water_mark), (3, 4));
    /// assert_eq!((s.pushes, s.false_returns), (2, 1));
    /// assert_eq!((s.bytes_in, s.bytes_out), (4, 1));
    /// ```
    fn readable_stats(&self) -> ReadableStats {
        self.core().rs().borrow().stats()
    }

    /// Node's `readableBuffer`, lent rather than copied: calls `f` with an
    /// iterator over the chunks buffered now, oldest first, and returns what
    /// it returns. Nothing is copied and the stream's hot path is untouched.
    ///
    /// `f` runs while the buffer is borrowed: it may call the stream's
    /// getters, but a method that changes the stream (`read`, `push`,
    /// `destroy`, ...) called from inside `f` panics.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"ab"));
    /// r.push(Bytes::from_static(b"cd"));
    /// let _ = r.read(Some(1)); // takes "a"
    /// let chunks: Vec<Bytes> = r.with_readable_buffer(|it| it.cloned().collect());
    /// assert_eq!(chunks, [Bytes::from_static(b"b"), Bytes::from_static(b"cd")]);
    /// ```
    fn with_readable_buffer<U>(
        &self,
        f: impl FnOnce(&mut dyn ExactSizeIterator<Item = &T>) -> U,
    ) -> U {
        let st = self.core().rs().borrow();
        f(&mut st.buffer.iter().map(|(c, _)| c))
    }

    /// Bytes (items) buffered.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"abc"));
    /// assert_eq!(r.readable_length(), 3);
    /// let _ = r.read(Some(2));
    /// assert_eq!(r.readable_length(), 1);
    /// ```
    fn readable_length(&self) -> usize {
        self.core().rs().borrow().length
    }

    /// Node's `setEncoding(encoding)`: from now on what is pushed is decoded
    /// to text. The chunk type stays `T` (`Bytes`), so pipes keep working,
    /// but every chunk holds whole, valid UTF-8 characters: a character
    /// split across pushes is held until it is complete, invalid bytes
    /// become U+FFFD, and an incomplete character left at the end becomes
    /// U+FFFD (Node's `StringDecoder`). In byte mode the side counts UTF-16
    /// code units, as Node counts string lengths: `readable_length()`,
    /// `read(n)` and the mark. What was already buffered is decoded again
    /// into one chunk (Node's `setEncoding`). Only UTF-8 exists
    /// ([`Encoding`](crate::Encoding)); `Encoding::from_name` turns Node's
    /// names into it, with Node's errors. For `String` chunks, see
    /// [`ReadableExt::text`](crate::ReadableExt::text).
    ///
    /// Differences from Node: `read(n)` in the middle of a surrogate pair
    /// returns the whole character (JavaScript returns half of it);
    /// `unshift` after `set_encoding` decodes the chunk on its own (Node
    /// puts the Buffer back as is); in object mode each buffered chunk is
    /// decoded in place and keeps counting 1 (Node joins them).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Encoding, Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(&[0xF0, 0x9F])); // the first half of '😀'
    /// r.set_encoding(Encoding::Utf8);
    /// assert_eq!(r.readable_length(), 0);       // held by the decoder
    /// r.push(Bytes::from_static(&[0x98, 0x80, b'!']));
    /// assert_eq!(r.readable_length(), 3);       // '😀' is 2 UTF-16 units, '!' one
    /// assert_eq!(r.read(None).as_deref(), Some("😀!".as_bytes()));
    /// ```
    fn set_encoding(&self, encoding: crate::state::Encoding)
    where
        T: crate::state::TextChunk,
    {
        rm::set_encoding(self.core(), encoding);
    }

    /// Node's `readableEncoding`: the encoding set by
    /// [`set_encoding`](Self::set_encoding) or the `encoding` option.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Encoding, Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert_eq!(r.readable_encoding(), None);
    /// r.set_encoding(Encoding::Utf8);
    /// assert_eq!(r.readable_encoding().map(Encoding::as_str), Some("utf8"));
    /// ```
    fn readable_encoding(&self) -> Option<crate::state::Encoding> {
        self.core().rs().borrow().encoding()
    }

    /// The mark `push()` compares against (raised by large `read(n)`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    /// assert_eq!(r.readable_high_water_mark(), 4);
    /// assert_eq!(r.read(Some(100)), None); // asks for more than the mark...
    /// assert_eq!(r.readable_high_water_mark(), 128); // ...which rises to the next power of 2
    /// ```
    fn readable_high_water_mark(&self) -> usize {
        self.core().rs().borrow().hwm
    }

    /// Node's tri-state `readableFlowing`: `None` until a consumer chose.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert_eq!(r.readable_flowing(), None);        // no consumer yet
    /// r.on_data(|_c| {});
    /// assert_eq!(r.readable_flowing(), Some(true));  // flowing mode
    /// r.pause();
    /// assert_eq!(r.readable_flowing(), Some(false)); // paused by the consumer
    /// ```
    fn readable_flowing(&self) -> Option<bool> {
        self.core().rs().borrow().flowing()
    }

    /// `'end'` was emitted (Node's `readableEnded`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"x"));
    /// r.push_eof();
    /// highwater::run_until_idle();
    /// assert!(!r.readable_ended()); // EOF pushed, but "x" is unread
    /// let _ = r.read(None);
    /// highwater::run_until_idle();
    /// assert!(r.readable_ended());
    /// ```
    fn readable_ended(&self) -> bool {
        self.core().rs().borrow().end_emitted()
    }

    /// Whether the readable side is in object mode.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let rows = Readable::<(u32, String)>::pushed(ReadableOptions::objects());
    /// let bytes = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert!(rows.readable_object_mode());
    /// assert!(!bytes.readable_object_mode());
    /// ```
    fn readable_object_mode(&self) -> bool {
        self.core().rs().borrow().object_mode()
    }

    /// Some `'data'` was emitted (Node's `readableDidRead`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"x"));
    /// assert!(!r.readable_did_read()); // pushed, not read
    /// let _ = r.read(None);
    /// assert!(r.readable_did_read());
    /// ```
    fn readable_did_read(&self) -> bool {
        self.core().rs().borrow().data_emitted()
    }

    /// Whether reading may still produce data: not ended, destroyed or errored.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert!(r.readable());
    /// r.push_eof();
    /// assert!(r.readable()); // 'end' is not emitted yet
    /// r.resume();
    /// highwater::run_until_idle();
    /// assert!(r.readable_ended() && !r.readable());
    /// ```
    fn readable(&self) -> bool {
        let st = self.core().rs().borrow();
        st.readable_side && !st.destroyed() && !st.error_emitted() && !st.end_emitted()
    }

    /// Destroyed or errored before `'end'` (Node's `readableAborted`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"unread"));
    /// assert!(!r.readable_aborted());
    /// r.destroy(None); // before 'end'
    /// assert!(r.readable_aborted());
    /// ```
    fn readable_aborted(&self) -> bool {
        let st = self.core().rs().borrow();
        st.readable_side && (st.destroyed() || st.is_errored()) && !st.end_emitted()
    }
}

impl<S: HasReadable> ReadableSide<S::R> for S {}
