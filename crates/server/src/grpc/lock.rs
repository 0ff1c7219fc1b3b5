//! The Lock service (`v3lockpb.Lock`): etcd's `clientv3/concurrency` Mutex run in-process over
//! this member's own KV, Lease and Watch machinery, with the same key layout, so
//! `etcdctl lock` (which runs the Mutex client-side) and this RPC exclude each other.
//!
//! The lock key is `<name>/<lease in lowercase hex>`. A waiter owns the lock once every key
//! under `<name>/` with a smaller create revision is gone (`waitDeletes`).
//!
//! The in-process concurrency client lives in [`super::concurrency`], shared with Election.

use oxcd_proto::etcdserverpb::{range_request::SortOrder, request_op, RequestOp};
use oxcd_proto::v3lockpb::{
    lock_server::Lock, LockRequest, LockResponse, UnlockRequest, UnlockResponse,
};
use tonic::{Request, Response, Status};

use super::concurrency::{
    by_create, create_rev_is, first_kv_at, get_op, prefix_of, put_op, session_key, InProcess,
    ReleaseGuard,
};
use crate::context::ServerContext;

/// Implements `v3lockpb.Lock`.
#[derive(Clone)]
pub struct LockService {
    inproc: InProcess,
}

impl LockService {
    /// The Lock service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            inproc: InProcess::from_context(ctx),
        }
    }

    /// This service, calling the member's KV and Lease services as the caller of a
    /// request with `metadata` (so the same permission checks apply).
    fn as_caller_of(&self, metadata: &tonic::metadata::MetadataMap) -> Self {
        Self {
            inproc: self.inproc.as_caller_of(metadata),
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
        self.inproc.headers().complete(&mut hdr);
        Ok(LockResponse { header: hdr, key })
    }
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, req: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        let this = self.as_caller_of(req.metadata());
        Ok(Response::new(
            LockService::lock(&this, req.into_inner()).await?,
        ))
    }

    async fn unlock(
        &self,
        req: Request<UnlockRequest>,
    ) -> Result<Response<UnlockResponse>, Status> {
        let this = self.as_caller_of(req.metadata());
        let key = req.into_inner().key;
        let mut hdr = this.inproc.delete(&key).await?;
        this.inproc.headers().complete(&mut hdr);
        Ok(Response::new(UnlockResponse { header: hdr }))
    }
}
