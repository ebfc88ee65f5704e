//! Why a transfer stopped before it was done.

/// Why a transfer stopped before it was done.
///
/// # Example
///
/// ```
/// use highwater::prelude::*;
/// use highwater_transfer::TransferError;
///
/// let e = TransferError::from(highwater::Error::msg("the disk is on fire"));
/// assert_eq!(e.to_string(), "the disk is on fire");
/// assert_eq!(TransferError::Interrupted.to_string(), "interrupted");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransferError {
    /// A stream failed (the source, a rate stage or the destination): the
    /// pipeline's first error, with its code and syscall.
    #[error(transparent)]
    Stream(#[from] highwater::Error),
    /// The interruption the caller passed came first; every stream of the
    /// transfer was destroyed.
    #[error("interrupted")]
    Interrupted,
}
