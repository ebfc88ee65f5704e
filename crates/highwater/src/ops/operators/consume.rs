//! The promise-returning operators: `forEach`, `toArray`, `reduce`, `some`,
//! `every`, `find`. Each reads through the async iterator, so leaving early
//! (`some` and `find` on their first match, any error) destroys the stream
//! as Node's `for await` does when it returns or throws.

use std::future::Future;
use std::task::Poll;

use futures::{Stream, StreamExt};

use crate::state::{Error, ErrorKind};

use super::options::Abort;

/// The next item of `s`, or Node's `AbortError` as soon as `abort` fires.
pub(crate) async fn next_or_abort<S, T>(
    s: &mut S,
    abort: Option<&Abort>,
) -> Option<Result<T, Error>>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    let Some(a) = abort else {
        return s.next().await;
    };
    if let Some(e) = a.error() {
        return Some(Err(e));
    }
    let waker = std::rc::Rc::new(std::cell::RefCell::new(None::<std::task::Waker>));
    let w = waker.clone();
    let _guard = a.watch(move || {
        if let Some(w) = w.borrow_mut().take() {
            w.wake();
        }
    });
    std::future::poll_fn(|cx| {
        if let Some(e) = a.error() {
            return Poll::Ready(Some(Err(e)));
        }
        *waker.borrow_mut() = Some(cx.waker().clone());
        s.poll_next_unpin(cx)
    })
    .await
}

/// `fut`, or Node's `AbortError` as soon as `abort` fires (the call is
/// dropped: a Rust future is cancelled by dropping it).
pub(crate) async fn or_abort<T, F>(fut: F, abort: Option<&Abort>) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    let Some(a) = abort else {
        return fut.await;
    };
    let waker = std::rc::Rc::new(std::cell::RefCell::new(None::<std::task::Waker>));
    let w = waker.clone();
    let _guard = a.watch(move || {
        if let Some(w) = w.borrow_mut().take() {
            w.wake();
        }
    });
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Some(e) = a.error() {
            return Poll::Ready(Err(e));
        }
        *waker.borrow_mut() = Some(cx.waker().clone());
        fut.as_mut().poll(cx)
    })
    .await
}

/// Node's `toArray`.
pub(crate) async fn to_array<S, T>(mut s: S, abort: Option<Abort>) -> Result<Vec<T>, Error>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    let mut out = Vec::new();
    while let Some(v) = next_or_abort(&mut s, abort.as_ref()).await {
        out.push(v?);
    }
    Ok(out)
}

/// Node's `reduce(fn, initial)`; without `initial`, the first value is the
/// accumulator and an empty stream is `ERR_MISSING_ARGS`.
pub(crate) async fn reduce<S, T, A, F, Fut>(
    mut s: S,
    initial: Option<A>,
    mut f: F,
    abort: Option<Abort>,
    first: Option<fn(T) -> A>,
) -> Result<A, Error>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
    F: FnMut(A, T) -> Fut,
    Fut: Future<Output = Result<A, Error>>,
{
    let mut acc = initial;
    let mut first = first;
    while let Some(v) = next_or_abort(&mut s, abort.as_ref()).await {
        let v = v?;
        acc = Some(match acc.take() {
            Some(a) => or_abort(f(a, v), abort.as_ref()).await?,
            None => match first.take() {
                Some(first) => first(v),
                None => return Err(missing_args()),
            },
        });
    }
    acc.ok_or_else(missing_args)
}

/// Node's `ReduceAwareErrMissingArgs`.
fn missing_args() -> Error {
    Error::new(ErrorKind::MissingArgs(
        "Reduce of an empty stream requires an initial value".into(),
    ))
}

/// The first item of `s` (`some`, `find` over a filtered stream); dropping
/// `s` afterwards destroys what is left, as Node's `return` from `for await`.
pub(crate) async fn first<S, T>(mut s: S) -> Result<Option<T>, Error>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    s.next().await.transpose()
}

/// Drains `s` (`forEach` over a map that yields nothing).
pub(crate) async fn drain<S, T>(mut s: S) -> Result<(), Error>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    while let Some(v) = s.next().await {
        v?;
    }
    Ok(())
}
