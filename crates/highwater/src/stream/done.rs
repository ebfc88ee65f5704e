//! [`Done`]: the callback every hook of every stream completes with.

use std::fmt;
use std::rc::Rc;

use crate::runtime::event_loop::next_tick;
use crate::state::Error;

use super::core::Core;

#[derive(Clone, Copy)]
pub(crate) enum DoneKind {
    Write,
    Final,
    /// `_destroy`'s callback, which is `once` (the stream's
    /// `destroy_called` says it ran).
    Destroy,
    /// `_construct`'s callback: reported on the next tick.
    Construct,
}

/// The state machines' entry points for the completions, without the
/// stream's chunk types.
trait Completions {
    fn on_write(self: Rc<Self>, err: Option<Error>);
    fn on_write_ok(self: Rc<Self>);
    fn on_final(self: Rc<Self>, err: Option<Error>);
    fn on_destroy(self: Rc<Self>, err: Option<Error>);
    fn on_construct(self: Rc<Self>, err: Option<Error>);
}

impl<R: 'static, W: 'static> Completions for Core<R, W> {
    fn on_write(self: Rc<Self>, err: Option<Error>) {
        super::writable::machine::on_write(&self, err)
    }
    fn on_write_ok(self: Rc<Self>) {
        super::writable::machine::on_write_ok(&self)
    }
    fn on_final(self: Rc<Self>, err: Option<Error>) {
        super::writable::machine::on_final(&self, err)
    }
    fn on_destroy(self: Rc<Self>, err: Option<Error>) {
        if !self.destroy_called.replace(true) {
            super::core::on_destroy(&self, err)
        }
    }
    fn on_construct(self: Rc<Self>, err: Option<Error>) {
        // `(err) => process.nextTick(onConstruct, err)`
        next_tick(move || super::core::on_construct(&self, err));
    }
}

/// The callback a hook calls when its work is complete: a
/// [`WritableImpl`](crate::WritableImpl)'s `write`/`writev`/`finish`, and the
/// `construct` and `destroy` hooks of any stream.
///
/// # Examples
///
/// A sink that completes each write later, from a timer:
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Done, Writable, WritableImpl, WritableOptions};
///
/// struct Later;
/// impl WritableImpl<Bytes> for Later {
///     fn write(&self, _chunk: Bytes, done: Done) {
///         highwater::spawn(async move {
///             tokio::time::sleep(std::time::Duration::from_millis(1)).await;
///             done.ok();
///         });
///     }
/// }
///
/// highwater::block_on(async {
///     let w = Writable::new(WritableOptions::default(), Later);
///     w.write_async(Bytes::from_static(b"x")).await?;
///     w.end_async().await
/// })
/// .unwrap();
/// ```
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

    pub(crate) fn finish<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Done {
            stream: c.clone(),
            kind: DoneKind::Final,
        }
    }

    pub(crate) fn destroy<R: 'static, W: 'static>(c: &Rc<Core<R, W>>) -> Self {
        Done {
            stream: c.clone(),
            kind: DoneKind::Destroy,
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
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Error, Writable, WritableImpl, WritableOptions};
    ///
    /// /// Refuses chunks that start with '#'.
    /// struct NoComments;
    /// impl WritableImpl<Bytes> for NoComments {
    ///     fn write(&self, chunk: Bytes, done: Done) {
    ///         done.call(if chunk.starts_with(b"#") {
    ///             Err(Error::custom("ERR_COMMENT", "comments are not allowed"))
    ///         } else {
    ///             Ok(())
    ///         });
    ///     }
    /// }
    ///
    /// let w = Writable::new(WritableOptions::default(), NoComments);
    /// let code = Rc::new(RefCell::new(String::new()));
    /// let c = code.clone();
    /// w.on_error(move |e| *c.borrow_mut() = e.code().to_string());
    /// assert!(w.write(Bytes::from_static(b"data")));
    /// assert!(!w.destroyed());
    /// let _ = w.write(Bytes::from_static(b"# note"));
    /// highwater::run_until_idle();
    /// assert_eq!(*code.borrow(), "ERR_COMMENT");
    /// assert!(w.destroyed());
    /// ```
    #[inline]
    pub fn call(self, result: Result<(), Error>) {
        let err = result.err();
        match &self.kind {
            DoneKind::Write => self.stream.on_write(err),
            DoneKind::Final => self.stream.on_final(err),
            DoneKind::Destroy => self.stream.on_destroy(err),
            DoneKind::Construct => self.stream.on_construct(err),
        }
    }

    /// Reports success.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Writable, WritableImpl, WritableOptions};
    ///
    /// /// Holds each write's completion, to finish it later.
    /// #[derive(Clone, Default)]
    /// struct Held(Rc<RefCell<Vec<Done>>>);
    /// impl WritableImpl<Bytes> for Held {
    ///     fn write(&self, _c: Bytes, done: Done) { self.0.borrow_mut().push(done) }
    /// }
    ///
    /// let sink = Held::default();
    /// let w = Writable::new(WritableOptions::default(), sink.clone());
    /// assert!(w.write(Bytes::from_static(b"abc")));
    /// assert_eq!(w.writable_length(), 3); // in flight
    /// let done = sink.0.borrow_mut().pop().unwrap();
    /// done.ok();
    /// assert_eq!(w.writable_length(), 0);
    /// ```
    #[inline]
    pub fn ok(self) {
        let Done { stream, kind } = self;
        match kind {
            // The per-write case: no error to carry or drop.
            DoneKind::Write => stream.on_write_ok(),
            kind => Done { stream, kind }.ok_other(),
        }
    }

    /// [`ok`](Self::ok) of every completion but a write's.
    #[cold]
    #[inline(never)]
    fn ok_other(self) {
        self.call(Ok(()))
    }

    /// Reports failure.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Done, Error, Writable, WritableImpl, WritableOptions};
    ///
    /// struct Full;
    /// impl WritableImpl<Bytes> for Full {
    ///     fn write(&self, _c: Bytes, done: Done) {
    ///         done.err(Error::custom("ENOSPC", "no space left on device"))
    ///     }
    /// }
    ///
    /// let w = Writable::new(WritableOptions::default(), Full);
    /// let seen: Rc<RefCell<Option<Error>>> = Rc::default();
    /// let s = seen.clone();
    /// w.on_error(move |e| *s.borrow_mut() = Some(e.clone()));
    /// let _ = w.write(Bytes::from_static(b"x"));
    /// highwater::run_until_idle();
    /// let e = seen.borrow_mut().take().unwrap();
    /// assert_eq!(e.code(), "ENOSPC");
    /// assert!(w.errored().unwrap().same(&e)); // the very error the sink reported
    /// ```
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
            kind: self.kind,
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
            DoneKind::Destroy => "destroy",
            DoneKind::Construct => "construct",
        };
        write!(f, "Done({kind})")
    }
}
