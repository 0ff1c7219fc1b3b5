//! Server configuration: etcd's flags, with etcd's defaults, from the command line and
//! `ETCD_*` environment variables.
//!
//! Parsing follows Go's `flag` package, which etcd uses: `-flag`, `--flag`, `--flag=value`
//! and `--flag value` (not for booleans, which take `--flag` or `--flag=false`). Every flag
//! of etcd 3.4 and 3.6 is accepted so that existing manifests start unchanged; the ones oxcd
//! does not act on are recorded in [`Config::ignored`] and logged at start-up. A flag given
//! on the command line wins over its `ETCD_<NAME>` environment variable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
}

/// Every flag name etcd 3.4.23 and 3.6.0 accept, with whether it is boolean.
const FLAGS: &[(&str, Kind)] = {
    use Kind::{Bool as B, Value as V};
    &[
        ("name", V),
        ("data-dir", V),
        ("wal-dir", V),
        ("snapshot-count", V),
        ("heartbeat-interval", V),
        ("election-timeout", V),
        ("initial-election-tick-advance", B),
        ("listen-peer-urls", V),
        ("listen-client-urls", V),
        ("listen-client-http-urls", V),
        ("max-snapshots", V),
        ("max-wals", V),
        ("memory-mlock", B),
        ("quota-backend-bytes", V),
        ("backend-bbolt-freelist-type", V),
        ("backend-batch-interval", V),
        ("backend-batch-limit", V),
        ("max-txn-ops", V),
        ("max-request-bytes", V),
        ("max-concurrent-streams", V),
        ("grpc-keepalive-min-time", V),
        ("grpc-keepalive-interval", V),
        ("grpc-keepalive-timeout", V),
        ("socket-reuse-port", B),
        ("socket-reuse-address", B),
        ("enable-grpc-gateway", B),
        ("raft-read-timeout", V),
        ("raft-write-timeout", V),
        ("feature-gates", V),
        ("initial-advertise-peer-urls", V),
        ("initial-cluster", V),
        ("initial-cluster-state", V),
        ("initial-cluster-token", V),
        ("advertise-client-urls", V),
        ("discovery", V),
        ("discovery-token", V),
        ("discovery-endpoints", V),
        ("discovery-dial-timeout", V),
        ("discovery-request-timeout", V),
        ("discovery-keepalive-time", V),
        ("discovery-keepalive-timeout", V),
        ("discovery-insecure-transport", B),
        ("discovery-insecure-skip-tls-verify", B),
        ("discovery-cert", V),
        ("discovery-key", V),
        ("discovery-cacert", V),
        ("discovery-user", V),
        ("discovery-password", V),
        ("discovery-fallback", V),
        ("discovery-proxy", V),
        ("discovery-srv", V),
        ("discovery-srv-name", V),
        ("strict-reconfig-check", B),
        ("pre-vote", B),
        ("auto-compaction-retention", V),
        ("auto-compaction-mode", V),
        ("v2-deprecation", V),
        ("enable-v2", B),
        ("cert-file", V),
        ("key-file", V),
        ("client-cert-auth", B),
        ("client-cert-file", V),
        ("client-key-file", V),
        ("client-crl-file", V),
        ("client-cert-allowed-hostname", V),
        ("trusted-ca-file", V),
        ("auto-tls", B),
        ("peer-cert-file", V),
        ("peer-key-file", V),
        ("peer-client-cert-auth", B),
        ("peer-client-cert-file", V),
        ("peer-client-key-file", V),
        ("peer-trusted-ca-file", V),
        ("peer-cert-allowed-cn", V),
        ("peer-cert-allowed-hostname", V),
        ("peer-auto-tls", B),
        ("self-signed-cert-validity", V),
        ("peer-crl-file", V),
        ("cipher-suites", V),
        ("cors", V),
        ("host-whitelist", V),
        ("tls-min-version", V),
        ("tls-max-version", V),
        ("auth-token", V),
        ("bcrypt-cost", V),
        ("auth-token-ttl", V),
        ("enable-pprof", B),
        ("metrics", V),
        ("listen-metrics-urls", V),
        ("logger", V),
        ("log-outputs", V),
        ("log-level", V),
        ("log-format", V),
        ("enable-log-rotation", B),
        ("log-rotation-config-json", V),
        ("warning-unary-request-duration", V),
        ("experimental-enable-distributed-tracing", B),
        ("enable-distributed-tracing", B),
        ("experimental-distributed-tracing-address", V),
        ("distributed-tracing-address", V),
        ("experimental-distributed-tracing-service-name", V),
        ("distributed-tracing-service-name", V),
        ("experimental-distributed-tracing-instance-id", V),
        ("distributed-tracing-instance-id", V),
        ("experimental-distributed-tracing-sampling-rate", V),
        ("distributed-tracing-sampling-rate", V),
        ("experimental-initial-corrupt-check", B),
        ("experimental-corrupt-check-time", V),
        ("corrupt-check-time", V),
        ("experimental-compact-hash-check-enabled", B),
        ("experimental-compact-hash-check-time", V),
        ("compact-hash-check-time", V),
        ("experimental-enable-lease-checkpoint", B),
        ("experimental-compaction-batch-limit", V),
        ("compaction-batch-limit", V),
        ("experimental-peer-skip-client-san-verification", B),
        ("peer-skip-client-san-verification", B),
        ("experimental-watch-progress-notify-interval", V),
        ("watch-progress-notify-interval", V),
        ("experimental-warning-apply-duration", V),
        ("warning-apply-duration", V),
        ("experimental-txn-mode-write-with-shared-buffer", B),
        ("experimental-bootstrap-defrag-threshold-megabytes", V),
        ("bootstrap-defrag-threshold-megabytes", V),
        ("experimental-warning-unary-request-duration", V),
        ("max-learners", V),
        ("experimental-snapshot-catch-up-entries", V),
        ("experimental-compaction-sleep-interval", V),
        ("compaction-sleep-interval", V),
        ("experimental-downgrade-check-time", V),
        ("downgrade-check-time", V),
        ("experimental-enable-lease-checkpoint-persist", B),
        ("experimental-memory-mlock", B),
        ("experimental-snapshot-catchup-entries", V),
        ("snapshot-catchup-entries", V),
        ("experimental-stop-grpc-service-on-defrag", B),
        ("force-new-cluster", B),
        ("unsafe-no-fsync", B),
        ("proxy", V),
        ("proxy-failure-wait", V),
        ("proxy-refresh-interval", V),
        ("proxy-dial-timeout", V),
        ("proxy-write-timeout", V),
        ("proxy-read-timeout", V),
        ("experimental-enable-v2v3", V),
        ("experimental-backend-bbolt-freelist-type", V),
        ("debug", B),
        ("log-package-levels", V),
        ("config-file", V),
        ("version", B),
        ("help", B),
    ]
};

/// The flags oxcd acts on; every other known flag is accepted and ignored.
const USED: &[&str] = &[
    "name",
    "data-dir",
    "wal-dir",
    "snapshot-count",
    "heartbeat-interval",
    "election-timeout",
    "listen-peer-urls",
    "listen-client-urls",
    "initial-advertise-peer-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
    "advertise-client-urls",
    "quota-backend-bytes",
    "max-request-bytes",
    "max-txn-ops",
    "max-concurrent-streams",
    "auto-compaction-mode",
    "auto-compaction-retention",
    "log-level",
    "metrics",
    "pre-vote",
    "listen-metrics-urls",
    "enable-grpc-gateway",
    "experimental-enable-lease-checkpoint",
    "unsafe-no-fsync",
    "version",
    "help",
    "cors",
    "host-whitelist",
    "strict-reconfig-check",
    "logger",
    "log-outputs",
    "debug",
    "experimental-compaction-batch-limit",
    "compaction-batch-limit",
    "max-learners",
    "snapshot-catchup-entries",
    "experimental-snapshot-catchup-entries",
    "experimental-watch-progress-notify-interval",
    "watch-progress-notify-interval",
    "cert-file",
    "key-file",
    "trusted-ca-file",
    "client-cert-auth",
    "client-crl-file",
    "client-cert-allowed-hostname",
    "auto-tls",
    "peer-cert-file",
    "peer-key-file",
    "peer-client-cert-file",
    "peer-client-key-file",
    "peer-trusted-ca-file",
    "peer-client-cert-auth",
    "peer-crl-file",
    "peer-cert-allowed-cn",
    "peer-cert-allowed-hostname",
    "peer-auto-tls",
    "self-signed-cert-validity",
    "cipher-suites",
    "tls-min-version",
    "tls-max-version",
    "experimental-peer-skip-client-san-verification",
    "peer-skip-client-san-verification",
    "auth-token",
    "auth-token-ttl",
    "bcrypt-cost",
];

/// Flags oxcd refuses: accepting them would silently change nothing.
const REFUSED: &[(&str, &str)] = &[
    (
        "client-cert-file",
        "oxcd's gateway calls the gRPC services in process and opens no TLS client connection; remove the flag",
    ),
    (
        "client-key-file",
        "oxcd's gateway calls the gRPC services in process and opens no TLS client connection; remove the flag",
    ),
];

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
    /// `--log-level`.
    pub log_level: String,
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
    /// Known etcd flags that were set but that oxcd does not act on.
    pub ignored: Vec<String>,
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
        let mut values: BTreeMap<&'static str, String> = BTreeMap::new();
        for (name, _) in FLAGS {
            let env_name = format!("ETCD_{}", name.to_uppercase().replace('-', "_"));
            if let Some(v) = given.get(*name).cloned().or_else(|| env(&env_name)) {
                values.insert(name, v);
            }
        }
        let get = |n: &str| values.get(n).cloned();
        let name = get("name").unwrap_or_else(|| "default".to_string());
        let data_dir = PathBuf::from(get("data-dir").unwrap_or_else(|| format!("{name}.etcd")));
        let election_timeout = Duration::from_millis(parse_num(&values, "election-timeout", 1000)?);
        let heartbeat_interval =
            Duration::from_millis(parse_num(&values, "heartbeat-interval", 100)?);
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
        if let Some((flag, reason)) = REFUSED.iter().find(|(f, _)| values.contains_key(f)) {
            return Err(ConfigError::Unsupported {
                flag: flag.to_string(),
                reason: reason.to_string(),
            });
        }
        let (client_tls, peer_tls) = parse_tls(&values)?;
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
            .keys()
            .filter(|k| !USED.contains(k))
            .map(|k| k.to_string())
            .collect();
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
            snapshot_count: parse_num(&values, "snapshot-count", 100_000)?,
            snapshot_catchup_entries: match get("snapshot-catchup-entries") {
                Some(_) => parse_num(&values, "snapshot-catchup-entries", 5000)?,
                None => parse_num(&values, "experimental-snapshot-catchup-entries", 5000)?,
            },
            strict_reconfig_check: parse_bool(&values, "strict-reconfig-check", true)?,
            max_learners: parse_num(&values, "max-learners", 1)? as usize,
            heartbeat_interval,
            election_timeout,
            pre_vote: parse_bool(&values, "pre-vote", false)?,
            quota_backend_bytes: parse_num(&values, "quota-backend-bytes", 0)?,
            max_request_bytes: parse_num(&values, "max-request-bytes", 1_572_864)? as usize,
            max_txn_ops: parse_num(&values, "max-txn-ops", 128)? as usize,
            max_concurrent_streams: match get("max-concurrent-streams").as_deref() {
                None | Some("math.MaxUint32") => u32::MAX,
                Some(_) => parse_num(&values, "max-concurrent-streams", u64::from(u32::MAX))?
                    .min(u64::from(u32::MAX)) as u32,
            },
            auto_compaction_mode: mode,
            auto_compaction_retention: get("auto-compaction-retention")
                .unwrap_or_else(|| "0".into()),
            log_level: if parse_bool(&values, "debug", false)? {
                "debug".into()
            } else {
                get("log-level").unwrap_or_else(|| "info".into())
            },
            cors: parse_cors(get("cors"))?,
            host_whitelist: list(get("host-whitelist")),
            logger: match get("logger").as_deref() {
                None | Some("capnslog") => Logger::Capnslog,
                Some("zap") => Logger::Zap,
                Some(other) => {
                    return Err(ConfigError::InvalidValue {
                        flag: "logger".into(),
                        value: other.into(),
                        reason: "unknown logger option (use \"zap\" or \"capnslog\")".into(),
                    })
                }
            },
            log_outputs: match list(get("log-outputs")) {
                outputs if outputs.is_empty() => vec!["default".into()],
                outputs => outputs,
            },
            compaction_batch_limit: match get("compaction-batch-limit") {
                Some(_) => parse_num(&values, "compaction-batch-limit", 1000)?,
                None => parse_num(&values, "experimental-compaction-batch-limit", 1000)?,
            }
            .max(1) as usize,
            lease_checkpoint: parse_bool(&values, "experimental-enable-lease-checkpoint", false)?,
            metrics_extensive: get("metrics").as_deref() == Some("extensive"),
            enable_grpc_gateway: parse_bool(&values, "enable-grpc-gateway", true)?,
            unsafe_no_fsync: parse_bool(&values, "unsafe-no-fsync", false)?,
            auth_token: get("auth-token").unwrap_or_else(|| "simple".into()),
            auth_token_ttl: Duration::from_secs(parse_num(&values, "auth-token-ttl", 300)?),
            bcrypt_cost: parse_bcrypt_cost(&values)?,
            watch_progress_notify_interval: parse_duration(
                &values,
                &[
                    "watch-progress-notify-interval",
                    "experimental-watch-progress-notify-interval",
                ],
                Duration::from_secs(600),
            )?,
            client_tls,
            peer_tls,
            peer_client_cert,
            auto_tls: parse_bool(&values, "auto-tls", false)?,
            peer_auto_tls: parse_bool(&values, "peer-auto-tls", false)?,
            self_signed_cert_validity: parse_num(&values, "self-signed-cert-validity", 1)?
                .clamp(1, 100) as u32,
            print_version: parse_bool(&values, "version", false)?,
            print_help: parse_bool(&values, "help", false)?,
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
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
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

fn parse_num(
    values: &BTreeMap<&'static str, String>,
    flag: &str,
    default: u64,
) -> Result<u64, ConfigError> {
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
    values: &BTreeMap<&'static str, String>,
    flags: &[&str],
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some((flag, value)) = flags.iter().find_map(|f| values.get(f).map(|v| (*f, v))) else {
        return Ok(default);
    };
    oxcd_auth::token::parse_go_duration(value.trim()).map_err(|reason| ConfigError::InvalidValue {
        flag: flag.into(),
        value: value.clone(),
        reason,
    })
}

fn parse_bcrypt_cost(values: &BTreeMap<&'static str, String>) -> Result<u32, ConfigError> {
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

fn parse_bool(
    values: &BTreeMap<&'static str, String>,
    flag: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match values.get(flag).map(|s| s.as_str()) {
        None => Ok(default),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(ConfigError::InvalidValue {
            flag: flag.into(),
            value: v.into(),
            reason: "parse error".into(),
        }),
    }
}

/// The client and peer TLS options of the flags (files are checked at start, not here).
fn parse_tls(
    values: &BTreeMap<&'static str, String>,
) -> Result<(oxcd_tls::TlsOptions, oxcd_tls::TlsOptions), ConfigError> {
    let path = |flag: &str| {
        values
            .get(flag)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let text = |flag: &str| values.get(flag).filter(|v| !v.is_empty()).cloned();
    let version = |flag: &str| {
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
        assert_eq!(c.log_level, "debug");
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
        assert!(parse(&["--logger=syslog"]).is_err());
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
                "--enable-pprof",
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
        assert_eq!(c.ignored, vec!["enable-pprof".to_string()]);
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
