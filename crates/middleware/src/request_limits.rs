//! Request limits for the client port: concurrency (tower's layers, re-exported) and
//! grpc-go's per-message receive limit.
//!
//! etcd sets grpc-go's `MaxRecvMsgSize` to `--max-request-bytes` + 512 KiB. A message over
//! that fails with `ResourceExhausted` "grpc: received message larger than max (N vs. M)".
//! tonic's own `max_decoding_message_size` answers `OutOfRange` with different text, so
//! [`GrpcRequestSizeLayer`] checks each message's length prefix first and answers exactly like
//! grpc-go, without decoding anything. (The separate "etcdserver: request is too large" check
//! on the encoded proposal belongs to the server.)

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::task::AtomicWaker;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::body::Body;
use tonic::Status;
use tower::{Layer, Service};

pub use tower::limit::{ConcurrencyLimit, ConcurrencyLimitLayer, GlobalConcurrencyLimitLayer};

use crate::frame::FrameScanner;
use crate::grpc_metrics::BoxError;
use crate::grpc_wire::is_grpc_request;

/// Bytes grpc-go allows on top of `--max-request-bytes` (etcd's `grpcOverheadBytes`).
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// etcd's `--max-request-bytes`, and the gRPC receive limit derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxRequestBytes(pub usize);

impl MaxRequestBytes {
    /// etcd's default, 1.5 MiB.
    pub const DEFAULT: MaxRequestBytes = MaxRequestBytes(1_572_864);

    /// The configured `--max-request-bytes`.
    pub const fn get(self) -> usize {
        self.0
    }

    /// The per-message gRPC receive limit: `--max-request-bytes` + [`GRPC_OVERHEAD_BYTES`].
    /// Use it both for tonic's `max_decoding_message_size` and for [`Self::layer`].
    pub const fn grpc_recv_limit(self) -> usize {
        self.0.saturating_add(GRPC_OVERHEAD_BYTES)
    }

    /// A [`GrpcRequestSizeLayer`] enforcing [`Self::grpc_recv_limit`].
    pub fn layer(self) -> GrpcRequestSizeLayer {
        GrpcRequestSizeLayer::new(self.grpc_recv_limit())
    }
}

impl Default for MaxRequestBytes {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// grpc-go's status for a received message over the limit: `ResourceExhausted`,
/// "grpc: received message larger than max (<got> vs. <limit>)".
pub fn message_too_large(got: u64, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "grpc: received message larger than max ({got} vs. {limit})"
    ))
}

/// Tower layer rejecting gRPC messages whose length prefix exceeds `limit_bytes`.
///
/// CONTRACT: a call whose request carries a message declared larger than the limit ends
/// with grpc-status 8 (`ResourceExhausted`) and grpc-go's message: the oversized message is
/// never passed on (the inner service sees the request body fail with that status); if the
/// inner service has not answered yet, the answer is a trailers-only response with it, and
/// if it is already streaming, the stream ends with it as trailers.
/// Non-gRPC requests pass through untouched.
#[derive(Debug, Clone, Copy)]
pub struct GrpcRequestSizeLayer {
    limit: usize,
}

impl GrpcRequestSizeLayer {
    /// Limits every gRPC message to `limit_bytes` (payload, excluding the 5-byte prefix, as
    /// grpc-go counts it).
    pub fn new(limit_bytes: usize) -> Self {
        Self { limit: limit_bytes }
    }

    /// The configured limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl<S> Layer<S> for GrpcRequestSizeLayer {
    type Service = GrpcRequestSize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcRequestSize {
            inner,
            limit: self.limit,
        }
    }
}

/// The service built by [`GrpcRequestSizeLayer`].
#[derive(Debug, Clone)]
pub struct GrpcRequestSize<S> {
    inner: S,
    limit: usize,
}

/// Shared between a call's request body (which detects the oversized message) and its
/// response (which reports it).
#[derive(Debug)]
struct Verdict {
    limit: usize,
    /// Declared length of the oversized message, once seen.
    oversized: OnceLock<u32>,
    /// The request body ended normally: no verdict can come any more.
    closed: AtomicBool,
    /// The response body waiting for a verdict.
    waker: AtomicWaker,
}

impl Verdict {
    fn status(&self) -> Option<Status> {
        self.oversized
            .get()
            .map(|got| message_too_large(u64::from(*got), self.limit))
    }
}

fn status_trailers(status: &Status) -> HeaderMap {
    let mut map = HeaderMap::new();
    if status.add_header(&mut map).is_err() {
        map.insert(Status::GRPC_STATUS, HeaderValue::from_static("8"));
    }
    map
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcRequestSize<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = GrpcRequestSizeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if !is_grpc_request(req.headers()) {
            return GrpcRequestSizeFuture {
                inner: self.inner.call(req.map(Body::new)),
                verdict: None,
            };
        }
        let verdict = Arc::new(Verdict {
            limit: self.limit,
            oversized: OnceLock::new(),
            closed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        let req = req.map(|inner| {
            Body::new(SizeCheckedRequestBody {
                inner,
                scanner: FrameScanner::default(),
                verdict: verdict.clone(),
                tripped: false,
            })
        });
        GrpcRequestSizeFuture {
            inner: self.inner.call(req),
            verdict: Some(verdict),
        }
    }
}

pin_project! {
    /// Response future of [`GrpcRequestSize`].
    pub struct GrpcRequestSizeFuture<F> {
        #[pin]
        inner: F,
        verdict: Option<Arc<Verdict>>,
    }
}

impl<F, ResBody, E> Future for GrpcRequestSizeFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let Some(verdict) = this.verdict.take() else {
            return Poll::Ready(Ok(response.map(Body::new)));
        };
        if let Some(status) = verdict.status() {
            return Poll::Ready(Ok(status.into_http::<Body>()));
        }
        Poll::Ready(Ok(response.map(|inner| {
            Body::new(SizeCheckedResponseBody {
                inner,
                verdict,
                done: false,
            })
        })))
    }
}

pin_project! {
    /// Request body that fails with grpc-go's status at the first oversized message prefix.
    struct SizeCheckedRequestBody<B> {
        #[pin]
        inner: B,
        scanner: FrameScanner,
        verdict: Arc<Verdict>,
        tripped: bool,
    }
}

impl<B> http_body::Body for SizeCheckedRequestBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.tripped {
            return Poll::Ready(None);
        }
        let frame = ready!(this.inner.poll_frame(cx));
        match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let limit = this.verdict.limit;
                    let out = this.scanner.scan(data, |len| {
                        if u64::from(len) > limit as u64 {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    });
                    if let Some(got) = out.stopped_at {
                        *this.tripped = true;
                        let _ = this.verdict.oversized.set(got);
                        this.verdict.waker.wake();
                        let status = message_too_large(u64::from(got), limit);
                        return Poll::Ready(Some(Err(Box::new(status))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(err)) => Poll::Ready(Some(Err(err.into()))),
            None => {
                this.verdict.closed.store(true, Ordering::Release);
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.tripped || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.tripped {
            SizeHint::with_exact(0)
        } else {
            self.inner.size_hint()
        }
    }
}

pin_project! {
    /// Response body that ends with grpc-go's status (as trailers) once the request carried
    /// an oversized message, and otherwise passes the inner body through.
    struct SizeCheckedResponseBody<B> {
        #[pin]
        inner: B,
        verdict: Arc<Verdict>,
        done: bool,
    }
}

impl<B> http_body::Body for SizeCheckedResponseBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if !this.verdict.closed.load(Ordering::Acquire) {
            this.verdict.waker.register(cx.waker());
        }
        if let Some(status) = this.verdict.status() {
            *this.done = true;
            return Poll::Ready(Some(Ok(Frame::trailers(status_trailers(&status)))));
        }
        let frame = ready!(this.inner.poll_frame(cx));
        match frame {
            Some(Ok(frame)) if frame.is_trailers() => {
                *this.done = true;
                match this.verdict.status() {
                    Some(status) => {
                        Poll::Ready(Some(Ok(Frame::trailers(status_trailers(&status)))))
                    }
                    None => Poll::Ready(Some(Ok(frame))),
                }
            }
            Some(Ok(frame)) => Poll::Ready(Some(Ok(frame))),
            Some(Err(err)) => Poll::Ready(Some(Err(err.into()))),
            None => {
                *this.done = true;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.verdict.status().is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
