//! [`MvccHistory`]: the MVCC store seen as the watch hub's [`KvHistory`], and
//! [`WatchObserver`], which feeds published revisions to the hub.

use std::sync::Arc;

use oxcd_mvcc::{Changes, KvStore, MvccError};
use oxcd_proto::mvccpb::{Event, KeyValue};
use oxcd_watch::{HistoryError, KvHistory, WatchHub};

use crate::apply::ChangeObserver;

/// Reads watch history from the MVCC store.
pub struct MvccHistory(pub Arc<KvStore>);

impl KvHistory for MvccHistory {
    fn current_revision(&self) -> i64 {
        self.0.current_revision()
    }

    fn compacted_revision(&self) -> i64 {
        self.0.compacted_revision()
    }

    fn events(
        &self,
        key: &[u8],
        range_end: &[u8],
        from_rev: i64,
        to_rev: i64,
        limit: usize,
    ) -> Result<Vec<Event>, HistoryError> {
        let (mut events, _next) = self
            .0
            .events_since(key, range_end, from_rev, limit)
            .map_err(|e| match e {
                MvccError::Compacted => HistoryError::Compacted,
                other => HistoryError::Other(other.to_string()),
            })?;
        events.retain(|e| e.kv.as_ref().is_some_and(|kv| kv.mod_revision <= to_rev));
        Ok(events)
    }

    fn get_at(&self, key: &[u8], rev: i64) -> Option<KeyValue> {
        if rev <= 0 {
            return None;
        }
        self.0.kv_at(key, rev).ok().flatten()
    }
}

/// Hands every published revision to the watch hub.
pub struct WatchObserver(pub WatchHub);

impl ChangeObserver for WatchObserver {
    fn on_changes(&self, changes: &Changes) {
        if !changes.events.is_empty() {
            self.0.notify(changes.revision, &changes.events);
        }
    }

    fn on_restore(&self, revision: i64) {
        self.0.resync(revision);
    }
}
