//! Plain HTTP endpoints on the client port: `/health`, `/livez`, `/readyz`, `/version`,
//! `/metrics`. The `/v3/*` JSON gateway is mounted beside them from `oxcd-gateway`, behind
//! [`gateway_cn`] (etcd 3.4 refuses a client-certificate identity there); all of them
//! behind [`host_whitelist`] (`--host-whitelist`); [`gateway_calls`] counts its calls as
//! etcd's gRPC interceptors count the calls of etcd's gateway.

pub mod gateway_calls;
pub mod gateway_cn;
pub mod host_whitelist;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use oxcd_proto::etcdserverpb::{AlarmType, RangeRequest};

use crate::context::{ServerContext, CLUSTER_VERSION, SERVER_VERSION, STORAGE_VERSION};

/// The most of a refused request's body read before answering (Go's server reads up to
/// 256 KiB of an unread body so that the connection can be reused).
const DRAIN_LIMIT: usize = 256 << 10;

/// Reads and drops the body of a request a middleware refuses before answering, as Go's
/// server does: a connection closed (or an HTTP/2 stream reset) with the body unread can
/// reach the client before the answer, which then sees a reset instead of the refusal.
pub async fn drain(req: axum::extract::Request) {
    let _ = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT).await;
}

/// The router for the plain HTTP endpoints.
pub fn router(ctx: Arc<ServerContext>) -> Router {
    Router::new()
        .route("/health", get(health).fallback(method_not_allowed))
        .route("/livez", get(livez).fallback(method_not_allowed))
        .route("/readyz", get(readyz).fallback(method_not_allowed))
        .route("/version", get(version).fallback(method_not_allowed))
        .route("/metrics", get(metrics))
        .with_state(ctx)
}

/// The router of a `--listen-metrics-urls` listener: `/metrics` and `/health`, as etcd's
/// `HandleMetricsHealth`.
pub fn metrics_router(ctx: Arc<ServerContext>) -> Router {
    Router::new()
        .route("/health", get(health).fallback(method_not_allowed))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(ctx)
}

/// Go's `http.Error` body for a wrong method, as etcd answers it.
async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Method Not Allowed\n",
    )
        .into_response()
}

/// The answer for a path nothing serves: gRPC's Unimplemented for gRPC requests, and
/// otherwise etcd 3.4's texts: grpc-gateway's `Not Found` under `/v3/` (and `/v3beta/`),
/// Go's `404 page not found` elsewhere.
pub async fn not_found(req: axum::extract::Request) -> Response {
    let grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::new(
            tonic::Code::Unimplemented,
            format!("unknown method {}", req.uri().path()),
        )
        .into_http();
    }
    let path = req.uri().path();
    let body = if path.starts_with("/v3/") || path.starts_with("/v3beta/") {
        "Not Found\n"
    } else {
        "404 page not found\n"
    };
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// etcd 3.4 writes its JSON health and version bodies without a content type, so Go
/// labels them `text/plain; charset=utf-8`; clients see exactly that.
fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn version() -> Response {
    // Unlike /health, etcd sets a JSON content type on /version.
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!(
            r#"{{"etcdserver":"{SERVER_VERSION}","etcdcluster":"{CLUSTER_VERSION}","storage":"{STORAGE_VERSION}"}}"#
        ),
    )
        .into_response()
}

async fn metrics() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        oxcd_middleware::render(),
    )
        .into_response()
}

/// One health check: `Ok` or the reason it failed.
async fn linearizable_read(ctx: &ServerContext, wait: Duration) -> Result<(), String> {
    let check = async {
        ctx.reads.wait().await.map_err(|e| e.to_string())?;
        let probe = RangeRequest {
            key: b"health".to_vec(),
            ..Default::default()
        };
        ctx.kv.range(&probe).map(|_| ()).map_err(|e| e.to_string())
    };
    match tokio::time::timeout(wait, check).await {
        Ok(r) => r,
        Err(_) => Err("etcdserver: request timed out".into()),
    }
}

fn serializable_read(ctx: &ServerContext) -> Result<(), String> {
    let probe = RangeRequest {
        key: b"health".to_vec(),
        ..Default::default()
    };
    ctx.kv.range(&probe).map(|_| ()).map_err(|e| e.to_string())
}

async fn health(
    State(ctx): State<Arc<ServerContext>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let excluded = q.get("exclude").cloned().unwrap_or_default();
    let alarmed = ctx
        .alarms
        .list(0, AlarmType::None as i32)
        .into_iter()
        .any(|a| {
            let name = if a.alarm == AlarmType::Nospace as i32 {
                "NOSPACE"
            } else {
                "CORRUPT"
            };
            !excluded.split(',').any(|e| e == name)
        });
    let serializable = q.get("serializable").map(|v| v == "true").unwrap_or(false);
    let healthy = !alarmed
        && if serializable {
            serializable_read(&ctx).is_ok()
        } else {
            ctx.has_leader()
                && linearizable_read(&ctx, Duration::from_secs(1))
                    .await
                    .is_ok()
        };
    if healthy {
        json(StatusCode::OK, r#"{"health":"true"}"#.into())
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"health":"false"}"#.into(),
        )
    }
}

async fn run_checks(
    name: &str,
    checks: Vec<(&'static str, Result<(), String>)>,
    q: &HashMap<String, String>,
) -> Response {
    let verbose = q.contains_key("verbose");
    let excluded: Vec<&str> = q
        .get("exclude")
        .map(|e| e.split(',').collect())
        .unwrap_or_default();
    let mut out = String::new();
    let mut failed = false;
    for (check, result) in checks {
        if excluded.contains(&check) {
            if verbose {
                out.push_str(&format!("[+]{check} excluded: ok\n"));
            }
            continue;
        }
        match result {
            Ok(()) => {
                if verbose {
                    out.push_str(&format!("[+]{check} ok\n"));
                }
            }
            Err(reason) => {
                failed = true;
                out.push_str(&format!("[-]{check} failed: {reason}\n"));
            }
        }
    }
    let (status, tail) = if failed {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{name} check failed\n"),
        )
    } else {
        (StatusCode::OK, "ok\n".to_string())
    };
    out.push_str(&tail);
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        out,
    )
        .into_response()
}

async fn livez(
    State(ctx): State<Arc<ServerContext>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    run_checks(
        "livez",
        vec![("serializable_read", serializable_read(&ctx))],
        &q,
    )
    .await
}

async fn readyz(
    State(ctx): State<Arc<ServerContext>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let corrupt = ctx.alarms.list(0, AlarmType::Corrupt as i32);
    let checks = vec![
        (
            "data_corruption",
            if corrupt.is_empty() {
                Ok(())
            } else {
                Err("alarm activated: CORRUPT".to_string())
            },
        ),
        ("serializable_read", serializable_read(&ctx)),
        (
            "linearizable_read",
            linearizable_read(&ctx, Duration::from_secs(1)).await,
        ),
        ("non_learner", Ok(())),
    ];
    run_checks("readyz", checks, &q).await
}
