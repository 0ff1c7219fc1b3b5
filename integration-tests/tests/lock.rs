//! Lock and Election on oxcd (oxcd only, no reference run): `etcdctl lock` runs never overlap;
//! the `v3lockpb.Lock` RPC and `etcdctl lock` (which runs concurrency.Mutex client-side over
//! KV/Lease/Watch) exclude each other, since both use the key `<name>/<lease hex>`; and the
//! `v3electionpb.Election` RPCs elect in create-revision order, hand over on Resign, and
//! Observe reports the leaders in order.
//!
//! Every wait is bounded; the server and every etcdctl are killed by PID by the harness.

use std::path::Path;
use std::time::{Duration, Instant};

use oxcd_integration_tests::etcdctl::{etcdctl_raw, ETCDCTL_DEADLINE};
use oxcd_integration_tests::grpc::{channel, runtime};
use oxcd_integration_tests::{etcdctl, start_oxcd};
use oxcd_proto::etcdserverpb::lease_client::LeaseClient;
use oxcd_proto::etcdserverpb::LeaseGrantRequest;
use oxcd_proto::v3electionpb::election_client::ElectionClient;
use oxcd_proto::v3electionpb::{
    CampaignRequest, LeaderKey, LeaderRequest, ProclaimRequest, ResignRequest,
};
use oxcd_proto::v3lockpb::lock_client::LockClient;
use oxcd_proto::v3lockpb::{LockRequest, UnlockRequest};
use tokio::time::timeout;
use tonic::transport::Channel;

/// Bound on one RPC or one receive.
const STEP: Duration = Duration::from_secs(10);
/// How long a blocked waiter is watched to show it stays blocked.
const HOLD: Duration = Duration::from_millis(1500);

async fn grant(ch: &Channel, ttl: i64) -> i64 {
    let mut lease = LeaseClient::new(ch.clone());
    timeout(STEP, lease.lease_grant(LeaseGrantRequest { ttl, id: 0 }))
        .await
        .expect("grant timed out")
        .expect("grant")
        .into_inner()
        .id
}

/// `etcdctl lock <name> -- sh -c <script>` in a thread (no command timeout applies to lock).
fn spawn_ctl_lock(
    endpoint: String,
    name: &'static str,
    script: String,
) -> std::thread::JoinHandle<oxcd_integration_tests::Output> {
    std::thread::spawn(move || {
        etcdctl_raw(
            &endpoint,
            &["lock", name, "--", "sh", "-c", &script],
            None,
            ETCDCTL_DEADLINE,
        )
        .expect("run etcdctl lock")
    })
}

/// Runs `f` on `rt`, bounded by [`STEP`].
fn call<F: std::future::Future>(rt: &tokio::runtime::Runtime, what: &str, f: F) -> F::Output {
    rt.block_on(async { timeout(STEP, f).await })
        .unwrap_or_else(|_| panic!("{what} timed out"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits (bounded) until `path` contains `needle`.
fn wait_for(path: &Path, needle: &str) {
    let start = Instant::now();
    while !read(path).contains(needle) {
        assert!(
            start.elapsed() < STEP,
            "timed out waiting for {needle:?} in {}",
            read(path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn etcdctl_lock_runs_never_overlap() {
    let Some(server) = start_oxcd() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("cs.log");
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let script = format!(
                "echo start {i} >> {p}; sleep 0.2; echo end {i} >> {p}",
                p = log.display()
            );
            spawn_ctl_lock(server.endpoint(), "mylock", script)
        })
        .collect();
    for r in runs {
        let out = r.join().expect("etcdctl thread");
        assert!(out.success(), "etcdctl lock failed: {out:?}");
    }
    let text = read(&log);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "every run enters once: {text}");
    for pair in lines.chunks(2) {
        let start = pair[0].strip_prefix("start ");
        let end = pair[1].strip_prefix("end ");
        assert!(
            start.is_some() && start == end,
            "critical sections overlap: {text}"
        );
    }
    // Every run released its key.
    let left = etcdctl(&server, &["get", "--prefix", "mylock/"]).expect("get");
    assert!(
        left.success() && left.stdout.is_empty(),
        "keys left: {left:?}"
    );
}

#[test]
fn lock_rpc_and_etcdctl_lock_exclude_each_other() {
    let Some(server) = start_oxcd() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("mix.log");
    let rt = runtime();
    let ch = rt.block_on(channel(&server.endpoint()));
    let mut lock = LockClient::new(ch.clone());

    // RPC holds, etcdctl waits.
    let lease = rt.block_on(grant(&ch, 30));
    let held = call(
        &rt,
        "lock",
        lock.lock(LockRequest {
            name: b"mix".to_vec(),
            lease,
        }),
    )
    .expect("lock")
    .into_inner();
    assert_eq!(held.key, format!("mix/{lease:x}").into_bytes());
    let script = format!("echo ctl >> {}", log.display());
    let ctl = spawn_ctl_lock(server.endpoint(), "mix", script);
    std::thread::sleep(HOLD);
    assert_eq!(
        read(&log),
        "",
        "etcdctl entered while the RPC held the lock"
    );
    call(
        &rt,
        "unlock",
        lock.unlock(UnlockRequest {
            key: held.key.clone(),
        }),
    )
    .expect("unlock");
    let out = ctl.join().expect("etcdctl thread");
    assert!(out.success(), "etcdctl lock failed: {out:?}");
    assert_eq!(read(&log), "ctl\n");

    // etcdctl holds, the RPC waits until it is done.
    let script = format!(
        "echo begin >> {p}; sleep 1; echo done >> {p}",
        p = log.display()
    );
    let ctl = spawn_ctl_lock(server.endpoint(), "mix", script);
    wait_for(&log, "begin");
    let lease2 = rt.block_on(grant(&ch, 30));
    let got = call(
        &rt,
        "lock",
        lock.lock(LockRequest {
            name: b"mix".to_vec(),
            lease: lease2,
        }),
    )
    .expect("lock")
    .into_inner();
    assert!(
        read(&log).ends_with("done\n"),
        "the RPC got the lock while etcdctl held it: {}",
        read(&log)
    );
    assert_eq!(got.key, format!("mix/{lease2:x}").into_bytes());
    let out = ctl.join().expect("etcdctl thread");
    assert!(out.success(), "etcdctl lock failed: {out:?}");

    // A waiter whose client gives up does not leave its key behind.
    let lease3 = rt.block_on(grant(&ch, 30));
    let gave_up = rt.block_on(async {
        timeout(
            HOLD,
            lock.lock(LockRequest {
                name: b"mix".to_vec(),
                lease: lease3,
            }),
        )
        .await
    });
    assert!(gave_up.is_err(), "lock should still be held by lease2");
    let waiter = format!("mix/{lease3:x}");
    let start = Instant::now();
    loop {
        let keys = etcdctl(&server, &["get", "--prefix", "--keys-only", "mix/"]).expect("get");
        if !keys.stdout.contains(&waiter) {
            break;
        }
        assert!(
            start.elapsed() < STEP,
            "abandoned waiter key stayed: {keys:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leader_key(resp: Option<LeaderKey>) -> LeaderKey {
    resp.expect("campaign returned a leader key")
}

#[test]
fn election_hands_over_in_order() {
    let Some(server) = start_oxcd() else { return };
    let rt = runtime();
    rt.block_on(async {
        let ch = channel(&server.endpoint()).await;
        let mut el = ElectionClient::new(ch.clone());

        let none = timeout(
            STEP,
            el.leader(LeaderRequest {
                name: b"vote".to_vec(),
            }),
        )
        .await
        .expect("leader timed out")
        .expect_err("no leader yet");
        assert_eq!(none.message(), "election: no leader");

        let (la, lb) = (grant(&ch, 30).await, grant(&ch, 30).await);
        let a = timeout(
            STEP,
            el.campaign(CampaignRequest {
                name: b"vote".to_vec(),
                lease: la,
                value: b"alice".to_vec(),
            }),
        )
        .await
        .expect("campaign a timed out")
        .expect("campaign a")
        .into_inner();
        let a = leader_key(a.leader);
        assert_eq!(a.key, format!("vote/{la:x}").into_bytes());
        assert_eq!((a.name.as_slice(), a.lease), (&b"vote"[..], la));

        let mut observe = timeout(
            STEP,
            el.observe(LeaderRequest {
                name: b"vote".to_vec(),
            }),
        )
        .await
        .expect("observe timed out")
        .expect("observe")
        .into_inner();

        let mut el_b = el.clone();
        let b_task = tokio::spawn(async move {
            el_b.campaign(CampaignRequest {
                name: b"vote".to_vec(),
                lease: lb,
                value: b"bob".to_vec(),
            })
            .await
        });
        tokio::time::sleep(HOLD).await;
        assert!(!b_task.is_finished(), "second candidate elected early");

        let leader = timeout(
            STEP,
            el.leader(LeaderRequest {
                name: b"vote".to_vec(),
            }),
        )
        .await
        .expect("leader timed out")
        .expect("leader")
        .into_inner()
        .kv
        .expect("leader kv");
        assert_eq!(&leader.value[..], b"alice");
        assert_eq!(leader.create_revision, a.rev);

        timeout(
            STEP,
            el.proclaim(ProclaimRequest {
                leader: Some(a.clone()),
                value: b"alice2".to_vec(),
            }),
        )
        .await
        .expect("proclaim timed out")
        .expect("proclaim");

        timeout(
            STEP,
            el.resign(ResignRequest {
                leader: Some(a.clone()),
            }),
        )
        .await
        .expect("resign timed out")
        .expect("resign");
        let b = timeout(STEP, b_task)
            .await
            .expect("campaign b timed out")
            .expect("campaign b task")
            .expect("campaign b")
            .into_inner();
        let b = leader_key(b.leader);
        assert_eq!(b.key, format!("vote/{lb:x}").into_bytes());
        assert!(b.rev > a.rev);

        let stale = timeout(
            STEP,
            el.proclaim(ProclaimRequest {
                leader: Some(a.clone()),
                value: b"again".to_vec(),
            }),
        )
        .await
        .expect("proclaim timed out")
        .expect_err("a resigned");
        assert_eq!(stale.message(), "election: not leader");

        let mut seen = Vec::new();
        while seen.len() < 3 {
            let r = timeout(STEP, observe.message())
                .await
                .expect("observe timed out")
                .expect("observe stream")
                .expect("observe ended");
            let kv = r.kv.expect("observed kv");
            seen.push(String::from_utf8_lossy(&kv.value).into_owned());
        }
        assert_eq!(seen, ["alice", "alice2", "bob"]);

        // etcdctl sees the candidate key concurrency.Election would have written.
        let out = etcdctl(&server, &["get", "--prefix", "vote/"]).expect("get");
        assert_eq!(out.stdout, format!("vote/{lb:x}\nbob\n"));
    });
}
