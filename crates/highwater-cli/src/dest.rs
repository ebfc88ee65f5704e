//! Where a transfer writes: the destination file, or (with `--atomic`) a
//! temporary file beside it that is renamed over it on success.
//!
//! A destination is looked at first ([`plan_dest`]: nothing is created),
//! then opened ([`DestPlan::open`]), so that `recv` can check everything
//! before it listens and create the file only once data arrives.
//!
//! Without `--atomic` the destination is opened for writing as `>` would
//! (created, or truncated), whatever it is: a device, a FIFO or a socket is
//! written in place, never unlinked.
//!
//! With `--atomic`:
//!
//! * Only a regular file is replaced. A character or block device, a FIFO
//!   or a socket is refused (a usage error, exit status 2) before anything
//!   is created: renaming a file over it would destroy the node instead of
//!   writing to it.
//! * Symbolic links are followed (each relative one from its own folder,
//!   at most 40 of them, then an error): the file at the end of the chain
//!   is replaced and the links stay links. A dangling link is written
//!   through too: the file is created where it points (as a plain
//!   `highwater copy`, or a shell's `>`, would create it).
//! * The temporary file, `.NAME.highwater-PID.tmp`, is made in the folder
//!   of that final file (a rename never crosses file systems), and removed
//!   on any failure or interruption ([`Dest::discard`]).
//! * The replaced file's permission bits (`mode & 0o7777`) and, where
//!   permitted, its owner and group are given to the new file: the
//!   temporary file is created with mode 0600, so the data is never
//!   readable by more people than the final mode allows, and just before
//!   the rename it gets the owner (a refusal, `EPERM`, is tolerated: the
//!   file then belongs to whoever ran the copy, and loses its set-user-ID or
//!   set-group-ID bit, as with `cp -p`), then the mode. With nothing to
//!   replace, the new file gets the mode a plain create gives (0666 less
//!   the umask).
//! * Not kept: hard links (the name gets a new file; other names of the old
//!   one keep the old content), ACLs, extended attributes, timestamps.
//! * With `--fsync`, the data and the new file's owner and mode are synced
//!   before the rename, and the folder after it, so that the rename itself
//!   survives a crash.

use std::fs::{File, OpenOptions, Permissions};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use highwater::fs::{write_stream_from_file, WriteStream, WriteStreamOptions};

use crate::endpoint::{io_context, Endpoint};
use crate::engine::CopyConfig;
use crate::error::CliError;

/// The most symbolic links followed to the destination (Linux's own limit).
const MAX_LINKS: usize = 40;

/// `EPERM` (1 on every Unix): not allowed to give a file away.
const EPERM: i32 = 1;

/// The owner, group and permission bits of the file `--atomic` replaces.
#[derive(Debug, Clone, Copy)]
pub struct Keep {
    mode: u32,
    uid: u32,
    gid: u32,
}

/// A destination looked at but not yet created (see [`plan_dest`]).
#[derive(Debug, Clone)]
pub enum DestPlan {
    /// Standard output.
    Std,
    /// A path, opened (created, truncated) in place.
    InPlace(PathBuf),
    /// With `--atomic`: a temporary file in `dir` renamed over `target`.
    Replace {
        /// The file to replace, at the end of any symbolic links.
        target: PathBuf,
        /// The folder of `target`, where the temporary file goes.
        dir: PathBuf,
        /// The temporary file's name.
        tmp: PathBuf,
        /// What the replaced file had; `None` when there is none.
        keep: Option<Keep>,
    },
}

/// What `--atomic` refuses to replace, in words; `None` for what it can.
fn special_kind(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        None
    }
}

/// The folder holding `p` (`.` for a bare name).
fn folder_of(p: &Path) -> PathBuf {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Follows the symbolic links from `p` to the file they lead to (which may
/// not exist: a dangling link leads to where the file would be created).
fn resolve(p: &Path, dst: &Endpoint) -> Result<PathBuf, CliError> {
    let mut cur = p.to_path_buf();
    for _ in 0..=MAX_LINKS {
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&cur).map_err(|e| {
                    io_context(&format!("cannot read the link '{}'", cur.display()), e)
                })?;
                cur = if to.is_absolute() {
                    to
                } else {
                    folder_of(&cur).join(to)
                };
            }
            Ok(_) => return Ok(cur),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cur),
            Err(e) => return Err(io_context(&format!("cannot write {}", dst.show("")), e)),
        }
    }
    Err(CliError::Failed(format!(
        "cannot write {}: too many levels of symbolic links (more than {MAX_LINKS}; ELOOP)",
        dst.show("")
    )))
}

/// `'dst'`, and where it leads when that is another path.
fn named(dst: &Endpoint, target: &Path) -> String {
    match dst {
        Endpoint::Path(p) if p != target => {
            format!("{} (a link to '{}')", dst.show(""), target.display())
        }
        _ => dst.show(""),
    }
}

/// The temporary file's name for `name`: `.NAME.highwater-PID.tmp`, with
/// NAME shortened (at a character boundary) so that the whole fits the
/// 255 bytes a file name may have.
fn temp_name(name: &str, pid: u32) -> String {
    let tail = format!(".highwater-{pid}.tmp");
    let room = 255 - 1 - tail.len();
    let mut cut = name.len().min(room);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}{tail}", &name[..cut])
}

/// Looks at the destination and decides how it will be written, creating
/// nothing: it must not be a directory, its folder must exist, and with
/// `atomic` it must be a regular file (or not exist yet).
///
/// # Errors
///
/// A usage error for a device, FIFO or socket under `--atomic`; a failure
/// for a directory, a missing folder, a loop of links.
pub fn plan_dest(dst: &Endpoint, atomic: bool) -> Result<DestPlan, CliError> {
    let Endpoint::Path(p) = dst else {
        return Ok(DestPlan::Std);
    };
    if p.as_os_str().as_encoded_bytes().ends_with(b"/") && !p.is_dir() {
        return Err(CliError::Failed(format!(
            "cannot write {}: a name ending in '/' is a directory, and there is none",
            dst.show("")
        )));
    }
    // What the kernel reaches through every link (`/dev/stdout` leads to
    // `pipe:[N]`, which is not a path to follow by hand).
    if let (true, Ok(m)) = (atomic, std::fs::metadata(p)) {
        if let Some(kind) = special_kind(m.file_type()) {
            return Err(CliError::Usage(format!(
                "--atomic cannot replace {}: it is {kind} (atomic replacement needs a \
                 regular file; without --atomic it is written in place)",
                dst.show("")
            )));
        }
    }
    let target = resolve(p, dst)?;
    let existing = match std::fs::symlink_metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_context(&format!("cannot write {}", dst.show("")), e)),
    };
    let dir = folder_of(&target);
    match &existing {
        Some(m) if m.is_dir() => {
            return Err(CliError::Failed(format!(
                "cannot write {}: it is a directory",
                dst.show("")
            )))
        }
        Some(m) => {
            if let (true, Some(kind)) = (atomic, special_kind(m.file_type())) {
                return Err(CliError::Usage(format!(
                    "--atomic cannot replace {}: it is {kind} (atomic replacement needs a \
                     regular file; without --atomic it is written in place)",
                    named(dst, &target)
                )));
            }
            if atomic {
                // Replacing is no way round a file the user may not write:
                // the same refusal as a plain copy's (root may write it).
                OpenOptions::new()
                    .write(true)
                    .open(&target)
                    .map_err(|e| io_context(&format!("cannot write {}", named(dst, &target)), e))?;
            }
        }
        None => {
            // The folder must be there for the file to be created in it.
            let dm = std::fs::metadata(&dir)
                .map_err(|e| io_context(&format!("cannot create {}", named(dst, &target)), e))?;
            if !dm.is_dir() {
                return Err(CliError::Failed(format!(
                    "cannot create {}: '{}' is not a directory",
                    named(dst, &target),
                    dir.display()
                )));
            }
        }
    }
    if !atomic {
        return Ok(DestPlan::InPlace(p.clone()));
    }
    let name = target.file_name().ok_or_else(|| {
        CliError::Failed(format!(
            "cannot write {}: it does not name a file",
            dst.show("")
        ))
    })?;
    let tmp = dir.join(temp_name(&name.to_string_lossy(), std::process::id()));
    let keep = existing.map(|m| Keep {
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    });
    Ok(DestPlan::Replace {
        target,
        dir,
        tmp,
        keep,
    })
}

impl DestPlan {
    /// Creates the destination (or the temporary file), ready to be written.
    ///
    /// # Errors
    ///
    /// One line: the file or the temporary file cannot be created.
    pub fn open(&self, dst: &Endpoint, cfg: &CopyConfig) -> Result<Dest, CliError> {
        match self {
            DestPlan::Std => {
                let fd = std::io::stdout()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| io_context("cannot write standard output", e))?;
                Ok(Dest {
                    file: Some(File::from(fd)),
                    replace: None,
                })
            }
            DestPlan::InPlace(p) => {
                let file = File::create(p)
                    .map_err(|e| io_context(&format!("cannot create {}", dst.show("")), e))?;
                Ok(Dest {
                    file: Some(file),
                    replace: None,
                })
            }
            DestPlan::Replace {
                target,
                dir,
                tmp,
                keep,
            } => {
                // Private until it gets the replaced file's mode; with nothing
                // replaced, what a plain create gives (the umask applies).
                let mode = if keep.is_some() { 0o600 } else { 0o666 };
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(tmp)
                    .map_err(|e| {
                        io_context(
                            &format!("cannot create a temporary file in '{}'", dir.display()),
                            e,
                        )
                    })?;
                let handle = match file.try_clone() {
                    Ok(h) => h,
                    Err(e) => {
                        let _ = std::fs::remove_file(tmp);
                        return Err(io_context("cannot set up the temporary file", e));
                    }
                };
                Ok(Dest {
                    file: Some(file),
                    replace: Some(Replace {
                        tmp: tmp.clone(),
                        target: target.clone(),
                        dir: dir.clone(),
                        handle,
                        keep: *keep,
                        fsync: cfg.fsync,
                        done: false,
                    }),
                })
            }
        }
    }
}

impl DestPlan {
    /// For a transfer that can resume (from a NATS stream): opens the
    /// destination so that writing starts at `offset`, the bytes an earlier
    /// receiver wrote and had acknowledged. With `--atomic` the file written
    /// is `.NAME.highwater-ID.part` beside the final file, named after the
    /// transfer `id` so that a restarted receiver finds it; it is renamed
    /// over the destination on success, and kept on failure for a restart
    /// to resume. Returns the file written, to read the first `offset`
    /// bytes back from (for the checksum).
    ///
    /// # Errors
    ///
    /// One line: the file cannot be created or opened, or it is shorter
    /// than `offset` (nothing to resume from), or the destination is
    /// standard output and `offset` is not 0.
    pub fn open_resumable(
        &self,
        dst: &Endpoint,
        cfg: &CopyConfig,
        id: &str,
        offset: u64,
    ) -> Result<(Dest, Option<PathBuf>), CliError> {
        let resume = |path: &Path, shown: String| -> Result<File, CliError> {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| {
                    io_context(
                        &format!("cannot resume the transfer at byte {offset} into {shown}"),
                        e,
                    )
                })?;
            let len = file
                .metadata()
                .map_err(|e| io_context(&format!("cannot read {shown}"), e))?
                .len();
            if len < offset {
                return Err(CliError::Failed(format!(
                    "cannot resume the transfer: the stream resumes at byte {offset}, but {shown} has only {len} bytes"
                )));
            }
            file.set_len(offset)
                .map_err(|e| io_context(&format!("cannot truncate {shown}"), e))?;
            Ok(file)
        };
        match self {
            DestPlan::Std if offset > 0 => Err(CliError::Failed(format!(
                "cannot resume the transfer at byte {offset} into standard output: receive into a file"
            ))),
            DestPlan::Std => Ok((self.open(dst, cfg)?, None)),
            DestPlan::InPlace(p) if offset == 0 => Ok((self.open(dst, cfg)?, Some(p.clone()))),
            DestPlan::InPlace(p) => {
                let file = resume(p, dst.show(""))?;
                Ok((
                    Dest {
                        file: Some(file),
                        replace: None,
                    },
                    Some(p.clone()),
                ))
            }
            DestPlan::Replace {
                target, dir, keep, ..
            } => {
                let name = target
                    .file_name()
                    .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
                let tail = format!(".highwater-{id}.part");
                let mut short = name.clone();
                while 1 + short.len() + tail.len() > 255 {
                    short.pop();
                }
                let part = dir.join(format!(".{short}{tail}"));
                let file = if offset == 0 {
                    let mode = if keep.is_some() { 0o600 } else { 0o666 };
                    OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(mode)
                        .open(&part)
                        .map_err(|e| {
                            io_context(
                                &format!("cannot create a temporary file in '{}'", dir.display()),
                                e,
                            )
                        })?
                } else {
                    resume(&part, format!("'{}'", part.display()))?
                };
                let handle = file
                    .try_clone()
                    .map_err(|e| io_context("cannot set up the temporary file", e))?;
                Ok((
                    Dest {
                        file: Some(file),
                        replace: Some(Replace {
                            tmp: part.clone(),
                            target: target.clone(),
                            dir: dir.clone(),
                            handle,
                            keep: *keep,
                            fsync: cfg.fsync,
                            done: false,
                        }),
                    },
                    Some(part),
                ))
            }
        }
    }
}

/// The temporary file of an `--atomic` transfer, and what to do with it.
struct Replace {
    tmp: PathBuf,
    target: PathBuf,
    dir: PathBuf,
    /// A second descriptor of the temporary file (the first goes to the
    /// write stream): its owner and mode are set through it.
    handle: File,
    keep: Option<Keep>,
    fsync: bool,
    /// Renamed: nothing left to remove.
    done: bool,
}

impl Replace {
    /// Gives the temporary file the replaced file's owner, then its mode
    /// (`chown` may clear the set-user-ID bit, so it comes first).
    fn keep_attributes(&self, dst: &Endpoint) -> Result<(), CliError> {
        let Some(k) = self.keep else {
            return Ok(());
        };
        let fail = |what: &str, e| io_context(&format!("cannot {what} of {}", dst.show("")), e);
        let refused = |e: &std::io::Error| e.raw_os_error() == Some(EPERM);
        match std::os::unix::fs::fchown(&self.handle, Some(k.uid), Some(k.gid)) {
            Ok(()) => {}
            // Not allowed to give the file away: keep the group if we may.
            Err(e) if refused(&e) => {
                match std::os::unix::fs::fchown(&self.handle, None, Some(k.gid)) {
                    Ok(()) => {}
                    Err(e) if refused(&e) => {}
                    Err(e) => return Err(fail("keep the group", e)),
                }
            }
            Err(e) => return Err(fail("keep the owner", e)),
        }
        let now = self
            .handle
            .metadata()
            .map_err(|e| fail("read the owner", e))?;
        let mut mode = k.mode;
        if now.uid() != k.uid {
            mode &= !0o4000;
        }
        if now.gid() != k.gid {
            mode &= !0o2000;
        }
        self.handle
            .set_permissions(Permissions::from_mode(mode))
            .map_err(|e| fail("keep the mode", e))
    }
}

/// Where the bytes are written: the destination, or a temporary file beside
/// it that is renamed over it on success.
pub struct Dest {
    file: Option<File>,
    replace: Option<Replace>,
}

impl Dest {
    /// With `--atomic`: gives the temporary file the replaced file's owner
    /// and mode, and renames it over the destination (syncing the folder
    /// after with `--fsync`).
    ///
    /// # Errors
    ///
    /// One line: the owner, mode, rename or sync failed.
    pub fn commit(&mut self, dst: &Endpoint) -> Result<(), CliError> {
        let Some(r) = &mut self.replace else {
            return Ok(());
        };
        r.keep_attributes(dst)?;
        if r.fsync && r.keep.is_some() {
            r.handle
                .sync_all()
                .map_err(|e| io_context(&format!("cannot sync {}", dst.show("")), e))?;
        }
        std::fs::rename(&r.tmp, &r.target)
            .map_err(|e| io_context(&format!("cannot rename the copy to {}", dst.show("")), e))?;
        r.done = true;
        if r.fsync {
            File::open(&r.dir).and_then(|d| d.sync_all()).map_err(|e| {
                io_context(&format!("cannot sync the folder '{}'", r.dir.display()), e)
            })?;
        }
        Ok(())
    }

    /// After a failure: removes the temporary file, if any (and not yet
    /// renamed).
    pub fn discard(&self) {
        if let Some(r) = &self.replace {
            if !r.done {
                let _ = std::fs::remove_file(&r.tmp);
            }
        }
    }

    /// A write stream over the destination file (once).
    ///
    /// # Errors
    ///
    /// The destination was already handed out, or the stream cannot be made.
    pub fn stream(&mut self, cfg: &CopyConfig) -> Result<WriteStream, CliError> {
        self.stream_at(cfg, None)
    }

    /// A write stream over the destination file (once), writing from byte
    /// `start` when given (a resumed transfer), else where the file is.
    ///
    /// # Errors
    ///
    /// The destination was already handed out, or the stream cannot be made.
    pub fn stream_at(
        &mut self,
        cfg: &CopyConfig,
        start: Option<u64>,
    ) -> Result<WriteStream, CliError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| CliError::Failed("the destination is already in use".into()))?;
        write_stream_from_file(file, {
            let o = WriteStreamOptions::default()
                .high_water_mark(cfg.high_water_mark)
                .flush(cfg.fsync);
            let o = match start {
                Some(s) => o.start(s),
                None => o,
            };
            match cfg.low_water_mark {
                Some(l) => o.low_water_mark(l),
                None => o,
            }
        })
        .map_err(|e| CliError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_fit_in_a_file_name() {
        assert_eq!(temp_name("out.bin", 42), ".out.bin.highwater-42.tmp");
        let long = "é".repeat(200); // 400 bytes
        let t = temp_name(&long, 4_000_000);
        assert!(t.len() <= 255, "{}", t.len());
        assert!(t.starts_with(".é") && t.ends_with(".highwater-4000000.tmp"));
    }
}
