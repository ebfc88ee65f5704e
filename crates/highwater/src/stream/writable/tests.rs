//! Unit tests of the Writable API, beyond what the conformance scenarios
//! express: typed chunks, default marks, the async conveniences, async
//! sinks, re-entrancy from Rust closures, listeners and callback identity.
//!
//! Every expected order below was checked against Node v20.20.2 with the
//! equivalent JavaScript (quoted in the comments where it helps).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;

use crate::prelude::*;
use crate::{
    block_on, default_high_water_mark, next_tick, run_until_idle, set_default_high_water_mark,
    spawn, AsyncSink, ByteLen, Callback, Done, Error, ErrorKind, Hooks, SharedCallback, Writable,
    WritableEvent, WritableImpl, WritableOptions, DEFAULT_BYTE_HIGH_WATER_MARK,
    DEFAULT_OBJECT_HIGH_WATER_MARK,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// An ordered record of what happened.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    /// A listener that logs `name`.
    fn ev(&self, name: &'static str) -> impl Fn() + 'static {
        let l = self.clone();
        move || l.push(name)
    }

    /// A write/end callback that logs `name` and the outcome.
    fn cb(&self, name: &'static str) -> impl FnOnce(Result<(), Error>) + 'static {
        let l = self.clone();
        move |r| l.push(format!("{name} {}", outcome(&r)))
    }
}

fn outcome(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.code().to_string(),
    }
}

/// Logs `'prefinish'`, `'finish'`, `'close'` and `'error'` (with its code).
fn listen<T: 'static>(w: &Writable<T>, log: &Log) {
    w.on(WritableEvent::Prefinish, log.ev("prefinish"));
    w.on(WritableEvent::Finish, log.ev("finish"));
    w.on(WritableEvent::Close, log.ev("close"));
    let l = log.clone();
    w.on_error(move |e| l.push(format!("error {}", e.code())));
}

/// Counts the emissions of `ev`.
fn count<T: 'static>(w: &Writable<T>, ev: WritableEvent) -> Rc<Cell<usize>> {
    let n = Rc::new(Cell::new(0));
    let n2 = n.clone();
    w.on(ev, move || n2.set(n2.get() + 1));
    n
}

/// A sink that holds each write until the test completes it by hand, like a
/// `_write` that stores its callback. Logs `sink <chunk>` when it gets one.
struct Held<T> {
    pending: Rc<RefCell<VecDeque<(T, Done)>>>,
    log: Log,
}

impl<T> Clone for Held<T> {
    fn clone(&self) -> Self {
        Held {
            pending: self.pending.clone(),
            log: self.log.clone(),
        }
    }
}

impl<T> Held<T> {
    fn new() -> Self {
        Held::logging(&Log::default())
    }

    fn logging(log: &Log) -> Self {
        Held {
            pending: Rc::default(),
            log: log.clone(),
        }
    }

    fn in_flight(&self) -> usize {
        self.pending.borrow().len()
    }

    fn pop(&self) -> (T, Done) {
        // The borrow ends with this statement, before `Done` re-enters.
        let next = self.pending.borrow_mut().pop_front();
        next.expect("a write is in flight")
    }

    /// Completes the oldest write successfully; returns its chunk.
    fn complete(&self) -> T {
        let (chunk, done) = self.pop();
        done.ok();
        chunk
    }

    /// Fails the oldest write with `e`.
    fn fail(&self, e: Error) -> T {
        let (chunk, done) = self.pop();
        done.err(e);
        chunk
    }
}

impl<T: fmt::Debug + 'static> WritableImpl<T> for Held<T> {
    fn write(&self, chunk: T, done: Done) {
        self.log.push(format!("sink {chunk:?}"));
        self.pending.borrow_mut().push_back((chunk, done));
    }
}

/// A synchronous sink that logs each call, with optional `writev`/`final_`.
struct SyncSink {
    log: Log,
    writev: bool,
    final_: bool,
}

impl SyncSink {
    fn new(log: &Log) -> Self {
        SyncSink {
            log: log.clone(),
            writev: false,
            final_: false,
        }
    }
}

impl WritableImpl<&'static str> for SyncSink {
    fn write(&self, chunk: &'static str, done: Done) {
        self.log.push(format!("write {chunk}"));
        done.ok();
    }
    fn writev(&self, chunks: Vec<&'static str>, done: Done) {
        self.log.push(format!("writev {}", chunks.join(",")));
        done.ok();
    }
    fn hooks(&self) -> Hooks {
        let mut h = Hooks::NONE;
        if self.writev {
            h = h | Hooks::WRITEV;
        }
        if self.final_ {
            h = h | Hooks::FINAL;
        }
        h
    }
    fn finish(&self, done: Done) {
        self.log.push("final");
        done.ok();
    }
}

/// A slot through which a sink built before its stream can reach it.
type StreamSlot<T> = Rc<RefCell<Option<Writable<T>>>>;

fn stream_of<T: 'static>(slot: &StreamSlot<T>) -> Writable<T> {
    slot.borrow().clone().expect("stream installed")
}

/// The default marks are process-wide: the tests that change them, or rely on
/// them, take this lock.
static DEFAULT_MARKS: Mutex<()> = Mutex::new(());

fn default_marks_lock() -> MutexGuard<'static, ()> {
    DEFAULT_MARKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Debug, PartialEq)]
struct Row {
    id: u32,
    name: &'static str,
}

fn row(id: u32) -> Row {
    Row { id, name: "row" }
}

// ---------------------------------------------------------------------------
// Typed chunks and marks
// ---------------------------------------------------------------------------

#[test]
fn object_mode_default_mark_is_16_items_fifteen_trues_then_false() {
    let _marks = default_marks_lock();
    let sink = Held::<Row>::new();
    let w = Writable::new(WritableOptions::objects(), sink.clone());
    let drains = count(&w, WritableEvent::Drain);
    assert!(w.writable_object_mode());
    assert_eq!(w.writable_high_water_mark(), DEFAULT_OBJECT_HIGH_WATER_MARK);
    assert_eq!(w.writable_high_water_mark(), 16);

    let results: Vec<bool> = (0..16).map(|i| w.write(row(i))).collect();
    assert_eq!(results[..15], [true; 15]);
    assert!(!results[15], "the 16th item reaches the mark");
    assert_eq!(w.writable_length(), 16, "one in flight, fifteen buffered");
    assert!(w.writable_need_drain());
    assert_eq!(sink.in_flight(), 1);

    // Each completion hands the next item over, in order, one at a time.
    for i in 0..16u32 {
        assert_eq!(sink.complete(), row(i));
        assert_eq!(w.writable_length(), 15 - i as usize);
    }
    assert_eq!(drains.get(), 1);
    assert!(!w.writable_need_drain());
    run_until_idle();
}

#[test]
fn from_fn_object_accepts_a_struct_type_and_never_backpressures_when_sync() {
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let w = Writable::from_fn(
        WritableOptions::objects().high_water_mark(2),
        move |r: Row| {
            g.borrow_mut().push(r.id);
            Ok(())
        },
    );
    assert!(w.writable_object_mode());
    assert_eq!(w.writable_high_water_mark(), 2);
    // A sink that completes synchronously brings the length back to 0 before
    // write() compares it with the mark.
    for i in 0..5 {
        assert!(w.write(row(i)));
        assert_eq!(w.writable_length(), 0);
    }
    w.end();
    run_until_idle();
    assert_eq!(*got.borrow(), [0, 1, 2, 3, 4]);
    assert!(w.writable_finished());
}

#[test]
fn object_mode_option_counts_items_even_for_byte_chunks() {
    let sink = Held::<Vec<u8>>::new();
    let w = Writable::new(WritableOptions::objects().high_water_mark(2), sink.clone());
    assert!(w.writable_object_mode());
    assert!(w.write(vec![0; 1000]), "1 item < 2, whatever its size");
    assert_eq!(w.writable_length(), 1);
    assert!(!w.write(vec![]), "an empty chunk still counts 1");
    assert_eq!(w.writable_length(), 2);
    assert_eq!(sink.complete().len(), 1000);
    assert_eq!(sink.complete().len(), 0);
    assert_eq!(w.writable_length(), 0);
    run_until_idle();
}

/// Writes `a` then `b` to a held byte stream of mark 10; returns what
/// `write()` said and the length after each.
fn byte_counts<T: ByteLen + fmt::Debug + 'static>(a: T, b: T) -> (bool, usize, bool, usize) {
    let sink = Held::<T>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(10), sink.clone());
    assert!(!w.writable_object_mode());
    let first = w.write(a);
    let l1 = w.writable_length();
    let second = w.write(b);
    let l2 = w.writable_length();
    sink.complete();
    sink.complete();
    assert_eq!(w.writable_length(), 0);
    run_until_idle();
    (first, l1, second, l2)
}

#[test]
fn byte_chunk_types_count_their_bytes() {
    assert_eq!(
        byte_counts(vec![1u8; 4], vec![2u8; 6]),
        (true, 4, false, 10)
    );
    assert_eq!(
        byte_counts(Bytes::from_static(b"abcd"), Bytes::from_static(b"efghi")),
        (true, 4, true, 9)
    );
    assert_eq!(
        byte_counts(BytesMut::from(&b"abcdefghi"[..]), BytesMut::from(&b"j"[..])),
        (true, 9, false, 10)
    );
    // A String counts its UTF-8 bytes, not its chars: "é€" is 2 chars, 5 bytes.
    assert_eq!(
        byte_counts("é€".to_string(), "abcde".to_string()),
        (true, 5, false, 10)
    );
    assert_eq!(byte_counts("ab", "€€€"), (true, 2, false, 11));
    assert_eq!(
        byte_counts(&b"12345678901"[..], &b""[..]),
        (false, 11, false, 11),
        "a first chunk above the mark already says stop; an empty one adds 0"
    );
    assert_eq!(
        byte_counts(
            vec![0u8; 3].into_boxed_slice(),
            vec![0u8; 3].into_boxed_slice()
        ),
        (true, 3, true, 6)
    );
}

/// A framed chunk whose on-the-wire size includes a 4-byte header.
#[derive(Debug)]
struct Frame(Vec<u8>);

impl ByteLen for Frame {
    fn byte_len(&self) -> usize {
        self.0.len() + 4
    }
}

#[test]
fn a_custom_byte_len_type_counts_what_it_says() {
    assert_eq!(
        byte_counts(Frame(vec![0; 2]), Frame(vec![0; 1])),
        (true, 6, false, 11)
    );
}

#[test]
fn set_default_high_water_mark_changes_only_streams_created_afterwards() {
    let _marks = default_marks_lock();
    /// Restores Node 20's defaults even if an assertion fails.
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            set_default_high_water_mark(false, DEFAULT_BYTE_HIGH_WATER_MARK);
            set_default_high_water_mark(true, DEFAULT_OBJECT_HIGH_WATER_MARK);
        }
    }

    assert_eq!(
        DEFAULT_BYTE_HIGH_WATER_MARK, 16384,
        "Node 20's byte default"
    );
    assert_eq!(default_high_water_mark(false), 16384);
    assert_eq!(default_high_water_mark(true), 16);
    let old_bytes = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    let old_objects = Writable::from_fn(WritableOptions::objects(), |_: u32| Ok(()));
    assert_eq!(old_bytes.writable_high_water_mark(), 16384);
    assert_eq!(old_objects.writable_high_water_mark(), 16);

    let bytes_sink = Held::<Bytes>::new();
    let objects_sink = Held::<u32>::new();
    let items_sink = Held::<Bytes>::new();
    {
        let _restore = Restore;
        set_default_high_water_mark(false, 3);
        set_default_high_water_mark(true, 2);
        assert_eq!(default_high_water_mark(false), 3);
        assert_eq!(default_high_water_mark(true), 2);

        let b = Writable::new(WritableOptions::default(), bytes_sink.clone());
        let o = Writable::new(WritableOptions::objects(), objects_sink.clone());
        let i = Writable::new(WritableOptions::objects(), items_sink.clone());
        let explicit =
            Writable::from_fn(WritableOptions::default().high_water_mark(7), |_: Bytes| {
                Ok(())
            });

        assert_eq!(b.writable_high_water_mark(), 3);
        assert!(b.write(Bytes::from_static(b"ab")));
        assert!(
            !b.write(Bytes::from_static(b"c")),
            "3 bytes reach the new mark"
        );
        assert_eq!(o.writable_high_water_mark(), 2);
        assert!(o.write(1));
        assert!(!o.write(2));
        assert_eq!(
            i.writable_high_water_mark(),
            2,
            "object_mode takes the object default"
        );
        assert_eq!(
            explicit.writable_high_water_mark(),
            7,
            "an explicit mark wins"
        );
        // Streams created before keep their marks.
        assert_eq!(old_bytes.writable_high_water_mark(), 16384);
        assert_eq!(old_objects.writable_high_water_mark(), 16);
    }
    assert_eq!(default_high_water_mark(false), DEFAULT_BYTE_HIGH_WATER_MARK);
    assert_eq!(
        default_high_water_mark(true),
        DEFAULT_OBJECT_HIGH_WATER_MARK
    );
    let fresh = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    assert_eq!(fresh.writable_high_water_mark(), 16384);

    bytes_sink.complete();
    bytes_sink.complete();
    objects_sink.complete();
    objects_sink.complete();
    run_until_idle();
}

// ---------------------------------------------------------------------------
// drained(), write_async(), end_async(), finished()
// ---------------------------------------------------------------------------

#[test]
fn drained_is_ready_at_once_when_no_drain_is_pending() {
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(4), sink.clone());
    assert!(matches!(w.drained().now_or_never(), Some(Ok(()))));
    assert!(w.write(Bytes::from_static(b"ab")));
    assert!(
        matches!(w.drained().now_or_never(), Some(Ok(()))),
        "below the mark: nothing to wait for, even with a write in flight"
    );
    assert!(!w.write(Bytes::from_static(b"cd")));
    assert!(
        w.drained().now_or_never().is_none(),
        "4 >= 4: wait for 'drain'"
    );
    sink.complete();
    sink.complete();
    assert!(matches!(w.drained().now_or_never(), Some(Ok(()))));
    run_until_idle();
}

#[test]
fn drained_waits_for_the_drain_and_resumes_after_its_listeners() {
    let log = Log::default();
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(4), sink.clone());
    w.on(WritableEvent::Drain, log.ev("drain"));
    assert!(w.write(Bytes::from_static(b"ab")));
    assert!(!w.write(Bytes::from_static(b"cd")));

    let (w2, l) = (w.clone(), log.clone());
    let task = spawn(async move {
        let r = w2.drained().await;
        l.push(format!("resumed {}", outcome(&r)));
    });
    run_until_idle();
    assert!(!task.is_finished());

    sink.complete(); // 2 bytes left: below the mark, but no 'drain' until empty
    run_until_idle();
    assert!(
        !task.is_finished(),
        "'drain' comes only when the buffer is empty"
    );
    assert!(log.take().is_empty());

    sink.complete();
    assert_eq!(
        log.take(),
        ["drain"],
        "'drain' is emitted inside the completion"
    );
    run_until_idle();
    assert!(task.is_finished());
    assert_eq!(log.take(), ["resumed ok"]);
}

#[test]
fn drained_cannot_miss_a_drain_that_happens_before_it_is_awaited() {
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(1), sink.clone());
    let drains = count(&w, WritableEvent::Drain);

    // Created, never polled, then the drain happens.
    assert!(!w.write(Bytes::from_static(b"a")));
    let early = w.drained();
    sink.complete();
    assert_eq!(drains.get(), 1);
    assert!(matches!(early.now_or_never(), Some(Ok(()))));

    // Polled once (pending), then the drain happens: the waker is woken and
    // the next poll is ready.
    assert!(!w.write(Bytes::from_static(b"b")));
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(w.drained());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert!(!flag.0.load(Ordering::SeqCst));
    sink.complete();
    assert_eq!(drains.get(), 2);
    assert!(
        flag.0.load(Ordering::SeqCst),
        "'drain' wakes the waiting future"
    );
    assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    run_until_idle();
}

/// Makes a held stream need a drain, spawns `drained()`, checks it waits,
/// then runs `kill` and returns what the future resolved to.
fn drained_after(
    opts: WritableOptions<Bytes>,
    kill: impl FnOnce(&Writable<Bytes>, &Held<Bytes>),
) -> Result<(), Error> {
    let sink = Held::<Bytes>::new();
    let w = Writable::new(opts.high_water_mark(2), sink.clone());
    w.on_error(|_| {});
    assert!(w.write(Bytes::from_static(b"a")));
    assert!(!w.write(Bytes::from_static(b"b")));
    let w2 = w.clone();
    let task = spawn(async move { w2.drained().await });
    run_until_idle();
    assert!(!task.is_finished());
    kill(&w, &sink);
    run_until_idle();
    assert!(task.is_finished(), "the stream's end woke the future");
    task.now_or_never().expect("finished")
}

#[test]
fn drained_fails_when_the_stream_is_destroyed_or_errors_while_waiting() {
    let boom = Error::custom("EBOOM", "boom");
    let b = boom.clone();
    let r = drained_after(WritableOptions::default(), move |w, _| w.destroy(Some(b)));
    assert!(r.unwrap_err().same(&boom), "destroy(err): that very error");

    let r = drained_after(WritableOptions::default(), |w, _| w.destroy(None));
    assert_eq!(r.unwrap_err().code(), "ERR_STREAM_DESTROYED");

    let eio = Error::custom("EIO", "disk on fire");
    let e = eio.clone();
    let r = drained_after(WritableOptions::default(), move |_, sink| {
        sink.fail(e);
    });
    assert!(r.unwrap_err().same(&eio), "a sink error fails the waiter");

    // Without auto_destroy the stream is errored, not destroyed: still fails.
    let e = eio.clone();
    let r = drained_after(
        WritableOptions::default().auto_destroy(false),
        move |w, sink| {
            sink.fail(e);
            assert!(!w.destroyed());
        },
    );
    assert!(r.unwrap_err().same(&eio));
}

#[test]
fn write_async_keeps_the_buffer_under_mark_plus_one_chunk_with_a_slow_sink() {
    const MARK: usize = 64;
    const CHUNK: usize = 16;

    struct Slow {
        stream: StreamSlot<Bytes>,
        got: Rc<RefCell<Vec<u8>>>,
        busy: Rc<Cell<bool>>,
        overlaps: Rc<Cell<usize>>,
        /// The stream's length seen each time the sink is handed a chunk.
        peak: Rc<Cell<usize>>,
    }
    impl AsyncSink<Bytes> for Slow {
        async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
            if self.busy.replace(true) {
                self.overlaps.set(self.overlaps.get() + 1);
            }
            let len = stream_of(&self.stream).writable_length();
            self.peak.set(self.peak.get().max(len));
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            self.got.borrow_mut().extend_from_slice(&chunk);
            self.busy.set(false);
            Ok(())
        }
    }

    let slot: StreamSlot<Bytes> = Rc::default();
    let got = Rc::new(RefCell::new(Vec::new()));
    let overlaps = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let sink = Slow {
        stream: slot.clone(),
        got: got.clone(),
        busy: Rc::default(),
        overlaps: overlaps.clone(),
        peak: peak.clone(),
    };
    let expected: Vec<u8> = (0..300u32)
        .flat_map(|i| format!("{i:015}\n").into_bytes())
        .collect();
    let s = slot.clone();
    let drains = block_on(async move {
        let w = Writable::from_async(WritableOptions::default().high_water_mark(MARK), sink);
        *s.borrow_mut() = Some(w.clone());
        let drains = count(&w, WritableEvent::Drain);
        for i in 0..300u32 {
            let chunk = Bytes::from(format!("{i:015}\n"));
            assert_eq!(chunk.len(), CHUNK);
            w.write_async(chunk).await.unwrap();
            let len = w.writable_length();
            // Back from write_async: below the mark (write() said true) or
            // drained (write() said false and we waited for 'drain').
            assert!(len < MARK, "write_async returned with {len} buffered");
        }
        w.end_async().await.unwrap();
        drains.get()
    });
    slot.borrow_mut().take();
    // At most mark - 1 bytes were buffered when the last write() said true,
    // plus the chunk it accepted.
    assert!(peak.get() >= MARK, "the buffer did fill up to the mark");
    assert!(
        peak.get() < MARK + CHUNK,
        "peak {} exceeds mark + one chunk",
        peak.get()
    );
    assert!(drains > 0, "the producer did have to wait");
    assert_eq!(overlaps.get(), 0, "one write at a time");
    assert_eq!(*got.borrow(), expected, "every byte, in order");
}

#[test]
fn write_async_refuses_after_end_and_after_destroy_like_write() {
    block_on(async {
        let log = Log::default();
        let w = Writable::from_fn(
            WritableOptions::default().high_water_mark(16),
            |_: Bytes| Ok(()),
        );
        listen(&w, &log);
        w.end();
        let e = w.write_async(Bytes::from_static(b"x")).await.unwrap_err();
        assert_eq!(e.code(), "ERR_STREAM_WRITE_AFTER_END");
        // As Node's write() after end(): the stream errors with it.
        tokio::task::yield_now().await;
        assert_eq!(
            log.take(),
            ["prefinish", "error ERR_STREAM_WRITE_AFTER_END", "close"],
            "end() emitted 'prefinish' at once; 'finish' never comes"
        );
        assert_eq!(w.errored().unwrap().code(), "ERR_STREAM_WRITE_AFTER_END");

        let w = Writable::from_fn(
            WritableOptions::default().high_water_mark(16),
            |_: Bytes| Ok(()),
        );
        listen(&w, &log);
        w.destroy(None);
        let e = w.write_async(Bytes::from_static(b"x")).await.unwrap_err();
        assert_eq!(e.code(), "ERR_STREAM_DESTROYED");
        tokio::task::yield_now().await;
        assert_eq!(
            log.take(),
            ["close"],
            "no 'error' for a write after destroy"
        );
        assert!(w.errored().is_none());

        // Errored but not destroyed (auto_destroy off): the stored error.
        let boom = Error::msg("boom");
        let b = boom.clone();
        let w = Writable::from_fn(
            WritableOptions::default()
                .high_water_mark(16)
                .auto_destroy(false),
            move |_: Bytes| Err(b.clone()),
        );
        w.on_error(|_| {});
        assert!(!w.write(Bytes::from_static(b"a")));
        let e = w.write_async(Bytes::from_static(b"b")).await.unwrap_err();
        assert!(e.same(&boom));
    });
}

#[test]
fn end_async_resolves_after_finish() {
    let log = Log::default();
    let l = log.clone();
    block_on(async move {
        let sink = Held::<Bytes>::new();
        let w = Writable::new(WritableOptions::default().high_water_mark(16), sink.clone());
        listen(&w, &l);
        assert!(w.write(Bytes::from_static(b"a")));
        let (w2, l2) = (w.clone(), l.clone());
        let ending = spawn(async move {
            let r = w2.end_async().await;
            l2.push(format!("end_async {}", outcome(&r)));
        });
        tokio::task::yield_now().await;
        assert!(w.writable_ended());
        assert!(!ending.is_finished(), "a write is still in flight");
        sink.complete();
        ending.await;
        assert!(w.writable_finished());
    });
    assert_eq!(log.take(), ["prefinish", "finish", "close", "end_async ok"]);
}

#[test]
fn end_async_fails_with_the_sink_error() {
    block_on(async {
        let emitted = Rc::new(RefCell::new(None));
        let eio = Error::custom("EIO", "disk on fire");
        let e = eio.clone();
        let w = Writable::from_fn(
            WritableOptions::default().high_water_mark(16),
            move |_: Bytes| Err(e.clone()),
        );
        let em = emitted.clone();
        w.on_error(move |e| *em.borrow_mut() = Some(e.clone()));
        let r = w.write_async(Bytes::from_static(b"a")).await;
        assert!(r.unwrap_err().same(&eio));
        let r = w.end_async().await;
        assert!(r.unwrap_err().same(&eio));
        tokio::task::yield_now().await; // the 'error' is emitted on a tick
        assert!(emitted.borrow().as_ref().unwrap().same(&eio));
        assert!(!w.writable_finished());
    });
}

#[test]
fn end_async_fails_with_premature_close_on_a_plain_destroy() {
    // Node: `w.destroy(); w.end(cb)` never calls cb. end_async reports it.
    let log = Log::default();
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink.clone());
    w.destroy(None);
    w.end_with(None, Some(log.cb("end cb").into()));
    run_until_idle();
    assert!(
        log.take().is_empty(),
        "as in Node, end(cb) after destroy() is never called back"
    );
    let r = block_on({
        let w = w.clone();
        async move { w.end_async().await }
    });
    assert!(matches!(r.unwrap_err().kind(), ErrorKind::PrematureClose));

    // Destroyed while end_async waits for an in-flight write.
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink.clone());
    assert!(w.write(Bytes::from_static(b"a")));
    let w2 = w.clone();
    let task = spawn(async move { w2.end_async().await });
    run_until_idle();
    assert!(!task.is_finished());
    w.destroy(None);
    run_until_idle();
    let r = task.now_or_never().expect("woken by destroy");
    assert_eq!(r.unwrap_err().code(), "ERR_STREAM_PREMATURE_CLOSE");
    sink.complete();
    run_until_idle();
}

#[test]
fn finished_waits_for_someone_else_to_end() {
    let w = Writable::from_fn(
        WritableOptions::default().high_water_mark(16),
        |_: Bytes| Ok(()),
    );
    let w2 = w.clone();
    let task = spawn(async move { w2.writable_finished_async().await });
    run_until_idle();
    assert!(!task.is_finished(), "finished() does not end the stream");
    assert!(!w.writable_ended());
    w.end();
    run_until_idle();
    assert!(matches!(task.now_or_never(), Some(Ok(()))));
    assert!(
        matches!(w.writable_finished_async().now_or_never(), Some(Ok(()))),
        "already finished"
    );

    let boom = Error::msg("boom");
    let w = Writable::from_fn(
        WritableOptions::default().high_water_mark(16),
        |_: Bytes| Ok(()),
    );
    w.on_error(|_| {});
    w.destroy(Some(boom.clone()));
    assert!(w
        .writable_finished_async()
        .now_or_never()
        .unwrap()
        .unwrap_err()
        .same(&boom));
    run_until_idle();
}

// ---------------------------------------------------------------------------
// Async sinks
// ---------------------------------------------------------------------------

/// Logs each write's start and end, flags overlapping writes, and logs its
/// `finish`. Fails the chunk named in `fail_on`.
struct Probe {
    log: Log,
    busy: Rc<Cell<bool>>,
    overlaps: Rc<Cell<usize>>,
    fail_on: Option<(&'static str, Error)>,
    dropped: Rc<Cell<bool>>,
}

impl Probe {
    fn new(log: &Log) -> Self {
        Probe {
            log: log.clone(),
            busy: Rc::default(),
            overlaps: Rc::default(),
            fail_on: None,
            dropped: Rc::default(),
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

impl AsyncSink<&'static str> for Probe {
    async fn write(&mut self, chunk: &'static str) -> Result<(), Error> {
        if self.busy.replace(true) {
            self.overlaps.set(self.overlaps.get() + 1);
        }
        self.log.push(format!("start {chunk}"));
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        self.log.push(format!("end {chunk}"));
        self.busy.set(false);
        match &self.fail_on {
            Some((c, e)) if *c == chunk => Err(e.clone()),
            _ => Ok(()),
        }
    }

    async fn finish(&mut self) -> Result<(), Error> {
        self.log.push("sink finish start");
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.log.push("sink finish end");
        Ok(())
    }
}

#[test]
fn async_sink_gets_chunks_in_order_one_at_a_time_and_finishes_before_finish() {
    let log = Log::default();
    let probe = Probe::new(&log);
    let (overlaps, dropped) = (probe.overlaps.clone(), probe.dropped.clone());
    let l = log.clone();
    block_on(async move {
        let w = Writable::from_async(WritableOptions::default().high_water_mark(8), probe);
        listen(&w, &l);
        for (c, name) in [("a", "cb a"), ("b", "cb b"), ("c", "cb c"), ("d", "cb d")] {
            assert!(w.write_cb(c, l.cb(name)));
        }
        assert_eq!(w.writable_length(), 4);
        let r = w.end_async().await;
        l.push(format!("end_async {}", outcome(&r)));
    });
    assert_eq!(
        log.take(),
        [
            "start a",
            "end a",
            "cb a ok",
            "start b",
            "end b",
            "cb b ok",
            "start c",
            "end c",
            "cb c ok",
            "start d",
            "end d",
            "cb d ok",
            "sink finish start",
            "sink finish end",
            "prefinish",
            "finish",
            "close",
            "end_async ok",
        ]
    );
    assert_eq!(overlaps.get(), 0);
    assert!(dropped.get(), "the sink is dropped once the stream closed");
}

#[test]
fn async_sink_error_fails_the_write_callback_then_the_buffer_then_emits_error() {
    // Node (async _write error, "c" buffered behind "b"):
    // cb a ok, cb b EIO, cb c EIO, end cb EIO, error EIO, close — all the same error.
    let log = Log::default();
    let eio = Error::custom("EIO", "disk on fire");
    let mut probe = Probe::new(&log);
    probe.fail_on = Some(("b", eio.clone()));
    let l = log.clone();
    let e2 = eio.clone();
    block_on(async move {
        let w = Writable::from_async(WritableOptions::default().high_water_mark(16), probe);
        listen(&w, &l);
        let got = Rc::new(RefCell::new(Vec::new()));
        for c in ["a", "b", "c"] {
            let (l, got) = (l.clone(), got.clone());
            let _ = w.write_cb(c, move |r: Result<(), Error>| {
                l.push(format!("cb {c} {}", outcome(&r)));
                got.borrow_mut().push(r);
            });
        }
        let g = got.clone();
        let lg = l.clone();
        w.end_with(
            None,
            Some(Callback::once(move |r| {
                lg.push(format!("end cb {}", outcome(&r)));
                g.borrow_mut().push(r);
            })),
        );
        let r = w.end_async().await;
        assert!(r.unwrap_err().same(&e2));
        let got = got.borrow();
        assert!(got[0].is_ok());
        for r in &got[1..] {
            assert!(
                r.as_ref().unwrap_err().same(&e2),
                "the very error the sink returned"
            );
        }
    });
    assert_eq!(
        log.take(),
        [
            "start a",
            "end a",
            "cb a ok",
            "start b",
            "end b",
            "cb b EIO",
            "cb c EIO",
            "end cb EIO",
            "error EIO",
            "close",
        ]
    );
}

#[test]
fn destroy_stops_the_async_sink_task() {
    let log = Log::default();
    let probe = Probe::new(&log);
    let dropped = probe.dropped.clone();
    let l = log.clone();
    let d = dropped.clone();
    block_on(async move {
        let w = Writable::from_async(WritableOptions::default().high_water_mark(16), probe);
        listen(&w, &l);
        for (c, name) in [("a", "cb a"), ("b", "cb b"), ("c", "cb c")] {
            let _ = w.write_cb(c, l.cb(name));
        }
        // Let "a" start, then destroy while it is in flight.
        tokio::task::yield_now().await;
        assert_eq!(l.take(), ["start a"]);
        w.destroy(None);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(d.get(), "the task ended and dropped the sink");
    });
    // Node: 'close' first; the in-flight write's callback when it completes,
    // then the buffered ones fail with ERR_STREAM_DESTROYED; no more writes.
    assert_eq!(
        log.take(),
        [
            "close",
            "end a",
            "cb a ok",
            "cb b ERR_STREAM_DESTROYED",
            "cb c ERR_STREAM_DESTROYED",
        ]
    );

    // Destroyed while idle: the task ends at once.
    let log = Log::default();
    let probe = Probe::new(&log);
    let dropped = probe.dropped.clone();
    let w = Writable::from_async(WritableOptions::default(), probe);
    run_until_idle();
    assert!(!dropped.get());
    w.destroy(None);
    run_until_idle();
    assert!(dropped.get());
    assert!(log.take().is_empty());
}

#[test]
fn async_sink_finish_error_fails_end_and_suppresses_finish() {
    struct BadFinish;
    impl AsyncSink<Bytes> for BadFinish {
        async fn write(&mut self, _chunk: Bytes) -> Result<(), Error> {
            Ok(())
        }
        async fn finish(&mut self) -> Result<(), Error> {
            tokio::task::yield_now().await;
            Err(Error::custom("EFLUSH", "flush failed"))
        }
    }
    let log = Log::default();
    let l = log.clone();
    block_on(async move {
        let w = Writable::from_async(WritableOptions::default(), BadFinish);
        listen(&w, &l);
        w.write_async(Bytes::from_static(b"a")).await.unwrap();
        w.end_with(None, Some(l.cb("end cb").into()));
        let r = w.end_async().await;
        assert_eq!(r.unwrap_err().code(), "EFLUSH");
    });
    // Node: a _final error calls the end callbacks, then 'error', then 'close'.
    assert_eq!(log.take(), ["end cb EFLUSH", "error EFLUSH", "close"]);
}

#[test]
fn from_async_object_carries_a_struct_type() {
    struct Rows(Rc<RefCell<Vec<u32>>>);
    impl AsyncSink<Row> for Rows {
        async fn write(&mut self, r: Row) -> Result<(), Error> {
            tokio::task::yield_now().await;
            self.0.borrow_mut().push(r.id);
            Ok(())
        }
    }
    let got = Rc::new(RefCell::new(Vec::new()));
    let sink = Rows(got.clone());
    block_on(async move {
        let w = Writable::from_async(WritableOptions::objects().high_water_mark(2), sink);
        assert!(w.writable_object_mode());
        assert!(w.write(row(0)), "1 item in flight < 2");
        assert!(!w.write(row(1)), "2 items reach the mark");
        for i in 2..10 {
            w.write_async(row(i)).await.unwrap();
            assert!(w.writable_length() < 2);
        }
        w.end_async().await.unwrap();
    });
    assert_eq!(*got.borrow(), (0..10).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// Re-entrancy from Rust closures (no RefCell panic, Node's order)
// ---------------------------------------------------------------------------

#[test]
fn write_inside_a_drain_listener() {
    // Node, `_write` storing its callback, hwm 2, write('z') in 'drain':
    // sink a, w a -> true, w b -> false, sink b, cb a, after done a len 1,
    // drain, sink z, write in drain -> true, cb b, after done b len 1 nd false,
    // cb z, after done z len 0
    let log = Log::default();
    let sink = Held::<&'static str>::logging(&log);
    let w = Writable::new(WritableOptions::default().high_water_mark(2), sink.clone());
    let again = Cell::new(true);
    let (w2, l) = (w.clone(), log.clone());
    w.on(WritableEvent::Drain, move || {
        l.push("drain");
        if again.replace(false) {
            let ok = w2.write_cb("z", l.cb("cb z"));
            l.push(format!("write in drain -> {ok}"));
        }
    });
    let ok = w.write_cb("a", log.cb("cb a"));
    log.push(format!("w a -> {ok}"));
    let ok = w.write_cb("b", log.cb("cb b"));
    log.push(format!("w b -> {ok}"));
    sink.complete();
    log.push(format!("after done a len {}", w.writable_length()));
    sink.complete();
    log.push(format!(
        "after done b len {} nd {}",
        w.writable_length(),
        w.writable_need_drain()
    ));
    sink.complete();
    log.push(format!("after done z len {}", w.writable_length()));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "sink \"a\"",
            "w a -> true",
            "w b -> false",
            "sink \"b\"",
            "cb a ok",
            "after done a len 1",
            "drain",
            "sink \"z\"",
            "write in drain -> true",
            "cb b ok",
            "after done b len 1 nd false",
            "cb z ok",
            "after done z len 0",
        ]
    );
}

#[test]
fn end_inside_a_write_callback() {
    // Node: sink a, sync done, cb a, sink b, final, prefinish, after end,
    // tick1, end cb null, finish, close
    let log = Log::default();
    let mut sink = SyncSink::new(&log);
    sink.final_ = true;
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink);
    listen(&w, &log);
    let (w2, l) = (w.clone(), log.clone());
    let _ = w.write_cb("a", move |r: Result<(), Error>| {
        l.push(format!("cb a {}", outcome(&r)));
        w2.end_with(Some("b"), Some(l.cb("end cb").into()));
        l.push("after end");
    });
    let l = log.clone();
    next_tick(move || l.push("tick1"));
    log.push("sync done");
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "write a",
            "sync done",
            "cb a ok",
            "write b",
            "final",
            "prefinish",
            "after end",
            "tick1",
            "end cb ok",
            "finish",
            "close",
        ]
    );
}

/// A sink that runs `hook` inside its write (before completing it) and,
/// optionally, inside its final.
struct Hooked {
    log: Log,
    on_write: Box<dyn Fn()>,
    on_final: Option<Box<dyn Fn()>>,
}

impl WritableImpl<&'static str> for Hooked {
    fn write(&self, chunk: &'static str, done: Done) {
        self.log.push(format!("write {chunk}"));
        (self.on_write)();
        done.ok();
    }
    fn finish(&self, done: Done) {
        self.log.push("final");
        if let Some(f) = &self.on_final {
            f();
        }
        done.ok();
    }
    fn hooks(&self) -> Hooks {
        if self.on_final.is_some() {
            Hooks::FINAL
        } else {
            Hooks::NONE
        }
    }
}

#[test]
fn destroy_inside_the_write_hook() {
    // Node: sink a, destroyed true, write -> false, write2 -> false,
    // error boom, close, cb a null, cb b ERR_STREAM_DESTROYED,
    // end cb ERR_STREAM_DESTROYED
    let log = Log::default();
    let slot: StreamSlot<&'static str> = Rc::default();
    let (s, l) = (slot.clone(), log.clone());
    let sink = Hooked {
        log: log.clone(),
        on_write: Box::new(move || {
            let w = stream_of(&s);
            w.destroy(Some(Error::msg("boom")));
            l.push(format!("destroyed {}", w.destroyed()));
        }),
        on_final: None,
    };
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink);
    *slot.borrow_mut() = Some(w.clone());
    listen(&w, &log);
    let ok = w.write_cb("a", log.cb("cb a"));
    log.push(format!("write -> {ok}"));
    let ok = w.write_cb("b", log.cb("cb b"));
    log.push(format!("write2 -> {ok}"));
    w.end_with(None, Some(log.cb("end cb").into()));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "write a",
            "destroyed true",
            "write -> false",
            "write2 -> false",
            "error boom",
            "close",
            "cb a ok",
            "cb b ERR_STREAM_DESTROYED",
            "end cb ERR_STREAM_DESTROYED",
        ]
    );
    slot.borrow_mut().take();
}

#[test]
fn destroy_inside_the_final_hook() {
    // Node: sink a, final, sync done, cb a null, end cb ERR_STREAM_DESTROYED,
    // close — no 'prefinish', no 'finish'.
    let log = Log::default();
    let slot: StreamSlot<&'static str> = Rc::default();
    let s = slot.clone();
    let sink = Hooked {
        log: log.clone(),
        on_write: Box::new(|| {}),
        on_final: Some(Box::new(move || stream_of(&s).destroy(None))),
    };
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink);
    *slot.borrow_mut() = Some(w.clone());
    listen(&w, &log);
    let _ = w.write_cb("a", log.cb("cb a"));
    w.end_with(None, Some(log.cb("end cb").into()));
    log.push("sync done");
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "write a",
            "final",
            "sync done",
            "cb a ok",
            "end cb ERR_STREAM_DESTROYED",
            "close",
        ]
    );
    slot.borrow_mut().take();
}

#[test]
fn a_sink_closure_that_writes_to_its_own_stream() {
    // Node, _write calling this.write('echo') once:
    // sink a, inner write -> true, sink echo, outer -> true, len 0,
    // cb echo, cb a, tick
    let log = Log::default();
    let slot: StreamSlot<&'static str> = Rc::default();
    let (s, l) = (slot.clone(), log.clone());
    let once = Cell::new(true);
    let w = Writable::from_fn(
        WritableOptions::default().high_water_mark(16),
        move |c: &'static str| {
            l.push(format!("sink {c}"));
            if once.replace(false) {
                let ok = stream_of(&s).write_cb("echo", l.cb("cb echo"));
                l.push(format!("inner write -> {ok}"));
            }
            Ok(())
        },
    );
    *slot.borrow_mut() = Some(w.clone());
    let ok = w.write_cb("a", log.cb("cb a"));
    log.push(format!("outer -> {ok}"));
    log.push(format!("len {}", w.writable_length()));
    let l = log.clone();
    next_tick(move || l.push("tick"));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "sink a",
            "inner write -> true",
            "sink echo",
            "outer -> true",
            "len 0",
            "cb echo ok",
            "cb a ok",
            "tick",
        ]
    );
    slot.borrow_mut().take();
}

#[test]
fn cork_and_uncork_inside_a_write_callback() {
    // Node: write a, sync done, cb a, corked 1 len 2, writev b,c,
    // uncorked len 0, cb b, cb c, tick from cb a
    let log = Log::default();
    let mut sink = SyncSink::new(&log);
    sink.writev = true;
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink);
    let (w2, l) = (w.clone(), log.clone());
    let _ = w.write_cb("a", move |_: Result<(), Error>| {
        l.push("cb a");
        w2.cork();
        let _ = w2.write_cb("b", l.cb("cb b"));
        let _ = w2.write_cb("c", l.cb("cb c"));
        l.push(format!(
            "corked {} len {}",
            w2.writable_corked(),
            w2.writable_length()
        ));
        w2.uncork();
        l.push(format!("uncorked len {}", w2.writable_length()));
        let l2 = l.clone();
        next_tick(move || l2.push("tick from cb a"));
    });
    log.push("sync done");
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "write a",
            "sync done",
            "cb a",
            "corked 1 len 2",
            "writev b,c",
            "uncorked len 0",
            "cb b ok",
            "cb c ok",
            "tick from cb a",
        ]
    );
}

#[test]
fn uncork_and_end_inside_a_write_callback() {
    // Node: write a, sync done len 2, cb a, writev b,c, uncorked 0 len 0,
    // prefinish, cb b, cb c, end cb, finish
    let log = Log::default();
    let mut sink = SyncSink::new(&log);
    sink.writev = true;
    let w = Writable::new(WritableOptions::default().high_water_mark(16), sink);
    let (w2, l) = (w.clone(), log.clone());
    let _ = w.write_cb("a", move |_: Result<(), Error>| {
        l.push("cb a");
        w2.uncork();
        l.push(format!(
            "uncorked {} len {}",
            w2.writable_corked(),
            w2.writable_length()
        ));
        w2.end_with(None, Some(l.cb("end cb").into()));
    });
    w.cork();
    let _ = w.write_cb("b", log.cb("cb b"));
    let _ = w.write_cb("c", log.cb("cb c"));
    w.on(WritableEvent::Finish, log.ev("finish"));
    w.on(WritableEvent::Prefinish, log.ev("prefinish"));
    log.push(format!("sync done len {}", w.writable_length()));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "write a",
            "sync done len 2",
            "cb a",
            "writev b,c",
            "uncorked 0 len 0",
            "prefinish",
            "cb b ok",
            "cb c ok",
            "end cb ok",
            "finish",
        ]
    );
}

// ---------------------------------------------------------------------------
// Listeners, double callbacks, getters
// ---------------------------------------------------------------------------

#[test]
fn listeners_once_prepend_off_and_counts() {
    let log = Log::default();
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(1), sink.clone());
    let a = w.on(WritableEvent::Drain, log.ev("a"));
    let b = w.once(WritableEvent::Drain, log.ev("b"));
    let _c = w.prepend(WritableEvent::Drain, log.ev("c"));
    assert_eq!(w.listener_count(WritableEvent::Drain), 3);
    assert_eq!(w.listener_count(WritableEvent::Finish), 0);

    let cycle = || {
        assert!(!w.write(Bytes::from_static(b"x")));
        sink.complete();
        log.take()
    };
    assert_eq!(
        cycle(),
        ["c", "a", "b"],
        "prepend runs first; once runs once"
    );
    assert_eq!(w.listener_count(WritableEvent::Drain), 2);
    assert_eq!(cycle(), ["c", "a"]);
    assert!(w.off(a));
    assert!(!w.off(a), "already removed");
    assert!(!w.off(b), "a once listener is gone after its call");
    assert_eq!(w.listener_count(WritableEvent::Drain), 1);
    assert_eq!(cycle(), ["c"]);

    // A listener id finds its listener whatever the event.
    let f = w.on(WritableEvent::Finish, log.ev("finish"));
    assert_eq!(w.listener_count(WritableEvent::Finish), 1);
    assert!(w.off(f));
    assert_eq!(w.listener_count(WritableEvent::Finish), 0);

    // 'error' listeners: listener_count(None).
    let l = log.clone();
    w.on_error(move |e| l.push(format!("e1 {}", e.code())));
    let l = log.clone();
    w.once_error(move |e| l.push(format!("e2 {}", e.code())));
    let l = log.clone();
    let e3 = w.on_error(move |e| l.push(format!("e3 {}", e.code())));
    assert_eq!(w.error_listener_count(), 3);
    assert!(w.off(e3));
    assert_eq!(w.error_listener_count(), 2);
    w.destroy(Some(Error::custom("EX", "x")));
    run_until_idle();
    assert_eq!(log.take(), ["e1 EX", "e2 EX"]);
    assert_eq!(
        w.error_listener_count(),
        1,
        "the once_error listener removed itself"
    );
}

#[test]
fn write_done_called_twice_errors_with_multiple_callback() {
    // Node: write -> false, destroyed true errored ERR_MULTIPLE_CALLBACK,
    // cb a null, error ERR_MULTIPLE_CALLBACK, close
    struct Twice;
    impl WritableImpl<Bytes> for Twice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.clone().ok();
            done.ok();
        }
    }
    let log = Log::default();
    let w = Writable::new(WritableOptions::default().high_water_mark(16), Twice);
    listen(&w, &log);
    let ok = w.write_cb(Bytes::from_static(b"a"), log.cb("cb a"));
    log.push(format!("write -> {ok}"));
    log.push(format!(
        "destroyed {} errored {}",
        w.destroyed(),
        w.errored().unwrap().code()
    ));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "write -> false",
            "destroyed true errored ERR_MULTIPLE_CALLBACK",
            "cb a ok",
            "error ERR_MULTIPLE_CALLBACK",
            "close",
        ]
    );
}

#[test]
fn final_done_called_twice_errors_with_multiple_callback() {
    // Node: final, prefinish, finish, error ERR_MULTIPLE_CALLBACK, close,
    // end cb ERR_MULTIPLE_CALLBACK
    struct FinalTwice(Log);
    impl WritableImpl<Bytes> for FinalTwice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
        fn finish(&self, done: Done) {
            self.0.push("final");
            done.clone().ok();
            done.ok();
        }
        fn hooks(&self) -> Hooks {
            Hooks::FINAL
        }
    }
    let log = Log::default();
    let w = Writable::new(WritableOptions::default(), FinalTwice(log.clone()));
    listen(&w, &log);
    w.end_with(None, Some(log.cb("end cb").into()));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "final",
            "prefinish",
            "finish",
            "error ERR_MULTIPLE_CALLBACK",
            "close",
            "end cb ERR_MULTIPLE_CALLBACK",
        ]
    );
}

#[test]
fn destroy_done_called_twice_counts_once() {
    // Node: _destroy calling cb(one) then cb(two): error one, close.
    struct DestroyTwice;
    impl WritableImpl<Bytes> for DestroyTwice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
        fn destroy(&self, _err: Option<Error>, done: Done) {
            done.clone().err(Error::msg("one"));
            done.err(Error::msg("two"));
        }
    }
    let log = Log::default();
    let w = Writable::new(WritableOptions::default(), DestroyTwice);
    listen(&w, &log);
    w.destroy(None);
    run_until_idle();
    assert_eq!(log.take(), ["error one", "close"]);
    assert_eq!(w.errored().unwrap().code(), "one");
}

/// The getters, as one line like the Node script prints them.
fn getters<T: 'static>(w: &Writable<T>) -> String {
    format!(
        "writable={} aborted={} closed={} destroyed={} errored={} ended={} finished={}",
        w.writable(),
        w.writable_aborted(),
        w.closed(),
        w.destroyed(),
        w.errored()
            .map_or("null".to_string(), |e| e.code().to_string()),
        w.writable_ended(),
        w.writable_finished()
    )
}

#[test]
fn getters_through_the_lifecycles() {
    let log = Log::default();
    let w = Writable::from_fn(
        WritableOptions::default().high_water_mark(16),
        |_: Bytes| Ok(()),
    );
    log.push(format!("fresh: {}", getters(&w)));
    w.end();
    log.push(format!("ended: {}", getters(&w)));
    let (w2, l) = (w.clone(), log.clone());
    w.on(WritableEvent::Finish, move || {
        l.push(format!("finish: {}", getters(&w2)))
    });
    let (w2, l) = (w.clone(), log.clone());
    w.on(WritableEvent::Close, move || {
        l.push(format!("close: {}", getters(&w2)))
    });
    run_until_idle();

    // destroy(err): errored and closed synchronously (the default hook calls back at once).
    let w2 = Writable::from_fn(
        WritableOptions::default().high_water_mark(16),
        |_: Bytes| Ok(()),
    );
    w2.on_error(|_| {});
    w2.destroy(Some(Error::msg("x")));
    log.push(format!("w2 destroyed: {}", getters(&w2)));

    // A sink error without auto_destroy: errored, not destroyed, not closed.
    let w3 = Writable::from_fn(
        WritableOptions::default()
            .high_water_mark(16)
            .auto_destroy(false),
        |_: Bytes| Err(Error::msg("y")),
    );
    w3.on_error(|_| {});
    let _ = w3.write(Bytes::from_static(b"a"));
    log.push(format!("w3 after write: {}", getters(&w3)));

    // A destroy hook that calls back later: closed only then.
    struct LateDestroy(Rc<RefCell<Option<Done>>>);
    impl WritableImpl<Bytes> for LateDestroy {
        fn write(&self, _chunk: Bytes, _done: Done) {}
        fn destroy(&self, _err: Option<Error>, done: Done) {
            *self.0.borrow_mut() = Some(done);
        }
    }
    let pending = Rc::new(RefCell::new(None));
    let w4 = Writable::new(WritableOptions::default(), LateDestroy(pending.clone()));
    let closes = count(&w4, WritableEvent::Close);
    w4.destroy(None);
    log.push(format!("w4 destroy async: {}", getters(&w4)));
    run_until_idle();
    assert_eq!(closes.get(), 0, "no 'close' before the hook calls back");
    let done = pending.borrow_mut().take().expect("destroy hook called");
    done.ok();
    log.push(format!("w4 later: {}", getters(&w4)));
    run_until_idle();
    assert_eq!(closes.get(), 1);

    assert_eq!(
        log.take(),
        [
            "fresh: writable=true aborted=false closed=false destroyed=false errored=null ended=false finished=false",
            "ended: writable=false aborted=false closed=false destroyed=false errored=null ended=true finished=false",
            "finish: writable=false aborted=false closed=false destroyed=false errored=null ended=true finished=true",
            "close: writable=false aborted=false closed=true destroyed=true errored=null ended=true finished=true",
            "w2 destroyed: writable=false aborted=true closed=true destroyed=true errored=x ended=false finished=false",
            "w3 after write: writable=false aborted=true closed=false destroyed=false errored=y ended=false finished=false",
            "w4 destroy async: writable=false aborted=true closed=false destroyed=true errored=null ended=false finished=false",
            "w4 later: writable=false aborted=true closed=true destroyed=true errored=null ended=false finished=false",
        ]
    );
    assert!(w.ptr_eq(&w.clone()));
    assert!(!w.ptr_eq(&w2));
}

// ---------------------------------------------------------------------------
// Callback identity: SharedCallback coalesces, closures do not
// ---------------------------------------------------------------------------

fn sync_stream() -> Writable<&'static str> {
    Writable::from_fn(WritableOptions::default().high_water_mark(16), |_| Ok(()))
}

#[test]
fn a_shared_callback_coalesces_sync_completions_into_one_tick() {
    // Node, one function for all three writes, a nextTick queued between the
    // 2nd and 3rd: shared, shared, shared, tick.
    let log = Log::default();
    let w = sync_stream();
    let l = log.clone();
    let shared = SharedCallback::new(move |r| l.push(format!("shared {}", outcome(&r))));
    assert!(w.write_cb("a", &shared));
    assert!(w.write_cb("b", shared.clone()));
    let l = log.clone();
    next_tick(move || l.push("tick"));
    assert!(w.write_cb("c", &shared));
    run_until_idle();
    assert_eq!(log.take(), ["shared ok", "shared ok", "shared ok", "tick"]);
}

#[test]
fn distinct_closures_get_one_tick_each() {
    // Node, three distinct functions: a, b, tick, c.
    let log = Log::default();
    let w = sync_stream();
    assert!(w.write_cb("a", log.cb("a")));
    assert!(w.write_cb("b", log.cb("b")));
    let l = log.clone();
    next_tick(move || l.push("tick"));
    assert!(w.write_cb("c", log.cb("c")));
    run_until_idle();
    assert_eq!(log.take(), ["a ok", "b ok", "tick", "c ok"]);

    // Two SharedCallbacks with the same code are still two functions.
    let l = log.clone();
    let one = SharedCallback::new(move |_| l.push("one"));
    let l = log.clone();
    let two = SharedCallback::new(move |_| l.push("two"));
    assert!(w.write_cb("a", &one));
    let l = log.clone();
    next_tick(move || l.push("tick"));
    assert!(w.write_cb("b", &two));
    run_until_idle();
    assert_eq!(log.take(), ["one", "tick", "two"]);
}

#[test]
fn a_different_callback_in_between_breaks_the_coalescing() {
    // Node: shared, other, tick, shared, shared.
    let log = Log::default();
    let w = sync_stream();
    let l = log.clone();
    let shared = SharedCallback::new(move |_| l.push("shared"));
    assert!(w.write_cb("a", &shared));
    let l = log.clone();
    assert!(w.write_cb("b", move |_: Result<(), Error>| l.push("other")));
    let l = log.clone();
    next_tick(move || l.push("tick"));
    assert!(w.write_cb("c", &shared));
    assert!(w.write_cb("d", &shared));
    run_until_idle();
    assert_eq!(log.take(), ["shared", "other", "tick", "shared", "shared"]);
}

#[test]
fn a_shared_callback_is_called_once_per_write_and_finish_waits_for_all() {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let shared = SharedCallback::new(move |r| {
        assert!(r.is_ok());
        c.set(c.get() + 1);
    });
    let w = sync_stream();
    let finished_after = Rc::new(Cell::new(None));
    let (c, f) = (calls.clone(), finished_after.clone());
    w.on(WritableEvent::Finish, move || f.set(Some(c.get())));
    for _ in 0..100 {
        assert!(w.write_cb("x", &shared));
    }
    w.end();
    assert_eq!(
        calls.get(),
        0,
        "sync completions call back on the next tick"
    );
    run_until_idle();
    assert_eq!(calls.get(), 100);
    assert_eq!(
        finished_after.get(),
        Some(100),
        "'finish' after every callback"
    );
}

// ---------------------------------------------------------------------------
// Regressions: success after a drain followed by a normal finish
// ---------------------------------------------------------------------------

#[test]
fn drained_resolves_ok_when_the_drain_came_before_a_normal_finish() {
    let sink = Held::<Bytes>::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(1), sink.clone());
    let drains = count(&w, WritableEvent::Drain);
    assert!(!w.write(Bytes::from_static(b"a")));
    let drained = w.drained(); // created while a drain is pending
    sink.complete();
    assert_eq!(drains.get(), 1, "the drain happened");
    w.end();
    run_until_idle(); // 'finish', then autoDestroy: destroyed, 'close'
    assert!(w.writable_finished());
    let r = drained.now_or_never().expect("ready");
    assert!(r.is_ok(), "got {r:?} for a drain that did happen");
}

#[test]
fn write_async_waiting_while_the_stream_is_ended_and_finishes_normally() {
    fn run(auto_destroy: bool) -> Result<(), Error> {
        let sink = Held::<Bytes>::new();
        let w = Writable::new(
            WritableOptions::default()
                .high_water_mark(1)
                .auto_destroy(auto_destroy),
            sink.clone(),
        );
        let w2 = w.clone();
        let producer = spawn(async move { w2.write_async(Bytes::from_static(b"x")).await });
        run_until_idle();
        assert!(!producer.is_finished(), "waiting for 'drain'");
        w.end(); // someone else: no more writes
        sink.complete(); // "x" is written
        run_until_idle();
        assert!(w.writable_finished(), "the stream finished normally");
        producer.now_or_never().expect("woken by 'finish'")
    }
    assert!(run(false).is_ok());
    let r = run(true);
    assert!(
        r.is_ok(),
        "x was written and the stream finished, yet: {r:?}"
    );
}

// ---------------------------------------------------------------------------
// `write_sync` is an optimisation, not a behaviour
// ---------------------------------------------------------------------------

/// A sink that finishes every write inside `write`, through `Done`, and
/// fails the chunks equal to `fail`: Node's synchronous `_write` callback.
struct DoneSink {
    fail: Option<u8>,
    seen: Log,
}

impl WritableImpl<Bytes> for DoneSink {
    fn write(&self, chunk: Bytes, done: Done) {
        self.seen.push(format!("sink {chunk:?}"));
        match self.fail {
            Some(b) if chunk.first() == Some(&b) => done.err(Error::msg("sink failed")),
            _ => done.ok(),
        }
    }
}

#[derive(Clone, Debug)]
enum SyncOp {
    Write(u8, usize),
    WriteCb(u8, usize),
    /// A write from inside the sink closure (re-entrant).
    Cork,
    Uncork,
    End,
    Destroy,
    Tick,
}

fn sync_op() -> impl proptest::strategy::Strategy<Value = SyncOp> {
    use proptest::prelude::*;
    prop_oneof![
        6 => (0u8..8, 0usize..40).prop_map(|(b, n)| SyncOp::Write(b, n)),
        3 => (0u8..8, 0usize..40).prop_map(|(b, n)| SyncOp::WriteCb(b, n)),
        1 => Just(SyncOp::Cork),
        1 => Just(SyncOp::Uncork),
        1 => Just(SyncOp::End),
        1 => Just(SyncOp::Destroy),
        2 => Just(SyncOp::Tick),
    ]
}

/// Runs `ops` on a stream built by `make` and returns everything observable:
/// return values, lengths, `need_drain`, events, callbacks, errors.
fn sync_trace(ops: &[SyncOp], make: impl FnOnce(Log) -> Writable<Bytes>) -> Vec<String> {
    let log = Log::default();
    let w = make(log.clone());
    for (ev, name) in [
        (WritableEvent::Drain, "drain"),
        (WritableEvent::Prefinish, "prefinish"),
        (WritableEvent::Finish, "finish"),
        (WritableEvent::Close, "close"),
    ] {
        w.on(ev, log.ev(name));
    }
    let l = log.clone();
    w.on_error(move |e| l.push(format!("error {e}")));
    for (i, op) in ops.iter().enumerate() {
        match op {
            SyncOp::Write(b, n) => {
                let r = w.write(Bytes::from(vec![*b; *n]));
                log.push(format!("{i} write {r}"));
            }
            SyncOp::WriteCb(b, n) => {
                let l = log.clone();
                let r = w.write_cb(Bytes::from(vec![*b; *n]), move |r: Result<(), Error>| {
                    l.push(format!("cb {i} {}", outcome(&r)))
                });
                log.push(format!("{i} write_cb {r}"));
            }
            SyncOp::Cork => w.cork(),
            SyncOp::Uncork => w.uncork(),
            SyncOp::End => w.end(),
            SyncOp::Destroy => w.destroy(None),
            SyncOp::Tick => run_until_idle(),
        }
        log.push(format!(
            "{i} len {} need_drain {}",
            w.writable_length(),
            w.writable_need_drain()
        ));
    }
    run_until_idle();
    log.take()
}

#[test]
fn write_sync_sinks_behave_as_synchronous_done_sinks() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let config = Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let strategy = (
        1usize..64,
        proptest::option::of(0u8..8),
        proptest::collection::vec(sync_op(), 1..40),
    );
    runner
        .run(&strategy, |(hwm, fail, ops)| {
            let opts = WritableOptions::default().high_water_mark(hwm);
            let with_done = sync_trace(&ops, |seen| {
                Writable::new(opts.clone(), DoneSink { fail, seen })
            });
            let with_sync = sync_trace(&ops, |seen| {
                Writable::from_fn(opts.clone(), move |chunk: Bytes| {
                    seen.push(format!("sink {chunk:?}"));
                    match fail {
                        Some(b) if chunk.first() == Some(&b) => Err(Error::msg("sink failed")),
                        _ => Ok(()),
                    }
                })
            });
            prop_assert_eq!(with_done, with_sync);
            Ok(())
        })
        .unwrap();
}

/// A future polled again and again before its event (as in a `select!`
/// loop) keeps one parked waker, not one per poll.
#[test]
fn repeated_polls_park_one_waker() {
    let sink: Held<Bytes> = Held::new();
    let w = Writable::new(WritableOptions::default().high_water_mark(1), sink);
    assert!(!w.write(Bytes::from_static(b"ab")));
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut drained = pin!(w.drained());
    let mut finished = pin!(w.writable_finished_async());
    for _ in 0..1000 {
        assert!(drained.as_mut().poll(&mut cx).is_pending());
        assert!(finished.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(w.core.ws().borrow().wakers.len(), 1);
}
