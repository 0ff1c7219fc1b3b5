//! etcd's watch metrics move with watchers: `etcd_debugging_mvcc_watcher_total` and
//! `etcd_debugging_mvcc_watch_stream_total` count open watchers and streams (and drop when
//! they close); `slow_watcher_total`, `pending_events_total` and `events_total` are exported.
//! Checked on etcd 3.4.23 and oxcd alike.

use std::process::Child;
use std::time::{Duration, Instant};

use oxcd_integration_tests::etcdctl::spawn_etcdctl;
use oxcd_integration_tests::prom::{sample, scrape};
use oxcd_integration_tests::{etcdctl, oxcd_available, Kind, Server, ServerOpts};

fn wait_metric(server: &Server, name: &str, pred: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = scrape(server.client_port());
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
    spawn_etcdctl(&server.endpoint(), &["watch", "--prefix", prefix], false)
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
