//! [`AuthState`]: one immutable version of the auth store (users, roles, the enabled flag,
//! the revision) with its permission cache, and the rules every management operation
//! follows. The store publishes a new `AuthState` per change; readers hold an `Arc` to the
//! version they check against, so a check never sees half a change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use oxcd_proto::authpb::{permission::Type as PermType, Permission};

use crate::error::AuthError;
use crate::perm::{KeyRange, RangeSet};

/// The user (and role) that bypasses every permission check.
pub const ROOT: &str = "root";

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// bcrypt hash; `None` for a `no_password` user (certificate authentication only).
    pub password_hash: Option<String>,
    /// Granted role names, sorted.
    pub roles: BTreeSet<String>,
}

/// Which operations a permission check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Range, watch, compares, `prev_kv`.
    Read,
    /// Put, delete.
    Write,
}

/// What one user may read and write, built from their roles.
#[derive(Debug, Clone, Default)]
struct UserPerms {
    is_root: bool,
    read: RangeSet,
    write: RangeSet,
}

/// One version of the auth store.
#[derive(Debug, Clone, Default)]
pub struct AuthState {
    pub(crate) enabled: bool,
    pub(crate) revision: u64,
    pub(crate) users: BTreeMap<String, User>,
    /// Role name -> its permissions, sorted by key.
    pub(crate) roles: BTreeMap<String, Vec<Permission>>,
    /// Built by [`AuthState::rebuild_cache`] whenever users or roles change.
    cache: HashMap<String, Arc<UserPerms>>,
}

impl AuthState {
    /// Whether auth is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The auth revision: bumped by every change of users, roles or permissions.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// A user, if it exists.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// User names, sorted.
    pub fn user_names(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    /// Role names, sorted.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.keys().cloned().collect()
    }

    /// A role's permissions (`RoleNotFound` if it does not exist).
    pub fn role(&self, name: &str) -> Result<&[Permission], AuthError> {
        self.roles
            .get(name)
            .map(Vec::as_slice)
            .ok_or(AuthError::RoleNotFound)
    }

    /// etcd's `isOpPermitted`: may `user`, whose token was issued at auth revision
    /// `revision`, do `access` on `[key, range_end)`? Always yes while auth is off.
    /// `revision == 0` means no credentials (`UserEmpty`); a revision older than this
    /// state's is `AuthOldRevision`, so a permission revoked after the check that admitted
    /// a request is never bypassed at apply.
    pub fn check(
        &self,
        user: &str,
        revision: u64,
        key: &[u8],
        range_end: &[u8],
        access: Access,
    ) -> Result<(), AuthError> {
        let perms = match self.admit(user, revision)? {
            None => return Ok(()),
            Some(p) => p,
        };
        if perms.is_root {
            return Ok(());
        }
        let set = match access {
            Access::Read => &perms.read,
            Access::Write => &perms.write,
        };
        match KeyRange::from_etcd(key, range_end) {
            Some(range) if set.covers(&range) => Ok(()),
            _ => Err(AuthError::PermissionDenied),
        }
    }

    /// etcd's `IsAdminPermitted`: is `user` allowed root-only operations?
    pub fn check_admin(&self, user: &str, revision: u64) -> Result<(), AuthError> {
        match self.admit(user, revision)? {
            None => Ok(()),
            Some(p) if p.is_root => Ok(()),
            Some(_) => Err(AuthError::PermissionDenied),
        }
    }

    /// `None` while auth is off; otherwise the user's permissions or why they have none.
    fn admit(&self, user: &str, revision: u64) -> Result<Option<&UserPerms>, AuthError> {
        if !self.enabled {
            return Ok(None);
        }
        if revision == 0 || user.is_empty() {
            return Err(AuthError::UserEmpty);
        }
        if revision < self.revision {
            return Err(AuthError::AuthOldRevision);
        }
        match self.cache.get(user) {
            Some(p) => Ok(Some(p)),
            None => Err(AuthError::PermissionDenied),
        }
    }

    /// Recomputes every user's merged read and write ranges.
    pub(crate) fn rebuild_cache(&mut self) {
        let mut cache = HashMap::with_capacity(self.users.len());
        for (name, user) in &self.users {
            let mut read = Vec::new();
            let mut write = Vec::new();
            for role in &user.roles {
                for p in self.roles.get(role).into_iter().flatten() {
                    let Some(range) = KeyRange::from_etcd(&p.key, &p.range_end) else {
                        continue;
                    };
                    let t = PermType::try_from(p.perm_type).unwrap_or(PermType::Read);
                    if matches!(t, PermType::Read | PermType::Readwrite) {
                        read.push(range.clone());
                    }
                    if matches!(t, PermType::Write | PermType::Readwrite) {
                        write.push(range);
                    }
                }
            }
            let perms = UserPerms {
                is_root: user.roles.contains(ROOT),
                read: RangeSet::new(read),
                write: RangeSet::new(write),
            };
            cache.insert(name.clone(), Arc::new(perms));
        }
        self.cache = cache;
    }
}
