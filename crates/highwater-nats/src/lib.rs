//! highwater streams over NATS JetStream, with backpressure end to end.
//!
//! * [`publisher`]: a JetStream stream as a [`highwater::Writable`]. Each
//!   write publishes; the publishes awaiting their acknowledgement are the
//!   buffer, so `write()` returns `false` at the mark and `'drain'` comes as
//!   acknowledgements return. Each message carries a `Nats-Msg-Id`, so a
//!   publish retried after a reconnect is stored once. An optional backlog
//!   bound ([`Backlog`]) holds publishing while the receiving consumer is
//!   behind, so backpressure reaches from the last consumer to the first
//!   producer across machines.
//! * [`Subscription`]: a durable pull consumer as a [`highwater::Readable`].
//!   A fetch asks for at most the free space below the mark; a message is
//!   acknowledged only after the downstream write that carried it
//!   completed ([`acknowledging`], [`Acks::written`]), so a crash
//!   redelivers rather than loses. It ends at an end marker, a stream
//!   sequence, or when nothing is pending ([`End`]).
//! * [`protocol`]: the framing (transfer id, sequence, offset, an end
//!   marker with the length and a CRC-32) that lets a receiver skip
//!   duplicates and prove it got the whole byte stream exactly once.
//! * [`NatsUrl`], [`NatsError`] and its [`codes`].
//!
//! Everything runs on highwater's loop in its tokio runtime
//! (`highwater::block_on`), where `async-nats` runs too.
//!
//! # Example
//!
//! ```no_run
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::WritableOptions;
//! use highwater_nats::{publisher, PublishOptions};
//!
//! highwater::block_on(async {
//!     let client = async_nats::connect("127.0.0.1:4222").await.unwrap();
//!     let js = async_nats::jetstream::new(client);
//!     let (w, _) = publisher(js, WritableOptions::default(), PublishOptions::new("files"));
//!     for _ in 0..100 {
//!         // Waits for 'drain' whenever a mark's worth awaits acknowledgement.
//!         w.write_async(Bytes::from(vec![0u8; 64 * 1024])).await?;
//!     }
//!     w.end_async().await
//! })
//! .unwrap();
//! ```
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod error;
pub mod protocol;
pub mod reader;
pub mod setup;
pub mod url;
pub mod writer;

pub use error::{codes, NatsError};
pub use reader::{acknowledging, Acks, End, Start, SubscribeOptions, Subscription};
pub use setup::{connect, consumer, create_stream, open_stream, ConsumerConfig, StreamConfig};
pub use url::NatsUrl;
pub use writer::{publisher, Backlog, PublishOptions, PublisherCounts, PublisherStats};
