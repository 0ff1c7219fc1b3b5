//! Splitting a response larger than the request limit into fragments (`fragment=true`
//! watchers only): every piece but the last has `fragment = true`, each holds at least one
//! event, and pieces stay under the limit when single events allow it.

use oxcd_proto::etcdserverpb::WatchResponse;
use prost::Message;

/// Splits `resp` if it is larger than `max_bytes`.
pub fn split(resp: WatchResponse, max_bytes: usize) -> Vec<WatchResponse> {
    if resp.encoded_len() <= max_bytes || resp.events.len() <= 1 {
        return vec![resp];
    }
    let mut template = resp.clone();
    template.events.clear();
    let base = template.encoded_len();
    let mut out = Vec::new();
    let mut cur = template.clone();
    let mut size = base;
    for ev in resp.events {
        let len = ev.encoded_len() + 4;
        if !cur.events.is_empty() && size + len > max_bytes {
            let mut piece = std::mem::replace(&mut cur, template.clone());
            piece.fragment = true;
            out.push(piece);
            size = base;
        }
        size += len;
        cur.events.push(ev);
    }
    cur.fragment = false;
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_proto::mvccpb::{Event, KeyValue};

    #[test]
    fn splits_and_marks_all_but_last() {
        let ev = |i: u8| Event {
            kv: Some(KeyValue {
                key: vec![i].into(),
                value: vec![0; 100].into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let resp = WatchResponse {
            events: (0..10).map(ev).collect(),
            ..Default::default()
        };
        let parts = split(resp.clone(), 350);
        assert!(parts.len() > 1);
        assert!(parts[..parts.len() - 1].iter().all(|p| p.fragment));
        assert!(!parts.last().unwrap().fragment);
        let all: Vec<Event> = parts.into_iter().flat_map(|p| p.events).collect();
        assert_eq!(all, resp.events);
        assert_eq!(split(resp.clone(), 1 << 20).len(), 1);
    }
}
