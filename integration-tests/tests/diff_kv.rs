//! Differential KV tests through etcdctl: put/get/del with every flag, ranges, sorting, output
//! formats, historical reads and compaction. Each test runs one script against a fresh etcd and
//! a fresh oxcd and requires identical normalised transcripts.

use oxcd_integration_tests::{diff_run, granted_lease_hex, ServerOpts, Session};

fn seed(s: &mut Session, kvs: &[(&str, &str)]) {
    for (k, v) in kvs {
        s.ctl(&["put", k, v]);
    }
}

#[test]
fn put_get_basic() {
    diff_run("put_get_basic", ServerOpts::default(), |s| {
        s.ctl(&["put", "foo", "bar"]);
        s.ctl(&["get", "foo"]);
        s.ctl(&["get", "foo", "-w", "json"]);
        s.ctl(&["get", "foo", "-w", "fields"]);
        s.ctl(&["get", "missing"]);
        s.ctl(&["get", "missing", "-w", "json"]);
        s.ctl(&["put", "foo", "baz", "-w", "json"]);
        s.ctl(&["put", "foo", "qux", "--prev-kv"]);
        s.ctl(&["put", "foo", "quux", "--prev-kv", "-w", "json"]);
        s.ctl(&["put", "new", "v", "--prev-kv", "-w", "json"]);
        s.ctl(&["put", "foo", "last", "-w", "fields"]);
        s.ctl(&["get", "foo", "-w", "json"]);
        // Values with spaces, unicode and an empty value.
        s.ctl(&["put", "sp ace", "a value with spaces"]);
        s.ctl(&["put", "uni", "h\u{e9}llo \u{2603}"]);
        s.ctl(&["put", "empty", ""]);
        s.ctl(&["get", "sp ace", "-w", "json"]);
        s.ctl(&["get", "uni"]);
        s.ctl(&["get", "empty", "-w", "json"]);
    });
}

#[test]
fn put_value_from_stdin() {
    diff_run("put_value_from_stdin", ServerOpts::default(), |s| {
        s.ctl_stdin(&["put", "stdin-key"], "value from stdin");
        s.ctl(&["get", "stdin-key", "-w", "json"]);
    });
}

#[test]
fn put_ignore_value_and_ignore_lease() {
    diff_run(
        "put_ignore_value_and_ignore_lease",
        ServerOpts::default(),
        |s| {
            s.ctl(&["put", "k", "v1"]);
            s.ctl(&["put", "k", "--ignore-value", "-w", "json"]);
            s.ctl(&["get", "k", "-w", "json"]);
            s.ctl(&["put", "k", "v2", "--ignore-lease", "-w", "json"]);
            s.ctl(&["get", "k", "-w", "json"]);
            s.ctl(&["put", "k", "--ignore-value", "--prev-kv", "-w", "json"]);
            // Errors on a missing key.
            s.ctl(&["put", "nokey", "--ignore-value"]);
            s.ctl(&["put", "nokey", "v", "--ignore-lease"]);
            // A value together with --ignore-value.
            s.ctl(&["put", "k", "v3", "--ignore-value"]);
            s.ctl(&["get", "k", "-w", "json"]);
        },
    );
}

#[test]
fn put_with_leases() {
    diff_run("put_with_leases", ServerOpts::default(), |s| {
        // An unknown lease.
        s.ctl(&["put", "k", "v", "--lease=1234abcd"]);
        let out = s.ctl(&["lease", "grant", "600"]);
        let hex = granted_lease_hex(&out.stdout);
        let id = u64::from_str_radix(&hex, 16).unwrap_or(0);
        let alias = s.alias_lease(id);
        s.note(&format!("granted lease {alias}"));
        s.ctl(&["put", "leased", "v1", &format!("--lease={hex}")]);
        s.ctl(&["get", "leased", "-w", "json"]);
        s.ctl(&["get", "leased", "-w", "fields"]);
        s.ctl(&["put", "leased", "v2", "--ignore-lease", "-w", "json"]);
        s.ctl(&["get", "leased", "-w", "json"]);
        // Both a lease and --ignore-lease.
        s.ctl(&[
            "put",
            "leased",
            "v3",
            &format!("--lease={hex}"),
            "--ignore-lease",
        ]);
        // A put without lease detaches the key.
        s.ctl(&["put", "leased", "v4"]);
        s.ctl(&["get", "leased", "-w", "json"]);
        s.ctl(&["lease", "revoke", &hex]);
        s.ctl(&["lease", "revoke", &hex]);
        s.ctl(&["put", "k", "v", &format!("--lease={hex}")]);
    });
}

#[test]
fn get_prefix_from_key_range_limit() {
    diff_run(
        "get_prefix_from_key_range_limit",
        ServerOpts::default(),
        |s| {
            seed(
                s,
                &[
                    ("a", "1"),
                    ("ab", "2"),
                    ("abc", "3"),
                    ("b", "4"),
                    ("c", "5"),
                    ("d", "6"),
                ],
            );
            s.ctl(&["get", "a", "--prefix"]);
            s.ctl(&["get", "a", "--prefix", "-w", "json"]);
            s.ctl(&["get", "a", "--prefix", "--limit=2", "-w", "json"]);
            s.ctl(&["get", "a", "--prefix", "--limit=2"]);
            s.ctl(&["get", "b", "--from-key"]);
            s.ctl(&["get", "b", "--from-key", "--limit=1", "-w", "json"]);
            s.ctl(&["get", "a", "c"]);
            s.ctl(&["get", "a", "c", "-w", "json"]);
            s.ctl(&["get", "c", "a"]);
            s.ctl(&["get", "zz", "--prefix", "-w", "json"]);
            s.ctl(&["get", "", "--prefix", "--limit=3"]);
            s.ctl(&["get", "", "--from-key", "--count-only", "-w", "json"]);
            s.ctl(&["get", "\u{0}", "--from-key", "--keys-only"]);
        },
    );
}

#[test]
fn get_sort_orders() {
    diff_run("get_sort_orders", ServerOpts::default(), |s| {
        // Distinct create, mod, version and value orders.
        seed(
            s,
            &[
                ("p/c", "x"),
                ("p/a", "z"),
                ("p/b", "y"),
                ("p/a", "w"),
                ("p/c", "v"),
                ("p/c", "u"),
            ],
        );
        for target in ["KEY", "VERSION", "CREATE", "MODIFY", "VALUE"] {
            for order in ["ASCEND", "DESCEND"] {
                s.ctl(&[
                    "get",
                    "p/",
                    "--prefix",
                    &format!("--sort-by={target}"),
                    &format!("--order={order}"),
                ]);
            }
        }
        s.ctl(&[
            "get",
            "p/",
            "--prefix",
            "--order=DESCEND",
            "--limit=2",
            "-w",
            "json",
        ]);
        s.ctl(&[
            "get",
            "p/",
            "--prefix",
            "--sort-by=VALUE",
            "--limit=1",
            "-w",
            "json",
        ]);
        s.ctl(&["get", "p/", "--prefix", "--sort-by=VERSION"]);
        s.ctl(&["get", "p/", "--prefix", "--order=BOGUS"]);
    });
}

#[test]
fn get_output_modes() {
    diff_run("get_output_modes", ServerOpts::default(), |s| {
        seed(s, &[("m/1", "one"), ("m/2", "two"), ("m/3", "three")]);
        s.ctl(&["get", "m/", "--prefix", "--keys-only"]);
        s.ctl(&["get", "m/", "--prefix", "--keys-only", "-w", "json"]);
        s.ctl(&["get", "m/", "--prefix", "--count-only"]);
        s.ctl(&["get", "m/", "--prefix", "--count-only", "-w", "json"]);
        s.ctl(&["get", "m/", "--prefix", "--count-only", "-w", "fields"]);
        s.ctl(&["get", "m/", "--prefix", "--print-value-only"]);
        s.ctl(&["get", "m/", "--prefix", "-w", "fields"]);
        s.ctl(&["get", "m/", "--prefix", "-w", "simple"]);
        s.ctl(&["get", "m/2", "--consistency=s", "-w", "json"]);
        s.ctl(&[
            "get",
            "m/",
            "--prefix",
            "--consistency=l",
            "--limit=1",
            "-w",
            "json",
        ]);
        s.ctl(&[
            "get",
            "m/",
            "--prefix",
            "--keys-only",
            "--limit=2",
            "-w",
            "fields",
        ]);
    });
}

#[test]
fn get_historical_revisions() {
    diff_run("get_historical_revisions", ServerOpts::default(), |s| {
        seed(s, &[("h", "v1"), ("h", "v2"), ("other", "x"), ("h", "v3")]);
        s.ctl(&["del", "h"]);
        s.ctl(&["put", "h", "v4"]);
        for rev in 0..=8 {
            s.ctl(&["get", "h", &format!("--rev={rev}"), "-w", "json"]);
        }
        s.ctl(&["get", "", "--from-key", "--rev=3"]);
        s.ctl(&["get", "h", "--rev=100"]);
    });
}

#[test]
fn del_variants() {
    diff_run("del_variants", ServerOpts::default(), |s| {
        seed(
            s,
            &[
                ("d/a", "1"),
                ("d/b", "2"),
                ("d/c", "3"),
                ("e", "4"),
                ("f", "5"),
                ("g", "6"),
                ("x", "7"),
            ],
        );
        s.ctl(&["del", "missing"]);
        s.ctl(&["del", "missing", "-w", "json"]);
        s.ctl(&["del", "d/a"]);
        s.ctl(&["del", "d/", "--prefix", "--prev-kv"]);
        s.ctl(&["del", "e", "g", "-w", "json"]);
        s.ctl(&["get", "", "--from-key"]);
        s.ctl(&["put", "y", "8"]);
        s.ctl(&["del", "g", "--from-key", "--prev-kv", "-w", "json"]);
        s.ctl(&["get", "", "--from-key", "-w", "json"]);
        s.ctl(&["del", "g", "--from-key", "-w", "fields"]);
    });
}

#[test]
fn compaction_and_compacted_reads() {
    diff_run(
        "compaction_and_compacted_reads",
        ServerOpts::default(),
        |s| {
            seed(s, &[("c", "1"), ("c", "2"), ("c", "3"), ("c", "4")]);
            s.ctl(&["compaction", "3"]);
            s.ctl(&["get", "c", "--rev=2"]);
            s.ctl(&["get", "c", "--rev=3", "-w", "json"]);
            s.ctl(&["get", "c", "--rev=4", "-w", "json"]);
            // At or below the compacted revision again.
            s.ctl(&["compaction", "3"]);
            s.ctl(&["compaction", "2"]);
            // Future revision.
            s.ctl(&["compaction", "100"]);
            s.ctl(&["compaction", "--physical", "4"]);
            s.ctl(&["get", "c", "--rev=3"]);
            s.ctl(&["get", "c", "-w", "json"]);
            s.ctl(&["put", "c", "5", "-w", "json"]);
            s.ctl(&["compaction", "6"]);
            s.ctl(&["get", "c", "--rev=5", "-w", "json"]);
        },
    );
}
