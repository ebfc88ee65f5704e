//! [`Done`]: the callback every hook of every stream completes with.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use crate::runtime::event_loop::next_tick;
use crate::state::Error;

use super::core::Core;

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
        super::writable::machine::on_write(&self, err)
    }
    fn on_final(self: Rc<Self>, err: Option<Error>) {
        super::writable::machine::on_final(&self, err)
    }
    fn on_destroy(self: Rc<Self>, err: Option<Error>) {
        super::core::on_destroy(&self, err)
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
