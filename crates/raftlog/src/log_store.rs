//! The raft log stores: [`RaftLogStore`] (raft's [`raft::Storage`] plus the writes the
//! Ready loop needs), [`RocksLogStore`] for production and [`MemLogStore`] for tests.
//!
//! # Contract (both stores)
//! - [`RaftLogStore::append`] MUST be durable on return (one synced write of the entries,
//!   the truncation of a conflicting tail and the hard state), unless the store was told
//!   otherwise with [`RaftLogStore::set_sync`] (`--unsafe-no-fsync`).
//! - Entries are contiguous from `first_index()` to `last_index()`; `term(first_index() - 1)`
//!   stays answerable after compaction (the "truncated" index and term).
//! - [`RocksLogStore::open`] refuses (`Corrupt`/`Codec`) a stored log raft-rs could not run
//!   on, instead of letting raft-rs panic later: an entry that does not decode, sits under
//!   another index, leaves a gap or goes back in term; a conf state raft cannot restore
//!   (`log_store/conf_state.rs`); an index with no room after it.
//! - An empty store (nothing ever written) reports `first_index() == 1`, `last_index() == 0`
//!   and a default `RaftState`; [`RaftLogStore::initialize`] is the only way to give it a
//!   first configuration.
//! - `snapshot()` describes the state machine as of the last applied index (set with
//!   [`RaftLogStore::set_applied`]): index, term and the conf state. Its `data` is EMPTY:
//!   the transport streams the state machine checkpoint itself (see
//!   [`crate::RaftTransport::send_snapshot`]). Before anything was applied it answers
//!   `SnapshotTemporarilyUnavailable`.

mod conf_state;
mod memory;
mod rocks;

pub use memory::MemLogStore;
pub use rocks::RocksLogStore;

use raft::eraftpb::{ConfState, Entry, HardState, SnapshotMetadata};
use raft::Storage;

use crate::error::RaftLogError;

/// What the Ready loop needs from a raft log beyond [`raft::Storage`].
///
/// eraftpb types appear here because this trait extends raft's own; only the raft loop
/// calls these methods.
pub trait RaftLogStore: Storage + Send + 'static {
    /// Whether nothing was ever written (a new member).
    fn is_empty(&self) -> bool;

    /// Writes the first state of a new member: bootstrap `entries` (may be empty), the
    /// hard state and the conf state, as of `conf_index`. Fails if the store is not empty.
    fn initialize(
        &mut self,
        entries: &[Entry],
        hard_state: &HardState,
        conf_state: &ConfState,
        conf_index: u64,
    ) -> Result<(), RaftLogError>;

    /// Appends `entries` (truncating any conflicting tail at or after `entries[0].index`)
    /// and stores `hard_state`, in ONE write. MUST be durable on return.
    fn append(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), RaftLogError>;

    /// Stores the hard state alone, synced (commit-only changes go to `set_commit`).
    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), RaftLogError>;

    /// Remembers a new commit index WITHOUT writing it: it reaches storage with the next
    /// hard state written (`append` with a hard state, `set_hard_state`). A crash MAY lose
    /// it; `RaftNode::start` then raises the stored commit to the applied index, and raft
    /// learns the rest from the leader again. Saves one log write per commit advance.
    fn set_commit(&mut self, commit: u64);

    /// Stores the conf state that results from applying the conf change at `index`.
    fn set_conf_state(&mut self, conf_state: &ConfState, index: u64) -> Result<(), RaftLogError>;

    /// The index of the last conf change reflected in the stored conf state (0 if none).
    fn conf_index(&self) -> u64;

    /// The stored hard state.
    fn hard_state(&self) -> HardState;

    /// Discards the entries below `index`; `index` becomes the first index. The caller
    /// MUST NOT compact past what the state machine has durably applied. A no-op when
    /// `index <= first_index()`.
    fn compact_to(&mut self, index: u64) -> Result<(), RaftLogError>;

    /// Replaces the whole log by the state a snapshot describes (all entries dropped, the
    /// snapshot's index and term become the truncated position). Durable on return.
    fn apply_snapshot(&mut self, meta: &SnapshotMetadata) -> Result<(), RaftLogError>;

    /// Records the last applied index and its term: what `snapshot()` describes.
    fn set_applied(&mut self, index: u64, term: u64);

    /// Enables or disables fsync of appends (`false` only for `--unsafe-no-fsync`).
    fn set_sync(&mut self, sync: bool);
}

/// Decoding helpers shared by both stores.
pub(crate) mod codec {
    use protobuf::Message;

    use crate::error::RaftLogError;

    /// Decodes a protobuf record read back from the store.
    pub(crate) fn decode<M: Message>(bytes: &[u8]) -> Result<M, RaftLogError> {
        let mut m = M::new();
        m.merge_from_bytes(bytes)
            .map_err(|e| RaftLogError::Codec(format!("{}: {e}", std::any::type_name::<M>())))?;
        Ok(m)
    }

    /// Encodes a protobuf record.
    pub(crate) fn encode<M: Message>(m: &M) -> Result<Vec<u8>, RaftLogError> {
        m.write_to_bytes().map_err(RaftLogError::from)
    }
}

/// The snapshot both stores describe: the applied position and the current conf state,
/// without data (the transport streams the state machine checkpoint).
fn describe_snapshot(
    applied: (u64, u64),
    conf_state: &ConfState,
) -> raft::Result<raft::eraftpb::Snapshot> {
    if applied.0 == 0 {
        return Err(raft::Error::Store(
            raft::StorageError::SnapshotTemporarilyUnavailable,
        ));
    }
    let mut snap = raft::eraftpb::Snapshot::default();
    let meta = snap.mut_metadata();
    meta.index = applied.0;
    meta.term = applied.1;
    meta.set_conf_state(conf_state.clone());
    Ok(snap)
}

/// The preconditions both stores check in [`RaftLogStore::initialize`]: the log is empty
/// and the bootstrap entries are numbered from 1 without gaps.
fn check_initialize(is_empty: bool, entries: &[Entry]) -> Result<(), RaftLogError> {
    if !is_empty {
        return Err(RaftLogError::Corrupt(
            "initialize on a non-empty raft log".into(),
        ));
    }
    if entries
        .iter()
        .enumerate()
        .any(|(i, e)| e.index != i as u64 + 1)
    {
        return Err(RaftLogError::Config(
            "bootstrap entries must start at 1".into(),
        ));
    }
    Ok(())
}
