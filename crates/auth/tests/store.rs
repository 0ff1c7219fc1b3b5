//! The auth store over `MemBackend`: etcd's rules for each management operation, the
//! revision, permission checks, and that everything survives a reopen.

use oxcd_auth::{Access, AuthError, AuthStore, ROOT};
use oxcd_backend::{Backend, MemBackend, WriteBatch};
use oxcd_proto::authpb::{permission::Type as PermType, Permission};

/// The cheapest cost bcrypt allows, so tests stay fast.
const COST: u32 = 4;

fn apply(
    store: &AuthStore,
    backend: &MemBackend,
    f: impl FnOnce(&mut oxcd_auth::AuthChange) -> Result<(), AuthError>,
) -> Result<(Vec<String>, bool), AuthError> {
    let mut change = store.begin();
    f(&mut change)?;
    let mut batch = WriteBatch::new();
    let staged = change.stage(&mut batch);
    backend.write(batch, false).expect("write");
    Ok(store.publish(staged))
}

fn perm(t: PermType, key: &str, end: &str) -> Permission {
    Permission {
        perm_type: t as i32,
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
    }
}

fn with_root(store: &AuthStore, backend: &MemBackend) {
    let hash = store.hash_password("rootpw").expect("hash");
    apply(store, backend, |c| c.user_add(ROOT, Some(hash))).expect("add root");
    apply(store, backend, |c| c.user_grant_role(ROOT, ROOT)).expect("grant root");
}

#[test]
fn enable_needs_root_with_root_role() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    assert_eq!(
        apply(&store, &backend, |c| c.enable()),
        Err(AuthError::RootUserNotExist)
    );
    let hash = store.hash_password("pw").expect("hash");
    apply(&store, &backend, |c| c.user_add(ROOT, Some(hash))).expect("add");
    assert_eq!(
        apply(&store, &backend, |c| c.enable()),
        Err(AuthError::RootRoleNotExist)
    );
    apply(&store, &backend, |c| c.user_grant_role(ROOT, ROOT)).expect("grant");
    let before = store.revision();
    apply(&store, &backend, |c| c.enable()).expect("enable");
    assert!(store.enabled());
    assert_eq!(
        store.revision(),
        before,
        "AuthEnable does not bump the revision"
    );
    apply(&store, &backend, |c| c.enable()).expect("enabling twice is a no-op");
}

#[test]
fn root_is_protected_while_enabled() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    with_root(&store, &backend);
    apply(&store, &backend, |c| c.role_add(ROOT)).expect("root role");
    apply(&store, &backend, |c| c.enable()).expect("enable");
    assert_eq!(
        apply(&store, &backend, |c| c.user_delete(ROOT)),
        Err(AuthError::InvalidAuthMgmt)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.user_revoke_role(ROOT, ROOT)),
        Err(AuthError::InvalidAuthMgmt)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.role_delete(ROOT)),
        Err(AuthError::InvalidAuthMgmt)
    );
    let rev = store.revision();
    apply(&store, &backend, |c| {
        c.disable();
        Ok(())
    })
    .expect("disable");
    assert!(!store.enabled());
    assert_eq!(store.revision(), rev + 1);
    apply(&store, &backend, |c| c.user_delete(ROOT)).expect("deletable once disabled");
}

#[test]
fn management_errors_in_etcd_order() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    assert_eq!(
        apply(&store, &backend, |c| c.user_add("", None)),
        Err(AuthError::UserEmpty)
    );
    apply(&store, &backend, |c| c.user_add("u", None)).expect("add");
    assert_eq!(
        apply(&store, &backend, |c| c.user_add("u", None)),
        Err(AuthError::UserAlreadyExist)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.user_delete("x")),
        Err(AuthError::UserNotFound)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.role_add("")),
        Err(AuthError::RoleEmpty)
    );
    apply(&store, &backend, |c| c.role_add("r")).expect("role");
    assert_eq!(
        apply(&store, &backend, |c| c.role_add("r")),
        Err(AuthError::RoleAlreadyExist)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.user_grant_role("x", "r")),
        Err(AuthError::UserNotFound)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.user_grant_role("u", "nope")),
        Err(AuthError::RoleNotFound)
    );
    assert_eq!(
        apply(&store, &backend, |c| c.user_revoke_role("u", "r")),
        Err(AuthError::RoleNotGranted)
    );
    let rev = store.revision();
    apply(&store, &backend, |c| c.user_grant_role("u", "r")).expect("grant");
    apply(&store, &backend, |c| c.user_grant_role("u", "r")).expect("grant again");
    assert_eq!(store.revision(), rev + 1, "a repeated grant does not bump");
    assert_eq!(
        apply(&store, &backend, |c| c.role_grant_permission("r", None)),
        Err(AuthError::PermissionNotGiven)
    );
    let p = perm(PermType::Read, "a", "b");
    assert_eq!(
        apply(&store, &backend, |c| c
            .role_grant_permission("nope", Some(&p))),
        Err(AuthError::RoleNotFound)
    );
    assert_eq!(
        apply(&store, &backend, |c| c
            .role_revoke_permission("r", b"a", b"b")),
        Err(AuthError::PermissionNotGranted)
    );
}

#[test]
fn permissions_are_checked_by_range_and_type() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    with_root(&store, &backend);
    let hash = store.hash_password("pw").expect("hash");
    apply(&store, &backend, |c| c.user_add("alice", Some(hash))).expect("alice");
    apply(&store, &backend, |c| c.role_add("r")).expect("role");
    apply(&store, &backend, |c| c.user_grant_role("alice", "r")).expect("grant");
    for p in [
        perm(PermType::Read, "foo", ""),
        perm(PermType::Readwrite, "dir/", "dir0"),
        perm(PermType::Write, "w", "\0"),
    ] {
        apply(&store, &backend, |c| c.role_grant_permission("r", Some(&p))).expect("perm");
    }
    // While auth is off everything is allowed, credentials or not.
    let s = store.current();
    assert_eq!(s.check("", 0, b"zzz", b"", Access::Write), Ok(()));
    apply(&store, &backend, |c| c.enable()).expect("enable");
    let s = store.current();
    let rev = s.revision();
    let ok = |k: &str, e: &str, a| s.check("alice", rev, k.as_bytes(), e.as_bytes(), a);
    assert_eq!(ok("foo", "", Access::Read), Ok(()));
    assert_eq!(
        ok("foo", "", Access::Write),
        Err(AuthError::PermissionDenied)
    );
    assert_eq!(ok("dir/x", "", Access::Write), Ok(()));
    assert_eq!(ok("dir/", "dir0", Access::Read), Ok(()));
    assert_eq!(
        ok("dir/", "\0", Access::Read),
        Err(AuthError::PermissionDenied)
    );
    assert_eq!(ok("wz", "", Access::Write), Ok(()));
    assert_eq!(ok("wz", "", Access::Read), Err(AuthError::PermissionDenied));
    assert_eq!(
        s.check("", 0, b"foo", b"", Access::Read),
        Err(AuthError::UserEmpty)
    );
    assert_eq!(
        s.check("ghost", rev, b"foo", b"", Access::Read),
        Err(AuthError::PermissionDenied)
    );
    assert_eq!(s.check(ROOT, rev, b"any", b"\0", Access::Write), Ok(()));
    assert_eq!(
        s.check_admin("alice", rev),
        Err(AuthError::PermissionDenied)
    );
    assert_eq!(s.check_admin(ROOT, rev), Ok(()));
    // Revoking bumps the revision: credentials from before are refused as old, and with
    // fresh ones the permission is gone.
    apply(&store, &backend, |c| {
        c.role_revoke_permission("r", b"foo", b"")
    })
    .expect("revoke");
    let s2 = store.current();
    assert_eq!(
        s2.check("alice", rev, b"foo", b"", Access::Read),
        Err(AuthError::AuthOldRevision)
    );
    assert_eq!(
        s2.check("alice", s2.revision(), b"foo", b"", Access::Read),
        Err(AuthError::PermissionDenied)
    );
    // Deleting the role takes it from alice.
    apply(&store, &backend, |c| c.role_delete("r")).expect("delete role");
    let s3 = store.current();
    assert!(s3.user("alice").expect("alice").roles.is_empty());
    assert_eq!(
        s3.check("alice", s3.revision(), b"dir/x", b"", Access::Write),
        Err(AuthError::PermissionDenied)
    );
}

#[test]
fn grant_on_the_same_range_changes_its_type_and_keeps_key_order() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    apply(&store, &backend, |c| c.role_add("r")).expect("role");
    for p in [
        perm(PermType::Read, "m", ""),
        perm(PermType::Read, "a", "c"),
        perm(PermType::Write, "m", ""),
    ] {
        apply(&store, &backend, |c| c.role_grant_permission("r", Some(&p))).expect("perm");
    }
    let s = store.current();
    let perms = s.role("r").expect("role");
    assert_eq!(
        perms,
        &[
            perm(PermType::Read, "a", "c"),
            perm(PermType::Write, "m", "")
        ]
    );
}

#[test]
fn passwords_and_no_password_users() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    with_root(&store, &backend);
    apply(&store, &backend, |c| c.user_add("cert-only", None)).expect("no_password user");
    assert_eq!(
        store.check_password(ROOT, "rootpw"),
        Err(AuthError::AuthNotEnabled)
    );
    apply(&store, &backend, |c| c.enable()).expect("enable");
    assert_eq!(store.check_password(ROOT, "rootpw"), Ok(store.revision()));
    assert_eq!(
        store.check_password(ROOT, "wrong"),
        Err(AuthError::AuthFailed)
    );
    assert_eq!(
        store.check_password("nobody", "x"),
        Err(AuthError::AuthFailed)
    );
    assert_eq!(
        store.check_password("cert-only", ""),
        Err(AuthError::NoPasswordUser)
    );
    let hash = store.hash_password("new").expect("hash");
    let (logged_out, disabled) =
        apply(&store, &backend, |c| c.user_change_password(ROOT, hash)).expect("passwd");
    assert_eq!(
        logged_out,
        vec![ROOT.to_string()],
        "a new password ends the user's tokens"
    );
    assert!(!disabled);
    assert_eq!(
        store.check_password(ROOT, "rootpw"),
        Err(AuthError::AuthFailed)
    );
    assert_eq!(store.check_password(ROOT, "new"), Ok(store.revision()));
}

#[test]
fn state_survives_reopen_and_nothing_is_visible_before_publish() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    with_root(&store, &backend);
    apply(&store, &backend, |c| c.role_add("r")).expect("role");
    let p = perm(PermType::Readwrite, "k", "\0");
    apply(&store, &backend, |c| c.role_grant_permission("r", Some(&p))).expect("perm");
    apply(&store, &backend, |c| c.user_add("cert-only", None)).expect("user");
    apply(&store, &backend, |c| c.user_grant_role("cert-only", "r")).expect("grant");
    apply(&store, &backend, |c| c.enable()).expect("enable");
    // Staged but not published: readers still see the old state.
    let mut change = store.begin();
    change.role_add("staged").expect("staged role");
    let mut batch = WriteBatch::new();
    let _unpublished = change.stage(&mut batch);
    assert!(store.current().role("staged").is_err());

    let reopened = AuthStore::open(&backend, COST).expect("reopen");
    let (a, b) = (store.current(), reopened.current());
    assert!(b.enabled());
    assert_eq!(a.revision(), b.revision());
    assert_eq!(a.user_names(), b.user_names());
    assert_eq!(a.role_names(), b.role_names());
    assert_eq!(b.role("r").expect("r"), &[p]);
    assert_eq!(
        b.user("cert-only").and_then(|u| u.password_hash.clone()),
        None
    );
    assert_eq!(
        b.check("cert-only", b.revision(), b"kz", b"", Access::Write),
        Ok(()),
        "the permission cache is rebuilt on load"
    );
    assert_eq!(reopened.check_password(ROOT, "rootpw"), Ok(b.revision()));
}

#[test]
fn a_new_store_is_at_revision_one_and_no_password_users_stay_so() {
    let backend = MemBackend::new();
    let store = AuthStore::open(&backend, COST).expect("open");
    assert_eq!(store.revision(), 1);
    with_root(&store, &backend);
    apply(&store, &backend, |c| c.user_add("cert-only", None)).expect("user");
    let hash = store.hash_password("pw").expect("hash");
    apply(&store, &backend, |c| {
        c.user_change_password("cert-only", hash)
    })
    .expect("passwd");
    apply(&store, &backend, |c| c.enable()).expect("enable");
    assert_eq!(
        store.revision(),
        5,
        "four changes after revision 1; enable adds none"
    );
    assert_eq!(
        store.check_password("cert-only", "pw"),
        Err(AuthError::NoPasswordUser)
    );
}

#[test]
fn cost_outside_bcrypt_range_is_refused() {
    let backend = MemBackend::new();
    assert!(AuthStore::open(&backend, 3).is_err());
    assert!(AuthStore::open(&backend, 32).is_err());
}
