//! Key-range permissions as merged intervals: [`KeyRange`] (one permission or one request,
//! in etcd's `key`/`range_end` encoding) and [`RangeSet`] (the union a user may read or
//! write, built once per auth revision and answered by binary search).

use std::cmp::Ordering;

/// The exclusive end of a [`KeyRange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Up to, not including, this key.
    Key(Vec<u8>),
    /// To the end of the key space (etcd's `range_end = "\0"`).
    Unbounded,
}

impl End {
    fn cmp_end(&self, other: &End) -> Ordering {
        match (self, other) {
            (End::Unbounded, End::Unbounded) => Ordering::Equal,
            (End::Unbounded, End::Key(_)) => Ordering::Greater,
            (End::Key(_), End::Unbounded) => Ordering::Less,
            (End::Key(a), End::Key(b)) => a.cmp(b),
        }
    }

    /// Whether `key` lies at or past this end.
    fn at_or_before(&self, key: &[u8]) -> bool {
        match self {
            End::Unbounded => false,
            End::Key(e) => e.as_slice() <= key,
        }
    }
}

/// A half-open key interval `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// First key covered.
    pub start: Vec<u8>,
    /// Exclusive end.
    pub end: End,
}

impl KeyRange {
    /// The interval etcd means by `key` and `range_end`: an empty `range_end` is the single
    /// key, `"\0"` is every key from `key` on, anything else is `[key, range_end)`. Returns
    /// `None` for an empty interval (`range_end <= key`).
    pub fn from_etcd(key: &[u8], range_end: &[u8]) -> Option<KeyRange> {
        let end = match range_end {
            [] => {
                let mut next = key.to_vec();
                next.push(0);
                End::Key(next)
            }
            [0] => End::Unbounded,
            e if e <= key => return None,
            e => End::Key(e.to_vec()),
        };
        Some(KeyRange {
            start: key.to_vec(),
            end,
        })
    }
}

/// A union of key intervals, merged and sorted, for "is `[key, range_end)` covered".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// Disjoint, non-adjacent intervals in ascending order.
    merged: Vec<KeyRange>,
}

impl RangeSet {
    /// The union of `ranges`.
    pub fn new(mut ranges: Vec<KeyRange>) -> RangeSet {
        ranges.sort_by(|a, b| a.start.cmp(&b.start));
        let mut merged: Vec<KeyRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                // Overlapping or touching: extend the previous interval.
                Some(last) if !last.end.at_or_before(&r.start) || last_touches(last, &r) => {
                    if r.end.cmp_end(&last.end) == Ordering::Greater {
                        last.end = r.end;
                    }
                }
                _ => merged.push(r),
            }
        }
        RangeSet { merged }
    }

    /// Whether every key of `range` lies in the union.
    pub fn covers(&self, range: &KeyRange) -> bool {
        // The last interval starting at or before `range.start` is the only candidate:
        // the intervals are disjoint and non-adjacent, so no union of two covers more.
        let idx = self
            .merged
            .partition_point(|r| r.start.as_slice() <= range.start.as_slice());
        let Some(candidate) = idx.checked_sub(1).map(|i| &self.merged[i]) else {
            return false;
        };
        candidate.end.cmp_end(&range.end) != Ordering::Less
    }

    /// Whether the union is empty.
    pub fn is_empty(&self) -> bool {
        self.merged.is_empty()
    }
}

fn last_touches(last: &KeyRange, next: &KeyRange) -> bool {
    matches!(&last.end, End::Key(e) if e.as_slice() == next.start.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(key: &str, end: &str) -> KeyRange {
        KeyRange::from_etcd(key.as_bytes(), end.as_bytes()).expect("non-empty")
    }

    #[test]
    fn etcd_encodings() {
        assert_eq!(r("a", "").end, End::Key(b"a\0".to_vec()));
        assert_eq!(r("a", "\0").end, End::Unbounded);
        assert_eq!(r("a", "c").end, End::Key(b"c".to_vec()));
        assert!(KeyRange::from_etcd(b"c", b"a").is_none());
        assert!(KeyRange::from_etcd(b"a", b"a").is_none());
    }

    #[test]
    fn single_keys_and_ranges() {
        let set = RangeSet::new(vec![r("foo", ""), r("p/", "p0")]);
        assert!(set.covers(&r("foo", "")));
        assert!(!set.covers(&r("fo", "")));
        assert!(!set.covers(&r("foo", "fop")), "a range wider than the key");
        assert!(set.covers(&r("p/a", "")));
        assert!(set.covers(&r("p/", "p0")));
        assert!(set.covers(&r("p/a", "p/b")));
        assert!(!set.covers(&r("p/", "p1")));
        assert!(!set.covers(&r("p/", "\0")));
        assert!(!set.covers(&r("a", "")));
        assert!(!RangeSet::default().covers(&r("a", "")));
    }

    #[test]
    fn adjacent_and_overlapping_intervals_merge() {
        let set = RangeSet::new(vec![r("c", "e"), r("a", "c"), r("d", "g"), r("x", "\0")]);
        assert!(set.covers(&r("a", "g")));
        assert!(set.covers(&r("b", "f")));
        assert!(!set.covers(&r("a", "h")));
        assert!(set.covers(&r("x", "\0")));
        assert!(set.covers(&r("zzz", "")));
        assert!(!set.covers(&r("g", "")));
        assert_eq!(set.merged.len(), 2);
    }

    #[test]
    fn from_key_covers_everything_after() {
        let set = RangeSet::new(vec![r("\0", "\0")]);
        assert!(set.covers(&r("\0", "\0")));
        assert!(set.covers(&r("anything", "")));
        assert!(set.covers(&r("a", "z")));
    }
}
