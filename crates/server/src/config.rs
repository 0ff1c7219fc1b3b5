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
    /// Refused at start, with the reason: accepting it would silently change nothing.
    Refused(&'static str),
    /// Accepted so that existing manifests start, logged as not used by oxcd.
    Ignored,
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

    fn contains_key(&self, name: &str) -> bool {
        self.given.contains_key(name)
    }
}

/// Every flag etcd 3.4.23 and 3.6.0 accept: name, whether it is boolean, and what oxcd does
/// with it. THE ONE TABLE: parsing, the environment variables, `--help` and the start-up
/// warning all read it, and a test checks that [`Config::parse`] reads exactly the flags
/// marked [`Role::Used`].
const FLAGS: &[(&str, Kind, Role)] = {
    use Kind::{Bool as B, Value as V};
    use Role::{Ignored as I, Used as U};
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
        ("initial-election-tick-advance", B, I),
        ("listen-peer-urls", V, U),
        ("listen-client-urls", V, U),
        ("listen-client-http-urls", V, I),
        ("max-snapshots", V, I),
        ("max-wals", V, I),
        ("memory-mlock", B, I),
        ("quota-backend-bytes", V, U),
        ("backend-bbolt-freelist-type", V, I),
        ("backend-batch-interval", V, I),
        ("backend-batch-limit", V, I),
        ("max-txn-ops", V, U),
        ("max-request-bytes", V, U),
        ("max-concurrent-streams", V, U),
        ("grpc-keepalive-min-time", V, I),
        ("grpc-keepalive-interval", V, I),
        ("grpc-keepalive-timeout", V, I),
        ("socket-reuse-port", B, I),
        ("socket-reuse-address", B, I),
        ("enable-grpc-gateway", B, U),
        ("raft-read-timeout", V, I),
        ("raft-write-timeout", V, I),
        ("feature-gates", V, I),
        ("initial-advertise-peer-urls", V, U),
        ("initial-cluster", V, U),
        ("initial-cluster-state", V, U),
        ("initial-cluster-token", V, U),
        ("advertise-client-urls", V, U),
        ("discovery", V, I),
        ("discovery-token", V, I),
        ("discovery-endpoints", V, I),
        ("discovery-dial-timeout", V, I),
        ("discovery-request-timeout", V, I),
        ("discovery-keepalive-time", V, I),
        ("discovery-keepalive-timeout", V, I),
        ("discovery-insecure-transport", B, I),
        ("discovery-insecure-skip-tls-verify", B, I),
        ("discovery-cert", V, I),
        ("discovery-key", V, I),
        ("discovery-cacert", V, I),
        ("discovery-user", V, I),
        ("discovery-password", V, I),
        ("discovery-fallback", V, I),
        ("discovery-proxy", V, I),
        ("discovery-srv", V, I),
        ("discovery-srv-name", V, I),
        ("strict-reconfig-check", B, U),
        ("pre-vote", B, U),
        ("auto-compaction-retention", V, U),
        ("auto-compaction-mode", V, U),
        ("v2-deprecation", V, I),
        ("enable-v2", B, I),
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
        ("enable-pprof", B, I),
        ("metrics", V, U),
        ("listen-metrics-urls", V, U),
        ("logger", V, U),
        ("log-outputs", V, U),
        ("log-level", V, U),
        ("log-format", V, I),
        ("enable-log-rotation", B, I),
        ("log-rotation-config-json", V, I),
        ("warning-unary-request-duration", V, I),
        ("experimental-enable-distributed-tracing", B, I),
        ("enable-distributed-tracing", B, I),
        ("experimental-distributed-tracing-address", V, I),
        ("distributed-tracing-address", V, I),
        ("experimental-distributed-tracing-service-name", V, I),
        ("distributed-tracing-service-name", V, I),
        ("experimental-distributed-tracing-instance-id", V, I),
        ("distributed-tracing-instance-id", V, I),
        ("experimental-distributed-tracing-sampling-rate", V, I),
        ("distributed-tracing-sampling-rate", V, I),
        ("experimental-initial-corrupt-check", B, I),
        ("experimental-corrupt-check-time", V, I),
        ("corrupt-check-time", V, I),
        ("experimental-compact-hash-check-enabled", B, I),
        ("experimental-compact-hash-check-time", V, I),
        ("compact-hash-check-time", V, I),
        ("experimental-enable-lease-checkpoint", B, U),
        ("experimental-compaction-batch-limit", V, U),
        ("compaction-batch-limit", V, U),
        ("experimental-peer-skip-client-san-verification", B, U),
        ("peer-skip-client-san-verification", B, U),
        ("experimental-watch-progress-notify-interval", V, U),
        ("watch-progress-notify-interval", V, U),
        ("experimental-warning-apply-duration", V, U),
        ("warning-apply-duration", V, U),
        ("experimental-txn-mode-write-with-shared-buffer", B, I),
        ("experimental-bootstrap-defrag-threshold-megabytes", V, I),
        ("bootstrap-defrag-threshold-megabytes", V, I),
        ("experimental-warning-unary-request-duration", V, I),
        ("max-learners", V, U),
        ("experimental-snapshot-catch-up-entries", V, I),
        ("experimental-compaction-sleep-interval", V, I),
        ("compaction-sleep-interval", V, I),
        ("experimental-downgrade-check-time", V, I),
        ("downgrade-check-time", V, I),
        ("experimental-enable-lease-checkpoint-persist", B, I),
        ("experimental-memory-mlock", B, I),
        ("experimental-snapshot-catchup-entries", V, U),
        ("snapshot-catchup-entries", V, U),
        ("experimental-stop-grpc-service-on-defrag", B, I),
        ("force-new-cluster", B, I),
        ("unsafe-no-fsync", B, U),
        ("proxy", V, I),
        ("proxy-failure-wait", V, I),
        ("proxy-refresh-interval", V, I),
        ("proxy-dial-timeout", V, I),
        ("proxy-write-timeout", V, I),
        ("proxy-read-timeout", V, I),
        ("experimental-enable-v2v3", V, I),
        ("experimental-backend-bbolt-freelist-type", V, I),
        ("debug", B, U),
        ("log-package-levels", V, I),
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
    /// `--config-file`: the YAML file the settings came from (the command line and the
    /// environment were then ignored, as etcd does).
    pub config_file: Option<PathBuf>,
    /// `--warning-apply-duration` (3.4: `--experimental-warning-apply-duration`): requests
    /// slower than this are logged and counted (`etcd_server_slow_apply_total`).
    pub warning_apply_duration: Duration,
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
        let refused = FLAGS.iter().find_map(|(f, _, role)| match role {
            Role::Refused(reason) if values.contains_key(f) => Some((f, reason)),
            _ => None,
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
            .filter(|k| role_of(k) == Some(Role::Ignored))
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
            snapshot_count: parse_num(values, "snapshot-count", 100_000)?,
            snapshot_catchup_entries: match get("snapshot-catchup-entries") {
                Some(_) => parse_num(values, "snapshot-catchup-entries", 5000)?,
                None => parse_num(values, "experimental-snapshot-catchup-entries", 5000)?,
            },
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
            log_level: if parse_bool(values, "debug", false)? {
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

fn parse_bool(values: &Values, flag: &'static str, default: bool) -> Result<bool, ConfigError> {
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
            Role::Ignored => ignored.push(format!("  --{name}")),
        }
    }
    format!(
        "usage: oxcd [flags]\n\nTakes etcd's flags, as `--flag value`, `--flag=value` or the \
         ETCD_<FLAG> environment variable\n(see `etcd --help` for each flag's meaning and \
         default).\n\nHonoured as etcd honours them:\n{}\n\nRefused (the server does not \
         start):\n{}\n\nAccepted so that existing manifests start, but without effect in \
         oxcd (a warning is logged):\n{}\n",
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
