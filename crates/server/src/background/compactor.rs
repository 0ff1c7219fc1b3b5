//! Automatic compaction (`--auto-compaction-mode`, `--auto-compaction-retention`).
//!
//! - periodic: the retention is hours (`"1"`) or a duration (`"30m"`); the current revision
//!   is sampled every retention/10, and the member compacts to the newest sample that is
//!   at least one retention old.
//! - revision: every 5 minutes, compact to `current - retention`. In a `failpoints` build,
//!   `FAILPOINTS=compactor-revision-interval=return(<seconds>)` shortens the 5 minutes (the
//!   process tests use it).
//!
//! Only the leader compacts; the compaction goes through raft like a client's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_proto::etcdserverpb::CompactionRequest;
use oxcd_proto::oxcdpb::internal_request::Op;

use crate::config::CompactionMode;
use oxcd_mvcc::KvStore;
use oxcd_raftlog::RaftHandle;

use crate::propose::Proposals;

/// Parses a periodic retention: a bare number is hours, otherwise a Go duration.
pub fn parse_retention(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(h) = s.parse::<u64>() {
        return Ok(Duration::from_secs(h * 3600));
    }
    oxcd_auth::token::parse_go_duration(s)
        .map_err(|e| format!("invalid auto-compaction-retention {s:?}: {e}"))
}

/// What the compactor reads and proposes through.
pub struct Compactor {
    /// Its revisions decide the target.
    pub kv: Arc<KvStore>,
    /// Compactions are proposed here.
    pub proposals: Arc<dyn Proposals>,
    /// Only the leader compacts.
    pub raft: RaftHandle,
    /// This member.
    pub member_id: u64,
}

/// Starts the compactor if a retention is configured.
pub fn start(ctx: Compactor, mode: CompactionMode, retention: &str) -> Result<(), String> {
    match mode {
        CompactionMode::Periodic => {
            let period = parse_retention(retention)?;
            if period.is_zero() {
                return Ok(());
            }
            tokio::spawn(periodic(ctx, period));
        }
        CompactionMode::Revision => {
            let keep: i64 = retention
                .trim()
                .parse()
                .map_err(|_| format!("invalid auto-compaction-retention {retention:?}"))?;
            if keep <= 0 {
                return Ok(());
            }
            tokio::spawn(by_revision(ctx, keep));
        }
    }
    Ok(())
}

fn is_leader(ctx: &Compactor) -> bool {
    ctx.raft.status().borrow().leader_id == ctx.member_id
}

async fn compact(ctx: &Compactor, revision: i64) {
    if revision <= ctx.kv.compacted_revision() {
        return;
    }
    let req = CompactionRequest {
        revision,
        physical: false,
    };
    match ctx
        .proposals
        .propose(&crate::auth::Caller::System, Op::Compaction(req))
        .await
    {
        Ok(_) => tracing::info!(revision, "auto-compacted"),
        Err(e) => tracing::warn!(revision, error = %e, "auto-compaction failed"),
    }
}

async fn periodic(ctx: Compactor, retention: Duration) {
    let every = (retention / 10).max(Duration::from_secs(1));
    let mut samples: VecDeque<(Instant, i64)> = VecDeque::new();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = Instant::now();
        samples.push_back((now, ctx.kv.current_revision()));
        let mut target = None;
        while let Some(&(at, rev)) = samples.front() {
            if now.duration_since(at) >= retention {
                target = Some(rev);
                samples.pop_front();
            } else {
                break;
            }
        }
        if let (Some(rev), true) = (target, is_leader(&ctx)) {
            compact(&ctx, rev).await;
        }
    }
}

/// How often revision mode compacts: every 5 minutes, as etcd 3.4 (`revInterval`), unless
/// the failpoint `compactor-revision-interval` returns another number of seconds.
fn revision_interval() -> Duration {
    fail::fail_point!("compactor-revision-interval", |secs: Option<String>| {
        Duration::from_secs(secs.and_then(|s| s.parse().ok()).unwrap_or(300).max(1))
    });
    Duration::from_secs(300)
}

async fn by_revision(ctx: Compactor, keep: i64) {
    let mut tick = tokio::time::interval(revision_interval());
    loop {
        tick.tick().await;
        let target = ctx.kv.current_revision() - keep;
        if target > 0 && is_leader(&ctx) {
            compact(&ctx, target).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_formats() {
        assert_eq!(parse_retention("1").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_retention("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_retention("0").unwrap(), Duration::ZERO);
        assert!(parse_retention("abc").is_err());
    }
}
