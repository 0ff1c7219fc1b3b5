//! `put`: one key per request, from a key space, optionally rate-limited.

use std::sync::Arc;

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{kv_client::KvClient, PutRequest};

use super::Ctx;
use crate::driver::Op;
use crate::keys::key_bytes;
use crate::report::Report;

/// `put` flags.
#[derive(Args, Debug, Clone)]
pub struct PutArgs {
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 8)]
    val_size: usize,
    /// Total number of puts.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1)]
    key_space_size: usize,
    /// Use keys 0,1,2... instead of random ones.
    #[arg(long)]
    sequential_keys: bool,
    /// Maximum puts per second (0 = no limit).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

struct Putter {
    kv: KvClient<Conn>,
    args: Arc<PutArgs>,
    value: Vec<u8>,
}

impl Op for Putter {
    async fn call(&mut self, i: usize) -> anyhow::Result<usize> {
        let space = self.args.key_space_size.max(1);
        let k = if self.args.sequential_keys {
            i % space
        } else {
            rand::random::<usize>() % space
        };
        let req = PutRequest {
            key: key_bytes(k, self.args.key_size),
            value: self.value.clone(),
            ..Default::default()
        };
        self.kv.put(req).await?;
        Ok(0)
    }
}

/// Runs `put`.
pub async fn run(ctx: &Ctx, args: &PutArgs) -> anyhow::Result<Report> {
    let args = Arc::new(args.clone());
    let clients = ctx
        .kv_clients(|kv| Putter {
            kv,
            args: Arc::clone(&args),
            value: vec![b'x'; args.val_size],
        })
        .await?;
    let (samples, cpu) = ctx.drive_measured(clients, args.total, args.rate).await?;
    Ok(samples.report(cpu))
}
