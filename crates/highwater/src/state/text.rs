//! Text on a byte readable side: Node's `setEncoding('utf8')` and its
//! `StringDecoder`, without strings.
//!
//! Node decodes every pushed chunk with a `StringDecoder` once an encoding
//! is set, buffers strings, and counts them in UTF-16 code units. highwater
//! keeps the chunk type (`Bytes`), so pipes and generic code keep working,
//! and guarantees instead that every chunk of a side with an encoding holds
//! whole, valid UTF-8 characters (invalid input becomes U+FFFD, as Node's
//! decoder does). The side's lengths (`readable_length`, `read(n)`, the mark)
//! then count UTF-16 code units, as Node's do: the side swaps its chunk
//! measures ([`ChunkOps`]) for text ones, so the byte hot path pays one
//! `Option` test in `push`.
//!
//! [`Utf8Decoder`] is a port of Node's `src/string_decoder.cc` (UTF-8 part):
//! an incomplete character at the end of a chunk is held (judged by its lead
//! byte alone, as Node does) until the next chunk completes it, and the end
//! of the stream flushes what is held as U+FFFD.

use bytes::Bytes;

use super::chunk::{ByteChunk, ChunkOps};
use super::error::{Error, ErrorKind};

/// A text encoding for [`set_encoding`](crate::ReadableSide::set_encoding)
/// and [`ReadableOptions::encoding`](crate::ReadableOptions::encoding).
/// highwater decodes UTF-8 only; Node's other encodings (`hex`, `base64`,
/// `base64url`, `latin1`/`binary`, `ascii`, `utf16le`/`ucs2`) are not
/// supported: [`Encoding::from_name`] rejects them with
/// `ERR_UNSUPPORTED_ENCODING`.
///
/// # Examples
///
/// ```
/// use highwater::Encoding;
///
/// assert_eq!(Encoding::from_name("UTF-8").unwrap(), Encoding::Utf8);
/// assert_eq!(Encoding::Utf8.as_str(), "utf8"); // Node's `readableEncoding`
/// assert_eq!(Encoding::from_name("hex").unwrap_err().code(), "ERR_UNSUPPORTED_ENCODING");
/// assert_eq!(Encoding::from_name("nope").unwrap_err().code(), "ERR_UNKNOWN_ENCODING");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// UTF-8 (Node's `'utf8'`, also the encoding of `setEncoding(null)`).
    #[default]
    Utf8,
}

impl Encoding {
    /// The encoding Node calls `name` (case-insensitive, as Node's
    /// `normalizeEncoding`): `utf8`/`utf-8` is [`Encoding::Utf8`]; Node's
    /// other encodings fail with `ERR_UNSUPPORTED_ENCODING`, any other name
    /// with Node's `ERR_UNKNOWN_ENCODING`.
    ///
    /// ```
    /// use highwater::Encoding;
    ///
    /// assert_eq!(Encoding::from_name("utf8").unwrap(), Encoding::Utf8);
    /// assert!(Encoding::from_name("base64").is_err());
    /// ```
    pub fn from_name(name: &str) -> Result<Encoding, Error> {
        match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Ok(Encoding::Utf8),
            "hex" | "base64" | "base64url" | "latin1" | "binary" | "ascii" | "utf16le"
            | "utf-16le" | "ucs2" | "ucs-2" => {
                Err(Error::new(ErrorKind::UnsupportedEncoding(name.to_string())))
            }
            _ => Err(Error::new(ErrorKind::UnknownEncoding(name.to_string()))),
        }
    }

    /// Node's name of the encoding (what `readableEncoding` returns).
    ///
    /// ```
    /// assert_eq!(highwater::Encoding::Utf8.as_str(), "utf8");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf8",
        }
    }
}

impl std::str::FromStr for Encoding {
    type Err = Error;

    /// As [`Encoding::from_name`].
    ///
    /// ```
    /// let e: highwater::Encoding = "utf-8".parse().unwrap();
    /// assert_eq!(e, highwater::Encoding::Utf8);
    /// ```
    fn from_str(s: &str) -> Result<Encoding, Error> {
        Encoding::from_name(s)
    }
}

/// A byte chunk type that can carry decoded text: what
/// [`set_encoding`](crate::ReadableSide::set_encoding) needs of a readable
/// side's chunks (implemented for `Bytes` and `Vec<u8>`).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::TextChunk;
///
/// let c = <Bytes as TextChunk>::from_text("é".to_string());
/// assert_eq!(TextChunk::as_bytes(&c), "é".as_bytes());
/// ```
pub trait TextChunk: ByteChunk {
    /// The chunk's bytes.
    ///
    /// ```
    /// use highwater::TextChunk;
    /// assert_eq!(TextChunk::as_bytes(&b"ab".to_vec()), b"ab");
    /// ```
    fn as_bytes(&self) -> &[u8];
    /// A chunk holding the UTF-8 bytes of `text`.
    ///
    /// ```
    /// use highwater::TextChunk;
    /// assert_eq!(<Vec<u8> as TextChunk>::from_text("ab".into()), b"ab".to_vec());
    /// ```
    fn from_text(text: String) -> Self;
}

impl TextChunk for Bytes {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn from_text(text: String) -> Self {
        Bytes::from(text)
    }
}

impl TextChunk for Vec<u8> {
    fn as_bytes(&self) -> &[u8] {
        self
    }
    fn from_text(text: String) -> Self {
        text.into_bytes()
    }
}

/// The length of valid UTF-8 in UTF-16 code units (JavaScript's
/// `string.length`): one per character, two for those above U+FFFF.
pub(crate) fn utf16_len(b: &[u8]) -> usize {
    // Every byte that is not a continuation byte starts a character; a
    // 4-byte lead (0xF0..) starts one needing a surrogate pair.
    b.iter()
        .map(|&x| usize::from((x & 0xC0) != 0x80) + usize::from(x >= 0xF0))
        .sum()
}

/// The byte index in valid UTF-8 `b` after `n` UTF-16 code units, rounded
/// up to a whole character (JavaScript would split a surrogate pair).
pub(crate) fn utf16_to_byte_index(b: &[u8], n: usize) -> usize {
    let mut units = 0;
    let mut i = 0;
    while i < b.len() && units < n {
        let lead = b[i];
        let (w, u) = match lead {
            0x00..=0x7F => (1, 1),
            0xC0..=0xDF => (2, 1),
            0xE0..=0xEF => (3, 1),
            _ => (4, 2),
        };
        i += w;
        units += u;
    }
    i.min(b.len())
}

/// Node's `StringDecoder` for UTF-8 (`src/string_decoder.cc`): holds an
/// incomplete character across chunks.
#[derive(Debug, Default, Clone)]
pub(crate) struct Utf8Decoder {
    buf: [u8; 4],
    buffered: usize,
    missing: usize,
}

impl Utf8Decoder {
    /// `decoder.write(chunk)`: the decoded text of `chunk` and what was held
    /// before it. Returns `chunk` itself (no copy) when it is valid UTF-8 and
    /// nothing was held or cut.
    pub(crate) fn write<R: TextChunk>(&mut self, chunk: R) -> R {
        let data = chunk.as_bytes();
        let mut start = 0;
        let mut prepend: Option<String> = None;
        if self.missing > 0 {
            let mut take = data.len().min(self.missing);
            if let Some(i) = data[..take].iter().position(|&x| (x & 0xC0) != 0x80) {
                // Not a continuation byte: the held character is invalid.
                self.missing = 0;
                take = i;
            }
            self.buf[self.buffered..self.buffered + take].copy_from_slice(&data[..take]);
            self.buffered += take;
            self.missing = self.missing.saturating_sub(take);
            start = take;
            if self.missing == 0 {
                prepend = Some(String::from_utf8_lossy(&self.buf[..self.buffered]).into_owned());
                self.buffered = 0;
            } else {
                return R::from_text(String::new());
            }
        }
        let body = &data[start..];
        let held = held_tail(body);
        if held.0 > 0 {
            let at = body.len() - held.0;
            self.buf[..held.0].copy_from_slice(&body[at..]);
            self.buffered = held.0;
            self.missing = held.1;
        }
        let body = &body[..body.len() - held.0];
        match prepend {
            None if start == 0 && std::str::from_utf8(body).is_ok() => {
                let n = body.len();
                let mut chunk = chunk;
                if n == chunk.as_bytes().len() {
                    chunk
                } else {
                    ByteChunk::split_to(&mut chunk, n)
                }
            }
            p => {
                let mut s = p.unwrap_or_default();
                s.push_str(&String::from_utf8_lossy(body));
                R::from_text(s)
            }
        }
    }

    /// `decoder.end()`: what is held, as U+FFFD (`None` if nothing is).
    pub(crate) fn end<R: TextChunk>(&mut self) -> Option<R> {
        if self.buffered == 0 {
            return None;
        }
        let s = String::from_utf8_lossy(&self.buf[..self.buffered]).into_owned();
        self.buffered = 0;
        self.missing = 0;
        Some(R::from_text(s))
    }
}

/// Node's scan of a chunk's end: `(bytes to hold, bytes still missing)`
/// when it ends inside a character (judged by the lead byte, as Node does).
fn held_tail(data: &[u8]) -> (usize, usize) {
    let mut buffered = 0;
    for i in (0..data.len()).rev() {
        buffered += 1;
        let x = data[i];
        if (x & 0xC0) == 0x80 {
            if buffered >= 4 || i == 0 {
                return (0, 0);
            }
            continue;
        }
        let need = if (x & 0xE0) == 0xC0 {
            2
        } else if (x & 0xF0) == 0xE0 {
            3
        } else if (x & 0xF8) == 0xF0 {
            4
        } else {
            return (0, 0);
        };
        if buffered >= need {
            return (0, 0);
        }
        return (buffered, need - buffered);
    }
    (0, 0)
}

/// The decoding state of a readable side with an encoding.
pub(crate) struct TextState<R> {
    pub(crate) encoding: Encoding,
    pub(crate) decoder: Utf8Decoder,
    pub(crate) decode: fn(&mut Utf8Decoder, R) -> R,
    pub(crate) end: fn(&mut Utf8Decoder) -> Option<R>,
    /// Decodes a chunk on its own (for `unshift`), lossily.
    pub(crate) whole: fn(R) -> R,
}

impl<R: TextChunk> TextState<R> {
    pub(crate) fn new(encoding: Encoding) -> Self {
        fn decode<R: TextChunk>(d: &mut Utf8Decoder, c: R) -> R {
            d.write(c)
        }
        fn end<R: TextChunk>(d: &mut Utf8Decoder) -> Option<R> {
            d.end()
        }
        fn whole<R: TextChunk>(c: R) -> R {
            if std::str::from_utf8(c.as_bytes()).is_ok() {
                c
            } else {
                R::from_text(String::from_utf8_lossy(c.as_bytes()).into_owned())
            }
        }
        TextState {
            encoding,
            decoder: Utf8Decoder::default(),
            decode: decode::<R>,
            end: end::<R>,
            whole: whole::<R>,
        }
    }
}

/// The measures of a text side: lengths in UTF-16 code units, `read(n)`
/// splitting after `n` of them (at a character boundary).
pub(crate) fn text_ops<R: TextChunk>() -> ChunkOps<R> {
    fn len<R: TextChunk>(c: &R) -> usize {
        // A chunk not decoded yet (`push` tests for empty chunks before
        // decoding, as Node tests the Buffer's length) may be continuation
        // bytes only: it is not empty. Decoded text is empty only when it
        // has no bytes, so this changes no length of buffered text.
        let b = c.as_bytes();
        utf16_len(b).max(usize::from(!b.is_empty()))
    }
    fn split<R: TextChunk>(c: &mut R, n: usize) -> R {
        let at = utf16_to_byte_index(c.as_bytes(), n);
        ByteChunk::split_to(c, at)
    }
    ChunkOps {
        len: len::<R>,
        split_to: split::<R>,
        concat: R::concat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[&[u8]]) -> Vec<String> {
        let mut d = Utf8Decoder::default();
        let mut out: Vec<String> = parts
            .iter()
            .map(|p| {
                let b: Bytes = d.write(Bytes::copy_from_slice(p));
                String::from_utf8(b.to_vec()).unwrap_or_default()
            })
            .collect();
        let e: Option<Bytes> = d.end();
        out.push(e.map_or_else(String::new, |b| String::from_utf8_lossy(&b).into()));
        out
    }

    // Each expectation is what Node 20's StringDecoder('utf8') returns for
    // the same writes (checked with node -e).
    #[test]
    fn decoder_matches_node() {
        assert_eq!(run(&[&[0xE2, 0x82], &[0x41]]), ["", "\u{FFFD}A", ""]);
        assert_eq!(run(&[&[0xE2], &[0x82, 0xAC]]), ["", "€", ""]);
        assert_eq!(run(&[&[0xF0, 0x9F], &[0x98], &[0x80]]), ["", "", "😀", ""]);
        assert_eq!(run(&[&[0xE2, 0x82]]), ["", "\u{FFFD}"]);
        assert_eq!(run(&[&[0xC3, 0x28]]), ["\u{FFFD}(", ""]);
        assert_eq!(
            run(&[&[0xED, 0xA0, 0x80]]),
            ["\u{FFFD}\u{FFFD}\u{FFFD}", ""]
        );
        assert_eq!(
            run(&[&[0xF4, 0x90, 0x80, 0x80]]),
            ["\u{FFFD}".repeat(4), String::new()]
        );
        assert_eq!(
            run(&[&[0xE2, 0x82, 0xE2], &[0x82, 0xAC]]),
            ["\u{FFFD}", "€", ""]
        );
        assert_eq!(run(&[&[0xC3], &[0xC3, 0xA9]]), ["", "\u{FFFD}é", ""]);
        assert_eq!(
            run(&[&[0xE0, 0x80], &[0x80]]),
            ["", "\u{FFFD}\u{FFFD}\u{FFFD}", ""]
        );
        assert_eq!(
            run(&[&[0x41, 0xE0, 0x80], &[0x41]]),
            ["A", "\u{FFFD}\u{FFFD}A", ""]
        );
        assert_eq!(run(&[&[0x80], &[0x41]]), ["\u{FFFD}", "A", ""]);
    }

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len("aé€😀".as_bytes()), 5);
        assert_eq!(utf16_to_byte_index("a😀b".as_bytes(), 1), 1);
        assert_eq!(utf16_to_byte_index("a😀b".as_bytes(), 2), 5); // rounded up
        assert_eq!(utf16_to_byte_index("a😀b".as_bytes(), 3), 5);
    }
}
