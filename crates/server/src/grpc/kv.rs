//! The KV service: validate, call, map the error, fill the header.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use oxcd_proto::etcdserverpb::{
    alarm_request::AlarmAction, kv_server::Kv, AlarmRequest, AlarmType, CompactionRequest,
    CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, RangeStreamResponse, TxnRequest, TxnResponse,
};
use oxcd_proto::oxcdpb::internal_request::Op;
use tonic::{Request, Response, Status};

use super::range_stream::{self, RangePages};
use super::status::unexpected;
use crate::apply::ApplyResult;
use crate::auth::AuthGate;
use crate::auth::Caller;
use crate::context::{Limits, ServerContext};
use crate::error::ServerError;
use crate::grpc::header::Headers;
use crate::members::Members;
use crate::propose::Proposals;
use crate::quota::Quota;
use crate::read::ReadBarrier;
use crate::validate;
use oxcd_mvcc::KvStore;

/// Implements `etcdserverpb.KV` over the few handles it uses (a test may build one with
/// fakes for the proposals and the read barrier).
#[derive(Clone)]
pub struct KvService {
    /// Who a request runs as, and the receiving member's permission checks.
    pub auth: Arc<AuthGate>,
    /// Ranges and read-only txns are served from here.
    pub kv: Arc<KvStore>,
    /// Writes go through here.
    pub proposer: Arc<dyn Proposals>,
    /// Linearizable reads wait on this.
    pub reads: Arc<dyn ReadBarrier>,
    /// The backend space quota.
    pub quota: Arc<Quota>,
    /// Request limits.
    pub limits: Limits,
    /// Response headers.
    pub headers: Headers,
    /// The membership (a learner refuses linearizable reads).
    pub members: Arc<Members>,
    /// This member.
    pub member_id: u64,
}

/// Whether a range may read many key-values: a range without a small limit (one key, or
/// up to [`range_stream::PAGE`] of them, is read inline).
pub(crate) fn may_be_large(r: &RangeRequest) -> bool {
    let small_limit = r.limit > 0 && r.limit <= range_stream::PAGE as i64;
    !(r.range_end.is_empty() || small_limit || r.count_only)
}

impl KvService {
    /// The KV service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            auth: ctx.auth.clone(),
            kv: ctx.kv.clone(),
            proposer: ctx.proposer.clone(),
            reads: ctx.reads.clone(),
            quota: ctx.quota.clone(),
            limits: ctx.limits.clone(),
            headers: ctx.headers.clone(),
            members: ctx.members.clone(),
            member_id: ctx.member_id,
        }
    }

    fn is_learner(&self) -> bool {
        self.members
            .get(self.member_id)
            .is_some_and(|m| m.is_learner)
    }

    /// What every range does before reading: validation, the read barrier of a
    /// linearizable read (a learner refuses one), and the caller's permission.
    pub(crate) async fn before_range(
        &self,
        caller: &Caller,
        r: &RangeRequest,
    ) -> Result<(), ServerError> {
        validate::check_range(r)?;
        if !r.serializable {
            if self.is_learner() {
                return Err(ServerError::NotSupportedForLearner);
            }
            if !skip_read_index() {
                self.reads.wait().await?;
            }
        }
        self.auth.check(caller, |c| c.range(&r.key, &r.range_end))?;
        Ok(())
    }

    async fn do_range(
        &self,
        caller: &Caller,
        r: &RangeRequest,
    ) -> Result<RangeResponse, ServerError> {
        let started = std::time::Instant::now();
        self.before_range(caller, r).await?;
        let res = if may_be_large(r) {
            // A long read must not hold up the runtime's other requests (a full LIST
            // beside node heartbeats).
            let (kv, r) = (self.kv.clone(), r.clone());
            tokio::task::spawn_blocking(move || kv.range(&r))
                .await
                .map_err(|e| ServerError::Internal(e.to_string()))??
        } else {
            self.kv.range(r)?
        };
        self.auth.recheck(caller)?;
        let resp = RangeResponse {
            header: self.headers.at(res.revision),
            kvs: res.kvs,
            more: res.more,
            count: res.count,
        };
        crate::slow::warn_if_slow(
            started,
            self.limits.warning_apply_duration,
            "read-only range ",
            || crate::slow::describe_range(r),
            || {
                use prost::Message;
                format!(
                    "range_response_count:{} size:{}",
                    resp.kvs.len(),
                    resp.encoded_len()
                )
            },
        );
        Ok(resp)
    }

    /// Raises NOSPACE and fails if `cost` does not fit the quota.
    async fn check_quota(&self, cost: u64) -> Result<(), ServerError> {
        if self.quota.available(cost) {
            self.quota.charge(cost);
            return Ok(());
        }
        let alarm = AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: self.member_id,
            alarm: AlarmType::Nospace as i32,
        };
        if let Err(e) = self
            .proposer
            .propose(&Caller::System, Op::Alarm(alarm))
            .await
        {
            tracing::warn!(error = %e, "failed to raise the NOSPACE alarm");
        }
        Err(ServerError::NoSpace)
    }
}

/// The robustness suite's negative control: a server that serves linearizable reads as
/// serializable ones MUST fail it. True only when the failpoint `kv-range-skip-read-index`
/// is armed (`return`) in a build with the `failpoints` feature.
fn skip_read_index() -> bool {
    fail::fail_point!("kv-range-skip-read-index", |_| true);
    false
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let resp = self.do_range(&caller, req.get_ref()).await?;
        crate::metrics::count_range();
        Ok(Response::new(resp))
    }

    type RangeStreamStream =
        Pin<Box<dyn Stream<Item = Result<RangeStreamResponse, Status>> + Send + 'static>>;

    async fn range_stream(
        &self,
        req: Request<RangeRequest>,
    ) -> Result<Response<Self::RangeStreamStream>, Status> {
        let caller = self.auth.caller(&req).await?;
        let r = req.into_inner();
        self.before_range(&caller, &r).await?;
        let kv = self.kv.clone();
        let headers = self.headers.clone();
        let pages = {
            let r = r.clone();
            tokio::task::spawn_blocking(move || RangePages::start(kv, &r, |rev| headers.at(rev)))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(ServerError::from)?
        };
        self.auth.recheck(&caller)?;
        Ok(Response::new(Box::pin(pages.into_stream())))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let p = req.into_inner();
        validate::check_put(&p)?;
        self.check_quota(Quota::put_cost(&p)).await?;
        match self.proposer.propose(&caller, Op::Put(p)).await? {
            ApplyResult::Put(mut resp) => {
                self.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn delete_range(
        &self,
        req: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let d = req.into_inner();
        validate::check_delete(&d)?;
        match self.proposer.propose(&caller, Op::DeleteRange(d)).await? {
            ApplyResult::DeleteRange(mut resp) => {
                self.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let t = req.into_inner();
        validate::check_txn(&t, self.limits.max_txn_ops)?;
        if crate::apply::txn::is_read_only(&t) {
            if !crate::apply::txn::is_serializable(&t) {
                self.reads.wait().await?;
            }
            let auth = &self.auth;
            auth.check(&caller, |c| c.txn(&t))?;
            let mut resp = crate::apply::txn::read_only(&self.kv, &t)?;
            auth.recheck(&caller)?;
            self.headers.complete(&mut resp.header);
            return Ok(Response::new(resp));
        }
        self.check_quota(Quota::txn_cost(&t)).await?;
        match self.proposer.propose(&caller, Op::Txn(t)).await? {
            ApplyResult::Txn(mut resp) => {
                self.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }

    async fn compact(
        &self,
        req: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        let caller = self.auth.caller(&req).await?;
        let c = req.into_inner();
        match self.proposer.propose(&caller, Op::Compaction(c)).await? {
            ApplyResult::Compaction(mut resp, wait) => {
                if let Some(done) = wait {
                    let _ = done.await;
                }
                self.headers.complete(&mut resp.header);
                Ok(Response::new(resp))
            }
            other => Err(unexpected(other)),
        }
    }
}
