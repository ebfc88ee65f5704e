//! `with_readable_buffer` / `with_writable_buffer`: Node's `readableBuffer`
//! and `writableBuffer`, lent. Expected contents printed by Node 20:
//!
//! ```js
//! const w = new Writable({ objectMode: true, write(c, e, cb) {} });
//! w.write('a'); w.write('b'); w.write('c');
//! w.writableBuffer.map(b => b.chunk) // ['b', 'c']: 'a' is in the sink
//! const r = new Readable({ objectMode: true, read() {} });
//! r.push(1); r.push(2); r.read();
//! r.readableBuffer                   // [null, 2] in Node 20.20 (its array
//!                                    // keeps a consumed slot); here [2]
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use highwater::prelude::*;
use highwater::{
    run_until_idle, Done, PassThrough, Readable, ReadableOptions, TransformOptions, Writable,
    WritableImpl, WritableOptions,
};

#[derive(Clone, Default)]
struct Stuck(Rc<RefCell<Vec<Done>>>);
impl WritableImpl<&'static str> for Stuck {
    fn write(&self, _c: &'static str, done: Done) {
        self.0.borrow_mut().push(done);
    }
}

#[test]
fn writable_buffer_excludes_the_chunk_in_the_sink() {
    let sink = Stuck::default();
    let w = Writable::new(WritableOptions::objects(), sink.clone());
    for c in ["a", "b", "c"] {
        let _ = w.write(c);
    }
    let seen: Vec<&str> = w.with_writable_buffer(|it| it.copied().collect());
    assert_eq!(seen, ["b", "c"]);
    assert_eq!(w.writable_length(), 3);
    // The sink completes "a": "b" goes in, "c" waits.
    let done = sink.0.borrow_mut().remove(0);
    done.ok();
    run_until_idle();
    assert_eq!(
        w.with_writable_buffer(|it| it.copied().collect::<Vec<_>>()),
        ["c"]
    );
}

#[test]
fn readable_buffer_after_a_read() {
    let r = Readable::pushed(ReadableOptions::objects());
    r.push(1u32);
    r.push(2);
    assert_eq!(r.read(None), Some(1));
    assert_eq!(
        r.with_readable_buffer(|it| it.copied().collect::<Vec<_>>()),
        [2]
    );
    // Getters may be called inside: they only share the borrow.
    assert_eq!(
        r.with_readable_buffer(|it| (it.len(), r.readable_length())),
        (1, 1)
    );
}

#[test]
fn a_duplex_has_both_views() {
    let p = PassThrough::<u32>::new(TransformOptions::objects());
    p.cork();
    let _ = p.write(7);
    p.push(9);
    assert_eq!(
        p.with_writable_buffer(|it| it.copied().collect::<Vec<_>>()),
        [7]
    );
    assert_eq!(
        p.with_readable_buffer(|it| it.copied().collect::<Vec<_>>()),
        [9]
    );
}
