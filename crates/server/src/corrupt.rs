//! etcd's corruption checks: members compare their HashKV (a hash of the MVCC history up to
//! a revision) to find a member whose data diverged while raft stayed consistent.
//!
//! - [`hash_kv`]: this member's HashKV as etcd reports it (Maintenance.HashKV, and the peer
//!   `HashKv` RPC that stands for etcd's `/members/hashkv` on the peer URL).
//! - [`peer_hashes`]: every other member's HashKV at one revision, asked over the peer
//!   transport (peer URLs and peer TLS, no client credentials: it works with auth on and
//!   before this member serves anything, as etcd's peer request does).
//! - [`initial_check`]: `--experimental-initial-corrupt-check`, run by a restarting member
//!   before raft starts and before it serves peers or clients.
//! - The leader's periodic check (`--experimental-corrupt-check-time`) is
//!   [`crate::background::corrupt_check`].
//!
//! Hashes are compared only at the same compacted revision (a compaction changes what is
//! hashed); a peer that is unreachable, behind (future revision) or compacted past the
//! revision is skipped with a warning, as etcd does.

use std::time::Duration;

use oxcd_mvcc::KvStore;
use oxcd_peer::{Forwarded, HostError};
use oxcd_proto::etcdserverpb::{HashKvResponse, ResponseHeader};

use crate::error::ServerError;
use crate::members::Members;

/// This member's HashKV at `revision` (0: the current one), as etcd's `HashByRev` reports
/// it: `header.revision` is the current revision (the only header field set) and
/// `compact_revision` is -1 before the first compaction. Blocking; timed in
/// `etcd_mvcc_hash_rev_duration_seconds`.
pub fn hash_kv(kv: &KvStore, revision: i64) -> Result<HashKvResponse, ServerError> {
    let _timer = crate::metrics::HASH_REV_SECONDS.start_timer();
    let h = kv.hash_kv(revision)?;
    Ok(HashKvResponse {
        header: Some(ResponseHeader {
            revision: h.current_revision,
            ..Default::default()
        }),
        hash: h.hash,
        // etcd reports -1 until the first compaction.
        compact_revision: if h.compact_revision == 0 {
            -1
        } else {
            h.compact_revision
        },
        hash_revision: h.hash_revision,
    })
}

/// The current revision a HashKV answer reports.
pub fn revision_of(h: &HashKvResponse) -> i64 {
    h.header.as_ref().map_or(0, |hd| hd.revision)
}

/// One peer's answer to a HashKV request.
pub struct PeerHash {
    /// The peer's member ID.
    pub id: u64,
    /// Its peer URLs.
    pub urls: Vec<String>,
    /// Its hash, its refusal, or the transport's failure.
    pub answer: Forwarded<HashKvResponse>,
}

/// Asks every member but `local_id` (those with peer URLs) for its HashKV at `revision`,
/// each bounded by `timeout`. A failed request is logged (etcd's "failed hash kv request")
/// and returned as such.
pub async fn peer_hashes(
    members: &Members,
    local_id: u64,
    revision: i64,
    timeout: Duration,
    tls: Option<&oxcd_tls::ClientTls>,
) -> Vec<PeerHash> {
    let asks = members
        .list()
        .into_iter()
        .filter(|m| m.id != local_id && !m.peer_ur_ls.is_empty())
        .map(|m| async move {
            let answer = oxcd_peer::fetch_hash_kv(&m.peer_ur_ls, revision, timeout, tls).await;
            if let Err(e) = &answer {
                tracing::warn!(
                    local_member_id = %format!("{local_id:x}"),
                    requested_revision = revision,
                    remote_peer_endpoints = ?m.peer_ur_ls,
                    error = %e,
                    "failed hash kv request"
                );
            }
            PeerHash {
                id: m.id,
                urls: m.peer_ur_ls,
                answer,
            }
        });
    futures::future::join_all(asks).await
}

/// `--experimental-initial-corrupt-check`: compares this member's HashKV at its current
/// revision with every peer's at that revision; `Err` (etcd's "<id> found data
/// inconsistency with peers") if a peer at the same compacted revision has another hash.
/// Peers that cannot answer are skipped with a warning.
pub async fn initial_check(
    kv: &KvStore,
    members: &Members,
    timeout: Duration,
    tls: Option<&oxcd_tls::ClientTls>,
) -> Result<(), String> {
    let local_id = members.local_id();
    let local = format!("{local_id:x}");
    tracing::info!(
        local_member_id = %local,
        timeout = ?timeout,
        "starting initial corruption check"
    );
    let mine = hash_kv(kv, 0).map_err(|e| format!("{local} failed to fetch hash ({e})"))?;
    let rev = revision_of(&mine);
    let mut mismatch = 0;
    for p in peer_hashes(members, local_id, rev, timeout, tls).await {
        let remote = format!("{:x}", p.id);
        match p.answer {
            Ok(Ok(resp)) if resp.hash != mine.hash => {
                let same_compaction = resp.compact_revision == mine.compact_revision;
                let msg = if same_compaction {
                    mismatch += 1;
                    "found different hash values from remote peer"
                } else {
                    "found different compact revision values from remote peer"
                };
                tracing::warn!(
                    local_member_id = %local,
                    local_member_revision = rev,
                    local_member_compact_revision = mine.compact_revision,
                    local_member_hash = mine.hash,
                    remote_peer_id = %remote,
                    remote_peer_endpoints = ?p.urls,
                    remote_peer_revision = revision_of(&resp),
                    remote_peer_compact_revision = resp.compact_revision,
                    remote_peer_hash = resp.hash,
                    "{msg}"
                );
            }
            Ok(Err(HostError::FutureRevision)) => tracing::warn!(
                local_member_id = %local,
                local_member_revision = rev,
                remote_peer_id = %remote,
                remote_peer_endpoints = ?p.urls,
                "cannot fetch hash from slow remote peer"
            ),
            Ok(Err(HostError::Compacted)) => tracing::warn!(
                local_member_id = %local,
                local_member_revision = rev,
                remote_peer_id = %remote,
                remote_peer_endpoints = ?p.urls,
                "cannot fetch hash from remote peer; local member is behind"
            ),
            _ => {}
        }
    }
    if mismatch > 0 {
        return Err(format!("{local} found data inconsistency with peers"));
    }
    tracing::info!(
        local_member_id = %local,
        "initial corruption checking passed; no corruption"
    );
    Ok(())
}
