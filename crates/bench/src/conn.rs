//! gRPC connections to the servers under test, in plain text or over TLS, and with an auth
//! token on every request when `--user` is given.

use std::path::PathBuf;
use std::time::Duration;

use oxcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_proto::etcdserverpb::{auth_client::AuthClient, AuthenticateRequest, StatusRequest};
use oxcd_tls::{ClientTls, Dialer, TlsOptions};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

/// A connection whose requests carry the auth token, if any.
pub type Conn = InterceptedService<Channel, AuthToken>;

/// Adds the `token` metadata etcd's auth reads (nothing without `--user`).
#[derive(Debug, Clone, Default)]
pub struct AuthToken(Option<MetadataValue<Ascii>>);

impl Interceptor for AuthToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            req.metadata_mut().insert("token", token.clone());
        }
        Ok(req)
    }
}

/// Authenticates `user` (`name:password`) on the first endpoint: the token every
/// connection then sends. `None` for an empty `user`. One token serves every client, as
/// one clientv3 client shares its token across goroutines.
pub async fn authenticate(
    endpoints: &str,
    tls: Option<&ClientTls>,
    user: &str,
) -> anyhow::Result<AuthToken> {
    if user.is_empty() {
        return Ok(AuthToken::default());
    }
    let (name, password) = user
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--user takes name:password"))?;
    let ch = channels(endpoints, 1, tls).await?.remove(0);
    let token = AuthClient::new(ch)
        .authenticate(AuthenticateRequest {
            name: name.into(),
            password: password.into(),
        })
        .await?
        .into_inner()
        .token;
    Ok(AuthToken(Some(token.parse()?)))
}

/// `--target-leader`: the one endpoint of the comma-separated `endpoints` whose member is
/// the leader, found with a Maintenance Status call to each (the member whose ID is the
/// leader it reports); an endpoint that does not answer is skipped. Fails if none is the
/// leader. As etcd's benchmark flag of the same name, it makes a run on a cluster measure
/// the same path whichever member won the election.
pub async fn leader_endpoint(
    endpoints: &str,
    tls: Option<&ClientTls>,
    token: &AuthToken,
) -> anyhow::Result<String> {
    let mut unreachable = Vec::new();
    for ep in endpoints
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match member_and_leader(ep, tls, token).await {
            Ok((member, leader)) if member != 0 && member == leader => return Ok(ep.to_string()),
            Ok(_) => {}
            Err(e) => unreachable.push(format!("{ep}: {e:#}")),
        }
    }
    let mut msg = format!("--target-leader: no endpoint of {endpoints} is the leader");
    if !unreachable.is_empty() {
        msg.push_str(&format!(" (no answer from {})", unreachable.join("; ")));
    }
    anyhow::bail!(msg)
}

/// The ID of the member at `endpoint` and the leader it knows (Maintenance Status).
async fn member_and_leader(
    endpoint: &str,
    tls: Option<&ClientTls>,
    token: &AuthToken,
) -> anyhow::Result<(u64, u64)> {
    let ch = connect(endpoint, 1, tls, token).await?.remove(0);
    let status = MaintenanceClient::new(ch)
        .status(StatusRequest {})
        .await?
        .into_inner();
    Ok((
        status.header.map(|h| h.member_id).unwrap_or_default(),
        status.leader,
    ))
}

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
/// `host:port` list in `endpoints`, over TLS when `tls` is given, sending `token`.
pub async fn connect(
    endpoints: &str,
    n: usize,
    tls: Option<&ClientTls>,
    token: &AuthToken,
) -> anyhow::Result<Vec<Conn>> {
    Ok(channels(endpoints, n, tls)
        .await?
        .into_iter()
        .map(|ch| InterceptedService::new(ch, token.clone()))
        .collect())
}

async fn channels(
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
