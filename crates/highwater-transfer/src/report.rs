//! What a completed transfer measured: the [`Report`] (data only; turning
//! it into text, JSON or a plot is the caller's business), and the rate
//! arithmetic over its samples.

use highwater::WritableStats;

use crate::config::TransferConfig;
use crate::gauge::Record;
use crate::sample::Sample;

/// The shortest window [`window_rates`] measures a rate over, in seconds.
const MIN_WINDOW: f64 = 0.05;

/// What happened during a transfer that completed.
///
/// The counters are the first destination's (the rate stage if there is
/// one, the destination otherwise: the buffer backpressure fills first).
///
/// # Example
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
/// use highwater_transfer::{Transfer, TransferConfig};
///
/// let report = highwater::block_on(async {
///     let source = Readable::<Bytes>::pushed(ReadableOptions::default());
///     source.push(Bytes::from_static(b"hello"));
///     source.push_eof();
///     let destination = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
///     Transfer::new(source, destination, TransferConfig::new(16, 64))
///         .run(std::future::pending())
///         .await
/// })
/// .unwrap();
/// assert_eq!((report.bytes, report.reads, report.read_max), (5, 1, 5));
/// assert_eq!(report.write_false, 0);
/// assert!(report.samples.windows(2).all(|w| w[0].t <= w[1].t));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Bytes written to the destination.
    pub bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Average rate, bytes per second (0 for a transfer that took no time).
    pub avg_rate: f64,
    /// Slowest rate over the sample windows, bytes per second (see
    /// [`window_rates`]).
    pub min_rate: f64,
    /// Fastest rate over the sample windows, bytes per second.
    pub max_rate: f64,
    /// How often `write()` returned `false` (each paused the reader).
    pub write_false: u64,
    /// How often the reader was paused and resumed (one pause per false
    /// return).
    pub pauses: u64,
    /// `'drain'` events of the write buffer.
    pub drains: u64,
    /// Seconds the reader spent paused.
    pub paused_seconds: f64,
    /// The most bytes the write buffer held.
    pub peak_buffered: usize,
    /// The write buffer's mark.
    pub high_water_mark: usize,
    /// The low-water mark, if set (`'drain'` at this level, not 0).
    pub low_water_mark: Option<usize>,
    /// The read size asked for (the most one read returns).
    pub chunk_size: usize,
    /// Chunks read from the source.
    pub reads: u64,
    /// The smallest chunk read (0 if none was).
    pub read_min: usize,
    /// The largest chunk read.
    pub read_max: usize,
    /// The most bytes the transfer's buffers can hold together, by
    /// construction (see [`TransferConfig::buffer_bound`]).
    pub buffer_bound: u64,
    /// The most bytes all the transfer's buffers held together at one
    /// sample (after a chunk was read, at a `'drain'`, on the timer).
    pub peak_total_buffered: usize,
    /// The samples, in time order.
    pub samples: Vec<Sample>,
}

impl Report {
    /// The report of a transfer run with `cfg` that wrote `bytes` in
    /// `seconds`, with the first destination's final stats `st` and what
    /// was recorded along the way.
    pub(crate) fn build(
        cfg: &TransferConfig,
        bytes: u64,
        seconds: f64,
        st: &WritableStats,
        record: Record,
    ) -> Report {
        let samples = in_time_order(record.samples);
        let (min_rate, max_rate) = window_rates(&samples);
        Report {
            bytes,
            seconds,
            avg_rate: average(bytes, seconds),
            min_rate,
            max_rate,
            write_false: st.false_returns,
            pauses: st.false_returns,
            drains: st.drains,
            paused_seconds: paused_seconds(st),
            peak_buffered: st.peak_length,
            high_water_mark: cfg.high_water_mark,
            low_water_mark: cfg.low_water_mark,
            chunk_size: cfg.chunk_size,
            reads: record.reads,
            read_min: record.read_min.unwrap_or(0),
            read_max: record.read_max,
            buffer_bound: u64::try_from(cfg.buffer_bound()).unwrap_or(u64::MAX),
            peak_total_buffered: peak_total(&samples),
            samples,
        }
    }
}

/// `samples` sorted by time (the events' and the timer's were interleaved
/// as they were taken).
fn in_time_order(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.sort_by(|a, b| a.t.total_cmp(&b.t));
    samples
}

/// `bytes` over `seconds`, or 0 for no time at all.
fn average(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds
    } else {
        0.0
    }
}

/// The time spent under backpressure, the current wait included.
fn paused_seconds(st: &WritableStats) -> f64 {
    (st.backpressure_time + st.under_backpressure.unwrap_or_default()).as_secs_f64()
}

/// The most bytes buffered together at one sample.
fn peak_total(samples: &[Sample]) -> usize {
    samples.iter().map(|s| s.total_buffered).max().unwrap_or(0)
}

/// The slowest and fastest rates, in bytes per second, between samples at
/// least 50 ms apart (so that a tiny window does not make a silly rate):
/// each window runs from the end of the previous one to the first sample
/// 50 ms or more later. `(0.0, 0.0)` when the samples span less than one
/// window.
///
/// `samples` must be in time order, their byte counts never falling.
///
/// # Example
///
/// ```
/// use highwater::prelude::*;
/// use highwater_transfer::{window_rates, Sample};
///
/// let at = |t: f64, bytes: u64| Sample { t, buffered: 0, total_buffered: 0, paused: false, bytes };
/// // 100 bytes in the first 100 ms, 400 in the next.
/// let samples = [at(0.0, 0), at(0.1, 100), at(0.2, 500)];
/// let (min, max) = window_rates(&samples);
/// assert!((min - 1000.0).abs() < 1e-6 && (max - 4000.0).abs() < 1e-6);
/// assert_eq!(window_rates(&samples[..1]), (0.0, 0.0));
/// ```
pub fn window_rates(samples: &[Sample]) -> (f64, f64) {
    let rates = windows(samples);
    if rates.is_empty() {
        return (0.0, 0.0);
    }
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    (min, max)
}

/// The rate of each window of at least [`MIN_WINDOW`] seconds.
fn windows(samples: &[Sample]) -> Vec<f64> {
    let mut rates = Vec::new();
    let Some(mut from) = samples.first() else {
        return rates;
    };
    for s in &samples[1..] {
        let span = s.t - from.t;
        if span >= MIN_WINDOW {
            rates.push(s.bytes.saturating_sub(from.bytes) as f64 / span);
            from = s;
        }
    }
    rates
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(t: f64, bytes: u64) -> Sample {
        Sample {
            t,
            buffered: 0,
            total_buffered: 0,
            paused: false,
            bytes,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn windows_shorter_than_50_ms_are_merged_into_the_next() {
        // 0 → 0.02 → 0.06: one window of 60 ms with 600 bytes, not a
        // 20 ms one.
        let s = [at(0.0, 0), at(0.02, 500), at(0.06, 600), at(0.16, 700)];
        let (min, max) = window_rates(&s);
        assert!(close(max, 10_000.0), "{max}");
        assert!(close(min, 1_000.0), "{min}");
    }

    #[test]
    fn a_window_of_exactly_50_ms_counts() {
        let (min, max) = window_rates(&[at(0.0, 0), at(0.05, 50)]);
        assert!(close(min, 1000.0) && close(max, 1000.0), "{min} {max}");
    }

    #[test]
    fn too_few_samples_give_no_rates() {
        assert_eq!(window_rates(&[]), (0.0, 0.0));
        assert_eq!(window_rates(&[at(0.0, 0), at(0.049, 1000)]), (0.0, 0.0));
    }

    #[test]
    fn a_stall_is_the_minimum() {
        let s = [at(0.0, 0), at(0.1, 100), at(0.2, 100), at(0.3, 300)];
        let (min, max) = window_rates(&s);
        assert_eq!(min, 0.0);
        assert!(close(max, 2000.0), "{max}");
    }

    fn stats() -> WritableStats {
        WritableStats {
            false_returns: 7,
            drains: 6,
            peak_length: 900,
            backpressure_time: Duration::from_millis(1500),
            under_backpressure: Some(Duration::from_millis(250)),
            ..WritableStats::default()
        }
    }

    fn record() -> Record {
        let mut r = Record::default();
        r.samples = vec![at(0.2, 300), at(0.0, 0), at(0.1, 100)];
        r.samples[0].total_buffered = 10;
        r.samples[2].total_buffered = 40;
        r.reads = 3;
        r.read_min = Some(50);
        r.read_max = 200;
        r
    }

    #[test]
    fn the_report_takes_the_first_destinations_counters() {
        let mut cfg = TransferConfig::new(64, 256);
        cfg.low_water_mark = Some(32);
        let r = Report::build(&cfg, 1000, 2.0, &stats(), record());
        assert_eq!((r.write_false, r.pauses, r.drains), (7, 7, 6));
        assert_eq!(r.peak_buffered, 900);
        // The time under backpressure includes the wait still going on.
        assert!(close(r.paused_seconds, 1.75), "{}", r.paused_seconds);
        assert_eq!(
            (r.high_water_mark, r.low_water_mark, r.chunk_size),
            (256, Some(32), 64)
        );
        assert_eq!((r.reads, r.read_min, r.read_max), (3, 50, 200));
        assert_eq!(r.buffer_bound, 3 * 64 + 256);
        assert!(close(r.avg_rate, 500.0));
    }

    #[test]
    fn the_report_sorts_its_samples_and_finds_their_peak() {
        let r = Report::build(&TransferConfig::new(64, 256), 300, 0.2, &stats(), record());
        let times: Vec<f64> = r.samples.iter().map(|s| s.t).collect();
        assert_eq!(times, [0.0, 0.1, 0.2]);
        assert_eq!(r.peak_total_buffered, 40);
        // From the sorted samples: 1000 B/s, then 2000 B/s.
        assert!(close(r.min_rate, 1000.0) && close(r.max_rate, 2000.0));
    }

    #[test]
    fn a_transfer_of_no_time_has_no_average() {
        let r = Report::build(
            &TransferConfig::new(64, 256),
            10,
            0.0,
            &stats(),
            Record::default(),
        );
        assert_eq!(r.avg_rate, 0.0);
        assert_eq!((r.read_min, r.peak_total_buffered), (0, 0));
    }
}
