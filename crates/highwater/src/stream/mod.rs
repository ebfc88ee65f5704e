//! Layer 3: the stream core. One `Core` per stream holding its sides; both
//! state machines (Node's `writable.js`, `readable.js`), `destroy.js`, the
//! [`Done`] callback, the hooks a stream is made of, and the stream types
//! (`Writable`, `Readable`, `Duplex`, `Transform`, `PassThrough`) with the
//! traits that give them their methods ([`StreamBase`], [`WritableSide`],
//! [`ReadableSide`]). Imports from [`runtime`](crate::runtime) and
//! [`state`](crate::state) only.

pub(crate) mod abort;
pub(crate) mod core;
pub(crate) mod done;
pub(crate) mod duplex;
pub(crate) mod duplex_pair;
pub(crate) mod eos;
pub(crate) mod event;
pub(crate) mod hooks;
pub(crate) mod predicates;
pub(crate) mod readable;
pub(crate) mod side;
pub(crate) mod target;
pub(crate) mod transform;
pub(crate) mod writable;

pub use abort::add_abort_signal;
pub use done::Done;
pub use duplex::Duplex;
pub use duplex_pair::duplex_pair;
pub use eos::{Cleanup, FinishedOptions};
pub use event::StreamEvent;
pub use hooks::{Hooks, ReadableImpl, WritableImpl};
pub use predicates::{is_destroyed, is_disturbed, is_errored, is_readable, is_writable};
pub use readable::{Readable, ReadableEvent, Source};
pub use side::{ReadableSide, StreamBase, WritableSide};
pub use transform::{PassThrough, Transform, TransformDone, TransformImpl};
pub use writable::{AsyncSink, Writable, WritableEvent};
pub(crate) mod utils;
