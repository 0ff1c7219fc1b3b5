//! The short robustness run of `make test`: 2 seeds x 20 s against a 3-member oxcd cluster
//! with every fault kind.

mod common;

use oxcd_robustness::faults::Fault;
use oxcd_robustness::suite::run_suite;

#[test]
fn two_seeds_of_twenty_seconds_with_faults() {
    let cfg = common::short(0, 20, Fault::ALL.to_vec());
    let dump = std::env::temp_dir().join("oxcd-chaos-short");
    let r = run_suite(&cfg, &[101, 102], Some(&dump));
    assert!(
        r.ops > 500,
        "too few operations to judge anything: {}",
        r.ops
    );
    assert!(r.faults >= 4, "too few faults injected: {}", r.faults);
    assert_eq!(r.failed, 0, "{} of 2 runs failed (see above)", r.failed);
}
