//! The options of the operators: Node's `{ concurrency, highWaterMark, signal }`.

use crate::state::{AbortListener, AbortSignal, Error, ErrorKind};

/// The options of the [operators](crate::OperatorsExt): Node's
/// `{ concurrency, highWaterMark, signal }`.
///
/// * `concurrency`: how many calls of the operator's function may be in
///   flight at once (default 1). Results still come out in input order.
/// * `high_water_mark`: how many finished results may wait ahead of the
///   consumer, beyond the calls in flight (default `concurrency - 1`, as
///   Node's). The operator never takes more than `concurrency +
///   high_water_mark` values from the source ahead of its consumer.
/// * `signal`: an [`AbortSignal`]; its abort destroys the result (or fails
///   the future) with Node's `AbortError` (`ABORT_ERR`, the signal's reason
///   as its cause) and destroys the source.
///
/// # Examples
///
/// ```
/// use highwater::prelude::*;
/// use highwater::{OperatorOptions, Readable, ReadableOptions};
///
/// highwater::block_on(async {
///     let r = Readable::pushed(ReadableOptions::objects());
///     for n in 1..=4u32 {
///         r.push(n);
///     }
///     r.push_eof();
///     let opts = OperatorOptions::default().concurrency(2).high_water_mark(4);
///     let doubled = r.map_with(|n| async move { Ok(n * 2) }, opts).to_array().await;
///     assert_eq!(doubled.unwrap(), [2, 4, 6, 8]);
/// });
/// ```
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    pub(crate) concurrency: usize,
    pub(crate) high_water_mark: Option<usize>,
    pub(crate) signal: Option<AbortSignal>,
}

impl Default for OperatorOptions {
    fn default() -> Self {
        OperatorOptions {
            concurrency: 1,
            high_water_mark: None,
            signal: None,
        }
    }
}

impl OperatorOptions {
    /// How many calls may run at once (Node's `concurrency`, default 1).
    /// Zero is Node's `ERR_OUT_OF_RANGE`, reported by the operator (the
    /// returned stream is destroyed with it, the returned future fails
    /// with it).
    ///
    /// ```
    /// use highwater::OperatorOptions;
    /// let opts = OperatorOptions::default().concurrency(8);
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// How many finished results may wait beyond the calls in flight
    /// (Node's `highWaterMark`, default `concurrency - 1`).
    ///
    /// ```
    /// use highwater::OperatorOptions;
    /// let opts = OperatorOptions::default().concurrency(4).high_water_mark(0);
    /// # let _ = opts;
    /// ```
    #[must_use]
    pub fn high_water_mark(mut self, n: usize) -> Self {
        self.high_water_mark = Some(n);
        self
    }

    /// Node's `signal`: aborting it stops the operator with `ABORT_ERR`.
    /// Unlike Node, which notices the abort at the next value, the stop is
    /// immediate (calls in flight are dropped).
    ///
    /// ```
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, OperatorOptions, Readable, ReadableOptions};
    ///
    /// highwater::block_on(async {
    ///     let ac = AbortController::new();
    ///     let r = Readable::<u32>::pushed(ReadableOptions::objects()); // never ends
    ///     let all = r.to_array_with(OperatorOptions::default().signal(ac.signal()));
    ///     highwater::next_tick(move || ac.abort());
    ///     assert_eq!(all.await.unwrap_err().code(), "ABORT_ERR");
    ///     assert!(r.destroyed());
    /// });
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(signal);
        self
    }

    /// Node's `validateInteger(concurrency, 'options.concurrency', 1)`, and
    /// the queue's bound `highWaterMark + concurrency`.
    pub(crate) fn validate(&self) -> Result<(usize, usize), Error> {
        if self.concurrency == 0 {
            return Err(Error::new(ErrorKind::OutOfRange {
                name: "options.concurrency",
                range: ">= 1 && <= 9007199254740991".into(),
                value: "0".into(),
            }));
        }
        let hwm = self.high_water_mark.unwrap_or(self.concurrency - 1);
        Ok((self.concurrency, hwm.saturating_add(self.concurrency)))
    }

    pub(crate) fn abort(&self) -> Option<Abort> {
        self.signal.clone().map(|signal| Abort { signal })
    }
}

/// The operator's view of its signal.
pub(crate) struct Abort {
    signal: AbortSignal,
}

/// Keeps an abort listener registered while alive.
pub(crate) struct AbortGuard {
    signal: AbortSignal,
    listener: AbortListener,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        self.signal.remove(self.listener);
    }
}

impl Abort {
    /// Calls `f` when the signal fires.
    pub(crate) fn watch(&self, f: impl FnOnce() + 'static) -> AbortGuard {
        let listener = self.signal.on_abort(move |_| f());
        AbortGuard {
            signal: self.signal.clone(),
            listener,
        }
    }

    /// Node's `AbortError` (the reason as its cause) once the signal fired.
    pub(crate) fn error(&self) -> Option<Error> {
        if self.signal.aborted() {
            Some(Error::aborted(self.signal.reason()))
        } else {
            None
        }
    }
}
