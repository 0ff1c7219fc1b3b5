//! Watch guarantees of oxcd over gRPC (oxcd only, no reference run): ORDERED, UNIQUE and
//! RELIABLE delivery to many watchers under concurrent writers, RESUMABLE from `last_rev + 1`
//! (also across a `kill -9` + restart on the same data directory), BOOKMARKABLE progress
//! responses and ATOMIC delivery of one multi-key revision in one response.
//!
//! Every await is bounded by a timeout; the server is killed by PID when its handle drops.

use std::collections::HashMap;
use std::time::Duration;

use oxcd_integration_tests::grpc::{prefix_end, runtime};
use oxcd_integration_tests::{start_oxcd, Kind, Server, ServerOpts};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::request_op::Request;
use oxcd_proto::etcdserverpb::watch_client::WatchClient;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::{
    PutRequest, RequestOp, TxnRequest, WatchCancelRequest, WatchCreateRequest,
    WatchProgressRequest, WatchRequest, WatchResponse,
};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Bound on one receive or one RPC.
const STEP: Duration = Duration::from_secs(10);
/// Bound on collecting all events of a test phase.
const PHASE: Duration = Duration::from_secs(60);

async fn kv(server_endpoint: &str) -> KvClient<Channel> {
    timeout(STEP, KvClient::connect(server_endpoint.to_string()))
        .await
        .expect("kv connect timed out")
        .expect("kv connect")
}

/// One bidirectional watch stream.
struct WatchStream {
    tx: mpsc::Sender<WatchRequest>,
    rx: tonic::Streaming<WatchResponse>,
}

impl WatchStream {
    async fn open(endpoint: &str) -> WatchStream {
        Self::open_with(endpoint, Vec::new()).await
    }

    /// Opens a stream whose first requests are `first` (etcd sends the response headers
    /// only with its first response, so the call returns once one is due).
    async fn open_with(endpoint: &str, first: Vec<RequestUnion>) -> WatchStream {
        let mut client = timeout(STEP, WatchClient::connect(endpoint.to_string()))
            .await
            .expect("watch connect timed out")
            .expect("watch connect");
        let (tx, rx) = mpsc::channel(64);
        for req in first {
            tx.send(WatchRequest {
                request_union: Some(req),
            })
            .await
            .expect("queue watch request");
        }
        let rx = timeout(STEP, client.watch(ReceiverStream::new(rx)))
            .await
            .expect("watch rpc timed out")
            .expect("watch rpc")
            .into_inner();
        WatchStream { tx, rx }
    }

    async fn send(&self, req: RequestUnion) {
        self.tx
            .send(WatchRequest {
                request_union: Some(req),
            })
            .await
            .expect("send watch request");
    }

    async fn recv(&mut self) -> WatchResponse {
        timeout(STEP, self.rx.message())
            .await
            .expect("watch response timed out")
            .expect("watch stream error")
            .expect("watch stream ended")
    }

    /// Creates a prefix watcher from `start_revision` (0 = now); returns its watch ID.
    async fn create(&mut self, prefix: &str, start_revision: i64) -> i64 {
        self.send(RequestUnion::CreateRequest(WatchCreateRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: prefix_end(prefix),
            start_revision,
            ..Default::default()
        }))
        .await;
        let r = self.recv().await;
        assert!(r.created, "expected a created response, got {r:?}");
        assert!(!r.canceled, "watch canceled at creation: {r:?}");
        r.watch_id
    }
}

async fn put(kv: &mut KvClient<Channel>, key: &str, value: &str) -> i64 {
    let r = timeout(
        STEP,
        kv.put(PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            ..Default::default()
        }),
    )
    .await
    .expect("put timed out")
    .expect("put");
    r.into_inner().header.expect("put header").revision
}

/// Event revisions per watch ID, read from `stream` until every ID in `ids` has seen `until`.
/// Also returns every response (for per-response checks).
async fn collect(
    stream: &mut WatchStream,
    ids: &[i64],
    until: i64,
) -> (HashMap<i64, Vec<i64>>, Vec<WatchResponse>) {
    let mut seen: HashMap<i64, Vec<i64>> = ids.iter().map(|id| (*id, Vec::new())).collect();
    let mut all = Vec::new();
    let done = |seen: &HashMap<i64, Vec<i64>>| {
        seen.values()
            .all(|v| v.last().copied().unwrap_or(0) >= until)
    };
    let res = timeout(PHASE, async {
        while !done(&seen) {
            let r = stream.recv().await;
            assert!(!r.canceled, "unexpected cancel: {r:?}");
            if let Some(v) = seen.get_mut(&r.watch_id) {
                v.extend(
                    r.events
                        .iter()
                        .map(|e| e.kv.as_ref().map(|k| k.mod_revision).unwrap_or(-1)),
                );
            }
            all.push(r);
        }
    })
    .await;
    if res.is_err() {
        let lasts: Vec<(i64, Option<i64>)> = seen
            .iter()
            .map(|(id, v)| (*id, v.last().copied()))
            .collect();
        panic!("timed out waiting for revision {until}; last per watcher: {lasts:?}");
    }
    (seen, all)
}

#[test]
fn ordered_unique_reliable_many_watchers_concurrent_writers() {
    let Some(server) = start_oxcd() else { return };
    let ep = server.endpoint();
    runtime().block_on(async {
        let mut streams = [WatchStream::open(&ep).await, WatchStream::open(&ep).await];
        let mut ids: Vec<Vec<i64>> = vec![Vec::new(), Vec::new()];
        for i in 0..10 {
            let id = streams[i % 2].create("g/", 0).await;
            ids[i % 2].push(id);
        }
        // 4 concurrent writers, 500 puts each.
        let mut writers = Vec::new();
        for w in 0..4 {
            let mut client = kv(&ep).await;
            writers.push(tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..500 {
                    revs.push(put(&mut client, &format!("g/{w}/{i:04}"), &format!("{i}")).await);
                }
                revs
            }));
        }
        let mut put_revs = Vec::new();
        for w in writers {
            put_revs.extend(w.await.expect("writer task"));
        }
        put_revs.sort_unstable();
        let max = *put_revs.last().expect("some puts");
        let mut dedup = put_revs.clone();
        dedup.dedup();
        assert_eq!(dedup.len(), 2000, "every put has its own revision");
        for (stream, sids) in streams.iter_mut().zip(&ids) {
            let (seen, _) = collect(stream, sids, max).await;
            for (id, revs) in seen {
                assert!(
                    revs.windows(2).all(|w| w[0] < w[1]),
                    "watcher {id}: revisions not strictly increasing (ORDERED/UNIQUE)"
                );
                assert_eq!(
                    revs.len(),
                    put_revs.len(),
                    "watcher {id}: saw {} events for {} puts (RELIABLE)",
                    revs.len(),
                    put_revs.len()
                );
                assert_eq!(
                    revs, put_revs,
                    "watcher {id}: revisions differ from the puts'"
                );
            }
        }
    });
}

#[test]
fn resumable_bookmarkable_atomic() {
    let Some(server) = start_oxcd() else { return };
    let ep = server.endpoint();
    runtime().block_on(async {
        let mut client = kv(&ep).await;
        let mut stream = WatchStream::open(&ep).await;
        let w1 = stream.create("r/", 0).await;
        let mut first = Vec::new();
        for i in 0..50 {
            first.push(put(&mut client, &format!("r/{i:03}"), "a").await);
        }
        let last = *first.last().expect("puts");
        let (seen, _) = collect(&mut stream, &[w1], last).await;
        assert_eq!(seen[&w1], first, "first batch as put");

        // BOOKMARKABLE: a progress response (watch_id -1) is at or after every event so far.
        stream
            .send(RequestUnion::ProgressRequest(WatchProgressRequest {}))
            .await;
        let progress = timeout(PHASE, async {
            loop {
                let r = stream.recv().await;
                if r.events.is_empty() && !r.created && !r.canceled {
                    break r;
                }
                assert!(
                    r.events.is_empty(),
                    "no events expected before the progress response"
                );
            }
        })
        .await
        .expect("progress response timed out");
        assert_eq!(
            progress.watch_id, -1,
            "progress response watch_id: {progress:?}"
        );
        let prev = progress.header.as_ref().expect("progress header").revision;
        assert!(
            prev >= last,
            "progress revision {prev} < last event revision {last}"
        );

        // RESUMABLE: cancel, write while not watching, resume from last + 1.
        stream
            .send(RequestUnion::CancelRequest(WatchCancelRequest {
                watch_id: w1,
            }))
            .await;
        let c = timeout(PHASE, async {
            loop {
                let r = stream.recv().await;
                if r.canceled {
                    break r;
                }
            }
        })
        .await
        .expect("cancel response timed out");
        assert_eq!(c.watch_id, w1);
        let mut second = Vec::new();
        for i in 50..100 {
            second.push(put(&mut client, &format!("r/{i:03}"), "b").await);
        }
        let w2 = stream.create("r/", last + 1).await;
        let end = *second.last().expect("puts");
        let (seen, _) = collect(&mut stream, &[w2], end).await;
        assert_eq!(
            seen[&w2], second,
            "resumed watch must continue without gaps"
        );
        assert_eq!(
            seen[&w2].first().copied(),
            Some(last + 1),
            "no gap at resume"
        );

        // ATOMIC: one txn of 3 puts = one revision = one response with 3 events.
        let ops = ["r/t1", "r/t2", "r/t3"]
            .iter()
            .map(|k| RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key: k.as_bytes().to_vec(),
                    value: b"t".to_vec(),
                    ..Default::default()
                })),
            })
            .collect();
        let t = timeout(
            STEP,
            client.txn(TxnRequest {
                success: ops,
                ..Default::default()
            }),
        )
        .await
        .expect("txn timed out")
        .expect("txn")
        .into_inner();
        let trev = t.header.expect("txn header").revision;
        let r = stream.recv().await;
        assert_eq!(r.watch_id, w2);
        let revs: Vec<i64> = r
            .events
            .iter()
            .map(|e| e.kv.as_ref().map(|k| k.mod_revision).unwrap_or(-1))
            .collect();
        assert_eq!(
            revs,
            vec![trev; 3],
            "the txn's 3 events in one response: {r:?}"
        );
    });
}

#[test]
fn resume_across_kill9_restart() {
    let Some(mut server) = start_oxcd() else {
        return;
    };
    let ep = server.endpoint();
    let rt = runtime();
    let (last, unwatched) = rt.block_on(async {
        let mut client = kv(&ep).await;
        let mut stream = WatchStream::open(&ep).await;
        let w = stream.create("k/", 0).await;
        let mut watched = Vec::new();
        for i in 0..30 {
            watched.push(put(&mut client, &format!("k/{i:03}"), "a").await);
        }
        let last = *watched.last().expect("puts");
        let (seen, _) = collect(&mut stream, &[w], last).await;
        assert_eq!(seen[&w], watched);
        // Acknowledged writes the watcher has not seen yet.
        let mut unwatched = Vec::new();
        for i in 30..40 {
            unwatched.push(put(&mut client, &format!("k/{i:03}"), "b").await);
        }
        (last, unwatched)
    });
    drop(rt);
    server.kill9().expect("kill -9");
    server.restart().expect("restart on the same data dir");
    runtime().block_on(async {
        let mut client = kv(&ep).await;
        let mut expected = unwatched;
        for i in 40..60 {
            expected.push(put(&mut client, &format!("k/{i:03}"), "c").await);
        }
        let mut stream = WatchStream::open(&ep).await;
        let w = stream.create("k/", last + 1).await;
        let end = *expected.last().expect("puts");
        let (seen, _) = collect(&mut stream, &[w], end).await;
        assert_eq!(
            seen[&w].first().copied(),
            Some(last + 1),
            "no gap across restart"
        );
        assert_eq!(
            seen[&w], expected,
            "every revision after last_rev, once, in order"
        );
    });
}

/// Catch-up with `fragment` and `prev_kv` over gRPC, on etcd 3.4.23 and on oxcd, both with
/// `--max-request-bytes 16384` (a watch response may take that plus 512 KiB before it is
/// split, as in etcd): a watcher from the first revision gets every event once, in order,
/// with the previous values; a fragment watcher's responses are split (every piece but the
/// last flagged `fragment`), each piece with several events stays under the limit, and a
/// plain watcher on the same stream gets the same events unsplit.
#[test]
fn fragmented_prev_kv_catch_up_on_etcd_and_oxcd() {
    use prost::Message;
    for kind in [Kind::Etcd, Kind::Oxcd] {
        if !oxcd_integration_tests::kind_available(kind) {
            continue;
        }
        let server = Server::start(kind, ServerOpts::with_args(&["--max-request-bytes=16384"]))
            .expect("start server");
        let ep = server.endpoint();
        runtime().block_on(async {
            let mut kv = kv(&ep).await;
            let value = |round: usize, i: usize| format!("{round}-{i}-{}", "v".repeat(10_000));
            let mut first = 0;
            let mut want = Vec::new();
            for round in 0..2 {
                for i in 0..20 {
                    let rev = put(&mut kv, &format!("frag/{i:02}"), &value(round, i)).await;
                    if first == 0 {
                        first = rev;
                    }
                    want.push((rev, round, i));
                }
            }
            let creates = [true, false]
                .map(|fragment| {
                    RequestUnion::CreateRequest(WatchCreateRequest {
                        key: b"frag/".to_vec(),
                        range_end: prefix_end("frag/"),
                        start_revision: first,
                        prev_kv: true,
                        fragment,
                        ..Default::default()
                    })
                })
                .to_vec();
            let mut ws = WatchStream::open_with(&ep, creates).await;
            let mut ids = Vec::new();
            let mut early = Vec::new();
            while ids.len() < 2 {
                let r = ws.recv().await;
                if r.created {
                    assert!(!r.canceled, "{kind:?}: {r:?}");
                    ids.push(r.watch_id);
                } else {
                    // The first watcher's catch-up may overtake the second create reply.
                    early.push(r);
                }
            }
            let mut got: HashMap<i64, Vec<(i64, String, Option<String>)>> = HashMap::new();
            let mut fragments = 0;
            let mut pending_fragment = false;
            let done = |got: &HashMap<i64, Vec<_>>| {
                ids.iter().all(|id| got.get(id).map_or(0, Vec::len) >= 40)
            };
            timeout(PHASE, async {
                let mut early = early.into_iter();
                while !done(&got) {
                    let r = match early.next() {
                        Some(r) => r,
                        None => ws.recv().await,
                    };
                    if r.watch_id == ids[0] {
                        if r.fragment {
                            fragments += 1;
                        }
                        if r.events.len() > 1 {
                            assert!(
                                r.encoded_len() <= 16384 + 512 * 1024,
                                "{kind:?}: piece of {} bytes",
                                r.encoded_len()
                            );
                        }
                        pending_fragment = r.fragment;
                    } else {
                        assert!(!r.fragment, "{kind:?}: plain watcher got a fragment");
                    }
                    for e in &r.events {
                        let kv = e.kv.as_ref().unwrap();
                        let value = String::from_utf8(kv.value.to_vec()).unwrap();
                        let prev = e
                            .prev_kv
                            .as_ref()
                            .map(|p| String::from_utf8(p.value.to_vec()).unwrap());
                        got.entry(r.watch_id)
                            .or_default()
                            .push((kv.mod_revision, value, prev));
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{kind:?}: events in time"));
            assert!(!pending_fragment, "{kind:?}: last piece flagged fragment");
            assert!(
                fragments > 0,
                "{kind:?}: 1.2 MB of events were not fragmented"
            );
            let expected: Vec<(i64, String, Option<String>)> = want
                .iter()
                .map(|&(rev, round, i)| (rev, value(round, i), (round == 1).then(|| value(0, i))))
                .collect();
            for id in &ids {
                assert_eq!(got[id], expected, "{kind:?}: watcher {id}");
            }
        });
    }
}
