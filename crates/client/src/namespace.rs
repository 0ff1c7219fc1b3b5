//! Namespaces, as clientv3's `namespace` package: [`crate::Client::with_namespace`] gives a
//! client whose KV, Watch and Lease calls see only the keys under a prefix. The prefix is
//! added to every key (and range end, compare, txn operation) of a request and removed from
//! every key of the response, watch events included.
//!
//! As in Go: a range end of `"\0"` (every key from the key on, or every key) becomes the
//! end of the prefix's range, so a namespaced client never reaches past its prefix; lease
//! IDs are not namespaced (a lease is shared by the whole cluster), but the keys a
//! LeaseTimeToLive lists are filtered to the prefix and stripped of it. An empty key is
//! refused (it would name the prefix itself) with etcd's "key is not provided". Unlike Go,
//! the prefix's end is [`prefix_end`] (trailing `0xff` bytes dropped, then the last byte
//! incremented), where Go increments with carry and keeps the length: they differ only for
//! a prefix that ends in `0xff`, for which Go's end also covers a key just past it.

use oxcd_proto::etcdserverpb::request_op::Request as Op;
use oxcd_proto::etcdserverpb::response_op::Response;
use oxcd_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, DeleteRangeResponse, LeaseTimeToLiveResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, RequestOp, TxnRequest, TxnResponse, WatchResponse,
};
use oxcd_proto::mvccpb::KeyValue;

use crate::error::Error;
use crate::kv::prefix_end;

/// The status etcd answers a request without a key with (Go's `rpctypes.ErrEmptyKey`).
fn empty_key() -> Error {
    Error::Status(tonic::Status::invalid_argument(
        "etcdserver: key is not provided",
    ))
}

/// `key` and `end` moved under the namespace `ns` (Go's `prefixInterval`): the key gets the
/// prefix; an end of `"\0"` becomes the prefix's end; another non-empty end gets the
/// prefix; an empty end stays empty (a single key).
pub(crate) fn interval(ns: &[u8], key: &[u8], end: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let key = [ns, key].concat();
    let end = match end {
        [] => Vec::new(),
        [0] => prefix_end(ns),
        end => [ns, end].concat(),
    };
    (key, end)
}

/// A range request in the namespace; an empty key is refused.
pub(crate) fn range(ns: &[u8], mut req: RangeRequest) -> Result<RangeRequest, Error> {
    if ns.is_empty() {
        return Ok(req);
    }
    if req.key.is_empty() {
        return Err(empty_key());
    }
    (req.key, req.range_end) = interval(ns, &req.key, &req.range_end);
    Ok(req)
}

/// A put request in the namespace; an empty key is refused.
pub(crate) fn put(ns: &[u8], mut req: PutRequest) -> Result<PutRequest, Error> {
    if ns.is_empty() {
        return Ok(req);
    }
    if req.key.is_empty() {
        return Err(empty_key());
    }
    req.key = [ns, &req.key].concat();
    Ok(req)
}

/// A delete request in the namespace; an empty key is refused.
pub(crate) fn delete(ns: &[u8], mut req: DeleteRangeRequest) -> Result<DeleteRangeRequest, Error> {
    if ns.is_empty() {
        return Ok(req);
    }
    if req.key.is_empty() {
        return Err(empty_key());
    }
    (req.key, req.range_end) = interval(ns, &req.key, &req.range_end);
    Ok(req)
}

/// A txn in the namespace: every compare and every operation, nested txns included (as Go,
/// operations inside a txn are not checked for an empty key).
pub(crate) fn txn(ns: &[u8], mut req: TxnRequest) -> TxnRequest {
    if ns.is_empty() {
        return req;
    }
    for c in &mut req.compare {
        compare(ns, c);
    }
    for op in req.success.iter_mut().chain(req.failure.iter_mut()) {
        request_op(ns, op);
    }
    req
}

fn compare(ns: &[u8], c: &mut Compare) {
    (c.key, c.range_end) = interval(ns, &c.key, &c.range_end);
}

fn request_op(ns: &[u8], op: &mut RequestOp) {
    match op.request.as_mut() {
        Some(Op::RequestRange(r)) => (r.key, r.range_end) = interval(ns, &r.key, &r.range_end),
        Some(Op::RequestPut(p)) => p.key = [ns, &p.key].concat(),
        Some(Op::RequestDeleteRange(d)) => {
            (d.key, d.range_end) = interval(ns, &d.key, &d.range_end)
        }
        Some(Op::RequestTxn(t)) => *t = txn(ns, std::mem::take(t)),
        None => {}
    }
}

/// Removes the namespace from a key of a response (a key outside it is left as it is).
fn strip_kv(ns: &[u8], kv: &mut KeyValue) {
    if kv.key.starts_with(ns) {
        kv.key = kv.key.slice(ns.len()..);
    }
}

/// Removes the namespace from the keys of a range response.
pub(crate) fn strip_range(ns: &[u8], resp: &mut RangeResponse) {
    if !ns.is_empty() {
        resp.kvs.iter_mut().for_each(|kv| strip_kv(ns, kv));
    }
}

/// Removes the namespace from the previous key-value of a put response.
pub(crate) fn strip_put(ns: &[u8], resp: &mut PutResponse) {
    if let Some(kv) = resp.prev_kv.as_mut() {
        strip_kv(ns, kv);
    }
}

/// Removes the namespace from the deleted key-values of a delete response.
pub(crate) fn strip_delete(ns: &[u8], resp: &mut DeleteRangeResponse) {
    resp.prev_kvs.iter_mut().for_each(|kv| strip_kv(ns, kv));
}

/// Removes the namespace from every key of a txn response, nested ones included.
pub(crate) fn strip_txn(ns: &[u8], resp: &mut TxnResponse) {
    if ns.is_empty() {
        return;
    }
    for r in &mut resp.responses {
        match r.response.as_mut() {
            Some(Response::ResponseRange(r)) => strip_range(ns, r),
            Some(Response::ResponsePut(p)) => strip_put(ns, p),
            Some(Response::ResponseDeleteRange(d)) => strip_delete(ns, d),
            Some(Response::ResponseTxn(t)) => strip_txn(ns, t),
            None => {}
        }
    }
}

/// Removes the namespace from the keys of every event (and its previous key-value).
pub(crate) fn strip_watch(ns: &[u8], resp: &mut WatchResponse) {
    if ns.is_empty() {
        return;
    }
    for ev in &mut resp.events {
        if let Some(kv) = ev.kv.as_mut() {
            strip_kv(ns, kv);
        }
        if let Some(kv) = ev.prev_kv.as_mut() {
            strip_kv(ns, kv);
        }
    }
}

/// Keeps only the lease's keys inside the namespace, without the prefix (Go's
/// `leasePrefix.TimeToLive`).
pub(crate) fn strip_lease_keys(ns: &[u8], resp: &mut LeaseTimeToLiveResponse) {
    if ns.is_empty() {
        return;
    }
    resp.keys = std::mem::take(&mut resp.keys)
        .into_iter()
        .filter(|k| k.starts_with(ns))
        .map(|k| k[ns.len()..].to_vec())
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_follows_go() {
        let ns = b"t/";
        assert_eq!(interval(ns, b"a", b""), (b"t/a".to_vec(), vec![]));
        assert_eq!(interval(ns, b"a", b"c"), (b"t/a".to_vec(), b"t/c".to_vec()));
        // from-key and "every key" stay inside the prefix.
        assert_eq!(interval(ns, b"a", b"\0"), (b"t/a".to_vec(), b"t0".to_vec()));
        assert_eq!(
            interval(ns, b"\0", b"\0"),
            (b"t/\0".to_vec(), b"t0".to_vec())
        );
    }

    #[test]
    fn empty_keys_are_refused_and_txns_prefixed_deeply() {
        let ns = b"t/";
        let e = range(ns, RangeRequest::default()).unwrap_err();
        let st = e.status().expect("a status");
        assert_eq!(st.code(), tonic::Code::InvalidArgument);
        assert_eq!(st.message(), "etcdserver: key is not provided");
        // No namespace: the request goes as it is (the server judges it).
        assert!(range(b"", RangeRequest::default()).is_ok());
        let inner = TxnRequest {
            success: vec![RequestOp {
                request: Some(Op::RequestPut(PutRequest {
                    key: b"k".to_vec(),
                    ..PutRequest::default()
                })),
            }],
            ..TxnRequest::default()
        };
        let outer = txn(
            ns,
            TxnRequest {
                compare: vec![Compare {
                    key: b"k".to_vec(),
                    range_end: b"\0".to_vec(),
                    ..Compare::default()
                }],
                failure: vec![RequestOp {
                    request: Some(Op::RequestTxn(inner)),
                }],
                ..TxnRequest::default()
            },
        );
        assert_eq!(outer.compare[0].key, b"t/k");
        assert_eq!(outer.compare[0].range_end, b"t0");
        let Some(Op::RequestTxn(t)) = &outer.failure[0].request else {
            panic!("nested txn lost");
        };
        let Some(Op::RequestPut(p)) = &t.success[0].request else {
            panic!("nested put lost");
        };
        assert_eq!(p.key, b"t/k");
    }
}
