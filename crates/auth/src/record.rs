//! The persisted form in [`Column::Auth`]: `enabled` (one byte), `revision` (u64 big
//! endian), `user/<name>` (an encoded `authpb.User`, as etcd's `authUsers` bucket) and
//! `role/<name>` (an encoded `authpb.Role`, as etcd's `authRoles` bucket).

use std::collections::BTreeSet;

use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_proto::authpb::{self, Permission, UserAddOptions};
use prost::Message;

use crate::error::AuthError;
use crate::state::{AuthState, User};

/// Key of the enabled flag (one byte, 1 = enabled).
pub const ENABLED: &[u8] = b"enabled";
/// Key of the auth revision (u64 big-endian).
pub const REVISION: &[u8] = b"revision";
/// Key prefix of a user (followed by the name; the value is an encoded `authpb.User`).
pub const USER: &str = "user/";
/// Key prefix of a role (followed by the name; the value is an encoded `authpb.Role`).
pub const ROLE: &str = "role/";

/// Stages the enabled flag.
pub fn put_enabled(batch: &mut WriteBatch, enabled: bool) {
    batch.put(Column::Auth, ENABLED, [u8::from(enabled)]);
}

/// Stages the auth revision.
pub fn put_revision(batch: &mut WriteBatch, revision: u64) {
    batch.put(Column::Auth, REVISION, revision.to_be_bytes());
}

pub(crate) fn put_user(batch: &mut WriteBatch, name: &str, user: &User) {
    let rec = authpb::User {
        name: name.as_bytes().to_vec(),
        password: user.password_hash.clone().unwrap_or_default().into_bytes(),
        roles: user.roles.iter().cloned().collect(),
        options: Some(UserAddOptions {
            no_password: user.password_hash.is_none(),
        }),
    };
    batch.put(Column::Auth, format!("{USER}{name}"), rec.encode_to_vec());
}

/// Stages a user exactly as `rec` has it (a snapshot restore). The record is checked
/// when the store opens.
pub fn put_user_record(batch: &mut WriteBatch, name: &str, rec: &authpb::User) {
    batch.put(Column::Auth, format!("{USER}{name}"), rec.encode_to_vec());
}

/// Stages a role exactly as `rec` has it (a snapshot restore).
pub fn put_role_record(batch: &mut WriteBatch, name: &str, rec: &authpb::Role) {
    batch.put(Column::Auth, format!("{ROLE}{name}"), rec.encode_to_vec());
}

pub(crate) fn delete_user(batch: &mut WriteBatch, name: &str) {
    batch.delete(Column::Auth, format!("{USER}{name}"));
}

pub(crate) fn put_role(batch: &mut WriteBatch, name: &str, perms: &[Permission]) {
    let rec = authpb::Role {
        name: name.as_bytes().to_vec(),
        key_permission: perms.to_vec(),
    };
    batch.put(Column::Auth, format!("{ROLE}{name}"), rec.encode_to_vec());
}

pub(crate) fn delete_role(batch: &mut WriteBatch, name: &str) {
    batch.delete(Column::Auth, format!("{ROLE}{name}"));
}

fn corrupt(key: &[u8], reason: impl ToString) -> AuthError {
    AuthError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    }
}

/// Reads the whole auth column back into a state (with its permission cache).
pub(crate) fn load(backend: &dyn Backend) -> Result<AuthState, AuthError> {
    // A new store is at revision 1, as etcd's (0 means "no credentials" in checks).
    let mut state = AuthState::default();
    state.revision = 1;
    for item in backend.scan(Column::Auth, b"", None, false)? {
        let (key, value) = item?;
        if &*key == ENABLED {
            state.enabled = value.first().copied() == Some(1);
        } else if &*key == REVISION {
            let bytes: [u8; 8] = (*value)
                .try_into()
                .map_err(|_| corrupt(&key, "not 8 bytes"))?;
            state.revision = u64::from_be_bytes(bytes);
        } else if let Some(name) = key.strip_prefix(USER.as_bytes()) {
            let rec = authpb::User::decode(&*value).map_err(|e| corrupt(&key, e))?;
            let no_password = rec.options.is_some_and(|o| o.no_password);
            let hash = String::from_utf8(rec.password).map_err(|e| corrupt(&key, e))?;
            let user = User {
                password_hash: (!no_password).then_some(hash),
                roles: rec.roles.into_iter().collect::<BTreeSet<_>>(),
            };
            state
                .users
                .insert(String::from_utf8_lossy(name).into_owned(), user);
        } else if let Some(name) = key.strip_prefix(ROLE.as_bytes()) {
            let rec = authpb::Role::decode(&*value).map_err(|e| corrupt(&key, e))?;
            state.roles.insert(
                String::from_utf8_lossy(name).into_owned(),
                rec.key_permission,
            );
        } else {
            return Err(corrupt(&key, "unknown auth record"));
        }
    }
    state.rebuild_cache();
    Ok(state)
}
