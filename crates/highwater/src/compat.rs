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
//! | tokio [`AsyncRead`] | `Readable<Bytes>` | [`Readable::from_async_read`], [`readable_from`] |
//! | tokio [`AsyncWrite`] | `Writable<Bytes>` | [`Writable::from_async_write`] |
//! | `Readable<Bytes>` | tokio/`futures` `AsyncRead` + `AsyncBufRead` | [`Readable::into_async_read`] → [`ReadableReader`] |
//! | `Writable<T>` | `Sink<T>`, and for bytes tokio/`futures` `AsyncWrite` | [`Writable::into_sink`] / [`into_async_write`](Writable::into_async_write) → [`WritableSink`] |
//! | `futures::Stream` | `Readable<T>` | [`Readable::from_stream`], [`from_try_stream`](Readable::from_try_stream), [`from_byte_stream`](Readable::from_byte_stream) |
//! | `futures::Sink` | `Writable<T>` | [`Writable::from_sink`], [`from_byte_sink`](Writable::from_byte_sink) |
//! | `Readable<T>` | `futures::Stream` | [`Readable::stream`] (in the readable module) |
//! | an async-stream function | a pipeline stage | [`Pipeline::through_fn`], [`duplex_from_fn`]; [`Pipeline::from_stream`] |
//! | another thread | the loop | [`spawn_loop`] → [`LoopHandle`]; [`channel`], [`bridge_writer`], [`bridge_reader`] |
//!
//! # Backpressure at the edges
//!
//! * A source adapter ([`readable_from`], [`Readable::from_stream`]) reads
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
//! use highwater::{DuplexOptions, PassThrough, Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
//! use tokio::io::AsyncReadExt;
//!
//! highwater::block_on(async {
//!     let input: &[u8] = b"hello, interop";
//!     let src = Readable::from_async_read(ReadableOptions::default(), input);
//!     let (mut out_r, out_w) = tokio::io::duplex(64);
//!     let dst = Writable::from_async_write(WritableOptions::default(), out_w);
//!     let mid: PassThrough = PassThrough::pass_through(DuplexOptions::default());
//!     Pipeline::new(&src).through(&mid).run(&dst).await?;
//!     let mut got = Vec::new();
//!     out_r.read_to_end(&mut got).await.unwrap();
//!     assert_eq!(got, b"hello, interop");
//!     Ok::<_, highwater::Error>(())
//! })
//! .unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use futures::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::core::Core;
use crate::readable::{ByteChunk, ReadableStream};
use crate::writable::{ByteLen, WritableImpl};
use crate::{
    default_high_water_mark, event_loop, Done, Duplex, DuplexOptions, Error, ErrorKind, Pipeline,
    Readable, ReadableImpl, ReadableOptions, SharedCallback, Source, Writable, WritableOptions,
};

/// How many bytes an [`AsyncRead`] source reads at most per `_read`: 64 KiB,
/// as Node's file streams.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// The errors a user's `Stream` or `Sink` may fail with: anything that
/// converts into a boxed error (every `std::error::Error + Send + Sync`,
/// `String`, `&str`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Converts a user error into a highwater [`Error`]: a highwater `Error`
/// stays itself (the same error, [`Error::same`]), an `io::Error` becomes
/// [`Error::io`] with Node's code (`syscall` names the failed operation), and
/// anything else becomes a message error ([`Error::msg`]).
///
/// # Examples
///
/// ```
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

// ---------------------------------------------------------------------------
// Cancellation of a task's in-flight operation by a destroy hook.

/// A flag the destroy hook sets, and the waker of the task to tell.
#[derive(Default)]
struct Cancel {
    cancelled: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Cancel {
    fn cancel(&self) {
        self.cancelled.set(true);
        let w = self.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// Awaits `f`, unless cancelled first (`None`; `f` is then dropped).
    async fn run<F: Future>(&self, f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            if self.cancelled.get() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

fn done_with(done: Done, err: Option<Error>) {
    done.call(err.map_or(Ok(()), Err));
}

// ---------------------------------------------------------------------------
// 1. AsyncRead -> Readable<Bytes>

/// The source of [`readable_from`]: one read on a task per `_read`.
struct ReaderSource<R> {
    /// The reader, while no read is in flight (taken by the task meanwhile,
    /// dropped at EOF and on destroy).
    reader: Rc<RefCell<Option<Pin<Box<R>>>>>,
    cancel: Rc<Cancel>,
    chunk_size: usize,
}

impl<R: AsyncRead + 'static> ReadableImpl<Bytes> for ReaderSource<R> {
    fn read(&self, size: usize, src: &Source<Bytes>) {
        // `_read` is not called again before this read pushed; a reader
        // already taken means a read in flight (or the end).
        let Some(mut reader) = self.reader.borrow_mut().take() else {
            return;
        };
        let n = if size == 0 {
            self.chunk_size
        } else {
            size.min(self.chunk_size)
        }
        .max(1);
        let (slot, cancel, src) = (self.reader.clone(), self.cancel.clone(), src.clone());
        let _task = event_loop::spawn(async move {
            let mut buf = BytesMut::with_capacity(n);
            let Some(result) = cancel.run(reader.read_buf(&mut buf)).await else {
                return; // destroyed: the reader is dropped here
            };
            if src.destroyed() {
                return;
            }
            match result {
                Ok(0) => {
                    drop(reader);
                    src.push_eof();
                }
                Ok(_) => {
                    *slot.borrow_mut() = Some(reader);
                    src.push(buf.freeze());
                }
                Err(e) => src.error(Error::io(e, "read", None)),
            }
        });
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.cancel.cancel();
        let reader = self.reader.borrow_mut().take();
        drop(reader);
        done_with(done, err);
    }
}

/// A byte [`Readable`] over a tokio [`AsyncRead`], reading up to
/// [`DEFAULT_CHUNK_SIZE`] bytes per request (see
/// [`readable_from_with_chunk_size`]).
///
/// Each `_read(size)` reads up to `min(size, chunk size)` bytes on a task
/// of the loop and pushes them; nothing is read until the stream asks again,
/// so a full buffer stops the reading. EOF is `push_eof`; a read error
/// fails the stream (`'error'`, code from the errno, `syscall` `read`), as a
/// file stream's does. Destroying the stream cancels a read in flight and
/// drops the reader.
///
/// # Examples
///
/// ```
/// use highwater::{compat, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = compat::readable_from(&b"some bytes"[..], ReadableOptions::default());
///     assert_eq!(r.read(None), None); // nothing yet: the read runs on a task
///     tokio::task::yield_now().await;
///     assert_eq!(r.read(None).unwrap(), &b"some bytes"[..]);
/// });
/// ```
pub fn readable_from<R: AsyncRead + 'static>(reader: R, opts: ReadableOptions) -> Readable<Bytes> {
    readable_from_with_chunk_size(reader, opts, DEFAULT_CHUNK_SIZE)
}

/// [`readable_from`] with a chunk size: each read asks for at most
/// `min(size, chunk_size)` bytes (`size` is what the stream requests: its
/// mark). A `chunk_size` of 0 counts as 1.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::{compat, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = compat::readable_from_with_chunk_size(&b"abcdef"[..], ReadableOptions::default().object_mode(true), 4);
///     let chunks: Vec<_> = r.stream().map(|c| c.unwrap()).collect().await;
///     assert_eq!(chunks, [&b"abcd"[..], &b"ef"[..]]);
/// });
/// ```
pub fn readable_from_with_chunk_size<R: AsyncRead + 'static>(
    reader: R,
    opts: ReadableOptions,
    chunk_size: usize,
) -> Readable<Bytes> {
    Readable::new(
        opts,
        ReaderSource {
            reader: Rc::new(RefCell::new(Some(Box::pin(reader)))),
            cancel: Rc::default(),
            chunk_size: chunk_size.max(1),
        },
    )
}

impl Readable<Bytes> {
    /// A byte stream over a tokio [`AsyncRead`]: [`compat::readable_from`](readable_from).
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let (client, mut server) = tokio::io::duplex(1024);
    ///     tokio::io::AsyncWriteExt::write_all(&mut server, b"ping").await.unwrap();
    ///     drop(server); // EOF
    ///     let r = Readable::from_async_read(ReadableOptions::default(), client);
    ///     let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    ///     let o = out.clone();
    ///     let w = Writable::from_fn(WritableOptions::default(), move |c: bytes::Bytes| {
    ///         o.borrow_mut().extend_from_slice(&c);
    ///         Ok(())
    ///     });
    ///     highwater::Pipeline::new(&r).run(&w).await.unwrap();
    ///     assert_eq!(&*out.borrow(), b"ping");
    /// });
    /// ```
    pub fn from_async_read<R: AsyncRead + 'static>(opts: ReadableOptions, reader: R) -> Self {
        readable_from(reader, opts)
    }
}

// ---------------------------------------------------------------------------
// 2 and 5. AsyncWrite / Sink -> Writable: a sink owned by a task.

/// What the task behind a [`TaskDriver`] does with each hook.
trait TaskSink<T>: 'static {
    fn write(&mut self, chunk: T) -> impl Future<Output = Result<(), Error>>;
    fn writev(&mut self, chunks: Vec<T>) -> impl Future<Output = Result<(), Error>>;
    fn finish(&mut self) -> impl Future<Output = Result<(), Error>>;
}

enum Op<T> {
    Write(T, Done),
    Writev(Vec<T>, Done),
    Final(Done),
}

/// The Writable side of a [`TaskSink`]: hooks put the operation in a
/// one-slot mailbox (the stream hands over one at a time), a task of the
/// loop runs it and calls `Done`. Destroying the stream cancels the
/// operation in flight (its `Done` gets `ERR_STREAM_DESTROYED`, as a file
/// stream's write does) and drops the sink.
struct TaskDriver<T> {
    mailbox: Rc<RefCell<Option<Op<T>>>>,
    cancel: Rc<Cancel>,
    writev: bool,
}

impl<T: 'static> TaskDriver<T> {
    fn spawn<S: TaskSink<T>>(mut sink: S, writev: bool) -> Self {
        let mailbox: Rc<RefCell<Option<Op<T>>>> = Rc::default();
        let cancel: Rc<Cancel> = Rc::default();
        let (mb, c) = (mailbox.clone(), cancel.clone());
        let _task = event_loop::spawn(async move {
            loop {
                let op = std::future::poll_fn(|cx| {
                    if c.is_cancelled() {
                        return Poll::Ready(None);
                    }
                    if let Some(op) = mb.borrow_mut().take() {
                        return Poll::Ready(Some(op));
                    }
                    *c.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
                let (result, done, method) = match op {
                    None => return,
                    Some(Op::Write(chunk, done)) => (c.run(sink.write(chunk)).await, done, "write"),
                    Some(Op::Writev(chunks, done)) => {
                        (c.run(sink.writev(chunks)).await, done, "write")
                    }
                    Some(Op::Final(done)) => (c.run(sink.finish()).await, done, "end"),
                };
                match result {
                    Some(r) => done.call(r),
                    None => {
                        done.err(Error::destroyed(method));
                        return;
                    }
                }
            }
        });
        TaskDriver {
            mailbox,
            cancel,
            writev,
        }
    }

    fn put(&self, op: Op<T>) {
        *self.mailbox.borrow_mut() = Some(op);
        let w = self.cancel.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl<T> Drop for TaskDriver<T> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl<T: 'static> WritableImpl<T> for TaskDriver<T> {
    fn write(&self, chunk: T, done: Done) {
        self.put(Op::Write(chunk, done));
    }

    fn writev(&self, chunks: Vec<T>, done: Done) {
        self.put(Op::Writev(chunks, done));
    }

    fn has_writev(&self) -> bool {
        self.writev
    }

    fn final_(&self, done: Done) {
        self.put(Op::Final(done));
    }

    fn has_final(&self) -> bool {
        true
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.cancel.cancel();
        done_with(done, err);
    }
}

/// Buffers to write with one vectored write: a queue of `Bytes` as a `Buf`.
struct BufList {
    bufs: VecDeque<Bytes>,
    remaining: usize,
}

impl BufList {
    fn new(chunks: Vec<Bytes>) -> Self {
        let bufs: VecDeque<Bytes> = chunks.into_iter().filter(|b| !b.is_empty()).collect();
        let remaining = bufs.iter().map(Bytes::len).sum();
        BufList { bufs, remaining }
    }
}

impl Buf for BufList {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.bufs.front().map_or(&[], |b| b.as_ref())
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.bufs.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                self.remaining -= cnt;
                return;
            }
            cnt -= front.len();
            self.remaining -= front.len();
            self.bufs.pop_front();
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, b) in dst.iter_mut().zip(self.bufs.iter()) {
            *slot = io::IoSlice::new(b);
            n += 1;
        }
        n
    }
}

/// An [`AsyncWrite`] as a [`TaskSink`].
struct WriterSink<W>(Pin<Box<W>>);

impl<W: AsyncWrite + 'static> TaskSink<Bytes> for WriterSink<W> {
    async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.0
            .write_all(&chunk)
            .await
            .map_err(|e| from_io(e, "write"))
    }

    async fn writev(&mut self, chunks: Vec<Bytes>) -> Result<(), Error> {
        let mut list = BufList::new(chunks);
        // `write_all_buf` uses `poll_write_vectored` when the writer says
        // it writes vectors efficiently (which is when `writev` is on).
        self.0
            .write_all_buf(&mut list)
            .await
            .map_err(|e| from_io(e, "write"))
    }

    async fn finish(&mut self) -> Result<(), Error> {
        AsyncWriteExt::flush(&mut self.0)
            .await
            .map_err(|e| from_io(e, "write"))?;
        AsyncWriteExt::shutdown(&mut self.0)
            .await
            .map_err(|e| from_io(e, "shutdown"))
    }
}

impl Writable<Bytes> {
    /// A byte stream over a tokio [`AsyncWrite`]: each chunk is written
    /// whole (`write_all`) on a task of the loop before the next is handed
    /// over, so the stream's mark bounds what waits in between and
    /// `'drain'` works as for any Writable. `end()` flushes and shuts the
    /// writer down before `'finish'` (Node's `_final`).
    ///
    /// If the writer is efficient at vectored writes
    /// (`is_write_vectored()`, e.g. a TCP stream), the stream gets a
    /// `writev`: chunks buffered while a write was in flight go out in one
    /// `write_vectored` call.
    ///
    /// Write errors fail the stream with Node's code (`EPIPE`,
    /// `ECONNRESET`…, `syscall` `write`). Destroying the stream cancels the
    /// write in flight and drops the writer (closing it).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use tokio::io::AsyncReadExt;
    ///
    /// highwater::block_on(async {
    ///     let (mut rx, tx) = tokio::io::duplex(4);
    ///     let w = Writable::from_async_write(WritableOptions::default().high_water_mark(8), tx);
    ///     let reader = highwater::spawn(async move {
    ///         let mut got = Vec::new();
    ///         rx.read_to_end(&mut got).await.map(|_| got)
    ///     });
    ///     w.write_async(Bytes::from_static(b"hello ")).await.unwrap();
    ///     w.write_async(Bytes::from_static(b"world")).await.unwrap();
    ///     w.end_async().await.unwrap(); // flush + shutdown: the reader sees EOF
    ///     assert_eq!(reader.await.unwrap(), b"hello world");
    /// });
    /// ```
    pub fn from_async_write<W: AsyncWrite + 'static>(opts: WritableOptions, writer: W) -> Self {
        let writev = writer.is_write_vectored();
        Writable::new(
            opts,
            TaskDriver::spawn(WriterSink(Box::pin(writer)), writev),
        )
    }
}

/// A `futures` [`Sink`] as a [`TaskSink`].
struct SinkSink<S>(Pin<Box<S>>);

impl<T, S> TaskSink<T> for SinkSink<S>
where
    T: 'static,
    S: Sink<T> + 'static,
    S::Error: Into<BoxError>,
{
    async fn write(&mut self, chunk: T) -> Result<(), Error> {
        SinkExt::send(&mut self.0, chunk)
            .await
            .map_err(|e| into_error(e, "write"))
    }

    async fn writev(&mut self, chunks: Vec<T>) -> Result<(), Error> {
        for c in chunks {
            SinkExt::feed(&mut self.0, c)
                .await
                .map_err(|e| into_error(e, "write"))?;
        }
        SinkExt::flush(&mut self.0)
            .await
            .map_err(|e| into_error(e, "write"))
    }

    async fn finish(&mut self) -> Result<(), Error> {
        SinkExt::close(&mut self.0)
            .await
            .map_err(|e| into_error(e, "end"))
    }
}

impl<T: 'static> Writable<T> {
    /// An object-mode stream over a `futures` [`Sink`] (Node's
    /// `Writable.fromWeb` for a Rust sink).
    ///
    /// Each chunk is sent (`poll_ready`, `start_send`, `poll_flush`) on a
    /// task of the loop before the next is handed over; chunks buffered
    /// meanwhile go as one batch (fed, then flushed once). `end()` closes
    /// the sink before `'finish'`. A sink error fails the stream (see
    /// [`into_error`]). Destroying the stream drops the sink.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let (tx, rx) = futures::channel::mpsc::channel::<u32>(1);
    ///     let w = Writable::from_sink(WritableOptions::default(), tx);
    ///     let collector = highwater::spawn(rx.collect::<Vec<u32>>());
    ///     for i in 0..5 {
    ///         w.write_async(i).await.unwrap();
    ///     }
    ///     w.end_async().await.unwrap(); // closes the channel
    ///     assert_eq!(collector.await, [0, 1, 2, 3, 4]);
    /// });
    /// ```
    pub fn from_sink<S>(opts: WritableOptions, sink: S) -> Self
    where
        S: Sink<T> + 'static,
        S::Error: Into<BoxError>,
    {
        Writable::new_object(opts, TaskDriver::spawn(SinkSink(Box::pin(sink)), true))
    }
}

impl<T: ByteLen + 'static> Writable<T> {
    /// [`from_sink`](Writable::from_sink) for a sink of byte chunks: byte
    /// mode, each chunk counting its length toward the mark (object mode if
    /// the options say so).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let (tx, rx) = futures::channel::mpsc::unbounded::<Bytes>();
    ///     let w = Writable::from_byte_sink(WritableOptions::default().high_water_mark(4), tx);
    ///     assert!(!w.write(Bytes::from_static(b"abcd"))); // 4 bytes: at the mark
    ///     w.end_async().await.unwrap();
    ///     assert_eq!(rx.collect::<Vec<_>>().await, [Bytes::from_static(b"abcd")]);
    /// });
    /// ```
    pub fn from_byte_sink<S>(opts: WritableOptions, sink: S) -> Self
    where
        S: Sink<T> + 'static,
        S::Error: Into<BoxError>,
    {
        Writable::new(opts, TaskDriver::spawn(SinkSink(Box::pin(sink)), true))
    }
}

// ---------------------------------------------------------------------------
// 5. Stream -> Readable

/// A `Stream` as a source, shared with a [`duplex_from_fn`]'s sink so
/// that its destroy hook can close it.
struct StreamState<S> {
    /// The stream, while no pull is in flight; dropped at the end.
    stream: RefCell<Option<Pin<Box<S>>>>,
    /// Node's `reading` in `Readable.from`.
    reading: Cell<bool>,
    cancel: Cancel,
}

impl<S> StreamState<S> {
    fn new(stream: S) -> Rc<Self> {
        Rc::new(StreamState {
            stream: RefCell::new(Some(Box::pin(stream))),
            reading: Cell::new(false),
            cancel: Cancel::default(),
        })
    }

    /// Drops the stream (Node's `iterator.return()`), cancelling a pull.
    fn close(&self) {
        self.cancel.cancel();
        let s = self.stream.borrow_mut().take();
        drop(s);
    }
}

/// Node's `Readable.from(iterable)`: `_read` starts pulling items on a task
/// and pushes them while `push()` returns `true`.
struct StreamSource<S>(Rc<StreamState<S>>);

impl<T, E, S> ReadableImpl<T> for StreamSource<S>
where
    T: 'static,
    E: Into<BoxError>,
    S: Stream<Item = Result<T, E>> + 'static,
{
    fn read(&self, _size: usize, src: &Source<T>) {
        let st = self.0.clone();
        if st.reading.replace(true) {
            return;
        }
        let Some(mut stream) = st.stream.borrow_mut().take() else {
            st.reading.set(false);
            return;
        };
        let src = src.clone();
        let _task = event_loop::spawn(async move {
            loop {
                let Some(next) = st.cancel.run(stream.next()).await else {
                    return;
                };
                if src.destroyed() {
                    return;
                }
                match next {
                    // The stream is dropped after the stream is told, so
                    // that what dropping it does (a function stage's input
                    // destroyed) comes second.
                    None => {
                        src.push_eof();
                        drop(stream);
                        return;
                    }
                    Some(Err(e)) => {
                        src.destroy(Some(into_error(e, "read")));
                        drop(stream);
                        return;
                    }
                    Some(Ok(item)) => {
                        if src.push(item) {
                            continue;
                        }
                        st.reading.set(false);
                        if !src.destroyed() {
                            *st.stream.borrow_mut() = Some(stream);
                        }
                        return;
                    }
                }
            }
        });
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.0.close();
        done_with(done, err);
    }
}

type OkFn<T> = fn(T) -> Result<T, Infallible>;

fn ok_stream<T, S: Stream<Item = T>>(stream: S) -> futures::stream::Map<S, OkFn<T>> {
    stream.map(Ok as OkFn<T>)
}

impl<T: 'static> Readable<T> {
    /// An object-mode stream of a `futures` [`Stream`]'s items (Node's
    /// `Readable.from(iterable)`): when the stream asks for data, items are
    /// pulled on a task of the loop and pushed as long as `push()` returns
    /// `true`; pulling stops at the mark and resumes at the next `_read`.
    /// The end of the `Stream` is `push_eof`; destroying the Readable drops
    /// the `Stream`.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::from_stream(ReadableOptions::default(), futures::stream::iter(1..=3));
    ///     let items: Vec<u32> = r.stream().map(|i| i.unwrap()).collect().await;
    ///     assert_eq!(items, [1, 2, 3]);
    /// });
    /// ```
    pub fn from_stream<S>(opts: ReadableOptions, stream: S) -> Self
    where
        S: Stream<Item = T> + 'static,
    {
        Readable::new_object(opts, StreamSource(StreamState::new(ok_stream(stream))))
    }

    /// [`from_stream`](Readable::from_stream) for a stream of `Result`s: an
    /// `Err` destroys the Readable with that error (converted by
    /// [`into_error`]), as a throwing async iterator destroys Node's
    /// `Readable.from` stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::{Error, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let items = vec![Ok(1), Err(Error::custom("EBAD", "bad row")), Ok(3)];
    ///     let r = Readable::from_try_stream(ReadableOptions::default(), futures::stream::iter(items));
    ///     let got: Vec<_> = r.stream().collect().await;
    ///     // The error destroyed the stream: what it had buffered is gone
    ///     // and the iterator ends with the error.
    ///     assert_eq!(got.last().unwrap().as_ref().unwrap_err().code(), "EBAD");
    ///     assert!(r.destroyed());
    /// });
    /// ```
    pub fn from_try_stream<S, E>(opts: ReadableOptions, stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + 'static,
        E: Into<BoxError>,
    {
        Readable::new_object(opts, StreamSource(StreamState::new(stream)))
    }
}

impl<T: ByteChunk> Readable<T> {
    /// [`from_try_stream`](Readable::from_try_stream) for a stream of byte
    /// chunks: byte mode (unless the options say object mode), the mark
    /// counting bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let chunks = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"cd"))]);
    /// let r = Readable::from_byte_stream(ReadableOptions::default(), chunks);
    /// assert!(!r.readable_object_mode());
    /// ```
    pub fn from_byte_stream<S, E>(opts: ReadableOptions, stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + 'static,
        E: Into<BoxError>,
    {
        Readable::new(opts, StreamSource(StreamState::new(stream)))
    }
}

// ---------------------------------------------------------------------------
// 3. Readable<Bytes> -> AsyncRead

/// A byte Readable as tokio's and `futures`' `AsyncRead` and `AsyncBufRead`
/// (from [`Readable::into_async_read`] or
/// [`Duplex::into_async_read`]).
///
/// It consumes the stream as its async iterator does (paused mode, one
/// `read()` per refill; see [`ReadableStream`]), keeps what a read did not
/// take for the next, returns EOF (`Ok(0)`) after `'end'`, and the stream's
/// error as an `io::Error` (whose `get_ref()` is the highwater [`Error`]).
/// Dropping it before the end destroys the stream, as leaving a `for await`
/// loop does.
///
/// Poll it on the stream's thread (inside [`block_on`](crate::block_on),
/// [`run`](crate::run) or a task of the loop).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::{Readable, ReadableOptions};
/// use tokio::io::AsyncBufReadExt;
///
/// highwater::block_on(async {
///     let r = Readable::<Bytes>::pushed(ReadableOptions::default());
///     r.push(Bytes::from_static(b"one\ntw"));
///     r.push(Bytes::from_static(b"o\nthree\n"));
///     r.push_eof();
///     let mut lines = r.into_async_read().lines();
///     let mut got = Vec::new();
///     while let Some(line) = lines.next_line().await.unwrap() {
///         got.push(line);
///     }
///     assert_eq!(got, ["one", "two", "three"]);
/// });
/// ```
pub struct ReadableReader<W: 'static = Infallible> {
    stream: ReadableStream<Bytes, W>,
    rest: Bytes,
    eof: bool,
}

impl<W: 'static> fmt::Debug for ReadableReader<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadableReader")
            .field("stream", &self.stream)
            .field("rest", &self.rest.len())
            .field("eof", &self.eof)
            .finish()
    }
}

impl<W: 'static> ReadableReader<W> {
    fn new(stream: ReadableStream<Bytes, W>) -> Self {
        ReadableReader {
            stream,
            rest: Bytes::new(),
            eof: false,
        }
    }

    /// Makes `rest` non-empty, or reaches the end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.rest.is_empty() && !self.eof {
            match ready!(Pin::new(&mut self.stream).poll_next(cx)) {
                Some(Ok(chunk)) => self.rest = chunk,
                Some(Err(e)) => {
                    self.eof = true;
                    return Poll::Ready(Err(e.into()));
                }
                None => self.eof = true,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Copies what is ready into `dst`; `Ok(0)` at the end.
    fn poll_copy(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        if dst.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_fill(cx))?;
        let n = self.rest.len().min(dst.len());
        dst[..n].copy_from_slice(&self.rest[..n]);
        self.rest.advance(n);
        Poll::Ready(Ok(n))
    }
}

impl<W: 'static> AsyncRead for ReadableReader<W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_fill(cx))?;
        let n = this.rest.len().min(buf.remaining());
        buf.put_slice(&this.rest[..n]);
        this.rest.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<W: 'static> tokio::io::AsyncBufRead for ReadableReader<W> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.rest))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let n = amt.min(this.rest.len());
        this.rest.advance(n);
    }
}

impl<W: 'static> futures::io::AsyncRead for ReadableReader<W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_copy(cx, buf)
    }
}

impl<W: 'static> futures::io::AsyncBufRead for ReadableReader<W> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.rest))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let n = amt.min(this.rest.len());
        this.rest.advance(n);
    }
}

impl Readable<Bytes> {
    /// The stream as tokio's (and `futures`') `AsyncRead`/`AsyncBufRead`:
    /// see [`ReadableReader`].
    ///
    /// # Examples
    ///
    /// ```
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
    pub fn into_async_read(self) -> ReadableReader {
        ReadableReader::new(self.stream())
    }
}

impl<W: 'static> Duplex<Bytes, W> {
    /// The readable side as tokio's (and `futures`') `AsyncRead`: see
    /// [`ReadableReader`].
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{DuplexOptions, PassThrough};
    /// use tokio::io::AsyncReadExt;
    ///
    /// highwater::block_on(async {
    ///     let p: PassThrough = PassThrough::pass_through(DuplexOptions::default());
    ///     p.end_with_chunk(Bytes::from_static(b"through"));
    ///     let mut s = String::new();
    ///     p.into_async_read().read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "through");
    /// });
    /// ```
    pub fn into_async_read(self) -> ReadableReader<W> {
        ReadableReader::new(self.stream())
    }
}

// ---------------------------------------------------------------------------
// 4. Writable -> Sink / AsyncWrite

/// What the adapter's write callback reports.
#[derive(Default)]
struct SinkShared {
    /// Writes made through the adapter whose callback has not come.
    outstanding: Cell<usize>,
    /// The first error a write callback got.
    error: RefCell<Option<Error>>,
    waker: RefCell<Option<Waker>>,
}

/// A Writable as a `futures` [`Sink`] of its chunks, and for bytes as
/// tokio's and `futures`' `AsyncWrite` (from [`Writable::into_sink`],
/// [`Writable::into_async_write`] or the same methods of a
/// [`Duplex`]).
///
/// * `poll_ready` / `poll_write` are `Pending` while the stream's buffer is
///   at or above its mark, that is after a `write()` returned `false` and
///   until `'drain'`: the mark is honoured as by Node's
///   `if (!w.write(c)) await once(w, 'drain')`.
/// * `start_send` / `poll_write` call `write()`. `poll_write` copies the
///   slice into one `Bytes` chunk, taking at most what is left below the
///   mark (at least one byte), so the buffer never holds more than the mark
///   through it however large the slices given.
/// * `poll_flush` waits until every chunk written through the adapter has
///   been written by the sink (its callback came), i.e. until
///   `writable_length()` is 0 when the adapter is the only writer.
/// * `poll_close` / `poll_shutdown` call `end()` and wait for `'finish'`.
/// * Errors are the stream's ([`Error`] for the `Sink`, converted into an
///   `io::Error` for `AsyncWrite`); a destroyed stream gives
///   `ERR_STREAM_DESTROYED`, a stream destroyed before `'finish'`
///   `ERR_STREAM_PREMATURE_CLOSE`.
///
/// Poll it on the stream's thread. With both `SinkExt` and tokio's
/// `AsyncWriteExt` in scope, `flush`/`close` are ambiguous: call them as
/// `AsyncWriteExt::flush(&mut w)` or `SinkExt::flush(&mut w)`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::{Writable, WritableOptions};
/// use tokio::io::AsyncWriteExt;
///
/// highwater::block_on(async {
///     let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
///     let o = out.clone();
///     let w = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
///         o.borrow_mut().extend_from_slice(&c);
///         Ok(())
///     });
///     let mut aw = w.into_async_write();
///     tokio::io::copy(&mut &b"copied with tokio::io::copy"[..], &mut aw).await.unwrap();
///     aw.shutdown().await.unwrap(); // end() + 'finish'
///     assert_eq!(&*out.borrow(), b"copied with tokio::io::copy");
/// });
/// ```
pub struct WritableSink<T: 'static, R: 'static = Infallible> {
    core: Rc<Core<R, T>>,
    shared: Rc<SinkShared>,
    cb: SharedCallback,
    closing: bool,
}

impl<T: 'static, R: 'static> fmt::Debug for WritableSink<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritableSink")
            .field("id", &self.core.id)
            .field("outstanding", &self.shared.outstanding.get())
            .field("closing", &self.closing)
            .finish()
    }
}

impl<T: 'static, R: 'static> WritableSink<T, R> {
    fn new(core: Rc<Core<R, T>>) -> Self {
        let shared = Rc::new(SinkShared::default());
        let s = shared.clone();
        let cb = SharedCallback::new(move |r| {
            s.outstanding.set(s.outstanding.get().saturating_sub(1));
            if let Err(e) = r {
                let mut slot = s.error.borrow_mut();
                if slot.is_none() {
                    *slot = Some(e);
                }
            }
            let w = s.waker.borrow_mut().take();
            if let Some(w) = w {
                w.wake();
            }
        });
        WritableSink {
            core,
            shared,
            cb,
            closing: false,
        }
    }

    /// Bytes (items) the stream holds, as [`Writable::writable_length`].
    pub fn writable_length(&self) -> usize {
        self.core.ws().borrow().length
    }

    /// The error to report instead of going on, if any.
    fn failure(&self) -> Option<Error> {
        let st = self.core.ws().borrow();
        if let Some(e) = &st.errored {
            return Some(e.clone());
        }
        if let Some(e) = &*self.shared.error.borrow() {
            return Some(e.clone());
        }
        if st.destroyed {
            return Some(Error::destroyed("write"));
        }
        None
    }

    fn ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(e) = self.failure() {
            return Poll::Ready(Err(e));
        }
        let mut st = self.core.ws().borrow_mut();
        if !st.need_drain || st.ending {
            return Poll::Ready(Ok(()));
        }
        st.wakers.push(cx.waker().clone());
        Poll::Pending
    }

    fn send(&mut self, item: T) -> Result<(), Error> {
        self.shared
            .outstanding
            .set(self.shared.outstanding.get() + 1);
        let cb = crate::Callback::from(&self.cb).0;
        match crate::writable::machine::write_(&self.core, item, cb) {
            Ok(true) => Ok(()),
            // At the mark: the next `poll_ready` waits for 'drain'; or the
            // sink failed at once, which the stream recorded.
            Ok(false) => match self.failure() {
                Some(e) => Err(e),
                None => Ok(()),
            },
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(e) = self.shared.error.borrow().clone() {
            return Poll::Ready(Err(e));
        }
        if self.shared.outstanding.get() == 0 || self.writable_length() == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = self.failure() {
            return Poll::Ready(Err(e));
        }
        *self.shared.waker.borrow_mut() = Some(cx.waker().clone());
        self.core.ws().borrow_mut().wakers.push(cx.waker().clone());
        Poll::Pending
    }

    fn close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.closing {
            self.closing = true;
            if !self.core.ws().borrow().ending {
                crate::writable::machine::end(&self.core, None, crate::callback::Cb::Nop);
            }
        }
        let mut st = self.core.ws().borrow_mut();
        if st.finished {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.errored {
            return Poll::Ready(Err(e.clone()));
        }
        if st.destroyed {
            return Poll::Ready(Err(Error::new(ErrorKind::PrematureClose)));
        }
        st.wakers.push(cx.waker().clone());
        Poll::Pending
    }
}

impl<T: 'static, R: 'static> Sink<T> for WritableSink<T, R> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Error> {
        self.get_mut().send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().close(cx)
    }
}

impl<R: 'static> WritableSink<Bytes, R> {
    /// How many bytes one `poll_write` takes: up to the mark (at least 1),
    /// so a huge buffer is not copied into one huge chunk.
    fn room(&self) -> usize {
        let st = self.core.ws().borrow();
        if st.object_mode {
            usize::MAX
        } else {
            st.hwm.saturating_sub(st.length).max(1)
        }
    }

    fn write_slice(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.ready(cx))?;
        let n = buf.len().min(self.room());
        self.send(Bytes::copy_from_slice(&buf[..n]))?;
        Poll::Ready(Ok(n))
    }

    fn write_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        ready!(self.ready(cx))?;
        let n = total.min(self.room());
        let mut chunk = BytesMut::with_capacity(n);
        for b in bufs {
            let take = (n - chunk.len()).min(b.len());
            chunk.extend_from_slice(&b[..take]);
            if chunk.len() == n {
                break;
            }
        }
        self.send(chunk.freeze())?;
        Poll::Ready(Ok(n))
    }
}

impl<R: 'static> AsyncWrite for WritableSink<Bytes, R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_slice(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_slices(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().flush(cx).map_err(io::Error::from)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().close(cx).map_err(io::Error::from)
    }
}

impl<R: 'static> futures::io::AsyncWrite for WritableSink<Bytes, R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_slice(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_slices(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().flush(cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().close(cx).map_err(io::Error::from)
    }
}

impl<T: 'static> Writable<T> {
    /// The stream as a `futures` [`Sink`] of its chunks (object or byte
    /// mode): see [`WritableSink`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::SinkExt;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let w = Writable::from_fn_object(WritableOptions::default(), |_row: (u32, &str)| Ok(()));
    ///     let mut sink = w.clone().into_sink();
    ///     let mut rows = futures::stream::iter([(1, "a"), (2, "b")].map(Ok));
    ///     sink.send_all(&mut rows).await.unwrap();
    ///     sink.close().await.unwrap(); // end() + 'finish'
    ///     assert!(w.writable_finished());
    /// });
    /// ```
    pub fn into_sink(self) -> WritableSink<T> {
        WritableSink::new(self.core)
    }
}

impl Writable<Bytes> {
    /// The stream as tokio's (and `futures`') `AsyncWrite`, which is also a
    /// `Sink<Bytes>`: see [`WritableSink`].
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
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
    pub fn into_async_write(self) -> WritableSink<Bytes> {
        WritableSink::new(self.core)
    }
}

impl<R: 'static, W: 'static> Duplex<R, W> {
    /// The writable side as a `futures` [`Sink`]: see [`WritableSink`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{SinkExt, StreamExt};
    /// use highwater::{Duplex, DuplexOptions};
    ///
    /// highwater::block_on(async {
    ///     let p = Duplex::<u8, u8>::pass_through_object(DuplexOptions::default());
    ///     let mut sink = p.clone().into_sink();
    ///     sink.send(7).await.unwrap();
    ///     sink.close().await.unwrap();
    ///     let got: Vec<u8> = p.stream().map(|r| r.unwrap()).collect().await;
    ///     assert_eq!(got, [7]);
    /// });
    /// ```
    pub fn into_sink(self) -> WritableSink<W, R> {
        WritableSink::new(self.core)
    }
}

impl<R: 'static> Duplex<R, Bytes> {
    /// The writable side as tokio's (and `futures`') `AsyncWrite`: see
    /// [`WritableSink`].
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::{DuplexOptions, PassThrough};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// highwater::block_on(async {
    ///     let p: PassThrough = PassThrough::pass_through(DuplexOptions::default());
    ///     let mut w = p.clone().into_async_write();
    ///     w.write_all(b"abc").await.unwrap();
    ///     w.shutdown().await.unwrap();
    ///     let mut s = String::new();
    ///     p.into_async_read().read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "abc");
    /// });
    /// ```
    pub fn into_async_write(self) -> WritableSink<Bytes, R> {
        WritableSink::new(self.core)
    }
}

// ---------------------------------------------------------------------------
// 6. Pipeline stages from async streams

/// The input of a [`duplex_from_fn`] function: a Readable fed by the
/// Duplex's writable side, whose write completions are held while it is
/// full (as a Transform holds them).
struct FnGate {
    held: RefCell<Option<Done>>,
}

impl FnGate {
    fn release(&self, err: Option<Error>) {
        let held = self.held.borrow_mut().take();
        if let Some(done) = held {
            done_with(done, err);
        }
    }
}

struct FnInputSource(Rc<FnGate>);

impl<In: 'static> ReadableImpl<In> for FnInputSource {
    fn read(&self, _size: usize, _src: &Source<In>) {
        // The function wants more: the held write completes.
        self.0.release(None);
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        // The function let go of its input (or the stage is destroyed): a
        // held write cannot go anywhere.
        self.0.release(Some(
            err.clone()
                .unwrap_or_else(|| Error::new(ErrorKind::PrematureClose)),
        ));
        done_with(done, err);
    }
}

/// The writable side of a [`duplex_from_fn`] stage: pushes into the input.
struct FnInputSink<In: 'static, S> {
    input: Readable<In>,
    gate: Rc<FnGate>,
    output: Rc<StreamState<S>>,
}

impl<In: 'static, S> FnInputSink<In, S> {
    fn input_gone(&self) -> Error {
        self.input
            .errored()
            .unwrap_or_else(|| Error::new(ErrorKind::PrematureClose))
    }
}

impl<In: 'static, S: 'static> WritableImpl<In> for FnInputSink<In, S> {
    fn write(&self, chunk: In, done: Done) {
        if self.input.destroyed() {
            done.err(self.input_gone());
            return;
        }
        if self.input.push(chunk) {
            done.ok();
        } else if self.input.destroyed() {
            done.err(self.input_gone());
        } else {
            *self.gate.held.borrow_mut() = Some(done);
        }
    }

    fn final_(&self, done: Done) {
        if !self.input.destroyed() {
            self.input.push_eof();
        }
        done.ok();
    }

    fn has_final(&self) -> bool {
        true
    }

    /// The Duplex's one destroy hook: drops the function's output stream
    /// and destroys its input.
    fn destroy(&self, err: Option<Error>, done: Done) {
        self.output.close();
        self.input.destroy(err.clone());
        done_with(done, err);
    }
}

/// A Duplex whose readable side is what `f` makes of its writable side:
/// Node's `Duplex.from(async function* (source) { … })`, and what a
/// function stage of `pipeline` is.
///
/// `f` is called at once with the input as a [`ReadableStream`] (the
/// chunks written to the Duplex, in order, ending when the Duplex's
/// writable side ends) and returns the output `Stream`; its items are
/// pushed to the readable side as [`Readable::from_try_stream`] does. Both
/// sides are in object mode (default marks: 16 items each); the input holds
/// up to the writable mark before writes wait.
///
/// * An `Err` item destroys the Duplex with that error.
/// * Ending the output early while input still comes (a `take(n)`)
///   destroys the input (dropping a [`ReadableStream`] before its end does,
///   with `ABORT_ERR`), and the next write fails with that error: a
///   pipeline fails with `ABORT_ERR` instead of waiting forever.
/// * Destroying the Duplex drops the output stream and destroys the input.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::{compat, DuplexOptions};
///
/// highwater::block_on(async {
///     let double = compat::duplex_from_fn(DuplexOptions::default(), |input| {
///         input.map(|r: Result<u32, highwater::Error>| r.map(|n| n * 2))
///     });
///     assert!(double.write(1));
///     double.end_with_chunk(2);
///     let got: Vec<u32> = double.stream().map(|r| r.unwrap()).collect().await;
///     assert_eq!(got, [2, 4]);
/// });
/// ```
pub fn duplex_from_fn<In, Out, F, S>(opts: DuplexOptions, f: F) -> Duplex<Out, In>
where
    In: 'static,
    Out: 'static,
    F: FnOnce(ReadableStream<In>) -> S,
    S: Stream<Item = Result<Out, Error>> + 'static,
{
    let opts = opts.object_mode(true);
    let wo = opts.writable_options();
    let input_mark = wo
        .high_water_mark
        .unwrap_or_else(|| default_high_water_mark(true));
    let gate = Rc::new(FnGate {
        held: RefCell::new(None),
    });
    let input: Readable<In> = Readable::new_object(
        ReadableOptions::default().high_water_mark(input_mark),
        FnInputSource(gate.clone()),
    );
    let output = StreamState::new(f(input.stream()));
    Duplex::new_object(
        opts,
        StreamSource(output.clone()),
        FnInputSink {
            input,
            gate,
            output,
        },
    )
}

impl<T: Clone + 'static> Pipeline<T> {
    /// Starts a pipeline at a `futures` [`Stream`] (Node's
    /// `pipeline(iterable, …)`): the stream becomes an object-mode
    /// [`Readable::from_stream`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use highwater::{Pipeline, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let seen = Rc::new(RefCell::new(Vec::new()));
    ///     let s = seen.clone();
    ///     let dst = Writable::from_fn_object(WritableOptions::default(), move |n: u32| {
    ///         s.borrow_mut().push(n);
    ///         Ok(())
    ///     });
    ///     Pipeline::from_stream(futures::stream::iter(0..4)).run(&dst).await.unwrap();
    ///     assert_eq!(*seen.borrow(), [0, 1, 2, 3]);
    /// });
    /// ```
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = T> + 'static,
    {
        Pipeline::new(&Readable::from_stream(ReadableOptions::default(), stream))
    }

    /// [`from_stream`](Pipeline::from_stream) for a stream of `Result`s: an
    /// `Err` fails the pipeline with that error.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::{Error, Pipeline, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let dst = Writable::from_fn_object(WritableOptions::default(), |_n: u32| Ok(()));
    ///     let items = futures::stream::iter([Ok(1), Err(Error::custom("EBAD", "bad"))]);
    ///     let err = Pipeline::from_try_stream(items).run(&dst).await.unwrap_err();
    ///     assert_eq!(err.code(), "EBAD");
    /// });
    /// ```
    pub fn from_try_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + 'static,
        E: Into<BoxError>,
    {
        Pipeline::new(&Readable::from_try_stream(
            ReadableOptions::default(),
            stream,
        ))
    }

    /// Adds a function stage (Node's `pipeline(src, async function* (source)
    /// { … }, dst)`): `f` gets the previous stage's output as a
    /// [`ReadableStream`] and returns a `Stream` of results, which the next
    /// stage reads. It runs as a [`duplex_from_fn`] stage (object mode), so
    /// backpressure, errors and destroy go through the pipeline as for any
    /// Duplex: an `Err` item fails the pipeline with that error.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::{Pipeline, Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    ///     let o = out.clone();
    ///     let dst = Writable::from_fn_object(WritableOptions::default(), move |s: String| {
    ///         o.borrow_mut().push(s);
    ///         Ok(())
    ///     });
    ///     Pipeline::from_stream(futures::stream::iter(1..=3u32))
    ///         .through_fn(|source| source.map(|n| n.map(|n| format!("#{n}"))))
    ///         .run(&dst)
    ///         .await
    ///         .unwrap();
    ///     assert_eq!(*out.borrow(), ["#1", "#2", "#3"]);
    /// });
    /// ```
    pub fn through_fn<U, F, S>(self, f: F) -> Pipeline<U>
    where
        U: Clone + 'static,
        F: FnOnce(ReadableStream<T>) -> S,
        S: Stream<Item = Result<U, Error>> + 'static,
    {
        let stage = duplex_from_fn(DuplexOptions::default(), f);
        self.through(&stage)
    }
}

// ---------------------------------------------------------------------------
// 7. Threads: a loop thread, and a bounded byte channel between threads.

type Job = Box<dyn FnOnce(&Rc<LiveTasks>) + Send>;

/// Tasks spawned through handles and not finished: the loop thread stays
/// until there are none and every handle is gone.
#[derive(Default)]
struct LiveTasks {
    count: Cell<usize>,
    waker: RefCell<Option<Waker>>,
}

struct LiveGuard(Rc<LiveTasks>);

impl LiveGuard {
    fn new(live: &Rc<LiveTasks>) -> Self {
        live.count.set(live.count.get() + 1);
        LiveGuard(live.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.count.set(self.0.count.get().saturating_sub(1));
        let w = self.0.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// A handle to a dedicated event-loop thread (from [`spawn_loop`]):
/// `Send + Sync + Clone`, so multi-threaded code (`#[tokio::main]`) can
/// run stream code there without holding any `!Send` value.
///
/// The thread runs a tokio current-thread runtime driving a highwater
/// loop ([`block_on`](crate::block_on)). It exits once every handle is
/// dropped and every task spawned through one has finished. Tasks that
/// those tasks [`spawn`](crate::spawn) on their own are not waited for:
/// await them in the task given to [`LoopHandle::spawn`], or keep a handle
/// until they are done.
///
/// # Examples
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let lp = highwater::compat::spawn_loop()?;
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// let n = rt.block_on(async move {
///     lp.spawn(|| async {
///         // On the loop thread: streams may be created and used here.
///         let w = highwater::Writable::from_fn(Default::default(), |_c: bytes::Bytes| Ok(()));
///         w.write_async(bytes::Bytes::from_static(b"hi")).await?;
///         w.end_async().await?;
///         Ok::<_, highwater::Error>(2)
///     })
///     .await
/// });
/// assert_eq!(n.unwrap().unwrap(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    jobs: futures::channel::mpsc::UnboundedSender<Job>,
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("closed", &self.jobs.is_closed())
            .finish()
    }
}

/// Starts a dedicated event-loop thread (named `highwater-loop`) and returns
/// its [`LoopHandle`].
///
/// # Errors
///
/// The OS refused to create the thread.
///
/// # Examples
///
/// ```
/// let lp = highwater::compat::spawn_loop().unwrap();
/// let v = futures::executor::block_on(lp.spawn(|| async { 6 * 7 }));
/// assert_eq!(v.unwrap(), 42);
/// ```
pub fn spawn_loop() -> io::Result<LoopHandle> {
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<Job>();
    std::thread::Builder::new()
        .name("highwater-loop".into())
        .spawn(move || {
            crate::block_on(async move {
                let live = Rc::new(LiveTasks::default());
                while let Some(job) = rx.next().await {
                    job(&live);
                }
                std::future::poll_fn(|cx| {
                    if live.count.get() == 0 {
                        return Poll::Ready(());
                    }
                    *live.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                })
                .await;
            });
        })?;
    Ok(LoopHandle { jobs: tx })
}

impl LoopHandle {
    /// Runs `f` on the loop thread and spawns the future it returns there
    /// (as [`spawn`](crate::spawn)): `f` is `Send`, the future and what it
    /// holds need not be. Returns a `Send` future of the output.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let lp = highwater::compat::spawn_loop().unwrap();
    /// let data = vec![1u8, 2, 3]; // Send: moved into the closure
    /// let len = futures::executor::block_on(lp.spawn(move || async move {
    ///     let r = Readable::<Bytes>::pushed(ReadableOptions::default()); // !Send, stays on the loop
    ///     r.push(Bytes::from(data));
    ///     r.push_eof();
    ///     r.read(None).map_or(0, |c| c.len())
    /// }));
    /// assert_eq!(len.unwrap(), 3);
    /// ```
    pub fn spawn<F, Fut>(&self, f: F) -> LoopJoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let (tx, rx) = futures::channel::oneshot::channel();
        let job: Job = Box::new(move |live: &Rc<LiveTasks>| {
            let guard = LiveGuard::new(live);
            let _task = crate::spawn(async move {
                let _guard = guard;
                let out = AssertUnwindSafe(async move { f().await })
                    .catch_unwind()
                    .await;
                let _ = tx.send(out);
            });
        });
        // If the loop is gone, the job (and `tx`) is dropped: the handle
        // reports it.
        let _ = self.jobs.unbounded_send(job);
        LoopJoinHandle { rx }
    }

    /// Whether the loop thread has stopped taking jobs (it exited or
    /// panicked).
    pub fn is_closed(&self) -> bool {
        self.jobs.is_closed()
    }
}

type PanicPayload = Box<dyn std::any::Any + Send>;

/// The `Send` future of a task spawned with [`LoopHandle::spawn`]: its
/// output, or an error if the task panicked (`ERR_LOOP_TASK_PANICKED`) or
/// the loop thread stopped before it ran to completion
/// (`ERR_LOOP_CLOSED`). Dropping it detaches the task.
pub struct LoopJoinHandle<T> {
    rx: futures::channel::oneshot::Receiver<Result<T, PanicPayload>>,
}

impl<T> fmt::Debug for LoopJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoopJoinHandle")
    }
}

impl<T> Future for LoopJoinHandle<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(Pin::new(&mut self.rx).poll(cx)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(payload)) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a task on the loop panicked".into());
                Err(Error::custom("ERR_LOOP_TASK_PANICKED", msg))
            }
            Err(_) => Err(Error::custom(
                "ERR_LOOP_CLOSED",
                "the highwater loop thread stopped before the task completed",
            )),
        })
    }
}

/// The state of a [`channel`], shared by its two ends.
struct Chan {
    queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    bytes: usize,
    mark: usize,
    /// A send reached the mark; sends wait until the queue is empty.
    need_drain: bool,
    /// The writer shut down (or was dropped): EOF after the queue.
    eof: bool,
    /// The writer aborted with this error.
    error: Option<Error>,
    /// The reader is gone: sends fail with `EPIPE`.
    rx_closed: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

#[derive(Clone)]
struct ChanRef(Arc<Mutex<Chan>>);

impl ChanRef {
    fn lock(&self) -> MutexGuard<'_, Chan> {
        // Poisoned only by a panic while locked; the queue stays consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// A bounded byte pipe whose two ends are `Send`: bytes written to the
/// [`SendWriter`] on any thread come out of the [`SendReader`] on any
/// other, in order.
///
/// The writer has a Writable's backpressure: once the bytes sent and not
/// yet read reach `mark`, it is `Pending` (`poll_ready`, `poll_write`)
/// until the reader has taken everything (the `'drain'`). So at most
/// `mark` bytes are in flight across the threads through `AsyncWrite`
/// (`poll_write` takes only what fits), and at most `mark` plus the last
/// chunk through `Sink<Bytes>` (which takes chunks whole).
/// A `mark` of 0 counts as 1.
///
/// Turn an end into a stream on the loop thread with
/// [`SendReader::into_readable`] or [`SendWriter::into_writable`], or use
/// [`bridge_writer`] / [`bridge_reader`] there.
///
/// # Examples
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (mut tx, mut rx) = highwater::compat::channel(16);
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// let got = rt.block_on(async move {
///     let writer = tokio::spawn(async move {
///         tx.write_all(&[7u8; 100]).await?;
///         tx.shutdown().await
///     });
///     let mut got = Vec::new();
///     rx.read_to_end(&mut got).await.unwrap();
///     writer.await.unwrap().unwrap();
///     got
/// });
/// assert_eq!(got, [7u8; 100]);
/// ```
pub fn channel(mark: usize) -> (SendWriter, SendReader) {
    let chan = ChanRef(Arc::new(Mutex::new(Chan {
        queue: VecDeque::new(),
        bytes: 0,
        mark: mark.max(1),
        need_drain: false,
        eof: false,
        error: None,
        rx_closed: false,
        rx_waker: None,
        tx_waker: None,
    })));
    (
        SendWriter {
            chan: chan.clone(),
            closed: false,
        },
        SendReader {
            chan,
            rest: Bytes::new(),
            done: false,
        },
    )
}

/// The writing end of a [`channel`]: `Send`, tokio's and `futures`'
/// `AsyncWrite`, and a `Sink<Bytes>`.
///
/// `poll_flush` waits until the reader has taken every byte;
/// `poll_shutdown`/`poll_close` send EOF, then flush. Dropping the writer
/// also sends EOF (as closing a pipe does); [`abort`](SendWriter::abort)
/// makes the reader fail instead. Writes fail with `EPIPE` once the
/// reader is gone.
pub struct SendWriter {
    chan: ChanRef,
    closed: bool,
}

impl fmt::Debug for SendWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.chan.lock();
        f.debug_struct("SendWriter")
            .field("in_flight", &c.bytes)
            .field("mark", &c.mark)
            .field("need_drain", &c.need_drain)
            .finish()
    }
}

impl SendWriter {
    /// Bytes sent and not yet taken by the reader.
    ///
    /// ```
    /// use bytes::Bytes;
    /// let (mut tx, _rx) = highwater::compat::channel(8);
    /// futures::executor::block_on(futures::SinkExt::feed(&mut tx, Bytes::from_static(b"abc"))).unwrap();
    /// assert_eq!(tx.in_flight(), 3);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.chan.lock().bytes
    }

    /// The channel's mark.
    ///
    /// ```
    /// let (tx, _rx) = highwater::compat::channel(8);
    /// assert_eq!(tx.mark(), 8);
    /// ```
    pub fn mark(&self) -> usize {
        self.chan.lock().mark
    }

    /// Ends the channel with an error: the reader gets it after the bytes
    /// already sent (a Readable made of it is destroyed with it).
    ///
    /// ```
    /// use futures::StreamExt;
    /// let (tx, mut rx) = highwater::compat::channel(8);
    /// tx.abort(highwater::Error::custom("EBAD", "gave up"));
    /// let e = futures::executor::block_on(rx.next()).unwrap().unwrap_err();
    /// assert_eq!(e.code(), "EBAD");
    /// ```
    pub fn abort(mut self, err: Error) {
        let w = {
            let mut c = self.chan.lock();
            c.error = Some(err);
            c.rx_waker.take()
        };
        self.closed = true;
        wake(w);
    }

    /// A Writable on this (the loop's) thread writing into the channel:
    /// a write completes when the chunk is in the channel, or, when it
    /// brings the channel to its mark, once the reader has taken
    /// everything; `end()` sends EOF and `'finish'` comes once the reader
    /// has taken every byte. Destroying the Writable before `'finish'`
    /// fails the reader with `ERR_STREAM_PREMATURE_CLOSE` (after the bytes
    /// already sent).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::WritableOptions;
    ///
    /// let (tx, rx) = highwater::compat::channel(1024);
    /// let reader = std::thread::spawn(move || futures::executor::block_on(rx.map(|c| c.unwrap().len()).collect::<Vec<_>>()));
    /// highwater::block_on(async move {
    ///     let w = tx.into_writable(WritableOptions::default());
    ///     w.write_async(Bytes::from_static(b"to another thread")).await.unwrap();
    ///     w.end_async().await.unwrap();
    /// });
    /// assert_eq!(reader.join().unwrap(), [17]);
    /// ```
    pub fn into_writable(self, opts: WritableOptions) -> Writable<Bytes> {
        Writable::new(opts, TaskDriver::spawn(BridgeSink(self), true))
    }

    fn poll_ready_impl(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut c = self.chan.lock();
        if c.rx_closed {
            return Poll::Ready(Err(broken_pipe("write")));
        }
        if self.closed || c.eof {
            return Poll::Ready(Err(Error::new(ErrorKind::WriteAfterEnd)));
        }
        if c.need_drain {
            c.tx_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn send_impl(&mut self, chunk: Bytes) -> Result<(), Error> {
        let w = {
            let mut c = self.chan.lock();
            if c.rx_closed {
                return Err(broken_pipe("write"));
            }
            if self.closed || c.eof {
                return Err(Error::new(ErrorKind::WriteAfterEnd));
            }
            if chunk.is_empty() {
                return Ok(());
            }
            c.bytes += chunk.len();
            c.queue.push_back(chunk);
            if c.bytes >= c.mark {
                c.need_drain = true;
            }
            c.rx_waker.take()
        };
        wake(w);
        Ok(())
    }

    fn poll_flush_impl(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut c = self.chan.lock();
        if c.queue.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if c.rx_closed {
            return Poll::Ready(Err(broken_pipe("write")));
        }
        c.tx_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_close_impl(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.closed {
            self.closed = true;
            let w = {
                let mut c = self.chan.lock();
                c.eof = true;
                c.rx_waker.take()
            };
            wake(w);
        }
        self.poll_flush_impl(cx)
    }

    /// `poll_write`: takes at most what is left below the mark (at least
    /// one byte), so the channel never holds more than the mark through it.
    fn write_slice(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_ready_impl(cx))?;
        let room = {
            let c = self.chan.lock();
            c.mark.saturating_sub(c.bytes).max(1)
        };
        let n = buf.len().min(room);
        self.send_impl(Bytes::copy_from_slice(&buf[..n]))?;
        Poll::Ready(Ok(n))
    }
}

impl Drop for SendWriter {
    fn drop(&mut self) {
        let w = {
            let mut c = self.chan.lock();
            c.eof = true;
            c.rx_waker.take()
        };
        wake(w);
    }
}

impl Sink<Bytes> for SendWriter {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_impl(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<(), Error> {
        self.get_mut().send_impl(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_impl(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_impl(cx)
    }
}

impl AsyncWrite for SendWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_slice(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_impl(cx).map_err(io::Error::from)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_impl(cx).map_err(io::Error::from)
    }
}

impl futures::io::AsyncWrite for SendWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write_slice(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_impl(cx).map_err(io::Error::from)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_impl(cx).map_err(io::Error::from)
    }
}

/// A [`SendWriter`] as the sink of a Writable on the loop.
struct BridgeSink(SendWriter);

impl TaskSink<Bytes> for BridgeSink {
    async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.0.feed(chunk).await
    }

    async fn writev(&mut self, chunks: Vec<Bytes>) -> Result<(), Error> {
        for c in chunks {
            self.0.feed(c).await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), Error> {
        SinkExt::close(&mut self.0).await
    }
}

impl Drop for BridgeSink {
    /// Dropped before `end()` (the Writable destroyed): the reader must not
    /// take a cut stream for a whole one.
    fn drop(&mut self) {
        if !self.0.closed {
            let w = {
                let mut c = self.0.chan.lock();
                if !c.eof && c.error.is_none() {
                    c.error = Some(Error::new(ErrorKind::PrematureClose));
                }
                c.rx_waker.take()
            };
            wake(w);
        }
    }
}

/// The reading end of a [`channel`]: `Send`, tokio's and `futures`'
/// `AsyncRead`/`AsyncBufRead`, and a `Stream` of the chunks as they were
/// sent.
///
/// Dropping it makes the writer's next write fail with `EPIPE`.
pub struct SendReader {
    chan: ChanRef,
    /// What a byte read did not take of a chunk.
    rest: Bytes,
    done: bool,
}

impl fmt::Debug for SendReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendReader")
            .field("rest", &self.rest.len())
            .field("done", &self.done)
            .finish()
    }
}

impl SendReader {
    /// A byte Readable on this (the loop's) thread reading the channel:
    /// chunks are taken from the channel only while the Readable wants more
    /// (its buffer below the mark), so a slow consumer on the loop makes
    /// the writer wait. EOF ends it; an aborted writer destroys it with the
    /// error. Destroying it closes the channel (the writer gets `EPIPE`).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::ReadableOptions;
    /// use tokio::io::AsyncWriteExt;
    ///
    /// let (mut tx, rx) = highwater::compat::channel(1024);
    /// std::thread::spawn(move || futures::executor::block_on(async move {
    ///     tx.write_all(b"from another thread").await.ok();
    ///     tx.shutdown().await.ok();
    /// }));
    /// highwater::block_on(async move {
    ///     let r = rx.into_readable(ReadableOptions::default());
    ///     let got: Vec<u8> = r.stream().map(|c| c.unwrap().to_vec()).concat().await;
    ///     assert_eq!(got, b"from another thread");
    /// });
    /// ```
    pub fn into_readable(self, opts: ReadableOptions) -> Readable<Bytes> {
        Readable::from_byte_stream(opts, self)
    }

    /// The next chunk, EOF (`None`) or the writer's error.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let (item, w) = {
            let mut c = self.chan.lock();
            match c.queue.pop_front() {
                Some(chunk) => {
                    c.bytes -= chunk.len();
                    let w = if c.bytes == 0 {
                        // The drain (and a flush waiting for it).
                        c.need_drain = false;
                        c.tx_waker.take()
                    } else {
                        None
                    };
                    (Some(Ok(chunk)), w)
                }
                None => {
                    if let Some(e) = c.error.take() {
                        self.done = true;
                        (Some(Err(e)), None)
                    } else if c.eof {
                        self.done = true;
                        return Poll::Ready(None);
                    } else {
                        c.rx_waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            }
        };
        wake(w);
        Poll::Ready(item)
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.rest.is_empty() {
            match ready!(self.poll_chunk(cx)) {
                Some(Ok(chunk)) => self.rest = chunk,
                Some(Err(e)) => return Poll::Ready(Err(e.into())),
                None => break,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for SendReader {
    fn drop(&mut self) {
        let w = {
            let mut c = self.chan.lock();
            c.rx_closed = true;
            c.queue.clear();
            c.bytes = 0;
            c.tx_waker.take()
        };
        wake(w);
    }
}

impl Stream for SendReader {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.rest.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut this.rest))));
        }
        this.poll_chunk(cx)
    }
}

impl AsyncRead for SendReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_fill(cx))?;
        let n = this.rest.len().min(buf.remaining());
        buf.put_slice(&this.rest[..n]);
        this.rest.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncBufRead for SendReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.rest))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let n = amt.min(this.rest.len());
        this.rest.advance(n);
    }
}

impl futures::io::AsyncRead for SendReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_fill(cx))?;
        let n = this.rest.len().min(buf.len());
        buf[..n].copy_from_slice(&this.rest[..n]);
        this.rest.advance(n);
        Poll::Ready(Ok(n))
    }
}

impl futures::io::AsyncBufRead for SendReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        Poll::Ready(Ok(&this.rest))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        let n = amt.min(this.rest.len());
        this.rest.advance(n);
    }
}

fn channel_mark(opts: &crate::StreamOptions) -> usize {
    opts.high_water_mark
        .unwrap_or_else(|| default_high_water_mark(false))
}

/// A [`SendWriter`] for other threads and the byte [`Readable`] it feeds on
/// this (the loop's) thread: [`channel`] with the options' mark (default
/// 16 KiB) and [`SendReader::into_readable`]. Call it on the loop thread,
/// e.g. inside [`LoopHandle::spawn`], and send the writer out.
///
/// At most the mark (plus the last chunk) is in the channel; the Readable
/// holds at most its own mark (same options) beyond that.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::{compat, ReadableOptions};
/// use tokio::io::AsyncWriteExt;
///
/// highwater::block_on(async {
///     let (mut w, r) = compat::bridge_writer(ReadableOptions::default().high_water_mark(1024));
///     std::thread::spawn(move || futures::executor::block_on(async move {
///         w.write_all(&[1u8; 10_000]).await.unwrap(); // waits for the loop at 1 KiB
///         w.shutdown().await.unwrap();
///     }));
///     let total: usize = r.stream().map(|c| c.unwrap().len()).fold(0, |a, n| async move { a + n }).await;
///     assert_eq!(total, 10_000);
/// });
/// ```
pub fn bridge_writer(opts: ReadableOptions) -> (SendWriter, Readable<Bytes>) {
    let (tx, rx) = channel(channel_mark(&opts));
    (tx, rx.into_readable(opts))
}

/// A byte [`Writable`] on this (the loop's) thread and the [`SendReader`]
/// that other threads read its bytes from: [`channel`] with the options'
/// mark (default 16 KiB) and [`SendWriter::into_writable`].
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::{compat, WritableOptions};
/// use tokio::io::AsyncReadExt;
///
/// highwater::block_on(async {
///     let (w, mut r) = compat::bridge_reader(WritableOptions::default());
///     let reader = std::thread::spawn(move || futures::executor::block_on(async move {
///         let mut s = String::new();
///         r.read_to_string(&mut s).await.map(|_| s)
///     }));
///     w.write_async(Bytes::from_static(b"made on the loop")).await.unwrap();
///     w.end_async().await.unwrap();
///     assert_eq!(reader.join().unwrap().unwrap(), "made on the loop");
/// });
/// ```
pub fn bridge_reader(opts: WritableOptions) -> (Writable<Bytes>, SendReader) {
    let (tx, rx) = channel(channel_mark(&opts));
    (tx.into_writable(opts), rx)
}
