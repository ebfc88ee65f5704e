//! The program highwater started from, line for line in spirit:
//!
//! ```js
//! const reader = fs.createReadStream('input.mp4', { highWaterMark: 1024 * 1024 });
//! const writer = fs.createWriteStream('output.mp4');
//! reader.on('data', (chunk) => { if (!writer.write(chunk)) reader.pause(); });
//! writer.on('drain', () => reader.resume());
//! reader.on('end', () => { writer.end(); console.log('done'); });
//! ```
//!
//! and beside it the idiomatic version, a `Pipeline` awaited in async code.
//! Both copy in bounded memory: 1 MiB read chunks, a 16 KiB write mark.
//!
//! ```sh
//! cargo run --release -p highwater --example seed_copy -- INPUT OUTPUT              # the seed
//! cargo run --release -p highwater --example seed_copy -- INPUT OUTPUT --idiomatic  # Pipeline
//! ```

use std::process::ExitCode;

use highwater::fs::{
    create_read_stream, create_write_stream, ReadStreamOptions, WriteStreamOptions,
};
use highwater::prelude::*;
use highwater::{Error, Pipeline, WritableEvent};

/// The seed program: listeners, `pause()` on `false`, `resume()` on `'drain'`.
pub async fn seed(input: String, output: String) -> Result<(), Error> {
    let reader = create_read_stream(
        &input,
        ReadStreamOptions::default().high_water_mark(1024 * 1024),
    )?;
    let writer = create_write_stream(&output, WriteStreamOptions::default())?;

    let (w, r) = (writer.clone(), reader.clone());
    reader.on_data(move |chunk| {
        if !w.write(chunk.clone()) {
            r.pause();
        }
    });
    let r = reader.clone();
    writer.on(WritableEvent::Drain, move || r.resume());
    let w = writer.clone();
    reader.on_end(move || {
        w.end();
        println!("done");
    });
    // Node would throw on an unhandled 'error'; here both errors end the run.
    let r = reader.clone();
    writer.on_error(move |_| r.destroy(None));

    highwater::finished_async(&reader).await?;
    writer.writable_finished_async().await
}

/// The idiomatic version: one pipeline, errors propagated, awaited.
pub async fn idiomatic(input: String, output: String) -> Result<(), Error> {
    let reader = create_read_stream(
        &input,
        ReadStreamOptions::default().high_water_mark(1024 * 1024),
    )?;
    let writer = create_write_stream(&output, WriteStreamOptions::default())?;
    Pipeline::new(&reader).run(&writer).await?;
    println!("done");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output, idiom) = match args.as_slice() {
        [i, o] => (i.clone(), o.clone(), false),
        [i, o, flag] if flag == "--idiomatic" => (i.clone(), o.clone(), true),
        _ => {
            eprintln!("usage: seed_copy INPUT OUTPUT [--idiomatic]");
            return ExitCode::from(2);
        }
    };
    let result = if idiom {
        highwater::block_on(idiomatic(input, output))
    } else {
        highwater::block_on(seed(input, output))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed_copy: {e}");
            ExitCode::FAILURE
        }
    }
}
