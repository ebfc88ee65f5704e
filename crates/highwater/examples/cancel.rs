//! Cancelling a pipeline, Node's way (an `AbortSignal`) and Rust's way
//! (dropping its future): `cargo run -p highwater --example cancel`.
//!
//! A counting source feeds a transform and a sink; the sink aborts the
//! controller after it has seen three chunks. Every stream is destroyed
//! with an `AbortError` whose cause is the abort's reason, and the
//! pipeline's future fails with it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use highwater::prelude::*;
use highwater::{
    AbortController, Error, Pipeline, Readable, ReadableImpl, ReadableOptions, Source, Transform,
    TransformOptions, Writable, WritableOptions,
};

/// Pushes 1, 2, 3, … one number per `read()`, forever.
struct Counter(Cell<u32>);

impl ReadableImpl<u32> for Counter {
    fn read(&self, _size: usize, src: &Source<u32>) {
        let n = self.0.get() + 1;
        self.0.set(n);
        println!("source:    pushes {n}");
        src.push(n);
    }
}

fn describe(name: &str, s: &impl StreamBase) {
    match s.errored() {
        Some(e) => println!(
            "{name:<10} destroyed={} error={} cause={}",
            s.destroyed(),
            e.code(),
            e.cause().map_or("-".to_string(), |c| c.to_string())
        ),
        None => println!("{name:<10} destroyed={} no error", s.destroyed()),
    }
}

fn main() {
    let ac = AbortController::new();
    let source = Readable::new(
        ReadableOptions::objects().high_water_mark(1),
        Counter(Cell::new(0)),
    );
    let squares: Transform<u32, u64> = Transform::from_fn(TransformOptions::objects(), |n: u32| {
        println!("transform: {n} -> {}", u64::from(n) * u64::from(n));
        Ok(Some(u64::from(n) * u64::from(n)))
    });
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (s, ac2) = (seen.clone(), ac.clone());
    let sink = Writable::from_fn(
        WritableOptions::objects().high_water_mark(1),
        move |sq: u64| {
            println!("sink:      got {sq}");
            s.borrow_mut().push(sq);
            if s.borrow().len() == 3 {
                println!("sink:      enough, aborting");
                ac2.abort_with(Error::custom("E_ENOUGH", "three squares are enough"));
            }
            Ok(())
        },
    );

    let result = highwater::block_on(
        Pipeline::new(&source)
            .through(&squares)
            .signal(ac.signal())
            .run(&sink),
    );
    let err = result.expect_err("the pipeline was aborted");
    println!(
        "pipeline:  {} ({}), cause: {:?}",
        err.code(),
        err,
        err.cause().map(|c| c.to_string())
    );
    describe("source:", &source);
    describe("transform:", &squares);
    describe("sink:", &sink);
    println!("the sink saw {:?}", seen.borrow());
    assert_eq!(&seen.borrow()[..3], [1, 4, 9]);

    // The Rust way: drop the future. Nothing to abort; the streams are
    // destroyed with an AbortError without a cause.
    let source = Readable::pushed(ReadableOptions::objects());
    source.push(1u32);
    let sink = Writable::from_fn(WritableOptions::objects(), |_n: u32| Ok(()));
    let run = Pipeline::new(&source).run(&sink);
    highwater::run_until_idle(); // 1 is written; the source waits for more
    drop(run);
    describe("dropped:", &source);
    assert_eq!(
        source.errored().map(|e| e.code().to_owned()).as_deref(),
        Some("ABORT_ERR")
    );
}
