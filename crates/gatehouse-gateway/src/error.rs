//! How a request is refused, mapped to API Gateway's wire shapes in this one place.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};

/// A request the gateway answers itself instead of passing it on.
#[derive(Debug, Clone, PartialEq)]
pub enum Reject {
    NotFound,
    /// 401; the `error_description` of `WWW-Authenticate` when a token was presented.
    Unauthorized(Option<String>),
    Forbidden,
    PayloadTooLarge,
    /// The request line and headers exceed API Gateway's 10 240 bytes.
    HeadersTooLarge,
    TooManyRequests,
    /// Our fault or the integration's (unreachable, malformed answer).
    Internal,
    /// The integration did not answer within its timeout.
    Unavailable,
    /// The integration answered something unusable: a Lambda function error or a malformed
    /// proxy response. HTTP APIs answer 500, REST APIs 502.
    BadIntegrationResponse,
    /// REST APIs: no such stage, resource or method (AWS's 403 for what HTTP APIs call 404).
    MissingAuthenticationToken,
    /// REST APIs' Cognito authorizers: a good token past its `exp` (401 with its own message).
    TokenExpired,
    /// A usage plan's quota is used up for the key (REST APIs: 429 `Limit Exceeded`).
    QuotaExceeded,
    /// Shared rate limits could not be checked (Redis down, `--redis-fail-mode closed`).
    LimitsUnavailable,
}

impl Reject {
    pub fn status(&self) -> StatusCode {
        match self {
            Reject::NotFound => StatusCode::NOT_FOUND,
            Reject::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Reject::Forbidden => StatusCode::FORBIDDEN,
            Reject::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reject::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Reject::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Reject::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reject::BadIntegrationResponse => StatusCode::INTERNAL_SERVER_ERROR,
            Reject::MissingAuthenticationToken => StatusCode::FORBIDDEN,
            Reject::TokenExpired => StatusCode::UNAUTHORIZED,
            Reject::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Reject::LimitsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Reject::NotFound => "Not Found",
            Reject::Unauthorized(_) => "Unauthorized",
            Reject::Forbidden => "Forbidden",
            Reject::PayloadTooLarge => "Request Entity Too Large",
            Reject::HeadersTooLarge => "Request Header Fields Too Large",
            Reject::TooManyRequests => "Too Many Requests",
            Reject::Internal => "Internal Server Error",
            Reject::Unavailable => "Service Unavailable",
            Reject::BadIntegrationResponse => "Internal Server Error",
            Reject::MissingAuthenticationToken => "Missing Authentication Token",
            Reject::TokenExpired => "The incoming token has expired",
            Reject::QuotaExceeded => "Limit Exceeded",
            Reject::LimitsUnavailable => "Service Unavailable",
        }
    }

    /// The status, message and `x-amzn-ErrorType` a REST API (API Gateway v1) answers with:
    /// its gateway responses differ from HTTP APIs' in wording and in a few statuses.
    fn rest_shape(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Reject::NotFound | Reject::MissingAuthenticationToken => (
                StatusCode::FORBIDDEN,
                "Missing Authentication Token",
                "MissingAuthenticationTokenException",
            ),
            Reject::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "UnauthorizedException",
            ),
            Reject::TokenExpired => (
                StatusCode::UNAUTHORIZED,
                "The incoming token has expired",
                "UnauthorizedException",
            ),
            Reject::Forbidden => (StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException"),
            Reject::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Too Long",
                "RequestTooLongException",
            ),
            Reject::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request Header Fields Too Large",
                "RequestHeaderFieldsTooLargeException",
            ),
            Reject::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "TooManyRequestsException",
            ),
            // The QUOTA_EXCEEDED gateway response.
            Reject::QuotaExceeded => (
                StatusCode::TOO_MANY_REQUESTS,
                "Limit Exceeded",
                "LimitExceededException",
            ),
            Reject::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "InternalServerErrorException",
            ),
            Reject::BadIntegrationResponse => (
                StatusCode::BAD_GATEWAY,
                "Internal server error",
                "InternalServerErrorException",
            ),
            Reject::Unavailable => (
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out",
                "InternalServerErrorException",
            ),
            Reject::LimitsUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                "ServiceUnavailableException",
            ),
        }
    }

    /// The refusal as a REST API answers it: no `WWW-Authenticate` (Cognito authorizers send
    /// none), an `x-amzn-ErrorType` naming the gateway response.
    pub fn into_rest_response(self) -> Response {
        let (status, message, error_type) = self.rest_shape();
        let body = serde_json::json!({ "message": message }).to_string();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
        resp
    }

    pub fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message() }).to_string();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = self.status();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Reject::Unauthorized(desc) = &self {
            let value = match desc {
                Some(d) => format!(
                    "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{}\"",
                    d.replace(['"', '\\'], "")
                ),
                None => "Bearer".to_string(),
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}
