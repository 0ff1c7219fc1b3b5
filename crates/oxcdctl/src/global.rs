//! etcdctl's global flags (and their `ETCDCTL_*` environment variables), and what they
//! make: the [`Printer`] of `-w`/`--hex` and a connected [`Client`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args};
use oxcd_client::{Client, ClientTls, ConnectOptions, FailedAttempt};
use oxcd_tls::TlsOptions;

use crate::error::{exit, grpc_text, CtlError};
use crate::gotext::{json_string, parse_duration, zap_timestamp};
use crate::print::{eprintln, Format, Printer};

/// The flags every command takes (`etcdctl --help`'s GLOBAL OPTIONS).
#[derive(Debug, Clone, Args)]
pub struct GlobalFlags {
    /// gRPC endpoints
    #[arg(
        long,
        global = true,
        env = "ETCDCTL_ENDPOINTS",
        value_delimiter = ',',
        default_value = "127.0.0.1:2379"
    )]
    pub endpoints: Vec<String>,
    /// enable client-side debug logging
    #[arg(long, global = true, env = "ETCDCTL_DEBUG", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false")]
    pub debug: bool,
    /// set the output format (fields, json, protobuf, simple, table)
    #[arg(
        short = 'w',
        long = "write-out",
        global = true,
        env = "ETCDCTL_WRITE_OUT",
        default_value = "simple"
    )]
    pub write_out: String,
    /// print byte strings as hex encoded strings
    #[arg(long, global = true, env = "ETCDCTL_HEX", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false")]
    pub hex: bool,
    /// dial timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_DIAL_TIMEOUT", default_value = "2s",
          value_parser = parse_duration)]
    pub dial_timeout: Duration,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long, global = true, env = "ETCDCTL_COMMAND_TIMEOUT", default_value = "5s",
          value_parser = parse_duration)]
    pub command_timeout: Duration,
    /// keepalive time for client connections
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIME", default_value = "2s",
          value_parser = parse_duration)]
    pub keepalive_time: Duration,
    /// keepalive timeout for client connections
    #[arg(long, global = true, env = "ETCDCTL_KEEPALIVE_TIMEOUT", default_value = "6s",
          value_parser = parse_duration)]
    pub keepalive_timeout: Duration,
    /// disable transport security for client connections
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_TRANSPORT", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "true")]
    pub insecure_transport: bool,
    /// accept insecure SRV records describing cluster endpoints
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_DISCOVERY", action = ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "true")]
    pub insecure_discovery: bool,
    /// skip server certificate verification (CAUTION: this option should be enabled only
    /// for testing purposes)
    #[arg(long, global = true, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
          action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false")]
    pub insecure_skip_tls_verify: bool,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true, env = "ETCDCTL_CERT")]
    pub cert: Option<String>,
    /// identify secure client using this TLS key file
    #[arg(long, global = true, env = "ETCDCTL_KEY")]
    pub key: Option<String>,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true, env = "ETCDCTL_CACERT")]
    pub cacert: Option<String>,
    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, env = "ETCDCTL_USER")]
    pub user: Option<String>,
    /// password for authentication (if this option is used, --user option shouldn't include
    /// password)
    #[arg(long, global = true, env = "ETCDCTL_PASSWORD")]
    pub password: Option<String>,
    /// domain name to query for SRV records describing cluster endpoints (not supported)
    #[arg(short = 'd', long, global = true, env = "ETCDCTL_DISCOVERY_SRV")]
    pub discovery_srv: Option<String>,
    /// service name to query when using DNS discovery (not supported)
    #[arg(long, global = true, env = "ETCDCTL_DISCOVERY_SRV_NAME")]
    pub discovery_srv_name: Option<String>,
    /// Whether `--command-timeout` (or its variable) was given: `snapshot save` is
    /// bounded by it only then, as in etcdctl.
    #[arg(skip)]
    pub command_timeout_set: bool,
}

/// The `ETCDCTL_*` variables of `watch` that are not flags (etcdctl does not warn about
/// them for `watch`, and does for other commands).
const WATCH_ENV: &[&str] = &["ETCDCTL_WATCH_KEY", "ETCDCTL_WATCH_RANGE_END"];

/// The global flag names, as `ETCDCTL_<NAME>` spells them.
const FLAG_NAMES: &[&str] = &[
    "endpoints",
    "debug",
    "write-out",
    "hex",
    "dial-timeout",
    "command-timeout",
    "keepalive-time",
    "keepalive-timeout",
    "insecure-transport",
    "insecure-discovery",
    "insecure-skip-tls-verify",
    "cert",
    "key",
    "cacert",
    "user",
    "password",
    "discovery-srv",
    "discovery-srv-name",
];

/// `ETCDCTL_<NAME>` of a flag name.
fn env_name(flag: &str) -> String {
    format!("ETCDCTL_{}", flag.to_uppercase().replace('-', "_"))
}

/// A capnslog line as etcdctl's pkg/flags prints it (`<date> <time> <L> | <text>`).
fn capnslog(level: char, text: &str) -> String {
    let ts = zap_timestamp();
    let (date, time) = ts.split_once('T').unwrap_or((&ts, ""));
    format!("{date} {}000 {level} | {text}", time.trim_end_matches('Z'))
}

/// etcdctl's checks of the environment: a variable shadowed by its flag is fatal, an
/// unknown `ETCDCTL_*` variable is warned about (never `ETCDCTL_API`, which etcdctl's
/// main reads). `matches` are the root's.
pub fn check_env(matches: &ArgMatches) -> Result<(), CtlError> {
    let watch = matches.subcommand_name() == Some("watch");
    let id = |flag: &str| flag.replace('-', "_");
    for flag in FLAG_NAMES {
        let var = env_name(flag);
        let from_cli = matches.value_source(&id(flag)) == Some(ValueSource::CommandLine);
        if from_cli && std::env::var_os(&var).is_some_and(|v| !v.is_empty()) {
            eprintln(&capnslog(
                'C',
                &format!(
                    "pkg/flags: conflicting environment variable {} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)",
                    crate::gotext::quote(var.as_bytes())
                ),
            ));
            return Err(CtlError::silent(exit::ERROR));
        }
    }
    let known: Vec<String> = FLAG_NAMES.iter().map(|f| env_name(f)).collect();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        let exempt = k == "ETCDCTL_API" || (watch && WATCH_ENV.contains(&k));
        if k.starts_with("ETCDCTL_") && !known.iter().any(|n| n == k) && !exempt {
            eprintln(&capnslog(
                'W',
                &format!(
                    "pkg/flags: unrecognized environment variable {k}={}",
                    v.to_string_lossy()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the flag with id `id` was given, on the command line or by its variable (cobra's
/// `Changed`: pkg/flags sets a flag from its variable).
pub fn was_set(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

impl GlobalFlags {
    /// The printer of `-w` and `--hex` (etcdctl: "unsupported output format", exit 4).
    pub fn printer(&self) -> Result<Printer, CtlError> {
        let format = Format::parse(&self.write_out)
            .ok_or_else(|| CtlError::new(exit::BAD_FEATURE, "unsupported output format"))?;
        Ok(Printer {
            format,
            hex: self.hex,
            value_only: false,
        })
    }

    /// The TLS configuration of `--cacert`/`--cert`/`--key`/`--insecure-skip-tls-verify`
    /// (`None` for plain connections).
    pub fn tls(&self) -> Result<Option<ClientTls>, CtlError> {
        for (name, v) in [
            ("cert", &self.cert),
            ("key", &self.key),
            ("cacert", &self.cacert),
        ] {
            if v.as_deref() == Some("") {
                return Err(CtlError::bad_args(format!(
                    "empty string is passed to --{name} option"
                )));
            }
        }
        let wants_tls = self.cert.is_some()
            || self.key.is_some()
            || self.cacert.is_some()
            || !self.insecure_transport
            || self
                .endpoints
                .iter()
                .any(|e| e.trim().starts_with("https://"));
        if !wants_tls {
            return Ok(None);
        }
        if self.cacert.is_none() && !self.insecure_skip_tls_verify {
            return Err(CtlError::bad_args(
                "TLS needs --cacert (oxcdctl does not read the system trust store) or --insecure-skip-tls-verify",
            ));
        }
        let opts = TlsOptions {
            trusted_ca_file: self.cacert.as_ref().map(PathBuf::from),
            cert_file: self.cert.as_ref().map(PathBuf::from),
            key_file: self.key.as_ref().map(PathBuf::from),
            self_signed: self.insecure_skip_tls_verify,
            ..TlsOptions::default()
        };
        ClientTls::new(&opts)
            .map(Some)
            .map_err(|e| CtlError::bad_args(e.to_string()))
    }

    /// `--user` and `--password`: `name:password`, or `name` with `--password`. (etcdctl
    /// prompts for a missing password; oxcdctl asks for it on the command line.)
    fn user(&self) -> Result<Option<(String, String)>, CtlError> {
        let Some(user) = self.user.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        match self.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Ok(Some((user.to_string(), p.to_string()))),
            None => match user.split_once(':') {
                Some((u, p)) => Ok(Some((u.to_string(), p.to_string()))),
                None => Err(CtlError::bad_args(
                    "no password given: use --user=name:password or --password (oxcdctl does not prompt)",
                )),
            },
        }
    }

    /// The trimmed endpoints.
    pub fn endpoint_list(&self) -> Vec<String> {
        self.endpoints
            .iter()
            .map(|e| e.trim().to_string())
            .collect()
    }

    /// The connect options for `endpoints`, with the "retrying of unary invoker failed"
    /// warning etcdctl's clientv3 logs for each failed attempt.
    pub fn connect_options(&self, endpoints: &[String]) -> Result<ConnectOptions, CtlError> {
        if self.discovery_srv.as_deref().is_some_and(|d| !d.is_empty()) {
            return Err(CtlError::bad_args(
                "DNS discovery (--discovery-srv) is not supported by oxcdctl; give --endpoints",
            ));
        }
        let target = format!(
            "endpoint://client-{}/{}",
            random_uuid(),
            endpoints
                .first()
                .map(|e| e
                    .trim_start_matches("http://")
                    .trim_start_matches("https://"))
                .unwrap_or("")
        );
        let observer = Arc::new(move |a: &FailedAttempt<'_>| {
            eprintln(&format!(
                "{{\"level\":\"warn\",\"ts\":\"{}\",\"caller\":\"clientv3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":{},\"attempt\":{},\"error\":{}}}",
                zap_timestamp(),
                json_string(target.as_bytes()),
                a.attempt,
                json_string(grpc_text(a.status).as_bytes())
            ));
        });
        Ok(ConnectOptions {
            user: self.user()?,
            tls: self.tls()?,
            connect_timeout: self.dial_timeout,
            request_timeout: self.command_timeout,
            attempt_observer: Some(observer),
            wait_for_ready: true,
        })
    }

    /// A client of `--endpoints` (etcdctl's mustClientFromCmd: failures exit 2).
    pub async fn client(&self) -> Result<Client, CtlError> {
        self.client_of(&self.endpoint_list()).await
    }

    /// A client of `client`'s endpoints that logs no failed attempt (for requests
    /// etcdctl does not make, whose failures must not show); `None` if it cannot be made.
    pub async fn quiet_client(&self, client: &Client) -> Option<Client> {
        let mut options = self.connect_options(client.endpoints()).ok()?;
        options.attempt_observer = None;
        Client::connect(client.endpoints(), options).await.ok()
    }

    /// A client of `endpoints` with these flags.
    pub async fn client_of(&self, endpoints: &[String]) -> Result<Client, CtlError> {
        let options = self.connect_options(endpoints)?;
        Client::connect(endpoints, options)
            .await
            .map_err(|e| CtlError::client(exit::BAD_CONNECTION, &e))
    }
}

/// A random version-4 UUID's text (for the clientv3-style target name of the warnings).
fn random_uuid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:x}{:02x}-{:x}{:x}{:02x}-{}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0x0f,
        b[7],
        8 | (b[8] & 0x03),
        b[8] >> 4,
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}
