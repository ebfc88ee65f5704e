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
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, WritableImpl};
    ///
    /// struct Plain;
    /// impl WritableImpl<Vec<u8>> for Plain {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    /// }
    /// assert_eq!(Plain.hooks(), Hooks::NONE); // the default
    /// assert_eq!(Hooks::NONE, Hooks::default());
    /// assert!(!Hooks::NONE.contains(Hooks::FINAL));
    /// assert_eq!(format!("{:?}", Hooks::NONE), "Hooks(NONE)");
    /// ```
    pub const NONE: Hooks = Hooks(0);
    /// [`WritableImpl::writev`] (Node's `_writev`).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Clone, Default)]
    /// struct Batches(Rc<RefCell<Vec<usize>>>);
    /// impl WritableImpl<Vec<u8>> for Batches {
    ///     fn write(&self, _c: Vec<u8>, done: Done) {
    ///         self.0.borrow_mut().push(1);
    ///         done.ok()
    ///     }
    ///     fn writev(&self, cs: Vec<Vec<u8>>, done: Done) {
    ///         self.0.borrow_mut().push(cs.len());
    ///         done.ok()
    ///     }
    ///     fn hooks(&self) -> Hooks { Hooks::WRITEV }
    /// }
    ///
    /// let sink = Batches::default();
    /// let w = Writable::new(WritableOptions::default(), sink.clone());
    /// w.cork();
    /// for c in [b"a", b"b", b"c"] {
    ///     let _ = w.write(c.to_vec());
    /// }
    /// w.uncork();
    /// assert_eq!(*sink.0.borrow(), [3]); // one batch of three chunks
    /// ```
    pub const WRITEV: Hooks = Hooks(1);
    /// [`WritableImpl::write_sync`] (highwater's synchronous `_write`).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Done, Error, Hooks, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Clone, Default)]
    /// struct Log(Rc<RefCell<Vec<&'static str>>>);
    /// impl WritableImpl<Vec<u8>> for Log {
    ///     fn write(&self, _c: Vec<u8>, done: Done) {
    ///         self.0.borrow_mut().push("write");
    ///         done.ok()
    ///     }
    ///     fn write_sync(&self, _c: Vec<u8>) -> Result<(), Error> {
    ///         self.0.borrow_mut().push("write_sync");
    ///         Ok(())
    ///     }
    ///     fn hooks(&self) -> Hooks { Hooks::WRITE_SYNC }
    /// }
    ///
    /// let sink = Log::default();
    /// let w = Writable::new(WritableOptions::default(), sink.clone());
    /// assert!(w.write(b"x".to_vec()));
    /// assert_eq!(*sink.0.borrow(), ["write_sync"]); // write() was not called
    /// ```
    pub const WRITE_SYNC: Hooks = Hooks(2);
    /// [`WritableImpl::finish`] (Node's `_final`), or a Transform's own
    /// final hook, [`TransformImpl::finish`](crate::TransformImpl::finish).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, Writable, WritableEvent, WritableImpl, WritableOptions};
    ///
    /// type Log = Rc<RefCell<Vec<&'static str>>>;
    /// struct Flushing(Log);
    /// impl WritableImpl<Vec<u8>> for Flushing {
    ///     fn write(&self, _c: Vec<u8>, done: Done) { done.ok() }
    ///     fn finish(&self, done: Done) {
    ///         self.0.borrow_mut().push("final");
    ///         done.ok()
    ///     }
    ///     fn hooks(&self) -> Hooks { Hooks::FINAL }
    /// }
    ///
    /// let log = Log::default();
    /// let w = Writable::new(WritableOptions::default(), Flushing(log.clone()));
    /// let l = log.clone();
    /// w.on(WritableEvent::Finish, move || l.borrow_mut().push("finish"));
    /// w.end();
    /// highwater::run_until_idle();
    /// assert_eq!(*log.borrow(), ["final", "finish"]);
    /// ```
    pub const FINAL: Hooks = Hooks(4);
    /// [`WritableImpl::construct`] / [`ReadableImpl::construct`] (Node's
    /// `_construct`).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Clone, Default)]
    /// struct Opening(Rc<RefCell<Vec<&'static str>>>);
    /// impl WritableImpl<Vec<u8>> for Opening {
    ///     fn write(&self, _c: Vec<u8>, done: Done) {
    ///         self.0.borrow_mut().push("write");
    ///         done.ok()
    ///     }
    ///     fn construct(&self, done: Done) {
    ///         self.0.borrow_mut().push("construct");
    ///         done.ok()
    ///     }
    ///     fn hooks(&self) -> Hooks { Hooks::CONSTRUCT }
    /// }
    ///
    /// let sink = Opening::default();
    /// let w = Writable::new(WritableOptions::default(), sink.clone());
    /// assert!(w.write(b"abc".to_vec()));
    /// assert_eq!(w.writable_length(), 3); // buffered until construct is done
    /// highwater::run_until_idle();
    /// assert_eq!(*sink.0.borrow(), ["construct", "write"]);
    /// assert_eq!(w.writable_length(), 0);
    /// ```
    pub const CONSTRUCT: Hooks = Hooks(8);
    /// [`TransformImpl::flush`](crate::TransformImpl::flush) (Node's `_flush`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Hooks, Transform, TransformDone, TransformImpl, TransformOptions};
    ///
    /// struct Trailer(Hooks);
    /// impl TransformImpl<String, String> for Trailer {
    ///     fn transform(&self, s: String, done: TransformDone<String>) { done.call(Ok(Some(s))) }
    ///     fn flush(&self, done: TransformDone<String>) { done.call(Ok(Some("the end".into()))) }
    ///     fn hooks(&self) -> Hooks { self.0 }
    /// }
    ///
    /// let with = Transform::new(TransformOptions::objects(), Trailer(Hooks::FLUSH));
    /// let without = Transform::new(TransformOptions::objects(), Trailer(Hooks::NONE));
    /// with.end();
    /// without.end();
    /// highwater::run_until_idle();
    /// assert_eq!(with.read(None).as_deref(), Some("the end"));
    /// assert_eq!(without.read(None), None); // flush was never called
    /// ```
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
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Writable, WritableImpl, WritableOptions};
    ///
    /// #[derive(Clone, Default)]
    /// struct Collect(Rc<RefCell<Vec<u8>>>);
    /// impl WritableImpl<Bytes> for Collect {
    ///     fn write(&self, chunk: Bytes, done: Done) {
    ///         self.0.borrow_mut().extend_from_slice(&chunk);
    ///         done.ok();
    ///     }
    /// }
    ///
    /// let sink = Collect::default();
    /// let w = Writable::new(WritableOptions::default(), sink.clone());
    /// assert!(w.write(Bytes::from_static(b"ab")));
    /// assert!(w.write(Bytes::from_static(b"cd")));
    /// assert_eq!(&sink.0.borrow()[..], b"abcd");
    /// ```
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
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableImpl, ReadableOptions, Source};
    ///
    /// struct Asked(Rc<Cell<usize>>);
    /// impl ReadableImpl<Bytes> for Asked {
    ///     fn read(&self, size: usize, src: &Source<Bytes>) {
    ///         self.0.set(size);
    ///         src.push(Bytes::from_static(b"xyz"));
    ///     }
    /// }
    ///
    /// let asked = Rc::new(Cell::new(0));
    /// let r = Readable::new(ReadableOptions::default().high_water_mark(100), Asked(asked.clone()));
    /// assert_eq!(r.read(None), Some(Bytes::from_static(b"xyz")));
    /// assert_eq!(asked.get(), 100); // asked for up to a mark's worth
    /// ```
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
