//! `readable.iterator({ destroyOnReturn })`: `ReadableExt::stream_with`.
//!
//! Port of the `destroyOnReturn` cases of Node's iterator (Node's
//! `doc/api/stream.md` example for `readable.iterator(options)` and the
//! `finally` of `createAsyncIterator` in `lib/internal/streams/readable.js`,
//! as exercised in test/parallel/test-stream-readable-async-iterators.js).
//! The stored upstream copy of that test file predates the option, so each
//! expectation here was printed by the equivalent JavaScript on Node 20
//! (given in the comments). Dropping the Rust iterator is leaving the
//! `for await` loop (`break`, `return` or `throw`).

use futures::{FutureExt, StreamExt};
use highwater::prelude::*;
use highwater::{
    block_on, next_tick, run_until_idle, Error, IterOptions, Readable, ReadableImpl,
    ReadableOptions, Source, StreamEvent,
};

fn keep() -> IterOptions {
    IterOptions::default().destroy_on_return(false)
}

fn objects(items: &[u32], eof: bool) -> Readable<u32> {
    let r = Readable::pushed(ReadableOptions::objects());
    for &n in items {
        r.push(n);
    }
    if eof {
        r.push_eof();
    }
    r
}

fn listeners(r: &Readable<u32>) -> [usize; 5] {
    [
        StreamEvent::Data,
        StreamEvent::Readable,
        StreamEvent::End,
        StreamEvent::Error,
        StreamEvent::Close,
    ]
    .map(|e| r.listener_count(e))
}

// The documentation's example:
//   for await (const x of r.iterator({ destroyOnReturn: false })) { a(x); break; }
//   → a 1; destroyed false, no listeners left, readableFlowing false
//   for await (const x of r.iterator({ destroyOnReturn: false })) b(x);
//   → b 2, b 3; destroyed true (autoDestroy after 'end')
#[test]
fn break_leaves_the_stream_open_then_a_second_iterator_finishes_it() {
    let r = objects(&[1, 2, 3], true);
    {
        let mut it = r.stream_with(keep());
        assert_eq!(
            it.next().now_or_never().flatten().map(Result::ok),
            Some(Some(1))
        );
    }
    assert!(!r.destroyed());
    assert_eq!(listeners(&r), [0; 5]);
    assert_eq!(r.readable_flowing(), Some(false));
    let rest: Vec<u32> = block_on(r.stream_with(keep()).map(|i| i.unwrap()).collect());
    assert_eq!(rest, [2, 3]);
    run_until_idle();
    assert!(r.destroyed());
}

// try { for await (const x of r.iterator({ destroyOnReturn: false })) throw new Error('x') } catch {}
// → destroyed false, readableLength 1, no listeners; a tick later
// readableFlowing null; then r.on('data') gets [2, 3] and 'end' destroys it.
#[test]
fn throw_leaves_the_stream_for_another_consumer() {
    let r = objects(&[1, 2], false);
    {
        let mut it = r.stream_with(keep());
        assert_eq!(
            it.next().now_or_never().flatten().map(Result::ok),
            Some(Some(1))
        );
    }
    assert!(!r.destroyed());
    assert_eq!(r.readable_length(), 1);
    assert_eq!(listeners(&r), [0; 5]);
    run_until_idle();
    assert_eq!(r.readable_flowing(), None);
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let g = got.clone();
    r.on_data(move |n| g.borrow_mut().push(*n));
    r.push(3);
    r.push_eof();
    run_until_idle();
    assert_eq!(*got.borrow(), [2, 3]);
    assert!(r.readable_ended() && r.destroyed());
}

// The default (destroyOnReturn: true), and r.iterator() without options:
// for await (const x of r.iterator()) break; → destroyed true
#[test]
fn default_destroys_on_return() {
    block_on(async {
        for opts in [
            IterOptions::default(),
            IterOptions::default().destroy_on_return(true),
        ] {
            let r = objects(&[1], false);
            {
                let mut it = r.stream_with(opts);
                let _ = it.next().await;
            }
            assert!(r.destroyed());
            assert_eq!(
                r.errored().map(|e| e.code().to_string()).as_deref(),
                Some("ABORT_ERR")
            );
        }
    });
}

// setImmediate(() => r.destroy(new Error('boom')));
// for await (const x of r.iterator({ destroyOnReturn: false })) {} → throws boom, destroyed true
#[test]
fn an_error_still_ends_in_destroy() {
    block_on(async {
        let r = objects(&[], false);
        let r2 = r.clone();
        next_tick(move || r2.destroy(Some(Error::msg("boom"))));
        let mut it = r.stream_with(keep());
        let e = it.next().await.and_then(Result::err);
        assert_eq!(e.map(|e| e.code().to_string()).as_deref(), Some("boom"));
        assert!(it.next().await.is_none());
        drop(it);
        assert!(r.destroyed());
    });
}

/// A source that fails on its first read (Node's `emit('error')` on a
/// stream with `autoDestroy: false`).
struct FailsOnRead;
impl ReadableImpl<u32> for FailsOnRead {
    fn read(&self, _n: usize, src: &Source<u32>) {
        src.error(Error::msg("boom"));
    }
}

// new Readable({ objectMode: true, autoDestroy: false, read() {} }) erroring,
// with iterator({ destroyOnReturn: false }) and with the default iterator:
// → throws boom, destroyed false in both ("err-noauto", "err-noauto-default")
#[test]
fn an_error_without_auto_destroy_does_not_destroy() {
    block_on(async {
        for opts in [keep(), IterOptions::default()] {
            let r = Readable::new(ReadableOptions::objects().auto_destroy(false), FailsOnRead);
            let mut it = r.stream_with(opts);
            let e = it.next().await.and_then(Result::err);
            assert_eq!(e.map(|e| e.code().to_string()).as_deref(), Some("boom"));
            drop(it);
            assert!(!r.destroyed());
        }
    });
}

// new Readable({ objectMode: true, autoDestroy: false }); push(1); push(null);
// for await (const x of r.iterator({ destroyOnReturn: false })) {}
// → destroyed false, no listeners left
#[test]
fn ended_without_auto_destroy_leaves_no_listeners() {
    block_on(async {
        let r = Readable::pushed(ReadableOptions::objects().auto_destroy(false));
        r.push(1u32);
        r.push_eof();
        let all: Vec<u32> = r.stream_with(keep()).map(|i| i.unwrap()).collect().await;
        assert_eq!(all, [1]);
        assert!(!r.destroyed());
        assert_eq!(listeners(&r), [0; 5]);
    });
}
