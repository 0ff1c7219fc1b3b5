//! [`IntervalIndex`]: half-open key intervals `[start, end)` (or `[start, ∞)`) with a
//! stabbing query, for range and prefix watchers.
//!
//! A treap of distinct intervals ordered by `(start, end)`, each node holding the set of
//! values on that interval and augmented with the largest end in its subtree, so "which
//! intervals contain key k" visits only subtrees that can hold a match: O(log n + m)
//! expected for m matching intervals. Many watchers on one prefix (the usual shape: every
//! informer of a resource watches the same prefix) share one node, so adding or removing
//! one of them costs a tree search and a set update.
//!
//! # Invariants
//! - BST order on `(start, end)`, no two nodes with the same interval; heap order on
//!   `prio` (max at the root).
//! - `max_end` of a node is the largest `end` in its subtree.
//! - No node has an empty value set.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// The exclusive upper bound of an interval.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum End {
    /// Keys strictly below this one.
    Key(Vec<u8>),
    /// Every key from the start on (etcd's `range_end = "\0"`).
    Unbounded,
}

impl End {
    /// Whether `k` is below this bound.
    fn above(&self, k: &[u8]) -> bool {
        match self {
            End::Key(e) => e.as_slice() > k,
            End::Unbounded => true,
        }
    }
}

struct Node<V> {
    start: Vec<u8>,
    end: End,
    values: BTreeSet<V>,
    prio: u64,
    max_end: End,
    left: Option<Box<Node<V>>>,
    right: Option<Box<Node<V>>>,
}

impl<V: Ord + Copy> Node<V> {
    fn fix(&mut self) {
        let mut m = &self.end;
        for child in [&self.left, &self.right].into_iter().flatten() {
            if child.max_end > *m {
                m = &child.max_end;
            }
        }
        if *m != self.max_end {
            self.max_end = m.clone();
        }
    }

    fn order(&self, start: &[u8], end: &End) -> Ordering {
        self.start
            .as_slice()
            .cmp(start)
            .then_with(|| self.end.cmp(end))
    }
}

type Link<V> = Option<Box<Node<V>>>;

/// A set of intervals, each tagged with a distinct value.
pub struct IntervalIndex<V> {
    root: Link<V>,
    len: usize,
    seed: u64,
}

impl<V> Default for IntervalIndex<V> {
    fn default() -> Self {
        Self {
            root: None,
            len: 0,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl<V> std::fmt::Debug for IntervalIndex<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalIndex")
            .field("len", &self.len)
            .finish()
    }
}

/// Joins two treaps where every key of `a` is below every key of `b`.
fn merge<V: Ord + Copy>(a: Link<V>, b: Link<V>) -> Link<V> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(mut a), Some(mut b)) => {
            if a.prio >= b.prio {
                a.right = merge(a.right.take(), Some(b));
                a.fix();
                Some(a)
            } else {
                b.left = merge(Some(a), b.left.take());
                b.fix();
                Some(b)
            }
        }
    }
}

/// Splits into (intervals below `(start, end)`, intervals at or above it).
fn split<V: Ord + Copy>(t: Link<V>, start: &[u8], end: &End) -> (Link<V>, Link<V>) {
    match t {
        None => (None, None),
        Some(mut n) => {
            if n.order(start, end) == Ordering::Less {
                let (l, r) = split(n.right.take(), start, end);
                n.right = l;
                n.fix();
                (Some(n), r)
            } else {
                let (l, r) = split(n.left.take(), start, end);
                n.left = r;
                n.fix();
                (l, Some(n))
            }
        }
    }
}

/// The node of interval `(start, end)`, if any.
fn find_mut<'a, V: Ord + Copy>(
    mut t: &'a mut Link<V>,
    start: &[u8],
    end: &End,
) -> Option<&'a mut Node<V>> {
    while let Some(n) = t {
        match n.order(start, end) {
            Ordering::Equal => return Some(n),
            Ordering::Greater => t = &mut n.left,
            Ordering::Less => t = &mut n.right,
        }
    }
    None
}

/// Removes the node of interval `(start, end)`.
fn remove_node<V: Ord + Copy>(t: &mut Link<V>, start: &[u8], end: &End) -> bool {
    let Some(n) = t else {
        return false;
    };
    let removed = match n.order(start, end) {
        Ordering::Equal => {
            let left = n.left.take();
            let right = n.right.take();
            *t = merge(left, right);
            return true;
        }
        Ordering::Greater => remove_node(&mut n.left, start, end),
        Ordering::Less => remove_node(&mut n.right, start, end),
    };
    if removed {
        n.fix();
    }
    removed
}

fn stab<V: Ord + Copy>(t: &Link<V>, k: &[u8], out: &mut Vec<V>) {
    let Some(n) = t else {
        return;
    };
    if !n.max_end.above(k) {
        return;
    }
    stab(&n.left, k, out);
    if n.start.as_slice() <= k {
        if n.end.above(k) {
            out.extend(n.values.iter().copied());
        }
        stab(&n.right, k, out);
    }
}

impl<V: Ord + Copy> IntervalIndex<V> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn next_prio(&mut self) -> u64 {
        // xorshift64*: priorities only need to look random.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Adds `value` on `[start, end)`; returns false if it was already there. A value must
    /// be on at most one interval (remove it from the old one first).
    pub fn insert(&mut self, start: Vec<u8>, end: End, value: V) -> bool {
        if let Some(n) = find_mut(&mut self.root, &start, &end) {
            let added = n.values.insert(value);
            self.len += usize::from(added);
            return added;
        }
        let prio = self.next_prio();
        let node = Box::new(Node {
            max_end: end.clone(),
            start,
            end,
            values: BTreeSet::from([value]),
            prio,
            left: None,
            right: None,
        });
        let (l, r) = split(self.root.take(), &node.start, &node.end);
        self.root = merge(merge(l, Some(node)), r);
        self.len += 1;
        true
    }

    /// Removes `value` from `[start, end)`; returns whether it was there.
    pub fn remove(&mut self, start: &[u8], end: &End, value: &V) -> bool {
        let Some(n) = find_mut(&mut self.root, start, end) else {
            return false;
        };
        if !n.values.remove(value) {
            return false;
        }
        self.len -= 1;
        if n.values.is_empty() {
            remove_node(&mut self.root, start, end);
        }
        true
    }

    /// The values of every interval that contains `k`, ordered by interval, then value.
    pub fn stab(&self, k: &[u8]) -> Vec<V> {
        let mut out = Vec::new();
        stab(&self.root, k, &mut out);
        out
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(ivs: &[(Vec<u8>, End, u32)], k: &[u8]) -> Vec<u32> {
        let mut v: Vec<(Vec<u8>, u32)> = ivs
            .iter()
            .filter(|(s, e, _)| s.as_slice() <= k && e.above(k))
            .map(|(s, _, v)| (s.clone(), *v))
            .collect();
        v.sort();
        let mut out: Vec<u32> = v.into_iter().map(|(_, v)| v).collect();
        out.sort();
        out
    }

    fn sorted(mut v: Vec<u32>) -> Vec<u32> {
        v.sort();
        v
    }

    #[test]
    fn stabbing_matches_a_brute_force_scan() {
        let mut idx = IntervalIndex::new();
        let mut ivs: Vec<(Vec<u8>, End, u32)> = Vec::new();
        let mut x: u64 = 12345;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for i in 0..2000u32 {
            // Few distinct starts and lengths: many values share an interval.
            let a = rnd(60) as u8 * 3;
            let len = rnd(8) as u8 * 5;
            let start = vec![a];
            let end = if rnd(10) == 0 {
                End::Unbounded
            } else {
                End::Key(vec![a.saturating_add(len).max(a + u8::from(a < 255))])
            };
            idx.insert(start.clone(), end.clone(), i);
            ivs.push((start, end, i));
            if rnd(3) == 0 && !ivs.is_empty() {
                let j = rnd(ivs.len() as u64) as usize;
                let (s, e, v) = ivs.swap_remove(j);
                assert!(!idx.remove(&s, &End::Key(vec![0]), &v), "wrong interval");
                assert!(idx.remove(&s, &e, &v));
            }
        }
        assert_eq!(idx.len(), ivs.len());
        for k in 0..=255u8 {
            assert_eq!(sorted(idx.stab(&[k])), brute(&ivs, &[k]), "key {k}");
            assert_eq!(sorted(idx.stab(&[k, 7])), brute(&ivs, &[k, 7]), "key {k},7");
        }
    }

    #[test]
    fn bounds_are_half_open_and_unbounded_covers_everything_above() {
        let mut idx = IntervalIndex::new();
        idx.insert(b"a".to_vec(), End::Key(b"c".to_vec()), 1);
        idx.insert(b"b".to_vec(), End::Unbounded, 2);
        assert_eq!(idx.stab(b"a"), vec![1]);
        assert_eq!(idx.stab(b"b"), vec![1, 2]);
        assert_eq!(idx.stab(b"c"), vec![2]);
        assert_eq!(idx.stab(b"zzz"), vec![2]);
        assert!(idx.stab(b"0").is_empty());
        assert!(!idx.remove(b"a", &End::Key(b"c".to_vec()), &2));
        assert!(idx.remove(b"a", &End::Key(b"c".to_vec()), &1));
        assert_eq!(idx.stab(b"b"), vec![2]);
        assert!(
            !idx.insert(b"b".to_vec(), End::Unbounded, 2),
            "already there"
        );
        assert!(idx.insert(b"b".to_vec(), End::Unbounded, 3));
        assert!(idx.insert(b"b".to_vec(), End::Key(b"bb".to_vec()), 4));
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.stab(b"ba"), vec![4, 2, 3]);
        assert!(idx.remove(b"b", &End::Unbounded, &2));
        assert!(idx.remove(b"b", &End::Unbounded, &3));
        assert_eq!(idx.stab(b"c"), Vec::<u32>::new());
        assert_eq!(idx.len(), 1);
    }
}
