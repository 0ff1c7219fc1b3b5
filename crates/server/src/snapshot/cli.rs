//! `oxcd snapshot status|restore`: etcdctl's `snapshot status` and `snapshot restore`
//! with etcdctl's flags, over [`oxcd_snapshot`] and [`super::restore`].
//!
//! ```text
//! oxcd snapshot status FILE [-w simple|table|json]
//! oxcd snapshot restore FILE [--data-dir DIR] [--name NAME] [--initial-cluster NAME=URL,..]
//!     [--initial-cluster-token TOKEN] [--initial-advertise-peer-urls URL,..]
//!     [--wal-dir DIR] [--skip-hash-check]
//! ```
//! `status` prints what etcdctl prints (default `simple`, as etcdctl); it does not check
//! the trailer, as etcdctl does not. Errors go to stderr as `Error: ...` with exit code 1
//! (2 for bad flags).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::restore::{restore, RestoreOptions};

#[derive(Debug, Parser)]
#[command(
    name = "oxcd snapshot",
    about = "Reads and restores etcd-format snapshots"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
        "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid boolean {s:?}")),
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints a snapshot file's hash, revision, total keys and size.
    Status {
        /// The snapshot file.
        file: PathBuf,
        /// Output format: simple, table or json.
        #[arg(short = 'w', long = "write-out", default_value = "simple")]
        write_out: String,
    },
    /// Restores a snapshot file (made by etcd or oxcd) into a new oxcd data dir.
    Restore {
        /// The snapshot file.
        file: PathBuf,
        /// Path to the data directory (default `<name>.etcd`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Path to the WAL directory (default `<data-dir>/member/wal`).
        #[arg(long)]
        wal_dir: Option<PathBuf>,
        /// Human-readable name for this member.
        #[arg(long, default_value = "default")]
        name: String,
        /// Initial cluster configuration for restore bootstrap.
        #[arg(long, default_value = "default=http://localhost:2380")]
        initial_cluster: String,
        /// Initial cluster token for the etcd cluster during restore bootstrap.
        #[arg(long, default_value = "etcd-cluster")]
        initial_cluster_token: String,
        /// List of this member's peer URLs to advertise to the rest of the cluster.
        #[arg(long, default_value = "http://localhost:2380")]
        initial_advertise_peer_urls: String,
        /// Ignore the snapshot's integrity hash (needed for a db copied from a data dir).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false",
              value_parser = parse_bool)]
        skip_hash_check: bool,
    },
}

/// Runs `oxcd snapshot <args>`; returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    let cli = match Cli::try_parse_from(
        std::iter::once("oxcd snapshot".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Status { file, write_out } => status(&file, &write_out),
        Command::Restore {
            file,
            data_dir,
            wal_dir,
            name,
            initial_cluster,
            initial_cluster_token,
            initial_advertise_peer_urls,
            skip_hash_check,
        } => {
            let opts = RestoreOptions {
                snapshot: file,
                data_dir,
                wal_dir,
                name,
                initial_cluster,
                initial_cluster_token,
                initial_advertise_peer_urls,
                skip_hash_check,
            };
            match restore(&opts) {
                Ok(r) => {
                    println!(
                        "restored snapshot {} into {} (cluster {:x}, member {:x} {:?}, revision {})",
                        opts.snapshot.display(),
                        r.data_dir.display(),
                        r.cluster_id,
                        r.member_id,
                        opts.name,
                        r.revision
                    );
                    0
                }
                Err(e) => {
                    eprintln!("Error: {e}");
                    1
                }
            }
        }
    }
}

fn status(file: &std::path::Path, format: &str) -> i32 {
    if !["simple", "table", "json"].contains(&format) {
        eprintln!("Error: unsupported output format {format:?} (simple, table or json)");
        return 2;
    }
    match oxcd_snapshot::status_file(file) {
        Ok(st) => {
            let out = match format {
                "table" => st.table(),
                "json" => st.json(),
                _ => st.simple(),
            };
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}
