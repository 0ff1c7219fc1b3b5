//! [`GuardLayer`]: per-request admission checks that need the member's raft state, applied
//! to gRPC calls before they reach a handler (etcd's unary/stream interceptors):
//! - a learner serves only `Maintenance/Status`, `Maintenance/Snapshot` and (serializable)
//!   `KV/Range`; everything else gets "etcdserver: rpc not supported for learner";
//! - a request with `hasleader: true` metadata fails with "etcdserver: no leader" while
//!   the member knows no leader, and a stream opened with it ENDS with that error when the
//!   leader monitor gives up on the leader (`background::leader_monitor`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{Either, Ready};
use tokio::sync::watch;
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
    if requires_leader(headers) && !ctx.has_leader() {
        return Some(ServerError::NoLeader);
    }
    None
}

/// Adds the admission checks to a service.
#[derive(Clone)]
pub struct GuardLayer {
    ctx: Arc<ServerContext>,
    leader_lost: watch::Receiver<u64>,
}

impl GuardLayer {
    /// Checks against this member's state; `leader_lost` is the leader monitor's signal.
    pub fn new(ctx: Arc<ServerContext>, leader_lost: watch::Receiver<u64>) -> Self {
        Self { ctx, leader_lost }
    }
}

fn requires_leader(headers: &http::HeaderMap) -> bool {
    headers
        .get("hasleader")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "true")
}

/// A response body that ends with "etcdserver: no leader" once the leader monitor fires.
struct LeaderBound {
    inner: tonic::body::Body,
    lost: Pin<Box<dyn Future<Output = ()> + Send>>,
    done: bool,
}

impl http_body::Body for LeaderBound {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.lost.as_mut().poll(cx).is_ready() {
            this.done = true;
            let mut trailers = http::HeaderMap::new();
            let status: tonic::Status = ServerError::NoLeader.into();
            if status.add_header(&mut trailers).is_err() {
                return Poll::Ready(None);
            }
            return Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))));
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            ctx: self.ctx.clone(),
            leader_lost: self.leader_lost.clone(),
        }
    }
}

/// The service [`GuardLayer`] produces.
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    ctx: Arc<ServerContext>,
    leader_lost: watch::Receiver<u64>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for Guard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Either<
        Ready<Result<Self::Response, S::Error>>,
        BoxFuture<Result<Self::Response, S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match admission_error(&self.ctx, req.uri().path(), req.headers()) {
            Some(e) => {
                let status: tonic::Status = e.into();
                Either::Left(futures::future::ready(Ok(status.into_http())))
            }
            None if requires_leader(req.headers()) => {
                let mut lost = self.leader_lost.clone();
                let seen = *lost.borrow_and_update();
                let fut = self.inner.call(req);
                Either::Right(Box::pin(async move {
                    let resp = fut.await?;
                    let lost = Box::pin(async move {
                        if lost.wait_for(|epoch| *epoch > seen).await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    });
                    Ok(resp.map(|inner| {
                        tonic::body::Body::new(LeaderBound {
                            inner,
                            lost,
                            done: false,
                        })
                    }))
                }))
            }
            None => {
                let fut = self.inner.call(req);
                Either::Right(Box::pin(fut))
            }
        }
    }
}
