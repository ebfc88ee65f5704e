//! In-memory throughput of highwater's streams, the four cases of the
//! performance issue, each printed as one line `case rate min max` (rates
//! per second, median of 5 runs), plus the allocations per write in steady
//! state, counted by a global allocator.
//!
//! `cargo run --release -p highwater-bench --bin mem [CASE]` (a CASE runs
//! that case once, for a profiler)

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    AsyncSink, Done, PassThrough, Readable, ReadableImpl, ReadableOptions, Source,
    TransformOptions, Writable, WritableImpl, WritableOptions,
};
use highwater_bench::median_rate;

/// Counts allocations (dhat's allocator: no unsafe code here).
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const N: u64 = 5_000_000;

fn sync_sink() {
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    let chunk = Bytes::from_static(&[b'x'; 64]);
    for _ in 0..N {
        let _ = w.write(chunk.clone());
    }
    highwater::run_until_idle();
}

/// A sink that completes each write on the next tick.
#[derive(Clone, Default)]
struct Later(Rc<RefCell<Option<Done>>>);

impl WritableImpl<Bytes> for Later {
    fn write(&self, _chunk: Bytes, done: Done) {
        *self.0.borrow_mut() = Some(done);
    }
}

fn later_sink() {
    let sink = Later::default();
    let w = Writable::new(WritableOptions::default(), sink.clone());
    let chunk = Bytes::from_static(&[b'x'; 64]);
    let mut n = 0;
    while n < N / 5 {
        // Write until the buffer is full, then complete in turn, as a sink
        // answering on later turns of the loop would.
        while n < N / 5 && w.write(chunk.clone()) {
            n += 1;
        }
        loop {
            let done = sink.0.borrow_mut().take();
            match done {
                Some(d) => d.ok(),
                None => break,
            }
        }
        highwater::run_until_idle();
    }
}

/// Completes on the next turn of the event loop: pending once, then ready.
struct NextTurn(bool);

impl std::future::Future for NextTurn {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

/// An async sink whose every write completes on a later turn of the loop.
struct NextTurnSink;

impl AsyncSink<Bytes> for NextTurnSink {
    async fn write(&mut self, _chunk: Bytes) -> Result<(), highwater::Error> {
        NextTurn(false).await;
        Ok(())
    }
}

fn next_turn_sink() {
    highwater::block_on(async {
        let w = Writable::from_async(WritableOptions::default(), NextTurnSink);
        let chunk = Bytes::from_static(&[b'x'; 64]);
        for _ in 0..N / 5 {
            if !w.write(chunk.clone()) {
                let _ = w.drained().await;
            }
        }
        let _ = w.end_async().await;
    });
}

fn object_mode() {
    let w = Writable::from_fn(WritableOptions::objects(), |_c: u64| Ok(()));
    for i in 0..N {
        let _ = w.write(i);
    }
    highwater::run_until_idle();
}

/// Pushes `left` chunks of 64 KiB, one per `_read`.
struct Chunks {
    left: Cell<u64>,
    chunk: Bytes,
}

impl ReadableImpl<Bytes> for Chunks {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        if self.left.get() == 0 {
            src.push_eof();
        } else {
            self.left.set(self.left.get() - 1);
            src.push(self.chunk.clone());
        }
    }
}

const CHAIN: u64 = 500_000;

fn readable_transform_writable() {
    let r = Readable::new(
        ReadableOptions::default().high_water_mark(256 * 1024),
        Chunks {
            left: Cell::new(CHAIN),
            chunk: Bytes::from(vec![0u8; 64 * 1024]),
        },
    );
    let t: PassThrough =
        PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(256 * 1024));
    let w = Writable::from_fn(
        WritableOptions::default().high_water_mark(256 * 1024),
        |_c: Bytes| Ok(()),
    );
    r.pipe(&t).pipe(&w);
    highwater::run_until_idle();
    assert!(w.writable_finished());
}

/// Per-write cost as the number of writes grows: one stream, 10^5 to 10^8
/// writes, each line `writes rate`.
fn scale() {
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    let chunk = Bytes::from_static(&[b'x'; 64]);
    let mut done = 0u64;
    for n in [100_000u64, 1_000_000, 10_000_000, 100_000_000] {
        let t = std::time::Instant::now();
        for _ in done..n {
            let _ = w.write(chunk.clone());
        }
        highwater::run_until_idle();
        let rate = (n - done) as f64 / t.elapsed().as_secs_f64();
        println!("{n} {rate:.0}");
        done = n;
    }
}

fn main() {
    // `mem CASE` runs one case once, for profilers (callgrind, perf).
    if let Some(case) = std::env::args().nth(1) {
        match case.as_str() {
            "sync_sink_writes" => sync_sink(),
            "later_sink_writes" => later_sink(),
            "next_turn_sink_writes" => next_turn_sink(),
            "object_mode_writes" => object_mode(),
            "readable_transform_writable_chunks" => readable_transform_writable(),
            "scale" => scale(),
            other => {
                eprintln!("mem: unknown case {other}");
                std::process::exit(2);
            }
        }
        return;
    }
    let report = |name: &str, (m, lo, hi): (f64, f64, f64)| {
        println!("{name} {m:.0} {lo:.0} {hi:.0}");
    };
    report("sync_sink_writes", median_rate(5, N, sync_sink));
    report("later_sink_writes", median_rate(5, N / 5, later_sink));
    report(
        "next_turn_sink_writes",
        median_rate(5, N / 5, next_turn_sink),
    );
    report("object_mode_writes", median_rate(5, N, object_mode));
    report(
        "readable_transform_writable_chunks",
        median_rate(5, CHAIN, readable_transform_writable),
    );

    // Allocations per write in steady state: a warmed-up stream, then count.
    let _profiler = dhat::Profiler::builder().testing().build();
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    let chunk = Bytes::from_static(&[b'x'; 64]);
    for _ in 0..1000 {
        let _ = w.write(chunk.clone());
    }
    highwater::run_until_idle();
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..100_000 {
        let _ = w.write(chunk.clone());
    }
    highwater::run_until_idle();
    let per = (dhat::HeapStats::get().total_blocks - before) as f64 / 100_000.0;
    println!("allocations_per_write {per:.3} 0 0");
}
