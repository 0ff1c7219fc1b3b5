//! [`WatcherGroup`]: a set of watchers indexed by what they watch.
//!
//! Single-key watchers are found with one hash lookup per event; range and prefix watchers
//! live in an [`IntervalIndex`] (an interval treap), so an event visits only the ranges that
//! can contain its key.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::interval::{End, IntervalIndex};
use crate::spec::WatchSpec;
use crate::stream::Sink;

/// Identifies a watcher: its stream and its watch ID on that stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatcherKey {
    /// The stream.
    pub stream: u64,
    /// The watch ID on the stream.
    pub id: i64,
}

/// One watcher.
#[derive(Clone)]
pub struct Watcher {
    /// What it watches (shared: a catch-up pass clones watchers).
    pub spec: Arc<WatchSpec>,
    /// Where its responses go.
    pub sink: Arc<Sink>,
    /// Synced: the lowest revision notify may deliver. Unsynced: the next revision to read
    /// from history.
    pub rev: i64,
}

/// The interval end of a range watcher.
fn end_of(spec: &WatchSpec) -> End {
    match spec.range_end.as_slice() {
        [0] => End::Unbounded,
        end => End::Key(end.to_vec()),
    }
}

/// A set of watchers with a key/range index.
#[derive(Default)]
pub struct WatcherGroup {
    watchers: HashMap<WatcherKey, Watcher>,
    points: HashMap<Vec<u8>, BTreeSet<WatcherKey>>,
    /// Range and prefix watchers by interval.
    ranges: IntervalIndex<WatcherKey>,
}

impl WatcherGroup {
    /// Adds (or replaces) a watcher.
    pub fn add(&mut self, key: WatcherKey, w: Watcher) {
        self.remove(key);
        if w.spec.is_single_key() {
            self.points
                .entry(w.spec.key.clone())
                .or_default()
                .insert(key);
        } else {
            self.ranges.insert(w.spec.key.clone(), end_of(&w.spec), key);
        }
        self.watchers.insert(key, w);
    }

    /// Removes a watcher.
    pub fn remove(&mut self, key: WatcherKey) -> Option<Watcher> {
        let w = self.watchers.remove(&key)?;
        if w.spec.is_single_key() {
            if let Some(v) = self.points.get_mut(&w.spec.key) {
                v.remove(&key);
                if v.is_empty() {
                    self.points.remove(&w.spec.key);
                }
            }
        } else {
            self.ranges.remove(&w.spec.key, &end_of(&w.spec), &key);
        }
        Some(w)
    }

    /// A watcher by key.
    pub fn get(&self, key: &WatcherKey) -> Option<&Watcher> {
        self.watchers.get(key)
    }

    /// A watcher by key, mutably.
    pub fn get_mut(&mut self, key: &WatcherKey) -> Option<&mut Watcher> {
        self.watchers.get_mut(key)
    }

    /// Watchers whose range contains `k`.
    pub fn matching(&self, k: &[u8]) -> Vec<WatcherKey> {
        let mut out: Vec<WatcherKey> = self
            .points
            .get(k)
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        out.extend(self.ranges.stab(k));
        out
    }

    /// Every watcher key.
    pub fn keys(&self) -> Vec<WatcherKey> {
        self.watchers.keys().copied().collect()
    }

    /// Whether any watcher of `stream` is here.
    pub fn has_stream(&self, stream: u64) -> bool {
        self.watchers.keys().any(|k| k.stream == stream)
    }

    /// Number of watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// Whether the group is empty.
    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Iterates over the watchers.
    pub fn iter(&self) -> impl Iterator<Item = (&WatcherKey, &Watcher)> {
        self.watchers.iter()
    }
}
