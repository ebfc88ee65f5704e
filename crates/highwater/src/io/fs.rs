//! File streams: Node's `fs.createReadStream` and `fs.createWriteStream`
//! (`lib/internal/fs/streams.js`).
//!
//! A [`ReadStream`] is a `Readable<Bytes>` whose source reads a file, a
//! [`WriteStream`] a `Writable<Bytes>` whose sink writes one. Both open the
//! file in their construct hook (on the next tick; `'open'` and `'ready'`
//! follow), do every open, read, write, fsync and close on the I/O thread
//! pool (a few worker threads, like libuv's: the event loop never blocks on
//! a file), and report errors as Node does: `code` (`ENOENT`, `EISDIR`, …),
//! `syscall` and, for `open`, `path`; `'error'` then `'close'`; no `'open'`
//! after a failed open. Writes made before the file is open are buffered and
//! written together as one `writev`.
//!
//! File I/O completes on later turns of the event loop, so drive the loop
//! with [`block_on`](crate::block_on) or [`run`](crate::run): a bare
//! [`run_until_idle`](crate::run_until_idle) returns without waiting for I/O
//! still in flight on the pool.
//!
//! # Examples
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("hw-doc-fs-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let (src, dst) = (dir.join("in.txt"), dir.join("out.txt"));
//! # std::fs::write(&src, b"hello file").unwrap();
//! use highwater::prelude::*;
//! use highwater::fs::{create_read_stream, create_write_stream, ReadStreamOptions, WriteStreamOptions};
//! use highwater::Pipeline;
//!
//! highwater::block_on(async move {
//!     let r = create_read_stream(&src, ReadStreamOptions::default())?;
//!     let w = create_write_stream(&dst, WriteStreamOptions::default())?;
//!     Pipeline::new(&r).run(&w).await?;
//!     assert_eq!(std::fs::read(&dst).unwrap(), b"hello file");
//!     Ok::<_, highwater::Error>(())
//! })
//! .unwrap();
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use crate::runtime::event_loop;
use crate::runtime::events::{ListenerId, Listeners};
use crate::state::{AbortSignal, Error, ErrorKind, ReadableOptions, WritableOptions};
use crate::stream::core::Core;
use crate::stream::side::sealed::{Handle, HasReadable, HasWritable};
use crate::stream::{
    Done, Hooks, Readable, ReadableImpl, Source, StreamBase, Writable, WritableImpl, WritableSide,
};

use super::pool as io_pool;

/// Node's default mark for file read streams: 64 KiB (in every version).
///
/// ```
/// use highwater::prelude::*;
/// use highwater::fs::{create_read_stream, ReadStreamOptions, DEFAULT_READ_HIGH_WATER_MARK};
/// use std::{cell::RefCell, rc::Rc};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-rhwm-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("big.bin");
/// std::fs::write(&path, vec![1u8; 100_000]).unwrap();
/// highwater::block_on(async move {
///     let rs = create_read_stream(&path, ReadStreamOptions::default())?;
///     assert_eq!(rs.readable_high_water_mark(), DEFAULT_READ_HIGH_WATER_MARK);
///     let sizes = Rc::new(RefCell::new(Vec::new()));
///     let s = sizes.clone();
///     rs.on_data(move |c| s.borrow_mut().push(c.len()));
///     highwater::finished_async(&rs).await?;
///     // Each read asks for the mark: 64 KiB, then the rest.
///     assert_eq!(*sizes.borrow(), [DEFAULT_READ_HIGH_WATER_MARK, 100_000 - 65_536]);
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub const DEFAULT_READ_HIGH_WATER_MARK: usize = 64 * 1024;

/// The file operations a file stream performs: Node's `fs` option of
/// `createReadStream`/`createWriteStream` (custom `open`, `read`, `write`,
/// `writev`, `fsync`, `close`). Every method has a default that does the
/// real I/O; override the ones to replace (Node's own tests use this to
/// inject I/O errors deterministically), and set the result with
/// [`ReadStreamOptions::fs`] or [`WriteStreamOptions::fs`].
///
/// The methods run on the I/O thread pool, never on the event loop's
/// thread, hence `Send + Sync`. An error they return is reported as the
/// stream's error, with the operation's `syscall` (`open`, `read`, `write`,
/// `fsync`, `close`) and, for `open`, the path.
///
/// # Examples
///
/// A file system whose reads fail after the first one:
///
/// ```
/// use std::fs::File;
/// use std::io;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use highwater::prelude::*;
/// use highwater::fs::{create_read_stream, FileSystem, ReadStreamOptions};
///
/// #[derive(Default)]
/// struct FailingDisk(AtomicUsize);
/// impl FileSystem for FailingDisk {
///     fn read(&self, file: &File, buf: &mut [u8], pos: Option<u64>) -> io::Result<usize> {
///         if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
///             highwater::fs::RealFileSystem.read(file, buf, pos) // the real read
///         } else {
///             Err(io::Error::from_raw_os_error(5)) // EIO
///         }
///     }
/// }
///
/// # let dir = std::env::temp_dir().join(format!("hw-doc-fsopt-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("f.bin");
/// std::fs::write(&path, vec![7u8; 10]).unwrap();
/// let err = highwater::block_on(async move {
///     let opts = ReadStreamOptions::default().high_water_mark(4).fs(FailingDisk::default());
///     let r = create_read_stream(&path, opts)?;
///     r.resume();
///     highwater::finished_async(&r).await
/// })
/// .unwrap_err();
/// assert_eq!((err.code(), err.syscall()), ("EIO", Some("read")));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub trait FileSystem: Send + Sync + 'static {
    /// Opens `path` (Node's `fs.open(path, flags, mode, cb)`).
    ///
    /// ```
    /// use highwater::fs::{FileSystem, OpenFlags, RealFileSystem};
    ///
    /// let e = RealFileSystem
    ///     .open("/no/such/dir/x".as_ref(), OpenFlags::parse("r").unwrap(), 0o666)
    ///     .unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    /// ```
    fn open(&self, path: &Path, flags: OpenFlags, mode: u32) -> io::Result<File> {
        flags.open(path, mode)
    }

    /// Reads into `buf` at `pos`, or at the file's position when `None`
    /// (Node's `fs.read(fd, buf, offset, length, position, cb)`); returns
    /// how many bytes were read, 0 at the end of the file.
    ///
    /// ```
    /// use highwater::fs::{FileSystem, RealFileSystem};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-fsread-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("f.txt");
    /// std::fs::write(&path, b"hello").unwrap();
    /// let f = std::fs::File::open(&path).unwrap();
    /// let mut buf = [0u8; 3];
    /// assert_eq!(RealFileSystem.read(&f, &mut buf, Some(2)).unwrap(), 3);
    /// assert_eq!(&buf, b"llo");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn read(&self, file: &File, buf: &mut [u8], pos: Option<u64>) -> io::Result<usize> {
        match pos {
            Some(p) => file.read_at(buf, p),
            None => (&*file).read(buf),
        }
    }

    /// Writes from `buf` at `pos`, or at the file's position when `None`
    /// (Node's `fs.write`); returns how many bytes were written.
    ///
    /// ```
    /// use highwater::fs::{FileSystem, RealFileSystem};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-fswrite-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("f.txt");
    /// let f = std::fs::File::create(&path).unwrap();
    /// assert_eq!(RealFileSystem.write(&f, b"hey", None).unwrap(), 3);
    /// assert_eq!(std::fs::read(&path).unwrap(), b"hey");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn write(&self, file: &File, buf: &[u8], pos: Option<u64>) -> io::Result<usize> {
        match pos {
            Some(p) => file.write_at(buf, p),
            None => (&*file).write(buf),
        }
    }

    /// Writes several buffers at the file's position with one call (Node's
    /// `fs.writev`); returns how many bytes were written. A stream with a
    /// `start` position writes each buffer with [`write`](Self::write)
    /// instead.
    ///
    /// ```
    /// use std::io::IoSlice;
    /// use highwater::fs::{FileSystem, RealFileSystem};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-fswritev-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("f.txt");
    /// let f = std::fs::File::create(&path).unwrap();
    /// let n = RealFileSystem.writev(&f, &[IoSlice::new(b"ab"), IoSlice::new(b"cd")]).unwrap();
    /// assert_eq!(n, 4);
    /// assert_eq!(std::fs::read(&path).unwrap(), b"abcd");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn writev(&self, file: &File, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*file).write_vectored(bufs)
    }

    /// Flushes the file to disk before it is closed, for a write stream
    /// with [`flush`](WriteStreamOptions::flush) on (Node's `fs.fsync`).
    ///
    /// ```
    /// use highwater::fs::{FileSystem, RealFileSystem};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-fsync-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let f = std::fs::File::create(dir.join("f.txt")).unwrap();
    /// assert!(RealFileSystem.fsync(&f).is_ok());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn fsync(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    /// Closes the file (Node's `fs.close(fd, cb)`); an error here is the
    /// stream's error.
    ///
    /// ```
    /// use highwater::fs::{FileSystem, RealFileSystem};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-fsclose-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let f = std::fs::File::create(dir.join("f.txt")).unwrap();
    /// assert!(RealFileSystem.close(f).is_ok());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn close(&self, file: File) -> io::Result<()> {
        drop(file);
        Ok(())
    }
}

/// The real file operations: every [`FileSystem`] method's default. What a
/// file stream uses unless its options say otherwise; a custom
/// [`FileSystem`] calls it to do the real I/O around what it changes.
///
/// # Examples
///
/// ```
/// use highwater::fs::{FileSystem, OpenFlags, RealFileSystem};
///
/// # let dir = std::env::temp_dir().join(format!("hw-doc-realfs-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let f = RealFileSystem.open(&dir.join("new.txt"), OpenFlags::parse("w").unwrap(), 0o644).unwrap();
/// assert_eq!(RealFileSystem.write(&f, b"x", None).unwrap(), 1);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFileSystem;

impl FileSystem for RealFileSystem {}

/// A shared [`FileSystem`] (to look at what it recorded after the stream
/// is done) is one too.
///
/// ```
/// use std::sync::Arc;
/// use highwater::fs::{ReadStreamOptions, RealFileSystem};
///
/// let shared = Arc::new(RealFileSystem);
/// let _o = ReadStreamOptions::default().fs(shared.clone());
/// assert_eq!(Arc::strong_count(&shared), 2);
/// ```
impl<F: FileSystem + ?Sized> FileSystem for Arc<F> {
    fn open(&self, path: &Path, flags: OpenFlags, mode: u32) -> io::Result<File> {
        (**self).open(path, flags, mode)
    }
    fn read(&self, file: &File, buf: &mut [u8], pos: Option<u64>) -> io::Result<usize> {
        (**self).read(file, buf, pos)
    }
    fn write(&self, file: &File, buf: &[u8], pos: Option<u64>) -> io::Result<usize> {
        (**self).write(file, buf, pos)
    }
    fn writev(&self, file: &File, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (**self).writev(file, bufs)
    }
    fn fsync(&self, file: &File) -> io::Result<()> {
        (**self).fsync(file)
    }
    fn close(&self, file: File) -> io::Result<()> {
        (**self).close(file)
    }
}

/// A stream's [`FileSystem`], shared; compared by identity.
#[derive(Clone)]
struct FsOps(Arc<dyn FileSystem>);

impl Default for FsOps {
    fn default() -> Self {
        FsOps(Arc::new(RealFileSystem))
    }
}

impl std::fmt::Debug for FsOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileSystem")
    }
}

impl PartialEq for FsOps {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for FsOps {}

/// Node's `addAbortSignal(signal, stream)`, as the Readable and Writable
/// constructors call it for their `signal` option: an abort destroys the
/// stream with an `AbortError` whose cause is the signal's reason (at once
/// if the signal is already aborted); the listener goes when the stream
/// finishes.
fn add_abort_signal(stream: &(impl StreamBase + Clone + 'static), signal: &AbortSignal) {
    if signal.aborted() {
        stream.destroy(Some(Error::aborted(signal.reason())));
        return;
    }
    let s = stream.clone();
    let listener =
        signal.on_abort(move |reason| s.destroy(Some(Error::aborted(Some(reason.clone())))));
    let signal = signal.clone();
    crate::ops::finished(stream, move |_r| signal.remove(listener));
}

/// How a file is opened: Node's `flags` strings.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::fs::OpenFlags;
///
/// assert_eq!(OpenFlags::parse("rs+").unwrap(), OpenFlags::parse("r+").unwrap()); // synonyms
/// assert_eq!(OpenFlags::parse("as").unwrap(), OpenFlags::parse("a").unwrap());
/// assert_ne!(OpenFlags::parse("w").unwrap(), OpenFlags::parse("a").unwrap()); // truncate vs append
/// assert_eq!(OpenFlags::parse("rw").unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags {
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    create_new: bool,
    truncate: bool,
}

impl OpenFlags {
    /// Parses Node's flags: `r`, `r+`, `rs+`, `w`, `wx`, `w+`, `wx+`, `a`,
    /// `ax`, `a+`, `ax+`, `as`, `as+`.
    ///
    /// # Errors
    ///
    /// `ERR_INVALID_ARG_VALUE` for anything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::fs::OpenFlags;
    /// assert!(OpenFlags::parse("wx").is_ok());
    /// assert_eq!(OpenFlags::parse("q").unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
    /// ```
    pub fn parse(flags: &str) -> Result<Self, Error> {
        let f = |read, write, append, create, create_new, truncate| OpenFlags {
            read,
            write,
            append,
            create,
            create_new,
            truncate,
        };
        Ok(match flags {
            "r" => f(true, false, false, false, false, false),
            "r+" | "rs+" | "sr+" => f(true, true, false, false, false, false),
            "w" => f(false, true, false, true, false, true),
            "wx" | "xw" => f(false, true, false, false, true, false),
            "w+" => f(true, true, false, true, false, true),
            "wx+" | "xw+" => f(true, true, false, false, true, false),
            "a" | "as" | "sa" => f(false, false, true, true, false, false),
            "ax" | "xa" => f(false, false, true, false, true, false),
            "a+" | "as+" | "sa+" => f(true, false, true, true, false, false),
            "ax+" | "xa+" => f(true, false, true, false, true, false),
            other => {
                return Err(Error::new(ErrorKind::InvalidArgValue {
                    name: "flags",
                    value: format!("'{other}'"),
                }))
            }
        })
    }

    fn open(self, path: &Path, mode: u32) -> io::Result<File> {
        OpenOptions::new()
            .read(self.read)
            .write(self.write)
            .append(self.append)
            .create(self.create)
            .create_new(self.create_new)
            .truncate(self.truncate)
            .mode(mode)
            .open(path)
    }
}

/// Where a file stream's file comes from.
#[derive(Debug)]
enum Target {
    Path(String),
    Fd(File),
}

/// Options of [`create_read_stream`] (Node's `fs.createReadStream`
/// options), set by chaining.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::fs::ReadStreamOptions;
///
/// // Bytes 100 to 199, 4 KiB per read.
/// let o = ReadStreamOptions::default().start(100).end(199).high_water_mark(4096);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadStreamOptions {
    high_water_mark: usize,
    start: Option<u64>,
    end: Option<u64>,
    flags: String,
    mode: u32,
    auto_close: bool,
    emit_close: bool,
    encoding: Option<crate::state::Encoding>,
    fs: FsOps,
}

impl Default for ReadStreamOptions {
    fn default() -> Self {
        ReadStreamOptions {
            high_water_mark: DEFAULT_READ_HIGH_WATER_MARK,
            start: None,
            end: None,
            flags: "r".into(),
            mode: 0o666,
            auto_close: true,
            emit_close: true,
            encoding: None,
            fs: FsOps::default(),
        }
    }
}

impl ReadStreamOptions {
    /// Node's `encoding` option: the stream's chunks are decoded UTF-8 text
    /// (whole characters, lengths in UTF-16 code units), as after
    /// [`set_encoding`](crate::ReadableSide::set_encoding). Only UTF-8 is
    /// supported ([`Encoding`](crate::Encoding)).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().encoding(highwater::Encoding::Utf8);
    /// ```
    #[must_use]
    pub fn encoding(mut self, encoding: crate::state::Encoding) -> Self {
        self.encoding = Some(encoding);
        self
    }

    /// Bytes per read, and the readable mark (default 64 KiB).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().high_water_mark(1 << 20);
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water_mark = bytes;
        self
    }

    /// First byte to read (positional reads from there).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().start(10);
    /// ```
    #[must_use]
    pub fn start(mut self, pos: u64) -> Self {
        self.start = Some(pos);
        self
    }

    /// Last byte to read, inclusive.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().end(99);
    /// ```
    #[must_use]
    pub fn end(mut self, pos: u64) -> Self {
        self.end = Some(pos);
        self
    }

    /// How to open the file, as Node's `flags` string (default `r`);
    /// checked when the stream is created.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().flags("r+");
    /// ```
    #[must_use]
    pub fn flags(mut self, flags: &str) -> Self {
        self.flags = flags.into();
        self
    }

    /// Permission bits if the file is created (default 0o666).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().flags("a+").mode(0o600);
    /// ```
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Close the file after `'end'` or an error (Node's `autoClose`,
    /// default true).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().auto_close(false);
    /// ```
    #[must_use]
    pub fn auto_close(mut self, on: bool) -> Self {
        self.auto_close = on;
        self
    }

    /// Emit `'close'` (default true).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::ReadStreamOptions;
    /// let _ = ReadStreamOptions::default().emit_close(false);
    /// ```
    #[must_use]
    pub fn emit_close(mut self, on: bool) -> Self {
        self.emit_close = on;
        self
    }

    /// Node's `fs` option: the [`FileSystem`] whose `open`, `read` and
    /// `close` the stream calls (the real ones by default).
    ///
    /// ```
    /// use highwater::fs::{ReadStreamOptions, RealFileSystem};
    ///
    /// let o = ReadStreamOptions::default().fs(RealFileSystem);
    /// assert_ne!(o, ReadStreamOptions::default()); // another FileSystem
    /// ```
    #[must_use]
    pub fn fs(mut self, fs: impl FileSystem) -> Self {
        self.fs = FsOps(Arc::new(fs));
        self
    }
}

/// Options of [`create_write_stream`] (Node's `fs.createWriteStream`
/// options), set by chaining.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::fs::WriteStreamOptions;
///
/// // Append, fsync before closing, a 1 MiB buffer.
/// let o = WriteStreamOptions::default().flags("a").flush(true).high_water_mark(1 << 20);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStreamOptions {
    high_water_mark: Option<usize>,
    low_water_mark: Option<usize>,
    start: Option<u64>,
    flags: String,
    mode: u32,
    auto_close: bool,
    emit_close: bool,
    flush: bool,
    fs: FsOps,
}

impl Default for WriteStreamOptions {
    fn default() -> Self {
        WriteStreamOptions {
            high_water_mark: None,
            low_water_mark: None,
            start: None,
            flags: "w".into(),
            mode: 0o666,
            auto_close: true,
            emit_close: true,
            flush: false,
            fs: FsOps::default(),
        }
    }
}

impl WriteStreamOptions {
    /// The write buffer's mark (default: the stream default, 16 KiB).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().high_water_mark(1 << 20);
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water_mark = Some(bytes);
        self
    }

    /// *Beyond Node.* `'drain'` once the write buffer has fallen to this
    /// level instead of only when it is empty (see
    /// [`WritableOptions::low_water_mark`](crate::WritableOptions::low_water_mark)).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().high_water_mark(1 << 20).low_water_mark(256 << 10);
    /// ```
    #[must_use]
    pub fn low_water_mark(mut self, bytes: usize) -> Self {
        self.low_water_mark = Some(bytes);
        self
    }

    /// First byte to write (positional writes from there).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().flags("r+").start(4096);
    /// ```
    #[must_use]
    pub fn start(mut self, pos: u64) -> Self {
        self.start = Some(pos);
        self
    }

    /// How to open the file, as Node's `flags` string (default `w`);
    /// checked when the stream is created.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().flags("wx"); // fail if it exists
    /// ```
    #[must_use]
    pub fn flags(mut self, flags: &str) -> Self {
        self.flags = flags.into();
        self
    }

    /// Permission bits if the file is created (default 0o666, less the umask).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().mode(0o600);
    /// ```
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Close the file after `'finish'` or an error (default true).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().auto_close(false);
    /// ```
    #[must_use]
    pub fn auto_close(mut self, on: bool) -> Self {
        self.auto_close = on;
        self
    }

    /// Emit `'close'` (default true).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().emit_close(false);
    /// ```
    #[must_use]
    pub fn emit_close(mut self, on: bool) -> Self {
        self.emit_close = on;
        self
    }

    /// `fsync` the file before closing it (default false).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::WriteStreamOptions;
    /// let _ = WriteStreamOptions::default().flush(true);
    /// ```
    #[must_use]
    pub fn flush(mut self, on: bool) -> Self {
        self.flush = on;
        self
    }

    /// Node's `fs` option: the [`FileSystem`] whose `open`, `write`,
    /// `writev`, `fsync` and `close` the stream calls (the real ones by
    /// default).
    ///
    /// ```
    /// use highwater::fs::{RealFileSystem, WriteStreamOptions};
    ///
    /// let o = WriteStreamOptions::default().fs(RealFileSystem);
    /// assert_ne!(o, WriteStreamOptions::default()); // another FileSystem
    /// ```
    #[must_use]
    pub fn fs(mut self, fs: impl FileSystem) -> Self {
        self.fs = FsOps(Arc::new(fs));
        self
    }
}

/// What a destroy waiting for the I/O in flight does once it is over.
type IoDone = Box<dyn FnOnce(Option<Error>)>;

/// What the two sides of a file stream share: the file, position, counters
/// and the `'open'`/`'ready'` listeners.
struct FileState {
    path: Option<String>,
    flags: OpenFlags,
    mode: u32,
    /// Node's `fd`: `None` until opened and after closing (`pending`).
    file: RefCell<Option<Arc<File>>>,
    /// The fd given by the caller, until the stream opens it as `file`.
    given: RefCell<Option<File>>,
    pos: Cell<Option<u64>>,
    /// Inclusive end for reads; `None` is Node's `Infinity`.
    end: Option<u64>,
    /// `bytesRead` / `bytesWritten`.
    bytes: Cell<u64>,
    performing_io: Cell<bool>,
    /// A destroy waiting for the I/O in flight (Node's `kIoDone`).
    io_done: RefCell<Option<IoDone>>,
    flush: bool,
    fs: Arc<dyn FileSystem>,
    open: Listeners<RawFd>,
    ready: Listeners<()>,
}

impl FileState {
    fn new(
        target: Target,
        flags: OpenFlags,
        mode: u32,
        start: Option<u64>,
        end: Option<u64>,
        flush: bool,
        fs: FsOps,
    ) -> Rc<Self> {
        let (path, given) = match target {
            Target::Path(p) => (Some(p), None),
            Target::Fd(f) => (None, Some(f)),
        };
        Rc::new(FileState {
            path,
            flags,
            mode,
            file: RefCell::new(None),
            given: RefCell::new(given),
            pos: Cell::new(start),
            end,
            bytes: Cell::new(0),
            performing_io: Cell::new(false),
            io_done: RefCell::new(None),
            flush,
            fs: fs.0,
            open: Listeners::default(),
            ready: Listeners::default(),
        })
    }

    fn fd(&self) -> Option<Arc<File>> {
        self.file.borrow().clone()
    }

    /// Node's `_construct`: use the given fd, or open the path on the pool;
    /// then `'open'` and `'ready'`.
    fn construct(self: &Rc<Self>, done: Done) {
        if let Some(f) = self.given.borrow_mut().take() {
            *self.file.borrow_mut() = Some(Arc::new(f));
            done.ok();
            return;
        }
        let Some(path) = self.path.clone() else {
            done.ok();
            return;
        };
        let (flags, mode) = (self.flags, self.mode);
        let p = path.clone();
        let fs = self.fs.clone();
        let rx = io_pool::run(move || fs.open(Path::new(&p), flags, mode));
        let st = self.clone();
        let _task = event_loop::spawn(async move {
            match rx.await {
                Ok(Ok(file)) => {
                    let fd = file.as_raw_fd();
                    *st.file.borrow_mut() = Some(Arc::new(file));
                    done.ok();
                    st.open.emit(&fd);
                    st.ready.emit(&());
                }
                Ok(Err(e)) => done.err(Error::io(e, "open", Some(path))),
                Err(_) => done.err(pool_gone("open")),
            }
        });
    }

    /// `_destroy`: wait for the I/O in flight, then close.
    fn destroy(self: &Rc<Self>, err: Option<Error>, done: Done) {
        if self.performing_io.get() {
            let st = self.clone();
            *self.io_done.borrow_mut() = Some(Box::new(move |er| st.close(err.or(er), done)));
        } else {
            self.close(err, done);
        }
    }

    /// Node's `close(stream, err, cb)`: fsync first with `flush`, close on
    /// the pool, `fd = null` at once, then the callback.
    fn close(self: &Rc<Self>, err: Option<Error>, done: Done) {
        let Some(file) = self.file.borrow_mut().take() else {
            done.call(err.map_or(Ok(()), Err));
            return;
        };
        let flush = self.flush;
        let fs = self.fs.clone();
        let rx = io_pool::run(move || {
            let synced = if flush { fs.fsync(&file) } else { Ok(()) };
            // Nothing else holds the file once no I/O is in flight.
            let closed = match Arc::try_unwrap(file) {
                Ok(file) => fs.close(file),
                Err(shared) => {
                    drop(shared);
                    Ok(())
                }
            };
            (synced, closed)
        });
        let _task = event_loop::spawn(async move {
            // Node's `close`: `cb(closeErr || err || flushErr)`.
            let (flush_err, close_err) = match rx.await {
                Ok((synced, closed)) => (
                    synced.err().map(|e| Error::io(e, "fsync", None)),
                    closed.err().map(|e| Error::io(e, "close", None)),
                ),
                Err(_) => (None, Some(pool_gone("close"))),
            };
            done.call(close_err.or(err).or(flush_err).map_or(Ok(()), Err));
        });
    }

    /// The I/O in flight finished: a waiting destroy proceeds.
    fn io_finished(&self, err: Option<Error>) -> bool {
        self.performing_io.set(false);
        let waiting = self.io_done.borrow_mut().take();
        match waiting {
            Some(f) => {
                f(err);
                true
            }
            None => false,
        }
    }
}

fn pool_gone(syscall: &'static str) -> Error {
    Error::io(
        io::Error::other("the I/O thread pool stopped"),
        syscall,
        None,
    )
}

struct FileSource(Rc<FileState>);

impl ReadableImpl<Bytes> for FileSource {
    fn construct(&self, done: Done) {
        self.0.construct(done);
    }

    fn hooks(&self) -> Hooks {
        Hooks::CONSTRUCT
    }

    /// Node's `ReadStream.prototype._read`.
    fn read(&self, size: usize, src: &Source<Bytes>) {
        let st = &self.0;
        let pos = st.pos.get();
        let from = pos.unwrap_or(st.bytes.get());
        let n = match st.end {
            Some(end) if end < from => 0,
            Some(end) => (end - from).saturating_add(1).min(size as u64) as usize,
            None => size,
        };
        if n == 0 {
            src.push_eof();
            return;
        }
        if n > MAX_READ {
            // Node: Buffer.allocUnsafeSlow(n) throws, and _read reports it.
            src.error(Error::new(ErrorKind::OutOfRange {
                name: "size",
                range: format!(">= 0 && <= {MAX_READ}"),
                value: node_integer(n as u64),
            }));
            return;
        }
        let Some(file) = st.fd() else {
            src.error(Error::io(io::Error::from_raw_os_error(9), "read", None));
            return;
        };
        st.performing_io.set(true);
        // Buffers are allocated (and, after writing, freed) on the loop's
        // thread, so they all come from one allocator arena and are reused,
        // instead of piling up in each worker thread's arena.
        let mut buf = buffers::take(n);
        let fs = st.fs.clone();
        let rx = io_pool::run(move || fs.read(&file, &mut buf, pos).map(|k| (buf, k)));
        let (st, src) = (st.clone(), src.clone());
        let _task = event_loop::spawn(async move {
            let result = rx.await;
            if src.destroyed() {
                let er = match &result {
                    Ok(Err(e)) => Some(Error::io(
                        io::Error::new(e.kind(), e.to_string()),
                        "read",
                        None,
                    )),
                    _ => None,
                };
                st.io_finished(er);
                return;
            }
            st.performing_io.set(false);
            match result {
                Ok(Ok((mut buf, k))) if k > 0 => {
                    // Node's shrink-to-fit: a short read (a pipe, a FIFO, the
                    // end of a file) is copied into a buffer of its size, so a
                    // small chunk does not keep a whole read buffer alive in
                    // the stream's buffer.
                    let buf = if k < buf.len() {
                        let small = Bytes::copy_from_slice(&buf[..k]);
                        buffers::give(buf);
                        small
                    } else {
                        buf.truncate(k);
                        Bytes::from(buf)
                    };
                    let k = k as u64;
                    if let Some(p) = st.pos.get() {
                        st.pos.set(Some(p.saturating_add(k)));
                    }
                    st.bytes.set(st.bytes.get() + k);
                    src.push(buf);
                }
                Ok(Ok(_)) => {
                    src.push_eof();
                }
                Ok(Err(e)) => src.error(Error::io(e, "read", None)),
                Err(_) => src.error(pool_gone("read")),
            }
        });
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.0.destroy(err, done);
    }
}

/// Read buffers, reused on the loop's thread.
///
/// A read needs `n` initialised bytes to read into; a fresh buffer must be
/// zeroed first (safe Rust cannot read into uninitialised memory), which
/// cost about 5% of a file copy's time. A buffer whose chunk was written by
/// a file write stream and is no longer shared comes back here instead of
/// being freed, already initialised: the next read of the same size takes
/// it without zeroing. At most [`KEEP`] buffers are kept, so the pool adds
/// a bounded amount to the memory the marks allow.
mod buffers {
    use std::cell::RefCell;

    use bytes::Bytes;

    const KEEP: usize = 2;

    thread_local! {
        static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    /// A buffer of exactly `n` initialised bytes.
    pub(super) fn take(n: usize) -> Vec<u8> {
        FREE.with(|f| {
            let mut f = f.borrow_mut();
            match f.iter().position(|b| b.len() == n) {
                Some(i) => f.swap_remove(i),
                None => vec![0; n],
            }
        })
    }

    /// Keeps `buf` (all of it initialised: `len == capacity`) for a later read.
    pub(super) fn give(buf: Vec<u8>) {
        if buf.len() != buf.capacity() || buf.is_empty() {
            return;
        }
        FREE.with(|f| {
            let mut f = f.borrow_mut();
            if f.len() < KEEP {
                f.push(buf);
            }
        });
    }

    /// Takes back a written chunk's buffer if nothing else holds it.
    pub(super) fn recycle(chunk: Bytes) {
        if let Ok(m) = chunk.try_into_mut() {
            give(Vec::from(m));
        }
    }
}

/// Writes all of `bufs` (Node's `writeAll`/`writevAll`): short writes are
/// continued, `EAGAIN` counts as zero bytes, more than 5 zero-byte writes in a
/// row fail. Returns the bytes written and the error that stopped it.
fn write_all(
    fs: &dyn FileSystem,
    file: &File,
    bufs: &[Bytes],
    mut pos: Option<u64>,
) -> (u64, Option<io::Error>) {
    let mut written = 0u64;
    let mut retries = 0;
    let mut idx = 0;
    let mut off = 0usize;
    while idx < bufs.len() {
        if off == bufs[idx].len() {
            idx += 1;
            off = 0;
            continue;
        }
        let r = match pos {
            Some(p) => fs.write(file, &bufs[idx][off..], Some(p)),
            None if bufs.len() - idx > 1 => {
                let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(bufs.len() - idx);
                slices.push(IoSlice::new(&bufs[idx][off..]));
                slices.extend(bufs[idx + 1..].iter().map(|b| IoSlice::new(b)));
                fs.writev(file, &slices)
            }
            None => fs.write(file, &bufs[idx][off..], None),
        };
        let k = match r {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (written, Some(e)),
        };
        written += k as u64;
        if let Some(p) = pos.as_mut() {
            *p += k as u64;
        }
        retries = if k == 0 { retries + 1 } else { 0 };
        if retries > 5 {
            return (written, Some(io::Error::other("write failed")));
        }
        // Advance through the buffers by k bytes.
        let mut left = k;
        while left > 0 && idx < bufs.len() {
            let room = bufs[idx].len() - off;
            if left >= room {
                left -= room;
                idx += 1;
                off = 0;
            } else {
                off += left;
                left = 0;
            }
        }
    }
    (written, None)
}

struct FileSink(Rc<FileState>);

impl FileSink {
    fn write_bufs(&self, bufs: Vec<Bytes>, done: Done, syscall: &'static str) {
        let st = &self.0;
        let size: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        let pos = st.pos.get();
        let Some(file) = st.fd() else {
            done.err(Error::io(io::Error::from_raw_os_error(9), syscall, None));
            return;
        };
        st.performing_io.set(true);
        let fs = st.fs.clone();
        let rx = io_pool::run(move || {
            let r = write_all(&*fs, &file, &bufs, pos);
            (r, bufs)
        });
        // Node advances `pos` synchronously, before the write completes.
        if let Some(p) = pos {
            st.pos.set(Some(p.saturating_add(size)));
        }
        let st = st.clone();
        let _task = event_loop::spawn(async move {
            let (written, err) = match rx.await {
                // The written buffers come back to be freed here (see `read`).
                Ok(((w, e), bufs)) => {
                    bufs.into_iter().for_each(buffers::recycle);
                    (w, e.map(|e| Error::io(e, syscall, None)))
                }
                Err(_) => (0, Some(pool_gone(syscall))),
            };
            st.bytes.set(st.bytes.get() + written);
            let waiting = st.io_done.borrow().is_some();
            st.performing_io.set(false);
            if waiting {
                // Destroyed meanwhile (Node's `writeAll`: `cb(er ||
                // ERR_STREAM_DESTROYED)`); that error also goes to the close.
                let er = err.unwrap_or_else(|| Error::destroyed("write"));
                done.err(er.clone());
                st.io_finished(Some(er));
            } else {
                done.call(err.map_or(Ok(()), Err));
            }
        });
    }
}

impl WritableImpl<Bytes> for FileSink {
    fn construct(&self, done: Done) {
        self.0.construct(done);
    }

    fn hooks(&self) -> Hooks {
        Hooks::CONSTRUCT | Hooks::WRITEV
    }

    fn write(&self, chunk: Bytes, done: Done) {
        self.write_bufs(vec![chunk], done, "write");
    }

    fn writev(&self, chunks: Vec<Bytes>, done: Done) {
        self.write_bufs(chunks, done, "write");
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.0.destroy(err, done);
    }
}

/// A file read stream (Node's `fs.ReadStream`): a byte readable side (its
/// methods are [`StreamBase`](crate::StreamBase),
/// [`ReadableSide`](crate::ReadableSide), [`ReadableExt`](crate::ReadableExt))
/// plus Node's `ReadStream` extras (`bytes_read`, `path`, `pending`, `fd`,
/// `'open'`, `'ready'`).
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::fs::{create_read_stream, ReadStreamOptions};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-rs-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("in.txt");
/// std::fs::write(&path, b"hello").unwrap();
/// highwater::block_on(async move {
///     let rs = create_read_stream(&path, ReadStreamOptions::default())?;
///     rs.resume();
///     highwater::finished_async(&rs).await?;
///     assert_eq!(rs.bytes_read(), 5);
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct ReadStream {
    readable: Readable<Bytes>,
    st: Rc<FileState>,
}

impl std::fmt::Debug for ReadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadStream")
            .field("path", &self.st.path)
            .field("bytes_read", &self.st.bytes.get())
            .field("pending", &self.pending())
            .finish()
    }
}

impl Handle for ReadStream {
    type R = Bytes;
    type W = std::convert::Infallible;
    fn core(&self) -> &Rc<Core<Bytes, std::convert::Infallible>> {
        self.readable.core()
    }
}
impl HasReadable for ReadStream {}

/// A file write stream (Node's `fs.WriteStream`): a byte writable side (its
/// methods are [`StreamBase`](crate::StreamBase) and
/// [`WritableSide`](crate::WritableSide)) plus Node's `WriteStream` extras
/// (`bytes_written`, `path`, `pending`, `fd`, `'open'`, `'ready'`).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::fs::{create_write_stream, WriteStreamOptions};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-ws-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("out.txt");
/// let p = path.clone();
/// highwater::block_on(async move {
///     let ws = create_write_stream(&p, WriteStreamOptions::default())?;
///     ws.write_async(Bytes::from_static(b"hello")).await?;
///     ws.end_async().await?;
///     assert_eq!(ws.bytes_written(), 5);
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct WriteStream {
    writable: Writable<Bytes>,
    st: Rc<FileState>,
}

impl std::fmt::Debug for WriteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteStream")
            .field("path", &self.st.path)
            .field("bytes_written", &self.st.bytes.get())
            .field("pending", &self.pending())
            .finish()
    }
}

impl Handle for WriteStream {
    type R = std::convert::Infallible;
    type W = Bytes;
    fn core(&self) -> &Rc<Core<std::convert::Infallible, Bytes>> {
        self.writable.core()
    }
}
impl HasWritable for WriteStream {}

/// What both file streams tell of their file.
impl FileState {
    fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    fn pending(&self) -> bool {
        self.file.borrow().is_none()
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.file.borrow().as_ref().map(|f| f.as_raw_fd())
    }

    fn on_open(&self, f: impl Fn(RawFd) + 'static) -> ListenerId {
        self.open
            .add(Rc::new(move |fd: &RawFd| f(*fd)), false, false)
    }

    fn on_ready(&self, f: impl Fn() + 'static) -> ListenerId {
        self.ready.add(Rc::new(move |_| f()), false, false)
    }
}

impl ReadStream {
    /// The path, if the stream was created from one.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_read_stream, ReadStreamOptions};
    /// highwater::block_on(async {
    ///     let rs = create_read_stream("/nonexistent/x", ReadStreamOptions::default()).unwrap();
    ///     assert_eq!(rs.path(), Some("/nonexistent/x"));
    /// });
    /// ```
    pub fn path(&self) -> Option<&str> {
        self.st.path()
    }

    /// No file is open: before `'open'`, and again after closing
    /// (Node's `pending`, `fd === null`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_read_stream, ReadStreamOptions};
    /// highwater::block_on(async {
    ///     let rs = create_read_stream("/nonexistent/x", ReadStreamOptions::default()).unwrap();
    ///     assert!(rs.pending()); // opened on the next tick
    /// });
    /// ```
    pub fn pending(&self) -> bool {
        self.st.pending()
    }

    /// The open file's descriptor (Node's `fd`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{read_stream_from_file, ReadStreamOptions};
    /// highwater::block_on(async {
    ///     let f = std::fs::File::open("/dev/null").unwrap();
    ///     let rs = read_stream_from_file(f, ReadStreamOptions::default()).unwrap();
    ///     tokio::task::yield_now().await; // the stream takes the file on the next tick
    ///     assert!(rs.fd().is_some());
    /// });
    /// ```
    pub fn fd(&self) -> Option<RawFd> {
        self.st.raw_fd()
    }

    /// Adds an `'open'` listener: the file is open (with its descriptor).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_read_stream, ReadStreamOptions};
    /// highwater::block_on(async {
    ///     let rs = create_read_stream("/dev/null", ReadStreamOptions::default()).unwrap();
    ///     rs.on_open(|fd| assert!(fd >= 0));
    /// });
    /// ```
    pub fn on_open(&self, f: impl Fn(RawFd) + 'static) -> ListenerId {
        self.st.on_open(f)
    }

    /// Adds a `'ready'` listener (right after `'open'`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_read_stream, ReadStreamOptions};
    /// highwater::block_on(async {
    ///     let rs = create_read_stream("/dev/null", ReadStreamOptions::default()).unwrap();
    ///     rs.on_ready(|| ());
    /// });
    /// ```
    pub fn on_ready(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_ready(f)
    }

    /// Bytes read so far (updated before the chunk is pushed).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_read_stream, ReadStreamOptions};
    /// highwater::block_on(async {
    ///     let rs = create_read_stream("/dev/null", ReadStreamOptions::default()).unwrap();
    ///     assert_eq!(rs.bytes_read(), 0);
    /// });
    /// ```
    pub fn bytes_read(&self) -> u64 {
        self.st.bytes.get()
    }

    /// Node's `readStream.close()`: destroys the stream (the file is
    /// closed, then `'close'`). Closing twice does nothing more.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::fs::{create_read_stream, ReadStreamOptions};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-rclose-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("f.txt");
    /// # std::fs::write(&path, b"data").unwrap();
    /// highwater::block_on(async move {
    ///     let rs = create_read_stream(&path, ReadStreamOptions::default())?;
    ///     rs.close();
    ///     assert!(rs.destroyed());
    ///     highwater::finished_async(&rs).await.unwrap_err(); // closed before the end
    ///     assert!(rs.closed() && rs.fd().is_none());
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn close(&self) {
        self.readable.destroy(None);
    }

    /// Node's `signal` option of `createReadStream`: aborting the signal
    /// destroys the stream with an `AbortError` (`ABORT_ERR`, its cause the
    /// signal's reason); a signal already aborted destroys it at once.
    /// Called right after [`create_read_stream`], before the loop runs, it
    /// is the option (the options stay `Send`; a signal is not).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::fs::{create_read_stream, ReadStreamOptions};
    /// use highwater::AbortController;
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-rsig-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("f.txt");
    /// # std::fs::write(&path, vec![0u8; 100]).unwrap();
    /// let err = highwater::block_on(async move {
    ///     let ac = AbortController::new();
    ///     let rs = create_read_stream(&path, ReadStreamOptions::default())?.with_signal(&ac.signal());
    ///     ac.abort();
    ///     assert!(rs.destroyed());
    ///     highwater::finished_async(&rs).await
    /// })
    /// .unwrap_err();
    /// assert_eq!(err.code(), "ABORT_ERR");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    #[must_use]
    pub fn with_signal(self, signal: &AbortSignal) -> Self {
        add_abort_signal(&self, signal);
        self
    }

    /// Node's `readStream.close(cb)`: [`close`](Self::close), calling `cb`
    /// once the stream has finished (Node's `finished(stream, cb)`): with
    /// `ERR_STREAM_PREMATURE_CLOSE` when it is closed before its end, as in
    /// Node. A second call's callback is called too.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::fs::{create_read_stream, ReadStreamOptions};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-rclosecb-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("f.txt");
    /// # std::fs::write(&path, b"data").unwrap();
    /// highwater::block_on(async move {
    ///     let rs = create_read_stream(&path, ReadStreamOptions::default())?;
    ///     let codes = Rc::new(RefCell::new(Vec::new()));
    ///     let (a, b) = (codes.clone(), codes.clone());
    ///     rs.close_with_callback(move |r| a.borrow_mut().push(r.unwrap_err().code().to_string()));
    ///     rs.close_with_callback(move |r| b.borrow_mut().push(r.unwrap_err().code().to_string()));
    ///     highwater::finished_async(&rs).await.unwrap_err();
    ///     assert_eq!(*codes.borrow(), ["ERR_STREAM_PREMATURE_CLOSE"; 2]);
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn close_with_callback(&self, cb: impl FnOnce(Result<(), Error>) + 'static) {
        crate::ops::finished(self, cb);
        self.readable.destroy(None);
    }
}

impl WriteStream {
    /// The path, if the stream was created from one.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_write_stream, WriteStreamOptions};
    /// highwater::block_on(async {
    ///     let ws = create_write_stream("/dev/null", WriteStreamOptions::default()).unwrap();
    ///     assert_eq!(ws.path(), Some("/dev/null"));
    /// });
    /// ```
    pub fn path(&self) -> Option<&str> {
        self.st.path()
    }

    /// No file is open: before `'open'`, and again after closing
    /// (Node's `pending`, `fd === null`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_write_stream, WriteStreamOptions};
    /// highwater::block_on(async {
    ///     let ws = create_write_stream("/dev/null", WriteStreamOptions::default()).unwrap();
    ///     assert!(ws.pending());
    /// });
    /// ```
    pub fn pending(&self) -> bool {
        self.st.pending()
    }

    /// The open file's descriptor (Node's `fd`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{write_stream_from_file, WriteStreamOptions};
    /// highwater::block_on(async {
    ///     let f = std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap();
    ///     let ws = write_stream_from_file(f, WriteStreamOptions::default()).unwrap();
    ///     tokio::task::yield_now().await; // the stream takes the file on the next tick
    ///     assert!(ws.fd().is_some());
    /// });
    /// ```
    pub fn fd(&self) -> Option<RawFd> {
        self.st.raw_fd()
    }

    /// Adds an `'open'` listener: the file is open (with its descriptor).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_write_stream, WriteStreamOptions};
    /// highwater::block_on(async {
    ///     let ws = create_write_stream("/dev/null", WriteStreamOptions::default()).unwrap();
    ///     ws.on_open(|fd| assert!(fd >= 0));
    /// });
    /// ```
    pub fn on_open(&self, f: impl Fn(RawFd) + 'static) -> ListenerId {
        self.st.on_open(f)
    }

    /// Adds a `'ready'` listener (right after `'open'`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_write_stream, WriteStreamOptions};
    /// highwater::block_on(async {
    ///     let ws = create_write_stream("/dev/null", WriteStreamOptions::default()).unwrap();
    ///     ws.on_ready(|| ());
    /// });
    /// ```
    pub fn on_ready(&self, f: impl Fn() + 'static) -> ListenerId {
        self.st.on_ready(f)
    }

    /// Bytes written so far (updated before each write's callback).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::fs::{create_write_stream, WriteStreamOptions};
    /// highwater::block_on(async {
    ///     let ws = create_write_stream("/dev/null", WriteStreamOptions::default()).unwrap();
    ///     assert_eq!(ws.bytes_written(), 0);
    /// });
    /// ```
    pub fn bytes_written(&self) -> u64 {
        self.st.bytes.get()
    }

    /// Node's `writeStream.close()`: ends the stream (`end()`, not
    /// `destroy()`: what was written is still written), then the file is
    /// closed and `'close'` emitted. With
    /// [`auto_close(false)`](WriteStreamOptions::auto_close) the stream is
    /// destroyed on `'finish'`, so the file is closed all the same.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use bytes::Bytes;
    /// use highwater::fs::{create_write_stream, WriteStreamOptions};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-wclose-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("out.txt");
    /// let p = path.clone();
    /// highwater::block_on(async move {
    ///     let ws = create_write_stream(&p, WriteStreamOptions::default())?;
    ///     let _ = ws.write(Bytes::from_static(b"kept"));
    ///     ws.close();
    ///     highwater::finished_async(&ws).await?;
    ///     assert!(ws.writable_finished());
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn close(&self) {
        self.close_inner(None);
    }

    /// Node's `signal` option of `createWriteStream`: aborting the signal
    /// destroys the stream with an `AbortError` (`ABORT_ERR`, its cause the
    /// signal's reason), failing pending writes with it; a signal already
    /// aborted destroys it at once. Called right after
    /// [`create_write_stream`], before the loop runs, it is the option (the
    /// options stay `Send`; a signal is not).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::fs::{create_write_stream, WriteStreamOptions};
    /// use highwater::{AbortController, Error};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-wsig-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("out.txt");
    /// let err = highwater::block_on(async move {
    ///     let ac = AbortController::new();
    ///     let ws = create_write_stream(&path, WriteStreamOptions::default())?.with_signal(&ac.signal());
    ///     ac.abort_with(Error::custom("ETIMEDOUT", "too slow"));
    ///     assert!(ws.destroyed());
    ///     highwater::finished_async(&ws).await
    /// })
    /// .unwrap_err();
    /// assert_eq!(err.code(), "ABORT_ERR");
    /// assert_eq!(err.cause().map(|c| c.code()), Some("ETIMEDOUT"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    #[must_use]
    pub fn with_signal(self, signal: &AbortSignal) -> Self {
        add_abort_signal(&self, signal);
        self
    }

    /// Node's `writeStream.close(cb)`: [`close`](Self::close), with `cb`
    /// called on `'close'`, or on the next tick if the stream is already
    /// closed.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use highwater::prelude::*;
    /// use highwater::fs::{create_write_stream, WriteStreamOptions};
    ///
    /// # let dir = std::env::temp_dir().join(format!("hw-doc-wclosecb-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("out.txt");
    /// highwater::block_on(async move {
    ///     let ws = create_write_stream(&path, WriteStreamOptions::default())?;
    ///     let calls = Rc::new(Cell::new(0));
    ///     let (a, b) = (calls.clone(), calls.clone());
    ///     ws.close_with_callback(move || a.set(a.get() + 1));
    ///     ws.close_with_callback(move || b.set(b.get() + 1)); // both on 'close'
    ///     highwater::finished_async(&ws).await?;
    ///     assert_eq!(calls.get(), 2);
    ///     Ok::<_, highwater::Error>(())
    /// })
    /// .unwrap();
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn close_with_callback(&self, cb: impl FnOnce() + 'static) {
        self.close_inner(Some(Box::new(cb)));
    }

    fn close_inner(&self, cb: Option<Box<dyn FnOnce()>>) {
        if let Some(cb) = cb {
            if self.closed() {
                event_loop::next_tick(cb);
                return;
            }
            let cb = RefCell::new(Some(cb));
            self.writable.once_close(move || {
                if let Some(cb) = cb.borrow_mut().take() {
                    cb();
                }
            });
        }
        if !self.core().ws().borrow().auto_destroy {
            let w = self.writable.clone();
            self.writable
                .on(crate::WritableEvent::Finish, move || w.destroy(None));
        }
        self.writable.end();
    }
}

fn path_string(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Opens a file for reading as a stream (Node's `fs.createReadStream`).
/// The file is opened on the next tick; errors arrive as `'error'`.
///
/// # Errors
///
/// Invalid options, as Node throws them: `start > end` →
/// `ERR_OUT_OF_RANGE`; unknown `flags` → `ERR_INVALID_ARG_VALUE`.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::prelude::*;
/// use highwater::fs::{create_read_stream, ReadStreamOptions};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-crs-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("in.txt");
/// std::fs::write(&path, b"hello world").unwrap();
/// let d = dir.clone();
/// highwater::block_on(async move {
///     // Bytes 6 to 10, both included.
///     let rs = create_read_stream(&path, ReadStreamOptions::default().start(6).end(10))?;
///     let got: Vec<u8> = rs.stream().map(|c| c.unwrap().to_vec()).concat().await;
///     assert_eq!(got, b"world");
///
///     // A missing file is an 'error' of the stream, not of the call.
///     let missing = create_read_stream(d.join("nope"), ReadStreamOptions::default())?;
///     let err = highwater::finished_async(&missing).await.unwrap_err();
///     assert_eq!((err.code(), err.syscall()), ("ENOENT", Some("open")));
///
///     // Invalid options fail at once.
///     let bad = create_read_stream(&path, ReadStreamOptions::default().start(5).end(1));
///     assert_eq!(bad.unwrap_err().code(), "ERR_OUT_OF_RANGE");
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn create_read_stream(
    path: impl AsRef<Path>,
    opts: ReadStreamOptions,
) -> Result<ReadStream, Error> {
    read_stream(Target::Path(path_string(path.as_ref())), opts)
}

/// A read stream over an already open file (Node's `fd` option): no
/// `'open'` event.
///
/// # Errors
///
/// As [`create_read_stream`].
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::prelude::*;
/// use highwater::fs::{read_stream_from_file, ReadStreamOptions};
/// use std::{cell::Cell, rc::Rc};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-rsff-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("in.txt");
/// std::fs::write(&path, b"from an open file").unwrap();
/// let file = std::fs::File::open(&path).unwrap();
/// highwater::block_on(async move {
///     let rs = read_stream_from_file(file, ReadStreamOptions::default())?;
///     let opened = Rc::new(Cell::new(false));
///     let o = opened.clone();
///     rs.on_open(move |_| o.set(true));
///     assert_eq!(rs.path(), None);
///     let got: Vec<u8> = rs.stream().map(|c| c.unwrap().to_vec()).concat().await;
///     assert_eq!(got, b"from an open file");
///     assert!(!opened.get()); // the file was open already: no 'open'
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn read_stream_from_file(file: File, opts: ReadStreamOptions) -> Result<ReadStream, Error> {
    read_stream(Target::Fd(file), opts)
}

/// Node's `validateInteger(value, name, 0)`: a position must be a safe
/// integer (at most 2^53 - 1).
fn validate_position(name: &'static str, value: Option<u64>) -> Result<(), Error> {
    const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
    match value {
        Some(v) if v > MAX_SAFE_INTEGER => Err(Error::new(ErrorKind::OutOfRange {
            name,
            range: format!(">= 0 && <= {MAX_SAFE_INTEGER}"),
            value: node_integer(v),
        })),
        _ => Ok(()),
    }
}

/// A number as Node's `ERR_OUT_OF_RANGE` messages print it
/// (`addNumericalSeparator`): above 2^32, in groups of three with `_`.
fn node_integer(v: u64) -> String {
    let digits = v.to_string();
    if v <= 1 << 32 {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('_');
        }
        out.push(d);
    }
    out
}

/// The largest Buffer Node 20 allocates (`buffer.constants.MAX_LENGTH`,
/// 2^32): a read of more fails with `ERR_OUT_OF_RANGE`.
const MAX_READ: usize = 1 << 32;

fn read_stream(target: Target, opts: ReadStreamOptions) -> Result<ReadStream, Error> {
    validate_position("start", opts.start)?;
    validate_position("end", opts.end)?;
    if let (Some(start), Some(end)) = (opts.start, opts.end) {
        if start > end {
            return Err(Error::new(ErrorKind::OutOfRange {
                name: "start",
                range: format!("<= \"end\" (here: {end})"),
                value: node_integer(start),
            }));
        }
    }
    let flags = OpenFlags::parse(&opts.flags)?;
    let st = FileState::new(
        target,
        flags,
        opts.mode,
        opts.start,
        opts.end,
        false,
        opts.fs.clone(),
    );
    let mut ro = ReadableOptions::default()
        .high_water_mark(opts.high_water_mark)
        .auto_destroy(opts.auto_close)
        .emit_close(opts.emit_close);
    if let Some(e) = opts.encoding {
        ro = ro.encoding(e);
    }
    let readable = Readable::new(ro, FileSource(st.clone()));
    Ok(ReadStream { readable, st })
}

/// Opens a file for writing as a stream (Node's `fs.createWriteStream`).
/// Writes made before the file is open are buffered.
///
/// # Errors
///
/// Unknown `flags` → `ERR_INVALID_ARG_VALUE`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::fs::{create_write_stream, WriteStreamOptions};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-cws-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("out.txt");
/// let p = path.clone();
/// highwater::block_on(async move {
///     let ws = create_write_stream(&p, WriteStreamOptions::default())?;
///     ws.write(Bytes::from_static(b"hello")); // buffered until the file is open
///     ws.end_async().await?;
///     // Flag "a" appends.
///     let more = create_write_stream(&p, WriteStreamOptions::default().flags("a"))?;
///     more.write_async(Bytes::from_static(b" again")).await?;
///     more.end_async().await?;
///     let bad = create_write_stream(&p, WriteStreamOptions::default().flags("q"));
///     assert_eq!(bad.unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello again");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn create_write_stream(
    path: impl AsRef<Path>,
    opts: WriteStreamOptions,
) -> Result<WriteStream, Error> {
    write_stream(Target::Path(path_string(path.as_ref())), opts)
}

/// A write stream over an already open file (Node's `fd` option).
///
/// # Errors
///
/// As [`create_write_stream`].
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::fs::{write_stream_from_file, WriteStreamOptions};
///
/// let dir = std::env::temp_dir().join(format!("hw-doc-wsff-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("out.txt");
/// let file = std::fs::File::create(&path).unwrap();
/// highwater::block_on(async move {
///     let ws = write_stream_from_file(file, WriteStreamOptions::default())?;
///     assert_eq!(ws.path(), None);
///     ws.write_async(Bytes::from_static(b"into ")).await?;
///     ws.write_async(Bytes::from_static(b"an open file")).await?;
///     ws.end_async().await?;
///     assert_eq!(ws.bytes_written(), 17);
///     Ok::<_, highwater::Error>(())
/// })
/// .unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"into an open file");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_stream_from_file(file: File, opts: WriteStreamOptions) -> Result<WriteStream, Error> {
    write_stream(Target::Fd(file), opts)
}

fn write_stream(target: Target, opts: WriteStreamOptions) -> Result<WriteStream, Error> {
    validate_position("start", opts.start)?;
    let flags = OpenFlags::parse(&opts.flags)?;
    let st = FileState::new(
        target,
        flags,
        opts.mode,
        opts.start,
        None,
        opts.flush,
        opts.fs.clone(),
    );
    let mut wo = WritableOptions::default()
        .auto_destroy(opts.auto_close)
        .emit_close(opts.emit_close);
    if let Some(h) = opts.high_water_mark {
        wo = wo.high_water_mark(h);
    }
    if let Some(l) = opts.low_water_mark {
        wo = wo.low_water_mark(l);
    }
    let writable = Writable::new(wo, FileSink(st.clone()));
    Ok(WriteStream { writable, st })
}
