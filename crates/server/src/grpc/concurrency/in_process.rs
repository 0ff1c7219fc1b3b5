//! [`InProcess`]: the concurrency package's client side, calling this member's own
//! services; [`Watcher`] and [`ReleaseGuard`].

use oxcd_proto::etcdserverpb::{
    kv_server::Kv, lease_server::Lease, range_request::SortOrder, Compare, DeleteRangeRequest,
    LeaseGrantRequest, RangeRequest, RangeResponse, RequestOp, ResponseHeader, TxnRequest,
    TxnResponse, WatchCreateRequest, WatchResponse,
};
use oxcd_proto::mvccpb::event::EventType;
use oxcd_watch::WatchSpec;
use tonic::metadata::{Ascii, MetadataMap, MetadataValue};
use tonic::{Request, Status};

use super::keys::{by_create, create_rev_is, delete_op};
use crate::context::ServerContext;
use crate::grpc::header::Headers;
use crate::grpc::kv::KvService;
use crate::grpc::lease::LeaseService;

/// TTL of the lease granted when a request names lease 0 (concurrency's defaultSessionTTL).
const DEFAULT_SESSION_TTL: i64 = 60;

/// etcd's message when a watcher ends before the awaited delete.
const LOST_WATCHER: &str = "lost watcher waiting for delete";

/// Calls the member's own KV, Lease and Watch services, as etcd's v3lock/v3election servers
/// call theirs through an in-process client.
#[derive(Clone)]
pub(crate) struct InProcess {
    kv: KvService,
    lease: LeaseService,
    hub: oxcd_watch::WatchHub,
    headers: Headers,
    /// The auth token of the Lock or Election request being served: its KV and lease
    /// calls run as that caller and pass the same permission checks (etcd's in-process
    /// client carries the incoming context's token).
    token: Option<MetadataValue<Ascii>>,
}

impl InProcess {
    /// In-process access to the services of the running member `ctx` describes.
    pub(crate) fn from_context(ctx: &ServerContext) -> Self {
        Self {
            kv: KvService::from_context(ctx),
            lease: LeaseService::from_context(ctx),
            hub: ctx.watch_hub.clone(),
            headers: ctx.headers.clone(),
            token: None,
        }
    }

    /// The same client, calling as the caller of a request with `metadata`.
    pub(crate) fn as_caller_of(&self, metadata: &MetadataMap) -> Self {
        Self {
            token: metadata.get("token").cloned(),
            ..self.clone()
        }
    }

    /// `msg` as a request carrying this client's token.
    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        if let Some(token) = &self.token {
            req.metadata_mut().insert("token", token.clone());
        }
        req
    }

    /// Response headers of this member.
    pub(crate) fn headers(&self) -> &Headers {
        &self.headers
    }

    /// One transaction.
    pub(crate) async fn txn(
        &self,
        compare: Vec<Compare>,
        success: Vec<RequestOp>,
        failure: Vec<RequestOp>,
    ) -> Result<TxnResponse, Status> {
        let req = TxnRequest {
            compare,
            success,
            failure,
        };
        Ok(Kv::txn(&self.kv, self.request(req)).await?.into_inner())
    }

    /// One delete of a single key.
    pub(crate) async fn delete(&self, key: &[u8]) -> Result<Option<ResponseHeader>, Status> {
        let req = DeleteRangeRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        Ok(Kv::delete_range(&self.kv, self.request(req))
            .await?
            .into_inner()
            .header)
    }

    /// One (linearizable) range.
    pub(crate) async fn range(&self, req: RangeRequest) -> Result<RangeResponse, Status> {
        Ok(Kv::range(&self.kv, self.request(req)).await?.into_inner())
    }

    /// The session lease: `lease` itself, or a fresh 60 s lease when it is 0 (what
    /// `concurrency.NewSession` does without `WithLease`).
    pub(crate) async fn session_lease(&self, lease: i64) -> Result<i64, Status> {
        if lease != 0 {
            return Ok(lease);
        }
        let svc = &self.lease;
        let req = LeaseGrantRequest {
            ttl: DEFAULT_SESSION_TTL,
            id: 0,
        };
        Ok(Lease::lease_grant(svc, self.request(req))
            .await?
            .into_inner()
            .id)
    }

    /// A watcher of `[key, range_end)` from revision `start`: its response queue (the
    /// stream handle is kept alive alongside it).
    pub(crate) fn watch(
        &self,
        key: &[u8],
        range_end: &[u8],
        start: i64,
    ) -> Result<Watcher, Status> {
        let create = WatchCreateRequest {
            key: key.to_vec(),
            range_end: range_end.to_vec(),
            start_revision: start,
            ..Default::default()
        };
        let spec = WatchSpec::from_request(&create).map_err(|e| Status::unknown(e.to_string()))?;
        let (stream, rx) = self.hub.open_stream();
        stream
            .create(Ok(spec))
            .map_err(|e| Status::unknown(e.to_string()))?;
        Ok(Watcher {
            _stream: stream,
            rx,
        })
    }

    /// Waits until `key` is deleted at a revision >= `rev` (concurrency `waitDelete`).
    async fn wait_delete(&self, key: &[u8], rev: i64) -> Result<(), Status> {
        let mut w = self.watch(key, &[], rev)?;
        loop {
            let resp = w.next_events().await?;
            if resp
                .events
                .iter()
                .any(|ev| ev.r#type == EventType::Delete as i32)
            {
                return Ok(());
            }
        }
    }

    /// Waits until every key under `prefix` created at or before `max_create_rev` is gone
    /// (concurrency `waitDeletes`): repeatedly waits for the newest such key's delete.
    /// Returns the header of the final, empty read.
    pub(crate) async fn wait_deletes(
        &self,
        prefix: &[u8],
        max_create_rev: i64,
    ) -> Result<Option<ResponseHeader>, Status> {
        loop {
            let resp = self
                .range(by_create(prefix, SortOrder::Descend, max_create_rev))
                .await?;
            let Some(last) = resp.kvs.first() else {
                return Ok(resp.header);
            };
            let rev = resp.header.as_ref().map_or(0, |h| h.revision);
            self.wait_delete(&last.key, rev).await?;
        }
    }

    /// Deletes `key` if its create revision is still `rev`, in a background task: the
    /// cleanup of a waiter whose request went away.
    pub(crate) fn spawn_release(&self, key: Vec<u8>, rev: i64) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        rt.spawn(async move {
            let cmp = vec![create_rev_is(&key, rev)];
            if let Err(e) = this.txn(cmp, vec![delete_op(&key)], Vec::new()).await {
                tracing::warn!(error = %e, "failed to release an abandoned lock or campaign key");
            }
        });
    }
}

/// One in-process watcher; dropping it cancels the watch.
pub(crate) struct Watcher {
    _stream: oxcd_watch::WatchStream,
    rx: oxcd_watch::WatchReceiver,
}

impl Watcher {
    /// The next response carrying events; errors when the watch is canceled or lost.
    pub(crate) async fn next_events(&mut self) -> Result<WatchResponse, Status> {
        loop {
            let Some(resp) = self.rx.recv_decoded().await else {
                return Err(Status::unknown(LOST_WATCHER));
            };
            if resp.canceled {
                return Err(if resp.compact_revision != 0 {
                    Status::out_of_range("etcdserver: mvcc: required revision has been compacted")
                } else if resp.cancel_reason.is_empty() {
                    Status::unknown(LOST_WATCHER)
                } else {
                    Status::unknown(resp.cancel_reason)
                });
            }
            if !resp.events.is_empty() {
                return Ok(resp);
            }
        }
    }
}

/// Releases a contender key (compare-and-delete on its create revision) if dropped while
/// armed: a Lock or Campaign whose client went away does not leave its key behind
/// (etcd's handlers Unlock/Resign on a context error).
pub(crate) struct ReleaseGuard {
    inproc: InProcess,
    key: Vec<u8>,
    rev: i64,
    armed: bool,
}

impl ReleaseGuard {
    /// An armed guard for `key` created at `rev`.
    pub(crate) fn new(inproc: &InProcess, key: Vec<u8>, rev: i64) -> Self {
        Self {
            inproc: inproc.clone(),
            key,
            rev,
            armed: true,
        }
    }

    /// Keeps the key.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for ReleaseGuard {
    fn drop(&mut self) {
        if self.armed {
            self.inproc
                .spawn_release(std::mem::take(&mut self.key), self.rev);
        }
    }
}
