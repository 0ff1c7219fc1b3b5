//! Real-time order of revisions. Writes that created a revision (acknowledged, or unknown
//! outcomes resolved from their value, which never returned) have distinct revisions. If
//! operation A returned before operation B was invoked, then B's revision is greater than
//! A's when B is a write, and at least A's when B is a linearizable read (a linearizable
//! get, a delete that found nothing, a CAS whose compare failed: their header revision).
//! Serializable gets are not ordered. O(n log n): one sweep over the invokes in time order
//! against the returns in time order, keeping the highest revision returned so far.

use crate::describe;
use crate::history::{History, Outcome};
use crate::report::{Checker, Report};
use crate::timeline::Timeline;
use crate::writes::{linearizable_read_revision, Writes};

/// One ordered operation.
struct Item {
    op: usize,
    invoke: u64,
    ret: u64,
    revision: i64,
    write: bool,
}

/// Checks that revisions are unique and follow real time. See the module docs.
pub fn check_revision_order(history: &History, timeline: &Timeline) -> Report {
    let mut report = Report::new();
    let writes = Writes::new(history, timeline);
    let mut items = Vec::new();
    for (i, op) in history.ops.iter().enumerate() {
        let ret = op
            .ret
            .filter(|_| op.outcome != Outcome::Unknown)
            .unwrap_or(u64::MAX);
        let (revision, write) = match (writes.revision[i], linearizable_read_revision(op)) {
            (Some(revision), _) => (revision, true),
            (None, Some(revision)) => (revision, false),
            (None, None) => continue,
        };
        items.push(Item {
            op: i,
            invoke: op.invoke,
            ret,
            revision,
            write,
        });
    }

    let mut by_revision: Vec<&Item> = items.iter().filter(|it| it.write).collect();
    by_revision.sort_by_key(|it| (it.revision, it.op));
    for pair in by_revision.windows(2) {
        if pair[0].revision == pair[1].revision {
            report.violation(
                Checker::RevisionOrder,
                format!(
                    "two writes share revision {}: {} and {}",
                    pair[0].revision,
                    describe::op(pair[0].op, &history.ops[pair[0].op]),
                    describe::op(pair[1].op, &history.ops[pair[1].op]),
                ),
            );
        }
    }

    let mut by_invoke: Vec<&Item> = items.iter().collect();
    by_invoke.sort_by_key(|it| (it.invoke, it.op));
    let mut by_return: Vec<&Item> = items.iter().filter(|it| it.ret != u64::MAX).collect();
    by_return.sort_by_key(|it| (it.ret, it.op));
    let mut returned = 0;
    let mut highest: Option<&Item> = None;
    for b in by_invoke {
        while returned < by_return.len() && by_return[returned].ret < b.invoke {
            let a = by_return[returned];
            if highest.is_none_or(|h| a.revision > h.revision) {
                highest = Some(a);
            }
            returned += 1;
        }
        let Some(a) = highest else { continue };
        let broken = if b.write {
            b.revision <= a.revision
        } else {
            b.revision < a.revision
        };
        if broken {
            let (what, need) = if b.write {
                ("write", "above")
            } else {
                ("read", "at least")
            };
            report.violation(
                Checker::RevisionOrder,
                format!(
                    "{what} with revision {} was invoked after an op with revision {} returned, \
                     so its revision must be {need} {}: {} was invoked at {} after {} returned at {}",
                    b.revision,
                    a.revision,
                    a.revision,
                    describe::op(b.op, &history.ops[b.op]),
                    b.invoke,
                    describe::op(a.op, &history.ops[a.op]),
                    a.ret,
                ),
            );
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, Store};

    fn order(history: &History) -> Report {
        let (timeline, _) = Timeline::build(history);
        check_revision_order(history, &timeline)
    }

    /// Negative control: write B invoked after write A returned, with a smaller revision.
    #[test]
    fn later_write_with_smaller_revision() {
        let history = testkit::reordered_writes_case();
        let report = order(&history);
        assert!(report.has_violation(Checker::RevisionOrder), "{report}");
        assert!(report
            .to_string()
            .contains("write with revision 10 was invoked after an op with revision 11"));
        // The same writes concurrently are fine.
        let mut concurrent = history;
        concurrent.ops[1].invoke = 5;
        assert!(order(&concurrent).is_ok(), "{}", order(&concurrent));
    }

    /// Negative control: a linearizable read invoked after a write returned, at an older
    /// header revision; and a write invoked after that read with a revision not above it.
    #[test]
    fn read_behind_write_and_write_behind_read() {
        let report = order(&testkit::stale_read_case());
        assert!(report.has_violation(Checker::RevisionOrder), "{report}");

        let mut store = Store::new(0);
        let mut ops = vec![testkit::put_op(&mut store, 0, (0, 10), b"k", b"A", 0)];
        let mut get = testkit::get_op(&store, 1, (20, 30), b"k");
        ops.push(testkit::put_op(&mut store, 2, (40, 50), b"j", b"B", 0));
        assert!(order(&History {
            ops: ops.clone(),
            watchers: vec![],
            base_revision: 0
        })
        .is_ok());
        // The get claims header revision 2, then a put invoked after it gets revision 2.
        if let Outcome::Get { revision, .. } = &mut get.outcome {
            *revision = 2;
        }
        ops.insert(1, get);
        let report = order(&History {
            ops,
            watchers: vec![],
            base_revision: 0,
        });
        assert!(report
            .to_string()
            .contains("write with revision 2 was invoked after an op with revision 2"));
    }

    #[test]
    fn duplicate_revisions() {
        let mut store = Store::new(0);
        let ops = vec![
            testkit::put_op(&mut store, 0, (0, 10), b"k", b"A", 0),
            testkit::put_op(&mut store, 1, (0, 10), b"j", b"B", 0),
        ];
        let mut history = History {
            ops,
            watchers: vec![],
            base_revision: 0,
        };
        assert!(order(&history).is_ok());
        if let Outcome::Put { revision, .. } = &mut history.ops[1].outcome {
            *revision = 1;
        }
        assert!(order(&history)
            .to_string()
            .contains("two writes share revision 1"));
    }
}
