//! Unit tests of the Readable API beyond what the conformance scenarios
//! express: the `futures::Stream` form, typed chunks, sources that push
//! later, and backpressure from a Readable into an async sink.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};

use crate::prelude::*;
use crate::{
    block_on, run_until_idle, AsyncSink, Error, PassThrough, Pipeline, Readable, ReadableImpl,
    ReadableOptions, Source, TransformOptions, Writable, WritableOptions,
};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn stream_yields_everything_buffered_joined_then_ends() {
    // Node: for await over pushes 'a', 'b', null yields one "ab".
    let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(16));
    r.push(b("a"));
    r.push(b("b"));
    r.push_eof();
    let items: Vec<_> = block_on(async move { r.stream().collect::<Vec<_>>().await });
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().ok(), Some(&b("ab")));
}

#[test]
fn stream_in_object_mode_yields_one_item_each() {
    #[derive(Debug, Clone, PartialEq)]
    struct Row(u32);
    let r = Readable::<Row>::pushed(ReadableOptions::objects());
    for i in 0..3 {
        r.push(Row(i));
    }
    r.push_eof();
    let rows: Vec<Row> =
        block_on(async move { r.stream().map(|x| x.expect("no error")).collect().await });
    assert_eq!(rows, vec![Row(0), Row(1), Row(2)]);
}

#[test]
fn stream_of_a_destroyed_stream_yields_its_error_and_drops_the_buffer() {
    // Node: push 'a', destroy(EIO), then for await throws EIO without yielding 'a'.
    let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(16));
    r.push(b("a"));
    r.destroy(Some(Error::custom("EIO", "EIO")));
    let items: Vec<_> = block_on(async move { r.stream().collect::<Vec<_>>().await });
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().err().map(Error::code), Some("EIO"));
}

#[test]
fn dropping_the_stream_early_destroys_the_readable_with_abort_err() {
    let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(16));
    r.push(b("a"));
    r.push(b("b"));
    let r2 = r.clone();
    let first = block_on(async move {
        let mut s = r2.stream();
        s.next().await
    });
    assert_eq!(first.and_then(Result::ok), Some(b("ab")));
    run_until_idle();
    assert!(r.destroyed());
    assert_eq!(
        r.errored().map(|e| e.code().to_string()).as_deref(),
        Some("ABORT_ERR")
    );
}

/// A source that makes `total` chunks of `size` bytes, pushing one per
/// `read` call, later (on the next tick), like a device answering.
struct Counter {
    made: Rc<Cell<usize>>,
    total: usize,
    size: usize,
}

impl ReadableImpl<Bytes> for Counter {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        let (made, total, size) = (self.made.clone(), self.total, self.size);
        let src = src.clone();
        crate::next_tick(move || {
            if made.get() == total {
                src.push_eof();
            } else {
                made.set(made.get() + 1);
                src.push(Bytes::from(vec![b'x'; size]));
            }
        });
    }
}

struct SlowSink {
    got: Rc<Cell<usize>>,
}

impl AsyncSink<Bytes> for SlowSink {
    async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        tokio::task::yield_now().await;
        self.got.set(self.got.get() + chunk.len());
        Ok(())
    }
}

#[test]
fn pipe_into_a_slow_sink_keeps_both_buffers_bounded() {
    let made = Rc::new(Cell::new(0));
    let got = Rc::new(Cell::new(0));
    let src = Readable::new(
        ReadableOptions::default().high_water_mark(64),
        Counter {
            made: made.clone(),
            total: 200,
            size: 16,
        },
    );
    let dst = Writable::from_async(
        WritableOptions::default().high_water_mark(32),
        SlowSink { got: got.clone() },
    );
    let peak = Rc::new(Cell::new(0usize));
    let (p, s2, d2) = (peak.clone(), src.clone(), dst.clone());
    // Sample the buffered total every time the sink takes a chunk.
    dst.on(crate::WritableEvent::Drain, move || {
        p.set(p.get().max(s2.readable_length() + d2.writable_length()));
    });
    let _ = src.pipe(&dst);
    block_on(async move { dst.writable_finished_async().await }).expect("finishes");
    assert_eq!(got.get(), 200 * 16, "every byte arrives");
    assert!(
        peak.get() >= 32,
        "backpressure happened (the sink fell behind)"
    );
    assert!(
        peak.get() <= 64 + 32 + 16,
        "source mark + dest mark + a chunk, got {}",
        peak.get()
    );
}

#[test]
fn pipeline_run_resolves_after_everything_finished() {
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let src = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    let mid: PassThrough = PassThrough::new(TransformOptions::default().high_water_mark(2));
    let dst = Writable::from_fn(
        WritableOptions::default().high_water_mark(2),
        move |c: Bytes| {
            g.borrow_mut().extend_from_slice(&c);
            Ok(())
        },
    );
    src.push(b("hello "));
    src.push(b("world"));
    src.push_eof();
    let res = block_on(Pipeline::new(&src).through(&mid).run(&dst));
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(&*got.borrow(), b"hello world");
    assert!(
        src.destroyed() && mid.destroyed() && dst.destroyed(),
        "autoDestroy closes all"
    );
}

#[test]
fn pipeline_fails_with_the_first_error_and_destroys_every_stage() {
    let src = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    let dst = Writable::from_fn(
        WritableOptions::default().high_water_mark(4),
        |_c: Bytes| Err(Error::custom("ENOSPC", "disk full")),
    );
    src.push(b("x"));
    let mut run = Box::pin(Pipeline::new(&src).run(&dst));
    let res = block_on(async move { run.as_mut().await });
    assert_eq!(
        res.err().map(|e| e.code().to_string()).as_deref(),
        Some("ENOSPC")
    );
    assert!(src.destroyed(), "the source is destroyed too");
    assert_eq!(
        src.errored().map(|e| e.code().to_string()).as_deref(),
        Some("ENOSPC")
    );
}

#[test]
fn finished_async_reports_premature_close() {
    let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    let f = crate::finished_async(&r);
    r.destroy(None);
    run_until_idle();
    let res = f.now_or_never().expect("settled");
    assert_eq!(
        res.err().map(|e| e.code().to_string()).as_deref(),
        Some("ERR_STREAM_PREMATURE_CLOSE")
    );
}

#[test]
fn vec_u8_chunks_split_and_join_for_read_n() {
    let r = Readable::<Vec<u8>>::pushed(ReadableOptions::default().high_water_mark(16));
    r.push(b"abc".to_vec());
    r.push(b"def".to_vec());
    assert_eq!(r.read(Some(2)), Some(b"ab".to_vec()));
    assert_eq!(r.read(Some(3)), Some(b"cde".to_vec()));
    assert_eq!(r.read(Some(5)), None, "not enough yet and not ended");
    r.push_eof();
    assert_eq!(
        r.read(Some(5)),
        Some(b"f".to_vec()),
        "after EOF: what is left"
    );
}
