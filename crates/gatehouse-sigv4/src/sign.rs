//! Client-side signing, for tests and tools that need to call Gatehouse the way the aws CLI
//! does (it shares the canonicalization with verification, so it is no independent check
//! of it; the crate's tests use botocore-signed fixtures for that).

use http::header::{AUTHORIZATION, HOST};
use http::{HeaderValue, Method, Uri};
use time::OffsetDateTime;

use crate::canonical::{
    canonical_headers, canonical_query, canonical_request_prefix, query_pairs, uri_encode,
    ALGORITHM, SIGNATURE_PARAM, UNSIGNED_PAYLOAD,
};
use crate::claim::MAX_PRESIGN_EXPIRES;
use crate::error::SigV4Error;
use crate::keys::Credentials;
use crate::signature::{sha256_hex, signature, signing_key, string_to_sign, Scope, TERMINATOR};
use crate::timestamp::format_amz_date;

/// Headers botocore never signs, because proxies may add, drop or rewrite them.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

fn scope(now: OffsetDateTime, region: &str, service: &str) -> (String, Scope) {
    let amz_date = format_amz_date(now);
    let date = amz_date.get(..8).unwrap_or_default().to_owned();
    (
        amz_date,
        Scope {
            date,
            region: region.to_owned(),
            service: service.to_owned(),
        },
    )
}

fn compute(
    credentials: &Credentials,
    amz_date: &str,
    scope: &Scope,
    canonical_request: &[u8],
) -> Result<String, SigV4Error> {
    let key =
        signing_key(&credentials.secret_access_key, scope).ok_or(SigV4Error::SignatureMismatch)?;
    let sts = string_to_sign(amz_date, scope, canonical_request);
    signature(&key, &sts)
        .map(hex::encode)
        .ok_or(SigV4Error::SignatureMismatch)
}

fn header_value(text: &str) -> Result<HeaderValue, SigV4Error> {
    HeaderValue::from_str(text)
        .map_err(|_| SigV4Error::malformed("value cannot be sent in an HTTP header"))
}

/// Signs a request in place like botocore: sets `X-Amz-Date` (and `Host` from the URI if
/// absent) and `Authorization`, signing every header present except hop-by-hop ones and
/// `User-Agent`. The payload hash is `x-amz-content-sha256` if set, else SHA-256 of `body`.
pub fn sign(
    parts: &mut http::request::Parts,
    body: &[u8],
    now: OffsetDateTime,
    credentials: &Credentials,
    region: &str,
    service: &str,
) -> Result<(), SigV4Error> {
    let (amz_date, scope) = scope(now, region, service);
    parts.headers.remove(AUTHORIZATION);
    parts.headers.insert("x-amz-date", header_value(&amz_date)?);
    if !parts.headers.contains_key(HOST) {
        let authority = parts.uri.authority().ok_or_else(|| {
            SigV4Error::malformed("request has neither a Host header nor an authority")
        })?;
        parts
            .headers
            .insert(HOST, header_value(authority.as_str())?);
    }
    let mut signed: Vec<String> = parts
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| !UNSIGNED_HEADERS.contains(&name.as_str()))
        .collect();
    signed.sort();
    signed.dedup();

    let payload_hash = match parts.headers.get("x-amz-content-sha256") {
        Some(value) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        None => sha256_hex(body),
    };
    let headers = canonical_headers(&parts.headers, None, &signed)
        .map_err(|_| SigV4Error::malformed("signed header missing"))?;
    let query = query_pairs(parts.uri.query().unwrap_or(""));
    let mut canonical_request = canonical_request_prefix(
        parts.method.as_str(),
        parts.uri.path(),
        &canonical_query(&query, false),
        &headers,
        &signed,
    );
    canonical_request.extend_from_slice(payload_hash.as_bytes());
    let sig = compute(credentials, &amz_date, &scope, &canonical_request)?;
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}/{}/{}/{TERMINATOR}, SignedHeaders={}, Signature={sig}",
        credentials.access_key_id,
        scope.date,
        scope.region,
        scope.service,
        signed.join(";"),
    );
    parts
        .headers
        .insert(AUTHORIZATION, header_value(&authorization)?);
    Ok(())
}

/// A presigned URL for `method uri`, valid for `expires_secs` seconds from `now`; signs
/// only `host` (taken from the URI's authority) and `UNSIGNED-PAYLOAD`, like S3's presigner.
pub fn presign(
    method: &Method,
    uri: &Uri,
    now: OffsetDateTime,
    expires_secs: u32,
    credentials: &Credentials,
    region: &str,
    service: &str,
) -> Result<Uri, SigV4Error> {
    if expires_secs > MAX_PRESIGN_EXPIRES {
        return Err(SigV4Error::malformed(
            "presigned URLs are valid for a week at most",
        ));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| SigV4Error::malformed("a presigned URL needs an absolute URI"))?;
    let (amz_date, scope) = scope(now, region, service);
    let credential = format!(
        "{}/{}/{}/{}/{TERMINATOR}",
        credentials.access_key_id, scope.date, scope.region, scope.service
    );
    let mut query = uri.query().map(str::to_owned).unwrap_or_default();
    for (name, value) in [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", amz_date.as_str()),
        ("X-Amz-Expires", &expires_secs.to_string()),
        ("X-Amz-SignedHeaders", "host"),
    ] {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&uri_encode(value.as_bytes()));
    }
    let mut headers = http::HeaderMap::new();
    headers.insert(HOST, header_value(authority.as_str())?);
    let signed = ["host".to_owned()];
    let canonical_headers = canonical_headers(&headers, None, &signed)
        .map_err(|_| SigV4Error::malformed("signed header missing"))?;
    let mut canonical_request = canonical_request_prefix(
        method.as_str(),
        uri.path(),
        &canonical_query(&query_pairs(&query), false),
        &canonical_headers,
        &signed,
    );
    canonical_request.extend_from_slice(UNSIGNED_PAYLOAD.as_bytes());
    let sig = compute(credentials, &amz_date, &scope, &canonical_request)?;
    let scheme = uri.scheme_str().unwrap_or("http");
    format!(
        "{scheme}://{authority}{}?{query}&{SIGNATURE_PARAM}={sig}",
        uri.path()
    )
    .parse()
    .map_err(|_| SigV4Error::malformed("presigned URL is not a valid URI"))
}
