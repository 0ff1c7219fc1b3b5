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

    #[test]
    fn stream_body_holds_many_values() {
        let all = decode_all::<Msg>(b"{\"n\":1}\n{\"n\":2}").expect("two");
        assert_eq!(all, vec![Msg { n: 1 }, Msg { n: 2 }]);
        assert!(decode_all::<Msg>(b"").expect("none").is_empty());
    }
}
