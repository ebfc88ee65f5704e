//! A tokio `AsyncRead + AsyncWrite` as one byte `Duplex`
//! (`Duplex::from_async_io`, the analogue of Node's `Duplex.fromWeb` for a
//! readable/writable pair).

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::read::{ReaderSource, DEFAULT_CHUNK_SIZE};
use super::task::TaskDriver;
use super::write::writer_driver;
use crate::state::{DuplexOptions, Error};
use crate::stream::{Done, Duplex, Hooks, ReadableImpl, Source, WritableImpl};
use std::rc::Rc;

/// The readable side: the read half, read as `Readable::from_async_read`
/// reads.
struct IoSource<R>(Rc<ReaderSource<R>>);

impl<R: AsyncRead + 'static> ReadableImpl<Bytes> for IoSource<R> {
    fn read(&self, size: usize, src: &Source<Bytes>) {
        self.0.read(size, src);
    }
}

/// The writable side: the write half, written as
/// `Writable::from_async_write` writes; its destroy hook (the stream's one
/// `_destroy`) releases both halves.
struct IoSink<R> {
    reader: Rc<ReaderSource<R>>,
    writer: TaskDriver<Bytes>,
}

impl<R: AsyncRead + 'static> WritableImpl<Bytes> for IoSink<R> {
    fn write(&self, chunk: Bytes, done: Done) {
        self.writer.write(chunk, done);
    }

    fn writev(&self, chunks: Vec<Bytes>, done: Done) {
        self.writer.writev(chunks, done);
    }

    fn hooks(&self) -> Hooks {
        self.writer.hooks()
    }

    fn finish(&self, done: Done) {
        self.writer.finish(done);
    }

    fn destroy(&self, err: Option<Error>, done: Done) {
        self.reader.release();
        self.writer.destroy(err, done);
    }
}

impl Duplex<Bytes, Bytes> {
    /// A byte Duplex over a tokio [`AsyncRead`] + [`AsyncWrite`] (a
    /// `TcpStream`, a `UnixStream`, `tokio::io::duplex`, a TLS stream…):
    /// reads come from it as
    /// [`Readable::from_async_read`](crate::Readable::from_async_read)'s do
    /// (one read of up to [`DEFAULT_CHUNK_SIZE`] bytes per `_read`, so a full
    /// buffer stops the reading; EOF ends the readable side), writes go to
    /// it as [`Writable::from_async_write`](crate::Writable::from_async_write)'s
    /// do (each chunk written whole before the next; the mark bounds what
    /// waits).
    ///
    /// Half-close: `end()` flushes and shuts the writer down (the peer sees
    /// EOF) while reading goes on; EOF on the reader ends the readable side
    /// and leaves the writable side open unless `allow_half_open(false)`.
    /// I/O errors fail the stream with their errno code (`syscall` `read`,
    /// `write` or `shutdown`). Destroying the stream cancels the read and
    /// write in flight and drops both halves (closing `io`).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Duplex, DuplexOptions};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// highwater::block_on(async {
    ///     let (ours, mut theirs) = tokio::io::duplex(64);
    ///     let d = Duplex::from_async_io(DuplexOptions::default(), ours);
    ///     d.write_async(Bytes::from_static(b"ping")).await?;
    ///     d.end_async().await?; // shutdown: the peer reads EOF
    ///     let mut got = Vec::new();
    ///     theirs.read_to_end(&mut got).await.unwrap();
    ///     assert_eq!(got, b"ping");
    ///     theirs.write_all(b"pong").await.unwrap();
    ///     drop(theirs);
    ///     let mut back = Vec::new();
    ///     let mut s = d.stream();
    ///     while let Some(c) = futures::StreamExt::next(&mut s).await {
    ///         back.extend_from_slice(&c?);
    ///     }
    ///     assert_eq!(back, b"pong");
    ///     Ok::<(), highwater::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_async_io<T>(opts: DuplexOptions<Bytes, Bytes>, io: T) -> Self
    where
        T: AsyncRead + AsyncWrite + 'static,
    {
        let (r, w) = tokio::io::split(io);
        let reader = Rc::new(ReaderSource::new(r, DEFAULT_CHUNK_SIZE));
        Duplex::new(
            opts,
            IoSource(reader.clone()),
            IoSink {
                reader,
                writer: writer_driver(w),
            },
        )
    }
}
