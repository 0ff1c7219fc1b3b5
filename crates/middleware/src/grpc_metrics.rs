//! `GrpcMetricsLayer`: go-grpc-prometheus compatible server metrics as a tower layer.
//!
//! Families (default registry, label order as go-grpc-prometheus):
//! - `grpc_server_started_total{grpc_type,grpc_service,grpc_method}`: counted when the request
//!   headers arrive.
//! - `grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}`: counted once
//!   per call, with the code from the response's `grpc-status` header (trailers-only
//!   responses) or from the body's trailers; a call whose response future or body is dropped
//!   before the status was seen (the client went away) counts as `Canceled`.
//! - `grpc_server_msg_received_total` / `grpc_server_msg_sent_total`: gRPC messages, counted
//!   from the 5-byte length prefixes in the request / response bodies (a unary call that
//!   succeeds therefore counts 1 and 1; one that fails counts 1 and 0, as in grpc-go).
//! - `grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}` (histogram, only when
//!   the layer is built with `extensive = true`, i.e. `--metrics=extensive`): time from request
//!   headers to the final status.
//!
//! It also feeds `etcd_network_client_grpc_{received,sent}_bytes_total` from the body sizes
//! and counts each call of the table in `etcd_server_client_requests_total` (by the
//! client's `client-api-version` header).
//! Non-gRPC requests (content-type not `application/grpc*`) pass through uncounted, and so do
//! gRPC calls to paths missing from the method table (grpc-go's interceptors never see calls
//! to unknown services either, and it keeps label cardinality bounded); their bytes are
//! still counted.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};
use tonic::body::Body;
use tonic::Code;
use tower::{Layer, Service};

use crate::etcd_metrics::{client_grpc_bytes, count_client_request, register_default};
use crate::grpc_metrics_body::{MetricsRequestBody, MetricsResponseBody};
use crate::grpc_wire::{code_index, is_grpc_request, status_code, GRPC_CODE_NAMES};
use crate::method_table::GrpcMethod;

/// Boxed error, as tonic and hyper use it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// go-grpc-prometheus's (= Go client's `prometheus.DefBuckets`) histogram buckets, seconds.
pub const HANDLING_SECONDS_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const METHOD_LABELS: [&str; 3] = ["grpc_type", "grpc_service", "grpc_method"];
const HANDLED_LABELS: [&str; 4] = ["grpc_type", "grpc_service", "grpc_method", "grpc_code"];

/// The four counter families, created and registered once per process.
struct ServerFamilies {
    started: IntCounterVec,
    handled: IntCounterVec,
    msg_received: IntCounterVec,
    msg_sent: IntCounterVec,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)
        .expect("constant metric definition is valid");
    register_default(&vec);
    vec
}

static FAMILIES: LazyLock<ServerFamilies> = LazyLock::new(|| ServerFamilies {
    started: counter_vec(
        "grpc_server_started_total",
        "Total number of RPCs started on the server.",
        &METHOD_LABELS,
    ),
    handled: counter_vec(
        "grpc_server_handled_total",
        "Total number of RPCs completed on the server, regardless of success or failure.",
        &HANDLED_LABELS,
    ),
    msg_received: counter_vec(
        "grpc_server_msg_received_total",
        "Total number of RPC stream messages received on the server.",
        &METHOD_LABELS,
    ),
    msg_sent: counter_vec(
        "grpc_server_msg_sent_total",
        "Total number of gRPC stream messages sent by the server.",
        &METHOD_LABELS,
    ),
});

/// Created and registered only when an extensive layer is first built, so that without
/// `--metrics=extensive` the family does not exist (as in etcd).
static HANDLING_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "grpc_server_handling_seconds",
        "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
    )
    .buckets(HANDLING_SECONDS_BUCKETS.to_vec());
    let vec = HistogramVec::new(opts, &METHOD_LABELS).expect("constant metric definition is valid");
    register_default(&vec);
    vec
});

/// The resolved series of one method, so a call touches no label maps.
pub(crate) struct MethodHandles {
    pub(crate) started: IntCounter,
    pub(crate) msg_received: IntCounter,
    pub(crate) msg_sent: IntCounter,
    pub(crate) handled: [IntCounter; 17],
    pub(crate) handling_seconds: Option<Histogram>,
}

/// One row of the method table; its series are created on first use or by `preinitialize`.
pub(crate) struct MethodEntry {
    method: GrpcMethod,
    extensive: bool,
    handles: OnceLock<MethodHandles>,
}

impl MethodEntry {
    pub(crate) fn handles(&self) -> &MethodHandles {
        self.handles.get_or_init(|| {
            let f = &*FAMILIES;
            let labels = [
                self.method.kind.as_str(),
                self.method.service.as_str(),
                self.method.method.as_str(),
            ];
            MethodHandles {
                started: f.started.with_label_values(&labels),
                msg_received: f.msg_received.with_label_values(&labels),
                msg_sent: f.msg_sent.with_label_values(&labels),
                handled: std::array::from_fn(|i| {
                    f.handled.with_label_values(&[
                        labels[0],
                        labels[1],
                        labels[2],
                        GRPC_CODE_NAMES[i],
                    ])
                }),
                handling_seconds: self
                    .extensive
                    .then(|| HANDLING_SECONDS.with_label_values(&labels)),
            }
        })
    }
}

/// One call in progress: records `handled_total` (and the histogram) exactly once, when the
/// status is known, or as `Canceled` when dropped before that.
pub(crate) struct InFlight {
    entry: Arc<MethodEntry>,
    start: Instant,
    done: bool,
}

impl InFlight {
    fn start(entry: Arc<MethodEntry>) -> Self {
        entry.handles().started.inc();
        Self {
            entry,
            start: Instant::now(),
            done: false,
        }
    }

    pub(crate) fn handles(&self) -> &MethodHandles {
        self.entry.handles()
    }

    /// Records the call's final status; later calls (and the drop) do nothing.
    pub(crate) fn finish(&mut self, code: Code) {
        if self.done {
            return;
        }
        self.done = true;
        let h = self.entry.handles();
        h.handled[code_index(code)].inc();
        if let Some(hist) = &h.handling_seconds {
            hist.observe(self.start.elapsed().as_secs_f64());
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// Tower layer recording go-grpc-prometheus metrics for the methods in its table.
/// Cloning is cheap (the table is shared).
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    table: Arc<HashMap<String, Arc<MethodEntry>>>,
    extensive: bool,
}

impl std::fmt::Debug for GrpcMetricsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcMetricsLayer")
            .field("methods", &self.table.len())
            .field("extensive", &self.extensive)
            .finish()
    }
}

impl GrpcMetricsLayer {
    /// Builds the layer for `methods` (the `grpc_type` of each comes from the table).
    /// `extensive` adds the `grpc_server_handling_seconds` histogram (etcd's
    /// `--metrics=extensive`). Registers the families in the default registry on first use.
    /// A method's series (all 17 codes included) appear at its first call, or for every
    /// method at once via [`Self::preinitialize`].
    pub fn new(methods: &[GrpcMethod], extensive: bool) -> Self {
        LazyLock::force(&FAMILIES);
        let _ = client_grpc_bytes();
        if extensive {
            LazyLock::force(&HANDLING_SECONDS);
        }
        let table = methods
            .iter()
            .map(|m| {
                let entry = MethodEntry {
                    method: m.clone(),
                    extensive,
                    handles: OnceLock::new(),
                };
                (m.path(), Arc::new(entry))
            })
            .collect();
        Self {
            table: Arc::new(table),
            extensive,
        }
    }

    /// Creates every method's series at zero: `started`, `msg_received`, `msg_sent`, all 17
    /// `handled` codes, and the histogram when extensive, as go-grpc-prometheus's `Register`
    /// does (etcd dashboards rely on the zero series). Idempotent.
    pub fn preinitialize(&self) {
        for entry in self.table.values() {
            let _ = entry.handles();
        }
    }

    /// Whether the handling-time histogram is recorded.
    pub fn is_extensive(&self) -> bool {
        self.extensive
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The service built by [`GrpcMetricsLayer`].
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    table: Arc<HashMap<String, Arc<MethodEntry>>>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for GrpcMetrics<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcMetrics")
            .field("inner", &self.inner)
            .field("methods", &self.table.len())
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcMetrics<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = GrpcMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if !is_grpc_request(req.headers()) {
            return GrpcMetricsFuture {
                inner: self.inner.call(req.map(Body::new)),
                grpc: false,
                call: None,
            };
        }
        let entry = self.table.get(req.uri().path()).cloned();
        if let Some(e) = &entry {
            let version = req
                .headers()
                .get(crate::etcd_metrics::CLIENT_API_VERSION_HEADER);
            count_client_request(e.method.kind, version.map(|v| v.as_bytes()));
        }
        let call = entry.clone().map(InFlight::start);
        let req = req.map(|b| Body::new(MetricsRequestBody::new(b, entry)));
        GrpcMetricsFuture {
            inner: self.inner.call(req),
            grpc: true,
            call,
        }
    }
}

pin_project! {
    /// Response future of [`GrpcMetrics`].
    pub struct GrpcMetricsFuture<F> {
        #[pin]
        inner: F,
        grpc: bool,
        call: Option<InFlight>,
    }
}

impl<F, ResBody, E> Future for GrpcMetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        let response = match result {
            Ok(response) => response,
            Err(err) => {
                if let Some(call) = call.as_mut() {
                    call.finish(Code::Unknown);
                }
                return Poll::Ready(Err(err));
            }
        };
        if !*this.grpc {
            return Poll::Ready(Ok(response.map(Body::new)));
        }
        if let Some(c) = call.as_mut() {
            if let Some(code) = status_code(response.headers()) {
                // Trailers-only response: the status is final now.
                c.finish(code);
                call = None;
            } else if http_body::Body::is_end_stream(response.body()) {
                // No status anywhere: not a valid gRPC response.
                c.finish(Code::Unknown);
                call = None;
            }
        }
        Poll::Ready(Ok(
            response.map(|b| Body::new(MetricsResponseBody::new(b, call)))
        ))
    }
}
