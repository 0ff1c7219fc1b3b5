//! Rendering of responses: JSON messages, the 3.4 error body, NDJSON stream
//! chunks, and the plain-text "other" errors (405).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::StatusCode;
use serde::Serialize;
use tonic::Status;

use crate::error::GatewayError;
use crate::status_map::http_status_for;

/// The content type of every JSON answer (grpc-gateway's JSONPb marshaler).
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The unary error body of grpc-gateway v1 (etcd 3.4):
/// `{"error":"<msg>","message":"<msg>","code":<n>}`, empty strings and a zero
/// code omitted like jsonpb does.
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    error: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    code: i32,
}

/// The payload of the final `{"error":{…}}` chunk of a stream
/// (grpc-gateway v1 `StreamError`, original proto names).
#[derive(Serialize)]
struct StreamError<'a> {
    #[serde(skip_serializing_if = "is_zero")]
    grpc_code: i32,
    #[serde(skip_serializing_if = "is_zero")]
    http_code: i32,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    http_status: &'a str,
}

#[derive(Serialize)]
struct ErrorChunk<'a> {
    error: StreamError<'a>,
}

#[derive(Serialize)]
struct ResultChunk<'a, T> {
    result: &'a T,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

fn json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value).map_err(GatewayError::Marshal)
}

/// A 200 response carrying `message` as JSON, or the error response if the
/// message cannot be rendered.
pub(crate) fn message_response<T: Serialize>(message: &T) -> Response {
    match json_bytes(message) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(err) => status_response(&Status::from(err)),
    }
}

/// The etcd 3.4 gateway's answer for a failed unary call (or a stream that
/// failed before its first message).
pub fn status_response(status: &Status) -> Response {
    let body = ErrorBody {
        error: status.message(),
        message: status.message(),
        code: status.code() as i32,
    };
    // Serialising three plain fields cannot fail; fall back like grpc-gateway.
    let bytes = serde_json::to_vec(&body)
        .unwrap_or_else(|_| br#"{"error": "failed to marshal error message"}"#.to_vec());
    json_response(http_status_for(status.code()), bytes)
}

pub(crate) fn json_response(code: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = code;
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// One `{"result":…}\n` line of a streaming answer.
pub(crate) fn result_chunk<T: Serialize>(message: &T) -> Result<Bytes, GatewayError> {
    let mut line = json_bytes(&ResultChunk { result: message })?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}

/// The final `{"error":…}` chunk of a streaming answer. Like grpc-gateway v1
/// it carries no trailing delimiter.
pub(crate) fn error_chunk(status: &Status) -> Bytes {
    let http = http_status_for(status.code());
    let chunk = ErrorChunk {
        error: StreamError {
            grpc_code: status.code() as i32,
            http_code: i32::from(http.as_u16()),
            message: status.message(),
            http_status: http.canonical_reason().unwrap_or(""),
        },
    };
    Bytes::from(serde_json::to_vec(&chunk).unwrap_or_else(|_| {
        br#"{"error":{"grpc_code":13,"message":"failed to marshal error message"}}"#.to_vec()
    }))
}

/// Go's `http.Error(w, "Method Not Allowed", 405)`, which grpc-gateway v1
/// answers for a known path with the wrong method.
pub(crate) async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        "Method Not Allowed\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chunk_matches_grpc_gateway_v1() {
        let chunk = error_chunk(&Status::cancelled("context canceled"));
        assert_eq!(
            &chunk[..],
            br#"{"error":{"grpc_code":1,"http_code":408,"message":"context canceled","http_status":"Request Timeout"}}"#
        );
    }

    #[test]
    fn result_chunk_is_one_line() {
        let chunk = result_chunk(&serde_json::json!({"a": "1"})).expect("plain json");
        assert_eq!(&chunk[..], b"{\"result\":{\"a\":\"1\"}}\n");
    }
}
