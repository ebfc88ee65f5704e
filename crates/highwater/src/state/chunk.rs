//! How chunks are measured: a byte chunk counts its length toward the mark
//! and can be split (`read(n)`) and joined (`read()` in paused mode); an
//! object counts 1; a weighted object counts what its weight function says.

use bytes::{Bytes, BytesMut};

/// How a byte stream measures a chunk: its length in bytes.
///
/// Implemented for the usual byte containers; implement it for your own
/// chunk type to use it in a byte-mode stream.
///
/// # Examples
///
/// A frame that counts its 4-byte header toward the mark:
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{ByteLen, Writable, WritableOptions};
///
/// struct Frame(Vec<u8>);
/// impl ByteLen for Frame {
///     fn byte_len(&self) -> usize {
///         4 + self.0.len()
///     }
/// }
///
/// let w = Writable::from_fn(WritableOptions::default().high_water_mark(10), |_f: Frame| Ok(()));
/// w.cork(); // keep the frames buffered
/// assert!(w.write(Frame(vec![0; 2])));  // 6 bytes < 10
/// assert!(!w.write(Frame(vec![0; 2]))); // 12 bytes: wait for 'drain'
/// assert_eq!(w.writable_length(), 12);
/// ```
pub trait ByteLen {
    /// The chunk's length in bytes.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::ByteLen;
    ///
    /// assert_eq!(Bytes::from_static(b"abc").byte_len(), 3);
    /// assert_eq!(String::from("héllo").byte_len(), 6); // bytes, not chars
    /// assert_eq!(vec![0u8; 5].byte_len(), 5);
    /// ```
    fn byte_len(&self) -> usize;
}

impl ByteLen for Bytes {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for BytesMut {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for Box<[u8]> {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for String {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for &'static [u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
}
impl ByteLen for &'static str {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// A byte chunk a Readable can split (for `read(n)`) and join (for `read()`
/// in paused mode, which returns everything buffered as one chunk).
///
/// # Examples
///
/// `read(n)` joins and splits the buffered chunks:
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// let r = Readable::<Vec<u8>>::pushed(ReadableOptions::default());
/// r.push(b"abc".to_vec());
/// r.push(b"def".to_vec());
/// assert_eq!(r.read(Some(4)), Some(b"abcd".to_vec())); // "abc" + the first byte of "def"
/// assert_eq!(r.read(None), Some(b"ef".to_vec()));
/// ```
pub trait ByteChunk: ByteLen + Sized + 'static {
    /// Splits off and returns the first `at` bytes, leaving the rest in `self`.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::ByteChunk;
    ///
    /// let mut v = b"hello".to_vec();
    /// let head = ByteChunk::split_to(&mut v, 2);
    /// assert_eq!((&head[..], &v[..]), (&b"he"[..], &b"llo"[..]));
    /// ```
    fn split_to(&mut self, at: usize) -> Self;
    /// Joins `parts` (of `total` bytes in all) into one chunk.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::ByteChunk;
    ///
    /// let parts = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")];
    /// assert_eq!(<Bytes as ByteChunk>::concat(parts, 5), Bytes::from_static(b"abcde"));
    /// ```
    fn concat(parts: Vec<Self>, total: usize) -> Self;
}

impl ByteChunk for Bytes {
    fn split_to(&mut self, at: usize) -> Self {
        Bytes::split_to(self, at)
    }
    fn concat(parts: Vec<Self>, total: usize) -> Self {
        let mut out = BytesMut::with_capacity(total);
        for p in parts {
            out.extend_from_slice(&p);
        }
        out.freeze()
    }
}

impl ByteChunk for Vec<u8> {
    fn split_to(&mut self, at: usize) -> Self {
        let rest = self.split_off(at);
        std::mem::replace(self, rest)
    }
    fn concat(parts: Vec<Self>, total: usize) -> Self {
        let mut out = Vec::with_capacity(total);
        for p in parts {
            out.extend_from_slice(&p);
        }
        out
    }
}

/// How the chunks of one side are measured, split and joined: the byte,
/// object or weighted mode of its options, as plain functions so that the
/// hot path has no branch on the mode.
pub(crate) struct ChunkOps<R> {
    pub(crate) len: fn(&R) -> usize,
    /// Splits off and returns the first `n` bytes (byte mode only).
    pub(crate) split_to: fn(&mut R, usize) -> R,
    /// Joins chunks into one of `total` bytes (byte mode only).
    pub(crate) concat: fn(Vec<R>, usize) -> R,
}

impl<R> Clone for ChunkOps<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for ChunkOps<R> {}

impl<R: ByteChunk> ChunkOps<R> {
    /// Byte mode: lengths count, chunks split and join.
    pub(crate) fn bytes() -> Self {
        ChunkOps {
            len: R::byte_len,
            split_to: R::split_to,
            concat: R::concat,
        }
    }
}

impl<R> ChunkOps<R> {
    /// Object mode: each chunk counts 1 and is never split or joined.
    pub(crate) fn objects() -> Self {
        fn one<R>(_: &R) -> usize {
            1
        }
        ChunkOps {
            len: one::<R>,
            ..Self::weighted(one::<R>)
        }
    }

    /// Weighted object mode: each chunk counts `len(chunk)`, and is never
    /// split or joined.
    pub(crate) fn weighted(len: fn(&R) -> usize) -> Self {
        fn no_split<R>(_: &mut R, _: usize) -> R {
            unreachable!("object-mode chunks are never split")
        }
        fn no_concat<R>(mut parts: Vec<R>, _: usize) -> R {
            match parts.pop() {
                Some(p) if parts.is_empty() => p,
                _ => unreachable!("object-mode chunks are never joined"),
            }
        }
        ChunkOps {
            len,
            split_to: no_split::<R>,
            concat: no_concat::<R>,
        }
    }
}
