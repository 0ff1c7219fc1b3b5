//! `txn-put`: each operation is one Txn of `--txn-ops` unconditional puts (etcd 3.4's
//! `benchmark txn-put`); operation `i` writes keys `(i * txn-ops + j) % key-space-size`.

use std::sync::Arc;

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{
    kv_client::KvClient, request_op, PutRequest, RequestOp, TxnRequest,
};

use super::Ctx;
use crate::driver::Op;
use crate::keys::key_bytes;
use crate::report::Report;

/// `txn-put` flags.
#[derive(Args, Debug, Clone)]
pub struct TxnPutArgs {
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 8)]
    val_size: usize,
    /// Puts per txn (at most --key-space-size: a txn may not put one key twice).
    #[arg(long, default_value_t = 1)]
    txn_ops: usize,
    /// Total number of txns.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1)]
    key_space_size: usize,
    /// Maximum txns per second (0 = no limit).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Fill every value with fresh random bytes (incompressible data, so that a store that
    /// compresses holds as many bytes as one that does not), instead of repeated `x`.
    #[arg(long)]
    random_values: bool,
}

struct TxnPutter {
    kv: KvClient<Conn>,
    args: Arc<TxnPutArgs>,
    value: Vec<u8>,
}

impl Op for TxnPutter {
    async fn call(&mut self, i: usize) -> anyhow::Result<usize> {
        let a = &self.args;
        let success = (0..a.txn_ops)
            .map(|j| RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: key_bytes((i * a.txn_ops + j) % a.key_space_size, a.key_size),
                    value: if a.random_values {
                        let mut v = vec![0u8; a.val_size];
                        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut v);
                        v
                    } else {
                        self.value.clone()
                    },
                    ..Default::default()
                })),
            })
            .collect();
        let resp = self
            .kv
            .txn(TxnRequest {
                success,
                ..Default::default()
            })
            .await?
            .into_inner();
        anyhow::ensure!(resp.succeeded, "txn without compares did not succeed");
        Ok(0)
    }
}

/// Runs `txn-put`.
pub async fn run(ctx: &Ctx, args: &TxnPutArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.txn_ops > 0, "expected positive --txn-ops");
    anyhow::ensure!(
        args.key_space_size > 0,
        "expected positive --key-space-size"
    );
    anyhow::ensure!(
        args.txn_ops <= args.key_space_size,
        "expected --txn-ops ({}) no larger than --key-space-size ({})",
        args.txn_ops,
        args.key_space_size
    );
    let args = Arc::new(args.clone());
    let clients = ctx
        .kv_clients(|kv| TxnPutter {
            kv,
            args: Arc::clone(&args),
            value: vec![b'x'; args.val_size],
        })
        .await?;
    let (samples, cpu) = ctx.drive_measured(clients, args.total, args.rate).await?;
    let secs = samples.elapsed.as_secs_f64().max(1e-9);
    let puts = samples.all().len() * args.txn_ops;
    Ok(samples
        .report(cpu)
        .field("txn_ops", args.txn_ops)
        .field("puts_per_sec", puts as f64 / secs))
}
