//! `--auto-tls` / `--peer-auto-tls`: a self-signed certificate for the listen hosts,
//! generated with rcgen into `<data-dir>/fixtures/{client,peer}` (reused when both files are
//! already there), as etcd's `SelfCert`: ECDSA P-256, organisation `etcd`, server (and for
//! peers client) authentication, valid `--self-signed-cert-validity` years.

use std::path::Path;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::options::{TlsError, TlsOptions};

/// Makes (or reuses) the self-signed pair in `dir` for `hosts` (`host:port` or `host`) and
/// returns options naming it.
pub fn self_cert(
    dir: &Path,
    hosts: &[String],
    validity_years: u32,
    client_auth_too: bool,
) -> Result<TlsOptions, TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let opts = TlsOptions {
        cert_file: Some(cert_path.clone()),
        key_file: Some(key_path.clone()),
        self_signed: true,
        ..TlsOptions::default()
    };
    if cert_path.is_file() && key_path.is_file() {
        return Ok(opts);
    }
    let err = |e: &dyn std::fmt::Display| TlsError::SelfCert(e.to_string());
    std::fs::create_dir_all(dir).map_err(|e| err(&format!("create {}: {e}", dir.display())))?;
    let key = KeyPair::generate().map_err(|e| err(&e))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "etcd");
    params.distinguished_name = dn;
    for h in hosts {
        let host = host_of(h);
        let san = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into().map_err(|e| err(&e))?),
        };
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now + time::Duration::days(365 * i64::from(validity_years.max(1)));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if client_auth_too {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    let cert = params.self_signed(&key).map_err(|e| err(&e))?;
    write_private(&key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, cert.pem())
        .map_err(|e| err(&format!("write {}: {e}", cert_path.display())))?;
    tracing::info!(cert_file = %cert_path.display(), "generated a self-signed certificate");
    Ok(opts)
}

/// `host` of `host:port`, `[v6]:port` or a bare host.
fn host_of(hostport: &str) -> String {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h.to_string(),
        _ => hostport.to_string(),
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| TlsError::SelfCert(format!("write {}: {e}", path.display())))?;
    f.write_all(bytes)
        .map_err(|e| TlsError::SelfCert(format!("write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_ports_and_brackets() {
        assert_eq!(host_of("127.0.0.1:2379"), "127.0.0.1");
        assert_eq!(host_of("[::1]:2379"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }

    #[test]
    fn self_cert_is_made_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = vec!["127.0.0.1:2379".to_string(), "localhost:2379".to_string()];
        let a = self_cert(dir.path(), &hosts, 1, true).unwrap();
        let first = std::fs::read(a.cert_file.as_ref().unwrap()).unwrap();
        let b = self_cert(dir.path(), &hosts, 1, true).unwrap();
        assert_eq!(first, std::fs::read(b.cert_file.as_ref().unwrap()).unwrap());
        crate::ServerTls::new(&b).unwrap();
        crate::ClientTls::new(&b).unwrap();
    }
}
