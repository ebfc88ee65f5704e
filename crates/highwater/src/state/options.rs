//! The options of each kind of stream, as Node's `new Readable(options)`,
//! `new Writable(options)` and `new Duplex(options)` take them, typed so that
//! an option that means nothing on a side does not compile there.
//!
//! * [`ReadableOptions<T>`] and [`WritableOptions<T>`] hold what one side
//!   reads. How chunks count toward the mark is chosen by the constructor of
//!   the options: `default()` is Node's byte mode (the chunk type must be
//!   bytes), [`objects`](WritableOptions::objects) Node's `objectMode: true`,
//!   [`weighted`](WritableOptions::weighted) an object mode whose mark counts
//!   a weight per chunk (beyond Node).
//! * [`DuplexOptions<R, W>`] holds one of each, so a Duplex can read objects
//!   and take bytes (or the reverse), each side with its own beyond-Node
//!   options, plus what belongs to the whole stream (`allow_half_open`).
//! * [`TransformOptions<In, Out>`] is the same for a Transform, named in the
//!   order data flows: what is written, then what is read.
//!
//! Fields are private and every setter is `#[must_use]`: options are built by
//! chaining, and a setter whose result is dropped is a warning, not a silent
//! no-op.

use std::fmt;

use super::chunk::{ByteChunk, ByteLen, ChunkOps};
use super::marks::default_high_water_mark;
use super::options_signal::SignalSlot;
use super::readable::RState;
use super::text::{Encoding, TextChunk};

/// *Beyond Node.* What a Readable's `push()` does with a chunk that would
/// take its buffer over the overflow limit (live data that cannot wait).
/// Every chunk dropped, and the error, are counted in
/// [`ReadableStats`](crate::ReadableStats).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Overflow, Readable, ReadableOptions};
///
/// // Keep the freshest 4 bytes of a live feed nobody reads yet.
/// let r: Readable<Bytes> = Readable::pushed(
///     ReadableOptions::default().high_water_mark(4).overflow(Overflow::DropOldest),
/// );
/// for b in [&b"ab"[..], b"cd", b"ef"] {
///     r.push(Bytes::copy_from_slice(b));
/// }
/// assert_eq!(r.readable_length(), 4);
/// assert_eq!(r.readable_stats().dropped_chunks, 1); // "ab"
/// assert_eq!(r.read(None).unwrap(), Bytes::from_static(b"cdef"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Buffer the chunk and return false: the producer must wait (Node).
    #[default]
    Block,
    /// Fail the stream with `ERR_STREAM_OVERFLOW` (highwater's own code).
    Error,
    /// Drop the oldest buffered chunks until the new one fits.
    DropOldest,
    /// Drop the new chunk.
    DropNewest,
}

/// How a side counts its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Node's byte mode: each chunk counts its length.
    Bytes,
    /// Node's object mode: each chunk counts 1.
    Objects,
    /// Object mode whose chunks count a weight (beyond Node).
    Weighted,
}

impl Mode {
    pub(crate) fn object_mode(self) -> bool {
        self != Mode::Bytes
    }
}

/// What both sides have: the mark and the lifecycle flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Common {
    pub(crate) high_water_mark: Option<usize>,
    pub(crate) auto_destroy: bool,
    pub(crate) emit_close: bool,
    pub(crate) max_items: Option<usize>,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            high_water_mark: None,
            auto_destroy: true,
            emit_close: true,
            max_items: None,
        }
    }
}

/// Sets a side's encoding (`RState::set_encoding`, which needs a text chunk type).
pub(crate) type ApplyEncoding<T> = fn(&mut RState<T>, Encoding);

/// Options of a [`Readable`](crate::Readable), or of the readable side of a
/// Duplex: Node's `highWaterMark`, `objectMode`, `autoDestroy`, `emitClose`,
/// and highwater's item bound and overflow policy.
///
/// The chunk mode comes from the constructor: [`default`](Self::default)
/// for bytes (`T` a [`ByteChunk`]: `Bytes`, `Vec<u8>`), [`objects`](Self::objects)
/// for Node's object mode, [`weighted`](Self::weighted) for objects with a
/// weight.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions};
///
/// let bytes: Readable<Bytes> = Readable::pushed(ReadableOptions::default().high_water_mark(1024));
/// assert_eq!(bytes.readable_high_water_mark(), 1024);
///
/// let rows: Readable<(u32, String)> = Readable::pushed(ReadableOptions::objects());
/// assert_eq!(rows.readable_high_water_mark(), 16); // Node's object-mode default
/// ```
pub struct ReadableOptions<T> {
    pub(crate) common: Common,
    pub(crate) mode: Mode,
    pub(crate) ops: ChunkOps<T>,
    pub(crate) overflow: Overflow,
    pub(crate) overflow_limit: Option<usize>,
    /// Node's `encoding` option: applied to the side's state at creation.
    pub(crate) encoding: Option<(Encoding, ApplyEncoding<T>)>,
    pub(crate) signal: Option<SignalSlot>,
}

impl<T> Clone for ReadableOptions<T> {
    fn clone(&self) -> Self {
        ReadableOptions {
            signal: self.signal.clone(),
            ..*self
        }
    }
}

impl<T> fmt::Debug for ReadableOptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadableOptions")
            .field("high_water_mark", &self.common.high_water_mark)
            .field("mode", &self.mode)
            .field("auto_destroy", &self.common.auto_destroy)
            .field("emit_close", &self.common.emit_close)
            .field("max_items", &self.common.max_items)
            .field("overflow", &self.overflow)
            .field("overflow_limit", &self.overflow_limit)
            .field("encoding", &self.encoding.map(|e| e.0))
            .finish()
    }
}

impl<T: ByteChunk> Default for ReadableOptions<T> {
    /// Byte mode with Node's defaults (mark: [`default_high_water_mark`]).
    fn default() -> Self {
        Self::with(Mode::Bytes, ChunkOps::bytes())
    }
}

impl<T> ReadableOptions<T> {
    fn with(mode: Mode, ops: ChunkOps<T>) -> Self {
        ReadableOptions {
            common: Common::default(),
            mode,
            ops,
            overflow: Overflow::Block,
            overflow_limit: None,
            encoding: None,
            signal: None,
        }
    }

    /// Node's `objectMode: true`: chunks of any type, each counting 1
    /// toward the mark (default mark: 16 items).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(ReadableOptions::objects().high_water_mark(2));
    /// assert!(r.push(1u8));
    /// assert!(!r.push(2u8)); // 2 items: the source should wait
    /// ```
    #[must_use]
    pub fn objects() -> Self {
        Self::with(Mode::Objects, ChunkOps::objects())
    }

    /// *Beyond Node.* Object mode whose mark counts `weight(&chunk)` per
    /// chunk (bytes of typed items, say) instead of 1. Combine with
    /// [`max_items`](Self::max_items) to bound the number of items too.
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Readable, ReadableOptions};
    ///
    /// let r = Readable::pushed(
    ///     ReadableOptions::weighted(|v: &Vec<u32>| v.len() * 4).high_water_mark(8),
    /// );
    /// assert!(r.push(vec![1]));        // 4 bytes < 8
    /// assert!(!r.push(vec![2, 3]));    // 12 bytes: stop producing
    /// assert_eq!(r.readable_length(), 12);
    /// ```
    #[must_use]
    pub fn weighted(weight: fn(&T) -> usize) -> Self {
        Self::with(Mode::Weighted, ChunkOps::weighted(weight))
    }

    /// The mark in bytes (items, weight); the default is
    /// [`default_high_water_mark`](crate::default_high_water_mark).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Readable, ReadableOptions};
    /// let r = Readable::<bytes::Bytes>::pushed(ReadableOptions::default().high_water_mark(0));
    /// assert_eq!(r.readable_high_water_mark(), 0);
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.common.high_water_mark = Some(hwm);
        self
    }

    /// Destroy the stream once it has ended (and after an error). Default true.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Readable, ReadableOptions};
    /// let r = Readable::<bytes::Bytes>::pushed(ReadableOptions::default().auto_destroy(false));
    /// r.resume();
    /// r.push_eof();
    /// highwater::run_until_idle();
    /// assert!(r.readable_ended() && !r.destroyed());
    /// ```
    #[must_use]
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.common.auto_destroy = on;
        self
    }

    /// Emit `'close'` once destroyed. Default true.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Readable, ReadableOptions};
    /// let r = Readable::<bytes::Bytes>::pushed(ReadableOptions::default().emit_close(false));
    /// let id = r.on_close(|| unreachable!("no 'close' without emit_close"));
    /// r.destroy(None);
    /// highwater::run_until_idle();
    /// assert!(r.off(id));
    /// ```
    #[must_use]
    pub fn emit_close(mut self, on: bool) -> Self {
        self.common.emit_close = on;
        self
    }

    /// *Beyond Node.* A bound on the number of chunks buffered, besides the
    /// mark: `push()` returns false once either is reached.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Readable, ReadableOptions};
    /// let r = Readable::pushed(ReadableOptions::default().max_items(2));
    /// assert!(r.push(bytes::Bytes::from_static(b"a")));
    /// assert!(!r.push(bytes::Bytes::from_static(b"b"))); // 2 chunks
    /// ```
    #[must_use]
    pub fn max_items(mut self, n: usize) -> Self {
        self.common.max_items = Some(n);
        self
    }

    /// *Beyond Node.* What `push()` does when the buffer would go over the
    /// [`overflow_limit`](Self::overflow_limit), for sources that cannot be
    /// paused. [`Overflow::Block`] (the default) is Node's behaviour.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Overflow, Readable, ReadableOptions};
    /// let r = Readable::pushed(ReadableOptions::default().high_water_mark(2).overflow(Overflow::DropNewest));
    /// r.push(bytes::Bytes::from_static(b"ab"));
    /// r.push(bytes::Bytes::from_static(b"cd")); // dropped
    /// assert_eq!(r.readable_length(), 2);
    /// ```
    #[must_use]
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }

    /// *Beyond Node.* The buffer level (bytes, items or weight) at which the
    /// [`overflow`](Self::overflow) policy applies; by default the mark.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Overflow, Readable, ReadableOptions};
    /// let r = Readable::pushed(
    ///     ReadableOptions::default().high_water_mark(2).overflow(Overflow::DropNewest).overflow_limit(4),
    /// );
    /// r.push(bytes::Bytes::from_static(b"ab"));
    /// r.push(bytes::Bytes::from_static(b"cd")); // kept: 4 is within the limit
    /// assert_eq!(r.readable_length(), 4);
    /// ```
    #[must_use]
    pub fn overflow_limit(mut self, limit: usize) -> Self {
        self.overflow_limit = Some(limit);
        self
    }

    /// Node's `encoding` option: the side decodes what is pushed to text
    /// from the start, as if [`set_encoding`](crate::ReadableSide::set_encoding)
    /// had been called (chunks hold whole UTF-8 characters; lengths count
    /// UTF-16 code units). Only UTF-8 exists ([`Encoding`]).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{Encoding, Readable, ReadableOptions};
    ///
    /// let r: Readable<Bytes> = Readable::pushed(ReadableOptions::default().encoding(Encoding::Utf8));
    /// assert_eq!(r.readable_encoding(), Some(Encoding::Utf8));
    /// r.push(Bytes::from_static(&[0xE2, 0x82])); // the start of '€'
    /// assert_eq!(r.readable_length(), 0);        // held by the decoder
    /// r.push(Bytes::from_static(&[0xAC]));
    /// assert_eq!(r.readable_length(), 1);        // one UTF-16 code unit
    /// assert_eq!(r.read(None).as_deref(), Some("€".as_bytes()));
    /// ```
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self
    where
        T: TextChunk,
    {
        fn apply<T: TextChunk>(st: &mut RState<T>, e: Encoding) {
            st.set_encoding(e);
        }
        self.encoding = Some((encoding, apply::<T>));
        self
    }

    /// The mark this side gets.
    pub(crate) fn mark(&self) -> usize {
        self.common
            .high_water_mark
            .unwrap_or_else(|| default_high_water_mark(self.mode.object_mode()))
    }
}

/// Options of a [`Writable`](crate::Writable), or of the writable side of a
/// Duplex: Node's `highWaterMark`, `objectMode`, `autoDestroy`, `emitClose`,
/// and highwater's low-water mark and item bound.
///
/// The chunk mode comes from the constructor: [`default`](Self::default)
/// for bytes (`T` a [`ByteLen`]: `Bytes`, `Vec<u8>`, `String`…),
/// [`objects`](Self::objects) for Node's object mode,
/// [`weighted`](Self::weighted) for objects with a weight.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default().high_water_mark(1024), |_c: Bytes| Ok(()));
/// assert_eq!(w.writable_high_water_mark(), 1024);
/// assert!(!w.writable_object_mode());
/// ```
pub struct WritableOptions<T> {
    pub(crate) common: Common,
    pub(crate) mode: Mode,
    pub(crate) len_of: fn(&T) -> usize,
    pub(crate) low_water_mark: Option<usize>,
    pub(crate) signal: Option<SignalSlot>,
}

impl<T> Clone for WritableOptions<T> {
    fn clone(&self) -> Self {
        WritableOptions {
            signal: self.signal.clone(),
            ..*self
        }
    }
}

impl<T> fmt::Debug for WritableOptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritableOptions")
            .field("high_water_mark", &self.common.high_water_mark)
            .field("mode", &self.mode)
            .field("auto_destroy", &self.common.auto_destroy)
            .field("emit_close", &self.common.emit_close)
            .field("max_items", &self.common.max_items)
            .field("low_water_mark", &self.low_water_mark)
            .finish()
    }
}

impl<T: ByteLen> Default for WritableOptions<T> {
    /// Byte mode with Node's defaults (mark: [`default_high_water_mark`]).
    fn default() -> Self {
        Self::with(Mode::Bytes, T::byte_len)
    }
}

impl<T> WritableOptions<T> {
    fn with(mode: Mode, len_of: fn(&T) -> usize) -> Self {
        WritableOptions {
            common: Common::default(),
            mode,
            len_of,
            low_water_mark: None,
            signal: None,
        }
    }

    /// Node's `objectMode: true`: chunks of any type, each counting 1
    /// toward the mark (default mark: 16 items).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// #[derive(Debug)]
    /// struct Row { id: u32 }
    ///
    /// let w = Writable::from_fn(WritableOptions::objects(), |_r: Row| Ok(()));
    /// assert_eq!(w.writable_high_water_mark(), 16);
    /// assert!(w.write(Row { id: 1 }));
    /// ```
    #[must_use]
    pub fn objects() -> Self {
        fn one<T>(_: &T) -> usize {
            1
        }
        Self::with(Mode::Objects, one::<T>)
    }

    /// *Beyond Node.* Object mode whose mark counts `weight(&chunk)` per
    /// chunk (bytes of typed items, say) instead of 1. Combine with
    /// [`max_items`](Self::max_items) to bound the number of items too.
    /// Object-mode rules otherwise apply (no byte concatenation, default
    /// mark 16).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{Writable, WritableOptions};
    ///
    /// let w = Writable::from_fn(
    ///     WritableOptions::weighted(|s: &String| s.len()).high_water_mark(10).max_items(100),
    ///     |_s: String| Ok(()),
    /// );
    /// w.cork();
    /// assert!(w.write("hello".to_string()));   // weight 5 < 10
    /// assert!(!w.write("world".to_string()));  // weight 10: wait for 'drain'
    /// assert_eq!(w.writable_length(), 10);
    /// ```
    #[must_use]
    pub fn weighted(weight: fn(&T) -> usize) -> Self {
        Self::with(Mode::Weighted, weight)
    }

    /// The mark in bytes (items, weight); the default is
    /// [`default_high_water_mark`](crate::default_high_water_mark).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Writable, WritableOptions};
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(4), |_c: Vec<u8>| Ok(()));
    /// assert_eq!(w.writable_high_water_mark(), 4);
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.common.high_water_mark = Some(hwm);
        self
    }

    /// Destroy the stream once it has finished (and after an error). Default
    /// true.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Writable, WritableOptions};
    /// let w = Writable::from_fn(WritableOptions::default().auto_destroy(false), |_c: Vec<u8>| Ok(()));
    /// w.end();
    /// highwater::run_until_idle();
    /// assert!(w.writable_finished() && !w.destroyed());
    /// ```
    #[must_use]
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.common.auto_destroy = on;
        self
    }

    /// Emit `'close'` once destroyed. Default true.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Writable, WritableOptions};
    /// let w = Writable::from_fn(WritableOptions::default().emit_close(false), |_c: Vec<u8>| Ok(()));
    /// let id = w.on_close(|| unreachable!("no 'close' without emit_close"));
    /// w.destroy(None);
    /// highwater::run_until_idle();
    /// assert!(w.off(id));
    /// ```
    #[must_use]
    pub fn emit_close(mut self, on: bool) -> Self {
        self.common.emit_close = on;
        self
    }

    /// *Beyond Node.* A bound on the number of chunks buffered, besides the
    /// mark: `write()` returns false once either is reached.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Writable, WritableOptions};
    /// let w = Writable::from_fn(WritableOptions::default().max_items(2), |_c: Vec<u8>| Ok(()));
    /// w.cork();
    /// assert!(w.write(b"a".to_vec()));
    /// assert!(!w.write(b"b".to_vec())); // 2 chunks
    /// ```
    #[must_use]
    pub fn max_items(mut self, n: usize) -> Self {
        self.common.max_items = Some(n);
        self
    }

    /// *Beyond Node.* Emit `'drain'` as soon as the buffer falls to this
    /// level instead of only when it is empty (hysteresis, as mbuffer does),
    /// so the producer resumes while the sink still has work. By default
    /// Node's behaviour: `'drain'` at 0. A value at or above the mark is
    /// taken as `mark - 1`.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{Writable, WritableOptions};
    /// let w = Writable::from_fn(
    ///     WritableOptions::default().high_water_mark(64).low_water_mark(16),
    ///     |_c: Vec<u8>| Ok(()),
    /// );
    /// assert_eq!(w.writable_stats().low_water_mark, 16);
    /// ```
    #[must_use]
    pub fn low_water_mark(mut self, lwm: usize) -> Self {
        self.low_water_mark = Some(lwm);
        self
    }

    /// The mark this side gets.
    pub(crate) fn mark(&self) -> usize {
        self.common
            .high_water_mark
            .unwrap_or_else(|| default_high_water_mark(self.mode.object_mode()))
    }
}

/// Options of a [`Duplex`](crate::Duplex), as Node's `new Duplex(options)`:
/// the options of each side, and what belongs to the whole stream.
///
/// [`default`](Self::default) is byte mode on both sides,
/// [`objects`](Self::objects) object mode on both; [`new`](Self::new) takes
/// each side's options, so the sides may differ in mode and in every
/// beyond-Node option (a parser reads objects and takes bytes).
/// [`high_water_mark`](Self::high_water_mark), when set, overrides both
/// sides' marks (Node's rule, whatever the order of the calls).
///
/// # Examples
///
/// ```
/// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
/// # struct Src;
/// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
/// # struct Snk;
/// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Duplex, DuplexOptions, ReadableOptions, WritableOptions};
///
/// // Reads lines (objects), takes bytes; `'drain'` once 4 KiB are left.
/// let opts: DuplexOptions<String, Bytes> = DuplexOptions::new(
///     ReadableOptions::objects().high_water_mark(100),
///     WritableOptions::default().high_water_mark(16 * 1024).low_water_mark(4 * 1024),
/// )
/// .allow_half_open(false);
/// let d = Duplex::new(opts, Src, Snk);
/// assert!(d.readable_object_mode() && !d.writable_object_mode());
/// assert_eq!(d.writable_stats().low_water_mark, 4 * 1024);
/// ```
pub struct DuplexOptions<R, W> {
    pub(crate) readable: ReadableOptions<R>,
    pub(crate) writable: WritableOptions<W>,
    pub(crate) high_water_mark: Option<usize>,
    pub(crate) allow_half_open: bool,
    pub(crate) readable_enabled: bool,
    pub(crate) writable_enabled: bool,
    pub(crate) signal: Option<SignalSlot>,
}

impl<R, W> Clone for DuplexOptions<R, W> {
    fn clone(&self) -> Self {
        DuplexOptions {
            readable: self.readable.clone(),
            writable: self.writable.clone(),
            signal: self.signal.clone(),
            ..*self
        }
    }
}

impl<R, W> fmt::Debug for DuplexOptions<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplexOptions")
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .field("high_water_mark", &self.high_water_mark)
            .field("allow_half_open", &self.allow_half_open)
            .field("readable_enabled", &self.readable_enabled)
            .field("writable_enabled", &self.writable_enabled)
            .finish()
    }
}

impl<R: ByteChunk, W: ByteLen> Default for DuplexOptions<R, W> {
    /// Byte mode on both sides, Node's defaults.
    fn default() -> Self {
        Self::new(ReadableOptions::default(), WritableOptions::default())
    }
}

impl<R, W> DuplexOptions<R, W> {
    /// A Duplex whose sides take these options (each its own mode, mark and
    /// beyond-Node options).
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// use highwater::prelude::*;
    /// use highwater::{Duplex, DuplexOptions, ReadableOptions, WritableOptions};
    ///
    /// let o = DuplexOptions::new(ReadableOptions::<u32>::objects(), WritableOptions::<String>::default());
    /// let d = Duplex::new(o, Src, Snk);
    /// assert_eq!((d.readable_high_water_mark(), d.writable_high_water_mark()), (16, 16 * 1024));
    /// ```
    #[must_use]
    pub fn new(readable: ReadableOptions<R>, writable: WritableOptions<W>) -> Self {
        DuplexOptions {
            readable,
            writable,
            high_water_mark: None,
            allow_half_open: true,
            readable_enabled: true,
            writable_enabled: true,
            signal: None,
        }
    }

    /// Object mode on both sides (Node's `objectMode: true`).
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// use highwater::prelude::*;
    /// use highwater::{Duplex, DuplexOptions};
    ///
    /// let d: Duplex<u32, u32> = Duplex::new(DuplexOptions::objects(), Src, Snk);
    /// assert!(d.readable_object_mode() && d.writable_object_mode());
    /// ```
    #[must_use]
    pub fn objects() -> Self {
        Self::new(ReadableOptions::objects(), WritableOptions::objects())
    }

    /// The mark of both sides; overrides the per-side marks (Node's rule).
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let o = DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().readable_high_water_mark(3).high_water_mark(5);
    /// let d = Duplex::new(o, Src, Snk);
    /// assert_eq!((d.readable_high_water_mark(), d.writable_high_water_mark()), (5, 5));
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.high_water_mark = Some(hwm);
        self
    }

    /// The readable side's mark (Node's `readableHighWaterMark`).
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let o = DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().readable_high_water_mark(3);
    /// assert_eq!(Duplex::new(o, Src, Snk).readable_high_water_mark(), 3);
    /// ```
    #[must_use]
    pub fn readable_high_water_mark(mut self, hwm: usize) -> Self {
        self.readable = self.readable.high_water_mark(hwm);
        self
    }

    /// The writable side's mark (Node's `writableHighWaterMark`).
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let o = DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().writable_high_water_mark(7);
    /// assert_eq!(Duplex::new(o, Src, Snk).writable_high_water_mark(), 7);
    /// ```
    #[must_use]
    pub fn writable_high_water_mark(mut self, hwm: usize) -> Self {
        self.writable = self.writable.high_water_mark(hwm);
        self
    }

    /// Keep the writable side open after the readable side ends (default
    /// true). When false, `'end'` ends the writable side too.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let o = DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().allow_half_open(false);
    /// let d = Duplex::new(o, Src, Snk);
    /// d.resume();
    /// d.push_eof();
    /// highwater::run_until_idle();
    /// assert!(d.writable_ended());
    /// ```
    #[must_use]
    pub fn allow_half_open(mut self, on: bool) -> Self {
        self.allow_half_open = on;
        self
    }

    /// Destroy once both sides are done (and after an error), on both
    /// sides. Default true.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let o = DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().auto_destroy(false);
    /// let d = Duplex::new(o, Src, Snk);
    /// d.resume();
    /// d.push_eof();
    /// d.end();
    /// highwater::run_until_idle();
    /// assert!(!d.destroyed());
    /// ```
    #[must_use]
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.readable = self.readable.auto_destroy(on);
        self.writable = self.writable.auto_destroy(on);
        self
    }

    /// Emit `'close'` once destroyed, on both sides. Default true.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let o = DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().emit_close(false);
    /// let d = Duplex::new(o, Src, Snk);
    /// let id = d.on_close(|| unreachable!());
    /// d.destroy(None);
    /// highwater::run_until_idle();
    /// assert!(d.off(id));
    /// ```
    #[must_use]
    pub fn emit_close(mut self, on: bool) -> Self {
        self.readable = self.readable.emit_close(on);
        self.writable = self.writable.emit_close(on);
        self
    }

    /// Node's `readable: false`: the readable side starts ended.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let d = Duplex::new(DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().readable(false), Src, Snk);
    /// assert!(!d.readable() && d.writable());
    /// ```
    #[must_use]
    pub fn readable(mut self, on: bool) -> Self {
        self.readable_enabled = on;
        self
    }

    /// Node's `writable: false`: the writable side starts ended and finished.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Src;
    /// # impl<T: 'static> ReadableImpl<T> for Src { fn read(&self, _: usize, _: &Source<T>) {} }
    /// # struct Snk;
    /// # impl<T: 'static> WritableImpl<T> for Snk { fn write(&self, _: T, d: Done) { d.ok() } }
    /// # use highwater::prelude::*;
    /// # use highwater::{Duplex, DuplexOptions};
    /// let d = Duplex::new(DuplexOptions::<bytes::Bytes, bytes::Bytes>::default().writable(false), Src, Snk);
    /// assert!(!d.writable() && d.writable_finished() && d.readable());
    /// ```
    #[must_use]
    pub fn writable(mut self, on: bool) -> Self {
        self.writable_enabled = on;
        self
    }

    /// The readable side's options, with the Duplex-wide mark applied.
    pub(crate) fn readable_side(&self) -> ReadableOptions<R> {
        let mut o = self.readable.clone();
        if let Some(h) = self.high_water_mark {
            o.common.high_water_mark = Some(h);
        }
        o
    }

    /// The writable side's options, with the Duplex-wide mark applied.
    pub(crate) fn writable_side(&self) -> WritableOptions<W> {
        let mut o = self.writable.clone();
        if let Some(h) = self.high_water_mark {
            o.common.high_water_mark = Some(h);
        }
        o
    }
}

/// Options of a [`Transform`](crate::Transform) or
/// [`PassThrough`](crate::PassThrough): a Duplex's options named in the
/// order data flows, what is written (`In`) then what is read (`Out`).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, TransformOptions, ReadableOptions, WritableOptions};
///
/// let p = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(0));
/// assert!(!p.write(Bytes::from_static(b"x"))); // mark 0: every write waits
/// assert_eq!(p.read(None), Some(Bytes::from_static(b"x")));
/// ```
pub struct TransformOptions<In, Out> {
    pub(crate) duplex: DuplexOptions<Out, In>,
}

impl<In, Out> Clone for TransformOptions<In, Out> {
    fn clone(&self) -> Self {
        TransformOptions {
            duplex: self.duplex.clone(),
        }
    }
}

impl<In, Out> fmt::Debug for TransformOptions<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransformOptions")
            .field("writable", &self.duplex.writable)
            .field("readable", &self.duplex.readable)
            .field("high_water_mark", &self.duplex.high_water_mark)
            .field("allow_half_open", &self.duplex.allow_half_open)
            .finish()
    }
}

impl<In: ByteLen, Out: ByteChunk> Default for TransformOptions<In, Out> {
    /// Byte mode on both sides, Node's defaults.
    fn default() -> Self {
        Self::new(WritableOptions::default(), ReadableOptions::default())
    }
}

impl<In, Out> TransformOptions<In, Out> {
    /// A Transform whose writable side takes `writable` and whose readable
    /// side takes `readable` (mixed modes: bytes in, objects out…).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{ReadableOptions, Transform, TransformOptions, WritableOptions};
    ///
    /// let o = TransformOptions::new(WritableOptions::<Bytes>::default(), ReadableOptions::<usize>::objects());
    /// let lengths = Transform::from_fn(o, |c: Bytes| Ok(Some(c.len())));
    /// assert!(lengths.write(Bytes::from_static(b"abc")));
    /// assert_eq!(lengths.read(None), Some(3));
    /// ```
    #[must_use]
    pub fn new(writable: WritableOptions<In>, readable: ReadableOptions<Out>) -> Self {
        TransformOptions {
            duplex: DuplexOptions::new(readable, writable),
        }
    }

    /// Object mode on both sides.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let p = PassThrough::new(TransformOptions::objects());
    /// assert!(p.write(42u64));
    /// assert_eq!(p.read(None), Some(42));
    /// ```
    #[must_use]
    pub fn objects() -> Self {
        Self::new(WritableOptions::objects(), ReadableOptions::objects())
    }

    /// The mark of both sides; overrides the per-side marks (Node's rule).
    /// A readable mark of 0 also makes the writable mark 0 unless that one
    /// is given (Node's Transform rule).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let p = PassThrough::<bytes::Bytes>::new(TransformOptions::default().high_water_mark(5));
    /// assert_eq!((p.readable_high_water_mark(), p.writable_high_water_mark()), (5, 5));
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.duplex = self.duplex.high_water_mark(hwm);
        self
    }

    /// The readable side's mark (Node's `readableHighWaterMark`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let p = PassThrough::<bytes::Bytes>::new(TransformOptions::default().readable_high_water_mark(3));
    /// assert_eq!(p.readable_high_water_mark(), 3);
    /// ```
    #[must_use]
    pub fn readable_high_water_mark(mut self, hwm: usize) -> Self {
        self.duplex = self.duplex.readable_high_water_mark(hwm);
        self
    }

    /// The writable side's mark (Node's `writableHighWaterMark`).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let p = PassThrough::<bytes::Bytes>::new(TransformOptions::default().writable_high_water_mark(7));
    /// assert_eq!(p.writable_high_water_mark(), 7);
    /// ```
    #[must_use]
    pub fn writable_high_water_mark(mut self, hwm: usize) -> Self {
        self.duplex = self.duplex.writable_high_water_mark(hwm);
        self
    }

    /// Keep the writable side open after the readable side ends (default true).
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let _p = PassThrough::<bytes::Bytes>::new(TransformOptions::default().allow_half_open(false));
    /// ```
    #[must_use]
    pub fn allow_half_open(mut self, on: bool) -> Self {
        self.duplex = self.duplex.allow_half_open(on);
        self
    }

    /// Destroy once both sides are done (and after an error). Default true.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let p = PassThrough::<bytes::Bytes>::new(TransformOptions::default().auto_destroy(false));
    /// p.resume();
    /// p.end();
    /// highwater::run_until_idle();
    /// assert!(p.readable_ended() && !p.destroyed());
    /// ```
    #[must_use]
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.duplex = self.duplex.auto_destroy(on);
        self
    }

    /// Emit `'close'` once destroyed. Default true.
    ///
    /// ```
    /// # use highwater::prelude::*;
    /// # use highwater::{PassThrough, TransformOptions};
    /// let p = PassThrough::<bytes::Bytes>::new(TransformOptions::default().emit_close(false));
    /// let id = p.on_close(|| unreachable!());
    /// p.destroy(None);
    /// highwater::run_until_idle();
    /// assert!(p.off(id));
    /// ```
    #[must_use]
    pub fn emit_close(mut self, on: bool) -> Self {
        self.duplex = self.duplex.emit_close(on);
        self
    }

    /// The Duplex options with Node's Transform rule applied: a readable
    /// mark of 0 also makes the writable mark 0 unless that one is given.
    pub(crate) fn into_duplex(self) -> DuplexOptions<Out, In> {
        let mut o = self.duplex;
        let rhwm = o.high_water_mark.or(o.readable.common.high_water_mark);
        if rhwm == Some(0) {
            let whwm = o.writable.common.high_water_mark.unwrap_or(0);
            o.writable.common.high_water_mark = Some(whwm);
            o.high_water_mark = None;
            o.readable.common.high_water_mark = Some(0);
        }
        o
    }
}
