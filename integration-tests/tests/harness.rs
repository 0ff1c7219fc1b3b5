//! Tests of the harness itself against the reference etcd: lifecycle (start, stop, kill9,
//! restart on the same data, restart after another process took the client port), etcdctl
//! with stdin, the HTTP client, identity discovery.

use std::net::TcpListener;

use oxcd_integration_tests::{
    etcdctl, etcdctl_stdin, http_get, http_post, txn_script, Cluster, Json, Kind, Server,
    ServerOpts,
};

#[test]
fn etcd_lifecycle_restart_keeps_data() {
    let mut s = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    assert!(
        s.member_id().is_some() && s.cluster_id().is_some(),
        "identity learnt"
    );
    assert_eq!(s.version(), Some("3.4.23"));
    let out = etcdctl(&s, &["put", "k", "v"]).expect("etcdctl");
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout.trim(), "OK");
    let port = s.client_port();
    let pid = s.pid().expect("pid");

    s.stop().expect("SIGTERM");
    assert!(!s.is_running());
    s.restart().expect("restart after stop");
    assert_eq!(s.client_port(), port);
    assert_ne!(s.pid(), Some(pid));
    let out = etcdctl(&s, &["get", "k", "--print-value-only"]).expect("etcdctl");
    assert_eq!(out.stdout.trim(), "v");

    s.kill9().expect("kill9");
    assert!(s.kill9().is_err(), "second kill9 reports not running");
    s.restart().expect("restart after kill9");
    let (code, body) = http_post(&s, "/v3/kv/range", r#"{"key":"aw=="}"#).expect("range");
    assert_eq!(code, 200);
    let j = Json::parse(&body).expect("json");
    assert_eq!(
        j.at(&["header", "revision"]).and_then(Json::as_i64),
        Some(2)
    );
    let (code, body) = http_get(&s, "/health").expect("health");
    assert_eq!((code, body.trim()), (200, r#"{"health":"true"}"#));
}

/// Tests run in parallel processes that each pick free ports, so while a killed server is
/// down another test may take its client port. Restart then moves it to a fresh one instead
/// of failing three times on the same port.
#[test]
fn restart_moves_off_a_client_port_taken_while_down() {
    let mut s = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    let out = etcdctl(&s, &["put", "k", "v"]).expect("etcdctl");
    assert!(out.success(), "{out:?}");
    s.kill9().expect("kill9");
    let taken = s.client_port();
    let _other = TcpListener::bind(("127.0.0.1", taken)).expect("take the client port");
    s.restart().expect("restart on another client port");
    assert_ne!(s.client_port(), taken);
    let out = etcdctl(&s, &["get", "k", "--print-value-only"]).expect("etcdctl");
    assert_eq!(out.stdout.trim(), "v");

    let mut c = Cluster::start(Kind::Etcd, 3, &[]).expect("start a 3-member etcd cluster");
    c.kill9(1).expect("kill9 m1");
    let taken = c.member(1).client_port();
    let _other = TcpListener::bind(("127.0.0.1", taken)).expect("take m1's client port");
    c.restart(1).expect("restart m1 on another client port");
    assert_ne!(c.member(1).client_port(), taken);
    let out = c
        .ctl(1, &["put", "after", "restart"])
        .expect("etcdctl through m1");
    assert!(out.success(), "{out:?}");
}

#[test]
fn etcdctl_txn_via_stdin_and_chunked_http() {
    let s =
        Server::start(Kind::Etcd, ServerOpts::with_args(&["--max-txn-ops=2"])).expect("start etcd");
    let out =
        etcdctl_stdin(&s, &["txn"], &txn_script(&[], &["put a 1", "get a"], &[])).expect("txn");
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "SUCCESS\n\nOK\n\na\n1\n");
    let out = etcdctl_stdin(
        &s,
        &["txn"],
        &txn_script(&[], &["put a 1", "put b 1", "put c 1"], &[]),
    )
    .expect("txn");
    assert_eq!(out.status, Some(1));
    assert!(
        out.stderr
            .contains("etcdserver: too many operations in txn request"),
        "{out:?}"
    );
    // Error replies come back chunked with a trailer; the client must decode them.
    let (code, body) = http_post(&s, "/v3/kv/put", r#"{"key":""}"#).expect("post");
    assert_eq!(code, 400);
    let j = Json::parse(&body).expect("error json");
    assert_eq!(j.get("code").and_then(Json::as_i64), Some(3));
    assert_eq!(
        j.get("message").and_then(Json::scalar),
        Some("etcdserver: key is not provided")
    );
}

#[test]
fn extra_args_reach_the_server() {
    let s = Server::start(
        Kind::Etcd,
        ServerOpts::with_args(&["--max-request-bytes=1024"]),
    )
    .expect("start");
    let out = etcdctl_stdin(&s, &["put", "big"], &"x".repeat(2000)).expect("put");
    assert_eq!(out.status, Some(1));
    assert!(
        out.stderr.contains("etcdserver: request is too large"),
        "{out:?}"
    );
}

#[test]
fn diff_run_reports_a_real_difference() {
    if !oxcd_integration_tests::oxcd_available() {
        return;
    }
    // The sides deliberately diverge: the reference writes one extra revision.
    let result = std::panic::catch_unwind(|| {
        oxcd_integration_tests::diff_run("deliberate_difference", ServerOpts::default(), |s| {
            if s.server().kind() == Kind::Etcd {
                s.ctl(&["put", "extra", "1"]);
            }
            s.ctl(&["put", "k", "v", "-w", "json"]);
        })
    });
    let err = result.expect_err("diff_run must fail when transcripts differ");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("normalised transcripts differ"), "{msg}");
    assert!(
        msg.contains("-") && msg.contains("\"revision\":3"),
        "diff shows the revision: {msg}"
    );
}
