//! oxcd-client against real servers, each test body run twice: against etcd 3.4.23
//! (`<test>::etcd`) and against oxcd (`<test>::oxcd`): KV and the txn builder, the lease keeper, a
//! watch that survives `kill -9` of its member, and auth with a transparent token renewal.
//!
//! Every test body is bounded by [`TEST_TIMEOUT`]; servers are killed by PID when their
//! handles drop.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use oxcd_client::{
    prefix_end, Client, Code, Compare, CompareOp, ConnectOptions, DeleteOptions, Error, EventType,
    GetOptions, KeeperState, PermissionType, PutOptions, SortOrder, SortTarget, TxnOp,
    WatchOptions,
};
use oxcd_integration_tests::grpc::runtime;
use oxcd_integration_tests::{kind_available, on_both_kinds, start_server, Cluster, Kind};

const TEST_TIMEOUT: Duration = Duration::from_secs(120);

on_both_kinds!(
    kv_roundtrip_txn_and_prefix_get,
    lease_keeper_keeps_alive_then_reports_revoked,
    watch_survives_kill9_of_its_member_without_lost_or_repeated_events,
    watch_reports_compaction,
    auth_prefix_permission_and_transparent_reauth,
    get_fails_over_but_put_is_not_resent,
    lease_keeper_survives_kill9_of_the_leader_it_talks_to,
);

/// Starts a 3-member cluster of `kind`.
fn start_cluster(kind: Kind) -> Cluster {
    assert!(kind_available(kind));
    Cluster::start(kind, 3, &[])
        .unwrap_or_else(|e| panic!("start a 3-member {} cluster: {e}", kind.label()))
}

/// Runs `f` on a fresh runtime, bounded by [`TEST_TIMEOUT`].
fn run<F: Future<Output = ()>>(f: F) {
    runtime().block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, f)
            .await
            .expect("test timed out")
    })
}

async fn connect(endpoints: &[String], user: Option<(&str, &str)>) -> Client {
    let options = ConnectOptions {
        user: user.map(|(u, p)| (u.to_string(), p.to_string())),
        request_timeout: Duration::from_secs(5),
        ..ConnectOptions::default()
    };
    Client::connect(endpoints, options).await.expect("connect")
}

fn keys(resp: &oxcd_client::RangeResponse) -> Vec<String> {
    resp.kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

fn kv_roundtrip_txn_and_prefix_get(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let client = connect(&[server.endpoint()], None).await;
        let kv = client.kv();
        let p1 = kv.put("a/1", "one", PutOptions::default()).await.unwrap();
        kv.put("a/2", "two", PutOptions::default()).await.unwrap();
        kv.put("a/3", "three", PutOptions::default()).await.unwrap();
        kv.put("b/1", "other", PutOptions::default()).await.unwrap();
        let r = kv
            .put(
                "a/1",
                "uno",
                PutOptions {
                    lease: 0,
                    prev_kv: true,
                    ..PutOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(&r.prev_kv.unwrap().value[..], b"one");

        let r = kv.get("a/1", GetOptions::new()).await.unwrap();
        assert_eq!(&r.kvs[0].value[..], b"uno");
        assert_eq!(r.kvs[0].version, 2);

        let r = kv.get("a/", GetOptions::new().with_prefix()).await.unwrap();
        assert_eq!(keys(&r), ["a/1", "a/2", "a/3"]);
        let r = kv
            .get(
                "a/",
                GetOptions::new()
                    .with_prefix()
                    .with_sort(SortTarget::Key, SortOrder::Descend)
                    .with_limit(2),
            )
            .await
            .unwrap();
        assert_eq!(keys(&r), ["a/3", "a/2"]);
        assert!(r.more);
        let r = kv
            .get("a/", GetOptions::new().with_prefix().with_count_only())
            .await
            .unwrap();
        assert_eq!((r.count, r.kvs.len()), (3, 0));
        let r = kv
            .get(
                "a/",
                GetOptions::new()
                    .with_prefix()
                    .with_keys_only()
                    .with_serializable(),
            )
            .await
            .unwrap();
        assert!(r.kvs.iter().all(|kv| kv.value.is_empty()));
        let r = kv
            .get("a/2", GetOptions::new().with_from_key())
            .await
            .unwrap();
        assert_eq!(keys(&r), ["a/2", "a/3", "b/1"]);
        let r = kv
            .get("a/1", GetOptions::new().with_range_end("a/3"))
            .await
            .unwrap();
        assert_eq!(keys(&r), ["a/1", "a/2"]);
        let first = p1.header.unwrap().revision;
        let r = kv
            .get("a/1", GetOptions::new().with_revision(first))
            .await
            .unwrap();
        assert_eq!(&r.kvs[0].value[..], b"one");

        // Txn: compare-and-swap on the value, then on the version.
        let t = kv
            .txn()
            .when([Compare::value("a/1", CompareOp::Equal, "uno")])
            .and_then([
                TxnOp::put("a/1", "eins", PutOptions::default()),
                TxnOp::get("a/1", GetOptions::new()),
            ])
            .or_else([TxnOp::get("a/2", GetOptions::new())])
            .commit()
            .await
            .unwrap();
        assert!(t.succeeded);
        assert_eq!(t.responses.len(), 2);
        let t = kv
            .txn()
            .when([
                Compare::version("a/1", CompareOp::Greater, 5),
                Compare::create_revision("a/1", CompareOp::Equal, first),
            ])
            .and_then([TxnOp::delete(
                "a/",
                DeleteOptions {
                    prefix: true,
                    prev_kv: false,
                    ..DeleteOptions::default()
                },
            )])
            .or_else([TxnOp::get(
                "a/",
                GetOptions::new().with_prefix().with_count_only(),
            )])
            .commit()
            .await
            .unwrap();
        assert!(!t.succeeded);
        let cur = kv.get("a/1", GetOptions::new()).await.unwrap().kvs[0].mod_revision;
        let t = kv
            .txn()
            .when([Compare::mod_revision("a/1", CompareOp::Equal, cur)])
            .and_then([TxnOp::delete("a/3", DeleteOptions::default())])
            .commit()
            .await
            .unwrap();
        assert!(t.succeeded);

        let d = kv
            .delete(
                "a/",
                DeleteOptions {
                    prefix: true,
                    prev_kv: true,
                    ..DeleteOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(d.deleted, 2);
        assert_eq!(d.prev_kvs.len(), 2);
        assert_eq!(
            kv.get("", GetOptions::new().with_prefix().with_count_only())
                .await
                .unwrap()
                .count,
            1
        );
        assert_eq!(prefix_end(b""), b"\0");

        // Compact, then an old revision is gone.
        let rev = kv
            .get("b/1", GetOptions::new())
            .await
            .unwrap()
            .header
            .unwrap()
            .revision;
        kv.compact(rev).await.unwrap();
        let e = kv
            .get("a/1", GetOptions::new().with_revision(first))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(Code::OutOfRange), "{e}");
    });
}

fn lease_keeper_keeps_alive_then_reports_revoked(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let client = connect(&[server.endpoint()], None).await;
        let lease = client.lease();
        let id = lease.grant(2, 0).await.unwrap().id;
        client
            .kv()
            .put(
                "leased",
                "v",
                PutOptions {
                    lease: id,
                    prev_kv: false,
                    ..PutOptions::default()
                },
            )
            .await
            .unwrap();
        let mut keeper = lease.keep_alive(id);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            matches!(keeper.state(), KeeperState::Alive(_)),
            "{:?}",
            keeper.state()
        );
        let ttl = lease.time_to_live(id, true).await.unwrap();
        assert!(ttl.ttl > 0, "lease expired despite the keeper: {ttl:?}");
        assert_eq!(ttl.keys, [b"leased".to_vec()]);
        assert!(lease
            .leases()
            .await
            .unwrap()
            .leases
            .iter()
            .any(|l| l.id == id));
        assert_eq!(
            client
                .kv()
                .get("leased", GetOptions::new())
                .await
                .unwrap()
                .count,
            1
        );

        lease.revoke(id).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), keeper.lost())
            .await
            .expect("keeper did not report the revoked lease lost");
        assert!(keeper.is_lost());
        assert_eq!(
            client
                .kv()
                .get("leased", GetOptions::new())
                .await
                .unwrap()
                .count,
            0
        );
        assert_eq!(lease.time_to_live(id, false).await.unwrap().ttl, -1);
    });
}

fn watch_survives_kill9_of_its_member_without_lost_or_repeated_events(kind: Kind) {
    let mut cluster = start_cluster(kind);
    let endpoints: Vec<String> = (0..3).map(|i| cluster.endpoint(i)).collect();
    let rt = runtime();
    const N: usize = 60;
    const KILL_AT: usize = 20;
    rt.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let client = connect(&endpoints, None).await;
            let mut watcher = client
                .watch(
                    "w/",
                    WatchOptions {
                        prefix: true,
                        ..WatchOptions::default()
                    },
                )
                .await
                .unwrap();
            let watched = (0..3)
                .find(|&i| {
                    watcher
                        .endpoint()
                        .ends_with(&format!(":{}", cluster.client_port(i)))
                })
                .expect("watch endpoint is a member");
            let others: Vec<String> = (0..3)
                .filter(|&i| i != watched)
                .map(|i| cluster.endpoint(i))
                .collect();
            // The writer: create-if-absent txns, so resending after an error never makes a
            // second event for a key.
            let writer = connect(&others, None).await;
            let (killed_tx, killed_rx) = tokio::sync::oneshot::channel::<()>();
            let write = tokio::spawn(async move {
                let mut killed_rx = Some(killed_rx);
                for n in 0..N {
                    if n == KILL_AT {
                        let _ = killed_rx.take().unwrap().await;
                    }
                    let key = format!("w/{n:03}");
                    loop {
                        let r = writer
                            .kv()
                            .txn()
                            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                            .and_then([TxnOp::put(key.clone(), "v", PutOptions::default())])
                            .commit()
                            .await;
                        match r {
                            Ok(_) => break,
                            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            let mut seen: BTreeMap<String, i64> = BTreeMap::new();
            let mut last_rev = 0;
            let mut killed = false;
            let mut errors = 0;
            let mut killed_tx = Some(killed_tx);
            while seen.len() < N {
                let resp = match watcher.next().await.expect("watch ended") {
                    Ok(r) => r,
                    Err(e) => {
                        errors += 1;
                        assert!(errors < 20, "watch keeps failing: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                for ev in resp.events {
                    assert_eq!(ev.r#type(), EventType::Put);
                    let kv = ev.kv.unwrap();
                    assert!(
                        kv.mod_revision > last_rev,
                        "revision went back: {} after {last_rev}",
                        kv.mod_revision
                    );
                    last_rev = kv.mod_revision;
                    let key = String::from_utf8_lossy(&kv.key).into_owned();
                    assert!(
                        seen.insert(key.clone(), kv.mod_revision).is_none(),
                        "{key} delivered twice"
                    );
                }
                if !killed && seen.len() >= KILL_AT {
                    cluster.kill9(watched).expect("kill -9");
                    killed = true;
                    killed_tx.take().unwrap().send(()).unwrap();
                }
            }
            write.await.unwrap();
            assert!(killed);
            let port = format!(":{}", cluster.client_port(watched));
            assert!(
                !watcher.endpoint().ends_with(&port),
                "still on the killed member {}",
                watcher.endpoint()
            );
            assert!(watcher.reconnects() >= 1);
            println!(
                "watch moved to {} after {} reconnect(s); {N} events, each once",
                watcher.endpoint(),
                watcher.reconnects()
            );
            let expected: Vec<String> = (0..N).map(|n| format!("w/{n:03}")).collect();
            assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), expected);
            // Nothing more than the N events arrived (no repeats pending either).
            let more = tokio::time::timeout(Duration::from_millis(500), watcher.next()).await;
            assert!(more.is_err(), "unexpected extra watch response: {more:?}");
        })
        .await
        .expect("test timed out");
    });
}

fn watch_reports_compaction(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let client = connect(&[server.endpoint()], None).await;
        let kv = client.kv();
        let first = kv
            .put("c", "1", PutOptions::default())
            .await
            .unwrap()
            .header
            .unwrap()
            .revision;
        let mid = kv
            .put("c", "2", PutOptions::default())
            .await
            .unwrap()
            .header
            .unwrap()
            .revision;
        let last = kv
            .put("c", "3", PutOptions::default())
            .await
            .unwrap()
            .header
            .unwrap()
            .revision;
        kv.compact(mid).await.unwrap();
        // The server creates the watch, then cancels it with the compact revision.
        let mut w = client
            .watch(
                "c",
                WatchOptions {
                    start_revision: first,
                    ..WatchOptions::default()
                },
            )
            .await
            .unwrap();
        let e = w.next().await.expect("a response").unwrap_err();
        assert!(matches!(e, Error::Compacted(r) if r == mid), "{e}");
        assert!(
            w.next().await.is_none(),
            "the watcher goes on after a compaction"
        );
        let mut w = client
            .watch(
                "c",
                WatchOptions {
                    start_revision: last,
                    prev_kv: true,
                    ..WatchOptions::default()
                },
            )
            .await
            .unwrap();
        let r = w.next().await.unwrap().unwrap();
        assert_eq!(&r.events[0].kv.as_ref().unwrap().value[..], b"3");
        assert_eq!(&r.events[0].prev_kv.as_ref().unwrap().value[..], b"2");
    });
}

fn auth_prefix_permission_and_transparent_reauth(kind: Kind) {
    let server = start_server(kind, &["--auth-token-ttl=2"]);
    run(async {
        let eps = [server.endpoint()];
        let admin = connect(&eps, None).await;
        let auth = admin.auth();
        auth.user_add("root", "rootpw").await.unwrap();
        auth.user_grant_role("root", "root").await.unwrap();
        auth.role_add("ra").await.unwrap();
        auth.role_grant_permission("ra", PermissionType::Readwrite, "a/", prefix_end(b"a/"))
            .await
            .unwrap();
        auth.user_add("alice", "alicepw").await.unwrap();
        auth.user_grant_role("alice", "ra").await.unwrap();
        auth.auth_enable().await.unwrap();

        let e = Client::connect(
            &eps,
            ConnectOptions {
                user: Some(("alice".into(), "wrong".into())),
                ..ConnectOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), Some(Code::InvalidArgument), "{e}");

        let alice = connect(&eps, Some(("alice", "alicepw"))).await;
        alice
            .kv()
            .put("a/1", "x", PutOptions::default())
            .await
            .unwrap();
        let e = alice
            .kv()
            .put("b/1", "x", PutOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(Code::PermissionDenied), "{e}");
        let e = alice.kv().get("b/1", GetOptions::new()).await.unwrap_err();
        assert_eq!(e.code(), Some(Code::PermissionDenied), "{e}");
        let no_token = admin.kv().get("a/1", GetOptions::new()).await.unwrap_err();
        assert_eq!(no_token.code(), Some(Code::InvalidArgument), "{no_token}");

        // The simple token expires after 2 s; the client renews it and resends.
        let before = alice.auth_token().expect("token");
        tokio::time::sleep(Duration::from_secs(3)).await;
        alice
            .kv()
            .put("a/2", "y", PutOptions::default())
            .await
            .unwrap();
        let after = alice.auth_token().expect("token");
        assert_ne!(before, after, "the token was not renewed");
        let r = alice
            .kv()
            .get("a/", GetOptions::new().with_prefix())
            .await
            .unwrap();
        assert_eq!(keys(&r), ["a/1", "a/2"]);

        // A watch opened with an expired token is renewed too.
        let before = alice.auth_token().expect("token");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut w = alice
            .watch(
                "a/",
                WatchOptions {
                    prefix: true,
                    ..WatchOptions::default()
                },
            )
            .await
            .unwrap();
        alice
            .kv()
            .put("a/3", "z", PutOptions::default())
            .await
            .unwrap();
        let r = w.next().await.unwrap().unwrap();
        assert_eq!(&r.events[0].kv.as_ref().unwrap().key[..], b"a/3");
        assert_ne!(before, alice.auth_token().expect("token"), "not renewed");

        let root = connect(&eps, Some(("root", "rootpw"))).await;
        root.auth().auth_disable().await.unwrap();
    });
}

fn get_fails_over_but_put_is_not_resent(kind: Kind) {
    let server = start_server(kind, &[]);
    // A port nothing listens on: the first endpoint is dead.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    run(async {
        let client = connect(&[dead.clone(), server.endpoint()], None).await;
        assert!(client.endpoint().ends_with(&dead));
        // A read is immutable: resent on the next endpoint.
        let r = client.kv().get("k", GetOptions::new()).await.unwrap();
        assert_eq!(r.count, 0);
        assert_eq!(client.endpoint(), server.endpoint());

        // A put on the dead endpoint fails with Unavailable and is not resent; the pin
        // moves, so the next put reaches the live member.
        let client = connect(&[dead.clone(), server.endpoint()], None).await;
        let e = client
            .kv()
            .put("k", "v", PutOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(Code::Unavailable), "{e}");
        assert_eq!(
            client.kv().get("k", GetOptions::new()).await.unwrap().count,
            0
        );
        client
            .kv()
            .put("k", "v", PutOptions::default())
            .await
            .unwrap();
        assert_eq!(
            client.kv().get("k", GetOptions::new()).await.unwrap().count,
            1
        );
    });
}

fn lease_keeper_survives_kill9_of_the_leader_it_talks_to(kind: Kind) {
    let mut cluster = start_cluster(kind);
    let leader = cluster.leader_index().expect("leader");
    // The leader first: the keeper's stream starts there.
    let mut endpoints = vec![cluster.endpoint(leader)];
    endpoints.extend((0..3).filter(|&i| i != leader).map(|i| cluster.endpoint(i)));
    let rt = runtime();
    let (client, mut keeper, id) = rt.block_on(async {
        let client = connect(&endpoints, None).await;
        let id = client.lease().grant(3, 0).await.unwrap().id;
        let keeper = client.lease().keep_alive(id);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(matches!(keeper.state(), KeeperState::Alive(_)));
        (client, keeper, id)
    });
    cluster.kill9(leader).expect("kill -9 the leader");
    let new_leader = cluster.leader_index().expect("a new leader");
    assert_ne!(new_leader, leader);
    rt.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, async {
            // Three TTLs after the kill the lease must still be alive.
            tokio::time::sleep(Duration::from_secs(9)).await;
            assert!(!keeper.is_lost(), "{:?}", keeper.state());
            let ttl = client.lease().time_to_live(id, false).await.unwrap();
            assert!(
                ttl.ttl > 0,
                "lease expired across the leader change: {ttl:?}"
            );
            client.lease().revoke(id).await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), keeper.lost())
                .await
                .expect("keeper did not report the revoked lease lost");
        })
        .await
        .expect("test timed out");
    });
}
