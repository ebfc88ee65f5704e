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
use super::{ReadableEvent, WritableEvent};

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
    fn id(&self) -> StreamId {
        self.core().id
    }

    /// Whether both handles refer to the same stream.
    fn ptr_eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(self.core(), other.core())
    }

    /// Destroys the stream: no more writes or reads, `'close'` on the next
    /// tick (after `'error'` if `err` is given). Buffered writes fail with
    /// `err` or `ERR_STREAM_DESTROYED`. Destroying twice does nothing.
    fn destroy(&self, err: Option<Error>) {
        core_::destroy(self.core(), err);
    }

    /// `destroy()` was called (or an error destroyed the stream).
    fn destroyed(&self) -> bool {
        self.core().is_destroyed()
    }

    /// The destroy hook has called back (`'close'` is due or emitted).
    fn closed(&self) -> bool {
        self.core().is_closed()
    }

    /// The error the stream failed with, if any.
    fn errored(&self) -> Option<Error> {
        self.core().errored()
    }

    /// Adds an `'error'` listener.
    fn on_error(&self, f: impl Fn(&Error) + 'static) -> ListenerId {
        self.core().events.error.add(Rc::new(f), false, false)
    }

    /// Adds an `'error'` listener called at most once.
    fn once_error(&self, f: impl Fn(&Error) + 'static) -> ListenerId {
        self.core().events.error.add(Rc::new(f), true, false)
    }

    /// Adds a `'close'` listener.
    fn on_close(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .close
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'close'` listener called at most once.
    fn once_close(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .close
            .add(Rc::new(move |_| f()), true, false)
    }

    /// Removes a listener added by any of the `on`/`once` methods.
    /// Returns whether it was registered.
    fn off(&self, id: ListenerId) -> bool {
        self.core().remove_listener(id)
    }

    /// How many `'error'` listeners the stream has.
    fn error_listener_count(&self) -> usize {
        self.core().events.error.count()
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
    #[must_use = "write() returns false when the producer must wait for 'drain'"]
    #[inline]
    fn write(&self, chunk: T) -> bool {
        matches!(wm::write_(self.core(), chunk, Cb::Nop), Ok(true))
    }

    /// Writes a chunk with a callback, called once the chunk is written
    /// (or with the error that failed it). Returns as [`write`](Self::write).
    ///
    /// A sink that completes synchronously has the callback called on the
    /// next tick; one that completes later has it called right then.
    #[must_use = "write_cb() returns false when the producer must wait for 'drain'"]
    fn write_cb(&self, chunk: T, cb: impl Into<Callback>) -> bool {
        matches!(wm::write_(self.core(), chunk, cb.into().0), Ok(true))
    }

    /// Says no more chunks will be written (Node's `end()`). Fully uncorks.
    fn end(&self) {
        wm::end(self.core(), None, Cb::Nop);
    }

    /// Writes a last chunk (without a callback) and ends, like `end(chunk)`.
    fn end_with_chunk(&self, chunk: T) {
        wm::end(self.core(), Some(chunk), Cb::Nop);
    }

    /// The general `end([chunk][, cb])`: `cb` is called just before
    /// `'finish'`, or with the error that prevents it: the stream's error,
    /// `ERR_STREAM_ALREADY_FINISHED`, `ERR_STREAM_DESTROYED`.
    ///
    /// As in Node, after a plain `destroy()` (no error) the callback is
    /// never called; use [`end_async`](Self::end_async) if that matters.
    fn end_with(&self, chunk: Option<T>, cb: Option<Callback>) {
        wm::end(self.core(), chunk, Cb::from_opt(cb));
    }

    /// Buffers writes until [`uncork`](Self::uncork) (as many uncorks as corks).
    fn cork(&self) {
        self.core().ws().borrow_mut().corked += 1;
    }

    /// Undoes one [`cork`](Self::cork); at zero, hands the buffered chunks
    /// to the sink (as one `writev` batch if the sink has one).
    fn uncork(&self) {
        wm::uncork(self.core());
    }

    /// Adds a listener for `event`, called each time it is emitted.
    fn on(&self, event: WritableEvent, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .wevent(event)
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a listener called the next time `event` is emitted, then removed.
    fn once(&self, event: WritableEvent, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .wevent(event)
            .add(Rc::new(move |_| f()), true, false)
    }

    /// Adds a listener that runs before those already registered (Node's
    /// `prependListener`).
    fn prepend(&self, event: WritableEvent, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .wevent(event)
            .add(Rc::new(move |_| f()), false, true)
    }

    /// How many listeners `event` has.
    fn listener_count(&self, event: WritableEvent) -> usize {
        self.core().wevent(event).count()
    }

    /// Adds a `'pipe'` listener: a Readable started piping into this
    /// stream (the argument identifies it).
    fn on_pipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core()
            .events
            .pipe
            .add(Rc::new(move |id: &StreamId| f(*id)), false, false)
    }

    /// Adds a `'pipe'` listener called once.
    fn once_pipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core()
            .events
            .pipe
            .add(Rc::new(move |id: &StreamId| f(*id)), true, false)
    }

    /// Adds an `'unpipe'` listener: a Readable stopped piping into this stream.
    fn on_unpipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core().events.unpipe.add(
            Rc::new(move |info: &super::target::UnpipeInfo| f(info.src)),
            false,
            false,
        )
    }

    /// Adds an `'unpipe'` listener called once.
    fn once_unpipe(&self, f: impl Fn(StreamId) + 'static) -> ListenerId {
        self.core().events.unpipe.add(
            Rc::new(move |info: &super::target::UnpipeInfo| f(info.src)),
            true,
            false,
        )
    }

    /// *Beyond Node.* A snapshot of the buffer, marks and counters (see
    /// [`stats`](crate::stats)).
    fn writable_stats(&self) -> WritableStats {
        self.core().ws().borrow().stats()
    }

    /// Bytes (items) accepted and not yet written, in-flight chunk included.
    fn writable_length(&self) -> usize {
        self.core().ws().borrow().length
    }

    /// The mark `write()` compares against.
    fn writable_high_water_mark(&self) -> usize {
        self.core().ws().borrow().hwm
    }

    /// A `write()` returned `false` and `'drain'` has not come yet (false
    /// once ended or destroyed, since no `'drain'` will come then).
    fn writable_need_drain(&self) -> bool {
        let st = self.core().ws().borrow();
        st.need_drain && !st.destroyed && !st.ending
    }

    /// The cork depth.
    fn writable_corked(&self) -> u32 {
        self.core().ws().borrow().corked
    }

    /// `end()` was called (Node's `writableEnded`).
    fn writable_ended(&self) -> bool {
        self.core().ws().borrow().ending
    }

    /// `'finish'` was emitted.
    fn writable_finished(&self) -> bool {
        self.core().ws().borrow().finished
    }

    /// Whether the writable side is in object mode.
    fn writable_object_mode(&self) -> bool {
        self.core().ws().borrow().object_mode
    }

    /// Whether `write()` may be called: not ended, destroyed or errored.
    fn writable(&self) -> bool {
        let st = self.core().ws().borrow();
        st.writable_side && !st.ending && !st.ended && !st.destroyed && st.errored.is_none()
    }

    /// Destroyed or errored before `'finish'` (Node's `writableAborted`).
    fn writable_aborted(&self) -> bool {
        let st = self.core().ws().borrow();
        st.writable_side && (st.destroyed || st.errored.is_some()) && !st.finished
    }

    /// Resolves once the producer may write again: at once when no
    /// `'drain'` is pending, else at the `'drain'` (or at `end()`, after
    /// which no `'drain'` comes). Fails with the stream's error (or
    /// `ERR_STREAM_DESTROYED`) if the stream errors or is destroyed while
    /// the `'drain'` is still pending.
    ///
    /// It cannot miss its wake-up: it checks the state each time it is
    /// polled, and `'drain'` wakes every waiting future.
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
                match &st.errored {
                    Some(e) => Some(e.clone()),
                    None if st.destroyed => Some(Error::destroyed("write")),
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
    fn end_async(&self) -> impl Future<Output = Result<(), Error>> + 'static {
        let core = self.core().clone();
        async move {
            let ending = core.ws().borrow().ending;
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
        if !st.need_drain || st.ending {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.errored {
            return Poll::Ready(Err(e.clone()));
        }
        if st.destroyed {
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
        if st.finished {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.errored {
            return Poll::Ready(Err(e.clone()));
        }
        if st.destroyed {
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
    fn push(&self, chunk: T) -> bool {
        rm::push(self.core(), Some(chunk))
    }

    /// Ends the readable side (Node's `push(null)`).
    fn push_eof(&self) -> bool {
        rm::push(self.core(), None)
    }

    /// Puts a chunk back at the front of the buffer (Node's `unshift`).
    fn unshift(&self, chunk: T) -> bool {
        rm::unshift(self.core(), Some(chunk))
    }

    /// Node's `read([n])`: takes `n` bytes (or, with `None`, everything
    /// buffered; one item in object mode) if available, else `None` (and
    /// asks the source for more).
    fn read(&self, n: Option<usize>) -> Option<T> {
        rm::read(self.core(), n)
    }

    /// Stops flowing mode (`'pause'`).
    fn pause(&self) {
        rm::pause(self.core());
    }

    /// Starts (or resumes) flowing mode, from the next tick (`'resume'`).
    fn resume(&self) {
        rm::resume(self.core());
    }

    /// Paused explicitly (`pause()` called and not resumed).
    fn is_paused(&self) -> bool {
        self.core().rs().borrow().paused
    }

    /// Adds a `'data'` listener; starts flowing unless paused explicitly.
    fn on_data(&self, f: impl Fn(&T) + 'static) -> ListenerId {
        let id = self.core().events.data.add(Rc::new(f), false, false);
        rm::on_data_listener_added(self.core());
        id
    }

    /// Adds a `'data'` listener called once.
    fn once_data(&self, f: impl Fn(&T) + 'static) -> ListenerId {
        let id = self.core().events.data.add(Rc::new(f), true, false);
        rm::on_data_listener_added(self.core());
        id
    }

    /// Adds a `'readable'` listener: switches to paused mode; `'readable'`
    /// says `read()` will return data (or that the stream ended).
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
    fn on_end(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .end
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'pause'` listener.
    fn on_pause(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .pause
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a `'resume'` listener.
    fn on_resume(&self, f: impl Fn() + 'static) -> ListenerId {
        self.core()
            .events
            .resume
            .add(Rc::new(move |_| f()), false, false)
    }

    /// Adds a listener for an event of the readable side that carries no
    /// value, called once and removed (`'data'` and `'readable'` have their
    /// own methods, because adding them changes the mode).
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
    fn readable_stats(&self) -> ReadableStats {
        self.core().rs().borrow().stats()
    }

    /// Bytes (items) buffered.
    fn readable_length(&self) -> usize {
        self.core().rs().borrow().length
    }

    /// The mark `push()` compares against (raised by large `read(n)`).
    fn readable_high_water_mark(&self) -> usize {
        self.core().rs().borrow().hwm
    }

    /// Node's tri-state `readableFlowing`: `None` until a consumer chose.
    fn readable_flowing(&self) -> Option<bool> {
        self.core().rs().borrow().flowing
    }

    /// `'end'` was emitted (Node's `readableEnded`).
    fn readable_ended(&self) -> bool {
        self.core().rs().borrow().end_emitted
    }

    /// Whether the readable side is in object mode.
    fn readable_object_mode(&self) -> bool {
        self.core().rs().borrow().object_mode
    }

    /// Some `'data'` was emitted (Node's `readableDidRead`).
    fn readable_did_read(&self) -> bool {
        self.core().rs().borrow().data_emitted
    }

    /// Whether reading may still produce data: not ended, destroyed or errored.
    fn readable(&self) -> bool {
        let st = self.core().rs().borrow();
        st.readable_side && !st.destroyed && !st.error_emitted && !st.end_emitted
    }

    /// Destroyed or errored before `'end'` (Node's `readableAborted`).
    fn readable_aborted(&self) -> bool {
        let st = self.core().rs().borrow();
        st.readable_side && (st.destroyed || st.errored.is_some()) && !st.end_emitted
    }
}

impl<S: HasReadable> ReadableSide<S::R> for S {}
