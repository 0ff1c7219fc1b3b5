//! The warnings operators alert on, as etcd 3.4.23 emits them: with
//! `--experimental-warning-apply-duration` below any real apply time, every write and every
//! read-only range is logged as "apply request took too long" (zap logger: a JSON line with
//! `took`, `expected-duration`, `prefix`, `request`, `response`), values appear only as their
//! size, and `etcd_server_slow_apply_total` counts them. Run against etcd and oxcd alike.

use oxcd_integration_tests::etcdctl::etcdctl_raw;
use oxcd_integration_tests::json::Json;
use oxcd_integration_tests::{prom, Kind, Server, ServerOpts};

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn slow_lines(server: &Server) -> Vec<Json> {
    std::fs::read_to_string(server.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("apply request took too long"))
        .filter_map(|l| Json::parse(l.trim()).ok())
        .collect()
}

fn field(j: &Json, name: &str) -> String {
    j.get(name)
        .and_then(Json::scalar)
        .map(String::from)
        .unwrap_or_default()
}

#[test]
fn slow_applies_are_logged_and_counted_as_etcd_does() {
    for kind in [Kind::Etcd, Kind::Oxcd] {
        let opts =
            ServerOpts::with_args(&["--logger=zap", "--experimental-warning-apply-duration=1ns"]);
        let server = Server::start(kind, opts).expect("start");
        let ep = server.endpoint();
        let out =
            etcdctl_raw(&ep, &["put", "slow-key", "secret-value"], None, TIMEOUT).expect("put");
        assert!(out.success(), "{kind:?}: {}", out.stderr);
        let out = etcdctl_raw(&ep, &["get", "slow-key"], None, TIMEOUT).expect("get");
        assert!(out.success(), "{kind:?}: {}", out.stderr);
        std::thread::sleep(std::time::Duration::from_millis(300));

        let lines = slow_lines(&server);
        let put = lines
            .iter()
            .find(|j| field(j, "request").contains("slow-key") && field(j, "prefix").is_empty())
            .unwrap_or_else(|| panic!("{kind:?}: no slow-apply line for the put: {lines:?}"));
        assert_eq!(field(put, "level"), "warn", "{kind:?}");
        assert!(!field(put, "took").is_empty(), "{kind:?}: {put:?}");
        assert!(
            !field(put, "expected-duration").is_empty(),
            "{kind:?}: {put:?}"
        );
        let range = lines
            .iter()
            .find(|j| field(j, "prefix") == "read-only range ")
            .unwrap_or_else(|| panic!("{kind:?}: no slow read-only range line: {lines:?}"));
        assert!(
            field(range, "response").starts_with("range_response_count:1"),
            "{kind:?}: {range:?}"
        );
        let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
        assert!(
            !log.contains("secret-value"),
            "{kind:?}: a value reached the log"
        );
        let scrape = prom::scrape(server.client_port());
        let slow = prom::sample(&scrape, "etcd_server_slow_apply_total").unwrap_or(0.0);
        assert!(
            slow >= 2.0,
            "{kind:?}: etcd_server_slow_apply_total = {slow}"
        );
    }
}
