//! The leader's lease duties: revoke expired leases through raft (at most 1000/s, at most
//! 16 in flight, as etcd), and propose lease checkpoints so remaining TTLs survive a leader
//! change.

use std::sync::Arc;
use std::time::Duration;

use oxcd_lease::{CHECKPOINT_BATCH_LIMIT, LEASE_REVOKE_RATE, MAX_PENDING_REVOKES};
use oxcd_proto::etcdserverpb::{LeaseCheckpoint, LeaseCheckpointRequest, LeaseRevokeRequest};
use oxcd_proto::oxcdpb::internal_request::Op;
use tokio::sync::Semaphore;

use oxcd_lease::Lessor;

use crate::propose::Proposals;

/// How often the leader looks for expired leases and due checkpoints.
const TICK: Duration = Duration::from_millis(500);

/// Starts the revoke and checkpoint loop on the current runtime.
pub fn start(lessor: Arc<Lessor>, proposals: Arc<dyn Proposals>) {
    tokio::spawn(async move {
        let in_flight = Arc::new(Semaphore::new(MAX_PENDING_REVOKES));
        let mut tick = tokio::time::interval(TICK);
        let per_tick = (LEASE_REVOKE_RATE as u128 * TICK.as_millis() / 1000).max(1) as usize;
        loop {
            tick.tick().await;
            if !lessor.is_primary() {
                continue;
            }
            let expired = lessor.expired(per_tick);
            oxcd_lease::metrics::record_expired(expired.len() as u64);
            for id in expired {
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                let proposals = proposals.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(e) = proposals
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
            let due = lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT);
            if !due.is_empty() {
                let checkpoints = due
                    .into_iter()
                    .map(|(id, remaining_ttl)| LeaseCheckpoint { id, remaining_ttl })
                    .collect();
                let req = LeaseCheckpointRequest { checkpoints };
                if let Err(e) = proposals
                    .propose(&crate::auth::Caller::System, Op::LeaseCheckpoint(req))
                    .await
                {
                    tracing::debug!(error = %e, "lease checkpoint failed; will retry");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use oxcd_backend::{Backend, MemBackend, WriteBatch};
    use oxcd_lease::{LessorConfig, ManualClock};

    use super::*;
    use crate::apply::ApplyResult;
    use crate::auth::Caller;
    use crate::error::ServerError;

    /// Records what was proposed and answers every proposal with a timeout.
    #[derive(Default)]
    struct Recorded(Mutex<Vec<Op>>);

    #[tonic::async_trait]
    impl Proposals for Recorded {
        async fn propose(&self, caller: &Caller, op: Op) -> Result<ApplyResult, ServerError> {
            assert!(
                matches!(caller, Caller::System),
                "expiry runs as the member itself"
            );
            self.0.lock().unwrap().push(op);
            Err(ServerError::Timeout)
        }
    }

    #[tokio::test]
    async fn the_primary_proposes_a_revoke_for_each_expired_lease_and_a_follower_none() {
        let clock = Arc::new(ManualClock::new());
        let backend: Arc<dyn Backend> = Arc::new(MemBackend::new());
        let cfg = LessorConfig::for_election_timeout(Duration::from_secs(1));
        let lessor = Arc::new(Lessor::open_with_clock(backend, cfg, clock.clone()).unwrap());
        let mut batch = WriteBatch::new();
        lessor.grant(7, 5, &mut batch).unwrap();
        lessor.grant(8, 60, &mut batch).unwrap();
        let proposals = Arc::new(Recorded::default());
        start(lessor.clone(), proposals.clone());

        // A follower's lessor does not tick: nothing is proposed however late it is.
        clock.advance(Duration::from_secs(10));
        tokio::time::sleep(TICK * 3).await;
        assert!(proposals.0.lock().unwrap().is_empty());

        lessor.promote(Duration::ZERO);
        clock.advance(Duration::from_secs(6));
        tokio::time::sleep(TICK * 3).await;
        let revoked: Vec<i64> = proposals
            .0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|op| match op {
                Op::LeaseRevoke(r) => Some(r.id),
                _ => None,
            })
            .collect();
        assert!(!revoked.is_empty(), "the expired lease was not revoked");
        assert!(
            revoked.iter().all(|&id| id == 7),
            "only lease 7 expired: {revoked:?}"
        );
    }
}
