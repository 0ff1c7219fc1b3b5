//! [`AuthStore`]: the published [`AuthState`], password hashing and checking, and the
//! begin / stage / publish cycle the apply loop drives.

use std::sync::Arc;

use oxcd_backend::Backend;
use parking_lot::RwLock;

use crate::change::{AuthChange, StagedAuth};
use crate::error::AuthError;
use crate::record;
use crate::state::AuthState;

/// etcd's default `--bcrypt-cost` (Go's `bcrypt.DefaultCost`).
pub const DEFAULT_BCRYPT_COST: u32 = 10;
/// The lowest and highest costs bcrypt accepts (etcd refuses others at startup).
pub const BCRYPT_COST_RANGE: std::ops::RangeInclusive<u32> = 4..=31;

/// The auth store of one member.
#[derive(Debug)]
pub struct AuthStore {
    current: RwLock<Arc<AuthState>>,
    bcrypt_cost: u32,
}

impl AuthStore {
    /// Loads the store persisted in `backend` (empty and disabled on a new member).
    /// `bcrypt_cost` must lie in [`BCRYPT_COST_RANGE`].
    pub fn open(backend: &dyn Backend, bcrypt_cost: u32) -> Result<AuthStore, AuthError> {
        if !BCRYPT_COST_RANGE.contains(&bcrypt_cost) {
            return Err(AuthError::Hash(format!(
                "bcrypt cost {bcrypt_cost} outside {BCRYPT_COST_RANGE:?}"
            )));
        }
        Ok(AuthStore {
            current: RwLock::new(Arc::new(record::load(backend)?)),
            bcrypt_cost,
        })
    }

    /// Re-reads the persisted state (after a snapshot replaced the backend's contents).
    pub fn reload(&self, backend: &dyn Backend) -> Result<(), AuthError> {
        *self.current.write() = Arc::new(record::load(backend)?);
        Ok(())
    }

    /// The published state: what permission checks use. Cheap (one `Arc` clone).
    pub fn current(&self) -> Arc<AuthState> {
        self.current.read().clone()
    }

    /// Whether auth is on.
    pub fn enabled(&self) -> bool {
        self.current.read().enabled()
    }

    /// The current auth revision.
    pub fn revision(&self) -> u64 {
        self.current.read().revision()
    }

    /// Hashes a password with the configured cost (done by the member that receives
    /// UserAdd or UserChangePassword, so the raft log never holds a plain password).
    pub fn hash_password(&self, password: &str) -> Result<String, AuthError> {
        bcrypt::hash(password, self.bcrypt_cost).map_err(|e| AuthError::Hash(e.to_string()))
    }

    /// etcd's `CheckPassword`, run before an Authenticate is proposed: the auth revision
    /// the check saw, or `AuthNotEnabled` / `AuthFailed` / `NoPasswordUser`.
    pub fn check_password(&self, name: &str, password: &str) -> Result<u64, AuthError> {
        let state = self.current();
        if !state.enabled() {
            return Err(AuthError::AuthNotEnabled);
        }
        let user = state.user(name).ok_or(AuthError::AuthFailed)?;
        let hash = user
            .password_hash
            .as_deref()
            .ok_or(AuthError::NoPasswordUser)?;
        match bcrypt::verify(password, hash) {
            Ok(true) => Ok(state.revision()),
            Ok(false) | Err(_) => Err(AuthError::AuthFailed),
        }
    }

    /// Starts a change against a copy of the current state. Apply-loop only: changes are
    /// decided in log order, one at a time.
    pub fn begin(&self) -> AuthChange {
        AuthChange::new(AuthState::clone(&self.current()))
    }

    /// Makes a staged change visible. Call ONLY after the batch it was staged into is
    /// written. Returns what the token layer must forget.
    pub fn publish(&self, staged: StagedAuth) -> (Vec<String>, bool) {
        *self.current.write() = staged.state;
        (staged.logged_out, staged.disabled)
    }
}
