//! The leader's periodic corruption check (`--experimental-corrupt-check-time`, 3.6's
//! `--corrupt-check-time`), etcd's `monitorKVHash`.
//!
//! Every interval, if this member leads: hash its own data (h1 at revision r1), ask every
//! follower for its hash at r1 ([`crate::corrupt::peer_hashes`]), pass a linearizable read
//! barrier (so this member has applied everything the followers had when they answered),
//! hash again (h2 at r2). The CORRUPT alarm is raised through raft if
//! - its own hash changed while neither the revision nor the compaction did (h1 != h2);
//! - a follower is ahead of it (revision or compacted revision above r2's);
//! - a follower at the same compacted revision has another hash than h1.
//!
//! As etcd 3.4.23, the alarm names member 0: which member's data is wrong is not known.
//! Followers that cannot answer (unreachable, behind) are skipped, and a failed check is
//! logged, not retried before the next interval.

use std::sync::Arc;
use std::time::Duration;

use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::{alarm_request::AlarmAction, AlarmRequest, AlarmType};
use oxcd_proto::oxcdpb::internal_request::Op;
use oxcd_raftlog::RaftHandle;

use crate::corrupt::{hash_kv, peer_hashes, revision_of};
use crate::error::ServerError;
use crate::members::Members;
use crate::propose::Proposals;
use crate::read::ReadBarrier;

/// What the checker reads, asks and proposes through.
pub struct Checker {
    /// Hashed every interval.
    pub kv: Arc<KvStore>,
    /// Only the leader checks.
    pub raft: RaftHandle,
    /// Who the followers are, and their peer URLs.
    pub members: Arc<Members>,
    /// This member.
    pub member_id: u64,
    /// The barrier between the followers' answers and the second hash.
    pub reads: Arc<dyn ReadBarrier>,
    /// The CORRUPT alarm is proposed here.
    pub proposals: Arc<dyn Proposals>,
    /// Peer TLS for the HashKV requests.
    pub peer_tls: Option<oxcd_tls::ClientTls>,
    /// Bound of each follower's answer (etcd's request timeout).
    pub timeout: Duration,
}

/// Starts the checker if `interval` is not zero.
pub fn start(checker: Checker, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    tracing::info!(
        local_member_id = %format!("{:x}", checker.member_id),
        interval = ?interval,
        "enabled corruption checking"
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if checker.raft.status().borrow().leader_id != checker.member_id {
                continue;
            }
            if let Err(e) = checker.check().await {
                tracing::warn!(error = %e, "failed to check hash KV");
            }
        }
    });
}

/// Hashes this member's data on a blocking thread.
async fn hash_now(
    kv: &Arc<KvStore>,
) -> Result<oxcd_proto::etcdserverpb::HashKvResponse, ServerError> {
    let kv = kv.clone();
    tokio::task::spawn_blocking(move || hash_kv(&kv, 0))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?
}

impl Checker {
    /// One check; raises the CORRUPT alarm on a mismatch.
    async fn check(&self) -> Result<(), ServerError> {
        let first = hash_now(&self.kv).await?;
        let (h1, r1, c1) = (first.hash, revision_of(&first), first.compact_revision);
        let peers = peer_hashes(
            &self.members,
            self.member_id,
            r1,
            self.timeout,
            self.peer_tls.as_ref(),
        )
        .await;
        self.reads.wait().await?;
        let second = hash_now(&self.kv).await?;
        let (h2, r2, c2) = (second.hash, revision_of(&second), second.compact_revision);
        let mut mismatch = false;
        if h1 != h2 && r1 == r2 && c1 == c2 {
            tracing::warn!(
                revision_1 = r1,
                compact_revision_1 = c1,
                hash_1 = h1,
                revision_2 = r2,
                compact_revision_2 = c2,
                hash_2 = h2,
                "found hash mismatch"
            );
            mismatch = true;
        }
        let mut checked = 0;
        for p in &peers {
            let Ok(Ok(resp)) = &p.answer else { continue };
            checked += 1;
            let follower = format!("{:x}", p.id);
            let rev = revision_of(resp);
            if rev > r2 {
                tracing::warn!(
                    leader_revision = r2,
                    follower_revision = rev,
                    follower_peer_id = %follower,
                    "revision from follower must be less than or equal to leader's"
                );
                mismatch = true;
            }
            if resp.compact_revision > c2 {
                tracing::warn!(
                    leader_compact_revision = c2,
                    follower_compact_revision = resp.compact_revision,
                    follower_peer_id = %follower,
                    "compact revision from follower must be less than or equal to leader's"
                );
                mismatch = true;
            }
            if resp.compact_revision == c1 && resp.hash != h1 {
                tracing::warn!(
                    leader_compact_revision = c2,
                    leader_hash = h1,
                    follower_compact_revision = resp.compact_revision,
                    follower_hash = resp.hash,
                    follower_peer_id = %follower,
                    "same compact revision then hashes must match"
                );
                mismatch = true;
            }
        }
        tracing::info!(
            number_of_peers_checked = checked,
            "finished peer corruption check"
        );
        if mismatch {
            self.raise_alarm().await;
        }
        Ok(())
    }

    /// Proposes the CORRUPT alarm (member 0, as etcd 3.4.23).
    async fn raise_alarm(&self) {
        let alarm = AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: 0,
            alarm: AlarmType::Corrupt as i32,
        };
        if let Err(e) = self
            .proposals
            .propose(&crate::auth::Caller::System, Op::Alarm(alarm))
            .await
        {
            tracing::warn!(error = %e, "failed to raise the CORRUPT alarm");
        }
    }
}
