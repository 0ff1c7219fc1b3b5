//! Per-key linearizability of the client operations, with a model that knows revisions.
//!
//! The operations are partitioned by key (lease ops are skipped; serializable gets are not
//! linearizable and are left to the snapshot checker) and each partition is searched with
//! the `wgl` search. The model state of a key is its value and `mod_revision` (the delete's
//! revision when absent) plus a *floor*: the highest revision at which the key is known to
//! be in this state. A write with revision R needs R > floor and raises the floor to R; a
//! read with header revision H needs the state's `mod_revision` <= H and raises the floor to
//! H. That is what catches a get that returns an old value with a header revision that
//! already includes a newer put of the key: the newer put then has a revision <= floor.
//!
//! Unknown outcomes: a put or CAS whose value was seen (see the `writes` module) happened at
//! that revision and never returned; one never seen may not have happened and is dropped.
//! Deletes the watchers saw that no acknowledged delete made (lease expiry and revoke,
//! unknown-outcome deletes) become deletes with a known revision that may happen at any
//! time. If the timeline does not cover every revision the ops reported, deletes may also
//! have happened unseen, so these are added as optional deletes at an unknown revision:
//! an unknown-outcome delete (of any value), a put with a lease (of its value: expiry or
//! revoke), and an unknown-outcome put with a lease whose value was never seen (of any
//! value: it may have been put and then expired).
//!
//! Resolving unknown outcomes from the values seen assumes that clients learn revisions
//! only from responses: a CAS that expects the revision of a write whose value no response
//! carried is not supported.

use std::collections::{HashMap, HashSet};

use crate::describe;
use crate::history::{Call, EventKind, History, Kv, Op, Outcome};
use crate::report::{Checker, Report};
use crate::timeline::Timeline;
use crate::wgl::{self, Interval, Verdict};
use crate::writes::{key_of, Writes};

/// Steps the search of one key may take before the key is reported inconclusive.
pub const STEP_BUDGET: u64 = 2_000_000;

/// Checks that the operations on each key are linearizable. See the module docs.
pub fn check_linearizability(history: &History, timeline: &Timeline) -> Report {
    check_with_budget(history, timeline, STEP_BUDGET)
}

/// An interned value (0 is "absent").
type Value = u32;

/// A key's value and mod revision, as the model and the responses see it.
type Seen = Option<(Value, i64)>;

/// What one operation of a partition did.
#[derive(Debug, Clone)]
enum Kind {
    /// A put at `rev`; `prev` is checked when known.
    Put {
        value: Value,
        rev: i64,
        prev: Option<Seen>,
    },
    /// A linearizable get at header revision `rev`.
    Get { rev: i64, kv: Seen },
    /// A delete of `prev` at `rev`.
    Delete { rev: i64, prev: (Value, i64) },
    /// A delete that found nothing, at header revision `rev`.
    DeleteNothing { rev: i64 },
    /// A CAS that wrote `value` at `rev`.
    CasSucceeded { rev: i64, expect: i64, value: Value },
    /// A CAS whose compare failed, reading `current` at header revision `rev`.
    CasFailed {
        rev: i64,
        expect: i64,
        current: Seen,
    },
    /// A delete the watchers saw and no acknowledged delete made.
    WatchedDelete { rev: i64, prev: Seen },
    /// A delete that may or may not happen, at an unknown revision; only of `only` when set
    /// (a lease expiry deletes the value that the put attached the lease to).
    MaybeDelete { only: Option<Value> },
}

/// Where a partition's operation came from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Op(usize),
    Change(usize),
    /// Op `i` may have been deleted by lease expiry outside the timeline.
    LeaseOf(usize),
}

/// The model state of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    value: Value,
    mod_rev: i64,
    floor: i64,
}

impl State {
    fn seen(&self) -> Seen {
        (self.value != 0).then_some((self.value, self.mod_rev))
    }

    /// `mod_revision` as a CAS compares it: 0 when absent.
    fn compared(&self) -> i64 {
        if self.value == 0 {
            0
        } else {
            self.mod_rev
        }
    }

    fn read(&self, rev: i64) -> State {
        State {
            floor: self.floor.max(rev),
            ..*self
        }
    }

    fn write(&self, value: Value, rev: i64) -> Option<State> {
        (rev > self.floor).then_some(State {
            value,
            mod_rev: rev,
            floor: rev,
        })
    }
}

fn step(state: &State, kind: &Kind) -> Option<State> {
    match *kind {
        Kind::Put { value, rev, prev } => {
            let ok = prev.is_none_or(|p| p == state.seen());
            ok.then(|| state.write(value, rev)).flatten()
        }
        Kind::Get { rev, kv } => {
            (kv == state.seen() && state.mod_rev <= rev).then(|| state.read(rev))
        }
        Kind::Delete { rev, prev } => {
            let ok = state.seen() == Some(prev);
            ok.then(|| state.write(0, rev)).flatten()
        }
        Kind::DeleteNothing { rev } => {
            (state.value == 0 && state.mod_rev <= rev).then(|| state.read(rev))
        }
        Kind::CasSucceeded { rev, expect, value } => {
            let ok = state.compared() == expect;
            ok.then(|| state.write(value, rev)).flatten()
        }
        Kind::CasFailed {
            rev,
            expect,
            current,
        } => {
            let ok = state.compared() != expect && current == state.seen() && state.mod_rev <= rev;
            ok.then(|| state.read(rev))
        }
        Kind::WatchedDelete { rev, prev } => {
            let ok = state.value != 0 && (prev.is_none() || prev == state.seen());
            ok.then(|| state.write(0, rev)).flatten()
        }
        Kind::MaybeDelete { only } => {
            // At some revision above the floor: the smallest one is the most permissive.
            let ok = state.value != 0 && only.is_none_or(|v| v == state.value);
            ok.then_some(State {
                value: 0,
                mod_rev: state.floor + 1,
                floor: state.floor,
            })
        }
    }
}

/// One key's operations.
struct Partition<'h> {
    key: &'h [u8],
    intervals: Vec<Interval>,
    kinds: Vec<Kind>,
    sources: Vec<Source>,
    values: HashMap<&'h [u8], Value>,
}

impl<'h> Partition<'h> {
    fn new(key: &'h [u8]) -> Self {
        let (intervals, kinds, sources, values) = Default::default();
        Partition {
            key,
            intervals,
            kinds,
            sources,
            values,
        }
    }

    fn intern(&mut self, value: &'h [u8]) -> Value {
        let next = self.values.len() as Value + 1;
        *self.values.entry(value).or_insert(next)
    }

    fn seen(&mut self, kv: Option<&'h Kv>) -> Seen {
        kv.map(|kv| (self.intern(&kv.value), kv.mod_revision))
    }

    fn push(&mut self, interval: Interval, kind: Kind, source: Source) {
        self.intervals.push(interval);
        self.kinds.push(kind);
        self.sources.push(source);
    }

    fn value_name(&self, value: Value) -> String {
        self.values
            .iter()
            .find(|&(_, &v)| v == value)
            .map_or_else(|| "?".to_owned(), |(bytes, _)| describe::bytes(bytes))
    }

    /// Adds op `i` (of this key), if it belongs in the search.
    fn add_op(&mut self, i: usize, op: &'h Op, writes: &Writes<'_>, timeline_complete: bool) {
        let returned = Interval {
            invoke: op.invoke,
            ret: op.ret.unwrap_or(u64::MAX),
            optional: false,
        };
        let unknown = Interval {
            ret: u64::MAX,
            ..returned
        };
        let (interval, kind) = match (&op.call, &op.outcome) {
            (Call::Put { value, .. }, Outcome::Put { revision, prev }) => {
                let prev = Some(self.seen(prev.as_ref()));
                (
                    returned,
                    Kind::Put {
                        value: self.intern(value),
                        rev: *revision,
                        prev,
                    },
                )
            }
            (Call::Put { value, lease, .. }, Outcome::Unknown) => {
                let Some(rev) = writes.revision[i] else {
                    // Never seen, but it may have happened and expired unseen: as if the
                    // key were deleted at some point after its invoke.
                    if *lease != 0 && !timeline_complete {
                        let expiry = Interval {
                            optional: true,
                            ..unknown
                        };
                        self.push(expiry, Kind::MaybeDelete { only: None }, Source::LeaseOf(i));
                    }
                    return;
                };
                (
                    unknown,
                    Kind::Put {
                        value: self.intern(value),
                        rev,
                        prev: None,
                    },
                )
            }
            (
                Call::Get {
                    serializable: false,
                    ..
                },
                Outcome::Get { revision, kv },
            ) => (
                returned,
                Kind::Get {
                    rev: *revision,
                    kv: self.seen(kv.as_ref()),
                },
            ),
            (
                Call::Delete { .. },
                Outcome::Delete {
                    revision,
                    prev: Some(prev),
                },
            ) => {
                let prev = (self.intern(&prev.value), prev.mod_revision);
                (
                    returned,
                    Kind::Delete {
                        rev: *revision,
                        prev,
                    },
                )
            }
            (
                Call::Delete { .. },
                Outcome::Delete {
                    revision,
                    prev: None,
                },
            ) => (returned, Kind::DeleteNothing { rev: *revision }),
            // With a complete timeline, its effect is a watched delete.
            (Call::Delete { .. }, Outcome::Unknown) if !timeline_complete => (
                Interval {
                    optional: true,
                    ..unknown
                },
                Kind::MaybeDelete { only: None },
            ),
            (
                Call::Cas {
                    expect_mod_revision: expect,
                    value,
                    ..
                },
                Outcome::Cas {
                    revision,
                    succeeded: true,
                    ..
                },
            ) => {
                let kind = Kind::CasSucceeded {
                    rev: *revision,
                    expect: *expect,
                    value: self.intern(value),
                };
                (returned, kind)
            }
            (
                Call::Cas {
                    expect_mod_revision: expect,
                    ..
                },
                Outcome::Cas {
                    revision,
                    succeeded: false,
                    current,
                },
            ) => {
                let current = self.seen(current.as_ref());
                (
                    returned,
                    Kind::CasFailed {
                        rev: *revision,
                        expect: *expect,
                        current,
                    },
                )
            }
            (
                Call::Cas {
                    expect_mod_revision: expect,
                    value,
                    ..
                },
                Outcome::Unknown,
            ) => {
                let Some(rev) = writes.revision[i] else {
                    return;
                };
                (
                    unknown,
                    Kind::CasSucceeded {
                        rev,
                        expect: *expect,
                        value: self.intern(value),
                    },
                )
            }
            _ => return,
        };
        // Without a complete timeline, a value put with a lease may expire unseen.
        if let (Call::Put { value, lease, .. }, Kind::Put { .. }) = (&op.call, &kind) {
            if *lease != 0 && !timeline_complete {
                let only = Some(self.intern(value));
                let expiry = Interval {
                    optional: true,
                    ..unknown
                };
                self.push(expiry, Kind::MaybeDelete { only }, Source::LeaseOf(i));
            }
        }
        self.push(interval, kind, Source::Op(i));
    }
}

/// [`check_linearizability`] with a step budget per key.
pub(crate) fn check_with_budget(history: &History, timeline: &Timeline, budget: u64) -> Report {
    let mut report = Report::new();
    let writes = Writes::new(history, timeline);
    let max_reported = history
        .ops
        .iter()
        .filter_map(|op| reported_revision(&op.outcome))
        .max();
    let timeline_complete = max_reported.is_none_or(|r| r <= timeline.complete_through());

    let mut partitions: Vec<Partition<'_>> = Vec::new();
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let mut acknowledged_deletes: HashSet<(i64, &[u8])> = HashSet::new();
    for (i, op) in history.ops.iter().enumerate() {
        let Some(key) = key_of(&op.call) else {
            continue;
        };
        let p = *index.entry(key).or_insert_with(|| {
            partitions.push(Partition::new(key));
            partitions.len() - 1
        });
        partitions[p].add_op(i, op, &writes, timeline_complete);
        if let (
            Call::Delete { .. },
            Outcome::Delete {
                revision,
                prev: Some(_),
            },
        ) = (&op.call, &op.outcome)
        {
            acknowledged_deletes.insert((*revision, key));
        }
    }
    for (c, change) in timeline.changes().iter().enumerate() {
        let key = change.event.key.as_slice();
        if change.event.kind != EventKind::Delete
            || acknowledged_deletes.contains(&(change.revision, key))
        {
            continue;
        }
        if let Some(&p) = index.get(key) {
            let part = &mut partitions[p];
            let prev = part.seen(change.event.prev.as_ref());
            let anytime = Interval {
                invoke: 0,
                ret: u64::MAX,
                optional: false,
            };
            part.push(
                anytime,
                Kind::WatchedDelete {
                    rev: change.revision,
                    prev,
                },
                Source::Change(c),
            );
        }
    }

    for part in &partitions {
        let init = State {
            value: 0,
            mod_rev: 0,
            floor: 0,
        };
        let verdict = wgl::search(&part.intervals, init, budget, |state, i| {
            step(state, &part.kinds[i])
        });
        match verdict {
            Verdict::Linearizable => {}
            Verdict::Inconclusive { steps } => report.inconclusive(
                Checker::Linearizability,
                format!(
                    "key {}: gave up after {steps} search steps over {} ops",
                    describe::bytes(part.key),
                    part.kinds.len()
                ),
            ),
            Verdict::Violation {
                prefix,
                state,
                stuck,
            } => {
                let description = explain(history, timeline, part, &prefix, state, stuck);
                report.violation(Checker::Linearizability, description);
            }
        }
    }
    report
}

/// The revision an outcome reports, if any.
fn reported_revision(outcome: &Outcome) -> Option<i64> {
    match outcome {
        Outcome::Put { revision, .. }
        | Outcome::Get { revision, .. }
        | Outcome::Delete { revision, .. }
        | Outcome::Cas { revision, .. }
        | Outcome::LeaseGrant { revision, .. }
        | Outcome::LeaseRevoke { revision } => Some(*revision),
        Outcome::Unknown | Outcome::Failed(_) => None,
    }
}

fn source(history: &History, timeline: &Timeline, source: Source) -> String {
    match source {
        Source::Op(i) => describe::op(i, &history.ops[i]),
        Source::Change(c) => {
            let change = &timeline.changes()[c];
            format!(
                "watched {} (no acknowledged delete made it)",
                describe::event(&change.event)
            )
        }
        Source::LeaseOf(i) => format!("a possible lease expiry after op#{i}"),
    }
}

fn explain(
    history: &History,
    timeline: &Timeline,
    part: &Partition<'_>,
    prefix: &[usize],
    state: State,
    stuck: usize,
) -> String {
    let value = if state.value == 0 {
        "absent".to_owned()
    } else {
        part.value_name(state.value)
    };
    let last = prefix.last().map_or_else(
        || "nothing".to_owned(),
        |&i| source(history, timeline, part.sources[i]),
    );
    format!(
        "key {}: {} ops have no linearization. The longest linearizable prefix has {} ops, \
         ends with {last}, and leaves the key {value} at mod revision {} (known up to revision {}); \
         then {} cannot take effect before it returns",
        describe::bytes(part.key),
        part.kinds.len(),
        prefix.len(),
        state.mod_rev,
        state.floor,
        source(history, timeline, part.sources[stuck]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, Store};

    fn lin(history: &History) -> Report {
        let (timeline, report) = Timeline::build(history);
        assert!(report.is_ok(), "{report}");
        check_linearizability(history, &timeline)
    }

    /// The bug case: put(k, A) -> 10; put(k, B) [100..200] -> 12; get(k) [110..190]
    /// returns A (mod 10) at header revision 12. With header revision 11 it is fine.
    #[test]
    fn old_value_with_a_header_revision_that_includes_the_newer_put() {
        let history = testkit::bug_case(12);
        let report = lin(&history);
        assert!(report.has_violation(Checker::Linearizability), "{report}");
        assert!(report.to_string().contains("key \"k\""), "{report}");
        assert!(lin(&testkit::bug_case(11)).is_ok());
    }

    /// Negative control: a get after a newer put returned sees the older value.
    #[test]
    fn stale_read() {
        let history = testkit::stale_read_case();
        let report = lin(&history);
        assert!(report.has_violation(Checker::Linearizability), "{report}");
    }

    #[test]
    fn watched_deletes_without_a_client_op_are_accepted() {
        let mut store = Store::new(0);
        let mut ops = Vec::new();
        ops.push(testkit::put_op(&mut store, 0, (0, 10), b"k", b"A", 5));
        store.expire(5);
        ops.push(testkit::get_op(&store, 1, (20, 30), b"k"));
        let history = History {
            ops,
            watchers: vec![store.watcher()],
            base_revision: 0,
        };
        assert!(lin(&history).is_ok(), "{}", lin(&history));
        // Without the watch log the delete is unexplained... unless it may be an expiry.
        let blind = History {
            watchers: vec![],
            ..history.clone()
        };
        assert!(lin(&blind).is_ok(), "{}", lin(&blind));
        // A put without a lease cannot vanish.
        let mut unleased = blind;
        if let Call::Put { lease, .. } = &mut unleased.ops[0].call {
            *lease = 0;
        }
        assert!(lin(&unleased).has_violation(Checker::Linearizability));
    }

    #[test]
    fn step_budget_gives_inconclusive_not_pass() {
        let history = testkit::random(&testkit::Config {
            ops: 300,
            ..testkit::Config::default()
        });
        let (timeline, _) = Timeline::build(&history);
        let report = check_with_budget(&history, &timeline, 10);
        assert!(report.is_ok());
        assert!(!report.inconclusive.is_empty());
        assert!(
            report.to_string().contains("gave up after 10 search steps"),
            "{report}"
        );
    }
}
