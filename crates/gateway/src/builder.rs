//! `GatewayBuilder`: mounts the `/v3` routes of the services the server
//! implements and builds the `axum::Router`.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use oxcd_proto::etcdserverpb::auth_server::Auth;
use oxcd_proto::etcdserverpb::cluster_server::Cluster;
use oxcd_proto::etcdserverpb::kv_server::Kv;
use oxcd_proto::etcdserverpb::lease_server::Lease;
use oxcd_proto::etcdserverpb::maintenance_server::Maintenance;
use oxcd_proto::etcdserverpb::watch_server::Watch;
use oxcd_proto::v3electionpb::election_server::Election;
use oxcd_proto::v3lockpb::lock_server::Lock;
use tonic::{Request, Status};

use crate::cors::{cors_middleware, CorsPolicy};
use crate::state::{GatewayState, InterceptFn, Shared};
use crate::streaming::{bidi_streaming_route, server_streaming_route, InputEnd};
use crate::unary::unary_route;

/// Default cap on a request body. A base64-encoded 1.5 MiB value (etcd's
/// default `--max-request-bytes`) is about 2 MiB of JSON; the server's own
/// request-size check still applies after decoding.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Registers a unary route calling `<$svc_ty as $trait>::$method`.
macro_rules! unary {
    ($svc:expr, $svc_ty:ty, $trait:path, $method:ident) => {
        unary_route(Arc::clone(&$svc), |svc: Arc<$svc_ty>, request| async move {
            <$svc_ty as $trait>::$method(&svc, request).await
        })
    };
}

/// Builds the gateway router. Mount only the services the server implements;
/// the paths of the others answer 404 like any unknown path.
///
/// ```no_run
/// use std::sync::Arc;
/// use oxcd_gateway::GatewayBuilder;
/// use oxcd_proto::etcdserverpb::{kv_server::Kv, watch_server::Watch};
///
/// fn gateway<K: Kv, W: Watch>(kv: Arc<K>, watch: Arc<W>) -> axum::Router {
///     GatewayBuilder::new()
///         .kv(kv)
///         .watch(watch)
///         .interceptor(|request: tonic::Request<()>| Ok(request))
///         .build()
/// }
/// ```
pub struct GatewayBuilder {
    api: Router<Shared>,
    interceptor: Option<Arc<InterceptFn>>,
    cors: CorsPolicy,
    max_body_bytes: usize,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("interceptor", &self.interceptor.is_some())
            .field("cors", &self.cors)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl GatewayBuilder {
    /// A builder with no services, CORS `*` and [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new() -> Self {
        Self {
            api: Router::new(),
            interceptor: None,
            cors: CorsPolicy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// `/v3/kv/{range,put,deleterange,txn,compaction}`.
    pub fn kv<S: Kv>(mut self, svc: Arc<S>) -> Self {
        self.api = self
            .api
            .route("/kv/range", unary!(svc, S, Kv, range))
            .route("/kv/put", unary!(svc, S, Kv, put))
            .route("/kv/deleterange", unary!(svc, S, Kv, delete_range))
            .route("/kv/txn", unary!(svc, S, Kv, txn))
            .route("/kv/compaction", unary!(svc, S, Kv, compact));
        self
    }

    /// `/v3/watch`: the body's JSON value(s) are the request stream; the
    /// answer streams `{"result":…}` lines until the client disconnects or
    /// the service ends the stream. The service sees end-of-input only when
    /// the client goes away (etcd keeps a gateway watch open after its one
    /// create request).
    pub fn watch<S: Watch>(mut self, svc: Arc<S>) -> Self {
        let route = bidi_streaming_route(
            svc,
            InputEnd::OnDisconnect,
            |svc: Arc<S>, request| async move { <S as Watch>::watch(&svc, request).await },
        );
        self.api = self.api.route("/watch", route);
        self
    }

    /// `/v3/lease/{grant,revoke,keepalive,timetolive,leases}` and the
    /// alternates `/v3/kv/lease/{revoke,timetolive,leases}`. For keepalive the
    /// request stream ends right after the body's message(s), so the answer
    /// is one `{"result":…}` line per request and then the end.
    pub fn lease<S: Lease>(mut self, svc: Arc<S>) -> Self {
        let keepalive = bidi_streaming_route(
            Arc::clone(&svc),
            InputEnd::AfterBody,
            |svc: Arc<S>, request| async move { <S as Lease>::lease_keep_alive(&svc, request).await },
        );
        self.api = self
            .api
            .route("/lease/grant", unary!(svc, S, Lease, lease_grant))
            .route("/lease/revoke", unary!(svc, S, Lease, lease_revoke))
            .route("/lease/keepalive", keepalive)
            .route(
                "/lease/timetolive",
                unary!(svc, S, Lease, lease_time_to_live),
            )
            .route("/lease/leases", unary!(svc, S, Lease, lease_leases))
            .route("/kv/lease/revoke", unary!(svc, S, Lease, lease_revoke))
            .route(
                "/kv/lease/timetolive",
                unary!(svc, S, Lease, lease_time_to_live),
            )
            .route("/kv/lease/leases", unary!(svc, S, Lease, lease_leases));
        self
    }

    /// `/v3/cluster/member/{add,remove,update,list,promote}`.
    pub fn cluster<S: Cluster>(mut self, svc: Arc<S>) -> Self {
        self.api = self
            .api
            .route("/cluster/member/add", unary!(svc, S, Cluster, member_add))
            .route(
                "/cluster/member/remove",
                unary!(svc, S, Cluster, member_remove),
            )
            .route(
                "/cluster/member/update",
                unary!(svc, S, Cluster, member_update),
            )
            .route("/cluster/member/list", unary!(svc, S, Cluster, member_list))
            .route(
                "/cluster/member/promote",
                unary!(svc, S, Cluster, member_promote),
            );
        self
    }

    /// `/v3/maintenance/{alarm,status,defragment,hash,hashkv,snapshot,
    /// transfer-leadership,downgrade}`; snapshot streams NDJSON.
    pub fn maintenance<S: Maintenance>(mut self, svc: Arc<S>) -> Self {
        let snapshot =
            server_streaming_route(Arc::clone(&svc), |svc: Arc<S>, request| async move {
                <S as Maintenance>::snapshot(&svc, request).await
            });
        self.api = self
            .api
            .route("/maintenance/alarm", unary!(svc, S, Maintenance, alarm))
            .route("/maintenance/status", unary!(svc, S, Maintenance, status))
            .route(
                "/maintenance/defragment",
                unary!(svc, S, Maintenance, defragment),
            )
            .route("/maintenance/hash", unary!(svc, S, Maintenance, hash))
            .route("/maintenance/hashkv", unary!(svc, S, Maintenance, hash_kv))
            .route("/maintenance/snapshot", snapshot)
            .route(
                "/maintenance/transfer-leadership",
                unary!(svc, S, Maintenance, move_leader),
            )
            .route(
                "/maintenance/downgrade",
                unary!(svc, S, Maintenance, downgrade),
            );
        self
    }

    /// `/v3/auth/{enable,disable,status,authenticate}`,
    /// `/v3/auth/user/{add,get,list,delete,changepw,grant,revoke}` and
    /// `/v3/auth/role/{add,get,list,delete,grant,revoke}`.
    pub fn auth<S: Auth>(mut self, svc: Arc<S>) -> Self {
        self.api = self
            .api
            .route("/auth/enable", unary!(svc, S, Auth, auth_enable))
            .route("/auth/disable", unary!(svc, S, Auth, auth_disable))
            .route("/auth/status", unary!(svc, S, Auth, auth_status))
            .route("/auth/authenticate", unary!(svc, S, Auth, authenticate))
            .route("/auth/user/add", unary!(svc, S, Auth, user_add))
            .route("/auth/user/get", unary!(svc, S, Auth, user_get))
            .route("/auth/user/list", unary!(svc, S, Auth, user_list))
            .route("/auth/user/delete", unary!(svc, S, Auth, user_delete))
            .route(
                "/auth/user/changepw",
                unary!(svc, S, Auth, user_change_password),
            )
            .route("/auth/user/grant", unary!(svc, S, Auth, user_grant_role))
            .route("/auth/user/revoke", unary!(svc, S, Auth, user_revoke_role))
            .route("/auth/role/add", unary!(svc, S, Auth, role_add))
            .route("/auth/role/get", unary!(svc, S, Auth, role_get))
            .route("/auth/role/list", unary!(svc, S, Auth, role_list))
            .route("/auth/role/delete", unary!(svc, S, Auth, role_delete))
            .route(
                "/auth/role/grant",
                unary!(svc, S, Auth, role_grant_permission),
            )
            .route(
                "/auth/role/revoke",
                unary!(svc, S, Auth, role_revoke_permission),
            );
        self
    }

    /// `/v3/lock/{lock,unlock}`.
    pub fn lock<S: Lock>(mut self, svc: Arc<S>) -> Self {
        self.api = self
            .api
            .route("/lock/lock", unary!(svc, S, Lock, lock))
            .route("/lock/unlock", unary!(svc, S, Lock, unlock));
        self
    }

    /// `/v3/election/{campaign,proclaim,leader,observe,resign}`; observe
    /// streams NDJSON.
    pub fn election<S: Election>(mut self, svc: Arc<S>) -> Self {
        let observe = server_streaming_route(Arc::clone(&svc), |svc: Arc<S>, request| async move {
            <S as Election>::observe(&svc, request).await
        });
        self.api = self
            .api
            .route("/election/campaign", unary!(svc, S, Election, campaign))
            .route("/election/proclaim", unary!(svc, S, Election, proclaim))
            .route("/election/leader", unary!(svc, S, Election, leader))
            .route("/election/observe", observe)
            .route("/election/resign", unary!(svc, S, Election, resign));
        self
    }

    /// Runs `interceptor` on every gateway call, after the request metadata
    /// (`token`, `authorization`, `Grpc-Metadata-*`) is filled and before the
    /// service is called; an `Err` is answered as the error body. Use the same
    /// interceptor as the gRPC server: the gateway calls services in-process,
    /// so tonic's layers do not run for it.
    pub fn interceptor<I>(mut self, interceptor: I) -> Self
    where
        I: tonic::service::Interceptor + Clone + Send + Sync + 'static,
    {
        let intercept = move |request: Request<()>| -> Result<Request<()>, Status> {
            interceptor.clone().call(request)
        };
        self.interceptor = Some(Arc::new(intercept));
        self
    }

    /// Sets the CORS policy (default [`CorsPolicy::AllowAll`], etcd's `--cors '*'`).
    pub fn cors(mut self, policy: CorsPolicy) -> Self {
        self.cors = policy;
        self
    }

    /// Caps request bodies at `bytes` (413 above it).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The router: every mounted route under `/v3` and again under `/v3beta`
    /// (etcd 3.4 rewrites `/v3beta/` to `/v3/`). It has no fallback, so it can
    /// be merged into the server's HTTP router.
    pub fn build(self) -> Router {
        let state: Shared = Arc::new(GatewayState {
            interceptor: self.interceptor,
            cors: self.cors,
        });
        Router::new()
            .nest("/v3", self.api.clone())
            .nest("/v3beta", self.api)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&state),
                cors_middleware,
            ))
            .layer(DefaultBodyLimit::max(self.max_body_bytes))
            .with_state(state)
    }
}
