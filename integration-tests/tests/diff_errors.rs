//! Differential error tests: exact error texts, gRPC codes (visible in etcdctl's retry log
//! line) and exit codes for invalid requests, limits and revision errors.

use oxcd_integration_tests::{diff_run, txn_script, ServerOpts};

#[test]
fn empty_key_errors() {
    diff_run("empty_key_errors", ServerOpts::default(), |s| {
        s.ctl(&["get", ""]);
        s.ctl(&["put", "", "v"]);
        s.ctl(&["del", ""]);
        s.ctl_stdin(&["txn"], &txn_script(&[], &["put \"\" v"], &[]));
    });
}

#[test]
fn unknown_lease_errors() {
    diff_run("unknown_lease_errors", ServerOpts::default(), |s| {
        s.ctl(&["put", "k", "v", "--lease=1"]);
        s.ctl(&["lease", "revoke", "1234"]);
        s.ctl(&["lease", "timetolive", "1234"]);
        s.ctl(&["lease", "timetolive", "1234", "-w", "json"]);
        s.ctl(&["get", "k"]);
    });
}

#[test]
fn request_too_large() {
    diff_run(
        "request_too_large",
        ServerOpts::with_args(&["--max-request-bytes=4096"]),
        |s| {
            s.ctl_stdin(&["put", "small"], &"a".repeat(3000));
            s.ctl_stdin(&["put", "big"], &"a".repeat(5000));
            // Above max-request-bytes + 512 KiB gRPC overhead: rejected by gRPC itself.
            s.ctl_stdin(&["put", "huge"], &"a".repeat(600_000));
            s.ctl(&["get", "", "--from-key", "--keys-only"]);
        },
    );
}

#[test]
fn txn_too_many_ops() {
    diff_run(
        "txn_too_many_ops",
        ServerOpts::with_args(&["--max-txn-ops=3"]),
        |s| {
            let ok = txn_script(&[], &["put a 1", "put b 2", "put c 3"], &[]);
            s.ctl_stdin(&["txn"], &ok);
            let too_many = txn_script(&[], &["put a 1", "put b 2", "put c 3", "put d 4"], &[]);
            s.ctl_stdin(&["txn"], &too_many);
            let many_compares = txn_script(
                &[
                    r#"version("a") > "0""#,
                    r#"version("b") > "0""#,
                    r#"version("c") > "0""#,
                    r#"version("d") = "0""#,
                ],
                &["get a"],
                &[],
            );
            s.ctl_stdin(&["txn"], &many_compares);
            let many_failure = txn_script(&[], &[], &["get a", "get b", "get c", "get d"]);
            s.ctl_stdin(&["txn"], &many_failure);
            s.ctl(&["get", "", "--from-key", "-w", "json"]);
        },
    );
}

#[test]
fn txn_duplicate_key() {
    diff_run("txn_duplicate_key", ServerOpts::default(), |s| {
        s.ctl_stdin(&["txn"], &txn_script(&[], &["put a 1", "put a 2"], &[]));
        s.ctl_stdin(
            &["txn"],
            &txn_script(&[], &["put a/x 1", "del a/ --prefix"], &[]),
        );
        s.ctl_stdin(&["txn"], &txn_script(&[], &["del a", "put a 1"], &[]));
        // Duplicates in the branch that would not run are still rejected.
        s.ctl_stdin(
            &["txn"],
            &txn_script(&[], &["put ok 1"], &["put b 1", "put b 2"]),
        );
        // Two deletes of the same key are fine.
        s.ctl_stdin(&["txn"], &txn_script(&[], &["del a", "del a"], &[]));
        s.ctl(&["get", "", "--from-key", "-w", "json"]);
    });
}

#[test]
fn revision_errors() {
    diff_run("revision_errors", ServerOpts::default(), |s| {
        for v in ["1", "2", "3", "4"] {
            s.ctl(&["put", "r", v]);
        }
        s.ctl(&["get", "r", "--rev=6"]);
        s.ctl(&["get", "r", "--rev=5", "-w", "json"]);
        s.ctl(&["compaction", "4"]);
        s.ctl(&["get", "r", "--rev=3"]);
        s.ctl(&["get", "r", "--rev=3", "--consistency=s"]);
        s.ctl(&["compaction", "4"]);
        s.ctl(&["compaction", "1"]);
        s.ctl(&["compaction", "6"]);
        s.ctl_stdin(&["txn"], &txn_script(&[], &["get r --rev=2"], &[]));
    });
}
