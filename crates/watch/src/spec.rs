//! [`WatchSpec`]: a WatchCreateRequest, normalised the way etcd does.

use oxcd_proto::etcdserverpb::{watch_create_request::FilterType, WatchCreateRequest};
use oxcd_proto::mvccpb::{event::EventType, Event};

use crate::WatchError;

/// What one watcher watches and how it wants its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchSpec {
    /// First key (never empty: an empty key becomes `\0`).
    pub key: Vec<u8>,
    /// Empty: the single `key`; `[0]`: every key >= `key`; otherwise `[key, range_end)`.
    pub range_end: Vec<u8>,
    /// First revision to deliver; 0 means "from now".
    pub start_revision: i64,
    /// Skip PUT events.
    pub no_put: bool,
    /// Skip DELETE events.
    pub no_delete: bool,
    /// Include the previous key-value on events.
    pub prev_kv: bool,
    /// Send periodic progress notifications.
    pub progress_notify: bool,
    /// Split responses larger than the request limit.
    pub fragment: bool,
    /// Requested watch ID (0 = assign one; etcd cannot request 0 explicitly).
    pub watch_id: i64,
}

impl WatchSpec {
    /// Normalises a create request (empty key -> `\0`) and checks the range.
    pub fn from_request(r: &WatchCreateRequest) -> Result<Self, WatchError> {
        let key = if r.key.is_empty() {
            vec![0]
        } else {
            r.key.clone()
        };
        let range_end = r.range_end.clone();
        if !range_end.is_empty() && range_end != [0] && key >= range_end {
            return Err(WatchError::EmptyRange);
        }
        Ok(Self {
            key,
            range_end,
            start_revision: r.start_revision,
            no_put: r.filters.contains(&(FilterType::Noput as i32)),
            no_delete: r.filters.contains(&(FilterType::Nodelete as i32)),
            prev_kv: r.prev_kv,
            progress_notify: r.progress_notify,
            fragment: r.fragment,
            watch_id: r.watch_id,
        })
    }

    /// Whether `key` is watched.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self.range_end.as_slice() {
            [] => key == self.key.as_slice(),
            [0] => key >= self.key.as_slice(),
            end => key >= self.key.as_slice() && key < end,
        }
    }

    /// Whether this is a single-key watch.
    pub fn is_single_key(&self) -> bool {
        self.range_end.is_empty()
    }

    /// Whether the filters let `ev` through.
    pub fn passes(&self, ev: &Event) -> bool {
        if ev.r#type == EventType::Put as i32 {
            !self.no_put
        } else {
            !self.no_delete
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_and_ranges() {
        let s = WatchSpec::from_request(&WatchCreateRequest::default()).unwrap();
        assert_eq!(s.key, vec![0]);
        assert!(s.contains(b"\0"));
        let r = WatchCreateRequest {
            key: b"a".to_vec(),
            range_end: b"c".to_vec(),
            ..Default::default()
        };
        let s = WatchSpec::from_request(&r).unwrap();
        assert!(s.contains(b"b") && !s.contains(b"c"));
        let r = WatchCreateRequest {
            key: b"c".to_vec(),
            range_end: b"a".to_vec(),
            ..Default::default()
        };
        assert_eq!(WatchSpec::from_request(&r), Err(WatchError::EmptyRange));
        let r = WatchCreateRequest {
            key: b"b".to_vec(),
            range_end: vec![0],
            ..Default::default()
        };
        let s = WatchSpec::from_request(&r).unwrap();
        assert!(s.contains(b"zzz") && !s.contains(b"a"));
    }
}
