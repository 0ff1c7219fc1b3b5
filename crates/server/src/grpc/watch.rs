//! The Watch service: one hub stream per gRPC stream; a task reads requests, the response
//! stream drains the hub's ordered queue and fills the header.
//!
//! gRPC is served through `watch_wire_server` (responses with pre-encoded events, the same
//! bytes on the wire); the plain `Watch` trait serves in-process callers (the gateway).

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use oxcd_proto::etcdserverpb::{
    watch_request::RequestUnion, watch_server::Watch, ResponseHeader, WatchCreateRequest,
    WatchRequest, WatchResponse,
};
use oxcd_proto::watch_wire::WatchResponseWire;
use oxcd_proto::watch_wire_server::watch_server::Watch as WireWatch;
use oxcd_watch::{WatchError, WatchHub, WatchSpec};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::status::go_status_text;
use crate::auth::AuthGate;
use crate::context::ServerContext;
use crate::error::ServerError;
use crate::grpc::header::Headers;
use oxcd_raftlog::RaftHandle;

/// Implements `etcdserverpb.Watch` over the few handles it uses.
#[derive(Clone)]
pub struct WatchService {
    /// Who opens a watch, and whether it may read the watched range.
    pub auth: Arc<AuthGate>,
    /// Whether there is a leader (`hasleader` streams).
    pub raft: RaftHandle,
    /// Response headers (the hub sets the revision).
    pub headers: Headers,
    /// Every watcher of this member.
    pub hub: WatchHub,
}

impl WatchService {
    /// The Watch service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            auth: ctx.auth.clone(),
            raft: ctx.raft.clone(),
            headers: ctx.headers.clone(),
            hub: ctx.watch_hub.clone(),
        }
    }
}

/// Whether the request demands a leader (`hasleader` metadata) and there is none.
pub fn require_leader<T>(raft: &RaftHandle, req: &Request<T>) -> Result<(), ServerError> {
    let wants = req.metadata().get("hasleader").is_some_and(|v| v == "true");
    if wants && raft.status().borrow().leader_id == 0 {
        return Err(ServerError::NoLeader);
    }
    Ok(())
}

/// etcd's `isWatchPermitted`: read on the watched range, checked when the watch is created
/// (and never again). The key and range end are normalised first as etcd's watch server
/// does: an empty key is `"\0"`, and a from-key range end `"\0"` becomes empty, so a
/// from-key watch is checked as its first key alone. A refusal (no token, a bad token, no
/// permission) becomes the cancel reason in grpc-go's status text, as etcd 3.4 sends it.
async fn permitted(
    auth: &AuthGate,
    metadata: &MetadataMap,
    client_cn: Option<&str>,
    c: &WatchCreateRequest,
) -> Result<(), WatchError> {
    let key: &[u8] = if c.key.is_empty() { &[0] } else { &c.key };
    let range_end: &[u8] = if c.range_end == [0] {
        &[]
    } else {
        &c.range_end
    };
    let checked = match auth.caller_from(metadata, client_cn).await {
        Ok(caller) => auth.check(&caller, |chk| chk.range(key, range_end)),
        Err(e) => Err(e.into()),
    };
    checked.map_err(|e| WatchError::Refused(go_status_text(&e)))
}

impl WatchService {
    /// Opens a hub stream for `req`: a task feeds the requests to the hub, and the
    /// returned stream yields the responses with their headers filled.
    fn open(
        &self,
        req: Request<Streaming<WatchRequest>>,
    ) -> Result<impl Stream<Item = WatchResponseWire> + Send + 'static, Status> {
        require_leader(&self.raft, &req)?;
        let metadata = req.metadata().clone();
        let client_cn = crate::auth::client_cn(&req).map(str::to_owned);
        let auth = self.auth.clone();
        let mut inbound = req.into_inner();
        let (stream, rx) = self.hub.open_stream();
        // The watchers live until the client is gone: both the request task and the
        // response stream hold the hub stream (a gateway client half-closes after one
        // create request and keeps reading).
        let stream = Arc::new(stream);
        let reader = stream.clone();
        tokio::spawn(async move {
            let stream = reader;
            while let Ok(Some(msg)) = inbound.message().await {
                match msg.request_union {
                    Some(RequestUnion::CreateRequest(c)) => {
                        let spec = match permitted(&auth, &metadata, client_cn.as_deref(), &c).await
                        {
                            Ok(()) => WatchSpec::from_request(&c),
                            Err(refused) => Err(refused),
                        };
                        let _ = stream.create(spec);
                    }
                    Some(RequestUnion::CancelRequest(c)) => {
                        stream.cancel(c.watch_id);
                    }
                    Some(RequestUnion::ProgressRequest(_)) => stream.request_progress(),
                    None => {}
                }
            }
            drop(stream);
        });
        let headers = self.headers.clone();
        // A batch at a time: one notify's responses for this stream get cluster, member
        // and term filled together (the hub set the revision; 0 stays 0, as etcd's
        // compaction cancel has none).
        Ok(futures::stream::unfold(
            (rx, headers, stream),
            |(mut rx, headers, stream)| async move {
                let mut batch = rx.recv_batch().await?;
                let filled = headers.without_revision().unwrap_or_default();
                for resp in &mut batch {
                    let h = resp.header.get_or_insert_with(ResponseHeader::default);
                    h.cluster_id = filled.cluster_id;
                    h.member_id = filled.member_id;
                    h.raft_term = filled.raft_term;
                }
                Some((futures::stream::iter(batch), (rx, headers, stream)))
            },
        )
        .flatten())
    }
}

/// gRPC: responses go out with the events the hub encoded once per delivery.
#[tonic::async_trait]
impl WireWatch for WatchService {
    type WatchStream =
        Pin<Box<dyn Stream<Item = Result<WatchResponseWire, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        req: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let out = self.open(req)?.map(Ok);
        Ok(Response::new(Box::pin(out)))
    }
}

/// In-process callers (the HTTP gateway): plain `WatchResponse`s.
#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        req: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let out = self.open(req)?.map(|resp| {
            resp.into_response()
                .map_err(|e| Status::internal(format!("watch events: {e}")))
        });
        Ok(Response::new(Box::pin(out)))
    }
}
