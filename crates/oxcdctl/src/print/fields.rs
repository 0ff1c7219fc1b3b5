//! `-w fields`: etcdctl's `"Name" : value` lines (strings in Go's `%q`, numbers and bools
//! as Go prints them).

use oxcd_client::proto::etcdserverpb::response_op::Response;
use oxcd_client::{
    DeleteRangeResponse, KeyValue, PutResponse, RangeResponse, ResponseHeader, TxnResponse,
    WatchResponse,
};

use super::event_type;
use crate::gotext::quote;

/// Appends one line.
pub fn line(o: &mut Vec<u8>, s: &str) {
    o.extend_from_slice(s.as_bytes());
    o.push(b'\n');
}

/// The four header lines (zeros for an absent header).
pub fn hdr(o: &mut Vec<u8>, h: &Option<ResponseHeader>) {
    let h = h.unwrap_or_default();
    line(o, &format!("\"ClusterID\" : {}", h.cluster_id));
    line(o, &format!("\"MemberID\" : {}", h.member_id));
    line(o, &format!("\"Revision\" : {}", h.revision));
    line(o, &format!("\"RaftTerm\" : {}", h.raft_term));
}

/// A key-value pair, its names prefixed with `pfx`.
pub fn kv(o: &mut Vec<u8>, pfx: &str, kv: &KeyValue) {
    line(o, &format!("\"{pfx}Key\" : {}", quote(&kv.key)));
    line(
        o,
        &format!("\"{pfx}CreateRevision\" : {}", kv.create_revision),
    );
    line(o, &format!("\"{pfx}ModRevision\" : {}", kv.mod_revision));
    line(o, &format!("\"{pfx}Version\" : {}", kv.version));
    line(o, &format!("\"{pfx}Value\" : {}", quote(&kv.value)));
    line(o, &format!("\"{pfx}Lease\" : {}", kv.lease));
}

/// A DeleteRangeResponse.
pub fn delete(o: &mut Vec<u8>, r: &DeleteRangeResponse) {
    hdr(o, &r.header);
    line(o, &format!("\"Deleted\" : {}", r.deleted));
    for p in &r.prev_kvs {
        kv(o, "Prev", p);
    }
}

/// A RangeResponse.
pub fn get(o: &mut Vec<u8>, r: &RangeResponse) {
    hdr(o, &r.header);
    for k in &r.kvs {
        kv(o, "", k);
    }
    line(o, &format!("\"More\" : {}", r.more));
    line(o, &format!("\"Count\" : {}", r.count));
}

/// A PutResponse.
pub fn put(o: &mut Vec<u8>, r: &PutResponse) {
    hdr(o, &r.header);
    if let Some(p) = &r.prev_kv {
        kv(o, "Prev", p);
    }
}

/// A TxnResponse.
pub fn txn(o: &mut Vec<u8>, r: &TxnResponse) {
    hdr(o, &r.header);
    line(o, &format!("\"Succeeded\" : {}", r.succeeded));
    for resp in &r.responses {
        match &resp.response {
            Some(Response::ResponseDeleteRange(d)) => delete(o, d),
            Some(Response::ResponsePut(p)) => put(o, p),
            Some(Response::ResponseRange(g)) => get(o, g),
            other => line(
                o,
                &format!("\"Unknown\" : {}", quote(format!("{other:?}").as_bytes())),
            ),
        }
    }
}

/// A WatchResponse.
pub fn watch(o: &mut Vec<u8>, r: &WatchResponse) {
    hdr(o, &r.header);
    for e in &r.events {
        line(o, &format!("\"Type\" : {}", event_type(e.r#type)));
        if let Some(p) = &e.prev_kv {
            kv(o, "Prev", p);
        }
        kv(o, "", &e.kv.clone().unwrap_or_default());
    }
}
