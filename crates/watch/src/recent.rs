//! [`RecentEvents`]: the events of the last published revisions, kept in memory so that a
//! watcher that fell a little behind catches up without a storage scan.
//!
//! # Invariants
//! - CONTIGUOUS: the ring holds every revision from `first` to `last` that had events, exactly
//!   as notify received them; a notification that does not follow `last` starts a new ring.
//! - A read answers only when the ring covers the whole requested span; otherwise the caller
//!   reads history, which has the same events.

use std::collections::VecDeque;

use oxcd_proto::mvccpb::Event;

use crate::spec::WatchSpec;

/// A bounded ring of recent revisions.
pub(crate) struct RecentEvents {
    revs: VecDeque<(i64, Vec<Event>)>,
    /// The revision after which the ring is complete: every revision in
    /// `(covered_after, last]` that had events is in the ring.
    covered_after: i64,
    bytes: usize,
    max_revs: usize,
    max_bytes: usize,
}

fn event_bytes(ev: &Event) -> usize {
    let kv = |kv: &Option<oxcd_proto::mvccpb::KeyValue>| {
        kv.as_ref()
            .map_or(0, |kv| kv.key.len() + kv.value.len() + 48)
    };
    kv(&ev.kv) + kv(&ev.prev_kv) + 16
}

impl RecentEvents {
    /// An empty ring holding at most `max_revs` revisions and about `max_bytes` of events.
    pub(crate) fn new(max_revs: usize, max_bytes: usize) -> Self {
        Self {
            revs: VecDeque::new(),
            covered_after: i64::MAX,
            bytes: 0,
            max_revs,
            max_bytes,
        }
    }

    /// The last revision in the ring.
    fn last(&self) -> Option<i64> {
        self.revs.back().map(|(r, _)| *r)
    }

    /// Records a published revision. `prev` is the revision published before it (the
    /// hub's current revision), so a skipped notification is detected.
    pub(crate) fn push(&mut self, prev: i64, revision: i64, events: &[Event]) {
        if self.max_revs == 0 {
            return;
        }
        let contiguous = match self.last() {
            Some(last) => last == prev && revision > last,
            None => self.covered_after == prev,
        };
        if !contiguous {
            self.clear();
            self.covered_after = prev;
        }
        self.bytes += events.iter().map(event_bytes).sum::<usize>();
        self.revs.push_back((revision, events.to_vec()));
        while self.revs.len() > self.max_revs
            || (self.bytes > self.max_bytes && self.revs.len() > 1)
        {
            if let Some((rev, evs)) = self.revs.pop_front() {
                self.bytes -= evs.iter().map(event_bytes).sum::<usize>();
                self.covered_after = rev;
            }
        }
    }

    /// Forgets everything (the store was replaced).
    pub(crate) fn clear(&mut self) {
        self.revs.clear();
        self.bytes = 0;
        self.covered_after = i64::MAX;
    }

    /// The events of `spec`'s range in revisions `from..=to`, at most `limit` events
    /// (whole revisions; 0 = no limit), or `None` when the ring does not cover the span.
    pub(crate) fn read(
        &self,
        spec: &WatchSpec,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Option<Vec<Event>> {
        let last = self.last()?;
        if from <= self.covered_after || to > last {
            return None;
        }
        let start = self.revs.partition_point(|(r, _)| *r < from);
        let mut out = Vec::new();
        for (rev, evs) in self.revs.range(start..) {
            if *rev > to {
                break;
            }
            if limit > 0 && out.len() >= limit {
                break;
            }
            out.extend(
                evs.iter()
                    .filter(|e| e.kv.as_ref().is_some_and(|kv| spec.contains(&kv.key)))
                    .cloned(),
            );
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_proto::mvccpb::KeyValue;

    fn ev(key: &str, rev: i64) -> Event {
        Event {
            kv: Some(KeyValue {
                key: key.as_bytes().to_vec().into(),
                mod_revision: rev,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn spec(key: &str, end: &str) -> WatchSpec {
        WatchSpec {
            key: key.into(),
            range_end: end.into(),
            ..Default::default()
        }
    }

    fn revs(evs: &[Event]) -> Vec<i64> {
        evs.iter()
            .map(|e| e.kv.as_ref().unwrap().mod_revision)
            .collect()
    }

    #[test]
    fn reads_only_what_it_covers() {
        let mut r = RecentEvents::new(3, 1 << 20);
        let all = spec("a", "z");
        r.push(10, 11, &[ev("a", 11)]);
        r.push(11, 12, &[ev("b", 12), ev("q", 12)]);
        r.push(12, 13, &[ev("c", 13)]);
        assert_eq!(
            revs(&r.read(&all, 11, 13, 0).unwrap()),
            vec![11, 12, 12, 13]
        );
        assert_eq!(revs(&r.read(&spec("b", "c"), 11, 13, 0).unwrap()), vec![12]);
        assert_eq!(revs(&r.read(&all, 12, 12, 0).unwrap()), vec![12, 12]);
        assert!(r.read(&all, 10, 13, 0).is_none(), "before the ring");
        assert!(r.read(&all, 12, 14, 0).is_none(), "after the ring");
        // limit: whole revisions
        assert_eq!(revs(&r.read(&all, 11, 13, 2).unwrap()), vec![11, 12, 12]);
        // eviction moves the covered start
        r.push(13, 14, &[ev("d", 14)]);
        assert!(r.read(&all, 11, 14, 0).is_none());
        assert_eq!(
            revs(&r.read(&all, 12, 14, 0).unwrap()),
            vec![12, 12, 13, 14]
        );
        // a gap starts over
        r.push(20, 21, &[ev("e", 21)]);
        assert!(r.read(&all, 14, 21, 0).is_none());
        assert_eq!(revs(&r.read(&all, 21, 21, 0).unwrap()), vec![21]);
        r.clear();
        assert!(r.read(&all, 21, 21, 0).is_none());
    }

    #[test]
    fn byte_bound_keeps_at_least_one_revision() {
        let mut r = RecentEvents::new(100, 1);
        r.push(0, 1, &[ev("a", 1)]);
        r.push(1, 2, &[ev("a", 2)]);
        assert!(r.read(&spec("a", ""), 1, 2, 0).is_none());
        assert_eq!(revs(&r.read(&spec("a", ""), 2, 2, 0).unwrap()), vec![2]);
    }
}
