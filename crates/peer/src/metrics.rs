//! etcd's peer network metrics, registered in prometheus' default registry. Peer labels
//! are member IDs in hex, as etcd prints them.

use std::sync::LazyLock;

use prometheus::{CounterVec, GaugeVec, Histogram, HistogramOpts, HistogramVec, Opts};

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

fn histogram(name: &str, help: &str, first: f64, count: u32) -> Histogram {
    let buckets: Vec<f64> = (0..count).map(|i| first * f64::from(1u32 << i)).collect();
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("constant metric is valid");
    let _ = prometheus::default_registry().register(Box::new(h.clone()));
    h
}

/// `etcd_disk_backend_snapshot_duration_seconds` (etcd's buckets: 10 ms × 2^0..16): a
/// state machine checkpoint from the moment it is taken until it has been streamed (or the
/// stream failed), whether it goes to a peer behind a raft snapshot or to a client of
/// `Maintenance.Snapshot` (the server feeds that one).
pub static BACKEND_SNAPSHOT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "etcd_disk_backend_snapshot_duration_seconds",
        "The latency distribution of backend snapshots.",
        0.01,
        17,
    )
});

/// `etcd_snap_db_fsync_duration_seconds` (1 ms × 2^0..13): syncing the files of a snapshot
/// received from the leader (and their directory) once all bytes are written.
pub static SNAP_DB_FSYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "etcd_snap_db_fsync_duration_seconds",
        "The latency distributions of fsyncing .snap.db file",
        0.001,
        14,
    )
});

/// `etcd_snap_db_save_total_duration_seconds` (100 ms × 2^0..9): receiving a snapshot from
/// the leader into the staging directory, from its first file byte to the synced directory
/// (successful receives only, as etcd).
pub static SNAP_DB_SAVE_TOTAL_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "etcd_snap_db_save_total_duration_seconds",
        "The total latency distributions of v3 snapshot save",
        0.1,
        10,
    )
});

/// Forces the registration of the families etcd exports from its start (the plain
/// histograms; the labelled vectors appear with their first series, as in etcd).
pub fn register() {
    LazyLock::force(&BACKEND_SNAPSHOT_SECONDS);
    LazyLock::force(&SNAP_DB_FSYNC_SECONDS);
    LazyLock::force(&SNAP_DB_SAVE_TOTAL_SECONDS);
}

/// A member ID as etcd prints it in labels.
pub(crate) fn id_label(id: u64) -> String {
    format!("{id:x}")
}
