//! [`StreamEvent`]: any event a stream emits, by name, for
//! [`StreamBase::listener_count`](crate::StreamBase::listener_count).

use super::{ReadableEvent, WritableEvent};

/// Any event a stream can emit: Node's event names, for counting listeners
/// with [`listener_count`](crate::StreamBase::listener_count). A
/// [`WritableEvent`] or a [`ReadableEvent`] converts into one.
///
/// Asking a stream about an event it has no side for (`Drain` on a
/// `Readable`) answers 0, as Node's `listenerCount('drain')` does.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use highwater::prelude::*;
/// use highwater::{PassThrough, StreamEvent, TransformOptions};
///
/// let p = PassThrough::<Bytes>::new(TransformOptions::default());
/// p.on_data(|_c| {});
/// p.on_error(|_e| {});
/// assert_eq!(p.listener_count(StreamEvent::Data), 1);
/// assert_eq!(p.listener_count(StreamEvent::Error), 1);
/// assert_eq!(p.listener_count(StreamEvent::Drain), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamEvent {
    /// `'data'`: a chunk was read in flowing mode.
    Data,
    /// `'readable'`: `read()` will return data, or the stream ended.
    Readable,
    /// `'end'`: everything was read after the source's EOF.
    End,
    /// `'pause'`: the stream stopped flowing.
    Pause,
    /// `'resume'`: the stream started flowing.
    Resume,
    /// `'drain'`: the writable buffer emptied after `write()` returned `false`.
    Drain,
    /// `'prefinish'`: everything is written and `_final` (if any) is done.
    Prefinish,
    /// `'finish'`: `end()` was called and every chunk is written.
    Finish,
    /// `'pipe'`: a Readable started piping into this stream.
    Pipe,
    /// `'unpipe'`: a Readable stopped piping into this stream.
    Unpipe,
    /// `'error'`: the stream failed.
    Error,
    /// `'close'`: the stream is destroyed and released its resources.
    Close,
}

impl From<WritableEvent> for StreamEvent {
    /// ```
    /// use highwater::{StreamEvent, WritableEvent};
    ///
    /// assert_eq!(StreamEvent::from(WritableEvent::Drain), StreamEvent::Drain);
    /// ```
    fn from(e: WritableEvent) -> Self {
        match e {
            WritableEvent::Drain => StreamEvent::Drain,
            WritableEvent::Prefinish => StreamEvent::Prefinish,
            WritableEvent::Finish => StreamEvent::Finish,
            WritableEvent::Close => StreamEvent::Close,
        }
    }
}

impl From<ReadableEvent> for StreamEvent {
    /// ```
    /// use highwater::{ReadableEvent, StreamEvent};
    ///
    /// assert_eq!(StreamEvent::from(ReadableEvent::End), StreamEvent::End);
    /// ```
    fn from(e: ReadableEvent) -> Self {
        match e {
            ReadableEvent::End => StreamEvent::End,
            ReadableEvent::Pause => StreamEvent::Pause,
            ReadableEvent::Resume => StreamEvent::Resume,
            ReadableEvent::Close => StreamEvent::Close,
        }
    }
}
