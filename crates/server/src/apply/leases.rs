//! [`LeaseIndex`]: what the apply path needs from the lessor: does a lease exist, and which
//! keys are attached to it. Defined here, by its user, so the apply path does not depend on
//! the lessor's implementation.

/// Lease lookups and key attachment done while applying KV writes.
pub trait LeaseIndex: Send + Sync {
    /// Whether lease `id` is granted.
    fn exists(&self, id: i64) -> bool;
    /// Records that `key` is attached to lease `id`.
    fn attach(&self, id: i64, key: &[u8]);
    /// Records that `key` no longer belongs to lease `id`.
    fn detach(&self, id: i64, key: &[u8]);
}

/// The lease index of a server with no granted leases: every lease ID is unknown, so a put
/// with a lease fails with "requested lease not found", as on etcd before any grant.
#[derive(Debug, Default)]
pub struct NoLeases;

impl LeaseIndex for NoLeases {
    fn exists(&self, _id: i64) -> bool {
        false
    }
    fn attach(&self, _id: i64, _key: &[u8]) {}
    fn detach(&self, _id: i64, _key: &[u8]) {}
}
