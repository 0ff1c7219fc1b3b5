//! [`WatchSession`]: one Watch stream on a real [`WatchHub`] over the harness's store,
//! driven synchronously, with etcd's watch guarantees as the oracle.
//!
//! The hub's catch-up loop is never polled (its task sits on a current-thread runtime
//! that is not driven); [`WatchSession::finish`] runs catch-up passes by hand instead, so
//! a run is deterministic. Responses are read in stream order: the n-th `created` reply
//! answers the n-th create request (etcd's ordering guarantee), which binds a watch ID
//! to what that watcher must receive.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures::FutureExt;
use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::{watch_request::RequestUnion, WatchRequest, WatchResponse};
use oxcd_proto::mvccpb::Event;
use oxcd_server::watch_history::MvccHistory;
use oxcd_watch::{HubConfig, WatchHub, WatchReceiver, WatchSpec, WatchStream};

use crate::outcome::Outcomes;

/// Catch-up passes [`WatchSession::finish`] runs at most.
const MAX_PASSES: usize = 64;

/// A create request whose reply has not been read yet.
struct PendingCreate {
    /// `None` if the hub refused it.
    spec: Option<WatchSpec>,
    /// The first revision the watcher must see.
    from: i64,
}

/// What one accepted watcher was asked for and what it got.
struct Record {
    id: i64,
    spec: WatchSpec,
    from: i64,
    events: Vec<Event>,
    canceled: bool,
}

/// One Watch stream and everything it answered so far.
pub struct WatchSession {
    // Field order is drop order: the stream and hub go before the runtime.
    stream: WatchStream,
    rx: WatchReceiver,
    hub: WatchHub,
    _rt: tokio::runtime::Runtime,
    creates: VecDeque<PendingCreate>,
    records: Vec<Record>,
    active: HashMap<i64, usize>,
}

fn oracle(ok: bool, what: impl FnOnce() -> String) {
    assert!(ok, "oracle: watch: {}", what());
}

impl WatchSession {
    /// A hub over `kv` with one open stream.
    pub fn start(kv: Arc<KvStore>) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        let hub = {
            let _enter = rt.enter();
            WatchHub::start(
                Arc::new(MvccHistory(kv)),
                HubConfig {
                    // Small enough that fuzzed inputs reach the slow-watcher and
                    // fragmenting paths.
                    queue_capacity: 4,
                    max_response_bytes: 256,
                    history_batch: 8,
                    recent_revisions: 4,
                    ..HubConfig::default()
                },
            )
        };
        let (stream, rx) = hub.open_stream();
        WatchSession {
            stream,
            rx,
            hub,
            _rt: rt,
            creates: VecDeque::new(),
            records: Vec::new(),
            active: HashMap::new(),
        }
    }

    /// Hands one published revision to the hub (what the apply loop's observer does).
    pub fn notify(&self, changes: &oxcd_mvcc::Changes) {
        self.hub.notify(changes.revision, &changes.events);
    }

    /// Handles one message of the request stream, as the Watch service's reader does.
    pub fn request(&mut self, w: &WatchRequest, kv: &KvStore, out: &mut Outcomes) {
        match &w.request_union {
            Some(RequestUnion::CreateRequest(c)) => {
                let spec = WatchSpec::from_request(c);
                let from = match &spec {
                    Ok(s) if s.start_revision == 0 => kv.current_revision() + 1,
                    Ok(s) => s.start_revision,
                    Err(_) => 0,
                };
                let kept = spec.clone().ok();
                let res = self.stream.create(spec);
                out.add_result("Watch create", &res);
                self.creates.push_back(PendingCreate {
                    spec: kept.filter(|_| res.is_ok()),
                    from,
                });
            }
            Some(RequestUnion::CancelRequest(c)) => {
                let existed = self.stream.cancel(c.watch_id);
                out.add(if existed {
                    "Watch cancel: canceled"
                } else {
                    "Watch cancel: unknown id"
                });
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                self.stream.request_progress();
                out.add("Watch progress");
            }
            None => out.add("Watch: empty request"),
        }
        self.drain();
    }

    /// Reads every response queued so far.
    fn drain(&mut self) {
        while let Some(Some(batch)) = self.rx.recv_batch().now_or_never() {
            for resp in batch {
                match resp.into_response() {
                    Ok(r) => self.handle(r),
                    Err(e) => oracle(false, || format!("undecodable events: {e}")),
                }
            }
        }
    }

    fn handle(&mut self, r: WatchResponse) {
        if r.created {
            let Some(pending) = self.creates.pop_front() else {
                return oracle(false, || format!("created reply {r:?} without a request"));
            };
            match (pending.spec, r.canceled) {
                (Some(spec), false) => {
                    oracle(!self.active.contains_key(&r.watch_id), || {
                        format!("watch ID {} created twice", r.watch_id)
                    });
                    self.active.insert(r.watch_id, self.records.len());
                    self.records.push(Record {
                        id: r.watch_id,
                        spec,
                        from: pending.from,
                        events: Vec::new(),
                        canceled: false,
                    });
                }
                (None, true) => {}
                (spec, canceled) => oracle(false, || {
                    format!(
                        "create answered canceled={canceled}, accepted={}",
                        spec.is_some()
                    )
                }),
            }
            return;
        }
        if !r.events.is_empty() {
            let Some(&idx) = self.active.get(&r.watch_id) else {
                return oracle(false, || {
                    format!("events for watch ID {} that is not open", r.watch_id)
                });
            };
            self.records[idx].events.extend(r.events);
        }
        if r.canceled {
            if let Some(idx) = self.active.remove(&r.watch_id) {
                self.records[idx].canceled = true;
            }
        }
    }

    /// Catches every watcher up, then checks what each one received against `log`
    /// (every published revision's events); `compacted` is the compacted revision.
    pub fn finish(mut self, log: &[(i64, Vec<Event>)], compacted: i64, out: &mut Outcomes) {
        let mut settled = false;
        for _ in 0..MAX_PASSES {
            let pass = self.hub.sync_pass();
            self.drain();
            if pass.remaining == 0 {
                settled = true;
                break;
            }
        }
        oracle(settled, || {
            "watchers still unsynced after the catch-up passes".into()
        });
        oracle(self.creates.is_empty(), || {
            format!("{} create requests never answered", self.creates.len())
        });
        for rec in &self.records {
            check_record(rec, log, compacted);
            out.add(if rec.canceled {
                "Watch: canceled watcher consistent"
            } else {
                "Watch: watcher consistent"
            });
        }
    }
}

/// The events `rec` must have received, in order, and the comparison.
fn check_record(rec: &Record, log: &[(i64, Vec<Event>)], compacted: i64) {
    // Compaction at C drops tombstones (and overwritten puts) at C itself, so a watcher
    // reading history from at or below C may or may not see those revisions.
    let floor = if rec.from <= compacted { compacted } else { 0 };
    let want: Vec<&Event> = log
        .iter()
        .filter(|(rev, _)| *rev >= rec.from && *rev > floor)
        .flat_map(|(_, evs)| evs.iter())
        .filter(|ev| {
            ev.kv
                .as_ref()
                .is_some_and(|kv| rec.spec.contains(&kv.key) && rec.spec.passes(ev))
        })
        .collect();
    let got: Vec<&Event> = rec
        .events
        .iter()
        .filter(|ev| ev.kv.as_ref().is_some_and(|kv| kv.mod_revision > floor))
        .collect();
    let complete = !rec.canceled;
    oracle(
        got.len() <= want.len() && (!complete || got.len() == want.len()),
        || {
            format!(
                "watcher {} ({:?} from {}): got {} events, want {} (canceled {})",
                rec.id,
                rec.spec,
                rec.from,
                got.len(),
                want.len(),
                rec.canceled
            )
        },
    );
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        oracle(g.r#type == w.r#type && g.kv == w.kv, || {
            format!("watcher {} event {i}: got {g:?}, want {w:?}", rec.id)
        });
        let prev_ok = match (&g.prev_kv, rec.spec.prev_kv) {
            (None, _) => true,
            (Some(_), false) => false,
            (Some(p), true) => w.prev_kv.as_ref() == Some(p),
        };
        oracle(prev_ok, || {
            format!(
                "watcher {} event {i}: prev_kv {:?}, want {:?}",
                rec.id, g.prev_kv, w.prev_kv
            )
        });
    }
}
