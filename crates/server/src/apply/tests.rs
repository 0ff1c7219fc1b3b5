//! The state machine over an in-memory backend: what one applied request may change.

use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::{Backend, MemBackend};
use oxcd_lease::{Lessor, LessorConfig};
use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::{
    request_op::Request, LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest,
};
use oxcd_proto::oxcdpb::{internal_request::Op, InternalRequest, RequestHeader};
use oxcd_raftlog::{Applier, Committed};
use prost::Message;

use super::alarm::AlarmStore;
use super::{ApplyProgress, ApplyResult, StateMachine, Stores};
use crate::error::ServerError;
use crate::members::Members;
use crate::propose::wait::ProposalWaiters;

struct Member {
    sm: StateMachine,
    kv: Arc<KvStore>,
    lessor: Arc<Lessor>,
    waiters: Arc<ProposalWaiters>,
    index: u64,
    _snapshots: tempfile::TempDir,
}

impl Member {
    fn new() -> Self {
        let backend: Arc<dyn Backend> = Arc::new(MemBackend::new());
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
        let waiters = Arc::new(ProposalWaiters::default());
        let snapshots = tempfile::tempdir().unwrap();
        let sm = StateMachine::new(
            Stores {
                backend,
                kv: kv.clone(),
                leases: lessor.clone(),
                alarms,
                members,
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
            waiters,
            index: 0,
            _snapshots: snapshots,
        }
    }

    /// Applies `op` as the next entry and returns its result.
    fn apply(&mut self, op: Op) -> ApplyResult {
        self.index += 1;
        let id = self.index;
        let rx = self.waiters.register(id);
        let data = InternalRequest {
            header: Some(RequestHeader {
                id,
                ..Default::default()
            }),
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
