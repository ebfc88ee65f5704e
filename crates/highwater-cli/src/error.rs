//! What can go wrong in a `highwater` command, and the exit status of each.
//!
//! Every error is one line on stderr, prefixed `highwater: `, except a
//! closed output pipe, which ends the command quietly, as it does `pv`,
//! `dd` and `mbuffer`.

use std::process::ExitCode;

/// Why a command stopped before it was done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// The command line asks for something impossible or contradictory;
    /// found before any file is opened or created. Exit status 2.
    #[error("{0}")]
    Usage(String),
    /// The work failed (a file, the network, the disk). Exit status 1.
    #[error("{0}")]
    Failed(String),
    /// SIGINT or SIGTERM: everything was cleaned up. Exit status 130.
    #[error("interrupted")]
    Interrupted,
    /// The reader of standard output went away (EPIPE): nothing more can be
    /// delivered, and nobody is left to tell. Quiet, exit status 141
    /// (128 + SIGPIPE, what a shell reports for `dd` in the same place).
    #[error("the reader of standard output went away")]
    BrokenPipe,
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
            CliError::Interrupted => 130,
            CliError::BrokenPipe => 141,
        })
    }

    /// Prints the error's line on stderr (nothing for a closed pipe).
    pub fn print(&self) {
        if *self != CliError::BrokenPipe {
            eprintln!("highwater: {self}");
        }
    }
}

impl From<String> for CliError {
    fn from(m: String) -> CliError {
        CliError::Failed(m)
    }
}
