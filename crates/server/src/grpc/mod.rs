//! gRPC front end: one file per etcd service, each thin (validate, call, map the error, fill
//! the header). Errors become `tonic::Status` only in [`status`].

pub mod cluster;
pub mod header;
pub mod kv;
pub mod maintenance;
pub mod snapshot;
pub mod status;

use oxcd_middleware::{GrpcMethod, MethodKind};

/// Every gRPC method this server registers, with its streaming kind (for metrics).
pub fn methods() -> Vec<GrpcMethod> {
    use MethodKind::*;
    let table: &[(&str, &[(&str, MethodKind)])] = &[
        (
            "etcdserverpb.KV",
            &[
                ("Range", Unary),
                ("RangeStream", ServerStream),
                ("Put", Unary),
                ("DeleteRange", Unary),
                ("Txn", Unary),
                ("Compact", Unary),
            ],
        ),
        (
            "etcdserverpb.Maintenance",
            &[
                ("Alarm", Unary),
                ("Status", Unary),
                ("Defragment", Unary),
                ("Hash", Unary),
                ("HashKV", Unary),
                ("Snapshot", ServerStream),
                ("MoveLeader", Unary),
                ("Downgrade", Unary),
            ],
        ),
        (
            "etcdserverpb.Cluster",
            &[
                ("MemberAdd", Unary),
                ("MemberRemove", Unary),
                ("MemberUpdate", Unary),
                ("MemberList", Unary),
                ("MemberPromote", Unary),
            ],
        ),
    ];
    table
        .iter()
        .flat_map(|(svc, ms)| {
            ms.iter().map(move |(m, k)| GrpcMethod { service: svc.to_string(), method: m.to_string(), kind: *k })
        })
        .collect()
}
