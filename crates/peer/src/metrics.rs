//! etcd's peer network metrics, registered in prometheus' default registry. Peer labels
//! are member IDs in hex, as etcd prints them.

use std::sync::LazyLock;

use prometheus::{CounterVec, GaugeVec, HistogramOpts, HistogramVec, Opts};

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> CounterVec {
    let c = CounterVec::new(Opts::new(name, help), labels).expect("constant metric is valid");
    let _ = prometheus::default_registry().register(Box::new(c.clone()));
    c
}

/// `etcd_network_peer_sent_bytes_total{To}`.
pub static SENT_BYTES: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_peer_sent_bytes_total",
        "The total number of bytes sent to peers.",
        &["To"],
    )
});

/// `etcd_network_peer_received_bytes_total{From}`.
pub static RECEIVED_BYTES: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_peer_received_bytes_total",
        "The total number of bytes received from peers.",
        &["From"],
    )
});

/// `etcd_network_peer_sent_failures_total{To}`.
pub static SENT_FAILURES: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_peer_sent_failures_total",
        "The total number of send failures from peers.",
        &["To"],
    )
});

/// `etcd_network_peer_received_failures_total{From}`.
pub static RECEIVED_FAILURES: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_peer_received_failures_total",
        "The total number of receive failures from peers.",
        &["From"],
    )
});

/// `etcd_network_active_peers{Local,Remote}`.
pub static ACTIVE_PEERS: LazyLock<GaugeVec> = LazyLock::new(|| {
    let g = GaugeVec::new(
        Opts::new(
            "etcd_network_active_peers",
            "The current number of active peer connections.",
        ),
        &["Local", "Remote"],
    )
    .expect("constant metric is valid");
    let _ = prometheus::default_registry().register(Box::new(g.clone()));
    g
});

/// `etcd_network_disconnected_peers_total{Local,Remote}`.
pub static DISCONNECTED_PEERS: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_disconnected_peers_total",
        "The total number of disconnected peers.",
        &["Local", "Remote"],
    )
});

/// `etcd_network_snapshot_send_success{To}`.
pub static SNAPSHOT_SEND_SUCCESS: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_snapshot_send_success",
        "Total number of successful snapshot sends",
        &["To"],
    )
});

/// `etcd_network_snapshot_send_failures{To}`.
pub static SNAPSHOT_SEND_FAILURES: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_snapshot_send_failures",
        "Total number of snapshot send failures",
        &["To"],
    )
});

/// `etcd_network_snapshot_receive_success{From}`.
pub static SNAPSHOT_RECEIVE_SUCCESS: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_snapshot_receive_success",
        "Total number of successful snapshot receives",
        &["From"],
    )
});

/// `etcd_network_snapshot_receive_failures{From}`.
pub static SNAPSHOT_RECEIVE_FAILURES: LazyLock<CounterVec> = LazyLock::new(|| {
    counter_vec(
        "etcd_network_snapshot_receive_failures",
        "Total number of snapshot receive failures",
        &["From"],
    )
});

/// `etcd_network_peer_round_trip_time_seconds{To}` (etcd's buckets: 0.1 ms × 2^0..15).
pub static ROUND_TRIP: LazyLock<HistogramVec> = LazyLock::new(|| {
    let buckets: Vec<f64> = (0..16).map(|i| 0.0001 * f64::from(1u32 << i)).collect();
    let h = HistogramVec::new(
        HistogramOpts::new(
            "etcd_network_peer_round_trip_time_seconds",
            "Round-Trip-Time histogram between peers",
        )
        .buckets(buckets),
        &["To"],
    )
    .expect("constant metric is valid");
    let _ = prometheus::default_registry().register(Box::new(h.clone()));
    h
});

/// A member ID as etcd prints it in labels.
pub(crate) fn id_label(id: u64) -> String {
    format!("{id:x}")
}
