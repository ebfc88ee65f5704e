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
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use highwater::fs::{
    read_stream_from_file, write_stream_from_file, ReadStream, ReadStreamOptions, WriteStream,
    WriteStreamOptions,
};
use highwater::net::Socket;
use highwater::{
    Duplex, DuplexOptions, Error, Pipeline, Transform, TransformDone, TransformImpl, WritableEvent,
    WritableStats,
};

use crate::size::human;

/// One end of a copy: a file, or standard input/output (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A path.
    Path(PathBuf),
    /// `-`: stdin as a source, stdout as a destination.
    Std,
}

impl Endpoint {
    /// `-` is standard input/output, anything else a path.
    pub fn parse(s: &str) -> Endpoint {
        if s == "-" {
            Endpoint::Std
        } else {
            Endpoint::Path(PathBuf::from(s))
        }
    }

    /// `'path'`, or `std` for `-`.
    pub fn show(&self, std: &str) -> String {
        match self {
            Endpoint::Path(p) => format!("'{}'", p.display()),
            Endpoint::Std => std.to_string(),
        }
    }
}

/// Samples taken at events (each chunk, each drain) stop here; the timer's
/// samples go on, so a long copy keeps a bounded, coarser record.
const MAX_EVENT_SAMPLES: usize = 50_000;

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyConfig {
    /// Bytes per read (the read stream's mark).
    pub chunk_size: usize,
    /// The write buffer's mark.
    pub high_water_mark: usize,
    /// Bytes per second the destination is allowed to take (a slow consumer).
    pub rate: Option<u64>,
    /// Write to a temporary file and rename it over the destination on success.
    pub atomic: bool,
    /// `fsync` the destination before closing it.
    pub fsync: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
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
    /// The reader is paused by backpressure.
    pub paused: bool,
    /// Bytes written so far.
    pub bytes: u64,
}

/// What happened during a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The command that made it (`copy`, `send`, `recv`).
    pub command: &'static str,
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
    /// The read chunk size.
    pub chunk_size: usize,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// A copy that failed: one line for the user.
#[derive(Debug)]
pub struct CopyError(pub String);

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

/// A one-line error for a failed preparation step (`what: reason`).
pub fn io_context(what: &str, e: std::io::Error) -> CopyError {
    let e = Error::io(e, "open", None);
    CopyError(format!(
        "{what}: {}",
        e.to_string().trim_end_matches(", open")
    ))
}

/// Opens the source: it must open and not be a directory. Returns the file
/// and its size (for a regular file).
pub fn open_input(src: &Endpoint) -> Result<(File, Option<u64>), CopyError> {
    let (file, meta) = open_input_meta(src)?;
    Ok((file, meta.is_file().then_some(meta.len())))
}

fn open_input_meta(src: &Endpoint) -> Result<(File, std::fs::Metadata), CopyError> {
    let file = match src {
        Endpoint::Std => {
            let fd = std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| io_context("cannot read standard input", e))?;
            File::from(fd)
        }
        Endpoint::Path(p) => {
            File::open(p).map_err(|e| io_context(&format!("cannot open {}", src.show("")), e))?
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| io_context(&format!("cannot read {}", src.show("standard input")), e))?;
    if meta.is_dir() {
        return Err(CopyError(format!(
            "cannot copy {}: it is a directory",
            src.show("")
        )));
    }
    Ok((file, meta))
}

/// Checks that the destination is not a directory (before anything is
/// created or truncated).
pub fn check_dest(dst: &Endpoint) -> Result<(), CopyError> {
    if let Endpoint::Path(d) = dst {
        if std::fs::metadata(d).is_ok_and(|m| m.is_dir()) {
            return Err(CopyError(format!(
                "cannot write {}: it is a directory",
                dst.show("")
            )));
        }
    }
    Ok(())
}

/// Checks the endpoints before anything is created or truncated: the source
/// opens and is not a directory, the destination is not a directory and not
/// the source itself.
fn open_source(src: &Endpoint, dst: &Endpoint) -> Result<(File, Option<u64>), CopyError> {
    let (file, meta) = open_input_meta(src)?;
    if let Endpoint::Path(d) = dst {
        if let Ok(dm) = std::fs::metadata(d) {
            if dm.is_dir() {
                return Err(CopyError(format!(
                    "cannot write {}: it is a directory",
                    dst.show("")
                )));
            }
            use std::os::unix::fs::MetadataExt;
            if dm.dev() == meta.dev() && dm.ino() == meta.ino() && meta.is_file() {
                return Err(CopyError(format!(
                    "{} and {} are the same file",
                    src.show(""),
                    dst.show("")
                )));
            }
        }
    }
    let size = meta.is_file().then_some(meta.len());
    Ok((file, size))
}

/// Where the bytes are written: the destination, or a temporary file beside
/// it that is renamed over it on success.
pub struct Dest {
    file: Option<File>,
    tmp: Option<PathBuf>,
    final_path: Option<PathBuf>,
}

impl Dest {
    /// With `--atomic`: renames the temporary file over the destination.
    pub fn commit(&self, dst: &Endpoint) -> Result<(), CopyError> {
        if let (Some(tmp), Some(dst_path)) = (&self.tmp, &self.final_path) {
            std::fs::rename(tmp, dst_path).map_err(|e| {
                io_context(&format!("cannot rename the copy to {}", dst.show("")), e)
            })?;
        }
        Ok(())
    }

    /// After a failure: removes the temporary file, if any.
    pub fn discard(&self) {
        if let Some(t) = &self.tmp {
            let _ = std::fs::remove_file(t);
        }
    }

    /// A write stream over the destination file (once).
    pub fn stream(&mut self, cfg: &CopyConfig) -> Result<WriteStream, CopyError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| CopyError("the destination is already in use".into()))?;
        write_stream_from_file(
            file,
            WriteStreamOptions {
                high_water_mark: Some(cfg.high_water_mark),
                flush: cfg.fsync,
                ..Default::default()
            },
        )
        .map_err(|e| CopyError(e.to_string()))
    }
}

/// A read stream over the source file.
pub fn input_stream(file: File, cfg: &CopyConfig) -> Result<ReadStream, CopyError> {
    read_stream_from_file(
        file,
        ReadStreamOptions {
            high_water_mark: cfg.chunk_size,
            ..Default::default()
        },
    )
    .map_err(|e| CopyError(e.to_string()))
}

/// Opens (creates, truncates) the destination, or a temporary file beside it
/// with `atomic`.
pub fn open_dest(dst: &Endpoint, atomic: bool) -> Result<Dest, CopyError> {
    match dst {
        Endpoint::Std => {
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| io_context("cannot write standard output", e))?;
            Ok(Dest {
                file: Some(File::from(fd)),
                tmp: None,
                final_path: None,
            })
        }
        Endpoint::Path(p) if atomic => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = dir.join(format!(".{name}.highwater-{}.tmp", std::process::id()));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| {
                    io_context(
                        &format!("cannot create a temporary file in '{}'", dir.display()),
                        e,
                    )
                })?;
            Ok(Dest {
                file: Some(file),
                tmp: Some(tmp),
                final_path: Some(p.clone()),
            })
        }
        Endpoint::Path(p) => {
            let file = File::create(p)
                .map_err(|e| io_context(&format!("cannot create {}", dst.show("")), e))?;
            Ok(Dest {
                file: Some(file),
                tmp: None,
                final_path: Some(p.clone()),
            })
        }
    }
}

/// Copies `src` to `dst` with bounded buffers and reports what backpressure did.
///
/// # Errors
///
/// A one-line description of what failed; with `atomic`, the destination is
/// then untouched.
pub async fn copy(src: Endpoint, dst: Endpoint, cfg: CopyConfig) -> Result<Report, CopyError> {
    let (src_file, size) = open_source(&src, &dst)?;
    // Catch Ctrl-C and SIGTERM before anything is created, so that an
    // interrupted copy always gets to clean up.
    let mut signals = Signals::new()?;
    let mut dest = open_dest(&dst, cfg.atomic)?;
    let result = async {
        let reader = input_stream(src_file, &cfg)?;
        let writer = dest.stream(&cfg)?;
        let describe = |e: &Error| describe(e, &src, &dst);
        let report = transfer(
            Input::File(reader),
            Output::File(writer),
            size,
            &cfg,
            "copy",
            &mut signals,
            &describe,
        )
        .await?;
        dest.commit(&dst)?;
        Ok(report)
    }
    .await;
    if result.is_err() {
        dest.discard();
    }
    result
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
    fn is_paused(&self) -> bool {
        on_input!(self, r => r.is_paused() && !r.readable_ended())
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

/// Pipes `input` into `output` (through the rate limiter if `cfg.rate`),
/// watching backpressure, until done, failed, or interrupted by a signal.
///
/// # Errors
///
/// `describe(e)` for a stream error; `interrupted` on SIGINT/SIGTERM (both
/// streams are destroyed then).
pub async fn transfer(
    input: Input,
    output: Output,
    size: Option<u64>,
    cfg: &CopyConfig,
    command: &'static str,
    signals: &mut Signals,
    describe: &dyn Fn(&Error) -> CopyError,
) -> Result<Report, CopyError> {
    // The stage whose buffer backpressure fills first: the rate limiter, or
    // the destination itself.
    let throttle: Option<Transform> = cfg.rate.map(|rate| {
        Duplex::transform(
            DuplexOptions::default()
                .writable_high_water_mark(cfg.high_water_mark)
                .readable_high_water_mark(cfg.chunk_size.min(cfg.high_water_mark).max(1)),
            Throttle {
                rate,
                start: Cell::new(None),
                sent: Cell::new(0),
            },
        )
    });
    // Everything the report says about backpressure comes from the first
    // destination's stats (the throttle's, or the output's): its buffer
    // level, peak, false returns (each pauses the reader), drains and time
    // under backpressure.
    let first_stats: Rc<dyn Fn() -> WritableStats> = match &throttle {
        Some(t) => {
            let t = t.clone();
            Rc::new(move || t.writable_stats())
        }
        None => {
            let w = output.clone();
            Rc::new(move || w.writable_stats())
        }
    };
    let first_len: Rc<dyn Fn() -> usize> = {
        let fs = first_stats.clone();
        Rc::new(move || fs().length)
    };

    let started = Instant::now();
    let progress = cfg.progress.then(|| make_progress(size));
    let pipeline = match &throttle {
        Some(t) => output.run(input.pipeline().through(t)),
        None => output.run(input.pipeline()),
    };
    // The pipe's own 'data' listener writes first; this one sees the buffer
    // level right after each write, and samples it (as does every 'drain'),
    // so the plot shows every rise and fall, not just the timer's view.
    let samples: Rc<RefCell<Vec<Sample>>> = Rc::new(RefCell::new(Vec::new()));
    let event_sample: Rc<dyn Fn()> = {
        let (samples, input, output, first_len) = (
            samples.clone(),
            input.clone(),
            output.clone(),
            first_len.clone(),
        );
        Rc::new(move || {
            let mut s = samples.borrow_mut();
            if s.len() < MAX_EVENT_SAMPLES {
                s.push(Sample {
                    t: started.elapsed().as_secs_f64(),
                    buffered: first_len(),
                    paused: input.is_paused(),
                    bytes: output.bytes(),
                });
            }
        })
    };
    let es = event_sample.clone();
    input.on_data(move |_| es());
    let es = event_sample.clone();
    match &throttle {
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
        let (samples, input, output, first_len, progress, every) = (
            samples.clone(),
            input.clone(),
            output.clone(),
            first_len.clone(),
            progress.clone(),
            cfg.sample_every,
        );
        let hwm = cfg.high_water_mark;
        highwater::spawn(async move {
            loop {
                let s = Sample {
                    t: started.elapsed().as_secs_f64(),
                    buffered: first_len(),
                    paused: input.is_paused(),
                    bytes: output.bytes(),
                };
                samples.borrow_mut().push(s);
                if let Some(pb) = &progress {
                    pb.set_position(s.bytes);
                    pb.set_message(format!(
                        "buffer {} / {}",
                        human(s.buffered as u64),
                        human(hwm as u64)
                    ));
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

    let outcome = tokio::select! {
        r = pipeline => r.map_err(|e| describe(&e)),
        _ = signals.next() => {
            input.destroy();
            output.destroy();
            Err(CopyError("interrupted".into()))
        }
    };
    finished.set(true);
    stop.notify_one();
    let _ = sampler.await;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    outcome?;

    let seconds = started.elapsed().as_secs_f64();
    let bytes = output.bytes();
    let mut samples = std::mem::take(&mut *samples.borrow_mut());
    samples.sort_by(|a, b| a.t.total_cmp(&b.t));
    let (min_rate, max_rate) = window_rates(&samples);
    let st = first_stats();
    Ok(Report {
        command,
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
        chunk_size: cfg.chunk_size,
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
    pub fn new() -> Result<Signals, CopyError> {
        use tokio::signal::unix::{signal, SignalKind};
        let err = |e: std::io::Error| CopyError(format!("cannot install the signal handlers: {e}"));
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
fn describe(e: &Error, src: &Endpoint, dst: &Endpoint) -> CopyError {
    let side = match e.syscall() {
        Some("read") => format!("reading {}", src.show("standard input")),
        Some("write") | Some("fsync") => format!("writing {}", dst.show("standard output")),
        _ => "copying".into(),
    };
    CopyError(format!("error while {side}: {e}"))
}

fn make_progress(total: Option<u64>) -> indicatif::ProgressBar {
    let pb = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}  {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}
