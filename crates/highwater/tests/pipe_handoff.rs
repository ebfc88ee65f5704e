//! The pipe's hand-off (issue 15): a pipe that is its source's only
//! `'data'` listener gets each chunk moved to it, not copied; with other
//! `'data'` listeners every listener still sees every chunk, in order, and
//! the pipe gets its own copy. A chunk type that counts its clones tells
//! the two paths apart, so these tests fail if the hand-off copies, drops,
//! reorders or skips a chunk, or if it is taken while another listener
//! needs the chunk.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use highwater::prelude::*;
use highwater::{
    PassThrough, Readable, ReadableOptions, TransformOptions, Writable, WritableOptions,
};

thread_local! {
    static CLONES: Cell<usize> = const { Cell::new(0) };
}

/// A chunk that counts how often it is cloned (per thread: each test runs
/// on its own thread).
#[derive(Debug, PartialEq)]
struct Counted(u32);

impl Clone for Counted {
    fn clone(&self) -> Self {
        CLONES.with(|c| c.set(c.get() + 1));
        Counted(self.0)
    }
}

fn clones() -> usize {
    CLONES.with(Cell::get)
}

fn source(n: u32) -> Readable<Counted> {
    Readable::from_iter(ReadableOptions::objects(), (0..n).map(Counted))
}

fn sink() -> (Writable<Counted>, Rc<RefCell<Vec<u32>>>) {
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let w = Writable::from_fn(WritableOptions::objects(), move |c: Counted| {
        g.borrow_mut().push(c.0);
        Ok(())
    });
    (w, got)
}

#[test]
fn a_single_pipe_moves_every_chunk() {
    let r = source(100);
    let (w, got) = sink();
    r.pipe(&w);
    highwater::run_until_idle();
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
    assert!(w.writable_finished());
    assert_eq!(clones(), 0, "a lone pipe copied chunks");
}

#[test]
fn a_chain_of_pipes_moves_every_chunk_through_a_transform() {
    let r = source(100);
    let t = PassThrough::<Counted>::new(TransformOptions::objects());
    let (w, got) = sink();
    r.pipe(&t).pipe(&w);
    highwater::run_until_idle();
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
    assert_eq!(clones(), 0, "a chain of lone pipes copied chunks");
}

#[test]
fn another_data_listener_sees_every_chunk_and_the_pipe_gets_a_copy() {
    let r = source(100);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    r.on_data(move |c: &Counted| s.borrow_mut().push(c.0));
    let (w, got) = sink();
    r.pipe(&w);
    highwater::run_until_idle();
    let all: Vec<u32> = (0..100).collect();
    assert_eq!(*seen.borrow(), all);
    assert_eq!(*got.borrow(), all);
    assert_eq!(clones(), 100, "each chunk copied once, for the pipe");
}

#[test]
fn two_pipes_each_get_every_chunk() {
    let r = source(50);
    let (w1, got1) = sink();
    let (w2, got2) = sink();
    r.pipe(&w1);
    r.pipe(&w2);
    highwater::run_until_idle();
    let all: Vec<u32> = (0..50).collect();
    assert_eq!(*got1.borrow(), all);
    assert_eq!(*got2.borrow(), all);
    assert_eq!(clones(), 100, "each pipe takes its own copy of each chunk");
}

#[test]
fn a_listener_added_mid_stream_turns_the_hand_off_off() {
    // The pipe is alone for the first chunks, then a second listener joins
    // from inside the sink: from then on both see each chunk.
    let r = source(10);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, s, rr) = (got.clone(), seen.clone(), r.clone());
    let w = Writable::from_fn(WritableOptions::objects(), move |c: Counted| {
        g.borrow_mut().push(c.0);
        if c.0 == 4 {
            let s = s.clone();
            rr.on_data(move |c: &Counted| s.borrow_mut().push(c.0));
        }
        Ok(())
    });
    r.pipe(&w);
    highwater::run_until_idle();
    assert_eq!(*got.borrow(), (0..10).collect::<Vec<_>>());
    assert_eq!(*seen.borrow(), (5..10).collect::<Vec<_>>());
    assert_eq!(clones(), 5, "copies only while another listener listens");
}
