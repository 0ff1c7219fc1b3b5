//! Request bodies: JSON text → request messages, the way grpc-gateway v1
//! reads them (`json.Decoder` over the body).
//!
//! - A unary body holds one JSON value. An empty (or all-whitespace) body is
//!   the default message, as if it were `{}`. Anything after the first value
//!   is ignored, as Go's decoder does.
//! - A client-streaming body holds zero or more JSON values back to back; each
//!   becomes one message of the input stream.
//! - Unknown fields are accepted or rejected by the message's own `Deserialize`
//!   (pbjson: see `ignore_unknown_fields`); etcd 3.4 accepts them.

use serde::de::DeserializeOwned;

use crate::error::GatewayError;

/// Decodes the single request message of a unary or server-streaming call: the first
/// JSON value of `body` (an empty body is the default message; trailing data is ignored).
/// Public so that `oxcd-fuzz` can drive the gateway's decoding directly.
pub fn decode_one<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, GatewayError> {
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<T>();
    match values.next() {
        None => Ok(T::default()),
        Some(value) => Ok(value?),
    }
}

/// Decodes every request message of a client-streaming call: the JSON values of `body`,
/// back to back. Public so that `oxcd-fuzz` can drive the gateway's decoding directly.
pub fn decode_all<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<T>, GatewayError> {
    serde_json::Deserializer::from_slice(body)
        .into_iter::<T>()
        .map(|value| value.map_err(GatewayError::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Msg {
        #[serde(default)]
        n: u32,
    }

    #[test]
    fn empty_body_is_default() {
        assert_eq!(decode_one::<Msg>(b"").expect("empty"), Msg::default());
        assert_eq!(decode_one::<Msg>(b" \n").expect("blank"), Msg::default());
    }

    #[test]
    fn trailing_data_after_first_value_is_ignored() {
        assert_eq!(
            decode_one::<Msg>(b"{\"n\":1} garbage").expect("one"),
            Msg { n: 1 }
        );
    }

    #[test]
    fn bad_json_is_an_error() {
        assert!(decode_one::<Msg>(b"{\"n\":").is_err());
        assert!(decode_one::<Msg>(b"nope").is_err());
    }

    /// etcd 3.4.23's gateway answers, recorded with curl: bytes decode as Go's
    /// `encoding/json` decodes them, with Go's error text.
    #[test]
    fn bytes_fields_decode_as_go_does() {
        use oxcd_proto::etcdserverpb::PutRequest;
        for (key, want) in [
            ("YQ", Err("illegal base64 data at input byte 0")),
            ("YQ=", Err("illegal base64 data at input byte 3")),
            ("Y===", Err("illegal base64 data at input byte 1")),
            ("YQ==YQ==", Err("illegal base64 data at input byte 4")),
            ("a b", Err("illegal base64 data at input byte 1")),
            ("YWJj$", Err("illegal base64 data at input byte 4")),
            ("ab-_", Err("illegal base64 data at input byte 2")),
            ("YWJjZA", Err("illegal base64 data at input byte 4")),
            ("YQ==\\n", Ok(&b"a"[..])),
            ("YR==", Ok(&b"a"[..])),
        ] {
            let body = format!(r#"{{"key":"{key}","value":"dg=="}}"#);
            let got = decode_one::<PutRequest>(body.as_bytes());
            match want {
                Ok(bytes) => assert_eq!(got.expect(key).key, bytes, "{key}"),
                Err(text) => assert_eq!(got.expect_err(key).to_string(), text, "{key}"),
            }
        }
    }

    #[test]
    fn stream_body_holds_many_values() {
        let all = decode_all::<Msg>(b"{\"n\":1}\n{\"n\":2}").expect("two");
        assert_eq!(all, vec![Msg { n: 1 }, Msg { n: 2 }]);
        assert!(decode_all::<Msg>(b"").expect("none").is_empty());
    }
}
