//! The `Send` bridge between threads: [`channel`], a bounded byte pipe
//! whose ends ([`SendWriter`], [`SendReader`]) are `Send` and have a
//! stream's backpressure, and the bridges that turn an end into a stream
//! on the loop ([`bridge_writer`], [`bridge_reader`]).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;
use futures::{Sink, SinkExt, Stream};
use tokio::io::AsyncWrite;

use super::broken_pipe;
use super::task::{TaskDriver, TaskSink};
#[cfg(doc)]
use super::LoopHandle;
use crate::state::{Error, ErrorKind, ReadableOptions, WritableOptions};
use crate::stream::{Readable, Writable};

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
    /// The reader went away with bytes it never took: a flush or close
    /// fails with `EPIPE` instead of reporting them delivered.
    discarded: bool,
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
/// # use highwater::prelude::*;
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
        discarded: false,
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
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use futures::StreamExt;
/// use tokio::io::AsyncWriteExt;
///
/// let (mut tx, rx) = highwater::compat::channel(64);
/// let got = futures::executor::block_on(async move {
///     tx.write_all(b"abc").await.unwrap(); // 3 bytes, below the mark: no wait
///     assert_eq!(tx.in_flight(), 3);
///     drop(tx); // EOF, as closing a pipe
///     rx.map(|c| c.unwrap().to_vec()).concat().await
/// });
/// assert_eq!(got, b"abc");
///
/// // Once the reader is gone, writes fail with EPIPE.
/// let (mut tx, rx) = highwater::compat::channel(64);
/// drop(rx);
/// let err = futures::executor::block_on(tx.write_all(b"x")).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
/// ```
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
    /// # use highwater::prelude::*;
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
    /// # use highwater::prelude::*;
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
    /// # use highwater::prelude::*;
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
    /// use highwater::prelude::*;
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
    pub fn into_writable(self, opts: WritableOptions<Bytes>) -> Writable<Bytes> {
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
        if c.discarded {
            return Poll::Ready(Err(broken_pipe("write")));
        }
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
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use futures::{SinkExt, StreamExt};
/// use highwater::prelude::*;
///
/// let (mut tx, rx) = highwater::compat::channel(64);
/// let writer = std::thread::spawn(move || {
///     futures::executor::block_on(async move {
///         tx.feed(Bytes::from_static(b"ab")).await?;
///         tx.feed(Bytes::from_static(b"cd")).await?;
///         tx.close().await // EOF, then waits until the reader took everything
///     })
/// });
/// // As a Stream: the chunks as they were sent.
/// let chunks: Vec<Bytes> = futures::executor::block_on(rx.map(|c| c.unwrap()).collect());
/// assert_eq!(chunks, ["ab", "cd"]);
/// writer.join().unwrap().unwrap();
/// ```
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
    /// use highwater::prelude::*;
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
    pub fn into_readable(self, opts: ReadableOptions<Bytes>) -> Readable<Bytes> {
        Readable::from_try_stream(opts, self)
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
            c.discarded = !c.queue.is_empty() || !self.rest.is_empty();
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

byte_reader_impls!(SendReader);

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
/// use highwater::prelude::*;
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
pub fn bridge_writer(opts: ReadableOptions<Bytes>) -> (SendWriter, Readable<Bytes>) {
    let (tx, rx) = channel(opts.mark());
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
/// use highwater::prelude::*;
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
pub fn bridge_reader(opts: WritableOptions<Bytes>) -> (Writable<Bytes>, SendReader) {
    let (tx, rx) = channel(opts.mark());
    (tx.into_writable(opts), rx)
}
