//! A Readable as a `futures::Stream`: Node's `readable[Symbol.asyncIterator]()`.
//!
//! The iterator puts the stream in paused mode (a `'readable'` listener) and
//! loops `read()`: in byte mode each item is everything buffered at that
//! moment, joined; in object mode one object. It ends when the stream ends,
//! yields the stream's error once if it fails, and, when dropped before the
//! end, destroys the stream (Node's `destroyOnReturn`), with `ABORT_ERR` if it
//! had not finished.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::Stream;

use crate::state::{Error, ErrorKind};
use crate::stream::core::{self as core_, Core};

use super::finished::eos;

/// `undefined` / `null` / an error, as the iterator's `error` variable.
enum Outcome {
    Running,
    Done,
    Failed(Error),
}

struct Shared {
    waker: Option<Waker>,
    outcome: Outcome,
}

/// The `futures::Stream` of [`ReadableExt::stream`](crate::ReadableExt::stream):
/// Node's `readable[Symbol.asyncIterator]()`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use futures::StreamExt;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = Readable::<Bytes>::pushed(ReadableOptions::default());
///     r.push(Bytes::from_static(b"a"));
///     r.push(Bytes::from_static(b"b"));
///     r.push_eof();
///     let items: Vec<_> = r.stream().collect().await;
///     // Byte mode: one item with everything buffered, as Node's iterator yields.
///     assert_eq!(items.len(), 1);
///     assert_eq!(items[0].as_ref().unwrap(), &Bytes::from_static(b"ab"));
/// });
/// ```
pub struct ReadableStream<R: 'static> {
    core: Rc<dyn IterSource<R>>,
    shared: Rc<RefCell<Shared>>,
    started: bool,
    finished: bool,
}

impl<R: 'static> std::fmt::Debug for ReadableStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadableStream")
            .field("id", &self.core.id())
            .field("finished", &self.finished)
            .finish()
    }
}

/// What the iterator needs of its stream, whatever its writable side.
trait IterSource<R> {
    fn id(&self) -> crate::state::StreamId;
    fn on_readable(self: Rc<Self>, f: Box<dyn Fn()>);
    fn eos(self: Rc<Self>, cb: Box<dyn FnOnce(Option<Error>)>);
    fn is_destroyed(&self) -> bool;
    fn read(self: Rc<Self>) -> Option<R>;
    fn auto_destroy(&self) -> bool;
    fn is_finished(&self) -> bool;
    fn destroy(self: Rc<Self>, err: Option<Error>);
}

impl<R: 'static, W: 'static> IterSource<R> for Core<R, W> {
    fn id(&self) -> crate::state::StreamId {
        self.id
    }
    fn on_readable(self: Rc<Self>, f: Box<dyn Fn()>) {
        self.events
            .readable
            .add(Rc::new(move |_| f()), false, false);
        self.readable_listener_added();
    }
    fn eos(self: Rc<Self>, cb: Box<dyn FnOnce(Option<Error>)>) {
        let _cleanup = eos(&self, None, Some(false), cb);
    }
    fn is_destroyed(&self) -> bool {
        Core::is_destroyed(self)
    }
    fn read(self: Rc<Self>) -> Option<R> {
        self.read_chunk(None)
    }
    fn auto_destroy(&self) -> bool {
        self.rs().borrow().auto_destroy
    }
    fn is_finished(&self) -> bool {
        Core::is_finished(self)
    }
    fn destroy(self: Rc<Self>, err: Option<Error>) {
        core_::destroy(&self, err);
    }
}

impl<R: 'static> ReadableStream<R> {
    pub(crate) fn new<W: 'static>(core: Rc<Core<R, W>>) -> Self {
        ReadableStream {
            core,
            shared: Rc::new(RefCell::new(Shared {
                waker: None,
                outcome: Outcome::Running,
            })),
            started: false,
            finished: false,
        }
    }

    /// Attaches the `'readable'` listener and the end-of-stream watch, as the
    /// iterator does when created.
    fn start(&mut self) {
        self.started = true;
        let s = self.shared.clone();
        self.core.clone().on_readable(Box::new(move || {
            let w = s.borrow_mut().waker.take();
            if let Some(w) = w {
                w.wake();
            }
        }));
        let s = self.shared.clone();
        self.core.clone().eos(Box::new(move |err| {
            let w = {
                let mut sh = s.borrow_mut();
                sh.outcome = match err {
                    Some(e) => Outcome::Failed(e),
                    None => Outcome::Done,
                };
                sh.waker.take()
            };
            if let Some(w) = w {
                w.wake();
            }
        }));
    }
}

impl<R: 'static> Stream for ReadableStream<R> {
    type Item = Result<R, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if !self.started {
            self.start();
        }
        let chunk = if self.core.is_destroyed() {
            None
        } else {
            self.core.clone().read()
        };
        if let Some(c) = chunk {
            return Poll::Ready(Some(Ok(c)));
        }
        let mut sh = self.shared.borrow_mut();
        match std::mem::replace(&mut sh.outcome, Outcome::Done) {
            Outcome::Failed(e) => {
                drop(sh);
                self.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Outcome::Done => {
                drop(sh);
                self.finished = true;
                Poll::Ready(None)
            }
            Outcome::Running => {
                sh.outcome = Outcome::Running;
                sh.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<R: 'static> Drop for ReadableStream<R> {
    /// Node's `finally`: an iterator left before the end destroys the stream.
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        let auto_destroy = self.core.auto_destroy();
        let failed_or_running =
            !self.finished || matches!(self.shared.borrow().outcome, Outcome::Failed(_));
        if failed_or_running || auto_destroy {
            if self.core.is_destroyed() {
                return;
            }
            let err = if self.core.is_finished() {
                None
            } else {
                Some(Error::new(ErrorKind::Aborted))
            };
            self.core.clone().destroy(err);
        }
    }
}
