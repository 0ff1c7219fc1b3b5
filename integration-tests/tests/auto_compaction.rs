//! Automatic compaction as etcd 3.4.23 runs it.
//!
//! - periodic mode with a Go-duration retention (`2s`; a bare integer would be hours): the
//!   compacted revision (`etcd_debugging_mvcc_compact_revision`) stays 0 until a retention
//!   has passed, then moves forward while writes continue, always to a revision that was
//!   current about one retention earlier; `get --rev=<compacted - 1>` fails with "required
//!   revision has been compacted" and `get --rev=<compacted>` works. Run on etcd and oxcd.
//! - revision mode: etcd 3.4 checks every 5 minutes (`revInterval`), too slow for this suite,
//!   so it runs on oxcd only, with the failpoint `compactor-revision-interval=return(1)`
//!   shortening the period to 1 s: the compacted revision becomes `current - retention`.

use std::time::{Duration, Instant};

use oxcd_integration_tests::{etcdctl, on_both_kinds, prom, Kind, Server, ServerOpts};

const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";

fn compact_revision(server: &Server) -> i64 {
    prom::sample(
        &prom::scrape(server.client_port()),
        "etcd_debugging_mvcc_compact_revision",
    )
    .expect("etcd_debugging_mvcc_compact_revision is exported") as i64
}

fn put(server: &Server, key: &str) -> i64 {
    let out = etcdctl(server, &["put", key, "v", "-w", "json"]).expect("put ran");
    assert!(out.success(), "put: {}", out.stderr);
    oxcd_integration_tests::Json::parse(out.stdout.trim())
        .ok()
        .and_then(|j| {
            j.at(&["header", "revision"])
                .and_then(oxcd_integration_tests::Json::as_i64)
        })
        .expect("put revision")
}

/// `get a --rev=<rev>`: `Ok` or the error line.
fn get_at(server: &Server, rev: i64) -> Result<(), String> {
    let out = etcdctl(server, &["get", "a", &format!("--rev={rev}")]).expect("get ran");
    if out.success() {
        Ok(())
    } else {
        Err(out.stderr)
    }
}

fn periodic_mode_compacts_what_one_retention_ago_was_current(kind: Kind) {
    let server = Server::start(
        kind,
        ServerOpts::with_args(&[
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=2s",
        ]),
    )
    .expect("start");
    let started = Instant::now();
    // (when, revision) of every put, to check what the compaction targeted.
    let mut written = vec![(Instant::now(), put(&server, "a"))];
    // etcd reports -1 until the first compaction.
    assert_eq!(compact_revision(&server), -1, "{kind:?}: compacted at once");
    let mut seen = Vec::new();
    let deadline = started + Duration::from_secs(20);
    while seen.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        written.push((Instant::now(), put(&server, "a")));
        let c = compact_revision(&server);
        if c > 0 && seen.last() != Some(&c) {
            seen.push(c);
            // A revision the test wrote (the first compaction may target one from before
            // its writes) was current about one retention before the compaction; allow for
            // sampling (retention/10), the 500 ms metric refresh and the scrapes.
            if let Some((at, _)) = written.iter().find(|(_, r)| *r == c) {
                let age = at.elapsed();
                assert!(
                    age >= Duration::from_millis(1000) && age <= Duration::from_millis(6000),
                    "{kind:?}: compacted to revision {c}, written {age:?} ago (retention 2s)"
                );
            }
        }
    }
    assert!(
        seen.len() >= 2,
        "{kind:?}: the compacted revision did not move twice in 20 s: {seen:?}"
    );
    assert!(seen[0] < seen[1], "{kind:?}: {seen:?}");
    let c = compact_revision(&server);
    let err = get_at(&server, c - 1).expect_err("an older revision is compacted");
    assert!(err.contains(COMPACTED), "{kind:?}: {err}");
    get_at(&server, c).expect("the compacted revision itself is readable");
}

on_both_kinds!(periodic_mode_compacts_what_one_retention_ago_was_current);

#[test]
fn revision_mode_keeps_the_last_retention_revisions_on_oxcd() {
    let server = Server::start(
        Kind::Oxcd,
        ServerOpts::with_args(&[
            "--auto-compaction-mode=revision",
            "--auto-compaction-retention=5",
        ])
        .with_env("FAILPOINTS", "compactor-revision-interval=return(1)"),
    )
    .expect("start");
    let mut last = 0;
    for _ in 0..20 {
        last = put(&server, "a");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while compact_revision(&server) < last - 5 {
        assert!(
            Instant::now() < deadline,
            "revision mode did not compact to {}: at {}",
            last - 5,
            compact_revision(&server)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(compact_revision(&server), last - 5, "compacted too far");
    let err = get_at(&server, last - 6).expect_err("compacted");
    assert!(err.contains(COMPACTED), "{err}");
    get_at(&server, last - 5).expect("the kept revisions are readable");
}
