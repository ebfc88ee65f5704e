//! Readable streams: a source behind a buffer bounded by a high-water mark.
//!
//! A [`Readable`] asks its source for data by calling
//! [`ReadableImpl::read`]; the source answers with [`Source::push`] (now or
//! later), and `push` returns `false` once the buffer reached the mark: the
//! source should stop until `read` is called again. Consumers take data by
//! listening for `'data'` (flowing mode), by calling
//! [`read`](Readable::read) (paused mode), or by [piping](Readable::pipe) it
//! into a Writable. This module is Node's `lib/internal/streams/readable.js`;
//! the state machine lives in `machine.rs`, free of I/O.
//!
//! # Flowing and paused
//!
//! A new stream is neither (`readable_flowing() == None`). Adding a `'data'`
//! listener, `resume()` or `pipe()` makes it flow (from the next tick);
//! `pause()` stops it (synchronously). A `'readable'` listener keeps it paused
//! and says when `read()` will return data.
//!
//! # Differences from Node, on purpose
//!
//! * Chunks are typed: byte streams take a [`ByteChunk`] (`Bytes`,
//!   `Vec<u8>`), object streams any `T`. No encodings (`setEncoding`).
//! * `read(n)` with `n` above 1 GiB caps the mark at 1 GiB (Node throws
//!   `ERR_OUT_OF_RANGE`).

mod iter;
pub(crate) mod machine;

pub use iter::ReadableStream;

use std::cell::RefCell;
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use crate::core::{Core, RSide};
use crate::writable::{ByteLen, Done};
use crate::{default_high_water_mark, Error, ReadableOptions};

use machine::ChunkOps;
pub(crate) use machine::RState;

/// A byte chunk a Readable can split (for `read(n)`) and join (for `read()`
/// in paused mode, which returns everything buffered as one chunk).
pub trait ByteChunk: ByteLen + Sized + 'static {
    /// Splits off and returns the first `at` bytes, leaving the rest in `self`.
    fn split_to(&mut self, at: usize) -> Self;
    /// Joins `parts` (of `total` bytes in all) into one chunk.
    fn concat(parts: Vec<Self>, total: usize) -> Self;
}

impl ByteChunk for Bytes {
    fn split_to(&mut self, at: usize) -> Self {
        Bytes::split_to(self, at)
    }
    fn concat(parts: Vec<Self>, total: usize) -> Self {
        let mut out = BytesMut::with_capacity(total);
        for p in parts {
            out.extend_from_slice(&p);
        }
        out.freeze()
    }
}

impl ByteChunk for Vec<u8> {
    fn split_to(&mut self, at: usize) -> Self {
        let rest = self.split_off(at);
        std::mem::replace(self, rest)
    }
    fn concat(parts: Vec<Self>, total: usize) -> Self {
        let mut out = Vec::with_capacity(total);
        for p in parts {
            out.extend_from_slice(&p);
        }
        out
    }
}

/// The source behind a [`Readable`]: Node's `_read` and `_destroy`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use bytes::Bytes;
/// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
///
/// /// Counts from 1 to 3, one chunk per request.
/// struct Count(Cell<u8>);
/// impl ReadableImpl<Bytes> for Count {
///     fn read(&self, _size: usize, src: &Source<Bytes>) {
///         let n = self.0.get() + 1;
///         self.0.set(n);
///         if n > 3 {
///             src.push_eof();
///         } else {
///             src.push(Bytes::from(n.to_string()));
///         }
///     }
/// }
///
/// let r = Readable::new(ReadableOptions::default().high_water_mark(16), Count(Cell::new(0)));
/// // read() asks the source, which pushes "1" synchronously: read() returns it.
/// assert_eq!(r.read(None), Some(Bytes::from("1")));
/// highwater::run_until_idle(); // maybeReadMore asks for more: "2", "3", then EOF
/// assert_eq!(r.read(None), Some(Bytes::from("23")));
/// assert_eq!(r.read(None), None);
/// highwater::run_until_idle();
/// assert!(r.readable_ended());
/// ```
pub trait ReadableImpl<R>: 'static {
    /// Asked for more data: push up to `size` bytes (items) with
    /// [`Source::push`], now or later. Not called again until something is
    /// pushed (an empty chunk counts, and says "nothing now").
    fn read(&self, size: usize, src: &Source<R>);

    /// Releases resources when the stream is destroyed (Node's `_destroy`);
    /// call `done` with the error to report (usually `err` itself).
    fn destroy(&self, err: Option<Error>, done: Done) {
        done.call(err.map_or(Ok(()), Err));
    }

    /// Prepares the source (opens a file, connects) before the first `read`
    /// (Node's `_construct`): called on the next tick after creation. Called
    /// only if [`has_construct`](Self::has_construct).
    fn construct(&self, done: Done) {
        done.ok();
    }

    /// Whether [`construct`](Self::construct) is implemented.
    fn has_construct(&self) -> bool {
        false
    }
}

/// What a source sees of its stream: where it pushes.
trait SourceCore<R> {
    fn error_or_destroy(self: Rc<Self>, err: Error);
    fn destroyed(&self) -> bool;
    fn push(self: Rc<Self>, chunk: Option<R>) -> bool;
    fn unshift(self: Rc<Self>, chunk: Option<R>) -> bool;
    fn destroy(self: Rc<Self>, err: Option<Error>);
    fn readable_length(&self) -> usize;
}

impl<R: 'static, W: 'static> SourceCore<R> for Core<R, W> {
    fn error_or_destroy(self: Rc<Self>, err: Error) {
        crate::core::error_or_destroy(&self, err, false)
    }
    fn destroyed(&self) -> bool {
        self.is_destroyed()
    }
    fn push(self: Rc<Self>, chunk: Option<R>) -> bool {
        machine::push(&self, chunk)
    }
    fn unshift(self: Rc<Self>, chunk: Option<R>) -> bool {
        machine::unshift(&self, chunk)
    }
    fn destroy(self: Rc<Self>, err: Option<Error>) {
        crate::core::destroy(&self, err)
    }
    fn readable_length(&self) -> usize {
        self.rs().borrow().length
    }
}

/// The handle a [`ReadableImpl`] pushes through (Node's `this.push`). Cheap to
/// clone; keep one to push later (an asynchronous source).
pub struct Source<R> {
    core: Rc<dyn SourceCore<R>>,
}

impl<R> Clone for Source<R> {
    fn clone(&self) -> Self {
        Source {
            core: self.core.clone(),
        }
    }
}

impl<R> fmt::Debug for Source<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Source")
    }
}

impl<R: 'static> Source<R> {
    pub(crate) fn new<W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Source { core: c.clone() }
    }

    /// Adds a chunk to the stream (or emits it at once to a flowing
    /// consumer). Returns `false` once the buffer reached the mark: push no
    /// more until the next `read` call. Fails (returns `false` and errors the
    /// stream with `ERR_STREAM_PUSH_AFTER_EOF`) after [`push_eof`](Self::push_eof).
    pub fn push(&self, chunk: R) -> bool {
        self.core.clone().push(Some(chunk))
    }

    /// Ends the stream (Node's `push(null)`): `'end'` follows once the
    /// consumer has read everything buffered.
    pub fn push_eof(&self) -> bool {
        self.core.clone().push(None)
    }

    /// Puts a chunk back at the front of the buffer (Node's `unshift`).
    pub fn unshift(&self, chunk: R) -> bool {
        self.core.clone().unshift(Some(chunk))
    }

    /// Reports the error that made the source fail (Node's `errorOrDestroy`):
    /// the stream is destroyed with it, or with `auto_destroy` off only
    /// errored and `'error'` emitted.
    pub fn error(&self, err: Error) {
        self.core.clone().error_or_destroy(err)
    }

    /// Whether the stream was destroyed (a source should stop pushing).
    pub fn destroyed(&self) -> bool {
        self.core.destroyed()
    }

    /// Destroys the stream, with the error that made the source fail.
    pub fn destroy(&self, err: Option<Error>) {
        self.core.clone().destroy(err)
    }

    /// Bytes (items) buffered in the stream.
    pub fn readable_length(&self) -> usize {
        self.core.readable_length()
    }
}

pub(crate) fn readable_side<R: 'static>(
    opts: &ReadableOptions,
    ops: ChunkOps<R>,
    imp: Box<dyn ReadableImpl<R>>,
) -> RSide<R> {
    let hwm = opts
        .high_water_mark
        .unwrap_or_else(|| default_high_water_mark(opts.object_mode));
    let mut state = RState::new(
        opts.object_mode,
        hwm,
        ops,
        opts.emit_close,
        opts.auto_destroy,
    );
    state.max_items = opts.max_items;
    state.overflow = opts.overflow;
    state.overflow_limit = opts.overflow_limit;
    RSide {
        state: RefCell::new(state),
        imp,
    }
}

pub(crate) fn byte_ops<R: ByteChunk>() -> ChunkOps<R> {
    ChunkOps {
        len: R::byte_len,
        split_to: R::split_to,
        concat: R::concat,
    }
}

pub(crate) fn object_ops<R: 'static>() -> ChunkOps<R> {
    fn one<R>(_: &R) -> usize {
        1
    }
    fn no_split<R>(_: &mut R, _: usize) -> R {
        unreachable!("object-mode chunks are never split")
    }
    fn no_concat<R>(mut parts: Vec<R>, _: usize) -> R {
        match parts.pop() {
            Some(p) if parts.is_empty() => p,
            _ => unreachable!("object-mode chunks are never joined"),
        }
    }
    ChunkOps {
        len: one::<R>,
        split_to: no_split::<R>,
        concat: no_concat::<R>,
    }
}

/// The readable-side methods, shared by [`Readable`] and
/// [`Duplex`](crate::Duplex). `$r` is the readable chunk type.
macro_rules! readable_methods {
    ($r:ty) => {
        /// Adds a chunk to the buffer, as the source would (Node's
        /// `readable.push(chunk)` from outside `_read`). Returns `false` once
        /// the buffer reached the mark.
        pub fn push(&self, chunk: $r) -> bool {
            $crate::readable::machine::push(&self.core, Some(chunk))
        }

        /// Ends the readable side (Node's `push(null)`).
        pub fn push_eof(&self) -> bool {
            $crate::readable::machine::push(&self.core, None)
        }

        /// Puts a chunk back at the front of the buffer (Node's `unshift`).
        pub fn unshift(&self, chunk: $r) -> bool {
            $crate::readable::machine::unshift(&self.core, Some(chunk))
        }

        /// Node's `read([n])`: `None` reads everything buffered (one chunk
        /// when flowing), `Some(n)` exactly `n` bytes or nothing (unless the
        /// stream ended). Emits `'data'` for what it returns, and may ask the
        /// source for more.
        pub fn read(&self, n: Option<usize>) -> Option<$r> {
            $crate::readable::machine::read(&self.core, n)
        }

        /// Stops flowing; `'pause'` is emitted synchronously if it was flowing.
        pub fn pause(&self) {
            $crate::readable::machine::pause(&self.core);
        }

        /// Starts flowing (from the next tick, with a `'resume'` event).
        pub fn resume(&self) {
            $crate::readable::machine::resume(&self.core);
        }

        /// Node's `isPaused()`.
        pub fn is_paused(&self) -> bool {
            let st = self.core.rs().borrow();
            st.paused || st.flowing == Some(false)
        }

        /// Adds a `'data'` listener; starts flowing unless paused explicitly.
        pub fn on_data(&self, f: impl Fn(&$r) + 'static) -> $crate::ListenerId {
            let id = self
                .core
                .events
                .data
                .add(::std::rc::Rc::new(f), false, false);
            $crate::readable::machine::on_data_listener_added(&self.core);
            id
        }

        /// Adds a `'data'` listener called once.
        pub fn once_data(&self, f: impl Fn(&$r) + 'static) -> $crate::ListenerId {
            let id = self
                .core
                .events
                .data
                .add(::std::rc::Rc::new(f), true, false);
            $crate::readable::machine::on_data_listener_added(&self.core);
            id
        }

        /// Adds a `'readable'` listener called once.
        pub fn once_readable(&self, f: impl Fn() + 'static) -> $crate::ListenerId {
            let id = self
                .core
                .events
                .readable
                .add(::std::rc::Rc::new(move |_| f()), true, false);
            $crate::readable::machine::on_readable_listener_added(&self.core);
            id
        }

        /// Adds a `'readable'` listener: switches to paused mode; `'readable'`
        /// says `read()` will return data (or that the stream ended).
        pub fn on_readable(&self, f: impl Fn() + 'static) -> $crate::ListenerId {
            let id = self
                .core
                .events
                .readable
                .add(::std::rc::Rc::new(move |_| f()), false, false);
            $crate::readable::machine::on_readable_listener_added(&self.core);
            id
        }

        /// Adds an `'end'` listener: everything was read after `push_eof`.
        pub fn on_end(&self, f: impl Fn() + 'static) -> $crate::ListenerId {
            self.core
                .events
                .end
                .add(::std::rc::Rc::new(move |_| f()), false, false)
        }

        /// Adds a `'pause'` listener.
        pub fn on_pause(&self, f: impl Fn() + 'static) -> $crate::ListenerId {
            self.core
                .events
                .pause
                .add(::std::rc::Rc::new(move |_| f()), false, false)
        }

        /// Adds a `'resume'` listener.
        pub fn on_resume(&self, f: impl Fn() + 'static) -> $crate::ListenerId {
            self.core
                .events
                .resume
                .add(::std::rc::Rc::new(move |_| f()), false, false)
        }

        /// Adds a listener for an event of the readable side, by Node's name
        /// (`"data"` and `"readable"` excepted: they have their own methods
        /// because adding them changes the mode). Once: removed after one call.
        pub fn once_event(
            &self,
            event: $crate::ReadableEvent,
            f: impl Fn() + 'static,
        ) -> $crate::ListenerId {
            let l = match event {
                $crate::ReadableEvent::End => &self.core.events.end,
                $crate::ReadableEvent::Pause => &self.core.events.pause,
                $crate::ReadableEvent::Resume => &self.core.events.resume,
                $crate::ReadableEvent::Close => &self.core.events.close,
            };
            l.add(::std::rc::Rc::new(move |_| f()), true, false)
        }

        /// Pipes this stream into `dest` (Node's `pipe(dest)`): flows into
        /// it, pausing whenever `dest.write()` returns `false` and resuming
        /// on its `'drain'`, and ends it when this stream ends. Returns `dest`
        /// (a clone of the handle), so that pipes can be chained.
        ///
        /// Only the end is forwarded: an error of either stream does not
        /// destroy the other (use [`Pipeline`](crate::Pipeline) for that).
        pub fn pipe<D>(&self, dest: &D) -> D
        where
            D: $crate::PipeDestination<$r> + Clone,
            $r: Clone,
        {
            self.pipe_with(dest, $crate::PipeOptions::default())
        }

        /// [`pipe`](Self::pipe) with options (`end: false` leaves `dest` open).
        pub fn pipe_with<D>(&self, dest: &D, opts: $crate::PipeOptions) -> D
        where
            D: $crate::PipeDestination<$r> + Clone,
            $r: Clone,
        {
            $crate::pipe::pipe(&self.core, dest.pipe_target().0, opts.end);
            dest.clone()
        }

        /// Stops piping into `dest` (Node's `unpipe(dest)`).
        pub fn unpipe<D: $crate::PipeDestination<$r>>(&self, dest: &D) {
            $crate::pipe::unpipe_one(&self.core, &dest.pipe_target().0);
        }

        /// Stops piping into every destination (Node's `unpipe()`).
        pub fn unpipe_all(&self) {
            $crate::pipe::unpipe_all(&self.core);
        }

        /// *Beyond Node.* A snapshot of the buffer, mark and counters (see
        /// [`stats`](crate::stats)).
        pub fn readable_stats(&self) -> $crate::ReadableStats {
            self.core.rs().borrow().stats()
        }

        /// Bytes (items) buffered.
        pub fn readable_length(&self) -> usize {
            self.core.rs().borrow().length
        }

        /// The mark `push()` compares against (raised by large `read(n)`).
        pub fn readable_high_water_mark(&self) -> usize {
            self.core.rs().borrow().hwm
        }

        /// Node's tri-state `readableFlowing`: `None` until a consumer chose.
        pub fn readable_flowing(&self) -> Option<bool> {
            self.core.rs().borrow().flowing
        }

        /// `'end'` was emitted (Node's `readableEnded`).
        pub fn readable_ended(&self) -> bool {
            self.core.rs().borrow().end_emitted
        }

        /// Whether the readable side is in object mode.
        pub fn readable_object_mode(&self) -> bool {
            self.core.rs().borrow().object_mode
        }

        /// Some `'data'` was emitted (Node's `readableDidRead`).
        pub fn readable_did_read(&self) -> bool {
            self.core.rs().borrow().data_emitted
        }

        /// Whether reading may still produce data: not ended, destroyed or errored.
        pub fn readable(&self) -> bool {
            let st = self.core.rs().borrow();
            st.readable_side && !st.destroyed && !st.error_emitted && !st.end_emitted
        }

        /// Destroyed or errored before `'end'` (Node's `readableAborted`).
        pub fn readable_aborted(&self) -> bool {
            let st = self.core.rs().borrow();
            st.readable_side && (st.destroyed || st.errored.is_some()) && !st.end_emitted
        }
    };
}
pub(crate) use readable_methods;

/// The events of a Readable that [`once_event`](Readable::once_event) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadableEvent {
    /// Everything was read after the source's EOF.
    End,
    /// The stream stopped flowing.
    Pause,
    /// The stream started flowing.
    Resume,
    /// The stream is destroyed and released its resources.
    Close,
}

/// A Readable stream of chunks `T` (bytes by default).
///
/// A cheap handle: clones refer to the same stream. `!Send`, like every
/// stream (see [`event_loop`](crate::event_loop)).
///
/// # Examples
///
/// A source pushing from outside, a consumer in flowing mode:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::{Readable, ReadableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(8));
/// let got = Rc::new(RefCell::new(Vec::new()));
/// let g = got.clone();
/// r.on_data(move |c| g.borrow_mut().push(c.clone()));
/// assert!(r.push(Bytes::from_static(b"abcd")));
/// assert!(!r.push(Bytes::from_static(b"efgh"))); // 8 >= 8: the source should wait
/// r.push_eof();
/// highwater::run_until_idle();                   // flowing starts on the next tick
/// assert_eq!(got.borrow().len(), 2);
/// assert!(r.readable_ended());
/// ```
pub struct Readable<T: 'static = Bytes> {
    pub(crate) core: Rc<Core<T, Infallible>>,
}

impl<T: 'static> Clone for Readable<T> {
    fn clone(&self) -> Self {
        Readable {
            core: self.core.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for Readable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.core.rs().borrow();
        f.debug_struct("Readable")
            .field("id", &self.core.id)
            .field("object_mode", &st.object_mode)
            .field("high_water_mark", &st.hwm)
            .field("length", &st.length)
            .field("flowing", &st.flowing)
            .field("ended", &st.ended)
            .field("end_emitted", &st.end_emitted)
            .field("destroyed", &st.destroyed)
            .finish()
    }
}

/// A source that never produces anything by itself: data comes from `push`
/// calls on the stream.
struct Pushed;

impl<R> ReadableImpl<R> for Pushed {
    fn read(&self, _size: usize, _src: &Source<R>) {}
}

impl<T: ByteChunk> Readable<T> {
    /// Creates a byte stream over `imp` (object mode if the options say so).
    pub fn new(opts: ReadableOptions, imp: impl ReadableImpl<T>) -> Self {
        let ops = if opts.object_mode {
            object_ops()
        } else {
            byte_ops()
        };
        Self::build(opts, ops, Box::new(imp))
    }

    /// A byte stream fed only by [`push`](Self::push) calls from outside.
    pub fn pushed(opts: ReadableOptions) -> Self {
        Self::new(opts, Pushed)
    }
}

impl<T: 'static> Readable<T> {
    /// Creates an object-mode stream over `imp` (default mark: 16 items).
    pub fn new_object(opts: ReadableOptions, imp: impl ReadableImpl<T>) -> Self {
        Self::build(opts.object_mode(true), object_ops(), Box::new(imp))
    }

    /// An object-mode stream fed only by [`push`](Self::push) calls.
    pub fn pushed_object(opts: ReadableOptions) -> Self {
        Self::new_object(opts, Pushed)
    }

    /// *Beyond Node.* An object-mode stream whose mark counts `size(&chunk)`
    /// per chunk instead of 1 (see
    /// [`Writable::new_weighted`](crate::Writable::new_weighted)).
    ///
    /// ```
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed_weighted(
    ///     ReadableOptions::default().high_water_mark(8),
    ///     |v: &Vec<u32>| v.len() * 4,
    /// );
    /// assert!(r.push(vec![1]));        // 4 bytes < 8
    /// assert!(!r.push(vec![2, 3]));    // 12 bytes: stop producing
    /// assert_eq!(r.readable_length(), 12);
    /// ```
    pub fn new_weighted(
        opts: ReadableOptions,
        size: fn(&T) -> usize,
        imp: impl ReadableImpl<T>,
    ) -> Self {
        let ops = ChunkOps {
            len: size,
            ..object_ops()
        };
        let side = readable_side(&opts.object_mode(true), ops, Box::new(imp));
        side.state.borrow_mut().weighted = true;
        Readable {
            core: Core::new(None, Some(side), true),
        }
    }

    /// A weighted object-mode stream fed only by [`push`](Self::push) calls.
    pub fn pushed_weighted(opts: ReadableOptions, size: fn(&T) -> usize) -> Self {
        Self::new_weighted(opts, size, Pushed)
    }

    fn build(opts: ReadableOptions, ops: ChunkOps<T>, imp: Box<dyn ReadableImpl<T>>) -> Self {
        let side = readable_side(&opts, ops, imp);
        Readable {
            core: Core::new(None, Some(side), true),
        }
    }

    readable_methods!(T);
    crate::writable::common_methods!();

    /// Whether both handles refer to the same stream.
    pub fn ptr_eq(&self, other: &Readable<T>) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }

    /// The stream as a `futures::Stream` of chunks (Node's async iterator):
    /// paused mode, one item per `read()`; dropping it before the end
    /// destroys the stream.
    pub fn stream(&self) -> ReadableStream<T> {
        ReadableStream::new(self.core.clone())
    }
}

#[cfg(test)]
mod tests;
