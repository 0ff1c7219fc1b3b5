//! Samples the backend size off the request path, for the quota and the size gauges.

use std::sync::Arc;
use std::time::Duration;

use crate::context::ServerContext;
use crate::metrics;

/// Starts the sampler on the current runtime; it stops when the runtime does.
pub fn start(ctx: Arc<ServerContext>, every: Duration) {
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
            metrics::IS_LEARNER.set(i64::from(ctx.is_learner()));
            metrics::COMPACT_REVISION.set(ctx.kv.compacted_revision());
        }
    });
}
