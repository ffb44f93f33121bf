//! The aggregates Gatehouse persists. Plain data: the domain (gatehouse-core) decides what the
//! fields mean; the store only keeps them safe. Times are Unix seconds (UTC).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user pool and its configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserPool {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub modified: i64,
    pub password_policy: PasswordPolicy,
    /// `email` and/or `phone_number`: these may be used as the username itself.
    pub username_attributes: Vec<String>,
    /// `email`, `phone_number`, `preferred_username`: verified values that also sign a user in.
    pub alias_attributes: Vec<String>,
    pub auto_verified_attributes: Vec<String>,
    pub schema: Vec<SchemaAttribute>,
    /// OFF, ON or OPTIONAL.
    pub mfa_configuration: String,
    pub admin_create_user: AdminCreateUserConfig,
    pub deletion_protection: bool,
    pub username_case_sensitive: bool,
    /// Attributes whose new value keeps the old one active until the new one is verified.
    pub attributes_require_verification_before_update: Vec<String>,
    /// Configuration the domain echoes but does not act on yet, keyed by the AWS member name
    /// (LambdaConfig, EmailConfiguration, VerificationMessageTemplate, UserPoolTags, ...).
    pub settings: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: u32,
    pub password_history_size: Option<u32>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
            password_history_size: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SchemaAttribute {
    /// Without the `custom:` prefix for custom attributes, as AWS stores it in the schema.
    pub name: String,
    /// String, Number, DateTime or Boolean.
    pub data_type: String,
    pub developer_only: bool,
    pub mutable: bool,
    pub required: bool,
    pub custom: bool,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AdminCreateUserConfig {
    pub allow_admin_create_user_only: bool,
    pub unused_account_validity_days: Option<u32>,
    /// InviteMessageTemplate as given (EmailMessage, EmailSubject, SMSMessage).
    pub invite_message_template: Option<Value>,
}

/// An app client of a pool.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppClient {
    pub pool_id: String,
    pub client_id: String,
    pub client_name: String,
    pub client_secret: Option<String>,
    pub created: i64,
    pub modified: i64,
    pub explicit_auth_flows: Vec<String>,
    pub refresh_token_validity: u64,
    pub access_token_validity: u64,
    pub id_token_validity: u64,
    /// Units for the three validities: seconds, minutes, hours or days.
    pub token_validity_units: TokenValidityUnits,
    pub read_attributes: Option<Vec<String>>,
    pub write_attributes: Option<Vec<String>>,
    /// ENABLED or LEGACY.
    pub prevent_user_existence_errors: String,
    pub enable_token_revocation: bool,
    pub auth_session_validity_minutes: u32,
    /// OAuth and other settings echoed by Describe, keyed by AWS member name.
    pub settings: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenValidityUnits {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: String,
}

impl Default for TokenValidityUnits {
    fn default() -> Self {
        Self {
            access_token: "hours".into(),
            id_token: "hours".into(),
            refresh_token: "days".into(),
        }
    }
}

/// AWS's user states.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum UserStatus {
    Unconfirmed,
    Confirmed,
    ForceChangePassword,
    ResetRequired,
    ExternalProvider,
}

impl UserStatus {
    pub fn as_aws(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ResetRequired => "RESET_REQUIRED",
            UserStatus::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }

    pub fn from_aws(s: &str) -> Option<Self> {
        Some(match s {
            "UNCONFIRMED" => UserStatus::Unconfirmed,
            "CONFIRMED" => UserStatus::Confirmed,
            "FORCE_CHANGE_PASSWORD" => UserStatus::ForceChangePassword,
            "RESET_REQUIRED" => UserStatus::ResetRequired,
            "EXTERNAL_PROVIDER" => UserStatus::ExternalProvider,
            _ => return None,
        })
    }
}

/// A user of a pool. `attributes` holds every attribute including `sub`, keyed by full name
/// (`email`, `custom:tier`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub pool_id: String,
    pub username: String,
    pub sub: String,
    pub status: UserStatus,
    pub enabled: bool,
    /// PHC string (Argon2id). Never the password.
    pub password_hash: Option<String>,
    /// When a temporary password stops working (FORCE_CHANGE_PASSWORD users).
    pub temporary_password_expires: Option<i64>,
    pub attributes: BTreeMap<String, String>,
    pub created: i64,
    pub modified: i64,
    /// Extension data for later flows (MFA settings, SRP verifier, ...), keyed by purpose.
    pub extra: BTreeMap<String, Value>,
    /// Moves with every write of the user: `UserStore::update_user` writes only over the
    /// version it read, so two writers of one user (on one node or several) cannot write a
    /// stale copy over each other's change.
    #[serde(default)]
    pub version: u64,
}

/// A group of a pool.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub pool_id: String,
    pub name: String,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
    pub created: i64,
    pub modified: i64,
}

/// A one-time code (sign-up confirmation, password reset, attribute verification).
/// Only its hash is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeCode {
    pub pool_id: String,
    pub sub: String,
    /// What the code proves, e.g. `signup`, `forgot_password`, `verify:email`.
    pub purpose: String,
    pub code_hash: String,
    pub expires: i64,
    pub failed_attempts: u32,
}

/// A pending sign-in challenge. Single use: taking it removes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSession {
    /// SHA-256 of the opaque session token handed to the client.
    pub id_hash: String,
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
    pub challenge: String,
    pub expires: i64,
    pub data: Value,
}

/// A refresh token: only its hash is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub pool_id: String,
    pub client_id: String,
    pub sub: String,
    pub origin_jti: String,
    pub auth_time: i64,
    pub created: i64,
    pub expires: i64,
    pub revoked: bool,
    /// The scopes an OAuth grant gave it, space-separated; `None` for Cognito API sign-ins.
    pub scopes: Option<String>,
}

/// A pool's token-signing key pair.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKey {
    pub pool_id: String,
    pub kid: String,
    /// PKCS#8 DER of the RSA private key.
    pub private_pkcs8: Vec<u8>,
    pub created: i64,
    pub active: bool,
}

/// How a page of a listing continues: the key after which to resume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub limit: usize,
    pub after: Option<String>,
}

/// A ListUsers filter the store can answer from its attribute index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    Equals { attribute: String, value: String },
    StartsWith { attribute: String, prefix: String },
}
