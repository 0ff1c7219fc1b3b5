//! Reading PEM files: certificate chains, private keys, CA bundles and CRLs, with the error
//! texts of Go's `tls.X509KeyPair` and `os.Open` that etcd prints.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::options::TlsError;

/// Reads a whole file, with Go's wording of the common failures.
pub fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Open {
        path: path.display().to_string(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        },
    })
}

/// The certificates of a PEM file, in order (leaf first for a chain).
pub fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Content(format!("{}: bad PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(TlsError::Content(format!(
            "tls: failed to find any PEM data in {what} input ({})",
            path.display()
        )));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        TlsError::Content(format!(
            "tls: failed to find any PEM data in key input ({})",
            path.display()
        ))
    })
}

/// The CA certificates of a trusted-CA file; a file that holds none is refused (etcd
/// would start and then reject every peer).
pub fn ca_bundle(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let bytes = read(path)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert =
            cert.map_err(|e| TlsError::Content(format!("{}: bad PEM: {e}", path.display())))?;
        roots.add(cert).map_err(|e| {
            TlsError::Content(format!(
                "x509: cannot use a certificate of {} as a CA: {e}",
                path.display()
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::Content(format!(
            "trusted CA file {} holds no certificate",
            path.display()
        )));
    }
    Ok(roots)
}

/// The DER revocation lists of a CRL file, PEM or DER (Go's `x509.ParseCRL` takes both).
pub fn crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let pem: Vec<_> = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .filter_map(Result::ok)
        .collect();
    if pem.is_empty() {
        Ok(vec![CertificateRevocationListDer::from(bytes)])
    } else {
        Ok(pem)
    }
}
