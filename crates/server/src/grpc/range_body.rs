//! A large unary `Range` answered as a body streamed from the store, in bounded memory.
//!
//! A gRPC message is one length-prefixed frame, so tonic holds a whole `RangeResponse` and
//! then its whole encoding: a LIST of 1 GiB would cost the server 2 GiB. The route here
//! takes `/etcdserverpb.KV/Range` first. A range that may be large (no small limit) and
//! whose answer is the index's window as it stands ([`KvStore::plan_range`]: key order, no
//! revision filter, values wanted) is answered in two passes over its stored key-values:
//! the first sums their sizes to write the frame's length, the second copies them
//! [`CHUNK`] at a time into the body as the client reads it. A key-value is stored in the
//! encoding a response carries (`mvccpb.KeyValue`), so nothing is decoded or re-encoded.
//! Every other request goes to tonic's KV service unchanged.
//!
//! INVARIANTS
//! - The answer is the one [`KvService`]'s `range` gives: the same checks first (validation,
//!   the read barrier, permissions), the same key-values, `count`, `more` and header.
//! - THE FRAME'S LENGTH IS THE NUMBER OF BYTES SENT, or the body ends with an error status
//!   instead of OK (a compaction that removed a revision between the two passes).
//! - At most [`IN_FLIGHT`] chunks wait for the client: a slow reader holds the copying
//!   thread, not memory.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use oxcd_mvcc::{KvStore, MvccError, PlannedRange};
use oxcd_proto::etcdserverpb::kv_server::KvServer;
use oxcd_proto::etcdserverpb::RangeRequest;
use prost::Message;
use tonic::metadata::MetadataMap;
use tonic::Status;
use tower::ServiceExt;

use super::kv::KvService;
use crate::error::ServerError;

/// Key-values copied per chunk of the body.
pub const CHUNK: usize = 256;

/// Chunks copied ahead of the client.
const IN_FLIGHT: usize = 4;

/// The route's state: the KV service, and tonic's server of it for every other request.
pub struct RangeRoute {
    kv: KvService,
    grpc: KvServer<KvService>,
    recv_limit: usize,
}

impl RangeRoute {
    /// The route over `kv`; `grpc` serves what it does not stream.
    pub fn new(kv: KvService, grpc: KvServer<KvService>, recv_limit: usize) -> Self {
        Self {
            kv,
            grpc,
            recv_limit,
        }
    }
}

/// The handler of `/etcdserverpb.KV/Range`.
pub async fn serve_range(
    State(route): State<Arc<RangeRoute>>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, route.recv_limit)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Status::resource_exhausted(e.to_string())
                .into_http::<axum::body::Body>()
                .into_response()
        }
    };
    if let Some(r) = unary_message(&bytes).and_then(|m| RangeRequest::decode(m).ok()) {
        if super::kv::may_be_large(&r) {
            if let Some(resp) = streamed(&route.kv, &parts, r).await {
                return resp;
            }
        }
    }
    let req = axum::http::Request::from_parts(parts, axum::body::Body::from(bytes));
    match route.grpc.clone().oneshot(req).await {
        Ok(resp) => resp.map(axum::body::Body::new),
        Err(never) => match never {},
    }
}

/// The message of an uncompressed one-message gRPC request body.
fn unary_message(body: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = body.split_first()?;
    let (len, message) = rest.split_at_checked(4)?;
    let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
    (compressed == 0 && message.len() == len).then_some(message)
}

/// The streamed answer to `r`, or `None` when tonic's service should answer it (the
/// range needs a sort or a filter).
async fn streamed(
    kv: &KvService,
    parts: &axum::http::request::Parts,
    r: RangeRequest,
) -> Option<Response> {
    let metadata = MetadataMap::from_headers(parts.headers.clone());
    let cn = parts
        .extensions
        .get::<oxcd_tls::ConnInfo>()
        .and_then(|c| c.client_cn.as_deref());
    let caller = match kv.auth.caller_from(&metadata, cn).await {
        Ok(c) => c,
        Err(e) => return Some(failure(ServerError::from(e))),
    };
    if let Err(e) = kv.before_range(&caller, &r).await {
        return Some(failure(e));
    }
    let store = kv.kv.clone();
    let planned = tokio::task::spawn_blocking(move || {
        let plan = store.plan_range(&r)?;
        let Some(plan) = plan else {
            return Ok(None);
        };
        let sizes = kv_sizes(&store, &plan)?;
        Ok::<_, MvccError>(Some((plan, sizes)))
    })
    .await;
    let (plan, kvs_len) = match planned {
        Ok(Ok(Some(p))) => p,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => return Some(failure(ServerError::from(e))),
        Err(e) => return Some(failure(ServerError::Internal(e.to_string()))),
    };
    if let Err(e) = kv.auth.recheck(&caller) {
        return Some(failure(e));
    }
    let header = kv.headers.at(plan.revision);
    Some(respond(kv.kv.clone(), plan, kvs_len, header))
}

fn failure(e: ServerError) -> Response {
    Status::from(e)
        .into_http::<axum::body::Body>()
        .into_response()
}

/// Pass one: the encoded size of the response's `kvs` field (each entry's tag, length and
/// stored bytes).
fn kv_sizes(store: &KvStore, plan: &PlannedRange) -> Result<usize, MvccError> {
    let mut total = 0;
    store.visit_stored_kvs(&plan.revs, plan.at, |kv| total += entry_len(kv.len()))?;
    Ok(total)
}

/// `RangeResponse.kvs` is field 2, length-delimited.
const KVS_TAG: u8 = 2 << 3 | 2;

fn entry_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// The response: the frame's prefix and the header field, the kvs a chunk at a time, then
/// `more` and `count`, then the trailers.
fn respond(
    store: Arc<KvStore>,
    plan: PlannedRange,
    kvs_len: usize,
    header: Option<oxcd_proto::etcdserverpb::ResponseHeader>,
) -> Response {
    // Everything but the kvs, encoded by prost: header (field 1), more (3), count (4).
    let head = oxcd_proto::etcdserverpb::RangeResponse {
        header,
        ..Default::default()
    }
    .encode_to_vec();
    let tail = oxcd_proto::etcdserverpb::RangeResponse {
        more: plan.more,
        count: plan.count,
        ..Default::default()
    }
    .encode_to_vec();
    let total = head.len() + kvs_len + tail.len();
    let Ok(frame_len) = u32::try_from(total) else {
        return Status::resource_exhausted(format!(
            "grpc: message larger than max ({total} vs. {})",
            u32::MAX
        ))
        .into_http::<axum::body::Body>()
        .into_response();
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Status>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut first = BytesMut::with_capacity(5 + head.len());
        first.put_u8(0);
        first.put_u32(frame_len);
        first.put_slice(&head);
        if tx.blocking_send(Ok(first.freeze())).is_err() {
            return;
        }
        let mut sent = 0;
        let average = kvs_len / plan.revs.len().max(1);
        for chunk in plan.revs.chunks(CHUNK) {
            // Sized for an average chunk; the values are copied once, from RocksDB's blocks.
            let mut buf = BytesMut::with_capacity(average * chunk.len() + 64);
            let copied = store.visit_stored_kvs(chunk, plan.at, |kv| {
                buf.put_u8(KVS_TAG);
                prost::encoding::encode_varint(kv.len() as u64, &mut buf);
                buf.put_slice(kv);
            });
            if let Err(e) = copied {
                let _ = tx.blocking_send(Err(ServerError::from(e).into()));
                return;
            }
            sent += buf.len();
            if tx.blocking_send(Ok(buf.freeze())).is_err() {
                return;
            }
        }
        let end = if sent == kvs_len {
            Ok(Bytes::from(tail))
        } else {
            // The values changed size between the passes: only a compaction removes
            // stored revisions, and then the read fails as a compacted one does.
            Err(ServerError::from(MvccError::Compacted).into())
        };
        let _ = tx.blocking_send(end);
    });
    let frames = futures::stream::unfold((rx, false), |(mut rx, done)| async move {
        if done {
            return None;
        }
        match rx.recv().await {
            Some(Ok(data)) => Some((Ok(http_body::Frame::data(data)), (rx, false))),
            Some(Err(status)) => Some((
                Ok(http_body::Frame::trailers(trailers(&status))),
                (rx, true),
            )),
            None => Some((
                Ok(http_body::Frame::trailers(trailers(&Status::ok("")))),
                (rx, true),
            )),
        }
    });
    let body = axum::body::Body::new(http_body_util::StreamBody::new(futures::StreamExt::map(
        frames,
        |f: Result<_, std::convert::Infallible>| f,
    )));
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    resp
}

/// The trailers that end a call with `status`.
fn trailers(status: &Status) -> HeaderMap {
    let mut map = HeaderMap::new();
    if status.add_header(&mut map).is_err() {
        // Only a message that cannot be a header value gets here: keep the code.
        let code = HeaderValue::from(status.code() as i32);
        map.insert("grpc-status", code);
    }
    map
}
