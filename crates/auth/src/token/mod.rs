//! Auth tokens: what Authenticate hands a client and every later request presents (etcd's
//! `TokenProvider`, `auth/simple_token.go` and `auth/jwt.go` semantics, written anew).
//!
//! - [`SimpleTokens`] (`--auth-token=simple`, etcd's default): `<16 random letters>.<raft
//!   index>`, remembered in memory on every member with a sliding TTL. Not signed: a token
//!   is only as good as the member's memory of it, and dies with a restart.
//! - [`JwtTokens`] (`--auth-token=jwt,...`): a signed JWT carrying the user and the auth
//!   revision; any member holding the key verifies it, nothing is remembered.
//! - [`NopTokens`] (`--auth-token=` empty): no token is ever issued or accepted.
//!
//! [`token_provider`] builds one from etcd's `--auth-token` and `--auth-token-ttl`.
//!
//! # The Authenticate flow
//! The member that receives an Authenticate checks the password, calls
//! [`TokenProvider::prepare`] and proposes the entry with what it returned. Every member
//! applies the entry in log order and calls [`TokenProvider::assign`] with the same inputs;
//! the proposer returns the token to the client. A later request's token is resolved with
//! [`TokenProvider::info`] (after waiting, for a simple token, until this member has applied
//! [`TokenProvider::required_index`], as etcd's `indexWaiter` does).

mod jwt;
mod keys;
mod nop;
mod simple;
mod spec;

pub use jsonwebtoken::Algorithm;
pub use jwt::{JwtTokens, DEFAULT_JWT_TTL};
pub use nop::NopTokens;
pub use simple::{SimpleTokens, DEFAULT_SIMPLE_TTL, SIMPLE_TOKEN_LETTERS};
pub use spec::{parse_go_duration, token_provider, JwtOptions, TokenSpec};

use crate::error::AuthError;

/// Who a token names, and the auth revision to check the request against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The user the token was issued to.
    pub user: String,
    /// The auth revision permission checks compare against: the store's current one for
    /// a simple token, the one carried in the claims for a JWT.
    pub revision: u64,
}

/// Issues and resolves auth tokens (etcd's TokenProvider). Implementations:
/// [`SimpleTokens`], [`JwtTokens`], [`NopTokens`].
pub trait TokenProvider: Send + Sync + std::fmt::Debug {
    /// Called on the member that receives an Authenticate, BEFORE proposing it: the random
    /// part the proposal carries (simple: 16 random ASCII letters a-zA-Z as etcd; JWT: empty
    /// string).
    fn prepare(&self) -> String;

    /// Called at APPLY of an Authenticate entry on EVERY member (log order, deterministic
    /// inputs): `prepared` is what [`prepare`](Self::prepare) returned on the proposer,
    /// `index` the raft index of the entry, `revision` the auth revision at apply. Returns
    /// the token the client gets.
    ///
    /// simple: token = `prepared + "." + index`, remembered for `user` with a fresh TTL.
    /// jwt: a signed JWT with claims `{"username": user, "revision": revision, "exp":
    /// now+ttl}`.
    fn assign(
        &self,
        user: &str,
        revision: u64,
        prepared: &str,
        index: u64,
    ) -> Result<String, AuthError>;

    /// Resolves a token a client presented. `current_revision` is the store's current
    /// auth revision.
    ///
    /// simple: `TokenInfo { user, revision: current_revision }` if known and not expired
    /// (each successful call slides the TTL, as etcd's `resetSimpleToken` does);
    /// jwt: verify signature + exp; `TokenInfo { user, revision from the claim }`.
    /// Unknown, expired, forged or malformed -> `Err(AuthError::InvalidAuthToken)`.
    fn info(&self, token: &str, current_revision: u64) -> Result<TokenInfo, AuthError>;

    /// The user was deleted or changed password: its simple tokens die (no-op for jwt, as
    /// etcd).
    fn invalidate_user(&self, user: &str);

    /// Auth was disabled: every simple token dies (no-op for jwt).
    fn invalidate_all(&self);

    /// The raft index this member must have applied before [`info`](Self::info) can know
    /// `token`: a simple token is remembered only once its Authenticate entry is applied
    /// here, so etcd waits for that index (the part after the dot) before resolving it.
    /// `None` when there is nothing to wait for (JWT, or a malformed simple token, which
    /// `info` refuses at once).
    fn required_index(&self, _token: &str) -> Option<u64> {
        None
    }
}
