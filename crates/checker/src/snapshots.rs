//! MVCC snapshots: every response that carried a key's state agrees with the timeline's
//! state of the key at the revision it claims. A get (linearizable or serializable) and a
//! failed CAS read the key at their header revision; a delete that found nothing saw it
//! absent there; a put's or delete's prev is the state at its revision - 1; a successful
//! CAS's compare held at its revision - 1. Each watch event agrees with the states around
//! it: a put's kv (`mod_revision`, `create_revision`, `version`) and prev, a delete's prev
//! (and a delete deletes something). Only revisions the timeline covers are checked.

use crate::describe;
use crate::history::{Call, EventKind, History, Kv, Op, Outcome};
use crate::report::{Checker, Report};
use crate::timeline::Timeline;
use crate::writes::key_of;

/// Checks responses and watch events against the timeline. See the module docs.
pub fn check_snapshots(history: &History, timeline: &Timeline) -> Report {
    let mut report = Report::new();
    for (i, op) in history.ops.iter().enumerate() {
        check_op(&mut report, timeline, i, op);
    }
    for change in timeline.changes() {
        if !timeline.covers(change.revision) {
            continue;
        }
        let event = &change.event;
        let what = format!(
            "watched {} (watcher {} session {})",
            describe::event(event),
            change.watcher,
            change.session
        );
        if event.prev != change.before {
            report.violation(
                Checker::Snapshots,
                format!(
                    "{what} has prev {} but the key was {} at revision {}",
                    describe::opt_kv(event.prev.as_ref()),
                    describe::opt_kv(change.before.as_ref()),
                    change.revision - 1
                ),
            );
        }
        match event.kind {
            EventKind::Put if Some(&event.kv) != change.after.as_ref() => report.violation(
                Checker::Snapshots,
                format!(
                    "{what} but the earlier changes make it {}",
                    describe::opt_kv(change.after.as_ref())
                ),
            ),
            EventKind::Delete if change.before.is_none() => report.violation(
                Checker::Snapshots,
                format!(
                    "{what} deletes a key that was absent at revision {}",
                    change.revision - 1
                ),
            ),
            _ => {}
        }
    }
    report
}

fn check_op(report: &mut Report, timeline: &Timeline, i: usize, op: &Op) {
    let Some(key) = key_of(&op.call) else { return };
    // (what the response claims, the revision it claims it at)
    let (claimed, at, what) = match (&op.call, &op.outcome) {
        (Call::Get { .. }, Outcome::Get { revision, kv }) => (kv.as_ref(), *revision, "returned"),
        (
            Call::Cas { .. },
            Outcome::Cas {
                revision,
                succeeded: false,
                current,
            },
        ) => (current.as_ref(), *revision, "read"),
        (
            Call::Delete { .. },
            Outcome::Delete {
                revision,
                prev: None,
            },
        ) => (None, *revision, "found"),
        (Call::Put { .. }, Outcome::Put { revision, prev })
        | (Call::Delete { .. }, Outcome::Delete { revision, prev }) => {
            (prev.as_ref(), *revision - 1, "has prev")
        }
        (
            Call::Cas {
                expect_mod_revision,
                ..
            },
            Outcome::Cas {
                revision,
                succeeded: true,
                ..
            },
        ) => {
            if let Some(state) = timeline.state_at(key, revision - 1) {
                let actual = state.map_or(0, |kv| kv.mod_revision);
                if actual != *expect_mod_revision {
                    report.violation(
                        Checker::Snapshots,
                        format!(
                            "{} succeeded, but the key was {} at revision {}",
                            describe::op(i, op),
                            describe::opt_kv(state),
                            revision - 1
                        ),
                    );
                }
            }
            return;
        }
        _ => return,
    };
    let Some(state) = timeline.state_at(key, at) else {
        return;
    };
    if claimed != state {
        report.violation(
            Checker::Snapshots,
            mismatch(i, op, what, claimed, state, at),
        );
    }
}

fn mismatch(
    i: usize,
    op: &Op,
    what: &str,
    claimed: Option<&Kv>,
    state: Option<&Kv>,
    at: i64,
) -> String {
    format!(
        "{} {what} {}, but the timeline has {} at revision {at}",
        describe::op(i, op),
        describe::opt_kv(claimed),
        describe::opt_kv(state)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, Store};

    fn snapshots(history: &History) -> Report {
        let (timeline, _) = Timeline::build(history);
        check_snapshots(history, &timeline)
    }

    /// The bug case: a get of the old value at a header revision that includes the newer
    /// put does not match the state at that revision; at header revision 11 it does.
    #[test]
    fn bug_case() {
        let report = snapshots(&testkit::bug_case(12));
        assert!(report.has_violation(Checker::Snapshots), "{report}");
        assert!(
            report.to_string().contains("but the timeline has \"B\""),
            "{report}"
        );
        assert!(snapshots(&testkit::bug_case(11)).is_ok());
    }

    /// Negative controls: a serializable get at a revision whose state it does not match,
    /// a wrong prev, a watch event with a wrong version.
    #[test]
    fn mismatches() {
        let mut store = Store::new(0);
        let mut ops = vec![testkit::put_op(&mut store, 0, (0, 10), b"k", b"A", 0)];
        ops.push(testkit::put_op(&mut store, 0, (20, 30), b"k", b"B", 0));
        let mut get = testkit::get_op(&store, 1, (40, 50), b"k");
        get.call = Call::Get {
            key: b"k".to_vec(),
            serializable: true,
        };
        if let Outcome::Get { revision, .. } = &mut get.outcome {
            *revision = 1; // stale but consistent... until it claims revision 1 with B
        }
        ops.push(get);
        let history = History {
            ops,
            watchers: vec![store.watcher()],
            base_revision: 0,
        };
        let report = snapshots(&history);
        assert!(report.to_string().contains("op#2"), "{report}");
        assert_eq!(report.violations.len(), 1, "{report}");

        let mut bad_prev = history.clone();
        bad_prev.ops.truncate(2);
        if let Outcome::Put {
            prev: Some(prev), ..
        } = &mut bad_prev.ops[1].outcome
        {
            prev.version = 7;
        }
        assert!(snapshots(&bad_prev).to_string().contains("op#1"));

        let mut bad_event = history;
        bad_event.ops.clear();
        bad_event.watchers[0].sessions[0].responses[1].events[0]
            .kv
            .version = 1;
        assert!(snapshots(&bad_event)
            .to_string()
            .contains("but the earlier changes make it"));
    }
}
