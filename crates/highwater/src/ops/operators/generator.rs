//! Node's `Readable.from(asyncGenerator)`, for the stream-returning
//! operators: an object-mode Readable (high-water mark 1) whose source is an
//! async body that pushes through an [`Emitter`].
//!
//! As in Node, the body starts at the first `_read` (the generator's first
//! `next()`), runs until the consumer's buffer is full (`push` returned
//! `false`, Node's `reading = false`) and waits for the next `_read`. Its
//! `Ok` end is `push(null)`, its error `destroy(err)`; destroying the
//! Readable drops the body (Node's `iterator.return()`), and with it
//! whatever the body holds: the upstream iterator, which destroys the
//! upstream stream, and any in-flight call.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::runtime::event_loop::spawn;
use crate::state::{Error, ReadableOptions};
use crate::stream::{Done, Readable, ReadableImpl, Source};

struct Shared<U> {
    /// The stream's push handle, kept from the first `_read` until the end
    /// (cleared then, so that the body does not keep the stream alive).
    source: Option<Source<U>>,
    /// A `_read` is waiting for a value (Node: `next()` was called).
    want: bool,
    /// The stream was destroyed (or the body ended): stop.
    closed: bool,
    /// The task running the body.
    waker: Option<Waker>,
}

impl<U> Shared<U> {
    fn wake(sh: &RefCell<Self>) {
        let w = sh.borrow_mut().waker.take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// The body's side of the adapter: where it yields.
pub(crate) struct Emitter<U> {
    sh: Rc<RefCell<Shared<U>>>,
}

impl<U> Clone for Emitter<U> {
    fn clone(&self) -> Self {
        Emitter {
            sh: self.sh.clone(),
        }
    }
}

/// The stream was destroyed while the body was running: the body should
/// return (its error is ignored).
pub(crate) fn closed_error() -> Error {
    Error::new(crate::state::ErrorKind::Aborted)
}

impl<U: 'static> Emitter<U> {
    /// Pushes `v` (Node's `yield v` answered by `readable.push(v)`). After
    /// a `false` from `push`, [`wants`](Self::wants) is false until the
    /// next `_read`.
    pub(crate) fn push(&self, v: U) {
        let src = {
            let mut sh = self.sh.borrow_mut();
            sh.want = false;
            sh.source.clone()
        };
        if let Some(s) = src {
            // No borrow held: push may emit 'data', whose listener may read
            // (and so call `_read`, which sets `want` again).
            if s.push(v) {
                self.sh.borrow_mut().want = true;
            }
        }
    }

    /// Whether the consumer waits for a value (`next()` pending).
    pub(crate) fn wants(&self) -> bool {
        self.sh.borrow().want
    }

    /// Whether the stream was destroyed.
    pub(crate) fn closed(&self) -> bool {
        self.sh.borrow().closed
    }

    /// Registers the task to be woken by the next `_read` or destroy.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.sh.borrow_mut().waker = Some(cx.waker().clone());
    }

    /// A waker-less wake of the body's task (an abort signal fired).
    pub(crate) fn wake(&self) {
        Shared::wake(&self.sh);
    }

    /// Node's `yield v`: pushes, then waits until the consumer wants more.
    /// `Err` once the stream is destroyed.
    pub(crate) async fn emit(&self, v: U) -> Result<(), Error> {
        self.push(v);
        std::future::poll_fn(|cx| {
            if self.closed() {
                Poll::Ready(Err(closed_error()))
            } else if self.wants() {
                Poll::Ready(Ok(()))
            } else {
                self.register(cx);
                Poll::Pending
            }
        })
        .await
    }
}

type Body = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// The body and the one place it is polled from (its task).
struct Runner<U> {
    sh: Rc<RefCell<Shared<U>>>,
    body: RefCell<Option<Body>>,
}

impl<U: 'static> Runner<U> {
    /// Polls the body once; `Ready` when it is gone (ended or dropped).
    fn step(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Busy: a destroy from inside the body's own poll.
        let Ok(mut slot) = self.body.try_borrow_mut() else {
            return Poll::Pending;
        };
        if self.sh.borrow().closed {
            let body = slot.take();
            drop(slot);
            // Dropping the body drops what it holds: the upstream
            // iterator (which destroys the upstream stream), calls in flight.
            drop(body);
            return Poll::Ready(());
        }
        let Some(fut) = slot.as_mut() else {
            return Poll::Ready(());
        };
        self.sh.borrow_mut().waker = Some(cx.waker().clone());
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                let body = slot.take();
                drop(slot);
                drop(body);
                self.finish(result);
                Poll::Ready(())
            }
        }
    }

    /// The body returned: `push(null)`, or `destroy(err)` (Node's
    /// `Readable.from` on the generator's end or throw).
    fn finish(&self, result: Result<(), Error>) {
        let src = {
            let mut sh = self.sh.borrow_mut();
            let was_closed = sh.closed;
            sh.closed = true;
            sh.waker = None;
            let src = sh.source.take();
            if was_closed {
                None
            } else {
                src
            }
        };
        if let Some(src) = src {
            match result {
                Ok(()) => {
                    src.push_eof();
                }
                Err(e) => src.destroy(Some(e)),
            }
        }
    }
}

type Start = Box<dyn FnOnce()>;

struct GenImpl<U> {
    sh: Rc<RefCell<Shared<U>>>,
    runner: Rc<Runner<U>>,
    start: RefCell<Option<Start>>,
}

impl<U: 'static> ReadableImpl<U> for GenImpl<U> {
    fn read(&self, _size: usize, src: &Source<U>) {
        let waker = {
            let mut sh = self.sh.borrow_mut();
            if sh.closed {
                return;
            }
            if sh.source.is_none() {
                sh.source = Some(src.clone());
            }
            sh.want = true;
            sh.waker.clone()
        };
        let start = self.start.borrow_mut().take();
        if let Some(f) = start {
            f();
            return;
        }
        // The body runs on its task's next turn: the reader that took the
        // last value may still leave (`some`, `find`, `take`'s consumer)
        // before the pump calls `fn` on the next value.
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        {
            let mut sh = self.sh.borrow_mut();
            sh.closed = true;
            sh.source = None;
        }
        // Node's `iterator.return()`: the body goes now, and with it the
        // upstream iterator, which destroys the upstream stream (unless
        // the body is running: this destroy comes from inside it, and its
        // task drops it when it returns).
        let body = match self.runner.body.try_borrow_mut() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        drop(body);
        Shared::wake(&self.sh);
        self.start.borrow_mut().take();
        done.call(err.map_or(Ok(()), Err));
    }
}

/// `Readable.from(body())`: an object-mode Readable with high-water mark 1
/// fed by `body`, started at the first read.
pub(crate) fn generate<U, F, Fut>(body: F) -> Readable<U>
where
    U: 'static,
    F: FnOnce(Emitter<U>) -> Fut + 'static,
    Fut: Future<Output = Result<(), Error>> + 'static,
{
    let sh = Rc::new(RefCell::new(Shared {
        source: None,
        want: false,
        closed: false,
        waker: None,
    }));
    let runner = Rc::new(Runner {
        sh: sh.clone(),
        body: RefCell::new(None),
    });
    let r = runner.clone();
    let start: Start = Box::new(move || {
        let em = Emitter { sh: r.sh.clone() };
        *r.body.borrow_mut() = Some(Box::pin(body(em)));
        drop(spawn(std::future::poll_fn(move |cx| r.step(cx))));
    });
    Readable::new(
        ReadableOptions::objects().high_water_mark(1),
        GenImpl {
            sh,
            runner,
            start: RefCell::new(Some(start)),
        },
    )
}
