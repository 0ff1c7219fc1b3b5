//! `oxcdctl snapshot save|status|restore` against etcdctl 3.4.23.
//!
//! - `save_status_restore`: the 3-way client differential (etcdctl on etcd, oxcdctl on
//!   etcd, oxcdctl on oxcd) of save, status and restore and their argument and endpoint
//!   errors. Recorded: exit codes, stdout, `Error:` lines and the `msg` of etcdctl's info
//!   log lines (their timestamps, sizes and durations vary; the clients' retry warnings
//!   differ between clientv3 and oxcd-client and are left out). The temporary directory
//!   shows as `<DIR>`; a snapshot's hash and size (which differ between etcd's and oxcd's
//!   files) as `<HASH>`/`<SIZE>`.
//! - `status_is_etcdctls_on_the_same_files`: etcdctl and oxcdctl read the same files
//!   (saved from etcd and from oxcd, then damaged in several ways): stdout, stderr and exit
//!   code identical in every format; restore refuses the damaged ones with etcdctl's
//!   `Error:` line and, unlike etcdctl, leaves no directory behind.
//! - `restored_data_dir_is_served_by_oxcd`: what oxcdctl saves (from etcd and from oxcd)
//!   and restores, with and without `--wal-dir`, is served by `oxcd --data-dir D
//!   [--wal-dir W]`.
//! - `progress_lines_without_a_terminal`: save, restore and defrag print plain progress
//!   lines on stderr (stdout stays etcdctl's).

use std::path::Path;
use std::process::{Command, Stdio};

use oxcd_integration_tests::process::oxcdctl_available;
use oxcd_integration_tests::session::PROGRESS_PREFIX;
use oxcd_integration_tests::{
    diff_ctl_run, etcdctl, ports, CtlRuns, Json, Kind, Output, Server, ServerOpts, Session,
};

/// Runs `bin` with exactly `args` (no endpoint added), no stdin, `env` set.
fn run(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .env_remove("OXCDCTL_PROGRESS_INTERVAL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status.code(),
    }
}

/// The stderr lines a transcript keeps: `Error:` lines, and the message of each info
/// log line.
fn kept_stderr(stderr: &str) -> Vec<String> {
    let mut kept = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("Error:") {
            kept.push(line.to_string());
        } else if let Ok(j) = Json::parse(line) {
            if j.get("level").and_then(Json::scalar) == Some("info") {
                let msg = j.get("msg").and_then(Json::scalar).unwrap_or_default();
                kept.push(format!("log: {msg}"));
            }
        }
    }
    kept
}

/// Runs the session's ctl with `args` against its server (`<EP>` in an argument is the
/// server's endpoint, `<DIR>` the directory `dir`) and records it with `dir` masked.
fn record(s: &mut Session, dir: &Path, args: &[&str]) -> Output {
    let d = dir.display().to_string();
    let ep = s.server().endpoint();
    let real: Vec<String> = args
        .iter()
        .map(|a| a.replace("<DIR>", &d).replace("<EP>", &ep))
        .collect();
    let argv: Vec<&str> = real.iter().map(String::as_str).collect();
    let bin = s.ctl_bin().to_path_buf();
    let out = run(&bin, &argv, &[]);
    let mask = |t: &str| t.replace(&d, "<DIR>").replace(&ep, "<EP>");
    s.note(&format!("$ ctl {}", args.join(" ")));
    s.note(&format!("exit: {:?}", out.status));
    for line in out.stdout.lines() {
        s.note(&format!("out| {}", mask(line)));
    }
    for line in kept_stderr(&out.stderr) {
        s.note(&format!("err| {}", mask(&line)));
    }
    out
}

/// `snapshot status -w json` of `file`, recorded with the hash and size masked.
fn record_status(s: &mut Session, file: &Path) {
    let bin = s.ctl_bin().to_path_buf();
    let out = run(
        &bin,
        &[
            "snapshot",
            "status",
            file.to_str().expect("path"),
            "-w",
            "json",
        ],
        &[],
    );
    let j = Json::parse(out.stdout.trim()).expect("status json");
    s.note(&format!(
        "status: exit {:?} hash {} revision {:?} totalKey {:?} size {}",
        out.status,
        if j.get("hash").and_then(Json::as_i64).is_some() {
            "<HASH>"
        } else {
            "none"
        },
        j.get("revision").and_then(Json::as_i64),
        j.get("totalKey").and_then(Json::as_i64),
        if j.get("totalSize").and_then(Json::as_i64).unwrap_or(0) > 0 {
            "<SIZE>"
        } else {
            "none"
        },
    ));
}

#[test]
fn save_status_restore() {
    diff_ctl_run(
        "snapshot_save_status_restore",
        ServerOpts::default(),
        CtlRuns::OnEtcdAndOxcd,
        |s| {
            let tmp = tempfile::tempdir().expect("tempdir");
            let dir = tmp.path();
            for (k, v) in [("a", "1"), ("b", "2"), ("a", "3"), ("c", "4")] {
                s.ctl(&["put", k, v]);
            }
            s.ctl(&["del", "b"]);
            let ok = record(
                s,
                dir,
                &["--endpoints=<EP>", "snapshot", "save", "<DIR>/x.db"],
            );
            s.note(&format!(
                "part file left: {}",
                dir.join("x.db.part").exists()
            ));
            if ok.success() {
                let mode = std::os::unix::fs::PermissionsExt::mode(
                    &std::fs::metadata(dir.join("x.db"))
                        .expect("saved")
                        .permissions(),
                );
                s.note(&format!("mode {:o}", mode & 0o777));
                record_status(s, &dir.join("x.db"));
            }
            // Argument, file and endpoint errors.
            record(s, dir, &["--endpoints=<EP>", "snapshot", "save"]);
            record(s, dir, &["--endpoints=<EP>", "snapshot", "save", "a", "b"]);
            record(
                s,
                dir,
                &["--endpoints=<EP>", "snapshot", "save", "<DIR>/nodir/x.db"],
            );
            record(
                s,
                dir,
                &[
                    "--endpoints=<EP>,127.0.0.1:1",
                    "snapshot",
                    "save",
                    "<DIR>/y.db",
                ],
            );
            record(
                s,
                dir,
                &[
                    "--endpoints=127.0.0.1:1",
                    "--command-timeout=2s",
                    "snapshot",
                    "save",
                    "<DIR>/y.db",
                ],
            );
            s.note(&format!(
                "y.db: {}, y.db.part: {}",
                dir.join("y.db").exists(),
                dir.join("y.db.part").exists()
            ));
            record(s, dir, &["snapshot", "status"]);
            record(
                s,
                dir,
                &["snapshot", "status", "<DIR>/x.db", "-w", "protobuf"],
            );
            record(s, dir, &["snapshot", "status", "<DIR>/missing.db"]);
            // Restore, and what it refuses.
            let peer = "--initial-advertise-peer-urls=http://127.0.0.1:2380";
            let cluster = "--initial-cluster=m1=http://127.0.0.1:2380";
            let restore = |s: &mut Session, extra: &[&str]| {
                let mut args = vec!["snapshot", "restore", "<DIR>/x.db", "--name=m1", cluster];
                args.push(peer);
                args.push("--initial-cluster-token=tok");
                args.extend_from_slice(extra);
                record(s, dir, &args)
            };
            restore(s, &["--data-dir=<DIR>/r1.etcd"]);
            s.note(&format!("r1 made: {}", dir.join("r1.etcd/member").is_dir()));
            restore(s, &["--data-dir=<DIR>/r1.etcd"]);
            restore(s, &["--data-dir=<DIR>/r2.etcd", "--wal-dir=<DIR>/r2.wal"]);
            s.note(&format!(
                "r2 made: {} wal: {}",
                dir.join("r2.etcd/member").is_dir(),
                dir.join("r2.wal").is_dir()
            ));
            restore(s, &["--data-dir=<DIR>/r3.etcd", "--wal-dir=<DIR>/r2.wal"]);
            s.note(&format!("r3 made: {}", dir.join("r3.etcd").exists()));
            std::fs::create_dir(dir.join("empty")).expect("mkdir");
            restore(s, &["--data-dir=<DIR>/empty"]);
            record(
                s,
                dir,
                &[
                    "snapshot",
                    "restore",
                    "<DIR>/x.db",
                    "--data-dir=<DIR>/r4.etcd",
                    "--name=nobody",
                ],
            );
            record(
                s,
                dir,
                &[
                    "snapshot",
                    "restore",
                    "<DIR>/x.db",
                    "--data-dir=<DIR>/r5.etcd",
                    "--initial-advertise-peer-urls=http://127.0.0.1:9",
                ],
            );
            record(
                s,
                dir,
                &[
                    "snapshot",
                    "restore",
                    "<DIR>/missing.db",
                    "--data-dir=<DIR>/r6.etcd",
                ],
            );
            record(s, dir, &["snapshot", "restore"]);
            s.note(&format!(
                "r4..r6 made: {} {} {}",
                dir.join("r4.etcd").exists(),
                dir.join("r5.etcd").exists(),
                dir.join("r6.etcd").exists()
            ));
        },
    );
}

/// The outputs of etcdctl and oxcdctl for the same offline command.
fn both(oxcdctl: &Path, args: &[&str]) -> (Output, Output) {
    let etcdctl = oxcd_integration_tests::etcdctl::etcdctl_binary();
    (run(&etcdctl, args, &[]), run(oxcdctl, args, &[]))
}

/// Files with and without damage: (name, bytes).
fn damaged(good: &[u8]) -> Vec<(String, Vec<u8>)> {
    let db_len = good.len() - 32;
    let mut flipped = good.to_vec();
    flipped[db_len / 2] ^= 0x40;
    let mut bad_trailer = good.to_vec();
    let last = bad_trailer.len() - 1;
    bad_trailer[last] ^= 1;
    let mut bad_meta0 = good.to_vec();
    bad_meta0[16] ^= 0xff;
    let mut bad_metas = good.to_vec();
    bad_metas[16] ^= 0xff;
    bad_metas[4096 + 16] ^= 0xff;
    // The page id in the header of meta 0's root page, and the type of page 2: found by
    // bbolt's consistency check, which `snapshot status` runs first, whatever the data.
    let root = u64::from_le_bytes(good[32..40].try_into().expect("8 bytes")) as usize;
    let mut root_id = good.to_vec();
    root_id[root * 4096] ^= 0x40;
    let mut page2_type = good.to_vec();
    page2_type[2 * 4096 + 8] = 0x10;
    let mut version = good.to_vec();
    version[20] = 9;
    version[4096 + 20] = 9;
    vec![
        ("good".into(), good.to_vec()),
        ("no-trailer".into(), good[..db_len].to_vec()),
        ("flipped".into(), flipped),
        ("root-page-id".into(), root_id),
        ("page-2-type".into(), page2_type),
        ("bad-trailer".into(), bad_trailer),
        ("bad-meta0".into(), bad_meta0),
        ("bad-metas".into(), bad_metas),
        ("version".into(), version),
        ("short-4096".into(), good[..4096].to_vec()),
        ("short-100".into(), good[..100].to_vec()),
        ("short-20".into(), good[..20].to_vec()),
        ("empty".into(), Vec::new()),
        ("truncated-third".into(), good[..good.len() / 3].to_vec()),
        (
            "truncated-512+32".into(),
            good[..(good.len() / 2) / 512 * 512 + 32].to_vec(),
        ),
        (
            "garbage".into(),
            b"not a snapshot at all\n"
                .iter()
                .copied()
                .cycle()
                .take(good.len())
                .collect(),
        ),
    ]
}

/// Entries of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn status_is_etcdctls_on_the_same_files() {
    let oxcdctl = oxcdctl_available();
    oxcd_integration_tests::oxcd_available();
    let etcd = Server::start(Kind::Etcd, ServerOpts::default()).expect("start etcd");
    let oxcd = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sources = Vec::new();
    for (name, server) in [("etcd", &etcd), ("oxcd", &oxcd)] {
        for i in 0..50 {
            etcdctl(server, &["put", &format!("k{i:03}"), &"v".repeat(i * 20)]).expect("put");
        }
        let file = dir.path().join(format!("{name}.db"));
        let out = run(
            &oxcdctl,
            &[
                &format!("--endpoints={}", server.endpoint()),
                "snapshot",
                "save",
                file.to_str().expect("path"),
            ],
            &[],
        );
        assert_eq!(out.status, Some(0), "save from {name}: {}", out.stderr);
        assert_eq!(
            out.stdout,
            format!("Snapshot saved at {}\n", file.display())
        );
        sources.push((name, std::fs::read(&file).expect("read")));
    }
    // A file saved by etcdctl is the same database oxcdctl saved from the same server.
    let by_etcdctl = dir.path().join("by-etcdctl.db");
    etcdctl(
        &etcd,
        &["snapshot", "save", by_etcdctl.to_str().expect("path")],
    )
    .expect("etcdctl save");
    assert_eq!(
        std::fs::read(&by_etcdctl).expect("read").len(),
        sources[0].1.len(),
        "etcdctl's and oxcdctl's saves of one etcd differ in size"
    );

    let mut compared = 0;
    let mut integrity = Vec::new();
    for (source, good) in &sources {
        for (case, bytes) in damaged(good) {
            let file = dir.path().join(format!("{source}-{case}.db"));
            std::fs::write(&file, &bytes).expect("write");
            let f = file.to_str().expect("path");
            for w in ["simple", "json", "table", "fields", "protobuf", "bogus"] {
                let (theirs, ours) = both(&oxcdctl, &["snapshot", "status", f, "-w", w]);
                if theirs.status == Some(2) && theirs.stderr.contains("\ngoroutine ") {
                    // etcdctl 3.4 crashes (SIGBUS, or bbolt panics) on some damaged files.
                    assert_eq!(ours.status, Some(1), "{source}-{case} -w {w}: {ours:?}");
                    assert!(ours.stderr.starts_with("Error: "), "{ours:?}");
                    continue;
                }
                assert_eq!(
                    (ours.status, &ours.stdout, &ours.stderr),
                    (theirs.status, &theirs.stdout, &theirs.stderr),
                    "status of {source}-{case} -w {w}"
                );
                compared += 1;
                if theirs.stderr.contains("integrity check failed") {
                    integrity.push(format!("{source}-{case}"));
                }
            }
            // Restore: etcdctl's exit code and error; nothing left behind by oxcdctl.
            let work = tempfile::tempdir().expect("tempdir");
            let w = work.path();
            let args = |d: &str| {
                vec![
                    "snapshot".to_string(),
                    "restore".into(),
                    f.into(),
                    format!("--data-dir={}", w.join(d).display()),
                ]
            };
            let theirs_args = args("theirs");
            let ours_args = args("ours");
            let etcdctl_bin = oxcd_integration_tests::etcdctl::etcdctl_binary();
            let theirs = run(
                &etcdctl_bin,
                &theirs_args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            );
            let ours = run(
                &oxcdctl,
                &ours_args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            );
            let err_line = |o: &Output| {
                o.stderr
                    .lines()
                    .filter(|l| l.starts_with("Error:"))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .replace("theirs", "<D>")
                    .replace("ours", "<D>")
            };
            assert_eq!(
                (ours.status, err_line(&ours)),
                (theirs.status, err_line(&theirs)),
                "restore of {source}-{case}: ours {ours:?}"
            );
            if ours.status != Some(0) {
                assert!(
                    !entries(w).iter().any(|e| e.contains("ours")),
                    "restore of {source}-{case} left {:?}",
                    entries(w)
                );
            }
        }
    }
    assert!(compared > 100, "only {compared} comparisons");
    // etcd's own files carry no freelist: bbolt rebuilds it with the same walk and
    // crashes on any finding, so only oxcdctl's file gets the check's report.
    assert!(
        integrity.iter().any(|c| c == "oxcd-root-page-id"),
        "bbolt's consistency check refused only {integrity:?}"
    );
}

/// Keys `k000..` with values as the test wrote them, read back with etcdctl.
fn served_keys(server: &Server) -> String {
    etcdctl(server, &["get", "k", "--prefix", "--keys-only"])
        .expect("get")
        .stdout
}

#[test]
fn restored_data_dir_is_served_by_oxcd() {
    let oxcdctl = oxcdctl_available();
    oxcd_integration_tests::oxcd_available();
    let dir = tempfile::tempdir().expect("tempdir");
    for kind in [Kind::Etcd, Kind::Oxcd] {
        let source = Server::start(kind, ServerOpts::default()).expect("start source");
        for i in 0..20 {
            etcdctl(&source, &["put", &format!("k{i:02}"), &format!("v{i}")]).expect("put");
        }
        etcdctl(&source, &["del", "k05"]).expect("del");
        let want = served_keys(&source);
        let want_rev = Json::parse(
            etcdctl(&source, &["get", "k00", "-w", "json"])
                .expect("get")
                .stdout
                .trim(),
        )
        .expect("json")
        .at(&["header", "revision"])
        .and_then(Json::as_i64);
        let file = dir.path().join(format!("{}.db", kind.label()));
        let f = file.to_str().expect("path");
        let out = run(
            &oxcdctl,
            &[
                &format!("--endpoints={}", source.endpoint()),
                "snapshot",
                "save",
                f,
            ],
            &[],
        );
        assert_eq!(out.status, Some(0), "{}", out.stderr);
        drop(source);
        for wal in [false, true] {
            let tag = format!("{}-{wal}", kind.label());
            let data = dir.path().join(format!("{tag}.etcd"));
            let wal_dir = dir.path().join(format!("{tag}.wal"));
            let peer = format!("http://127.0.0.1:{}", ports::free_port().expect("port"));
            let mut args = vec![
                "snapshot".to_string(),
                "restore".into(),
                f.into(),
                format!("--data-dir={}", data.display()),
                "--name=default".into(),
                format!("--initial-cluster=default={peer}"),
                format!("--initial-advertise-peer-urls={peer}"),
            ];
            if wal {
                args.push(format!("--wal-dir={}", wal_dir.display()));
            }
            let out = run(
                &oxcdctl,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            );
            assert_eq!(out.status, Some(0), "restore {tag}: {}", out.stderr);
            assert_eq!(out.stdout, "", "restore prints nothing on stdout");
            assert_eq!(wal_dir.is_dir(), wal, "{tag}: wal dir");
            assert_eq!(
                data.join("member").join("wal").exists(),
                !wal,
                "{tag}: wal in the data dir"
            );
            let mut opts = ServerOpts::default().with_data_from(&data);
            if wal {
                opts.extra_args = vec![format!("--wal-dir={}", wal_dir.display())];
            }
            let restored = Server::start(Kind::Oxcd, opts).expect("start oxcd on the restore");
            assert_eq!(served_keys(&restored), want, "{tag}: keys");
            let got = Json::parse(
                etcdctl(&restored, &["get", "k00", "-w", "json"])
                    .expect("get")
                    .stdout
                    .trim(),
            )
            .expect("json");
            assert_eq!(
                got.at(&["header", "revision"]).and_then(Json::as_i64),
                want_rev,
                "{tag}: revision"
            );
            etcdctl(&restored, &["put", "after", "x"]).expect("put after restore");
        }
    }
}

/// `progress: <what>: done: <size> in <secs>s, <rate>/s`
fn done_line<'a>(stderr: &'a str, what: &str) -> &'a str {
    let prefix = format!("{PROGRESS_PREFIX}{what}: done: ");
    stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{stderr}"))
}

#[test]
fn progress_lines_without_a_terminal() {
    let oxcdctl = oxcdctl_available();
    oxcd_integration_tests::oxcd_available();
    let server = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    let value = "x".repeat(100_000);
    for i in 0..60 {
        etcdctl(&server, &["put", &format!("big{i:03}"), &value]).expect("put");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.db");
    let f = file.to_str().expect("path");
    let ep = format!("--endpoints={}", server.endpoint());
    let fast = [("OXCDCTL_PROGRESS_INTERVAL", "1ms")];

    let out = run(&oxcdctl, &[&ep, "snapshot", "save", f], &fast);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, format!("Snapshot saved at {f}\n"), "stdout");
    let what = format!("snapshot save {}", server.endpoint());
    let size = std::fs::metadata(&file).expect("saved").len();
    let done = done_line(&out.stderr, &what);
    let human = oxcd_snapshot::status::humanize_bytes(size);
    assert!(
        done.contains(&format!("done: {human} in ")) && done.ends_with("/s"),
        "{done}"
    );
    let periodic: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{PROGRESS_PREFIX}{what}: ")) && l.contains("%), "))
        .collect();
    assert!(
        !periodic.is_empty(),
        "no periodic line at a 1ms interval:\n{}",
        out.stderr
    );
    assert!(size > 5_000_000, "a {size}-byte snapshot");

    // At the default interval (5 s), a quick save prints the last line only.
    let file2 = dir.path().join("q.db");
    let out = run(
        &oxcdctl,
        &[&ep, "snapshot", "save", file2.to_str().expect("path")],
        &[],
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with(PROGRESS_PREFIX))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);

    let data = dir.path().join("r.etcd");
    let out = run(
        &oxcdctl,
        &[
            "snapshot",
            "restore",
            f,
            &format!("--data-dir={}", data.display()),
        ],
        &fast,
    );
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let what = format!("snapshot restore {f}");
    done_line(&out.stderr, &what);
    for stage in ["verifying", "restoring"] {
        assert!(
            out.stderr
                .contains(&format!("{PROGRESS_PREFIX}{what}: {stage}: ")),
            "no {stage} line:\n{}",
            out.stderr
        );
    }

    let out = run(&oxcdctl, &[&ep, "defrag"], &fast);
    assert_eq!(out.status, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "Finished defragmenting etcd member[{}]\n",
            server.endpoint()
        )
    );
    let done = done_line(&out.stderr, &format!("defrag {}", server.endpoint()));
    assert!(done.contains("(db size "), "{done}");
}
