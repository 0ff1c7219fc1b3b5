//! The state machine over an in-memory backend, driven entry by entry through its public
//! API (`oxcd_server::apply`): what one applied request may change, and what a failed one
//! must not.

use std::sync::Arc;
use std::time::Duration;

use oxcd_auth::{AuthStore, SimpleTokens, TokenProvider};
use oxcd_backend::{Backend, MemBackend};
use oxcd_lease::{Lessor, LessorConfig};
use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::{
    request_op::Request, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest,
};
use oxcd_proto::oxcdpb::{internal_request::Op, InternalRequest};
use oxcd_raftlog::{Applier, Committed};
use prost::Message;

use oxcd_server::apply::alarm::AlarmStore;
use oxcd_server::apply::{ApplyProgress, ApplyResult, StateMachine, Stores};
use oxcd_server::auth::Caller;
use oxcd_server::error::ServerError;
use oxcd_server::members::Members;
use oxcd_server::propose::wait::ProposalWaiters;

struct Member {
    sm: StateMachine,
    kv: Arc<KvStore>,
    lessor: Arc<Lessor>,
    auth: Arc<AuthStore>,
    tokens: Arc<dyn TokenProvider>,
    waiters: Arc<ProposalWaiters>,
    index: u64,
    backend: Arc<dyn Backend>,
    _snapshots: tempfile::TempDir,
}

impl Member {
    fn new() -> Self {
        Self::over(Arc::new(MemBackend::new()))
    }

    /// A member over `backend` as a restarted process finds it: every store recovered
    /// from it, the applied index read back.
    fn over(backend: Arc<dyn Backend>) -> Self {
        let kv = Arc::new(KvStore::open(backend.clone()).unwrap());
        let lessor = Arc::new(
            Lessor::open(
                backend.clone(),
                LessorConfig::for_election_timeout(Duration::from_secs(1)),
            )
            .unwrap(),
        );
        let alarms = Arc::new(AlarmStore::load(backend.as_ref()).unwrap());
        let members = Arc::new(Members::load_or_bootstrap(backend.as_ref(), vec![], 1, 1).unwrap());
        for (key, lease) in kv.take_lease_attachments() {
            let _ = lessor.attach(lease, &key);
        }
        let auth = Arc::new(AuthStore::open(backend.as_ref(), 4).unwrap());
        let tokens: Arc<dyn TokenProvider> = Arc::new(SimpleTokens::new(Duration::from_secs(60)));
        let waiters = Arc::new(ProposalWaiters::default());
        let snapshots = tempfile::tempdir().unwrap();
        let backend_for_restart = backend.clone();
        let sm = StateMachine::new(
            Stores {
                backend,
                kv: kv.clone(),
                leases: lessor.clone(),
                alarms,
                members,
                auth: auth.clone(),
                tokens: tokens.clone(),
            },
            waiters.clone(),
            None,
            Arc::new(ApplyProgress::default()),
            Duration::from_secs(1),
            snapshots.path().to_path_buf(),
        )
        .unwrap();
        Member {
            sm,
            kv,
            lessor,
            auth,
            tokens,
            waiters,
            index: 0,
            backend: backend_for_restart,
            _snapshots: snapshots,
        }
    }

    /// Applies `op` as the next entry, as an anonymous client, and returns its result.
    fn apply(&mut self, op: Op) -> ApplyResult {
        self.apply_as(&Caller::Anonymous, op)
    }

    /// Applies `op` as the next entry proposed by `caller` and returns its result.
    fn apply_as(&mut self, caller: &Caller, op: Op) -> ApplyResult {
        self.index += 1;
        let id = self.index;
        let rx = self.waiters.register(id);
        let data = InternalRequest {
            header: Some(caller.header(id)),
            op: Some(op),
        }
        .encode_to_vec();
        self.sm
            .apply(&[Committed {
                index: self.index,
                term: 1,
                data: &data,
            }])
            .unwrap();
        let mut rx = rx;
        rx.try_recv().expect("the waiter was answered")
    }

    /// Delivers the entries at `indexes` again (a restarted raft replays from its log).
    fn redeliver(&mut self, entries: &[(u64, Vec<u8>)]) {
        let committed: Vec<Committed<'_>> = entries
            .iter()
            .map(|(index, data)| Committed {
                index: *index,
                term: 1,
                data,
            })
            .collect();
        self.sm.apply(&committed).unwrap();
    }

    fn value(&self, key: &[u8]) -> Option<Vec<u8>> {
        let r = RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        self.kv
            .range(&r)
            .unwrap()
            .kvs
            .pop()
            .map(|kv| kv.value.to_vec())
    }
}

fn put(key: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: b"v".to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

fn grant(id: i64) -> Op {
    Op::LeaseGrant(LeaseGrantRequest { ttl: 60, id })
}

fn revoke(id: i64) -> Op {
    Op::LeaseRevoke(LeaseRevokeRequest { id })
}

/// A txn that fails at apply after its first put (its second put's lease was revoked
/// after admission) attaches nothing: revoking the first put's lease later must not
/// delete a key that lease never owned.
#[test]
fn a_failed_txn_attaches_no_key() {
    let mut m = Member::new();
    assert!(matches!(m.apply(grant(1)), ApplyResult::LeaseGrant(_)));
    assert!(matches!(m.apply(grant(2)), ApplyResult::LeaseGrant(_)));
    assert!(matches!(m.apply(revoke(2)), ApplyResult::LeaseRevoke(_)));
    let txn = TxnRequest {
        success: vec![put(b"k", 1), put(b"j", 2)],
        ..Default::default()
    };
    let r = m.apply(Op::Txn(txn));
    assert!(
        matches!(r, ApplyResult::Error(ServerError::LeaseNotFound)),
        "{r:?}"
    );
    assert_eq!(m.value(b"k"), None, "the failed txn wrote nothing");
    assert_eq!(m.lessor.attached_keys(1).unwrap(), Vec::<Vec<u8>>::new());

    // `k` written later without a lease survives lease 1's revoke.
    let plain = match put(b"k", 0).request {
        Some(Request::RequestPut(p)) => p,
        _ => unreachable!(),
    };
    assert!(matches!(m.apply(Op::Put(plain)), ApplyResult::Put(_)));
    assert!(matches!(m.apply(revoke(1)), ApplyResult::LeaseRevoke(_)));
    assert_eq!(m.value(b"k"), Some(b"v".to_vec()));
}

/// A successful txn's attachments and detachments all land, in order.
#[test]
fn a_txn_moves_keys_between_leases() {
    let mut m = Member::new();
    m.apply(grant(1));
    m.apply(grant(2));
    let txn = TxnRequest {
        success: vec![put(b"k", 1), put(b"k", 2), put(b"j", 1)],
        ..Default::default()
    };
    assert!(matches!(m.apply(Op::Txn(txn)), ApplyResult::Txn(_)));
    assert_eq!(m.lessor.attached_keys(1).unwrap(), vec![b"j".to_vec()]);
    assert_eq!(m.lessor.attached_keys(2).unwrap(), vec![b"k".to_vec()]);
    assert!(matches!(m.apply(revoke(2)), ApplyResult::LeaseRevoke(_)));
    assert_eq!(m.value(b"k"), None);
    assert_eq!(m.value(b"j"), Some(b"v".to_vec()));
}

/// Revoking an unknown lease fails and changes nothing.
#[test]
fn revoking_an_unknown_lease_changes_nothing() {
    let mut m = Member::new();
    m.apply(grant(1));
    let r = m.apply(revoke(9));
    assert!(matches!(r, ApplyResult::Error(_)), "{r:?}");
    assert!(m.lessor.exists(1));
}

mod auth {
    //! Auth at apply: management entries, and the permission every entry is checked for
    //! with the user and auth revision its header carries.

    use oxcd_proto::authpb::{permission::Type as PermType, Permission, UserAddOptions};
    use oxcd_proto::etcdserverpb::{
        AuthEnableRequest, AuthRoleAddRequest, AuthRoleGrantPermissionRequest,
        AuthRoleRevokePermissionRequest, AuthUserAddRequest, AuthUserDeleteRequest,
        AuthUserGetRequest, AuthUserGrantRoleRequest,
    };
    use oxcd_proto::oxcdpb::InternalAuthenticateRequest;

    use super::*;
    use oxcd_server::apply::auth::AuthOutcome;

    fn user_add(name: &str) -> Op {
        Op::AuthUserAdd(AuthUserAddRequest {
            name: name.into(),
            hashed_password: "$2a$04$not-checked-at-apply".into(),
            options: Some(UserAddOptions { no_password: false }),
            ..Default::default()
        })
    }

    fn grant_role(user: &str, role: &str) -> Op {
        Op::AuthUserGrantRole(AuthUserGrantRoleRequest {
            user: user.into(),
            role: role.into(),
        })
    }

    fn put_op(key: &[u8]) -> Op {
        Op::Put(PutRequest {
            key: key.to_vec(),
            value: b"v".to_vec(),
            ..Default::default()
        })
    }

    fn done(r: ApplyResult) {
        assert!(matches!(r, ApplyResult::Auth(AuthOutcome::Done)), "{r:?}");
    }

    fn denied(r: ApplyResult, want: ServerError) {
        match r {
            ApplyResult::Error(e) => assert_eq!(e, want),
            other => panic!("expected {want:?}, got {other:?}"),
        }
    }

    /// root, and alice with readwrite on the prefix `a/`; auth on.
    fn member_with_alice() -> Member {
        let mut m = Member::new();
        done(m.apply(user_add("root")));
        done(m.apply(grant_role("root", "root")));
        done(m.apply(Op::AuthRoleAdd(AuthRoleAddRequest { name: "r".into() })));
        done(m.apply(Op::AuthRoleGrantPermission(
            AuthRoleGrantPermissionRequest {
                name: "r".into(),
                perm: Some(Permission {
                    perm_type: PermType::Readwrite as i32,
                    key: b"a/".to_vec(),
                    range_end: b"a0".to_vec(),
                }),
            },
        )));
        done(m.apply(user_add("alice")));
        done(m.apply(grant_role("alice", "r")));
        done(m.apply(Op::AuthEnable(AuthEnableRequest {})));
        assert!(m.auth.enabled());
        m
    }

    fn as_user(m: &Member, name: &str) -> Caller {
        Caller::User {
            name: name.into(),
            revision: m.auth.revision(),
        }
    }

    #[test]
    fn writes_are_checked_with_the_header_user_and_revision() {
        let mut m = member_with_alice();
        let alice = as_user(&m, "alice");
        assert!(matches!(
            m.apply_as(&alice, put_op(b"a/1")),
            ApplyResult::Put(_)
        ));
        denied(
            m.apply_as(&alice, put_op(b"b")),
            ServerError::PermissionDenied,
        );
        assert_eq!(m.value(b"b"), None);
        // No credentials while auth is on; the member's own requests are never checked.
        denied(m.apply(put_op(b"a/2")), ServerError::UserEmpty);
        assert!(matches!(
            m.apply_as(&Caller::System, put_op(b"b")),
            ApplyResult::Put(_)
        ));
        // A permission revoked after alice's request was admitted: refused at apply.
        let root = as_user(&m, "root");
        done(m.apply_as(
            &root,
            Op::AuthRoleRevokePermission(AuthRoleRevokePermissionRequest {
                role: "r".into(),
                key: b"a/".to_vec(),
                range_end: b"a0".to_vec(),
            }),
        ));
        denied(
            m.apply_as(&alice, put_op(b"a/2")),
            ServerError::AuthOldRevision,
        );
        assert_eq!(m.value(b"a/2"), None);
        denied(
            m.apply_as(&as_user(&m, "alice"), put_op(b"a/2")),
            ServerError::PermissionDenied,
        );
    }

    #[test]
    fn management_needs_root_but_a_user_may_read_itself() {
        let mut m = member_with_alice();
        let alice = as_user(&m, "alice");
        let before = m.auth.revision();
        denied(
            m.apply_as(&alice, user_add("mallory")),
            ServerError::PermissionDenied,
        );
        denied(m.apply(user_add("mallory")), ServerError::UserEmpty);
        assert_eq!(m.auth.revision(), before, "a refused change bumps nothing");
        let own = Op::AuthUserGet(AuthUserGetRequest {
            name: "alice".into(),
        });
        match m.apply_as(&alice, own) {
            ApplyResult::Auth(AuthOutcome::Names(roles)) => assert_eq!(roles, vec!["r"]),
            other => panic!("{other:?}"),
        }
        let other = Op::AuthUserGet(AuthUserGetRequest {
            name: "root".into(),
        });
        denied(m.apply_as(&alice, other), ServerError::PermissionDenied);
    }

    #[test]
    fn authenticate_records_the_token_and_a_deleted_user_loses_it() {
        let mut m = member_with_alice();
        let prepared = m.tokens.prepare();
        let op = Op::Authenticate(InternalAuthenticateRequest {
            name: "alice".into(),
            password: String::new(),
            simple_token: prepared.clone(),
        });
        let token = match m.apply(op) {
            ApplyResult::Auth(AuthOutcome::Token(t)) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(token, format!("{prepared}.{}", m.index));
        let rev = m.auth.revision();
        assert_eq!(m.tokens.info(&token, rev).unwrap().user, "alice");
        let root = as_user(&m, "root");
        done(m.apply_as(
            &root,
            Op::AuthUserDelete(AuthUserDeleteRequest {
                name: "alice".into(),
            }),
        ));
        assert!(m.tokens.info(&token, m.auth.revision()).is_err());
    }

    #[test]
    fn a_lease_revoke_needs_write_on_every_attached_key() {
        let mut m = member_with_alice();
        assert!(matches!(
            m.apply_as(&Caller::System, grant(1)),
            ApplyResult::LeaseGrant(_)
        ));
        let leased = Op::Put(PutRequest {
            key: b"b".to_vec(),
            value: b"v".to_vec(),
            lease: 1,
            ..Default::default()
        });
        assert!(matches!(
            m.apply_as(&Caller::System, leased),
            ApplyResult::Put(_)
        ));
        let alice = as_user(&m, "alice");
        denied(m.apply_as(&alice, revoke(1)), ServerError::PermissionDenied);
        assert!(m.lessor.exists(1));
        assert_eq!(m.value(b"b"), Some(b"v".to_vec()));
        // Attaching her own key to that lease is refused too.
        let attach = Op::Put(PutRequest {
            key: b"a/1".to_vec(),
            value: b"v".to_vec(),
            lease: 1,
            ..Default::default()
        });
        denied(m.apply_as(&alice, attach), ServerError::PermissionDenied);
    }
}

/// A crash after any entry, then raft replaying its whole log: the entries the state
/// machine already applied (its applied index is in the same batch as their effects) are
/// skipped, so nothing is applied twice; the rest are applied once.
#[test]
fn replayed_entries_are_applied_exactly_once_after_a_restart() {
    let ops = |n: u64| -> Vec<(u64, Vec<u8>)> {
        (1..=n)
            .map(|i| {
                let op = match i % 3 {
                    0 => grant(i as i64),
                    1 => Op::Put(PutRequest {
                        key: format!("k{}", i % 4).into_bytes(),
                        value: format!("v{i}").into_bytes(),
                        ..Default::default()
                    }),
                    _ => Op::Txn(TxnRequest {
                        success: vec![put(format!("t{i}").as_bytes(), 0)],
                        ..Default::default()
                    }),
                };
                let data = InternalRequest {
                    header: Some(Caller::Anonymous.header(i)),
                    op: Some(op),
                }
                .encode_to_vec();
                (i, data)
            })
            .collect()
    };
    let all = ops(12);
    // The state after applying everything once, without a crash.
    let mut reference = Member::new();
    reference.redeliver(&all);
    let want_rev = reference.kv.current_revision();
    for crash_after in 0..all.len() {
        let mut m = Member::new();
        m.redeliver(&all[..crash_after]);
        // Restart over the same data, and replay the whole log.
        let mut restarted = Member::over(m.backend.clone());
        assert_eq!(restarted.sm.applied_index(), crash_after as u64);
        restarted.redeliver(&all);
        restarted.redeliver(&all);
        assert_eq!(restarted.sm.applied_index(), all.len() as u64);
        assert_eq!(
            restarted.kv.current_revision(),
            want_rev,
            "crash after entry {crash_after}"
        );
        for k in ["k0", "k1", "k2", "k3", "t2", "t11"] {
            assert_eq!(
                restarted.value(k.as_bytes()),
                reference.value(k.as_bytes()),
                "{k} after a crash after entry {crash_after}"
            );
        }
        let mut leases = restarted.lessor.leases();
        leases.sort_unstable();
        assert_eq!(leases, vec![3, 6, 9, 12], "crash after entry {crash_after}");
    }
}

/// With the CORRUPT alarm raised every member refuses what etcd's corrupt applier refuses
/// (puts, deletes, txns, compactions, lease grants and revokes) and applies the rest
/// (alarms, checkpoints); disarming it lets writes through again.
#[test]
fn a_corrupt_alarm_refuses_writes_until_disarmed() {
    use oxcd_proto::etcdserverpb::{
        alarm_request::AlarmAction, AlarmRequest, AlarmType, CompactionRequest, DeleteRangeRequest,
    };
    let mut m = Member::new();
    let put_op = |v: &[u8]| {
        Op::Put(PutRequest {
            key: b"k".to_vec(),
            value: v.to_vec(),
            ..Default::default()
        })
    };
    assert!(matches!(m.apply(put_op(b"before")), ApplyResult::Put(_)));
    assert!(matches!(m.apply(grant(7)), ApplyResult::LeaseGrant(_)));
    let alarm = |action: AlarmAction| {
        Op::Alarm(AlarmRequest {
            action: action as i32,
            member_id: 0,
            alarm: AlarmType::Corrupt as i32,
        })
    };
    assert!(matches!(
        m.apply(alarm(AlarmAction::Activate)),
        ApplyResult::Alarm(_)
    ));
    let refused = [
        put_op(b"during"),
        Op::DeleteRange(DeleteRangeRequest {
            key: b"k".to_vec(),
            ..Default::default()
        }),
        Op::Txn(TxnRequest {
            success: vec![put(b"t", 0)],
            ..Default::default()
        }),
        Op::Compaction(CompactionRequest {
            revision: 1,
            physical: false,
        }),
        grant(8),
        revoke(7),
    ];
    for op in refused {
        let what = format!("{op:?}");
        match m.apply(op) {
            ApplyResult::Error(ServerError::Corrupt) => {}
            other => panic!("{what} under CORRUPT: {other:?}"),
        }
    }
    assert_eq!(m.value(b"k"), Some(b"before".to_vec()));
    assert!(m.lessor.exists(7), "the refused revoke kept the lease");
    assert!(matches!(
        m.apply(alarm(AlarmAction::Deactivate)),
        ApplyResult::Alarm(_)
    ));
    assert!(matches!(m.apply(put_op(b"after")), ApplyResult::Put(_)));
    assert_eq!(m.value(b"k"), Some(b"after".to_vec()));
}
