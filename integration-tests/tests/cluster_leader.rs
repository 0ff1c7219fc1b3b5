//! `hasleader` streams (etcdctl watch sets the metadata): on a member that lost its leader
//! for three election timeouts, an open watch ends with "etcdserver: no leader", as etcd's
//! leader monitor does; once the cluster heals, watches work again.

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use oxcd_integration_tests::cluster::{cluster_kind, kind_available, tail, Cluster};
use oxcd_integration_tests::etcdctl::spawn_etcdctl;

/// Starts `etcdctl watch key` against `endpoint` in the background.
fn spawn_watch(endpoint: &str, key: &str) -> Child {
    spawn_etcdctl(endpoint, &["watch", key], true).expect("spawn etcdctl watch")
}

/// Waits (bounded) for `child` to exit; kills it on timeout. Returns (exited, stdout, stderr).
fn wait_exit(mut child: Child, timeout: Duration) -> (bool, String, String) {
    let deadline = Instant::now() + timeout;
    let exited = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break true;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    (exited, out, err)
}

#[test]
fn a_watch_requiring_a_leader_ends_when_the_member_loses_it() {
    let kind = cluster_kind();
    if !kind_available(kind) {
        return;
    }
    let mut c = Cluster::start(kind, 3, &[]).expect("start a 3-member cluster");
    let watcher = 0;
    let watch = spawn_watch(&c.endpoint(watcher), "lead/key");
    std::thread::sleep(Duration::from_millis(500));
    let put = c.ctl(watcher, &["put", "lead/key", "v1"]).expect("put ran");
    assert!(put.success(), "put: {}", tail(&put.stderr, 2));

    for i in 1..3 {
        c.stop_signal(i).expect("SIGSTOP a peer");
    }
    // check-quorum drops the leader after an election timeout (500 ms), then the monitor
    // waits three more; give it a generous bound.
    let (exited, out, err) = wait_exit(watch, Duration::from_secs(15));
    for i in 1..3 {
        c.cont(i).expect("SIGCONT");
    }
    assert!(
        exited,
        "the watch never ended; stdout={out:?} stderr={err:?}"
    );
    assert!(out.contains("v1"), "the watch missed the put: {out:?}");
    assert!(
        err.contains("etcdserver: no leader"),
        "the watch did not end with 'no leader': {err:?}"
    );

    // Healed: a new watch sees a new put.
    c.wait_leader(Duration::from_secs(15))
        .expect("a leader after healing");
    let watch = spawn_watch(&c.endpoint(watcher), "lead/key");
    std::thread::sleep(Duration::from_millis(500));
    let put = c.ctl(1, &["put", "lead/key", "v2"]).expect("put ran");
    assert!(put.success(), "put after healing: {}", tail(&put.stderr, 2));
    std::thread::sleep(Duration::from_millis(500));
    let (_, out, _) = wait_exit(watch, Duration::from_millis(500));
    assert!(
        out.contains("v2"),
        "the healed watch missed the put: {out:?}"
    );
}
