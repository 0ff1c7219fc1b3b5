//! Executing one [`Call`] over gRPC and turning the answer into an [`Outcome`].
//!
//! Every call is bounded by the caller's timeout. A WRITE THAT FAILED FOR ANY REASON BUT A
//! DETERMINISTIC REJECTION HAS AN UNKNOWN OUTCOME: it may have been applied (or be applied
//! later), so it is recorded as [`Outcome::Unknown`], never as failed.

use oxcd_checker::{Call, Kv, Outcome};
use oxcd_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request,
    response_op::Response,
    Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest,
    PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use oxcd_proto::mvccpb::KeyValue;
use tonic::{Code, Status};

use crate::conn::Conn;

/// A response's key-value in the checker's terms.
pub fn kv_of(kv: &KeyValue) -> Kv {
    Kv {
        value: kv.value.to_vec(),
        mod_revision: kv.mod_revision,
        create_revision: kv.create_revision,
        version: kv.version,
        lease: kv.lease,
    }
}

fn revision_of(h: &Option<oxcd_proto::etcdserverpb::ResponseHeader>) -> i64 {
    h.as_ref().map_or(0, |h| h.revision)
}

/// Whether `call` changes the store (so an error leaves its outcome unknown).
pub fn is_write(call: &Call) -> bool {
    !matches!(call, Call::Get { .. })
}

/// What an error means for `call`: a read simply failed; a write failed only when the
/// server rejected it deterministically (the lease it names does not exist), otherwise its
/// outcome is unknown.
pub fn outcome_of_error(call: &Call, status: &Status) -> Outcome {
    let rejected = status.code() == Code::NotFound
        && status.message() == "etcdserver: requested lease not found";
    if !is_write(call) || rejected {
        Outcome::Failed(format!("{:?}: {}", status.code(), status.message()))
    } else {
        Outcome::Unknown
    }
}

/// Sends `call` to `conn` and decodes the answer.
pub async fn execute(conn: &mut Conn, call: &Call) -> Result<Outcome, Status> {
    match call {
        Call::Put { key, value, lease } => {
            let r = conn
                .kv
                .put(PutRequest {
                    key: key.clone(),
                    value: value.clone(),
                    lease: *lease,
                    prev_kv: true,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok(Outcome::Put {
                revision: revision_of(&r.header),
                prev: r.prev_kv.as_ref().map(kv_of),
            })
        }
        Call::Get { key, serializable } => {
            let r = conn
                .kv
                .range(RangeRequest {
                    key: key.clone(),
                    serializable: *serializable,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok(Outcome::Get {
                revision: revision_of(&r.header),
                kv: r.kvs.first().map(kv_of),
            })
        }
        Call::Delete { key } => {
            let r = conn
                .kv
                .delete_range(DeleteRangeRequest {
                    key: key.clone(),
                    prev_kv: true,
                    ..Default::default()
                })
                .await?
                .into_inner();
            Ok(Outcome::Delete {
                revision: revision_of(&r.header),
                prev: r.prev_kvs.first().map(kv_of),
            })
        }
        Call::Cas {
            key,
            expect_mod_revision,
            value,
        } => {
            let r = conn
                .kv
                .txn(TxnRequest {
                    compare: vec![Compare {
                        result: CompareResult::Equal as i32,
                        target: CompareTarget::Mod as i32,
                        key: key.clone(),
                        target_union: Some(TargetUnion::ModRevision(*expect_mod_revision)),
                        ..Default::default()
                    }],
                    success: vec![RequestOp {
                        request: Some(Request::RequestPut(PutRequest {
                            key: key.clone(),
                            value: value.clone(),
                            ..Default::default()
                        })),
                    }],
                    failure: vec![RequestOp {
                        request: Some(Request::RequestRange(RangeRequest {
                            key: key.clone(),
                            ..Default::default()
                        })),
                    }],
                })
                .await?
                .into_inner();
            let current = r.responses.first().and_then(|op| match &op.response {
                Some(Response::ResponseRange(rr)) => rr.kvs.first().map(kv_of),
                _ => None,
            });
            Ok(Outcome::Cas {
                revision: revision_of(&r.header),
                succeeded: r.succeeded,
                current,
            })
        }
        Call::LeaseGrant { ttl } => {
            let r = conn
                .lease
                .lease_grant(LeaseGrantRequest { ttl: *ttl, id: 0 })
                .await?
                .into_inner();
            if !r.error.is_empty() {
                return Err(Status::unknown(r.error));
            }
            Ok(Outcome::LeaseGrant {
                id: r.id,
                revision: revision_of(&r.header),
            })
        }
        Call::LeaseRevoke { id } => {
            let r = conn
                .lease
                .lease_revoke(LeaseRevokeRequest { id: *id })
                .await?
                .into_inner();
            Ok(Outcome::LeaseRevoke {
                revision: revision_of(&r.header),
            })
        }
    }
}

/// One keepalive of `id` (not recorded: it changes no key). Returns the new TTL.
pub async fn keepalive(conn: &mut Conn, id: i64) -> Result<i64, Status> {
    let req = futures::stream::iter([LeaseKeepAliveRequest { id }]);
    let mut responses = conn.lease.lease_keep_alive(req).await?.into_inner();
    match responses.message().await? {
        Some(r) => Ok(r.ttl),
        None => Err(Status::unavailable("keepalive stream ended")),
    }
}
