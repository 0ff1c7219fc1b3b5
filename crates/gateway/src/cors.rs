//! CORS, as etcd's access controller writes it (`--cors`, default `*`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN,
};
use http::{HeaderMap, Method, StatusCode};

use crate::state::Shared;

/// Which origins get CORS headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsPolicy {
    /// Every response says `Access-Control-Allow-Origin: *` (etcd's default).
    #[default]
    AllowAll,
    /// Echo the request's `Origin` when it is in the list (etcd `--cors a,b`).
    /// A list containing `*` behaves like [`CorsPolicy::AllowAll`].
    AllowList(Vec<String>),
    /// Add no CORS headers and do not answer `OPTIONS` (the embedding server
    /// applies CORS itself).
    Disabled,
}

impl CorsPolicy {
    /// The `Access-Control-Allow-Origin` value for a request with `origin`,
    /// if the request gets CORS headers at all.
    pub fn allowed_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match self {
            Self::AllowAll => Some(HeaderValue::from_static("*")),
            Self::AllowList(list) if list.iter().any(|o| o == "*") => {
                Some(HeaderValue::from_static("*"))
            }
            Self::AllowList(list) => {
                let origin = origin?;
                let text = origin.to_str().ok()?;
                list.iter().any(|o| o == text).then(|| origin.clone())
            }
            Self::Disabled => None,
        }
    }

    /// Adds etcd's three CORS headers to `headers` for a request with `origin`.
    pub fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if let Some(allowed) = self.allowed_origin(origin) {
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"),
            );
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("accept, content-type, authorization"),
            );
        }
    }
}

/// Middleware: CORS headers on every response; `OPTIONS` answered 200 with an
/// empty body (unless CORS is disabled).
pub(crate) async fn cors_middleware(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request.headers().get(ORIGIN).cloned();
    let mut response = if request.method() == Method::OPTIONS && state.cors != CorsPolicy::Disabled
    {
        StatusCode::OK.into_response()
    } else {
        next.run(request).await
    };
    state.cors.apply(origin.as_ref(), response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_echoes_listed_origin_only() {
        let policy = CorsPolicy::AllowList(vec!["http://a".into()]);
        let a = HeaderValue::from_static("http://a");
        let b = HeaderValue::from_static("http://b");
        assert_eq!(policy.allowed_origin(Some(&a)), Some(a.clone()));
        assert_eq!(policy.allowed_origin(Some(&b)), None);
        assert_eq!(policy.allowed_origin(None), None);
        assert_eq!(
            CorsPolicy::AllowAll.allowed_origin(None),
            Some(HeaderValue::from_static("*"))
        );
    }
}
