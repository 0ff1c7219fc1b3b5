//! [`MvccError`], the one error type of this crate.

use oxcd_backend::BackendError;

/// Everything that can go wrong in the MVCC store.
///
/// The `Display` strings of [`MvccError::Compacted`] and [`MvccError::FutureRevision`] are
/// etcd's byte for byte; the server adds the `"etcdserver: "` prefix when it maps them to
/// gRPC statuses (both are `OutOfRange`).
#[derive(Debug, thiserror::Error)]
pub enum MvccError {
    /// The requested revision is at or below the compacted revision (etcd `ErrCompacted`).
    #[error("mvcc: required revision has been compacted")]
    Compacted,
    /// The requested revision is above the current revision (etcd `ErrFutureRev`).
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    /// The storage backend failed.
    #[error("mvcc: backend: {0}")]
    Backend(#[from] BackendError),
    /// Stored data could not be decoded, or the index and the backend disagree.
    #[error("mvcc: corrupt data: {0}")]
    Corrupt(String),
}

/// Result alias for this crate.
pub type Result<T, E = MvccError> = std::result::Result<T, E>;
