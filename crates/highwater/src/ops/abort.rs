//! Futures to signals: an [`AbortSignal`] that aborts when a future
//! completes (a timeout, a shutdown notice, a ctrl-c), for the APIs that
//! take Node's signal (`Pipeline::signal`, the options' `signal`,
//! `finished_with`). The other way round, a future that completes when a
//! signal aborts, is [`AbortSignal::cancelled`].

use std::future::Future;

use crate::runtime::event_loop::spawn;
use crate::state::{AbortController, AbortSignal, Error};

/// A signal that aborts with `fut`'s output once it completes (`Ok(())`: the
/// default `AbortError`; `Err(reason)`: that reason). `fut` runs as a task
/// on the event loop; when the signal was aborted by something else first,
/// its output is ignored (the first reason stays).
///
/// With a timer this is Node's `AbortSignal.timeout(ms)` (whose reason is a
/// `TimeoutError`): pass `async { sleep(d).await; Err(Error::custom("ETIMEDOUT", …)) }`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{abort_when, Error, Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
///
/// let err = highwater::block_on(async {
///     let signal = abort_when(async {
///         tokio::time::sleep(Duration::from_millis(5)).await;
///         Err(Error::custom("ETIMEDOUT", "took too long"))
///     });
///     // A source that never ends: the timeout cancels the pipeline.
///     let src = Readable::<Bytes>::pushed(ReadableOptions::default());
///     let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
///     Pipeline::new(&src).signal(signal).run(&dst).await
/// })
/// .unwrap_err();
/// assert_eq!(err.code(), "ABORT_ERR");
/// assert_eq!(err.cause().unwrap().code(), "ETIMEDOUT");
/// ```
pub fn abort_when<F>(fut: F) -> AbortSignal
where
    F: Future<Output = Result<(), Error>> + 'static,
{
    let ac = AbortController::new();
    let signal = ac.signal();
    let _task = spawn(async move {
        match fut.await {
            Ok(()) => ac.abort(),
            Err(reason) => ac.abort_with(reason),
        }
    });
    signal
}
