//! The state machine: applies committed raft entries to the stores, in log order.
//!
//! Every member applies every entry. For each entry the apply path runs the request against
//! a fresh MVCC write transaction, stages the result together with the applied index into
//! ONE backend write batch, writes it, publishes the new revision, and hands the result to
//! the waiter of the member that proposed it (if any).
//!
//! # Invariants
//! - The applied index is written in the same atomic batch as the data it covers, so an
//!   entry is applied exactly once even if the process dies between entries.
//! - Entries with `index <= applied` are skipped (raft re-delivers them after a restart).
//! - A request that fails (for example `ignore_value` on a missing key) writes nothing but
//!   the applied index.
//! - Decide, then change: a request's KV writes, its lease attachments and the applied
//!   index are staged first and changed together after the batch is written; a request
//!   that fails part-way changes nothing (a txn whose later op fails attaches no key).
//! - Write permissions and the NOSPACE and CORRUPT alarms are checked here,
//!   deterministically, on every member.
//!
//! # Layout
//! - [`kv`]: put, delete-range, range inside a write transaction.
//! - [`txn`]: compares and branches.
//! - [`alarm`]: the alarm table and Alarm entries.
//! - [`auth`]: the permission check every entry passes first (the user and auth revision
//!   its header carries), and the auth-management entries.
//! - [`compaction`]: the background thread that finishes physical compactions.
//! - [`leases`]: LeaseGrant, LeaseRevoke and LeaseCheckpoint entries, the lease lookups
//!   the KV path needs, and the attachments a request decides (applied to the lessor only
//!   after its batch is written).
//! - [`membership`]: conf changes and member attribute/URL updates.
//! - [`restore`]: replacing the whole state with a snapshot from the leader.

pub mod alarm;
pub mod auth;
pub mod compaction;
pub mod kv;
pub mod leases;
pub mod membership;
pub mod restore;
pub mod txn;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oxcd_auth::{AuthStore, TokenProvider};
use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_lease::Lessor;
use oxcd_mvcc::{Changes, KvStore};
use oxcd_proto::etcdserverpb::{
    request_op::Request, AlarmResponse, CompactionResponse, DeleteRangeResponse,
    LeaseGrantResponse, LeaseRevokeResponse, PutResponse, TxnRequest, TxnResponse,
};
use oxcd_proto::oxcdpb::{internal_request::Op, InternalRequest};
use oxcd_raftlog::{Applier, ApplyError, Committed, ConfChange, RaftStatus};
use prost::Message;
use tokio::sync::oneshot;

use self::alarm::AlarmStore;
use self::compaction::Compactor;
use self::leases::{LeaseEdits, LeaseIndex, LeaseMoves};
use crate::auth::Caller;
use crate::error::ServerError;
use crate::propose::wait::ProposalWaiters;

/// Meta key of the applied ("consistent") index.
pub const APPLIED_INDEX_KEY: &[u8] = b"consistent_index";

/// What applying one request produced, delivered to the proposer's waiter.
#[derive(Debug)]
pub enum ApplyResult {
    /// A put.
    Put(PutResponse),
    /// A delete-range.
    DeleteRange(DeleteRangeResponse),
    /// A txn.
    Txn(TxnResponse),
    /// A compaction; with `physical`, `done` resolves when the data is gone.
    Compaction(CompactionResponse, Option<oneshot::Receiver<()>>),
    /// An alarm change.
    Alarm(AlarmResponse),
    /// A lease grant.
    LeaseGrant(LeaseGrantResponse),
    /// A lease revoke (its keys were deleted in the same revision).
    LeaseRevoke(LeaseRevokeResponse),
    /// Lease checkpoints were recorded.
    LeaseCheckpoint,
    /// Membership changed; the members afterwards.
    Members(Vec<oxcd_proto::etcdserverpb::Member>),
    /// An auth-management entry.
    Auth(auth::AuthOutcome),
    /// The request failed.
    Error(ServerError),
}

/// Observes every published revision (the watch hub implements it).
pub trait ChangeObserver: Send + Sync {
    /// Called after the revision in `changes` became visible to readers.
    fn on_changes(&self, changes: &Changes);

    /// Called after a snapshot replaced the store; it is now at `revision`.
    fn on_restore(&self, _revision: i64) {}
}

/// Shared, read-mostly view of apply progress (for Status and waiting readers).
#[derive(Debug, Default)]
pub struct ApplyProgress {
    applied: AtomicU64,
}

impl ApplyProgress {
    /// The last applied raft index.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }
}

/// Reads the applied index persisted in `Meta`.
pub fn load_applied_index(backend: &dyn Backend) -> Result<u64, ServerError> {
    Ok(match backend.get(Column::Meta, APPLIED_INDEX_KEY)? {
        Some(v) if v.len() == 8 => u64::from_be_bytes(v.as_slice().try_into().unwrap_or_default()),
        Some(_) => return Err(ServerError::Internal("corrupt applied index".into())),
        None => 0,
    })
}

/// The stores the state machine writes to, shared with the front ends.
pub struct Stores {
    /// The state machine's backend.
    pub backend: Arc<dyn Backend>,
    /// The MVCC store.
    pub kv: Arc<KvStore>,
    /// The lessor.
    pub leases: Arc<Lessor>,
    /// Raised alarms.
    pub alarms: Arc<AlarmStore>,
    /// Membership.
    pub members: Arc<crate::members::Members>,
    /// Users, roles and permissions.
    pub auth: Arc<AuthStore>,
    /// Auth tokens (every member records the tokens Authenticate entries assign).
    pub tokens: Arc<dyn TokenProvider>,
}

/// The components the state machine writes to.
pub struct StateMachine {
    backend: Arc<dyn Backend>,
    kv: Arc<KvStore>,
    leases: Arc<Lessor>,
    alarms: Arc<AlarmStore>,
    members: Arc<crate::members::Members>,
    auth: Arc<AuthStore>,
    tokens: Arc<dyn TokenProvider>,
    waiters: Arc<ProposalWaiters>,
    compactor: Compactor,
    /// Where snapshots from the leader are staged (see [`restore`]).
    snapshot_root: std::path::PathBuf,
    /// Added to every lease's TTL when this member becomes leader (the election timeout).
    lease_extend: Duration,
    observer: Option<Arc<dyn ChangeObserver>>,
    progress: Arc<ApplyProgress>,
    applied: u64,
    /// Applies slower than this are logged and counted ([`crate::slow`]).
    warn_apply: Duration,
}

impl StateMachine {
    /// Builds the state machine over already-opened stores.
    pub fn new(
        stores: Stores,
        waiters: Arc<ProposalWaiters>,
        observer: Option<Arc<dyn ChangeObserver>>,
        progress: Arc<ApplyProgress>,
        lease_extend: Duration,
        snapshot_root: std::path::PathBuf,
    ) -> Result<Self, ServerError> {
        let Stores {
            backend,
            kv,
            leases,
            alarms,
            members,
            auth,
            tokens,
        } = stores;
        let applied = load_applied_index(backend.as_ref())?;
        progress.applied.store(applied, Ordering::Release);
        Ok(Self {
            compactor: Compactor::start(),
            backend,
            kv,
            leases,
            alarms,
            members,
            auth,
            tokens,
            snapshot_root,
            waiters,
            observer,
            progress,
            applied,
            lease_extend,
            warn_apply: crate::slow::DEFAULT_WARNING_APPLY_DURATION,
        })
    }

    /// Sets `--warning-apply-duration`.
    pub fn with_warning_apply_duration(mut self, limit: Duration) -> Self {
        self.warn_apply = limit;
        self
    }

    fn apply_one(&mut self, index: u64, data: &[u8]) -> Result<(), ApplyError> {
        let started = std::time::Instant::now();
        let kv = self.kv.clone();
        let mut batch = WriteBatch::new();
        let mut pending = Pending::None;
        let (id, mut result) = if data.is_empty() {
            (0, None)
        } else {
            match InternalRequest::decode(data) {
                Ok(req) => {
                    let id = req.header.as_ref().map_or(0, |h| h.id);
                    let ops = Ops {
                        kv: &kv,
                        lessor: &self.leases,
                        alarms: &self.alarms,
                        members: &self.members,
                        auth: &self.auth,
                        tokens: self.tokens.as_ref(),
                    };
                    let caller = Caller::from_header(req.header.as_ref());
                    let result = ops.dispatch(&caller, req.op, index, &mut batch, &mut pending);
                    (id, Some(result))
                }
                Err(e) => {
                    tracing::error!(index, error = %e, "undecodable raft entry skipped");
                    (0, None)
                }
            }
        };
        batch.put(Column::Meta, APPLIED_INDEX_KEY, index.to_be_bytes());
        fail::fail_point!("apply-before-write", |_| std::process::abort());
        let commit = std::time::Instant::now();
        self.backend
            .write(batch, false)
            .map_err(|e| ApplyError::new(format!("backend write: {e}")))?;
        crate::metrics::BACKEND_COMMIT_SECONDS.observe(commit.elapsed().as_secs_f64());
        match &result {
            Some(ApplyResult::Put(_)) => crate::metrics::count_write(1, 0, 0),
            Some(ApplyResult::DeleteRange(_)) => crate::metrics::count_write(0, 1, 0),
            Some(ApplyResult::Txn(_)) => crate::metrics::count_write(0, 0, 1),
            _ => {}
        }
        // `sleep(ms)` here widens the window between a write and its publication.
        fail::fail_point!("apply-after-write", |_| std::process::abort());
        self.applied = index;
        match pending {
            Pending::Kv(staged, moves) => {
                let changes = staged.publish();
                crate::metrics::count_put_bytes(&changes);
                moves.apply(self.leases.as_ref());
                if let Some(obs) = &self.observer {
                    obs.on_changes(&changes);
                }
            }
            Pending::Compaction(job) => {
                let done = self.compactor.submit(job);
                if let Some(ApplyResult::Compaction(_, wait @ Some(_))) = &mut result {
                    *wait = Some(done);
                }
            }
            Pending::Auth(staged) => auth::publish(&self.auth, self.tokens.as_ref(), staged),
            Pending::None => {}
        }
        self.progress.applied.store(index, Ordering::Release);
        let outcome = match &result {
            Some(ApplyResult::Error(e)) => e.to_string(),
            _ => String::new(),
        };
        if let (Some(result), true) = (result, id != 0) {
            self.waiters.trigger(id, result);
        }
        if data.is_empty() {
            // A leader's no-op entry: not a request.
            return Ok(());
        }
        crate::slow::warn_if_slow(
            started,
            self.warn_apply,
            "",
            || {
                InternalRequest::decode(data)
                    .ok()
                    .and_then(|r| r.op)
                    .map_or_else(String::new, |op| crate::slow::describe_op(&op))
            },
            || outcome,
        );
        Ok(())
    }
}

/// The stores one request is applied to.
struct Ops<'k> {
    kv: &'k KvStore,
    lessor: &'k Lessor,
    alarms: &'k AlarmStore,
    members: &'k crate::members::Members,
    auth: &'k AuthStore,
    tokens: &'k dyn TokenProvider,
}

impl<'k> Ops<'k> {
    /// Runs one request of `caller`'s, at raft `index`, staging its writes into `batch`;
    /// what must happen after the batch is written goes into `pending`. The permission
    /// check comes first, as etcd's auth applier wraps its quota applier.
    fn dispatch(
        &self,
        caller: &Caller,
        op: Option<Op>,
        index: u64,
        batch: &mut WriteBatch,
        pending: &mut Pending<'k>,
    ) -> ApplyResult {
        if self.alarms.has_corrupt() && refused_when_corrupt(op.as_ref()) {
            // etcd's corrupt applier is the outermost: it refuses before auth is checked.
            return ApplyResult::Error(ServerError::Corrupt);
        }
        if let Some(op) = &op {
            if let Err(e) = auth::authorize(&self.auth.current(), caller, op, self.lessor) {
                return ApplyResult::Error(e.into());
            }
        }
        let op = match op {
            Some(op) if auth::is_management(&op) => {
                return auth::manage(self.auth, self.tokens, op, index, batch, pending)
            }
            other => other,
        };
        let nospace = self.alarms.has_nospace();
        let leases: &dyn LeaseIndex = self.lessor;
        let mut edits = LeaseEdits::new(leases);
        match op {
            Some(Op::Put(p)) => {
                if nospace {
                    return ApplyResult::Error(ServerError::NoSpace);
                }
                let mut txn = self.kv.write();
                match kv::put(&mut txn, &mut edits, &p) {
                    Ok(resp) => {
                        *pending = Pending::Kv(txn.stage(batch), edits.into_moves());
                        ApplyResult::Put(resp)
                    }
                    Err(e) => ApplyResult::Error(e),
                }
            }
            Some(Op::DeleteRange(d)) => {
                let mut txn = self.kv.write();
                match kv::delete_range(&mut txn, &mut edits, &d) {
                    Ok(resp) => {
                        *pending = Pending::Kv(txn.stage(batch), edits.into_moves());
                        ApplyResult::DeleteRange(resp)
                    }
                    Err(e) => ApplyResult::Error(e),
                }
            }
            Some(Op::Txn(t)) => {
                if nospace && txn_has_put(&t) {
                    return ApplyResult::Error(ServerError::NoSpace);
                }
                let mut txn = self.kv.write();
                match txn::apply(&mut txn, &mut edits, &t) {
                    Ok(resp) => {
                        *pending = Pending::Kv(txn.stage(batch), edits.into_moves());
                        ApplyResult::Txn(resp)
                    }
                    Err(e) => ApplyResult::Error(e),
                }
            }
            Some(Op::Compaction(c)) => match self.kv.compact(c.revision, batch) {
                Ok(job) => {
                    *pending = Pending::Compaction(job);
                    let resp = CompactionResponse {
                        header: kv::rev_header(self.kv.current_revision()),
                    };
                    // With `physical`, the real completion receiver replaces this one once
                    // the job is submitted.
                    let wait = c.physical.then(|| oneshot::channel::<()>().1);
                    ApplyResult::Compaction(resp, wait)
                }
                Err(e) => ApplyResult::Error(e.into()),
            },
            Some(Op::Alarm(a)) => ApplyResult::Alarm(alarm::apply(self.alarms, self.kv, &a, batch)),
            Some(Op::LeaseGrant(g)) => {
                if nospace {
                    return ApplyResult::Error(ServerError::NoSpace);
                }
                leases::grant(self.lessor, self.kv, &g, batch)
            }
            Some(Op::LeaseRevoke(r)) => leases::revoke(self.lessor, self.kv, r.id, batch, pending),
            Some(Op::LeaseCheckpoint(c)) => leases::checkpoint(self.lessor, &c, batch),
            Some(Op::MemberAttributes(m)) => {
                ApplyResult::Members(membership::attributes(self.members, &m, batch))
            }
            Some(Op::MemberUpdate(u)) => match membership::update(self.members, &u, batch) {
                Ok(list) => ApplyResult::Members(list),
                Err(e) => ApplyResult::Error(e),
            },
            Some(other) => {
                tracing::warn!(?other, "request type not handled by this server version");
                ApplyResult::Error(ServerError::NotCapable)
            }
            None => ApplyResult::Error(ServerError::Internal("empty request".into())),
        }
    }
}

/// Work staged into the batch that completes after the batch is written.
enum Pending<'k> {
    None,
    /// A revision to publish, and the lease attachments it changes.
    Kv(oxcd_mvcc::Staged<'k>, LeaseMoves),
    Compaction(oxcd_mvcc::Compaction),
    /// An auth change, published after the batch is written.
    Auth(oxcd_auth::StagedAuth),
}

/// Whether a request fails while the CORRUPT alarm is raised: etcd's corrupt applier
/// refuses puts, deletes, txns (a read-only txn is served without raft and never gets here),
/// compactions, lease grants and lease revokes; everything else is applied.
fn refused_when_corrupt(op: Option<&Op>) -> bool {
    matches!(
        op,
        Some(
            Op::Put(_)
                | Op::DeleteRange(_)
                | Op::Txn(_)
                | Op::Compaction(_)
                | Op::LeaseGrant(_)
                | Op::LeaseRevoke(_)
        )
    )
}

fn txn_has_put(t: &TxnRequest) -> bool {
    t.success
        .iter()
        .chain(t.failure.iter())
        .any(|op| match &op.request {
            Some(Request::RequestPut(_)) => true,
            Some(Request::RequestTxn(n)) => txn_has_put(n),
            _ => false,
        })
}

impl Applier for StateMachine {
    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<(), ApplyError> {
        for e in entries {
            if e.index <= self.applied {
                continue;
            }
            self.apply_one(e.index, e.data)?;
        }
        Ok(())
    }

    fn applied_index(&self) -> u64 {
        self.applied
    }

    fn apply_conf_change(
        &mut self,
        index: u64,
        _term: u64,
        change: &ConfChange,
    ) -> Result<(), ApplyError> {
        if index <= self.applied {
            return Ok(());
        }
        let mut batch = WriteBatch::new();
        membership::conf_change(&self.members, change, &mut batch);
        batch.put(Column::Meta, APPLIED_INDEX_KEY, index.to_be_bytes());
        self.backend
            .write(batch, false)
            .map_err(|e| ApplyError::new(format!("backend write: {e}")))?;
        self.applied = index;
        self.progress.applied.store(index, Ordering::Release);
        Ok(())
    }

    fn on_role_change(&mut self, status: &RaftStatus) {
        if status.is_leader() {
            self.leases.promote(self.lease_extend);
        } else {
            self.leases.demote();
        }
    }

    fn persist(&mut self) -> Result<(), ApplyError> {
        self.backend
            .sync()
            .map_err(|e| ApplyError::new(format!("backend sync: {e}")))
    }

    fn restore(&mut self, index: u64, term: u64) -> Result<(), ApplyError> {
        crate::metrics::SNAPSHOT_APPLY_IN_PROGRESS.inc();
        let restored = self.restore_snapshot(index, term);
        crate::metrics::SNAPSHOT_APPLY_IN_PROGRESS.dec();
        restored.map_err(|e| ApplyError::new(format!("restore snapshot {index}@{term}: {e}")))
    }
}
