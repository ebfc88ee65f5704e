//! Node's public stream predicates: `stream.isReadable`, `isWritable`,
//! `isErrored`, `isDestroyed` and `isDisturbed` (`lib/internal/streams/utils.js`),
//! for any stream type.
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::{is_destroyed, is_readable, is_writable, PassThrough, TransformOptions};
//!
//! let p = PassThrough::<Bytes>::new(TransformOptions::default().high_water_mark(16));
//! assert_eq!((is_readable(&p), is_writable(&p)), (Some(true), Some(true)));
//! p.destroy(None);
//! assert!(is_destroyed(&p));
//! assert_eq!((is_readable(&p), is_writable(&p)), (Some(false), Some(false)));
//! ```

use super::StreamBase;

/// `stream.isReadable(s)`: whether `s` is a readable stream that has not
/// ended, errored or been destroyed; `None` for a stream with no readable
/// side (Node returns `null`).
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{is_readable, Readable, ReadableOptions, Writable, WritableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(16));
/// assert_eq!(is_readable(&r), Some(true));
/// r.push_eof();
/// r.resume();
/// highwater::run_until_idle(); // 'end'
/// assert_eq!(is_readable(&r), Some(false));
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// assert_eq!(is_readable(&w), None);
/// ```
pub fn is_readable(s: &impl StreamBase) -> Option<bool> {
    s.core().is_readable()
}

/// `stream.isWritable(s)`: whether `s` is a writable stream that has not
/// ended, errored or been destroyed; `None` for a stream with no writable
/// side.
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{is_writable, Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// assert_eq!(is_writable(&w), Some(true));
/// w.end();
/// assert_eq!(is_writable(&w), Some(false));
/// ```
pub fn is_writable(s: &impl StreamBase) -> Option<bool> {
    s.core().is_writable()
}

/// `stream.isDestroyed(s)`: whether either side was destroyed.
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{is_destroyed, Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// assert!(!is_destroyed(&w));
/// w.destroy(None);
/// assert!(is_destroyed(&w));
/// ```
pub fn is_destroyed(s: &impl StreamBase) -> bool {
    s.core().is_destroyed()
}

/// `stream.isErrored(s)`: whether the stream has errored (either side).
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{is_errored, Error, Writable, WritableOptions};
///
/// let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// w.on_error(|_| {});
/// assert!(!is_errored(&w));
/// w.destroy(Some(Error::msg("boom")));
/// assert!(is_errored(&w));
/// ```
pub fn is_errored(s: &impl StreamBase) -> bool {
    let c = s.core();
    c.error_emitted_any()
        || c.w.as_ref().is_some_and(|w| w.state.borrow().is_errored())
        || c.r.as_ref().is_some_and(|r| r.state.borrow().is_errored())
}

/// `stream.isDisturbed(s)`: whether data was read from the stream or it was
/// aborted (destroyed or errored before its end); `false` for a stream
/// without a readable side.
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{is_disturbed, Readable, ReadableOptions};
///
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default().high_water_mark(16));
/// r.push(Bytes::from_static(b"x"));
/// assert!(!is_disturbed(&r));
/// r.on_data(|_| {});
/// highwater::run_until_idle();
/// assert!(is_disturbed(&r));
/// ```
pub fn is_disturbed(s: &impl StreamBase) -> bool {
    let c = s.core();
    c.r.as_ref().is_some_and(|r| {
        let st = r.state.borrow();
        st.data_emitted()
            || (st.readable_side && (st.destroyed() || st.is_errored()) && !st.end_emitted())
    })
}
