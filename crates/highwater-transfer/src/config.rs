//! How a transfer runs: the read size, the marks, the rate limits and how
//! often it is sampled, and the most memory that makes it hold.
//!
//! # The memory bound
//!
//! Every byte a transfer holds is in one of its streams' buffers, and each
//! of those is bounded by its mark plus one chunk (a write is accepted while
//! the buffer is below the mark, and a chunk is at most one read). With `c`
//! the read size and `m` the write mark, the whole transfer holds less than:
//!
//! | stage | bound |
//! |---|---|
//! | the source's read buffer (mark `c`) | `2c` |
//! | the read-rate stage (both marks `c`) | `4c` |
//! | the rate stage (writable mark `m`, readable mark `min(c, m)`) | `m + 3c` |
//! | the destination's write buffer (mark `m`) | `m + c` |
//!
//! [`buffer_bound`] adds these up. It holds when the source reads at most
//! `c` bytes at a time and the destination's mark is `m`, which is for the
//! caller to arrange when it makes the streams.

use std::num::NonZeroU64;
use std::time::Duration;

/// How often a transfer is sampled unless told otherwise.
const DEFAULT_SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// How a transfer runs.
///
/// The marks here are those of the rate stages the transfer makes; the
/// source's and the destination's own marks are set by whoever made them,
/// and should match (see the [module docs](self)).
///
/// # Example
///
/// ```
/// use std::num::NonZeroU64;
/// use highwater::prelude::*;
/// use highwater_transfer::TransferConfig;
///
/// let mut cfg = TransferConfig::new(64 * 1024, 256 * 1024);
/// // A destination that takes 1 MiB a second.
/// cfg.rate = NonZeroU64::new(1 << 20);
/// assert_eq!(cfg.buffer_bound(), (2 + 1 + 3) * 64 * 1024 + 2 * 256 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferConfig {
    /// Bytes per read (the source's mark, and the most one chunk holds).
    pub chunk_size: usize,
    /// The write buffer's mark (of the rate stage, if there is one).
    pub high_water_mark: usize,
    /// *Beyond Node* (mbuffer's `-p`): the reader resumes once the rate
    /// stage's write buffer has fallen to this level, not only once it is
    /// empty.
    pub low_water_mark: Option<usize>,
    /// Bytes per second the destination is allowed to take (a slow
    /// consumer).
    pub rate: Option<NonZeroU64>,
    /// Bytes per second the source is read at (mbuffer's `-r`).
    pub read_rate: Option<NonZeroU64>,
    /// How often the transfer is sampled on a timer (for the rates, a
    /// progress display and a plot), besides after each chunk and each
    /// `'drain'`.
    pub sample_every: Duration,
}

impl TransferConfig {
    /// Reads of `chunk_size` bytes into a write buffer of mark
    /// `high_water_mark`, without rate limits or low-water mark, sampled
    /// every 20 ms.
    ///
    /// # Example
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater_transfer::TransferConfig;
    ///
    /// let cfg = TransferConfig::new(256 * 1024, 1024 * 1024);
    /// assert_eq!(cfg.rate, None);
    /// assert_eq!(cfg.sample_every, std::time::Duration::from_millis(20));
    /// ```
    pub fn new(chunk_size: usize, high_water_mark: usize) -> TransferConfig {
        TransferConfig {
            chunk_size,
            high_water_mark,
            low_water_mark: None,
            rate: None,
            read_rate: None,
            sample_every: DEFAULT_SAMPLE_EVERY,
        }
    }

    /// The most bytes this transfer can hold, every buffer together (see
    /// the [module docs](self)).
    ///
    /// # Example
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater_transfer::TransferConfig;
    ///
    /// // No rate stages: the source's buffer and the destination's.
    /// assert_eq!(TransferConfig::new(10, 100).buffer_bound(), 2 * 10 + 100 + 10);
    /// ```
    pub fn buffer_bound(&self) -> u128 {
        buffer_bound(
            self.chunk_size,
            self.high_water_mark,
            self.rate.is_some(),
            self.read_rate.is_some(),
        )
    }
}

/// The most bytes a transfer with read size `chunk` and write mark `mark`
/// can hold, with or without its rate stage (`rate`) and read-rate stage
/// (`read_rate`): the sum of the table in the [module docs](self).
///
/// # Example
///
/// ```
/// use highwater::prelude::*;
/// use highwater_transfer::buffer_bound;
///
/// let (c, m) = (64 * 1024, 256 * 1024);
/// assert_eq!(buffer_bound(c, m, false, false), 3 * c as u128 + m as u128);
/// assert_eq!(buffer_bound(c, m, true, true), 10 * c as u128 + 2 * m as u128);
/// ```
pub fn buffer_bound(chunk: usize, mark: usize, rate: bool, read_rate: bool) -> u128 {
    let (c, m) = (chunk as u128, mark as u128);
    let mut b = 2 * c + (m + c);
    if read_rate {
        b += 4 * c;
    }
    if rate {
        b += m + 3 * c;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_adds_its_share() {
        let (c, m) = (7usize, 100usize);
        let base = buffer_bound(c, m, false, false);
        assert_eq!(base, 2 * 7 + 100 + 7);
        assert_eq!(buffer_bound(c, m, false, true) - base, 4 * 7);
        assert_eq!(buffer_bound(c, m, true, false) - base, 100 + 3 * 7);
    }

    #[test]
    fn the_largest_sizes_do_not_overflow() {
        let b = buffer_bound(usize::MAX, usize::MAX, true, true);
        assert_eq!(b, 12 * usize::MAX as u128);
    }

    #[test]
    fn the_method_follows_the_rates_asked_for() {
        let mut cfg = TransferConfig::new(7, 100);
        cfg.read_rate = NonZeroU64::new(5);
        assert_eq!(cfg.buffer_bound(), buffer_bound(7, 100, false, true));
    }
}
