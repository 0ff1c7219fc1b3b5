//! `disk-sync`: the disk's floor under a one-client put, without any server: `--total`
//! writes of `--size` bytes to one file in `--dir`, each followed by `fdatasync`, as a
//! raft log append is. No server can acknowledge a durable write faster than this.
//!
//! Two modes, because ext4 (and most file systems) pay differently for them:
//! - `append`: every write extends the file, so `fdatasync` also writes the inode (its size
//!   changed), as in a new RocksDB WAL file.
//! - `overwrite`: the file is written in full and synced first, then written again from
//!   the start, so `fdatasync` writes data blocks only, as in a recycled RocksDB WAL file:
//!   oxcd's raft log primes its WAL when it opens so that it is always written this way.
//!
//! Latency is per write + `fdatasync`; the CPU per op is this process's.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Instant;

use clap::{Args, ValueEnum};

use crate::cpu::CpuMeter;
use crate::report::Report;

/// How each synced write lands in the file.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Each write extends the file.
    Append,
    /// Each write replaces bytes already written and synced.
    Overwrite,
}

impl SyncMode {
    /// The mode's name on the command line, as the JSON line reports it.
    fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }
}

/// `disk-sync` flags.
#[derive(Args, Debug, Clone)]
pub struct DiskSyncArgs {
    /// Synced writes.
    #[arg(long, default_value_t = 2000)]
    total: usize,
    /// Bytes per write (default: about one 256-byte put as a raft log record).
    #[arg(long, default_value_t = 320)]
    size: usize,
    /// Whether each write extends the file or overwrites synced bytes.
    #[arg(long, value_enum, default_value_t = SyncMode::Append)]
    mode: SyncMode,
    /// Directory for the temporary file: put it on the disk the servers' data is on
    /// (default: the system temp dir).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

/// Runs `disk-sync` on a blocking thread.
pub async fn run(args: &DiskSyncArgs) -> anyhow::Result<Report> {
    let args = args.clone();
    tokio::task::spawn_blocking(move || run_blocking(&args)).await?
}

fn run_blocking(args: &DiskSyncArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.total > 0, "expected positive --total");
    anyhow::ensure!(args.size > 0, "expected positive --size");
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut file = tempfile::Builder::new()
        .prefix("oxcd-disk-sync")
        .tempfile_in(dir)?;
    let block = vec![b'x'; args.size];
    if args.mode == SyncMode::Overwrite {
        let all = (args.size as u64)
            .checked_mul(args.total as u64)
            .ok_or_else(|| anyhow::anyhow!("--size times --total overflows"))?;
        // Written zeros, not `set_len`: a hole would be allocated by the timed writes.
        std::io::copy(&mut std::io::repeat(0).take(all), &mut file)?;
        file.as_file().sync_all()?;
        file.seek(SeekFrom::Start(0))?;
    }
    let mut latencies = Vec::with_capacity(args.total);
    let meter = CpuMeter::start(&[std::process::id()]);
    let start = Instant::now();
    for _ in 0..args.total {
        let t0 = Instant::now();
        file.write_all(&block)?;
        file.as_file().sync_data()?;
        latencies.push(t0.elapsed());
    }
    let elapsed = start.elapsed();
    let cpu = meter.stop();
    let mut r = Report::new(latencies, 0, elapsed);
    r.ops = Some(args.total);
    r.server_cpu = cpu;
    Ok(r.field("mode", args.mode.name()).field("size", args.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(mode: SyncMode, dir: &std::path::Path) -> DiskSyncArgs {
        DiskSyncArgs {
            total: 20,
            size: 100,
            mode,
            dir: Some(dir.to_path_buf()),
        }
    }

    #[test]
    fn both_modes_time_every_synced_write_and_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [SyncMode::Append, SyncMode::Overwrite] {
            let r = run_blocking(&args(mode, dir.path())).unwrap();
            assert_eq!(r.latencies.len(), 20);
            assert_eq!(r.ops, Some(20));
            assert_eq!(r.fields["mode"], mode.name());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn refuses_an_empty_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = args(SyncMode::Append, dir.path());
        a.total = 0;
        assert!(run_blocking(&a).is_err());
        let mut a = args(SyncMode::Overwrite, dir.path());
        a.size = 0;
        assert!(run_blocking(&a).is_err());
    }
}
