//! The concurrency package's key layout and the compares and request ops built on it.

use oxcd_proto::etcdserverpb::{
    compare::{CompareResult, CompareTarget, TargetUnion},
    range_request::{SortOrder, SortTarget},
    request_op, response_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse,
    RequestOp, TxnResponse,
};
use oxcd_proto::mvccpb::KeyValue;

/// The key a session with `lease` uses under `name` (`fmt.Sprintf("%s/%x", name, lease)`).
pub(crate) fn session_key(name: &[u8], lease: i64) -> Vec<u8> {
    let mut key = name.to_vec();
    key.push(b'/');
    key.extend_from_slice(format!("{lease:x}").as_bytes());
    key
}

/// `name + "/"`: the prefix every contender key of `name` lives under.
pub(crate) fn prefix_of(name: &[u8]) -> Vec<u8> {
    let mut p = name.to_vec();
    p.push(b'/');
    p
}

/// The range end of the prefix `p` (clientv3 `GetPrefixRangeEnd`).
pub(crate) fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

/// `create_revision(key) == rev`.
pub(crate) fn create_rev_is(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: CompareResult::Equal as i32,
        target: CompareTarget::Create as i32,
        key: key.to_vec(),
        range_end: Vec::new(),
        target_union: Some(TargetUnion::CreateRevision(rev)),
    }
}

/// A put request op.
pub(crate) fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

/// A single-key get request op.
pub(crate) fn get_op(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        })),
    }
}

/// A single-key delete request op.
pub(crate) fn delete_op(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.to_vec(),
                ..Default::default()
            },
        )),
    }
}

/// The oldest (`Ascend`) or newest (`Descend`) key by create revision under `prefix`,
/// optionally only among keys created at or before `max_create_rev` (0 = no bound).
pub(crate) fn by_create(prefix: &[u8], order: SortOrder, max_create_rev: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: order as i32,
        sort_target: SortTarget::Create as i32,
        max_create_revision: max_create_rev,
        ..Default::default()
    }
}

/// The range response of the `i`-th op of a txn response.
pub(crate) fn range_at(resp: &TxnResponse, i: usize) -> Option<&RangeResponse> {
    match resp.responses.get(i)?.response.as_ref()? {
        response_op::Response::ResponseRange(r) => Some(r),
        _ => None,
    }
}

/// The first key-value of the `i`-th (range) op of a txn response.
pub(crate) fn first_kv_at(resp: &TxnResponse, i: usize) -> Option<&KeyValue> {
    range_at(resp, i)?.kvs.first()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout_matches_concurrency() {
        assert_eq!(
            session_key(b"mylock", 0x694d_7a1b_2c3d),
            b"mylock/694d7a1b2c3d"
        );
        assert_eq!(prefix_of(b"e"), b"e/");
        assert_eq!(prefix_end(b"e/"), b"e0");
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b");
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }
}
