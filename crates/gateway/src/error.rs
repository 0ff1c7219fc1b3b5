//! The crate's one error type and its mapping onto `tonic::Status`.

use tonic::Status;

/// Everything that can go wrong inside the gateway itself (as opposed to a
/// `tonic::Status` returned by a service).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request body is not valid JSON for the RPC's request message.
    /// grpc-gateway v1 answers this with InvalidArgument (HTTP 400).
    #[error("{}", json_message(.0))]
    BadJson(#[from] serde_json::Error),
    /// A decoded request could not be re-encoded as protobuf for a
    /// client-streaming call.
    #[error("failed to encode request: {0}")]
    Encode(#[from] prost::EncodeError),
    /// A single request message is larger than a gRPC frame can carry.
    #[error("request message of {0} bytes is too large")]
    MessageTooLarge(usize),
    /// A response message could not be rendered as JSON.
    #[error("failed to marshal response: {0}")]
    Marshal(serde_json::Error),
}

/// A JSON error's text. A value's own error (a bad base64 string: Go's
/// `illegal base64 data at input byte N`, from the patched pbjson) is given without
/// serde_json's ` at line L column C`, as grpc-gateway gives it.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.classify() == serde_json::error::Category::Data && e.line() > 0 {
        let position = format!(" at line {} column {}", e.line(), e.column());
        if let Some(message) = text.strip_suffix(&position) {
            return message.to_string();
        }
    }
    text
}

impl From<GatewayError> for Status {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::BadJson(_) => Status::invalid_argument(err.to_string()),
            GatewayError::MessageTooLarge(_) => Status::invalid_argument(err.to_string()),
            GatewayError::Encode(_) | GatewayError::Marshal(_) => Status::internal(err.to_string()),
        }
    }
}
