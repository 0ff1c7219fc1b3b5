//! [`Dialer`]: the connector tonic channels use (`Endpoint::connect_with_connector`): TCP
//! with Nagle off, then TLS for `https://` URLs with the configured [`ClientTls`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use crate::build::ClientTls;
use crate::stream::MaybeTls;

/// A dialed connection, plain or TLS.
pub type ClientConn = MaybeTls<tokio_rustls::client::TlsStream<TcpStream>>;

/// Dials `http://` and `https://` URIs; `https://` needs a TLS configuration.
#[derive(Clone)]
pub struct Dialer {
    tls: Option<ClientTls>,
    timeout: Duration,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Dialer {
    /// A dialer whose connect plus handshake is bounded by `timeout`.
    pub fn new(tls: Option<ClientTls>, timeout: Duration) -> Self {
        Self { tls, timeout }
    }

    /// Connects to `uri` (`http://host:port` or `https://host:port`).
    pub async fn dial(&self, uri: &Uri) -> io::Result<ClientConn> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") | None => false,
            Some(other) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unsupported URL scheme {other:?}"),
                ))
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL without a host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let work = async {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            if !https {
                return Ok(MaybeTls::Plain(tcp));
            }
            let tls = self.tls.as_ref().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{uri} is https but no TLS is configured for it"),
                )
            })?;
            let name = ServerName::try_from(host.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = tls.connector().connect(name, tcp).await?;
            Ok(MaybeTls::Tls(Box::new(stream)))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, format!("dial {uri}: timed out"))
            })?
    }
}

impl tower::Service<Uri> for Dialer {
    type Response = TokioIo<ClientConn>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let dialer = self.clone();
        Box::pin(async move { dialer.dial(&uri).await.map(TokioIo::new) })
    }
}
