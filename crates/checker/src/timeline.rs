//! The reference timeline: every change of the store, by revision, merged from all the
//! watchers' events, and the state of each key at each revision rebuilt from it.
//!
//! The watchers watch the run's whole key space from `base_revision + 1`, so together they
//! see every change. Two watchers reporting the same revision and key must report the same
//! event; otherwise the watchers disagree (a [`Checker::Timeline`] violation) and the first
//! report wins.
//!
//! The timeline is *complete through* revision C when the watch sessions together cover
//! every revision in `(base_revision, C]` (a session covers from its start revision to the
//! last revision it delivered or was bookmarked at). States are only known at covered
//! revisions; the run's keys are fresh, so at `base_revision` every key is absent.

use std::collections::HashMap;

use crate::describe;
use crate::history::{Event, EventKind, History, Kv};
use crate::report::{Checker, Report};

/// One change of the store: a watch event with its revision, and the key's state around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The revision that made it (the event's `mod_revision`).
    pub revision: i64,
    /// The event as the first watcher to deliver it reported it.
    pub event: Event,
    /// The key's state just before, rebuilt from the earlier changes.
    pub before: Option<Kv>,
    /// The key's state just after: for a put, the event's value and lease with
    /// `mod_revision`, `create_revision` and `version` rebuilt from the earlier changes.
    pub after: Option<Kv>,
    /// The watcher that first delivered it.
    pub watcher: usize,
    /// That watcher's session.
    pub session: usize,
}

/// Every change the watchers saw, in revision order, with per-key state lookup.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    base_revision: i64,
    complete_through: i64,
    /// Sorted by (revision, key).
    changes: Vec<Change>,
    /// Per key, the indexes of its changes in `changes`, in revision order.
    by_key: HashMap<Vec<u8>, Vec<usize>>,
}

impl Timeline {
    /// Merges the watchers' events of `history`. The report holds the disagreements.
    pub fn build(history: &History) -> (Timeline, Report) {
        let mut report = Report::new();
        let mut changes: Vec<Change> = Vec::new();
        let mut seen: HashMap<(i64, &[u8]), usize> = HashMap::new();
        for (w, watcher) in history.watchers.iter().enumerate() {
            for (s, session) in watcher.sessions.iter().enumerate() {
                for response in &session.responses {
                    for event in &response.events {
                        let revision = event.kv.mod_revision;
                        match seen.get(&(revision, event.key.as_slice())) {
                            Some(&i) if changes[i].event != *event => {
                                let first = &changes[i];
                                report.violation(
                                    Checker::Timeline,
                                    format!(
                                        "watchers disagree at revision {revision} key {}: \
                                         watcher {} session {} delivered {} (prev {}), \
                                         watcher {w} session {s} delivered {} (prev {})",
                                        describe::bytes(&event.key),
                                        first.watcher,
                                        first.session,
                                        describe::event(&first.event),
                                        describe::opt_kv(first.event.prev.as_ref()),
                                        describe::event(event),
                                        describe::opt_kv(event.prev.as_ref()),
                                    ),
                                );
                            }
                            Some(_) => {}
                            None => {
                                seen.insert((revision, event.key.as_slice()), changes.len());
                                changes.push(Change {
                                    revision,
                                    event: event.clone(),
                                    before: None,
                                    after: None,
                                    watcher: w,
                                    session: s,
                                });
                            }
                        }
                    }
                }
            }
        }
        changes.sort_by(|a, b| (a.revision, &a.event.key).cmp(&(b.revision, &b.event.key)));

        let mut by_key: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for i in 0..changes.len() {
            let indexes = by_key.entry(changes[i].event.key.clone()).or_default();
            let before = indexes.last().and_then(|&j| changes[j].after.clone());
            let change = &changes[i];
            let after = match change.event.kind {
                EventKind::Delete => None,
                EventKind::Put => Some(Kv {
                    value: change.event.kv.value.clone(),
                    mod_revision: change.revision,
                    create_revision: before
                        .as_ref()
                        .map_or(change.revision, |b| b.create_revision),
                    version: before.as_ref().map_or(1, |b| b.version + 1),
                    lease: change.event.kv.lease,
                }),
            };
            indexes.push(i);
            changes[i].before = before;
            changes[i].after = after;
        }

        let complete_through = complete_through(history);
        let timeline = Timeline {
            base_revision: history.base_revision,
            complete_through,
            changes,
            by_key,
        };
        (timeline, report)
    }

    /// The store revision before the run.
    pub fn base_revision(&self) -> i64 {
        self.base_revision
    }

    /// The highest revision C such that the watchers covered every revision in
    /// `(base_revision, C]`; `base_revision` if they covered none.
    pub fn complete_through(&self) -> i64 {
        self.complete_through
    }

    /// Whether the state at `revision` is known: `base_revision <= revision <= complete_through`.
    pub fn covers(&self, revision: i64) -> bool {
        self.base_revision <= revision && revision <= self.complete_through
    }

    /// Every change, sorted by (revision, key).
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The changes with revision in `[lo, hi]`, sorted by (revision, key).
    pub fn changes_between(&self, lo: i64, hi: i64) -> &[Change] {
        let start = self.changes.partition_point(|c| c.revision < lo);
        let end = self.changes.partition_point(|c| c.revision <= hi);
        &self.changes[start..end.max(start)]
    }

    /// The change of `key` at `revision`, if the watchers saw one.
    pub fn find(&self, revision: i64, key: &[u8]) -> Option<&Change> {
        let indexes = self.by_key.get(key)?;
        let at = indexes.partition_point(|&i| self.changes[i].revision < revision);
        indexes
            .get(at)
            .map(|&i| &self.changes[i])
            .filter(|c| c.revision == revision)
    }

    /// The key's state at `revision` (its last change at or before it): `None` if the
    /// revision is not covered, `Some(None)` if the key did not exist then.
    pub fn state_at(&self, key: &[u8], revision: i64) -> Option<Option<&Kv>> {
        if !self.covers(revision) {
            return None;
        }
        let Some(indexes) = self.by_key.get(key) else {
            return Some(None);
        };
        let at = indexes.partition_point(|&i| self.changes[i].revision <= revision);
        Some(
            at.checked_sub(1)
                .and_then(|j| self.changes[indexes[j]].after.as_ref()),
        )
    }
}

/// The end of the prefix `(base, C]` covered by the union of the watch sessions.
fn complete_through(history: &History) -> i64 {
    let base = history.base_revision;
    let mut intervals: Vec<(i64, i64)> = Vec::new();
    for session in history.watchers.iter().flat_map(|w| &w.sessions) {
        let lo = session.start_revision.max(base + 1);
        let hi = session
            .responses
            .iter()
            .filter(|r| !r.canceled)
            .flat_map(|r| {
                let progress = r.progress.then_some(r.revision);
                r.events.iter().map(|e| e.kv.mod_revision).chain(progress)
            })
            .max();
        if let Some(hi) = hi.filter(|&hi| hi >= lo) {
            intervals.push((lo, hi));
        }
    }
    intervals.sort_unstable();
    let mut reach = base;
    for (lo, hi) in intervals {
        if lo > reach + 1 {
            break;
        }
        reach = reach.max(hi);
    }
    reach
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{put_event, Store};

    #[test]
    fn rebuilds_states_and_coverage() {
        let mut store = Store::new(9);
        store.put(b"k", b"A", 0);
        store.put(b"j", b"X", 0);
        store.put(b"k", b"B", 0);
        store.delete(b"k");
        let history = History {
            ops: vec![],
            watchers: vec![store.watcher()],
            base_revision: 9,
        };
        let (timeline, report) = Timeline::build(&history);
        assert!(report.is_ok(), "{report}");
        assert_eq!(timeline.complete_through(), 13);
        assert_eq!(timeline.state_at(b"k", 9), Some(None));
        assert_eq!(
            timeline
                .state_at(b"k", 11)
                .map(|kv| kv.map(|kv| kv.value.clone())),
            Some(Some(b"A".to_vec()))
        );
        let b = timeline.state_at(b"k", 12).flatten().cloned();
        assert_eq!(
            b,
            Some(Kv {
                value: b"B".to_vec(),
                mod_revision: 12,
                create_revision: 10,
                version: 2,
                lease: 0
            })
        );
        assert_eq!(timeline.state_at(b"k", 13), Some(None));
        assert_eq!(timeline.state_at(b"k", 14), None);
        assert_eq!(timeline.changes_between(11, 12).len(), 2);
        assert!(timeline.find(12, b"k").is_some());
        assert!(timeline.find(12, b"j").is_none());
    }

    /// Negative control: two watchers reporting different events for one revision and key.
    #[test]
    fn watchers_disagree() {
        let mut store = Store::new(0);
        store.put(b"k", b"A", 0);
        let good = store.watcher();
        let mut bad = good.clone();
        bad.sessions[0].responses[0].events[0] = put_event(b"k", b"Z", 1, 1, 1);
        let history = History {
            ops: vec![],
            watchers: vec![good.clone(), good],
            base_revision: 0,
        };
        assert!(Timeline::build(&history).1.is_ok());
        let history = History {
            ops: vec![],
            watchers: vec![store.watcher(), bad],
            base_revision: 0,
        };
        let (_, report) = Timeline::build(&history);
        assert!(report.has_violation(Checker::Timeline), "{report}");
        assert!(
            report
                .to_string()
                .contains("watchers disagree at revision 1"),
            "{report}"
        );
    }
}
