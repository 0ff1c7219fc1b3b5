//! The table of gRPC methods the metrics layer knows, with their streaming kind.
//!
//! go-grpc-prometheus learns `grpc_type` from grpc-go's service descriptors; a tower layer only
//! sees HTTP/2 requests, so the server hands the layer this table instead.

/// The streaming kind of a gRPC method: the `grpc_type` label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// One request, one response (`unary`).
    Unary,
    /// A request stream, one response (`client_stream`).
    ClientStream,
    /// One request, a response stream (`server_stream`).
    ServerStream,
    /// Streams both ways (`bidi_stream`).
    BidiStream,
}

impl MethodKind {
    /// The `grpc_type` label value, as go-grpc-prometheus spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            MethodKind::Unary => "unary",
            MethodKind::ClientStream => "client_stream",
            MethodKind::ServerStream => "server_stream",
            MethodKind::BidiStream => "bidi_stream",
        }
    }
}

/// One gRPC method: fully-qualified service name, method name, streaming kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrpcMethod {
    /// Fully-qualified service, e.g. `etcdserverpb.KV` (the `grpc_service` label).
    pub service: String,
    /// Method name, e.g. `Range` (the `grpc_method` label).
    pub method: String,
    /// Streaming kind (the `grpc_type` label).
    pub kind: MethodKind,
}

impl GrpcMethod {
    /// Builds a table entry.
    pub fn new(service: impl Into<String>, method: impl Into<String>, kind: MethodKind) -> Self {
        Self {
            service: service.into(),
            method: method.into(),
            kind,
        }
    }

    /// The HTTP/2 `:path` of this method: `/<service>/<method>`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }
}

/// Every method etcd 3.4.23 pre-initialises in its `grpc_server_*` series (41 methods: the
/// six `etcdserverpb` client services plus `grpc.health.v1.Health`), as seen in a live
/// 3.4.23 `/metrics` scrape. A server serving all of them can pass this table as is.
pub fn etcd_v3_methods() -> Vec<GrpcMethod> {
    use MethodKind::{BidiStream, ServerStream, Unary};
    const TABLE: &[(&str, &[(&str, MethodKind)])] = &[
        (
            "etcdserverpb.KV",
            &[
                ("Range", Unary),
                ("Put", Unary),
                ("DeleteRange", Unary),
                ("Txn", Unary),
                ("Compact", Unary),
            ],
        ),
        ("etcdserverpb.Watch", &[("Watch", BidiStream)]),
        (
            "etcdserverpb.Lease",
            &[
                ("LeaseGrant", Unary),
                ("LeaseRevoke", Unary),
                ("LeaseKeepAlive", BidiStream),
                ("LeaseTimeToLive", Unary),
                ("LeaseLeases", Unary),
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
            ],
        ),
        (
            "etcdserverpb.Auth",
            &[
                ("AuthEnable", Unary),
                ("AuthDisable", Unary),
                ("Authenticate", Unary),
                ("UserAdd", Unary),
                ("UserGet", Unary),
                ("UserList", Unary),
                ("UserDelete", Unary),
                ("UserChangePassword", Unary),
                ("UserGrantRole", Unary),
                ("UserRevokeRole", Unary),
                ("RoleAdd", Unary),
                ("RoleGet", Unary),
                ("RoleList", Unary),
                ("RoleDelete", Unary),
                ("RoleGrantPermission", Unary),
                ("RoleRevokePermission", Unary),
            ],
        ),
        (
            "grpc.health.v1.Health",
            &[("Check", Unary), ("Watch", ServerStream)],
        ),
    ];
    TABLE
        .iter()
        .flat_map(|(service, methods)| {
            methods
                .iter()
                .map(move |(method, kind)| GrpcMethod::new(*service, *method, *kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_table_has_the_41_methods_of_3_4_23() {
        let t = etcd_v3_methods();
        assert_eq!(t.len(), 41);
        let unique: std::collections::HashSet<_> = t.iter().map(GrpcMethod::path).collect();
        assert_eq!(unique.len(), 41);
        let watch = t.iter().find(|m| m.path() == "/etcdserverpb.Watch/Watch");
        assert_eq!(watch.map(|m| m.kind), Some(MethodKind::BidiStream));
        let snap = t
            .iter()
            .find(|m| m.path() == "/etcdserverpb.Maintenance/Snapshot");
        assert_eq!(snap.map(|m| m.kind.as_str()), Some("server_stream"));
    }
}
