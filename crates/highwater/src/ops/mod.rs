//! Layer 4: operations over streams. `pipe` and `unpipe`
//! ([`ReadableExt`]), `finished` (end-of-stream), [`Pipeline`], the async
//! iterator and the fan-out. Written against the stream layer's handles and
//! its internal interface, never against either state machine.

pub(crate) mod abort;
pub(crate) mod compose;
pub(crate) mod duplexify;
pub(crate) mod ext;
pub mod fanout;
pub(crate) mod finished;
pub(crate) mod iter;
pub mod operators;
pub(crate) mod pipe;
pub(crate) mod pipeline;
pub(crate) mod text;

pub use abort::abort_when;
pub use compose::Compose;
pub use ext::ReadableExt;
pub use finished::{finished, finished_async, finished_async_with, finished_with};
pub use iter::{IterOptions, ReadableStream};
pub use operators::{OperatorOptions, OperatorsExt};
pub use pipe::PipeOptions;
pub use pipeline::Pipeline;
pub use text::TextStream;
