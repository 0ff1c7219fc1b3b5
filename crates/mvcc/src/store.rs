//! [`KvStore`]: the revisioned key-value store over a [`Backend`].

use std::fmt;
use std::sync::Arc;

use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::KeyValue;
use parking_lot::{Mutex, RwLock};
use prost::Message;

use crate::compaction::{Compaction, FINISHED_COMPACT_KEY, SCHEDULED_COMPACT_KEY};
use crate::error::{MvccError, Result};
use crate::hash::Crc32c;
use crate::key_index::KeyIndexTree;
use crate::key_range::KeyRange;
use crate::read::{RangePlan, RangeResult};
use crate::restore;
use crate::revision::{Revision, MAX_REVISION};
use crate::snapshot::Snapshot;
use crate::write_txn::{Overlay, WriteTxn, WriterSlot};

/// The answer to [`KvStore::hash_kv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashKv {
    /// CRC-32C of every stored revision in `(compact_revision, hash_revision]` plus the
    /// revisions at or below `compact_revision` that compaction keeps.
    pub hash: u32,
    /// The compacted revision the hash was computed against.
    pub compact_revision: i64,
    /// The revision the hash covers (the request's, or the current one for 0).
    pub hash_revision: i64,
    /// The store's current revision when the hash was taken (for `header.revision`).
    pub current_revision: i64,
}

/// The published view readers see.
pub(crate) struct State {
    pub(crate) index: KeyIndexTree,
    pub(crate) current: i64,
    pub(crate) compacted: i64,
}

/// Everything a [`KvStore`] and its background [`Compaction`]s share.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) state: RwLock<State>,
    pub(crate) writer: WriterSlot,
    /// The last compaction whose physical deletion finished; held while one runs.
    pub(crate) compactor: Mutex<i64>,
    /// Stored revisions a physical compaction examines per backend batch.
    pub(crate) compaction_batch: std::sync::atomic::AtomicUsize,
    lease_attachments: Mutex<Vec<(Vec<u8>, i64)>>,
}

/// Which state a range reads.
pub(crate) enum View<'t> {
    /// The published state at its current revision.
    Published,
    /// As `Published`, for a bulk read whose values are used once (not cached).
    PublishedOnce,
    /// The published state at a revision no newer than the current one (a [`Snapshot`]).
    Pinned(i64),
    /// A write transaction's view (published state plus its own uncommitted changes).
    Txn(TxnView<'t>),
}

/// The view of an uncommitted write transaction that has changes.
pub(crate) struct TxnView<'t> {
    /// The transaction's revision (current + 1).
    pub(crate) revision: i64,
    pub(crate) overlay: &'t Overlay,
}

/// etcd's MVCC key-value store: concrete, `Send + Sync`, shared as `Arc<KvStore>`.
///
/// Many threads may call the read methods at once; one thread (the apply loop) writes
/// through [`KvStore::write`]. See the crate docs for the invariants.
pub struct KvStore {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for KvStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.state.read();
        f.debug_struct("KvStore")
            .field("current_revision", &st.current)
            .field("compacted_revision", &st.compacted)
            .field("indexed_keys", &st.index.len())
            .finish()
    }
}

/// A compaction mark; like a stored revision it must lie in `0..MAX_REVISION`.
fn read_meta_revision(backend: &dyn Backend, key: &[u8]) -> Result<i64> {
    let main = match backend.get(Column::Meta, key)? {
        None => return Ok(0),
        Some(v) => Revision::decode_key(&v)?.0.main,
    };
    if !(0..MAX_REVISION).contains(&main) {
        return Err(MvccError::Corrupt(format!(
            "{} is revision {main}, out of range",
            String::from_utf8_lossy(key)
        )));
    }
    Ok(main)
}

pub(crate) fn decode_kv(bytes: impl prost::bytes::Buf) -> Result<KeyValue> {
    KeyValue::decode(bytes).map_err(|e| MvccError::Corrupt(format!("bad stored KeyValue: {e}")))
}

/// The revision a range with `requested` revision reads at (`<= 0`: the head), refused if
/// it is after `head` or before the `compacted` one.
fn read_revision(requested: i64, head: i64, compacted: i64) -> Result<i64> {
    let at = if requested <= 0 { head } else { requested };
    if at > head {
        return Err(MvccError::FutureRevision);
    }
    if at < compacted {
        return Err(MvccError::Compacted);
    }
    Ok(at)
}

/// A range answered by its stored revisions ([`KvStore::plan_range`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRange {
    /// The answer's revisions, in the answer's order, at most `limit` of them.
    pub revs: Vec<Revision>,
    /// As [`RangeResult::count`].
    pub count: i64,
    /// As [`RangeResult::more`].
    pub more: bool,
    /// As [`RangeResult::revision`]: the header's revision.
    pub revision: i64,
    /// The revision the range reads at (the request's, or `revision`).
    pub at: i64,
}

/// How many stored values one backend read fetches for a range.
const FETCH_CHUNK: usize = 256;

/// A range that reads more stored values than this is a bulk read (a LIST page, a
/// scan): its values skip the backend's block cache, as they are seldom read again soon
/// and would only evict the hot blocks, and a paginated LIST of a large prefix then costs
/// memory in proportion to its page, not to the cache it would fill.
const BULK_READ: usize = 100;

/// The revision of an empty store (etcd starts at 1).
pub const INITIAL_REVISION: i64 = 1;

impl KvStore {
    /// Opens the store over `backend`: rebuilds the index from `Column::Kv`, reads the
    /// compaction marks from `Column::Meta`, and finishes (blocking) a compaction that was
    /// scheduled but did not finish.
    ///
    /// An empty store is at revision 1, as etcd's is, so the first write gets revision 2.
    pub fn open(backend: Arc<dyn Backend>) -> Result<KvStore> {
        Self::open_at(backend, INITIAL_REVISION)
    }

    /// [`KvStore::open`], with `initial_revision` as the revision of an empty store.
    pub fn open_at(backend: Arc<dyn Backend>, initial_revision: i64) -> Result<KvStore> {
        let started = std::time::Instant::now();
        let rebuilt = restore::rebuild(backend.as_ref())?;
        let finished = read_meta_revision(backend.as_ref(), FINISHED_COMPACT_KEY)?;
        let scheduled = read_meta_revision(backend.as_ref(), SCHEDULED_COMPACT_KEY)?;
        let compacted = finished.max(scheduled);
        // Compaction may have removed every revision up to the compaction point.
        let current = rebuilt.last_revision.max(compacted).max(initial_revision);
        let keys = rebuilt.index.len();
        let shared = Arc::new(Shared {
            backend,
            state: RwLock::new(State {
                index: rebuilt.index,
                current,
                compacted,
            }),
            writer: WriterSlot::default(),
            compactor: Mutex::new(finished),
            compaction_batch: std::sync::atomic::AtomicUsize::new(
                crate::compaction::COMPACTION_CHUNK,
            ),
            lease_attachments: Mutex::new(rebuilt.leases),
        });
        tracing::info!(
            current_revision = current,
            compacted_revision = compacted,
            keys,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mvcc store restored"
        );
        if scheduled > finished {
            tracing::info!(revision = scheduled, "finishing interrupted compaction");
            Compaction::new(Arc::clone(&shared), scheduled).run()?;
        }
        Ok(KvStore { shared })
    }

    /// Rebuilds the in-memory state from the backend, whose contents were replaced
    /// underneath (the server installed a raft snapshot). The caller MUST hold off writers
    /// (the apply loop calls this between entries). Lease attachments are available again
    /// through [`KvStore::take_lease_attachments`].
    pub fn reload(&self) -> Result<()> {
        let backend = self.shared.backend.clone();
        let rebuilt = restore::rebuild(backend.as_ref())?;
        let finished = read_meta_revision(backend.as_ref(), FINISHED_COMPACT_KEY)?;
        let scheduled = read_meta_revision(backend.as_ref(), SCHEDULED_COMPACT_KEY)?;
        let compacted = finished.max(scheduled);
        let current = rebuilt.last_revision.max(compacted).max(INITIAL_REVISION);
        *self.shared.compactor.lock() = finished;
        *self.shared.lease_attachments.lock() = rebuilt.leases;
        {
            let mut st = self.shared.state.write();
            st.index = rebuilt.index;
            st.current = current;
            st.compacted = compacted;
        }
        tracing::info!(
            current_revision = current,
            compacted_revision = compacted,
            "mvcc store reloaded"
        );
        if scheduled > finished {
            Compaction::new(Arc::clone(&self.shared), scheduled).run()?;
        }
        Ok(())
    }

    /// The latest published revision (0 for an empty store that never compacted).
    pub fn current_revision(&self) -> i64 {
        self.shared.state.read().current
    }

    /// Sets how many stored revisions a physical compaction examines per backend batch
    /// (etcd's `--compaction-batch-limit`; at least 1).
    pub fn set_compaction_batch_limit(&self, limit: usize) {
        self.shared
            .compaction_batch
            .store(limit.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// The compacted revision: reads below it fail with [`MvccError::Compacted`].
    pub fn compacted_revision(&self) -> i64 {
        self.shared.state.read().compacted
    }

    /// Number of keys in the index (live or deleted but not yet compacted away).
    pub fn indexed_keys(&self) -> usize {
        self.shared.state.read().index.len()
    }

    /// The live keys that carry a lease, read when the store was opened, so the lessor
    /// can re-attach them; returns them once, then an empty list.
    pub fn take_lease_attachments(&self) -> Vec<(Vec<u8>, i64)> {
        std::mem::take(&mut *self.shared.lease_attachments.lock())
    }

    /// Serves a `RangeRequest` with etcd 3.4's semantics (see [`RangeResult`]); uses the
    /// request's `key`, `range_end`, `revision`, `limit`, sort, filter, `keys_only` and
    /// `count_only` fields (`serializable` is the server's business). The result's
    /// `revision` is the current revision the range was served at, read under the same
    /// lock as the data: a response header MUST report it, never a later
    /// [`KvStore::current_revision`].
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResult> {
        self.shared.range_view(req, View::Published)
    }

    /// [`KvStore::range`] for a bulk read whose values are used once (a page of a stream):
    /// they do not fill the backend's cache.
    pub fn range_once(&self, req: &RangeRequest) -> Result<RangeResult> {
        self.shared.range_view(req, View::PublishedOnce)
    }

    /// [`KvStore::range`] without reading a value: the stored revisions of the answer, in
    /// order, for a caller that streams them ([`KvStore::visit_stored_kvs`]) instead of holding
    /// the whole answer. `None` when the request needs the values or their metadata to
    /// decide its answer (a sort other than by key, revision filters): read it with
    /// [`KvStore::range`] then.
    pub fn plan_range(&self, req: &RangeRequest) -> Result<Option<PlannedRange>> {
        self.shared.plan_range(req)
    }

    /// Lends `visit` the stored encoding (an `mvccpb.KeyValue`, as a response carries it)
    /// of each of `revs`, in order, which a [`PlannedRange`] read at `at` named;
    /// `Compacted` if a compaction has removed one since. A bulk read: nothing is copied out
    /// of the backend, and the values do not fill its cache.
    pub fn visit_stored_kvs(
        &self,
        revs: &[Revision],
        at: i64,
        mut visit: impl FnMut(&[u8]),
    ) -> Result<()> {
        for chunk in revs.chunks(FETCH_CHUNK) {
            let keys: Vec<[u8; crate::revision::REVISION_KEY_LEN]> =
                chunk.iter().map(|r| r.to_bytes()).collect();
            let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            let (mut i, mut missing) = (0, None);
            self.shared
                .backend
                .visit_once(Column::Kv, &refs, &mut |v| {
                    match v {
                        Some(v) if missing.is_none() => visit(v),
                        Some(_) => {}
                        None => {
                            missing.get_or_insert(chunk[i]);
                        }
                    }
                    i += 1;
                })?;
            if let Some(rev) = missing {
                return Err(self.shared.missing(rev, at));
            }
        }
        Ok(())
    }

    /// The store pinned at its current revision, for a response built from several reads
    /// (a read-only txn, a lock's compare and get) that must all see one revision and
    /// report it.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot::new(self, self.current_revision())
    }

    /// The value of `key` at `revision` (`<= 0` = latest), or `None` if it was not live
    /// then. For watch's `prev_kv` lookups.
    pub fn kv_at(&self, key: &[u8], revision: i64) -> Result<Option<KeyValue>> {
        let req = RangeRequest {
            key: key.to_vec(),
            revision,
            ..Default::default()
        };
        Ok(self.range(&req)?.kvs.into_iter().next())
    }

    /// Starts the write transaction of the next revision. Blocks while another
    /// [`WriteTxn`] or unpublished `Staged` is alive (there is one writer).
    pub fn write(&self) -> WriteTxn<'_> {
        WriteTxn::new(self)
    }

    /// Schedules a compaction at `revision`: fails with [`MvccError::Compacted`] if
    /// `revision <= compacted_revision()` and [`MvccError::FutureRevision`] if it is
    /// above the current revision. On success reads below `revision` fail from now on,
    /// `scheduledCompactRev` is staged into `batch`, and the returned job MUST be
    /// [`Compaction::run`] after the caller has written `batch`.
    pub fn compact(&self, revision: i64, batch: &mut WriteBatch) -> Result<Compaction> {
        Compaction::schedule(&self.shared, revision, batch)
    }

    /// CRC-32C of every published stored revision, including history that a finished
    /// compaction has not yet physically removed (etcd's `Hash`: a raw storage hash).
    pub fn hash(&self) -> Result<u32> {
        Ok(self.hash_with_revision()?.0)
    }

    /// [`KvStore::hash`] and the revision it covers (for `header.revision`).
    pub fn hash_with_revision(&self) -> Result<(u32, i64)> {
        let current = self.current_revision();
        let end = Revision::new(current.saturating_add(1), 0).to_bytes();
        let mut crc = Crc32c::new();
        for item in self
            .shared
            .backend
            .scan(Column::Kv, &[], Some(&end), false)?
        {
            let (k, v) = item?;
            crc.update(&k);
            crc.update(&v);
        }
        Ok((crc.finish(), current))
    }

    /// etcd's `HashKV`, equal to etcd's for the same history: CRC-32C of `"key"` and then,
    /// in revision order, each stored revision key and value `<= revision` (`<= 0` =
    /// current), where a revision at or below the compacted one counts only if it is some
    /// key's latest as of `revision` (etcd's `kvindex.Keep(rev)`). etcd skips nothing below
    /// the compaction when no key is live at `revision`: it then hashes whatever its
    /// compaction left, which once compaction has finished is the revisions kept at the
    /// compacted revision; this hashes those, so the result does not depend on whether
    /// physical compaction has finished (and equals etcd's once etcd's has).
    pub fn hash_kv(&self, revision: i64) -> Result<HashKv> {
        for _ in 0..3 {
            let (compacted, current, hash_rev, keep) = {
                let st = self.shared.state.read();
                if revision > 0 && revision > st.current {
                    return Err(MvccError::FutureRevision);
                }
                if revision > 0 && revision <= st.compacted {
                    return Err(MvccError::Compacted);
                }
                let hash_rev = if revision <= 0 { st.current } else { revision };
                let mut keep = st.index.keep(hash_rev);
                if keep.is_empty() {
                    keep = st.index.keep(st.compacted);
                }
                (st.compacted, st.current, hash_rev, keep)
            };
            let end = Revision::new(hash_rev.saturating_add(1), 0).to_bytes();
            let mut crc = Crc32c::new();
            crc.update(b"key");
            for item in self
                .shared
                .backend
                .scan(Column::Kv, &[], Some(&end), false)?
            {
                let (k, v) = item?;
                let (rev, _) = Revision::decode_key(&k)?;
                if rev.main <= compacted && !keep.contains(&rev) {
                    continue;
                }
                crc.update(&k);
                crc.update(&v);
            }
            // A compaction scheduled meanwhile may have deleted what we hashed: retry.
            if self.compacted_revision() == compacted {
                return Ok(HashKv {
                    hash: crc.finish(),
                    compact_revision: compacted,
                    hash_revision: hash_rev,
                    current_revision: current,
                });
            }
        }
        Err(MvccError::Compacted)
    }
}

impl Shared {
    /// Serves a range on the published state, or on a write transaction's view.
    pub(crate) fn range_view(&self, req: &RangeRequest, view: View<'_>) -> Result<RangeResult> {
        let plan = RangePlan::new(req);
        let range = KeyRange::new(&req.key, &req.range_end);
        let (window, reverse) = plan.window();
        let once = matches!(view, View::PublishedOnce);
        let st = self.state.read();
        let (head, txn) = match view {
            View::Published | View::PublishedOnce => (st.current, None),
            // A snapshot never runs ahead of the published state (revisions only grow);
            // after a restore that rewound the store, it reads no further than the store.
            View::Pinned(rev) => (rev.min(st.current), None),
            View::Txn(t) => (t.revision, Some(t)),
        };
        let at = read_revision(req.revision, head, st.compacted)?;
        let overlay = txn.filter(|t| at == t.revision).map(|t| t.overlay);
        let Some(overlay) = overlay else {
            if plan.count_only {
                let count = st.index.count(&range, at);
                return Ok(RangeResult {
                    count: count as i64,
                    revision: head,
                    ..Default::default()
                });
            }
            let (revs, count) = st.index.range(&range, at, window, reverse);
            drop(st);
            let kvs = self.fetch(&revs, at, plan.strips_values_early(), once)?;
            return Ok(plan.finish(kvs, count, head));
        };

        // Inside a write transaction: published keys not touched by the transaction,
        // merged with the transaction's own puts.
        let base_rev = st.current;
        let mut base: Vec<(Vec<u8>, Revision)> = Vec::new();
        let mut count = 0usize;
        st.index.visit(&range, base_rev, reverse, |key, entry| {
            if !overlay.contains_key(key) {
                count += 1;
                if window == 0 || base.len() < window {
                    base.push((key.to_vec(), entry.modified));
                }
            }
            true
        });
        drop(st);
        let mut merged: Vec<(Vec<u8>, Option<Revision>)> =
            base.into_iter().map(|(k, r)| (k, Some(r))).collect();
        if !range.is_empty() {
            for (key, value) in overlay.range::<[u8], _>(range.bounds()) {
                if value.is_some() {
                    count += 1;
                    merged.push((key.clone(), None));
                }
            }
        }
        if plan.count_only {
            return Ok(RangeResult {
                count: count as i64,
                revision: head,
                ..Default::default()
            });
        }
        if reverse {
            merged.sort_by(|a, b| b.0.cmp(&a.0));
        } else {
            merged.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if window > 0 {
            merged.truncate(window);
        }
        let stored: Vec<Revision> = merged.iter().filter_map(|(_, r)| *r).collect();
        let mut fetched = self
            .fetch(&stored, base_rev, plan.strips_values_early(), false)?
            .into_iter();
        let mut kvs = Vec::with_capacity(merged.len());
        for (key, rev) in merged {
            let kv = match rev {
                Some(_) => fetched.next(),
                None => overlay.get(&key).cloned().flatten(),
            };
            kvs.extend(kv);
        }
        Ok(plan.finish(kvs, count, head))
    }

    /// The latest published value of `key`.
    pub(crate) fn latest(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        let (entry, current) = {
            let st = self.state.read();
            (st.index.get(key, st.current), st.current)
        };
        match entry {
            None => Ok(None),
            Some(e) => Ok(self.fetch(&[e.modified], current, false, false)?.pop()),
        }
    }

    /// Reads the values of put revisions that were indexed at read revision `at`.
    ///
    /// Reads [`FETCH_CHUNK`] values at a time, so that a large range never holds its raw
    /// stored bytes and its decoded key-values at once; with `strip_values` (a keys-only
    /// range not sorted by value) each value is dropped as soon as it is decoded, so the
    /// result costs the keys and their metadata only.
    pub(crate) fn fetch(
        &self,
        revs: &[Revision],
        at: i64,
        strip_values: bool,
        once: bool,
    ) -> Result<Vec<KeyValue>> {
        let once = once || revs.len() > BULK_READ;
        let mut out = Vec::with_capacity(revs.len());
        for chunk in revs.chunks(FETCH_CHUNK) {
            self.fetch_chunk(chunk, at, strip_values, once, &mut out)?;
        }
        Ok(out)
    }

    fn fetch_chunk(
        &self,
        revs: &[Revision],
        at: i64,
        strip_values: bool,
        once: bool,
        out: &mut Vec<KeyValue>,
    ) -> Result<()> {
        for stored in self.fetch_raw(revs, at, once)? {
            // Decoded from its own buffer, the value shares it instead of a copy.
            let mut kv = decode_kv(prost::bytes::Bytes::from(stored))?;
            if strip_values {
                kv.value = Default::default();
            }
            out.push(kv);
        }
        Ok(())
    }

    /// The stored bytes of put revisions that were indexed at read revision `at`; `once`
    /// for a bulk read that should not fill the backend's cache.
    pub(crate) fn fetch_raw(&self, revs: &[Revision], at: i64, once: bool) -> Result<Vec<Vec<u8>>> {
        let keys: Vec<[u8; crate::revision::REVISION_KEY_LEN]> =
            revs.iter().map(|r| r.to_bytes()).collect();
        let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let values = if once {
            self.backend.multi_get_once(Column::Kv, &refs)?
        } else {
            self.backend.multi_get(Column::Kv, &refs)?
        };
        let mut out = Vec::with_capacity(revs.len());
        for (rev, value) in revs.iter().zip(values) {
            match value {
                Some(v) => out.push(v),
                None => return Err(self.missing(*rev, at)),
            }
        }
        Ok(out)
    }

    /// The error for a put revision, indexed at read revision `at`, that the backend no
    /// longer holds.
    fn missing(&self, rev: Revision, at: i64) -> MvccError {
        // Revisions are immutable; only a compaction that started after we read the index
        // can remove one.
        if self.state.read().compacted > at {
            return MvccError::Compacted;
        }
        MvccError::Corrupt(format!(
            "revision {}_{} is indexed but missing from the backend",
            rev.main, rev.sub
        ))
    }

    /// [`KvStore::plan_range`].
    fn plan_range(&self, req: &RangeRequest) -> Result<Option<PlannedRange>> {
        let plan = RangePlan::new(req);
        let (window, reverse) = plan.window();
        if !plan.streams_in_index_order() {
            return Ok(None);
        }
        let range = KeyRange::new(&req.key, &req.range_end);
        let st = self.state.read();
        let head = st.current;
        let at = read_revision(req.revision, head, st.compacted)?;
        let (mut revs, count) = st.index.range(&range, at, window, reverse);
        drop(st);
        let more = plan.limit() > 0 && revs.len() > plan.limit();
        if more {
            revs.truncate(plan.limit());
        }
        Ok(Some(PlannedRange {
            revs,
            count: count as i64,
            more,
            revision: head,
            at,
        }))
    }
}
