//! Txn: compares, then the chosen branch, in one MVCC write transaction (one revision).
//!
//! Compares of the txn and of every nested txn on the chosen path are evaluated first,
//! against the state before the txn writes anything (etcd's `compareToPath`); the ops then
//! run in list order, each seeing the writes before it. Any op error aborts the whole txn:
//! the caller drops the write transaction, so nothing is written.
//!
//! A txn without puts or deletes on either branch (etcd's `isTxnReadonly`) never goes
//! through raft: [`read_only`] evaluates it against the store pinned at its current
//! revision, after the caller's linearizable wait (unless every range is serializable).

use oxcd_mvcc::{KvStore, RangeResult, Snapshot, WriteTxn};
use oxcd_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    request_op::Request,
    response_op::Response,
    Compare, RangeRequest, ResponseOp, TxnRequest, TxnResponse,
};
use oxcd_proto::mvccpb::KeyValue;

use super::kv::{self, rev_header};
use super::leases::LeaseEdits;
use crate::error::ServerError;

/// Which branch each txn on the chosen path takes, in visiting order.
#[derive(Debug)]
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

/// Applies a txn.
pub fn apply(
    txn: &mut WriteTxn<'_>,
    leases: &mut LeaseEdits<'_>,
    r: &TxnRequest,
) -> Result<TxnResponse, ServerError> {
    let path = compare_path(txn, r)?;
    let mut resp = exec(txn, leases, r, &path)?;
    let revision = if txn.is_empty() {
        txn.revision() - 1
    } else {
        txn.revision()
    };
    resp.header = rev_header(revision);
    Ok(resp)
}

/// What compares and ranges read from: the write transaction, or a pinned read view.
trait TxnRead {
    fn range(&self, r: &RangeRequest) -> Result<RangeResult, ServerError>;
}

impl TxnRead for WriteTxn<'_> {
    fn range(&self, r: &RangeRequest) -> Result<RangeResult, ServerError> {
        Ok(WriteTxn::range(self, r)?)
    }
}

impl TxnRead for Snapshot<'_> {
    fn range(&self, r: &RangeRequest) -> Result<RangeResult, ServerError> {
        Ok(Snapshot::range(self, r)?)
    }
}

/// Whether neither branch (nested txns included) writes: etcd's `isTxnReadonly`.
pub fn is_read_only(r: &TxnRequest) -> bool {
    r.success
        .iter()
        .chain(r.failure.iter())
        .all(|op| match &op.request {
            Some(Request::RequestRange(_)) | None => true,
            Some(Request::RequestTxn(t)) => is_read_only(t),
            Some(Request::RequestPut(_)) | Some(Request::RequestDeleteRange(_)) => false,
        })
}

/// Whether every range of a read-only txn is serializable: etcd's `isTxnSerializable`.
pub fn is_serializable(r: &TxnRequest) -> bool {
    r.success
        .iter()
        .chain(r.failure.iter())
        .all(|op| match &op.request {
            Some(Request::RequestRange(q)) => q.serializable,
            Some(Request::RequestTxn(t)) => is_serializable(t),
            _ => true,
        })
}

/// Evaluates a read-only txn (see [`is_read_only`]) against `kv` at its current revision.
pub fn read_only(kv: &KvStore, r: &TxnRequest) -> Result<TxnResponse, ServerError> {
    let view = kv.snapshot();
    let path = compare_path(&view, r)?;
    let mut resp = exec_read(&view, r, &path)?;
    resp.header = rev_header(view.revision());
    Ok(resp)
}

fn exec_read(view: &Snapshot<'_>, r: &TxnRequest, path: &Path) -> Result<TxnResponse, ServerError> {
    let ops = if path.succeeded {
        &r.success
    } else {
        &r.failure
    };
    let mut nested = path.nested.iter();
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match &op.request {
            Some(Request::RequestRange(q)) => {
                let res = view.range(q)?;
                Response::ResponseRange(oxcd_proto::etcdserverpb::RangeResponse {
                    header: rev_header(view.revision()),
                    kvs: res.kvs,
                    more: res.more,
                    count: res.count,
                })
            }
            Some(Request::RequestTxn(t)) => {
                let sub = nested
                    .next()
                    .ok_or_else(|| ServerError::Internal("txn path mismatch".into()))?;
                let mut resp = exec_read(view, t, sub)?;
                resp.header = rev_header(view.revision());
                Response::ResponseTxn(resp)
            }
            Some(Request::RequestPut(_)) | Some(Request::RequestDeleteRange(_)) => {
                return Err(ServerError::Internal("write in a read-only txn".into()))
            }
            None => continue,
        };
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: None,
        succeeded: path.succeeded,
        responses,
    })
}

fn compare_path<T: TxnRead>(txn: &T, r: &TxnRequest) -> Result<Path, ServerError> {
    let mut succeeded = true;
    for c in &r.compare {
        if !compare(txn, c)? {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded { &r.success } else { &r.failure };
    let mut nested = Vec::new();
    for op in ops {
        if let Some(Request::RequestTxn(t)) = &op.request {
            nested.push(compare_path(txn, t)?);
        }
    }
    Ok(Path { succeeded, nested })
}

fn exec(
    txn: &mut WriteTxn<'_>,
    leases: &mut LeaseEdits<'_>,
    r: &TxnRequest,
    path: &Path,
) -> Result<TxnResponse, ServerError> {
    let ops = if path.succeeded {
        &r.success
    } else {
        &r.failure
    };
    let mut nested = path.nested.iter();
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        let response = match &op.request {
            Some(Request::RequestRange(q)) => Response::ResponseRange(kv::range(txn, q)?),
            Some(Request::RequestPut(p)) => Response::ResponsePut(kv::put(txn, leases, p)?),
            Some(Request::RequestDeleteRange(d)) => {
                Response::ResponseDeleteRange(kv::delete_range(txn, leases, d)?)
            }
            Some(Request::RequestTxn(t)) => {
                let sub = nested
                    .next()
                    .ok_or_else(|| ServerError::Internal("txn path mismatch".into()))?;
                let mut resp = exec(txn, leases, t, sub)?;
                let revision = if txn.is_empty() {
                    txn.revision() - 1
                } else {
                    txn.revision()
                };
                resp.header = rev_header(revision);
                Response::ResponseTxn(resp)
            }
            None => continue,
        };
        responses.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(TxnResponse {
        header: None,
        succeeded: path.succeeded,
        responses,
    })
}

/// Evaluates one compare against every key in its range (etcd `applyCompare`).
fn compare<T: TxnRead>(txn: &T, c: &Compare) -> Result<bool, ServerError> {
    let req = RangeRequest {
        key: c.key.clone(),
        range_end: c.range_end.clone(),
        ..Default::default()
    };
    let kvs = match txn.range(&req) {
        Ok(r) => r.kvs,
        Err(_) => return Ok(false),
    };
    if kvs.is_empty() {
        // A missing key has no value to compare: a VALUE compare always fails; the other
        // targets compare against zero.
        if c.target == CompareTarget::Value as i32 {
            return Ok(false);
        }
        return Ok(compare_kv(c, &KeyValue::default()));
    }
    Ok(kvs.iter().all(|kv| compare_kv(c, kv)))
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use std::cmp::Ordering;
    let ord = match CompareTarget::try_from(c.target) {
        Ok(CompareTarget::Value) => {
            let want: &[u8] = match &c.target_union {
                Some(TargetUnion::Value(v)) => v,
                _ => &[],
            };
            kv.value[..].cmp(want)
        }
        Ok(CompareTarget::Create) => kv.create_revision.cmp(&int_target(c, |t| match t {
            TargetUnion::CreateRevision(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Mod) => kv.mod_revision.cmp(&int_target(c, |t| match t {
            TargetUnion::ModRevision(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Version) => kv.version.cmp(&int_target(c, |t| match t {
            TargetUnion::Version(v) => Some(*v),
            _ => None,
        })),
        Ok(CompareTarget::Lease) => kv.lease.cmp(&int_target(c, |t| match t {
            TargetUnion::Lease(v) => Some(*v),
            _ => None,
        })),
        Err(_) => return false,
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ord == Ordering::Equal,
        Ok(CompareResult::NotEqual) => ord != Ordering::Equal,
        Ok(CompareResult::Greater) => ord == Ordering::Greater,
        Ok(CompareResult::Less) => ord == Ordering::Less,
        Err(_) => false,
    }
}

fn int_target(c: &Compare, pick: impl Fn(&TargetUnion) -> Option<i64>) -> i64 {
    c.target_union.as_ref().and_then(pick).unwrap_or(0)
}
