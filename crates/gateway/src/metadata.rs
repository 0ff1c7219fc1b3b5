//! HTTP request headers → gRPC request metadata, as grpc-gateway v1's
//! `AnnotateContext` does it, plus etcd's `token` key.

use http::HeaderMap;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};

/// Header prefix whose remainder becomes a metadata key (`Grpc-Metadata-hasleader: true`).
const METADATA_PREFIX: &str = "grpc-metadata-";

/// Builds the metadata for one gateway call:
///
/// - `Authorization: <v>` → `authorization: <v>` (grpc-gateway) **and**
///   `token: <v>` (what etcd's auth layer reads; 3.4 does not strip `Bearer `);
/// - a bare `token: <v>` header is NOT forwarded (grpc-gateway passes only the headers
///   above; etcd answers such a request as one without credentials);
/// - `Grpc-Metadata-<k>: <v>` → `<k>: <v>` (binary `-bin` keys are skipped).
///
/// Headers whose value is not visible ASCII are skipped.
pub fn request_metadata(headers: &HeaderMap) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    if let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(ascii_value)
    {
        metadata.insert("authorization", value.clone());
        metadata.insert("token", value);
    }
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) else {
            continue;
        };
        if key.ends_with("-bin") {
            continue;
        }
        let (Ok(key), Some(value)) = (
            AsciiMetadataKey::from_bytes(key.as_bytes()),
            ascii_value(value),
        ) else {
            continue;
        };
        metadata.append(key, value);
    }
    metadata
}

fn ascii_value(value: &http::HeaderValue) -> Option<AsciiMetadataValue> {
    AsciiMetadataValue::try_from(value.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_becomes_token() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "abc.42".parse().expect("header"));
        let md = request_metadata(&headers);
        assert_eq!(
            md.get("token").and_then(|v| v.to_str().ok()),
            Some("abc.42")
        );
        assert_eq!(
            md.get("authorization").and_then(|v| v.to_str().ok()),
            Some("abc.42")
        );
    }

    #[test]
    fn bare_token_header_is_dropped_and_grpc_metadata_prefix_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("token", "t1".parse().expect("header"));
        headers.insert("grpc-metadata-hasleader", "true".parse().expect("header"));
        headers.insert("content-type", "application/json".parse().expect("header"));
        let md = request_metadata(&headers);
        assert!(md.get("token").is_none());
        assert_eq!(
            md.get("hasleader").and_then(|v| v.to_str().ok()),
            Some("true")
        );
        assert!(md.get("authorization").is_none());
        assert!(md.get("content-type").is_none());
    }
}
