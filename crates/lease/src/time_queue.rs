//! [`TimeQueue`]: lease ids ordered by a due instant (the leader's expiry queue and
//! checkpoint schedule). Each id is queued at most once; re-queuing moves it.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// Ids ordered by (due instant, id): ties break by id, so the order is deterministic.
#[derive(Debug, Default)]
pub(crate) struct TimeQueue {
    by_time: BTreeSet<(Instant, i64)>,
    by_id: HashMap<i64, Instant>,
}

impl TimeQueue {
    /// Queues `id` at `at`, replacing any earlier entry for it.
    pub fn set(&mut self, id: i64, at: Instant) {
        if let Some(old) = self.by_id.insert(id, at) {
            self.by_time.remove(&(old, id));
        }
        self.by_time.insert((at, id));
    }

    /// Removes `id` if queued.
    pub fn remove(&mut self, id: i64) {
        if let Some(old) = self.by_id.remove(&id) {
            self.by_time.remove(&(old, id));
        }
    }

    /// Up to `limit` ids due at or before `now`, earliest first (not removed).
    pub fn due(&self, now: Instant, limit: usize) -> Vec<i64> {
        self.by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(limit)
            .map(|&(_, id)| id)
            .collect()
    }

    /// When `id` is due, if queued.
    #[cfg(test)]
    pub fn get(&self, id: i64) -> Option<Instant> {
        self.by_id.get(&id).copied()
    }

    /// Empties the queue.
    pub fn clear(&mut self) {
        self.by_time.clear();
        self.by_id.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn orders_by_time_then_id_and_moves_on_reset() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let mut q = TimeQueue::default();
        q.set(3, t + s);
        q.set(1, t + s);
        q.set(2, t);
        assert_eq!(q.due(t + s, 10), vec![2, 1, 3]);
        assert_eq!(q.due(t, 10), vec![2]);
        assert_eq!(q.due(t + s, 2), vec![2, 1]);
        q.set(2, t + s * 5);
        assert_eq!(q.due(t + s, 10), vec![1, 3]);
        assert_eq!(q.get(2), Some(t + s * 5));
        q.remove(1);
        assert_eq!(q.due(t + s * 9, 10), vec![3, 2]);
        q.clear();
        assert!(q.due(t + s * 9, 10).is_empty());
    }
}
