//! End to end: a real tonic server on 127.0.0.1:0 with both layers (stacked the way oxcd's
//! server stacks them) in front of a hand-written `test.Echo` service, called by tonic's
//! client. Checks the metrics and grpc-go's oversized-message error over real HTTP/2.

mod support;

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::Stream;
use http::uri::PathAndQuery;
use oxcd_middleware::{
    GlobalConcurrencyLimitLayer, GrpcMethod, GrpcMetricsLayer, GrpcRequestSizeLayer, MethodKind,
};
use support::{handled, method_counter};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::codec::Streaming;
use tonic::server::{Grpc, NamedService, StreamingService, UnaryService};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

const LIMIT: usize = 1024;
const WAIT: Duration = Duration::from_secs(10);

/// `Say` echoes its string, or fails with NotFound when asked to.
struct Say;

impl UnaryService<String> for Say {
    type Response = String;
    type Future = Ready<Result<Response<String>, Status>>;

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let msg = request.into_inner();
        ready(if msg == "fail" {
            Err(Status::not_found("etcdserver: key not found"))
        } else {
            Ok(Response::new(msg))
        })
    }
}

type EchoStream = Pin<Box<dyn Stream<Item = Result<String, Status>> + Send>>;

/// `Chat` echoes every message of its request stream.
struct Chat;

impl StreamingService<String> for Chat {
    type Response = String;
    type ResponseStream = EchoStream;
    type Future = Ready<Result<Response<EchoStream>, Status>>;

    fn call(&mut self, request: Request<Streaming<String>>) -> Self::Future {
        let stream: EchoStream = Box::pin(request.into_inner());
        ready(Ok(Response::new(stream)))
    }
}

#[derive(Clone)]
struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = "test.Echo";
}

impl tower::Service<http::Request<Body>> for EchoServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            let codec = ProstCodec::<String, String>::default();
            let resp = match req.uri().path() {
                "/test.Echo/Say" => Grpc::new(codec).unary(Say, req).await,
                "/test.Echo/Chat" => Grpc::new(codec).streaming(Chat, req).await,
                _ => Status::new(tonic::Code::Unimplemented, "").into_http(),
            };
            Ok(resp)
        })
    }
}

struct Running {
    channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let joined = tokio::time::timeout(WAIT, &mut self.task).await;
        if joined.is_err() {
            self.task.abort();
        }
    }
}

async fn start() -> Running {
    let methods = vec![
        GrpcMethod::new("test.Echo", "Say", MethodKind::Unary),
        GrpcMethod::new("test.Echo", "Chat", MethodKind::BidiStream),
    ];
    let metrics = GrpcMetricsLayer::new(&methods, true);
    metrics.preinitialize();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .layer(metrics)
        .layer(GrpcRequestSizeLayer::new(LIMIT))
        .layer(GlobalConcurrencyLimitLayer::new(64))
        .add_service(EchoServer)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            let _ = stop_rx.await;
        });
    let task = tokio::spawn(server);
    let channel = tokio::time::timeout(
        WAIT,
        Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect(),
    )
    .await
    .unwrap()
    .unwrap();
    Running {
        channel,
        stop: Some(stop_tx),
        task,
    }
}

async fn say(channel: &Channel, msg: String) -> Result<String, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let resp = grpc
        .unary(
            Request::new(msg),
            PathAndQuery::from_static("/test.Echo/Say"),
            ProstCodec::<String, String>::default(),
        )
        .await?;
    Ok(resp.into_inner())
}

async fn chat<S>(channel: &Channel, outbound: S) -> Result<Streaming<String>, Status>
where
    S: Stream<Item = String> + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let resp = grpc
        .streaming(
            Request::new(outbound),
            PathAndQuery::from_static("/test.Echo/Chat"),
            ProstCodec::<String, String>::default(),
        )
        .await?;
    Ok(resp.into_inner())
}

/// Polls `f` until it holds, for at most `WAIT`.
async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        tokio::time::sleep(WAIT / 200).await;
    }
    f()
}

#[tokio::test]
async fn real_server_metrics_and_size_limit() {
    let server = start().await;
    let ch = &server.channel;

    // Unary OK and NotFound.
    assert_eq!(say(ch, "hello".into()).await.unwrap(), "hello");
    let err = say(ch, "fail".into()).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(handled("unary", "test.Echo", "Say", "OK"), Some(1.0));
    assert_eq!(handled("unary", "test.Echo", "Say", "NotFound"), Some(1.0));
    assert_eq!(handled("unary", "test.Echo", "Say", "Internal"), Some(0.0));
    assert_eq!(
        method_counter("grpc_server_started_total", "unary", "test.Echo", "Say"),
        2.0
    );
    assert_eq!(
        method_counter(
            "grpc_server_msg_received_total",
            "unary",
            "test.Echo",
            "Say"
        ),
        2.0
    );
    assert_eq!(
        method_counter("grpc_server_msg_sent_total", "unary", "test.Echo", "Say"),
        1.0
    );
    let labels = support::method_labels("unary", "test.Echo", "Say");
    assert_eq!(
        support::sample("grpc_server_handling_seconds_count", &labels),
        Some(2.0)
    );

    // Oversized unary message: grpc-go's code and text, not tonic's OutOfRange.
    let big = "x".repeat(2000);
    let encoded = prost::Message::encoded_len(&big);
    let err = say(ch, big).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(
        err.message(),
        format!("grpc: received message larger than max ({encoded} vs. {LIMIT})")
    );
    assert_eq!(
        handled("unary", "test.Echo", "Say", "ResourceExhausted"),
        Some(1.0)
    );

    // Bidi stream that completes: 3 in, 3 out, OK.
    let words = vec!["a".to_string(), "bb".to_string(), "ccc".to_string()];
    let mut replies = chat(ch, futures::stream::iter(words.clone()))
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(msg) = tokio::time::timeout(WAIT, replies.message())
        .await
        .unwrap()
        .unwrap()
    {
        got.push(msg);
    }
    assert_eq!(got, words);
    assert!(eventually(|| handled("bidi_stream", "test.Echo", "Chat", "OK") == Some(1.0)).await);
    assert_eq!(
        method_counter(
            "grpc_server_msg_received_total",
            "bidi_stream",
            "test.Echo",
            "Chat"
        ),
        3.0
    );
    assert_eq!(
        method_counter(
            "grpc_server_msg_sent_total",
            "bidi_stream",
            "test.Echo",
            "Chat"
        ),
        3.0
    );

    // Bidi stream with an oversized message after a small one: the echo arrives, then
    // the stream fails with grpc-go's error.
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    let mut replies = chat(ch, tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap();
    tx.send("small".into()).await.unwrap();
    let first = tokio::time::timeout(WAIT, replies.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_deref(), Some("small"));
    tx.send("y".repeat(LIMIT + 10)).await.unwrap();
    let err = tokio::time::timeout(WAIT, replies.message())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message()
            .starts_with("grpc: received message larger than max ("),
        "{}",
        err.message()
    );
    assert!(
        eventually(
            || handled("bidi_stream", "test.Echo", "Chat", "ResourceExhausted") == Some(1.0)
        )
        .await
    );
    drop(tx);

    // Bidi stream the client abandons: counted as Canceled.
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    let mut replies = chat(ch, tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap();
    tx.send("bye".into()).await.unwrap();
    let first = tokio::time::timeout(WAIT, replies.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_deref(), Some("bye"));
    drop(replies);
    drop(tx);
    assert!(
        eventually(|| handled("bidi_stream", "test.Echo", "Chat", "Canceled") == Some(1.0)).await
    );
    let started = method_counter(
        "grpc_server_started_total",
        "bidi_stream",
        "test.Echo",
        "Chat",
    );
    assert_eq!(started, 3.0);

    server.shutdown().await;
}
