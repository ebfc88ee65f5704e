//! `futures` streams and sinks as object-mode (or byte) streams: a
//! `Stream` as a `Readable` (Node's `Readable.from`,
//! `Readable::from_stream` and its `try`/byte forms), a `Sink` as a
//! `Writable` (`Writable::from_sink`, `from_byte_sink`).

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::pin::Pin;
use std::rc::Rc;

use futures::{Sink, SinkExt, Stream, StreamExt};

#[cfg(doc)]
use super::duplex_from_fn;
use super::task::{Cancel, TaskDriver, TaskSink};
use super::{done_with, into_error, BoxError};
use crate::runtime::event_loop;
use crate::state::{Error, ReadableOptions, WritableOptions};
use crate::stream::{Done, Readable, ReadableImpl, Source, Writable};

// ---------------------------------------------------------------------------
// Stream -> Readable

/// A `Stream` as a source, shared with a [`duplex_from_fn`]'s sink so
/// that its destroy hook can close it.
pub(super) struct StreamState<S> {
    /// The stream, while no pull is in flight; dropped at the end.
    stream: RefCell<Option<Pin<Box<S>>>>,
    /// Node's `reading` in `Readable.from`.
    reading: Cell<bool>,
    cancel: Cancel,
}

impl<S> StreamState<S> {
    pub(super) fn new(stream: S) -> Rc<Self> {
        Rc::new(StreamState {
            stream: RefCell::new(Some(Box::pin(stream))),
            reading: Cell::new(false),
            cancel: Cancel::default(),
        })
    }

    /// Drops the stream (Node's `iterator.return()`), cancelling a pull.
    pub(super) fn close(&self) {
        self.cancel.cancel();
        let s = self.stream.borrow_mut().take();
        drop(s);
    }
}

/// Node's `Readable.from(iterable)`: `_read` starts pulling items on a task
/// and pushes them while `push()` returns `true`.
pub(super) struct StreamSource<S>(pub(super) Rc<StreamState<S>>);

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
    /// A stream of a `futures` [`Stream`]'s items (Node's
    /// `Readable.from(iterable)`): when the stream asks for data, items are
    /// pulled on a task of the loop and pushed as long as `push()` returns
    /// `true`; pulling stops at the mark and resumes at the next `_read`.
    /// The end of the `Stream` is `push_eof`; destroying the Readable drops
    /// the `Stream`. The options say how items count: objects
    /// ([`ReadableOptions::objects`], as Node's `Readable.from`) or bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let r = Readable::from_stream(ReadableOptions::objects(), futures::stream::iter(1..=3));
    ///     let items: Vec<u32> = r.stream().map(|i| i.unwrap()).collect().await;
    ///     assert_eq!(items, [1, 2, 3]);
    /// });
    /// ```
    pub fn from_stream<S>(opts: ReadableOptions<T>, stream: S) -> Self
    where
        S: Stream<Item = T> + 'static,
    {
        Readable::new(opts, StreamSource(StreamState::new(ok_stream(stream))))
    }

    /// [`from_stream`](Readable::from_stream) for a stream of `Result`s: an
    /// `Err` destroys the Readable with that error (converted by
    /// [`into_error`]), as a throwing async iterator destroys Node's
    /// `Readable.from` stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Error, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let items = vec![Ok(1), Err(Error::custom("EBAD", "bad row")), Ok(3)];
    ///     let r = Readable::from_try_stream(ReadableOptions::objects(), futures::stream::iter(items));
    ///     let got: Vec<_> = r.stream().collect().await;
    ///     // The error destroyed the stream: what it had buffered is gone
    ///     // and the iterator ends with the error.
    ///     assert_eq!(got.last().unwrap().as_ref().unwrap_err().code(), "EBAD");
    ///     assert!(r.destroyed());
    ///
    ///     // Byte chunks, the mark counting bytes:
    ///     let chunks = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"ab"))]);
    ///     let r = Readable::from_try_stream(ReadableOptions::default(), chunks);
    ///     assert!(!r.readable_object_mode());
    /// });
    /// ```
    pub fn from_try_stream<S, E>(opts: ReadableOptions<T>, stream: S) -> Self
    where
        S: Stream<Item = Result<T, E>> + 'static,
        E: Into<BoxError>,
    {
        Readable::new(opts, StreamSource(StreamState::new(stream)))
    }
}

// ---------------------------------------------------------------------------
// Sink -> Writable

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
    /// A stream over a `futures` [`Sink`] (Node's `Writable.fromWeb` for a
    /// Rust sink), its chunks counted as the options say (bytes by default,
    /// or [`WritableOptions::objects`]).
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
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// highwater::block_on(async {
    ///     let (tx, rx) = futures::channel::mpsc::channel::<u32>(1);
    ///     let w = Writable::from_sink(WritableOptions::objects(), tx);
    ///     let collector = highwater::spawn(rx.collect::<Vec<u32>>());
    ///     for i in 0..5 {
    ///         w.write_async(i).await.unwrap();
    ///     }
    ///     w.end_async().await.unwrap(); // closes the channel
    ///     assert_eq!(collector.await, [0, 1, 2, 3, 4]);
    ///
    ///     let (tx, rx) = futures::channel::mpsc::unbounded::<Bytes>();
    ///     let w = Writable::from_sink(WritableOptions::default().high_water_mark(4), tx);
    ///     assert!(!w.write(Bytes::from_static(b"abcd"))); // 4 bytes: at the mark
    ///     w.end_async().await.unwrap();
    ///     assert_eq!(rx.collect::<Vec<_>>().await, [Bytes::from_static(b"abcd")]);
    /// });
    /// ```
    pub fn from_sink<S>(opts: WritableOptions<T>, sink: S) -> Self
    where
        S: Sink<T> + 'static,
        S::Error: Into<BoxError>,
    {
        Writable::new(opts, TaskDriver::spawn(SinkSink(Box::pin(sink)), true))
    }
}
