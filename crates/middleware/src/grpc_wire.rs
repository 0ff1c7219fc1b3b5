//! Small facts about the gRPC-over-HTTP/2 wire format shared by the layers: which requests are
//! gRPC, how a path splits into service and method, and the canonical names of status codes.

use http::header::CONTENT_TYPE;
use http::HeaderMap;
use tonic::Code;

/// The canonical (grpc-go `codes.Code.String()`) names of the 17 gRPC status codes, indexed by
/// their numeric value. These are the `grpc_code` label values of `grpc_server_handled_total`.
pub const GRPC_CODE_NAMES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// Index of `code` in [`GRPC_CODE_NAMES`]; out-of-range values map to `Unknown`.
pub(crate) fn code_index(code: Code) -> usize {
    let idx = code as i32;
    if (0..GRPC_CODE_NAMES.len() as i32).contains(&idx) {
        idx as usize
    } else {
        Code::Unknown as usize
    }
}

/// The grpc-go name of `code` (`Code::Cancelled` is spelled `Canceled`, as in Go).
pub fn grpc_code_name(code: Code) -> &'static str {
    GRPC_CODE_NAMES[code_index(code)]
}

/// True when the request is a gRPC call: `content-type` is `application/grpc` or
/// `application/grpc+<codec>` / `application/grpc;<params>`. gRPC-web and everything else
/// (JSON gateway, `/metrics`, `/health`) is not.
pub fn is_grpc_request(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = value.to_str() else {
        return false;
    };
    match ct.strip_prefix("application/grpc") {
        Some(rest) => rest.is_empty() || rest.starts_with('+') || rest.starts_with(';'),
        None => false,
    }
}

/// Splits a gRPC path `/etcdserverpb.KV/Range` into `("etcdserverpb.KV", "Range")`.
/// Returns `None` for anything not shaped `/<service>/<method>` with both parts non-empty.
pub fn split_grpc_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    if service.is_empty() || method.is_empty() || method.contains('/') {
        return None;
    }
    Some((service, method))
}

/// The status code carried by a `grpc-status` header in `headers`, if present.
pub(crate) fn status_code(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(tonic::Status::GRPC_STATUS)
        .map(|v| Code::from_bytes(v.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn code_names_match_grpc_go() {
        assert_eq!(grpc_code_name(Code::Ok), "OK");
        assert_eq!(grpc_code_name(Code::Cancelled), "Canceled");
        assert_eq!(grpc_code_name(Code::ResourceExhausted), "ResourceExhausted");
        assert_eq!(grpc_code_name(Code::Unauthenticated), "Unauthenticated");
        for (i, name) in GRPC_CODE_NAMES.iter().enumerate() {
            assert_eq!(grpc_code_name(Code::from_i32(i as i32)), *name);
        }
    }

    #[test]
    fn grpc_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc_request(&h));
        for (ct, want) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("application/grpc;charset=utf-8", true),
            ("application/grpc-web", false),
            ("application/json", false),
            ("text/plain", false),
        ] {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_grpc_request(&h), want, "{ct}");
        }
    }

    #[test]
    fn paths_split() {
        assert_eq!(
            split_grpc_path("/etcdserverpb.KV/Range"),
            Some(("etcdserverpb.KV", "Range"))
        );
        assert_eq!(
            split_grpc_path("/grpc.health.v1.Health/Check"),
            Some(("grpc.health.v1.Health", "Check"))
        );
        assert_eq!(split_grpc_path("/metrics"), None);
        assert_eq!(split_grpc_path("/a/"), None);
        assert_eq!(split_grpc_path("//b"), None);
        assert_eq!(split_grpc_path("/a/b/c"), None);
        assert_eq!(split_grpc_path("a/b"), None);
    }
}
