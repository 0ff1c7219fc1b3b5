//! End-to-end tests of the crate: real handshakes on loopback between [`incoming`] and
//! [`Dialer`] with certificates made by the harness's `TestPki`, rotation, refusals at
//! build time, and the CRL check.

use std::time::Duration;

use futures::StreamExt;
use oxcd_integration_tests::certs::{TestPki, PEER_CN};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::verify::common_name;
use crate::{incoming, ClientTls, Dialer, ServerTls, TlsOptions};

fn pki() -> (tempfile::TempDir, TestPki) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    (dir, pki)
}

fn server_opts(pki: &TestPki) -> TlsOptions {
    TlsOptions {
        cert_file: Some(pki.peer.cert.clone()),
        key_file: Some(pki.peer.key.clone()),
        trusted_ca_file: Some(pki.ca.clone()),
        client_cert_auth: true,
        allowed_cn: Some(PEER_CN.into()),
        ..TlsOptions::default()
    }
}

/// Serves an echo of one byte on 127.0.0.1 and returns its `https://` URL.
async fn echo_server(tls: ServerTls) -> http::Uri {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut conns = Box::pin(incoming(listener, Some(tls)));
    tokio::spawn(async move {
        while let Some(Ok(mut c)) = conns.next().await {
            tokio::spawn(async move {
                let mut b = [0u8; 1];
                if c.read_exact(&mut b).await.is_ok() {
                    let _ = c.write_all(&b).await;
                }
            });
        }
    });
    format!("https://127.0.0.1:{port}").parse().unwrap()
}

async fn round_trip(client: ClientTls, url: &http::Uri) -> Result<(), String> {
    let dialer = Dialer::new(Some(client), Duration::from_secs(5));
    let mut c = dialer.dial(url).await.map_err(|e| e.to_string())?;
    c.write_all(b"x").await.map_err(|e| e.to_string())?;
    let mut b = [0u8; 1];
    c.read_exact(&mut b).await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::test]
async fn mutual_tls_checks_the_allowed_cn_both_ways() {
    let (_d, pki) = pki();
    let url = echo_server(ServerTls::new(&server_opts(&pki)).unwrap()).await;
    let good = ClientTls::new(&server_opts(&pki)).unwrap();
    round_trip(good, &url)
        .await
        .expect("a peer with the allowed CN connects");

    let mut intruder = server_opts(&pki);
    intruder.cert_file = Some(pki.intruder_peer.cert.clone());
    intruder.key_file = Some(pki.intruder_peer.key.clone());
    let bad = ClientTls::new(&intruder).unwrap();
    assert!(round_trip(bad, &url).await.is_err(), "intruder CN accepted");

    let mut other = server_opts(&pki);
    other.cert_file = Some(pki.other_ca_client.cert.clone());
    other.key_file = Some(pki.other_ca_client.key.clone());
    other.allowed_cn = None;
    let other = ClientTls::new(&other).unwrap();
    assert!(
        round_trip(other, &url).await.is_err(),
        "another CA accepted"
    );

    // The dialer checks the server's CN too (etcd's VerifyPeerCertificate runs both ways).
    let mut picky = server_opts(&pki);
    picky.allowed_cn = Some("someone-else".into());
    let picky = ClientTls::new(&picky).unwrap();
    assert!(
        round_trip(picky, &url).await.is_err(),
        "server CN not checked"
    );
}

#[tokio::test]
async fn allowed_hostname_needs_a_matching_san() {
    let (_d, pki) = pki();
    let mut opts = server_opts(&pki);
    opts.allowed_cn = None;
    opts.allowed_hostname = Some("localhost".into());
    let url = echo_server(ServerTls::new(&opts).unwrap()).await;
    let mut peer = opts.clone();
    peer.allowed_hostname = None;
    round_trip(ClientTls::new(&peer).unwrap(), &url)
        .await
        .expect("a certificate valid for localhost connects");
    peer.cert_file = Some(pki.client.cert.clone());
    peer.key_file = Some(pki.client.key.clone());
    assert!(
        round_trip(ClientTls::new(&peer).unwrap(), &url)
            .await
            .is_err(),
        "a certificate without the SAN was accepted"
    );
}

#[tokio::test]
async fn plain_text_on_a_tls_port_is_disconnected_promptly() {
    let (_d, pki) = pki();
    let url = echo_server(ServerTls::new(&server_opts(&pki)).unwrap()).await;
    let addr = format!("{}:{}", url.host().unwrap(), url.port_u16().unwrap());
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a plain-text connection open");
    assert!(
        !String::from_utf8_lossy(&buf).contains("200"),
        "served plain text"
    );
}

#[test]
fn replaced_files_are_served_at_the_next_handshake_and_broken_ones_ignored() {
    let (_d, pki) = pki();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let r =
        crate::reload::ReloadingCert::load(&pki.server.cert, &pki.server.key, provider).unwrap();
    let cn = |r: &crate::reload::ReloadingCert| {
        let key = r.current();
        common_name(&CertificateDer::from(key.cert[0].as_ref().to_vec()))
    };
    assert_eq!(cn(&r).as_deref(), Some("server"));
    pki.reissue_server("rotated").unwrap();
    assert_eq!(cn(&r).as_deref(), Some("rotated"));
    std::fs::write(&pki.server.cert, "not a certificate").unwrap();
    assert_eq!(
        cn(&r).as_deref(),
        Some("rotated"),
        "a broken file replaced the pair"
    );
}

#[test]
fn bad_configuration_is_refused_with_etcd_like_messages() {
    let (d, pki) = pki();
    let err = |o: &TlsOptions| ServerTls::new(o).unwrap_err().to_string();
    let mut o = server_opts(&pki);
    o.cert_file = Some(d.path().join("missing.pem"));
    assert!(
        err(&o).contains("missing.pem: no such file or directory"),
        "{}",
        err(&o)
    );

    let mut o = server_opts(&pki);
    o.key_file = Some(pki.client.key.clone());
    assert!(
        err(&o).contains("tls: private key does not match public key"),
        "{}",
        err(&o)
    );

    let mut o = server_opts(&pki);
    o.trusted_ca_file = Some(pki.client.key.clone());
    assert!(err(&o).contains("holds no certificate"), "{}", err(&o));

    let mut o = server_opts(&pki);
    o.key_file = None;
    assert!(
        err(&o).contains("KeyFile and CertFile must both be present"),
        "{}",
        err(&o)
    );

    let mut o = server_opts(&pki);
    o.allowed_hostname = Some("localhost".into());
    assert!(err(&o).contains("mutually exclusive"), "{}", err(&o));

    let mut o = server_opts(&pki);
    o.cipher_suites = vec!["TLS_RSA_WITH_AES_128_CBC_SHA".into()];
    assert!(err(&o).contains("not supported by oxcd"), "{}", err(&o));
    o.cipher_suites = vec!["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into()];
    ServerTls::new(&o).expect("a GCM suite is accepted");

    let mut o = server_opts(&pki);
    o.trusted_ca_file = None;
    assert!(err(&o).contains("needs a trusted CA file"), "{}", err(&o));
}

#[test]
fn revoked_serials_are_found_in_a_crl() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, IsCa, KeyIdMethod,
        KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let leaf = |serial: u64| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::default();
        p.serial_number = Some(SerialNumber::from(serial));
        let c = p.signed_by(&key, &ca, &ca_key).unwrap();
        CertificateDer::from(c.der().to_vec())
    };
    let crl = CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2024, 1, 1),
        next_update: rcgen::date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(42u64),
            revocation_time: rcgen::date_time_ymd(2024, 1, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca, &ca_key)
    .unwrap();
    let crls = vec![rustls_pki_types::CertificateRevocationListDer::from(
        crl.der().to_vec(),
    )];
    let hit = crate::verify::revoked(&crls, &[leaf(42)]).unwrap();
    assert_eq!(
        hit.as_deref(),
        Some("transport: certificate serial 2a revoked")
    );
    assert_eq!(crate::verify::revoked(&crls, &[leaf(43)]).unwrap(), None);
}
