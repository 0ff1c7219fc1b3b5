//! One conformance suite run over every `RaftLogStore`: `MemLogStore`, and
//! `RocksLogStore` on `MemBackend` and on a real RocksDB.

use std::sync::Arc;

use oxcd_backend::{Backend, MemBackend, RocksBackend, RocksOptions};
use oxcd_raftlog::{MemLogStore, RaftLogStore, RocksLogStore};
use raft::eraftpb::{ConfState, Entry, HardState, SnapshotMetadata};
use raft::{GetEntriesContext, Storage, StorageError};

fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
    Entry {
        index,
        term,
        data: data.to_vec().into(),
        ..Entry::default()
    }
}

fn hs(term: u64, vote: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote,
        commit,
        ..HardState::default()
    }
}

fn cs(voters: &[u64]) -> ConfState {
    ConfState {
        voters: voters.to_vec(),
        ..ConfState::default()
    }
}

fn ents<S: Storage>(s: &S, low: u64, high: u64) -> Vec<(u64, u64, Vec<u8>)> {
    s.entries(low, high, None, GetEntriesContext::empty(false))
        .expect("entries")
        .into_iter()
        .map(|e| (e.index, e.term, e.data.to_vec()))
        .collect()
}

/// The whole contract, on a fresh store; `reopen` returns the same log as a new value
/// (what a restart sees).
fn conformance<S: RaftLogStore>(mut s: S, reopen: impl Fn() -> S) {
    // Empty.
    assert!(s.is_empty());
    assert_eq!(s.first_index().unwrap(), 1);
    assert_eq!(s.last_index().unwrap(), 0);
    assert_eq!(s.term(0).unwrap(), 0);
    assert_eq!(s.initial_state().unwrap().hard_state, HardState::default());
    assert!(!s.initial_state().unwrap().initialized());

    // Initialize with bootstrap entries.
    s.initialize(
        &[entry(1, 1, b"cc1"), entry(2, 1, b"cc2")],
        &hs(1, 0, 2),
        &cs(&[1, 2]),
        2,
    )
    .unwrap();
    assert!(!s.is_empty());
    assert!(
        s.initialize(&[], &hs(1, 0, 0), &cs(&[1]), 0).is_err(),
        "initialize twice"
    );
    assert_eq!(s.last_index().unwrap(), 2);
    assert_eq!(s.conf_index(), 2);
    assert_eq!(s.initial_state().unwrap().conf_state, cs(&[1, 2]));

    // Append with the hard state in one call.
    let batch: Vec<Entry> = (3..=10)
        .map(|i| entry(i, 2, format!("v{i}").as_bytes()))
        .collect();
    s.append(&batch, Some(&hs(2, 1, 5))).unwrap();
    assert_eq!(s.last_index().unwrap(), 10);
    assert_eq!(s.term(10).unwrap(), 2);
    assert_eq!(s.term(2).unwrap(), 1);
    assert_eq!(s.hard_state(), hs(2, 1, 5));
    assert_eq!(
        ents(&s, 3, 5),
        vec![(3, 2, b"v3".to_vec()), (4, 2, b"v4".to_vec())]
    );
    assert_eq!(
        s.term(11).unwrap_err(),
        raft::Error::Store(StorageError::Unavailable),
        "term beyond the last index"
    );

    // max_size returns at least one entry, and stops early.
    let one = s
        .entries(3, 10, Some(0), GetEntriesContext::empty(false))
        .unwrap();
    assert_eq!(one.len(), 1);

    // Conflicting append truncates the tail.
    s.append(
        &[entry(7, 3, b"x7"), entry(8, 3, b"x8")],
        Some(&hs(3, 2, 6)),
    )
    .unwrap();
    assert_eq!(s.last_index().unwrap(), 8);
    assert_eq!(s.term(8).unwrap(), 3);
    assert_eq!(s.term(6).unwrap(), 2);
    assert_eq!(
        ents(&s, 6, 9)
            .iter()
            .map(|e| e.2.clone())
            .collect::<Vec<_>>(),
        vec![b"v6".to_vec(), b"x7".to_vec(), b"x8".to_vec()]
    );
    // A gap is refused.
    assert!(s.append(&[entry(20, 3, b"gap")], None).is_err());

    // Commit-only hard state and conf state.
    s.set_hard_state(&hs(3, 2, 8)).unwrap();
    s.set_conf_state(&cs(&[1, 2, 3]), 8).unwrap();

    // Everything survives a reopen.
    let r = reopen();
    assert_eq!(r.first_index().unwrap(), 1);
    assert_eq!(r.last_index().unwrap(), 8);
    assert_eq!(r.hard_state(), hs(3, 2, 8));
    assert_eq!(r.conf_index(), 8);
    assert_eq!(r.initial_state().unwrap().conf_state, cs(&[1, 2, 3]));
    assert_eq!(ents(&r, 1, 9), ents(&s, 1, 9));
    drop(r);

    // Compaction keeps term(first - 1).
    s.compact_to(5).unwrap();
    assert_eq!(s.first_index().unwrap(), 5);
    assert_eq!(s.term(4).unwrap(), 2);
    assert_eq!(
        s.entries(3, 6, None, GetEntriesContext::empty(false))
            .unwrap_err(),
        raft::Error::Store(StorageError::Compacted)
    );
    assert_eq!(
        s.term(3).unwrap_err(),
        raft::Error::Store(StorageError::Compacted)
    );
    assert_eq!(ents(&s, 5, 9).len(), 4);
    s.compact_to(3).unwrap(); // no-op below the first index
    assert_eq!(s.first_index().unwrap(), 5);
    assert!(s.compact_to(100).is_err());
    let r = reopen();
    assert_eq!(r.first_index().unwrap(), 5);
    assert_eq!(r.term(4).unwrap(), 2);
    assert_eq!(ents(&r, 5, 9), ents(&s, 5, 9));
    drop(r);

    // Appending after compaction; entries below the first index are ignored.
    s.append(&[entry(3, 2, b"old"), entry(4, 2, b"old")], None)
        .unwrap();
    assert_eq!(s.last_index().unwrap(), 8);
    assert_eq!(s.first_index().unwrap(), 5);
    s.append(&[entry(8, 3, b"x8"), entry(9, 3, b"v9")], None)
        .unwrap();
    assert_eq!(s.last_index().unwrap(), 9);
    assert_eq!(ents(&s, 8, 10).len(), 2);

    // Snapshots are not produced yet.
    assert_eq!(
        s.snapshot(9, 2).unwrap_err(),
        raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable)
    );

    // Applying a snapshot replaces the log.
    let mut meta = SnapshotMetadata {
        index: 50,
        term: 7,
        ..SnapshotMetadata::default()
    };
    meta.set_conf_state(cs(&[1, 2, 3, 4]));
    s.apply_snapshot(&meta).unwrap();
    assert_eq!(s.first_index().unwrap(), 51);
    assert_eq!(s.last_index().unwrap(), 50);
    assert_eq!(s.term(50).unwrap(), 7);
    assert_eq!(s.hard_state().commit, 50);
    assert_eq!(s.conf_index(), 50);
    s.append(&[entry(51, 7, b"after")], None).unwrap();
    let r = reopen();
    assert_eq!(r.first_index().unwrap(), 51);
    assert_eq!(r.last_index().unwrap(), 51);
    assert_eq!(r.term(50).unwrap(), 7);
    assert_eq!(ents(&r, 51, 52), vec![(51, 7, b"after".to_vec())]);
}

#[test]
fn mem_log_store_conformance() {
    let s = MemLogStore::new();
    let shared = s.clone();
    conformance(s, move || shared.clone());
}

#[test]
fn rocks_log_store_on_mem_backend_conformance() {
    let backend: Arc<dyn Backend> = Arc::new(MemBackend::new());
    let s = RocksLogStore::open(backend.clone()).unwrap();
    conformance(s, move || RocksLogStore::open(backend.clone()).unwrap());
}

#[test]
fn rocks_log_store_on_rocksdb_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> =
        Arc::new(RocksBackend::open(dir.path(), &RocksOptions::default()).unwrap());
    let s = RocksLogStore::open(backend.clone()).unwrap();
    conformance(s, move || RocksLogStore::open(backend.clone()).unwrap());
}

#[test]
fn rocks_log_store_reads_past_the_cache() {
    // More entries than the tail cache holds, read back after a reopen (cold cache).
    let backend: Arc<dyn Backend> = Arc::new(MemBackend::new());
    let mut s = RocksLogStore::open(backend.clone()).unwrap();
    s.initialize(&[], &hs(1, 0, 0), &cs(&[1]), 0).unwrap();
    let n = 20_000u64;
    let batch: Vec<Entry> = (1..=n).map(|i| entry(i, 1, &i.to_be_bytes())).collect();
    s.append(&batch, Some(&hs(1, 1, n))).unwrap();
    assert_eq!(
        ents(&s, 1, 3),
        vec![
            (1, 1, 1u64.to_be_bytes().to_vec()),
            (2, 1, 2u64.to_be_bytes().to_vec())
        ]
    );
    let r = RocksLogStore::open(backend).unwrap();
    assert_eq!(r.last_index().unwrap(), n);
    assert_eq!(r.term(n / 2).unwrap(), 1);
    let all = ents(&r, 1, n + 1);
    assert_eq!(all.len() as u64, n);
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, e)| e.0 == i as u64 + 1 && e.2 == e.0.to_be_bytes()));
}
