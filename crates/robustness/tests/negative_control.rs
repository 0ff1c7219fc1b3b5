//! The suite must fail when the history is wrong: the runner's clients answer some
//! linearizable gets from their own stale cache, and the checkers must catch it.

mod common;

use oxcd_robustness::run::run;

#[test]
fn stale_reads_make_the_run_fail() {
    let mut cfg = common::short(11, 8, Vec::new());
    cfg.keys = 2;
    cfg.stale_read_fraction = 0.2;
    let r = run(&cfg);
    println!("{}", r.line());
    let report = r.report.as_ref().expect("the run reached the checkers");
    assert!(r.errors.is_empty(), "the run itself broke: {:?}", r.errors);
    assert!(
        !report.is_ok(),
        "stale reads were injected but no checker noticed"
    );
}

/// A server with a deliberate bug (linearizable reads served without ReadIndex, i.e. as
/// serializable ones) must fail the suite: the checkers are not blind to server bugs.
#[test]
fn a_server_serving_linearizable_reads_as_serializable_fails() {
    let mut cfg = common::short(12, 10, Vec::new());
    cfg.keys = 2;
    cfg.failpoints = Some("kv-range-skip-read-index=return".into());
    let r = run(&cfg);
    println!("{}", r.line());
    let report = r.report.as_ref().expect("the run reached the checkers");
    assert!(r.errors.is_empty(), "the run itself broke: {:?}", r.errors);
    assert!(!report.is_ok(), "stale linearizable reads went unnoticed");
}
