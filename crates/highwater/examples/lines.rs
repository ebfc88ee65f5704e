//! A line splitter: a Transform that takes bytes and gives `String` lines
//! (mixed modes: bytes in, objects out), pushing as many lines as a chunk
//! holds, keeping the unterminated rest, and pushing it at the end (its
//! flush). Used in a pipeline: `cargo run -p highwater --example lines`.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use highwater::prelude::*;
use highwater::{
    Error, Hooks, Pipeline, Readable, ReadableOptions, Transform, TransformDone, TransformImpl,
    TransformOptions, Writable, WritableOptions,
};

/// Bytes in, one `String` per line out. Lines are cut on `\n` (a `\r`
/// before it is dropped) and decoded whole, so a character split across
/// chunks is never cut.
#[derive(Default)]
struct LineSplitter {
    rest: RefCell<Vec<u8>>,
}

impl LineSplitter {
    fn line(bytes: &[u8]) -> Result<String, Error> {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::custom("ERR_INVALID_UTF8", format!("line is not UTF-8: {e}")))
    }
}

impl TransformImpl<Bytes, String> for LineSplitter {
    fn transform(&self, chunk: Bytes, done: TransformDone<String>) {
        let mut rest = self.rest.borrow_mut();
        rest.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(i) = rest[start..].iter().position(|&b| b == b'\n') {
            match Self::line(&rest[start..start + i]) {
                // Node's `this.push(line)`, as many times as there are lines.
                Ok(line) => {
                    done.push(line);
                }
                Err(e) => {
                    drop(rest);
                    return done.call(Err(e));
                }
            }
            start += i + 1;
        }
        rest.drain(..start);
        drop(rest);
        done.call(Ok(None));
    }

    fn flush(&self, done: TransformDone<String>) {
        let rest = std::mem::take(&mut *self.rest.borrow_mut());
        if rest.is_empty() {
            done.call(Ok(None));
        } else {
            // The last line, without its newline.
            done.call(Self::line(&rest).map(Some));
        }
    }

    fn hooks(&self) -> Hooks {
        Hooks::FLUSH
    }
}

fn main() {
    // Bytes, cut anywhere: in the middle of lines and of 'é' (0xC3 0xA9).
    let text = "first line\nsecond, café\r\nthird\nno newline at the end";
    let bytes = text.as_bytes();
    let cut = [3, 20, 23, 30]; // 23 falls between the two bytes of 'é'

    let src = Readable::<Bytes>::pushed(ReadableOptions::default());
    let splitter = Transform::new(
        TransformOptions::new(
            WritableOptions::<Bytes>::default(),
            // Objects out: the readable mark counts lines, not bytes.
            ReadableOptions::<String>::objects().high_water_mark(2),
        ),
        LineSplitter::default(),
    );
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let sink = Writable::from_fn(WritableOptions::objects(), move |line: String| {
        println!("{:>2}: {line}", s.borrow().len() + 1);
        s.borrow_mut().push(line);
        Ok(())
    });
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    Pipeline::new(&src)
        .through(&splitter)
        .to(&sink, move |r| *o.borrow_mut() = Some(r));

    let mut at = 0;
    for &end in cut.iter().chain([bytes.len()].iter()) {
        src.push(Bytes::copy_from_slice(&bytes[at..end]));
        at = end;
    }
    src.push_eof();
    highwater::run_until_idle();

    assert!(matches!(*outcome.borrow(), Some(Ok(()))));
    assert_eq!(
        *seen.borrow(),
        [
            "first line",
            "second, café",
            "third",
            "no newline at the end"
        ]
    );
}
