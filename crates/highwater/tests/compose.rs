//! `Duplex.from({ readable, writable })`, `stream.compose` and Node 22's
//! `duplexPair()`: ports of Node's tests, plus the error and event orders of
//! Node's `duplexify.js` / `compose.js`, each checked on Node v20.20.2 (and
//! `duplexPair` against Node 22's `lib/internal/streams/duplexpair.js`).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    run_until_idle, Compose, Done, Duplex, DuplexOptions, Error, PassThrough, Readable,
    ReadableImpl, ReadableOptions, Source, Transform, TransformOptions, Writable, WritableEvent,
    WritableImpl, WritableOptions,
};

mod common;
use common::{Calls, Log};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn text(c: &Bytes) -> String {
    String::from_utf8_lossy(c).into_owned()
}

/// Logs `'error'` (by code) and `'close'` of a stream under `name`.
fn watch(log: &Log, name: &str, s: &impl StreamBase) {
    let (l, n) = (log.clone(), name.to_string());
    s.on_error(move |e| l.push(format!("{n}:error:{}", e.code())));
    s.on_close(log.ev(format!("{name}:close")));
}

/// A readable with a no-op `_read` (Node's `new Readable({ read() {} })`).
fn idle_readable() -> Readable<Bytes> {
    Readable::pushed(ReadableOptions::default())
}

/// A writable that logs its writes.
fn logging_writable(log: &Log) -> Writable<Bytes> {
    let l = log.clone();
    Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
        l.push(format!("w:write:{}", text(&c)));
        Ok(())
    })
}

struct Setup {
    log: Log,
    r: Readable<Bytes>,
    w: Writable<Bytes>,
    d: Duplex<Bytes, Bytes>,
}

/// The fixture of the Node script the orders below come from.
fn setup() -> Setup {
    let log = Log::default();
    let r = idle_readable();
    let w = logging_writable(&log);
    watch(&log, "r", &r);
    watch(&log, "w", &w);
    let d = Duplex::from_pair(&r, &w, DuplexOptions::default());
    watch(&log, "d", &d);
    d.on(WritableEvent::Finish, log.ev("d:finish"));
    d.on_end(log.ev("d:end"));
    Setup { log, r, w, d }
}

fn destroyed(s: &Setup) -> (bool, bool, bool) {
    (s.d.destroyed(), s.r.destroyed(), s.w.destroyed())
}

// ---------------------------------------------------------------------------
// duplexify.js: errors and close, both ways
// ---------------------------------------------------------------------------

#[test]
fn duplexify_destroy_without_error_aborts_both_inner_streams() {
    let s = setup();
    s.d.destroy(None);
    run_until_idle();
    assert_eq!(
        s.log.take(),
        [
            "w:error:ABORT_ERR",
            "w:close",
            "r:error:ABORT_ERR",
            "r:close",
            "d:error:ABORT_ERR",
            "d:close"
        ]
    );
    assert_eq!(destroyed(&s), (true, true, true));
}

#[test]
fn duplexify_destroy_with_error_passes_it_to_both() {
    let s = setup();
    s.d.destroy(Some(Error::msg("boom")));
    run_until_idle();
    assert_eq!(
        s.log.take(),
        [
            "w:error:boom",
            "w:close",
            "r:error:boom",
            "r:close",
            "d:error:boom",
            "d:close"
        ]
    );
}

#[test]
fn duplexify_readable_error_destroys_the_whole_but_not_the_writable() {
    // Node destroys the readable (already destroyed) in that branch, not the
    // writable: w stays open.
    let s = setup();
    s.r.destroy(Some(Error::msg("rboom")));
    run_until_idle();
    assert_eq!(
        s.log.take(),
        ["r:error:rboom", "r:close", "d:error:rboom", "d:close"]
    );
    assert_eq!(destroyed(&s), (true, true, false));
}

#[test]
fn duplexify_writable_error_destroys_the_readable_and_the_whole() {
    let s = setup();
    s.w.destroy(Some(Error::msg("wboom")));
    run_until_idle();
    assert_eq!(
        s.log.take(),
        [
            "w:error:wboom",
            "w:close",
            "r:error:wboom",
            "r:close",
            "d:error:wboom",
            "d:close"
        ]
    );
    assert_eq!(destroyed(&s), (true, true, true));
}

#[test]
fn duplexify_inner_premature_close_errors_the_whole() {
    let s = setup();
    s.r.destroy(None);
    run_until_idle();
    assert_eq!(
        s.log.take(),
        ["r:close", "d:error:ERR_STREAM_PREMATURE_CLOSE", "d:close"]
    );
    assert_eq!(destroyed(&s), (true, true, false));
}

#[test]
fn duplexify_normal_flow_event_order() {
    let s = setup();
    let l = s.log.clone();
    s.d.on_data(move |c| l.push(format!("d:data:{}", text(c))));
    assert!(s.d.write(b("x")));
    s.d.end();
    s.r.push(b("y"));
    s.r.push_eof();
    run_until_idle();
    assert_eq!(
        s.log.take(),
        [
            "w:write:x",
            "d:data:y",
            "d:finish",
            "w:close",
            "d:end",
            "r:close",
            "d:close"
        ]
    );
    assert_eq!(destroyed(&s), (true, true, true));
}

#[test]
fn duplexify_destroy_after_finish_aborts_only_the_unfinished_readable() {
    let s = setup();
    s.d.end();
    let d = s.d.clone();
    s.d.on(WritableEvent::Finish, move || d.destroy(None));
    run_until_idle();
    assert_eq!(
        s.log.take(),
        [
            "d:finish",
            "w:close",
            "r:error:ABORT_ERR",
            "r:close",
            "d:close"
        ]
    );
    assert_eq!(destroyed(&s), (true, true, true));
}

#[test]
fn duplexify_write_callback_waits_for_the_inner_drain() {
    // `_write` holds its callback while the inner writable is over its mark.
    let held: Rc<RefCell<Vec<Done>>> = Rc::default();
    struct Slow(Rc<RefCell<Vec<Done>>>);
    impl WritableImpl<Bytes> for Slow {
        fn write(&self, _c: Bytes, done: Done) {
            self.0.borrow_mut().push(done);
        }
    }
    let w = Writable::new(
        WritableOptions::default().high_water_mark(2),
        Slow(held.clone()),
    );
    let d: Duplex<Bytes, Bytes> =
        Duplex::from_writable(&w, DuplexOptions::default().high_water_mark(2));
    let acked = Calls::default();
    let a = acked.clone();
    assert!(!d.write_cb(b("abc"), move |_r: Result<(), Error>| a.hit()));
    run_until_idle();
    // In the inner stream's hands, and the outer callback held.
    assert_eq!(w.writable_length(), 3);
    assert_eq!(acked.get(), 0);
    assert_eq!(d.writable_length(), 3);
    let done = held.borrow_mut().pop();
    done.expect("the inner write was started").ok();
    run_until_idle();
    assert_eq!(acked.get(), 1, "released by the inner 'drain'");
    assert_eq!(d.writable_length(), 0);
}

#[test]
fn duplexify_reads_respect_the_outer_mark() {
    // `_read` stops pushing once the outer buffer is full; the rest stays in
    // the inner readable (Node, object mode, mark 16: 10 of 10 moved; here
    // mark 2: 2 moved, 8 left).
    let r: Readable<u32> = Readable::pushed(ReadableOptions::objects());
    for i in 0..10 {
        r.push(i);
    }
    let d: Duplex<u32, u32> =
        Duplex::from_readable(&r, DuplexOptions::objects().high_water_mark(2));
    assert_eq!(d.read(Some(0)), None);
    run_until_idle();
    assert_eq!((d.readable_length(), r.readable_length()), (2, 8));
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    d.on_data(move |c| g.borrow_mut().push(*c));
    run_until_idle();
    assert_eq!(r.readable_length(), 0);
    assert_eq!(*got.borrow(), (0..10).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// Port of test/parallel/test-stream-duplex-from.js
//
// Left out (JavaScript-only inputs, no Rust analogue of the value passed to
// `Duplex.from`): `Promise.resolve('asd')` / `Promise.reject(..)` (a Rust
// future is not a stream body here), async functions returning a rejected
// promise and `() => {}` (ERR_INVALID_RETURN_VALUE: a closure's type is
// checked by the compiler), `Blob`, `Duplex.from(duplex) === duplex` (a
// Duplex is already a Duplex; there is no dynamic dispatch on the input),
// and the `async function*` stage of nodejs/node#40497 (async generators;
// `compat`'s `Pipeline::through_fn` is the Rust form of such a stage).
// ---------------------------------------------------------------------------

fn asd_readable() -> Readable<Bytes> {
    struct Asd;
    impl ReadableImpl<Bytes> for Asd {
        fn read(&self, _size: usize, src: &Source<Bytes>) {
            src.push(b("asd"));
            src.push_eof();
        }
    }
    Readable::new(ReadableOptions::default(), Asd)
}

/// `d.once('readable', read() == 'asd')` and `d.once('end', !readable)`.
fn expect_asd(d: &Duplex<Bytes, Bytes>) -> (Calls, Calls) {
    let (readable, ended) = (Calls::default(), Calls::default());
    let (d1, c1) = (d.clone(), readable.clone());
    let fired = Rc::new(std::cell::Cell::new(false));
    d.on_readable(move || {
        if !fired.replace(true) {
            assert_eq!(d1.read(None), Some(b("asd")));
            c1.hit();
        }
    });
    let (d2, c2) = (d.clone(), ended.clone());
    d.on_end(move || {
        assert!(!d2.readable());
        c2.hit();
    });
    (readable, ended)
}

#[test]
fn duplex_from_readable_pair_and_readable() {
    // Duplex.from({ readable }) and Duplex.from(readable): the same here.
    let d: Duplex<Bytes, Bytes> = Duplex::from_readable(&asd_readable(), DuplexOptions::default());
    assert!(d.readable());
    assert!(!d.writable());
    let (readable, ended) = expect_asd(&d);
    run_until_idle();
    assert_eq!((readable.get(), ended.get()), (1, 1));
}

fn concat_writable(out: &Rc<RefCell<String>>) -> Writable<Bytes> {
    let o = out.clone();
    Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
        o.borrow_mut().push_str(&text(&c));
        Ok(())
    })
}

#[test]
fn duplex_from_writable_pair_and_writable() {
    // Duplex.from(writable) and Duplex.from({ writable }).
    let ret = Rc::new(RefCell::new(String::new()));
    let d: Duplex<Bytes, Bytes> =
        Duplex::from_writable(&concat_writable(&ret), DuplexOptions::default());
    assert!(!d.readable());
    assert!(d.writable());
    d.end_with_chunk(b("asd"));
    let finished = Calls::default();
    let (d2, f, r) = (d.clone(), finished.clone(), ret.clone());
    d.on(WritableEvent::Finish, move || {
        assert!(!d2.writable());
        assert_eq!(*r.borrow(), "asd");
        f.hit();
    });
    run_until_idle();
    assert_eq!(finished.get(), 1);
}

#[test]
fn duplex_from_readable_and_writable() {
    let ret = Rc::new(RefCell::new(String::new()));
    let d = Duplex::from_pair(
        &asd_readable(),
        &concat_writable(&ret),
        DuplexOptions::default(),
    );
    assert!(d.readable());
    assert!(d.writable());
    let (readable, ended) = expect_asd(&d);
    d.end_with_chunk(b("asd"));
    let finished = Calls::default();
    let (d2, f, r) = (d.clone(), finished.clone(), ret.clone());
    d.once(WritableEvent::Finish, move || {
        assert!(!d2.writable());
        assert_eq!(*r.borrow(), "asd");
        f.hit();
    });
    run_until_idle();
    assert_eq!((readable.get(), ended.get(), finished.get()), (1, 1, 1));
}

#[test]
fn duplex_from_sub_object_readable_data() {
    // "Ensure data if a sub object has a readable stream it's duplexified"
    let r: Readable<Bytes> = Readable::pushed(ReadableOptions::default());
    r.push(b("hello"));
    r.push_eof();
    let d: Duplex<Bytes, Bytes> = Duplex::from_readable(&r, DuplexOptions::default());
    let data = Calls::default();
    let c = data.clone();
    d.on_data(move |chunk| {
        assert_eq!(chunk, &b("hello"));
        c.hit();
    });
    assert!(!d.writable());
    run_until_idle();
    assert_eq!(data.get(), 1);
}

#[test]
fn duplex_from_sub_object_writable_data() {
    let writes = Calls::default();
    let c = writes.clone();
    // A `write` that never calls back, as in Node's test.
    struct Hold(Calls, RefCell<Vec<Done>>);
    impl WritableImpl<Bytes> for Hold {
        fn write(&self, chunk: Bytes, done: Done) {
            assert_eq!(chunk, b("hello"));
            self.0.hit();
            self.1.borrow_mut().push(done);
        }
    }
    let w = Writable::new(WritableOptions::default(), Hold(c, RefCell::default()));
    let d: Duplex<Bytes, Bytes> = Duplex::from_writable(&w, DuplexOptions::default());
    assert!(d.write(b("hello")));
    assert!(!d.readable());
    run_until_idle();
    assert_eq!(writes.get(), 1);
}

#[test]
fn duplex_from_pair_piped_into_itself() {
    // `duplex.pipe(duplex)`: what the readable yields is written back to the
    // writable; 'data' and 'end' on the duplex.
    let writes = Calls::default();
    let c = writes.clone();
    let w = Writable::from_fn(WritableOptions::default(), move |chunk: Bytes| {
        assert_eq!(chunk, b("hello"));
        c.hit();
        Ok(())
    });
    let r: Readable<Bytes> = Readable::pushed(ReadableOptions::default());
    r.push(b("hello"));
    r.push_eof();
    let d = Duplex::from_pair(&r, &w, DuplexOptions::default());
    d.pipe(&d);
    let (data, end) = (Calls::default(), Calls::default());
    let (dc, d2) = (data.clone(), d.clone());
    d.on_data(move |chunk| {
        assert_eq!(chunk, &b("hello"));
        assert!(d2.readable());
        assert!(d2.writable());
        dc.hit();
    });
    d.on_end(end.listener());
    run_until_idle();
    assert_eq!((data.get(), end.get(), writes.get()), (1, 1, 1));
}

#[test]
fn duplex_from_readable_that_fails_destroys() {
    // "given readable stream that throws an error it calls destroy": a
    // `_read` that throws is `src.error(..)` here.
    struct Throws;
    impl ReadableImpl<Bytes> for Throws {
        fn read(&self, _size: usize, src: &Source<Bytes>) {
            src.error(Error::msg("error!"));
        }
    }
    let r = Readable::new(ReadableOptions::default(), Throws);
    let d: Duplex<Bytes, Bytes> = Duplex::from_readable(&r, DuplexOptions::default());
    let errors = Log::default();
    let e = errors.clone();
    d.on_error(move |err| e.push(err.to_string()));
    run_until_idle();
    assert_eq!(errors.take(), ["error!"]);
}

#[test]
fn duplex_from_writable_that_fails_destroys() {
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| {
        Err(Error::msg("error!"))
    });
    let d: Duplex<Bytes, Bytes> = Duplex::from_writable(&w, DuplexOptions::default());
    let errors = Log::default();
    let e = errors.clone();
    d.on_error(move |err| e.push(err.to_string()));
    assert!(d.write(b("test")));
    run_until_idle();
    assert_eq!(errors.take(), ["error!"]);
}

#[test]
fn duplex_from_transform_sides() {
    // Any stream type works on either side: a Transform's input and
    // a PassThrough's output.
    let upper = Transform::from_fn(TransformOptions::default(), |c: Bytes| {
        Ok(Some(Bytes::from(c.to_ascii_uppercase())))
    });
    let out = PassThrough::<Bytes>::new(TransformOptions::default());
    let d = Duplex::from_pair(&out, &upper, DuplexOptions::default());
    upper.pipe(&out);
    d.end_with_chunk(b("abc"));
    let got = Log::default();
    let g = got.clone();
    d.on_data(move |c| g.push(text(c)));
    run_until_idle();
    assert_eq!(got.take(), ["ABC"]);
    assert!(d.writable_finished());
    assert!(d.readable_ended());
}

// ---------------------------------------------------------------------------
// compose.js: errors, close and backpressure (orders from Node v20.20.2)
// ---------------------------------------------------------------------------

struct Composed {
    log: Log,
    a: PassThrough<Bytes>,
    b: Transform<Bytes, Bytes>,
    d: Duplex<Bytes, Bytes>,
}

fn upper() -> Transform<Bytes, Bytes> {
    Transform::from_fn(TransformOptions::default(), |c: Bytes| {
        Ok(Some(Bytes::from(c.to_ascii_uppercase())))
    })
}

fn composed() -> Composed {
    let log = Log::default();
    let a = PassThrough::<Bytes>::new(TransformOptions::default());
    let b = upper();
    watch(&log, "a", &a);
    watch(&log, "b", &b);
    let d = Compose::new(&a).then(&b).build(DuplexOptions::default());
    watch(&log, "d", &d);
    d.on(WritableEvent::Finish, log.ev("d:finish"));
    d.on_end(log.ev("d:end"));
    Composed { log, a, b, d }
}

fn all_destroyed(c: &Composed) -> (bool, bool, bool) {
    (c.d.destroyed(), c.a.destroyed(), c.b.destroyed())
}

#[test]
fn compose_destroy_without_error_aborts_every_stage() {
    let c = composed();
    c.d.destroy(None);
    run_until_idle();
    assert_eq!(
        c.log.take(),
        [
            "b:error:ABORT_ERR",
            "b:close",
            "a:error:ABORT_ERR",
            "a:close",
            "d:error:ABORT_ERR",
            "d:close"
        ]
    );
    assert_eq!(all_destroyed(&c), (true, true, true));
}

#[test]
fn compose_destroy_with_error() {
    let c = composed();
    c.d.destroy(Some(Error::msg("boom")));
    run_until_idle();
    assert_eq!(
        c.log.take(),
        [
            "b:error:boom",
            "b:close",
            "a:error:boom",
            "a:close",
            "d:error:boom",
            "d:close"
        ]
    );
}

#[test]
fn compose_error_in_the_first_stage_destroys_the_whole() {
    let c = composed();
    c.a.destroy(Some(Error::msg("aboom")));
    run_until_idle();
    assert_eq!(
        c.log.take(),
        [
            "a:error:aboom",
            "a:close",
            "b:error:aboom",
            "b:close",
            "d:error:aboom",
            "d:close"
        ]
    );
    assert_eq!(all_destroyed(&c), (true, true, true));
}

#[test]
fn compose_error_in_the_last_stage_destroys_the_whole() {
    let c = composed();
    c.b.destroy(Some(Error::msg("bboom")));
    run_until_idle();
    assert_eq!(
        c.log.take(),
        [
            "b:error:bboom",
            "b:close",
            "a:error:bboom",
            "a:close",
            "d:error:bboom",
            "d:close"
        ]
    );
}

#[test]
fn compose_normal_flow_finish_waits_for_the_last_stage() {
    let c = composed();
    let l = c.log.clone();
    c.d.on_data(move |x| l.push(format!("d:data:{}", text(x))));
    assert!(c.d.write(b("x")));
    c.d.end_with_chunk(b("y"));
    run_until_idle();
    assert_eq!(
        c.log.take(),
        [
            "d:data:XY",
            "a:close",
            "d:end",
            "b:close",
            "d:finish",
            "d:close"
        ]
    );
    assert!(c.d.writable_finished());
    assert_eq!(all_destroyed(&c), (true, true, true));
}

#[test]
fn compose_end_without_reading_does_not_finish() {
    // Node: only the first stage closes; 'finish' waits for the last stage
    // to be read to its end.
    let c = composed();
    c.d.end_with_chunk(b("y"));
    run_until_idle();
    assert_eq!(c.log.take(), ["a:close"]);
    assert!(!c.d.writable_finished());
    assert_eq!(all_destroyed(&c), (false, true, false));
}

#[test]
fn compose_backpressure_reaches_the_outer_buffer() {
    // Node: ten 4-byte writes into compose(a, b) with marks of 4: write()
    // true each time (the outer mark is 16 KiB), 36 bytes wait in the outer
    // buffer, 4 in each inner buffer, nothing read.
    let a = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(4));
    let b2 = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(4));
    let d = Compose::new(&a).then(&b2).build(DuplexOptions::default());
    for _ in 0..10 {
        assert!(d.write(b("abcd")));
    }
    run_until_idle();
    assert_eq!(
        (
            d.writable_length(),
            a.writable_length(),
            a.readable_length(),
            b2.writable_length(),
            b2.readable_length(),
            d.readable_length()
        ),
        (36, 4, 4, 4, 4, 0)
    );
    // Reading drains everything through.
    let got = Rc::new(std::cell::Cell::new(0));
    let g = got.clone();
    d.on_data(move |c| g.set(g.get() + c.len()));
    run_until_idle();
    assert_eq!(got.get(), 40);
    assert_eq!(d.writable_length(), 0);
}

#[test]
fn compose_outer_mark_makes_write_return_false() {
    // With a small outer mark the composed stream's own write() says wait
    // once the stages are full (nothing reads the end), and 'drain' comes
    // once a reader made room all the way through.
    let a = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(4));
    let b2 = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(4));
    let d = Compose::new(&a)
        .then(&b2)
        .build(DuplexOptions::default().high_water_mark(4));
    assert_eq!(d.writable_high_water_mark(), 4);
    let mut writes = 0;
    while d.write(b("abcd")) {
        writes += 1;
        assert!(writes < 10, "write() never said wait");
        run_until_idle();
    }
    let drained = Calls::default();
    d.on(WritableEvent::Drain, drained.listener());
    run_until_idle();
    assert_eq!(drained.get(), 0, "nothing read yet");
    d.resume();
    run_until_idle();
    assert_eq!(drained.get(), 1);
}

// ---------------------------------------------------------------------------
// Port of test/parallel/test-stream-compose.js
//
// `async function*` stages are `compat::duplex_from_fn` stages (a closure
// from the input stream to an output `Stream`), async iterables are
// `Readable::from_stream`, and an `async function(source)` consumer at the
// end is a `Writable` (`Compose::build_to`). Left out: `compose()` with no
// arguments (ERR_MISSING_ARGS) and with a non-readable middle or
// non-writable later stage (ERR_INVALID_ARG_VALUE) — the builder's types
// make both impossible; an `async function` returning a value
// (ERR_INVALID_RETURN_VALUE) — no such stage here; a plain string as the
// first stage (JavaScript iterates strings).
// ---------------------------------------------------------------------------

#[cfg(feature = "compat")]
mod compose_ports {
    use super::*;
    use futures::StreamExt;
    use highwater::compat::duplex_from_fn;
    use highwater::ReadableStream;

    fn doubler() -> Transform<Bytes, Bytes> {
        Transform::from_fn(TransformOptions::default(), |c: Bytes| {
            Ok(Some(Bytes::from([&c[..], &c[..]].concat())))
        })
    }

    /// `async function*(source) { for await (const c of source) yield f(c) }`.
    fn gen_stage(f: impl Fn(Bytes) -> Bytes + 'static) -> Duplex<Bytes, Bytes> {
        duplex_from_fn(
            DuplexOptions::default(),
            move |input: ReadableStream<Bytes>| input.map(move |r| r.map(&f)),
        )
    }

    fn upper_bytes(c: Bytes) -> Bytes {
        Bytes::from(c.to_ascii_uppercase())
    }

    /// Collects 'data' and counts 'end'.
    fn collect(d: &Duplex<Bytes, Bytes>) -> (Rc<RefCell<String>>, Calls) {
        let res = Rc::new(RefCell::new(String::new()));
        let end = Calls::default();
        let r = res.clone();
        d.on_data(move |c| r.borrow_mut().push_str(&text(c)));
        d.on_end(end.listener());
        (res, end)
    }

    #[test]
    fn two_transforms() {
        let d = Compose::new(&doubler())
            .then(&upper())
            .build(DuplexOptions::default());
        d.end_with_chunk(b("asd"));
        let (res, end) = collect(&d);
        run_until_idle();
        assert_eq!(end.get(), 1);
        assert_eq!(*res.borrow(), "ASDASD");
    }

    #[test]
    fn two_async_generators() {
        highwater::block_on(async {
            let d = Compose::new(&gen_stage(|c| Bytes::from([&c[..], &c[..]].concat())))
                .then(&gen_stage(upper_bytes))
                .build(DuplexOptions::default());
            d.end_with_chunk(b("asd"));
            let (res, end) = collect(&d);
            highwater::finished_async(&d).await.unwrap();
            assert_eq!(end.get(), 1);
            assert_eq!(*res.borrow(), "ASDASD");
        });
    }

    #[test]
    fn one_async_generator() {
        highwater::block_on(async {
            let d = Compose::new(&gen_stage(|c| Bytes::from([&c[..], &c[..]].concat())))
                .build(DuplexOptions::default());
            d.end_with_chunk(b("asd"));
            let (res, end) = collect(&d);
            highwater::finished_async(&d).await.unwrap();
            assert_eq!(end.get(), 1);
            assert_eq!(*res.borrow(), "asdasd");
        });
    }

    #[test]
    fn readable_from_then_transform() {
        // compose(Readable.from(['asd']), transform) and the same with an
        // async generator object as the source.
        highwater::block_on(async {
            let src: Readable<Bytes> = Readable::from_stream(
                ReadableOptions::objects(),
                futures::stream::iter([b("asd")]),
            );
            let d = Compose::from_source(&src)
                .then(&upper())
                .build(DuplexOptions::default());
            assert!(!d.writable());
            let (res, end) = collect(&d);
            highwater::finished_async(&d).await.unwrap();
            assert_eq!(end.get(), 1);
            assert_eq!(*res.borrow(), "ASD");
        });
    }

    #[test]
    fn transform_generator_writable() {
        highwater::block_on(async {
            let res = Rc::new(RefCell::new(String::new()));
            let d = Compose::new(&upper())
                .then(&gen_stage(|c| c))
                .build_to(&concat_writable(&res), DuplexOptions::default());
            assert!(!d.readable());
            d.end_with_chunk(b("asd"));
            let finished = Calls::default();
            let (f, r) = (finished.clone(), res.clone());
            d.on(WritableEvent::Finish, move || {
                assert_eq!(*r.borrow(), "ASD");
                f.hit();
            });
            highwater::finished_async(&d).await.unwrap();
            assert_eq!(finished.get(), 1);
        });
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Wrapped {
        Leaf(bool),
        Chunk(Box<Wrapped>),
    }

    #[test]
    fn object_mode_stages() {
        highwater::block_on(async {
            let wrap = || {
                Transform::from_fn(TransformOptions::objects(), |c: Wrapped| {
                    Ok(Some(Wrapped::Chunk(Box::new(c))))
                })
            };
            let pass = duplex_from_fn(
                DuplexOptions::objects(),
                |input: ReadableStream<Wrapped>| input,
            );
            let d = Compose::new(&wrap())
                .then(&pass)
                .then(&wrap())
                .build(DuplexOptions::objects());
            d.end_with_chunk(Wrapped::Leaf(true));
            let res = Rc::new(RefCell::new(None));
            let r = res.clone();
            d.on_data(move |c| *r.borrow_mut() = Some(c.clone()));
            highwater::finished_async(&d).await.unwrap();
            assert_eq!(
                *res.borrow(),
                Some(Wrapped::Chunk(Box::new(Wrapped::Chunk(Box::new(
                    Wrapped::Leaf(true)
                )))))
            );
        });
    }

    #[test]
    fn error_in_the_first_transform() {
        highwater::block_on(async {
            let err = Error::msg("asd");
            let e = err.clone();
            let fail =
                Transform::from_fn(TransformOptions::objects(), move |_c: bool| Err(e.clone()));
            let pass = duplex_from_fn(DuplexOptions::objects(), |input: ReadableStream<bool>| {
                input
            });
            let last = Transform::from_fn(
                TransformOptions::objects(),
                |_c: bool| -> Result<Option<bool>, Error> { panic!("must not be called") },
            );
            let d = Compose::new(&fail)
                .then(&pass)
                .then(&last)
                .build(DuplexOptions::objects());
            d.end_with_chunk(true);
            d.on_data(|_| panic!("no 'data'"));
            d.on_end(|| panic!("no 'end'"));
            let errors = Rc::new(RefCell::new(Vec::new()));
            let es = errors.clone();
            d.on_error(move |x| es.borrow_mut().push(x.clone()));
            let got = highwater::finished_async(&d).await.unwrap_err();
            assert!(got.same(&err));
            assert_eq!(errors.borrow().len(), 1);
            assert!(errors.borrow()[0].same(&err));
        });
    }

    #[test]
    fn error_thrown_in_a_generator() {
        highwater::block_on(async {
            let err = Error::msg("asd");
            let e = err.clone();
            let first = Transform::from_fn(TransformOptions::objects(), |c: bool| Ok(Some(c)));
            let throws = duplex_from_fn(
                DuplexOptions::objects(),
                move |input: ReadableStream<bool>| {
                    let e = e.clone();
                    input.map(move |_r| Err::<bool, Error>(e.clone()))
                },
            );
            let last = Transform::from_fn(
                TransformOptions::objects(),
                |_c: bool| -> Result<Option<bool>, Error> { panic!("must not be called") },
            );
            let d = Compose::new(&first)
                .then(&throws)
                .then(&last)
                .build(DuplexOptions::objects());
            d.end_with_chunk(true);
            d.on_data(|_| panic!("no 'data'"));
            d.on_end(|| panic!("no 'end'"));
            let got = highwater::finished_async(&d).await.unwrap_err();
            assert!(got.same(&err));
        });
    }

    fn hello_world() -> Readable<Bytes> {
        Readable::from_stream(
            ReadableOptions::objects(),
            futures::stream::iter([b("Hello"), b("World")]),
        )
    }

    #[test]
    fn neither_readable_nor_writable() {
        // compose(iterable, generator, consumer): not writable, not
        // readable; done once the pipeline is.
        highwater::block_on(async {
            let buf = Rc::new(RefCell::new(String::new()));
            let s1: Duplex<Bytes, Bytes> = Compose::from_source(&hello_world())
                .then(&gen_stage(upper_bytes))
                .build_to(&concat_writable(&buf), DuplexOptions::default());
            assert!(!s1.writable());
            assert!(!s1.readable());
            s1.resume();
            highwater::finished_async(&s1).await.unwrap();
            assert_eq!(*buf.borrow(), "HELLOWORLD");
        });
    }

    #[test]
    fn composed_streams_composed() {
        // s1 readable-only, s2 a transform, s3 writable-only, then
        // compose(s1, s2, s3).
        highwater::block_on(async {
            let buf = Rc::new(RefCell::new(String::new()));
            let s1: Duplex<Bytes, Bytes> =
                Compose::from_source(&hello_world()).build(DuplexOptions::default());
            let s2 = Compose::new(&gen_stage(upper_bytes)).build(DuplexOptions::default());
            let s3: Duplex<Bytes, Bytes> =
                Duplex::from_writable(&concat_writable(&buf), DuplexOptions::default());
            let s4: Duplex<Bytes, Bytes> = Compose::from_source(&s1)
                .then(&s2)
                .build_to(&s3, DuplexOptions::default());
            highwater::finished_async(&s4).await.unwrap();
            assert_eq!(*buf.borrow(), "HELLOWORLD");
        });
    }
}

// ---------------------------------------------------------------------------
// Port of test/parallel/test-stream-compose-operator.js
//
// `readable.compose(stage)` is `Compose::from_source(&readable).then(&stage)`
// here; `async function*` stages are `compat::duplex_from_fn`. Left out:
// nothing of the file's cases (its AbortSignal and argument-validation
// cases are a TODO upstream).
// ---------------------------------------------------------------------------

#[cfg(feature = "compat")]
mod compose_operator_ports {
    use super::*;
    use futures::future::ready;
    use futures::{stream, StreamExt};
    use highwater::compat::duplex_from_fn;
    use highwater::ReadableStream;

    fn letters() -> Readable<String> {
        Readable::from_stream(
            ReadableOptions::objects(),
            stream::iter(["a", "b", "c", "d"].map(String::from)),
        )
    }

    fn numbers() -> Readable<u32> {
        Readable::from_stream(ReadableOptions::objects(), stream::iter(1..=5u32))
    }

    async fn to_vec<T: Clone + 'static>(d: &Duplex<T, T>) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut s = d.stream();
        while let Some(x) = s.next().await {
            out.push(x?);
        }
        Ok(out)
    }

    #[test]
    fn with_an_async_generator() {
        highwater::block_on(async {
            let pairs =
                duplex_from_fn(DuplexOptions::objects(), |input: ReadableStream<String>| {
                    input.chunks(2).map(|two| {
                        two.into_iter()
                            .collect::<Result<Vec<_>, _>>()
                            .map(|v| v.concat())
                    })
                });
            let s = Compose::from_source(&letters())
                .then(&pairs)
                .build(DuplexOptions::objects());
            assert_eq!(to_vec(&s).await.unwrap(), ["ab", "cd"]);
        });
    }

    #[test]
    fn with_a_transform() {
        highwater::block_on(async {
            let calls = Calls::default();
            let c = calls.clone();
            let t = Transform::from_fn(TransformOptions::objects(), move |x: String| {
                c.hit();
                Ok(Some(x))
            });
            let s = Compose::from_source(&letters())
                .then(&t)
                .build(DuplexOptions::objects());
            assert_eq!(to_vec(&s).await.unwrap(), ["a", "b", "c", "d"]);
            assert_eq!(calls.get(), 4);
        });
    }

    #[test]
    fn error_before_waiting_for_data() {
        highwater::block_on(async {
            let boom = duplex_from_fn(DuplexOptions::objects(), |_input: ReadableStream<u32>| {
                stream::once(ready(Err::<u32, Error>(Error::msg("boom"))))
            });
            let s = Compose::from_source(&numbers())
                .then(&boom)
                .build(DuplexOptions::objects());
            let err = to_vec(&s).await.unwrap_err();
            assert_eq!(err.to_string(), "boom");
        });
    }

    // Node rejects with 'boom': the generator stage errors while input is
    // left, so its '_final' never completes. `duplex_from_fn` finishes only
    // once its function has taken the end of its input, as Node's does.
    #[test]
    fn error_while_waiting_for_data() {
        highwater::block_on(async {
            let boom = duplex_from_fn(DuplexOptions::objects(), |input: ReadableStream<u32>| {
                input.map(|r| match r {
                    Ok(3) => Err(Error::msg("boom")),
                    other => other,
                })
            });
            let s = Compose::from_source(&numbers())
                .then(&boom)
                .build(DuplexOptions::objects());
            let err = to_vec(&s).await.unwrap_err();
            assert_eq!(err.to_string(), "boom");
        });
    }

    // KNOWN ISSUE (ignored: hangs). Node rejects with 'boom'. The function
    // takes all of its input, then fails. In Node the generator goes on in
    // a microtask, so its error destroys the stage before the nextTick that
    // completes '_final'; the loop here has no microtasks: the input's
    // 'end' (a tick) finishes the stage, the pipeline inside `compose`
    // completes with success and removes its error listener from the last
    // stage (Node's `lastStreamCleanup`), and the error the function's task
    // raises afterwards reaches no one. See DESIGN §17 (no microtasks).
    #[ignore = "hangs: see the comment"]
    #[test]
    fn error_after_all_data() {
        highwater::block_on(async {
            let boom = duplex_from_fn(DuplexOptions::objects(), |input: ReadableStream<u32>| {
                input
                    .filter(|_| ready(false))
                    .chain(stream::once(ready(Err(Error::msg("boom")))))
            });
            let s = Compose::from_source(&numbers())
                .then(&boom)
                .build(DuplexOptions::objects());
            let err = to_vec(&s).await.unwrap_err();
            assert_eq!(err.to_string(), "boom");
        });
    }
}
