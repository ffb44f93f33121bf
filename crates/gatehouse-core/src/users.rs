//! Users: sign-up and confirmation, admin management, attributes and their verification,
//! password resets, listing. Sign-in itself is in auth.rs.

use std::collections::BTreeMap;

use gatehouse_store::{AppClient, OneTimeCode, Page, User, UserPool, UserStatus};
use sha2::{Digest, Sha256};

use crate::attributes::{self, Writer};
use crate::clients::check_secret_hash;
use crate::env::{random_digits, random_uuid};
use crate::error::{Error, Result};
use crate::messages::{mask_destination, Channel, Message, MessageKind};
use crate::password::{check_policy, temporary_password};
use crate::Directory;

/// Redoes a read-modify-write of one user that lost a race (another writer changed the user
/// after it was read, `Error::ConcurrentModification`): the block reads the user again and
/// reapplies its change, up to `STALE_REDOS` times, after a short random pause. A block must read the
/// user itself and have no side effect before its write. (A macro, not a function taking an
/// async closure: the handlers' futures must stay `Send`.)
/// How often a change that lost a race to another writer of the same user is redone: with N
/// writers of one user at once each round has one winner, so this many covers dozens of them
/// (measured: 24 attribute writes through three nodes at once, under a loaded test run).
pub(crate) const STALE_REDOS: u32 = 32;

macro_rules! redo_if_stale {
    ($dir:expr, $change:block) => {{
        let mut attempt = 0u32;
        loop {
            let result: Result<_> = async $change.await;
            match result {
                Err(Error::ConcurrentModification(_)) if attempt < $crate::users::STALE_REDOS => {
                    attempt += 1;
                    $dir.stale_pause(attempt).await;
                }
                other => break other,
            }
        }
    }};
}

/// Where a code went, as CodeDeliveryDetails reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDelivery {
    pub destination: String,
    pub medium: Channel,
    pub attribute: String,
}

#[derive(Debug, Clone)]
pub struct SignUpOutcome {
    pub user_sub: String,
    pub confirmed: bool,
    pub delivery: Option<CodeDelivery>,
}

/// What AdminCreateUser asks for.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub attributes: Vec<(String, String)>,
    pub temporary_password: Option<String>,
    /// None, SUPPRESS or RESEND.
    pub message_action: Option<String>,
    pub desired_delivery_mediums: Vec<String>,
    pub force_alias_creation: bool,
}

pub(crate) const SIGNUP: &str = "signup";
pub(crate) const FORGOT: &str = "forgot_password";
const MAX_CODE_FAILURES: u32 = 5;
const SIGNUP_CODE_TTL: i64 = 24 * 3600;
const FORGOT_CODE_TTL: i64 = 3600;
const VERIFY_CODE_TTL: i64 = 24 * 3600;

fn verify_purpose(attribute: &str) -> String {
    format!("verify:{attribute}")
}

fn hash_code(pool_id: &str, sub: &str, purpose: &str, code: &str) -> String {
    let mut h = Sha256::new();
    for part in [pool_id, sub, purpose, code] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// AWS's username rule: 1-128 characters of letters, marks, symbols, numbers, punctuation.
pub fn check_username(username: &str) -> Result<()> {
    let n = username.chars().count();
    if n == 0
        || n > 128
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+ and have length between 1 and 128",
        ));
    }
    Ok(())
}

impl Directory {
    /// Sets a user's password: its Argon2id hash, and the SRP verifier that lets the user sign
    /// in without sending the password (srp.rs). Every password change goes through here.
    pub(crate) async fn set_password(
        &self,
        pool: &UserPool,
        user: &mut User,
        password: &str,
    ) -> Result<()> {
        user.password_hash = Some(self.hasher.hash(password, &*self.rng).await?);
        self.store_password_verifier(pool, user, password)?;
        Ok(())
    }

    /// The key a username is stored and compared under.
    pub(crate) fn username_key(pool: &UserPool, username: &str) -> String {
        if pool.username_case_sensitive {
            username.to_string()
        } else {
            username.to_lowercase()
        }
    }

    /// The user a sign-in name refers to: the username itself, or (as the pool allows) an
    /// email / phone number used as username, or a verified alias.
    pub(crate) async fn find_user(&self, pool: &UserPool, name: &str) -> Result<Option<User>> {
        if let Some(u) = self
            .store
            .get_user(&pool.id, &Self::username_key(pool, name))
            .await?
        {
            return Ok(Some(u));
        }
        for attr in pool
            .username_attributes
            .iter()
            .chain(pool.alias_attributes.iter())
        {
            let alias = pool.alias_attributes.contains(attr);
            let mut candidates = self
                .store
                .find_users_by_attribute(&pool.id, attr, name)
                .await?;
            if candidates.is_empty() && !pool.username_case_sensitive && attr == "email" {
                candidates = self
                    .store
                    .find_users_by_attribute(&pool.id, attr, &name.to_lowercase())
                    .await?;
            }
            let verified = format!("{attr}_verified");
            let found = candidates.into_iter().find(|u| {
                !alias
                    || attr == "preferred_username"
                    || u.attributes.get(&verified).map(String::as_str) == Some("true")
            });
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The user an admin call names; UserNotFoundException otherwise.
    pub(crate) async fn admin_user(
        &self,
        pool_id: &str,
        username: &str,
    ) -> Result<(UserPool, User)> {
        let pool = self.pool(pool_id).await?;
        let user = self
            .find_user(&pool, username)
            .await?
            .ok_or_else(Error::user_not_found)?;
        Ok((pool, user))
    }

    /// The error for a user that does not exist, as the client's PreventUserExistenceErrors says.
    pub(crate) fn missing_user_error(client: &AppClient) -> Error {
        if client.prevent_user_existence_errors == "ENABLED" {
            Error::not_authorized("Incorrect username or password.")
        } else {
            Error::user_not_found()
        }
    }

    /// Subject and body of a message, from the pool's templates or AWS's defaults. The legacy
    /// top-level members (EmailVerificationMessage, SmsVerificationMessage, ...) apply when the
    /// VerificationMessageTemplate does not say otherwise, as on AWS.
    fn message_text(
        pool: &UserPool,
        kind: MessageKind,
        channel: Channel,
        username: &str,
        code: &str,
    ) -> (String, String) {
        let text = |v: Option<&serde_json::Value>, k: &str| {
            v.and_then(|t| t.get(k))
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let tmpl = pool.settings.get("VerificationMessageTemplate");
        let legacy = |k: &str| {
            pool.settings
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (subject, body) = match (kind, channel) {
            (MessageKind::TemporaryPassword, _) => {
                let invite = pool.admin_create_user.invite_message_template.as_ref();
                let default_body = "Your username is {username} and temporary password is {####}.";
                let body = match channel {
                    Channel::Email => text(invite, "EmailMessage"),
                    Channel::Sms => text(invite, "SMSMessage"),
                };
                (
                    text(invite, "EmailSubject")
                        .unwrap_or_else(|| "Your temporary password".into()),
                    body.unwrap_or_else(|| default_body.into()),
                )
            }
            (_, Channel::Email) => (
                text(tmpl, "EmailSubject")
                    .or_else(|| legacy("EmailVerificationSubject"))
                    .unwrap_or_else(|| "Your verification code".into()),
                text(tmpl, "EmailMessage")
                    .or_else(|| legacy("EmailVerificationMessage"))
                    .unwrap_or_else(|| "Your verification code is {####}.".into()),
            ),
            (_, Channel::Sms) => (
                String::new(),
                text(tmpl, "SmsMessage")
                    .or_else(|| legacy("SmsVerificationMessage"))
                    .unwrap_or_else(|| "Your verification code is {####}.".into()),
            ),
        };
        (
            subject,
            body.replace("{####}", code).replace("{username}", username),
        )
    }

    /// Sends `code` over `channel` to the user's address for it.
    pub(crate) async fn deliver(
        &self,
        pool: &UserPool,
        user: &User,
        channel: Channel,
        kind: MessageKind,
        code: &str,
    ) -> Result<CodeDelivery> {
        let attribute = match channel {
            Channel::Email => "email",
            Channel::Sms => "phone_number",
        };
        let destination = user
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("User has no {attribute} to deliver to.")))?;
        let (subject, body) = Self::message_text(pool, kind, channel, &user.username, code);
        let message = Message {
            time: crate::env::rfc3339(self.now()),
            pool_id: pool.id.clone(),
            username: user.username.clone(),
            channel,
            destination: destination.clone(),
            kind,
            code: code.to_string(),
            subject,
            body,
        };
        self.messenger.send(&message).await?;
        Ok(CodeDelivery {
            destination: mask_destination(channel, &destination),
            medium: channel,
            attribute: attribute.to_string(),
        })
    }

    /// Creates and sends a one-time code for `purpose`.
    pub(crate) async fn send_code(
        &self,
        pool: &UserPool,
        user: &User,
        purpose: &str,
        channel: Channel,
        kind: MessageKind,
        ttl: i64,
    ) -> Result<CodeDelivery> {
        let code = random_digits(&*self.rng, 6);
        self.store
            .put_code(&OneTimeCode {
                pool_id: pool.id.clone(),
                sub: user.sub.clone(),
                purpose: purpose.to_string(),
                code_hash: hash_code(&pool.id, &user.sub, purpose, &code),
                expires: self.now() + ttl,
                failed_attempts: 0,
            })
            .await?;
        self.deliver(pool, user, channel, kind, &code).await
    }

    /// Checks and consumes a one-time code.
    pub(crate) async fn check_code(
        &self,
        pool: &UserPool,
        user: &User,
        purpose: &str,
        code: &str,
    ) -> Result<()> {
        let expired =
            || Error::ExpiredCode("Invalid code provided, please request a code again.".into());
        let stored = self
            .store
            .get_code(&pool.id, &user.sub, purpose)
            .await?
            .ok_or_else(expired)?;
        if stored.expires < self.now() {
            self.store.delete_code(&pool.id, &user.sub, purpose).await?;
            return Err(expired());
        }
        if stored.failed_attempts >= MAX_CODE_FAILURES {
            return Err(Error::LimitExceeded(
                "Attempt limit exceeded, please try after some time.".into(),
            ));
        }
        let given = hash_code(&pool.id, &user.sub, purpose, code);
        use subtle::ConstantTimeEq;
        if given
            .as_bytes()
            .ct_eq(stored.code_hash.as_bytes())
            .unwrap_u8()
            != 1
        {
            self.store
                .record_code_failure(&pool.id, &user.sub, purpose)
                .await?;
            return Err(Error::CodeMismatch(
                "Invalid verification code provided, please try again.".into(),
            ));
        }
        if !self
            .store
            .consume_code(&pool.id, &user.sub, purpose, &given)
            .await?
        {
            // Someone else used it a moment ago: single use means this attempt loses.
            return Err(expired());
        }
        Ok(())
    }

    /// Where verification codes go for a user of this pool: the phone if the pool verifies
    /// phones and the user has one, else the email.
    fn verification_channel(pool: &UserPool, user: &User) -> Option<Channel> {
        let auto = |a: &str| pool.auto_verified_attributes.iter().any(|x| x == a);
        if auto("phone_number") && user.attributes.contains_key("phone_number") {
            Some(Channel::Sms)
        } else if auto("email") && user.attributes.contains_key("email") {
            Some(Channel::Email)
        } else {
            None
        }
    }

    /// Settles the username and attributes of a new user: with email/phone as username, the
    /// name given is that attribute and the username becomes a generated id.
    fn new_identity(
        &self,
        pool: &UserPool,
        name: &str,
        attrs: &mut BTreeMap<String, String>,
    ) -> Result<(String, String)> {
        let sub = random_uuid(&*self.rng);
        if pool.username_attributes.is_empty() {
            check_username(name)?;
            return Ok((name.to_string(), sub));
        }
        let as_email =
            pool.username_attributes.iter().any(|a| a == "email") && attributes::valid_email(name);
        let as_phone = pool.username_attributes.iter().any(|a| a == "phone_number")
            && attributes::valid_phone(name);
        if as_email {
            attrs.insert("email".into(), name.to_string());
        } else if as_phone {
            attrs.insert("phone_number".into(), name.to_string());
        } else {
            let want = if pool.username_attributes.len() == 2 {
                "Username should be either an email or a phone number."
            } else if pool.username_attributes[0] == "email" {
                "Username should be an email."
            } else {
                "Username should be a phone number."
            };
            return Err(Error::invalid(want));
        }
        Ok((sub.clone(), sub))
    }

    /// Fails when another user already holds `name` as username, username attribute or alias.
    async fn ensure_name_free(&self, pool: &UserPool, name: &str) -> Result<()> {
        if pool.username_attributes.is_empty() {
            if self
                .store
                .get_user(&pool.id, &Self::username_key(pool, name))
                .await?
                .is_some()
            {
                return Err(Error::UsernameExists("User already exists".into()));
            }
            return Ok(());
        }
        if self.find_user(pool, name).await?.is_some() {
            let what = if attributes::valid_email(name) {
                "email"
            } else {
                "phone_number"
            };
            return Err(Error::UsernameExists(format!(
                "An account with the given {what} already exists."
            )));
        }
        Ok(())
    }

    pub async fn sign_up(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
        attributes: Vec<(String, String)>,
        secret_hash: Option<&str>,
    ) -> Result<SignUpOutcome> {
        let client = self.client(client_id).await?;
        check_secret_hash(&client, &[username], secret_hash)?;
        let pool = self.pool(&client.pool_id).await?;
        if pool.admin_create_user.allow_admin_create_user_only {
            return Err(Error::not_authorized(
                "SignUp is not permitted for this user pool",
            ));
        }
        for (name, _) in &attributes {
            if !attributes::writable(client.write_attributes.as_deref(), name) {
                return Err(Error::not_authorized(
                    "A client attempted to write unauthorized attribute",
                ));
            }
            if name.ends_with("_verified") {
                return Err(Error::not_authorized(
                    "A client attempted to write unauthorized attribute",
                ));
            }
        }
        attributes::validate_writes(&pool, &attributes, None, Writer::User)?;
        let mut attrs: BTreeMap<String, String> = attributes.into_iter().collect();
        let (username, sub) = self.new_identity(&pool, username, &mut attrs)?;
        if let Some(missing) = attributes::missing_required(&pool, &attrs) {
            return Err(Error::invalid(format!(
                "Attributes did not conform to the schema: {missing}: The attribute is required"
            )));
        }
        check_policy(&pool.password_policy, password)?;
        self.ensure_name_free(&pool, &username).await?;
        if !pool.username_attributes.is_empty() {
            let name_attr = attrs
                .get("email")
                .or(attrs.get("phone_number"))
                .cloned()
                .unwrap_or_default();
            self.ensure_name_free(&pool, &name_attr).await?;
        }
        attrs.insert("sub".into(), sub.clone());
        let now = self.now();
        let mut user = User {
            pool_id: pool.id.clone(),
            username: username.clone(),
            sub: sub.clone(),
            status: UserStatus::Unconfirmed,
            enabled: true,
            password_hash: None,
            temporary_password_expires: None,
            attributes: attrs,
            created: now,
            modified: now,
            extra: BTreeMap::new(),
            version: 0,
        };
        self.set_password(&pool, &mut user, password).await?;
        self.insert_user(&pool, &user).await?;
        let delivery = match Self::verification_channel(&pool, &user) {
            Some(ch) => Some(
                self.send_code(
                    &pool,
                    &user,
                    SIGNUP,
                    ch,
                    MessageKind::SignUpCode,
                    SIGNUP_CODE_TTL,
                )
                .await?,
            ),
            None => None,
        };
        tracing::info!(pool_id = %pool.id, %sub, "user signed up");
        Ok(SignUpOutcome {
            user_sub: sub,
            confirmed: false,
            delivery,
        })
    }

    async fn insert_user(&self, pool: &UserPool, user: &User) -> Result<()> {
        match self
            .store
            .insert_user(user, &Self::username_key(pool, &user.username))
            .await
        {
            Err(gatehouse_store::StoreError::Conflict(_)) => {
                Err(Error::UsernameExists("User already exists".into()))
            }
            other => Ok(other?),
        }
    }

    /// The user a sign-in name refers to (if any), once the client's SECRET_HASH checks out
    /// against the name typed, the username or the sub (AWS accepts any of them).
    pub(crate) async fn find_user_for_client(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        secret_hash: Option<&str>,
    ) -> Result<Option<User>> {
        let user = self.find_user(pool, username).await?;
        let names: Vec<&str> = match &user {
            Some(u) => vec![username, &u.username, &u.sub],
            None => vec![username],
        };
        check_secret_hash(client, &names, secret_hash)?;
        Ok(user)
    }

    /// A user-facing call that names a user: resolves its client, pool and (maybe) user, and
    /// checks SECRET_HASH.
    async fn lookup_public(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
    ) -> Result<(AppClient, UserPool, Option<User>)> {
        let client = self.client(client_id).await?;
        let pool = self.pool(&client.pool_id).await?;
        let user = self
            .find_user_for_client(&pool, &client, username, secret_hash)
            .await?;
        Ok((client, pool, user))
    }

    /// As `lookup_public`, with `missing` as the error for an unknown user (the caller honours
    /// PreventUserExistenceErrors through it).
    async fn public_user(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
        missing: impl FnOnce(&AppClient) -> Error,
    ) -> Result<(AppClient, UserPool, User)> {
        match self.lookup_public(client_id, username, secret_hash).await? {
            (client, pool, Some(u)) => Ok((client, pool, u)),
            (client, _, None) => Err(missing(&client)),
        }
    }

    pub async fn confirm_sign_up(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        secret_hash: Option<&str>,
        force_alias_creation: bool,
    ) -> Result<()> {
        let (_, pool, mut user) = self
            .public_user(client_id, username, secret_hash, |c| {
                if c.prevent_user_existence_errors == "ENABLED" {
                    Error::CodeMismatch(
                        "Invalid verification code provided, please try again.".into(),
                    )
                } else {
                    Error::user_not_found()
                }
            })
            .await?;
        if user.status != UserStatus::Unconfirmed {
            return Err(Error::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_aws()
            )));
        }
        self.check_code(&pool, &user, SIGNUP, code).await?;
        if let Some(ch) = Self::verification_channel(&pool, &user) {
            let attr = if ch == Channel::Email {
                "email"
            } else {
                "phone_number"
            };
            self.claim_alias(&pool, &user, attr, force_alias_creation)
                .await?;
            user.attributes
                .insert(format!("{attr}_verified"), "true".into());
        }
        user.status = UserStatus::Confirmed;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    /// When `attr` is an alias, a verified value can belong to one user only: another user
    /// holding it verified makes this fail, or loses it when `force`.
    async fn claim_alias(
        &self,
        pool: &UserPool,
        user: &User,
        attr: &str,
        force: bool,
    ) -> Result<()> {
        if !pool.alias_attributes.iter().any(|a| a == attr) {
            return Ok(());
        }
        let Some(value) = user.attributes.get(attr) else {
            return Ok(());
        };
        let verified = format!("{attr}_verified");
        for mut other in self
            .store
            .find_users_by_attribute(&pool.id, attr, value)
            .await?
        {
            if other.sub == user.sub
                || other.attributes.get(&verified).map(String::as_str) != Some("true")
            {
                continue;
            }
            if !force {
                let what = if attr == "email" {
                    "email"
                } else {
                    "phone number"
                };
                return Err(Error::AliasExists(format!(
                    "An account with the given {what} already exists."
                )));
            }
            other.attributes.remove(attr);
            other.attributes.remove(&verified);
            other.modified = self.now();
            self.store.update_user(&mut other).await?;
        }
        Ok(())
    }

    pub async fn resend_confirmation_code(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
    ) -> Result<Option<CodeDelivery>> {
        let (client, pool, user) = self.lookup_public(client_id, username, secret_hash).await?;
        let Some(user) = user else {
            if client.prevent_user_existence_errors == "ENABLED" {
                return Ok(Some(Self::simulated_delivery(username)));
            }
            return Err(Error::user_not_found());
        };
        if user.status != UserStatus::Unconfirmed {
            return Err(Error::invalid("User is already confirmed."));
        }
        let ch = Self::verification_channel(&pool, &user)
            .ok_or_else(|| Error::invalid("Auto verification not turned on."))?;
        Ok(Some(
            self.send_code(
                &pool,
                &user,
                SIGNUP,
                ch,
                MessageKind::SignUpCode,
                SIGNUP_CODE_TTL,
            )
            .await?,
        ))
    }

    pub async fn admin_create_user(&self, pool_id: &str, req: NewUser) -> Result<User> {
        let pool = self.pool(pool_id).await?;
        let action = req.message_action.as_deref();
        if let Some(a) = action {
            if a != "RESEND" && a != "SUPPRESS" {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value '{a}' at 'messageAction' failed to satisfy constraint: Member must satisfy enum value set: [RESEND, SUPPRESS]"
                )));
            }
        }
        if let Some(tp) = &req.temporary_password {
            check_policy(&pool.password_policy, tp)?;
        }
        let temp = req
            .temporary_password
            .clone()
            .unwrap_or_else(|| temporary_password(&pool.password_policy, &*self.rng));
        let now = self.now();
        let temp_expires =
            now + i64::from(pool.password_policy.temporary_password_validity_days.max(1)) * 86_400;

        // Where the invitation goes, settled before anything is stored so that an undeliverable
        // invitation does not leave a half-created user behind.
        let invite_channels = |attrs: &BTreeMap<String, String>| -> Result<Vec<Channel>> {
            if action == Some("SUPPRESS") {
                return Ok(Vec::new());
            }
            let mut channels: Vec<Channel> = req
                .desired_delivery_mediums
                .iter()
                .map(|m| match m.as_str() {
                    "EMAIL" => Ok(Channel::Email),
                    "SMS" => Ok(Channel::Sms),
                    other => Err(Error::invalid(format!(
                        "1 validation error detected: Value '[{other}]' at 'desiredDeliveryMediums' failed to satisfy constraint: Member must satisfy enum value set: [SMS, EMAIL]"
                    ))),
                })
                .collect::<Result<_>>()?;
            if channels.is_empty() {
                channels.push(if attrs.contains_key("phone_number") {
                    Channel::Sms
                } else {
                    Channel::Email
                });
            }
            for ch in &channels {
                let attribute = match ch {
                    Channel::Email => "email",
                    Channel::Sms => "phone_number",
                };
                if !attrs.contains_key(attribute) {
                    return Err(Error::invalid(format!(
                        "User has no {attribute} to deliver to."
                    )));
                }
            }
            Ok(channels)
        };
        let channels;
        let user = if action == Some("RESEND") {
            let mut user = self
                .find_user(&pool, &req.username)
                .await?
                .ok_or_else(Error::user_not_found)?;
            if user.status != UserStatus::ForceChangePassword {
                return Err(Error::UnsupportedUserState(
                    "Resend not possible. User status is not FORCE_CHANGE_PASSWORD.".into(),
                ));
            }
            channels = invite_channels(&user.attributes)?;
            self.set_password(&pool, &mut user, &temp).await?;
            user.temporary_password_expires = Some(temp_expires);
            user.modified = now;
            self.store.update_user(&mut user).await?;
            user
        } else {
            attributes::validate_writes(&pool, &req.attributes, None, Writer::Admin)?;
            let mut attrs: BTreeMap<String, String> = req.attributes.iter().cloned().collect();
            let (username, sub) = self.new_identity(&pool, &req.username, &mut attrs)?;
            if let Some(missing) = attributes::missing_required(&pool, &attrs) {
                return Err(Error::invalid(format!(
                    "Attributes did not conform to the schema: {missing}: The attribute is required"
                )));
            }
            // AdminCreateUser words a taken username its own way.
            let account_exists = |e: Error| match e {
                Error::UsernameExists(m) if m == "User already exists" => {
                    Error::UsernameExists("User account already exists".into())
                }
                other => other,
            };
            if pool.username_attributes.is_empty() {
                self.ensure_name_free(&pool, &username)
                    .await
                    .map_err(account_exists)?;
            } else {
                self.ensure_name_free(&pool, &req.username).await?;
            }
            channels = invite_channels(&attrs)?;
            attrs.insert("sub".into(), sub.clone());
            let mut user = User {
                pool_id: pool.id.clone(),
                username,
                sub,
                status: UserStatus::ForceChangePassword,
                enabled: true,
                password_hash: None,
                temporary_password_expires: Some(temp_expires),
                attributes: attrs,
                created: now,
                modified: now,
                extra: BTreeMap::new(),
                version: 0,
            };
            self.set_password(&pool, &mut user, &temp).await?;
            for attr in ["email", "phone_number"] {
                if user
                    .attributes
                    .get(&format!("{attr}_verified"))
                    .map(String::as_str)
                    == Some("true")
                {
                    self.claim_alias(&pool, &user, attr, req.force_alias_creation)
                        .await?;
                }
            }
            self.insert_user(&pool, &user)
                .await
                .map_err(account_exists)?;
            user
        };

        for ch in channels {
            self.deliver(&pool, &user, ch, MessageKind::TemporaryPassword, &temp)
                .await?;
        }
        tracing::info!(pool_id = %pool.id, sub = %user.sub, "user created by admin");
        Ok(user)
    }

    pub async fn admin_get_user(&self, pool_id: &str, username: &str) -> Result<User> {
        Ok(self.admin_user(pool_id, username).await?.1)
    }

    pub async fn admin_delete_user(&self, pool_id: &str, username: &str) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        // Its tokens die with it, at the gateway too (the journal outlives the user).
        self.revoke_user(pool_id, &user.sub).await?;
        self.store.delete_user(pool_id, &user.sub).await?;
        Ok(())
    }

    pub async fn admin_set_enabled(
        &self,
        pool_id: &str,
        username: &str,
        enabled: bool,
    ) -> Result<()> {
        let user = redo_if_stale!(self, {
            let (_, mut user) = self.admin_user(pool_id, username).await?;
            user.enabled = enabled;
            user.modified = self.now();
            self.store.update_user(&mut user).await?;
            Ok(user)
        })?;
        if !enabled {
            // AWS: AdminDisableUser revokes the user's tokens.
            self.revoke_user(pool_id, &user.sub).await?;
        }
        Ok(())
    }

    pub async fn admin_confirm_sign_up(&self, pool_id: &str, username: &str) -> Result<()> {
        let (_, mut user) = self.admin_user(pool_id, username).await?;
        if user.status != UserStatus::Unconfirmed {
            return Err(Error::not_authorized(format!(
                "User cannot be confirmed. Current status is {}",
                user.status.as_aws()
            )));
        }
        user.status = UserStatus::Confirmed;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        self.store.delete_code(pool_id, &user.sub, SIGNUP).await?;
        Ok(())
    }

    /// Whether `password` is the user's current password, with no sign-in side effects (no
    /// lockout counting, no session): the declarative configuration sets a declared password
    /// only when it differs, so re-applying a file changes nothing.
    pub async fn admin_password_matches(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
    ) -> Result<bool> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.hasher
            .verify(password, user.password_hash.as_deref())
            .await
    }

    pub async fn admin_set_user_password(
        &self,
        pool_id: &str,
        username: &str,
        password: &str,
        permanent: bool,
    ) -> Result<()> {
        let (pool, mut user) = self.admin_user(pool_id, username).await?;
        check_policy(&pool.password_policy, password)?;
        self.set_password(&pool, &mut user, password).await?;
        let now = self.now();
        if permanent {
            user.status = UserStatus::Confirmed;
            user.temporary_password_expires = None;
        } else {
            user.status = UserStatus::ForceChangePassword;
            user.temporary_password_expires = Some(
                now + i64::from(pool.password_policy.temporary_password_validity_days.max(1))
                    * 86_400,
            );
        }
        user.modified = now;
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    /// The channel a password-reset code goes to: a verified phone, else a verified email
    /// (unverified ones when the pool has no other way, as AWS's legacy behaviour allows).
    fn recovery_channel(user: &User) -> Option<Channel> {
        let verified = |a: &str| {
            user.attributes
                .get(&format!("{a}_verified"))
                .map(String::as_str)
                == Some("true")
        };
        if verified("email") && user.attributes.contains_key("email") {
            Some(Channel::Email)
        } else if verified("phone_number") && user.attributes.contains_key("phone_number") {
            Some(Channel::Sms)
        } else {
            None
        }
    }

    pub async fn admin_reset_user_password(&self, pool_id: &str, username: &str) -> Result<()> {
        let (pool, mut user) = self.admin_user(pool_id, username).await?;
        let ch = Self::recovery_channel(&user).ok_or_else(|| {
            Error::invalid("Cannot reset password for the user as there is no registered/verified email or phone_number")
        })?;
        if user.status != UserStatus::Unconfirmed {
            user.status = UserStatus::ResetRequired;
        }
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        self.send_code(
            &pool,
            &user,
            FORGOT,
            ch,
            MessageKind::ForgotPasswordCode,
            FORGOT_CODE_TTL,
        )
        .await?;
        Ok(())
    }

    /// Applies attribute writes; a changed email or phone number is unverified again and, when
    /// the pool auto-verifies it, a code is sent. Returns where codes went.
    async fn write_attributes(
        &self,
        pool: &UserPool,
        user: &mut User,
        writes: Vec<(String, String)>,
        writer: Writer,
    ) -> Result<Vec<CodeDelivery>> {
        attributes::validate_writes(pool, &writes, Some(&user.attributes), writer)?;
        let mut to_verify = Vec::new();
        let explicit_verified: Vec<String> = writes
            .iter()
            .filter(|(n, v)| n.ends_with("_verified") && v == "true")
            .map(|(n, _)| n.trim_end_matches("_verified").to_string())
            .collect();
        for (name, value) in writes {
            let changes_contact = (name == "email" || name == "phone_number")
                && user.attributes.get(&name) != Some(&value);
            if changes_contact && !explicit_verified.contains(&name) {
                let keep_old = pool
                    .attributes_require_verification_before_update
                    .contains(&name)
                    && user
                        .attributes
                        .get(&format!("{name}_verified"))
                        .map(String::as_str)
                        == Some("true");
                if keep_old {
                    // The old, verified value stays until the new one is verified.
                    user.extra
                        .insert(format!("pending:{name}"), serde_json::Value::String(value));
                } else {
                    user.attributes.insert(name.clone(), value);
                    user.attributes
                        .insert(format!("{name}_verified"), "false".into());
                }
                if pool.auto_verified_attributes.contains(&name) {
                    to_verify.push(name);
                }
            } else {
                user.attributes.insert(name, value);
            }
        }
        for attr in ["email", "phone_number"] {
            if user
                .attributes
                .get(&format!("{attr}_verified"))
                .map(String::as_str)
                == Some("true")
            {
                self.claim_alias(pool, user, attr, false).await?;
            }
        }
        user.modified = self.now();
        self.store.update_user(user).await?;
        let mut deliveries = Vec::new();
        for attr in to_verify {
            deliveries.push(self.send_verification(pool, user, &attr).await?);
        }
        Ok(deliveries)
    }

    async fn send_verification(
        &self,
        pool: &UserPool,
        user: &User,
        attr: &str,
    ) -> Result<CodeDelivery> {
        let channel = if attr == "email" {
            Channel::Email
        } else {
            Channel::Sms
        };
        // A pending value (kept back until verified) is where the code must go.
        let mut target = user.clone();
        if let Some(serde_json::Value::String(v)) = user.extra.get(&format!("pending:{attr}")) {
            target.attributes.insert(attr.to_string(), v.clone());
        }
        self.send_code(
            pool,
            &target,
            &verify_purpose(attr),
            channel,
            MessageKind::VerifyAttributeCode,
            VERIFY_CODE_TTL,
        )
        .await
    }

    pub async fn admin_update_user_attributes(
        &self,
        pool_id: &str,
        username: &str,
        writes: Vec<(String, String)>,
    ) -> Result<()> {
        redo_if_stale!(self, {
            let (pool, mut user) = self.admin_user(pool_id, username).await?;
            self.write_attributes(&pool, &mut user, writes.clone(), Writer::Admin)
                .await
        })?;
        Ok(())
    }

    pub async fn admin_delete_user_attributes(
        &self,
        pool_id: &str,
        username: &str,
        names: Vec<String>,
    ) -> Result<()> {
        redo_if_stale!(self, {
            let (pool, mut user) = self.admin_user(pool_id, username).await?;
            self.delete_attributes(&pool, &mut user, names.clone())
                .await
        })
    }

    async fn delete_attributes(
        &self,
        pool: &UserPool,
        user: &mut User,
        names: Vec<String>,
    ) -> Result<()> {
        for name in &names {
            let attr = attributes::find(pool, name).ok_or_else(|| {
                Error::invalid(format!("Attributes did not conform to the schema: {name}: Attribute does not exist in the schema."))
            })?;
            if attr.required || (!attr.custom && attr.name == "sub") {
                return Err(Error::invalid(format!(
                    "Attributes did not conform to the schema: {name}: The attribute is required"
                )));
            }
            if !attr.mutable {
                return Err(Error::invalid(format!(
                    "Attributes did not conform to the schema: {name}: Attribute cannot be updated. (changing an immutable attribute)"
                )));
            }
        }
        for name in names {
            user.attributes.remove(&name);
            if name == "email" || name == "phone_number" {
                user.attributes.remove(&format!("{name}_verified"));
            }
        }
        user.modified = self.now();
        self.store.update_user(user).await?;
        Ok(())
    }

    /// With PreventUserExistenceErrors ENABLED, an unknown user gets an answer as if a code
    /// went out, so the response does not reveal whether the user exists.
    pub(crate) fn simulated_delivery(username: &str) -> CodeDelivery {
        let channel = if attributes::valid_phone(username) {
            Channel::Sms
        } else {
            Channel::Email
        };
        let shown = if channel == Channel::Email && !attributes::valid_email(username) {
            format!("{username}@example.com")
        } else {
            username.to_string()
        };
        CodeDelivery {
            destination: mask_destination(channel, &shown),
            medium: channel,
            attribute: if channel == Channel::Email {
                "email"
            } else {
                "phone_number"
            }
            .into(),
        }
    }

    pub async fn forgot_password(
        &self,
        client_id: &str,
        username: &str,
        secret_hash: Option<&str>,
    ) -> Result<CodeDelivery> {
        let (client, pool, user) = self.lookup_public(client_id, username, secret_hash).await?;
        let Some(user) = user else {
            if client.prevent_user_existence_errors == "ENABLED" {
                return Ok(Self::simulated_delivery(username));
            }
            return Err(Error::user_not_found());
        };
        if !user.enabled {
            return Err(Error::not_authorized("User is disabled."));
        }
        let ch = Self::recovery_channel(&user).ok_or_else(|| {
            Error::invalid("Cannot reset password for the user as there is no registered/verified email or phone_number")
        })?;
        self.send_code(
            &pool,
            &user,
            FORGOT,
            ch,
            MessageKind::ForgotPasswordCode,
            FORGOT_CODE_TTL,
        )
        .await
    }

    pub async fn confirm_forgot_password(
        &self,
        client_id: &str,
        username: &str,
        code: &str,
        password: &str,
        secret_hash: Option<&str>,
    ) -> Result<()> {
        let (_, pool, mut user) = self
            .public_user(client_id, username, secret_hash, |c| {
                if c.prevent_user_existence_errors == "ENABLED" {
                    Error::CodeMismatch(
                        "Invalid verification code provided, please try again.".into(),
                    )
                } else {
                    Error::user_not_found()
                }
            })
            .await?;
        check_policy(&pool.password_policy, password)?;
        self.check_code(&pool, &user, FORGOT, code).await?;
        self.set_password(&pool, &mut user, password).await?;
        user.temporary_password_expires = None;
        if matches!(
            user.status,
            UserStatus::ResetRequired | UserStatus::ForceChangePassword
        ) {
            user.status = UserStatus::Confirmed;
        }
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    pub async fn change_password(
        &self,
        access_token: &str,
        previous: &str,
        proposed: &str,
    ) -> Result<()> {
        let auth = self.authenticate_access_token(access_token).await?;
        let pool = self.pool(&auth.user.pool_id).await?;
        let mut user = auth.user;
        if !self
            .hasher
            .verify(previous, user.password_hash.as_deref())
            .await?
        {
            return Err(Error::not_authorized("Incorrect username or password."));
        }
        check_policy(&pool.password_policy, proposed)?;
        self.set_password(&pool, &mut user, proposed).await?;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    /// The user behind an access token, with only the attributes its client may read.
    pub async fn get_user(&self, access_token: &str) -> Result<User> {
        let auth = self.authenticate_access_token(access_token).await?;
        let mut user = auth.user;
        if let Some(client) = &auth.client {
            let read = client.read_attributes.as_deref();
            user.attributes.retain(|k, _| attributes::readable(read, k));
        }
        Ok(user)
    }

    pub async fn delete_self(&self, access_token: &str) -> Result<()> {
        let auth = self.authenticate_access_token(access_token).await?;
        self.revoke_user(&auth.user.pool_id, &auth.user.sub).await?;
        self.store
            .delete_user(&auth.user.pool_id, &auth.user.sub)
            .await?;
        Ok(())
    }

    pub async fn update_user_attributes(
        &self,
        access_token: &str,
        writes: Vec<(String, String)>,
    ) -> Result<Vec<CodeDelivery>> {
        let auth = self.authenticate_access_token(access_token).await?;
        if let Some(client) = &auth.client {
            for (name, _) in &writes {
                if !attributes::writable(client.write_attributes.as_deref(), name)
                    || name.ends_with("_verified")
                {
                    return Err(Error::not_authorized(
                        "A client attempted to write unauthorized attribute",
                    ));
                }
            }
        }
        let pool = self.pool(&auth.user.pool_id).await?;
        let sub = auth.user.sub.clone();
        let mut first = Some(auth.user);
        redo_if_stale!(self, {
            let mut user = match first.take() {
                Some(user) => user,
                None => self.current(&pool.id, &sub).await?,
            };
            self.write_attributes(&pool, &mut user, writes.clone(), Writer::User)
                .await
        })
    }

    pub async fn delete_user_attributes(
        &self,
        access_token: &str,
        names: Vec<String>,
    ) -> Result<()> {
        let auth = self.authenticate_access_token(access_token).await?;
        if let Some(client) = &auth.client {
            for name in &names {
                if !attributes::writable(client.write_attributes.as_deref(), name) {
                    return Err(Error::not_authorized(
                        "A client attempted to write unauthorized attribute",
                    ));
                }
            }
        }
        let pool = self.pool(&auth.user.pool_id).await?;
        let sub = auth.user.sub.clone();
        let mut first = Some(auth.user);
        redo_if_stale!(self, {
            let mut user = match first.take() {
                Some(user) => user,
                None => self.current(&pool.id, &sub).await?,
            };
            self.delete_attributes(&pool, &mut user, names.clone())
                .await
        })
    }

    /// The user as stored now (a retried change reads it again).
    async fn current(&self, pool_id: &str, sub: &str) -> Result<User> {
        self.store
            .get_user_by_sub(pool_id, sub)
            .await?
            .ok_or_else(Error::user_not_found)
    }

    /// The pause before redoing a change that lost a race: random, growing with the attempt.
    pub(crate) async fn stale_pause(&self, attempt: u32) {
        let mut b = [0u8; 2];
        self.rng.fill(&mut b);
        // Up to 0.25 ms after the first loss, doubling to at most 16 ms: writers that keep
        // colliding spread out.
        let micros = u64::from(u16::from_le_bytes(b)) % (250u64 << attempt.min(6));
        tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    }

    pub async fn get_user_attribute_verification_code(
        &self,
        access_token: &str,
        attribute: &str,
    ) -> Result<CodeDelivery> {
        let auth = self.authenticate_access_token(access_token).await?;
        let pool = self.pool(&auth.user.pool_id).await?;
        if attribute != "email" && attribute != "phone_number" {
            return Err(Error::invalid(format!(
                "Invalid attribute name: {attribute}. Only email and phone_number can be verified."
            )));
        }
        let pending = auth
            .user
            .extra
            .contains_key(&format!("pending:{attribute}"));
        if !auth.user.attributes.contains_key(attribute) && !pending {
            return Err(Error::invalid(format!(
                "User does not have a value for the attribute: {attribute}"
            )));
        }
        self.send_verification(&pool, &auth.user, attribute).await
    }

    pub async fn verify_user_attribute(
        &self,
        access_token: &str,
        attribute: &str,
        code: &str,
    ) -> Result<()> {
        let auth = self.authenticate_access_token(access_token).await?;
        let pool = self.pool(&auth.user.pool_id).await?;
        let mut user = auth.user;
        self.check_code(&pool, &user, &verify_purpose(attribute), code)
            .await?;
        if let Some(serde_json::Value::String(v)) =
            user.extra.remove(&format!("pending:{attribute}"))
        {
            user.attributes.insert(attribute.to_string(), v);
        }
        user.attributes
            .insert(format!("{attribute}_verified"), "true".into());
        self.claim_alias(&pool, &user, attribute, false).await?;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    /// Bulk import, as a Cognito import job does: users arrive RESET_REQUIRED without a
    /// password and set one through the forgot-password flow. `rows` are (column, value) pairs
    /// with `cognito:username` among them. Returns how many were imported.
    pub async fn import_users(
        &self,
        pool_id: &str,
        rows: Vec<Vec<(String, String)>>,
    ) -> Result<usize> {
        let pool = self.pool(pool_id).await?;
        let now = self.now();
        let mut users = Vec::with_capacity(rows.len());
        for (i, row) in rows.into_iter().enumerate() {
            let mut username = None;
            let mut writes = Vec::new();
            for (col, value) in row {
                match col.as_str() {
                    "cognito:username" => username = Some(value),
                    "cognito:mfa_enabled" | "sub" => {}
                    _ if value.is_empty() => {}
                    _ => writes.push((col, value)),
                }
            }
            let username = username.filter(|u| !u.is_empty()).ok_or_else(|| {
                Error::invalid(format!("row {}: cognito:username is required", i + 1))
            })?;
            check_username(&username)?;
            attributes::validate_writes(&pool, &writes, None, Writer::Admin)
                .map_err(|e| Error::invalid(format!("row {} ({username}): {e}", i + 1)))?;
            let sub = random_uuid(&*self.rng);
            let mut attrs: BTreeMap<String, String> = writes.into_iter().collect();
            attrs.insert("sub".into(), sub.clone());
            let key = Self::username_key(&pool, &username);
            users.push((
                User {
                    pool_id: pool.id.clone(),
                    username,
                    sub,
                    status: UserStatus::ResetRequired,
                    enabled: true,
                    password_hash: None,
                    temporary_password_expires: None,
                    attributes: attrs,
                    created: now,
                    modified: now,
                    extra: BTreeMap::new(),
                    version: 0,
                },
                key,
            ));
        }
        let n = users.len();
        match self.store.insert_users(&users).await {
            Err(gatehouse_store::StoreError::Conflict(m)) => Err(Error::UsernameExists(format!(
                "A user in the file already exists: {m}"
            ))),
            other => {
                other?;
                Ok(n)
            }
        }
    }

    pub async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&str>,
        limit: usize,
        token: Option<String>,
    ) -> Result<(Vec<User>, Option<String>)> {
        let pool = self.pool(pool_id).await?;
        let mut filter = match filter {
            Some(f) => attributes::parse_filter(f)?,
            None => None,
        };
        // Usernames are indexed by their key, so the filter value is keyed the same way.
        if let Some(
            gatehouse_store::UserFilter::Equals { attribute, value }
            | gatehouse_store::UserFilter::StartsWith {
                attribute,
                prefix: value,
            },
        ) = filter.as_mut()
        {
            if attribute == "username" {
                *value = Self::username_key(&pool, value);
            }
        }
        let page = Page {
            limit: limit + 1,
            after: token,
        };
        let mut users = self
            .store
            .list_users(pool_id, filter.as_ref(), &page)
            .await?;
        let more = users.len() > limit;
        users.truncate(limit);
        let next = more.then(|| users.last().map(|(k, _)| k.clone())).flatten();
        Ok((users.into_iter().map(|(_, u)| u).collect(), next))
    }
}
