//! The raft and peer metrics Prometheus alerts use, on a 3-member cluster (same names
//! and labels as etcd 3.4; the first test passes against etcd with
//! `OXCD_CLUSTER_KIND=etcd`), and the metrics of snapshot transfers and learner promotion,
//! which move only when those happen (oxcd only: etcd 3.4 lacks the catch-up-entries flag
//! that makes a lagging follower need a snapshot after a few hundred writes).

use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oxcd_integration_tests::cluster::{cluster_kind, kind_available, tail, Cluster};
use oxcd_integration_tests::prom::{sample, scrape};
use oxcd_integration_tests::{oxcd_available, Kind};

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

/// The value of `name` (0 when absent) in member `i`'s scrape.
fn value(c: &Cluster, i: usize, name: &str) -> f64 {
    sample(&scrape(c.client_port(i)), name).unwrap_or(0.0)
}

/// Waits until member `i` serves `key` from its local state.
fn wait_local_key(c: &Cluster, i: usize, key: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let out = c
            .ctl(i, &["get", key, "--consistency=s", "--keys-only"])
            .expect("etcdctl get ran");
        if out.success() && out.stdout.contains(key) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "member {i} never served {key}\nlog:\n{}",
            c.member(i).log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn snapshot_and_promotion_metrics_move_when_they_happen() {
    if !oxcd_available() {
        eprintln!("skipped: the oxcd binary is not built");
        return;
    }
    let flags = &[
        "--snapshot-count=50",
        "--experimental-snapshot-catchup-entries=5",
    ];
    let mut c = Cluster::start(Kind::Oxcd, 3, flags).expect("start a 3-member cluster");
    let leader = c.leader_index().expect("a leader");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    for name in [
        "etcd_disk_backend_snapshot_duration_seconds_count",
        "etcd_snap_db_save_total_duration_seconds_count",
        "etcd_snap_db_fsync_duration_seconds_count",
        "etcd_server_snapshot_apply_in_progress_total",
        "etcd_server_learner_promote_successes",
    ] {
        for i in 0..3 {
            assert_eq!(
                value(&c, i, name),
                0.0,
                "{name} on member {i} before any snapshot"
            );
        }
    }

    // The follower misses more entries than the leader keeps: the leader saves raft
    // snapshots (every 50 entries) and, once the follower is back, sends it its state.
    c.kill9(follower).expect("kill -9 the follower");
    for k in 0..200 {
        let out = c
            .ctl(leader, &["put", &format!("snap/{k:03}"), "v"])
            .expect("put ran");
        assert!(out.success(), "put: {}", tail(&out.stderr, 2));
    }
    let leader_text = scrape(c.client_port(leader));
    for name in [
        "etcd_debugging_snap_save_total_duration_seconds_count",
        "etcd_debugging_snap_save_marshalling_duration_seconds_count",
        "etcd_snap_fsync_duration_seconds_count",
    ] {
        assert!(
            sample(&leader_text, name).unwrap_or(0.0) >= 3.0,
            "{name} on the leader after 200 writes with --snapshot-count=50"
        );
    }
    // The restore sleeps 3 s in a failpoint, so a scraper sees the apply in progress.
    c.set_member_own(
        follower,
        &[],
        &[("FAILPOINTS", "restore-before-copy=sleep(3000)")],
    );
    let port = c.client_port(follower);
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut max = 0.0f64;
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let v = sample(
                    &scrape(port),
                    "etcd_server_snapshot_apply_in_progress_total",
                );
                max = max.max(v.unwrap_or(0.0));
                std::thread::sleep(Duration::from_millis(50));
            }
            max
        })
    };
    c.restart(follower).expect("restart the follower");
    wait_local_key(&c, follower, "snap/199", Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    let seen = scraper.join().expect("scraper thread");
    assert_eq!(
        seen, 1.0,
        "the follower never showed a snapshot apply in progress"
    );
    assert_eq!(
        value(&c, follower, "etcd_server_snapshot_apply_in_progress_total"),
        0.0
    );
    assert!(
        value(
            &c,
            leader,
            "etcd_disk_backend_snapshot_duration_seconds_count"
        ) >= 1.0
    );
    let follower_text = scrape(port);
    for name in [
        "etcd_snap_db_save_total_duration_seconds_count",
        "etcd_snap_db_fsync_duration_seconds_count",
        "etcd_debugging_snap_save_total_duration_seconds_count",
        "etcd_snap_fsync_duration_seconds_count",
    ] {
        assert!(
            sample(&follower_text, name).unwrap_or(0.0) >= 1.0,
            "{name} on the follower that received a snapshot"
        );
    }

    // A learner joins (from a snapshot too) and is promoted: the leader counts it.
    let learner = c.add_member_process("m3", true).expect("add a learner");
    wait_local_key(&c, learner, "snap/199", Duration::from_secs(30));
    assert!(
        value(
            &c,
            learner,
            "etcd_snap_db_save_total_duration_seconds_count"
        ) >= 1.0
    );
    let out = c.promote_member(learner).expect("promote the learner");
    assert!(out.success(), "promote: {}", tail(&out.stderr, 2));
    let leader = c.leader_index().expect("a leader");
    assert_eq!(
        value(&c, leader, "etcd_server_learner_promote_successes"),
        1.0
    );
    let total: f64 = (0..4)
        .map(|i| value(&c, i, "etcd_server_learner_promote_successes"))
        .sum();
    assert_eq!(total, 1.0, "only the leader counts a promotion");
}
