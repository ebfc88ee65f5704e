//! Reading: a tokio `AsyncRead` as a byte `Readable` ([`readable_from`],
//! `Readable::from_async_read`), and a byte `Readable` as tokio's and
//! `futures`' `AsyncRead`/`AsyncBufRead` ([`ReadableReader`]).

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::done_with;
use super::task::Cancel;
use crate::ops::ReadableStream;
use crate::runtime::event_loop;
use crate::state::{Error, ReadableOptions};
use crate::stream::{Done, Readable, ReadableImpl, Source};

/// How many bytes an [`AsyncRead`] source reads at most per `_read`: 64 KiB,
/// as Node's file streams.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::compat::DEFAULT_CHUNK_SIZE;
/// use highwater::{Readable, ReadableOptions};
/// use std::{cell::RefCell, rc::Rc};
///
/// assert_eq!(DEFAULT_CHUNK_SIZE, 64 * 1024);
/// highwater::block_on(async {
///     let data = std::io::Cursor::new(vec![1u8; 100_000]);
///     // A mark above the chunk size: each read is capped by the chunk size.
///     let r = Readable::from_async_read(ReadableOptions::default().high_water_mark(1 << 20), data);
///     let sizes = Rc::new(RefCell::new(Vec::new()));
///     let s = sizes.clone();
///     r.on_data(move |c| s.borrow_mut().push(c.len()));
///     highwater::finished_async(&r).await.unwrap();
///     assert_eq!(*sizes.borrow(), [DEFAULT_CHUNK_SIZE, 100_000 - DEFAULT_CHUNK_SIZE]);
/// });
/// ```
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// AsyncRead -> Readable<Bytes>

/// The source of [`Readable::from_async_read`]: one read on a task per `_read`.
pub(super) struct ReaderSource<R> {
    /// The reader, while no read is in flight (taken by the task meanwhile,
    /// dropped at EOF and on destroy).
    reader: Rc<RefCell<Option<Pin<Box<R>>>>>,
    cancel: Rc<Cancel>,
    chunk_size: usize,
}

impl<R: AsyncRead + 'static> ReaderSource<R> {
    /// A source reading at most `chunk_size` bytes per `_read`.
    pub(super) fn new(reader: R, chunk_size: usize) -> Self {
        ReaderSource {
            reader: Rc::new(RefCell::new(Some(Box::pin(reader)))),
            cancel: Rc::default(),
            chunk_size: chunk_size.max(1),
        }
    }

    /// What its destroy hook does before calling back: cancels a read in
    /// flight and drops the reader.
    pub(super) fn release(&self) {
        self.cancel.cancel();
        let reader = self.reader.borrow_mut().take();
        drop(reader);
    }
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
                // A highwater error carried through io::Error keeps its code.
                Err(e) => src.error(super::from_io(e, "read")),
            }
        });
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.release();
        done_with(done, err);
    }
}

/// [`Readable::from_async_read`] with a chunk size: each read asks for at
/// most `min(size, chunk_size)` bytes (`size` is what the stream requests:
/// its mark). A `chunk_size` of 0 counts as 1.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use highwater::prelude::*;
/// use highwater::{compat, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = compat::readable_from_with_chunk_size(&b"abcdef"[..], ReadableOptions::objects(), 4);
///     let chunks: Vec<_> = r.stream().map(|c| c.unwrap()).collect().await;
///     assert_eq!(chunks, [&b"abcd"[..], &b"ef"[..]]);
/// });
/// ```
pub fn readable_from_with_chunk_size<R: AsyncRead + 'static>(
    reader: R,
    opts: ReadableOptions<Bytes>,
    chunk_size: usize,
) -> Readable<Bytes> {
    Readable::new(opts, ReaderSource::new(reader, chunk_size))
}

impl Readable<Bytes> {
    /// A byte stream over a tokio [`AsyncRead`], reading up to
    /// [`DEFAULT_CHUNK_SIZE`] bytes per request (see
    /// [`readable_from_with_chunk_size`]).
    ///
    /// Each `_read(size)` reads up to `min(size, chunk size)` bytes on a task
    /// of the loop and pushes them; nothing is read until the stream asks
    /// again, so a full buffer stops the reading. EOF is `push_eof`; a read
    /// error fails the stream (`'error'`, code from the errno, `syscall`
    /// `read`), as a file stream's does. Destroying the stream cancels a read
    /// in flight and drops the reader.
    ///
    /// # Examples
    ///
    /// ```
    /// use highwater::prelude::*;
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
    pub fn from_async_read<R: AsyncRead + 'static>(
        opts: ReadableOptions<Bytes>,
        reader: R,
    ) -> Self {
        readable_from_with_chunk_size(reader, opts, DEFAULT_CHUNK_SIZE)
    }
}

// ---------------------------------------------------------------------------
// Readable<Bytes> -> AsyncRead

/// A byte readable side as tokio's and `futures`' `AsyncRead` and
/// `AsyncBufRead` (from [`CompatExt::into_async_read`](super::CompatExt::into_async_read)).
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
/// use highwater::prelude::*;
/// use highwater::compat::CompatExt;
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
pub struct ReadableReader {
    stream: ReadableStream<Bytes>,
    rest: Bytes,
    eof: bool,
}

impl fmt::Debug for ReadableReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadableReader")
            .field("stream", &self.stream)
            .field("rest", &self.rest.len())
            .field("eof", &self.eof)
            .finish()
    }
}

impl ReadableReader {
    pub(super) fn new(stream: ReadableStream<Bytes>) -> Self {
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
}

byte_reader_impls!(ReadableReader);
