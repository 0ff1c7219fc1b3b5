//! oxcd-client's Cluster, Maintenance and Auth-admin services against a real server, each
//! test body run against etcd 3.4.23 (`<test>::etcd`) and oxcd (`<test>::oxcd`):
//! member list and a learner added then removed, status/HashKV/defragment per endpoint,
//! alarms, a streamed snapshot, keep-alive-once, the user/role administration, and the
//! concurrency Mutex and Election with their Go key layout.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxcd_client::{AlarmType, Client, ConnectOptions, Error, PermissionType, PutOptions};
use oxcd_integration_tests::grpc::runtime;
use oxcd_integration_tests::{on_both_kinds, start_server, Kind};

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

on_both_kinds!(
    cluster_and_maintenance,
    auth_administration,
    mutex_and_election_with_go_key_layout,
);

fn run<F: Future<Output = ()>>(f: F) {
    runtime().block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, f)
            .await
            .expect("test timed out")
    })
}

fn cluster_and_maintenance(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let failed = Arc::new(Mutex::new(Vec::new()));
        let seen = failed.clone();
        let options = ConnectOptions {
            attempt_observer: Some(Arc::new(move |a: &oxcd_client::FailedAttempt<'_>| {
                seen.lock()
                    .unwrap()
                    .push((a.attempt, a.status.message().to_string()));
            })),
            ..ConnectOptions::default()
        };
        let client = Client::connect(&[server.endpoint()], options)
            .await
            .unwrap();
        let members = client.cluster().member_list().await.unwrap();
        assert_eq!(members.members.len(), 1);
        let own = members.members[0].id;

        let added = client
            .cluster()
            .member_add_as_learner(&["http://127.0.0.1:1".to_string()])
            .await
            .unwrap();
        let learner = added.member.expect("added member");
        assert!(learner.is_learner);
        assert_eq!(added.members.len(), 2);
        client.cluster().member_remove(learner.id).await.unwrap();
        let gone = client
            .cluster()
            .member_remove(learner.id)
            .await
            .unwrap_err();
        assert_eq!(
            gone.status().map(|s| s.message()),
            Some("etcdserver: member not found")
        );
        assert_eq!(
            *failed.lock().unwrap(),
            vec![(0, "etcdserver: member not found".to_string())],
            "the observer hears of the one failed attempt"
        );

        client
            .kv()
            .put("k", "v", PutOptions::default())
            .await
            .unwrap();
        let status = client
            .maintenance()
            .status(&server.endpoint())
            .await
            .unwrap();
        assert_eq!(status.header.unwrap().member_id, own);
        assert_eq!(status.leader, own);
        // host:port names the same member.
        let bare = server.endpoint().trim_start_matches("http://").to_string();
        let h1 = client.maintenance().hash_kv(&bare, 0).await.unwrap();
        let h2 = client
            .maintenance()
            .hash_kv(&server.endpoint(), 0)
            .await
            .unwrap();
        assert_eq!(h1.hash, h2.hash);
        client.maintenance().defragment(&bare).await.unwrap();
        assert!(client
            .maintenance()
            .alarm_list()
            .await
            .unwrap()
            .alarms
            .is_empty());
        client
            .maintenance()
            .alarm_disarm(0, AlarmType::None)
            .await
            .unwrap();

        let mut snap = client.maintenance().snapshot().await.unwrap();
        let mut bytes = 0;
        while let Some(chunk) = snap.next_chunk().await {
            bytes += chunk.unwrap().blob.len();
        }
        // bbolt pages, then the 32-byte SHA-256 trailer in a chunk of its own.
        assert!(bytes > 0, "a snapshot has content");
        assert_eq!(bytes % 512, 32, "{bytes} bytes: the trailer is missing");

        let lease = client.lease().grant(60, 0).await.unwrap().id;
        let ka = client.lease().keep_alive_once(lease).await.unwrap();
        assert_eq!((ka.id, ka.ttl), (lease, 60));
        client.lease().revoke(lease).await.unwrap();
        let err = client.lease().keep_alive_once(lease).await.unwrap_err();
        assert!(
            matches!(&err, Error::Status(s) if s.message() == "etcdserver: requested lease not found")
        );
    });
}

fn auth_administration(kind: Kind) {
    let server = start_server(kind, &[]);
    run(async {
        let client = Client::connect(&[server.endpoint()], ConnectOptions::default())
            .await
            .unwrap();
        let auth = client.auth();
        auth.user_add("root", "rootpw").await.unwrap();
        auth.role_add("root").await.unwrap();
        auth.user_grant_role("root", "root").await.unwrap();
        auth.user_add_with_options("cn-only", "", true)
            .await
            .unwrap();
        auth.user_add("alice", "a").await.unwrap();
        auth.role_add("r").await.unwrap();
        auth.role_grant_permission("r", PermissionType::Readwrite, "a", "b")
            .await
            .unwrap();
        auth.user_grant_role("alice", "r").await.unwrap();
        assert_eq!(auth.user_get("alice").await.unwrap().roles, vec!["r"]);
        assert_eq!(
            auth.user_list().await.unwrap().users,
            vec!["alice", "cn-only", "root"]
        );
        assert_eq!(auth.role_list().await.unwrap().roles, vec!["r", "root"]);
        assert_eq!(auth.role_get("r").await.unwrap().perm.len(), 1);
        auth.role_revoke_permission("r", "a", "b").await.unwrap();
        assert!(auth.role_get("r").await.unwrap().perm.is_empty());
        auth.user_revoke_role("alice", "r").await.unwrap();
        auth.user_change_password("alice", "b").await.unwrap();
        auth.role_delete("r").await.unwrap();
        auth.user_delete("cn-only").await.unwrap();
        auth.auth_enable().await.unwrap();

        let root = Client::connect(
            &[server.endpoint()],
            ConnectOptions {
                user: Some(("root".into(), "rootpw".into())),
                ..ConnectOptions::default()
            },
        )
        .await
        .unwrap();
        let denied = client.auth().user_list().await.unwrap_err();
        assert!(denied.status().is_some(), "{denied}");
        assert_eq!(
            root.auth().user_list().await.unwrap().users,
            vec!["alice", "root"]
        );
        root.auth().auth_disable().await.unwrap();
    });
}

fn mutex_and_election_with_go_key_layout(kind: Kind) {
    use oxcd_client::{Election, Mutex, Session};
    let server = start_server(kind, &[]);
    run(async {
        let client = Client::connect(&[server.endpoint()], ConnectOptions::default())
            .await
            .unwrap();
        let s1 = Session::new(&client, 10).await.unwrap();
        let s2 = Session::new(&client, 10).await.unwrap();
        let mut m1 = Mutex::lock(&s1, "L").await.unwrap();
        assert_eq!(m1.key(), format!("L/{:x}", s1.lease()).as_bytes());
        let second = tokio::spawn(async move {
            let m = Mutex::lock(&s2, "L").await;
            (m, s2)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!second.is_finished(), "the second locker must wait");
        m1.unlock().await.unwrap();
        let (m2, s2) = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the second locker gets the lock once the first unlocks")
            .unwrap();
        let mut m2 = m2.unwrap();
        assert_eq!(m2.key(), format!("L/{:x}", s2.lease()).as_bytes());
        m2.unlock().await.unwrap();

        let mut e1 = Election::campaign(&s1, "E", "a").await.unwrap();
        let mut observer = Election::observe(&client, "E");
        let leader = observer.next().await.unwrap();
        assert_eq!(&leader.kvs[0].value[..], b"a");
        let campaign = tokio::spawn(async move {
            let e = Election::campaign(&s2, "E", "b").await;
            (e, s2)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!campaign.is_finished(), "the second candidate must wait");
        e1.resign().await.unwrap();
        let (e2, _s2) = tokio::time::timeout(Duration::from_secs(5), campaign)
            .await
            .expect("the second candidate is elected once the first resigns")
            .unwrap();
        let mut e2 = e2.unwrap();
        let leader = tokio::time::timeout(Duration::from_secs(5), observer.next())
            .await
            .expect("the observer sees the new leader")
            .unwrap();
        assert_eq!(&leader.kvs[0].value[..], b"b");
        e2.resign().await.unwrap();
    });
}
