//! Differential transaction tests through `etcdctl txn` (interactive stdin mode): both
//! branches, every compare target and operator, multiple ops, JSON output.

use oxcd_integration_tests::{diff_run, txn_script, ServerOpts, Session};

fn txn(s: &mut Session, compares: &[&str], success: &[&str], failure: &[&str]) {
    let script = txn_script(compares, success, failure);
    s.ctl_stdin(&["txn"], &script);
}

fn txn_json(s: &mut Session, compares: &[&str], success: &[&str], failure: &[&str]) {
    let script = txn_script(compares, success, failure);
    s.ctl_stdin(&["txn", "-w", "json"], &script);
}

#[test]
fn txn_success_and_failure_branches() {
    diff_run(
        "txn_success_and_failure_branches",
        ServerOpts::default(),
        |s| {
            s.ctl(&["put", "k", "v1"]);
            txn(
                s,
                &[r#"value("k") = "v1""#],
                &["put k v2", "get k"],
                &["put k failed"],
            );
            txn(
                s,
                &[r#"value("k") = "v1""#],
                &["put k v3"],
                &["get k", "put f 1"],
            );
            txn_json(
                s,
                &[r#"value("k") = "v2""#],
                &["put k v3", "get k"],
                &["get f"],
            );
            txn_json(
                s,
                &[r#"value("k") = "nope""#],
                &["put k v4"],
                &["get k", "get f"],
            );
            s.ctl(&["get", "", "--from-key", "-w", "json"]);
        },
    );
}

#[test]
fn txn_compare_targets_and_operators() {
    diff_run(
        "txn_compare_targets_and_operators",
        ServerOpts::default(),
        |s| {
            s.ctl(&["put", "a", "m"]); // rev 2
            s.ctl(&["put", "b", "x"]); // rev 3
            s.ctl(&["put", "a", "n"]); // rev 4, version 2
            let cases = [
                r#"value("a") = "n""#,
                r#"value("a") > "m""#,
                r#"value("a") < "m""#,
                r#"value("a") != "n""#,
                r#"version("a") = "2""#,
                r#"version("a") > "1""#,
                r#"version("a") < "2""#,
                r#"version("a") != "3""#,
                r#"create("a") = "2""#,
                r#"create("b") > "2""#,
                r#"create("a") < "2""#,
                r#"create("b") != "3""#,
                r#"mod("a") = "4""#,
                r#"mod("b") < "4""#,
                r#"mod("a") > "4""#,
                r#"mod("b") != "3""#,
                r#"version("missing") = "0""#,
                r#"create("missing") = "0""#,
                r#"value("missing") = """#,
            ];
            for c in cases {
                txn(s, &[c], &["get a"], &["get b"]);
            }
            // Several compares: all must hold.
            txn(
                s,
                &[r#"value("a") = "n""#, r#"mod("b") = "3""#],
                &["put c yes"],
                &["put c no"],
            );
            txn(
                s,
                &[r#"value("a") = "n""#, r#"mod("b") = "99""#],
                &["put c yes"],
                &["put c no"],
            );
            s.ctl(&["get", "c", "-w", "json"]);
        },
    );
}

#[test]
fn txn_multiple_ops_and_json() {
    diff_run("txn_multiple_ops_and_json", ServerOpts::default(), |s| {
        s.ctl(&["put", "x/1", "a"]);
        s.ctl(&["put", "x/2", "b"]);
        txn_json(
            s,
            &[],
            &[
                "put x/3 c",
                "get x/ --prefix",
                "del x/1",
                "get x/ --prefix --keys-only",
                "put y z",
            ],
            &[],
        );
        txn_json(
            s,
            &[r#"version("x/1") = "0""#],
            &["del x/ --prefix", "get x/ --prefix --count-only"],
            &[],
        );
        // Read-only txn: revision stays.
        txn_json(s, &[], &["get y"], &[]);
        txn(s, &[], &[], &[]);
        s.ctl(&["get", "", "--from-key", "-w", "json"]);
    });
}

#[test]
fn txn_range_and_put_same_key_is_allowed() {
    diff_run(
        "txn_range_and_put_same_key_is_allowed",
        ServerOpts::default(),
        |s| {
            txn_json(s, &[], &["get k", "put k v", "get k"], &[]);
            txn_json(s, &[], &["put k2 v", "del k"], &[]);
        },
    );
}
