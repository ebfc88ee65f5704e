//! gzip as a Transform: file → gzip → file, with flate2's encoder.
//!
//! `cargo run -p highwater --example compress -- IN OUT.gz` compresses IN
//! into OUT.gz (without arguments it makes a sample file in the temporary
//! directory), then decompresses the result to check it.
//!
//! The encoder is synchronous: each chunk written to the Transform is fed
//! to it, and whatever compressed bytes it produced so far are pushed on;
//! at the end, `flush` finishes the gzip stream and pushes the trailer.
//! Backpressure is the Transform's: when the output file is slow, the
//! compressed side fills, the held write callback stops the input, and the
//! file read stream pauses.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::path::PathBuf;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use highwater::fs::{create_read_stream, create_write_stream};
use highwater::{
    Error, Hooks, Pipeline, Transform, TransformDone, TransformImpl, TransformOptions,
};

/// Node's `zlib.createGzip()`, in a dozen lines.
struct Gzip(RefCell<Option<GzEncoder<Vec<u8>>>>);

impl Gzip {
    fn new(level: Compression) -> Self {
        Gzip(RefCell::new(Some(GzEncoder::new(Vec::new(), level))))
    }
}

impl TransformImpl<Bytes, Bytes> for Gzip {
    fn transform(&self, chunk: Bytes, done: TransformDone<Bytes>) {
        let result = match self.0.borrow_mut().as_mut() {
            None => Err(Error::msg("gzip: write after the end")),
            Some(enc) => match enc.write_all(&chunk) {
                // What the encoder produced so far (often nothing yet).
                Ok(()) => Ok(Some(std::mem::take(enc.get_mut())).filter(|o| !o.is_empty())),
                Err(e) => Err(Error::io(e, "deflate", None)),
            },
        };
        done.call(result.map(|o| o.map(Bytes::from)));
    }

    fn flush(&self, done: TransformDone<Bytes>) {
        let enc = self.0.borrow_mut().take();
        done.call(match enc.map(GzEncoder::finish) {
            Some(Ok(rest)) => Ok(Some(Bytes::from(rest))),
            Some(Err(e)) => Err(Error::io(e, "deflate", None)),
            None => Ok(None),
        });
    }

    fn hooks(&self) -> Hooks {
        Hooks::FLUSH
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (input, output) = match (args.next(), args.next()) {
        (Some(i), Some(o)) => (PathBuf::from(i), PathBuf::from(o)),
        _ => {
            let dir = std::env::temp_dir();
            let sample = dir.join("highwater-compress-sample.txt");
            let line = "highwater streams: Node's backpressure, in Rust.\n";
            std::fs::write(&sample, line.repeat(20_000))?;
            (sample, dir.join("highwater-compress-sample.txt.gz"))
        }
    };

    let (i, o) = (input.clone(), output.clone());
    highwater::block_on(async move {
        let src = create_read_stream(&i, Default::default())?;
        let dst = create_write_stream(&o, Default::default())?;
        let gzip: Transform = Transform::new(
            TransformOptions::default(),
            Gzip::new(Compression::default()),
        );
        Pipeline::new(&src).through(&gzip).run(&dst).await
    })?;

    // Check: decompress and compare.
    let original = std::fs::read(&input)?;
    let compressed = std::fs::read(&output)?;
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut decoded)?;
    if decoded != original {
        return Err("the decompressed output differs from the input".into());
    }
    println!(
        "{} ({} bytes) -> {} ({} bytes), decompresses to the input",
        input.display(),
        original.len(),
        output.display(),
        compressed.len()
    );
    Ok(())
}
