//! [`MemLogStore`]: an in-memory raft log for tests, with the same semantics as
//! [`super::RocksLogStore`]. Clones share the same log, so a test can "restart" a member
//! by starting a new node on a clone.

use std::sync::Arc;

use parking_lot::Mutex;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

use super::RaftLogStore;
use crate::error::RaftLogError;

#[derive(Default)]
struct Inner {
    /// Contiguous entries from `truncated_index + 1`.
    entries: Vec<Entry>,
    truncated_index: u64,
    truncated_term: u64,
    hard_state: HardState,
    conf_state: ConfState,
    conf_index: u64,
    applied: (u64, u64),
}

impl Inner {
    fn first(&self) -> u64 {
        self.truncated_index + 1
    }

    fn last(&self) -> u64 {
        self.truncated_index + self.entries.len() as u64
    }
}

/// An in-memory [`RaftLogStore`] for tests; "durable" means "visible to clones".
#[derive(Clone, Default)]
pub struct MemLogStore {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for MemLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.inner.lock();
        f.debug_struct("MemLogStore")
            .field("first_index", &g.first())
            .field("last_index", &g.last())
            .field("commit", &g.hard_state.commit)
            .finish()
    }
}

impl MemLogStore {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Storage for MemLogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let g = self.inner.lock();
        Ok(RaftState::new(g.hard_state.clone(), g.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let g = self.inner.lock();
        if low < g.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > g.last() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let lo = (low - g.first()) as usize;
        let hi = (high - g.first()) as usize;
        let mut out = g.entries[lo..hi].to_vec();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        let g = self.inner.lock();
        if idx == g.truncated_index {
            return Ok(g.truncated_term);
        }
        if idx < g.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > g.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(g.entries[(idx - g.first()) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.inner.lock().first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.inner.lock().last())
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let g = self.inner.lock();
        super::describe_snapshot(g.applied, &g.conf_state)
    }
}

impl RaftLogStore for MemLogStore {
    fn is_empty(&self) -> bool {
        let g = self.inner.lock();
        g.entries.is_empty()
            && g.truncated_index == 0
            && g.hard_state == HardState::default()
            && g.conf_state == ConfState::default()
    }

    fn initialize(
        &mut self,
        entries: &[Entry],
        hard_state: &HardState,
        conf_state: &ConfState,
        conf_index: u64,
    ) -> Result<(), RaftLogError> {
        super::check_initialize(self.is_empty(), entries)?;
        let mut g = self.inner.lock();
        g.entries = entries.to_vec();
        g.hard_state = hard_state.clone();
        g.conf_state = conf_state.clone();
        g.conf_index = conf_index;
        Ok(())
    }

    fn append(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), RaftLogError> {
        let mut g = self.inner.lock();
        let first = g.first();
        let entries: Vec<&Entry> = entries.iter().filter(|e| e.index >= first).collect();
        if let Some(e0) = entries.first() {
            if e0.index > g.last() + 1 {
                return Err(RaftLogError::Corrupt(format!(
                    "append at {} leaves a gap after the last index {}",
                    e0.index,
                    g.last()
                )));
            }
            let keep = (e0.index - first) as usize;
            g.entries.truncate(keep);
            g.entries.extend(entries.into_iter().cloned());
        }
        if let Some(hs) = hard_state {
            g.hard_state = hs.clone();
        }
        Ok(())
    }

    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), RaftLogError> {
        self.inner.lock().hard_state = hard_state.clone();
        Ok(())
    }

    fn set_commit(&mut self, commit: u64) {
        self.inner.lock().hard_state.commit = commit;
    }

    fn set_conf_state(&mut self, conf_state: &ConfState, index: u64) -> Result<(), RaftLogError> {
        let mut g = self.inner.lock();
        g.conf_state = conf_state.clone();
        g.conf_index = index;
        Ok(())
    }

    fn conf_index(&self) -> u64 {
        self.inner.lock().conf_index
    }

    fn hard_state(&self) -> HardState {
        self.inner.lock().hard_state.clone()
    }

    fn compact_to(&mut self, index: u64) -> Result<(), RaftLogError> {
        let mut g = self.inner.lock();
        if index <= g.first() {
            return Ok(());
        }
        if index > g.last() + 1 {
            return Err(RaftLogError::Corrupt(format!(
                "compact to {index} beyond the last index {}",
                g.last()
            )));
        }
        let drop = (index - g.first()) as usize;
        let term = g.entries[drop - 1].term;
        g.entries.drain(..drop);
        g.truncated_index = index - 1;
        g.truncated_term = term;
        Ok(())
    }

    fn apply_snapshot(&mut self, meta: &SnapshotMetadata) -> Result<(), RaftLogError> {
        let mut g = self.inner.lock();
        g.entries.clear();
        g.truncated_index = meta.index;
        g.truncated_term = meta.term;
        g.hard_state.term = g.hard_state.term.max(meta.term);
        g.hard_state.commit = meta.index;
        g.conf_state = meta.get_conf_state().clone();
        g.conf_index = meta.index;
        Ok(())
    }

    fn set_sync(&mut self, _sync: bool) {}

    fn set_applied(&mut self, index: u64, term: u64) {
        self.inner.lock().applied = (index, term);
    }
}
