//! Which types may cross threads, checked at compile time (as tokio's
//! `async_send_sync` test does): the streams live on one thread's event loop
//! and are `!Send` by design (shared `Rc` state, no locks on the hot path);
//! the bridges to other threads (`LoopHandle`, the `channel` halves, a
//! `LoopJoinHandle` of a `Send` value) and the plain data types (errors,
//! options, stats) are `Send + Sync` where it makes sense. A change that
//! makes a stream `Send`, or a bridge `!Send`, stops this file compiling.

#![allow(dead_code)]

use bytes::Bytes;
use highwater::compat::{LoopHandle, LoopJoinHandle, SendReader, SendWriter};
use highwater::fanout::FanOut;
use highwater::fs::{ReadStream, ReadStreamOptions, WriteStream, WriteStreamOptions};
use highwater::net::{Server, ServerOptions, Socket, SocketOptions};
use highwater::{
    Done, Duplex, DuplexOptions, Error, Hooks, PassThrough, PipeOptions, Pipeline, Readable,
    ReadableOptions, ReadableReader, ReadableStats, ReadableStream, Source, Transform,
    TransformDone, TransformOptions, Writable, WritableOptions, WritableSink, WritableStats,
};

fn require_send<T: Send>() {}
fn require_sync<T: Sync>() {}

/// `<T as AmbiguousIfSend<_>>::some_item()` compiles only when `T` is not
/// `Send`: for a `Send` type both impls apply and the call is ambiguous.
trait AmbiguousIfSend<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

macro_rules! send_and_sync {
    ($($t:ty),* $(,)?) => {
        $( const _: fn() = || { require_send::<$t>(); require_sync::<$t>(); }; )*
    };
}
macro_rules! send {
    ($($t:ty),* $(,)?) => {
        $( const _: fn() = || require_send::<$t>(); )*
    };
}
macro_rules! not_send {
    ($($t:ty),* $(,)?) => {
        $( const _: fn() = || { <$t as AmbiguousIfSend<_>>::some_item(); }; )*
    };
}

// Plain data: errors, options, hook sets, stats.
send_and_sync!(
    Error,
    WritableOptions<Bytes>,
    WritableOptions<(u32, String)>,
    ReadableOptions<Bytes>,
    ReadableOptions<(u32, String)>,
    DuplexOptions<Bytes, Bytes>,
    DuplexOptions<(u32, String), Bytes>,
    TransformOptions<Bytes, Bytes>,
    TransformOptions<Bytes, (u32, String)>,
    PipeOptions,
    Hooks,
    SocketOptions,
    ServerOptions,
    ReadStreamOptions,
    WriteStreamOptions,
    WritableStats,
    ReadableStats,
);

// The bridges between threads.
send!(LoopHandle, SendWriter, SendReader, LoopJoinHandle<u64>);

// The streams and their handles: one thread's event loop.
not_send!(
    Writable<Bytes>,
    Readable<Bytes>,
    Duplex<Bytes, Bytes>,
    Transform<Bytes, Bytes>,
    Transform<Bytes, (u32, String)>,
    PassThrough<Bytes>,
    PassThrough<(u32, String)>,
    Pipeline<Bytes>,
    ReadStream,
    WriteStream,
    Socket,
    Server,
    FanOut<Bytes>,
    Done,
    TransformDone<Bytes>,
    Source<Bytes>,
);

// The std and futures views of a stream: still handles to the loop's stream.
not_send!(ReadableStream<Bytes>, ReadableReader, WritableSink<Bytes>);

#[test]
fn the_thread_rules_compile() {
    // Everything above is checked when this file compiles; this test makes
    // the file part of `cargo test`'s count.
}
