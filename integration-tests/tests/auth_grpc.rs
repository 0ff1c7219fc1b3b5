//! AUTH over gRPC: a denial matrix (caller x RPC -> exact gRPC code and message) and token
//! expiry, against ONE server of the kind selected by `OXCD_CLUSTER_KIND` (`etcd` runs the
//! reference etcd 3.4.23; unset runs oxcd), with the `oxcd-proto` tonic clients.
//!
//! The expected tables below were produced by running this file against etcd 3.4.23
//! (`OXCD_CLUSTER_KIND=etcd`), so they are etcd's behaviour; oxcd must produce them byte for
//! byte. Tokens travel in the gRPC metadata key `token`; they are never printed.
//!
//! Callers of the matrix:
//! - `none`: no token.
//! - `garbage`: the token "garbage".
//! - `deleted`: the token of `bob`, taken before root deleted him.
//! - `passwd`: the token of `dave`, taken before root changed his password.
//! - `revoked`: the token of `carol`, taken before her role `rc` lost its permission on `a/`
//!   (simple tokens are checked against the current auth revision, so this is a plain
//!   permission denial, not "revision of auth store is old").
//! - `alice`: a valid token; `alice` holds role `ra`, readwrite on the prefix `a/`.
//!
//! etcd 3.4.23 facts the tables pin (surprising ones; checked by hand as well):
//! - Compact, LeaseGrant and Alarm (also DEACTIVATE) check no permission, only that a token
//!   sent is valid; LeaseTimeToLive (with key names), Status, MemberList and MoveLeader do not
//!   even look at the token ("garbage" passes; MoveLeader reaches "etcdserver: bad leader
//!   transferee").
//! - Alarm with a bad token, and Defragment, Hash, HashKV and Snapshot fail with code
//!   Unknown and `auth:` messages ("auth: user name is empty", "auth: permission denied",
//!   "auth: invalid auth token") instead of the `etcdserver:` ones.
//! - A denied Watch create gets `created=true, canceled=true, watch_id=-1` and a
//!   `cancel_reason` that is a whole gRPC error string: "rpc error: code = PermissionDenied
//!   desc = etcdserver: permission denied" (likewise "... code = InvalidArgument desc =
//!   etcdserver: user name is empty", "... code = Unauthenticated desc = etcdserver: invalid
//!   auth token").
//! - Deleting a user or changing its password invalidates its tokens ("etcdserver: invalid
//!   auth token", Unauthenticated); so does AuthDisable for every token, and with auth off a
//!   bad token is still rejected while no token is fine.
//! - Authenticate: a no-password user given any password, even "", gets "Unknown: auth:
//!   authentication failed, password was given for no password user"; an empty name gets the
//!   ordinary "etcdserver: authentication failed, invalid user ID or password".
//! - A user may UserGet itself and RoleGet its own role.
//!
//! Every RPC and every receive is bounded by a timeout; the server is killed by PID when its
//! handle drops.

use std::time::{Duration, Instant};

use oxcd_integration_tests::grpc::{channel, prefix_end, runtime, status_text, with_token};
use oxcd_integration_tests::textdiff::line_diff;
use oxcd_integration_tests::{cluster_kind, kind_available, Server, ServerOpts};
use oxcd_proto::authpb::permission::Type as PermType;
use oxcd_proto::authpb::{Permission, UserAddOptions};
use oxcd_proto::etcdserverpb::alarm_request::AlarmAction;
use oxcd_proto::etcdserverpb::auth_client::AuthClient;
use oxcd_proto::etcdserverpb::cluster_client::ClusterClient;
use oxcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::lease_client::LeaseClient;
use oxcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_proto::etcdserverpb::request_op::Request as Op;
use oxcd_proto::etcdserverpb::watch_client::WatchClient;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::{
    AlarmRequest, AlarmType, AuthDisableRequest, AuthEnableRequest, AuthRoleAddRequest,
    AuthRoleDeleteRequest, AuthRoleGetRequest, AuthRoleGrantPermissionRequest,
    AuthRoleRevokePermissionRequest, AuthUserAddRequest, AuthUserChangePasswordRequest,
    AuthUserDeleteRequest, AuthUserGetRequest, AuthUserGrantRoleRequest, AuthUserRevokeRoleRequest,
    AuthenticateRequest, CompactionRequest, Compare, DefragmentRequest, DeleteRangeRequest,
    HashKvRequest, HashRequest, LeaseGrantRequest, LeaseRevokeRequest, LeaseTimeToLiveRequest,
    MemberListRequest, MoveLeaderRequest, PutRequest, RangeRequest, RequestOp, SnapshotRequest,
    StatusRequest, TxnRequest, WatchCreateRequest, WatchRequest,
};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Bound on one connect, one RPC or one receive.
const STEP: Duration = Duration::from_secs(10);

/// Starts one server of the selected kind (`OXCD_CLUSTER_KIND`); panics if it cannot.
fn start(opts: ServerOpts) -> Server {
    let kind = cluster_kind();
    assert!(kind_available(kind));
    Server::start(kind, opts).unwrap_or_else(|e| panic!("start {}: {e}", kind.label()))
}

/// "OK" or "<Code>: <message>" (or "TIMEOUT").
fn outcome<T>(
    res: Result<Result<tonic::Response<T>, tonic::Status>, tokio::time::error::Elapsed>,
) -> String {
    match res {
        Err(_) => "TIMEOUT".into(),
        Ok(Ok(_)) => "OK".into(),
        Ok(Err(st)) => status_text(&st),
    }
}

/// Every client on one channel.
#[derive(Clone)]
struct Clients {
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    maint: MaintenanceClient<Channel>,
    cluster: ClusterClient<Channel>,
    auth: AuthClient<Channel>,
    watch: WatchClient<Channel>,
}

impl Clients {
    async fn connect(endpoint: &str) -> Clients {
        let ch = channel(endpoint).await;
        Clients {
            kv: KvClient::new(ch.clone()),
            lease: LeaseClient::new(ch.clone()),
            maint: MaintenanceClient::new(ch.clone()),
            cluster: ClusterClient::new(ch.clone()),
            auth: AuthClient::new(ch.clone()),
            watch: WatchClient::new(ch),
        }
    }

    /// Authenticates; panics on failure.
    async fn token(&mut self, name: &str, password: &str) -> String {
        let r = self.authenticate(name, password).await;
        r.unwrap_or_else(|e| panic!("authenticate {name}: {e}"))
    }

    async fn authenticate(&mut self, name: &str, password: &str) -> Result<String, String> {
        let r = timeout(
            STEP,
            self.auth.authenticate(AuthenticateRequest {
                name: name.into(),
                password: password.into(),
            }),
        )
        .await
        .map_err(|_| "TIMEOUT".to_string())?;
        match r {
            Ok(resp) => Ok(resp.into_inner().token),
            Err(st) => Err(status_text(&st)),
        }
    }

    /// An admin (or setup) call that must succeed.
    async fn must<T>(
        what: &str,
        res: Result<Result<tonic::Response<T>, tonic::Status>, tokio::time::error::Elapsed>,
    ) -> T {
        match res {
            Ok(Ok(r)) => r.into_inner(),
            other => panic!("{what}: {}", outcome(other)),
        }
    }

    async fn put(&mut self, token: Option<&str>, key: &str, value: &str, lease: i64) -> i64 {
        let r = timeout(
            STEP,
            self.kv.put(with_token(
                PutRequest {
                    key: key.into(),
                    value: value.into(),
                    lease,
                    ..Default::default()
                },
                token,
            )),
        )
        .await;
        Self::must(&format!("put {key}"), r)
            .await
            .header
            .map(|h| h.revision)
            .unwrap_or(0)
    }

    async fn grant(&mut self, token: Option<&str>) -> i64 {
        let r = timeout(
            STEP,
            self.lease
                .lease_grant(with_token(LeaseGrantRequest { ttl: 600, id: 0 }, token)),
        )
        .await;
        Self::must("lease grant", r).await.id
    }

    async fn user_add(&mut self, token: Option<&str>, name: &str, password: &str) {
        let r = timeout(
            STEP,
            self.auth.user_add(with_token(
                AuthUserAddRequest {
                    name: name.into(),
                    password: password.into(),
                    ..Default::default()
                },
                token,
            )),
        )
        .await;
        Self::must(&format!("user add {name}"), r).await;
    }

    async fn role_add(&mut self, token: Option<&str>, name: &str) {
        let r = timeout(
            STEP,
            self.auth
                .role_add(with_token(AuthRoleAddRequest { name: name.into() }, token)),
        )
        .await;
        Self::must(&format!("role add {name}"), r).await;
    }

    async fn grant_role(&mut self, token: Option<&str>, user: &str, role: &str) {
        let r = timeout(
            STEP,
            self.auth.user_grant_role(with_token(
                AuthUserGrantRoleRequest {
                    user: user.into(),
                    role: role.into(),
                },
                token,
            )),
        )
        .await;
        Self::must(&format!("grant {role} to {user}"), r).await;
    }

    async fn grant_prefix(&mut self, token: Option<&str>, role: &str, prefix: &str) {
        let r = timeout(
            STEP,
            self.auth.role_grant_permission(with_token(
                AuthRoleGrantPermissionRequest {
                    name: role.into(),
                    perm: Some(Permission {
                        perm_type: PermType::Readwrite as i32,
                        key: prefix.into(),
                        range_end: prefix_end(prefix),
                    }),
                },
                token,
            )),
        )
        .await;
        Self::must(&format!("grant {prefix} to {role}"), r).await;
    }

    /// Opens a watch stream with `token` and creates one watcher; describes the first
    /// response (or the stream's error).
    async fn watch_create(&mut self, token: Option<&str>, key: &[u8], range_end: &[u8]) -> String {
        let (tx, rx) = mpsc::channel(4);
        tx.send(WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: key.to_vec(),
                range_end: range_end.to_vec(),
                ..Default::default()
            })),
        })
        .await
        .expect("queue watch create");
        let opened = timeout(
            STEP,
            self.watch.watch(with_token(ReceiverStream::new(rx), token)),
        )
        .await;
        let mut stream = match opened {
            Err(_) => return "TIMEOUT (open)".into(),
            Ok(Err(st)) => return status_text(&st),
            Ok(Ok(s)) => s.into_inner(),
        };
        let first = timeout(STEP, stream.message()).await;
        drop(tx);
        match first {
            Err(_) => "TIMEOUT (first response)".into(),
            Ok(Err(st)) => status_text(&st),
            Ok(Ok(None)) => "stream ended".into(),
            Ok(Ok(Some(r))) => format!(
                "created={} canceled={} watch_id={} compact_revision={} events={} \
                 cancel_reason={:?}",
                r.created,
                r.canceled,
                r.watch_id,
                r.compact_revision,
                r.events.len(),
                r.cancel_reason
            ),
        }
    }
}

/// One caller of the matrix: a name and the token it sends.
struct Caller {
    name: &'static str,
    token: Option<String>,
}

/// Runs every RPC of the matrix as `caller` and appends `caller rpc => outcome` lines.
/// `root` is used (unrecorded) to prepare per-call state.
async fn matrix_row(c: &mut Clients, root: &str, caller: &Caller, out: &mut Vec<String>) {
    let t = caller.token.as_deref();
    let mut row = |rpc: &str, result: String| {
        out.push(format!("{:<8} {:<28} => {result}", caller.name, rpc));
    };
    let range = |key: &str| RangeRequest {
        key: key.into(),
        ..Default::default()
    };

    let r = timeout(STEP, c.kv.range(with_token(range("a/k"), t))).await;
    row("Range a/k", outcome(r));
    let r = timeout(STEP, c.kv.range(with_token(range("b"), t))).await;
    row("Range b", outcome(r));
    let r = timeout(
        STEP,
        c.kv.range(with_token(
            RangeRequest {
                key: "a/".into(),
                range_end: prefix_end("a/"),
                ..Default::default()
            },
            t,
        )),
    )
    .await;
    row("Range a/ prefix", outcome(r));
    let r = timeout(
        STEP,
        c.kv.put(with_token(
            PutRequest {
                key: "a/k".into(),
                value: caller.name.into(),
                ..Default::default()
            },
            t,
        )),
    )
    .await;
    row("Put a/k", outcome(r));
    let r = timeout(
        STEP,
        c.kv.put(with_token(
            PutRequest {
                key: "b".into(),
                value: caller.name.into(),
                ..Default::default()
            },
            t,
        )),
    )
    .await;
    row("Put b", outcome(r));
    let r = timeout(
        STEP,
        c.kv.delete_range(with_token(
            DeleteRangeRequest {
                key: "a/none".into(),
                ..Default::default()
            },
            t,
        )),
    )
    .await;
    row("DeleteRange a/none", outcome(r));
    let r = timeout(
        STEP,
        c.kv.delete_range(with_token(
            DeleteRangeRequest {
                key: "b/none".into(),
                ..Default::default()
            },
            t,
        )),
    )
    .await;
    row("DeleteRange b/none", outcome(r));
    let txn = |put_key: &str| TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Greater as i32,
            target: CompareTarget::Version as i32,
            key: "a/k".into(),
            target_union: Some(TargetUnion::Version(0)),
            ..Default::default()
        }],
        success: vec![RequestOp {
            request: Some(Op::RequestPut(PutRequest {
                key: put_key.into(),
                value: "t".into(),
                ..Default::default()
            })),
        }],
        failure: vec![],
    };
    let r = timeout(STEP, c.kv.txn(with_token(txn("a/t"), t))).await;
    row("Txn a/k>0 ? put a/t", outcome(r));
    let r = timeout(STEP, c.kv.txn(with_token(txn("b"), t))).await;
    row("Txn a/k>0 ? put b", outcome(r));
    // A fresh revision to compact to, so success means "permitted".
    let rev = c.put(Some(root), "bump", caller.name, 0).await;
    let r = timeout(
        STEP,
        c.kv.compact(with_token(
            CompactionRequest {
                revision: rev,
                physical: false,
            },
            t,
        )),
    )
    .await;
    row("Compact", outcome(r));
    let w = c.watch_create(t, b"b", b"").await;
    row("Watch b", w);
    let w = c.watch_create(t, b"a/", &prefix_end("a/")).await;
    row("Watch a/ prefix", w);
    let r = timeout(
        STEP,
        c.lease
            .lease_grant(with_token(LeaseGrantRequest { ttl: 600, id: 0 }, t)),
    )
    .await;
    row("LeaseGrant", outcome(r));
    // A root lease with a key the caller may not write.
    let lease = c.grant(Some(root)).await;
    c.put(Some(root), "b/leased", "v", lease).await;
    let r = timeout(
        STEP,
        c.lease
            .lease_revoke(with_token(LeaseRevokeRequest { id: lease }, t)),
    )
    .await;
    row("LeaseRevoke (key b/leased)", outcome(r));
    let r = timeout(
        STEP,
        c.lease.lease_time_to_live(with_token(
            LeaseTimeToLiveRequest {
                id: lease,
                keys: true,
            },
            t,
        )),
    )
    .await;
    row("LeaseTimeToLive --keys", outcome(r));
    let r = timeout(STEP, c.maint.status(with_token(StatusRequest {}, t))).await;
    row("Status", outcome(r));
    let r = timeout(
        STEP,
        c.maint.alarm(with_token(
            AlarmRequest {
                action: AlarmAction::Get as i32,
                member_id: 0,
                alarm: AlarmType::None as i32,
            },
            t,
        )),
    )
    .await;
    row("Alarm GET", outcome(r));
    let r = timeout(
        STEP,
        c.maint.alarm(with_token(
            AlarmRequest {
                action: AlarmAction::Deactivate as i32,
                member_id: 0,
                alarm: AlarmType::Nospace as i32,
            },
            t,
        )),
    )
    .await;
    row("Alarm DEACTIVATE NOSPACE", outcome(r));
    let r = timeout(
        STEP,
        c.maint.defragment(with_token(DefragmentRequest {}, t)),
    )
    .await;
    row("Defragment", outcome(r));
    let r = timeout(STEP, c.maint.hash(with_token(HashRequest {}, t))).await;
    row("Hash", outcome(r));
    let r = timeout(
        STEP,
        c.maint
            .hash_kv(with_token(HashKvRequest { revision: 0 }, t)),
    )
    .await;
    row("HashKV", outcome(r));
    let snap = match timeout(STEP, c.maint.snapshot(with_token(SnapshotRequest {}, t))).await {
        Err(_) => "TIMEOUT (open)".to_string(),
        Ok(Err(st)) => status_text(&st),
        Ok(Ok(resp)) => {
            let mut s = resp.into_inner();
            match timeout(STEP, s.message()).await {
                Err(_) => "TIMEOUT (first message)".into(),
                Ok(Ok(Some(_))) => "OK".into(),
                Ok(Ok(None)) => "stream ended".into(),
                Ok(Err(st)) => status_text(&st),
            }
        }
    };
    row("Snapshot", snap);
    let r = timeout(
        STEP,
        c.maint
            .move_leader(with_token(MoveLeaderRequest { target_id: 1234 }, t)),
    )
    .await;
    row("MoveLeader 1234", outcome(r));
    let r = timeout(
        STEP,
        c.cluster
            .member_list(with_token(MemberListRequest::default(), t)),
    )
    .await;
    row("MemberList", outcome(r));
    let r = timeout(
        STEP,
        c.auth.user_get(with_token(
            AuthUserGetRequest {
                name: "alice".into(),
            },
            t,
        )),
    )
    .await;
    row("UserGet alice", outcome(r));
    let r = timeout(
        STEP,
        c.auth
            .role_get(with_token(AuthRoleGetRequest { role: "ra".into() }, t)),
    )
    .await;
    row("RoleGet ra", outcome(r));
    let r = timeout(
        STEP,
        c.auth.user_add(with_token(
            AuthUserAddRequest {
                name: format!("new-{}", caller.name),
                password: "x".into(),
                ..Default::default()
            },
            t,
        )),
    )
    .await;
    row("UserAdd", outcome(r));
    let r = timeout(
        STEP,
        c.auth.role_add(with_token(
            AuthRoleAddRequest {
                name: format!("role-{}", caller.name),
            },
            t,
        )),
    )
    .await;
    row("RoleAdd", outcome(r));
    let r = timeout(
        STEP,
        c.auth.auth_disable(with_token(AuthDisableRequest {}, t)),
    )
    .await;
    row("AuthDisable", outcome(r));
}

/// Compares a produced table with the expected one; panics with a diff and the whole table.
fn assert_table(name: &str, expected: &str, actual: &[String]) {
    let actual = actual.join("\n");
    let expected = expected.trim();
    let diff = line_diff(expected, &actual, 2);
    assert!(
        diff.is_empty(),
        "{name} against {}: table differs from etcd 3.4.23's\n--- etcd (expected)\n+++ actual\n\
         {diff}\n===== actual table =====\n{actual}\n",
        cluster_kind().label()
    );
    println!("{name}: table matches\n{actual}");
}

/// etcd 3.4.23's answers, recorded by running this test with `OXCD_CLUSTER_KIND=etcd`.
const SETUP_TABLE: &str = r#"
Authenticate (auth off)                      => Err("FailedPrecondition: etcdserver: authentication is not enabled")
AuthEnable (no root user)                    => FailedPrecondition: etcdserver: root user does not exist
AuthEnable (root without root role)          => FailedPrecondition: etcdserver: root user does not have root role
UserAdd nopw --no-password                   => OK
AuthEnable                                   => OK
Authenticate "root" "bad"                    => Err("InvalidArgument: etcdserver: authentication failed, invalid user ID or password")
Authenticate "nobody" "pw"                   => Err("InvalidArgument: etcdserver: authentication failed, invalid user ID or password")
Authenticate "nopw" "x"                      => Err("Unknown: auth: authentication failed, password was given for no password user")
Authenticate "nopw" ""                       => Err("Unknown: auth: authentication failed, password was given for no password user")
Authenticate "" ""                           => Err("InvalidArgument: etcdserver: authentication failed, invalid user ID or password")
Authenticate "" "pw"                         => Err("InvalidArgument: etcdserver: authentication failed, invalid user ID or password")
carol Range a/k (before the revoke)          => OK
root AuthEnable (already on)                 => OK
root UserDelete root                         => InvalidArgument: etcdserver: invalid auth management
root UserRevokeRole root root                => InvalidArgument: etcdserver: invalid auth management
root RoleDelete root                         => InvalidArgument: etcdserver: invalid auth management
root UserDelete bob                          => OK
root UserChangePassword dave                 => OK
root RoleRevokePermission rc a/              => OK
"#;

/// etcd 3.4.23's answers, recorded by running this test with `OXCD_CLUSTER_KIND=etcd`.
const MATRIX_TABLE: &str = r#"
none     Range a/k                    => InvalidArgument: etcdserver: user name is empty
none     Range b                      => InvalidArgument: etcdserver: user name is empty
none     Range a/ prefix              => InvalidArgument: etcdserver: user name is empty
none     Put a/k                      => InvalidArgument: etcdserver: user name is empty
none     Put b                        => InvalidArgument: etcdserver: user name is empty
none     DeleteRange a/none           => InvalidArgument: etcdserver: user name is empty
none     DeleteRange b/none           => InvalidArgument: etcdserver: user name is empty
none     Txn a/k>0 ? put a/t          => InvalidArgument: etcdserver: user name is empty
none     Txn a/k>0 ? put b            => InvalidArgument: etcdserver: user name is empty
none     Compact                      => OK
none     Watch b                      => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = InvalidArgument desc = etcdserver: user name is empty"
none     Watch a/ prefix              => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = InvalidArgument desc = etcdserver: user name is empty"
none     LeaseGrant                   => OK
none     LeaseRevoke (key b/leased)   => InvalidArgument: etcdserver: user name is empty
none     LeaseTimeToLive --keys       => OK
none     Status                       => OK
none     Alarm GET                    => OK
none     Alarm DEACTIVATE NOSPACE     => OK
none     Defragment                   => Unknown: auth: user name is empty
none     Hash                         => Unknown: auth: user name is empty
none     HashKV                       => Unknown: auth: user name is empty
none     Snapshot                     => Unknown: auth: user name is empty
none     MoveLeader 1234              => FailedPrecondition: etcdserver: bad leader transferee
none     MemberList                   => OK
none     UserGet alice                => InvalidArgument: etcdserver: user name is empty
none     RoleGet ra                   => InvalidArgument: etcdserver: user name is empty
none     UserAdd                      => InvalidArgument: etcdserver: user name is empty
none     RoleAdd                      => InvalidArgument: etcdserver: user name is empty
none     AuthDisable                  => InvalidArgument: etcdserver: user name is empty
garbage  Range a/k                    => Unauthenticated: etcdserver: invalid auth token
garbage  Range b                      => Unauthenticated: etcdserver: invalid auth token
garbage  Range a/ prefix              => Unauthenticated: etcdserver: invalid auth token
garbage  Put a/k                      => Unauthenticated: etcdserver: invalid auth token
garbage  Put b                        => Unauthenticated: etcdserver: invalid auth token
garbage  DeleteRange a/none           => Unauthenticated: etcdserver: invalid auth token
garbage  DeleteRange b/none           => Unauthenticated: etcdserver: invalid auth token
garbage  Txn a/k>0 ? put a/t          => Unauthenticated: etcdserver: invalid auth token
garbage  Txn a/k>0 ? put b            => Unauthenticated: etcdserver: invalid auth token
garbage  Compact                      => Unauthenticated: etcdserver: invalid auth token
garbage  Watch b                      => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
garbage  Watch a/ prefix              => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
garbage  LeaseGrant                   => Unauthenticated: etcdserver: invalid auth token
garbage  LeaseRevoke (key b/leased)   => Unauthenticated: etcdserver: invalid auth token
garbage  LeaseTimeToLive --keys       => OK
garbage  Status                       => OK
garbage  Alarm GET                    => Unknown: auth: invalid auth token
garbage  Alarm DEACTIVATE NOSPACE     => Unknown: auth: invalid auth token
garbage  Defragment                   => Unknown: auth: invalid auth token
garbage  Hash                         => Unknown: auth: invalid auth token
garbage  HashKV                       => Unknown: auth: invalid auth token
garbage  Snapshot                     => Unknown: auth: invalid auth token
garbage  MoveLeader 1234              => FailedPrecondition: etcdserver: bad leader transferee
garbage  MemberList                   => OK
garbage  UserGet alice                => Unauthenticated: etcdserver: invalid auth token
garbage  RoleGet ra                   => Unauthenticated: etcdserver: invalid auth token
garbage  UserAdd                      => Unauthenticated: etcdserver: invalid auth token
garbage  RoleAdd                      => Unauthenticated: etcdserver: invalid auth token
garbage  AuthDisable                  => Unauthenticated: etcdserver: invalid auth token
deleted  Range a/k                    => Unauthenticated: etcdserver: invalid auth token
deleted  Range b                      => Unauthenticated: etcdserver: invalid auth token
deleted  Range a/ prefix              => Unauthenticated: etcdserver: invalid auth token
deleted  Put a/k                      => Unauthenticated: etcdserver: invalid auth token
deleted  Put b                        => Unauthenticated: etcdserver: invalid auth token
deleted  DeleteRange a/none           => Unauthenticated: etcdserver: invalid auth token
deleted  DeleteRange b/none           => Unauthenticated: etcdserver: invalid auth token
deleted  Txn a/k>0 ? put a/t          => Unauthenticated: etcdserver: invalid auth token
deleted  Txn a/k>0 ? put b            => Unauthenticated: etcdserver: invalid auth token
deleted  Compact                      => Unauthenticated: etcdserver: invalid auth token
deleted  Watch b                      => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
deleted  Watch a/ prefix              => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
deleted  LeaseGrant                   => Unauthenticated: etcdserver: invalid auth token
deleted  LeaseRevoke (key b/leased)   => Unauthenticated: etcdserver: invalid auth token
deleted  LeaseTimeToLive --keys       => OK
deleted  Status                       => OK
deleted  Alarm GET                    => Unknown: auth: invalid auth token
deleted  Alarm DEACTIVATE NOSPACE     => Unknown: auth: invalid auth token
deleted  Defragment                   => Unknown: auth: invalid auth token
deleted  Hash                         => Unknown: auth: invalid auth token
deleted  HashKV                       => Unknown: auth: invalid auth token
deleted  Snapshot                     => Unknown: auth: invalid auth token
deleted  MoveLeader 1234              => FailedPrecondition: etcdserver: bad leader transferee
deleted  MemberList                   => OK
deleted  UserGet alice                => Unauthenticated: etcdserver: invalid auth token
deleted  RoleGet ra                   => Unauthenticated: etcdserver: invalid auth token
deleted  UserAdd                      => Unauthenticated: etcdserver: invalid auth token
deleted  RoleAdd                      => Unauthenticated: etcdserver: invalid auth token
deleted  AuthDisable                  => Unauthenticated: etcdserver: invalid auth token
passwd   Range a/k                    => Unauthenticated: etcdserver: invalid auth token
passwd   Range b                      => Unauthenticated: etcdserver: invalid auth token
passwd   Range a/ prefix              => Unauthenticated: etcdserver: invalid auth token
passwd   Put a/k                      => Unauthenticated: etcdserver: invalid auth token
passwd   Put b                        => Unauthenticated: etcdserver: invalid auth token
passwd   DeleteRange a/none           => Unauthenticated: etcdserver: invalid auth token
passwd   DeleteRange b/none           => Unauthenticated: etcdserver: invalid auth token
passwd   Txn a/k>0 ? put a/t          => Unauthenticated: etcdserver: invalid auth token
passwd   Txn a/k>0 ? put b            => Unauthenticated: etcdserver: invalid auth token
passwd   Compact                      => Unauthenticated: etcdserver: invalid auth token
passwd   Watch b                      => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
passwd   Watch a/ prefix              => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
passwd   LeaseGrant                   => Unauthenticated: etcdserver: invalid auth token
passwd   LeaseRevoke (key b/leased)   => Unauthenticated: etcdserver: invalid auth token
passwd   LeaseTimeToLive --keys       => OK
passwd   Status                       => OK
passwd   Alarm GET                    => Unknown: auth: invalid auth token
passwd   Alarm DEACTIVATE NOSPACE     => Unknown: auth: invalid auth token
passwd   Defragment                   => Unknown: auth: invalid auth token
passwd   Hash                         => Unknown: auth: invalid auth token
passwd   HashKV                       => Unknown: auth: invalid auth token
passwd   Snapshot                     => Unknown: auth: invalid auth token
passwd   MoveLeader 1234              => FailedPrecondition: etcdserver: bad leader transferee
passwd   MemberList                   => OK
passwd   UserGet alice                => Unauthenticated: etcdserver: invalid auth token
passwd   RoleGet ra                   => Unauthenticated: etcdserver: invalid auth token
passwd   UserAdd                      => Unauthenticated: etcdserver: invalid auth token
passwd   RoleAdd                      => Unauthenticated: etcdserver: invalid auth token
passwd   AuthDisable                  => Unauthenticated: etcdserver: invalid auth token
revoked  Range a/k                    => PermissionDenied: etcdserver: permission denied
revoked  Range b                      => PermissionDenied: etcdserver: permission denied
revoked  Range a/ prefix              => PermissionDenied: etcdserver: permission denied
revoked  Put a/k                      => PermissionDenied: etcdserver: permission denied
revoked  Put b                        => PermissionDenied: etcdserver: permission denied
revoked  DeleteRange a/none           => PermissionDenied: etcdserver: permission denied
revoked  DeleteRange b/none           => PermissionDenied: etcdserver: permission denied
revoked  Txn a/k>0 ? put a/t          => PermissionDenied: etcdserver: permission denied
revoked  Txn a/k>0 ? put b            => PermissionDenied: etcdserver: permission denied
revoked  Compact                      => OK
revoked  Watch b                      => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = PermissionDenied desc = etcdserver: permission denied"
revoked  Watch a/ prefix              => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = PermissionDenied desc = etcdserver: permission denied"
revoked  LeaseGrant                   => OK
revoked  LeaseRevoke (key b/leased)   => PermissionDenied: etcdserver: permission denied
revoked  LeaseTimeToLive --keys       => OK
revoked  Status                       => OK
revoked  Alarm GET                    => OK
revoked  Alarm DEACTIVATE NOSPACE     => OK
revoked  Defragment                   => Unknown: auth: permission denied
revoked  Hash                         => Unknown: auth: permission denied
revoked  HashKV                       => Unknown: auth: permission denied
revoked  Snapshot                     => Unknown: auth: permission denied
revoked  MoveLeader 1234              => FailedPrecondition: etcdserver: bad leader transferee
revoked  MemberList                   => OK
revoked  UserGet alice                => PermissionDenied: etcdserver: permission denied
revoked  RoleGet ra                   => PermissionDenied: etcdserver: permission denied
revoked  UserAdd                      => PermissionDenied: etcdserver: permission denied
revoked  RoleAdd                      => PermissionDenied: etcdserver: permission denied
revoked  AuthDisable                  => PermissionDenied: etcdserver: permission denied
alice    Range a/k                    => OK
alice    Range b                      => PermissionDenied: etcdserver: permission denied
alice    Range a/ prefix              => OK
alice    Put a/k                      => OK
alice    Put b                        => PermissionDenied: etcdserver: permission denied
alice    DeleteRange a/none           => OK
alice    DeleteRange b/none           => PermissionDenied: etcdserver: permission denied
alice    Txn a/k>0 ? put a/t          => OK
alice    Txn a/k>0 ? put b            => PermissionDenied: etcdserver: permission denied
alice    Compact                      => OK
alice    Watch b                      => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = PermissionDenied desc = etcdserver: permission denied"
alice    Watch a/ prefix              => created=true canceled=false watch_id=0 compact_revision=0 events=0 cancel_reason=""
alice    LeaseGrant                   => OK
alice    LeaseRevoke (key b/leased)   => PermissionDenied: etcdserver: permission denied
alice    LeaseTimeToLive --keys       => OK
alice    Status                       => OK
alice    Alarm GET                    => OK
alice    Alarm DEACTIVATE NOSPACE     => OK
alice    Defragment                   => Unknown: auth: permission denied
alice    Hash                         => Unknown: auth: permission denied
alice    HashKV                       => Unknown: auth: permission denied
alice    Snapshot                     => Unknown: auth: permission denied
alice    MoveLeader 1234              => FailedPrecondition: etcdserver: bad leader transferee
alice    MemberList                   => OK
alice    UserGet alice                => OK
alice    RoleGet ra                   => OK
alice    UserAdd                      => PermissionDenied: etcdserver: permission denied
alice    RoleAdd                      => PermissionDenied: etcdserver: permission denied
alice    AuthDisable                  => PermissionDenied: etcdserver: permission denied
after: Range b without a token => InvalidArgument: etcdserver: user name is empty
after: value of b => Some("v")
after: root AuthDisable => OK
after: none Put b (auth off) => OK
after: garbage Put b (auth off) => Unauthenticated: etcdserver: invalid auth token
after: alice Put b (auth off) => Unauthenticated: etcdserver: invalid auth token
"#;

#[test]
fn auth_grpc_denial_matrix() {
    let server = start(ServerOpts::default());
    let rt = runtime();
    let endpoint = server.endpoint();
    rt.block_on(async {
        let mut c = Clients::connect(&endpoint).await;
        let mut setup: Vec<String> = Vec::new();
        let mut note = |what: &str, result: String| setup.push(format!("{what:<44} => {result}"));

        // Before auth is on.
        c.put(None, "a/k", "v", 0).await;
        c.put(None, "b", "v", 0).await;
        let r = c.authenticate("root", "x").await;
        note("Authenticate (auth off)", format!("{r:?}"));
        let r = timeout(
            STEP,
            c.auth.auth_enable(with_token(AuthEnableRequest {}, None)),
        )
        .await;
        note("AuthEnable (no root user)", outcome(r));
        c.user_add(None, "root", "rootpw").await;
        let r = timeout(
            STEP,
            c.auth.auth_enable(with_token(AuthEnableRequest {}, None)),
        )
        .await;
        note("AuthEnable (root without root role)", outcome(r));
        c.role_add(None, "root").await;
        c.grant_role(None, "root", "root").await;
        c.role_add(None, "ra").await;
        c.grant_prefix(None, "ra", "a/").await;
        c.role_add(None, "rc").await;
        c.grant_prefix(None, "rc", "a/").await;
        for (user, role) in [
            ("alice", "ra"),
            ("bob", "ra"),
            ("dave", "ra"),
            ("carol", "rc"),
        ] {
            c.user_add(None, user, "pw").await;
            c.grant_role(None, user, role).await;
        }
        let r = timeout(
            STEP,
            c.auth.user_add(with_token(
                AuthUserAddRequest {
                    name: "nopw".into(),
                    options: Some(UserAddOptions { no_password: true }),
                    ..Default::default()
                },
                None,
            )),
        )
        .await;
        note("UserAdd nopw --no-password", outcome(r));
        let r = timeout(
            STEP,
            c.auth.auth_enable(with_token(AuthEnableRequest {}, None)),
        )
        .await;
        note("AuthEnable", outcome(r));

        // Authenticate.
        for (name, pw) in [
            ("root", "bad"),
            ("nobody", "pw"),
            ("nopw", "x"),
            ("nopw", ""),
            ("", ""),
            ("", "pw"),
        ] {
            let r = c.authenticate(name, pw).await.map(|_| "<token>");
            note(&format!("Authenticate {name:?} {pw:?}"), format!("{r:?}"));
        }
        let root = c.token("root", "rootpw").await;
        let alice = c.token("alice", "pw").await;
        let bob = c.token("bob", "pw").await;
        let carol = c.token("carol", "pw").await;
        let dave = c.token("dave", "pw").await;
        let r = timeout(
            STEP,
            c.kv.range(with_token(
                RangeRequest {
                    key: "a/k".into(),
                    ..Default::default()
                },
                Some(&carol),
            )),
        )
        .await;
        note("carol Range a/k (before the revoke)", outcome(r));
        let r = timeout(
            STEP,
            c.auth
                .auth_enable(with_token(AuthEnableRequest {}, Some(&root))),
        )
        .await;
        note("root AuthEnable (already on)", outcome(r));

        // The root rules while auth is on.
        let r = timeout(
            STEP,
            c.auth.user_delete(with_token(
                AuthUserDeleteRequest {
                    name: "root".into(),
                },
                Some(&root),
            )),
        )
        .await;
        note("root UserDelete root", outcome(r));
        let r = timeout(
            STEP,
            c.auth.user_revoke_role(with_token(
                AuthUserRevokeRoleRequest {
                    name: "root".into(),
                    role: "root".into(),
                },
                Some(&root),
            )),
        )
        .await;
        note("root UserRevokeRole root root", outcome(r));
        let r = timeout(
            STEP,
            c.auth.role_delete(with_token(
                AuthRoleDeleteRequest {
                    role: "root".into(),
                },
                Some(&root),
            )),
        )
        .await;
        note("root RoleDelete root", outcome(r));

        // Make the stale tokens.
        let r = timeout(
            STEP,
            c.auth.user_delete(with_token(
                AuthUserDeleteRequest { name: "bob".into() },
                Some(&root),
            )),
        )
        .await;
        note("root UserDelete bob", outcome(r));
        let r = timeout(
            STEP,
            c.auth.user_change_password(with_token(
                AuthUserChangePasswordRequest {
                    name: "dave".into(),
                    password: "pw2".into(),
                    ..Default::default()
                },
                Some(&root),
            )),
        )
        .await;
        note("root UserChangePassword dave", outcome(r));
        let r = timeout(
            STEP,
            c.auth.role_revoke_permission(with_token(
                AuthRoleRevokePermissionRequest {
                    role: "rc".into(),
                    key: "a/".into(),
                    range_end: prefix_end("a/"),
                },
                Some(&root),
            )),
        )
        .await;
        note("root RoleRevokePermission rc a/", outcome(r));
        assert_table("setup", SETUP_TABLE, &setup);

        let callers = [
            Caller {
                name: "none",
                token: None,
            },
            Caller {
                name: "garbage",
                token: Some("garbage".into()),
            },
            Caller {
                name: "deleted",
                token: Some(bob),
            },
            Caller {
                name: "passwd",
                token: Some(dave),
            },
            Caller {
                name: "revoked",
                token: Some(carol),
            },
            Caller {
                name: "alice",
                token: Some(alice.clone()),
            },
        ];
        let mut table = Vec::new();
        for caller in &callers {
            matrix_row(&mut c, &root, caller, &mut table).await;
        }
        // Auth is still on and nothing a caller did changed the data it may not write.
        let r = timeout(
            STEP,
            c.kv.range(with_token(
                RangeRequest {
                    key: "b".into(),
                    ..Default::default()
                },
                None,
            )),
        )
        .await;
        table.push(format!("after: Range b without a token => {}", outcome(r)));
        let b = timeout(
            STEP,
            c.kv.range(with_token(
                RangeRequest {
                    key: "b".into(),
                    ..Default::default()
                },
                Some(&root),
            )),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .map(|r| r.into_inner())
        .and_then(|r| {
            r.kvs
                .first()
                .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
        });
        table.push(format!("after: value of b => {b:?}"));
        // After auth disable: no token is fine, but a token is still checked, and AuthDisable
        // invalidated every token ("etcdserver: invalid auth token" also for alice's).
        let r = timeout(
            STEP,
            c.auth
                .auth_disable(with_token(AuthDisableRequest {}, Some(&root))),
        )
        .await;
        table.push(format!("after: root AuthDisable => {}", outcome(r)));
        for (name, token) in [
            ("none", None),
            ("garbage", Some("garbage")),
            ("alice", Some(alice.as_str())),
        ] {
            let r = timeout(
                STEP,
                c.kv.put(with_token(
                    PutRequest {
                        key: "b".into(),
                        value: "off".into(),
                        ..Default::default()
                    },
                    token,
                )),
            )
            .await;
            table.push(format!("after: {name} Put b (auth off) => {}", outcome(r)));
        }
        assert_table("matrix", MATRIX_TABLE, &table);
    });
    drop(server);
}

/// etcd 3.4.23's answers with `--auth-token-ttl=2`.
const TTL_TABLE: &str = r#"
AuthEnable => OK
used every 0.5 s for 3 s: at least 5 uses: true => failures []
idle 4 s: Range a/k => Unauthenticated: etcdserver: invalid auth token
idle 4 s: Put a/k => Unauthenticated: etcdserver: invalid auth token
idle 4 s: Watch a/k => created=true canceled=true watch_id=-1 compact_revision=0 events=0 cancel_reason="rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
new token: Range a/k => OK
"#;

/// A simple token lives `--auth-token-ttl` seconds after its LAST use: kept alive by use every
/// 0.5 s for 3 s, then rejected ("etcdserver: invalid auth token", Unauthenticated) after 4 s
/// idle, also for a watch; a new authenticate works.
#[test]
fn auth_grpc_token_ttl() {
    let server = start(ServerOpts::with_args(&["--auth-token-ttl=2"]));
    let rt = runtime();
    let endpoint = server.endpoint();
    rt.block_on(async {
        let mut c = Clients::connect(&endpoint).await;
        let mut table: Vec<String> = Vec::new();
        c.put(None, "a/k", "v", 0).await;
        c.user_add(None, "root", "rootpw").await;
        c.grant_role(None, "root", "root").await;
        c.role_add(None, "ra").await;
        c.grant_prefix(None, "ra", "a/").await;
        c.user_add(None, "alice", "pw").await;
        c.grant_role(None, "alice", "ra").await;
        let r = timeout(
            STEP,
            c.auth.auth_enable(with_token(AuthEnableRequest {}, None)),
        )
        .await;
        table.push(format!("AuthEnable => {}", outcome(r)));
        let alice = c.token("alice", "pw").await;
        let range = || RangeRequest {
            key: "a/k".into(),
            ..Default::default()
        };
        // Kept alive by use.
        let start = Instant::now();
        let mut uses = 0;
        let mut failures = Vec::new();
        while start.elapsed() < Duration::from_secs(3) {
            let r = outcome(timeout(STEP, c.kv.range(with_token(range(), Some(&alice)))).await);
            if r != "OK" {
                failures.push(r);
            }
            uses += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        table.push(format!(
            "used every 0.5 s for 3 s: at least 5 uses: {} => failures {failures:?}",
            uses >= 5
        ));
        // Idle past the TTL.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let r = timeout(STEP, c.kv.range(with_token(range(), Some(&alice)))).await;
        table.push(format!("idle 4 s: Range a/k => {}", outcome(r)));
        let r = timeout(
            STEP,
            c.kv.put(with_token(
                PutRequest {
                    key: "a/k".into(),
                    value: "x".into(),
                    ..Default::default()
                },
                Some(&alice),
            )),
        )
        .await;
        table.push(format!("idle 4 s: Put a/k => {}", outcome(r)));
        let w = c.watch_create(Some(&alice), b"a/k", b"").await;
        table.push(format!("idle 4 s: Watch a/k => {w}"));
        let alice2 = c.token("alice", "pw").await;
        let r = timeout(STEP, c.kv.range(with_token(range(), Some(&alice2)))).await;
        table.push(format!("new token: Range a/k => {}", outcome(r)));
        assert_table("token ttl", TTL_TABLE, &table);
    });
    drop(server);
}
