//! oxcd-tls: etcd's TLS options (`--cert-file`, `--trusted-ca-file`, `--client-cert-auth`,
//! `--peer-cert-allowed-cn`, ...) turned into rustls configurations, and the sockets that use
//! them: the accepting side of every listener and the dialing side of the peer transport.
//!
//! rustls with the `ring` provider does the cryptography (no OpenSSL, no C++ or cmake step).
//!
//! # Layout
//! - [`options`]: [`TlsOptions`], one side's settings (client or peer), as etcd's `TLSInfo`.
//! - [`files`]: reading PEM certificates, keys, CA bundles and CRLs with etcd's error texts.
//! - [`reload`]: [`ReloadingCert`], the certificate resolver that rereads changed files at
//!   handshake time (rotation without restart).
//! - [`verify`]: the checks etcd adds to chain verification: allowed CN / hostname,
//!   revocation list, the client certificate's SANs against its address.
//! - [`build`]: [`ServerTls`] and [`ClientTls`], the rustls configurations built from options
//!   (refusing bad configuration at start).
//! - [`selfcert`]: `--auto-tls` / `--peer-auto-tls` certificates (rcgen).
//! - [`accept`]: [`incoming`], accepted connections (TLS-handshaken in their own tasks, or
//!   plain) as the stream tonic serves.
//! - [`connect`]: [`Dialer`], the connector tonic channels use for `http://` and `https://`.
//! - [`stream`]: [`stream::MaybeTls`], a plain or TLS connection as one I/O type.
//!
//! # Invariants
//! - A handshake never blocks the accept loop, and is bounded by [`accept::HANDSHAKE_TIMEOUT`];
//!   a plain-text client on a TLS port (and a TLS client on a plain port) is disconnected.
//! - The certificate and key files are reread when their modification time or size change,
//!   at the next handshake; a broken replacement keeps the last good pair and is logged.
//! - CN-based identity for auth is not derived here yet (the auth crate does not exist): the
//!   verified peer certificate is available on the connection for when it does.

pub mod accept;
pub mod build;
pub mod connect;
pub mod files;
pub mod options;
pub mod reload;
pub mod selfcert;
pub mod stream;
pub mod verify;

#[cfg(test)]
mod tests;

pub use accept::{incoming, Conn, ConnInfo};
pub use build::{ClientTls, ServerTls};
pub use connect::Dialer;
pub use options::{TlsError, TlsOptions, TlsVersion};
