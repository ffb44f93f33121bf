//! JWT authorizers with API Gateway's semantics: the token from the identity source (`Bearer `
//! optional), a signature by a key of the issuer (RS256 or ES256), `iss` equal to the
//! configured issuer, `aud` in the audience (or `client_id` when there is no `aud`), `exp`,
//! `nbf` and `iat` with a small leeway, then the route's scopes. Tokens of our own pools are
//! checked against the directory's in-memory keys and its revocations; others against the
//! issuer's JWKS (jwks.rs).

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::Directory;
use serde_json::{Map, Value};

use crate::jwks::{JwksCache, PublicKey};
use crate::snapshot::{IdentitySource, JwtAuthorizer};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a request was refused by its authorizer.
#[derive(Debug, Clone, PartialEq)]
pub enum Denied {
    /// 401; `None` when no token was presented.
    Unauthorized(Option<String>),
    /// 403: the token is valid but has none of the route's scopes.
    Forbidden,
}

fn invalid(desc: &str) -> Denied {
    Denied::Unauthorized(Some(desc.to_string()))
}

/// A token that passed its authorizer: its claims and scopes, for integrations.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub claims: Map<String, Value>,
    pub scopes: Vec<String>,
}

/// The token named by the identity source, without an optional `Bearer ` prefix.
pub fn identity<'a>(
    sources: &[IdentitySource],
    headers: &'a http::HeaderMap,
    query: Option<&'a str>,
) -> Option<String> {
    for s in sources {
        let raw = match s {
            IdentitySource::Header(h) => headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            IdentitySource::QueryString(q) => query.and_then(|qs| {
                qs.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_encoding::percent_decode_str(k).decode_utf8_lossy() == q.as_str())
                        .then(|| {
                            percent_encoding::percent_decode_str(&v.replace('+', " "))
                                .decode_utf8_lossy()
                                .into_owned()
                        })
                })
            }),
        };
        if let Some(v) = raw {
            let v = v.trim();
            let token = match v.get(..7) {
                Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
                _ => v,
            };
            if !token.is_empty() {
                return Some(token.to_string());
            }
        }
    }
    None
}

struct Parsed<'a> {
    alg: String,
    kid: Option<String>,
    claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn parse(token: &str) -> Option<Parsed<'_>> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    Some(Parsed {
        alg: header.get("alg")?.as_str()?.to_string(),
        kid: header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string),
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: URL_SAFE_NO_PAD.decode(s).ok()?,
    })
}

fn num(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims
        .get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// The scopes a token carries: `scope` (space separated) or `scp` (array or string).
pub fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_string)),
            Some(Value::Array(a)) => {
                out.extend(a.iter().filter_map(Value::as_str).map(str::to_string))
            }
            _ => {}
        }
    }
    out
}

/// Runs an authorizer over a presented token.
pub async fn authorize(
    directory: &Directory,
    jwks: &JwksCache,
    authorizer: &JwtAuthorizer,
    token: Option<&str>,
    route_scopes: &[String],
) -> Result<Authorized, Denied> {
    let token = token.ok_or(Denied::Unauthorized(None))?;
    if authorizer.issuer.is_empty() {
        return Err(invalid("the authorizer is not configured"));
    }
    let parsed = parse(token).ok_or_else(|| invalid("the token is malformed"))?;
    let claims = &parsed.claims;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss != authorizer.issuer {
        return Err(invalid("the token has an invalid issuer"));
    }
    let own_pool = directory.own_pool_of_issuer(iss).map(str::to_string);
    let signature_ok = match &own_pool {
        Some(pool) => {
            if parsed.alg != "RS256" {
                false
            } else {
                let kid = parsed.kid.as_deref().unwrap_or("");
                directory
                    .verify_pool_signature(
                        pool,
                        kid,
                        parsed.signing_input.as_bytes(),
                        &parsed.signature,
                    )
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "loading pool keys failed");
                        invalid("the signing key could not be loaded")
                    })?
            }
        }
        None => {
            let key: Arc<PublicKey> = jwks
                .key(iss, parsed.kid.as_deref())
                .await
                .map_err(|e| invalid(&e))?;
            key.verify(
                &parsed.alg,
                parsed.signing_input.as_bytes(),
                &parsed.signature,
            )
        }
    };
    if !signature_ok {
        return Err(invalid("signature is invalid"));
    }
    let now = directory.now();
    match num(claims, "exp") {
        Some(exp) if exp + LEEWAY_SECS > now => {}
        Some(_) => return Err(invalid("the token has expired")),
        None => return Err(invalid("the token has no exp")),
    }
    if num(claims, "nbf").is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
        return Err(invalid("the token is not valid yet"));
    }
    if num(claims, "iat").is_some_and(|iat| iat - LEEWAY_SECS > now) {
        return Err(invalid("the token was issued in the future"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => authorizer.audience.iter().any(|x| x == a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| authorizer.audience.iter().any(|x| x == a)),
        Some(_) => false,
        None => claims
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(|c| authorizer.audience.iter().any(|x| x == c)),
    };
    if !audience_ok {
        return Err(invalid("the token does not have a valid audience"));
    }
    if let Some(pool) = &own_pool {
        match directory.is_token_revoked(pool, claims).await {
            Ok(false) => {}
            Ok(true) => return Err(invalid("the token has been revoked")),
            Err(e) => {
                tracing::warn!(error = %e, "revocation check failed");
                return Err(invalid("the token could not be checked"));
            }
        }
    }
    let scopes = token_scopes(claims);
    if !route_scopes.is_empty() && !route_scopes.iter().any(|s| scopes.contains(s)) {
        return Err(Denied::Forbidden);
    }
    Ok(Authorized {
        claims: parsed.claims,
        scopes,
    })
}
