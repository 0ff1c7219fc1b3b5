//! What a gateway call counts in: etcd's gateway calls etcd's own gRPC server, so its calls
//! show in `etcd_server_client_requests_total`, with `client_api_version` from a
//! `Grpc-Metadata-Client-Api-Version` header (grpc-gateway forwards it as metadata) or
//! `unknown`. oxcd's gateway calls the services in-process; this interceptor counts them.

use oxcd_gateway::GatewayCall;
use oxcd_middleware::{MethodKind, CLIENT_API_VERSION_HEADER};

/// The gateway interceptor: counts the call and lets it through.
pub fn count(request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let kind = match request.extensions().get::<GatewayCall>() {
        Some(GatewayCall::Stream) => MethodKind::BidiStream,
        _ => MethodKind::Unary,
    };
    let version = request.metadata().get(CLIENT_API_VERSION_HEADER);
    oxcd_middleware::count_client_request(kind, version.map(|v| v.as_bytes()));
    Ok(request)
}
