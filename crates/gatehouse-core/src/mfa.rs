//! Multi-factor authentication: the pool's MFA configuration, TOTP software tokens, SMS and
//! email one-time codes, the users' MFA preferences, and the challenges they add to sign-in
//! (SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP, SELECT_MFA_TYPE, MFA_SETUP).

mod totp;

use std::collections::BTreeMap;

use gatehouse_store::{AppClient, AuthSession, OneTimeCode, User, UserPool};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::auth::{required, session_context, sha256_hex, AuthOutcome, Challenge, SignInContext};
use crate::env::{random_bytes, random_digits};
use crate::error::{Error, Result};
use crate::messages::{mask_destination, Channel, Message, MessageKind};
use crate::Directory;

pub use totp::{base32_encode, code_at_step, matching_step, step_at, STEP_SECONDS};

/// Where the pool's MFA factors live in `UserPool.settings` (the leading `_` keeps the adapter
/// from echoing it as an AWS member).
pub const POOL_SETTINGS_KEY: &str = "_mfa";
/// Where a user's MFA state lives in `User.extra`.
const USER_EXTRA_KEY: &str = "mfa";
/// The one-time-code row that remembers the last accepted TOTP step of a user.
const TOTP_STEP_PURPOSE: &str = "mfa:totp_step";
/// Wrong answers a challenge session survives; the one after ends it.
pub const MAX_CODE_ATTEMPTS: u32 = 3;
const SECRET_BYTES: usize = 32;

/// An MFA factor, named as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Factor {
    #[serde(rename = "SMS_MFA")]
    Sms,
    #[serde(rename = "SOFTWARE_TOKEN_MFA")]
    SoftwareToken,
    #[serde(rename = "EMAIL_OTP")]
    Email,
}

impl Factor {
    pub fn as_aws(self) -> &'static str {
        match self {
            Factor::Sms => "SMS_MFA",
            Factor::SoftwareToken => "SOFTWARE_TOKEN_MFA",
            Factor::Email => "EMAIL_OTP",
        }
    }

    pub fn from_aws(s: &str) -> Option<Self> {
        Some(match s {
            "SMS_MFA" => Factor::Sms,
            "SOFTWARE_TOKEN_MFA" => Factor::SoftwareToken,
            "EMAIL_OTP" => Factor::Email,
            _ => return None,
        })
    }

    fn response_key(self) -> &'static str {
        match self {
            Factor::Sms => "SMS_MFA_CODE",
            Factor::SoftwareToken => "SOFTWARE_TOKEN_MFA_CODE",
            Factor::Email => "EMAIL_OTP_CODE",
        }
    }

    fn channel(self) -> Option<Channel> {
        match self {
            Factor::Sms => Some(Channel::Sms),
            Factor::Email => Some(Channel::Email),
            Factor::SoftwareToken => None,
        }
    }

    /// The attribute a code for this factor is delivered to.
    fn attribute(self) -> Option<&'static str> {
        match self {
            Factor::Sms => Some("phone_number"),
            Factor::Email => Some("email"),
            Factor::SoftwareToken => None,
        }
    }
}

/// SmsMfaConfiguration: the message (`{####}` is the code) and the SNS configuration, echoed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmsMfa {
    pub message: Option<String>,
    pub sms_configuration: Option<Value>,
}

/// EmailMfaConfiguration: the message (`{####}` is the code) and subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmailMfa {
    pub message: Option<String>,
    pub subject: Option<String>,
}

/// GetUserPoolMfaConfig / SetUserPoolMfaConfig: which factors the pool offers, and whether
/// MFA is OFF, OPTIONAL or ON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolMfaConfig {
    #[serde(skip)]
    pub mfa_configuration: String,
    pub sms: Option<SmsMfa>,
    pub software_token: bool,
    pub email: Option<EmailMfa>,
}

impl PoolMfaConfig {
    pub fn offers(&self, f: Factor) -> bool {
        match f {
            Factor::Sms => self.sms.is_some(),
            Factor::SoftwareToken => self.software_token,
            Factor::Email => self.email.is_some(),
        }
    }
}

/// The pool's effective MFA configuration. A pool never given one by SetUserPoolMfaConfig
/// offers SMS when it has an SmsConfiguration, and, when CreateUserPool/UpdateUserPool asked
/// for MFA, TOTP and SMS (codes go to the outbox), so such a pool is usable at all.
pub fn pool_mfa_config(pool: &UserPool) -> PoolMfaConfig {
    let mut config = pool
        .settings
        .get(POOL_SETTINGS_KEY)
        .and_then(|v| serde_json::from_value::<PoolMfaConfig>(v.clone()).ok())
        .unwrap_or_else(|| {
            let sms = SmsMfa {
                message: pool
                    .settings
                    .get("SmsAuthenticationMessage")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                sms_configuration: pool.settings.get("SmsConfiguration").cloned(),
            };
            let mfa_on = pool.mfa_configuration != "OFF";
            PoolMfaConfig {
                mfa_configuration: String::new(),
                sms: (mfa_on || sms.sms_configuration.is_some()).then_some(sms),
                software_token: mfa_on,
                email: None,
            }
        });
    config.mfa_configuration = pool.mfa_configuration.clone();
    config
}

/// What SetUserPoolMfaConfig asks for. Each call states the whole factor configuration:
/// a factor left out is turned off. MfaConfiguration left out stays as it is.
#[derive(Debug, Clone, Default)]
pub struct PoolMfaUpdate {
    pub mfa_configuration: Option<String>,
    pub sms: Option<SmsMfa>,
    pub software_token: Option<bool>,
    pub email: Option<EmailMfa>,
}

/// One factor's part of SetUserMFAPreference (SMSMfaSettings, SoftwareTokenMfaSettings, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorPreference {
    pub enabled: bool,
    pub preferred: bool,
}

/// SetUserMFAPreference / AdminSetUserMFAPreference: a factor left out is left as it is.
#[derive(Debug, Clone, Default)]
pub struct MfaPreferences {
    pub sms: Option<FactorPreference>,
    pub software_token: Option<FactorPreference>,
    pub email: Option<FactorPreference>,
}

/// A user's MFA state, kept in `User.extra["mfa"]`. TOTP secrets are sealed (crypt.rs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct UserMfa {
    /// The verified TOTP secret, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    totp_secret: Option<String>,
    /// A secret from AssociateSoftwareToken awaiting VerifySoftwareToken, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    totp_pending: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    totp_device_name: Option<String>,
    #[serde(default)]
    enabled: Vec<Factor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preferred: Option<Factor>,
    /// Legacy MFAOptions (SetUserSettings) asked for SMS.
    #[serde(default)]
    sms_option: bool,
}

impl UserMfa {
    fn of(user: &User) -> Self {
        user.extra
            .get(USER_EXTRA_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    fn store_in(&self, user: &mut User) -> Result<()> {
        let v = serde_json::to_value(self).map_err(|e| Error::Internal(e.to_string()))?;
        user.extra.insert(USER_EXTRA_KEY.to_string(), v);
        Ok(())
    }

    fn is_enabled(&self, f: Factor) -> bool {
        self.enabled.contains(&f) || (f == Factor::Sms && self.sms_option)
    }

    fn set_enabled(&mut self, f: Factor, on: bool) {
        self.enabled.retain(|x| *x != f);
        if on {
            self.enabled.push(f);
            self.enabled.sort();
        } else {
            if f == Factor::Sms {
                self.sms_option = false;
            }
            if self.preferred == Some(f) {
                self.preferred = None;
            }
        }
    }
}

/// What GetUser / AdminGetUser show of a user's MFA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMfaView {
    /// UserMFASettingList.
    pub enabled: Vec<&'static str>,
    /// PreferredMfaSetting.
    pub preferred: Option<&'static str>,
    /// Legacy MFAOptions: SMS to phone_number.
    pub sms_option: bool,
}

pub fn user_mfa_view(user: &User) -> UserMfaView {
    let m = UserMfa::of(user);
    let mut enabled: Vec<Factor> = m.enabled.clone();
    if m.sms_option && !enabled.contains(&Factor::Sms) {
        enabled.push(Factor::Sms);
        enabled.sort();
    }
    UserMfaView {
        enabled: enabled.into_iter().map(Factor::as_aws).collect(),
        preferred: m.preferred.map(Factor::as_aws),
        sms_option: m.sms_option,
    }
}

/// How AssociateSoftwareToken / VerifySoftwareToken are authorized.
#[derive(Debug, Clone, Copy)]
pub enum TokenSetupAuth<'a> {
    AccessToken(&'a str),
    /// The Session of an MFA_SETUP challenge.
    Session(&'a str),
}

fn check_template(field: &str, message: Option<&str>) -> Result<()> {
    if let Some(m) = message {
        if !m.contains("{####}") {
            return Err(Error::invalid(format!(
                "{field} must contain the {{####}} placeholder for the code."
            )));
        }
        if m.chars().count() > 20000 {
            return Err(Error::invalid(format!("{field} is too long.")));
        }
    }
    Ok(())
}

fn seal_context(pool_id: &str, sub: &str) -> String {
    format!("totp/{pool_id}/{sub}")
}

fn code_hash(salt: &str, code: &str) -> String {
    sha256_hex(&format!("{salt}\0{code}"))
}

fn session_str<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str)
}

fn set_field(data: &mut Value, key: &str, value: Value) {
    if !data.is_object() {
        *data = json!({});
    }
    if let Some(obj) = data.as_object_mut() {
        obj.insert(key.to_string(), value);
    }
}

fn invalid_session() -> Error {
    Error::not_authorized("Invalid session for the user.")
}

impl Directory {
    pub async fn get_pool_mfa_config(&self, pool_id: &str) -> Result<PoolMfaConfig> {
        Ok(pool_mfa_config(&self.pool(pool_id).await?))
    }

    pub async fn set_pool_mfa_config(
        &self,
        pool_id: &str,
        req: PoolMfaUpdate,
    ) -> Result<PoolMfaConfig> {
        let mut pool = self.pool(pool_id).await?;
        let mfa = req
            .mfa_configuration
            .unwrap_or_else(|| pool.mfa_configuration.clone());
        if !matches!(mfa.as_str(), "OFF" | "ON" | "OPTIONAL") {
            return Err(Error::invalid(format!(
                "1 validation error detected: Value '{mfa}' at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [OFF, ON, OPTIONAL]"
            )));
        }
        if let Some(s) = &req.sms {
            check_template("SmsAuthenticationMessage", s.message.as_deref())?;
        }
        if let Some(e) = &req.email {
            check_template("EmailMfaConfiguration.Message", e.message.as_deref())?;
        }
        let config = PoolMfaConfig {
            mfa_configuration: mfa.clone(),
            sms: req.sms,
            software_token: req.software_token.unwrap_or(false),
            email: req.email,
        };
        if mfa != "OFF"
            && ![Factor::Sms, Factor::SoftwareToken, Factor::Email]
                .iter()
                .any(|f| config.offers(*f))
        {
            return Err(Error::invalid(
                "Invalid MFA configuration given, can't turn on MFA without any MFA method: enable SMS, TOTP or email MFA.",
            ));
        }
        let stored = serde_json::to_value(&config).map_err(|e| Error::Internal(e.to_string()))?;
        pool.settings.insert(POOL_SETTINGS_KEY.to_string(), stored);
        pool.mfa_configuration = mfa;
        pool.modified = self.now();
        self.store.update_pool(&pool).await?;
        self.configuration_changed();
        Ok(config)
    }

    // ---- TOTP set-up ---------------------------------------------------------------------

    /// AssociateSoftwareToken: a new secret for the user's authenticator app, returned in
    /// base32 (SecretCode); with a Session, the Session that continues MFA_SETUP.
    pub async fn associate_software_token(
        &self,
        auth: TokenSetupAuth<'_>,
    ) -> Result<(String, Option<String>)> {
        let secret = random_bytes::<SECRET_BYTES>(&*self.rng);
        let code = base32_encode(&secret);
        match auth {
            TokenSetupAuth::AccessToken(token) => {
                let mut user = self.authenticate_access_token(token).await?.user;
                let mut m = UserMfa::of(&user);
                m.totp_pending = Some(self.secrets.seal(
                    &secret,
                    &seal_context(&user.pool_id, &user.sub),
                    &*self.rng,
                )?);
                m.store_in(&mut user)?;
                user.modified = self.now();
                self.store.update_user(&mut user).await?;
                Ok((code, None))
            }
            TokenSetupAuth::Session(token) => {
                let (pool, client, user, mut stored) = self.take_setup_session(token).await?;
                let sealed =
                    self.secrets
                        .seal(&secret, &seal_context(&pool.id, &user.sub), &*self.rng)?;
                set_field(&mut stored.data, "totp_pending", json!(sealed));
                set_field(&mut stored.data, "mfa_setup_done", json!(false));
                let session = self
                    .open_session(&pool, &client, &user, "MFA_SETUP", stored.data)
                    .await?;
                Ok((code, Some(session)))
            }
        }
    }

    /// VerifySoftwareToken: the first code from the app proves the secret; it becomes the
    /// user's verified token. With a Session (MFA_SETUP) TOTP is also turned on for the user,
    /// and the returned Session answers MFA_SETUP.
    pub async fn verify_software_token(
        &self,
        auth: TokenSetupAuth<'_>,
        user_code: &str,
        friendly_name: Option<&str>,
    ) -> Result<Option<String>> {
        let mismatch = || {
            Error::EnableSoftwareTokenMfa("Code mismatch and fail enable Software Token MFA".into())
        };
        match auth {
            TokenSetupAuth::AccessToken(token) => {
                let mut user = self.authenticate_access_token(token).await?.user;
                let mut m = UserMfa::of(&user);
                let sealed = m.totp_pending.clone().ok_or_else(|| {
                    Error::SoftwareTokenMfaNotFound(
                        "Software Token MFA has not been associated with the user.".into(),
                    )
                })?;
                let secret = self
                    .secrets
                    .open(&sealed, &seal_context(&user.pool_id, &user.sub))?;
                let step = matching_step(&secret, user_code, self.now()).ok_or_else(mismatch)?;
                m.totp_secret = Some(sealed);
                m.totp_pending = None;
                m.totp_device_name = friendly_name.map(str::to_string);
                m.store_in(&mut user)?;
                user.modified = self.now();
                self.store.update_user(&mut user).await?;
                self.put_totp_step(&user, step).await?;
                Ok(None)
            }
            TokenSetupAuth::Session(token) => {
                let (pool, client, mut user, mut stored) = self.take_setup_session(token).await?;
                let sealed = session_str(&stored.data, "totp_pending")
                    .map(str::to_string)
                    .ok_or_else(|| {
                        Error::SoftwareTokenMfaNotFound(
                            "Software Token MFA has not been associated with the user.".into(),
                        )
                    })?;
                let secret = self
                    .secrets
                    .open(&sealed, &seal_context(&pool.id, &user.sub))?;
                let Some(step) = matching_step(&secret, user_code, self.now()) else {
                    return Err(self.wrong_answer(stored, mismatch()).await?);
                };
                let mut m = UserMfa::of(&user);
                m.totp_secret = Some(sealed);
                m.totp_pending = None;
                m.totp_device_name = friendly_name.map(str::to_string);
                m.set_enabled(Factor::SoftwareToken, true);
                if m.preferred.is_none() {
                    m.preferred = Some(Factor::SoftwareToken);
                }
                m.store_in(&mut user)?;
                user.modified = self.now();
                self.store.update_user(&mut user).await?;
                self.put_totp_step(&user, step).await?;
                if let Some(obj) = stored.data.as_object_mut() {
                    obj.remove("totp_pending");
                    obj.remove("mfa_failures");
                }
                set_field(&mut stored.data, "mfa_setup_done", json!(true));
                let session = self
                    .open_session(&pool, &client, &user, "MFA_SETUP", stored.data)
                    .await?;
                Ok(Some(session))
            }
        }
    }

    /// The MFA_SETUP session a set-up call names, taken (sessions are single use).
    async fn take_setup_session(
        &self,
        token: &str,
    ) -> Result<(UserPool, AppClient, User, AuthSession)> {
        if token.is_empty() || token.len() > 4096 {
            return Err(invalid_session());
        }
        let stored = self
            .store
            .take_session(&sha256_hex(token))
            .await?
            .ok_or_else(invalid_session)?;
        if stored.expires < self.now() || stored.challenge != "MFA_SETUP" {
            return Err(invalid_session());
        }
        let pool = self.pool(&stored.pool_id).await?;
        let client = self
            .store
            .get_client(&stored.client_id)
            .await?
            .ok_or_else(invalid_session)?;
        let user = self
            .find_user(&pool, &stored.username)
            .await?
            .filter(|u| u.username == stored.username)
            .ok_or_else(invalid_session)?;
        Ok((pool, client, user, stored))
    }

    // ---- preferences ---------------------------------------------------------------------

    pub async fn set_user_mfa_preference(
        &self,
        access_token: &str,
        prefs: MfaPreferences,
    ) -> Result<()> {
        let user = self.authenticate_access_token(access_token).await?.user;
        self.apply_mfa_preferences(user, prefs).await
    }

    pub async fn admin_set_user_mfa_preference(
        &self,
        pool_id: &str,
        username: &str,
        prefs: MfaPreferences,
    ) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.apply_mfa_preferences(user, prefs).await
    }

    async fn apply_mfa_preferences(&self, mut user: User, prefs: MfaPreferences) -> Result<()> {
        let mut m = UserMfa::of(&user);
        let asked = [
            (Factor::Sms, prefs.sms),
            (Factor::SoftwareToken, prefs.software_token),
            (Factor::Email, prefs.email),
        ];
        if asked
            .iter()
            .filter(|(_, p)| p.is_some_and(|p| p.preferred))
            .count()
            > 1
        {
            return Err(Error::invalid("Only one MFA method can be preferred."));
        }
        for (factor, pref) in asked {
            let Some(pref) = pref else { continue };
            if pref.enabled {
                let deliverable = match factor.attribute() {
                    Some(attr) => user.attributes.contains_key(attr),
                    None => m.totp_secret.is_some(),
                };
                if !deliverable {
                    return Err(Error::invalid(match factor {
                        Factor::SoftwareToken => {
                            "User has not verified software token mfa".to_string()
                        }
                        f => format!(
                            "User does not have delivery config set to turn on {}",
                            f.as_aws()
                        ),
                    }));
                }
            }
            if pref.preferred && !pref.enabled {
                return Err(Error::invalid(format!(
                    "{} cannot be preferred without being enabled.",
                    factor.as_aws()
                )));
            }
            m.set_enabled(factor, pref.enabled);
            if pref.preferred {
                m.preferred = Some(factor);
            } else if m.preferred == Some(factor) {
                m.preferred = None;
            }
        }
        m.store_in(&mut user)?;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    /// SetUserSettings / AdminSetUserSettings: the legacy MFAOptions, SMS to phone_number only.
    /// An empty list turns SMS MFA off.
    pub async fn set_user_settings(
        &self,
        access_token: &str,
        options: Vec<(String, String)>,
    ) -> Result<()> {
        let user = self.authenticate_access_token(access_token).await?.user;
        self.apply_mfa_options(user, options).await
    }

    pub async fn admin_set_user_settings(
        &self,
        pool_id: &str,
        username: &str,
        options: Vec<(String, String)>,
    ) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.apply_mfa_options(user, options).await
    }

    async fn apply_mfa_options(
        &self,
        mut user: User,
        options: Vec<(String, String)>,
    ) -> Result<()> {
        for (medium, attribute) in &options {
            if medium != "SMS" || attribute != "phone_number" {
                return Err(Error::invalid(
                    "Only SMS to phone_number is supported as an MFA option.",
                ));
            }
        }
        let mut m = UserMfa::of(&user);
        if options.is_empty() {
            m.set_enabled(Factor::Sms, false);
        } else {
            if !user.attributes.contains_key("phone_number") {
                return Err(Error::invalid(
                    "User does not have delivery config set to turn on SMS_MFA",
                ));
            }
            m.sms_option = true;
        }
        m.store_in(&mut user)?;
        user.modified = self.now();
        self.store.update_user(&mut user).await?;
        Ok(())
    }

    // ---- sign-in -------------------------------------------------------------------------

    /// The factors that can challenge this user now: those the user turned on that the pool
    /// offers and that can reach the user. When MFA is ON, a phone number alone is enough
    /// for SMS, as on AWS.
    fn usable_factors(pool: &UserPool, config: &PoolMfaConfig, user: &User) -> Vec<Factor> {
        let m = UserMfa::of(user);
        [Factor::Sms, Factor::SoftwareToken, Factor::Email]
            .into_iter()
            .filter(|f| config.offers(*f))
            .filter(|f| match f.attribute() {
                Some(attr) => user.attributes.contains_key(attr),
                None => m.totp_secret.is_some(),
            })
            .filter(|f| m.is_enabled(*f) || (*f == Factor::Sms && pool.mfa_configuration == "ON"))
            .collect()
    }

    /// The MFA challenge this sign-in must pass, if any.
    pub(crate) async fn mfa_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        ctx: &SignInContext,
    ) -> Result<Option<AuthOutcome>> {
        if pool.mfa_configuration == "OFF" {
            return Ok(None);
        }
        let config = pool_mfa_config(pool);
        let factors = Self::usable_factors(pool, &config, user);
        if factors.is_empty() && pool.mfa_configuration != "ON" {
            return Ok(None);
        }
        if self.device_skips_mfa(pool, user, ctx).await? {
            return Ok(None);
        }
        let data = crate::auth::session_data(ctx);
        if factors.is_empty() {
            if !config.software_token {
                return Err(Error::not_authorized(
                    "MFA is required, but the user has no MFA method and the pool offers none the user can set up.",
                ));
            }
            return self
                .challenge(pool, client, user, "MFA_SETUP", data, |p| {
                    p.insert(
                        "MFAS_CAN_SETUP".into(),
                        json!(["SOFTWARE_TOKEN_MFA"]).to_string(),
                    );
                })
                .await
                .map(Some);
        }
        let preferred = UserMfa::of(user).preferred.filter(|p| factors.contains(p));
        let chosen = match (preferred, factors.as_slice()) {
            (Some(p), _) => p,
            (None, [only]) => *only,
            (None, several) => {
                let names: Vec<&str> = several.iter().map(|f| f.as_aws()).collect();
                return self
                    .challenge(pool, client, user, "SELECT_MFA_TYPE", data, |p| {
                        p.insert("MFAS_CAN_CHOOSE".into(), json!(names).to_string());
                    })
                    .await
                    .map(Some);
            }
        };
        self.factor_challenge(pool, client, user, chosen, data)
            .await
            .map(Some)
    }

    /// Issues the challenge of one factor (sending its code when it has one).
    async fn factor_challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        factor: Factor,
        mut data: Value,
    ) -> Result<AuthOutcome> {
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(channel) = factor.channel() {
            let code = random_digits(&*self.rng, 6);
            let salt = hex::encode(random_bytes::<16>(&*self.rng));
            let destination = self.send_mfa_code(pool, user, channel, &code).await?;
            set_field(&mut data, "mfa_salt", json!(salt));
            set_field(&mut data, "mfa_code", json!(code_hash(&salt, &code)));
            params.push((
                "CODE_DELIVERY_DELIVERY_MEDIUM".into(),
                channel.as_aws().to_string(),
            ));
            params.push(("CODE_DELIVERY_DESTINATION".into(), destination));
        }
        self.challenge(pool, client, user, factor.as_aws(), data, |p| {
            p.extend(params);
        })
        .await
    }

    async fn challenge(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        name: &str,
        data: Value,
        fill: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<AuthOutcome> {
        let mut parameters = BTreeMap::new();
        parameters.insert("USER_ID_FOR_SRP".to_string(), user.username.clone());
        fill(&mut parameters);
        let session = self.open_session(pool, client, user, name, data).await?;
        Ok(AuthOutcome::Challenge(Challenge {
            name: name.to_string(),
            session,
            parameters,
        }))
    }

    /// Sends an MFA code by SMS or email with the pool's MFA message; returns the masked
    /// destination.
    async fn send_mfa_code(
        &self,
        pool: &UserPool,
        user: &User,
        channel: Channel,
        code: &str,
    ) -> Result<String> {
        let config = pool_mfa_config(pool);
        let attribute = match channel {
            Channel::Sms => "phone_number",
            Channel::Email => "email",
        };
        let destination = user
            .attributes
            .get(attribute)
            .cloned()
            .ok_or_else(|| Error::invalid(format!("User has no {attribute} to deliver to.")))?;
        let (subject, template) = match channel {
            Channel::Sms => (
                String::new(),
                config
                    .sms
                    .and_then(|s| s.message)
                    .unwrap_or_else(|| "Your authentication code is {####}. ".into()),
            ),
            Channel::Email => {
                let email = config.email.unwrap_or_default();
                (
                    email
                        .subject
                        .unwrap_or_else(|| "Your authentication code".into()),
                    email
                        .message
                        .unwrap_or_else(|| "Your authentication code is {####}.".into()),
                )
            }
        };
        let message = Message {
            time: crate::env::rfc3339(self.now()),
            pool_id: pool.id.clone(),
            username: user.username.clone(),
            channel,
            destination: destination.clone(),
            kind: MessageKind::MfaCode,
            code: code.to_string(),
            subject,
            body: template
                .replace("{####}", code)
                .replace("{username}", &user.username),
        };
        self.messenger.send(&message).await?;
        Ok(mask_destination(channel, &destination))
    }

    /// RespondToAuthChallenge for the MFA challenges.
    pub(crate) async fn mfa_respond(
        &self,
        pool: &UserPool,
        client: &AppClient,
        user: User,
        session: &AuthSession,
        responses: &BTreeMap<String, String>,
    ) -> Result<AuthOutcome> {
        let ctx = session_context(&session.data);
        match session.challenge.as_str() {
            "MFA_SETUP" => {
                if session.data.get("mfa_setup_done").and_then(Value::as_bool) != Some(true) {
                    // Not set up yet: the session still serves AssociateSoftwareToken.
                    self.store.put_session(session).await?;
                    return Err(Error::invalid(
                        "Software token MFA has not been set up: call AssociateSoftwareToken and VerifySoftwareToken with this Session first.",
                    ));
                }
                self.finish_sign_in(pool, client, &user, &ctx).await
            }
            "SELECT_MFA_TYPE" => {
                let answer = required(responses, "ANSWER")?;
                let config = pool_mfa_config(pool);
                let factor = Factor::from_aws(answer)
                    .filter(|f| Self::usable_factors(pool, &config, &user).contains(f));
                let Some(factor) = factor else {
                    return Err(self
                        .wrong_answer(
                            session.clone(),
                            Error::invalid(format!("Invalid MFA type {answer} for the user.")),
                        )
                        .await?);
                };
                let data = crate::auth::session_data(&ctx);
                self.factor_challenge(pool, client, &user, factor, data)
                    .await
            }
            name => {
                let factor = Factor::from_aws(name).ok_or_else(invalid_session)?;
                let code = required(responses, factor.response_key())?;
                match self
                    .check_factor_code(pool, &user, factor, session, code)
                    .await?
                {
                    None => self.finish_sign_in(pool, client, &user, &ctx).await,
                    Some(err) => Err(self.wrong_answer(session.clone(), err).await?),
                }
            }
        }
    }

    /// None when `code` answers the challenge; otherwise the error to answer with.
    async fn check_factor_code(
        &self,
        pool: &UserPool,
        user: &User,
        factor: Factor,
        session: &AuthSession,
        code: &str,
    ) -> Result<Option<Error>> {
        match factor {
            Factor::SoftwareToken => {
                let sealed = UserMfa::of(user).totp_secret.ok_or_else(|| {
                    Error::SoftwareTokenMfaNotFound(
                        "Software Token MFA has not been enabled by the user.".into(),
                    )
                })?;
                let secret = self
                    .secrets
                    .open(&sealed, &seal_context(&pool.id, &user.sub))?;
                let Some(step) = matching_step(&secret, code, self.now()) else {
                    return Ok(Some(Error::CodeMismatch(
                        "Invalid code received for user".into(),
                    )));
                };
                if !self.claim_totp_step(user, step).await? {
                    return Ok(Some(Error::ExpiredCode(
                        "Your software token has already been used once.".into(),
                    )));
                }
                Ok(None)
            }
            Factor::Sms | Factor::Email => {
                let (Some(salt), Some(expected)) = (
                    session_str(&session.data, "mfa_salt"),
                    session_str(&session.data, "mfa_code"),
                ) else {
                    return Err(invalid_session());
                };
                let given = code_hash(salt, code);
                if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
                    Ok(None)
                } else {
                    Ok(Some(Error::CodeMismatch(
                        "Invalid code or auth state for the user.".into(),
                    )))
                }
            }
        }
    }

    /// A wrong answer: the session stays usable for a few more tries (it is put back under
    /// the same token), then it ends.
    async fn wrong_answer(&self, mut session: AuthSession, err: Error) -> Result<Error> {
        let failures = session
            .data
            .get("mfa_failures")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            + 1;
        if failures >= u64::from(MAX_CODE_ATTEMPTS) {
            return Ok(invalid_session());
        }
        set_field(&mut session.data, "mfa_failures", json!(failures));
        self.store.put_session(&session).await?;
        Ok(err)
    }

    // ---- TOTP replay guard ---------------------------------------------------------------
    //
    // The last accepted step of a user is a one-time-code row whose hash is the step number.
    // Accepting a newer step deletes that row only if it still holds what was read (the
    // store's compare-and-delete), so of two concurrent uses of one code exactly one wins.
    // A missing row means a concurrent acceptance is between its delete and its write (or the
    // row was lost): refuse and write a floor at this step, which heals within one step.

    async fn put_totp_step(&self, user: &User, step: i64) -> Result<()> {
        self.store
            .put_code(&OneTimeCode {
                pool_id: user.pool_id.clone(),
                sub: user.sub.clone(),
                purpose: TOTP_STEP_PURPOSE.to_string(),
                code_hash: step.to_string(),
                expires: i64::MAX,
                failed_attempts: 0,
            })
            .await?;
        Ok(())
    }

    /// True when `step` is newer than every step accepted before and is now recorded.
    async fn claim_totp_step(&self, user: &User, step: i64) -> Result<bool> {
        let row = self
            .store
            .get_code(&user.pool_id, &user.sub, TOTP_STEP_PURPOSE)
            .await?;
        let Some(row) = row else {
            self.put_totp_step(user, step).await?;
            return Ok(false);
        };
        let Ok(last) = row.code_hash.parse::<i64>() else {
            // Unreadable: start over from here, refusing this step.
            self.put_totp_step(user, step).await?;
            return Ok(false);
        };
        if step <= last {
            return Ok(false);
        }
        if !self
            .store
            .consume_code(&user.pool_id, &user.sub, TOTP_STEP_PURPOSE, &row.code_hash)
            .await?
        {
            return Ok(false);
        }
        self.put_totp_step(user, step).await?;
        Ok(true)
    }
}
