//! A byte source piped into a byte destination through optional rate
//! limits, with what backpressure did measured along the way: the engine
//! behind the `highwater` command's `copy`, `pipe`, `send` and `recv`.
//!
//! Everything that moves bytes is the `highwater` library's: a
//! [`Pipeline`](highwater::Pipeline) from the source, through a rate-limit
//! [`Transform`](highwater::Transform) for each limit asked for
//! ([`rate_limit`]), into the destination. This crate only watches, through
//! the first destination's `writable_stats()` (the stage backpressure fills
//! first): its false returns (the pipe pauses the reader exactly then),
//! drains, peak, time under backpressure, and the level of every buffer of
//! the transfer together, sampled after every chunk read, at every
//! `'drain'` and on a timer ([`Sample`]). A transfer that completes gives a
//! [`Report`].
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | [`TransferConfig`]: read size, marks, rate limits, sampling period; [`buffer_bound`] |
//! | [`rate`] | [`rate_limit`]: the rate-limit stage |
//! | [`sample`] | [`Sample`]: the state of a transfer at one moment |
//! | [`observer`] | [`Observer`]: the hook a progress display plugs in |
//! | [`report`] | [`Report`], [`window_rates`]: what a completed transfer measured (data only) |
//! | [`error`] | [`TransferError`]: a stream failed, or the caller interrupted |
//! | [`transfer`] | [`Transfer`]: the transfer itself |
//!
//! Nothing here prints, parses flags or installs signal handlers: progress
//! is an [`Observer`], and an interruption is a future the caller passes to
//! [`Transfer::run`].
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::{Readable, ReadableOptions, Writable, WritableOptions};
//! use highwater_transfer::{Transfer, TransferConfig};
//!
//! let report = highwater::block_on(async {
//!     let source = Readable::<Bytes>::pushed(ReadableOptions::default());
//!     for _ in 0..8 {
//!         source.push(Bytes::from(vec![7u8; 1024]));
//!     }
//!     source.push_eof();
//!     let destination =
//!         Writable::from_fn(WritableOptions::default().high_water_mark(2048), |_: Bytes| Ok(()));
//!     Transfer::new(source, destination, TransferConfig::new(1024, 2048))
//!         .run(std::future::pending())
//!         .await
//! })
//! .unwrap();
//! assert_eq!(report.bytes, 8 * 1024);
//! assert_eq!(report.reads, 8);
//! ```
#![warn(missing_debug_implementations, rust_2018_idioms)]

pub mod config;
pub mod error;
mod gauge;
pub mod observer;
pub mod rate;
pub mod report;
pub mod sample;
pub mod transfer;

pub use config::{buffer_bound, TransferConfig};
pub use error::TransferError;
pub use observer::Observer;
pub use rate::rate_limit;
pub use report::{window_rates, Report};
pub use sample::Sample;
pub use transfer::Transfer;
