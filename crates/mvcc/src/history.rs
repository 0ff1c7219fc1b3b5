//! Reading past changes back as events, for watchers that are catching up.

use oxcd_backend::Column;
use oxcd_proto::mvccpb::{event::EventType, Event, KeyValue};

use crate::error::{MvccError, Result};
use crate::key_range::KeyRange;
use crate::restore::decode_header;
use crate::revision::Revision;
use crate::store::{decode_kv, KvStore};

impl KvStore {
    /// The events on keys in `key`/`range_end` (etcd conventions) from revision `from_rev`
    /// (inclusive) up to the current revision, in revision order, read from the backend.
    ///
    /// Stops at the first revision boundary after `max_events` events (0 = no limit), so a
    /// revision is never split, and returns the revision to continue from (the current
    /// revision + 1 when everything was read). Events carry no `prev_kv` (see
    /// [`KvStore::kv_at`]). Fails with [`MvccError::Compacted`] if `from_rev` is below the
    /// compacted revision, as etcd's watch does (`from_rev <= 0` reads from revision 1);
    /// reading from the compacted revision itself returns what compaction kept there.
    pub fn events_since(
        &self,
        key: &[u8],
        range_end: &[u8],
        from_rev: i64,
        max_events: usize,
    ) -> Result<(Vec<Event>, i64)> {
        let range = KeyRange::new(key, range_end);
        let (compacted, current) = {
            let st = self.shared.state.read();
            (st.compacted, st.current)
        };
        let from = from_rev.max(1);
        if compacted > 0 && from < compacted {
            return Err(MvccError::Compacted);
        }
        let mut events = Vec::new();
        let mut next = current.saturating_add(1);
        if from > current || range.is_empty() {
            return Ok((events, next.max(from)));
        }
        let start = Revision::new(from, 0).to_bytes();
        let end = Revision::new(next, 0).to_bytes();
        let mut last_main = 0;
        for item in self
            .shared
            .backend
            .scan(Column::Kv, &start, Some(&end), false)?
        {
            let (k, v) = item?;
            let (rev, tombstone) = Revision::decode_key(&k)?;
            if max_events > 0 && events.len() >= max_events && rev.main != last_main {
                next = rev.main;
                break;
            }
            last_main = rev.main;
            let head = decode_header(&v)?;
            if !range.contains(head.key) {
                continue;
            }
            let event = if tombstone {
                Event {
                    r#type: EventType::Delete as i32,
                    kv: Some(KeyValue {
                        key: head.key.to_vec().into(),
                        mod_revision: rev.main,
                        ..Default::default()
                    }),
                    prev_kv: None,
                }
            } else {
                Event {
                    r#type: EventType::Put as i32,
                    kv: Some(decode_kv(&v[..])?),
                    prev_kv: None,
                }
            };
            events.push(event);
        }
        // A compaction that started during the scan may have removed some of it.
        if self.compacted_revision() > compacted && self.compacted_revision() > from {
            return Err(MvccError::Compacted);
        }
        Ok((events, next))
    }
}
