//! Members crashed (abort, as kill -9) between the steps of persisting and applying, at
//! failpoints in the raft Ready loop and the apply path, lose no acknowledged write and
//! stay linearizable.

mod common;

use oxcd_robustness::faults::Fault;
use oxcd_robustness::run::run;

#[test]
fn crashes_between_persist_and_apply_steps_lose_nothing() {
    let mut cfg = common::short(21, 15, Vec::new());
    // Each point stays off for its first 300 hits (the member's start-up), then aborts
    // the member on 0.01% of hits: a crash every few seconds across the cluster.
    let points = [
        "raft-before-append",
        "raft-after-append",
        "raft-before-apply",
        "apply-before-write",
        "apply-after-write",
    ];
    cfg.failpoints = Some(
        points
            .iter()
            .map(|p| format!("{p}=300*off->0.01%return"))
            .collect::<Vec<_>>()
            .join(";"),
    );
    let r = run(&cfg);
    println!("{}", r.line());
    let crashes = r
        .faults
        .iter()
        .filter(|f| f.fault == Fault::Crashed)
        .count();
    assert!(crashes >= 1, "no member crashed at a failpoint");
    assert!(r.passed(), "{}", r.line());
}
