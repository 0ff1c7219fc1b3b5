//! This member's TLS, from its flags: the client listener's and the peer listener's
//! configurations and the peer dialer's ([`MemberTls`]), with `--auto-tls` /
//! `--peer-auto-tls` certificates made in `<data-dir>/fixtures`, and etcd's refusals at
//! start (an `https://` URL without a certificate, unreadable files, a key that does not
//! match, a CA file without certificates).
//!
//! The verified client certificate's CN travels with each request (`oxcd_tls::ConnInfo`);
//! with `--client-cert-auth` and auth on, a request without a token runs as that user
//! (`crate::auth::AuthGate`).

use oxcd_tls::{ClientTls, ServerTls, TlsOptions};

use crate::config::{is_https, url_to_addr, Config};

/// The TLS configurations a member serves and dials with (each `None` when unused).
#[derive(Debug, Clone, Default)]
pub struct MemberTls {
    /// For `https://` client and metrics URLs.
    pub client: Option<ServerTls>,
    /// For `https://` peer URLs.
    pub peer_server: Option<ServerTls>,
    /// For dialing `https://` peer URLs (transport, snapshots, join, forwarding, probes).
    pub peer_client: Option<ClientTls>,
}

/// The side's options after auto-TLS: the given certificate wins (etcd warns), otherwise
/// a self-signed one for the listen hosts replaces the options (etcd's `SelfCert`), keeping
/// the cipher and version settings.
fn with_auto_tls(
    cfg: &Config,
    given: &TlsOptions,
    auto: bool,
    side: &str,
    urls: &[String],
) -> Result<TlsOptions, String> {
    if !auto {
        return Ok(given.clone());
    }
    if !given.is_empty() {
        tracing::warn!("ignoring {side} auto TLS since certs given");
        return Ok(given.clone());
    }
    let hosts: Vec<String> = urls.iter().filter_map(|u| url_to_addr(u).ok()).collect();
    let dir = cfg.data_dir.join("fixtures").join(side);
    let made =
        oxcd_tls::selfcert::self_cert(&dir, &hosts, cfg.self_signed_cert_validity, side == "peer")
            .map_err(|e| format!("failed to get {side} self-signed certs: {e}"))?;
    Ok(TlsOptions {
        cipher_suites: given.cipher_suites.clone(),
        min_version: given.min_version,
        max_version: given.max_version,
        skip_client_san_verify: given.skip_client_san_verify,
        ..made
    })
}

/// Warns, as etcd does, about TLS settings an `http://` URL ignores.
fn warn_plain(url: &str, opts: &TlsOptions, kind: &str) {
    if is_https(url) {
        return;
    }
    if !opts.is_empty() {
        tracing::warn!(
            url,
            "scheme is HTTP while key and cert files are present; ignoring key and cert files"
        );
    }
    if opts.client_cert_auth {
        tracing::warn!(url, "scheme is HTTP while --{kind}client-cert-auth is enabled; ignoring client cert auth for this URL");
    }
}

impl MemberTls {
    /// Builds every configuration the flags ask for, reading and checking all files now.
    pub fn build(cfg: &Config) -> Result<MemberTls, String> {
        let client_opts = with_auto_tls(
            cfg,
            &cfg.client_tls,
            cfg.auto_tls,
            "client",
            &cfg.listen_client_urls,
        )?;
        let client_urls: Vec<&String> = cfg
            .listen_client_urls
            .iter()
            .chain(&cfg.listen_metrics_urls)
            .collect();
        for url in &client_urls {
            warn_plain(url, &client_opts, "");
            if is_https(url) && client_opts.is_empty() {
                return Err(format!(
                    "TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme"
                ));
            }
        }
        let client = if client_urls.iter().any(|u| is_https(u)) {
            Some(ServerTls::new(&client_opts).map_err(|e| format!("client TLS: {e}"))?)
        } else {
            None
        };

        let peer_opts = with_auto_tls(
            cfg,
            &cfg.peer_tls,
            cfg.peer_auto_tls,
            "peer",
            &cfg.listen_peer_urls,
        )?;
        for url in &cfg.listen_peer_urls {
            warn_plain(url, &peer_opts, "peer-");
            if is_https(url) && peer_opts.is_empty() {
                let addr = url_to_addr(url).unwrap_or_else(|_| url.clone());
                return Err(format!(
                    "cannot listen on TLS for {addr}: KeyFile and CertFile are not presented"
                ));
            }
        }
        let peer_server = if cfg.listen_peer_urls.iter().any(|u| is_https(u)) {
            Some(ServerTls::new(&peer_opts).map_err(|e| format!("peer TLS: {e}"))?)
        } else {
            None
        };
        let dials_https = cfg.initial_cluster.iter().any(|(_, u)| is_https(u))
            || cfg.initial_advertise_peer_urls.iter().any(|u| is_https(u));
        let peer_client = if !peer_opts.is_empty() || dials_https {
            let mut dial = peer_opts.clone();
            if let Some((cert, key)) = &cfg.peer_client_cert {
                dial.cert_file = Some(cert.clone());
                dial.key_file = Some(key.clone());
            }
            Some(ClientTls::new(&dial).map_err(|e| format!("peer TLS: {e}"))?)
        } else {
            None
        };
        Ok(MemberTls {
            client,
            peer_server,
            peer_client,
        })
    }

    /// The listener TLS for a client or metrics URL (`None` for `http://`).
    pub fn for_client_url(&self, url: &str) -> Option<ServerTls> {
        is_https(url).then(|| self.client.clone()).flatten()
    }

    /// The listener TLS for a peer URL (`None` for `http://`).
    pub fn for_peer_url(&self, url: &str) -> Option<ServerTls> {
        is_https(url).then(|| self.peer_server.clone()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(args: &[&str]) -> Result<MemberTls, String> {
        let dir = tempfile::tempdir().unwrap();
        let data = format!("--data-dir={}", dir.path().display());
        let mut all = vec![data.as_str()];
        all.extend_from_slice(args);
        MemberTls::build(&Config::parse(all, |_| None).unwrap())
    }

    #[test]
    fn https_without_a_certificate_is_refused() {
        let e = build(&["--listen-client-urls=https://127.0.0.1:2379"]).unwrap_err();
        assert!(
            e.starts_with("TLS key/cert (--cert-file, --key-file) must be provided"),
            "{e}"
        );
        let e = build(&[
            "--listen-peer-urls=https://127.0.0.1:2380",
            "--initial-advertise-peer-urls=https://127.0.0.1:2380",
            "--initial-cluster=default=https://127.0.0.1:2380",
        ])
        .unwrap_err();
        assert_eq!(
            e,
            "cannot listen on TLS for 127.0.0.1:2380: KeyFile and CertFile are not presented"
        );
        let e = build(&[
            "--listen-metrics-urls=https://127.0.0.1:2381",
            "--cert-file=/nonexistent/cert.pem",
            "--key-file=/nonexistent/key.pem",
        ])
        .unwrap_err();
        assert!(
            e.contains("open /nonexistent/cert.pem: no such file or directory"),
            "{e}"
        );
    }

    #[test]
    fn auto_tls_serves_https_with_a_self_signed_certificate() {
        let t = build(&[
            "--listen-client-urls=https://127.0.0.1:2379",
            "--auto-tls",
            "--listen-peer-urls=https://127.0.0.1:2380",
            "--initial-advertise-peer-urls=https://127.0.0.1:2380",
            "--initial-cluster=default=https://127.0.0.1:2380",
            "--peer-auto-tls",
        ])
        .unwrap();
        assert!(t.client.is_some() && t.peer_server.is_some() && t.peer_client.is_some());
        assert!(t.for_client_url("http://127.0.0.1:1").is_none());
    }

    #[test]
    fn plain_urls_need_no_tls() {
        let t = build(&[]).unwrap();
        assert!(t.client.is_none() && t.peer_server.is_none() && t.peer_client.is_none());
    }
}
