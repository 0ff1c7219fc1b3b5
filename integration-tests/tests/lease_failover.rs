//! Leases on 3-member clusters across leader failure: a lease kept alive (through every
//! endpoint, or through a follower) survives `kill -9` of the leader; a lease that is not
//! kept alive still expires after a failover, and not before its TTL; expiry deletes the
//! attached keys in one revision and watchers see the DELETE events; keep-alive and
//! time-to-live through a follower reach the leader's lessor.
//!
//! Each test starts its own cluster of the kind selected by `OXCD_CLUSTER_KIND` (`etcd` runs
//! the reference etcd 3.4.23, the default oxcd) with the harness's 50 ms heartbeat and 500 ms
//! election timeout, so every assertion is checked against etcd first. Each test is bounded
//! well under 60 s; on failure the cluster prints every member's log tail.
//!
//! Note on checkpoints: etcd 3.4.23 only checkpoints leases whose remaining TTL exceeds the
//! 5-minute checkpoint interval, even with `--experimental-enable-lease-checkpoint`, so a new
//! leader restarts a short lease at its full TTL (plus the election timeout). The expiry test
//! therefore bounds the expiry by one TTL after the failover, not by one TTL after the grant.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oxcd_integration_tests::cluster::tail;
use oxcd_integration_tests::etcdctl::etcdctl_binary;
use oxcd_integration_tests::{
    expect_ok, start_selected, unb64, Cluster, HarnessError, Json, Kind, Output,
};

/// etcd 3.4.23 panics at startup (a nil logger) when `--experimental-enable-lease-checkpoint`
/// is given without `--experimental-enable-lease-checkpoint-persist` under the default
/// capnslog logger, so both flags are passed; oxcd accepts both.
const CHECKPOINT_FLAGS: &[&str] = &[
    "--experimental-enable-lease-checkpoint",
    "--experimental-enable-lease-checkpoint-persist",
];

/// Starts a 3-member cluster of the selected kind, or `None` (test skipped).
fn start3(extra: &[&str]) -> Option<Cluster> {
    start_selected(3, extra)
}

/// Asserts that an etcdctl run succeeded and returns its output.
fn ok(out: Result<Output, HarnessError>, what: &str) -> Output {
    expect_ok(out, what)
}

/// `lease grant <ttl> -w json` through member `i`; returns the lease ID in hex.
fn grant(c: &Cluster, i: usize, ttl: u64) -> String {
    let out = ok(
        c.ctl(i, &["lease", "grant", &ttl.to_string(), "-w", "json"]),
        "lease grant",
    );
    let j = Json::parse(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let id = j
        .get("ID")
        .and_then(Json::as_u64)
        .unwrap_or_else(|| panic!("no lease ID in {}", out.stdout));
    assert_eq!(
        j.get("TTL").and_then(Json::as_i64),
        Some(ttl as i64),
        "granted TTL: {}",
        out.stdout
    );
    format!("{id:x}")
}

/// `put key value --lease=<hex>` through member `i`.
fn put_leased(c: &Cluster, i: usize, key: &str, hex: &str) {
    ok(
        c.ctl(i, &["put", key, "v", &format!("--lease={hex}")]),
        &format!("put {key} with lease {hex}"),
    );
}

/// A linearizable `get key -w json` through member `i`: `Some(lease)` if the key exists
/// (its lease, 0 for none), `None` if it does not; `Err` with stderr if the read failed.
fn read_key(c: &Cluster, i: usize, key: &str) -> Result<Option<i64>, String> {
    let out = c
        .ctl_timeout(i, Duration::from_secs(2), &["get", key, "-w", "json"])
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(tail(&out.stderr, 1));
    }
    let j = Json::parse(out.stdout.trim()).map_err(|e| e.to_string())?;
    Ok(j.get("kvs")
        .map(Json::items)
        .unwrap_or(&[])
        .iter()
        .find(|kv| {
            kv.get("key")
                .and_then(Json::scalar)
                .and_then(unb64)
                .as_deref()
                == Some(key)
        })
        .map(|kv| kv.get("lease").and_then(Json::as_i64).unwrap_or(0)))
}

/// `lease timetolive <hex> -w json` through member `i`: (remaining TTL, granted TTL); an
/// unknown or expired lease gives (-1, 0).
fn time_to_live(c: &Cluster, i: usize, hex: &str) -> (i64, i64) {
    let out = ok(
        c.ctl(i, &["lease", "timetolive", hex, "-w", "json"]),
        &format!("lease timetolive through {}", c.member(i).name()),
    );
    let j = Json::parse(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let ttl = j.get("ttl").and_then(Json::as_i64);
    let granted = j.get("granted-ttl").and_then(Json::as_i64);
    match (ttl, granted) {
        (Some(t), Some(g)) => (t, g),
        _ => panic!("no ttl/granted-ttl in {}", out.stdout),
    }
}

/// A background etcdctl process (`lease keep-alive`, `watch`) whose stdout is collected.
/// Dropping it SIGKILLs the process by PID and reaps it.
struct Background {
    child: Child,
    stdout: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts `etcdctl --endpoints=<endpoints> <args>`.
    fn spawn(endpoints: &str, args: &[&str]) -> Background {
        let mut child = Command::new(etcdctl_binary())
            .env("ETCDCTL_API", "3")
            .env_remove("ETCDCTL_ENDPOINTS")
            .arg(format!("--endpoints={endpoints}"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn background etcdctl");
        let stdout: Arc<Mutex<String>> = Arc::default();
        let mut pipe = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&stdout);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stdout lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Background {
            child,
            stdout,
            reader: Some(reader),
        }
    }

    /// Everything the process printed so far.
    fn output(&self) -> String {
        self.stdout.lock().expect("stdout lock").clone()
    }

    /// How often `needle` occurs in the output so far.
    fn count(&self, needle: &str) -> usize {
        self.output().matches(needle).count()
    }

    /// Whether the process still runs.
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Polls (bounded by `timeout`) until `needle` occurs at least `n` times in the output.
    fn wait_for(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.count(needle) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.count(needle) >= n
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// A member other than `not`.
fn other_than(not: usize) -> usize {
    (not + 1) % 3
}

/// Grants a `ttl` lease with an attached key, keeps it alive with a background etcdctl through
/// `keepalive_endpoints(cluster, leader)`, kills the leader with SIGKILL, and checks 3 x TTL
/// later that the key and the lease still exist on both survivors.
fn kept_alive_lease_survives_leader_kill(keepalive_endpoints: fn(&Cluster, usize) -> String) {
    const TTL: u64 = 5;
    let Some(mut c) = start3(&[]) else { return };
    let leader = c.leader_index().expect("initial leader");
    let via = other_than(leader);
    let hex = grant(&c, via, TTL);
    put_leased(&c, via, "ka/key", &hex);

    let endpoints = keepalive_endpoints(&c, leader);
    let mut ka = Background::spawn(&endpoints, &["lease", "keep-alive", &hex]);
    assert!(
        ka.wait_for("keepalived", 1, Duration::from_secs(5)),
        "no keepalive answer through {endpoints} before the kill: {:?}",
        ka.output()
    );
    let before = ka.count("keepalived");

    c.kill9(leader).expect("kill -9 the leader");
    let killed = Instant::now();
    let new_leader = c
        .wait_leader(Duration::from_secs(15))
        .expect("a new leader");
    println!(
        "killed leader {}; new leader {} after {:?}; keepalive via {endpoints}",
        c.member(leader).name(),
        c.member(new_leader).name(),
        killed.elapsed()
    );

    // Without renewals after the failover the lease would be gone one TTL (plus the
    // election timeout) after the new leader took over.
    let until = killed + Duration::from_secs(3 * TTL);
    std::thread::sleep(until.saturating_duration_since(Instant::now()));

    assert!(
        ka.running(),
        "etcdctl lease keep-alive exited: {:?}",
        ka.output()
    );
    let after = ka.count("keepalived");
    assert!(
        after >= before + 3,
        "too few keepalives answered after the failover ({before} before, {after} after): {:?}",
        ka.output()
    );
    let lease_id = i64::from_str_radix(&hex, 16).expect("hex lease ID");
    for i in c.live_indices() {
        assert_eq!(
            read_key(&c, i, "ka/key"),
            Ok(Some(lease_id)),
            "{}: the kept-alive key is gone {}s after the leader was killed; keepalive output: {:?}",
            c.member(i).name(),
            3 * TTL,
            ka.output()
        );
        let (remaining, granted) = time_to_live(&c, i, &hex);
        assert_eq!(
            granted,
            TTL as i64,
            "granted TTL via {}",
            c.member(i).name()
        );
        assert!(
            remaining > 0 && remaining <= TTL as i64 + 1,
            "remaining TTL {remaining} via {} for a kept-alive {TTL}s lease",
            c.member(i).name()
        );
    }
}

#[test]
fn a_lease_kept_alive_through_every_endpoint_survives_kill9_of_the_leader() {
    kept_alive_lease_survives_leader_kill(|c, _| c.endpoints());
}

#[test]
fn a_lease_kept_alive_through_a_follower_survives_kill9_of_the_leader() {
    kept_alive_lease_survives_leader_kill(|c, leader| c.endpoint(other_than(leader)));
}

#[test]
fn an_unrenewed_lease_expires_after_a_failover_but_not_before_its_ttl() {
    const TTL: u64 = 10;
    const KILL_AFTER: Duration = Duration::from_secs(6);
    let Some(mut c) = start3(CHECKPOINT_FLAGS) else {
        return;
    };
    let leader = c.leader_index().expect("initial leader");
    let via = other_than(leader);
    let granted_at = Instant::now();
    let hex = grant(&c, via, TTL);
    put_leased(&c, via, "exp/key", &hex);
    let lease_id = i64::from_str_radix(&hex, 16).expect("hex lease ID");

    std::thread::sleep(KILL_AFTER.saturating_sub(granted_at.elapsed()));
    c.kill9(leader).expect("kill -9 the leader");
    let killed = Instant::now();

    // The lease may be restarted at its full TTL by the new leader (etcd 3.4 does that for
    // leases shorter than the 5-minute checkpoint interval), so it is gone at the latest one
    // TTL after the failover plus the election and a margin.
    let bound = killed + Duration::from_secs(TTL + 5);
    let must_exist_until = granted_at + Duration::from_millis(TTL * 1000 - 1500);
    let mut last_seen = None;
    let mut gone_at = None;
    let mut errors = Vec::new();
    while Instant::now() < bound {
        let poll = Instant::now();
        for i in c.live_indices() {
            match read_key(&c, i, "exp/key") {
                Ok(Some(l)) => {
                    assert_eq!(l, lease_id, "the key's lease changed");
                    last_seen = Some(poll);
                }
                Ok(None) => {
                    assert!(
                        poll >= must_exist_until,
                        "{}: the key of a {TTL}s lease was gone {:?} after the grant (leader \
                         killed {:?} after the grant)",
                        c.member(i).name(),
                        poll - granted_at,
                        killed - granted_at
                    );
                    gone_at.get_or_insert(poll);
                }
                Err(e) => errors.push(format!("{:?}: {e}", poll - granted_at)),
            }
        }
        if gone_at.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "{TTL}s lease: leader killed {:?} after the grant; key last seen {:?}, gone {:?} after \
         the grant; read errors during the failover: {errors:?}",
        killed - granted_at,
        last_seen.map(|t| t - granted_at),
        gone_at.map(|t| t - granted_at),
    );
    let gone_at = gone_at.unwrap_or_else(|| {
        panic!(
            "the key of a {TTL}s lease still existed {:?} after the grant ({:?} after the \
             leader was killed); read errors: {errors:?}",
            bound - granted_at,
            bound - killed
        )
    });
    assert!(
        last_seen.is_some_and(|t| t >= must_exist_until - Duration::from_secs(2) && t <= gone_at),
        "the key was not seen shortly before the TTL ran out (last seen {:?} after the grant)",
        last_seen.map(|t| t - granted_at)
    );
    // oxcd checkpoints every lease each quarter of its TTL, so the new leader resumes from
    // the remaining TTL (etcd issue 9888): gone within a quarter TTL plus the election and
    // polling margin of the original deadline, not a full TTL after the failover.
    if c.kind() == Kind::Oxcd {
        let limit = Duration::from_millis(TTL * 1000 + TTL * 250 + 2000);
        assert!(
            gone_at - granted_at <= limit,
            "the key of a {TTL}s lease lived {:?} after the grant (limit {limit:?}): the remaining \
             TTL did not survive the leader change",
            gone_at - granted_at
        );
    }
    // Every survivor agrees that the lease is gone, and the key is gone everywhere.
    let deadline = Instant::now() + Duration::from_secs(5);
    for i in c.live_indices() {
        loop {
            let (remaining, granted) = time_to_live(&c, i, &hex);
            let key = read_key(&c, i, "exp/key");
            if (remaining, granted) == (-1, 0) && key == Ok(None) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} still shows the expired lease (ttl {remaining}, granted {granted}) or its \
                 key ({key:?})",
                c.member(i).name()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn lease_expiry_deletes_the_attached_keys_and_watchers_see_the_deletes() {
    const TTL: u64 = 3;
    let Some(mut c) = start3(&[]) else { return };
    let leader = c.leader_index().expect("initial leader");
    let follower = other_than(leader);
    // One watcher on a follower, one on the leader.
    let watchers = [
        Background::spawn(&c.endpoint(follower), &["watch", "--prefix", "w/"]),
        Background::spawn(&c.endpoint(leader), &["watch", "--prefix", "w/"]),
    ];
    // A watch is established once it sees a put of w/ready (etcdctl may take a moment to
    // start, so the put is repeated until both saw one).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watchers.iter().all(|w| w.count("w/ready") > 0) {
        assert!(
            Instant::now() < deadline,
            "a watcher did not start: {:?}",
            watchers.iter().map(Background::output).collect::<Vec<_>>()
        );
        ok(c.ctl(leader, &["put", "w/ready", "r"]), "put w/ready");
        std::thread::sleep(Duration::from_millis(300));
    }
    let hex = grant(&c, follower, TTL);
    put_leased(&c, follower, "w/a", &hex);
    put_leased(&c, leader, "w/b", &hex);
    ok(c.ctl(follower, &["put", "w/keep", "k"]), "put w/keep");

    // etcd checks expiry every 500 ms; expect both deletes well within TTL + 10 s.
    for w in &watchers {
        assert!(
            w.wait_for("DELETE", 2, Duration::from_secs(TTL + 10)),
            "a watcher did not see the expiry deletes: {:?}",
            w.output()
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    for w in &watchers {
        let out = w.output();
        for key in ["w/a", "w/b"] {
            assert!(
                out.contains(&format!("DELETE\n{key}\n")),
                "no DELETE event for {key}: {out:?}"
            );
        }
        assert_eq!(w.count("DELETE"), 2, "unexpected DELETE events: {out:?}");
    }

    // Both keys went at one revision; the unleased key stayed.
    let out = ok(
        c.ctl(follower, &["get", "w/", "--prefix", "-w", "json"]),
        "get w/",
    );
    let j = Json::parse(out.stdout.trim()).expect("get json");
    let rev = j
        .at(&["header", "revision"])
        .and_then(Json::as_i64)
        .expect("header.revision");
    let keys_at = |rev: i64| -> Vec<String> {
        let out = ok(
            c.ctl(
                follower,
                &[
                    "get",
                    "w/",
                    "--prefix",
                    "--keys-only",
                    &format!("--rev={rev}"),
                ],
            ),
            "historical get",
        );
        out.stdout
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    assert_eq!(keys_at(rev), ["w/keep", "w/ready"], "keys after the expiry");
    assert_eq!(
        keys_at(rev - 1),
        ["w/a", "w/b", "w/keep", "w/ready"],
        "the expiry must delete both keys in its one revision {rev}"
    );
    for i in 0..3 {
        assert_eq!(
            time_to_live(&c, i, &hex),
            (-1, 0),
            "{} still knows the expired lease",
            c.member(i).name()
        );
    }
}

#[test]
fn keepalive_and_timetolive_through_a_follower_reach_the_leader() {
    const TTL: u64 = 10;
    let Some(mut c) = start3(&[]) else { return };
    let leader = c.leader_index().expect("initial leader");
    let follower = other_than(leader);
    let hex = grant(&c, follower, TTL);

    // The follower reports the leader's decreasing remaining TTL.
    let (first, granted) = time_to_live(&c, follower, &hex);
    assert_eq!(granted, TTL as i64);
    assert!(
        (TTL as i64 - 2..=TTL as i64).contains(&first),
        "remaining TTL right after the grant: {first}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    let (second, _) = time_to_live(&c, follower, &hex);
    assert!(
        second < first && second >= first - 4,
        "remaining TTL via the follower did not decrease by about 2.5 s: {first} -> {second}"
    );
    let (at_leader, _) = time_to_live(&c, leader, &hex);
    assert!(
        (at_leader - second).abs() <= 1,
        "the follower ({second}) and the leader ({at_leader}) disagree on the remaining TTL"
    );

    // A keep-alive through the follower renews the lease at the leader.
    let out = ok(
        c.ctl(follower, &["lease", "keep-alive", "--once", &hex]),
        "keep-alive --once through the follower",
    );
    assert_eq!(
        out.stdout.trim(),
        format!("lease {hex:0>16} keepalived with TTL({TTL})"),
        "keep-alive output"
    );
    for i in [follower, leader] {
        let (renewed, _) = time_to_live(&c, i, &hex);
        assert!(
            renewed > second && renewed >= TTL as i64 - 2,
            "{}: remaining TTL after the renewal through the follower: {renewed} (before: \
             {second})",
            c.member(i).name()
        );
    }

    // A background keep-alive through the follower holds the lease past 2 x TTL.
    put_leased(&c, follower, "fka/key", &hex);
    let ka = Background::spawn(&c.endpoint(follower), &["lease", "keep-alive", &hex]);
    std::thread::sleep(Duration::from_secs(2 * TTL));
    assert!(
        ka.count("keepalived") >= 4,
        "too few keepalive answers through the follower: {:?}",
        ka.output()
    );
    let lease_id = i64::from_str_radix(&hex, 16).expect("hex lease ID");
    for i in 0..3 {
        assert_eq!(
            read_key(&c, i, "fka/key"),
            Ok(Some(lease_id)),
            "{}: the key kept alive through the follower is gone",
            c.member(i).name()
        );
    }
    drop(ka);

    // Unknown leases through the follower: the leader's answers.
    let unknown = ok(
        c.ctl(follower, &["lease", "timetolive", "1234", "-w", "json"]),
        "timetolive of an unknown lease",
    );
    let j = Json::parse(unknown.stdout.trim()).expect("json");
    assert_eq!(
        (
            j.get("ttl").and_then(Json::as_i64),
            j.get("granted-ttl").and_then(Json::as_i64)
        ),
        (Some(-1), Some(0)),
        "unknown lease via the follower: {}",
        unknown.stdout
    );
    let ka_unknown = c
        .ctl(follower, &["lease", "keep-alive", "--once", "1234"])
        .expect("etcdctl ran");
    assert!(
        !ka_unknown.success()
            && ka_unknown
                .stderr
                .contains("Error: etcdserver: requested lease not found"),
        "keep-alive of an unknown lease via the follower: {ka_unknown:?}"
    );
}
