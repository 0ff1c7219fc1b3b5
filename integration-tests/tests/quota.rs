//! The NOSPACE cycle of etcd's runbook, side by side on etcd 3.4.23 and oxcd with the same
//! `--quota-backend-bytes` (16 MiB): 1 MiB puts until one fails; the NOSPACE alarm is raised;
//! further puts (even tiny ones) fail with "etcdserver: mvcc: database space exceeded" while
//! reads, deletes and compaction still work; after `compact` + `defrag` the alarm stays until
//! `alarm disarm`, and then puts work again. The two transcripts (member ids and endpoints
//! normalised) must be equal.
//!
//! The failed put itself may or may not be stored: etcd checks the quota twice, before
//! proposing (the write is refused) and again when applying, where a write that passed the
//! first check is applied and then answered NOSPACE. Which check trips depends on how the
//! backend's size moves between them, so the delete is compared with the keys present.

use oxcd_integration_tests::grpc::prefix_end;
use oxcd_integration_tests::{etcdctl, etcdctl_stdin, Json, Kind, Server, ServerOpts};

const QUOTA: u64 = 16 * 1024 * 1024;
const VALUE: usize = 1024 * 1024;
/// A bound on the puts tried; a server that accepts all of them ignores its quota.
const MAX_PUTS: usize = 40;

/// Runs the cycle; returns the normalised transcript and how many big puts were accepted.
fn nospace_cycle(kind: Kind) -> (Vec<String>, usize) {
    let quota = format!("--quota-backend-bytes={QUOTA}");
    let server = Server::start(kind, ServerOpts::with_args(&[&quota])).expect("start");
    let id = format!("{}", server.member_id().expect("member id"));
    let norm = |s: String| {
        s.replace(&id, "<member>")
            .replace(&server.endpoint(), "<endpoint>")
    };
    let ctl = |args: &[&str]| norm(etcdctl(&server, args).expect("etcdctl ran").outcome());
    let mut t = Vec::new();

    let value = "x".repeat(VALUE);
    let mut accepted = 0;
    let mut failure = None;
    for i in 0..MAX_PUTS {
        let key = format!("big/{i:02}");
        let out = etcdctl_stdin(&server, &["put", &key], &value).expect("put ran");
        if out.success() {
            accepted += 1;
        } else {
            failure = Some(out.outcome());
            break;
        }
    }
    let failure = failure.unwrap_or_else(|| {
        panic!("{kind:?}: all {MAX_PUTS} puts of 1 MiB accepted under a 16 MiB quota")
    });
    t.push(format!("first failed big put: {failure}"));
    t.push(format!("alarm list: {}", ctl(&["alarm", "list"])));
    t.push(format!("small put: {}", ctl(&["put", "small", "v"])));
    t.push(format!(
        "get big/00 (keys only): {}",
        ctl(&["get", "big/00", "--keys-only"])
    ));
    let present = prefix_count(&server, "big/");
    assert!(
        present == accepted || present == accepted + 1,
        "{kind:?}: {present} big keys stored after {accepted} accepted puts and one refused"
    );
    eprintln!(
        "{kind:?}: the refused put was stored: {}",
        present > accepted
    );
    let del = etcdctl(&server, &["del", "--prefix", "big/"]).expect("del ran");
    t.push(format!(
        "del --prefix big/: {}",
        if del.success() && del.stdout.trim() == present.to_string() {
            "deleted every key present".to_string()
        } else {
            del.outcome()
        }
    ));
    let rev = server_revision(&server);
    let compact = etcdctl(&server, &["compact", &rev.to_string()]).expect("compact ran");
    t.push(format!(
        "compact <current>: {}",
        compact.outcome().replace(&rev.to_string(), "<current>")
    ));
    t.push(format!("defrag: {}", ctl(&["defrag"])));
    t.push(format!(
        "alarm list after defrag: {}",
        ctl(&["alarm", "list"])
    ));
    t.push(format!(
        "small put before disarm: {}",
        ctl(&["put", "small", "v"])
    ));
    t.push(format!("alarm disarm: {}", ctl(&["alarm", "disarm"])));
    t.push(format!(
        "alarm list after disarm: {}",
        ctl(&["alarm", "list"])
    ));
    t.push(format!(
        "small put after disarm: {}",
        ctl(&["put", "small", "v"])
    ));
    let big = etcdctl_stdin(&server, &["put", "big/again"], &value).expect("put ran");
    t.push(format!("big put after disarm: {}", big.outcome()));
    (t, accepted)
}

/// How many keys start with `prefix` (a count-only range through the gateway).
fn prefix_count(server: &Server, prefix: &str) -> usize {
    let end = String::from_utf8(prefix_end(prefix)).expect("ascii prefix");
    let req = format!(
        r#"{{"key":"{}","range_end":"{}","count_only":true}}"#,
        oxcd_integration_tests::b64(prefix),
        oxcd_integration_tests::b64(&end)
    );
    let (status, body) =
        oxcd_integration_tests::http_post(server, "/v3/kv/range", &req).expect("range");
    assert_eq!(status, 200, "{body}");
    let json = Json::parse(&body).expect("range json");
    // An empty count is omitted from the JSON.
    json.at(&["count"])
        .and_then(Json::as_u64)
        .map_or(0, |n| usize::try_from(n).expect("a count fits usize"))
}

/// The server's current revision (`/v3/maintenance/status`).
fn server_revision(server: &Server) -> i64 {
    let (status, body) =
        oxcd_integration_tests::http_post(server, "/v3/maintenance/status", "{}").expect("status");
    assert_eq!(status, 200, "{body}");
    Json::parse(&body)
        .expect("status json")
        .at(&["header", "revision"])
        .and_then(Json::as_i64)
        .expect("revision")
}

#[test]
fn nospace_alarm_cycle_matches_etcd() {
    let (etcd, etcd_n) = nospace_cycle(Kind::Etcd);
    let (oxcd, oxcd_n) = nospace_cycle(Kind::Oxcd);
    eprintln!("etcd accepted {etcd_n} puts of 1 MiB, oxcd {oxcd_n}");
    for (kind, n) in [("etcd", etcd_n), ("oxcd", oxcd_n)] {
        assert!(
            (8..=16).contains(&n),
            "{kind}: {n} puts of 1 MiB accepted under a 16 MiB quota"
        );
    }
    assert_eq!(
        etcd[0],
        "first failed big put: FAILED: Error: etcdserver: mvcc: database space exceeded"
    );
    assert_eq!(etcd[1], "alarm list: OK: memberID:<member> alarm:NOSPACE");
    assert_eq!(oxcd, etcd, "oxcd's NOSPACE cycle differs from etcd's");
}
