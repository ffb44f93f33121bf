//! MFA: SetUserPoolMfaConfig, GetUserPoolMfaConfig, AssociateSoftwareToken,
//! VerifySoftwareToken, SetUserMFAPreference, AdminSetUserMFAPreference, SetUserSettings,
//! AdminSetUserSettings.

use gatehouse_core::mfa::{
    EmailMfa, FactorPreference, MfaPreferences, PoolMfaConfig, PoolMfaUpdate, SmsMfa,
    TokenSetupAuth,
};
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::empty;
use crate::validate::{self, parse};
use crate::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SmsMfaIn {
    sms_authentication_message: Option<String>,
    sms_configuration: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnabledIn {
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EmailMfaIn {
    message: Option<String>,
    subject: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolMfaIn {
    user_pool_id: Option<String>,
    sms_mfa_configuration: Option<SmsMfaIn>,
    software_token_mfa_configuration: Option<EnabledIn>,
    email_mfa_configuration: Option<EmailMfaIn>,
    mfa_configuration: Option<String>,
}

fn pool_mfa_out(c: &PoolMfaConfig) -> Value {
    let mut out = Map::new();
    if let Some(sms) = &c.sms {
        let mut s = Map::new();
        if let Some(m) = &sms.message {
            s.insert("SmsAuthenticationMessage".into(), json!(m));
        }
        if let Some(conf) = &sms.sms_configuration {
            s.insert("SmsConfiguration".into(), conf.clone());
        }
        out.insert("SmsMfaConfiguration".into(), Value::Object(s));
    }
    out.insert(
        "SoftwareTokenMfaConfiguration".into(),
        json!({ "Enabled": c.software_token }),
    );
    if let Some(email) = &c.email {
        let mut e = Map::new();
        if let Some(m) = &email.message {
            e.insert("Message".into(), json!(m));
        }
        if let Some(s) = &email.subject {
            e.insert("Subject".into(), json!(s));
        }
        out.insert("EmailMfaConfiguration".into(), Value::Object(e));
    }
    out.insert("MfaConfiguration".into(), json!(c.mfa_configuration));
    Value::Object(out)
}

pub async fn set_pool_config(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: PoolMfaIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    if let Some(m) = r
        .sms_mfa_configuration
        .as_ref()
        .and_then(|s| s.sms_authentication_message.as_ref())
    {
        validate::length("smsMfaConfiguration.smsAuthenticationMessage", m, 6, 140)?;
    }
    if let Some(e) = &r.email_mfa_configuration {
        if let Some(m) = &e.message {
            validate::length("emailMfaConfiguration.message", m, 6, 20000)?;
        }
        if let Some(s) = &e.subject {
            validate::length("emailMfaConfiguration.subject", s, 1, 140)?;
        }
    }
    let req = PoolMfaUpdate {
        mfa_configuration: r.mfa_configuration,
        sms: r.sms_mfa_configuration.map(|s| SmsMfa {
            message: s.sms_authentication_message,
            sms_configuration: s.sms_configuration,
        }),
        software_token: r
            .software_token_mfa_configuration
            .map(|t| t.enabled.unwrap_or(false)),
        email: r.email_mfa_configuration.map(|e| EmailMfa {
            message: e.message,
            subject: e.subject,
        }),
    };
    let config = dir.set_pool_mfa_config(pool_id, req).await?;
    Ok(pool_mfa_out(&config))
}

pub async fn get_pool_config(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: PoolMfaIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let config = dir.get_pool_mfa_config(pool_id).await?;
    Ok(pool_mfa_out(&config))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TokenIn {
    access_token: Option<String>,
    session: Option<String>,
    user_code: Option<String>,
    friendly_device_name: Option<String>,
}

/// Exactly one of AccessToken and Session, as AWS requires.
fn setup_auth(r: &TokenIn) -> Result<TokenSetupAuth<'_>, WireError> {
    match (&r.access_token, &r.session) {
        (Some(t), None) => {
            validate::length("accessToken", t, 1, 16384)?;
            Ok(TokenSetupAuth::AccessToken(t))
        }
        (None, Some(s)) => {
            validate::length("session", s, 20, 2048)?;
            Ok(TokenSetupAuth::Session(s))
        }
        _ => Err(WireError::Domain(gatehouse_core::Error::invalid(
            "Exactly one of AccessToken and Session must be given.",
        ))),
    }
}

pub async fn associate_software_token(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: TokenIn = parse(input)?;
    let (secret, session) = dir.associate_software_token(setup_auth(&r)?).await?;
    let mut out = json!({ "SecretCode": secret });
    if let (Some(s), Some(obj)) = (session, out.as_object_mut()) {
        obj.insert("Session".into(), json!(s));
    }
    Ok(out)
}

pub async fn verify_software_token(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: TokenIn = parse(input)?;
    let code = validate::required(&r.user_code, "userCode")?;
    validate::length("userCode", code, 6, 6)?;
    if let Some(n) = &r.friendly_device_name {
        validate::length("friendlyDeviceName", n, 0, 131072)?;
    }
    let session = dir
        .verify_software_token(setup_auth(&r)?, code, r.friendly_device_name.as_deref())
        .await?;
    let mut out = json!({ "Status": "SUCCESS" });
    if let (Some(s), Some(obj)) = (session, out.as_object_mut()) {
        obj.insert("Session".into(), json!(s));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FactorSettingsIn {
    enabled: Option<bool>,
    preferred_mfa: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PreferenceIn {
    user_pool_id: Option<String>,
    username: Option<String>,
    access_token: Option<String>,
    #[serde(rename = "SMSMfaSettings")]
    sms_mfa_settings: Option<FactorSettingsIn>,
    software_token_mfa_settings: Option<FactorSettingsIn>,
    email_mfa_settings: Option<FactorSettingsIn>,
}

fn preferences(r: &PreferenceIn) -> MfaPreferences {
    let one = |s: &Option<FactorSettingsIn>| {
        s.as_ref().map(|s| FactorPreference {
            enabled: s.enabled.unwrap_or(false),
            preferred: s.preferred_mfa.unwrap_or(false),
        })
    };
    MfaPreferences {
        sms: one(&r.sms_mfa_settings),
        software_token: one(&r.software_token_mfa_settings),
        email: one(&r.email_mfa_settings),
    }
}

pub async fn set_user_mfa_preference(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: PreferenceIn = parse(input)?;
    let token = validate::token("accessToken", &r.access_token)?;
    dir.set_user_mfa_preference(&token, preferences(&r)).await?;
    Ok(empty())
}

pub async fn admin_set_user_mfa_preference(
    dir: &Directory,
    input: Value,
) -> Result<Value, WireError> {
    let r: PreferenceIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let username = validate::name("username", &r.username)?;
    dir.admin_set_user_mfa_preference(pool_id, &username, preferences(&r))
        .await?;
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MfaOptionIn {
    delivery_medium: Option<String>,
    attribute_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SettingsIn {
    user_pool_id: Option<String>,
    username: Option<String>,
    access_token: Option<String>,
    #[serde(rename = "MFAOptions")]
    mfa_options: Option<Vec<MfaOptionIn>>,
}

fn mfa_options(r: &SettingsIn) -> Result<Vec<(String, String)>, WireError> {
    let opts = validate::required(&r.mfa_options, "mfaOptions")?;
    Ok(opts
        .iter()
        .map(|o| {
            (
                o.delivery_medium.clone().unwrap_or_default(),
                o.attribute_name.clone().unwrap_or_default(),
            )
        })
        .collect())
}

pub async fn set_user_settings(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: SettingsIn = parse(input)?;
    let token = validate::token("accessToken", &r.access_token)?;
    dir.set_user_settings(&token, mfa_options(&r)?).await?;
    Ok(empty())
}

pub async fn admin_set_user_settings(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: SettingsIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let username = validate::name("username", &r.username)?;
    dir.admin_set_user_settings(pool_id, &username, mfa_options(&r)?)
        .await?;
    Ok(empty())
}
