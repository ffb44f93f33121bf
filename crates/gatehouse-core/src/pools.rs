//! User pools: creation with AWS's defaults and rules, update, listing, deletion, custom
//! attributes.

use std::collections::BTreeMap;

use gatehouse_store::changes::Topic;
use gatehouse_store::{AdminCreateUserConfig, Page, PasswordPolicy, SchemaAttribute, UserPool};
use serde_json::Value;

use crate::attributes::{full_name, standard_schema};
use crate::env::random_alnum;
use crate::error::{Error, Result};
use crate::Directory;

/// What CreateUserPool asks for.
#[derive(Debug, Clone, Default)]
pub struct NewPool {
    pub name: String,
    pub password_policy: Option<PasswordPolicy>,
    pub username_attributes: Vec<String>,
    pub alias_attributes: Vec<String>,
    pub auto_verified_attributes: Vec<String>,
    /// Custom attributes and overrides of standard ones (Required, Mutable, constraints).
    pub schema: Vec<SchemaAttribute>,
    pub mfa_configuration: Option<String>,
    pub admin_create_user: Option<AdminCreateUserConfig>,
    pub deletion_protection: bool,
    pub username_case_sensitive: Option<bool>,
    pub attributes_require_verification_before_update: Vec<String>,
    pub settings: BTreeMap<String, Value>,
}

/// What UpdateUserPool may change. As on AWS, what is left out returns to its default.
#[derive(Debug, Clone, Default)]
pub struct PoolUpdate {
    pub name: Option<String>,
    pub password_policy: Option<PasswordPolicy>,
    pub auto_verified_attributes: Vec<String>,
    pub mfa_configuration: Option<String>,
    pub admin_create_user: Option<AdminCreateUserConfig>,
    pub deletion_protection: bool,
    pub attributes_require_verification_before_update: Vec<String>,
    pub settings: BTreeMap<String, Value>,
}

pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;

fn check_policy(p: &PasswordPolicy) -> Result<()> {
    if !(6..=99).contains(&p.minimum_length) {
        return Err(Error::invalid(
            "Password policy MinimumLength must be between 6 and 99.",
        ));
    }
    if p.temporary_password_validity_days > 365 {
        return Err(Error::invalid(
            "TemporaryPasswordValidityDays must be between 0 and 365.",
        ));
    }
    Ok(())
}

fn check_mfa(mfa: &str) -> Result<()> {
    match mfa {
        "OFF" | "ON" | "OPTIONAL" => Ok(()),
        other => Err(Error::invalid(format!(
            "1 validation error detected: Value '{other}' at 'mfaConfiguration' failed to satisfy constraint: Member must satisfy enum value set: [OFF, ON, OPTIONAL]"
        ))),
    }
}

fn check_auto_verified(attrs: &[String]) -> Result<()> {
    for a in attrs {
        if a != "email" && a != "phone_number" {
            return Err(Error::invalid(format!(
                "1 validation error detected: Value '[{a}]' at 'autoVerifiedAttributes' failed to satisfy constraint: Member must satisfy enum value set: [phone_number, email]"
            )));
        }
    }
    Ok(())
}

fn check_custom_name(name: &str) -> Result<()> {
    let ok = (1..=20).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != ':');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid custom attribute name: {name}. Names are 1 to 20 characters without spaces or ':'."
        )))
    }
}

fn custom_attribute(a: &SchemaAttribute) -> Result<SchemaAttribute> {
    check_custom_name(&a.name)?;
    if a.required {
        return Err(Error::invalid(
            "Required custom attributes are not supported currently.",
        ));
    }
    if !matches!(
        a.data_type.as_str(),
        "String" | "Number" | "DateTime" | "Boolean"
    ) {
        return Err(Error::invalid(format!(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum for attribute {}",
            a.name
        )));
    }
    let mut out = a.clone();
    out.custom = true;
    if out.data_type == "String" {
        out.min_length = Some(out.min_length.unwrap_or(0));
        out.max_length = Some(out.max_length.unwrap_or(2048));
    }
    check_constraints(&out)?;
    Ok(out)
}

/// Constraints that contradict themselves or exceed AWS's bounds are refused, not clamped.
fn check_constraints(a: &SchemaAttribute) -> Result<()> {
    if a.max_length.is_some_and(|m| m > 2048) {
        return Err(Error::invalid(
            "String attributes cannot have a length of more than 2048",
        ));
    }
    if let (Some(lo), Some(hi)) = (a.min_length, a.max_length) {
        if lo > hi {
            return Err(Error::invalid(format!(
                "Invalid StringAttributeConstraints for attribute {}: MinLength {lo} is greater than MaxLength {hi}.",
                full_name(a)
            )));
        }
    }
    if let (Some(lo), Some(hi)) = (a.min_value, a.max_value) {
        if lo > hi {
            return Err(Error::invalid(format!(
                "Invalid NumberAttributeConstraints for attribute {}: MinValue {lo} is greater than MaxValue {hi}.",
                full_name(a)
            )));
        }
    }
    Ok(())
}

/// The pattern of AWS's user pool ids, `<region>_<alphanumerics>` (at most 55 characters).
/// A pool created with a given id must also belong to this server's region.
pub fn check_pool_id(id: &str, region: &str) -> Result<()> {
    let suffix_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    let valid = id.len() <= 55
        && id.rsplit_once('_').is_some_and(|(prefix, suffix)| {
            !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                && suffix_ok(suffix)
        });
    if !valid {
        return Err(Error::invalid(format!(
            "Invalid user pool id {id}: it must match [\\w-]+_[0-9a-zA-Z]+ and be at most 55 characters"
        )));
    }
    if !id.starts_with(&format!("{region}_")) {
        return Err(Error::invalid(format!(
            "Invalid user pool id {id}: a pool id starts with this server's region ({region}_)"
        )));
    }
    Ok(())
}

impl Directory {
    pub async fn create_pool(&self, req: NewPool) -> Result<UserPool> {
        self.insert_new_pool(req, None).await
    }

    /// CreateUserPool with an id chosen by the caller (the declarative configuration, so a
    /// set-up keeps its issuers across data dirs). The id must look like AWS's and be free.
    pub async fn create_pool_with_id(&self, pool_id: &str, req: NewPool) -> Result<UserPool> {
        check_pool_id(pool_id, &self.config.region)?;
        self.insert_new_pool(req, Some(pool_id)).await
    }

    async fn insert_new_pool(&self, req: NewPool, given_id: Option<&str>) -> Result<UserPool> {
        if !req.username_attributes.is_empty() && !req.alias_attributes.is_empty() {
            return Err(Error::invalid(
                "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
            ));
        }
        for a in &req.username_attributes {
            if a != "email" && a != "phone_number" {
                return Err(Error::invalid(format!("Invalid username attribute: {a}")));
            }
        }
        for a in &req.alias_attributes {
            if !matches!(a.as_str(), "email" | "phone_number" | "preferred_username") {
                return Err(Error::invalid(format!("Invalid alias attribute: {a}")));
            }
        }
        check_auto_verified(&req.auto_verified_attributes)?;
        let policy = req.password_policy.unwrap_or_default();
        check_policy(&policy)?;
        let mfa = req.mfa_configuration.unwrap_or_else(|| "OFF".into());
        check_mfa(&mfa)?;

        let mut schema = standard_schema();
        let mut customs = 0;
        for a in &req.schema {
            if let Some(std) = schema.iter_mut().find(|s| !s.custom && s.name == a.name) {
                if std.name == "sub" {
                    continue;
                }
                if a.data_type != std.data_type || a.developer_only {
                    return Err(Error::invalid(format!(
                        "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {}",
                        std.name
                    )));
                }
                std.required = a.required;
                std.mutable = a.mutable;
                if a.max_length.is_some() {
                    std.max_length = a.max_length;
                }
                if a.min_length.is_some() {
                    std.min_length = a.min_length;
                }
                check_constraints(std)?;
                continue;
            }
            let custom = custom_attribute(a)?;
            if schema.iter().any(|s| s.custom && s.name == custom.name) {
                return Err(Error::invalid(format!(
                    "Existing attribute already has name {}.",
                    full_name(&custom)
                )));
            }
            customs += 1;
            schema.push(custom);
        }
        if customs > MAX_CUSTOM_ATTRIBUTES {
            return Err(Error::LimitExceeded(format!(
                "A user pool may have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
            )));
        }

        let now = self.now();
        let mut pool = UserPool {
            id: String::new(),
            name: req.name,
            created: now,
            modified: now,
            password_policy: policy,
            username_attributes: req.username_attributes,
            alias_attributes: req.alias_attributes,
            auto_verified_attributes: req.auto_verified_attributes,
            schema,
            mfa_configuration: mfa,
            admin_create_user: req.admin_create_user.unwrap_or_default(),
            deletion_protection: req.deletion_protection,
            // AWS: without UsernameConfiguration a pool is case sensitive.
            username_case_sensitive: req.username_case_sensitive.unwrap_or(true),
            attributes_require_verification_before_update: req
                .attributes_require_verification_before_update,
            settings: req.settings,
        };
        // Ids are random; a collision is astronomically unlikely but cheap to retry. A given
        // id is tried once.
        for _ in 0..5 {
            pool.id = match given_id {
                Some(id) => id.to_string(),
                None => format!("{}_{}", self.config.region, random_alnum(&*self.rng, 9)),
            };
            match self.store.insert_pool(&pool).await {
                Ok(()) => {
                    self.keys.create_for_pool(&pool.id, now, &*self.rng).await?;
                    tracing::info!(pool_id = %pool.id, "user pool created");
                    return Ok(pool);
                }
                Err(gatehouse_store::StoreError::Conflict(_)) if given_id.is_some() => {
                    return Err(Error::invalid(format!(
                        "A user pool with id {} already exists.",
                        pool.id
                    )))
                }
                Err(gatehouse_store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Internal("could not allocate a pool id".into()))
    }

    pub async fn describe_pool(&self, pool_id: &str) -> Result<(UserPool, u64)> {
        let pool = self.pool(pool_id).await?;
        let users = self.store.count_users(pool_id).await?;
        Ok((pool, users))
    }

    pub async fn update_pool(&self, pool_id: &str, req: PoolUpdate) -> Result<()> {
        let mut pool = self.pool(pool_id).await?;
        let policy = req.password_policy.unwrap_or_default();
        check_policy(&policy)?;
        let mfa = req.mfa_configuration.unwrap_or_else(|| "OFF".into());
        check_mfa(&mfa)?;
        check_auto_verified(&req.auto_verified_attributes)?;
        if let Some(name) = req.name {
            pool.name = name;
        }
        pool.password_policy = policy;
        pool.mfa_configuration = mfa;
        pool.auto_verified_attributes = req.auto_verified_attributes;
        pool.admin_create_user = req.admin_create_user.unwrap_or_default();
        pool.deletion_protection = req.deletion_protection;
        pool.attributes_require_verification_before_update =
            req.attributes_require_verification_before_update;
        // The MFA factors are SetUserPoolMfaConfig's to change, not UpdateUserPool's.
        let mfa_factors = pool.settings.remove(crate::mfa::POOL_SETTINGS_KEY);
        pool.settings = req.settings;
        if let Some(f) = mfa_factors {
            pool.settings
                .insert(crate::mfa::POOL_SETTINGS_KEY.to_string(), f);
        }
        pool.modified = self.now();
        self.store.update_pool(&pool).await?;
        self.configuration_changed();
        Ok(())
    }

    /// Gatehouse's own operation (Cognito has none): a new signing key for the pool. Tokens
    /// are signed with it from now on, on every node; the old keys stay in the JWKS so the
    /// tokens they signed keep verifying. Returns the new key id.
    pub async fn rotate_signing_key(&self, pool_id: &str) -> Result<String> {
        self.pool(pool_id).await?;
        let kid = self
            .keys
            .rotate(pool_id, self.now(), self.rng.as_ref())
            .await?;
        self.announcer.announce(Topic::Pools);
        tracing::info!(%pool_id, %kid, "signing key rotated");
        Ok(kid)
    }

    pub async fn delete_pool(&self, pool_id: &str) -> Result<()> {
        let pool = self.pool(pool_id).await?;
        if pool.deletion_protection {
            return Err(Error::invalid(
                "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
            ));
        }
        // As on AWS: the hosted-UI domain must go first (its name is global).
        if !self.store.pool_domains(pool_id).await?.is_empty() {
            return Err(Error::invalid(
                "User pool cannot be deleted. It has a domain configured that should be deleted first.",
            ));
        }
        self.store.delete_pool(pool_id).await?;
        self.keys.forget(pool_id);
        self.configuration_changed();
        tracing::info!(%pool_id, "user pool deleted");
        Ok(())
    }

    /// Pools after `next_token`, and the token for the page after this one.
    pub async fn list_pools(
        &self,
        max_results: usize,
        next_token: Option<String>,
    ) -> Result<(Vec<UserPool>, Option<String>)> {
        let page = Page {
            limit: max_results + 1,
            after: next_token,
        };
        let mut pools = self.store.list_pools(&page).await?;
        let more = pools.len() > max_results;
        pools.truncate(max_results);
        let next = more.then(|| pools.last().map(|p| p.id.clone())).flatten();
        Ok((pools, next))
    }

    pub async fn add_custom_attributes(
        &self,
        pool_id: &str,
        attrs: Vec<SchemaAttribute>,
    ) -> Result<()> {
        let mut pool = self.pool(pool_id).await?;
        for a in &attrs {
            let custom = custom_attribute(a)?;
            if pool
                .schema
                .iter()
                .any(|s| s.custom && s.name == custom.name)
            {
                return Err(Error::invalid(format!(
                    "Existing attribute already has name {}.",
                    full_name(&custom)
                )));
            }
            pool.schema.push(custom);
        }
        if pool.schema.iter().filter(|s| s.custom).count() > MAX_CUSTOM_ATTRIBUTES {
            return Err(Error::LimitExceeded(format!(
                "A user pool may have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
            )));
        }
        pool.modified = self.now();
        self.store.update_pool(&pool).await?;
        self.configuration_changed();
        Ok(())
    }
}
