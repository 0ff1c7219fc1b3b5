//! Server configuration: etcd's flags, with etcd's defaults, from the command line and
//! `ETCD_*` environment variables.
//!
//! Parsing follows Go's `flag` package, which etcd uses: `-flag`, `--flag`, `--flag=value`
//! and `--flag value` (not for booleans, which take `--flag` or `--flag=false`). A flag given
//! on the command line wins over its `ETCD_<NAME>` environment variable.
//!
//! # Invariants
//! - ONE TABLE (`FLAGS`) names every flag of etcd 3.4 and 3.6 with its kind and its role:
//!   used (honoured), refused (the server does not start, with the reason), or ignored
//!   (accepted so that existing manifests start, recorded in [`Config::ignored`] and logged
//!   at start-up). Parsing, the environment, `--help` ([`help_text`]) and the warning read
//!   it; a test checks that [`Config::parse`] reads exactly the flags marked used.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
}

/// What oxcd does with a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Honoured as etcd honours it.
    Used,
    /// Refused at start whatever its value, with the reason.
    Refused(&'static str),
    /// Not implemented: accepted only at etcd's default (so manifests that spell the
    /// default out still start), refused with the reason at any other value.
    AtDefault(EtcdDefault, &'static str),
    /// Has no meaning in oxcd (the reason says why): accepted, and logged at start-up.
    NoMeaning(&'static str),
}

/// etcd's default of an [`Role::AtDefault`] flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EtcdDefault {
    /// A boolean.
    B(bool),
    /// A text (compared as given, trimmed).
    T(&'static str),
    /// A Go duration (compared by value: `10ms` is `0.01s`).
    D(&'static str),
}

impl EtcdDefault {
    /// Whether `value` is this default.
    fn is(self, value: &str) -> bool {
        let v = value.trim();
        match self {
            EtcdDefault::B(b) => go_bool(v) == Some(b),
            EtcdDefault::T(t) => v == t,
            EtcdDefault::D(d) => {
                let parse = oxcd_auth::token::parse_go_duration;
                v == d || (parse(v).is_ok() && parse(v) == parse(d))
            }
        }
    }
}

fn role_of(name: &str) -> Option<Role> {
    FLAGS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, r)| *r)
}

/// The given flag values, recording which names the parser read (see the table test).
struct Values {
    given: BTreeMap<&'static str, String>,
    read: std::cell::RefCell<std::collections::BTreeSet<&'static str>>,
}

impl Values {
    fn get(&self, name: &'static str) -> Option<&String> {
        self.read.borrow_mut().insert(name);
        self.given.get(name)
    }
}

/// Every flag etcd 3.4.23 and 3.6.0 accept: name, whether it is boolean, and what oxcd does
/// with it. THE ONE TABLE: parsing, the environment variables, `--help` and the start-up
/// warning all read it, and a test checks that [`Config::parse`] reads exactly the flags
/// marked [`Role::Used`].
const FLAGS: &[(&str, Kind, Role)] = {
    use Kind::{Bool as B, Value as V};
    use Role::Used as U;
    const NO_CLIENT_TLS: Role = Role::Refused(
        "oxcd's gateway calls the gRPC services in process and opens no TLS client connection; remove the flag",
    );
    &[
        ("name", V, U),
        ("data-dir", V, U),
        ("wal-dir", V, U),
        ("snapshot-count", V, U),
        ("heartbeat-interval", V, U),
        ("election-timeout", V, U),
        ("initial-election-tick-advance", B, Role::NoMeaning("raft-rs has no fast-forward of election ticks at start; a restarted member waits one randomized election timeout")),
        ("listen-peer-urls", V, U),
        ("listen-client-urls", V, U),
        ("listen-client-http-urls", V, Role::AtDefault(EtcdDefault::T(""), "a separate HTTP-only client listener is not implemented; HTTP is served on --listen-client-urls")),
        ("max-snapshots", V, Role::NoMeaning("oxcd keeps raft snapshots and the log in RocksDB, not in .snap files")),
        ("max-wals", V, Role::NoMeaning("oxcd keeps the raft log in RocksDB, not in .wal files")),
        ("memory-mlock", B, Role::AtDefault(EtcdDefault::B(false), "locking memory is not implemented")),
        ("quota-backend-bytes", V, U),
        ("backend-bbolt-freelist-type", V, Role::NoMeaning("a bbolt setting; oxcd stores its data in RocksDB")),
        ("backend-batch-interval", V, Role::NoMeaning("bbolt commit batching; oxcd writes every applied batch to RocksDB at once")),
        ("backend-batch-limit", V, Role::NoMeaning("bbolt commit batching; oxcd writes every applied batch to RocksDB at once")),
        ("max-txn-ops", V, U),
        ("max-request-bytes", V, U),
        ("max-concurrent-streams", V, U),
        ("grpc-keepalive-min-time", V, Role::NoMeaning("hyper's HTTP/2 server has no ping-rate enforcement: client pings are always answered")),
        ("grpc-keepalive-interval", V, U),
        ("grpc-keepalive-timeout", V, U),
        ("socket-reuse-port", B, Role::AtDefault(EtcdDefault::B(false), "SO_REUSEPORT listeners are not implemented")),
        ("socket-reuse-address", B, Role::AtDefault(EtcdDefault::B(false), "SO_REUSEADDR listeners are not implemented")),
        ("enable-grpc-gateway", B, U),
        ("raft-read-timeout", V, Role::NoMeaning("rafthttp connection timeouts; oxcd's peer transport is gRPC with its own timeouts")),
        ("raft-write-timeout", V, Role::NoMeaning("rafthttp connection timeouts; oxcd's peer transport is gRPC with its own timeouts")),
        ("feature-gates", V, U),
        ("initial-advertise-peer-urls", V, U),
        ("initial-cluster", V, U),
        ("initial-cluster-state", V, U),
        ("initial-cluster-token", V, U),
        ("advertise-client-urls", V, U),
        ("discovery", V, Role::AtDefault(EtcdDefault::T(""), "discovery bootstrap is not implemented; use --initial-cluster")),
        ("discovery-token", V, Role::AtDefault(EtcdDefault::T(""), "discovery bootstrap is not implemented; use --initial-cluster")),
        ("discovery-endpoints", V, Role::AtDefault(EtcdDefault::T(""), "discovery bootstrap is not implemented; use --initial-cluster")),
        ("discovery-dial-timeout", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-request-timeout", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-keepalive-time", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-keepalive-timeout", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-insecure-transport", B, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-insecure-skip-tls-verify", B, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-cert", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-key", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-cacert", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-user", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-password", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-fallback", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-proxy", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("discovery-srv", V, Role::AtDefault(EtcdDefault::T(""), "DNS SRV discovery is not implemented; use --initial-cluster")),
        ("discovery-srv-name", V, Role::NoMeaning("only used with discovery (--discovery, --discovery-endpoints, --discovery-srv), which is not implemented")),
        ("strict-reconfig-check", B, U),
        ("pre-vote", B, U),
        ("auto-compaction-retention", V, U),
        ("auto-compaction-mode", V, U),
        ("v2-deprecation", V, Role::NoMeaning("oxcd serves no v2 API and stores no v2 data")),
        ("enable-v2", B, Role::AtDefault(EtcdDefault::B(false), "the v2 API is not served")),
        ("cert-file", V, U),
        ("key-file", V, U),
        ("client-cert-auth", B, U),
        ("client-cert-file", V, NO_CLIENT_TLS),
        ("client-key-file", V, NO_CLIENT_TLS),
        ("client-crl-file", V, U),
        ("client-cert-allowed-hostname", V, U),
        ("trusted-ca-file", V, U),
        ("auto-tls", B, U),
        ("peer-cert-file", V, U),
        ("peer-key-file", V, U),
        ("peer-client-cert-auth", B, U),
        ("peer-client-cert-file", V, U),
        ("peer-client-key-file", V, U),
        ("peer-trusted-ca-file", V, U),
        ("peer-cert-allowed-cn", V, U),
        ("peer-cert-allowed-hostname", V, U),
        ("peer-auto-tls", B, U),
        ("self-signed-cert-validity", V, U),
        ("peer-crl-file", V, U),
        ("cipher-suites", V, U),
        ("cors", V, U),
        ("host-whitelist", V, U),
        ("tls-min-version", V, U),
        ("tls-max-version", V, U),
        ("auth-token", V, U),
        ("bcrypt-cost", V, U),
        ("auth-token-ttl", V, U),
        ("enable-pprof", B, Role::AtDefault(EtcdDefault::B(false), "Go's pprof endpoints do not exist in oxcd")),
        ("metrics", V, U),
        ("listen-metrics-urls", V, U),
        ("logger", V, U),
        ("log-outputs", V, U),
        ("log-level", V, U),
        ("log-format", V, Role::AtDefault(EtcdDefault::T("json"), "only zap's JSON lines are written (--logger zap)")),
        ("enable-log-rotation", B, Role::AtDefault(EtcdDefault::B(false), "log rotation is not implemented; rotate with logrotate")),
        ("log-rotation-config-json", V, Role::NoMeaning("only used with --enable-log-rotation, which is not implemented")),
        ("warning-unary-request-duration", V, Role::AtDefault(EtcdDefault::D("300ms"), "slow unary requests are not logged separately; see --warning-apply-duration")),
        ("experimental-enable-distributed-tracing", B, Role::AtDefault(EtcdDefault::B(false), "OpenTelemetry tracing is not implemented")),
        ("enable-distributed-tracing", B, Role::AtDefault(EtcdDefault::B(false), "OpenTelemetry tracing is not implemented")),
        ("experimental-distributed-tracing-address", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("distributed-tracing-address", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("experimental-distributed-tracing-service-name", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("distributed-tracing-service-name", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("experimental-distributed-tracing-instance-id", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("distributed-tracing-instance-id", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("experimental-distributed-tracing-sampling-rate", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("distributed-tracing-sampling-rate", V, Role::NoMeaning("only used with --enable-distributed-tracing, which is not implemented")),
        ("experimental-initial-corrupt-check", B, U),
        ("experimental-corrupt-check-time", V, U),
        ("corrupt-check-time", V, U),
        ("experimental-compact-hash-check-enabled", B, Role::AtDefault(EtcdDefault::B(false), "the compaction hash check is not implemented yet")),
        ("experimental-compact-hash-check-time", V, Role::NoMeaning("only used with --experimental-compact-hash-check-enabled, which is not implemented")),
        ("compact-hash-check-time", V, Role::NoMeaning("only used with --experimental-compact-hash-check-enabled, which is not implemented")),
        ("experimental-enable-lease-checkpoint", B, U),
        ("experimental-compaction-batch-limit", V, U),
        ("compaction-batch-limit", V, U),
        ("experimental-peer-skip-client-san-verification", B, U),
        ("peer-skip-client-san-verification", B, U),
        ("experimental-watch-progress-notify-interval", V, U),
        ("watch-progress-notify-interval", V, U),
        ("experimental-warning-apply-duration", V, U),
        ("warning-apply-duration", V, U),
        ("experimental-txn-mode-write-with-shared-buffer", B, Role::NoMeaning("a bbolt buffer-sharing optimisation")),
        ("experimental-bootstrap-defrag-threshold-megabytes", V, Role::NoMeaning("bbolt defragmentation at start; RocksDB compacts online")),
        ("bootstrap-defrag-threshold-megabytes", V, Role::NoMeaning("bbolt defragmentation at start; RocksDB compacts online")),
        ("experimental-warning-unary-request-duration", V, Role::AtDefault(EtcdDefault::D("300ms"), "slow unary requests are not logged separately; see --warning-apply-duration")),
        ("max-learners", V, U),
        ("experimental-snapshot-catch-up-entries", V, U),
        ("experimental-compaction-sleep-interval", V, Role::AtDefault(EtcdDefault::D("10ms"), "compaction does not pause between batches")),
        ("compaction-sleep-interval", V, Role::AtDefault(EtcdDefault::D("10ms"), "compaction does not pause between batches")),
        ("experimental-downgrade-check-time", V, Role::NoMeaning("downgrades are not supported (Downgrade answers FailedPrecondition)")),
        ("downgrade-check-time", V, Role::NoMeaning("downgrades are not supported (Downgrade answers FailedPrecondition)")),
        ("experimental-enable-lease-checkpoint-persist", B, Role::NoMeaning("oxcd always persists checkpointed lease TTLs")),
        ("experimental-memory-mlock", B, Role::AtDefault(EtcdDefault::B(false), "locking memory is not implemented")),
        ("experimental-snapshot-catchup-entries", V, U),
        ("snapshot-catchup-entries", V, U),
        ("experimental-stop-grpc-service-on-defrag", B, Role::NoMeaning("defragmentation is online in oxcd; the gRPC service never stops")),
        ("force-new-cluster", B, Role::AtDefault(EtcdDefault::B(false), "not implemented: restore a snapshot into a new cluster instead (oxcd snapshot restore)")),
        ("unsafe-no-fsync", B, U),
        ("proxy", V, Role::AtDefault(EtcdDefault::T("off"), "etcd's v2 proxy mode is not implemented")),
        ("proxy-failure-wait", V, Role::NoMeaning("only used with --proxy, which is not implemented")),
        ("proxy-refresh-interval", V, Role::NoMeaning("only used with --proxy, which is not implemented")),
        ("proxy-dial-timeout", V, Role::NoMeaning("only used with --proxy, which is not implemented")),
        ("proxy-write-timeout", V, Role::NoMeaning("only used with --proxy, which is not implemented")),
        ("proxy-read-timeout", V, Role::NoMeaning("only used with --proxy, which is not implemented")),
        ("experimental-enable-v2v3", V, Role::AtDefault(EtcdDefault::T(""), "the v2 API is not served")),
        ("experimental-backend-bbolt-freelist-type", V, Role::NoMeaning("a bbolt setting; oxcd stores its data in RocksDB")),
        ("debug", B, U),
        ("log-package-levels", V, Role::NoMeaning("capnslog's per-package levels; use --log-level or RUST_LOG")),
        ("config-file", V, U),
        ("version", B, U),
        ("help", B, U),
    ]
};

/// A configuration error, printed to the operator before exit.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag etcd does not know either.
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),
    /// A flag that needs a value was last on the command line.
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    /// A value that does not parse.
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidValue {
        /// The flag name.
        flag: String,
        /// The given value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A flag oxcd knows but does not implement, and will not silently drop.
    #[error("flag -{flag} is not supported by oxcd: {reason}")]
    Unsupported {
        /// The flag name.
        flag: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A positional argument, which etcd does not take.
    #[error("'{0}' is not a valid flag")]
    Positional(String),
    /// Flags that parse but do not fit together (etcd's `error verifying flags`, exit 1).
    #[error("error verifying flags, {0}. See 'oxcd --help'.")]
    Verify(String),
}

impl ConfigError {
    /// The process exit code etcd uses for the same error: 1 for flags that fail
    /// verification, 2 for flags that do not parse (Go's flag package, or a panic).
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Verify(_) => 1,
            _ => 2,
        }
    }
}

/// `--auto-compaction-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionMode {
    /// Keep history for a period of time.
    Periodic,
    /// Keep the last N revisions.
    Revision,
}

/// The parsed configuration of one member.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--name`.
    pub name: String,
    /// `--data-dir` (default `${name}.etcd`).
    pub data_dir: PathBuf,
    /// `--wal-dir`: where the raft log lives (default `<data-dir>/member/wal`).
    pub wal_dir: Option<PathBuf>,
    /// `--listen-client-urls`.
    pub listen_client_urls: Vec<String>,
    /// `--advertise-client-urls`.
    pub advertise_client_urls: Vec<String>,
    /// `--listen-peer-urls`.
    pub listen_peer_urls: Vec<String>,
    /// `--initial-advertise-peer-urls`.
    pub initial_advertise_peer_urls: Vec<String>,
    /// `--initial-cluster`, as (name, peer url) pairs.
    pub initial_cluster: Vec<(String, String)>,
    /// `--initial-cluster-state` is `existing`.
    pub initial_cluster_state_existing: bool,
    /// `--initial-cluster-token`.
    pub initial_cluster_token: String,
    /// `--listen-metrics-urls`.
    pub listen_metrics_urls: Vec<String>,
    /// `--snapshot-count`: applied entries between raft log compactions.
    pub snapshot_count: u64,
    /// `--snapshot-catchup-entries` (3.6; `--experimental-` in 3.5): raft entries kept
    /// behind the applied index at log compaction for slow followers.
    pub snapshot_catchup_entries: u64,
    /// `--strict-reconfig-check` (default true): refuse membership changes that could
    /// cost the quorum.
    pub strict_reconfig_check: bool,
    /// `--max-learners` (default 1).
    pub max_learners: usize,
    /// `--heartbeat-interval`.
    pub heartbeat_interval: Duration,
    /// `--election-timeout`.
    pub election_timeout: Duration,
    /// `--pre-vote`.
    pub pre_vote: bool,
    /// `--quota-backend-bytes` (0 means the 2 GiB default).
    pub quota_backend_bytes: u64,
    /// `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// `--max-concurrent-streams`.
    pub max_concurrent_streams: u32,
    /// `--auto-compaction-mode`.
    pub auto_compaction_mode: CompactionMode,
    /// `--auto-compaction-retention`, unparsed (its meaning depends on the mode).
    pub auto_compaction_retention: String,
    /// `--log-level`: one of [`LOG_LEVELS`]; `debug` also with `--debug --logger capnslog`.
    pub log_level: String,
    /// `--debug` (deprecated in etcd 3.4; with `--logger zap` it does not change the level).
    pub debug: bool,
    /// `--metrics extensive` adds gRPC handling-time histograms.
    pub metrics_extensive: bool,
    /// `--enable-grpc-gateway`.
    pub enable_grpc_gateway: bool,
    /// `--unsafe-no-fsync`: skip fsync of the raft log (benchmarks only).
    pub unsafe_no_fsync: bool,
    /// `--auth-token`: `simple` (default) or `jwt,pub-key=…,priv-key=…,sign-method=…,ttl=…`.
    pub auth_token: String,
    /// `--auth-token-ttl`: how long a simple token lives unused (default 300 s).
    pub auth_token_ttl: Duration,
    /// `--bcrypt-cost` for password hashes (default 10, 4 to 31).
    pub bcrypt_cost: u32,
    /// `--cors`: origins the gateway answers with CORS headers (empty or `*`: all).
    pub cors: Vec<String>,
    /// `--host-whitelist`: Host names plain-HTTP requests may carry (empty or `*`: any),
    /// etcd's DNS-rebinding guard (CVE-2018-5702).
    pub host_whitelist: Vec<String>,
    /// `--logger`: `capnslog` (3.4's default: text lines) or `zap` (JSON lines).
    pub logger: Logger,
    /// `--log-outputs`: `default`, `stderr`, `stdout` or file paths.
    pub log_outputs: Vec<String>,
    /// `--experimental-compaction-batch-limit` / `--compaction-batch-limit` (3.6): stored
    /// revisions deleted per batch by a compaction (default 1000).
    pub compaction_batch_limit: usize,
    /// `--experimental-enable-lease-checkpoint`: persist leases' remaining TTLs so a new
    /// leader does not restart them (off by default, as in etcd).
    pub lease_checkpoint: bool,
    /// `--watch-progress-notify-interval` (3.6; `--experimental-` before): how often
    /// watchers that asked for `progress_notify` get one (default 10 minutes).
    pub watch_progress_notify_interval: Duration,
    /// Client TLS: `--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`,
    /// `--client-crl-file`, `--client-cert-allowed-hostname`, `--cipher-suites`,
    /// `--tls-min-version`, `--tls-max-version`.
    pub client_tls: oxcd_tls::TlsOptions,
    /// Peer TLS: the `--peer-*` counterparts (and the shared cipher and version flags).
    pub peer_tls: oxcd_tls::TlsOptions,
    /// `--peer-client-cert-file` / `--peer-client-key-file` (3.5): the certificate offered
    /// when dialing peers, if not the peer server certificate.
    pub peer_client_cert: Option<(PathBuf, PathBuf)>,
    /// `--auto-tls`.
    pub auto_tls: bool,
    /// `--peer-auto-tls`.
    pub peer_auto_tls: bool,
    /// `--self-signed-cert-validity` in years (default 1).
    pub self_signed_cert_validity: u32,
    /// `--version` was given.
    pub print_version: bool,
    /// `--help` was given.
    pub print_help: bool,
    /// `--config-file`: the YAML file the settings came from (the command line and the
    /// environment were then ignored, as etcd does).
    pub config_file: Option<PathBuf>,
    /// `--warning-apply-duration` (3.4: `--experimental-warning-apply-duration`): requests
    /// slower than this are logged and counted (`etcd_server_slow_apply_total`).
    pub warning_apply_duration: Duration,
    /// `--grpc-keepalive-interval`: how often the server pings an idle client connection
    /// (HTTP/2 PING).
    pub grpc_keepalive_interval: Duration,
    /// `--grpc-keepalive-timeout`: how long it waits for the ping's answer before closing
    /// the connection.
    pub grpc_keepalive_timeout: Duration,
    /// `--experimental-initial-corrupt-check` (3.6: `--feature-gates=InitialCorruptCheck=true`):
    /// a restarting member compares its HashKV with its peers' before it serves, and refuses
    /// to start on a mismatch.
    pub initial_corrupt_check: bool,
    /// `--corrupt-check-time` (3.6; `--experimental-` in 3.4): how often the leader compares
    /// its HashKV with its followers' and raises CORRUPT on a mismatch (zero: never).
    pub corrupt_check_time: Duration,
    /// Flags that were set but have no meaning in oxcd, with the reason (logged at start).
    pub ignored: Vec<(String, &'static str)>,
}

/// Default `--quota-backend-bytes` when 0 is given: 2 GiB, as etcd.
pub const DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

impl Config {
    /// Parses `args` (without the program name) and the environment.
    pub fn parse<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let given = parse_args(args)?;
        let mut values = Values {
            given: BTreeMap::new(),
            read: Default::default(),
        };
        let env_of = |name: &str| env(&format!("ETCD_{}", name.to_uppercase().replace('-', "_")));
        let config_file = given
            .get("config-file")
            .cloned()
            .or_else(|| env_of("config-file"))
            .filter(|p| !p.is_empty());
        if let Some(path) = config_file {
            // etcd: a configuration file replaces the command line and the environment.
            let doc = std::fs::read_to_string(&path).map_err(|e| ConfigError::InvalidValue {
                flag: "config-file".into(),
                value: path.clone(),
                reason: format!("cannot read it: {e}"),
            })?;
            values.given = crate::config_file::values_from_yaml(&doc, |k| {
                FLAGS.iter().find(|(n, _, _)| *n == k).map(|(n, _, _)| *n)
            })?;
            values.given.insert("config-file", path);
        } else {
            for (name, _, _) in FLAGS {
                if let Some(v) = given.get(*name).cloned().or_else(|| env_of(name)) {
                    values.given.insert(name, v);
                }
            }
        }
        let config = Self::from_values(&values)?;
        debug_assert!(values
            .read
            .borrow()
            .iter()
            .all(|n| role_of(n) == Some(Role::Used)));
        Ok(config)
    }

    /// Builds the configuration from the given values (the flag table's [`Role::Used`]
    /// flags are read, every one of them, whether given or not).
    fn from_values(values: &Values) -> Result<Config, ConfigError> {
        let get = |n: &'static str| values.get(n).cloned();
        let name = get("name").unwrap_or_else(|| "default".to_string());
        let data_dir = PathBuf::from(get("data-dir").unwrap_or_else(|| format!("{name}.etcd")));
        let election_timeout = Duration::from_millis(parse_num(values, "election-timeout", 1000)?);
        let heartbeat_interval =
            Duration::from_millis(parse_num(values, "heartbeat-interval", 100)?);
        if heartbeat_interval.is_zero() || election_timeout < heartbeat_interval * 5 {
            return Err(ConfigError::InvalidValue {
                flag: "election-timeout".into(),
                value: format!("{}", election_timeout.as_millis()),
                reason: "election timeout should be at least 5 times the heartbeat interval".into(),
            });
        }
        let initial_cluster_s =
            get("initial-cluster").unwrap_or_else(|| "default=http://localhost:2380".to_string());
        let initial_cluster = parse_initial_cluster(&initial_cluster_s)?;
        let state = get("initial-cluster-state").unwrap_or_else(|| "new".into());
        if state != "new" && state != "existing" {
            return Err(ConfigError::InvalidValue {
                flag: "initial-cluster-state".into(),
                value: state,
                reason: "valid values are new and existing".into(),
            });
        }
        let mode = match get("auto-compaction-mode").as_deref().unwrap_or("periodic") {
            "periodic" => CompactionMode::Periodic,
            "revision" => CompactionMode::Revision,
            other => {
                return Err(ConfigError::InvalidValue {
                    flag: "auto-compaction-mode".into(),
                    value: other.into(),
                    reason: "valid values are periodic and revision".into(),
                })
            }
        };
        let refused = FLAGS.iter().find_map(|(f, _, role)| {
            let given = values.given.get(f)?;
            match role {
                Role::Refused(reason) => Some((f, reason)),
                Role::AtDefault(default, reason) if !default.is(given) => Some((f, reason)),
                _ => None,
            }
        });
        if let Some((flag, reason)) = refused {
            return Err(ConfigError::Unsupported {
                flag: flag.to_string(),
                reason: reason.to_string(),
            });
        }
        let (client_tls, peer_tls) = parse_tls(values)?;
        let peer_client_cert = match (get("peer-client-cert-file"), get("peer-client-key-file")) {
            (None, None) => None,
            (Some(c), Some(k)) if !c.is_empty() && !k.is_empty() => {
                Some((PathBuf::from(c), PathBuf::from(k)))
            }
            (c, k) => {
                return Err(ConfigError::InvalidValue {
                    flag: "peer-client-cert-file".into(),
                    value: c.unwrap_or_default(),
                    reason: format!(
                    "--peer-client-cert-file and --peer-client-key-file go together (key: {:?})",
                    k.unwrap_or_default()
                ),
                })
            }
        };
        let ignored = values
            .given
            .keys()
            .filter_map(|k| match role_of(k) {
                Some(Role::NoMeaning(why)) => Some((k.to_string(), why)),
                _ => None,
            })
            .collect();
        let log = log_settings(values)?;
        Ok(Config {
            data_dir,
            wal_dir: get("wal-dir").filter(|s| !s.is_empty()).map(PathBuf::from),
            listen_client_urls: urls(get("listen-client-urls"), "http://localhost:2379"),
            advertise_client_urls: urls(get("advertise-client-urls"), "http://localhost:2379"),
            listen_peer_urls: urls(get("listen-peer-urls"), "http://localhost:2380"),
            initial_advertise_peer_urls: urls(
                get("initial-advertise-peer-urls"),
                "http://localhost:2380",
            ),
            initial_cluster,
            initial_cluster_state_existing: state == "existing",
            initial_cluster_token: get("initial-cluster-token")
                .unwrap_or_else(|| "etcd-cluster".into()),
            listen_metrics_urls: urls(get("listen-metrics-urls"), ""),
            snapshot_count: parse_num(values, "snapshot-count", 100_000)?,
            snapshot_catchup_entries: match (
                get("snapshot-catchup-entries"),
                get("experimental-snapshot-catch-up-entries"),
            ) {
                (Some(_), _) => parse_num(values, "snapshot-catchup-entries", 5000)?,
                (None, Some(_)) => {
                    parse_num(values, "experimental-snapshot-catch-up-entries", 5000)?
                }
                (None, None) => parse_num(values, "experimental-snapshot-catchup-entries", 5000)?,
            },
            grpc_keepalive_interval: parse_duration(
                values,
                &["grpc-keepalive-interval"],
                Duration::from_secs(2 * 3600),
            )?,
            grpc_keepalive_timeout: parse_duration(
                values,
                &["grpc-keepalive-timeout"],
                Duration::from_secs(20),
            )?,
            strict_reconfig_check: parse_bool(values, "strict-reconfig-check", true)?,
            max_learners: parse_num(values, "max-learners", 1)? as usize,
            heartbeat_interval,
            election_timeout,
            pre_vote: parse_bool(values, "pre-vote", false)?,
            quota_backend_bytes: parse_num(values, "quota-backend-bytes", 0)?,
            max_request_bytes: parse_num(values, "max-request-bytes", 1_572_864)? as usize,
            max_txn_ops: parse_num(values, "max-txn-ops", 128)? as usize,
            max_concurrent_streams: match get("max-concurrent-streams").as_deref() {
                None | Some("math.MaxUint32") => u32::MAX,
                Some(_) => parse_num(values, "max-concurrent-streams", u64::from(u32::MAX))?
                    .min(u64::from(u32::MAX)) as u32,
            },
            auto_compaction_mode: mode,
            auto_compaction_retention: get("auto-compaction-retention")
                .unwrap_or_else(|| "0".into()),
            log_level: log.level,
            debug: log.debug,
            cors: parse_cors(get("cors"))?,
            host_whitelist: list(get("host-whitelist")),
            logger: log.logger,
            log_outputs: log.outputs,
            compaction_batch_limit: match get("compaction-batch-limit") {
                Some(_) => parse_num(values, "compaction-batch-limit", 1000)?,
                None => parse_num(values, "experimental-compaction-batch-limit", 1000)?,
            }
            .max(1) as usize,
            lease_checkpoint: parse_bool(values, "experimental-enable-lease-checkpoint", false)?,
            metrics_extensive: get("metrics").as_deref() == Some("extensive"),
            enable_grpc_gateway: parse_bool(values, "enable-grpc-gateway", true)?,
            unsafe_no_fsync: parse_bool(values, "unsafe-no-fsync", false)?,
            auth_token: get("auth-token").unwrap_or_else(|| "simple".into()),
            auth_token_ttl: Duration::from_secs(parse_num(values, "auth-token-ttl", 300)?),
            bcrypt_cost: parse_bcrypt_cost(values)?,
            watch_progress_notify_interval: parse_duration(
                values,
                &[
                    "watch-progress-notify-interval",
                    "experimental-watch-progress-notify-interval",
                ],
                Duration::from_secs(600),
            )?,
            warning_apply_duration: parse_duration(
                values,
                &[
                    "warning-apply-duration",
                    "experimental-warning-apply-duration",
                ],
                crate::slow::DEFAULT_WARNING_APPLY_DURATION,
            )?,
            initial_corrupt_check: match parse_feature_gates(values)? {
                Some(gate) => gate,
                None => parse_bool(values, "experimental-initial-corrupt-check", false)?,
            },
            corrupt_check_time: parse_duration(
                values,
                &["corrupt-check-time", "experimental-corrupt-check-time"],
                Duration::ZERO,
            )?,
            client_tls,
            peer_tls,
            peer_client_cert,
            auto_tls: parse_bool(values, "auto-tls", false)?,
            peer_auto_tls: parse_bool(values, "peer-auto-tls", false)?,
            self_signed_cert_validity: parse_num(values, "self-signed-cert-validity", 1)?
                .clamp(1, 100) as u32,
            config_file: get("config-file").map(PathBuf::from),
            print_version: parse_bool(values, "version", false)?,
            print_help: parse_bool(values, "help", false)?,
            ignored,
            name,
        })
    }

    /// The effective backend quota in bytes.
    pub fn quota_bytes(&self) -> u64 {
        if self.quota_backend_bytes == 0 {
            DEFAULT_QUOTA_BYTES
        } else {
            self.quota_backend_bytes
        }
    }

    /// etcd's request timeout: 5 s plus twice the election timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(5) + self.election_timeout * 2
    }

    /// Minimum lease TTL in seconds: ceil(1.5 × election timeout).
    pub fn min_lease_ttl(&self) -> i64 {
        let ms = self.election_timeout.as_millis() as i64 * 3 / 2;
        (ms + 999) / 1000
    }

    /// The directory of the state machine's RocksDB.
    pub fn db_dir(&self) -> PathBuf {
        self.data_dir.join("member").join("db")
    }

    /// The directory of the raft log's RocksDB.
    pub fn raft_dir(&self) -> PathBuf {
        self.wal_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("member").join("wal"))
    }
}

fn parse_args<I, S>(args: I) -> Result<BTreeMap<String, String>, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut out = BTreeMap::new();
    let mut it = args.into_iter().map(Into::into);
    while let Some(arg) = it.next() {
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(ConfigError::Positional(arg));
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (stripped.to_string(), None),
        };
        let name = if name == "h" {
            "help".to_string()
        } else {
            name
        };
        let kind = FLAGS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, k, _)| *k)
            .ok_or_else(|| ConfigError::UnknownFlag(name.clone()))?;
        let value = match (kind, inline) {
            (_, Some(v)) => v,
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Value, None) => it
                .next()
                .ok_or_else(|| ConfigError::MissingValue(name.clone()))?,
        };
        out.insert(name, value);
    }
    Ok(out)
}

fn parse_num(values: &Values, flag: &'static str, default: u64) -> Result<u64, ConfigError> {
    match values.get(flag) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|e| ConfigError::InvalidValue {
                flag: flag.into(),
                value: v.clone(),
                reason: e.to_string(),
            }),
    }
}

/// The first of `flags` that is set, as a Go duration (`10m`, `1s`, `500ms`), or `default`.
fn parse_duration(
    values: &Values,
    flags: &[&'static str],
    default: Duration,
) -> Result<Duration, ConfigError> {
    let set: Vec<(&str, &String)> = flags
        .iter()
        .filter_map(|f| values.get(f).map(|v| (*f, v)))
        .collect();
    let Some(&(flag, value)) = set.first() else {
        return Ok(default);
    };
    oxcd_auth::token::parse_go_duration(value.trim()).map_err(|reason| ConfigError::InvalidValue {
        flag: flag.into(),
        value: value.clone(),
        reason,
    })
}

fn parse_bcrypt_cost(values: &Values) -> Result<u32, ConfigError> {
    let cost = parse_num(
        values,
        "bcrypt-cost",
        u64::from(oxcd_auth::DEFAULT_BCRYPT_COST),
    )?;
    match u32::try_from(cost) {
        Ok(c) if oxcd_auth::BCRYPT_COST_RANGE.contains(&c) => Ok(c),
        _ => Err(ConfigError::InvalidValue {
            flag: "bcrypt-cost".into(),
            value: cost.to_string(),
            reason: format!(
                "out of range [{}, {}]",
                oxcd_auth::BCRYPT_COST_RANGE.start(),
                oxcd_auth::BCRYPT_COST_RANGE.end()
            ),
        }),
    }
}

/// A boolean as Go's `strconv.ParseBool` reads it.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_bool(values: &Values, flag: &'static str, default: bool) -> Result<bool, ConfigError> {
    match values.get(flag) {
        None => Ok(default),
        Some(v) => go_bool(v).ok_or_else(|| ConfigError::InvalidValue {
            flag: flag.into(),
            value: v.clone(),
            reason: "parse error".into(),
        }),
    }
}

/// `--feature-gates` (3.6, `Name=bool,...`): only `InitialCorruptCheck` is implemented (the
/// 3.6 spelling of `--experimental-initial-corrupt-check`); any other gate is refused.
fn parse_feature_gates(values: &Values) -> Result<Option<bool>, ConfigError> {
    let Some(given) = values.get("feature-gates") else {
        return Ok(None);
    };
    let mut initial_corrupt_check = None;
    for gate in given.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let invalid = |reason: &str| ConfigError::InvalidValue {
            flag: "feature-gates".into(),
            value: given.clone(),
            reason: reason.into(),
        };
        let (name, value) = gate
            .split_once('=')
            .ok_or_else(|| invalid("missing bool value"))?;
        match name.trim() {
            "InitialCorruptCheck" => {
                initial_corrupt_check =
                    Some(go_bool(value.trim()).ok_or_else(|| invalid("invalid bool value"))?);
            }
            other => {
                return Err(ConfigError::Unsupported {
                    flag: "feature-gates".into(),
                    reason: format!(
                        "the feature gate {other} is not implemented (only InitialCorruptCheck is)"
                    ),
                })
            }
        }
    }
    Ok(initial_corrupt_check)
}

/// The client and peer TLS options of the flags (files are checked at start, not here).
fn parse_tls(values: &Values) -> Result<(oxcd_tls::TlsOptions, oxcd_tls::TlsOptions), ConfigError> {
    let path = |flag: &'static str| {
        values
            .get(flag)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let text = |flag: &'static str| values.get(flag).filter(|v| !v.is_empty()).cloned();
    let version = |flag: &'static str| {
        oxcd_tls::TlsVersion::parse(flag, values.get(flag).map(String::as_str).unwrap_or(""))
            .map_err(|e| ConfigError::InvalidValue {
                flag: flag.into(),
                value: values.get(flag).cloned().unwrap_or_default(),
                reason: e.to_string(),
            })
    };
    let cipher_suites: Vec<String> = values
        .get("cipher-suites")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let min_version = version("tls-min-version")?;
    let max_version = version("tls-max-version")?;
    let client = oxcd_tls::TlsOptions {
        cert_file: path("cert-file"),
        key_file: path("key-file"),
        trusted_ca_file: path("trusted-ca-file"),
        client_cert_auth: parse_bool(values, "client-cert-auth", false)?,
        crl_file: path("client-crl-file"),
        allowed_cn: None,
        allowed_hostname: text("client-cert-allowed-hostname"),
        cipher_suites: cipher_suites.clone(),
        min_version,
        max_version,
        self_signed: false,
        skip_client_san_verify: false,
    };
    let skip_san = parse_bool(
        values,
        "experimental-peer-skip-client-san-verification",
        false,
    )? || parse_bool(values, "peer-skip-client-san-verification", false)?;
    let peer = oxcd_tls::TlsOptions {
        cert_file: path("peer-cert-file"),
        key_file: path("peer-key-file"),
        trusted_ca_file: path("peer-trusted-ca-file"),
        client_cert_auth: parse_bool(values, "peer-client-cert-auth", false)?,
        crl_file: path("peer-crl-file"),
        allowed_cn: text("peer-cert-allowed-cn"),
        allowed_hostname: text("peer-cert-allowed-hostname"),
        cipher_suites,
        min_version,
        max_version,
        self_signed: false,
        skip_client_san_verify: skip_san,
    };
    Ok((client, peer))
}

/// `--cors`: `*` or nothing allows every origin (an empty list); otherwise each entry must
/// be a URL as etcd's flag demands (http/https/unix/unixs, `host:port`, no path).
fn parse_cors(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    let value = value.unwrap_or_default();
    if value.trim() == "*" {
        return Ok(Vec::new());
    }
    let origins = list(Some(value.clone()));
    for origin in &origins {
        let reason = match origin.split_once("://") {
            Some(("http" | "https" | "unix" | "unixs", rest)) => {
                let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                match hostport.rsplit_once(':') {
                    Some((_, port)) if !port.is_empty() && path.is_empty() => continue,
                    Some((_, port)) if !port.is_empty() => "URL must not contain a path",
                    _ => "URL address does not have the form \"host:port\"",
                }
            }
            _ => "URL scheme must be http, https, unix, or unixs",
        };
        return Err(ConfigError::InvalidValue {
            flag: "cors".into(),
            value,
            reason: format!("{reason}: {origin}"),
        });
    }
    Ok(origins)
}

/// A comma-separated list, blanks dropped.
fn list(v: Option<String>) -> Vec<String> {
    v.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The values `--log-level` takes (etcd's `logutil.ConvertToZapLevel`); oxcd has no
/// panic or fatal events, so `dpanic`, `panic` and `fatal` log its errors only.
pub const LOG_LEVELS: [&str; 7] = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"];

/// The log flags, checked as etcd 3.4's `setupLogging` checks them.
struct LogSettings {
    logger: Logger,
    outputs: Vec<String>,
    level: String,
    debug: bool,
}

fn log_settings(values: &Values) -> Result<LogSettings, ConfigError> {
    let logger = match values.get("logger").map(String::as_str) {
        None | Some("capnslog") => Logger::Capnslog,
        Some("zap") => Logger::Zap,
        Some(other) => {
            return Err(ConfigError::Verify(format!(
                "unknown logger option {other:?}"
            )))
        }
    };
    let outputs = match list(values.get("log-outputs").cloned()) {
        outputs if outputs.is_empty() => vec!["default".to_string()],
        outputs => outputs,
    };
    let go_list = || {
        let quoted: Vec<String> = outputs.iter().map(|o| format!("{o:?}")).collect();
        format!("[{}]", quoted.join(" "))
    };
    match logger {
        Logger::Capnslog if outputs.len() != 1 => {
            return Err(ConfigError::Verify(format!(
                "--logger=capnslog supports only 1 value in '--log-outputs', got {}",
                go_list()
            )))
        }
        Logger::Capnslog if !["default", "stderr", "stdout"].contains(&outputs[0].as_str()) => {
            return Err(ConfigError::Verify(format!(
                "unknown log-output {:?} (only supports \"default\", \"stderr\", \"stdout\")",
                outputs[0]
            )))
        }
        Logger::Zap if outputs.len() > 1 && outputs.iter().any(|o| o == "default") => {
            return Err(ConfigError::Verify(
                "multi logoutput for \"default\" is not supported yet".into(),
            ))
        }
        _ => {}
    }
    let debug = parse_bool(values, "debug", false)?;
    let level = values
        .get("log-level")
        .cloned()
        .unwrap_or_else(|| "info".into());
    if !LOG_LEVELS.contains(&level.as_str()) {
        // etcd panics with this message (exit 2).
        return Err(ConfigError::InvalidValue {
            flag: "log-level".into(),
            reason: format!("unknown level {level:?}"),
            value: level,
        });
    }
    // etcd 3.4: `--debug` sets capnslog's level to debug; zap's level is `--log-level`'s.
    let level = if debug && logger == Logger::Capnslog {
        "debug".to_string()
    } else {
        level
    };
    Ok(LogSettings {
        logger,
        outputs,
        level,
        debug,
    })
}

/// `--logger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logger {
    /// Text lines (etcd 3.4's default logger, capnslog).
    Capnslog,
    /// JSON lines with zap's keys (`level`, `ts`, `caller`, `msg`, then the fields).
    Zap,
}

fn urls(v: Option<String>, default: &str) -> Vec<String> {
    v.unwrap_or_else(|| default.to_string())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn parse_initial_cluster(s: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, url) = part
            .split_once('=')
            .ok_or_else(|| ConfigError::InvalidValue {
                flag: "initial-cluster".into(),
                value: s.into(),
                reason: format!("{part:?} is not of the form name=url"),
            })?;
        out.push((name.to_string(), url.to_string()));
    }
    Ok(out)
}

/// `oxcd --help`: every flag of the table, grouped by what oxcd does with it.
pub fn help_text() -> String {
    let mut used = Vec::new();
    let mut refused = Vec::new();
    let mut ignored = Vec::new();
    for (name, kind, role) in FLAGS {
        let flag = match kind {
            Kind::Bool => format!("--{name}"),
            Kind::Value => format!("--{name} <value>"),
        };
        match role {
            Role::Used => used.push(format!("  {flag}")),
            Role::Refused(why) => refused.push(format!("  {flag}\n      {why}")),
            Role::AtDefault(default, why) => {
                let default = match default {
                    EtcdDefault::B(b) => b.to_string(),
                    EtcdDefault::T(t) | EtcdDefault::D(t) => format!("{t:?}"),
                };
                refused.push(format!("  {flag}\n      accepted at {default} only: {why}"));
            }
            Role::NoMeaning(why) => ignored.push(format!("  --{name}\n      {why}")),
        }
    }
    format!(
        "usage: oxcd [flags]\n\nTakes etcd's flags, as `--flag value`, `--flag=value` or the \
         ETCD_<FLAG> environment variable\n(see `etcd --help` for each flag's meaning and \
         default).\n\nHonoured as etcd honours them:\n{}\n\nNot implemented (the server does \
         not start if given, or if given other than etcd's default):\n{}\n\nWithout meaning \
         in oxcd (accepted so that existing manifests start; a warning is logged):\n{}\n",
        used.join("\n"),
        refused.join("\n"),
        ignored.join("\n")
    )
}

/// Whether a URL asks for TLS (`https://`; etcd's `unixs://` is not served by oxcd).
pub fn is_https(url: &str) -> bool {
    url.starts_with("https://")
}

/// Turns `http://host:port` into a socket address string for binding.
pub fn url_to_addr(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .or_else(|| url.strip_prefix("unix://"))
        .unwrap_or(url);
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = hostport.replace("localhost", "127.0.0.1");
    if hostport.is_empty() || !hostport.contains(':') {
        return Err(ConfigError::InvalidValue {
            flag: "listen-client-urls".into(),
            value: url.into(),
            reason: "expected scheme://host:port".into(),
        });
    }
    Ok(hostport)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn durations_and_auth_flags() {
        let parse = |args: &[&str]| Config::parse(args.iter().map(|a| a.to_string()), no_env);
        let c = parse(&["--experimental-watch-progress-notify-interval=1s"]).unwrap();
        assert_eq!(c.watch_progress_notify_interval, Duration::from_secs(1));
        let c = parse(&["--watch-progress-notify-interval", "1m30s"]).unwrap();
        assert_eq!(c.watch_progress_notify_interval, Duration::from_secs(90));
        assert!(parse(&["--watch-progress-notify-interval=soon"]).is_err());
        assert!(parse(&["--bcrypt-cost=3"]).is_err());
        let c = parse(&["--auth-token-ttl=2", "--bcrypt-cost=4"]).unwrap();
        assert_eq!(
            (c.auth_token_ttl, c.bcrypt_cost),
            (Duration::from_secs(2), 4)
        );
        let c = parse(&[
            "--logger=zap",
            "--log-outputs=stdout,/tmp/x.log",
            "--debug",
            "--cors=http://a:1,http://b:2",
            "--host-whitelist=example.com",
            "--experimental-compaction-batch-limit=50",
            "--experimental-enable-lease-checkpoint",
        ])
        .unwrap();
        assert_eq!(c.logger, Logger::Zap);
        assert_eq!(c.log_outputs, vec!["stdout", "/tmp/x.log"]);
        // etcd 3.4: with zap, --debug leaves the level to --log-level.
        assert_eq!((c.log_level.as_str(), c.debug), ("info", true));
        assert_eq!(parse(&["--debug"]).unwrap().log_level, "debug");
        assert_eq!(
            parse(&["--logger=zap", "--log-level=warn"])
                .unwrap()
                .log_level,
            "warn"
        );
        assert_eq!(c.cors, vec!["http://a:1", "http://b:2"]);
        assert_eq!(c.host_whitelist, vec!["example.com"]);
        assert_eq!(c.compaction_batch_limit, 50);
        assert!(c.lease_checkpoint);
        let d = parse(&[]).unwrap();
        assert_eq!(d.logger, Logger::Capnslog);
        assert_eq!(d.log_outputs, vec!["default"]);
        assert_eq!(
            (d.compaction_batch_limit, d.lease_checkpoint),
            (1000, false)
        );
        for (bad, message, code) in [
            (
                &["--logger=syslog"][..],
                "error verifying flags, unknown logger option \"syslog\". See 'oxcd --help'.",
                1,
            ),
            (
                &["--log-level=verbose"][..],
                "invalid value \"verbose\" for flag -log-level: unknown level \"verbose\"",
                2,
            ),
            (
                &["--logger=zap", "--log-outputs=default,stdout"][..],
                "error verifying flags, multi logoutput for \"default\" is not supported yet. \
                 See 'oxcd --help'.",
                1,
            ),
            (
                &["--log-outputs=stdout,stderr"][..],
                "error verifying flags, --logger=capnslog supports only 1 value in \
                 '--log-outputs', got [\"stdout\" \"stderr\"]. See 'oxcd --help'.",
                1,
            ),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(
                (e.to_string().as_str(), e.exit_code()),
                (message, code),
                "{bad:?}"
            );
        }
        // etcd's --cors is a list of URLs; `*` alone allows all.
        assert!(parse(&["--cors=*"]).unwrap().cors.is_empty());
        for (bad, why) in [
            (
                "ftp://a:1",
                "URL scheme must be http, https, unix, or unixs: ftp://a:1",
            ),
            ("http://a:1/x", "URL must not contain a path: http://a:1/x"),
            (
                "http://a",
                "URL address does not have the form \"host:port\": http://a",
            ),
            (
                "http://a:1,*",
                "URL scheme must be http, https, unix, or unixs: *",
            ),
        ] {
            let err = parse(&[&format!("--cors={bad}")])
                .err()
                .unwrap()
                .to_string();
            assert!(err.ends_with(why), "{err}");
        }
    }

    #[test]
    fn defaults_match_etcd() {
        let c = Config::parse(Vec::<String>::new(), no_env).unwrap();
        assert_eq!(c.name, "default");
        assert_eq!(c.data_dir, PathBuf::from("default.etcd"));
        assert_eq!(c.snapshot_count, 100_000);
        assert_eq!(c.max_request_bytes, 1_572_864);
        assert_eq!(c.max_txn_ops, 128);
        assert_eq!(c.quota_bytes(), DEFAULT_QUOTA_BYTES);
        assert_eq!(c.request_timeout(), Duration::from_secs(7));
        assert_eq!(c.min_lease_ttl(), 2);
        assert_eq!(c.watch_progress_notify_interval, Duration::from_secs(600));
        assert_eq!(c.auth_token, "simple");
        assert_eq!(c.auth_token_ttl, Duration::from_secs(300));
        assert_eq!(c.bcrypt_cost, 10);
        assert_eq!(
            c.initial_cluster,
            vec![("default".into(), "http://localhost:2380".into())]
        );
    }

    #[test]
    fn go_style_flags_and_env() {
        let env = |k: &str| (k == "ETCD_MAX_TXN_OPS").then(|| "7".to_string());
        let c = Config::parse(
            [
                "--name=n1",
                "-data-dir",
                "/tmp/x",
                "--pre-vote",
                "--max-wals=3",
                "--cors",
                "*",
            ],
            env,
        )
        .unwrap();
        assert_eq!(c.name, "n1");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert!(c.pre_vote);
        assert_eq!(c.max_txn_ops, 7);
        assert_eq!(c.ignored.len(), 1);
        assert_eq!(c.ignored[0].0, "max-wals");
    }

    #[test]
    fn corruption_check_flags() {
        let none = |_: &str| None;
        let c = Config::parse(Vec::<String>::new(), none).unwrap();
        assert!(!c.initial_corrupt_check);
        assert_eq!(c.corrupt_check_time, Duration::ZERO);
        let c = Config::parse(
            [
                "--experimental-initial-corrupt-check",
                "--experimental-corrupt-check-time=1500ms",
            ],
            none,
        )
        .unwrap();
        assert!(c.initial_corrupt_check);
        assert_eq!(c.corrupt_check_time, Duration::from_millis(1500));
        let c = Config::parse(["--corrupt-check-time", "2m"], none).unwrap();
        assert_eq!(c.corrupt_check_time, Duration::from_secs(120));
        let c = Config::parse(["--feature-gates=InitialCorruptCheck=true"], none).unwrap();
        assert!(c.initial_corrupt_check);
        assert!(Config::parse(["--feature-gates="], none).is_ok());
        assert!(matches!(
            Config::parse(["--feature-gates=CompactHashCheck=true"], none),
            Err(ConfigError::Unsupported { .. })
        ));
        assert!(matches!(
            Config::parse(["--feature-gates=InitialCorruptCheck"], none),
            Err(ConfigError::InvalidValue { .. })
        ));
        assert!(matches!(
            Config::parse(["--experimental-corrupt-check-time=often"], none),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn parse_reads_exactly_the_flags_the_table_marks_used() {
        let values = Values {
            given: BTreeMap::new(),
            read: Default::default(),
        };
        Config::from_values(&values).unwrap();
        let read: Vec<&str> = values.read.borrow().iter().copied().collect();
        let mut used: Vec<&str> = FLAGS
            .iter()
            .filter(|(_, _, r)| *r == Role::Used)
            .map(|(n, _, _)| *n)
            .collect();
        used.sort_unstable();
        assert_eq!(
            read, used,
            "a flag is parsed but not marked used, or the reverse"
        );
    }

    #[test]
    fn refused_flags_stop_the_server_and_help_lists_every_flag() {
        assert!(matches!(
            Config::parse(["--client-cert-file=/x"], no_env),
            Err(ConfigError::Unsupported { flag, .. }) if flag == "client-cert-file"
        ));
        let help = help_text();
        for (name, _, _) in FLAGS {
            assert!(
                help.contains(&format!("--{name}")),
                "--help misses --{name}"
            );
        }
        let names: std::collections::BTreeSet<&str> = FLAGS.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names.len(), FLAGS.len(), "a flag is listed twice");
    }

    #[test]
    fn unimplemented_flags_start_only_at_etcds_default() {
        for ok in [
            &["--enable-v2=false"][..],
            &["--proxy", "off"],
            &["--experimental-compaction-sleep-interval=0.01s"],
            &["--memory-mlock=false"],
            &["--listen-client-http-urls="],
        ] {
            assert!(Config::parse(ok.iter().copied(), no_env).is_ok(), "{ok:?}");
        }
        for refused in [
            &["--enable-v2"][..],
            &["--proxy", "on"],
            &["--experimental-compaction-sleep-interval=20ms"],
            &["--memory-mlock"],
            &["--force-new-cluster"],
            &["--discovery-srv", "example.com"],
        ] {
            assert!(
                matches!(
                    Config::parse(refused.iter().copied(), no_env),
                    Err(ConfigError::Unsupported { .. })
                ),
                "{refused:?} was accepted"
            );
        }
    }

    /// The README names every flag that has no meaning in oxcd, as the issue asks.
    #[test]
    fn the_readme_lists_every_flag_without_meaning() {
        let readme = include_str!("../../../README.md");
        for (name, _, role) in FLAGS {
            if matches!(role, Role::NoMeaning(_)) {
                assert!(
                    readme.contains(&format!("`--{name}`")),
                    "README misses --{name}"
                );
            }
        }
    }

    #[test]
    fn errors_are_clear() {
        assert!(matches!(
            Config::parse(["--bogus"], no_env),
            Err(ConfigError::UnknownFlag(f)) if f == "bogus"
        ));
        assert!(matches!(
            Config::parse(["--name"], no_env),
            Err(ConfigError::MissingValue(_))
        ));
        assert!(Config::parse(["--max-txn-ops=x"], no_env).is_err());
        assert!(Config::parse(["--initial-cluster-state=old"], no_env).is_err());
    }

    #[test]
    fn url_parsing() {
        assert_eq!(
            url_to_addr("http://localhost:2379").unwrap(),
            "127.0.0.1:2379"
        );
        assert_eq!(
            url_to_addr("http://127.0.0.1:1234/").unwrap(),
            "127.0.0.1:1234"
        );
        assert!(url_to_addr("http://nohost").is_err());
    }
}
