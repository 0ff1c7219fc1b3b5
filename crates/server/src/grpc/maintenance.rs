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
use crate::apply::alarm::AlarmStore;
use crate::apply::ApplyResult;
use crate::auth::AuthGate;
use crate::auth::Caller;
use crate::context::{ServerContext, SERVER_VERSION, STORAGE_VERSION};
use crate::error::ServerError;
use crate::grpc::header::Headers;
use crate::members::Members;
use crate::metrics;
use crate::propose::Proposals;
use crate::quota::Quota;
use oxcd_backend::Backend;
use oxcd_mvcc::KvStore;
use oxcd_raftlog::RaftHandle;

/// Implements `etcdserverpb.Maintenance` over the few handles it uses.
#[derive(Clone)]
pub struct MaintenanceService {
    /// Maintenance needs root (raw `auth:` errors, as etcd's).
    pub auth: Arc<AuthGate>,
    /// Raised alarms.
    pub alarms: Arc<AlarmStore>,
    /// Alarm changes go through raft.
    pub proposer: Arc<dyn Proposals>,
    /// Sizes, defragmentation and snapshot checkpoints.
    pub backend: Arc<dyn Backend>,
    /// Hashes.
    pub kv: Arc<KvStore>,
    /// The space quota (Status reports it and refreshes the measured size).
    pub quota: Arc<Quota>,
    /// Raft status, leadership transfers.
    pub raft: RaftHandle,
    /// The membership (Status says whether this member is a learner).
    pub members: Arc<Members>,
    /// This member.
    pub member_id: u64,
    /// Where snapshot checkpoints are made (`<data-dir>`).
    pub data_dir: std::path::PathBuf,
    /// Response headers.
    pub headers: Headers,
}

impl MaintenanceService {
    /// The Maintenance service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            auth: ctx.auth.clone(),
            alarms: ctx.alarms.clone(),
            proposer: ctx.proposer.clone(),
            backend: ctx.backend.clone(),
            kv: ctx.kv.clone(),
            quota: ctx.quota.clone(),
            raft: ctx.raft.clone(),
            members: ctx.members.clone(),
            member_id: ctx.member_id,
            data_dir: ctx.data_dir.clone(),
            headers: ctx.headers.clone(),
        }
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, req: Request<AlarmRequest>) -> Result<Response<AlarmResponse>, Status> {
        // etcd 3.4 checks only the token here (any user, or none, may list and disarm).
        self.auth.caller_raw(&req).await?;
        let a = req.into_inner();
        if a.action == AlarmAction::Get as i32 {
            // etcd 3.4 answers an alarm listing without a header.
            let alarms = self.alarms.list(a.member_id, a.alarm);
            return Ok(Response::new(AlarmResponse {
                header: None,
                alarms,
            }));
        }
        match self.proposer.propose(&Caller::System, Op::Alarm(a)).await? {
            ApplyResult::Alarm(mut resp) => {
                self.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn status(
        &self,
        _req: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let st = self.raft.status().borrow().clone();
        let size = self.backend.size().map_err(ServerError::from)?;
        self.quota.record_size(size.total_bytes, size.in_use_bytes);
        let errors = self
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
            is_learner: self
                .members
                .get(self.member_id)
                .is_some_and(|m| m.is_learner),
            storage_version: STORAGE_VERSION.to_string(),
            db_size_quota: self.quota.limit() as i64,
            ..Default::default()
        };
        resp.header = self.headers.current();
        Ok(Response::new(resp))
    }

    async fn defragment(
        &self,
        req: Request<DefragmentRequest>,
    ) -> Result<Response<DefragmentResponse>, Status> {
        self.auth.admin_raw(&req).await?;
        let backend = self.backend.clone();
        let started = std::time::Instant::now();
        metrics::DEFRAG_INFLIGHT.set(1);
        let done = tokio::task::spawn_blocking(move || {
            backend.defragment()?;
            backend.size()
        })
        .await;
        metrics::DEFRAG_INFLIGHT.set(0);
        metrics::DEFRAG_SECONDS.observe(started.elapsed().as_secs_f64());
        let size = done
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(ServerError::from)?;
        // The quota must see the space given back now, as etcd's does (NOSPACE recovery).
        self.quota.record_size(size.total_bytes, size.in_use_bytes);
        // etcd 3.4 answers a defragmentation with no header.
        Ok(Response::new(DefragmentResponse { header: None }))
    }

    async fn hash(&self, req: Request<HashRequest>) -> Result<Response<HashResponse>, Status> {
        self.auth.admin_raw(&req).await?;
        let kv = self.kv.clone();
        let _timer = metrics::HASH_SECONDS.start_timer();
        let (hash, revision) = tokio::task::spawn_blocking(move || kv.hash_with_revision())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(ServerError::from)?;
        Ok(Response::new(HashResponse {
            header: self.headers.at(revision),
            hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        self.auth.admin_raw(&req).await?;
        let rev = req.get_ref().revision;
        let kv = self.kv.clone();
        let mut resp = tokio::task::spawn_blocking(move || crate::corrupt::hash_kv(&kv, rev))
            .await
            .map_err(|e| Status::internal(e.to_string()))??;
        resp.header = self.headers.at(crate::corrupt::revision_of(&resp));
        Ok(Response::new(resp))
    }

    type SnapshotStream =
        Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send + 'static>>;

    async fn snapshot(
        &self,
        req: Request<SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        self.auth.admin_raw(&req).await?;
        let stream =
            snapshot::stream(self.backend.clone(), &self.data_dir, self.headers.current()).await?;
        Ok(Response::new(stream))
    }

    async fn move_leader(
        &self,
        req: Request<MoveLeaderRequest>,
    ) -> Result<Response<MoveLeaderResponse>, Status> {
        let target = req.get_ref().target_id;
        let st = self.raft.status().borrow().clone();
        if st.leader_id != self.member_id {
            return Err(ServerError::NotLeader.into());
        }
        if !st.voters.contains(&target) {
            return Err(ServerError::BadLeaderTransferee.into());
        }
        if target == self.member_id {
            // Already there: etcd answers at once, with an empty response.
            return Ok(Response::new(MoveLeaderResponse { header: None }));
        }
        crate::leadership::transfer_to(&self.raft, target, Duration::from_secs(5)).await?;
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
