//! Metrics the server itself owns, under etcd's names, in the default prometheus registry.
//! (Raft metrics, the raft snapshot save included, live in `oxcd-raftlog`, gRPC ones in
//! `oxcd-middleware`, peer and snapshot transfer ones in `oxcd-peer`.)

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_int_counter, register_int_gauge, Histogram, IntCounter, IntGauge,
};

macro_rules! gauge {
    ($name:ident, $metric:expr, $help:expr) => {
        #[doc = $help]
        pub static $name: LazyLock<IntGauge> = LazyLock::new(|| {
            register_int_gauge!($metric, $help)
                .unwrap_or_else(|_| IntGauge::new($metric, $help).expect("valid metric"))
        });
    };
}
macro_rules! counter {
    ($name:ident, $metric:expr, $help:expr) => {
        #[doc = $help]
        pub static $name: LazyLock<IntCounter> = LazyLock::new(|| {
            register_int_counter!($metric, $help)
                .unwrap_or_else(|_| IntCounter::new($metric, $help).expect("valid metric"))
        });
    };
}

gauge!(
    DB_TOTAL_SIZE,
    "etcd_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes."
);
gauge!(
    DB_TOTAL_SIZE_DEBUGGING,
    "etcd_debugging_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes."
);
gauge!(
    DB_IN_USE_SIZE,
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "Total size of the underlying database logically in use in bytes."
);
gauge!(
    IS_LEARNER,
    "etcd_server_is_learner",
    "Whether or not this member is a learner. 1 if is, 0 otherwise."
);
gauge!(
    QUOTA_BACKEND_BYTES,
    "etcd_server_quota_backend_bytes",
    "Current backend storage quota size in bytes."
);
gauge!(
    CURRENT_REVISION,
    "etcd_debugging_mvcc_current_revision",
    "The current revision of store."
);
gauge!(
    COMPACT_REVISION,
    "etcd_debugging_mvcc_compact_revision",
    "The revision of the last compaction in store."
);
counter!(
    PUT_TOTAL,
    "etcd_mvcc_put_total",
    "Total number of puts seen by this member."
);
counter!(
    DELETE_TOTAL,
    "etcd_mvcc_delete_total",
    "Total number of deletes seen by this member."
);
counter!(
    RANGE_TOTAL,
    "etcd_mvcc_range_total",
    "Total number of ranges seen by this member."
);
counter!(
    TXN_TOTAL,
    "etcd_mvcc_txn_total",
    "Total number of txns seen by this member."
);
counter!(
    PUT_TOTAL_DEBUGGING,
    "etcd_debugging_mvcc_put_total",
    "Total number of puts seen by this member."
);
counter!(
    DELETE_TOTAL_DEBUGGING,
    "etcd_debugging_mvcc_delete_total",
    "Total number of deletes seen by this member."
);
counter!(
    RANGE_TOTAL_DEBUGGING,
    "etcd_debugging_mvcc_range_total",
    "Total number of ranges seen by this member."
);
counter!(
    TXN_TOTAL_DEBUGGING,
    "etcd_debugging_mvcc_txn_total",
    "Total number of txns seen by this member."
);
gauge!(
    KEYS_TOTAL,
    "etcd_debugging_mvcc_keys_total",
    "Total number of keys."
);

macro_rules! histogram {
    ($name:ident, $metric:expr, $help:expr, $first:expr, $count:expr) => {
        #[doc = $help]
        #[doc = concat!("(`", $metric, "`, buckets doubling from ", stringify!($first), " in the unit its name says, as etcd's.)")]
        pub static $name: LazyLock<Histogram> = LazyLock::new(|| {
            let buckets: Vec<f64> = (0..$count).map(|i| $first * f64::from(1u32 << i)).collect();
            register_histogram!($metric, $help, buckets.clone()).unwrap_or_else(|_| {
                Histogram::with_opts(prometheus::HistogramOpts::new($metric, $help).buckets(buckets))
                    .expect("valid metric")
            })
        });
    };
}

// The state machine's backend write of one applied entry (etcd: a bbolt commit).
histogram!(
    BACKEND_COMMIT_SECONDS,
    "etcd_disk_backend_commit_duration_seconds",
    "The latency distributions of commit called by backend.",
    0.001,
    14
);
// A Defragment (in oxcd a full RocksDB compaction).
histogram!(
    DEFRAG_SECONDS,
    "etcd_disk_backend_defrag_duration_seconds",
    "The latency distribution of backend defragmentation.",
    0.1,
    13
);
gauge!(
    DEFRAG_INFLIGHT,
    "etcd_disk_defrag_inflight",
    "Whether or not defrag is active on the member. 1 means active, 0 means not."
);
histogram!(
    HASH_SECONDS,
    "etcd_mvcc_hash_duration_seconds",
    "The latency distribution of storage hash operation.",
    0.01,
    15
);
histogram!(
    HASH_REV_SECONDS,
    "etcd_mvcc_hash_rev_duration_seconds",
    "The latency distribution of storage hash by revision operation.",
    0.01,
    15
);

gauge!(
    TOTAL_PUT_SIZE,
    "etcd_debugging_mvcc_total_put_size_in_bytes",
    "The total size of put kv pairs seen by this member."
);
counter!(
    DB_COMPACTION_KEYS,
    "etcd_debugging_mvcc_db_compaction_keys_total",
    "Total number of db keys compacted."
);
// A physical compaction's index step, under the store's write lock.
histogram!(
    INDEX_COMPACTION_PAUSE_MS,
    "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
    "Bucketed histogram of index compaction pause duration.",
    0.5,
    14
);
// Each chunk of deletes that another chunk follows.
histogram!(
    DB_COMPACTION_PAUSE_MS,
    "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
    "Bucketed histogram of db compaction pause duration.",
    1.0,
    13
);
// The deletion of the compacted revisions, from its first chunk to the finish mark.
histogram!(
    DB_COMPACTION_TOTAL_MS,
    "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
    "Bucketed histogram of db compaction total duration.",
    100.0,
    14
);
counter!(
    LEARNER_PROMOTE_SUCCESSES,
    "etcd_server_learner_promote_successes",
    "The total number of successful learner promotions while this member is leader."
);
gauge!(
    SNAPSHOT_APPLY_IN_PROGRESS,
    "etcd_server_snapshot_apply_in_progress_total",
    "1 if the server is applying the incoming snapshot. 0 if none."
);

/// Records a finished physical compaction: the keys it removed and its pauses, in whole
/// milliseconds as etcd observes them (a skipped job records nothing).
pub fn record_compaction(stats: &oxcd_mvcc::CompactionStats) {
    if stats.skipped {
        return;
    }
    let ms = |d: std::time::Duration| d.as_millis() as f64;
    INDEX_COMPACTION_PAUSE_MS.observe(ms(stats.index_pause));
    for pause in &stats.batch_pauses {
        DB_COMPACTION_PAUSE_MS.observe(ms(*pause));
    }
    DB_COMPACTION_TOTAL_MS.observe(ms(stats.total));
    DB_COMPACTION_KEYS.inc_by(stats.removed as u64);
}

/// Adds the puts of one applied write to `etcd_debugging_mvcc_total_put_size_in_bytes`:
/// key plus value bytes of every put event, whether a Put or a Txn made it (as etcd's
/// metrics transaction adds them).
pub fn count_put_bytes(changes: &oxcd_mvcc::Changes) {
    let bytes: usize = changes
        .events
        .iter()
        .filter(|e| e.r#type() == oxcd_proto::mvccpb::event::EventType::Put)
        .filter_map(|e| e.kv.as_ref())
        .map(|kv| kv.key.len() + kv.value.len())
        .sum();
    TOTAL_PUT_SIZE.add(bytes as i64);
}

/// The value of `etcd_debugging_mvcc_compact_revision` for a compacted revision: etcd
/// reports -1 until the first compaction.
pub fn compact_revision_gauge(compacted: i64) -> i64 {
    if compacted == 0 {
        -1
    } else {
        compacted
    }
}

/// Counts one applied put, delete or txn (`etcd_mvcc_*_total` and etcd's debugging twins).
pub fn count_write(put: u64, delete: u64, txn: u64) {
    PUT_TOTAL.inc_by(put);
    PUT_TOTAL_DEBUGGING.inc_by(put);
    DELETE_TOTAL.inc_by(delete);
    DELETE_TOTAL_DEBUGGING.inc_by(delete);
    TXN_TOTAL.inc_by(txn);
    TXN_TOTAL_DEBUGGING.inc_by(txn);
}

/// Counts one range served.
pub fn count_range() {
    RANGE_TOTAL.inc();
    RANGE_TOTAL_DEBUGGING.inc();
}

counter!(
    SLOW_READ_INDEXES,
    "etcd_server_slow_read_indexes_total",
    "The total number of pending read indexes not in sync with leader's or timed out read index requests."
);
counter!(
    READ_INDEXES_FAILED,
    "etcd_server_read_indexes_failed_total",
    "The total number of failed read indexes seen."
);
counter!(
    HEALTH_SUCCESS,
    "etcd_server_health_success",
    "The total number of successful health checks"
);
counter!(
    HEALTH_FAILURES,
    "etcd_server_health_failures",
    "The total number of failed health checks"
);
gauge!(
    AUTH_REVISION,
    "etcd_debugging_auth_revision",
    "The current revision of auth store."
);

counter!(
    SLOW_APPLY,
    "etcd_server_slow_apply_total",
    "The total number of slow apply requests (likely overloaded from slow disk)."
);

/// Forces registration of every metric (exported at 0 from the start) and records the
/// member's identity.
pub fn init(member_id: u64, version: &str) {
    for g in [
        &DB_TOTAL_SIZE,
        &DB_TOTAL_SIZE_DEBUGGING,
        &DB_IN_USE_SIZE,
        &QUOTA_BACKEND_BYTES,
        &CURRENT_REVISION,
        &COMPACT_REVISION,
        &AUTH_REVISION,
        &KEYS_TOTAL,
        &DEFRAG_INFLIGHT,
        &TOTAL_PUT_SIZE,
        &SNAPSHOT_APPLY_IN_PROGRESS,
    ] {
        LazyLock::force(g);
    }
    for h in [
        &BACKEND_COMMIT_SECONDS,
        &DEFRAG_SECONDS,
        &HASH_SECONDS,
        &HASH_REV_SECONDS,
        &INDEX_COMPACTION_PAUSE_MS,
        &DB_COMPACTION_PAUSE_MS,
        &DB_COMPACTION_TOTAL_MS,
    ] {
        LazyLock::force(h);
    }
    for c in [
        &PUT_TOTAL,
        &DELETE_TOTAL,
        &RANGE_TOTAL,
        &TXN_TOTAL,
        &PUT_TOTAL_DEBUGGING,
        &DELETE_TOTAL_DEBUGGING,
        &RANGE_TOTAL_DEBUGGING,
        &TXN_TOTAL_DEBUGGING,
        &HEALTH_SUCCESS,
        &HEALTH_FAILURES,
        &SLOW_READ_INDEXES,
        &READ_INDEXES_FAILED,
        &SLOW_APPLY,
        &DB_COMPACTION_KEYS,
        &LEARNER_PROMOTE_SUCCESSES,
    ] {
        LazyLock::force(c);
    }
    oxcd_peer::metrics::register();
    COMPACT_REVISION.set(compact_revision_gauge(0));
    oxcd_middleware::register_identity(member_id, version);
}
