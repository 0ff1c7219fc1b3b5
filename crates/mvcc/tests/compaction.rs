//! Compaction (logical and physical), history reads, and HashKV.

mod common;

use std::sync::Arc;

use common::{apply, keys, mem_store, put, req, Op};
use oxcd_backend::{Backend, Column, MemBackend, WriteBatch};
use oxcd_mvcc::compaction::{FINISHED_COMPACT_KEY, SCHEDULED_COMPACT_KEY};
use oxcd_mvcc::{KvStore, MvccError, Revision};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::event::EventType;

fn stored_revisions(backend: &dyn Backend) -> Vec<(i64, i64, bool)> {
    backend
        .scan(Column::Kv, &[], None, false)
        .unwrap()
        .map(|item| {
            let (k, _) = item.unwrap();
            let (rev, tomb) = Revision::decode_key(&k).unwrap();
            (rev.main, rev.sub, tomb)
        })
        .collect()
}

/// a@1, a@2, b@3, del b@4, c@5, a@6.
fn sample(store: &KvStore, backend: &dyn Backend) {
    put(store, backend, "a", "1");
    put(store, backend, "a", "2");
    put(store, backend, "b", "1");
    apply(store, backend, &[Op::Del("b", "")]);
    put(store, backend, "c", "1");
    put(store, backend, "a", "3");
}

fn compact(store: &KvStore, backend: &dyn Backend, rev: i64) -> oxcd_mvcc::CompactionStats {
    let mut batch = WriteBatch::new();
    let job = store.compact(rev, &mut batch).unwrap();
    assert_eq!(job.revision(), rev);
    backend.write(batch, false).unwrap();
    job.run().unwrap()
}

#[test]
fn physical_compaction_removes_unneeded_revisions() {
    let (backend, store) = mem_store();
    sample(&store, backend.as_ref());
    assert_eq!(stored_revisions(backend.as_ref()).len(), 6);
    let stats = compact(&store, backend.as_ref(), 5);
    assert_eq!((stats.removed, stats.skipped), (3, false));
    assert!(
        stats.batch_pauses.is_empty(),
        "one chunk, the last: no pause"
    );
    // a keeps its value at 5 (rev 2) and its later rev 6; b (deleted at 4) vanishes; c@5 stays.
    assert_eq!(
        stored_revisions(backend.as_ref()),
        vec![(2, 0, false), (5, 0, false), (6, 0, false)]
    );
    assert_eq!(store.compacted_revision(), 5);
    let mark = |k: &[u8]| {
        backend
            .get(Column::Meta, k)
            .unwrap()
            .map(|v| Revision::decode_key(&v).unwrap().0)
    };
    assert_eq!(mark(SCHEDULED_COMPACT_KEY), Some(Revision::new(5, 0)));
    assert_eq!(mark(FINISHED_COMPACT_KEY), Some(Revision::new(5, 0)));
    // Reads at the compaction point still see everything live then.
    let r = store
        .range(&RangeRequest {
            revision: 5,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["a", "c"]);
    assert_eq!(r.kvs[0].value, &b"2"[..]);
    assert_eq!(r.kvs[0].version, 2);
    assert_eq!(
        keys(&store.range(&req("\0", "\0")).unwrap().kvs),
        ["a", "c"]
    );
    assert!(matches!(
        store.range(&RangeRequest {
            revision: 4,
            ..req("a", "")
        }),
        Err(MvccError::Compacted)
    ));
    // Versions continue after compaction.
    put(&store, backend.as_ref(), "a", "4");
    assert_eq!(store.kv_at(b"a", 0).unwrap().unwrap().version, 4);
}

#[test]
fn compact_revision_checks() {
    let (backend, store) = mem_store();
    let mut batch = WriteBatch::new();
    assert!(matches!(
        store.compact(0, &mut batch),
        Err(MvccError::Compacted)
    ));
    assert!(matches!(
        store.compact(1, &mut batch),
        Err(MvccError::FutureRevision)
    ));
    assert!(batch.is_empty());
    sample(&store, backend.as_ref());
    compact(&store, backend.as_ref(), 3);
    assert!(matches!(
        store.compact(3, &mut batch),
        Err(MvccError::Compacted)
    ));
    assert!(matches!(
        store.compact(2, &mut batch),
        Err(MvccError::Compacted)
    ));
    assert!(matches!(
        store.compact(7, &mut batch),
        Err(MvccError::FutureRevision)
    ));
    compact(&store, backend.as_ref(), 6);
    assert_eq!(store.compacted_revision(), 6);
    // Compacting everything away: deleted keys vanish from the index too.
    apply(&store, backend.as_ref(), &[Op::Del("\0", "\0")]);
    compact(&store, backend.as_ref(), 7);
    assert_eq!(store.indexed_keys(), 0);
    assert!(stored_revisions(backend.as_ref()).is_empty());
    assert_eq!(store.range(&req("\0", "\0")).unwrap().count, 0);
}

#[test]
fn older_jobs_run_after_newer_ones_do_nothing() {
    let (backend, store) = mem_store();
    sample(&store, backend.as_ref());
    let mut batch = WriteBatch::new();
    let first = store.compact(3, &mut batch).unwrap();
    let second = store.compact(5, &mut batch).unwrap();
    backend.write(batch, false).unwrap();
    assert!(!second.run().unwrap().skipped);
    assert!(first.run().unwrap().skipped);
    assert_eq!(stored_revisions(backend.as_ref()).len(), 3);
}

#[test]
fn chunked_compaction_of_many_keys() {
    let (backend, store) = mem_store();
    for round in 0..3 {
        let mut txn = store.write();
        for i in 0..1500 {
            txn.put(
                format!("k{i:05}").as_bytes(),
                format!("{round}").as_bytes(),
                0,
            );
        }
        let mut batch = WriteBatch::new();
        let staged = txn.stage(&mut batch);
        backend.write(batch, false).unwrap();
        staged.publish();
    }
    apply(&store, backend.as_ref(), &[Op::Del("k00000", "k00500")]);
    let stats = compact(&store, backend.as_ref(), 4);
    assert_eq!(stats.removed, 3 * 1500 - 1000 + 500);
    // 5,000 stored revisions at or below 4: five full chunks, each followed by another one.
    assert_eq!(stats.batch_pauses.len(), 5);
    assert_eq!(stored_revisions(backend.as_ref()).len(), 1000);
    let r = store.range(&req("\0", "\0")).unwrap();
    assert_eq!(r.count, 1000);
    assert!(r
        .kvs
        .iter()
        .all(|kv| kv.value[..] == b"2"[..] && kv.version == 3));
}

#[test]
fn an_interrupted_compaction_finishes_on_open() {
    let (backend, store) = mem_store();
    sample(&store, backend.as_ref());
    let mut batch = WriteBatch::new();
    let job = store.compact(5, &mut batch).unwrap();
    backend.write(batch, false).unwrap();
    drop(job); // "crash" before the job ran
    drop(store);
    assert_eq!(stored_revisions(backend.as_ref()).len(), 6);
    let store = KvStore::open_at(backend.clone(), 0).unwrap();
    assert_eq!(store.compacted_revision(), 5);
    assert_eq!(store.current_revision(), 6);
    assert_eq!(
        stored_revisions(backend.as_ref()),
        vec![(2, 0, false), (5, 0, false), (6, 0, false)]
    );
    assert!(backend
        .get(Column::Meta, FINISHED_COMPACT_KEY)
        .unwrap()
        .is_some());
    assert_eq!(
        keys(&store.range(&req("\0", "\0")).unwrap().kvs),
        ["a", "c"]
    );
}

#[test]
fn current_revision_survives_compacting_everything() {
    let (backend, store) = mem_store();
    put(&store, backend.as_ref(), "a", "1");
    apply(&store, backend.as_ref(), &[Op::Del("a", "")]);
    compact(&store, backend.as_ref(), 2);
    assert!(stored_revisions(backend.as_ref()).is_empty());
    drop(store);
    let store = KvStore::open_at(backend.clone(), 0).unwrap();
    assert_eq!(
        (store.current_revision(), store.compacted_revision()),
        (2, 2)
    );
    assert_eq!(put(&store, backend.as_ref(), "a", "2"), 3);
}

#[test]
fn hash_kv_is_deterministic_and_ignores_physical_progress() {
    let feed = |store: &KvStore, backend: &dyn Backend| {
        sample(store, backend);
        apply(store, backend, &[Op::Put("d", "x", 9), Op::Del("c", "")]);
    };
    let (b1, s1) = mem_store();
    let (b2, s2) = mem_store();
    feed(&s1, b1.as_ref());
    feed(&s2, b2.as_ref());
    let h1 = s1.hash_kv(0).unwrap();
    assert_eq!(h1, s2.hash_kv(0).unwrap());
    assert_eq!(
        (h1.hash_revision, h1.compact_revision, h1.current_revision),
        (7, 0, 7)
    );
    assert_eq!(s1.hash().unwrap(), s2.hash().unwrap());
    let h5 = s1.hash_kv(5).unwrap();
    assert_eq!(h5, s2.hash_kv(5).unwrap());
    assert_ne!(h5.hash, h1.hash);
    assert!(matches!(s1.hash_kv(8), Err(MvccError::FutureRevision)));

    // s1 compacts fully; s2 has scheduled the same compaction but not run it.
    compact(&s1, b1.as_ref(), 5);
    let mut batch = WriteBatch::new();
    let pending = s2.compact(5, &mut batch).unwrap();
    b2.write(batch, false).unwrap();
    let after = s1.hash_kv(0).unwrap();
    assert_eq!(after.compact_revision, 5);
    assert_eq!(after, s2.hash_kv(0).unwrap());
    pending.run().unwrap();
    assert_eq!(after, s2.hash_kv(0).unwrap());
    assert!(matches!(s1.hash_kv(4), Err(MvccError::Compacted)));
    // etcd refuses the compacted revision itself too.
    assert!(matches!(s1.hash_kv(5), Err(MvccError::Compacted)));

    // A different history hashes differently.
    put(&s2, b2.as_ref(), "e", "1");
    put(&s1, b1.as_ref(), "e", "2");
    assert_ne!(s1.hash_kv(0).unwrap().hash, s2.hash_kv(0).unwrap().hash);
}

#[test]
fn events_since_reads_history() {
    let (backend, store) = mem_store();
    sample(&store, backend.as_ref());
    apply(
        &store,
        backend.as_ref(),
        &[
            Op::Put("b", "2", 0),
            Op::Put("bb", "1", 0),
            Op::Put("a", "4", 0),
        ],
    );
    let (events, next) = store.events_since(b"\0", b"\0", 1, 0).unwrap();
    assert_eq!(next, 8);
    let summary: Vec<(i32, String, i64)> = events
        .iter()
        .map(|e| {
            let kv = e.kv.as_ref().unwrap();
            (
                e.r#type,
                String::from_utf8_lossy(&kv.key).into_owned(),
                kv.mod_revision,
            )
        })
        .collect();
    let (put, del) = (EventType::Put as i32, EventType::Delete as i32);
    assert_eq!(
        summary,
        vec![
            (put, "a".into(), 1),
            (put, "a".into(), 2),
            (put, "b".into(), 3),
            (del, "b".into(), 4),
            (put, "c".into(), 5),
            (put, "a".into(), 6),
            (put, "b".into(), 7),
            (put, "bb".into(), 7),
            (put, "a".into(), 7),
        ]
    );
    assert_eq!(events[1].kv.as_ref().unwrap().value, &b"2"[..]);
    assert_eq!(events[3].kv.as_ref().unwrap().value, &b""[..]);
    // Key filters.
    let (events, _) = store.events_since(b"b", b"", 3, 0).unwrap();
    assert_eq!(events.len(), 3);
    let (events, _) = store.events_since(b"b", b"c", 5, 0).unwrap();
    assert_eq!(events.len(), 2);
    // max_events stops at a revision boundary and never splits a revision.
    let (events, next) = store.events_since(b"\0", b"\0", 1, 2).unwrap();
    assert_eq!((events.len(), next), (2, 3));
    let (events, next) = store.events_since(b"\0", b"\0", 6, 2).unwrap();
    assert_eq!((events.len(), next), (4, 8));
    let (events, next) = store.events_since(b"a", b"", 2, 1).unwrap();
    assert_eq!((events.len(), next), (1, 3));
    // Beyond the current revision: nothing yet.
    let (events, next) = store.events_since(b"\0", b"\0", 10, 0).unwrap();
    assert_eq!((events.len(), next), (0, 10));
    // Unpublished revisions are invisible even when already written.
    let mut txn = store.write();
    txn.put(b"z", b"1", 0);
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    backend.write(batch, false).unwrap();
    assert_eq!(store.events_since(b"z", b"", 1, 0).unwrap().0.len(), 0);
    staged.publish();
    assert_eq!(store.events_since(b"z", b"", 1, 0).unwrap().0.len(), 1);
    // Compacted history.
    compact(&store, backend.as_ref(), 5);
    assert!(matches!(
        store.events_since(b"a", b"", 4, 0),
        Err(MvccError::Compacted)
    ));
    // etcd watches may start at the compaction revision itself.
    let at_compaction = store.events_since(b"a", b"", 5, 0);
    assert!(at_compaction.is_ok(), "{at_compaction:?}");
    assert!(matches!(
        store.events_since(b"a", b"", 0, 0),
        Err(MvccError::Compacted)
    ));
    assert_eq!(store.events_since(b"a", b"", 6, 0).unwrap().0.len(), 2);
}

#[test]
fn reads_racing_compaction_are_complete_or_compacted() {
    let backend = Arc::new(MemBackend::new());
    let store = Arc::new(KvStore::open_at(backend.clone(), 0).unwrap());
    for round in 0..20 {
        let mut txn = store.write();
        for i in 0..200 {
            txn.put(
                format!("k{i:03}").as_bytes(),
                format!("{round}").as_bytes(),
                0,
            );
        }
        let mut batch = WriteBatch::new();
        let staged = txn.stage(&mut batch);
        backend.write(batch, false).unwrap();
        staged.publish();
    }
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut outcomes = (0, 0);
            for i in 0..200 {
                let rev = 10 + (i % 11);
                match store.range(&RangeRequest {
                    revision: rev,
                    ..req("\0", "\0")
                }) {
                    Ok(r) => {
                        assert_eq!(r.kvs.len(), 200);
                        let want = (rev - 1).to_string();
                        assert!(r.kvs.iter().all(|kv| kv.value == want.as_bytes()));
                        outcomes.0 += 1;
                    }
                    Err(MvccError::Compacted) => outcomes.1 += 1,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            outcomes
        })
    };
    for rev in [12, 15, 18] {
        compact(&store, backend.as_ref(), rev);
    }
    let (ok, compacted) = reader.join().unwrap();
    assert_eq!(ok + compacted, 200);
    assert_eq!(stored_revisions(backend.as_ref()).len(), 200 * 3);
}
