//! The composition root: opens the stores, recovers, starts raft and the background tasks,
//! and returns the shared [`ServerContext`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::{Backend, Column, RocksBackend, RocksOptions, WriteBatch};
use oxcd_lease::{Lessor, LessorConfig};
use oxcd_mvcc::KvStore;
use oxcd_peer::{GrpcTransport, PeerService, TransportConfig};
use oxcd_proto::etcdserverpb::Member;
use oxcd_raftlog::{RaftConfig, RaftHandle, RaftNode, RocksLogStore};
use prost::Message;
use tokio::sync::watch;

use crate::apply::alarm::AlarmStore;
use crate::apply::{ApplyProgress, StateMachine, Stores};
use crate::background;
use crate::config::Config;
use crate::context::{Limits, ServerContext};
use crate::identity;
use crate::members::Members;
use crate::peer_host::{MemberLeaderServices, MemberPeerHost};
use crate::propose::wait::ProposalWaiters;
use crate::propose::RaftProposer;
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
    /// The peer service to serve on `--listen-peer-urls`.
    pub peer_service: PeerService,
    /// Becomes true when this member was removed from the cluster (the server stops).
    pub removed: watch::Receiver<bool>,
    /// Increases when leader-requiring streams must end (no leader for a long time).
    pub leader_lost: watch::Receiver<u64>,
    /// The listeners' and the peer dialer's TLS.
    pub tls: crate::tls::MemberTls,
    /// The proposals waiting to be applied (failed at once if the raft loop stops).
    pub waiters: Arc<ProposalWaiters>,
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
    /// The start-up corruption check found this member's data differs from a peer's.
    #[error("{0}")]
    Corrupt(String),
}

fn storage<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> BootstrapError {
    move |e| BootstrapError::Storage(format!("{what}: {e}"))
}

/// Like [`storage`], naming the path the operator must look at.
fn storage_at<'a, E: std::fmt::Display>(
    what: &'static str,
    path: &'a std::path::Path,
) -> impl Fn(E) -> BootstrapError + 'a {
    move |e| BootstrapError::Storage(format!("{what} {}: {e}", path.display()))
}

use crate::members::LOCAL_ID_KEY;

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

/// Who this member is and what cluster it belongs to, before the stores open.
struct Identity {
    local_id: u64,
    cluster_id: u64,
    /// Members to record on a fresh data dir.
    members: Vec<Member>,
    /// Voters of a NEW cluster (empty when joining or restarting).
    voters: Vec<u64>,
    /// Read back from the data dir (a restart): nothing to record.
    stored: bool,
}

fn same_urls(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// Works out the identity: from the data dir (restart), from `--initial-cluster` (new
/// cluster), or from the running cluster (`--initial-cluster-state=existing`).
async fn identify(
    cfg: &Config,
    backend: &dyn Backend,
    peer_tls: Option<&oxcd_tls::ClientTls>,
) -> Result<Identity, BootstrapError> {
    if let Some(v) = backend
        .get(Column::Meta, LOCAL_ID_KEY)
        .map_err(storage("meta"))?
    {
        let local_id = u64::from_be_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| BootstrapError::Storage("corrupt local member id".into()))?,
        );
        return Ok(Identity {
            local_id,
            cluster_id: 0,
            members: Vec::new(),
            voters: Vec::new(),
            stored: true,
        });
    }
    let initial = initial_members(cfg);
    let me = initial
        .iter()
        .find(|m| m.name == cfg.name)
        .cloned()
        .ok_or_else(|| {
            BootstrapError::Config(format!(
                "couldn't find local name {:?} in the initial cluster configuration",
                cfg.name
            ))
        })?;
    if !cfg.initial_cluster_state_existing {
        let ids: Vec<u64> = initial.iter().map(|m| m.id).collect();
        return Ok(Identity {
            local_id: me.id,
            cluster_id: identity::cluster_id(&ids),
            voters: ids,
            members: initial,
            stored: false,
        });
    }
    // Joining: ask the other members who we are.
    let others: Vec<String> = initial
        .iter()
        .filter(|m| m.name != cfg.name)
        .flat_map(|m| m.peer_ur_ls.clone())
        .collect();
    let resp = oxcd_peer::fetch_members(&others, Duration::from_secs(2), peer_tls)
        .await
        .map_err(|e| {
            BootstrapError::Config(format!(
                "cannot fetch cluster info from peer urls {others:?}: {e}"
            ))
        })?;
    let mine = resp
        .members
        .iter()
        .find(|m| same_urls(&m.peer_ur_ls, &me.peer_ur_ls))
        .ok_or_else(|| {
            BootstrapError::Config(format!(
                "member with peer URLs {:?} is not part of the existing cluster (add it with MemberAdd first)",
                me.peer_ur_ls
            ))
        })?;
    Ok(Identity {
        local_id: mine.id,
        cluster_id: resp.cluster_id,
        voters: Vec::new(),
        members: resp.members.clone(),
        stored: false,
    })
}

/// The state machine's RocksDB: no WAL of its own. The raft log (its own, synced
/// instance) already makes every applied entry durable, so an apply batch only goes to the
/// memtables; a crash loses a consistent suffix of them (atomic flush), which raft replays
/// from the log, because the log is compacted only after `Applier::persist` flushed them.
///
/// Memtables of 32 MiB (not RocksDB's 64): a metadata store's working set is small, and
/// every MiB of memtable is resident.
pub(crate) fn state_db_options() -> RocksOptions {
    RocksOptions {
        disable_wal: true,
        write_buffer_bytes: 32 << 20,
        ..RocksOptions::default()
    }
}

/// The raft log's RocksDB (synced WAL). Entries are appended, read back once for apply
/// (from the memtable, usually) and deleted after compaction, so a small memtable and
/// block cache do: they would otherwise hold another 128 MiB of mostly dead entries.
/// The WAL is primed when the log opens (two files of 16 MiB, one memtable each, about
/// 80 ms), so that synced appends overwrite a file from the first one on: put p50 with one
/// client on one member 0.58-0.61 ms against 0.66-0.69 ms unprimed, 64 clients on three
/// members 9.2-10.5k puts/s against 8.0-8.7k.
pub(crate) fn raft_db_options() -> RocksOptions {
    RocksOptions {
        write_buffer_bytes: 16 << 20,
        block_cache_bytes: 8 << 20,
        // A memtable's worth, as much as a WAL file holds before it is retired.
        prime_wal_bytes: 16 << 20,
        ..RocksOptions::default()
    }
}

/// etcd's lease settings for this member: checkpoints of remaining TTLs only with
/// `--experimental-enable-lease-checkpoint`, as in etcd.
fn lessor_config(cfg: &Config) -> LessorConfig {
    let mut lc = LessorConfig::for_election_timeout(cfg.election_timeout);
    if !cfg.lease_checkpoint {
        lc.checkpoint_interval = Duration::ZERO;
    }
    lc
}

/// Opens the data directory and starts raft. Must run inside a tokio runtime.
///
/// The steps, in order (each a function below): TLS (bad certificates are refused before
/// anything is opened); the two RocksDB instances; who this member is; the stores recovered
/// from the state DB; on a restart with `--experimental-initial-corrupt-check`, the
/// comparison of its HashKV with its peers' ([`crate::corrupt::initial_check`]); the state
/// machine over them; raft with its transport; the handles
/// the front ends share; the background tasks and the peer service. Every component gets
/// what it needs when it is built: nothing is attached afterwards.
pub async fn open(cfg: &Config) -> Result<Started, BootstrapError> {
    let tls = crate::tls::MemberTls::build(cfg).map_err(BootstrapError::Config)?;
    let dbs = open_databases(cfg)?;
    let id = identify(cfg, dbs.state.as_ref(), tls.peer_client.as_ref()).await?;
    let members = record_identity(&dbs, &id)?;
    let stores = recover_stores(cfg, &dbs, members)?;
    // etcd checks only a member that has data (a restart), before raft and the listeners.
    if cfg.initial_corrupt_check && id.stored {
        crate::corrupt::initial_check(
            &stores.kv,
            &stores.members,
            cfg.request_timeout(),
            tls.peer_client.as_ref(),
        )
        .await
        .map_err(BootstrapError::Corrupt)?;
    }
    let waiters = Arc::new(ProposalWaiters::default());
    let sm = state_machine(cfg, &stores, &dbs, waiters.clone())?;
    let host = Arc::new(MemberPeerHost::new(
        stores.members.clone(),
        dbs.state.clone(),
        stores.kv.clone(),
        dbs.snapshot_root.clone(),
    ));
    let (raft, raft_thread, transport) = start_raft(cfg, &id, dbs.raft, sm, host.clone(), &tls)?;
    let ctx = Arc::new(server_context(
        cfg,
        &id,
        stores,
        dbs.state,
        &raft,
        waiters.clone(),
        &tls,
    ));
    let (removed, leader_lost) = start_background(cfg, &ctx, host.clone(), transport, &tls)?;
    let peer_service = PeerService::new(
        host,
        raft.clone(),
        Arc::new(MemberLeaderServices::new(ctx.clone())),
    );
    Ok(Started {
        leader_lost,
        ctx,
        raft,
        raft_thread,
        peer_service,
        removed,
        tls,
        waiters,
    })
}

/// The member's two RocksDB instances and its snapshot staging directory.
struct Databases {
    /// The state machine's (MVCC, leases, auth, membership, alarms, applied index).
    state: Arc<dyn Backend>,
    /// The raft log's.
    raft: Arc<dyn Backend>,
    /// `<data-dir>/member/snap`.
    snapshot_root: std::path::PathBuf,
}

/// Creates the directories, opens both databases (refusing a data dir of a newer storage
/// format, see [`crate::storage_format`]), and finishes a snapshot restore a crash
/// interrupted.
fn open_databases(cfg: &Config) -> Result<Databases, BootstrapError> {
    let (db_dir, raft_dir) = (cfg.db_dir(), cfg.raft_dir());
    std::fs::create_dir_all(&db_dir).map_err(storage_at("create data dir", &db_dir))?;
    std::fs::create_dir_all(&raft_dir).map_err(storage_at("create wal dir", &raft_dir))?;
    let snapshot_root = cfg.data_dir.join("member").join("snap");
    std::fs::create_dir_all(&snapshot_root)
        .map_err(storage_at("create snap dir", &snapshot_root))?;
    let state: Arc<dyn Backend> = Arc::new(
        RocksBackend::open(&db_dir, &state_db_options()).map_err(storage_at("open db", &db_dir))?,
    );
    crate::storage_format::check(state.as_ref(), &db_dir).map_err(BootstrapError::Storage)?;
    let raft: Arc<dyn Backend> = Arc::new(
        RocksBackend::open(&raft_dir, &raft_db_options())
            .map_err(storage_at("open wal", &raft_dir))?,
    );
    crate::apply::restore::finish_interrupted(state.as_ref())
        .map_err(storage("snapshot restore"))?;
    Ok(Databases {
        state,
        raft,
        snapshot_root,
    })
}

/// Loads (or, on a fresh data dir, records) the membership and this member's ID.
fn record_identity(dbs: &Databases, id: &Identity) -> Result<Arc<Members>, BootstrapError> {
    let members = Members::load_or_bootstrap(
        dbs.state.as_ref(),
        id.members.clone(),
        id.cluster_id,
        id.local_id,
    )
    .map_err(storage("membership"))?;
    if !id.stored {
        let mut local = WriteBatch::new();
        local.put(Column::Meta, LOCAL_ID_KEY, id.local_id.to_be_bytes());
        crate::storage_format::record(&mut local);
        dbs.state.write(local, true).map_err(storage("meta"))?;
    }
    Ok(Arc::new(members))
}

/// The stores recovered from the state DB, and the watch hub over the MVCC store.
struct Recovered {
    kv: Arc<KvStore>,
    watch_hub: WatchHub,
    lessor: Arc<Lessor>,
    alarms: Arc<AlarmStore>,
    members: Arc<Members>,
    auth: Arc<oxcd_auth::AuthStore>,
    tokens: Arc<dyn oxcd_auth::TokenProvider>,
}

fn recover_stores(
    cfg: &Config,
    dbs: &Databases,
    members: Arc<Members>,
) -> Result<Recovered, BootstrapError> {
    let backend = &dbs.state;
    let started = std::time::Instant::now();
    let kv = Arc::new(KvStore::open(backend.clone()).map_err(storage("mvcc recovery"))?);
    kv.set_compaction_batch_limit(cfg.compaction_batch_limit);
    tracing::info!(
        revision = kv.current_revision(),
        compacted = kv.compacted_revision(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "recovered the key index"
    );
    let watch_hub = WatchHub::start(
        Arc::new(MvccHistory(kv.clone())),
        HubConfig {
            // etcd's watch server allows the request limit plus its gRPC overhead before
            // it fragments.
            max_response_bytes: cfg
                .max_request_bytes
                .saturating_add(crate::serve::GRPC_OVERHEAD_BYTES),
            progress_interval: cfg.watch_progress_notify_interval,
            ..HubConfig::default()
        },
    );
    let lessor =
        Arc::new(Lessor::open(backend.clone(), lessor_config(cfg)).map_err(storage("leases"))?);
    for (key, lease) in kv.take_lease_attachments() {
        if lessor.attach(lease, &key).is_err() {
            tracing::warn!(lease, "a key refers to a lease that no longer exists");
        }
    }
    let alarms = Arc::new(AlarmStore::load(backend.as_ref()).map_err(storage("alarms"))?);
    let auth = Arc::new(
        oxcd_auth::AuthStore::open(backend.as_ref(), cfg.bcrypt_cost).map_err(storage("auth"))?,
    );
    crate::metrics::AUTH_REVISION.set(auth.revision() as i64);
    let tokens = oxcd_auth::token_provider(&cfg.auth_token, cfg.auth_token_ttl)
        .map_err(|e| BootstrapError::Config(e.to_string()))?;
    Ok(Recovered {
        kv,
        watch_hub,
        lessor,
        alarms,
        members,
        auth,
        tokens,
    })
}

/// The state machine raft applies to, over the recovered stores.
fn state_machine(
    cfg: &Config,
    r: &Recovered,
    dbs: &Databases,
    waiters: Arc<ProposalWaiters>,
) -> Result<StateMachine, BootstrapError> {
    StateMachine::new(
        Stores {
            backend: dbs.state.clone(),
            kv: r.kv.clone(),
            leases: r.lessor.clone(),
            alarms: r.alarms.clone(),
            members: r.members.clone(),
            auth: r.auth.clone(),
            tokens: r.tokens.clone(),
        },
        waiters,
        Some(Arc::new(WatchObserver(r.watch_hub.clone()))),
        Arc::new(ApplyProgress::default()),
        cfg.election_timeout,
        dbs.snapshot_root.clone(),
    )
    .map(|sm| sm.with_warning_apply_duration(cfg.warning_apply_duration))
    .map_err(storage("state machine"))
}

/// raft's settings for this member: etcd's tick and election timing, and (for a new
/// cluster) the voters with their member records as conf-change contexts.
fn raft_config(cfg: &Config, id: &Identity) -> RaftConfig {
    let tick = cfg.heartbeat_interval;
    let election_ticks =
        (cfg.election_timeout.as_millis() / tick.as_millis().max(1)).max(2) as usize;
    let voter_contexts = id
        .voters
        .iter()
        .filter_map(|v| id.members.iter().find(|m| m.id == *v))
        .map(|m| {
            let ctx = Member {
                client_ur_ls: Vec::new(),
                ..m.clone()
            };
            (m.id, ctx.encode_to_vec())
        })
        .collect();
    RaftConfig {
        id: id.local_id,
        voters: id.voters.clone(),
        voter_contexts,
        tick_interval: tick,
        election_tick: election_ticks,
        heartbeat_tick: 1,
        pre_vote: cfg.pre_vote,
        check_quorum: true,
        snapshot_count: cfg.snapshot_count,
        snapshot_catchup_entries: cfg.snapshot_catchup_entries,
        sync_log: !cfg.unsafe_no_fsync,
        request_timeout: cfg.request_timeout(),
        ..RaftConfig::default()
    }
}

/// Starts raft over the raft log, with a gRPC transport that reports to it.
fn start_raft(
    cfg: &Config,
    id: &Identity,
    raft_db: Arc<dyn Backend>,
    sm: StateMachine,
    host: Arc<MemberPeerHost>,
    tls: &crate::tls::MemberTls,
) -> Result<(RaftHandle, std::thread::JoinHandle<()>, GrpcTransport), BootstrapError> {
    let raft_dir = cfg.raft_dir();
    let log_store = RocksLogStore::open(raft_db).map_err(storage_at("raft log", &raft_dir))?;
    let mut made = None;
    let (raft, thread) = RaftNode::start_with(raft_config(cfg, id), log_store, sm, |raft| {
        let transport = GrpcTransport::new(
            host,
            raft.clone(),
            TransportConfig {
                tls: tls.peer_client.clone(),
                ..TransportConfig::default()
            },
            tokio::runtime::Handle::current(),
        );
        made = Some(transport.clone());
        Arc::new(transport)
    })
    .map_err(storage_at("raft log", &raft_dir))?;
    let transport = made.ok_or_else(|| BootstrapError::Storage("raft made no transport".into()))?;
    Ok((raft, thread, transport))
}

/// The handles the front ends share.
fn server_context(
    cfg: &Config,
    id: &Identity,
    r: Recovered,
    backend: Arc<dyn Backend>,
    raft: &RaftHandle,
    waiters: Arc<ProposalWaiters>,
    tls: &crate::tls::MemberTls,
) -> ServerContext {
    let timeout = cfg.request_timeout();
    let headers = crate::grpc::header::Headers::new(
        id.local_id,
        r.members.clone(),
        raft.clone(),
        r.kv.clone(),
    );
    let proposer: Arc<dyn crate::propose::Proposals> = Arc::new(RaftProposer::new(
        raft.clone(),
        waiters,
        id.local_id,
        cfg.max_request_bytes,
        timeout,
    ));
    ServerContext {
        headers: headers.clone(),
        member_id: id.local_id,
        name: cfg.name.clone(),
        data_dir: cfg.data_dir.clone(),
        backend,
        kv: r.kv,
        raft: raft.clone(),
        proposer: proposer.clone(),
        reads: Arc::new(LinearizableReads::start(raft.clone(), timeout)),
        alarms: r.alarms,
        members: r.members.clone(),
        quota: Arc::new(Quota::new(cfg.quota_bytes())),
        limits: Limits {
            max_txn_ops: cfg.max_txn_ops,
            max_request_bytes: cfg.max_request_bytes,
            strict_reconfig_check: cfg.strict_reconfig_check,
            max_learners: cfg.max_learners,
            warning_apply_duration: cfg.warning_apply_duration,
        },
        watch_hub: r.watch_hub,
        lessor: r.lessor.clone(),
        auth: Arc::new(crate::auth::AuthGate::new(
            r.auth,
            r.tokens,
            raft.clone(),
            cfg.client_tls.client_cert_auth,
        )),
        lease_router: crate::lease_forward::LeaseRouter {
            lessor: r.lessor.clone(),
            leader_client: Arc::new(oxcd_peer::LeaderClient::new(tls.peer_client.clone())),
            members: r.members.clone(),
            member_id: id.local_id,
            raft: raft.clone(),
            headers: headers.clone(),
            request_timeout: timeout,
        },
        membership: crate::membership::MembershipChanges {
            raft: raft.clone(),
            members: r.members.clone(),
            member_id: id.local_id,
            proposer: proposer.clone(),
            peer_tls: tls.peer_client.clone(),
        },
        request_timeout: timeout,
    }
}

/// Starts the background tasks; returns the "removed" and "leader lost" signals.
fn start_background(
    cfg: &Config,
    ctx: &Arc<ServerContext>,
    host: Arc<MemberPeerHost>,
    transport: GrpcTransport,
    tls: &crate::tls::MemberTls,
) -> Result<(watch::Receiver<bool>, watch::Receiver<u64>), BootstrapError> {
    background::lease_revoker::start(ctx.lessor.clone(), ctx.proposer.clone());
    background::size_sampler::start(
        background::size_sampler::Sampled {
            backend: ctx.backend.clone(),
            kv: ctx.kv.clone(),
            quota: ctx.quota.clone(),
            members: ctx.members.clone(),
            member_id: ctx.member_id,
        },
        Duration::from_millis(500),
    );
    background::compactor::start(
        background::compactor::Compactor {
            kv: ctx.kv.clone(),
            proposals: ctx.proposer.clone(),
            raft: ctx.raft.clone(),
            member_id: ctx.member_id,
        },
        cfg.auto_compaction_mode,
        &cfg.auto_compaction_retention,
    )
    .map_err(BootstrapError::Config)?;
    background::publish::start(
        ctx.proposer.clone(),
        ctx.raft.clone(),
        ctx.member_id,
        ctx.name.clone(),
        cfg.advertise_client_urls.clone(),
    );
    let removed = background::peer_watch::start(ctx.members.clone(), ctx.member_id, transport);
    let leader_lost = background::leader_monitor::start(ctx.raft.clone(), cfg.election_timeout);
    background::peer_probe::start(host, tls.peer_client.clone());
    background::corrupt_check::start(
        background::corrupt_check::Checker {
            kv: ctx.kv.clone(),
            raft: ctx.raft.clone(),
            members: ctx.members.clone(),
            member_id: ctx.member_id,
            reads: ctx.reads.clone(),
            proposals: ctx.proposer.clone(),
            peer_tls: tls.peer_client.clone(),
            timeout: ctx.request_timeout,
        },
        cfg.corrupt_check_time,
    );
    Ok((removed, leader_lost))
}
