//! Bad input to the public API: misuse, extreme values and re-entrant calls.
//!
//! Every public entry point must either do what Node does with the same bad
//! input (return `false`, call back or emit `'error'` with Node's error
//! code, ignore it) or, where highwater diverges on purpose, do what its docs
//! say; it must never panic. Each expectation below was checked by running
//! the equivalent JavaScript on Node v20.20.2 (the script is summarised in
//! the test's comment).
//!
//! Groups:
//!
//! * misuse of a Writable: write/end after end, after destroy, after finish;
//!   hook callbacks called twice (`_write`, `_final`, `_transform`,
//!   `_flush`, the construct and destroy hooks);
//! * misuse of a Readable: push after EOF, unshift after `'end'`, push after
//!   destroy;
//! * extreme values: marks of 0 and `usize::MAX`, empty chunks, `read(n)`
//!   with `n` of 0, beyond the buffer, beyond Node's 1 GiB cap; chunks whose
//!   lengths add up past `usize::MAX`;
//! * re-entrancy: calls into a stream from inside its own hooks, callbacks
//!   and listeners (write inside `'drain'`, end inside a write callback,
//!   destroy inside `_write`, write inside `_write` and `_final`, destroy
//!   inside `'error'`/`'close'`/`'data'`, read and unpipe inside `'data'`,
//!   push inside `'end'`, write/end/read inside `_transform`, destroy inside
//!   `_flush`, a chunk's `Drop` reading the stream), where a `RefCell` borrow
//!   held across a call-out would panic;
//! * file streams: `start > end`, unknown flags, positions beyond
//!   JavaScript's safe integers, a huge `highWaterMark`.
//!
//! Not applicable: `ERR_STREAM_NULL_VALUES` (a `null` chunk cannot be
//! written: chunks are typed, and `push(None)` is `push_eof`), and invalid
//! marks (`-1`, `1.5`, `NaN`: a mark is a `usize`; Node throws
//! `ERR_INVALID_ARG_VALUE`).
//!
//! Seven of these tests found bugs when they were written (fs positions
//! beyond 2^53 - 1, a huge read mark, length overflows on both sides, a
//! chunk dropped while the state was borrowed); all are fixed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use highwater::fs::{
    create_read_stream, create_write_stream, ReadStreamOptions, WriteStreamOptions,
};
use highwater::prelude::*;
use highwater::{
    finished, run_until_idle, ByteLen, Callback, Done, Error, Hooks, Pipeline, Readable,
    ReadableImpl, ReadableOptions, Source, Transform, TransformDone, TransformImpl,
    TransformOptions, Writable, WritableEvent, WritableImpl, WritableOptions,
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
    fn ev(&self, name: &str) -> impl Fn() + 'static {
        let (l, name) = (self.clone(), name.to_string());
        move || l.push(name.clone())
    }
    fn err(&self, name: &str) -> impl Fn(&Error) + 'static {
        let (l, name) = (self.clone(), name.to_string());
        move |e: &Error| l.push(format!("{name} {}", e.code()))
    }
    fn cb(&self, name: &str) -> Callback {
        let (l, name) = (self.clone(), name.to_string());
        Callback::once(move |r: Result<(), Error>| l.push(format!("{name} {}", outcome(&r))))
    }
}

fn outcome(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.code().to_string(),
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn opts<T: ByteLen>(hwm: usize) -> WritableOptions<T> {
    WritableOptions::default().high_water_mark(hwm)
}

/// A sink that completes every write synchronously.
struct SyncSink;

impl WritableImpl<Bytes> for SyncSink {
    fn write(&self, _chunk: Bytes, done: Done) {
        done.ok();
    }
}

/// A sink that keeps each write's `Done` until the test completes it.
#[derive(Clone, Default)]
struct Manual(Rc<RefCell<Vec<Done>>>);

impl Manual {
    fn complete(&self) -> bool {
        let d = {
            let mut v = self.0.borrow_mut();
            if v.is_empty() {
                None
            } else {
                Some(v.remove(0))
            }
        };
        d.map(Done::ok).is_some()
    }
}

impl WritableImpl<Bytes> for Manual {
    fn write(&self, _chunk: Bytes, done: Done) {
        self.0.borrow_mut().push(done);
    }
}

/// A writable with the usual listeners logged (`error`, `close`, `finish`).
fn logged_writable(
    o: WritableOptions<Bytes>,
    imp: impl WritableImpl<Bytes>,
    log: &Log,
) -> Writable {
    let w = Writable::new(o, imp);
    w.on_error(log.err("error"));
    w.on_close(log.ev("close"));
    w.on(WritableEvent::Finish, log.ev("finish"));
    w
}

fn pushed(hwm: usize) -> Readable {
    Readable::pushed(ReadableOptions::default().high_water_mark(hwm))
}

// ---------------------------------------------------------------------------
// Writable misuse
// ---------------------------------------------------------------------------

/// Node: `w.end(); w.write('x', cb)` returns false; cb(ERR_STREAM_WRITE_AFTER_END),
/// then 'error' ERR_STREAM_WRITE_AFTER_END.
#[test]
fn write_after_end() {
    let log = Log::default();
    let w = logged_writable(opts(4), SyncSink, &log);
    w.end();
    assert!(!w.write_cb(b("x"), log.cb("cb")));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "cb ERR_STREAM_WRITE_AFTER_END",
            "error ERR_STREAM_WRITE_AFTER_END",
            "close"
        ]
    );
}

/// Node: `w.destroy(); w.write('x', cb)` returns false; 'close', then
/// cb(ERR_STREAM_DESTROYED); no 'error'.
#[test]
fn write_after_destroy() {
    let log = Log::default();
    let w = logged_writable(opts(4), SyncSink, &log);
    w.destroy(None);
    assert!(!w.write_cb(b("x"), log.cb("cb")));
    run_until_idle();
    assert_eq!(log.take(), ["close", "cb ERR_STREAM_DESTROYED"]);
}

/// Node: `end(cb)` after 'finish' calls back ERR_STREAM_ALREADY_FINISHED,
/// with or without autoDestroy, and emits no 'error'.
#[test]
fn end_after_finish() {
    for auto_destroy in [true, false] {
        let log = Log::default();
        let w = logged_writable(opts(4).auto_destroy(auto_destroy), SyncSink, &log);
        w.end();
        run_until_idle();
        assert!(w.writable_finished());
        log.take();
        w.end_with(None, Some(log.cb("cb")));
        run_until_idle();
        assert_eq!(log.take(), ["cb ERR_STREAM_ALREADY_FINISHED"]);
    }
}

/// Node: `destroy(); end(cb)`: the callback is never called (it waits for a
/// 'finish' that cannot come); no 'error'.
#[test]
fn end_after_plain_destroy_never_calls_back() {
    let log = Log::default();
    let w = logged_writable(opts(4), SyncSink, &log);
    w.destroy(None);
    w.end_with(None, Some(log.cb("cb")));
    run_until_idle();
    assert_eq!(log.take(), ["close"]);
}

/// Node: `destroy(EIO); end(cb)`: 'error' EIO, then cb(ERR_STREAM_DESTROYED).
#[test]
fn end_after_destroy_with_error() {
    let log = Log::default();
    let w = logged_writable(opts(4), SyncSink, &log);
    w.destroy(Some(Error::custom("EIO", "EIO")));
    w.end_with(None, Some(log.cb("cb")));
    run_until_idle();
    assert_eq!(
        log.take(),
        ["error EIO", "close", "cb ERR_STREAM_DESTROYED"]
    );
}

/// Node: `end(); end('x', cb)`: 'error' ERR_STREAM_WRITE_AFTER_END, then
/// cb(ERR_STREAM_WRITE_AFTER_END).
#[test]
fn end_with_chunk_after_end() {
    let log = Log::default();
    let w = logged_writable(opts(4), SyncSink, &log);
    w.end();
    w.end_with(Some(b("x")), Some(log.cb("cb")));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "error ERR_STREAM_WRITE_AFTER_END",
            "close",
            "cb ERR_STREAM_WRITE_AFTER_END"
        ]
    );
}

/// Node: `_write` calling `cb(); cb()` synchronously: write() returns false,
/// 'error' ERR_MULTIPLE_CALLBACK, destroyed.
#[test]
fn write_callback_twice_sync() {
    struct Twice;
    impl WritableImpl<Bytes> for Twice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.clone().ok();
            done.ok();
        }
    }
    let log = Log::default();
    let w = logged_writable(opts(4), Twice, &log);
    assert!(!w.write(b("x")));
    run_until_idle();
    assert!(w.destroyed());
    assert_eq!(log.take(), ["error ERR_MULTIPLE_CALLBACK", "close"]);
}

/// Node: a `_write` callback kept and called twice later: 'error'
/// ERR_MULTIPLE_CALLBACK, destroyed.
#[test]
fn write_callback_twice_async() {
    let log = Log::default();
    let sink = Manual::default();
    let w = logged_writable(opts(4), sink.clone(), &log);
    assert!(w.write(b("x")));
    let done = sink.0.borrow_mut().remove(0);
    done.clone().ok();
    done.ok();
    run_until_idle();
    assert!(w.destroyed());
    assert_eq!(log.take(), ["error ERR_MULTIPLE_CALLBACK", "close"]);
}

/// Node: `_final` calling `cb(); cb()`: 'finish' (already due), then 'error'
/// ERR_MULTIPLE_CALLBACK, destroyed.
#[test]
fn final_callback_twice() {
    struct FinalTwice;
    impl WritableImpl<Bytes> for FinalTwice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
        fn hooks(&self) -> Hooks {
            Hooks::FINAL
        }
        fn finish(&self, done: Done) {
            done.clone().ok();
            done.ok();
        }
    }
    let log = Log::default();
    let w = logged_writable(opts(4), FinalTwice, &log);
    w.end();
    run_until_idle();
    assert!(w.destroyed());
    assert_eq!(
        log.take(),
        ["finish", "error ERR_MULTIPLE_CALLBACK", "close"]
    );
}

/// Node: `_construct` calling `cb(); cb()`: 'error' ERR_MULTIPLE_CALLBACK,
/// 'close', destroyed.
#[test]
fn construct_callback_twice() {
    struct ConstructTwice;
    impl WritableImpl<Bytes> for ConstructTwice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
        fn hooks(&self) -> Hooks {
            Hooks::CONSTRUCT
        }
        fn construct(&self, done: Done) {
            done.clone().ok();
            done.ok();
        }
    }
    let log = Log::default();
    let w = logged_writable(opts(4), ConstructTwice, &log);
    run_until_idle();
    assert!(w.destroyed());
    assert_eq!(log.take(), ["error ERR_MULTIPLE_CALLBACK", "close"]);
}

/// Node: `_destroy` calling `cb(err); cb(err)`: the second call is ignored
/// (one 'close', no error).
#[test]
fn destroy_callback_twice() {
    struct DestroyTwice;
    impl WritableImpl<Bytes> for DestroyTwice {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
        fn destroy(&self, _err: Option<Error>, done: Done) {
            done.clone().ok();
            done.ok();
        }
    }
    let log = Log::default();
    let w = logged_writable(opts(4), DestroyTwice, &log);
    w.destroy(None);
    run_until_idle();
    assert_eq!(log.take(), ["close"]);
}

/// Node: `uncork()` on a stream that is not corked does nothing
/// (`writableCorked` stays 0).
#[test]
fn uncork_more_than_corked() {
    let w = Writable::new(opts(4), SyncSink);
    w.uncork();
    w.uncork();
    assert_eq!(w.writable_corked(), 0);
    w.cork();
    w.uncork();
    w.uncork();
    assert_eq!(w.writable_corked(), 0);
    assert!(w.write(b("x")));
}

/// Node: a write in flight when the stream is destroyed completes normally
/// (its cb gets no error, after 'close'); the buffered one gets
/// ERR_STREAM_DESTROYED.
#[test]
fn destroy_with_a_write_in_flight() {
    let log = Log::default();
    let sink = Manual::default();
    let w = logged_writable(opts(4), sink.clone(), &log);
    let _ = w.write_cb(b("a"), log.cb("cb a"));
    let _ = w.write_cb(b("b"), log.cb("cb b"));
    w.destroy(None);
    run_until_idle();
    assert!(sink.complete());
    run_until_idle();
    assert_eq!(w.writable_length(), 0);
    assert_eq!(
        log.take(),
        ["close", "cb a ok", "cb b ERR_STREAM_DESTROYED"]
    );
}

// ---------------------------------------------------------------------------
// Marks and chunk sizes
// ---------------------------------------------------------------------------

/// Node, `highWaterMark: 0`: a write completed synchronously returns true
/// (length is back to 0); one still in flight returns false.
#[test]
fn writable_mark_zero() {
    let w = Writable::new(opts(0), SyncSink);
    assert!(w.write(b("x")));
    assert_eq!(w.writable_length(), 0);
    assert!(!w.writable_need_drain());

    let w = Writable::new(opts(0), Manual::default());
    assert!(!w.write(b("x")));
    assert_eq!(w.writable_length(), 1);
}

/// Node, `highWaterMark: Number.MAX_SAFE_INTEGER`: writes never ask to
/// wait; highwater takes `usize::MAX` the same way (no overflow), in byte
/// and object mode.
#[test]
fn writable_mark_max() {
    let w = Writable::new(opts(usize::MAX), Manual::default());
    for _ in 0..3 {
        assert!(w.write(Bytes::from(vec![0u8; 1000])));
    }
    assert_eq!(w.writable_length(), 3000);
    assert_eq!(w.writable_high_water_mark(), usize::MAX);

    struct Keep(RefCell<Vec<Done>>);
    impl WritableImpl<u32> for Keep {
        fn write(&self, _chunk: u32, done: Done) {
            self.0.borrow_mut().push(done);
        }
    }
    let w = Writable::new(
        WritableOptions::objects().high_water_mark(usize::MAX),
        Keep(RefCell::new(Vec::new())),
    );
    for i in 0..4 {
        assert!(w.write(i));
    }
    assert_eq!(w.writable_length(), 4);
}

/// Node: an empty chunk is handed to `_write` (length 0) and write()
/// returns true.
#[test]
fn empty_chunk_write() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let w = Writable::from_fn(opts(4), move |c: Bytes| {
        s.borrow_mut().push(c.len());
        Ok(())
    });
    assert!(w.write(Bytes::new()));
    assert_eq!(w.writable_length(), 0);
    assert_eq!(*seen.borrow(), [0]);
}

/// Node: `push('')` returns true and buffers nothing; `read()` is null.
#[test]
fn empty_chunk_push() {
    let r = pushed(4);
    assert!(r.push(Bytes::new()));
    assert_eq!(r.readable_length(), 0);
    assert_eq!(r.read(None), None);
}

/// Node, readable `highWaterMark: 0`: `push('x')` returns false and buffers
/// it; `read()` returns it.
#[test]
fn readable_mark_zero() {
    let r = pushed(0);
    assert!(!r.push(b("x")));
    assert_eq!(r.readable_length(), 1);
    assert_eq!(r.read(None), Some(b("x")));
}

/// Node: `read(0)` calls `_read(highWaterMark)` and returns null.
#[test]
fn read_zero_asks_the_source() {
    struct Sizes(Rc<RefCell<Vec<usize>>>);
    impl ReadableImpl<Bytes> for Sizes {
        fn read(&self, size: usize, _src: &Source<Bytes>) {
            self.0.borrow_mut().push(size);
        }
    }
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let r = Readable::new(
        ReadableOptions::default().high_water_mark(4),
        Sizes(sizes.clone()),
    );
    assert_eq!(r.read(Some(0)), None);
    assert_eq!(*sizes.borrow(), [4]);
}

/// Node: `read(n)` with more than is buffered returns null and keeps the
/// buffer (until EOF, when it returns the rest).
#[test]
fn read_more_than_buffered() {
    let r = pushed(2);
    assert!(!r.push(b("abcdef")));
    assert_eq!(r.read(Some(3)), Some(b("abc")));
    assert_eq!(r.readable_length(), 3);
    assert_eq!(r.read(Some(10)), None);
    assert_eq!(r.readable_length(), 3);
    r.push_eof();
    assert_eq!(r.read(Some(10)), Some(b("def")));
}

/// Node: `read(2 ** 30)` raises the mark to exactly 1 GiB and returns null.
#[test]
fn read_one_gib() {
    let r = pushed(4);
    assert_eq!(r.read(Some(1 << 30)), None);
    assert_eq!(r.readable_high_water_mark(), 1 << 30);
}

/// Node: `read(2 ** 30 + 1)` throws ERR_OUT_OF_RANGE. highwater's `read`
/// returns no `Result`: it caps the mark at 1 GiB instead (a documented
/// divergence, see `readable/mod.rs`), for any `n` up to `usize::MAX`.
#[test]
fn read_beyond_one_gib_caps_the_mark() {
    for n in [(1 << 30) + 1, 1 << 40, usize::MAX] {
        let r = pushed(4);
        assert!(r.push(b("ab")));
        assert_eq!(r.read(Some(n)), None);
        assert_eq!(r.readable_high_water_mark(), 1 << 30);
        assert_eq!(r.readable_length(), 2);
        r.push_eof();
        assert_eq!(r.read(Some(n)), Some(b("ab")));
    }
}

/// A chunk that claims a huge length (a "virtual" chunk, say a file range
/// to be sent later). Node's lengths are doubles and cannot overflow.
#[derive(Clone, Debug, PartialEq)]
struct Virtual(usize);

impl highwater::ByteLen for Virtual {
    fn byte_len(&self) -> usize {
        self.0
    }
}

impl highwater::ByteChunk for Virtual {
    fn split_to(&mut self, at: usize) -> Self {
        self.0 -= at;
        Virtual(at)
    }
    fn concat(parts: Vec<Self>, total: usize) -> Self {
        drop(parts);
        Virtual(total)
    }
}

/// Two writes whose lengths add up past `usize::MAX`: each returns false
/// (the buffer is far above the mark); nothing may panic.
#[test]
fn writable_length_overflow() {
    struct Hold(RefCell<Vec<Done>>);
    impl WritableImpl<Virtual> for Hold {
        fn write(&self, _chunk: Virtual, done: Done) {
            self.0.borrow_mut().push(done);
        }
    }
    let w = Writable::new(opts(16), Hold(RefCell::new(Vec::new())));
    let half = usize::MAX / 2 + 1;
    assert!(!w.write(Virtual(half)));
    assert!(!w.write(Virtual(half)));
    assert!(w.writable_length() >= half);
}

/// Two pushes whose lengths add up past `usize::MAX`: each returns false;
/// nothing may panic.
#[test]
fn readable_length_overflow() {
    let r = Readable::<Virtual>::pushed(ReadableOptions::default().high_water_mark(16));
    let half = usize::MAX / 2 + 1;
    assert!(!r.push(Virtual(half)));
    assert!(!r.push(Virtual(half)));
    assert!(r.readable_length() >= half);
}

// ---------------------------------------------------------------------------
// Readable misuse
// ---------------------------------------------------------------------------

/// Node: `push(null); push('x')` returns false; 'error'
/// ERR_STREAM_PUSH_AFTER_EOF; destroyed.
#[test]
fn push_after_eof() {
    let log = Log::default();
    let r = pushed(4);
    r.on_error(log.err("error"));
    r.push_eof();
    assert!(!r.push(b("x")));
    run_until_idle();
    assert!(r.destroyed());
    assert_eq!(log.take(), ["error ERR_STREAM_PUSH_AFTER_EOF"]);
}

/// Node (autoDestroy false): `unshift('x')` after 'end' returns false and
/// emits 'error' ERR_STREAM_UNSHIFT_AFTER_END_EVENT synchronously.
#[test]
fn unshift_after_end_event() {
    let log = Log::default();
    let r = Readable::<Bytes>::pushed(
        ReadableOptions::default()
            .high_water_mark(4)
            .auto_destroy(false),
    );
    r.on_error(log.err("error"));
    r.on_end(log.ev("end"));
    r.resume();
    r.push_eof();
    run_until_idle();
    let ret = r.unshift(b("x"));
    log.push(format!("ret {ret}"));
    run_until_idle();
    assert!(!r.destroyed());
    assert_eq!(
        log.take(),
        [
            "end",
            "error ERR_STREAM_UNSHIFT_AFTER_END_EVENT",
            "ret false"
        ]
    );
}

/// Node (autoDestroy on): the same unshift is silently dropped (the stream
/// is already destroyed after 'end').
#[test]
fn unshift_after_end_event_auto_destroyed() {
    let log = Log::default();
    let r = pushed(4);
    r.on_error(log.err("error"));
    r.resume();
    r.push_eof();
    run_until_idle();
    assert!(!r.unshift(b("x")));
    run_until_idle();
    assert!(log.take().is_empty());
}

/// Node: `destroy(); push('x')` returns false, buffers nothing, no 'error'.
#[test]
fn push_after_destroy() {
    let log = Log::default();
    let r = pushed(4);
    r.on_error(log.err("error"));
    r.destroy(None);
    assert!(!r.push(b("x")));
    assert_eq!(r.readable_length(), 0);
    run_until_idle();
    assert!(log.take().is_empty());
}

// ---------------------------------------------------------------------------
// Transform misuse
// ---------------------------------------------------------------------------

/// A transform whose `_transform` does what the closure says.
struct Tf<F: Fn(Bytes, TransformDone<Bytes>)>(F);

impl<F: Fn(Bytes, TransformDone<Bytes>) + 'static> TransformImpl<Bytes, Bytes> for Tf<F> {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        (self.0)(chunk, done)
    }
}

fn topts(hwm: usize) -> TransformOptions<Bytes, Bytes> {
    TransformOptions::default().high_water_mark(hwm)
}

/// Node: `_transform` calling `cb(null, c); cb(null, c)`: 'error'
/// ERR_MULTIPLE_CALLBACK, destroyed.
#[test]
fn transform_callback_twice() {
    let log = Log::default();
    let t: Transform = Transform::new(
        topts(4),
        Tf(|c, done: TransformDone<Bytes>| {
            done.clone().call(Ok(Some(c.clone())));
            done.call(Ok(Some(c)));
        }),
    );
    t.on_error(log.err("error"));
    let _ = t.write(b("x"));
    run_until_idle();
    assert!(t.destroyed());
    assert_eq!(log.take(), ["error ERR_MULTIPLE_CALLBACK"]);
}

/// Node: `cb(e1); cb(e2)` synchronously: one 'error', and it is
/// ERR_MULTIPLE_CALLBACK (the second call destroys the stream before the
/// first error is reported).
#[test]
fn transform_error_callback_twice() {
    let log = Log::default();
    let t: Transform = Transform::new(
        topts(4),
        Tf(|_c, done: TransformDone<Bytes>| {
            done.clone().call(Err(Error::custom("E1", "e1")));
            done.call(Err(Error::custom("E2", "e2")));
        }),
    );
    t.on_error(log.err("error"));
    let _ = t.write(b("x"));
    run_until_idle();
    assert_eq!(log.take(), ["error ERR_MULTIPLE_CALLBACK"]);
}

/// Node: a `_transform` callback called after the stream was destroyed is
/// ignored (no 'error', no panic).
#[test]
fn transform_callback_after_destroy() {
    let log = Log::default();
    let kept: Rc<RefCell<Option<TransformDone<Bytes>>>> = Rc::default();
    let k = kept.clone();
    let t: Transform = Transform::new(topts(4), Tf(move |_c, done| *k.borrow_mut() = Some(done)));
    t.on_error(log.err("error"));
    t.on_close(log.ev("close"));
    let _ = t.write(b("x"));
    t.destroy(None);
    run_until_idle();
    let done = kept.borrow_mut().take().expect("_transform was called");
    done.call(Ok(Some(b("y"))));
    run_until_idle();
    assert_eq!(log.take(), ["close"]);
}

/// Node: `_flush` calling `cb(null, 'f'); cb(null, 'g')`: data x, data f,
/// then 'error' ERR_STREAM_PUSH_AFTER_EOF, and no 'end'.
#[test]
fn flush_callback_twice() {
    struct FlushTwice;
    impl TransformImpl<Bytes, Bytes> for FlushTwice {
        fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
            done.call(Ok(Some(chunk)));
        }
        fn hooks(&self) -> Hooks {
            Hooks::FLUSH
        }
        fn flush(&self, done: TransformDone<Bytes>) {
            done.clone().call(Ok(Some(b("f"))));
            done.call(Ok(Some(b("g"))));
        }
    }
    let log = Log::default();
    let t: Transform = Transform::new(topts(4), FlushTwice);
    t.on_error(log.err("error"));
    let l = log.clone();
    t.on_data(move |c: &Bytes| l.push(format!("data {}", String::from_utf8_lossy(c))));
    t.on_end(log.ev("end"));
    t.end_with_chunk(b("x"));
    run_until_idle();
    assert_eq!(
        log.take(),
        ["data x", "data f", "error ERR_STREAM_PUSH_AFTER_EOF"]
    );
}

// ---------------------------------------------------------------------------
// finished / pipeline / pipe with streams already done
// ---------------------------------------------------------------------------

/// Node: `finished(w, cb)` on a stream destroyed before: cb(ERR_STREAM_PREMATURE_CLOSE).
#[test]
fn finished_on_destroyed_stream() {
    let log = Log::default();
    let w = Writable::new(opts(4), SyncSink);
    w.destroy(None);
    let l = log.clone();
    finished(&w, move |r| l.push(format!("cb {}", outcome(&r))));
    run_until_idle();
    assert_eq!(log.take(), ["cb ERR_STREAM_PREMATURE_CLOSE"]);
}

/// Node: `pipeline(r, w, cb)` with `w` already destroyed:
/// cb(ERR_STREAM_PREMATURE_CLOSE).
#[test]
fn pipeline_into_destroyed_stream() {
    let log = Log::default();
    let r = pushed(4);
    let w = Writable::new(opts(4), SyncSink);
    w.destroy(None);
    let l = log.clone();
    Pipeline::new(&r).to(&w, move |res| l.push(format!("cb {}", outcome(&res))));
    run_until_idle();
    run_until_idle();
    assert_eq!(log.take(), ["cb ERR_STREAM_PREMATURE_CLOSE"]);
}

/// Node: `r.pipe(w)` with `w` destroyed: nothing is written, no 'error',
/// and the source ends up paused (the destination's 'close' unpipes it).
#[test]
fn pipe_into_destroyed_stream() {
    let log = Log::default();
    let r = pushed(4);
    let w = logged_writable(opts(4), SyncSink, &log);
    w.destroy(None);
    let _ = r.pipe(&w);
    let _ = r.push(b("x"));
    run_until_idle();
    assert_eq!(r.readable_flowing(), Some(false));
    assert_eq!(log.take(), ["close"]);
}

// ---------------------------------------------------------------------------
// Re-entrancy: calls into a stream from its own hooks, callbacks, listeners
// ---------------------------------------------------------------------------

/// Node (manual sink, mark 2): a 'drain' listener that writes again gets
/// false and the next 'drain' comes after the next completion.
#[test]
fn write_inside_drain() {
    let log = Log::default();
    let sink = Manual::default();
    let w = Writable::new(opts(2), sink.clone());
    let n = Rc::new(Cell::new(0));
    {
        let (l, w2, n) = (log.clone(), w.clone(), n.clone());
        w.on(WritableEvent::Drain, move || {
            l.push("drain");
            if n.get() < 2 {
                n.set(n.get() + 1);
                l.push(format!("write in drain {}", w2.write(b("abc"))));
            }
        });
    }
    log.push(format!("first {}", w.write(b("abc"))));
    while sink.complete() {
        log.push("completed");
        run_until_idle();
    }
    assert_eq!(w.writable_length(), 0);
    assert!(!w.writable_need_drain());
    assert_eq!(
        log.take(),
        [
            "first false",
            "drain",
            "write in drain false",
            "completed",
            "drain",
            "write in drain false",
            "completed",
            "drain",
            "completed"
        ]
    );
}

/// Node: `end()` inside a write callback: 'finish' follows.
#[test]
fn end_inside_write_callback() {
    let log = Log::default();
    let w = logged_writable(opts(4), SyncSink, &log);
    let (w2, l) = (w.clone(), log.clone());
    let _ = w.write_cb(
        b("x"),
        Callback::once(move |_| {
            w2.end();
            l.push("ended in cb");
        }),
    );
    run_until_idle();
    assert_eq!(log.take(), ["ended in cb", "finish", "close"]);
}

/// Node: `_write` that destroys its own stream, then calls back: both
/// writes return false; the first callback gets no error, the buffered
/// second one ERR_STREAM_DESTROYED; 'close', no 'error'.
#[test]
fn destroy_inside_write() {
    struct DestroySelf(Rc<RefCell<Option<Writable>>>);
    impl WritableImpl<Bytes> for DestroySelf {
        fn write(&self, _chunk: Bytes, done: Done) {
            let w = self.0.borrow().clone();
            if let Some(w) = w {
                w.destroy(None);
            }
            done.ok();
        }
    }
    let log = Log::default();
    let me: Rc<RefCell<Option<Writable>>> = Rc::default();
    let w = logged_writable(opts(4), DestroySelf(me.clone()), &log);
    *me.borrow_mut() = Some(w.clone());
    log.push(format!("ret {}", w.write_cb(b("x"), log.cb("cb"))));
    log.push(format!("ret2 {}", w.write_cb(b("y"), log.cb("cb2"))));
    run_until_idle();
    me.borrow_mut().take();
    assert_eq!(
        log.take(),
        [
            "ret false",
            "ret2 false",
            "close",
            "cb ok",
            "cb2 ERR_STREAM_DESTROYED"
        ]
    );
}

/// Node: `_write` that writes to its own stream: the inner write is
/// buffered (returns true) and written after the outer one.
#[test]
fn write_inside_write() {
    struct Reenter(Rc<RefCell<Option<Writable>>>, Log);
    impl WritableImpl<Bytes> for Reenter {
        fn write(&self, chunk: Bytes, done: Done) {
            self.1
                .push(format!("_write {}", String::from_utf8_lossy(&chunk)));
            if &chunk[..] == b"out" {
                let w = self.0.borrow().clone();
                if let Some(w) = w {
                    self.1.push(format!("inner ret {}", w.write(b("in"))));
                }
            }
            done.ok();
        }
    }
    let log = Log::default();
    let me: Rc<RefCell<Option<Writable>>> = Rc::default();
    let w = Writable::new(opts(10), Reenter(me.clone(), log.clone()));
    *me.borrow_mut() = Some(w.clone());
    log.push(format!("ret {}", w.write(b("out"))));
    run_until_idle();
    assert_eq!(w.writable_length(), 0);
    me.borrow_mut().take();
    assert_eq!(
        log.take(),
        ["_write out", "inner ret true", "_write in", "ret true"]
    );
}

/// Node: `write()` inside `_final`: returns false, cb(ERR_STREAM_WRITE_AFTER_END),
/// 'error' ERR_STREAM_WRITE_AFTER_END, and no 'finish'.
#[test]
fn write_inside_final() {
    struct WriteInFinal(Rc<RefCell<Option<Writable>>>, Log);
    impl WritableImpl<Bytes> for WriteInFinal {
        fn write(&self, _chunk: Bytes, done: Done) {
            done.ok();
        }
        fn hooks(&self) -> Hooks {
            Hooks::FINAL
        }
        fn finish(&self, done: Done) {
            let w = self.0.borrow().clone();
            if let Some(w) = w {
                let ret = w.write_cb(b("z"), self.1.cb("cb"));
                self.1.push(format!("write ret {ret}"));
            }
            done.ok();
        }
    }
    let log = Log::default();
    let me: Rc<RefCell<Option<Writable>>> = Rc::default();
    let w = logged_writable(opts(4), WriteInFinal(me.clone(), log.clone()), &log);
    *me.borrow_mut() = Some(w.clone());
    w.end();
    run_until_idle();
    me.borrow_mut().take();
    assert_eq!(
        log.take(),
        [
            "write ret false",
            "cb ERR_STREAM_WRITE_AFTER_END",
            "error ERR_STREAM_WRITE_AFTER_END",
            "close"
        ]
    );
}

/// Node (autoDestroy false): `destroy()` inside the 'error' listener: one
/// 'close'.
#[test]
fn destroy_inside_error_listener() {
    let log = Log::default();
    let w = Writable::from_fn(opts(4).auto_destroy(false), |_c: Bytes| {
        Err(Error::msg("boom"))
    });
    let (l, w2) = (log.clone(), w.clone());
    w.on_error(move |e| {
        l.push(format!("error {}", e.code()));
        w2.destroy(None);
    });
    w.on_close(log.ev("close"));
    let _ = w.write(b("x"));
    run_until_idle();
    assert_eq!(log.take(), ["error boom", "close"]);
}

/// Node: `destroy(err)` inside the 'close' listener does nothing more.
#[test]
fn destroy_inside_close_listener() {
    let log = Log::default();
    let w = Writable::new(opts(4), SyncSink);
    let (l, w2) = (log.clone(), w.clone());
    w.on_close(move || {
        l.push("close");
        w2.destroy(Some(Error::msg("x")));
    });
    w.on_error(log.err("error"));
    w.destroy(None);
    run_until_idle();
    assert_eq!(log.take(), ["close"]);
}

/// Node: `destroy()` inside a 'data' listener, with two chunks buffered:
/// the flow loop still emits the second chunk, then 'close'.
#[test]
fn destroy_inside_data_listener() {
    let log = Log::default();
    let r = pushed(4);
    let (l, r2) = (log.clone(), r.clone());
    r.on_data(move |c: &Bytes| {
        l.push(format!("data {}", String::from_utf8_lossy(c)));
        r2.destroy(None);
    });
    r.on_close(log.ev("close"));
    let _ = r.push(b("a"));
    let _ = r.push(b("b"));
    run_until_idle();
    assert_eq!(r.readable_length(), 0);
    assert_eq!(log.take(), ["data a", "data b", "close"]);
}

/// Node: `read()` inside a 'data' listener (3 chunks buffered, mark 8): the
/// inner reads emit 'data' re-entrantly: data a, data b, data c, then the
/// inner reads return null, c, b.
#[test]
fn read_inside_data_listener() {
    let log = Log::default();
    let r = pushed(8);
    let (l, r2) = (log.clone(), r.clone());
    r.on_data(move |c: &Bytes| {
        l.push(format!("data {}", String::from_utf8_lossy(c)));
        let inner = r2.read(None);
        l.push(format!(
            "inner read {}",
            inner.map_or("null".to_string(), |c| String::from_utf8_lossy(&c)
                .into_owned())
        ));
    });
    let _ = r.push(b("a"));
    let _ = r.push(b("b"));
    let _ = r.push(b("c"));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "data a",
            "data b",
            "data c",
            "inner read null",
            "inner read c",
            "inner read b"
        ]
    );
}

/// Node: `push()` inside the 'end' listener returns false and emits
/// ERR_STREAM_PUSH_AFTER_EOF.
#[test]
fn push_inside_end_listener() {
    let log = Log::default();
    let r = pushed(4);
    r.on_error(log.err("error"));
    let (l, r2) = (log.clone(), r.clone());
    r.on_end(move || {
        l.push("end");
        l.push(format!("push ret {}", r2.push(b("y"))));
    });
    r.resume();
    r.push_eof();
    run_until_idle();
    assert_eq!(
        log.take(),
        ["end", "push ret false", "error ERR_STREAM_PUSH_AFTER_EOF"]
    );
}

/// Node: `unpipe(w)` inside a 'data' listener of the piped source: the
/// chunk being emitted is written, the next is not, the source is paused.
#[test]
fn unpipe_inside_data_listener() {
    let log = Log::default();
    let r = pushed(8);
    let l = log.clone();
    let w = Writable::from_fn(opts(8), move |c: Bytes| {
        l.push(format!("_write {}", String::from_utf8_lossy(&c)));
        Ok(())
    });
    let _ = r.pipe(&w);
    let (l, r2, w2) = (log.clone(), r.clone(), w.clone());
    r.on_data(move |_c: &Bytes| {
        r2.unpipe(&w2);
        l.push("unpiped");
    });
    let _ = r.push(b("a"));
    let _ = r.push(b("b"));
    run_until_idle();
    assert_eq!(r.readable_flowing(), Some(false));
    assert_eq!(log.take(), ["_write a", "unpiped"]);
}

/// A transform that can reach its own stream from its hooks.
type Me = Rc<RefCell<Option<Transform>>>;

struct SelfTf {
    me: Me,
    log: Log,
    on_chunk: fn(&Transform, &Log, &Bytes),
    on_flush: Option<fn(&Transform)>,
}

impl SelfTf {
    fn stream(&self) -> Option<Transform> {
        self.me.borrow().clone()
    }
}

impl TransformImpl<Bytes, Bytes> for SelfTf {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        if let Some(t) = self.stream() {
            (self.on_chunk)(&t, &self.log, &chunk);
        }
        done.call(Ok(Some(chunk)));
    }
    fn hooks(&self) -> Hooks {
        if self.on_flush.is_some() {
            Hooks::FLUSH
        } else {
            Hooks::NONE
        }
    }
    fn flush(&self, done: TransformDone<Bytes>) {
        if let (Some(t), Some(f)) = (self.stream(), self.on_flush) {
            f(&t);
        }
        done.call(Ok(Some(b("f"))));
    }
}

fn self_transform(
    hwm: usize,
    log: &Log,
    on_chunk: fn(&Transform, &Log, &Bytes),
    on_flush: Option<fn(&Transform)>,
) -> (Transform, Me) {
    let me: Me = Rc::default();
    let t = Transform::new(
        topts(hwm),
        SelfTf {
            me: me.clone(),
            log: log.clone(),
            on_chunk,
            on_flush,
        },
    );
    *me.borrow_mut() = Some(t.clone());
    t.on_error(log.err("error"));
    t.on_close(log.ev("close"));
    (t, me)
}

fn text(c: Option<Bytes>) -> String {
    c.map_or("null".to_string(), |c| {
        String::from_utf8_lossy(&c).into_owned()
    })
}

/// Node: `write('b')` inside `_transform('a')` returns true and is
/// transformed after 'a'; `read()` then returns "ab".
#[test]
fn write_inside_transform() {
    let log = Log::default();
    let (t, me) = self_transform(
        16,
        &log,
        |t, log, c| {
            log.push(format!("_transform {}", String::from_utf8_lossy(c)));
            if &c[..] == b"a" {
                log.push(format!("inner {}", t.write(b("b"))));
            }
        },
        None,
    );
    log.push(format!("ret {}", t.write(b("a"))));
    run_until_idle();
    log.push(format!("read {}", text(t.read(None))));
    assert_eq!((t.readable_length(), t.writable_length()), (0, 0));
    me.borrow_mut().take();
    assert_eq!(
        log.take(),
        [
            "_transform a",
            "inner true",
            "_transform b",
            "ret true",
            "read ab"
        ]
    );
}

/// Node: `end()` inside `_transform`: data, then 'end', 'finish', 'close'.
#[test]
fn end_inside_transform() {
    let log = Log::default();
    let (t, me) = self_transform(16, &log, |t, _log, _c| t.end(), None);
    let l = log.clone();
    t.on_data(move |c: &Bytes| l.push(format!("data {}", String::from_utf8_lossy(c))));
    t.on_end(log.ev("end"));
    t.on(WritableEvent::Finish, log.ev("finish"));
    log.push(format!("ret {}", t.write(b("a"))));
    run_until_idle();
    me.borrow_mut().take();
    assert_eq!(log.take(), ["data a", "ret true", "end", "finish", "close"]);
}

/// Node: `destroy()` inside `_flush`, which then calls back with a chunk:
/// data x, then only 'close' (no 'end', 'finish', 'error').
#[test]
fn destroy_inside_flush() {
    let log = Log::default();
    let (t, me) = self_transform(16, &log, |_t, _log, _c| {}, Some(|t| t.destroy(None)));
    let l = log.clone();
    t.on_data(move |c: &Bytes| l.push(format!("data {}", String::from_utf8_lossy(c))));
    t.on_end(log.ev("end"));
    t.on(WritableEvent::Finish, log.ev("finish"));
    t.end_with_chunk(b("x"));
    run_until_idle();
    me.borrow_mut().take();
    assert_eq!(log.take(), ["data x", "close"]);
}

/// Node (mark 1): `push(c); read()` inside `_transform`, then `cb(null, c)`:
/// the inner read returns the pushed chunk, `write()` returns false, and the
/// callback's chunk is read afterwards.
#[test]
fn read_inside_transform() {
    let log = Log::default();
    let (t, me) = self_transform(
        1,
        &log,
        |t, log, c| {
            let _ = t.push(c.clone());
            log.push(format!("inner read {}", text(t.read(None))));
        },
        None,
    );
    log.push(format!("ret {}", t.write(b("ab"))));
    run_until_idle();
    log.push(format!("read {}", text(t.read(None))));
    assert_eq!(t.readable_length(), 0);
    me.borrow_mut().take();
    assert_eq!(log.take(), ["inner read ab", "ret false", "read ab"]);
}

/// A byte chunk whose `Drop` looks at the stream it was written to, as a
/// pooled buffer returning itself to a pool might. Dropping buffered chunks
/// must not happen while the stream's state is borrowed.
struct Peek {
    data: Bytes,
    stream: Rc<RefCell<Option<Writable<Peek>>>>,
    seen: Rc<RefCell<Vec<usize>>>,
}

impl highwater::ByteLen for Peek {
    fn byte_len(&self) -> usize {
        self.data.len()
    }
}

impl Drop for Peek {
    fn drop(&mut self) {
        let w = self.stream.borrow().clone();
        if let Some(w) = w {
            self.seen.borrow_mut().push(w.writable_length());
        }
    }
}

/// `destroy()` with a write in flight and two buffered: once the in-flight
/// write completes, the buffer is failed and its chunks dropped, each
/// `Drop` reading `writable_length()`.
#[test]
fn chunk_drop_reads_the_stream_during_destroy() {
    #[derive(Clone, Default)]
    struct Hold(Rc<RefCell<Vec<Done>>>);
    impl WritableImpl<Peek> for Hold {
        fn write(&self, _chunk: Peek, done: Done) {
            self.0.borrow_mut().push(done);
        }
    }
    let cell: Rc<RefCell<Option<Writable<Peek>>>> = Rc::default();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = Hold::default();
    let w = Writable::new(opts(64), sink.clone());
    *cell.borrow_mut() = Some(w.clone());
    for s in ["a", "bb", "ccc"] {
        let _ = w.write(Peek {
            data: b(s),
            stream: cell.clone(),
            seen: seen.clone(),
        });
    }
    // "a" went to the sink (and was dropped there, outside any borrow).
    assert_eq!(seen.borrow().len(), 1);
    w.destroy(None);
    run_until_idle();
    let done = sink.0.borrow_mut().remove(0);
    done.ok();
    run_until_idle();
    assert_eq!(seen.borrow().len(), 3, "the buffered chunks were dropped");
    cell.borrow_mut().take();
}

// ---------------------------------------------------------------------------
// File streams
// ---------------------------------------------------------------------------

/// A scratch folder with `f.txt` ("hello world"), removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("highwater-bad-input-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        std::fs::write(dir.join("f.txt"), b"hello world").expect("f.txt");
        Scratch(dir)
    }
    fn file(&self) -> std::path::PathBuf {
        self.0.join("f.txt")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads a file stream to its end: the data, or the error's code.
fn read_all(opts: ReadStreamOptions, path: &std::path::Path) -> Result<String, String> {
    let r = create_read_stream(path, opts).map_err(|e| format!("throw {}", e.code()))?;
    highwater::block_on(async move {
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        r.on_data(move |c: &Bytes| g.borrow_mut().extend_from_slice(c));
        highwater::finished_async(&r)
            .await
            .map_err(|e| format!("error {}", e.code()))?;
        let v = got.borrow().clone();
        Ok(String::from_utf8_lossy(&v).into_owned())
    })
}

/// Node: `createReadStream(p, {start: 5, end: 2})` throws ERR_OUT_OF_RANGE.
#[test]
fn fs_read_start_after_end() {
    let s = Scratch::new("start-end");
    let o = ReadStreamOptions::default().start(5).end(2);
    assert_eq!(
        read_all(o, &s.file()),
        Err("throw ERR_OUT_OF_RANGE".to_string())
    );
}

/// Node emits 'error' ERR_INVALID_ARG_VALUE for unknown flags (after
/// creation); highwater returns it from the constructor. Same code.
#[test]
fn fs_unknown_flags() {
    let s = Scratch::new("flags");
    let o = ReadStreamOptions::default().flags("q");
    assert_eq!(
        read_all(o, &s.file()),
        Err("throw ERR_INVALID_ARG_VALUE".to_string())
    );
    let w = create_write_stream(
        s.0.join("out.txt"),
        WriteStreamOptions::default().flags("zz"),
    );
    assert_eq!(
        w.map(|_| ()).map_err(|e| e.code().to_string()),
        Err("ERR_INVALID_ARG_VALUE".to_string())
    );
}

/// Node: the largest valid positions (`Number.MAX_SAFE_INTEGER`) work:
/// `end` that far reads the whole file, `start` that far reads nothing;
/// `start` at or past the end of the file reads nothing; `{start: 0, end: 0}`
/// reads one byte.
#[test]
fn fs_read_extreme_but_valid_positions() {
    let s = Scratch::new("positions");
    let max_safe = (1u64 << 53) - 1;
    let read = |start: Option<u64>, end: Option<u64>| {
        let mut o = ReadStreamOptions::default();
        if let Some(start) = start {
            o = o.start(start);
        }
        if let Some(end) = end {
            o = o.end(end);
        }
        read_all(o, &s.file())
    };
    assert_eq!(read(None, Some(max_safe)), Ok("hello world".to_string()));
    assert_eq!(read(Some(max_safe), None), Ok(String::new()));
    assert_eq!(read(Some(11), None), Ok(String::new()));
    assert_eq!(read(Some(20), None), Ok(String::new()));
    assert_eq!(read(Some(0), Some(0)), Ok("h".to_string()));
}

/// Node, `highWaterMark: 0`: `_read(0)` pushes EOF at once: no data, 'end'.
#[test]
fn fs_read_mark_zero() {
    let s = Scratch::new("mark-zero");
    let o = ReadStreamOptions::default().high_water_mark(0);
    assert_eq!(read_all(o, &s.file()), Ok(String::new()));
}

/// Node: `end` above `Number.MAX_SAFE_INTEGER` throws ERR_OUT_OF_RANGE at
/// creation. highwater accepts `end: u64::MAX`, then `_read` computes
/// `end - from + 1`, which overflows (a panic in debug builds; in release it
/// wraps to 0 and the stream ends at once, reading nothing).
#[test]
fn fs_read_end_beyond_safe_integers() {
    let s = Scratch::new("end-max");
    for end in [u64::MAX, 1u64 << 53] {
        let o = ReadStreamOptions::default().end(end);
        assert_eq!(
            read_all(o, &s.file()),
            Err("throw ERR_OUT_OF_RANGE".to_string())
        );
    }
}

/// Node: `start` above `Number.MAX_SAFE_INTEGER` throws ERR_OUT_OF_RANGE at
/// creation (read and write streams).
#[test]
fn fs_start_beyond_safe_integers() {
    let s = Scratch::new("start-max");
    for start in [u64::MAX, 1u64 << 53] {
        let o = ReadStreamOptions::default().start(start);
        assert_eq!(
            read_all(o, &s.file()),
            Err("throw ERR_OUT_OF_RANGE".to_string())
        );
        let w = create_write_stream(
            s.0.join("out.txt"),
            WriteStreamOptions::default().start(start),
        );
        assert_eq!(
            w.map(|_| ()).map_err(|e| e.code().to_string()),
            Err("ERR_OUT_OF_RANGE".to_string())
        );
    }
}

/// The overflow itself, reached through the public API: a write stream
/// whose `start` is `u64::MAX` must fail the write with an error, not panic.
#[test]
fn fs_write_at_u64_max_does_not_panic() {
    let s = Scratch::new("write-max");
    let path = s.0.join("out.txt");
    let res = highwater::block_on(async move {
        let w = create_write_stream(&path, WriteStreamOptions::default().start(u64::MAX))?;
        w.write_async(b("ab")).await?;
        w.end_async().await
    });
    // Node rejects the option (ERR_OUT_OF_RANGE); any error will do here.
    assert!(res.is_err());
}

/// Node: a read stream whose `highWaterMark` is larger than a Buffer can be
/// (above 4 GiB on Node 20) emits 'error' ERR_OUT_OF_RANGE from `_read`.
/// highwater allocates the whole mark for each read: with `usize::MAX` that
/// is a capacity-overflow panic inside `_read`.
#[test]
fn fs_read_huge_mark() {
    let s = Scratch::new("huge-mark");
    let o = ReadStreamOptions::default().high_water_mark(usize::MAX);
    assert_eq!(
        read_all(o, &s.file()),
        Err("error ERR_OUT_OF_RANGE".to_string())
    );
}

/// The messages of the range errors are Node's, word for word (Node 20
/// prints large numbers with `_` separators).
#[test]
fn fs_range_errors_have_nodes_messages() {
    let s = Scratch::new("range-messages");
    let e = create_read_stream(s.file(), ReadStreamOptions::default().start(1 << 53))
        .map(|_| ())
        .expect_err("start out of range");
    assert_eq!(
        e.to_string(),
        "The value of \"start\" is out of range. It must be >= 0 && <= 9007199254740991. \
         Received 9_007_199_254_740_992"
    );
    let e = create_read_stream(s.file(), ReadStreamOptions::default().start(5).end(2))
        .map(|_| ())
        .expect_err("start after end");
    assert_eq!(
        e.to_string(),
        "The value of \"start\" is out of range. It must be <= \"end\" (here: 2). Received 5"
    );
}
