//! Fan-out (beyond Node): one source, several destinations, a policy per
//! branch for when a destination falls behind.
//!
//! Node's answer to "one source, several destinations" is to `pipe()` the
//! source into each: the slowest destination sets the pace of all (the
//! source pauses while any of them waits for `'drain'`). That is
//! [`Lag::Wait`] here, and stays the right choice when every branch must
//! get every byte. For live data, one slow consumer should not stall the
//! others: a branch with [`Lag::Drop`] skips chunks while its buffer holds
//! `max` or more (counted in [`BranchStats`]), and a branch with
//! [`Lag::Error`] is destroyed with `ERR_STREAM_OVERFLOW` instead. Either
//! way, every destination's buffer stays below its bound plus one chunk,
//! and the source is paused only for the `Wait` branches.
//!
//! The source flows through a `'data'` listener, as with `pipe()`; its
//! `'end'` ends every live branch. A branch that errors or closes is
//! dropped from the fan-out without stopping the others. An error of the
//! source is not forwarded (as with `pipe()`): use
//! [`finished`](fn@crate::finished) or [`Pipeline`](crate::Pipeline) when
//! errors must tear everything down.
//!
//! # Examples
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//! use bytes::Bytes;
//! use highwater::fanout::{FanOut, Lag};
//! use highwater::prelude::*;
//! use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
//!
//! let src: Readable<Bytes> = Readable::pushed(ReadableOptions::default());
//! let archive = Rc::new(RefCell::new(Vec::new()));
//! let a = archive.clone();
//! let disk = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
//!     a.borrow_mut().extend_from_slice(&c);
//!     Ok(())
//! });
//! // A viewer whose writes never complete: it may lag by 4 bytes, then
//! // loses chunks.
//! struct Stalled(RefCell<Vec<highwater::Done>>);
//! impl highwater::WritableImpl<Bytes> for Stalled {
//!     fn write(&self, _c: Bytes, done: highwater::Done) { self.0.borrow_mut().push(done) }
//! }
//! let viewer = Writable::new(WritableOptions::default(), Stalled(RefCell::default()));
//!
//! let fan = FanOut::new(&src);
//! let d = fan.add(&disk, Lag::Wait);
//! let v = fan.add(&viewer, Lag::Drop { max: 4 });
//! fan.start();
//! for part in ["ab", "cd", "ef"] {
//!     src.push(Bytes::from(part));
//!     highwater::run_until_idle();
//! }
//! src.push_eof();
//! highwater::run_until_idle();
//!
//! assert_eq!(&archive.borrow()[..], b"abcdef");
//! assert_eq!(fan.branch_stats(d).unwrap().delivered, 3);
//! let vs = fan.branch_stats(v).unwrap();
//! assert_eq!((vs.delivered, vs.dropped), (2, 1)); // "ab" in flight, "cd" buffered, "ef" dropped
//! ```

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};

use crate::state::{Error, ErrorKind};
use crate::stream::core::Core;
use crate::stream::target::PipeTarget;
use crate::stream::{ReadableSide, WritableSide};

/// What a fan-out needs of its source, whatever its writable side.
trait FanSource<T> {
    fn resume(self: Rc<Self>);
    fn pause(self: Rc<Self>);
    fn on_end(&self, f: Box<dyn Fn()>);
    fn on_data(self: Rc<Self>, f: Box<dyn Fn(&T)>);
}

impl<R: 'static, W: 'static> FanSource<R> for Core<R, W> {
    fn resume(self: Rc<Self>) {
        Core::resume(&self);
    }
    fn pause(self: Rc<Self>) {
        Core::pause(&self);
    }
    fn on_end(&self, f: Box<dyn Fn()>) {
        self.events.end.add(Rc::new(move |_| f()), false, false);
    }
    fn on_data(self: Rc<Self>, f: Box<dyn Fn(&R)>) {
        self.events.data.add(Rc::from(f), false, false);
        self.data_listener_added();
    }
}

type Src<T> = Rc<dyn FanSource<T>>;

/// What a branch does when its destination falls behind.
///
/// # Examples
///
/// A stalled destination under [`Lag::Error`] fails alone; the other
/// branch goes on:
///
/// ```
/// use std::cell::RefCell;
/// use bytes::Bytes;
/// use highwater::fanout::{FanOut, Lag};
/// use highwater::prelude::*;
/// use highwater::{Done, Readable, ReadableOptions, Writable, WritableImpl, WritableOptions};
///
/// /// A destination whose writes never complete.
/// struct Stalled(RefCell<Vec<Done>>);
/// impl WritableImpl<Bytes> for Stalled {
///     fn write(&self, _c: Bytes, done: Done) { self.0.borrow_mut().push(done) }
/// }
///
/// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let fast = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let slow = Writable::new(WritableOptions::default(), Stalled(RefCell::default()));
/// let fan = FanOut::new(&src);
/// let f = fan.add(&fast, Lag::Wait);
/// let s = fan.add(&slow, Lag::Error { max: 2 });
/// fan.start();
/// for part in ["ab", "cd", "ef"] {
///     src.push(Bytes::from(part));
///     highwater::run_until_idle();
/// }
/// assert_eq!(slow.errored().unwrap().code(), "ERR_STREAM_OVERFLOW"); // 2 bytes behind at "cd"
/// assert!(fan.branch_stats(s).unwrap().failed);
/// assert_eq!(fan.branch_stats(f).unwrap().delivered, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lag {
    /// Slowest wins (Node's `pipe()`): the source pauses until this
    /// destination drains.
    Wait,
    /// Skip chunks while the destination holds `max` or more bytes (items
    /// in object mode), instead of pausing the source.
    Drop {
        /// The lag (destination's `writable_length`) at which chunks are
        /// dropped.
        max: usize,
    },
    /// Destroy the destination with `ERR_STREAM_OVERFLOW` once it holds
    /// `max` or more; the other branches go on.
    Error {
        /// The lag at which the branch fails.
        max: usize,
    },
}

/// What happened on one branch so far.
///
/// # Examples
///
/// A [`Lag::Wait`] branch whose destination is full holds the source back:
///
/// ```
/// use std::cell::RefCell;
/// use bytes::Bytes;
/// use highwater::fanout::{BranchStats, FanOut, Lag};
/// use highwater::prelude::*;
/// use highwater::{Done, Readable, ReadableOptions, Writable, WritableImpl, WritableOptions};
///
/// struct Stalled(RefCell<Vec<Done>>);
/// impl WritableImpl<Bytes> for Stalled {
///     fn write(&self, _c: Bytes, done: Done) { self.0.borrow_mut().push(done) }
/// }
///
/// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let slow = Writable::new(WritableOptions::default().high_water_mark(2), Stalled(RefCell::default()));
/// let fan = FanOut::new(&src);
/// let i = fan.add(&slow, Lag::Wait);
/// fan.start();
/// src.push(Bytes::from_static(b"abc"));
/// highwater::run_until_idle();
/// let expected = BranchStats { delivered: 1, dropped: 0, waiting: true, failed: false };
/// assert_eq!(fan.branch_stats(i), Some(expected));
/// assert_eq!(src.readable_flowing(), Some(false)); // paused until 'drain'
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BranchStats {
    /// Chunks written to the destination.
    pub delivered: u64,
    /// Chunks skipped by [`Lag::Drop`].
    pub dropped: u64,
    /// The branch waits for its destination's `'drain'` ([`Lag::Wait`]).
    pub waiting: bool,
    /// The branch failed (its destination errored, closed, or overflowed
    /// under [`Lag::Error`]) and gets no more chunks.
    pub failed: bool,
}

struct Branch<T> {
    dst: Rc<dyn PipeTarget<T>>,
    lag: Lag,
    stats: BranchStats,
}

struct State<T> {
    branches: Vec<Branch<T>>,
    /// Branches waiting for `'drain'`; the source flows when it is 0.
    waiting: usize,
    started: bool,
    /// The source ended and every branch was ended: closes are normal now.
    ended: bool,
}

/// One source, several destinations, a [`Lag`] policy per branch. See the
/// [module docs](self).
///
/// # Examples
///
/// Every branch gets every chunk, and ends when the source ends:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::fanout::{FanOut, Lag};
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
///
/// fn collector() -> (Rc<RefCell<Vec<u8>>>, Writable<Bytes>) {
///     let out = Rc::new(RefCell::new(Vec::new()));
///     let o = out.clone();
///     let w = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
///         o.borrow_mut().extend_from_slice(&c);
///         Ok(())
///     });
///     (out, w)
/// }
///
/// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
/// let (a_out, a) = collector();
/// let (b_out, b) = collector();
/// let fan = FanOut::new(&src);
/// fan.add(&a, Lag::Wait);
/// fan.add(&b, Lag::Drop { max: 1024 });
/// fan.start();
/// src.push(Bytes::from_static(b"hi "));
/// src.push(Bytes::from_static(b"all"));
/// src.push_eof();
/// highwater::run_until_idle();
/// assert_eq!(&a_out.borrow()[..], b"hi all");
/// assert_eq!(&b_out.borrow()[..], b"hi all");
/// assert!(a.writable_finished() && b.writable_finished());
/// ```
pub struct FanOut<T: 'static> {
    src: Src<T>,
    state: Rc<RefCell<State<T>>>,
}

impl<T: 'static> fmt::Debug for FanOut<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("FanOut")
            .field("branches", &st.branches.len())
            .field("waiting", &st.waiting)
            .finish()
    }
}

impl<T: Clone + 'static> FanOut<T> {
    /// A fan-out of `src` (any readable side), with no branch yet.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::fanout::FanOut;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let _fan = FanOut::new(&src);
    /// ```
    pub fn new(src: &impl ReadableSide<T>) -> Self {
        FanOut {
            src: src.core().clone(),
            state: Rc::new(RefCell::new(State {
                branches: Vec::new(),
                waiting: 0,
                started: false,
                ended: false,
            })),
        }
    }

    /// Adds a branch into `dst` with policy `lag`; returns its index for
    /// [`branch_stats`](Self::branch_stats).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::fanout::{FanOut, Lag};
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let fan = FanOut::new(&src);
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// assert_eq!(fan.add(&dst, Lag::Wait), 0);
    /// ```
    pub fn add(&self, dst: &impl WritableSide<T>, lag: Lag) -> usize {
        let dst: Rc<dyn PipeTarget<T>> = dst.core().clone();
        let i = {
            let mut st = self.state.borrow_mut();
            st.branches.push(Branch {
                dst: dst.clone(),
                lag,
                stats: BranchStats::default(),
            });
            st.branches.len() - 1
        };
        let weak = Rc::downgrade(&self.state);
        let src = self.src.clone();
        dst.drain().add(
            Rc::new(move |_| {
                if let Some(state) = weak.upgrade() {
                    let resume = {
                        let mut st = state.borrow_mut();
                        let b = &mut st.branches[i];
                        if b.stats.waiting {
                            b.stats.waiting = false;
                            st.waiting -= 1;
                            st.waiting == 0
                        } else {
                            false
                        }
                    };
                    if resume {
                        src.clone().resume();
                    }
                }
            }),
            false,
            false,
        );
        let weak = Rc::downgrade(&self.state);
        let src = self.src.clone();
        dst.close()
            .add(Rc::new(move |_| fail_branch(&weak, &src, i)), true, false);
        let weak = Rc::downgrade(&self.state);
        let src = self.src.clone();
        dst.error()
            .add(Rc::new(move |_| fail_branch(&weak, &src, i)), true, false);
        i
    }

    /// Starts the flow: the source emits `'data'` to every branch.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::fanout::{FanOut, Lag};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let fan = FanOut::new(&src);
    /// let i = fan.add(&dst, Lag::Wait);
    /// src.push(Bytes::from_static(b"ab"));
    /// highwater::run_until_idle();
    /// assert_eq!(fan.branch_stats(i).unwrap().delivered, 0); // not started: buffered
    /// assert_eq!(src.readable_length(), 2);
    /// fan.start();
    /// highwater::run_until_idle();
    /// assert_eq!(fan.branch_stats(i).unwrap().delivered, 1);
    /// assert_eq!(src.readable_length(), 0);
    /// ```
    pub fn start(&self) {
        {
            let mut st = self.state.borrow_mut();
            if st.started {
                return;
            }
            st.started = true;
        }
        let state = self.state.clone();
        let src = self.src.clone();
        let on_end = Rc::downgrade(&self.state);
        self.src.on_end(Box::new(move || {
            if let Some(state) = on_end.upgrade() {
                state.borrow_mut().ended = true;
                let live: Vec<_> = state
                    .borrow()
                    .branches
                    .iter()
                    .filter(|b| !b.stats.failed)
                    .map(|b| b.dst.clone())
                    .collect();
                for d in live {
                    d.end();
                }
            }
        }));
        self.src
            .clone()
            .on_data(Box::new(move |chunk: &T| on_data(&state, &src, chunk)));
    }

    /// What happened on branch `i` so far (`None` if there is no such branch).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::fanout::{FanOut, Lag};
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let dst = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    /// let fan = FanOut::new(&src);
    /// let i = fan.add(&dst, Lag::Drop { max: 64 });
    /// fan.start();
    /// src.push(Bytes::from_static(b"a"));
    /// src.push(Bytes::from_static(b"b"));
    /// highwater::run_until_idle();
    /// let s = fan.branch_stats(i).unwrap();
    /// assert_eq!((s.delivered, s.dropped, s.failed), (2, 0, false));
    /// assert_eq!(fan.branch_stats(i + 1), None);
    /// ```
    pub fn branch_stats(&self, i: usize) -> Option<BranchStats> {
        self.state.borrow().branches.get(i).map(|b| b.stats)
    }
}

/// One chunk to every live branch, by policy; pauses the source if a
/// `Wait` branch said `false`.
fn on_data<T: Clone + 'static>(state: &Rc<RefCell<State<T>>>, src: &Src<T>, chunk: &T) {
    let n = state.borrow().branches.len();
    for i in 0..n {
        let (dst, lag) = {
            let st = state.borrow();
            let b = &st.branches[i];
            if b.stats.failed {
                continue;
            }
            (b.dst.clone(), b.lag)
        };
        match lag {
            Lag::Wait => {
                let ok = dst.clone().write(chunk.clone());
                let mut st = state.borrow_mut();
                st.branches[i].stats.delivered += 1;
                if !ok && !dst.dead() && !st.branches[i].stats.waiting {
                    st.branches[i].stats.waiting = true;
                    st.waiting += 1;
                }
            }
            Lag::Drop { max } => {
                if dst.length() >= max {
                    state.borrow_mut().branches[i].stats.dropped += 1;
                } else {
                    let _ = dst.write(chunk.clone());
                    state.borrow_mut().branches[i].stats.delivered += 1;
                }
            }
            Lag::Error { max } => {
                let length = dst.length();
                if length >= max {
                    state.borrow_mut().branches[i].stats.failed = true;
                    dst.error_or_destroy(Error::new(ErrorKind::Overflow { length, limit: max }));
                } else {
                    let _ = dst.write(chunk.clone());
                    state.borrow_mut().branches[i].stats.delivered += 1;
                }
            }
        }
    }
    if state.borrow().waiting > 0 {
        src.clone().pause();
    }
}

/// A destination errored or closed: it leaves the fan-out, and no longer
/// holds the source back.
fn fail_branch<T: 'static>(state: &Weak<RefCell<State<T>>>, src: &Src<T>, i: usize) {
    let Some(state) = state.upgrade() else {
        return;
    };
    let resume = {
        let mut st = state.borrow_mut();
        if st.ended {
            return;
        }
        let was_waiting = std::mem::take(&mut st.branches[i].stats.waiting);
        st.branches[i].stats.failed = true;
        if was_waiting {
            st.waiting -= 1;
            st.waiting == 0
        } else {
            false
        }
    };
    if resume {
        src.clone().resume();
    }
}
