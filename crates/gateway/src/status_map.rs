//! gRPC code → HTTP status, as etcd 3.4.23's grpc-gateway v1 does it.

use http::StatusCode;
use tonic::Code;

/// The HTTP status the etcd 3.4 gateway answers for a gRPC `code`.
///
/// This is grpc-gateway v1's `HTTPStatusFromCode` as observed on etcd 3.4.23
/// (note `FailedPrecondition` → 412 and `Canceled` → 408; grpc-gateway v2,
/// used by etcd 3.6+, answers 400 and 499 instead).
pub fn http_status_for(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::Aborted => StatusCode::CONFLICT,
        Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_34_observed_codes() {
        assert_eq!(
            http_status_for(Code::InvalidArgument),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status_for(Code::OutOfRange), StatusCode::BAD_REQUEST);
        assert_eq!(http_status_for(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status_for(Code::FailedPrecondition),
            StatusCode::PRECONDITION_FAILED
        );
    }

    #[test]
    fn grpc_gateway_v1_codes() {
        assert_eq!(http_status_for(Code::Cancelled).as_u16(), 408);
        assert_eq!(http_status_for(Code::DeadlineExceeded).as_u16(), 504);
        assert_eq!(http_status_for(Code::ResourceExhausted).as_u16(), 429);
        assert_eq!(http_status_for(Code::Unauthenticated).as_u16(), 401);
        assert_eq!(http_status_for(Code::PermissionDenied).as_u16(), 403);
        assert_eq!(http_status_for(Code::Unavailable).as_u16(), 503);
        assert_eq!(http_status_for(Code::Unimplemented).as_u16(), 501);
        assert_eq!(http_status_for(Code::DataLoss).as_u16(), 500);
    }
}
