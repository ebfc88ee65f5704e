//! Layer 5: streams over I/O and interop, at the edge. Each adapter is a
//! source, a sink or a consumer built on the layers below; each is behind
//! the cargo feature of its name (all on by default).

#[cfg(feature = "compat")]
pub mod compat;
#[cfg(feature = "fs")]
pub mod fs;
#[cfg(feature = "net")]
pub mod net;
#[cfg(feature = "fs")]
pub(crate) mod pool;
