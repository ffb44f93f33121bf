//! Every error the management API returns, mapped to AWS's REST JSON shape in this one place:
//! the status, `x-amzn-errortype` and `{"message": …}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::apis::ApiError;
use gatehouse_sigv4::SigV4Error;
use serde_json::json;

#[derive(Debug)]
pub enum WireError {
    Domain(ApiError),
    /// The body is not the JSON an operation takes.
    BadRequest(String),
    Signature(SigV4Error),
    TooLarge,
}

impl From<ApiError> for WireError {
    fn from(e: ApiError) -> Self {
        WireError::Domain(e)
    }
}

impl WireError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            WireError::BadRequest(m) => (StatusCode::BAD_REQUEST, "BadRequestException", m.clone()),
            WireError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "BadRequestException",
                format!(
                    "Request body is larger than {} bytes.",
                    crate::MAX_BODY_BYTES
                ),
            ),
            // REST services answer every authentication failure with 403.
            WireError::Signature(e) => (StatusCode::FORBIDDEN, e.aws_error_type(), e.message()),
            WireError::Domain(e) => match e {
                ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "NotFoundException", m.clone()),
                ApiError::BadRequest(m) => {
                    (StatusCode::BAD_REQUEST, "BadRequestException", m.clone())
                }
                ApiError::Conflict(m) => (StatusCode::CONFLICT, "ConflictException", m.clone()),
                ApiError::Internal(m) => {
                    tracing::error!(error = %m, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalServerErrorException",
                        "Internal server error".into(),
                    )
                }
                ApiError::Unavailable(m) => {
                    tracing::error!(error = %m, "dependency unavailable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailableException",
                        "The service is temporarily unavailable; try again.".into(),
                    )
                }
            },
        }
    }
}

/// `ExceptionName: message`, as a client would show the error.
impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, kind, message) = self.parts();
        write!(f, "{kind}: {message}")
    }
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let (status, kind, message) = self.parts();
        let mut resp = (status, json!({ "message": message }).to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(kind));
        resp
    }
}
