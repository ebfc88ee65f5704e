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

use crate::core::Core;
use crate::duplex::{Duplex, DuplexOptions};
use crate::readable::machine as rm;
use crate::readable::{byte_ops, object_ops, ByteChunk, ReadableImpl, Source};
use crate::writable::{ByteLen, Done, WeakDone, WritableImpl};
use crate::Error;

/// The function of a Transform: Node's `_transform` and `_flush`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::{DuplexOptions, Transform, TransformDone, TransformImpl};
///
/// struct Upper;
/// impl TransformImpl<Bytes, Bytes> for Upper {
///     fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
///         done.call(Ok(Some(Bytes::from(chunk.to_ascii_uppercase()))));
///     }
/// }
///
/// let t: Transform<Bytes, Bytes> = Transform::transform(DuplexOptions::default().high_water_mark(64), Upper);
/// assert!(t.write(Bytes::from_static(b"abc")));
/// assert_eq!(t.read(None), Some(Bytes::from_static(b"ABC")));
/// ```
pub trait TransformImpl<In, Out>: 'static {
    /// Transforms one chunk; call `done` with the output (`Ok(None)` for none).
    fn transform(&self, chunk: In, done: TransformDone<Out>);

    /// Runs at `end()` after the last chunk: may output a last chunk. Called
    /// only if [`has_flush`](Self::has_flush).
    fn flush(&self, done: TransformDone<Out>) {
        done.call(Ok(None));
    }

    /// Whether [`flush`](Self::flush) is implemented. Read once, at creation.
    fn has_flush(&self) -> bool {
        false
    }
}

/// The callback of [`TransformImpl::transform`] and
/// [`flush`](TransformImpl::flush): the output chunk, or the error.
///
/// Calling a transform's callback twice is Node's double callback
/// (`ERR_MULTIPLE_CALLBACK`, unless the callback is being held, as in Node).
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
}

impl<Out: 'static> TransformDone<Out> {
    /// Reports the outcome: `Ok(Some(chunk))` pushes `chunk` to the readable
    /// side, `Ok(None)` pushes nothing, `Err` fails the stream.
    pub fn call(self, result: Result<Option<Out>, Error>) {
        match self.kind {
            Kind::Write(done, before) => self.shared.after_transform(done, before, result),
            Kind::Flush(done) => self.shared.after_flush(done, result),
        }
    }
}

/// The transform's state shared by its two sides, with the chunk types of
/// the stream erased for [`TransformDone`].
trait Shared<Out> {
    fn after_transform(&self, done: Done, before: usize, result: Result<Option<Out>, Error>);
    fn after_flush(&self, done: Done, result: Result<Option<Out>, Error>);
}

struct State<In: 'static, Out: 'static> {
    imp: Box<dyn TransformImpl<In, Out>>,
    has_flush: bool,
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
            (rs.ended, rs.length, rs.hwm)
        };
        let w_ended = c.ws().borrow().ended;
        if r_ended {
            crate::next_tick(move || done.ok());
        } else if w_ended || before == r_len || r_len < r_hwm {
            done.ok();
        } else {
            *self.held.borrow_mut() = Some(done.downgrade());
        }
    }

    /// The callback Node's `final` gives `_flush`.
    fn after_flush(&self, done: Done, result: Result<Option<Out>, Error>) {
        let Some(c) = self.core() else { return };
        match result {
            Err(e) => done.err(e),
            Ok(v) => {
                if let Some(v) = v {
                    rm::push(&c, Some(v));
                }
                rm::push(&c, None);
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

    fn has_final(&self) -> bool {
        true
    }

    /// Node's `final`: flush, then end the readable side.
    fn final_(&self, done: Done) {
        let Some(c) = self.0.core() else { return };
        if self.0.has_flush && !c.is_destroyed() {
            let td = TransformDone {
                shared: self.0.clone(),
                kind: Kind::Flush(done),
            };
            self.0.imp.flush(td);
        } else {
            rm::push(&c, None);
            done.ok();
        }
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

/// A Transform: a [`Duplex`] that reads `Out` and takes writes of `In`.
pub type Transform<In = bytes::Bytes, Out = In> = Duplex<Out, In>;

/// A PassThrough: a Transform that outputs its input unchanged.
pub type PassThrough<T = bytes::Bytes> = Duplex<T, T>;

/// Node's Transform constructor rule: a readable mark of 0 also makes the
/// writable mark 0 unless that one is given.
fn transform_options(mut opts: DuplexOptions) -> DuplexOptions {
    let rhwm = opts.high_water_mark.or(opts.readable_high_water_mark);
    if rhwm == Some(0) {
        opts.writable_high_water_mark = Some(opts.writable_high_water_mark.unwrap_or(0));
        opts.high_water_mark = None;
        opts.readable_high_water_mark = Some(0);
    }
    opts
}

fn build<In: 'static, Out: 'static>(
    opts: DuplexOptions,
    rops: crate::readable::machine::ChunkOps<Out>,
    wlen: fn(&In) -> usize,
    imp: Box<dyn TransformImpl<In, Out>>,
) -> Duplex<Out, In> {
    let has_flush = imp.has_flush();
    let state = Rc::new(State {
        imp,
        has_flush,
        held: RefCell::new(None),
        core: OnceCell::new(),
    });
    let d = Duplex::build(
        &transform_options(opts),
        rops,
        wlen,
        Box::new(ReadSide(state.clone())),
        Box::new(WriteSide(state.clone())),
    );
    // Node's Transform clears the readable side's initial `sync`.
    d.core.rs().borrow_mut().sync = false;
    let _ = state.core.set(Rc::downgrade(&d.core));
    d
}

impl<In: ByteLen + 'static, Out: ByteChunk> Duplex<Out, In> {
    /// A Transform over `imp` (byte mode on each side unless the options put
    /// it in object mode).
    pub fn transform(opts: DuplexOptions, imp: impl TransformImpl<In, Out>) -> Self {
        let ro = opts.readable_options();
        let wo = opts.writable_options();
        let rops = if ro.object_mode {
            object_ops()
        } else {
            byte_ops()
        };
        let wlen: fn(&In) -> usize = if wo.object_mode { |_| 1 } else { In::byte_len };
        build(opts, rops, wlen, Box::new(imp))
    }
}

impl<In: 'static, Out: 'static> Duplex<Out, In> {
    /// An object-mode Transform over `imp`.
    pub fn transform_object(opts: DuplexOptions, imp: impl TransformImpl<In, Out>) -> Self {
        build(opts.object_mode(true), object_ops(), |_| 1, Box::new(imp))
    }
}

struct Identity;

impl<T: 'static> TransformImpl<T, T> for Identity {
    fn transform(&self, chunk: T, done: TransformDone<T>) {
        done.call(Ok(Some(chunk)));
    }
}

impl<T: ByteChunk> Duplex<T, T> {
    /// A PassThrough (Node's `new PassThrough(options)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{DuplexOptions, PassThrough};
    ///
    /// let p: PassThrough = PassThrough::pass_through(DuplexOptions::default().high_water_mark(0));
    /// assert!(!p.write(Bytes::from_static(b"x"))); // mark 0: every write waits
    /// assert_eq!(p.read(None), Some(Bytes::from_static(b"x")));
    /// ```
    pub fn pass_through(opts: DuplexOptions) -> Self {
        Self::transform(opts, Identity)
    }
}

impl<T: 'static> Duplex<T, T> {
    /// An object-mode PassThrough.
    pub fn pass_through_object(opts: DuplexOptions) -> Self {
        Self::transform_object(opts, Identity)
    }
}
