//! etcd's corruption checks, on etcd 3.4.23 and on oxcd, with one member's data made to
//! differ from its peers' while raft stays consistent:
//! - oxcd: the member runs with `FAILPOINTS=apply-put-corrupt-value=return` (a
//!   `failpoints` build), so it stores every put's value with `-corrupt` appended;
//! - etcd: the member is stopped and its bbolt file patched in place: every `corruptme`
//!   in it becomes `CORRUPTme` (same length; bbolt has no checksums on data pages, so etcd
//!   reads the altered values back as its own).
//!
//! `--experimental-initial-corrupt-check`: the corrupted member, restarted with it, exits
//! non-zero with etcd's "found data inconsistency with peers"; a healthy member restarted
//! with it starts and serves. (etcd 3.4.23 knows its peers at that point only from its last
//! raft snapshot, so the members snapshot every 5 entries; oxcd reads them from its state
//! store and checks its peers whether or not it has a snapshot.)
//!
//! `--experimental-corrupt-check-time`: with no divergence the leader checks its
//! followers and raises nothing; once a member diverges, the CORRUPT alarm is raised (for
//! member 0, as etcd 3.4.23 does: `alarm list` prints `alarm:CORRUPT`) and writes fail
//! with "etcdserver: corrupt cluster". The
//! transcripts of the two servers (alarm list, the outcome of each request kind, /health)
//! must be equal.

use std::path::Path;
use std::time::{Duration, Instant};

use oxcd_integration_tests::cluster::tail;
use oxcd_integration_tests::{kind_available, Cluster, HarnessError, Kind};

/// The check interval of the periodic tests.
const CHECK_TIME: &str = "--experimental-corrupt-check-time=1s";
/// The start-up check.
const INITIAL_CHECK: &str = "--experimental-initial-corrupt-check";
/// A raft snapshot every few entries (see [`initial_check_scenario`]).
const SNAPSHOT_OFTEN: &str = "--snapshot-count=5";
/// The failpoint that makes an oxcd member store altered values.
const CORRUPT_FAILPOINT: (&str, &str) = ("FAILPOINTS", "apply-put-corrupt-value=return");
/// The text the values carry, which the etcd side patches.
const MARKER: &str = "corruptme";
/// How long a corrupted member may take to refuse to start.
const REFUSE_WITHIN: Duration = Duration::from_secs(20);
/// How long the periodic check may take to raise the alarm.
const ALARM_WITHIN: Duration = Duration::from_secs(20);

fn start(kind: Kind, args: &[&str]) -> Cluster {
    assert!(
        kind_available(kind),
        "{kind:?} is not available (etcd on PATH, OXCD_BIN for a failpoints build)"
    );
    Cluster::start(kind, 3, args).expect("start a 3-member cluster")
}

/// Puts `n` keys `corrupt/<first + i>` with values carrying [`MARKER`].
fn put_keys(c: &mut Cluster, first: usize, n: usize) {
    for i in first..first + n {
        let key = format!("corrupt/{i:02}");
        let value = format!("{MARKER}-{i:02}");
        let out = c.ctl_live(&["put", &key, &value]).expect("put ran");
        assert!(out.success(), "put {key}: {}", tail(&out.stderr, 3));
    }
}

/// Replaces every [`MARKER`] in the file at `path` with its upper-case form, in place.
fn patch_bbolt(path: &Path) -> usize {
    let mut data = std::fs::read(path).expect("read the bbolt file");
    let upper = MARKER.to_uppercase();
    let mut patched = 0;
    let mut i = 0;
    while i + MARKER.len() <= data.len() {
        if &data[i..i + MARKER.len()] == MARKER.as_bytes() {
            data[i..i + MARKER.len()].copy_from_slice(upper.as_bytes());
            patched += 1;
            i += MARKER.len();
        } else {
            i += 1;
        }
    }
    std::fs::write(path, data).expect("write the bbolt file");
    patched
}

/// Makes member `j`'s data diverge from its peers' from now on (oxcd: the failpoint, the
/// values of later puts) or up to now (etcd: the patched file), and restarts it.
fn corrupt_member(c: &mut Cluster, j: usize) -> Result<(), HarnessError> {
    c.terminate(j, Duration::from_secs(15))
        .expect("stop the member gracefully");
    match c.kind() {
        Kind::Etcd => {
            patch_member(c, j);
            c.set_member_own(j, &[], &[]);
        }
        Kind::Oxcd => c.set_member_own(j, &[], &[CORRUPT_FAILPOINT]),
    }
    c.restart(j)
}

/// Patches the bbolt file of the stopped etcd member `j` ([`patch_bbolt`]).
fn patch_member(c: &Cluster, j: usize) {
    let db = c
        .member(j)
        .data_dir()
        .join("member")
        .join("snap")
        .join("db");
    let patched = patch_bbolt(&db);
    assert!(patched > 0, "no {MARKER} found in {}", db.display());
}

/// Polls `endpoint hashkv` until the members agree on a revision; returns whether their
/// hashes then differ.
fn hashes_differ(c: &Cluster) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = c.hashkv(&c.endpoints()).expect("endpoint hashkv");
        let same_rev = h.windows(2).all(|w| w[0].revision == w[1].revision);
        if same_rev || Instant::now() > deadline {
            assert!(same_rev, "members never reached one revision: {h:?}");
            return h.windows(2).any(|w| w[0].hash != w[1].hash);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the start-up check did: the corrupted member's exit and log, how long it took,
/// and whether a healthy member restarted with the flag serves.
struct InitialOutcome {
    refused: Result<(), HarnessError>,
    refused_after: Duration,
    /// The end of the corrupted member's log.
    corrupted_log: String,
    healthy_restart: Result<(), HarnessError>,
    healthy_put: String,
}

fn initial_check_scenario(kind: Kind) -> InitialOutcome {
    // etcd 3.4.23 knows its peers at that point only from its last raft snapshot (before it,
    // it checks no one and passes): snapshot often.
    let mut c = start(kind, &[SNAPSHOT_OFTEN]);
    let j = 2;
    put_keys(&mut c, 0, 10);
    if kind == Kind::Oxcd {
        // The failpoint alters what the member applies from now on.
        corrupt_member(&mut c, j).expect("restart the member with the failpoint");
        put_keys(&mut c, 5, 5);
    }
    assert!(
        kind == Kind::Etcd || hashes_differ(&c),
        "the failpoint did not make the member's hash differ"
    );
    c.terminate(j, Duration::from_secs(15))
        .expect("stop the corrupted member");
    if kind == Kind::Etcd {
        patch_member(&c, j);
    }
    c.set_member_own(j, &[INITIAL_CHECK], &[]);
    let started = Instant::now();
    let refused = c.restart(j);
    let refused_after = started.elapsed();
    let corrupted_log = c.member(j).log_tail(60);
    // The corrupted member is down now: the healthy one checks against the other.
    let h = 0;
    c.terminate(h, Duration::from_secs(15))
        .expect("stop a healthy member");
    c.set_member_own(h, &[INITIAL_CHECK], &[]);
    let healthy_restart = c.restart(h);
    let healthy_put = c
        .ctl(h, &["put", "after", "restart"])
        .expect("put ran")
        .outcome();
    InitialOutcome {
        refused,
        refused_after,
        corrupted_log,
        healthy_restart,
        healthy_put,
    }
}

fn assert_initial(kind: Kind, o: &InitialOutcome) {
    match &o.refused {
        Err(HarnessError::ExitedDuringStartup { status, log_tail }) => {
            assert!(
                !status.ends_with("exit status: 0"),
                "{kind:?}: the corrupted member exited with success: {status}"
            );
            assert!(
                log_tail.contains("found data inconsistency with peers"),
                "{kind:?}: no \"found data inconsistency with peers\" in:\n{log_tail}"
            );
        }
        other => panic!(
            "{kind:?}: the corrupted member did not refuse to start: {other:?}\n{}",
            o.corrupted_log
        ),
    }
    assert!(
        o.refused_after < REFUSE_WITHIN,
        "{kind:?}: refusing took {:?}",
        o.refused_after
    );
    if let Err(e) = &o.healthy_restart {
        panic!("{kind:?}: a healthy member did not start with the check: {e}");
    }
    assert_eq!(
        o.healthy_put, "OK: OK",
        "{kind:?}: put after the healthy restart"
    );
}

#[test]
fn initial_check_refuses_a_corrupted_member_on_oxcd() {
    let o = initial_check_scenario(Kind::Oxcd);
    eprintln!(
        "oxcd: the corrupted member refused in {:?}",
        o.refused_after
    );
    assert_initial(Kind::Oxcd, &o);
}

#[test]
fn initial_check_refuses_a_corrupted_member_on_etcd() {
    let o = initial_check_scenario(Kind::Etcd);
    eprintln!(
        "etcd: the corrupted member refused in {:?}",
        o.refused_after
    );
    assert_initial(Kind::Etcd, &o);
}

/// The periodic check on `kind`: the transcript, and how long the alarm took once the
/// running cluster held diverged data.
fn periodic_transcript(kind: Kind) -> (Vec<String>, Duration) {
    let mut c = start(kind, &[CHECK_TIME]);
    let mut t = Vec::new();
    put_keys(&mut c, 0, 5);
    // Three intervals with the members in agreement: no alarm.
    std::thread::sleep(Duration::from_millis(3500));
    let ctl = |c: &mut Cluster, args: &[&str]| c.ctl_live(args).expect("etcdctl ran").outcome();
    t.push(format!(
        "alarm list, data agree: {}",
        ctl(&mut c, &["alarm", "list"])
    ));
    let leader = c.leader_index().expect("a leader");
    let checks = c.member(leader).log_tail(400);
    assert!(
        checks.contains("finished peer corruption check"),
        "{kind:?}: the leader logged no corruption check:\n{}",
        tail(&checks, 20)
    );

    // A follower diverges.
    let j = (leader + 1) % 3;
    corrupt_member(&mut c, j).expect("restart the corrupted member");
    if kind == Kind::Oxcd {
        // The failpoint alters what the member applies from now on. (etcd's data already
        // differ: a put now could meet the alarm.)
        put_keys(&mut c, 5, 1);
    }
    // From the moment the running cluster holds diverged data.
    let started = Instant::now();
    let deadline = Instant::now() + ALARM_WITHIN;
    let alarms = loop {
        let out = ctl(&mut c, &["alarm", "list"]);
        if out != "OK: " || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let took = started.elapsed();
    t.push(format!("alarm list, member diverged: {alarms}"));
    // Requests on a healthy member.
    let h = (j + 1) % 3;
    let on = |c: &Cluster, args: &[&str]| c.ctl(h, args).expect("etcdctl ran").outcome();
    t.push(format!("put: {}", on(&c, &["put", "corrupt/new", "v"])));
    t.push(format!(
        "get (keys only): {}",
        on(&c, &["get", "corrupt/00", "--keys-only"])
    ));
    t.push(format!(
        "get --consistency=s (keys only): {}",
        on(&c, &["get", "corrupt/00", "--keys-only", "--consistency=s"])
    ));
    t.push(format!("del: {}", on(&c, &["del", "corrupt/00"])));
    t.push(format!("compact 2: {}", on(&c, &["compact", "2"])));
    t.push(format!(
        "lease grant: {}",
        on(&c, &["lease", "grant", "60"])
    ));
    let health = oxcd_integration_tests::http::request(c.client_port(h), "GET", "/health", None)
        .expect("GET /health");
    t.push(format!(
        "GET /health: {} {}",
        health.status,
        health.body.trim()
    ));
    t.push(format!(
        "alarm disarm: {}",
        ctl(&mut c, &["alarm", "disarm"])
    ));
    (t, took)
}

#[test]
fn periodic_check_raises_corrupt_as_etcd_does() {
    let (etcd, etcd_took) = periodic_transcript(Kind::Etcd);
    let (oxcd, oxcd_took) = periodic_transcript(Kind::Oxcd);
    eprintln!("CORRUPT raised after {etcd_took:?} on etcd, {oxcd_took:?} on oxcd");
    eprintln!("etcd transcript:\n{}", etcd.join("\n"));
    assert_eq!(etcd[0], "alarm list, data agree: OK: ");
    assert_eq!(etcd[1], "alarm list, member diverged: OK: alarm:CORRUPT");
    assert_eq!(etcd[2], "put: FAILED: Error: etcdserver: corrupt cluster");
    assert_eq!(oxcd, etcd, "oxcd's corruption alarm differs from etcd's");
}
