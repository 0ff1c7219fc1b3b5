//! Raft snapshots between oxcd processes: a follower that missed more entries than the
//! leader keeps in its log (`--snapshot-count` / `--experimental-snapshot-catchup-entries`
//! set low) catches up from a streamed state machine checkpoint, keeps its own identity
//! across a restart after that, and a learner that joins after log compaction starts from
//! a snapshot too. oxcd only (etcd 3.4 lacks the catch-up-entries flag).

use std::time::{Duration, Instant};

use oxcd_integration_tests::cluster::{tail, Cluster};
use oxcd_integration_tests::{oxcd_available, Kind};

const SNAPSHOT_FLAGS: &[&str] = &[
    "--snapshot-count=50",
    "--experimental-snapshot-catchup-entries=5",
];

fn put(c: &Cluster, i: usize, key: &str, value: &str) {
    let out = c.ctl(i, &["put", key, value]).expect("etcdctl put ran");
    assert!(out.success(), "put {key} on {i}: {}", tail(&out.stderr, 3));
}

/// Waits until member `i` serves `key` = `value` from its local state.
fn wait_local_value(c: &Cluster, i: usize, key: &str, value: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let out = c
            .ctl(i, &["get", key, "--consistency=s", "--print-value-only"])
            .expect("etcdctl get ran");
        if out.success() && out.stdout.trim() == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "member {i} never served {key}={value}; last: {:?} {}\nlog:\n{}",
            out.stdout,
            tail(&out.stderr, 2),
            c.member(i).log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_lagging_follower_and_a_late_learner_catch_up_from_snapshots() {
    if !oxcd_available() {
        eprintln!("skipped: the oxcd binary is not built");
        return;
    }
    let mut c = Cluster::start(Kind::Oxcd, 3, SNAPSHOT_FLAGS).expect("start a 3-member cluster");
    let leader = c.leader_index().expect("a leader");
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    let id_before = c.status(follower).expect("follower status").member_id;

    c.kill9(follower).expect("kill -9 the follower");
    for k in 0..200 {
        put(&c, leader, &format!("snap/{k:03}"), &format!("v{k}"));
    }
    c.restart(follower).expect("restart the follower");
    wait_local_value(&c, follower, "snap/199", "v199", Duration::from_secs(20));
    let log = std::fs::read_to_string(c.member(follower).log_path()).unwrap_or_default();
    assert!(
        log.contains("restored the state machine from a snapshot"),
        "the follower caught up without a snapshot:\n{}",
        c.member(follower).log_tail(40)
    );
    let count = c
        .ctl(
            follower,
            &["get", "snap/", "--prefix", "--consistency=s", "--keys-only"],
        )
        .expect("etcdctl get ran");
    assert_eq!(
        count
            .stdout
            .lines()
            .filter(|l| l.starts_with("snap/"))
            .count(),
        200
    );

    // After a restart the member is still itself and takes writes.
    c.kill9(follower).expect("kill -9 again");
    c.restart(follower).expect("restart again");
    let st = c.status(follower).expect("status after restart");
    assert_eq!(st.member_id, id_before, "the member changed identity");
    put(&c, follower, "after/restart", "ok");
    for i in 0..3 {
        wait_local_value(&c, i, "after/restart", "ok", Duration::from_secs(10));
    }

    // A learner added after the log was compacted starts from a snapshot.
    let l = c.add_member_process("m3", true).expect("add a learner");
    wait_local_value(&c, l, "after/restart", "ok", Duration::from_secs(20));
    wait_local_value(&c, l, "snap/000", "v0", Duration::from_secs(5));

    // Every voter agrees on the data.
    let voters = (0..3).map(|i| c.endpoint(i)).collect::<Vec<_>>().join(",");
    let hashes = c.hashkv(&voters).expect("hashkv");
    assert!(hashes.len() >= 3, "{hashes:?}");
    assert!(
        hashes.windows(2).all(|w| w[0].hash == w[1].hash),
        "hashes differ: {hashes:?}"
    );
}
