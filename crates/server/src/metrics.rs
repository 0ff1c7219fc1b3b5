//! Metrics the server itself owns, under etcd's names, in the default prometheus registry.
//! (Raft metrics live in `oxcd-raftlog`, gRPC ones in `oxcd-middleware`.)

use std::sync::LazyLock;

use prometheus::{register_int_counter, register_int_gauge, IntCounter, IntGauge};

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
    ] {
        LazyLock::force(g);
    }
    for c in [
        &PUT_TOTAL,
        &DELETE_TOTAL,
        &RANGE_TOTAL,
        &TXN_TOTAL,
        &HEALTH_SUCCESS,
        &HEALTH_FAILURES,
        &SLOW_APPLY,
    ] {
        LazyLock::force(c);
    }
    oxcd_middleware::register_identity(member_id, version);
}
