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
//!
//! Every server runs on loopback through the harness and is killed when its test ends.

use std::collections::BTreeMap;
use std::path::Path;

use oxcd_integration_tests::{
    etcdctl, etcdctl_stdin, granted_lease_hex, ports, txn_script, Cluster, Json, Kind, Output,
    Server, ServerOpts,
};
use oxcd_proto::{authpb, mvccpb};
use oxcd_snapshot::{etcd, open_snapshot, status, BoltReader};
use prost::Message;

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
        (
            "truncated",
            bytes[..bytes.len() / 3].to_vec(),
            &[],
            "file is truncated",
        ),
        ("no-trailer", bytes[..db_len].to_vec(), &[], "missing hash"),
        (
            "foreign-no-skip",
            b"not a snapshot at all\n".repeat(500),
            &[],
            "not a bbolt database",
        ),
        (
            "truncated-skip",
            bytes[..8192 + 100].to_vec(),
            &["--skip-hash-check"],
            "truncated",
        ),
        ("flipped", flipped, &[], "hash mismatch"),
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
        ("empty", Vec::new(), &["--skip-hash-check"], "too small"),
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

    // A data dir in use is refused and left as it was.
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("precious"), "x").expect("write");
    let out = oxcd_snapshot(&[
        "restore",
        good.to_str().expect("path"),
        &format!("--data-dir={}", work.path().display()),
    ]);
    assert_eq!(out.status, Some(1));
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
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
