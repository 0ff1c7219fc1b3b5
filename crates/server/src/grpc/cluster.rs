//! The Cluster service: thin handlers over [`crate::membership`].

use std::sync::Arc;

use oxcd_proto::etcdserverpb::{
    cluster_server::Cluster, MemberAddRequest, MemberAddResponse, MemberListRequest,
    MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
    MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
};
use tonic::{Request, Response, Status};

use crate::auth::AuthGate;
use crate::context::{Limits, ServerContext};
use crate::grpc::header::Headers;
use crate::membership::MembershipChanges;
use crate::read::ReadBarrier;

/// Implements `etcdserverpb.Cluster` over the few handles it uses.
#[derive(Clone)]
pub struct ClusterService {
    /// Member changes need root.
    pub auth: Arc<AuthGate>,
    /// `--strict-reconfig-check`, `--max-learners`.
    pub limits: Limits,
    /// A linearizable MemberList waits on this.
    pub reads: Arc<dyn ReadBarrier>,
    /// The changes themselves, with etcd's checks.
    pub changes: MembershipChanges,
    /// Response headers.
    pub headers: Headers,
}

impl ClusterService {
    /// The Cluster service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            auth: ctx.auth.clone(),
            limits: ctx.limits.clone(),
            reads: ctx.reads.clone(),
            changes: ctx.membership.clone(),
            headers: ctx.headers.clone(),
        }
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        self.auth.admin(&req).await?;
        let req = req.into_inner();
        let limits = &self.limits;
        let (member, members) = self
            .changes
            .add(
                req.peer_ur_ls,
                req.is_learner,
                limits.strict_reconfig_check,
                limits.max_learners,
            )
            .await?;
        Ok(Response::new(MemberAddResponse {
            header: self.headers.without_revision(),
            member: Some(member),
            members,
        }))
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        self.auth.admin(&req).await?;
        let members = self
            .changes
            .remove(req.get_ref().id, self.limits.strict_reconfig_check)
            .await?;
        Ok(Response::new(MemberRemoveResponse {
            header: self.headers.without_revision(),
            members,
        }))
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        self.auth.admin(&req).await?;
        let req = req.into_inner();
        let members = self.changes.update(req.id, req.peer_ur_ls).await?;
        Ok(Response::new(MemberUpdateResponse {
            header: self.headers.without_revision(),
            members,
        }))
    }

    async fn member_list(
        &self,
        req: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if req.get_ref().linearizable {
            self.reads.wait().await?;
        }
        Ok(Response::new(MemberListResponse {
            header: self.headers.without_revision(),
            members: self.changes.members.list(),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        self.auth.admin(&req).await?;
        let members = self.changes.promote(req.get_ref().id).await?;
        Ok(Response::new(MemberPromoteResponse {
            header: self.headers.without_revision(),
            members,
        }))
    }
}
