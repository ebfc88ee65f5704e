//! Transform and PassThrough: Duplex streams whose writable side feeds the
//! readable side through a function (Node's `lib/internal/streams/transform.js`).
//!
//! # Backpressure is a held callback
//!
//! A chunk written to a Transform goes to [`TransformImpl::transform`], whose
//! output is pushed to the readable side. When that push leaves the readable
//! buffer at or above its mark, the write's completion is *held*: the
//! writable side stays busy, further writes buffer there, and once that
//! buffer reaches the writable mark `write()` returns `false` upstream. The
//! consumer's next `read()` asks the readable side for more, which releases
//! the held completion, and the chain moves again. A transform that pushes
//! nothing never blocks.
//!
//! At `end()`, [`flush`](TransformImpl::flush) may push a last chunk, then the
//! readable side ends: `'prefinish'`, then `'finish'` and `'end'` (in an order
//! that depends on when the consumer reads, exactly as in Node).

use std::cell::{OnceCell, RefCell};
use std::rc::{Rc, Weak};

use std::fmt;

use bytes::Bytes;

use crate::runtime::event_loop::next_tick;
use crate::state::{Error, TransformOptions};

use super::core::Core;
use super::done::{Done, WeakDone};
use super::duplex::Duplex;
use super::readable::machine as rm;
use super::readable::Source;
use super::side::sealed::{Handle, HasReadable, HasWritable};
use super::{Hooks, ReadableImpl, WritableImpl};

/// The function of a Transform: Node's `_transform` and `_flush`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Transform, TransformDone, TransformImpl, TransformOptions};
///
/// struct Upper;
/// impl TransformImpl<Bytes, Bytes> for Upper {
///     fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
///         done.call(Ok(Some(Bytes::from(chunk.to_ascii_uppercase()))));
///     }
/// }
///
/// let t = Transform::new(TransformOptions::default().high_water_mark(64), Upper);
/// assert!(t.write(Bytes::from_static(b"abc")));
/// assert_eq!(t.read(None), Some(Bytes::from_static(b"ABC")));
/// ```
pub trait TransformImpl<In, Out>: 'static {
    /// Transforms one chunk; call `done` with the output (`Ok(None)` for none).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Transform, TransformDone, TransformImpl, TransformOptions};
    ///
    /// struct Double;
    /// impl TransformImpl<u32, u32> for Double {
    ///     fn transform(&self, n: u32, done: TransformDone<u32>) {
    ///         done.call(Ok(Some(n * 2)));
    ///     }
    /// }
    ///
    /// let t = Transform::new(TransformOptions::objects(), Double);
    /// let _ = t.write(1);
    /// let _ = t.write(21);
    /// assert_eq!(t.read(None), Some(2));
    /// assert_eq!(t.read(None), Some(42));
    /// ```
    fn transform(&self, chunk: In, done: TransformDone<Out>);

    /// The optional hooks this transform implements ([`Hooks::FLUSH`] and
    /// [`Hooks::FINAL`]). Read once, at creation.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Hooks, TransformDone, TransformImpl};
    ///
    /// struct Trailer;
    /// impl TransformImpl<String, String> for Trailer {
    ///     fn transform(&self, s: String, done: TransformDone<String>) { done.call(Ok(Some(s))) }
    ///     fn flush(&self, done: TransformDone<String>) { done.call(Ok(Some("the end".into()))) }
    ///     fn hooks(&self) -> Hooks { Hooks::FLUSH }
    /// }
    /// assert_eq!(Trailer.hooks(), Hooks::FLUSH);
    /// ```
    fn hooks(&self) -> Hooks {
        Hooks::NONE
    }

    /// Runs at `end()` after the last chunk: may output a last chunk (Node's
    /// `_flush`). Called only with [`Hooks::FLUSH`].
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Hooks, Transform, TransformDone, TransformImpl, TransformOptions};
    ///
    /// struct Trailer;
    /// impl TransformImpl<String, String> for Trailer {
    ///     fn transform(&self, s: String, done: TransformDone<String>) { done.call(Ok(Some(s))) }
    ///     fn flush(&self, done: TransformDone<String>) { done.call(Ok(Some("the end".into()))) }
    ///     fn hooks(&self) -> Hooks { Hooks::FLUSH }
    /// }
    ///
    /// let t = Transform::new(TransformOptions::objects(), Trailer);
    /// t.end();
    /// highwater::run_until_idle();
    /// assert_eq!(t.read(None).as_deref(), Some("the end"));
    /// ```
    fn flush(&self, done: TransformDone<Out>) {
        done.call(Ok(None));
    }

    /// The transform's own final hook (Node's `new Transform({ final })`):
    /// runs as the writable side's `_final` once every written chunk was
    /// transformed. When `done` is called, `'prefinish'` is emitted, and
    /// [`flush`](Self::flush) runs from it, then the readable side ends
    /// (Node's order: the Transform's own `'prefinish'` listener, added at
    /// construction, so before any of yours, runs the flush). Called only
    /// with [`Hooks::FINAL`]; an error given to `done` fails the stream and
    /// skips the flush.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::{Done, Hooks, Transform, TransformDone, TransformImpl, TransformOptions, WritableEvent};
    ///
    /// struct Logged(Rc<RefCell<Vec<&'static str>>>);
    /// impl TransformImpl<u8, u8> for Logged {
    ///     fn transform(&self, n: u8, done: TransformDone<u8>) { done.call(Ok(Some(n))) }
    ///     fn finish(&self, done: Done) { self.0.borrow_mut().push("final"); done.ok() }
    ///     fn flush(&self, done: TransformDone<u8>) { self.0.borrow_mut().push("flush"); done.call(Ok(None)) }
    ///     fn hooks(&self) -> Hooks { Hooks::FINAL | Hooks::FLUSH }
    /// }
    ///
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// let t = Transform::new(TransformOptions::objects(), Logged(log.clone()));
    /// let l = log.clone();
    /// t.on(WritableEvent::Prefinish, move || l.borrow_mut().push("prefinish"));
    /// t.resume();
    /// t.end();
    /// highwater::run_until_idle();
    /// // Node 20 logs the same: the flush runs from 'prefinish', before
    /// // the listeners added after construction.
    /// assert_eq!(*log.borrow(), ["final", "flush", "prefinish"]);
    /// ```
    fn finish(&self, done: Done) {
        done.ok();
    }
}

/// The callback of [`TransformImpl::transform`] and
/// [`flush`](TransformImpl::flush): the output chunk, or the error.
///
/// Calling a transform's callback twice is Node's double callback
/// (`ERR_MULTIPLE_CALLBACK`, unless the callback is being held, as in Node).
///
/// # Examples
///
/// An asynchronous transform keeps its callback and answers later; the
/// write stays in flight until then:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use highwater::prelude::*;
/// use highwater::{Transform, TransformDone, TransformImpl, TransformOptions};
///
/// #[derive(Clone, Default)]
/// struct Deferred(Rc<RefCell<Vec<(u32, TransformDone<u32>)>>>);
/// impl TransformImpl<u32, u32> for Deferred {
///     fn transform(&self, n: u32, done: TransformDone<u32>) {
///         self.0.borrow_mut().push((n, done));
///     }
/// }
///
/// let imp = Deferred::default();
/// let t = Transform::new(TransformOptions::objects(), imp.clone());
/// let _ = t.write(7);
/// assert_eq!(t.writable_length(), 1);
/// assert_eq!(t.read(None), None); // no output yet
/// let (n, done) = imp.0.borrow_mut().pop().unwrap();
/// done.call(Ok(Some(n + 1)));
/// assert_eq!(t.writable_length(), 0);
/// assert_eq!(t.read(None), Some(8));
/// ```
pub struct TransformDone<Out: 'static> {
    shared: Rc<dyn Shared<Out>>,
    kind: Kind,
}

impl<Out: 'static> Clone for TransformDone<Out> {
    fn clone(&self) -> Self {
        TransformDone {
            shared: self.shared.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl<Out: 'static> std::fmt::Debug for TransformDone<Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransformDone")
    }
}

#[derive(Clone)]
enum Kind {
    /// The write's completion, and the readable length before the transform.
    Write(Done, usize),
    /// The `_final` completion.
    Flush(Done),
    /// A flush run from `'prefinish'` (after the transform's own final
    /// hook): no completion; an error destroys the stream.
    FlushAfterFinal,
}

impl<Out: 'static> TransformDone<Out> {
    /// Reports the outcome: `Ok(Some(chunk))` pushes `chunk` to the readable
    /// side, `Ok(None)` pushes nothing, `Err` fails the stream.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Transform, TransformDone, TransformImpl, TransformOptions};
    ///
    /// struct Evens;
    /// impl TransformImpl<u32, u32> for Evens {
    ///     fn transform(&self, n: u32, done: TransformDone<u32>) {
    ///         done.call(Ok((n % 2 == 0).then_some(n)));
    ///     }
    /// }
    /// let t = Transform::new(TransformOptions::objects(), Evens);
    /// let _ = t.write(1);
    /// let _ = t.write(2);
    /// assert_eq!(t.read(None), Some(2));
    /// ```
    pub fn call(self, result: Result<Option<Out>, Error>) {
        match self.kind {
            Kind::Write(done, before) => self.shared.after_transform(done, before, result),
            Kind::Flush(done) => self.shared.after_flush(Some(done), result),
            Kind::FlushAfterFinal => self.shared.after_flush(None, result),
        }
    }

    /// Pushes one chunk to the readable side now (Node's `this.push(chunk)`
    /// inside `_transform` or `_flush`) and returns what Node's `push`
    /// returns: `false` once the readable buffer reached its mark (or the
    /// side ended). A transform may push any number of chunks, synchronously
    /// or later, then [`call`](Self::call) `Ok(None)` (or `Ok(Some(last))`).
    /// The write's completion is still held while the readable side is full
    /// and the transform pushed something (Node's rule), so pushing many
    /// chunks keeps backpressure.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Transform, TransformDone, TransformImpl, TransformOptions};
    ///
    /// struct Twice;
    /// impl TransformImpl<u32, u32> for Twice {
    ///     fn transform(&self, n: u32, done: TransformDone<u32>) {
    ///         done.push(n);
    ///         done.push(n);
    ///         done.call(Ok(None));
    ///     }
    /// }
    /// let t = Transform::new(TransformOptions::objects(), Twice);
    /// let _ = t.write(7);
    /// assert_eq!(t.readable_length(), 2);
    /// assert_eq!((t.read(None), t.read(None)), (Some(7), Some(7)));
    /// ```
    pub fn push(&self, chunk: Out) -> bool {
        self.shared.push(chunk)
    }
}

/// The transform's state shared by its two sides, with the chunk types of
/// the stream erased for [`TransformDone`].
trait Shared<Out> {
    fn after_transform(&self, done: Done, before: usize, result: Result<Option<Out>, Error>);
    fn after_flush(&self, done: Option<Done>, result: Result<Option<Out>, Error>);
    fn push(&self, chunk: Out) -> bool;
}

struct State<In: 'static, Out: 'static> {
    imp: Box<dyn TransformImpl<In, Out>>,
    has_flush: bool,
    /// The transform has its own final hook ([`Hooks::FINAL`]): the flush
    /// then runs from `'prefinish'`.
    has_final: bool,
    /// Node's `kCallback`: the write completion held while the readable side is full.
    /// Held weakly: the stream holding its own completion must not keep
    /// itself alive once nothing else refers to it.
    held: RefCell<Option<WeakDone>>,
    core: OnceCell<Weak<Core<Out, In>>>,
}

impl<In: 'static, Out: 'static> State<In, Out> {
    fn core(&self) -> Option<Rc<Core<Out, In>>> {
        self.core.get().and_then(Weak::upgrade)
    }
}

impl<In: 'static, Out: 'static> Shared<Out> for State<In, Out> {
    /// The callback Node's `Transform.prototype._write` gives `_transform`.
    fn after_transform(&self, done: Done, before: usize, result: Result<Option<Out>, Error>) {
        let Some(c) = self.core() else { return };
        let val = match result {
            Err(e) => {
                done.err(e);
                return;
            }
            Ok(v) => v,
        };
        if let Some(v) = val {
            rm::push(&c, Some(v));
        }
        let (r_ended, r_len, r_hwm) = {
            let rs = c.rs().borrow();
            (rs.ended(), rs.length, rs.hwm)
        };
        if r_ended {
            next_tick(move || done.ok());
        } else if before == r_len || r_len < r_hwm || c.ws().borrow().ended() {
            // (Node tests `wState.ended` first; the order changes nothing
            // but the borrows: the writable side is only looked at when the
            // readable one is full.)
            done.ok();
        } else {
            *self.held.borrow_mut() = Some(done.downgrade());
        }
    }

    /// The callback Node's `final` gives `_flush` (`done` is `cb`, absent
    /// when `final` runs from `'prefinish'`).
    fn after_flush(&self, done: Option<Done>, result: Result<Option<Out>, Error>) {
        let Some(c) = self.core() else { return };
        match result {
            Err(e) => match done {
                Some(done) => done.err(e),
                None => crate::stream::core::destroy(&c, Some(e)),
            },
            Ok(v) => {
                if let Some(v) = v {
                    rm::push(&c, Some(v));
                }
                rm::push(&c, None);
                if let Some(done) = done {
                    done.ok();
                }
            }
        }
    }

    fn push(&self, chunk: Out) -> bool {
        match self.core() {
            Some(c) => rm::push(&c, Some(chunk)),
            None => false,
        }
    }
}

impl<In: 'static, Out: 'static> State<In, Out> {
    /// Node's `final` (transform.js): flush, then end the readable side.
    /// `done` is its `cb`, absent when called from `'prefinish'`.
    fn final_(self: &Rc<Self>, c: &Rc<Core<Out, In>>, done: Option<Done>) {
        if self.has_flush && !c.is_destroyed() {
            let kind = match done {
                Some(done) => Kind::Flush(done),
                None => Kind::FlushAfterFinal,
            };
            let td = TransformDone {
                shared: self.clone(),
                kind,
            };
            self.imp.flush(td);
        } else {
            rm::push(c, None);
            if let Some(done) = done {
                done.ok();
            }
        }
    }
}

struct WriteSide<In: 'static, Out: 'static>(Rc<State<In, Out>>);
struct ReadSide<In: 'static, Out: 'static>(Rc<State<In, Out>>);

impl<In: 'static, Out: 'static> WritableImpl<In> for WriteSide<In, Out> {
    fn write(&self, chunk: In, done: Done) {
        let before = match self.0.core() {
            Some(c) => c.rs().borrow().length,
            None => return,
        };
        let td = TransformDone {
            shared: self.0.clone(),
            kind: Kind::Write(done, before),
        };
        self.0.imp.transform(chunk, td);
    }

    fn hooks(&self) -> Hooks {
        Hooks::FINAL
    }

    /// Node's `final`: flush, then end the readable side; or, when the
    /// transform has its own final hook, that hook (the flush then runs
    /// from `'prefinish'`).
    fn finish(&self, done: Done) {
        if self.0.has_final {
            self.0.imp.finish(done);
            return;
        }
        let Some(c) = self.0.core() else { return };
        self.0.final_(&c, Some(done));
    }
}

impl<In: 'static, Out: 'static> ReadableImpl<Out> for ReadSide<In, Out> {
    /// Node's `Transform.prototype._read`: the consumer wants more, so a held
    /// write completion is released.
    fn read(&self, _size: usize, _src: &Source<Out>) {
        let held = self.0.held.borrow_mut().take();
        if let Some(done) = held.and_then(WeakDone::upgrade) {
            done.ok();
        }
    }
}

/// A Transform: a Duplex whose writable side takes `In`, runs each chunk
/// through a [`TransformImpl`], and whose readable side gives `Out` (Node's
/// `Transform`). Its methods are those of [`StreamBase`](crate::StreamBase),
/// [`WritableSide<In>`](crate::WritableSide),
/// [`ReadableSide<Out>`](crate::ReadableSide) and
/// [`ReadableExt`](crate::ReadableExt).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Transform, TransformOptions};
///
/// let upper = Transform::from_fn(TransformOptions::default(), |c: Bytes| {
///     Ok(Some(Bytes::from(c.to_ascii_uppercase())))
/// });
/// assert!(upper.write(Bytes::from_static(b"abc")));
/// assert_eq!(upper.read(None), Some(Bytes::from_static(b"ABC")));
/// ```
pub struct Transform<In: 'static = Bytes, Out: 'static = In> {
    core: Rc<Core<Out, In>>,
}

/// A PassThrough: a [`Transform`] that outputs its input unchanged (Node's
/// `PassThrough`).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, TransformOptions};
///
/// let p = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(0));
/// assert!(!p.write(Bytes::from_static(b"x"))); // mark 0: every write waits
/// assert_eq!(p.read(None), Some(Bytes::from_static(b"x")));
/// ```
pub struct PassThrough<T: 'static = Bytes> {
    core: Rc<Core<T, T>>,
}

impl<In: 'static, Out: 'static> Clone for Transform<In, Out> {
    fn clone(&self) -> Self {
        Transform {
            core: self.core.clone(),
        }
    }
}

impl<T: 'static> Clone for PassThrough<T> {
    fn clone(&self) -> Self {
        PassThrough {
            core: self.core.clone(),
        }
    }
}

impl<In: 'static, Out: 'static> fmt::Debug for Transform<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transform")
            .field("id", &self.core.id)
            .field("writable_length", &self.core.ws().borrow().length)
            .field("readable_length", &self.core.rs().borrow().length)
            .field("destroyed", &self.core.is_destroyed())
            .finish()
    }
}

impl<T: 'static> fmt::Debug for PassThrough<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassThrough")
            .field("id", &self.core.id)
            .field("writable_length", &self.core.ws().borrow().length)
            .field("readable_length", &self.core.rs().borrow().length)
            .field("destroyed", &self.core.is_destroyed())
            .finish()
    }
}

impl<In: 'static, Out: 'static> Handle for Transform<In, Out> {
    type R = Out;
    type W = In;
    fn core(&self) -> &Rc<Core<Out, In>> {
        &self.core
    }
}
impl<In: 'static, Out: 'static> HasReadable for Transform<In, Out> {}
impl<In: 'static, Out: 'static> HasWritable for Transform<In, Out> {}

impl<T: 'static> Handle for PassThrough<T> {
    type R = T;
    type W = T;
    fn core(&self) -> &Rc<Core<T, T>> {
        &self.core
    }
}
impl<T: 'static> HasReadable for PassThrough<T> {}
impl<T: 'static> HasWritable for PassThrough<T> {}

fn build<In: 'static, Out: 'static>(
    opts: TransformOptions<In, Out>,
    imp: Box<dyn TransformImpl<In, Out>>,
) -> Rc<Core<Out, In>> {
    let hooks = imp.hooks();
    let has_flush = hooks.contains(Hooks::FLUSH);
    let has_final = hooks.contains(Hooks::FINAL);
    let state = Rc::new(State {
        imp,
        has_flush,
        has_final,
        held: RefCell::new(None),
        core: OnceCell::new(),
    });
    let d = Duplex::build(
        &opts.into_duplex(),
        Box::new(ReadSide(state.clone())),
        Box::new(WriteSide(state.clone())),
    );
    // Node's Transform clears the readable side's initial `sync`.
    d.core.rs().borrow_mut().set_sync(false);
    let _ = state.core.set(Rc::downgrade(&d.core));
    if has_final {
        // Node's `this.on('prefinish', prefinish)`: with the user's own
        // `_final`, `final` (the flush) runs once that one has called back.
        let st = state.clone();
        d.core.events.prefinish.add(
            Rc::new(move |_: &()| {
                if let Some(c) = st.core() {
                    st.final_(&c, None);
                }
            }),
            false,
            false,
        );
    }
    d.core
}

/// A synchronous function as a transform.
struct FnTransform<F>(RefCell<F>);

impl<In: 'static, Out: 'static, F> TransformImpl<In, Out> for FnTransform<F>
where
    F: FnMut(In) -> Result<Option<Out>, Error> + 'static,
{
    fn transform(&self, chunk: In, done: TransformDone<Out>) {
        // The closure cannot reach its own transform, so the borrow is free.
        let r = match self.0.try_borrow_mut() {
            Ok(mut f) => f(chunk),
            Err(_) => Err(Error::msg("transform closure called re-entrantly")),
        };
        done.call(r);
    }
}

/// A closure that pushes, as a transform with a flush.
struct PushFnTransform<F>(RefCell<F>);

impl<F> PushFnTransform<F> {
    fn run<In, Out: 'static>(&self, chunk: Option<In>, done: TransformDone<Out>)
    where
        F: FnMut(Option<In>, &TransformDone<Out>) -> Result<(), Error>,
    {
        let r = match self.0.try_borrow_mut() {
            Ok(mut f) => f(chunk, &done),
            Err(_) => Err(Error::msg("transform closure called re-entrantly")),
        };
        done.call(r.map(|()| None));
    }
}

impl<In: 'static, Out: 'static, F> TransformImpl<In, Out> for PushFnTransform<F>
where
    F: FnMut(Option<In>, &TransformDone<Out>) -> Result<(), Error> + 'static,
{
    fn transform(&self, chunk: In, done: TransformDone<Out>) {
        self.run(Some(chunk), done);
    }
    fn flush(&self, done: TransformDone<Out>) {
        self.run(None, done);
    }
    fn hooks(&self) -> Hooks {
        Hooks::FLUSH
    }
}

impl<In: 'static, Out: 'static> Transform<In, Out> {
    /// A Transform over `imp` (Node's `new Transform({ transform, flush })`),
    /// each side counting its chunks as `opts` says.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Transform, TransformDone, TransformImpl, TransformOptions};
    ///
    /// struct Double;
    /// impl TransformImpl<u32, u32> for Double {
    ///     fn transform(&self, n: u32, done: TransformDone<u32>) { done.call(Ok(Some(n * 2))) }
    /// }
    /// let t = Transform::new(TransformOptions::objects(), Double);
    /// assert!(t.write(21));
    /// assert_eq!(t.read(None), Some(42));
    /// ```
    pub fn new(opts: TransformOptions<In, Out>, imp: impl TransformImpl<In, Out>) -> Self {
        Transform {
            core: build(opts, Box::new(imp)),
        }
    }

    /// A Transform whose function is a synchronous closure: `Ok(Some(out))`
    /// outputs a chunk, `Ok(None)` nothing, `Err` fails the stream.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Transform, TransformOptions};
    ///
    /// let evens = Transform::from_fn(TransformOptions::objects(), |n: u32| Ok((n % 2 == 0).then_some(n)));
    /// let _ = evens.write(1);
    /// let _ = evens.write(2);
    /// assert_eq!(evens.read(None), Some(2));
    /// ```
    pub fn from_fn(
        opts: TransformOptions<In, Out>,
        f: impl FnMut(In) -> Result<Option<Out>, Error> + 'static,
    ) -> Self {
        Self::new(opts, FnTransform(RefCell::new(f)))
    }

    /// A Transform whose function is a closure that pushes any number of
    /// chunks (Node's `_transform` calling `this.push()` 0..n times, then
    /// `cb()`): it gets `Some(chunk)` for each written chunk and `None` once
    /// at `end()` (Node's `_flush`), with the [`TransformDone`] to
    /// [`push`](TransformDone::push) through; `Err` fails the stream. One
    /// closure for both keeps their state (a remainder, a counter) in one
    /// place.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{ReadableOptions, Transform, TransformOptions, WritableOptions};
    ///
    /// // Bytes in, one object per comma-separated field out.
    /// let mut rest = Vec::new();
    /// let fields = Transform::from_push_fn(
    ///     TransformOptions::new(WritableOptions::<Bytes>::default(), ReadableOptions::objects()),
    ///     move |chunk: Option<Bytes>, out| {
    ///         match chunk {
    ///             Some(c) => rest.extend_from_slice(&c),
    ///             None => rest.push(b','), // the last field, at end()
    ///         }
    ///         while let Some(i) = rest.iter().position(|&b| b == b',') {
    ///             let field: Vec<u8> = rest.drain(..=i).take(i).collect();
    ///             out.push(String::from_utf8_lossy(&field).into_owned());
    ///         }
    ///         Ok(())
    ///     },
    /// );
    /// let _ = fields.write(Bytes::from_static(b"a,b"));
    /// fields.end();
    /// highwater::run_until_idle();
    /// assert_eq!(fields.read(None).as_deref(), Some("a"));
    /// assert_eq!(fields.read(None).as_deref(), Some("b"));
    /// ```
    pub fn from_push_fn(
        opts: TransformOptions<In, Out>,
        f: impl FnMut(Option<In>, &TransformDone<Out>) -> Result<(), Error> + 'static,
    ) -> Self {
        Self::new(opts, PushFnTransform(RefCell::new(f)))
    }

    /// Node's `allowHalfOpen`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{PassThrough, Transform, TransformOptions};
    ///
    /// let t = Transform::from_fn(TransformOptions::<bytes::Bytes, bytes::Bytes>::default(), |c| Ok(Some(c)));
    /// assert!(t.allow_half_open());
    /// ```
    pub fn allow_half_open(&self) -> bool {
        self.core.allow_half_open
    }
}

struct Identity;

impl<T: 'static> TransformImpl<T, T> for Identity {
    fn transform(&self, chunk: T, done: TransformDone<T>) {
        done.call(Ok(Some(chunk)));
    }
}

impl<T: 'static> PassThrough<T> {
    /// A PassThrough (Node's `new PassThrough(options)`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{PassThrough, TransformOptions};
    ///
    /// let p = PassThrough::new(TransformOptions::objects());
    /// assert!(p.write("row"));
    /// assert_eq!(p.read(None), Some("row"));
    /// ```
    pub fn new(opts: TransformOptions<T, T>) -> Self {
        PassThrough {
            core: build(opts, Box::new(Identity)),
        }
    }
}
