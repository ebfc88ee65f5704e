//! High-water mark defaults, process-wide like Node's `stream.getDefaultHighWaterMark`.
//!
//! Node 20's defaults are 16384 bytes for byte streams and 16 items for
//! object streams; [`set_default_high_water_mark`] changes them for every
//! stream created afterwards, on any thread (Node 22 raised the byte default
//! to 65536; highwater follows Node 20, the version its traces are made on).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Node 20's default mark for byte streams: 16 KiB.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions, DEFAULT_BYTE_HIGH_WATER_MARK};
///
/// assert_eq!(DEFAULT_BYTE_HIGH_WATER_MARK, 16384);
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// assert_eq!(w.writable_high_water_mark(), DEFAULT_BYTE_HIGH_WATER_MARK);
/// ```
pub const DEFAULT_BYTE_HIGH_WATER_MARK: usize = 16 * 1024;
/// Node's default mark for object streams: 16 items.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{Readable, ReadableOptions, DEFAULT_OBJECT_HIGH_WATER_MARK};
///
/// assert_eq!(DEFAULT_OBJECT_HIGH_WATER_MARK, 16);
/// let r = Readable::<u32>::pushed(ReadableOptions::objects());
/// assert_eq!(r.readable_high_water_mark(), DEFAULT_OBJECT_HIGH_WATER_MARK);
/// ```
pub const DEFAULT_OBJECT_HIGH_WATER_MARK: usize = 16;

static BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_BYTE_HIGH_WATER_MARK);
static OBJECTS: AtomicUsize = AtomicUsize::new(DEFAULT_OBJECT_HIGH_WATER_MARK);

/// The mark a new stream gets when its options give none, like
/// `stream.getDefaultHighWaterMark(objectMode)`.
///
/// # Examples
///
/// ```
/// # use highwater::prelude::*;
/// assert_eq!(highwater::default_high_water_mark(true), 16);
/// ```
pub fn default_high_water_mark(object_mode: bool) -> usize {
    if object_mode { &OBJECTS } else { &BYTES }.load(Ordering::Relaxed)
}

/// Changes the default mark for streams created from now on, like
/// `stream.setDefaultHighWaterMark(objectMode, value)`. Existing streams keep
/// their marks.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions, DEFAULT_BYTE_HIGH_WATER_MARK};
///
/// let before = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// highwater::set_default_high_water_mark(false, 1024);
/// assert_eq!(highwater::default_high_water_mark(false), 1024);
/// let after = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// assert_eq!(after.writable_high_water_mark(), 1024);
/// assert_eq!(before.writable_high_water_mark(), DEFAULT_BYTE_HIGH_WATER_MARK);
/// assert_eq!(highwater::default_high_water_mark(true), 16); // object mode unchanged
/// highwater::set_default_high_water_mark(false, DEFAULT_BYTE_HIGH_WATER_MARK);
/// ```
pub fn set_default_high_water_mark(object_mode: bool, value: usize) {
    if object_mode { &OBJECTS } else { &BYTES }.store(value, Ordering::Relaxed);
}
