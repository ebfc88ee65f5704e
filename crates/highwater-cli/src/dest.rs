//! Where a transfer writes: the destination file, or (with `--atomic`) a
//! temporary file beside it that is renamed over it on success.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use highwater::fs::{write_stream_from_file, WriteStream, WriteStreamOptions};

use crate::endpoint::{io_context, Endpoint};
use crate::engine::CopyConfig;
use crate::error::CliError;

/// Where the bytes are written: the destination, or a temporary file beside
/// it that is renamed over it on success.
pub struct Dest {
    file: Option<File>,
    tmp: Option<PathBuf>,
    final_path: Option<PathBuf>,
}

impl Dest {
    /// With `--atomic`: renames the temporary file over the destination.
    pub fn commit(&self, dst: &Endpoint) -> Result<(), CliError> {
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
    pub fn stream(&mut self, cfg: &CopyConfig) -> Result<WriteStream, CliError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| CliError::Failed("the destination is already in use".into()))?;
        write_stream_from_file(
            file,
            WriteStreamOptions {
                high_water_mark: Some(cfg.high_water_mark),
                low_water_mark: cfg.low_water_mark,
                flush: cfg.fsync,
                ..Default::default()
            },
        )
        .map_err(|e| CliError::Failed(e.to_string()))
    }
}

/// Opens (creates, truncates) the destination, or a temporary file beside it
/// with `atomic`.
pub fn open_dest(dst: &Endpoint, atomic: bool) -> Result<Dest, CliError> {
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
