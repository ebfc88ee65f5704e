//! The two ends of a transfer as the user names them (a path, or `-`), and
//! the checks made on them before anything is created or truncated.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use highwater::Error;

use crate::error::CliError;

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

/// A one-line error for a failed preparation step (`what: reason`).
pub fn io_context(what: &str, e: std::io::Error) -> CliError {
    let e = Error::io(e, "open", None);
    CliError::Failed(format!(
        "{what}: {}",
        e.to_string().trim_end_matches(", open")
    ))
}

/// Opens the source: it must open and not be a directory. Returns the file
/// and its size (for a regular file).
pub fn open_input(src: &Endpoint) -> Result<(File, Option<u64>), CliError> {
    let (file, meta) = open_input_meta(src)?;
    Ok((file, meta.is_file().then_some(meta.len())))
}

fn open_input_meta(src: &Endpoint) -> Result<(File, std::fs::Metadata), CliError> {
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
        return Err(CliError::Failed(format!(
            "cannot copy {}: it is a directory",
            src.show("")
        )));
    }
    Ok((file, meta))
}

/// Checks the endpoints before anything is created or truncated: the source
/// opens and is not a directory, the destination is not a directory and not
/// the source itself.
pub fn open_source(src: &Endpoint, dst: &Endpoint) -> Result<(File, Option<u64>), CliError> {
    let (file, meta) = open_input_meta(src)?;
    if let Endpoint::Path(d) = dst {
        if let Ok(dm) = std::fs::metadata(d) {
            if dm.is_dir() {
                return Err(CliError::Failed(format!(
                    "cannot write {}: it is a directory",
                    dst.show("")
                )));
            }
            use std::os::unix::fs::MetadataExt;
            if dm.dev() == meta.dev() && dm.ino() == meta.ino() && meta.is_file() {
                return Err(CliError::Failed(format!(
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
