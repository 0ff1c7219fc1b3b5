//! [`WatchHub`]: every watcher of a member, the notify path and the catch-up loop.
//!
//! One mutex guards both groups and the hub's notion of the current revision. Notify (on
//! the apply thread) and every group move take it, which is what makes the ORDERED/UNIQUE
//! invariants hold; history is read without it. The one exception: notify reads the
//! `prev_kv` of a live revision's put events (one point read each) under it, and only when
//! a watcher it delivers to asked for `prev_kv`.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::collections::hash_map::Entry;

use oxcd_proto::mvccpb::{event::EventType, Event};
use oxcd_proto::watch_wire::{EncodedEvents, WatchResponseWire};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::event_set::{self, EventSet};
use crate::group::{Watcher, WatcherGroup, WatcherKey};
use crate::history::{HistoryError, KvHistory};
use crate::metrics;
use crate::recent::RecentEvents;
use crate::spec::WatchSpec;
use crate::stream::{self, SendError, Sink, WatchReceiver, WatchStream};
use crate::WatchError;

/// Tunables of a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Event responses a stream may have queued before its watchers fall back to history.
    pub queue_capacity: usize,
    /// How often the catch-up loop runs when nothing wakes it.
    pub sync_interval: Duration,
    /// Unsynced watchers handled per catch-up pass (etcd's maxWatchersPerSync).
    pub max_watchers_per_sync: usize,
    /// Events read from history per watcher per pass.
    pub history_batch: usize,
    /// Interval of `progress_notify` notifications.
    pub progress_interval: Duration,
    /// Responses above this size are split for `fragment` watchers (`--max-request-bytes`).
    pub max_response_bytes: usize,
    /// Recent revisions kept in memory for catch-up (0 = always read history).
    pub recent_revisions: usize,
    /// Bound on the memory those revisions' events take, in bytes.
    pub recent_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 256,
            sync_interval: Duration::from_millis(100),
            max_watchers_per_sync: 512,
            history_batch: 1000,
            progress_interval: Duration::from_secs(600),
            max_response_bytes: 1_572_864,
            recent_revisions: 10_000,
            recent_bytes: 16 << 20,
        }
    }
}

/// History reads of one catch-up pass, shared (with their encodings) by watchers of the
/// same range and revision.
struct PassReads<'a> {
    recent: &'a Mutex<RecentEvents>,
    current: i64,
    cache: HashMap<(Vec<u8>, Vec<u8>, i64), EventSet>,
}

impl<'a> PassReads<'a> {
    fn new(recent: &'a Mutex<RecentEvents>, current: i64) -> Self {
        Self {
            recent,
            current,
            cache: HashMap::new(),
        }
    }

    fn events(
        &mut self,
        history: &dyn KvHistory,
        spec: &WatchSpec,
        from: i64,
        limit: usize,
    ) -> Result<&mut EventSet, HistoryError> {
        let key = (spec.key.clone(), spec.range_end.clone(), from);
        match self.cache.entry(key) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let recent = self.recent.lock().read(spec, from, self.current, limit);
                let set = match recent {
                    Some((evs, plain)) => EventSet::with_plain(evs, plain),
                    None => EventSet::new(history.events(
                        &spec.key,
                        &spec.range_end,
                        from,
                        self.current,
                        limit,
                    )?),
                };
                Ok(e.insert(set))
            }
        }
    }
}

/// Appends `watch_id`'s response(s) with the events `picks` of `set` (all when `None`):
/// one response, or fragments for a `fragment` watcher whose response is too large.
fn push_responses(
    out: &mut Vec<WatchResponseWire>,
    set: &mut EventSet,
    picks: Option<&[u32]>,
    spec: &WatchSpec,
    watch_id: i64,
    revision: i64,
    max_bytes: usize,
) {
    if spec.fragment {
        let parts = set.select_split(picks, spec.prev_kv, max_bytes);
        let last = parts.len() - 1;
        for (i, events) in parts.into_iter().enumerate() {
            out.push(WatchResponseWire {
                events,
                fragment: i < last,
                ..stream::response(watch_id, revision)
            });
        }
    } else {
        out.push(WatchResponseWire {
            events: set.select(picks, spec.prev_kv),
            ..stream::response(watch_id, revision)
        });
    }
}

/// What one catch-up pass achieved.
#[derive(Debug, Clone, Copy)]
pub struct SyncPass {
    /// Some watcher moved: events queued, synced, canceled or dropped.
    pub progressed: bool,
    /// Watchers still unsynced after the pass.
    pub remaining: usize,
}

struct StreamState {
    sink: Arc<Sink>,
    ids: BTreeSet<i64>,
    next_id: i64,
    progress_pending: bool,
}

struct State {
    synced: WatcherGroup,
    unsynced: WatcherGroup,
    current_rev: i64,
    streams: HashMap<u64, StreamState>,
}

struct Inner {
    state: Mutex<State>,
    history: Arc<dyn KvHistory>,
    /// Taken inside `state` by notify; alone by catch-up reads.
    recent: Mutex<RecentEvents>,
    cfg: HubConfig,
    /// Wakes the catch-up loop: new unsynced watchers, or a starved stream drained.
    wake: Arc<Notify>,
    next_stream: AtomicU64,
}

/// The watchers of one member. Cheap to clone.
#[derive(Clone)]
pub struct WatchHub {
    inner: Arc<Inner>,
}

impl WatchHub {
    /// Creates the hub and starts its catch-up loop on the current tokio runtime. The loop
    /// ends when the last handle is dropped.
    pub fn start(history: Arc<dyn KvHistory>, cfg: HubConfig) -> Self {
        metrics::init();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                synced: WatcherGroup::default(),
                unsynced: WatcherGroup::default(),
                current_rev: history.current_revision(),
                streams: HashMap::new(),
            }),
            history,
            recent: Mutex::new(RecentEvents::new(cfg.recent_revisions, cfg.recent_bytes)),
            cfg,
            wake: Arc::new(Notify::new()),
            next_stream: AtomicU64::new(1),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut last_progress = tokio::time::Instant::now();
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let interval = inner.cfg.sync_interval;
                let hub = WatchHub { inner };
                let pass = hub.sync_pass();
                if last_progress.elapsed() >= hub.inner.cfg.progress_interval {
                    hub.progress_notify_all();
                    last_progress = tokio::time::Instant::now();
                }
                if pass.progressed && pass.remaining > 0 {
                    // More to catch up and the last pass got somewhere: go again at once
                    // (etcd waits the length of the pass; a yield is enough to stay fair
                    // on a shared runtime).
                    drop(hub);
                    tokio::task::yield_now().await;
                    continue;
                }
                let wake = async { hub.inner.wake.notified().await };
                let _ = tokio::time::timeout(interval, wake).await;
            }
        });
        Self { inner }
    }

    /// Opens a stream: the request side and its response queue.
    pub fn open_stream(&self) -> (WatchStream, WatchReceiver) {
        let id = self.inner.next_stream.fetch_add(1, Ordering::Relaxed);
        let (sink, rx) =
            stream::channel(id, self.inner.cfg.queue_capacity, self.inner.wake.clone());
        self.inner.state.lock().streams.insert(
            id,
            StreamState {
                sink,
                ids: BTreeSet::new(),
                next_id: 0,
                progress_pending: false,
            },
        );
        metrics::STREAMS.inc();
        (
            WatchStream {
                id,
                hub: self.clone(),
            },
            rx,
        )
    }

    /// Delivers the events of a newly published revision to synced watchers. Called by the
    /// apply loop once per revision, in revision order, after readers can see it.
    ///
    /// Each event is encoded once (per `prev_kv` variant) and every stream gets one batch
    /// with the responses of all its watchers; a stream whose queue is full moves those
    /// watchers to the unsynced group at `revision`.
    pub fn notify(&self, revision: i64, events: &[Event]) {
        let mut st = self.inner.state.lock();
        // Without watchers nothing is encoded or kept (the ring then restarts: catch-ups
        // from before that point read history).
        let ring = self.inner.cfg.recent_revisions > 0 && !st.unsynced.is_empty();
        if events.is_empty() || (st.synced.is_empty() && !ring) {
            st.current_rev = st.current_rev.max(revision);
            return;
        }
        // Every event is encoded once, here; the ring and every watcher share the bytes.
        let plain: Vec<EncodedEvents> = events.iter().map(event_set::plain).collect();
        self.inner
            .recent
            .lock()
            .push(st.current_rev, revision, events, &plain);
        st.current_rev = st.current_rev.max(revision);
        if st.synced.is_empty() {
            return;
        }
        // Which events each watcher gets: all of them (None) or the listed ones.
        let mut selections: Vec<(WatcherKey, Option<Vec<u32>>)> = Vec::new();
        // Which events a selected watcher wants with prev_kv (put events come without it).
        let mut wants_prev = vec![false; events.len()];
        if let [ev] = events {
            if let Some(kv) = &ev.kv {
                for wk in st.synced.matching(&kv.key) {
                    match st.synced.get(&wk) {
                        Some(w) if w.rev <= revision && w.spec.passes(ev) => {
                            wants_prev[0] |= w.spec.prev_kv;
                            selections.push((wk, None))
                        }
                        _ => {}
                    }
                }
            }
        } else {
            let mut picks: HashMap<WatcherKey, Vec<u32>> = HashMap::new();
            for (i, ev) in events.iter().enumerate() {
                let Some(kv) = &ev.kv else { continue };
                for wk in st.synced.matching(&kv.key) {
                    match st.synced.get(&wk) {
                        Some(w) if w.rev <= revision && w.spec.passes(ev) => {
                            wants_prev[i] |= w.spec.prev_kv;
                            picks.entry(wk).or_default().push(i as u32)
                        }
                        _ => {}
                    }
                }
            }
            selections.extend(picks.into_iter().map(|(wk, p)| {
                let all = p.len() == events.len();
                (wk, (!all).then_some(p))
            }));
        }
        if selections.is_empty() {
            return;
        }
        let max_bytes = self.inner.cfg.max_response_bytes;
        let mut events = events.to_vec();
        // Read each missing prev_kv once, for every watcher that asked, and only for the
        // events such a watcher gets.
        for (ev, _) in events.iter_mut().zip(&wants_prev).filter(|(_, w)| **w) {
            load_prev_kv(self.inner.history.as_ref(), ev);
        }
        let mut set = EventSet::with_plain(events, plain);
        type Batch = (Arc<Sink>, Vec<WatcherKey>, Vec<WatchResponseWire>);
        let mut per_stream: HashMap<u64, Batch> = HashMap::new();
        for (wk, picks) in selections {
            let Some(w) = st.synced.get(&wk) else {
                continue;
            };
            let (_, keys, resps) = per_stream
                .entry(wk.stream)
                .or_insert_with(|| (w.sink.clone(), Vec::new(), Vec::new()));
            keys.push(wk);
            push_responses(
                resps,
                &mut set,
                picks.as_deref(),
                &w.spec,
                wk.id,
                revision,
                max_bytes,
            );
        }
        let mut victims = Vec::new();
        let mut gone = Vec::new();
        for (_, (sink, keys, resps)) in per_stream {
            match sink.try_send_events(resps) {
                Ok(()) => {}
                Err(SendError::Full) => victims.extend(keys),
                Err(SendError::Closed) => gone.extend(keys),
            }
        }
        for wk in gone {
            st.synced.remove(wk);
        }
        if !victims.is_empty() {
            for wk in victims {
                if let Some(mut w) = st.synced.remove(wk) {
                    w.rev = revision;
                    st.unsynced.add(wk, w);
                }
            }
            metrics::SLOW_WATCHERS.set(st.unsynced.len() as i64);
            self.inner.wake.notify_one();
        }
    }

    pub(crate) fn create(
        &self,
        stream_id: u64,
        spec: Result<WatchSpec, WatchError>,
    ) -> Result<i64, WatchError> {
        let mut st = self.inner.state.lock();
        let current = st.current_rev;
        let Some(ss) = st.streams.get_mut(&stream_id) else {
            return Err(WatchError::Stopped);
        };
        let refuse = |ss: &StreamState, err: WatchError| {
            let resp = WatchResponseWire {
                created: true,
                canceled: true,
                cancel_reason: err.to_string(),
                ..stream::response(-1, current)
            };
            ss.sink.send_control(resp);
            Err(err)
        };
        let spec = match spec {
            Ok(s) => s,
            Err(e) => return refuse(ss, e),
        };
        let id = if spec.watch_id != 0 {
            if ss.ids.contains(&spec.watch_id) {
                return refuse(ss, WatchError::DuplicateId);
            }
            spec.watch_id
        } else {
            while ss.ids.contains(&ss.next_id) {
                ss.next_id += 1;
            }
            ss.next_id
        };
        ss.ids.insert(id);
        let sink = ss.sink.clone();
        sink.send_control(WatchResponseWire {
            created: true,
            ..stream::response(id, current)
        });
        let key = WatcherKey {
            stream: stream_id,
            id,
        };
        let start = spec.start_revision;
        if start == 0 || start > current {
            let rev = if start == 0 { current + 1 } else { start };
            st.synced.add(
                key,
                Watcher {
                    spec: Arc::new(spec),
                    sink,
                    rev,
                },
            );
        } else {
            st.unsynced.add(
                key,
                Watcher {
                    spec: Arc::new(spec),
                    sink,
                    rev: start,
                },
            );
            metrics::SLOW_WATCHERS.set(st.unsynced.len() as i64);
            self.inner.wake.notify_one();
        }
        metrics::WATCHERS.inc();
        Ok(id)
    }

    pub(crate) fn cancel(&self, stream_id: u64, watch_id: i64) -> bool {
        let mut st = self.inner.state.lock();
        let key = WatcherKey {
            stream: stream_id,
            id: watch_id,
        };
        let existed = st
            .synced
            .remove(key)
            .or_else(|| st.unsynced.remove(key))
            .is_some();
        let current = st.current_rev;
        if let Some(ss) = st.streams.get_mut(&stream_id) {
            ss.ids.remove(&watch_id);
            if existed {
                ss.sink.send_control(WatchResponseWire {
                    canceled: true,
                    ..stream::response(watch_id, current)
                });
            }
        }
        if existed {
            metrics::WATCHERS.dec();
            metrics::SLOW_WATCHERS.set(st.unsynced.len() as i64);
        }
        existed
    }

    pub(crate) fn request_progress(&self, stream_id: u64) {
        let mut st = self.inner.state.lock();
        let all_synced = !st.unsynced.has_stream(stream_id);
        let current = st.current_rev;
        if let Some(ss) = st.streams.get_mut(&stream_id) {
            if all_synced {
                ss.sink.send_control(stream::response(-1, current));
            } else {
                ss.progress_pending = true;
            }
        }
    }

    pub(crate) fn close_stream(&self, stream_id: u64) {
        let mut st = self.inner.state.lock();
        let Some(ss) = st.streams.remove(&stream_id) else {
            return;
        };
        for id in ss.ids {
            let key = WatcherKey {
                stream: stream_id,
                id,
            };
            if st
                .synced
                .remove(key)
                .or_else(|| st.unsynced.remove(key))
                .is_some()
            {
                metrics::WATCHERS.dec();
            }
        }
        metrics::SLOW_WATCHERS.set(st.unsynced.len() as i64);
        metrics::STREAMS.dec();
    }

    /// The store jumped to `revision` without per-revision notifications (a raft snapshot
    /// replaced it): every synced watcher moves to the unsynced group and catches up from
    /// history, starting after the last revision it was notified of.
    pub fn resync(&self, revision: i64) {
        let mut st = self.inner.state.lock();
        self.inner.recent.lock().clear();
        let from = st.current_rev + 1;
        st.current_rev = st.current_rev.max(revision);
        for wk in st.synced.keys() {
            if let Some(mut w) = st.synced.remove(wk) {
                w.rev = w.rev.max(from);
                st.unsynced.add(wk, w);
            }
        }
        metrics::SLOW_WATCHERS.set(st.unsynced.len() as i64);
        drop(st);
        self.inner.wake.notify_one();
    }

    /// Number of (synced, unsynced) watchers.
    pub fn counts(&self) -> (usize, usize) {
        let st = self.inner.state.lock();
        (st.synced.len(), st.unsynced.len())
    }

    /// Sends a progress notification to every synced `progress_notify` watcher.
    fn progress_notify_all(&self) {
        let st = self.inner.state.lock();
        for (wk, w) in st.synced.iter() {
            if w.spec.progress_notify {
                w.sink.send_control(stream::response(wk.id, st.current_rev));
            }
        }
    }

    /// One catch-up pass over the unsynced watchers.
    pub fn sync_pass(&self) -> SyncPass {
        let batch: Vec<(WatcherKey, Watcher)> = {
            let st = self.inner.state.lock();
            st.unsynced
                .iter()
                .take(self.inner.cfg.max_watchers_per_sync)
                .map(|(k, w)| (*k, w.clone()))
                .collect()
        };
        // Watchers of one stream fall behind together, at the same revision, and often
        // watch the same range: one history read per (range, revision) serves them all.
        let mut reads = PassReads::new(&self.inner.recent, self.inner.history.current_revision());
        let mut progressed = false;
        for (wk, w) in batch {
            progressed |= self.catch_up(wk, w, &mut reads);
        }
        self.flush_progress();
        SyncPass {
            progressed,
            remaining: self.inner.state.lock().unsynced.len(),
        }
    }

    /// Catches one watcher up; true if it moved (events queued, synced or removed).
    fn catch_up(&self, wk: WatcherKey, w: Watcher, reads: &mut PassReads<'_>) -> bool {
        let history = &self.inner.history;
        if w.sink.is_closed() {
            self.inner.state.lock().unsynced.remove(wk);
            return true;
        }
        let current = reads.current;
        let compacted = history.compacted_revision();
        let read = if w.rev < compacted {
            Err(HistoryError::Compacted)
        } else {
            reads.events(
                history.as_ref(),
                &w.spec,
                w.rev,
                self.inner.cfg.history_batch,
            )
        };
        let set = match read {
            Ok(set) => set,
            Err(HistoryError::Compacted) => {
                let resp = WatchResponseWire {
                    canceled: true,
                    compact_revision: history.compacted_revision(),
                    ..stream::response(wk.id, 0)
                };
                let mut st = self.inner.state.lock();
                if st.unsynced.remove(wk).is_some() {
                    w.sink.send_control(resp);
                    if let Some(ss) = st.streams.get_mut(&wk.stream) {
                        ss.ids.remove(&wk.id);
                    }
                    metrics::WATCHERS.dec();
                }
                return true;
            }
            Err(HistoryError::Other(e)) => {
                tracing::warn!(error = %e, "watch history read failed; will retry");
                return false;
            }
        };
        let events = set.events();
        let full_batch = events.len() >= self.inner.cfg.history_batch;
        let next = match (full_batch, events.last().and_then(|e| e.kv.as_ref())) {
            (true, Some(kv)) => kv.mod_revision + 1,
            _ => current + 1,
        };
        let revision = events
            .last()
            .and_then(|e| e.kv.as_ref())
            .map_or(current, |kv| kv.mod_revision);
        // The events this watcher gets: all of them (None), or those its filters pass.
        let picks: Option<Vec<u32>> = if w.spec.no_put || w.spec.no_delete {
            let p: Vec<u32> = (0..events.len() as u32)
                .filter(|&i| w.spec.passes(&events[i as usize]))
                .collect();
            (p.len() < events.len()).then_some(p)
        } else {
            None
        };
        let count = picks.as_ref().map_or(events.len(), Vec::len);
        let max_bytes = self.inner.cfg.max_response_bytes;
        let mut resps = Vec::with_capacity(1);
        if count > 0 && w.spec.prev_kv {
            // History events carry no prev_kv (nor do the ring's put events): look each
            // one up for this watcher.
            let chosen: Vec<&Event> = match &picks {
                Some(p) => p.iter().map(|&i| &events[i as usize]).collect(),
                None => events.iter().collect(),
            };
            let own: Vec<Event> = chosen
                .into_iter()
                .map(|ev| {
                    let mut ev = ev.clone();
                    load_prev_kv(history.as_ref(), &mut ev);
                    ev
                })
                .collect();
            let mut own = EventSet::new(own);
            push_responses(
                &mut resps, &mut own, None, &w.spec, wk.id, revision, max_bytes,
            );
        } else if count > 0 {
            let picks = picks.as_deref();
            push_responses(&mut resps, set, picks, &w.spec, wk.id, revision, max_bytes);
        }
        if !resps.is_empty() {
            // Sent under the lock so that a concurrent cancel cannot be overtaken.
            let st = self.inner.state.lock();
            if st.unsynced.get(&wk).is_none() {
                return true;
            }
            match w.sink.try_send_events(resps) {
                Ok(()) => {}
                Err(SendError::Full) => return false,
                Err(SendError::Closed) => {
                    drop(st);
                    self.inner.state.lock().unsynced.remove(wk);
                    return true;
                }
            }
        }
        let mut st = self.inner.state.lock();
        let current_notified = st.current_rev;
        let Some(entry) = st.unsynced.get_mut(&wk) else {
            return true;
        };
        let moved_on = entry.rev != next;
        entry.rev = next;
        if next > current_notified {
            if let Some(mut moved) = st.unsynced.remove(wk) {
                moved.rev = next;
                st.synced.add(wk, moved);
            }
        }
        metrics::SLOW_WATCHERS.set(st.unsynced.len() as i64);
        moved_on || next > current_notified
    }

    fn flush_progress(&self) {
        let mut st = self.inner.state.lock();
        let current = st.current_rev;
        let pending: Vec<u64> = st
            .streams
            .iter()
            .filter(|(_, s)| s.progress_pending)
            .map(|(id, _)| *id)
            .collect();
        for id in pending {
            if st.unsynced.has_stream(id) {
                continue;
            }
            if let Some(ss) = st.streams.get_mut(&id) {
                ss.progress_pending = false;
                ss.sink.send_control(stream::response(-1, current));
            }
        }
    }
}

/// Fills in `ev.prev_kv` when it is missing: the key's value just before the event, read
/// from history (nothing for the put that created the key).
fn load_prev_kv(history: &dyn KvHistory, ev: &mut Event) {
    let Some(kv) = &ev.kv else { return };
    let is_create = ev.r#type == EventType::Put as i32 && kv.version == 1;
    if ev.prev_kv.is_none() && !is_create {
        ev.prev_kv = history.get_at(&kv.key, kv.mod_revision - 1);
    }
}
