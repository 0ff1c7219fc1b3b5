//! Snapshots in etcd's own format (issue 14), against etcd 3.4.23 and etcdctl 3.4.23:
//! - oxcd's reader understands a snapshot real etcd made (`etcd_snapshot_is_read`).
//! - `etcdctl snapshot save` against oxcd stores a file `etcdctl snapshot status` and
//!   `etcdctl snapshot restore` accept, and etcd 3.4.23 started on the restored data dir
//!   serves the same keys, revisions, versions, leases, users, roles and compaction
//!   (`oxcd_snapshot_restores_into_etcd`).
//! - `oxcd snapshot restore` makes an oxcd data dir from etcd's snapshot and from oxcd's,
//!   and oxcd started on it serves the same data as the source
//!   (`etcd_snapshot_restores_into_oxcd`, `oxcd_snapshot_restores_into_oxcd`).
//! - `oxcd snapshot status` prints what `etcdctl snapshot status` prints, and damaged,
//!   truncated and foreign files are refused with a clear message and no data dir
//!   (`bad_files_are_refused`).
//! - A three-member cluster restored from one snapshot, every member with the same flags,
//!   forms, agrees on its members and serves the data, for oxcd (`oxcd snapshot restore`)
//!   and for etcd (`etcdctl snapshot restore` of an oxcd snapshot)
//!   (`three_member_cluster_from_one_snapshot`).
//! - Migration at a small scale (`migration_1000_keys`): the same 1,000-key history on etcd
//!   and on oxcd gives snapshots with the same revision, key count and byte-identical `key`
//!   bucket; each restores into the other and serves the same data and history.
//! - Migration at full scale (`migration_10000_keys`): 10,000 keys with txns, overwrites,
//!   deletes, leases, a compaction, a revoked lease, users, roles and permissions, made the
//!   same on etcd and on oxcd; equal `snapshot status` and `key` buckets; etcd's snapshot
//!   restored into a 3-member oxcd cluster and oxcd's into a 3-member etcd cluster, each
//!   compared with its source at every retained revision, leases, auth and watches.
//!
//! Every server runs on loopback through the harness and is killed when its test ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use oxcd_integration_tests::grpc::{channel, prefix_end, runtime, status_text, with_token};
use oxcd_integration_tests::{
    etcdctl, etcdctl_stdin, granted_lease_hex, ports, txn_script, Cluster, Json, Kind, Output,
    Server, ServerOpts,
};
use oxcd_proto::authpb::permission::Type as PermType;
use oxcd_proto::authpb::Permission;
use oxcd_proto::etcdserverpb::auth_client::AuthClient;
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::lease_client::LeaseClient;
use oxcd_proto::etcdserverpb::request_op::Request as Op;
use oxcd_proto::etcdserverpb::watch_client::WatchClient;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::{
    AuthEnableRequest, AuthRoleAddRequest, AuthRoleGetRequest, AuthRoleGrantPermissionRequest,
    AuthRoleListRequest, AuthUserAddRequest, AuthUserGetRequest, AuthUserGrantRoleRequest,
    AuthUserListRequest, AuthenticateRequest, CompactionRequest, DeleteRangeRequest,
    LeaseGrantRequest, LeaseLeasesRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest, PutRequest,
    RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest,
};
use oxcd_proto::{authpb, mvccpb};
use oxcd_snapshot::{etcd, open_snapshot, status, BoltReader};
use prost::Message;
use tonic::transport::Channel;

/// Runs etcdctl and fails the test with its output when it fails.
fn ok(server: &Server, args: &[&str]) -> Output {
    let out = etcdctl(server, args).expect("run etcdctl");
    assert!(
        out.success(),
        "etcdctl {args:?} failed on {}: {}{}",
        server.kind().label(),
        out.stdout,
        out.stderr
    );
    out
}

/// Everything a snapshot holds, decoded.
#[derive(Debug, Default, PartialEq)]
struct Dump {
    buckets: Vec<String>,
    /// (main, sub, tombstone) -> key, value, create, mod, version, lease.
    revisions: BTreeMap<(i64, i64, bool), mvccpb::KeyValue>,
    leases: BTreeMap<i64, i64>,
    users: BTreeMap<String, authpb::User>,
    roles: BTreeMap<String, authpb::Role>,
    auth_enabled: Option<Vec<u8>>,
    auth_revision: Option<u64>,
    meta: BTreeMap<String, Vec<u8>>,
    members: Vec<etcd::MemberJson>,
}

fn read_dump(db: &BoltReader) -> Dump {
    let mut d = Dump::default();
    let mut buckets = Vec::new();
    db.for_each_bucket(&mut |name, b| {
        buckets.push((name.to_vec(), b));
        Ok(())
    })
    .expect("list buckets");
    for (name, b) in buckets {
        d.buckets.push(String::from_utf8_lossy(&name).into_owned());
        db.for_each(&b, &mut |k, v| {
            match name.as_slice() {
                etcd::KEY => {
                    let (main, sub, tomb) = etcd::decode_revision(k)?;
                    let kv = mvccpb::KeyValue::decode(v).expect("KeyValue");
                    d.revisions.insert((main, sub, tomb), kv);
                }
                etcd::LEASE => {
                    let l = etcd::decode_lease(k, v)?;
                    d.leases.insert(l.id, l.ttl);
                }
                etcd::AUTH_USERS => {
                    let u = authpb::User::decode(v).expect("User");
                    d.users.insert(String::from_utf8_lossy(k).into_owned(), u);
                }
                etcd::AUTH_ROLES => {
                    let r = authpb::Role::decode(v).expect("Role");
                    d.roles.insert(String::from_utf8_lossy(k).into_owned(), r);
                }
                etcd::AUTH if k == etcd::AUTH_ENABLED => d.auth_enabled = Some(v.to_vec()),
                etcd::AUTH if k == etcd::AUTH_REVISION => {
                    d.auth_revision = Some(etcd::decode_u64("authRevision", v)?)
                }
                etcd::META => {
                    d.meta
                        .insert(String::from_utf8_lossy(k).into_owned(), v.to_vec());
                }
                etcd::MEMBERS => {
                    let m: etcd::MemberJson = serde_json::from_slice(v).expect("member JSON");
                    assert_eq!(etcd::parse_member_key(k)?, m.id);
                    d.members.push(m);
                }
                _ => {}
            }
            Ok(())
        })
        .expect("read bucket");
    }
    d
}

/// A history with overwrites, a delete, a leased key, a compaction, users, roles and
/// permissions, and auth enabled last. Returns the lease ID.
fn populate(server: &Server) -> i64 {
    ok(server, &["put", "a", "1"]);
    ok(server, &["put", "b", "2"]);
    ok(server, &["put", "a", "3"]);
    ok(server, &["del", "b"]);
    let lease = granted_lease_hex(&ok(server, &["lease", "grant", "600"]).stdout);
    ok(server, &["put", "leased", "v", &format!("--lease={lease}")]);
    ok(server, &["put", "c", "4"]);
    ok(server, &["compact", "4"]);
    ok(server, &["put", "d", "5"]);
    ok(server, &["user", "add", "root:rootpw"]);
    ok(server, &["role", "add", "reader"]);
    ok(
        server,
        &["role", "grant-permission", "reader", "read", "a", "z"],
    );
    ok(server, &["user", "add", "alice:alicepw"]);
    ok(server, &["user", "grant-role", "alice", "reader"]);
    ok(server, &["auth", "enable"]);
    i64::from_str_radix(&lease, 16).expect("lease id")
}

fn save(server: &Server, path: &Path) {
    ok(
        server,
        &[
            "--user=root:rootpw",
            "snapshot",
            "save",
            path.to_str().expect("utf-8 path"),
        ],
    );
}

fn etcdctl_status(path: &Path) -> String {
    let out = oxcd_integration_tests::etcdctl::etcdctl_raw(
        "http://127.0.0.1:1",
        &[
            "snapshot",
            "status",
            "-w",
            "json",
            path.to_str().expect("path"),
        ],
        None,
        std::time::Duration::from_secs(30),
    )
    .expect("etcdctl snapshot status");
    assert!(
        out.success(),
        "snapshot status: {}{}",
        out.stdout,
        out.stderr
    );
    out.stdout.trim().to_string()
}

#[test]
fn etcd_snapshot_is_read() {
    let etcd = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    let lease = populate(&etcd);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("etcd.db");
    save(&etcd, &path);

    let db = open_snapshot(&path, false).expect("open etcd's snapshot");
    let d = read_dump(&db);
    assert_eq!(
        d.buckets,
        etcd::BUCKETS.map(|b| String::from_utf8_lossy(b).into_owned())
    );
    // The compaction at 4 dropped a@2; b@3 stays (a read at 4 still sees it).
    let keys: Vec<(i64, bool, String)> = d
        .revisions
        .iter()
        .map(|((main, _, t), kv)| (*main, *t, String::from_utf8_lossy(&kv.key).into_owned()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (3, false, "b".into()),
            (4, false, "a".into()),
            (5, true, "b".into()),
            (6, false, "leased".into()),
            (7, false, "c".into()),
            (8, false, "d".into()),
        ],
        "{d:?}"
    );
    let a = &d.revisions[&(4, 0, false)];
    assert_eq!((a.create_revision, a.mod_revision, a.version), (2, 4, 2));
    assert_eq!(d.revisions[&(6, 0, false)].lease, lease);
    assert_eq!(d.leases, BTreeMap::from([(lease, 600)]));
    assert_eq!(d.auth_enabled.as_deref(), Some(&[1u8][..]));
    assert!(d.auth_revision.unwrap_or(0) > 1);
    assert_eq!(d.users.keys().collect::<Vec<_>>(), ["alice", "root"]);
    assert_eq!(d.users["alice"].roles, ["reader"]);
    assert_eq!(d.roles["reader"].key_permission.len(), 1);
    assert!(d.meta.contains_key("consistent_index"));
    assert_eq!(
        etcd::decode_revision(&d.meta["scheduledCompactRev"])
            .expect("rev")
            .0,
        4
    );
    assert_eq!(d.members.len(), 1);
    assert_eq!(
        d.members[0].peer_urls,
        [format!("http://127.0.0.1:{}", etcd.peer_port())]
    );
    // Our status is etcdctl's.
    assert_eq!(
        status(&db).expect("status").json().trim(),
        etcdctl_status(&path)
    );
}

/// `etcdctl <args>` without a server (snapshot status/restore); fails the test on error.
fn offline(args: &[&str]) -> Output {
    let out = oxcd_integration_tests::etcdctl::etcdctl_raw(
        "http://127.0.0.1:1",
        args,
        None,
        std::time::Duration::from_secs(60),
    )
    .expect("run etcdctl");
    assert!(
        out.success(),
        "etcdctl {args:?}: {}{}",
        out.stdout,
        out.stderr
    );
    out
}

/// The `Error: ...` line of a failed etcdctl (its client logs carry times and ports).
fn error_line(out: &Output) -> String {
    out.stderr
        .lines()
        .find(|l| l.starts_with("Error:"))
        .unwrap_or("(no error)")
        .to_string()
}

/// What a client sees of a server's data: every key (with revisions, versions, leases),
/// the current revision, a historic read, the compacted revision's error, leases, users
/// and roles (auth is on: reads run as root).
fn observe(server: &Server) -> Vec<String> {
    let root = "--user=root:rootpw";
    let mut seen = Vec::new();
    let all = ok(server, &[root, "get", "", "--from-key", "-w", "json"]);
    let j = Json::parse(all.stdout.trim()).expect("get json");
    seen.push(format!(
        "revision {:?} count {:?}",
        j.at(&["header", "revision"]).and_then(Json::as_i64),
        j.get("count").and_then(Json::as_i64)
    ));
    seen.push(j.get("kvs").map(Json::to_text).unwrap_or_default());
    let old = ok(server, &[root, "get", "a", "--rev=4", "-w", "json"]);
    let j = Json::parse(old.stdout.trim()).expect("get json");
    seen.push(j.get("kvs").map(Json::to_text).unwrap_or_default());
    let compacted = etcdctl(server, &[root, "get", "a", "--rev=3"]).expect("etcdctl");
    seen.push(format!("rev 3: {}", error_line(&compacted)));
    let leases = ok(server, &[root, "lease", "list"]).stdout;
    seen.push(leases.clone());
    for id in leases.lines().skip(1) {
        let ttl = ok(server, &[root, "lease", "timetolive", id]).stdout;
        // "lease <id> granted with TTL(600s), remaining(599s)": the grant, not the clock.
        seen.push(
            ttl.split(", remaining")
                .next()
                .unwrap_or_default()
                .to_string(),
        );
    }
    seen.push(ok(server, &[root, "user", "list"]).stdout);
    seen.push(ok(server, &[root, "user", "get", "alice"]).stdout);
    seen.push(ok(server, &[root, "role", "get", "reader"]).stdout);
    // Auth is on: no credentials, no data; alice reads what her role allows.
    let anon = etcdctl(server, &["get", "a"]).expect("etcdctl");
    seen.push(format!("anonymous: {}", error_line(&anon)));
    seen.push(
        ok(
            server,
            &["--user=alice:alicepw", "get", "a", "--print-value-only"],
        )
        .stdout,
    );
    seen
}

/// Restores `snapshot` with etcdctl into a new data dir under `dir` and returns it.
fn etcdctl_restore(snapshot: &Path, dir: &Path) -> std::path::PathBuf {
    let data = dir.join("restored.etcd");
    let peer = format!("http://127.0.0.1:{}", ports::free_port().expect("port"));
    offline(&[
        "snapshot",
        "restore",
        snapshot.to_str().expect("path"),
        "--name=default",
        &format!("--data-dir={}", data.display()),
        &format!("--initial-cluster=default={peer}"),
        &format!("--initial-advertise-peer-urls={peer}"),
    ]);
    data
}

#[test]
fn oxcd_snapshot_restores_into_etcd() {
    oxcd_integration_tests::oxcd_available();
    let oxcd = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    let lease = populate(&oxcd);
    let before = observe(&oxcd);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("oxcd.db");
    save(&oxcd, &path);

    // The file is etcd's: bbolt + trailer, every bucket, the history as oxcd has it.
    let db = open_snapshot(&path, false).expect("open oxcd's snapshot");
    let d = read_dump(&db);
    assert_eq!(
        d.buckets,
        etcd::BUCKETS.map(|b| String::from_utf8_lossy(b).into_owned())
    );
    assert_eq!(d.leases, BTreeMap::from([(lease, 600)]));
    assert_eq!(d.auth_enabled.as_deref(), Some(&[1u8][..]));
    assert_eq!(d.members.len(), 1);
    assert_eq!(
        status(&db).expect("status").json().trim(),
        etcdctl_status(&path)
    );
    let st = status(&db).expect("status");
    assert_eq!(st.revision, 8);

    // etcd 3.4.23 restores it and serves the same data.
    let data = etcdctl_restore(&path, dir.path());
    let restored =
        Server::start(Kind::Etcd, ServerOpts::default().with_data_from(&data)).expect("start etcd");
    let after = observe(&restored);
    assert_eq!(before, after);
    // And it goes on from there: the next write is revision 9.
    let put = ok(
        &restored,
        &["--user=root:rootpw", "put", "e", "6", "-w", "json"],
    );
    let j = Json::parse(put.stdout.trim()).expect("put json");
    assert_eq!(
        j.at(&["header", "revision"]).and_then(Json::as_i64),
        Some(9)
    );
}

/// Runs `oxcd snapshot <args>`.
fn oxcd_snapshot(args: &[&str]) -> Output {
    let out = std::process::Command::new(oxcd_integration_tests::oxcd_binary_path())
        .arg("snapshot")
        .args(args)
        .output()
        .expect("run oxcd snapshot");
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
    }
}

/// Restores `snapshot` with `oxcd snapshot restore` into a new data dir under `dir`.
fn oxcd_restore(snapshot: &Path, dir: &Path) -> std::path::PathBuf {
    let data = dir.join("restored.oxcd");
    let peer = format!("http://127.0.0.1:{}", ports::free_port().expect("port"));
    let out = oxcd_snapshot(&[
        "restore",
        snapshot.to_str().expect("path"),
        "--name=default",
        &format!("--data-dir={}", data.display()),
        &format!("--initial-cluster=default={peer}"),
        &format!("--initial-advertise-peer-urls={peer}"),
        "--initial-cluster-token=restored",
    ]);
    assert!(
        out.success(),
        "oxcd snapshot restore: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(out.stdout.contains("revision 8"), "{}", out.stdout);
    data
}

/// Restores `path` into oxcd and checks that it serves `before`, as a new cluster.
fn check_oxcd_restore(path: &Path, dir: &Path, before: &[String], old_cluster: Option<u64>) {
    let data = oxcd_restore(path, dir);
    let restored =
        Server::start(Kind::Oxcd, ServerOpts::default().with_data_from(&data)).expect("start oxcd");
    assert_eq!(observe(&restored), before);
    // A new cluster with one new member.
    assert_ne!(restored.cluster_id(), old_cluster);
    let members = ok(&restored, &["--user=root:rootpw", "member", "list"]).stdout;
    assert_eq!(members.lines().count(), 1, "{members}");
    let put = ok(
        &restored,
        &["--user=root:rootpw", "put", "e", "6", "-w", "json"],
    );
    let j = Json::parse(put.stdout.trim()).expect("put json");
    assert_eq!(
        j.at(&["header", "revision"]).and_then(Json::as_i64),
        Some(9)
    );
}

#[test]
fn etcd_snapshot_restores_into_oxcd() {
    oxcd_integration_tests::oxcd_available();
    let etcd = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    populate(&etcd);
    let before = observe(&etcd);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("etcd.db");
    save(&etcd, &path);
    check_oxcd_restore(&path, dir.path(), &before, etcd.cluster_id());
}

#[test]
fn oxcd_snapshot_restores_into_oxcd() {
    oxcd_integration_tests::oxcd_available();
    let oxcd = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    populate(&oxcd);
    let before = observe(&oxcd);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("oxcd.db");
    save(&oxcd, &path);
    check_oxcd_restore(&path, dir.path(), &before, oxcd.cluster_id());
}

/// Everything under `dir` (to show that a refused restore left nothing behind).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn bad_files_are_refused() {
    oxcd_integration_tests::oxcd_available();
    let etcd = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    ok(&etcd, &["put", "k", "v"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.db");
    ok(&etcd, &["snapshot", "save", good.to_str().expect("path")]);

    // status: the same text as etcdctl, in every format.
    for w in ["simple", "table", "json"] {
        let ours = oxcd_snapshot(&["status", good.to_str().expect("path"), "-w", w]);
        let theirs = offline(&["snapshot", "status", good.to_str().expect("path"), "-w", w]);
        assert!(ours.success(), "{}", ours.stderr);
        assert_eq!(ours.stdout, theirs.stdout, "-w {w}");
    }

    let bytes = std::fs::read(&good).expect("read");
    let db_len = bytes.len() - 32;
    let mut flipped = bytes.clone();
    flipped[db_len / 2] ^= 0x40;
    let mut bad_meta = bytes[..db_len].to_vec();
    bad_meta[16] ^= 0xff;
    bad_meta[4096 + 16] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>, &[&str], &str)> = vec![
        // etcd's words: without --skip-hash-check a file whose length is not pages plus
        // a trailer is "missing hash", whatever else is wrong with it.
        (
            "truncated",
            bytes[..bytes.len() / 3].to_vec(),
            &[],
            "snapshot missing hash but --skip-hash-check=false",
        ),
        ("no-trailer", bytes[..db_len].to_vec(), &[], "missing hash"),
        (
            "foreign-no-skip",
            b"not a snapshot at all\n".repeat(500),
            &[],
            "missing hash",
        ),
        (
            "truncated-skip",
            bytes[..8192 + 100].to_vec(),
            &["--skip-hash-check"],
            "truncated",
        ),
        ("flipped", flipped, &[], "expected sha256 ["),
        (
            "foreign",
            b"PK\x03\x04 this is a zip file, not a snapshot".repeat(300),
            &["--skip-hash-check"],
            "not a bbolt database",
        ),
        (
            "bad-meta",
            bad_meta,
            &["--skip-hash-check"],
            "not a bbolt database",
        ),
        (
            "empty",
            Vec::new(),
            &["--skip-hash-check"],
            "empty.db: invalid argument",
        ),
    ];
    for (name, content, flags, want) in cases {
        let file = dir.path().join(format!("{name}.db"));
        std::fs::write(&file, &content).expect("write");
        let work = tempfile::tempdir().expect("tempdir");
        let data = work.path().join("data");
        let mut args = vec![
            "restore".to_string(),
            file.display().to_string(),
            format!("--data-dir={}", data.display()),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = oxcd_snapshot(&argv);
        assert_eq!(out.status, Some(1), "{name}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.starts_with("Error: "), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(want),
            "{name}: want {want:?} in {}",
            out.stderr
        );
        assert!(
            entries(work.path()).is_empty(),
            "{name} left {:?}",
            entries(work.path())
        );
    }

    // A data dir that exists is refused (as etcd 3.4 refuses it) and left as it was.
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("precious"), "x").expect("write");
    let out = oxcd_snapshot(&[
        "restore",
        good.to_str().expect("path"),
        &format!("--data-dir={}", work.path().display()),
    ]);
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("\" exists"), "{}", out.stderr);
    assert_eq!(entries(work.path()), ["precious"]);

    // A name missing from --initial-cluster is refused before anything is written.
    let out = oxcd_snapshot(&[
        "restore",
        good.to_str().expect("path"),
        &format!("--data-dir={}", work.path().join("x").display()),
        "--name=nobody",
    ]);
    assert_eq!(out.status, Some(1));
    assert!(
        out.stderr.contains("couldn't find local name"),
        "{}",
        out.stderr
    );
}

/// 1,000 keys: ten txns of 100 puts (one revision, sub-revisions 0..99 each), 300
/// overwrites, 100 deletes in ranges, a compaction, and more writes after it.
fn migration_history(server: &Server) {
    for t in 0..10 {
        let puts: Vec<String> = (0..100)
            .map(|i| format!("put k/{:04} v{}", t * 100 + i, t * 100 + i))
            .collect();
        let puts: Vec<&str> = puts.iter().map(String::as_str).collect();
        let out = etcdctl_stdin(server, &["txn"], &txn_script(&[], &puts, &[])).expect("txn");
        assert!(out.success(), "txn: {}{}", out.stdout, out.stderr);
    }
    for i in (0..1000).step_by(10) {
        ok(server, &["put", &format!("k/{i:04}"), &format!("w{i}")]);
    }
    for i in (5..1000).step_by(50) {
        ok(
            server,
            &["del", &format!("k/{i:04}"), &format!("k/{:04}", i + 5)],
        );
    }
    ok(server, &["compact", "50"]);
    for i in (1..1000).step_by(5) {
        ok(server, &["put", &format!("k/{i:04}"), &format!("x{i}")]);
    }
}

/// Every key with its revisions and versions, a historic read and the current revision.
fn observe_plain(server: &Server) -> Vec<String> {
    let mut seen = Vec::new();
    for rev in ["", "--rev=60", "--rev=120"] {
        let mut args = vec!["get", "k/", "--prefix", "-w", "json"];
        if !rev.is_empty() {
            args.push(rev);
        }
        let j = Json::parse(ok(server, &args).stdout.trim()).expect("get json");
        seen.push(format!(
            "{rev} revision {:?} count {:?}",
            j.at(&["header", "revision"]).and_then(Json::as_i64),
            j.get("count").and_then(Json::as_i64)
        ));
        seen.push(j.get("kvs").map(Json::to_text).unwrap_or_default());
    }
    let compacted = etcdctl(server, &["get", "k/0000", "--rev=49"]).expect("etcdctl");
    seen.push(error_line(&compacted));
    seen
}

/// The `key` bucket's pairs.
fn key_bucket(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let db = open_snapshot(path, false).expect("open snapshot");
    let bucket = db.bucket(etcd::KEY).expect("buckets").expect("key bucket");
    let mut out = Vec::new();
    db.for_each(&bucket, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        Ok(())
    })
    .expect("read key bucket");
    out
}

#[test]
fn migration_1000_keys() {
    oxcd_integration_tests::oxcd_available();
    let etcd = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    let oxcd = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    migration_history(&etcd);
    migration_history(&oxcd);
    let from_etcd = observe_plain(&etcd);
    assert_eq!(
        observe_plain(&oxcd),
        from_etcd,
        "the histories differ before any snapshot"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let etcd_file = dir.path().join("etcd.db");
    let oxcd_file = dir.path().join("oxcd.db");
    ok(
        &etcd,
        &["snapshot", "save", etcd_file.to_str().expect("path")],
    );
    ok(
        &oxcd,
        &["snapshot", "save", oxcd_file.to_str().expect("path")],
    );

    // Same history, same MVCC bytes; the same revision and number of entries.
    let ours = key_bucket(&oxcd_file);
    assert!(ours.len() > 1000, "{} revisions", ours.len());
    assert!(ours == key_bucket(&etcd_file), "the key buckets differ");
    let se = status(&open_snapshot(&etcd_file, false).expect("open")).expect("status");
    let so = status(&open_snapshot(&oxcd_file, false).expect("open")).expect("status");
    assert_eq!((so.revision, so.total_keys), (se.revision, se.total_keys));

    // etcd → oxcd.
    let sub = dir.path().join("to-oxcd");
    std::fs::create_dir(&sub).expect("mkdir");
    let data = sub.join("data");
    let peer = format!("http://127.0.0.1:{}", ports::free_port().expect("port"));
    let out = oxcd_snapshot(&[
        "restore",
        etcd_file.to_str().expect("path"),
        &format!("--data-dir={}", data.display()),
        &format!("--initial-cluster=default={peer}"),
        &format!("--initial-advertise-peer-urls={peer}"),
    ]);
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
    let restored =
        Server::start(Kind::Oxcd, ServerOpts::default().with_data_from(&data)).expect("start");
    assert_eq!(observe_plain(&restored), from_etcd);
    drop(restored);

    // oxcd → etcd.
    let sub = dir.path().join("to-etcd");
    std::fs::create_dir(&sub).expect("mkdir");
    let data = etcdctl_restore(&oxcd_file, &sub);
    let restored =
        Server::start(Kind::Etcd, ServerOpts::default().with_data_from(&data)).expect("start");
    assert_eq!(observe_plain(&restored), from_etcd);
}

fn restore_member(
    kind: Kind,
    snapshot: &Path,
    name: &str,
    initial_cluster: &str,
    token: &str,
    peer: &str,
    data: &Path,
) -> oxcd_integration_tests::Result<()> {
    let args = [
        "restore".to_string(),
        snapshot.display().to_string(),
        format!("--name={name}"),
        format!("--data-dir={}", data.display()),
        format!("--initial-cluster={initial_cluster}"),
        format!("--initial-cluster-token={token}"),
        format!("--initial-advertise-peer-urls={peer}"),
    ];
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match kind {
        Kind::Oxcd => oxcd_snapshot(&argv),
        Kind::Etcd => {
            let mut with = vec!["snapshot"];
            with.extend_from_slice(&argv);
            offline(&with)
        }
    };
    assert!(
        out.success(),
        "restore {name}: {}{}",
        out.stdout,
        out.stderr
    );
    Ok(())
}

#[test]
fn three_member_cluster_from_one_snapshot() {
    oxcd_integration_tests::oxcd_available();
    let source = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    for i in 0..20 {
        ok(&source, &["put", &format!("k{i:02}"), &format!("v{i}")]);
    }
    ok(&source, &["del", "k05"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("oxcd.db");
    save(&source, &path);
    let want = ok(&source, &["get", "k", "--prefix", "-w", "json"]).stdout;
    let want = Json::parse(want.trim()).expect("json");
    let want_kvs = want.get("kvs").map(Json::to_text);

    for kind in [Kind::Oxcd, Kind::Etcd] {
        let prepare = |name: &str, ic: &str, token: &str, peer: &str, data: &Path| {
            restore_member(kind, &path, name, ic, token, peer, data)
        };
        let mut cluster = Cluster::start_prepared(kind, 3, &[], &prepare).expect("start cluster");
        cluster.leader_index().expect("a leader");
        let ids: Vec<String> = (0..3)
            .map(|i| {
                let out = cluster.ctl(i, &["member", "list"]).expect("member list");
                assert!(out.success(), "{}", out.stderr);
                let mut ids: Vec<String> = out
                    .stdout
                    .lines()
                    .map(|l| l.split(',').next().unwrap_or_default().to_string())
                    .collect();
                ids.sort();
                ids.join(",")
            })
            .collect();
        assert_eq!(ids[0].split(',').count(), 3, "{ids:?}");
        assert!(
            ids.iter().all(|x| *x == ids[0]),
            "members disagree: {ids:?}"
        );
        let put = cluster.ctl(0, &["put", "after", "restore"]).expect("put");
        assert!(put.success(), "{}", put.stderr);
        for i in 0..3 {
            let out = cluster
                .ctl(i, &["get", "k", "--prefix", "-w", "json"])
                .expect("get");
            let j = Json::parse(out.stdout.trim()).expect("json");
            assert_eq!(
                j.get("kvs").map(Json::to_text),
                want_kvs,
                "{} member {i}",
                kind.label()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Migration at full scale (issue 14): 10,000 keys, both ways, into 3-member clusters.
// ---------------------------------------------------------------------------------------

/// Keys of the full-scale history.
const BIG_KEYS: usize = 10_000;
/// Leases of the full-scale history, with fixed IDs so that etcd and oxcd hold the same ones.
const BIG_LEASES: i64 = 20;
const LEASE_BASE: i64 = 0x7e57_0000;
/// Bound on one RPC, or on collecting one watch's events.
const RPC_STEP: Duration = Duration::from_secs(30);

fn big_key(i: usize) -> Vec<u8> {
    format!("m/{i:05}").into_bytes()
}

/// Every 25th key is leased: 500 keys, 25 on each lease.
fn big_lease(i: usize) -> i64 {
    if i % 25 == 0 {
        LEASE_BASE + (i / 25) as i64 % BIG_LEASES
    } else {
        0
    }
}

fn put_op(key: Vec<u8>, value: String, lease: i64) -> RequestOp {
    RequestOp {
        request: Some(Op::RequestPut(PutRequest {
            key,
            value: value.into_bytes(),
            lease,
            ..Default::default()
        })),
    }
}

fn del_op(key: Vec<u8>, range_end: Vec<u8>) -> RequestOp {
    RequestOp {
        request: Some(Op::RequestDeleteRange(DeleteRangeRequest {
            key,
            range_end,
            ..Default::default()
        })),
    }
}

/// The gRPC clients of one endpoint (`http://127.0.0.1:port`).
struct Rpc {
    endpoint: String,
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    auth: AuthClient<Channel>,
}

/// One RPC, bounded by [`RPC_STEP`]; the outcome or the status as text.
async fn call<T>(
    fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(RPC_STEP, fut).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(st)) => Err(status_text(&st)),
        Err(_) => Err("timed out".to_string()),
    }
}

/// One RPC that must succeed.
async fn must<T>(
    what: &str,
    fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> T {
    call(fut).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

impl Rpc {
    async fn connect(endpoint: &str) -> Rpc {
        let ch = channel(endpoint).await;
        Rpc {
            endpoint: endpoint.to_string(),
            kv: KvClient::new(ch.clone()).max_decoding_message_size(usize::MAX),
            lease: LeaseClient::new(ch.clone()),
            auth: AuthClient::new(ch),
        }
    }

    /// One txn of `ops`, unconditional; returns the revision it made.
    async fn txn(&mut self, ops: Vec<RequestOp>) -> i64 {
        let r = must(
            "txn",
            self.kv.txn(TxnRequest {
                success: ops,
                ..Default::default()
            }),
        )
        .await;
        assert!(r.succeeded);
        r.header.map_or(0, |h| h.revision)
    }

    /// Every key under `m/` at `rev` (0 = now): (header revision, count, kvs), or the error.
    async fn range_at(&mut self, rev: i64) -> Result<(i64, i64, Vec<mvccpb::KeyValue>), String> {
        let r = call(self.kv.range(RangeRequest {
            key: b"m/".to_vec(),
            range_end: prefix_end("m/"),
            revision: rev,
            ..Default::default()
        }))
        .await?;
        Ok((r.header.map_or(0, |h| h.revision), r.count, r.kvs))
    }

    async fn grant_perm(&mut self, role: &str, t: PermType, key: &[u8], end: &[u8]) {
        must(
            "role grant-permission",
            self.auth
                .role_grant_permission(AuthRoleGrantPermissionRequest {
                    name: role.into(),
                    perm: Some(Permission {
                        perm_type: t as i32,
                        key: key.to_vec(),
                        range_end: end.to_vec(),
                    }),
                }),
        )
        .await;
    }
}

/// The full-scale history, the same on any server (lease IDs are fixed):
/// - 20 leases with TTLs of 600 s to 1,740 s;
/// - every one of the 10,000 keys put, in 100 txns of 100 puts (one revision, sub-revisions
///   0..99 each; every 25th key on a lease), then every even key again (50 txns);
/// - 40 range deletes of 10 keys and 5 leased keys deleted one by one, with a physical
///   compaction after the 20th range delete;
/// - after the compaction: every third key again (34 txns; deleted keys come back with a new
///   create revision and version 1), 150 single puts, 10 keys moved onto leases and 10 off,
///   10 txns that put 10 keys and delete 3, and one lease revoked (its keys deleted);
/// - users root (role root), alice (reader, writer), bob (reader), carol (no role); roles
///   reader (read `m/0`..`m/1`), writer (readwrite prefix `m/09`), single (write `m/00001`).
///
/// 411 revisions and about 13,700 key revisions retained. Auth stays disabled (it is enabled
/// at the end of the checks, to see the permissions and passwords at work). Returns the
/// compaction revision.
async fn big_history(c: &mut Rpc) -> i64 {
    for l in 0..BIG_LEASES {
        must(
            "lease grant",
            c.lease.lease_grant(LeaseGrantRequest {
                ttl: 600 + 60 * l,
                id: LEASE_BASE + l,
            }),
        )
        .await;
    }
    for t in 0..BIG_KEYS / 100 {
        let ops = (t * 100..t * 100 + 100)
            .map(|i| put_op(big_key(i), format!("a{i}"), big_lease(i)))
            .collect();
        c.txn(ops).await;
    }
    for t in 0..BIG_KEYS / 200 {
        let ops = (0..100)
            .map(|j| {
                let i = (t * 100 + j) * 2;
                put_op(
                    big_key(i),
                    format!("b{i}-{}", "x".repeat(i % 40)),
                    big_lease(i),
                )
            })
            .collect();
        c.txn(ops).await;
    }
    let mut compacted = 0;
    for j in 0..40 {
        let rev = c
            .txn(vec![del_op(big_key(j * 250 + 7), big_key(j * 250 + 17))])
            .await;
        if j == 19 {
            must(
                "compact",
                c.kv.compact(CompactionRequest {
                    revision: rev,
                    physical: true,
                }),
            )
            .await;
            compacted = rev;
        }
    }
    for k in 1..=5 {
        c.txn(vec![del_op(big_key(k * 25 * 7), Vec::new())]).await;
    }
    let thirds: Vec<usize> = (0..BIG_KEYS).step_by(3).collect();
    for chunk in thirds.chunks(100) {
        let ops = chunk
            .iter()
            .map(|&i| put_op(big_key(i), format!("c{i}"), big_lease(i)))
            .collect();
        c.txn(ops).await;
    }
    for j in 0..150 {
        let i = (j * 67 + 3) % BIG_KEYS;
        c.txn(vec![put_op(big_key(i), format!("d{j}"), big_lease(i))])
            .await;
    }
    for j in 0..10 {
        let on = 1 + j * 1000;
        c.txn(vec![put_op(
            big_key(on),
            format!("on{j}"),
            LEASE_BASE + j as i64,
        )])
        .await;
        let off = 25 * (10 + j * 37);
        c.txn(vec![put_op(big_key(off), format!("off{j}"), 0)])
            .await;
    }
    for t in 0..10 {
        let mut ops: Vec<RequestOp> = (t * 1000 + 100..t * 1000 + 110)
            .map(|i| put_op(big_key(i), format!("e{i}"), big_lease(i)))
            .collect();
        ops.push(del_op(big_key(t * 1000 + 500), big_key(t * 1000 + 503)));
        c.txn(ops).await;
    }
    must(
        "lease revoke",
        c.lease.lease_revoke(LeaseRevokeRequest {
            id: LEASE_BASE + BIG_LEASES - 1,
        }),
    )
    .await;

    for (name, pw) in [
        ("root", "rootpw"),
        ("alice", "alicepw"),
        ("bob", "bobpw"),
        ("carol", "carolpw"),
    ] {
        must(
            "user add",
            c.auth.user_add(AuthUserAddRequest {
                name: name.into(),
                password: pw.into(),
                ..Default::default()
            }),
        )
        .await;
    }
    for role in ["root", "reader", "writer", "single"] {
        must(
            "role add",
            c.auth.role_add(AuthRoleAddRequest { name: role.into() }),
        )
        .await;
    }
    c.grant_perm("reader", PermType::Read, b"m/0", b"m/1").await;
    c.grant_perm("writer", PermType::Readwrite, b"m/09", &prefix_end("m/09"))
        .await;
    c.grant_perm("single", PermType::Write, b"m/00001", b"")
        .await;
    for (user, role) in [
        ("root", "root"),
        ("alice", "reader"),
        ("alice", "writer"),
        ("bob", "reader"),
    ] {
        must(
            "user grant-role",
            c.auth.user_grant_role(AuthUserGrantRoleRequest {
                user: user.into(),
                role: role.into(),
            }),
        )
        .await;
    }
    compacted
}

/// Each lease: (granted TTL, remaining TTL, its keys sorted).
async fn big_leases(c: &mut Rpc) -> BTreeMap<i64, (i64, i64, Vec<Vec<u8>>)> {
    let list = must("lease list", c.lease.lease_leases(LeaseLeasesRequest {})).await;
    let mut out = BTreeMap::new();
    for l in list.leases {
        let t = must(
            "lease timetolive",
            c.lease.lease_time_to_live(LeaseTimeToLiveRequest {
                id: l.id,
                keys: true,
            }),
        )
        .await;
        let mut keys = t.keys;
        keys.sort();
        out.insert(l.id, (t.granted_ttl, t.ttl, keys));
    }
    out
}

/// Users with their roles, roles with their permissions.
async fn big_auth(c: &mut Rpc) -> Vec<String> {
    let mut seen = Vec::new();
    let users = must("user list", c.auth.user_list(AuthUserListRequest {})).await;
    for u in &users.users {
        let r = must(
            "user get",
            c.auth.user_get(AuthUserGetRequest { name: u.clone() }),
        )
        .await;
        seen.push(format!("user {u}: {:?}", r.roles));
    }
    let roles = must("role list", c.auth.role_list(AuthRoleListRequest {})).await;
    for role in &roles.roles {
        let r = must(
            "role get",
            c.auth.role_get(AuthRoleGetRequest { role: role.clone() }),
        )
        .await;
        seen.push(format!("role {role}: {:?}", r.perm));
    }
    seen
}

/// `etcdctl get m/ --prefix --rev R -w json`: the revision, count and kvs it prints.
fn ctl_get_at(endpoint: &str, rev: i64) -> String {
    let out = oxcd_integration_tests::etcdctl::etcdctl_raw(
        endpoint,
        &[
            "get",
            "m/",
            "--prefix",
            &format!("--rev={rev}"),
            "-w",
            "json",
        ],
        None,
        Duration::from_secs(60),
    )
    .expect("etcdctl get");
    if !out.success() {
        return error_line(&out);
    }
    let j = Json::parse(out.stdout.trim()).expect("get json");
    format!(
        "revision {:?} count {:?} {}",
        j.at(&["header", "revision"]).and_then(Json::as_i64),
        j.get("count").and_then(Json::as_i64),
        j.get("kvs").map(Json::to_text).unwrap_or_default()
    )
}

/// (type, kv) of every event under `m/` from `from` until one at `until` or later; panics on
/// a compacted or cancelled watch, or after [`RPC_STEP`].
async fn watch_events(endpoint: &str, from: i64, until: i64) -> Vec<(i32, mvccpb::KeyValue)> {
    let ch = channel(endpoint).await;
    let mut client = WatchClient::new(ch).max_decoding_message_size(usize::MAX);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: b"m/".to_vec(),
            range_end: prefix_end("m/"),
            start_revision: from,
            ..Default::default()
        })),
    })
    .await
    .expect("queue watch create");
    let collect = async move {
        let mut stream = client
            .watch(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .expect("watch")
            .into_inner();
        let mut events = Vec::new();
        let mut last = 0;
        while last < until {
            let r = stream
                .message()
                .await
                .expect("watch stream")
                .expect("watch stream ended");
            assert!(
                r.compact_revision == 0 && !r.canceled,
                "watch from {from} on {endpoint}: compacted at {} / canceled {}",
                r.compact_revision,
                r.cancel_reason
            );
            for e in r.events {
                let kv = e.kv.expect("event kv");
                last = kv.mod_revision;
                events.push((e.r#type, kv));
            }
        }
        drop(tx);
        events
    };
    tokio::time::timeout(RPC_STEP * 2, collect)
        .await
        .unwrap_or_else(|_| panic!("watch from {from} on {endpoint}: timed out"))
}

/// New writes after the restore, the same on both sides: a put, an overwrite, a delete, a
/// txn that puts and deletes, a leased put. Returns the revision of each.
async fn big_new_writes(c: &mut Rpc) -> Vec<i64> {
    vec![
        c.txn(vec![put_op(b"m/new1".to_vec(), "n1".into(), 0)])
            .await,
        c.txn(vec![put_op(big_key(2), "n2".into(), 0)]).await,
        c.txn(vec![del_op(big_key(3), Vec::new())]).await,
        c.txn(vec![
            put_op(b"m/new2".to_vec(), "n3".into(), 0),
            del_op(big_key(4), Vec::new()),
        ])
        .await,
        c.txn(vec![put_op(
            b"m/new3".to_vec(),
            "n4".into(),
            LEASE_BASE + 1,
        )])
        .await,
    ]
}

/// With auth enabled: what alice, bob and carol may read and write, and a wrong password.
async fn big_auth_at_work(c: &mut Rpc) -> Vec<String> {
    must("auth enable", c.auth.auth_enable(AuthEnableRequest {})).await;
    let mut seen = Vec::new();
    for (user, pw) in [
        ("alice", "alicepw"),
        ("bob", "bobpw"),
        ("carol", "carolpw"),
        ("alice", "wrong"),
    ] {
        let token = match call(c.auth.authenticate(AuthenticateRequest {
            name: user.into(),
            password: pw.into(),
        }))
        .await
        {
            Ok(r) => r.token,
            Err(e) => {
                seen.push(format!("{user}/{pw}: {e}"));
                continue;
            }
        };
        for key in ["m/00010", "m/09001", "m/10000", "m/00001"] {
            let get = call(c.kv.range(with_token(
                RangeRequest {
                    key: key.into(),
                    ..Default::default()
                },
                Some(&token),
            )))
            .await
            .map(|r| format!("{:?}", r.kvs.first().map(|kv| kv.value.clone())));
            let put = call(c.kv.put(with_token(
                PutRequest {
                    key: key.into(),
                    value: b"by-user".to_vec(),
                    ..Default::default()
                },
                Some(&token),
            )))
            .await
            .map(|r| format!("rev {}", r.header.map_or(0, |h| h.revision)));
            seen.push(format!("{user} get {key}: {get:?}; put: {put:?}"));
        }
    }
    seen
}

/// Checks that the 3-member `cluster` restored from a snapshot of `source` (made after
/// [`big_history`] with compaction revision `compacted`) serves what `source` serves:
/// - the head on every member: every key, value, create/mod revision, version and lease;
/// - a range of every key at EVERY retained revision, from `compacted` to the head (over
///   gRPC, the request `etcdctl get --rev` makes; spread over the three members), the
///   compacted error below it, and `etcdctl get --prefix --rev R -w json` at a few revisions;
/// - every lease with its granted TTL and keys, and a remaining TTL no longer than granted;
/// - every user with its roles, every role with its permissions;
/// - watches: from `compacted + 1` the same events as the source, and after the same new
///   writes on both, a watch opened at the restored head + 1 delivers exactly them;
/// - auth enabled on both: the same answers for each user's reads and writes.
async fn big_compare(source: &mut Rpc, cluster: &mut [Rpc], compacted: i64) {
    let (head, count, kvs) = source.range_at(0).await.expect("source head");
    assert!(count > 9_000 && head > 390, "count {count} head {head}");
    for m in cluster.iter_mut() {
        let got = m.range_at(0).await.expect("member head");
        assert!(
            got == (head, count, kvs.clone()),
            "{}: the head differs (revision {} count {} vs {head} {count})",
            m.endpoint,
            got.0,
            got.1
        );
    }
    for rev in compacted..=head {
        let m = &mut cluster[rev as usize % cluster.len()];
        let want = source.range_at(rev).await.expect("source at rev");
        let got = m.range_at(rev).await;
        assert!(
            got.as_ref() == Ok(&want),
            "{} at revision {rev}: {:?} vs source {:?}",
            m.endpoint,
            got.as_ref().map(|g| (g.0, g.1)),
            (want.0, want.1)
        );
    }
    let below = source.range_at(compacted - 1).await;
    assert_eq!(
        below,
        Err("OutOfRange: etcdserver: mvcc: required revision has been compacted".to_string())
    );
    assert_eq!(cluster[1].range_at(compacted - 1).await, below);
    for rev in [compacted - 1, compacted, (compacted + head) / 2, head] {
        let want = ctl_get_at(&source.endpoint, rev);
        assert!(
            want.starts_with("revision") == (rev >= compacted),
            "etcdctl get --rev={rev}: {}",
            &want[..want.len().min(200)]
        );
        let m = &cluster[rev as usize % cluster.len()];
        assert_eq!(
            ctl_get_at(&m.endpoint, rev),
            want,
            "etcdctl get --rev={rev}"
        );
    }

    let want = big_leases(source).await;
    assert_eq!(want.len(), BIG_LEASES as usize - 1);
    for m in cluster.iter_mut() {
        let got = big_leases(m).await;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{}: lease IDs",
            m.endpoint
        );
        for (id, (granted, ttl, keys)) in &got {
            let (w_granted, _, w_keys) = &want[id];
            assert_eq!(
                granted, w_granted,
                "{}: lease {id:x} granted TTL",
                m.endpoint
            );
            assert!(
                *ttl > 0 && ttl <= granted,
                "{}: lease {id:x} remaining {ttl} of {granted}",
                m.endpoint
            );
            assert_eq!(keys, w_keys, "{}: lease {id:x} keys", m.endpoint);
        }
    }

    let want = big_auth(source).await;
    assert_eq!(want.len(), 8, "{want:?}");
    for m in cluster.iter_mut() {
        assert_eq!(big_auth(m).await, want, "{}: users and roles", m.endpoint);
    }

    let history = watch_events(&source.endpoint, compacted + 1, head).await;
    assert!(history.len() > 3_500, "{} events", history.len());
    assert!(
        watch_events(&cluster[1].endpoint, compacted + 1, head).await == history,
        "historic watch from {} differs",
        compacted + 1
    );
    let live_endpoint = cluster[2].endpoint.clone();
    let expected_end = head + 5;
    let live =
        tokio::spawn(async move { watch_events(&live_endpoint, head + 1, expected_end).await });
    // Let the live watch start at the head before the writes (a watch from head + 1 would
    // also deliver writes made before it was created; this shows it delivers live ones).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let revs = big_new_writes(source).await;
    assert_eq!(revs, (head + 1..=expected_end).collect::<Vec<_>>());
    assert_eq!(big_new_writes(&mut cluster[0]).await, revs);
    let want_new = watch_events(&source.endpoint, head + 1, expected_end).await;
    assert_eq!(want_new.len(), 6);
    assert!(
        live.await.expect("live watch") == want_new,
        "the live watch on the restored cluster differs"
    );
    let want_all = watch_events(&source.endpoint, compacted + 1, expected_end).await;
    assert!(
        watch_events(&cluster[0].endpoint, compacted + 1, expected_end).await == want_all,
        "historic watch through the new writes differs"
    );

    let want = big_auth_at_work(source).await;
    assert!(
        want.iter().any(|l| l.contains("permission denied")),
        "{want:?}"
    );
    assert_eq!(big_auth_at_work(&mut cluster[0]).await, want);
    eprintln!(
        "{} members agree with {}: {count} keys at head {head}, ranges at revisions \
         {compacted}..={head}, {} leases, {} historic + {} live watch events, {} auth checks",
        cluster.len(),
        source.endpoint,
        BIG_LEASES - 1,
        history.len(),
        want_new.len(),
        want.len()
    );
}

/// `etcdctl snapshot status -w json`: (revision, totalKey).
fn status_rev_keys(path: &Path) -> (i64, i64) {
    let j = Json::parse(&etcdctl_status(path)).expect("status json");
    (
        j.get("revision").and_then(Json::as_i64).expect("revision"),
        j.get("totalKey").and_then(Json::as_i64).expect("totalKey"),
    )
}

/// The migration at full scale: the same 10,000-key history ([`big_history`]) on
/// etcd 3.4.23 and on oxcd; `etcdctl snapshot save` of each gives snapshots with the same
/// revision and key count (etcdctl snapshot status) and byte-identical `key` buckets; etcd's
/// restored by `oxcd snapshot restore` into a 3-member oxcd cluster, and oxcd's restored by
/// `etcdctl snapshot restore` into a 3-member etcd cluster, each serve what their source
/// serves ([`big_compare`]).
#[test]
fn migration_10000_keys() {
    oxcd_integration_tests::oxcd_available();
    let rt = runtime();
    let etcd = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    let oxcd = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    let (mut from_etcd, mut from_oxcd) = rt.block_on(async {
        (
            Rpc::connect(&etcd.endpoint()).await,
            Rpc::connect(&oxcd.endpoint()).await,
        )
    });
    let compacted = rt.block_on(big_history(&mut from_etcd));
    assert_eq!(rt.block_on(big_history(&mut from_oxcd)), compacted);

    let dir = tempfile::tempdir().expect("tempdir");
    let etcd_file = dir.path().join("etcd.db");
    let oxcd_file = dir.path().join("oxcd.db");
    ok(
        &etcd,
        &["snapshot", "save", etcd_file.to_str().expect("path")],
    );
    ok(
        &oxcd,
        &["snapshot", "save", oxcd_file.to_str().expect("path")],
    );
    let (rev, keys) = status_rev_keys(&etcd_file);
    assert!(rev > 400 && keys > 13_000, "etcd's snapshot: {rev} {keys}");
    assert_eq!(status_rev_keys(&oxcd_file), (rev, keys), "snapshot status");
    assert!(
        key_bucket(&oxcd_file) == key_bucket(&etcd_file),
        "the key buckets differ"
    );
    // The other buckets hold the same leases, roles, users' roles and compaction marks
    // (password hashes are salted; the consistent index is each server's own).
    let de = read_dump(&open_snapshot(&etcd_file, false).expect("open"));
    let dx = read_dump(&open_snapshot(&oxcd_file, false).expect("open"));
    assert_eq!(de.leases.len(), BIG_LEASES as usize - 1);
    assert_eq!(dx.leases, de.leases);
    assert_eq!(dx.roles, de.roles);
    let user_roles = |d: &Dump| -> Vec<(String, Vec<String>)> {
        d.users
            .iter()
            .map(|(n, u)| (n.clone(), u.roles.clone()))
            .collect()
    };
    assert_eq!(user_roles(&dx), user_roles(&de));
    assert_eq!(de.users.len(), 4);
    for mark in ["scheduledCompactRev", "finishedCompactRev"] {
        assert!(de.meta.contains_key(mark), "{mark}");
        assert_eq!(dx.meta.get(mark), de.meta.get(mark), "{mark}");
    }

    for (kind, file, source) in [
        (Kind::Oxcd, &etcd_file, &mut from_etcd),
        (Kind::Etcd, &oxcd_file, &mut from_oxcd),
    ] {
        let prepare = |name: &str, ic: &str, token: &str, peer: &str, data: &Path| {
            restore_member(kind, file, name, ic, token, peer, data)
        };
        let mut cluster = Cluster::start_prepared(kind, 3, &[], &prepare).expect("start cluster");
        cluster.leader_index().expect("a leader");
        let mut members = rt.block_on(async {
            let mut v = Vec::new();
            for i in 0..3 {
                v.push(Rpc::connect(&cluster.member(i).client_url()).await);
            }
            v
        });
        rt.block_on(big_compare(source, &mut members, compacted));
    }
}
