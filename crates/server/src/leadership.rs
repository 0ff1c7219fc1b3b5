//! Moving leadership: to a chosen voter (`Maintenance.MoveLeader`), or, when a leader stops
//! gracefully, to the voter that is most caught up, so the cluster has a new leader at once
//! instead of after an election timeout (etcd's `TransferLeadership` on stop).

use std::time::Duration;

use oxcd_raftlog::RaftHandle;

use crate::error::ServerError;

/// raft drops a transfer while the transferee catches up or an election runs: ask again
/// this often until the transferee leads.
const TRANSFER_RETRY: Duration = Duration::from_millis(300);

/// Asks raft to hand leadership to `target` and waits (at most `within`) until it leads.
pub async fn transfer_to(
    raft: &RaftHandle,
    target: u64,
    within: Duration,
) -> Result<(), ServerError> {
    let mut status = raft.status();
    let wait = async {
        loop {
            raft.transfer_leader(target)
                .await
                .map_err(|_| ServerError::Stopped)?;
            let led =
                tokio::time::timeout(TRANSFER_RETRY, status.wait_for(|s| s.leader_id == target))
                    .await;
            match led {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(_)) => return Err(ServerError::Stopped),
                Err(_) => {}
            }
        }
    };
    tokio::time::timeout(within, wait)
        .await
        .map_err(|_| ServerError::TimeoutLeaderFail)?
}

/// If this member leads a cluster with other voters, hands leadership to the voter with
/// the most of the log and waits (at most `within`) for it to take over. Returns the new
/// leader, or `None` when there was nothing to do or the transfer did not finish (the
/// followers then elect a leader after their election timeout, as they would anyway).
pub async fn hand_off(raft: &RaftHandle, member_id: u64, within: Duration) -> Option<u64> {
    let status = raft.status().borrow().clone();
    if status.leader_id != member_id || status.voters.len() < 2 {
        return None;
    }
    let progress = raft.progress().await.ok()?;
    let target = progress
        .iter()
        .filter(|p| p.id != member_id && status.voters.contains(&p.id))
        .max_by_key(|p| (p.matched, std::cmp::Reverse(p.id)))?
        .id;
    tracing::info!(
        to = format!("{target:x}"),
        "leader is stopping: transferring leadership"
    );
    match transfer_to(raft, target, within).await {
        Ok(()) => {
            tracing::info!(to = format!("{target:x}"), "leadership transferred");
            Some(target)
        }
        Err(e) => {
            tracing::warn!(error = %e, "leadership transfer before stopping did not finish");
            None
        }
    }
}
