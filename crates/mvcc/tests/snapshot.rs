//! A read's data and the revision it reports are one value: `RangeResult::revision` and
//! `Snapshot` never report a revision newer than the data they return, even while a writer
//! publishes new revisions concurrently.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{mem_store, put, req};
use oxcd_mvcc::MvccError;

#[test]
fn snapshot_reads_at_its_revision_after_later_writes() {
    let (backend, store) = mem_store();
    let r1 = put(&store, backend.as_ref(), "k", "v1");
    let snap = store.snapshot();
    assert_eq!(snap.revision(), r1);
    let r2 = put(&store, backend.as_ref(), "k", "v2");
    put(&store, backend.as_ref(), "other", "x");

    let res = snap.range(&req("", "\0")).expect("range");
    assert_eq!(res.revision, r1, "the snapshot reports its own revision");
    assert_eq!(
        res.kvs.len(),
        1,
        "keys written after the snapshot are invisible"
    );
    assert_eq!(&res.kvs[0].value[..], b"v1");
    assert_eq!(res.count, 1);

    let got = snap.get(b"k").expect("get").expect("live");
    assert_eq!((&got.value[..], got.mod_revision), (&b"v1"[..], r1));

    let mut future = req("k", "");
    future.revision = r2;
    assert!(
        matches!(snap.range(&future), Err(MvccError::FutureRevision)),
        "a revision after the snapshot is in its future"
    );
    let fresh = store.range(&req("k", "")).expect("range");
    assert_eq!(
        (fresh.revision, &fresh.kvs[0].value[..]),
        (r2 + 1, &b"v2"[..])
    );
}

#[test]
fn range_revision_matches_its_data_under_concurrent_writes() {
    let (backend, store) = mem_store();
    let store = Arc::new(store);
    put(&store, backend.as_ref(), "k", "0");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, backend, done) = (store.clone(), backend.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..3000u32 {
                let v: &'static str = Box::leak(i.to_string().into_boxed_str());
                put(&store, backend.as_ref(), "k", v);
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut checked = 0;
    while !done.load(Ordering::Acquire) {
        let res = store.range(&req("k", "")).expect("range");
        // The only key changes at every revision: its mod revision IS the store revision.
        assert_eq!(
            res.kvs[0].mod_revision, res.revision,
            "header revision {} but data from {}",
            res.revision, res.kvs[0].mod_revision
        );
        let snap = store.snapshot();
        let kv = snap.get(b"k").expect("get").expect("live");
        assert_eq!(kv.mod_revision, snap.revision());
        checked += 1;
    }
    writer.join().expect("writer");
    assert!(checked > 0);
}
