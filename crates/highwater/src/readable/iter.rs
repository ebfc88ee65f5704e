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

use crate::core::Core;
use crate::finished::eos;
use crate::readable::machine as rm;
use crate::Error;

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

/// The `futures::Stream` of [`Readable::stream`](crate::Readable::stream).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use futures::StreamExt;
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
pub struct ReadableStream<R: 'static, W: 'static = std::convert::Infallible> {
    core: Rc<Core<R, W>>,
    shared: Rc<RefCell<Shared>>,
    started: bool,
    finished: bool,
}

impl<R: 'static, W: 'static> std::fmt::Debug for ReadableStream<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadableStream")
            .field("id", &self.core.id)
            .field("finished", &self.finished)
            .finish()
    }
}

impl<R: 'static, W: 'static> ReadableStream<R, W> {
    pub(crate) fn new(core: Rc<Core<R, W>>) -> Self {
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
        self.core.events.readable.add(
            Rc::new(move |_| {
                let w = s.borrow_mut().waker.take();
                if let Some(w) = w {
                    w.wake();
                }
            }),
            false,
            false,
        );
        rm::on_readable_listener_added(&self.core);
        let s = self.shared.clone();
        let _cleanup = eos(&self.core, None, Some(false), move |err| {
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
        });
    }
}

impl<R: 'static, W: 'static> Stream for ReadableStream<R, W> {
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
            rm::read(&self.core, None)
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

impl<R: 'static, W: 'static> Drop for ReadableStream<R, W> {
    /// Node's `finally`: an iterator left before the end destroys the stream.
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        let auto_destroy = self.core.rs().borrow().auto_destroy;
        let failed_or_running =
            !self.finished || matches!(self.shared.borrow().outcome, Outcome::Failed(_));
        if failed_or_running || auto_destroy {
            if self.core.is_destroyed() {
                return;
            }
            let err = if self.core.is_finished() {
                None
            } else {
                Some(Error::new(crate::ErrorKind::Aborted))
            };
            crate::core::destroy(&self.core, err);
        }
    }
}
