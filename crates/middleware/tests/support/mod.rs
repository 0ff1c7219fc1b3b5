//! Helpers shared by the integration tests: reading samples from the default registry and
//! framing gRPC messages.

#![allow(dead_code)]

use bytes::{BufMut, Bytes, BytesMut};

/// One parsed exposition sample: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parses one exposition line `name{k="v",...} value` (label values without quotes/commas).
fn parse_line(line: &str) -> Option<Sample> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (head, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split(',')
                .filter(|kv| !kv.is_empty())
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            (name.to_string(), labels)
        }
        None => (head.to_string(), Vec::new()),
    };
    Some((name, labels, value))
}

/// The value of the sample named `name` (for histograms use `<family>_count`) whose labels are
/// exactly `labels` (in any order), read from `oxcd_middleware::render()`.
pub fn sample(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    oxcd_middleware::render()
        .lines()
        .filter_map(parse_line)
        .find_map(|(n, ls, v)| {
            let same = n == name
                && ls.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, want)| ls.iter().any(|(lk, lv)| lk == k && lv == want));
            same.then_some(v)
        })
}

/// `grpc_type`, `grpc_service`, `grpc_method` labels.
pub fn method_labels<'a>(
    kind: &'a str,
    service: &'a str,
    method: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grpc_type", kind),
        ("grpc_service", service),
        ("grpc_method", method),
    ]
}

/// A counter of the `grpc_server_*` families for one method (0 when absent).
pub fn method_counter(family: &str, kind: &str, service: &str, method: &str) -> f64 {
    sample(family, &method_labels(kind, service, method)).unwrap_or(0.0)
}

/// `grpc_server_handled_total` for one method and code name (None when the series is absent).
pub fn handled(kind: &str, service: &str, method: &str, code: &str) -> Option<f64> {
    let mut labels = method_labels(kind, service, method);
    labels.push(("grpc_code", code));
    sample("grpc_server_handled_total", &labels)
}

/// One gRPC message: 5-byte prefix + payload.
pub fn framed(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + payload.len());
    b.put_u8(0);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// Several messages concatenated.
pub fn framed_all(payloads: &[&[u8]]) -> Bytes {
    let mut b = BytesMut::new();
    for p in payloads {
        b.extend_from_slice(&framed(p));
    }
    b.freeze()
}
