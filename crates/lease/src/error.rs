//! [`LeaseError`], the one error type of this crate.

use oxcd_backend::BackendError;

/// Everything a lessor operation can fail with.
///
/// The messages of the client-visible variants are etcd's, without the `etcdserver: `
/// prefix the server adds.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The lease does not exist (etcd `ErrLeaseNotFound`, gRPC NotFound).
    #[error("requested lease not found")]
    NotFound,
    /// A grant named an id that is already granted (etcd `ErrLeaseExists`,
    /// gRPC FailedPrecondition).
    #[error("lease already exists")]
    AlreadyExists,
    /// A grant asked for more than [`crate::LessorConfig::max_ttl_secs`]
    /// (etcd `ErrLeaseTTLTooLarge`, gRPC OutOfRange).
    #[error("too large lease TTL")]
    TtlTooLarge,
    /// A grant named lease id 0, which means "no lease". The server picks a random
    /// non-zero id before proposing; etcd's lessor reports this case as not found.
    #[error("lease ID 0 is reserved for \"no lease\"")]
    ZeroId,
    /// A leader-only operation ([`crate::Lessor::renew`]) ran on a member that is not the
    /// primary lessor (etcd `ErrNotPrimary`). The server forwards or retries.
    #[error("not a primary lessor")]
    NotPrimary,
    /// [`crate::Lessor::renew`] found the lease already expired: its revoke is pending.
    /// etcd's renew waits for that revoke and then answers not found; the server answers
    /// a KeepAlive with TTL 0 (or retries after the revoke applied).
    #[error("lease expired, revoke pending")]
    Expired,
    /// A persisted lease record could not be decoded.
    #[error("corrupt lease record: {0}")]
    Corrupt(String),
    /// The backend failed while loading leases.
    #[error(transparent)]
    Backend(#[from] BackendError),
}
