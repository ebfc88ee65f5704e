//! The traits that give every stream its methods, for a glob import:
//! `use highwater::prelude::*;`.
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use highwater::prelude::*;
//! use highwater::{Writable, WritableOptions};
//!
//! let w = Writable::from_fn(WritableOptions::default(), |_c: Bytes| Ok(()));
//! assert!(w.write(Bytes::from_static(b"x"))); // WritableSide::write
//! w.destroy(None);                            // StreamBase::destroy
//! ```

pub use crate::ops::{OperatorsExt, ReadableExt};
pub use crate::stream::{ReadableSide, StreamBase, WritableSide};
