//! [`incoming`]: the accepting side of a listener. Each accepted connection is handshaken
//! (TLS) in a task of its own, bounded by [`HANDSHAKE_TIMEOUT`], then checked as etcd checks
//! it (CRL, client SANs) and handed to the server; failures are logged and disconnected.

use std::io;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::build::ServerTls;
use crate::stream::MaybeTls;

/// The longest a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the server to take them.
const READY_QUEUE: usize = 128;

/// An accepted client connection, plain or TLS.
pub type Conn = MaybeTls<tokio_rustls::server::TlsStream<TcpStream>>;

/// What a server learns about an accepted connection (tonic puts it in every request's
/// extensions): its addresses, and the Common Name of the client certificate the TLS
/// handshake verified, if any (etcd's identity for `--client-cert-auth` with auth on).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Local and remote addresses.
    pub tcp: TcpConnectInfo,
    /// The verified client certificate's Common Name.
    pub client_cn: Option<String>,
    /// The connection is TLS.
    pub tls: bool,
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        let client_cn = match self {
            MaybeTls::Plain(_) => None,
            MaybeTls::Tls(s) => s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(crate::verify::common_name),
        };
        ConnInfo {
            tcp: self.tcp().connect_info(),
            client_cn,
            tls: matches!(self, MaybeTls::Tls(_)),
        }
    }
}

/// The connections accepted on `listener`, with Nagle's algorithm off, over TLS when `tls`
/// is given. The accept loop ends when the returned stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Option<ServerTls>,
) -> impl futures::Stream<Item = io::Result<Conn>> + Send + 'static {
    let (tx, rx) = mpsc::channel(READY_QUEUE);
    tokio::spawn(accept_loop(listener, tls, tx));
    ReceiverStream::new(rx)
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<ServerTls>,
    tx: mpsc::Sender<io::Result<Conn>>,
) {
    loop {
        let accepted = tokio::select! {
            _ = tx.closed() => return,
            a = listener.accept() => a,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        match &tls {
            None => {
                if tx.send(Ok(MaybeTls::Plain(tcp))).await.is_err() {
                    return;
                }
            }
            Some(tls) => {
                let tls = tls.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match handshake(&tls, tcp, remote).await {
                        Ok(conn) => {
                            let _ = tx.send(Ok(conn)).await;
                        }
                        Err(e) => tracing::warn!(%remote, error = %e, "rejected connection"),
                    }
                });
            }
        }
    }
}

async fn handshake(
    tls: &ServerTls,
    tcp: TcpStream,
    remote: std::net::SocketAddr,
) -> Result<Conn, String> {
    let stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake error: {e}"))?;
    let certs = stream.get_ref().1.peer_certificates().unwrap_or(&[]);
    tls.check_connection(certs, remote).await?;
    Ok(MaybeTls::Tls(Box::new(stream)))
}
