//! The Rust runner of highwater's conformance harness.
//!
//! A scenario (see `conformance/SCENARIO-FORMAT.md`) is a small script of
//! stream operations. The Node runner (`conformance/node/runner.mjs`) runs it
//! against Node's streams; this crate runs it against highwater's. Both print
//! a trace, one JSON object a line, and the traces must be equal.
//!
//! [`scenario`] parses and checks a file (malformed files are refused by both
//! runners alike); [`run`] executes it and records the trace.

mod handle;
pub mod run;
pub mod scenario;

pub use run::{run_text, Outcome};
