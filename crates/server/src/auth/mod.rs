//! Auth as the server composes it: who a request runs as ([`Caller`]), the checks made on
//! the member that receives a request ([`AuthGate`]), and the per-request permission rules
//! shared by those checks and the apply path ([`access`]).
//!
//! The `oxcd-auth` crate owns users, roles, permissions, the auth revision and tokens; this
//! module decides WHERE each check runs, following etcd 3.4:
//! - Range, read-only Txn and Watch creation are checked on the receiving member, against
//!   its published auth state; a Range or read-only Txn re-checks the auth revision after
//!   the read (etcd's `doSerialize`).
//! - Put, DeleteRange, write Txns, LeaseRevoke and every auth-management request are
//!   checked at APPLY, on every member, against the user and auth revision the proposal
//!   carries: a permission revoked between admission and apply is never bypassed.
//! - Defragment, Hash, HashKV and Snapshot need an admin and answer the auth store's raw
//!   text with code Unknown; Alarm only refuses a bad token (same raw text); member changes
//!   need an admin (etcdserver texts).
//! - Compact and LeaseGrant refuse a bad token only; Status, MemberList, MoveLeader,
//!   KeepAlive and TimeToLive are not checked at all.
//!
//! # Invariants
//! - Every proposal names its [`Caller`]; [`Caller::System`] is only for requests the
//!   member makes itself (lease expiry, checkpoints, alarms it raises, attributes,
//!   auto-compaction), as etcd runs those as root.
//! - A token is resolved whenever a request carries one, even while auth is off (etcd
//!   3.4.23: a stale token after `auth disable` is "invalid auth token"; 3.4.28 ignores it).
//!   While auth is off, a resolved caller passes every check.

pub mod access;
mod caller;
mod gate;

pub use caller::Caller;
pub use gate::{client_cn, AuthGate};
