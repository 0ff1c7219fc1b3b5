//! Durability: acknowledged writes survive `kill -9`.
//!
//! A single client writes N keys (a few through etcdctl, the rest through the gateway over one
//! kept-alive HTTP connection), recording each acknowledged (key, header.revision). Half way
//! through, another thread SIGKILLs the server by PID while writes are in flight. The server is
//! restarted on the same data directory and ports, and every acknowledged write must be there
//! with the acknowledged mod_revision, and the revision sequence must continue after it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oxcd_integration_tests::process::send_signal;
use oxcd_integration_tests::{
    b64, etcdctl, oxcd_available, unb64, HttpConnection, Json, Kind, Server, ServerOpts,
};

fn writes() -> usize {
    std::env::var("OXCD_DURABILITY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

const CTL_PUTS: usize = 5;

fn key(i: usize) -> String {
    format!("dur/{i:06}")
}

/// Writes until the connection breaks or `n` writes are done; returns the acknowledged
/// (key, revision) pairs and whether the kill happened mid-stream.
fn write_and_kill(server: &Server, n: usize) -> (Vec<(String, i64)>, bool) {
    let mut acked = Vec::new();
    for i in 0..CTL_PUTS {
        let out = etcdctl(server, &["put", &key(i), &format!("v{i}"), "-w", "json"])
            .expect("etcdctl put");
        assert!(out.success(), "etcdctl put failed: {out:?}");
        let rev = Json::parse(out.stdout.trim())
            .ok()
            .and_then(|j| j.at(&["header", "revision"]).and_then(Json::as_i64))
            .expect("revision in etcdctl put -w json");
        acked.push((key(i), rev));
    }
    let pid = server.pid().expect("server pid");
    let killed = Arc::new(AtomicBool::new(false));
    let mut killer = None;
    let mut conn = HttpConnection::connect(server.client_port()).expect("connect gateway");
    let mut broke = false;
    for i in CTL_PUTS..n {
        if i == n / 2 {
            let flag = Arc::clone(&killed);
            killer = Some(std::thread::spawn(move || {
                send_signal(pid, "KILL").expect("kill -9 server");
                flag.store(true, Ordering::SeqCst);
            }));
        }
        let body = format!(
            r#"{{"key":"{}","value":"{}"}}"#,
            b64(&key(i)),
            b64(&format!("v{i}"))
        );
        match conn.post("/v3/kv/put", &body) {
            Ok(r) if r.status == 200 => {
                let rev = Json::parse(&r.body)
                    .ok()
                    .and_then(|j| j.at(&["header", "revision"]).and_then(Json::as_i64))
                    .expect("revision in put response");
                acked.push((key(i), rev));
            }
            // Not acknowledged: the server died (or refused) mid-request.
            _ => {
                broke = true;
                break;
            }
        }
    }
    if let Some(k) = killer {
        k.join().expect("killer thread");
    }
    assert!(killed.load(Ordering::SeqCst), "the server was never killed");
    (acked, broke)
}

fn check_after_restart(server: &Server, acked: &[(String, i64)]) {
    // Acknowledged revisions of a single sequential writer are consecutive.
    for w in acked.windows(2) {
        assert_eq!(
            w[1].1,
            w[0].1 + 1,
            "revision gap between acknowledged writes {w:?}"
        );
    }
    let mut conn = HttpConnection::connect(server.client_port()).expect("connect after restart");
    let body = format!(
        r#"{{"key":"{}","range_end":"{}"}}"#,
        b64("dur/"),
        b64("dur0")
    );
    let r = conn
        .post("/v3/kv/range", &body)
        .expect("range after restart");
    assert_eq!(r.status, 200, "range failed: {}", r.body);
    let j = Json::parse(&r.body).expect("range json");
    let mut found: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for kv in j.get("kvs").map(Json::items).unwrap_or(&[]) {
        let k = kv
            .get("key")
            .and_then(Json::scalar)
            .and_then(unb64)
            .unwrap_or_default();
        let v = kv
            .get("value")
            .and_then(Json::scalar)
            .and_then(unb64)
            .unwrap_or_default();
        let m = kv.get("mod_revision").and_then(Json::as_i64).unwrap_or(0);
        found.insert(k, (m, v));
    }
    let mut lost = Vec::new();
    for (k, rev) in acked {
        match found.get(k) {
            Some((m, v)) => {
                assert_eq!(
                    m, rev,
                    "key {k}: mod_revision after restart differs from the ack"
                );
                let i: usize = k.trim_start_matches("dur/").parse().unwrap_or(0);
                assert_eq!(v, &format!("v{i}"), "key {k}: value changed");
            }
            None => lost.push(k.clone()),
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, first: {:?}",
        lost.len(),
        lost.first()
    );
    // At most the one in-flight, unacknowledged write may also have landed.
    assert!(
        found.len() <= acked.len() + 1,
        "{} keys found but only {} acknowledged",
        found.len(),
        acked.len()
    );
    let max_acked = acked.last().map(|a| a.1).unwrap_or(1);
    let current = j
        .at(&["header", "revision"])
        .and_then(Json::as_i64)
        .unwrap_or(0);
    assert!(
        current >= max_acked,
        "revision went back: {current} < {max_acked}"
    );
    assert!(
        current <= max_acked + 1,
        "revision {current} jumped past {max_acked} + 1 in-flight write"
    );
    // The sequence continues.
    let body = format!(
        r#"{{"key":"{}","value":"{}"}}"#,
        b64("after"),
        b64("restart")
    );
    let r = conn.post("/v3/kv/put", &body).expect("put after restart");
    let next = Json::parse(&r.body)
        .ok()
        .and_then(|j| j.at(&["header", "revision"]).and_then(Json::as_i64))
        .expect("revision of put after restart");
    assert_eq!(next, current + 1, "revision sequence does not continue");
}

fn run(kind: Kind) {
    let n = writes();
    let mut server = Server::start(kind, ServerOpts::default()).expect("start server");
    let (acked, broke) = write_and_kill(&server, n);
    // Reap the killed process, then start it again on the same data dir and ports.
    let _ = server.kill9();
    server
        .restart()
        .unwrap_or_else(|e| panic!("restart after kill -9 failed: {e}"));
    println!(
        "{}: {} acknowledged writes before kill -9 (stream broken mid-way: {broke})",
        kind.label(),
        acked.len()
    );
    check_after_restart(&server, &acked);
}

#[test]
fn durability_kill9_oxcd() {
    if !oxcd_available() {
        return;
    }
    run(Kind::Oxcd);
}

#[test]
fn durability_kill9_etcd_sanity() {
    run(Kind::Etcd);
}
