//! REST APIs' Cognito user pool authorizers (`COGNITO_USER_POOLS`), with API Gateway's
//! semantics: the token from the identity source header (`Bearer ` optional), the
//! `identityValidationExpression` checked on it first, a signature by one of the named pools
//! (verified from memory, as jwt.rs does for our pools), then: without scopes on the method an
//! ID token (`token_use: id`, an `aud`), with scopes an access token holding one of them.
//! Every refusal is 401 `Unauthorized` except a good token past its `exp` (401 `The incoming
//! token has expired`). Revoked tokens are refused at the edge (beyond AWS). The claims are
//! kept as verified (shared with the signature cache); consumers render them as REST APIs do
//! (rest.rs `rest_claims`) only when they pass them on.

use gatehouse_core::{tokens, Directory};
use gatehouse_store::rest_apis::RestAuthorizer;
use http::{HeaderMap, HeaderName};
use regex::Regex;
use serde_json::{Map, Value};

use crate::error::Reject;
use crate::jwks::JwksCache;
use crate::jwt::{self, Authorized, VerifiedTokens};

/// A compiled Cognito authorizer.
#[derive(Debug)]
pub struct CognitoAuthorizer {
    pub id: String,
    pub name: String,
    /// The header the token comes in (`method.request.header.X`); `None` refuses everything.
    pub header: Option<HeaderName>,
    pub validation: Validation,
    /// The named pools: (pool id, issuer).
    pub pools: Vec<(String, String)>,
}

/// `identityValidationExpression`.
#[derive(Debug)]
pub enum Validation {
    None,
    /// Matched against the whole header value.
    Regex(Regex),
    /// Not a valid regex: nothing passes.
    Invalid,
}

impl CognitoAuthorizer {
    /// From the stored authorizer; `public_url` makes the issuers of the pools its
    /// `providerARNs` name (`arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}`).
    pub fn compile(a: &RestAuthorizer, public_url: &str) -> Self {
        let header = a
            .identity_source
            .as_deref()
            .unwrap_or("method.request.header.Authorization")
            .split(',')
            .find_map(|s| s.trim().strip_prefix("method.request.header."))
            .and_then(|h| HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok());
        let validation = match a
            .identity_validation_expression
            .as_deref()
            .filter(|e| !e.is_empty())
        {
            None => Validation::None,
            Some(e) => match crate::rest::whole_match(e) {
                Ok(re) => Validation::Regex(re),
                Err(err) => {
                    tracing::warn!(authorizer = %a.id, error = %err, "identityValidationExpression is not a valid regex; every token is refused");
                    Validation::Invalid
                }
            },
        };
        let base = public_url.trim_end_matches('/');
        let pools = a
            .provider_arns
            .iter()
            .filter_map(|arn| {
                let (_, pool) = arn.rsplit_once(":userpool/")?;
                (!pool.is_empty() && !pool.contains('/'))
                    .then(|| (pool.to_string(), format!("{base}/{pool}")))
            })
            .collect();
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            header,
            validation,
            pools,
        }
    }

    /// An authorizer that refuses everything: for a method whose authorizer is missing.
    pub fn closed() -> Self {
        Self {
            id: String::new(),
            name: String::new(),
            header: None,
            validation: Validation::Invalid,
            pools: Vec::new(),
        }
    }
}

/// The value without surrounding blanks and an optional (case-insensitive) `Bearer ` prefix:
/// API Gateway takes the raw token and `Bearer <token>` alike.
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

const UNAUTHORIZED: Reject = Reject::Unauthorized(None);

/// Runs a Cognito authorizer for a method with `scopes`.
pub async fn authorize(
    directory: &Directory,
    jwks: &JwksCache,
    cache: &VerifiedTokens,
    authorizer: &CognitoAuthorizer,
    headers: &HeaderMap,
    scopes: &[String],
) -> Result<Authorized, Reject> {
    let raw = authorizer
        .header
        .as_ref()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(UNAUTHORIZED)?;
    match &authorizer.validation {
        Validation::None => {}
        Validation::Regex(re) if re.is_match(raw) => {}
        _ => return Err(UNAUTHORIZED),
    }
    let token = strip_bearer(raw);
    let (pool_id, issuer) = match authorizer.pools.as_slice() {
        [] => return Err(UNAUTHORIZED),
        [(pool, issuer)] => (pool.as_str(), issuer.as_str()),
        pools => {
            // Which of the named pools: the token says, its signature will confirm.
            let parsed = tokens::parse(token).ok_or(UNAUTHORIZED)?;
            let iss = parsed.claims.get("iss").and_then(Value::as_str);
            pools
                .iter()
                .find(|(_, i)| Some(i.as_str()) == iss)
                .map(|(p, i)| (p.as_str(), i.as_str()))
                .ok_or(UNAUTHORIZED)?
        }
    };
    // Only our own pools: never let an authorizer's ARN send the gateway to fetch keys.
    if directory.own_pool_of_issuer(issuer) != Some(pool_id) {
        return Err(UNAUTHORIZED);
    }
    let claims = jwt::verified_claims(directory, jwks, cache, token, issuer)
        .await
        .map_err(|_| UNAUTHORIZED)?;
    let now = directory.now();
    match num(&claims, "exp") {
        Some(exp) if exp > now => {}
        Some(_) => return Err(Reject::TokenExpired),
        None => return Err(UNAUTHORIZED),
    }
    if num(&claims, "iat").is_some_and(|iat| iat - jwt::LEEWAY_SECS > now) {
        return Err(UNAUTHORIZED);
    }
    let token_use = claims.get("token_use").and_then(Value::as_str);
    if scopes.is_empty() {
        // An ID token of the pool: `aud` is the app client it was issued to.
        let aud_ok = claims
            .get("aud")
            .and_then(Value::as_str)
            .is_some_and(|a| !a.is_empty());
        if token_use != Some("id") || !aud_ok {
            return Err(UNAUTHORIZED);
        }
    } else if token_use != Some("access") || !jwt::has_any_scope(&claims, scopes) {
        return Err(UNAUTHORIZED);
    }
    match directory.is_token_revoked(pool_id, &claims).await {
        Ok(false) => {}
        Ok(true) => return Err(UNAUTHORIZED),
        Err(e) => {
            tracing::warn!(error = %e, "revocation check failed");
            return Err(UNAUTHORIZED);
        }
    }
    Ok(Authorized { claims })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use gatehouse_core::crypt::SecretBox;
    use gatehouse_core::env::{ManualClock, OsRandom};
    use gatehouse_core::messages::Outbox;
    use gatehouse_core::password::PasswordHasher;
    use gatehouse_core::pools::NewPool;
    use gatehouse_core::DirectoryConfig;
    use gatehouse_store::sqlite::SqliteStore;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const PUBLIC_URL: &str = "http://issuer.test:9229";

    struct Env {
        _dir: tempfile::TempDir,
        directory: Directory,
        clock: Arc<ManualClock>,
        jwks: JwksCache,
        cache: VerifiedTokens,
        pool: String,
        other_pool: String,
    }

    async fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("c.db")).unwrap());
        let clock = Arc::new(ManualClock::new(NOW));
        let directory = Directory::new(
            store,
            PasswordHasher::new(1).unwrap(),
            Arc::new(Outbox::new(dir.path().join("outbox.jsonl"))),
            clock.clone(),
            Arc::new(OsRandom),
            SecretBox::new(&[7u8; 32]).unwrap(),
            DirectoryConfig {
                public_url: PUBLIC_URL.into(),
                region: "us-east-1".into(),
                account_id: "000000000000".into(),
            },
        );
        let mut pools = Vec::new();
        for name in ["a", "b"] {
            let p = directory
                .create_pool(NewPool {
                    name: name.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            pools.push(p.id);
        }
        let client = crate::client::build().unwrap();
        Env {
            _dir: dir,
            directory,
            clock,
            jwks: JwksCache::new(client),
            cache: VerifiedTokens::default(),
            other_pool: pools.pop().unwrap(),
            pool: pools.pop().unwrap(),
        }
    }

    fn authorizer(pools: &[&str], validation: Option<&str>) -> CognitoAuthorizer {
        CognitoAuthorizer::compile(
            &RestAuthorizer {
                id: "a1".into(),
                name: "pool".into(),
                authorizer_type: "COGNITO_USER_POOLS".into(),
                provider_arns: pools
                    .iter()
                    .map(|p| format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{p}"))
                    .collect(),
                identity_source: Some("method.request.header.Authorization".into()),
                identity_validation_expression: validation.map(str::to_string),
                ..Default::default()
            },
            PUBLIC_URL,
        )
    }

    async fn token(e: &Env, pool: &str, claims: Value) -> String {
        let mut c = json!({
            "iss": format!("{PUBLIC_URL}/{pool}"),
            "sub": "u-1",
            "exp": NOW + 3600,
            "iat": NOW,
            "jti": uuid_like(),
        });
        for (k, v) in claims.as_object().unwrap() {
            c[k] = v.clone();
        }
        e.directory.sign_with_pool_key(pool, &c).await.unwrap()
    }

    fn uuid_like() -> String {
        crate::rest::request_uuid()
    }

    fn id_claims() -> Value {
        json!({"token_use": "id", "aud": "client-1", "cognito:groups": ["admin", "users"], "email_verified": true})
    }

    fn access_claims(scope: &str) -> Value {
        json!({"token_use": "access", "client_id": "client-1", "scope": scope})
    }

    async fn run(
        e: &Env,
        a: &CognitoAuthorizer,
        header: Option<&str>,
        scopes: &[&str],
    ) -> Result<Authorized, Reject> {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert("authorization", h.parse().unwrap());
        }
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        authorize(&e.directory, &e.jwks, &e.cache, a, &headers, &scopes).await
    }

    #[tokio::test]
    async fn id_tokens_without_scopes_access_tokens_with_them() {
        let e = env().await;
        let a = authorizer(&[&e.pool], None);
        let id = token(&e, &e.pool, id_claims()).await;
        let access = token(&e, &e.pool, access_claims("openid pets/read")).await;

        let ok = run(&e, &a, Some(&id), &[]).await.unwrap();
        let claims = crate::rest::rest_claims(&ok.claims);
        assert_eq!(claims["cognito:groups"], "admin,users");
        assert_eq!(claims["email_verified"], "true");
        assert_eq!(claims["exp"], "Fri Jan 15 09:00:00 UTC 2027");
        // `Bearer ` is optional, as API Gateway takes either.
        assert!(run(&e, &a, Some(&format!("Bearer {id}")), &[])
            .await
            .is_ok());
        // An access token where an ID token is wanted, and the other way round.
        assert_eq!(
            run(&e, &a, Some(&access), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        assert_eq!(
            run(&e, &a, Some(&id), &["pets/read"]).await.unwrap_err(),
            UNAUTHORIZED
        );
        // Scopes: one match is enough; none is a 401, as REST APIs answer.
        assert!(run(&e, &a, Some(&access), &["pets/write", "pets/read"])
            .await
            .is_ok());
        assert_eq!(
            run(&e, &a, Some(&access), &["pets/write"])
                .await
                .unwrap_err(),
            UNAUTHORIZED
        );
        // An ID token without aud is not one of the pool's.
        let no_aud = token(&e, &e.pool, json!({"token_use": "id"})).await;
        assert_eq!(
            run(&e, &a, Some(&no_aud), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn missing_malformed_forged_and_foreign_tokens_are_unauthorized() {
        let e = env().await;
        let a = authorizer(&[&e.pool], None);
        assert_eq!(run(&e, &a, None, &[]).await.unwrap_err(), UNAUTHORIZED);
        assert_eq!(
            run(&e, &a, Some("   "), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        assert_eq!(
            run(&e, &a, Some("not.a.jwt"), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        let id = token(&e, &e.pool, id_claims()).await;
        let forged = format!("{}AAAA", &id[..id.len() - 4]);
        assert_eq!(
            run(&e, &a, Some(&forged), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        // Signed by another of our pools, which the authorizer does not name.
        let other = token(&e, &e.other_pool, id_claims()).await;
        assert_eq!(
            run(&e, &a, Some(&other), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        // Claiming the named pool's issuer but signed by the other pool's key.
        let mut c = id_claims();
        c["iss"] = json!(format!("{PUBLIC_URL}/{}", e.pool));
        let lying = token(&e, &e.other_pool, c).await;
        assert_eq!(
            run(&e, &a, Some(&lying), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        // An authorizer naming both pools takes either.
        let both = authorizer(&[&e.pool, &e.other_pool], None);
        assert!(run(&e, &both, Some(&other), &[]).await.is_ok());
        assert!(run(&e, &both, Some(&id), &[]).await.is_ok());
        assert_eq!(
            run(&e, &both, Some(&lying), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        // Nothing passes a closed authorizer or one naming no pool of ours.
        assert_eq!(
            run(&e, &CognitoAuthorizer::closed(), Some(&id), &[])
                .await
                .unwrap_err(),
            UNAUTHORIZED
        );
        let nowhere = authorizer(&["us-east-1_nothere"], None);
        assert_eq!(
            run(&e, &nowhere, Some(&id), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn expired_tokens_have_their_own_message() {
        let e = env().await;
        let a = authorizer(&[&e.pool], None);
        let id = token(&e, &e.pool, id_claims()).await;
        assert!(run(&e, &a, Some(&id), &[]).await.is_ok());
        e.clock.advance(3600);
        assert_eq!(
            run(&e, &a, Some(&id), &[]).await.unwrap_err(),
            Reject::TokenExpired
        );
        // A forged expired token is just unauthorized.
        let forged = format!("{}AAAA", &id[..id.len() - 4]);
        assert_eq!(
            run(&e, &a, Some(&forged), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
        // Issued in the future (beyond the leeway).
        let future = token(
            &e,
            &e.pool,
            json!({"token_use": "id", "aud": "c", "iat": NOW + 7200 + 120, "exp": NOW + 9999}),
        )
        .await;
        assert_eq!(
            run(&e, &a, Some(&future), &[]).await.unwrap_err(),
            UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn the_validation_expression_is_checked_first() {
        let e = env().await;
        let id = token(&e, &e.pool, id_claims()).await;
        let a = authorizer(&[&e.pool], Some("Bearer .+"));
        assert!(run(&e, &a, Some(&format!("Bearer {id}")), &[])
            .await
            .is_ok());
        assert_eq!(run(&e, &a, Some(&id), &[]).await.unwrap_err(), UNAUTHORIZED);
        // The whole value must match, as API Gateway's (Java) regexes do.
        let a = authorizer(&[&e.pool], Some("ey"));
        assert_eq!(run(&e, &a, Some(&id), &[]).await.unwrap_err(), UNAUTHORIZED);
        let a = authorizer(&[&e.pool], Some("(unclosed"));
        assert_eq!(run(&e, &a, Some(&id), &[]).await.unwrap_err(), UNAUTHORIZED);
    }
}
