//! The peer proxy really partitions: a 3-member cluster whose peer traffic goes through
//! [`oxcd_integration_tests::peer_proxy::PeerProxy`] (no root needed). Isolating the leader
//! makes the other two elect a new one and commit without it, while the isolated member
//! still answers clients but cannot serve a linearizable read; healing brings it back to
//! the majority's data. `OXCD_CLUSTER_KIND=etcd` runs the same against etcd 3.4.23.

use std::time::{Duration, Instant};

use oxcd_integration_tests::{cluster_kind, etcdctl_at, expect_ok, kind_available, Cluster};

fn get_value(endpoint: &str, key: &str, consistency: &str) -> Option<String> {
    let out = etcdctl_at(
        endpoint,
        Duration::from_secs(2),
        &[
            "get",
            key,
            "--print-value-only",
            "--consistency",
            consistency,
        ],
    )
    .ok()?;
    out.success().then(|| out.stdout.trim().to_string())
}

/// Waits until `members` agree on a leader that is not `old` (bounded).
fn new_leader_among(cluster: &Cluster, members: &[usize], old: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let leaders: Vec<u64> = members
            .iter()
            .filter_map(|&i| cluster.status(i).ok().map(|s| s.leader))
            .collect();
        if leaders.len() == members.len()
            && leaders.windows(2).all(|w| w[0] == w[1])
            && leaders[0] != 0
            && leaders[0] != old
        {
            return leaders[0];
        }
        assert!(
            Instant::now() < deadline,
            "the majority elected no new leader within {within:?} (last answers: {leaders:x?})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn isolating_the_leader_through_the_proxy_moves_leadership_and_blocks_its_reads() {
    let kind = cluster_kind();
    assert!(kind_available(kind));
    let mut cluster = Cluster::start_proxied(kind, 3, &[]).expect("start a proxied cluster");
    let leader = cluster.leader_index().expect("a leader");
    let old_id = cluster.member_id(leader).expect("the leader's id");
    let all = cluster.endpoints();
    expect_ok(
        etcdctl_at(&all, Duration::from_secs(5), &["put", "k", "v1"]),
        "put v1",
    );

    cluster.isolate(leader).expect("isolate the leader");
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let new_id = new_leader_among(&cluster, &others, old_id, Duration::from_secs(20));
    assert_ne!(new_id, old_id);
    let majority = others
        .iter()
        .map(|&i| cluster.endpoint(i))
        .collect::<Vec<_>>()
        .join(",");
    expect_ok(
        etcdctl_at(&majority, Duration::from_secs(5), &["put", "k", "v2"]),
        "put v2 on the majority",
    );
    let cut_off = cluster.endpoint(leader);
    // The isolated member still answers clients, from its own (old) data...
    assert_eq!(get_value(&cut_off, "k", "s").as_deref(), Some("v1"));
    // ...but cannot confirm it is current, so a linearizable read fails.
    assert_eq!(get_value(&cut_off, "k", "l"), None);

    cluster.heal_partitions();
    cluster
        .wait_leader(Duration::from_secs(20))
        .expect("one leader after healing");
    let deadline = Instant::now() + Duration::from_secs(20);
    while get_value(&cut_off, "k", "l").as_deref() != Some("v2") {
        assert!(
            Instant::now() < deadline,
            "the healed member never served the majority's write"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let proxy = cluster.peer_proxy().expect("a proxied cluster has a proxy");
    assert!(
        proxy.identified() >= 2,
        "peer connections: {}",
        proxy.identified()
    );
    assert_eq!(
        proxy.unidentified(),
        0,
        "peer connections whose member the proxy could not find"
    );
}
