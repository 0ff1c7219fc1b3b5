//! [`Proposer`]: turns a request into a replicated raft entry and waits for its result.
//!
//! Order of work for one proposal: reject if apply lags commit by more than 5000 entries
//! ("too many requests"); give it a member-unique request ID; encode it and reject it if it
//! is larger than `--max-request-bytes`; register a waiter; hand it to raft; wait for the
//! apply loop to trigger the waiter — all under the request timeout.

pub mod wait;

use std::sync::Arc;
use std::time::Duration;

use oxcd_proto::oxcdpb::{internal_request::Op, InternalRequest, RequestHeader};
use oxcd_raftlog::{ProposeError, RaftHandle};
use prost::Message;

use crate::apply::ApplyResult;
use crate::error::ServerError;
use crate::identity::RequestIds;
use wait::ProposalWaiters;

/// etcd's `maxGapBetweenApplyAndCommitIndex`.
pub const MAX_APPLY_LAG: u64 = 5000;

/// Proposes requests through raft and returns what applying them produced.
pub struct Proposer {
    raft: RaftHandle,
    waiters: Arc<ProposalWaiters>,
    ids: RequestIds,
    max_request_bytes: usize,
    timeout: Duration,
}

impl Proposer {
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

    /// Proposes `op` and waits until it is applied.
    pub async fn propose(&self, op: Op) -> Result<ApplyResult, ServerError> {
        {
            let st = self.raft.status().borrow().clone();
            if st.commit_index.saturating_sub(st.applied_index) > MAX_APPLY_LAG {
                return Err(ServerError::TooManyRequests);
            }
        }
        let id = self.ids.next();
        let req = InternalRequest {
            header: Some(RequestHeader {
                id,
                ..Default::default()
            }),
            op: Some(op),
        };
        let data = req.encode_to_vec();
        if data.len() > self.max_request_bytes {
            return Err(ServerError::RequestTooLarge);
        }
        let rx = self.waiters.register(id);
        let outcome = tokio::time::timeout(self.timeout, async {
            self.raft.propose(data).await.map_err(map_propose_error)?;
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
                Err(ServerError::Timeout)
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
