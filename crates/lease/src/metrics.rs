//! The etcd lease metrics, registered in prometheus' default registry.
//!
//! Names and help strings match etcd 3.4. With several members in one process (tests)
//! the metrics are shared by all of them. [`register`] makes every series show up (at
//! zero) before first use, as etcd's do; [`crate::Lessor::open`] calls it.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounter};

// The names and help strings below are constants, so construction cannot fail;
// registration fails only if another crate registered the same name, which is ignored.

fn counter(name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("constant metric name is valid");
    let _ = prometheus::default_registry().register(Box::new(c.clone()));
    c
}

/// `etcd_debugging_lease_granted_total`: grants applied on this member.
pub static GRANTED: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "etcd_debugging_lease_granted_total",
        "The total number of granted leases.",
    )
});

/// `etcd_debugging_lease_revoked_total`: revokes applied on this member.
pub static REVOKED: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "etcd_debugging_lease_revoked_total",
        "The total number of revoked leases.",
    )
});

/// `etcd_debugging_lease_renewed_total`: renewals accepted while this member led.
pub static RENEWED: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "etcd_debugging_lease_renewed_total",
        "The number of renewed leases seen by the leader.",
    )
});

/// `etcd_debugging_lease_ttl_total`: granted TTLs (after the minimum is applied), in
/// etcd's buckets 1, 2, 4, ... 2^23 seconds.
pub static TTL: LazyLock<Histogram> = LazyLock::new(|| {
    let buckets =
        prometheus::exponential_buckets(1.0, 2.0, 24).expect("constant buckets are valid");
    let opts = HistogramOpts::new(
        "etcd_debugging_lease_ttl_total",
        "Bucketed histogram of lease TTLs.",
    )
    .buckets(buckets);
    let h = Histogram::with_opts(opts).expect("constant metric name is valid");
    let _ = prometheus::default_registry().register(Box::new(h.clone()));
    h
});

/// `etcd_debugging_server_lease_expired_total`: expired leases the server revoked. The
/// lessor never increments it; the server calls [`record_expired`].
pub static EXPIRED: LazyLock<IntCounter> = LazyLock::new(|| {
    counter(
        "etcd_debugging_server_lease_expired_total",
        "The total number of expired leases.",
    )
});

/// Counts `n` expired leases (the server calls this when it proposes their revoke, as
/// etcd's revoke loop does).
pub fn record_expired(n: u64) {
    EXPIRED.inc_by(n);
}

/// Registers every metric of this crate (idempotent).
pub fn register() {
    LazyLock::force(&GRANTED);
    LazyLock::force(&REVOKED);
    LazyLock::force(&RENEWED);
    LazyLock::force(&TTL);
    LazyLock::force(&EXPIRED);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_in_the_default_registry_with_etcd_names() {
        register();
        record_expired(2);
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&prometheus::default_registry().gather(), &mut text)
            .unwrap();
        for line in [
            "# HELP etcd_debugging_lease_granted_total The total number of granted leases.",
            "# TYPE etcd_debugging_lease_granted_total counter",
            "# HELP etcd_debugging_lease_revoked_total The total number of revoked leases.",
            "# HELP etcd_debugging_lease_renewed_total The number of renewed leases seen by the leader.",
            "# HELP etcd_debugging_lease_ttl_total Bucketed histogram of lease TTLs.",
            "# TYPE etcd_debugging_lease_ttl_total histogram",
            "etcd_debugging_lease_ttl_total_bucket{le=\"1\"}",
            "etcd_debugging_lease_ttl_total_bucket{le=\"8388608\"}",
            "# HELP etcd_debugging_server_lease_expired_total The total number of expired leases.",
            "# TYPE etcd_debugging_server_lease_expired_total counter",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("etcd_debugging_lease_ttl_total_bucket{le=\"16777216\"}"));
        assert!(EXPIRED.get() >= 2);
    }
}
