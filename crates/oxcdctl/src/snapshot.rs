//! `snapshot save FILE`, `snapshot status FILE` and `snapshot restore FILE`, as etcdctl
//! 3.4's `snapshot` commands (`ctlv3/command/snapshot_command.go`, `clientv3/snapshot`):
//! the same flags, stdout, `Error:` lines and exit codes, and etcdctl's zap log lines on
//! stderr. The file format is `oxcd-snapshot`'s; restore is the server's own
//! ([`oxcd_server::snapshot::restore`]), so `oxcd --data-dir D [--wal-dir W]` serves what
//! this restores.
//!
//! Beyond etcdctl: `save` checks the stream's SHA-256 trailer before the file is renamed
//! into place (etcdctl 3.4 checks it only at restore), and `save`/`restore` show their
//! progress on stderr ([`crate::progress`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{ArgAction, Args, Subcommand};
use oxcd_server::snapshot::restore::{restore_with_progress, RestoreOptions};
use oxcd_snapshot::error::go_io_text;
use oxcd_snapshot::{status_file, TrailerCheck};

use crate::error::{client_error_text, exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::{human_bytes, json_string, zap_timestamp};
use crate::print::{eprintln, println, Format};
use crate::progress::Reporter;

/// `snapshot <subcommand>`.
#[derive(Debug, Clone, Subcommand)]
pub enum SnapshotCommand {
    /// Restores an etcd member snapshot to an etcd directory
    Restore(RestoreArgs),
    /// Stores an etcd node backend snapshot to a given file
    Save(FileArgs),
    /// Gets backend snapshot status of a given file
    Status(FileArgs),
}

/// `<filename>` (a count other than one is refused with etcdctl's text).
#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    #[arg(num_args = 0.., value_name = "filename")]
    args: Vec<String>,
}

/// `snapshot restore <filename> [options]`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    #[arg(num_args = 0.., value_name = "filename")]
    args: Vec<String>,
    /// Path to the data directory
    #[arg(long = "data-dir", default_value = "")]
    data_dir: String,
    /// Path to the WAL directory (use --data-dir if none given)
    #[arg(long = "wal-dir", default_value = "")]
    wal_dir: String,
    /// Human-readable name for this member
    #[arg(long, default_value = "default")]
    name: String,
    /// Initial cluster configuration for restore bootstrap
    #[arg(
        long = "initial-cluster",
        default_value = "default=http://localhost:2380"
    )]
    initial_cluster: String,
    /// Initial cluster token for the etcd cluster during restore bootstrap
    #[arg(long = "initial-cluster-token", default_value = "etcd-cluster")]
    initial_cluster_token: String,
    /// List of this member's peer URLs to advertise to the rest of the cluster
    #[arg(
        long = "initial-advertise-peer-urls",
        default_value = "http://localhost:2380"
    )]
    initial_advertise_peer_urls: String,
    /// Ignore snapshot integrity hash value (required if copied from data directory)
    #[arg(long = "skip-hash-check", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false")]
    skip_hash_check: bool,
}

/// Runs a `snapshot` subcommand.
pub async fn run(g: &GlobalFlags, c: SnapshotCommand) -> Result<(), CtlError> {
    match c {
        SnapshotCommand::Save(a) => save(g, a).await,
        SnapshotCommand::Status(a) => status(g, a),
        SnapshotCommand::Restore(a) => restore(a),
    }
}

/// zap's production logger line (`zap.NewProduction`: epoch-seconds `ts`), as etcdctl's
/// snapshot package logs; `fields` are `"key":value` pairs already encoded.
fn zap_info(caller: &str, msg: &str, fields: &[(&str, String)]) {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    zap_line(&ts.to_string(), caller, msg, fields);
}

/// clientv3's logger line (ISO `ts`).
fn zap_info_iso(caller: &str, msg: &str) {
    zap_line(&json_string(zap_timestamp().as_bytes()), caller, msg, &[]);
}

fn zap_line(ts: &str, caller: &str, msg: &str, fields: &[(&str, String)]) {
    let mut line = format!(
        "{{\"level\":\"info\",\"ts\":{ts},\"caller\":\"{caller}\",\"msg\":{}",
        json_string(msg.as_bytes())
    );
    for (k, v) in fields {
        line.push_str(&format!(",\"{k}\":{v}"));
    }
    line.push('}');
    eprintln(&line);
}

fn js(s: &str) -> String {
    json_string(s.as_bytes())
}

/// etcdctl's `snapshot save` failures: exit 5 (ExitInterrupted).
fn interrupted(message: impl Into<String>) -> CtlError {
    CtlError::new(exit::INTERRUPTED, message)
}

/// Removes the `.part` file unless the save got to the rename (etcdctl's deferred
/// `os.RemoveAll(partpath)`).
struct PartFile(Option<PathBuf>);

impl Drop for PartFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `snapshot save <filename>`.
async fn save(g: &GlobalFlags, a: FileArgs) -> Result<(), CtlError> {
    let [path] = a.args.as_slice() else {
        return Err(CtlError::bad_args("snapshot save expects one argument"));
    };
    let endpoints = g.endpoint_list();
    let [endpoint] = endpoints.as_slice() else {
        return Err(interrupted(format!(
            "snapshot must be requested to one selected node, not multiple [{}]",
            endpoints.join(" ")
        )));
    };
    // etcdctl bounds the whole save by --command-timeout only when it is given.
    let fetch = fetch(g, endpoint, path);
    if g.command_timeout_set {
        match tokio::time::timeout(g.command_timeout, fetch).await {
            Ok(r) => r?,
            Err(_) => return Err(interrupted("context deadline exceeded")),
        }
    } else {
        fetch.await?;
    }
    println(&format!("Snapshot saved at {path}"));
    Ok(())
}

/// etcdctl's `v3Manager.Save`: the stream into `<path>.part` (mode 0600), synced, its
/// trailer checked, then renamed to `path`.
async fn fetch(g: &GlobalFlags, endpoint: &str, path: &str) -> Result<(), CtlError> {
    let part_path = format!("{path}.part");
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&part_path)
            .map_err(|e| {
                interrupted(format!(
                    "could not open {part_path} (open {part_path}: {})",
                    go_io_text(&e)
                ))
            })?
    };
    let mut part = PartFile(Some(PathBuf::from(&part_path)));
    zap_info(
        "snapshot/v3_snapshot.go:119",
        "created temporary db file",
        &[("path", js(&part_path))],
    );
    let started = Instant::now();
    let client = g
        .client()
        .await
        .map_err(|e| CtlError::new(exit::INTERRUPTED, e.message))?;
    let mut snap = client
        .maintenance()
        .snapshot()
        .await
        .map_err(|e| interrupted(client_error_text(&e)))?;
    zap_info_iso(
        "clientv3/maintenance.go:200",
        "opened snapshot stream; downloading",
    );
    zap_info(
        "snapshot/v3_snapshot.go:127",
        "fetching snapshot",
        &[("endpoint", js(endpoint))],
    );

    let mut progress = Reporter::new(format!("snapshot save {endpoint}"));
    progress.stage("", None);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut check = TrailerCheck::new();
    let write_err =
        |e: std::io::Error| interrupted(format!("write {part_path}: {}", go_io_text(&e)));
    let mut first = true;
    let result: Result<(), CtlError> = async {
        while let Some(chunk) = snap.next_chunk().await {
            let chunk = chunk.map_err(|e| interrupted(client_error_text(&e)))?;
            if first {
                first = false;
                // etcd counts the database's bytes left after this chunk; the trailer
                // follows them.
                progress.set_total(
                    chunk.blob.len() as u64
                        + chunk.remaining_bytes
                        + oxcd_snapshot::HASH_SIZE as u64,
                );
            }
            out.write_all(&chunk.blob).map_err(write_err)?;
            check.update(&chunk.blob);
            progress.position(check.total());
        }
        Ok(())
    }
    .await;
    result?;
    let size = check.total();
    check.finish().map_err(|e| interrupted(e.to_string()))?;
    let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all()
        .map_err(|e| interrupted(format!("sync {part_path}: {}", go_io_text(&e))))?;
    drop(file);
    progress.finish(size, "");
    zap_info_iso(
        "clientv3/maintenance.go:208",
        "completed snapshot read; closing",
    );
    zap_info(
        "snapshot/v3_snapshot.go:142",
        "fetched snapshot",
        &[
            ("endpoint", js(endpoint)),
            ("size", js(&human_bytes(size))),
            ("took", started.elapsed().as_secs_f64().to_string()),
        ],
    );
    std::fs::rename(&part_path, path).map_err(|e| {
        interrupted(format!(
            "could not rename {part_path} to {path} (rename {part_path} {path}: {})",
            go_io_text(&e)
        ))
    })?;
    part.0 = None;
    if let Some(dir) = Path::new(path)
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .and_then(|p| std::fs::File::open(p).ok())
    {
        let _ = dir.sync_all();
    }
    zap_info(
        "snapshot/v3_snapshot.go:152",
        "saved",
        &[("path", js(path))],
    );
    Ok(())
}

/// `snapshot status <filename>`: the format is checked first, the file next, and a
/// format the status lacks (protobuf) last, as etcdctl does.
fn status(g: &GlobalFlags, a: FileArgs) -> Result<(), CtlError> {
    let [path] = a.args.as_slice() else {
        return Err(CtlError::bad_args(
            "snapshot status requires exactly one argument",
        ));
    };
    let printer = g.printer()?;
    let st = status_file(Path::new(path)).map_err(|e| CtlError::error(e.to_string()))?;
    let text = match printer.format {
        Format::Simple => st.simple(),
        Format::Json => st.json(),
        Format::Table => st.table(),
        Format::Fields => st.fields(),
        Format::Protobuf => return Err(printer.unsupported()),
    };
    crate::print::write_all(&crate::print::Out {
        out: text.into_bytes(),
        err: Vec::new(),
    });
    Ok(())
}

/// `snapshot restore <filename> [options]`.
fn restore(a: RestoreArgs) -> Result<(), CtlError> {
    let [file] = a.args.as_slice() else {
        return Err(CtlError::bad_args(
            "snapshot restore requires exactly one argument",
        ));
    };
    let data_dir = if a.data_dir.is_empty() {
        format!("{}.etcd", a.name)
    } else {
        a.data_dir.clone()
    };
    let wal_dir = if a.wal_dir.is_empty() {
        format!("{data_dir}/member/wal")
    } else {
        a.wal_dir.clone()
    };
    let dirs = [
        ("path", js(file)),
        ("wal-dir", js(&wal_dir)),
        ("data-dir", js(&data_dir)),
        ("snap-dir", js(&format!("{data_dir}/member/snap"))),
    ];
    let opts = RestoreOptions {
        snapshot: PathBuf::from(file),
        data_dir: Some(PathBuf::from(&data_dir)),
        wal_dir: (!a.wal_dir.is_empty()).then(|| PathBuf::from(&a.wal_dir)),
        name: a.name.clone(),
        initial_cluster: a.initial_cluster.clone(),
        initial_cluster_token: a.initial_cluster_token.clone(),
        initial_advertise_peer_urls: a.initial_advertise_peer_urls.clone(),
        skip_hash_check: a.skip_hash_check,
    };
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let mut progress = RestoreProgress {
        reporter: Reporter::new(format!("snapshot restore {file}")),
        dirs: &dirs,
    };
    let restored =
        restore_with_progress(&opts, &mut progress).map_err(|e| CtlError::error(e.to_string()))?;
    progress.reporter.finish(size, "");
    for m in &restored.members {
        let urls: Vec<String> = m.peer_ur_ls.iter().map(|u| js(u)).collect();
        zap_info(
            "membership/cluster.go:392",
            "added member",
            &[
                ("cluster-id", js(&format!("{:x}", restored.cluster_id))),
                ("local-member-id", js("0")),
                ("added-peer-id", js(&format!("{:x}", m.id))),
                ("added-peer-peer-urls", format!("[{}]", urls.join(","))),
            ],
        );
    }
    zap_info("snapshot/v3_snapshot.go:309", "restored snapshot", &dirs);
    Ok(())
}

/// Restore's progress: etcdctl's "restoring snapshot" line once the checks passed, then
/// the stages on the [`Reporter`].
struct RestoreProgress<'a> {
    reporter: Reporter,
    dirs: &'a [(&'a str, String)],
}

impl oxcd_snapshot::Progress for RestoreProgress<'_> {
    fn started(&mut self) {
        let dirs = self.dirs;
        self.reporter.suspend(|| {
            zap_info("snapshot/v3_snapshot.go:296", "restoring snapshot", dirs);
        });
    }

    fn stage(&mut self, name: &str, total: u64) {
        self.reporter.stage(name, Some(total));
    }

    fn position(&mut self, done: u64) {
        self.reporter.position(done);
    }
}
