//! The checks etcd adds to chain verification:
//! - [`AllowedIdentity`]: `--peer-cert-allowed-cn` / `--*-cert-allowed-hostname`, applied to
//!   the other side's certificate in both directions (as etcd's `VerifyPeerCertificate`);
//! - [`ClientVerifier`] / [`ServerVerifier`]: rustls verifiers with that check on top (the
//!   server one can skip the chain for self-signed peers, etcd's `InsecureSkipVerify`);
//! - [`revoked`]: a CRL file's serials against the client's chain (reread per connection);
//! - [`check_client_san`]: a client certificate's IP / DNS SANs against its remote address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::options::{TlsError, TlsOptions};

/// etcd's text when the identity check fails.
const AUTH_FAILED: &str = "client certificate authentication failed";

/// The identity the other side's certificate must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedIdentity {
    /// Exactly this Common Name.
    Cn(String),
    /// Valid for this host name or IP (SANs, as Go's `VerifyHostname`).
    Hostname(String),
}

impl AllowedIdentity {
    /// The identity `opts` asks for, refusing both at once as etcd does.
    pub fn from_options(opts: &TlsOptions) -> Result<Option<Self>, TlsError> {
        match (&opts.allowed_cn, &opts.allowed_hostname) {
            (Some(cn), Some(h)) => Err(TlsError::Config(format!(
                "AllowedCN and AllowedHostname are mutually exclusive (cn={cn:?}, hostname={h:?})"
            ))),
            (Some(cn), None) => Ok(Some(AllowedIdentity::Cn(cn.clone()))),
            (None, Some(h)) => Ok(Some(AllowedIdentity::Hostname(h.clone()))),
            (None, None) => Ok(None),
        }
    }

    /// Whether the certificate `der` has this identity.
    pub fn permits(&self, der: &CertificateDer<'_>) -> bool {
        match self {
            AllowedIdentity::Cn(cn) => common_name(der).as_deref() == Some(cn.as_str()),
            AllowedIdentity::Hostname(host) => {
                let (Ok(parsed), Ok(name)) = (
                    rustls::server::ParsedCertificate::try_from(der),
                    ServerName::try_from(host.as_str()),
                ) else {
                    return false;
                };
                rustls::client::verify_server_name(&parsed, &name).is_ok()
            }
        }
    }

    fn check(&self, der: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if self.permits(der) {
            Ok(())
        } else {
            tracing::warn!(allowed = ?self, cn = ?common_name(der), "{AUTH_FAILED}");
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

/// The subject Common Name of a certificate, if it has one.
pub fn common_name(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// Verifies client certificates: the chain (webpki), then the allowed identity.
#[derive(Debug)]
pub struct ClientVerifier {
    /// The chain verifier.
    pub inner: Arc<dyn ClientCertVerifier>,
    /// The identity the leaf must have, if any.
    pub allowed: Option<AllowedIdentity>,
}

impl ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if let Some(a) = &self.allowed {
            a.check(end_entity)?;
        }
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Verifies server certificates: the chain and name (webpki) unless the peer is
/// self-signed, then the allowed identity. Handshake signatures are always checked.
#[derive(Debug)]
pub struct ServerVerifier {
    /// The chain verifier; `None` skips chain and name checks (self-signed peers).
    pub inner: Option<Arc<dyn ServerCertVerifier>>,
    /// The identity the leaf must have, if any.
    pub allowed: Option<AllowedIdentity>,
    /// For signature checks when `inner` is `None`.
    pub provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        if let Some(a) = &self.allowed {
            a.check(end_entity)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Serials as compared: big-endian bytes without leading zeros.
fn serial_key(raw: &[u8]) -> &[u8] {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    &raw[start..]
}

/// The first certificate of `chain` whose serial a revocation list in `crls` lists, as
/// etcd's `checkCRL` (serials only, any issuer).
pub fn revoked(
    crls: &[rustls_pki_types::CertificateRevocationListDer<'_>],
    chain: &[CertificateDer<'_>],
) -> Result<Option<String>, String> {
    let mut serials = Vec::new();
    for crl in crls {
        let (_, list) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(crl.as_ref())
                .map_err(|e| format!("cannot parse CRL: {e}"))?;
        for r in list.iter_revoked_certificates() {
            serials.push(serial_key(r.raw_serial()).to_vec());
        }
    }
    for cert in chain {
        let (_, c) = X509Certificate::from_der(cert.as_ref())
            .map_err(|e| format!("cannot parse certificate: {e}"))?;
        let s = serial_key(c.raw_serial());
        if serials.iter().any(|r| r.as_slice() == s) {
            let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
            return Ok(Some(format!("transport: certificate serial {hex} revoked")));
        }
    }
    Ok(None)
}

/// etcd's `checkCertSAN`: a client certificate with IP or DNS SANs must name the address
/// it connects from (DNS names are resolved).
pub async fn check_client_san(leaf: &CertificateDer<'_>, remote: SocketAddr) -> Result<(), String> {
    let (ips, dns) = {
        let (_, cert) = X509Certificate::from_der(leaf.as_ref())
            .map_err(|e| format!("cannot parse client certificate: {e}"))?;
        let mut ips = Vec::new();
        let mut dns = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::IPAddress(b) => match b.len() {
                        4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())),
                        16 => ips.push(IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())),
                        _ => {}
                    },
                    GeneralName::DNSName(d) => dns.push(d.to_string()),
                    _ => {}
                }
            }
        }
        (ips, dns)
    };
    if ips.is_empty() && dns.is_empty() {
        return Ok(());
    }
    let host = remote.ip().to_canonical();
    if ips.iter().any(|ip| ip.to_canonical() == host) {
        return Ok(());
    }
    if dns.is_empty() {
        return Err(format!(
            "x509: certificate is valid for {ips:?}, not {host}"
        ));
    }
    for name in dns.iter().filter(|d| !d.starts_with("*.")) {
        let lookup = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((name.as_str(), 0)),
        )
        .await;
        if let Ok(Ok(addrs)) = lookup {
            if addrs.into_iter().any(|a| a.ip().to_canonical() == host) {
                return Ok(());
            }
        }
    }
    Err(format!(
        "tls: {:?} does not match any of DNSNames {dns:?}",
        host.to_string()
    ))
}
