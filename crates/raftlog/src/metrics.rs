//! The etcd metrics this crate owns, registered in prometheus' default registry.
//!
//! Names and help strings match etcd 3.4. With several members in one process (tests)
//! the metrics are shared by all of them.

use std::sync::LazyLock;

use prometheus::{Counter, Gauge, Histogram, HistogramOpts};

// The names and help strings below are constants, so construction cannot fail;
// registration fails only if another crate registered the same name, which is ignored.

fn gauge(name: &str, help: &str) -> Gauge {
    let g = Gauge::new(name, help).expect("constant metric name is valid");
    let _ = prometheus::default_registry().register(Box::new(g.clone()));
    g
}

fn counter(name: &str, help: &str) -> Counter {
    let c = Counter::new(name, help).expect("constant metric name is valid");
    let _ = prometheus::default_registry().register(Box::new(c.clone()));
    c
}

/// A histogram with etcd's 14 buckets doubling from 1 ms (`ExponentialBuckets(0.001, 2, 14)`).
fn millis_to_8s(name: &str, help: &str) -> Histogram {
    let buckets: Vec<f64> = (0..14).map(|i| 0.001 * f64::from(1u32 << i)).collect();
    let opts = HistogramOpts::new(name, help).buckets(buckets);
    let h = Histogram::with_opts(opts).expect("constant metric name is valid");
    let _ = prometheus::default_registry().register(Box::new(h.clone()));
    h
}

/// `etcd_disk_wal_fsync_duration_seconds`: latency of synced raft log writes.
pub static WAL_FSYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    millis_to_8s(
        "etcd_disk_wal_fsync_duration_seconds",
        "The latency distributions of fsync called by WAL.",
    )
});

// A raft snapshot save (etcd's snap.Snapshotter.SaveSnap): the leader's periodic one every
// `snapshot_count` applied entries (the applier persists its state, then the log is
// compacted), and a follower's taking in of a snapshot from the leader (the log store
// records its position durably).

/// `etcd_debugging_snap_save_marshalling_duration_seconds`: encoding the snapshot's record
/// (the log store's truncated position, hard state and conf state) into its write batch.
pub static SNAP_SAVE_MARSHALLING_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    millis_to_8s(
        "etcd_debugging_snap_save_marshalling_duration_seconds",
        "The marshalling cost distributions of save called by snapshot.",
    )
});

/// `etcd_snap_fsync_duration_seconds`: making the snapshot durable (the applier's
/// [`crate::Applier::persist`] for a periodic save, the synced log-store write for a
/// snapshot from the leader).
pub static SNAP_FSYNC_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    millis_to_8s(
        "etcd_snap_fsync_duration_seconds",
        "The latency distributions of fsync called by snap.",
    )
});

/// `etcd_debugging_snap_save_total_duration_seconds`: a whole snapshot save.
pub static SNAP_SAVE_TOTAL_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    millis_to_8s(
        "etcd_debugging_snap_save_total_duration_seconds",
        "The total latency distributions of save called by snapshot.",
    )
});

/// `etcd_disk_wal_write_bytes_total`: bytes written to the raft log.
pub static WAL_WRITE_BYTES: LazyLock<Gauge> = LazyLock::new(|| {
    gauge(
        "etcd_disk_wal_write_bytes_total",
        "Total number of bytes written in WAL.",
    )
});

/// `etcd_server_has_leader`.
pub static HAS_LEADER: LazyLock<Gauge> = LazyLock::new(|| {
    gauge(
        "etcd_server_has_leader",
        "Whether or not a leader exists. 1 is existence, 0 is not.",
    )
});

/// `etcd_server_is_leader`.
pub static IS_LEADER: LazyLock<Gauge> = LazyLock::new(|| {
    gauge(
        "etcd_server_is_leader",
        "Whether or not this member is a leader. 1 if is, 0 otherwise.",
    )
});

/// `etcd_server_leader_changes_seen_total`.
pub static LEADER_CHANGES: LazyLock<Counter> = LazyLock::new(|| {
    counter(
        "etcd_server_leader_changes_seen_total",
        "The number of leader changes seen.",
    )
});

/// `etcd_server_proposals_committed_total` (a gauge in etcd: the commit index).
pub static PROPOSALS_COMMITTED: LazyLock<Gauge> = LazyLock::new(|| {
    gauge(
        "etcd_server_proposals_committed_total",
        "The total number of consensus proposals committed.",
    )
});

/// `etcd_server_proposals_applied_total` (a gauge in etcd: the applied index).
pub static PROPOSALS_APPLIED: LazyLock<Gauge> = LazyLock::new(|| {
    gauge(
        "etcd_server_proposals_applied_total",
        "The total number of consensus proposals applied.",
    )
});

/// `etcd_server_proposals_pending`: proposals this member handed to raft that it has not
/// yet seen applied (reset on a leader change, when unfinished ones are lost).
pub static PROPOSALS_PENDING: LazyLock<Gauge> = LazyLock::new(|| {
    gauge(
        "etcd_server_proposals_pending",
        "The current number of pending proposals to commit.",
    )
});

/// `etcd_server_proposals_failed_total`: proposals raft dropped. The server may add its
/// own failures (timeouts) to it.
pub static PROPOSALS_FAILED: LazyLock<Counter> = LazyLock::new(|| {
    counter(
        "etcd_server_proposals_failed_total",
        "The total number of failed proposals seen.",
    )
});

/// `etcd_server_heartbeat_send_failures_total`: heartbeat rounds a leader sent later than
/// twice the heartbeat interval after the previous one (its loop was stalled, usually by a
/// slow disk).
pub static HEARTBEAT_SEND_FAILURES: LazyLock<Counter> = LazyLock::new(|| {
    counter(
        "etcd_server_heartbeat_send_failures_total",
        "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
    )
});

/// Forces registration, so every metric is exported (with value 0) from the start.
pub fn register() {
    LazyLock::force(&WAL_FSYNC_SECONDS);
    LazyLock::force(&SNAP_SAVE_MARSHALLING_SECONDS);
    LazyLock::force(&SNAP_FSYNC_SECONDS);
    LazyLock::force(&SNAP_SAVE_TOTAL_SECONDS);
    LazyLock::force(&WAL_WRITE_BYTES);
    LazyLock::force(&HAS_LEADER);
    LazyLock::force(&IS_LEADER);
    LazyLock::force(&LEADER_CHANGES);
    LazyLock::force(&PROPOSALS_COMMITTED);
    LazyLock::force(&PROPOSALS_APPLIED);
    LazyLock::force(&PROPOSALS_PENDING);
    LazyLock::force(&PROPOSALS_FAILED);
    LazyLock::force(&HEARTBEAT_SEND_FAILURES);
}
