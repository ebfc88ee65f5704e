//! `highwater`: copy and pipe data with bounded buffers, and see what
//! backpressure does.
//!
//! * `highwater copy SRC DST`: a file (or `-` for stdin/stdout) copied through
//!   highwater's file streams, with a report, a JSON report, a plot, a
//!   progress bar, an atomic mode and a rate limit to make a slow consumer
//!   visible.
//! * `highwater pipe`: stdin to stdout through a bounded buffer (like pv or
//!   mbuffer).
//! * `highwater send ADDR FILE` / `highwater recv ADDR FILE`: a file over
//!   TCP through socket streams, with the same reports.
//! * `highwater copy FILE nats://HOST:PORT/STREAM` and back: a file through
//!   a NATS JetStream stream, acknowledged end to end.
//! * `highwater demo`: sample data through a deliberately slow destination,
//!   narrated.
//!
//! Errors are one line on stderr and a non-zero exit status.

mod copy;
mod demo;
mod dest;
mod endpoint;
mod engine;
mod error;
mod nats;
mod net;
mod options;
mod plot;
mod progress;
mod report;
mod size;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use endpoint::Endpoint;
use engine::CopyConfig;
use error::CliError;

/// Node.js streams, with their backpressure, done right in Rust.
#[derive(Debug, Parser)]
#[command(name = "highwater", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The defaults and their reasons, under each transfer command's `--help`.
const DEFAULTS_HELP: &str = "\
Defaults: reads of 256 KiB into a write buffer whose high-water mark is 1 MiB.
A read never exceeds the mark, and four reads fill it: when the destination is
slower than the source, the buffer reaches the mark, write() returns false (it
means \"wait\", nothing is lost), the reader pauses, and 'drain' resumes it once
the buffer is empty (or down to --low-water-mark). Memory stays bounded by the
marks: --max-memory caps every buffer together. Exit status: 0 done, 1 failed,
2 usage error (found before any file is touched), 130 interrupted, 141 the
reader of the output went away. More in docs/CLI.md.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy SRC to DST (`-` for stdin/stdout) with bounded buffers.
    #[command(after_help = DEFAULTS_HELP)]
    Copy(CopyArgs),
    /// Copy stdin to stdout through a bounded buffer (like pv or mbuffer).
    #[command(after_help = DEFAULTS_HELP)]
    Pipe(PipeArgs),
    /// Send FILE (`-` for stdin) over TCP to a receiver at ADDR (HOST:PORT); exits 0 once the receiver has it all.
    #[command(after_help = DEFAULTS_HELP)]
    Send(SendArgs),
    /// Listen on ADDR (HOST:PORT, port 0 picks one; the first line on stderr says which), receive one connection into FILE (`-` for stdout).
    #[command(after_help = DEFAULTS_HELP)]
    Recv(RecvArgs),
    /// A fast producer and a slow consumer: watch write() return false, the
    /// producer pause, and 'drain' resume it; then a file copy through a slow
    /// destination, with a report and a plot.
    Demo(demo::DemoArgs),
}

/// What `copy`, `pipe`, `send` and `recv` share: how, and what to report.
///
/// The defaults read 256 KiB at a time into a write buffer whose mark is
/// 1 MiB (four reads): a destination slower than the source fills the
/// buffer, `write()` returns false at the mark, the reader pauses, and
/// `'drain'` resumes it, which is what `--progress`, `--stats` and `--plot`
/// show. A read never exceeds the mark unless asked to.
#[derive(Debug, Args)]
#[command(next_help_heading = "Buffering")]
struct Common {
    /// Bytes per read [default: 256KiB, at most the mark] (units: B, KiB, MiB, GiB, KB, MB, GB).
    #[arg(short = 'c', long, value_name = "SIZE", value_parser = size::parse_chunk_size)]
    chunk_size: Option<usize>,
    /// The write buffer's high-water mark: write() returns false, and the reader pauses, once this much is buffered [default: 1MiB].
    #[arg(short = 'w', long, value_name = "SIZE", value_parser = size::parse_mark)]
    high_water_mark: Option<usize>,
    /// Resume reading once the write buffer has fallen to this level (a size, or a percentage of the mark like 50%), not only once it is empty (Node's 'drain'; mbuffer's -p).
    #[arg(short = 'l', long, value_name = "SIZE|PCT", value_parser = size::parse_low_mark)]
    low_water_mark: Option<size::LowMark>,
    /// A hard cap on the bytes buffered by the whole transfer (every stage together; mbuffer's -m). Without --chunk-size and --high-water-mark they are chosen to fit; with them they are checked.
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = size::parse_buffer_size)]
    max_memory: Option<usize>,
    /// Limit the destination to this many bytes per second (e.g. 10MiB/s): a slow consumer (mbuffer's -R, pv's -L).
    #[arg(short = 'R', visible_short_alias = 'L', long, value_name = "RATE", value_parser = size::parse_rate)]
    rate: Option<u64>,
    /// Read the source at most this many bytes per second: a slow producer (mbuffer's -r).
    #[arg(short = 'r', long, value_name = "RATE", value_parser = size::parse_rate)]
    read_rate: Option<u64>,
    /// Show progress on stderr: a live line on a terminal, a plain line every --interval otherwise.
    #[arg(short = 'p', long, help_heading = "Reporting")]
    progress: bool,
    /// The total size, for the percentage and ETA when the source cannot tell it (a pipe, a socket): pv's -s.
    #[arg(short = 's', long, value_name = "SIZE", value_parser = size::parse_size, help_heading = "Reporting")]
    size: Option<u64>,
    /// Seconds between progress lines when stderr is not a terminal (pv's -i).
    #[arg(short = 'i', long, value_name = "SECONDS", default_value = "1", value_parser = size::parse_interval, requires = "progress", help_heading = "Reporting")]
    interval: Duration,
    /// Print a report at the end (on stderr).
    #[arg(long, help_heading = "Reporting")]
    stats: bool,
    /// Print the report as JSON (on stdout, or stderr when the data goes to stdout); schema in docs/CLI.md.
    #[arg(long, help_heading = "Reporting")]
    json: bool,
    /// Write a plot of the buffer level and the pauses to this SVG file.
    #[arg(long, value_name = "FILE.svg", help_heading = "Reporting")]
    plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CopyArgs {
    /// The file to read (`-` for stdin), or nats://HOST:PORT/STREAM[/SUBJECT] to receive a transfer from a JetStream stream.
    src: std::ffi::OsString,
    /// The file to write (`-` for stdout), or nats://HOST:PORT/STREAM[/SUBJECT] to send into a JetStream stream (created if missing).
    dst: std::ffi::OsString,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    nats: NatsArgs,
    /// Write to a temporary file beside DST (beside the file it links to, if a symlink) and rename it over it on success: an interrupted copy never leaves a truncated DST. Replaces only regular files, keeping their mode and owner; a device, FIFO or socket is refused.
    #[arg(long)]
    atomic: bool,
    /// fsync DST before closing it.
    #[arg(long)]
    fsync: bool,
}

/// The options of a `nats://` end (see docs/CLI.md).
#[derive(Debug, Args)]
#[command(next_help_heading = "NATS JetStream (with a nats:// end)")]
struct NatsArgs {
    /// The receiver's durable consumer: a receiver restarted with the same name resumes where its acknowledgements stopped.
    #[arg(long, value_name = "NAME", default_value = "highwater")]
    consumer: String,
    /// Sending: hold publishing while the receiving consumer has this many messages (chunks) published and not yet acknowledged, so a slow receiver slows the sender.
    #[arg(long, value_name = "MESSAGES", value_parser = clap::value_parser!(u64).range(1..))]
    backlog: Option<u64>,
    /// Sending: replicas of a stream it creates (a cluster has up to 5).
    #[arg(long, value_name = "N", default_value = "1", value_parser = clap::value_parser!(u64).range(1..=5))]
    replicas: u64,
    /// Sending: the most bytes a stream it creates holds; a publish into a full stream fails.
    #[arg(long, value_name = "SIZE", value_parser = size::parse_size)]
    stream_max_bytes: Option<u64>,
    /// Receiving: seconds a delivered message may stay unacknowledged before the server delivers it again (to this receiver or a restarted one).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = size::parse_interval)]
    ack_wait: Duration,
    /// Seconds the server may stay unreachable (restarting, electing a leader) before the transfer fails.
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = size::parse_interval)]
    retry_budget: Duration,
}

impl NatsArgs {
    fn config(&self) -> nats::NatsConfig {
        nats::NatsConfig {
            consumer: self.consumer.clone(),
            backlog: self.backlog,
            replicas: self.replicas as usize,
            stream_max_bytes: self.stream_max_bytes,
            ack_wait: self.ack_wait,
            retry_budget: self.retry_budget,
        }
    }
}

#[derive(Debug, Args)]
struct PipeArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct SendArgs {
    /// Where the receiver listens: HOST:PORT.
    addr: String,
    /// The file to send (`-` for stdin).
    file: std::ffi::OsString,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct RecvArgs {
    /// Where to listen: HOST:PORT (port 0: any free port).
    addr: String,
    /// The file to write (`-` for stdout).
    file: std::ffi::OsString,
    #[command(flatten)]
    common: Common,
    /// Write to a temporary file beside FILE (beside the file it links to, if a symlink) and rename it over it once the transfer is complete: a cut transfer never leaves a truncated FILE. Replaces only regular files, keeping their mode and owner; a device, FIFO or socket is refused.
    #[arg(long)]
    atomic: bool,
    /// fsync FILE before closing it (and before telling the sender it is done).
    #[arg(long)]
    fsync: bool,
}

impl Common {
    /// The transfer's settings, checked before any work: a usage error for
    /// what cannot be done.
    fn config(
        &self,
        command: &'static str,
        atomic: bool,
        fsync: bool,
    ) -> Result<CopyConfig, CliError> {
        let plan = options::plan(&options::Asked {
            chunk_size: self.chunk_size,
            high_water_mark: self.high_water_mark,
            low_water_mark: self.low_water_mark,
            max_memory: self.max_memory,
            rate: self.rate,
            read_rate: self.read_rate,
        })
        .map_err(CliError::Usage)?;
        if let Some(p) = &self.plot {
            options::check_plot_path(p).map_err(CliError::Usage)?;
        }
        Ok(CopyConfig {
            command,
            chunk_size: plan.chunk_size,
            high_water_mark: plan.high_water_mark,
            low_water_mark: plan.low_water_mark,
            max_memory: self.max_memory,
            rate: self.rate,
            read_rate: self.read_rate,
            size: self.size,
            atomic,
            fsync,
            progress: self.progress,
            progress_interval: self.interval,
            sample_every: Duration::from_millis(20),
        })
    }

    /// `--plot` must name neither the source nor the destination.
    fn check_plot_apart(&self, ends: &[(&str, &Endpoint)]) -> Result<(), CliError> {
        let Some(plot) = &self.plot else {
            return Ok(());
        };
        let paths: Vec<(&str, &std::path::Path)> = ends
            .iter()
            .filter_map(|(role, e)| match e {
                Endpoint::Path(p) => Some((*role, p.as_path())),
                Endpoint::Std => None,
            })
            .collect();
        options::check_plot_apart(plot, &paths).map_err(CliError::Usage)
    }

    /// Prints the reports asked for; `data_on_stdout` sends JSON to stderr.
    fn report(&self, report: &report::Report, data_on_stdout: bool) -> Result<(), CliError> {
        use std::io::Write;
        // A reader that went away is the quiet end it is for the data;
        // any other failure to print is a failure, said after the fact
        // that the transfer itself is complete.
        let printed = |r: std::io::Result<()>| {
            r.map_err(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => CliError::BrokenPipe,
                _ => CliError::Failed(format!(
                    "the transfer is complete, but its report could not be printed: {e}"
                )),
            })
        };
        if self.stats {
            printed(write!(std::io::stderr().lock(), "{}", report::text(report)))?;
        }
        if self.json {
            let line = report::json(report);
            if data_on_stdout {
                printed(writeln!(std::io::stderr().lock(), "{line}"))?;
            } else {
                let mut out = std::io::stdout().lock();
                printed(writeln!(out, "{line}").and_then(|()| out.flush()))?;
            }
        }
        if let Some(p) = &self.plot {
            std::fs::write(
                p,
                plot::svg(report, &format!("highwater {}", report.command)),
            )
            .map_err(|e| {
                CliError::Failed(format!(
                    "the transfer is complete, but the plot '{}' could not be written: {e}",
                    p.display()
                ))
            })?;
        }
        Ok(())
    }
}

/// `--atomic` and `--fsync` against the destination, before any work:
/// standard output cannot be renamed over, and can be synced only when it
/// is a file (or a block device), not a pipe, socket or terminal.
fn check_destination_flags(dst: &Endpoint, atomic: bool, fsync: bool) -> Result<(), CliError> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    if *dst != Endpoint::Std {
        return Ok(());
    }
    if atomic {
        return Err(CliError::Usage(
            "--atomic needs a file destination, not standard output".into(),
        ));
    }
    if fsync {
        let kind = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .and_then(|f| f.metadata())
            .map(|m| m.file_type());
        if !kind.is_ok_and(|k| k.is_file() || k.is_block_device()) {
            return Err(CliError::Usage(
                "--fsync needs a destination that can be synced: standard output here is not a file (a pipe, a socket or a terminal)".into(),
            ));
        }
    }
    Ok(())
}

fn run_copy(
    command: &'static str,
    src: Endpoint,
    dst: Endpoint,
    common: Common,
    atomic: bool,
    fsync: bool,
) -> Result<(), CliError> {
    check_destination_flags(&dst, atomic, fsync)?;
    common.check_plot_apart(&[("source", &src), ("destination", &dst)])?;
    let to_stdout = dst == Endpoint::Std;
    let cfg = common.config(command, atomic, fsync)?;
    let report = highwater::block_on(copy::copy(src, dst, cfg))?;
    common.report(&report, to_stdout)
}

/// `copy` with a `nats://` end: either side, not both.
fn run_nats_copy(a: CopyArgs) -> Result<(), CliError> {
    let url = |s: &std::ffi::OsStr| {
        s.to_str()
            .filter(|s| highwater_nats::NatsUrl::is_nats(s))
            .map(|s| highwater_nats::NatsUrl::parse(s).map_err(|e| CliError::Usage(e.to_string())))
            .transpose()
    };
    let ncfg = a.nats.config();
    match (url(&a.src)?, url(&a.dst)?) {
        (Some(_), Some(_)) => Err(CliError::Usage(
            "copy between two NATS streams is not supported: one end must be a file".into(),
        )),
        (None, Some(u)) => {
            if a.atomic || a.fsync {
                return Err(CliError::Usage(
                    "--atomic and --fsync are for the receiving side (a file destination)".into(),
                ));
            }
            let src = Endpoint::parse(&a.src);
            a.common.check_plot_apart(&[("source", &src)])?;
            let cfg = a.common.config("copy", false, false)?;
            let report = highwater::block_on(nats::send(src, u, cfg, ncfg))?;
            a.common.report(&report, false)
        }
        (Some(u), None) => {
            let dst = Endpoint::parse(&a.dst);
            check_destination_flags(&dst, a.atomic, a.fsync)?;
            a.common.check_plot_apart(&[("destination", &dst)])?;
            let to_stdout = dst == Endpoint::Std;
            let cfg = a.common.config("copy", a.atomic, a.fsync)?;
            let report = highwater::block_on(nats::receive(u, dst, cfg, ncfg))?;
            a.common.report(&report, to_stdout)
        }
        (None, None) => Err(CliError::Usage("no nats:// end".into())),
    }
}

/// Whether either end of a copy is `nats://…`.
fn is_nats_copy(a: &CopyArgs) -> bool {
    [&a.src, &a.dst]
        .iter()
        .any(|s| s.to_str().is_some_and(highwater_nats::NatsUrl::is_nats))
}

fn run_send(a: SendArgs) -> Result<(), CliError> {
    a.common
        .check_plot_apart(&[("source", &Endpoint::parse(&a.file))])?;
    let cfg = a.common.config("send", false, false)?;
    let report = highwater::block_on(net::send(a.addr, Endpoint::parse(&a.file), cfg))?;
    a.common.report(&report, false)
}

fn run_recv(a: RecvArgs) -> Result<(), CliError> {
    let dst = Endpoint::parse(&a.file);
    check_destination_flags(&dst, a.atomic, a.fsync)?;
    a.common.check_plot_apart(&[("destination", &dst)])?;
    let to_stdout = dst == Endpoint::Std;
    let cfg = a.common.config("recv", a.atomic, a.fsync)?;
    let report = highwater::block_on(net::recv(a.addr, dst, cfg))?;
    a.common.report(&report, to_stdout)
}

/// Parses the command line. `--help` and `--version` print and exit 0; a
/// mistake is one line (clap's message, its tip, the usage) and exit 2.
fn parse_args() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    Cli::try_parse().map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(2)
        }
        _ => {
            let err = CliError::Usage(one_line(&e.render().to_string()));
            err.print();
            err.exit_code()
        }
    })
}

/// Clap's multi-line error as one line: `unexpected argument '--frob'
/// found (tip: …); usage: highwater copy [OPTIONS] <SRC> <DST>`.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut out = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    for l in lines {
        if let Some(tip) = l.strip_prefix("tip: ") {
            out.push_str(&format!(" ({tip})"));
        } else if let Some(usage) = l.strip_prefix("Usage: ") {
            out.push_str(&format!("; usage: {usage}"));
        } else if !l.starts_with("For more information") {
            // The items of a list the first line announces (`…: <DST>`).
            out.push(' ');
            out.push_str(l);
        }
    }
    out
}

fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Copy(a) if is_nats_copy(&a) => run_nats_copy(a),
        Command::Copy(a) => run_copy(
            "copy",
            Endpoint::parse(&a.src),
            Endpoint::parse(&a.dst),
            a.common,
            a.atomic,
            a.fsync,
        ),
        Command::Pipe(a) => run_copy("pipe", Endpoint::Std, Endpoint::Std, a.common, false, false),
        Command::Send(a) => run_send(a),
        Command::Recv(a) => run_recv(a),
        Command::Demo(args) => demo::run(args).map_err(CliError::Failed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.print();
            e.exit_code()
        }
    }
}
