//! Time to reopen a store holding one million keys on RocksDB.
//! Run with `cargo test -p oxcd-mvcc --release --test restore_bench -- --ignored --nocapture`
//! (debug builds work too, just slower).

use std::sync::Arc;
use std::time::Instant;

use oxcd_backend::rocks::RocksOptions;
use oxcd_backend::{Backend, RocksBackend, WriteBatch};
use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::RangeRequest;

#[test]
#[ignore = "writes one million keys; run by hand to measure restore time"]
fn reopen_one_million_keys() {
    const KEYS: usize = 1_000_000;
    const PER_TXN: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let value = vec![b'v'; 100];
    {
        let backend = Arc::new(RocksBackend::open(dir.path(), &RocksOptions::default()).unwrap());
        let store = KvStore::open_at(backend.clone(), 0).unwrap();
        let started = Instant::now();
        for chunk in 0..KEYS / PER_TXN {
            let mut txn = store.write();
            for i in 0..PER_TXN {
                let key = format!(
                    "/registry/pods/ns{:03}/pod-{:07}",
                    chunk % 100,
                    chunk * PER_TXN + i
                );
                txn.put(key.as_bytes(), &value, 0);
            }
            let mut batch = WriteBatch::new();
            let staged = txn.stage(&mut batch);
            backend.write(batch, false).unwrap();
            staged.publish();
        }
        eprintln!("wrote {KEYS} keys in {:?}", started.elapsed());
        backend.sync().unwrap();
    }
    let backend = Arc::new(RocksBackend::open(dir.path(), &RocksOptions::default()).unwrap());
    let started = Instant::now();
    let store = KvStore::open_at(backend, 0).unwrap();
    let elapsed = started.elapsed();
    eprintln!(
        "reopened {} keys at revision {} in {elapsed:?}",
        store.indexed_keys(),
        store.current_revision()
    );
    assert_eq!(store.indexed_keys(), KEYS);
    assert_eq!(store.current_revision(), (KEYS / PER_TXN) as i64);
    let started = Instant::now();
    let r = store
        .range(&RangeRequest {
            key: b"\0".to_vec(),
            range_end: b"\0".to_vec(),
            count_only: true,
            ..Default::default()
        })
        .unwrap();
    eprintln!("count_only over all keys in {:?}", started.elapsed());
    assert_eq!(r.count, KEYS as i64);
}
