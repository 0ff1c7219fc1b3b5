//! The Cluster service: thin handlers over [`crate::membership`].

use std::sync::Arc;

use oxcd_proto::etcdserverpb::{
    cluster_server::Cluster, MemberAddRequest, MemberAddResponse, MemberListRequest,
    MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
    MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
};
use tonic::{Request, Response, Status};

use crate::context::ServerContext;
use crate::membership;

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
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        self.ctx.auth.admin(&req).await?;
        let req = req.into_inner();
        let limits = &self.ctx.limits;
        let (member, members) = membership::add(
            &self.ctx,
            req.peer_ur_ls,
            req.is_learner,
            limits.strict_reconfig_check,
            limits.max_learners,
        )
        .await?;
        Ok(Response::new(MemberAddResponse {
            header: self.ctx.headers.without_revision(),
            member: Some(member),
            members,
        }))
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        self.ctx.auth.admin(&req).await?;
        let members = membership::remove(
            &self.ctx,
            req.get_ref().id,
            self.ctx.limits.strict_reconfig_check,
        )
        .await?;
        Ok(Response::new(MemberRemoveResponse {
            header: self.ctx.headers.without_revision(),
            members,
        }))
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        self.ctx.auth.admin(&req).await?;
        let req = req.into_inner();
        let members = membership::update(&self.ctx, req.id, req.peer_ur_ls).await?;
        Ok(Response::new(MemberUpdateResponse {
            header: self.ctx.headers.without_revision(),
            members,
        }))
    }

    async fn member_list(
        &self,
        req: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if req.get_ref().linearizable {
            self.ctx.reads.wait().await?;
        }
        Ok(Response::new(MemberListResponse {
            header: self.ctx.headers.without_revision(),
            members: self.ctx.members.list(),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        self.ctx.auth.admin(&req).await?;
        let members = membership::promote(&self.ctx, req.get_ref().id).await?;
        Ok(Response::new(MemberPromoteResponse {
            header: self.ctx.headers.without_revision(),
            members,
        }))
    }
}
