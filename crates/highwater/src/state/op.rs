//! The deferred work of a stream, named: what a stream asks the event loop to
//! run on the next tick (Node's `process.nextTick(fn, stream, …)` calls).
//!
//! The event loop stores an operation beside the stream it belongs to and
//! hands it back on the tick, so a stream's own deferred work costs no
//! allocation. Each variant is one of Node's next-tick functions.

/// A next-tick job of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamOp {
    /// A job of the writable side.
    Writable(WritableOp),
    /// A job of the readable side.
    Readable(ReadableOp),
    /// `emitCloseNT` / `emitErrorCloseNT` after `_destroy` called back.
    EmitClose,
    /// `constructNT`: call the construct hook.
    Construct,
}

/// The writable side's next-tick jobs (`writable.js`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WritableOp {
    /// `process.nextTick(afterWrite, stream, state, 1, nop)`.
    AfterWriteNop,
    /// `process.nextTick(afterWriteTick, info)`, info taken from `tick_infos`.
    AfterWriteTick,
    /// The deferred check of `finishMaybe(sync = true)`.
    FinishMaybe,
    /// `process.nextTick(finish, stream, state)` from `onFinish`.
    Finish,
    /// `process.nextTick(errorBuffer, state)` from `destroy()`.
    ErrorBuffer,
}

/// The readable side's next-tick jobs (`readable.js`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadableOp {
    /// `emitReadable_`.
    EmitReadable,
    /// `maybeReadMore_`.
    MaybeReadMore,
    /// `endReadableNT`.
    EndReadable,
    /// `endWritableNT` (a Duplex without `allowHalfOpen`).
    EndWritable,
    /// `resume_`.
    Resume,
    /// `nReadingNextTick`: `read(0)`.
    ReadZero,
    /// `updateReadableListening`.
    UpdateReadableListening,
}

impl From<WritableOp> for StreamOp {
    fn from(op: WritableOp) -> Self {
        StreamOp::Writable(op)
    }
}

impl From<ReadableOp> for StreamOp {
    fn from(op: ReadableOp) -> Self {
        StreamOp::Readable(op)
    }
}
