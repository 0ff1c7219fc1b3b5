//! [`GuardLayer`]: per-request admission checks that need the member's raft state, applied
//! to gRPC calls before they reach a handler (etcd's unary/stream interceptors):
//! - a learner serves only `Maintenance/Status`, `Maintenance/Snapshot` and (serializable)
//!   `KV/Range`; everything else gets "etcdserver: rpc not supported for learner";
//! - a request with `hasleader: true` metadata fails with "etcdserver: no leader" while
//!   the member knows no leader.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{Either, Ready};
use tower::{Layer, Service};

use crate::context::ServerContext;
use crate::error::ServerError;

/// gRPC methods a learner serves (`KV/Range` only when serializable, checked in the
/// handler).
const LEARNER_METHODS: &[&str] = &[
    "/etcdserverpb.KV/Range",
    "/etcdserverpb.Maintenance/Status",
    "/etcdserverpb.Maintenance/Snapshot",
];

/// The error a gRPC call to `path` with `headers` gets before reaching its handler.
pub fn admission_error(
    ctx: &ServerContext,
    path: &str,
    headers: &http::HeaderMap,
) -> Option<ServerError> {
    let grpc = path.starts_with("/etcdserverpb.")
        || path.starts_with("/v3lockpb.")
        || path.starts_with("/v3electionpb.");
    if !grpc {
        return None;
    }
    if ctx.is_learner() && !LEARNER_METHODS.contains(&path) {
        return Some(ServerError::NotSupportedForLearner);
    }
    let require_leader = headers
        .get("hasleader")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "true");
    if require_leader && !ctx.has_leader() {
        return Some(ServerError::NoLeader);
    }
    None
}

/// Adds the admission checks to a service.
#[derive(Clone)]
pub struct GuardLayer {
    ctx: Arc<ServerContext>,
}

impl GuardLayer {
    /// Checks against this member's state.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            ctx: self.ctx.clone(),
        }
    }
}

/// The service [`GuardLayer`] produces.
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    ctx: Arc<ServerContext>,
}

impl<S, B> Service<http::Request<B>> for Guard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Self::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match admission_error(&self.ctx, req.uri().path(), req.headers()) {
            Some(e) => {
                let status: tonic::Status = e.into();
                Either::Left(futures::future::ready(Ok(status.into_http())))
            }
            None => Either::Right(self.inner.call(req)),
        }
    }
}
