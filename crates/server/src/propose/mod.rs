//! [`Proposals`], the seam between the front ends (handlers, background tasks) and
//! replication, and [`RaftProposer`], which turns a request into a replicated raft entry and
//! waits for its result.
//!
//! Order of work for one proposal: reject if apply lags commit by more than 5000 entries
//! ("too many requests"); give it a member-unique request ID; encode it and reject it if it
//! is larger than `--max-request-bytes`; register a waiter; hand it to raft; wait for the
//! apply loop to trigger the waiter — all under the request timeout.

pub mod wait;

use std::sync::Arc;
use std::time::Duration;

use oxcd_proto::oxcdpb::{internal_request::Op, InternalRequest};
use oxcd_raftlog::{ProposeError, RaftHandle};
use prost::Message;

use crate::apply::ApplyResult;
use crate::auth::Caller;
use crate::error::ServerError;
use crate::identity::RequestIds;
use wait::ProposalWaiters;

/// Pause before proposing again after raft dropped a proposal.
const PROPOSE_RETRY: Duration = Duration::from_millis(20);

/// etcd's `maxGapBetweenApplyAndCommitIndex`.
pub const MAX_APPLY_LAG: u64 = 5000;

/// Replicates a request and returns what applying it produced. Implemented over raft by
/// [`RaftProposer`]; a test gives a component a fake instead of a whole member.
#[tonic::async_trait]
pub trait Proposals: Send + Sync {
    /// Proposes `op` on behalf of `caller` and waits until it is applied here.
    async fn propose(&self, caller: &Caller, op: Op) -> Result<ApplyResult, ServerError>;
}

#[tonic::async_trait]
impl Proposals for RaftProposer {
    async fn propose(&self, caller: &Caller, op: Op) -> Result<ApplyResult, ServerError> {
        RaftProposer::propose(self, caller, op).await
    }
}

/// Proposes requests through raft and returns what applying them produced.
pub struct RaftProposer {
    raft: RaftHandle,
    waiters: Arc<ProposalWaiters>,
    ids: RequestIds,
    max_request_bytes: usize,
    timeout: Duration,
}

impl RaftProposer {
    /// A proposer for this member.
    pub fn new(
        raft: RaftHandle,
        waiters: Arc<ProposalWaiters>,
        member_id: u64,
        max_request_bytes: usize,
        timeout: Duration,
    ) -> Self {
        Self {
            raft,
            waiters,
            ids: RequestIds::new(member_id),
            max_request_bytes,
            timeout,
        }
    }

    /// Proposes `op` on behalf of `caller` (checked at apply against the user and auth
    /// revision the header carries) and waits until it is applied.
    pub async fn propose(&self, caller: &Caller, op: Op) -> Result<ApplyResult, ServerError> {
        {
            let st = self.raft.status().borrow().clone();
            if st.commit_index.saturating_sub(st.applied_index) > MAX_APPLY_LAG {
                return Err(ServerError::TooManyRequests);
            }
        }
        let id = self.ids.next();
        let req = InternalRequest {
            header: Some(caller.header(id)),
            op: Some(op),
        };
        let data = req.encode_to_vec();
        if data.len() > self.max_request_bytes {
            return Err(ServerError::RequestTooLarge);
        }
        let rx = self.waiters.register(id);
        let leader_before = self.raft.status().borrow().leader_id;
        let outcome = tokio::time::timeout(self.timeout, async {
            self.hand_to_raft(data).await?;
            rx.await.map_err(|_| ServerError::Stopped)
        })
        .await;
        match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => {
                self.waiters.cancel(id);
                Err(e)
            }
            Err(_) => {
                self.waiters.cancel(id);
                let leader_now = self.raft.status().borrow().leader_id;
                Err(if leader_now == 0 || leader_now != leader_before {
                    ServerError::TimeoutLeaderFail
                } else {
                    ServerError::Timeout
                })
            }
        }
    }

    /// Hands `data` to raft, waiting out elections: while no leader is known, or raft
    /// dropped the proposal (for example during a leadership transfer), it retries until
    /// the caller's timeout.
    async fn hand_to_raft(&self, data: Vec<u8>) -> Result<(), ServerError> {
        loop {
            let mut status = self.raft.status();
            status
                .wait_for(|s| s.leader_id != 0)
                .await
                .map_err(|_| ServerError::Stopped)?;
            match self.raft.propose(data.clone()).await {
                Ok(()) => return Ok(()),
                Err(ProposeError::NoLeader | ProposeError::Dropped) => {
                    tokio::time::sleep(PROPOSE_RETRY).await;
                }
                Err(e) => return Err(map_propose_error(e)),
            }
        }
    }
}

fn map_propose_error(e: ProposeError) -> ServerError {
    match e {
        ProposeError::NoLeader => ServerError::NoLeader,
        ProposeError::Stopped => ServerError::Stopped,
        other => ServerError::Internal(other.to_string()),
    }
}
