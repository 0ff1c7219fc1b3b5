//! Auth for oxcd: etcd's auth store (`auth/store.go` semantics, written anew).
//!
//! This crate owns users (bcrypt password hashes, or none for `no_password` users), roles
//! with READ / WRITE / READWRITE permissions on a key, a range, a prefix or from a key,
//! the `root` rules, the enabled flag and the auth revision, all persisted in
//! [`oxcd_backend::Column::Auth`]; and the permission checker that answers "may user U
//! read/write `[key, range_end)`" from merged intervals built once per auth revision.
//! It also issues and resolves auth tokens ([`token`]). Like mvcc and lease it never calls
//! other crates: the server composes it (when tokens are prepared, assigned and resolved,
//! gRPC status mapping and where each check runs are the server's).
//!
//! # Layout
//! - [`store`]: [`AuthStore`], the published state, password hashing and checking.
//! - [`change`]: [`AuthChange`], one management operation with etcd's rules and error
//!   order, staged into a `WriteBatch`; [`StagedAuth`], published after the write.
//! - [`state`]: [`AuthState`], one immutable version with its permission cache;
//!   [`Access`], [`ROOT`].
//! - [`perm`]: [`KeyRange`] and [`RangeSet`], intervals and their union.
//! - [`token`]: [`TokenProvider`], what Authenticate issues and requests present:
//!   [`SimpleTokens`] (`simple.rs`), [`JwtTokens`] (`jwt.rs`, keys read in `keys.rs`),
//!   [`NopTokens`] (`nop.rs`); [`TokenSpec`] and [`token_provider`] (`spec.rs`), from
//!   etcd's `--auth-token` and `--auth-token-ttl`.
//! - [`error`]: [`AuthError`], with etcd's `auth:` texts.
//! - [`record`]: the persisted encoding (`authpb.User`, `authpb.Role`); its keys and raw
//!   record writers are public for the snapshot export and restore.
//!
//! # Invariants
//! - Changes are decided ONLY in the apply loop, in log order, on every member, and are
//!   DETERMINISTIC: passwords arrive already hashed, so applying an entry never depends
//!   on anything but the entry and earlier entries.
//! - A change is staged into the caller's batch (the same batch as the applied index) and
//!   published ([`AuthStore::publish`]) ONLY after that batch is written: a reader sees
//!   the whole change or none of it, and a crash never leaves it half applied.
//! - A new store is at revision 1. Every change of users, roles or permissions, and
//!   AuthDisable, bumps the revision by one; AuthEnable and granting a held role do not,
//!   as in etcd.
//! - While auth is on, `root` cannot be deleted or lose the `root` role, and the `root`
//!   role cannot be deleted. A user holding the `root` role passes every check.
//! - A check against credentials older than the published revision fails with
//!   [`AuthError::AuthOldRevision`]; no credentials fail with [`AuthError::UserEmpty`].
//! - A token is assigned at apply, on every member, from the entry alone: the random part
//!   of a simple token is chosen before proposing ([`TokenProvider::prepare`]) and its
//!   index is the entry's, so every member remembers the same token. (A JWT's `exp` reads
//!   each member's clock; only the proposer's token reaches the client.)

pub mod change;
pub mod error;
pub mod perm;
pub mod record;
pub mod state;
pub mod store;
pub mod token;

pub use change::{AuthChange, StagedAuth};
pub use error::AuthError;
pub use perm::{KeyRange, RangeSet};
pub use state::{Access, AuthState, ROOT};
pub use store::{AuthStore, BCRYPT_COST_RANGE, DEFAULT_BCRYPT_COST};
pub use token::{
    token_provider, JwtOptions, JwtTokens, NopTokens, SimpleTokens, TokenInfo, TokenProvider,
    TokenSpec,
};
