//! etcd 3.4's refusal of a client-certificate identity on the `/v3` gateway: with
//! `--client-cert-auth`, the gateway and auth all on, a request over TLS whose verified
//! client certificate names a Common Name gets HTTP 400, because the gateway cannot carry
//! that CN as the request's user (and silently running it as nobody would surprise).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::context::ServerContext;

/// etcd's text, as Go's `http.Error` writes it (with the trailing newline).
const REFUSAL: &str =
    "CommonName of client sending a request against gateway will be ignored and not used as expected\n";

/// Middleware on the gateway's routes.
pub async fn refuse_certificate_identity(
    State(ctx): State<Arc<ServerContext>>,
    req: Request,
    next: Next,
) -> Response {
    let cn = req
        .extensions()
        .get::<oxcd_tls::ConnInfo>()
        .and_then(|c| c.client_cn.as_deref());
    let refused = ctx.auth.uses_certificate_identity(cn);
    if refused {
        super::drain(req).await;
        return (
            StatusCode::BAD_REQUEST,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            REFUSAL,
        )
            .into_response();
    }
    next.run(req).await
}
