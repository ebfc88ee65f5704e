//! `stream.compose(...streams)`: Node's `lib/internal/streams/compose.js`.
//!
//! The stages are joined with a [`Pipeline`] and wrapped in one new Duplex:
//! what is written to it is written into the first stage (its `write()`
//! callback held until the first stage's `'drain'` when that stage is full),
//! what is read from it is read out of the last stage, and an error in any
//! stage (reported by the pipeline) destroys it. `end()` ends the first
//! stage; the composed stream's `'finish'` waits until the last stage is
//! completely done (Node waits on `finished(tail)`), so it comes after the
//! data has gone all the way through.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::state::{DuplexOptions, Error};
use crate::stream::core::{self as core_, Core};
use crate::stream::{Done, Duplex, ReadableSide, WritableSide};

use super::duplexify::{
    attach_drain, attach_readable, destroyer, BridgeSink, BridgeSource, OnClose, Waiters,
};
use super::pipeline::{Pipeline, Stage};

type PipelineCb = Box<dyn FnOnce(Result<(), Error>)>;
type Chain<R> = Box<dyn FnOnce(Option<PipelineCb>) -> Option<Pipeline<R>>>;
type ReadFn<R> = Rc<dyn Fn() -> Option<R>>;
type Attach<R, W> = Box<dyn FnOnce(&Duplex<R, W>, &Rc<Waiters>, ReadFn<R>)>;
type AttachHead = Box<dyn FnOnce(&Rc<Waiters>)>;
type Single<R, W> = Box<dyn FnOnce(DuplexOptions<R, W>) -> Duplex<R, W>>;

/// The first stage, as the composed stream's sink needs it.
struct Head<W: 'static> {
    write: Box<dyn Fn(W) -> bool>,
    end: Box<dyn Fn()>,
    writable: Box<dyn Fn() -> bool>,
    attach: AttachHead,
}

/// Stages being composed into one Duplex (Node's `stream.compose`): the
/// first takes writes of `W`, the last so far reads `R`.
///
/// Each stage is a stream with both sides (a [`Transform`](crate::Transform),
/// [`PassThrough`](crate::PassThrough), [`Duplex`], socket), the chunk type
/// changing from stage to stage as the types say; Node's
/// `ERR_INVALID_ARG_VALUE` (a middle stage that is not readable or not
/// writable) is a type error here. [`from_source`](Self::from_source) starts
/// at a stream with only a readable side (the composed stream is then not
/// writable, as in Node).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Compose, DuplexOptions, Transform, TransformOptions};
///
/// let upper = Transform::from_fn(TransformOptions::default(), |c: Bytes| {
///     Ok(Some(Bytes::from(c.to_ascii_uppercase())))
/// });
/// let exclaim = Transform::from_fn(TransformOptions::default(), |c: Bytes| {
///     Ok(Some(Bytes::from([&c[..], b"!"].concat())))
/// });
/// let both = Compose::new(&upper).then(&exclaim).build(DuplexOptions::default());
/// both.end_with_chunk(Bytes::from_static(b"hi"));
/// highwater::run_until_idle();
/// assert_eq!(both.read(None), Some(Bytes::from_static(b"HI!")));
/// ```
#[must_use = "a composition does nothing until `build` is called"]
pub struct Compose<W: 'static, R: 'static> {
    stages: usize,
    head: Head<W>,
    chain: Chain<R>,
    tail: Rc<dyn Stage>,
    tail_read: ReadFn<R>,
    tail_attach: Attach<R, W>,
    single: Option<Single<R, W>>,
}

impl<W: 'static, R: 'static> std::fmt::Debug for Compose<W, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compose({} stages)", self.stages)
    }
}

fn tail_parts<R, W, D>(tail: &D) -> (Rc<dyn Stage>, ReadFn<R>, Attach<R, W>)
where
    R: Clone + 'static,
    W: 'static,
    D: ReadableSide<R> + Clone + 'static,
{
    let stage: Rc<dyn Stage> = tail.core().clone();
    let t = tail.clone();
    let read: ReadFn<R> = Rc::new(move || t.read(None));
    let t = tail.clone();
    let attach: Attach<R, W> = Box::new(move |d, waiters, read| {
        attach_readable(&t, d, waiters, read);
    });
    (stage, read, attach)
}

impl<W: 'static, T: Clone + 'static> Compose<W, T> {
    /// Starts at `first`, which takes the composed stream's writes.
    ///
    /// A composition of this one stage is Node's `compose(stream)`, that is
    /// `Duplex.from(stream)`: see [`Duplex::from_pair`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Compose, DuplexOptions, PassThrough, TransformOptions};
    ///
    /// let p = PassThrough::<Bytes>::new(TransformOptions::default());
    /// let d = Compose::new(&p).build(DuplexOptions::default());
    /// d.write(Bytes::from_static(b"x"));
    /// highwater::run_until_idle();
    /// assert_eq!(d.read(None), Some(Bytes::from_static(b"x")));
    /// ```
    pub fn new<D>(first: &D) -> Self
    where
        D: WritableSide<W> + ReadableSide<T> + Clone + 'static,
    {
        let (tail, tail_read, tail_attach) = tail_parts::<T, W, D>(first);
        let (h1, h2, h3, h4) = (first.clone(), first.clone(), first.clone(), first.clone());
        let f = first.clone();
        let single = first.clone();
        Compose {
            stages: 1,
            head: Head {
                write: Box::new(move |c| h1.write(c)),
                end: Box::new(move || h2.end()),
                writable: Box::new(move || h3.core().is_writable() == Some(true)),
                attach: Box::new(move |waiters| attach_drain(&h4, waiters)),
            },
            chain: Box::new(move |cb| match cb {
                None => Some(Pipeline::new(&f)),
                Some(_) => None,
            }),
            tail,
            tail_read,
            tail_attach,
            single: Some(Box::new(move |opts| {
                Duplex::from_pair(&single, &single, opts)
            })),
        }
    }

    /// Starts at a stream with only a readable side (a
    /// [`Readable`](crate::Readable), a file's read stream): the composed
    /// stream is not writable (Node's `compose(readable, ...)`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Compose, DuplexOptions, PassThrough, Readable, ReadableOptions, TransformOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let p = PassThrough::<Bytes>::new(TransformOptions::default());
    /// let d: highwater::Duplex<Bytes, Bytes> =
    ///     Compose::from_source(&src).then(&p).build(DuplexOptions::default());
    /// assert!(!d.writable() && d.readable());
    /// src.push(Bytes::from_static(b"abc"));
    /// src.push_eof();
    /// highwater::run_until_idle();
    /// assert_eq!(d.read(None), Some(Bytes::from_static(b"abc")));
    /// ```
    pub fn from_source<S>(source: &S) -> Self
    where
        S: ReadableSide<T> + Clone + 'static,
    {
        let (tail, tail_read, tail_attach) = tail_parts::<T, W, S>(source);
        let f = source.clone();
        let single = source.clone();
        Compose {
            stages: 1,
            head: Head {
                write: Box::new(|_| true),
                end: Box::new(|| {}),
                writable: Box::new(|| false),
                attach: Box::new(|_| {}),
            },
            chain: Box::new(move |cb| match cb {
                None => Some(Pipeline::new(&f)),
                Some(_) => None,
            }),
            tail,
            tail_read,
            tail_attach,
            single: Some(Box::new(move |opts| Duplex::from_readable(&single, opts))),
        }
    }
}

impl<W: 'static, R: Clone + 'static> Compose<W, R> {
    /// Adds a stage after the last: it takes what the last one reads.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Compose, DuplexOptions, ReadableOptions, Transform, TransformOptions, WritableOptions};
    ///
    /// // Bytes in, lengths out, then doubled.
    /// let len = Transform::from_fn(
    ///     TransformOptions::new(WritableOptions::default(), ReadableOptions::objects()),
    ///     |c: Bytes| Ok(Some(c.len())),
    /// );
    /// let double = Transform::from_fn(TransformOptions::objects(), |n: usize| Ok(Some(n * 2)));
    /// let d = Compose::new(&len).then(&double).build(DuplexOptions::new(
    ///     ReadableOptions::objects(),
    ///     WritableOptions::default(),
    /// ));
    /// d.write(Bytes::from_static(b"four"));
    /// highwater::run_until_idle();
    /// assert_eq!(d.read(None), Some(8));
    /// ```
    pub fn then<U, D>(self, next: &D) -> Compose<W, U>
    where
        U: Clone + 'static,
        D: WritableSide<R> + ReadableSide<U> + Clone + 'static,
    {
        let (tail, tail_read, tail_attach) = tail_parts::<U, W, D>(next);
        let prev = self.chain;
        let t = next.clone();
        Compose {
            stages: self.stages + 1,
            head: self.head,
            chain: Box::new(move |cb| {
                let p = prev(None)?;
                match cb {
                    None => Some(p.through(&t)),
                    Some(cb) => {
                        p.to(&t, cb);
                        None
                    }
                }
            }),
            tail,
            tail_read,
            tail_attach,
            single: None,
        }
    }

    /// Joins the stages (with a [`Pipeline`]) and returns the composed
    /// Duplex; `opts` sizes its own buffers (Node gives it the default marks
    /// and the object modes of the first and last stages).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Compose, DuplexOptions, PassThrough, TransformOptions};
    ///
    /// let a = PassThrough::<Bytes>::new(TransformOptions::default());
    /// let b = PassThrough::<Bytes>::new(TransformOptions::default());
    /// let d = Compose::new(&a).then(&b).build(DuplexOptions::default());
    /// b.destroy(Some(highwater::Error::msg("boom")));
    /// highwater::run_until_idle();
    /// assert!(d.destroyed()); // an error in any stage destroys the whole
    /// assert!(a.destroyed());
    /// ```
    pub fn build(self, opts: DuplexOptions<R, W>) -> Duplex<R, W> {
        if let Some(single) = self.single {
            return single(opts);
        }
        let chain = self.chain;
        let run: Runner = Box::new(move |cb| {
            let _ = chain(Some(cb));
        });
        let tail = Tail {
            stage: self.tail,
            read: Some(self.tail_read),
            attach: Some(self.tail_attach),
        };
        assemble(self.head, run, tail, opts)
    }

    /// Ends the composition at `dest`, a stream with only a writable side (a
    /// [`Writable`](crate::Writable), a file's write stream): the composed
    /// stream is not readable (Node's `compose(..., writable)`), and its
    /// `'finish'` waits for `dest`'s. `opts` sizes its writable buffer (its
    /// readable side, disabled, keeps the last stage's chunk type).
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Compose, DuplexOptions, Transform, TransformOptions, Writable, WritableOptions};
    ///
    /// let upper = Transform::from_fn(TransformOptions::default(), |c: Bytes| {
    ///     Ok(Some(Bytes::from(c.to_ascii_uppercase())))
    /// });
    /// let out = Rc::new(RefCell::new(Vec::new()));
    /// let o = out.clone();
    /// let sink = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
    ///     o.borrow_mut().extend_from_slice(&c);
    ///     Ok(())
    /// });
    /// let d = Compose::new(&upper).build_to(&sink, DuplexOptions::default());
    /// assert!(d.writable() && !d.readable());
    /// d.end_with_chunk(Bytes::from_static(b"asd"));
    /// highwater::run_until_idle();
    /// assert!(d.writable_finished());
    /// assert_eq!(&*out.borrow(), b"ASD");
    /// ```
    pub fn build_to<D>(self, dest: &D, opts: DuplexOptions<R, W>) -> Duplex<R, W>
    where
        D: WritableSide<R> + Clone + 'static,
    {
        let chain = self.chain;
        let t = dest.clone();
        let run: Runner = Box::new(move |cb| {
            if let Some(p) = chain(None) {
                p.to(&t, cb);
            }
        });
        let tail = Tail {
            stage: dest.core().clone(),
            read: None,
            attach: None,
        };
        assemble(self.head, run, tail, opts)
    }
}

type Runner = Box<dyn FnOnce(PipelineCb)>;

/// The last stage, as `assemble` needs it.
struct Tail<R: 'static, W: 'static> {
    stage: Rc<dyn Stage>,
    read: Option<ReadFn<R>>,
    attach: Option<Attach<R, W>>,
}

/// The body of Node's `compose` after the argument checks.
fn assemble<R: 'static, W: 'static>(
    head: Head<W>,
    run: Runner,
    tail: Tail<R, W>,
    opts: DuplexOptions<R, W>,
) -> Duplex<R, W> {
    let waiters = Rc::new(Waiters::default());
    let outer: Rc<RefCell<Weak<Core<R, W>>>> = Rc::new(RefCell::new(Weak::new()));
    let flags: Rc<RefCell<(bool, bool)>> = Rc::new(RefCell::new((false, false)));

    // `pipeline(streams, onfinished)`, before the Duplex exists.
    {
        let (wk, outer, flags) = (Rc::downgrade(&waiters), outer.clone(), flags.clone());
        run(Box::new(move |res: Result<(), Error>| {
            let err = res.err();
            let Some(waiters) = wk.upgrade() else { return };
            let d = outer.borrow().clone();
            match waiters.take_onclose() {
                OnClose::Waiting(cb) => cb.call(err.map_or(Ok(()), Err)),
                _ => {
                    let (readable, writable) = *flags.borrow();
                    if err.is_some() || (!readable && !writable) {
                        if let Some(core) = d.upgrade() {
                            core_::destroy(&core, err);
                        }
                    }
                }
            }
        }));
    }

    let writable = (head.writable)();
    let readable = tail.read.is_some() && tail.stage.readable() == Some(true);
    *flags.borrow_mut() = (readable, writable);

    let tail_stage = Some(tail.stage.clone());
    let destroy = {
        let waiters = waiters.clone();
        Box::new(move |err: Option<Error>, done: Done| {
            let err = waiters.destroy_error(err);
            destroyer(&tail_stage, err.clone());
            if matches!(*waiters.onclose.borrow(), OnClose::Null) {
                done.call(err.map_or(Ok(()), Err));
            } else {
                *waiters.onclose.borrow_mut() = OnClose::Waiting(done);
            }
        })
    };
    let sink = BridgeSink {
        waiters: waiters.clone(),
        write: head.write,
        end: head.end,
        destroy,
    };
    let source = BridgeSource {
        waiters: waiters.clone(),
        read: if readable { tail.read.clone() } else { None },
    };
    let d = Duplex::new(opts.readable(readable).writable(writable), source, sink);
    *outer.borrow_mut() = Rc::downgrade(&d.core);

    if writable {
        (head.attach)(&waiters);
        let wk = Rc::downgrade(&waiters);
        let _ = tail.stage.clone().eos_dyn(
            None,
            None,
            Box::new(move |_err| {
                if let Some(waiters) = wk.upgrade() {
                    waiters.finish();
                }
            }),
        );
    }
    if let (true, Some(attach), Some(read)) = (readable, tail.attach, tail.read) {
        attach(&d, &waiters, read);
    }
    d
}
