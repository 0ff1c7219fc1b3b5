//! etcd's `monitorLeader`: once this member has known no leader for three election
//! timeouts in a row, every stream opened with `hasleader: true` metadata is ended with
//! "etcdserver: no leader" (see [`crate::guard`]), so clients move to a member that has a
//! leader. New requests with that metadata are refused at once by the guard.

use std::time::Duration;

use tokio::sync::watch;

use oxcd_raftlog::RaftHandle;

/// Leaderless election timeouts before leader-requiring streams are cancelled.
const MAX_NO_LEADER: u32 = 3;

/// Starts the monitor; the returned receiver's value increases at every cancellation.
pub fn start(raft: RaftHandle, election_timeout: Duration) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        let mut leaderless = 0u32;
        loop {
            tokio::time::sleep(election_timeout).await;
            if tx.is_closed() {
                return;
            }
            if raft.status().borrow().leader_id != 0 {
                leaderless = 0;
                continue;
            }
            leaderless += 1;
            if leaderless >= MAX_NO_LEADER {
                leaderless = 0;
                tracing::warn!("no leader for {MAX_NO_LEADER} election timeouts; cancelling leader-requiring streams");
                tx.send_modify(|epoch| *epoch += 1);
            }
        }
    });
    rx
}
