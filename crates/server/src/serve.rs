//! The listeners: each client URL serves gRPC (HTTP/2) and HTTP/1 (gateway, health,
//! metrics) on one port; each peer URL serves the raft transport (`oxcdpb.RaftPeer`); each
//! `--listen-metrics-urls` URL serves `/metrics` and `/health`. An `https://` URL is served
//! over TLS ([`MemberTls`]; metrics URLs use the client TLS, as in etcd).
//!
//! Tower stack, outermost first: gRPC metrics (sees every request, including rejections),
//! the gRPC message-size limit (`--max-request-bytes` + 512 KiB, grpc-go's error), and a
//! global concurrency limit. Quota is a typed check inside the KV handlers, because it
//! needs the decoded request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{select_all, FutureExt};
use oxcd_gateway::{CorsPolicy, GatewayBuilder};
use oxcd_middleware::{GrpcMetricsLayer, GrpcRequestSizeLayer};
use oxcd_peer::{PeerService, TransportConfig};
use oxcd_proto::etcdserverpb::{
    auth_server::AuthServer, cluster_server::ClusterServer, kv_server::KvServer,
    lease_server::LeaseServer, maintenance_server::MaintenanceServer,
};
use oxcd_proto::v3electionpb::election_server::ElectionServer;
use oxcd_proto::v3lockpb::lock_server::LockServer;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::config::{url_to_addr, Config};
use crate::context::ServerContext;
use crate::grpc::{
    auth::AuthService, cluster::ClusterService, election::ElectionService, kv::KvService,
    lease::LeaseService, lock::LockService, maintenance::MaintenanceService, watch::WatchService,
};
use crate::guard::GuardLayer;
use crate::http::host_whitelist::HostWhitelist;
use crate::tls::MemberTls;

/// gRPC framing overhead allowed on top of `--max-request-bytes` (etcd's grpcOverheadBytes).
pub const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// In-flight requests across all connections before new ones wait.
pub const MAX_IN_FLIGHT: usize = 64 * 1024;

/// Binds `url`'s address.
async fn bind(url: &str) -> anyhow::Result<TcpListener> {
    let addr = url_to_addr(url)?;
    TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("listen on {addr}: {e}"))
}

/// Serves every client, peer and metrics URL until `shutdown` resolves.
pub async fn serve(
    cfg: &Config,
    ctx: Arc<ServerContext>,
    peer: PeerService,
    leader_lost: tokio::sync::watch::Receiver<u64>,
    tls: &MemberTls,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let recv_limit = cfg.max_request_bytes + GRPC_OVERHEAD_BYTES;
    let kv = KvService::from_context(&ctx);
    let maintenance = MaintenanceService::from_context(&ctx);
    let cluster = ClusterService::from_context(&ctx);
    let watch = WatchService::from_context(&ctx);
    let lease = LeaseService::from_context(&ctx);
    let lock = LockService::from_context(&ctx);
    let election = ElectionService::from_context(&ctx);
    let auth = AuthService::from_context(&ctx);

    let mut router = Routes::new(
        KvServer::new(kv.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        MaintenanceServer::new(maintenance.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        oxcd_proto::watch_wire_server::watch_server::WatchServer::new(watch.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        LeaseServer::new(lease.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        ClusterServer::new(cluster.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        LockServer::new(lock.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        ElectionServer::new(election.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .add_service(
        AuthServer::new(auth.clone())
            .max_decoding_message_size(recv_limit)
            .max_encoding_message_size(usize::MAX),
    )
    .into_axum_router()
    // Large unary ranges are streamed from the store; the rest goes to the KV service.
    .route(
        "/etcdserverpb.KV/Range",
        axum::routing::post(crate::grpc::range_body::serve_range).with_state(Arc::new(
            crate::grpc::range_body::RangeRoute::new(
                kv.clone(),
                KvServer::new(kv.clone())
                    .max_decoding_message_size(recv_limit)
                    .max_encoding_message_size(usize::MAX),
                recv_limit,
            ),
        )),
    );
    // The HTTP side (gateway, health, metrics, version): etcd's access controller checks
    // the Host of plain-HTTP requests; gRPC is not checked.
    let mut http = crate::http::router(ctx.clone());
    if cfg.enable_grpc_gateway {
        let cors = match cfg.cors.as_slice() {
            [] => CorsPolicy::AllowAll,
            origins => CorsPolicy::AllowList(origins.to_vec()),
        };
        let gateway = GatewayBuilder::new()
            .kv(Arc::new(kv))
            .maintenance(Arc::new(maintenance))
            .cluster(Arc::new(cluster))
            .watch(Arc::new(watch))
            .lease(Arc::new(lease))
            .lock(Arc::new(lock))
            .election(Arc::new(election))
            .auth(Arc::new(auth))
            .cors(cors)
            .interceptor(crate::http::gateway_calls::count)
            .build()
            .layer(axum::middleware::from_fn_with_state(
                ctx.clone(),
                crate::http::gateway_cn::refuse_certificate_identity,
            ));
        http = http.merge(gateway);
    }
    let hosts = Arc::new(HostWhitelist::new(&cfg.host_whitelist));
    router = router
        .merge(http.layer(axum::middleware::from_fn_with_state(
            hosts,
            crate::http::host_whitelist::check_host,
        )))
        .fallback(crate::http::not_found);
    let routes = Routes::from(router);

    let metrics = GrpcMetricsLayer::new(&crate::grpc::methods(), cfg.metrics_extensive);
    metrics.preinitialize();

    // Clients (and metrics) stop first; peers last, after a leader handed off.
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let (stop_peers_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut servers = Vec::new();
    for url in &cfg.listen_client_urls {
        let listener = bind(url).await?;
        tracing::info!(%url, "serving client requests (gRPC and HTTP)");
        let mut stop = stop_tx.subscribe();
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .tcp_nodelay(true)
            .max_concurrent_streams(Some(cfg.max_concurrent_streams))
            .http2_keepalive_interval(Some(cfg.grpc_keepalive_interval))
            .http2_keepalive_timeout(Some(cfg.grpc_keepalive_timeout))
            .layer(metrics.clone())
            .layer(GrpcRequestSizeLayer::new(recv_limit))
            .layer(GlobalConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
            .layer(GuardLayer::new(ctx.clone(), leader_lost.clone()))
            .add_routes(routes.clone())
            .serve_with_incoming_shutdown(
                oxcd_tls::incoming(listener, tls.for_client_url(url)),
                async move {
                    let _ = stop.recv().await;
                },
            );
        servers.push(tokio::spawn(server).boxed());
    }
    let metrics_routes = Routes::from(crate::http::metrics_router(ctx.clone()));
    for url in &cfg.listen_metrics_urls {
        let listener = bind(url).await?;
        tracing::info!(%url, "serving metrics");
        let mut stop = stop_tx.subscribe();
        let server = tonic::transport::Server::builder()
            .accept_http1(true)
            .add_routes(metrics_routes.clone())
            .serve_with_incoming_shutdown(
                oxcd_tls::incoming(listener, tls.for_client_url(url)),
                async move {
                    let _ = stop.recv().await;
                },
            );
        servers.push(tokio::spawn(server).boxed());
    }
    let peer_server = peer.into_server(&TransportConfig::default());
    for url in &cfg.listen_peer_urls {
        let listener = bind(url).await?;
        tracing::info!(%url, "serving peer traffic");
        let mut stop = stop_peers_tx.subscribe();
        let server = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(peer_server.clone())
            .serve_with_incoming_shutdown(
                oxcd_tls::incoming(listener, tls.for_peer_url(url)),
                async move {
                    let _ = stop.recv().await;
                },
            );
        servers.push(tokio::spawn(server).boxed());
    }
    let clients = cfg.listen_client_urls.len() + cfg.listen_metrics_urls.len();
    tokio::select! {
        _ = shutdown => {}
        (res, _, _) = select_all(servers.iter_mut()) => {
            res??;
            return Ok(());
        }
    }
    stop_gracefully(&ctx, servers, clients, stop_tx, stop_peers_tx).await;
    Ok(())
}

/// What a spawned listener task ends with.
type ServerResult = Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>;

/// etcd's order of a graceful stop: stop accepting client requests and let the ones in
/// flight finish (bounded by the request timeout; long-lived streams end with it), then, if
/// this member leads, hand leadership to the most caught-up voter while the peer listeners
/// still carry its votes and appends, then stop the peer listeners.
async fn stop_gracefully(
    ctx: &ServerContext,
    mut servers: Vec<futures::future::BoxFuture<'static, ServerResult>>,
    clients: usize,
    stop_clients: tokio::sync::broadcast::Sender<()>,
    stop_peers: tokio::sync::broadcast::Sender<()>,
) {
    tracing::info!("shutting down: no new client requests");
    let _ = stop_clients.send(());
    let peers = servers.split_off(clients);
    let drained = tokio::time::timeout(ctx.request_timeout, futures::future::join_all(servers));
    if drained.await.is_err() {
        tracing::warn!(
            "client requests still in flight after the request timeout; stopping anyway"
        );
    }
    crate::leadership::hand_off(&ctx.raft, ctx.member_id, ctx.request_timeout).await;
    let _ = stop_peers.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(peers)).await;
}
