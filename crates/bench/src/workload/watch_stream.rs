//! One watch stream of the `watch` workload: creates its watchers in batches, then
//! receives and checks events until told to stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use oxcd_proto::etcdserverpb::{
    watch_client::WatchClient, watch_request::RequestUnion, WatchCreateRequest, WatchRequest,
    WatchResponse,
};
use oxcd_proto::mvccpb::event::EventType;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::watch_tally::{Seen, Tally};
use crate::keys::value_tag;

/// What one watcher watches.
#[derive(Debug, Clone)]
pub struct Target {
    /// Key, or range start.
    pub key: Vec<u8>,
    /// Range end (empty: the key alone).
    pub range_end: Vec<u8>,
}

/// State shared by the puts and every stream.
#[derive(Debug)]
pub struct Shared {
    /// Time zero of the run.
    pub epoch: Instant,
    /// Per put: nanoseconds from `epoch` to its acknowledgement, plus one (0 = not acked).
    pub acks: Vec<AtomicU64>,
    /// First-time events received so far, over every watcher.
    pub received: AtomicUsize,
}

impl Shared {
    /// Shared state for `puts` puts, starting now.
    pub fn new(puts: usize) -> Shared {
        Shared {
            epoch: Instant::now(),
            acks: (0..puts).map(|_| AtomicU64::new(0)).collect(),
            received: AtomicUsize::new(0),
        }
    }

    /// Nanoseconds since `epoch`.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Records that put `i` was acknowledged now.
    pub fn ack(&self, i: usize) {
        if let Some(a) = self.acks.get(i) {
            a.store(self.now() + 1, Ordering::Release);
        }
    }

    /// When put `i` was acknowledged (nanoseconds since `epoch`), if it was.
    pub fn acked_at(&self, i: usize) -> Option<u64> {
        let a = self.acks.get(i)?.load(Ordering::Acquire);
        (a > 0).then(|| a - 1)
    }
}

/// What one stream measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One record per watcher, in the order of the stream's targets.
    pub tallies: Vec<Tally>,
    /// Delivery latency of every event: from its put's ack to its receipt (zero if it
    /// arrived before the ack).
    pub latencies: Vec<Duration>,
    /// Events received, duplicates included.
    pub events: usize,
    /// When the last event arrived (nanoseconds since the epoch).
    pub last_event: Option<u64>,
    /// Protocol errors: failed creates, cancellations, unknown watch IDs or puts.
    pub errors: usize,
    /// The first error, for the operator.
    pub first_error: Option<String>,
}

impl Outcome {
    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// The receive loop's state.
struct Stream {
    targets: Vec<Target>,
    shared: Arc<Shared>,
    ids: HashMap<i64, usize>,
    out: Outcome,
    /// Events that arrived before their put's ack: (put, receive time).
    early: Vec<(usize, u64)>,
}

fn create(t: &Target) -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: t.key.clone(),
            range_end: t.range_end.clone(),
            ..Default::default()
        })),
    }
}

/// Runs one stream on `ch`: creates a watcher per target, `batch` creates in flight at a
/// time, reports on `created` once all exist (or why not), then checks events until
/// `stop` turns true.
pub async fn run(
    ch: Conn,
    targets: Vec<Target>,
    batch: usize,
    shared: Arc<Shared>,
    created: oneshot::Sender<anyhow::Result<()>>,
    mut stop: watch::Receiver<bool>,
) -> Outcome {
    let puts = shared.acks.len();
    let mut s = Stream {
        out: Outcome {
            tallies: vec![Tally::new(puts); targets.len()],
            ..Outcome::default()
        },
        targets,
        shared,
        ids: HashMap::new(),
        early: Vec::new(),
    };
    let batch = batch.max(1);
    let (tx, rx) = mpsc::channel(batch);
    // Queue the first batch before the call: a server may hold its response headers until
    // it has something to send.
    let mut sent = 0;
    while sent < s.targets.len().min(batch) {
        if tx.send(create(&s.targets[sent])).await.is_err() {
            break;
        }
        sent += 1;
    }
    let mut stream = match WatchClient::new(ch).watch(ReceiverStream::new(rx)).await {
        Ok(r) => r.into_inner(),
        Err(e) => {
            let _ = created.send(Err(anyhow::anyhow!("open watch stream: {e}")));
            s.out.error(format!("open watch stream: {e}"));
            return s.out;
        }
    };
    let mut created = Some(created);
    if s.targets.is_empty() {
        created.take().map(|c| c.send(Ok(())));
    }
    loop {
        let msg = tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
                continue;
            }
            msg = stream.message() => msg,
        };
        let resp = match msg {
            Ok(Some(resp)) => resp,
            Ok(None) => {
                s.out.error("watch stream closed by the server".into());
                break;
            }
            Err(e) => {
                s.out.error(format!("watch stream: {e}"));
                break;
            }
        };
        if resp.created {
            if resp.canceled {
                s.out
                    .error(format!("watch create refused: {}", resp.cancel_reason));
                break;
            }
            let n = s.ids.len();
            if n >= s.targets.len() {
                s.out
                    .error(format!("unexpected created watcher {}", resp.watch_id));
                continue;
            }
            s.ids.insert(resp.watch_id, n);
            if n + 1 == sent {
                let until = (sent + batch).min(s.targets.len());
                while sent < until {
                    if tx.send(create(&s.targets[sent])).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
            }
            if n + 1 == s.targets.len() {
                created.take().map(|c| c.send(Ok(())));
            }
        } else if resp.canceled {
            s.out.error(format!(
                "watcher {} canceled: {}",
                resp.watch_id, resp.cancel_reason
            ));
        } else {
            s.events(resp);
        }
    }
    if let Some(c) = created {
        let _ = c.send(Err(anyhow::anyhow!(
            "stream ended with {} of {} watchers created: {}",
            s.ids.len(),
            s.targets.len(),
            s.out.first_error.clone().unwrap_or_default()
        )));
    }
    s.finish()
}

impl Stream {
    /// Checks and times the events of one response.
    fn events(&mut self, resp: WatchResponse) {
        if resp.events.is_empty() {
            return; // progress notification
        }
        let Some(&w) = self.ids.get(&resp.watch_id) else {
            self.out
                .error(format!("events for unknown watch ID {}", resp.watch_id));
            return;
        };
        let now = self.shared.now();
        self.out.last_event = Some(now);
        for ev in resp.events {
            self.out.events += 1;
            let kv = ev.kv.unwrap_or_default();
            let put = match (EventType::try_from(ev.r#type), value_tag(&kv.value)) {
                (Ok(EventType::Put), Some(put)) => put,
                _ => {
                    self.out
                        .error(format!("unexpected event on key {:?}", kv.key));
                    continue;
                }
            };
            match self.out.tallies[w].record(put, kv.mod_revision) {
                Seen::First => {
                    self.shared.received.fetch_add(1, Ordering::Relaxed);
                }
                Seen::Duplicate => {}
                Seen::Unknown => {
                    self.out.error(format!("event of unknown put {put}"));
                    continue;
                }
            }
            match self.shared.acked_at(put) {
                Some(ack) => self
                    .out
                    .latencies
                    .push(Duration::from_nanos(now.saturating_sub(ack))),
                None => self.early.push((put, now)),
            }
        }
    }

    /// Times the events that arrived before their put's ack (every ack is in by now).
    fn finish(mut self) -> Outcome {
        for (put, at) in std::mem::take(&mut self.early) {
            if let Some(ack) = self.shared.acked_at(put) {
                self.out
                    .latencies
                    .push(Duration::from_nanos(at.saturating_sub(ack)));
            }
        }
        self.out
    }
}
