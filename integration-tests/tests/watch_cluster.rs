//! Watch guarantees in a 3-member cluster, over gRPC (the `oxcd-proto` clients, as in
//! `watch_guarantees.rs`), against the kind selected by `OXCD_CLUSTER_KIND` (`etcd` runs the
//! reference etcd 3.4.23 and must pass the same way).
//!
//! - A watch served by a FOLLOWER keeps going on the same stream while the leader is
//!   `kill -9`ed and a new one is elected, and what it received is ORDERED, UNIQUE, RELIABLE
//!   (every acknowledged write, no revision gap against the final state) and ATOMIC (a txn's
//!   events in one response); `prev_kv` is the key's previous version.
//! - A watch RESUMED from `last + 1` on a member that was `kill -9`ed and restarted misses and
//!   repeats nothing compared with the cluster history.
//! - 50 watchers on one stream on each of the 3 members see the same events in the same order.
//!
//! Each test starts its own cluster (killed by PID when dropped) and bounds every wait; the
//! whole test stays well under 60 s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxcd_integration_tests::grpc::{prefix_end, runtime};
use oxcd_integration_tests::{start_selected, Cluster};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::request_op::Request;
use oxcd_proto::etcdserverpb::watch_client::WatchClient;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::{
    DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, WatchCreateRequest,
    WatchRequest, WatchResponse,
};
use oxcd_proto::mvccpb::event::EventType;
use oxcd_proto::mvccpb::KeyValue;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Bound on one connect, one RPC or one receive while creating watchers.
const STEP: Duration = Duration::from_secs(5);
/// Bound on one write of a background writer (a write stuck in an election is given up).
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on a watcher catching up with the final revision.
const CATCH_UP: Duration = Duration::from_secs(15);
/// Bound on waiting for a new leader.
const ELECTION: Duration = Duration::from_secs(15);
/// Distinct keys per writer (keys are rewritten, so versions and `prev_kv` matter).
const KEYS_PER_WRITER: usize = 8;

/// Starts a 3-member cluster of the selected kind, or `None` (test skipped).
fn start3() -> Option<Cluster> {
    start_selected(3, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One event, reduced to what the guarantees compare.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ev {
    delete: bool,
    key: String,
    value: String,
    mod_rev: i64,
    create_rev: i64,
    version: i64,
}

impl Ev {
    fn from_kv(kv: &KeyValue, delete: bool) -> Ev {
        Ev {
            delete,
            key: text(&kv.key),
            value: text(&kv.value),
            mod_rev: kv.mod_revision,
            create_rev: kv.create_revision,
            version: kv.version,
        }
    }
}

/// One received event with its `prev_kv` and the index of the response that carried it.
#[derive(Debug, Clone)]
struct Flat {
    ev: Ev,
    prev: Option<Ev>,
    resp: usize,
}

/// A write a writer got a success answer for.
#[derive(Debug, Clone)]
enum Op {
    Put { key: String, value: String },
    Delete { key: String },
    Txn { keys: Vec<String>, value: String },
}

#[derive(Debug, Clone)]
struct Acked {
    rev: i64,
    op: Op,
}

/// Whom a background writer sends to; the test switches it (e.g. to a new leader).
type Target = Arc<Mutex<String>>;

/// Shared between the test and its writers: the stop flag and the highest acknowledged
/// revision.
#[derive(Default)]
struct Control {
    stop: AtomicBool,
    max_rev: AtomicI64,
}

impl Control {
    /// Waits (bounded by `within`) until some writer had a write at or after `rev`
    /// acknowledged.
    fn wait_rev(&self, rev: i64, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        while self.max_rev.load(Ordering::SeqCst) < rev {
            assert!(
                Instant::now() < deadline,
                "{what}: no write acknowledged at revision {rev} within {within:?} (highest {})",
                self.max_rev.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn connect_kv(url: &str) -> Option<KvClient<Channel>> {
    match timeout(STEP, KvClient::connect(url.to_string())).await {
        Ok(Ok(c)) => Some(c),
        _ => None,
    }
}

/// Writes under `prefix` until `stop`: puts to `{prefix}w{id}/{n}`, every 7th op a delete of
/// the key put just before, every 10th a txn putting `{prefix}t/a`, `t/b`, `t/c`. Failed or
/// timed-out writes are not acknowledged (they may still have been applied). Returns the
/// acknowledged writes and the number of failures.
async fn writer(
    id: usize,
    prefix: String,
    target: Target,
    ctl: Arc<Control>,
    max_ops: usize,
) -> (Vec<Acked>, usize) {
    let mut acked = Vec::new();
    let mut failed = 0;
    let mut client: Option<(String, KvClient<Channel>)> = None;
    let mut i = 0;
    while i < max_ops && !ctl.stop.load(Ordering::SeqCst) {
        let url = target.lock().expect("target lock").clone();
        if client.as_ref().map(|(u, _)| u != &url).unwrap_or(true) {
            client = connect_kv(&url).await.map(|c| (url.clone(), c));
            if client.is_none() {
                failed += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        let Some((_, kv)) = client.as_mut() else {
            continue;
        };
        let value = format!("w{id}-{i}");
        let (op, res) = if i % 10 == 9 {
            let keys: Vec<String> = ["a", "b", "c"]
                .iter()
                .map(|k| format!("{prefix}t/{k}"))
                .collect();
            let success = keys
                .iter()
                .map(|k| RequestOp {
                    request: Some(Request::RequestPut(PutRequest {
                        key: k.as_bytes().to_vec(),
                        value: value.as_bytes().to_vec(),
                        ..Default::default()
                    })),
                })
                .collect();
            let r = timeout(
                WRITE_TIMEOUT,
                kv.txn(TxnRequest {
                    success,
                    ..Default::default()
                }),
            )
            .await;
            let rev = match r {
                Ok(Ok(t)) => t.into_inner().header.map(|h| h.revision),
                _ => None,
            };
            (Op::Txn { keys, value }, rev)
        } else if i % 7 == 6 {
            let key = format!("{prefix}w{id}/{}", (i - 1) % KEYS_PER_WRITER);
            let r = timeout(
                WRITE_TIMEOUT,
                kv.delete_range(DeleteRangeRequest {
                    key: key.as_bytes().to_vec(),
                    ..Default::default()
                }),
            )
            .await;
            // A delete of an absent key makes no revision and no event.
            let rev = match r {
                Ok(Ok(d)) => {
                    let d = d.into_inner();
                    match d.header {
                        Some(h) if d.deleted > 0 => Some(h.revision),
                        Some(_) => Some(0),
                        None => None,
                    }
                }
                _ => None,
            };
            (Op::Delete { key }, rev)
        } else {
            let key = format!("{prefix}w{id}/{}", i % KEYS_PER_WRITER);
            let r = timeout(
                WRITE_TIMEOUT,
                kv.put(PutRequest {
                    key: key.as_bytes().to_vec(),
                    value: value.as_bytes().to_vec(),
                    ..Default::default()
                }),
            )
            .await;
            let rev = match r {
                Ok(Ok(p)) => p.into_inner().header.map(|h| h.revision),
                _ => None,
            };
            (Op::Put { key, value }, rev)
        };
        match res {
            Some(0) => {}
            Some(rev) => {
                ctl.max_rev.fetch_max(rev, Ordering::SeqCst);
                acked.push(Acked { rev, op });
            }
            None => {
                failed += 1;
                client = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        i += 1;
    }
    (acked, failed)
}

/// What a reader task forwards: a response, or why the stream ended.
type Received = Result<WatchResponse, String>;

/// One bidirectional watch stream; after [`WatchStream::spawn_reader`] its responses arrive
/// through a channel while the request sender stays here (so the stream is never half-closed).
///
/// The RPC is started by the first [`WatchStream::create`], after its request is queued: etcd
/// sends no response headers before its first message.
struct WatchStream {
    tx: mpsc::Sender<WatchRequest>,
    unstarted: Option<(WatchClient<Channel>, mpsc::Receiver<WatchRequest>)>,
    rx: Option<tonic::Streaming<WatchResponse>>,
}

impl WatchStream {
    async fn open(url: &str) -> WatchStream {
        let client = timeout(STEP, WatchClient::connect(url.to_string()))
            .await
            .unwrap_or_else(|_| panic!("watch connect to {url} timed out"))
            .unwrap_or_else(|e| panic!("watch connect to {url}: {e}"));
        let (tx, rx) = mpsc::channel(256);
        WatchStream {
            tx,
            unstarted: Some((client, rx)),
            rx: None,
        }
    }

    /// Creates a prefix watcher from `start_revision` (0 = now); returns its watch ID.
    async fn create(&mut self, prefix: &str, start_revision: i64, prev_kv: bool) -> i64 {
        self.tx
            .send(WatchRequest {
                request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                    key: prefix.as_bytes().to_vec(),
                    range_end: prefix_end(prefix),
                    start_revision,
                    prev_kv,
                    ..Default::default()
                })),
            })
            .await
            .expect("send create request");
        if let Some((mut client, requests)) = self.unstarted.take() {
            let rx = timeout(STEP, client.watch(ReceiverStream::new(requests)))
                .await
                .expect("watch rpc timed out")
                .expect("watch rpc")
                .into_inner();
            self.rx = Some(rx);
        }
        let rx = self.rx.as_mut().expect("create before spawn_reader");
        let r = timeout(STEP, rx.message())
            .await
            .expect("created response timed out")
            .expect("watch stream error")
            .expect("watch stream ended");
        assert!(
            r.created && !r.canceled && r.events.is_empty(),
            "expected a bare created response, got {r:?}"
        );
        r.watch_id
    }

    /// Moves the response half into a task forwarding every response (then the end reason).
    fn spawn_reader(&mut self, rt: &tokio::runtime::Runtime) -> mpsc::UnboundedReceiver<Received> {
        let mut rx = self.rx.take().expect("one reader per stream");
        let (out, recv) = mpsc::unbounded_channel();
        rt.spawn(async move {
            loop {
                let item = match rx.message().await {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => Err("stream ended".to_string()),
                    Err(s) => Err(format!("stream error: {s}")),
                };
                let end = item.is_err();
                if out.send(item).is_err() || end {
                    break;
                }
            }
        });
        recv
    }
}

/// Responses per watch ID.
type PerWatch = HashMap<i64, Vec<WatchResponse>>;

fn last_rev(resps: &[WatchResponse]) -> i64 {
    resps
        .iter()
        .rev()
        .find_map(|r| r.events.last())
        .and_then(|e| e.kv.as_ref())
        .map(|kv| kv.mod_revision)
        .unwrap_or(0)
}

fn lasts(got: &PerWatch) -> BTreeMap<i64, i64> {
    got.iter().map(|(id, r)| (*id, last_rev(r))).collect()
}

/// Files one response under its watch ID; a cancel or an unknown watch ID is an error.
fn file(got: &mut PerWatch, r: WatchResponse) -> Result<(), String> {
    if r.canceled {
        return Err(format!("watch canceled: {r:?}"));
    }
    match got.get_mut(&r.watch_id) {
        Some(v) => {
            v.push(r);
            Ok(())
        }
        None => Err(format!("response for unknown watch {}: {r:?}", r.watch_id)),
    }
}

/// Receives until every watcher in `got` has an event at or after `until`. Errors on a stream
/// error, a cancel, or when `within` elapses.
async fn collect_until(
    rx: &mut mpsc::UnboundedReceiver<Received>,
    got: &mut PerWatch,
    until: i64,
    within: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    while got.values().any(|r| last_rev(r) < until) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => {
                return Err(format!(
                    "timed out after {within:?} waiting for revision {until}; last per watch: {:?}",
                    lasts(got)
                ))
            }
            Ok(None) => return Err("reader task gone".to_string()),
            Ok(Some(Err(e))) => {
                return Err(format!("{e} (last per watch: {:?})", lasts(got)));
            }
            Ok(Some(Ok(r))) => file(got, r)?,
        }
    }
    Ok(())
}

/// Checks ORDERED (mod_revision strictly increasing across responses, non-decreasing within
/// one), ATOMIC (hence: no revision split over two responses) and UNIQUE (no (key, revision)
/// twice) on one watcher's responses, and returns its events in order.
fn check_stream(label: &str, resps: &[WatchResponse]) -> Vec<Flat> {
    let mut out = Vec::new();
    let mut prev_resp_last = 0;
    let mut seen = HashSet::new();
    for (ri, r) in resps.iter().enumerate() {
        assert!(!r.canceled, "{label}: canceled response {r:?}");
        let mut last_in_resp = prev_resp_last;
        for (ei, e) in r.events.iter().enumerate() {
            let kv =
                e.kv.as_ref()
                    .unwrap_or_else(|| panic!("{label}: event without kv in {r:?}"));
            let ev = Ev::from_kv(kv, e.r#type == EventType::Delete as i32);
            if ei == 0 {
                assert!(
                    ev.mod_rev > prev_resp_last,
                    "{label}: ORDERED/ATOMIC violated: response {ri} starts at revision {} \
                     after a response ending at {prev_resp_last}",
                    ev.mod_rev
                );
            } else {
                assert!(
                    ev.mod_rev >= last_in_resp,
                    "{label}: ORDERED violated inside response {ri}: {} after {last_in_resp}",
                    ev.mod_rev
                );
            }
            last_in_resp = ev.mod_rev;
            assert!(
                seen.insert((ev.key.clone(), ev.mod_rev)),
                "{label}: UNIQUE violated: {} at revision {} delivered twice",
                ev.key,
                ev.mod_rev
            );
            out.push(Flat {
                ev,
                prev: e.prev_kv.as_ref().map(|p| Ev::from_kv(p, false)),
                resp: ri,
            });
        }
        prev_resp_last = last_in_resp;
    }
    out
}

/// Checks RELIABLE: the events cover exactly revisions `first..=final_rev` (every revision of
/// this test writes under the watched prefix), include every acknowledged write with its
/// value, deliver each acknowledged txn's keys in op order in one response, and replay to the
/// final state.
fn check_reliable(
    label: &str,
    evs: &[Flat],
    acked: &[Acked],
    first: i64,
    final_rev: i64,
    final_kvs: &BTreeMap<String, Ev>,
) {
    let mut revs: Vec<i64> = evs.iter().map(|f| f.ev.mod_rev).collect();
    revs.dedup();
    let expected: Vec<i64> = (first..=final_rev).collect();
    if revs != expected {
        let have: HashSet<i64> = revs.iter().copied().collect();
        let missing: Vec<i64> = expected
            .iter()
            .copied()
            .filter(|r| !have.contains(r))
            .collect();
        panic!(
            "{label}: RELIABLE violated: revisions {first}..={final_rev} expected, {} distinct \
             seen; missing {:?}; beyond {:?}",
            revs.len(),
            missing.iter().take(20).collect::<Vec<_>>(),
            revs.iter().filter(|&&r| r > final_rev).collect::<Vec<_>>()
        );
    }
    let mut by_rev: BTreeMap<i64, Vec<&Flat>> = BTreeMap::new();
    for f in evs {
        by_rev.entry(f.ev.mod_rev).or_default().push(f);
    }
    for a in acked {
        let at = by_rev.get(&a.rev).map(Vec::as_slice).unwrap_or(&[]);
        let got: Vec<(bool, &str, &str)> = at
            .iter()
            .map(|f| (f.ev.delete, f.ev.key.as_str(), f.ev.value.as_str()))
            .collect();
        let want: Vec<(bool, &str, &str)> = match &a.op {
            Op::Put { key, value } => vec![(false, key, value)],
            Op::Delete { key } => vec![(true, key, "")],
            Op::Txn { keys, value } => keys
                .iter()
                .map(|k| (false, k.as_str(), value.as_str()))
                .collect(),
        };
        assert_eq!(
            got, want,
            "{label}: RELIABLE/ATOMIC violated for the acknowledged {:?} at revision {}",
            a.op, a.rev
        );
        if at.len() > 1 {
            assert!(
                at.iter().all(|f| f.resp == at[0].resp),
                "{label}: ATOMIC violated: txn at revision {} split over responses",
                a.rev
            );
        }
    }
    let mut state: BTreeMap<String, Ev> = BTreeMap::new();
    for f in evs {
        if f.ev.delete {
            state.remove(&f.ev.key);
        } else {
            state.insert(f.ev.key.clone(), f.ev.clone());
        }
    }
    assert_eq!(
        &state, final_kvs,
        "{label}: replaying the events does not give the final state"
    );
}

/// Checks that every event's `prev_kv` is the key's previous version in the same stream of
/// events (absent for a creation).
fn check_prev_kv(label: &str, evs: &[Flat]) {
    let mut state: HashMap<&str, &Ev> = HashMap::new();
    for f in evs {
        let expected = state.get(f.ev.key.as_str()).copied();
        assert_eq!(
            f.prev.as_ref(),
            expected,
            "{label}: wrong prev_kv for {:?}",
            f.ev
        );
        if f.ev.delete {
            state.remove(f.ev.key.as_str());
        } else {
            state.insert(&f.ev.key, &f.ev);
        }
    }
}

/// A linearizable range of `prefix` through the first of `urls` that answers: the header
/// revision and key -> state.
async fn final_state(urls: &[String], prefix: &str) -> (i64, BTreeMap<String, Ev>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last_err = String::new();
    while Instant::now() < deadline {
        for url in urls {
            let Some(mut kv) = connect_kv(url).await else {
                last_err = format!("connect {url}");
                continue;
            };
            let r = timeout(
                STEP,
                kv.range(RangeRequest {
                    key: prefix.as_bytes().to_vec(),
                    range_end: prefix_end(prefix),
                    ..Default::default()
                }),
            )
            .await;
            match r {
                Ok(Ok(r)) => {
                    let r = r.into_inner();
                    let rev = r.header.map(|h| h.revision).unwrap_or(0);
                    let kvs = r
                        .kvs
                        .iter()
                        .map(|kv| (text(&kv.key), Ev::from_kv(kv, false)))
                        .collect();
                    return (rev, kvs);
                }
                Ok(Err(e)) => last_err = format!("range on {url}: {e}"),
                Err(_) => last_err = format!("range on {url} timed out"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no linearizable range answered within 15 s: {last_err}");
}

/// The cluster's history of `prefix` from revision 1 to `until`, read with a fresh watch on
/// `url` (a member the scenario did not disturb).
async fn history(rt: &tokio::runtime::Runtime, url: &str, prefix: &str, until: i64) -> Vec<Ev> {
    let mut s = WatchStream::open(url).await;
    let id = s.create(prefix, 1, false).await;
    let mut rx = s.spawn_reader(rt);
    let mut got: PerWatch = HashMap::from([(id, Vec::new())]);
    collect_until(&mut rx, &mut got, until, CATCH_UP)
        .await
        .unwrap_or_else(|e| panic!("history watch on {url}: {e}"));
    check_stream("history", &got[&id])
        .into_iter()
        .map(|f| f.ev)
        .collect()
}

fn evs_only(evs: &[Flat]) -> Vec<Ev> {
    evs.iter().map(|f| f.ev.clone()).collect()
}

/// Asserts two event sequences are identical, naming the first difference.
fn assert_same_events(label: &str, got: &[Ev], want: &[Ev]) {
    if got != want {
        let i = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{label}: {} events vs {} in the reference; first difference at #{i}: {:?} vs {:?}",
            got.len(),
            want.len(),
            got.get(i),
            want.get(i)
        );
    }
}

fn spawn_writer(
    rt: &tokio::runtime::Runtime,
    id: usize,
    prefix: &str,
    target: &Target,
    ctl: &Arc<Control>,
    max_ops: usize,
) -> tokio::task::JoinHandle<(Vec<Acked>, usize)> {
    rt.spawn(writer(
        id,
        prefix.to_string(),
        target.clone(),
        ctl.clone(),
        max_ops,
    ))
}

/// Joins the writers (bounded) and returns their acknowledged writes sorted by revision, and
/// the total number of failed writes.
fn join_writers(
    rt: &tokio::runtime::Runtime,
    writers: Vec<tokio::task::JoinHandle<(Vec<Acked>, usize)>>,
) -> (Vec<Acked>, usize) {
    rt.block_on(async {
        let mut acked = Vec::new();
        let mut failed = 0;
        for w in writers {
            let (a, f) = timeout(WRITE_TIMEOUT + STEP + STEP, w)
                .await
                .expect("writer did not stop in time")
                .expect("writer task");
            acked.extend(a);
            failed += f;
        }
        acked.sort_by_key(|a| a.rev);
        (acked, failed)
    })
}

#[test]
fn a_follower_watch_survives_a_leader_kill() {
    let t0 = Instant::now();
    let Some(mut c) = start3() else { return };
    let rt = runtime();
    let leader = c.leader_index().expect("leader");
    let follower = (leader + 1) % 3;
    let other = (leader + 2) % 3;
    println!(
        "leader {}, watched follower {}, other {}",
        c.member(leader).name(),
        c.member(follower).name(),
        c.member(other).name()
    );
    let prefix = "wf/";

    // Watchers on the follower only: a prefix watcher and a prev_kv one, on one stream.
    let follower_url = c.member(follower).client_url();
    let (stream, plain, with_prev, mut rx) = rt.block_on(async {
        let mut s = WatchStream::open(&follower_url).await;
        let plain = s.create(prefix, 0, false).await;
        let with_prev = s.create(prefix, 0, true).await;
        let rx = s.spawn_reader(&rt);
        (s, plain, with_prev, rx)
    });

    // Writers through the two other members: one through the leader (then the new leader),
    // one through the other follower throughout.
    let ctl = Arc::new(Control::default());
    let via_leader: Target = Arc::new(Mutex::new(c.member(leader).client_url()));
    let via_other: Target = Arc::new(Mutex::new(c.member(other).client_url()));
    let writers = vec![
        spawn_writer(&rt, 0, prefix, &via_leader, &ctl, 100_000),
        spawn_writer(&rt, 1, prefix, &via_other, &ctl, 100_000),
    ];
    ctl.wait_rev(200, CATCH_UP, "before the kill");

    let mut got: PerWatch = HashMap::from([(plain, Vec::new()), (with_prev, Vec::new())]);
    rt.block_on(async {
        while let Ok(item) = rx.try_recv() {
            let r = item.unwrap_or_else(|e| panic!("before the kill: {e}"));
            file(&mut got, r).unwrap_or_else(|e| panic!("before the kill: {e}"));
        }
    });
    let seen_before_kill = last_rev(&got[&plain]);
    assert!(
        seen_before_kill > 1,
        "the follower's watcher saw no event before the kill"
    );
    c.kill9(leader).expect("kill -9 the leader");
    let killed_at = Instant::now();
    let new_leader = c.wait_leader(ELECTION).expect("a new leader");
    assert_ne!(new_leader, leader);
    println!(
        "killed leader {} (watcher had seen revision {seen_before_kill}); new leader {} after \
         {:?}",
        c.member(leader).name(),
        c.member(new_leader).name(),
        killed_at.elapsed()
    );
    let (elected_rev, _) = rt.block_on(final_state(&[c.member(new_leader).client_url()], prefix));
    *via_leader.lock().expect("target lock") = c.member(new_leader).client_url();
    ctl.wait_rev(elected_rev + 200, CATCH_UP, "after the election");
    ctl.stop.store(true, Ordering::SeqCst);
    let (acked, failed) = join_writers(&rt, writers);

    let live = vec![
        c.member(new_leader).client_url(),
        c.member(follower).client_url(),
        c.member(other).client_url(),
    ];
    let (final_rev, final_kvs) = rt.block_on(final_state(&live, prefix));
    let after_election = acked.iter().filter(|a| a.rev > elected_rev).count();
    println!(
        "{} acknowledged writes ({failed} failed), {after_election} after the election \
         (revision {elected_rev}); final revision {final_rev}",
        acked.len()
    );
    assert!(
        after_election > 0,
        "no write was acknowledged after the election"
    );

    // The same stream, never canceled nor broken, goes on to the final revision.
    rt.block_on(collect_until(&mut rx, &mut got, final_rev, CATCH_UP))
        .unwrap_or_else(|e| panic!("the follower's watch stream after the leader kill: {e}"));
    drop(stream);

    let plain_evs = check_stream("follower watcher", &got[&plain]);
    let prev_evs = check_stream("follower prev_kv watcher", &got[&with_prev]);
    assert!(
        plain_evs.iter().any(|f| f.ev.mod_rev > elected_rev),
        "no event after the election arrived on the original stream"
    );
    check_reliable(
        "follower watcher",
        &plain_evs,
        &acked,
        2,
        final_rev,
        &final_kvs,
    );
    check_reliable(
        "follower prev_kv watcher",
        &prev_evs,
        &acked,
        2,
        final_rev,
        &final_kvs,
    );
    check_prev_kv("follower prev_kv watcher", &prev_evs);
    let txns = acked
        .iter()
        .filter(|a| matches!(a.op, Op::Txn { .. }))
        .count();
    assert!(txns > 0, "no txn was acknowledged");

    // And both equal the history a fresh watch reads on the new leader.
    let reference = rt.block_on(history(&rt, &live[0], prefix, final_rev));
    assert_same_events("follower watcher", &evs_only(&plain_evs), &reference);
    assert_same_events("follower prev_kv watcher", &evs_only(&prev_evs), &reference);
    println!(
        "{} events in {} responses on the follower's stream ({txns} txns); test took {:?}",
        plain_evs.len(),
        got[&plain].len(),
        t0.elapsed()
    );
}

#[test]
fn a_watch_resumes_from_last_plus_one_after_a_member_restart() {
    let t0 = Instant::now();
    let Some(mut c) = start3() else { return };
    let rt = runtime();
    // The watched member is the leader: killing it also forces an election.
    let a = c.leader_index().expect("leader");
    let others: Vec<usize> = (0..3).filter(|&i| i != a).collect();
    let prefix = "rs/";
    let a_url = c.member(a).client_url();
    println!("watching on {} (the leader)", c.member(a).name());

    let (stream, id, mut rx) = rt.block_on(async {
        let mut s = WatchStream::open(&a_url).await;
        let id = s.create(prefix, 0, false).await;
        let rx = s.spawn_reader(&rt);
        (s, id, rx)
    });
    let ctl = Arc::new(Control::default());
    let writers: Vec<_> = others
        .iter()
        .enumerate()
        .map(|(w, &m)| {
            let target: Target = Arc::new(Mutex::new(c.member(m).client_url()));
            spawn_writer(&rt, w, prefix, &target, &ctl, 100_000)
        })
        .collect();

    // Watch until some events arrived, then kill -9 the member under the watch.
    let mut got: PerWatch = HashMap::from([(id, Vec::new())]);
    rt.block_on(collect_until(&mut rx, &mut got, 40, CATCH_UP))
        .unwrap_or_else(|e| panic!("watch on {} before the kill: {e}", c.member(a).name()));
    c.kill9(a).expect("kill -9 the watched member");
    // Everything it delivered before dying counts; then the stream must end.
    let end = rt.block_on(async {
        loop {
            match timeout(STEP, rx.recv()).await {
                Ok(Some(Ok(r))) => file(&mut got, r).unwrap_or_else(|e| panic!("{e}")),
                Ok(Some(Err(e))) => break e,
                Ok(None) => break "reader gone".to_string(),
                Err(_) => panic!("the stream of a killed member did not end"),
            }
        }
    });
    drop(stream);
    let first_part = check_stream("watch before the kill", &got[&id]);
    let last = last_rev(&got[&id]);
    println!(
        "killed {} at watched revision {last} ({end})",
        c.member(a).name()
    );

    // Writes go on while it is down, so it has entries to catch up on.
    ctl.wait_rev(last + 100, CATCH_UP, "while the watched member is down");
    let down_rev = ctl.max_rev.load(Ordering::SeqCst);
    c.restart(a).expect("restart the killed member");
    println!(
        "restarted {} (cluster at revision {down_rev} or later) after {:?}",
        c.member(a).name(),
        t0.elapsed()
    );
    ctl.wait_rev(down_rev + 100, CATCH_UP, "after the restart");
    ctl.stop.store(true, Ordering::SeqCst);
    let (acked, failed) = join_writers(&rt, writers);
    let urls: Vec<String> = others.iter().map(|&i| c.member(i).client_url()).collect();
    let (final_rev, final_kvs) = rt.block_on(final_state(&urls, prefix));
    println!(
        "{} acknowledged writes ({failed} failed); final revision {final_rev}",
        acked.len()
    );

    // Resume on the restarted member from last + 1.
    let second = rt.block_on(async {
        let mut s = WatchStream::open(&a_url).await;
        let id2 = s.create(prefix, last + 1, false).await;
        let mut rx2 = s.spawn_reader(&rt);
        let mut got2: PerWatch = HashMap::from([(id2, Vec::new())]);
        collect_until(&mut rx2, &mut got2, final_rev, CATCH_UP)
            .await
            .unwrap_or_else(|e| panic!("resumed watch on the restarted member: {e}"));
        got2.remove(&id2).unwrap_or_default()
    });
    let second_part = check_stream("resumed watch", &second);
    assert_eq!(
        second_part.first().map(|f| f.ev.mod_rev),
        Some(last + 1),
        "the resumed watch must start at last + 1"
    );
    let mut all = first_part;
    all.extend(second_part);
    let joined: Vec<WatchResponse> = got[&id].iter().chain(&second).cloned().collect();
    check_stream("watch before + after the restart", &joined);
    check_reliable(
        "watch before + after the restart",
        &all,
        &acked,
        2,
        final_rev,
        &final_kvs,
    );
    let reference = rt.block_on(history(&rt, &urls[0], prefix, final_rev));
    assert_same_events(
        "watch before + after the restart",
        &evs_only(&all),
        &reference,
    );
    println!(
        "{} events, none missing or repeated across the restart; test took {:?}",
        all.len(),
        t0.elapsed()
    );
}

#[test]
fn fifty_watchers_per_member_see_the_same_events_in_the_same_order() {
    const WATCHERS: usize = 50;
    let t0 = Instant::now();
    let Some(c) = start3() else { return };
    let rt = runtime();
    let prefix = "mw/";
    let urls: Vec<String> = (0..3).map(|i| c.member(i).client_url()).collect();

    // One stream per member with 50 prefix watchers (every other one with prev_kv).
    let mut streams = Vec::new();
    for url in &urls {
        let (s, ids, rx) = rt.block_on(async {
            let mut s = WatchStream::open(url).await;
            let mut ids = Vec::new();
            for w in 0..WATCHERS {
                ids.push(s.create(prefix, 0, w % 2 == 1).await);
            }
            let rx = s.spawn_reader(&rt);
            (s, ids, rx)
        });
        let unique: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), WATCHERS, "watch IDs on {url}: {ids:?}");
        streams.push((s, ids, rx));
    }

    let ctl = Arc::new(Control::default());
    let writers: Vec<_> = urls
        .iter()
        .enumerate()
        .map(|(w, url)| {
            let target: Target = Arc::new(Mutex::new(url.clone()));
            spawn_writer(&rt, w, prefix, &target, &ctl, 60)
        })
        .collect();
    let (acked, failed) = join_writers(&rt, writers);
    let (final_rev, final_kvs) = rt.block_on(final_state(&urls, prefix));
    println!(
        "{} acknowledged writes ({failed} failed); final revision {final_rev}",
        acked.len()
    );

    let mut reference: Option<Vec<Ev>> = None;
    for (m, (_stream, ids, rx)) in streams.iter_mut().enumerate() {
        let mut got: PerWatch = ids.iter().map(|id| (*id, Vec::new())).collect();
        rt.block_on(collect_until(rx, &mut got, final_rev, CATCH_UP))
            .unwrap_or_else(|e| panic!("m{m}'s stream: {e}"));
        for (w, id) in ids.iter().enumerate() {
            let label = format!("m{m} watcher {w} (id {id})");
            let evs = check_stream(&label, &got[id]);
            if w == 0 {
                check_reliable(&label, &evs, &acked, 2, final_rev, &final_kvs);
            }
            if w % 2 == 1 {
                check_prev_kv(&label, &evs);
            }
            let plain = evs_only(&evs);
            match &reference {
                None => reference = Some(plain),
                Some(r) => assert_same_events(&label, &plain, r),
            }
        }
    }
    let n = reference.as_ref().map(Vec::len).unwrap_or(0);
    println!(
        "{} watchers saw the same {n} events; test took {:?}",
        3 * WATCHERS,
        t0.elapsed()
    );
}
