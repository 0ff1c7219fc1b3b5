//! [`Snapshot`]: the store as of one revision, and the revision a response built from it
//! reports.
//!
//! A response header's revision and the data in the response MUST come from the same
//! read: a handler that reads the data and then asks the store for its current revision
//! can report a revision that already includes writes the data does not show (a Kubernetes
//! list at header revision R followed by a watch from R + 1 then misses a write). A
//! `Snapshot` makes the pair one value: every read through it is served at
//! [`Snapshot::revision`], and every [`RangeResult`] it returns carries that revision.

use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::KeyValue;

use crate::error::Result;
use crate::read::RangeResult;
use crate::store::{KvStore, View};

/// The published store pinned at one revision. Cheap: it holds no lock, so writers are not
/// blocked while it lives; revisions are immutable, so its reads stay consistent until a
/// compaction passes its revision (then they fail with `Compacted`, as etcd's do).
#[derive(Clone, Copy)]
pub struct Snapshot<'s> {
    store: &'s KvStore,
    revision: i64,
}

impl<'s> Snapshot<'s> {
    pub(crate) fn new(store: &'s KvStore, revision: i64) -> Self {
        Snapshot { store, revision }
    }

    /// The revision every read of this snapshot is served at: `header.revision` of any
    /// response built from it.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// [`KvStore::range`] at this snapshot: a request with `revision <= 0` reads at
    /// [`Snapshot::revision`]; an older revision reads history; a newer one fails with
    /// `FutureRevision`. The result's `revision` is this snapshot's.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResult> {
        self.store
            .shared
            .range_view(req, View::Pinned(self.revision))
    }

    /// The value of `key` at this snapshot, or `None` if it was not live.
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        let req = RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        Ok(self.range(&req)?.kvs.into_iter().next())
    }
}
