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
mod net;
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy SRC to DST (`-` for stdin/stdout) with bounded buffers.
    Copy(CopyArgs),
    /// Copy stdin to stdout through a bounded buffer (like pv or mbuffer).
    Pipe(PipeArgs),
    /// Send FILE (`-` for stdin) over TCP to a receiver at ADDR (HOST:PORT); exits 0 once the receiver has it all.
    Send(SendArgs),
    /// Listen on ADDR (HOST:PORT, port 0 picks one; the first line on stderr says which), receive one connection into FILE (`-` for stdout).
    Recv(RecvArgs),
    /// A fast producer and a slow consumer: watch write() return false, the
    /// producer pause, and 'drain' resume it; then a file copy through a slow
    /// destination, with a report and a plot.
    Demo(demo::DemoArgs),
}

/// What `copy`, `pipe`, `send` and `recv` share: how, and what to report.
#[derive(Debug, Args)]
struct Common {
    /// Bytes per read (units: B, KiB, MiB, GiB, KB, MB, GB).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = size::parse_buffer_size)]
    chunk_size: usize,
    /// The write buffer's high-water mark.
    #[arg(long, value_name = "SIZE", default_value = "16KiB", value_parser = size::parse_mark)]
    high_water_mark: usize,
    /// Limit the destination to this many bytes per second (e.g. 10MiB/s), to make a slow consumer visible.
    #[arg(long, value_name = "RATE", value_parser = size::parse_rate)]
    rate: Option<u64>,
    /// Show a progress bar on stderr (bytes, rate, ETA, write buffer level).
    #[arg(long)]
    progress: bool,
    /// Print a report at the end (on stderr).
    #[arg(long)]
    stats: bool,
    /// Print the report as JSON (on stdout, or stderr when the data goes to stdout).
    #[arg(long)]
    json: bool,
    /// Write a plot of the buffer level and the pauses to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CopyArgs {
    /// The file to read (`-` for stdin).
    src: String,
    /// The file to write (`-` for stdout).
    dst: String,
    #[command(flatten)]
    common: Common,
    /// Write to a temporary file beside DST and rename it on success: an interrupted copy never leaves a truncated DST.
    #[arg(long)]
    atomic: bool,
    /// fsync DST before closing it.
    #[arg(long)]
    fsync: bool,
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
    file: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct RecvArgs {
    /// Where to listen: HOST:PORT (port 0: any free port).
    addr: String,
    /// The file to write (`-` for stdout).
    file: String,
    #[command(flatten)]
    common: Common,
    /// Write to a temporary file beside FILE and rename it once the transfer is complete: a cut transfer never leaves a truncated FILE.
    #[arg(long)]
    atomic: bool,
    /// fsync FILE before closing it (and before telling the sender it is done).
    #[arg(long)]
    fsync: bool,
}

impl Common {
    fn config(&self, command: &'static str, atomic: bool, fsync: bool) -> CopyConfig {
        CopyConfig {
            command,
            low_water_mark: None,
            max_memory: None,
            read_rate: None,
            size: None,
            chunk_size: self.chunk_size,
            high_water_mark: self.high_water_mark,
            rate: self.rate,
            atomic,
            fsync,
            progress: self.progress,
            sample_every: Duration::from_millis(20),
        }
    }

    /// Prints the reports asked for; `data_on_stdout` sends JSON to stderr.
    fn report(&self, report: &engine::Report, data_on_stdout: bool) -> Result<(), CliError> {
        if self.stats {
            eprint!("{}", report::text(report));
        }
        if self.json {
            if data_on_stdout {
                eprintln!("{}", report::json(report));
            } else {
                println!("{}", report::json(report));
            }
        }
        if let Some(p) = &self.plot {
            std::fs::write(
                p,
                plot::svg(report, &format!("highwater {}", report.command)),
            )
            .map_err(|e| {
                CliError::Failed(format!("cannot write the plot '{}': {e}", p.display()))
            })?;
        }
        Ok(())
    }
}

fn run_copy(
    command: &'static str,
    src: Endpoint,
    dst: Endpoint,
    common: Common,
    atomic: bool,
    fsync: bool,
) -> Result<(), CliError> {
    if atomic && dst == Endpoint::Std {
        return Err(CliError::Usage(
            "--atomic needs a file destination, not standard output".into(),
        ));
    }
    let to_stdout = dst == Endpoint::Std;
    let cfg = common.config(command, atomic, fsync);
    let report = highwater::block_on(copy::copy(src, dst, cfg))?;
    common.report(&report, to_stdout)
}

fn run_send(a: SendArgs) -> Result<(), CliError> {
    let cfg = a.common.config("send", false, false);
    let report = highwater::block_on(net::send(a.addr, Endpoint::parse(&a.file), cfg))?;
    a.common.report(&report, false)
}

fn run_recv(a: RecvArgs) -> Result<(), CliError> {
    let dst = Endpoint::parse(&a.file);
    if a.atomic && dst == Endpoint::Std {
        return Err(CliError::Usage(
            "--atomic needs a file destination, not standard output".into(),
        ));
    }
    let to_stdout = dst == Endpoint::Std;
    let cfg = a.common.config("recv", a.atomic, a.fsync);
    let report = highwater::block_on(net::recv(a.addr, dst, cfg))?;
    a.common.report(&report, to_stdout)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
