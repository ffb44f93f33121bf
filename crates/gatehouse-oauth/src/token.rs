//! `/oauth2/token` (RFC 6749 §3.2), `/oauth2/userInfo` (OIDC Core §5.3) and `/oauth2/revoke`
//! (RFC 7009): form in, JSON out, RFC 6749's error shapes.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_core::oauth::{OAuthError, TokenRequest};
use gatehouse_core::{Directory, Error};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

/// Token requests are a few hundred bytes; anything much larger is not one.
const MAX_FORM: usize = 64 * 1024;
/// Nor has one more than a handful of parameters (extensions included).
const MAX_PARAMS: usize = 64;

pub fn router(directory: Arc<Directory>) -> Router {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/oauth2/userInfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .with_state(directory)
}

/// RFC 6749 §5.1: never cached.
fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn oauth_error(e: &OAuthError, basic: bool) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = (
        status,
        Json(json!({ "error": e.error, "error_description": e.description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED && basic {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gatehouse\""),
        );
    }
    if e.error == "server_error" {
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    no_store(r)
}

fn bad_request(description: &str) -> OAuthError {
    OAuthError::new("invalid_request", description)
}

/// The form of a POST: `application/x-www-form-urlencoded`, UTF-8, each parameter at most once
/// (RFC 6749 §3.2).
async fn form(req: Request) -> Result<(HeaderMap, Vec<(String, String)>), OAuthError> {
    let (parts, body) = req.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(bad_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| bad_request("The request body is too large"))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad_request("The body is not UTF-8"))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text)
        .map_err(|_| bad_request("The body is not a valid form"))?;
    // Counted before the repeat check, which is quadratic.
    if pairs.len() > MAX_PARAMS {
        return Err(bad_request("Too many parameters"));
    }
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(prev, _)| prev == k) {
            return Err(bad_request(&format!("Parameter {k} is repeated")));
        }
    }
    Ok((parts.headers, pairs))
}

fn take(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `Authorization: Basic` with form-encoded id and secret (RFC 6749 §2.3.1). `Ok(None)` when
/// the header is absent or another scheme.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let invalid = || OAuthError::new("invalid_client", "Malformed Basic credentials");
    let value = value.to_str().map_err(|_| invalid())?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| invalid())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    let unform = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| invalid())
    };
    Ok(Some((unform(id)?, unform(secret)?)))
}

fn token_request(
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<TokenRequest, OAuthError> {
    Ok(TokenRequest {
        grant_type: take(pairs, "grant_type"),
        code: take(pairs, "code"),
        redirect_uri: take(pairs, "redirect_uri"),
        code_verifier: take(pairs, "code_verifier"),
        refresh_token: take(pairs, "refresh_token"),
        scope: take(pairs, "scope"),
        client_id: take(pairs, "client_id"),
        client_secret: take(pairs, "client_secret"),
        basic: basic(headers)?,
    })
}

async fn token(State(dir): State<Arc<Directory>>, req: Request) -> Response {
    let used_basic = req.headers().contains_key(header::AUTHORIZATION);
    let result = async {
        let (headers, pairs) = form(req).await?;
        let request = token_request(&headers, &pairs)?;
        dir.oauth_token(&request).await
    }
    .await;
    match result {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "expires_in": t.expires_in,
                "token_type": "Bearer",
            });
            if let Some(obj) = body.as_object_mut() {
                if let Some(id) = t.id_token {
                    obj.insert("id_token".into(), Value::String(id));
                }
                if let Some(r) = t.refresh_token {
                    obj.insert("refresh_token".into(), Value::String(r));
                }
            }
            no_store(Json(body).into_response())
        }
        Err(e) => oauth_error(&e, used_basic),
    }
}

/// The bearer token of a userInfo request: the header (RFC 6750 §2.1), or for a POST the
/// `access_token` form member (§2.2).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    let mut r = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(r)
}

async fn userinfo(State(dir): State<Arc<Directory>>, req: Request) -> Response {
    let from_header = bearer(req.headers());
    let token = match (from_header, req.method() == Method::POST) {
        (Some(t), _) => t,
        (None, true) => match form(req).await {
            Ok((_, pairs)) => match take(&pairs, "access_token") {
                Some(t) if !t.is_empty() => t,
                _ => return missing_token(),
            },
            Err(_) => return missing_token(),
        },
        (None, false) => return missing_token(),
    };
    match dir.oauth_userinfo(&token).await {
        Ok(claims) => no_store(Json(Value::Object(claims)).into_response()),
        Err(e) if e.error == "insufficient_scope" => {
            bearer_error(StatusCode::FORBIDDEN, e.error, &e.description)
        }
        Err(e) if e.error == "server_error" => oauth_error(&e, false),
        Err(e) => bearer_error(StatusCode::UNAUTHORIZED, e.error, &e.description),
    }
}

fn missing_token() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_request", "error_description": "Bearer access token required" })),
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"gatehouse\""),
    );
    no_store(r)
}

async fn revoke(State(dir): State<Arc<Directory>>, req: Request) -> Response {
    let used_basic = req.headers().contains_key(header::AUTHORIZATION);
    let result = async {
        let (headers, pairs) = form(req).await?;
        let request = token_request(&headers, &pairs)?;
        let token = take(&pairs, "token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad_request("token is required"))?;
        let client = dir.oauth_client(&request).await?;
        let secret = request
            .basic
            .as_ref()
            .map(|(_, s)| s.clone())
            .or(request.client_secret.clone());
        match dir
            .revoke_token(&client.client_id, secret.as_deref(), &token)
            .await
        {
            Ok(()) => Ok(()),
            Err(Error::Unauthorized(m)) => Err(OAuthError::new("invalid_client", m)),
            Err(Error::UnsupportedTokenType(m)) => {
                Err(OAuthError::new("unsupported_token_type", m))
            }
            Err(Error::UnsupportedOperation(m)) => Err(OAuthError::new("unauthorized_client", m)),
            // RFC 7009 §2.2: an invalid token is not an error for the revocation endpoint.
            Err(Error::NotAuthorized(_)) | Err(Error::InvalidParameter(_)) => Ok(()),
            Err(e) => Err(OAuthError::from(e)),
        }
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(&e, used_basic),
    }
}
