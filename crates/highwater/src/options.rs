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
}
