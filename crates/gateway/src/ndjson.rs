//! Streaming answers: newline-delimited `{"result":…}` chunks, ended by at
//! most one `{"error":…}` chunk (grpc-gateway v1 `ForwardResponseStream`).
//!
//! The HTTP status is decided by the first item: an error there becomes the
//! error's HTTP status (with the error chunk as body); otherwise 200, and a
//! later error is written as the last chunk of the 200 stream.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::StatusCode;
use serde::Serialize;
use tokio::sync::oneshot;
use tonic::Status;

use crate::response::{error_chunk, json_response, result_chunk};
use crate::status_map::http_status_for;

/// Renders `stream` as the NDJSON body of a streaming gateway answer.
///
/// `guard` (if any) lives exactly as long as the HTTP response body: it is
/// dropped when the stream ends or the client goes away.
pub(crate) async fn ndjson_response<T, St>(
    stream: St,
    guard: Option<oneshot::Sender<()>>,
) -> Response
where
    T: Serialize + Send + 'static,
    St: Stream<Item = Result<T, Status>> + Send + 'static,
{
    let mut stream = Box::pin(stream);
    let first = match stream.next().await {
        None => return json_response(StatusCode::OK, Body::empty()),
        Some(Err(status)) => {
            return json_response(http_status_for(status.code()), error_chunk(&status));
        }
        Some(Ok(message)) => match result_chunk(&message) {
            Ok(chunk) => chunk,
            Err(err) => {
                let status = Status::from(err);
                return json_response(http_status_for(status.code()), error_chunk(&status));
            }
        },
    };
    let rest = futures::stream::unfold(Some((stream, guard)), |state| async move {
        let (mut stream, guard) = state?;
        let chunk = match stream.next().await? {
            Ok(message) => result_chunk(&message),
            Err(status) => return Some((error_chunk(&status), None)),
        };
        match chunk {
            Ok(chunk) => Some((chunk, Some((stream, guard)))),
            Err(err) => Some((error_chunk(&Status::from(err)), None)),
        }
    });
    let body = futures::stream::once(async move { first })
        .chain(rest)
        .map(Ok::<Bytes, Infallible>);
    json_response(StatusCode::OK, Body::from_stream(body))
}
