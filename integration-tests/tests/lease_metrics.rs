//! etcd's lease metrics count grants, renewals, revocations, granted TTLs and expiries
//! (checked on etcd 3.4.23 and oxcd alike).

use std::time::{Duration, Instant};

use oxcd_integration_tests::prom::{sample, scrape};
use oxcd_integration_tests::{
    etcdctl, granted_lease_hex, oxcd_available, Kind, Server, ServerOpts,
};

fn check(kind: Kind) {
    let server = Server::start(kind, ServerOpts::default()).expect("start server");
    let ctl = |args: &[&str]| {
        let out = etcdctl(&server, args).expect("etcdctl ran");
        assert!(out.success(), "{args:?}: {}", out.stderr);
        out.stdout
    };
    let long = granted_lease_hex(&ctl(&["lease", "grant", "60"]));
    let short = granted_lease_hex(&ctl(&["lease", "grant", "2"]));
    ctl(&["put", "m/k", "v", &format!("--lease={short}")]);
    ctl(&["lease", "keep-alive", "--once", &long]);
    ctl(&["lease", "revoke", &long]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let label = kind.label();
    loop {
        let body = scrape(server.client_port());
        let got = |n: &str| sample(&body, n).unwrap_or(0.0);
        let ok = got("etcd_debugging_lease_granted_total") >= 2.0
            && got("etcd_debugging_lease_renewed_total") >= 1.0
            && got("etcd_debugging_lease_revoked_total") >= 1.0
            && got("etcd_debugging_lease_ttl_total_count") >= 2.0
            && got("etcd_debugging_server_lease_expired_total") >= 1.0;
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: lease metrics did not count the grants, renewal, revoke and expiry:\n{}",
            body.lines()
                .filter(|l| l.contains("lease"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The expired lease took its key with it.
    let out = etcdctl(&server, &["get", "m/k"]).expect("etcdctl ran");
    assert!(
        out.stdout.trim().is_empty(),
        "{label}: key of the expired lease remains"
    );
}

#[test]
fn lease_metrics_count_grants_renewals_revokes_and_expiries() {
    check(Kind::Etcd);
    if oxcd_available() {
        check(Kind::Oxcd);
    }
}
