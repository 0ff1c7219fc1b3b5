//! oxcd-middleware: the tower layers and process-wide metrics of oxcd's client port.
//!
//! It owns:
//! - [`GrpcMetricsLayer`]: go-grpc-prometheus compatible `grpc_server_*` metrics (the series
//!   etcd's dashboards and alerts query), plus etcd's client traffic byte counters;
//! - [`GrpcRequestSizeLayer`] / [`MaxRequestBytes`]: grpc-go's per-message receive limit with
//!   grpc-go's exact error, and re-exports of tower's concurrency limits;
//! - [`render`]: the `/metrics` text exposition of the default prometheus registry;
//! - [`register_process_metrics`] and etcd's identity gauges ([`register_identity`],
//!   [`set_cluster_version`], ...).
//!
//! Both layers wrap `http::Request<B>` -> `http::Response<tonic::body::Body>` services whose
//! inner service takes `http::Request<tonic::body::Body>`, so they stack with
//! `tonic::transport::Server::builder().layer(..)` and with each other. Recommended order,
//! outermost first: `GrpcMetricsLayer`, `GrpcRequestSizeLayer`, concurrency limit (metrics
//! then also count the calls the inner layers reject).
//!
//! # Layout
//! - `grpc_metrics`: the metric families, [`GrpcMetricsLayer`], its service and future.
//! - `grpc_metrics_body`: body wrappers counting bytes/messages and catching trailers.
//! - `method_table`: [`GrpcMethod`], [`MethodKind`], [`etcd_v3_methods`].
//! - `request_limits`: [`GrpcRequestSizeLayer`], [`MaxRequestBytes`], concurrency re-exports.
//! - `frame`: incremental scanner of gRPC's 5-byte length-prefixed framing.
//! - `grpc_wire`: gRPC content-type detection, path splitting, status code names.
//! - `etcd_metrics`: `etcd_server_version`, `etcd_cluster_version`, `etcd_server_id`,
//!   `etcd_server_go_version`, `etcd_network_client_grpc_{received,sent}_bytes_total`,
//!   `etcd_server_client_requests_total`.
//! - `process_metrics`: process collector registration plus `os_fd_used`/`os_fd_limit`.
//! - `http_metrics`: [`render`] / [`try_render`].
//! - `error`: [`MiddlewareError`].
//!
//! # Invariants
//! - ALL METRICS LIVE IN THE PROMETHEUS DEFAULT REGISTRY, registered at most once per process
//!   whatever the number of layers built; a name clash is logged, never a panic.
//! - NON-GRPC REQUESTS (content-type not `application/grpc*`) PASS THROUGH UNTOUCHED AND
//!   UNCOUNTED by both layers.
//! - EACH COUNTED CALL INCREMENTS `grpc_server_handled_total` EXACTLY ONCE, with the code
//!   from `grpc-status` in the response headers or trailers, or `Canceled` if the client
//!   went away first; `started - handled` is the number of calls in flight.
//! - Label values and help strings are etcd 3.4.23's byte for byte (`grpc_code` uses Go's
//!   spelling, e.g. `Canceled`).
//! - NO MESSAGE IS DECODED OR COPIED: both layers read only the 5-byte message prefixes.

mod error;
mod etcd_metrics;
mod frame;
mod grpc_metrics;
mod grpc_metrics_body;
mod grpc_wire;
mod http_metrics;
mod method_table;
mod process_metrics;
mod request_limits;

pub use error::MiddlewareError;
pub use etcd_metrics::{
    client_grpc_bytes, count_client_request, register_identity, set_cluster_version,
    set_server_go_version, set_server_id, set_server_version, ClientGrpcBytes,
    CLIENT_API_VERSION_HEADER, SERVER_GO_VERSION_LABEL,
};
pub use grpc_metrics::{
    GrpcMetrics, GrpcMetricsFuture, GrpcMetricsLayer, HANDLING_SECONDS_BUCKETS,
};
pub use grpc_wire::{grpc_code_name, is_grpc_request, split_grpc_path, GRPC_CODE_NAMES};
pub use http_metrics::{render, try_render, METRICS_CONTENT_TYPE};
pub use method_table::{etcd_v3_methods, GrpcMethod, MethodKind};
pub use process_metrics::register_process_metrics;
pub use request_limits::{
    message_too_large, ConcurrencyLimit, ConcurrencyLimitLayer, GlobalConcurrencyLimitLayer,
    GrpcRequestSize, GrpcRequestSizeFuture, GrpcRequestSizeLayer, MaxRequestBytes,
    GRPC_OVERHEAD_BYTES,
};
