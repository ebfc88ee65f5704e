//! Readable streams: a source behind a buffer bounded by a high-water mark.
//!
//! A [`Readable`] asks its source for data by calling
//! [`ReadableImpl::read`]; the source answers with [`Source::push`] (now or
//! later), and `push` returns `false` once the buffer reached the mark: the
//! source should stop until `read` is called again. Consumers take data by
//! listening for `'data'` (flowing mode), by calling
//! [`read`](crate::ReadableSide::read) (paused mode), or by [piping](crate::ReadableExt::pipe) it
//! into a Writable. This module is Node's `lib/internal/streams/readable.js`;
//! the transitions live in `machine.rs`, the state in `state/readable.rs`.
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

mod from_iter;
pub(crate) mod machine;

use std::cell::RefCell;
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use bytes::Bytes;

use crate::state::readable::RState;
use crate::state::{Error, ReadableOptions};

use super::core::{self as core_, Core, RSide};
use super::side::sealed::{Handle, HasReadable};
use super::ReadableImpl;

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
        core_::error_or_destroy(&self, err, false)
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
        core_::destroy(&self, err)
    }
    fn readable_length(&self) -> usize {
        self.rs().borrow().length
    }
}

/// The handle a [`ReadableImpl`] pushes through (Node's `this.push`). Cheap to
/// clone; keep one to push later (an asynchronous source).
///
/// # Examples
///
/// A source that answers later, through a kept clone:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
///
/// #[derive(Clone, Default)]
/// struct Later(Rc<RefCell<Option<Source<Bytes>>>>);
/// impl ReadableImpl<Bytes> for Later {
///     fn read(&self, _size: usize, src: &Source<Bytes>) {
///         *self.0.borrow_mut() = Some(src.clone());
///     }
/// }
///
/// let imp = Later::default();
/// let r = Readable::new(ReadableOptions::default(), imp.clone());
/// assert_eq!(r.read(None), None); // asks the source, which has nothing yet
/// let src = imp.0.borrow_mut().take().expect("read was called");
/// src.push(Bytes::from_static(b"late"));
/// assert_eq!(r.read(None), Some(Bytes::from_static(b"late")));
/// ```
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
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// /// Pushes 3-byte chunks until told to stop.
    /// struct Eager;
    /// impl ReadableImpl<Bytes> for Eager {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         while src.push(Bytes::from_static(b"abc")) {}
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default().high_water_mark(8), Eager);
    /// assert_eq!(r.read(Some(0)), None); // read(0) only fills the buffer
    /// assert_eq!(r.readable_length(), 9); // the third push reached the mark
    /// ```
    pub fn push(&self, chunk: R) -> bool {
        self.core.clone().push(Some(chunk))
    }

    /// Ends the stream (Node's `push(null)`): `'end'` follows once the
    /// consumer has read everything buffered.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// struct Last;
    /// impl ReadableImpl<Bytes> for Last {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         src.push(Bytes::from_static(b"bye"));
    ///         src.push_eof();
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default(), Last);
    /// let ended = Rc::new(Cell::new(false));
    /// let e = ended.clone();
    /// r.on_end(move || e.set(true));
    /// assert_eq!(r.read(None), Some(Bytes::from_static(b"bye")));
    /// assert!(!ended.get()); // 'end' comes on the next tick
    /// highwater::run_until_idle();
    /// assert!(ended.get() && r.readable_ended());
    /// ```
    pub fn push_eof(&self) -> bool {
        self.core.clone().push(None)
    }

    /// Puts a chunk back at the front of the buffer (Node's `unshift`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// struct Framed;
    /// impl ReadableImpl<Bytes> for Framed {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         src.push(Bytes::from_static(b"body"));
    ///         src.unshift(Bytes::from_static(b"head:")); // ahead of "body"
    ///         src.push_eof();
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default(), Framed);
    /// assert_eq!(r.read(None), Some(Bytes::from_static(b"head:body")));
    /// ```
    pub fn unshift(&self, chunk: R) -> bool {
        self.core.clone().unshift(Some(chunk))
    }

    /// Reports the error that made the source fail (Node's `errorOrDestroy`):
    /// the stream is destroyed with it, or with `auto_destroy` off only
    /// errored and `'error'` emitted.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// struct Broken;
    /// impl ReadableImpl<Bytes> for Broken {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         src.error(Error::custom("EIO", "disk gone"));
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default(), Broken);
    /// let code = Rc::new(RefCell::new(String::new()));
    /// let c = code.clone();
    /// r.on_error(move |e| *c.borrow_mut() = e.code().to_string());
    /// r.resume();
    /// highwater::run_until_idle();
    /// assert_eq!(*code.borrow(), "EIO");
    /// assert!(r.destroyed()); // auto_destroy is on by default
    /// ```
    pub fn error(&self, err: Error) {
        self.core.clone().error_or_destroy(err)
    }

    /// Whether the stream was destroyed (a source should stop pushing).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// #[derive(Clone, Default)]
    /// struct Keep(Rc<RefCell<Option<Source<Bytes>>>>);
    /// impl ReadableImpl<Bytes> for Keep {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         *self.0.borrow_mut() = Some(src.clone());
    ///     }
    /// }
    ///
    /// let imp = Keep::default();
    /// let r = Readable::new(ReadableOptions::default(), imp.clone());
    /// let _ = r.read(Some(0));
    /// let src = imp.0.borrow_mut().take().expect("read was called");
    /// assert!(!src.destroyed());
    /// r.destroy(None);
    /// assert!(src.destroyed());
    /// ```
    pub fn destroyed(&self) -> bool {
        self.core.destroyed()
    }

    /// Destroys the stream, with the error that made the source fail.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// struct Gone;
    /// impl ReadableImpl<Bytes> for Gone {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         src.destroy(Some(Error::custom("ECONNRESET", "peer left")));
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default(), Gone);
    /// let closed = Rc::new(Cell::new(false));
    /// let c = closed.clone();
    /// r.on_close(move || c.set(true));
    /// r.on_error(|_| {});
    /// assert_eq!(r.read(None), None);
    /// assert!(r.destroyed());
    /// assert_eq!(r.errored().map(|e| e.code().to_string()).as_deref(), Some("ECONNRESET"));
    /// highwater::run_until_idle();
    /// assert!(closed.get());
    /// ```
    pub fn destroy(&self, err: Option<Error>) {
        self.core.clone().destroy(err)
    }

    /// Bytes (items) buffered in the stream.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// /// Pushes until 10 bytes are buffered, whatever the mark.
    /// struct UpToTen;
    /// impl ReadableImpl<Bytes> for UpToTen {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         while src.readable_length() < 10 {
    ///             src.push(Bytes::from_static(b"abcd"));
    ///         }
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default(), UpToTen);
    /// let _ = r.read(Some(0));
    /// assert_eq!(r.readable_length(), 12);
    /// ```
    pub fn readable_length(&self) -> usize {
        self.core.readable_length()
    }
}

/// A readable side built from its options and its source.
pub(crate) fn readable_side<R: 'static>(
    opts: &ReadableOptions<R>,
    imp: Box<dyn ReadableImpl<R>>,
) -> RSide<R> {
    let object_mode = opts.mode.object_mode();
    let mut state = RState::new(
        object_mode,
        opts.mark(),
        opts.ops,
        opts.common.emit_close,
        opts.common.auto_destroy,
    );
    state.weighted = opts.mode == crate::state::options::Mode::Weighted;
    state.max_items = opts.common.max_items;
    state.overflow = opts.overflow;
    state.overflow_limit = opts.overflow_limit;
    if let Some((encoding, apply)) = opts.encoding {
        apply(&mut state, encoding);
    }
    let hooks = imp.hooks();
    RSide {
        state: RefCell::new(state),
        imp,
        hooks,
    }
}

/// The events of a readable side that carry no value, for
/// [`once_event`](crate::ReadableSide::once_event).
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableEvent, ReadableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let ended = Rc::new(Cell::new(false));
/// let e = ended.clone();
/// r.once_event(ReadableEvent::End, move || e.set(true));
/// r.resume();
/// r.push_eof();
/// highwater::run_until_idle();
/// assert!(ended.get());
/// ```
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

/// A Readable stream of chunks `T` (bytes by default): Node's `Readable`.
///
/// A cheap handle: clones refer to the same stream. `!Send`, like every
/// stream (see [`event_loop`](crate::event_loop)). Its methods are those of
/// [`StreamBase`](crate::StreamBase), [`ReadableSide`](crate::ReadableSide)
/// and [`ReadableExt`](crate::ReadableExt) (bring them into scope with
/// `use highwater::prelude::*`).
///
/// Two constructors: [`new`](Self::new) over a [`ReadableImpl`] (Node's
/// `new Readable({ read, construct, destroy })`) and [`pushed`](Self::pushed)
/// for a stream fed from outside by `push`. How chunks count toward the mark
/// (bytes, objects, weights) is the options' choice (see [`ReadableOptions`]).
///
/// # Examples
///
/// A source pushing from outside, a consumer in flowing mode:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
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
            .field("object_mode", &st.object_mode())
            .field("high_water_mark", &st.hwm)
            .field("length", &st.length)
            .field("flowing", &st.flowing())
            .field("ended", &st.ended())
            .field("end_emitted", &st.end_emitted())
            .field("destroyed", &st.destroyed())
            .finish()
    }
}

impl<T: 'static> Handle for Readable<T> {
    type R = T;
    type W = Infallible;
    fn core(&self) -> &Rc<Core<T, Infallible>> {
        &self.core
    }
}

impl<T: 'static> HasReadable for Readable<T> {}

/// A source that never produces anything by itself: data comes from `push`
/// calls on the stream.
pub(crate) struct Pushed;

impl<R> ReadableImpl<R> for Pushed {
    fn read(&self, _size: usize, _src: &Source<R>) {}
}

impl<T: 'static> Readable<T> {
    /// Creates a stream over `imp`, its chunks counted as `opts` says.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// struct Once;
    /// impl ReadableImpl<Bytes> for Once {
    ///     fn read(&self, _size: usize, src: &Source<Bytes>) {
    ///         src.push(Bytes::from_static(b"only"));
    ///         src.push_eof();
    ///     }
    /// }
    ///
    /// let r = Readable::new(ReadableOptions::default(), Once);
    /// assert_eq!(r.read(None), Some(Bytes::from_static(b"only")));
    /// ```
    pub fn new(opts: ReadableOptions<T>, imp: impl ReadableImpl<T>) -> Self {
        let side = readable_side(&opts, Box::new(imp));
        let core = Core::new(None, Some(side), true);
        if let Some(signal) = opts.abort_signal() {
            crate::stream::abort::apply(&core, &signal);
        }
        Readable { core }
    }

    /// A stream fed only by [`push`](crate::ReadableSide::push) calls from
    /// outside (a source that has nothing to do when asked for more).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects());
    /// r.push("a row");
    /// assert_eq!(r.read(None), Some("a row"));
    /// ```
    pub fn pushed(opts: ReadableOptions<T>) -> Self {
        Self::new(opts, Pushed)
    }
}

#[cfg(test)]
mod tests;
