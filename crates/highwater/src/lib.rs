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
//! (`Pipeline::through_fn`), and bridges multi-threaded runtimes to the
//! loop ([`compat::spawn_loop`], [`compat::channel`]).
//!
//! # Composition
//!
//! [`Compose`] joins stages into one Duplex (Node's `stream.compose`),
//! [`Duplex::from_pair`] makes one Duplex of a readable and a writable
//! (Node's `Duplex.from({ readable, writable })`), [`duplex_pair`] makes two
//! connected Duplex streams (Node 22's `duplexPair()`), and, with `compat`,
//! `Duplex::from_async_io` wraps any tokio `AsyncRead + AsyncWrite`.
//!
//! # Streams over I/O
//!
//! [`fs`] has Node's file streams (`createReadStream`, `createWriteStream`)
//! and [`net`] its TCP sockets and servers: a socket is a byte [`Duplex`]
//! whose backpressure reaches across the connection (a peer that reads
//! slowly makes `write()` return `false` here).
//!
//! # The shape of the API
//!
//! Every stream type (`Writable`, `Readable`, `Duplex`, `Transform`,
//! `PassThrough`, the file streams, sockets) gets its methods from three
//! traits, implemented once for all of them: [`StreamBase`] (destroy,
//! `'error'`, `'close'`), [`WritableSide<T>`] (write, end, `'drain'`) and
//! [`ReadableSide<T>`] (read, push, `'data'`, `'end'`), plus [`ReadableExt`]
//! for the operations (`pipe`, the async iterator). Import them with
//! `use highwater::prelude::*`, and write generic code over them:
//! `fn f(dest: &impl WritableSide<Bytes>)` takes any byte destination.
//!
//! Streams are built from hooks ([`WritableImpl`], [`ReadableImpl`],
//! [`TransformImpl`]) or closures (`Writable::from_fn`,
//! `Transform::from_fn`); the options of each side ([`WritableOptions`],
//! [`ReadableOptions`], [`DuplexOptions`], [`TransformOptions`]) choose how
//! chunks count: bytes (`default()`), objects (`objects()`) or weights
//! (`weighted(f)`).
//!
//! # Layers
//!
//! The modules are layers, each importing only from those below it:
//! `state` (Node's pure rules) → `runtime` (the event loop, listeners) →
//! `stream` (the core: both state machines, destroy, the stream types) →
//! `ops` (pipe, finished, pipeline, fan-out) → `io` (fs, net, compat, each
//! behind a cargo feature of that name, all on by default). See
//! `docs/DESIGN.md`.
//!
//! # Example
//!
//! A fast producer and a slow consumer, with the producer waiting whenever the
//! consumer's buffer is full:
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
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

mod io;
mod ops;
pub mod prelude;
mod runtime;
mod state;
mod stream;

#[cfg(feature = "compat")]
pub use io::compat;
#[cfg(feature = "fs")]
pub use io::fs;
#[cfg(feature = "net")]
pub use io::net;
pub use ops::{fanout, operators};
pub use runtime::event_loop;
pub use state::stats;

#[cfg(feature = "compat")]
pub use io::compat::{
    LoopHandle, LoopJoinHandle, ReadableReader, SendReader, SendWriter, WritableSink,
};
pub use ops::{
    abort_when, finished, finished_async, finished_async_with, finished_with, Compose, IterOptions,
    OperatorOptions, OperatorsExt, PipeOptions, Pipeline, ReadableExt, ReadableStream, TextStream,
};
pub use runtime::event_loop::{block_on, next_tick, run, run_until_idle, spawn, JoinHandle};
pub use runtime::ListenerId;
pub use state::{
    default_high_water_mark, set_default_high_water_mark, AbortController, AbortListener,
    AbortSignal, ByteChunk, ByteLen, Callback, Cancelled, DuplexOptions, Encoding, Error,
    ErrorKind, Overflow, ReadableOptions, ReadableStats, Result, SharedCallback, StreamId,
    TextChunk, TransformOptions, WritableOptions, WritableStats, DEFAULT_BYTE_HIGH_WATER_MARK,
    DEFAULT_OBJECT_HIGH_WATER_MARK,
};
pub use stream::{
    add_abort_signal, duplex_pair, is_destroyed, is_disturbed, is_errored, is_readable,
    is_writable, AsyncSink, Cleanup, Done, Duplex, FinishedOptions, Hooks, PassThrough, Readable,
    ReadableEvent, ReadableImpl, ReadableSide, Source, StreamBase, StreamEvent, Transform,
    TransformDone, TransformImpl, Writable, WritableEvent, WritableImpl, WritableSide,
};
