//! [`ServerTls`] and [`ClientTls`]: rustls configurations built from [`TlsOptions`], with
//! every file read and checked once at start so bad configuration is refused before the
//! member serves. ALPN offers `h2` and `http/1.1` (gRPC and the gateway share a port).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::SupportedProtocolVersion;
use rustls_pki_types::CertificateDer;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::files;
use crate::options::{TlsError, TlsOptions, TlsVersion};
use crate::reload::ReloadingCert;
use crate::verify::{self, AllowedIdentity, ClientVerifier, ServerVerifier};

/// The accepting side's configuration, plus the per-connection checks.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    crl_file: Option<PathBuf>,
    check_san: bool,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("crl_file", &self.crl_file)
            .field("check_san", &self.check_san)
            .finish_non_exhaustive()
    }
}

/// The dialing side's configuration (the peer transport).
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

/// The ALPN protocols offered and accepted.
fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// Go's names of TLS 1.2 suites (as `--cipher-suites` takes them) that rustls lacks: CBC,
/// RC4, 3DES and static-RSA suites.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// The provider restricted to `--cipher-suites` and the protocol versions in range.
fn provider_for(
    opts: &TlsOptions,
) -> Result<(Arc<CryptoProvider>, Vec<&'static SupportedProtocolVersion>), TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !opts.cipher_suites.is_empty() {
        let mut chosen = Vec::new();
        for name in &opts.cipher_suites {
            // Go spells the ChaCha20 suites without the `_SHA256` IANA suffix.
            let iana = if name.ends_with("_CHACHA20_POLY1305") {
                format!("{name}_SHA256")
            } else {
                name.clone()
            };
            let found = provider
                .cipher_suites
                .iter()
                .find(|s| s.tls13().is_none() && format!("{:?}", s.suite()) == iana);
            match found {
                Some(s) => chosen.push(*s),
                None if GO_ONLY_SUITES.contains(&name.as_str()) => {
                    return Err(TlsError::Config(format!(
                        "TLS cipher suite {name:?} is not supported by oxcd (rustls has no CBC, RC4, 3DES or static-RSA suites)"
                    )))
                }
                None => {
                    return Err(TlsError::Config(format!(
                        "unexpected TLS cipher suite {name:?}"
                    )))
                }
            }
        }
        // TLS 1.3 suites are not configurable (as in Go); keep them first.
        let mut suites: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_some())
            .copied()
            .collect();
        suites.extend(chosen);
        provider.cipher_suites = suites;
    }
    let min = opts.min_version.unwrap_or(TlsVersion::Tls12);
    let max = opts.max_version.unwrap_or(TlsVersion::Tls13);
    if min > max {
        return Err(TlsError::Config(format!(
            "min version ({min:?}) is greater than max version ({max:?})"
        )));
    }
    if !opts.cipher_suites.is_empty() && min == TlsVersion::Tls13 {
        return Err(TlsError::Config(
            "cipher suites cannot be configured when only TLS1.3 is enabled".into(),
        ));
    }
    let mut versions = Vec::new();
    if min <= TlsVersion::Tls12 && max >= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    Ok((Arc::new(provider), versions))
}

/// The certificate files of `opts`, both or neither (etcd's `baseConfig` check).
fn cert_and_key(opts: &TlsOptions) -> Result<Option<(PathBuf, PathBuf)>, TlsError> {
    match (&opts.cert_file, &opts.key_file) {
        (Some(c), Some(k)) => Ok(Some((c.clone(), k.clone()))),
        (None, None) => Ok(None),
        (c, k) => Err(TlsError::Config(format!(
            "KeyFile and CertFile must both be present[key: {}, cert: {}]",
            k.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            c.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))),
    }
}

impl ServerTls {
    /// The listener configuration of `opts`. As in etcd, a trusted CA file (or
    /// client-cert-auth) makes client certificates required and verified.
    pub fn new(opts: &TlsOptions) -> Result<Self, TlsError> {
        let (cert, key) = cert_and_key(opts)?
            .ok_or_else(|| TlsError::Config("KeyFile and CertFile are not presented".into()))?;
        let (provider, versions) = provider_for(opts)?;
        let resolver = ReloadingCert::load(&cert, &key, provider.clone())?;
        let allowed = AllowedIdentity::from_options(opts)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let builder = if opts.client_cert_auth || opts.trusted_ca_file.is_some() {
            let ca = opts.trusted_ca_file.as_ref().ok_or_else(|| {
                TlsError::Config(
                    "client certificate authentication needs a trusted CA file (oxcd does not read the system trust store)".into(),
                )
            })?;
            let roots = files::ca_bundle(ca)?;
            let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(Arc::new(ClientVerifier { inner, allowed }))
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = alpn();
        if let Some(crl) = &opts.crl_file {
            verify::revoked(&files::crls(crl)?, &[])
                .map_err(|e| TlsError::Content(format!("{}: {e}", crl.display())))?;
        }
        Ok(Self {
            config: Arc::new(config),
            crl_file: opts.crl_file.clone(),
            check_san: !opts.skip_client_san_verify,
        })
    }

    /// An acceptor for one handshake.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }

    /// The checks etcd makes after a handshake: the CRL (reread now) and the client
    /// certificate's SANs against `remote`.
    pub async fn check_connection(
        &self,
        chain: &[CertificateDer<'_>],
        remote: SocketAddr,
    ) -> Result<(), String> {
        if chain.is_empty() {
            return Ok(());
        }
        if let Some(crl) = &self.crl_file {
            let crls = files::crls(crl).map_err(|e| e.to_string())?;
            if let Some(why) = verify::revoked(&crls, chain)? {
                return Err(why);
            }
        }
        if self.check_san {
            verify::check_client_san(&chain[0], remote).await?;
        }
        Ok(())
    }
}

impl ClientTls {
    /// The dialer configuration of `opts`: the server is verified against the trusted CA
    /// (or not at all for a self-signed side), and the side's certificate is offered as the
    /// client certificate, reread when it changes.
    pub fn new(opts: &TlsOptions) -> Result<Self, TlsError> {
        let (provider, versions) = provider_for(opts)?;
        let allowed = AllowedIdentity::from_options(opts)?;
        let inner: Option<Arc<dyn rustls::client::danger::ServerCertVerifier>> = if opts.self_signed
        {
            None
        } else {
            let ca = opts.trusted_ca_file.as_ref().ok_or_else(|| {
                    TlsError::Config(
                        "TLS to peers needs a trusted CA file (--peer-trusted-ca-file; oxcd does not read the system trust store)".into(),
                    )
                })?;
            let roots = files::ca_bundle(ca)?;
            Some(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| TlsError::Config(format!("server certificate verifier: {e}")))?,
            )
        };
        let verifier = ServerVerifier {
            inner,
            allowed,
            provider: provider.clone(),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match cert_and_key(opts)? {
            Some((cert, key)) => builder
                .with_client_cert_resolver(Arc::new(ReloadingCert::load(&cert, &key, provider)?)),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// A connector for one handshake.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.config.clone())
    }
}
