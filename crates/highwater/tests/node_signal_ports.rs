//! Ports of Node's tests of abort signals in streams: the constructors'
//! `signal` option and `addAbortSignal`, `pipeline`'s `signal` and `end`
//! options and its async-function stage, `stream/promises`, and
//! `finished`'s options and cleanup function (`test/parallel/` in
//! nodejs/node).
//!
//! Each test names the Node file it ports and what was left out. Every
//! expectation was checked by running the equivalent JavaScript on Node 20.
//! Left out everywhere, as JavaScript-only: argument validation
//! (`ERR_INVALID_ARG_TYPE` for a signal or stream of the wrong type, the
//! `cleanup: 2` option: Rust's types rule them out), web streams, legacy
//! `Stream`s, http/fs-specific cases, and async generators as sources or
//! middle stages (highwater's middle stages are streams; `compat` turns a
//! `futures::Stream` into one).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use futures::StreamExt;
use highwater::prelude::*;
use highwater::{
    add_abort_signal, finished, finished_async_with, finished_with, run_until_idle,
    AbortController, AbortSignal, Done, Duplex, DuplexOptions, Error, FinishedOptions, Hooks,
    PassThrough, Pipeline, Readable, ReadableImpl, ReadableOptions, Source, TransformOptions,
    Writable, WritableEvent, WritableImpl, WritableOptions,
};

mod common;
use common::{Calls, Log, Macro};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// `new Readable({ read() { this.push('asd') } })`.
struct PushAsd;
impl ReadableImpl<Bytes> for PushAsd {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        src.push(b("asd"));
    }
}

/// `read() {}`.
struct Idle;
impl<T: 'static> ReadableImpl<T> for Idle {
    fn read(&self, _size: usize, _src: &Source<T>) {}
}

/// `write(chunk, enc, cb) { cb() }`.
struct Sink;
impl<T: 'static> WritableImpl<T> for Sink {
    fn write(&self, _chunk: T, done: Done) {
        done.ok();
    }
}

fn code(r: &Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.code().to_string(),
    }
}

// Port of test/parallel/test-stream-readable-destroy.js (the signal cases:
// `addAbortSignal(signal, readable)` and `new Readable({ signal })`, aborted
// while 'data' listeners wait: an AbortError, no data) plus the same cases
// checked for the listener on the signal and the cause. The async-iterator
// case is below (`readable_signal_rejects_the_iterator`).
#[test]
fn test_stream_readable_destroy_signal() {
    let log = Log::default();
    for (n, via_option) in [(1, false), (2, true)] {
        let ac = AbortController::new();
        let r = if via_option {
            Readable::new(ReadableOptions::default().signal(ac.signal()), PushAsd)
        } else {
            add_abort_signal(
                &ac.signal(),
                Readable::new(ReadableOptions::default(), PushAsd),
            )
        };
        let (l, r2) = (log.clone(), r.clone());
        r.on_error(move |e| {
            l.push(format!(
                "{n} error {} cause={} destroyed={}",
                e.code(),
                e.cause().map_or("-".into(), |c| c.to_string()),
                r2.destroyed()
            ))
        });
        log.push(format!("{n} listeners {}", ac.signal().listener_count()));
        ac.abort_with(Error::msg("why"));
        log.push(format!(
            "{n} after destroyed={} listeners={}",
            r.destroyed(),
            ac.signal().listener_count()
        ));
        let l = log.clone();
        r.on_data(move |_| l.push(format!("{n} data")));
        r.on_close(log.ev(format!("{n} close")));
        run_until_idle();
    }
    assert_eq!(
        log.take(),
        [
            "1 listeners 1",
            "1 after destroyed=true listeners=0",
            "1 error ABORT_ERR cause=why destroyed=true",
            "1 close",
            "2 listeners 1",
            "2 after destroyed=true listeners=0",
            "2 error ABORT_ERR cause=why destroyed=true",
            "2 close",
        ]
    );
}

// Port of test/parallel/test-stream-readable-destroy.js (signal case with
// the async iterator: `for await` rejects with the AbortError).
#[test]
fn readable_signal_rejects_the_iterator() {
    let ac = AbortController::new();
    let r = add_abort_signal(
        &ac.signal(),
        Readable::new(ReadableOptions::objects(), Idle),
    );
    r.push("asd".to_string());
    let errors = Calls::default();
    r.on_error({
        let c = errors.clone();
        move |e| {
            assert_eq!(e.code(), "ABORT_ERR");
            c.hit();
        }
    });
    let timers = Macro::default();
    let ac2 = ac.clone();
    timers.later(move || ac2.abort());
    let items = Rc::new(RefCell::new(Vec::new()));
    let it = items.clone();
    let mut s = r.stream();
    let _task = highwater::spawn(async move {
        while let Some(item) = s.next().await {
            it.borrow_mut().push(item.map_err(|e| e.code().to_string()));
        }
    });
    timers.run();
    assert_eq!(
        *items.borrow(),
        [Ok("asd".to_string()), Err("ABORT_ERR".to_string())]
    );
    assert_eq!(errors.get(), 1);
}

// Port of test/parallel/test-stream-writable-destroy.js (the signal cases:
// `addAbortSignal` after a write, `new Writable({ signal })`, and a signal
// already aborted: destroyed at once, the error on the next tick).
#[test]
fn test_stream_writable_destroy_signal() {
    let log = Log::default();
    // addAbortSignal, then a write, then the abort.
    let ac = AbortController::new();
    let w = add_abort_signal(
        &ac.signal(),
        Writable::new(WritableOptions::default(), Sink),
    );
    let (l, w2) = (log.clone(), w.clone());
    w.on_error(move |e| l.push(format!("1 error {} destroyed={}", e.code(), w2.destroyed())));
    let _ = w.write(b("asd"));
    ac.abort();
    run_until_idle();
    // The option.
    let ac = AbortController::new();
    let w = Writable::new(WritableOptions::default().signal(ac.signal()), Sink);
    let (l, w2) = (log.clone(), w.clone());
    w.on_error(move |e| l.push(format!("2 error {} destroyed={}", e.code(), w2.destroyed())));
    let _ = w.write(b("asd"));
    ac.abort();
    run_until_idle();
    // `AbortSignal.abort()`: destroyed in the constructor.
    let w: Writable<Bytes> = Writable::new(
        WritableOptions::default().signal(AbortSignal::abort(None)),
        Sink,
    );
    log.push(format!(
        "3 sync destroyed={} errored={}",
        w.destroyed(),
        w.errored().map_or("-".into(), |e| e.code().to_string())
    ));
    let l = log.clone();
    w.on_error(move |e| {
        l.push(format!(
            "3 error {} cause={}",
            e.code(),
            e.cause().map_or("-".into(), |c| c.code().to_string())
        ))
    });
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "1 error ABORT_ERR destroyed=true",
            "2 error ABORT_ERR destroyed=true",
            "3 sync destroyed=true errored=ABORT_ERR",
            "3 error ABORT_ERR cause=ABORT_ERR",
        ]
    );
}

// When the constructors' listener comes off the signal: Node removes it
// with `eos`, so at 'end' for a stream that will not emit 'close'
// (autoDestroy false: a later abort leaves it alone), at 'close' otherwise
// (still there at 'finish'). A Duplex adds one listener. (Node 20, same
// log.)
#[test]
fn signal_listener_comes_off_when_the_stream_is_done() {
    let log = Log::default();
    // autoDestroy false: removed at 'end'.
    let ac = AbortController::new();
    let r = Readable::<Bytes>::new(
        ReadableOptions::default()
            .signal(ac.signal())
            .auto_destroy(false),
        Idle,
    );
    r.push_eof();
    r.resume();
    {
        let (l, ac, r2) = (log.clone(), ac.clone(), r.clone());
        r.on_end(move || {
            l.push(format!("3 end {}", ac.signal().listener_count()));
            ac.abort();
            l.push(format!("3 after abort {}", r2.destroyed()));
        });
    }
    run_until_idle();
    // autoDestroy: still there at 'finish', gone at 'close'.
    let ac = AbortController::new();
    let w = add_abort_signal(
        &ac.signal(),
        Writable::new(WritableOptions::default(), Sink),
    );
    {
        let (l, s) = (log.clone(), ac.signal());
        w.on(WritableEvent::Finish, move || {
            l.push(format!("4 finish {}", s.listener_count()))
        });
        let (l, s) = (log.clone(), ac.signal());
        w.on_close(move || l.push(format!("4 close {}", s.listener_count())));
    }
    let _ = w.write(b("x"));
    w.end();
    run_until_idle();
    // A Duplex: one listener; both sides destroyed.
    let ac = AbortController::new();
    let d: Duplex<Bytes, Bytes> =
        Duplex::new(DuplexOptions::default().signal(ac.signal()), Idle, Sink);
    log.push(format!("5 listeners {}", ac.signal().listener_count()));
    ac.abort();
    log.push(format!(
        "5 destroyed {} {}",
        d.destroyed(),
        d.errored().map_or("-".into(), |e| e.code().to_string())
    ));
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "3 end 0",
            "3 after abort false",
            "4 finish 1",
            "4 close 0",
            "5 listeners 1",
            "5 destroyed true ABORT_ERR",
        ]
    );
}

// Port of test/parallel/test-stream-add-abort-signal.js: the cases with a
// Rust analogue. `addAbortSignal` returns the stream it was given (the
// same stream, so the result can be used in place of the argument). The
// `ERR_INVALID_ARG_TYPE` cases (a string as signal or stream, a web
// TransformStream) and `addAbortSignalNoValidate` with a non-signal cannot
// be written in Rust: the types rule them out.
#[test]
fn test_stream_add_abort_signal() {
    let ac = AbortController::new();
    let r = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    let same = add_abort_signal(&ac.signal(), r.clone());
    assert!(same.ptr_eq(&r));
    assert!(!r.destroyed());
    // Any stream type: a Transform too.
    let p = add_abort_signal(
        &ac.signal(),
        PassThrough::<Bytes>::new(TransformOptions::default()),
    );
    ac.abort();
    assert!(r.destroyed() && p.destroyed());
    assert_eq!(
        p.errored().map(|e| e.code().to_string()).as_deref(),
        Some("ABORT_ERR")
    );
}

/// A byte sink that logs each chunk and may act on the nth.
fn collecting(seen: Rc<RefCell<String>>, on_write: impl Fn(usize) + 'static) -> Writable<Bytes> {
    Writable::from_fn(WritableOptions::default(), move |c: Bytes| {
        seen.borrow_mut().push_str(&String::from_utf8_lossy(&c));
        on_write(seen.borrow().len());
        Ok(())
    })
}

fn err_code(s: &impl StreamBase) -> String {
    s.errored().map_or("-".into(), |e| e.code().to_string())
}

// Port of test/parallel/test-stream-pipeline.js (the cases with `signal`
// and `{ end: false }`, through stream/promises' `pipeline`) and
// test-stream-promises.js (`pipeline` resolving and rejecting), checked
// against Node 20 with the same scenarios:
// P1 a signal aborted mid-stream (by the destination, after three chunks):
//    every stream destroyed with the AbortError, its cause the reason, the
//    listener off the signal;
// P2 a signal already aborted;
// P3 success takes the listener off (a later abort changes nothing);
// P4 `end: false`: two sources one after another into one destination;
// P5 `end: false` and an abort: the destination is not destroyed.
// Left out: the `Readable.from(async generator)` source of the upstream
// signal case (a pushed Readable stands in), `pipeline([streams])` (a
// builder here), and the `ERR_INVALID_ARG_TYPE` cases.
#[test]
fn test_stream_pipeline_signal_and_end() {
    let log = Log::default();
    let l = log.clone();
    highwater::block_on(async move {
        let log = l;
        // P1
        let ac = AbortController::new();
        let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
        let pt = PassThrough::<Bytes>::new(TransformOptions::default());
        let seen = Rc::new(RefCell::new(String::new()));
        let ac2 = ac.clone();
        let dst = collecting(seen.clone(), move |n| {
            if n == 3 {
                ac2.abort_with(Error::msg("enough"));
            }
        });
        for s in ["a", "b", "c", "d"] {
            src.push(b(s));
        }
        let p = Pipeline::new(&src)
            .through(&pt)
            .signal(ac.signal())
            .run(&dst);
        log.push(format!("P1 listeners {}", ac.signal().listener_count()));
        let e = p.await.unwrap_err();
        log.push(format!(
            "P1 {} {} {} {} {} {} {} {}",
            e.code(),
            e.cause().map_or("-".into(), |c| c.to_string()),
            seen.borrow(),
            src.destroyed(),
            pt.destroyed(),
            dst.destroyed(),
            err_code(&src),
            ac.signal().listener_count()
        ));

        // P2
        let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
        let dst = Writable::new(WritableOptions::default(), Sink);
        src.push(b("x"));
        let e = Pipeline::new(&src)
            .signal(AbortSignal::abort(None))
            .run(&dst)
            .await
            .unwrap_err();
        log.push(format!(
            "P2 {} {} {}",
            e.code(),
            src.destroyed(),
            dst.destroyed()
        ));

        // P3
        let ac = AbortController::new();
        let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
        src.push(b("x"));
        src.push_eof();
        let dst = Writable::new(WritableOptions::default(), Sink);
        Pipeline::new(&src)
            .signal(ac.signal())
            .run(&dst)
            .await
            .unwrap();
        log.push(format!("P3 ok {}", ac.signal().listener_count()));
        ac.abort();
        log.push(format!(
            "P3 after abort {} {} {}",
            src.destroyed(),
            dst.destroyed(),
            err_code(&dst)
        ));

        // P4
        let text = Rc::new(RefCell::new(String::new()));
        let dst = collecting(text.clone(), |_| {});
        for part in ["one ", "two"] {
            let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
            src.push(b(part));
            src.push_eof();
            Pipeline::new(&src).end(false).run(&dst).await.unwrap();
            log.push(format!(
                "P4 {} {} {} {}",
                part.trim(),
                dst.writable_ended(),
                dst.destroyed(),
                src.destroyed()
            ));
        }
        dst.end();
        highwater::finished_async(&dst).await.unwrap();
        log.push(format!("P4 text {}", text.borrow()));

        // P5
        let ac = AbortController::new();
        let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
        let dst = Writable::new(WritableOptions::default(), Sink);
        let p = Pipeline::new(&src).end(false).signal(ac.signal()).run(&dst);
        ac.abort();
        let e = p.await.unwrap_err();
        log.push(format!(
            "P5 {} {} {}",
            e.code(),
            src.destroyed(),
            dst.destroyed()
        ));
    });
    assert_eq!(
        log.take(),
        [
            "P1 listeners 1",
            "P1 ABORT_ERR enough abc true true true ABORT_ERR 0",
            "P2 ABORT_ERR true true",
            "P3 ok 0",
            "P3 after abort true true -",
            "P4 one false false true",
            "P4 two false false true",
            "P4 text one two",
            "P5 ABORT_ERR true false",
        ]
    );
}

// Port of test/parallel/test-stream-pipeline.js (an async function as the
// last stage; its value is the pipeline's), checked against Node 20:
// P6 the value comes back;
// P7 the upstream case: the function leaves its loop early (`break`): the
//    value still comes back, and the stages it read from are destroyed;
// P8 the function fails: the pipeline fails with its error, which destroys
//    the source;
// P9 a signal aborted from inside the function.
// Left out: async generators as sources and middle stages, thenables, and
// `ERR_INVALID_RETURN_VALUE` (a function that returns no iterable/promise:
// the closure's type rules it out).
#[test]
fn test_stream_pipeline_async_function_stage() {
    let log = Log::default();
    let l = log.clone();
    highwater::block_on(async move {
        let log = l;
        // P6
        let src = Readable::<String>::new(ReadableOptions::objects(), Idle);
        for w in ["a", "b", "c"] {
            src.push(w.to_string());
        }
        src.push_eof();
        let v = Pipeline::new(&src)
            .then_async(|mut source| async move {
                let mut s = String::new();
                while let Some(c) = source.next().await {
                    s.push_str(&c?);
                }
                Ok(s)
            })
            .await
            .unwrap();
        log.push(format!("P6 {} {}", v, src.destroyed()));

        // P7 (callback form)
        let s = PassThrough::<String>::new(TransformOptions::objects());
        let src = Readable::<String>::new(ReadableOptions::objects(), Idle);
        for w in ["hello", "world", "world"] {
            src.push(w.to_string());
        }
        src.push_eof();
        let (tx, rx) = futures::channel::oneshot::channel();
        Pipeline::new(&src).through(&s).to_fn(
            |mut source| async move {
                let mut ret = String::new();
                let mut n = 0;
                while let Some(chunk) = source.next().await {
                    n += 1;
                    if n > 2 {
                        break;
                    }
                    ret.push_str(&chunk?);
                }
                Ok(ret)
            },
            move |r| {
                let _ = tx.send(r);
            },
        );
        let r = rx.await.unwrap();
        log.push(format!(
            "P7 {} {} {}",
            r.unwrap(),
            s.destroyed(),
            src.destroyed()
        ));

        // P8
        let src = Readable::<String>::new(ReadableOptions::objects(), Idle);
        src.push("x".into());
        let e = Pipeline::new(&src)
            .then_async(|_source| async move { Err::<(), _>(Error::msg("kaboom")) })
            .await
            .unwrap_err();
        log.push(format!("P8 {} {} {}", e, src.destroyed(), err_code(&src)));

        // P9
        let ac = AbortController::new();
        let src = Readable::<String>::new(ReadableOptions::objects(), Idle);
        src.push("x".into());
        let ac2 = ac.clone();
        let e = Pipeline::new(&src)
            .signal(ac.signal())
            .then_async(|mut source| async move {
                let mut got = Vec::new();
                while let Some(c) = source.next().await {
                    got.push(c?);
                    ac2.abort();
                }
                Ok(got)
            })
            .await
            .unwrap_err();
        log.push(format!("P9 {} {}", e.code(), src.destroyed()));
    });
    assert_eq!(
        log.take(),
        [
            "P6 abc true",
            "P7 helloworld true true",
            "P8 kaboom true kaboom",
            "P9 ABORT_ERR true",
        ]
    );
}

// Dropping the future of `run` / `then_async` (the Rust way to cancel, no
// Node counterpart): every stream not done is destroyed with a causeless
// AbortError; a future dropped after it is ready changes nothing.
#[test]
fn dropping_the_pipeline_future_destroys_the_streams() {
    let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    let pt = PassThrough::<Bytes>::new(TransformOptions::default());
    let dst = Writable::new(WritableOptions::default(), Sink);
    src.push(b("x"));
    let fut = Pipeline::new(&src).through(&pt).run(&dst);
    run_until_idle();
    assert!(!src.destroyed());
    drop(fut);
    for s in [err_code(&src), err_code(&pt), err_code(&dst)] {
        assert_eq!(s, "ABORT_ERR");
    }
    assert!(src.errored().and_then(|e| e.cause().cloned()).is_none());
    run_until_idle();

    let src = Readable::<String>::new(ReadableOptions::objects(), Idle);
    let fut = Pipeline::new(&src).then_async(|_s| async { Ok(1) });
    drop(fut);
    assert_eq!(err_code(&src), "ABORT_ERR");
    run_until_idle();

    // Dropped once ready: nothing happens.
    let src = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    let dst = Writable::new(WritableOptions::default(), Sink);
    src.push_eof();
    let mut fut = Box::pin(Pipeline::new(&src).run(&dst));
    run_until_idle();
    let out = futures::FutureExt::now_or_never(fut.as_mut());
    assert!(matches!(out, Some(Ok(()))));
    drop(fut);
    assert_eq!(err_code(&src), "-");
    assert_eq!(err_code(&dst), "-");
}

// Port of test/parallel/test-stream-pipeline-listeners.js: after a
// pipeline that succeeded, its 'error' listener is off the last stream when
// that stream is readable (a Duplex), kept on the others; a later error of
// the Duplex reaches no pipeline listener. Node makes that error an
// uncaught exception; here it is emitted with no listener (nothing to
// catch), so the test checks the counts. Added: the signal's listener is
// off too. The async-generator case is left out (no generator stages).
#[test]
fn test_stream_pipeline_listeners() {
    let a = PassThrough::<Bytes>::new(TransformOptions::default());
    let _ = a.write(b("foobar"));
    a.end();
    let bd: Duplex<Bytes, Bytes> = Duplex::new(DuplexOptions::default(), Idle, Sink);
    let ac = AbortController::new();
    let result = Rc::new(RefCell::new(None));
    let r = result.clone();
    Pipeline::new(&a)
        .signal(ac.signal())
        .to(&bd, move |res| *r.borrow_mut() = Some(code(&res)));
    run_until_idle();
    assert_eq!(result.borrow().as_deref(), Some("ok"));
    assert!(a.error_listener_count() > 0);
    assert_eq!(bd.error_listener_count(), 0);
    assert_eq!(ac.signal().listener_count(), 0);

    // The last stream not readable: its listeners stay.
    let e = PassThrough::<Bytes>::new(TransformOptions::default());
    let _ = e.write(b("foobar"));
    e.end();
    let f = Writable::new(WritableOptions::default(), Sink);
    Pipeline::new(&e).to(&f, |res| assert!(res.is_ok()));
    run_until_idle();
    assert!(e.error_listener_count() > 0);
    assert!(f.error_listener_count() > 0);
}

// Port of test/parallel/test-stream-finished.js (the cases with options,
// a signal and the returned cleanup function) and test-stream-promises.js
// (`finished` with `cleanup`), checked against Node 20 with the same
// scenarios:
// F1 a signal already aborted: an AbortError on the next tick, the stream
//    untouched;
// F2 aborted before the stream ends: at once, every listener removed;
// F3 aborted after the stream ended: success, the listener already off;
// F4 the awaitable form, aborted later: rejects with the AbortError;
// F5 the returned function removes the listeners (twice is harmless) and
//    the callback is never called;
// F6 `readable: false` on a Duplex whose readable side never ends;
// F7 `writable: false` on a Duplex whose writable side never finishes;
// F8 `error: false`: an 'error' does not end the wait, the 'close' after it
//    does, with the error;
// F9 by default the 'error' ends it;
// F10 `cleanup` (of stream/promises): the listeners stay unless it is true;
// F11 a normal end takes the listener off the signal.
// Where highwater differs: running the cleanup also takes the listener off
// the signal (Node 20 leaves it there, calling nothing; only the signal's
// listener count shows it). Left out: the argument-validation cases, web
// streams, http/fs streams, legacy `Stream`s and fake streams made of an
// EventEmitter with a `_writableState`.
#[test]
fn test_stream_finished_options_signal_cleanup() {
    let log = Log::default();
    let timers = Macro::default();
    // F1
    let rs = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    {
        let (l, r) = (log.clone(), rs.clone());
        let _c = finished_with(
            &rs,
            FinishedOptions::default().signal(AbortSignal::abort(None)),
            move |res| l.push(format!("F1 {} {}", code(&res), r.destroyed())),
        );
    }
    log.push("F1 sync");
    run_until_idle();
    // F2
    let ac = AbortController::new();
    let rs = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    {
        let (l, r, s) = (log.clone(), rs.clone(), ac.signal());
        let _c = finished_with(
            &rs,
            FinishedOptions::default().signal(ac.signal()),
            move |res| {
                let e = res.unwrap_err();
                l.push(format!(
                    "F2 {} {} {} {} {}",
                    e.code(),
                    e.cause().map_or("-".into(), |c| c.to_string()),
                    r.destroyed(),
                    r.error_listener_count(),
                    s.listener_count()
                ))
            },
        );
    }
    log.push(format!(
        "F2 before {} {}",
        rs.error_listener_count(),
        ac.signal().listener_count()
    ));
    ac.abort_with(Error::msg("r"));
    // F3
    let ac = AbortController::new();
    let rs = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    rs.push(b("5"));
    rs.push_eof();
    rs.resume();
    {
        let (l, s, ac, t) = (log.clone(), ac.signal(), ac.clone(), timers.clone());
        let _c = finished_with(
            &rs,
            FinishedOptions::default().signal(ac.signal()),
            move |res| {
                l.push(format!("F3 {} {}", code(&res), s.listener_count()));
                t.later(move || ac.abort());
            },
        );
    }
    timers.run();
    // F4
    let ac = AbortController::new();
    let rs = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    let ac2 = ac.clone();
    timers.later(move || ac2.abort());
    let fut = finished_async_with(&rs, FinishedOptions::default().signal(ac.signal()));
    let slot = Rc::new(RefCell::new(None));
    let s2 = slot.clone();
    let _t = highwater::spawn(async move { *s2.borrow_mut() = Some(fut.await) });
    timers.run();
    log.push(format!("F4 {}", code(slot.borrow().as_ref().unwrap())));
    // F5
    let ws = Writable::<Bytes>::new(WritableOptions::default(), Sink);
    let before = ws.listener_count(WritableEvent::Finish);
    let rm = finished_with(&ws, FinishedOptions::default(), {
        let l = log.clone();
        move |_| l.push("F5 called")
    });
    log.push(format!(
        "F5 {}",
        ws.listener_count(WritableEvent::Finish) - before
    ));
    rm.run();
    rm.run();
    log.push(format!(
        "F5 after {}",
        ws.listener_count(WritableEvent::Finish) - before
    ));
    ws.end();
    run_until_idle();
    // F6
    let d: Duplex<Bytes, Bytes> = Duplex::new(DuplexOptions::default(), Idle, Sink);
    {
        let (l, d2) = (log.clone(), d.clone());
        let _c = finished_with(&d, FinishedOptions::default().readable(false), move |res| {
            l.push(format!(
                "F6 {} {} {}",
                code(&res),
                d2.writable_finished(),
                d2.readable_ended()
            ))
        });
    }
    let _ = d.write(b("x"));
    d.end();
    run_until_idle();
    // F7: `final(cb) {}` never calls back; `read() { push(null) }`.
    struct NeverFinal;
    impl WritableImpl<Bytes> for NeverFinal {
        fn write(&self, _c: Bytes, done: Done) {
            done.ok();
        }
        fn finish(&self, _done: Done) {}
        fn hooks(&self) -> Hooks {
            Hooks::FINAL
        }
    }
    struct Eof;
    impl ReadableImpl<Bytes> for Eof {
        fn read(&self, _size: usize, src: &Source<Bytes>) {
            src.push_eof();
        }
    }
    let d: Duplex<Bytes, Bytes> = Duplex::new(DuplexOptions::default(), Eof, NeverFinal);
    d.on_end(log.ev("F7 end"));
    {
        let l = log.clone();
        let _c = finished_with(
            &d,
            FinishedOptions::default().readable(true).writable(false),
            move |res| l.push(format!("F7 {}", code(&res))),
        );
    }
    d.end();
    d.resume();
    run_until_idle();
    // F8 / F9
    for (name, error) in [("F8", false), ("F9", true)] {
        let w = Writable::from_fn(
            WritableOptions::default().auto_destroy(false),
            |_c: Bytes| Err(Error::msg("boom")),
        );
        let l = log.clone();
        w.on_error(move |e| l.push(format!("{name} error event {e}")));
        {
            let (l, w2) = (log.clone(), w.clone());
            let _c = finished_with(&w, FinishedOptions::default().error(error), move |res| {
                l.push(format!(
                    "{name} cb {} {}",
                    res.err().map_or("-".into(), |e| e.to_string()),
                    w2.destroyed()
                ))
            });
        }
        let _ = w.write(b("x"));
        let (l, w2) = (log.clone(), w.clone());
        timers.later(move || {
            l.push(format!("{name} destroying"));
            w2.destroy(None);
        });
        timers.run();
    }
    // F10
    for c in [None, Some(false), Some(true)] {
        let w = Writable::<Bytes>::new(WritableOptions::default(), Sink);
        let opts = match c {
            None => FinishedOptions::default(),
            Some(on) => FinishedOptions::default().cleanup(on),
        };
        let fut = finished_async_with(&w, opts);
        w.end();
        highwater::block_on(fut).unwrap();
        log.push(format!(
            "F10 {c:?} {} {}",
            w.listener_count(WritableEvent::Finish),
            w.listener_count(WritableEvent::Close)
        ));
    }
    // F11
    let ac = AbortController::new();
    let w = Writable::<Bytes>::new(WritableOptions::default(), Sink);
    {
        let (l, s) = (log.clone(), ac.signal());
        let _c = finished_with(
            &w,
            FinishedOptions::default().signal(ac.signal()),
            move |res| l.push(format!("F11 {} {}", code(&res), s.listener_count())),
        );
    }
    w.end();
    run_until_idle();
    assert_eq!(
        log.take(),
        [
            "F1 sync",
            "F1 ABORT_ERR false",
            "F2 before 1 1",
            "F2 ABORT_ERR r false 0 0",
            "F3 ok 0",
            "F4 ABORT_ERR",
            "F5 1",
            "F5 after 0",
            "F6 ok true false",
            "F7 end",
            "F7 ok",
            "F8 error event boom",
            "F8 destroying",
            "F8 cb boom true",
            "F9 error event boom",
            "F9 cb boom false",
            "F9 destroying",
            "F10 None 1 1",
            "F10 Some(false) 1 1",
            "F10 Some(true) 0 0",
            "F11 ok 0",
        ]
    );
}

// `finished` (no options) keeps working, and a cleanup run before a
// stream that was already destroyed is reported means no call (Node's
// "already destroyed but finished is cancelled in same tick" case of
// test/parallel/test-stream-finished.js).
#[test]
fn finished_cleanup_in_the_same_tick_as_an_already_destroyed_stream() {
    let calls = Calls::default();
    let r = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    r.destroy(None);
    let c = finished_with(&r, FinishedOptions::default(), {
        let c = calls.clone();
        move |_| c.hit()
    });
    c.run();
    run_until_idle();
    assert_eq!(calls.get(), 0);
    let r = Readable::<Bytes>::new(ReadableOptions::default(), Idle);
    r.destroy(None);
    finished(&r, {
        let c = calls.clone();
        move |_| c.hit()
    });
    run_until_idle();
    assert_eq!(calls.get(), 1);
}
