//! Regression test for the header-revision bug: concurrent puts and gets on ONE key of a
//! 3-member cluster, no faults. A Range whose header revision is newer than the data it
//! returns (the value before a concurrent put, with the put's revision in the header) is a
//! linearizability and snapshot violation.

mod common;

use oxcd_robustness::run::run;

#[test]
fn concurrent_puts_and_gets_on_one_key_are_linearizable() {
    let mut cfg = common::short(7, 12, Vec::new());
    cfg.keys = 1;
    cfg.clients = 12;
    let r = run(&cfg);
    println!("{}", r.line());
    assert!(r.stats.ops > 1000, "too few operations: {}", r.stats.ops);
    assert!(r.passed(), "{}", r.line());
}
