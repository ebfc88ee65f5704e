//! Interop with tokio and `futures`: adapters in both directions, pipeline
//! stages written as async streams, and a `Send` bridge for multi-threaded
//! code.
//!
//! This module owns every conversion between highwater streams and the I/O
//! traits of the Rust ecosystem. The Node-exact state machines are not
//! touched: each adapter is a source, a sink, or a consumer at the edge of a
//! stream, and backpressure crosses it in both directions.
//!
//! | from | to | how |
//! |---|---|---|
//! | tokio [`AsyncRead`] | `Readable<Bytes>` | [`Readable::from_async_read`], [`readable_from_with_chunk_size`] |
//! | tokio [`AsyncWrite`] | `Writable<Bytes>` | [`Writable::from_async_write`] |
//! | any byte readable side | tokio/`futures` `AsyncRead` + `AsyncBufRead` | [`CompatExt::into_async_read`] → [`ReadableReader`] |
//! | any writable side | `Sink<T>`, and for bytes tokio/`futures` `AsyncWrite` | [`CompatExt::into_sink`] / [`into_async_write`](CompatExt::into_async_write) → [`WritableSink`] |
//! | `futures::Stream` | `Readable<T>` (objects or bytes, as the options say) | [`Readable::from_stream`], [`from_try_stream`](Readable::from_try_stream) |
//! | `futures::Sink` | `Writable<T>` (objects or bytes, as the options say) | [`Writable::from_sink`] |
//! | any readable side | `futures::Stream` | [`ReadableExt::stream`](crate::ReadableExt::stream) |
//! | an async-stream function | a pipeline stage | [`Pipeline::through_fn`], [`duplex_from_fn`]; [`Pipeline::from_stream`] |
//! | another thread | the loop | [`spawn_loop`] → [`LoopHandle`]; [`channel`], [`bridge_writer`], [`bridge_reader`] |
//!
//! # Backpressure at the edges
//!
//! * A source adapter ([`Readable::from_async_read`], [`Readable::from_stream`]) reads
//!   only when the stream asks (`_read`), one read per request for an
//!   `AsyncRead`, and for a `Stream` items as long as `push()` returns `true`:
//!   nothing is read while the buffer is at its mark.
//! * A sink adapter ([`Writable::from_async_write`], [`Writable::from_sink`])
//!   takes one chunk (or one `writev` batch) at a time; the stream's buffer,
//!   bounded by its mark, holds the rest and `write()` says `false`.
//! * The consumer adapters ([`WritableSink`]) are `Pending` while a
//!   `write()` would have said `false` and `'drain'` has not come.
//!
//! # Errors
//!
//! `io::Error`s become [`Error::io`] with Node's code (`EPIPE`, `ECONNRESET`,
//! …) and the failing operation as `syscall` (`read`, `write`, `shutdown`).
//! The other way, [`Error`] converts into `io::Error` (its kind kept for OS
//! errors; `get_ref()` gives back the highwater error). Errors of a
//! user's `Stream` or `Sink` are converted by [`into_error`]: a highwater
//! `Error` stays itself, an `io::Error` gets its Node code, anything else
//! becomes a message error.
//!
//! # Threads
//!
//! Streams are `!Send` and live on one thread's [event loop](crate::event_loop).
//! [`spawn_loop`] starts a dedicated loop thread whose [`LoopHandle`] is
//! `Send + Sync`: [`LoopHandle::spawn`] runs a `Send` closure there that
//! builds streams, and returns a `Send` future of its result. [`channel`] is
//! a bounded byte pipe whose two ends are `Send`, to carry data between a
//! multi-threaded runtime and streams on the loop; see `docs/DESIGN.md`.
//!
//! # Examples
//!
//! Copying through a Transform with tokio's I/O traits on both sides:
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::{PassThrough, Pipeline, Readable, ReadableOptions, TransformOptions, Writable, WritableOptions};
//! use tokio::io::AsyncReadExt;
//!
//! highwater::block_on(async {
//!     let input: &[u8] = b"hello, interop";
//!     let src = Readable::from_async_read(ReadableOptions::default(), input);
//!     let (mut out_r, out_w) = tokio::io::duplex(64);
//!     let dst = Writable::from_async_write(WritableOptions::default(), out_w);
//!     let mid = PassThrough::<Bytes>::new(TransformOptions::default());
//!     Pipeline::new(&src).through(&mid).run(&dst).await?;
//!     let mut got = Vec::new();
//!     out_r.read_to_end(&mut got).await.unwrap();
//!     assert_eq!(got, b"hello, interop");
//!     Ok::<_, highwater::Error>(())
//! })
//! .unwrap();
//! ```

// One file per idea:
// * `read.rs`: tokio `AsyncRead` -> `Readable<Bytes>`, and back (`ReadableReader`).
// * `write.rs`: tokio `AsyncWrite` -> `Writable<Bytes>`, and `Writable` ->
//   `Sink`/`AsyncWrite` (`WritableSink`).
// * `stream.rs`: `futures` `Stream` -> `Readable`, `Sink` -> `Writable`.
// * `stage.rs`: pipeline stages written as async-stream functions.
// * `task.rs`: the task that owns an outside sink, and cancellation by destroy.
// * `thread.rs`: the loop thread (`spawn_loop`, `LoopHandle`).
// * `channel.rs`: the `Send` byte channel and its bridges to streams.
/// The byte-reader traits (tokio and futures `AsyncRead` and
/// `AsyncBufRead`) for a type with a `rest: Bytes` field (what a read did
/// not take of the current chunk) and a method
/// `fn poll_fill(&mut self, cx) -> Poll<io::Result<()>>` that makes `rest`
/// non-empty, or leaves it empty at the end. `SendReader` and
/// `ReadableReader` share them.
macro_rules! byte_reader_impls {
    ($ty:ty $(, $g:ident)?) => {
        impl$(<$g: 'static>)? tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let this = self.get_mut();
                if buf.remaining() == 0 {
                    return std::task::Poll::Ready(Ok(()));
                }
                futures::ready!(this.poll_fill(cx))?;
                let n = this.rest.len().min(buf.remaining());
                buf.put_slice(&this.rest[..n]);
                bytes::Buf::advance(&mut this.rest, n);
                std::task::Poll::Ready(Ok(()))
            }
        }

        impl$(<$g: 'static>)? futures::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let this = self.get_mut();
                if buf.is_empty() {
                    return std::task::Poll::Ready(Ok(0));
                }
                futures::ready!(this.poll_fill(cx))?;
                let n = this.rest.len().min(buf.len());
                buf[..n].copy_from_slice(&this.rest[..n]);
                bytes::Buf::advance(&mut this.rest, n);
                std::task::Poll::Ready(Ok(n))
            }
        }

        impl$(<$g: 'static>)? tokio::io::AsyncBufRead for $ty {
            fn poll_fill_buf(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<&[u8]>> {
                let this = self.get_mut();
                futures::ready!(this.poll_fill(cx))?;
                std::task::Poll::Ready(Ok(&this.rest))
            }

            fn consume(self: std::pin::Pin<&mut Self>, amt: usize) {
                let this = self.get_mut();
                let n = amt.min(this.rest.len());
                bytes::Buf::advance(&mut this.rest, n);
            }
        }

        impl$(<$g: 'static>)? futures::io::AsyncBufRead for $ty {
            fn poll_fill_buf(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<&[u8]>> {
                let this = self.get_mut();
                futures::ready!(this.poll_fill(cx))?;
                std::task::Poll::Ready(Ok(&this.rest))
            }

            fn consume(self: std::pin::Pin<&mut Self>, amt: usize) {
                let this = self.get_mut();
                let n = amt.min(this.rest.len());
                bytes::Buf::advance(&mut this.rest, n);
            }
        }
    };
}

mod channel;
mod duplex;
mod read;
mod stage;
mod stream;
mod task;
mod thread;
mod write;

use std::io;
use std::rc::Rc;

use bytes::Bytes;

use crate::ops::ReadableExt;
use crate::state::Error;
use crate::stream::target::PipeTarget;
use crate::stream::{Done, ReadableSide, StreamBase, WritableSide};

// For the links of the module doc above.
#[cfg(doc)]
use crate::{Pipeline, Readable, Writable};
#[cfg(doc)]
use tokio::io::{AsyncRead, AsyncWrite};

pub use channel::{bridge_reader, bridge_writer, channel, SendReader, SendWriter};
pub use read::{readable_from_with_chunk_size, ReadableReader, DEFAULT_CHUNK_SIZE};
pub use stage::duplex_from_fn;
pub use thread::{spawn_loop, LoopHandle, LoopJoinHandle};
pub use write::WritableSink;

/// Any stream as the I/O traits of the ecosystem: a byte readable side as
/// tokio's and `futures`' `AsyncRead`/`AsyncBufRead`, a writable side as a
/// `futures` `Sink` (and for bytes as `AsyncWrite`). Implemented for every
/// stream type (`Readable`, `Writable`, `Duplex`, `Transform`, file streams,
/// sockets), as tokio-util's `compat` extensions are; each method takes a
/// handle (clone it to keep using the stream).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::compat::CompatExt;
/// use highwater::{PassThrough, TransformOptions};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// highwater::block_on(async {
///     let p = PassThrough::<Bytes>::new(TransformOptions::default());
///     let mut w = p.clone().into_async_write();
///     w.write_all(b"abc").await.unwrap();
///     w.shutdown().await.unwrap(); // end() + 'finish'
///     let mut s = String::new();
///     p.into_async_read().read_to_string(&mut s).await.unwrap();
///     assert_eq!(s, "abc");
/// });
/// ```
pub trait CompatExt: StreamBase + Sized {
    /// The readable side as tokio's (and `futures`') `AsyncRead` and
    /// `AsyncBufRead`: see [`ReadableReader`].
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::compat::CompatExt;
    /// use highwater::{Readable, ReadableOptions};
    /// use tokio::io::AsyncReadExt;
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::from_async_read(ReadableOptions::default(), &b"round trip"[..]);
    ///     let mut s = String::new();
    ///     r.into_async_read().read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "round trip");
    /// });
    /// ```
    fn into_async_read(self) -> ReadableReader
    where
        Self: ReadableSide<Bytes>,
    {
        ReadableReader::new(self.stream())
    }

    /// The writable side as a `futures` `Sink` of its chunks: see
    /// [`WritableSink`].
    ///
    /// ```
    /// use futures::SinkExt;
    /// use highwater::compat::CompatExt;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_fn(WritableOptions::objects(), |_row: (u32, &str)| Ok(()));
    ///     let mut sink = w.clone().into_sink();
    ///     let mut rows = futures::stream::iter([(1, "a"), (2, "b")].map(Ok));
    ///     sink.send_all(&mut rows).await.unwrap();
    ///     sink.close().await.unwrap(); // end() + 'finish'
    ///     assert!(w.writable_finished());
    /// });
    /// ```
    fn into_sink<T: 'static>(self) -> WritableSink<T>
    where
        Self: WritableSide<T>,
    {
        let target: Rc<dyn PipeTarget<T>> = self.core().clone();
        WritableSink::new(target)
    }

    /// The writable side as tokio's (and `futures`') `AsyncWrite`, which is
    /// also a `Sink<Bytes>`: see [`WritableSink`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::compat::CompatExt;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    ///     let mut aw = w.clone().into_async_write();
    ///     aw.write_all(b"hello").await.unwrap();
    ///     aw.shutdown().await.unwrap();
    ///     assert!(w.writable_finished());
    /// });
    /// ```
    fn into_async_write(self) -> WritableSink<Bytes>
    where
        Self: WritableSide<Bytes>,
    {
        self.into_sink()
    }
}

impl<S: StreamBase> CompatExt for S {}

/// The errors a user's `Stream` or `Sink` may fail with: anything that
/// converts into a boxed error (every `std::error::Error + Send + Sync`,
/// `String`, `&str`).
///
/// # Examples
///
/// ```
/// use highwater::compat::{into_error, BoxError};
///
/// fn parse(s: &str) -> Result<u32, BoxError> {
///     if s.is_empty() {
///         return Err("empty input".into()); // a &str
///     }
///     Ok(s.parse::<u32>()?) // a ParseIntError
/// }
/// assert_eq!(parse("42").unwrap(), 42);
/// assert_eq!(into_error(parse("").unwrap_err(), "read").to_string(), "empty input");
/// assert_eq!(
///     into_error(parse("4x").unwrap_err(), "read").to_string(),
///     "invalid digit found in string"
/// );
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Converts a user error into a highwater [`Error`]: a highwater `Error`
/// stays itself (the same error, [`Error::same`]), an `io::Error` becomes
/// [`Error::io`] with Node's code (`syscall` names the failed operation), and
/// anything else becomes a message error ([`Error::msg`]).
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::compat::into_error;
/// use highwater::Error;
///
/// let e = Error::custom("EFOO", "foo");
/// assert!(into_error(e.clone(), "write").same(&e));
/// let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
/// assert_eq!(into_error(io, "write").code(), "EPIPE");
/// assert_eq!(into_error("no luck", "read").to_string(), "no luck");
/// ```
pub fn into_error(err: impl Into<BoxError>, syscall: &'static str) -> Error {
    let boxed: BoxError = err.into();
    let boxed = match boxed.downcast::<Error>() {
        Ok(e) => return *e,
        Err(b) => b,
    };
    match boxed.downcast::<io::Error>() {
        Ok(e) => Error::io(*e, syscall, None),
        Err(b) => Error::msg(b.to_string()),
    }
}

fn broken_pipe(syscall: &'static str) -> Error {
    Error::io(io::ErrorKind::BrokenPipe.into(), syscall, None)
}

/// The highwater error inside an `io::Error` made from one, or the
/// `io::Error` itself as an OS error.
fn from_io(e: io::Error, syscall: &'static str) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(inner) = e.into_inner() {
            return into_error(inner, syscall);
        }
        return Error::msg("unknown error");
    }
    Error::io(e, syscall, None)
}

fn done_with(done: Done, err: Option<Error>) {
    done.call(err.map_or(Ok(()), Err));
}
