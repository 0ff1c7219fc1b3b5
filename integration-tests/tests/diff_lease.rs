//! Differential lease tests through etcdctl: `lease grant` (TTL limits and the minimum TTL),
//! `timetolive` (with `--keys`, every output format), `keep-alive --once`, `revoke`, `list`,
//! unknown lease IDs, `put --lease`, lease fields in `get -w json`, and the deletion of
//! attached keys by revoke and by expiry (one revision for all of them). Each test runs one
//! script against a fresh etcd 3.4.23 and a fresh oxcd and requires identical normalised
//! transcripts; lease IDs become `<LEASE#n>` aliases.
//!
//! The remaining TTL of a `timetolive` depends on when the command ran, so
//! [`ctl_remaining`] replaces it with `<REMAINING>` and records timing-independent facts about
//! it instead. Every error text is compared exactly.

use std::time::{Duration, Instant};

use oxcd_integration_tests::{
    diff_run, etcdctl, granted_lease_hex, Json, Output, ServerOpts, Session,
};

/// The bound on polling for a lease to expire (a 4 s lease; etcd checks expiry every 500 ms).
const EXPIRY_WAIT: Duration = Duration::from_secs(15);

/// `lease grant <ttl>` (recorded); returns the hex lease ID etcdctl printed, or "" on error.
fn grant(s: &mut Session, ttl: &str) -> String {
    let out = s.ctl(&["lease", "grant", ttl]);
    granted_lease_hex(&out.stdout)
}

/// One remaining TTL seen in a `timetolive` output, with the granted TTL next to it.
#[derive(Debug, Clone, Copy)]
struct Remaining {
    remaining: i64,
    granted: i64,
}

/// Parses the number between `open` and `close` right after `marker` in `line`.
fn number_after(line: &str, marker: &str, close: char) -> Option<(usize, usize, i64)> {
    let start = line.find(marker)? + marker.len();
    let len = line[start..].find(close)?;
    let n = line[start..start + len].parse().ok()?;
    Some((start, start + len, n))
}

/// Masks the remaining TTL in one line of `lease timetolive` output (simple, json or fields
/// format). `granted` carries the `GrantedTTL` of the fields format, which follows its `TTL`
/// line. Returns the masked line and what was masked.
fn mask_line(line: &str, fields_ttl: &mut Option<i64>) -> (String, Option<Remaining>) {
    // simple: "lease <id> granted with TTL(600s), remaining(599s)[, attached keys([..])]"
    if let (Some((_, _, granted)), Some((a, b, remaining))) = (
        number_after(line, "granted with TTL(", 's'),
        number_after(line, "remaining(", 's'),
    ) {
        let masked = format!("{}<REMAINING>{}", &line[..a], &line[b..]);
        return (masked, Some(Remaining { remaining, granted }));
    }
    // json: {..,"id":..,"ttl":599,"granted-ttl":600,"keys":[..]}
    if line.starts_with('{') {
        if let Ok(mut j) = Json::parse(line) {
            let granted = j.get("granted-ttl").and_then(Json::as_i64);
            let remaining = j.get("ttl").and_then(Json::as_i64);
            if let (Some(granted), Some(remaining), Json::Obj(members)) =
                (granted, remaining, &mut j)
            {
                if granted > 0 && remaining >= 0 {
                    for (k, v) in members.iter_mut() {
                        if k == "ttl" {
                            // A string, so the line stays JSON for the normaliser.
                            *v = Json::Str("<REMAINING>".into());
                        }
                    }
                    return (j.to_text(), Some(Remaining { remaining, granted }));
                }
            }
        }
    }
    // fields: `"TTL" : 599` then `"GrantedTTL" : 600`
    if let Some(v) = line.strip_prefix("\"TTL\" : ") {
        if let Ok(n) = v.trim().parse::<i64>() {
            if n >= 0 {
                *fields_ttl = Some(n);
                return ("\"TTL\" : \"<REMAINING>\"".into(), None);
            }
        }
    }
    if let Some(v) = line.strip_prefix("\"GrantedTTL\" : ") {
        if let (Some(remaining), Ok(granted)) = (fields_ttl.take(), v.trim().parse::<i64>()) {
            return (line.to_string(), Some(Remaining { remaining, granted }));
        }
    }
    (line.to_string(), None)
}

/// What [`ctl_remaining`] records about each remaining TTL it masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Facts {
    /// `0 <= remaining <= granted` and `remaining >= granted - 5` (any server, any rounding).
    Loose,
    /// [`Facts::Loose`] plus `remaining < granted`: etcd truncates the remaining time to whole
    /// seconds, so once any time has passed since the grant or the renewal the remaining TTL
    /// is below the granted TTL.
    Truncated,
}

/// Runs etcdctl like [`Session::ctl`], but records it with every remaining TTL masked as
/// `<REMAINING>` followed by timing-independent facts about the masked values.
fn ctl_remaining(s: &mut Session, args: &[&str], facts: Facts) -> Output {
    // (Lower case, so an upper-case hex ID is shown as its alias.)
    s.note(&format!(
        "$ etcdctl {} (remaining TTL masked)",
        args.join(" ").to_lowercase()
    ));
    let out = etcdctl(s.server(), args).unwrap_or_else(|e| Output {
        stdout: String::new(),
        stderr: format!("harness error: {e}"),
        status: None,
    });
    s.note(&format!("exit: {:?}", out.status));
    let mut seen = Vec::new();
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if text.is_empty() {
            continue;
        }
        s.note(&format!("{name}:"));
        let mut fields_ttl = None;
        for line in text.lines() {
            // Noted alone, so the normaliser still sees JSON and `-w fields` lines as such.
            let (masked, r) = mask_line(line, &mut fields_ttl);
            s.note(&masked);
            seen.extend(r);
        }
    }
    for r in seen {
        let in_range = r.remaining >= 0
            && r.remaining <= r.granted
            && r.remaining >= r.granted.saturating_sub(5);
        s.note(&format!(
            "remaining TTL within [granted-5, granted] of granted TTL {}: {in_range}",
            r.granted
        ));
        if facts == Facts::Truncated {
            s.note(&format!(
                "remaining TTL below granted TTL {}: {}",
                r.granted,
                r.remaining < r.granted
            ));
        }
    }
    out
}

/// Polls `lease timetolive <hex>` (unrecorded) until the lease is gone; records whether it
/// went within [`EXPIRY_WAIT`].
fn wait_expired(s: &mut Session, hex: &str) {
    let start = Instant::now();
    let mut gone = false;
    while start.elapsed() < EXPIRY_WAIT {
        if let Ok(o) = etcdctl(s.server(), &["lease", "timetolive", hex]) {
            if o.success() && o.stdout.contains("already expired") {
                gone = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    s.note(&format!(
        "lease expired within {}s: {gone}",
        EXPIRY_WAIT.as_secs()
    ));
}

/// Runs `lease list` (unrecorded) and records its header line and the sorted lease aliases.
fn list_set(s: &mut Session) {
    let out = etcdctl(s.server(), &["lease", "list"]).expect("etcdctl ran");
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut aliases: Vec<String> = lines
        .filter_map(|l| u64::from_str_radix(l.trim(), 16).ok())
        .map(|id| s.alias_lease(id))
        .collect();
    aliases.sort();
    s.note(&format!(
        "lease list (exit {:?}): {header}; leases (sorted): {}",
        out.status,
        aliases.join(" ")
    ));
}

#[test]
fn grant_ttl_limits_and_output_formats() {
    diff_run(
        "grant_ttl_limits_and_output_formats",
        ServerOpts::default(),
        |s| {
            grant(s, "600");
            s.ctl(&["lease", "grant", "700", "-w", "json"]);
            s.ctl(&["lease", "grant", "800", "-w", "fields"]);
            // MaxLeaseTTL is 9,000,000,000 s: the limit itself is fine, one more is not.
            grant(s, "9000000000");
            s.ctl(&["lease", "grant", "9000000001"]);
            s.ctl(&["lease", "grant", "9000000001", "-w", "json"]);
            // Below the minimum TTL (ceil(1.5 x the 1 s election timeout) = 2 s): raised.
            grant(s, "1");
            s.ctl(&["lease", "grant", "0", "-w", "json"]);
            s.ctl(&["lease", "grant", "--", "-5"]);
            // Client-side argument errors.
            s.ctl(&["lease", "grant", "abc"]);
            s.ctl(&["lease", "grant"]);
            s.ctl(&["lease", "grant", "10", "20"]);
        },
    );
}

#[test]
fn timetolive_in_every_format() {
    diff_run("timetolive_in_every_format", ServerOpts::default(), |s| {
        let hex = grant(s, "600");
        ctl_remaining(s, &["lease", "timetolive", &hex], Facts::Loose);
        ctl_remaining(s, &["lease", "timetolive", &hex, "--keys"], Facts::Loose);
        s.ctl(&["put", "ttl/one", "v", &format!("--lease={hex}")]);
        ctl_remaining(s, &["lease", "timetolive", &hex, "--keys"], Facts::Loose);
        ctl_remaining(
            s,
            &["lease", "timetolive", &hex, "--keys", "-w", "json"],
            Facts::Loose,
        );
        ctl_remaining(
            s,
            &["lease", "timetolive", &hex, "--keys", "-w", "fields"],
            Facts::Loose,
        );
        ctl_remaining(
            s,
            &["lease", "timetolive", &hex, "-w", "json"],
            Facts::Loose,
        );
        s.ctl(&["lease", "timetolive", &hex, "-w", "table"]);
        // A lease ID in hex with leading zeros and in upper case.
        let padded = format!("{:0>16}", hex.to_uppercase());
        ctl_remaining(s, &["lease", "timetolive", &padded], Facts::Loose);
        // Argument errors.
        s.ctl(&["lease", "timetolive"]);
        s.ctl(&["lease", "timetolive", "zz"]);
        s.ctl(&["lease", "timetolive", &hex, &hex]);
    });
}

#[test]
fn timetolive_with_several_attached_keys() {
    diff_run(
        "timetolive_with_several_attached_keys",
        ServerOpts::default(),
        |s| {
            let hex = grant(s, "600");
            for k in ["many/a", "many/b", "many/c"] {
                s.ctl(&["put", k, "v", &format!("--lease={hex}")]);
            }
            // The order of attached keys is unspecified (etcd iterates a map): compare the set.
            let out = etcdctl(
                s.server(),
                &["lease", "timetolive", &hex, "--keys", "-w", "json"],
            )
            .expect("etcdctl ran");
            let mut keys: Vec<String> = Json::parse(out.stdout.trim())
                .ok()
                .and_then(|j| j.get("keys").map(|k| k.items().to_vec()))
                .unwrap_or_default()
                .iter()
                .filter_map(|k| k.scalar().and_then(oxcd_integration_tests::unb64))
                .collect();
            keys.sort();
            s.note(&format!("attached keys (sorted): {keys:?}"));
            // Re-attaching one key to another lease detaches it from the first.
            let other = grant(s, "700");
            s.ctl(&["put", "many/b", "w", &format!("--lease={other}")]);
            ctl_remaining(s, &["lease", "timetolive", &other, "--keys"], Facts::Loose);
            s.ctl(&["get", "many/", "--prefix", "-w", "json"]);
            // A put without a lease detaches the key from its lease.
            s.ctl(&["put", "many/b", "x"]);
            ctl_remaining(s, &["lease", "timetolive", &other, "--keys"], Facts::Loose);
            s.ctl(&["get", "many/b", "-w", "json"]);
        },
    );
}

#[test]
fn keep_alive_once() {
    diff_run("keep_alive_once", ServerOpts::default(), |s| {
        let hex = grant(s, "600");
        s.ctl(&["lease", "keep-alive", "--once", &hex]);
        s.ctl(&["lease", "keep-alive", "--once", &hex, "-w", "json"]);
        s.ctl(&["lease", "keep-alive", "--once", &hex, "-w", "fields"]);
        ctl_remaining(s, &["lease", "timetolive", &hex], Facts::Loose);
        // The minimum TTL applies to renewals too.
        let short = grant(s, "1");
        s.ctl(&["lease", "keep-alive", "--once", &short]);
        // Unknown and revoked leases.
        s.ctl(&["lease", "keep-alive", "--once", "1234"]);
        s.ctl(&["lease", "keep-alive", "--once", "1234", "-w", "json"]);
        s.ctl(&["lease", "revoke", &hex]);
        s.ctl(&["lease", "keep-alive", "--once", &hex]);
        // Argument errors.
        s.ctl(&["lease", "keep-alive", "--once"]);
        s.ctl(&["lease", "keep-alive", "--once", "xyz"]);
    });
}

#[test]
fn revoke_and_list() {
    diff_run("revoke_and_list", ServerOpts::default(), |s| {
        s.ctl(&["lease", "list"]);
        s.ctl(&["lease", "list", "-w", "json"]);
        let a = grant(s, "300");
        s.ctl(&["lease", "list"]);
        s.ctl(&["lease", "list", "-w", "json"]);
        s.ctl(&["lease", "list", "-w", "fields"]);
        let b = grant(s, "600");
        let c = grant(s, "900");
        // The order is checked by `lease_list_is_ordered_by_expiry`; here only the set.
        list_set(s);
        s.ctl(&["lease", "revoke", &b]);
        list_set(s);
        s.ctl(&["lease", "revoke", &c, "-w", "json"]);
        s.ctl(&["lease", "list"]);
        // Revoking twice, unknown IDs and argument errors.
        s.ctl(&["lease", "revoke", &b]);
        s.ctl(&["lease", "revoke", "1234"]);
        s.ctl(&["lease", "revoke", "1234", "-w", "json"]);
        s.ctl(&["lease", "revoke", "0"]);
        s.ctl(&["lease", "revoke"]);
        s.ctl(&["lease", "revoke", "qq"]);
        s.ctl(&["lease", "revoke", &a, "-w", "fields"]);
        s.ctl(&["lease", "list", "-w", "json"]);
    });
}

#[test]
fn unknown_lease_ids() {
    diff_run("unknown_lease_ids", ServerOpts::default(), |s| {
        s.ctl(&["lease", "timetolive", "1234"]);
        s.ctl(&["lease", "timetolive", "1234", "--keys"]);
        s.ctl(&["lease", "timetolive", "1234", "-w", "json"]);
        s.ctl(&["lease", "timetolive", "1234", "-w", "fields"]);
        s.ctl(&["lease", "revoke", "1234"]);
        s.ctl(&["lease", "keep-alive", "--once", "1234"]);
        s.ctl(&["put", "k", "v", "--lease=1234"]);
        s.ctl(&["put", "k", "v", "--lease=1234", "-w", "json"]);
        s.ctl(&["put", "k", "v", "--lease=zz"]);
        // The largest ID etcdctl accepts, and one above it (not an int64).
        s.ctl(&["lease", "timetolive", "7fffffffffffffff"]);
        s.ctl(&["lease", "timetolive", "8000000000000000"]);
        s.ctl(&["get", "k", "-w", "json"]);
    });
}

#[test]
fn put_with_lease_and_get_json() {
    diff_run("put_with_lease_and_get_json", ServerOpts::default(), |s| {
        let hex = grant(s, "600");
        s.ctl(&["put", "lk", "v1", &format!("--lease={hex}")]);
        s.ctl(&["put", "lk2", "v", &format!("--lease={hex}"), "-w", "json"]);
        s.ctl(&["get", "lk", "-w", "json"]);
        s.ctl(&["get", "lk", "-w", "fields"]);
        s.ctl(&["get", "lk", "--prefix", "-w", "json"]);
        s.ctl(&[
            "put",
            "lk",
            "v2",
            &format!("--lease={hex}"),
            "--prev-kv",
            "-w",
            "json",
        ]);
        // A lease on a key inside a transaction.
        s.ctl_stdin(
            &["txn", "-w", "json"],
            &format!("\nput lk3 t --lease={hex}\n\n\n"),
        );
        s.ctl(&["get", "lk3", "-w", "json"]);
        // With a revoked lease.
        let gone = grant(s, "600");
        s.ctl(&["lease", "revoke", &gone]);
        s.ctl(&["put", "lk", "v3", &format!("--lease={gone}")]);
        s.ctl(&["get", "lk", "-w", "json"]);
    });
}

#[test]
fn revoke_deletes_attached_keys_in_one_revision() {
    diff_run(
        "revoke_deletes_attached_keys_in_one_revision",
        ServerOpts::default(),
        |s| {
            let hex = grant(s, "600");
            for k in ["rv/a", "rv/b", "rv/c"] {
                s.ctl(&["put", k, "v", &format!("--lease={hex}")]);
            }
            s.ctl(&["put", "rv/free", "v"]);
            s.ctl(&["get", "rv/", "--prefix", "-w", "json"]);
            s.ctl(&["lease", "revoke", &hex, "-w", "json"]);
            s.ctl(&["get", "rv/", "--prefix", "-w", "json"]);
            // The history: every leased key is gone at the same revision.
            s.ctl(&["get", "rv/", "--prefix", "--rev=5", "-w", "json"]);
            s.ctl(&["get", "rv/", "--prefix", "--rev=6", "-w", "json"]);
            s.ctl(&["lease", "timetolive", &hex]);
            s.ctl(&["lease", "list"]);
            // A revoke of a lease without keys still counts as a write of no revision.
            let empty = grant(s, "600");
            s.ctl(&["lease", "revoke", &empty, "-w", "json"]);
            s.ctl(&["get", "rv/free", "-w", "json"]);
        },
    );
}

#[test]
fn expiry_deletes_attached_keys_in_one_revision() {
    diff_run(
        "expiry_deletes_attached_keys_in_one_revision",
        ServerOpts::default(),
        |s| {
            let hex = grant(s, "4");
            for k in ["ex/a", "ex/b"] {
                s.ctl(&["put", k, "v", &format!("--lease={hex}")]);
            }
            s.ctl(&["put", "ex/keep", "v"]);
            wait_expired(s, &hex);
            s.ctl(&["get", "ex/", "--prefix", "-w", "json"]);
            s.ctl(&["get", "ex/", "--prefix", "--rev=4", "-w", "json"]);
            s.ctl(&["lease", "timetolive", &hex]);
            s.ctl(&["lease", "timetolive", &hex, "-w", "json"]);
            s.ctl(&["lease", "keep-alive", "--once", &hex]);
            s.ctl(&["lease", "revoke", &hex]);
            s.ctl(&["lease", "list"]);
            s.ctl(&["put", "ex/a", "v", &format!("--lease={hex}")]);
        },
    );
}

/// etcd computes the remaining TTL as the remaining time truncated to whole seconds, so a
/// `timetolive` right after a grant or a renewal of a 600 s lease shows 599 s, never 600 s.
#[test]
fn timetolive_remaining_is_truncated() {
    diff_run(
        "timetolive_remaining_is_truncated",
        ServerOpts::default(),
        |s| {
            let hex = grant(s, "600");
            ctl_remaining(s, &["lease", "timetolive", &hex], Facts::Truncated);
            ctl_remaining(
                s,
                &["lease", "timetolive", &hex, "-w", "json"],
                Facts::Truncated,
            );
            s.ctl(&["lease", "keep-alive", "--once", &hex]);
            ctl_remaining(
                s,
                &["lease", "timetolive", &hex, "-w", "fields"],
                Facts::Truncated,
            );
            // The minimum-TTL lease: 2 s granted, at most 1 s remaining.
            let short = grant(s, "1");
            ctl_remaining(s, &["lease", "timetolive", &short], Facts::Truncated);
        },
    );
}

/// `lease list` is ordered by expiry (soonest first), not by grant order or ID.
#[test]
fn lease_list_is_ordered_by_expiry() {
    diff_run(
        "lease_list_is_ordered_by_expiry",
        ServerOpts::default(),
        |s| {
            for ttl in ["900", "300", "600", "100"] {
                grant(s, ttl);
            }
            s.ctl(&["lease", "list"]);
            s.ctl(&["lease", "list", "-w", "json"]);
        },
    );
}
