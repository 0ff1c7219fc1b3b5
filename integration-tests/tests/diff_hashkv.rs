//! HashKV equal to etcd 3.4.23's: the same history (puts, overwrites, deletes, a range
//! delete, compactions) gives the same `hash` on a fresh etcd and a fresh oxcd, at the
//! current revision and at earlier ones, before and after compaction. Members of one
//! cluster are compared with each other elsewhere; this compares oxcd with etcd itself.

use oxcd_integration_tests::{expect_ok, kind_available, Cluster, Kind};

/// The history, as etcdctl commands; `hashkv` marks where the hashes are read.
const SCRIPT: &[&[&str]] = &[
    &["put", "a", "1"],
    &["put", "b", "2"],
    &["put", "a", "3"],
    &["hashkv"],
    &["del", "b"],
    &["put", "c", "4"],
    &["hashkv"],
    &["compaction", "4"],
    &["hashkv"],
    &["put", "b", "5"],
    &["del", "--prefix", ""],
    &["hashkv"],
    &["put", "d", "6"],
    &["compaction", "7"],
    &["hashkv"],
];

/// The `hash` and `compact_revision` etcdctl prints for revision `rev` (0 = current), or
/// the error it prints.
fn hashkv(c: &Cluster, rev: i64) -> String {
    let rev_flag = format!("--rev={rev}");
    let out = c.ctl(0, &["endpoint", "hashkv", "-w", "json", &rev_flag]);
    let out = out.expect("etcdctl endpoint hashkv");
    if !out.success() {
        let err = out.stderr.lines().find(|l| l.starts_with("Error:"));
        return format!("rev {rev}: {}", err.unwrap_or("failed"));
    }
    let field = |name: &str| {
        let at = out
            .stdout
            .find(&format!("\"{name}\":"))
            .map(|i| i + name.len() + 3);
        at.map(|i| {
            out.stdout[i..]
                .chars()
                .take_while(|ch| ch.is_ascii_digit() || *ch == '-')
                .collect::<String>()
        })
        .unwrap_or_default()
    };
    format!(
        "rev {rev}: hash {} compact_revision {}",
        field("hash"),
        field("compact_revision")
    )
}

fn observe(kind: Kind) -> Vec<String> {
    let c = Cluster::start(kind, 1, &[]).unwrap_or_else(|e| panic!("start {}: {e}", kind.label()));
    let mut seen = Vec::new();
    for cmd in SCRIPT {
        if cmd == &["hashkv"] {
            for rev in [0, 2, 4, 5] {
                seen.push(hashkv(&c, rev));
            }
            continue;
        }
        expect_ok(c.ctl(0, cmd), &format!("{} {cmd:?}", kind.label()));
        seen.push(format!("{cmd:?}"));
    }
    seen
}

#[test]
fn hashkv_equals_etcds_for_the_same_history() {
    for k in [Kind::Etcd, Kind::Oxcd] {
        assert!(kind_available(k), "{} binary missing", k.label());
    }
    let etcd = observe(Kind::Etcd).join("\n");
    let oxcd = observe(Kind::Oxcd).join("\n");
    println!("etcd:\n{etcd}\noxcd:\n{oxcd}");
    assert!(etcd.contains("hash "), "{etcd}");
    assert_eq!(etcd, oxcd);
}
