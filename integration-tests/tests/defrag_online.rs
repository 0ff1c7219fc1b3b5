//! Online defragmentation (issue 16): oxcd's `Defragment` compacts RocksDB's ranges in the
//! background of the server, so puts from several concurrent clients go on while it runs:
//! none fails, puts are acknowledged while the defrag is in progress, every acknowledged
//! put reads back afterwards, and `dbSize` in `Status` drops once a compacted database is
//! defragmented. (etcd 3.4.23 blocks every write while its defrag rewrites bbolt; the
//! side-by-side latencies are `make defrag-bench`'s.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_integration_tests::grpc::{channel, prefix_end, runtime, status_text};
use oxcd_integration_tests::{Kind, Server, ServerOpts};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_proto::etcdserverpb::{
    CompactionRequest, DefragmentRequest, DeleteRangeRequest, PutRequest, RangeRequest,
    StatusRequest,
};

/// Concurrent writers during the defrag.
const WRITERS: usize = 4;
/// Garbage made before the defrag: this many puts of [`GARBAGE_VALUE`] bytes, then deleted.
const GARBAGE_PUTS: usize = 4096;
const GARBAGE_VALUE: usize = 16 * 1024;
/// Bound on one put.
const PUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes that do not compress (LZ4 would shrink a repeated pattern to nothing).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

async fn db_size(endpoint: &str) -> i64 {
    let mut m = MaintenanceClient::new(channel(endpoint).await);
    m.status(StatusRequest {})
        .await
        .expect("status")
        .into_inner()
        .db_size
}

/// One acknowledged put and when it ran.
struct Acked {
    key: String,
    value: Vec<u8>,
    started: Instant,
    done: Instant,
}

#[test]
fn puts_go_on_during_a_defrag_and_db_size_drops() {
    let mut server = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    let ep = server.endpoint();
    let rt = runtime();
    rt.block_on(async {
        // Garbage: GARBAGE_PUTS values, deleted, the revision compacted.
        let mut loaders = Vec::new();
        for t in 0..8usize {
            let ep = ep.clone();
            loaders.push(tokio::spawn(async move {
                let mut kv = KvClient::new(channel(&ep).await);
                for i in (t..GARBAGE_PUTS).step_by(8) {
                    kv.put(PutRequest {
                        key: format!("garbage/{i:05}").into_bytes(),
                        value: noise(i as u64, GARBAGE_VALUE),
                        ..Default::default()
                    })
                    .await
                    .expect("garbage put");
                }
            }));
        }
        for l in loaders {
            l.await.expect("loader");
        }
        let mut kv = KvClient::new(channel(&ep).await);
        let del = kv
            .delete_range(DeleteRangeRequest {
                key: b"garbage/".to_vec(),
                range_end: prefix_end("garbage/"),
                ..Default::default()
            })
            .await
            .expect("delete")
            .into_inner();
        assert_eq!(del.deleted, GARBAGE_PUTS as i64);
        let rev = del.header.expect("header").revision;
        kv.compact(CompactionRequest {
            revision: rev,
            physical: true,
        })
        .await
        .expect("compact");
        let before = db_size(&ep).await;
        assert!(
            before > (GARBAGE_PUTS * GARBAGE_VALUE / 2) as i64,
            "dbSize {before} before the defrag"
        );

        // Writers, then one defrag while they run.
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (ep, stop) = (ep.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut kv = KvClient::new(channel(&ep).await);
                let mut acked = Vec::new();
                let mut failed = Vec::new();
                for n in 0..100_000usize {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let key = format!("live/{w}/{n:06}");
                    let value = noise((w * 1_000_000 + n) as u64, 1024);
                    let started = Instant::now();
                    let put = kv.put(PutRequest {
                        key: key.clone().into_bytes(),
                        value: value.clone(),
                        ..Default::default()
                    });
                    match tokio::time::timeout(PUT_TIMEOUT, put).await {
                        Ok(Ok(_)) => acked.push(Acked {
                            key,
                            value,
                            started,
                            done: Instant::now(),
                        }),
                        Ok(Err(st)) => failed.push(format!("{key}: {}", status_text(&st))),
                        Err(_) => failed.push(format!("{key}: no answer in {PUT_TIMEOUT:?}")),
                    }
                }
                (acked, failed)
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut m = MaintenanceClient::new(channel(&ep).await);
        let d0 = Instant::now();
        tokio::time::timeout(Duration::from_secs(120), m.defragment(DefragmentRequest {}))
            .await
            .expect("defrag finished within 2 minutes")
            .expect("defrag");
        let d1 = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::SeqCst);
        let mut acked = Vec::new();
        let mut failed = Vec::new();
        for w in writers {
            let (a, f) = w.await.expect("writer");
            acked.extend(a);
            failed.extend(f);
        }
        let after = db_size(&ep).await;

        assert!(failed.is_empty(), "puts failed during the defrag: {failed:?}");
        let inside = acked
            .iter()
            .filter(|a| a.started >= d0 && a.done <= d1)
            .count();
        eprintln!(
            "defrag took {:?}; {} puts acknowledged, {inside} of them started and answered while it ran; dbSize {before} -> {after}",
            d1 - d0,
            acked.len()
        );
        assert!(
            inside > 0,
            "no put was answered while the defrag ran ({:?})",
            d1 - d0
        );
        assert!(
            after < before / 2,
            "dbSize did not drop: {before} before the defrag, {after} after"
        );

        // Every acknowledged put reads back with its value.
        let got = kv
            .clone()
            .max_decoding_message_size(usize::MAX)
            .range(RangeRequest {
                key: b"live/".to_vec(),
                range_end: prefix_end("live/"),
                ..Default::default()
            })
            .await
            .expect("range")
            .into_inner();
        let stored: BTreeMap<Vec<u8>, Vec<u8>> =
            got.kvs.into_iter().map(|kv| (kv.key.to_vec(), kv.value.to_vec())).collect();
        for a in &acked {
            assert_eq!(
                stored.get(a.key.as_bytes()),
                Some(&a.value),
                "acknowledged put {} is missing or different",
                a.key
            );
        }
    });
    server.stop().expect("stop");
}
