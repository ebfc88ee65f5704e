//! `destroy(err, cb)`: the callback's timing and argument, against Node 20.
//!
//! Node's `internal/streams/destroy`: when the stream is already destroyed,
//! `cb()` is called at once with no error; otherwise `cb(err)` is called
//! from `onDestroy`, when `_destroy` calls back, before the `'error'` and
//! `'close'` ticks. Each expected log below was printed by the equivalent
//! JavaScript on Node 20 (given in the comment above it).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    run_until_idle, Done, Error, Hooks, Readable, ReadableOptions, Writable, WritableImpl,
    WritableOptions,
};

type Log = Rc<RefCell<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

fn watch(s: &impl StreamBase, log: &Log) {
    let l = log.clone();
    s.on_error(move |e| push(&l, format!("error {}", e.code())));
    let l = log.clone();
    s.on_close(move || push(&l, "close"));
}

fn cb(log: &Log, name: &'static str) -> impl FnOnce(Result<(), Error>) + 'static {
    let l = log.clone();
    move |r| {
        push(
            &l,
            match r {
                Ok(()) => format!("{name} null"),
                Err(e) => format!("{name} {}", e.code()),
            },
        )
    }
}

/// A destroy hook's call, held: the error it got and its callback.
type Held = (Option<Error>, Done);

/// A sink whose destroy hook is held until the test releases it (Node's
/// `setImmediate(() => cb(err))`), or fails with its own error.
#[derive(Clone, Default)]
struct Hook {
    held: Rc<RefCell<Option<Held>>>,
    fail: Option<&'static str>,
    construct: Rc<RefCell<Option<Done>>>,
    constructs: bool,
    log: Log,
}

impl WritableImpl<Bytes> for Hook {
    fn write(&self, _c: Bytes, done: Done) {
        done.ok()
    }
    fn construct(&self, done: Done) {
        *self.construct.borrow_mut() = Some(done);
    }
    fn destroy(&self, err: Option<Error>, done: Done) {
        push(&self.log, "hook");
        if let Some(m) = self.fail {
            done.call(Err(Error::msg(m)));
        } else {
            *self.held.borrow_mut() = Some((err, done));
        }
    }
    fn hooks(&self) -> Hooks {
        if self.constructs {
            Hooks::CONSTRUCT
        } else {
            Hooks::NONE
        }
    }
}

impl Hook {
    fn release(&self) {
        let held = self.held.borrow_mut().take();
        if let Some((err, done)) = held {
            push(&self.log, "hook-cb");
            done.call(err.map_or(Ok(()), Err));
        }
    }
}

fn plain() -> Writable<Bytes> {
    Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()))
}

// s.destroy(new Error('boom'), cb) → ["cb boom","sync-end","error boom","close"]
#[test]
fn with_error_default_hook() {
    let log = Log::default();
    let w = plain();
    watch(&w, &log);
    w.destroy_with_callback(Some(Error::msg("boom")), cb(&log, "cb"));
    push(&log, "sync-end");
    run_until_idle();
    assert_eq!(
        *log.borrow(),
        ["cb boom", "sync-end", "error boom", "close"]
    );
}

// s.destroy(null, cb) → ["cb null","sync-end","close"], a Writable and a Readable
#[test]
fn without_error_writable_and_readable() {
    let log = Log::default();
    let w = plain();
    watch(&w, &log);
    w.destroy_with_callback(None, cb(&log, "cb"));
    push(&log, "sync-end");
    run_until_idle();
    assert_eq!(*log.borrow(), ["cb null", "sync-end", "close"]);

    let log = Log::default();
    let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    watch(&r, &log);
    r.destroy_with_callback(None, cb(&log, "cb"));
    push(&log, "sync-end");
    run_until_idle();
    assert_eq!(*log.borrow(), ["cb null", "sync-end", "close"]);
}

// destroy(err, cb) { log('hook'); setImmediate(() => { log('hook-cb'); cb(err) }) }
// s.destroy(null, cb) → ["hook","sync-end","hook-cb","cb null","close"]
#[test]
fn waits_for_an_async_hook() {
    let log = Log::default();
    let hook = Hook {
        log: log.clone(),
        ..Hook::default()
    };
    let w = Writable::new(WritableOptions::default(), hook.clone());
    watch(&w, &log);
    w.destroy_with_callback(None, cb(&log, "cb"));
    push(&log, "sync-end");
    run_until_idle();
    assert!(w.destroyed() && !w.closed());
    hook.release();
    run_until_idle();
    assert_eq!(
        *log.borrow(),
        ["hook", "sync-end", "hook-cb", "cb null", "close"]
    );
}

// destroy(err, cb) { cb(new Error('hookerr')) }; s.destroy(new Error('boom'), cb)
// → ["cb hookerr","sync-end","error hookerr","close"]
#[test]
fn gets_the_hooks_error() {
    let log = Log::default();
    let hook = Hook {
        fail: Some("hookerr"),
        log: Log::default(),
        ..Hook::default()
    };
    let w = Writable::new(WritableOptions::default(), hook);
    watch(&w, &log);
    w.destroy_with_callback(Some(Error::msg("boom")), cb(&log, "cb"));
    push(&log, "sync-end");
    run_until_idle();
    assert_eq!(
        *log.borrow(),
        ["cb hookerr", "sync-end", "error hookerr", "close"]
    );
}

// An async hook; s.destroy(null, cb1); s.destroy(new Error('x'), cb2):
// cb2 is called at once with no argument, the second error is ignored
// → ["cb2 0","sync-end","cb1 null","close"]
#[test]
fn second_destroy_calls_back_at_once() {
    let log = Log::default();
    let hook = Hook {
        log: Log::default(),
        ..Hook::default()
    };
    let w = Writable::new(WritableOptions::default(), hook.clone());
    watch(&w, &log);
    w.destroy_with_callback(None, cb(&log, "cb1"));
    w.destroy_with_callback(Some(Error::msg("x")), cb(&log, "cb2"));
    push(&log, "sync-end");
    run_until_idle();
    hook.release();
    run_until_idle();
    assert_eq!(*log.borrow(), ["cb2 null", "sync-end", "cb1 null", "close"]);
}

// construct(cb) { setImmediate(() => { log('constructed'); cb() }) };
// s.destroy(new Error('boom'), cb)
// → ["sync-end","constructed","cb boom","error boom","close"]
#[test]
fn waits_for_construct() {
    let log = Log::default();
    let hook = Hook {
        constructs: true,
        log: Log::default(),
        ..Hook::default()
    };
    let w = Writable::new(WritableOptions::default(), hook.clone());
    watch(&w, &log);
    run_until_idle(); // the construct hook runs on the next tick, and holds
    w.destroy_with_callback(Some(Error::msg("boom")), cb(&log, "cb"));
    push(&log, "sync-end");
    run_until_idle();
    let done = hook.construct.borrow_mut().take();
    push(&log, "constructed");
    done.expect("the construct hook ran").ok();
    // The destroy hook (held) runs once constructed; release it.
    run_until_idle();
    hook.release();
    run_until_idle();
    assert_eq!(
        *log.borrow(),
        ["sync-end", "constructed", "cb boom", "error boom", "close"]
    );
}
