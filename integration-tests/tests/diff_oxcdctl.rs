//! The oxcdctl client differential: each script runs with etcdctl 3.4.23 against a fresh etcd
//! (the reference), with oxcdctl against another fresh etcd, and (for `CtlRuns::OnEtcdAndOxcd`)
//! with oxcdctl against a fresh oxcd; the normalised transcripts must be identical. Commands,
//! flags, argument errors, every output format a command has (simple, json, fields, table;
//! protobuf is decoded and compared message by message), exit codes and stderr, including
//! clientv3's "retrying of unary invoker failed" warnings.
//!
//! Normalised (random by nature): member and cluster IDs, lease IDs, the ID of a member the
//! script adds (registered with `alias_member`), ports, durations, timestamps, the client's
//! target name, remaining lease TTLs (masked by [`mask_remaining`]). Output with values that
//! differ between etcd and oxcd (db sizes and raft indexes in `endpoint status` text, the
//! server's version in `version`, the header etcd leaves out of an AlarmDisarm answer) is
//! compared on etcd only (`CtlRuns::OnEtcd`).
//!
//! The oxcdctl binary is `OXCDCTL_BIN`, else `oxcdctl` under `CARGO_TARGET_DIR` (a workspace
//! binary: `make test` builds it); a missing binary fails the tests.

use std::process::{Command, Stdio};

use oxcd_integration_tests::background::WATCH_SECS;
use oxcd_integration_tests::{
    diff_ctl_run, granted_lease_hex, txn_script, Background, CtlRuns, ServerOpts, Session,
};
use oxcd_proto::etcdserverpb::{
    DeleteRangeResponse, MemberListResponse, PutResponse, RangeResponse, ResponseHeader,
    TxnResponse, WatchResponse,
};
use prost::Message;

const BOTH: CtlRuns = CtlRuns::OnEtcdAndOxcd;

/// `lease grant <ttl>`, recorded; returns the hex ID.
fn grant(s: &mut Session, ttl: &str) -> String {
    let out = s.ctl(&["lease", "grant", ttl]);
    granted_lease_hex(&out.stdout)
}

/// Replaces the number after each of `markers` (up to a non-digit) with `<R>`.
fn mask_after(text: &str, markers: &[&str]) -> String {
    let mut out = text.to_string();
    for m in markers {
        let mut res = String::new();
        let mut rest = out.as_str();
        while let Some(pos) = rest.find(m) {
            let start = pos + m.len();
            res.push_str(&rest[..start]);
            let tail = &rest[start..];
            let digits = tail
                .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                .unwrap_or(tail.len());
            res.push_str(if digits > 0 { "<R>" } else { "" });
            rest = &tail[digits..];
        }
        res.push_str(rest);
        out = res;
    }
    out
}

/// Runs a command whose output shows a lease's remaining TTL (it depends on timing) and
/// records it with the remaining TTL masked.
fn mask_remaining(s: &mut Session, args: &[&str]) {
    let out = s.run(args, None);
    s.note(&format!("ctl {} (remaining TTL masked)", args.join(" ")));
    s.note(&format!("exit: {:?}", out.status));
    let masked = mask_after(
        &format!("{}{}", out.stdout, out.stderr),
        &["remaining(", "\"ttl\":", "\"TTL\" : "],
    );
    for line in masked.lines() {
        s.note(&format!("| {line}"));
    }
}

/// Records one background run's output.
fn record_background(s: &mut Session, what: &str, out: &oxcd_integration_tests::Output) {
    s.note(&format!("background {what} -> exit {:?}", out.status));
    for line in out.stdout.lines() {
        s.note(&format!("out| {line}"));
    }
    for line in out.stderr.lines() {
        s.note(&format!("err| {line}"));
    }
}

/// Runs `<ctl> <args>` in the background (watch, keep-alive) while `writes` run, then
/// records what it printed.
fn during<F: FnOnce(&mut Session)>(s: &mut Session, args: &[&str], writes: F) {
    let bin = s.ctl_bin().to_path_buf();
    let bg = Background::ctl(&bin, &s.server().endpoint(), args).expect("spawn background");
    let out = bg.finish_after(s, writes);
    record_background(s, &args.join(" "), &out);
}

/// Runs the session's ctl with `-w protobuf` unrecorded, decodes stdout as `M` and notes
/// the decoded message (IDs normalised by `note`).
fn protobuf<M: Message + Default + std::fmt::Debug>(s: &mut Session, args: &[&str]) {
    let out = Command::new(s.ctl_bin())
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg(format!("--endpoints={}", s.server().endpoint()))
        .args(args)
        .args(["-w", "protobuf"])
        .stdin(Stdio::null())
        .output()
        .expect("run ctl");
    let decoded = M::decode(out.stdout.as_slice())
        .map(|m| format!("{m:?}"))
        .unwrap_or_else(|e| format!("undecodable: {e}"));
    s.note(&format!(
        "ctl {} -w protobuf -> exit {:?}: {decoded}",
        args.join(" "),
        out.status.code()
    ));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for line in stderr.lines() {
        s.note(&format!("err| {line}"));
    }
}

/// Runs the session's ctl with extra environment variables, unrecorded, and notes its
/// output with pkg/flags' capnslog date prefix masked.
fn with_env(s: &mut Session, env: &[(&str, &str)], args: &[&str]) {
    let mut cmd = Command::new(s.ctl_bin());
    cmd.env("ETCDCTL_API", "3").env_remove("ETCDCTL_ENDPOINTS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .arg(format!("--endpoints={}", s.server().endpoint()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ctl");
    s.note(&format!(
        "env {env:?} ctl {} -> exit {:?}",
        args.join(" "),
        out.status.code()
    ));
    for (what, bytes) in [("out", &out.stdout), ("err", &out.stderr)] {
        for line in String::from_utf8_lossy(bytes).lines() {
            // "2024-01-02 03:04:05.678901 W | pkg/flags: ..." -> "<DATE> W | pkg/flags: ..."
            let line = match line.find(" | pkg/flags") {
                Some(i) if i >= 2 => format!("<DATE> {}", &line[i - 1..]),
                _ => line.to_string(),
            };
            s.note(&format!("{what}| {line}"));
        }
    }
}

#[test]
fn put_get_del_in_every_format() {
    diff_ctl_run("put_get_del", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put", "foo", "bar"]);
        s.ctl(&["put", "foo", "baz", "--prev-kv"]);
        s.ctl(&["put", "foo", "qux", "--prev-kv", "-w", "json"]);
        s.ctl(&["put", "foo", "q2", "--prev-kv", "-w", "fields"]);
        s.ctl(&["put", "foo", "q3", "-w", "table"]);
        s.ctl_stdin(&["put", "stdin-key"], "from stdin\nline two");
        s.ctl(&["put", "sp ace", "h\u{e9}llo \"quoted\" <tag> & \u{2603}"]);
        s.ctl(&["put", "--", "dash", "-value"]);
        for w in ["simple", "json", "fields"] {
            s.ctl(&["get", "foo", "-w", w]);
            s.ctl(&["get", "sp ace", "-w", w]);
            s.ctl(&["get", "missing", "-w", w]);
        }
        s.ctl(&["get", "foo", "-w", "table"]);
        s.ctl(&["get", "foo", "--hex"]);
        s.ctl(&["get", "foo", "--print-value-only"]);
        s.ctl(&["get", "foo", "--print-value-only", "-w", "json"]);
        for (k, v) in [
            ("a", "3"),
            ("ab", "1"),
            ("abc", "2"),
            ("b", "5"),
            ("c", "4"),
        ] {
            s.ctl(&["put", k, v]);
        }
        s.ctl(&["get", "a", "--prefix"]);
        s.ctl(&["get", "a", "--prefix", "--keys-only", "-w", "json"]);
        s.ctl(&["get", "a", "--prefix", "--limit=2", "-w", "fields"]);
        s.ctl(&["get", "b", "--from-key"]);
        s.ctl(&["get", "a", "c"]);
        s.ctl(&["get", "", "--prefix", "--keys-only"]);
        s.ctl(&["get", "", "--from-key", "--limit", "2", "-w", "json"]);
        for target in ["KEY", "CREATE", "MODIFY", "VALUE", "VERSION"] {
            s.ctl(&[
                "get",
                "a",
                "--prefix",
                "--sort-by",
                target,
                "--order=DESCEND",
            ]);
        }
        s.ctl(&["get", "a", "--prefix", "--sort-by=value"]);
        s.ctl(&["get", "a", "--prefix", "--order=ascend", "--consistency=s"]);
        s.ctl(&["get", "foo", "--rev=2", "-w", "json"]);
        s.ctl(&["del", "nothing"]);
        s.ctl(&["del", "foo", "--prev-kv"]);
        s.ctl(&["del", "a", "--prefix", "--prev-kv", "-w", "json"]);
        s.ctl(&["del", "b", "--from-key", "-w", "fields"]);
        s.ctl(&["put", "x1", "1"]);
        s.ctl(&["put", "x2", "2"]);
        s.ctl(&["del", "x1", "x3"]);
        s.ctl(&["put", "k", "v1"]);
        s.ctl(&["put", "k", "--ignore-value", "-w", "json"]);
        s.ctl(&["put", "k", "v2", "--ignore-lease", "--prev-kv"]);
        s.ctl(&["put", "nokey", "--ignore-value"]);
        protobuf::<PutResponse>(s, &["put", "pb", "v"]);
        protobuf::<RangeResponse>(s, &["get", "pb"]);
        protobuf::<DeleteRangeResponse>(s, &["del", "pb", "--prev-kv"]);
    });
}

#[test]
fn kv_argument_errors() {
    diff_ctl_run("kv_argument_errors", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put"]);
        s.ctl(&["put", "k"]);
        s.ctl(&["put", "k", "v", "--ignore-value"]);
        s.ctl(&["put", "k", "v", "--lease=zz"]);
        s.ctl(&["put", "k", "v", "--lease=1234"]);
        s.ctl(&["put", "k", "v", "-w", "xml"]);
        s.ctl(&["get"]);
        s.ctl(&["get", "a", "--prefix", "--from-key"]);
        s.ctl(&["get", "a", "b", "--prefix"]);
        s.ctl(&["get", "a", "--consistency=x"]);
        s.ctl(&["get", "a", "--order=sideways"]);
        s.ctl(&["get", "a", "--sort-by=size"]);
        s.ctl(&["get", "a", "--rev=100"]);
        s.ctl(&["get", "", "-w", "json"]);
        s.ctl(&["del"]);
        s.ctl(&["del", "a", "b", "c"]);
        s.ctl(&["del", "a", "--prefix", "--from-key"]);
        s.ctl(&["del", "a", "b", "--from-key"]);
        s.ctl(&["compaction"]);
        s.ctl(&["compaction", "x"]);
        s.ctl(&["compaction", "100"]);
    });
}

#[test]
fn mirror_and_check_argument_errors() {
    diff_ctl_run(
        "mirror_and_check_argument_errors",
        ServerOpts::default(),
        BOTH,
        |s| {
            let dest = s.server().endpoint();
            s.ctl(&["make-mirror"]);
            s.ctl(&["make-mirror", "a", "b"]);
            s.ctl(&["make-mirror", "--dest-prefix=x/", "--no-dest-prefix", &dest]);
            s.ctl(&["check", "perf", "--load=q"]);
            s.ctl(&["check", "datascale", "--load", "huge"]);
            s.ctl(&["put", "/etcdctl-check-perf/k", "v"]);
            s.ctl(&["check", "perf"]);
            s.ctl(&["put", "/p/k", "v"]);
            s.ctl(&["check", "datascale", "--prefix=/p/"]);
        },
    );
}

#[test]
fn txn_and_compaction() {
    diff_ctl_run("txn_and_compaction", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put", "k", "v1"]);
        s.ctl(&["put", "k", "v2"]);
        let script = txn_script(
            &[
                r#"value("k") = "v2""#,
                r#"mod("k") > "1""#,
                r#"ver("k") != "7""#,
            ],
            &["put a 1", "get k", "del nothing", r#"put "q k" "q v""#],
            &["put b 2"],
        );
        s.ctl_stdin(&["txn"], &script);
        s.ctl_stdin(&["txn", "-w", "json"], &script);
        s.ctl_stdin(&["txn", "-w", "fields"], &script);
        let failing = txn_script(
            &[r#"create("k") < "2""#, r#"c("a") = "0""#],
            &["put never x"],
            &["get k --keys-only", "del a --prev-kv", "put k v3 --prev-kv"],
        );
        s.ctl_stdin(&["txn", "-i"], &failing);
        s.ctl_stdin(
            &["txn", "--interactive", "-w", "json"],
            &txn_script(&[], &[], &[]),
        );
        s.ctl_stdin(&["txn"], &txn_script(&[r#"value("k")="v3""#], &[], &[]));
        s.ctl_stdin(&["txn"], &txn_script(&[r#"bad("k") = "1""#], &[], &[]));
        s.ctl_stdin(&["txn"], &txn_script(&[r#"ver("k") = "x""#], &[], &[]));
        s.ctl_stdin(&["txn"], &txn_script(&["value k"], &[], &[]));
        s.ctl_stdin(&["txn"], &txn_script(&[], &["put onlykey"], &[]));
        s.ctl_stdin(&["txn"], &txn_script(&[], &["frob a b"], &[]));
        s.ctl_stdin(&["txn"], &txn_script(&[], &["put k v --lease=zz"], &[]));
        s.ctl_stdin(&["txn"], "\n\nput x y");
        s.ctl_stdin(&["txn"], "");
        s.ctl(&["txn", "extra"]);
        s.ctl(&["compaction", "3"]);
        s.ctl(&["compaction", "3"]);
        s.ctl(&["compaction", "2", "--physical"]);
        s.ctl(&["compaction", "4", "--physical"]);
        s.ctl(&["get", "k", "--rev=2"]);
    });
}

#[test]
fn txn_protobuf() {
    diff_ctl_run("txn_protobuf", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put", "k", "v"]);
        let script = txn_script(&[r#"value("k") = "v""#], &["get k", "put k w"], &[]);
        let out = Command::new(s.ctl_bin())
            .env_remove("ETCDCTL_ENDPOINTS")
            .arg(format!("--endpoints={}", s.server().endpoint()))
            .args(["txn", "-w", "protobuf"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            })
            .expect("run ctl txn");
        let decoded = TxnResponse::decode(out.stdout.as_slice())
            .map(|m| format!("{m:?}"))
            .unwrap_or_else(|e| format!("undecodable: {e}"));
        s.note(&format!("txn -w protobuf -> {decoded}"));
    });
}

#[test]
fn leases() {
    diff_ctl_run("leases", ServerOpts::default(), BOTH, |s| {
        let hex = grant(s, "600");
        s.ctl(&["lease", "grant", "700", "-w", "json"]);
        let short = grant(s, "9");
        s.ctl(&["lease", "revoke", &short]);
        s.ctl(&["lease", "grant", "800", "-w", "fields"]);
        s.ctl(&["lease", "grant", "x"]);
        s.ctl(&["lease", "grant"]);
        s.ctl(&["lease", "grant", "9000000001"]);
        s.ctl(&["put", "leased", "v", &format!("--lease={hex}")]);
        s.ctl(&["get", "leased", "-w", "json"]);
        for w in ["simple", "json", "fields"] {
            mask_remaining(s, &["lease", "timetolive", &hex, "--keys", "-w", w]);
            mask_remaining(s, &["lease", "timetolive", &hex, "-w", w]);
        }
        s.ctl(&["lease", "timetolive", "1234"]);
        s.ctl(&["lease", "timetolive", "1234", "-w", "json"]);
        s.ctl(&["lease", "timetolive", "zz"]);
        s.ctl(&["lease", "timetolive"]);
        for w in ["simple", "json", "fields"] {
            s.ctl(&["lease", "keep-alive", "--once", &hex, "-w", w]);
        }
        s.ctl(&["lease", "keep-alive", "--once", "1234"]);
        s.ctl(&["lease", "keep-alive"]);
        s.ctl(&["lease", "revoke", "1234"]);
        s.ctl(&["lease", "revoke", "zz"]);
        s.ctl(&["lease", "revoke"]);
        s.ctl(&["lease", "revoke", &hex, "-w", "table"]);
        // (No `lease list` here: etcd lists several leases in map order.)
        s.ctl(&["get", "leased"]);
    });
}

#[test]
fn lease_list_and_keep_alive() {
    diff_ctl_run(
        "lease_list_and_keep_alive",
        ServerOpts::default(),
        BOTH,
        |s| {
            s.ctl(&["lease", "list"]);
            // TTL 9: one renewal before the revoke (1.2 s in); the next, 3 s in, finds the
            // lease gone.
            let hex = grant(s, "9");
            for w in ["simple", "json", "fields"] {
                s.ctl(&["lease", "list", "-w", w]);
            }
            // keep-alive prints each renewal until the lease is revoked.
            during(s, &["lease", "keep-alive", &hex], |s| {
                s.ctl(&["lease", "revoke", &hex]);
            });
            let hex = grant(s, "60");
            during(s, &["lease", "keep-alive", &hex, "-w", "json"], |s| {
                s.ctl(&["lease", "revoke", &hex]);
            });
            s.ctl(&["lease", "keep-alive", "--once", &hex]);
        },
    );
}

#[test]
fn watch_in_every_format() {
    diff_ctl_run("watch_in_every_format", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put", "w/old", "0"]);
        for w in ["simple", "json", "fields"] {
            during(s, &["watch", "w/", "--prefix", "--prev-kv", "-w", w], |s| {
                s.ctl(&["put", "w/a", "1"]);
                s.ctl(&["put", "other", "x"]);
                s.ctl(&["put", "w/a", "2"]);
                s.ctl(&["del", "w/a"]);
            });
        }
        during(s, &["watch", "w/old", "--rev=1", "--hex"], |_| {});
        during(s, &["watch", "a", "c"], |s| {
            s.ctl(&["put", "b", "in"]);
            s.ctl(&["put", "c", "out"]);
        });
        during(
            s,
            &[
                "watch",
                "w/",
                "--prefix",
                "--",
                "sh",
                "-c",
                "echo \"$ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE\"",
            ],
            |s| {
                s.ctl(&["put", "w/exec", "run"]);
            },
        );
        s.ctl(&["watch"]);
        s.ctl(&["watch", "a", "b", "--prefix"]);
        s.ctl(&["watch", "a", "--"]);
        s.ctl(&["watch", "-i"]);
        for i in 0..4 {
            s.ctl(&["put", "c", &format!("v{i}")]);
        }
        s.ctl(&["compaction", "12"]);
        during(s, &["watch", "c", "--rev=2"], |_| {});
    });
}

#[test]
fn members() {
    diff_ctl_run("members", ServerOpts::default(), BOTH, |s| {
        for w in ["simple", "json", "fields"] {
            s.ctl(&["member", "list", "-w", w]);
        }
        masked_table(s, &["member", "list", "-w", "table"]);
        protobuf::<MemberListResponse>(s, &["member", "list"]);
        s.ctl(&["member", "add", "x"]);
        s.ctl(&["member", "add", "x", "y", "http://a"]);
        s.ctl(&["member", "add", "x", "--peer-urls=bad"]);
        s.ctl(&["member", "remove"]);
        s.ctl(&["member", "remove", "zz"]);
        s.ctl(&["member", "remove", "1234"]);
        s.ctl(&["member", "update", "1234"]);
        s.ctl(&["member", "update", "1234", "--peer-urls=http://127.0.0.1:1"]);
        s.ctl(&["member", "promote", "1234"]);
        let own = format!("{:x}", s.server().member_id().unwrap_or(0));
        s.ctl(&["member", "promote", &own]);
        // A learner that never starts: its ID is random, registered before it is printed.
        let out = s.run(
            &[
                "member",
                "add",
                "l1",
                "--learner",
                "--peer-urls=http://127.0.0.1:1",
            ],
            None,
        );
        let id = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("Member "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or(0);
        let alias = s.alias_member(id);
        s.note(&format!(
            "member add l1 --learner -> exit {:?}, id {alias}",
            out.status
        ));
        for line in out.stdout.lines().chain(out.stderr.lines()) {
            // The ETCD_INITIAL_CLUSTER list follows the member order (by random ID).
            let line = match line.strip_prefix("ETCD_INITIAL_CLUSTER=") {
                Some(list) => {
                    let mut items: Vec<&str> = list.trim_matches('"').split(',').collect();
                    items.sort();
                    format!("ETCD_INITIAL_CLUSTER=(sorted) {}", items.join(","))
                }
                None => line.to_string(),
            };
            s.note(&format!("| {line}"));
        }
        // Zero-padded: a 15-digit ID printed with etcdctl's `%16x` has a space for a
        // leading zero, which the normaliser takes with the ID.
        let hex = format!("{id:016x}");
        s.ctl(&["member", "update", &hex, "--peer-urls=http://127.0.0.1:2"]);
        s.ctl(&[
            "member",
            "update",
            &hex,
            "--peer-urls=http://127.0.0.1:3",
            "-w",
            "fields",
        ]);
        s.ctl(&["member", "promote", &hex]);
        s.ctl(&["member", "remove", &hex]);
        s.ctl(&["member", "remove", &hex, "-w", "json"]);
        s.ctl(&["member", "list"]);
    });
}

#[test]
fn endpoints_and_maintenance() {
    diff_ctl_run(
        "endpoints_and_maintenance",
        ServerOpts::default(),
        BOTH,
        |s| {
            s.ctl(&["put", "k", "v"]);
            for w in ["json", "fields"] {
                s.ctl(&["endpoint", "status", "-w", w]);
                s.ctl(&["endpoint", "status", "--cluster", "-w", w]);
                s.ctl(&["endpoint", "health", "-w", w]);
            }
            for w in ["simple", "json", "fields", "table"] {
                s.ctl(&["endpoint", "hashkv", "-w", w]);
            }
            s.ctl(&["endpoint", "hashkv", "--rev=2"]);
            s.ctl(&["endpoint", "hashkv", "--rev=100"]);
            s.ctl(&["endpoint", "hashkv", "--cluster"]);
            s.ctl(&["endpoint", "health"]);
            s.ctl(&["endpoint", "health", "--cluster"]);
            s.ctl(&["endpoint", "status", "-w", "protobuf"]);
            for w in ["simple", "json", "protobuf"] {
                s.ctl(&["alarm", "list", "-w", w]);
            }
            s.ctl(&["alarm", "list", "-w", "table"]);
            s.ctl(&["alarm", "disarm"]);
            s.ctl(&["alarm", "list", "extra"]);
            s.ctl(&["defrag"]);
            s.ctl(&["defrag", "--cluster"]);
            s.ctl(&["move-leader"]);
            s.ctl(&["move-leader", "zz"]);
            s.ctl(&["move-leader", "1234"]);
            s.ctl(&["move-leader", "1234", "-w", "json"]);
        },
    );
}

#[test]
fn endpoint_text_and_tables_on_etcd() {
    // db size and raft indexes differ between etcd and oxcd by design: oxcdctl's text and
    // tables are compared with etcdctl's on the same server kind.
    diff_ctl_run(
        "endpoint_text_and_tables_on_etcd",
        ServerOpts::default(),
        CtlRuns::OnEtcd,
        |s| {
            s.ctl(&["put", "k", "v"]);
            for args in [
                &["endpoint", "status"][..],
                &["endpoint", "status", "-w", "table"],
                &["endpoint", "status", "--cluster", "-w", "table"],
            ] {
                masked_table(s, args);
            }
            masked_table(s, &["member", "list", "-w", "table"]);
            s.ctl(&["endpoint", "hashkv", "-w", "table"]);
            // etcdctl's own version (the normaliser knows only the server's).
            s.ctl(&["version"]);
            // etcd 3.4 answers AlarmDisarm without a header; oxcd sends one.
            s.ctl(&["alarm", "disarm", "-w", "json"]);
        },
    );
}

#[test]
fn auth_users_and_roles() {
    diff_ctl_run("auth_users_and_roles", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["auth", "enable"]);
        s.ctl(&["user", "add", "root:rootpw"]);
        s.ctl(&["user", "add", "alice", "--new-user-password=a"]);
        s.ctl_stdin(&["user", "add", "bob", "--interactive=false"], "bobpw\n");
        s.ctl(&["user", "add", "cn-only", "--no-password", "-w", "json"]);
        s.ctl(&["user", "add", ":x"]);
        s.ctl(&["user", "add", "alice:dup"]);
        s.ctl(&["user", "add"]);
        for w in ["simple", "json", "fields"] {
            s.ctl(&["user", "list", "-w", w]);
            s.ctl(&["user", "get", "alice", "-w", w]);
        }
        s.ctl(&["user", "get", "missing"]);
        s.ctl(&["role", "add", "r1"]);
        s.ctl(&["role", "add", "r1"]);
        s.ctl(&["role", "add", "r2", "-w", "fields"]);
        s.ctl(&["role", "grant-permission", "r1", "readwrite", "a", "b"]);
        s.ctl(&["role", "grant-permission", "r1", "read", "p/", "--prefix"]);
        s.ctl(&["role", "grant-permission", "r1", "write", "f", "--from-key"]);
        s.ctl(&[
            "role",
            "grant-permission",
            "r1",
            "write",
            "",
            "--prefix",
            "-w",
            "json",
        ]);
        s.ctl(&["role", "grant-permission", "r1", "read", "single"]);
        s.ctl(&["role", "grant-permission", "r1", "bogus", "k"]);
        s.ctl(&[
            "role",
            "grant-permission",
            "r1",
            "read",
            "k",
            "e",
            "--prefix",
        ]);
        s.ctl(&["role", "grant-permission", "r1", "read"]);
        s.ctl(&["role", "grant-permission", "nosuch", "read", "k"]);
        for w in ["simple", "json", "fields"] {
            s.ctl(&["role", "get", "r1", "-w", w]);
            s.ctl(&["role", "list", "-w", w]);
        }
        s.ctl(&["user", "grant-role", "alice", "r1"]);
        s.ctl(&["user", "grant-role", "alice", "r2", "-w", "json"]);
        s.ctl(&["user", "grant-role", "alice", "missing"]);
        s.ctl(&["user", "grant-role", "alice"]);
        s.ctl(&["user", "get", "alice", "--detail"]);
        s.ctl(&["user", "revoke-role", "alice", "r2"]);
        s.ctl(&["user", "revoke-role", "alice", "r2"]);
        s.ctl(&["role", "revoke-permission", "r1", "a", "b"]);
        s.ctl(&["role", "revoke-permission", "r1", "p/", "--prefix"]);
        s.ctl(&["role", "revoke-permission", "r1", "f", "--from-key"]);
        s.ctl(&["role", "revoke-permission", "r1", "single", "-w", "json"]);
        s.ctl(&["role", "revoke-permission", "r1", "nothing"]);
        s.ctl_stdin(
            &["user", "passwd", "alice", "--interactive=false"],
            "newpw\n",
        );
        s.ctl(&["user", "delete", "cn-only"]);
        s.ctl(&["user", "delete", "cn-only"]);
        s.ctl(&["role", "delete", "r2", "-w", "json"]);
        s.ctl(&["auth", "enable"]);
        s.ctl(&["get", "k"]);
        s.ctl(&["put", "a", "1", "--user=alice:newpw"]);
        s.ctl(&["put", "zzz", "1", "--user=alice:newpw"]);
        s.ctl(&["get", "a", "--user=alice", "--password=newpw"]);
        s.ctl(&["get", "a", "--user=root:wrong"]);
        s.ctl(&["user", "list", "--user=root:rootpw"]);
        s.ctl(&["role", "get", "root", "--user=root:rootpw"]);
        s.ctl(&["endpoint", "health", "--user=alice:newpw", "-w", "json"]);
        s.ctl(&["auth", "disable", "--user=alice:newpw"]);
        s.ctl(&["auth", "disable", "--user=root:rootpw"]);
        s.ctl(&["auth", "disable"]);
        s.ctl(&["get", "a", "--user=root:rootpw"]);
    });
}

#[test]
fn global_flags_and_environment() {
    diff_ctl_run(
        "global_flags_and_environment",
        ServerOpts::default(),
        BOTH,
        |s| {
            s.ctl(&["put", "k", "v"]);
            with_env(s, &[("ETCDCTL_WRITE_OUT", "json")], &["get", "k"]);
            with_env(s, &[("ETCDCTL_HEX", "true")], &["get", "k"]);
            with_env(
                s,
                &[("ETCDCTL_WRITE_OUT", "json")],
                &["get", "k", "-w", "fields"],
            );
            with_env(s, &[("ETCDCTL_BOGUS", "1")], &["get", "k"]);
            with_env(s, &[("ETCDCTL_WATCH_KEY", "k")], &["get", "k"]);
            with_env(s, &[("ETCDCTL_ENDPOINTS", "127.0.0.1:1")], &["get", "k"]);
            s.ctl(&[
                "get",
                "k",
                "--hex=true",
                "--command-timeout=3s",
                "--dial-timeout=1s",
            ]);
            s.ctl(&["get", "k", "--write-out=fields", "--keepalive-time=1s"]);
            s.ctl(&["--debug=false", "get", "k"]);
            s.ctl(&["get", "k", "-w", "xml"]);
            s.ctl(&["get", "k", "--cert="]);
        },
    );
}

#[test]
fn watch_protobuf() {
    diff_ctl_run("watch_protobuf", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put", "k", "v"]);
        let out = Command::new("timeout")
            .args(["-s", "TERM", &WATCH_SECS.to_string()])
            .arg(s.ctl_bin())
            .arg(format!("--endpoints={}", s.server().endpoint()))
            .args(["watch", "k", "--rev=2", "-w", "protobuf"])
            .stdin(Stdio::null())
            .output()
            .expect("run ctl watch");
        let decoded = WatchResponse::decode(out.stdout.as_slice())
            .map(|mut m| {
                // Only the fields etcdctl's printer keeps are compared.
                let h = m.header.take().unwrap_or_default();
                format!(
                    "header(rev {}), events {:?}, compact {}, canceled {}, created {}; ids {}",
                    h.revision,
                    m.events,
                    m.compact_revision,
                    m.canceled,
                    m.created,
                    ids(&h)
                )
            })
            .unwrap_or_else(|e| format!("undecodable: {e}"));
        s.note(&format!(
            "watch -w protobuf -> {:?}: {decoded}",
            out.status.code()
        ));
    });
}

/// Runs a command unrecorded and notes it with the digits of a db size masked (bbolt's
/// file grows with the timing of its commits, also between two etcds) and, in table
/// borders and rows, runs of spaces and dashes squeezed: a table's column widths follow
/// its member IDs, and a random ID has 15 hex digits one time in 16. (The layout itself
/// is compared on tables without IDs, and unit-tested.)
fn masked_table(s: &mut Session, args: &[&str]) {
    let out = s.run(args, None);
    s.note(&format!(
        "ctl {} (db size and widths masked) -> exit {:?}",
        args.join(" "),
        out.status
    ));
    for line in out.stdout.lines().chain(out.stderr.lines()) {
        let mut masked = line.to_string();
        for unit in [" kB", " MB", " B"] {
            if let Some(end) = masked.find(unit) {
                let start = masked[..end]
                    .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .map_or(0, |i| i + 1);
                let digits = "N".repeat(end - start);
                masked.replace_range(start..end, &digits);
                break;
            }
        }
        if masked.starts_with('+') || masked.starts_with('|') {
            let mut squeezed = String::new();
            for c in masked.chars() {
                if (c == ' ' || c == '-') && squeezed.ends_with(c) {
                    continue;
                }
                squeezed.push(c);
            }
            masked = squeezed;
        }
        s.note(&format!("| {masked}"));
    }
}

/// A header's IDs in decimal (the note normalises the server's own).
fn ids(h: &ResponseHeader) -> String {
    format!("{} {}", h.cluster_id, h.member_id)
}

/// Masks the session lease in `name/<lease hex>` keys (a lease the command granted
/// itself, never printed otherwise).
fn mask_sessions(text: &str, names: &[&str]) -> String {
    let mut out = text.to_string();
    for name in names {
        let pfx = format!("{name}/");
        let mut res = String::new();
        let mut rest = out.as_str();
        while let Some(pos) = rest.find(&pfx) {
            let start = pos + pfx.len();
            res.push_str(&rest[..start]);
            let tail = &rest[start..];
            let hex = tail
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(tail.len());
            res.push_str(if hex > 0 { "<SESSION>" } else { "" });
            rest = &tail[hex..];
        }
        res.push_str(rest);
        out = res;
    }
    out
}

/// Runs the session's ctl unrecorded and notes its exit and output, sessions masked.
fn note_masked(s: &mut Session, args: &[&str], names: &[&str]) {
    let out = s.run(args, None);
    s.note(&format!("ctl {} -> exit {:?}", args.join(" "), out.status));
    for (what, text) in [("out", &out.stdout), ("err", &out.stderr)] {
        for line in mask_sessions(text, names).lines() {
            s.note(&format!("{what}| {line}"));
        }
    }
}

#[test]
fn lock_and_elect() {
    diff_ctl_run("lock_and_elect", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["lock"]);
        s.ctl(&["elect"]);
        s.ctl(&["elect", "e"]);
        s.ctl(&["elect", "e", "p", "-l"]);
        note_masked(
            s,
            &["lock", "L", "--", "sh", "-c", "echo key=$ETCD_LOCK_KEY"],
            &["L"],
        );
        s.ctl(&["lock", "L", "false"]);
        // A second locker waits until the first (ended by timeout's SIGTERM) unlocks.
        let bin = s.ctl_bin().to_path_buf();
        let first = Background::ctl(&bin, &s.server().endpoint(), &["lock", "L"])
            .expect("spawn background lock");
        std::thread::sleep(std::time::Duration::from_millis(1200));
        note_masked(s, &["get", "L", "--prefix", "--keys-only"], &["L"]);
        note_masked(s, &["lock", "L", "--", "echo", "second holder"], &["L"]);
        let out = first.finish();
        s.note(&format!("background lock L -> exit {:?}", out.status));
        s.note(&mask_sessions(&out.stdout, &["L"]));
        s.ctl(&["get", "L", "--prefix"]);
        // A campaign holds the election until SIGTERM; an observer sees the leader.
        let leader = Background::ctl(&bin, &s.server().endpoint(), &["elect", "E", "p1"])
            .expect("spawn background elect");
        std::thread::sleep(std::time::Duration::from_millis(1200));
        note_masked(s, &["get", "E", "--prefix"], &["E"]);
        let out = leader.finish();
        s.note(&format!("background elect E p1 -> exit {:?}", out.status));
        s.note(&mask_sessions(&out.stdout, &["E"]));
        s.ctl(&["get", "E", "--prefix", "--keys-only"]);
    });
}

/// Runs `bin` against the https `endpoint` with `tls` flags; (exit code, stdout, stderr).
fn tls_run(
    bin: &std::path::Path,
    endpoint: &str,
    tls: &[String],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut all: Vec<&str> = tls.iter().map(String::as_str).collect();
    all.extend(["--dial-timeout=2s", "--command-timeout=3s"]);
    all.extend_from_slice(args);
    let out = oxcd_integration_tests::etcdctl::ctl_raw(
        bin,
        endpoint,
        &all,
        None,
        std::time::Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{} {args:?} did not finish: {e}", bin.display()));
    (out.status, out.stdout, out.stderr)
}

/// oxcdctl over client mTLS (`--cacert`/`--cert`/`--key`, `--insecure-skip-tls-verify`) on
/// a member of each kind serving client mTLS: the same answers as etcdctl's on the same
/// member, and the same refusals (exit codes) without a client certificate.
#[test]
fn tls_flags() {
    use oxcd_integration_tests::certs::TestPki;
    use oxcd_integration_tests::{kind_available, oxcdctl_available, Cluster, ClusterTls, Kind};
    let oxcdctl = oxcdctl_available();
    let etcdctl = oxcd_integration_tests::etcdctl::etcdctl_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::generate(dir.path()).expect("certificates");
    for kind in [Kind::Etcd, Kind::Oxcd] {
        assert!(kind_available(kind), "{} binary missing", kind.label());
        let member_args = [
            format!("--cert-file={}", pki.server.cert.display()),
            format!("--key-file={}", pki.server.key.display()),
            format!("--trusted-ca-file={}", pki.ca.display()),
            "--client-cert-auth".to_string(),
        ];
        let argv: Vec<&str> = member_args.iter().map(String::as_str).collect();
        let good = pki.client.ctl_args(&pki.ca);
        let c = Cluster::start_tls(
            kind,
            1,
            &argv,
            ClusterTls {
                client: true,
                peer: false,
                ctl_args: good.clone(),
            },
        )
        .unwrap_or_else(|e| panic!("start {} with client mTLS: {e}", kind.label()));
        let ep = c.endpoint(0);
        let skip_verify = vec![
            "--insecure-skip-tls-verify".to_string(),
            format!("--cert={}", pki.client.cert.display()),
            format!("--key={}", pki.client.key.display()),
        ];
        let no_client_cert = vec![format!("--cacert={}", pki.ca.display())];
        for (tls, args) in [
            (&good, &["put", "k", "v"][..]),
            (&good, &["get", "k"]),
            (&good, &["get", "k", "--print-value-only"]),
            (&good, &["member", "list"]),
            (&skip_verify, &["get", "k", "--print-value-only"]),
        ] {
            let want = tls_run(&etcdctl, &ep, tls, args);
            let got = tls_run(&oxcdctl, &ep, tls, args);
            assert_eq!(
                got,
                want,
                "{} over TLS {args:?} on {}",
                "oxcdctl",
                kind.label()
            );
            assert_eq!(want.0, Some(0), "etcdctl {args:?}: {want:?}");
        }
        let want = tls_run(&etcdctl, &ep, &no_client_cert, &["get", "k"]);
        let got = tls_run(&oxcdctl, &ep, &no_client_cert, &["get", "k"]);
        assert_eq!(
            (got.0, got.1.as_str()),
            (want.0, want.1.as_str()),
            "without a client certificate on {}: etcdctl {want:?}, oxcdctl {got:?}",
            kind.label()
        );
        assert_ne!(want.0, Some(0));
    }
}

/// One step of an interactive watch script.
enum Step<'a> {
    /// A line written to `watch -i`'s stdin.
    Line(&'a str),
    /// A command run (recorded) while the watch is live.
    Ctl(&'a [&'a str]),
    /// A pause, for the watch to print.
    Pause(u64),
}

/// Runs `watch -i <args>` with `steps` fed to it, closes its stdin (etcdctl then exits
/// with its EOF error) and records what it printed.
fn interactive_watch(s: &mut Session, args: &[&str], steps: &[Step<'_>]) {
    use std::io::Write;
    let mut child = Command::new(s.ctl_bin())
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg(format!("--endpoints={}", s.server().endpoint()))
        .args(["watch", "-i"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn watch -i");
    let mut stdin = child.stdin.take().expect("stdin");
    for step in steps {
        match step {
            Step::Line(l) => {
                let _ = writeln!(stdin, "{l}");
                let _ = stdin.flush();
            }
            Step::Ctl(args) => {
                s.ctl(args);
            }
            Step::Pause(ms) => std::thread::sleep(std::time::Duration::from_millis(*ms)),
        }
    }
    drop(stdin);
    let out = child.wait_with_output().expect("watch -i ends at EOF");
    let out = oxcd_integration_tests::Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
    };
    record_background(s, &format!("watch -i {}", args.join(" ")), &out);
}

#[test]
fn watch_interactive() {
    diff_ctl_run("watch_interactive", ServerOpts::default(), BOTH, |s| {
        s.ctl(&["put", "a", "0"]);
        interactive_watch(
            s,
            &[],
            &[
                Step::Line("watch a --prev-kv"),
                Step::Line("watch p --prefix"),
                Step::Pause(800),
                Step::Ctl(&["put", "a", "1"]),
                Step::Pause(400),
                Step::Ctl(&["put", "p/x", "2"]),
                Step::Pause(400),
                Step::Line("progress"),
                Step::Pause(600),
                Step::Line("watch"),
                Step::Line(""),
                Step::Line("bogus x"),
                Step::Line("watch a b --prefix"),
                Step::Pause(300),
            ],
        );
        interactive_watch(
            s,
            &["-w", "json"],
            &[
                // History up to the current revision (oxcd's catch-up header carries
                // the last event's revision where etcd's carries the current one: a
                // server difference, kept out of this client test).
                Step::Line("watch p --prefix --rev=2"),
                Step::Pause(800),
                Step::Ctl(&["del", "p/x"]),
                Step::Pause(500),
            ],
        );
    });
}
