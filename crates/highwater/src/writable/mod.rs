//! Writable streams: a sink behind a buffer bounded by a high-water mark.
//!
//! A [`Writable`] accepts chunks with [`write`](Writable::write) and hands them
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
//! In async code, [`write_async`](Writable::write_async) does the waiting:
//!
//! ```
//! use bytes::Bytes;
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
//! [`end`](Writable::end) says no more chunks will come. Once every chunk has
//! been completed, the sink's [`final_`](WritableImpl::final_) hook runs (if
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
//!   [`errored`](Writable::errored) and fails the awaitable methods.
//! * Node's `_construct` is [`WritableImpl::construct`] (with
//!   `has_construct`), as the other hooks are: writes wait in the buffer
//!   until it calls `done`.

pub(crate) mod machine;
mod sinks;

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use crate::core::{Core, WSide};
use crate::{default_high_water_mark, Error, WritableOptions};

pub use sinks::AsyncSink;

pub(crate) use machine::WState;

/// How a byte stream measures a chunk: its length in bytes.
///
/// Implemented for the usual byte containers; implement it for your own
/// chunk type to use it in a byte-mode stream.
pub trait ByteLen {
    /// The chunk's length in bytes.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for BytesMut {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for Box<[u8]> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for String {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for &'static [u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for &'static str {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// The sink behind a [`Writable`]: Node's `_write`, `_writev`, `_final` and
/// `_destroy`.
///
/// Each hook gets a [`Done`] to call when the work is complete: before
/// returning (a synchronous sink) or later (an asynchronous one). The stream
/// calls `write`/`writev` for one chunk or batch at a time and waits for its
/// `Done` before the next. Hooks take `&self` because the stream may call them
/// re-entrantly (a hook's own `Done` can start the next write); keep mutable
/// state in a `Cell`/`RefCell` and do not hold a borrow while calling `Done`.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use bytes::Bytes;
/// use highwater::{Done, Writable, WritableImpl, WritableOptions};
///
/// #[derive(Default)]
/// struct Collect(RefCell<Vec<u8>>);
///
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
pub trait WritableImpl<T>: 'static {
    /// Writes one chunk; call `done` when it is written.
    fn write(&self, chunk: T, done: Done);

    /// Writes several buffered chunks at once. Called only if
    /// [`has_writev`](Self::has_writev) returns true, when two or more chunks
    /// are buffered. The default writes nothing and fails, which a sink that
    /// says `has_writev` must not rely on.
    fn writev(&self, chunks: Vec<T>, done: Done) {
        drop(chunks);
        done.err(Error::msg("the _writev() method is not implemented"));
    }

    /// Whether [`writev`](Self::writev) is implemented. Read once, when the
    /// stream is created.
    fn has_writev(&self) -> bool {
        false
    }

    /// Writes one chunk and finishes it before returning: the result is what
    /// `write` would pass to `done`. Called instead of [`write`](Self::write)
    /// only if [`has_write_sync`](Self::has_write_sync) returns true.
    ///
    /// This is not a different behaviour: the stream does exactly what it
    /// does when `write` calls `done` before returning (Node's synchronous
    /// `_write` callback), but without making a [`Done`] handle, which is
    /// the largest cost on the per-write path of a fast sink.
    /// [`Writable::from_fn`] sinks use it.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use bytes::Bytes;
    /// use highwater::{Done, Error, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Default)]
    /// struct Count(RefCell<usize>);
    ///
    /// impl WritableImpl<Bytes> for Count {
    ///     fn write(&self, chunk: Bytes, done: Done) {
    ///         done.call(self.write_sync(chunk));
    ///     }
    ///     fn write_sync(&self, chunk: Bytes) -> Result<(), Error> {
    ///         *self.0.borrow_mut() += chunk.len();
    ///         Ok(())
    ///     }
    ///     fn has_write_sync(&self) -> bool {
    ///         true
    ///     }
    /// }
    ///
    /// let w = Writable::new(WritableOptions::default(), Count::default());
    /// assert!(w.write(Bytes::from_static(b"abc")));
    /// assert_eq!(w.writable_length(), 0); // finished at once
    /// ```
    fn write_sync(&self, chunk: T) -> Result<(), Error> {
        drop(chunk);
        Err(Error::msg("the write_sync() method is not implemented"))
    }

    /// Whether [`write_sync`](Self::write_sync) is implemented. Read once,
    /// when the stream is created.
    fn has_write_sync(&self) -> bool {
        false
    }

    /// Runs once every chunk is written, before `'prefinish'`/`'finish'`
    /// (Node's `_final`). Called only if [`has_final`](Self::has_final).
    fn final_(&self, done: Done) {
        done.ok();
    }

    /// Whether [`final_`](Self::final_) is implemented. Read once, when the
    /// stream is created.
    fn has_final(&self) -> bool {
        false
    }

    /// Releases resources when the stream is destroyed (Node's `_destroy`);
    /// call `done` with the error to report (usually `err` itself).
    fn destroy(&self, err: Option<Error>, done: Done) {
        done.call(err.map_or(Ok(()), Err));
    }

    /// Prepares the sink (opens a file, connects) before any write (Node's
    /// `_construct`): called on the next tick after creation; until `done`
    /// is called, writes are buffered and `destroy` waits. Called only if
    /// [`has_construct`](Self::has_construct).
    fn construct(&self, done: Done) {
        done.ok();
    }

    /// Whether [`construct`](Self::construct) is implemented.
    fn has_construct(&self) -> bool {
        false
    }
}

#[derive(Clone)]
pub(crate) enum DoneKind {
    Write,
    Final,
    /// `_destroy`'s callback, which is `once`: the flag says it ran.
    Destroy(Rc<Cell<bool>>),
    /// `_construct`'s callback: reported on the next tick.
    Construct,
}

/// The state machines' entry points for the completions, without the
/// stream's chunk types.
trait Completions {
    fn on_write(self: Rc<Self>, err: Option<Error>);
    fn on_final(self: Rc<Self>, err: Option<Error>);
    fn on_destroy(self: Rc<Self>, err: Option<Error>);
    fn on_construct(self: Rc<Self>, err: Option<Error>);
}

impl<R: 'static, W: 'static> Completions for Core<R, W> {
    fn on_write(self: Rc<Self>, err: Option<Error>) {
        machine::on_write(&self, err)
    }
    fn on_final(self: Rc<Self>, err: Option<Error>) {
        machine::on_final(&self, err)
    }
    fn on_destroy(self: Rc<Self>, err: Option<Error>) {
        crate::core::on_destroy(&self, err)
    }
    fn on_construct(self: Rc<Self>, err: Option<Error>) {
        // `(err) => process.nextTick(onConstruct, err)`
        crate::next_tick(move || crate::core::on_construct(&self, err));
    }
}

/// The callback a hook calls when its work is complete: a [`WritableImpl`]'s
/// `write`/`writev`/`final_`, and the `destroy` hook of any stream.
///
/// Call it exactly once. Calling a write's `Done` again (through a clone) is
/// Node's double callback: the stream errors with `ERR_MULTIPLE_CALLBACK`.
#[derive(Clone)]
pub struct Done {
    stream: Rc<dyn Completions>,
    kind: DoneKind,
}

impl Done {
    #[inline]
    pub(crate) fn write<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Done {
            stream: c.clone(),
            kind: DoneKind::Write,
        }
    }

    pub(crate) fn final_<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Done {
            stream: c.clone(),
            kind: DoneKind::Final,
        }
    }

    pub(crate) fn destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Done {
            stream: c.clone(),
            kind: DoneKind::Destroy(Rc::default()),
        }
    }

    pub(crate) fn construct<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Done {
            stream: c.clone(),
            kind: DoneKind::Construct,
        }
    }

    /// Reports the outcome: `Ok(())`, or the error that fails the write (and
    /// the stream).
    #[inline]
    pub fn call(self, result: Result<(), Error>) {
        let err = result.err();
        match &self.kind {
            DoneKind::Write => self.stream.on_write(err),
            DoneKind::Final => self.stream.on_final(err),
            DoneKind::Destroy(called) => {
                if !called.replace(true) {
                    self.stream.on_destroy(err)
                }
            }
            DoneKind::Construct => self.stream.on_construct(err),
        }
    }

    /// Reports success.
    pub fn ok(self) {
        self.call(Ok(()))
    }

    /// Reports failure.
    pub fn err(self, e: Error) {
        self.call(Err(e))
    }
}

/// A [`Done`] that does not keep its stream alive: what a stream keeps of
/// its *own* completion (a Transform's held write callback), so that a
/// stream nobody else holds is not kept alive by itself.
pub(crate) struct WeakDone {
    stream: std::rc::Weak<dyn Completions>,
    kind: DoneKind,
}

impl Done {
    pub(crate) fn downgrade(self) -> WeakDone {
        WeakDone {
            stream: Rc::downgrade(&self.stream),
            kind: self.kind.clone(),
        }
    }
}

impl WeakDone {
    /// The completion, if its stream still exists.
    pub(crate) fn upgrade(self) -> Option<Done> {
        Some(Done {
            stream: self.stream.upgrade()?,
            kind: self.kind,
        })
    }
}

impl fmt::Debug for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            DoneKind::Write => "write",
            DoneKind::Final => "final",
            DoneKind::Destroy(_) => "destroy",
            DoneKind::Construct => "construct",
        };
        write!(f, "Done({kind})")
    }
}

/// The events of a Writable that carry no value. `'error'` has its own
/// methods ([`Writable::on_error`]) because it carries the error.
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
    pub(crate) fn wevent(&self, ev: WritableEvent) -> &crate::events::Listeners<()> {
        match ev {
            WritableEvent::Drain => &self.events.drain,
            WritableEvent::Prefinish => &self.events.prefinish,
            WritableEvent::Finish => &self.events.finish,
            WritableEvent::Close => &self.events.close,
        }
    }
}

pub(crate) fn writable_side<W: 'static>(
    opts: &WritableOptions,
    len_of: fn(&W) -> usize,
    imp: Box<dyn WritableImpl<W>>,
) -> WSide<W> {
    let hwm = opts
        .high_water_mark
        .unwrap_or_else(|| default_high_water_mark(opts.object_mode));
    let mut state = WState::new(
        opts.object_mode,
        hwm,
        len_of,
        imp.has_writev(),
        imp.has_write_sync(),
        imp.has_final(),
        opts.emit_close,
        opts.auto_destroy,
    );
    state.lwm = opts
        .low_water_mark
        .map_or(0, |l| l.min(hwm.saturating_sub(1)));
    state.max_items = opts.max_items;
    WSide {
        state: RefCell::new(state),
        imp,
    }
}

/// The writable-side methods, shared by [`Writable`] and
/// [`Duplex`](crate::Duplex). `$w` is the writable chunk type.
macro_rules! writable_methods {
    ($w:ty) => {
        /// Writes a chunk. Returns `false` when the caller should stop writing
        /// until `'drain'` (the buffer reached the mark), or when the stream is
        /// ended, destroyed or errored.
        ///
        /// The chunk is accepted even when this returns `false` (unless the
        /// stream is ended or destroyed, in which case the stream errors as
        /// Node's does). Prefer [`write_async`](Self::write_async) in async code.
        #[must_use = "write() returns false when the producer must wait for 'drain'"]
        pub fn write(&self, chunk: $w) -> bool {
            matches!(
                $crate::writable::machine::write_(&self.core, chunk, $crate::callback::Cb::Nop),
                Ok(true)
            )
        }

        /// Writes a chunk with a callback, called once the chunk is written
        /// (or with the error that failed it). Returns as [`write`](Self::write).
        ///
        /// A sink that completes synchronously has the callback called on the
        /// next tick; one that completes later has it called right then.
        #[must_use = "write_cb() returns false when the producer must wait for 'drain'"]
        pub fn write_cb(&self, chunk: $w, cb: impl Into<$crate::Callback>) -> bool {
            matches!(
                $crate::writable::machine::write_(&self.core, chunk, cb.into().0),
                Ok(true)
            )
        }

        /// Says no more chunks will be written (Node's `end()`). Fully uncorks.
        pub fn end(&self) {
            $crate::writable::machine::end(&self.core, None, $crate::callback::Cb::Nop);
        }

        /// Writes a last chunk (without a callback) and ends, like `end(chunk)`.
        pub fn end_with_chunk(&self, chunk: $w) {
            $crate::writable::machine::end(&self.core, Some(chunk), $crate::callback::Cb::Nop);
        }

        /// The general `end([chunk][, cb])`: `cb` is called just before
        /// `'finish'`, or with the error that prevents it: the stream's error,
        /// `ERR_STREAM_ALREADY_FINISHED`, `ERR_STREAM_DESTROYED`.
        ///
        /// As in Node, after a plain `destroy()` (no error) the callback is
        /// never called; use [`end_async`](Self::end_async) if that matters.
        pub fn end_with(&self, chunk: Option<$w>, cb: Option<$crate::Callback>) {
            $crate::writable::machine::end(&self.core, chunk, $crate::callback::Cb::from_opt(cb));
        }

        /// Buffers writes until [`uncork`](Self::uncork) (as many uncorks as corks).
        pub fn cork(&self) {
            self.core.ws().borrow_mut().corked += 1;
        }

        /// Undoes one [`cork`](Self::cork); at zero, hands the buffered chunks
        /// to the sink (as one `writev` batch if the sink has one).
        pub fn uncork(&self) {
            $crate::writable::machine::uncork(&self.core);
        }

        /// Adds a listener for `event`, called each time it is emitted.
        pub fn on(
            &self,
            event: $crate::WritableEvent,
            f: impl Fn() + 'static,
        ) -> $crate::ListenerId {
            self.core
                .wevent(event)
                .add(::std::rc::Rc::new(move |_| f()), false, false)
        }

        /// Adds a listener called the next time `event` is emitted, then removed.
        pub fn once(
            &self,
            event: $crate::WritableEvent,
            f: impl Fn() + 'static,
        ) -> $crate::ListenerId {
            self.core
                .wevent(event)
                .add(::std::rc::Rc::new(move |_| f()), true, false)
        }

        /// Adds a listener that runs before those already registered (Node's
        /// `prependListener`).
        pub fn prepend(
            &self,
            event: $crate::WritableEvent,
            f: impl Fn() + 'static,
        ) -> $crate::ListenerId {
            self.core
                .wevent(event)
                .add(::std::rc::Rc::new(move |_| f()), false, true)
        }

        /// Adds a `'pipe'` listener: a Readable started piping into this
        /// stream (the argument identifies it).
        pub fn on_pipe(&self, f: impl Fn($crate::StreamId) + 'static) -> $crate::ListenerId {
            self.core.events.pipe.add(
                ::std::rc::Rc::new(move |id: &$crate::StreamId| f(*id)),
                false,
                false,
            )
        }

        /// Adds a `'pipe'` listener called once.
        pub fn once_pipe(&self, f: impl Fn($crate::StreamId) + 'static) -> $crate::ListenerId {
            self.core.events.pipe.add(
                ::std::rc::Rc::new(move |id: &$crate::StreamId| f(*id)),
                true,
                false,
            )
        }

        /// Adds an `'unpipe'` listener called once.
        pub fn once_unpipe(&self, f: impl Fn($crate::StreamId) + 'static) -> $crate::ListenerId {
            self.core.events.unpipe.add(
                ::std::rc::Rc::new(move |info: &$crate::pipe::UnpipeInfo| f(info.src)),
                true,
                false,
            )
        }

        /// Adds an `'unpipe'` listener: a Readable stopped piping into this stream.
        pub fn on_unpipe(&self, f: impl Fn($crate::StreamId) + 'static) -> $crate::ListenerId {
            self.core.events.unpipe.add(
                ::std::rc::Rc::new(move |info: &$crate::pipe::UnpipeInfo| f(info.src)),
                false,
                false,
            )
        }

        /// *Beyond Node.* A snapshot of the buffer, marks and counters (see
        /// [`stats`](crate::stats)).
        pub fn writable_stats(&self) -> $crate::WritableStats {
            self.core.ws().borrow().stats()
        }

        /// Bytes (items) accepted and not yet written, in-flight chunk included.
        pub fn writable_length(&self) -> usize {
            self.core.ws().borrow().length
        }

        /// The mark `write()` compares against.
        pub fn writable_high_water_mark(&self) -> usize {
            self.core.ws().borrow().hwm
        }

        /// A `write()` returned `false` and `'drain'` has not come yet (false
        /// once ended or destroyed, since no `'drain'` will come then).
        pub fn writable_need_drain(&self) -> bool {
            let st = self.core.ws().borrow();
            st.need_drain && !st.destroyed && !st.ending
        }

        /// The cork depth.
        pub fn writable_corked(&self) -> u32 {
            self.core.ws().borrow().corked
        }

        /// `end()` was called (Node's `writableEnded`).
        pub fn writable_ended(&self) -> bool {
            self.core.ws().borrow().ending
        }

        /// `'finish'` was emitted.
        pub fn writable_finished(&self) -> bool {
            self.core.ws().borrow().finished
        }

        /// Whether the writable side is in object mode.
        pub fn writable_object_mode(&self) -> bool {
            self.core.ws().borrow().object_mode
        }

        /// Whether `write()` may be called: not ended, destroyed or errored.
        pub fn writable(&self) -> bool {
            let st = self.core.ws().borrow();
            st.writable_side && !st.ending && !st.ended && !st.destroyed && st.errored.is_none()
        }

        /// Destroyed or errored before `'finish'` (Node's `writableAborted`).
        pub fn writable_aborted(&self) -> bool {
            let st = self.core.ws().borrow();
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
        pub fn drained(
            &self,
        ) -> impl ::std::future::Future<Output = Result<(), $crate::Error>> + 'static {
            $crate::writable::drained_future(self.core.clone())
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
        pub async fn write_async(&self, chunk: $w) -> Result<(), $crate::Error> {
            if self.write(chunk) {
                return Ok(());
            }
            // `false` because this write failed (after end, after destroy, or
            // a sink that failed synchronously), or because the buffer is full.
            let failed = {
                let st = self.core.ws().borrow();
                match &st.errored {
                    Some(e) => Some(e.clone()),
                    None if st.destroyed => Some($crate::Error::destroyed("write")),
                    None => None,
                }
            };
            match failed {
                Some(e) => Err(e),
                None => self.drained().await,
            }
        }

        /// Ends the writable side and resolves on `'finish'`.
        ///
        /// # Errors
        ///
        /// The stream's error if it fails before finishing;
        /// `ERR_STREAM_PREMATURE_CLOSE` if it is destroyed without an error
        /// before finishing.
        pub async fn end_async(&self) -> Result<(), $crate::Error> {
            if !self.writable_ended() {
                self.end();
            }
            $crate::writable::finished_future(self.core.clone()).await
        }
    };
}
pub(crate) use writable_methods;

pub(crate) fn drained_future<R: 'static, W: 'static>(
    core: Rc<Core<R, W>>,
) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
    std::future::poll_fn(move |cx| {
        let mut st = core.ws().borrow_mut();
        // No 'drain' pending any more: it came, or the stream was ended and
        // none will come. Checked first, so that a stream that drained and
        // then finished (and was auto-destroyed) still reports success.
        if !st.need_drain || st.ending {
            return std::task::Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.errored {
            return std::task::Poll::Ready(Err(e.clone()));
        }
        if st.destroyed {
            return std::task::Poll::Ready(Err(Error::destroyed("write")));
        }
        crate::event_loop::park_waker(&mut st.wakers, cx.waker());
        std::task::Poll::Pending
    })
}

pub(crate) fn finished_future<R: 'static, W: 'static>(
    core: Rc<Core<R, W>>,
) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
    std::future::poll_fn(move |cx| {
        let mut st = core.ws().borrow_mut();
        if st.finished {
            return std::task::Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.errored {
            return std::task::Poll::Ready(Err(e.clone()));
        }
        if st.destroyed {
            return std::task::Poll::Ready(Err(Error::new(crate::ErrorKind::PrematureClose)));
        }
        crate::event_loop::park_waker(&mut st.wakers, cx.waker());
        std::task::Poll::Pending
    })
}

/// The methods every stream has: destroy, `'close'`/`'error'` listeners,
/// removal of listeners, and the shared getters.
macro_rules! common_methods {
    () => {
        /// Destroys the stream: no more writes or reads, `'close'` on the next
        /// tick (after `'error'` if `err` is given). Buffered writes fail with
        /// `err` or `ERR_STREAM_DESTROYED`. Destroying twice does nothing.
        pub fn destroy(&self, err: Option<$crate::Error>) {
            $crate::core::destroy(&self.core, err);
        }

        /// Adds an `'error'` listener.
        pub fn on_error(&self, f: impl Fn(&$crate::Error) + 'static) -> $crate::ListenerId {
            self.core
                .events
                .error
                .add(::std::rc::Rc::new(f), false, false)
        }

        /// Adds an `'error'` listener called at most once.
        pub fn once_error(&self, f: impl Fn(&$crate::Error) + 'static) -> $crate::ListenerId {
            self.core
                .events
                .error
                .add(::std::rc::Rc::new(f), true, false)
        }

        /// Adds a `'close'` listener.
        pub fn on_close(&self, f: impl Fn() + 'static) -> $crate::ListenerId {
            self.core
                .events
                .close
                .add(::std::rc::Rc::new(move |_| f()), false, false)
        }

        /// Removes a listener added by any of the `on`/`once` methods.
        /// Returns whether it was registered.
        pub fn off(&self, id: $crate::ListenerId) -> bool {
            self.core.remove_listener(id)
        }

        /// `destroy()` was called (or an error destroyed the stream).
        pub fn destroyed(&self) -> bool {
            self.core.is_destroyed()
        }

        /// The destroy hook has called back (`'close'` is due or emitted).
        pub fn closed(&self) -> bool {
            self.core.is_closed()
        }

        /// The error the stream failed with, if any.
        pub fn errored(&self) -> Option<$crate::Error> {
            self.core.errored()
        }

        /// This stream's identity (what `'pipe'`/`'unpipe'` listeners receive).
        pub fn id(&self) -> $crate::StreamId {
            self.core.id
        }
    };
}
pub(crate) use common_methods;

/// A Writable stream of chunks `T` (bytes by default).
///
/// A cheap handle: clones refer to the same stream, so listeners and hooks
/// can hold one. It is `!Send`; it lives on the thread that created it, whose
/// [event loop](crate::event_loop) runs its deferred work.
///
/// # Examples
///
/// Backpressure and `'drain'`, with a sink that completes later:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
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
            .field("object_mode", &st.object_mode)
            .field("high_water_mark", &st.hwm)
            .field("length", &st.length)
            .field("need_drain", &st.need_drain)
            .field("corked", &st.corked)
            .field("ending", &st.ending)
            .field("finished", &st.finished)
            .field("destroyed", &st.destroyed)
            .finish()
    }
}

impl<T: ByteLen + 'static> Writable<T> {
    /// Creates a stream over `imp`. In byte mode (the default) each chunk
    /// counts its [`ByteLen`]; with `object_mode` each counts 1.
    pub fn new(opts: WritableOptions, imp: impl WritableImpl<T>) -> Self {
        let len_of: fn(&T) -> usize = if opts.object_mode { |_| 1 } else { T::byte_len };
        Self::build(opts, len_of, Box::new(imp))
    }

    /// A byte stream whose sink is a synchronous closure, called once per
    /// chunk; an `Err` fails the write and the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
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
    pub fn from_fn(opts: WritableOptions, f: impl FnMut(T) -> Result<(), Error> + 'static) -> Self {
        Self::new(opts, sinks::FnSink::new(f))
    }

    /// A byte stream whose sink is an [`AsyncSink`]: each chunk is awaited
    /// on a task of the event loop before the next is handed over, so the
    /// mark bounds what waits in between.
    pub fn from_async(opts: WritableOptions, sink: impl AsyncSink<T>) -> Self {
        Self::new(opts, sinks::AsyncDriver::spawn(sink))
    }
}

impl<T: 'static> Writable<T> {
    /// Creates an object-mode stream over `imp`: chunks of any type, each
    /// counting 1 toward the mark (default mark: 16 items).
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::{Writable, WritableOptions};
    ///
    /// #[derive(Debug)]
    /// struct Row { id: u32 }
    ///
    /// let w = Writable::from_fn_object(WritableOptions::default(), |_r: Row| Ok(()));
    /// assert_eq!(w.writable_high_water_mark(), 16);
    /// assert!(w.write(Row { id: 1 }));
    /// ```
    pub fn new_object(opts: WritableOptions, imp: impl WritableImpl<T>) -> Self {
        Self::build(opts.object_mode(true), |_| 1, Box::new(imp))
    }

    /// *Beyond Node.* An object-mode stream whose mark counts `size(&chunk)`
    /// per chunk (bytes of typed items, say) instead of 1 per chunk. Combine
    /// with [`StreamOptions::max_items`](crate::StreamOptions::max_items) to
    /// bound both the weight and the number of items. Object-mode rules
    /// otherwise apply (no byte concatenation, default mark 16).
    ///
    /// ```
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn_weighted(
    ///     WritableOptions::default().high_water_mark(10).max_items(100),
    ///     |s: &String| s.len(),
    ///     |_s: String| Ok(()),
    /// );
    /// w.cork();
    /// assert!(w.write("hello".to_string()));   // weight 5 < 10
    /// assert!(!w.write("world".to_string()));  // weight 10: wait for 'drain'
    /// assert_eq!(w.writable_length(), 10);
    /// ```
    pub fn new_weighted(
        opts: WritableOptions,
        size: fn(&T) -> usize,
        imp: impl WritableImpl<T>,
    ) -> Self {
        Self::build(opts.object_mode(true), size, Box::new(imp))
    }

    /// [`new_weighted`](Self::new_weighted) with a synchronous closure as
    /// the sink.
    pub fn from_fn_weighted(
        opts: WritableOptions,
        size: fn(&T) -> usize,
        f: impl FnMut(T) -> Result<(), Error> + 'static,
    ) -> Self {
        Self::new_weighted(opts, size, sinks::FnSink::new(f))
    }

    fn build(
        opts: WritableOptions,
        len_of: fn(&T) -> usize,
        imp: Box<dyn WritableImpl<T>>,
    ) -> Self {
        let side = writable_side(&opts, len_of, imp);
        Writable {
            core: Core::new(Some(side), None, true),
        }
    }

    /// An object-mode stream whose sink is a synchronous closure.
    pub fn from_fn_object(
        opts: WritableOptions,
        f: impl FnMut(T) -> Result<(), Error> + 'static,
    ) -> Self {
        Self::new_object(opts, sinks::FnSink::new(f))
    }

    /// An object-mode stream whose sink is an [`AsyncSink`].
    pub fn from_async_object(opts: WritableOptions, sink: impl AsyncSink<T>) -> Self {
        Self::new_object(opts, sinks::AsyncDriver::spawn(sink))
    }

    writable_methods!(T);
    common_methods!();

    /// How many listeners `event` has (`None` counts `'error'` listeners).
    pub fn listener_count(&self, event: Option<WritableEvent>) -> usize {
        match event {
            Some(e) => self.core.wevent(e).count(),
            None => self.core.events.error.count(),
        }
    }

    /// Whether both handles refer to the same stream.
    pub fn ptr_eq(&self, other: &Writable<T>) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }

    /// Resolves on `'finish'` without ending the stream (Node's
    /// `finished(w)` for the writable side).
    ///
    /// # Errors
    ///
    /// As [`end_async`](Self::end_async).
    pub fn finished(&self) -> impl std::future::Future<Output = Result<(), Error>> + 'static {
        finished_future(self.core.clone())
    }
}

impl<T: 'static> crate::pipe::sealed::Sealed for Writable<T> {}

impl<T: 'static> crate::pipe::PipeDestination<T> for Writable<T> {
    fn pipe_target(&self) -> crate::pipe::PipeTargetRef<T> {
        crate::pipe::PipeTargetRef(self.core.clone())
    }
}

#[cfg(test)]
mod tests;
