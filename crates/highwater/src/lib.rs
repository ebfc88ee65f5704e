//! Node.js streams, with their backpressure, done right in Rust.
//!
//! highwater ports Node's stream model, observable behaviour included: a
//! [`Writable`] has a buffer bounded by its high-water mark, `write()` returns
//! `false` when the producer should wait, and `'drain'` says when to go on —
//! with the same return values, event order and error codes as Node 20,
//! checked against real Node by the conformance scenarios in `conformance/`.
//!
//! # The execution model
//!
//! Streams live on a single-threaded [event loop](event_loop) with Node's
//! next-tick queue: events are emitted synchronously, deferred work runs on
//! the next tick, and awaited futures resume like promise jobs. Use
//! [`block_on`] (or [`run`] inside a tokio current-thread runtime) to drive
//! it from async code, or [`run_until_idle`] in synchronous code.
//!
//! # Interop
//!
//! [`compat`] turns tokio's `AsyncRead`/`AsyncWrite` and `futures`'
//! `Stream`/`Sink` into streams and back, adds async-stream pipeline stages
//! ([`Pipeline::through_fn`]), and bridges multi-threaded runtimes to the
//! loop ([`compat::spawn_loop`], [`compat::channel`]).
//!
//! # Streams over I/O
//!
//! [`fs`] has Node's file streams (`createReadStream`, `createWriteStream`)
//! and [`net`] its TCP sockets and servers: a socket is a byte [`Duplex`]
//! whose backpressure reaches across the connection (a peer that reads
//! slowly makes `write()` return `false` here).
//!
//! # Example
//!
//! A fast producer and a slow consumer, with the producer waiting whenever the
//! consumer's buffer is full:
//!
//! ```
//! use bytes::Bytes;
//! use highwater::{AsyncSink, Error, Writable, WritableOptions};
//!
//! struct SlowDisk(usize);
//! impl AsyncSink<Bytes> for SlowDisk {
//!     async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
//!         tokio::time::sleep(std::time::Duration::from_micros(50)).await;
//!         self.0 += chunk.len();
//!         Ok(())
//!     }
//! }
//!
//! highwater::block_on(async {
//!     let w = Writable::from_async(WritableOptions::default().high_water_mark(64), SlowDisk(0));
//!     for _ in 0..100 {
//!         // Waits for 'drain' whenever write() says the buffer is full.
//!         w.write_async(Bytes::from_static(b"0123456789abcdef")).await?;
//!         assert!(w.writable_length() <= 64 + 16);
//!     }
//!     w.end_async().await
//! })
//! .unwrap();
//! ```
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod callback;
pub mod compat;
mod core;
pub mod duplex;
mod error;
pub mod event_loop;
mod events;
pub mod fanout;
pub mod finished;
pub mod fs;
mod io_pool;
mod marks;
pub mod net;
mod options;
pub mod pipe;
pub mod pipeline;
pub mod readable;
pub mod stats;
pub mod transform;
pub mod writable;

pub use crate::core::StreamId;
pub use callback::{Callback, SharedCallback};
pub use compat::{
    LoopHandle, LoopJoinHandle, ReadableReader, SendReader, SendWriter, WritableSink,
};
pub use duplex::{Duplex, DuplexOptions};
pub use error::{Error, ErrorKind, Result};
pub use event_loop::{block_on, next_tick, run, run_until_idle, spawn, JoinHandle};
pub use events::ListenerId;
pub use finished::{finished, finished_async, Stream};
pub use marks::{
    default_high_water_mark, set_default_high_water_mark, DEFAULT_BYTE_HIGH_WATER_MARK,
    DEFAULT_OBJECT_HIGH_WATER_MARK,
};
pub use options::{Overflow, ReadableOptions, StreamOptions, WritableOptions};
pub use pipe::{PipeDestination, PipeOptions};
pub use pipeline::{Pipeline, PipelineSource};
pub use readable::{ByteChunk, Readable, ReadableEvent, ReadableImpl, ReadableStream, Source};
pub use stats::{ReadableStats, WritableStats};
pub use transform::{PassThrough, Transform, TransformDone, TransformImpl};
pub use writable::{AsyncSink, ByteLen, Done, Writable, WritableEvent, WritableImpl};
