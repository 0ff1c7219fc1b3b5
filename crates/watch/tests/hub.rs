//! Watch hub behaviour against an in-memory history.

use std::sync::Arc;
use std::time::Duration;

use oxcd_proto::etcdserverpb::{WatchCreateRequest, WatchResponse};
use oxcd_proto::mvccpb::{event::EventType, Event, KeyValue};
use oxcd_watch::{HistoryError, HubConfig, KvHistory, WatchHub, WatchReceiver, WatchSpec};
use parking_lot::Mutex;

#[derive(Default)]
struct MemHistory {
    log: Mutex<Vec<Event>>,
    compacted: Mutex<i64>,
}

impl MemHistory {
    fn current(&self) -> i64 {
        self.log
            .lock()
            .last()
            .and_then(|e| e.kv.as_ref())
            .map_or(1, |kv| kv.mod_revision)
    }
    /// Appends a put at the next revision and returns (revision, event).
    fn put(&self, key: &str, value: &str) -> (i64, Event) {
        let rev = self.current() + 1;
        let version = self
            .log
            .lock()
            .iter()
            .rev()
            .find(|e| e.kv.as_ref().is_some_and(|kv| kv.key == key.as_bytes()))
            .map_or(1, |e| e.kv.as_ref().map_or(1, |kv| kv.version + 1));
        let ev = Event {
            r#type: EventType::Put as i32,
            kv: Some(KeyValue {
                key: key.as_bytes().to_vec().into(),
                value: value.as_bytes().to_vec().into(),
                create_revision: rev,
                mod_revision: rev,
                version,
                lease: 0,
            }),
            prev_kv: None,
        };
        self.log.lock().push(ev.clone());
        (rev, ev)
    }
}

impl KvHistory for MemHistory {
    fn current_revision(&self) -> i64 {
        self.current()
    }
    fn compacted_revision(&self) -> i64 {
        *self.compacted.lock()
    }
    fn events(
        &self,
        key: &[u8],
        end: &[u8],
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<Event>, HistoryError> {
        if from < *self.compacted.lock() {
            return Err(HistoryError::Compacted);
        }
        let spec = WatchSpec::from_request(&WatchCreateRequest {
            key: key.to_vec(),
            range_end: end.to_vec(),
            ..Default::default()
        })
        .map_err(|e| HistoryError::Other(e.to_string()))?;
        Ok(self
            .log
            .lock()
            .iter()
            .filter(|e| {
                let kv = e.kv.as_ref().unwrap();
                kv.mod_revision >= from && kv.mod_revision <= to && spec.contains(&kv.key)
            })
            .take(limit)
            .cloned()
            .collect())
    }
    fn get_at(&self, key: &[u8], rev: i64) -> Option<KeyValue> {
        self.log
            .lock()
            .iter()
            .rev()
            .filter_map(|e| e.kv.clone())
            .find(|kv| kv.key == key && kv.mod_revision <= rev)
    }
}

fn cfg() -> HubConfig {
    HubConfig {
        sync_interval: Duration::from_millis(10),
        queue_capacity: 4,
        history_batch: 3,
        ..Default::default()
    }
}

fn create(key: &str, end: &str, start: i64) -> WatchSpec {
    WatchSpec::from_request(&WatchCreateRequest {
        key: key.into(),
        range_end: end.into(),
        start_revision: start,
        ..Default::default()
    })
    .unwrap()
}

async fn next(rx: &mut WatchReceiver) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(5), rx.recv_decoded())
        .await
        .expect("response in time")
        .expect("open")
}

/// Collects event revisions until `want` events arrived.
async fn revisions(rx: &mut WatchReceiver, want: usize) -> Vec<i64> {
    let mut revs = Vec::new();
    while revs.len() < want {
        let r = next(rx).await;
        revs.extend(r.events.iter().map(|e| e.kv.as_ref().unwrap().mod_revision));
    }
    revs
}

#[tokio::test]
async fn created_then_live_events_in_order() {
    let h = Arc::new(MemHistory::default());
    let hub = WatchHub::start(h.clone(), cfg());
    let (s, mut rx) = hub.open_stream();
    assert_eq!(s.create(Ok(create("a", "", 0))).unwrap(), 0);
    assert_eq!(s.create(Ok(create("b", "", 0))).unwrap(), 1);
    let c0 = next(&mut rx).await;
    assert!(c0.created && c0.watch_id == 0);
    assert!(next(&mut rx).await.created);
    for v in ["1", "2", "3"] {
        let (rev, ev) = h.put("a", v);
        hub.notify(rev, &[ev]);
    }
    let (rev, ev) = h.put("c", "x");
    hub.notify(rev, &[ev]);
    assert_eq!(revisions(&mut rx, 3).await, vec![2, 3, 4]);
}

/// Put events reach the hub without `prev_kv` (the store does not read what a put
/// replaces); a synced watcher that asked for it gets it read from history, the others
/// get none.
#[tokio::test]
async fn live_put_events_get_prev_kv_only_for_watchers_that_ask() {
    let h = Arc::new(MemHistory::default());
    let (rev, ev) = h.put("k", "old");
    let hub = WatchHub::start(h.clone(), cfg());
    hub.notify(rev, &[ev]);
    let (s, mut rx) = hub.open_stream();
    let mut with_prev = create("k", "", 0);
    with_prev.prev_kv = true;
    assert_eq!(s.create(Ok(with_prev)).unwrap(), 0);
    assert_eq!(s.create(Ok(create("k", "", 0))).unwrap(), 1);
    assert!(next(&mut rx).await.created);
    assert!(next(&mut rx).await.created);
    let (rev, ev) = h.put("k", "new");
    assert!(ev.prev_kv.is_none());
    hub.notify(rev, &[ev]);
    let mut seen = [false; 2];
    while !seen.iter().all(|&s| s) {
        let r = next(&mut rx).await;
        for e in &r.events {
            let prev = e.prev_kv.as_ref().map(|p| (&p.value[..], p.mod_revision));
            match r.watch_id {
                0 => assert_eq!(prev, Some((&b"old"[..], rev - 1))),
                _ => assert_eq!(prev, None),
            }
            seen[r.watch_id as usize] = true;
        }
    }
}

#[tokio::test]
async fn history_catch_up_then_live_without_gaps_or_duplicates() {
    let h = Arc::new(MemHistory::default());
    for i in 0..10 {
        h.put("k", &i.to_string());
    }
    let hub = WatchHub::start(h.clone(), cfg());
    let (s, mut rx) = hub.open_stream();
    s.create(Ok(create("k", "", 3))).unwrap();
    assert!(next(&mut rx).await.created);
    for i in 0..5 {
        let (rev, ev) = h.put("k", &format!("live{i}"));
        hub.notify(rev, &[ev]);
    }
    let revs = revisions(&mut rx, 14).await;
    assert_eq!(revs, (3..=16).collect::<Vec<_>>());
}

#[tokio::test]
async fn slow_stream_loses_nothing() {
    let h = Arc::new(MemHistory::default());
    let hub = WatchHub::start(h.clone(), cfg());
    let (s, mut rx) = hub.open_stream();
    s.create(Ok(create("a", "b", 0))).unwrap();
    assert!(next(&mut rx).await.created);
    // Far more responses than the queue holds, without reading.
    for i in 0..50 {
        let (rev, ev) = h.put("a", &i.to_string());
        hub.notify(rev, &[ev]);
    }
    let revs = revisions(&mut rx, 50).await;
    assert_eq!(revs, (2..=51).collect::<Vec<_>>());
}

#[tokio::test]
async fn compacted_start_is_created_then_canceled() {
    let h = Arc::new(MemHistory::default());
    for i in 0..5 {
        h.put("k", &i.to_string());
    }
    *h.compacted.lock() = 4;
    let hub = WatchHub::start(h.clone(), cfg());
    let (s, mut rx) = hub.open_stream();
    s.create(Ok(create("k", "", 2))).unwrap();
    assert!(next(&mut rx).await.created);
    let c = next(&mut rx).await;
    assert!(c.canceled);
    assert_eq!(c.compact_revision, 4);
    assert_eq!(c.header.unwrap().revision, 0);
}

#[tokio::test]
async fn duplicate_ids_empty_ranges_and_progress() {
    let h = Arc::new(MemHistory::default());
    let hub = WatchHub::start(h.clone(), cfg());
    let (s, mut rx) = hub.open_stream();
    let mut spec = create("a", "", 0);
    spec.watch_id = 7;
    assert_eq!(s.create(Ok(spec.clone())).unwrap(), 7);
    assert!(next(&mut rx).await.created);
    assert!(s.create(Ok(spec)).is_err());
    let dup = next(&mut rx).await;
    assert!(dup.created && dup.canceled && dup.watch_id == -1);
    assert_eq!(
        dup.cancel_reason,
        "mvcc: duplicate watch ID provided on the WatchStream"
    );
    let bad = WatchSpec::from_request(&WatchCreateRequest {
        key: b"b".to_vec(),
        range_end: b"a".to_vec(),
        ..Default::default()
    });
    assert!(s.create(bad).is_err());
    assert_eq!(
        next(&mut rx).await.cancel_reason,
        "mvcc: watcher range is empty"
    );
    s.request_progress();
    let p = next(&mut rx).await;
    assert_eq!(p.watch_id, -1);
    assert!(p.events.is_empty() && !p.created && !p.canceled);
    assert!(s.cancel(7));
    let c = next(&mut rx).await;
    assert!(c.canceled && c.watch_id == 7);
}

/// Slow streams with several kinds of watchers catch up to the same sequences whether the
/// missed revisions come from the in-memory ring, from history, or from both.
#[tokio::test]
async fn catch_up_from_memory_or_history_delivers_the_same_events() {
    for recent_revisions in [0, 7, 10_000] {
        let h = Arc::new(MemHistory::default());
        let hub = WatchHub::start(
            h.clone(),
            HubConfig {
                recent_revisions,
                ..cfg()
            },
        );
        let (s, mut rx) = hub.open_stream();
        let mut prefix_prev = create("a", "b", 0);
        prefix_prev.prev_kv = true;
        let mut no_put = create("a", "b", 0);
        no_put.no_put = true;
        let specs = [
            create("a", "b", 0),
            create("a1", "", 0),
            prefix_prev,
            no_put,
        ];
        for spec in specs {
            s.create(Ok(spec)).unwrap();
            assert!(next(&mut rx).await.created);
        }
        // Watcher 3 filters out puts: it gets nothing.
        let mut want: [Vec<(i64, Vec<u8>)>; 4] = Default::default();
        for i in 0..60 {
            let key = format!("a{}", i % 3);
            let (rev, ev) = h.put(&key, &i.to_string());
            want[0].push((rev, key.clone().into_bytes()));
            if key == "a1" {
                want[1].push((rev, key.clone().into_bytes()));
            }
            want[2].push((rev, key.into_bytes()));
            hub.notify(rev, &[ev]);
        }
        let total: usize = want.iter().map(Vec::len).sum();
        let mut got: [Vec<(i64, Vec<u8>)>; 4] = Default::default();
        let mut prevs = 0;
        while got.iter().map(Vec::len).sum::<usize>() < total {
            let r = next(&mut rx).await;
            for e in &r.events {
                let kv = e.kv.as_ref().unwrap();
                got[r.watch_id as usize].push((kv.mod_revision, kv.key.to_vec()));
                if r.watch_id == 2 && kv.version > 1 {
                    let prev = e.prev_kv.as_ref().expect("prev_kv for watcher 2");
                    assert_eq!(prev.key, kv.key);
                    assert!(prev.mod_revision < kv.mod_revision);
                    prevs += 1;
                } else {
                    assert!(e.prev_kv.is_none() || r.watch_id == 2);
                }
            }
        }
        assert_eq!(got, want, "recent_revisions = {recent_revisions}");
        assert_eq!(prevs, 57);
    }
}
