//! [`Quota`]: the backend space quota (`--quota-backend-bytes`).
//!
//! Writes that add data are checked before they are proposed: if the backend size plus the
//! request's cost would pass the quota, the member raises the NOSPACE alarm through raft and
//! the request fails with "etcdserver: mvcc: database space exceeded". The backend size is
//! sampled by a background task, never measured on the request path; so that the measure
//! does not lag the data written, the cost of every write admitted since the sample before
//! the last is added to it (one period more than needed, so a write admitted before a sample
//! but applied after it is not forgotten), and the sample itself counts unflushed memtables:
//! the backend runs without a RocksDB WAL, so fresh writes are on no file until a flush.
//! A defragmentation records a fresh sample at once.

use std::sync::atomic::{AtomicU64, Ordering};

use oxcd_proto::etcdserverpb::{request_op::Request, PutRequest, TxnRequest};

/// Bytes etcd charges per key on top of key and value (`kvOverhead`).
pub const KV_OVERHEAD: u64 = 256;

/// Space accounting for the backend quota.
#[derive(Debug)]
pub struct Quota {
    limit: u64,
    size: AtomicU64,
    in_use: AtomicU64,
    since_sample: AtomicU64,
    before_sample: AtomicU64,
}

impl Quota {
    /// A quota of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            size: AtomicU64::new(0),
            in_use: AtomicU64::new(0),
            since_sample: AtomicU64::new(0),
            before_sample: AtomicU64::new(0),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Records the latest backend size sample.
    pub fn record_size(&self, total: u64, in_use: u64) {
        self.size.store(total, Ordering::Relaxed);
        self.in_use.store(in_use, Ordering::Relaxed);
        let charged = self.since_sample.swap(0, Ordering::Relaxed);
        self.before_sample.store(charged, Ordering::Relaxed);
    }

    /// Charges an admitted write's cost until the sample after next (which measures it).
    pub fn charge(&self, cost: u64) {
        self.since_sample.fetch_add(cost, Ordering::Relaxed);
    }

    /// The latest total size sample.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// The latest in-use size sample.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Whether a write costing `cost` bytes still fits (the last sample plus the writes
    /// admitted since the sample before it).
    pub fn available(&self, cost: u64) -> bool {
        cost == 0
            || self
                .size()
                .saturating_add(self.since_sample.load(Ordering::Relaxed))
                .saturating_add(self.before_sample.load(Ordering::Relaxed))
                .saturating_add(cost)
                <= self.limit
    }

    /// Cost of a put.
    pub fn put_cost(p: &PutRequest) -> u64 {
        (p.key.len() + p.value.len()) as u64 + KV_OVERHEAD
    }

    /// Cost of a txn: the sum over the larger branch's puts (recursively).
    pub fn txn_cost(t: &TxnRequest) -> u64 {
        let branch = |ops: &[oxcd_proto::etcdserverpb::RequestOp]| -> u64 {
            ops.iter()
                .map(|op| match &op.request {
                    Some(Request::RequestPut(p)) => Self::put_cost(p),
                    Some(Request::RequestTxn(n)) => Self::txn_cost(n),
                    _ => 0,
                })
                .sum()
        };
        branch(&t.success).max(branch(&t.failure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_and_limit() {
        let q = Quota::new(1000);
        q.record_size(700, 600);
        let p = PutRequest {
            key: b"k".to_vec(),
            value: vec![0; 43],
            ..Default::default()
        };
        assert_eq!(Quota::put_cost(&p), 300);
        assert!(q.available(300));
        assert!(!q.available(301));
        assert!(q.available(0));
        q.charge(300);
        assert!(
            !q.available(1),
            "admitted writes count until the next samples"
        );
        assert!(q.available(0));
        q.record_size(400, 400);
        assert!(
            !q.available(301),
            "a sample may miss a write not yet applied"
        );
        assert!(q.available(300));
        q.record_size(700, 600);
        assert!(q.available(300));
    }
}
