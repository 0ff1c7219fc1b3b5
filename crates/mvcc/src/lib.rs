//! etcd's multi-version key-value store (the `mvcc` package) over [`oxcd_backend::Backend`].
//!
//! The crate owns the revisioned key space: every write transaction gets one new main
//! revision, every change inside it a sub revision, and every past revision stays
//! readable until it is compacted. Values live in `Column::Kv` keyed by revision; an
//! in-memory index maps user keys to their revisions. The crate knows nothing about raft,
//! leases, auth or watchers: the server drives it from the apply loop and the KV handlers,
//! and the watch layer reads history through [`KvStore::events_since`].
//!
//! # Layout
//! - [`error`]: [`MvccError`] with etcd's exact error strings.
//! - [`revision`]: [`Revision`] and its 17-byte (18 with the tombstone mark) key encoding.
//! - [`key_range`]: [`KeyRange`], etcd's `key`/`range_end` conventions.
//! - [`key_index`]: [`KeyIndexTree`], the in-memory index (etcd's treeIndex/keyIndex).
//! - `read`: [`RangeResult`] and the range plan (limit, sort, filters, count, more).
//! - `store`: [`KvStore`], [`HashKv`]; opening, ranges and hashes.
//! - `snapshot`: [`Snapshot`], the store pinned at one revision for multi-read responses.
//! - `write_txn`: [`WriteTxn`], [`Staged`], [`Changes`].
//! - [`compaction`]: [`Compaction`], logical and physical compaction, the Meta marks.
//! - `history`: [`KvStore::events_since`].
//! - `restore`: rebuilding the index when the store opens.
//! - `hash`: CRC-32C (Castagnoli).
//!
//! # Failpoints
//! With the `failpoints` feature, `compaction-between-chunks` aborts the process (action
//! `return`) between two chunks of a physical compaction, for the robustness suite.
//!
//! # Invariants
//! - ONE WRITER: [`KvStore::write`] admits one [`WriteTxn`] at a time (a second call
//!   blocks until the first is dropped or published). All its changes share ONE main
//!   revision, `current + 1`, with sub revisions 0, 1, ...; a transaction without changes
//!   does not consume a revision.
//! - The caller owns the batch: [`WriteTxn::stage`] only adds `Column::Kv` puts to the
//!   caller's [`oxcd_backend::WriteBatch`]; the applied index, leases and so on are the
//!   caller's business in the same batch. After `Backend::write(batch)` succeeds the caller
//!   MUST call [`Staged::publish`]; publishing without writing the batch corrupts the store.
//! - EVERY READ RESULT CARRIES THE REVISION IT WAS SERVED AT ([`RangeResult::revision`],
//!   [`Snapshot::revision`], [`HashKv::current_revision`]); a response header reports that
//!   revision, never a [`KvStore::current_revision`] read afterwards.
//! - A PUT READS ONLY THE INDEX: the version, create revision and lease it replaces come
//!   from [`KeyIndexTree::live`] (or the transaction's own writes), never from the backend,
//!   so [`Changes`] PUT events carry no `prev_kv` (DELETE events carry the deleted value).
//! - Readers see ONLY PUBLISHED revisions: the index and the current revision change
//!   together under one lock in [`Staged::publish`], never half a revision.
//! - Stored revisions are immutable; only compaction deletes them, and only revisions
//!   `<= compacted` that no read at or above the compacted revision can need. A read that
//!   races a compaction either returns complete data or [`MvccError::Compacted`].
//! - [`KvStore::compact`] MUST be followed by [`Compaction::run`] once the caller's batch
//!   (holding `scheduledCompactRev`) is written; [`KvStore::open`] finishes a compaction
//!   that was scheduled but did not finish.
//! - Stored revisions (and compaction marks) lie below [`revision::MAX_REVISION`], puts
//!   carry a version `>= 1` and a create revision no later than their own:
//!   [`KvStore::open`] refuses anything else as [`MvccError::Corrupt`], so revision and
//!   version arithmetic never overflows on damaged data.
//! - [`KvStore::hash_kv`] depends only on the applied history and the compacted revision,
//!   not on how far physical compaction has got.

pub mod compaction;
pub mod error;
mod hash;
mod history;
pub mod key_index;
pub mod key_range;
mod read;
mod restore;
pub mod revision;
mod snapshot;
mod store;
mod write_txn;

pub use compaction::{Compaction, CompactionStats};
pub use error::{MvccError, Result};
pub use key_index::{IndexEntry, KeyIndexTree, LiveKey};
pub use key_range::{KeyRange, RangeEnd};
pub use read::RangeResult;
pub use revision::Revision;
pub use snapshot::Snapshot;
pub use store::{HashKv, KvStore, PlannedRange, INITIAL_REVISION};
pub use write_txn::{Changes, Replaced, Staged, WriteTxn};

// The server shares the store across threads, may move a transaction between threads,
// and runs compactions on a blocking thread: keep these properties from regressing.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<KvStore>();
    send::<WriteTxn<'static>>();
    send::<Staged<'static>>();
    send_sync::<Compaction>();
};
