//! The hook a progress display (or any other watcher) plugs into a
//! transfer.

use std::rc::Rc;

use crate::error::TransferError;
use crate::sample::Sample;

/// Watches a transfer as it goes: every sample the timer takes, then its
/// end. Both methods do nothing unless implemented.
///
/// # Example
///
/// ```
/// use std::cell::Cell;
/// use highwater::prelude::*;
/// use highwater_transfer::{Observer, Sample, TransferError};
///
/// /// Keeps the latest byte count.
/// #[derive(Default)]
/// struct Latest(Cell<u64>);
///
/// impl Observer for Latest {
///     fn sample(&self, s: &Sample) {
///         self.0.set(s.bytes);
///     }
///     fn finished(&self, outcome: &Result<(), TransferError>, bytes: u64, _seconds: f64) {
///         if outcome.is_ok() {
///             self.0.set(bytes);
///         }
///     }
/// }
///
/// let latest = Latest::default();
/// latest.finished(&Ok(()), 42, 0.1);
/// assert_eq!(latest.0.get(), 42);
/// ```
pub trait Observer {
    /// A sample of the timer's (every
    /// [`sample_every`](crate::TransferConfig::sample_every), and a last one
    /// as the transfer ends).
    ///
    /// # Example
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater_transfer::{Observer, Sample};
    ///
    /// struct Print;
    /// impl Observer for Print {
    ///     fn sample(&self, s: &Sample) {
    ///         println!("{:.1} s: {} bytes", s.t, s.bytes);
    ///     }
    /// }
    /// Print.sample(&Sample { t: 0.0, buffered: 0, total_buffered: 0, paused: false, bytes: 0 });
    /// ```
    fn sample(&self, s: &Sample) {
        let _ = s;
    }

    /// The transfer is over: `outcome` says how; `bytes` were written in
    /// `seconds`. Called once, after the last sample.
    ///
    /// # Example
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater_transfer::{Observer, TransferError};
    ///
    /// struct Summary;
    /// impl Observer for Summary {
    ///     fn finished(&self, outcome: &Result<(), TransferError>, bytes: u64, seconds: f64) {
    ///         match outcome {
    ///             Ok(()) => println!("done: {bytes} bytes in {seconds:.1} s"),
    ///             Err(e) => println!("stopped after {bytes} bytes: {e}"),
    ///         }
    ///     }
    /// }
    /// Summary.finished(&Err(TransferError::Interrupted), 10, 0.5);
    /// ```
    fn finished(&self, outcome: &Result<(), TransferError>, bytes: u64, seconds: f64) {
        let _ = (outcome, bytes, seconds);
    }
}

/// A shared observer observes: the caller can keep a handle to what it
/// plugged in.
impl<T: Observer + ?Sized> Observer for Rc<T> {
    fn sample(&self, s: &Sample) {
        (**self).sample(s);
    }

    fn finished(&self, outcome: &Result<(), TransferError>, bytes: u64, seconds: f64) {
        (**self).finished(outcome, bytes, seconds);
    }
}
