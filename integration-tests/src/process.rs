//! Starting, health-checking, killing and restarting one single-member server process
//! (etcd or oxcd) on loopback ports with a private temporary data directory.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::http;
use crate::json::Json;
use crate::ports;

/// Path of the etcd binary (overridable with `ETCD_BIN`).
pub fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"))
}

/// Where the oxcd binary is expected: `OXCD_BIN`, else `$CARGO_TARGET_DIR/debug/oxcd`, else the
/// `debug` directory this test executable lives in (`target/debug/deps/..`), else
/// `$HOME/.cache/oxcd-target/debug/oxcd`.
pub fn oxcd_binary_path() -> PathBuf {
    workspace_binary("OXCD_BIN", "oxcd")
}

/// Where the oxcdctl binary is expected: `OXCDCTL_BIN`, else as [`oxcd_binary_path`] with
/// the name `oxcdctl` (a workspace binary, built by `make test`'s workspace build).
pub fn oxcdctl_binary_path() -> PathBuf {
    workspace_binary("OXCDCTL_BIN", "oxcdctl")
}

/// The workspace binary `name`: `$<var>`, `$CARGO_TARGET_DIR/debug/<name>`, the `debug`
/// directory of this test executable, or `$HOME/.cache/oxcd-target/debug/<name>`.
fn workspace_binary(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        // A relative target dir is relative to the workspace, not to the test's cwd.
        if dir.is_absolute() {
            return dir.join("debug").join(name);
        }
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/debug/deps/<test-binary>
        if let Some(debug) = exe.parent().and_then(Path::parent) {
            let candidate = debug.join(name);
            if candidate.exists() {
                return candidate;
            }
        }
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home)
        .join(".cache/oxcd-target/debug")
        .join(name)
}

/// Panics when the oxcdctl binary is missing (a test must fail, never pass by skipping).
pub fn oxcdctl_available() -> PathBuf {
    workspace_binary_available("OXCDCTL_BIN", "oxcdctl")
}

/// The oxcd-bench binary (`OXCD_BENCH_BIN`, else found as [`oxcd_binary_path`] is); panics
/// when it is missing.
pub fn oxcd_bench_available() -> PathBuf {
    workspace_binary_available("OXCD_BENCH_BIN", "oxcd-bench")
}

fn workspace_binary_available(var: &str, name: &str) -> PathBuf {
    let path = workspace_binary(var, name);
    assert!(
        path.is_file(),
        "{name} binary not found at {} (build the workspace first, or set {var})",
        path.display()
    );
    path
}

/// True when `OXCD_DIFF_SELFTEST=1`: the "oxcd" side of every test is another etcd.
pub fn selftest() -> bool {
    std::env::var("OXCD_DIFF_SELFTEST")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Whether tests that need oxcd can run: always true, and it PANICS when the binary is
/// missing (a test must fail, never pass by skipping).
pub fn oxcd_available() -> bool {
    if selftest() {
        return true;
    }
    let path = oxcd_binary_path();
    // A missing binary fails the test: a test that passes by skipping proves nothing.
    assert!(
        path.is_file(),
        "oxcd binary not found at {} (build the workspace first, or set OXCD_BIN)",
        path.display()
    );
    true
}

/// Starts one oxcd with default options, for the oxcd-only tests (no reference run). The
/// `Option` is for `let Some(server) = start_oxcd() else { return };`: it is always `Some`,
/// since [`oxcd_available`] panics when the binary is missing; a failed start panics too.
pub fn start_oxcd() -> Option<Server> {
    if !oxcd_available() {
        return None;
    }
    Some(Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd"))
}

/// Which server implementation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// etcd 3.4.23, the reference.
    Etcd,
    /// oxcd (or etcd again under `OXCD_DIFF_SELFTEST=1`).
    Oxcd,
}

impl Kind {
    /// The binary this kind runs, honouring the selftest switch.
    pub fn binary(self) -> PathBuf {
        match self {
            Kind::Etcd => etcd_binary(),
            Kind::Oxcd if selftest() => etcd_binary(),
            Kind::Oxcd => oxcd_binary_path(),
        }
    }

    /// A short label for transcripts.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Etcd => "etcd",
            Kind::Oxcd if selftest() => "oxcd(selftest=etcd)",
            Kind::Oxcd => "oxcd",
        }
    }
}

/// Extra knobs for a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOpts {
    /// Flags appended after the standard ones, e.g. `--max-txn-ops=3`.
    pub extra_args: Vec<String>,
    /// A data directory (for example one `snapshot restore` made) copied in as the server's
    /// data directory before every start attempt; the original is left alone.
    pub data_from: Option<PathBuf>,
    /// Environment variables set for the server process (e.g. `FAILPOINTS`).
    pub envs: Vec<(String, String)>,
    /// The data directory, when the test provides one (for example on a filesystem it
    /// mounted) instead of `<tmp>/data`; the harness never deletes it.
    pub data_dir: Option<PathBuf>,
    /// Standard error goes to [`Server::stderr_path`] instead of the log with standard
    /// output, for tests of which stream a server writes to.
    pub separate_stderr: bool,
}

impl ServerOpts {
    /// Options with these extra flags.
    pub fn with_args(args: &[&str]) -> Self {
        ServerOpts {
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            data_from: None,
            envs: Vec::new(),
            data_dir: None,
            separate_stderr: false,
        }
    }

    /// These options, with the data directory `dir` (see [`ServerOpts::data_dir`]).
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// These options, with standard error kept apart from standard output.
    pub fn with_separate_stderr(mut self) -> Self {
        self.separate_stderr = true;
        self
    }

    /// These options, starting from a copy of the data directory `dir`.
    pub fn with_data_from(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_from = Some(dir.into());
        self
    }

    /// These options, with `name=value` in the server's environment.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.envs.push((name.to_string(), value.to_string()));
        self
    }
}

/// How long `start`/`restart` wait for health.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 4;

/// A running (or stopped) single-member server. Dropping it SIGKILLs the process and reaps it,
/// then removes the data directory (set `OXCD_KEEP_TMP=1` to keep it).
pub struct Server {
    kind: Kind,
    binary: PathBuf,
    opts: ServerOpts,
    tmp: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    member_id: Option<u64>,
    cluster_id: Option<u64>,
    version: Option<String>,
}

impl Server {
    /// Starts a fresh server on free ports with a new temporary data directory and waits until
    /// it is healthy. Port collisions are retried with new ports.
    pub fn start(kind: Kind, opts: ServerOpts) -> Result<Server> {
        let binary = kind.binary();
        if !binary.is_file() {
            return Err(HarnessError::BinaryNotFound(binary));
        }
        let tmp = tempfile::Builder::new()
            .prefix(&format!(
                "oxcd-it-{}-",
                kind.label().split('(').next().unwrap_or("srv")
            ))
            .tempdir()
            .map_err(|e| HarnessError::io("create temp dir", e))?;
        let mut server = Server {
            kind,
            binary,
            opts,
            tmp,
            client_port: 0,
            peer_port: 0,
            child: None,
            member_id: None,
            cluster_id: None,
            version: None,
        };
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            let (c, p) = ports::free_port_pair()?;
            server.client_port = c;
            server.peer_port = p;
            // A failed attempt must not leave half-initialised data behind.
            if server.opts.data_dir.is_none() {
                let _ = std::fs::remove_dir_all(server.data_dir());
            }
            if let Some(from) = &server.opts.data_from {
                copy_dir(from, &server.data_dir())
                    .map_err(|e| HarnessError::io("copy the prepared data dir", e))?;
            }
            match server.spawn_and_wait() {
                Ok(()) => {
                    server.learn_identity();
                    return Ok(server);
                }
                Err(e) => {
                    server.reap_kill();
                    let retry = e.is_port_in_use();
                    last_err = Some(e);
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or(HarnessError::NotRunning))
    }

    /// Which implementation this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The peer port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// `http://127.0.0.1:<client port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The data directory (`<tmp>/data`, or the one [`ServerOpts::data_dir`] names).
    pub fn data_dir(&self) -> PathBuf {
        self.opts
            .data_dir
            .clone()
            .unwrap_or_else(|| self.tmp.path().join("data"))
    }

    /// The log file (stdout and stderr of every start, appended; stdout only with
    /// [`ServerOpts::separate_stderr`]). Each start begins with a `=== harness:` line.
    pub fn log_path(&self) -> PathBuf {
        self.tmp.path().join("server.log")
    }

    /// Where standard error goes with [`ServerOpts::separate_stderr`] (appended).
    pub fn stderr_path(&self) -> PathBuf {
        self.tmp.path().join("server.stderr")
    }

    /// The member ID learnt from `/v3/maintenance/status` after startup, if the server answered.
    pub fn member_id(&self) -> Option<u64> {
        self.member_id
    }

    /// The cluster ID learnt at startup, if known.
    pub fn cluster_id(&self) -> Option<u64> {
        self.cluster_id
    }

    /// The server version string from `/version` (`etcdserver`), if known.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The process ID, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still alive (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last `lines` lines of the server log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits up to `timeout` for the process to exit on its own and returns its status
    /// (the handle then counts as stopped); `None` if it still runs (it is left running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.child.as_mut()?;
            if let Ok(Some(status)) = c.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs the process and waits for it.
    pub fn kill9(&mut self) -> Result<()> {
        match self.child.take() {
            Some(mut c) => {
                c.kill()
                    .map_err(|e| HarnessError::io("SIGKILL server", e))?;
                c.wait()
                    .map_err(|e| HarnessError::io("wait for server", e))?;
                Ok(())
            }
            None => Err(HarnessError::NotRunning),
        }
    }

    /// SIGTERMs the process and waits up to 10 s for it, then SIGKILLs it.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut c) = self.child.take() else {
            return Err(HarnessError::NotRunning);
        };
        send_signal(c.id(), "TERM")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match c.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return Err(HarnessError::Timeout("graceful stop (SIGTERM)".into()));
                }
            }
        }
    }

    /// Starts the process again on the same ports and data directory (killing it first if it
    /// still runs) and waits until it is healthy. If another process took its client port
    /// while it was down, it moves to a fresh one ([`Server::client_port`] tells which).
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            self.kill9()?;
        }
        // The old listener may linger for a moment; retry a port-in-use start a few times.
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            match self.spawn_and_wait() {
                Ok(()) => {
                    self.learn_identity();
                    return Ok(());
                }
                Err(e) => {
                    self.reap_kill();
                    if e.port_in_use() == Some(self.client_port) {
                        self.client_port = ports::free_port()?;
                    }
                    let retry = e.is_port_in_use();
                    last = Some(e);
                    if !retry {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            }
        }
        Err(last.unwrap_or(HarnessError::NotRunning))
    }

    fn args(&self) -> Vec<String> {
        let c = format!("http://127.0.0.1:{}", self.client_port);
        let p = format!("http://127.0.0.1:{}", self.peer_port);
        let mut a = vec![
            "--name".to_string(),
            "default".to_string(),
            "--data-dir".to_string(),
            self.data_dir().display().to_string(),
            "--listen-client-urls".to_string(),
            c.clone(),
            "--advertise-client-urls".to_string(),
            c,
            "--listen-peer-urls".to_string(),
            p.clone(),
            "--initial-advertise-peer-urls".to_string(),
            p.clone(),
            "--initial-cluster".to_string(),
            format!("default={p}"),
        ];
        a.extend(self.opts.extra_args.iter().cloned());
        a
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| HarnessError::io("open server log", e))?;
        let log2 = if self.opts.separate_stderr {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.stderr_path())
                .map_err(|e| HarnessError::io("open server stderr", e))?
        } else {
            log.try_clone()
                .map_err(|e| HarnessError::io("clone log handle", e))?
        };
        use std::io::Write;
        let mut header: &File = &log;
        let _ = writeln!(
            header,
            "=== harness: starting {} {}",
            self.binary.display(),
            self.args().join(" ")
        );
        let child = Command::new(&self.binary)
            .args(self.args())
            .envs(self.opts.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| HarnessError::io(format!("spawn {}", self.binary.display()), e))?;
        self.child = Some(child);
        self.wait_healthy()
    }

    fn wait_healthy(&mut self) -> Result<()> {
        let start = Instant::now();
        let mut iteration = 0u32;
        while start.elapsed() < STARTUP_TIMEOUT {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Err(HarnessError::ExitedDuringStartup {
                        status: status.to_string(),
                        log_tail: self.log_tail(30),
                    });
                }
            }
            if let Ok(r) = http::request(self.client_port, "GET", "/health", None) {
                if r.status == 200 && r.body.contains("true") {
                    return Ok(());
                }
            }
            iteration += 1;
            // Fall back to etcdctl once a second, for servers whose /health lags.
            if iteration % 10 == 0 {
                let out = crate::etcdctl::etcdctl_raw(
                    &self.endpoint(),
                    &["endpoint", "health", "--command-timeout=1s"],
                    None,
                    Duration::from_secs(5),
                );
                if matches!(out, Ok(ref o) if o.success()) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(HarnessError::StartTimeout {
            seconds: STARTUP_TIMEOUT.as_secs(),
            log_tail: self.log_tail(30),
        })
    }

    /// Learns member/cluster IDs and the version (best effort; used by normalisation).
    fn learn_identity(&mut self) {
        if let Ok(r) = http::request(
            self.client_port,
            "POST",
            "/v3/maintenance/status",
            Some("{}"),
        ) {
            if let Ok(j) = Json::parse(&r.body) {
                self.member_id = j.at(&["header", "member_id"]).and_then(Json::as_u64);
                self.cluster_id = j.at(&["header", "cluster_id"]).and_then(Json::as_u64);
            }
        }
        if let Ok(r) = http::request(self.client_port, "GET", "/version", None) {
            if let Ok(j) = Json::parse(&r.body) {
                self.version = j.get("etcdserver").and_then(Json::scalar).map(String::from);
            }
        }
    }

    fn reap_kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Copies the directory tree `from` to `to` (which must not exist).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

impl Drop for Server {
    fn drop(&mut self) {
        self.reap_kill();
        if std::env::var("OXCD_KEEP_TMP")
            .map(|v| v == "1")
            .unwrap_or(false)
        {
            self.tmp.disable_cleanup(true);
            eprintln!("kept {}", self.tmp.path().display());
        }
    }
}

/// Sends `SIGsig` (e.g. "TERM", "KILL") to one PID with `kill(1)`.
pub fn send_signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| HarnessError::io("run kill", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(HarnessError::NotRunning)
    }
}
