//! Sign-in through the hosted pages: the same password check, lockout, user states and MFA as
//! InitiateAuth, whatever the client's ExplicitAuthFlows, ending with the user signed in rather
//! than with tokens; and the hosted session behind the pages' cookie, kept server-side so that
//! `/logout` really ends it and every node sees it.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_store::{AppClient, AuthSession, RefreshToken, User, UserStatus};
use serde_json::{json, Value};

use crate::auth::{sha256_hex, AuthOutcome, Caller, Challenge};
use crate::clients::secret_hash;
use crate::env::{random_bytes, random_uuid};
use crate::error::{Error, Result};
use crate::users::CodeDelivery;
use crate::Directory;

/// How long the hosted session lasts (Cognito's hosted UI keeps its cookie one hour).
pub const HOSTED_SESSION_SECONDS: i64 = 3600;
const HOSTED_SESSION: &str = "HOSTED_SESSION";

/// Where a hosted sign-in stands.
#[derive(Debug, Clone)]
pub enum HostedStep {
    SignedIn {
        user: Box<User>,
        auth_time: i64,
    },
    /// NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP, SELECT_MFA_TYPE or
    /// MFA_SETUP, as the Cognito API names them.
    Challenge(Challenge),
}

fn step(outcome: AuthOutcome) -> Result<HostedStep> {
    match outcome {
        AuthOutcome::SignedIn { user, auth_time } => Ok(HostedStep::SignedIn { user, auth_time }),
        AuthOutcome::Challenge(c) => Ok(HostedStep::Challenge(c)),
        AuthOutcome::Authenticated(_) => Err(Error::Internal(
            "a hosted sign-in issued tokens".to_string(),
        )),
    }
}

/// The SECRET_HASH the pages compute on the user's behalf: the client authenticates itself
/// through its registered redirect URI, not with its secret.
pub fn hosted_secret_hash(client: &AppClient, username: &str) -> Option<String> {
    client
        .client_secret
        .as_deref()
        .map(|secret| secret_hash(secret, username, &client.client_id))
}

impl Directory {
    pub async fn hosted_sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<HostedStep> {
        let client = self.client(client_id).await?;
        let mut params = BTreeMap::new();
        params.insert("USERNAME".to_string(), username.to_string());
        params.insert("PASSWORD".to_string(), password.to_string());
        if let Some(h) = hosted_secret_hash(&client, username) {
            params.insert("SECRET_HASH".to_string(), h);
        }
        step(
            self.initiate_auth(Caller::Hosted, client_id, "USER_PASSWORD_AUTH", params)
                .await?,
        )
    }

    /// Answers a challenge of a hosted sign-in; `responses` as RespondToAuthChallenge names
    /// them (USERNAME, NEW_PASSWORD, SOFTWARE_TOKEN_MFA_CODE, SMS_MFA_CODE, …).
    pub async fn hosted_respond(
        &self,
        client_id: &str,
        challenge_name: &str,
        session: &str,
        mut responses: BTreeMap<String, String>,
    ) -> Result<HostedStep> {
        let client = self.client(client_id).await?;
        if let Some(username) = responses.get("USERNAME").cloned() {
            if let Some(h) = hosted_secret_hash(&client, &username) {
                responses.insert("SECRET_HASH".to_string(), h);
            }
        }
        step(
            self.respond_to_auth_challenge(
                Caller::Hosted,
                client_id,
                challenge_name,
                Some(session),
                responses,
            )
            .await?,
        )
    }

    /// Starts the hosted session of a signed-in user; returns the opaque token for the cookie.
    pub async fn hosted_session_start(
        &self,
        pool_id: &str,
        user: &User,
        auth_time: i64,
    ) -> Result<String> {
        let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>(&*self.rng));
        let now = self.now();
        let expires = now + HOSTED_SESSION_SECONDS;
        // The session is a token family of its own, so that signing the user out everywhere
        // revokes it with their tokens.
        let family = random_uuid(&*self.rng);
        self.record_family(pool_id, &user.sub, &family, auth_time, expires)
            .await?;
        self.store
            .put_session(&AuthSession {
                id_hash: sha256_hex(&token),
                pool_id: pool_id.to_string(),
                client_id: String::new(),
                username: user.username.clone(),
                challenge: HOSTED_SESSION.to_string(),
                expires,
                data: json!({ "sub": user.sub, "auth_time": auth_time, "family": family }),
            })
            .await?;
        Ok(token)
    }

    /// Records a token family that has no refresh token (a hosted session, implicit tokens),
    /// so that signing the user out everywhere, disabling or deleting them revokes it with
    /// the families of their refresh tokens (revocation.rs). The row names no client and its
    /// hash has no known preimage: it can never be redeemed or revoked as a refresh token.
    pub(crate) async fn record_family(
        &self,
        pool_id: &str,
        sub: &str,
        family: &str,
        auth_time: i64,
        expires: i64,
    ) -> Result<()> {
        self.store
            .put_refresh_token(&RefreshToken {
                token_hash: sha256_hex(&random_uuid(&*self.rng)),
                pool_id: pool_id.to_string(),
                client_id: String::new(),
                sub: sub.to_string(),
                origin_jti: family.to_string(),
                auth_time,
                created: self.now(),
                expires,
                revoked: false,
                scopes: None,
            })
            .await?;
        Ok(())
    }

    /// The user of a live hosted session of the pool, with the time they signed in. `None` for
    /// an unknown, expired or foreign token, or a user since disabled or deleted.
    pub async fn hosted_session(&self, pool_id: &str, token: &str) -> Result<Option<(User, i64)>> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let Some(s) = self.store.get_session(&sha256_hex(token)).await? else {
            return Ok(None);
        };
        if s.challenge != HOSTED_SESSION || s.pool_id != pool_id || s.expires < self.now() {
            return Ok(None);
        }
        let Some(sub) = s.data.get("sub").and_then(Value::as_str) else {
            return Ok(None);
        };
        let auth_time = s.data.get("auth_time").and_then(Value::as_i64).unwrap_or(0);
        let family = s
            .data
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if family.is_empty() || self.is_revoked(pool_id, family).await? {
            return Ok(None);
        }
        match self.store.get_user_by_sub(pool_id, sub).await? {
            Some(user) if user.enabled && user.status == UserStatus::Confirmed => {
                Ok(Some((user, auth_time)))
            }
            _ => Ok(None),
        }
    }

    /// ResendConfirmationCode for the confirm page. With PreventUserExistenceErrors ENABLED an
    /// account that needs no code (already confirmed, nowhere to send one) gets the answer an
    /// unknown user gets, so the page does not tell them apart; the Cognito API says why, as
    /// AWS does.
    pub async fn hosted_resend_code(
        &self,
        client: &AppClient,
        username: &str,
    ) -> Result<Option<CodeDelivery>> {
        let hash = hosted_secret_hash(client, username);
        match self
            .resend_confirmation_code(&client.client_id, username, hash.as_deref())
            .await
        {
            Err(Error::InvalidParameter(_))
                if client.prevent_user_existence_errors == "ENABLED" =>
            {
                Ok(Some(Self::simulated_delivery(username)))
            }
            other => other,
        }
    }

    /// ForgotPassword for the forgot-password page. With PreventUserExistenceErrors ENABLED a
    /// user who cannot reset (disabled, no verified email or phone) gets the answer an unknown
    /// user gets; the Cognito API says why, as AWS does.
    pub async fn hosted_forgot_password(
        &self,
        client: &AppClient,
        username: &str,
    ) -> Result<CodeDelivery> {
        let hash = hosted_secret_hash(client, username);
        match self
            .forgot_password(&client.client_id, username, hash.as_deref())
            .await
        {
            Err(Error::NotAuthorized(_) | Error::InvalidParameter(_))
                if client.prevent_user_existence_errors == "ENABLED" =>
            {
                Ok(Self::simulated_delivery(username))
            }
            other => other,
        }
    }

    pub async fn hosted_session_end(&self, pool_id: &str, token: &str) -> Result<()> {
        if token.is_empty() || token.len() > 256 {
            return Ok(());
        }
        let hash = sha256_hex(token);
        if let Some(s) = self.store.get_session(&hash).await? {
            if s.challenge == HOSTED_SESSION && s.pool_id == pool_id {
                self.store.take_session(&hash).await?;
            }
        }
        Ok(())
    }
}
