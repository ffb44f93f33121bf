//! CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient, DeleteUserPoolClient,
//! ListUserPoolClients.

use std::collections::BTreeMap;

use gatehouse_core::clients::{ClientSecretChoice, ClientSettings, PartialUnits};
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::{json, Value};

use super::empty;
use crate::render;
use crate::validate::{self, parse};
use crate::WireError;

/// OAuth members kept as given until the OAuth endpoints act on them.
const PASSTHROUGH: &[&str] = &[
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "EnablePropagateAdditionalUserContextData",
    "RefreshTokenRotation",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UnitsIn {
    access_token: Option<String>,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientIn {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    client_name: Option<String>,
    generate_secret: Option<bool>,
    refresh_token_validity: Option<i64>,
    access_token_validity: Option<i64>,
    id_token_validity: Option<i64>,
    token_validity_units: Option<UnitsIn>,
    read_attributes: Option<Vec<String>>,
    write_attributes: Option<Vec<String>>,
    explicit_auth_flows: Option<Vec<String>>,
    prevent_user_existence_errors: Option<String>,
    enable_token_revocation: Option<bool>,
    auth_session_validity: Option<i64>,
}

/// The types of the members kept as given, so a wrong type is refused like any other.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)] // deserialized only to check the types
struct PassthroughTypes {
    supported_identity_providers: Option<Vec<String>>,
    #[serde(rename = "CallbackURLs")]
    callback_urls: Option<Vec<String>>,
    #[serde(rename = "LogoutURLs")]
    logout_urls: Option<Vec<String>>,
    #[serde(rename = "DefaultRedirectURI")]
    default_redirect_uri: Option<String>,
    allowed_o_auth_flows: Option<Vec<String>>,
    allowed_o_auth_scopes: Option<Vec<String>>,
    allowed_o_auth_flows_user_pool_client: Option<bool>,
    analytics_configuration: Option<BTreeMap<String, Value>>,
    enable_propagate_additional_user_context_data: Option<bool>,
    refresh_token_rotation: Option<BTreeMap<String, Value>>,
}

fn check_passthrough(input: &Value) -> Result<(), WireError> {
    let t: PassthroughTypes = parse(input.clone())?;
    for f in t.allowed_o_auth_flows.iter().flatten() {
        if !matches!(f.as_str(), "code" | "implicit" | "client_credentials") {
            return Err(WireError::Domain(gatehouse_core::Error::invalid(format!(
                "1 validation error detected: Value '[{f}]' at 'allowedOAuthFlows' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [implicit, client_credentials, code]]"
            ))));
        }
    }
    super::oauth::check_client_members(input)?;
    Ok(())
}

fn settings(r: &ClientIn, input: &Value, name: String) -> Result<ClientSettings, WireError> {
    check_passthrough(input)?;
    let nonneg = |field: &str, v: Option<i64>| -> Result<Option<u64>, WireError> {
        match v {
            Some(n) => {
                validate::range(field, n, 0, 315_360_000)?;
                Ok(Some(n as u64))
            }
            None => Ok(None),
        }
    };
    let session = match r.auth_session_validity {
        Some(n) => {
            validate::range("authSessionValidity", n, 3, 15)?;
            Some(n as u32)
        }
        None => None,
    };
    Ok(ClientSettings {
        client_name: name,
        explicit_auth_flows: r.explicit_auth_flows.clone(),
        refresh_token_validity: nonneg("refreshTokenValidity", r.refresh_token_validity)?,
        access_token_validity: nonneg("accessTokenValidity", r.access_token_validity)?,
        id_token_validity: nonneg("idTokenValidity", r.id_token_validity)?,
        token_validity_units: r.token_validity_units.as_ref().map(|u| PartialUnits {
            access_token: u.access_token.clone(),
            id_token: u.id_token.clone(),
            refresh_token: u.refresh_token.clone(),
        }),
        read_attributes: r.read_attributes.clone(),
        write_attributes: r.write_attributes.clone(),
        prevent_user_existence_errors: r.prevent_user_existence_errors.clone(),
        enable_token_revocation: r.enable_token_revocation,
        auth_session_validity_minutes: session,
        settings: PASSTHROUGH
            .iter()
            .filter_map(|k| {
                input
                    .get(*k)
                    .filter(|v| !super::oauth::is_empty_list(v))
                    .map(|v| (k.to_string(), v.clone()))
            })
            .collect::<BTreeMap<_, _>>(),
    })
}

pub async fn create(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ClientIn = parse(input.clone())?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let name = validate::display_name("clientName", &r.client_name)?;
    let s = settings(&r, &input, name)?;
    let client = dir
        .create_client(pool_id, r.generate_secret.unwrap_or(false), s)
        .await?;
    Ok(json!({ "UserPoolClient": render::client(&client) }))
}

/// CreateUserPoolClient with the client id (and secret) chosen by the caller (the declarative
/// configuration). `GenerateSecret` in `input` asks for a generated secret when none is given.
pub async fn create_with_id(
    dir: &Directory,
    input: Value,
    client_id: &str,
    client_secret: Option<String>,
) -> Result<Value, WireError> {
    let r: ClientIn = parse(input.clone())?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let name = validate::display_name("clientName", &r.client_name)?;
    let s = settings(&r, &input, name)?;
    let secret = match (client_secret, r.generate_secret.unwrap_or(false)) {
        (Some(given), _) => ClientSecretChoice::Given(given),
        (None, true) => ClientSecretChoice::Generate,
        (None, false) => ClientSecretChoice::None,
    };
    let client = dir
        .create_client_with_id(pool_id, client_id, secret, s)
        .await?;
    Ok(json!({ "UserPoolClient": render::client(&client) }))
}

pub async fn describe(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ClientIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let client_id = validate::client_id(&r.client_id)?;
    let client = dir.describe_client(pool_id, client_id).await?;
    Ok(json!({ "UserPoolClient": render::client(&client) }))
}

pub async fn update(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ClientIn = parse(input.clone())?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let client_id = validate::client_id(&r.client_id)?;
    let name = match &r.client_name {
        Some(_) => validate::display_name("clientName", &r.client_name)?,
        None => dir.describe_client(pool_id, client_id).await?.client_name,
    };
    let s = settings(&r, &input, name)?;
    let client = dir.update_client(pool_id, client_id, s).await?;
    Ok(json!({ "UserPoolClient": render::client(&client) }))
}

pub async fn delete(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ClientIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let client_id = validate::client_id(&r.client_id)?;
    dir.delete_client(pool_id, client_id).await?;
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIn {
    user_pool_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub async fn list(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ListIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let max = validate::limit("maxResults", r.max_results, 1, 60, 60)?;
    let token = validate::pagination_token("nextToken", &r.next_token)?;
    let (clients, next) = dir.list_clients(pool_id, max, token).await?;
    let mut out = json!({
        "UserPoolClients": clients.iter().map(|c| json!({
            "ClientId": c.client_id,
            "UserPoolId": c.pool_id,
            "ClientName": c.client_name,
        })).collect::<Vec<_>>()
    });
    render::put_token(&mut out, "NextToken", next);
    Ok(out)
}
