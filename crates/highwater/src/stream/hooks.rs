//! The hooks a stream is made of: Node's `_write`, `_writev`, `_final`,
//! `_read`, `_construct`, `_destroy`, and which of the optional ones a sink
//! or source has.
//!
//! Node decides what a stream does from which methods exist
//! (`typeof stream._final === 'function'`): a stream with `_final` waits for
//! it before `'prefinish'`, one with `_writev` gets its buffer in one batch.
//! Rust cannot ask whether a default method was overridden, so a hook
//! implementation says it once, in [`hooks`](WritableImpl::hooks): one set
//! of [`Hooks`], read when the stream is created and never again (the hot
//! path tests a copied flag, not the trait).

use std::fmt;
use std::ops::BitOr;

use crate::state::Error;

use super::done::Done;
use super::readable::Source;

/// The optional hooks a [`WritableImpl`], [`ReadableImpl`] or
/// [`TransformImpl`](crate::TransformImpl) implements, as a set. `write`,
/// `read`, `transform` and `destroy` always exist; the others only when
/// named here.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::Hooks;
///
/// let h = Hooks::WRITEV | Hooks::FINAL;
/// assert!(h.contains(Hooks::FINAL));
/// assert!(!h.contains(Hooks::CONSTRUCT));
/// assert_eq!(Hooks::NONE | Hooks::FLUSH, Hooks::FLUSH);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hooks(u8);

impl Hooks {
    /// No optional hook.
    pub const NONE: Hooks = Hooks(0);
    /// [`WritableImpl::writev`] (Node's `_writev`).
    pub const WRITEV: Hooks = Hooks(1);
    /// [`WritableImpl::write_sync`] (highwater's synchronous `_write`).
    pub const WRITE_SYNC: Hooks = Hooks(2);
    /// [`WritableImpl::finish`] (Node's `_final`).
    pub const FINAL: Hooks = Hooks(4);
    /// [`WritableImpl::construct`] / [`ReadableImpl::construct`] (Node's
    /// `_construct`).
    pub const CONSTRUCT: Hooks = Hooks(8);
    /// [`TransformImpl::flush`](crate::TransformImpl::flush) (Node's `_flush`).
    pub const FLUSH: Hooks = Hooks(16);

    /// Whether every hook of `other` is in `self`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Hooks;
    /// assert!((Hooks::WRITEV | Hooks::FINAL).contains(Hooks::WRITEV));
    /// assert!(Hooks::WRITEV.contains(Hooks::NONE));
    /// ```
    pub const fn contains(self, other: Hooks) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Hooks {
    type Output = Hooks;
    fn bitor(self, rhs: Hooks) -> Hooks {
        Hooks(self.0 | rhs.0)
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Hooks::WRITEV, "WRITEV"),
            (Hooks::WRITE_SYNC, "WRITE_SYNC"),
            (Hooks::FINAL, "FINAL"),
            (Hooks::CONSTRUCT, "CONSTRUCT"),
            (Hooks::FLUSH, "FLUSH"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(h, _)| self.contains(*h))
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            f.write_str("Hooks(NONE)")
        } else {
            write!(f, "Hooks({})", set.join(" | "))
        }
    }
}

/// The sink behind a [`Writable`](crate::Writable) (or a Duplex's writable
/// side): Node's `_write`, `_writev`, `_final`, `_construct` and `_destroy`.
///
/// Each hook gets a [`Done`] to call when the work is complete: before
/// returning (a synchronous sink) or later (an asynchronous one). The stream
/// calls `write`/`writev` for one chunk or batch at a time and waits for its
/// `Done` before the next. Hooks take `&self` because the stream may call them
/// re-entrantly (a hook's own `Done` can start the next write); keep mutable
/// state in a `Cell`/`RefCell` and do not hold a borrow while calling `Done`.
///
/// The optional hooks are called only if [`hooks`](Self::hooks) names them.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Done, Hooks, Writable, WritableImpl, WritableOptions};
///
/// #[derive(Default)]
/// struct Collect(RefCell<Vec<u8>>);
///
/// impl WritableImpl<Bytes> for Collect {
///     fn write(&self, chunk: Bytes, done: Done) {
///         self.0.borrow_mut().extend_from_slice(&chunk);
///         done.ok();
///     }
///     fn hooks(&self) -> Hooks {
///         Hooks::FINAL
///     }
///     fn finish(&self, done: Done) {
///         self.0.borrow_mut().extend_from_slice(b"<eof>");
///         done.ok();
///     }
/// }
///
/// let w = Writable::new(WritableOptions::default(), Collect::default());
/// assert!(w.write(Bytes::from_static(b"hi")));
/// w.end();
/// highwater::run_until_idle();
/// assert!(w.writable_finished());
/// ```
pub trait WritableImpl<T>: 'static {
    /// Writes one chunk; call `done` when it is written.
    fn write(&self, chunk: T, done: Done);

    /// The optional hooks this sink implements. Read once, when the stream
    /// is created. The default: none.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, WritableImpl};
    ///
    /// struct Batches;
    /// impl WritableImpl<Vec<u8>> for Batches {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    ///     fn writev(&self, _cs: Vec<Vec<u8>>, done: Done) { done.ok() }
    ///     fn hooks(&self) -> Hooks { Hooks::WRITEV }
    /// }
    /// assert_eq!(Batches.hooks(), Hooks::WRITEV);
    /// ```
    fn hooks(&self) -> Hooks {
        Hooks::NONE
    }

    /// Writes several buffered chunks at once (Node's `_writev`), when two
    /// or more are buffered. Called only with [`Hooks::WRITEV`].
    ///
    /// ```
    /// use std::cell::Cell;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Default)]
    /// struct Batches(Cell<usize>);
    /// impl WritableImpl<Vec<u8>> for Batches {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    ///     fn writev(&self, cs: Vec<Vec<u8>>, done: Done) {
    ///         self.0.set(cs.len());
    ///         done.ok()
    ///     }
    ///     fn hooks(&self) -> Hooks { Hooks::WRITEV }
    /// }
    ///
    /// let w = Writable::new(WritableOptions::default(), Batches::default());
    /// w.cork();
    /// let _ = w.write(b"a".to_vec());
    /// let _ = w.write(b"b".to_vec());
    /// w.uncork(); // both in one batch
    /// ```
    fn writev(&self, chunks: Vec<T>, done: Done) {
        drop(chunks);
        done.err(Error::msg("the _writev() method is not implemented"));
    }

    /// Writes one chunk and finishes it before returning: the result is what
    /// `write` would pass to `done`. Called instead of [`write`](Self::write)
    /// only with [`Hooks::WRITE_SYNC`].
    ///
    /// This is not a different behaviour: the stream does exactly what it
    /// does when `write` calls `done` before returning (Node's synchronous
    /// `_write` callback), but without making a [`Done`] handle, which is
    /// the largest cost on the per-write path of a fast sink.
    /// [`Writable::from_fn`](crate::Writable::from_fn) sinks use it.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Error, Hooks, Writable, WritableImpl, WritableOptions};
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
    ///     fn hooks(&self) -> Hooks {
    ///         Hooks::WRITE_SYNC
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

    /// Runs once every chunk is written, before `'prefinish'`/`'finish'`
    /// (Node's `_final`). Called only with [`Hooks::FINAL`].
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, WritableImpl};
    ///
    /// struct Flushing;
    /// impl WritableImpl<Vec<u8>> for Flushing {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    ///     fn finish(&self, done: Done) { /* flush buffers */ done.ok() }
    ///     fn hooks(&self) -> Hooks { Hooks::FINAL }
    /// }
    /// ```
    fn finish(&self, done: Done) {
        done.ok();
    }

    /// Releases resources when the stream is destroyed (Node's `_destroy`);
    /// call `done` with the error to report (usually `err` itself).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Error, WritableImpl};
    ///
    /// struct Closing;
    /// impl WritableImpl<Vec<u8>> for Closing {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    ///     fn destroy(&self, err: Option<Error>, done: Done) {
    ///         // close the file, then report the error that destroyed us
    ///         done.call(err.map_or(Ok(()), Err))
    ///     }
    /// }
    /// ```
    fn destroy(&self, err: Option<Error>, done: Done) {
        done.call(err.map_or(Ok(()), Err));
    }

    /// Prepares the sink (opens a file, connects) before any write (Node's
    /// `_construct`): called on the next tick after creation; until `done`
    /// is called, writes are buffered and `destroy` waits. Called only with
    /// [`Hooks::CONSTRUCT`].
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, WritableImpl};
    ///
    /// struct Opening;
    /// impl WritableImpl<Vec<u8>> for Opening {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    ///     fn construct(&self, done: Done) { /* open */ done.ok() }
    ///     fn hooks(&self) -> Hooks { Hooks::CONSTRUCT }
    /// }
    /// ```
    fn construct(&self, done: Done) {
        done.ok();
    }
}

/// The source behind a [`Readable`](crate::Readable) (or a Duplex's readable
/// side): Node's `_read`, `_construct` and `_destroy`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use bytes::Bytes;
/// use highwater::prelude::*;
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

    /// The optional hooks this source implements ([`Hooks::CONSTRUCT`] is
    /// the only one a source can have). Read once, at creation.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, ReadableImpl, Source};
    ///
    /// struct Opening;
    /// impl ReadableImpl<Vec<u8>> for Opening {
    ///     fn read(&self, _n: usize, src: &Source<Vec<u8>>) { src.push_eof(); }
    ///     fn construct(&self, done: Done) { done.ok() }
    ///     fn hooks(&self) -> Hooks { Hooks::CONSTRUCT }
    /// }
    /// assert!(Opening.hooks().contains(Hooks::CONSTRUCT));
    /// ```
    fn hooks(&self) -> Hooks {
        Hooks::NONE
    }

    /// Releases resources when the stream is destroyed (Node's `_destroy`);
    /// call `done` with the error to report (usually `err` itself).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Error, ReadableImpl, Source};
    ///
    /// struct Closing;
    /// impl ReadableImpl<Vec<u8>> for Closing {
    ///     fn read(&self, _n: usize, src: &Source<Vec<u8>>) { src.push_eof(); }
    ///     fn destroy(&self, err: Option<Error>, done: Done) {
    ///         done.call(err.map_or(Ok(()), Err))
    ///     }
    /// }
    /// ```
    fn destroy(&self, err: Option<Error>, done: Done) {
        done.call(err.map_or(Ok(()), Err));
    }

    /// Prepares the source (opens a file, connects) before the first `read`
    /// (Node's `_construct`): called on the next tick after creation. Called
    /// only with [`Hooks::CONSTRUCT`].
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, ReadableImpl, Source};
    ///
    /// struct Opening;
    /// impl ReadableImpl<Vec<u8>> for Opening {
    ///     fn read(&self, _n: usize, src: &Source<Vec<u8>>) { src.push_eof(); }
    ///     fn construct(&self, done: Done) { /* open */ done.ok() }
    ///     fn hooks(&self) -> Hooks { Hooks::CONSTRUCT }
    /// }
    /// ```
    fn construct(&self, done: Done) {
        done.ok();
    }
}
