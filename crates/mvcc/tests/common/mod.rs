//! Test helpers: stores over MemBackend, one-call writes, and a naive model of etcd's
//! key space to check the store against.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use oxcd_backend::{Backend, MemBackend, WriteBatch};
use oxcd_mvcc::{Changes, KvStore};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::KeyValue;

/// A fresh store over a fresh in-memory backend.
pub fn mem_store() -> (Arc<MemBackend>, KvStore) {
    let backend = Arc::new(MemBackend::new());
    let store = KvStore::open_at(backend.clone(), 0).expect("open");
    (backend, store)
}

/// One operation of a write transaction.
#[derive(Debug, Clone)]
pub enum Op {
    Put(&'static str, &'static str, i64),
    Del(&'static str, &'static str),
}

/// Runs one transaction the way the apply loop does: stage, write, publish.
pub fn apply(store: &KvStore, backend: &dyn Backend, ops: &[Op]) -> Changes {
    let mut txn = store.write();
    for op in ops {
        match op {
            Op::Put(k, v, lease) => {
                txn.put(k.as_bytes(), v.as_bytes(), *lease);
            }
            Op::Del(k, end) => {
                txn.delete_range(k.as_bytes(), end.as_bytes())
                    .expect("delete");
            }
        }
    }
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    backend.write(batch, false).expect("write");
    staged.publish()
}

pub fn put(store: &KvStore, backend: &dyn Backend, k: &'static str, v: &'static str) -> i64 {
    apply(store, backend, &[Op::Put(k, v, 0)]).revision
}

pub fn req(key: &str, end: &str) -> RangeRequest {
    RangeRequest {
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub fn keys(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

/// etcd's key space, naively: the full map of live keys after every revision.
#[derive(Debug, Default)]
pub struct Model {
    /// `history[r]` = live keys at revision r (`history[0]` is empty).
    pub history: Vec<BTreeMap<Vec<u8>, KeyValue>>,
}

impl Model {
    pub fn new() -> Self {
        Model {
            history: vec![BTreeMap::new()],
        }
    }

    pub fn current(&self) -> i64 {
        self.history.len() as i64 - 1
    }

    /// Applies one transaction; returns whether it changed anything (and took a revision).
    pub fn apply(&mut self, ops: &[Op]) -> bool {
        let rev = self.current() + 1;
        let mut map = self.history.last().cloned().unwrap_or_default();
        let mut changed = false;
        for op in ops {
            match op {
                Op::Put(k, v, lease) => {
                    let key = k.as_bytes().to_vec();
                    let (create, version) = match map.get(&key) {
                        Some(p) => (p.create_revision, p.version + 1),
                        None => (rev, 1),
                    };
                    map.insert(
                        key.clone(),
                        KeyValue {
                            key: key.into(),
                            create_revision: create,
                            mod_revision: rev,
                            version,
                            value: v.as_bytes().to_vec().into(),
                            lease: *lease,
                        },
                    );
                    changed = true;
                }
                Op::Del(k, end) => {
                    let gone: Vec<Vec<u8>> = map
                        .keys()
                        .filter(|key| in_range(key, k.as_bytes(), end.as_bytes()))
                        .cloned()
                        .collect();
                    changed |= !gone.is_empty();
                    for key in gone {
                        map.remove(&key);
                    }
                }
            }
        }
        if changed {
            self.history.push(map);
        }
        changed
    }

    /// etcd 3.4's range, written the slow obvious way: fetch all, filter, sort, truncate.
    pub fn range(&self, r: &RangeRequest) -> (Vec<KeyValue>, i64, bool) {
        let at = if r.revision <= 0 {
            self.current()
        } else {
            r.revision
        };
        let all: Vec<KeyValue> = self.history[at as usize]
            .values()
            .filter(|kv| in_range(&kv.key, &r.key, &r.range_end))
            .cloned()
            .collect();
        let count = all.len() as i64;
        if r.count_only {
            return (Vec::new(), count, false);
        }
        let mut kvs: Vec<KeyValue> = all
            .into_iter()
            .filter(|kv| r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
            .filter(|kv| r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
            .filter(|kv| r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
            .filter(|kv| r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
            .collect();
        // etcd 3.4 pushes the limit down (limit + 1 keys, in key order) whenever the
        // request's order is NONE and there are no filters, even for another sort target.
        let filtered = r.max_mod_revision != 0
            || r.min_mod_revision != 0
            || r.max_create_revision != 0
            || r.min_create_revision != 0;
        if r.sort_order == 0 && !filtered && r.limit > 0 {
            kvs.truncate(r.limit as usize + 1);
        }
        let mut order = r.sort_order;
        if r.sort_target != 0 && order == 0 {
            order = 1;
        }
        if order != 0 {
            let cmp = |a: &KeyValue, b: &KeyValue| match r.sort_target {
                0 => a.key.cmp(&b.key),
                1 => a.version.cmp(&b.version),
                2 => a.create_revision.cmp(&b.create_revision),
                3 => a.mod_revision.cmp(&b.mod_revision),
                _ => a.value.cmp(&b.value),
            };
            if order == 2 {
                kvs.sort_by(|a, b| cmp(b, a));
            } else {
                kvs.sort_by(cmp);
            }
        }
        let mut more = false;
        if r.limit > 0 && kvs.len() > r.limit as usize {
            kvs.truncate(r.limit as usize);
            more = true;
        }
        if r.keys_only {
            for kv in &mut kvs {
                kv.value.clear();
            }
        }
        (kvs, count, more)
    }
}

/// etcd's key/range_end membership.
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    match end {
        [] => key == start,
        [0] => key >= start,
        _ => key >= start && key < end,
    }
}
