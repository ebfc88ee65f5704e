//! The state of a transfer at one moment.

/// A sample of a transfer's state, taken after each chunk read, at each
/// `'drain'` of the first destination, and on a timer.
///
/// The first destination is the stage backpressure fills first: the rate
/// stage if there is one, the destination otherwise.
///
/// # Example
///
/// ```
/// use highwater::prelude::*;
/// use highwater_transfer::Sample;
///
/// let s = Sample { t: 0.5, buffered: 4096, total_buffered: 8192, paused: true, bytes: 1 << 20 };
/// assert!(s.total_buffered >= s.buffered);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// Bytes waiting in the first destination's write buffer.
    pub buffered: usize,
    /// Bytes held by all the transfer's buffers together (the source's read
    /// buffer, the rate stages, the destination's write buffer).
    pub total_buffered: usize,
    /// The reader is paused by backpressure (the first destination waits
    /// for `'drain'`).
    pub paused: bool,
    /// Bytes written to the destination so far.
    pub bytes: u64,
}
