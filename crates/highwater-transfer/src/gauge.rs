//! Watching a transfer: the [`Gauge`] that reads its state, the [`Record`]
//! of its samples and chunks, the event listeners that sample it after each
//! chunk and each `'drain'`, and the [`Sampler`] that samples it on a timer.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use highwater::{Transform, WritableEvent, WritableStats};

use crate::observer::Observer;
use crate::rate::Stages;
use crate::sample::Sample;
use bytes::Bytes;
use highwater::prelude::*;

/// Samples taken at events (each chunk, each drain) stop here; the timer's
/// samples go on, so a long transfer keeps a bounded, coarser record.
pub(crate) const MAX_EVENT_SAMPLES: usize = 50_000;

/// What the engine watches: the first destination's buffer (the rate
/// stage's, or the destination's: the one backpressure fills first, whose
/// false returns pause the reader), and every buffer of the transfer
/// together.
#[derive(Clone)]
pub(crate) struct Gauge<S, D> {
    started: Instant,
    source: S,
    stages: Vec<Transform>,
    first: Option<Transform>,
    destination: D,
}

impl<S: ReadableSide<Bytes> + Clone + 'static, D: WritableSide<Bytes> + Clone + 'static>
    Gauge<S, D>
{
    /// A gauge over the transfer of `source` through `stages` into
    /// `destination`, its clock started now.
    pub(crate) fn start(source: S, stages: &Stages, destination: D) -> Gauge<S, D> {
        Gauge {
            started: Instant::now(),
            source,
            stages: stages.all(),
            first: stages.writer.clone(),
            destination,
        }
    }

    /// Seconds since the start.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Bytes written to the destination.
    pub(crate) fn bytes(&self) -> u64 {
        self.destination.writable_stats().bytes_out
    }

    /// The first destination's stats: buffer level, peak, false returns,
    /// drains, time under backpressure.
    pub(crate) fn first_stats(&self) -> WritableStats {
        match &self.first {
            Some(t) => t.writable_stats(),
            None => self.destination.writable_stats(),
        }
    }

    /// Bytes held by every buffer of the transfer.
    fn total_buffered(&self) -> usize {
        let stages: usize = self
            .stages
            .iter()
            .map(|t| t.writable_length() + t.readable_length())
            .sum();
        self.source.readable_length() + stages + self.destination.writable_length()
    }

    /// The state now.
    pub(crate) fn sample(&self) -> Sample {
        let st = self.first_stats();
        Sample {
            t: self.elapsed(),
            buffered: st.length,
            total_buffered: self.total_buffered(),
            paused: st.need_drain,
            bytes: self.bytes(),
        }
    }

    /// Destroys every stream of the transfer, the source first.
    pub(crate) fn destroy_all(&self) {
        self.source.destroy(None);
        for t in &self.stages {
            t.destroy(None);
        }
        self.destination.destroy(None);
    }

    /// Calls `f` at each `'drain'` of the first destination.
    fn on_first_drain(&self, f: impl Fn() + 'static) {
        match &self.first {
            Some(t) => {
                t.on(WritableEvent::Drain, f);
            }
            None => {
                self.destination.on(WritableEvent::Drain, f);
            }
        }
    }
}

/// The samples of a transfer, and the chunks as read.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Every sample, in the order taken (events and timer interleaved).
    pub(crate) samples: Vec<Sample>,
    /// Samples taken at events (the timer's are not counted).
    event_samples: usize,
    /// Chunks read.
    pub(crate) reads: u64,
    /// The smallest chunk read, once one was.
    pub(crate) read_min: Option<usize>,
    /// The largest chunk read.
    pub(crate) read_max: usize,
}

impl Record {
    /// Counts a chunk of `len` bytes read.
    fn read(&mut self, len: usize) {
        self.reads += 1;
        self.read_min = Some(self.read_min.map_or(len, |m| m.min(len)));
        self.read_max = self.read_max.max(len);
    }

    /// Keeps `take()`'s sample of an event, while there is room for one.
    fn event_sample(&mut self, take: impl FnOnce() -> Sample) {
        if self.event_samples < MAX_EVENT_SAMPLES {
            self.event_samples += 1;
            self.samples.push(take());
        }
    }
}

/// Samples the transfer after every chunk read and every `'drain'` of the
/// first destination (up to [`MAX_EVENT_SAMPLES`]), so a plot shows every
/// rise and fall, not just the timer's view; counts the chunks as read.
/// The pipe's own `'data'` listener writes first (it was added when the
/// pipeline started), so a sample here sees the buffer right after the
/// write.
pub(crate) fn watch_events<
    S: ReadableSide<Bytes> + Clone + 'static,
    D: WritableSide<Bytes> + Clone + 'static,
>(
    gauge: &Gauge<S, D>,
    record: &Rc<RefCell<Record>>,
) {
    let event = {
        let (gauge, record) = (gauge.clone(), record.clone());
        Rc::new(move |chunk: Option<usize>| {
            let mut r = record.borrow_mut();
            if let Some(len) = chunk {
                r.read(len);
            }
            r.event_sample(|| gauge.sample());
        })
    };
    let on_chunk = event.clone();
    gauge
        .source
        .on_data(move |chunk| on_chunk(Some(chunk.len())));
    gauge.on_first_drain(move || event(None));
}

/// The timer's sampling, on a task of its own: a sample every period (kept
/// in the record, shown to the observer) until stopped or the destination
/// is destroyed.
pub(crate) struct Sampler {
    /// Wakes the task from its sleep.
    wake: Rc<tokio::sync::Notify>,
    /// The transfer is over: the task takes a last sample and ends.
    done: Rc<Cell<bool>>,
    task: highwater::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling `gauge` every `every`.
    pub(crate) fn spawn<
        S: ReadableSide<Bytes> + Clone + 'static,
        D: WritableSide<Bytes> + Clone + 'static,
    >(
        gauge: Gauge<S, D>,
        record: Rc<RefCell<Record>>,
        observer: Option<Rc<dyn Observer>>,
        every: Duration,
    ) -> Sampler {
        let wake = Rc::new(tokio::sync::Notify::new());
        let done = Rc::new(Cell::new(false));
        let (w, d) = (wake.clone(), done.clone());
        let task = highwater::spawn(async move {
            loop {
                let s = gauge.sample();
                record.borrow_mut().samples.push(s);
                if let Some(o) = &observer {
                    o.sample(&s);
                }
                if d.get() || gauge.destination.destroyed() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = w.notified() => {}
                }
            }
        });
        Sampler { wake, done, task }
    }

    /// Stops the sampling (at once, not after the current sleep) and waits
    /// for its last sample.
    pub(crate) async fn stop(self) {
        self.done.set(true);
        self.wake.notify_one();
        self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: f64) -> Sample {
        Sample {
            t,
            buffered: 0,
            total_buffered: 0,
            paused: false,
            bytes: 0,
        }
    }

    #[test]
    fn reads_are_counted_with_their_smallest_and_largest() {
        let mut r = Record::default();
        assert_eq!((r.reads, r.read_min, r.read_max), (0, None, 0));
        for len in [300, 100, 500, 200] {
            r.read(len);
        }
        assert_eq!((r.reads, r.read_min, r.read_max), (4, Some(100), 500));
    }

    #[test]
    fn event_samples_stop_at_the_cap() {
        let mut r = Record::default();
        for i in 0..MAX_EVENT_SAMPLES + 10 {
            r.event_sample(|| at(i as f64));
        }
        assert_eq!(r.samples.len(), MAX_EVENT_SAMPLES);
        // The timer's samples are not counted against the cap.
        r.samples.push(at(-1.0));
        assert_eq!(r.event_samples, MAX_EVENT_SAMPLES);
    }
}
