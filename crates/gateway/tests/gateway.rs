//! Drives the gateway router with `tower::ServiceExt::oneshot` against fake
//! services and checks the exact HTTP answers etcd 3.4.23 gives.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use futures::Stream;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use oxcd_gateway::{CorsPolicy, GatewayBuilder};
use oxcd_proto::etcdserverpb::kv_server::Kv;
use oxcd_proto::etcdserverpb::lease_server::Lease;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::watch_server::Watch;
use oxcd_proto::etcdserverpb::*;
use oxcd_proto::mvccpb::{Event, KeyValue};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status, Streaming};
use tower::ServiceExt;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

const HEADER_JSON: &str = r#"{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"2","raft_term":"2"}"#;

fn header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        cluster_id: 15118495548433857066,
        member_id: 13668033151171901709,
        revision,
        raft_term: 2,
    })
}

// ---------------------------------------------------------------- fakes

#[derive(Default)]
struct FakeKv {
    last_range: Mutex<Option<RangeRequest>>,
    last_token: Mutex<Option<String>>,
}

#[tonic::async_trait]
impl Kv for FakeKv {
    async fn range(
        &self,
        request: tonic::Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let token = request
            .metadata()
            .get("token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        *self.last_token.lock().expect("lock") = token;
        let request = request.into_inner();
        *self.last_range.lock().expect("lock") = Some(request.clone());
        if request.key.is_empty() {
            return Err(Status::invalid_argument("etcdserver: key is not provided"));
        }
        Ok(Response::new(RangeResponse {
            header: header(2),
            kvs: vec![KeyValue {
                key: b"foo".to_vec().into(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                value: b"bar".to_vec().into(),
                lease: 0,
            }],
            more: false,
            count: 1,
        }))
    }

    type RangeStreamStream = BoxStream<RangeStreamResponse>;

    async fn range_stream(
        &self,
        _request: tonic::Request<RangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        Err(Status::new(
            tonic::Code::Unimplemented,
            "not in the gateway",
        ))
    }

    async fn put(
        &self,
        request: tonic::Request<PutRequest>,
    ) -> Result<Response<PutResponse>, Status> {
        let request = request.into_inner();
        if request.key != b"foo" || request.value != b"bar" {
            return Err(Status::invalid_argument("unexpected put"));
        }
        Ok(Response::new(PutResponse {
            header: header(2),
            prev_kv: None,
        }))
    }

    async fn delete_range(
        &self,
        _request: tonic::Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        Err(Status::unavailable("etcdserver: no leader"))
    }

    async fn txn(
        &self,
        _request: tonic::Request<TxnRequest>,
    ) -> Result<Response<TxnResponse>, Status> {
        Err(Status::failed_precondition(
            "etcdserver: authentication is not enabled",
        ))
    }

    async fn compact(
        &self,
        _request: tonic::Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        Err(Status::out_of_range(
            "etcdserver: mvcc: required revision has been compacted",
        ))
    }
}

#[derive(Default)]
struct FakeLease;

#[tonic::async_trait]
impl Lease for FakeLease {
    async fn lease_grant(
        &self,
        request: tonic::Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let request = request.into_inner();
        Ok(Response::new(LeaseGrantResponse {
            header: header(2),
            id: 4111120150353476109,
            ttl: request.ttl,
            error: String::new(),
        }))
    }

    async fn lease_revoke(
        &self,
        _request: tonic::Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        Err(Status::not_found("etcdserver: requested lease not found"))
    }

    type LeaseKeepAliveStream = BoxStream<LeaseKeepAliveResponse>;

    /// Answers every request with TTL 30 and ends when the input ends.
    async fn lease_keep_alive(
        &self,
        request: tonic::Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        let mut input = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Ok(Some(req)) = input.message().await {
                let resp = LeaseKeepAliveResponse {
                    header: header(2),
                    id: req.id,
                    ttl: 30,
                };
                if tx.send(Ok(resp)).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn lease_time_to_live(
        &self,
        _request: tonic::Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        Err(Status::new(tonic::Code::Unimplemented, "fake"))
    }

    async fn lease_leases(
        &self,
        _request: tonic::Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        Ok(Response::new(LeaseLeasesResponse {
            header: header(2),
            leases: vec![LeaseStatus { id: 7 }],
        }))
    }
}

/// Watch fake, driven by the created key:
/// - `foo`: `created`, one PUT event, then waits 200 ms, records whether the
///   input was still open, and ends the stream;
/// - `hold`: `created`, then waits for end-of-input and records it;
/// - `compacted`: fails before any message;
/// - `midway`: `created`, then fails.
#[derive(Default)]
struct FakeWatch {
    input_open_after_messages: AtomicBool,
    saw_input_eof: Arc<AtomicBool>,
    open_flag: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl Watch for FakeWatch {
    type WatchStream = BoxStream<WatchResponse>;

    async fn watch(
        &self,
        request: tonic::Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let mut input = request.into_inner();
        let first = input
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("no request"))?;
        let Some(RequestUnion::CreateRequest(create)) = first.request_union else {
            return Err(Status::invalid_argument("expected create_request"));
        };
        let (tx, rx) = mpsc::channel(4);
        let created = WatchResponse {
            header: header(2),
            created: true,
            ..Default::default()
        };
        let saw_eof = Arc::clone(&self.saw_input_eof);
        let open_flag = Arc::clone(&self.open_flag);
        match create.key.as_slice() {
            b"compacted" => {
                tx.send(Err(Status::out_of_range(
                    "etcdserver: mvcc: required revision has been compacted",
                )))
                .await
                .map_err(|_| Status::internal("send"))?;
            }
            b"midway" => {
                tx.send(Ok(created))
                    .await
                    .map_err(|_| Status::internal("send"))?;
                tx.send(Err(Status::cancelled("context canceled")))
                    .await
                    .map_err(|_| Status::internal("send"))?;
            }
            b"hold" => {
                tokio::spawn(async move {
                    if tx.send(Ok(created)).await.is_err() {
                        return;
                    }
                    if let Ok(None) = input.message().await {
                        saw_eof.store(true, Ordering::SeqCst);
                    }
                    drop(tx);
                });
            }
            _ => {
                let event = WatchResponse {
                    header: header(3),
                    events: vec![Event {
                        r#type: 0,
                        kv: Some(KeyValue {
                            key: create.key.clone().into(),
                            create_revision: 2,
                            mod_revision: 3,
                            version: 2,
                            value: b"baz".to_vec().into(),
                            lease: 0,
                        }),
                        prev_kv: None,
                    }],
                    ..Default::default()
                };
                tokio::spawn(async move {
                    let _ = tx.send(Ok(created)).await;
                    let _ = tx.send(Ok(event)).await;
                    let open =
                        tokio::time::timeout(Duration::from_millis(200), input.message()).await;
                    open_flag.store(open.is_err(), Ordering::SeqCst);
                });
            }
        }
        self.input_open_after_messages.store(true, Ordering::SeqCst);
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

// ---------------------------------------------------------------- helpers

fn router() -> (axum::Router, Arc<FakeKv>) {
    let kv = Arc::new(FakeKv::default());
    let router = GatewayBuilder::new()
        .kv(Arc::clone(&kv))
        .lease(Arc::new(FakeLease))
        .build();
    (router, kv)
}

fn post(path: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn call(
    router: axum::Router,
    request: Request<Body>,
) -> (StatusCode, http::HeaderMap, String) {
    let response = tokio::time::timeout(Duration::from_secs(10), router.oneshot(request))
        .await
        .expect("answer in time")
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (
        status,
        headers,
        String::from_utf8(body.to_vec()).expect("utf8"),
    )
}

fn error_body(message: &str, code: i32) -> String {
    format!(r#"{{"error":"{message}","message":"{message}","code":{code}}}"#)
}

// ---------------------------------------------------------------- unary

#[tokio::test]
async fn put_answers_header_only() {
    let (router, _) = router();
    let (status, headers, body) = call(
        router,
        post("/v3/kv/put", r#"{"key":"Zm9v","value":"YmFy"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!(r#"{{"header":{HEADER_JSON}}}"#));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn range_answers_etcd_json() {
    let (router, kv) = router();
    let (status, _, body) = call(router, post("/v3/kv/range", r#"{"key":"Zm9v"}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!(
            r#"{{"header":{HEADER_JSON},"kvs":[{{"key":"Zm9v","create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}}],"count":"1"}}"#
        )
    );
    let seen = kv.last_range.lock().expect("lock").clone().expect("called");
    assert_eq!(seen.key, b"foo");
}

#[tokio::test]
async fn lease_grant_keeps_capitalised_names() {
    let (router, _) = router();
    let (status, _, body) = call(router, post("/v3/lease/grant", r#"{"TTL":30}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!(r#"{{"header":{HEADER_JSON},"ID":"4111120150353476109","TTL":"30"}}"#)
    );
}

#[tokio::test]
async fn kv_lease_alternate_path_works() {
    let (router, _) = router();
    let (status, _, body) = call(router, post("/v3/kv/lease/leases", "{}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!(r#"{{"header":{HEADER_JSON},"leases":[{{"ID":"7"}}]}}"#)
    );
}

#[tokio::test]
async fn camel_case_snake_case_and_unknown_fields_are_accepted() {
    let (router, kv) = router();
    let (status, _, _) = call(
        router.clone(),
        post(
            "/v3/kv/range",
            r#"{"key":"Zm9v","rangeEnd":"Zm9w","keysOnly":true,"bogus":1}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let seen = kv.last_range.lock().expect("lock").take().expect("called");
    assert_eq!(seen.range_end, b"fop");
    assert!(seen.keys_only);

    let (status, _, _) = call(
        router,
        post(
            "/v3/kv/range",
            r#"{"key":"Zm9v","range_end":"Zm9w","count_only":true}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let seen = kv.last_range.lock().expect("lock").take().expect("called");
    assert_eq!(seen.range_end, b"fop");
    assert!(seen.count_only);
}

#[tokio::test]
async fn empty_body_is_the_default_request() {
    let (router, _) = router();
    let (status, _, body) = call(router, post("/v3/kv/range", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error_body("etcdserver: key is not provided", 3));
}

#[tokio::test]
async fn invalid_argument_is_400() {
    let (router, _) = router();
    let (status, headers, body) = call(router, post("/v3/kv/range", "{}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, error_body("etcdserver: key is not provided", 3));
    assert_eq!(headers["content-type"], "application/json");
}

#[tokio::test]
async fn failed_precondition_is_412() {
    let (router, _) = router();
    let (status, _, body) = call(router, post("/v3/kv/txn", "{}")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        body,
        error_body("etcdserver: authentication is not enabled", 9)
    );
}

#[tokio::test]
async fn out_of_range_is_400() {
    let (router, _) = router();
    let (status, _, body) = call(router, post("/v3/kv/compaction", r#"{"revision":"1"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        error_body("etcdserver: mvcc: required revision has been compacted", 11)
    );
}

#[tokio::test]
async fn not_found_is_404_and_unavailable_is_503() {
    let (router, _) = router();
    let (status, _, body) = call(router.clone(), post("/v3/lease/revoke", r#"{"ID":"1"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, error_body("etcdserver: requested lease not found", 5));

    let (status, _, body) = call(router, post("/v3/kv/deleterange", r#"{"key":"Zm9v"}"#)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, error_body("etcdserver: no leader", 14));
}

#[tokio::test]
async fn bad_json_is_400_with_error_body() {
    let (router, _) = router();
    let (status, _, body) = call(router, post("/v3/kv/range", r#"{"key":"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let value: serde_json::Value = serde_json::from_str(&body).expect("json error body");
    assert_eq!(value["code"], 3);
    assert!(value["error"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(value["error"], value["message"]);
}

#[tokio::test]
async fn get_is_405() {
    let (router, _) = router();
    let request = Request::builder()
        .method(Method::GET)
        .uri("/v3/kv/range")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = call(router, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, "Method Not Allowed\n");
}

#[tokio::test]
async fn v3beta_is_rewritten_and_v3alpha_is_404() {
    let (router, _) = router();
    let (status, _, body) = call(
        router.clone(),
        post("/v3beta/kv/range", r#"{"key":"Zm9v"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""count":"1""#), "{body}");

    let (status, _, _) = call(
        router.clone(),
        post("/v3alpha/kv/range", r#"{"key":"Zm9v"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A service that was not mounted is unknown too.
    let (status, _, _) = call(router, post("/v3/auth/status", "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn authorization_header_reaches_the_service_as_token() {
    let (router, kv) = router();
    let mut request = post("/v3/kv/range", r#"{"key":"Zm9v"}"#);
    request
        .headers_mut()
        .insert("authorization", "tok.123".parse().expect("header"));
    let (status, _, _) = call(router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kv.last_token.lock().expect("lock").as_deref(),
        Some("tok.123")
    );
}

#[tokio::test]
async fn interceptor_rejection_is_answered_as_error_body() {
    let kv = Arc::new(FakeKv::default());
    let router = GatewayBuilder::new()
        .kv(Arc::clone(&kv))
        .interceptor(|request: tonic::Request<()>| {
            if request.metadata().get("token").is_some() {
                Ok(request)
            } else {
                Err(Status::unauthenticated("etcdserver: invalid auth token"))
            }
        })
        .build();
    let (status, _, body) = call(router.clone(), post("/v3/kv/range", r#"{"key":"Zm9v"}"#)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, error_body("etcdserver: invalid auth token", 16));
    assert!(
        kv.last_range.lock().expect("lock").is_none(),
        "service not called"
    );

    let mut request = post("/v3/kv/range", r#"{"key":"Zm9v"}"#);
    request
        .headers_mut()
        .insert("authorization", "t".parse().expect("header"));
    let (status, _, _) = call(router, request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn options_preflight_and_cors_policies() {
    let (router, _) = router();
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v3/kv/range")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = call(router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        headers["access-control-allow-headers"],
        "accept, content-type, authorization"
    );

    let router = GatewayBuilder::new()
        .kv(Arc::new(FakeKv::default()))
        .cors(CorsPolicy::Disabled)
        .build();
    let (_, headers, _) = call(router, post("/v3/kv/range", r#"{"key":"Zm9v"}"#)).await;
    assert!(headers.get("access-control-allow-origin").is_none());
}

// ---------------------------------------------------------------- streaming

fn watch_router() -> (axum::Router, Arc<FakeWatch>) {
    let watch = Arc::new(FakeWatch::default());
    (
        GatewayBuilder::new().watch(Arc::clone(&watch)).build(),
        watch,
    )
}

#[tokio::test]
async fn watch_streams_ndjson_results() {
    let (router, watch) = watch_router();
    let (status, headers, body) = call(
        router,
        post(
            "/v3/watch",
            r#"{"create_request":{"key":"Zm9v","prev_kv":true}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    let header3 = HEADER_JSON.replace(r#""revision":"2""#, r#""revision":"3""#);
    assert_eq!(
        body,
        format!(
            "{{\"result\":{{\"header\":{HEADER_JSON},\"created\":true}}}}\n\
             {{\"result\":{{\"header\":{header3},\"events\":[{{\"kv\":{{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\",\"value\":\"YmF6\"}}}}]}}}}\n"
        )
    );
    assert!(watch.input_open_after_messages.load(Ordering::SeqCst));
    assert!(
        watch.open_flag.load(Ordering::SeqCst),
        "watch input must stay open while the client is connected"
    );
}

#[tokio::test]
async fn watch_camel_case_request() {
    let (router, _) = watch_router();
    let (status, _, body) = call(
        router,
        post(
            "/v3/watch",
            r#"{"createRequest":{"key":"Zm9v","prevKv":true}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.lines().count(), 2, "{body}");
}

#[tokio::test]
async fn watch_delivers_lines_as_they_arrive_and_closes_input_on_disconnect() {
    let (router, watch) = watch_router();
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        router.oneshot(post(
            "/v3/watch",
            r#"{"create_request":{"key":"aG9sZA=="}}"#,
        )),
    )
    .await
    .expect("headers in time")
    .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("first line while the stream is still open")
        .expect("a frame")
        .expect("ok frame");
    let line = frame.into_data().expect("data frame");
    assert_eq!(
        &line[..],
        format!("{{\"result\":{{\"header\":{HEADER_JSON},\"created\":true}}}}\n").as_bytes()
    );
    assert!(!watch.saw_input_eof.load(Ordering::SeqCst));
    drop(body); // the client goes away
    let mut waited = 0;
    while !watch.saw_input_eof.load(Ordering::SeqCst) && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert!(
        watch.saw_input_eof.load(Ordering::SeqCst),
        "input ends on disconnect"
    );
}

#[tokio::test]
async fn stream_error_before_first_message_sets_http_status() {
    let (router, _) = watch_router();
    let (status, _, body) = call(
        router,
        post("/v3/watch", r#"{"create_request":{"key":"Y29tcGFjdGVk"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"error":{"grpc_code":11,"http_code":400,"message":"etcdserver: mvcc: required revision has been compacted","http_status":"Bad Request"}}"#
    );
}

#[tokio::test]
async fn stream_error_after_first_message_ends_the_200_stream() {
    let (router, _) = watch_router();
    let (status, _, body) = call(
        router,
        post("/v3/watch", r#"{"create_request":{"key":"bWlkd2F5"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!(
            "{{\"result\":{{\"header\":{HEADER_JSON},\"created\":true}}}}\n\
             {{\"error\":{{\"grpc_code\":1,\"http_code\":408,\"message\":\"context canceled\",\"http_status\":\"Request Timeout\"}}}}"
        )
    );
}

#[tokio::test]
async fn watch_with_bad_json_is_400() {
    let (router, _) = watch_router();
    let (status, _, body) = call(router, post("/v3/watch", "{nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains(r#""code":3"#), "{body}");
}

#[tokio::test]
async fn lease_keepalive_answers_each_request_then_ends() {
    let (router, _) = router();
    let (status, _, body) =
        call(router.clone(), post("/v3/lease/keepalive", r#"{"ID":"7"}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!("{{\"result\":{{\"header\":{HEADER_JSON},\"ID\":\"7\",\"TTL\":\"30\"}}}}\n")
    );

    let (status, _, body) = call(
        router,
        post("/v3/lease/keepalive", "{\"ID\":\"7\"}\n{\"ID\":\"8\"}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "{body}");
    assert!(lines[1].contains(r#""ID":"8""#));
}
