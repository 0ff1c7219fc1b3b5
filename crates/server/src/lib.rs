//! The oxcd server: an etcd-v3-compatible member, composed from the workspace crates.
//!
//! `server` owns no storage or consensus logic itself; it wires `oxcd-backend` (RocksDB),
//! `oxcd-mvcc`, `oxcd-raftlog` (raft-rs), the gRPC services, the `/v3` JSON gateway
//! (`oxcd-gateway`) and the tower middleware (`oxcd-middleware`) into one process that
//! serves gRPC and HTTP on each client URL.
//!
//! # Layout
//! - [`config`]: etcd's flags and `ETCD_*` variables; [`config_file`]: `--config-file` (YAML).
//! - [`bootstrap`]: the composition root (open stores, recover, start raft).
//! - [`serve`]: the client listener: tower stack, gRPC services, gateway, HTTP endpoints.
//! - [`grpc`]: one file per etcd service; [`grpc::status`] maps errors to `tonic::Status`.
//! - [`guard`]: learner and `hasleader` admission checks (a tower layer).
//! - [`http`]: `/health`, `/livez`, `/readyz`, `/version`, `/metrics`.
//! - [`propose`]: request IDs, proposal waiters, the [`propose::RaftProposer`].
//! - [`read`]: linearizable reads through batched ReadIndex.
//! - [`auth`]: who a request runs as and where each permission check runs (the rules are
//!   [`auth::access`]; the store and tokens are `oxcd-auth`'s).
//! - [`apply`]: the state machine raft applies committed entries to.
//! - [`watch_history`]: the MVCC store as watch history, and the apply-to-watch feed.
//! - [`members`] (the membership table), [`membership`] (MemberAdd/Remove/Update/Promote
//!   with etcd's checks), [`peer_host`] (this member as the peer transport sees it).
//! - [`lease_forward`]: lease renewals and TTLs answered by (or forwarded to) the leader.
//! - [`leadership`]: MoveLeader's transfer, and the hand-off of a leader that stops.
//! - [`snapshot`]: etcd-format snapshots: export (`Maintenance.Snapshot`), restore into a
//!   new data dir, `oxcd snapshot status|restore`.
//! - [`storage_format`]: the data dir's format number, refused when newer than this build.
//! - [`tls`]: the member's TLS (client, peer and metrics listeners, peer dialer).
//! - [`logging`]: `--logger`, `--log-outputs`, `--log-level`, `--debug`.
//! - [`validate`], [`quota`], [`identity`], [`background`], [`metrics`], [`slow`] (etcd's
//!   "apply request took too long" warning).
//! - [`corrupt`]: the corruption checks' HashKV exchange and the start-up check (the
//!   leader's periodic check is [`background::corrupt_check`]).
//!
//! # Data path of a write
//! gRPC handler → validate → quota → [`propose::RaftProposer`] (request ID, size check, waiter)
//! → raft (durable log, fsync per Ready batch) → [`apply::StateMachine`] (one atomic batch
//! with the applied index) → waiter → response header filled.
//!
//! # Invariants
//! - An acknowledged write is in the fsynced raft log; the state machine may lag and is
//!   rebuilt from the log after a crash.
//! - Every error string and gRPC code a client sees is etcd's (see [`grpc::status`]).
//! - A response header reports the revision its data was read at (see [`grpc::header`]).
//!
//! # Failpoints
//! With the `failpoints` feature (tests and `make chaos`; never the release binary),
//! `FAILPOINTS=name=action;...` arms TiKV's `fail` points: `apply-before-write`,
//! `apply-after-write`, `restore-before-copy`, `restore-after-copy` crash the member
//! (`return` aborts the process, as kill -9 would) and `kv-range-skip-read-index` is the
//! deliberate bug the robustness suite's negative control must catch;
//! `compactor-revision-interval` (`return(<seconds>)`) shortens revision-mode
//! auto-compaction's 5-minute period for the process tests; `apply-put-corrupt-value`
//! (`return`) makes this member store every put's value altered, the divergence the
//! corruption checks must catch. The raft Ready loop
//! and compaction have their own (see `oxcd-raftlog`, `oxcd-mvcc`). A build without the
//! feature refuses to start when `FAILPOINTS` is set.

pub mod apply;
pub mod auth;
pub mod background;
pub mod bootstrap;
pub mod config;
pub mod config_file;
pub mod context;
pub mod corrupt;
pub mod error;
pub mod grpc;
pub mod guard;
pub mod http;
pub mod identity;
pub mod leadership;
pub mod lease_forward;
pub mod logging;
pub mod members;
pub mod membership;
pub mod metrics;
pub mod peer_host;
pub mod propose;
pub mod quota;
pub mod read;
pub mod serve;
pub mod slow;
pub mod snapshot;
pub mod storage_format;
pub mod tls;
pub mod validate;
pub mod watch_history;

pub use config::Config;

use std::future::Future;

/// Runs a member until `shutdown` resolves, then stops raft and returns. When the raft
/// loop stops on its own (it could not write its log or apply: a full disk, an I/O error)
/// the member stops too and returns that error, as etcd exits when its WAL cannot be
/// written: every write it acknowledged is in the synced raft log, replayed at restart.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if let Some(path) = &config.config_file {
        tracing::info!(
            path = %path.display(),
            "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided"
        );
    }
    for (flag, why) in &config.ignored {
        tracing::warn!(flag = %flag, reason = %why, "flag has no meaning in oxcd and is ignored");
    }
    let started = bootstrap::open(&config).await?;
    metrics::init(started.ctx.member_id, context::SERVER_VERSION);
    oxcd_middleware::register_process_metrics();
    oxcd_middleware::set_cluster_version(context::CLUSTER_VERSION);
    tracing::info!(
        name = %config.name,
        member_id = format!("{:x}", started.ctx.member_id),
        cluster_id = format!("{:x}", started.ctx.cluster_id()),
        "oxcd member started"
    );
    let mut removed = started.removed.clone();
    let raft = started.raft.clone();
    let waiters = started.waiters.clone();
    let (fatal_tx, fatal_rx) = tokio::sync::oneshot::channel();
    let stop = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = removed.wait_for(|r| *r) => {
                tracing::warn!("this member was removed from the cluster; stopping");
            }
            Some(error) = raft.stopped() => {
                tracing::error!(
                    %error,
                    "the raft log or the state machine cannot be written; stopping this member (nothing acknowledged is lost: restart it once the cause is fixed)"
                );
                // Nothing pending will be applied now: answer its clients at once.
                waiters.fail_all();
                let _ = fatal_tx.send(error);
            }
        }
    };
    let result = serve::serve(
        &config,
        started.ctx.clone(),
        started.peer_service.clone(),
        started.leader_lost.clone(),
        &started.tls,
        stop,
    )
    .await;
    started.raft.shutdown().await;
    let _ = tokio::task::spawn_blocking(move || started.raft_thread.join()).await;
    if let Ok(error) = fatal_rx.await {
        anyhow::bail!("stopped: the raft loop failed: {error}");
    }
    result
}
