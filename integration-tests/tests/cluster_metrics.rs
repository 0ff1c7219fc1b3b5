//! The raft and peer metrics Prometheus alerts use, on a 3-member cluster (same names
//! and labels as etcd 3.4; the test passes against etcd with `OXCD_CLUSTER_KIND=etcd`).

use std::time::{Duration, Instant};

use oxcd_integration_tests::cluster::{cluster_kind, kind_available, tail, Cluster};
use oxcd_integration_tests::prom::{sample, scrape};

/// The value of the first sample of `name` (with any labels) in a scrape.

#[test]
fn raft_and_peer_metrics_are_exported() {
    let kind = cluster_kind();
    if !kind_available(kind) {
        return;
    }
    let mut c = Cluster::start(kind, 3, &[]).expect("start a 3-member cluster");
    let leader = c.leader_index().expect("a leader");
    for k in 0..20 {
        let out = c
            .ctl(k % 3, &["put", &format!("m/{k}"), "v"])
            .expect("put ran");
        assert!(out.success(), "put: {}", tail(&out.stderr, 2));
    }
    // The round-trip histogram fills from periodic probes (every few seconds).
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut text = scrape(c.client_port(leader));
    while sample(&text, "etcd_network_peer_round_trip_time_seconds_count").is_none() {
        assert!(
            Instant::now() < deadline,
            "no etcd_network_peer_round_trip_time_seconds samples"
        );
        std::thread::sleep(Duration::from_millis(500));
        text = scrape(c.client_port(leader));
    }
    assert_eq!(sample(&text, "etcd_server_has_leader"), Some(1.0));
    assert_eq!(sample(&text, "etcd_server_is_leader"), Some(1.0));
    assert_eq!(sample(&text, "etcd_server_is_learner"), Some(0.0));
    assert!(sample(&text, "etcd_server_leader_changes_seen_total").unwrap_or(0.0) >= 1.0);
    assert!(sample(&text, "etcd_server_proposals_committed_total").unwrap_or(0.0) >= 20.0);
    assert!(sample(&text, "etcd_server_proposals_applied_total").unwrap_or(0.0) >= 20.0);
    assert!(sample(&text, "etcd_server_proposals_pending").is_some());
    assert!(sample(&text, "etcd_server_proposals_failed_total").is_some());
    assert!(sample(&text, "etcd_network_peer_sent_bytes_total").unwrap_or(0.0) > 0.0);
    assert!(sample(&text, "etcd_network_peer_received_bytes_total").unwrap_or(0.0) > 0.0);
    assert!(sample(&text, "etcd_network_active_peers").is_some());
    for id in (0..3)
        .filter(|&i| i != leader)
        .filter_map(|i| c.member_id(i))
    {
        let label = format!("To=\"{id:x}\"");
        assert!(
            text.lines()
                .any(|l| l.starts_with("etcd_network_peer_sent_bytes_total") && l.contains(&label)),
            "no sent-bytes series for peer {id:x}"
        );
    }
    // A follower knows the leader but does not lead.
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    let text = scrape(c.client_port(follower));
    assert_eq!(sample(&text, "etcd_server_has_leader"), Some(1.0));
    assert_eq!(sample(&text, "etcd_server_is_leader"), Some(0.0));
}
