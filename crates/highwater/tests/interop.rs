//! The interop adapters of `highwater::compat` with real data: tokio pipes,
//! slow writers, manual polls at the mark, pipelines with async-stream
//! stages, and the bridge from a multi-threaded runtime.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures::{Sink, SinkExt, StreamExt};
use highwater::compat::{self, channel, spawn_loop, CompatExt};
use highwater::prelude::*;
use highwater::{
    Done, Error, Hooks, PassThrough, Pipeline, Readable, ReadableOptions, Transform, TransformDone,
    TransformImpl, TransformOptions, Writable, WritableEvent, WritableImpl, WritableOptions,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Deterministic pseudo-random bytes (xorshift), so a shifted or dropped
/// byte cannot go unnoticed.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Chunk sizes that vary: 1 byte to ~20 KiB.
fn sizes(seed: u64) -> impl Iterator<Item = usize> {
    let mut x = seed;
    std::iter::from_fn(move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Some(1 + (x >> 33) as usize % 20_000)
    })
}

fn collector() -> (Writable<Bytes>, Rc<RefCell<Vec<u8>>>) {
    let out = Rc::new(RefCell::new(Vec::new()));
    let o = out.clone();
    let w = Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
        o.borrow_mut().extend_from_slice(&c);
        Ok(())
    });
    (w, out)
}

struct CountWaker(AtomicUsize);
impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Waker, Arc<CountWaker>) {
    let c = Arc::new(CountWaker(AtomicUsize::new(0)));
    (Waker::from(c.clone()), c)
}

async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

// ---------------------------------------------------------------------------
// AsyncRead -> Readable

#[test]
fn async_read_into_readable_is_byte_identical_over_a_tokio_pipe() {
    let input = data(3 << 20, 1);
    let expected = input.clone();
    let got = highwater::block_on(async move {
        let (rx, mut tx) = tokio::io::duplex(32 * 1024);
        let feeder = highwater::spawn(async move {
            let mut off = 0;
            for n in sizes(7) {
                let end = (off + n).min(input.len());
                tx.write_all(&input[off..end]).await?;
                off = end;
                if off == input.len() {
                    break;
                }
            }
            tx.shutdown().await
        });
        let r = Readable::from_async_read(ReadableOptions::default(), rx);
        let (w, out) = collector();
        Pipeline::new(&r).run(&w).await.unwrap();
        feeder.await.unwrap();
        assert!(r.readable_ended());
        out.take()
    });
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
}

/// An endless reader counting what it served.
struct Endless(Rc<Cell<usize>>);
impl AsyncRead for Endless {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining();
        buf.put_slice(&vec![b'x'; n]);
        self.0.set(self.0.get() + n);
        Poll::Ready(Ok(()))
    }
}

#[test]
fn async_read_stops_reading_while_the_buffer_is_at_the_mark() {
    highwater::block_on(async {
        let served = Rc::new(Cell::new(0));
        let r = compat::readable_from_with_chunk_size(
            Endless(served.clone()),
            ReadableOptions::default().high_water_mark(16 * 1024),
            4 * 1024,
        );
        // Nobody reads; the stream fills to its mark and stops asking.
        let _ = r.read(Some(0));
        settle().await;
        assert_eq!(r.readable_length(), 16 * 1024);
        assert_eq!(served.get(), 16 * 1024, "no read while at the mark");
        // Take 8 KiB: the stream asks again, up to the mark.
        assert_eq!(r.read(Some(8 * 1024)).map(|c| c.len()), Some(8 * 1024));
        settle().await;
        assert_eq!(r.readable_length(), 16 * 1024);
        assert_eq!(served.get(), 24 * 1024);
        r.destroy(None);
    });
}

/// A reader that serves some bytes, then fails.
struct FailAfter(usize);
impl AsyncRead for FailAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.0 == 0 {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let n = self.0.min(buf.remaining());
        buf.put_slice(&vec![b'y'; n]);
        self.0 -= n;
        Poll::Ready(Ok(()))
    }
}

#[test]
fn async_read_error_fails_the_stream_with_the_node_code() {
    highwater::block_on(async {
        let r = Readable::from_async_read(ReadableOptions::default(), FailAfter(100));
        let errors = Rc::new(RefCell::new(Vec::new()));
        let e = errors.clone();
        r.on_error(move |err| e.borrow_mut().push(err.clone()));
        let items: Vec<_> = r.stream().collect().await;
        let last = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.code(), "ECONNRESET");
        assert_eq!(last.syscall(), Some("read"));
        assert_eq!(errors.borrow().len(), 1);
        assert!(r.destroyed());
    });
}

#[test]
fn destroying_the_readable_cancels_a_pending_read_and_drops_the_reader() {
    highwater::block_on(async {
        let (rx, mut tx) = tokio::io::duplex(64);
        let r = Readable::from_async_read(ReadableOptions::default(), rx);
        let _ = r.read(Some(0)); // a read starts and waits: nothing is written
        settle().await;
        r.destroy(None);
        settle().await;
        assert!(r.closed());
        // The reader was dropped: the other end's writes now fail.
        let err = tx.write_all(b"anyone?").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

// ---------------------------------------------------------------------------
// AsyncWrite -> Writable

#[test]
fn writable_over_async_write_is_byte_identical_over_a_tokio_pipe() {
    let input = data(3 << 20, 2);
    let expected = input.clone();
    let got = highwater::block_on(async move {
        let (mut rx, tx) = tokio::io::duplex(8 * 1024);
        let reader = highwater::spawn(async move {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).await.map(|_| got)
        });
        let w = Writable::from_async_write(WritableOptions::default(), tx);
        let mut off = 0;
        for n in sizes(3) {
            let end = (off + n).min(input.len());
            w.write_async(Bytes::copy_from_slice(&input[off..end]))
                .await
                .unwrap();
            off = end;
            if off == input.len() {
                break;
            }
        }
        w.end_async().await.unwrap();
        reader.await.unwrap()
    });
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
}

/// A writer that takes at most 100 bytes per call and is `Pending` every
/// other call; records what it got, its largest single write, and
/// flush/shutdown.
#[derive(Default)]
struct Slow {
    got: Rc<RefCell<Vec<u8>>>,
    log: Rc<RefCell<Vec<&'static str>>>,
    flip: bool,
    vectored: bool,
    /// Slices per vectored call.
    batches: Rc<RefCell<Vec<usize>>>,
}

impl Slow {
    fn step(&mut self, cx: &mut Context<'_>) -> bool {
        self.flip = !self.flip;
        if self.flip {
            cx.waker().wake_by_ref();
        }
        !self.flip
    }
}

impl AsyncWrite for Slow {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.step(cx) {
            return Poll::Pending;
        }
        let n = buf.len().min(100);
        this.got.borrow_mut().extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.step(cx) {
            return Poll::Pending;
        }
        this.batches.borrow_mut().push(bufs.len());
        let mut n = 0;
        for b in bufs {
            this.got.borrow_mut().extend_from_slice(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.log.borrow_mut().push("flush");
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.log.borrow_mut().push("shutdown");
        Poll::Ready(Ok(()))
    }
}

#[test]
fn slow_async_write_keeps_the_buffer_within_mark_plus_one_chunk() {
    highwater::block_on(async {
        let slow = Slow::default();
        let (got, log) = (slow.got.clone(), slow.log.clone());
        let mark = 4096;
        let w = Writable::from_async_write(WritableOptions::default().high_water_mark(mark), slow);
        let drains = Rc::new(Cell::new(0));
        let d = drains.clone();
        w.on(WritableEvent::Drain, move || d.set(d.get() + 1));
        let input = data(200_000, 3);
        let mut falses = 0;
        let mut off = 0;
        for n in sizes(11).map(|n| n % 3000 + 1) {
            let end = (off + n).min(input.len());
            if !w.write(Bytes::copy_from_slice(&input[off..end])) {
                falses += 1;
                w.drained().await.unwrap();
            }
            assert!(w.writable_length() <= mark + 3000);
            off = end;
            if off == input.len() {
                break;
            }
        }
        w.end_async().await.unwrap();
        assert!(falses > 10, "the slow writer must have pushed back");
        assert_eq!(drains.get(), falses);
        assert!(*got.borrow() == input);
        assert_eq!(*log.borrow(), ["flush", "shutdown"]);
    });
}

#[test]
fn a_vectored_writer_gets_the_buffered_chunks_in_one_writev() {
    highwater::block_on(async {
        let slow = Slow {
            vectored: true,
            ..Slow::default()
        };
        let (got, batches) = (slow.got.clone(), slow.batches.clone());
        let w = Writable::from_async_write(WritableOptions::default(), slow);
        let input = data(5000, 4);
        // Written at once: the first goes out alone, the rest wait in the
        // buffer and go out together.
        for c in input.chunks(500) {
            let _ = w.write(Bytes::copy_from_slice(c));
        }
        w.end_async().await.unwrap();
        assert!(*got.borrow() == input);
        let b = batches.borrow();
        assert!(b.iter().any(|&n| n > 1), "no vectored batch: {b:?}");
    });
}

/// A writer whose peer is gone.
struct Broken;
impl AsyncWrite for Broken {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::from_raw_os_error(32)))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn async_write_error_fails_the_stream_with_epipe() {
    highwater::block_on(async {
        let w = Writable::from_async_write(WritableOptions::default(), Broken);
        let _ = w.write(Bytes::from_static(b"lost"));
        let err = w.end_async().await.unwrap_err();
        assert_eq!(err.code(), "EPIPE");
        assert_eq!(err.syscall(), Some("write"));
        assert!(w.destroyed());
    });
}

#[test]
fn destroying_the_writable_cancels_a_stuck_write_and_drops_the_writer() {
    highwater::block_on(async {
        // A pipe nobody reads: the second write never completes.
        let (rx, tx) = tokio::io::duplex(16);
        let w = Writable::from_async_write(WritableOptions::default(), tx);
        let _ = w.write(Bytes::from(vec![0u8; 64]));
        settle().await;
        assert_eq!(w.writable_length(), 64, "stuck in flight");
        let cb_err = Rc::new(RefCell::new(None));
        let c = cb_err.clone();
        w.destroy(None);
        let _ = w.write_cb(Bytes::from_static(b"x"), move |r: Result<(), Error>| {
            *c.borrow_mut() = r.err()
        });
        settle().await;
        assert!(w.closed());
        // The writer was dropped: the reader sees the 16 bytes, then EOF.
        let mut rx = rx;
        let mut got = Vec::new();
        rx.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 16);
        assert_eq!(
            cb_err.borrow().as_ref().map(|e| e.code().to_string()),
            Some("ERR_STREAM_DESTROYED".to_string())
        );
    });
}

// ---------------------------------------------------------------------------
// Readable -> AsyncRead

#[test]
fn into_async_read_keeps_the_rest_of_partly_read_chunks() {
    highwater::block_on(async {
        let input = data(100_000, 5);
        let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(1 << 20));
        let mut off = 0;
        for n in sizes(5) {
            let end = (off + n).min(input.len());
            r.push(Bytes::copy_from_slice(&input[off..end]));
            off = end;
            if off == input.len() {
                break;
            }
        }
        r.push_eof();
        let mut reader = r.into_async_read();
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == input);
        // After EOF: EOF again.
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn into_async_read_is_also_a_futures_async_read_over_a_tokio_pipe() {
    let input = data(2 << 20, 6);
    let expected = input.clone();
    let got = highwater::block_on(async move {
        let (rx, mut tx) = tokio::io::duplex(16 * 1024);
        let _feeder = highwater::spawn(async move {
            tx.write_all(&input).await?;
            tx.shutdown().await
        });
        let r = Readable::from_async_read(ReadableOptions::default(), rx);
        let mut got = Vec::new();
        futures::io::AsyncReadExt::read_to_end(&mut r.into_async_read(), &mut got)
            .await
            .unwrap();
        got
    });
    assert!(got == expected);
}

#[test]
fn into_async_read_reports_the_stream_error() {
    highwater::block_on(async {
        let r = Readable::<Bytes>::pushed(ReadableOptions::default());
        r.push(Bytes::from_static(b"partial"));
        let mut reader = r.clone().into_async_read();
        let mut buf = [0u8; 64];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 7);
        r.destroy(Some(Error::custom("EBOOM", "boom")));
        let err = reader.read(&mut buf).await.unwrap_err();
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert_eq!(inner.map(|e| e.code()), Some("EBOOM"));
    });
}

// ---------------------------------------------------------------------------
// Writable -> Sink / AsyncWrite, polled by hand

/// A sink that holds each write's `Done` until the test completes it.
#[derive(Clone, Default)]
struct Held(Rc<RefCell<Vec<Done>>>);
impl WritableImpl<Bytes> for Held {
    fn write(&self, _chunk: Bytes, done: Done) {
        self.0.borrow_mut().push(done);
    }
}
impl Held {
    fn complete_one(&self) {
        let d = self.0.borrow_mut().remove(0);
        d.ok();
    }
}

#[test]
fn sink_is_pending_at_the_mark_until_drain() {
    let held = Held::default();
    let w = Writable::new(WritableOptions::default().high_water_mark(4), held.clone());
    let mut sink = w.clone().into_sink();
    let (waker, wakes) = counting_waker();
    let mut cx = Context::from_waker(&waker);

    assert!(matches!(
        Pin::new(&mut sink).poll_ready(&mut cx),
        Poll::Ready(Ok(()))
    ));
    Pin::new(&mut sink)
        .start_send(Bytes::from_static(b"ab"))
        .unwrap();
    assert!(matches!(
        Pin::new(&mut sink).poll_ready(&mut cx),
        Poll::Ready(Ok(()))
    ));
    Pin::new(&mut sink)
        .start_send(Bytes::from_static(b"cd"))
        .unwrap();
    // 4 bytes: write() said false; the sink waits for 'drain'.
    assert!(w.writable_need_drain());
    assert!(Pin::new(&mut sink).poll_ready(&mut cx).is_pending());
    assert!(Sink::<Bytes>::poll_flush(Pin::new(&mut sink), &mut cx).is_pending());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);

    held.complete_one();
    highwater::run_until_idle();
    assert!(
        Pin::new(&mut sink).poll_ready(&mut cx).is_pending(),
        "2 bytes left: no drain yet"
    );
    held.complete_one();
    highwater::run_until_idle();
    assert!(wakes.0.load(Ordering::SeqCst) > 0, "'drain' woke the sink");
    assert!(matches!(
        Pin::new(&mut sink).poll_ready(&mut cx),
        Poll::Ready(Ok(()))
    ));
    assert!(matches!(
        Sink::<Bytes>::poll_flush(Pin::new(&mut sink), &mut cx),
        Poll::Ready(Ok(()))
    ));

    // close = end() + 'finish'.
    assert!(matches!(
        Pin::new(&mut sink).poll_close(&mut cx),
        Poll::Ready(Ok(())) | Poll::Pending
    ));
    highwater::run_until_idle();
    assert!(matches!(
        Pin::new(&mut sink).poll_close(&mut cx),
        Poll::Ready(Ok(()))
    ));
    assert!(w.writable_finished());
}

#[test]
fn async_write_is_pending_at_the_mark_and_takes_no_more_than_the_mark() {
    let held = Held::default();
    let w = Writable::new(WritableOptions::default().high_water_mark(10), held.clone());
    let mut aw = w.clone().into_async_write();
    let (waker, wakes) = counting_waker();
    let mut cx = Context::from_waker(&waker);

    // One 25-byte slice: only the 10 that fit below the mark are taken.
    match Pin::new(&mut aw).poll_write(&mut cx, &[1u8; 25]) {
        Poll::Ready(Ok(n)) => assert_eq!(n, 10),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.writable_length(), 10);
    assert!(Pin::new(&mut aw)
        .poll_write(&mut cx, &[1u8; 15])
        .is_pending());
    held.complete_one();
    highwater::run_until_idle();
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    match Pin::new(&mut aw).poll_write(&mut cx, &[1u8; 15]) {
        Poll::Ready(Ok(n)) => assert_eq!(n, 10),
        other => panic!("{other:?}"),
    }
}

struct Failing;
impl WritableImpl<Bytes> for Failing {
    fn write(&self, _chunk: Bytes, done: Done) {
        done.err(Error::custom("EFAIL", "sink failed"));
    }
}

#[test]
fn sink_and_async_write_surface_the_stream_error() {
    highwater::block_on(async {
        let w = Writable::new(WritableOptions::default(), Failing);
        let mut sink = w.into_sink();
        let err = sink.send(Bytes::from_static(b"x")).await.unwrap_err();
        assert_eq!(err.code(), "EFAIL");

        let w = Writable::new(WritableOptions::default(), Failing);
        let mut aw = w.into_async_write();
        let r1 = aw.write_all(b"x").await;
        let err = match r1 {
            Err(e) => e,
            Ok(()) => AsyncWriteExt::flush(&mut aw).await.unwrap_err(),
        };
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert_eq!(inner.map(|e| e.code()), Some("EFAIL"));

        // A destroyed stream: ERR_STREAM_DESTROYED.
        let (w, _out) = collector();
        w.destroy(None);
        let err = w.into_sink().send(Bytes::new()).await.unwrap_err();
        assert_eq!(err.code(), "ERR_STREAM_DESTROYED");
    });
}

// ---------------------------------------------------------------------------
// Object mode: Stream -> Readable, Sink -> Writable

#[test]
fn stream_into_readable_into_sink_writable_carries_every_item_in_order() {
    highwater::block_on(async {
        let (tx, rx) = futures::channel::mpsc::channel::<u64>(4);
        let consumer = highwater::spawn(rx.collect::<Vec<u64>>());
        let r = Readable::from_stream(
            ReadableOptions::objects(),
            futures::stream::iter(0..5000u64),
        );
        let w = Writable::from_sink(WritableOptions::objects(), tx);
        Pipeline::new(&r).run(&w).await.unwrap();
        let got = consumer.await;
        assert_eq!(got, (0..5000).collect::<Vec<_>>());
    });
}

#[test]
fn a_failing_sink_fails_the_writable_with_its_error() {
    highwater::block_on(async {
        let (tx, rx) = futures::channel::mpsc::channel::<u32>(0);
        drop(rx);
        let w = Writable::from_sink(WritableOptions::objects(), tx);
        let _ = w.write(1);
        let err = w.end_async().await.unwrap_err();
        // futures' SendError, as a message error.
        assert!(err.to_string().contains("receiver is gone"), "{err}");
        assert!(w.destroyed());

        let sink = futures::sink::unfold((), |(), c: Bytes| async move {
            if c.is_empty() {
                Err(Error::custom("EEMPTY", "empty chunk"))
            } else {
                Ok(())
            }
        });
        let w = Writable::from_sink(WritableOptions::default(), sink);
        w.write_async(Bytes::from_static(b"fine")).await.unwrap();
        let _ = w.write(Bytes::new());
        let err = w.end_async().await.unwrap_err();
        assert_eq!(err.code(), "EEMPTY", "a highwater Error stays itself");
    });
}

#[test]
fn stream_source_pulls_only_up_to_the_mark() {
    highwater::block_on(async {
        let pulled = Rc::new(Cell::new(0));
        let p = pulled.clone();
        let items = futures::stream::iter(0..1000u32).inspect(move |_| p.set(p.get() + 1));
        let r = Readable::from_stream(ReadableOptions::objects().high_water_mark(4), items);
        let _ = r.read(Some(0));
        settle().await;
        assert_eq!(pulled.get(), 4);
        assert_eq!(r.read(None), Some(0));
        settle().await;
        assert_eq!(pulled.get(), 5);
        r.destroy(None);
    });
}

#[test]
fn writable_sink_object_mode_send_all() {
    highwater::block_on(async {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let w = Writable::from_fn(WritableOptions::objects(), move |v: (u8, String)| {
            s.borrow_mut().push(v);
            Ok(())
        });
        let mut sink = w.clone().into_sink();
        let mut items = futures::stream::iter((0..100u8).map(|i| Ok((i, i.to_string()))));
        sink.send_all(&mut items).await.unwrap();
        sink.close().await.unwrap();
        assert_eq!(seen.borrow().len(), 100);
        assert_eq!(seen.borrow()[42], (42, "42".to_string()));
        assert!(w.writable_finished());
    });
}

// ---------------------------------------------------------------------------
// Pipelines with stream sources and function stages

#[test]
fn pipeline_with_a_stream_source_and_a_generator_like_stage() {
    highwater::block_on(async {
        let out = Rc::new(RefCell::new(Vec::new()));
        let o = out.clone();
        let dst = Writable::from_fn(WritableOptions::objects(), move |s: String| {
            o.borrow_mut().push(s);
            Ok(())
        });
        let mid: PassThrough<String> = PassThrough::new(TransformOptions::objects());
        Pipeline::from_stream(futures::stream::iter(0..300u32))
            // async function* (source) { for await (const n of source) if (n % 3 == 0) { yield n; yield n + 1 } }
            .through_fn(|source| {
                source.flat_map(|n| {
                    let items = match n {
                        Ok(n) if n % 3 == 0 => vec![Ok(n), Ok(n + 1)],
                        Ok(_) => vec![],
                        Err(e) => vec![Err(e)],
                    };
                    futures::stream::iter(items)
                })
            })
            .through_fn(|source| source.map(|n| n.map(|n| format!("<{n}>"))))
            .through(&mid)
            .run(&dst)
            .await
            .unwrap();
        let expected: Vec<String> = (0..300u32)
            .filter(|n| n % 3 == 0)
            .flat_map(|n| [format!("<{n}>"), format!("<{}>", n + 1)])
            .collect();
        assert_eq!(*out.borrow(), expected);
    });
}

#[test]
fn a_function_stage_keeps_backpressure_bounded() {
    highwater::block_on(async {
        let pulled = Rc::new(Cell::new(0usize));
        let p = pulled.clone();
        let source = futures::stream::iter(0..20_000u32).inspect(move |_| p.set(p.get() + 1));
        let written = Rc::new(Cell::new(0usize));
        let max_gap = Rc::new(Cell::new(0usize));
        let (wr, pl, mg) = (written.clone(), pulled.clone(), max_gap.clone());
        struct SlowObj {
            written: Rc<Cell<usize>>,
            pulled: Rc<Cell<usize>>,
            max_gap: Rc<Cell<usize>>,
        }
        impl highwater::AsyncSink<u32> for SlowObj {
            async fn write(&mut self, _n: u32) -> Result<(), Error> {
                tokio::task::yield_now().await;
                self.written.set(self.written.get() + 1);
                let gap = self.pulled.get() - self.written.get();
                self.max_gap.set(self.max_gap.get().max(gap));
                Ok(())
            }
        }
        let dst = Writable::from_async(
            WritableOptions::objects(),
            SlowObj {
                written: wr,
                pulled: pl,
                max_gap: mg,
            },
        );
        Pipeline::from_stream(source)
            .through_fn(|s| s)
            .run(&dst)
            .await
            .unwrap();
        assert_eq!(written.get(), 20_000);
        // Marks of 16 items: the source, the stage's two sides and its
        // input, the destination. Without backpressure the gap would be
        // the whole input.
        assert!(max_gap.get() <= 6 * 16, "gap {}", max_gap.get());
    });
}

#[test]
fn an_error_in_a_function_stage_fails_the_pipeline_and_destroys_the_source() {
    highwater::block_on(async {
        let src = Readable::from_stream(
            ReadableOptions::objects(),
            futures::stream::iter(0..1000u32),
        );
        let dst = Writable::from_fn(WritableOptions::objects(), |_n: u32| Ok(()));
        let err = Pipeline::new(&src)
            .through_fn(|s| {
                s.map(|n| match n {
                    Ok(7) => Err(Error::custom("ESEVEN", "no sevens")),
                    other => other,
                })
            })
            .run(&dst)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "ESEVEN");
        assert!(src.destroyed());
        assert!(dst.destroyed());
    });
}

#[test]
fn a_function_stage_that_stops_early_fails_the_pipeline_instead_of_hanging() {
    highwater::block_on(async {
        let dst = Writable::from_fn(WritableOptions::objects(), |_n: u32| Ok(()));
        let err = Pipeline::from_stream(futures::stream::iter(0..100_000u32))
            .through_fn(|s| s.take(3))
            .run(&dst)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "ABORT_ERR");
    });
}

#[test]
fn pipeline_from_try_stream_fails_with_the_stream_error() {
    highwater::block_on(async {
        let dst = Writable::from_fn(WritableOptions::objects(), |_n: u32| Ok(()));
        let items = futures::stream::iter([
            Ok(1),
            Ok(2),
            Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        ]);
        let err = Pipeline::from_try_stream(items)
            .run(&dst)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "EPIPE");
    });
}

// ---------------------------------------------------------------------------
// gzip as a Transform (what examples/compress.rs does), checked by decoding

struct Gzip(RefCell<Option<flate2::write::GzEncoder<Vec<u8>>>>);

impl TransformImpl<Bytes, Bytes> for Gzip {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        use std::io::Write;
        let mut enc = self.0.borrow_mut();
        let Some(e) = enc.as_mut() else {
            return done.call(Err(Error::msg("gzip already finished")));
        };
        if let Err(err) = e.write_all(&chunk) {
            drop(enc);
            return done.call(Err(Error::io(err, "deflate", None)));
        }
        let out = std::mem::take(e.get_mut());
        drop(enc);
        done.call(Ok((!out.is_empty()).then(|| Bytes::from(out))));
    }
    fn flush(&self, done: TransformDone<Bytes>) {
        let enc = self.0.borrow_mut().take();
        match enc.map(|e| e.finish()) {
            Some(Ok(rest)) => done.call(Ok(Some(Bytes::from(rest)))),
            Some(Err(err)) => done.call(Err(Error::io(err, "deflate", None))),
            None => done.call(Ok(None)),
        }
    }
    fn hooks(&self) -> Hooks {
        Hooks::FLUSH
    }
}

#[test]
fn file_to_gzip_to_file_decompresses_to_the_input() {
    use highwater::fs::{create_read_stream, create_write_stream};
    let dir = std::env::temp_dir().join(format!("hw-interop-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src_path, dst_path) = (dir.join("in.bin"), dir.join("out.gz"));
    // Compressible but not trivial.
    let input: Vec<u8> = data(1 << 20, 9).iter().map(|b| b % 16).collect();
    std::fs::write(&src_path, &input).unwrap();
    let (s, d) = (src_path.clone(), dst_path.clone());
    highwater::block_on(async move {
        let r = create_read_stream(&s, Default::default())?;
        let w = create_write_stream(&d, Default::default())?;
        let gz: Transform = Transform::new(
            TransformOptions::default(),
            Gzip(RefCell::new(Some(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::default(),
            )))),
        );
        Pipeline::new(&r).through(&gz).run(&w).await
    })
    .unwrap();
    let compressed = std::fs::read(&dst_path).unwrap();
    assert!(compressed.len() < input.len());
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut decoded,
    )
    .unwrap();
    assert!(decoded == input);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------
// Threads

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn bridge_from_a_multi_thread_runtime_is_bounded_by_the_mark() {
    let mark = 64 * 1024;
    let input = data(4 << 20, 10);
    let expected = input.clone();
    let lp = spawn_loop().unwrap();
    let rt = multi_thread_runtime();
    let got = rt.block_on(async move {
        let (mut w, rx) = channel(mark);
        // Nobody reads yet: the writer is taken exactly up to the mark, then
        // Pending.
        let (waker, _) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let mut accepted = 0;
        loop {
            match Pin::new(&mut w).poll_write(&mut cx, &input[accepted..accepted + 10_000]) {
                Poll::Ready(Ok(n)) => accepted += n,
                Poll::Ready(Err(e)) => panic!("{e}"),
                Poll::Pending => break,
            }
        }
        assert_eq!(accepted, mark);
        assert_eq!(w.in_flight(), mark);

        // The loop side: a Readable over the channel, piped into a slow sink.
        let consumer = lp.spawn(move || async move {
            let r = rx.into_readable(ReadableOptions::default().high_water_mark(16 * 1024));
            let got = Rc::new(RefCell::new(Vec::new()));
            struct Slowish(Rc<RefCell<Vec<u8>>>);
            impl highwater::AsyncSink<Bytes> for Slowish {
                async fn write(&mut self, c: Bytes) -> Result<(), Error> {
                    tokio::task::yield_now().await;
                    self.0.borrow_mut().extend_from_slice(&c);
                    Ok(())
                }
            }
            let dst = Writable::from_async(WritableOptions::default(), Slowish(got.clone()));
            Pipeline::new(&r).run(&dst).await?;
            Ok::<_, Error>(got.take())
        });

        // The rest from a task of the multi-thread runtime, in odd sizes.
        let writer = tokio::spawn(async move {
            let mut off = accepted;
            let mut max_in_flight = 0;
            for n in sizes(13) {
                let end = (off + n).min(input.len());
                w.write_all(&input[off..end]).await?;
                max_in_flight = max_in_flight.max(w.in_flight());
                off = end;
                if off == input.len() {
                    break;
                }
            }
            w.shutdown().await?;
            Ok::<_, io::Error>(max_in_flight)
        });
        let max_in_flight = writer.await.unwrap().unwrap();
        assert!(max_in_flight <= mark, "{max_in_flight} > {mark}");
        consumer.await.unwrap().unwrap()
    });
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
}

#[test]
fn bridge_reader_carries_loop_output_to_a_multi_thread_runtime() {
    let lp = spawn_loop().unwrap();
    let rt = multi_thread_runtime();
    let input = data(1 << 20, 12);
    let expected = input.clone();
    let got = rt.block_on(async move {
        let reader = lp
            .spawn(move || async move {
                let (w, r) =
                    compat::bridge_reader(WritableOptions::default().high_water_mark(8192));
                let _producer = highwater::spawn(async move {
                    for c in input.chunks(3000) {
                        w.write_async(Bytes::copy_from_slice(c)).await?;
                    }
                    w.end_async().await
                });
                r
            })
            .await
            .unwrap();
        let mut reader = reader;
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        got
    });
    assert!(got == expected);
}

#[test]
fn a_dropped_reader_fails_the_writer_with_epipe_and_an_abort_fails_the_reader() {
    let (mut w, r) = channel(1024);
    drop(r);
    let err = futures::executor::block_on(w.write_all(b"x")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);

    let (w, r) = channel(1024);
    let lp = spawn_loop().unwrap();
    let job = lp.spawn(move || async move {
        let readable = r.into_readable(ReadableOptions::default());
        let items: Vec<_> = readable.stream().collect().await;
        items
            .last()
            .and_then(|i| i.as_ref().err())
            .map(|e| e.code().to_string())
    });
    w.abort(Error::custom("EGAVEUP", "gave up"));
    let code = futures::executor::block_on(job).unwrap();
    assert_eq!(code.as_deref(), Some("EGAVEUP"));
}

#[test]
fn loop_handle_reports_a_panicking_task_and_keeps_running() {
    let lp = spawn_loop().unwrap();
    let rt = multi_thread_runtime();
    rt.block_on(async move {
        let err = lp
            .spawn(|| async {
                if true {
                    panic!("deliberate");
                }
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "ERR_LOOP_TASK_PANICKED");
        assert!(err.to_string().contains("deliberate"));
        let ok = lp.spawn(|| async { 5 }).await.unwrap();
        assert_eq!(ok, 5);
        // Handles are Send + Sync + Clone: spawn from several worker tasks.
        let mut joins = Vec::new();
        for i in 0..8u32 {
            let lp = lp.clone();
            joins.push(tokio::spawn(async move {
                lp.spawn(move || async move { i * 2 }).await
            }));
        }
        for (i, j) in joins.into_iter().enumerate() {
            assert_eq!(j.await.unwrap().unwrap(), i as u32 * 2);
        }
    });
}

/// An `AsyncWrite` that never finishes anything.
struct Never;

impl AsyncWrite for Never {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

/// Counts its drops: shows whether a stream (which owns it through a
/// listener) was freed.
struct DropProbe(Rc<Cell<usize>>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A write handed to an adapter's task, then destroyed before the task ran:
/// its callback still gets ERR_STREAM_DESTROYED, and the stream is freed
/// (its pending completion used to be lost in the mailbox, keeping the
/// stream alive).
#[test]
fn a_write_destroyed_before_its_task_runs_is_failed_and_freed() {
    let drops = Rc::new(Cell::new(0));
    let got = Rc::new(RefCell::new(None));
    let (d, g) = (drops.clone(), got.clone());
    highwater::block_on(async move {
        let w = Writable::from_async_write(WritableOptions::default(), Never);
        let probe = DropProbe(d);
        w.on(WritableEvent::Close, move || {
            let _ = &probe;
        });
        let g2 = g.clone();
        let _ = w.write_cb(Bytes::from_static(b"x"), move |r: Result<(), Error>| {
            *g2.borrow_mut() = Some(r.map_err(|e| e.code().to_string()));
        });
        w.destroy(None);
        drop(w);
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(
        got.borrow().clone(),
        Some(Err("ERR_STREAM_DESTROYED".to_string()))
    );
    assert_eq!(drops.get(), 1, "the stream was freed");
}

/// A reader that goes away with bytes it never took: the writer's flush and
/// close fail with EPIPE instead of reporting them delivered.
#[test]
fn flush_after_the_reader_dropped_unread_bytes_is_epipe() {
    futures::executor::block_on(async {
        let (mut tx, rx) = channel(16);
        tx.write_all(b"abc").await.expect("write");
        drop(rx);
        let e = AsyncWriteExt::flush(&mut tx).await.expect_err("flush");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        let e = AsyncWriteExt::shutdown(&mut tx)
            .await
            .expect_err("shutdown");
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    });
}

/// A highwater error carried through `io::Error` (an aborted channel) keeps
/// its code when the reader becomes a Readable with `from_async_read`.
#[test]
fn from_async_read_keeps_a_highwater_errors_code() {
    let code = Rc::new(RefCell::new(None));
    let c = code.clone();
    highwater::block_on(async move {
        let (tx, rx) = channel(16);
        tx.abort(Error::custom("EBAD", "gave up"));
        let r = Readable::from_async_read(ReadableOptions::default(), rx);
        let c2 = c.clone();
        r.on_error(move |e| *c2.borrow_mut() = Some(e.code().to_string()));
        r.resume();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    });
    assert_eq!(code.borrow().as_deref(), Some("EBAD"));
}
