//! [`Lessor`]: the lease table, its persistence, and the leader's expiry and checkpoint
//! schedules.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_backend::{Backend, Column, WriteBatch};
use parking_lot::Mutex;

use crate::clock::{Clock, SystemClock};
use crate::config::{
    LessorConfig, EXPIRED_RETRY_INTERVAL, MIN_CHECKPOINT_INTERVAL, PROMOTE_EXPIRIES_PER_SECOND,
};
use crate::lease::{deadline, Lease, LeaseInfo, LeaseTtl};
use crate::record::{self, LeaseRecord};
use crate::spread::spread_expiries;
use crate::time_queue::TimeQueue;
use crate::{metrics, LeaseError};

/// The lessor of one member. Share it behind an `Arc`; every method takes `&self`.
///
/// See the crate docs for which methods belong to the apply loop (deterministic, persist
/// into the caller's batch) and which are leader-local (never persist anything).
pub struct Lessor {
    cfg: LessorConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    leases: HashMap<i64, Lease>,
    /// Whether this member is the primary lessor (the raft leader).
    primary: bool,
    /// Primary only: lease ids by expiry (or by retry time once returned by `expired`).
    expiry: TimeQueue,
    /// Primary only: lease ids by when their next checkpoint is due.
    checkpoints: TimeQueue,
}

impl fmt::Debug for Lessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Lessor")
            .field("cfg", &self.cfg)
            .field("leases", &st.leases.len())
            .field("primary", &st.primary)
            .finish_non_exhaustive()
    }
}

/// Reads every persisted lease. Attached keys start empty.
fn load(backend: &dyn Backend) -> Result<HashMap<i64, Lease>, LeaseError> {
    let mut leases = HashMap::new();
    for item in backend.scan(Column::Lease, &[], None, false)? {
        let (key, value) = item?;
        let rec = LeaseRecord::decode(&key, &value)?;
        leases.insert(rec.id, Lease::from_record(rec));
    }
    Ok(leases)
}

impl Lessor {
    /// Opens the lessor over the leases persisted in `backend` ([`Column::Lease`]), with
    /// the real clock. Restored leases do not tick until [`Lessor::promote`]; their keys
    /// are re-attached by the server with [`Lessor::attach`].
    pub fn open(backend: Arc<dyn Backend>, cfg: LessorConfig) -> Result<Lessor, LeaseError> {
        Self::open_with_clock(backend, cfg, Arc::new(SystemClock))
    }

    /// [`Lessor::open`] with a chosen clock (tests use [`crate::ManualClock`]).
    pub fn open_with_clock(
        backend: Arc<dyn Backend>,
        cfg: LessorConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Lessor, LeaseError> {
        metrics::register();
        let leases = load(backend.as_ref())?;
        tracing::info!(leases = leases.len(), "lessor opened");
        let state = State {
            leases,
            ..State::default()
        };
        Ok(Lessor {
            cfg,
            clock,
            state: Mutex::new(state),
        })
    }

    /// Replaces the lease table with the one persisted in `backend` (after the server
    /// installed a raft snapshot). Attached keys are dropped: the server re-attaches
    /// them from the recovered MVCC store. On the primary the reloaded leases tick from
    /// now with their checkpointed or full TTL (as a promote without extension).
    pub fn recover(&self, backend: &dyn Backend) -> Result<(), LeaseError> {
        let leases = load(backend)?;
        let mut st = self.state.lock();
        tracing::info!(leases = leases.len(), "lessor recovered from backend");
        st.leases = leases;
        st.expiry.clear();
        st.checkpoints.clear();
        if st.primary {
            self.start_ticking(&mut st, Duration::ZERO);
        }
        Ok(())
    }

    /// The configuration this lessor runs with.
    pub fn config(&self) -> &LessorConfig {
        &self.cfg
    }

    /// Whether this member is the primary lessor (between `promote` and `demote`).
    pub fn is_primary(&self) -> bool {
        self.state.lock().primary
    }

    // ----- apply loop: deterministic, persisted through the caller's batch -----

    /// Grants lease `id` (non-zero) for `ttl` seconds, staging the record into `batch`.
    ///
    /// Checks, in etcd's order: `id == 0` -> [`LeaseError::ZeroId`]; `ttl > max_ttl_secs`
    /// -> [`LeaseError::TtlTooLarge`]; an existing id -> [`LeaseError::AlreadyExists`].
    /// The TTL is then raised to `min_ttl_secs`. On the primary the lease starts ticking
    /// (expiry = now + ttl); elsewhere it does not expire until a promote.
    pub fn grant(
        &self,
        id: i64,
        ttl: i64,
        batch: &mut WriteBatch,
    ) -> Result<LeaseInfo, LeaseError> {
        if id == 0 {
            return Err(LeaseError::ZeroId);
        }
        if ttl > self.cfg.max_ttl_secs {
            return Err(LeaseError::TtlTooLarge);
        }
        let ttl = ttl.max(self.cfg.effective_min_ttl());
        let mut st = self.state.lock();
        if st.leases.contains_key(&id) {
            return Err(LeaseError::AlreadyExists);
        }
        let mut lease = Lease::from_record(LeaseRecord {
            id,
            ttl,
            remaining_ttl: 0,
        });
        batch.put(Column::Lease, record::key(id), lease.record().encode());
        metrics::GRANTED.inc();
        metrics::TTL.observe(ttl as f64);
        if st.primary {
            let now = self.clock.now();
            lease.expiry = deadline(now, ttl, Duration::ZERO);
            if let Some(at) = lease.expiry {
                st.expiry.set(id, at);
            }
            self.schedule_checkpoint(&mut st.checkpoints, &lease, now);
        }
        st.leases.insert(id, lease);
        Ok(LeaseInfo { id, ttl })
    }

    /// The keys attached to lease `id`, in ascending order, without changing anything: what
    /// a revoke must delete, decided before [`Lessor::revoke`] changes the table.
    /// Unknown id -> [`LeaseError::NotFound`].
    pub fn attached_keys(&self, id: i64) -> Result<Vec<Vec<u8>>, LeaseError> {
        let st = self.state.lock();
        let lease = st.leases.get(&id).ok_or(LeaseError::NotFound)?;
        Ok(lease.keys.iter().cloned().collect())
    }

    /// Revokes lease `id`, staging the delete of its record into `batch`, and returns its
    /// attached keys in ascending order: the server MUST delete them through MVCC in the
    /// same batch (one revision). Unknown id -> [`LeaseError::NotFound`].
    pub fn revoke(&self, id: i64, batch: &mut WriteBatch) -> Result<Vec<Vec<u8>>, LeaseError> {
        let mut st = self.state.lock();
        let lease = st.leases.remove(&id).ok_or(LeaseError::NotFound)?;
        st.expiry.remove(id);
        st.checkpoints.remove(id);
        batch.delete(Column::Lease, record::key(id).to_vec());
        metrics::REVOKED.inc();
        tracing::debug!(lease = id, keys = lease.keys.len(), "lease revoked");
        Ok(lease.keys.into_iter().collect())
    }

    /// Applies a LeaseCheckpoint entry on every member: records `remaining_ttl` (seconds;
    /// 0 or less clears it) for lease `id` and stages the updated record into `batch`.
    /// Returns whether the lease exists (a checkpoint of a revoked lease is a no-op).
    ///
    /// The recorded value is what the next [`Lessor::promote`] starts the lease from and
    /// what [`Lessor::time_to_live`] reports on non-primary members. It never changes the
    /// expiry of a ticking lease. On the primary, if the lease was renewed after the
    /// checkpoint was taken (it has more than `remaining_ttl + 1` s left), a corrective
    /// checkpoint is scheduled at once (leader-local bookkeeping only).
    pub fn apply_checkpoint(&self, id: i64, remaining_ttl: i64, batch: &mut WriteBatch) -> bool {
        let mut st = self.state.lock();
        let State {
            leases,
            primary,
            checkpoints,
            ..
        } = &mut *st;
        let Some(lease) = leases.get_mut(&id) else {
            return false;
        };
        lease.remaining_ttl = remaining_ttl.max(0);
        batch.put(Column::Lease, record::key(id), lease.record().encode());
        if *primary && self.checkpoints_enabled() && lease.remaining_ttl > 0 {
            let now = self.clock.now();
            if lease
                .remaining_secs(now)
                .is_some_and(|left| left > lease.remaining_ttl.saturating_add(1))
            {
                lease.checkpoint_dirty = true;
                checkpoints.set(id, now);
            }
        }
        true
    }

    // ----- key attachment (in memory) -----

    /// Whether lease `id` is granted.
    pub fn exists(&self, id: i64) -> bool {
        self.state.lock().leases.contains_key(&id)
    }

    /// Attaches `key` to lease `id` (idempotent). Unknown id -> [`LeaseError::NotFound`].
    pub fn attach(&self, id: i64, key: &[u8]) -> Result<(), LeaseError> {
        let mut st = self.state.lock();
        let lease = st.leases.get_mut(&id).ok_or(LeaseError::NotFound)?;
        lease.keys.insert(key.to_vec());
        Ok(())
    }

    /// Detaches `key` from lease `id` (idempotent). Unknown id -> [`LeaseError::NotFound`].
    pub fn detach(&self, id: i64, key: &[u8]) -> Result<(), LeaseError> {
        let mut st = self.state.lock();
        let lease = st.leases.get_mut(&id).ok_or(LeaseError::NotFound)?;
        lease.keys.remove(key);
        Ok(())
    }

    // ----- reads -----

    /// What `LeaseTimeToLive` reports for lease `id` (`None` if unknown; etcd then
    /// answers TTL -1). Keys are included only when `with_keys`.
    pub fn time_to_live(&self, id: i64, with_keys: bool) -> Option<LeaseTtl> {
        let st = self.state.lock();
        let lease = st.leases.get(&id)?;
        let ttl_remaining_secs = match st.primary {
            true => lease
                .remaining_whole_secs(self.clock.now())
                .unwrap_or_else(|| lease.restart_ttl()),
            false => lease.restart_ttl(),
        };
        Some(LeaseTtl {
            id,
            ttl_remaining_secs,
            granted_ttl: lease.ttl,
            keys: if with_keys {
                lease.keys.iter().cloned().collect()
            } else {
                Vec::new()
            },
        })
    }

    /// Every granted lease id, soonest expiry first (as etcd lists them); leases that do
    /// not tick here (not the primary) by remaining TTL, then by id.
    pub fn leases(&self) -> Vec<i64> {
        let st = self.state.lock();
        let mut ids: Vec<(Option<Instant>, i64, i64)> = st
            .leases
            .iter()
            .map(|(&id, l)| (l.expiry, l.restart_ttl(), id))
            .collect();
        // `None` (not ticking) sorts after every deadline.
        ids.sort_unstable_by_key(|&(expiry, ttl, id)| (expiry.is_none(), expiry, ttl, id));
        ids.into_iter().map(|(_, _, id)| id).collect()
    }

    // ----- leader-local: never touch persisted state -----

    /// Renews lease `id` on the primary: expiry = now + granted TTL, and any checkpointed
    /// remaining TTL is cleared in memory (a clearing checkpoint `(id, 0)` becomes due at
    /// once through [`Lessor::checkpoints_due`], so the other members forget it too).
    /// Returns the granted TTL.
    ///
    /// Errors: not the primary -> [`LeaseError::NotPrimary`]; unknown id ->
    /// [`LeaseError::NotFound`]; already expired (its revoke is pending) ->
    /// [`LeaseError::Expired`]; an expired lease is never revived.
    pub fn renew(&self, id: i64) -> Result<i64, LeaseError> {
        let mut st = self.state.lock();
        let State {
            leases,
            primary,
            expiry,
            checkpoints,
        } = &mut *st;
        if !*primary {
            return Err(LeaseError::NotPrimary);
        }
        let lease = leases.get_mut(&id).ok_or(LeaseError::NotFound)?;
        let now = self.clock.now();
        if lease.is_expired(now) {
            return Err(LeaseError::Expired);
        }
        lease.expiry = deadline(now, lease.ttl, Duration::ZERO);
        match lease.expiry {
            Some(at) => expiry.set(id, at),
            None => expiry.remove(id),
        }
        if lease.remaining_ttl > 0 {
            lease.remaining_ttl = 0;
            if self.checkpoints_enabled() {
                lease.checkpoint_dirty = true;
                checkpoints.set(id, now);
            }
        }
        metrics::RENEWED.inc();
        Ok(lease.ttl)
    }

    /// This member became the leader: every lease starts ticking with expiry =
    /// now + (checkpointed remaining TTL, or the granted TTL) + `extend` (etcd extends by
    /// the election timeout), then mass expiry is spread out (see [`crate::spread`]
    /// docs: at most [`crate::PROMOTE_EXPIRIES_PER_SECOND`] per one-second window), and
    /// long leases get their first checkpoint scheduled one interval from now.
    pub fn promote(&self, extend: Duration) {
        let mut st = self.state.lock();
        st.primary = true;
        st.expiry.clear();
        st.checkpoints.clear();
        self.start_ticking(&mut st, extend);
        tracing::info!(leases = st.leases.len(), ?extend, "lessor promoted");
    }

    /// This member stopped being the leader: nothing expires here any more and the
    /// expiry and checkpoint schedules are dropped.
    pub fn demote(&self) {
        let mut st = self.state.lock();
        st.primary = false;
        st.expiry.clear();
        st.checkpoints.clear();
        for lease in st.leases.values_mut() {
            lease.expiry = None;
            lease.checkpoint_dirty = false;
        }
        tracing::info!(leases = st.leases.len(), "lessor demoted");
    }

    /// On the primary: up to `limit` leases whose expiry has passed, earliest first. A
    /// lease returned here is not returned again for [`crate::EXPIRED_RETRY_INTERVAL`]
    /// (3 s), so a revoke that was lost is retried; once revoked it is gone. Empty on
    /// other members.
    pub fn expired(&self, limit: usize) -> Vec<i64> {
        let mut st = self.state.lock();
        if !st.primary || limit == 0 {
            return Vec::new();
        }
        let now = self.clock.now();
        let ids = st.expiry.due(now, limit);
        for &id in &ids {
            match now.checked_add(EXPIRED_RETRY_INTERVAL) {
                Some(retry) => st.expiry.set(id, retry),
                None => st.expiry.remove(id),
            }
        }
        ids
    }

    /// On the primary: up to `limit` (normally [`crate::CHECKPOINT_BATCH_LIMIT`])
    /// `(lease id, remaining TTL in seconds)` pairs to propose as one LeaseCheckpoint
    /// entry, oldest due first. Each lease whose granted TTL exceeds the checkpoint
    /// interval is due one interval after the promote, its grant, or its previous
    /// checkpoint; a renew that cleared a recorded remaining TTL makes the lease due at
    /// once with remaining TTL 0 ("cleared"). A lease with its full TTL left and nothing
    /// recorded is skipped (and rescheduled). Empty on other members or with
    /// checkpoints disabled.
    pub fn checkpoints_due(&self, limit: usize) -> Vec<(i64, i64)> {
        let mut st = self.state.lock();
        let State {
            leases,
            primary,
            checkpoints,
            ..
        } = &mut *st;
        if !*primary || limit == 0 || !self.checkpoints_enabled() {
            return Vec::new();
        }
        let now = self.clock.now();
        let mut out = Vec::new();
        // Every id handled below leaves the due range (rescheduled after `now`, or
        // removed), so this loop ends.
        loop {
            let due = checkpoints.due(now, limit - out.len());
            if due.is_empty() {
                break;
            }
            for id in due {
                let Some(lease) = leases.get_mut(&id) else {
                    checkpoints.remove(id);
                    continue;
                };
                let left = match lease.remaining_secs(now) {
                    Some(left) if left > 0 => left,
                    _ => {
                        // Expired (the revoker handles it) or not ticking.
                        checkpoints.remove(id);
                        continue;
                    }
                };
                let value = if left < lease.ttl {
                    Some(left)
                } else if lease.checkpoint_dirty || lease.remaining_ttl != 0 {
                    Some(0)
                } else {
                    None
                };
                lease.checkpoint_dirty = false;
                match self
                    .checkpoint_every(lease)
                    .and_then(|every| now.checked_add(every))
                {
                    Some(next) => checkpoints.set(id, next),
                    None => checkpoints.remove(id),
                }
                if let Some(value) = value {
                    out.push((id, value));
                }
            }
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    // ----- internals -----

    fn checkpoints_enabled(&self) -> bool {
        !self.cfg.checkpoint_interval.is_zero()
    }

    /// How often `lease` is checkpointed: a quarter of its TTL, clamped to
    /// [`MIN_CHECKPOINT_INTERVAL`, `checkpoint_interval`]; `None` when checkpoints are off
    /// or the lease is too short to outlive one interval.
    fn checkpoint_every(&self, lease: &Lease) -> Option<Duration> {
        if !self.checkpoints_enabled() {
            return None;
        }
        let ttl = Duration::from_secs(u64::try_from(lease.ttl).unwrap_or(0));
        let every = (ttl / 4)
            .max(MIN_CHECKPOINT_INTERVAL)
            .min(self.cfg.checkpoint_interval);
        (ttl > every).then_some(every)
    }

    fn schedule_checkpoint(&self, checkpoints: &mut TimeQueue, lease: &Lease, now: Instant) {
        if let Some(at) = self
            .checkpoint_every(lease)
            .and_then(|every| now.checked_add(every))
        {
            checkpoints.set(lease.id, at);
        }
    }

    /// Primary only, with both queues empty: sets every expiry from now and fills the
    /// queues.
    fn start_ticking(&self, st: &mut State, extend: Duration) {
        let now = self.clock.now();
        let State {
            leases,
            expiry,
            checkpoints,
            ..
        } = st;
        let mut plan: Vec<(Instant, i64)> = Vec::with_capacity(leases.len());
        for lease in leases.values_mut() {
            lease.checkpoint_dirty = false;
            lease.expiry = None;
            if let Some(at) = deadline(now, lease.restart_ttl(), extend) {
                plan.push((at, lease.id));
            }
            self.schedule_checkpoint(checkpoints, lease, now);
        }
        spread_expiries(
            &mut plan,
            PROMOTE_EXPIRIES_PER_SECOND,
            Duration::from_secs(1),
        );
        for (at, id) in plan {
            if let Some(lease) = leases.get_mut(&id) {
                lease.expiry = Some(at);
                expiry.set(id, at);
            }
        }
    }
}
