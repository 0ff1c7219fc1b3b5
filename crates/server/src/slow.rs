//! etcd's warning for slow requests, which operators alert on: a request applied (or a
//! read-only range served) later than `--warning-apply-duration` after it started is logged
//! as "apply request took too long" and counted in `etcd_server_slow_apply_total`.
//!
//! Requests are described as etcd's redacted request strings describe them: keys, but
//! only the SIZE of values.

use std::time::{Duration, Instant};

use oxcd_proto::etcdserverpb::{request_op::Request, RangeRequest, TxnRequest};
use oxcd_proto::oxcdpb::internal_request::Op;

use crate::metrics;

/// etcd's `--warning-apply-duration` default.
pub const DEFAULT_WARNING_APPLY_DURATION: Duration = Duration::from_millis(100);

/// Logs and counts the request if it took longer than `limit` since `started`; the
/// descriptions are only made when it did.
pub fn warn_if_slow(
    started: Instant,
    limit: Duration,
    prefix: &str,
    request: impl FnOnce() -> String,
    response: impl FnOnce() -> String,
) {
    let took = started.elapsed();
    if took <= limit {
        return;
    }
    metrics::SLOW_APPLY.inc();
    tracing::warn!(
        took = ?took,
        "expected-duration" = ?limit,
        prefix,
        request = %request(),
        response = %response(),
        "apply request took too long"
    );
}

fn quoted(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// A range request as etcd prints it.
pub fn describe_range(r: &RangeRequest) -> String {
    let mut s = format!("key:{} ", quoted(&r.key));
    if !r.range_end.is_empty() {
        s += &format!("range_end:{} ", quoted(&r.range_end));
    }
    if r.limit != 0 {
        s += &format!("limit:{} ", r.limit);
    }
    if r.revision != 0 {
        s += &format!("revision:{} ", r.revision);
    }
    if r.serializable {
        s += "serializable:true ";
    }
    if r.keys_only {
        s += "keys_only:true ";
    }
    if r.count_only {
        s += "count_only:true ";
    }
    s
}

fn describe_txn(t: &TxnRequest) -> String {
    let ops = |ops: &[oxcd_proto::etcdserverpb::RequestOp]| {
        ops.iter()
            .map(|op| match &op.request {
                Some(Request::RequestRange(r)) => format!("request_range:<{}> ", describe_range(r)),
                Some(Request::RequestPut(p)) => format!(
                    "request_put:<key:{} value_size:{} > ",
                    quoted(&p.key),
                    p.value.len()
                ),
                Some(Request::RequestDeleteRange(d)) => {
                    format!("request_delete_range:<key:{} > ", quoted(&d.key))
                }
                Some(Request::RequestTxn(n)) => format!("request_txn:<{}> ", describe_txn(n)),
                None => String::new(),
            })
            .collect::<String>()
    };
    format!(
        "compare_count:{} success:<{}> failure:<{}>",
        t.compare.len(),
        ops(&t.success),
        ops(&t.failure)
    )
}

/// A replicated request as etcd prints it (values redacted to their size).
pub fn describe_op(op: &Op) -> String {
    match op {
        Op::Put(p) => format!(
            "put:<key:{} value_size:{} lease:{} >",
            quoted(&p.key),
            p.value.len(),
            p.lease
        ),
        Op::DeleteRange(d) => format!(
            "delete_range:<key:{} range_end:{} >",
            quoted(&d.key),
            quoted(&d.range_end)
        ),
        Op::Txn(t) => format!("txn:<{}>", describe_txn(t)),
        Op::Compaction(c) => format!("compaction:<revision:{} >", c.revision),
        Op::LeaseGrant(g) => format!("lease_grant:<ttl:{} id:{} >", g.ttl, g.id),
        Op::LeaseRevoke(r) => format!("lease_revoke:<id:{} >", r.id),
        other => {
            // The remaining kinds (auth, alarms, members, checkpoints) carry no values.
            let name = format!("{other:?}");
            name.split('(').next().unwrap_or("request").to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_proto::etcdserverpb::PutRequest;

    #[test]
    fn values_are_redacted_to_their_size() {
        let op = Op::Put(PutRequest {
            key: b"foo".to_vec(),
            value: b"secret".to_vec(),
            ..Default::default()
        });
        assert_eq!(describe_op(&op), r#"put:<key:"foo" value_size:6 lease:0 >"#);
        assert!(!describe_op(&op).contains("secret"));
    }

    #[test]
    fn only_slow_requests_are_counted() {
        let before = metrics::SLOW_APPLY.get();
        warn_if_slow(
            Instant::now(),
            Duration::from_secs(60),
            "",
            String::new,
            String::new,
        );
        assert_eq!(metrics::SLOW_APPLY.get(), before);
        let long_ago = Instant::now() - Duration::from_millis(5);
        warn_if_slow(
            long_ago,
            Duration::from_millis(1),
            "",
            String::new,
            String::new,
        );
        assert_eq!(metrics::SLOW_APPLY.get(), before + 1);
    }
}
