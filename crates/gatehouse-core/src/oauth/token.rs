//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; RFC 7636 §4.6) and userinfo
//! (OIDC Core §5.3), with RFC 6749's error codes.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_store::{AppClient, AuthSession, UserStatus};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::authorize::{pkce_shaped, OAUTH_CODE};

/// What a redeemed code leaves behind until it would have expired.
const OAUTH_CODE_REDEEMED: &str = "OAUTH_CODE_REDEEMED";
use super::{scopes, OAuthSettings};
use crate::attributes;
use crate::auth::{sha256_hex, Grant, Tokens};
use crate::env::random_uuid;
use crate::error::Error;
use crate::Directory;

/// A token request: the form's members and the client's credentials from either the form or
/// the `Authorization: Basic` header (the adapter decodes it).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `client_id:client_secret` from HTTP Basic (RFC 6749 §2.3.1), already decoded.
    pub basic: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

/// An RFC 6749 §5.2 error: `invalid_client` answers 401, the others 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self.error {
            "invalid_client" => 401,
            "temporarily_unavailable" => 503,
            _ => 400,
        }
    }
}

impl From<gatehouse_store::StoreError> for OAuthError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Error::from(e).into()
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        tracing::error!(error = %e, "token endpoint failed");
        match e {
            // The store is down (a database restarting): a retry will do (RFC 6749 §4.1.2.1's
            // code, with the 503 that says so).
            Error::Unavailable(_) => OAuthError::new(
                "temporarily_unavailable",
                "The service is temporarily unavailable; try again",
            ),
            _ => OAuthError::new("server_error", "The request could not be processed"),
        }
    }
}

type Outcome<T> = std::result::Result<T, OAuthError>;

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn from_tokens(t: Tokens) -> TokenResponse {
    TokenResponse {
        access_token: t.access_token,
        id_token: t.id_token,
        refresh_token: t.refresh_token,
        expires_in: t.expires_in,
    }
}

impl Directory {
    /// Authenticates the client of a token (or revocation) request: `client_secret_basic`,
    /// `client_secret_post`, or a public client naming itself.
    pub async fn oauth_client(&self, req: &TokenRequest) -> Outcome<AppClient> {
        let invalid = || OAuthError::new("invalid_client", "Client authentication failed");
        let (client_id, secret) = match (&req.basic, given(&req.client_secret)) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::new(
                    "invalid_request",
                    "Use one client authentication method",
                ))
            }
            (Some((id, secret)), None) => {
                if given(&req.client_id).is_some_and(|c| c != id) {
                    return Err(invalid());
                }
                (id.as_str(), Some(secret.as_str()))
            }
            (None, secret) => (
                given(&req.client_id)
                    .ok_or_else(|| OAuthError::new("invalid_request", "client_id is required"))?,
                secret,
            ),
        };
        if client_id.len() > 128 {
            return Err(invalid());
        }
        let client = self
            .store
            .get_client(client_id)
            .await?
            .ok_or_else(invalid)?;
        match (&client.client_secret, secret) {
            (Some(expected), Some(given)) => {
                if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                    return Err(invalid());
                }
            }
            (None, None) => {}
            _ => return Err(invalid()),
        }
        Ok(client)
    }

    /// `/oauth2/token`.
    pub async fn oauth_token(&self, req: &TokenRequest) -> Outcome<TokenResponse> {
        let grant_type = given(&req.grant_type)
            .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
        if !matches!(
            grant_type,
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("Unsupported grant_type {grant_type}"),
            ));
        }
        let client = self.oauth_client(req).await?;
        let settings = OAuthSettings::of(&client);
        match grant_type {
            "authorization_code" => self.code_grant(&client, &settings, req).await,
            "refresh_token" => self.refresh_grant(&client, req).await,
            _ => self.client_credentials_grant(&client, &settings, req).await,
        }
    }

    async fn code_grant(
        &self,
        client: &AppClient,
        settings: &OAuthSettings,
        req: &TokenRequest,
    ) -> Outcome<TokenResponse> {
        if !settings.enabled || !settings.code {
            return Err(OAuthError::new(
                "unauthorized_client",
                "The client may not use the authorization code grant",
            ));
        }
        let code = given(&req.code)
            .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
        let bad = |why: &str| OAuthError::new("invalid_grant", why.to_string());
        if code.len() > 256 {
            return Err(bad("Invalid authorization code"));
        }
        // Taking it makes it single use: a second redemption finds the marker the first left.
        let code_hash = sha256_hex(code);
        let stored = self
            .store
            .take_session(&code_hash)
            .await?
            .ok_or_else(|| bad("Invalid authorization code"))?;
        if stored.challenge == OAUTH_CODE_REDEEMED {
            // RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
            if let Some(refresh_hash) = stored.data.get("refresh_hash").and_then(Value::as_str) {
                self.revoke_family_of(refresh_hash).await?;
            }
            tracing::warn!(client_id = %client.client_id, "an authorization code was used twice; its tokens are revoked");
            return Err(bad("Invalid authorization code"));
        }
        if stored.challenge != OAUTH_CODE {
            return Err(bad("Invalid authorization code"));
        }
        if stored.client_id != client.client_id {
            return Err(bad("The code was issued to another client"));
        }
        if stored.expires < self.now() {
            return Err(bad("The authorization code has expired"));
        }
        let data = &stored.data;
        let text = |k: &str| data.get(k).and_then(Value::as_str);
        if given(&req.redirect_uri) != text("redirect_uri") {
            return Err(bad("redirect_uri does not match the authorization request"));
        }
        match text("code_challenge") {
            Some(challenge) => {
                let verifier = given(&req.code_verifier)
                    .filter(|v| pkce_shaped(v))
                    .ok_or_else(|| bad("A valid code_verifier is required"))?;
                let derived = match text("code_challenge_method") {
                    Some("S256") => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
                    _ => verifier.to_string(),
                };
                if !bool::from(derived.as_bytes().ct_eq(challenge.as_bytes())) {
                    return Err(bad("The code_verifier does not match the code_challenge"));
                }
            }
            // RFC 9700 §2.1.1 (PKCE downgrade): a verifier for a code issued without a
            // challenge means the code is not the one this client asked for.
            None if given(&req.code_verifier).is_some() => {
                return Err(bad(
                    "code_verifier was given but the authorization request had no code_challenge",
                ));
            }
            None => {}
        }
        let pool = self.pool(&stored.pool_id).await?;
        let user = self
            .store
            .get_user_by_sub(&pool.id, text("sub").unwrap_or_default())
            .await?
            .filter(|u| u.enabled && u.status == UserStatus::Confirmed)
            .ok_or_else(|| bad("The user can no longer sign in"))?;
        let scopes = text("scopes").unwrap_or_default().to_string();
        let auth_time = data.get("auth_time").and_then(Value::as_i64).unwrap_or(0);
        let tokens = self
            .issue_tokens(
                &pool,
                client,
                &user,
                auth_time,
                None,
                true,
                Grant {
                    scopes: Some(&scopes),
                    nonce: text("nonce"),
                },
            )
            .await?;
        // Remember the redemption until the code would have expired, so a replay revokes it.
        if let Some(refresh) = &tokens.refresh_token {
            self.store
                .put_session(&AuthSession {
                    id_hash: code_hash,
                    pool_id: stored.pool_id.clone(),
                    client_id: stored.client_id.clone(),
                    username: stored.username.clone(),
                    challenge: OAUTH_CODE_REDEEMED.to_string(),
                    expires: stored.expires,
                    data: json!({ "refresh_hash": sha256_hex(refresh) }),
                })
                .await?;
        }
        Ok(from_tokens(tokens))
    }

    async fn refresh_grant(
        &self,
        client: &AppClient,
        req: &TokenRequest,
    ) -> Outcome<TokenResponse> {
        let token = given(&req.refresh_token)
            .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
        let bad = |why: &str| OAuthError::new("invalid_grant", why.to_string());
        if token.len() > 8192 {
            return Err(bad("Invalid refresh token"));
        }
        let stored = self
            .store
            .get_refresh_token(&sha256_hex(token))
            .await?
            .filter(|t| t.client_id == client.client_id && t.pool_id == client.pool_id)
            .ok_or_else(|| bad("Invalid refresh token"))?;
        if stored.revoked {
            return Err(bad("Refresh token has been revoked"));
        }
        if stored.expires < self.now() {
            return Err(bad("Refresh token has expired"));
        }
        let pool = self.pool(&stored.pool_id).await?;
        let user = self
            .store
            .get_user_by_sub(&pool.id, &stored.sub)
            .await?
            .filter(|u| u.enabled)
            .ok_or_else(|| bad("Invalid refresh token"))?;
        // An OAuth grant's refresh token keeps what the client may still have, narrowed by a
        // `scope` parameter (RFC 6749 §6); a Cognito API sign-in's (no scopes) stays as it is.
        let scopes = match stored.scopes.as_deref() {
            None => None,
            Some(granted) => {
                let kept = OAuthSettings::of(client).still_allowed(granted);
                let kept = match scopes::requested(req.scope.as_deref()) {
                    None => kept,
                    Some(asked) => {
                        if let Some(extra) = asked.iter().find(|s| !kept.contains(s)) {
                            return Err(OAuthError::new(
                                "invalid_scope",
                                format!("The scope {extra} was not granted to the refresh token"),
                            ));
                        }
                        asked
                    }
                };
                if kept.is_empty() {
                    return Err(bad(
                        "The client may no longer be granted the token's scopes",
                    ));
                }
                Some(kept.join(" "))
            }
        };
        let tokens = self
            .issue_tokens(
                &pool,
                client,
                &user,
                stored.auth_time,
                Some(stored.origin_jti.clone()),
                false,
                Grant {
                    scopes: scopes.as_deref(),
                    nonce: None,
                },
            )
            .await?;
        Ok(from_tokens(tokens))
    }

    /// Client credentials (RFC 6749 §4.4): an access token for the client itself, with custom
    /// scopes only, and nothing else (one signature).
    async fn client_credentials_grant(
        &self,
        client: &AppClient,
        settings: &OAuthSettings,
        req: &TokenRequest,
    ) -> Outcome<TokenResponse> {
        if !settings.enabled || !settings.client_credentials {
            return Err(OAuthError::new(
                "unauthorized_client",
                "The client may not use the client_credentials grant",
            ));
        }
        if client.client_secret.is_none() {
            return Err(OAuthError::new(
                "invalid_client",
                "client_credentials needs a client with a secret",
            ));
        }
        let allowed: Vec<String> = settings
            .scopes
            .iter()
            .filter(|s| scopes::is_custom(s))
            .cloned()
            .collect();
        let granted = match scopes::requested(req.scope.as_deref()) {
            None => allowed,
            Some(asked) => {
                if let Some(bad) = asked.iter().find(|s| !allowed.contains(s)) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!("The scope {bad} is not allowed for the client"),
                    ));
                }
                asked
            }
        };
        if granted.is_empty() {
            return Err(OAuthError::new(
                "invalid_scope",
                "The client has no custom scope to grant",
            ));
        }
        let now = self.now();
        let keys = self.keys.keys(&client.pool_id).await?;
        let lifetime = crate::clients::ClientPolicy::access_token_seconds(client);
        let claims = json!({
            "sub": client.client_id,
            "token_use": "access",
            "scope": granted.join(" "),
            "auth_time": now,
            "iss": self.config.issuer(&client.pool_id),
            "exp": now + lifetime as i64,
            "iat": now,
            "version": 2,
            "jti": random_uuid(&*self.rng),
            "client_id": client.client_id,
        });
        Ok(TokenResponse {
            access_token: keys.sign(&claims)?,
            id_token: None,
            refresh_token: None,
            expires_in: lifetime,
        })
    }

    /// `/oauth2/userInfo`: the claims of the access token's user that its scopes release —
    /// `sub` and `username` always, `email`/`phone` their attributes, `profile` (or
    /// `aws.cognito.signin.user.admin`) every attribute the client may read.
    pub async fn oauth_userinfo(&self, access_token: &str) -> Outcome<Map<String, Value>> {
        let auth = match self.verify_access_token(access_token).await {
            Ok(a) => a,
            Err(Error::Internal(m)) => return Err(Error::Internal(m).into()),
            Err(_) => {
                return Err(OAuthError::new(
                    "invalid_token",
                    "The access token is invalid, expired or revoked",
                ))
            }
        };
        let granted: Vec<&str> = auth
            .claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split(' ')
            .collect();
        let has = |s: &str| granted.contains(&s);
        if !has("openid") && !has(crate::auth::USER_ADMIN_SCOPE) {
            return Err(OAuthError::new(
                "insufficient_scope",
                "The access token needs the openid scope",
            ));
        }
        let read = auth
            .client
            .as_ref()
            .and_then(|c| c.read_attributes.as_deref());
        let all = has("profile") || has(crate::auth::USER_ADMIN_SCOPE);
        let mut out = Map::new();
        out.insert("sub".into(), json!(auth.user.sub));
        let mut picked: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, value) in &auth.user.attributes {
            let by_scope = all
                || (has("email") && matches!(name.as_str(), "email" | "email_verified"))
                || (has("phone")
                    && matches!(name.as_str(), "phone_number" | "phone_number_verified"));
            if name != "sub" && by_scope && attributes::readable(read, name) {
                picked.insert(name, value);
            }
        }
        // Cognito's userInfo gives every attribute as a string ("email_verified": "true").
        for (name, value) in picked {
            out.insert(name.to_string(), json!(value));
        }
        out.insert("username".into(), json!(auth.user.username));
        Ok(out)
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn a_store_outage_is_retryable_not_a_server_error() {
        let e = OAuthError::from(Error::Unavailable("connection refused".into()));
        assert_eq!((e.error, e.status()), ("temporarily_unavailable", 503));
        let e = OAuthError::from(Error::Internal("bug".into()));
        assert_eq!(e.error, "server_error");
    }
}
