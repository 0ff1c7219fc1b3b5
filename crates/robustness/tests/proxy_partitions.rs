//! Partitions without root: one short run whose only faults are partitions, injected by the
//! peer proxy in every member's peer path (the `make chaos` default uses network
//! namespaces when it runs as root, so this keeps the proxy path tested here too).

mod common;

use oxcd_robustness::faults::Fault;
use oxcd_robustness::run::{run, Network};

#[test]
fn partitions_through_the_peer_proxy_pass_the_checkers() {
    let mut cfg = common::short(
        103,
        20,
        vec![Fault::PartitionLeader, Fault::PartitionRandom],
    );
    cfg.network = Network::Proxy;
    let r = run(&cfg);
    println!("{}", r.line());
    assert!(r.stats.ops > 500, "too few operations: {}", r.stats.ops);
    let partitions = r.faults.iter().filter(|f| f.fault.is_partition()).count();
    assert!(partitions >= 3, "too few partitions injected: {partitions}");
    let (known, unknown, _) = r.proxy_counters.expect("a proxied run has proxy counters");
    assert!(known > 0, "no peer connection went through the proxy");
    assert_eq!(
        unknown,
        0,
        "peer connections of unknown source: {}",
        r.line()
    );
    assert!(r.passed(), "{}", r.line());
}
