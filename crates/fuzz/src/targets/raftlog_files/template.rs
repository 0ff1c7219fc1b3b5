//! The pristine data directory `raftlog-files` corrupts: written by a real single-member
//! oxcd (the server's own `bootstrap::open`, its gRPC service objects called in process,
//! nothing listening), in a child process so that every store is closed for good.
//!
//! Two sessions write into `<root>/data` (puts, a lease with an attached key, a
//! delete-range, a txn, a physical compaction); the second reopens what the first left,
//! so the raft log has both SST files and a WAL. `<root>/states.json` lists the key
//! space after every write, oldest first: a reopened copy must serve one of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use oxcd_proto::etcdserverpb::{
    compare, kv_server::Kv, lease_server::Lease, request_op, CompactionRequest, Compare,
    DeleteRangeRequest, LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use oxcd_server::bootstrap;
use oxcd_server::context::ServerContext;
use oxcd_server::grpc::{kv::KvService, lease::LeaseService};
use oxcd_server::Config;

/// One state of the key space: `(key, value)` pairs in key order.
pub type State = Vec<(Vec<u8>, Vec<u8>)>;

/// The member's configuration for the data directory `data` (same name, URLs and token
/// every time, so a copy restarts as the same member).
pub fn config(data: &Path) -> anyhow::Result<Config> {
    let args = [
        "--name",
        "default",
        "--data-dir",
        &data.display().to_string(),
        "--listen-client-urls",
        "http://127.0.0.1:2379",
        "--advertise-client-urls",
        "http://127.0.0.1:2379",
        "--listen-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2380",
        "--initial-cluster",
        "default=http://127.0.0.1:2380",
        "--heartbeat-interval",
        "20",
        "--election-timeout",
        "200",
    ]
    .map(String::from);
    Config::parse(args, |_| None).map_err(|e| anyhow::anyhow!("config: {e}"))
}

/// Waits until this member leads and has applied everything committed.
pub async fn wait_ready(ctx: &ServerContext, within: Duration) -> bool {
    let mut status = ctx.raft.status();
    let ready = status.wait_for(|s| s.leader_id == s.id && s.applied_index >= s.commit_index);
    let ok = matches!(tokio::time::timeout(within, ready).await, Ok(Ok(_)));
    ok
}

/// The whole key space at the current revision.
pub fn snapshot_state(ctx: &ServerContext) -> anyhow::Result<State> {
    let all = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        ..Default::default()
    };
    let res = ctx.kv.range(&all).context("range all")?;
    Ok(res
        .kvs
        .into_iter()
        .map(|kv| (kv.key.to_vec(), kv.value.to_vec()))
        .collect())
}

fn put(key: String, len: usize, lease: i64) -> PutRequest {
    PutRequest {
        value: vec![key.as_bytes()[key.len() - 1]; len],
        key: key.into_bytes(),
        lease,
        ..Default::default()
    }
}

/// One server session: open, write, record, shut down in order.
async fn session(data: &Path, round: usize, states: &mut Vec<State>) -> anyhow::Result<()> {
    let cfg = config(data)?;
    // The previous session's last store handles close on threads of their own (the
    // compactor, blocking tasks): wait for RocksDB's lock rather than fail on it.
    let mut tries = 0;
    let started = loop {
        match bootstrap::open(&cfg).await {
            Ok(s) => break s,
            Err(e) if e.to_string().contains("lock") && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => bail!("{e}"),
        }
    };
    let ctx = started.ctx.clone();
    if !wait_ready(&ctx, Duration::from_secs(10)).await {
        bail!("the template member did not become a ready leader");
    }
    if states.is_empty() {
        states.push(snapshot_state(&ctx)?);
    }
    let kv = KvService::from_context(&ctx);
    let lease = LeaseService::from_context(&ctx);
    let base = round * 100;
    for i in 0..24 {
        let p = put(format!("key/{:03}", base + i % 16), 64 + 37 * i, 0);
        kv.put(tonic::Request::new(p)).await?;
        states.push(snapshot_state(&ctx)?);
    }
    let grant = LeaseGrantRequest {
        ttl: 3600,
        id: 0x5eed + round as i64,
    };
    let id = lease
        .lease_grant(tonic::Request::new(grant))
        .await?
        .into_inner()
        .id;
    kv.put(tonic::Request::new(put(format!("leased/{round}"), 10, id)))
        .await?;
    states.push(snapshot_state(&ctx)?);
    let del = DeleteRangeRequest {
        key: format!("key/{:03}", base + 2).into_bytes(),
        range_end: format!("key/{:03}", base + 5).into_bytes(),
        ..Default::default()
    };
    kv.delete_range(tonic::Request::new(del)).await?;
    states.push(snapshot_state(&ctx)?);
    let txn = TxnRequest {
        compare: vec![Compare {
            result: compare::CompareResult::Greater as i32,
            target: compare::CompareTarget::Version as i32,
            key: format!("key/{:03}", base).into_bytes(),
            target_union: Some(compare::TargetUnion::Version(0)),
            ..Default::default()
        }],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(put(
                format!("txn/{round}"),
                5,
                0,
            ))),
        }],
        failure: Vec::new(),
    };
    kv.txn(tonic::Request::new(txn)).await?;
    states.push(snapshot_state(&ctx)?);
    if round == 0 {
        let rev = ctx.kv.current_revision() - 4;
        let c = CompactionRequest {
            revision: rev,
            physical: true,
        };
        kv.compact(tonic::Request::new(c)).await?;
    }
    for i in 0..8 {
        let p = put(format!("tail/{round}/{i}"), 200, 0);
        kv.put(tonic::Request::new(p)).await?;
        states.push(snapshot_state(&ctx)?);
    }
    drop((kv, lease, ctx));
    started.raft.shutdown().await;
    let thread = started.raft_thread;
    tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the raft thread panicked"))?;
    Ok(())
}

/// Child mode `--child-template ROOT`: writes `ROOT/data` and `ROOT/states.json`.
pub fn build(root: &Path) -> anyhow::Result<()> {
    let data = root.join("data");
    std::fs::create_dir_all(&data)?;
    let mut states = Vec::new();
    for round in 0..2 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(session(&data, round, &mut states))
            .with_context(|| format!("template session {round}"))?;
        // Shutting the runtime down drops the background tasks and with them the last
        // handles on both RocksDB instances, which close (flushing the WAL-less state
        // DB), as when a server process exits.
        rt.shutdown_timeout(Duration::from_secs(10));
    }
    std::fs::write(root.join("states.json"), serde_json::to_vec(&states)?)?;
    Ok(())
}

/// The data files of a data directory that corruption may hit: every regular file but
/// RocksDB's info logs and lock files, by path relative to `data`, in order.
pub fn data_files(data: &Path) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(PathBuf, u64)>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let path = e.path();
            let meta = e.metadata()?;
            if meta.is_dir() {
                walk(&path, base, out)?;
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("LOG") || name == "LOCK" {
                continue;
            }
            let rel = path.strip_prefix(base).map_err(std::io::Error::other)?;
            out.push((rel.to_path_buf(), meta.len()));
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(data, data, &mut out)?;
    out.sort();
    Ok(out)
}

/// Copies the directory tree `from` to `to`.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Reads `states.json`.
pub fn load_states(path: &Path) -> anyhow::Result<Vec<State>> {
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}
