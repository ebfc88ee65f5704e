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
    pub fn parse(s: &std::ffi::OsStr) -> Endpoint {
        if s == "-" {
            Endpoint::Std
        } else {
            Endpoint::Path(PathBuf::from(s))
        }
    }

    /// `'path'` (quoted and escaped, as Rust's `{:?}` does, when it holds a
    /// control character, so that a name cannot break the one-line message
    /// or talk to the terminal), or `std` for `-`.
    pub fn show(&self, std: &str) -> String {
        match self {
            Endpoint::Path(p) => {
                let name = p.display().to_string();
                if name.chars().any(char::is_control) {
                    format!("{name:?}")
                } else {
                    format!("'{name}'")
                }
            }
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
        Endpoint::Path(p) => File::open(p)
            .map_err(|e| io_context(&format!("cannot open {}", src.show("standard input")), e))?,
    };
    let meta = file
        .metadata()
        .map_err(|e| io_context(&format!("cannot read {}", src.show("standard input")), e))?;
    if meta.is_dir() {
        return Err(CliError::Failed(format!(
            "cannot copy {}: it is a directory",
            src.show("standard input")
        )));
    }
    Ok((file, meta))
}

/// Checks the endpoints before anything is created or truncated: the source
/// opens and is not a directory, the destination is not a directory and not
/// the source itself.
pub fn open_source(src: &Endpoint, dst: &Endpoint) -> Result<(File, Option<u64>), CliError> {
    let (file, meta) = open_input_meta(src)?;
    // Standard output redirected into the source (`copy a - >> a`) would
    // grow it without end: refused, as `cat` refuses it.
    let stdout_meta = || {
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .and_then(|f| f.metadata())
    };
    let dst_meta = match dst {
        Endpoint::Path(d) => std::fs::metadata(d),
        Endpoint::Std => stdout_meta(),
    };
    if let (Endpoint::Std, Ok(dm)) = (dst, &dst_meta) {
        use std::os::unix::fs::MetadataExt;
        if dm.is_file() && dm.dev() == meta.dev() && dm.ino() == meta.ino() {
            return Err(CliError::Usage(format!(
                "{} and standard output are the same file: the copy would read what it writes",
                src.show("standard input")
            )));
        }
    }
    if let Endpoint::Path(_) = dst {
        if let Ok(dm) = dst_meta {
            if dm.is_dir() {
                return Err(CliError::Failed(format!(
                    "cannot write {}: it is a directory",
                    dst.show("standard output")
                )));
            }
            use std::os::unix::fs::MetadataExt;
            if dm.dev() == meta.dev() && dm.ino() == meta.ino() && meta.is_file() {
                return Err(CliError::Failed(format!(
                    "{} and {} are the same file",
                    src.show("standard input"),
                    dst.show("standard output")
                )));
            }
        }
    }
    let size = meta.is_file().then_some(meta.len());
    Ok((file, size))
}
