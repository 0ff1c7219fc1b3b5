//! Put, DeleteRange and Range inside one MVCC write transaction (etcd `txn/put.go`,
//! `txn/delete.go`, `txn/range.go`).

use oxcd_mvcc::WriteTxn;
use oxcd_proto::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse,
    ResponseHeader,
};

use super::leases::LeaseEdits;
use crate::error::ServerError;

/// A header carrying only a revision, as etcd puts on responses nested in a txn; the gRPC
/// layer fills the rest on top-level responses.
pub fn rev_header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        revision,
        ..Default::default()
    })
}

/// Applies a put, recording its lease attachment into `leases`. Errors leave the
/// transaction unchanged.
pub fn put(
    txn: &mut WriteTxn<'_>,
    leases: &mut LeaseEdits<'_>,
    p: &PutRequest,
) -> Result<PutResponse, ServerError> {
    let prev = if p.ignore_value || p.ignore_lease || p.prev_kv {
        txn.get(&p.key)?
    } else {
        None
    };
    if (p.ignore_value || p.ignore_lease) && prev.is_none() {
        return Err(ServerError::KeyNotFound);
    }
    let value: &[u8] = match (&prev, p.ignore_value) {
        (Some(kv), true) => &kv.value,
        _ => &p.value,
    };
    let lease = match (&prev, p.ignore_lease) {
        (Some(kv), true) => kv.lease,
        _ => p.lease,
    };
    if lease != 0 && !leases.exists(lease) {
        return Err(ServerError::LeaseNotFound);
    }
    let corrupted;
    let value = if corrupt_value() {
        corrupted = [value, b"-corrupt"].concat();
        &corrupted[..]
    } else {
        value
    };
    let old = txn.put(&p.key, value, lease);
    if let Some(old) = &old {
        if old.lease != 0 && old.lease != lease {
            leases.detach(old.lease, &p.key);
        }
    }
    if lease != 0 {
        leases.attach(lease, &p.key);
    }
    Ok(PutResponse {
        header: rev_header(txn.revision()),
        prev_kv: if p.prev_kv { prev } else { None },
    })
}

/// The corruption checks' test fault: true only when the failpoint `apply-put-corrupt-value`
/// is armed (`return`) in a build with the `failpoints` feature. This member then stores
/// every put's value with `-corrupt` appended, so its data (and HashKV) diverge from its
/// peers' while raft stays consistent.
fn corrupt_value() -> bool {
    fail::fail_point!("apply-put-corrupt-value", |_| true);
    false
}

/// Applies a delete-range, recording the detachment of deleted keys into `leases`.
pub fn delete_range(
    txn: &mut WriteTxn<'_>,
    leases: &mut LeaseEdits<'_>,
    d: &DeleteRangeRequest,
) -> Result<DeleteRangeResponse, ServerError> {
    let deleted = txn.delete_range(&d.key, &d.range_end)?;
    for kv in &deleted {
        if kv.lease != 0 {
            leases.detach(kv.lease, &kv.key);
        }
    }
    let revision = if txn.is_empty() {
        txn.revision() - 1
    } else {
        txn.revision()
    };
    Ok(DeleteRangeResponse {
        header: rev_header(revision),
        deleted: deleted.len() as i64,
        prev_kvs: if d.prev_kv { deleted } else { Vec::new() },
    })
}

/// Runs a range that sees the transaction's own earlier writes.
pub fn range(txn: &WriteTxn<'_>, r: &RangeRequest) -> Result<RangeResponse, ServerError> {
    let res = txn.range(r)?;
    Ok(RangeResponse {
        header: rev_header(res.revision),
        kvs: res.kvs,
        more: res.more,
        count: res.count,
    })
}
