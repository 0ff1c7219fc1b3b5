//! `--host-whitelist`, etcd's guard against DNS rebinding (CVE-2018-5702): a plain-HTTP
//! request (gateway, health, metrics, version) whose `Host` is not listed gets HTTP 421
//! with etcd's explanation. TLS requests and gRPC are not checked, as in etcd; an empty
//! list or `*` allows every host (the default).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The hosts plain-HTTP requests may name.
#[derive(Debug, Clone, Default)]
pub struct HostWhitelist(Vec<String>);

impl HostWhitelist {
    /// From `--host-whitelist`'s entries.
    pub fn new(hosts: &[String]) -> Self {
        HostWhitelist(hosts.to_vec())
    }

    /// Whether `host` (without its port) may be served.
    pub fn allows(&self, host: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|h| h == "*" || h == host)
    }
}

/// The host part of a `Host` header value (`host:port`, `[v6]:port`, or a bare host).
fn hostname(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        if let Some((v6, tail)) = rest.split_once(']') {
            if tail.is_empty() || tail.starts_with(':') {
                return v6;
            }
        }
        return value;
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => value,
    }
}

/// etcd's 421 body for `host`.
fn refusal(host: &str) -> String {
    format!(
        "\netcd received your request, but the Host header was unrecognized.\n\n\
         To fix this, choose one of the following options:\n\
         - Enable TLS, then any HTTPS request will be allowed.\n\
         - Add the hostname you want to use to the whitelist in settings.\n  \
         - e.g. etcd --host-whitelist {host:?}\n\n\
         This requirement has been added to help prevent \"DNS Rebinding\" attacks (CVE-2018-5702).\n\n"
    )
}

/// Middleware on the HTTP routes.
pub async fn check_host(
    State(whitelist): State<Arc<HostWhitelist>>,
    req: Request,
    next: Next,
) -> Response {
    let tls = req
        .extensions()
        .get::<oxcd_tls::ConnInfo>()
        .is_some_and(|c| c.tls);
    if !tls {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        let host = hostname(&host).to_owned();
        if !whitelist.allows(&host) {
            tracing::warn!(%host, "rejecting HTTP request to prevent DNS rebinding attacks");
            super::drain(req).await;
            return (
                StatusCode::MISDIRECTED_REQUEST,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                refusal(&host),
            )
                .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(hostname("example.com:2379"), "example.com");
        assert_eq!(hostname("example.com"), "example.com");
        assert_eq!(hostname("[::1]:2379"), "::1");
        assert_eq!(hostname("::1"), "::1");
        let w = HostWhitelist::new(&["a.example".into()]);
        assert!(w.allows("a.example") && !w.allows("b.example"));
        assert!(HostWhitelist::new(&[]).allows("anything"));
        assert!(HostWhitelist::new(&["*".into()]).allows("anything"));
    }
}
