//! Shared setup of the robustness tests.

use std::time::Duration;

use oxcd_integration_tests::Kind;
use oxcd_robustness::faults::Fault;
use oxcd_robustness::run::{Network, RunConfig};

/// A config for a short run against oxcd; fails (never skips) when the binary is missing.
pub fn short(seed: u64, secs: u64, faults: Vec<Fault>) -> RunConfig {
    let kind = Kind::Oxcd;
    assert!(
        kind.binary().is_file(),
        "oxcd binary not found at {} (build the workspace first)",
        kind.binary().display()
    );
    RunConfig {
        seed,
        duration: Duration::from_secs(secs),
        members: 3,
        kind,
        faults,
        fault_interval: Duration::from_secs(4),
        clients: 8,
        watchers: 2,
        request_progress: true,
        keys: 5,
        op_timeout: Duration::from_secs(3),
        stale_read_fraction: 0.0,
        extra_args: Vec::new(),
        network: Network::auto(),
        failpoints: None,
    }
}
