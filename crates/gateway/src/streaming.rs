//! Streaming routes: server-streaming (Snapshot, Observe) and bidi
//! (Watch, LeaseKeepAlive), answered as NDJSON.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{post, MethodRouter};
use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;
use tonic::{Status, Streaming};

use crate::input_stream::input_stream;
use crate::json_body::{decode_all, decode_one};
use crate::ndjson::ndjson_response;
use crate::response::{method_not_allowed, status_response};
use crate::state::{GatewayCall, Shared};

/// When the in-process request stream of a bidi call reports end-of-stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputEnd {
    /// Right after the messages of the body (grpc-gateway's `CloseSend`).
    /// LeaseKeepAlive: the server answers each request and then ends.
    AfterBody,
    /// Only once the HTTP client goes away (or the response stream ends).
    /// Watch: the stream must outlive its one create request.
    OnDisconnect,
}

/// A POST route for a server-streaming RPC: one JSON request, NDJSON answer.
pub(crate) fn server_streaming_route<S, Req, Resp, St, F, Fut>(
    svc: Arc<S>,
    call: F,
) -> MethodRouter<Shared>
where
    S: Send + Sync + 'static,
    Req: DeserializeOwned + Default + Send + 'static,
    Resp: Serialize + Send + 'static,
    St: Stream<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Arc<S>, tonic::Request<Req>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<St>, Status>> + Send + 'static,
{
    let handler = move |State(state): State<Shared>, headers: HeaderMap, body: Bytes| {
        let svc = Arc::clone(&svc);
        let call = call.clone();
        async move {
            let request = match decode_one::<Req>(&body)
                .map_err(Status::from)
                .and_then(|message| state.request(&headers, message, GatewayCall::Stream))
            {
                Ok(request) => request,
                Err(status) => return status_response(&status),
            };
            match call(svc, request).await {
                Ok(response) => ndjson_response(response.into_inner(), None).await,
                Err(status) => status_response(&status),
            }
        }
    };
    post(handler).fallback(method_not_allowed)
}

/// A POST route for a bidi-streaming RPC: the body's JSON values become the
/// request stream (a real `tonic::Streaming`), the answer is NDJSON.
pub(crate) fn bidi_streaming_route<S, Req, Resp, St, F, Fut>(
    svc: Arc<S>,
    input_end: InputEnd,
    call: F,
) -> MethodRouter<Shared>
where
    S: Send + Sync + 'static,
    Req: DeserializeOwned + prost::Message + Default + Send + 'static,
    Resp: Serialize + Send + 'static,
    St: Stream<Item = Result<Resp, Status>> + Send + 'static,
    F: Fn(Arc<S>, tonic::Request<Streaming<Req>>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<St>, Status>> + Send + 'static,
{
    let handler = move |State(state): State<Shared>, headers: HeaderMap, body: Bytes| {
        let svc = Arc::clone(&svc);
        let call = call.clone();
        async move {
            let (guard, closed) = match input_end {
                InputEnd::AfterBody => (None, None),
                InputEnd::OnDisconnect => {
                    let (guard, closed) = oneshot::channel::<()>();
                    (Some(guard), Some(closed))
                }
            };
            let request = match decode_all::<Req>(&body)
                .and_then(|messages| input_stream(&messages, closed))
                .map_err(Status::from)
                .and_then(|input| state.request(&headers, input, GatewayCall::Stream))
            {
                Ok(request) => request,
                Err(status) => return status_response(&status),
            };
            match call(svc, request).await {
                Ok(response) => ndjson_response(response.into_inner(), guard).await,
                Err(status) => status_response(&status),
            }
        }
    };
    post(handler).fallback(method_not_allowed)
}
