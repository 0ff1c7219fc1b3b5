//! The Cluster service. Membership changes arrive with multi-member raft; this member
//! lists what it knows.

use std::sync::Arc;

use oxcd_proto::etcdserverpb::{
    cluster_server::Cluster, MemberAddRequest, MemberAddResponse, MemberListRequest,
    MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
    MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
};
use tonic::{Request, Response, Status};

use super::header;
use crate::context::ServerContext;
use crate::error::ServerError;

/// Implements `etcdserverpb.Cluster`.
#[derive(Clone)]
pub struct ClusterService {
    ctx: Arc<ServerContext>,
}

impl ClusterService {
    /// A Cluster service over `ctx`.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }

    fn require_member(&self, id: u64) -> Result<(), ServerError> {
        match self.ctx.members.get(id) {
            Some(_) => Ok(()),
            None => Err(ServerError::MemberNotFound),
        }
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        _req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        Err(ServerError::NotCapable.into())
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        self.require_member(req.get_ref().id)?;
        Err(ServerError::NotCapable.into())
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        self.require_member(req.get_ref().id)?;
        Err(ServerError::NotCapable.into())
    }

    async fn member_list(
        &self,
        req: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if req.get_ref().linearizable {
            self.ctx.reads.wait().await?;
        }
        Ok(Response::new(MemberListResponse {
            header: header::without_revision(&self.ctx),
            members: self.ctx.members.list(),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        self.require_member(req.get_ref().id)?;
        Err(ServerError::NotCapable.into())
    }
}
