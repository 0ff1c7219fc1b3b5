//! The composition root: opens the stores, recovers, starts raft and the background tasks,
//! and returns the shared [`ServerContext`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::{Backend, RocksBackend, RocksOptions};
use oxcd_lease::{Lessor, LessorConfig};
use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::Member;
use oxcd_raftlog::{NullTransport, RaftConfig, RaftHandle, RaftNode, RocksLogStore};

use crate::apply::alarm::AlarmStore;
use crate::apply::{ApplyProgress, StateMachine};
use crate::background;
use crate::config::Config;
use crate::context::{Limits, ServerContext};
use crate::identity;
use crate::members::Members;
use crate::propose::wait::ProposalWaiters;
use crate::propose::Proposer;
use crate::quota::Quota;
use crate::read::linearizable::LinearizableReads;
use crate::watch_history::{MvccHistory, WatchObserver};
use oxcd_watch::{HubConfig, WatchHub};

/// Everything [`open`] started; dropping it does not stop raft (call `raft.shutdown()`).
pub struct Started {
    /// Shared handles for the front ends.
    pub ctx: Arc<ServerContext>,
    /// The raft node's handle.
    pub raft: RaftHandle,
    /// The raft thread.
    pub raft_thread: std::thread::JoinHandle<()>,
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The configuration is inconsistent.
    #[error("{0}")]
    Config(String),
    /// A store failed to open or recover.
    #[error("{0}")]
    Storage(String),
}

fn storage<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> BootstrapError {
    move |e| BootstrapError::Storage(format!("{what}: {e}"))
}

/// The initial members from `--initial-cluster`, grouped by name, with derived IDs.
pub fn initial_members(cfg: &Config) -> Vec<Member> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, url) in &cfg.initial_cluster {
        by_name.entry(name.as_str()).or_default().push(url.clone());
    }
    by_name
        .into_iter()
        .map(|(name, peer_urls)| Member {
            id: identity::member_id(&peer_urls, &cfg.initial_cluster_token),
            name: name.to_string(),
            client_ur_ls: if name == cfg.name {
                cfg.advertise_client_urls.clone()
            } else {
                Vec::new()
            },
            peer_ur_ls: peer_urls,
            is_learner: false,
        })
        .collect()
}

/// Opens the data directory and starts raft. Must run inside a tokio runtime.
pub fn open(cfg: &Config) -> Result<Started, BootstrapError> {
    let members = initial_members(cfg);
    let me = members
        .iter()
        .find(|m| m.name == cfg.name)
        .ok_or_else(|| {
            BootstrapError::Config(format!(
                "couldn't find local name {:?} in the initial cluster configuration",
                cfg.name
            ))
        })?
        .clone();
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    let cluster_id = identity::cluster_id(&ids);

    std::fs::create_dir_all(cfg.db_dir()).map_err(storage("create data dir"))?;
    std::fs::create_dir_all(cfg.raft_dir()).map_err(storage("create wal dir"))?;
    let backend: Arc<dyn Backend> = Arc::new(
        RocksBackend::open(&cfg.db_dir(), &RocksOptions::default()).map_err(storage("open db"))?,
    );
    let raft_backend: Arc<dyn Backend> = Arc::new(
        RocksBackend::open(&cfg.raft_dir(), &RocksOptions::default())
            .map_err(storage("open wal"))?,
    );

    let members = Arc::new(
        Members::load_or_bootstrap(backend.as_ref(), members, cluster_id)
            .map_err(storage("membership"))?,
    );
    let started = std::time::Instant::now();
    let kv = Arc::new(KvStore::open(backend.clone()).map_err(storage("mvcc recovery"))?);
    tracing::info!(
        revision = kv.current_revision(),
        compacted = kv.compacted_revision(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered the key index"
    );
    let watch_hub = WatchHub::start(
        Arc::new(MvccHistory(kv.clone())),
        HubConfig {
            max_response_bytes: cfg.max_request_bytes,
            ..HubConfig::default()
        },
    );
    let lessor = Arc::new(
        Lessor::open(
            backend.clone(),
            LessorConfig::for_election_timeout(cfg.election_timeout),
        )
        .map_err(storage("leases"))?,
    );
    for (key, lease) in kv.take_lease_attachments() {
        if lessor.attach(lease, &key).is_err() {
            tracing::warn!(lease, "a key refers to a lease that no longer exists");
        }
    }
    let alarms = Arc::new(AlarmStore::load(backend.as_ref()).map_err(storage("alarms"))?);
    let waiters = Arc::new(ProposalWaiters::default());
    let progress = Arc::new(ApplyProgress::default());
    let sm = StateMachine::new(
        backend.clone(),
        kv.clone(),
        lessor.clone(),
        alarms.clone(),
        waiters.clone(),
        Some(Arc::new(WatchObserver(watch_hub.clone()))),
        progress,
        cfg.election_timeout,
    )
    .map_err(storage("state machine"))?;

    let tick = cfg.heartbeat_interval;
    let election_ticks =
        (cfg.election_timeout.as_millis() / tick.as_millis().max(1)).max(2) as usize;
    let raft_cfg = RaftConfig {
        id: me.id,
        voters: ids.clone(),
        tick_interval: tick,
        election_tick: election_ticks,
        heartbeat_tick: 1,
        pre_vote: cfg.pre_vote,
        check_quorum: true,
        snapshot_count: cfg.snapshot_count,
        sync_log: !cfg.unsafe_no_fsync,
        ..RaftConfig::default()
    };
    let log_store = RocksLogStore::open(raft_backend).map_err(storage("raft log"))?;
    let (raft, raft_thread) = RaftNode::start(raft_cfg, log_store, sm, Arc::new(NullTransport))
        .map_err(storage("raft"))?;

    let timeout = cfg.request_timeout();
    let proposer = Proposer::new(raft.clone(), waiters, me.id, cfg.max_request_bytes, timeout);
    let reads = LinearizableReads::start(raft.clone(), timeout);
    let quota = Arc::new(Quota::new(cfg.quota_bytes()));
    let ctx = Arc::new(ServerContext {
        member_id: me.id,
        name: cfg.name.clone(),
        data_dir: cfg.data_dir.clone(),
        backend,
        kv,
        raft: raft.clone(),
        proposer,
        reads,
        alarms,
        members,
        quota,
        limits: Limits {
            max_txn_ops: cfg.max_txn_ops,
            max_request_bytes: cfg.max_request_bytes,
        },
        watch_hub,
        lessor,
    });
    background::lease_revoker::start(ctx.clone());
    background::size_sampler::start(ctx.clone(), Duration::from_millis(500));
    background::compactor::start(
        ctx.clone(),
        cfg.auto_compaction_mode,
        &cfg.auto_compaction_retention,
    )
    .map_err(BootstrapError::Config)?;
    Ok(Started {
        ctx,
        raft,
        raft_thread,
    })
}
