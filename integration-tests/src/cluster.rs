//! A process-level N-member cluster (etcd or oxcd) on loopback, driven with etcdctl.
//!
//! Members are named `m0..m{n-1}`, each with its own client and peer port on 127.0.0.1, a data
//! directory and a log file under one temporary directory, and share a per-cluster unique
//! `--initial-cluster-token`. Default raft timing is `--heartbeat-interval=50
//! --election-timeout=500`; extra flags (e.g. `--snapshot-count=100`) are appended to every
//! member's command line, including members added later and restarts.
//!
//! Failure injection is by PID only: [`Cluster::kill9`] (SIGKILL), [`Cluster::stop_signal`]
//! (SIGSTOP) and [`Cluster::cont`] (SIGCONT). [`Cluster::restart`] starts a member again on
//! the same ports (a new client port if another process took it meanwhile), data directory
//! and flags; [`Cluster::replace_member`] swaps a member for an
//! empty one (`cluster/replace.rs`). Leadership is read with `etcdctl endpoint status
//! -w json` on every live member; membership with `etcdctl member list -w json`.
//!
//! Dropping a [`Cluster`] SIGCONTs stopped members, SIGKILLs and reaps every process, and, if
//! the thread is panicking (a failed assertion), prints the tail of every member's log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{HarnessError, Result};
use crate::etcdctl::{etcdctl_raw, Output};
use crate::json::Json;
use crate::netns::NetLab;
use crate::peer_proxy::PeerProxy;
use crate::ports;
use crate::process::{oxcd_available, send_signal, Kind, Server, ServerOpts};

mod replace;

/// Default `--heartbeat-interval` in milliseconds.
pub const HEARTBEAT_MS: u64 = 50;
/// Default `--election-timeout` in milliseconds.
pub const ELECTION_TIMEOUT_MS: u64 = 500;
/// How long [`Cluster::start`] waits for all members to serve with an agreed leader.
pub const CLUSTER_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a restarted or added member may take to serve.
pub const MEMBER_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// The default bound of [`Cluster::leader_index`].
pub const LEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// The `--command-timeout` of etcdctl calls made without an explicit one.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long membership changes are retried while the server says the cluster is not ready.
pub const RECONFIG_RETRY: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 4;
const POLL: Duration = Duration::from_millis(100);

/// The kind selected by `OXCD_CLUSTER_KIND` (`etcd` selects [`Kind::Etcd`]; anything else, or
/// unset, selects [`Kind::Oxcd`]).
pub fn cluster_kind() -> Kind {
    match std::env::var("OXCD_CLUSTER_KIND") {
        Ok(v) if v.eq_ignore_ascii_case("etcd") => Kind::Etcd,
        _ => Kind::Oxcd,
    }
}

/// Whether `kind`'s binary is present: always true, and it PANICS when it is missing (a test
/// must fail, never pass by skipping).
pub fn kind_available(kind: Kind) -> bool {
    match kind {
        Kind::Oxcd => oxcd_available(),
        Kind::Etcd => {
            let bin = kind.binary();
            assert!(
                bin.is_file(),
                "etcd binary not found at {} (scripts/install-deps.sh installs etcd-server)",
                bin.display()
            );
            true
        }
    }
}

/// Runs etcdctl against a comma-separated endpoint list with the given `--command-timeout`; the
/// process is killed if it outlives the command timeout by more than 10 s.
pub fn etcdctl_at(endpoints: &str, command_timeout: Duration, args: &[&str]) -> Result<Output> {
    let timeout_flag = format!("--command-timeout={}ms", command_timeout.as_millis());
    let mut all: Vec<&str> = Vec::with_capacity(args.len() + 1);
    all.push(&timeout_flag);
    all.extend_from_slice(args);
    etcdctl_raw(
        endpoints,
        &all,
        None,
        command_timeout + Duration::from_secs(10),
    )
}

/// Starts an `n`-member cluster of the selected kind ([`cluster_kind`]). Panics if its binary
/// is missing (see [`kind_available`]) or the cluster does not start; the `Option` is kept
/// for the callers and is always `Some`.
pub fn start_selected(n: usize, extra_args: &[&str]) -> Option<Cluster> {
    let kind = cluster_kind();
    if !kind_available(kind) {
        return None;
    }
    let t = Instant::now();
    let c = Cluster::start(kind, n, extra_args)
        .unwrap_or_else(|e| panic!("start a {n}-member {} cluster: {e}", kind.label()));
    println!(
        "started {n}-member {} cluster in {:?}",
        kind.label(),
        t.elapsed()
    );
    Some(c)
}

/// Starts one server of `kind` with `extra_args` appended to the standard flags. Panics if
/// its binary is missing (see [`kind_available`]) or it does not start.
pub fn start_server(kind: Kind, extra_args: &[&str]) -> Server {
    assert!(kind_available(kind));
    Server::start(kind, ServerOpts::with_args(extra_args))
        .unwrap_or_else(|e| panic!("start {}: {e}", kind.label()))
}

/// Asserts that an etcdctl run succeeded and returns its output.
pub fn expect_ok(out: Result<Output>, what: &str) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.success(),
        "{what} failed ({:?}): stdout={:?} stderr tail:\n{}",
        out.status,
        out.stdout,
        tail(&out.stderr, 3)
    );
    out
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One member's view from `etcdctl endpoint status -w json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// `header.member_id`.
    pub member_id: u64,
    /// `leader` (0 when the member knows no leader).
    pub leader: u64,
    /// `header.revision`.
    pub revision: i64,
    /// `raftTerm`.
    pub raft_term: u64,
    /// `raftIndex`.
    pub raft_index: u64,
    /// `raftAppliedIndex`.
    pub raft_applied_index: u64,
    /// `isLearner` (absent means false).
    pub is_learner: bool,
}

/// One entry of `etcdctl member list -w json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// `ID`.
    pub id: u64,
    /// `name` (empty until a newly added member has started and published itself).
    pub name: String,
    /// `peerURLs`.
    pub peer_urls: Vec<String>,
    /// `clientURLs`.
    pub client_urls: Vec<String>,
    /// `isLearner` (absent means false).
    pub is_learner: bool,
}

/// One endpoint's answer in `etcdctl endpoint hashkv -w json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashKv {
    /// `Endpoint` as given to etcdctl.
    pub endpoint: String,
    /// `HashKV.header.member_id`.
    pub member_id: u64,
    /// `HashKV.header.revision`.
    pub revision: i64,
    /// `HashKV.hash`.
    pub hash: u64,
    /// `HashKV.compact_revision`.
    pub compact_revision: i64,
}

/// One member process of a [`Cluster`].
pub struct Member {
    name: String,
    /// The address it listens on: 127.0.0.1, or its namespace's address in a [`NetLab`].
    host: String,
    /// Its network namespace, when the cluster runs in a [`NetLab`].
    netns: Option<String>,
    client_port: u16,
    peer_port: u16,
    /// The port its peers dial: a [`PeerProxy`] port in a proxied cluster, else `peer_port`.
    advertised_peer_port: u16,
    dir: PathBuf,
    initial_cluster: String,
    initial_state: String,
    child: Option<Child>,
    stopped: bool,
    removed: bool,
    learner: bool,
    id: Option<u64>,
    /// `https` or `http` for the client and peer URLs.
    client_scheme: &'static str,
    peer_scheme: &'static str,
    /// Flags of this member only, after the cluster's (a later flag wins).
    own_args: Vec<String>,
    /// Environment variables of this member only (e.g. `FAILPOINTS`).
    own_env: Vec<(String, String)>,
}

impl Member {
    /// The member name (`m0`, `m1`, … or the name given to [`Cluster::add_member_process`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The peer port.
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// `<host>:<client port>` (host 127.0.0.1 unless in a [`NetLab`]), the form etcdctl's
    /// `--endpoints` takes; `https://<host>:<client port>` on a TLS cluster.
    pub fn endpoint(&self) -> String {
        if self.client_scheme == "https" {
            self.client_url()
        } else {
            format!("{}:{}", self.host, self.client_port)
        }
    }

    /// `http://<host>:<client port>` (`https://` on a cluster with client TLS).
    pub fn client_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.client_scheme, self.host, self.client_port
        )
    }

    /// The peer URL it advertises, `http://<host>:<port>` (`https://` on a cluster with peer
    /// TLS): its peer port, or its [`PeerProxy`] port in a proxied cluster.
    pub fn peer_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.peer_scheme, self.host, self.advertised_peer_port
        )
    }

    /// The peer URL it listens on (differs from [`Member::peer_url`] behind a [`PeerProxy`]).
    pub fn listen_peer_url(&self) -> String {
        format!("{}://{}:{}", self.peer_scheme, self.host, self.peer_port)
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The log file (stdout and stderr of every start, plus harness events, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("member.log")
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(
            &std::fs::read_to_string(self.log_path()).unwrap_or_default(),
            lines,
        )
    }

    /// The raft member ID, once learnt (from `endpoint status` or `member add`).
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// The `--initial-cluster` this member was started with.
    pub fn initial_cluster(&self) -> &str {
        &self.initial_cluster
    }

    /// The `--initial-cluster-state` this member was started with (`new` or `existing`).
    pub fn initial_state(&self) -> &str {
        &self.initial_state
    }

    /// The process ID, while a process is held.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is alive (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => match c.try_wait() {
                Ok(None) => true,
                _ => {
                    self.child = None;
                    self.stopped = false;
                    false
                }
            },
            None => false,
        }
    }

    /// Whether the process was SIGSTOPped by the harness and not yet continued.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the member joined as a learner and was not promoted through
    /// [`Cluster::promote_member`] (learners refuse most RPCs, so the harness does not send
    /// cluster-wide commands to them).
    pub fn is_learner(&self) -> bool {
        self.learner
    }

    /// Whether the member was removed from the cluster through [`Cluster::remove_member`].
    pub fn is_removed(&self) -> bool {
        self.removed
    }

    fn note(&self, event: &str) {
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
        {
            let mut f: &File = &f;
            let _ = writeln!(f, "=== harness: {event}");
        }
    }

    fn kill_and_reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.stopped {
                let _ = send_signal(c.id(), "CONT");
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stopped = false;
    }
}

/// TLS of a cluster started with [`Cluster::start_tls`]: which URLs are `https://`, and the
/// flags every etcdctl call of the harness gets (`--cacert`, `--cert`, `--key`). The members'
/// TLS flags are passed as extra arguments.
#[derive(Debug, Clone, Default)]
pub struct ClusterTls {
    /// Client URLs are `https://`.
    pub client: bool,
    /// Peer URLs are `https://`.
    pub peer: bool,
    /// Added to every etcdctl call the harness makes.
    pub ctl_args: Vec<String>,
}

/// N member processes of one cluster. See the module docs.
pub struct Cluster {
    kind: Kind,
    binary: PathBuf,
    tmp: tempfile::TempDir,
    token: String,
    extra_args: Vec<String>,
    members: Vec<Member>,
    tls: ClusterTls,
    /// The members' network namespaces (dropped after the members: declared last).
    net: Option<NetLab>,
    /// Whether peer traffic goes through a [`PeerProxy`] ([`Cluster::start_proxied`]).
    proxied: bool,
    /// That proxy, once the member ports are known (dropped after the members).
    proxy: Option<PeerProxy>,
}

/// How the members' peer traffic flows.
enum Network {
    /// Straight over loopback: no partitions.
    Loopback,
    /// A network namespace per member (root only).
    Lab(NetLab),
    /// Through a [`PeerProxy`] in front of every peer port.
    Proxy,
}

/// Makes one member's data dir before a prepared cluster starts: (name, initial cluster,
/// token, peer URL, data dir). See [`Cluster::start_prepared`].
pub type Prepare<'a> = dyn Fn(&str, &str, &str, &str, &Path) -> Result<()> + 'a;

fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "oxcd-it-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

impl Cluster {
    /// Starts `n` members of `kind` as a new cluster and waits (bounded by
    /// [`CLUSTER_STARTUP_TIMEOUT`]) until every member serves and all agree on a leader.
    /// `extra_args` are appended to every member's flags. Port collisions are retried with new
    /// ports.
    pub fn start(kind: Kind, n: usize, extra_args: &[&str]) -> Result<Cluster> {
        Self::start_on(
            kind,
            n,
            extra_args,
            Network::Loopback,
            ClusterTls::default(),
        )
    }

    /// [`Cluster::start`] with `https://` client and/or peer URLs; `extra_args` carry the
    /// members' certificate flags and `tls.ctl_args` etcdctl's.
    pub fn start_tls(
        kind: Kind,
        n: usize,
        extra_args: &[&str],
        tls: ClusterTls,
    ) -> Result<Cluster> {
        Self::start_on(kind, n, extra_args, Network::Loopback, tls)
    }

    /// [`Cluster::start`] with every member in its own network namespace of a new
    /// [`NetLab`] (root only), so that [`Cluster::isolate`] can partition it.
    pub fn start_isolated(kind: Kind, n: usize, extra_args: &[&str]) -> Result<Cluster> {
        Self::start_on(
            kind,
            n,
            extra_args,
            Network::Lab(NetLab::create(n)?),
            ClusterTls::default(),
        )
    }

    /// [`Cluster::start`] with every member's peer traffic through a [`PeerProxy`], so that
    /// [`Cluster::isolate`] can partition it without root.
    pub fn start_proxied(kind: Kind, n: usize, extra_args: &[&str]) -> Result<Cluster> {
        Self::start_on(kind, n, extra_args, Network::Proxy, ClusterTls::default())
    }

    /// [`Cluster::start`] with each member's data dir made by `prepare` before its first
    /// start (for example by `snapshot restore`), given the member's name, the cluster's
    /// `--initial-cluster` and token, the member's peer URL and the data dir to create.
    pub fn start_prepared(
        kind: Kind,
        n: usize,
        extra_args: &[&str],
        prepare: &Prepare<'_>,
    ) -> Result<Cluster> {
        Self::start_with(
            kind,
            n,
            extra_args,
            Network::Loopback,
            ClusterTls::default(),
            Some(prepare),
        )
    }

    fn start_on(
        kind: Kind,
        n: usize,
        extra_args: &[&str],
        network: Network,
        tls: ClusterTls,
    ) -> Result<Cluster> {
        Self::start_with(kind, n, extra_args, network, tls, None)
    }

    fn start_with(
        kind: Kind,
        n: usize,
        extra_args: &[&str],
        network: Network,
        tls: ClusterTls,
        prepare: Option<&Prepare<'_>>,
    ) -> Result<Cluster> {
        let binary = kind.binary();
        if !binary.is_file() {
            return Err(HarnessError::BinaryNotFound(binary));
        }
        let tmp = tempfile::Builder::new()
            .prefix(&format!(
                "oxcd-cluster-{}-",
                kind.label().split('(').next().unwrap_or("srv")
            ))
            .tempdir()
            .map_err(|e| HarnessError::io("create cluster temp dir", e))?;
        let mut cluster = Cluster {
            kind,
            binary,
            tmp,
            token: unique_token(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            members: Vec::new(),
            tls,
            proxied: matches!(network, Network::Proxy),
            net: match network {
                Network::Lab(lab) => Some(lab),
                _ => None,
            },
            proxy: None,
        };
        let mut last_err = None;
        for attempt in 0..START_ATTEMPTS {
            match cluster.try_start(n, attempt, prepare) {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    for m in &mut cluster.members {
                        m.kill_and_reap();
                    }
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

    fn try_start(&mut self, n: usize, attempt: usize, prepare: Option<&Prepare<'_>>) -> Result<()> {
        let mut specs = Vec::with_capacity(n);
        for i in 0..n {
            let (host, netns, (c, p)) = match &self.net {
                // A namespace of its own: etcd's default ports are free.
                Some(lab) => (lab.member_ip(i), Some(lab.namespace(i)), (2379, 2380)),
                None => ("127.0.0.1".to_string(), None, ports::free_port_pair()?),
            };
            specs.push((format!("m{i}"), host, netns, c, p));
        }
        if self.proxied {
            let targets: Vec<u16> = specs.iter().map(|s| s.4).collect();
            self.proxy = Some(PeerProxy::start(&targets)?);
        }
        let advertised = |i: usize, p: u16| self.proxy.as_ref().map_or(p, |x| x.port(i));
        let specs: Vec<_> = specs
            .into_iter()
            .enumerate()
            .map(|(i, (name, host, netns, c, p))| (name, host, netns, c, p, advertised(i, p)))
            .collect();
        let initial_cluster = specs
            .iter()
            .map(|(name, host, _, _, _, a)| format!("{name}={}://{host}:{a}", self.peer_scheme()))
            .collect::<Vec<_>>()
            .join(",");
        self.members.clear();
        for (name, host, netns, c, p, a) in specs {
            let dir = self.tmp.path().join(format!("{name}-try{attempt}"));
            std::fs::create_dir_all(&dir).map_err(|e| HarnessError::io("create member dir", e))?;
            self.members.push(Member {
                name,
                host,
                netns,
                client_port: c,
                peer_port: p,
                advertised_peer_port: a,
                dir,
                initial_cluster: initial_cluster.clone(),
                initial_state: "new".to_string(),
                child: None,
                stopped: false,
                removed: false,
                learner: false,
                id: None,
                client_scheme: self.client_scheme(),
                peer_scheme: self.peer_scheme(),
                own_args: Vec::new(),
                own_env: Vec::new(),
            });
        }
        if let Some(prepare) = prepare {
            for m in &self.members {
                prepare(
                    &m.name,
                    &m.initial_cluster,
                    &self.token,
                    &m.peer_url(),
                    &m.data_dir(),
                )?;
            }
        }
        for i in 0..n {
            self.spawn(i)?;
        }
        let deadline = Instant::now() + CLUSTER_STARTUP_TIMEOUT;
        for i in 0..n {
            self.wait_serving(i, deadline)?;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.wait_leader(left.max(Duration::from_secs(1)))?;
        Ok(())
    }

    fn args(&self, m: &Member) -> Vec<String> {
        let mut a = vec![
            format!("--name={}", m.name),
            format!("--data-dir={}", m.data_dir().display()),
            format!("--listen-client-urls={}", m.client_url()),
            format!("--advertise-client-urls={}", m.client_url()),
            format!("--listen-peer-urls={}", m.listen_peer_url()),
            format!("--initial-advertise-peer-urls={}", m.peer_url()),
            format!("--initial-cluster={}", m.initial_cluster),
            format!("--initial-cluster-token={}", self.token),
            format!("--initial-cluster-state={}", m.initial_state),
            format!("--heartbeat-interval={HEARTBEAT_MS}"),
            format!("--election-timeout={ELECTION_TIMEOUT_MS}"),
        ];
        a.extend(self.extra_args.iter().cloned());
        a.extend(m.own_args.iter().cloned());
        a
    }

    fn client_scheme(&self) -> &'static str {
        if self.tls.client {
            "https"
        } else {
            "http"
        }
    }

    fn peer_scheme(&self) -> &'static str {
        if self.tls.peer {
            "https"
        } else {
            "http"
        }
    }

    /// etcdctl with the cluster's TLS flags (if any) before `args`.
    fn ctl_at(&self, endpoints: &str, command_timeout: Duration, args: &[&str]) -> Result<Output> {
        let mut all: Vec<&str> = self.tls.ctl_args.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        etcdctl_at(endpoints, command_timeout, &all)
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let args = self.args(&self.members[i]);
        let m = &mut self.members[i];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.log_path())
            .map_err(|e| HarnessError::io("open member log", e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| HarnessError::io("clone log handle", e))?;
        m.note(&format!(
            "starting {} {}",
            self.binary.display(),
            args.join(" ")
        ));
        // `ip netns exec` execs the server in place: the PID is the server's own.
        let mut cmd = match &m.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        let child = cmd
            .args(&args)
            .envs(m.own_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| HarnessError::io(format!("spawn {}", self.binary.display()), e))?;
        if let Some(proxy) = &self.proxy {
            proxy.set_pid(i, Some(child.id()));
        }
        m.child = Some(child);
        m.stopped = false;
        Ok(())
    }

    /// Waits until member `i` answers `endpoint status` and knows a leader.
    fn wait_serving(&mut self, i: usize, deadline: Instant) -> Result<()> {
        loop {
            let m = &mut self.members[i];
            if let Some(c) = m.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    m.child = None;
                    return Err(HarnessError::ExitedDuringStartup {
                        status: format!("{} {status}", m.name),
                        log_tail: m.log_tail(30),
                    });
                }
            } else {
                return Err(HarnessError::NotRunning);
            }
            if let Ok(st) = self.status_with_timeout(i, Duration::from_secs(1)) {
                if st.leader != 0 {
                    self.members[i].id = Some(st.member_id);
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                let m = &self.members[i];
                return Err(HarnessError::StartTimeout {
                    seconds: CLUSTER_STARTUP_TIMEOUT.as_secs(),
                    log_tail: format!("{}:\n{}", m.name, m.log_tail(30)),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Which implementation the members run.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The number of members the harness holds (including killed and removed ones).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster holds no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The `--initial-cluster-token` of this cluster.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Member `i`.
    ///
    /// # Panics
    /// If `i` is out of range (a test bug).
    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    /// All members, in index order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Member `i`'s client port.
    pub fn client_port(&self, i: usize) -> u16 {
        self.members[i].client_port
    }

    /// Member `i`'s etcdctl endpoint, `127.0.0.1:<port>`.
    pub fn endpoint(&self, i: usize) -> String {
        self.members[i].endpoint()
    }

    /// Member `i`'s raft ID, once learnt.
    pub fn member_id(&self, i: usize) -> Option<u64> {
        self.members[i].id
    }

    /// The index of the member with raft ID `id`.
    pub fn index_of_id(&self, id: u64) -> Option<usize> {
        self.members.iter().position(|m| m.id == Some(id))
    }

    /// Comma-joined endpoints of every member not removed (dead or stopped ones included, as a
    /// client configured with the whole cluster would have them).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .filter(|m| !m.removed)
            .map(Member::endpoint)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Indices of members whose process runs and is not stopped (and not removed).
    pub fn live_indices(&mut self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| {
                let m = &mut self.members[i];
                !m.removed && m.is_running() && !m.stopped
            })
            .collect()
    }

    /// Comma-joined endpoints of the live members.
    pub fn live_endpoints(&mut self) -> String {
        self.live_indices()
            .into_iter()
            .map(|i| self.members[i].endpoint())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Comma-joined endpoints of the live members that are not learners, optionally leaving
    /// one member out.
    fn voter_endpoints(&mut self, exclude: Option<usize>) -> String {
        self.live_indices()
            .into_iter()
            .filter(|&i| Some(i) != exclude && !self.members[i].learner)
            .map(|i| self.members[i].endpoint())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// etcdctl against member `i` alone, `--command-timeout=5s`.
    pub fn ctl(&self, i: usize, args: &[&str]) -> Result<Output> {
        self.ctl_at(&self.members[i].endpoint(), COMMAND_TIMEOUT, args)
    }

    /// etcdctl against member `i` alone with an explicit `--command-timeout`.
    pub fn ctl_timeout(
        &self,
        i: usize,
        command_timeout: Duration,
        args: &[&str],
    ) -> Result<Output> {
        self.ctl_at(&self.members[i].endpoint(), command_timeout, args)
    }

    /// etcdctl against the endpoints of the live members that are not learners,
    /// `--command-timeout=5s`.
    pub fn ctl_live(&mut self, args: &[&str]) -> Result<Output> {
        let eps = self.voter_endpoints(None);
        self.ctl_at(&eps, COMMAND_TIMEOUT, args)
    }

    /// SIGKILLs member `i` (SIGCONT first if it was stopped) and reaps it.
    pub fn kill9(&mut self, i: usize) -> Result<()> {
        let m = &mut self.members[i];
        let Some(mut c) = m.child.take() else {
            return Err(HarnessError::NotRunning);
        };
        m.note("kill -9");
        if m.stopped {
            let _ = send_signal(c.id(), "CONT");
            m.stopped = false;
        }
        c.kill()
            .map_err(|e| HarnessError::io("SIGKILL member", e))?;
        c.wait()
            .map_err(|e| HarnessError::io("wait for member", e))?;
        Ok(())
    }

    /// SIGTERMs member `i` (a graceful stop) and waits up to `within` for it to exit;
    /// returns how it exited. A member still running after `within` is SIGKILLed and the
    /// call fails.
    pub fn terminate(&mut self, i: usize, within: Duration) -> Result<std::process::ExitStatus> {
        let m = &mut self.members[i];
        let Some(mut c) = m.child.take() else {
            return Err(HarnessError::NotRunning);
        };
        m.note("SIGTERM");
        send_signal(c.id(), "TERM")?;
        let deadline = Instant::now() + within;
        loop {
            match c.try_wait() {
                Ok(Some(status)) => {
                    m.note(&format!("exited after SIGTERM: {status}"));
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return Err(HarnessError::Timeout(format!(
                        "{} exiting within {within:?} of SIGTERM",
                        m.name
                    )));
                }
            }
        }
    }

    /// SIGSTOPs member `i` (it stays "alive" but answers nothing until [`Cluster::cont`]).
    pub fn stop_signal(&mut self, i: usize) -> Result<()> {
        let m = &mut self.members[i];
        let pid = m.pid().ok_or(HarnessError::NotRunning)?;
        m.note("SIGSTOP");
        send_signal(pid, "STOP")?;
        m.stopped = true;
        Ok(())
    }

    /// SIGCONTs member `i` after [`Cluster::stop_signal`].
    pub fn cont(&mut self, i: usize) -> Result<()> {
        let m = &mut self.members[i];
        let pid = m.pid().ok_or(HarnessError::NotRunning)?;
        m.note("SIGCONT");
        send_signal(pid, "CONT")?;
        m.stopped = false;
        Ok(())
    }

    /// Replaces member `i`'s own flags (after the cluster's) and environment variables for
    /// its next start ([`Cluster::restart`]); a running member keeps what it started with.
    pub fn set_member_own(&mut self, i: usize, args: &[&str], env: &[(&str, &str)]) {
        let m = &mut self.members[i];
        m.own_args = args.iter().map(|s| s.to_string()).collect();
        m.own_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.note(&format!(
            "own flags {args:?} and environment {env:?} for the next start"
        ));
    }

    /// Starts member `i` again with the same ports, data directory and flags (including its
    /// original `--initial-cluster-state`), killing it first if it still runs, and waits up to
    /// [`MEMBER_STARTUP_TIMEOUT`] until it serves and knows a leader. If another process took
    /// its client port while it was down, it moves to a fresh one (its peers never dial the
    /// client port, and the member publishes the new URL); a taken peer port is retried.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        if self.members[i].is_running() {
            self.kill9(i)?;
        }
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            self.spawn(i)?;
            match self.wait_serving(i, Instant::now() + MEMBER_STARTUP_TIMEOUT) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let m = &mut self.members[i];
                    m.kill_and_reap();
                    if e.port_in_use() == Some(m.client_port) {
                        let taken = m.client_port;
                        m.client_port = ports::free_port()?;
                        m.note(&format!(
                            "client port {taken} was taken while down; moving to {}",
                            m.client_port
                        ));
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

    /// Kills every member (SIGKILL, as [`Cluster::kill9`]), starts them all again at once and
    /// waits up to [`MEMBER_STARTUP_TIMEOUT`] until each serves and knows a leader. (Restarting
    /// them one by one with [`Cluster::restart`] would wait for a leader that cannot be elected
    /// before a majority is up.)
    pub fn restart_all(&mut self) -> Result<()> {
        for i in 0..self.members.len() {
            if !self.members[i].removed && self.members[i].is_running() {
                self.kill9(i)?;
            }
        }
        let live: Vec<usize> = (0..self.members.len())
            .filter(|&i| !self.members[i].removed)
            .collect();
        for &i in &live {
            self.spawn(i)?;
        }
        let deadline = Instant::now() + MEMBER_STARTUP_TIMEOUT;
        for &i in &live {
            self.wait_serving(i, deadline)?;
        }
        Ok(())
    }

    /// Cuts member `i` off from the other members (both directions; clients still reach
    /// it), replacing any earlier partition. Only for [`Cluster::start_isolated`] and
    /// [`Cluster::start_proxied`] clusters.
    pub fn isolate(&mut self, i: usize) -> Result<()> {
        let name = self.members[i].name.clone();
        match (self.net.as_mut(), self.proxy.as_ref()) {
            (Some(lab), _) => lab.isolate(i)?,
            (None, Some(proxy)) => proxy.isolate(i),
            (None, None) => {
                return Err(HarnessError::Network(
                    "the cluster was started without namespaces or a peer proxy".into(),
                ))
            }
        }
        self.members[i].note(&format!("partitioned off: {name}"));
        Ok(())
    }

    /// Removes every partition.
    pub fn heal_partitions(&mut self) {
        if let Some(lab) = self.net.as_mut() {
            lab.heal();
        }
        if let Some(proxy) = &self.proxy {
            proxy.heal();
        }
    }

    /// Whether [`Cluster::isolate`] can partition this cluster (network namespaces or a peer
    /// proxy).
    pub fn can_partition(&self) -> bool {
        self.net.is_some() || self.proxy.is_some()
    }

    /// The peer proxy of a [`Cluster::start_proxied`] cluster (for its counters).
    pub fn peer_proxy(&self) -> Option<&PeerProxy> {
        self.proxy.as_ref()
    }

    /// `etcdctl endpoint status -w json` on member `i` alone.
    pub fn status(&self, i: usize) -> Result<MemberStatus> {
        self.status_with_timeout(i, Duration::from_secs(2))
    }

    fn status_with_timeout(&self, i: usize, t: Duration) -> Result<MemberStatus> {
        let out = self.ctl_at(
            &self.members[i].endpoint(),
            t,
            &["endpoint", "status", "-w", "json"],
        )?;
        if !out.success() {
            return Err(HarnessError::Json(format!(
                "endpoint status on {} failed: {}",
                self.members[i].name,
                tail(&out.stderr, 2)
            )));
        }
        parse_status(&out.stdout)
    }

    /// Asks every live member for its leader once; `Some(index)` if all answered, all name the
    /// same non-zero leader, and that leader is a live member.
    fn leader_once(&mut self) -> Option<usize> {
        let live = self.live_indices();
        if live.is_empty() {
            return None;
        }
        let mut leader = None;
        for &i in &live {
            let st = self.status(i).ok()?;
            self.members[i].id = Some(st.member_id);
            if st.leader == 0 || leader.is_some_and(|l| l != st.leader) {
                return None;
            }
            leader = Some(st.leader);
        }
        let leader = leader?;
        live.into_iter()
            .find(|&i| self.members[i].id == Some(leader))
    }

    /// Waits (bounded by `timeout`) until every live member answers `endpoint status` naming
    /// the same leader, which is itself a live member; returns its index.
    pub fn wait_leader(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.leader_once() {
                return Ok(i);
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "live members agreeing on a leader within {timeout:?}"
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// [`Cluster::wait_leader`] with [`LEADER_TIMEOUT`].
    pub fn leader_index(&mut self) -> Result<usize> {
        self.wait_leader(LEADER_TIMEOUT)
    }

    /// Waits until the agreed leader is member `target` (bounded by `timeout`).
    pub fn wait_leader_is(&mut self, target: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.leader_once() == Some(target) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "leadership moving to {} within {timeout:?}",
                    self.members[target].name
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// `etcdctl member list -w json` against the live non-learner members.
    pub fn member_list(&mut self) -> Result<Vec<MemberInfo>> {
        let out = self.ctl_live(&["member", "list", "-w", "json"])?;
        if !out.success() {
            return Err(HarnessError::Json(format!(
                "member list failed: {}",
                tail(&out.stderr, 2)
            )));
        }
        parse_member_list(&out.stdout)
    }

    /// The raft IDs in `member list`.
    pub fn member_ids(&mut self) -> Result<Vec<u64>> {
        Ok(self.member_list()?.into_iter().map(|m| m.id).collect())
    }

    /// `etcdctl endpoint hashkv -w json` against the given endpoints (e.g. [`Cluster::endpoints`]).
    pub fn hashkv(&self, endpoints: &str) -> Result<Vec<HashKv>> {
        let out = self.ctl_at(
            endpoints,
            COMMAND_TIMEOUT,
            &["endpoint", "hashkv", "-w", "json"],
        )?;
        if !out.success() {
            return Err(HarnessError::Json(format!(
                "endpoint hashkv failed: {}",
                tail(&out.stderr, 2)
            )));
        }
        parse_hashkv(&out.stdout)
    }

    /// Runs `etcdctl member add <name> --peer-urls=<new peer url> [--learner]` against the live
    /// members (retrying for up to [`RECONFIG_RETRY`] while the server reports an unhealthy
    /// cluster), then starts the new process with `--initial-cluster-state existing` and the
    /// `ETCD_INITIAL_CLUSTER` etcdctl printed, and waits until it serves. Returns its index.
    pub fn add_member_process(&mut self, name: &str, learner: bool) -> Result<usize> {
        self.add_member_process_with(name, learner, &[])
    }

    /// [`Cluster::add_member_process`] with flags of the new member's own (after the
    /// cluster's, so they win), e.g. another certificate.
    pub fn add_member_process_with(
        &mut self,
        name: &str,
        learner: bool,
        own_args: &[&str],
    ) -> Result<usize> {
        if self.net.is_some() || self.proxied {
            // A lab has a fixed set of namespaces, a proxy a fixed set of ports.
            return Err(HarnessError::Network(
                "add_member_process on a cluster in network namespaces or behind a peer proxy"
                    .into(),
            ));
        }
        let (client_port, peer_port) = ports::free_port_pair()?;
        let peer_url = format!("{}://127.0.0.1:{peer_port}", self.peer_scheme());
        let peer_flag = format!("--peer-urls={peer_url}");
        let mut args = vec!["member", "add", name, peer_flag.as_str()];
        if learner {
            args.push("--learner");
        }
        let out = self.retry_reconfig(&args)?;
        let added = parse_member_add(&out.stdout).ok_or_else(|| {
            HarnessError::Json(format!("unexpected member add output: {}", out.stdout))
        })?;
        let dir = self.tmp.path().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| HarnessError::io("create member dir", e))?;
        self.members.push(Member {
            name: name.to_string(),
            host: "127.0.0.1".to_string(),
            netns: None,
            client_port,
            peer_port,
            advertised_peer_port: peer_port,
            dir,
            initial_cluster: added.initial_cluster,
            initial_state: "existing".to_string(),
            child: None,
            stopped: false,
            removed: false,
            learner,
            id: Some(added.id),
            client_scheme: self.client_scheme(),
            peer_scheme: self.peer_scheme(),
            own_args: own_args.iter().map(|s| s.to_string()).collect(),
            own_env: Vec::new(),
        });
        let i = self.members.len() - 1;
        self.members[i].note(&format!("member add output:\n{}", out.stdout.trim()));
        self.spawn(i)?;
        self.wait_serving(i, Instant::now() + MEMBER_STARTUP_TIMEOUT)?;
        Ok(i)
    }

    /// Runs `etcdctl member promote <hex id of i>` against the live non-learner members,
    /// retrying (up to [`RECONFIG_RETRY`]) while the learner is not yet in sync; on success
    /// the member is no longer treated as a learner. Returns etcdctl's output.
    pub fn promote_member(&mut self, i: usize) -> Result<Output> {
        let id = self.members[i].id.ok_or(HarnessError::NotRunning)?;
        let hex = format!("{id:x}");
        let out = self.retry_reconfig_excluding(&["member", "promote", &hex], Some(i))?;
        self.members[i].learner = false;
        self.members[i].note("promoted to voter");
        Ok(out)
    }

    /// Runs `etcdctl member remove <hex id of i>` against the other live non-learner members (retrying for
    /// up to [`RECONFIG_RETRY`] while the server reports an unhealthy cluster). On success the
    /// member is marked removed and its process, which should exit by itself, is reaped (and
    /// killed if it still runs after 10 s). Returns etcdctl's output.
    pub fn remove_member(&mut self, i: usize) -> Result<Output> {
        let id = self.members[i].id.ok_or(HarnessError::NotRunning)?;
        let hex = format!("{id:x}");
        let out = self.retry_reconfig_excluding(&["member", "remove", &hex], Some(i))?;
        let m = &mut self.members[i];
        m.removed = true;
        m.note("removed from the cluster");
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.is_running() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        if m.is_running() {
            m.note("still running 10 s after removal; killing");
        }
        m.kill_and_reap();
        Ok(out)
    }

    /// Runs a membership command against the live non-learner members, retrying (up to
    /// [`RECONFIG_RETRY`]) while the server says the cluster is not ready for it: `unhealthy
    /// cluster`, `not enough started members`, a learner not `in sync with leader`, `no
    /// leader`. Returns the successful output, or a timeout carrying the last error.
    pub fn retry_reconfig(&mut self, args: &[&str]) -> Result<Output> {
        self.retry_reconfig_excluding(args, None)
    }

    fn retry_reconfig_excluding(
        &mut self,
        args: &[&str],
        exclude: Option<usize>,
    ) -> Result<Output> {
        let eps = self.voter_endpoints(exclude);
        let deadline = Instant::now() + RECONFIG_RETRY;
        loop {
            let out = self.ctl_at(&eps, COMMAND_TIMEOUT, args)?;
            if out.success() {
                return Ok(out);
            }
            let retryable = out.stderr.contains("unhealthy cluster")
                || out.stderr.contains("in sync with leader")
                || out.stderr.contains("not enough started members")
                || out.stderr.contains("no leader");
            if !retryable || Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "etcdctl {} (last error: {})",
                    args.join(" "),
                    tail(&out.stderr, 1)
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The last `lines` log lines of every member, labelled, for failure messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut s = String::new();
        for m in &self.members {
            s.push_str(&format!(
                "----- {} (client {}, peer {}) log tail -----\n{}\n",
                m.name,
                m.client_port,
                m.peer_port,
                m.log_tail(lines)
            ));
        }
        s
    }

    /// The temporary directory holding every member's data and log.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "cluster ({}) state at failure:\n{}",
                self.kind.label(),
                self.log_tails(40)
            );
        }
        for m in &mut self.members {
            m.kill_and_reap();
        }
        if std::env::var("OXCD_KEEP_TMP")
            .map(|v| v == "1")
            .unwrap_or(false)
        {
            self.tmp.disable_cleanup(true);
            eprintln!("kept {}", self.tmp.path().display());
        }
    }
}

fn json_u64(j: &Json, path: &[&str]) -> u64 {
    j.at(path).and_then(Json::as_u64).unwrap_or(0)
}

fn json_bool(j: &Json, key: &str) -> bool {
    matches!(j.get(key), Some(Json::Bool(true)))
}

fn json_strings(j: &Json, key: &str) -> Vec<String> {
    j.get(key)
        .map(Json::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(Json::scalar)
        .map(String::from)
        .collect()
}

/// Parses the single-endpoint output of `etcdctl endpoint status -w json`.
pub fn parse_status(stdout: &str) -> Result<MemberStatus> {
    let j = Json::parse(stdout.trim())?;
    let entry = j
        .items()
        .first()
        .and_then(|e| e.get("Status"))
        .ok_or_else(|| HarnessError::Json(format!("no Status in {stdout}")))?;
    Ok(MemberStatus {
        member_id: json_u64(entry, &["header", "member_id"]),
        leader: json_u64(entry, &["leader"]),
        revision: entry
            .at(&["header", "revision"])
            .and_then(Json::as_i64)
            .unwrap_or(0),
        raft_term: json_u64(entry, &["raftTerm"]),
        raft_index: json_u64(entry, &["raftIndex"]),
        raft_applied_index: json_u64(entry, &["raftAppliedIndex"]),
        is_learner: json_bool(entry, "isLearner"),
    })
}

/// Parses `etcdctl member list -w json`.
pub fn parse_member_list(stdout: &str) -> Result<Vec<MemberInfo>> {
    let j = Json::parse(stdout.trim())?;
    Ok(j.get("members")
        .map(Json::items)
        .unwrap_or(&[])
        .iter()
        .map(|m| MemberInfo {
            id: json_u64(m, &["ID"]),
            name: m
                .get("name")
                .and_then(Json::scalar)
                .unwrap_or_default()
                .to_string(),
            peer_urls: json_strings(m, "peerURLs"),
            client_urls: json_strings(m, "clientURLs"),
            is_learner: json_bool(m, "isLearner"),
        })
        .collect())
}

/// Parses `etcdctl endpoint hashkv -w json`.
pub fn parse_hashkv(stdout: &str) -> Result<Vec<HashKv>> {
    let j = Json::parse(stdout.trim())?;
    Ok(j.items()
        .iter()
        .map(|e| HashKv {
            endpoint: e
                .get("Endpoint")
                .and_then(Json::scalar)
                .unwrap_or_default()
                .to_string(),
            member_id: json_u64(e, &["HashKV", "header", "member_id"]),
            revision: e
                .at(&["HashKV", "header", "revision"])
                .and_then(Json::as_i64)
                .unwrap_or(0),
            hash: json_u64(e, &["HashKV", "hash"]),
            compact_revision: e
                .at(&["HashKV", "compact_revision"])
                .and_then(Json::as_i64)
                .unwrap_or(0),
        })
        .collect())
}

/// What `etcdctl member add` printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAdded {
    /// The new member's ID (`Member <hex> added to cluster <hex>`).
    pub id: u64,
    /// `ETCD_INITIAL_CLUSTER="…"`.
    pub initial_cluster: String,
}

/// Parses `etcdctl member add` output; `None` if the ID line or `ETCD_INITIAL_CLUSTER` is
/// missing.
pub fn parse_member_add(stdout: &str) -> Option<MemberAdded> {
    let mut id = None;
    let mut initial_cluster = None;
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Member ") {
            let hex = rest.split_whitespace().next()?;
            id = u64::from_str_radix(hex, 16).ok();
        } else if let Some(rest) = line.strip_prefix("ETCD_INITIAL_CLUSTER=") {
            initial_cluster = Some(rest.trim_matches('"').to_string());
        }
    }
    Some(MemberAdded {
        id: id?,
        initial_cluster: initial_cluster?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_member_add_output() {
        let out = "Member 5b2fe653fa15adc9 added to cluster d400300872284ec2\n\n\
                   ETCD_NAME=\"m3\"\n\
                   ETCD_INITIAL_CLUSTER=\"c=http://127.0.0.1:23803,m3=http://127.0.0.1:23804\"\n\
                   ETCD_INITIAL_ADVERTISE_PEER_URLS=\"http://127.0.0.1:23804\"\n\
                   ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n";
        let a = parse_member_add(out).expect("parsed");
        assert_eq!(a.id, 0x5b2f_e653_fa15_adc9);
        assert_eq!(
            a.initial_cluster,
            "c=http://127.0.0.1:23803,m3=http://127.0.0.1:23804"
        );
        assert_eq!(parse_member_add("Error: unhealthy cluster"), None);
    }

    #[test]
    fn parses_status_member_list_and_hashkv() {
        let st = parse_status(
            r#"[{"Endpoint":"127.0.0.1:1","Status":{"header":{"cluster_id":1,"member_id":13510015062231200447,"revision":7,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":5303474902600168587,"raftIndex":8,"raftTerm":2,"raftAppliedIndex":8,"dbSizeInUse":16384,"isLearner":true}}]"#,
        )
        .expect("status");
        assert_eq!(st.member_id, 13_510_015_062_231_200_447);
        assert_eq!(st.leader, 5_303_474_902_600_168_587);
        assert_eq!((st.revision, st.raft_term, st.raft_index), (7, 2, 8));
        assert!(st.is_learner);

        let ml = parse_member_list(
            r#"{"header":{"cluster_id":1},"members":[{"ID":6570723629709241801,"peerURLs":["http://127.0.0.1:23804"],"isLearner":true},{"ID":13510015062231200447,"name":"a","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23701"]}]}"#,
        )
        .expect("member list");
        assert_eq!(ml.len(), 2);
        assert!(ml[0].is_learner && ml[0].name.is_empty());
        assert_eq!(ml[1].name, "a");
        assert!(!ml[1].is_learner);
        assert_eq!(
            ml[1].client_urls,
            vec!["http://127.0.0.1:23701".to_string()]
        );

        let h = parse_hashkv(
            r#"[{"Endpoint":"127.0.0.1:23701","HashKV":{"header":{"cluster_id":1,"member_id":2,"revision":2,"raft_term":2},"hash":3658645045,"compact_revision":-1}}]"#,
        )
        .expect("hashkv");
        assert_eq!(h[0].hash, 3_658_645_045);
        assert_eq!(h[0].compact_revision, -1);
        assert_eq!(h[0].revision, 2);
    }
}
