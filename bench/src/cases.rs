//! The in-memory cases of `bench/src/bin/mem.rs` (rates),
//! `bench/src/bin/allocs.rs` (allocations per operation) and
//! `bench/callgrind.sh` (instructions per operation), each a function of the
//! number of operations it performs, and their Node twins in
//! `bench/node/mem.mjs` (same names, same sizes, marks, counts and
//! completion discipline).
//!
//! | case | one operation | Node twin |
//! |---|---|---|
//! | `sync_sink_fn_writes` | a 64-byte `write` into `Writable::from_fn` (default mark) | `write(c, e, cb) { cb() }` |
//! | `sync_sink_impl_writes` | a 64-byte `write` into a `WritableImpl` calling `done.ok()` inside `write` | the same Node code |
//! | `later_sink_writes` | a 64-byte `write`; the sink keeps the `Done`, the producer (in `highwater::block_on`) writes until `false`, completes every pending write, then yields one turn of the runtime (`tokio::task::yield_now`) | `pending = cb`, the same loop, `await` a `setImmediate` |
//! | `next_turn_sink_writes` | a 64-byte `write` into an `AsyncSink` whose write awaits `tokio::task::yield_now()` (one turn of the runtime, its I/O driver polled), in `highwater::block_on`; `drained()` on `false` | `write(c, e, cb) { setImmediate(cb) }`, `once('drain')` |
//! | `object_mode_writes` | a `u64` written into an object-mode `WritableImpl` calling `done.ok()` | numbers, `objectMode`, `cb()` |
//! | `pipe_chunks` | a 64 KiB chunk, `ReadableImpl` (mark 256 KiB) `.pipe()` into a `WritableImpl` (mark 256 KiB, `done.ok()`) | `r.pipe(w)` |
//! | `chain3_chunks` | a 64 KiB chunk, Readable → `PassThrough` → Writable, every mark 256 KiB | `r.pipe(t).pipe(w)` |
//! | `fanout3_chunks` | a 64 KiB chunk of the source, `r.pipe(w)` into three Writables | `r.pipe(w1); r.pipe(w2); r.pipe(w3)` |
//! | `object_pipeline_items` | a `u64` through `Pipeline`: `Readable::from_iter` (mark 16) → identity object `Transform` → object Writable | `pipeline(Readable.from(gen, { highWaterMark: 16 }), Transform, Writable, cb)` |
//!
//! Rust peers, without highwater (no Node twin): `tokio_mpsc_chain3_chunks`,
//! `tokio_mpsc_objects`, `futures_mpsc_objects`, `futures_stream_chain3_chunks`.
//!
//! Every sink that completes synchronously does so through `Done` (Node's
//! `cb()`), except `sync_sink_fn_writes`, which measures `from_fn` (a sink
//! that cannot complete later, so the stream skips the `Done`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use highwater::prelude::*;
use highwater::{
    AsyncSink, Done, PassThrough, Pipeline, Readable, ReadableImpl, ReadableOptions, Source,
    Transform, TransformDone, TransformImpl, TransformOptions, Writable, WritableImpl,
    WritableOptions,
};

/// One in-memory case: its name, its default number of operations, and
/// the function that performs `n` of them.
///
/// ```
/// use highwater_bench::cases::CASES;
///
/// let highwater_cases = CASES.iter().filter(|c| c.highwater).count();
/// assert_eq!(highwater_cases, 9);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// The name printed on both sides (Rust and Node).
    pub name: &'static str,
    /// The number of operations of one timed run.
    pub ops: u64,
    /// Performs `n` operations (setup and teardown included).
    pub run: fn(u64),
    /// Whether the case measures highwater (a Rust peer does not).
    pub highwater: bool,
}

/// Writes for the cheapest cases.
const N: u64 = 5_000_000;
/// 64 KiB chunks for the chunk cases.
const CHUNKS: u64 = 500_000;

/// Every case, in the order printed.
///
/// ```
/// use highwater_bench::cases::CASES;
///
/// assert_eq!(CASES[0].name, "sync_sink_fn_writes");
/// ```
pub const CASES: &[Case] = &[
    hw("sync_sink_fn_writes", N, sync_sink_fn),
    hw("sync_sink_impl_writes", N, sync_sink_impl),
    hw("later_sink_writes", N / 5, later_sink),
    hw("next_turn_sink_writes", N / 5, next_turn_sink),
    hw("object_mode_writes", N, object_mode),
    hw("pipe_chunks", CHUNKS, pipe_chunks),
    hw("chain3_chunks", CHUNKS, chain3_chunks),
    hw("fanout3_chunks", CHUNKS, fanout3_chunks),
    hw("object_pipeline_items", N / 5, object_pipeline),
    peer("tokio_mpsc_chain3_chunks", CHUNKS, tokio_mpsc_chain3),
    peer("tokio_mpsc_objects", N, tokio_mpsc_objects),
    peer("futures_mpsc_objects", N, futures_mpsc_objects),
    peer(
        "futures_stream_chain3_chunks",
        CHUNKS,
        futures_stream_chain3,
    ),
];

const fn hw(name: &'static str, ops: u64, run: fn(u64)) -> Case {
    Case {
        name,
        ops,
        run,
        highwater: true,
    }
}

const fn peer(name: &'static str, ops: u64, run: fn(u64)) -> Case {
    Case {
        name,
        ops,
        run,
        highwater: false,
    }
}

/// The case called `name`.
///
/// ```
/// use highwater_bench::cases::find;
///
/// let case = find("chain3_chunks").expect("a case");
/// (case.run)(100); // 100 chunks of 64 KiB through three streams
/// assert!(find("no_such_case").is_none());
/// ```
pub fn find(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

fn small() -> Bytes {
    Bytes::from_static(&[b'x'; 64])
}

fn big() -> Bytes {
    Bytes::from(vec![0u8; 64 * 1024])
}

const MARK_256K: usize = 256 * 1024;

fn sync_sink_fn(n: u64) {
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    let chunk = small();
    for _ in 0..n {
        let _ = w.write(chunk.clone());
    }
    highwater::run_until_idle();
}

/// Completes every write inside `write` (Node's `cb()` in `_write`).
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions};
/// use highwater_bench::cases::SyncOk;
///
/// let w = Writable::new(WritableOptions::objects(), SyncOk);
/// assert!(w.write(7u64));
/// assert_eq!(w.writable_length(), 0); // completed inside the write
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncOk;

impl<T: 'static> WritableImpl<T> for SyncOk {
    fn write(&self, _chunk: T, done: Done) {
        done.ok();
    }
}

fn sync_sink_impl(n: u64) {
    let w = Writable::new(WritableOptions::default(), SyncOk);
    let chunk = small();
    for _ in 0..n {
        let _ = w.write(chunk.clone());
    }
    highwater::run_until_idle();
}

/// A sink that keeps the `Done` of its write for the producer to complete.
#[derive(Clone, Default)]
struct Later(Rc<RefCell<Option<Done>>>);

impl WritableImpl<Bytes> for Later {
    fn write(&self, _chunk: Bytes, done: Done) {
        *self.0.borrow_mut() = Some(done);
    }
}

fn later_sink(total: u64) {
    highwater::block_on(async move {
        let sink = Later::default();
        let w = Writable::new(WritableOptions::default(), sink.clone());
        let chunk = small();
        let mut n = 0;
        while n < total {
            // Write until the buffer is full, then complete in turn, as a
            // sink answering on later turns of the loop would, then one
            // turn of the runtime (Node's twin: `await` a `setImmediate`).
            while n < total && w.write(chunk.clone()) {
                n += 1;
            }
            loop {
                let done = sink.0.borrow_mut().take();
                match done {
                    Some(d) => d.ok(),
                    None => break,
                }
            }
            tokio::task::yield_now().await;
        }
    });
}

/// An async sink whose every write completes on a later turn of the
/// runtime: `yield_now` hands the task's waker to tokio, which wakes it
/// only after it has polled its I/O driver (Node: `setImmediate(cb)`).
struct NextTurnSink;

impl AsyncSink<Bytes> for NextTurnSink {
    async fn write(&mut self, _chunk: Bytes) -> Result<(), highwater::Error> {
        tokio::task::yield_now().await;
        Ok(())
    }
}

fn next_turn_sink(n: u64) {
    highwater::block_on(async move {
        let w = Writable::from_async(WritableOptions::default(), NextTurnSink);
        let chunk = small();
        for _ in 0..n {
            if !w.write(chunk.clone()) {
                let _ = w.drained().await;
            }
        }
        let _ = w.end_async().await;
        assert!(w.writable_finished());
    });
}

fn object_mode(n: u64) {
    let w = Writable::new(WritableOptions::objects(), SyncOk);
    for i in 0..n {
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

fn source(n: u64) -> Readable<Bytes> {
    Readable::new(
        ReadableOptions::default().high_water_mark(MARK_256K),
        Chunks {
            left: Cell::new(n),
            chunk: big(),
        },
    )
}

fn sink_256k() -> Writable<Bytes> {
    Writable::new(
        WritableOptions::default().high_water_mark(MARK_256K),
        SyncOk,
    )
}

fn pipe_chunks(n: u64) {
    let r = source(n);
    let w = sink_256k();
    r.pipe(&w);
    highwater::run_until_idle();
    assert!(w.writable_finished());
}

fn chain3_chunks(n: u64) {
    let r = source(n);
    let t = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(MARK_256K));
    let w = sink_256k();
    r.pipe(&t).pipe(&w);
    highwater::run_until_idle();
    assert!(w.writable_finished());
}

fn fanout3_chunks(n: u64) {
    let r = source(n);
    let ws = [sink_256k(), sink_256k(), sink_256k()];
    for w in &ws {
        r.pipe(w);
    }
    highwater::run_until_idle();
    assert!(ws.iter().all(|w| w.writable_finished()));
}

/// Node's `transform(c, e, cb) { cb(null, c) }`.
struct Identity;

impl TransformImpl<u64, u64> for Identity {
    fn transform(&self, chunk: u64, done: TransformDone<u64>) {
        done.call(Ok(Some(chunk)));
    }
}

fn object_pipeline(n: u64) {
    // Node's `Readable.from` defaults to a mark of 1; its twin passes 16,
    // the object default both sides use everywhere else.
    let src = Readable::from_iter(ReadableOptions::objects().high_water_mark(16), 0..n);
    let t = Transform::new(TransformOptions::objects(), Identity);
    let w = Writable::new(WritableOptions::objects(), SyncOk);
    let ok = Rc::new(Cell::new(false));
    let o = ok.clone();
    Pipeline::new(&src)
        .through(&t)
        .to(&w, move |r| o.set(r.is_ok()));
    highwater::run_until_idle();
    assert!(ok.get());
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn tokio_mpsc_chain3(n: u64) {
    current_thread().block_on(async move {
        let chunk = big();
        let (tx1, mut rx1) = tokio::sync::mpsc::channel::<Bytes>(16);
        let (tx2, mut rx2) = tokio::sync::mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            for _ in 0..n {
                if tx1.send(chunk.clone()).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(c) = rx1.recv().await {
                if tx2.send(c).await.is_err() {
                    break;
                }
            }
        });
        let mut got = 0;
        while let Some(_c) = rx2.recv().await {
            got += 1;
        }
        assert_eq!(got, n);
    });
}

fn tokio_mpsc_objects(n: u64) {
    current_thread().block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(16);
        tokio::spawn(async move {
            for i in 0..n {
                if tx.send(i).await.is_err() {
                    break;
                }
            }
        });
        let mut got = 0;
        while let Some(_i) = rx.recv().await {
            got += 1;
        }
        assert_eq!(got, n);
    });
}

fn futures_mpsc_objects(n: u64) {
    current_thread().block_on(async move {
        let (mut tx, mut rx) = futures::channel::mpsc::channel::<u64>(16);
        tokio::spawn(async move {
            for i in 0..n {
                if tx.send(i).await.is_err() {
                    break;
                }
            }
        });
        let mut got = 0;
        while let Some(_i) = rx.next().await {
            got += 1;
        }
        assert_eq!(got, n);
    });
}

fn futures_stream_chain3(n: u64) {
    let chunk = big();
    let got = futures::executor::block_on(
        futures::stream::iter((0..n).map(move |_| chunk.clone()))
            .map(std::convert::identity)
            .fold(0u64, |k, _c| async move { k + 1 }),
    );
    assert_eq!(got, n);
}
