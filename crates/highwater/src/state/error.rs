//! Stream errors, carrying Node's error codes.
//!
//! Node's error codes (`ERR_STREAM_WRITE_AFTER_END`, `ERR_STREAM_DESTROYED`, …)
//! are its stable API; the messages may change between versions. [`Error`]
//! keeps both: [`Error::code`] returns exactly the string Node puts in
//! `err.code`, and `Display` prints Node's message.
//!
//! One error is often delivered to several places (the write callbacks of
//! every buffered chunk, the `'error'` listeners, an awaiting future), so
//! [`Error`] is a cheap, `Clone`-able handle around an `Arc`. Clones compare
//! equal with [`Error::same`], which is how a test can tell that two
//! deliveries are the very same error, as `===` would in JavaScript.

use std::fmt;
use std::io;
use std::sync::Arc;

/// What went wrong: one variant per Node error code that streams produce,
/// plus user errors and operating-system errors.
///
/// # Examples
///
/// A write after `end()` fails as in Node:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Error, ErrorKind, Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let seen: Rc<RefCell<Option<Error>>> = Rc::default();
/// let s = seen.clone();
/// w.on_error(move |e| *s.borrow_mut() = Some(e.clone()));
/// w.end();
/// assert!(!w.write(Bytes::from_static(b"late")));
/// highwater::run_until_idle(); // 'error' comes on the next tick
///
/// let e = seen.borrow_mut().take().unwrap();
/// assert!(matches!(e.kind(), ErrorKind::WriteAfterEnd));
/// assert_eq!(e.code(), "ERR_STREAM_WRITE_AFTER_END");
/// assert_eq!(e.to_string(), "write after end");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `ERR_STREAM_WRITE_AFTER_END`: `write()` (or `end(chunk)`) after `end()`.
    #[error("write after end")]
    WriteAfterEnd,
    /// `ERR_STREAM_DESTROYED`: the named method was called on a destroyed
    /// stream, or a pending write/end was failed by `destroy()`.
    #[error("Cannot call {0} after a stream was destroyed")]
    Destroyed(&'static str),
    /// `ERR_MULTIPLE_CALLBACK`: an implementation hook called its callback twice.
    #[error("Callback called multiple times")]
    MultipleCallback,
    /// `ERR_STREAM_ALREADY_FINISHED`: the named method was called after `'finish'`.
    #[error("Cannot call {0} after a stream was finished")]
    AlreadyFinished(&'static str),
    /// `ERR_STREAM_PREMATURE_CLOSE`: a stream closed before it ended or finished.
    #[error("Premature close")]
    PrematureClose,
    /// `ABORT_ERR` (Node's `AbortError`): a stream destroyed by a pipeline
    /// before it was done, or an aborted operation.
    #[error("The operation was aborted")]
    Aborted,
    /// `ERR_STREAM_PUSH_AFTER_EOF`: `push()` after `push(None)`.
    #[error("stream.push() after EOF")]
    PushAfterEof,
    /// `ERR_STREAM_UNSHIFT_AFTER_END_EVENT`: `unshift()` after `'end'`.
    #[error("stream.unshift() after end event")]
    UnshiftAfterEndEvent,
    /// `ERR_STREAM_OVERFLOW` (highwater's own code; Node has no such
    /// policy): a `push()` would take the buffer of a Readable with
    /// [`Overflow::Error`](crate::Overflow::Error) over its limit.
    #[error("stream buffer overflow: {length} buffered, limit {limit}")]
    Overflow {
        /// What the buffer held, the refused chunk included.
        length: usize,
        /// The overflow limit.
        limit: usize,
    },
    /// `ERR_INVALID_ARG_VALUE`: an option has a value Node would reject.
    #[error("The property '{name}' is invalid. Received {value}")]
    InvalidArgValue {
        /// The option's name as Node spells it, e.g. `options.highWaterMark`.
        name: &'static str,
        /// The rejected value, rendered for the message.
        value: String,
    },
    /// `ERR_OUT_OF_RANGE`: a numeric option outside its range.
    #[error("The value of \"{name}\" is out of range. It must be {range}. Received {value}")]
    OutOfRange {
        /// The option's name.
        name: &'static str,
        /// The allowed range, as Node words it.
        range: String,
        /// The rejected value.
        value: String,
    },
    /// `ERR_UNKNOWN_ENCODING`: an encoding name Node does not know
    /// (`setEncoding('nope')`).
    #[error("Unknown encoding: {0}")]
    UnknownEncoding(String),
    /// `ERR_UNSUPPORTED_ENCODING` (highwater's own code): an encoding Node
    /// has (`hex`, `base64`, `latin1`, `utf16le`…) that highwater does not
    /// decode; only `utf8` is supported.
    #[error("The encoding '{0}' is not supported by highwater (only utf8 is)")]
    UnsupportedEncoding(String),
    /// `ERR_MISSING_ARGS`: a required argument is missing; Node's
    /// `reduce` raises it for an empty stream without an initial value.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::<u32>::pushed(ReadableOptions::objects());
    ///     r.push_eof();
    ///     let e = r.reduce(|a, b| async move { Ok(a + b) }).await.unwrap_err();
    ///     assert_eq!(e.code(), "ERR_MISSING_ARGS");
    ///     assert_eq!(e.to_string(), "Reduce of an empty stream requires an initial value");
    /// });
    /// ```
    #[error("{0}")]
    MissingArgs(String),
    /// An error raised by user code (a sink, a hook), with an optional code.
    #[error("{message}")]
    Custom {
        /// The code, as Node's `err.code`; `None` for a plain `new Error(msg)`.
        code: Option<String>,
        /// The human-readable message.
        message: String,
    },
    /// An operating-system error, reported as Node does: `code` from errno
    /// (`ENOENT`, `EACCES`, …), with the failing `syscall` and the `path`.
    #[error("{code}: {}, {syscall}{}", uv_message(code, source), path_suffix(path))]
    Io {
        /// Node's code for the errno, e.g. `ENOENT`.
        code: String,
        /// The underlying error.
        source: io::Error,
        /// The system call that failed (`open`, `read`, `write`, …).
        syscall: &'static str,
        /// The path involved, if any.
        path: Option<String>,
    },
    /// A network error, worded as Node's `net` module words it: the system
    /// call, the code and the address, if any (`connect ECONNREFUSED
    /// 127.0.0.1:8080`, `read ECONNRESET`, `write EPIPE`); `listen` errors
    /// also carry libuv's description (`listen EADDRINUSE: address already
    /// in use 127.0.0.1:8080`).
    #[error("{}", net_message(code, source, syscall, address))]
    Net {
        /// Node's code, e.g. `ECONNREFUSED`.
        code: String,
        /// The underlying error.
        source: io::Error,
        /// The operation that failed (`connect`, `read`, `write`, `listen`,
        /// `shutdown`, `accept`, `getaddrinfo`).
        syscall: &'static str,
        /// The address involved, as `host:port` (Node's `address` and
        /// `port`), if any.
        address: Option<String>,
    },
}

/// libuv's description of an errno, as Node prints it in messages.
fn uv_message(code: &str, source: &io::Error) -> String {
    let known = match code {
        "EPERM" => "operation not permitted",
        "ENOENT" => "no such file or directory",
        "EINTR" => "interrupted system call",
        "EIO" => "i/o error",
        "EBADF" => "bad file descriptor",
        "EAGAIN" => "resource temporarily unavailable",
        "ENOMEM" => "not enough memory",
        "EACCES" => "permission denied",
        "EEXIST" => "file already exists",
        "ENOTDIR" => "not a directory",
        "EISDIR" => "illegal operation on a directory",
        "EINVAL" => "invalid argument",
        "EMFILE" => "too many open files",
        "EFBIG" => "file too large",
        "ENOSPC" => "no space left on device",
        "ESPIPE" => "invalid seek",
        "EROFS" => "read-only file system",
        "EPIPE" => "broken pipe",
        "ECONNRESET" => "connection reset by peer",
        "ETIMEDOUT" => "connection timed out",
        "ECONNREFUSED" => "connection refused",
        "EADDRINUSE" => "address already in use",
        "EADDRNOTAVAIL" => "address not available",
        "ECONNABORTED" => "software caused connection abort",
        "ENOTCONN" => "socket is not connected",
        "ENETUNREACH" => "network is unreachable",
        "EHOSTUNREACH" => "host is unreachable",
        _ => "",
    };
    if known.is_empty() {
        source.to_string()
    } else {
        known.to_string()
    }
}

/// Node's wording of a network error: `errnoException` / `exceptionWithHostPort`
/// (`connect ECONNREFUSED 127.0.0.1:8080`), or `UVExceptionWithHostPort` for
/// `listen` (`listen EADDRINUSE: address already in use 127.0.0.1:8080`).
fn net_message(code: &str, source: &io::Error, syscall: &str, address: &Option<String>) -> String {
    let mut m = format!("{syscall} {code}");
    if syscall == "listen" {
        m.push_str(": ");
        m.push_str(&uv_message(code, source));
    }
    if let Some(a) = address {
        m.push(' ');
        m.push_str(a);
    }
    m
}

fn path_suffix(path: &Option<String>) -> String {
    match path {
        Some(p) => format!(" '{p}'"),
        None => String::new(),
    }
}

/// A stream error: a cheap `Clone` handle to an [`ErrorKind`].
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::Error;
///
/// let e = Error::custom("EIO", "disk on fire");
/// assert_eq!(e.code(), "EIO");
/// assert_eq!(e.to_string(), "disk on fire");
/// assert!(e.same(&e.clone()));
/// ```
#[derive(Clone)]
pub struct Error {
    kind: Arc<ErrorKind>,
    /// JavaScript's `err.cause`: what led to this error (an `AbortError`'s
    /// signal reason).
    cause: Option<Arc<Error>>,
}

impl Error {
    /// Wraps an [`ErrorKind`].
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Error, ErrorKind};
    ///
    /// let e = Error::new(ErrorKind::Overflow { length: 10, limit: 8 });
    /// assert_eq!(e.code(), "ERR_STREAM_OVERFLOW");
    /// assert_eq!(e.to_string(), "stream buffer overflow: 10 buffered, limit 8");
    ///
    /// let e = Error::new(ErrorKind::Destroyed("write"));
    /// assert_eq!(e.code(), "ERR_STREAM_DESTROYED");
    /// assert_eq!(e.to_string(), "Cannot call write after a stream was destroyed");
    /// ```
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Arc::new(kind),
            cause: None,
        }
    }

    /// A user error with a code and a message, like
    /// `Object.assign(new Error(message), { code })` in JavaScript.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Error, ErrorKind};
    ///
    /// let e = Error::custom("ERR_BAD_ROW", "row 3 has no id");
    /// assert_eq!(e.code(), "ERR_BAD_ROW");
    /// assert_eq!(e.to_string(), "row 3 has no id");
    /// assert!(matches!(e.kind(), ErrorKind::Custom { code: Some(c), .. } if c == "ERR_BAD_ROW"));
    /// ```
    pub fn custom(code: impl Into<String>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Custom {
            code: Some(code.into()),
            message: message.into(),
        })
    }

    /// A user error with a message and no code, like `new Error(message)`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Error, ErrorKind};
    ///
    /// let e = Error::msg("boom");
    /// assert_eq!(e.to_string(), "boom");
    /// assert_eq!(e.code(), "boom"); // no code: the message stands in for it
    /// assert!(matches!(e.kind(), ErrorKind::Custom { code: None, .. }));
    /// ```
    pub fn msg(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Custom {
            code: None,
            message: message.into(),
        })
    }

    /// An operating-system error from `syscall` on `path`, coded like Node.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let e = Error::io(
    ///     std::io::Error::from(std::io::ErrorKind::NotFound),
    ///     "open",
    ///     Some("nope.txt".into()),
    /// );
    /// assert_eq!(e.code(), "ENOENT");
    /// assert_eq!(e.to_string(), "ENOENT: no such file or directory, open 'nope.txt'");
    /// ```
    pub fn io(source: io::Error, syscall: &'static str, path: Option<String>) -> Self {
        let code = errno_code(&source).to_string();
        Error::new(ErrorKind::Io {
            code,
            source,
            syscall,
            path,
        })
    }

    /// A network error from `syscall` (`connect`, `read`, `write`,
    /// `listen`…) involving `address` (`host:port`), coded and worded like
    /// Node's `net` errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let e = Error::net(
    ///     std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
    ///     "connect",
    ///     Some("127.0.0.1:9".into()),
    /// );
    /// assert_eq!(e.code(), "ECONNREFUSED");
    /// assert_eq!(e.to_string(), "connect ECONNREFUSED 127.0.0.1:9");
    /// ```
    pub fn net(source: io::Error, syscall: &'static str, address: Option<String>) -> Self {
        let code = errno_code(&source).to_string();
        Error::new(ErrorKind::Net {
            code,
            source,
            syscall,
            address,
        })
    }

    /// A network error with a code that no errno gives (`ENOTFOUND` of a
    /// failed name lookup).
    #[cfg(feature = "net")]
    pub(crate) fn net_code(
        code: &str,
        source: io::Error,
        syscall: &'static str,
        address: Option<String>,
    ) -> Self {
        Error::new(ErrorKind::Net {
            code: code.to_string(),
            source,
            syscall,
            address,
        })
    }

    /// The system call of an OS error (`open`, `read`, `write`, `connect`,
    /// …), as Node's `err.syscall`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let e = Error::io(std::io::Error::from(std::io::ErrorKind::PermissionDenied), "open", None);
    /// assert_eq!(e.syscall(), Some("open"));
    /// assert_eq!(e.code(), "EACCES");
    /// assert_eq!(Error::msg("not an OS error").syscall(), None);
    /// ```
    pub fn syscall(&self) -> Option<&'static str> {
        match &*self.kind {
            ErrorKind::Io { syscall, .. } | ErrorKind::Net { syscall, .. } => Some(syscall),
            _ => None,
        }
    }

    /// The address of a network error (`host:port`), as Node's
    /// `err.address` and `err.port`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let e = Error::net(refused, "connect", Some("127.0.0.1:9".into()));
    /// assert_eq!(e.address(), Some("127.0.0.1:9"));
    /// let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// assert_eq!(Error::net(reset, "read", None).address(), None);
    /// ```
    pub fn address(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::Net { address, .. } => address.as_deref(),
            _ => None,
        }
    }

    /// The path of an OS error, as Node's `err.path`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
    /// let e = Error::io(missing, "open", Some("/no/such/file".into()));
    /// assert_eq!(e.path(), Some("/no/such/file"));
    /// assert_eq!(Error::msg("no path here").path(), None);
    /// ```
    pub fn path(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::Io { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// What went wrong.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Error, ErrorKind};
    ///
    /// let e = Error::new(ErrorKind::Destroyed("end"));
    /// match e.kind() {
    ///     ErrorKind::Destroyed(method) => assert_eq!(*method, "end"),
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Node's `err.code` for this error (`ERR_STREAM_DESTROYED`, `ENOENT`, …).
    /// A user error without a code returns its message, which is what the
    /// conformance traces print for such errors.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Error, ErrorKind};
    ///
    /// assert_eq!(Error::new(ErrorKind::PrematureClose).code(), "ERR_STREAM_PREMATURE_CLOSE");
    /// assert_eq!(Error::new(ErrorKind::Aborted).code(), "ABORT_ERR");
    /// assert_eq!(Error::new(ErrorKind::PushAfterEof).code(), "ERR_STREAM_PUSH_AFTER_EOF");
    /// assert_eq!(Error::custom("EIO", "disk on fire").code(), "EIO");
    /// ```
    pub fn code(&self) -> &str {
        match &*self.kind {
            ErrorKind::WriteAfterEnd => "ERR_STREAM_WRITE_AFTER_END",
            ErrorKind::Destroyed(_) => "ERR_STREAM_DESTROYED",
            ErrorKind::MultipleCallback => "ERR_MULTIPLE_CALLBACK",
            ErrorKind::AlreadyFinished(_) => "ERR_STREAM_ALREADY_FINISHED",
            ErrorKind::PrematureClose => "ERR_STREAM_PREMATURE_CLOSE",
            ErrorKind::PushAfterEof => "ERR_STREAM_PUSH_AFTER_EOF",
            ErrorKind::Aborted => "ABORT_ERR",
            ErrorKind::UnshiftAfterEndEvent => "ERR_STREAM_UNSHIFT_AFTER_END_EVENT",
            ErrorKind::Overflow { .. } => "ERR_STREAM_OVERFLOW",
            ErrorKind::InvalidArgValue { .. } => "ERR_INVALID_ARG_VALUE",
            ErrorKind::OutOfRange { .. } => "ERR_OUT_OF_RANGE",
            ErrorKind::UnknownEncoding(_) => "ERR_UNKNOWN_ENCODING",
            ErrorKind::UnsupportedEncoding(_) => "ERR_UNSUPPORTED_ENCODING",
            ErrorKind::MissingArgs(_) => "ERR_MISSING_ARGS",
            ErrorKind::Custom {
                code: Some(code), ..
            } => code,
            ErrorKind::Custom {
                code: None,
                message,
            } => message,
            ErrorKind::Io { code, .. } | ErrorKind::Net { code, .. } => code,
        }
    }

    /// True when `self` and `other` are clones of one error (JavaScript's `===`).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let a = Error::custom("EIO", "x");
    /// let b = Error::custom("EIO", "x");
    /// assert!(a.same(&a.clone()));
    /// assert!(!a.same(&b)); // equal contents, two errors
    /// ```
    pub fn same(&self, other: &Error) -> bool {
        Arc::ptr_eq(&self.kind, &other.kind)
    }

    /// Node's `AbortError` (code `ABORT_ERR`, "The operation was aborted"),
    /// as a stream, `pipeline` or `finished` reports an abort: its
    /// [`cause`](Error::cause) is the signal's reason, when there is one.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let e = Error::aborted(Some(Error::custom("ETIMEDOUT", "too slow")));
    /// assert_eq!(e.code(), "ABORT_ERR");
    /// assert_eq!(e.to_string(), "The operation was aborted");
    /// assert_eq!(e.cause().map(|c| c.code()), Some("ETIMEDOUT"));
    /// assert!(Error::aborted(None).cause().is_none());
    /// ```
    pub fn aborted(cause: Option<Error>) -> Self {
        Error {
            kind: Arc::new(ErrorKind::Aborted),
            cause: cause.map(Arc::new),
        }
    }

    /// JavaScript's `err.cause`: the error that led to this one, if any (the
    /// reason of the signal behind an [`aborted`](Error::aborted) error).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::Error;
    ///
    /// let reason = Error::msg("user pressed stop");
    /// let e = Error::aborted(Some(reason.clone()));
    /// assert!(e.cause().is_some_and(|c| c.same(&reason)));
    /// assert!(Error::msg("plain").cause().is_none());
    /// ```
    pub fn cause(&self) -> Option<&Error> {
        self.cause.as_deref()
    }

    pub(crate) fn write_after_end() -> Self {
        Error::new(ErrorKind::WriteAfterEnd)
    }

    pub(crate) fn destroyed(method: &'static str) -> Self {
        Error::new(ErrorKind::Destroyed(method))
    }

    pub(crate) fn already_finished(method: &'static str) -> Self {
        Error::new(ErrorKind::AlreadyFinished(method))
    }

    pub(crate) fn multiple_callback() -> Self {
        Error::new(ErrorKind::MultipleCallback)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.code(), self.kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.kind, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ErrorKind::Io { source, .. } | ErrorKind::Net { source, .. } => Some(source),
            _ => self.cause.as_deref().map(|c| c as _),
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.kind() {
            ErrorKind::Io { source, .. } | ErrorKind::Net { source, .. } => source.kind(),
            ErrorKind::WriteAfterEnd | ErrorKind::Destroyed(_) => io::ErrorKind::BrokenPipe,
            ErrorKind::PrematureClose => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Node's name for the errno behind an `io::Error` (`ENOENT`, `EACCES`, …);
/// `EIO`-style names for the common ones, `UNKNOWN` otherwise.
fn errno_code(e: &io::Error) -> &'static str {
    const NAMES: &[(i32, &str)] = &[
        (1, "EPERM"),
        (2, "ENOENT"),
        (4, "EINTR"),
        (5, "EIO"),
        (9, "EBADF"),
        (11, "EAGAIN"),
        (12, "ENOMEM"),
        (13, "EACCES"),
        (17, "EEXIST"),
        (20, "ENOTDIR"),
        (21, "EISDIR"),
        (22, "EINVAL"),
        (24, "EMFILE"),
        (27, "EFBIG"),
        (28, "ENOSPC"),
        (29, "ESPIPE"),
        (30, "EROFS"),
        (32, "EPIPE"),
        (98, "EADDRINUSE"),
        (99, "EADDRNOTAVAIL"),
        (101, "ENETUNREACH"),
        (103, "ECONNABORTED"),
        (104, "ECONNRESET"),
        (107, "ENOTCONN"),
        (110, "ETIMEDOUT"),
        (111, "ECONNREFUSED"),
        (113, "EHOSTUNREACH"),
    ];
    if let Some(raw) = e.raw_os_error() {
        if let Some((_, name)) = NAMES.iter().find(|(n, _)| *n == raw) {
            return name;
        }
    }
    match e.kind() {
        io::ErrorKind::NotFound => "ENOENT",
        io::ErrorKind::PermissionDenied => "EACCES",
        io::ErrorKind::BrokenPipe => "EPIPE",
        io::ErrorKind::AlreadyExists => "EEXIST",
        io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
        io::ErrorKind::ConnectionReset => "ECONNRESET",
        io::ErrorKind::ConnectionAborted => "ECONNABORTED",
        io::ErrorKind::NotConnected => "ENOTCONN",
        io::ErrorKind::AddrInUse => "EADDRINUSE",
        io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
        io::ErrorKind::TimedOut => "ETIMEDOUT",
        _ => "UNKNOWN",
    }
}

/// `Result` with this crate's [`Error`].
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::Error;
///
/// fn parse(s: &str) -> highwater::Result<u8> {
///     s.parse().map_err(|_| Error::custom("ERR_INVALID_ARG_VALUE", format!("not a byte: {s}")))
/// }
/// assert_eq!(parse("7").unwrap(), 7);
/// assert_eq!(parse("x").unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_node() {
        assert_eq!(
            Error::write_after_end().code(),
            "ERR_STREAM_WRITE_AFTER_END"
        );
        assert_eq!(Error::destroyed("write").code(), "ERR_STREAM_DESTROYED");
        assert_eq!(
            Error::destroyed("write").to_string(),
            "Cannot call write after a stream was destroyed"
        );
        assert_eq!(
            Error::already_finished("end").code(),
            "ERR_STREAM_ALREADY_FINISHED"
        );
        assert_eq!(Error::multiple_callback().code(), "ERR_MULTIPLE_CALLBACK");
        assert_eq!(Error::msg("boom").code(), "boom");
    }

    #[test]
    fn io_errors_get_errno_names() {
        let e = Error::io(
            io::Error::from_raw_os_error(2),
            "open",
            Some("nope.txt".into()),
        );
        assert_eq!(e.code(), "ENOENT");
        assert_eq!(
            e.to_string(),
            "ENOENT: no such file or directory, open 'nope.txt'"
        );
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn net_errors_are_worded_as_node_words_them() {
        let e = Error::net(
            io::Error::from_raw_os_error(111),
            "connect",
            Some("127.0.0.1:8080".into()),
        );
        assert_eq!(e.to_string(), "connect ECONNREFUSED 127.0.0.1:8080");
        assert_eq!(e.syscall(), Some("connect"));
        assert_eq!(e.address(), Some("127.0.0.1:8080"));
        let e = Error::net(io::Error::from_raw_os_error(104), "read", None);
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            ("ECONNRESET", "read ECONNRESET")
        );
        let e = Error::net(io::Error::from_raw_os_error(32), "write", None);
        assert_eq!(e.to_string(), "write EPIPE");
        let e = Error::net(
            io::Error::from_raw_os_error(98),
            "listen",
            Some("127.0.0.1:8080".into()),
        );
        assert_eq!(
            e.to_string(),
            "listen EADDRINUSE: address already in use 127.0.0.1:8080"
        );
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn clones_are_the_same_error() {
        let a = Error::custom("EIO", "x");
        let b = Error::custom("EIO", "x");
        assert!(a.same(&a.clone()));
        assert!(!a.same(&b));
    }
}
