//! `-w simple` (the default): etcdctl's plain text; keys and values as raw bytes (or
//! `\xHH` with `--hex`).

use oxcd_client::proto::etcdserverpb::response_op::Response;
use oxcd_client::{DeleteRangeResponse, KeyValue, PutResponse, RangeResponse, TxnResponse};

use super::{event_type, Printer};
use crate::print::fields::line;

/// `\xHH` for every byte (etcdctl's `--hex`).
pub fn hex(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| format!("\\x{b:02x}").into_bytes())
        .collect()
}

/// A key line (unless only values are printed) and a value line.
pub fn kv(p: &Printer, o: &mut Vec<u8>, kv: &KeyValue) {
    let form = |b: &[u8]| if p.hex { hex(b) } else { b.to_vec() };
    if !p.value_only {
        o.extend_from_slice(&form(&kv.key));
        o.push(b'\n');
    }
    o.extend_from_slice(&form(&kv.value));
    o.push(b'\n');
}

/// The number deleted, then the deleted pairs.
pub fn delete(p: &Printer, o: &mut Vec<u8>, r: &DeleteRangeResponse) {
    line(o, &r.deleted.to_string());
    for k in &r.prev_kvs {
        kv(p, o, k);
    }
}

/// Every pair.
pub fn get(p: &Printer, o: &mut Vec<u8>, r: &RangeResponse) {
    for k in &r.kvs {
        kv(p, o, k);
    }
}

/// `OK`, then the previous pair if asked for.
pub fn put(p: &Printer, o: &mut Vec<u8>, r: &PutResponse) {
    line(o, "OK");
    if let Some(k) = &r.prev_kv {
        kv(p, o, k);
    }
}

/// SUCCESS or FAILURE, then each response after a blank line.
pub fn txn(p: &Printer, o: &mut Vec<u8>, r: &TxnResponse) {
    line(o, if r.succeeded { "SUCCESS" } else { "FAILURE" });
    for resp in &r.responses {
        line(o, "");
        match &resp.response {
            Some(Response::ResponseDeleteRange(d)) => delete(p, o, d),
            Some(Response::ResponsePut(r)) => put(p, o, r),
            Some(Response::ResponseRange(g)) => get(p, o, g),
            other => line(o, &format!("unexpected response {other:?}")),
        }
    }
}

/// Each event: its type, the previous pair if any, the pair.
pub fn watch(p: &Printer, o: &mut Vec<u8>, r: &oxcd_client::WatchResponse) {
    for e in &r.events {
        line(o, event_type(e.r#type));
        if let Some(prev) = &e.prev_kv {
            kv(p, o, prev);
        }
        kv(p, o, &e.kv.clone().unwrap_or_default());
    }
}
