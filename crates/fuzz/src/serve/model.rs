//! [`Model`]: etcd's key space written the slow, obvious way, to check what the store
//! serves. It keeps the full map of live keys after every revision, so a range at any
//! revision between the compacted and the current one has an expected answer.

use std::collections::BTreeMap;

use oxcd_mvcc::KeyRange;
use oxcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::{event::EventType, Event, KeyValue};

/// Live keys at one revision.
pub type KeyMap = BTreeMap<Vec<u8>, KeyValue>;

/// Why the model refuses a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Below the compacted revision.
    Compacted,
    /// Above the current revision.
    Future,
}

/// The expected answer of a range: the key-values, the count and `more`.
pub type Expected = (Vec<KeyValue>, i64, bool);

/// The key space at every revision since the store was created.
#[derive(Debug, Clone)]
pub struct Model {
    /// `history[r]` = the live keys at revision `r`.
    history: Vec<KeyMap>,
    /// The compacted revision (reads below it fail).
    pub compacted: i64,
}

impl Model {
    /// The model of an empty store at `initial` (etcd's first revision is 1).
    pub fn new(initial: i64) -> Self {
        Model {
            history: vec![KeyMap::new(); initial.max(0) as usize + 1],
            compacted: 0,
        }
    }

    /// The current revision.
    pub fn current(&self) -> i64 {
        self.history.len() as i64 - 1
    }

    /// The live keys now.
    pub fn live(&self) -> &KeyMap {
        &self.history[self.history.len() - 1]
    }

    /// The live keys at `revision` (which must be in range).
    pub fn at(&self, revision: i64) -> &KeyMap {
        &self.history[revision as usize]
    }

    /// Appends one revision holding `map`.
    pub fn commit(&mut self, map: KeyMap) {
        self.history.push(map);
    }

    /// Applies the events of one published revision; a revision without events changes
    /// nothing (and takes no revision).
    pub fn apply_events(&mut self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let mut map = self.live().clone();
        for ev in events {
            let Some(kv) = &ev.kv else { continue };
            if ev.r#type == EventType::Delete as i32 {
                map.remove(&kv.key[..]);
            } else {
                map.insert(kv.key.to_vec(), kv.clone());
            }
        }
        self.commit(map);
    }

    /// The live keys of `map` in etcd's `key`/`range_end`, in key order.
    pub fn in_range<'m>(map: &'m KeyMap, key: &[u8], range_end: &[u8]) -> Vec<&'m KeyValue> {
        let range = KeyRange::new(key, range_end);
        if range.is_empty() {
            return Vec::new();
        }
        map.range(key.to_vec()..)
            .take_while(|(k, _)| match range_end {
                [] => k.as_slice() == key,
                [0] => true,
                end => k.as_slice() < end,
            })
            .map(|(_, v)| v)
            .filter(|kv| range.contains(&kv.key))
            .collect()
    }

    /// etcd 3.4's range: fetch all, filter, sort, truncate (with its limit pushdown quirk:
    /// with sort order NONE and no filters only `limit + 1` keys in key order are sorted).
    pub fn range(&self, r: &RangeRequest) -> Result<Expected, ReadError> {
        let at = if r.revision <= 0 {
            self.current()
        } else {
            r.revision
        };
        if at > self.current() {
            return Err(ReadError::Future);
        }
        if at < self.compacted {
            return Err(ReadError::Compacted);
        }
        let all: Vec<KeyValue> = Model::in_range(self.at(at), &r.key, &r.range_end)
            .into_iter()
            .cloned()
            .collect();
        let count = all.len() as i64;
        if r.count_only {
            return Ok((Vec::new(), count, false));
        }
        let filtered = r.max_mod_revision != 0
            || r.min_mod_revision != 0
            || r.max_create_revision != 0
            || r.min_create_revision != 0;
        let mut kvs: Vec<KeyValue> = all
            .into_iter()
            .filter(|kv| r.max_mod_revision == 0 || kv.mod_revision <= r.max_mod_revision)
            .filter(|kv| r.min_mod_revision == 0 || kv.mod_revision >= r.min_mod_revision)
            .filter(|kv| r.max_create_revision == 0 || kv.create_revision <= r.max_create_revision)
            .filter(|kv| r.min_create_revision == 0 || kv.create_revision >= r.min_create_revision)
            .collect();
        // Unknown enum values read as NONE / KEY, as the store parses them.
        let order = SortOrder::try_from(r.sort_order).map_or(0, |o| o as i32);
        let target = SortTarget::try_from(r.sort_target).map_or(0, |t| t as i32);
        let limit = usize::try_from(r.limit).unwrap_or(0);
        if order == 0 && !filtered && limit > 0 {
            kvs.truncate(limit.saturating_add(1));
        }
        let order = if target != 0 && order == 0 { 1 } else { order };
        if order != 0 {
            let cmp = |a: &KeyValue, b: &KeyValue| match target {
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
        let more = limit > 0 && kvs.len() > limit;
        if more {
            kvs.truncate(limit);
        }
        if r.keys_only {
            for kv in &mut kvs {
                kv.value = Default::default();
            }
        }
        Ok((kvs, count, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, rev: i64) -> KeyValue {
        KeyValue {
            key: k.as_bytes().to_vec().into(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            value: b"v".to_vec().into(),
            lease: 0,
        }
    }

    #[test]
    fn ranges_follow_etcd_conventions() {
        let mut m = Model::new(1);
        let mut map = KeyMap::new();
        for (i, k) in ["a", "b", "c"].iter().enumerate() {
            map.insert(k.as_bytes().to_vec(), kv(k, 2 + i as i64));
        }
        m.commit(map);
        let req = |k: &str, e: &str| RangeRequest {
            key: k.into(),
            range_end: e.into(),
            ..Default::default()
        };
        assert_eq!(m.range(&req("a", "")).unwrap().1, 1);
        assert_eq!(m.range(&req("a", "c")).unwrap().1, 2);
        assert_eq!(m.range(&req("b", "\0")).unwrap().1, 2);
        assert_eq!(m.range(&req("c", "a")).unwrap().1, 0);
        let limited = RangeRequest {
            limit: 1,
            ..req("a", "\0")
        };
        let (kvs, count, more) = m.range(&limited).unwrap();
        assert_eq!((kvs.len(), count, more), (1, 3, true));
        let old = RangeRequest {
            revision: 1,
            ..req("a", "\0")
        };
        assert_eq!(m.range(&old).unwrap().1, 0);
        let future = RangeRequest {
            revision: 3,
            ..req("a", "\0")
        };
        assert_eq!(m.range(&future), Err(ReadError::Future));
    }
}
