//! A child process as two streams: its stdin as a Writable, its stdout as a
//! Readable, piped through a Transform.
//!
//! `cargo run -p highwater --example child_process` sorts some words with
//! `sort` and prints them upper-cased:
//!
//! ```text
//! words (Readable::from_try_stream) ─pipeline─▶ sort's stdin (Writable::from_async_write)
//! sort's stdout (Readable::from_async_read) ─pipeline─▶ Upper (Transform) ─▶ print
//! ```
//!
//! Both pipelines run at once on the loop: `sort` reads all its input
//! before it writes, but with a program that answers as it reads (`cat`,
//! `tr`), the stdin side would pause whenever the pipe to the child is full,
//! and the stdout side whenever the printer is slower than the child.

use std::process::Stdio;

use bytes::Bytes;
use highwater::{
    Error, Pipeline, Readable, ReadableOptions, Transform, TransformDone, TransformImpl,
    TransformOptions, Writable, WritableOptions,
};

struct Upper;

impl TransformImpl<Bytes, Bytes> for Upper {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        done.call(Ok(Some(Bytes::from(chunk.to_ascii_uppercase()))));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let status = highwater::block_on(async {
        let mut child = tokio::process::Command::new("sort")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the child's pipes are missing".into());
        };

        // Into the child: lines from a Stream, written to its stdin. end()
        // shuts stdin down, so `sort` sees EOF.
        let words = ["pear", "apple", "fig", "banana", "cherry", "date"];
        let lines = futures::stream::iter(words.map(|w| Bytes::from(format!("{w}\n"))));
        let source = Readable::from_try_stream(
            ReadableOptions::default(),
            futures::StreamExt::map(lines, Ok::<_, Error>),
        );
        let stdin = Writable::from_async_write(WritableOptions::default(), stdin);
        let feed = Pipeline::new(&source).run(&stdin);

        // Out of the child: its stdout, through a Transform, printed.
        let out = Readable::from_async_read(ReadableOptions::default(), stdout);
        let upper: Transform = Transform::new(TransformOptions::default(), Upper);
        let print = Writable::from_fn(WritableOptions::default(), |chunk: Bytes| {
            print!("{}", String::from_utf8_lossy(&chunk));
            Ok(())
        });
        let drain = Pipeline::new(&out).through(&upper).run(&print);

        let (fed, drained) = futures::join!(feed, drain);
        fed?;
        drained?;
        Ok::<_, Box<dyn std::error::Error>>(child.wait().await?)
    })?;
    println!("sort exited with {status}");
    Ok(())
}
