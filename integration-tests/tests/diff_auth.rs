//! Differential AUTH tests through etcdctl: users, roles, key permissions, `auth enable` /
//! `auth disable`, the root rules, and what a non-root user may do with KV, txn, watch, leases,
//! compaction and the maintenance/cluster commands once auth is on. Each test runs one etcdctl
//! script against a fresh etcd 3.4.23 and a fresh oxcd and requires identical normalised
//! transcripts (exit codes, stdout, stderr, including etcdctl's `retrying of unary invoker
//! failed` warning lines, whose `ts` and `target` the normaliser masks but whose gRPC code and
//! message it keeps).
//!
//! etcdctl never prints a token: `--user name:password` makes it authenticate on every run, so
//! the transcripts are deterministic. Token lifetimes, deleted users' tokens and the gRPC
//! codes of every denial are covered in `auth_grpc.rs`.
//!
//! What etcd 3.4.23 does that one might not expect (all checked by hand and pinned here):
//! - `auth enable` with a root user that lacks the root role does NOT fail: the server says
//!   "etcdserver: root user does not have root role" and etcdctl then creates the role `root`,
//!   grants it to `root` and enables auth ("Authentication Enabled" on stdout, the server's
//!   error as a warning line on stderr).
//! - `user grant-role root root` works without a `root` role object: afterwards `role list` is
//!   empty, `role get root` is "etcdserver: role name not found" and `user get root --detail`
//!   prints `User: root` and then fails with that error (exit 1).
//! - Granting a permission on exactly the same key/range again REPLACES its type (read then
//!   write leaves write only); revoking needs the exact key and range end, else "etcdserver:
//!   permission is not granted to the role".
//! - Granting the same role twice succeeds silently; revoking a role the user does not hold,
//!   also an unknown role, is "etcdserver: role is not granted to the user".
//! - With auth on, `compaction`, `lease grant`, `lease list`, `lease timetolive` (with the
//!   names of attached keys the caller cannot read), `alarm list`, `member list` and
//!   `endpoint status` need NO credentials at all; `move-leader` reaches the transferee check
//!   ("etcdserver: bad leader transferee") as a non-root user.
//! - `defrag` and `endpoint hashkv` fail with gRPC code Unknown and an `auth:` (not
//!   `etcdserver:`) message: "auth: user name is empty" / "auth: permission denied".
//! - A user created with `--no-password` and given a password: "rpc error: code = Unknown desc
//!   = auth: authentication failed, password was given for no password user" (exit 2).
//! - A watch is checked only when created: it keeps delivering after its permission is
//!   revoked and after its user is deleted.
//! - Inside a txn, `put --prev-kv` needs no read permission (a plain `put --prev-kv` does).
//! - A denied `watch` ends at once (exit 5): "watch was canceled (rpc error: code =
//!   PermissionDenied desc = etcdserver: permission denied)" / "Error: watch is canceled by the
//!   server" on stderr.
//! - `auth disable --user root:pw` while auth is off prints "Authentication Disabled" (exit 0)
//!   after a warning "etcdserver: authentication is not enabled" from the failed authenticate.
//! - `lease revoke` of a lease with a key the caller may not write: "Error: failed to revoke
//!   lease (etcdserver: permission denied)".
//! - A user may `user get` itself and `role get` its own roles, nothing else.

use std::time::Duration;

use oxcd_integration_tests::{
    diff_run, etcdctl, granted_lease_hex, txn_script, Background, Output, ServerOpts, Session,
};

const ROOT: &str = "--user=root:rootpw";
const ALICE: &str = "--user=alice:pw";

/// `etcdctl <args> <creds>` recorded.
fn as_user(s: &mut Session, creds: &str, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    if !creds.is_empty() {
        all.push(creds);
    }
    s.ctl(&all)
}

/// `etcdctl txn <creds>` with a script, recorded.
fn txn_as(s: &mut Session, creds: &str, compares: &[&str], success: &[&str], failure: &[&str]) {
    let mut args = vec!["txn"];
    if !creds.is_empty() {
        args.push(creds);
    }
    s.ctl_stdin(&args, &txn_script(compares, success, failure));
}

/// Creates `root` (with the root role, granted without a role object) and enables auth.
fn root_and_enable(s: &mut Session) {
    s.ctl(&["user", "add", "root", "--new-user-password=rootpw"]);
    s.ctl(&["user", "grant-role", "root", "root"]);
    s.ctl(&["auth", "enable"]);
}

/// Keys, and `alice` (password `pw`) with role `ra`:
/// readwrite `a/` prefix, read `r/` prefix, write `w/` prefix, readwrite the single key `k`,
/// read everything from `z` on. Then root and auth enable.
fn kv_setup(s: &mut Session) {
    for (k, v) in [
        ("a/1", "v1"),
        ("r/1", "v1"),
        ("w/1", "v1"),
        ("k", "v"),
        ("z", "v"),
        ("zz", "v"),
        ("other", "v"),
    ] {
        s.ctl(&["put", k, v]);
    }
    s.ctl(&["user", "add", "alice", "--new-user-password=pw"]);
    s.ctl(&["role", "add", "ra"]);
    s.ctl(&[
        "role",
        "grant-permission",
        "ra",
        "readwrite",
        "a/",
        "--prefix",
    ]);
    s.ctl(&["role", "grant-permission", "ra", "read", "r/", "--prefix"]);
    s.ctl(&["role", "grant-permission", "ra", "write", "w/", "--prefix"]);
    s.ctl(&["role", "grant-permission", "ra", "readwrite", "k"]);
    s.ctl(&["role", "grant-permission", "ra", "read", "z", "--from-key"]);
    s.ctl(&["user", "grant-role", "alice", "ra"]);
    root_and_enable(s);
}

#[test]
fn auth_users() {
    diff_run("auth_users", ServerOpts::default(), |s| {
        s.ctl(&["user", "list"]);
        // Every way etcdctl 3.4 takes a password.
        s.ctl(&["user", "add", "alice", "--new-user-password=pw"]);
        s.ctl(&["user", "add", "bob:bobpw"]);
        s.ctl(&["user", "add", "carol", "--no-password"]);
        s.ctl_stdin(&["user", "add", "dave", "--interactive=false"], "davepw\n");
        // "etcdserver: user name already exists" (FailedPrecondition).
        s.ctl(&["user", "add", "alice", "--new-user-password=x"]);
        s.ctl(&["user", "add", "bob:other"]);
        s.ctl(&["user", "list"]);
        s.ctl(&["user", "list", "-w", "json"]);
        // No roles: "User: alice" / "Roles:"; with --detail only "User: alice".
        s.ctl(&["user", "get", "alice"]);
        s.ctl(&["user", "get", "alice", "--detail"]);
        s.ctl(&["user", "get", "carol", "-w", "json"]);
        // "etcdserver: user name not found".
        s.ctl(&["user", "get", "nobody"]);
        s.ctl(&["user", "get", "nobody", "--detail"]);
        // Roles.
        s.ctl(&["role", "add", "r1"]);
        s.ctl(&["role", "add", "r2"]);
        s.ctl(&["role", "grant-permission", "r1", "readwrite", "k1"]);
        s.ctl(&["user", "grant-role", "alice", "r1"]);
        // The same role again: accepted silently.
        s.ctl(&["user", "grant-role", "alice", "r1"]);
        s.ctl(&["user", "grant-role", "alice", "r2"]);
        // "etcdserver: role name not found" / "etcdserver: user name not found".
        s.ctl(&["user", "grant-role", "alice", "nor"]);
        s.ctl(&["user", "grant-role", "nobody", "r1"]);
        s.ctl(&["user", "get", "alice"]);
        s.ctl(&["user", "get", "alice", "--detail"]);
        s.ctl(&["user", "get", "alice", "-w", "json"]);
        s.ctl(&["user", "revoke-role", "alice", "r2"]);
        // "etcdserver: role is not granted to the user", also for a role that does not exist.
        s.ctl(&["user", "revoke-role", "alice", "r2"]);
        s.ctl(&["user", "revoke-role", "alice", "nor"]);
        s.ctl(&["user", "revoke-role", "nobody", "r1"]);
        s.ctl(&["user", "get", "alice", "-w", "json"]);
        // Deleting a role takes it away from its users.
        s.ctl(&["user", "grant-role", "bob", "r2"]);
        s.ctl(&["role", "delete", "r2"]);
        s.ctl(&["user", "get", "bob"]);
        // Passwords.
        s.ctl_stdin(
            &["user", "passwd", "alice", "--interactive=false"],
            "newpw\n",
        );
        s.ctl_stdin(&["user", "passwd", "nobody", "--interactive=false"], "x\n");
        s.ctl_stdin(&["user", "passwd", "carol", "--interactive=false"], "cpw\n");
        // Deleting.
        s.ctl(&["user", "delete", "bob"]);
        s.ctl(&["user", "delete", "bob"]);
        s.ctl(&["user", "list"]);
        // Argument errors (client side).
        s.ctl(&["user", "add"]);
        s.ctl(&["user", "get"]);
        s.ctl(&["user", "grant-role", "alice"]);
        // Revisions: auth changes do not write keys.
        s.ctl(&["get", "x", "-w", "json"]);
    });
}

#[test]
fn auth_roles_and_permissions() {
    diff_run("auth_roles_and_permissions", ServerOpts::default(), |s| {
        s.ctl(&["role", "list"]);
        s.ctl(&["role", "add", "r1"]);
        // "etcdserver: role name already exists".
        s.ctl(&["role", "add", "r1"]);
        s.ctl(&["role", "get", "r1"]);
        s.ctl(&["role", "get", "r1", "-w", "json"]);
        // "etcdserver: role name not found".
        s.ctl(&["role", "get", "nor"]);
        // A single key, a range, a prefix, from a key, every permission type.
        s.ctl(&["role", "grant-permission", "r1", "readwrite", "k1"]);
        s.ctl(&["role", "grant-permission", "r1", "read", "a", "b"]);
        s.ctl(&["role", "grant-permission", "r1", "write", "p/", "--prefix"]);
        s.ctl(&[
            "role",
            "grant-permission",
            "r1",
            "readwrite",
            "z",
            "--from-key",
        ]);
        s.ctl(&["role", "grant-permission", "r1", "read", "m", "--prefix"]);
        // Sorted by key; `[a, b)` is shown as "(prefix a)".
        s.ctl(&["role", "get", "r1"]);
        s.ctl(&["role", "get", "r1", "-w", "json"]);
        // The same key again replaces the type: read then write leaves write only.
        s.ctl(&["role", "grant-permission", "r1", "read", "dup"]);
        s.ctl(&["role", "grant-permission", "r1", "write", "dup"]);
        s.ctl(&["role", "get", "r1"]);
        // Client-side: "Error: invalid permission type: bogus" (exit 128).
        s.ctl(&["role", "grant-permission", "r1", "bogus", "k"]);
        s.ctl(&["role", "grant-permission", "nor", "read", "k"]);
        // Revokes: exact key and range end only.
        s.ctl(&["role", "revoke-permission", "r1", "k1"]);
        s.ctl(&["role", "revoke-permission", "r1", "k1"]);
        // "etcdserver: permission is not granted to the role".
        s.ctl(&["role", "revoke-permission", "r1", "never"]);
        s.ctl(&["role", "revoke-permission", "r1", "a"]);
        s.ctl(&["role", "revoke-permission", "r1", "a", "c"]);
        s.ctl(&["role", "revoke-permission", "r1", "never", "--prefix"]);
        s.ctl(&["role", "revoke-permission", "r1", "y", "--from-key"]);
        s.ctl(&["role", "revoke-permission", "r1", "p/", "--prefix"]);
        s.ctl(&["role", "revoke-permission", "r1", "z", "--from-key"]);
        s.ctl(&["role", "revoke-permission", "r1", "a", "b"]);
        s.ctl(&["role", "revoke-permission", "nor", "k"]);
        s.ctl(&["role", "get", "r1"]);
        s.ctl(&["role", "get", "r1", "-w", "json"]);
        s.ctl(&["role", "add", "r0"]);
        // The whole keyspace: `"" --prefix` and `"" --from-key` are the same permission,
        // key "\0" and range end "\0" (printed as `[<NUL>, <open ended>`), so the second
        // grant replaces the first's type and the second revoke finds nothing.
        s.ctl(&[
            "role",
            "grant-permission",
            "r0",
            "readwrite",
            "",
            "--prefix",
        ]);
        s.ctl(&["role", "grant-permission", "r0", "read", "", "--from-key"]);
        s.ctl(&["role", "get", "r0"]);
        s.ctl(&["role", "get", "r0", "-w", "json"]);
        s.ctl(&["role", "revoke-permission", "r0", "", "--prefix"]);
        s.ctl(&["role", "revoke-permission", "r0", "", "--from-key"]);
        s.ctl(&["role", "get", "r0", "-w", "json"]);
        s.ctl(&["role", "list"]);
        s.ctl(&["role", "list", "-w", "json"]);
        s.ctl(&["role", "delete", "r1"]);
        s.ctl(&["role", "delete", "r1"]);
        s.ctl(&["role", "list"]);
        // Argument errors (client side).
        s.ctl(&["role", "grant-permission", "r0", "read"]);
        s.ctl(&[
            "role",
            "grant-permission",
            "r0",
            "read",
            "a",
            "b",
            "--prefix",
        ]);
        s.ctl(&["role", "revoke-permission", "r0"]);
    });
}

#[test]
fn auth_enable_disable_and_root_rules() {
    diff_run(
        "auth_enable_disable_and_root_rules",
        ServerOpts::default(),
        |s| {
            s.ctl(&["put", "k", "v"]);
            // "etcdserver: root user does not exist".
            s.ctl(&["auth", "enable"]);
            s.ctl(&["user", "add", "alice", "--new-user-password=pw"]);
            s.ctl(&["user", "add", "root", "--new-user-password=rootpw"]);
            // The server answers "etcdserver: root user does not have root role"; etcdctl then
            // adds role root, grants it and enables auth.
            s.ctl(&["auth", "enable"]);
            // "etcdserver: user name is empty" without credentials.
            s.ctl(&["get", "k"]);
            s.ctl(&["user", "list"]);
            s.ctl(&["auth", "enable"]);
            // "etcdserver: authentication failed, invalid user ID or password" (exit 2).
            s.ctl(&["get", "k", "--user=root:bad"]);
            s.ctl(&["get", "k", "--user=nobody:x"]);
            as_user(s, ROOT, &["get", "k"]);
            as_user(s, ROOT, &["user", "list"]);
            as_user(s, ROOT, &["role", "list"]);
            as_user(s, ROOT, &["role", "get", "root"]);
            as_user(s, ROOT, &["user", "get", "root", "--detail"]);
            as_user(s, ROOT, &["user", "get", "root", "-w", "json"]);
            // Enabling again is fine.
            as_user(s, ROOT, &["auth", "enable"]);
            // "etcdserver: invalid auth management" for each of these while auth is on.
            as_user(s, ROOT, &["user", "delete", "root"]);
            as_user(s, ROOT, &["user", "revoke-role", "root", "root"]);
            as_user(s, ROOT, &["role", "delete", "root"]);
            // Granting root again is fine.
            as_user(s, ROOT, &["user", "grant-role", "root", "root"]);
            // A second root-role holder.
            as_user(s, ROOT, &["user", "grant-role", "alice", "root"]);
            as_user(s, ALICE, &["user", "list"]);
            as_user(s, ALICE, &["user", "revoke-role", "alice", "root"]);
            // "etcdserver: permission denied" for a non-root user.
            as_user(s, ALICE, &["user", "list"]);
            as_user(s, ALICE, &["auth", "disable"]);
            as_user(s, ALICE, &["user", "add", "mallory:m"]);
            as_user(s, ALICE, &["role", "add", "x"]);
            // Without credentials.
            s.ctl(&["auth", "disable"]);
            as_user(s, ROOT, &["auth", "disable"]);
            // Off now: no credentials needed; disabling again warns "etcdserver: authentication
            // is not enabled" (the authenticate) but prints "Authentication Disabled".
            s.ctl(&["get", "k"]);
            as_user(s, ROOT, &["auth", "disable"]);
            s.ctl(&["auth", "disable"]);
            // While auth is off the root user and role can be removed.
            s.ctl(&["user", "revoke-role", "root", "root"]);
            s.ctl(&["auth", "enable"]);
            s.ctl(&["role", "delete", "root"]);
            s.ctl(&["user", "delete", "root"]);
            s.ctl(&["auth", "enable"]);
            s.ctl(&["user", "list"]);
            s.ctl(&["role", "list"]);
            s.ctl(&["get", "k", "-w", "json"]);
        },
    );
}

/// `user grant-role root root` needs no `root` role object, and the role then stays invisible.
#[test]
fn auth_root_role_without_role_object() {
    diff_run(
        "auth_root_role_without_role_object",
        ServerOpts::default(),
        |s| {
            s.ctl(&["role", "get", "root"]);
            s.ctl(&["user", "add", "root", "--new-user-password=rootpw"]);
            s.ctl(&["user", "grant-role", "root", "root"]);
            s.ctl(&["role", "list"]);
            // "etcdserver: role name not found".
            s.ctl(&["role", "get", "root"]);
            // "User: root" then "etcdserver: role name not found", exit 1.
            s.ctl(&["user", "get", "root", "--detail"]);
            s.ctl(&["user", "get", "root", "-w", "json"]);
            // No retry dance this time: enabled at the first attempt.
            s.ctl(&["auth", "enable"]);
            as_user(s, ROOT, &["role", "list"]);
            as_user(s, ROOT, &["role", "get", "root"]);
            // Root may do everything, the root role lives on.
            as_user(s, ROOT, &["put", "k", "v"]);
            as_user(s, ROOT, &["get", "k"]);
            as_user(s, ROOT, &["role", "delete", "root"]);
            // A role named root created afterwards is a normal role object.
            as_user(s, ROOT, &["role", "add", "root"]);
            as_user(s, ROOT, &["role", "get", "root"]);
            as_user(s, ROOT, &["role", "get", "root", "-w", "json"]);
            as_user(s, ROOT, &["role", "list"]);
            as_user(s, ROOT, &["user", "get", "root", "--detail"]);
        },
    );
}

#[test]
fn auth_kv_permissions() {
    diff_run("auth_kv_permissions", ServerOpts::default(), |s| {
        kv_setup(s);
        // No credentials: "etcdserver: user name is empty" (InvalidArgument).
        s.ctl(&["get", "a/1"]);
        s.ctl(&["put", "a/1", "x"]);
        s.ctl(&["del", "a/1"]);
        // readwrite on the a/ prefix.
        as_user(s, ALICE, &["get", "a/1"]);
        as_user(s, ALICE, &["put", "a/2", "v2"]);
        as_user(s, ALICE, &["put", "a/2", "v3", "--prev-kv", "-w", "json"]);
        as_user(s, ALICE, &["get", "a/", "--prefix"]);
        as_user(s, ALICE, &["get", "a/", "--prefix", "-w", "json"]);
        as_user(s, ALICE, &["get", "a/", "--prefix", "--keys-only"]);
        as_user(s, ALICE, &["get", "a/1", "a/3"]);
        as_user(s, ALICE, &["del", "a/2", "--prev-kv"]);
        // Wider than the permission: "etcdserver: permission denied" (PermissionDenied).
        as_user(s, ALICE, &["get", "a", "--prefix"]);
        as_user(s, ALICE, &["get", "a/", "a1"]);
        // read only on r/.
        as_user(s, ALICE, &["get", "r/1"]);
        as_user(s, ALICE, &["get", "r/", "--prefix"]);
        as_user(s, ALICE, &["put", "r/1", "x"]);
        as_user(s, ALICE, &["del", "r/1"]);
        as_user(s, ALICE, &["del", "r/", "--prefix"]);
        // write only on w/: a put or delete that returns the previous value needs read.
        as_user(s, ALICE, &["get", "w/1"]);
        as_user(s, ALICE, &["put", "w/1", "x"]);
        as_user(s, ALICE, &["put", "w/1", "y", "--prev-kv"]);
        as_user(s, ALICE, &["del", "w/1", "--prev-kv"]);
        as_user(s, ALICE, &["del", "w/1"]);
        as_user(s, ALICE, &["del", "w/", "--prefix"]);
        // The single key k.
        as_user(s, ALICE, &["get", "k"]);
        as_user(s, ALICE, &["put", "k", "v2"]);
        as_user(s, ALICE, &["get", "k", "kk"]);
        as_user(s, ALICE, &["get", "k", "--prefix"]);
        // read from z on.
        as_user(s, ALICE, &["get", "z", "--from-key"]);
        as_user(s, ALICE, &["get", "zz"]);
        as_user(s, ALICE, &["get", "zzz", "--prefix"]);
        as_user(s, ALICE, &["put", "zz", "x"]);
        as_user(s, ALICE, &["get", "y", "--from-key"]);
        as_user(s, ALICE, &["get", "", "--from-key"]);
        // Nothing granted.
        as_user(s, ALICE, &["get", "other"]);
        as_user(s, ALICE, &["put", "other", "x"]);
        as_user(s, ALICE, &["del", "other"]);
        as_user(s, ALICE, &["get", "missing"]);
        // Wrong password, unknown user, a no-password user given a password, empty name.
        s.ctl(&["get", "a/1", "--user=alice:bad"]);
        s.ctl(&["get", "a/1", "--user=nobody:pw"]);
        as_user(s, ROOT, &["user", "add", "carol", "--no-password"]);
        s.ctl(&["get", "a/1", "--user=carol:x"]);
        // A no-password user stays one after a password change.
        s.ctl_stdin(
            &["user", "passwd", "carol", "--interactive=false", ROOT],
            "cpw\n",
        );
        s.ctl(&["get", "a/1", "--user=carol:cpw"]);
        s.ctl(&["get", "a/1", "--user=:x"]);
        // A new password: the old one fails. A user may not change its own password.
        s.ctl_stdin(
            &["user", "passwd", "alice", "--interactive=false", ROOT],
            "pw2\n",
        );
        as_user(s, ALICE, &["get", "a/1"]);
        as_user(s, "--user=alice:pw2", &["get", "a/1"]);
        s.ctl_stdin(
            &[
                "user",
                "passwd",
                "alice",
                "--interactive=false",
                "--user=alice:pw2",
            ],
            "pw3\n",
        );
        // A user may read itself and its own roles, nothing else.
        as_user(s, "--user=alice:pw2", &["user", "get", "alice", "--detail"]);
        as_user(s, "--user=alice:pw2", &["role", "get", "ra"]);
        as_user(s, "--user=alice:pw2", &["role", "get", "root"]);
        as_user(s, "--user=alice:pw2", &["user", "get", "root"]);
        as_user(
            s,
            "--user=alice:pw2",
            &["user", "grant-role", "alice", "root"],
        );
        // Permission changes apply at once.
        as_user(
            s,
            ROOT,
            &["role", "revoke-permission", "ra", "a/", "--prefix"],
        );
        as_user(s, "--user=alice:pw2", &["get", "a/1"]);
        as_user(s, ROOT, &["role", "grant-permission", "ra", "read", "a/1"]);
        as_user(s, "--user=alice:pw2", &["get", "a/1"]);
        as_user(s, "--user=alice:pw2", &["put", "a/1", "x"]);
        as_user(s, ROOT, &["user", "revoke-role", "alice", "ra"]);
        as_user(s, "--user=alice:pw2", &["get", "a/1"]);
        // A deleted user cannot authenticate; a new user of that name has no roles.
        as_user(s, ROOT, &["user", "grant-role", "alice", "ra"]);
        as_user(s, ROOT, &["user", "delete", "alice"]);
        as_user(s, "--user=alice:pw2", &["get", "a/1"]);
        as_user(s, ROOT, &["user", "add", "alice", "--new-user-password=pw"]);
        as_user(s, ALICE, &["get", "a/1"]);
        as_user(s, ROOT, &["user", "get", "alice"]);
        as_user(s, ROOT, &["get", "", "--from-key", "-w", "json"]);
    });
}

#[test]
fn auth_txn_permissions() {
    diff_run("auth_txn_permissions", ServerOpts::default(), |s| {
        kv_setup(s);
        // Allowed compares and ops.
        txn_as(
            s,
            ALICE,
            &[r#"value("a/1") = "v1""#],
            &["put a/q 2"],
            &["get a/1"],
        );
        txn_as(
            s,
            ALICE,
            &[r#"value("a/1") = "nope""#],
            &["put a/q 3"],
            &["get a/1", "get r/1"],
        );
        txn_as(s, ALICE, &[r#"version("r/1") > "0""#], &["put w/4 4"], &[]);
        // A denied key anywhere denies the whole txn, also in the branch that would not run.
        txn_as(s, ALICE, &[r#"value("other") = "v""#], &["put a/q 4"], &[]);
        txn_as(s, ALICE, &[r#"value("a/1") = "v1""#], &["put other 2"], &[]);
        txn_as(
            s,
            ALICE,
            &[r#"value("a/1") = "v1""#],
            &["put a/q 5"],
            &["put other 2"],
        );
        txn_as(s, ALICE, &[], &["put w/3 3", "get w/3"], &[]);
        txn_as(s, ALICE, &[r#"version("w/1") > "0""#], &["put w/5 5"], &[]);
        txn_as(s, ALICE, &[], &["del r/1"], &[]);
        txn_as(s, ALICE, &[], &["del a/ --prefix"], &[]);
        txn_as(s, ALICE, &[], &["get r/ --prefix", "get z --from-key"], &[]);
        // etcd 3.4 does not check read permission for `prev_kv` of a put INSIDE a txn (a
        // plain `put --prev-kv` is denied): the json shows w/1's old value to a writer-only
        // user. A txn delete with `--prev-kv` is checked.
        s.ctl_stdin(
            &["txn", "-w", "json", ALICE],
            &txn_script(&[], &["put w/1 leaked --prev-kv"], &[]),
        );
        txn_as(s, ALICE, &[], &["del w/1 --prev-kv"], &[]);
        txn_as(s, ALICE, &[], &["del w/1"], &[]);
        txn_as(s, ALICE, &[], &["get a --prefix"], &[]);
        // No credentials; root.
        txn_as(s, "", &[], &["get a/1"], &[]);
        txn_as(s, ROOT, &[r#"value("other") = "v""#], &["put other 3"], &[]);
        s.ctl_stdin(
            &["txn", "-w", "json", ALICE],
            &txn_script(&[], &["put a/j 1", "get a/j"], &[]),
        );
        as_user(s, ROOT, &["get", "", "--from-key", "-w", "json"]);
    });
}

/// Runs `etcdctl watch <args>` in the [`Background`] for its `WATCH_SECS` (a denied watch ends by
/// itself with exit 5; a live one is ended by `timeout`, exit 124), runs `writes` meanwhile,
/// then records its exit code and output.
fn watch_during<F: FnOnce(&mut Session)>(s: &mut Session, args: &[&str], writes: F) {
    let bg =
        Background::etcdctl_watch(&s.server().endpoint(), args).expect("spawn background etcdctl");
    let out = bg.finish_after(s, writes);
    s.note(&format!(
        "background etcdctl watch {} -> exit {:?}",
        args.join(" "),
        out.status
    ));
    for (tag, text) in [("out", &out.stdout), ("err", &out.stderr)] {
        for line in text.lines() {
            if line.starts_with('{') {
                // Alone, so the normaliser sees the JSON (etcdctl's warning lines: `ts`,
                // `target`).
                s.note(&format!("{tag}| (JSON line follows)"));
                s.note(line);
            } else {
                s.note(&format!("{tag}| {line}"));
            }
        }
    }
}

#[test]
fn auth_watch_permissions() {
    diff_run("auth_watch_permissions", ServerOpts::default(), |s| {
        kv_setup(s);
        // Permitted: sees the events on its prefix.
        watch_during(s, &["a/", "--prefix", ALICE], |s| {
            as_user(s, ALICE, &["put", "a/w", "1"]);
            as_user(s, ROOT, &["put", "other", "2"]);
            as_user(s, ROOT, &["put", "a/w", "3"]);
        });
        watch_during(s, &["r/1", "-w", "json", ALICE], |s| {
            as_user(s, ROOT, &["put", "r/1", "x"]);
        });
        // Denied: "watch was canceled (rpc error: code = PermissionDenied desc = etcdserver:
        // permission denied)", "Error: watch is canceled by the server", exit 5.
        watch_during(s, &["other", ALICE], |_| {});
        watch_during(s, &["w/", "--prefix", ALICE], |_| {});
        watch_during(s, &["a", "--prefix", ALICE], |_| {});
        watch_during(s, &["--prefix", "", ALICE], |_| {});
        // No credentials: canceled with "etcdserver: user name is empty" (InvalidArgument).
        watch_during(s, &["a/1"], |_| {});
        // Bad password: the authenticate fails, exit 2.
        watch_during(s, &["a/1", "--user=alice:bad"], |_| {});
        // Root watches anything.
        watch_during(s, &["--prefix", "", ROOT], |s| {
            as_user(s, ROOT, &["put", "other", "3"]);
        });
        // etcd 3.4 checks a watch only when it is created: an established watch keeps
        // delivering after its permission is revoked and even after the user is deleted.
        watch_during(s, &["a/", "--prefix", ALICE], |s| {
            as_user(s, ROOT, &["put", "a/x", "1"]);
            as_user(
                s,
                ROOT,
                &["role", "revoke-permission", "ra", "a/", "--prefix"],
            );
            as_user(s, ROOT, &["put", "a/x", "2"]);
            as_user(s, ROOT, &["user", "delete", "alice"]);
            as_user(s, ROOT, &["put", "a/x", "3"]);
        });
    });
}

/// Records `lease timetolive` with the remaining TTL masked (it depends on timing) and the
/// attached keys sorted.
fn timetolive_masked(s: &mut Session, args: &[&str]) {
    s.note(&format!(
        "$ etcdctl {} (remaining TTL masked)",
        args.join(" ")
    ));
    let out = etcdctl(s.server(), args).unwrap_or_else(|e| Output {
        stdout: String::new(),
        stderr: format!("harness error: {e}"),
        status: None,
    });
    s.note(&format!("exit: {:?}", out.status));
    for line in out.stdout.lines().chain(out.stderr.lines()) {
        let masked = match (line.find("remaining("), line.find("s), attached")) {
            (Some(a), Some(b)) if a < b => {
                format!(
                    "{}<REMAINING>{}",
                    &line[..a + "remaining(".len()],
                    &line[b..]
                )
            }
            _ => line.to_string(),
        };
        // The order of attached keys is unspecified (etcd iterates a map): sort them.
        let masked = match (masked.find("attached keys(["), masked.rfind("])")) {
            (Some(a), Some(b)) if a + "attached keys([".len() <= b => {
                let start = a + "attached keys([".len();
                let mut keys: Vec<&str> = masked[start..b].split(' ').collect();
                keys.sort_unstable();
                format!(
                    "{}{}{} (keys sorted)",
                    &masked[..start],
                    keys.join(" "),
                    &masked[b..]
                )
            }
            _ => masked,
        };
        s.note(&masked);
    }
}

#[test]
fn auth_lease_permissions() {
    diff_run("auth_lease_permissions", ServerOpts::default(), |s| {
        kv_setup(s);
        // Anyone may grant and list leases, even without credentials.
        let out = as_user(s, ALICE, &["lease", "grant", "600"]);
        let hex = granted_lease_hex(&out.stdout);
        let lease = format!("--lease={hex}");
        s.ctl(&["lease", "list"]);
        as_user(s, ALICE, &["put", "a/l", "v", &lease]);
        as_user(s, ALICE, &["put", "other", "v", &lease]);
        as_user(s, ROOT, &["put", "other", "v", &lease]);
        // Shows the names of attached keys alice cannot read.
        timetolive_masked(s, &["lease", "timetolive", &hex, "--keys", ALICE]);
        timetolive_masked(s, &["lease", "timetolive", &hex, "--keys"]);
        as_user(s, ALICE, &["lease", "keep-alive", "--once", &hex]);
        // "Error: failed to revoke lease (etcdserver: permission denied)".
        as_user(s, ALICE, &["lease", "revoke", &hex]);
        s.ctl(&["lease", "revoke", &hex]);
        as_user(s, ROOT, &["get", "", "--from-key", "--keys-only"]);
        as_user(s, ROOT, &["lease", "revoke", &hex]);
        as_user(s, ROOT, &["lease", "revoke", &hex]);
        as_user(s, ROOT, &["get", "", "--from-key", "--keys-only"]);
        // A lease whose keys alice may all write: she may revoke it.
        let out = s.ctl(&["lease", "grant", "600"]);
        let hex2 = granted_lease_hex(&out.stdout);
        as_user(s, ALICE, &["put", "w/l", "v", &format!("--lease={hex2}")]);
        as_user(s, ALICE, &["put", "a/l2", "v", &format!("--lease={hex2}")]);
        as_user(s, ALICE, &["lease", "revoke", &hex2]);
        as_user(s, ROOT, &["get", "", "--from-key", "--keys-only"]);
        s.ctl(&["lease", "list"]);
        // A txn put with a lease on a denied key.
        let out = s.ctl(&["lease", "grant", "600"]);
        let hex3 = granted_lease_hex(&out.stdout);
        s.ctl_stdin(
            &["txn", ALICE],
            &txn_script(&[], &[&format!("put other t --lease={hex3}")], &[]),
        );
        s.ctl_stdin(
            &["txn", ALICE],
            &txn_script(&[], &[&format!("put a/t t --lease={hex3}")], &[]),
        );
        as_user(s, ALICE, &["lease", "revoke", &hex3]);
    });
}

#[test]
fn auth_compaction_and_maintenance_as_non_root() {
    diff_run(
        "auth_compaction_and_maintenance_as_non_root",
        ServerOpts::default(),
        |s| {
            kv_setup(s);
            for i in 0..6 {
                as_user(s, ROOT, &["put", "c", &format!("v{i}")]);
            }
            // Compaction is not permission-checked in etcd 3.4.
            s.ctl(&["compaction", "3"]);
            as_user(s, ALICE, &["compaction", "5"]);
            as_user(s, ALICE, &["compaction", "5"]);
            as_user(s, ALICE, &["compaction", "100"]);
            s.ctl(&["compaction", "--user=alice:bad", "6"]);
            as_user(s, ROOT, &["compaction", "7"]);
            as_user(s, ROOT, &["get", "c", "--rev=6"]);
            for creds in ["", ALICE, ROOT] {
                s.note(&format!("--- as {creds:?}"));
                as_user(s, creds, &["endpoint", "status", "-w", "json"]);
                as_user(s, creds, &["member", "list"]);
                as_user(s, creds, &["member", "list", "-w", "json"]);
                as_user(s, creds, &["alarm", "list"]);
                as_user(s, creds, &["alarm", "disarm"]);
                // "auth: user name is empty" / "auth: permission denied", code Unknown.
                as_user(s, creds, &["defrag"]);
                as_user(s, creds, &["endpoint", "hashkv", "-w", "json"]);
                as_user(s, creds, &["endpoint", "health"]);
                as_user(s, creds, &["move-leader", "1234"]);
                as_user(s, creds, &["member", "remove", "1234"]);
                as_user(
                    s,
                    creds,
                    &["member", "update", "1234", "--peer-urls=http://127.0.0.1:1"],
                );
                as_user(s, creds, &["member", "promote", "1234"]);
            }
            // A learner would not change the quorum, but must be refused anyway.
            s.ctl(&[
                "member",
                "add",
                "x",
                "--peer-urls=http://127.0.0.1:1",
                "--learner",
            ]);
            as_user(
                s,
                ALICE,
                &[
                    "member",
                    "add",
                    "x",
                    "--peer-urls=http://127.0.0.1:1",
                    "--learner",
                ],
            );
            as_user(s, ROOT, &["member", "list"]);
        },
    );
}

/// `--auth-token-ttl` is accepted and etcdctl (which authenticates on every run) works across
/// the expiry of earlier tokens.
#[test]
fn auth_token_ttl_flag() {
    diff_run(
        "auth_token_ttl_flag",
        ServerOpts::with_args(&["--auth-token-ttl=2"]),
        |s| {
            kv_setup(s);
            as_user(s, ALICE, &["put", "a/1", "x"]);
            std::thread::sleep(Duration::from_secs(3));
            as_user(s, ALICE, &["get", "a/1"]);
            as_user(s, ALICE, &["get", "other"]);
        },
    );
}
