//! Range semantics against a naive model of etcd 3.4: every range shape, revision, sort
//! target and order, limit, filter, keys_only and count_only.

mod common;

use common::{apply, keys, mem_store, req, Model, Op};
use oxcd_backend::{Backend, WriteBatch};
use oxcd_mvcc::{KvStore, MvccError};
use oxcd_proto::etcdserverpb::RangeRequest;

fn history() -> Vec<Vec<Op>> {
    use Op::{Del, Put};
    vec![
        vec![Put("a", "1", 0)],
        vec![Put("b", "2", 0)],
        vec![Put("c", "3", 0), Put("d", "4", 0)],
        vec![Put("a", "10", 0)],
        vec![Del("b", "")],
        vec![Put("b", "5", 0)],
        vec![Put("e", "0", 0), Put("a", "2", 0)],
        vec![Del("c", "e")],
        vec![Del("nothing", "")], // no change: no revision
        vec![Put("c", "9", 0), Put("f", "1", 0)],
        vec![
            Put("foo/1", "x", 0),
            Put("foo/2", "y", 0),
            Put("fop", "z", 0),
        ],
        vec![Put("d", "7", 0)],
        vec![Put("a", "1", 5)],
        vec![Put("c", "9", 0), Del("c", ""), Put("c", "8", 0)],
    ]
}

fn build() -> (std::sync::Arc<oxcd_backend::MemBackend>, KvStore, Model) {
    let (backend, store) = mem_store();
    let mut model = Model::new();
    for ops in history() {
        let changed = model.apply(&ops);
        let changes = apply(&store, backend.as_ref(), &ops);
        assert_eq!(changes.revision, model.current());
        assert_eq!(changes.events.is_empty(), !changed);
    }
    assert_eq!(store.current_revision(), model.current());
    (backend, store, model)
}

const RANGES: &[(&str, &str)] = &[
    ("a", ""),
    ("b", ""),
    ("zz", ""),
    ("a", "c"),
    ("foo/", "foo0"),
    ("c", "\0"),
    ("\0", "\0"),
    ("d", "a"),
    ("e", "e"),
];

fn check(store: &KvStore, model: &Model, r: &RangeRequest) {
    let got = store.range(r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
    let (kvs, count, more) = model.range(r);
    assert_eq!(keys(&got.kvs), keys(&kvs), "keys for {r:?}");
    assert_eq!(got.kvs, kvs, "kvs for {r:?}");
    assert_eq!(got.count, count, "count for {r:?}");
    assert_eq!(got.more, more, "more for {r:?}");
    assert_eq!(got.revision, store.current_revision(), "revision for {r:?}");
}

#[test]
fn every_option_matches_the_model() {
    let (_backend, store, model) = build();
    let filters: &[(i64, i64, i64, i64)] = &[
        (0, 0, 0, 0),
        (0, 6, 0, 0),
        (4, 0, 0, 0),
        (0, 0, 3, 0),
        (0, 0, 0, 7),
        (3, 12, 2, 11),
    ];
    let mut checked = 0;
    for &(key, end) in RANGES {
        for rev in 0..=model.current() {
            for target in 0..5 {
                for order in 0..3 {
                    for limit in [0, 1, 2, 3, 100] {
                        for &(min_mod, max_mod, min_create, max_create) in filters {
                            let r = RangeRequest {
                                revision: rev,
                                sort_target: target,
                                sort_order: order,
                                limit,
                                min_mod_revision: min_mod,
                                max_mod_revision: max_mod,
                                min_create_revision: min_create,
                                max_create_revision: max_create,
                                keys_only: limit == 2,
                                ..req(key, end)
                            };
                            check(&store, &model, &r);
                            check(
                                &store,
                                &model,
                                &RangeRequest {
                                    count_only: true,
                                    ..r
                                },
                            );
                            checked += 2;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 10_000);
}

#[test]
fn range_shapes() {
    let (_backend, store, _) = build();
    let all = store.range(&req("\0", "\0")).unwrap();
    assert_eq!(
        keys(&all.kvs),
        ["a", "b", "c", "d", "e", "f", "foo/1", "foo/2", "fop"]
    );
    assert_eq!(all.count, 9);
    assert!(!all.more);
    assert_eq!(
        keys(&store.range(&req("foo/", "foo0")).unwrap().kvs),
        ["foo/1", "foo/2"]
    );
    assert_eq!(
        keys(&store.range(&req("f", "\0")).unwrap().kvs),
        ["f", "foo/1", "foo/2", "fop"]
    );
    assert_eq!(
        keys(&store.range(&req("fo", "")).unwrap().kvs),
        Vec::<String>::new()
    );
    let single = store.range(&req("a", "")).unwrap();
    assert_eq!(single.count, 1);
    let a = &single.kvs[0];
    // a: put at 1, 4, 7 and 12 (lease 5; the no-op txn took no revision) -> version 4.
    assert_eq!(
        (a.create_revision, a.mod_revision, a.version, a.lease),
        (1, 12, 4, 5)
    );
    assert_eq!(a.value, &b"1"[..]);
    // Reversed or empty intervals return nothing.
    let empty = store.range(&req("d", "a")).unwrap();
    assert_eq!((empty.kvs.len(), empty.count, empty.more), (0, 0, false));
}

#[test]
fn limit_more_and_count() {
    let (_backend, store, _) = build();
    let r = store
        .range(&RangeRequest {
            limit: 2,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["a", "b"]);
    assert_eq!((r.count, r.more), (9, true));
    let r = store
        .range(&RangeRequest {
            limit: 9,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count, r.more), (9, 9, false));
    let r = store
        .range(&RangeRequest {
            limit: 2,
            sort_order: 2,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["fop", "foo/2"]);
    assert!(r.more);
    // count ignores filters; more reflects the filtered result.
    let r = store
        .range(&RangeRequest {
            limit: 1,
            min_mod_revision: 11,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(r.count, 9);
    assert_eq!(keys(&r.kvs), ["a"]);
    assert!(r.more);
    let r = store
        .range(&RangeRequest {
            count_only: true,
            limit: 1,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!((r.kvs.len(), r.count, r.more), (0, 9, false));
}

#[test]
fn sorting_by_value_and_version() {
    let (_backend, store, _) = build();
    let r = store
        .range(&RangeRequest {
            sort_target: 4,
            ..req("\0", "\0")
        })
        .unwrap();
    let values: Vec<&[u8]> = r.kvs.iter().map(|kv| &kv.value[..]).collect();
    let mut sorted = values.clone();
    sorted.sort();
    assert_eq!(
        values, sorted,
        "NONE order with VALUE target sorts ascending"
    );
    let r = store
        .range(&RangeRequest {
            sort_target: 1,
            sort_order: 2,
            limit: 1,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["a"]);
    assert_eq!(r.kvs[0].version, 4);
}

#[test]
fn historical_reads() {
    let (_backend, store, _) = build();
    let r = store
        .range(&RangeRequest {
            revision: 4,
            ..req("a", "")
        })
        .unwrap();
    assert_eq!(r.kvs[0].value, &b"10"[..]);
    assert_eq!(
        r.revision,
        store.current_revision(),
        "header revision is the current one"
    );
    let r = store
        .range(&RangeRequest {
            revision: 5,
            ..req("b", "")
        })
        .unwrap();
    assert!(r.kvs.is_empty(), "b deleted at 5");
    let r = store
        .range(&RangeRequest {
            revision: 6,
            ..req("b", "")
        })
        .unwrap();
    assert_eq!((r.kvs[0].create_revision, r.kvs[0].version), (6, 1));
    let r = store
        .range(&RangeRequest {
            revision: 2,
            ..req("\0", "\0")
        })
        .unwrap();
    assert_eq!(keys(&r.kvs), ["a", "b"]);
    assert_eq!(store.kv_at(b"a", 3).unwrap().unwrap().value, &b"1"[..]);
    assert_eq!(store.kv_at(b"c", 8).unwrap(), None);
}

#[test]
fn future_and_compacted_revisions() {
    let (backend, store, model) = build();
    let cur = store.current_revision();
    let err = store
        .range(&RangeRequest {
            revision: cur + 1,
            ..req("a", "")
        })
        .unwrap_err();
    assert!(matches!(err, MvccError::FutureRevision));
    assert_eq!(
        err.to_string(),
        "mvcc: required revision is a future revision"
    );

    let mut batch = WriteBatch::new();
    let job = store.compact(6, &mut batch).unwrap();
    backend.write(batch, false).unwrap();
    // Reads below the compaction point fail as soon as it is scheduled.
    let err = store
        .range(&RangeRequest {
            revision: 5,
            ..req("a", "")
        })
        .unwrap_err();
    assert!(matches!(err, MvccError::Compacted));
    assert_eq!(
        err.to_string(),
        "mvcc: required revision has been compacted"
    );
    job.run().unwrap();
    for rev in 1..6 {
        let r = RangeRequest {
            revision: rev,
            ..req("\0", "\0")
        };
        assert!(
            matches!(store.range(&r), Err(MvccError::Compacted)),
            "rev {rev}"
        );
    }
    // At and above the compaction point nothing changed.
    for rev in 6..=cur {
        for &(key, end) in RANGES {
            for target in 0..5 {
                let r = RangeRequest {
                    revision: rev,
                    sort_target: target,
                    ..req(key, end)
                };
                check(&store, &model, &r);
            }
        }
    }
    check(&store, &model, &req("\0", "\0"));
}
