//! Every error the Cognito API returns, mapped to AWS's shape in this one place:
//! HTTP status, `x-amzn-errortype` and `{"__type", "message"}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::Error;
use gatehouse_sigv4::SigV4Error;
use serde_json::json;

#[derive(Debug)]
pub enum WireError {
    Domain(Error),
    Serialization(String),
    UnknownOperation(String),
    /// No `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>` header.
    MissingTarget,
    Signature(SigV4Error),
    TooLarge,
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        WireError::Domain(e)
    }
}

impl WireError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            WireError::Serialization(m) => (bad, "SerializationException", m.clone()),
            WireError::UnknownOperation(op) => (
                bad,
                "UnknownOperationException",
                format!(
                    "Unknown operation {}: this server does not support it.",
                    clip(op)
                ),
            ),
            WireError::MissingTarget => (
                bad,
                "UnknownOperationException",
                format!(
                    "Missing or malformed X-Amz-Target header: expected {}<Operation>.",
                    crate::TARGET_PREFIX
                ),
            ),
            WireError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "SerializationException",
                format!(
                    "Request body is larger than {} bytes.",
                    crate::MAX_BODY_BYTES
                ),
            ),
            WireError::Signature(e) => {
                let status = match e {
                    SigV4Error::Missing => StatusCode::FORBIDDEN,
                    _ => bad,
                };
                (status, e.aws_error_type(), e.message())
            }
            WireError::Domain(e) => {
                let kind = match e {
                    Error::InvalidParameter(_) => "InvalidParameterException",
                    Error::InvalidPassword(_) => "InvalidPasswordException",
                    Error::NotAuthorized(_) => "NotAuthorizedException",
                    Error::ResourceNotFound(_) => "ResourceNotFoundException",
                    Error::UserNotFound(_) => "UserNotFoundException",
                    Error::UsernameExists(_) => "UsernameExistsException",
                    Error::AliasExists(_) => "AliasExistsException",
                    Error::GroupExists(_) => "GroupExistsException",
                    Error::UserNotConfirmed(_) => "UserNotConfirmedException",
                    Error::PasswordResetRequired(_) => "PasswordResetRequiredException",
                    Error::CodeMismatch(_) => "CodeMismatchException",
                    Error::ExpiredCode(_) => "ExpiredCodeException",
                    Error::LimitExceeded(_) => "LimitExceededException",
                    Error::TooManyRequests(_) => "TooManyRequestsException",
                    Error::InvalidUserPoolConfiguration(_) => {
                        "InvalidUserPoolConfigurationException"
                    }
                    Error::UnsupportedOperation(_) => "UnsupportedOperationException",
                    Error::UnsupportedUserState(_) => "UnsupportedUserStateException",
                    Error::CodeDeliveryFailure(_) => "CodeDeliveryFailureException",
                    Error::EnableSoftwareTokenMfa(_) => "EnableSoftwareTokenMFAException",
                    Error::SoftwareTokenMfaNotFound(_) => "SoftwareTokenMFANotFoundException",
                    Error::Unauthorized(_) => "UnauthorizedException",
                    Error::UnsupportedTokenType(_) => "UnsupportedTokenTypeException",
                    Error::ScopeDoesNotExist(_) => "ScopeDoesNotExistException",
                    Error::InvalidOAuthFlow(_) => "InvalidOAuthFlowException",
                    Error::Internal(_) => "InternalErrorException",
                    Error::Unavailable(_) => "InternalErrorException",
                    Error::ConcurrentModification(_) => "ConcurrentModificationException",
                };
                match e {
                    Error::Internal(m) => {
                        tracing::error!(error = %m, "internal error");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            kind,
                            "Internal error.".into(),
                        )
                    }
                    Error::Unavailable(m) => {
                        tracing::error!(error = %m, "dependency unavailable");
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            kind,
                            "The service is temporarily unavailable; try again.".into(),
                        )
                    }
                    other => (bad, kind, other.to_string()),
                }
            }
        }
    }
}

/// `ExceptionName: message`, as a client would show the error.
impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, kind, message) = self.parts();
        if message.is_empty() {
            f.write_str(kind)
        } else {
            write!(f, "{kind}: {message}")
        }
    }
}

/// Client-supplied text echoed in a message, cut short.
fn clip(v: &str) -> String {
    let mut s: String = v.chars().take(128).collect();
    if v.chars().count() > 128 {
        s.push_str("...");
    }
    s
}

impl IntoResponse for WireError {
    fn into_response(self) -> Response {
        let (status, kind, message) = self.parts();
        let body = if message.is_empty() {
            json!({ "__type": kind })
        } else {
            json!({ "__type": kind, "message": message })
        };
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        if let Ok(v) = HeaderValue::from_str(kind) {
            h.insert("x-amzn-errortype", v);
        }
        resp
    }
}
