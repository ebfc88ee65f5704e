//! `finished(stream, cb)`: Node's `lib/internal/streams/end-of-stream.js`.
//!
//! Calls back once when a stream is done: its readable side ended and/or its
//! writable side finished (waiting for `'close'` when the stream will emit
//! one), or it failed (`'error'`), or it closed before that
//! (`ERR_STREAM_PREMATURE_CLOSE`). A stream already done is reported on the
//! next tick. The same machinery decides when a [`Pipeline`](crate::Pipeline)
//! is over. [`finished_with`] takes Node's options (`readable`, `writable`,
//! `error`, `signal`) and returns the cleanup handle; the listeners
//! themselves (Node's `eos`) live in the stream layer, which needs them for
//! the constructors' `signal` option.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::state::{Error, ErrorKind};
use crate::stream::StreamBase;

use crate::stream::eos::FinishedOptions;
pub(crate) use crate::stream::eos::{eos, eos_with, Cleanup};

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

/// [`finished`] with Node's options (`finished(stream, options, cb)`), and
/// the [`Cleanup`] handle Node's `eos` returns: running it removes every
/// listener `finished_with` added (on the stream and on the signal), and
/// `cb` is then never called.
///
/// - `readable(false)` / `writable(false)`: do not wait for that side;
/// - `error(false)`: an `'error'` does not end the wait (the `'close'` after
///   it does, with the error);
/// - `signal(s)`: aborting `s` calls `cb` at once with an `AbortError`
///   (cause: the reason) and removes the listeners; the stream is left alone.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{AbortController, FinishedOptions, Readable, ReadableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let ac = AbortController::new();
/// let out = Rc::new(RefCell::new(None));
/// let o = out.clone();
/// let _cleanup = highwater::finished_with(
///     &r,
///     FinishedOptions::default().signal(ac.signal()),
///     move |res| *o.borrow_mut() = Some(res.unwrap_err().code().to_owned()),
/// );
/// ac.abort();
/// assert_eq!(out.borrow().as_deref(), Some("ABORT_ERR"));
/// assert!(!r.destroyed()); // the stream itself is untouched
/// ```
pub fn finished_with(
    stream: &impl StreamBase,
    options: FinishedOptions,
    cb: impl FnOnce(Result<(), Error>) + 'static,
) -> Cleanup {
    eos_with(stream.core(), &options, move |e| cb(e.map_or(Ok(()), Err)))
}

/// The awaitable [`finished_with`] (Node's `stream/promises.finished(stream,
/// options)`): an aborted signal makes it fail with an `AbortError`;
/// `cleanup(true)` removes the listeners once it settles. Dropping the
/// future removes them too (Rust's way to stop waiting).
///
/// # Errors
///
/// The stream's error, `ERR_STREAM_PREMATURE_CLOSE`, or `ABORT_ERR` when the
/// signal aborts first.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{AbortSignal, FinishedOptions, Readable, ReadableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let opts = FinishedOptions::default().signal(AbortSignal::abort(None));
/// let err = highwater::block_on(highwater::finished_async_with(&r, opts)).unwrap_err();
/// assert_eq!(err.code(), "ABORT_ERR");
/// ```
pub fn finished_async_with(
    stream: &impl StreamBase,
    options: FinishedOptions,
) -> impl Future<Output = Result<(), Error>> + 'static {
    let (tx, rx) = futures::channel::oneshot::channel();
    let auto = options.wants_cleanup();
    let slot: Rc<RefCell<Option<Cleanup>>> = Rc::new(RefCell::new(None));
    let s2 = slot.clone();
    let cleanup = finished_with(stream, options, move |r| {
        if auto {
            if let Some(c) = s2.borrow_mut().take() {
                c.run();
            }
        }
        let _ = tx.send(r);
    });
    *slot.borrow_mut() = Some(cleanup.clone());
    CleanupOnDrop {
        inner: Box::pin(callback_result(rx)),
        cleanup: Some(cleanup),
    }
}

/// A future that runs its [`Cleanup`] when dropped before it is done.
struct CleanupOnDrop<F> {
    inner: Pin<Box<F>>,
    cleanup: Option<Cleanup>,
}

impl<F: Future> Future for CleanupOnDrop<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_ready() {
            self.cleanup = None;
        }
        out
    }
}

impl<F> Drop for CleanupOnDrop<F> {
    fn drop(&mut self) {
        if let Some(c) = self.cleanup.take() {
            c.run();
        }
    }
}

/// Awaits the result a callback sends; a callback dropped unsent (its stream
/// gone) reads as a premature close.
pub(crate) async fn callback_result(
    rx: futures::channel::oneshot::Receiver<Result<(), Error>>,
) -> Result<(), Error> {
    rx.await
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::PrematureClose)))
}
