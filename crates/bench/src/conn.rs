//! gRPC connections to the servers under test, in plain text or over TLS.

use std::path::PathBuf;
use std::time::Duration;

use oxcd_tls::{ClientTls, Dialer, TlsOptions};
use tonic::transport::{Channel, Endpoint};

/// The TLS configuration of `--cacert`, `--cert` and `--key` (`None` without `--cacert`).
pub fn tls(cacert: &str, cert: &str, key: &str) -> anyhow::Result<Option<ClientTls>> {
    if cacert.is_empty() {
        anyhow::ensure!(
            cert.is_empty() && key.is_empty(),
            "--cert and --key need --cacert"
        );
        return Ok(None);
    }
    let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
    let opts = TlsOptions {
        trusted_ca_file: path(cacert),
        cert_file: path(cert),
        key_file: path(key),
        ..TlsOptions::default()
    };
    Ok(Some(ClientTls::new(&opts)?))
}

/// Opens `n` (at least one) connections, round-robin over the comma-separated
/// `host:port` list in `endpoints`, over TLS when `tls` is given.
pub async fn connect(
    endpoints: &str,
    n: usize,
    tls: Option<&ClientTls>,
) -> anyhow::Result<Vec<Channel>> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let eps: Vec<String> = endpoints
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| format!("{scheme}://{e}"))
        .collect();
    if eps.is_empty() {
        anyhow::bail!("--endpoints is empty");
    }
    let timeout = Duration::from_secs(5);
    let mut out = Vec::with_capacity(n.max(1));
    for i in 0..n.max(1) {
        let ep = Endpoint::from_shared(eps[i % eps.len()].clone())?
            .tcp_nodelay(true)
            .connect_timeout(timeout);
        out.push(
            ep.connect_with_connector(Dialer::new(tls.cloned(), timeout))
                .await?,
        );
    }
    Ok(out)
}
