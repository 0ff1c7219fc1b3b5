//! `mvcc-put`: oxcd's storage write path in-process, without raft or network: opens
//! `oxcd_mvcc::KvStore` over `oxcd_backend::RocksBackend` in a temporary directory and times
//! `--total` puts in transactions of `--batch-size` puts, each transaction being what the
//! server's apply loop does for one entry: write txn, puts, stage into a batch, backend
//! write, publish. The backend is opened as the server's state DB is (no RocksDB WAL)
//! unless `--wal`. Latency is per transaction; the rate is puts per second, and the CPU
//! per op is this process's.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use oxcd_backend::{Backend, RocksBackend, RocksOptions, WriteBatch};
use oxcd_mvcc::KvStore;

use crate::cpu::CpuMeter;
use crate::keys::key_bytes;
use crate::report::Report;

/// `mvcc-put` flags.
#[derive(Args, Debug, Clone)]
pub struct MvccPutArgs {
    /// Total number of puts.
    #[arg(long, default_value_t = 100_000)]
    total: usize,
    /// Puts per write transaction (one backend write each).
    #[arg(long, default_value_t = 1)]
    batch_size: usize,
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    val_size: usize,
    /// Number of distinct keys (put `i` writes key `i % key-space-size`).
    #[arg(long, default_value_t = 100_000)]
    key_space_size: usize,
    /// Keep RocksDB's WAL (the server's state DB runs without it).
    #[arg(long)]
    wal: bool,
    /// fsync every backend write.
    #[arg(long)]
    sync: bool,
    /// Directory for the temporary store (default: the system temp dir).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

/// Runs `mvcc-put` on a blocking thread.
pub async fn run(args: &MvccPutArgs) -> anyhow::Result<Report> {
    let args = args.clone();
    tokio::task::spawn_blocking(move || run_blocking(&args)).await?
}

fn run_blocking(args: &MvccPutArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.batch_size > 0, "expected positive --batch-size");
    anyhow::ensure!(
        args.key_space_size > 0,
        "expected positive --key-space-size"
    );
    let tmp = tempfile::Builder::new()
        .prefix("oxcd-mvcc-put")
        .tempdir_in(args.dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let opts = RocksOptions {
        disable_wal: !args.wal,
        ..RocksOptions::default()
    };
    let backend: Arc<dyn Backend> = Arc::new(RocksBackend::open(tmp.path(), &opts)?);
    let store = KvStore::open(Arc::clone(&backend))?;
    let value = vec![b'x'; args.val_size];
    let txns = args.total.div_ceil(args.batch_size);
    let mut latencies = Vec::with_capacity(txns);
    let meter = CpuMeter::start(&[std::process::id()]);
    let start = Instant::now();
    let mut done = 0;
    while done < args.total {
        let n = args.batch_size.min(args.total - done);
        let t0 = Instant::now();
        let mut txn = store.write();
        for i in done..done + n {
            txn.put(
                &key_bytes(i % args.key_space_size, args.key_size),
                &value,
                0,
            );
        }
        let mut batch = WriteBatch::new();
        let staged = txn.stage(&mut batch);
        backend.write(batch, args.sync)?;
        staged.publish();
        latencies.push(t0.elapsed());
        done += n;
    }
    let elapsed = start.elapsed();
    let cpu = meter.stop();
    let revision = store.current_revision();
    drop(store);
    drop(backend);
    let mut r = Report::new(latencies, 0, elapsed);
    r.ops = Some(done);
    r.server_cpu = cpu;
    Ok(r.field("batch_size", args.batch_size)
        .field("txns", txns)
        .field("revision", revision)
        .field("wal", args.wal)
        .field("sync", args.sync))
}
