//! Request validation done before proposing, with etcd's rules and errors
//! (etcd `v3rpc/key.go`): empty keys, `ignore_*` conflicts, `--max-txn-ops`, and duplicate
//! writes of one key inside a txn.

use std::collections::HashSet;

use oxcd_proto::etcdserverpb::{
    request_op::Request, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use crate::error::ServerError;

/// Checks a RangeRequest.
pub fn check_range(r: &RangeRequest) -> Result<(), ServerError> {
    if r.key.is_empty() {
        return Err(ServerError::EmptyKey);
    }
    Ok(())
}

/// Checks a PutRequest.
pub fn check_put(r: &PutRequest) -> Result<(), ServerError> {
    if r.key.is_empty() {
        return Err(ServerError::EmptyKey);
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(ServerError::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(ServerError::LeaseProvided);
    }
    Ok(())
}

/// Checks a DeleteRangeRequest.
pub fn check_delete(r: &DeleteRangeRequest) -> Result<(), ServerError> {
    if r.key.is_empty() {
        return Err(ServerError::EmptyKey);
    }
    Ok(())
}

/// Checks a TxnRequest, including nested txns and duplicate keys.
pub fn check_txn(r: &TxnRequest, max_txn_ops: usize) -> Result<(), ServerError> {
    check_txn_ops(r, max_txn_ops)?;
    check_intervals(&r.success)?;
    check_intervals(&r.failure)?;
    Ok(())
}

fn check_txn_ops(r: &TxnRequest, max_txn_ops: usize) -> Result<(), ServerError> {
    let ops = r.compare.len().max(r.success.len()).max(r.failure.len());
    if ops > max_txn_ops {
        return Err(ServerError::TooManyOps);
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(ServerError::EmptyKey);
    }
    for op in r.success.iter().chain(r.failure.iter()) {
        match &op.request {
            Some(Request::RequestRange(q)) => check_range(q)?,
            Some(Request::RequestPut(p)) => check_put(p)?,
            Some(Request::RequestDeleteRange(d)) => check_delete(d)?,
            Some(Request::RequestTxn(t)) => check_txn_ops(t, max_txn_ops)?,
            None => {}
        }
    }
    Ok(())
}

/// A deleted interval `[start, end)`; `end == None` is unbounded, a point has `end = key\0`.
#[derive(Debug, Clone)]
struct Interval {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

impl Interval {
    fn of_delete(d: &DeleteRangeRequest) -> Interval {
        match d.range_end.as_slice() {
            [] => {
                let mut end = d.key.clone();
                end.push(0);
                Interval {
                    start: d.key.clone(),
                    end: Some(end),
                }
            }
            [0] => Interval {
                start: d.key.clone(),
                end: None,
            },
            e => Interval {
                start: d.key.clone(),
                end: Some(e.to_vec()),
            },
        }
    }

    fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|e| key < e)
    }
}

/// Puts and deletes of one txn branch, for the duplicate-key rule.
#[derive(Debug, Default)]
struct Writes {
    puts: HashSet<Vec<u8>>,
    dels: Vec<Interval>,
}

impl Writes {
    fn deleted(&self, key: &[u8]) -> bool {
        self.dels.iter().any(|iv| iv.contains(key))
    }
}

/// etcd's rule: within one branch (including nested txns), a key may be put once, and not
/// put and deleted; the two branches of a nested txn exclude each other, so the same key
/// may be put in both.
fn check_intervals(ops: &[RequestOp]) -> Result<Writes, ServerError> {
    let mut w = Writes::default();
    for op in ops {
        if let Some(Request::RequestDeleteRange(d)) = &op.request {
            w.dels.push(Interval::of_delete(d));
        }
    }
    for op in ops {
        let Some(Request::RequestTxn(t)) = &op.request else {
            continue;
        };
        let then = check_intervals(&t.success)?;
        let other = check_intervals(&t.failure)?;
        for k in &then.puts {
            if w.puts.contains(k) || w.deleted(k) {
                return Err(ServerError::DuplicateKey);
            }
        }
        for k in &other.puts {
            if (w.puts.contains(k) && !then.puts.contains(k)) || w.deleted(k) {
                return Err(ServerError::DuplicateKey);
            }
        }
        w.puts.extend(then.puts);
        w.puts.extend(other.puts);
        w.dels.extend(then.dels);
        w.dels.extend(other.dels);
    }
    for op in ops {
        let Some(Request::RequestPut(p)) = &op.request else {
            continue;
        };
        if w.puts.contains(&p.key) || w.deleted(&p.key) {
            return Err(ServerError::DuplicateKey);
        }
        w.puts.insert(p.key.clone());
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestPut(PutRequest {
                key: k.into(),
                ..Default::default()
            })),
        }
    }
    fn del(k: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(Request::RequestDeleteRange(DeleteRangeRequest {
                key: k.into(),
                range_end: end.into(),
                ..Default::default()
            })),
        }
    }
    fn txn(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
        TxnRequest {
            compare: vec![],
            success,
            failure,
        }
    }

    #[test]
    fn duplicate_puts_and_put_over_delete() {
        assert_eq!(
            check_txn(&txn(vec![put("a"), put("a")], vec![]), 128),
            Err(ServerError::DuplicateKey)
        );
        assert_eq!(
            check_txn(&txn(vec![del("a", "c"), put("b")], vec![]), 128),
            Err(ServerError::DuplicateKey)
        );
        assert_eq!(
            check_txn(&txn(vec![del("a", "b"), put("b")], vec![]), 128),
            Ok(())
        );
        assert_eq!(check_txn(&txn(vec![put("a")], vec![put("a")]), 128), Ok(()));
    }

    #[test]
    fn nested_branches_exclude_each_other() {
        let nested = RequestOp {
            request: Some(Request::RequestTxn(txn(vec![put("a")], vec![put("a")]))),
        };
        assert_eq!(check_txn(&txn(vec![nested.clone()], vec![]), 128), Ok(()));
        assert_eq!(
            check_txn(&txn(vec![nested, put("a")], vec![]), 128),
            Err(ServerError::DuplicateKey)
        );
    }

    #[test]
    fn limits_and_empty_keys() {
        let many = txn((0..5).map(|i| put(&i.to_string())).collect(), vec![]);
        assert_eq!(check_txn(&many, 4), Err(ServerError::TooManyOps));
        assert_eq!(check_txn(&many, 5), Ok(()));
        assert_eq!(
            check_txn(&txn(vec![put("")], vec![]), 5),
            Err(ServerError::EmptyKey)
        );
        let p = PutRequest {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ignore_value: true,
            ..Default::default()
        };
        assert_eq!(check_put(&p), Err(ServerError::ValueProvided));
    }
}
