//! `range`: reads of one key or a range, linearizable or serializable.

use std::sync::Arc;

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{kv_client::KvClient, RangeRequest};

use super::Ctx;
use crate::driver::Op;
use crate::report::Report;

/// `range` flags.
#[derive(Args, Debug, Clone)]
pub struct RangeArgs {
    /// The key (or range start) to read.
    key: String,
    /// Optional range end.
    end: Option<String>,
    /// Total number of ranges.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// l (linearizable) or s (serializable).
    #[arg(long, default_value = "l")]
    consistency: String,
    /// Maximum keys per range.
    #[arg(long, default_value_t = 0)]
    limit: i64,
    /// Maximum ranges per second (0 = no limit).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

struct Ranger {
    kv: KvClient<Conn>,
    req: Arc<RangeRequest>,
}

impl Op for Ranger {
    async fn call(&mut self, _i: usize) -> anyhow::Result<usize> {
        self.kv.range((*self.req).clone()).await?;
        Ok(0)
    }
}

/// The range request `key`/`end` describe, etcd style.
pub fn range_request(
    key: &str,
    end: Option<&str>,
    limit: i64,
    consistency: &str,
) -> anyhow::Result<RangeRequest> {
    let serializable = match consistency {
        "l" => false,
        "s" => true,
        other => anyhow::bail!("--consistency must be l or s, got {other:?}"),
    };
    Ok(RangeRequest {
        key: key.as_bytes().to_vec(),
        range_end: end.unwrap_or_default().as_bytes().to_vec(),
        limit,
        serializable,
        ..Default::default()
    })
}

/// Runs `range`.
pub async fn run(ctx: &Ctx, args: &RangeArgs) -> anyhow::Result<Report> {
    let req = Arc::new(range_request(
        &args.key,
        args.end.as_deref(),
        args.limit,
        &args.consistency,
    )?);
    let clients = ctx
        .kv_clients(|kv| Ranger {
            kv,
            req: Arc::clone(&req),
        })
        .await?;
    let (samples, cpu) = ctx.drive_measured(clients, args.total, args.rate).await?;
    Ok(samples.report(cpu))
}
