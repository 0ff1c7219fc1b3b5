//! A member whose data directory is unusable exits promptly with a non-zero status and a
//! message naming the path: never a panic ("panicked at"), never a hang (each start is
//! bounded by [`BOUND`]). Cases: a directory without permission (the server runs without
//! CAP_DAC_OVERRIDE, via `setpriv`, so root is refused too), a file where the directory
//! should be (both compared with etcd 3.4.23, which exits 1 with "error listing data dir:
//! <path>"), and oxcd's RocksDB files (CURRENT, MANIFEST, SSTs) made garbage or SSTs
//! truncated after a clean stop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_integration_tests::ports::free_port_pair;
use oxcd_integration_tests::{etcdctl, Kind, Server, ServerOpts};

/// How long a refused start may take.
const BOUND: Duration = Duration::from_secs(15);

struct Refusal {
    code: Option<i32>,
    output: String,
    took: Duration,
}

/// Starts `kind` on `data_dir` (without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH when
/// `unprivileged`) and waits for it to exit, SIGKILLing it after [`BOUND`]; panics if it
/// was still running then.
fn start_on(kind: Kind, data_dir: &Path, unprivileged: bool) -> Refusal {
    let (c, p) = free_port_pair().expect("ports");
    let (c, p) = (
        format!("http://127.0.0.1:{c}"),
        format!("http://127.0.0.1:{p}"),
    );
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut cmd = if unprivileged {
        let mut cmd = Command::new("setpriv");
        cmd.arg("--bounding-set=-dac_override,-dac_read_search")
            .arg(kind.binary());
        cmd
    } else {
        Command::new(kind.binary())
    };
    let started = Instant::now();
    let mut child = cmd
        .args(["--name", "default", "--data-dir"])
        .arg(data_dir)
        .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
        .args([
            "--listen-peer-urls",
            &p,
            "--initial-advertise-peer-urls",
            &p,
        ])
        .args(["--initial-cluster", &format!("default={p}")])
        .stdin(Stdio::null())
        .stdout(log.reopen().expect("log"))
        .stderr(log.reopen().expect("log"))
        .spawn()
        .expect("spawn the server");
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{kind:?} on {} still ran after {BOUND:?}: {}",
                data_dir.display(),
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Refusal {
        code: status.code(),
        output: std::fs::read_to_string(log.path()).unwrap_or_default(),
        took: started.elapsed(),
    }
}

/// The refusal is prompt, non-zero, names `path` and is no panic.
fn assert_clear_refusal(kind: Kind, r: &Refusal, path: &Path) {
    let tail: Vec<&str> = r.output.lines().rev().take(5).collect();
    assert!(
        r.code.is_some_and(|c| c != 0),
        "{kind:?}: exit {:?}: {tail:?}",
        r.code
    );
    assert!(
        !r.output.contains("panicked at"),
        "{kind:?} panicked: {}",
        r.output
    );
    assert!(
        r.output.contains(&path.display().to_string()),
        "{kind:?}: the message does not name {}: {tail:?}",
        path.display()
    );
    eprintln!("{kind:?} refused in {:?}: {}", r.took, tail[0]);
}

#[test]
fn a_data_dir_without_permission_is_refused_by_both() {
    for kind in [Kind::Etcd, Kind::Oxcd] {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .expect("chmod 000");
        let r = start_on(kind, &dir, true);
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod 700");
        assert_clear_refusal(kind, &r, &dir);
    }
}

#[test]
fn a_file_where_the_data_dir_should_be_is_refused_by_both() {
    for kind in [Kind::Etcd, Kind::Oxcd] {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("data");
        std::fs::write(&file, b"not a directory").expect("write");
        let r = start_on(kind, &file, false);
        assert_clear_refusal(kind, &r, &file);
    }
}

/// An oxcd data directory with some data, the server stopped cleanly; the guard keeps it.
fn stopped_oxcd_data() -> (tempfile::TempDir, PathBuf) {
    let mut server = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    for i in 0..50 {
        let out = etcdctl(&server, &["put", &format!("k{i}"), &"v".repeat(100)]).expect("put");
        assert!(out.success(), "{}", out.stderr);
    }
    server.stop().expect("graceful stop");
    let keep = tempfile::tempdir().expect("tmp");
    let data = keep.path().join("data");
    oxcd_integration_tests::process::copy_dir(&server.data_dir(), &data).expect("copy");
    (keep, data)
}

fn files_in(dir: &Path, pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read db dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| pred(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// Overwrites `f` with as many bytes of a fixed pattern.
fn garble(f: &Path) {
    let len = std::fs::metadata(f).expect("stat").len() as usize;
    let junk: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
    std::fs::write(f, junk).expect("overwrite");
}

/// (A MANIFEST cut short is not among the cases: RocksDB reads a torn MANIFEST tail as the
/// crash it usually is and opens the last complete version, as it must after a power cut.)
#[test]
fn garbage_or_truncated_rocksdb_files_are_refused_by_oxcd() {
    type Damage = fn(&Path) -> PathBuf;
    let cases: [(&str, Damage); 4] = [
        ("garbage CURRENT", |db| {
            let f = db.join("CURRENT");
            std::fs::write(&f, b"\x00\x01garbage\n").expect("write");
            db.to_path_buf()
        }),
        ("garbage MANIFEST", |db| {
            for f in files_in(db, |n| n.starts_with("MANIFEST-")) {
                garble(&f);
            }
            db.to_path_buf()
        }),
        ("garbage SST files", |db| {
            for f in files_in(db, |n| n.ends_with(".sst")) {
                garble(&f);
            }
            db.to_path_buf()
        }),
        ("truncated SST files", |db| {
            let ssts = files_in(db, |n| n.ends_with(".sst"));
            assert!(!ssts.is_empty(), "no SST after a clean stop");
            for f in ssts {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&f)
                    .expect("open");
                file.set_len(10).expect("truncate");
            }
            db.to_path_buf()
        }),
    ];
    for (name, damage) in cases {
        let (_keep, data) = stopped_oxcd_data();
        let db = data.join("member").join("db");
        let named = damage(&db);
        let r = start_on(Kind::Oxcd, &data, false);
        eprintln!("case {name}:");
        assert_clear_refusal(Kind::Oxcd, &r, &named);
    }
}
