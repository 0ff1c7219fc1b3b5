//! `txn-mixed`: each operation is one Txn holding one range (probability
//! `rw-ratio / (1 + rw-ratio)`) or one put (etcd's `benchmark txn-mixed`). Reads cover the
//! prefix `key` (every key when empty) or `[key, --end-key)`, at most `--limit` keys; puts
//! write `key` followed by key `i % key-space-size`, so reads see them.

use std::sync::Arc;

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{
    kv_client::KvClient, request_op, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use super::range::range_request;
use super::Ctx;
use crate::driver::Op;
use crate::keys::{prefix_end, prefixed_key};
use crate::report::{ms, percentile, Report};

const READ: usize = 0;
const WRITE: usize = 1;

/// `txn-mixed` flags.
#[derive(Args, Debug, Clone)]
pub struct TxnMixedArgs {
    /// Read prefix and put-key prefix (empty: reads cover every key).
    #[arg(default_value = "")]
    key: String,
    /// Read range end instead of the prefix end.
    #[arg(long)]
    end_key: Option<String>,
    /// Key size in bytes (after the prefix).
    #[arg(long, default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 8)]
    val_size: usize,
    /// Total number of txns.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// Number of distinct keys written.
    #[arg(long, default_value_t = 1)]
    key_space_size: usize,
    /// Reads per write.
    #[arg(long, default_value_t = 1.0)]
    rw_ratio: f64,
    /// Maximum keys per read.
    #[arg(long, default_value_t = 1000)]
    limit: i64,
    /// l (linearizable) or s (serializable) reads.
    #[arg(long, default_value = "l")]
    consistency: String,
    /// Maximum txns per second (0 = no limit).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

struct Mixer {
    kv: KvClient<Conn>,
    args: Arc<TxnMixedArgs>,
    read: Arc<RangeRequest>,
    value: Vec<u8>,
}

impl Op for Mixer {
    async fn call(&mut self, i: usize) -> anyhow::Result<usize> {
        let a = &self.args;
        let is_read = rand::random::<f64>() < a.rw_ratio / (1.0 + a.rw_ratio);
        let (class, request) = if is_read {
            (
                READ,
                request_op::Request::RequestRange((*self.read).clone()),
            )
        } else {
            let put = PutRequest {
                key: prefixed_key(a.key.as_bytes(), i % a.key_space_size, a.key_size),
                value: self.value.clone(),
                ..Default::default()
            };
            (WRITE, request_op::Request::RequestPut(put))
        };
        let txn = TxnRequest {
            success: vec![RequestOp {
                request: Some(request),
            }],
            ..Default::default()
        };
        self.kv.txn(txn).await?;
        Ok(class)
    }
}

/// Runs `txn-mixed`.
pub async fn run(ctx: &Ctx, args: &TxnMixedArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.key_space_size > 0,
        "expected positive --key-space-size"
    );
    anyhow::ensure!(args.rw_ratio >= 0.0, "expected non-negative --rw-ratio");
    let end = match &args.end_key {
        Some(e) => e.as_bytes().to_vec(),
        None => prefix_end(args.key.as_bytes()),
    };
    let mut read = range_request(&args.key, None, args.limit, &args.consistency)?;
    read.key = if args.key.is_empty() {
        vec![0]
    } else {
        read.key
    };
    read.range_end = end;
    let read = Arc::new(read);
    let args = Arc::new(args.clone());
    let clients = ctx
        .kv_clients(|kv| Mixer {
            kv,
            args: Arc::clone(&args),
            read: Arc::clone(&read),
            value: vec![b'x'; args.val_size],
        })
        .await?;
    let (samples, cpu) = ctx.drive_measured(clients, args.total, args.rate).await?;
    let secs = samples.elapsed.as_secs_f64().max(1e-9);
    let mut reads = samples.class(READ).to_vec();
    let mut writes = samples.class(WRITE).to_vec();
    reads.sort_unstable();
    writes.sort_unstable();
    Ok(samples
        .report(cpu)
        .field("reads", reads.len())
        .field("writes", writes.len())
        .field("read_rate", reads.len() as f64 / secs)
        .field("write_rate", writes.len() as f64 / secs)
        .field("read_p99_ms", ms(percentile(&reads, 99.0)))
        .field("write_p99_ms", ms(percentile(&writes, 99.0))))
}
