//! [`RaftNode::start`]: bootstraps or restores the log, then runs the raft loop on ONE
//! dedicated OS thread that owns the `RawNode`.
//!
//! Each iteration waits for a mailbox command or the next tick, DRAINS every queued
//! command (all proposals of the iteration become one `MsgPropose`, so one Ready and one
//! fsync: group commit), ticks when due, services ReadIndex retries, then handles Readies
//! (see `ready.rs`) until raft has nothing left.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, EntryType, HardState, Message, MessageType};
use raft::RawNode;
use tokio::sync::{mpsc, oneshot, watch};

use crate::applier::{Applier, ConfChange, ConfChangeKind, Membership};
use crate::config::RaftConfig;
use crate::error::{ConfChangeError, ProposeError, RaftLogError};
use crate::handle::{Command, RaftHandle};
use crate::log_store::RaftLogStore;
use crate::metrics;
use crate::raft_logger;
use crate::read_index::ReadWaiters;
use crate::status::RaftStatus;
use crate::transport::RaftTransport;

/// Most commands handled per loop iteration before raft gets to run.
const MAX_DRAIN: usize = 4096;

/// Entry context of local proposals: the proposer's ID (normal entries), followed by a
/// sequence number (conf changes), so the proposer can find its own entries.
pub(crate) fn proposal_context(id: u64, seq: Option<u64>) -> Vec<u8> {
    let mut c = id.to_be_bytes().to_vec();
    if let Some(seq) = seq {
        c.extend_from_slice(&seq.to_be_bytes());
    }
    c
}

/// Starts raft members.
#[derive(Debug)]
pub struct RaftNode;

impl RaftNode {
    /// Opens (or bootstraps) the member on `storage` and starts its loop thread.
    ///
    /// - Empty store and non-empty `config.voters`: a NEW cluster. The log is initialised
    ///   with one conf-change entry per voter (indexes `1..=N`, term 1, committed), so all
    ///   members start from the same state and a joining member can learn the initial
    ///   membership from the log.
    /// - Empty store and no voters: an uninitialised member that waits for a leader.
    /// - Otherwise the persisted hard state and conf state are restored and raft starts at
    ///   `applied = applier.applied_index()`.
    ///
    /// A member that is the only voter campaigns as soon as it applied its log, so it leads
    /// within a few milliseconds. The thread ends on [`RaftHandle::shutdown`], when every
    /// handle is dropped, or on a fatal storage/apply error (logged, and
    /// reported by [`RaftHandle::stopped`]).
    pub fn start<S: RaftLogStore, A: Applier>(
        config: RaftConfig,
        storage: S,
        applier: A,
        transport: Arc<dyn RaftTransport>,
    ) -> Result<(RaftHandle, JoinHandle<()>), RaftLogError> {
        Self::start_with(config, storage, applier, |_| transport)
    }

    /// [`RaftNode::start`] for a transport that reports back to raft (unreachable peers,
    /// snapshot outcomes): `transport` receives the member's handle before the loop
    /// starts, so the transport never waits for one to be attached later.
    pub fn start_with<S: RaftLogStore, A: Applier>(
        config: RaftConfig,
        storage: S,
        applier: A,
        transport: impl FnOnce(&RaftHandle) -> Arc<dyn RaftTransport>,
    ) -> Result<(RaftHandle, JoinHandle<()>), RaftLogError> {
        config.validate()?;
        metrics::register();
        let mut store = storage;
        store.set_sync(config.sync_log);
        if store.is_empty() && !config.voters.is_empty() {
            bootstrap(&config, &mut store)?;
        }
        let mut applier = applier;
        let first = store.first_index()?;
        let last = store.last_index()?;
        // Saturating: the applied index is read back from the state machine's storage,
        // and a corrupt one must end in the errors below, not in an overflow.
        if applier.applied_index().saturating_add(1) < first {
            // The log store took a snapshot in but the process died before the applier
            // restored it: restore it now (the applier kept what it received).
            let term = store.term(first - 1)?;
            applier.restore(first - 1, term)?;
        }
        let restored = applier.applied_index();
        if restored > last && first == 1 {
            // Only a restored snapshot may put the applier ahead of the log; without one
            // the log was lost (or belongs to another member).
            return Err(RaftLogError::Corrupt(format!(
                "applied index {restored} is beyond the raft log's last index {last}"
            )));
        }
        if restored.saturating_add(1) < first {
            return Err(RaftLogError::Corrupt(format!(
                "raft log starts at {first}, past the applied index {restored}"
            )));
        }
        // A restored checkpoint may be newer than the log: raft resumes at the log's end
        // and the applier skips what it already has.
        let applied = restored.min(last);
        store.set_applied(applied, store.term(applied)?);
        let mut hs = store.hard_state();
        if applied > hs.commit {
            // The commit index is only remembered between hard states (`set_commit`); what
            // the applier wrote was committed.
            hs.commit = applied;
            store.set_hard_state(&hs)?;
        }
        let conf_state = store.initial_state()?.conf_state;
        let raft_config = config.to_raft(applied);
        raft_config.validate()?;
        let raw = RawNode::new(&raft_config, store, &raft_logger::logger(config.id))?;

        let (tx, rx) = mpsc::channel(config.mailbox_capacity);
        let initial = RaftStatus {
            id: config.id,
            applied_index: applied,
            commit_index: hs.commit,
            term: hs.term,
            voters: sorted(&conf_state.voters),
            learners: sorted(&conf_state.learners),
            ..RaftStatus::default()
        };
        let (status_tx, status_rx) = watch::channel(initial);
        let (fatal_tx, fatal_rx) = watch::channel(None);
        let handle = RaftHandle::new(config.id, tx, status_rx, fatal_rx, config.request_timeout);
        let transport = transport(&handle);
        let campaign = conf_state.voters == [config.id] && conf_state.learners.is_empty();
        let node = Node {
            id: config.id,
            reads: ReadWaiters::new(config.id, config.read_index_retry),
            raw,
            applier,
            transport,
            status_tx,
            fatal_tx,
            conf_waiters: HashMap::new(),
            // Never a number an earlier process of this member used: a conf change it
            // proposed may still be applied after this restart.
            next_conf_seq: crate::read_index::draw_incarnation() >> 1,
            members: Membership {
                voters: sorted(&conf_state.voters),
                learners: sorted(&conf_state.learners),
            },
            applied,
            compacted_at: applied,
            term_committed: 0,
            resend_reads: false,
            pending_campaign: campaign,
            pending_local: 0,
            proposals: Vec::new(),
            last_status: RaftStatus::default(),
            stop: false,
            config,
        };
        let thread = std::thread::Builder::new()
            .name(format!("raft-{}", node.id))
            .spawn(move || node.run(rx))
            .map_err(|e| RaftLogError::Thread(e.to_string()))?;
        Ok((handle, thread))
    }
}

impl RaftNode {
    /// Writes the first log of a NEW cluster into an empty `store`: one committed
    /// AddVoter entry per voter of `config` (indexes `1..=N`, term 1), as [`RaftNode::start`]
    /// does for a fresh data dir. A snapshot restore calls it to make a data dir whose
    /// state machine already applied those entries.
    pub fn bootstrap_log<S: RaftLogStore>(
        config: &RaftConfig,
        store: &mut S,
    ) -> Result<(), RaftLogError> {
        bootstrap(config, store)
    }
}

pub(crate) fn sorted(ids: &[u64]) -> Vec<u64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v
}

/// Writes the first state of a new cluster: one committed AddVoter entry per voter.
fn bootstrap<S: RaftLogStore>(config: &RaftConfig, store: &mut S) -> Result<(), RaftLogError> {
    let mut voters = config.voters.clone();
    voters.sort_unstable();
    voters.dedup();
    let mut entries = Vec::with_capacity(voters.len());
    for (i, &id) in voters.iter().enumerate() {
        let change = ConfChange {
            kind: ConfChangeKind::AddVoter,
            node_id: id,
            context: config.voter_contexts.get(&id).cloned().unwrap_or_default(),
        };
        entries.push(Entry {
            entry_type: EntryType::EntryConfChangeV2,
            term: 1,
            index: i as u64 + 1,
            data: change.to_raft().write_to_bytes()?.into(),
            ..Entry::default()
        });
    }
    let n = entries.len() as u64;
    let hs = HardState {
        term: 1,
        commit: n,
        ..HardState::default()
    };
    let cs = ConfState {
        voters,
        ..ConfState::default()
    };
    store.initialize(&entries, &hs, &cs, n)
}

/// Where the outcome of one proposal goes.
pub(crate) type ProposeReply = oneshot::Sender<Result<(), ProposeError>>;

/// A membership change proposed by this member, waiting to be applied here.
pub(crate) struct ConfWaiter {
    pub(crate) deadline: Instant,
    pub(crate) reply: oneshot::Sender<Result<Membership, ConfChangeError>>,
}

/// The state owned by the raft thread.
pub(crate) struct Node<S: RaftLogStore, A: Applier> {
    pub(crate) id: u64,
    pub(crate) config: RaftConfig,
    pub(crate) raw: RawNode<S>,
    pub(crate) applier: A,
    pub(crate) transport: Arc<dyn RaftTransport>,
    pub(crate) status_tx: watch::Sender<RaftStatus>,
    /// Where the loop reports the error it stopped on ([`RaftHandle::stopped`]).
    pub(crate) fatal_tx: watch::Sender<Option<String>>,
    pub(crate) reads: ReadWaiters,
    pub(crate) conf_waiters: HashMap<u64, ConfWaiter>,
    /// The next conf-change sequence number; starts at a random point per process.
    pub(crate) next_conf_seq: u64,
    /// The configuration as of the last applied conf change.
    pub(crate) members: Membership,
    /// The last index handed to the applier.
    pub(crate) applied: u64,
    /// `applied` at the last log compaction.
    pub(crate) compacted_at: u64,
    /// The last term in which an entry was applied (raft answers reads once the leader
    /// committed in its term).
    pub(crate) term_committed: u64,
    /// Resend pending reads at the next opportunity (first commit of a term).
    pub(crate) resend_reads: bool,
    /// Campaign once every committed conf change is applied (single voter).
    pub(crate) pending_campaign: bool,
    /// Local proposals handed to raft and not yet applied (the pending metric).
    pub(crate) pending_local: i64,
    /// Proposals drained this iteration, proposed together.
    pub(crate) proposals: Vec<(Vec<u8>, ProposeReply)>,
    pub(crate) last_status: RaftStatus,
    pub(crate) stop: bool,
}

impl<S: RaftLogStore, A: Applier> Node<S, A> {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(member = self.id, error = %e, "raft loop cannot start its timer");
                return;
            }
        };
        match self.run_loop(&rt, &mut rx) {
            // A clean stop makes everything applied durable, and the commit index
            // remembered since the last hard state, so the next start replays nothing.
            Ok(()) => match self.persist_on_stop() {
                Ok(()) => tracing::info!(
                    member = self.id,
                    applied = self.applied,
                    "state machine flushed"
                ),
                Err(e) => {
                    tracing::error!(member = self.id, error = %e, "flushing the state machine and the commit index failed")
                }
            },
            Err(e) => {
                tracing::error!(member = self.id, error = %e, "raft loop stopped on a fatal error");
                self.fatal_tx.send_replace(Some(e.to_string()));
            }
        }
        rx.close();
        tracing::info!(member = self.id, "raft loop stopped");
    }

    /// Flushes the state machine, then writes the hard state with the commit index
    /// remembered since the last one (synced).
    fn persist_on_stop(&mut self) -> Result<(), RaftLogError> {
        self.applier.persist()?;
        let hs = self.raw.store().hard_state();
        self.raw.mut_store().set_hard_state(&hs)
    }

    fn run_loop(
        &mut self,
        rt: &tokio::runtime::Runtime,
        rx: &mut mpsc::Receiver<Command>,
    ) -> Result<(), RaftLogError> {
        let tick = self.config.tick_interval;
        let mut next_tick = Instant::now() + tick;
        let mut last_tick = Instant::now();
        self.after_commands()?;
        while !self.stop {
            let wake = self
                .reads
                .next_wakeup()
                .map_or(next_tick, |r| r.min(next_tick));
            let first = rt.block_on(async {
                tokio::select! {
                    cmd = rx.recv() => Some(cmd),
                    _ = tokio::time::sleep_until(wake.into()) => None,
                }
            });
            match first {
                Some(Some(cmd)) => self.handle_command(cmd),
                Some(None) => break,
                None => {}
            }
            for _ in 0..MAX_DRAIN {
                match rx.try_recv() {
                    Ok(cmd) => self.handle_command(cmd),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        self.stop = true;
                        break;
                    }
                }
            }
            self.flush_proposals();
            let now = Instant::now();
            if now >= next_tick {
                self.warn_late_heartbeat(now.duration_since(last_tick), tick);
                last_tick = now;
                self.raw.tick();
                next_tick += tick;
                if next_tick <= now {
                    next_tick = now + tick;
                }
            }
            self.after_commands()?;
        }
        Ok(())
    }

    /// A leader whose loop ticks (and so heartbeats) more than two intervals after the
    /// previous tick warns as etcd does: followers may time out and elect another leader.
    fn warn_late_heartbeat(&self, since_last: Duration, interval: Duration) {
        let expected = interval * 2;
        if self.raw.raft.state == raft::StateRole::Leader && since_last > expected {
            metrics::HEARTBEAT_SEND_FAILURES.inc();
            tracing::warn!(
                member = self.id,
                "heartbeat-interval" = ?interval,
                "expected-duration" = ?expected,
                "exceeded-duration" = ?(since_last - expected),
                "leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk"
            );
        }
    }

    /// Everything that runs between command handling and the next wait: retries, Readies,
    /// deferred campaign, compaction.
    fn after_commands(&mut self) -> Result<(), RaftLogError> {
        loop {
            let force = std::mem::take(&mut self.resend_reads);
            self.reads.tick(&mut self.raw, Instant::now(), force);
            self.expire_conf_waiters();
            while self.raw.has_ready() {
                self.handle_ready()?;
            }
            self.publish();
            self.maybe_compact()?;
            if self.pending_campaign && self.applied >= self.raw.raft.raft_log.committed {
                self.pending_campaign = false;
                if let Err(e) = self.raw.campaign() {
                    tracing::warn!(member = self.id, error = %e, "initial campaign failed");
                }
                continue;
            }
            if !self.resend_reads {
                return Ok(());
            }
        }
    }

    fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::Propose { data, reply } => self.proposals.push((data, reply)),
            Command::Step { msg } => self.step(&msg),
            Command::StepBatch { msgs } => {
                for msg in &msgs {
                    self.step(msg);
                }
            }
            Command::ReadIndex {
                ctx,
                deadline,
                reply,
            } => {
                let leader = self.raw.raft.leader_id;
                self.reads.add(&mut self.raw, ctx, deadline, leader, reply);
            }
            Command::ConfChange {
                change,
                deadline,
                reply,
            } => self.propose_conf_change(change, deadline, reply),
            Command::TransferLeader { to } => self.raw.transfer_leader(to),
            Command::Campaign => {
                if let Err(e) = self.raw.campaign() {
                    tracing::warn!(member = self.id, error = %e, "campaign failed");
                }
            }
            Command::Unreachable { id } => self.raw.report_unreachable(id),
            Command::SnapshotStatus { id, ok } => {
                let status = if ok {
                    raft::SnapshotStatus::Finish
                } else {
                    raft::SnapshotStatus::Failure
                };
                self.raw.report_snapshot(id, status);
            }
            Command::Progress { reply } => {
                let _ = reply.send(self.progress());
            }
            Command::Shutdown => self.stop = true,
        }
    }

    fn step(&mut self, bytes: &[u8]) {
        let mut msg = Message::default();
        if let Err(e) = msg.merge_from_bytes(bytes) {
            tracing::warn!(member = self.id, error = %e, "dropping undecodable raft message");
            return;
        }
        if let Err(e) = self.raw.step(msg) {
            tracing::debug!(member = self.id, error = %e, "raft refused a peer message");
        }
    }

    /// Proposes every drained proposal as one `MsgPropose` (one Ready, one fsync).
    fn flush_proposals(&mut self) {
        if self.proposals.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.proposals);
        let context = proposal_context(self.id, None);
        let mut replies = Vec::with_capacity(batch.len());
        let mut entries = Vec::with_capacity(batch.len());
        for (data, reply) in batch {
            entries.push(Entry {
                data: data.into(),
                context: context.clone().into(),
                ..Entry::default()
            });
            replies.push(reply);
        }
        let mut msg = Message::default();
        msg.set_msg_type(MessageType::MsgPropose);
        msg.from = self.id;
        msg.set_entries(entries.into());
        let result = match self.raw.step(msg) {
            Ok(()) => {
                self.pending_local += replies.len() as i64;
                Ok(())
            }
            Err(e) => {
                tracing::debug!(member = self.id, error = %e, "proposals dropped");
                metrics::PROPOSALS_FAILED.inc_by(replies.len() as f64);
                if self.raw.raft.leader_id == 0 {
                    Err(ProposeError::NoLeader)
                } else {
                    Err(ProposeError::Dropped)
                }
            }
        };
        for reply in replies {
            let _ = reply.send(result.clone());
        }
        metrics::PROPOSALS_PENDING.set(self.pending_local.max(0) as f64);
    }

    fn propose_conf_change(
        &mut self,
        change: ConfChange,
        deadline: Instant,
        reply: oneshot::Sender<Result<Membership, ConfChangeError>>,
    ) {
        if change.node_id == 0 {
            let _ = reply.send(Err(ConfChangeError::Rejected(
                "node id must not be 0".into(),
            )));
            return;
        }
        if self.raw.raft.leader_id == 0 {
            let _ = reply.send(Err(ConfChangeError::NoLeader));
            return;
        }
        if self.raw.raft.leader_id == self.id && self.raw.raft.has_pending_conf() {
            let _ = reply.send(Err(ConfChangeError::InProgress));
            return;
        }
        let seq = self.next_conf_seq;
        self.next_conf_seq += 1;
        let context = proposal_context(self.id, Some(seq));
        match self.raw.propose_conf_change(context, change.to_raft()) {
            Ok(()) => {
                self.conf_waiters
                    .insert(seq, ConfWaiter { deadline, reply });
            }
            Err(e) => {
                tracing::debug!(member = self.id, error = %e, "conf change dropped");
                let err = if self.raw.raft.leader_id == 0 {
                    ConfChangeError::NoLeader
                } else {
                    ConfChangeError::Dropped
                };
                let _ = reply.send(Err(err));
            }
        }
    }

    fn expire_conf_waiters(&mut self) {
        if self.conf_waiters.is_empty() {
            return;
        }
        let now = Instant::now();
        let expired: Vec<u64> = self
            .conf_waiters
            .iter()
            .filter(|(_, w)| now >= w.deadline || w.reply.is_closed())
            .map(|(&seq, _)| seq)
            .collect();
        for seq in expired {
            if let Some(w) = self.conf_waiters.remove(&seq) {
                let _ = w.reply.send(Err(ConfChangeError::Timeout));
            }
        }
    }

    fn progress(&self) -> Vec<crate::status::PeerProgress> {
        let raft = &self.raw.raft;
        if raft.state != raft::StateRole::Leader {
            return Vec::new();
        }
        let mut out: Vec<_> = raft
            .prs()
            .iter()
            .map(|(&id, pr)| crate::status::PeerProgress {
                id,
                matched: pr.matched,
                is_learner: self.members.learners.contains(&id),
                recent_active: pr.recent_active || id == self.id,
            })
            .collect();
        out.sort_by_key(|p| p.id);
        out
    }

    /// Applier persisted state, then drops log entries it no longer needs, keeping
    /// `snapshot_catchup_entries` for slow followers.
    fn maybe_compact(&mut self) -> Result<(), RaftLogError> {
        if self.applied.saturating_sub(self.compacted_at) < self.config.snapshot_count {
            return Ok(());
        }
        let started = Instant::now();
        self.applier.persist()?;
        metrics::SNAP_FSYNC_SECONDS.observe(started.elapsed().as_secs_f64());
        let target = self
            .applied
            .saturating_sub(self.config.snapshot_catchup_entries);
        if target > self.raw.store().first_index()? {
            self.raw.mut_store().compact_to(target)?;
            tracing::info!(
                member = self.id,
                compact_index = target,
                "compacted the raft log"
            );
        }
        metrics::SNAP_SAVE_TOTAL_SECONDS.observe(started.elapsed().as_secs_f64());
        self.compacted_at = self.applied;
        Ok(())
    }
}
