//! [`LeaseIndex`]: what the KV apply path needs from the lessor: does a lease exist, and
//! which keys are attached to it. Defined here, by its user; implemented for
//! [`oxcd_lease::Lessor`].

use oxcd_lease::Lessor;

/// Lease lookups and key attachment done while applying KV writes.
pub trait LeaseIndex: Send + Sync {
    /// Whether lease `id` is granted.
    fn exists(&self, id: i64) -> bool;
    /// Records that `key` is attached to lease `id`.
    fn attach(&self, id: i64, key: &[u8]);
    /// Records that `key` no longer belongs to lease `id`.
    fn detach(&self, id: i64, key: &[u8]);
}

impl LeaseIndex for Lessor {
    fn exists(&self, id: i64) -> bool {
        Lessor::exists(self, id)
    }
    fn attach(&self, id: i64, key: &[u8]) {
        // A missing lease was checked before the put; nothing to attach to otherwise.
        let _ = Lessor::attach(self, id, key);
    }
    fn detach(&self, id: i64, key: &[u8]) {
        let _ = Lessor::detach(self, id, key);
    }
}
