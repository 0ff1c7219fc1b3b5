//! AUTH across restarts and members, against the kind selected by `OXCD_CLUSTER_KIND` (`etcd`
//! runs the reference etcd 3.4.23 and must pass the same way; unset runs oxcd).
//!
//! - `auth_state_survives_kill9`: users, roles, permissions, deletions and the enabled flag of
//!   a single member survive `kill -9` + restart; a fresh authenticate works afterwards, a
//!   permission check still denies. (A token taken before the kill may or may not work
//!   afterwards: etcd 3.4 re-assigns it when it replays the Authenticate entry, which depends
//!   on whether a KV write persisted a later consistent index; both outcomes are accepted.)
//! - `auth_replicates_across_members`: on a 3-member cluster a user added through member 0
//!   authenticates on member 1 (at once: etcd's Authenticate does a linearizable read first),
//!   that token works for a permitted put on member 2 (the token is assigned on every member
//!   when the Authenticate entry is applied), denied puts are denied on every member, and
//!   permission changes and a user deletion made through one member apply on the others.
//!
//! Every wait is bounded; members are killed by PID when the cluster drops.

use std::time::{Duration, Instant};

use oxcd_integration_tests::{expect_ok, start_selected, Cluster, Output};
use oxcd_proto::etcdserverpb::auth_client::AuthClient;
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::{AuthenticateRequest, PutRequest, RangeRequest};
use tokio::time::timeout;
use tonic::transport::Channel;

/// Bound on one connect or one RPC.
const STEP: Duration = Duration::from_secs(10);
/// How long a member may take to apply the Authenticate entry that assigned a token.
const TOKEN_SPREAD: Duration = Duration::from_secs(5);

const ROOT: &str = "--user=root:rootpw";
const ALICE: &str = "--user=alice:pw";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// etcdctl against member `i`, which must succeed; returns stdout.
fn ok(c: &Cluster, i: usize, args: &[&str]) -> String {
    expect_ok(
        c.ctl(i, args),
        &format!("etcdctl {} on member {i}", args.join(" ")),
    )
    .stdout
}

/// etcdctl against member `i`, which must fail with `error` in the last stderr line.
fn fails(c: &Cluster, i: usize, args: &[&str], error: &str) {
    let what = format!("etcdctl {} on member {i}", args.join(" "));
    let out: Output = c.ctl(i, args).unwrap_or_else(|e| panic!("{what}: {e}"));
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        !out.success() && last == error,
        "{what}: expected failure {error:?}, got {:?} stdout={:?} stderr={:?}",
        out.status,
        out.stdout,
        out.stderr
    );
}

/// Users `root` (root role), `alice` (role `ra`: readwrite `a/` prefix, read `r/` prefix),
/// `gone` (deleted again), role `tmp` (deleted again), a revoked permission; auth enabled.
/// All through member `i`.
fn setup(c: &Cluster, i: usize) {
    ok(c, i, &["put", "a/k", "v"]);
    ok(c, i, &["put", "r/k", "v"]);
    ok(c, i, &["put", "b", "v"]);
    ok(c, i, &["user", "add", "root", "--new-user-password=rootpw"]);
    ok(c, i, &["role", "add", "root"]);
    ok(c, i, &["user", "grant-role", "root", "root"]);
    ok(c, i, &["role", "add", "ra"]);
    ok(
        c,
        i,
        &[
            "role",
            "grant-permission",
            "ra",
            "readwrite",
            "a/",
            "--prefix",
        ],
    );
    ok(
        c,
        i,
        &["role", "grant-permission", "ra", "read", "r/", "--prefix"],
    );
    ok(c, i, &["role", "grant-permission", "ra", "readwrite", "b"]);
    ok(c, i, &["role", "revoke-permission", "ra", "b"]);
    ok(c, i, &["user", "add", "alice", "--new-user-password=pw"]);
    ok(c, i, &["user", "grant-role", "alice", "ra"]);
    ok(c, i, &["user", "add", "gone", "--new-user-password=pw"]);
    ok(c, i, &["user", "delete", "gone"]);
    ok(c, i, &["role", "add", "tmp"]);
    ok(c, i, &["role", "delete", "tmp"]);
    let out = ok(c, i, &["auth", "enable"]);
    assert_eq!(out.trim(), "Authentication Enabled");
}

/// The auth state as root sees it through member `i` (plain etcdctl output, no headers).
fn auth_view(c: &Cluster, i: usize) -> String {
    [
        vec!["user", "list", ROOT],
        vec!["role", "list", ROOT],
        vec!["user", "get", "alice", "--detail", ROOT],
        vec!["user", "get", "root", ROOT],
        vec!["role", "get", "ra", ROOT],
    ]
    .iter()
    .map(|args| format!("$ {}\n{}", args.join(" "), ok(c, i, args)))
    .collect()
}

/// The checks that must hold on member `i` once `setup` ran (through any member).
fn check_enforced(c: &Cluster, i: usize) {
    fails(
        c,
        i,
        &["get", "a/k"],
        "Error: etcdserver: user name is empty",
    );
    fails(
        c,
        i,
        &["get", "a/k", "--user=alice:bad"],
        "Error: etcdserver: authentication failed, invalid user ID or password",
    );
    fails(
        c,
        i,
        &["get", "a/k", "--user=gone:pw"],
        "Error: etcdserver: authentication failed, invalid user ID or password",
    );
    assert_eq!(
        ok(c, i, &["get", "a/k", "--print-value-only", ALICE]).trim(),
        "v"
    );
    assert_eq!(
        ok(c, i, &["get", "r/k", "--print-value-only", ALICE]).trim(),
        "v"
    );
    fails(
        c,
        i,
        &["put", "r/k", "x", ALICE],
        "Error: etcdserver: permission denied",
    );
    fails(
        c,
        i,
        &["put", "b", "x", ALICE],
        "Error: etcdserver: permission denied",
    );
    fails(
        c,
        i,
        &["get", "b", ALICE],
        "Error: etcdserver: permission denied",
    );
    fails(
        c,
        i,
        &["user", "list", ALICE],
        "Error: etcdserver: permission denied",
    );
    assert_eq!(
        ok(c, i, &["get", "b", "--print-value-only", ROOT]).trim(),
        "v"
    );
}

async fn channel(endpoint: &str) -> Channel {
    timeout(
        STEP,
        Channel::from_shared(endpoint.to_string())
            .expect("endpoint")
            .connect(),
    )
    .await
    .expect("connect timed out")
    .expect("connect")
}

async fn authenticate(endpoint: &str, name: &str, password: &str) -> String {
    let mut auth = AuthClient::new(channel(endpoint).await);
    timeout(
        STEP,
        auth.authenticate(AuthenticateRequest {
            name: name.into(),
            password: password.into(),
        }),
    )
    .await
    .expect("authenticate timed out")
    .unwrap_or_else(|e| panic!("authenticate {name} on {endpoint}: {e}"))
    .into_inner()
    .token
}

fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("token", token.parse().expect("token is ASCII"));
    r
}

/// `Put key=value` with `token` on `endpoint`: "OK" or "<Code>: <message>".
async fn put_with(endpoint: &str, token: &str, key: &str, value: &str) -> String {
    let mut kv = KvClient::new(channel(endpoint).await);
    let r = timeout(
        STEP,
        kv.put(with_token(
            PutRequest {
                key: key.into(),
                value: value.into(),
                ..Default::default()
            },
            token,
        )),
    )
    .await
    .expect("put timed out");
    match r {
        Ok(_) => "OK".into(),
        Err(st) => format!("{:?}: {}", st.code(), st.message()),
    }
}

/// `Range key` with `token` on `endpoint`: "OK" or "<Code>: <message>".
async fn range_with(endpoint: &str, token: &str, key: &str) -> String {
    let mut kv = KvClient::new(channel(endpoint).await);
    let r = timeout(
        STEP,
        kv.range(with_token(
            RangeRequest {
                key: key.into(),
                ..Default::default()
            },
            token,
        )),
    )
    .await
    .expect("range timed out");
    match r {
        Ok(_) => "OK".into(),
        Err(st) => format!("{:?}: {}", st.code(), st.message()),
    }
}

/// Like [`put_with`], retrying (bounded by [`TOKEN_SPREAD`]) while the member does not know
/// the token yet.
async fn put_when_token_known(endpoint: &str, token: &str, key: &str, value: &str) -> String {
    let start = Instant::now();
    loop {
        let r = put_with(endpoint, token, key, value).await;
        if r != "Unauthenticated: etcdserver: invalid auth token" || start.elapsed() > TOKEN_SPREAD
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn auth_state_survives_kill9() {
    let Some(mut c) = start_selected(1, &[]) else {
        return;
    };
    setup(&c, 0);
    ok(&c, 0, &["put", "a/by-alice", "1", ALICE]);
    let before = auth_view(&c, 0);
    check_enforced(&c, 0);
    let rt = runtime();
    let endpoint = c.member(0).client_url();
    let old_token = rt.block_on(authenticate(&endpoint, "alice", "pw"));
    assert_eq!(rt.block_on(range_with(&endpoint, &old_token, "a/k")), "OK");

    c.kill9(0).expect("kill -9 the member");
    c.restart(0)
        .unwrap_or_else(|e| panic!("restart after kill -9: {e}\n{}", c.log_tails(30)));

    assert_eq!(
        auth_view(&c, 0),
        before,
        "users, roles or permissions changed across kill -9"
    );
    check_enforced(&c, 0);
    assert_eq!(
        ok(&c, 0, &["get", "a/by-alice", "--print-value-only", ALICE]).trim(),
        "1"
    );
    // Simple tokens live in memory, but etcd 3.4 re-applies on restart every entry after the
    // last persisted consistent index, which only KV writes persist: with no KV write after
    // the Authenticate (as here) the old token is assigned again and still works; after a KV
    // write and a backend commit it is "etcdserver: invalid auth token". Either is accepted.
    let old = rt.block_on(range_with(&endpoint, &old_token, "a/k"));
    assert!(
        old == "OK" || old == "Unauthenticated: etcdserver: invalid auth token",
        "a pre-crash token after restart: {old}"
    );
    // A fresh authenticate works.
    let token = rt.block_on(authenticate(&endpoint, "alice", "pw"));
    assert_eq!(rt.block_on(put_with(&endpoint, &token, "a/new", "x")), "OK");
    assert_eq!(
        rt.block_on(put_with(&endpoint, &token, "b", "x")),
        "PermissionDenied: etcdserver: permission denied"
    );
    // Still enabled: disabling needs root, and then survives a second kill -9 as disabled.
    fails(
        &c,
        0,
        &["auth", "disable", ALICE],
        "Error: etcdserver: permission denied",
    );
    assert_eq!(
        ok(&c, 0, &["auth", "disable", ROOT]).trim(),
        "Authentication Disabled"
    );
    c.kill9(0).expect("second kill -9");
    c.restart(0)
        .unwrap_or_else(|e| panic!("second restart: {e}\n{}", c.log_tails(30)));
    assert_eq!(ok(&c, 0, &["get", "b", "--print-value-only"]).trim(), "v");
    assert_eq!(
        ok(&c, 0, &["user", "list"]).trim(),
        "alice\nroot",
        "users after the second restart"
    );
}

#[test]
fn auth_replicates_across_members() {
    let Some(c) = start_selected(3, &[]) else {
        return;
    };
    setup(&c, 0);
    let rt = runtime();
    let (e1, e2) = (c.member(1).client_url(), c.member(2).client_url());
    // Authenticate on member 1 right after the user was added through member 0.
    let token = rt.block_on(authenticate(&e1, "alice", "pw"));
    // That token on member 2: a permitted put, then denied ones.
    assert_eq!(
        rt.block_on(put_when_token_known(&e2, &token, "a/from-1", "x")),
        "OK"
    );
    assert_eq!(
        rt.block_on(put_with(&e2, &token, "b", "x")),
        "PermissionDenied: etcdserver: permission denied"
    );
    assert_eq!(
        rt.block_on(put_with(&e1, &token, "r/k", "x")),
        "PermissionDenied: etcdserver: permission denied"
    );
    // etcdctl, which authenticates on the member it talks to.
    for i in 0..3 {
        check_enforced(&c, i);
    }
    assert_eq!(
        ok(&c, 1, &["get", "a/from-1", "--print-value-only", ALICE]).trim(),
        "x"
    );
    ok(&c, 2, &["put", "a/from-2", "y", ALICE]);
    fails(
        &c,
        1,
        &["put", "b", "y", ALICE],
        "Error: etcdserver: permission denied",
    );
    // A permission granted through member 2 applies on member 1, for the existing token too.
    ok(
        &c,
        2,
        &["role", "grant-permission", "ra", "write", "b", ROOT],
    );
    ok(&c, 1, &["put", "b", "by-alice", ALICE]);
    assert_eq!(rt.block_on(put_with(&e1, &token, "b", "z")), "OK");
    // Revoked through member 0: denied on member 2 (linearizable through etcdctl's
    // authenticate; the put itself is applied in log order after the revoke).
    ok(&c, 0, &["role", "revoke-permission", "ra", "b", ROOT]);
    fails(
        &c,
        2,
        &["put", "b", "w", ALICE],
        "Error: etcdserver: permission denied",
    );
    // Deleted through member 1: cannot authenticate on member 0, token dead on member 2.
    ok(&c, 1, &["user", "delete", "alice", ROOT]);
    fails(
        &c,
        0,
        &["get", "a/k", ALICE],
        "Error: etcdserver: authentication failed, invalid user ID or password",
    );
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < TOKEN_SPREAD {
        last = rt.block_on(range_with(&e2, &token, "a/k"));
        if last != "OK" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(last, "Unauthenticated: etcdserver: invalid auth token");
    // Every member holds the same data.
    let views: Vec<String> = (0..3)
        .map(|i| ok(&c, i, &["get", "", "--from-key", ROOT]))
        .collect();
    assert!(
        views.iter().all(|v| v == &views[0]),
        "members disagree: {views:#?}"
    );
    assert!(
        views[0].contains("a/from-1\nx\na/from-2\ny\na/k\nv\nb\nz\n"),
        "{}",
        views[0]
    );
}
