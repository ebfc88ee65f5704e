//! Node's `eos` (`lib/internal/streams/end-of-stream.js`): the listeners
//! that tell when a stream is done. It sits in the stream layer because the
//! constructors' `signal` option needs it (Node's `addAbortSignal` removes
//! its listener with `eos`); [`finished`](fn@crate::finished) and the
//! pipeline in the ops layer are built on it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::runtime::event_loop::next_tick;
use crate::runtime::ListenerId;
use crate::state::{AbortListener, AbortSignal, Error, ErrorKind};

use super::core::Core;

type Cb = Box<dyn FnOnce(Option<Error>)>;

/// The `once`-wrapped callback, shared by the listeners.
#[derive(Clone)]
struct Once(Rc<RefCell<Option<Cb>>>);

impl Once {
    fn call(&self, err: Option<Error>) {
        let cb = self.0.borrow_mut().take();
        if let Some(cb) = cb {
            cb(err);
        }
    }
}

/// What [`finished_with`](crate::finished_with) returns (Node's `eos`
/// returns a cleanup function): [`run`](Cleanup::run) removes every listener
/// it added, on the stream and on the signal; its callback is then never
/// called. Dropping it does nothing (the wait goes on).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{FinishedOptions, Readable, ReadableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let cleanup = highwater::finished_with(&r, FinishedOptions::default(), |_| {
///     unreachable!("cleaned up before the stream ended")
/// });
/// cleanup.run();
/// cleanup.run(); // idempotent
/// r.resume();
/// r.push_eof();
/// highwater::run_until_idle();
/// assert!(r.readable_ended());
/// ```
#[derive(Clone)]
pub struct Cleanup(Rc<dyn Fn()>);

impl Cleanup {
    /// Removes the listeners now; calling it again does nothing.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{FinishedOptions, Writable, WritableEvent, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let before = w.listener_count(WritableEvent::Finish);
    /// let c = highwater::finished_with(&w, FinishedOptions::default(), |_| {});
    /// assert_eq!(w.listener_count(WritableEvent::Finish), before + 1);
    /// c.run();
    /// assert_eq!(w.listener_count(WritableEvent::Finish), before);
    /// ```
    pub fn run(&self) {
        (self.0)()
    }
}

impl fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cleanup")
    }
}

/// The options of [`finished_with`](crate::finished_with) and
/// [`finished_async_with`](crate::finished_async_with) (Node's
/// `finished(stream, options, cb)`): which sides to wait for, whether an
/// `'error'` ends the wait, a signal that ends it with an `AbortError`, and
/// (async form) whether to remove the listeners once settled.
///
/// # Examples
///
/// ```
/// use highwater::{AbortController, FinishedOptions};
///
/// let ac = AbortController::new();
/// let o = FinishedOptions::default().readable(false).error(false).signal(ac.signal());
/// assert!(format!("{o:?}").contains("readable: Some(false)"));
/// ```
#[derive(Clone, Debug)]
pub struct FinishedOptions {
    readable: Option<bool>,
    writable: Option<bool>,
    error: bool,
    signal: Option<AbortSignal>,
    cleanup: bool,
}

impl Default for FinishedOptions {
    fn default() -> Self {
        FinishedOptions {
            readable: None,
            writable: None,
            error: true,
            signal: None,
            cleanup: false,
        }
    }
}

impl FinishedOptions {
    /// Node's `readable`: wait for the readable side to end (default: when
    /// the stream has one); `false` ignores it.
    ///
    /// ```
    /// use highwater::FinishedOptions;
    ///
    /// let o = FinishedOptions::default().readable(false);
    /// assert!(format!("{o:?}").contains("readable: Some(false)"));
    /// ```
    #[must_use]
    pub fn readable(mut self, on: bool) -> Self {
        self.readable = Some(on);
        self
    }

    /// Node's `writable`: wait for the writable side to finish (default:
    /// when the stream has one); `false` ignores it.
    ///
    /// ```
    /// use highwater::FinishedOptions;
    ///
    /// let o = FinishedOptions::default().writable(false);
    /// assert!(format!("{o:?}").contains("writable: Some(false)"));
    /// ```
    #[must_use]
    pub fn writable(mut self, on: bool) -> Self {
        self.writable = Some(on);
        self
    }

    /// Node's `error`: `false` means an `'error'` does not end the wait
    /// (the `'close'` after it still does, with the error). Default `true`.
    ///
    /// ```
    /// use highwater::FinishedOptions;
    ///
    /// let o = FinishedOptions::default().error(false);
    /// assert!(format!("{o:?}").contains("error: false"));
    /// ```
    #[must_use]
    pub fn error(mut self, on: bool) -> Self {
        self.error = on;
        self
    }

    /// Node's `signal`: aborting it ends the wait at once with an
    /// `AbortError` (cause: the reason) and removes the listeners; a signal
    /// already aborted does so on the next tick. The stream is left alone.
    ///
    /// ```
    /// use highwater::{AbortController, FinishedOptions};
    ///
    /// let ac = AbortController::new();
    /// let o = FinishedOptions::default().signal(ac.signal());
    /// assert!(format!("{o:?}").contains("AbortSignal"));
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(signal);
        self
    }

    /// Node's `cleanup` (of `stream/promises.finished`): remove the
    /// listeners once the future settles. Default `false`; only
    /// [`finished_async_with`](crate::finished_async_with) reads it.
    ///
    /// ```
    /// use highwater::FinishedOptions;
    ///
    /// let o = FinishedOptions::default().cleanup(true);
    /// assert!(format!("{o:?}").contains("cleanup: true"));
    /// ```
    #[must_use]
    pub fn cleanup(mut self, on: bool) -> Self {
        self.cleanup = on;
        self
    }

    pub(crate) fn wants_cleanup(&self) -> bool {
        self.cleanup
    }
}

fn premature() -> Error {
    Error::new(ErrorKind::PrematureClose)
}

/// `eos(stream, { readable, writable }, callback)`; `None` options take the
/// stream's own sides, as in Node.
pub(crate) fn eos<R: 'static, W: 'static>(
    c: &Rc<Core<R, W>>,
    readable: Option<bool>,
    writable: Option<bool>,
    callback: impl FnOnce(Option<Error>) + 'static,
) -> Cleanup {
    eos_with(
        c,
        &FinishedOptions {
            readable,
            writable,
            ..FinishedOptions::default()
        },
        callback,
    )
}

/// `eos(stream, options, callback)` with all of Node's options: `readable`,
/// `writable` (`None`: the stream's own sides), `error` (false: an
/// `'error'` does not end the wait) and `signal` (an abort calls back with
/// an `AbortError` whose cause is the reason, after removing the listeners).
pub(crate) fn eos_with<R: 'static, W: 'static>(
    c: &Rc<Core<R, W>>,
    options: &FinishedOptions,
    callback: impl FnOnce(Option<Error>) + 'static,
) -> Cleanup {
    // Node wraps the callback so that calling it takes the abort listener
    // off the signal.
    let abort_listener: Rc<Cell<Option<AbortListener>>> = Rc::new(Cell::new(None));
    let callback = {
        let (al, signal) = (abort_listener.clone(), options.signal.clone());
        move |e: Option<Error>| {
            if let (Some(l), Some(s)) = (al.take(), signal.as_ref()) {
                s.remove(l);
            }
            callback(e)
        }
    };
    let cb = Once(Rc::new(RefCell::new(Some(Box::new(callback) as Cb))));
    let FinishedOptions {
        readable, writable, ..
    } = *options;
    let readable = readable.unwrap_or_else(|| c.is_readable_node_stream());
    let writable = writable.unwrap_or_else(|| c.is_writable_node_stream());

    let will_emit_close = Rc::new(Cell::new(
        c.will_emit_close()
            && c.is_readable_node_stream() == readable
            && c.is_writable_node_stream() == writable,
    ));
    let writable_finished = Rc::new(Cell::new(c.is_writable_finished(false) == Some(true)));
    let readable_finished = Rc::new(Cell::new(c.is_readable_finished(false) == Some(true)));

    let onfinish = {
        let (c, cb, wec, wf, rf) = (
            Rc::downgrade(c),
            cb.clone(),
            will_emit_close.clone(),
            writable_finished.clone(),
            readable_finished.clone(),
        );
        move || {
            let Some(c) = c.upgrade() else { return };
            wf.set(true);
            if c.is_destroyed() {
                wec.set(false);
            }
            let stream_readable = c.r.is_some() && c.is_readable() == Some(true);
            if wec.get() && (!stream_readable || readable) {
                return;
            }
            if !readable || rf.get() {
                cb.call(None);
            }
        }
    };
    let onend = {
        let (c, cb, wec, wf, rf) = (
            Rc::downgrade(c),
            cb.clone(),
            will_emit_close.clone(),
            writable_finished.clone(),
            readable_finished.clone(),
        );
        move || {
            let Some(c) = c.upgrade() else { return };
            rf.set(true);
            if c.is_destroyed() {
                wec.set(false);
            }
            let stream_writable = c.w.is_some() && c.is_writable() == Some(true);
            if wec.get() && (!stream_writable || writable) {
                return;
            }
            if !writable || wf.get() {
                cb.call(None);
            }
        }
    };
    let onerror = {
        let cb = cb.clone();
        move |e: &Error| cb.call(Some(e.clone()))
    };
    let onclose = {
        let (c, cb, wf, rf) = (
            Rc::downgrade(c),
            cb.clone(),
            writable_finished.clone(),
            readable_finished.clone(),
        );
        move || {
            let Some(c) = c.upgrade() else { return };
            if let Some(e) = c.errored() {
                return cb.call(Some(e));
            }
            if readable
                && !rf.get()
                && c.is_readable_node_stream()
                && c.is_readable_finished(false) != Some(true)
            {
                return cb.call(Some(premature()));
            }
            if writable && !wf.get() && c.is_writable_finished(false) != Some(true) {
                return cb.call(Some(premature()));
            }
            cb.call(None);
        }
    };
    let onclosed = {
        let (c, cb) = (Rc::downgrade(c), cb.clone());
        move || {
            let Some(c) = c.upgrade() else { return };
            match c.errored() {
                Some(e) => cb.call(Some(e)),
                None => cb.call(None),
            }
        }
    };

    let mut ids: Vec<ListenerId> = vec![
        c.events.end.add(Rc::new(move |_| onend()), false, false),
        c.events
            .finish
            .add(Rc::new(move |_| onfinish()), false, false),
    ];
    if options.error {
        ids.push(c.events.error.add(Rc::new(onerror), false, false));
    }
    let onclose = Rc::new(onclose);
    let oc = onclose.clone();
    let close_id = c.events.close.add(Rc::new(move |_| oc()), false, false);

    let closed = c.is_closed();
    if closed {
        // The queued tick keeps the stream alive, as Node's closure does: a
        // caller may drop its last handle right after calling `finished`.
        let keep = c.clone();
        next_tick(move || {
            onclose();
            drop(keep);
        });
    } else if c.error_emitted_any() {
        if !will_emit_close.get() {
            let keep = c.clone();
            next_tick(move || {
                onclosed();
                drop(keep);
            });
        }
    } else {
        // Already done on the side(s) watched: report on the next tick.
        let writable_done = !readable
            && (!will_emit_close.get() || c.is_readable() == Some(true))
            && (writable_finished.get() || c.is_writable() == Some(false))
            && c.w.as_ref().is_none_or(|w| w.state.borrow().pendingcb == 0);
        let readable_done = !writable
            && (!will_emit_close.get() || c.is_writable() == Some(true))
            && (readable_finished.get() || c.is_readable() == Some(false));
        if writable_done || readable_done {
            let keep = c.clone();
            next_tick(move || {
                onclosed();
                drop(keep);
            });
        }
    }

    // Node's `cleanup`: takes the stream listeners off (the callback is
    // then never called).
    let remove_listeners: Rc<dyn Fn()> = {
        let weak = Rc::downgrade(c);
        Rc::new(move || {
            if let Some(c) = weak.upgrade() {
                for id in &ids {
                    c.remove_listener(*id);
                }
                c.events.close.remove(close_id);
            }
        })
    };

    if let (Some(signal), false) = (&options.signal, closed) {
        let abort = {
            let (cb, remove, signal) = (cb.clone(), remove_listeners.clone(), signal.clone());
            move || {
                // Keep the callback: the cleanup drops it.
                let end_callback = cb.0.borrow_mut().take();
                remove();
                if let Some(f) = end_callback {
                    f(Some(Error::aborted(signal.reason())));
                }
            }
        };
        if signal.aborted() {
            next_tick(abort);
        } else {
            abort_listener.set(Some(signal.on_abort(move |_| abort())));
        }
    }

    let cb2 = cb.clone();
    let signal = options.signal.clone();
    Cleanup(Rc::new(move || {
        cb2.0.borrow_mut().take();
        remove_listeners();
        // Node leaves the abort listener on the signal (calling nothing);
        // taking it off is the same but for `listener_count`.
        if let (Some(l), Some(s)) = (abort_listener.take(), signal.as_ref()) {
            s.remove(l);
        }
    }))
}
