//! Running `etcdctl` (API v3) against a server, with optional stdin and a hard deadline.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::process::Server;

/// Hard deadline for one etcdctl invocation (its own `--command-timeout` is 5 s).
pub const ETCDCTL_DEADLINE: Duration = Duration::from_secs(30);

/// Path of the etcdctl binary (overridable with `ETCDCTL_BIN`).
pub fn etcdctl_binary() -> PathBuf {
    std::env::var_os("ETCDCTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcdctl"))
}

/// What one etcdctl run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// Exit code; `None` if killed by a signal.
    pub status: Option<i32>,
}

impl Output {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// `OK: <stdout>`, or `FAILED: <the last Error: line>`: what a transcript compares.
    pub fn outcome(&self) -> String {
        if self.success() {
            return format!("OK: {}", self.stdout.trim());
        }
        let err = self
            .stderr
            .lines()
            .rfind(|l| l.starts_with("Error:"))
            .unwrap_or("(no Error: line)");
        format!("FAILED: {err}")
    }
}

/// Runs `etcdctl --endpoints=<server> --command-timeout=5s <args>` with `ETCDCTL_API=3`.
pub fn etcdctl(server: &Server, args: &[&str]) -> Result<Output> {
    etcdctl_raw(&server.endpoint(), args, None, ETCDCTL_DEADLINE)
}

/// Like [`etcdctl`], feeding `stdin` to the process (for `txn` and `put` without a value).
pub fn etcdctl_stdin(server: &Server, args: &[&str], stdin: &str) -> Result<Output> {
    etcdctl_raw(&server.endpoint(), args, Some(stdin), ETCDCTL_DEADLINE)
}

/// Runs etcdctl against an endpoint URL; kills it if it outlives `deadline`.
pub fn etcdctl_raw(
    endpoint: &str,
    args: &[&str],
    stdin: Option<&str>,
    deadline: Duration,
) -> Result<Output> {
    ctl_raw(&etcdctl_binary(), endpoint, args, stdin, deadline)
}

/// Runs `bin` (etcdctl or a program with etcdctl's command line, such as oxcdctl) as
/// [`etcdctl_raw`] runs etcdctl.
pub fn ctl_raw(
    bin: &std::path::Path,
    endpoint: &str,
    args: &[&str],
    stdin: Option<&str>,
    deadline: Duration,
) -> Result<Output> {
    let mut child = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg(format!("--endpoints={endpoint}"))
        .arg("--command-timeout=5s")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::io(format!("spawn {}", bin.display()), e))?;

    let writer = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_owned();
            Some(std::thread::spawn(move || {
                // etcdctl may exit before reading everything; a broken pipe is not our error.
                let _ = pipe.write_all(text.as_bytes());
            }))
        }
        _ => None,
    };
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });

    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(HarnessError::Timeout(format!("etcdctl {}", args.join(" "))));
            }
            Err(e) => return Err(HarnessError::io("wait for etcdctl", e)),
        }
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Output {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        status: status.code(),
    })
}

/// The hex lease ID in `etcdctl lease grant` output ("lease 694d7d0ab1ec2a0b granted with
/// TTL(600s)"): its second word, or "" when there is none (the grant failed).
pub fn granted_lease_hex(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// Builds the stdin script of `etcdctl txn` (interactive mode): compares, a blank line, success
/// ops, a blank line, failure ops, a blank line.
pub fn txn_script(compares: &[&str], success: &[&str], failure: &[&str]) -> String {
    let mut s = String::new();
    for section in [compares, success, failure] {
        for line in section {
            s.push_str(line);
            s.push('\n');
        }
        s.push('\n');
    }
    s
}

/// Starts `etcdctl --endpoints=<endpoints> <args>` (`ETCDCTL_API=3`) in the background, for
/// long-running commands such as `watch`; stdout and stderr are piped when `capture`, else
/// discarded. The caller MUST kill and reap the child.
pub fn spawn_etcdctl(endpoints: &str, args: &[&str], capture: bool) -> Result<std::process::Child> {
    let pipe = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    Command::new(etcdctl_binary())
        .env("ETCDCTL_API", "3")
        .env_remove("ETCDCTL_ENDPOINTS")
        .arg(format!("--endpoints={endpoints}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(pipe())
        .stderr(pipe())
        .spawn()
        .map_err(|e| HarnessError::io("spawn etcdctl", e))
}
