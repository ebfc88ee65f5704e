//! The `signal` option of every stream constructor (Node's
//! `new Readable({ signal })`…): the state layer only keeps the signal; the
//! stream layer applies it when the stream is made (Node's
//! `addAbortSignal(signal, this)`).

use super::abort::AbortSignal;
use super::options::{DuplexOptions, ReadableOptions, TransformOptions, WritableOptions};

impl<T> ReadableOptions<T> {
    /// Node's `signal`: aborting it destroys the stream with an
    /// `AbortError` whose cause is the reason (at once if it is already
    /// aborted). The stream takes its listener off once done.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, Readable, ReadableOptions};
    ///
    /// let ac = AbortController::new();
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default().signal(ac.signal()));
    /// ac.abort();
    /// assert!(r.destroyed());
    /// assert_eq!(r.errored().unwrap().code(), "ABORT_ERR");
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(signal);
        self
    }
}

impl<T> WritableOptions<T> {
    /// Node's `signal`: aborting it destroys the stream with an
    /// `AbortError` whose cause is the reason (at once if it is already
    /// aborted). The stream takes its listener off once done.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortSignal, Error, Writable, WritableOptions};
    ///
    /// let gone = AbortSignal::abort(Some(Error::msg("too late")));
    /// let w = Writable::from_fn(WritableOptions::default().signal(gone), |_c: Bytes| Ok(()));
    /// assert!(w.destroyed());
    /// assert_eq!(w.errored().unwrap().cause().unwrap().to_string(), "too late");
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(signal);
        self
    }
}

impl<R, W> DuplexOptions<R, W> {
    /// Node's `signal`: aborting it destroys the Duplex (both sides) with an
    /// `AbortError` whose cause is the reason. Without it, a signal set on
    /// the writable side's options, else on the readable side's, is used.
    ///
    /// ```
    /// # use highwater::{Done, ReadableImpl, Source, WritableImpl};
    /// # struct Q;
    /// # impl ReadableImpl<bytes::Bytes> for Q { fn read(&self, _: usize, _: &Source<bytes::Bytes>) {} }
    /// # impl WritableImpl<bytes::Bytes> for Q { fn write(&self, _: bytes::Bytes, d: Done) { d.ok() } }
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, Duplex, DuplexOptions};
    ///
    /// let ac = AbortController::new();
    /// let d = Duplex::new(DuplexOptions::default().signal(ac.signal()), Q, Q);
    /// ac.abort();
    /// assert!(d.destroyed());
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.signal = Some(signal);
        self
    }

    /// The signal the stream should watch.
    pub(crate) fn abort_signal(&self) -> Option<AbortSignal> {
        self.signal
            .clone()
            .or_else(|| self.writable.signal.clone())
            .or_else(|| self.readable.signal.clone())
    }
}

impl<In, Out> TransformOptions<In, Out> {
    /// Node's `signal`: aborting it destroys the Transform with an
    /// `AbortError` whose cause is the reason.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::prelude::*;
    /// use highwater::{AbortController, PassThrough, TransformOptions};
    ///
    /// let ac = AbortController::new();
    /// let p = PassThrough::<Bytes>::new(TransformOptions::default().signal(ac.signal()));
    /// ac.abort();
    /// assert!(p.destroyed());
    /// assert_eq!(p.errored().unwrap().code(), "ABORT_ERR");
    /// ```
    #[must_use]
    pub fn signal(mut self, signal: AbortSignal) -> Self {
        self.duplex.signal = Some(signal);
        self
    }
}
