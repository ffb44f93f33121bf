//! HTTP_PROXY integrations: the request passed on to the integration URI (path variables and
//! stage variables substituted, the query string kept), bodies streamed both ways, hop-by-hop
//! headers dropped, `X-Forwarded-*` set, over the pooled client; `timeoutInMillis` bounds the
//! wait for the response headers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::response::Response;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::client::HttpClient;
use crate::error::Reject;
use crate::upstream;

/// Characters escaped when a path parameter is put back into a URI path.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/');

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Parsed once: removing by `&str` would parse and hash each name again on every request.
const HOPS: usize = 8;
const HOP_BY_HOP: [HeaderName; HOPS] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One look over the names (standard ones compare as small integers), then removals of
    // only those present: most messages carry none, or just `Connection: keep-alive`.
    let mut present = [false; HOPS];
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present[i] = true;
        }
    }
    if !present.contains(&true) {
        return;
    }
    // Names listed in `Connection` go too; `close` and `keep-alive` are options, not names
    // of other headers (and `keep-alive` is removed anyway). Nothing is allocated for those.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.eq_ignore_ascii_case("close") && !n.eq_ignore_ascii_case("keep-alive"))
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
}

/// The integration URI with `{param}`, `{proxy}` and `${stageVariables.x}` filled in.
pub fn target_uri(
    template: &str,
    path_parameters: &[(String, String)],
    stage_variables: &HashMap<String, String>,
    query: Option<&str>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let dollar = start > 0 && rest.as_bytes()[start - 1] == b'$';
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        let value = if dollar {
            name.strip_prefix("stageVariables.")
                .and_then(|v| stage_variables.get(v))
                .cloned()
        } else {
            let name = name.trim_end_matches('+');
            path_parameters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| {
                    v.split('/')
                        .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                })
        };
        let keep = if dollar { start - 1 } else { start };
        out.push_str(&rest[..keep]);
        out.push_str(value.as_deref().unwrap_or(""));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(q);
    }
    out
}

/// What the proxy needs to know about the request beyond the request itself.
pub struct Forward<'a> {
    /// For warnings (the gateway listener has no per-request span).
    pub request_id: &'a str,
    pub uri: String,
    pub method: Option<&'a str>,
    pub timeout: Duration,
    pub client_ip: Option<IpAddr>,
    pub host: Option<HeaderValue>,
}

pub async fn forward(
    client: &HttpClient,
    fwd: Forward<'_>,
    req: Request<Body>,
) -> Result<Response, Reject> {
    let (parts, body) = req.into_parts();
    let uri: Uri = fwd.uri.parse().map_err(|e| {
        tracing::warn!(request_id = fwd.request_id, uri = %fwd.uri, error = %e, "integration URI is not a valid URI");
        Reject::Internal
    })?;
    let method = match fwd.method.filter(|m| !m.eq_ignore_ascii_case("ANY")) {
        Some(m) => {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| Reject::Internal)?
        }
        None => parts.method.clone(),
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    if let Some(ip) = fwd.client_ip {
        let prev = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok());
        let mut xff = String::with_capacity(prev.map_or(0, |p| p.len() + 2) + 39);
        if let Some(prev) = prev {
            xff.push_str(prev);
            xff.push_str(", ");
        }
        push_ip(&mut xff, ip);
        if let Ok(v) = HeaderValue::try_from(xff) {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    if let Some(host) = fwd.host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    // Most proxied requests carry no body and go to a plain-http upstream: the data plane's
    // own client sends those (upstream.rs).
    let has_body = !HttpBody::is_end_stream(&body);
    if upstream::can_send(&uri, has_body) {
        return match tokio::time::timeout(fwd.timeout, upstream::send(method, uri, headers)).await {
            Err(_) => Err(Reject::Unavailable),
            Ok(Err(e)) => {
                tracing::warn!(request_id = fwd.request_id, uri = %fwd.uri, error = %e, "integration request failed");
                Err(Reject::Internal)
            }
            Ok(Ok(mut resp)) => {
                strip_hop_by_hop(resp.headers_mut());
                Ok(resp)
            }
        };
    }
    // Bodies without a Content-Length are held to the payload limit as they stream; a request
    // without a body (most GETs) needs no limit, nor the allocation of one.
    let body = if !has_body {
        Body::empty()
    } else {
        Body::new(http_body_util::Limited::new(
            body,
            crate::MAX_PAYLOAD as usize,
        ))
    };
    let mut out = Request::new(body);
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    *out.headers_mut() = headers;
    let resp = match tokio::time::timeout(fwd.timeout, client.request(out)).await {
        Err(_) => return Err(Reject::Unavailable),
        Ok(Err(e)) => {
            if too_large(&e) {
                return Err(Reject::PayloadTooLarge);
            }
            tracing::warn!(request_id = fwd.request_id, uri = %fwd.uri, error = %e, "integration request failed");
            return Err(Reject::Internal);
        }
        Ok(Ok(r)) => r,
    };
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// Appends `ip` as text. IPv4 by hand: `Ipv4Addr`'s `Display` goes through the formatter's
/// padding and cost ~1,500 instructions, about 1% of a proxied request's.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if o >= 100 {
                    out.push(char::from(b'0' + o / 100));
                }
                if o >= 10 {
                    out.push(char::from(b'0' + o / 10 % 10));
                }
                out.push(char::from(b'0' + o % 10));
            }
        }
        IpAddr::V6(_) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{ip}");
        }
    }
}

/// Whether the request failed because its body outgrew the payload limit.
fn too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_variables() {
        let params = vec![
            ("proxy".to_string(), "a/b c/d".to_string()),
            ("id".to_string(), "x?y".to_string()),
        ];
        let vars = HashMap::from([("host".to_string(), "backend:9".to_string())]);
        assert_eq!(
            target_uri(
                "http://${stageVariables.host}/p/{id}/{proxy}",
                &params,
                &vars,
                Some("q=1")
            ),
            "http://backend:9/p/x%3Fy/a/b%20c/d?q=1"
        );
        assert_eq!(
            target_uri("http://h/x?a=1", &[], &vars, Some("b=2")),
            "http://h/x?a=1&b=2"
        );
        assert_eq!(
            target_uri("http://h/{proxy+}", &params, &vars, None),
            "http://h/a/b%20c/d"
        );
    }

    #[test]
    fn formats_ips_as_display_does() {
        let ips = [
            "0.0.0.0",
            "127.0.0.1",
            "9.10.99.100",
            "255.255.255.255",
            "10.200.3.45",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.1",
        ];
        for text in ips {
            let ip: IpAddr = text.parse().unwrap();
            let mut out = String::from("x");
            push_ip(&mut out, ip);
            assert_eq!(out, format!("x{ip}"));
        }
        for a in 0..=255u8 {
            let ip = IpAddr::from([a, 255 - a, a / 3, a % 7]);
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn strips_hop_by_hop() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-custom"));
        h.insert("x-custom", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("5"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-keep"));

        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("Keep-Alive"));
        h.insert("content-length", HeaderValue::from_static("2"));
        h.append("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["content-length"]);

        let mut h = HeaderMap::new();
        h.insert("x-plain", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
    }
}
