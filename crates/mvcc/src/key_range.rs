//! [`KeyRange`]: etcd's `key`/`range_end` pair turned into a half-open interval.

use std::ops::Bound;

/// The upper end of a [`KeyRange`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeEnd {
    /// Only `start` itself (an empty `range_end`).
    Single,
    /// Every key `>= start` (a `range_end` of `"\0"`).
    Unbounded,
    /// Every key in `[start, end)`.
    Excluded(Vec<u8>),
}

/// A set of keys as etcd's requests describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    /// The first key of the range.
    pub start: Vec<u8>,
    /// Where the range ends.
    pub end: RangeEnd,
}

impl KeyRange {
    /// Interprets etcd's `key`/`range_end`: an empty `range_end` is the single key, a
    /// `range_end` of `"\0"` means every key `>= key` (so `key = range_end = "\0"` is every
    /// key), anything else is `[key, range_end)`.
    pub fn new(key: &[u8], range_end: &[u8]) -> Self {
        let end = match range_end {
            [] => RangeEnd::Single,
            [0] => RangeEnd::Unbounded,
            end => RangeEnd::Excluded(end.to_vec()),
        };
        KeyRange {
            start: key.to_vec(),
            end,
        }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match &self.end {
            RangeEnd::Single => key == self.start.as_slice(),
            RangeEnd::Unbounded => key >= self.start.as_slice(),
            RangeEnd::Excluded(end) => key >= self.start.as_slice() && key < end.as_slice(),
        }
    }

    /// Whether no key can be in the range (`range_end <= key`).
    pub fn is_empty(&self) -> bool {
        matches!(&self.end, RangeEnd::Excluded(end) if end.as_slice() <= self.start.as_slice())
    }

    /// The range as `BTreeMap::range` bounds; only valid when not [`KeyRange::is_empty`].
    pub(crate) fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        let start = Bound::Included(self.start.as_slice());
        match &self.end {
            RangeEnd::Single => (start, Bound::Included(self.start.as_slice())),
            RangeEnd::Unbounded => (start, Bound::Unbounded),
            RangeEnd::Excluded(end) => (start, Bound::Excluded(end.as_slice())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_range_conventions() {
        let single = KeyRange::new(b"a", b"");
        assert!(single.contains(b"a") && !single.contains(b"ab"));
        let from = KeyRange::new(b"b", b"\0");
        assert!(from.contains(b"b") && from.contains(b"zzz") && !from.contains(b"a"));
        let all = KeyRange::new(b"\0", b"\0");
        assert!(all.contains(b"\0") && all.contains(b"a"));
        let prefix = KeyRange::new(b"foo", b"fop");
        assert!(prefix.contains(b"foo/x") && !prefix.contains(b"fop"));
        assert!(KeyRange::new(b"b", b"a").is_empty());
        assert!(KeyRange::new(b"b", b"b").is_empty());
        assert!(!prefix.is_empty() && !single.is_empty());
    }
}
