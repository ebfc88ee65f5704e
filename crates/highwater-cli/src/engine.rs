//! The command's side of a transfer: its settings ([`CopyConfig`]), the
//! streams made from its endpoints, the progress display plugged into the
//! engine, the signals that interrupt it, and what its errors mean to the
//! person running the command.
//!
//! The transfer itself (the rate stages, the pipeline, the measuring) is
//! the `highwater-transfer` crate's.

use std::fs::File;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;

use highwater::fs::{read_stream_from_file, ReadStream, ReadStreamOptions, WriteStream};
use highwater::net::Socket;
use highwater::prelude::*;
use highwater::Error;
use highwater_transfer::{Observer, Sample, Transfer, TransferConfig, TransferError};

use crate::endpoint::Endpoint;
use crate::error::CliError;
use crate::progress::Progress;
use crate::report::Report;

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

impl CopyConfig {
    /// What the engine needs of these settings. A rate of 0 (refused by
    /// the command line) would mean no limit.
    pub fn transfer(&self) -> TransferConfig {
        TransferConfig {
            chunk_size: self.chunk_size,
            high_water_mark: self.high_water_mark,
            low_water_mark: self.low_water_mark,
            rate: self.rate.and_then(std::num::NonZeroU64::new),
            read_rate: self.read_rate.and_then(std::num::NonZeroU64::new),
            sample_every: self.sample_every,
        }
    }
}

/// A read stream over the source file.
pub fn input_stream(file: File, cfg: &CopyConfig) -> Result<ReadStream, CliError> {
    read_stream_from_file(
        file,
        ReadStreamOptions::default().high_water_mark(cfg.chunk_size),
    )
    .map_err(|e| CliError::Failed(e.to_string()))
}

/// A destination as the command sees it: what `EPIPE` from it means.
pub trait Output: WritableSide<Bytes> + Clone + 'static {
    /// `EPIPE` means the reader went away (standard output, or a FIFO):
    /// the quiet [`CliError::BrokenPipe`], not a failure to describe.
    const EPIPE_IS_BROKEN_PIPE: bool;
}

impl Output for WriteStream {
    const EPIPE_IS_BROKEN_PIPE: bool = true;
}

impl Output for highwater::Writable<Bytes> {
    // The NATS destinations: a file or standard output behind the
    // acknowledging stage (EPIPE from stdout is the quiet end), or the
    // publisher, which never fails with EPIPE.
    const EPIPE_IS_BROKEN_PIPE: bool = true;
}

impl Output for Socket {
    // The peer closed the connection: a failure, said as one.
    const EPIPE_IS_BROKEN_PIPE: bool = false;
}

/// What `e`, from a transfer into a `D`, means for the command; `describe`
/// says which side a stream error came from.
fn cli_error<D: Output>(e: &TransferError, describe: &dyn Fn(&Error) -> CliError) -> CliError {
    match e {
        TransferError::Interrupted => CliError::Interrupted,
        TransferError::Stream(e) if D::EPIPE_IS_BROKEN_PIPE && e.code() == "EPIPE" => {
            CliError::BrokenPipe
        }
        TransferError::Stream(e) => describe(e),
    }
}

/// The progress display as the engine's observer, for a transfer into a `D`.
struct Shown<D> {
    progress: Progress,
    into: PhantomData<D>,
}

impl<D: Output> Observer for Shown<D> {
    fn sample(&self, s: &Sample) {
        self.progress.update(s);
    }

    fn finished(&self, outcome: &Result<(), TransferError>, bytes: u64, seconds: f64) {
        // The final line says only how it ended; the error's own line is
        // printed by the command.
        let plain = |e: &Error| CliError::Failed(e.to_string());
        let outcome = match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(cli_error::<D>(e, &plain)),
        };
        self.progress.finish(&outcome, bytes, seconds);
    }
}

/// Pipes `input` into `output` (through the rate stages of `cfg.read_rate`
/// and `cfg.rate`), with progress if asked for, until done, failed, or
/// interrupted by a signal. `size` is the source's, if known (`cfg.size`
/// wins); `label` says what is transferred, for the report.
///
/// # Errors
///
/// `describe(e)` for a stream error; [`CliError::BrokenPipe`] when the
/// reader of an output pipe went away; [`CliError::Interrupted`] on
/// SIGINT/SIGTERM (every stream is destroyed then).
pub async fn transfer<S: ReadableSide<Bytes> + Clone + 'static, D: Output>(
    input: S,
    output: D,
    size: Option<u64>,
    cfg: &CopyConfig,
    label: String,
    signals: &mut Signals,
    describe: &dyn Fn(&Error) -> CliError,
) -> Result<Report, CliError> {
    let size = cfg.size.or(size);
    let mut run = Transfer::new(input, output, cfg.transfer());
    if cfg.progress {
        run = run.observer(Shown::<D> {
            progress: Progress::new(size, cfg),
            into: PhantomData,
        });
    }
    let measured = run
        .run(signals.next())
        .await
        .map_err(|e| cli_error::<D>(&e, describe))?;
    Ok(Report {
        command: cfg.command,
        label,
        size,
        max_memory: cfg.max_memory,
        transfer: measured,
        nats: None,
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

/// Turns a stream error into a line that says which side failed.
pub fn describe(e: &Error, src: &Endpoint, dst: &Endpoint) -> CliError {
    let side = match e.syscall() {
        Some("read") => format!("reading {}", src.show("standard input")),
        Some("write") | Some("fsync") => format!("writing {}", dst.show("standard output")),
        _ => "copying".into(),
    };
    CliError::Failed(format!("error while {side}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_error(errno: i32) -> TransferError {
        TransferError::Stream(Error::io(
            std::io::Error::from_raw_os_error(errno),
            "write",
            None,
        ))
    }

    fn described(e: &Error) -> CliError {
        CliError::Failed(format!("described: {e}"))
    }

    #[test]
    fn epipe_into_a_file_stream_is_the_quiet_broken_pipe() {
        let e = stream_error(libc::EPIPE);
        assert_eq!(
            cli_error::<WriteStream>(&e, &described),
            CliError::BrokenPipe
        );
    }

    #[test]
    fn epipe_into_a_socket_is_a_failure_described() {
        let e = stream_error(libc::EPIPE);
        let CliError::Failed(line) = cli_error::<Socket>(&e, &described) else {
            panic!("not a failure");
        };
        assert!(line.starts_with("described: "), "{line}");
    }

    #[test]
    fn other_errors_are_described_and_an_interruption_is_one() {
        let e = stream_error(libc::ENOSPC);
        assert!(matches!(
            cli_error::<WriteStream>(&e, &described),
            CliError::Failed(_)
        ));
        assert_eq!(
            cli_error::<WriteStream>(&TransferError::Interrupted, &described),
            CliError::Interrupted
        );
    }

    #[test]
    fn rates_pass_to_the_engine() {
        let cfg = CopyConfig {
            command: "copy",
            chunk_size: 10,
            high_water_mark: 100,
            low_water_mark: Some(20),
            max_memory: None,
            rate: Some(5),
            read_rate: None,
            size: None,
            atomic: false,
            fsync: false,
            progress: false,
            progress_interval: Duration::from_secs(1),
            sample_every: Duration::from_millis(7),
        };
        let t = cfg.transfer();
        assert_eq!(
            (t.chunk_size, t.high_water_mark, t.low_water_mark),
            (10, 100, Some(20))
        );
        assert_eq!(t.rate.map(|r| r.get()), Some(5));
        assert_eq!(t.read_rate, None);
        assert_eq!(t.sample_every, Duration::from_millis(7));
    }
}
