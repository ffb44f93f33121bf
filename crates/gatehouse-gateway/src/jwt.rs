//! JWT authorizers with API Gateway's semantics: the token from the identity source (`Bearer `
//! optional), a signature by a key of the issuer (RS256 or ES256), `iss` equal to the
//! configured issuer, `aud` in the audience (or `client_id` when there is no `aud`), `exp`,
//! `nbf` and `iat` with a small leeway, then the route's scopes. Tokens of our own pools are
//! checked against the directory's in-memory keys and its revocations; others against the
//! issuer's JWKS (jwks.rs).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use gatehouse_core::{tokens, Directory};
use serde_json::{Map, Value};

use crate::jwks::{JwksCache, PublicKey};
use crate::snapshot::{IdentitySource, JwtAuthorizer};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;

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

/// A token that passed its authorizer: its claims, for integrations.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub claims: Arc<Map<String, Value>>,
}

impl Authorized {
    /// The token's scopes (worked out only for the integrations that pass them on).
    pub fn scopes(&self) -> Vec<String> {
        token_scopes(&self.claims)
    }
}

/// The token named by the identity source, without an optional `Bearer ` prefix. Borrowed
/// from the request when it comes from a header (no copy of the token per request).
pub fn identity<'a>(
    sources: &[IdentitySource],
    headers: &'a http::HeaderMap,
    query: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    for s in sources {
        let raw: Option<Cow<'a, str>> = match s {
            IdentitySource::Header(h) => headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .map(Cow::Borrowed),
            IdentitySource::QueryString(q) => query.and_then(|qs| {
                qs.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_encoding::percent_decode_str(k).decode_utf8_lossy() == q.as_str())
                        .then(|| {
                            Cow::Owned(
                                percent_encoding::percent_decode_str(&v.replace('+', " "))
                                    .decode_utf8_lossy()
                                    .into_owned(),
                            )
                        })
                })
            }),
        };
        if let Some(v) = raw {
            let token = match v {
                Cow::Borrowed(b) => Cow::Borrowed(strip_bearer(b)),
                Cow::Owned(o) => Cow::Owned(strip_bearer(&o).to_string()),
            };
            if !token.is_empty() {
                return Some(token);
            }
        }
    }
    None
}

/// The value without surrounding blanks and an optional (case-insensitive) `Bearer ` prefix.
fn strip_bearer(v: &str) -> &str {
    let v = v.trim();
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
        _ => v,
    }
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

/// Whether the token carries at least one of `wanted` (`scope` or `scp`), without copying.
pub fn has_any_scope(claims: &Map<String, Value>, wanted: &[String]) -> bool {
    ["scope", "scp"].iter().any(|name| match claims.get(*name) {
        Some(Value::String(s)) => s.split_whitespace().any(|t| wanted.iter().any(|w| w == t)),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|t| wanted.iter().any(|w| w == t)),
        _ => false,
    })
}

/// Tokens whose signature was verified, until they expire: the claims checks and revocation
/// still run on every request, the signature check once. Found by a 64-bit hash of the token
/// under a seed drawn at start-up (a fraction of a SHA-256's cost for a 1 KB token; nobody
/// outside can aim for a slot) and then compared in full, so only the very token that was
/// verified gets its claims. Sharded so concurrent requests rarely meet on a lock.
pub struct VerifiedTokens {
    seed: foldhash::quality::RandomState,
    shards: Vec<Shard>,
}

struct Verified {
    token: Box<str>,
    claims: Arc<Map<String, Value>>,
    exp: i64,
}

/// Hash of the token (already a hash: not hashed again) -> the token and its claims.
type Shard = RwLock<HashMap<u64, Verified, std::hash::BuildHasherDefault<PreHashed>>>;

/// The hasher of keys that are hashes already.
#[derive(Default)]
struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const SHARDS: usize = 16;
const PER_SHARD: usize = 4096;

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            seed: foldhash::quality::RandomState::default(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

impl VerifiedTokens {
    fn key(&self, token: &str) -> u64 {
        use std::hash::BuildHasher as _;
        self.seed.hash_one(token)
    }

    /// By middle bits of the hash: the map inside uses the low bits for its slot and the top
    /// seven for its tag, which should not be the same for every key of a shard.
    fn shard(&self, key: u64) -> Option<&Shard> {
        self.shards.get((key >> 32) as usize % SHARDS)
    }

    fn get(&self, key: u64, token: &str) -> Option<Arc<Map<String, Value>>> {
        let shard = self.shard(key)?.read().ok()?;
        shard
            .get(&key)
            .filter(|v| *v.token == *token)
            .map(|v| Arc::clone(&v.claims))
    }

    fn insert(&self, key: u64, token: &str, claims: Arc<Map<String, Value>>, exp: i64, now: i64) {
        let Some(Ok(mut shard)) = self.shard(key).map(|s| s.write()) else {
            return;
        };
        if shard.len() >= PER_SHARD {
            shard.retain(|_, v| v.exp + LEEWAY_SECS > now);
            if shard.len() >= PER_SHARD {
                shard.clear();
            }
        }
        shard.insert(
            key,
            Verified {
                token: token.into(),
                claims,
                exp,
            },
        );
    }
}

/// The token's claims once its signature is known good: from the cache, or parsed and
/// verified against the issuer's keys (only when its `iss` is the authorizer's issuer).
pub(crate) async fn verified_claims(
    directory: &Directory,
    jwks: &JwksCache,
    cache: &VerifiedTokens,
    token: &str,
    issuer: &str,
) -> Result<Arc<Map<String, Value>>, Denied> {
    let key = cache.key(token);
    if let Some(claims) = cache.get(key, token) {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(invalid("the token has an invalid issuer"));
        }
        return Ok(claims);
    }
    let parsed = tokens::parse(token).ok_or_else(|| invalid("the token is malformed"))?;
    let iss = parsed
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or("");
    if iss != issuer {
        return Err(invalid("the token has an invalid issuer"));
    }
    let signature_ok = match directory.own_pool_of_issuer(iss) {
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
    let claims = Arc::new(parsed.claims);
    if let Some(exp) = num(&claims, "exp") {
        cache.insert(key, token, Arc::clone(&claims), exp, directory.now());
    }
    Ok(claims)
}

/// Runs an authorizer over a presented token.
pub async fn authorize(
    directory: &Directory,
    jwks: &JwksCache,
    cache: &VerifiedTokens,
    authorizer: &JwtAuthorizer,
    token: Option<&str>,
    route_scopes: &[String],
) -> Result<Authorized, Denied> {
    let token = token.ok_or(Denied::Unauthorized(None))?;
    if authorizer.issuer.is_empty() {
        return Err(invalid("the authorizer is not configured"));
    }
    let verified = verified_claims(directory, jwks, cache, token, &authorizer.issuer).await?;
    let claims = &*verified;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let own_pool = directory.own_pool_of_issuer(iss);
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
    if let Some(pool) = own_pool {
        match directory.is_token_revoked(pool, claims).await {
            Ok(false) => {}
            Ok(true) => return Err(invalid("the token has been revoked")),
            Err(e) => {
                tracing::warn!(error = %e, "revocation check failed");
                return Err(invalid("the token could not be checked"));
            }
        }
    }
    if !route_scopes.is_empty() && !has_any_scope(claims, route_scopes) {
        return Err(Denied::Forbidden);
    }
    Ok(Authorized {
        claims: Arc::clone(&verified),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_header_or_query() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "  bearer  abc.def.ghi ".parse().unwrap());
        let header = [IdentitySource::Header("authorization".to_string())];
        let token = identity(&header, &headers, None).unwrap();
        assert_eq!(token, "abc.def.ghi");
        assert!(matches!(token, Cow::Borrowed(_)));
        headers.insert("authorization", "abc".parse().unwrap());
        assert_eq!(identity(&header, &headers, None).unwrap(), "abc");
        headers.insert("authorization", "Bearer  ".parse().unwrap());
        // As before: "Bearer" alone is taken for the token (and then fails verification).
        assert_eq!(identity(&header, &headers, None).unwrap(), "Bearer");
        headers.insert("authorization", "   ".parse().unwrap());
        assert_eq!(identity(&header, &headers, None), None);

        let query = [IdentitySource::QueryString("token".to_string())];
        let empty = http::HeaderMap::new();
        assert_eq!(
            identity(&query, &empty, Some("a=1&token=Bearer+x%2Ey")).unwrap(),
            "x.y"
        );
        assert_eq!(identity(&query, &empty, Some("a=1")), None);
    }
}
