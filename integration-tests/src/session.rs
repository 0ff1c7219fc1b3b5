//! Differential sessions: run the same script against etcd and oxcd, record normalised
//! transcripts, and fail with a readable diff when they differ.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::error::HarnessError;
use crate::etcdctl::{self, Output};
use crate::http::{self, HttpResponse};
use crate::normalize::Normalizer;
use crate::process::{oxcd_available, oxcdctl_available, Kind, Server, ServerOpts};
use crate::textdiff::line_diff;

/// Longest stdin echoed verbatim into a transcript.
const STDIN_ECHO_LIMIT: usize = 300;

/// One side of a differential run: a server, its normaliser and the transcript so far.
pub struct Session {
    server: Server,
    norm: Normalizer,
    transcript: String,
    ctl_bin: PathBuf,
}

impl Session {
    /// Wraps a started server; commands run with etcdctl.
    pub fn new(server: Server) -> Self {
        Self::with_ctl(server, etcdctl::etcdctl_binary())
    }

    /// Wraps a started server; commands run with `ctl_bin`, a program with etcdctl's
    /// command line (oxcdctl). Transcripts still say `$ etcdctl ...`: they are compared.
    pub fn with_ctl(server: Server, ctl_bin: PathBuf) -> Self {
        let norm = Normalizer::for_server(&server);
        Session {
            server,
            norm,
            transcript: String::new(),
            ctl_bin,
        }
    }

    /// The program `ctl` runs (etcdctl or oxcdctl).
    pub fn ctl_bin(&self) -> &Path {
        &self.ctl_bin
    }

    /// Registers a member ID the server made up (a member added by the script) so later
    /// output shows it as `<NEW_MEMBER#n>`; returns the alias.
    pub fn alias_member(&mut self, id: u64) -> String {
        self.norm.member_alias(id)
    }

    /// The server under test.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The server under test, mutably (restart, kill9...).
    pub fn server_mut(&mut self) -> &mut Server {
        &mut self.server
    }

    /// The normalised transcript so far.
    pub fn transcript(&self) -> &str {
        &self.transcript
    }

    /// Records a free-form (normalised) line, e.g. a value the script computed.
    pub fn note(&mut self, line: &str) {
        let l = self.norm.text(line);
        self.transcript.push_str(&format!("# {l}\n"));
    }

    /// Registers a lease ID so later output shows it as `<LEASE#n>`; returns the alias.
    pub fn alias_lease(&mut self, id: u64) -> String {
        self.norm.lease_alias(id)
    }

    fn record_output(&mut self, out: &Output) {
        self.transcript.push_str(&format!(
            "exit: {}\n",
            out.status
                .map(|c| c.to_string())
                .unwrap_or_else(|| "signal".into())
        ));
        let stderr = without_progress(&out.stderr);
        for (name, text) in [("stdout", &out.stdout), ("stderr", &stderr)] {
            if text.is_empty() {
                continue;
            }
            let t = self.norm.text(text.trim_end_matches('\n'));
            self.transcript.push_str(&format!("{name}:\n"));
            for line in t.lines() {
                self.transcript.push_str(&format!("| {line}\n"));
            }
        }
    }

    /// Runs the session's ctl program with `args` (and `stdin`) WITHOUT recording it; a
    /// harness failure is returned as status `None`. Record what matters with
    /// [`Session::note`].
    pub fn run(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        etcdctl::ctl_raw(
            &self.ctl_bin,
            &self.server.endpoint(),
            args,
            stdin,
            etcdctl::ETCDCTL_DEADLINE,
        )
        .unwrap_or_else(harness_output)
    }

    /// Runs etcdctl with `args`, records the command and its normalised output, returns the
    /// raw output. A harness failure is recorded and returned as status `None`.
    pub fn ctl(&mut self, args: &[&str]) -> Output {
        let cmd = self.norm.text(&shell_join(args));
        self.transcript.push_str(&format!("$ etcdctl {cmd}\n"));
        let out = etcdctl::ctl_raw(
            &self.ctl_bin,
            &self.server.endpoint(),
            args,
            None,
            etcdctl::ETCDCTL_DEADLINE,
        )
        .unwrap_or_else(harness_output);
        self.record_output(&out);
        out
    }

    /// Like [`Session::ctl`] with stdin.
    pub fn ctl_stdin(&mut self, args: &[&str], stdin: &str) -> Output {
        let cmd = self.norm.text(&shell_join(args));
        let shown = if stdin.len() <= STDIN_ECHO_LIMIT {
            self.norm.text(stdin).replace('\n', "\\n")
        } else {
            format!("<{} bytes>", stdin.len())
        };
        self.transcript
            .push_str(&format!("$ etcdctl {cmd} <<< \"{shown}\"\n"));
        let out = etcdctl::ctl_raw(
            &self.ctl_bin,
            &self.server.endpoint(),
            args,
            Some(stdin),
            etcdctl::ETCDCTL_DEADLINE,
        )
        .unwrap_or_else(harness_output);
        self.record_output(&out);
        out
    }

    /// Sends one HTTP request on a fresh connection and records the normalised response.
    /// A transport failure is recorded and returned as status 0 with the error as body.
    pub fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        self.request_with_headers(method, path, body, &[])
    }

    /// Like [`Session::request`], sending the extra `headers` too; they are recorded after
    /// the request line, one `>  Name: value` line each, normalised (a token the normaliser
    /// has seen in a response shows as its alias, see [`Normalizer`]).
    pub fn request_with_headers(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let shown = body.map(|b| format!(" {b}")).unwrap_or_default();
        let line = self.norm.text(&format!("{method} {path}{shown}"));
        self.transcript.push_str(&format!("> {line}\n"));
        for (name, value) in headers {
            let h = self.norm.text(&format!("{name}: {value}"));
            self.transcript.push_str(&format!(">  {h}\n"));
        }
        let resp =
            http::request_with_headers(self.server.client_port(), method, path, body, headers)
                .unwrap_or_else(|e| HttpResponse {
                    status: 0,
                    headers: Vec::new(),
                    body: format!("harness error: {e}"),
                });
        let t = self.norm.http(&resp);
        for l in t.lines() {
            self.transcript.push_str(&format!("< {l}\n"));
        }
        resp
    }

    /// `POST path body` WITHOUT recording it (for checks that compare only part of a reply;
    /// record what matters with [`Session::note`]). A transport failure gives status 0.
    pub fn raw_post(&mut self, path: &str, body: &str) -> HttpResponse {
        http::request(self.server.client_port(), "POST", path, Some(body)).unwrap_or_else(|e| {
            HttpResponse {
                status: 0,
                headers: Vec::new(),
                body: format!("harness error: {e}"),
            }
        })
    }

    /// `POST path body`, recorded.
    pub fn post(&mut self, path: &str, body: &str) -> HttpResponse {
        self.request("POST", path, Some(body))
    }

    /// `POST path body` with extra headers, recorded (see [`Session::request_with_headers`]).
    pub fn post_with_headers(
        &mut self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        self.request_with_headers("POST", path, Some(body), headers)
    }

    /// `GET path`, recorded.
    pub fn get(&mut self, path: &str) -> HttpResponse {
        self.request("GET", path, None)
    }
}

/// `stderr` without oxcdctl's progress lines (`progress: ...`, printed by save, restore
/// and defrag when stderr is not a terminal; etcdctl has none). They are checked by
/// `diff_oxcdctl_snapshot.rs`.
pub fn without_progress(stderr: &str) -> String {
    stderr
        .split_inclusive('\n')
        .filter(|l| !l.starts_with(PROGRESS_PREFIX))
        .collect()
}

/// How oxcdctl's progress lines start.
pub const PROGRESS_PREFIX: &str = "progress: ";

/// Joins arguments for display, single-quoting empty ones and ones with special characters.
fn shell_join(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./:,<>#@%+".contains(c));
            if plain {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn harness_output(e: HarnessError) -> Output {
    Output {
        stdout: String::new(),
        stderr: format!("harness error: {e}"),
        status: None,
    }
}

fn start_pair(opts: &ServerOpts) -> (Server, Server) {
    std::thread::scope(|s| {
        let e = s.spawn(|| Server::start(Kind::Etcd, opts.clone()));
        let o = s.spawn(|| Server::start(Kind::Oxcd, opts.clone()));
        let etcd = match e.join() {
            Ok(Ok(srv)) => srv,
            Ok(Err(err)) => panic!("etcd (reference) failed to start: {err}"),
            Err(_) => panic!("etcd start thread panicked"),
        };
        let oxcd = match o.join() {
            Ok(Ok(srv)) => srv,
            Ok(Err(err)) => panic!("{} failed to start: {err}", Kind::Oxcd.label()),
            Err(_) => panic!("oxcd start thread panicked"),
        };
        (etcd, oxcd)
    })
}

/// Runs `script` against a fresh etcd and a fresh oxcd (both started with `opts`), concurrently,
/// and panics with a line diff of the normalised transcripts if they differ. Returns without
/// doing anything (after printing `SKIP: ...`) if the oxcd binary is missing.
pub fn diff_run<F>(name: &str, opts: ServerOpts, script: F)
where
    F: Fn(&mut Session) + Sync,
{
    if !oxcd_available() {
        return;
    }
    let (etcd, oxcd) = start_pair(&opts);
    let mut sessions = [Session::new(etcd), Session::new(oxcd)];
    let results = run_all(&mut sessions, &script);
    let [left, right] = &sessions;
    compare(
        name,
        left,
        &results[0],
        right,
        &results[1],
        Kind::Oxcd.label(),
    );
    println!("== {name}: transcripts identical ==\n{}", left.transcript());
}

/// Which runs a client differential ([`diff_ctl_run`]) compares with etcdctl on etcd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtlRuns {
    /// oxcdctl on a fresh etcd: the client alone differs (output of server-specific values
    /// such as db sizes and raft indexes is compared too).
    OnEtcd,
    /// oxcdctl on a fresh etcd, and oxcdctl on a fresh oxcd.
    OnEtcdAndOxcd,
}

/// The client differential: `script` runs with etcdctl against a fresh etcd, and with
/// oxcdctl against another fresh etcd (and, per `runs`, a fresh oxcd), concurrently; the
/// normalised transcripts of the oxcdctl runs must equal etcdctl's. Panics (fails) when
/// the oxcdctl or oxcd binary is missing.
pub fn diff_ctl_run<F>(name: &str, opts: ServerOpts, runs: CtlRuns, script: F)
where
    F: Fn(&mut Session) + Sync,
{
    let oxcdctl = oxcdctl_available();
    let with_oxcd = runs == CtlRuns::OnEtcdAndOxcd;
    if with_oxcd {
        oxcd_available();
    }
    let start = |kind: Kind| {
        Server::start(kind, opts.clone())
            .unwrap_or_else(|e| panic!("{} failed to start: {e}", kind.label()))
    };
    let mut servers: Vec<Server> = std::thread::scope(|s| {
        let mut handles = vec![s.spawn(|| start(Kind::Etcd)), s.spawn(|| start(Kind::Etcd))];
        if with_oxcd {
            handles.push(s.spawn(|| start(Kind::Oxcd)));
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("server start thread panicked"))
            .collect()
    });
    let mut sessions = Vec::new();
    let reference = servers.remove(0);
    sessions.push(Session::new(reference));
    for server in servers {
        sessions.push(Session::with_ctl(server, oxcdctl.clone()));
    }
    let results = run_all(&mut sessions, &script);
    let labels = ["oxcdctl on etcd", "oxcdctl on oxcd"];
    for (i, label) in labels.iter().enumerate().take(sessions.len() - 1) {
        compare(
            name,
            &sessions[0],
            &results[0],
            &sessions[i + 1],
            &results[i + 1],
            label,
        );
    }
    println!(
        "== {name}: transcripts identical ==\n{}",
        sessions[0].transcript()
    );
}

type ScriptResult = std::thread::Result<()>;

/// Runs `script` on every session concurrently, catching panics.
fn run_all<F>(sessions: &mut [Session], script: &F) -> Vec<ScriptResult>
where
    F: Fn(&mut Session) + Sync,
{
    std::thread::scope(|s| {
        let handles: Vec<_> = sessions
            .iter_mut()
            .map(|session| s.spawn(move || catch_unwind(AssertUnwindSafe(|| script(session)))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(Err))
            .collect()
    })
}

/// Panics with a report when `right`'s run failed or its transcript differs from `left`'s
/// (the reference run, etcdctl on etcd).
fn compare(
    name: &str,
    left: &Session,
    lres: &ScriptResult,
    right: &Session,
    rres: &ScriptResult,
    label: &str,
) {
    let diff = line_diff(left.transcript(), right.transcript(), 4);
    let report = |extra: &str| -> String {
        format!(
            "differential test `{name}`: {extra}\n--- etcd (reference)\n+++ {label}\n{diff}\n\
             ===== reference transcript =====\n{}\n===== {label} transcript =====\n{}\n\
             ===== reference log tail =====\n{}\n===== {label} log tail =====\n{}\n",
            left.transcript(),
            right.transcript(),
            left.server().log_tail(15),
            right.server().log_tail(30),
        )
    };
    if lres.is_err() {
        panic!(
            "{}",
            report("the script panicked against the REFERENCE etcd (test bug)")
        );
    }
    if rres.is_err() {
        panic!(
            "{}",
            report("the script panicked against the server under test")
        );
    }
    if !diff.is_empty() {
        panic!("{}", report("normalised transcripts differ"));
    }
}
