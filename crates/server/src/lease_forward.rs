//! Lease requests only the leader can answer (keepalive renewals and remaining TTLs): the
//! leader answers from its lessor, a follower forwards them over the peer transport to
//! the leader and retries across elections until the request timeout, as etcd does.

use std::time::{Duration, Instant};

use oxcd_lease::LeaseError;
use oxcd_proto::etcdserverpb::{LeaseTimeToLiveRequest, LeaseTimeToLiveResponse};

use crate::context::ServerContext;
use crate::error::ServerError;

/// Pause between forwarding attempts.
const RETRY: Duration = Duration::from_millis(100);
/// Timeout of one forwarding call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The leader's answer to a renewal of `id`, when this member leads: the granted TTL, 0
/// for a lease that does not exist (or expired).
pub fn renew_local(ctx: &ServerContext, id: i64) -> Result<i64, ServerError> {
    match ctx.lessor.renew(id) {
        Ok(ttl) => Ok(ttl),
        Err(LeaseError::NotPrimary) => Err(ServerError::NotLeader),
        Err(_) => Ok(0),
    }
}

/// The leader's answer to a TTL lookup, when this member leads.
pub fn time_to_live_local(
    ctx: &ServerContext,
    req: &LeaseTimeToLiveRequest,
) -> Result<LeaseTimeToLiveResponse, ServerError> {
    if !ctx.lessor.is_primary() {
        return Err(ServerError::NotLeader);
    }
    Ok(match ctx.lessor.time_to_live(req.id, req.keys) {
        Some(t) => LeaseTimeToLiveResponse {
            header: ctx.headers.current(),
            id: req.id,
            ttl: t.ttl_remaining_secs,
            granted_ttl: t.granted_ttl,
            keys: t.keys,
        },
        None => LeaseTimeToLiveResponse {
            header: ctx.headers.current(),
            id: req.id,
            ttl: -1,
            ..Default::default()
        },
    })
}

/// Runs `local` on the leader, or `forward` to the leader, retrying until the request
/// timeout while there is no leader or leadership moves.
async fn on_leader<T, L, F, Fut>(
    ctx: &ServerContext,
    local: L,
    forward: F,
) -> Result<T, ServerError>
where
    L: Fn() -> Result<T, ServerError>,
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = oxcd_peer::Forwarded<T>>,
{
    let deadline = Instant::now() + ctx.request_timeout;
    loop {
        let leader = ctx.raft.status().borrow().leader_id;
        let outcome = if leader == ctx.member_id {
            local()
        } else if leader == 0 {
            Err(ServerError::NoLeader)
        } else {
            match ctx.members.peer_urls(leader) {
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
pub async fn renew(ctx: &ServerContext, id: i64) -> Result<i64, ServerError> {
    on_leader(
        ctx,
        || renew_local(ctx, id),
        |urls| async move { ctx.leader_client.lease_renew(&urls, id, CALL_TIMEOUT).await },
    )
    .await
}

/// A lease's remaining TTL as the leader tracks it (here or forwarded).
pub async fn time_to_live(
    ctx: &ServerContext,
    req: LeaseTimeToLiveRequest,
) -> Result<LeaseTimeToLiveResponse, ServerError> {
    let mut resp = on_leader(
        ctx,
        || time_to_live_local(ctx, &req),
        |urls| async move {
            ctx.leader_client
                .lease_time_to_live(&urls, req, CALL_TIMEOUT)
                .await
        },
    )
    .await?;
    // Cluster, member and term are this member's, as for every other response it serves;
    // the revision stays the one the keys were read at (on the leader, after the read).
    ctx.headers.complete(&mut resp.header);
    Ok(resp)
}
