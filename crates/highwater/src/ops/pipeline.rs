//! `pipeline(streams…, cb)`: Node's `lib/internal/streams/pipeline.js`.
//!
//! Pipes each stream into the next (with `pipe`, so backpressure is exactly
//! pipe's) and watches every one of them with
//! [`finished`](fn@crate::finished). The first error wins; every stream that is
//! not done is then destroyed with it; the callback is called once, on the
//! next tick after the last stream settled. A stream that closes before it
//! ended or finished fails the pipeline with `ERR_STREAM_PREMATURE_CLOSE`.
//!
//! The stages are typed: [`Pipeline::new`] takes the source, each
//! [`through`](Pipeline::through) a Duplex whose writable side takes what the
//! previous stage reads, and [`to`](Pipeline::to) the destination.
//!
//! Node's options: [`end(false)`](Pipeline::end) leaves the destination open
//! (several sources can be written into it one after another), and
//! [`signal`](Pipeline::signal) destroys every stream with an `AbortError`
//! when it aborts. An async function may be the last stage
//! ([`then_async`](Pipeline::then_async), [`to_fn`](Pipeline::to_fn)): it
//! reads the previous stage and its value is the pipeline's.
//!
//! # Cancellation
//!
//! Dropping the future of [`run`](Pipeline::run) or
//! [`then_async`](Pipeline::then_async) before it is ready cancels the
//! pipeline, as an aborted signal does: every stream not yet done is
//! destroyed with an `AbortError` (no cause). That is the Rust way to
//! cancel; the signal is Node's.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use crate::runtime::event_loop::{next_tick, spawn};
use crate::runtime::ListenerId;
use crate::state::callback::Cb;
use crate::state::{AbortListener, AbortSignal, Error, ErrorKind};
use crate::stream::core::{self as core_, Core};
use crate::stream::target::PipeTarget;
use crate::stream::{ReadableSide, StreamBase, WritableSide};

use super::finished::{callback_result, eos, Cleanup};
use super::iter::ReadableStream;

/// What the pipeline needs of a stage, with its chunk types erased.
pub(crate) trait Stage {
    fn eos_dyn(
        self: Rc<Self>,
        readable: Option<bool>,
        writable: Option<bool>,
        cb: Box<dyn FnOnce(Option<Error>)>,
    ) -> Cleanup;
    fn on_close(&self, f: Box<dyn Fn()>);
    fn on_error(&self, f: Box<dyn Fn(&Error)>) -> ListenerId;
    fn remove_error_listener(&self, id: ListenerId);
    fn once_end(&self, f: Box<dyn Fn()>);
    fn once_error(&self, f: Box<dyn Fn(&Error)>);
    /// `destroyImpl.destroyer(stream, err)`.
    fn destroyer(self: Rc<Self>, err: Option<Error>);
    /// `isReadable(stream)`.
    fn readable(&self) -> Option<bool>;
    /// `isReadableFinished(stream)` (strict).
    fn readable_finished(&self) -> bool;
    /// `rState.ended && !rState.errored && !rState.errorEmitted`.
    fn ended_cleanly(&self) -> bool;
    /// `dst.end()`.
    fn end(self: Rc<Self>);
}

impl<R: 'static, W: 'static> Stage for Core<R, W> {
    fn eos_dyn(
        self: Rc<Self>,
        readable: Option<bool>,
        writable: Option<bool>,
        cb: Box<dyn FnOnce(Option<Error>)>,
    ) -> Cleanup {
        eos(&self, readable, writable, cb)
    }
    fn on_close(&self, f: Box<dyn Fn()>) {
        self.events.close.add(Rc::new(move |_| f()), false, false);
    }
    fn on_error(&self, f: Box<dyn Fn(&Error)>) -> ListenerId {
        self.events.error.add(Rc::from(f), false, false)
    }
    fn remove_error_listener(&self, id: ListenerId) {
        self.events.error.remove(id);
    }
    fn once_end(&self, f: Box<dyn Fn()>) {
        self.events.end.add(Rc::new(move |_| f()), true, false);
    }
    fn once_error(&self, f: Box<dyn Fn(&Error)>) {
        self.events.error.add(Rc::from(f), true, false);
    }
    fn destroyer(self: Rc<Self>, err: Option<Error>) {
        if self.is_destroyed() {
            return;
        }
        let err = match err {
            None if !self.is_finished() => Some(Error::new(ErrorKind::Aborted)),
            e => e,
        };
        core_::destroy(&self, err);
    }
    fn readable(&self) -> Option<bool> {
        self.is_readable()
    }
    fn readable_finished(&self) -> bool {
        self.is_readable_finished(true) == Some(true)
    }
    fn ended_cleanly(&self) -> bool {
        match &self.r {
            Some(r) => {
                let st = r.state.borrow();
                st.ended() && !st.is_errored() && !st.error_emitted()
            }
            None => false,
        }
    }
    fn end(self: Rc<Self>) {
        self.end_writable(None, Cb::Nop);
    }
}

/// A stream as a pipeline stage, its chunk types erased.
type StageRef = Rc<dyn Stage>;

fn stage<S: StreamBase>(s: &S) -> StageRef {
    s.core().clone()
}

/// One link: stage `i - 1` piped into stage `i` (typed when it was added),
/// started with the pipeline's `finish`.
type LinkFn = Box<dyn FnOnce(Box<dyn Fn(Option<Error>)>, bool) -> Option<Cleanup>>;

/// A pipeline being built: a source, then transforms, then a destination.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, Pipeline, Readable, ReadableOptions, TransformOptions, Writable, WritableOptions};
///
/// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let mid = PassThrough::<Bytes>::new(TransformOptions::default());
/// let out = Rc::new(RefCell::new(Vec::new()));
/// let o = out.clone();
/// let dst = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
///     o.borrow_mut().extend_from_slice(&c);
///     Ok(())
/// });
/// let result = Rc::new(RefCell::new(None));
/// let r = result.clone();
/// Pipeline::new(&src).through(&mid).to(&dst, move |res| *r.borrow_mut() = Some(res));
/// src.push(Bytes::from_static(b"hello"));
/// src.push_eof();
/// highwater::run_until_idle();
/// assert_eq!(&*out.borrow(), b"hello");
/// assert!(matches!(*result.borrow(), Some(Ok(()))));
/// ```
#[must_use = "a pipeline does nothing until `to` or `run` is called"]
pub struct Pipeline<T: 'static> {
    stages: Vec<StageRef>,
    pipes: Vec<LinkFn>,
    last: Box<dyn Fn() -> Rc<dyn PipeFrom<T>>>,
    opts: Opts,
}

/// Node's pipeline options.
#[derive(Clone, Default)]
struct Opts {
    /// `end: false`.
    keep_open: bool,
    signal: Option<AbortSignal>,
}

impl<T: 'static> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pipeline({} stages)", self.stages.len())
    }
}

/// The readable end of the last stage so far, able to pipe into the next.
pub(crate) trait PipeFrom<T> {
    fn pipe_into(self: Rc<Self>, dest: Rc<dyn PipeTarget<T>>);
    /// `makeAsyncIterable(stream)`: what an async-function stage reads.
    fn iterate(self: Rc<Self>) -> ReadableStream<T>;
}

impl<R: Clone + 'static, W: 'static> PipeFrom<R> for Core<R, W> {
    fn pipe_into(self: Rc<Self>, dest: Rc<dyn PipeTarget<R>>) {
        super::pipe::pipe(&self, dest, false);
    }
    fn iterate(self: Rc<Self>) -> ReadableStream<R> {
        ReadableStream::new(self, super::iter::IterOptions::default())
    }
}

impl<T: 'static> Pipeline<T> {
    /// Starts a pipeline at `source`: any stream with a readable side.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Readable, ReadableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let _p: Pipeline<Bytes> = Pipeline::new(&src);
    /// ```
    pub fn new<S>(source: &S) -> Self
    where
        S: ReadableSide<T>,
        T: Clone,
    {
        let from: Rc<dyn PipeFrom<T>> = source.core().clone();
        Pipeline {
            stages: vec![stage(source)],
            pipes: Vec::new(),
            last: Box::new(move || from.clone()),
            opts: Opts::default(),
        }
    }

    /// Node's `{ end: false }`: the destination is not ended when the
    /// source ends (nor destroyed when the pipeline fails), so more can be
    /// written into it afterwards, e.g. by the next pipeline. The pipeline
    /// is done once the source has ended (and every middle stage is done).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let out = Rc::new(RefCell::new(Vec::new()));
    /// let o = out.clone();
    /// let dst = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
    ///     o.borrow_mut().extend_from_slice(&c);
    ///     Ok(())
    /// });
    /// let d = dst.clone();
    /// highwater::block_on(async move {
    ///     let dst = d;
    ///     for part in ["one ", "two"] {
    ///         let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    ///         src.push(Bytes::from(part));
    ///         src.push_eof();
    ///         Pipeline::new(&src).end(false).run(&dst).await?;
    ///         assert!(!dst.writable_ended()); // still open
    ///     }
    ///     dst.end_async().await
    /// })
    /// .unwrap();
    /// assert_eq!(&*out.borrow(), b"one two");
    /// ```
    pub fn end(mut self, on: bool) -> Self {
        self.opts.keep_open = !on;
        self
    }

    /// Node's `{ signal }`: when `signal` aborts, every stream not yet done
    /// is destroyed with an `AbortError` whose cause is the reason, and the
    /// pipeline fails with it. A signal already aborted does so as soon as
    /// the pipeline is set up (Node: in a microtask, before any tick).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let ac = AbortController::new();
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let run = Pipeline::new(&src).signal(ac.signal()).run(&dst);
    /// ac.abort();
    /// let err = highwater::block_on(run).unwrap_err();
    /// assert_eq!(err.code(), "ABORT_ERR");
    /// assert!(src.destroyed() && dst.destroyed());
    /// ```
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.opts.signal = Some(signal);
        self
    }

    /// Adds a middle stage: a stream (Transform, PassThrough, Duplex,
    /// socket) that takes `T` and reads `U`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{PassThrough, Pipeline, Readable, ReadableOptions, TransformOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let mid = PassThrough::<Bytes>::new(TransformOptions::default());
    /// let _p: Pipeline<Bytes> = Pipeline::new(&src).through(&mid);
    /// ```
    pub fn through<U, D>(mut self, stage: &D) -> Pipeline<U>
    where
        U: Clone + 'static,
        D: WritableSide<T> + ReadableSide<U>,
    {
        self.link(stage);
        let from: Rc<dyn PipeFrom<U>> = stage.core().clone();
        Pipeline {
            stages: self.stages,
            pipes: self.pipes,
            last: Box::new(move || from.clone()),
            opts: self.opts,
        }
    }

    fn link<D: WritableSide<T>>(&mut self, dest: &D) {
        let src_stage = self.stages.last().cloned();
        let src = (self.last)();
        let dst_stage = stage(dest);
        let dst_target: Rc<dyn PipeTarget<T>> = dest.core().clone();
        self.stages.push(stage(dest));
        self.pipes.push(Box::new(
            move |finish: Box<dyn Fn(Option<Error>)>, end: bool| {
                src_stage.map(|src_stage| {
                    pipe_link(src_stage, src, dst_stage, dst_target, Rc::from(finish), end)
                })
            },
        ));
    }

    /// Ends the pipeline at `dest` and starts it: `cb` gets `Ok(())` once
    /// every stage is done, or the first error (on the next tick after every
    /// stage settled).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// Pipeline::new(&src).to(&dst, |r| assert!(r.is_ok()));
    /// src.push_eof();
    /// highwater::run_until_idle();
    /// ```
    pub fn to<D>(mut self, dest: &D, cb: impl FnOnce(Result<(), Error>) + 'static)
    where
        D: WritableSide<T>,
    {
        self.link(dest);
        let _cancel = run_pipeline(self.stages, self.pipes, self.opts, None, Box::new(cb));
    }

    /// The awaitable [`to`](Self::to).
    ///
    /// # Errors
    ///
    /// The first error of any stage, or `ERR_STREAM_PREMATURE_CLOSE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    ///     let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    ///     src.push(Bytes::from_static(b"data"));
    ///     src.push_eof();
    ///     Pipeline::new(&src).run(&dst).await
    /// })
    /// .unwrap();
    /// ```
    pub fn run<D>(mut self, dest: &D) -> impl Future<Output = Result<(), Error>> + 'static
    where
        D: WritableSide<T>,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        self.link(dest);
        let cancel = run_pipeline(
            self.stages,
            self.pipes,
            self.opts,
            None,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        CancelOnDrop::new(callback_result(rx), cancel)
    }

    /// Ends the pipeline with an async function and starts it (Node's
    /// `pipeline(src, …, async function (source) { …; return value })`):
    /// `f` gets the previous stage as a [`ReadableStream`] (Node's async
    /// iterator; dropping it before the end destroys that stage) and `cb`
    /// gets `f`'s value once every stage is done, or the first error (an
    /// `Err` from `f` destroys the other stages with it).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Readable, ReadableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// src.push(Bytes::from_static(b"four"));
    /// src.push_eof();
    /// let got = Rc::new(RefCell::new(None));
    /// let g = got.clone();
    /// Pipeline::new(&src).to_fn(
    ///     |mut source| async move {
    ///         let mut n = 0;
    ///         while let Some(chunk) = source.next().await {
    ///             n += chunk?.len();
    ///         }
    ///         Ok(n)
    ///     },
    ///     move |r| *g.borrow_mut() = Some(r),
    /// );
    /// highwater::run_until_idle();
    /// assert_eq!(got.borrow_mut().take().unwrap().unwrap(), 4);
    /// ```
    pub fn to_fn<F, Fut, V>(self, f: F, cb: impl FnOnce(Result<V, Error>) + 'static)
    where
        F: FnOnce(ReadableStream<T>) -> Fut + 'static,
        Fut: Future<Output = Result<V, Error>> + 'static,
        V: 'static,
    {
        let _cancel = self.start_fn(f, cb);
    }

    /// The awaitable [`to_fn`](Self::to_fn): the pipeline's value is `f`'s
    /// (Node's `await pipeline(src, async function (source) { … })` from
    /// `stream/promises`). Dropping the future before it is ready destroys
    /// the streams with an `AbortError` (`f`'s future runs on until it
    /// returns, as a promise would; its source then fails).
    ///
    /// # Errors
    ///
    /// The first error of any stage or of `f`, `ABORT_ERR` when the signal
    /// aborts, or `ERR_STREAM_PREMATURE_CLOSE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Pipeline, Readable, ReadableOptions};
    ///
    /// let words = highwater::block_on(async {
    ///     let src = Readable::pushed(ReadableOptions::objects());
    ///     for w in ["a", "b", "c"] {
    ///         src.push(w.to_owned());
    ///     }
    ///     src.push_eof();
    ///     Pipeline::new(&src)
    ///         .then_async(|source| async move {
    ///             let all: Vec<String> = source.map(|w| w.unwrap()).collect().await;
    ///             Ok(all.join("+"))
    ///         })
    ///         .await
    /// })
    /// .unwrap();
    /// assert_eq!(words, "a+b+c");
    /// ```
    pub fn then_async<F, Fut, V>(self, f: F) -> impl Future<Output = Result<V, Error>> + 'static
    where
        F: FnOnce(ReadableStream<T>) -> Fut + 'static,
        Fut: Future<Output = Result<V, Error>> + 'static,
        V: 'static,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        let cancel = self.start_fn(f, move |r| {
            let _ = tx.send(r);
        });
        CancelOnDrop::new(
            async move {
                rx.await
                    .unwrap_or_else(|_| Err(Error::new(ErrorKind::PrematureClose)))
            },
            cancel,
        )
    }

    fn start_fn<F, Fut, V>(self, f: F, cb: impl FnOnce(Result<V, Error>) + 'static) -> Cancel
    where
        F: FnOnce(ReadableStream<T>) -> Fut + 'static,
        Fut: Future<Output = Result<V, Error>> + 'static,
        V: 'static,
    {
        let value: Rc<RefCell<Option<V>>> = Rc::new(RefCell::new(None));
        let source = (self.last)();
        let tail: Tail = {
            let value = value.clone();
            Box::new(move |finish: Rc<dyn Fn(Option<Error>)>| {
                let fut = f(source.iterate());
                let _task = spawn(async move {
                    match fut.await {
                        Ok(v) => {
                            *value.borrow_mut() = Some(v);
                            next_tick(move || finish(None));
                        }
                        Err(e) => next_tick(move || finish(Some(e))),
                    }
                });
            })
        };
        run_pipeline(
            self.stages,
            self.pipes,
            self.opts,
            Some(tail),
            Box::new(move |r| {
                cb(r.and_then(|()| {
                    value
                        .borrow_mut()
                        .take()
                        .ok_or_else(|| Error::new(ErrorKind::PrematureClose))
                }))
            }),
        )
    }
}

/// The async-function stage, started with the pipeline's `finish`.
type Tail = Box<dyn FnOnce(Rc<dyn Fn(Option<Error>)>)>;

/// Cancels a running pipeline (as its signal would, with a causeless
/// `AbortError`); does nothing once it is over.
type Cancel = Rc<dyn Fn()>;

/// A pipeline's future: dropped before it is ready, it cancels the pipeline.
struct CancelOnDrop<F> {
    inner: std::pin::Pin<Box<F>>,
    cancel: Option<Cancel>,
}

impl<F> CancelOnDrop<F> {
    fn new(inner: F, cancel: Cancel) -> Self {
        CancelOnDrop {
            inner: Box::pin(inner),
            cancel: Some(cancel),
        }
    }
}

impl<F: Future> Future for CancelOnDrop<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_ready() {
            self.cancel = None;
        }
        out
    }
}

impl<F> Drop for CancelOnDrop<F> {
    fn drop(&mut self) {
        if let Some(c) = self.cancel.take() {
            c();
        }
    }
}

/// Node's `pipe(src, dst, finish, { end: true })` inside `pipeline.js`.
fn pipe_link<T: 'static>(
    src_stage: Rc<dyn Stage>,
    src: Rc<dyn PipeFrom<T>>,
    dst_stage: Rc<dyn Stage>,
    dst: Rc<dyn PipeTarget<T>>,
    finish: Rc<dyn Fn(Option<Error>)>,
    end: bool,
) -> Cleanup {
    let ended = Rc::new(Cell::new(false));
    {
        let (ended, finish) = (ended.clone(), finish.clone());
        dst_stage.on_close(Box::new(move || {
            if !ended.get() {
                finish(Some(Error::new(ErrorKind::PrematureClose)));
            }
        }));
    }
    src.pipe_into(dst);
    if end {
        let end_fn: Rc<dyn Fn()> = {
            let (ended, dst_stage) = (ended.clone(), dst_stage.clone());
            Rc::new(move || {
                ended.set(true);
                dst_stage.clone().end();
            })
        };
        if src_stage.readable_finished() {
            next_tick(move || end_fn());
        } else {
            src_stage.once_end(Box::new(move || end_fn()));
        }
    } else {
        finish(None);
    }
    {
        let (finish, s) = (finish.clone(), src_stage.clone());
        let _ = src_stage.clone().eos_dyn(
            Some(true),
            Some(false),
            Box::new(move |err| {
                let premature = err
                    .as_ref()
                    .is_some_and(|e| matches!(e.kind(), ErrorKind::PrematureClose));
                if premature && s.ended_cleanly() {
                    let f1 = finish.clone();
                    s.once_end(Box::new(move || f1(None)));
                    let f2 = finish.clone();
                    s.once_error(Box::new(move |e| f2(Some(e.clone()))));
                } else {
                    finish(err);
                }
            }),
        );
    }
    dst_stage.eos_dyn(Some(false), Some(true), Box::new(move |e| finish(e)))
}

type Callback = Box<dyn FnOnce(Result<(), Error>)>;

/// Node's `pipelineImpl` for a chain of streams.
fn run_pipeline(
    stages: Vec<StageRef>,
    pipes: Vec<LinkFn>,
    opts: Opts,
    tail: Option<Tail>,
    callback: Callback,
) -> Cancel {
    struct St {
        error: Option<Error>,
        destroys: Vec<Box<dyn FnOnce(Option<Error>)>>,
        finish_count: isize,
        callback: Option<Callback>,
        /// Node's `lastStreamCleanup`: when the last stage is readable (a
        /// Duplex), the pipeline's listeners on it are removed on success.
        last_cleanup: Vec<Box<dyn FnOnce()>>,
        /// Node's `disposable`: the listener on the outer signal.
        disposable: Option<(AbortSignal, AbortListener)>,
    }
    let st = Rc::new(RefCell::new(St {
        error: None,
        destroys: Vec::new(),
        finish_count: 0,
        callback: Some(callback),
        last_cleanup: Vec::new(),
        disposable: None,
    }));

    fn finish_impl(st: &Rc<RefCell<St>>, err: Option<Error>, last: bool) {
        {
            let mut s = st.borrow_mut();
            if let Some(e) = err {
                let replace = match &s.error {
                    None => true,
                    Some(cur) => matches!(cur.kind(), ErrorKind::PrematureClose),
                };
                if replace {
                    s.error = Some(e);
                }
            }
            if s.error.is_none() && !last {
                return;
            }
        }
        loop {
            let next = {
                let mut s = st.borrow_mut();
                if s.destroys.is_empty() {
                    None
                } else {
                    Some((s.destroys.remove(0), s.error.clone()))
                }
            };
            match next {
                Some((d, e)) => d(e),
                None => break,
            }
        }
        let disposable = st.borrow_mut().disposable.take();
        if let Some((signal, l)) = disposable {
            signal.remove(l);
        }
        if last {
            let (cb, e, cleanups) = {
                let mut s = st.borrow_mut();
                (
                    s.callback.take(),
                    s.error.clone(),
                    std::mem::take(&mut s.last_cleanup),
                )
            };
            if e.is_none() {
                for c in cleanups {
                    c();
                }
            }
            if let Some(cb) = cb {
                next_tick(move || cb(e.map_or(Ok(()), Err)));
            }
        }
    }

    // Node's `abort()`: the outer signal's reason becomes the cause.
    let abort: Rc<dyn Fn()> = {
        let (st, signal) = (st.clone(), opts.signal.clone());
        Rc::new(move || {
            let reason = signal.as_ref().and_then(AbortSignal::reason);
            finish_impl(&st, Some(Error::aborted(reason)), false);
        })
    };
    if let Some(signal) = &opts.signal {
        let a = abort.clone();
        let l = signal.on_abort(move |_| a());
        if !signal.aborted() {
            st.borrow_mut().disposable = Some((signal.clone(), l));
        }
    }

    let finish: Rc<dyn Fn(Option<Error>)> = {
        let st = st.clone();
        Rc::new(move |err| {
            let last = {
                let mut s = st.borrow_mut();
                s.finish_count -= 1;
                s.finish_count == 0
            };
            finish_impl(&st, err, last);
        })
    };

    let n = stages.len();
    let has_tail = tail.is_some();
    let mut pipes = pipes.into_iter();
    for (i, stage) in stages.iter().enumerate() {
        let stage = stage.clone();
        let reading = i < n - 1 || has_tail;
        let writing = i > 0;
        let end = reading || !opts.keep_open;
        let is_last = i == n - 1 && !has_tail;
        let readable_last = is_last && stage.readable() == Some(true);
        if end {
            // Node's `destroyer(stream, reading, writing)`.
            let finished = Rc::new(Cell::new(false));
            {
                let f = finished.clone();
                stage.on_close(Box::new(move || f.set(true)));
            }
            {
                let f = finished.clone();
                let cleanup = stage.clone().eos_dyn(
                    Some(reading),
                    Some(writing),
                    Box::new(move |err| f.set(err.is_none())),
                );
                if readable_last {
                    st.borrow_mut()
                        .last_cleanup
                        .push(Box::new(move || cleanup.run()));
                }
            }
            {
                let (f, s) = (finished.clone(), stage.clone());
                st.borrow_mut().destroys.push(Box::new(move |err| {
                    if f.get() {
                        return;
                    }
                    f.set(true);
                    s.destroyer(Some(err.unwrap_or_else(|| Error::destroyed("pipe"))));
                }));
            }
        }
        {
            let finish = finish.clone();
            let id = stage.on_error(Box::new(move |err| {
                let ignored = matches!(err.kind(), ErrorKind::PrematureClose | ErrorKind::Aborted);
                if !ignored {
                    finish(Some(err.clone()));
                }
            }));
            if readable_last {
                let s = stage.clone();
                st.borrow_mut()
                    .last_cleanup
                    .push(Box::new(move || s.remove_error_listener(id)));
            }
        }
        if i > 0 {
            st.borrow_mut().finish_count += 2;
            if let Some(p) = pipes.next() {
                let f = finish.clone();
                if let Some(cleanup) = p(Box::new(move |e| f(e)), end) {
                    if readable_last {
                        st.borrow_mut()
                            .last_cleanup
                            .push(Box::new(move || cleanup.run()));
                    }
                }
            }
        }
    }
    if let Some(tail) = tail {
        st.borrow_mut().finish_count += 1;
        tail(finish.clone());
    }

    // A signal already aborted: Node's `addAbortListener` calls `abort` in a
    // microtask, before the ticks the pipes queued (its own
    // `process.nextTick(abort)` then finds the pipeline over). The loop has
    // no microtasks: it runs now, once every stage is set up.
    if opts.signal.as_ref().is_some_and(AbortSignal::aborted) {
        abort();
    }

    // Dropping the future: an abort without a cause, while it is running.
    let st2 = st.clone();
    Rc::new(move || {
        let running = st2.borrow().callback.is_some();
        if running {
            finish_impl(&st2, Some(Error::aborted(None)), false);
        }
    })
}
