//! The Lock service (`v3lockpb.Lock`): etcd's `clientv3/concurrency` Mutex run in-process over
//! this member's own KV, Lease and Watch machinery, with the same key layout, so
//! `etcdctl lock` (which runs the Mutex client-side) and this RPC exclude each other.
//!
//! The lock key is `<name>/<lease in lowercase hex>`. A waiter owns the lock once every key
//! under `<name>/` with a smaller create revision is gone (`waitDeletes`).
//!
//! The in-process helpers here ([`InProcess`]) are shared with the Election service.

use std::sync::Arc;

use oxcd_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    kv_server::Kv,
    lease_server::Lease,
    range_request::{SortOrder, SortTarget},
    request_op, response_op, Compare, DeleteRangeRequest, LeaseGrantRequest, PutRequest,
    RangeRequest, RangeResponse, RequestOp, ResponseHeader, TxnRequest, TxnResponse,
    WatchCreateRequest, WatchResponse,
};
use oxcd_proto::mvccpb::{event::EventType, KeyValue};
use oxcd_proto::v3lockpb::{
    lock_server::Lock, LockRequest, LockResponse, UnlockRequest, UnlockResponse,
};
use oxcd_watch::WatchSpec;
use tonic::{Request, Response, Status};

use super::header;
use super::kv::KvService;
use super::lease::LeaseService;
use crate::context::ServerContext;

/// TTL of the lease granted when a request names lease 0 (concurrency's defaultSessionTTL).
const DEFAULT_SESSION_TTL: i64 = 60;

/// etcd's message when a watcher ends before the awaited delete.
const LOST_WATCHER: &str = "lost watcher waiting for delete";

/// The key a session with `lease` uses under `name` (`fmt.Sprintf("%s/%x", name, lease)`).
pub(crate) fn session_key(name: &[u8], lease: i64) -> Vec<u8> {
    let mut key = name.to_vec();
    key.push(b'/');
    key.extend_from_slice(format!("{lease:x}").as_bytes());
    key
}

/// `name + "/"`: the prefix every contender key of `name` lives under.
pub(crate) fn prefix_of(name: &[u8]) -> Vec<u8> {
    let mut p = name.to_vec();
    p.push(b'/');
    p
}

/// The range end of the prefix `p` (clientv3 `GetPrefixRangeEnd`).
pub(crate) fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

/// `create_revision(key) == rev`.
pub(crate) fn create_rev_is(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        range_end: Vec::new(),
        target_union: Some(TargetUnion::CreateRevision(rev)),
    }
}

/// A put request op.
pub(crate) fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

/// A single-key get request op.
pub(crate) fn get_op(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        })),
    }
}

/// A single-key delete request op.
pub(crate) fn delete_op(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.to_vec(),
                ..Default::default()
            },
        )),
    }
}

/// The oldest (`Ascend`) or newest (`Descend`) key by create revision under `prefix`,
/// optionally only among keys created at or before `max_create_rev` (0 = no bound).
pub(crate) fn by_create(prefix: &[u8], order: SortOrder, max_create_rev: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: order as i32,
        sort_target: SortTarget::Create as i32,
        max_create_revision: max_create_rev,
        ..Default::default()
    }
}

/// The range response of the `i`-th op of a txn response.
pub(crate) fn range_at(resp: &TxnResponse, i: usize) -> Option<&RangeResponse> {
    match resp.responses.get(i)?.response.as_ref()? {
        response_op::Response::ResponseRange(r) => Some(r),
        _ => None,
    }
}

/// The first key-value of the `i`-th (range) op of a txn response.
pub(crate) fn first_kv_at(resp: &TxnResponse, i: usize) -> Option<&KeyValue> {
    range_at(resp, i)?.kvs.first()
}

/// Calls the member's own KV, Lease and Watch services, as etcd's v3lock/v3election servers
/// call theirs through an in-process client.
#[derive(Clone)]
pub(crate) struct InProcess {
    ctx: Arc<ServerContext>,
    kv: KvService,
}

impl InProcess {
    /// In-process access over `ctx`.
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        let kv = KvService::new(ctx.clone());
        Self { ctx, kv }
    }

    /// The shared context.
    pub(crate) fn ctx(&self) -> &Arc<ServerContext> {
        &self.ctx
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
        Ok(Kv::txn(&self.kv, Request::new(req)).await?.into_inner())
    }

    /// One delete of a single key.
    pub(crate) async fn delete(&self, key: &[u8]) -> Result<Option<ResponseHeader>, Status> {
        let req = DeleteRangeRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        Ok(Kv::delete_range(&self.kv, Request::new(req))
            .await?
            .into_inner()
            .header)
    }

    /// One (linearizable) range.
    pub(crate) async fn range(&self, req: RangeRequest) -> Result<RangeResponse, Status> {
        Ok(Kv::range(&self.kv, Request::new(req)).await?.into_inner())
    }

    /// The session lease: `lease` itself, or a fresh 60 s lease when it is 0 (what
    /// `concurrency.NewSession` does without `WithLease`).
    pub(crate) async fn session_lease(&self, lease: i64) -> Result<i64, Status> {
        if lease != 0 {
            return Ok(lease);
        }
        let svc = LeaseService::new(self.ctx.clone());
        let req = LeaseGrantRequest {
            ttl: DEFAULT_SESSION_TTL,
            id: 0,
        };
        Ok(Lease::lease_grant(&svc, Request::new(req))
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
        let (stream, rx) = self.ctx.watch_hub.open_stream();
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

/// Implements `v3lockpb.Lock`.
#[derive(Clone)]
pub struct LockService {
    inproc: InProcess,
}

impl LockService {
    /// A Lock service over `ctx`.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self {
            inproc: InProcess::new(ctx),
        }
    }

    async fn lock(&self, req: LockRequest) -> Result<LockResponse, Status> {
        let lease = self.inproc.session_lease(req.lease).await?;
        let prefix = prefix_of(&req.name);
        let key = session_key(&req.name, lease);
        let owner = RequestOp {
            request: Some(request_op::Request::RequestRange(by_create(
                &prefix,
                SortOrder::Ascend,
                0,
            ))),
        };
        let resp = self
            .inproc
            .txn(
                vec![create_rev_is(&key, 0)],
                vec![put_op(&key, b"", lease), owner.clone()],
                vec![get_op(&key), owner],
            )
            .await?;
        let mut my_rev = resp.header.as_ref().map_or(0, |h| h.revision);
        if !resp.succeeded {
            my_rev = first_kv_at(&resp, 0).map_or(my_rev, |kv| kv.create_revision);
        }
        let owner_rev = first_kv_at(&resp, 1).map(|kv| kv.create_revision);
        let mut hdr = resp.header;
        if owner_rev.is_some_and(|r| r != my_rev) {
            let guard = ReleaseGuard::new(&self.inproc, key.clone(), my_rev);
            hdr = self.inproc.wait_deletes(&prefix, my_rev - 1).await?;
            guard.disarm();
        }
        header::complete(self.inproc.ctx(), &mut hdr);
        Ok(LockResponse { header: hdr, key })
    }
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, req: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        Ok(Response::new(
            LockService::lock(self, req.into_inner()).await?,
        ))
    }

    async fn unlock(
        &self,
        req: Request<UnlockRequest>,
    ) -> Result<Response<UnlockResponse>, Status> {
        let key = req.into_inner().key;
        let mut hdr = self.inproc.delete(&key).await?;
        header::complete(self.inproc.ctx(), &mut hdr);
        Ok(Response::new(UnlockResponse { header: hdr }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout_matches_concurrency() {
        assert_eq!(
            session_key(b"mylock", 0x694d_7a1b_2c3d),
            b"mylock/694d7a1b2c3d"
        );
        assert_eq!(prefix_of(b"e"), b"e/");
        assert_eq!(prefix_end(b"e/"), b"e0");
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b");
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }
}
