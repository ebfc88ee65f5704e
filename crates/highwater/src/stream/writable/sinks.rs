//! Ready-made sinks: a synchronous closure, and an async sink driven by a task.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::runtime::event_loop;
use crate::state::Error;
use crate::stream::{Done, Hooks, WritableImpl};

/// A sink written as `async fn`s, for [`Writable::from_async`](super::Writable::from_async).
///
/// The stream hands over one chunk at a time: `write` is not called again
/// until the previous one resolved, so the sink may keep `&mut self` state
/// across awaits. While it is busy, the stream buffers up to its mark and
/// `write()` returns `false`.
///
/// A destroyed stream lets an in-flight `write` run to completion, then drops
/// the sink.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{AsyncSink, Error, Writable, WritableOptions};
///
/// struct Slow { total: usize }
///
/// impl AsyncSink<Bytes> for Slow {
///     async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
///         tokio::task::yield_now().await; // pretend to wait for a device
///         self.total += chunk.len();
///         Ok(())
///     }
/// }
///
/// highwater::block_on(async {
///     let w = Writable::from_async(WritableOptions::default().high_water_mark(8), Slow { total: 0 });
///     assert!(!w.write(Bytes::from_static(b"12345678"))); // in flight: 8 >= 8
///     w.drained().await.unwrap();
///     w.end_async().await.unwrap();
/// });
/// ```
pub trait AsyncSink<T>: 'static {
    /// Writes one chunk.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AsyncSink, Error, Writable, WritableOptions};
    ///
    /// struct Collect(Rc<RefCell<Vec<u8>>>);
    /// impl AsyncSink<Bytes> for Collect {
    ///     async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
    ///         tokio::task::yield_now().await;
    ///         self.0.borrow_mut().extend_from_slice(&chunk);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let out = highwater::block_on(async {
    ///     let out = Rc::new(RefCell::new(Vec::new()));
    ///     let w = Writable::from_async(WritableOptions::default(), Collect(out.clone()));
    ///     w.write_async(Bytes::from_static(b"ab")).await?;
    ///     w.write_async(Bytes::from_static(b"cd")).await?;
    ///     w.end_async().await?;
    ///     let bytes = out.borrow().clone();
    ///     Ok::<_, Error>(bytes)
    /// })
    /// .unwrap();
    /// assert_eq!(out, b"abcd");
    /// ```
    fn write(&mut self, chunk: T) -> impl Future<Output = Result<(), Error>>;

    /// Runs once after the last chunk, before `'finish'` (Node's `_final`).
    ///
    /// An error here fails `end()`:
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AsyncSink, Error, Writable, WritableOptions};
    ///
    /// /// Commits at the end, and refuses more than 3 bytes.
    /// struct Commit(usize);
    /// impl AsyncSink<Bytes> for Commit {
    ///     async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
    ///         self.0 += chunk.len();
    ///         Ok(())
    ///     }
    ///     async fn finish(&mut self) -> Result<(), Error> {
    ///         if self.0 > 3 {
    ///             Err(Error::custom("EFBIG", "too much to commit"))
    ///         } else {
    ///             Ok(())
    ///         }
    ///     }
    /// }
    ///
    /// highwater::block_on(async {
    ///     let small = Writable::from_async(WritableOptions::default(), Commit(0));
    ///     small.write_async(Bytes::from_static(b"ab")).await.unwrap();
    ///     small.end_async().await.unwrap();
    ///     assert!(small.writable_finished());
    ///
    ///     let big = Writable::from_async(WritableOptions::default(), Commit(0));
    ///     big.write_async(Bytes::from_static(b"abcd")).await.unwrap();
    ///     let e = big.end_async().await.unwrap_err();
    ///     assert_eq!(e.code(), "EFBIG");
    ///     assert!(!big.writable_finished());
    /// });
    /// ```
    fn finish(&mut self) -> impl Future<Output = Result<(), Error>> {
        async { Ok(()) }
    }
}

/// A synchronous closure as a sink.
pub(super) struct FnSink<F>(RefCell<F>);

impl<F> FnSink<F> {
    pub(super) fn new(f: F) -> Self {
        FnSink(RefCell::new(f))
    }
}

impl<T, F> WritableImpl<T> for FnSink<F>
where
    F: FnMut(T) -> Result<(), Error> + 'static,
{
    fn write(&self, chunk: T, done: Done) {
        done.call(self.write_sync(chunk));
    }

    #[inline]
    fn write_sync(&self, chunk: T) -> Result<(), Error> {
        // The closure cannot reach this sink, so the borrow is free unless the
        // closure writes to its own stream and that write reaches the sink,
        // which the stream never does while a write is in flight.
        match self.0.try_borrow_mut() {
            Ok(mut f) => f(chunk),
            Err(_) => Err(Error::msg("sink closure called re-entrantly")),
        }
    }

    fn hooks(&self) -> Hooks {
        Hooks::WRITE_SYNC
    }
}

enum Op<T> {
    Write(T, Done),
    Final(Done),
}

struct Slot<T> {
    op: Option<Op<T>>,
    closed: bool,
    waker: Option<Waker>,
}

/// The sink side of an [`AsyncSink`]: hooks put the operation in a slot, a
/// task of the event loop takes it, awaits the sink, and calls `Done`.
pub(super) struct AsyncDriver<T> {
    slot: Rc<RefCell<Slot<T>>>,
}

impl<T: 'static> AsyncDriver<T> {
    pub(super) fn spawn<S: AsyncSink<T>>(mut sink: S) -> Self {
        let slot = Rc::new(RefCell::new(Slot {
            op: None,
            closed: false,
            waker: None,
        }));
        let s = slot.clone();
        // Detached: the task ends when the stream is destroyed or dropped.
        let _task = event_loop::spawn(async move {
            loop {
                let op = std::future::poll_fn(|cx| {
                    let mut slot = s.borrow_mut();
                    if let Some(op) = slot.op.take() {
                        return Poll::Ready(Some(op));
                    }
                    if slot.closed {
                        return Poll::Ready(None);
                    }
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                match op {
                    Some(Op::Write(chunk, done)) => done.call(sink.write(chunk).await),
                    Some(Op::Final(done)) => done.call(sink.finish().await),
                    None => break,
                }
            }
        });
        AsyncDriver { slot }
    }

    fn put(&self, op: Op<T>) {
        let waker = {
            let mut slot = self.slot.borrow_mut();
            slot.op = Some(op);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn close(&self) {
        let waker = {
            let mut slot = self.slot.borrow_mut();
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for AsyncDriver<T> {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.slot.try_borrow_mut() {
            slot.closed = true;
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
        }
    }
}

impl<T: 'static> WritableImpl<T> for AsyncDriver<T> {
    fn write(&self, chunk: T, done: Done) {
        self.put(Op::Write(chunk, done));
    }

    fn finish(&self, done: Done) {
        self.put(Op::Final(done));
    }

    fn hooks(&self) -> Hooks {
        Hooks::FINAL
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.close();
        done.call(err.map_or(Ok(()), Err));
    }
}
