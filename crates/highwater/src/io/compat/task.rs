//! The task behind a sink adapter: a `Writable`'s hooks hand each
//! operation to a task of the loop that owns the outside sink (an
//! `AsyncWrite`, a `futures` `Sink`, a channel's writer), and a destroy
//! hook cancels the operation in flight ([`Cancel`], also used by the
//! source adapters).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::done_with;
use crate::runtime::event_loop;
use crate::state::Error;
use crate::stream::{Done, Hooks, WritableImpl};

/// A flag the destroy hook sets, and the waker of the task to tell.
#[derive(Default)]
pub(super) struct Cancel {
    cancelled: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Cancel {
    pub(super) fn cancel(&self) {
        self.cancelled.set(true);
        let w = self.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// Awaits `f`, unless cancelled first (`None`; `f` is then dropped).
    pub(super) async fn run<F: Future>(&self, f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            if self.cancelled.get() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

/// What the task behind a [`TaskDriver`] does with each hook.
pub(super) trait TaskSink<T>: 'static {
    fn write(&mut self, chunk: T) -> impl Future<Output = Result<(), Error>>;
    fn writev(&mut self, chunks: Vec<T>) -> impl Future<Output = Result<(), Error>>;
    fn finish(&mut self) -> impl Future<Output = Result<(), Error>>;
}

enum Op<T> {
    Write(T, Done),
    Writev(Vec<T>, Done),
    Final(Done),
}

/// The Writable side of a [`TaskSink`]: hooks put the operation in a
/// one-slot mailbox (the stream hands over one at a time), a task of the
/// loop runs it and calls `Done`. Destroying the stream cancels the
/// operation in flight (its `Done` gets `ERR_STREAM_DESTROYED`, as a file
/// stream's write does) and drops the sink.
pub(super) struct TaskDriver<T> {
    mailbox: Rc<RefCell<Option<Op<T>>>>,
    cancel: Rc<Cancel>,
    writev: bool,
}

impl<T: 'static> TaskDriver<T> {
    pub(super) fn spawn<S: TaskSink<T>>(mut sink: S, writev: bool) -> Self {
        let mailbox: Rc<RefCell<Option<Op<T>>>> = Rc::default();
        let cancel: Rc<Cancel> = Rc::default();
        let (mb, c) = (mailbox.clone(), cancel.clone());
        let _task = event_loop::spawn(async move {
            loop {
                let op = std::future::poll_fn(|cx| {
                    if let Some(op) = mb.borrow_mut().take() {
                        return Poll::Ready(Some(op));
                    }
                    if c.is_cancelled() {
                        return Poll::Ready(None);
                    }
                    *c.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                let (op, method) = match op {
                    None => return,
                    Some(op) => {
                        let method = if matches!(op, Op::Final(_)) {
                            "end"
                        } else {
                            "write"
                        };
                        (op, method)
                    }
                };
                // Destroyed before the task took the operation: it never
                // runs, but its `Done` must still be called (else the write
                // callback is lost and the `Done` keeps the stream alive).
                if c.is_cancelled() {
                    let done = match op {
                        Op::Write(_, done) | Op::Writev(_, done) | Op::Final(done) => done,
                    };
                    done.err(Error::destroyed(method));
                    return;
                }
                let (result, done) = match op {
                    Op::Write(chunk, done) => (c.run(sink.write(chunk)).await, done),
                    Op::Writev(chunks, done) => (c.run(sink.writev(chunks)).await, done),
                    Op::Final(done) => (c.run(sink.finish()).await, done),
                };
                match result {
                    Some(r) => done.call(r),
                    None => {
                        done.err(Error::destroyed(method));
                        return;
                    }
                }
            }
        });
        TaskDriver {
            mailbox,
            cancel,
            writev,
        }
    }

    fn put(&self, op: Op<T>) {
        *self.mailbox.borrow_mut() = Some(op);
        let w = self.cancel.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<T> Drop for TaskDriver<T> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl<T: 'static> WritableImpl<T> for TaskDriver<T> {
    fn write(&self, chunk: T, done: Done) {
        self.put(Op::Write(chunk, done));
    }

    fn writev(&self, chunks: Vec<T>, done: Done) {
        self.put(Op::Writev(chunks, done));
    }

    fn hooks(&self) -> Hooks {
        if self.writev {
            Hooks::FINAL | Hooks::WRITEV
        } else {
            Hooks::FINAL
        }
    }

    fn finish(&self, done: Done) {
        self.put(Op::Final(done));
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.cancel.cancel();
        done_with(done, err);
    }
}
