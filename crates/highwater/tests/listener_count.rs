//! `listener_count` on every stream type, Node-exact where Node's and the
//! library's listeners are the same ones. Each expected count was printed by
//! Node 20's `listenerCount(name)` on the equivalent JavaScript (given in the
//! comments).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    finished, run_until_idle, Done, PassThrough, Readable, ReadableOptions, StreamEvent,
    TransformOptions, Writable, WritableImpl, WritableOptions,
};

const ALL: [StreamEvent; 12] = [
    StreamEvent::Data,
    StreamEvent::Readable,
    StreamEvent::End,
    StreamEvent::Pause,
    StreamEvent::Resume,
    StreamEvent::Drain,
    StreamEvent::Prefinish,
    StreamEvent::Finish,
    StreamEvent::Pipe,
    StreamEvent::Unpipe,
    StreamEvent::Error,
    StreamEvent::Close,
];

/// The non-zero counts, as Node's
/// `Object.fromEntries(names.map(e => [e, s.listenerCount(e)]).filter(([, n]) => n))`.
fn counts(s: &impl StreamBase) -> Vec<(StreamEvent, usize)> {
    ALL.iter()
        .map(|&e| (e, s.listener_count(e)))
        .filter(|&(_, n)| n > 0)
        .collect()
}

use StreamEvent::*;

/// A sink that never completes a write (Node's `write(c, e, cb) {}`).
#[derive(Clone, Default)]
struct Stuck(Rc<RefCell<Vec<Done>>>);
impl WritableImpl<Bytes> for Stuck {
    fn write(&self, _c: Bytes, done: Done) {
        self.0.borrow_mut().push(done);
    }
}

// const r = new Readable({ read() {} }), w = new Writable({ write(c, e, cb) { cb() } });
// fresh: {} {}; r.pipe(w): src { data: 1, end: 1 } dst { finish: 1, unpipe: 1,
// error: 1, close: 1 }; r.unpipe(w): {} {}
#[test]
fn pipe_and_unpipe() {
    let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
    assert_eq!(counts(&r), []);
    assert_eq!(counts(&w), []);
    r.pipe(&w);
    assert_eq!(counts(&r), [(Data, 1), (End, 1)]);
    assert_eq!(
        counts(&w),
        [(Finish, 1), (Unpipe, 1), (Error, 1), (Close, 1)]
    );
    r.push(Bytes::from(vec![b'x'; 20000]));
    r.push(Bytes::from(vec![b'y'; 20000]));
    run_until_idle();
    assert_eq!(counts(&r), [(Data, 1), (End, 1)]);
    assert_eq!(
        counts(&w),
        [(Finish, 1), (Unpipe, 1), (Error, 1), (Close, 1)]
    );
    r.unpipe(&w);
    assert_eq!(counts(&r), []);
    assert_eq!(counts(&w), []);
}

// w = new Writable({ highWaterMark: 1, write(c, e, cb) {} }); r.pipe(w);
// r.push('abc'); r.push('def'); → after a tick: src { data: 1, end: 1 }
// dst { drain: 1, finish: 1, unpipe: 1, error: 1, close: 1 }; a second
// source piped in: dst { drain: 2, finish: 2, unpipe: 2, error: 2, close: 2 }
#[test]
fn pipe_under_backpressure_adds_drain() {
    let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    let w = Writable::new(
        WritableOptions::default().high_water_mark(1),
        Stuck::default(),
    );
    r.pipe(&w);
    r.push(Bytes::from_static(b"abc"));
    r.push(Bytes::from_static(b"def"));
    run_until_idle();
    assert_eq!(counts(&r), [(Data, 1), (End, 1)]);
    assert_eq!(
        counts(&w),
        [(Drain, 1), (Finish, 1), (Unpipe, 1), (Error, 1), (Close, 1)]
    );
    let r2 = Readable::<Bytes>::pushed(ReadableOptions::default());
    r2.pipe(&w);
    assert_eq!(
        counts(&w),
        [(Drain, 2), (Finish, 2), (Unpipe, 2), (Error, 2), (Close, 2)]
    );
}

// const p = new PassThrough(); finished(p, () => {});
// → { end: 1, prefinish: 1, finish: 1, error: 1, close: 1 }
// Node's count includes the Transform constructor's own 'prefinish'
// listener (`this.on('prefinish', prefinish)`); the library's Transform
// runs its flush without a listener, so the count here is Node's minus that one.
#[test]
fn finished_listeners() {
    let p = PassThrough::<Bytes>::new(TransformOptions::default());
    finished(&p, |_r| {});
    assert_eq!(counts(&p), [(End, 1), (Finish, 1), (Error, 1), (Close, 1)]);
}

// User listeners on every kind of stream, counted per event and removed by id.
#[test]
fn user_listeners_on_each_side() {
    let p = PassThrough::<Bytes>::new(TransformOptions::default());
    let d = p.on_data(|_c| {});
    p.once_readable(|| {});
    p.on_end(|| {});
    p.on_pause(|| {});
    p.on_resume(|| {});
    p.on_pipe(|_id| {});
    p.on_error(|_e| {});
    p.on_close(|| {});
    p.once_close(|| {});
    assert_eq!(
        counts(&p),
        [
            (Data, 1),
            (Readable, 1),
            (End, 1),
            (Pause, 1),
            (Resume, 1),
            (Pipe, 1),
            (Error, 1),
            (Close, 2)
        ]
    );
    assert!(p.off(d));
    assert_eq!(p.listener_count(Data), 0);
    assert_eq!(p.listener_count(highwater::ReadableEvent::Close), 2);
    assert_eq!(p.listener_count(highwater::WritableEvent::Close), 2);
}
