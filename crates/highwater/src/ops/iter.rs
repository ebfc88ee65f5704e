//! A Readable as a `futures::Stream`: Node's `readable[Symbol.asyncIterator]()`.
//!
//! The iterator puts the stream in paused mode (a `'readable'` listener) and
//! loops `read()`: in byte mode each item is everything buffered at that
//! moment, joined; in object mode one object. It ends when the stream ends,
//! yields the stream's error once if it fails, and, when dropped before the
//! end, destroys the stream (Node's `destroyOnReturn`), with `ABORT_ERR` if it
//! had not finished. With [`IterOptions::destroy_on_return`]`(false)` (Node's
//! `readable.iterator({ destroyOnReturn: false })`) dropping it early instead
//! removes its listeners and leaves the stream usable.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::Stream;

use crate::runtime::ListenerId;
use crate::state::{Error, ErrorKind};
use crate::stream::core::{self as core_, Core};

use super::finished::{eos, Cleanup};

/// The options of [`ReadableExt::stream_with`](crate::ReadableExt::stream_with):
/// Node's `readable.iterator(options)`.
///
/// # Examples
///
/// ```
/// use highwater::IterOptions;
///
/// let keep_open = IterOptions::default().destroy_on_return(false);
/// assert!(!keep_open.destroys_on_return());
/// assert!(IterOptions::default().destroys_on_return());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IterOptions {
    destroy_on_return: bool,
}

impl Default for IterOptions {
    /// Node's defaults: `destroyOnReturn: true`.
    ///
    /// ```
    /// use highwater::IterOptions;
    ///
    /// assert!(IterOptions::default().destroys_on_return());
    /// ```
    fn default() -> Self {
        IterOptions {
            destroy_on_return: true,
        }
    }
}

impl IterOptions {
    /// Node's `destroyOnReturn`: whether dropping the iterator before the
    /// stream ended destroys the stream (`true`, the default). With `false`
    /// the iterator only removes its listeners, and the stream can be read
    /// again (by another iterator, `'data'`, `read()`). An error still
    /// destroys a stream whose `auto_destroy` is on, as in Node.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{IterOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::pushed(ReadableOptions::objects());
    ///     for n in 1..=3u32 {
    ///         r.push(n);
    ///     }
    ///     r.push_eof();
    ///     let keep = IterOptions::default().destroy_on_return(false);
    ///     let first = r.stream_with(keep).next().await; // dropped after one item
    ///     assert_eq!(first.unwrap().unwrap(), 1);
    ///     assert!(!r.destroyed());
    ///     let rest: Vec<u32> = r.stream_with(keep).map(|i| i.unwrap()).collect().await;
    ///     assert_eq!(rest, [2, 3]);
    /// });
    /// ```
    pub fn destroy_on_return(mut self, yes: bool) -> Self {
        self.destroy_on_return = yes;
        self
    }

    /// The `destroyOnReturn` setting.
    ///
    /// ```
    /// use highwater::IterOptions;
    ///
    /// assert!(!IterOptions::default().destroy_on_return(false).destroys_on_return());
    /// ```
    pub fn destroys_on_return(&self) -> bool {
        self.destroy_on_return
    }
}

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
    opts: IterOptions,
    /// The `'readable'` listener and the end-of-stream watch, removed when
    /// the iterator is left without destroying the stream.
    readable_listener: Option<ListenerId>,
    eos_cleanup: Option<Cleanup>,
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
    fn on_readable(self: Rc<Self>, f: Box<dyn Fn()>) -> ListenerId;
    fn off(self: Rc<Self>, id: ListenerId);
    fn eos(self: Rc<Self>, cb: Box<dyn FnOnce(Option<Error>)>) -> Cleanup;
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
    fn on_readable(self: Rc<Self>, f: Box<dyn Fn()>) -> ListenerId {
        let id = self
            .events
            .readable
            .add(Rc::new(move |_| f()), false, false);
        self.readable_listener_added();
        id
    }
    fn off(self: Rc<Self>, id: ListenerId) {
        self.remove_listener(id);
    }
    fn eos(self: Rc<Self>, cb: Box<dyn FnOnce(Option<Error>)>) -> Cleanup {
        eos(&self, None, Some(false), cb)
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
    pub(crate) fn new<W: 'static>(core: Rc<Core<R, W>>, opts: IterOptions) -> Self {
        ReadableStream {
            opts,
            readable_listener: None,
            eos_cleanup: None,
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
        self.readable_listener = Some(self.core.clone().on_readable(Box::new(move || {
            let w = s.borrow_mut().waker.take();
            if let Some(w) = w {
                w.wake();
            }
        })));
        let s = self.shared.clone();
        self.eos_cleanup = Some(self.core.clone().eos(Box::new(move |err| {
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
        })));
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
        // The outcome stays (Node's `error` variable): leaving the iterator
        // decides on it.
        let mut sh = self.shared.borrow_mut();
        match &sh.outcome {
            Outcome::Failed(e) => {
                let e = e.clone();
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
                sh.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl<R: 'static> Drop for ReadableStream<R> {
    /// Node's `finally`: an iterator left before the end destroys the stream
    /// (`destroyOnReturn`), one that failed too (when `autoDestroy`); else it
    /// removes its listeners.
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        // Node: `(error || destroyOnReturn) && (error === undefined || autoDestroy)`.
        let (failed, running) = match &self.shared.borrow().outcome {
            Outcome::Running => (false, true),
            Outcome::Done => (false, false),
            Outcome::Failed(_) => (true, false),
        };
        let destroy =
            (failed || self.opts.destroy_on_return) && (running || self.core.auto_destroy());
        if !destroy {
            if let Some(id) = self.readable_listener.take() {
                self.core.clone().off(id);
            }
            if let Some(cleanup) = self.eos_cleanup.take() {
                cleanup.run();
            }
            return;
        }
        {
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
