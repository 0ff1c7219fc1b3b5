//! `range`: reads of one key or a range, linearizable or serializable; with `--paginate`
//! each operation is a whole paginated LIST (pages of `--limit`, every page after the first
//! at the first page's revision, as Kubernetes lists), with `--stream` one `RangeStream`
//! (etcd 3.7) read to its end.

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
    #[arg(required_unless_present = "all")]
    key: Option<String>,
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
    /// Each operation lists the whole range in pages of `--limit`.
    #[arg(long, conflicts_with = "stream", requires = "limit")]
    paginate: bool,
    /// Each operation reads the range through RangeStream.
    #[arg(long)]
    stream: bool,
    /// Read every key (key and range end `\0`; the benchmark's keys are binary), ignoring
    /// the positional key and end.
    #[arg(long)]
    all: bool,
}

/// How one operation reads.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Once,
    Paginate,
    Stream,
}

struct Ranger {
    kv: KvClient<Conn>,
    req: Arc<RangeRequest>,
    mode: Mode,
}

impl Op for Ranger {
    async fn call(&mut self, _i: usize) -> anyhow::Result<usize> {
        match self.mode {
            Mode::Once => {
                self.kv.range((*self.req).clone()).await?;
            }
            Mode::Paginate => self.paginate().await?,
            Mode::Stream => {
                let mut messages = self
                    .kv
                    .range_stream((*self.req).clone())
                    .await?
                    .into_inner();
                while messages.message().await?.is_some() {}
            }
        }
        Ok(0)
    }
}

impl Ranger {
    /// Pages until `more` is false: each continues after the last key it got, at the
    /// first page's header revision.
    async fn paginate(&mut self) -> anyhow::Result<()> {
        let mut req = (*self.req).clone();
        loop {
            let page = self.kv.range(req.clone()).await?.into_inner();
            let Some(last) = page.kvs.last() else {
                return Ok(());
            };
            if !page.more {
                return Ok(());
            }
            if req.revision == 0 {
                req.revision = page.header.map_or(0, |h| h.revision);
            }
            req.key = [last.key.as_ref(), &[0]].concat();
        }
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
    let mut req = range_request(
        args.key.as_deref().unwrap_or_default(),
        args.end.as_deref(),
        args.limit,
        &args.consistency,
    )?;
    if args.all {
        (req.key, req.range_end) = (vec![0], vec![0]);
    }
    let req = Arc::new(req);
    let clients = ctx
        .kv_clients(|kv| Ranger {
            kv,
            req: Arc::clone(&req),
            mode: if args.paginate {
                Mode::Paginate
            } else if args.stream {
                Mode::Stream
            } else {
                Mode::Once
            },
        })
        .await?;
    let (samples, cpu) = ctx.drive_measured(clients, args.total, args.rate).await?;
    Ok(samples.report(cpu))
}
