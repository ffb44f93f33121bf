//! Sign-in: the InitiateAuth / RespondToAuthChallenge flows, token issuing and refresh, and
//! the access-token check behind every call a signed-in user makes.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use gatehouse_store::{AppClient, AuthSession, RefreshToken, User, UserPool, UserStatus};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::attributes::{self, Writer};
use crate::clients::{check_secret_hash, ClientPolicy};
use crate::env::{random_bytes, random_uuid};
use crate::error::{Error, Result};
use crate::password::check_policy;
use crate::tokens;
use crate::Directory;

pub const USER_ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    /// Absent only for an OAuth grant without the `openid` scope.
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: u64,
    /// A device the client should confirm and may remember (devices.rs).
    pub new_device: Option<NewDeviceMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeviceMetadata {
    pub device_key: String,
    pub device_group_key: String,
}

/// What tokens are for: the Cognito API's sign-ins (scope `aws.cognito.signin.user.admin`, an
/// ID token always) or an OAuth grant's (its scopes; an ID token only with `openid`, carrying
/// the request's `nonce` and the access token's `at_hash`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Grant<'a> {
    /// Space-separated granted scopes; `None` for the Cognito API.
    pub scopes: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

impl Grant<'_> {
    fn wants_id_token(&self) -> bool {
        self.scopes
            .is_none_or(|s| s.split(' ').any(|x| x == "openid"))
    }
}

/// OIDC Core §3.1.3.6: the left half of SHA-256 of the access token, base64url.
pub(crate) fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// What a sign-in carries from its first request to its last challenge.
#[derive(Debug, Clone, Default)]
pub struct SignInContext {
    /// DEVICE_KEY the client sent, if it has a remembered device.
    pub device_key: Option<String>,
    /// A sign-in through the hosted pages: it ends with the user signed in, not with tokens
    /// (the authorization code or the implicit grant issues those, oauth/).
    pub hosted: bool,
}

impl SignInContext {
    pub fn from_params(params: &BTreeMap<String, String>) -> Self {
        Self {
            device_key: params.get("DEVICE_KEY").filter(|k| !k.is_empty()).cloned(),
            hosted: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub name: String,
    pub session: String,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum AuthOutcome {
    Authenticated(Tokens),
    Challenge(Challenge),
    /// A hosted-page sign-in completed (`SignInContext::hosted`): no tokens yet.
    SignedIn {
        user: Box<User>,
        auth_time: i64,
    },
}

/// Who a verified access token speaks for.
#[derive(Debug, Clone)]
pub struct AccessAuth {
    pub user: User,
    pub client: Option<AppClient>,
    pub claims: Map<String, Value>,
}

/// Public calls (InitiateAuth) or admin calls naming the pool (AdminInitiateAuth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    Public,
    Admin {
        pool_id: &'a str,
    },
    /// The hosted sign-in pages (oauth/hosted.rs): a password sign-in whatever the client's
    /// ExplicitAuthFlows, ending without tokens.
    Hosted,
}

/// What a challenge session remembers of the sign-in context.
pub(crate) fn session_data(ctx: &SignInContext) -> Value {
    json!({ "device_key": ctx.device_key, "hosted": ctx.hosted })
}

pub(crate) fn session_context(data: &Value) -> SignInContext {
    SignInContext {
        device_key: data
            .get("device_key")
            .and_then(Value::as_str)
            .map(str::to_string),
        hosted: data.get("hosted").and_then(Value::as_bool).unwrap_or(false),
    }
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub(crate) fn required<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid(format!("Missing required parameter {name}")))
}

const FLOWS: &str = "[USER_SRP_AUTH, REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, ADMIN_NO_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_AUTH]";

impl Directory {
    async fn client_for(
        &self,
        client_id: &str,
        caller: Caller<'_>,
    ) -> Result<(AppClient, UserPool)> {
        let client = self.client(client_id).await?;
        if let Caller::Admin { pool_id } = caller {
            self.cached_pool(pool_id).await?;
            if client.pool_id != pool_id {
                return Err(Error::ResourceNotFound(format!(
                    "User pool client {client_id} does not exist."
                )));
            }
        }
        let pool = UserPool::clone(&*self.cached_pool(&client.pool_id).await?);
        Ok((client, pool))
    }

    pub async fn initiate_auth(
        &self,
        caller: Caller<'_>,
        client_id: &str,
        flow: &str,
        params: BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let (client, pool) = self.client_for(client_id, caller).await?;
        let admin = matches!(caller, Caller::Admin { .. });
        match flow {
            "USER_PASSWORD_AUTH" if caller == Caller::Hosted => {
                let ctx = SignInContext {
                    hosted: true,
                    ..SignInContext::default()
                };
                self.password_auth(&pool, &client, &params, ctx).await
            }
            "USER_PASSWORD_AUTH" if !admin => {
                if !client.allows("ALLOW_USER_PASSWORD_AUTH") {
                    return Err(Error::invalid("USER_PASSWORD_AUTH flow not enabled for this client"));
                }
                let ctx = SignInContext::from_params(&params);
                self.password_auth(&pool, &client, &params, ctx).await
            }
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => {
                if !client.allows("ALLOW_ADMIN_USER_PASSWORD_AUTH") {
                    return Err(Error::invalid("Auth flow not enabled for this client"));
                }
                let ctx = SignInContext::from_params(&params);
                self.password_auth(&pool, &client, &params, ctx).await
            }
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
                if !client.allows("ALLOW_REFRESH_TOKEN_AUTH") {
                    return Err(Error::invalid("Auth flow not enabled for this client"));
                }
                self.refresh_auth(&pool, &client, &params).await
            }
            "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => Err(
                Error::invalid(format!("Initiate Auth method not supported: {flow} on this API. Use the {} API.", if admin { "InitiateAuth" } else { "AdminInitiateAuth" })),
            ),
            "USER_SRP_AUTH" => {
                if !client.allows("ALLOW_USER_SRP_AUTH") {
                    return Err(Error::invalid("USER_SRP_AUTH is not enabled for the client."));
                }
                self.srp_start(&pool, &client, &params).await
            }
            "CUSTOM_AUTH" | "USER_AUTH" => Err(Error::invalid(format!(
                "Auth flow {flow} is not available in this version of Gatehouse."
            ))),
            other => Err(Error::invalid(format!(
                "1 validation error detected: Value '{other}' at 'authFlow' failed to satisfy constraint: Member must satisfy enum value set: {FLOWS}"
            ))),
        }
    }

    async fn password_auth(
        &self,
        pool: &UserPool,
        client: &AppClient,
        params: &BTreeMap<String, String>,
        ctx: SignInContext,
    ) -> Result<AuthOutcome> {
        let username = required(params, "USERNAME")?;
        let password = required(params, "PASSWORD")?;
        let user = self
            .find_user_for_client(
                pool,
                client,
                username,
                params.get("SECRET_HASH").map(String::as_str),
            )
            .await?;
        let Some(user) = user else {
            // Same lockout and hashing work as a real check, so nothing tells who exists.
            return self
                .unknown_user_sign_in(pool, client, username, password)
                .await;
        };
        if user.status == UserStatus::ResetRequired {
            return Err(Error::PasswordResetRequired(
                "Password reset required for the user".into(),
            ));
        }
        self.check_lockout(&user)?;
        if !self
            .hasher
            .verify(password, user.password_hash.as_deref())
            .await?
        {
            self.record_failed_sign_in(&user).await?;
            return Err(Error::not_authorized("Incorrect username or password."));
        }
        self.first_factor_passed(pool, client, user, ctx).await
    }

    /// After the password (or its SRP proof) checked out: the user's state decides what comes
    /// next, then the second factor, then tokens.
    pub(crate) async fn first_factor_passed(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        ctx: SignInContext,
    ) -> Result<AuthOutcome> {
        if !user.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        match user.status {
            UserStatus::Unconfirmed => {
                Err(Error::UserNotConfirmed("User is not confirmed.".into()))
            }
            UserStatus::ResetRequired => Err(Error::PasswordResetRequired(
                "Password reset required for the user".into(),
            )),
            UserStatus::ForceChangePassword => {
                if user
                    .temporary_password_expires
                    .is_some_and(|t| t < self.now())
                {
                    return Err(Error::not_authorized(
                        "Temporary password has expired and must be reset by an administrator.",
                    ));
                }
                self.new_password_challenge(pool, client, &user, &ctx).await
            }
            _ => {
                // A known device of the user proves itself first (devices.rs).
                if let Some(challenge) = self.device_challenge(pool, client, &user, &ctx).await? {
                    return Ok(challenge);
                }
                self.second_factor(pool, client, &user, ctx).await
            }
        }
    }

    /// MFA when the pool and the user call for it (mfa.rs), otherwise straight to tokens.
    pub(crate) async fn second_factor(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        ctx: SignInContext,
    ) -> Result<AuthOutcome> {
        if let Some(challenge) = self.mfa_challenge(pool, client, user, &ctx).await? {
            return Ok(challenge);
        }
        self.finish_sign_in(pool, client, user, &ctx).await
    }

    /// Issues the tokens of a completed sign-in (with a refresh token and, when the pool
    /// tracks devices, a new device to confirm).
    pub(crate) async fn finish_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        ctx: &SignInContext,
    ) -> Result<AuthOutcome> {
        // Only a completed sign-in clears the failures: a right password followed by wrong
        // MFA codes must not reset the count those codes add to (lockout.rs).
        self.clear_failed_sign_ins(user).await?;
        if ctx.hosted {
            return Ok(AuthOutcome::SignedIn {
                user: Box::new(user.clone()),
                auth_time: self.now(),
            });
        }
        let mut tokens = self
            .issue_tokens(pool, client, user, self.now(), None, true, Grant::default())
            .await?;
        tokens.new_device = self.new_device_metadata(pool, client, user, ctx).await?;
        Ok(AuthOutcome::Authenticated(tokens))
    }

    async fn new_password_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        ctx: &SignInContext,
    ) -> Result<AuthOutcome> {
        let mut shown: BTreeMap<&str, &str> = user
            .attributes
            .iter()
            .filter(|(k, _)| k.as_str() != "sub")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        shown.retain(|k, _| attributes::readable(client.read_attributes.as_deref(), k));
        let missing: Vec<String> = pool
            .schema
            .iter()
            .filter(|a| a.required && (a.custom || a.name != "sub"))
            .map(attributes::full_name)
            .filter(|n| !user.attributes.contains_key(n))
            .map(|n| format!("userAttributes.{n}"))
            .collect();
        let mut parameters = BTreeMap::new();
        parameters.insert("USER_ID_FOR_SRP".to_string(), user.username.clone());
        parameters.insert("requiredAttributes".to_string(), json!(missing).to_string());
        parameters.insert("userAttributes".to_string(), json!(shown).to_string());
        let session = self
            .open_session(
                pool,
                client,
                user,
                "NEW_PASSWORD_REQUIRED",
                session_data(ctx),
            )
            .await?;
        Ok(AuthOutcome::Challenge(Challenge {
            name: "NEW_PASSWORD_REQUIRED".into(),
            session,
            parameters,
        }))
    }

    /// Stores a pending challenge and returns the opaque session token for it.
    pub(crate) async fn open_session(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        challenge: &str,
        data: Value,
    ) -> Result<String> {
        let token = STANDARD.encode(random_bytes::<96>(&*self.rng));
        self.store
            .put_session(&AuthSession {
                id_hash: sha256_hex(&token),
                pool_id: pool.id.clone(),
                client_id: client.client_id.clone(),
                username: user.username.clone(),
                challenge: challenge.to_string(),
                expires: self.now() + i64::from(client.auth_session_validity_minutes) * 60,
                data,
            })
            .await?;
        Ok(token)
    }

    pub async fn respond_to_auth_challenge(
        &self,
        caller: Caller<'_>,
        client_id: &str,
        challenge_name: &str,
        session: Option<&str>,
        responses: BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let (client, pool) = self.client_for(client_id, caller).await?;
        let expired = || Error::not_authorized("Invalid session for the user, session is expired.");
        // Cognito's SECRET_BLOCK carries the session, so PASSWORD_VERIFIER may omit Session
        // (pycognito does); ours seals the session token in it (srp.rs).
        let recovered = match session.filter(|s| !s.is_empty()) {
            Some(_) => None,
            None => self.session_from_secret_block(challenge_name, &responses),
        };
        let session_token = session
            .filter(|s| !s.is_empty())
            .or(recovered.as_deref())
            .ok_or_else(|| Error::invalid("Missing required parameter Session"))?;
        if session_token.len() > 4096 {
            return Err(expired());
        }
        let stored = self
            .store
            .take_session(&sha256_hex(session_token))
            .await?
            .ok_or_else(expired)?;
        if stored.expires < self.now()
            || stored.client_id != client.client_id
            || stored.pool_id != pool.id
        {
            return Err(expired());
        }
        // A hosted-page sign-in is answered only by the hosted pages, and they answer no other.
        if session_context(&stored.data).hosted != (caller == Caller::Hosted) {
            return Err(expired());
        }
        if stored.challenge != challenge_name {
            return Err(Error::invalid(format!(
                "Invalid challenge name {challenge_name}: the session is for {}",
                stored.challenge
            )));
        }
        let username = required(&responses, "USERNAME")?;
        let Some(user) = self
            .find_user(&pool, username)
            .await?
            .filter(|u| u.username == stored.username)
        else {
            // A PASSWORD_VERIFIER decoy (an unknown name, PreventUserExistenceErrors ENABLED)
            // must fail like a wrong password (srp.rs).
            if challenge_name == "PASSWORD_VERIFIER" && stored.username == username {
                return self
                    .srp_respond_unknown(&pool, &client, &stored, &responses)
                    .await;
            }
            return Err(expired());
        };
        check_secret_hash(
            &client,
            &[username, &user.username, &user.sub],
            responses.get("SECRET_HASH").map(String::as_str),
        )?;
        match challenge_name {
            "NEW_PASSWORD_REQUIRED" => {
                let ctx = session_context(&stored.data);
                let result = self
                    .complete_new_password(&pool, &client, user, &responses, ctx)
                    .await;
                if matches!(
                    result,
                    Err(Error::InvalidPassword(_) | Error::InvalidParameter(_))
                ) {
                    // A rejected new password may be retried with the same session.
                    self.store.put_session(&stored).await?;
                }
                result
            }
            "PASSWORD_VERIFIER" => {
                self.srp_respond(&pool, &client, user, &stored, &responses)
                    .await
            }
            "SOFTWARE_TOKEN_MFA" | "SMS_MFA" | "EMAIL_OTP" => {
                let result = self
                    .mfa_respond(&pool, &client, user.clone(), &stored, &responses)
                    .await;
                // A wrong code is a failed sign-in, and so is the one that used up the
                // session's attempts: otherwise a new session, one password away, gives
                // whoever has the password endless guesses.
                if matches!(result, Err(Error::CodeMismatch(_) | Error::NotAuthorized(_))) {
                    self.record_failed_sign_in(&user).await?;
                }
                result
            }
            "MFA_SETUP" | "SELECT_MFA_TYPE" => {
                self.mfa_respond(&pool, &client, user, &stored, &responses)
                    .await
            }
            "DEVICE_SRP_AUTH" | "DEVICE_PASSWORD_VERIFIER" => {
                self.device_respond(&pool, &client, user, &stored, &responses)
                    .await
            }
            other => Err(Error::invalid(format!(
                "1 validation error detected: Value '{other}' at 'challengeName' failed to satisfy constraint: Member must satisfy enum value set: [SMS_MFA, EMAIL_OTP, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE, MFA_SETUP, PASSWORD_VERIFIER, DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER, NEW_PASSWORD_REQUIRED]"
            ))),
        }
    }

    async fn complete_new_password(
        &self,
        pool: &UserPool,
        client: &AppClient,
        mut user: User,
        responses: &BTreeMap<String, String>,
        ctx: SignInContext,
    ) -> Result<AuthOutcome> {
        let password = required(responses, "NEW_PASSWORD")?;
        check_policy(&pool.password_policy, password)?;
        let writes: Vec<(String, String)> = responses
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("userAttributes.")
                    .map(|n| (n.to_string(), v.clone()))
            })
            .collect();
        for (name, _) in &writes {
            if !attributes::writable(client.write_attributes.as_deref(), name)
                || name.ends_with("_verified")
            {
                return Err(Error::not_authorized(
                    "A client attempted to write unauthorized attribute",
                ));
            }
        }
        attributes::validate_writes(pool, &writes, Some(&user.attributes), Writer::User)?;
        user.attributes.extend(writes);
        if let Some(missing) = attributes::missing_required(pool, &user.attributes) {
            return Err(Error::invalid(format!(
                "Attributes did not conform to the schema: {missing}: The attribute is required"
            )));
        }
        self.set_password(pool, &mut user, password).await?;
        user.status = UserStatus::Confirmed;
        user.temporary_password_expires = None;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        self.second_factor(pool, client, &user, ctx).await
    }

    async fn refresh_auth(
        &self,
        pool: &UserPool,
        client: &AppClient,
        params: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let token = required(params, "REFRESH_TOKEN")?;
        let invalid = || Error::not_authorized("Invalid Refresh Token");
        if token.len() > 8192 {
            return Err(invalid());
        }
        let stored = self
            .store
            .get_refresh_token(&sha256_hex(token))
            .await?
            .ok_or_else(invalid)?;
        if stored.client_id != client.client_id || stored.pool_id != pool.id {
            return Err(invalid());
        }
        let user = self
            .store
            .get_user_by_sub(&pool.id, &stored.sub)
            .await?
            .ok_or_else(invalid)?;
        check_secret_hash(
            client,
            &[&user.username, &user.sub],
            params.get("SECRET_HASH").map(String::as_str),
        )?;
        // A disabled user's tokens are also revoked (AdminDisableUser); say why first.
        if !user.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        if stored.revoked {
            return Err(Error::not_authorized("Refresh Token has been revoked"));
        }
        if stored.expires < self.now() {
            return Err(Error::not_authorized("Refresh Token has expired"));
        }
        // An OAuth grant's scopes, less any the client has lost since (oauth/settings.rs).
        let scopes = match stored.scopes.as_deref() {
            None => None,
            Some(granted) => {
                let kept = crate::oauth::OAuthSettings::of(client).still_allowed(granted);
                if kept.is_empty() {
                    return Err(invalid());
                }
                Some(kept.join(" "))
            }
        };
        let grant = Grant {
            scopes: scopes.as_deref(),
            nonce: None,
        };
        let tokens = self
            .issue_tokens(
                pool,
                client,
                &user,
                stored.auth_time,
                Some(stored.origin_jti.clone()),
                false,
                grant,
            )
            .await?;
        Ok(AuthOutcome::Authenticated(tokens))
    }

    /// Signs ID and access tokens (and, for a new sign-in, stores a refresh token).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn issue_tokens(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        auth_time: i64,
        origin_jti: Option<String>,
        with_refresh: bool,
        grant: Grant<'_>,
    ) -> Result<Tokens> {
        let now = self.now();
        let keys = self.keys.keys(&pool.id).await?;
        let groups = self.store.groups_for_user(&pool.id, &user.sub).await?;
        let origin_jti = origin_jti.unwrap_or_else(|| random_uuid(&*self.rng));
        let event_id = random_uuid(&*self.rng);
        let iss = self.config.issuer(&pool.id);
        let group_names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();

        let mut id = Map::new();
        id.insert("sub".into(), json!(user.sub));
        if !group_names.is_empty() {
            id.insert("cognito:groups".into(), json!(group_names));
        }
        let read = client.read_attributes.as_deref();
        for (name, value) in &user.attributes {
            if name == "sub" || !attributes::readable(read, name) || name.starts_with("dev:") {
                continue;
            }
            let v = match attributes::find(pool, name).map(|a| a.data_type.as_str()) {
                Some("Boolean") => json!(value == "true"),
                Some("Number") if !name.starts_with("custom:") => value
                    .parse::<i64>()
                    .map(|n| json!(n))
                    .unwrap_or_else(|_| json!(value)),
                _ => json!(value),
            };
            id.insert(name.clone(), v);
        }
        id.insert("iss".into(), json!(iss));
        id.insert("cognito:username".into(), json!(user.username));
        id.insert("origin_jti".into(), json!(origin_jti));
        id.insert("aud".into(), json!(client.client_id));
        id.insert("event_id".into(), json!(event_id));
        id.insert("token_use".into(), json!("id"));
        id.insert("auth_time".into(), json!(auth_time));
        id.insert("exp".into(), json!(now + client.id_token_seconds() as i64));
        id.insert("iat".into(), json!(now));
        id.insert("jti".into(), json!(random_uuid(&*self.rng)));

        let mut access = Map::new();
        access.insert("sub".into(), json!(user.sub));
        if !group_names.is_empty() {
            access.insert("cognito:groups".into(), json!(group_names));
        }
        access.insert("iss".into(), json!(iss));
        access.insert("client_id".into(), json!(client.client_id));
        access.insert("origin_jti".into(), json!(origin_jti));
        access.insert("event_id".into(), json!(event_id));
        access.insert("token_use".into(), json!("access"));
        access.insert(
            "scope".into(),
            json!(grant.scopes.unwrap_or(USER_ADMIN_SCOPE)),
        );
        access.insert("auth_time".into(), json!(auth_time));
        access.insert(
            "exp".into(),
            json!(now + client.access_token_seconds() as i64),
        );
        access.insert("iat".into(), json!(now));
        access.insert("jti".into(), json!(random_uuid(&*self.rng)));
        access.insert("username".into(), json!(user.username));

        let access_token = keys.sign(&Value::Object(access))?;
        let id_token = if grant.wants_id_token() {
            if grant.scopes.is_some() {
                id.insert("at_hash".into(), json!(at_hash(&access_token)));
            }
            if let Some(nonce) = grant.nonce {
                id.insert("nonce".into(), json!(nonce));
            }
            Some(keys.sign(&Value::Object(id))?)
        } else {
            None
        };
        let refresh_token = if with_refresh {
            let token = URL_SAFE_NO_PAD.encode(random_bytes::<64>(&*self.rng));
            self.store
                .put_refresh_token(&RefreshToken {
                    token_hash: sha256_hex(&token),
                    pool_id: pool.id.clone(),
                    client_id: client.client_id.clone(),
                    sub: user.sub.clone(),
                    origin_jti,
                    auth_time,
                    created: now,
                    expires: now + client.refresh_token_seconds() as i64,
                    revoked: false,
                    scopes: grant.scopes.map(str::to_string),
                })
                .await?;
            Some(token)
        } else {
            None
        };
        Ok(Tokens {
            access_token,
            id_token,
            refresh_token,
            expires_in: client.access_token_seconds(),
            new_device: None,
        })
    }

    /// Verifies an access token of one of our pools (signature, expiry, use, revocation) with
    /// the scope the Cognito API's user calls need, and loads its user.
    pub async fn authenticate_access_token(&self, token: &str) -> Result<AccessAuth> {
        let auth = self.verify_access_token(token).await?;
        let has_scope = auth
            .claims
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|x| x == USER_ADMIN_SCOPE));
        if !has_scope {
            return Err(Error::not_authorized(
                "Access Token does not have required scopes",
            ));
        }
        Ok(auth)
    }

    /// Verifies an access token of one of our pools (signature, use, expiry, revocation) and
    /// loads its user, whatever its scopes.
    pub(crate) async fn verify_access_token(&self, token: &str) -> Result<AccessAuth> {
        let invalid = || Error::not_authorized("Invalid Access Token");
        let parsed = tokens::decode(token).ok_or_else(invalid)?;
        let iss = parsed
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let base = format!("{}/", self.config.public_url.trim_end_matches('/'));
        let pool_id = iss
            .strip_prefix(&base)
            .filter(|p| !p.contains('/'))
            .ok_or_else(invalid)?
            .to_string();
        let pool_id = pool_id.as_str();
        let keys = match self.keys.keys(pool_id).await {
            Ok(k) => k,
            Err(Error::ResourceNotFound(_)) => return Err(invalid()),
            Err(e) => return Err(e),
        };
        if !keys.verify(
            &parsed.kid,
            parsed.signing_input.as_bytes(),
            &parsed.signature,
        ) {
            return Err(invalid());
        }
        let claims = parsed.claims;
        if claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(invalid());
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(invalid)?;
        if exp <= self.now() {
            return Err(Error::not_authorized("Access Token has expired"));
        }
        if let Some(origin) = claims.get("origin_jti").and_then(Value::as_str) {
            if self.is_revoked(pool_id, origin).await? {
                return Err(Error::not_authorized("Access Token has been revoked"));
            }
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let user = self
            .store
            .get_user_by_sub(pool_id, sub)
            .await?
            .ok_or_else(Error::user_not_found)?;
        if !user.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        let client = match claims.get("client_id").and_then(Value::as_str) {
            Some(id) => self.cached_client(id).await?.map(|c| AppClient::clone(&c)),
            None => None,
        };
        Ok(AccessAuth {
            user,
            client,
            claims,
        })
    }
}
