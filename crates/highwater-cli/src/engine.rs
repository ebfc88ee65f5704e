//! The transfer engine behind `highwater copy`, `pipe`, `send`, `recv` and
//! the demo: a source (a file read stream or a socket) piped, through an
//! optional rate limiter, into a destination (a file write stream or a
//! socket), with what backpressure did measured along the way.
//!
//! Everything is the library's: `fs` and `net` streams, a `Transform` for
//! each rate limit ([`Stages`]), `Pipeline` for error handling. The engine
//! only watches ([`Gauge`]), through the first destination's
//! `writable_stats()` (the library's observable buffer): its false returns
//! (pipe pauses the reader exactly then), drains, peak, time under
//! backpressure, and its buffer level, with every buffer of the transfer
//! together, sampled after every chunk, at every `'drain'` and every few
//! milliseconds (for the rates, the progress line and the plot).

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

/// The stages between the source and the destination: the rate limits.
struct Stages {
    /// `--read-rate`: a slow producer. Its marks are one read, so it holds
    /// the source back without buffering for it.
    reader: Option<Transform>,
    /// `--rate`: a slow consumer, the stage whose buffer backpressure fills
    /// first, so it has the write mark and the low-water mark.
    writer: Option<Transform>,
}

impl Stages {
    fn new(cfg: &CopyConfig) -> Stages {
        let (chunk, mark) = (cfg.chunk_size, cfg.high_water_mark);
        Stages {
            reader: cfg
                .read_rate
                .map(|rate| rate_stage(rate, chunk, chunk, None)),
            writer: cfg
                .rate
                .map(|rate| rate_stage(rate, mark, chunk.min(mark), cfg.low_water_mark)),
        }
    }

    /// Both stages that are there, in order.
    fn all(&self) -> Vec<Transform> {
        self.reader.iter().chain(&self.writer).cloned().collect()
    }

    /// `input`, through the stages, into `output`.
    fn pipeline(
        &self,
        input: &Input,
        output: &Output,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>>>> {
        let p = self
            .all()
            .iter()
            .fold(input.pipeline(), |p, t| p.through(t));
        output.run(p)
    }
}

/// What the engine watches: the first destination's buffer (the `--rate`
/// stage's, or the output's: the one backpressure fills first, whose false
/// returns pause the reader), and every buffer of the transfer together
/// (what `--max-memory` bounds).
#[derive(Clone)]
struct Gauge {
    started: Instant,
    input: Input,
    stages: Vec<Transform>,
    first: Option<Transform>,
    output: Output,
}

impl Gauge {
    /// The first destination's stats: buffer level, peak, false returns,
    /// drains, time under backpressure.
    fn first_stats(&self) -> WritableStats {
        match &self.first {
            Some(t) => t.writable_stats(),
            None => self.output.writable_stats(),
        }
    }

    /// The state now.
    fn sample(&self) -> Sample {
        let st = self.first_stats();
        let stages: usize = self
            .stages
            .iter()
            .map(|t| t.writable_length() + t.readable_length())
            .sum();
        Sample {
            t: self.started.elapsed().as_secs_f64(),
            buffered: st.length,
            total_buffered: self.input.readable_length() + stages + self.output.writable_length(),
            paused: st.need_drain,
            bytes: self.output.bytes(),
        }
    }
}

/// The samples of a transfer, and the chunks as read.
#[derive(Default)]
struct Record {
    samples: Vec<Sample>,
    /// Samples taken at events (the timer's are not counted).
    event_samples: usize,
    reads: u64,
    read_min: Option<usize>,
    read_max: usize,
}

/// Samples the transfer after every chunk read and every `'drain'` of the
/// first destination (up to [`MAX_EVENT_SAMPLES`]), so the plot shows every
/// rise and fall, not just the timer's view; counts the chunks as read.
/// The pipe's own `'data'` listener writes first, so a sample here sees the
/// buffer right after the write.
fn watch_events(gauge: &Gauge, record: &Rc<RefCell<Record>>) {
    let event = {
        let (gauge, record) = (gauge.clone(), record.clone());
        Rc::new(move |chunk: Option<usize>| {
            let mut r = record.borrow_mut();
            if let Some(len) = chunk {
                r.reads += 1;
                r.read_min = Some(r.read_min.map_or(len, |m| m.min(len)));
                r.read_max = r.read_max.max(len);
            }
            if r.event_samples < MAX_EVENT_SAMPLES {
                r.event_samples += 1;
                r.samples.push(gauge.sample());
            }
        })
    };
    let e = event.clone();
    gauge.input.on_data(move |chunk| e(Some(chunk.len())));
    match &gauge.first {
        Some(t) => {
            t.on(WritableEvent::Drain, move || event(None));
        }
        None => gauge.output.on_drain(move || event(None)),
    }
}

/// Samples every `cfg.sample_every` (for the rates, the progress line and
/// the plot) until `stop` is notified or the output is destroyed.
fn spawn_sampler(
    gauge: Gauge,
    record: Rc<RefCell<Record>>,
    progress: Option<Progress>,
    every: Duration,
    stop: Rc<tokio::sync::Notify>,
    done: Rc<Cell<bool>>,
) -> highwater::JoinHandle<()> {
    highwater::spawn(async move {
        loop {
            let s = gauge.sample();
            record.borrow_mut().samples.push(s);
            if let Some(p) = &progress {
                p.update(&s);
            }
            if done.get() || gauge.output.destroyed() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.notified() => {}
            }
        }
    })
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
    let stages = Stages::new(cfg);
    let gauge = Gauge {
        started: Instant::now(),
        input: input.clone(),
        stages: stages.all(),
        first: stages.writer.clone(),
        output: output.clone(),
    };
    let size = cfg.size.or(size);
    let progress = cfg.progress.then(|| Progress::new(size, cfg));
    let pipeline = stages.pipeline(&input, &output);
    let record = Rc::new(RefCell::new(Record::default()));
    watch_events(&gauge, &record);
    let (stop, done) = (
        Rc::new(tokio::sync::Notify::new()),
        Rc::new(Cell::new(false)),
    );
    let sampler = spawn_sampler(
        gauge.clone(),
        record.clone(),
        progress.clone(),
        cfg.sample_every,
        stop.clone(),
        done.clone(),
    );

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
            for t in &gauge.stages {
                t.destroy(None);
            }
            output.destroy();
            Err(CliError::Interrupted)
        }
    };
    // Wakes the sampler, so the end does not wait out its sleep.
    done.set(true);
    stop.notify_one();
    let _ = sampler.await;
    let seconds = gauge.started.elapsed().as_secs_f64();
    let bytes = output.bytes();
    if let Some(p) = &progress {
        p.finish(&outcome, bytes, seconds);
    }
    outcome?;
    let record = std::mem::take(&mut *record.borrow_mut());
    Ok(report(
        cfg,
        label,
        size,
        bytes,
        seconds,
        &gauge.first_stats(),
        record,
    ))
}

/// The report of a transfer that completed.
fn report(
    cfg: &CopyConfig,
    label: String,
    size: Option<u64>,
    bytes: u64,
    seconds: f64,
    st: &WritableStats,
    record: Record,
) -> Report {
    let mut samples = record.samples;
    samples.sort_by(|a, b| a.t.total_cmp(&b.t));
    let (min_rate, max_rate) = window_rates(&samples);
    let bound = budget(
        cfg.chunk_size,
        cfg.high_water_mark,
        cfg.rate.is_some(),
        cfg.read_rate.is_some(),
    );
    Report {
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
        high_water_mark: cfg.high_water_mark,
        low_water_mark: cfg.low_water_mark,
        chunk_size: cfg.chunk_size,
        reads: record.reads,
        read_min: record.read_min.unwrap_or(0),
        read_max: record.read_max,
        max_memory: cfg.max_memory,
        buffer_bound: u64::try_from(bound).unwrap_or(u64::MAX),
        peak_total_buffered: samples.iter().map(|s| s.total_buffered).max().unwrap_or(0),
        samples,
    }
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
