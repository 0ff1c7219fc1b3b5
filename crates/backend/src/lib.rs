//! Storage backend for oxcd: one RocksDB instance behind a narrow, object-safe trait.
//!
//! Every crate that persists state (mvcc, lease, auth, the server's membership and
//! alarm tables, and the raft log) writes through [`Backend`]. One committed raft entry
//! becomes **one** [`WriteBatch`] that may touch several [`Column`]s (for example the kv
//! data, the lease table and the applied index in `Meta`) and is written atomically.
//!
//! # Layout
//! - [`column`](mod@column): [`Column`], the one place that names every column family.
//! - [`batch`]: [`WriteBatch`], a backend-independent list of puts and deletes.
//! - [`rocks`]: [`RocksBackend`] and its [`RocksOptions`], the production implementation
//!   over RocksDB (one column family per [`Column`]).
//! - [`memory`]: [`MemBackend`], an in-memory implementation for tests only (checkpoints
//!   are one file, read back by [`MemBackend::open_checkpoint`]).
//! - [`error`]: [`BackendError`], the crate's one error type.
//! - `tests/conformance.rs`: one suite that both implementations pass.
//!
//! # Invariants
//! - [`Backend::write`] is atomic: after a crash either every operation of the batch is
//!   visible or none is.
//! - With `sync = true`, `write` MUST NOT return before the batch is on stable storage.
//!   With `sync = false` the batch survives a process crash (`kill -9`) but may be lost
//!   on power failure; callers that rely on it must be able to replay (the raft log).
//!   Exception: a [`RocksBackend`] opened with [`RocksOptions::disable_wal`] loses unsynced
//!   batches on a crash too (still all-or-none); the raft log instance MUST keep its WAL.
//! - [`Backend::scan`] yields keys in ascending byte order (descending when `reverse`),
//!   within `[start, end)`; an `end` of `None` means "to the end of the column".
//! - Reads see every write whose `write` call has returned. A scan is a snapshot taken
//!   when [`Backend::scan`] returns: later writes do not show up in it, and an open scan
//!   does not block writers.
//! - [`Backend::checkpoint`] creates missing parent directories and fails with
//!   [`BackendError::CheckpointExists`] if the target exists.

pub mod batch;
pub mod column;
pub mod error;
pub mod memory;
pub mod rocks;

use std::path::Path;

pub use batch::{BatchOp, WriteBatch};
pub use column::Column;
pub use error::BackendError;
pub use memory::MemBackend;
pub use rocks::{RocksBackend, RocksOptions};

/// Result alias for backend operations.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// One key/value pair yielded by [`Backend::scan`].
pub type KvPair = (Box<[u8]>, Box<[u8]>);

/// An iterator over a key range of one column.
pub type ScanIter<'a> = Box<dyn Iterator<Item = Result<KvPair>> + 'a>;

/// Sizes reported by [`Backend::size`], used for the quota, `Status` and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendSize {
    /// Bytes the backend occupies on disk (SST files, logs, manifests) plus its unflushed
    /// memtables.
    pub total_bytes: u64,
    /// Estimated bytes of live data (what a defragmentation would keep).
    pub in_use_bytes: u64,
}

/// A transactional, column-oriented, ordered key-value store.
///
/// Implementations are cheap to share behind `Arc<dyn Backend>`.
pub trait Backend: Send + Sync + 'static {
    /// Reads one key.
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Reads many keys of one column; the result has one entry per key, in order.
    fn multi_get(&self, col: Column, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>>;

    /// [`Backend::multi_get`] for a bulk read whose values are used once (a large LIST
    /// streamed to its client): it need not keep them in a cache, so that one big read
    /// neither grows the process nor evicts what other reads use.
    fn multi_get_once(&self, col: Column, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        self.visit_once(col, keys, &mut |v| out.push(v.map(<[u8]>::to_vec)))?;
        Ok(out)
    }

    /// [`Backend::multi_get_once`] without copying the values out: each is lent to `visit`
    /// (`None` for a missing key), one call per key, in order. For a reader that only
    /// measures the values or copies them once into its own buffer.
    fn visit_once(
        &self,
        col: Column,
        keys: &[&[u8]],
        visit: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<()> {
        for v in self.multi_get(col, keys)? {
            visit(v.as_deref());
        }
        Ok(())
    }

    /// Iterates over `[start, end)` of `col` (see the crate invariants).
    fn scan<'a>(
        &'a self,
        col: Column,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
    ) -> Result<ScanIter<'a>>;

    /// Writes a batch atomically; with `sync`, durably (see the crate invariants).
    fn write(&self, batch: WriteBatch, sync: bool) -> Result<()>;

    /// Makes every write so far durable (flush memtables or sync the WAL).
    fn sync(&self) -> Result<()>;

    /// Writes a consistent, openable copy of the whole store into `dir`, which must not
    /// exist yet. Used for raft snapshots and `Maintenance.Snapshot`.
    fn checkpoint(&self, dir: &Path) -> Result<()>;

    /// Reclaims the space of deleted data (etcd's defragment).
    fn defragment(&self) -> Result<()>;

    /// Reports on-disk and in-use sizes.
    fn size(&self) -> Result<BackendSize>;
}
