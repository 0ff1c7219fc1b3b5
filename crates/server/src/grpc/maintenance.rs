//! The Maintenance service: alarms, status, defragment, hashes, snapshot, move-leader.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use oxcd_proto::etcdserverpb::{
    alarm_request::AlarmAction, maintenance_server::Maintenance, AlarmRequest, AlarmResponse,
    DefragmentRequest, DefragmentResponse, DowngradeRequest, DowngradeResponse, HashKvRequest,
    HashKvResponse, HashRequest, HashResponse, MoveLeaderRequest, MoveLeaderResponse,
    SnapshotRequest, SnapshotResponse, StatusRequest, StatusResponse,
};
use oxcd_proto::oxcdpb::internal_request::Op;
use tonic::{Request, Response, Status};

use super::snapshot;
use super::status::unexpected;
use crate::apply::ApplyResult;
use crate::auth::Caller;
use crate::context::{ServerContext, SERVER_VERSION, STORAGE_VERSION};
use crate::error::ServerError;

/// Implements `etcdserverpb.Maintenance`.
#[derive(Clone)]
pub struct MaintenanceService {
    ctx: Arc<ServerContext>,
}

impl MaintenanceService {
    /// A Maintenance service over `ctx`.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, req: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        // etcd 3.4 checks only the token here (any user, or none, may list and disarm).
        self.ctx.auth.caller_raw(&req).await?;
        let a = req.into_inner();
        if a.action == AlarmAction::Get as i32 {
            // etcd 3.4 answers an alarm listing without a header.
            let alarms = self.ctx.alarms.list(a.member_id, a.alarm);
            return Ok(Response::new(AlarmResponse {
                header: None,
                alarms,
            }));
        }
        match self
            .ctx
            .proposer
            .propose(&Caller::System, Op::Alarm(a))
            .await?
        {
            ApplyResult::Alarm(mut resp) => {
                self.ctx.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn status(
        &self,
        _req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let st = self.ctx.raft.status().borrow().clone();
        let size = self.ctx.backend.size().map_err(ServerError::from)?;
        self.ctx
            .quota
            .record_size(size.total_bytes, size.in_use_bytes);
        let errors = self
            .ctx
            .alarms
            .list(0, 0)
            .iter()
            .map(|a| format!("memberID:{} alarm:{} ", a.member_id, alarm_name(a.alarm)))
            .collect();
        let mut resp = StatusResponse {
            header: None,
            version: SERVER_VERSION.to_string(),
            db_size: size.total_bytes as i64,
            leader: st.leader_id,
            raft_index: st.commit_index,
            raft_term: st.term,
            raft_applied_index: st.applied_index,
            errors,
            db_size_in_use: size.in_use_bytes as i64,
            is_learner: self.ctx.is_learner(),
            storage_version: STORAGE_VERSION.to_string(),
            db_size_quota: self.ctx.quota.limit() as i64,
            ..Default::default()
        };
        resp.header = self.ctx.headers.current();
        Ok(Response::new(resp))
    }

    async fn defragment(
        &self,
        req: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        self.ctx.auth.admin_raw(&req).await?;
        let backend = self.ctx.backend.clone();
        tokio::task::spawn_blocking(move || backend.defragment())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(ServerError::from)?;
        // etcd 3.4 answers a defragmentation with no header.
        Ok(Response::new(DefragmentResponse { header: None }))
    }

    async fn hash(&self, req: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        self.ctx.auth.admin_raw(&req).await?;
        let kv = self.ctx.kv.clone();
        let (hash, revision) = tokio::task::spawn_blocking(move || kv.hash_with_revision())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(ServerError::from)?;
        Ok(Response::new(HashResponse {
            header: self.ctx.headers.at(revision),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        self.ctx.auth.admin_raw(&req).await?;
        let rev = req.get_ref().revision;
        let kv = self.ctx.kv.clone();
        let h = tokio::task::spawn_blocking(move || kv.hash_kv(rev))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(ServerError::from)?;
        Ok(Response::new(HashKvResponse {
            header: self.ctx.headers.at(h.current_revision),
            hash: h.hash,
            // etcd reports -1 until the first compaction.
            compact_revision: if h.compact_revision == 0 {
                -1
            } else {
                h.compact_revision
            },
            hash_revision: h.hash_revision,
        }))
    }

    type SnapshotStream =
        Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send + 'static>>;

    async fn snapshot(
        &self,
        req: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        self.ctx.auth.admin_raw(&req).await?;
        let stream = snapshot::stream(self.ctx.clone()).await?;
        Ok(Response::new(stream))
    }

    async fn move_leader(
        &self,
        req: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        let target = req.get_ref().target_id;
        let st = self.ctx.raft.status().borrow().clone();
        if st.leader_id != self.ctx.member_id {
            return Err(ServerError::NotLeader.into());
        }
        if !st.voters.contains(&target) {
            return Err(ServerError::BadLeaderTransferee.into());
        }
        if target == self.ctx.member_id {
            // Already there: etcd answers at once, with an empty response.
            return Ok(Response::new(MoveLeaderResponse { header: None }));
        }
        crate::leadership::transfer_to(&self.ctx.raft, target, Duration::from_secs(5)).await?;
        // etcd 3.4 answers a transfer with no header.
        Ok(Response::new(MoveLeaderResponse { header: None }))
    }

    async fn downgrade(
        &self,
        _req: Request<DowngradeRequest>,
    ) -> Result<Response<DowngradeResponse>, Status> {
        Err(Status::failed_precondition(
            "etcdserver: downgrade is not supported by oxcd",
        ))
    }
}

fn alarm_name(a: i32) -> &'static str {
    match a {
        1 => "NOSPACE",
        2 => "CORRUPT",
        _ => "NONE",
    }
}
