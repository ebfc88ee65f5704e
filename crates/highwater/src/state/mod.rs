//! Layer 1: Node's pure state and rules. The flags, buffers and counters of
//! each side (`WritableState`, `ReadableState`), the options and marks, the
//! error type, callbacks as values, the named deferred operations. Nothing
//! here touches the event loop, a listener or a hook, so every rule can be
//! tested on its own; the layers above import from here, never the reverse.

pub(crate) mod abort;
pub(crate) mod callback;
pub(crate) mod chunk;
pub(crate) mod error;
mod flags;
pub(crate) mod marks;
pub(crate) mod op;
pub(crate) mod options;
pub(crate) mod options_signal;
pub(crate) mod readable;
pub mod stats;
pub(crate) mod text;
pub(crate) mod writable;

pub use abort::{AbortController, AbortListener, AbortSignal, Cancelled};
pub use callback::{Callback, SharedCallback};
pub use chunk::{ByteChunk, ByteLen};
pub use error::{Error, ErrorKind, Result};
pub use marks::{
    default_high_water_mark, set_default_high_water_mark, DEFAULT_BYTE_HIGH_WATER_MARK,
    DEFAULT_OBJECT_HIGH_WATER_MARK,
};
pub use options::{DuplexOptions, Overflow, ReadableOptions, TransformOptions, WritableOptions};
pub use stats::{ReadableStats, WritableStats};
pub use text::{Encoding, TextChunk};

use std::cell::Cell;

/// Identifies a stream (for `'pipe'`/`'unpipe'` listeners and pipe
/// bookkeeping): unique per thread for the life of the program.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{Writable, WritableOptions};
///
/// let a = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
/// let b = a.clone();
/// assert_eq!(a.id(), b.id()); // the same stream
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub(crate) u64);

thread_local! {
    static NEXT_STREAM: Cell<u64> = const { Cell::new(1) };
}

impl StreamId {
    /// A new identity, never given before on this thread.
    pub(crate) fn next() -> StreamId {
        NEXT_STREAM.with(|n| {
            let id = n.get();
            n.set(id + 1);
            StreamId(id)
        })
    }
}
