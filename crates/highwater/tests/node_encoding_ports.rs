//! Text on byte readable sides: `set_encoding` / the `encoding` option
//! (Node's `setEncoding('utf8')`), ports of Node's tests and property tests.
//!
//! highwater keeps `Bytes` chunks where Node has strings: a chunk Node
//! gives as the string `s` is here the UTF-8 bytes of `s`, always whole
//! characters; lengths count UTF-16 code units as Node's do. Only UTF-8 is
//! supported, so the hex, base64 and utf16le cases of Node's files are left
//! out (`Encoding::from_name` rejects those names with
//! `ERR_UNSUPPORTED_ENCODING`, tested below).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::StreamExt;
use highwater::prelude::*;
use highwater::{
    run_until_idle, Encoding, PassThrough, Readable, ReadableImpl, ReadableOptions, Source,
    TransformOptions,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

mod common;
use common::Macro;

fn text(c: &Bytes) -> String {
    String::from_utf8(c.to_vec()).expect("a text side gives whole UTF-8 characters")
}

/// `new Readable({ read() {} })`, with the `'data'` chunks collected.
fn pushed() -> Readable<Bytes> {
    Readable::pushed(ReadableOptions::default())
}

fn collect_data(r: &Readable<Bytes>) -> Rc<RefCell<Vec<String>>> {
    let chunks = Rc::new(RefCell::new(Vec::new()));
    let c = chunks.clone();
    r.on_data(move |d: &Bytes| c.borrow_mut().push(text(d)));
    chunks
}

/// `read() { this.push(chunks.shift()) }`.
struct Shift(RefCell<Vec<Option<Bytes>>>);
impl ReadableImpl<Bytes> for Shift {
    fn read(&self, _size: usize, src: &Source<Bytes>) {
        let next = {
            let mut v = self.0.borrow_mut();
            if v.is_empty() {
                return;
            }
            v.remove(0)
        };
        match next {
            Some(c) => src.push(c),
            None => src.push_eof(),
        };
    }
}

// Port of test/parallel/test-stream-readable-setEncoding-existing-buffers.js
// (all five cases; the last one as Node 20 behaves, see there).
#[test]
fn test_stream_readable_set_encoding_existing_buffers() {
    // .setEncoding() while there are bytes already in the buffer.
    let r = pushed();
    r.push(Bytes::from_static(b"a"));
    r.push(Bytes::from_static(b"b"));
    r.set_encoding(Encoding::Utf8);
    let chunks = collect_data(&r);
    run_until_idle();
    assert_eq!(*chunks.borrow(), ["ab"]);

    // While the buffer holds a complete but chunked character.
    let r = pushed();
    for b in [0xf0u8, 0x9f, 0x8e, 0x89] {
        r.push(Bytes::copy_from_slice(&[b]));
    }
    r.set_encoding(Encoding::Utf8);
    let chunks = collect_data(&r);
    run_until_idle();
    assert_eq!(*chunks.borrow(), ["🎉"]);

    // While the buffer holds an incomplete character, finished later.
    let r = pushed();
    r.push(Bytes::from_static(&[0xf0]));
    r.push(Bytes::from_static(&[0x9f]));
    r.set_encoding(Encoding::Utf8);
    r.push(Bytes::from_static(&[0x8e]));
    r.push(Bytes::from_static(&[0x89]));
    let chunks = collect_data(&r);
    run_until_idle();
    assert_eq!(*chunks.borrow(), ["🎉"]);

    // Before flowing, after _read() buffered the first half of a character.
    let r = Readable::new(
        ReadableOptions::default(),
        Shift(RefCell::new(vec![
            Some(Bytes::from_static(&[0xf0, 0x9f])),
            Some(Bytes::from_static(&[0x8e, 0x89])),
            None,
        ])),
    );
    let _ = r.read(Some(0));
    assert_eq!(r.readable_flowing(), None);
    assert_eq!(r.readable_length(), 2);
    r.set_encoding(Encoding::Utf8);
    let chunks = collect_data(&r);
    run_until_idle();
    assert_eq!(*chunks.borrow(), ["🎉"]);

    // After EOF, with an incomplete character buffered. The upstream file
    // (of a later Node) expects ['\u{FFFD}']; Node v20.20.2 gives no chunk
    // at all (its setEncoding re-decodes the buffer into the new decoder,
    // which holds the two bytes, and the end flush already ran), then
    // 'end'. The port asserts Node 20's.
    let r = pushed();
    r.push(Bytes::from_static(&[0xf0]));
    r.push(Bytes::from_static(&[0x9f]));
    r.push_eof();
    r.set_encoding(Encoding::Utf8);
    assert_eq!(r.readable_length(), 0);
    let chunks = collect_data(&r);
    run_until_idle();
    assert!(chunks.borrow().is_empty());
    assert!(r.readable_ended());
}

// Port of test/parallel/test-stream-readable-setEncoding-null.js. Node
// starts from `encoding: 'hex'` (not supported here: the port starts from
// utf8) and checks that `setEncoding(null)` means utf8; highwater's
// `Encoding::default()` is that utf8.
#[test]
fn test_stream_readable_set_encoding_null() {
    let r: Readable<Bytes> = Readable::pushed(ReadableOptions::default().encoding(Encoding::Utf8));
    assert_eq!(r.readable_encoding().map(Encoding::as_str), Some("utf8"));
    r.set_encoding(Encoding::default());
    assert_eq!(r.readable_encoding().map(Encoding::as_str), Some("utf8"));
    // And the names Node takes: hex is Node's, not highwater's.
    let e = Encoding::from_name("hex").unwrap_err();
    assert_eq!(e.code(), "ERR_UNSUPPORTED_ENCODING");
    let e = Encoding::from_name("no-such-encoding").unwrap_err();
    assert_eq!(e.code(), "ERR_UNKNOWN_ENCODING");
    assert_eq!(e.to_string(), "Unknown encoding: no-such-encoding");
}

/// Node's `TestReader(n)`: each `_read(n)` pushes `min(n, left)` bytes of
/// `'a'` from a `setTimeout`, and `push(null)` twice at the end.
struct TestReader {
    pos: Cell<usize>,
    len: usize,
    timers: Macro,
}

impl ReadableImpl<Bytes> for TestReader {
    fn read(&self, n: usize, src: &Source<Bytes>) {
        let left = self.len - self.pos.get();
        let n = n.min(left);
        self.pos.set(self.pos.get() + n);
        let src = src.clone();
        self.timers.later(move || {
            if n == 0 {
                src.push_eof();
                src.push_eof(); // a second push(null) is ignored
                return;
            }
            src.push(Bytes::from(vec![b'a'; n]));
        });
    }
}

fn set_encoding_case(by_option: bool) -> Vec<String> {
    let timers = Macro::default();
    let opts = if by_option {
        ReadableOptions::default().encoding(Encoding::Utf8)
    } else {
        ReadableOptions::default()
    };
    let tr = Readable::new(
        opts,
        TestReader {
            pos: Cell::new(0),
            len: 100,
            timers: timers.clone(),
        },
    );
    if !by_option {
        tr.set_encoding(Encoding::Utf8);
    }
    let out = Rc::new(RefCell::new(Vec::new()));
    let (o, t) = (out.clone(), tr.clone());
    tr.on_readable(move || {
        while let Some(c) = t.read(Some(10)) {
            o.borrow_mut().push(text(&c));
        }
    });
    let ended = Rc::new(Cell::new(false));
    let e = ended.clone();
    tr.on_end(move || e.set(true));
    timers.run();
    assert!(ended.get());
    let v = out.borrow().clone();
    v
}

// Port of test/parallel/test-stream2-set-encoding.js: the 'setEncoding
// utf8' and 'encoding: utf8' cases. Left out: the hex, base64 (and
// read(13) hex) cases, encodings highwater does not decode, and
// 'chainable' (set_encoding returns nothing: Rust has no `this` to chain).
#[test]
fn test_stream2_set_encoding() {
    let expect = vec!["aaaaaaaaaa".to_string(); 10];
    assert_eq!(set_encoding_case(false), expect);
    assert_eq!(set_encoding_case(true), expect);
}

// Lengths in UTF-16 code units, push's answers, the end flush. Node 20:
//   r = new Readable({ read() {}, highWaterMark: 4 }); e = 'a😀é€' bytes
//   push(e[0..2]) true, len 2; setEncoding → len 1 ('a'), encoding utf8
//   push(e[2..4]) true, len 1; push(e[4..6]) true, len 3; push(e[6..]) false,
//   len 5; read(1) 'a' ...; push([E2 82]) then push(null): len 1, read '�'.
// Node's read(2) here would return 'a' and half of the surrogate pair of
// '😀'; highwater returns whole characters (see `set_encoding`), so the
// reads below stay on character boundaries.
#[test]
fn lengths_count_utf16_units_as_node() {
    let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(4));
    let e = "a😀é€".as_bytes();
    assert!(r.push(Bytes::copy_from_slice(&e[0..2])));
    assert_eq!(r.readable_length(), 2);
    r.set_encoding(Encoding::Utf8);
    assert_eq!(r.readable_length(), 1);
    assert!(r.push(Bytes::copy_from_slice(&e[2..4])));
    assert_eq!(r.readable_length(), 1);
    assert!(r.push(Bytes::copy_from_slice(&e[4..6])));
    assert_eq!(r.readable_length(), 3);
    assert!(!r.push(Bytes::copy_from_slice(&e[6..])));
    assert_eq!(r.readable_length(), 5);
    assert_eq!(r.read(Some(1)).as_ref().map(text).as_deref(), Some("a"));
    assert_eq!(r.readable_length(), 4);
    assert_eq!(r.read(Some(2)).as_ref().map(text).as_deref(), Some("😀"));
    assert_eq!(r.readable_length(), 2);
    assert_eq!(r.read(None).as_ref().map(text).as_deref(), Some("é€"));
    assert_eq!(r.readable_length(), 0);
    assert!(r.push(Bytes::from_static(&[0xE2, 0x82])));
    r.push_eof();
    assert_eq!(r.readable_length(), 1);
    assert_eq!(r.read(None).as_ref().map(text).as_deref(), Some("\u{FFFD}"));
}

// A split surrogate pair: where Node's read(2) would cut '😀', highwater
// returns the whole character and counts what it took.
#[test]
fn read_n_inside_a_surrogate_pair_takes_the_whole_character() {
    let r = pushed();
    r.set_encoding(Encoding::Utf8);
    r.push(Bytes::from("a😀b"));
    assert_eq!(r.readable_length(), 4);
    assert_eq!(r.read(Some(2)).as_ref().map(text).as_deref(), Some("a😀"));
    assert_eq!(r.readable_length(), 1);
}

// The readable side of a Transform (Node: `new PassThrough()`,
// `setEncoding('utf8')`, write E2 then 82 AC 41 → readableLength 2, '€A').
#[test]
fn a_transform_readable_side_decodes() {
    let p = PassThrough::<Bytes>::new(TransformOptions::default());
    p.set_encoding(Encoding::Utf8);
    let _ = p.write(Bytes::from_static(&[0xE2]));
    let _ = p.write(Bytes::from_static(&[0x82, 0xAC, 0x41]));
    assert_eq!(p.readable_length(), 2);
    assert_eq!(p.read(None).as_ref().map(text).as_deref(), Some("€A"));
}

// Flowing mode: Node 20 gives ['😀', '�x'] for pushes F0 9F | 98 80, then
// F0 | 'x' | null.
#[test]
fn flowing_data_is_whole_characters() {
    let r = pushed();
    r.set_encoding(Encoding::Utf8);
    let got = collect_data(&r);
    r.push(Bytes::from_static(&[0xF0, 0x9F]));
    r.push(Bytes::from_static(&[0x98, 0x80]));
    run_until_idle();
    r.push(Bytes::from_static(&[0xF0]));
    r.push(Bytes::from_static(b"x"));
    r.push_eof();
    run_until_idle();
    assert!(r.readable_ended());
    assert_eq!(*got.borrow(), ["😀", "\u{FFFD}x"]);
}

// Text pipes into a byte writable unchanged (Node pipes strings into
// writables the same way).
#[test]
fn a_text_side_pipes_its_bytes() {
    let src = pushed();
    src.set_encoding(Encoding::Utf8);
    let dst = PassThrough::<Bytes>::new(TransformOptions::default());
    src.pipe(&dst);
    src.push(Bytes::from_static(&[b'h', 0xC3]));
    src.push(Bytes::from_static(&[0xA9]));
    src.push_eof();
    run_until_idle();
    assert_eq!(dst.read(None).as_ref().map(text).as_deref(), Some("hé"));
}

// The typed form: `text()` gives `String`s.
#[test]
fn text_stream_gives_strings() {
    let r = pushed();
    r.push(Bytes::from_static(&[b'a', 0xE2, 0x82]));
    r.push(Bytes::from_static(&[0xAC]));
    r.push_eof();
    let texts = r.text();
    let got: Vec<String> =
        highwater::block_on(async move { texts.map(|s| s.expect("no error")).collect().await });
    assert_eq!(got.concat(), "a€");
    assert_eq!(r.readable_encoding(), Some(Encoding::Utf8));
}

/// Cuts `s` at the sorted byte offsets `cuts` (any byte, inside characters
/// too).
fn cut(s: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut at = 0;
    let mut out = Vec::new();
    for &c in cuts.iter().chain([s.len()].iter()) {
        if c >= at {
            out.push(Bytes::copy_from_slice(&s[at..c]));
            at = c;
        }
    }
    out
}

/// The longest prefix of `b` (valid UTF-8) made of whole characters.
fn whole_prefix(b: &[u8]) -> &str {
    match std::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
    }
}

// Random UTF-8 text cut at random byte boundaries: the side gives back the
// same text, every chunk whole characters, and after each push the length
// Node would report (the UTF-16 length of the whole characters received,
// the decoder holding the rest).
#[test]
fn random_text_at_random_cuts_decodes_with_node_lengths() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 500,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = (
        "\\PC{0,40}",
        prop::collection::vec(0usize..200, 0..12),
        0usize..3,
    );
    runner
        .run(&strategy, |(s, mut cuts, set_when)| {
            let bytes = s.as_bytes();
            cuts.iter_mut().for_each(|c| *c %= bytes.len() + 1);
            cuts.sort_unstable();
            let r = pushed();
            // 0: encoding from the start; 1: after the first push; 2: by option.
            let r = if set_when == 2 {
                Readable::pushed(ReadableOptions::default().encoding(Encoding::Utf8))
            } else {
                r
            };
            if set_when == 0 {
                r.set_encoding(Encoding::Utf8);
            }
            let mut got = String::new();
            let mut sent = 0;
            for (i, chunk) in cut(bytes, &cuts).into_iter().enumerate() {
                sent += chunk.len();
                r.push(chunk);
                if i == 0 && set_when == 1 {
                    r.set_encoding(Encoding::Utf8);
                }
                let whole = whole_prefix(&bytes[..sent]);
                let expect = whole.encode_utf16().count() - got.encode_utf16().count();
                prop_assert_eq!(r.readable_length(), expect);
                // Read at random moments: every other push.
                if i % 2 == 1 {
                    if let Some(c) = r.read(None) {
                        let t = String::from_utf8(c.to_vec());
                        prop_assert!(t.is_ok(), "a chunk cut a character");
                        got.push_str(&t.unwrap_or_default());
                    }
                    prop_assert_eq!(r.readable_length(), 0);
                }
            }
            r.push_eof();
            if let Some(c) = r.read(None) {
                got.push_str(&String::from_utf8(c.to_vec()).unwrap_or_default());
            }
            prop_assert_eq!(got, s);
            Ok(())
        })
        .expect("property holds");
}

// Random text cut at random points, read with random read(n): every chunk
// is whole characters, and together they are the text.
#[test]
fn random_reads_of_text_never_cut_a_character() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 300,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = (
        "\\PC{0,40}",
        prop::collection::vec(0usize..200, 0..8),
        prop::collection::vec(1usize..6, 1..20),
    );
    runner
        .run(&strategy, |(s, mut cuts, reads)| {
            let bytes = s.as_bytes();
            cuts.iter_mut().for_each(|c| *c %= bytes.len() + 1);
            cuts.sort_unstable();
            let r = pushed();
            r.set_encoding(Encoding::Utf8);
            for chunk in cut(bytes, &cuts) {
                r.push(chunk);
            }
            r.push_eof();
            let mut got = String::new();
            for n in reads.iter().cycle().take(200) {
                let before = r.readable_length();
                match r.read(Some(*n)) {
                    Some(c) => {
                        let t = String::from_utf8(c.to_vec());
                        prop_assert!(t.is_ok(), "a chunk cut a character");
                        let t = t.unwrap_or_default();
                        let units = t.encode_utf16().count();
                        // n units, or n+1 when n ends inside a surrogate pair.
                        prop_assert!(units == (*n).min(before) || units == n + 1);
                        prop_assert_eq!(r.readable_length(), before - units);
                        got.push_str(&t);
                    }
                    None => break,
                }
            }
            if let Some(c) = r.read(None) {
                got.push_str(&String::from_utf8(c.to_vec()).unwrap_or_default());
            }
            prop_assert_eq!(got, s);
            Ok(())
        })
        .expect("property holds");
}

// A file read 3 bytes at a time with `encoding: 'utf8'`. Node 20:
//   fs.createReadStream(file, { highWaterMark: 3, encoding: 'utf8' })
//   'data': ["hé","llo"," w","örl","d ","😀","!\n"], readableEncoding utf8
#[cfg(feature = "fs")]
#[test]
fn fs_read_stream_with_the_encoding_option() {
    use highwater::fs::{create_read_stream, ReadStreamOptions};
    let dir = std::env::temp_dir().join(format!("highwater-enc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("t.txt");
    std::fs::write(&path, "héllo wörld 😀!\n").expect("write");
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let enc = highwater::block_on(async move {
        let r = create_read_stream(
            &path,
            ReadStreamOptions::default()
                .high_water_mark(3)
                .encoding(Encoding::Utf8),
        )
        .expect("options");
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let tx = RefCell::new(Some(tx));
        r.on_data(move |d: &Bytes| g.borrow_mut().push(text(d)));
        r.on_close(move || {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(());
            }
        });
        let _ = rx.await;
        r.readable_encoding()
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(enc, Some(Encoding::Utf8));
    assert_eq!(*got.borrow(), ["hé", "llo", " w", "örl", "d ", "😀", "!\n"]);
}

// `unshift` after `set_encoding`: Node puts the Buffer back as is (a
// Buffer among strings); highwater decodes it on its own so that every
// chunk stays whole UTF-8, and counts it in UTF-16 units.
#[test]
fn unshift_on_a_text_side_keeps_chunks_whole() {
    let r = pushed();
    r.set_encoding(Encoding::Utf8);
    r.push(Bytes::from("😀"));
    r.unshift(Bytes::from_static(&[b'a', 0xC3])); // 'a' and a lone lead byte
    assert_eq!(r.readable_length(), 2 + 2); // "a\u{FFFD}" + '😀'
    assert_eq!(
        r.read(None).as_ref().map(text).as_deref(),
        Some("a\u{FFFD}😀")
    );
}

// Object mode with an encoding: each chunk decoded, each counting 1 (Node
// decodes object-mode chunks too, and adds the empty string a lone lead
// byte decodes to).
#[test]
fn object_mode_text_counts_items() {
    let r = Readable::<Bytes>::pushed(ReadableOptions::objects());
    r.set_encoding(Encoding::Utf8);
    r.push(Bytes::from_static(&[0xE2, 0x82]));
    r.push(Bytes::from_static(&[0xAC]));
    assert_eq!(r.readable_length(), 2);
    assert_eq!(r.read(None).as_ref().map(text).as_deref(), Some(""));
    assert_eq!(r.read(None).as_ref().map(text).as_deref(), Some("€"));
}

// Every byte readable side has it, through `ReadableSide` (checked at
// compile time for the I/O streams).
#[allow(dead_code)]
fn any_byte_side_can_decode(s: &impl ReadableSide<Bytes>) {
    s.set_encoding(Encoding::Utf8);
}
#[cfg(feature = "net")]
#[allow(dead_code)]
fn a_socket_can_decode(s: &highwater::net::Socket) {
    any_byte_side_can_decode(s);
}
#[cfg(feature = "fs")]
#[allow(dead_code)]
fn a_read_stream_can_decode(s: &highwater::fs::ReadStream) {
    any_byte_side_can_decode(s);
}
