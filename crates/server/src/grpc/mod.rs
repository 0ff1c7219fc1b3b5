//! gRPC front end: one file per etcd service, each thin (validate, call, map the error, fill
//! the header). Errors become `tonic::Status` only in [`status`]. `concurrency.rs` is the
//! in-process concurrency client that Lock and Election run on.

pub mod auth;
pub mod cluster;
mod concurrency;
pub mod election;
pub mod header;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
pub mod range_body;
pub mod range_stream;
pub mod snapshot;
pub mod status;
pub mod watch;

use oxcd_middleware::{GrpcMethod, MethodKind};

/// Every gRPC method of the etcd API with its streaming kind, for metrics: etcd 3.4's set
/// plus the methods later versions added.
pub fn methods() -> Vec<GrpcMethod> {
    let mut all = oxcd_middleware::etcd_v3_methods();
    for (svc, m, kind) in [
        ("etcdserverpb.KV", "RangeStream", MethodKind::ServerStream),
        ("etcdserverpb.Maintenance", "Downgrade", MethodKind::Unary),
        ("etcdserverpb.Auth", "AuthStatus", MethodKind::Unary),
    ] {
        if !all.iter().any(|g| g.service == svc && g.method == m) {
            all.push(GrpcMethod::new(svc, m, kind));
        }
    }
    all
}
