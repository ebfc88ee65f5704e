//! The single-threaded event loop: a next-tick queue and local tasks.
//!
//! Node's ordering guarantees are written as "synchronously" or "on the next
//! tick". This module gives highwater the same two notions:
//!
//! * **Synchronous** means inside the call: events are emitted and hooks are
//!   called before the method returns, exactly where Node calls them.
//! * **Next tick** means [`next_tick`]: a FIFO queue, per thread, drained to
//!   exhaustion whenever control returns to the loop. Jobs queued while it is
//!   being drained run in the same drain, as `process.nextTick` jobs do.
//!
//! Futures spawned with [`spawn`] (and the future given to [`block_on`] or
//! [`run`]) play the part of promise jobs: a task is polled only when the
//! next-tick queue is empty, and the queue is drained again after every poll.
//! So `w.write(..); w.drained().await` observes `'drain'` exactly when a Node
//! `await once(w, 'drain')` would.
//!
//! Streams are `!Send`: they live on the thread that created them, and their
//! ticks run on that thread's loop. I/O, timers and blocking work come from
//! tokio: [`block_on`] runs the loop inside a tokio current-thread runtime, and
//! [`run`] is a future that drives the loop from inside any tokio task that
//! may hold `!Send` values (`block_on`, `LocalSet::run_until`, `spawn_local`).
//!
//! Code that never awaits (tests, the conformance runner) drives the loop by
//! hand with [`run_until_idle`], the equivalent of a scenario's `tick` step.
//!
//! # Examples
//!
//! ```
//! # use highwater::prelude::*;
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let l = log.clone();
//! highwater::next_tick(move || l.borrow_mut().push("tick"));
//! log.borrow_mut().push("sync");
//! highwater::run_until_idle();
//! assert_eq!(*log.borrow(), ["sync", "tick"]);
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use crate::state::op::StreamOp;

/// A job of the next-tick queue.
///
/// Stream-internal jobs are `Target`s (an `Rc` clone and a named
/// operation), so the hot paths queue ticks without allocating; user jobs are
/// boxed closures.
pub(crate) enum Tick {
    Call(Box<dyn FnOnce()>),
    Target(Rc<dyn TickTarget>, StreamOp),
}

/// A stream that runs its own deferred transitions, told apart by `op`.
pub(crate) trait TickTarget {
    fn run_tick(self: Rc<Self>, op: StreamOp);
}

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Tasks woken from any thread, and the waker of whoever drives the loop.
#[derive(Default)]
struct Ready {
    queue: Mutex<VecDeque<usize>>,
    driver: Mutex<Option<Waker>>,
}

impl Ready {
    fn queue(&self) -> MutexGuard<'_, VecDeque<usize>> {
        // A poisoned lock only means a panic elsewhere; the queue of task ids
        // is still consistent (push/pop are single operations).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn driver(&self) -> MutexGuard<'_, Option<Waker>> {
        self.driver.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct TaskWaker {
    id: usize,
    scheduled: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.ready.queue().push_back(self.id);
            if let Some(w) = self.ready.driver().as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

struct TaskSlot {
    future: Option<LocalFuture>,
    waker: Arc<TaskWaker>,
}

#[derive(Default)]
struct LoopCore {
    ticks: RefCell<VecDeque<Tick>>,
    tasks: RefCell<Vec<Option<TaskSlot>>>,
    free: RefCell<Vec<usize>>,
    ready: Arc<Ready>,
    running: Cell<bool>,
}

thread_local! {
    static CORE: LoopCore = LoopCore::default();
}

/// Queues `f` to run on the next tick of this thread's loop, like
/// `process.nextTick(f)`.
///
/// Jobs run in the order they were queued, after the current synchronous code
/// returns to the loop and before any task is polled.
///
/// # Examples
///
/// Ticks run before tasks, even a task spawned first, and a tick queued by a
/// tick runs in the same drain:
///
/// ```
/// # use highwater::prelude::*;
/// use std::{cell::RefCell, rc::Rc};
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// let _task = highwater::spawn(async move { l.borrow_mut().push("task") });
/// let l = log.clone();
/// highwater::next_tick(move || {
///     l.borrow_mut().push("tick 1");
///     let l = l.clone();
///     highwater::next_tick(move || l.borrow_mut().push("tick 2"));
/// });
/// log.borrow_mut().push("sync");
/// highwater::run_until_idle();
/// assert_eq!(*log.borrow(), ["sync", "tick 1", "tick 2", "task"]);
/// ```
pub fn next_tick(f: impl FnOnce() + 'static) {
    push_tick(Tick::Call(Box::new(f)));
}

pub(crate) fn next_tick_target(target: Rc<dyn TickTarget>, op: StreamOp) {
    push_tick(Tick::Target(target, op));
}

fn push_tick(t: Tick) {
    CORE.with(|c| c.ticks.borrow_mut().push_back(t));
    // Someone awaiting the loop must come back to drain it.
    CORE.with(|c| {
        if !c.running.get() {
            if let Some(w) = c.ready.driver().as_ref() {
                w.wake_by_ref();
            }
        }
    });
}

/// Runs every queued next-tick job, including those queued meanwhile.
/// Returns whether any ran.
fn drain_ticks() -> bool {
    let mut ran = false;
    loop {
        let job = CORE.with(|c| c.ticks.borrow_mut().pop_front());
        match job {
            Some(Tick::Call(f)) => f(),
            Some(Tick::Target(t, op)) => t.run_tick(op),
            None => return ran,
        }
        ran = true;
    }
}

/// Polls one ready task, if any. Returns whether there was one.
fn poll_one_task() -> bool {
    let id = CORE.with(|c| c.ready.queue().pop_front());
    let Some(id) = id else { return false };
    let taken = CORE.with(|c| {
        let mut tasks = c.tasks.borrow_mut();
        match tasks.get_mut(id).and_then(Option::as_mut) {
            Some(slot) => {
                slot.waker.scheduled.store(false, Ordering::Release);
                slot.future.take().map(|f| (f, slot.waker.clone()))
            }
            None => None,
        }
    });
    // A stale id (task already finished) is a spurious wake-up: nothing to do.
    let Some((mut fut, waker)) = taken else {
        return true;
    };
    let waker = Waker::from(waker);
    let mut cx = Context::from_waker(&waker);
    let done = fut.as_mut().poll(&mut cx).is_ready();
    CORE.with(|c| {
        let mut tasks = c.tasks.borrow_mut();
        if done {
            tasks[id] = None;
            c.free.borrow_mut().push(id);
        } else if let Some(slot) = tasks[id].as_mut() {
            slot.future = Some(fut);
        }
    });
    true
}

/// Runs the loop until nothing is left to do now: every next-tick job, and
/// every task that is ready, repeatedly, until the tick queue is empty and no
/// task is ready. Tasks waiting for I/O or timers stay pending.
///
/// This is what a conformance scenario's `tick` step means. Calling it from
/// inside a job or a task (re-entrantly) does nothing and returns at once.
///
/// # Examples
///
/// ```
/// # use highwater::prelude::*;
/// use std::{cell::Cell, rc::Rc};
///
/// let hit = Rc::new(Cell::new(false));
/// let h = hit.clone();
/// let _task = highwater::spawn(async move { h.set(true) });
/// assert!(!hit.get()); // spawned, not yet polled
/// highwater::run_until_idle();
/// assert!(hit.get());
/// ```
pub fn run_until_idle() {
    if CORE.with(|c| c.running.replace(true)) {
        return;
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CORE.with(|c| c.running.set(false));
        }
    }
    let _reset = Reset;
    loop {
        drain_ticks();
        if !poll_one_task() {
            // The queue may have been refilled by a task's tick; check again.
            if !drain_ticks() {
                break;
            }
        }
    }
}

/// A handle to a task spawned with [`spawn`]: a future of its output.
///
/// Dropping the handle detaches the task; it still runs to completion.
///
/// # Examples
///
/// ```
/// # use highwater::prelude::*;
/// use std::{cell::Cell, rc::Rc};
///
/// let ran = Rc::new(Cell::new(false));
/// let r = ran.clone();
/// let v = highwater::block_on(async move {
///     drop(highwater::spawn(async move { r.set(true) })); // detached
///     let h = highwater::spawn(async { 6 * 7 });
///     h.await
/// });
/// assert_eq!(v, 42);
/// assert!(ran.get());
/// ```
#[derive(Debug)]
pub struct JoinHandle<T> {
    slot: Rc<RefCell<JoinSlot<T>>>,
}

#[derive(Debug)]
struct JoinSlot<T> {
    output: Option<T>,
    waker: Option<Waker>,
}

impl<T> JoinHandle<T> {
    /// Whether the task has finished (its output is waiting to be taken).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// let h = highwater::spawn(async { 1 });
    /// assert!(!h.is_finished()); // not polled yet
    /// highwater::run_until_idle();
    /// assert!(h.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot.borrow().output.is_some()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.borrow_mut();
        match slot.output.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Spawns a future on this thread's loop, like a promise job chain.
///
/// The task is first polled when the loop next runs (after the current
/// next-tick queue). It may hold `!Send` values such as streams.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions};
///
/// highwater::block_on(async {
///     let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
///     let producer = w.clone(); // a !Send stream, moved into the task
///     let task = highwater::spawn(async move {
///         producer.write_async(Bytes::from_static(b"x")).await?;
///         producer.end_async().await
///     });
///     task.await.unwrap();
///     assert!(w.writable_finished());
/// });
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let slot = Rc::new(RefCell::new(JoinSlot {
        output: None,
        waker: None,
    }));
    let out = slot.clone();
    // Unconstrained: tokio's cooperative budget is for fairness between
    // tokio tasks, and the loop is one tokio task that runs until idle. With
    // the budget, a tokio resource that has used it up answers Pending and
    // wakes itself at once, so `run_until_idle` would poll it again and again
    // without ever returning to tokio to refill the budget: a spin. (Seen
    // with sockets after 128 ready operations in one pass; `net` also wraps
    // its I/O tasks, and every other local task gets the same guarantee.)
    let task: LocalFuture = Box::pin(tokio::task::unconstrained(async move {
        let v = future.await;
        let waker = {
            let mut s = out.borrow_mut();
            s.output = Some(v);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }));
    CORE.with(|c| {
        let id = c.free.borrow_mut().pop().unwrap_or_else(|| {
            let mut tasks = c.tasks.borrow_mut();
            tasks.push(None);
            tasks.len() - 1
        });
        let waker = Arc::new(TaskWaker {
            id,
            scheduled: AtomicBool::new(false),
            ready: c.ready.clone(),
        });
        c.tasks.borrow_mut()[id] = Some(TaskSlot {
            future: Some(task),
            waker: waker.clone(),
        });
        waker.wake_by_ref();
    });
    JoinHandle { slot }
}

/// Drives this thread's loop until `future` completes, and returns its output.
///
/// Use it from inside a tokio context that may run `!Send` futures (a
/// current-thread runtime's `block_on`, `LocalSet::run_until`). Tokio's I/O,
/// timers and `spawn_blocking` work inside, because the loop is polled inside
/// tokio's context. Most programs call [`block_on`] instead.
///
/// # Examples
///
/// ```
/// # use highwater::prelude::*;
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let v = rt.block_on(highwater::run(async { 40 + 2 }));
/// assert_eq!(v, 42);
/// ```
pub async fn run<F>(future: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let mut handle = spawn(future);
    std::future::poll_fn(move |cx| {
        CORE.with(|c| *c.ready.driver() = Some(cx.waker().clone()));
        run_until_idle();
        match Pin::new(&mut handle).poll(cx) {
            Poll::Ready(v) => {
                CORE.with(|c| *c.ready.driver() = None);
                Poll::Ready(v)
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Adds `waker` to a list of parked wakers, unless one that wakes the same
/// task is already there: a future polled again and again before its event
/// (in a `select!` loop, say) keeps one entry instead of one per poll.
pub(crate) fn park_waker(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

/// Runs `future` to completion on a new tokio current-thread runtime (with I/O
/// and timers enabled) driving this thread's loop.
///
/// # Panics
///
/// Panics if called from inside a tokio runtime (tokio forbids nesting), or
/// if the runtime cannot be created (the OS refuses to create its I/O driver).
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions};
/// use bytes::Bytes;
///
/// highwater::block_on(async {
///     let w = Writable::from_fn(WritableOptions::default(), |_chunk: Bytes| Ok(()));
///     w.write_async(Bytes::from_static(b"hello")).await.unwrap();
///     w.end_async().await.unwrap();
///     assert!(w.writable_finished());
/// });
/// ```
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + 'static,
    F::Output: 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("highwater::block_on: cannot create a tokio runtime");
    rt.block_on(run(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> (Rc<RefCell<Vec<String>>>, impl Fn(&str) + Clone) {
        let l = Rc::new(RefCell::new(Vec::new()));
        let l2 = l.clone();
        (l, move |s: &str| l2.borrow_mut().push(s.to_string()))
    }

    #[test]
    fn ticks_queued_while_draining_run_in_the_same_drain_in_fifo_order() {
        let (l, push) = log();
        let p = push.clone();
        next_tick(move || {
            p("a");
            let p2 = p.clone();
            next_tick(move || p2("c"));
        });
        let p = push.clone();
        next_tick(move || p("b"));
        run_until_idle();
        assert_eq!(*l.borrow(), ["a", "b", "c"]);
    }

    #[test]
    fn tasks_run_after_ticks_and_ticks_drain_after_each_poll() {
        let (l, push) = log();
        let p = push.clone();
        let _t = spawn(async move {
            p("task-1");
            let p2 = p.clone();
            next_tick(move || p2("tick-from-task"));
            futures::pending!();
            p("task-2");
        });
        let p = push.clone();
        next_tick(move || p("tick"));
        let p = push.clone();
        let _u = spawn(async move { p("other-task") });
        run_until_idle();
        // task-1 parks itself (pending! wakes nobody), so task-2 never runs.
        assert_eq!(
            *l.borrow(),
            ["tick", "task-1", "tick-from-task", "other-task"]
        );
    }

    #[test]
    fn block_on_returns_output_and_runs_timers() {
        let v = block_on(async {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let h = spawn(async { 7 });
            h.await * 6
        });
        assert_eq!(v, 42);
    }

    #[test]
    fn join_handle_reports_finished() {
        let h = spawn(async { 1 });
        assert!(!h.is_finished());
        run_until_idle();
        assert!(h.is_finished());
    }
}
