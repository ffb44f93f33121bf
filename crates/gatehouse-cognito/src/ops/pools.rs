//! CreateUserPool, DescribeUserPool, UpdateUserPool, DeleteUserPool, ListUserPools,
//! AddCustomAttributes.

use std::collections::BTreeMap;

use gatehouse_core::pools::{NewPool, PoolUpdate};
use gatehouse_core::store::{AdminCreateUserConfig, PasswordPolicy, SchemaAttribute};
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{json, Value};

use super::empty;
use crate::render;
use crate::validate::{self, parse};
use crate::WireError;

/// Members kept as given and echoed by DescribeUserPool.
const PASSTHROUGH: &[&str] = &[
    "LambdaConfig",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "UserPoolTier",
];

/// The types of the members kept as given, so a wrong type is refused like any other.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)] // deserialized only to check the types
struct PassthroughTypes {
    lambda_config: Option<BTreeMap<String, Value>>,
    sms_verification_message: Option<String>,
    email_verification_message: Option<String>,
    email_verification_subject: Option<String>,
    verification_message_template: Option<BTreeMap<String, Value>>,
    sms_authentication_message: Option<String>,
    device_configuration: Option<BTreeMap<String, Value>>,
    email_configuration: Option<BTreeMap<String, Value>>,
    sms_configuration: Option<BTreeMap<String, Value>>,
    user_pool_tags: Option<BTreeMap<String, String>>,
    user_pool_add_ons: Option<BTreeMap<String, Value>>,
    account_recovery_setting: Option<BTreeMap<String, Value>>,
    user_pool_tier: Option<String>,
}

fn passthrough_checked(input: &Value) -> Result<BTreeMap<String, Value>, WireError> {
    let t: PassthroughTypes = parse(input.clone())?;
    if let Some(tier) = &t.user_pool_tier {
        if !matches!(tier.as_str(), "LITE" | "ESSENTIALS" | "PLUS") {
            return Err(WireError::Domain(gatehouse_core::Error::invalid(format!(
                "1 validation error detected: Value '{tier}' at 'userPoolTier' failed to satisfy constraint: Member must satisfy enum value set: [LITE, ESSENTIALS, PLUS]"
            ))));
        }
    }
    Ok(passthrough(input))
}

fn passthrough(input: &Value) -> BTreeMap<String, Value> {
    PASSTHROUGH
        .iter()
        .filter_map(|k| input.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Policies {
    password_policy: Option<PasswordPolicyIn>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PasswordPolicyIn {
    minimum_length: Option<i64>,
    require_uppercase: Option<bool>,
    require_lowercase: Option<bool>,
    require_numbers: Option<bool>,
    require_symbols: Option<bool>,
    temporary_password_validity_days: Option<i64>,
    password_history_size: Option<i64>,
}

fn password_policy(p: Option<Policies>) -> Result<Option<PasswordPolicy>, WireError> {
    let Some(p) = p.and_then(|p| p.password_policy) else {
        return Ok(None);
    };
    let d = PasswordPolicy::default();
    if let Some(m) = p.minimum_length {
        validate::range("policies.passwordPolicy.minimumLength", m, 6, 99)?;
    }
    if let Some(t) = p.temporary_password_validity_days {
        validate::range(
            "policies.passwordPolicy.temporaryPasswordValidityDays",
            t,
            0,
            365,
        )?;
    }
    if let Some(h) = p.password_history_size {
        validate::range("policies.passwordPolicy.passwordHistorySize", h, 0, 24)?;
    }
    Ok(Some(PasswordPolicy {
        minimum_length: p.minimum_length.map_or(d.minimum_length, |m| m as u32),
        // AWS: a flag left out of a given policy is false.
        require_uppercase: p.require_uppercase.unwrap_or(false),
        require_lowercase: p.require_lowercase.unwrap_or(false),
        require_numbers: p.require_numbers.unwrap_or(false),
        require_symbols: p.require_symbols.unwrap_or(false),
        temporary_password_validity_days: p
            .temporary_password_validity_days
            .map_or(d.temporary_password_validity_days, |t| t as u32),
        password_history_size: p.password_history_size.map(|h| h as u32),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SchemaIn {
    name: Option<String>,
    attribute_data_type: Option<String>,
    developer_only_attribute: Option<bool>,
    mutable: Option<bool>,
    required: Option<bool>,
    number_attribute_constraints: Option<NumberConstraints>,
    string_attribute_constraints: Option<StringConstraints>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NumberConstraints {
    min_value: Option<String>,
    max_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StringConstraints {
    min_length: Option<String>,
    max_length: Option<String>,
}

fn number<T: std::str::FromStr>(field: &str, v: Option<String>) -> Result<Option<T>, WireError> {
    v.map(|s| {
        s.trim().parse::<T>().map_err(|_| {
            WireError::Domain(gatehouse_core::Error::invalid(format!(
                "{field} must be a number: {s}"
            )))
        })
    })
    .transpose()
}

fn schema(input: Option<Vec<SchemaIn>>) -> Result<Vec<SchemaAttribute>, WireError> {
    let mut out = Vec::new();
    for s in input.unwrap_or_default() {
        let name = validate::required(&s.name, "schema.member.name")?;
        validate::length("schema.member.name", name, 1, 20 + "custom:".len())?;
        let bare = name.strip_prefix("custom:").unwrap_or(name).to_string();
        // Left out, a standard attribute keeps its own type; a custom one is a String.
        let data_type = s.attribute_data_type.unwrap_or_else(|| {
            gatehouse_core::attributes::standard_schema()
                .into_iter()
                .find(|a| !name.starts_with("custom:") && a.name == bare)
                .map_or_else(|| "String".into(), |a| a.data_type)
        });
        let (min_length, max_length) = match s.string_attribute_constraints {
            Some(c) => (
                number("StringAttributeConstraints.MinLength", c.min_length)?,
                number("StringAttributeConstraints.MaxLength", c.max_length)?,
            ),
            None => (None, None),
        };
        let (min_value, max_value) = match s.number_attribute_constraints {
            Some(c) => (
                number("NumberAttributeConstraints.MinValue", c.min_value)?,
                number("NumberAttributeConstraints.MaxValue", c.max_value)?,
            ),
            None => (None, None),
        };
        out.push(SchemaAttribute {
            custom: !gatehouse_core::attributes::is_standard(&bare) || name.starts_with("custom:"),
            name: bare,
            data_type,
            developer_only: s.developer_only_attribute.unwrap_or(false),
            mutable: s.mutable.unwrap_or(true),
            required: s.required.unwrap_or(false),
            min_length,
            max_length,
            min_value,
            max_value,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdminCreateUserConfigIn {
    allow_admin_create_user_only: Option<bool>,
    unused_account_validity_days: Option<i64>,
    invite_message_template: Option<Value>,
}

fn admin_create_user_config(
    c: Option<AdminCreateUserConfigIn>,
) -> Result<Option<AdminCreateUserConfig>, WireError> {
    c.map(|c| {
        if let Some(d) = c.unused_account_validity_days {
            validate::range("adminCreateUserConfig.unusedAccountValidityDays", d, 0, 365)?;
        }
        Ok(AdminCreateUserConfig {
            allow_admin_create_user_only: c.allow_admin_create_user_only.unwrap_or(false),
            unused_account_validity_days: c.unused_account_validity_days.map(|d| d as u32),
            invite_message_template: c.invite_message_template,
        })
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UsernameConfiguration {
    case_sensitive: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateSettings {
    attributes_require_verification_before_update: Option<Vec<String>>,
}

fn deletion_protection(v: Option<String>) -> Result<bool, WireError> {
    match v.as_deref() {
        None | Some("INACTIVE") => Ok(false),
        Some("ACTIVE") => Ok(true),
        Some(other) => Err(WireError::Domain(gatehouse_core::Error::invalid(format!(
            "1 validation error detected: Value '{other}' at 'deletionProtection' failed to satisfy constraint: Member must satisfy enum value set: [ACTIVE, INACTIVE]"
        )))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateIn {
    pool_name: Option<String>,
    policies: Option<Policies>,
    deletion_protection: Option<String>,
    auto_verified_attributes: Option<Vec<String>>,
    alias_attributes: Option<Vec<String>>,
    username_attributes: Option<Vec<String>>,
    mfa_configuration: Option<String>,
    user_attribute_update_settings: Option<UpdateSettings>,
    admin_create_user_config: Option<AdminCreateUserConfigIn>,
    schema: Option<Vec<SchemaIn>>,
    username_configuration: Option<UsernameConfiguration>,
}

pub async fn create(dir: &Directory, input: Value) -> Result<Value, WireError> {
    create_as(dir, input, None).await
}

/// CreateUserPool with a pool id chosen by the caller (the declarative configuration).
pub async fn create_with_id(
    dir: &Directory,
    pool_id: &str,
    input: Value,
) -> Result<Value, WireError> {
    create_as(dir, input, Some(pool_id)).await
}

async fn create_as(
    dir: &Directory,
    input: Value,
    pool_id: Option<&str>,
) -> Result<Value, WireError> {
    let settings = passthrough_checked(&input)?;
    let r: CreateIn = parse(input)?;
    let name = validate::display_name("poolName", &r.pool_name)?;
    let new = NewPool {
        name,
        password_policy: password_policy(r.policies)?,
        username_attributes: r.username_attributes.unwrap_or_default(),
        alias_attributes: r.alias_attributes.unwrap_or_default(),
        auto_verified_attributes: r.auto_verified_attributes.unwrap_or_default(),
        schema: schema(r.schema)?,
        mfa_configuration: r.mfa_configuration,
        admin_create_user: admin_create_user_config(r.admin_create_user_config)?,
        deletion_protection: deletion_protection(r.deletion_protection)?,
        username_case_sensitive: r.username_configuration.and_then(|u| u.case_sensitive),
        attributes_require_verification_before_update: r
            .user_attribute_update_settings
            .and_then(|u| u.attributes_require_verification_before_update)
            .unwrap_or_default(),
        settings,
    };
    let pool = match pool_id {
        Some(id) => dir.create_pool_with_id(id, new).await?,
        None => dir.create_pool(new).await?,
    };
    Ok(json!({ "UserPool": render::pool(&pool, 0, dir.config()) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolIdIn {
    user_pool_id: Option<String>,
}

pub async fn describe(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: PoolIdIn = parse(input)?;
    let (pool, users) = dir
        .describe_pool(validate::pool_id(&r.user_pool_id)?)
        .await?;
    let mut out = render::pool(&pool, users, dir.config());
    super::oauth::put_pool_domains(dir, &pool.id, &mut out).await?;
    Ok(json!({ "UserPool": out }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateIn {
    user_pool_id: Option<String>,
    pool_name: Option<String>,
    policies: Option<Policies>,
    deletion_protection: Option<String>,
    auto_verified_attributes: Option<Vec<String>>,
    mfa_configuration: Option<String>,
    user_attribute_update_settings: Option<UpdateSettings>,
    admin_create_user_config: Option<AdminCreateUserConfigIn>,
}

pub async fn update(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let settings = passthrough_checked(&input)?;
    let r: UpdateIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let name = match &r.pool_name {
        Some(_) => Some(validate::display_name("poolName", &r.pool_name)?),
        None => None,
    };
    dir.update_pool(
        pool_id,
        PoolUpdate {
            name,
            password_policy: password_policy(r.policies)?,
            auto_verified_attributes: r.auto_verified_attributes.unwrap_or_default(),
            mfa_configuration: r.mfa_configuration,
            admin_create_user: admin_create_user_config(r.admin_create_user_config)?,
            deletion_protection: deletion_protection(r.deletion_protection)?,
            attributes_require_verification_before_update: r
                .user_attribute_update_settings
                .and_then(|u| u.attributes_require_verification_before_update)
                .unwrap_or_default(),
            settings,
        },
    )
    .await?;
    Ok(empty())
}

/// Gatehouse's own admin operation (signed like the others): a new signing key for the pool.
pub async fn rotate_signing_key(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: PoolIdIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let kid = dir.rotate_signing_key(pool_id).await?;
    Ok(json!({ "Kid": kid }))
}

pub async fn delete(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: PoolIdIn = parse(input)?;
    dir.delete_pool(validate::pool_id(&r.user_pool_id)?).await?;
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIn {
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub async fn list(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ListIn = parse(input)?;
    let max = validate::required(&r.max_results, "maxResults")?;
    validate::range("maxResults", *max, 1, 60)?;
    let token = validate::pagination_token("nextToken", &r.next_token)?;
    let (pools, next) = dir.list_pools(*max as usize, token).await?;
    let mut out =
        json!({ "UserPools": pools.iter().map(render::pool_summary).collect::<Vec<_>>() });
    render::put_token(&mut out, "NextToken", next);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AddCustomIn {
    user_pool_id: Option<String>,
    custom_attributes: Option<Vec<SchemaIn>>,
}

pub async fn add_custom_attributes(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: AddCustomIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let attrs = validate::required(&r.custom_attributes, "customAttributes")?;
    if attrs.is_empty() || attrs.len() > 25 {
        validate::range("customAttributes", attrs.len() as i64, 1, 25)?;
    }
    let mut list = schema(r.custom_attributes)?;
    for a in &mut list {
        a.custom = true;
    }
    dir.add_custom_attributes(pool_id, list).await?;
    Ok(empty())
}
