//! The auth apply domain: the permission check every entry passes before it is applied
//! ([`authorize`]), and the auth-management entries ([`manage`]): AuthEnable/Disable/
//! Status, Authenticate, User* and Role*.
//!
//! Both run in log order on every member against the published auth state and the user
//! and auth revision the entry's header carries, so every member decides the same. A
//! change is staged into the entry's batch and published only after the batch is written
//! (then the tokens it invalidates are dropped and the revision metric moves).

use oxcd_auth::{AuthError, AuthState, AuthStore, StagedAuth, TokenProvider};
use oxcd_backend::WriteBatch;
use oxcd_lease::Lessor;
use oxcd_proto::authpb::Permission;
use oxcd_proto::oxcdpb::internal_request::Op;

use super::{ApplyResult, Pending};
use crate::auth::access::Check;
use crate::auth::Caller;

/// What an auth-management entry produced, for the handler to put in its response.
#[derive(Debug)]
pub enum AuthOutcome {
    /// A change (or a no-op); the response carries only its header.
    Done,
    /// AuthStatus.
    Status {
        /// Auth is on.
        enabled: bool,
        /// The auth revision.
        revision: u64,
    },
    /// Authenticate: the token for the client.
    Token(String),
    /// UserGet: the user's roles; UserList, RoleList: the names.
    Names(Vec<String>),
    /// RoleGet: the role's permissions.
    Perms(Vec<Permission>),
}

/// The permission an entry needs, checked at apply (etcd's `authApplierV3`): KV writes and
/// LeaseRevoke by key range, auth management by the root role. Requests etcd does not
/// check (LeaseGrant, Compaction, checkpoints, alarms, members) pass.
pub(super) fn authorize(
    state: &AuthState,
    caller: &Caller,
    op: &Op,
    lessor: &Lessor,
) -> Result<(), AuthError> {
    let check = Check::new(state, caller);
    let lease_keys = |id: i64| lessor.attached_keys(id).unwrap_or_default();
    match op {
        Op::Put(p) => check.put(p, lease_keys),
        Op::DeleteRange(d) => check.delete_range(d),
        Op::Txn(t) => check.txn(t),
        Op::LeaseRevoke(r) => check.keys_writable(&lease_keys(r.id)),
        // A user may read itself, and the roles it holds, without being root.
        Op::AuthUserGet(g) => match check.admin() {
            Err(_) if caller.user_and_revision().0 == g.name => Ok(()),
            other => other,
        },
        Op::AuthRoleGet(g) => match check.admin() {
            Err(_) if holds_role(state, caller, &g.role) => Ok(()),
            other => other,
        },
        // Authenticate needs no permission (the password was checked); every other
        // management entry needs root.
        Op::Authenticate(_) => Ok(()),
        op if is_management(op) => check.admin(),
        _ => Ok(()),
    }
}

fn holds_role(state: &AuthState, caller: &Caller, role: &str) -> bool {
    let (user, _) = caller.user_and_revision();
    state.user(user).is_some_and(|u| u.roles.contains(role))
}

/// Whether `op` is an auth-management entry (handled by [`manage`]).
pub(super) fn is_management(op: &Op) -> bool {
    matches!(
        op,
        Op::AuthEnable(_)
            | Op::AuthDisable(_)
            | Op::AuthStatus(_)
            | Op::Authenticate(_)
            | Op::AuthUserAdd(_)
            | Op::AuthUserDelete(_)
            | Op::AuthUserChangePassword(_)
            | Op::AuthUserGrantRole(_)
            | Op::AuthUserRevokeRole(_)
            | Op::AuthUserGet(_)
            | Op::AuthUserList(_)
            | Op::AuthRoleAdd(_)
            | Op::AuthRoleDelete(_)
            | Op::AuthRoleGrantPermission(_)
            | Op::AuthRoleRevokePermission(_)
            | Op::AuthRoleGet(_)
            | Op::AuthRoleList(_)
    )
}

/// Applies an auth-management entry (already authorized). Reads answer from the published
/// state; a change is staged into `batch` and left in `pending` for [`publish`].
pub(super) fn manage(
    store: &AuthStore,
    tokens: &dyn TokenProvider,
    op: Op,
    index: u64,
    batch: &mut WriteBatch,
    pending: &mut Pending<'_>,
) -> ApplyResult {
    let state = store.current();
    let read = |r: Result<AuthOutcome, AuthError>| match r {
        Ok(o) => ApplyResult::Auth(o),
        Err(e) => ApplyResult::Error(e.into()),
    };
    let mut change = store.begin();
    let changed = match op {
        Op::AuthStatus(_) => {
            return ApplyResult::Auth(AuthOutcome::Status {
                enabled: state.enabled(),
                revision: state.revision(),
            })
        }
        Op::Authenticate(a) => {
            return read(authenticate(
                &state,
                tokens,
                &a.name,
                &a.simple_token,
                index,
            ))
        }
        Op::AuthUserGet(g) => {
            return read(
                state
                    .user(&g.name)
                    .map(|u| AuthOutcome::Names(u.roles.iter().cloned().collect()))
                    .ok_or(AuthError::UserNotFound),
            )
        }
        Op::AuthUserList(_) => return ApplyResult::Auth(AuthOutcome::Names(state.user_names())),
        Op::AuthRoleGet(g) => {
            return read(state.role(&g.role).map(|p| AuthOutcome::Perms(p.to_vec())))
        }
        Op::AuthRoleList(_) => return ApplyResult::Auth(AuthOutcome::Names(state.role_names())),
        Op::AuthEnable(_) => change.enable(),
        Op::AuthDisable(_) => {
            change.disable();
            Ok(())
        }
        Op::AuthUserAdd(u) => {
            let no_password = u.options.as_ref().is_some_and(|o| o.no_password);
            let hash = (!no_password).then_some(u.hashed_password);
            change.user_add(&u.name, hash)
        }
        Op::AuthUserDelete(u) => change.user_delete(&u.name),
        Op::AuthUserChangePassword(u) => change.user_change_password(&u.name, u.hashed_password),
        Op::AuthUserGrantRole(g) => change.user_grant_role(&g.user, &g.role),
        Op::AuthUserRevokeRole(r) => change.user_revoke_role(&r.name, &r.role),
        Op::AuthRoleAdd(r) => change.role_add(&r.name),
        Op::AuthRoleDelete(r) => change.role_delete(&r.role),
        Op::AuthRoleGrantPermission(g) => change.role_grant_permission(&g.name, g.perm.as_ref()),
        Op::AuthRoleRevokePermission(r) => {
            change.role_revoke_permission(&r.role, &r.key, &r.range_end)
        }
        other => {
            return ApplyResult::Error(crate::error::ServerError::Internal(format!(
                "not an auth entry: {other:?}"
            )))
        }
    };
    match changed {
        Ok(()) => {
            *pending = Pending::Auth(change.stage(batch));
            ApplyResult::Auth(AuthOutcome::Done)
        }
        Err(e) => ApplyResult::Error(e.into()),
    }
}

/// etcd's `authStore.Authenticate` at apply: the password was checked by the member that
/// received the request; here every member records the token.
fn authenticate(
    state: &AuthState,
    tokens: &dyn TokenProvider,
    name: &str,
    prepared: &str,
    index: u64,
) -> Result<AuthOutcome, AuthError> {
    if !state.enabled() {
        return Err(AuthError::AuthNotEnabled);
    }
    match state.user(name) {
        Some(u) if u.password_hash.is_some() => {}
        _ => return Err(AuthError::AuthFailed),
    }
    tokens
        .assign(name, state.revision(), prepared, index)
        .map(AuthOutcome::Token)
}

/// Publishes a staged change after its batch was written, and drops the tokens it killed.
pub(super) fn publish(store: &AuthStore, tokens: &dyn TokenProvider, staged: StagedAuth) {
    let (logged_out, disabled) = store.publish(staged);
    if disabled {
        tokens.invalidate_all();
    }
    for user in &logged_out {
        tokens.invalidate_user(user);
    }
    crate::metrics::AUTH_REVISION.set(store.revision() as i64);
}
