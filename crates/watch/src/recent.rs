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
use oxcd_proto::watch_wire::EncodedEvents;

use crate::spec::WatchSpec;

/// A bounded ring of recent revisions.
pub(crate) struct RecentEvents {
    /// (revision, its events, each event encoded without `prev_kv`).
    revs: VecDeque<(i64, Vec<Event>, Vec<EncodedEvents>)>,
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
        self.revs.back().map(|(r, _, _)| *r)
    }

    /// Records a published revision with its events' `prev_kv`-less encodings. `prev` is
    /// the revision published before it (the hub's current revision), so a skipped
    /// notification is detected.
    pub(crate) fn push(
        &mut self,
        prev: i64,
        revision: i64,
        events: &[Event],
        plain: &[EncodedEvents],
    ) {
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
        self.revs
            .push_back((revision, events.to_vec(), plain.to_vec()));
        while self.revs.len() > self.max_revs
            || (self.bytes > self.max_bytes && self.revs.len() > 1)
        {
            if let Some((rev, evs, _)) = self.revs.pop_front() {
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
    /// (whole revisions; 0 = no limit), with their encodings, or `None` when the ring does
    /// not cover the span.
    pub(crate) fn read(
        &self,
        spec: &WatchSpec,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Option<(Vec<Event>, Vec<EncodedEvents>)> {
        let last = self.last()?;
        if from <= self.covered_after || to > last {
            return None;
        }
        let start = self.revs.partition_point(|(r, _, _)| *r < from);
        let mut out = Vec::new();
        let mut enc = Vec::new();
        for (rev, evs, plain) in self.revs.range(start..) {
            if *rev > to {
                break;
            }
            if limit > 0 && out.len() >= limit {
                break;
            }
            for (e, p) in evs.iter().zip(plain) {
                if e.kv.as_ref().is_some_and(|kv| spec.contains(&kv.key)) {
                    out.push(e.clone());
                    enc.push(p.clone());
                }
            }
        }
        Some((out, enc))
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

    fn revs((evs, enc): &(Vec<Event>, Vec<EncodedEvents>)) -> Vec<i64> {
        assert_eq!(evs.len(), enc.len());
        for (e, p) in evs.iter().zip(enc) {
            assert_eq!(&p.decode().unwrap(), std::slice::from_ref(e));
        }
        evs.iter()
            .map(|e| e.kv.as_ref().unwrap().mod_revision)
            .collect()
    }

    /// Pushes with the encodings computed here.
    fn push(r: &mut RecentEvents, prev: i64, rev: i64, evs: &[Event]) {
        let plain: Vec<EncodedEvents> = evs.iter().map(EncodedEvents::one).collect();
        r.push(prev, rev, evs, &plain);
    }

    #[test]
    fn reads_only_what_it_covers() {
        let mut r = RecentEvents::new(3, 1 << 20);
        let all = spec("a", "z");
        push(&mut r, 10, 11, &[ev("a", 11)]);
        push(&mut r, 11, 12, &[ev("b", 12), ev("q", 12)]);
        push(&mut r, 12, 13, &[ev("c", 13)]);
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
        push(&mut r, 13, 14, &[ev("d", 14)]);
        assert!(r.read(&all, 11, 14, 0).is_none());
        assert_eq!(
            revs(&r.read(&all, 12, 14, 0).unwrap()),
            vec![12, 12, 13, 14]
        );
        // a gap starts over
        push(&mut r, 20, 21, &[ev("e", 21)]);
        assert!(r.read(&all, 14, 21, 0).is_none());
        assert_eq!(revs(&r.read(&all, 21, 21, 0).unwrap()), vec![21]);
        r.clear();
        assert!(r.read(&all, 21, 21, 0).is_none());
    }

    #[test]
    fn byte_bound_keeps_at_least_one_revision() {
        let mut r = RecentEvents::new(100, 1);
        push(&mut r, 0, 1, &[ev("a", 1)]);
        push(&mut r, 1, 2, &[ev("a", 2)]);
        assert!(r.read(&spec("a", ""), 1, 2, 0).is_none());
        assert_eq!(revs(&r.read(&spec("a", ""), 2, 2, 0).unwrap()), vec![2]);
    }
}
