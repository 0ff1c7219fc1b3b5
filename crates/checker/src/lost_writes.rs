//! No acknowledged write lost, no write from nowhere:
//! - an acknowledged put or successful CAS appears in the timeline at its revision with its
//!   key and value, an acknowledged delete at its revision (lease revokes are not checked);
//! - every value appears in the timeline at most once (an unknown-outcome write appears
//!   once or not at all);
//! - every value in the timeline, or in any response, was written by some client, and not
//!   by a write that failed or a CAS that reported its compare failed;
//! - every delete in the timeline was made by an acknowledged delete at that revision, or
//!   deleted a key with a lease attached (expiry, revoke), or is accounted for by an
//!   unknown-outcome delete of the key.
//!
//! The timeline only covers revisions up to [`Timeline::complete_through`]: an acknowledged
//! write beyond that is reported as inconclusive, not lost.

use std::collections::{HashMap, HashSet};

use crate::describe;
use crate::history::{Call, EventKind, History, Outcome};
use crate::report::{Checker, Report};
use crate::timeline::{Change, Timeline};
use crate::writes::{acknowledged_revision, key_of, observed, Writes};

/// Checks that the timeline holds exactly the writes the clients made. See the module docs.
pub fn check_lost_writes(history: &History, timeline: &Timeline) -> Report {
    let mut report = Report::new();
    let writes = Writes::new(history, timeline);
    let mut puts: HashMap<&[u8], Vec<&Change>> = HashMap::new();
    for change in timeline.changes() {
        if change.event.kind == EventKind::Put {
            puts.entry(&change.event.kv.value).or_default().push(change);
        }
    }
    let watched = |c: &Change| format!("watched {}", describe::event(&c.event));

    // Values in the timeline: once each, each from a client write that may have happened.
    let mut flagged: HashSet<&[u8]> = HashSet::new();
    for (value, changes) in &puts {
        if changes.len() > 1 {
            let list = describe::list(changes.iter().map(|c| watched(c)), 5);
            report.violation(
                Checker::LostWrites,
                format!(
                    "value {} was written more than once: {list}",
                    describe::bytes(value)
                ),
            );
        }
        let change = changes[0];
        let Some(&i) = writes.writer.get(value) else {
            flagged.insert(value);
            report.violation(
                Checker::LostWrites,
                format!(
                    "{}: no client wrote this value (a write from nowhere)",
                    watched(change)
                ),
            );
            continue;
        };
        let op = &history.ops[i];
        let why = match (&op.outcome, key_of(&op.call)) {
            (_, Some(key)) if key != change.event.key => Some("writes another key".to_owned()),
            (Outcome::Failed(_), _) => Some("failed".to_owned()),
            (
                Outcome::Cas {
                    succeeded: false, ..
                },
                _,
            ) => Some("reported its compare failed".to_owned()),
            _ => acknowledged_revision(op)
                .filter(|&r| r != change.revision)
                .map(|r| format!("was acknowledged at revision {r}")),
        };
        if let Some(why) = why {
            flagged.insert(value);
            report.violation(
                Checker::LostWrites,
                format!("{}, but {} {why}", watched(change), describe::op(i, op)),
            );
        }
    }

    // Values in responses: written by some client, not by one that failed.
    for (j, op) in history.ops.iter().enumerate() {
        let Some(kv) = observed(op) else { continue };
        if flagged.contains(kv.value.as_slice()) {
            continue;
        }
        let why = match writes
            .writer
            .get(kv.value.as_slice())
            .map(|&i| (i, &history.ops[i]))
        {
            None => "no client wrote it (a write from nowhere)".to_owned(),
            Some((i, w)) if matches!(w.outcome, Outcome::Failed(_)) => {
                format!("{} failed", describe::op(i, w))
            }
            Some((i, w))
                if matches!(
                    w.outcome,
                    Outcome::Cas {
                        succeeded: false,
                        ..
                    }
                ) =>
            {
                format!("{} reported its compare failed", describe::op(i, w))
            }
            Some(_) => continue,
        };
        flagged.insert(&kv.value);
        report.violation(
            Checker::LostWrites,
            format!(
                "{} carries value {}, but {why}",
                describe::op(j, op),
                describe::bytes(&kv.value)
            ),
        );
    }

    // Acknowledged writes: in the timeline at their revision.
    let mut uncovered = Vec::new();
    let mut acknowledged_deletes: HashSet<(i64, &[u8])> = HashSet::new();
    for (i, op) in history.ops.iter().enumerate() {
        let (Some(revision), Some(key)) = (acknowledged_revision(op), key_of(&op.call)) else {
            continue;
        };
        let found = match &op.call {
            Call::Put { value, .. } | Call::Cas { value, .. } => {
                puts.contains_key(value.as_slice())
            }
            _ => {
                acknowledged_deletes.insert((revision, key));
                timeline
                    .find(revision, key)
                    .is_some_and(|c| c.event.kind == EventKind::Delete)
            }
        };
        if found {
            continue;
        }
        if revision <= timeline.complete_through() {
            report.violation(
                Checker::LostWrites,
                format!(
                    "{} was acknowledged but never appears in the watch log, which is complete through revision {} (a lost write)",
                    describe::op(i, op),
                    timeline.complete_through()
                ),
            );
        } else {
            uncovered.push(i);
        }
    }
    if !uncovered.is_empty() {
        report.inconclusive(
            Checker::LostWrites,
            format!(
                "{} acknowledged writes have revisions beyond revision {}, where the watch log ends, and were not checked: {}",
                uncovered.len(),
                timeline.complete_through(),
                describe::list(uncovered.iter().map(|&i| describe::op(i, &history.ops[i])), 3)
            ),
        );
    }

    // Deletes in the timeline: made by a client, or by a lease.
    let mut unknown_deletes: HashMap<&[u8], usize> = HashMap::new();
    for op in &history.ops {
        if let (Call::Delete { key }, Outcome::Unknown) = (&op.call, &op.outcome) {
            *unknown_deletes.entry(key).or_default() += 1;
        }
    }
    for change in timeline.changes() {
        let key = change.event.key.as_slice();
        if change.event.kind != EventKind::Delete
            || acknowledged_deletes.contains(&(change.revision, key))
            || change.before.as_ref().is_some_and(|kv| kv.lease != 0)
        {
            continue;
        }
        match unknown_deletes.get_mut(key) {
            Some(n) if *n > 0 => *n -= 1,
            _ => report.violation(
                Checker::LostWrites,
                format!(
                    "{} deleted {} (no lease attached), but no client delete accounts for it (a delete from nowhere)",
                    watched(change),
                    describe::opt_kv(change.before.as_ref())
                ),
            ),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, Config};

    fn lost(history: &History) -> Report {
        let (timeline, _) = Timeline::build(history);
        check_lost_writes(history, &timeline)
    }

    fn valid() -> History {
        let history = testkit::random(&Config {
            ops: 400,
            ..Config::default()
        });
        assert!(lost(&history).is_ok(), "{}", lost(&history));
        history
    }

    /// The first acknowledged put, and its value.
    fn acknowledged_put(history: &History) -> (usize, Vec<u8>) {
        history
            .ops
            .iter()
            .enumerate()
            .find_map(|(i, op)| match (&op.call, &op.outcome) {
                (Call::Put { value, .. }, Outcome::Put { .. }) => Some((i, value.clone())),
                _ => None,
            })
            .expect("an acknowledged put")
    }

    fn drop_events(history: &mut History, keep: impl Fn(&crate::history::Event) -> bool) {
        for response in history
            .watchers
            .iter_mut()
            .flat_map(|w| &mut w.sessions)
            .flat_map(|s| &mut s.responses)
        {
            response.events.retain(&keep);
        }
    }

    /// Negative control: an acknowledged put whose event no watcher saw.
    #[test]
    fn lost_acknowledged_write() {
        let mut history = valid();
        let (i, value) = acknowledged_put(&history);
        drop_events(&mut history, |e| e.kv.value != value);
        let report = lost(&history);
        assert!(report.to_string().contains(&format!("op#{i} ")), "{report}");
        assert!(report.to_string().contains("(a lost write)"), "{report}");
    }

    /// An acknowledged write beyond the watchers' coverage is inconclusive, not lost.
    #[test]
    fn uncovered_write_is_inconclusive() {
        let mut history = valid();
        history.watchers.clear();
        let report = lost(&history);
        assert!(report.is_ok(), "{report}");
        assert!(report
            .inconclusive
            .iter()
            .any(|n| n.description.contains("where the watch log ends")));
    }

    /// Negative control: a write reported failed whose value appears.
    #[test]
    fn failed_write_that_appears() {
        let mut history = valid();
        let (i, _) = acknowledged_put(&history);
        history.ops[i].outcome = Outcome::Failed("lease not found".to_owned());
        history.ops[i].ret = Some(history.ops[i].invoke + 1);
        let report = lost(&history);
        assert!(report.to_string().contains(&format!("op#{i} ")), "{report}");
        assert!(report.to_string().contains("failed"), "{report}");
    }

    /// Negative controls: a value no client wrote, and a delete no client made.
    #[test]
    fn writes_from_nowhere() {
        let mut history = valid();
        let (_, value) = acknowledged_put(&history);
        for response in history
            .watchers
            .iter_mut()
            .flat_map(|w| &mut w.sessions)
            .flat_map(|s| &mut s.responses)
        {
            for event in &mut response.events {
                if event.kv.value == value {
                    event.kv.value = b"nobody".to_vec();
                }
            }
        }
        assert!(lost(&history)
            .to_string()
            .contains("no client wrote this value"));

        let mut history = valid();
        let mut deletes = 0;
        for op in &mut history.ops {
            if let (Call::Delete { .. }, Outcome::Delete { prev: Some(_), .. }) =
                (&op.call, &op.outcome)
            {
                op.outcome = Outcome::Failed("no".to_owned());
                deletes += 1;
            }
        }
        assert!(deletes > 0);
        assert!(lost(&history)
            .to_string()
            .contains("(a delete from nowhere)"));
    }
}
