//! The `/metrics` families of a fresh oxcd against a fresh etcd 3.4.23 after the same traffic
//! (puts, a range, a txn, a watch, a lease grant and keep-alive, a compaction): names, types,
//! label names (not values) and histogram bucket bounds must be equal, except for the
//! families listed below, each with its reason. A listed family that stops differing fails the test too, so the lists
//! stay true.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use oxcd_integration_tests::background::Background;
use oxcd_integration_tests::{etcdctl, etcdctl_stdin, granted_lease_hex, prom, txn_script};
use oxcd_integration_tests::{Kind, Server, ServerOpts};

/// Families etcd exports that oxcd has no counterpart for.
const ETCD_ONLY: &[(&str, &str)] = &[
    ("go_*", "the Go runtime's collector"),
    (
        "promhttp_*",
        "Go's promhttp handler counting its own scrapes",
    ),
    (
        "etcd_debugging_disk_backend_commit_rebalance_duration_seconds",
        "a bbolt commit phase; RocksDB has no rebalance",
    ),
    (
        "etcd_debugging_disk_backend_commit_spill_duration_seconds",
        "a bbolt commit phase; RocksDB has no spill",
    ),
    (
        "etcd_debugging_disk_backend_commit_write_duration_seconds",
        "a bbolt commit phase; the whole commit is etcd_disk_backend_commit_duration_seconds",
    ),
    (
        "etcd_mvcc_db_open_read_transactions",
        "bbolt read transactions pin pages; oxcd reads RocksDB snapshots and an in-memory index",
    ),
    (
        "etcd_debugging_store_*",
        "etcd's v2 store; oxcd serves v3 only",
    ),
    (
        "etcd_grpc_proxy_*",
        "registered by etcd's built-in grpc-proxy; oxcd has no grpc-proxy",
    ),
];

/// Families oxcd exports that etcd does not.
const OXCD_ONLY: &[(&str, &str)] = &[(
    "process_threads",
    "the Rust prometheus process collector exports it; Go's does not",
)];

/// One family: its type, the label names its samples carry (`le`/`quantile` excluded) and,
/// for a histogram with samples, its finite bucket bounds in ascending order.
#[derive(Debug, Default)]
struct Family {
    ty: String,
    labels: BTreeSet<String>,
    buckets: Vec<f64>,
}

type Families = BTreeMap<String, Family>;

/// Bounds equal as numbers (Go and Rust print some floats differently, e.g. `1e+06`).
fn same_buckets(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()))
}

fn families(scrape: &str) -> Families {
    let mut fams = Families::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            if let (Some(name), Some(ty)) = (it.next(), it.next()) {
                let family = Family {
                    ty: ty.to_string(),
                    ..Family::default()
                };
                fams.insert(name.to_string(), family);
            }
        }
    }
    for line in scrape.lines().filter(|l| !l.starts_with('#')) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let sample = &line[..name_end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| sample.strip_suffix(s).filter(|f| fams.contains_key(*f)))
            .unwrap_or(sample);
        let Some(fam) = fams.get_mut(family) else {
            continue;
        };
        if let Some(body) = line[name_end..]
            .strip_prefix('{')
            .and_then(|r| r.split_once('}'))
        {
            for pair in body.0.split(',').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let key = key.trim();
                if key == "le" {
                    match value.trim_matches('"').parse::<f64>() {
                        Ok(b) if b.is_finite() && !fam.buckets.contains(&b) => fam.buckets.push(b),
                        _ => {}
                    }
                } else if key != "quantile" {
                    fam.labels.insert(key.to_string());
                }
            }
        }
    }
    for fam in fams.values_mut() {
        fam.buckets.sort_by(f64::total_cmp);
    }
    fams
}

fn listed(list: &[(&str, &str)], name: &str) -> bool {
    list.iter().any(|(pat, _)| match pat.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *pat,
    })
}

/// The same traffic on `kind`; returns its families.
fn traffic_families(kind: Kind) -> Families {
    let server = Server::start(kind, ServerOpts::default()).expect("start");
    let ok = |args: &[&str]| {
        let out = etcdctl(&server, args).expect("etcdctl ran");
        assert!(out.success(), "{kind:?} {args:?}: {}", out.stderr);
        out
    };
    let watch = Background::etcdctl_watch(&server.endpoint(), &["w"]).expect("watch");
    std::thread::sleep(oxcd_integration_tests::background::SETTLE);
    for i in 0..5 {
        ok(&["put", &format!("k{i}"), "v"]);
    }
    ok(&["put", "w", "watched"]);
    ok(&["get", "k", "--prefix"]);
    let txn = etcdctl_stdin(
        &server,
        &["txn"],
        &txn_script(&["value(\"k0\") = \"v\""], &["put k9 t"], &[]),
    )
    .expect("txn ran");
    assert!(txn.success(), "{kind:?} txn: {}", txn.stderr);
    ok(&["del", "k1"]);
    let lease = granted_lease_hex(&ok(&["lease", "grant", "60"]).stdout);
    ok(&["lease", "keep-alive", "--once", &lease]);
    ok(&["compact", "3"]);
    // Sampled gauges (sizes, revisions) refresh every 500 ms in oxcd.
    std::thread::sleep(Duration::from_millis(1000));
    let fams = families(&prom::scrape(server.client_port()));
    let watched = watch.finish();
    assert!(
        watched.stdout.contains("watched"),
        "{kind:?} watch: {watched:?}"
    );
    fams
}

#[test]
fn metric_families_match_etcd() {
    let etcd = traffic_families(Kind::Etcd);
    let oxcd = traffic_families(Kind::Oxcd);
    assert!(etcd.len() > 50, "etcd's scrape has {} families", etcd.len());
    let mut problems = Vec::new();
    let mut histograms = 0;
    for (name, e) in &etcd {
        match oxcd.get(name) {
            None if listed(ETCD_ONLY, name) => {}
            None => problems.push(format!(
                "oxcd lacks {name} ({}, labels {:?})",
                e.ty, e.labels
            )),
            Some(_) if listed(ETCD_ONLY, name) => {
                problems.push(format!("{name} is listed as etcd-only but oxcd has it"))
            }
            Some(o) => {
                if o.ty != e.ty {
                    problems.push(format!("{name}: type {} in oxcd, {} in etcd", o.ty, e.ty));
                }
                if o.labels != e.labels {
                    problems.push(format!(
                        "{name}: labels {:?} in oxcd, {:?} in etcd",
                        o.labels, e.labels
                    ));
                }
                // A labelled histogram without series yet shows no buckets on either side.
                if !e.buckets.is_empty() && !o.buckets.is_empty() {
                    histograms += 1;
                    if !same_buckets(&o.buckets, &e.buckets) {
                        problems.push(format!(
                            "{name}: buckets {:?} in oxcd, {:?} in etcd",
                            o.buckets, e.buckets
                        ));
                    }
                }
            }
        }
    }
    for name in oxcd.keys().filter(|n| !etcd.contains_key(*n)) {
        if !listed(OXCD_ONLY, name) {
            problems.push(format!("oxcd exports {name}, etcd does not"));
        }
    }
    let missing = ETCD_ONLY
        .iter()
        .filter(|(_, why)| why.starts_with("MISSING"))
        .count();
    eprintln!(
        "etcd {} families, oxcd {}; {histograms} histograms' buckets compared; \
         {missing} listed as not yet exported",
        etcd.len(),
        oxcd.len()
    );
    assert!(
        histograms > 10,
        "only {histograms} histograms had buckets to compare"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `etcd_server_client_requests_total`'s samples in a scrape: sorted label pairs -> value.
fn client_requests(scrape: &str) -> BTreeMap<String, f64> {
    scrape
        .lines()
        .filter_map(|l| l.strip_prefix("etcd_server_client_requests_total{"))
        .filter_map(|rest| {
            let (labels, value) = rest.split_once("} ")?;
            let mut pairs: Vec<&str> = labels.split(',').collect();
            pairs.sort_unstable();
            Some((pairs.join(","), value.trim().parse().ok()?))
        })
        .collect()
}

/// How much each `etcd_server_client_requests_total` series grew during etcdctl calls
/// (clientv3 sends `client-api-version: 3.4`), gateway calls (no version: `unknown`) and a
/// watch (a stream).
fn client_request_growth(kind: Kind) -> BTreeMap<String, f64> {
    let server = Server::start(kind, ServerOpts::default()).expect("start");
    let before = client_requests(&prom::scrape(server.client_port()));
    let watch = Background::etcdctl_watch(&server.endpoint(), &["w"]).expect("watch");
    std::thread::sleep(oxcd_integration_tests::background::SETTLE);
    for args in [&["put", "w", "1"][..], &["get", "w"], &["del", "w"]] {
        let out = etcdctl(&server, args).expect("etcdctl ran");
        assert!(out.success(), "{kind:?} {args:?}: {}", out.stderr);
    }
    for (path, body) in [
        ("/v3/kv/put", r#"{"key":"Zw==","value":"dg=="}"#),
        ("/v3/kv/range", r#"{"key":"Zw=="}"#),
    ] {
        let (status, text) = oxcd_integration_tests::http_post(&server, path, body).expect(path);
        assert_eq!(status, 200, "{kind:?} {path}: {text}");
    }
    let after = client_requests(&prom::scrape(server.client_port()));
    let watched = watch.finish();
    assert!(
        watched.stdout.contains("PUT"),
        "{kind:?} watch: {watched:?}"
    );
    after
        .into_iter()
        .map(|(labels, v)| {
            let grown = v - before.get(&labels).copied().unwrap_or(0.0);
            (labels, grown)
        })
        .filter(|(_, grown)| *grown > 0.0)
        .collect()
}

#[test]
fn client_requests_are_counted_by_kind_and_client_version_as_etcd_does() {
    let etcd = client_request_growth(Kind::Etcd);
    let oxcd = client_request_growth(Kind::Oxcd);
    assert!(
        etcd.keys().any(|k| k.contains("\"unknown\""))
            && etcd.keys().any(|k| k.contains("\"3.4\"")),
        "etcd: {etcd:?}"
    );
    assert_eq!(oxcd, etcd, "oxcd's growth, then etcd's");
}
