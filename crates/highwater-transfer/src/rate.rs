//! The rate-limit stage: a [`Transform`] that holds each chunk until a rate
//! allows it through, and the stages a transfer puts between its source and
//! its destination.

use std::cell::Cell;
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use bytes::Bytes;
use highwater::{
    Pipeline, ReadableOptions, Transform, TransformDone, TransformImpl, TransformOptions,
    WritableOptions,
};

use crate::config::TransferConfig;

/// A Transform that lets `rate` bytes a second through: each chunk is held
/// until the bytes passed so far, it included, are due at that rate,
/// counted from the first chunk. Its writable side has the mark `writable`
/// (and the low-water mark `low`, if any: *beyond Node*, `'drain'` at that
/// level), its readable side the mark `readable` (at least 1).
///
/// A chunk held fills the stage's buffers, so a writer to it sees
/// backpressure exactly as from a slow consumer.
///
/// # Example
///
/// ```
/// use std::num::NonZeroU64;
/// use std::time::{Duration, Instant};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
/// use highwater_transfer::rate_limit;
///
/// let limit = rate_limit(NonZeroU64::new(10_000).unwrap(), 1000, 1000, None);
/// let source = Readable::<Bytes>::pushed(ReadableOptions::default());
/// for _ in 0..5 {
///     source.push(Bytes::from(vec![0u8; 100]));
/// }
/// source.push_eof();
/// let sink = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
/// let started = Instant::now();
/// highwater::block_on(Pipeline::new(&source).through(&limit).run(&sink)).unwrap();
/// // 500 bytes at 10 kB/s: 50 ms.
/// assert!(started.elapsed() >= Duration::from_millis(50));
/// ```
pub fn rate_limit(
    rate: NonZeroU64,
    writable: usize,
    readable: usize,
    low: Option<usize>,
) -> Transform {
    let mut w = WritableOptions::default().high_water_mark(writable);
    if let Some(low) = low {
        w = w.low_water_mark(low);
    }
    let r = ReadableOptions::default().high_water_mark(readable.max(1));
    Transform::new(TransformOptions::new(w, r), Throttle::new(rate))
}

/// The transform of [`rate_limit`]: when each chunk may go.
struct Throttle {
    /// Bytes a second.
    rate: NonZeroU64,
    /// When the first chunk came.
    start: Cell<Option<Instant>>,
    /// Bytes taken in so far, the current chunk included.
    sent: Cell<u64>,
}

impl Throttle {
    fn new(rate: NonZeroU64) -> Throttle {
        Throttle {
            rate,
            start: Cell::new(None),
            sent: Cell::new(0),
        }
    }

    /// Counts a chunk of `len` bytes taken in at `now`; returns how long it
    /// must still wait (`None`: it may go at once).
    fn take(&self, len: usize, now: Instant) -> Option<Duration> {
        let start = *self.start.get().get_or_insert(now);
        self.start.set(Some(start));
        self.sent.set(self.sent.get().saturating_add(len as u64));
        let due = due_after(self.sent.get(), self.rate);
        due.checked_sub(now.saturating_duration_since(start))
            .filter(|wait| !wait.is_zero())
    }
}

/// How long after the start `bytes` are due at `rate` bytes a second (the
/// longest duration if that is beyond what a `Duration` holds).
fn due_after(bytes: u64, rate: NonZeroU64) -> Duration {
    Duration::try_from_secs_f64(bytes as f64 / rate.get() as f64).unwrap_or(Duration::MAX)
}

impl TransformImpl<Bytes, Bytes> for Throttle {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        let now = Instant::now();
        let Some(wait) = self.take(chunk.len(), now) else {
            done.call(Ok(Some(chunk)));
            return;
        };
        // The deadline is fixed now, not when the task first runs.
        let due = now.checked_add(wait);
        let _task = highwater::spawn(async move {
            match due {
                Some(due) => tokio::time::sleep_until(due.into()).await,
                // Beyond what an Instant holds: tokio clamps this to its
                // far future.
                None => tokio::time::sleep(wait).await,
            }
            done.call(Ok(Some(chunk)));
        });
    }
}

/// The stages between the source and the destination: the rate limits.
pub(crate) struct Stages {
    /// The read rate: a slow producer. Its marks are one read, so it holds
    /// the source back without buffering for it.
    pub(crate) reader: Option<Transform>,
    /// The rate: a slow consumer, the stage whose buffer backpressure fills
    /// first, so it has the write mark and the low-water mark.
    pub(crate) writer: Option<Transform>,
}

impl Stages {
    /// The stages `cfg` asks for.
    pub(crate) fn new(cfg: &TransferConfig) -> Stages {
        let (chunk, mark) = (cfg.chunk_size, cfg.high_water_mark);
        Stages {
            reader: cfg
                .read_rate
                .map(|rate| rate_limit(rate, chunk, chunk, None)),
            writer: cfg
                .rate
                .map(|rate| rate_limit(rate, mark, chunk.min(mark), cfg.low_water_mark)),
        }
    }

    /// Both stages that are there, in order.
    pub(crate) fn all(&self) -> Vec<Transform> {
        self.reader.iter().chain(&self.writer).cloned().collect()
    }

    /// `pipeline` continued through the stages.
    pub(crate) fn extend(&self, pipeline: Pipeline<Bytes>) -> Pipeline<Bytes> {
        self.all().iter().fold(pipeline, |p, t| p.through(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use highwater::prelude::*;

    fn rate(n: u64) -> NonZeroU64 {
        NonZeroU64::new(n).expect("a rate above 0")
    }

    #[test]
    fn each_chunk_waits_until_the_bytes_so_far_are_due() {
        let t = Throttle::new(rate(1000));
        let start = Instant::now();
        // 100 bytes at 1000 B/s: due 100 ms after the start.
        assert_eq!(t.take(100, start), Some(Duration::from_millis(100)));
        // Another 100, taken 50 ms in: due at 200 ms, 150 ms from now.
        let later = start + Duration::from_millis(50);
        assert_eq!(t.take(100, later), Some(Duration::from_millis(150)));
        // 500 ms in, the next 100 (due at 300 ms) go at once.
        let late = start + Duration::from_millis(500);
        assert_eq!(t.take(100, late), None);
    }

    #[test]
    fn a_chunk_exactly_due_goes_at_once() {
        let t = Throttle::new(rate(1000));
        let start = Instant::now();
        assert!(t.take(10, start).is_some());
        assert_eq!(t.take(10, start + Duration::from_millis(20)), None);
    }

    #[test]
    fn an_empty_first_chunk_goes_at_once() {
        let t = Throttle::new(rate(1));
        assert_eq!(t.take(0, Instant::now()), None);
    }

    #[test]
    fn a_due_time_beyond_a_duration_saturates() {
        assert_eq!(due_after(u64::MAX, rate(1)), Duration::MAX);
        assert_eq!(due_after(3, rate(2)), Duration::from_millis(1500));
    }

    #[test]
    fn stages_have_the_marks_of_the_bound() {
        let mut cfg = TransferConfig::new(10, 100);
        assert!(Stages::new(&cfg).all().is_empty());
        cfg.rate = Some(rate(5));
        cfg.read_rate = Some(rate(7));
        cfg.low_water_mark = Some(30);
        let s = Stages::new(&cfg);
        let (reader, writer) = (
            s.reader.as_ref().expect("a reader stage"),
            s.writer.as_ref().expect("a writer stage"),
        );
        assert_eq!(reader.writable_high_water_mark(), 10);
        assert_eq!(reader.readable_high_water_mark(), 10);
        assert_eq!(writer.writable_high_water_mark(), 100);
        assert_eq!(writer.readable_high_water_mark(), 10);
        assert_eq!(writer.writable_stats().low_water_mark, 30);
        assert_eq!(s.all().len(), 2);
    }

    #[test]
    fn the_stage_holds_chunks_to_the_rate() {
        let limit = rate_limit(rate(20_000), 1000, 1000, None);
        let source = highwater::Readable::<Bytes>::pushed(highwater::ReadableOptions::default());
        for _ in 0..4 {
            source.push(Bytes::from(vec![0u8; 500]));
        }
        source.push_eof();
        let sink =
            highwater::Writable::from_fn(highwater::WritableOptions::default(), |_: Bytes| Ok(()));
        let started = Instant::now();
        highwater::block_on(Pipeline::new(&source).through(&limit).run(&sink))
            .expect("the pipeline completes");
        // 2000 bytes at 20 kB/s: 100 ms, the first chunk's 25 ms included.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}
