//! The transfer engine behind `highwater copy`, `pipe`, `send`, `recv` and
//! the demo: a source (a file read stream or a socket) piped, through an
//! optional rate limiter, into a destination (a file write stream or a
//! socket), with what backpressure did measured along the way.
//!
//! Everything is the library's: `fs` and `net` streams, a `Transform` for the
//! rate limit, `Pipeline` for error handling. The engine only watches, through
//! the first destination's `writable_stats()` (the library's observable
//! buffer): its false returns (pipe pauses the reader exactly then), drains,
//! peak, time under backpressure, and its buffer level, sampled after every
//! chunk, at every `'drain'` and every few milliseconds (for the rates, the
//! progress bar and the plot).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use highwater::fs::{read_stream_from_file, ReadStream, ReadStreamOptions, WriteStream};
use highwater::net::Socket;
use highwater::{
    Duplex, DuplexOptions, Error, Pipeline, Transform, TransformDone, TransformImpl, WritableEvent,
    WritableStats,
};

use crate::endpoint::Endpoint;
use crate::error::CliError;
use crate::options::budget;
use crate::progress::Progress;

/// Samples taken at events (each chunk, each drain) stop here; the timer's
/// samples go on, so a long copy keeps a bounded, coarser record.
const MAX_EVENT_SAMPLES: usize = 50_000;

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyConfig {
    /// The command, for reports and plots: `copy`, `pipe`, `send`, `recv`.
    pub command: &'static str,
    /// Bytes per read (the read stream's mark).
    pub chunk_size: usize,
    /// The write buffer's mark.
    pub high_water_mark: usize,
    /// *Beyond Node* (mbuffer's `-p`): the reader resumes once the write
    /// buffer has fallen to this level, not only once it is empty.
    pub low_water_mark: Option<usize>,
    /// A hard cap on the bytes buffered by the whole transfer (mbuffer's
    /// `-m`): the marks and the read size are checked (or chosen) so that
    /// every buffer together stays under it.
    pub max_memory: Option<usize>,
    /// Bytes per second the destination is allowed to take (a slow consumer).
    pub rate: Option<u64>,
    /// Bytes per second the source is read at (mbuffer's `-r`).
    pub read_rate: Option<u64>,
    /// The size to show progress against when the source cannot tell it
    /// (a pipe, a socket): pv's `-s`.
    pub size: Option<u64>,
    /// Write to a temporary file and rename it over the destination on success.
    pub atomic: bool,
    /// `fsync` the destination before closing it.
    pub fsync: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Time between plain progress lines when stderr is not a terminal.
    pub progress_interval: Duration,
    /// How often the buffer is sampled (for rates, progress and the plot).
    pub sample_every: Duration,
}

/// A sample of the copy's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// Bytes waiting in the write buffer.
    pub buffered: usize,
    /// Bytes held by all the transfer's buffers together (the source's read
    /// buffer, the rate stages, the write buffer).
    pub total_buffered: usize,
    /// The reader is paused by backpressure.
    pub paused: bool,
    /// Bytes written so far.
    pub bytes: u64,
}

/// What happened during a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The command that made it (`copy`, `pipe`, `send`, `recv`).
    pub command: &'static str,
    /// What was transferred, for people: `'a.bin' to 'b.bin'`,
    /// `standard input to 127.0.0.1:9000`.
    pub label: String,
    /// The size of the whole transfer, if known (the source's size, or
    /// `--size`).
    pub size: Option<u64>,
    /// Bytes copied.
    pub bytes: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Average rate, bytes per second.
    pub avg_rate: f64,
    /// Slowest and fastest rate over the sample windows, bytes per second.
    pub min_rate: f64,
    /// See `min_rate`.
    pub max_rate: f64,
    /// How often `write()` returned `false` (each paused the reader).
    pub write_false: u64,
    /// How often the reader was paused and resumed.
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
    /// The cap on buffered memory, if set.
    pub max_memory: Option<usize>,
    /// The most bytes the transfer's buffers can hold together, by
    /// construction (see `options::budget`).
    pub buffer_bound: u64,
    /// The most bytes all the transfer's buffers held together at one
    /// sample (after a chunk was read, at a `'drain'`, on the timer).
    pub peak_total_buffered: usize,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// A rate limiter: holds each chunk until the rate allows it through.
struct Throttle {
    rate: u64,
    start: Cell<Option<Instant>>,
    sent: Cell<u64>,
}

impl TransformImpl<Bytes, Bytes> for Throttle {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        let start = *self.start.get().get_or_insert_with(Instant::now);
        self.start.set(Some(start));
        self.sent.set(self.sent.get() + chunk.len() as u64);
        let due = start + Duration::from_secs_f64(self.sent.get() as f64 / self.rate as f64);
        if Instant::now() >= due {
            done.call(Ok(Some(chunk)));
        } else {
            let _task = highwater::spawn(async move {
                tokio::time::sleep_until(due.into()).await;
                done.call(Ok(Some(chunk)));
            });
        }
    }
}

/// A read stream over the source file.
pub fn input_stream(file: File, cfg: &CopyConfig) -> Result<ReadStream, CliError> {
    read_stream_from_file(
        file,
        ReadStreamOptions {
            high_water_mark: cfg.chunk_size,
            ..Default::default()
        },
    )
    .map_err(|e| CliError::Failed(e.to_string()))
}

/// Where a transfer reads from.
#[derive(Clone)]
pub enum Input {
    /// A file (or standard input).
    File(ReadStream),
    /// A connection's readable side.
    Socket(Socket),
}

/// Where a transfer writes to.
#[derive(Clone)]
pub enum Output {
    /// A file (or standard output).
    File(WriteStream),
    /// A connection's writable side.
    Socket(Socket),
}

macro_rules! on_input {
    ($i:expr, $v:ident => $e:expr) => {
        match $i {
            Input::File($v) => $e,
            Input::Socket($v) => $e,
        }
    };
}

macro_rules! on_output {
    ($o:expr, $v:ident => $e:expr) => {
        match $o {
            Output::File($v) => $e,
            Output::Socket($v) => $e,
        }
    };
}

impl Input {
    fn readable_length(&self) -> usize {
        on_input!(self, r => r.readable_length())
    }
    fn destroy(&self) {
        on_input!(self, r => r.destroy(None))
    }
    fn on_data(&self, f: impl Fn(&Bytes) + 'static) {
        on_input!(self, r => { r.on_data(f); })
    }
    fn pipeline(&self) -> Pipeline<Bytes> {
        match self {
            Input::File(r) => Pipeline::new(r.readable()),
            Input::Socket(s) => Pipeline::new(s.duplex()),
        }
    }
}

impl Output {
    /// Bytes written: to the file, or handed to the kernel for the peer.
    fn bytes(&self) -> u64 {
        on_output!(self, w => w.bytes_written())
    }
    fn writable_length(&self) -> usize {
        on_output!(self, w => w.writable_length())
    }
    fn writable_stats(&self) -> WritableStats {
        on_output!(self, w => w.writable_stats())
    }
    fn destroyed(&self) -> bool {
        on_output!(self, w => w.destroyed())
    }
    fn destroy(&self) {
        on_output!(self, w => w.destroy(None))
    }
    fn on_drain(&self, f: impl Fn() + 'static) {
        on_output!(self, w => { w.on(WritableEvent::Drain, f); })
    }
    fn run(&self, p: Pipeline<Bytes>) -> Pin<Box<dyn Future<Output = Result<(), Error>>>> {
        match self {
            Output::File(w) => Box::pin(p.run(w.writable_stream())),
            Output::Socket(s) => Box::pin(p.run(s.duplex())),
        }
    }
}

/// A rate stage: a Transform whose [`Throttle`] holds each chunk until its
/// rate allows it through, with marks `writable` and `readable`.
fn rate_stage(rate: u64, writable: usize, readable: usize, low: Option<usize>) -> Transform {
    let mut opts = DuplexOptions::default()
        .writable_high_water_mark(writable)
        .readable_high_water_mark(readable.max(1));
    opts.writable_low_water_mark = low;
    Duplex::transform(
        opts,
        Throttle {
            rate,
            start: Cell::new(None),
            sent: Cell::new(0),
        },
    )
}

/// Pipes `input` into `output` (through the rate stages of `cfg.read_rate`
/// and `cfg.rate`), watching backpressure, until done, failed, or
/// interrupted by a signal.
///
/// # Errors
///
/// `describe(e)` for a stream error; [`CliError::BrokenPipe`] when the
/// reader of an output pipe went away; [`CliError::Interrupted`] on
/// SIGINT/SIGTERM (every stream is destroyed then).
pub async fn transfer(
    input: Input,
    output: Output,
    size: Option<u64>,
    cfg: &CopyConfig,
    label: String,
    signals: &mut Signals,
    describe: &dyn Fn(&Error) -> CliError,
) -> Result<Report, CliError> {
    let (chunk, mark) = (cfg.chunk_size, cfg.high_water_mark);
    // A slow producer: reads go no faster than the read rate. Its marks are
    // one read, so it holds the source back without buffering for it.
    let reader_stage: Option<Transform> = cfg
        .read_rate
        .map(|rate| rate_stage(rate, chunk, chunk, None));
    // A slow consumer: the stage whose buffer backpressure fills first, so
    // it has the write mark (and the low-water mark).
    let writer_stage: Option<Transform> = cfg
        .rate
        .map(|rate| rate_stage(rate, mark, chunk.min(mark), cfg.low_water_mark));
    // Everything the report says about backpressure comes from the first
    // destination's stats (the rate stage's, or the output's): its buffer
    // level, peak, false returns (each pauses the reader), drains and time
    // under backpressure.
    let first_stats: Rc<dyn Fn() -> WritableStats> = match &writer_stage {
        Some(t) => {
            let t = t.clone();
            Rc::new(move || t.writable_stats())
        }
        None => {
            let w = output.clone();
            Rc::new(move || w.writable_stats())
        }
    };
    // Every buffer of the transfer together: what --max-memory bounds.
    let total_len: Rc<dyn Fn() -> usize> = {
        let (input, output) = (input.clone(), output.clone());
        let stages: Vec<Transform> = reader_stage.iter().chain(&writer_stage).cloned().collect();
        Rc::new(move || {
            input.readable_length()
                + output.writable_length()
                + stages
                    .iter()
                    .map(|t| t.writable_length() + t.readable_length())
                    .sum::<usize>()
        })
    };

    let started = Instant::now();
    let size = cfg.size.or(size);
    let progress = cfg.progress.then(|| Progress::new(size, cfg));
    let pipeline = {
        let mut p = input.pipeline();
        if let Some(t) = &reader_stage {
            p = p.through(t);
        }
        if let Some(t) = &writer_stage {
            p = p.through(t);
        }
        output.run(p)
    };
    let sample: Rc<dyn Fn() -> Sample> = {
        let (first_stats, total_len, output) =
            (first_stats.clone(), total_len.clone(), output.clone());
        Rc::new(move || {
            let st = first_stats();
            Sample {
                t: started.elapsed().as_secs_f64(),
                buffered: st.length,
                total_buffered: total_len(),
                paused: st.need_drain,
                bytes: output.bytes(),
            }
        })
    };
    // The pipe's own 'data' listener writes first; this one sees the buffer
    // level right after each write, and samples it (as does every 'drain'),
    // so the plot shows every rise and fall, not just the timer's view.
    let samples: Rc<RefCell<Vec<Sample>>> = Rc::new(RefCell::new(Vec::new()));
    let event_sample: Rc<dyn Fn()> = {
        let (samples, sample) = (samples.clone(), sample.clone());
        Rc::new(move || {
            let mut s = samples.borrow_mut();
            if s.len() < MAX_EVENT_SAMPLES {
                s.push(sample());
            }
        })
    };
    // Chunks as read: how many, the smallest and the largest.
    let reads = Rc::new(Cell::new((0u64, usize::MAX, 0usize)));
    let es = event_sample.clone();
    let r = reads.clone();
    input.on_data(move |chunk| {
        let (n, lo, hi) = r.get();
        r.set((n + 1, lo.min(chunk.len()), hi.max(chunk.len())));
        es()
    });
    let es = event_sample.clone();
    match &writer_stage {
        Some(t) => {
            t.on(WritableEvent::Drain, move || es());
        }
        None => output.on_drain(move || es()),
    }

    let finished = Rc::new(Cell::new(false));
    // Wakes the sampler at the end, so the copy does not wait out its sleep.
    let stop = Rc::new(tokio::sync::Notify::new());
    let sampler = {
        let done = finished.clone();
        let stop = stop.clone();
        let (samples, sample, output, progress, every) = (
            samples.clone(),
            sample.clone(),
            output.clone(),
            progress.clone(),
            cfg.sample_every,
        );
        highwater::spawn(async move {
            loop {
                let s = sample();
                samples.borrow_mut().push(s);
                if let Some(p) = &progress {
                    p.update(&s);
                }
                if done.get() || output.destroyed() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.notified() => {}
                }
            }
        })
    };

    let stages: Vec<Transform> = reader_stage.iter().chain(&writer_stage).cloned().collect();
    let outcome = tokio::select! {
        r = pipeline => r.map_err(|e| {
            if e.code() == "EPIPE" && matches!(output, Output::File(_)) {
                CliError::BrokenPipe
            } else {
                describe(&e)
            }
        }),
        _ = signals.next() => {
            input.destroy();
            for t in &stages {
                t.destroy(None);
            }
            output.destroy();
            Err(CliError::Interrupted)
        }
    };
    finished.set(true);
    stop.notify_one();
    let _ = sampler.await;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = output.bytes();
    if let Some(p) = &progress {
        p.finish(&outcome, bytes, seconds);
    }
    outcome?;

    let mut samples = std::mem::take(&mut *samples.borrow_mut());
    samples.sort_by(|a, b| a.t.total_cmp(&b.t));
    let (min_rate, max_rate) = window_rates(&samples);
    let peak_total_buffered = samples.iter().map(|s| s.total_buffered).max().unwrap_or(0);
    let st = first_stats();
    let (reads, read_min, read_max) = reads.get();
    Ok(Report {
        command: cfg.command,
        label,
        size,
        bytes,
        seconds,
        avg_rate: if seconds > 0.0 {
            bytes as f64 / seconds
        } else {
            0.0
        },
        min_rate,
        max_rate,
        write_false: st.false_returns,
        pauses: st.false_returns,
        drains: st.drains,
        paused_seconds: (st.backpressure_time + st.under_backpressure.unwrap_or_default())
            .as_secs_f64(),
        peak_buffered: st.peak_length,
        high_water_mark: mark,
        low_water_mark: cfg.low_water_mark,
        chunk_size: chunk,
        reads,
        read_min: if reads == 0 { 0 } else { read_min },
        read_max,
        max_memory: cfg.max_memory,
        buffer_bound: u64::try_from(budget(
            chunk,
            mark,
            cfg.rate.is_some(),
            cfg.read_rate.is_some(),
        ))
        .unwrap_or(u64::MAX),
        peak_total_buffered,
        samples,
    })
}

/// SIGINT and SIGTERM, listened to for the whole copy.
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers.
    pub fn new() -> Result<Signals, CliError> {
        use tokio::signal::unix::{signal, SignalKind};
        let err = |e: std::io::Error| {
            CliError::Failed(format!("cannot install the signal handlers: {e}"))
        };
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(err)?,
            term: signal(SignalKind::terminate()).map_err(err)?,
        })
    }

    /// Resolves at the next SIGINT or SIGTERM.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// The slowest and fastest rates between consecutive samples (windows of at
/// least 50 ms, so that a tiny window does not make a silly rate).
fn window_rates(samples: &[Sample]) -> (f64, f64) {
    let mut rates = Vec::new();
    let mut from: Option<&Sample> = None;
    for s in samples {
        match from {
            None => from = Some(s),
            Some(f) if s.t - f.t >= 0.05 => {
                rates.push((s.bytes - f.bytes) as f64 / (s.t - f.t));
                from = Some(s);
            }
            _ => {}
        }
    }
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    if rates.is_empty() {
        (0.0, 0.0)
    } else {
        (min, max)
    }
}

/// Turns a stream error into a line that says which side failed.
pub fn describe(e: &Error, src: &Endpoint, dst: &Endpoint) -> CliError {
    let side = match e.syscall() {
        Some("read") => format!("reading {}", src.show("standard input")),
        Some("write") | Some("fsync") => format!("writing {}", dst.show("standard output")),
        _ => "copying".into(),
    };
    CliError::Failed(format!("error while {side}: {e}"))
}
