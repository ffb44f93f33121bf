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
        }
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
