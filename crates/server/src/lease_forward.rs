//! Lease requests only the leader can answer (keepalive renewals and remaining TTLs): the
//! leader answers from its lessor, a follower forwards them over the peer transport to
//! the leader and retries across elections until the request timeout, as etcd does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_lease::{LeaseError, Lessor};
use oxcd_peer::LeaderClient;
use oxcd_proto::etcdserverpb::{LeaseTimeToLiveRequest, LeaseTimeToLiveResponse};
use oxcd_raftlog::RaftHandle;

use crate::error::ServerError;
use crate::grpc::header::Headers;
use crate::members::Members;

/// Pause between forwarding attempts.
const RETRY: Duration = Duration::from_millis(100);
/// Timeout of one forwarding call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Where lease renewals and TTL lookups are answered: this member's lessor when it leads,
/// the leader's (over the peer transport) otherwise. Cheap to clone.
#[derive(Clone)]
pub struct LeaseRouter {
    /// This member's leases (answers only while it leads).
    pub lessor: Arc<Lessor>,
    /// The cached connection to the leader's peer service.
    pub leader_client: Arc<LeaderClient>,
    /// Where the leader is (its peer URLs).
    pub members: Arc<Members>,
    /// This member.
    pub member_id: u64,
    /// Who leads.
    pub raft: RaftHandle,
    /// Response headers.
    pub headers: Headers,
    /// How long a request may wait for a leader.
    pub request_timeout: Duration,
}

impl LeaseRouter {
    /// The leader's answer to a renewal of `id`, when this member leads: the granted TTL, 0
    /// for a lease that does not exist (or expired).
    pub fn renew_local(&self, id: i64) -> Result<i64, ServerError> {
        match self.lessor.renew(id) {
            Ok(ttl) => Ok(ttl),
            Err(LeaseError::NotPrimary) => Err(ServerError::NotLeader),
            Err(_) => Ok(0),
        }
    }

    /// The leader's answer to a TTL lookup, when this member leads.
    pub fn time_to_live_local(
        &self,
        req: &LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, ServerError> {
        if !self.lessor.is_primary() {
            return Err(ServerError::NotLeader);
        }
        Ok(match self.lessor.time_to_live(req.id, req.keys) {
            Some(t) => LeaseTimeToLiveResponse {
                header: self.headers.current(),
                id: req.id,
                ttl: t.ttl_remaining_secs,
                granted_ttl: t.granted_ttl,
                keys: t.keys,
            },
            None => LeaseTimeToLiveResponse {
                header: self.headers.current(),
                id: req.id,
                ttl: -1,
                ..Default::default()
            },
        })
    }

    /// Runs `local` on the leader, or `forward` to the leader, retrying until the request
    /// timeout while there is no leader or leadership moves.
    async fn on_leader<T, L, F, Fut>(&self, local: L, forward: F) -> Result<T, ServerError>
    where
        L: Fn() -> Result<T, ServerError>,
        F: Fn(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = oxcd_peer::Forwarded<T>>,
    {
        let deadline = Instant::now() + self.request_timeout;
        loop {
            let leader = self.raft.status().borrow().leader_id;
            let outcome = if leader == self.member_id {
                local()
            } else if leader == 0 {
                Err(ServerError::NoLeader)
            } else {
                match self.members.peer_urls(leader) {
                    None => Err(ServerError::NoLeader),
                    Some(urls) => match forward(urls).await {
                        Ok(Ok(v)) => Ok(v),
                        Ok(Err(refused)) => Err(refused.into()),
                        Err(e) => Err(ServerError::Internal(e.to_string())),
                    },
                }
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err(
                    e @ (ServerError::NotLeader | ServerError::NoLeader | ServerError::Internal(_)),
                ) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "lease request on the leader failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
                Err(ServerError::NotLeader | ServerError::NoLeader | ServerError::Internal(_)) => {
                    return Err(ServerError::TimeoutLeaderFail)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Renews lease `id` on the leader (here or forwarded); the granted TTL, 0 if unknown.
    pub async fn renew(&self, id: i64) -> Result<i64, ServerError> {
        self.on_leader(
            || self.renew_local(id),
            |urls| async move {
                self.leader_client
                    .lease_renew(&urls, id, CALL_TIMEOUT)
                    .await
            },
        )
        .await
    }

    /// A lease's remaining TTL as the leader tracks it (here or forwarded).
    pub async fn time_to_live(
        &self,
        req: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, ServerError> {
        let mut resp = self
            .on_leader(
                || self.time_to_live_local(&req),
                |urls| async move {
                    self.leader_client
                        .lease_time_to_live(&urls, req, CALL_TIMEOUT)
                        .await
                },
            )
            .await?;
        // Cluster, member and term are this member's, as for every other response it serves;
        // the revision stays the one the keys were read at (on the leader, after the read).
        self.headers.complete(&mut resp.header);
        Ok(resp)
    }
}
