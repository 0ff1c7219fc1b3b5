//! [`AuthChange`]: one management operation decided against a copy of the current
//! [`AuthState`], with etcd's rules and error order, and staged into the caller's
//! `WriteBatch`. Nothing is visible until the store publishes the staged result.

use std::collections::BTreeSet;
use std::sync::Arc;

use oxcd_backend::WriteBatch;
use oxcd_proto::authpb::Permission;

use crate::error::AuthError;
use crate::record;
use crate::state::{AuthState, User, ROOT};

/// A change in progress: a private copy of the state and what it touched.
#[derive(Debug)]
pub struct AuthChange {
    state: AuthState,
    users: BTreeSet<String>,
    roles: BTreeSet<String>,
    enabled_changed: bool,
    bump: bool,
    logged_out: BTreeSet<String>,
}

/// A decided change, staged into a batch, to be published after the batch is written.
#[derive(Debug)]
pub struct StagedAuth {
    pub(crate) state: Arc<AuthState>,
    /// Users whose tokens are no longer valid (deleted, or a new password).
    pub logged_out: Vec<String>,
    /// Auth was turned off: every token is dropped.
    pub disabled: bool,
}

impl AuthChange {
    pub(crate) fn new(state: AuthState) -> Self {
        AuthChange {
            state,
            users: BTreeSet::new(),
            roles: BTreeSet::new(),
            enabled_changed: false,
            bump: false,
            logged_out: BTreeSet::new(),
        }
    }

    /// The state as this change leaves it so far.
    pub fn state(&self) -> &AuthState {
        &self.state
    }

    fn user_mut(&mut self, name: &str) -> Result<&mut User, AuthError> {
        self.state
            .users
            .get_mut(name)
            .ok_or(AuthError::UserNotFound)
    }

    fn touch_user(&mut self, name: &str) {
        self.users.insert(name.to_string());
        self.bump = true;
    }

    fn touch_role(&mut self, name: &str) {
        self.roles.insert(name.to_string());
        self.bump = true;
    }

    /// AuthEnable: needs a `root` user holding the `root` role. Enabling twice is a no-op.
    /// Does not bump the revision (as etcd).
    pub fn enable(&mut self) -> Result<(), AuthError> {
        if self.state.enabled {
            return Ok(());
        }
        let root = self
            .state
            .users
            .get(ROOT)
            .ok_or(AuthError::RootUserNotExist)?;
        if !root.roles.contains(ROOT) {
            return Err(AuthError::RootRoleNotExist);
        }
        self.state.enabled = true;
        self.enabled_changed = true;
        Ok(())
    }

    /// AuthDisable: turns auth off and bumps the revision. Disabling twice is a no-op.
    pub fn disable(&mut self) {
        if !self.state.enabled {
            return;
        }
        self.state.enabled = false;
        self.enabled_changed = true;
        self.bump = true;
    }

    /// UserAdd with an already-computed bcrypt hash (`None`: a `no_password` user).
    pub fn user_add(&mut self, name: &str, password_hash: Option<String>) -> Result<(), AuthError> {
        if name.is_empty() {
            return Err(AuthError::UserEmpty);
        }
        if self.state.users.contains_key(name) {
            return Err(AuthError::UserAlreadyExist);
        }
        let user = User {
            password_hash,
            roles: BTreeSet::new(),
        };
        self.state.users.insert(name.to_string(), user);
        self.touch_user(name);
        Ok(())
    }

    /// UserDelete; `root` cannot be deleted while auth is on. The user's tokens die.
    pub fn user_delete(&mut self, name: &str) -> Result<(), AuthError> {
        if self.state.enabled && name == ROOT {
            return Err(AuthError::InvalidAuthMgmt);
        }
        if self.state.users.remove(name).is_none() {
            return Err(AuthError::UserNotFound);
        }
        self.touch_user(name);
        self.logged_out.insert(name.to_string());
        Ok(())
    }

    /// UserChangePassword with an already-computed hash. The user's tokens die.
    pub fn user_change_password(&mut self, name: &str, hash: String) -> Result<(), AuthError> {
        let user = self.user_mut(name)?;
        // A `no_password` user stays one (etcd keeps the options): it still cannot log in.
        if user.password_hash.is_some() {
            user.password_hash = Some(hash);
        }
        self.touch_user(name);
        self.logged_out.insert(name.to_string());
        Ok(())
    }

    /// UserGrantRole. The `root` role need not exist as a role; granting a held role is a
    /// no-op that does not bump the revision.
    pub fn user_grant_role(&mut self, name: &str, role: &str) -> Result<(), AuthError> {
        let role_exists = role == ROOT || self.state.roles.contains_key(role);
        let user = self.user_mut(name)?;
        if !role_exists {
            return Err(AuthError::RoleNotFound);
        }
        if user.roles.insert(role.to_string()) {
            self.touch_user(name);
        }
        Ok(())
    }

    /// UserRevokeRole; `root` keeps the `root` role while auth is on.
    pub fn user_revoke_role(&mut self, name: &str, role: &str) -> Result<(), AuthError> {
        if self.state.enabled && name == ROOT && role == ROOT {
            return Err(AuthError::InvalidAuthMgmt);
        }
        let user = self.user_mut(name)?;
        if !user.roles.remove(role) {
            return Err(AuthError::RoleNotGranted);
        }
        self.touch_user(name);
        Ok(())
    }

    /// RoleAdd.
    pub fn role_add(&mut self, name: &str) -> Result<(), AuthError> {
        if name.is_empty() {
            return Err(AuthError::RoleEmpty);
        }
        if self.state.roles.contains_key(name) {
            return Err(AuthError::RoleAlreadyExist);
        }
        self.state.roles.insert(name.to_string(), Vec::new());
        self.touch_role(name);
        Ok(())
    }

    /// RoleDelete: also taken from every user holding it; `root` stays while auth is on.
    pub fn role_delete(&mut self, name: &str) -> Result<(), AuthError> {
        if self.state.enabled && name == ROOT {
            return Err(AuthError::InvalidAuthMgmt);
        }
        if self.state.roles.remove(name).is_none() {
            return Err(AuthError::RoleNotFound);
        }
        self.touch_role(name);
        let holders: Vec<String> = self
            .state
            .users
            .iter_mut()
            .filter_map(|(n, u)| u.roles.remove(name).then(|| n.clone()))
            .collect();
        for user in holders {
            self.touch_user(&user);
        }
        Ok(())
    }

    /// RoleGrantPermission: a permission on the same `[key, range_end)` changes its type;
    /// otherwise it is added, the list kept sorted by key.
    pub fn role_grant_permission(
        &mut self,
        name: &str,
        perm: Option<&Permission>,
    ) -> Result<(), AuthError> {
        let perm = perm.ok_or(AuthError::PermissionNotGiven)?;
        let perms = self
            .state
            .roles
            .get_mut(name)
            .ok_or(AuthError::RoleNotFound)?;
        match perms
            .iter_mut()
            .find(|p| p.key == perm.key && p.range_end == perm.range_end)
        {
            Some(existing) => existing.perm_type = perm.perm_type,
            None => {
                perms.push(perm.clone());
                perms.sort_by(|a, b| a.key.cmp(&b.key));
            }
        }
        self.touch_role(name);
        Ok(())
    }

    /// RoleRevokePermission of exactly `[key, range_end)`.
    pub fn role_revoke_permission(
        &mut self,
        name: &str,
        key: &[u8],
        range_end: &[u8],
    ) -> Result<(), AuthError> {
        let perms = self
            .state
            .roles
            .get_mut(name)
            .ok_or(AuthError::RoleNotFound)?;
        let idx = perms
            .iter()
            .position(|p| p.key == key && p.range_end == range_end)
            .ok_or(AuthError::PermissionNotGranted)?;
        perms.remove(idx);
        self.touch_role(name);
        Ok(())
    }

    /// Bumps the revision if anything changed, writes every touched record into `batch`
    /// and rebuilds the permission cache.
    pub fn stage(mut self, batch: &mut WriteBatch) -> StagedAuth {
        if self.bump {
            self.state.revision += 1;
            record::put_revision(batch, self.state.revision);
        }
        if self.enabled_changed {
            record::put_enabled(batch, self.state.enabled);
        }
        for name in &self.users {
            match self.state.users.get(name) {
                Some(u) => record::put_user(batch, name, u),
                None => record::delete_user(batch, name),
            }
        }
        for name in &self.roles {
            match self.state.roles.get(name) {
                Some(perms) => record::put_role(batch, name, perms),
                None => record::delete_role(batch, name),
            }
        }
        let disabled = self.enabled_changed && !self.state.enabled;
        self.state.rebuild_cache();
        StagedAuth {
            state: Arc::new(self.state),
            logged_out: self.logged_out.into_iter().collect(),
            disabled,
        }
    }
}
