//! Tests of [`check`] as a whole: valid histories pass, mangled ones fail in the right
//! checker, and a large history checks quickly.

use std::time::{Duration, Instant};

use crate::testkit::{self, Config};
use crate::*;

fn assert_ok(history: &History) {
    let report = check(history);
    assert!(report.is_ok(), "{report}");
    assert!(report.inconclusive.is_empty(), "{report}");
}

/// Every checker fails on `history`, which must pass every checker but `failing`.
fn assert_only(history: &History, failing: &[Checker]) {
    let report = check(history);
    for checker in [
        Checker::Timeline,
        Checker::Linearizability,
        Checker::RevisionOrder,
        Checker::Snapshots,
        Checker::Watch,
        Checker::LostWrites,
    ] {
        assert_eq!(
            report.has_violation(checker),
            failing.contains(&checker),
            "{checker}: {report}"
        );
    }
}

#[test]
fn random_valid_histories_pass() {
    for seed in 0..20 {
        let history = testkit::random(&Config {
            seed,
            ops: 300,
            ..Config::default()
        });
        let report = check(&history);
        assert!(
            report.is_ok() && report.inconclusive.is_empty(),
            "seed {seed}: {report}"
        );
    }
    // High contention: one key, many clients, many unknown outcomes.
    let config = Config {
        keys: 1,
        clients: 10,
        ops: 300,
        unknown_pct: 15,
        ..Config::default()
    };
    for seed in 0..5 {
        assert_ok(&testkit::random(&Config {
            seed,
            ..config.clone()
        }));
    }
}

/// The bug case fails linearizability and snapshots; with header revision 11 it passes.
#[test]
fn bug_case() {
    assert_ok(&testkit::bug_case(11));
    assert_only(
        &testkit::bug_case(12),
        &[Checker::Linearizability, Checker::Snapshots],
    );
}

/// (a) A stale read: linearizability and revision order fail, the snapshot it names is
/// consistent.
#[test]
fn stale_read() {
    assert_only(
        &testkit::stale_read_case(),
        &[Checker::Linearizability, Checker::RevisionOrder],
    );
}

/// (a) A stale read mangled into a random history: a get that read a write which returned
/// before the get was invoked now returns the value before that write, at the revision
/// before it.
#[test]
fn stale_read_in_a_random_history() {
    let mut history = testkit::random(&Config {
        ops: 400,
        unknown_pct: 0,
        ..Config::default()
    });
    let found = (0..history.ops.len()).find_map(|g| {
        let get = &history.ops[g];
        let (
            Call::Get {
                serializable: false,
                ..
            },
            Outcome::Get { kv: Some(kv), .. },
        ) = (&get.call, &get.outcome)
        else {
            return None;
        };
        history.ops.iter().find_map(|w| match &w.outcome {
            Outcome::Put {
                revision,
                prev: Some(prev),
            } if *revision == kv.mod_revision && w.ret.is_some_and(|r| r < get.invoke) => {
                Some((g, revision - 1, prev.clone()))
            }
            _ => None,
        })
    });
    let (g, revision, prev) = found.expect("a get that read a put that returned before it");
    history.ops[g].outcome = Outcome::Get {
        revision,
        kv: Some(prev),
    };
    assert_only(
        &history,
        &[Checker::Linearizability, Checker::RevisionOrder],
    );
}

/// (i) Write B invoked after A returned with a smaller revision: only revision order.
#[test]
fn revision_order_violation() {
    assert_only(&testkit::reordered_writes_case(), &[Checker::RevisionOrder]);
}

/// (j) Unknown outcomes: those that applied (their values are in the timeline) and those
/// that did not are both accepted; a failed write whose value appears is not.
#[test]
fn unknown_outcomes_accepted_failed_writes_rejected() {
    let history = testkit::random(&Config {
        ops: 600,
        unknown_pct: 20,
        ..Config::default()
    });
    let (timeline, _) = Timeline::build(&history);
    let unknown_values: Vec<bool> = history
        .ops
        .iter()
        .filter(|op| op.outcome == Outcome::Unknown)
        .filter_map(|op| match &op.call {
            Call::Put { value, .. } | Call::Cas { value, .. } => Some(value),
            _ => None,
        })
        .map(|value| {
            timeline
                .changes()
                .iter()
                .any(|c| c.event.kv.value == *value)
        })
        .collect();
    assert!(
        unknown_values.iter().any(|&applied| applied),
        "some unknown write applied"
    );
    assert!(
        unknown_values.iter().any(|&applied| !applied),
        "some unknown write did not apply"
    );
    assert_ok(&history);

    let mut failed = history;
    let i = failed
        .ops
        .iter()
        .position(|op| op.outcome == Outcome::Unknown && matches!(&op.call, Call::Put { value, .. } if timeline.changes().iter().any(|c| c.event.kv.value == *value)))
        .expect("an unknown put that applied");
    failed.ops[i].outcome = Outcome::Failed("etcdserver: lease not found".to_owned());
    failed.ops[i].ret = Some(failed.ops[i].invoke + 1);
    let report = check(&failed);
    assert!(report.has_violation(Checker::LostWrites), "{report}");
    assert!(report
        .violations_of(Checker::LostWrites)
        .any(|v| v.description.contains(&format!("op#{i} "))));
}

/// (c) An acknowledged write whose event no watcher saw.
#[test]
fn lost_write() {
    let mut history = testkit::bug_case(11);
    for watcher in &mut history.watchers {
        for response in watcher.sessions.iter_mut().flat_map(|s| &mut s.responses) {
            response.events.retain(|e| e.kv.value != b"X");
        }
    }
    let report = check(&history);
    assert!(report.has_violation(Checker::LostWrites), "{report}");
    assert!(
        report
            .to_string()
            .contains("put(\"j\", \"X\") -> ok rev 11"),
        "{report}"
    );
}

/// (d)-(h) on `check` as a whole: each mangled watch log fails the watch checker.
#[test]
fn mangled_watch_logs() {
    let valid = testkit::random(&Config {
        ops: 300,
        ..Config::default()
    });
    assert_ok(&valid);
    let events = |h: &History| {
        let s = &h.watchers[1].sessions[0];
        (0..s.responses.len())
            .filter(|&r| !s.responses[r].events.is_empty())
            .collect::<Vec<_>>()
    };
    let rs = events(&valid);

    let mut duplicated = valid.clone();
    let dup = duplicated.watchers[1].sessions[0].responses[rs[1]].clone();
    duplicated.watchers[1].sessions[0]
        .responses
        .insert(rs[1], dup);
    assert_only(&duplicated, &[Checker::Watch]);

    let mut reordered = valid.clone();
    reordered.watchers[1].sessions[0]
        .responses
        .swap(rs[1], rs[2]);
    assert_only(&reordered, &[Checker::Watch]);

    let mut dropped = valid.clone();
    dropped.watchers[1].sessions[0].responses.remove(rs[1]);
    assert_only(&dropped, &[Checker::Watch]);

    let mut resumed = valid;
    let session = &mut resumed.watchers[1].sessions[1];
    session.start_revision += 1;
    let skipped = session.start_revision - 1;
    for response in &mut session.responses {
        response.events.retain(|e| e.kv.mod_revision != skipped);
    }
    assert_only(&resumed, &[Checker::Watch]);
}

/// A large random valid history (5 keys, 8 clients, 2000 ops, ~5% unknown outcomes)
/// checks quickly.
#[test]
fn large_history_is_fast() {
    let history = testkit::random(&Config::default());
    assert_eq!(history.ops.len(), 2000);
    let started = Instant::now();
    let report = check(&history);
    let took = started.elapsed();
    assert!(report.is_ok() && report.inconclusive.is_empty(), "{report}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    eprintln!("checked 2000 ops in {took:?}");
}

/// Watchers that saw little or nothing: nothing is a violation (what the watchers did not
/// cover is inconclusive), and linearizability still resolves unknown outcomes from the
/// values the responses carried.
#[test]
fn partial_watch_logs_give_no_false_positives() {
    for seed in 0..10 {
        let config = Config {
            seed,
            ops: 400,
            unknown_pct: 10,
            ..Config::default()
        };
        let mut blind = testkit::random(&config);
        blind.watchers.clear();
        let report = check(&blind);
        assert!(report.is_ok(), "seed {seed}, no watchers: {report}");

        let mut short = testkit::random(&config);
        for watcher in &mut short.watchers {
            watcher.sessions.truncate(1);
        }
        let report = check(&short);
        assert!(
            report.is_ok(),
            "seed {seed}, one session per watcher: {report}"
        );
    }
}

/// (a) without a watch log, a stale read only the linearizability checker can see: put B
/// is concurrent with both gets, both gets claim header revision 5, and the second get,
/// invoked after the first (which saw B) returned, sees A again.
#[test]
fn stale_read_only_linearizability_sees() {
    let kv = |value: &[u8], mod_revision, version| Kv {
        value: value.to_vec(),
        mod_revision,
        create_revision: 1,
        version,
        lease: 0,
    };
    let put = |client, invoke, ret, value: &[u8], revision, prev| Op {
        client,
        member: 0,
        invoke,
        ret: Some(ret),
        call: Call::Put {
            key: b"k".to_vec(),
            value: value.to_vec(),
            lease: 0,
        },
        outcome: Outcome::Put { revision, prev },
    };
    let get = |client, invoke, ret, value: &[u8], mod_revision, version| Op {
        client,
        member: 0,
        invoke,
        ret: Some(ret),
        call: Call::Get {
            key: b"k".to_vec(),
            serializable: false,
        },
        outcome: Outcome::Get {
            revision: 5,
            kv: Some(kv(value, mod_revision, version)),
        },
    };
    let mut history = History {
        ops: vec![
            put(0, 0, 10, b"A", 1, None),
            put(1, 20, 100, b"B", 2, Some(kv(b"A", 1, 1))),
            get(2, 30, 40, b"B", 2, 2),
            get(3, 50, 60, b"A", 1, 1),
        ],
        watchers: vec![],
        base_revision: 0,
    };
    assert_only(&history, &[Checker::Linearizability]);
    // Both gets seeing B is fine.
    history.ops[3] = get(3, 50, 60, b"B", 2, 2);
    assert!(check(&history).is_ok(), "{}", check(&history));
}

/// A longer sweep of valid histories over seeds and shapes:
/// `cargo test -p oxcd-checker -- --ignored`.
#[test]
#[ignore = "slow: a sweep over many seeds"]
fn sweep_valid_histories() {
    let shapes = [
        Config {
            ops: 500,
            ..Config::default()
        },
        Config {
            keys: 1,
            clients: 12,
            ops: 400,
            unknown_pct: 20,
            ..Config::default()
        },
        Config {
            keys: 2,
            clients: 4,
            ops: 500,
            unknown_pct: 30,
            sessions: 6,
            ..Config::default()
        },
        Config {
            keys: 20,
            clients: 16,
            ops: 1000,
            watchers: 3,
            ..Config::default()
        },
        Config {
            leases: false,
            serializable_pct: 60,
            ops: 500,
            ..Config::default()
        },
    ];
    for (s, shape) in shapes.iter().enumerate() {
        for seed in 0..100 {
            let mut history = testkit::random(&Config {
                seed,
                ..shape.clone()
            });
            let report = check(&history);
            assert!(
                report.is_ok() && report.inconclusive.is_empty(),
                "shape {s} seed {seed}: {report}"
            );
            history.watchers.truncate(1);
            history.watchers[0].sessions.truncate(1);
            let report = check(&history);
            assert!(
                report.is_ok(),
                "shape {s} seed {seed}, one session: {report}"
            );
            history.watchers.clear();
            let report = check(&history);
            assert!(
                report.is_ok(),
                "shape {s} seed {seed}, no watchers: {report}"
            );
        }
    }
}
