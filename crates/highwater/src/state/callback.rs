//! User callbacks of `write()` and `end()`.
//!
//! Node calls a write callback once with `null` or an error. It also
//! coalesces the deferred callbacks of consecutive synchronous completions
//! when they are *the same function* (one next-tick job calls it N times),
//! which is observable in the order of ticks. A [`Callback`] is either a
//! one-shot closure, or a [`SharedCallback`]: a reference-counted function
//! whose identity is its allocation, so passing clones of one
//! `SharedCallback` to several writes coalesces exactly as passing one
//! JavaScript function does.

use std::fmt;
use std::rc::Rc;

use super::Error;

type OnceFn = Box<dyn FnOnce(Result<(), Error>)>;
type SharedFn = Rc<dyn Fn(Result<(), Error>)>;

/// A callback for `write` or `end`: called once with the outcome.
///
/// Any `FnOnce(Result<(), Error>)` closure converts into one.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{Callback, Writable, WritableOptions};
/// use bytes::Bytes;
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let ok = w.write_cb(Bytes::from_static(b"x"), |r: Result<(), highwater::Error>| {
///     assert!(r.is_ok())
/// });
/// assert!(ok);
/// highwater::run_until_idle(); // a synchronous sink's callbacks run on the next tick
/// ```
pub struct Callback(pub(crate) Cb);

impl Callback {
    /// A one-shot callback.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Callback, Error, Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// w.destroy(None);
    /// let got: Rc<RefCell<Option<Result<(), Error>>>> = Rc::default();
    /// let g = got.clone();
    /// let cb = Callback::once(move |r| *g.borrow_mut() = Some(r));
    /// assert!(!w.write_cb(Bytes::from_static(b"x"), cb));
    /// assert!(got.borrow().is_none()); // called on the next tick
    /// highwater::run_until_idle();
    /// let r = got.borrow_mut().take().unwrap();
    /// assert_eq!(r.unwrap_err().code(), "ERR_STREAM_DESTROYED");
    /// ```
    pub fn once(f: impl FnOnce(Result<(), Error>) + 'static) -> Self {
        Callback(Cb::Once(Box::new(f)))
    }
}

impl<F: FnOnce(Result<(), Error>) + 'static> From<F> for Callback {
    fn from(f: F) -> Self {
        Callback::once(f)
    }
}

impl From<SharedCallback> for Callback {
    fn from(f: SharedCallback) -> Self {
        Callback(Cb::Shared(f.0))
    }
}

impl From<&SharedCallback> for Callback {
    fn from(f: &SharedCallback) -> Self {
        Callback(Cb::Shared(f.0.clone()))
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback")
    }
}

/// A callback that may be passed to many calls and is called once per call.
/// Clones share one identity, like one JavaScript function.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use highwater::prelude::*;
/// use highwater::{SharedCallback, Writable, WritableOptions};
/// use bytes::Bytes;
///
/// let calls = Rc::new(Cell::new(0));
/// let c = calls.clone();
/// let cb = SharedCallback::new(move |_r| c.set(c.get() + 1));
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let _ = w.write_cb(Bytes::from_static(b"a"), &cb);
/// let _ = w.write_cb(Bytes::from_static(b"b"), &cb);
/// highwater::run_until_idle();
/// assert_eq!(calls.get(), 2);
/// ```
#[derive(Clone)]
pub struct SharedCallback(SharedFn);

impl SharedCallback {
    /// Wraps a function called once per call it is passed to.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{SharedCallback, Writable, WritableOptions};
    ///
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let l = log.clone();
    /// let cb = SharedCallback::new(move |r| l.borrow_mut().push(r.is_ok()));
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let _ = w.write_cb(Bytes::from_static(b"a"), &cb);
    /// let _ = w.write_cb(Bytes::from_static(b"b"), &cb);
    /// w.end_with(None, Some(cb.into())); // the same function for end()
    /// highwater::run_until_idle();
    /// assert_eq!(*log.borrow(), [true, true, true]);
    /// ```
    pub fn new(f: impl Fn(Result<(), Error>) + 'static) -> Self {
        SharedCallback(Rc::new(f))
    }
}

impl fmt::Debug for SharedCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedCallback")
    }
}

/// The stream's view of a callback: `Nop` is Node's `nop` (no callback given).
pub(crate) enum Cb {
    Nop,
    Once(OnceFn),
    Shared(SharedFn),
    /// The callbacks of a `_writev` batch, called in order.
    Batch(Vec<Cb>),
}

impl Cb {
    pub(crate) fn from_opt(cb: Option<Callback>) -> Cb {
        cb.map_or(Cb::Nop, |c| c.0)
    }

    #[inline]
    pub(crate) fn is_nop(&self) -> bool {
        matches!(self, Cb::Nop)
    }

    /// Node's `a === b` on callback functions.
    pub(crate) fn same(&self, other: &Cb) -> bool {
        match (self, other) {
            (Cb::Nop, Cb::Nop) => true,
            (Cb::Shared(a), Cb::Shared(b)) => std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b)),
            _ => false,
        }
    }

    /// Calls the callback. A one-shot callback is consumed by the first call;
    /// a shared one may be called again (coalesced completions).
    pub(crate) fn call(&mut self, r: Result<(), Error>) {
        match self {
            Cb::Nop => {}
            Cb::Once(_) => {
                if let Cb::Once(f) = std::mem::replace(self, Cb::Nop) {
                    f(r)
                }
            }
            Cb::Shared(f) => f(r),
            Cb::Batch(list) => {
                for mut cb in std::mem::take(list) {
                    cb.call(r.clone());
                }
            }
        }
    }
}
