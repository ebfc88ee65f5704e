//! The README's `pipe` and `Pipeline` examples, runnable:
//! `cargo run -p highwater --example pipe_and_pipeline`.

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    Pipeline, Readable, ReadableOptions, Transform, TransformDone, TransformImpl, TransformOptions,
    Writable, WritableOptions,
};

struct Upper;

impl TransformImpl<Bytes, Bytes> for Upper {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        done.call(Ok(Some(Bytes::from(chunk.to_ascii_uppercase()))));
    }
}

fn printer() -> Writable<Bytes> {
    Writable::from_fn(WritableOptions::default(), |chunk: Bytes| {
        println!("{} bytes: {:?}", chunk.len(), chunk);
        Ok(())
    })
}

fn main() {
    // pipe: flows, pauses on write() == false, ends the destination at the end.
    let src = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(64 * 1024));
    let dst = printer();
    src.pipe(&dst);
    src.push(Bytes::from_static(b"hello"));
    src.push_eof();
    highwater::run_until_idle();
    assert!(dst.writable_finished());

    // Pipeline: errors destroy every stage; one callback reports the outcome.
    let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    let dst = printer();
    let upper: Transform = Transform::new(TransformOptions::default(), Upper);
    Pipeline::new(&src)
        .through(&upper)
        .to(&dst, |result| match result {
            Ok(()) => println!("done"),
            Err(e) => eprintln!("failed: {} ({})", e, e.code()),
        });
    src.push(Bytes::from_static(b"shout"));
    src.push_eof();
    highwater::run_until_idle();
}
