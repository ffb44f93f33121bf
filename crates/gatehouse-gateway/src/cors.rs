//! CORS from the API's corsConfiguration: preflight requests answered by the gateway (before
//! any authorizer runs), and the CORS headers of other responses set from the configuration,
//! replacing whatever the backend sent, as API Gateway does.

use axum::body::Body;
use axum::response::Response;
use gatehouse_store::apis::Cors;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

fn allowed_origin(cors: &Cors, origin: &str) -> Option<HeaderValue> {
    if cors.allow_origins.iter().any(|o| o == origin) {
        return HeaderValue::from_str(origin).ok();
    }
    if cors.allow_origins.iter().any(|o| o == "*") {
        // With credentials a wildcard is not accepted by browsers: echo the origin.
        return if cors.allow_credentials == Some(true) {
            HeaderValue::from_str(origin).ok()
        } else {
            Some(HeaderValue::from_static("*"))
        };
    }
    None
}

fn join(list: &[String]) -> Option<HeaderValue> {
    if list.is_empty() {
        return None;
    }
    HeaderValue::from_str(&list.join(",")).ok()
}

/// The answer to a preflight request, when this is one and the API has CORS configured.
pub fn preflight(cors: Option<&Cors>, method: &Method, headers: &HeaderMap) -> Option<Response> {
    let cors = cors?;
    if method != Method::OPTIONS {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let requested = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let Some(allow) = allowed_origin(cors, origin) else {
        return Some(resp);
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if cors.allow_methods.iter().any(|m| m == "*") {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, requested.clone());
    } else if let Some(v) = join(&cors.allow_methods) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    if cors.allow_headers.iter().any(|m| m == "*") {
        if let Some(v) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
        }
    } else if let Some(v) = join(&cors.allow_headers) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    if let Some(age) = cors.max_age {
        if let Ok(v) = HeaderValue::from_str(&age.to_string()) {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, v);
        }
    }
    if cors.allow_credentials == Some(true) {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    Some(resp)
}

/// Sets the CORS headers of an actual (non-preflight) response.
pub fn decorate(cors: Option<&Cors>, origin: Option<&HeaderValue>, resp: &mut Response) {
    let Some(cors) = cors else {
        return;
    };
    let h = resp.headers_mut();
    for name in [
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::ACCESS_CONTROL_MAX_AGE,
    ] {
        h.remove(name);
    }
    let Some(origin) = origin.and_then(|o| o.to_str().ok()) else {
        return;
    };
    let Some(allow) = allowed_origin(cors, origin) else {
        return;
    };
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if cors.allow_credentials == Some(true) {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if let Some(v) = join(&cors.expose_headers) {
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
}
