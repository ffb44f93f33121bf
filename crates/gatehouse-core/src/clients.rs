//! App clients: creation and update with AWS's defaults and limits, and the client-secret
//! checks the auth flows rely on.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_store::{AppClient, Page, TokenValidityUnits, UserPool};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::attributes;
use crate::env::random_lower_alnum;
use crate::error::{Error, Result};
use crate::Directory;

/// What CreateUserPoolClient / UpdateUserPoolClient ask for. On update, as on AWS, what is left
/// out returns to its default.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    pub client_name: String,
    pub explicit_auth_flows: Option<Vec<String>>,
    pub refresh_token_validity: Option<u64>,
    pub access_token_validity: Option<u64>,
    pub id_token_validity: Option<u64>,
    pub token_validity_units: Option<PartialUnits>,
    pub read_attributes: Option<Vec<String>>,
    pub write_attributes: Option<Vec<String>>,
    pub prevent_user_existence_errors: Option<String>,
    pub enable_token_revocation: Option<bool>,
    pub auth_session_validity_minutes: Option<u32>,
    pub settings: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct PartialUnits {
    pub access_token: Option<String>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

const FLOWS: &[&str] = &[
    "ADMIN_NO_SRP_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
    "USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
];

fn unit_seconds(unit: &str) -> Result<u64> {
    Ok(match unit {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        "days" => 86_400,
        other => {
            return Err(Error::invalid(format!(
                "1 validation error detected: Value '{other}' at 'tokenValidityUnits' failed to satisfy constraint: Member must satisfy enum value set: [seconds, minutes, hours, days]"
            )))
        }
    })
}

/// What a client's settings mean for the auth flows.
pub trait ClientPolicy {
    fn access_token_seconds(&self) -> u64;
    fn id_token_seconds(&self) -> u64;
    fn refresh_token_seconds(&self) -> u64;
    fn allows(&self, flow: &str) -> bool;
}

impl ClientPolicy for AppClient {
    fn access_token_seconds(&self) -> u64 {
        self.access_token_validity
            * unit_seconds(&self.token_validity_units.access_token).unwrap_or(3600)
    }
    fn id_token_seconds(&self) -> u64 {
        self.id_token_validity * unit_seconds(&self.token_validity_units.id_token).unwrap_or(3600)
    }
    fn refresh_token_seconds(&self) -> u64 {
        self.refresh_token_validity
            * unit_seconds(&self.token_validity_units.refresh_token).unwrap_or(86_400)
    }

    /// Whether the client allows a flow, in its new (`ALLOW_*`) or legacy spelling.
    fn allows(&self, flow: &str) -> bool {
        let legacy = match flow {
            "ALLOW_USER_PASSWORD_AUTH" => Some("USER_PASSWORD_AUTH"),
            "ALLOW_ADMIN_USER_PASSWORD_AUTH" => Some("ADMIN_NO_SRP_AUTH"),
            "ALLOW_CUSTOM_AUTH" => Some("CUSTOM_AUTH_FLOW_ONLY"),
            _ => None,
        };
        let uses_legacy = self
            .explicit_auth_flows
            .iter()
            .all(|f| !f.starts_with("ALLOW_"));
        self.explicit_auth_flows.iter().any(|f| f == flow)
            || legacy.is_some_and(|l| self.explicit_auth_flows.iter().any(|f| f == l))
            // Legacy clients always allowed SRP and refresh.
            || (uses_legacy && matches!(flow, "ALLOW_USER_SRP_AUTH" | "ALLOW_REFRESH_TOKEN_AUTH"))
    }
}

/// `base64(HMAC-SHA256(client_secret, username ‖ client_id))`.
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks SECRET_HASH for clients that have a secret. Any of `usernames` may have been used
/// (the name typed, the username, the sub), as AWS accepts.
pub fn check_secret_hash(
    client: &AppClient,
    usernames: &[&str],
    provided: Option<&str>,
) -> Result<()> {
    let Some(secret) = &client.client_secret else {
        return Ok(());
    };
    let fail = || {
        Error::not_authorized(format!(
            "Client {} is configured with secret but SECRET_HASH was not received",
            client.client_id
        ))
    };
    let provided = provided.ok_or_else(fail)?;
    let ok = usernames.iter().fold(0u8, |acc, u| {
        let expected = secret_hash(secret, u, &client.client_id);
        acc | expected.as_bytes().ct_eq(provided.as_bytes()).unwrap_u8()
    });
    if ok == 1 {
        Ok(())
    } else {
        Err(Error::not_authorized(format!(
            "Unable to verify secret hash for client {}",
            client.client_id
        )))
    }
}

fn check_flows(flows: &[String]) -> Result<()> {
    for f in flows {
        if !FLOWS.contains(&f.as_str()) {
            return Err(Error::invalid(format!(
                "1 validation error detected: Value '[{f}]' at 'explicitAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                FLOWS.join(", ")
            )));
        }
    }
    let new = flows.iter().filter(|f| f.starts_with("ALLOW_")).count();
    if new != 0 && new != flows.len() {
        return Err(Error::invalid(
            "ExplicitAuthFlows can't have both legacy and new values.",
        ));
    }
    Ok(())
}

fn check_attribute_list(pool: &UserPool, names: &[String], what: &str) -> Result<()> {
    for n in names {
        if attributes::find(pool, n).is_none() {
            return Err(Error::invalid(format!(
                "Invalid {what} attributes specified while creating a client: {n}"
            )));
        }
    }
    Ok(())
}

fn build(pool: &UserPool, req: ClientSettings, base: AppClient) -> Result<AppClient> {
    let flows = req.explicit_auth_flows.unwrap_or_else(|| {
        vec![
            "ALLOW_REFRESH_TOKEN_AUTH".into(),
            "ALLOW_USER_SRP_AUTH".into(),
            "ALLOW_CUSTOM_AUTH".into(),
        ]
    });
    check_flows(&flows)?;
    let given = req.token_validity_units.unwrap_or_default();
    let units = TokenValidityUnits {
        access_token: given.access_token.unwrap_or_else(|| "hours".into()),
        id_token: given.id_token.unwrap_or_else(|| "hours".into()),
        refresh_token: given.refresh_token.unwrap_or_else(|| "days".into()),
    };
    let access = req
        .access_token_validity
        .unwrap_or(3600 / unit_seconds(&units.access_token)?.min(3600));
    let id = req
        .id_token_validity
        .unwrap_or(3600 / unit_seconds(&units.id_token)?.min(3600));
    let refresh = req
        .refresh_token_validity
        .unwrap_or(30 * 86_400 / unit_seconds(&units.refresh_token)?);
    let secs = |v: u64, u: &str| -> Result<u64> { Ok(v.saturating_mul(unit_seconds(u)?)) };
    let in_range = |name: &str, v: u64, lo: u64, hi: u64| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "Invalid range for token validity: {name}."
            )))
        }
    };
    in_range(
        "AccessTokenValidity",
        secs(access, &units.access_token)?,
        300,
        86_400,
    )?;
    in_range("IdTokenValidity", secs(id, &units.id_token)?, 300, 86_400)?;
    in_range(
        "RefreshTokenValidity",
        secs(refresh, &units.refresh_token)?,
        3600,
        3650 * 86_400,
    )?;
    if let Some(r) = &req.read_attributes {
        check_attribute_list(pool, r, "read")?;
    }
    if let Some(w) = &req.write_attributes {
        check_attribute_list(pool, w, "write")?;
        if w.iter().any(|a| a == "sub") {
            return Err(Error::invalid(
                "Invalid write attributes specified while creating a client: sub",
            ));
        }
    }
    let prevent = req
        .prevent_user_existence_errors
        .unwrap_or_else(|| "ENABLED".into());
    if prevent != "ENABLED" && prevent != "LEGACY" {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{prevent}' at 'preventUserExistenceErrors' failed to satisfy constraint: Member must satisfy enum value set: [LEGACY, ENABLED]"
        )));
    }
    let session = req.auth_session_validity_minutes.unwrap_or(3);
    if !(3..=15).contains(&session) {
        return Err(Error::invalid(
            "1 validation error detected: Value at 'authSessionValidity' failed to satisfy constraint: Member must have value between 3 and 15",
        ));
    }
    Ok(AppClient {
        client_name: req.client_name,
        explicit_auth_flows: flows,
        refresh_token_validity: refresh,
        access_token_validity: access,
        id_token_validity: id,
        token_validity_units: units,
        read_attributes: req.read_attributes,
        write_attributes: req.write_attributes,
        prevent_user_existence_errors: prevent,
        enable_token_revocation: req.enable_token_revocation.unwrap_or(true),
        auth_session_validity_minutes: session,
        settings: req.settings,
        ..base
    })
}

/// The secret of a client created with a given id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSecretChoice {
    None,
    Generate,
    /// This secret (AWS's custom client secrets: 24 to 64 of `[\w+]`).
    Given(String),
}

fn is_word_or_plus(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '+')
}

/// AWS's ClientId pattern: 1 to 128 of `[\w+]`.
pub fn check_client_id(id: &str) -> Result<()> {
    if (1..=128).contains(&id.chars().count()) && is_word_or_plus(id) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid client id {id}: it must be 1 to 128 characters of [\\w+]"
        )))
    }
}

/// AWS's pattern for a client secret given by the caller: 24 to 64 of `[\w+]`. The
/// message never shows the secret.
pub fn check_client_secret(secret: &str) -> Result<()> {
    if (24..=64).contains(&secret.chars().count()) && is_word_or_plus(secret) {
        Ok(())
    } else {
        Err(Error::invalid(
            "Invalid client secret: it must be 24 to 64 characters of [\\w+]",
        ))
    }
}

impl Directory {
    pub async fn create_client(
        &self,
        pool_id: &str,
        generate_secret: bool,
        req: ClientSettings,
    ) -> Result<AppClient> {
        let secret = generate_secret.then(|| random_lower_alnum(&*self.rng, 51));
        let id = random_lower_alnum(&*self.rng, 26);
        self.insert_new_client(pool_id, id, secret, req).await
    }

    /// CreateUserPoolClient with the id (and secret) chosen by the caller: the declarative
    /// configuration, so tokens keep their `aud` / `client_id` across data dirs. The id must
    /// look like AWS's and not belong to any client yet.
    pub async fn create_client_with_id(
        &self,
        pool_id: &str,
        client_id: &str,
        secret: ClientSecretChoice,
        req: ClientSettings,
    ) -> Result<AppClient> {
        check_client_id(client_id)?;
        let secret = match secret {
            ClientSecretChoice::None => None,
            ClientSecretChoice::Generate => Some(random_lower_alnum(&*self.rng, 51)),
            ClientSecretChoice::Given(s) => {
                check_client_secret(&s)?;
                Some(s)
            }
        };
        if let Some(other) = self.store.get_client(client_id).await? {
            return Err(Error::invalid(format!(
                "A user pool client with id {client_id} already exists (in pool {}).",
                other.pool_id
            )));
        }
        self.insert_new_client(pool_id, client_id.to_string(), secret, req)
            .await
    }

    async fn insert_new_client(
        &self,
        pool_id: &str,
        client_id: String,
        client_secret: Option<String>,
        req: ClientSettings,
    ) -> Result<AppClient> {
        let pool = self.pool(pool_id).await?;
        let now = self.now();
        let base = AppClient {
            pool_id: pool_id.to_string(),
            client_id,
            client_name: String::new(),
            client_secret,
            created: now,
            modified: now,
            explicit_auth_flows: vec![],
            refresh_token_validity: 0,
            access_token_validity: 0,
            id_token_validity: 0,
            token_validity_units: TokenValidityUnits::default(),
            read_attributes: None,
            write_attributes: None,
            prevent_user_existence_errors: String::new(),
            enable_token_revocation: true,
            auth_session_validity_minutes: 3,
            settings: BTreeMap::new(),
        };
        let client = build(&pool, req, base)?;
        self.check_client_oauth(pool_id, client.client_secret.is_some(), &client.settings)
            .await?;
        self.store.insert_client(&client).await?;
        Ok(client)
    }

    /// A client of this pool (ResourceNotFound otherwise, as AWS answers).
    pub async fn describe_client(&self, pool_id: &str, client_id: &str) -> Result<AppClient> {
        self.pool(pool_id).await?;
        match self.store.get_client(client_id).await? {
            Some(c) if c.pool_id == pool_id => Ok(c),
            _ => Err(Error::ResourceNotFound(format!(
                "User pool client {client_id} does not exist."
            ))),
        }
    }

    pub async fn update_client(
        &self,
        pool_id: &str,
        client_id: &str,
        req: ClientSettings,
    ) -> Result<AppClient> {
        let pool = self.pool(pool_id).await?;
        let current = self.describe_client(pool_id, client_id).await?;
        let mut client = build(&pool, req, current)?;
        self.check_client_oauth(pool_id, client.client_secret.is_some(), &client.settings)
            .await?;
        client.modified = self.now();
        self.store.update_client(&client).await?;
        self.configuration_changed();
        Ok(client)
    }

    pub async fn delete_client(&self, pool_id: &str, client_id: &str) -> Result<()> {
        self.describe_client(pool_id, client_id).await?;
        self.store.delete_client(pool_id, client_id).await?;
        self.configuration_changed();
        Ok(())
    }

    pub async fn list_clients(
        &self,
        pool_id: &str,
        max_results: usize,
        next_token: Option<String>,
    ) -> Result<(Vec<AppClient>, Option<String>)> {
        self.pool(pool_id).await?;
        let page = Page {
            limit: max_results + 1,
            after: next_token,
        };
        let mut clients = self.store.list_clients(pool_id, &page).await?;
        let more = clients.len() > max_results;
        clients.truncate(max_results);
        let next = more
            .then(|| clients.last().map(|c| c.client_id.clone()))
            .flatten();
        Ok((clients, next))
    }

    /// The client named by a public (unsigned) call, which names no pool.
    /// An app client by id alone, for the adapters that are handed nothing else (the hosted
    /// `/logout` takes only `client_id`).
    pub async fn app_client(&self, client_id: &str) -> Result<AppClient> {
        self.client(client_id).await
    }

    /// An app client as the sign-in paths read it (through the read cache).
    pub(crate) async fn client(&self, client_id: &str) -> Result<AppClient> {
        match self.cached_client(client_id).await? {
            Some(c) => Ok(AppClient::clone(&c)),
            None => Err(Error::ResourceNotFound(format!(
                "User pool client {client_id} does not exist."
            ))),
        }
    }
}
