//! oxcd-client's STM, namespaces, Mutex and Election, each test body run twice: against
//! etcd 3.4.23 (`<test>::etcd`) and against oxcd (`<test>::oxcd`).
//!
//! - STM: a bank of accounts under concurrent random transfers keeps its total and never
//!   goes negative, for every isolation level that guarantees it; and the four isolation
//!   levels retry exactly when Go's do (attempts counted in scripted conflicts).
//! - Namespaces: two namespaced clients on one server never see each other's keys in
//!   get/range/delete/txn/watch/lease TTL; a plain client sees the prefixed keys.
//! - Mutex: many tasks increment a shared counter read-modify-write under the lock, while
//!   `etcdctl lock` takes the same lock to do the same; no update is lost and no two
//!   critical sections (ours or etcdctl's) overlap in time.
//! - Election: candidates campaign together and resign in turn; an observer sees every
//!   leader once, in the order they were elected.
//!
//! Every test body is bounded by [`TEST_TIMEOUT`]; servers are killed by PID when their
//! handles drop.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oxcd_client::{
    Client, Code, Compare, CompareOp, ConnectOptions, DeleteOptions, Election, Error, EventType,
    GetOptions, Isolation, Mutex, PutOptions, Session, Stm, StmOptions, TxnOp, WatchOptions,
};
use oxcd_integration_tests::etcdctl::{etcdctl_binary, etcdctl_raw};
use oxcd_integration_tests::grpc::runtime;
use oxcd_integration_tests::{on_both_kinds, start_server, Kind, Server};
use rand::{Rng, SeedableRng};

const TEST_TIMEOUT: Duration = Duration::from_secs(120);

on_both_kinds!(
    stm_bank_transfers_keep_the_total,
    stm_isolation_levels_retry_as_go,
    namespaces_are_isolated,
    mutex_excludes_tasks_and_etcdctl_lock,
    election_observer_sees_leaders_in_order,
);

fn run<F: Future<Output = ()>>(f: F) {
    runtime().block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, f)
            .await
            .expect("test timed out")
    })
}

async fn connect(server: &Server) -> Client {
    let options = ConnectOptions {
        request_timeout: Duration::from_secs(5),
        ..ConnectOptions::default()
    };
    Client::connect(&[server.endpoint()], options)
        .await
        .expect("connect")
}

fn text(v: Option<Vec<u8>>) -> String {
    String::from_utf8(v.unwrap_or_default()).expect("utf-8 value")
}

fn keys(resp: &oxcd_client::RangeResponse) -> Vec<String> {
    resp.kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

/// Nanoseconds since the Unix epoch (comparable with `date +%s%N` in another process).
fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

fn stm_bank_transfers_keep_the_total(kind: Kind) {
    const ACCOUNTS: usize = 5;
    const INITIAL: i64 = 100;
    const TASKS: u64 = 6;
    const TRANSFERS: usize = 15;
    let server = start_server(kind, &[]);
    run(async {
        let client = connect(&server).await;
        for isolation in [
            Isolation::Serializable,
            Isolation::SerializableSnapshot,
            Isolation::RepeatableReads,
        ] {
            let prefix = format!("bank-{isolation:?}/");
            for a in 0..ACCOUNTS {
                client
                    .kv()
                    .put(
                        format!("{prefix}{a}"),
                        INITIAL.to_string(),
                        PutOptions::default(),
                    )
                    .await
                    .unwrap();
            }
            let attempts = Arc::new(AtomicU32::new(0));
            let mut tasks = Vec::new();
            for t in 0..TASKS {
                let (client, prefix, attempts) = (client.clone(), prefix.clone(), attempts.clone());
                tasks.push(tokio::spawn(async move {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(t);
                    for _ in 0..TRANSFERS {
                        let from = rng.gen_range(0..ACCOUNTS);
                        let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
                        let amount: i64 = rng.gen_range(1..=60);
                        let (from, to) = (format!("{prefix}{from}"), format!("{prefix}{to}"));
                        let options = StmOptions {
                            isolation,
                            ..StmOptions::default()
                        };
                        Stm::run(&client, options, |stm| {
                            let (from, to, attempts) = (from.clone(), to.clone(), attempts.clone());
                            Box::pin(async move {
                                attempts.fetch_add(1, Ordering::Relaxed);
                                let a: i64 = text(stm.get(from.clone()).await?).parse().unwrap();
                                let b: i64 = text(stm.get(to.clone()).await?).parse().unwrap();
                                if a >= amount {
                                    stm.put(from, (a - amount).to_string(), PutOptions::default());
                                    stm.put(to, (b + amount).to_string(), PutOptions::default());
                                }
                                Ok::<(), Error>(())
                            })
                        })
                        .await
                        .expect("transfer");
                    }
                }));
            }
            for t in tasks {
                t.await.expect("transfer task");
            }
            let resp = client
                .kv()
                .get(prefix.clone(), GetOptions::new().with_prefix())
                .await
                .unwrap();
            let balances: Vec<i64> = resp
                .kvs
                .iter()
                .map(|kv| String::from_utf8_lossy(&kv.value).parse().unwrap())
                .collect();
            assert_eq!(balances.len(), ACCOUNTS);
            assert!(
                balances.iter().all(|&b| b >= 0),
                "{isolation:?}: {balances:?}"
            );
            assert_eq!(
                balances.iter().sum::<i64>(),
                ACCOUNTS as i64 * INITIAL,
                "{isolation:?}: money made or lost: {balances:?}"
            );
            let transfers = TASKS as u32 * TRANSFERS as u32;
            let attempts = attempts.load(Ordering::Relaxed);
            assert!(attempts >= transfers);
            println!(
                "{} {isolation:?}: {transfers} transfers by {TASKS} tasks, {attempts} attempts \
                 ({} conflicts), balances {balances:?}",
                kind.label(),
                attempts - transfers
            );
        }
    });
}

/// Runs one STM transaction whose first attempt calls `interfere` (another client's
/// write) between its steps; returns how many attempts it took and what it read last.
async fn scripted(
    client: &Client,
    isolation: Isolation,
    script: fn(&mut Stm, bool, Client) -> oxcd_client::StmFuture<'_, Error>,
) -> u32 {
    let attempts = Arc::new(AtomicU32::new(0));
    let options = StmOptions {
        isolation,
        ..StmOptions::default()
    };
    let other = client.clone();
    Stm::run(client, options, |stm| {
        let first = attempts.fetch_add(1, Ordering::Relaxed) == 0;
        script(stm, first, other.clone())
    })
    .await
    .expect("stm");
    attempts.load(Ordering::Relaxed)
}

fn stm_isolation_levels_retry_as_go(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let client = connect(&server).await;
        let kv = client.kv();
        for k in ["a", "b", "c"] {
            kv.put(k, "0", PutOptions::default()).await.unwrap();
        }

        // Read a, another client changes b, read b, write a.
        fn read_skew(
            stm: &mut Stm,
            first: bool,
            other: Client,
        ) -> oxcd_client::StmFuture<'_, Error> {
            Box::pin(async move {
                let a = text(stm.get("a").await?);
                if first {
                    other
                        .kv()
                        .put("b", "changed", PutOptions::default())
                        .await?;
                }
                let b = text(stm.get("b").await?);
                if stm.isolation() == Isolation::Serializable && first {
                    // The snapshot of the first read: b as it was.
                    assert_eq!(b, "0");
                }
                stm.put("a", format!("{a}+{b}"), PutOptions::default());
                Ok(())
            })
        }
        // Serializable reads b at a's revision, so the commit sees b changed and retries
        // (with the read set prefetched); RepeatableReads reads b's new value and commits.
        assert_eq!(
            scripted(&client, Isolation::Serializable, read_skew).await,
            2
        );
        let a = text(
            client
                .kv()
                .get("a", GetOptions::new())
                .await
                .unwrap()
                .kvs
                .first()
                .map(|kv| kv.value.to_vec()),
        );
        assert_eq!(a, "0+changed");
        assert_eq!(
            scripted(&client, Isolation::RepeatableReads, read_skew).await,
            1
        );

        // Read a, another client changes c, blind write of c: only SerializableSnapshot
        // checks the write set against the first read's revision.
        fn blind_write(
            stm: &mut Stm,
            first: bool,
            other: Client,
        ) -> oxcd_client::StmFuture<'_, Error> {
            Box::pin(async move {
                stm.get("a").await?;
                if first {
                    other
                        .kv()
                        .put("c", "changed", PutOptions::default())
                        .await?;
                }
                stm.put("c", "mine", PutOptions::default());
                Ok(())
            })
        }
        assert_eq!(
            scripted(&client, Isolation::SerializableSnapshot, blind_write).await,
            2
        );
        assert_eq!(
            scripted(&client, Isolation::Serializable, blind_write).await,
            1
        );

        // Read a, another client changes a, write b: ReadCommitted checks nothing.
        fn lost_read(
            stm: &mut Stm,
            first: bool,
            other: Client,
        ) -> oxcd_client::StmFuture<'_, Error> {
            Box::pin(async move {
                stm.get("a").await?;
                if first {
                    other
                        .kv()
                        .put("a", "changed", PutOptions::default())
                        .await?;
                }
                stm.put("b", "x", PutOptions::default());
                Ok(())
            })
        }
        assert_eq!(
            scripted(&client, Isolation::ReadCommitted, lost_read).await,
            1
        );
        assert_eq!(
            scripted(&client, Isolation::RepeatableReads, lost_read).await,
            2
        );

        // An attempt reads its own writes, a deleted key reads as absent, and an error from
        // the function ends the transaction without writing.
        let resp = Stm::run(&client, StmOptions::default(), |stm| {
            Box::pin(async move {
                stm.put("d", "new", PutOptions::default());
                assert_eq!(text(stm.get("d").await?), "new");
                stm.delete("b");
                assert_eq!(stm.get("b").await?, None);
                assert_eq!(stm.rev("nonexistent").await?, 0);
                Ok::<(), Error>(())
            })
        })
        .await
        .unwrap();
        assert!(resp.succeeded);
        assert_eq!(
            client.kv().get("b", GetOptions::new()).await.unwrap().count,
            0
        );
        let e = Stm::run(&client, StmOptions::default(), |stm| {
            Box::pin(async move {
                stm.put("e", "never", PutOptions::default());
                Err(Error::WatchCanceled("abort".into()))
            })
        })
        .await
        .unwrap_err();
        assert!(matches!(e, Error::WatchCanceled(_)), "{e}");
        assert_eq!(
            client.kv().get("e", GetOptions::new()).await.unwrap().count,
            0
        );

        // Prefetch reads the listed keys up front, in one round trip per attempt.
        let options = StmOptions {
            isolation: Isolation::Serializable,
            prefetch: vec![b"a".to_vec(), b"c".to_vec()],
        };
        Stm::run(&client, options, |stm| {
            Box::pin(async move {
                let rev_a = stm.rev("a").await?;
                assert!(rev_a > 0);
                assert_eq!(text(stm.get("c").await?), "mine");
                Ok::<(), Error>(())
            })
        })
        .await
        .unwrap();
    });
}

fn namespaces_are_isolated(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let plain = connect(&server).await;
        let a = plain.with_namespace("tenant-a/");
        let b = plain.with_namespace("tenant-b/");
        assert_eq!(a.namespace(), b"tenant-a/");
        let put = PutOptions::default;
        let prev = || PutOptions {
            prev_kv: true,
            ..PutOptions::default()
        };

        // Watches first, so they see every change below.
        let watch = |c: &Client, key: &str| {
            let (c, key) = (c.clone(), key.to_string());
            async move {
                c.watch(
                    key,
                    WatchOptions {
                        prefix: true,
                        prev_kv: true,
                        ..WatchOptions::default()
                    },
                )
                .await
                .unwrap()
            }
        };
        let mut wa = watch(&a, "").await;
        let mut wb = watch(&b, "").await;
        let mut wall = watch(&plain, "tenant-").await;

        a.kv().put("k1", "a1", put()).await.unwrap();
        a.kv().put("k2", "a2", put()).await.unwrap();
        b.kv().put("k1", "b1", put()).await.unwrap();
        plain.kv().put("outside", "o", put()).await.unwrap();

        // get / range
        let r = a.kv().get("k1", GetOptions::new()).await.unwrap();
        assert_eq!(
            (keys(&r), &r.kvs[0].value[..]),
            (vec!["k1".to_string()], &b"a1"[..])
        );
        let r = b.kv().get("k1", GetOptions::new()).await.unwrap();
        assert_eq!(&r.kvs[0].value[..], b"b1");
        assert_eq!(b.kv().get("k2", GetOptions::new()).await.unwrap().count, 0);
        let r = a
            .kv()
            .get("", GetOptions::new().with_prefix())
            .await
            .unwrap();
        assert_eq!(keys(&r), ["k1", "k2"]);
        // From-key stops at the end of the namespace (not at tenant-b/ or "outside").
        let r = a
            .kv()
            .get("k", GetOptions::new().with_from_key())
            .await
            .unwrap();
        assert_eq!(keys(&r), ["k1", "k2"]);
        let r = b
            .kv()
            .get("k1", GetOptions::new().with_range_end("k9"))
            .await
            .unwrap();
        assert_eq!(keys(&r), ["k1"]);
        let r = plain
            .kv()
            .get("tenant-", GetOptions::new().with_prefix())
            .await
            .unwrap();
        assert_eq!(keys(&r), ["tenant-a/k1", "tenant-a/k2", "tenant-b/k1"]);
        let r = a.kv().put("k1", "a1'", prev()).await.unwrap();
        assert_eq!(&r.prev_kv.unwrap().key[..], b"k1");

        // txn: compares and operations in the namespace, responses stripped.
        let t = a
            .kv()
            .txn()
            .when([Compare::value("k1", CompareOp::Equal, "a1'")])
            .and_then([
                TxnOp::put("k3", "a3", put()),
                TxnOp::get("", GetOptions::new().with_prefix()),
            ])
            .commit()
            .await
            .unwrap();
        assert!(t.succeeded);
        let Some(oxcd_client::proto::etcdserverpb::response_op::Response::ResponseRange(r)) =
            &t.responses[1].response
        else {
            panic!("no range response: {t:?}");
        };
        assert_eq!(keys(r), ["k1", "k2", "k3"]);
        let t = b
            .kv()
            .txn()
            .when([Compare::value("k1", CompareOp::Equal, "a1'")])
            .and_then([TxnOp::put("k3", "never", put())])
            .or_else([TxnOp::delete("k9", DeleteOptions::default())])
            .commit()
            .await
            .unwrap();
        assert!(!t.succeeded, "b saw a's k1");
        assert_eq!(b.kv().get("k3", GetOptions::new()).await.unwrap().count, 0);

        // Lease TTL lists only the namespace's keys, stripped; the lease itself is shared.
        let lease = a.lease().grant(60, 0).await.unwrap().id;
        let leased = PutOptions {
            lease,
            ..PutOptions::default()
        };
        a.kv().put("leased", "x", leased.clone()).await.unwrap();
        plain.kv().put("outside-leased", "x", leased).await.unwrap();
        let ttl = a.lease().time_to_live(lease, true).await.unwrap();
        assert_eq!(ttl.keys, [b"leased".to_vec()]);
        let mut all = plain.lease().time_to_live(lease, true).await.unwrap().keys;
        all.sort();
        assert_eq!(
            all,
            [b"outside-leased".to_vec(), b"tenant-a/leased".to_vec()]
        );
        assert!(b
            .lease()
            .time_to_live(lease, true)
            .await
            .unwrap()
            .keys
            .is_empty());
        plain.lease().revoke(lease).await.unwrap();

        // delete
        let d = a
            .kv()
            .delete(
                "",
                DeleteOptions {
                    prefix: true,
                    prev_kv: true,
                    ..DeleteOptions::default()
                },
            )
            .await
            .unwrap();
        let mut deleted: Vec<_> = d
            .prev_kvs
            .iter()
            .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
            .collect();
        deleted.sort();
        assert_eq!(deleted, ["k1", "k2", "k3"]);
        let r = plain
            .kv()
            .get("", GetOptions::new().with_prefix())
            .await
            .unwrap();
        assert_eq!(keys(&r), ["outside", "tenant-b/k1"]);

        // An empty key is refused; a nested namespace appends its prefix.
        let e = a.kv().put("", "x", put()).await.unwrap_err();
        assert_eq!(e.code(), Some(Code::InvalidArgument), "{e}");
        assert_eq!(
            e.status().unwrap().message(),
            "etcdserver: key is not provided"
        );
        a.with_namespace("x/")
            .kv()
            .put("k", "v", put())
            .await
            .unwrap();
        assert_eq!(
            plain
                .kv()
                .get("tenant-a/x/k", GetOptions::new())
                .await
                .unwrap()
                .count,
            1
        );

        // watch: each namespace sees its own events, stripped; the plain watch sees all.
        async fn events(w: &mut oxcd_client::Watcher, n: usize) -> Vec<String> {
            let mut out = Vec::new();
            while out.len() < n {
                let resp = tokio::time::timeout(Duration::from_secs(10), w.next())
                    .await
                    .expect("watch event in time")
                    .expect("watch open")
                    .expect("watch response");
                for ev in resp.events {
                    let kv = ev.kv.as_ref().unwrap();
                    let prev = ev
                        .prev_kv
                        .as_ref()
                        .map(|p| format!(" prev {}", String::from_utf8_lossy(&p.key)))
                        .unwrap_or_default();
                    let kind = if ev.r#type() == EventType::Put {
                        "PUT"
                    } else {
                        "DELETE"
                    };
                    out.push(format!("{kind} {}{prev}", String::from_utf8_lossy(&kv.key)));
                }
            }
            out
        }
        assert_eq!(
            events(&mut wa, 10).await,
            [
                "PUT k1",
                "PUT k2",
                "PUT k1 prev k1",
                "PUT k3",
                "PUT leased",
                "DELETE leased prev leased",
                "DELETE k1 prev k1",
                "DELETE k2 prev k2",
                "DELETE k3 prev k3",
                "PUT x/k",
            ]
        );
        assert_eq!(events(&mut wb, 1).await, ["PUT k1"]);
        let all = events(&mut wall, 11).await;
        assert_eq!(all[0], "PUT tenant-a/k1");
        assert_eq!(all[2], "PUT tenant-b/k1");
        assert_eq!(all[10], "PUT tenant-a/x/k");
        // Nothing else arrives for b.
        let more = tokio::time::timeout(Duration::from_millis(300), wb.next()).await;
        assert!(more.is_err(), "b saw another namespace's event: {more:?}");
    });
}

fn mutex_excludes_tasks_and_etcdctl_lock(kind: Kind) {
    const TASKS: usize = 6;
    const ROUNDS: usize = 8;
    const CTL_ROUNDS: usize = 3;
    let server = start_server(kind, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("etcdctl-sections");
    // The command etcdctl runs while it holds the lock: a read-modify-write of the
    // counter with etcdctl, bracketed by wall-clock times.
    let script = dir.path().join("critical.sh");
    let endpoint = server.endpoint();
    let ctl = format!("{} --endpoints={endpoint}", etcdctl_binary().display());
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\ns=$(date +%s%N)\n\
             v=$({ctl} get --print-value-only counter)\n\
             {ctl} put counter $((v+1)) >/dev/null\n\
             e=$(date +%s%N)\necho \"$s $e\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();

    let sections: Arc<StdMutex<Vec<(u128, u128, String)>>> = Arc::default();
    run(async {
        let client = connect(&server).await;
        client
            .kv()
            .put("counter", "0", PutOptions::default())
            .await
            .unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let mut started_tx = Some(started_tx);
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let client = client.clone();
            let sections = sections.clone();
            let started = if t == 0 { started_tx.take() } else { None };
            tasks.push(tokio::spawn(async move {
                let session = Session::new(&client, 10).await.unwrap();
                let mut started = started;
                for _ in 0..ROUNDS {
                    let mut m = Mutex::lock(&session, "counter-lock").await.unwrap();
                    let start = now_ns();
                    let kv = client.kv();
                    let v = kv.get("counter", GetOptions::new()).await.unwrap();
                    let n: u64 = String::from_utf8_lossy(&v.kvs[0].value).parse().unwrap();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    kv.put("counter", (n + 1).to_string(), PutOptions::default())
                        .await
                        .unwrap();
                    let end = now_ns();
                    sections
                        .lock()
                        .unwrap()
                        .push((start, end, format!("task {t}")));
                    m.unlock().await.unwrap();
                    if let Some(s) = started.take() {
                        let _ = s.send(());
                    }
                }
            }));
        }
        // etcdctl takes the same lock while the tasks run.
        started_rx.await.unwrap();
        let ctl = tokio::task::spawn_blocking({
            let script = script.display().to_string();
            move || {
                for _ in 0..CTL_ROUNDS {
                    let out = etcdctl_raw(
                        &endpoint,
                        &["lock", "counter-lock", &script],
                        None,
                        Duration::from_secs(60),
                    )
                    .expect("etcdctl lock");
                    assert!(out.success(), "etcdctl lock: {out:?}");
                }
            }
        });
        for t in tasks {
            t.await.expect("locker task");
        }
        ctl.await.expect("etcdctl lock runs");
        let v = client.kv().get("counter", GetOptions::new()).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&v.kvs[0].value),
            (TASKS * ROUNDS + CTL_ROUNDS).to_string(),
            "an increment was lost"
        );
    });
    let mut all = sections.lock().unwrap().clone();
    let ctl: Vec<(u128, u128, String)> = std::fs::read_to_string(&log)
        .expect("etcdctl's sections")
        .lines()
        .map(|l| {
            let (s, e) = l.split_once(' ').expect("two times");
            (
                s.parse().unwrap(),
                e.parse().unwrap(),
                "etcdctl".to_string(),
            )
        })
        .collect();
    assert_eq!(ctl.len(), CTL_ROUNDS);
    let first_ctl = ctl[0].0;
    all.extend(ctl);
    all.sort();
    for w in all.windows(2) {
        assert!(
            w[0].1 <= w[1].0,
            "critical sections overlap: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    let before = all
        .iter()
        .filter(|s| s.2 != "etcdctl" && s.1 <= first_ctl)
        .count();
    let after = all
        .iter()
        .filter(|s| s.2 != "etcdctl" && s.0 >= first_ctl)
        .count();
    assert!(
        before > 0 && after > 0,
        "etcdctl did not take the lock while the tasks ran ({before} before, {after} after)"
    );
    println!(
        "{}: {} critical sections ({} by etcdctl lock), none overlapping; {before} task sections before etcdctl's first, {after} after",
        kind.label(),
        all.len(),
        CTL_ROUNDS
    );
}

fn election_observer_sees_leaders_in_order(kind: Kind) {
    const CANDIDATES: usize = 4;
    let server = start_server(kind, &[]);
    run(async {
        let client = connect(&server).await;
        let mut observer = Election::observe(&client, "leader");
        let seen = tokio::spawn(async move {
            let mut seen = Vec::new();
            while seen.len() < CANDIDATES {
                let r = observer.next().await.expect("observe");
                seen.push(String::from_utf8_lossy(&r.kvs[0].value).into_owned());
            }
            // Nothing more: each leader once.
            let more = tokio::time::timeout(Duration::from_millis(500), observer.next()).await;
            assert!(more.is_err(), "an extra leader was observed: {more:?}");
            seen
        });
        let (elected_tx, mut elected_rx) = tokio::sync::mpsc::channel(CANDIDATES);
        let mut resign = Vec::new();
        let mut tasks = Vec::new();
        for c in 0..CANDIDATES {
            let (client, elected_tx) = (client.clone(), elected_tx.clone());
            let (resign_tx, resign_rx) = tokio::sync::oneshot::channel::<()>();
            resign.push(Some(resign_tx));
            tasks.push(tokio::spawn(async move {
                let session = Session::new(&client, 10).await.unwrap();
                let mut e = Election::campaign(&session, "leader", &format!("candidate-{c}"))
                    .await
                    .unwrap();
                elected_tx.send(c).await.unwrap();
                resign_rx.await.unwrap();
                e.resign().await.unwrap();
            }));
        }
        let mut order = Vec::new();
        for _ in 0..CANDIDATES {
            let c = tokio::time::timeout(Duration::from_secs(10), elected_rx.recv())
                .await
                .expect("a candidate is elected")
                .unwrap();
            // Exactly one leader at a time.
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(elected_rx.try_recv().is_err(), "two leaders at once");
            order.push(format!("candidate-{c}"));
            resign[c].take().unwrap().send(()).unwrap();
        }
        for t in tasks {
            t.await.expect("candidate");
        }
        let seen = seen.await.expect("observer");
        assert_eq!(
            seen, order,
            "the observer's leaders differ from the elected order"
        );
        println!("{}: leaders in order {order:?}", kind.label());
    });
}
