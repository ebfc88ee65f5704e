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

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use crate::runtime::event_loop::next_tick;
use crate::runtime::ListenerId;
use crate::state::callback::Cb;
use crate::state::{Error, ErrorKind};
use crate::stream::core::{self as core_, Core};
use crate::stream::target::PipeTarget;
use crate::stream::{ReadableSide, StreamBase, WritableSide};

use super::finished::{callback_result, eos, Cleanup};

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
                st.ended && st.errored.is_none() && !st.error_emitted
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
type LinkFn = Box<dyn FnOnce(Box<dyn Fn(Option<Error>)>) -> Option<Cleanup>>;

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
}

impl<T: 'static> std::fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pipeline({} stages)", self.stages.len())
    }
}

/// The readable end of the last stage so far, able to pipe into the next.
pub(crate) trait PipeFrom<T> {
    fn pipe_into(self: Rc<Self>, dest: Rc<dyn PipeTarget<T>>);
}

impl<R: Clone + 'static, W: 'static> PipeFrom<R> for Core<R, W> {
    fn pipe_into(self: Rc<Self>, dest: Rc<dyn PipeTarget<R>>) {
        super::pipe::pipe(&self, dest, false);
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
        }
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
        }
    }

    fn link<D: WritableSide<T>>(&mut self, dest: &D) {
        let src_stage = self.stages.last().cloned();
        let src = (self.last)();
        let dst_stage = stage(dest);
        let dst_target: Rc<dyn PipeTarget<T>> = dest.core().clone();
        self.stages.push(stage(dest));
        self.pipes
            .push(Box::new(move |finish: Box<dyn Fn(Option<Error>)>| {
                src_stage.map(|src_stage| {
                    pipe_link(src_stage, src, dst_stage, dst_target, Rc::from(finish))
                })
            }));
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
        run_pipeline(self.stages, self.pipes, Box::new(cb));
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
    pub fn run<D>(self, dest: &D) -> impl Future<Output = Result<(), Error>> + 'static
    where
        D: WritableSide<T>,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        self.to(dest, move |r| {
            let _ = tx.send(r);
        });
        callback_result(rx)
    }
}

/// Node's `pipe(src, dst, finish, { end: true })` inside `pipeline.js`.
fn pipe_link<T: 'static>(
    src_stage: Rc<dyn Stage>,
    src: Rc<dyn PipeFrom<T>>,
    dst_stage: Rc<dyn Stage>,
    dst: Rc<dyn PipeTarget<T>>,
    finish: Rc<dyn Fn(Option<Error>)>,
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
fn run_pipeline(stages: Vec<StageRef>, pipes: Vec<LinkFn>, callback: Callback) {
    struct St {
        error: Option<Error>,
        destroys: Vec<Box<dyn FnOnce(Option<Error>)>>,
        finish_count: isize,
        callback: Option<Callback>,
        /// Node's `lastStreamCleanup`: when the last stage is readable (a
        /// Duplex), the pipeline's listeners on it are removed on success.
        last_cleanup: Vec<Box<dyn FnOnce()>>,
    }
    let st = Rc::new(RefCell::new(St {
        error: None,
        destroys: Vec::new(),
        finish_count: 0,
        callback: Some(callback),
        last_cleanup: Vec::new(),
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
    let mut pipes = pipes.into_iter();
    for (i, stage) in stages.iter().enumerate() {
        let stage = stage.clone();
        let reading = i < n - 1;
        let writing = i > 0;
        let is_last = i == n - 1;
        let readable_last = is_last && stage.readable() == Some(true);
        // `end` is always true here (no `{ end: false }` option yet).
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
                if let Some(cleanup) = p(Box::new(move |e| f(e))) {
                    if readable_last {
                        st.borrow_mut()
                            .last_cleanup
                            .push(Box::new(move || cleanup.run()));
                    }
                }
            }
        }
    }
}
