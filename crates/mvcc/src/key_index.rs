//! The in-memory index: user key -> the revisions of that key (etcd's treeIndex/keyIndex).
//!
//! Each key has a list of generations. A generation starts with the put that created the
//! key and ends with the tombstone that deleted it; the last generation is the current one
//! and is empty while the key is deleted. Values live in the backend, addressed by
//! revision; the index only knows revisions, the create revision, the version count and
//! the lease of the live value (so that a put learns everything it replaces without
//! reading the backend).

use std::collections::{BTreeMap, HashSet};

use smallvec::{smallvec, SmallVec};

use crate::key_range::KeyRange;
use crate::revision::Revision;

/// What the index knows about one key at one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// The revision that wrote the visible value.
    pub modified: Revision,
    /// The main revision that created the key (in this generation).
    pub create_revision: i64,
    /// The number of puts in this generation up to and including `modified`.
    pub version: i64,
}

#[derive(Debug, Clone, Default)]
struct Generation {
    /// Main revision of the first put of the generation.
    created: i64,
    /// Number of puts in the generation (counted before compaction trimmed `revs`).
    ver: i64,
    /// Revisions still indexed, ascending; in a closed generation the last is the tombstone.
    revs: SmallVec<[Revision; 1]>,
}

impl Generation {
    /// Index of the largest revision with `main <= at`.
    fn position_at(&self, at: i64) -> Option<usize> {
        self.revs.partition_point(|r| r.main <= at).checked_sub(1)
    }
}

/// What the index knows about a key's live value: everything a put that replaces it
/// needs, without reading the value from the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveKey {
    /// The revision of the live value, its create revision and version.
    pub entry: IndexEntry,
    /// The lease the live value is attached to (0 = none).
    pub lease: i64,
}

/// The revisions of one key.
#[derive(Debug, Clone)]
pub struct KeyIndex {
    /// Inline for the usual key (one generation); a key written once costs no allocation
    /// beyond its index entry.
    generations: SmallVec<[Generation; 1]>,
    /// The lease of the live value; 0 when it has none or the key is deleted.
    lease: i64,
}

impl KeyIndex {
    fn new() -> Self {
        KeyIndex {
            generations: smallvec![Generation::default()],
            lease: 0,
        }
    }

    /// A key first seen when rebuilding from the backend: its oldest surviving revision
    /// `modified` carries `create_revision` and `version`.
    fn restored(create_revision: i64, modified: Revision, version: i64, lease: i64) -> Self {
        KeyIndex {
            generations: smallvec![Generation {
                created: create_revision,
                ver: version,
                revs: smallvec![modified],
            }],
            lease,
        }
    }

    fn is_empty(&self) -> bool {
        self.generations.len() == 1 && self.generations[0].revs.is_empty()
    }

    fn put(&mut self, rev: Revision, lease: i64) {
        self.lease = lease;
        if self.generations.is_empty() {
            self.generations.push(Generation::default());
        }
        let last = self.generations.len() - 1;
        let g = &mut self.generations[last];
        if g.revs.is_empty() {
            g.created = rev.main;
        }
        g.revs.push(rev);
        g.ver += 1;
    }

    /// Ends the current generation; false (nothing done) if the key is not live.
    fn tombstone(&mut self, rev: Revision) -> bool {
        match self.generations.last() {
            Some(g) if !g.revs.is_empty() => {}
            _ => return false,
        }
        self.put(rev, 0);
        self.generations.push(Generation::default());
        true
    }

    /// The live value, if the key is live now.
    fn live(&self) -> Option<LiveKey> {
        let g = self.generations.last()?;
        Some(LiveKey {
            entry: IndexEntry {
                modified: *g.revs.last()?,
                create_revision: g.created,
                version: g.ver,
            },
            lease: self.lease,
        })
    }

    /// The generation holding the key's value at `at`, if the key was live then.
    fn generation_at(&self, at: i64) -> Option<&Generation> {
        let last = self.generations.len().checked_sub(1)?;
        for (i, g) in self.generations.iter().enumerate().rev() {
            let (Some(first), Some(tomb)) = (g.revs.first(), g.revs.last()) else {
                continue;
            };
            if i != last && tomb.main <= at {
                return None;
            }
            if first.main <= at {
                return Some(g);
            }
        }
        None
    }

    /// The key's state at `at`, if it was live then.
    pub fn get(&self, at: i64) -> Option<IndexEntry> {
        let g = self.generation_at(at)?;
        let idx = g.position_at(at)?;
        Some(IndexEntry {
            modified: g.revs[idx],
            create_revision: g.created,
            version: g.ver - (g.revs.len() - 1 - idx) as i64,
        })
    }

    /// etcd's doCompact: the generation compaction at `at` stops in, and the position of
    /// the revision it keeps there (added to `keep`).
    fn compaction_point(&self, at: i64, keep: &mut HashSet<Revision>) -> (usize, Option<usize>) {
        let last = self.generations.len() - 1;
        let mut gen_idx = 0;
        while gen_idx < last {
            match self.generations[gen_idx].revs.last() {
                Some(tomb) if tomb.main > at => break,
                _ => gen_idx += 1,
            }
        }
        let g = &self.generations[gen_idx];
        let pos = g.position_at(at);
        if let Some(p) = pos {
            keep.insert(g.revs[p]);
        }
        (gen_idx, pos)
    }

    /// Adds to `keep` what compaction at `at` would keep, without changing anything.
    fn keep(&self, at: i64, keep: &mut HashSet<Revision>) {
        if self.is_empty() {
            return;
        }
        let (gen_idx, pos) = self.compaction_point(at, keep);
        let g = &self.generations[gen_idx];
        if gen_idx != self.generations.len() - 1 && pos == Some(g.revs.len() - 1) {
            // The kept revision is the tombstone closing this generation: drop it too.
            keep.remove(&g.revs[g.revs.len() - 1]);
        }
    }

    /// Removes every revision `<= at` except the one that is the key's value at `at`
    /// (unless that is a tombstone), adding the survivors `<= at` to `keep`.
    fn compact(&mut self, at: i64, keep: &mut HashSet<Revision>) {
        if self.is_empty() {
            return;
        }
        let (mut gen_idx, pos) = self.compaction_point(at, keep);
        let last = self.generations.len() - 1;
        let g = &mut self.generations[gen_idx];
        if let Some(p) = pos {
            let closes_generation = gen_idx != last && p == g.revs.len() - 1;
            g.revs.drain(..p);
            if closes_generation {
                keep.remove(&g.revs[0]);
                gen_idx += 1;
            }
        }
        self.generations.drain(..gen_idx);
    }
}

/// The index of every key, ordered by key.
#[derive(Debug, Clone, Default)]
pub struct KeyIndexTree {
    keys: BTreeMap<Vec<u8>, KeyIndex>,
}

impl KeyIndexTree {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys with any indexed revision (live or not).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The state of `key` at revision `at`, if it was live then.
    pub fn get(&self, key: &[u8], at: i64) -> Option<IndexEntry> {
        self.keys.get(key)?.get(at)
    }

    /// The live value of `key` at the latest revision, if the key is live.
    pub fn live(&self, key: &[u8]) -> Option<LiveKey> {
        self.keys.get(key)?.live()
    }

    /// The live keys attached to a lease, and the lease, in key order.
    pub fn leased(&self) -> Vec<(Vec<u8>, i64)> {
        self.keys
            .iter()
            .filter_map(|(key, ki)| {
                ki.live()
                    .filter(|l| l.lease != 0)
                    .map(|l| (key.clone(), l.lease))
            })
            .collect()
    }

    /// Records a put of `key` at `rev`, attached to `lease` (0 = none).
    pub fn put(&mut self, key: &[u8], rev: Revision, lease: i64) {
        match self.keys.get_mut(key) {
            Some(ki) => ki.put(rev, lease),
            None => {
                let mut ki = KeyIndex::new();
                ki.put(rev, lease);
                self.keys.insert(key.to_vec(), ki);
            }
        }
    }

    /// Records a delete of `key` at `rev`; false (nothing done) if the key is not live.
    pub fn tombstone(&mut self, key: &[u8], rev: Revision) -> bool {
        self.keys.get_mut(key).is_some_and(|ki| ki.tombstone(rev))
    }

    /// Rebuild step for one put revision read from the backend.
    pub(crate) fn restore_put(
        &mut self,
        key: &[u8],
        rev: Revision,
        create_revision: i64,
        version: i64,
        lease: i64,
    ) {
        match self.keys.get_mut(key) {
            Some(ki) => ki.put(rev, lease),
            None => {
                self.keys.insert(
                    key.to_vec(),
                    KeyIndex::restored(create_revision, rev, version, lease),
                );
            }
        }
    }

    /// Visits the keys live at `at` inside `range`, in key order (descending when
    /// `reverse`), until `visit` returns false.
    pub fn visit(
        &self,
        range: &KeyRange,
        at: i64,
        reverse: bool,
        mut visit: impl FnMut(&[u8], IndexEntry) -> bool,
    ) {
        if range.is_empty() {
            return;
        }
        let mut step = |(key, ki): (&Vec<u8>, &KeyIndex)| match ki.get(at) {
            Some(entry) => visit(key, entry),
            None => true,
        };
        let iter = self.keys.range::<[u8], _>(range.bounds());
        if reverse {
            for item in iter.rev() {
                if !step(item) {
                    return;
                }
            }
        } else {
            for item in iter {
                if !step(item) {
                    return;
                }
            }
        }
    }

    /// The revisions of the keys live at `at` in `range`, in key order (descending when
    /// `reverse`), at most `limit` of them (0 = no limit), and the number of live keys in
    /// the whole range.
    pub fn range(
        &self,
        range: &KeyRange,
        at: i64,
        limit: usize,
        reverse: bool,
    ) -> (Vec<Revision>, usize) {
        let mut revs = Vec::new();
        let mut count = 0usize;
        self.visit(range, at, reverse, |_, entry| {
            if limit == 0 || revs.len() < limit {
                revs.push(entry.modified);
            }
            count += 1;
            true
        });
        (revs, count)
    }

    /// Number of keys live at `at` in `range`.
    pub fn count(&self, range: &KeyRange, at: i64) -> usize {
        let mut count = 0usize;
        self.visit(range, at, false, |_, _| {
            count += 1;
            true
        });
        count
    }

    /// Compacts every key at `at` (etcd semantics: per key, keep the largest revision
    /// `<= at` unless it is a tombstone; drop emptied keys) and returns the revisions
    /// `<= at` that survive.
    pub fn compact(&mut self, at: i64) -> HashSet<Revision> {
        let mut keep = HashSet::new();
        self.keys.retain(|_, ki| {
            ki.compact(at, &mut keep);
            !ki.is_empty()
        });
        keep
    }

    /// The revisions `<= at` that [`KeyIndexTree::compact`] at `at` would keep.
    pub fn keep(&self, at: i64) -> HashSet<Revision> {
        let mut keep = HashSet::new();
        for ki in self.keys.values() {
            ki.keep(at, &mut keep);
        }
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(main: i64) -> Revision {
        Revision::new(main, 0)
    }

    fn all() -> KeyRange {
        KeyRange::new(b"\0", b"\0")
    }

    /// foo: put 2, put 4, delete 6, put 8, put 10, delete 12, put 14, put 16 (etcd's own
    /// keyIndex example).
    fn history() -> KeyIndexTree {
        let mut t = KeyIndexTree::new();
        t.put(b"foo", rev(2), 0);
        t.put(b"foo", rev(4), 0);
        assert!(t.tombstone(b"foo", rev(6)));
        t.put(b"foo", rev(8), 0);
        t.put(b"foo", rev(10), 0);
        assert!(t.tombstone(b"foo", rev(12)));
        t.put(b"foo", rev(14), 0);
        t.put(b"foo", rev(16), 0);
        t
    }

    #[test]
    fn get_walks_generations() {
        let mut t = history();
        assert_eq!(t.get(b"foo", 1), None);
        let e = t.get(b"foo", 3).unwrap();
        assert_eq!((e.modified, e.create_revision, e.version), (rev(2), 2, 1));
        let e = t.get(b"foo", 5).unwrap();
        assert_eq!((e.modified, e.create_revision, e.version), (rev(4), 2, 2));
        assert_eq!(t.get(b"foo", 6), None);
        assert_eq!(t.get(b"foo", 7), None);
        let e = t.get(b"foo", 11).unwrap();
        assert_eq!((e.modified, e.create_revision, e.version), (rev(10), 8, 2));
        assert_eq!(t.get(b"foo", 12), None);
        let e = t.get(b"foo", 100).unwrap();
        assert_eq!((e.modified, e.create_revision, e.version), (rev(16), 14, 2));
        assert!(!t.tombstone(b"bar", rev(20)));
    }

    #[test]
    fn same_main_revision_put_delete_put() {
        let mut t = KeyIndexTree::new();
        t.put(b"k", Revision::new(5, 0), 0);
        assert!(t.tombstone(b"k", Revision::new(5, 1)));
        assert!(!t.tombstone(b"k", Revision::new(5, 2)));
        assert_eq!(t.get(b"k", 5), None);
        t.put(b"k", Revision::new(5, 2), 0);
        let e = t.get(b"k", 5).unwrap();
        assert_eq!((e.modified, e.version), (Revision::new(5, 2), 1));
    }

    #[test]
    fn range_limit_reverse_and_count() {
        let mut t = KeyIndexTree::new();
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            t.put(*k, rev(i as i64 + 2), 0);
        }
        assert!(t.tombstone(b"c", rev(6)));
        let (revs, count) = t.range(&all(), 6, 0, false);
        assert_eq!((revs, count), (vec![rev(2), rev(3), rev(5)], 3));
        let (revs, count) = t.range(&all(), 6, 2, true);
        assert_eq!((revs, count), (vec![rev(5), rev(3)], 3));
        let (revs, count) = t.range(&all(), 4, 1, false);
        assert_eq!((revs, count), (vec![rev(2)], 3));
        assert_eq!(t.count(&KeyRange::new(b"b", b"d"), 5), 2);
        assert_eq!(t.count(&KeyRange::new(b"d", b"b"), 5), 0);
        assert_eq!(
            t.range(&KeyRange::new(b"b", b""), 6, 0, false).0,
            vec![rev(3)]
        );
    }

    #[test]
    fn compaction_follows_etcd() {
        // Compact at each revision and check what survives, like etcd's TestKeyIndexCompact.
        /// (compact at, revisions kept, generations left)
        type Case = (i64, &'static [i64], &'static [&'static [i64]]);
        let cases: &[Case] = &[
            (1, &[], &[&[2, 4, 6], &[8, 10, 12], &[14, 16]]),
            (2, &[2], &[&[2, 4, 6], &[8, 10, 12], &[14, 16]]),
            (3, &[2], &[&[2, 4, 6], &[8, 10, 12], &[14, 16]]),
            (4, &[4], &[&[4, 6], &[8, 10, 12], &[14, 16]]),
            (5, &[4], &[&[4, 6], &[8, 10, 12], &[14, 16]]),
            (6, &[], &[&[8, 10, 12], &[14, 16]]),
            (7, &[], &[&[8, 10, 12], &[14, 16]]),
            (8, &[8], &[&[8, 10, 12], &[14, 16]]),
            (10, &[10], &[&[10, 12], &[14, 16]]),
            (12, &[], &[&[14, 16]]),
            (13, &[], &[&[14, 16]]),
            (14, &[14], &[&[14, 16]]),
            (16, &[16], &[&[16]]),
            (17, &[16], &[&[16]]),
        ];
        for &(at, kept, gens) in cases {
            let base = history();
            let expect_keep: HashSet<Revision> = kept.iter().map(|&m| rev(m)).collect();
            assert_eq!(base.keep(at), expect_keep, "keep at {at}");
            let mut t = base.clone();
            assert_eq!(t.compact(at), expect_keep, "compact at {at}");
            let ki = t.keys.get(b"foo".as_slice()).unwrap();
            let got: Vec<Vec<i64>> = ki
                .generations
                .iter()
                .filter(|g| !g.revs.is_empty())
                .map(|g| g.revs.iter().map(|r| r.main).collect())
                .collect();
            let want: Vec<Vec<i64>> = gens.iter().map(|g| g.to_vec()).collect();
            assert_eq!(got, want, "generations after compact at {at}");
            // Reads at or above the compaction point are unchanged.
            for r in at..20 {
                assert_eq!(
                    t.get(b"foo", r),
                    base.get(b"foo", r),
                    "get at {r} after compact {at}"
                );
            }
        }
    }

    #[test]
    fn compaction_drops_deleted_keys() {
        let mut t = KeyIndexTree::new();
        t.put(b"gone", rev(2), 0);
        assert!(t.tombstone(b"gone", rev(3)));
        t.put(b"live", rev(4), 0);
        let keep = t.compact(5);
        assert_eq!(keep, HashSet::from([rev(4)]));
        assert_eq!(t.len(), 1);
        assert!(t.get(b"live", 5).is_some());
        // Idempotent.
        assert_eq!(t.compact(5), keep);
    }

    #[test]
    fn restored_keys_keep_version_counts() {
        let mut t = KeyIndexTree::new();
        t.restore_put(b"k", rev(7), 3, 4, 0);
        t.restore_put(b"k", rev(9), 3, 5, 2);
        let e = t.get(b"k", 9).unwrap();
        assert_eq!((e.create_revision, e.version), (3, 5));
        assert_eq!(t.get(b"k", 7).unwrap().version, 4);
        assert_eq!(t.live(b"k").map(|l| l.lease), Some(2));
    }

    #[test]
    fn live_follows_the_latest_put_and_its_lease() {
        let mut t = KeyIndexTree::new();
        assert_eq!(t.live(b"k"), None);
        t.put(b"k", rev(2), 7);
        t.put(b"k", rev(3), 0);
        t.put(b"k", rev(4), 9);
        let live = t.live(b"k").unwrap();
        assert_eq!(
            (
                live.entry.modified,
                live.entry.create_revision,
                live.entry.version,
                live.lease
            ),
            (rev(4), 2, 3, 9)
        );
        assert!(t.tombstone(b"k", rev(5)));
        assert_eq!(t.live(b"k"), None);
        t.put(b"k", rev(6), 0);
        let live = t.live(b"k").unwrap();
        assert_eq!(
            (live.entry.create_revision, live.entry.version, live.lease),
            (6, 1, 0)
        );
        // Compaction keeps the live value and what the index knows of it.
        t.compact(6);
        assert_eq!(t.live(b"k"), Some(live));
    }
}
