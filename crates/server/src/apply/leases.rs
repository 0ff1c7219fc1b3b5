//! The lease apply domain: LeaseGrant, LeaseRevoke and LeaseCheckpoint entries; what the
//! KV apply path needs from the lessor; and the lease attachments a request decides while
//! it runs.
//!
//! [`LeaseIndex`] is defined here, by its user, and implemented for
//! [`oxcd_lease::Lessor`]. [`LeaseEdits`] is "decide, then change" for leases: a put or
//! delete records the attach and detach it implies instead of changing the lessor at
//! once, and the apply path hands the recorded [`LeaseMoves`] to the lessor only after the
//! whole request succeeded and its batch was written. A txn whose third op fails therefore
//! leaves no key attached by its first op (revoking that lease later would otherwise
//! delete a key it does not own).

use oxcd_backend::WriteBatch;
use oxcd_lease::Lessor;
use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::{
    LeaseCheckpointRequest, LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeResponse,
};

use super::kv::rev_header;
use super::{ApplyResult, Pending};

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

/// Applies a LeaseGrant (the NOSPACE check is the caller's).
pub(super) fn grant(
    lessor: &Lessor,
    kv: &KvStore,
    g: &LeaseGrantRequest,
    batch: &mut WriteBatch,
) -> ApplyResult {
    match lessor.grant(g.id, g.ttl, batch) {
        Ok(info) => ApplyResult::LeaseGrant(LeaseGrantResponse {
            header: rev_header(kv.current_revision()),
            id: info.id,
            ttl: info.ttl,
            error: String::new(),
        }),
        Err(e) => ApplyResult::Error(e.into()),
    }
}

/// Applies a LeaseRevoke: its keys are deleted in one revision, staged into `pending`.
/// Decides first (the keys, their deletion), then changes the lessor, so a failed
/// deletion leaves the lease and its keys as they were.
pub(super) fn revoke<'k>(
    lessor: &Lessor,
    kv: &'k KvStore,
    id: i64,
    batch: &mut WriteBatch,
    pending: &mut Pending<'k>,
) -> ApplyResult {
    let keys = match lessor.attached_keys(id) {
        Ok(keys) => keys,
        Err(e) => return ApplyResult::Error(e.into()),
    };
    let mut txn = kv.write();
    for key in &keys {
        if let Err(e) = txn.delete_range(key, &[]) {
            return ApplyResult::Error(e.into());
        }
    }
    if let Err(e) = lessor.revoke(id, batch) {
        return ApplyResult::Error(e.into());
    }
    let revision = if txn.is_empty() {
        txn.revision() - 1
    } else {
        txn.revision()
    };
    *pending = Pending::Kv(txn.stage(batch), LeaseMoves::default());
    ApplyResult::LeaseRevoke(LeaseRevokeResponse {
        header: rev_header(revision),
    })
}

/// Applies a LeaseCheckpoint: records each lease's remaining TTL.
pub(super) fn checkpoint(
    lessor: &Lessor,
    c: &LeaseCheckpointRequest,
    batch: &mut WriteBatch,
) -> ApplyResult {
    for cp in &c.checkpoints {
        lessor.apply_checkpoint(cp.id, cp.remaining_ttl, batch);
    }
    ApplyResult::LeaseCheckpoint
}

/// One attachment change.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Move {
    Attach(i64, Vec<u8>),
    Detach(i64, Vec<u8>),
}

/// The attachment changes of one request, in the order it made them; see the module docs.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use = "lease moves are lost unless applied with `LeaseMoves::apply`"]
pub struct LeaseMoves(Vec<Move>);

impl LeaseMoves {
    /// Hands the changes to `index`, in order. Call only after the request's batch was
    /// written.
    pub fn apply(self, index: &dyn LeaseIndex) {
        for m in self.0 {
            match m {
                Move::Attach(id, key) => index.attach(id, &key),
                Move::Detach(id, key) => index.detach(id, &key),
            }
        }
    }

    /// Whether the request changed no attachment.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Lease lookups for a request in progress, recording the attachments it decides.
pub struct LeaseEdits<'l> {
    index: &'l dyn LeaseIndex,
    moves: LeaseMoves,
}

impl<'l> LeaseEdits<'l> {
    /// Starts recording against `index` (read-only until [`LeaseMoves::apply`]).
    pub fn new(index: &'l dyn LeaseIndex) -> Self {
        Self {
            index,
            moves: LeaseMoves::default(),
        }
    }

    /// Whether lease `id` is granted.
    pub fn exists(&self, id: i64) -> bool {
        self.index.exists(id)
    }

    /// Decides that `key` is attached to lease `id`.
    pub fn attach(&mut self, id: i64, key: &[u8]) {
        self.moves.0.push(Move::Attach(id, key.to_vec()));
    }

    /// Decides that `key` no longer belongs to lease `id`.
    pub fn detach(&mut self, id: i64, key: &[u8]) {
        self.moves.0.push(Move::Detach(id, key.to_vec()));
    }

    /// The decided changes, for [`LeaseMoves::apply`] once the request is written.
    pub fn into_moves(self) -> LeaseMoves {
        self.moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::collections::BTreeSet;

    #[derive(Default)]
    struct Table(Mutex<BTreeSet<(i64, Vec<u8>)>>);

    impl LeaseIndex for Table {
        fn exists(&self, id: i64) -> bool {
            id == 7 || id == 8
        }
        fn attach(&self, id: i64, key: &[u8]) {
            self.0.lock().insert((id, key.to_vec()));
        }
        fn detach(&self, id: i64, key: &[u8]) {
            self.0.lock().remove(&(id, key.to_vec()));
        }
    }

    #[test]
    fn nothing_changes_until_applied() {
        let table = Table::default();
        let mut edits = LeaseEdits::new(&table);
        assert!(edits.exists(7) && !edits.exists(9));
        edits.attach(7, b"a");
        assert!(table.0.lock().is_empty(), "decided, not yet changed");
        drop(edits);
        assert!(
            table.0.lock().is_empty(),
            "a dropped request changes nothing"
        );
    }

    #[test]
    fn moves_apply_in_order() {
        let table = Table::default();
        let mut edits = LeaseEdits::new(&table);
        edits.attach(7, b"k");
        edits.detach(7, b"k");
        edits.attach(8, b"k");
        edits.attach(7, b"j");
        let moves = edits.into_moves();
        assert!(!moves.is_empty());
        moves.apply(&table);
        let got: Vec<_> = table.0.lock().iter().cloned().collect();
        assert_eq!(got, vec![(7, b"j".to_vec()), (8, b"k".to_vec())]);
    }
}
