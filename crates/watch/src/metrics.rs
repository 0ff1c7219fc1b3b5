//! etcd's watch metrics, in the default prometheus registry.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntGauge};

fn gauge(name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric name");
    let _ = prometheus::register(Box::new(g.clone()));
    g
}

/// `etcd_debugging_mvcc_watcher_total`.
pub static WATCHERS: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "etcd_debugging_mvcc_watcher_total",
        "Total number of watchers.",
    )
});
/// `etcd_debugging_mvcc_watch_stream_total`.
pub static STREAMS: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "etcd_debugging_mvcc_watch_stream_total",
        "Total number of watch streams.",
    )
});
/// `etcd_debugging_mvcc_slow_watcher_total`.
pub static SLOW_WATCHERS: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "etcd_debugging_mvcc_slow_watcher_total",
        "Total number of unsynced slow watchers.",
    )
});
/// `etcd_debugging_mvcc_pending_events_total`.
pub static PENDING_EVENTS: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "etcd_debugging_mvcc_pending_events_total",
        "Total number of pending events to be sent.",
    )
});
/// `etcd_debugging_mvcc_events_total`.
pub static EVENTS: LazyLock<IntCounter> = LazyLock::new(|| {
    let c = IntCounter::new(
        "etcd_debugging_mvcc_events_total",
        "Total number of events sent by this member.",
    )
    .expect("valid metric name");
    let _ = prometheus::register(Box::new(c.clone()));
    c
});

/// Registers every watch metric so it is exported from start-up.
pub fn init() {
    LazyLock::force(&WATCHERS);
    LazyLock::force(&STREAMS);
    LazyLock::force(&SLOW_WATCHERS);
    LazyLock::force(&PENDING_EVENTS);
    LazyLock::force(&EVENTS);
}
