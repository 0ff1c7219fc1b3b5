//! Differential watch tests: `etcdctl watch` (prefix, range, `--rev` from the past, `--prev-kv`,
//! deletes, a compacted start revision) and the `/v3/watch` gateway stream, against a fresh etcd
//! 3.4.23 and a fresh oxcd, with identical normalised transcripts required.
//!
//! A watch runs in the background under `timeout(1)` (and is SIGKILLed by PID if it outlives a
//! hard deadline; see the library's [`Background`]); the script makes its writes while it runs,
//! then records the watch's normalised stdout/stderr once it has ended.

use oxcd_integration_tests::background::WATCH_SECS;
use oxcd_integration_tests::{b64, diff_run, Background, ServerOpts, Session};

/// Records background output in the transcript, line by line (normalised by `note`).
fn record(s: &mut Session, what: &str, out: &str, err: &str) {
    s.note(&format!("background {what}"));
    for line in out.lines() {
        s.note(&format!("out| {line}"));
    }
    for line in err.lines() {
        s.note(&format!("err| {line}"));
    }
}

/// Runs `etcdctl watch <args>` in the background, runs `writes` while it is live, then records
/// what the watch printed.
fn watch_during<F: FnOnce(&mut Session)>(s: &mut Session, args: &[&str], writes: F) {
    let bg =
        Background::etcdctl_watch(&s.server().endpoint(), args).expect("spawn background process");
    let out = bg.finish_after(s, writes);
    record(
        s,
        &format!("etcdctl watch {}", args.join(" ")),
        &out.stdout,
        &out.stderr,
    );
}

#[test]
fn watch_prefix() {
    diff_run("watch_prefix", ServerOpts::default(), |s| {
        s.ctl(&["put", "other", "x"]);
        watch_during(s, &["--prefix", "w/"], |s| {
            s.ctl(&["put", "w/a", "1"]);
            s.ctl(&["put", "nope", "2"]);
            s.ctl(&["put", "w/b", "3"]);
            s.ctl(&["put", "w/a", "4"]);
        });
        watch_during(s, &["--prefix", "w/", "-w", "json"], |s| {
            s.ctl(&["put", "w/c", "5"]);
        });
    });
}

#[test]
fn watch_range() {
    diff_run("watch_range", ServerOpts::default(), |s| {
        watch_during(s, &["a", "c"], |s| {
            s.ctl(&["put", "a", "1"]);
            s.ctl(&["put", "b", "2"]);
            s.ctl(&["put", "bz", "3"]);
            s.ctl(&["put", "c", "4"]);
            s.ctl(&["put", "0", "5"]);
        });
    });
}

#[test]
fn watch_rev_from_past() {
    diff_run("watch_rev_from_past", ServerOpts::default(), |s| {
        for (k, v) in [("h/a", "1"), ("h/b", "2"), ("x", "3"), ("h/a", "4")] {
            s.ctl(&["put", k, v]);
        }
        s.ctl(&["del", "h/b"]);
        // Revision 3 is the put of h/b: history from there, then a live event.
        watch_during(s, &["--prefix", "h/", "--rev", "3"], |s| {
            s.ctl(&["put", "h/c", "5"]);
        });
        watch_during(s, &["--prefix", "h/", "--rev", "1", "-w", "json"], |_| {});
    });
}

#[test]
fn watch_prev_kv() {
    diff_run("watch_prev_kv", ServerOpts::default(), |s| {
        s.ctl(&["put", "p", "old"]);
        watch_during(s, &["p", "--prev-kv"], |s| {
            s.ctl(&["put", "p", "new"]);
            s.ctl(&["put", "p", "newer"]);
            s.ctl(&["del", "p"]);
        });
        s.ctl(&["put", "p", "again"]);
        watch_during(s, &["p", "--prev-kv", "-w", "json"], |s| {
            s.ctl(&["put", "p", "json"]);
        });
    });
}

#[test]
fn watch_delete_event() {
    diff_run("watch_delete_event", ServerOpts::default(), |s| {
        for k in ["d/1", "d/2", "d/3"] {
            s.ctl(&["put", k, "v"]);
        }
        watch_during(s, &["--prefix", "d/"], |s| {
            s.ctl(&["del", "d/1"]);
            s.ctl(&["del", "--prefix", "d/"]);
            s.ctl(&["del", "d/missing"]);
        });
        s.ctl(&["put", "d/4", "v"]);
        watch_during(s, &["--prefix", "d/", "-w", "json"], |s| {
            s.ctl(&["del", "d/4"]);
        });
    });
}

#[test]
fn watch_compacted_revision() {
    diff_run("watch_compacted_revision", ServerOpts::default(), |s| {
        for i in 0..6 {
            s.ctl(&["put", "c", &format!("v{i}")]);
        }
        s.ctl(&["compaction", "5"]);
        watch_during(s, &["c", "--rev", "2"], |_| {});
        watch_during(s, &["c", "--rev", "2", "-w", "json"], |_| {});
    });
}

#[test]
fn watch_from_compaction_revision() {
    diff_run(
        "watch_from_compaction_revision",
        ServerOpts::default(),
        |s| {
            for i in 0..6 {
                s.ctl(&["put", "c", &format!("v{i}")]);
            }
            s.ctl(&["compaction", "5"]);
            // The compaction revision itself is still watchable.
            watch_during(s, &["c", "--rev", "5"], |_| {});
        },
    );
}

/// Runs `curl -sN` on `/v3/watch` with `body` in the background, runs `writes`, and records the
/// first `lines` NDJSON lines of the stream.
fn gateway_watch<F: FnOnce(&mut Session)>(s: &mut Session, body: &str, lines: usize, writes: F) {
    let url = format!("{}/v3/watch", s.server().endpoint());
    let args: Vec<String> = [
        "-sN",
        "--max-time",
        &WATCH_SECS.to_string(),
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        &url,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let bg = Background::spawn("curl", &args).expect("spawn background process");
    let out = bg.finish_after(s, writes).stdout;
    s.note(&format!("gateway /v3/watch {body}"));
    let got: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    s.note(&format!("ndjson lines >= {lines}: {}", got.len() >= lines));
    for line in got.iter().take(lines) {
        s.note(&format!("< {line}"));
    }
}

#[test]
fn gateway_watch_stream() {
    diff_run("gateway_watch_stream", ServerOpts::default(), |s| {
        s.ctl(&["put", "gw/seed", "0"]);
        let body = format!(
            r#"{{"create_request":{{"key":"{}","range_end":"{}"}}}}"#,
            b64("gw/"),
            b64("gw0")
        );
        gateway_watch(s, &body, 2, |s| {
            s.ctl(&["put", "gw/k", "v1"]);
        });
        let body = format!(
            r#"{{"create_request":{{"key":"{}","prev_kv":true}}}}"#,
            b64("gw/k")
        );
        gateway_watch(s, &body, 2, |s| {
            s.ctl(&["put", "gw/k", "v2"]);
        });
    });
}
