//! Restart on RocksDB: the reopened store has the same revision, ranges, hashes and leases.

mod common;

use std::sync::Arc;

use common::{apply, put, req, Op};
use oxcd_backend::rocks::RocksOptions;
use oxcd_backend::{Backend, RocksBackend, WriteBatch};
use oxcd_mvcc::{KvStore, RangeResult};
use oxcd_proto::etcdserverpb::RangeRequest;

fn open(dir: &std::path::Path) -> (Arc<RocksBackend>, KvStore) {
    let backend = Arc::new(RocksBackend::open(dir, &RocksOptions::default()).unwrap());
    let store = KvStore::open_at(backend.clone(), 0).unwrap();
    (backend, store)
}

fn snapshot(store: &KvStore) -> Vec<Result<RangeResult, String>> {
    let mut out = Vec::new();
    for rev in 0..=store.current_revision() + 1 {
        for (key, end) in [("\0", "\0"), ("a", ""), ("k", "l"), ("b", "\0")] {
            for target in [0, 1, 3] {
                let r = RangeRequest {
                    revision: rev,
                    sort_target: target,
                    ..req(key, end)
                };
                out.push(store.range(&r).map_err(|e| e.to_string()));
            }
        }
    }
    out
}

#[test]
fn reopened_store_has_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let (before, hash, hash_kv, hash_kv_at, events) = {
        let (backend, store) = open(dir.path());
        put(&store, backend.as_ref(), "a", "1");
        apply(
            &store,
            backend.as_ref(),
            &[Op::Put("b", "1", 7), Op::Put("c", "1", 8)],
        );
        for i in 0..50 {
            let key: &'static str = Box::leak(format!("k{i:02}").into_boxed_str());
            put(&store, backend.as_ref(), key, "v");
        }
        apply(
            &store,
            backend.as_ref(),
            &[Op::Del("k10", "k20"), Op::Put("a", "2", 0)],
        );
        apply(&store, backend.as_ref(), &[Op::Del("c", "")]);
        put(&store, backend.as_ref(), "c", "again");
        let mut batch = WriteBatch::new();
        let job = store.compact(30, &mut batch).unwrap();
        backend.write(batch, false).unwrap();
        job.run().unwrap();
        apply(
            &store,
            backend.as_ref(),
            &[Op::Put("a", "3", 0), Op::Put("k05", "w", 9)],
        );
        assert_eq!(store.current_revision(), 56);
        let out = (
            snapshot(&store),
            store.hash().unwrap(),
            store.hash_kv(0).unwrap(),
            store.hash_kv(40).unwrap(),
            store.events_since(b"\0", b"\0", 31, 0).unwrap(),
        );
        backend.sync().unwrap();
        out
    };
    let (backend, store) = open(dir.path());
    assert_eq!(store.current_revision(), 56);
    assert_eq!(store.compacted_revision(), 30);
    assert_eq!(snapshot(&store), before);
    assert_eq!(store.hash().unwrap(), hash);
    assert_eq!(store.hash_kv(0).unwrap(), hash_kv);
    assert_eq!(store.hash_kv(40).unwrap(), hash_kv_at);
    assert_eq!(store.events_since(b"\0", b"\0", 31, 0).unwrap(), events);
    assert_eq!(
        store.take_lease_attachments(),
        vec![(b"b".to_vec(), 7), (b"k05".to_vec(), 9)]
    );
    assert!(store.take_lease_attachments().is_empty());
    // Writes continue with the right revisions and versions.
    put(&store, backend.as_ref(), "a", "4");
    let a = store.kv_at(b"a", 0).unwrap().unwrap();
    assert_eq!((a.mod_revision, a.create_revision, a.version), (57, 1, 4));
    let c = store.kv_at(b"c", 0).unwrap().unwrap();
    assert_eq!((c.create_revision, c.version), (55, 1));
}
