//! `AbortController` and `AbortSignal`: cancellation as Node (and the web
//! platform) does it.
//!
//! A controller owns one signal; `abort()` marks the signal aborted with a
//! reason and calls its listeners synchronously, in the order they were
//! added, each once. Streams, `pipeline`, `finished` and the operators take a
//! signal and turn an abort into Node's `AbortError` (code `ABORT_ERR`) whose
//! [`cause`](crate::Error::cause) is the signal's reason.
//!
//! The signal is a single-threaded handle (`Rc`), as the streams are; its
//! [`cancelled`](AbortSignal::cancelled) future is how async code waits for
//! it, and dropping a future is the other Rust way to cancel (the pipeline's
//! future destroys its streams when dropped).
//!
//! Node's default reason is a `DOMException` named `AbortError`; here it is
//! [`Error::aborted(None)`](crate::Error::aborted), whose code is `ABORT_ERR`.
//!
//! # Examples
//!
//! ```
//! use std::{cell::Cell, rc::Rc};
//! use highwater::{AbortController, Error};
//!
//! let ac = AbortController::new();
//! let signal = ac.signal();
//! let calls = Rc::new(Cell::new(0));
//! let c = calls.clone();
//! signal.on_abort(move |reason| {
//!     assert_eq!(reason.code(), "ETIMEDOUT");
//!     c.set(c.get() + 1);
//! });
//! ac.abort_with(Error::custom("ETIMEDOUT", "too slow"));
//! ac.abort(); // a second abort changes nothing
//! assert!(signal.aborted());
//! assert_eq!(calls.get(), 1);
//! assert_eq!(signal.reason().map(|r| r.code().to_owned()).as_deref(), Some("ETIMEDOUT"));
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::Error;

type Listener = Box<dyn FnOnce(&Error)>;

#[derive(Default)]
struct Inner {
    reason: RefCell<Option<Error>>,
    listeners: RefCell<Vec<(u64, Listener)>>,
    next: Cell<u64>,
    wakers: RefCell<Vec<Waker>>,
}

/// Node's `AbortController`: makes one [`AbortSignal`] and aborts it.
///
/// # Examples
///
/// ```
/// use highwater::AbortController;
///
/// let ac = AbortController::new();
/// let s = ac.signal();
/// assert!(!s.aborted());
/// ac.abort();
/// assert!(s.aborted());
/// assert_eq!(s.reason().unwrap().code(), "ABORT_ERR");
/// ```
#[derive(Clone, Default)]
pub struct AbortController {
    signal: AbortSignal,
}

/// Node's `AbortSignal`: tells whether, and why, an operation was aborted,
/// and calls its listeners when it is. Cheap to clone; every clone is the
/// same signal.
///
/// # Examples
///
/// ```
/// use highwater::{AbortController, AbortSignal};
///
/// let ac = AbortController::new();
/// let a = ac.signal();
/// let b = a.clone();
/// ac.abort();
/// assert!(a.aborted() && b.aborted());
/// assert!(AbortSignal::abort(None).aborted()); // born aborted
/// ```
#[derive(Clone, Default)]
pub struct AbortSignal {
    inner: Rc<Inner>,
}

/// A listener added by [`AbortSignal::on_abort`], to take it off again
/// with [`AbortSignal::remove`].
///
/// # Examples
///
/// ```
/// use highwater::AbortController;
///
/// let ac = AbortController::new();
/// let l = ac.signal().on_abort(|_| unreachable!("removed before the abort"));
/// ac.signal().remove(l);
/// ac.abort();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortListener(u64);

impl AbortController {
    /// A controller with a fresh, unaborted signal (`new AbortController()`).
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// assert!(!AbortController::new().signal().aborted());
    /// ```
    pub fn new() -> Self {
        AbortController::default()
    }

    /// The controller's signal (`ac.signal`).
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// assert!(ac.signal().same(&ac.signal()));
    /// ```
    pub fn signal(&self) -> AbortSignal {
        self.signal.clone()
    }

    /// Aborts with Node's default reason, an `AbortError` (`ac.abort()`).
    /// Does nothing when the signal is already aborted.
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// ac.abort();
    /// assert_eq!(ac.signal().reason().unwrap().code(), "ABORT_ERR");
    /// ```
    pub fn abort(&self) {
        self.abort_with(Error::aborted(None));
    }

    /// Aborts with `reason` (`ac.abort(reason)`): the signal's listeners run
    /// now, in the order they were added. Does nothing when the signal is
    /// already aborted (the first reason stays).
    ///
    /// ```
    /// use highwater::{AbortController, Error};
    ///
    /// let ac = AbortController::new();
    /// ac.abort_with(Error::msg("first"));
    /// ac.abort_with(Error::msg("second"));
    /// assert_eq!(ac.signal().reason().unwrap().to_string(), "first");
    /// ```
    pub fn abort_with(&self, reason: Error) {
        self.signal.abort_with(reason);
    }
}

impl AbortSignal {
    /// A signal that is already aborted (`AbortSignal.abort(reason)`), with
    /// `reason` or the default `AbortError`.
    ///
    /// ```
    /// use highwater::{AbortSignal, Error};
    ///
    /// let s = AbortSignal::abort(Some(Error::msg("no")));
    /// assert!(s.aborted());
    /// assert_eq!(s.reason().unwrap().to_string(), "no");
    /// ```
    pub fn abort(reason: Option<Error>) -> AbortSignal {
        let s = AbortSignal::default();
        s.abort_with(reason.unwrap_or_else(|| Error::aborted(None)));
        s
    }

    /// A signal that aborts when the first of `signals` does, with its
    /// reason (`AbortSignal.any(signals)`); aborted at once if one already is.
    ///
    /// ```
    /// use highwater::{AbortController, AbortSignal, Error};
    ///
    /// let (a, b) = (AbortController::new(), AbortController::new());
    /// let any = AbortSignal::any(&[a.signal(), b.signal()]);
    /// b.abort_with(Error::msg("b went first"));
    /// a.abort();
    /// assert_eq!(any.reason().unwrap().to_string(), "b went first");
    /// ```
    pub fn any(signals: &[AbortSignal]) -> AbortSignal {
        let out = AbortSignal::default();
        if let Some(r) = signals.iter().find_map(AbortSignal::reason) {
            out.abort_with(r);
            return out;
        }
        for s in signals {
            let o = out.clone();
            s.on_abort(move |r| o.abort_with(r.clone()));
        }
        out
    }

    /// True once aborted (`signal.aborted`).
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// assert!(!ac.signal().aborted());
    /// ac.abort();
    /// assert!(ac.signal().aborted());
    /// ```
    pub fn aborted(&self) -> bool {
        self.inner.reason.borrow().is_some()
    }

    /// Why it was aborted (`signal.reason`); `None` while it is not.
    ///
    /// ```
    /// use highwater::{AbortController, Error};
    ///
    /// let ac = AbortController::new();
    /// assert!(ac.signal().reason().is_none());
    /// ac.abort_with(Error::custom("E_STOP", "stop"));
    /// assert_eq!(ac.signal().reason().unwrap().code(), "E_STOP");
    /// ```
    pub fn reason(&self) -> Option<Error> {
        self.inner.reason.borrow().clone()
    }

    /// `Err(reason)` once aborted (`signal.throwIfAborted()`).
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// assert!(ac.signal().throw_if_aborted().is_ok());
    /// ac.abort();
    /// assert_eq!(ac.signal().throw_if_aborted().unwrap_err().code(), "ABORT_ERR");
    /// ```
    pub fn throw_if_aborted(&self) -> Result<(), Error> {
        match self.reason() {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    /// Calls `f` with the reason when the signal aborts
    /// (`signal.addEventListener('abort', f, { once: true })`). A signal
    /// already aborted never calls it, as in Node: check
    /// [`aborted`](AbortSignal::aborted) first.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// let order = Rc::new(RefCell::new(Vec::new()));
    /// for n in 1..=2 {
    ///     let o = order.clone();
    ///     ac.signal().on_abort(move |_| o.borrow_mut().push(n));
    /// }
    /// ac.abort();
    /// assert_eq!(*order.borrow(), [1, 2]);
    /// ```
    pub fn on_abort(&self, f: impl FnOnce(&Error) + 'static) -> AbortListener {
        let id = self.inner.next.get();
        self.inner.next.set(id + 1);
        if !self.aborted() {
            self.inner.listeners.borrow_mut().push((id, Box::new(f)));
        }
        AbortListener(id)
    }

    /// Takes a listener off (`removeEventListener`); nothing happens if it
    /// already ran or was removed.
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// let s = ac.signal();
    /// let l = s.on_abort(|_| {});
    /// assert_eq!(s.listener_count(), 1);
    /// s.remove(l);
    /// s.remove(l);
    /// assert_eq!(s.listener_count(), 0);
    /// ```
    pub fn remove(&self, listener: AbortListener) {
        self.inner
            .listeners
            .borrow_mut()
            .retain(|(id, _)| *id != listener.0);
    }

    /// How many abort listeners are waiting (`listenerCount('abort')`): how
    /// a test checks that a stream or `pipeline` took its listener off.
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// ac.signal().on_abort(|_| {});
    /// assert_eq!(ac.signal().listener_count(), 1);
    /// ac.abort();
    /// assert_eq!(ac.signal().listener_count(), 0);
    /// ```
    pub fn listener_count(&self) -> usize {
        self.inner.listeners.borrow().len()
    }

    /// True when `self` and `other` are the same signal.
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let (a, b) = (AbortController::new(), AbortController::new());
    /// assert!(a.signal().same(&a.signal()));
    /// assert!(!a.signal().same(&b.signal()));
    /// ```
    pub fn same(&self, other: &AbortSignal) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// A future that resolves to the reason once the signal aborts (at once
    /// if it already has): how async code races work against a signal.
    ///
    /// ```
    /// use highwater::AbortController;
    ///
    /// let ac = AbortController::new();
    /// let s = ac.signal();
    /// let reason = highwater::block_on(async move {
    ///     let wait = s.cancelled();
    ///     ac.abort();
    ///     wait.await
    /// });
    /// assert_eq!(reason.code(), "ABORT_ERR");
    /// ```
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            signal: self.clone(),
        }
    }

    fn abort_with(&self, reason: Error) {
        if self.aborted() {
            return;
        }
        *self.inner.reason.borrow_mut() = Some(reason.clone());
        let listeners = std::mem::take(&mut *self.inner.listeners.borrow_mut());
        for (_, f) in listeners {
            f(&reason);
        }
        for w in std::mem::take(&mut *self.inner.wakers.borrow_mut()) {
            w.wake();
        }
    }
}

/// The future of [`AbortSignal::cancelled`]: the reason, once aborted.
///
/// # Examples
///
/// ```
/// use highwater::AbortSignal;
///
/// let r = highwater::block_on(AbortSignal::abort(None).cancelled());
/// assert_eq!(r.code(), "ABORT_ERR");
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Cancelled {
    signal: AbortSignal,
}

impl Future for Cancelled {
    type Output = Error;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Error> {
        match self.signal.reason() {
            Some(r) => Poll::Ready(r),
            None => {
                let mut wakers = self.signal.inner.wakers.borrow_mut();
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl fmt::Debug for AbortSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortSignal")
            .field("aborted", &self.aborted())
            .field("listeners", &self.listener_count())
            .finish()
    }
}

impl fmt::Debug for AbortController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortController")
            .field("signal", &self.signal)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_added_during_the_abort_do_not_run_and_removal_inside_is_harmless() {
        let ac = AbortController::new();
        let s = ac.signal();
        let ran = Rc::new(Cell::new(0));
        let (s2, r2) = (s.clone(), ran.clone());
        s.on_abort(move |_| {
            r2.set(r2.get() + 1);
            let r3 = r2.clone();
            s2.on_abort(move |_| r3.set(r3.get() + 100));
            s2.remove(AbortListener(1));
        });
        let r4 = ran.clone();
        s.on_abort(move |_| r4.set(r4.get() + 10));
        ac.abort();
        assert_eq!(ran.get(), 11);
        assert_eq!(s.listener_count(), 0);
    }

    #[test]
    fn a_listener_that_aborts_again_changes_nothing() {
        let ac = AbortController::new();
        let ac2 = ac.clone();
        ac.signal()
            .on_abort(move |_| ac2.abort_with(Error::msg("inner")));
        ac.abort_with(Error::msg("outer"));
        assert_eq!(ac.signal().reason().unwrap().to_string(), "outer");
    }

    #[test]
    fn any_of_none_never_aborts_and_any_of_an_aborted_one_is_aborted() {
        assert!(!AbortSignal::any(&[]).aborted());
        let a = AbortSignal::abort(Some(Error::msg("x")));
        let any = AbortSignal::any(&[AbortController::new().signal(), a]);
        assert_eq!(any.reason().unwrap().to_string(), "x");
    }
}
