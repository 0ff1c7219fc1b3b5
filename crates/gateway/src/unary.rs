//! Unary routes: one JSON request → one JSON response.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{post, MethodRouter};
use bytes::Bytes;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::Status;

use crate::json_body::decode_one;
use crate::response::{message_response, method_not_allowed, status_response};
use crate::state::{GatewayCall, Shared};

/// A POST route that decodes the body as `Req`, calls `call(svc, request)`
/// and answers the response as JSON (or the 3.4 error body).
pub(crate) fn unary_route<S, Req, Resp, F, Fut>(svc: Arc<S>, call: F) -> MethodRouter<Shared>
where
    S: Send + Sync + 'static,
    Req: DeserializeOwned + Default + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(Arc<S>, tonic::Request<Req>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>> + Send + 'static,
{
    let handler = move |State(state): State<Shared>, headers: HeaderMap, body: Bytes| {
        let svc = Arc::clone(&svc);
        let call = call.clone();
        async move {
            let request = match decode_one::<Req>(&body)
                .map_err(Status::from)
                .and_then(|message| state.request(&headers, message, GatewayCall::Unary))
            {
                Ok(request) => request,
                Err(status) => return status_response(&status),
            };
            let response: Response = match call(svc, request).await {
                Ok(response) => message_response(response.get_ref()),
                Err(status) => status_response(&status),
            };
            response
        }
    };
    post(handler).fallback(method_not_allowed)
}
