//! The transfer: any byte readable side (a file, a socket, a `Readable`)
//! piped through the rate stages into any byte writable side, watched all
//! the way.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::rc::Rc;

use crate::config::TransferConfig;
use crate::error::TransferError;
use crate::gauge::{watch_events, Gauge, Record, Sampler};
use crate::observer::Observer;
use crate::rate::Stages;
use crate::report::Report;
use bytes::Bytes;
use highwater::prelude::*;
use highwater::Pipeline;

/// A transfer of `source` into `destination`, through a rate stage for
/// each of the config's rate limits, measured as it goes.
///
/// The streams' own marks are their maker's: for the config's
/// [`buffer_bound`](TransferConfig::buffer_bound) to hold, the source reads
/// at most [`chunk_size`](TransferConfig::chunk_size) bytes at a time and
/// the destination's mark is
/// [`high_water_mark`](TransferConfig::high_water_mark).
///
/// # Example
///
/// A destination that takes 100 kB a second:
///
/// ```
/// use std::num::NonZeroU64;
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
/// use highwater_transfer::{Transfer, TransferConfig};
///
/// let mut cfg = TransferConfig::new(1000, 4000);
/// cfg.rate = NonZeroU64::new(100_000);
/// let report = highwater::block_on(async move {
///     let source = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(1000));
///     for _ in 0..20 {
///         source.push(Bytes::from(vec![1u8; 1000]));
///     }
///     source.push_eof();
///     let destination = Writable::from_fn(WritableOptions::default().high_water_mark(4000), |_: Bytes| Ok(()));
///     Transfer::new(source, destination, cfg).run(std::future::pending()).await
/// })
/// .unwrap();
/// assert_eq!(report.bytes, 20_000);
/// // The rate stage's buffer filled, and write() said so.
/// assert!(report.write_false > 0);
/// assert!(report.seconds >= 0.2);
/// ```
pub struct Transfer<S, D> {
    source: S,
    destination: D,
    config: TransferConfig,
    observer: Option<Rc<dyn Observer>>,
}

impl<S, D> fmt::Debug for Transfer<S, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transfer")
            .field("config", &self.config)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: ReadableSide<Bytes> + Clone + 'static, D: WritableSide<Bytes> + Clone + 'static>
    Transfer<S, D>
{
    /// A transfer of `source` into `destination` run with `config`,
    /// without an observer.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    /// use highwater_transfer::{Transfer, TransferConfig};
    ///
    /// let source = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let destination = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// let transfer = Transfer::new(source, destination, TransferConfig::new(16, 64));
    /// assert!(format!("{transfer:?}").contains("observed: false"));
    /// ```
    pub fn new(source: S, destination: D, config: TransferConfig) -> Transfer<S, D> {
        Transfer {
            source,
            destination,
            config,
            observer: None,
        }
    }

    /// Shows the transfer to `observer`: each of the timer's samples, then
    /// the end.
    ///
    /// # Example
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    /// use highwater_transfer::{Observer, Sample, Transfer, TransferConfig, TransferError};
    ///
    /// /// Counts the samples, and says whether the end was seen.
    /// #[derive(Default)]
    /// struct Count(Cell<usize>, Cell<bool>);
    /// impl Observer for Count {
    ///     fn sample(&self, _: &Sample) {
    ///         self.0.set(self.0.get() + 1);
    ///     }
    ///     fn finished(&self, outcome: &Result<(), TransferError>, _: u64, _: f64) {
    ///         self.1.set(outcome.is_ok());
    ///     }
    /// }
    ///
    /// let count = Rc::new(Count::default());
    /// let seen = count.clone();
    /// highwater::block_on(async move {
    ///     let source = Readable::<Bytes>::pushed(ReadableOptions::default());
    ///     source.push(Bytes::from_static(b"abc"));
    ///     source.push_eof();
    ///     let destination = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    ///     Transfer::new(source, destination, TransferConfig::new(16, 64))
    ///         .observer(seen)
    ///         .run(std::future::pending())
    ///         .await
    /// })
    /// .unwrap();
    /// // At least the last sample, taken as the transfer ended.
    /// assert!(count.0.get() >= 1);
    /// assert!(count.1.get());
    /// ```
    pub fn observer(mut self, observer: impl Observer + 'static) -> Transfer<S, D> {
        self.observer = Some(Rc::new(observer));
        self
    }

    /// Runs the transfer until it is done, a stream fails, or `interrupt`
    /// resolves (a signal, a timeout, a cancel button: whatever the caller
    /// wants to stop it). Must run on the `highwater` event loop
    /// ([`highwater::block_on`] or [`highwater::run`]).
    ///
    /// The observer, if any, sees the end before this returns, whatever
    /// the outcome.
    ///
    /// # Errors
    ///
    /// [`TransferError::Stream`]: the pipeline's first error (the pipeline
    /// destroyed every stream); [`TransferError::Interrupted`]: `interrupt`
    /// resolved first, and every stream was destroyed.
    ///
    /// # Example
    ///
    /// A source that never ends, stopped after 50 ms:
    ///
    /// ```
    /// use std::time::Duration;
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    /// use highwater_transfer::{Transfer, TransferConfig, TransferError};
    ///
    /// let destination = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// let d = destination.clone();
    /// let outcome = highwater::block_on(async move {
    ///     let source = Readable::<Bytes>::pushed(ReadableOptions::default());
    ///     source.push(Bytes::from_static(b"and more to come"));
    ///     Transfer::new(source, d, TransferConfig::new(16, 64))
    ///         .run(tokio::time::sleep(Duration::from_millis(50)))
    ///         .await
    /// });
    /// assert!(matches!(outcome, Err(TransferError::Interrupted)));
    /// assert!(destination.destroyed());
    /// ```
    pub async fn run(self, interrupt: impl Future<Output = ()>) -> Result<Report, TransferError> {
        let stages = Stages::new(&self.config);
        let gauge = Gauge::start(self.source.clone(), &stages, self.destination.clone());
        // Started before the listeners below, so that the pipe's own 'data'
        // listener writes before the gauge samples.
        let pipeline = stages
            .extend(Pipeline::new(&self.source))
            .run(&self.destination);
        let record = Rc::new(RefCell::new(Record::default()));
        watch_events(&gauge, &record);
        let sampler = Sampler::spawn(
            gauge.clone(),
            record.clone(),
            self.observer.clone(),
            self.config.sample_every,
        );
        let outcome = race(pipeline, interrupt, &gauge).await;
        sampler.stop().await;
        let (seconds, bytes) = (gauge.elapsed(), gauge.bytes());
        if let Some(o) = &self.observer {
            o.finished(&outcome, bytes, seconds);
        }
        outcome?;
        let record = record.take();
        Ok(Report::build(
            &self.config,
            bytes,
            seconds,
            &gauge.first_stats(),
            record,
        ))
    }
}

/// Waits for `pipeline` to settle, unless `interrupt` comes first; then
/// destroys every stream the gauge watches.
async fn race<
    S: ReadableSide<Bytes> + Clone + 'static,
    D: WritableSide<Bytes> + Clone + 'static,
>(
    pipeline: impl Future<Output = Result<(), highwater::Error>>,
    interrupt: impl Future<Output = ()>,
    gauge: &Gauge<S, D>,
) -> Result<(), TransferError> {
    tokio::select! {
        r = pipeline => r.map_err(TransferError::Stream),
        () = interrupt => {
            gauge.destroy_all();
            Err(TransferError::Interrupted)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::num::NonZeroU64;

    use bytes::Bytes;
    use highwater::{Readable, ReadableImpl, ReadableOptions, Source, Writable, WritableOptions};

    use super::*;
    use crate::sample::Sample;

    /// A source of `n` chunks of `len` bytes, ended.
    fn source(n: usize, len: usize) -> Readable<Bytes> {
        let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(len));
        for _ in 0..n {
            r.push(Bytes::from(vec![0u8; len]));
        }
        r.push_eof();
        r
    }

    /// `n` chunks of `len` bytes, each made when asked for (so the read
    /// buffer holds what its mark allows, as a file's does).
    struct Chunks(Cell<usize>, usize);

    impl ReadableImpl<Bytes> for Chunks {
        fn read(&self, _size: usize, src: &Source<Bytes>) {
            if self.0.get() == 0 {
                src.push_eof();
                return;
            }
            self.0.set(self.0.get() - 1);
            src.push(Bytes::from(vec![0u8; self.1]));
        }
    }

    /// What an observer saw: samples, and the end's outcome and bytes.
    #[derive(Default)]
    struct Seen {
        samples: Cell<usize>,
        end: Cell<Option<(bool, u64)>>,
    }

    impl Observer for Seen {
        fn sample(&self, _: &Sample) {
            self.samples.set(self.samples.get() + 1);
        }
        fn finished(&self, outcome: &Result<(), TransferError>, bytes: u64, _: f64) {
            self.end.set(Some((outcome.is_ok(), bytes)));
        }
    }

    #[test]
    fn under_a_rate_limit_the_buffers_stay_within_the_bound() {
        let mut cfg = TransferConfig::new(100, 400);
        cfg.rate = NonZeroU64::new(50_000);
        cfg.sample_every = std::time::Duration::from_millis(5);
        let dest = Writable::from_fn(WritableOptions::default().high_water_mark(400), |_| Ok(()));
        let src = Readable::new(
            ReadableOptions::default().high_water_mark(100),
            Chunks(Cell::new(50), 100),
        );
        let r = highwater::block_on(Transfer::new(src, dest, cfg).run(std::future::pending()))
            .expect("the transfer completes");
        assert_eq!(r.bytes, 5000);
        assert_eq!((r.reads, r.read_min, r.read_max), (50, 100, 100));
        // The rate stage's buffer is the one that filled.
        assert!(r.write_false > 0, "{r:?}");
        assert!(
            r.peak_buffered >= 400 && r.peak_buffered < 400 + 100,
            "{}",
            r.peak_buffered
        );
        assert!(r.peak_total_buffered as u64 <= r.buffer_bound, "{r:?}");
        assert!(r.samples.iter().any(|s| s.paused));
        assert!(r.seconds >= 0.1 && r.paused_seconds > 0.0, "{r:?}");
    }

    #[test]
    fn a_failing_destination_is_a_stream_error_the_observer_sees() {
        let seen = Rc::new(Seen::default());
        let dest = Writable::from_fn(WritableOptions::default(), |_: Bytes| {
            Err(highwater::Error::msg("disk full"))
        });
        let outcome = highwater::block_on(
            Transfer::new(source(3, 10), dest, TransferConfig::new(10, 40))
                .observer(seen.clone())
                .run(std::future::pending()),
        );
        match outcome {
            Err(TransferError::Stream(e)) => assert_eq!(e.to_string(), "disk full"),
            other => panic!("{other:?}"),
        }
        assert_eq!(seen.end.get(), Some((false, 0)));
        assert!(seen.samples.get() >= 1);
    }

    #[test]
    fn an_interruption_destroys_every_stream() {
        let mut cfg = TransferConfig::new(10, 40);
        cfg.rate = NonZeroU64::new(1);
        let src = source(3, 10);
        let dest = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
        let (s, d) = (src.clone(), dest.clone());
        let outcome = highwater::block_on(async move {
            let soon = tokio::time::sleep(std::time::Duration::from_millis(20));
            Transfer::new(s, d, cfg).run(soon).await
        });
        assert!(matches!(outcome, Err(TransferError::Interrupted)));
        assert!(src.destroyed() && dest.destroyed());
    }
}
