//! The leader's lease duties: revoke expired leases through raft (at most 1000/s, at most
//! 16 in flight, as etcd), and propose lease checkpoints so remaining TTLs survive a leader
//! change.

use std::sync::Arc;
use std::time::Duration;

use oxcd_lease::{CHECKPOINT_BATCH_LIMIT, LEASE_REVOKE_RATE, MAX_PENDING_REVOKES};
use oxcd_proto::etcdserverpb::{LeaseCheckpoint, LeaseCheckpointRequest, LeaseRevokeRequest};
use oxcd_proto::oxcdpb::internal_request::Op;
use tokio::sync::Semaphore;

use crate::context::ServerContext;

/// How often the leader looks for expired leases and due checkpoints.
const TICK: Duration = Duration::from_millis(500);

/// Starts the revoke and checkpoint loop on the current runtime.
pub fn start(ctx: Arc<ServerContext>) {
    tokio::spawn(async move {
        let in_flight = Arc::new(Semaphore::new(MAX_PENDING_REVOKES));
        let mut tick = tokio::time::interval(TICK);
        let per_tick = (LEASE_REVOKE_RATE as u128 * TICK.as_millis() / 1000).max(1) as usize;
        loop {
            tick.tick().await;
            if !ctx.lessor.is_primary() {
                continue;
            }
            let expired = ctx.lessor.expired(per_tick);
            oxcd_lease::metrics::record_expired(expired.len() as u64);
            for id in expired {
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(e) = ctx
                        .proposer
                        .propose(
                            &crate::auth::Caller::System,
                            Op::LeaseRevoke(LeaseRevokeRequest { id }),
                        )
                        .await
                    {
                        tracing::debug!(lease = id, error = %e, "revoking an expired lease failed; will retry");
                    }
                });
            }
            let due = ctx.lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT);
            if !due.is_empty() {
                let checkpoints = due
                    .into_iter()
                    .map(|(id, remaining_ttl)| LeaseCheckpoint { id, remaining_ttl })
                    .collect();
                let req = LeaseCheckpointRequest { checkpoints };
                if let Err(e) = ctx
                    .proposer
                    .propose(&crate::auth::Caller::System, Op::LeaseCheckpoint(req))
                    .await
                {
                    tracing::debug!(error = %e, "lease checkpoint failed; will retry");
                }
            }
        }
    });
}
