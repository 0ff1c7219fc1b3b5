//! [`TlsOptions`]: the TLS settings of one side (client or peer), as etcd's `TLSInfo`, and
//! [`TlsError`], every reason a configuration is refused.

use std::path::PathBuf;

/// A protocol version for `--tls-min-version` / `--tls-max-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (etcd's default minimum).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// Parses etcd's spelling (`TLS1.2`, `TLS1.3`). TLS 1.0 and 1.1, which etcd accepts,
    /// are refused: rustls does not implement them.
    pub fn parse(flag: &str, s: &str) -> Result<Option<TlsVersion>, TlsError> {
        match s {
            "" => Ok(None),
            "TLS1.2" => Ok(Some(TlsVersion::Tls12)),
            "TLS1.3" => Ok(Some(TlsVersion::Tls13)),
            "TLS1.0" | "TLS1.1" => Err(TlsError::Config(format!(
                "--{flag} {s} is not supported by oxcd (rustls implements TLS1.2 and TLS1.3 only)"
            ))),
            other => Err(TlsError::Config(format!(
                "unexpected TLS version {other:?} for --{flag} (supported: TLS1.2, TLS1.3)"
            ))),
        }
    }
}

/// One side's TLS settings. Empty (`cert_file` unset) means no TLS on that side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `--cert-file` / `--peer-cert-file`.
    pub cert_file: Option<PathBuf>,
    /// `--key-file` / `--peer-key-file`.
    pub key_file: Option<PathBuf>,
    /// `--trusted-ca-file` / `--peer-trusted-ca-file`. As in etcd, giving it makes the
    /// listener require and verify client certificates.
    pub trusted_ca_file: Option<PathBuf>,
    /// `--client-cert-auth` / `--peer-client-cert-auth`.
    pub client_cert_auth: bool,
    /// `--client-crl-file` / `--peer-crl-file`: reread at every connection, as etcd does.
    pub crl_file: Option<PathBuf>,
    /// `--peer-cert-allowed-cn`: the CN the other side's certificate must carry.
    pub allowed_cn: Option<String>,
    /// `--client-cert-allowed-hostname` / `--peer-cert-allowed-hostname`: a name (or IP)
    /// the other side's certificate must be valid for.
    pub allowed_hostname: Option<String>,
    /// `--cipher-suites`, Go's names; empty means rustls's defaults. They restrict TLS 1.2
    /// only, as in Go (TLS 1.3 suites are not configurable).
    pub cipher_suites: Vec<String>,
    /// `--tls-min-version` (default TLS 1.2).
    pub min_version: Option<TlsVersion>,
    /// `--tls-max-version` (default: the highest, TLS 1.3).
    pub max_version: Option<TlsVersion>,
    /// The certificate is self-signed (`--auto-tls`): a dialer on this side does not verify
    /// the other side's chain, as etcd's `InsecureSkipVerify` for self-signed peers.
    pub self_signed: bool,
    /// Do not check the client certificate's SANs against its remote address
    /// (`--experimental-peer-skip-client-san-verification`).
    pub skip_client_san_verify: bool,
}

impl TlsOptions {
    /// No certificate configured (etcd's `TLSInfo.Empty()`).
    pub fn is_empty(&self) -> bool {
        self.cert_file.is_none() && self.key_file.is_none()
    }
}

/// Why a TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read (Go's `open <path>: <reason>`).
    #[error("open {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// The OS error, as Go words it.
        reason: String,
    },
    /// A file was read but its content is unusable.
    #[error("{0}")]
    Content(String),
    /// Contradictory or unsupported settings.
    #[error("{0}")]
    Config(String),
    /// rustls refused the configuration.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    /// A self-signed certificate could not be made.
    #[error("cannot generate a self-signed certificate: {0}")]
    SelfCert(String),
}
