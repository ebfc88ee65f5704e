//! Writing: a tokio `AsyncWrite` as a byte `Writable`
//! (`Writable::from_async_write`), and a `Writable` as a `futures` `Sink`
//! and, for bytes, tokio's and `futures`' `AsyncWrite` ([`WritableSink`]).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use futures::Sink;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::from_io;
use super::task::{TaskDriver, TaskSink};
use crate::runtime::event_loop::park_waker;
use crate::state::{Callback, Error, ErrorKind, SharedCallback, WritableOptions};
use crate::stream::target::PipeTarget;
use crate::stream::Writable;

// ---------------------------------------------------------------------------
// AsyncWrite -> Writable<Bytes>

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

/// The sink of [`Writable::from_async_write`].
pub(super) fn writer_driver<W: AsyncWrite + 'static>(writer: W) -> TaskDriver<Bytes> {
    let writev = writer.is_write_vectored();
    TaskDriver::spawn(WriterSink(Box::pin(writer)), writev)
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
    /// use highwater::prelude::*;
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
    pub fn from_async_write<W: AsyncWrite + 'static>(
        opts: WritableOptions<Bytes>,
        writer: W,
    ) -> Self {
        Writable::new(opts, writer_driver(writer))
    }
}

// ---------------------------------------------------------------------------
// Writable -> Sink / AsyncWrite

/// What the adapter's write callback reports.
#[derive(Default)]
struct SinkShared {
    /// Writes made through the adapter whose callback has not come.
    outstanding: Cell<usize>,
    /// The first error a write callback got.
    error: RefCell<Option<Error>>,
    waker: RefCell<Option<Waker>>,
}

/// A writable side as a `futures` [`Sink`] of its chunks, and for bytes as
/// tokio's and `futures`' `AsyncWrite` (from
/// [`CompatExt::into_sink`](super::CompatExt::into_sink) or
/// [`into_async_write`](super::CompatExt::into_async_write), on any stream
/// with a writable side).
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
/// use highwater::prelude::*;
/// use highwater::compat::CompatExt;
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
pub struct WritableSink<T: 'static> {
    core: Rc<dyn PipeTarget<T>>,
    shared: Rc<SinkShared>,
    cb: SharedCallback,
    closing: bool,
}

impl<T: 'static> fmt::Debug for WritableSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritableSink")
            .field("id", &self.core.id())
            .field("outstanding", &self.shared.outstanding.get())
            .field("closing", &self.closing)
            .finish()
    }
}

impl<T: 'static> WritableSink<T> {
    pub(super) fn new(core: Rc<dyn PipeTarget<T>>) -> Self {
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

    /// Bytes (items) the stream holds, as
    /// [`WritableSide::writable_length`](crate::WritableSide::writable_length).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::compat::CompatExt;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(WritableOptions::objects(), |_n: u32| Ok(()));
    /// assert_eq!(w.into_sink().writable_length(), 0);
    /// ```
    pub fn writable_length(&self) -> usize {
        self.core.ws().borrow().length
    }

    /// The error to report instead of going on, if any.
    fn failure(&self) -> Option<Error> {
        let st = self.core.ws().borrow();
        if let Some(e) = st.errored() {
            return Some(e.clone());
        }
        if let Some(e) = &*self.shared.error.borrow() {
            return Some(e.clone());
        }
        if st.destroyed() {
            return Some(Error::destroyed("write"));
        }
        None
    }

    fn ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(e) = self.failure() {
            return Poll::Ready(Err(e));
        }
        let mut st = self.core.ws().borrow_mut();
        if !st.need_drain() || st.ending() {
            return Poll::Ready(Ok(()));
        }
        park_waker(&mut st.wakers, cx.waker());
        Poll::Pending
    }

    fn send(&mut self, item: T) -> Result<(), Error> {
        self.shared
            .outstanding
            .set(self.shared.outstanding.get() + 1);
        let cb = Callback::from(&self.cb).0;
        match self.core.clone().write_with(item, cb) {
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
        park_waker(&mut self.core.ws().borrow_mut().wakers, cx.waker());
        Poll::Pending
    }

    fn close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.closing {
            self.closing = true;
            if !self.core.ws().borrow().ending() {
                self.core.clone().end();
            }
        }
        let mut st = self.core.ws().borrow_mut();
        if st.finished() {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = st.errored() {
            return Poll::Ready(Err(e.clone()));
        }
        if st.destroyed() {
            return Poll::Ready(Err(Error::new(ErrorKind::PrematureClose)));
        }
        park_waker(&mut st.wakers, cx.waker());
        Poll::Pending
    }
}

impl<T: 'static> Sink<T> for WritableSink<T> {
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

impl WritableSink<Bytes> {
    /// How many bytes one `poll_write` takes: up to the mark (at least 1),
    /// so a huge buffer is not copied into one huge chunk.
    fn room(&self) -> usize {
        let st = self.core.ws().borrow();
        if st.object_mode() {
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

impl AsyncWrite for WritableSink<Bytes> {
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

impl futures::io::AsyncWrite for WritableSink<Bytes> {
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
