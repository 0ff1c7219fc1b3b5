//! The Lease service: grants and revokes go through raft; keepalives renew on the leader;
//! TimeToLive and Leases read the lessor.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use oxcd_proto::etcdserverpb::{
    lease_server::Lease, LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest,
    LeaseKeepAliveResponse, LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest,
    LeaseRevokeResponse, LeaseStatus, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use oxcd_proto::oxcdpb::internal_request::Op;
use tonic::{Request, Response, Status, Streaming};

use super::status::unexpected;
use super::watch::require_leader;
use crate::apply::ApplyResult;
use crate::context::ServerContext;
use crate::error::ServerError;

/// etcd's maximum lease TTL in seconds.
const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Implements `etcdserverpb.Lease`.
#[derive(Clone)]
pub struct LeaseService {
    ctx: Arc<ServerContext>,
}

impl LeaseService {
    /// A Lease service over `ctx`.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

/// A fresh lease ID: positive and non-zero, as etcd's.
fn new_lease_id() -> i64 {
    loop {
        let id = (rand::random::<u64>() >> 1) as i64;
        if id != 0 {
            return id;
        }
    }
}

async fn keepalive(ctx: &ServerContext, id: i64) -> Result<LeaseKeepAliveResponse, ServerError> {
    // The header is filled before the renew, as etcd does.
    let header = ctx.headers.current();
    let ttl = crate::lease_forward::renew(ctx, id).await?;
    Ok(LeaseKeepAliveResponse { header, id, ttl })
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let caller = self.ctx.auth.caller(&req).await?;
        let mut g = req.into_inner();
        if g.ttl > MAX_LEASE_TTL {
            return Err(ServerError::LeaseTtlTooLarge.into());
        }
        if g.id == 0 {
            g.id = new_lease_id();
        }
        match self
            .ctx
            .proposer
            .propose(&caller, Op::LeaseGrant(g))
            .await?
        {
            ApplyResult::LeaseGrant(mut resp) => {
                self.ctx.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn lease_revoke(
        &self,
        req: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let caller = self.ctx.auth.caller(&req).await?;
        let r = req.into_inner();
        match self
            .ctx
            .proposer
            .propose(&caller, Op::LeaseRevoke(r))
            .await?
        {
            ApplyResult::LeaseRevoke(mut resp) => {
                self.ctx.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    type LeaseKeepAliveStream =
        Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send + 'static>>;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        require_leader(&self.ctx.raft, &req)?;
        let inbound = req.into_inner();
        let ctx = self.ctx.clone();
        let out = futures::stream::unfold((inbound, ctx), |(mut inbound, ctx)| async move {
            match inbound.message().await {
                Ok(Some(r)) => {
                    let resp = keepalive(&ctx, r.id).await.map_err(Status::from);
                    Some((resp, (inbound, ctx)))
                }
                Ok(None) | Err(_) => None,
            }
        });
        Ok(Response::new(Box::pin(out)))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        let resp = crate::lease_forward::time_to_live(&self.ctx, req.into_inner()).await?;
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _req: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        self.ctx.reads.wait().await?;
        let leases = self
            .ctx
            .lessor
            .leases()
            .into_iter()
            .map(|id| LeaseStatus { id })
            .collect();
        Ok(Response::new(LeaseLeasesResponse {
            header: self.ctx.headers.current(),
            leases,
        }))
    }
}
