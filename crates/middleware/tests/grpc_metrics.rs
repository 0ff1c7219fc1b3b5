//! In-process tests of `GrpcMetricsLayer`: a fake inner service answers with hand-built gRPC
//! frames, and the counters are read back through `oxcd_middleware::render()`. The default
//! registry is process-global, so every test uses its own service/method names.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use oxcd_middleware::{
    client_grpc_bytes, GrpcMethod, GrpcMetricsLayer, MethodKind, GRPC_CODE_NAMES,
};
use support::{framed, framed_all, handled, method_counter, sample};
use tonic::body::Body;
use tonic::Status;
use tower::{service_fn, Layer, Service, ServiceExt};

const SENT: &str = "grpc_server_msg_sent_total";
const RECEIVED: &str = "grpc_server_msg_received_total";
const STARTED: &str = "grpc_server_started_total";

fn trailers(code: i32, message: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "grpc-status",
        HeaderValue::from_str(&code.to_string()).unwrap(),
    );
    if !message.is_empty() {
        h.insert("grpc-message", HeaderValue::from_str(message).unwrap());
    }
    h
}

fn grpc_request(path: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

/// A response whose body yields `frames` in order and then ends.
fn grpc_response(frames: Vec<http_body::Frame<Bytes>>) -> Response<Body> {
    let body = StreamBody::new(stream::iter(frames.into_iter().map(Ok::<_, Status>)));
    Response::builder()
        .header("content-type", "application/grpc")
        .body(Body::new(body))
        .unwrap()
}

/// An inner service that drains the request body, then answers with one DATA frame per
/// entry of `data` (already framed) and then `trailers`.
fn drain_then_answer(
    data: Vec<Bytes>,
    trailers: HeaderMap,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send> + Clone
{
    service_fn(move |req: Request<Body>| {
        let mut frames: Vec<http_body::Frame<Bytes>> =
            data.iter().cloned().map(http_body::Frame::data).collect();
        frames.push(http_body::Frame::trailers(trailers.clone()));
        async move {
            let _ = req.into_body().collect().await;
            Ok::<_, Infallible>(grpc_response(frames))
        }
    })
}

/// Sends `req` once `svc` is ready.
async fn send<S>(svc: &mut S, req: Request<Body>) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    ServiceExt::<Request<Body>>::ready(svc)
        .await
        .unwrap()
        .call(req)
        .await
        .unwrap()
}

fn table(service: &str, methods: &[(&str, MethodKind)]) -> Vec<GrpcMethod> {
    methods
        .iter()
        .map(|(m, k)| GrpcMethod::new(service, *m, *k))
        .collect()
}

#[tokio::test]
async fn unary_ok_counts_started_handled_and_messages() {
    let layer = GrpcMetricsLayer::new(&table("test.Unary", &[("Ok", MethodKind::Unary)]), false);
    let inner = drain_then_answer(vec![framed(b"response")], trailers(0, ""));
    let recv_before = client_grpc_bytes().received.get();
    let sent_before = client_grpc_bytes().sent.get();

    let req = grpc_request("/test.Unary/Ok", Body::new(Full::new(framed(b"request!"))));
    let resp = layer.layer(inner).oneshot(req).await.unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");

    assert_eq!(method_counter(STARTED, "unary", "test.Unary", "Ok"), 1.0);
    assert_eq!(handled("unary", "test.Unary", "Ok", "OK"), Some(1.0));
    assert_eq!(method_counter(RECEIVED, "unary", "test.Unary", "Ok"), 1.0);
    assert_eq!(method_counter(SENT, "unary", "test.Unary", "Ok"), 1.0);
    // A method's first call creates all of its series (every code at 0).
    assert_eq!(handled("unary", "test.Unary", "Ok", "Unknown"), Some(0.0));
    // Bytes: 5 + 8 in, 5 + 8 out (other tests run in parallel, hence >=).
    assert!(client_grpc_bytes().received.get() - recv_before >= 13);
    assert!(client_grpc_bytes().sent.get() - sent_before >= 13);
    assert!(sample("etcd_network_client_grpc_received_bytes_total", &[]).unwrap() >= 13.0);
}

#[tokio::test]
async fn unary_error_in_trailers_only_response_headers() {
    let layer = GrpcMetricsLayer::new(
        &table("test.Unary", &[("NotFound", MethodKind::Unary)]),
        false,
    );
    // Trailers-only: grpc-status in the response headers and an empty body.
    let inner = service_fn(|req: Request<Body>| async move {
        let _ = req.into_body().collect().await;
        Ok::<_, Infallible>(
            Status::not_found("etcdserver: requested lease not found").into_http::<Body>(),
        )
    });
    let req = grpc_request("/test.Unary/NotFound", Body::new(Full::new(framed(b"x"))));
    let resp = layer.layer(inner).oneshot(req).await.unwrap();
    assert_eq!(resp.headers()["grpc-status"], "5");
    let _ = resp.into_body().collect().await.unwrap();

    assert_eq!(
        handled("unary", "test.Unary", "NotFound", "NotFound"),
        Some(1.0)
    );
    assert_eq!(handled("unary", "test.Unary", "NotFound", "OK"), Some(0.0));
    assert_eq!(
        method_counter(RECEIVED, "unary", "test.Unary", "NotFound"),
        1.0
    );
    assert_eq!(method_counter(SENT, "unary", "test.Unary", "NotFound"), 0.0);
}

#[tokio::test]
async fn unary_error_code_from_body_trailers() {
    let layer = GrpcMetricsLayer::new(
        &table("test.Unary", &[("Compacted", MethodKind::Unary)]),
        false,
    );
    let inner = drain_then_answer(
        vec![],
        trailers(11, "etcdserver: mvcc: required revision has been compacted"),
    );
    let req = grpc_request("/test.Unary/Compacted", Body::new(Full::new(framed(b""))));
    let resp = layer.layer(inner).oneshot(req).await.unwrap();
    let _ = resp.into_body().collect().await.unwrap();
    assert_eq!(
        handled("unary", "test.Unary", "Compacted", "OutOfRange"),
        Some(1.0)
    );
    assert_eq!(
        method_counter(RECEIVED, "unary", "test.Unary", "Compacted"),
        1.0
    );
    assert_eq!(
        method_counter(SENT, "unary", "test.Unary", "Compacted"),
        0.0
    );
}

#[tokio::test]
async fn bidi_stream_counts_messages_across_chunks_and_cancel() {
    let layer = GrpcMetricsLayer::new(
        &table("test.Bidi", &[("Chat", MethodKind::BidiStream)]),
        false,
    );
    // Three request messages split into 3-byte chunks, so prefixes straddle chunks.
    let wire = framed_all(&[b"one", b"", b"three-three"]);
    let chunks: Vec<Result<http_body::Frame<Bytes>, Infallible>> = wire
        .chunks(3)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let req_body = Body::new(StreamBody::new(stream::iter(chunks)));
    // Two response messages in one DATA frame, then the stream stays open (never trailers).
    let inner = service_fn(|req: Request<Body>| async move {
        let _ = req.into_body().collect().await;
        let frames = stream::iter(vec![Ok::<_, Status>(http_body::Frame::data(framed_all(
            &[b"a", b"bb"],
        )))])
        .chain(stream::pending());
        Ok::<_, Infallible>(Response::new(Body::new(StreamBody::new(frames))))
    });
    let resp = layer
        .layer(inner)
        .oneshot(grpc_request("/test.Bidi/Chat", req_body))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), framed_all(&[b"a", b"bb"]));

    assert_eq!(
        method_counter(STARTED, "bidi_stream", "test.Bidi", "Chat"),
        1.0
    );
    assert_eq!(
        method_counter(RECEIVED, "bidi_stream", "test.Bidi", "Chat"),
        3.0
    );
    assert_eq!(
        method_counter(SENT, "bidi_stream", "test.Bidi", "Chat"),
        2.0
    );
    // Still in flight: nothing handled yet.
    assert_eq!(
        handled("bidi_stream", "test.Bidi", "Chat", "Canceled"),
        Some(0.0)
    );
    assert_eq!(handled("bidi_stream", "test.Bidi", "Chat", "OK"), Some(0.0));

    // The client goes away: the server drops the body before trailers.
    drop(body);
    assert_eq!(
        handled("bidi_stream", "test.Bidi", "Chat", "Canceled"),
        Some(1.0)
    );
}

#[tokio::test]
async fn dropped_response_future_counts_canceled() {
    let layer = GrpcMetricsLayer::new(&table("test.Slow", &[("Hang", MethodKind::Unary)]), false);
    let inner = service_fn(|_req: Request<Body>| {
        futures::future::pending::<Result<Response<Body>, Infallible>>()
    });
    let mut svc = layer.layer(inner);
    let fut = svc.call(grpc_request(
        "/test.Slow/Hang",
        Body::new(Full::new(framed(b"q"))),
    ));
    assert!(tokio::time::timeout(Duration::from_millis(20), fut)
        .await
        .is_err());
    assert_eq!(method_counter(STARTED, "unary", "test.Slow", "Hang"), 1.0);
    assert_eq!(handled("unary", "test.Slow", "Hang", "Canceled"), Some(1.0));
}

#[tokio::test]
async fn non_grpc_and_unknown_methods_are_not_counted() {
    let layer = GrpcMetricsLayer::new(&table("test.Plain", &[("Json", MethodKind::Unary)]), false);
    let inner = service_fn(|req: Request<Body>| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Ok::<_, Infallible>(Response::new(Body::new(Full::new(body))))
    });
    let mut svc = layer.layer(inner);

    // Same path as a table entry, but JSON: untouched (body echoed verbatim) and uncounted.
    let json = Request::builder()
        .method("POST")
        .uri("http://localhost/test.Plain/Json")
        .header("content-type", "application/json")
        .body(Body::new(Full::new(Bytes::from_static(
            b"{\"key\":\"Zm9v\"}",
        ))))
        .unwrap();
    let resp = send(&mut svc, json).await;
    assert_eq!(
        resp.into_body().collect().await.unwrap().to_bytes(),
        &b"{\"key\":\"Zm9v\"}"[..]
    );
    let get = Request::get("http://localhost/metrics")
        .body(Body::empty())
        .unwrap();
    let _ = send(&mut svc, get).await;
    assert_eq!(
        sample(
            STARTED,
            &support::method_labels("unary", "test.Plain", "Json")
        ),
        None
    );

    // gRPC, but not in the table: passes through, no series for it.
    let req = grpc_request("/test.Plain/Missing", Body::new(Full::new(framed(b"z"))));
    let resp = send(&mut svc, req).await;
    let _ = resp.into_body().collect().await.unwrap();
    let rendered = oxcd_middleware::render();
    assert!(!rendered.contains("grpc_method=\"Missing\""));
    assert!(!rendered.contains("grpc_method=\"Json\""));
}

#[tokio::test]
async fn preinitialize_exports_every_code_at_zero() {
    let layer = GrpcMetricsLayer::new(
        &table(
            "test.Pre",
            &[
                ("PreA", MethodKind::Unary),
                ("PreB", MethodKind::ServerStream),
            ],
        ),
        false,
    );
    layer.preinitialize();
    layer.preinitialize(); // idempotent
    let text = oxcd_middleware::render();
    for code in GRPC_CODE_NAMES {
        let line = format!(
            "grpc_server_handled_total{{grpc_code=\"{code}\",grpc_method=\"PreA\",grpc_service=\"test.Pre\",grpc_type=\"unary\"}} 0"
        );
        assert!(text.lines().any(|l| l == line), "missing {line}");
    }
    for family in [STARTED, RECEIVED, SENT] {
        let line = format!(
            "{family}{{grpc_method=\"PreB\",grpc_service=\"test.Pre\",grpc_type=\"server_stream\"}} 0"
        );
        assert!(text.lines().any(|l| l == line), "missing {line}");
    }
    let codes = text
        .lines()
        .filter(|l| {
            l.starts_with("grpc_server_handled_total{") && l.contains("grpc_method=\"PreB\"")
        })
        .count();
    assert_eq!(codes, 17);
    for help in [
        "# HELP grpc_server_started_total Total number of RPCs started on the server.",
        "# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless of success or failure.",
        "# HELP grpc_server_msg_received_total Total number of RPC stream messages received on the server.",
        "# HELP grpc_server_msg_sent_total Total number of gRPC stream messages sent by the server.",
        "# TYPE grpc_server_handled_total counter",
    ] {
        assert!(text.lines().any(|l| l == help), "missing {help}");
    }
    // Not extensive: no histogram series for these methods.
    assert_eq!(
        sample(
            "grpc_server_handling_seconds_count",
            &support::method_labels("unary", "test.Pre", "PreA")
        ),
        None
    );
}

#[tokio::test]
async fn extensive_records_handling_seconds() {
    let layer = GrpcMetricsLayer::new(&table("test.Ext", &[("Timed", MethodKind::Unary)]), true);
    assert!(layer.is_extensive());
    let inner = drain_then_answer(vec![framed(b"r")], trailers(14, "etcdserver: no leader"));
    let req = grpc_request("/test.Ext/Timed", Body::new(Full::new(framed(b"q"))));
    let resp = layer.layer(inner).oneshot(req).await.unwrap();
    let _ = resp.into_body().collect().await.unwrap();

    assert_eq!(
        handled("unary", "test.Ext", "Timed", "Unavailable"),
        Some(1.0)
    );
    let labels = support::method_labels("unary", "test.Ext", "Timed");
    assert_eq!(
        sample("grpc_server_handling_seconds_count", &labels),
        Some(1.0)
    );
    let text = oxcd_middleware::render();
    assert!(text.contains(
        "# HELP grpc_server_handling_seconds Histogram of response latency (seconds) of gRPC that had been application-level handled by the server."
    ));
    for le in [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
    ] {
        let prefix = format!(
            "grpc_server_handling_seconds_bucket{{grpc_method=\"Timed\",grpc_service=\"test.Ext\",grpc_type=\"unary\",le=\"{le}\"}}"
        );
        assert!(
            text.lines().any(|l| l.starts_with(&prefix)),
            "missing bucket {le}"
        );
    }
}
