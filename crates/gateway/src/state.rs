//! State shared by every route of one gateway: the request interceptor and
//! the CORS policy.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use tonic::{Request, Status};

use crate::cors::CorsPolicy;
use crate::metadata::request_metadata;

/// A request hook with tonic's interceptor shape, run on every gateway call
/// before it reaches the service (in-process calls bypass tonic's own layers).
pub(crate) type InterceptFn = dyn Fn(Request<()>) -> Result<Request<()>, Status> + Send + Sync;

/// The kind of gRPC call a gateway route stands for, in every request's extensions when
/// the interceptor runs (etcd's gateway calls its gRPC server, whose interceptors count
/// calls by kind: `etcd_server_client_requests_total{type}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayCall {
    /// A unary method.
    Unary,
    /// A streaming method (watch, lease keep-alive, snapshot, election observe).
    Stream,
}

/// What every handler of one built gateway shares.
pub(crate) struct GatewayState {
    pub(crate) interceptor: Option<Arc<InterceptFn>>,
    pub(crate) cors: CorsPolicy,
}

impl fmt::Debug for GatewayState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayState")
            .field("interceptor", &self.interceptor.is_some())
            .field("cors", &self.cors)
            .finish()
    }
}

/// The router state type.
pub(crate) type Shared = Arc<GatewayState>;

impl GatewayState {
    /// Wraps `message` in a `tonic::Request` carrying the headers' metadata and the
    /// call's kind (an extension), then runs the interceptor (which may reject the call).
    pub(crate) fn request<T>(
        &self,
        headers: &HeaderMap,
        message: T,
        kind: GatewayCall,
    ) -> Result<Request<T>, Status> {
        let mut request = Request::new(message);
        *request.metadata_mut() = request_metadata(headers);
        request.extensions_mut().insert(kind);
        let Some(intercept) = &self.interceptor else {
            return Ok(request);
        };
        let (metadata, extensions, message) = request.into_parts();
        let (metadata, extensions, ()) =
            intercept(Request::from_parts(metadata, extensions, ()))?.into_parts();
        Ok(Request::from_parts(metadata, extensions, message))
    }
}
