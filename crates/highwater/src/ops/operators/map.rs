//! Node's `map` (and through it `filter`, `flatMap`, `forEach`, `take`,
//! `drop`): the pump with its ordered queue.
//!
//! Node's `map` runs two loops over one queue of promises: the pump pulls a
//! value from the source, calls `fn`, appends the promise, and waits while
//! `queue.length >= highWaterMark` (that is concurrency + the option) or
//! `cnt >= concurrency` (calls in flight); the consumer awaits `queue[0]`,
//! yields it, and only shifts it at the next `next()`. Here both loops are
//! one poll function on one task: in-flight calls are a
//! `FuturesUnordered` tagged with their place in the queue, so results come
//! out in input order whatever order they finish in, and the item handed to
//! a full consumer counts in the queue until the next read, as in Node.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, Stream, StreamExt};

use crate::state::Error;
use crate::stream::Readable;

use super::generator::{closed_error, generate, Emitter};
use super::options::Abort;

/// What the operator does with one value pulled from the source.
pub(crate) enum Pulled<F> {
    /// Call: the future's `Ok(None)` is Node's `kEmpty` (nothing to yield).
    Call(F),
    /// Call, and pull nothing more (`take`'s last value).
    CallThenEnd(F),
    /// Pull nothing more, yield nothing for this value (`take(0)`).
    End,
}

enum Slot<U> {
    Pending,
    Done(Result<Option<U>, Error>),
    Eof,
}

/// Node's `map` over `source` with `handler` deciding per value, as an
/// object-mode Readable. `concurrency` is at least 1 (validated by the
/// caller); `queue_limit` is Node's `highWaterMark + concurrency`.
pub(crate) fn map_core<T, U, S, H, Fut>(
    source: S,
    concurrency: usize,
    queue_limit: usize,
    abort: Option<Abort>,
    mut handler: H,
) -> Readable<U>
where
    T: 'static,
    U: 'static,
    S: Stream<Item = Result<T, Error>> + Unpin + 'static,
    H: FnMut(T) -> Pulled<Fut> + 'static,
    Fut: Future<Output = Result<Option<U>, Error>> + 'static,
{
    generate(move |em: Emitter<U>| async move {
        let _abort_guard = abort.as_ref().map(|a| {
            let em = em.clone();
            a.watch(move || em.wake())
        });
        let mut source = Some(source);
        let mut inflight = FuturesUnordered::new();
        let mut queue: VecDeque<Slot<U>> = VecDeque::new();
        // The sequence number of queue[0].
        let mut base: u64 = 0;
        let mut failed = false;
        loop {
            let front = std::future::poll_fn(|cx: &mut Context<'_>| loop {
                if em.closed() {
                    return Poll::Ready(Err(closed_error()));
                }
                if let Some(a) = &abort {
                    if let Some(e) = a.error() {
                        return Poll::Ready(Err(e));
                    }
                }
                em.register(cx);
                // Calls that finished take their place in the queue.
                while let Poll::Ready(Some((seq, r))) = inflight.poll_next_unpin(cx) {
                    let r: Result<Option<U>, Error> = r;
                    failed |= r.is_err();
                    let i = (seq - base) as usize;
                    queue[i] = Slot::Done(r);
                }
                // The pump: pull while the queue and the calls allow.
                let mut pulled = false;
                while let Some(src) = source.as_mut() {
                    let held = usize::from(!em.wants());
                    if failed || inflight.len() >= concurrency || queue.len() + held >= queue_limit
                    {
                        break;
                    }
                    let seq = base + queue.len() as u64;
                    match Pin::new(src).poll_next(cx) {
                        Poll::Ready(Some(Ok(v))) => {
                            pulled = true;
                            let (fut, end) = match handler(v) {
                                Pulled::Call(f) => (Some(f), false),
                                Pulled::CallThenEnd(f) => (Some(f), true),
                                Pulled::End => (None, true),
                            };
                            if let Some(f) = fut {
                                queue.push_back(Slot::Pending);
                                inflight.push(f.map(move |r| (seq, r)));
                            }
                            if end {
                                queue.push_back(Slot::Eof);
                                // Node's `return` from the loop: the
                                // iterator's end destroys the source now.
                                source = None;
                            }
                        }
                        Poll::Ready(Some(Err(e))) => {
                            queue.push_back(Slot::Done(Err(e)));
                            source = None;
                        }
                        Poll::Ready(None) => {
                            queue.push_back(Slot::Eof);
                            source = None;
                        }
                        Poll::Pending => break,
                    }
                }
                if pulled {
                    // New calls must be polled once to start.
                    continue;
                }
                if !em.wants() {
                    return Poll::Pending;
                }
                match queue.front() {
                    Some(Slot::Done(_)) | Some(Slot::Eof) => {
                        base += 1;
                        return Poll::Ready(Ok(queue.pop_front()));
                    }
                    _ => return Poll::Pending,
                }
            })
            .await?;
            match front {
                Some(Slot::Done(Ok(Some(v)))) => em.push(v),
                Some(Slot::Done(Ok(None))) | Some(Slot::Pending) | None => {}
                Some(Slot::Done(Err(e))) => return Err(e),
                Some(Slot::Eof) => return Ok(()),
            }
        }
    })
}
