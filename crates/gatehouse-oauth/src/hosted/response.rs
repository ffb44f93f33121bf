//! How every hosted response leaves: HTML with a per-response CSP nonce and the security
//! headers, or a redirect that carries no cache and no referrer.

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::env::{random_bytes, Random};

pub fn nonce(rng: &dyn Random) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<18>(rng))
}

/// The CSP source for where a form's redirect may lead: Chrome applies `form-action` to the
/// redirect after a POST, so the client's callback origin must be allowed. None when the URI
/// is not something a CSP source can name safely (then the directive is left out).
pub fn redirect_source(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Some(format!("{scheme}:"));
    }
    let authority = rest.strip_prefix("//")?;
    let authority = authority
        .split(['/', '?', '#'])
        .next()
        .filter(|a| !a.is_empty())?;
    let safe = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    safe.then(|| format!("{scheme}://{authority}"))
}

fn csp(nonce: &str, form_target: Option<&str>) -> String {
    let form_action = match form_target {
        Some(t) => format!("form-action 'self' {t}; "),
        None => String::new(),
    };
    format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' https: data:; {form_action}frame-ancestors 'none'; base-uri 'none'"
    )
}

fn common(b: http::response::Builder) -> http::response::Builder {
    b.header(header::CACHE_CONTROL, "no-store")
        .header(header::PRAGMA, "no-cache")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        )
}

fn with_cookies(
    mut b: http::response::Builder,
    cookies: &[HeaderValue],
) -> http::response::Builder {
    for c in cookies {
        b = b.header(header::SET_COOKIE, c.clone());
    }
    b
}

fn fallback(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// An HTML page. `form_target`: the CSP source of where the page's forms may redirect.
pub fn html(
    status: StatusCode,
    body: String,
    nonce: &str,
    form_target: Option<&str>,
    cookies: &[HeaderValue],
) -> Response {
    let b = common(Response::builder().status(status))
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(
            HeaderName::from_static("content-security-policy"),
            csp(nonce, form_target),
        );
    with_cookies(b, cookies)
        .body(Body::from(body))
        .unwrap_or_else(|_| fallback(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A 302 to `location` (a registered callback or logout URL, or one of our pages).
pub fn redirect(location: &str, cookies: &[HeaderValue]) -> Response {
    let Ok(loc) = HeaderValue::from_str(location) else {
        return fallback(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let b = common(Response::builder().status(StatusCode::FOUND)).header(header::LOCATION, loc);
    with_cookies(b, cookies)
        .body(Body::empty())
        .unwrap_or_else(|_| fallback(StatusCode::INTERNAL_SERVER_ERROR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_sources() {
        assert_eq!(
            redirect_source("https://app.example.com:8443/cb?x=1").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            redirect_source("http://localhost:3000/callback").as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(
            redirect_source("myapp://callback").as_deref(),
            Some("myapp:")
        );
        assert_eq!(redirect_source("https://a b/"), None);
        assert_eq!(redirect_source("https://a;script-src */"), None);
        assert_eq!(redirect_source("no-scheme"), None);
    }

    #[test]
    fn pages_carry_the_security_headers() {
        let r = html(
            StatusCode::OK,
            "<p>x</p>".into(),
            "abc",
            Some("https://a"),
            &[],
        );
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("style-src 'nonce-abc'"));
        assert!(csp.contains("form-action 'self' https://a"));
        assert!(!csp.contains("script-src"));
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
        assert_eq!(
            h.get("cache-control").map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        assert_eq!(
            h.get("referrer-policy").map(|v| v.as_bytes()),
            Some(&b"no-referrer"[..])
        );
    }
}
