//! Write transactions: revisions, versions, own-write visibility, events, publishing.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{apply, keys, mem_store, put, req, Op};
use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_mvcc::{KvStore, MvccError, Replaced, Revision};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::{event::EventType, KeyValue};
use prost::Message;

#[test]
fn versions_and_create_revisions_across_delete_recreate() {
    let (backend, store) = mem_store();
    assert_eq!(store.current_revision(), 0);
    assert_eq!(put(&store, backend.as_ref(), "k", "v1"), 1);
    assert_eq!(put(&store, backend.as_ref(), "k", "v2"), 2);
    let kv = store.kv_at(b"k", 0).unwrap().unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (1, 2, 2));
    let changes = apply(&store, backend.as_ref(), &[Op::Del("k", "")]);
    assert_eq!(changes.revision, 3);
    assert_eq!(store.kv_at(b"k", 0).unwrap(), None);
    assert_eq!(put(&store, backend.as_ref(), "k", "v3"), 4);
    let kv = store.kv_at(b"k", 0).unwrap().unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.version), (4, 4, 1));
    // The old generation is still readable.
    let kv = store.kv_at(b"k", 2).unwrap().unwrap();
    assert_eq!(
        (kv.create_revision, kv.version, &kv.value[..]),
        (1, 2, b"v2".as_slice())
    );
}

#[test]
fn one_revision_per_txn_with_sub_revisions() {
    let (backend, store) = mem_store();
    put(&store, backend.as_ref(), "x", "0");
    let mut txn = store.write();
    assert_eq!(txn.revision(), 2);
    assert!(txn.is_empty());
    assert_eq!(txn.put(b"a", b"1", 0), None);
    assert_eq!(txn.put(b"b", b"2", 7), None);
    assert_eq!(txn.delete_range(b"x", b"").unwrap().len(), 1);
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    assert_eq!(staged.revision(), 2);
    // Staged into the caller's batch under the revision keys, tombstone marked.
    let staged_keys: Vec<Vec<u8>> = batch
        .ops()
        .iter()
        .map(|op| match op {
            oxcd_backend::BatchOp::Put(Column::Kv, k, _) => k.clone(),
            other => panic!("unexpected op {other:?}"),
        })
        .collect();
    assert_eq!(
        staged_keys,
        vec![
            Revision::new(2, 0).to_key(false),
            Revision::new(2, 1).to_key(false),
            Revision::new(2, 2).to_key(true)
        ]
    );
    // Not visible before publish.
    assert_eq!(store.current_revision(), 1);
    backend.write(batch, false).unwrap();
    assert!(store.kv_at(b"a", 0).unwrap().is_none());
    let changes = staged.publish();
    assert_eq!(changes.revision, 2);
    assert_eq!(store.current_revision(), 2);
    let b = store.kv_at(b"b", 0).unwrap().unwrap();
    assert_eq!((b.mod_revision, b.lease), (2, 7));
    // The stored tombstone is a KeyValue with the key alone, as etcd stores it (the delete
    // revision is the backend key's).
    let raw = backend
        .get(Column::Kv, &Revision::new(2, 2).to_key(true))
        .unwrap()
        .unwrap();
    let tomb = KeyValue::decode(raw.as_slice()).unwrap();
    assert_eq!(
        tomb,
        KeyValue {
            key: b"x".to_vec().into(),
            ..Default::default()
        }
    );
}

#[test]
fn delete_events_carry_prev_kv_and_put_events_do_not() {
    let (backend, store) = mem_store();
    put(&store, backend.as_ref(), "a", "old");
    let changes = apply(
        &store,
        backend.as_ref(),
        &[
            Op::Put("a", "new", 0),
            Op::Put("b", "1", 0),
            Op::Del("a", ""),
        ],
    );
    assert_eq!(changes.revision, 2);
    let ev = &changes.events;
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0].r#type, EventType::Put as i32);
    let kv = ev[0].kv.as_ref().unwrap();
    assert_eq!(
        (&kv.value[..], kv.version, kv.mod_revision),
        (b"new".as_slice(), 2, 2)
    );
    // A put does not read what it replaces: its event carries no prev_kv.
    assert_eq!(ev[0].prev_kv, None);
    assert_eq!(ev[1].prev_kv, None);
    assert_eq!(ev[2].r#type, EventType::Delete as i32);
    assert_eq!(
        ev[2].kv,
        Some(KeyValue {
            key: b"a".to_vec().into(),
            mod_revision: 2,
            ..Default::default()
        })
    );
    // The delete's prev is the txn's own put.
    assert_eq!(ev[2].prev_kv.as_ref().unwrap().value, &b"new"[..]);
}

#[test]
fn txn_sees_its_own_writes() {
    let (backend, store) = mem_store();
    for k in ["a", "b", "c", "d"] {
        put(&store, backend.as_ref(), k, "base");
    }
    let mut txn = store.write();
    assert_eq!(txn.revision(), 5);
    // Before any change a range reads the published state at revision 4.
    let r = txn.range(&req("\0", "\0")).unwrap();
    assert_eq!((r.count, r.revision), (4, 4));
    let prev = txn.put(b"b", b"own", 3);
    let base = Replaced {
        create_revision: 2,
        mod_revision: 2,
        version: 1,
        lease: 0,
    };
    assert_eq!(prev, Some(base));
    txn.put(b"bb", b"new", 0);
    txn.delete_range(b"c", b"").unwrap();
    assert_eq!(txn.get(b"b").unwrap().unwrap().value, &b"own"[..]);
    assert_eq!(txn.get(b"c").unwrap(), None);
    assert_eq!(txn.get(b"a").unwrap().unwrap().value, &b"base"[..]);

    let r = txn.range(&req("\0", "\0")).unwrap();
    assert_eq!(keys(&r.kvs), ["a", "b", "bb", "d"]);
    assert_eq!((r.count, r.revision, r.more), (4, 5, false));
    let b = &r.kvs[1];
    assert_eq!(
        (b.version, b.mod_revision, b.lease, b.create_revision),
        (2, 5, 3, 2)
    );
    // Limits, reverse order and counts merge own writes correctly.
    let r = txn
        .range(&RangeRequest {
            limit: 2,
            ..req("b", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["b", "bb"]);
    assert_eq!((r.count, r.more), (3, true));
    let r = txn
        .range(&RangeRequest {
            limit: 2,
            sort_order: 2,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["d", "bb"]);
    let r = txn
        .range(&RangeRequest {
            count_only: true,
            ..req("a", "c")
        })
        .unwrap();
    assert_eq!(r.count, 3);
    let r = txn
        .range(&RangeRequest {
            sort_target: 3,
            sort_order: 2,
            limit: 2,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["b", "bb"]);
    // Older revisions ignore the txn; the txn revision is readable, beyond it is future.
    let r = txn
        .range(&RangeRequest {
            revision: 4,
            ..req("c", "")
        })
        .unwrap();
    assert_eq!(r.kvs.len(), 1);
    assert_eq!(r.revision, 5);
    assert_eq!(
        txn.range(&RangeRequest {
            revision: 5,
            ..req("c", "")
        })
        .unwrap()
        .kvs
        .len(),
        0
    );
    assert!(matches!(
        txn.range(&RangeRequest {
            revision: 6,
            ..req("a", "")
        }),
        Err(MvccError::FutureRevision)
    ));
    // Delete-range inside the txn sees own puts too.
    let deleted = txn.delete_range(b"b", b"c").unwrap();
    assert_eq!(keys(&deleted), ["b", "bb"]);
    assert_eq!(deleted[0].value, &b"own"[..]);
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    backend.write(batch, false).unwrap();
    let changes = staged.publish();
    assert_eq!(changes.events.len(), 5);
    assert_eq!(
        keys(&store.range(&req("\0", "\0")).unwrap().kvs),
        ["a", "d"]
    );
    // Recreating a key deleted in the same txn starts a new generation.
    let mut txn = store.write();
    txn.put(b"a", b"x", 0);
    txn.delete_range(b"a", b"").unwrap();
    assert_eq!(txn.put(b"a", b"y", 0), None);
    let kv = txn.get(b"a").unwrap().unwrap();
    assert_eq!((kv.version, kv.create_revision), (1, 6));
    drop(txn);
}

#[test]
fn empty_and_dropped_txns_do_not_change_anything() {
    let (backend, store) = mem_store();
    put(&store, backend.as_ref(), "a", "1");
    let changes = apply(&store, backend.as_ref(), &[Op::Del("zzz", "")]);
    assert_eq!(changes.revision, 1);
    assert!(changes.events.is_empty());
    let mut batch = WriteBatch::new();
    let staged = store.write().stage(&mut batch);
    assert!(batch.is_empty());
    assert_eq!(staged.publish().revision, 1);
    {
        let mut txn = store.write();
        txn.put(b"b", b"2", 0);
    } // dropped
    assert_eq!(store.current_revision(), 1);
    assert_eq!(store.kv_at(b"b", 0).unwrap(), None);
    assert_eq!(put(&store, backend.as_ref(), "b", "2"), 2);
}

#[test]
fn readers_never_see_half_a_revision() {
    let (backend, store) = mem_store();
    let store = Arc::new(store);
    apply(
        &store,
        backend.as_ref(),
        &[Op::Put("a", "0", 0), Op::Put("b", "0", 0)],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, stop, reads) = (store.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = store.range(&req("a", "c")).unwrap();
                    assert_eq!(r.kvs.len(), 2);
                    assert_eq!(r.kvs[0].value, r.kvs[1].value, "torn read");
                    assert_eq!(r.kvs[0].mod_revision, r.kvs[1].mod_revision);
                    assert!(r.kvs[0].mod_revision <= r.revision);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Keep writing until the readers have overlapped plenty of writes (bounded).
    let mut rev = 1;
    while rev < 100_000 && (rev < 300 || reads.load(Ordering::Relaxed) < 1_000) {
        let v = rev.to_string();
        let mut txn = store.write();
        txn.put(b"a", v.as_bytes(), 0);
        txn.put(b"b", v.as_bytes(), 0);
        let mut batch = WriteBatch::new();
        let staged = txn.stage(&mut batch);
        backend.write(batch, false).unwrap();
        rev = staged.publish().revision;
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) >= 1_000);
    assert_eq!(store.current_revision(), rev);
}

#[test]
fn a_second_writer_waits_for_the_first() {
    let (backend, store) = mem_store();
    let store = Arc::new(store);
    let txn = store.write();
    let (tx, rx) = std::sync::mpsc::channel();
    let other = {
        let (store, backend) = (store.clone(), backend.clone());
        std::thread::spawn(move || {
            let rev = put(&store, backend.as_ref(), "second", "x");
            tx.send(rev).unwrap();
        })
    };
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(200))
            .is_err(),
        "second writer ran early"
    );
    let mut txn = txn;
    txn.put(b"first", b"x", 0);
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    backend.write(batch, false).unwrap();
    assert_eq!(staged.publish().revision, 1);
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(),
        2
    );
    other.join().unwrap();
}

#[test]
fn txn_range_matches_the_model_after_every_op() {
    use common::Model;
    let base: Vec<Vec<Op>> = vec![
        vec![
            Op::Put("a", "1", 0),
            Op::Put("b", "2", 0),
            Op::Put("c", "3", 0),
        ],
        vec![Op::Put("d", "4", 0), Op::Put("a", "5", 0)],
        vec![Op::Put("e", "6", 0)],
    ];
    let txn_ops = [
        Op::Put("b", "7", 0),
        Op::Put("bb", "0", 0),
        Op::Del("d", "\0"),
        Op::Put("e", "9", 2),
        Op::Del("a", "b"),
        Op::Put("a", "1", 0),
        Op::Put("0", "z", 0),
    ];
    let (backend, store) = mem_store();
    let mut model = Model::new();
    for ops in &base {
        model.apply(ops);
        apply(&store, backend.as_ref(), ops);
    }
    let mut txn = store.write();
    for n in 1..=txn_ops.len() {
        let op = &txn_ops[n - 1];
        match op {
            Op::Put(k, v, l) => {
                txn.put(k.as_bytes(), v.as_bytes(), *l);
            }
            Op::Del(k, e) => {
                txn.delete_range(k.as_bytes(), e.as_bytes()).unwrap();
            }
        }
        let mut m = Model {
            history: model.history.clone(),
        };
        assert!(m.apply(&txn_ops[..n]));
        for (key, end) in [
            ("\0", "\0"),
            ("a", "c"),
            ("b", ""),
            ("bb", "\0"),
            ("0", "b"),
        ] {
            for target in 0..5 {
                for order in 0..3 {
                    for limit in [0, 1, 2, 10] {
                        for min_mod in [0, 4] {
                            let r = RangeRequest {
                                sort_target: target,
                                sort_order: order,
                                limit,
                                min_mod_revision: min_mod,
                                ..req(key, end)
                            };
                            let got = txn.range(&r).unwrap();
                            let (kvs, count, more) = m.range(&r);
                            assert_eq!(got.kvs, kvs, "after {n} ops: {r:?}");
                            assert_eq!(
                                (got.count, got.more, got.revision),
                                (count, more, 4),
                                "{r:?}"
                            );
                            let c = txn
                                .range(&RangeRequest {
                                    count_only: true,
                                    ..r.clone()
                                })
                                .unwrap();
                            assert_eq!(c.count, count);
                        }
                    }
                }
            }
        }
    }
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    backend.write(batch, false).unwrap();
    assert_eq!(staged.publish().revision, 4);
    let published = store.range(&req("\0", "\0")).unwrap();
    let mut m = Model {
        history: model.history.clone(),
    };
    m.apply(&txn_ops);
    assert_eq!(published.kvs, m.range(&req("\0", "\0")).0);
}

#[test]
fn empty_store_starts_at_revision_one_like_etcd() {
    let backend: std::sync::Arc<dyn oxcd_backend::Backend> =
        std::sync::Arc::new(oxcd_backend::MemBackend::new());
    let store = oxcd_mvcc::KvStore::open(backend).unwrap();
    assert_eq!(store.current_revision(), oxcd_mvcc::INITIAL_REVISION);
    assert_eq!(store.write().revision(), 2);
}

/// A put learns what it replaces (version, create revision, lease) from the index, from
/// its own transaction's earlier writes, and after the index was rebuilt from the backend.
#[test]
fn put_reports_what_it_replaced_without_reading_the_value() {
    let (backend, store) = mem_store();
    apply(&store, backend.as_ref(), &[Op::Put("k", "1", 7)]);
    let mut txn = store.write();
    let first = txn.put(b"k", b"2", 9);
    let own = txn.put(b"k", b"3", 0);
    drop(txn);
    assert_eq!(
        first,
        Some(Replaced {
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            lease: 7,
        })
    );
    assert_eq!(
        own,
        Some(Replaced {
            create_revision: 1,
            mod_revision: 2,
            version: 2,
            lease: 9,
        })
    );
    apply(&store, backend.as_ref(), &[Op::Put("k", "2", 9)]);
    let reopened = KvStore::open_at(backend.clone(), 0).expect("reopen");
    let mut txn = reopened.write();
    assert_eq!(
        txn.put(b"k", b"4", 0).map(|r| (r.version, r.lease)),
        Some((2, 9))
    );
    assert_eq!(txn.put(b"new", b"1", 0), None);
}
