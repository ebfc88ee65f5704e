//! The features highwater has beyond Node (issue 8), each tested so that
//! the test fails without the feature: stream stats, the low-water mark,
//! weighted object mode and the item bound, overflow policies, and fan-out
//! policies. Node's defaults are covered by the conformance scenarios,
//! which all still equal Node's traces with these features compiled in.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use highwater::fanout::{FanOut, Lag};
use highwater::prelude::*;
use highwater::{
    run_until_idle, Done, Overflow, Readable, ReadableImpl, ReadableOptions, Source, Writable,
    WritableEvent, WritableImpl, WritableOptions,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A sink whose writes complete when the test says so.
#[derive(Clone, Default)]
struct Held(Rc<RefCell<VecDeque<(Bytes, Done)>>>);

impl WritableImpl<Bytes> for Held {
    fn write(&self, chunk: Bytes, done: Done) {
        self.0.borrow_mut().push_back((chunk, done));
    }
}

impl Held {
    /// Completes the oldest write; returns its chunk.
    fn complete_one(&self) -> Option<Bytes> {
        let next = self.0.borrow_mut().pop_front();
        next.map(|(c, d)| {
            d.ok();
            c
        })
    }
}

fn counter() -> (Rc<Cell<usize>>, impl Fn() + 'static) {
    let n = Rc::new(Cell::new(0));
    let m = n.clone();
    (n, move || m.set(m.get() + 1))
}

// ---------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------

#[test]
fn writable_stats_count_what_happened() {
    let sink = Held::default();
    let w = Writable::new(WritableOptions::default().high_water_mark(4), sink.clone());
    assert!(w.write(Bytes::from_static(b"ab")));
    assert!(!w.write(Bytes::from_static(b"cdef")));
    assert!(!w.write(Bytes::from_static(b"g")));
    let s = w.writable_stats();
    assert_eq!(s.length, 7);
    assert_eq!(s.items, 3);
    assert_eq!(s.peak_length, 7);
    assert_eq!(s.writes, 3);
    assert_eq!(s.false_returns, 2);
    assert_eq!(s.bytes_in, 7);
    assert_eq!(s.bytes_out, 0);
    assert!(s.need_drain);
    assert!(s.under_backpressure.is_some());
    while sink.complete_one().is_some() {}
    run_until_idle();
    let s = w.writable_stats();
    assert_eq!((s.length, s.items, s.bytes_out, s.drains), (0, 0, 7, 1));
    assert!(!s.need_drain);
    assert!(s.under_backpressure.is_none());
    assert_eq!(s.peak_length, 7, "the peak stays");
}

struct Counted {
    reads: Rc<Cell<usize>>,
}

impl ReadableImpl<Bytes> for Counted {
    fn read(&self, _size: usize, _src: &Source<Bytes>) {
        self.reads.set(self.reads.get() + 1);
    }
}

#[test]
fn readable_stats_count_pushes_reads_and_backpressure() {
    let reads = Rc::new(Cell::new(0));
    let r = Readable::new(
        ReadableOptions::default().high_water_mark(4),
        Counted {
            reads: reads.clone(),
        },
    );
    assert!(r.push(Bytes::from_static(b"ab")));
    assert!(!r.push(Bytes::from_static(b"cde")));
    let s = r.readable_stats();
    assert_eq!((s.length, s.items, s.pushes, s.false_returns), (5, 2, 2, 1));
    assert_eq!((s.bytes_in, s.bytes_out, s.peak_length), (5, 0, 5));
    assert!(s.under_backpressure.is_some());
    assert_eq!(r.read(Some(3)), Some(Bytes::from_static(b"abc")));
    // Below the mark, read() called _read: the source may produce again.
    assert!(reads.get() > 0);
    let s = r.readable_stats();
    assert_eq!((s.length, s.bytes_out), (2, 3));
    assert!(s.under_backpressure.is_none());
}

// ---------------------------------------------------------------------------
// Low-water mark
// ---------------------------------------------------------------------------

/// Writes 2-byte chunks until `write()` says false, then completes them one
/// at a time; returns the buffer length at which `'drain'` came.
fn drain_level(opts: WritableOptions<Bytes>) -> Option<usize> {
    let sink = Held::default();
    let w = Writable::new(opts, sink.clone());
    let at = Rc::new(Cell::new(None));
    let (a, ww) = (at.clone(), w.clone());
    w.on(WritableEvent::Drain, move || {
        a.set(Some(ww.writable_length()))
    });
    while w.write(Bytes::from_static(b"xx")) {}
    while at.get().is_none() && sink.complete_one().is_some() {
        run_until_idle();
    }
    at.get()
}

#[test]
fn drain_comes_at_the_low_water_mark() {
    let opts = WritableOptions::default().high_water_mark(10);
    assert_eq!(drain_level(opts.clone()), Some(0), "Node: drain when empty");
    assert_eq!(drain_level(opts.clone().low_water_mark(4)), Some(4));
    assert_eq!(drain_level(opts.clone().low_water_mark(5)), Some(4));
    // At or above the mark: taken as mark - 1.
    assert_eq!(drain_level(opts.low_water_mark(50)), Some(8));
}

#[test]
fn file_streams_sockets_and_duplexes_take_the_low_water_mark() {
    use highwater::fs::{create_write_stream, WriteStreamOptions};
    use highwater::net::SocketOptions;
    use highwater::{Duplex, DuplexOptions};
    let path = std::env::temp_dir().join(format!("highwater-lwm-{}", std::process::id()));
    let w = create_write_stream(
        &path,
        WriteStreamOptions::default()
            .high_water_mark(64)
            .low_water_mark(16),
    )
    .expect("opens");
    assert_eq!(w.writable_stats().low_water_mark, 16);
    w.destroy(None);
    run_until_idle();
    let _ = std::fs::remove_file(&path);
    let o = SocketOptions::default()
        .writable_high_water_mark(64)
        .writable_low_water_mark(16);
    // The options' fields are private: observed through a socket built with them.
    highwater::block_on(async move {
        let s = highwater::net::Socket::connect("127.0.0.1:9", o);
        assert_eq!(s.writable_stats().low_water_mark, 16);
        assert_eq!(s.writable_high_water_mark(), 64);
        s.destroy(None);
    });
    struct Quiet;
    impl highwater::ReadableImpl<Bytes> for Quiet {
        fn read(&self, _n: usize, _src: &highwater::Source<Bytes>) {}
    }
    impl WritableImpl<Bytes> for Quiet {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.call(Ok(()));
        }
    }
    let d = Duplex::new(
        DuplexOptions::new(
            ReadableOptions::default(),
            WritableOptions::default().low_water_mark(16),
        )
        .writable_high_water_mark(64),
        Quiet,
        Quiet,
    );
    assert_eq!(d.writable_stats().low_water_mark, 16);
}

#[test]
fn low_water_mark_drains_exactly_when_due_and_bounds_the_buffer() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 1000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = (
        1usize..64,
        0usize..64,
        proptest::collection::vec((1usize..20, 0u8..3), 1..120),
    );
    runner
        .run(&strategy, |(hwm, lwm, steps)| {
            let lwm_eff = lwm.min(hwm - 1);
            let sink = Held::default();
            let w = Writable::new(
                WritableOptions::default()
                    .high_water_mark(hwm)
                    .low_water_mark(lwm),
                sink.clone(),
            );
            let drains = Rc::new(RefCell::new(Vec::new()));
            let (d, ww) = (drains.clone(), w.clone());
            w.on(WritableEvent::Drain, move || {
                d.borrow_mut().push(ww.writable_length())
            });
            let mut waiting = false;
            let mut max_chunk = 0;
            for (size, action) in steps {
                if action == 0 || waiting {
                    // The sink completes one write (if any), then the loop turns.
                    let before = drains.borrow().len();
                    let done = sink.complete_one().is_some();
                    run_until_idle();
                    let after = drains.borrow().len();
                    let len = w.writable_length();
                    if waiting && done && len <= lwm_eff {
                        prop_assert_eq!(after, before + 1, "drain due at {}", len);
                        waiting = false;
                    } else {
                        prop_assert_eq!(after, before, "drain not due at {}", len);
                    }
                } else {
                    max_chunk = max_chunk.max(size);
                    let ok = w.write(Bytes::from(vec![0u8; size]));
                    let len = w.writable_length();
                    prop_assert_eq!(ok, len < hwm);
                    prop_assert!(len < hwm + max_chunk);
                    waiting = !ok;
                }
                for &at in drains.borrow().iter() {
                    prop_assert!(at <= lwm_eff);
                }
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Weighted object mode and the item bound
// ---------------------------------------------------------------------------

#[test]
fn weighted_writable_counts_weights_and_items() {
    let sink_items = Rc::new(RefCell::new(Vec::new()));
    let s = sink_items.clone();
    let w = Writable::from_fn(
        WritableOptions::weighted(|v: &Vec<u8>| v.len())
            .high_water_mark(100)
            .max_items(3),
        move |v: Vec<u8>| {
            s.borrow_mut().push(v);
            Ok(())
        },
    );
    w.cork();
    assert!(w.write(vec![0; 10]));
    assert!(w.write(vec![0; 10]));
    // Weight 30 of 100, but the third item reaches the item bound.
    assert!(!w.write(vec![0; 10]));
    assert_eq!(w.writable_length(), 30);
    assert_eq!(w.writable_stats().items, 3);
    w.uncork();
    run_until_idle();
    assert_eq!(sink_items.borrow().len(), 3);
    assert_eq!(w.writable_stats().drains, 1);
    // Weight alone: one heavy item reaches the mark.
    w.cork();
    assert!(!w.write(vec![0; 100]));
    assert_eq!(w.writable_length(), 100);
}

#[test]
fn plain_object_mode_counts_items_not_weights() {
    let w = Writable::from_fn(WritableOptions::objects(), |_v: Vec<u8>| Ok(()));
    w.cork();
    assert!(w.write(vec![0; 100_000]));
    assert_eq!(w.writable_length(), 1);
}

#[test]
fn weighted_readable_and_item_bound() {
    let r = Readable::pushed(
        ReadableOptions::weighted(|s: &String| s.len())
            .high_water_mark(100)
            .max_items(2),
    );
    assert!(r.push("abc".to_string()));
    assert!(!r.push("de".to_string()), "the item bound: 2 items");
    assert_eq!(r.readable_length(), 5);
    assert_eq!(r.read(None), Some("abc".to_string()));
    assert_eq!(r.readable_length(), 2);
    let r = Readable::pushed(ReadableOptions::weighted(|s: &String| s.len()).high_water_mark(4));
    assert!(!r.push("hello".to_string()), "weight 5 over mark 4");
}

// ---------------------------------------------------------------------------
// Overflow policies
// ---------------------------------------------------------------------------

fn live(policy: Overflow) -> Readable<Bytes> {
    Readable::pushed(
        ReadableOptions::default()
            .high_water_mark(4)
            .overflow(policy),
    )
}

#[test]
fn overflow_block_is_nodes_behaviour() {
    let r = live(Overflow::Block);
    for _ in 0..5 {
        r.push(Bytes::from_static(b"ab"));
    }
    assert_eq!(r.readable_length(), 10, "Node buffers past the mark");
    assert_eq!(r.readable_stats().dropped_chunks, 0);
}

#[test]
fn overflow_drop_newest_keeps_the_first_chunks() {
    let r = live(Overflow::DropNewest);
    for b in [&b"ab"[..], b"cd", b"ef", b"gh"] {
        r.push(Bytes::copy_from_slice(b));
    }
    let s = r.readable_stats();
    assert_eq!((s.length, s.dropped_chunks, s.dropped_bytes), (4, 2, 4));
    assert_eq!(r.read(None), Some(Bytes::from_static(b"abcd")));
}

#[test]
fn overflow_drop_oldest_keeps_the_last_chunks() {
    let r = live(Overflow::DropOldest);
    for b in [&b"ab"[..], b"cd", b"ef", b"gh"] {
        r.push(Bytes::copy_from_slice(b));
    }
    let s = r.readable_stats();
    assert_eq!((s.length, s.dropped_chunks, s.dropped_bytes), (4, 2, 4));
    assert_eq!(r.read(None), Some(Bytes::from_static(b"efgh")));
}

#[test]
fn overflow_error_fails_the_stream_with_its_code() {
    let r = live(Overflow::Error);
    let err = Rc::new(RefCell::new(None));
    let e = err.clone();
    r.on_error(move |x| *e.borrow_mut() = Some(x.code().to_string()));
    assert!(r.push(Bytes::from_static(b"abc")));
    r.push(Bytes::from_static(b"de"));
    run_until_idle();
    assert_eq!(err.borrow().as_deref(), Some("ERR_STREAM_OVERFLOW"));
    assert!(r.destroyed());
    assert_eq!(r.readable_stats().overflow_errors, 1);
}

#[test]
fn overflow_limit_can_differ_from_the_mark() {
    let r = Readable::pushed(
        ReadableOptions::default()
            .high_water_mark(2)
            .overflow(Overflow::DropNewest)
            .overflow_limit(6),
    );
    for _ in 0..5 {
        r.push(Bytes::from_static(b"ab"));
    }
    assert_eq!(r.readable_length(), 6);
    assert_eq!(r.readable_stats().dropped_chunks, 2);
}

// ---------------------------------------------------------------------------
// Fan-out
// ---------------------------------------------------------------------------

/// A source of `n` chunks of `size` bytes, numbered in their first byte.
struct Numbered {
    next: Cell<usize>,
    n: usize,
    size: usize,
}

impl ReadableImpl<Bytes> for Numbered {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        let i = self.next.get();
        if i == self.n {
            src.push_eof();
        } else {
            self.next.set(i + 1);
            src.push(Bytes::from(vec![i as u8; self.size]));
        }
    }
}

fn numbered(n: usize, size: usize) -> Readable<Bytes> {
    Readable::new(
        ReadableOptions::default().high_water_mark(4 * size),
        Numbered {
            next: Cell::new(0),
            n,
            size,
        },
    )
}

/// A destination that records what it got (synchronously).
fn recorder(hwm: usize) -> (Writable<Bytes>, Rc<RefCell<Vec<u8>>>) {
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let w = Writable::from_fn(
        WritableOptions::default().high_water_mark(hwm),
        move |c: Bytes| {
            g.borrow_mut().push(c[0]);
            Ok(())
        },
    );
    (w, got)
}

#[test]
fn fan_out_wait_the_slowest_sets_the_pace() {
    const SIZE: usize = 1024;
    let src = numbered(200, SIZE);
    let (fast, fast_got) = recorder(16 * 1024);
    let slow_sink = Held::default();
    let slow = Writable::new(
        WritableOptions::default().high_water_mark(4 * SIZE),
        slow_sink.clone(),
    );
    let fan = FanOut::new(&src);
    fan.add(&fast, Lag::Wait);
    fan.add(&slow, Lag::Wait);
    fan.start();
    run_until_idle();
    let mut slow_got = 0usize;
    let mut steps = 0;
    while !fast.writable_finished() || !slow_sink.0.borrow().is_empty() {
        // The fast one never gets ahead of the slow one by more than the
        // slow one's buffer (its mark plus one chunk).
        let ahead = fast_got.borrow().len() - slow_got;
        assert!(
            ahead * SIZE <= 4 * SIZE + SIZE,
            "fast ran {ahead} chunks ahead"
        );
        assert!(slow.writable_length() <= 5 * SIZE);
        if slow_sink.complete_one().is_some() {
            slow_got += 1;
        }
        run_until_idle();
        steps += 1;
        assert!(steps < 10_000, "no progress");
    }
    assert_eq!(
        *fast_got.borrow(),
        (0..200).map(|i| i as u8).collect::<Vec<_>>()
    );
    assert_eq!(slow_got, 200);
}

#[test]
fn fan_out_drop_bounds_a_lagging_branch_without_stalling_the_others() {
    const SIZE: usize = 1024;
    let src = numbered(200, SIZE);
    let (fast, fast_got) = recorder(16 * 1024);
    let lagging_sink = Held::default();
    let lagging = Writable::new(
        WritableOptions::default().high_water_mark(64 * SIZE),
        lagging_sink.clone(),
    );
    let fan = FanOut::new(&src);
    let f = fan.add(&fast, Lag::Wait);
    let l = fan.add(&lagging, Lag::Drop { max: 8 * SIZE });
    fan.start();
    let mut turns = 0;
    while !fast.writable_finished() {
        assert!(lagging.writable_length() <= 8 * SIZE + SIZE);
        // The lagging sink completes one write every tenth turn.
        if turns % 10 == 0 {
            lagging_sink.complete_one();
        }
        run_until_idle();
        turns += 1;
        assert!(turns < 10_000, "no progress");
    }
    assert_eq!(
        fast_got.borrow().len(),
        200,
        "the Wait branch got everything"
    );
    let ls = fan.branch_stats(l).unwrap();
    assert!(ls.dropped > 0, "the lagging branch dropped chunks");
    assert_eq!(ls.delivered + ls.dropped, 200);
    assert_eq!(fan.branch_stats(f).unwrap().dropped, 0);
}

#[test]
fn fan_out_error_fails_only_the_lagging_branch() {
    const SIZE: usize = 1024;
    let src = numbered(100, SIZE);
    let (fast, fast_got) = recorder(16 * 1024);
    let stuck = Writable::new(WritableOptions::default(), Held::default());
    let code = Rc::new(RefCell::new(None));
    let c = code.clone();
    stuck.on_error(move |e| *c.borrow_mut() = Some(e.code().to_string()));
    let (closed, on_close) = counter();
    stuck.on(WritableEvent::Close, on_close);
    let fan = FanOut::new(&src);
    fan.add(&fast, Lag::Wait);
    let s = fan.add(&stuck, Lag::Error { max: 4 * SIZE });
    fan.start();
    run_until_idle();
    assert!(fast.writable_finished());
    assert_eq!(fast_got.borrow().len(), 100);
    assert_eq!(code.borrow().as_deref(), Some("ERR_STREAM_OVERFLOW"));
    assert_eq!(closed.get(), 1);
    let st = fan.branch_stats(s).unwrap();
    assert!(st.failed);
    assert_eq!(st.delivered, 4);
}
