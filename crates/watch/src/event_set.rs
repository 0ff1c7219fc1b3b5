//! [`EventSet`]: the events of one delivery (a published revision, or one history read),
//! encoded at most once per variant and shared by every watcher that receives them.
//!
//! A watcher gets either every event of the set or the ones its filters pass, with or
//! without `prev_kv`. Each event is encoded once per variant; the whole set is concatenated
//! once per variant; a watcher's response then holds a reference-counted slice of it.

use oxcd_proto::mvccpb::Event;
use oxcd_proto::watch_wire::EncodedEvents;

/// Room left for the rest of a response (header, watch ID, flags) when splitting fragments.
const RESPONSE_OVERHEAD: usize = 64;

/// Encoded events with per-variant caches. Index 0: without `prev_kv`; 1: with it.
pub(crate) struct EventSet {
    events: Vec<Event>,
    pieces: [Vec<Option<EncodedEvents>>; 2],
    whole: [Option<EncodedEvents>; 2],
}

impl EventSet {
    /// A set over `events` (in revision order).
    pub(crate) fn new(events: Vec<Event>) -> Self {
        let n = events.len();
        Self {
            events,
            pieces: [vec![None; n], vec![None; n]],
            whole: [None, None],
        }
    }

    /// A set whose `prev_kv`-less encodings are already known (`plain[i]` is event `i`
    /// encoded by [`plain`]).
    pub(crate) fn with_plain(events: Vec<Event>, plain: Vec<EncodedEvents>) -> Self {
        debug_assert_eq!(events.len(), plain.len());
        let n = events.len();
        Self {
            events,
            pieces: [plain.into_iter().map(Some).collect(), vec![None; n]],
            whole: [None, None],
        }
    }

    /// The events.
    pub(crate) fn events(&self) -> &[Event] {
        &self.events
    }

    fn piece(&mut self, i: usize, prev_kv: bool) -> &EncodedEvents {
        let v = usize::from(prev_kv);
        let ev = &self.events[i];
        self.pieces[v][i].get_or_insert_with(|| {
            if prev_kv {
                EncodedEvents::one(ev)
            } else {
                plain(ev)
            }
        })
    }

    /// The encoded events at `picks` (every event when `None`), in order.
    pub(crate) fn select(&mut self, picks: Option<&[u32]>, prev_kv: bool) -> EncodedEvents {
        let v = usize::from(prev_kv);
        match picks {
            None => {
                if let Some(w) = &self.whole[v] {
                    return w.clone();
                }
                for i in 0..self.events.len() {
                    self.piece(i, prev_kv);
                }
                let refs: Vec<&EncodedEvents> = self.pieces[v].iter().flatten().collect();
                let w = EncodedEvents::concat(&refs);
                self.whole[v] = Some(w.clone());
                w
            }
            Some(picks) => {
                for &i in picks {
                    self.piece(i as usize, prev_kv);
                }
                let refs: Vec<&EncodedEvents> = picks
                    .iter()
                    .filter_map(|&i| self.pieces[v][i as usize].as_ref())
                    .collect();
                EncodedEvents::concat(&refs)
            }
        }
    }

    /// Like [`EventSet::select`], split into pieces that keep a response under
    /// `max_bytes` where single events allow it (for `fragment` watchers). Always at least
    /// one piece.
    pub(crate) fn select_split(
        &mut self,
        picks: Option<&[u32]>,
        prev_kv: bool,
        max_bytes: usize,
    ) -> Vec<EncodedEvents> {
        let all = self.select(picks, prev_kv);
        if all.byte_len() + RESPONSE_OVERHEAD <= max_bytes || all.len() <= 1 {
            return vec![all];
        }
        let idx: Vec<usize> = match picks {
            None => (0..self.events.len()).collect(),
            Some(p) => p.iter().map(|&i| i as usize).collect(),
        };
        split(
            idx.iter().map(|&i| self.piece(i, prev_kv).clone()),
            max_bytes,
        )
    }
}

/// `ev` encoded without its `prev_kv`.
pub(crate) fn plain(ev: &Event) -> EncodedEvents {
    if ev.prev_kv.is_none() {
        EncodedEvents::one(ev)
    } else {
        EncodedEvents::one(&Event {
            prev_kv: None,
            ..ev.clone()
        })
    }
}

/// Packs encoded events greedily into pieces under `max_bytes` (plus overhead); a piece
/// always holds at least one event.
pub(crate) fn split(
    events: impl IntoIterator<Item = EncodedEvents>,
    max_bytes: usize,
) -> Vec<EncodedEvents> {
    let mut out = Vec::new();
    let mut cur: Vec<EncodedEvents> = Vec::new();
    let mut size = RESPONSE_OVERHEAD;
    for e in events {
        if !cur.is_empty() && size + e.byte_len() > max_bytes {
            out.push(EncodedEvents::concat(&cur.iter().collect::<Vec<_>>()));
            cur.clear();
            size = RESPONSE_OVERHEAD;
        }
        size += e.byte_len();
        cur.push(e);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(EncodedEvents::concat(&cur.iter().collect::<Vec<_>>()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_proto::mvccpb::KeyValue;

    fn ev(i: u8) -> Event {
        let kv = |v: usize| KeyValue {
            key: vec![i].into(),
            value: vec![0; v].into(),
            mod_revision: 10 + i64::from(i),
            ..Default::default()
        };
        Event {
            kv: Some(kv(100)),
            prev_kv: Some(kv(50)),
            ..Default::default()
        }
    }

    #[test]
    fn variants_and_picks() {
        let events: Vec<Event> = (0..5).map(ev).collect();
        let mut set = EventSet::new(events.clone());
        let with = set.select(None, true).decode().unwrap();
        assert_eq!(with, events);
        let without = set.select(None, false).decode().unwrap();
        assert!(without.iter().all(|e| e.prev_kv.is_none()));
        assert_eq!(without.len(), 5);
        let some = set.select(Some(&[1, 3]), false).decode().unwrap();
        assert_eq!(some.len(), 2);
        assert_eq!(some[0].kv, events[1].kv);
        assert_eq!(some[1].kv, events[3].kv);
        assert!(set.select(Some(&[]), true).is_empty());
    }

    #[test]
    fn split_keeps_every_event_in_order() {
        let events: Vec<Event> = (0..10).map(ev).collect();
        let mut set = EventSet::new(events.clone());
        let parts = set.select_split(None, true, 400);
        assert!(parts.len() > 1);
        let all: Vec<Event> = parts.iter().flat_map(|p| p.decode().unwrap()).collect();
        assert_eq!(all, events);
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert_eq!(set.select_split(None, true, 1 << 20).len(), 1);
        // One event larger than the limit still goes out, alone.
        assert_eq!(set.select_split(Some(&[0, 1]), true, 10).len(), 2);
    }
}
