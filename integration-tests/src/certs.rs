//! [`TestPki`]: the certificates of the TLS tests, made at test time with rcgen (never
//! checked in): a CA; server, peer and client certificates it signs; a client certificate
//! from another CA; an expired client certificate; a peer certificate with another CN.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::error::{HarnessError, Result};

/// The CN every good peer certificate carries (`--peer-cert-allowed-cn`).
pub const PEER_CN: &str = "oxcd-peer";

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The certificate file.
    pub cert: PathBuf,
    /// The private key file.
    pub key: PathBuf,
}

impl Pair {
    /// `--cacert=<ca> --cert=<cert> --key=<key>` for etcdctl.
    pub fn ctl_args(&self, ca: &Path) -> Vec<String> {
        vec![
            format!("--cacert={}", ca.display()),
            format!("--cert={}", self.cert.display()),
            format!("--key={}", self.key.display()),
        ]
    }
}

/// A CA being used to sign.
struct Authority {
    cert: Certificate,
    key: KeyPair,
}

/// The test certificates, written under one directory.
pub struct TestPki {
    dir: PathBuf,
    signer: Authority,
    /// The CA certificate (`--trusted-ca-file`, `--cacert`).
    pub ca: PathBuf,
    /// Server certificate for 127.0.0.1 / localhost (CN `server`).
    pub server: Pair,
    /// Peer certificate for 127.0.0.1 / localhost, server and client use (CN [`PEER_CN`]).
    pub peer: Pair,
    /// Client certificate (CN `client`).
    pub client: Pair,
    /// Client certificate signed by another CA.
    pub other_ca_client: Pair,
    /// Client certificate that expired in 2020.
    pub expired_client: Pair,
    /// Peer certificate like `peer` but with CN `intruder`.
    pub intruder_peer: Pair,
}

fn err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Network(format!("test certificates: {e}"))
}

fn authority(cn: &str) -> Result<Authority> {
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).map_err(err)?;
    Ok(Authority { cert, key })
}

/// What one leaf certificate is for.
struct Leaf<'a> {
    cn: &'a str,
    hosts: &'a [&'a str],
    server: bool,
    client: bool,
    expired: bool,
}

impl TestPki {
    /// Makes every certificate into `dir` (created if needed).
    pub fn generate(dir: &Path) -> Result<TestPki> {
        std::fs::create_dir_all(dir).map_err(|e| HarnessError::io("create cert dir", e))?;
        let ca = authority("oxcd-test-ca")?;
        let other = authority("oxcd-other-ca")?;
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.cert.pem()).map_err(|e| HarnessError::io("write CA", e))?;
        let local: &[&str] = &["127.0.0.1", "localhost"];
        let pki = TestPki {
            dir: dir.to_path_buf(),
            ca: ca_path,
            server: write_leaf(
                dir,
                "server",
                &ca,
                &Leaf {
                    cn: "server",
                    hosts: local,
                    server: true,
                    client: true,
                    expired: false,
                },
            )?,
            peer: write_leaf(
                dir,
                "peer",
                &ca,
                &Leaf {
                    cn: PEER_CN,
                    hosts: local,
                    server: true,
                    client: true,
                    expired: false,
                },
            )?,
            client: write_leaf(
                dir,
                "client",
                &ca,
                &Leaf {
                    cn: "client",
                    hosts: &[],
                    server: false,
                    client: true,
                    expired: false,
                },
            )?,
            other_ca_client: write_leaf(
                dir,
                "other-ca-client",
                &other,
                &Leaf {
                    cn: "client",
                    hosts: &[],
                    server: false,
                    client: true,
                    expired: false,
                },
            )?,
            expired_client: write_leaf(
                dir,
                "expired-client",
                &ca,
                &Leaf {
                    cn: "client",
                    hosts: &[],
                    server: false,
                    client: true,
                    expired: true,
                },
            )?,
            intruder_peer: write_leaf(
                dir,
                "intruder-peer",
                &ca,
                &Leaf {
                    cn: "intruder",
                    hosts: local,
                    server: true,
                    client: true,
                    expired: false,
                },
            )?,
            signer: ca,
        };
        Ok(pki)
    }

    /// Replaces the server certificate files in place (same paths) with a new certificate
    /// of the same CA whose CN is `cn`: what an operator's rotation does.
    pub fn reissue_server(&self, cn: &str) -> Result<()> {
        let ca = &self.signer;
        let fresh = self.dir.join("rotated");
        std::fs::create_dir_all(&fresh).map_err(|e| HarnessError::io("create dir", e))?;
        let new = write_leaf(
            &fresh,
            "server",
            ca,
            &Leaf {
                cn,
                hosts: &["127.0.0.1", "localhost"],
                server: true,
                client: true,
                expired: false,
            },
        )?;
        // Key first, then the certificate, each by rename (atomic, as deployment tools do).
        for (from, to) in [(&new.key, &self.server.key), (&new.cert, &self.server.cert)] {
            std::fs::rename(from, to).map_err(|e| HarnessError::io("rotate certificate", e))?;
        }
        Ok(())
    }
}

fn write_leaf(dir: &Path, name: &str, ca: &Authority, leaf: &Leaf<'_>) -> Result<Pair> {
    let key = KeyPair::generate().map_err(err)?;
    let mut p =
        CertificateParams::new(leaf.hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .map_err(err)?;
    p.distinguished_name.push(DnType::CommonName, leaf.cn);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    if leaf.server {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if leaf.client {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    if leaf.expired {
        p.not_before = rcgen::date_time_ymd(2019, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let cert = p.signed_by(&key, &ca.cert, &ca.key).map_err(err)?;
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&pair.cert, cert.pem()).map_err(|e| HarnessError::io("write cert", e))?;
    std::fs::write(&pair.key, key.serialize_pem()).map_err(|e| HarnessError::io("write key", e))?;
    Ok(pair)
}
