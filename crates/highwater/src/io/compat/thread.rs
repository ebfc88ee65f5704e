//! The loop thread: [`spawn_loop`] starts a thread running a highwater
//! loop, and its `Send + Sync` [`LoopHandle`] runs closures there that
//! build `!Send` streams ([`LoopJoinHandle`] is the `Send` future of the
//! result).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll, Waker};

use futures::{FutureExt, StreamExt};

use crate::Error;

type Job = Box<dyn FnOnce(&Rc<LiveTasks>) + Send>;

/// Tasks spawned through handles and not finished: the loop thread stays
/// until there are none and every handle is gone.
#[derive(Default)]
struct LiveTasks {
    count: Cell<usize>,
    waker: RefCell<Option<Waker>>,
}

struct LiveGuard(Rc<LiveTasks>);

impl LiveGuard {
    fn new(live: &Rc<LiveTasks>) -> Self {
        live.count.set(live.count.get() + 1);
        LiveGuard(live.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.count.set(self.0.count.get().saturating_sub(1));
        let w = self.0.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// A handle to a dedicated event-loop thread (from [`spawn_loop`]):
/// `Send + Sync + Clone`, so multi-threaded code (`#[tokio::main]`) can
/// run stream code there without holding any `!Send` value.
///
/// The thread runs a tokio current-thread runtime driving a highwater
/// loop ([`block_on`](crate::block_on)). It exits once every handle is
/// dropped and every task spawned through one has finished. Tasks that
/// those tasks [`spawn`](crate::spawn) on their own are not waited for:
/// await them in the task given to [`LoopHandle::spawn`], or keep a handle
/// until they are done.
///
/// # Examples
///
/// ```
/// # use highwater::prelude::*;
/// # fn main() -> std::io::Result<()> {
/// let lp = highwater::compat::spawn_loop()?;
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// let n = rt.block_on(async move {
///     lp.spawn(|| async {
///         // On the loop thread: streams may be created and used here.
///         let w = highwater::Writable::from_fn(Default::default(), |_c: bytes::Bytes| Ok(()));
///         w.write_async(bytes::Bytes::from_static(b"hi")).await?;
///         w.end_async().await?;
///         Ok::<_, highwater::Error>(2)
///     })
///     .await
/// });
/// assert_eq!(n.unwrap().unwrap(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    jobs: futures::channel::mpsc::UnboundedSender<Job>,
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("closed", &self.jobs.is_closed())
            .finish()
    }
}

/// Starts a dedicated event-loop thread (named `highwater-loop`) and returns
/// its [`LoopHandle`].
///
/// # Errors
///
/// The OS refused to create the thread.
///
/// # Examples
///
/// ```
/// # use highwater::prelude::*;
/// let lp = highwater::compat::spawn_loop().unwrap();
/// let v = futures::executor::block_on(lp.spawn(|| async { 6 * 7 }));
/// assert_eq!(v.unwrap(), 42);
/// ```
pub fn spawn_loop() -> io::Result<LoopHandle> {
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<Job>();
    std::thread::Builder::new()
        .name("highwater-loop".into())
        .spawn(move || {
            crate::block_on(async move {
                let live = Rc::new(LiveTasks::default());
                while let Some(job) = rx.next().await {
                    job(&live);
                }
                std::future::poll_fn(|cx| {
                    if live.count.get() == 0 {
                        return Poll::Ready(());
                    }
                    *live.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
            });
        })?;
    Ok(LoopHandle { jobs: tx })
}

impl LoopHandle {
    /// Runs `f` on the loop thread and spawns the future it returns there
    /// (as [`spawn`](crate::spawn)): `f` is `Send`, the future and what it
    /// holds need not be. Returns a `Send` future of the output.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let lp = highwater::compat::spawn_loop().unwrap();
    /// let data = vec![1u8, 2, 3]; // Send: moved into the closure
    /// let len = futures::executor::block_on(lp.spawn(move || async move {
    ///     let r = Readable::<Bytes>::pushed(ReadableOptions::default()); // !Send, stays on the loop
    ///     r.push(Bytes::from(data));
    ///     r.push_eof();
    ///     r.read(None).map_or(0, |c| c.len())
    /// }));
    /// assert_eq!(len.unwrap(), 3);
    /// ```
    pub fn spawn<F, Fut>(&self, f: F) -> LoopJoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        let job: Job = Box::new(move |live: &Rc<LiveTasks>| {
            let guard = LiveGuard::new(live);
            let _task = crate::spawn(async move {
                let _guard = guard;
                let out = AssertUnwindSafe(async move { f().await })
                    .catch_unwind()
                    .await;
                let _ = tx.send(out);
            });
        });
        // If the loop is gone, the job (and `tx`) is dropped: the handle
        // reports it.
        let _ = self.jobs.unbounded_send(job);
        LoopJoinHandle { rx }
    }

    /// Whether the loop thread has stopped taking jobs (it exited or
    /// panicked).
    ///
    /// ```
    /// use highwater::prelude::*;
    ///
    /// let lp = highwater::compat::spawn_loop().unwrap();
    /// assert!(!lp.is_closed());
    /// let other = lp.clone();
    /// drop(lp); // the loop stays while any handle is left
    /// assert!(!other.is_closed());
    /// assert_eq!(futures::executor::block_on(other.spawn(|| async { 1 + 1 })).unwrap(), 2);
    /// ```
    pub fn is_closed(&self) -> bool {
        self.jobs.is_closed()
    }
}

type PanicPayload = Box<dyn std::any::Any + Send>;

/// The `Send` future of a task spawned with [`LoopHandle::spawn`]: its
/// output, or an error if the task panicked (`ERR_LOOP_TASK_PANICKED`) or
/// the loop thread stopped before it ran to completion
/// (`ERR_LOOP_CLOSED`). Dropping it detaches the task.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
///
/// let lp = highwater::compat::spawn_loop().unwrap();
/// let answer = lp.spawn(|| async { 6 * 7 });
/// // Send: another thread may await it.
/// let v = std::thread::spawn(move || futures::executor::block_on(answer)).join().unwrap();
/// assert_eq!(v.unwrap(), 42);
///
/// let failed = lp.spawn(|| async {
///     if true {
///         panic!("boom");
///     }
///     0
/// });
/// let err = futures::executor::block_on(failed).unwrap_err();
/// assert_eq!(err.code(), "ERR_LOOP_TASK_PANICKED");
/// assert_eq!(err.to_string(), "boom");
/// assert!(!lp.is_closed()); // the loop goes on
/// ```
pub struct LoopJoinHandle<T> {
    rx: futures::channel::oneshot::Receiver<Result<T, PanicPayload>>,
}

impl<T> fmt::Debug for LoopJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoopJoinHandle")
    }
}

impl<T> Future for LoopJoinHandle<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(Pin::new(&mut self.rx).poll(cx)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(payload)) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a task on the loop panicked".into());
                Err(Error::custom("ERR_LOOP_TASK_PANICKED", msg))
            }
            Err(_) => Err(Error::custom(
                "ERR_LOOP_CLOSED",
                "the highwater loop thread stopped before the task completed",
            )),
        })
    }
}
