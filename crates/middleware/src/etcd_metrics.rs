//! etcd's identity gauges (`etcd_server_version`, `etcd_cluster_version`, `etcd_server_id`,
//! `etcd_server_go_version`) and its client traffic counters
//! (`etcd_network_client_grpc_{received,sent}_bytes_total`,
//! `etcd_server_client_requests_total`), in the default registry.
//!
//! The identity gauges are "info" series: one label carries the value and the sample is `1`.
//!
//! `etcd_server_go_version`: oxcd is not written in Go, but the family is part of etcd 3.4's
//! metric set, so oxcd publishes it with the label value [`SERVER_GO_VERSION_LABEL`] (`rust`)
//! rather than drop the family or pretend to a Go release.

use std::sync::LazyLock;

use prometheus::core::Collector;
use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts};

use crate::method_table::MethodKind;

/// The `server_go_version` label value oxcd publishes (see the module doc).
pub const SERVER_GO_VERSION_LABEL: &str = "rust";

/// Registers `collector` in the default registry; a duplicate registration is logged, not fatal
/// (the metric then keeps counting but is not exported twice).
pub(crate) fn register_default<C: Collector + Clone + 'static>(collector: &C) {
    if let Err(err) = prometheus::register(Box::new(collector.clone())) {
        tracing::warn!(%err, "metric not registered in the default prometheus registry");
    }
}

fn info_gauge(name: &str, help: &str, label: &str) -> IntGaugeVec {
    let vec = IntGaugeVec::new(Opts::new(name, help), &[label])
        .expect("constant metric definition is valid");
    register_default(&vec);
    vec
}

static SERVER_VERSION: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    info_gauge(
        "etcd_server_version",
        "Which version is running. 1 for 'server_version' label with current version.",
        "server_version",
    )
});

static CLUSTER_VERSION: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    info_gauge(
        "etcd_cluster_version",
        "Which version is running. 1 for 'cluster_version' label with current cluster version",
        "cluster_version",
    )
});

static SERVER_GO_VERSION: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    info_gauge(
        "etcd_server_go_version",
        "Which Go version server is running with. 1 for 'server_go_version' label with current version.",
        "server_go_version",
    )
});

static SERVER_ID: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    info_gauge(
        "etcd_server_id",
        "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
        "server_id",
    )
});

fn set_info(vec: &IntGaugeVec, value: &str) {
    vec.reset();
    vec.with_label_values(&[value]).set(1);
}

/// Publishes `etcd_server_version{server_version="<version>"} 1` (e.g. `3.4.23`).
pub fn set_server_version(version: &str) {
    set_info(&SERVER_VERSION, version);
}

/// Publishes `etcd_cluster_version{cluster_version="<version>"} 1`, replacing any previous
/// value (etcd passes `major.minor`, e.g. `3.4`, and updates it when the cluster version moves).
pub fn set_cluster_version(version: &str) {
    set_info(&CLUSTER_VERSION, version);
}

/// Publishes `etcd_server_go_version{server_go_version="<version>"} 1`; oxcd passes
/// [`SERVER_GO_VERSION_LABEL`].
pub fn set_server_go_version(version: &str) {
    set_info(&SERVER_GO_VERSION, version);
}

/// Publishes `etcd_server_id{server_id="<id in lowercase hex, no padding>"} 1`, the way etcd's
/// `types.ID` prints (e.g. `bdae9bbc11dd390d`).
pub fn set_server_id(member_id: u64) {
    set_info(&SERVER_ID, &format!("{member_id:x}"));
}

/// Publishes the member's identity at start-up: `etcd_server_id`, `etcd_server_version`, and
/// `etcd_server_go_version` (as [`SERVER_GO_VERSION_LABEL`]). It also registers the client
/// traffic counters so they export 0 before the first request. `etcd_cluster_version` is
/// separate ([`set_cluster_version`]) because it is decided by the cluster, later.
pub fn register_identity(member_id: u64, server_version: &str) {
    set_server_id(member_id);
    set_server_version(server_version);
    set_server_go_version(SERVER_GO_VERSION_LABEL);
    LazyLock::force(&CLIENT_GRPC_BYTES);
}

/// etcd's client gRPC traffic counters. The gRPC metrics layer adds the HTTP/2 DATA payload
/// of every gRPC request and response body (gRPC messages including their 5-byte prefixes).
#[derive(Debug)]
pub struct ClientGrpcBytes {
    /// `etcd_network_client_grpc_received_bytes_total`.
    pub received: IntCounter,
    /// `etcd_network_client_grpc_sent_bytes_total`.
    pub sent: IntCounter,
}

static CLIENT_GRPC_BYTES: LazyLock<ClientGrpcBytes> = LazyLock::new(|| {
    let received = IntCounter::new(
        "etcd_network_client_grpc_received_bytes_total",
        "The total number of bytes received from grpc clients.",
    )
    .expect("constant metric definition is valid");
    let sent = IntCounter::new(
        "etcd_network_client_grpc_sent_bytes_total",
        "The total number of bytes sent to grpc clients.",
    )
    .expect("constant metric definition is valid");
    register_default(&received);
    register_default(&sent);
    ClientGrpcBytes { received, sent }
});

/// The process-wide client traffic counters (registered on first use).
pub fn client_grpc_bytes() -> &'static ClientGrpcBytes {
    &CLIENT_GRPC_BYTES
}

/// `etcd_server_client_requests_total{type,client_api_version}`: a vector, so it is exported
/// only after the first counted call, as in etcd.
static CLIENT_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let vec = IntCounterVec::new(
        Opts::new(
            "etcd_server_client_requests_total",
            "The total number of client requests per client version.",
        ),
        &["type", "client_api_version"],
    )
    .expect("constant metric definition is valid");
    register_default(&vec);
    vec
});

/// The gRPC metadata key etcd's clients (clientv3, so etcdctl) set to their API version
/// (`3.4` for etcdctl 3.4).
pub const CLIENT_API_VERSION_HEADER: &str = "client-api-version";

/// Counts one client call as etcd's gRPC interceptors do: `type` is `unary` for unary
/// methods and `stream` for every streaming kind, `client_api_version` the first
/// [`CLIENT_API_VERSION_HEADER`] value of the request, or `unknown` without one. The gRPC
/// metrics layer counts gRPC calls; the server counts its gateway's calls.
///
/// Unlike etcd, a value that does not look like a version (up to 16 digits and dots) is
/// counted as `unknown`: every label value is a series kept for the life of the process,
/// so a client sending a new value on each call must not grow the server without bound.
pub fn count_client_request(kind: MethodKind, client_api_version: Option<&[u8]>) {
    let ty = match kind {
        MethodKind::Unary => "unary",
        MethodKind::ClientStream | MethodKind::ServerStream | MethodKind::BidiStream => "stream",
    };
    let version = client_api_version
        .filter(|v| is_version(v))
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("unknown");
    CLIENT_REQUESTS.with_label_values(&[ty, version]).inc();
}

/// `3.4`, `3.5.0`: what a client API version label may be.
fn is_version(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= 16 && v.iter().all(|b| b.is_ascii_digit() || *b == b'.')
}

#[cfg(test)]
mod tests {
    use super::is_version;

    #[test]
    fn only_versions_become_label_values() {
        for ok in ["3.4", "3.5.0", "3"] {
            assert!(is_version(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "3.4-rc", "x", "12345678901234567"] {
            assert!(!is_version(bad.as_bytes()), "{bad}");
        }
    }
}
