//! Options every stream side takes, as in Node's `new Readable(options)` /
//! `new Writable(options)`.

/// Options of a [`Readable`](crate::Readable) or a [`Writable`](crate::Writable)
/// (Node's `highWaterMark`, `objectMode`, `autoDestroy`, `emitClose`).
///
/// [`ReadableOptions`] and [`WritableOptions`] are this type: the two sides
/// take the same options.
///
/// # Examples
///
/// ```
/// use highwater::WritableOptions;
///
/// let o = WritableOptions::default().high_water_mark(1024).auto_destroy(false);
/// assert_eq!(o.high_water_mark, Some(1024));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// The mark in bytes (items in object mode); `None` takes
    /// [`default_high_water_mark`](crate::default_high_water_mark).
    pub high_water_mark: Option<usize>,
    /// Count each chunk as 1 instead of its byte length.
    pub object_mode: bool,
    /// Destroy the stream once it is done (and after an error). Default true.
    pub auto_destroy: bool,
    /// Emit `'close'` once destroyed. Default true.
    pub emit_close: bool,

    /// *Beyond Node.* Writable: emit `'drain'` as soon as the buffer falls to
    /// this level instead of only when it is empty (hysteresis, as mbuffer
    /// does), so the producer resumes while the sink still has work. `None`
    /// (the default) is Node's behaviour: `'drain'` at 0. A value at or
    /// above the mark is taken as `mark - 1`.
    pub low_water_mark: Option<usize>,
    /// *Beyond Node.* A bound on the number of chunks buffered, besides the
    /// mark (which counts bytes, or weights in a weighted object-mode
    /// stream, see [`Writable::new_weighted`](crate::Writable::new_weighted)):
    /// `write()` returns false (and `push()` false) once either is reached.
    /// `None` (the default): no item bound.
    pub max_items: Option<usize>,
    /// *Beyond Node.* Readable: what `push()` does when the buffer would go
    /// over [`overflow_limit`](Self::overflow_limit), for sources that cannot
    /// be paused. [`Overflow::Block`] (the default) is Node's behaviour.
    pub overflow: Overflow,
    /// *Beyond Node.* The buffer level (bytes, or items in object mode) at
    /// which the [`overflow`](Self::overflow) policy applies; `None`: the mark.
    pub overflow_limit: Option<usize>,
}

/// *Beyond Node.* What a Readable's `push()` does with a chunk that would
/// take its buffer over the overflow limit (live data that cannot wait).
/// Every chunk dropped, and the error, are counted in
/// [`ReadableStats`](crate::ReadableStats).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
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

/// Options of a Readable (see [`StreamOptions`]).
pub type ReadableOptions = StreamOptions;
/// Options of a Writable (see [`StreamOptions`]).
pub type WritableOptions = StreamOptions;

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            high_water_mark: None,
            object_mode: false,
            auto_destroy: true,
            emit_close: true,
            low_water_mark: None,
            max_items: None,
            overflow: Overflow::Block,
            overflow_limit: None,
        }
    }
}

impl StreamOptions {
    /// Sets `high_water_mark`.
    pub fn high_water_mark(mut self, hwm: usize) -> Self {
        self.high_water_mark = Some(hwm);
        self
    }
    /// Sets `object_mode`.
    pub fn object_mode(mut self, on: bool) -> Self {
        self.object_mode = on;
        self
    }
    /// Sets `auto_destroy`.
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.auto_destroy = on;
        self
    }
    /// Sets `emit_close`.
    pub fn emit_close(mut self, on: bool) -> Self {
        self.emit_close = on;
        self
    }
    /// Sets `low_water_mark` (beyond Node).
    pub fn low_water_mark(mut self, lwm: usize) -> Self {
        self.low_water_mark = Some(lwm);
        self
    }
    /// Sets `max_items` (beyond Node).
    pub fn max_items(mut self, n: usize) -> Self {
        self.max_items = Some(n);
        self
    }
    /// Sets the `overflow` policy (beyond Node).
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }
    /// Sets `overflow_limit` (beyond Node).
    pub fn overflow_limit(mut self, limit: usize) -> Self {
        self.overflow_limit = Some(limit);
        self
    }
}
