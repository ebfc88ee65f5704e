//! `highwater`: see backpressure at work from the command line.
//!
//! For now one subcommand, `demo`: a fast producer writes into a deliberately
//! slow Writable and the console narrates each `write()` result, every pause
//! and every `'drain'`, then a summary. File copying and piping come with the
//! file streams.

mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Node.js streams, with their backpressure, done right in Rust.
#[derive(Debug, Parser)]
#[command(name = "highwater", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A fast producer and a slow consumer: watch write() return false, the
    /// producer pause, and 'drain' resume it.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("highwater: {e}");
            ExitCode::FAILURE
        }
    }
}
