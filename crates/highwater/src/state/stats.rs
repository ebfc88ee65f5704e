//! Observable buffers (beyond Node): a cheap snapshot of a stream side's
//! buffer, marks and counters.
//!
//! Node shows `writableLength` and `writableNeedDrain` and nothing of the
//! history. Every highwater stream keeps a few counters on its hot path (a
//! few adds and compares per write or push, about 25 instructions of the
//! 190 a write costs; a clock read only when backpressure starts or ends)
//! and hands them out as a plain `Copy` value:
//! [`WritableSide::writable_stats`](crate::WritableSide::writable_stats) and
//! [`ReadableSide::readable_stats`](crate::ReadableSide::readable_stats) (a
//! [`Duplex`](crate::Duplex) has both). Sample them as often as you like:
//! taking a snapshot costs one borrow and a copy. The CLI's `--stats`,
//! `--progress` and `--plot` are built on them.
//!
//! # Examples
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::{Done, Writable, WritableImpl, WritableOptions};
//!
//! #[derive(Clone, Default)]
//! struct Held(Rc<RefCell<Vec<Done>>>);
//! impl WritableImpl<Bytes> for Held {
//!     fn write(&self, _c: Bytes, done: Done) { self.0.borrow_mut().push(done) }
//! }
//!
//! let sink = Held::default();
//! let w = Writable::new(WritableOptions::default().high_water_mark(4), sink.clone());
//! assert!(w.write(Bytes::from_static(b"ab")));
//! assert!(!w.write(Bytes::from_static(b"cdef")));
//! let s = w.writable_stats();
//! assert_eq!((s.length, s.items, s.peak_length, s.false_returns), (6, 2, 6, 1));
//! assert!(s.need_drain && s.under_backpressure.is_some());
//!
//! // Completing "ab" hands "cdef" to the sink; then complete that too.
//! loop {
//!     let next = sink.0.borrow_mut().pop();
//!     let Some(done) = next else { break };
//!     done.ok();
//! }
//! highwater::run_until_idle();
//! let s = w.writable_stats();
//! assert_eq!((s.length, s.bytes_in, s.bytes_out, s.drains), (0, 6, 6, 1));
//! ```

use std::time::{Duration, Instant};

/// A snapshot of a writable side. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions, WritableStats};
///
/// let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Bytes| Ok(()));
/// w.cork();
/// assert!(!w.write(Bytes::from_static(b"hello")));
/// let s: WritableStats = w.writable_stats();
/// assert_eq!((s.length, s.items, s.high_water_mark), (5, 1, 4));
/// assert_eq!((s.writes, s.false_returns, s.bytes_in, s.bytes_out), (1, 1, 5, 0));
/// assert!(s.need_drain);
///
/// w.uncork();
/// highwater::run_until_idle();
/// let s = w.writable_stats();
/// assert_eq!((s.length, s.bytes_out, s.drains, s.peak_length), (0, 5, 1, 5));
/// assert!(!s.need_drain && s.under_backpressure.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WritableStats {
    /// Bytes (weights, or items in object mode) accepted and not yet
    /// written, the in-flight write included: Node's `writableLength`.
    pub length: usize,
    /// Chunks accepted and not yet written, the in-flight ones included.
    pub items: usize,
    /// The high-water mark.
    pub high_water_mark: usize,
    /// The low-water mark: `'drain'` comes when `length` falls to it (0 is
    /// Node's behaviour).
    pub low_water_mark: usize,
    /// The item bound, if any ([`WritableOptions::max_items`](crate::WritableOptions::max_items)).
    pub max_items: Option<usize>,
    /// Node's `writableNeedDrain`: a `write()` returned false and `'drain'`
    /// has not come yet.
    pub need_drain: bool,
    /// The highest `length` seen.
    pub peak_length: usize,
    /// Chunks accepted by `write()`.
    pub writes: u64,
    /// Times `write()` returned false.
    pub false_returns: u64,
    /// `'drain'` events emitted.
    pub drains: u64,
    /// Bytes (weights) accepted by `write()`.
    pub bytes_in: u64,
    /// Bytes (weights) the sink finished writing without error.
    pub bytes_out: u64,
    /// Total time spent waiting for `'drain'` (from a `write()` that returned
    /// false to the `'drain'`), not counting the current wait.
    pub backpressure_time: Duration,
    /// How long the current wait has lasted, if the stream waits for `'drain'`.
    pub under_backpressure: Option<Duration>,
}

/// A snapshot of a readable side. See the [module docs](self).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions, ReadableStats};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
/// assert!(!r.push(Bytes::from_static(b"hello"))); // 5 >= 4: stop producing
/// assert_eq!(r.read(Some(2)), Some(Bytes::from_static(b"he")));
/// let s: ReadableStats = r.readable_stats();
/// assert_eq!((s.length, s.items, s.peak_length), (3, 1, 5));
/// assert_eq!((s.pushes, s.false_returns, s.bytes_in, s.bytes_out), (1, 1, 5, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadableStats {
    /// Bytes (weights, or items in object mode) buffered: Node's
    /// `readableLength`.
    pub length: usize,
    /// Chunks buffered.
    pub items: usize,
    /// The high-water mark.
    pub high_water_mark: usize,
    /// The highest `length` seen.
    pub peak_length: usize,
    /// Chunks accepted by `push()`/`unshift()` (not counting dropped ones).
    pub pushes: u64,
    /// Times `push()` returned false (the source should stop producing).
    pub false_returns: u64,
    /// Bytes (weights) accepted by `push()`.
    pub bytes_in: u64,
    /// Bytes (weights) handed to consumers (`read()`, `'data'`).
    pub bytes_out: u64,
    /// Total time between a `push()` that returned false and the next
    /// `_read()` call, not counting the current wait.
    pub backpressure_time: Duration,
    /// How long the current wait has lasted, if the source was told to stop.
    pub under_backpressure: Option<Duration>,
    /// Chunks dropped by the [`Overflow`](crate::Overflow) policy.
    pub dropped_chunks: u64,
    /// Bytes (weights) dropped by the overflow policy.
    pub dropped_bytes: u64,
    /// Pushes refused with `ERR_STREAM_OVERFLOW`.
    pub overflow_errors: u64,
}

/// The time a side spends under backpressure: started by a `false`, ended
/// by `'drain'` (or the next `_read`). A clock read only at the edges.
#[derive(Debug, Default)]
pub(crate) struct PressureClock {
    since: Option<Instant>,
    total: Duration,
}

impl PressureClock {
    /// Backpressure starts (no-op if it already has).
    #[inline]
    pub(crate) fn start(&mut self) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    /// Backpressure ends (no-op if it had not started).
    #[inline]
    pub(crate) fn stop(&mut self) {
        if self.since.is_some() {
            self.stop_started();
        }
    }

    #[cold]
    #[inline(never)]
    fn stop_started(&mut self) {
        if let Some(t) = self.since.take() {
            self.total += t.elapsed();
        }
    }

    pub(crate) fn total(&self) -> Duration {
        self.total
    }

    pub(crate) fn current(&self) -> Option<Duration> {
        self.since.map(|t| t.elapsed())
    }
}
