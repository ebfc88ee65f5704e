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

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::StreamExt;
use highwater::prelude::*;
use highwater::{
    add_abort_signal, finished, finished_async_with, finished_with, run_until_idle,
    AbortController, AbortSignal, Done, Duplex, DuplexOptions, Error, FinishedOptions,
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
            add_abort_signal(&ac.signal(), Readable::new(ReadableOptions::default(), PushAsd))
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
    let task = highwater::spawn(async move {
        while let Some(item) = s.next().await {
            it.borrow_mut().push(item.map_err(|e| e.code().to_string()));
        }
    });
    timers.run();
    let _ = task;
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
    let w = add_abort_signal(&ac.signal(), Writable::new(WritableOptions::default(), Sink));
    let (l, w2) = (log.clone(), w.clone());
    w.on_error(move |e| l.push(format!("1 error {} destroyed={}", e.code(), w2.destroyed())));
    w.write(b("asd"));
    ac.abort();
    run_until_idle();
    // The option.
    let ac = AbortController::new();
    let w = Writable::new(WritableOptions::default().signal(ac.signal()), Sink);
    let (l, w2) = (log.clone(), w.clone());
    w.on_error(move |e| l.push(format!("2 error {} destroyed={}", e.code(), w2.destroyed())));
    w.write(b("asd"));
    ac.abort();
    run_until_idle();
    // `AbortSignal.abort()`: destroyed in the constructor.
    let w: Writable<Bytes> =
        Writable::new(WritableOptions::default().signal(AbortSignal::abort(None)), Sink);
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
        ReadableOptions::default().signal(ac.signal()).auto_destroy(false),
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
    let w = add_abort_signal(&ac.signal(), Writable::new(WritableOptions::default(), Sink));
    {
        let (l, s) = (log.clone(), ac.signal());
        w.on(WritableEvent::Finish, move || {
            l.push(format!("4 finish {}", s.listener_count()))
        });
        let (l, s) = (log.clone(), ac.signal());
        w.on_close(move || l.push(format!("4 close {}", s.listener_count())));
    }
    w.write(b("x"));
    w.end();
    run_until_idle();
    // A Duplex: one listener; both sides destroyed.
    let ac = AbortController::new();
    let d: Duplex<Bytes, Bytes> = Duplex::new(DuplexOptions::default().signal(ac.signal()), Idle, Sink);
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
    let p = add_abort_signal(&ac.signal(), PassThrough::<Bytes>::new(TransformOptions::default()));
    ac.abort();
    assert!(r.destroyed() && p.destroyed());
    assert_eq!(p.errored().map(|e| e.code().to_string()).as_deref(), Some("ABORT_ERR"));
}
