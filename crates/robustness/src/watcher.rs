//! One recorded watcher over the run's key prefix: `prev_kv`, progress requests, and a
//! resume from the revision after the last event it delivered whenever its stream breaks
//! (on another member), as Kubernetes' reflectors do.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_checker::{Event, EventKind, WatchResponse, WatchSession, Watcher};
use oxcd_proto::etcdserverpb::{
    watch_request::RequestUnion, WatchCreateRequest, WatchProgressRequest, WatchRequest,
};
use oxcd_proto::mvccpb::event::EventType;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::conn::Endpoints;
use crate::ops::kv_of;
use crate::recorder::Recorder;

/// How often a watcher asks for a progress notification (a bookmark).
const PROGRESS_EVERY: Duration = Duration::from_millis(700);
/// How long a stream may stay silent (no event, no bookmark) before it is abandoned.
const SILENCE: Duration = Duration::from_secs(4);

/// What a watcher is asked to do.
#[derive(Debug, Clone)]
pub struct WatchPlan {
    /// The watcher's number (also its first member: `id % members`).
    pub id: usize,
    /// The watched prefix: `[prefix, prefix_end)`.
    pub prefix: Vec<u8>,
    /// The end of the watched range.
    pub range_end: Vec<u8>,
    /// The first revision to deliver.
    pub start_revision: i64,
    /// Ask for a progress notification every [`PROGRESS_EVERY`] (bookmarks to check).
    pub request_progress: bool,
}

/// How far a watcher has got: the highest revision it has delivered or been bookmarked at.
#[derive(Debug, Default)]
pub struct Progress(AtomicI64);

impl Progress {
    /// The highest revision delivered or bookmarked.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    fn raise(&self, rev: i64) {
        self.0.fetch_max(rev, Ordering::AcqRel);
    }
}

/// Runs a watcher until `stop` is set to a revision it has reached (the runner sets it
/// after the clients stop), or until `hard_deadline`.
pub async fn run(
    plan: WatchPlan,
    endpoints: Endpoints,
    rec: Arc<Recorder>,
    progress: Arc<Progress>,
    stop: Arc<AtomicI64>,
    hard_deadline: Instant,
) -> Watcher {
    let mut watcher = Watcher::default();
    let mut member = plan.id % endpoints.len();
    let mut next = plan.start_revision;
    loop {
        let target = stop.load(Ordering::Acquire);
        if (target > 0 && progress.get() >= target) || Instant::now() >= hard_deadline {
            return watcher;
        }
        let mut session = WatchSession {
            member,
            start_revision: next,
            responses: Vec::new(),
        };
        let _ = one_session(
            &plan,
            &endpoints,
            &rec,
            &progress,
            &stop,
            hard_deadline,
            &mut session,
        )
        .await;
        if let Some(last) = last_event_revision(&session) {
            next = last + 1;
        }
        let canceled = session.responses.iter().any(|r| r.canceled);
        watcher.sessions.push(session);
        if canceled {
            // Compacted past what we need: nothing more can be resumed.
            return watcher;
        }
        member = (member + 1) % endpoints.len();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn last_event_revision(s: &WatchSession) -> Option<i64> {
    s.responses
        .iter()
        .flat_map(|r| r.events.iter())
        .map(|e| e.kv.mod_revision)
        .max()
}

async fn one_session(
    plan: &WatchPlan,
    endpoints: &Endpoints,
    rec: &Recorder,
    progress: &Progress,
    stop: &AtomicI64,
    hard_deadline: Instant,
    session: &mut WatchSession,
) -> Result<(), tonic::Status> {
    let mut client =
        oxcd_proto::etcdserverpb::watch_client::WatchClient::new(endpoints.channel(session.member));
    let (tx, rx) = mpsc::channel(8);
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: plan.prefix.clone(),
            range_end: plan.range_end.clone(),
            start_revision: session.start_revision,
            progress_notify: true,
            prev_kv: true,
            ..Default::default()
        })),
    };
    tx.send(create)
        .await
        .map_err(|_| tonic::Status::cancelled("request channel"))?;
    let mut stream = tokio::time::timeout(SILENCE, client.watch(ReceiverStream::new(rx)))
        .await
        .map_err(|_| tonic::Status::deadline_exceeded("watch connect"))??
        .into_inner();
    let mut last_heard = Instant::now();
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    loop {
        let target = stop.load(Ordering::Acquire);
        if (target > 0 && progress.get() >= target) || Instant::now() >= hard_deadline {
            return Ok(());
        }
        if last_heard.elapsed() > SILENCE {
            return Err(tonic::Status::deadline_exceeded("watch silent"));
        }
        tokio::select! {
            // The tick also wakes the loop, so deadlines and silence are noticed.
            _ = ticker.tick() => {
                if plan.request_progress {
                    let req = WatchRequest {
                        request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
                    };
                    if tx.send(req).await.is_err() {
                        return Ok(());
                    }
                }
            }
            msg = stream.message() => {
                let Some(resp) = msg? else { return Ok(()) };
                last_heard = Instant::now();
                if resp.created && !resp.canceled {
                    continue;
                }
                let revision = resp.header.as_ref().map_or(0, |h| h.revision);
                let events: Vec<Event> = resp.events.iter().map(event_of).collect();
                let is_progress = events.is_empty() && !resp.canceled && !resp.created;
                if let Some(last) = events.iter().map(|e| e.kv.mod_revision).max() {
                    progress.raise(last);
                }
                if is_progress {
                    progress.raise(revision);
                }
                session.responses.push(WatchResponse {
                    at: rec.now(),
                    revision,
                    events,
                    progress: is_progress,
                    canceled: resp.canceled,
                    compact_revision: resp.compact_revision,
                });
                if resp.canceled {
                    return Ok(());
                }
            }
        }
    }
}

fn event_of(e: &oxcd_proto::mvccpb::Event) -> Event {
    let kv = e.kv.as_ref().map(kv_of).unwrap_or(oxcd_checker::Kv {
        value: Vec::new(),
        mod_revision: 0,
        create_revision: 0,
        version: 0,
        lease: 0,
    });
    Event {
        kind: if e.r#type == EventType::Delete as i32 {
            EventKind::Delete
        } else {
            EventKind::Put
        },
        key: e.kv.as_ref().map(|kv| kv.key.to_vec()).unwrap_or_default(),
        kv,
        prev: e.prev_kv.as_ref().map(kv_of),
    }
}
