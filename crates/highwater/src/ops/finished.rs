//! `finished(stream, cb)`: Node's `lib/internal/streams/end-of-stream.js`.
//!
//! Calls back once when a stream is done: its readable side ended and/or its
//! writable side finished (waiting for `'close'` when the stream will emit
//! one), or it failed (`'error'`), or it closed before that
//! (`ERR_STREAM_PREMATURE_CLOSE`). A stream already done is reported on the
//! next tick. The same machinery decides when a [`Pipeline`](crate::Pipeline)
//! is over.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use crate::runtime::event_loop::next_tick;
use crate::runtime::ListenerId;
use crate::state::{Error, ErrorKind};
use crate::stream::core::Core;
use crate::stream::StreamBase;

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

/// Removes the listeners `finished` added; the callback is then never called.
pub(crate) struct Cleanup(Box<dyn Fn()>);

impl Cleanup {
    pub(crate) fn run(&self) {
        (self.0)()
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
    let cb = Once(Rc::new(RefCell::new(Some(Box::new(callback) as Cb))));
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

    let ids: Vec<ListenerId> = vec![
        c.events.end.add(Rc::new(move |_| onend()), false, false),
        c.events
            .finish
            .add(Rc::new(move |_| onfinish()), false, false),
        c.events.error.add(Rc::new(onerror), false, false),
    ];
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

    let weak = Rc::downgrade(c);
    let cb2 = cb.clone();
    Cleanup(Box::new(move || {
        cb2.0.borrow_mut().take();
        if let Some(c) = weak.upgrade() {
            for id in &ids {
                c.remove_listener(*id);
            }
            c.events.close.remove(close_id);
        }
    }))
}

/// Calls `cb` once the stream is done: `Ok(())` when it ended and/or
/// finished, the error when it failed, `ERR_STREAM_PREMATURE_CLOSE` when it
/// closed first (Node's `stream.finished(stream, cb)`).
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let out = Rc::new(RefCell::new(None));
/// let o = out.clone();
/// highwater::finished(&w, move |r| *o.borrow_mut() = Some(r.is_ok()));
/// w.end();
/// highwater::run_until_idle();
/// assert_eq!(*out.borrow(), Some(true));
/// ```
pub fn finished(stream: &impl StreamBase, cb: impl FnOnce(Result<(), Error>) + 'static) {
    let _cleanup = eos(
        stream.core(),
        None,
        None,
        move |e| cb(e.map_or(Ok(()), Err)),
    );
}

/// The awaitable [`finished`] (Node's `stream/promises.finished`).
///
/// # Errors
///
/// The stream's error, or `ERR_STREAM_PREMATURE_CLOSE`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = Readable::<Bytes>::pushed(ReadableOptions::default());
///     r.resume();
///     r.push_eof();
///     highwater::finished_async(&r).await
/// })
/// .unwrap();
/// ```
pub fn finished_async(
    stream: &impl StreamBase,
) -> impl Future<Output = Result<(), Error>> + 'static {
    let (tx, rx) = futures::channel::oneshot::channel();
    finished(stream, move |r| {
        let _ = tx.send(r);
    });
    callback_result(rx)
}

/// Awaits the result a callback sends; a callback dropped unsent (its stream
/// gone) reads as a premature close.
pub(crate) async fn callback_result(
    rx: futures::channel::oneshot::Receiver<Result<(), Error>>,
) -> Result<(), Error> {
    rx.await.unwrap_or_else(|_| Err(premature()))
}
