//! The authorization endpoint's decisions (RFC 6749 §4.1–4.2, RFC 7636, OIDC Core §3): which
//! requests are valid, which errors go back to the client and which must never be redirected,
//! and what a completed sign-in hands back — an authorization code or implicit tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_store::{AuthSession, User, UserStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::scopes;
use super::OAuthSettings;
use crate::auth::{sha256_hex, Grant};
use crate::clients::ClientPolicy;
use crate::env::{random_bytes, random_uuid};
use crate::error::{Error, Result};
use crate::Directory;

/// How long an authorization code can be redeemed (Cognito: five minutes).
pub const CODE_SECONDS: i64 = 300;
pub(crate) const OAUTH_CODE: &str = "OAUTH_CODE";
const MAX_PARAM: usize = 2048;

/// The query string of `/oauth2/authorize` (and of the hosted `/login`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub identity_provider: Option<String>,
    pub idp_identifier: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub max_age: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    /// Authorization code (RFC 6749 §4.1), redeemed at the token endpoint.
    Code,
    /// Implicit grant (§4.2): tokens in the redirect's fragment.
    Token,
}

/// A validated authorization request, waiting for the user to sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeGrant {
    pub pool_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: ResponseType,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// `S256` or `plain`, when there is a challenge.
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    /// OIDC `max_age`: seconds since the user last typed a password beyond which a live
    /// session does not do (OIDC Core §3.1.2.1).
    pub max_age: Option<i64>,
}

/// Why an authorization request failed, and where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user and never redirected: the client or the redirect URI cannot be
    /// trusted (RFC 6749 §4.1.2.1).
    Page(String),
    /// The client's redirect URI with `error`, `error_description` and `state`.
    Redirect(String),
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `uri` with `params` added to its query (`?`) or, for the implicit grant, its fragment (`#`).
pub fn with_params(uri: &str, fragment: bool, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if fragment {
        '#'
    } else if uri.contains('?') {
        '&'
    } else {
        '?'
    };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v));
        sep = '&';
    }
    out
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters (verifiers and S256 challenges alike).
pub(crate) fn pkce_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn redirect_error(
    redirect_uri: &str,
    fragment: bool,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> AuthorizeError {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        params.push(("state", s));
    }
    AuthorizeError::Redirect(with_params(redirect_uri, fragment, &params))
}

impl Directory {
    /// Validates an authorization request (the client, its redirect URI, response type,
    /// scopes, PKCE), as Cognito's `/oauth2/authorize` does before showing the sign-in page.
    pub async fn oauth_authorize(
        &self,
        req: &AuthorizeRequest,
    ) -> std::result::Result<AuthorizeGrant, AuthorizeError> {
        let page = |m: &str| AuthorizeError::Page(m.to_string());
        let too_long = [
            &req.response_type,
            &req.client_id,
            &req.redirect_uri,
            &req.state,
            &req.scope,
            &req.code_challenge,
            &req.code_challenge_method,
            &req.nonce,
            &req.identity_provider,
            &req.idp_identifier,
            &req.prompt,
            &req.login_hint,
            &req.max_age,
        ]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.len() > MAX_PARAM));
        if too_long {
            return Err(page("A request parameter is too long."));
        }
        let client_id = req
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| page("The request is missing the client_id parameter."))?;
        let client = match self.store.get_client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(page("The client_id does not name an app client.")),
            Err(e) => {
                tracing::error!(error = %e, "authorize: loading the client failed");
                return Err(page("The request could not be processed; try again."));
            }
        };
        let settings = OAuthSettings::of(&client);
        let redirect_uri =
            match req.redirect_uri.as_deref().filter(|u| !u.is_empty()) {
                Some(u) if settings.allows_redirect(u) => u.to_string(),
                Some(_) => return Err(page(
                    "redirect_mismatch: the redirect_uri is not one of the client's callback URLs.",
                )),
                None => match &settings.default_redirect_uri {
                    Some(u) if settings.allows_redirect(u) => u.clone(),
                    _ => return Err(page("The request is missing the redirect_uri parameter.")),
                },
            };
        let state = req.state.as_deref().filter(|s| !s.is_empty());
        let implicit = req.response_type.as_deref() == Some("token");
        let fail = |error: &str, description: &str| {
            redirect_error(&redirect_uri, implicit, error, description, state)
        };
        let response_type = match req.response_type.as_deref() {
            None | Some("") => return Err(fail("invalid_request", "response_type is required")),
            Some("code") => ResponseType::Code,
            Some("token") => ResponseType::Token,
            Some(_) => {
                return Err(fail(
                    "unsupported_response_type",
                    "response_type must be code or token",
                ))
            }
        };
        let allowed = match response_type {
            ResponseType::Code => settings.code,
            ResponseType::Token => settings.implicit,
        };
        if !settings.enabled || !allowed {
            return Err(fail(
                "unauthorized_client",
                "The client is not allowed to use this response_type",
            ));
        }
        if let Some(idp) = req.identity_provider.as_deref().filter(|i| !i.is_empty()) {
            let known = idp == "COGNITO" && settings.identity_providers.iter().any(|p| p == idp);
            if !known {
                return Err(fail(
                    "invalid_request",
                    "identity_provider is not supported by the client",
                ));
            }
        }
        let scopes = match scopes::requested(req.scope.as_deref()) {
            // Without a scope parameter Cognito grants every scope the client allows.
            None => settings.scopes.clone(),
            Some(asked) => {
                if let Some(bad) = asked.iter().find(|s| !settings.allows_scope(s)) {
                    return Err(fail(
                        "invalid_scope",
                        &format!("The scope {bad} is not allowed for the client"),
                    ));
                }
                asked
            }
        };
        let (code_challenge, code_challenge_method) = match (
            req.code_challenge.as_deref().filter(|c| !c.is_empty()),
            req.code_challenge_method
                .as_deref()
                .filter(|m| !m.is_empty()),
        ) {
            (None, None) => (None, None),
            (None, Some(_)) => {
                return Err(fail(
                    "invalid_request",
                    "code_challenge_method without code_challenge",
                ))
            }
            (Some(c), method) => {
                let method = method.unwrap_or("plain");
                if method != "S256" && method != "plain" {
                    return Err(fail(
                        "invalid_request",
                        "code_challenge_method must be S256 or plain",
                    ));
                }
                if !pkce_shaped(c) {
                    return Err(fail(
                        "invalid_request",
                        "code_challenge must be 43 to 128 unreserved characters",
                    ));
                }
                (Some(c.to_string()), Some(method.to_string()))
            }
        };
        let prompt = req.prompt.clone().filter(|p| !p.is_empty());
        if let Some(p) = &prompt {
            let values: Vec<&str> = p.split(' ').filter(|x| !x.is_empty()).collect();
            if values
                .iter()
                .any(|x| !matches!(*x, "none" | "login" | "consent" | "select_account"))
            {
                return Err(fail("invalid_request", "prompt is not supported"));
            }
            // OIDC Core §3.1.2.1: none with any other value is an error.
            if values.len() > 1 && values.contains(&"none") {
                return Err(fail(
                    "invalid_request",
                    "prompt=none cannot be combined with other values",
                ));
            }
        }
        let max_age = match req.max_age.as_deref().filter(|m| !m.is_empty()) {
            None => None,
            Some(m) => match m.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    return Err(fail(
                        "invalid_request",
                        "max_age must be a non-negative number of seconds",
                    ))
                }
            },
        };
        Ok(AuthorizeGrant {
            pool_id: client.pool_id.clone(),
            client_id: client.client_id.clone(),
            redirect_uri,
            response_type,
            scopes,
            state: state.map(str::to_string),
            nonce: req.nonce.clone().filter(|n| !n.is_empty()),
            code_challenge,
            code_challenge_method,
            prompt,
            login_hint: req.login_hint.clone().filter(|h| !h.is_empty()),
            max_age,
        })
    }

    /// Whether a hosted session whose user signed in at `auth_time` may answer this grant
    /// without a new sign-in: not when the request's `max_age` has passed since.
    pub fn oauth_session_fresh(&self, grant: &AuthorizeGrant, auth_time: i64) -> bool {
        grant
            .max_age
            .is_none_or(|m| self.now().saturating_sub(auth_time) <= m)
    }

    /// The redirect of a grant whose user cannot sign in without a page (`prompt=none`).
    pub fn oauth_login_required(&self, grant: &AuthorizeGrant) -> String {
        let fragment = grant.response_type == ResponseType::Token;
        match redirect_error(
            &grant.redirect_uri,
            fragment,
            "login_required",
            "The user is not signed in",
            grant.state.as_deref(),
        ) {
            AuthorizeError::Redirect(u) | AuthorizeError::Page(u) => u,
        }
    }

    /// The user signed in for this grant: issues the authorization code (or, for the implicit
    /// grant, the tokens) and returns the URL to send the browser to.
    pub async fn oauth_complete(
        &self,
        grant: &AuthorizeGrant,
        user: &User,
        auth_time: i64,
    ) -> Result<String> {
        let client = self.client(&grant.client_id).await?;
        let pool = self.pool(&grant.pool_id).await?;
        if client.pool_id != pool.id || user.pool_id != pool.id {
            return Err(Error::invalid(
                "The user and the client are of different pools",
            ));
        }
        if !user.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        // As the code grant checks at redemption: a session of a user since reset (or
        // unconfirmed) completes nothing, implicit tokens included.
        if user.status != UserStatus::Confirmed {
            return Err(Error::not_authorized("The user cannot sign in now."));
        }
        let mut params: Vec<(&str, &str)> = Vec::new();
        match grant.response_type {
            ResponseType::Code => {
                let code = URL_SAFE_NO_PAD.encode(random_bytes::<32>(&*self.rng));
                self.store
                    .put_session(&AuthSession {
                        id_hash: sha256_hex(&code),
                        pool_id: pool.id.clone(),
                        client_id: client.client_id.clone(),
                        username: user.username.clone(),
                        challenge: OAUTH_CODE.to_string(),
                        expires: self.now() + CODE_SECONDS,
                        data: json!({
                            "sub": user.sub,
                            "redirect_uri": grant.redirect_uri,
                            "scopes": grant.scopes.join(" "),
                            "nonce": grant.nonce,
                            "code_challenge": grant.code_challenge,
                            "code_challenge_method": grant.code_challenge_method,
                            "auth_time": auth_time,
                        }),
                    })
                    .await?;
                params.push(("code", &code));
                if let Some(s) = &grant.state {
                    params.push(("state", s));
                }
                Ok(with_params(&grant.redirect_uri, false, &params))
            }
            ResponseType::Token => {
                let scopes = grant.scopes.join(" ");
                // No refresh token: the family is recorded for GlobalSignOut to revoke.
                let family = random_uuid(&*self.rng);
                let lifetime = client.access_token_seconds().max(client.id_token_seconds());
                let expires = self.now() + i64::try_from(lifetime).unwrap_or(i64::MAX / 2);
                self.record_family(&pool.id, &user.sub, &family, auth_time, expires)
                    .await?;
                let tokens = self
                    .issue_tokens(
                        &pool,
                        &client,
                        user,
                        auth_time,
                        Some(family),
                        false,
                        Grant {
                            scopes: Some(&scopes),
                            nonce: grant.nonce.as_deref(),
                        },
                    )
                    .await?;
                let expires_in = tokens.expires_in.to_string();
                params.push(("access_token", &tokens.access_token));
                if let Some(id) = &tokens.id_token {
                    params.push(("id_token", id));
                }
                params.push(("token_type", "Bearer"));
                params.push(("expires_in", &expires_in));
                if let Some(s) = &grant.state {
                    params.push(("state", s));
                }
                Ok(with_params(&grant.redirect_uri, true, &params))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_appended_and_encoded() {
        assert_eq!(
            with_params(
                "https://app/cb",
                false,
                &[("code", "a b"), ("state", "x&y=z")]
            ),
            "https://app/cb?code=a%20b&state=x%26y%3Dz"
        );
        assert_eq!(
            with_params("https://app/cb?k=1", false, &[("code", "c")]),
            "https://app/cb?k=1&code=c"
        );
        assert_eq!(
            with_params(
                "https://app/cb",
                true,
                &[("access_token", "t"), ("state", "é")]
            ),
            "https://app/cb#access_token=t&state=%C3%A9"
        );
    }

    #[test]
    fn pkce_shapes() {
        assert!(pkce_shaped(&"a".repeat(43)));
        assert!(pkce_shaped(&"A-._~9".repeat(10)));
        assert!(!pkce_shaped(&"a".repeat(42)));
        assert!(!pkce_shaped(&"a".repeat(129)));
        assert!(!pkce_shaped(&format!("{}+", "a".repeat(43))));
    }
}
