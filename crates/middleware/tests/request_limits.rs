//! In-process tests of `GrpcRequestSizeLayer` and `MaxRequestBytes`.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use oxcd_middleware::{
    message_too_large, GrpcRequestSizeLayer, MaxRequestBytes, GRPC_OVERHEAD_BYTES,
};
use support::framed;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{service_fn, Layer, ServiceExt};

const WAIT: Duration = Duration::from_secs(5);

fn grpc_request(path: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

/// Reads the request like tonic's unary path: the whole body, or the body's error as status.
async fn unary_echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    match req.into_body().collect().await {
        Ok(collected) => {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let frames = vec![
                Ok::<_, Status>(Frame::data(collected.to_bytes())),
                Ok(Frame::trailers(trailers)),
            ];
            Ok(Response::new(Body::new(StreamBody::new(
                futures::stream::iter(frames),
            ))))
        }
        Err(err) => Ok(Status::from_error(err.into()).into_http::<Body>()),
    }
}

#[test]
fn grpc_go_text_and_limits() {
    assert_eq!(
        message_too_large(2_097_153, 2_097_152).message(),
        "grpc: received message larger than max (2097153 vs. 2097152)"
    );
    assert_eq!(message_too_large(1, 0).code(), Code::ResourceExhausted);
    assert_eq!(GRPC_OVERHEAD_BYTES, 524_288);
    assert_eq!(MaxRequestBytes::default().get(), 1_572_864);
    assert_eq!(MaxRequestBytes::DEFAULT.grpc_recv_limit(), 2_097_152);
    assert_eq!(MaxRequestBytes(10).layer().limit(), 10 + 512 * 1024);
}

#[tokio::test]
async fn oversized_unary_message_gets_resource_exhausted() {
    let svc = GrpcRequestSizeLayer::new(10).layer(service_fn(unary_echo));
    let req = grpc_request(
        "/etcdserverpb.KV/Put",
        Body::new(Full::new(framed(&[b'x'; 20]))),
    );
    let resp = svc.oneshot(req).await.unwrap();
    let status = Status::from_header_map(resp.headers()).expect("trailers-only status");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "grpc: received message larger than max (20 vs. 10)"
    );
    assert_eq!(resp.headers()["grpc-status"], "8");
}

#[tokio::test]
async fn message_at_the_limit_passes() {
    let svc = GrpcRequestSizeLayer::new(10).layer(service_fn(unary_echo));
    let req = grpc_request(
        "/etcdserverpb.KV/Put",
        Body::new(Full::new(framed(&[b'y'; 10]))),
    );
    let resp = svc.oneshot(req).await.unwrap();
    assert!(resp.headers().get("grpc-status").is_none());
    let collected = resp.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "0");
    assert_eq!(collected.to_bytes(), framed(&[b'y'; 10]));
}

#[tokio::test]
async fn non_grpc_request_is_not_limited() {
    let svc = GrpcRequestSizeLayer::new(4).layer(service_fn(|req: Request<Body>| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Ok::<_, Infallible>(Response::new(Body::new(Full::new(body))))
    }));
    // Looks like a huge gRPC prefix, but it is JSON traffic: untouched.
    let payload = Bytes::from_static(b"\x00\xff\xff\xff\xff{\"key\":\"a\"}");
    let req = Request::builder()
        .method("POST")
        .uri("http://localhost/v3/kv/put")
        .header("content-type", "application/json")
        .body(Body::new(Full::new(payload.clone())))
        .unwrap();
    let resp = svc.oneshot(req).await.unwrap();
    assert_eq!(
        resp.into_body().collect().await.unwrap().to_bytes(),
        payload
    );
}

#[tokio::test]
async fn oversized_message_mid_stream_ends_the_stream_with_trailers() {
    // The inner service answers at once and echoes request chunks from a task; after the
    // request body fails it keeps its response stream open, as a careless handler might.
    let svc = GrpcRequestSizeLayer::new(50).layer(service_fn(|req: Request<Body>| async move {
        let (mut tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Status>>(4);
        tokio::spawn(async move {
            let mut body = req.into_body();
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    if tx.send(Ok(Frame::data(data))).await.is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(tx);
        });
        Ok::<_, Infallible>(Response::new(Body::new(StreamBody::new(rx))))
    }));
    let (mut req_tx, req_rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    let req = grpc_request(
        "/etcdserverpb.Watch/Watch",
        Body::new(StreamBody::new(req_rx)),
    );
    let resp = svc.oneshot(req).await.unwrap();
    let mut body = resp.into_body();

    req_tx
        .send(Ok(Frame::data(framed(b"small"))))
        .await
        .unwrap();
    let echo = tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(echo.into_data().unwrap(), framed(b"small"));

    // The prefix alone (declared 51 bytes) is enough to reject.
    let mut big = framed(&[0u8; 51]).to_vec();
    big.truncate(8);
    req_tx
        .send(Ok(Frame::data(Bytes::from(big))))
        .await
        .unwrap();
    let last = tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let trailers = last.into_trailers().expect("trailers");
    let status = Status::from_header_map(&trailers).unwrap();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "grpc: received message larger than max (51 vs. 50)"
    );
    assert!(tokio::time::timeout(WAIT, body.frame())
        .await
        .unwrap()
        .is_none());
    assert!(http_body::Body::is_end_stream(&body));
}
