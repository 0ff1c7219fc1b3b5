//! [`KvHistory`]: the read-only view of the MVCC store the hub needs. Defined here, by its
//! user, so that mvcc never depends on watch.

use oxcd_proto::mvccpb::{Event, KeyValue};

/// Why history could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The requested revision was compacted.
    #[error("mvcc: required revision has been compacted")]
    Compacted,
    /// Anything else (storage failure).
    #[error("{0}")]
    Other(String),
}

/// Revision history of the key space.
pub trait KvHistory: Send + Sync + 'static {
    /// The latest published revision.
    fn current_revision(&self) -> i64;

    /// The compaction revision (history at or below it is gone).
    fn compacted_revision(&self) -> i64;

    /// Events with `from_rev <= revision <= to_rev` on keys in the watcher range, in
    /// revision order, sub-revision order within a revision. `range_end` follows the
    /// etcd convention of the normalised spec: empty = single key, `[0]` = all keys >= key.
    /// May stop early after `limit` events, but only at a revision boundary.
    /// `prev_kv` on returned events is not required to be filled.
    fn events(
        &self,
        key: &[u8],
        range_end: &[u8],
        from_rev: i64,
        to_rev: i64,
        limit: usize,
    ) -> Result<Vec<Event>, HistoryError>;

    /// The value of `key` as of revision `rev` (for `prev_kv`), if it existed.
    fn get_at(&self, key: &[u8], rev: i64) -> Option<KeyValue>;
}
