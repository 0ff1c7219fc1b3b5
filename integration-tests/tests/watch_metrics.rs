//! etcd's watch metrics move with watchers: `etcd_debugging_mvcc_watcher_total` and
//! `etcd_debugging_mvcc_watch_stream_total` count open watchers and streams (and drop when
//! they close); `slow_watcher_total`, `pending_events_total` and `events_total` are exported.
//! Checked on etcd 3.4.23 and oxcd alike.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_integration_tests::etcdctl::etcdctl_binary;
use oxcd_integration_tests::{etcdctl, http, oxcd_available, Kind, Server, ServerOpts};

fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn wait_metric(server: &Server, name: &str, pred: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = http::request(server.client_port(), "GET", "/metrics", None)
            .map(|r| r.body)
            .unwrap_or_default();
        if let Some(v) = sample(&body, name) {
            if pred(v) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{}: {name} never reached the expected value; last scrape:\n{}",
            server.kind().label(),
            body.lines()
                .filter(|l| l.contains("etcd_debugging_mvcc"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_watch(server: &Server, prefix: &str) -> Child {
    Command::new(etcdctl_binary())
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &format!("127.0.0.1:{}", server.client_port()),
            "watch",
            "--prefix",
            prefix,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn etcdctl watch")
}

fn check(kind: Kind) {
    let server = Server::start(kind, ServerOpts::default()).expect("start server");
    let mut watches: Vec<Child> = (0..3)
        .map(|i| spawn_watch(&server, &format!("w{i}/")))
        .collect();
    wait_metric(&server, "etcd_debugging_mvcc_watcher_total", |v| v >= 3.0);
    wait_metric(&server, "etcd_debugging_mvcc_watch_stream_total", |v| {
        v >= 3.0
    });
    for i in 0..3 {
        let out = etcdctl(&server, &["put", &format!("w{i}/k"), "v"]).expect("put ran");
        assert!(out.success());
    }
    wait_metric(&server, "etcd_debugging_mvcc_events_total", |v| v >= 3.0);
    wait_metric(&server, "etcd_debugging_mvcc_slow_watcher_total", |_| true);
    wait_metric(&server, "etcd_debugging_mvcc_pending_events_total", |_| {
        true
    });
    for w in &mut watches {
        let _ = w.kill();
        let _ = w.wait();
    }
    wait_metric(&server, "etcd_debugging_mvcc_watcher_total", |v| v == 0.0);
    wait_metric(&server, "etcd_debugging_mvcc_watch_stream_total", |v| {
        v == 0.0
    });
}

#[test]
fn watch_metrics_follow_watchers_on_etcd_and_oxcd() {
    check(Kind::Etcd);
    if oxcd_available() {
        check(Kind::Oxcd);
    }
}
