//! The two ends of a transfer: what the engine needs of the stream it reads
//! from ([`ByteSource`]) and of the one it writes to ([`ByteDestination`]),
//! and the library's streams that are such ends.
//!
//! This module is the one place that knows the concrete stream types: a
//! file's read and write streams, a socket (either side), and the plain
//! [`Readable<Bytes>`] and [`Writable<Bytes>`]. The rest of the engine is
//! generic over the two traits.

use std::future::Future;

use bytes::Bytes;
use highwater::fs::{ReadStream, WriteStream};
use highwater::net::Socket;
use highwater::{Error, Pipeline, Readable, Writable, WritableEvent, WritableStats};

/// A stream a transfer reads bytes from.
///
/// Clones must be handles to the same stream (as the library's streams'
/// are): the engine keeps one to watch while the pipeline reads from it.
///
/// # Example
///
/// ```
/// use bytes::Bytes;
/// use highwater::{Readable, ReadableOptions};
/// use highwater_transfer::ByteSource;
///
/// fn buffered(source: &impl ByteSource) -> usize {
///     source.readable_length()
/// }
/// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
/// r.push(Bytes::from_static(b"abc"));
/// assert_eq!(buffered(&r), 3);
/// ```
pub trait ByteSource: Clone + 'static {
    /// Bytes waiting in the stream's read buffer.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Readable, ReadableOptions};
    /// use highwater_transfer::ByteSource;
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// assert_eq!(ByteSource::readable_length(&r), 0);
    /// ```
    fn readable_length(&self) -> usize;

    /// Calls `f` with each chunk the stream emits (a `'data'` listener).
    ///
    /// # Example
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use bytes::Bytes;
    /// use highwater::{Readable, ReadableOptions};
    /// use highwater_transfer::ByteSource;
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// let seen = Rc::new(Cell::new(0));
    /// let s = seen.clone();
    /// ByteSource::on_data(&r, move |chunk| s.set(s.get() + chunk.len()));
    /// r.push(Bytes::from_static(b"abcd"));
    /// highwater::run_until_idle();
    /// assert_eq!(seen.get(), 4);
    /// ```
    fn on_data(&self, f: impl Fn(&Bytes) + 'static);

    /// Destroys the stream, without an error.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Readable, ReadableOptions};
    /// use highwater_transfer::ByteSource;
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// ByteSource::destroy(&r);
    /// assert!(r.destroyed());
    /// ```
    fn destroy(&self);

    /// A pipeline that starts at this stream.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
    /// use highwater_transfer::ByteSource;
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"abc"));
    /// r.push_eof();
    /// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// highwater::block_on(async move { r.pipeline().run(&w).await }).unwrap();
    /// ```
    fn pipeline(&self) -> Pipeline<Bytes>;
}

/// A stream a transfer writes bytes to.
///
/// Clones must be handles to the same stream (as the library's streams'
/// are): the engine keeps one to watch while the pipeline writes to it.
///
/// # Example
///
/// ```
/// use bytes::Bytes;
/// use highwater::{Writable, WritableOptions};
/// use highwater_transfer::ByteDestination;
///
/// fn backlog(destination: &impl ByteDestination) -> usize {
///     destination.writable_length()
/// }
/// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
/// assert_eq!(backlog(&w), 0);
/// ```
pub trait ByteDestination: Clone + 'static {
    /// Bytes written so far: to a file, handed to the kernel for a peer,
    /// or finished by a writable's sink.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// w.write(Bytes::from_static(b"abc"));
    /// highwater::run_until_idle();
    /// assert_eq!(w.bytes_written(), 3);
    /// ```
    fn bytes_written(&self) -> u64;

    /// Bytes waiting in the stream's write buffer.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// assert_eq!(ByteDestination::writable_length(&w), 0);
    /// ```
    fn writable_length(&self) -> usize;

    /// The write buffer's statistics: level, peak, false returns, drains,
    /// time under backpressure.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(8), |_: Bytes| Ok(()));
    /// assert_eq!(ByteDestination::writable_stats(&w).high_water_mark, 8);
    /// ```
    fn writable_stats(&self) -> WritableStats;

    /// The stream was destroyed.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// assert!(!ByteDestination::destroyed(&w));
    /// ```
    fn destroyed(&self) -> bool;

    /// Destroys the stream, without an error.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// ByteDestination::destroy(&w);
    /// assert!(ByteDestination::destroyed(&w));
    /// ```
    fn destroy(&self);

    /// Calls `f` at each `'drain'` of the write buffer.
    ///
    /// # Example
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use bytes::Bytes;
    /// use highwater::{Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let w = Writable::from_fn(WritableOptions::default().high_water_mark(2), |_: Bytes| Ok(()));
    /// let drained = Rc::new(Cell::new(false));
    /// let d = drained.clone();
    /// w.on_drain(move || d.set(true));
    /// // Corked, the write waits in the buffer, over the mark.
    /// w.cork();
    /// assert!(!w.write(Bytes::from_static(b"abc")));
    /// w.uncork();
    /// highwater::run_until_idle();
    /// assert!(drained.get());
    /// ```
    fn on_drain(&self, f: impl Fn() + 'static);

    /// Ends `pipeline` at this stream and starts it at once (before the
    /// returned future is first polled); the future resolves when every
    /// stage is done, or with the first error.
    ///
    /// # Errors
    ///
    /// The first error of any stage of the pipeline.
    ///
    /// # Example
    ///
    /// ```
    /// use bytes::Bytes;
    /// use highwater::{Pipeline, Readable, ReadableOptions, Writable, WritableOptions};
    /// use highwater_transfer::ByteDestination;
    ///
    /// let r = Readable::<Bytes>::pushed(ReadableOptions::default());
    /// r.push(Bytes::from_static(b"abc"));
    /// r.push_eof();
    /// let w = Writable::from_fn(WritableOptions::default(), |_: Bytes| Ok(()));
    /// let done = w.run(Pipeline::new(&r));
    /// highwater::block_on(done).unwrap();
    /// assert_eq!(w.bytes_written(), 3);
    /// ```
    fn run(&self, pipeline: Pipeline<Bytes>) -> impl Future<Output = Result<(), Error>> + 'static;
}

// Each method calls the stream's own (inherent) method of the same name,
// through the handle that has it (`readable()`, `duplex()`,
// `writable_stream()`): called on the stream itself, a name this trait
// shares could resolve to the trait's method and recurse.

impl ByteSource for ReadStream {
    fn readable_length(&self) -> usize {
        self.readable().readable_length()
    }
    fn on_data(&self, f: impl Fn(&Bytes) + 'static) {
        self.readable().on_data(f);
    }
    fn destroy(&self) {
        self.readable().destroy(None);
    }
    fn pipeline(&self) -> Pipeline<Bytes> {
        Pipeline::new(self.readable())
    }
}

impl ByteSource for Socket {
    fn readable_length(&self) -> usize {
        self.duplex().readable_length()
    }
    fn on_data(&self, f: impl Fn(&Bytes) + 'static) {
        self.duplex().on_data(f);
    }
    fn destroy(&self) {
        self.duplex().destroy(None);
    }
    fn pipeline(&self) -> Pipeline<Bytes> {
        Pipeline::new(self.duplex())
    }
}

impl ByteSource for Readable<Bytes> {
    fn readable_length(&self) -> usize {
        Readable::readable_length(self)
    }
    fn on_data(&self, f: impl Fn(&Bytes) + 'static) {
        Readable::on_data(self, f);
    }
    fn destroy(&self) {
        Readable::destroy(self, None);
    }
    fn pipeline(&self) -> Pipeline<Bytes> {
        Pipeline::new(self)
    }
}

impl ByteDestination for WriteStream {
    fn bytes_written(&self) -> u64 {
        // The inherent method (an inherent item wins over a trait's in a path).
        WriteStream::bytes_written(self)
    }
    fn writable_length(&self) -> usize {
        self.writable_stream().writable_length()
    }
    fn writable_stats(&self) -> WritableStats {
        self.writable_stream().writable_stats()
    }
    fn destroyed(&self) -> bool {
        self.writable_stream().destroyed()
    }
    fn destroy(&self) {
        self.writable_stream().destroy(None);
    }
    fn on_drain(&self, f: impl Fn() + 'static) {
        self.writable_stream().on(WritableEvent::Drain, f);
    }
    fn run(&self, pipeline: Pipeline<Bytes>) -> impl Future<Output = Result<(), Error>> + 'static {
        pipeline.run(self.writable_stream())
    }
}

impl ByteDestination for Socket {
    fn bytes_written(&self) -> u64 {
        // The inherent method (an inherent item wins over a trait's in a path).
        Socket::bytes_written(self)
    }
    fn writable_length(&self) -> usize {
        self.duplex().writable_length()
    }
    fn writable_stats(&self) -> WritableStats {
        self.duplex().writable_stats()
    }
    fn destroyed(&self) -> bool {
        self.duplex().destroyed()
    }
    fn destroy(&self) {
        self.duplex().destroy(None);
    }
    fn on_drain(&self, f: impl Fn() + 'static) {
        self.duplex().on(WritableEvent::Drain, f);
    }
    fn run(&self, pipeline: Pipeline<Bytes>) -> impl Future<Output = Result<(), Error>> + 'static {
        pipeline.run(self.duplex())
    }
}

impl ByteDestination for Writable<Bytes> {
    /// Bytes the sink finished writing (`bytes_out` of the stats).
    fn bytes_written(&self) -> u64 {
        Writable::writable_stats(self).bytes_out
    }
    fn writable_length(&self) -> usize {
        Writable::writable_length(self)
    }
    fn writable_stats(&self) -> WritableStats {
        Writable::writable_stats(self)
    }
    fn destroyed(&self) -> bool {
        Writable::destroyed(self)
    }
    fn destroy(&self) {
        Writable::destroy(self, None);
    }
    fn on_drain(&self, f: impl Fn() + 'static) {
        Writable::on(self, WritableEvent::Drain, f);
    }
    fn run(&self, pipeline: Pipeline<Bytes>) -> impl Future<Output = Result<(), Error>> + 'static {
        pipeline.run(self)
    }
}
