//! `pbjson` is a set of crates to automatically generate [`serde::Serialize`] and
//! [`serde::Deserialize`] implementations for [prost][1] generated structs that
//! are compliant with the [protobuf JSON mapping][2]
//!
//! See [pbjson-build][3] for usage instructions
//!
//! [1]: https://github.com/tokio-rs/prost
//! [2]: https://developers.google.com/protocol-buffers/docs/proto3#json
//! [3]: https://docs.rs/pbjson-build
//!
#![deny(rustdoc::broken_intra_doc_links, rustdoc::bare_urls, rust_2018_idioms)]
#![warn(
    missing_debug_implementations,
    clippy::explicit_iter_loop,
    clippy::use_self,
    clippy::clone_on_ref_ptr,
    clippy::future_not_send
)]

#[doc(hidden)]
pub mod private {
    /// Re-export base64
    pub use base64;

    use serde::de::Visitor;
    use serde::Deserialize;
    use std::borrow::Cow;
    use std::str::FromStr;

    /// Used to parse a number from either a string or its raw representation
    #[derive(Debug, Copy, Clone, PartialOrd, PartialEq, Hash, Ord, Eq)]
    pub struct NumberDeserialize<T>(pub T);

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Content<'a, T> {
        #[serde(borrow)]
        Str(Cow<'a, str>),
        Number(T),
    }

    impl<'de, T> serde::Deserialize<'de> for NumberDeserialize<T>
    where
        T: FromStr + serde::Deserialize<'de>,
        <T as FromStr>::Err: std::error::Error,
    {
        fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
        where
            D: serde::Deserializer<'de>,
        {
            let content = Content::deserialize(deserializer)?;
            Ok(Self(match content {
                Content::Str(v) => v.parse().map_err(serde::de::Error::custom)?,
                Content::Number(v) => v,
            }))
        }
    }

    struct Base64Visitor;

    impl<'de> Visitor<'de> for Base64Visitor {
        type Value = Vec<u8>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a base64 string")
        }

        // oxcd patch: bytes are decoded as Go's `encoding/json` decodes them
        // (`base64.StdEncoding`), with Go's error text, so that oxcd's JSON gateway accepts
        // and refuses exactly what etcd's grpc-gateway does. See OXCD-PATCH.md.
        fn visit_str<E>(self, s: &str) -> Result<Self::Value, E>
        where
            E: serde::de::Error,
        {
            go_std_decode(s.as_bytes()).map_err(|at| {
                serde::de::Error::custom(format!("illegal base64 data at input byte {at}"))
            })
        }
    }

    /// The value of one symbol of the standard base64 alphabet.
    fn symbol(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }

    fn skip_newlines(src: &[u8], mut at: usize) -> usize {
        while at < src.len() && (src[at] == b'\n' || src[at] == b'\r') {
            at += 1;
        }
        at
    }

    /// oxcd patch: Go's `base64.StdEncoding.Decode` (padded; `\r` and `\n` skipped anywhere;
    /// trailing bits not checked). `Err(n)` is Go's `CorruptInputError(n)`.
    pub fn go_std_decode(src: &[u8]) -> Result<Vec<u8>, usize> {
        let mut out = Vec::with_capacity(src.len() / 4 * 3);
        let mut si = 0;
        loop {
            let mut quantum = [0u32; 4];
            let mut len = 0;
            while len < 4 {
                if si == src.len() {
                    // A partial quantum without padding.
                    return if len == 0 { Ok(out) } else { Err(si - len) };
                }
                let c = src[si];
                si += 1;
                if let Some(v) = symbol(c) {
                    quantum[len] = v;
                    len += 1;
                    continue;
                }
                if c == b'\n' || c == b'\r' {
                    continue;
                }
                if c != b'=' || len < 2 {
                    return Err(si - 1);
                }
                if len == 2 {
                    // "==" is needed; the first one is consumed.
                    si = skip_newlines(src, si);
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                si = skip_newlines(src, si);
                if si < src.len() {
                    return Err(si);
                }
                break;
            }
            let v = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3];
            let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            out.extend_from_slice(&bytes[..len - 1]);
            if len < 4 {
                return Ok(out);
            }
        }
    }

    #[derive(Debug, Copy, Clone, PartialOrd, PartialEq, Hash, Ord, Eq)]
    pub struct BytesDeserialize<T>(pub T);

    impl<'de, T> Deserialize<'de> for BytesDeserialize<T>
    where
        T: From<Vec<u8>>,
    {
        fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
        where
            D: serde::Deserializer<'de>,
        {
            Ok(Self(deserializer.deserialize_str(Base64Visitor)?.into()))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use base64::Engine;
        use bytes::Bytes;
        use rand::prelude::*;
        use serde::de::value::{BorrowedStrDeserializer, Error};

        #[test]
        fn standard_padded_base64_round_trips() {
            for _ in 0..20 {
                let mut rng = thread_rng();
                let len = rng.gen_range(0..100);
                let raw: Vec<_> = std::iter::from_fn(|| Some(rng.gen())).take(len).collect();
                let encoded = base64::engine::general_purpose::STANDARD.encode(&raw);
                let deserializer = BorrowedStrDeserializer::<'_, Error>::new(&encoded);
                let a: Bytes = BytesDeserialize::deserialize(deserializer).unwrap().0;
                let b: Vec<u8> = BytesDeserialize::deserialize(deserializer).unwrap().0;
                assert_eq!(raw.as_slice(), &a);
                assert_eq!(raw.as_slice(), &b);
            }
        }

        /// What etcd 3.4.23's gateway (Go's encoding/json) answers, recorded.
        #[test]
        fn errors_and_leniencies_are_gos() {
            for (input, want) in [
                ("YQ", Err(0)),
                ("YQ=", Err(3)),
                ("Y===", Err(1)),
                ("YQ==YQ==", Err(4)),
                ("a b", Err(1)),
                ("=", Err(0)),
                ("YWJj$", Err(4)),
                ("ab-_", Err(2)),
                ("YWJjZA", Err(4)),
                ("YQ==\n", Ok(b"a".to_vec())),
                ("YR==", Ok(b"a".to_vec())),
                ("YW\r\nJj", Ok(b"abc".to_vec())),
                ("", Ok(Vec::new())),
            ] {
                assert_eq!(go_std_decode(input.as_bytes()), want, "{input:?}");
            }
        }
    }
}
