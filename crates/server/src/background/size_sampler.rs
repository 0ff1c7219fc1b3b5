//! Samples the backend size off the request path, for the quota and the size gauges.

use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::Backend;
use oxcd_mvcc::KvStore;

use crate::members::Members;
use crate::metrics;
use crate::quota::Quota;

/// What the sampler reads and feeds.
pub struct Sampled {
    /// Measured.
    pub backend: Arc<dyn Backend>,
    /// Its revisions go to the gauges.
    pub kv: Arc<KvStore>,
    /// Told the measured size.
    pub quota: Arc<Quota>,
    /// For the learner gauge.
    pub members: Arc<Members>,
    /// This member.
    pub member_id: u64,
}

/// Starts the sampler on the current runtime; it stops when the runtime does.
pub fn start(ctx: Sampled, every: Duration) {
    metrics::QUOTA_BACKEND_BYTES.set(ctx.quota.limit() as i64);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let backend = ctx.backend.clone();
            let Ok(Ok(size)) = tokio::task::spawn_blocking(move || backend.size()).await else {
                continue;
            };
            ctx.quota.record_size(size.total_bytes, size.in_use_bytes);
            metrics::DB_TOTAL_SIZE.set(size.total_bytes as i64);
            metrics::DB_TOTAL_SIZE_DEBUGGING.set(size.total_bytes as i64);
            metrics::DB_IN_USE_SIZE.set(size.in_use_bytes as i64);
            metrics::CURRENT_REVISION.set(ctx.kv.current_revision());
            metrics::IS_LEARNER.set(i64::from(
                ctx.members.get(ctx.member_id).is_some_and(|m| m.is_learner),
            ));
            metrics::COMPACT_REVISION
                .set(metrics::compact_revision_gauge(ctx.kv.compacted_revision()));
            metrics::KEYS_TOTAL.set(ctx.kv.indexed_keys() as i64);
        }
    });
}
