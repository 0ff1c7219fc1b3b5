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
use crate::auth::AuthGate;
use crate::context::ServerContext;
use crate::error::ServerError;
use crate::grpc::header::Headers;
use crate::lease_forward::LeaseRouter;
use crate::propose::Proposals;
use crate::read::ReadBarrier;

/// etcd's maximum lease TTL in seconds.
const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Implements `etcdserverpb.Lease` over the few handles it uses.
#[derive(Clone)]
pub struct LeaseService {
    /// Who a request runs as.
    pub auth: Arc<AuthGate>,
    /// Grants and revocations go through raft.
    pub proposer: Arc<dyn Proposals>,
    /// LeaseLeases reads after a linearizable barrier.
    pub reads: Arc<dyn ReadBarrier>,
    /// Renewals and TTLs: answered here or by the leader.
    pub router: LeaseRouter,
    /// Response headers.
    pub headers: Headers,
}

impl LeaseService {
    /// The Lease service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            auth: ctx.auth.clone(),
            proposer: ctx.proposer.clone(),
            reads: ctx.reads.clone(),
            router: ctx.lease_router.clone(),
            headers: ctx.headers.clone(),
        }
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

async fn keepalive(router: &LeaseRouter, id: i64) -> Result<LeaseKeepAliveResponse, ServerError> {
    // The header is filled before the renew, as etcd does.
    let header = router.headers.current();
    let ttl = router.renew(id).await?;
    Ok(LeaseKeepAliveResponse { header, id, ttl })
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let mut g = req.into_inner();
        if g.ttl > MAX_LEASE_TTL {
            return Err(ServerError::LeaseTtlTooLarge.into());
        }
        if g.id == 0 {
            g.id = new_lease_id();
        }
        match self.proposer.propose(&caller, Op::LeaseGrant(g)).await? {
            ApplyResult::LeaseGrant(mut resp) => {
                self.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn lease_revoke(
        &self,
        req: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let r = req.into_inner();
        match self.proposer.propose(&caller, Op::LeaseRevoke(r)).await? {
            ApplyResult::LeaseRevoke(mut resp) => {
                self.headers.complete(&mut resp.header);
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
        require_leader(&self.router.raft, &req)?;
        let inbound = req.into_inner();
        let router = self.router.clone();
        let out = futures::stream::unfold((inbound, router), |(mut inbound, router)| async move {
            match inbound.message().await {
                Ok(Some(r)) => {
                    let resp = keepalive(&router, r.id).await.map_err(Status::from);
                    Some((resp, (inbound, router)))
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
        let resp = self.router.time_to_live(req.into_inner()).await?;
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        _req: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        self.reads.wait().await?;
        let leases = self
            .router
            .lessor
            .leases()
            .into_iter()
            .map(|id| LeaseStatus { id })
            .collect();
        Ok(Response::new(LeaseLeasesResponse {
            header: self.headers.current(),
            leases,
        }))
    }
}
