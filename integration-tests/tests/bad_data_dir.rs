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
use oxcd_integration_tests::{etcdctl, etcdctl_stdin, Kind, Server, ServerOpts};

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

/// (A MANIFEST cut short is not among these cases: see
/// [`a_truncated_manifest_opens_or_is_refused_never_loses_data_silently`].)
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

/// The keys [`stopped_oxcd_data`] wrote, as `etcdctl get --prefix k --keys-only` lists
/// them, checked on a server that runs on such a data dir.
fn assert_the_50_keys(server: &Server) {
    let out = etcdctl(server, &["get", "k", "--prefix", "--keys-only"]).expect("get");
    assert!(out.success(), "{}", out.stderr);
    let mut keys: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
    keys.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    want.sort();
    assert_eq!(keys, want);
    let out = etcdctl(server, &["get", "k49", "--print-value-only"]).expect("get");
    assert_eq!(out.stdout.trim(), "v".repeat(100));
}

/// A RocksDB MANIFEST cut short after a clean stop (the torn tail a crash in the middle of
/// a MANIFEST write leaves). RocksDB reads the torn record as the crash it usually is and
/// opens the last complete version, which lacks what the lost record added:
/// - in the state DB: the member opens and serves every acknowledged key (what the state DB
///   lost, the raft log replays);
/// - in the raft log's DB: what the lost record held decides. The last records are those
///   of the open's WAL priming (flushes of the `default` column family, which holds no raft
///   data), and losing them loses nothing: the member opens and serves every key. Were it
///   the record that listed the log's flushed entries, the log would open EMPTY and the
///   member refuse to start ("applied index 53 is beyond the raft log's last index 0",
///   naming the raft log's directory) instead of running without its log; so either
///   outcome passes, and the cut that reaches back into the log's own records (half the
///   MANIFEST) must be one of them too.
///
/// Never a panic, never a member that runs with keys missing.
#[test]
fn a_truncated_manifest_opens_or_is_refused_never_loses_data_silently() {
    for (db, cut) in [
        ("db", 1u64),
        ("db", 40),
        ("wal", 1),
        ("wal", 40),
        ("wal", u64::MAX),
    ] {
        let (_keep, data) = stopped_oxcd_data();
        let dir = data.join("member").join(db);
        let manifests = files_in(&dir, |n| n.starts_with("MANIFEST-"));
        assert_eq!(manifests.len(), 1, "one live MANIFEST in {}", dir.display());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&manifests[0])
            .expect("open");
        let len = file.metadata().expect("stat").len();
        // u64::MAX: half the file.
        let cut = if cut == u64::MAX { len / 2 } else { cut };
        assert!(len > cut, "MANIFEST of {len} bytes");
        file.set_len(len - cut).expect("truncate");
        eprintln!("case: {db} MANIFEST cut by {cut} of {len} bytes");
        let started = Server::start(Kind::Oxcd, ServerOpts::default().with_data_from(&data));
        let mut server = match started {
            Ok(server) => server,
            Err(e) if db == "wal" => {
                eprintln!("refused: {e}");
                let r = start_on(Kind::Oxcd, &data, false);
                assert_clear_refusal(Kind::Oxcd, &r, &dir);
                continue;
            }
            Err(e) => panic!("{db} MANIFEST cut by {cut}: {e}"),
        };
        assert_the_50_keys(&server);
        server.stop().expect("stop");
        let log = std::fs::read_to_string(server.log_path()).expect("log");
        assert!(!log.contains("panicked at"), "{log}");
    }
}

/// A data dir written by a newer storage format is refused, naming the path and both
/// format numbers; one of an older format is accepted and upgraded. The `storage-format`
/// failpoint makes a start claim format 99: it upgrades the data dir (1 -> 99, the data
/// kept), after which a normal start (format 1) refuses it. etcd 3.4.23 has no such check
/// (its data dir carries no format number; a 3.5 member's data is simply read).
#[test]
fn a_data_dir_from_a_newer_format_is_refused() {
    let (_keep, data) = stopped_oxcd_data();
    let mut newer = Server::start(
        Kind::Oxcd,
        ServerOpts::default()
            .with_data_from(&data)
            .with_env("FAILPOINTS", "storage-format=return(99)"),
    )
    .expect("a format-99 oxcd takes the format-1 data dir");
    assert_the_50_keys(&newer);
    newer.stop().expect("stop");
    let log = std::fs::read_to_string(newer.log_path()).expect("log");
    assert!(
        log.contains("upgraded the data dir's storage format"),
        "{log}"
    );

    let keep = tempfile::tempdir().expect("tmp");
    let upgraded = keep.path().join("data");
    oxcd_integration_tests::process::copy_dir(&newer.data_dir(), &upgraded).expect("copy");
    let r = start_on(Kind::Oxcd, &upgraded, false);
    assert_clear_refusal(Kind::Oxcd, &r, &upgraded.join("member").join("db"));
    assert!(
        r.output.contains("storage format 99") && r.output.contains("format 1"),
        "both format numbers: {}",
        r.output
    );
}

/// A small tmpfs only this test sees: mounted inside a user + mount namespace (`unshare
/// -rm`, no real root needed) that a `sleep` keeps alive. The server runs outside the
/// namespace on the path `/proc/<holder>/root/<dir>`, which resolves inside it. Dropping
/// it kills the holder by PID: the namespace and the tmpfs go with it. Needs user
/// namespaces (`unshare -rm`) and `nsenter` (util-linux); a machine without them fails the
/// test, it is never skipped.
struct SmallFs {
    holder: std::process::Child,
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size_mb: u64) -> SmallFs {
        let dir = tempfile::tempdir().expect("tmp");
        let mut holder = Command::new("unshare")
            .args(["-rm", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o "size=$1m" tmpfs "$0" && echo mounted && exec sleep 600"#)
            .arg(dir.path())
            .arg(size_mb.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(holder.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "mounted", "unshare -rm + mount tmpfs failed");
        let fs = SmallFs { holder, dir };
        let kind = Command::new("stat")
            .args(["-f", "-c", "%T"])
            .arg(fs.path())
            .output()
            .expect("stat -f");
        assert_eq!(String::from_utf8_lossy(&kind.stdout).trim(), "tmpfs");
        fs
    }

    /// The mount point, as seen from outside the namespace.
    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.holder.id()))
            .join(self.dir.path().strip_prefix("/").expect("absolute"))
    }

    fn resize(&self, size_mb: u64) {
        let out = Command::new("nsenter")
            .args([
                "-t",
                &self.holder.id().to_string(),
                "-U",
                "-m",
                "--preserve-credentials",
            ])
            .args(["mount", "-o", &format!("remount,size={size_mb}m")])
            .arg(self.dir.path())
            .output()
            .expect("nsenter");
        assert!(
            out.status.success(),
            "remount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The value of the `i`th put of the disk-full test: 256 KiB of letters drawn from a
/// generator seeded with `i`, so that no compression (RocksDB's LZ4) makes them smaller.
fn filler_value(i: usize) -> String {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// The disk fills up during writes, for both servers: the data dir on a 160 MiB tmpfs
/// ([`FS_MB`]; etcd preallocates 64 MiB WAL segments, and at 64 MiB it sometimes cannot
/// even start), 256 KiB puts (each bounded by a 5 s command timeout) until one fails.
///
/// etcd 3.4.23: after about 120 puts the bbolt commit fails and etcd logs the critical
/// "mvcc/backend: cannot commit tx (write .../member/snap/db: no space left on device)"
/// and exits with status 1 (its WAL append failing would be the same: `raft.go`'s fatal
/// "failed to save Raft hard state and entries"). The put in flight runs into its 5 s
/// timeout.
///
/// oxcd: the first write RocksDB cannot
/// make ("No space left on device") fails the raft log append or the apply; a put is
/// answered only after its entry is in the synced log and applied, so that put is never
/// acknowledged. The raft loop stops on the error, the puts in flight are answered at once
/// ("etcdserver: server stopped") and the member exits with status 1, its last line naming
/// the cause ("... wal/000014.log: No space left on device"). No panic, no abort.
///
/// Both: once the filesystem has room again (remounted four times as large) the member restarts and
/// every acknowledged put is there with its value, and writes work again.
#[test]
fn a_disk_that_fills_up_stops_the_member_and_loses_nothing_acknowledged() {
    for kind in [Kind::Etcd, Kind::Oxcd] {
        fill_the_disk(kind);
    }
}

/// The size of the filesystem the disk-full test fills.
const FS_MB: u64 = 160;

fn fill_the_disk(kind: Kind) {
    let fs = SmallFs::mount(FS_MB);
    let data = fs.path().join("data");
    let mut server = Server::start(kind, ServerOpts::default().with_data_dir(&data))
        .unwrap_or_else(|e| panic!("{kind:?} starts on a {FS_MB} MiB tmpfs: {e}"));
    let started = Instant::now();
    let mut acked = Vec::new();
    let mut failure = None;
    for i in 0..1000 {
        let value = filler_value(i);
        let t = Instant::now();
        let out = etcdctl_stdin(
            &server,
            &["put", &format!("full/{i:04}"), "--command-timeout=5s"],
            &value,
        )
        .expect("etcdctl ran");
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{kind:?}: put {i} took {:?}",
            t.elapsed()
        );
        if out.success() {
            acked.push(i);
        } else {
            failure = Some((format!("put {i}: {}", out.stderr.trim()), t.elapsed()));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "{kind:?}: still writing after 4 minutes"
        );
    }
    let (failure, took) = failure.expect("the puts never failed on a small filesystem");
    eprintln!(
        "{kind:?}: {} puts acknowledged, then in {took:?} {failure}",
        acked.len()
    );
    if kind == Kind::Oxcd {
        assert!(
            took < Duration::from_secs(3) && failure.contains("server stopped"),
            "the put in flight is answered at once: {took:?} {failure}"
        );
    }
    assert!(!acked.is_empty(), "{kind:?}: no put fitted");

    let status = server
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{kind:?} still runs on a full disk"));
    let log = std::fs::read_to_string(server.log_path()).expect("log");
    assert!(!log.contains("panicked at"), "{kind:?}: {log}");
    assert_eq!(
        status.code(),
        Some(1),
        "{kind:?}: exit status {status}: {}",
        server.log_tail(10)
    );
    assert!(
        log.to_lowercase().contains("no space left on device"),
        "{kind:?}: the log does not say why: {}",
        server.log_tail(20)
    );
    eprintln!("{kind:?}: exited: {}", server.log_tail(1));

    fs.resize(4 * FS_MB);
    server
        .restart()
        .unwrap_or_else(|e| panic!("{kind:?} restarts once there is room: {e}"));
    let out = etcdctl(&server, &["get", "full/", "--prefix", "--keys-only"]).expect("get");
    assert!(out.success(), "{}", out.stderr);
    let present: std::collections::BTreeSet<String> = out
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    for i in &acked {
        assert!(
            present.contains(&format!("full/{i:04}")),
            "{kind:?}: acknowledged put {i} is lost"
        );
    }
    for &i in acked.iter().rev().take(5).chain(acked.first()) {
        let out = etcdctl(
            &server,
            &["get", &format!("full/{i:04}"), "--print-value-only"],
        )
        .expect("get");
        assert!(
            out.stdout.trim_end() == filler_value(i),
            "{kind:?}: value of put {i}"
        );
    }
    let out = etcdctl(&server, &["put", "after", "x"]).expect("put");
    assert!(out.success(), "{kind:?}: writes work again: {}", out.stderr);
    server.stop().expect("stop");
}
