//! [`Background`]: a long-running client (`etcdctl watch`, a streaming `curl`) run in the
//! background under `timeout(1)` while a differential script makes its writes, then recorded
//! once it has ended.
//!
//! The process lives [`WATCH_SECS`] seconds (`timeout -s TERM`, exit 124 when it is ended that
//! way); [`Background::finish_after`] waits [`SETTLE`] for it to register before the writes.
//! Its stdout and stderr are drained by threads from the start, so a chatty process never
//! blocks on a full pipe. If it outlives [`HARD_DEADLINE`] the harness SIGKILLs it through its
//! `Child` handle (by PID, never by name); dropping a [`Background`] does the same.

use std::ffi::OsStr;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::etcdctl::{etcdctl_binary, Output};
use crate::session::Session;

/// How long a background process lives (seconds, passed to `timeout`).
pub const WATCH_SECS: u64 = 4;
/// How long to wait for a background watch to be registered before writing.
pub const SETTLE: Duration = Duration::from_millis(1200);
/// Hard deadline after which the harness SIGKILLs the background process itself.
pub const HARD_DEADLINE: Duration = Duration::from_secs(WATCH_SECS + 6);

/// A background `timeout -s TERM <WATCH_SECS> <program> <args>` with its output pipes drained
/// by threads.
pub struct Background {
    child: Child,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
}

/// Reads a pipe to its end on a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

impl Background {
    /// Starts `timeout -s TERM <WATCH_SECS> <program> <args>` with `ETCDCTL_API=3`, without
    /// `ETCDCTL_ENDPOINTS`, stdin from `/dev/null` and stdout/stderr drained.
    pub fn spawn(program: impl AsRef<OsStr>, args: &[String]) -> Result<Background> {
        let program = program.as_ref();
        let mut child = Command::new("timeout")
            .arg("-s")
            .arg("TERM")
            .arg(WATCH_SECS.to_string())
            .arg(program)
            .args(args)
            .env("ETCDCTL_API", "3")
            .env_remove("ETCDCTL_ENDPOINTS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                HarnessError::io(format!("spawn background {}", program.to_string_lossy()), e)
            })?;
        let out = Some(drain(child.stdout.take()));
        let err = Some(drain(child.stderr.take()));
        Ok(Background { child, out, err })
    }

    /// Starts `etcdctl --endpoints=<endpoint> watch <args>` in the background.
    pub fn etcdctl_watch(endpoint: &str, args: &[&str]) -> Result<Background> {
        let mut full = vec!["watch"];
        full.extend_from_slice(args);
        Background::ctl(&etcdctl_binary(), endpoint, &full)
    }

    /// Starts `<bin> --endpoints=<endpoint> <args>` in the background (`bin`: etcdctl or
    /// oxcdctl; e.g. a watch or `lease keep-alive`).
    pub fn ctl(bin: &std::path::Path, endpoint: &str, args: &[&str]) -> Result<Background> {
        let mut full = vec![format!("--endpoints={endpoint}")];
        full.extend(args.iter().map(|a| a.to_string()));
        Background::spawn(bin, &full)
    }

    /// Waits [`SETTLE`] (so a watch is registered), runs `writes` on the session, then
    /// [`finish`](Self::finish)es.
    pub fn finish_after<F: FnOnce(&mut Session)>(self, s: &mut Session, writes: F) -> Output {
        std::thread::sleep(SETTLE);
        writes(s);
        self.finish()
    }

    /// Waits (bounded by [`HARD_DEADLINE`]) for the process to end; returns its exit code
    /// (`None` if it was killed by a signal, also by the harness at the deadline), stdout and
    /// stderr (lossy UTF-8).
    pub fn finish(mut self) -> Output {
        let start = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break st.code(),
                Ok(None) if start.elapsed() < HARD_DEADLINE => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    // Killed by PID (the Child handle), never by name.
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        let out = self
            .out
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let err = self
            .err
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        Output {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            status,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
