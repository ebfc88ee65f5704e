//! High-water mark defaults, process-wide like Node's `stream.getDefaultHighWaterMark`.
//!
//! Node 20's defaults are 16384 bytes for byte streams and 16 items for
//! object streams; [`set_default_high_water_mark`] changes them for every
//! stream created afterwards, on any thread (Node 22 raised the byte default
//! to 65536; highwater follows Node 20, the version its traces are made on).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Node 20's default mark for byte streams: 16 KiB.
pub const DEFAULT_BYTE_HIGH_WATER_MARK: usize = 16 * 1024;
/// Node's default mark for object streams: 16 items.
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
pub fn set_default_high_water_mark(object_mode: bool, value: usize) {
    if object_mode { &OBJECTS } else { &BYTES }.store(value, Ordering::Relaxed);
}
