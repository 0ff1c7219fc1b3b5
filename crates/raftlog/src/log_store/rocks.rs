//! [`RocksLogStore`]: the raft log in `Column::RaftLog` of its own backend instance
//! (the lead opens it at `<data-dir>/member/wal`), with an in-memory cache of the tail.
//!
//! # Keys (column `RaftLog`)
//! - `e` + big-endian index: one encoded `Entry`.
//! - `s/hard_state`: encoded `HardState`.
//! - `s/conf_state`, `s/conf_index`: encoded `ConfState` and the index it reflects.
//! - `s/truncated`: index and term (big-endian) of the last entry removed by compaction or
//!   covered by a snapshot; `first_index = truncated + 1`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use oxcd_backend::{Backend, Column, WriteBatch};
use protobuf::Message;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

use super::codec::{decode, encode};
use super::conf_state::check_restorable;
use super::RaftLogStore;
use crate::error::{to_raft_storage, RaftLogError};
use crate::metrics;

/// A synced log write slower than this is logged, as etcd's WAL does.
const SLOW_FSYNC: std::time::Duration = std::time::Duration::from_secs(1);

const COL: Column = Column::RaftLog;
const ENTRY_PREFIX: u8 = b'e';
const ENTRY_END: &[u8] = b"f";
const HARD_STATE_KEY: &[u8] = b"s/hard_state";
const CONF_STATE_KEY: &[u8] = b"s/conf_state";
const CONF_INDEX_KEY: &[u8] = b"s/conf_index";
const TRUNCATED_KEY: &[u8] = b"s/truncated";

/// Entries kept in the tail cache at most.
const CACHE_MAX_ENTRIES: usize = 16 * 1024;
/// Bytes of entries kept in the tail cache at most.
const CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;

fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ENTRY_PREFIX;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn be_u64(bytes: &[u8]) -> Result<u64, RaftLogError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| RaftLogError::Codec(format!("expected 8 bytes, got {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// The production raft log over an `Arc<dyn Backend>` (see the module docs for the keys).
pub struct RocksLogStore {
    backend: Arc<dyn Backend>,
    hard_state: HardState,
    conf_state: ConfState,
    conf_index: u64,
    truncated_index: u64,
    truncated_term: u64,
    last_index: u64,
    last_term: u64,
    /// Contiguous entries ending at `last_index` (or empty).
    cache: VecDeque<Entry>,
    cache_bytes: usize,
    sync: bool,
    /// Last applied index and term (what a snapshot describes).
    applied: (u64, u64),
}

impl std::fmt::Debug for RocksLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksLogStore")
            .field("first_index", &(self.truncated_index + 1))
            .field("last_index", &self.last_index)
            .field("commit", &self.hard_state.commit)
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl RocksLogStore {
    /// Opens the log kept in `backend` (empty if nothing was written yet).
    pub fn open(backend: Arc<dyn Backend>) -> Result<Self, RaftLogError> {
        let hard_state = match backend.get(COL, HARD_STATE_KEY)? {
            Some(b) => decode::<HardState>(&b)?,
            None => HardState::default(),
        };
        let conf_state = match backend.get(COL, CONF_STATE_KEY)? {
            Some(b) => decode::<ConfState>(&b)?,
            None => ConfState::default(),
        };
        let conf_index = match backend.get(COL, CONF_INDEX_KEY)? {
            Some(b) => be_u64(&b)?,
            None => 0,
        };
        let (truncated_index, truncated_term) = match backend.get(COL, TRUNCATED_KEY)? {
            Some(b) if b.len() == 16 => (be_u64(&b[..8])?, be_u64(&b[8..])?),
            Some(b) => {
                return Err(RaftLogError::Codec(format!(
                    "truncated state of {} bytes",
                    b.len()
                )))
            }
            None => (0, 0),
        };
        if truncated_index == u64::MAX {
            return Err(RaftLogError::Corrupt(
                "truncated index leaves no room for entries".into(),
            ));
        }
        check_restorable(&conf_state)?;
        let mut store = Self {
            backend,
            hard_state,
            conf_state,
            conf_index,
            truncated_index,
            truncated_term,
            last_index: truncated_index,
            last_term: truncated_term,
            cache: VecDeque::new(),
            cache_bytes: 0,
            sync: true,
            applied: (0, 0),
        };
        if let Some((index, term)) = store.check_entries()? {
            store.last_index = index;
            store.last_term = term;
        }
        if store.hard_state.commit > store.last_index {
            return Err(RaftLogError::Corrupt(format!(
                "commit index {} is beyond the last index {}",
                store.hard_state.commit, store.last_index
            )));
        }
        Ok(store)
    }

    /// Reads every stored entry once: each must decode, sit under its own index, follow
    /// the previous one without a gap (from the first index on) and not go back in term.
    /// raft-rs panics on a log it cannot read back later, so a damaged log is refused
    /// here, when it opens, instead. Returns the last entry's index and term.
    fn check_entries(&self) -> Result<Option<(u64, u64)>, RaftLogError> {
        let first = self.truncated_index + 1;
        let mut last: Option<(u64, u64)> = None;
        for kv in self
            .backend
            .scan(COL, &entry_key(first), Some(ENTRY_END), false)?
        {
            let (k, v) = kv?;
            let e = decode::<Entry>(&v)?;
            let expect = last.map_or(first, |(i, _)| i + 1);
            let prev_term = last.map_or(self.truncated_term, |(_, t)| t);
            if k.len() != 9 || k[1..] != e.index.to_be_bytes() {
                return Err(RaftLogError::Corrupt(format!(
                    "entry {} stored under key {k:02x?}",
                    e.index
                )));
            }
            if e.index != expect {
                return Err(RaftLogError::Corrupt(format!(
                    "raft log gap: expected entry {expect}, found {}",
                    e.index
                )));
            }
            if e.index == u64::MAX {
                return Err(RaftLogError::Corrupt(format!(
                    "entry {} leaves no room for the next one",
                    e.index
                )));
            }
            if e.term < prev_term {
                return Err(RaftLogError::Corrupt(format!(
                    "entry {} has term {}, below the term {prev_term} before it",
                    e.index, e.term
                )));
            }
            last = Some((e.index, e.term));
        }
        Ok(last)
    }

    fn first(&self) -> u64 {
        self.truncated_index + 1
    }

    fn cache_first(&self) -> Option<u64> {
        self.cache.front().map(|e| e.index)
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), RaftLogError> {
        let bytes = batch.size_bytes();
        let started = Instant::now();
        self.backend.write(batch, sync)?;
        if sync {
            let took = started.elapsed();
            metrics::WAL_FSYNC_SECONDS.observe(took.as_secs_f64());
            if took > SLOW_FSYNC {
                // etcd's warning, which operators alert on.
                tracing::warn!(took = ?took, "expected-duration" = ?SLOW_FSYNC, "slow fdatasync");
            }
        }
        metrics::WAL_WRITE_BYTES.add(bytes as f64);
        Ok(())
    }

    fn cache_push(&mut self, entries: &[Entry]) {
        let Some(first) = entries.first().map(|e| e.index) else {
            return;
        };
        // Drop the cached tail that the new entries replace, or everything if they do not
        // continue the cache.
        match self.cache_first() {
            Some(cf) if first > cf && first <= self.cache.back().map_or(0, |e| e.index) + 1 => {
                while self.cache.back().is_some_and(|e| e.index >= first) {
                    if let Some(e) = self.cache.pop_back() {
                        self.cache_bytes -= e.compute_size() as usize;
                    }
                }
            }
            _ => {
                self.cache.clear();
                self.cache_bytes = 0;
            }
        }
        for e in entries {
            self.cache_bytes += e.compute_size() as usize;
            self.cache.push_back(e.clone());
        }
        while self.cache.len() > CACHE_MAX_ENTRIES
            || (self.cache_bytes > CACHE_MAX_BYTES && self.cache.len() > 1)
        {
            if let Some(e) = self.cache.pop_front() {
                self.cache_bytes -= e.compute_size() as usize;
            }
        }
    }

    fn cache_compact(&mut self, index: u64) {
        while self.cache.front().is_some_and(|e| e.index < index) {
            if let Some(e) = self.cache.pop_front() {
                self.cache_bytes -= e.compute_size() as usize;
            }
        }
    }

    fn read_entries(
        &self,
        low: u64,
        high: u64,
        max: Option<u64>,
    ) -> Result<Vec<Entry>, RaftLogError> {
        let mut out = Vec::with_capacity((high - low).min(1024) as usize);
        let mut size = 0u64;
        let mut expect = low;
        let mut size_limited = false;
        for kv in self
            .backend
            .scan(COL, &entry_key(low), Some(&entry_key(high)), false)?
        {
            let (_, v) = kv?;
            let e = decode::<Entry>(&v)?;
            if e.index != expect {
                return Err(RaftLogError::Corrupt(format!(
                    "raft log gap: expected entry {expect}, found {}",
                    e.index
                )));
            }
            size += u64::from(e.compute_size());
            if !out.is_empty() && max.is_some_and(|m| size > m) {
                size_limited = true;
                break;
            }
            out.push(e);
            expect += 1;
        }
        if out.is_empty() || (expect < high && !size_limited) {
            return Err(RaftLogError::Corrupt(format!(
                "raft log entries [{low}, {high}) missing from the store"
            )));
        }
        Ok(out)
    }
}

impl Storage for RocksLogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let max = max_size.into();
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        if low == high {
            return Ok(Vec::new());
        }
        if let Some(cf) = self.cache_first() {
            if low >= cf {
                let lo = (low - cf) as usize;
                let hi = (high - cf) as usize;
                let mut out: Vec<Entry> = self.cache.range(lo..hi).cloned().collect();
                raft::util::limit_size(&mut out, max);
                return Ok(out);
            }
        }
        self.read_entries(low, high, max).map_err(to_raft_storage)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.truncated_index {
            return Ok(self.truncated_term);
        }
        if idx < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last_index {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        if idx == self.last_index {
            return Ok(self.last_term);
        }
        if let Some(cf) = self.cache_first() {
            if idx >= cf {
                if let Some(e) = self.cache.get((idx - cf) as usize) {
                    return Ok(e.term);
                }
            }
        }
        match self
            .backend
            .get(COL, &entry_key(idx))
            .map_err(to_raft_storage)?
        {
            Some(b) => Ok(decode::<Entry>(&b).map_err(to_raft_storage)?.term),
            None => Err(to_raft_storage(format!("raft log entry {idx} missing"))),
        }
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last_index)
    }

    fn snapshot(&self, _request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        super::describe_snapshot(self.applied, &self.conf_state)
    }
}

impl RaftLogStore for RocksLogStore {
    fn is_empty(&self) -> bool {
        self.last_index == 0
            && self.truncated_index == 0
            && self.hard_state == HardState::default()
            && self.conf_state == ConfState::default()
    }

    fn initialize(
        &mut self,
        entries: &[Entry],
        hard_state: &HardState,
        conf_state: &ConfState,
        conf_index: u64,
    ) -> Result<(), RaftLogError> {
        super::check_initialize(self.is_empty(), entries)?;
        let mut batch = WriteBatch::new();
        for e in entries {
            batch.put(COL, entry_key(e.index).to_vec(), encode(e)?);
        }
        batch.put(COL, HARD_STATE_KEY, encode(hard_state)?);
        batch.put(COL, CONF_STATE_KEY, encode(conf_state)?);
        batch.put(COL, CONF_INDEX_KEY, conf_index.to_be_bytes().to_vec());
        self.write(batch, true)?;
        if let Some(last) = entries.last() {
            self.last_index = last.index;
            self.last_term = last.term;
        }
        self.cache_push(entries);
        self.hard_state = hard_state.clone();
        self.conf_state = conf_state.clone();
        self.conf_index = conf_index;
        Ok(())
    }

    fn append(
        &mut self,
        entries: &[Entry],
        hard_state: Option<&HardState>,
    ) -> Result<(), RaftLogError> {
        // Entries at or below the truncated index are already committed and compacted.
        let skip = entries
            .iter()
            .take_while(|e| e.index < self.first())
            .count();
        let entries = &entries[skip..];
        let mut batch = WriteBatch::new();
        if let Some(first) = entries.first() {
            if first.index > self.last_index + 1 {
                return Err(RaftLogError::Corrupt(format!(
                    "append at {} leaves a gap after the last index {}",
                    first.index, self.last_index
                )));
            }
            for e in entries {
                batch.put(COL, entry_key(e.index).to_vec(), encode(e)?);
            }
            let new_last = first.index + entries.len() as u64 - 1;
            if new_last < self.last_index {
                batch.delete_range(
                    COL,
                    entry_key(new_last + 1).to_vec(),
                    entry_key(self.last_index + 1).to_vec(),
                );
            }
        }
        if let Some(hs) = hard_state {
            batch.put(COL, HARD_STATE_KEY, encode(hs)?);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch, self.sync)?;
        if let Some(last) = entries.last() {
            self.last_index = last.index;
            self.last_term = last.term;
            self.cache_push(entries);
        }
        if let Some(hs) = hard_state {
            self.hard_state = hs.clone();
        }
        Ok(())
    }

    fn set_hard_state(&mut self, hard_state: &HardState) -> Result<(), RaftLogError> {
        let mut batch = WriteBatch::new();
        batch.put(COL, HARD_STATE_KEY, encode(hard_state)?);
        self.write(batch, self.sync)?;
        self.hard_state = hard_state.clone();
        Ok(())
    }

    fn set_commit(&mut self, commit: u64) {
        self.hard_state.commit = commit;
    }

    fn set_conf_state(&mut self, conf_state: &ConfState, index: u64) -> Result<(), RaftLogError> {
        let mut batch = WriteBatch::new();
        batch.put(COL, CONF_STATE_KEY, encode(conf_state)?);
        batch.put(COL, CONF_INDEX_KEY, index.to_be_bytes().to_vec());
        self.write(batch, self.sync)?;
        self.conf_state = conf_state.clone();
        self.conf_index = index;
        Ok(())
    }

    fn conf_index(&self) -> u64 {
        self.conf_index
    }

    fn hard_state(&self) -> HardState {
        self.hard_state.clone()
    }

    fn compact_to(&mut self, index: u64) -> Result<(), RaftLogError> {
        if index <= self.first() {
            return Ok(());
        }
        if index > self.last_index + 1 {
            return Err(RaftLogError::Corrupt(format!(
                "compact to {index} beyond the last index {}",
                self.last_index
            )));
        }
        let term = self
            .term(index - 1)
            .map_err(|e| RaftLogError::Corrupt(e.to_string()))?;
        let marshalling = Instant::now();
        let mut truncated = Vec::with_capacity(16);
        truncated.extend_from_slice(&(index - 1).to_be_bytes());
        truncated.extend_from_slice(&term.to_be_bytes());
        let mut batch = WriteBatch::new();
        batch.delete_range(
            COL,
            entry_key(self.first()).to_vec(),
            entry_key(index).to_vec(),
        );
        batch.put(COL, TRUNCATED_KEY, truncated);
        metrics::SNAP_SAVE_MARSHALLING_SECONDS.observe(marshalling.elapsed().as_secs_f64());
        self.write(batch, false)?;
        self.truncated_index = index - 1;
        self.truncated_term = term;
        self.cache_compact(index);
        Ok(())
    }

    fn apply_snapshot(&mut self, meta: &SnapshotMetadata) -> Result<(), RaftLogError> {
        let mut hs = self.hard_state.clone();
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        let conf_state = meta.get_conf_state().clone();
        let marshalling = Instant::now();
        let mut truncated = Vec::with_capacity(16);
        truncated.extend_from_slice(&meta.index.to_be_bytes());
        truncated.extend_from_slice(&meta.term.to_be_bytes());
        let mut batch = WriteBatch::new();
        batch.delete_range(COL, entry_key(0).to_vec(), ENTRY_END.to_vec());
        batch.put(COL, TRUNCATED_KEY, truncated);
        batch.put(COL, HARD_STATE_KEY, encode(&hs)?);
        batch.put(COL, CONF_STATE_KEY, encode(&conf_state)?);
        batch.put(COL, CONF_INDEX_KEY, meta.index.to_be_bytes().to_vec());
        metrics::SNAP_SAVE_MARSHALLING_SECONDS.observe(marshalling.elapsed().as_secs_f64());
        let fsync = Instant::now();
        self.write(batch, self.sync)?;
        metrics::SNAP_FSYNC_SECONDS.observe(fsync.elapsed().as_secs_f64());
        self.truncated_index = meta.index;
        self.truncated_term = meta.term;
        self.last_index = meta.index;
        self.last_term = meta.term;
        self.cache.clear();
        self.cache_bytes = 0;
        self.hard_state = hs;
        self.conf_state = conf_state;
        self.conf_index = meta.index;
        Ok(())
    }

    fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    fn set_applied(&mut self, index: u64, term: u64) {
        self.applied = (index, term);
    }
}

#[cfg(test)]
mod tests {
    use oxcd_backend::MemBackend;

    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Entry::default()
        }
    }

    /// A backend holding `entries` (each under its own key unless given one) and a
    /// hard state committing `commit`.
    fn stored(entries: &[(Vec<u8>, Vec<u8>)], commit: u64) -> Arc<dyn Backend> {
        let backend = Arc::new(MemBackend::new());
        let mut batch = WriteBatch::new();
        for (k, v) in entries {
            batch.put(COL, k.clone(), v.clone());
        }
        let hs = HardState {
            term: 3,
            commit,
            ..HardState::default()
        };
        batch.put(COL, HARD_STATE_KEY, encode(&hs).unwrap());
        backend.write(batch, false).unwrap();
        backend
    }

    fn rec(e: &Entry) -> (Vec<u8>, Vec<u8>) {
        (entry_key(e.index).to_vec(), encode(e).unwrap())
    }

    fn corrupt(backend: Arc<dyn Backend>) -> String {
        match RocksLogStore::open(backend) {
            Err(RaftLogError::Corrupt(m)) | Err(RaftLogError::Codec(m)) => m,
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(s) => panic!("damaged log accepted: {s:?}"),
        }
    }

    #[test]
    fn opens_an_intact_log() {
        let ents: Vec<_> = (1..=4).map(|i| rec(&entry(i, 1 + i / 3))).collect();
        let s = RocksLogStore::open(stored(&ents, 4)).unwrap();
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (1, 4));
        assert_eq!(s.term(4).unwrap(), 2);
    }

    /// Regression (oxcd-fuzz state-decode): a log with a hole, an undecodable entry or an
    /// entry under another index opened fine, and raft-rs later panicked ("unexpected
    /// error: Store(..)") on its loop thread when it read the committed entries.
    #[test]
    fn refuses_a_damaged_log_when_it_opens() {
        let gap = vec![rec(&entry(1, 1)), rec(&entry(2, 1)), rec(&entry(4, 1))];
        assert!(corrupt(stored(&gap, 2)).contains("gap"));
        let mut garbage = vec![rec(&entry(1, 1)), rec(&entry(3, 1))];
        garbage.insert(1, (entry_key(2).to_vec(), vec![0xff, 0xff, 0xff]));
        corrupt(stored(&garbage, 1));
        let misplaced = vec![
            rec(&entry(1, 1)),
            (entry_key(2).to_vec(), encode(&entry(7, 1)).unwrap()),
        ];
        assert!(corrupt(stored(&misplaced, 1)).contains("stored under key"));
        let backwards = vec![rec(&entry(1, 2)), rec(&entry(2, 1))];
        assert!(corrupt(stored(&backwards, 1)).contains("term"));
        let last = vec![rec(&entry(u64::MAX, 1))];
        let b = stored(&last, 0);
        let mut t = WriteBatch::new();
        let mut truncated = (u64::MAX - 1).to_be_bytes().to_vec();
        truncated.extend_from_slice(&1u64.to_be_bytes());
        t.put(COL, TRUNCATED_KEY, truncated);
        b.write(t, false).unwrap();
        assert!(corrupt(b).contains("no room"));
    }

    /// Regression (oxcd-fuzz state-decode): `RawNode::new` panicked with "invalid restore"
    /// on these stored conf states.
    #[test]
    fn refuses_a_conf_state_raft_cannot_restore() {
        let b = stored(&[], 0);
        let mut batch = WriteBatch::new();
        let cs = ConfState {
            voters: vec![1, 0],
            ..ConfState::default()
        };
        batch.put(COL, CONF_STATE_KEY, encode(&cs).unwrap());
        b.write(batch, false).unwrap();
        assert!(corrupt(b).contains("conf state"));
    }

    #[test]
    fn refuses_a_truncated_index_without_room() {
        let b = stored(&[], 0);
        let mut batch = WriteBatch::new();
        batch.put(COL, TRUNCATED_KEY, [0xff; 16].to_vec());
        b.write(batch, false).unwrap();
        assert!(corrupt(b).contains("no room"));
    }
}
