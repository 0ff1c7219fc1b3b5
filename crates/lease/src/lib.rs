//! Leases for oxcd: etcd's lessor (`lease/lessor.go` semantics, written anew).
//!
//! This crate owns the lease table: which leases exist, their granted TTLs and
//! checkpointed remaining TTLs (persisted in [`oxcd_backend::Column::Lease`]), the keys
//! attached to each (in memory), and, on the leader, when each lease expires and when
//! its next checkpoint is due. It never touches MVCC: [`Lessor::revoke`] returns the
//! attached keys and the server deletes them in the same batch and revision.
//!
//! # Layout
//! - [`lessor`]: [`Lessor`], the table and every operation on it.
//! - [`lease`]: [`LeaseInfo`] (a grant's result) and [`LeaseTtl`] (TimeToLive's).
//! - [`config`]: [`LessorConfig`] and etcd's derived constants ([`MAX_LEASE_TTL_SECS`],
//!   [`LEASE_REVOKE_RATE`], [`MAX_PENDING_REVOKES`], [`EXPIRED_RETRY_INTERVAL`],
//!   [`CHECKPOINT_BATCH_LIMIT`], [`PROMOTE_EXPIRIES_PER_SECOND`], ...).
//! - [`clock`]: [`Clock`], [`SystemClock`] and the test [`ManualClock`].
//! - [`spread`]: how a promote spreads leases that would all expire at once.
//! - [`metrics`]: etcd's lease metrics; [`metrics::record_expired`] for the server.
//! - [`error`]: [`LeaseError`], the crate's one error type.
//! - [`record`]: the 25-byte persisted record (id, TTL, remaining TTL); public for the
//!   snapshot export and restore, which translate it to and from etcd's `leasepb.Lease`.
//! - `time_queue` (private): ids ordered by a due instant (expiry, checkpoints).
//!
//! # Invariants
//! - [`Lessor::grant`], [`Lessor::revoke`] and [`Lessor::apply_checkpoint`] are called
//!   ONLY from the apply loop, in log order, on every member, and MUST be deterministic:
//!   their result and what they stage into the caller's `WriteBatch` depend only on
//!   their arguments and earlier applied entries. They NEVER read the clock to decide an
//!   outcome (on the primary they read it only to start a lease ticking). The caller
//!   writes the batch atomically with its applied index.
//! - [`Lessor::attach`] / [`Lessor::detach`] follow MVCC writes in the apply loop (and
//!   the server's recovery); attached keys are NOT persisted by the lessor.
//! - [`Lessor::renew`], [`Lessor::expired`], [`Lessor::checkpoints_due`],
//!   [`Lessor::promote`] and [`Lessor::demote`] are leader-local: they NEVER change
//!   persisted state. What must reach every member (a revoke, a checkpoint) goes
//!   through raft as a LeaseRevoke / LeaseCheckpoint entry that the server proposes.
//! - Only the primary (between `promote` and `demote`) has expiries. A member that is
//!   not primary, including one just opened, never expires a lease.
//! - A lease whose expiry has passed is never revived: `renew` refuses it
//!   ([`LeaseError::Expired`]) and `expired` keeps returning it (every
//!   [`EXPIRED_RETRY_INTERVAL`]) until it is revoked or this member is demoted.
//! - Granted TTLs lie in `[max(min_ttl_secs, 1), max_ttl_secs]`.
//!
//! # Remaining TTL across leader changes (etcd issue #9888)
//! Without checkpoints a new leader restarts every lease at its full TTL, so frequent
//! elections keep leases alive forever. oxcd keeps checkpoints on:
//! 1. The leader's server polls [`Lessor::checkpoints_due`] and proposes the pairs as
//!    one LeaseCheckpoint entry. Every lease whose granted TTL exceeds
//!    `checkpoint_interval` (5 min) is due one interval after its grant, after the
//!    promote, and after each checkpoint taken; the value is its remaining TTL rounded up.
//! 2. Every member applies the entry with [`Lessor::apply_checkpoint`], which records
//!    the remaining TTL in memory and in the lease's persisted record (same batch as
//!    the applied index), so it also survives restarts.
//! 3. A member that becomes leader calls [`Lessor::promote`]: each lease expires at
//!    now + recorded remaining TTL (or the full TTL if none) + the election timeout.
//!    So a leader change extends a lease by at most the time since its last checkpoint
//!    plus the election timeout, not by up to its whole TTL. Followers report the
//!    recorded value from [`Lessor::time_to_live`].
//! 4. A renew makes the lease's full TTL current again: the leader clears the recorded
//!    value in memory and makes a clearing checkpoint `(id, 0)` due at once, so the
//!    other members stop holding the shorter value (otherwise a renewed lease could
//!    expire early after the next election). If a checkpoint taken before a renew is
//!    applied after it, the leader notices (more than 1 s of difference) and proposes a
//!    corrective checkpoint. If leadership is lost before a proposed checkpoint
//!    commits, the older recorded value stays, which only shortens the lease towards
//!    what it was at that older checkpoint plus the new leader's extension.
//! 5. Leases shorter than the interval are never checkpointed (as in etcd): after
//!    elections they restart from their full TTL.
//!
//! # What the server wires up
//! - Apply: LeaseGrant -> `grant` (the server picks the random non-zero id before
//!   proposing), LeaseRevoke -> `revoke` + MVCC deletes of the returned keys in the same
//!   revision, LeaseCheckpoint -> `apply_checkpoint` per pair; put/delete -> `attach` /
//!   `detach`; after recovery, `attach` every live key that carries a lease.
//! - Role changes: `promote(election_timeout)` on becoming leader, `demote()` on losing
//!   it.
//! - Leader loops: every 500 ms `expired(LEASE_REVOKE_RATE / 2)` -> propose LeaseRevoke
//!   (at most [`MAX_PENDING_REVOKES`] in flight) and [`metrics::record_expired`];
//!   periodically `checkpoints_due(CHECKPOINT_BATCH_LIMIT)` -> propose LeaseCheckpoint.

pub mod clock;
pub mod config;
pub mod error;
pub mod lease;
pub mod lessor;
pub mod metrics;
pub mod record;
pub mod spread;
mod time_queue;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    LessorConfig, CHECKPOINT_BATCH_LIMIT, DEFAULT_CHECKPOINT_INTERVAL, EXPIRED_RETRY_INTERVAL,
    LEASE_REVOKE_RATE, MAX_LEASE_TTL_SECS, MAX_PENDING_REVOKES, PROMOTE_EXPIRIES_PER_SECOND,
};
pub use error::LeaseError;
pub use lease::{LeaseInfo, LeaseTtl};
pub use lessor::Lessor;
