//! Node's `addAbortSignal` (`lib/internal/streams/add-abort-signal.js`):
//! an aborted signal destroys the stream with an `AbortError` whose cause is
//! the signal's reason. The stream constructors apply their options'
//! `signal` with it.

use std::rc::Rc;

use crate::state::{AbortSignal, Error};

use super::core::{self as core_, Core};
use super::eos::eos;
use super::StreamBase;

/// Destroys `stream` with an `AbortError` (code `ABORT_ERR`, cause: the
/// signal's reason) when `signal` aborts, at once if it already has; returns
/// the stream (Node's `stream.addAbortSignal(signal, stream)`). The listener
/// comes off the signal once the stream is done (ended, finished, failed or
/// closed: Node's `eos`), so a later abort leaves a finished stream alone.
///
/// The options' `signal` setters (`ReadableOptions::signal`…) do the same
/// when the stream is made.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{add_abort_signal, AbortController, Error, Readable, ReadableOptions};
///
/// let ac = AbortController::new();
/// let r = add_abort_signal(&ac.signal(), Readable::<Bytes>::pushed(ReadableOptions::default()));
/// ac.abort_with(Error::custom("E_USER", "stop"));
/// assert!(r.destroyed());
/// let err = r.errored().unwrap();
/// assert_eq!(err.code(), "ABORT_ERR");
/// assert_eq!(err.cause().unwrap().code(), "E_USER");
/// ```
pub fn add_abort_signal<S: StreamBase>(signal: &AbortSignal, stream: S) -> S {
    apply(stream.core(), signal);
    stream
}

/// `addAbortSignalNoValidate(signal, stream)`.
pub(crate) fn apply<R: 'static, W: 'static>(c: &Rc<Core<R, W>>, signal: &AbortSignal) {
    if let Some(reason) = signal.reason() {
        core_::destroy(c, Some(Error::aborted(Some(reason))));
        return;
    }
    // Weak: the signal may outlive the stream; it must not keep it alive.
    let weak = Rc::downgrade(c);
    let listener = signal.on_abort(move |reason| {
        if let Some(c) = weak.upgrade() {
            core_::destroy(&c, Some(Error::aborted(Some(reason.clone()))));
        }
    });
    let signal = signal.clone();
    let _cleanup = eos(c, None, None, move |_| signal.remove(listener));
}
