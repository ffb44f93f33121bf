//! The OAuth configuration of a pool: CreateUserPoolDomain, DescribeUserPoolDomain,
//! UpdateUserPoolDomain, DeleteUserPoolDomain; CreateResourceServer, DescribeResourceServer,
//! UpdateResourceServer, DeleteResourceServer, ListResourceServers; SetUICustomization,
//! GetUICustomization.

use std::sync::OnceLock;

use base64::Engine;
use gatehouse_core::pool_domains::{CustomDomainConfig, DomainRequest};
use gatehouse_core::resource_servers::ResourceServerRequest;
use gatehouse_core::store::{ResourceServer, UserPoolDomain};
use gatehouse_core::ui::{UiCustomization, ALL_CLIENTS};
use gatehouse_core::Directory;
use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::empty;
use crate::render;
use crate::validate::{self, parse};
use crate::WireError;

fn invalid(msg: String) -> WireError {
    WireError::Domain(gatehouse_core::Error::InvalidParameter(msg))
}

fn shown(v: &str) -> String {
    let mut s: String = v.chars().take(64).collect();
    if v.chars().count() > 64 {
        s.push_str("...");
    }
    s
}

/// A member against one of the model's patterns, with AWS's message.
fn pattern(field: &str, v: &str, re: &OnceLock<Option<Regex>>, src: &str) -> Result<(), WireError> {
    let re = re
        .get_or_init(|| Regex::new(&format!("^(?:{src})$")).ok())
        .as_ref()
        .ok_or_else(|| {
            WireError::Domain(gatehouse_core::Error::Internal(format!(
                "bad pattern for {field}"
            )))
        })?;
    if re.is_match(v) {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {src}",
            shown(v)
        )))
    }
}

fn enum_value(field: &str, v: &str, allowed: &[&str]) -> Result<(), WireError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            shown(v),
            allowed.join(", ")
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// User pool domains

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CustomDomainIn {
    certificate_arn: Option<String>,
    security_policy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FailoverIn {
    secondary_region: Option<String>,
    #[serde(rename = "PrimaryRoute53HealthCheckId")]
    primary_route53_health_check_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoutingIn {
    failover: Option<FailoverIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DomainIn {
    domain: Option<String>,
    user_pool_id: Option<String>,
    managed_login_version: Option<i64>,
    custom_domain_config: Option<CustomDomainIn>,
    routing: Option<RoutingIn>,
}

fn domain_name(v: &Option<String>) -> Result<String, WireError> {
    let d = validate::required(v, "domain")?;
    validate::length("domain", d, 1, 63)?;
    Ok(d.clone())
}

fn domain_request(r: DomainIn, input: &Value) -> Result<DomainRequest, WireError> {
    let domain = domain_name(&r.domain)?;
    let custom_domain_config = match r.custom_domain_config {
        Some(c) => {
            let arn = validate::required(&c.certificate_arn, "customDomainConfig.certificateArn")?;
            validate::arn("customDomainConfig.certificateArn", arn)?;
            if let Some(p) = &c.security_policy {
                enum_value(
                    "customDomainConfig.securityPolicy",
                    p,
                    &["TLS_V1", "TLS_V1_2_2021", "TLS_V1_3_2025"],
                )?;
            }
            Some(CustomDomainConfig {
                certificate_arn: arn.clone(),
                security_policy: c.security_policy,
            })
        }
        None => None,
    };
    if let Some(f) = r.routing.as_ref().and_then(|r| r.failover.as_ref()) {
        let region = validate::required(&f.secondary_region, "routing.failover.secondaryRegion")?;
        validate::length("routing.failover.secondaryRegion", region, 5, 32)?;
        let check = validate::required(
            &f.primary_route53_health_check_id,
            "routing.failover.primaryRoute53HealthCheckId",
        )?;
        validate::length("routing.failover.primaryRoute53HealthCheckId", check, 0, 64)?;
    }
    Ok(DomainRequest {
        domain,
        custom_domain_config,
        managed_login_version: r.managed_login_version,
        routing: input.get("Routing").cloned(),
    })
}

/// CreateUserPoolDomain's and UpdateUserPoolDomain's answer.
fn domain_change(d: &UserPoolDomain) -> Value {
    let mut out = Map::new();
    out.insert("ManagedLoginVersion".into(), json!(d.managed_login_version));
    if d.custom {
        out.insert("CloudFrontDomain".into(), json!(d.cloudfront_distribution));
    }
    if let Some(r) = &d.routing {
        out.insert("Routing".into(), r.clone());
    }
    Value::Object(out)
}

fn domain_description(d: &UserPoolDomain, account_id: &str) -> Value {
    let mut custom = Map::new();
    if let Some(arn) = &d.certificate_arn {
        custom.insert("CertificateArn".into(), json!(arn));
    }
    if let Some(p) = &d.security_policy {
        custom.insert("SecurityPolicy".into(), json!(p));
    }
    let mut v = json!({
        "UserPoolId": d.pool_id,
        "AWSAccountId": account_id,
        "Domain": d.domain,
        "CloudFrontDistribution": d.cloudfront_distribution,
        "Version": d.version,
        "Status": "ACTIVE",
        "CustomDomainConfig": custom,
        "ManagedLoginVersion": d.managed_login_version,
    });
    if let (Some(r), Some(obj)) = (&d.routing, v.as_object_mut()) {
        obj.insert("Routing".into(), r.clone());
    }
    v
}

pub async fn create_domain(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DomainIn = parse(input.clone())?;
    let pool_id = validate::pool_id(&r.user_pool_id)?.to_string();
    let req = domain_request(r, &input)?;
    let d = dir.create_pool_domain(&pool_id, req).await?;
    Ok(domain_change(&d))
}

pub async fn update_domain(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DomainIn = parse(input.clone())?;
    let pool_id = validate::pool_id(&r.user_pool_id)?.to_string();
    let req = domain_request(r, &input)?;
    let d = dir.update_pool_domain(&pool_id, req).await?;
    Ok(domain_change(&d))
}

pub async fn describe_domain(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DomainIn = parse(input)?;
    let name = domain_name(&r.domain)?;
    let description = match dir.describe_pool_domain(&name).await? {
        Some(d) => domain_description(&d, &dir.config().account_id),
        None => empty(),
    };
    Ok(json!({ "DomainDescription": description }))
}

pub async fn delete_domain(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: DomainIn = parse(input)?;
    let name = domain_name(&r.domain)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    dir.delete_pool_domain(pool_id, &name).await?;
    Ok(empty())
}

/// DescribeUserPool's `Domain` (prefix) and `CustomDomain`.
pub async fn put_pool_domains(
    dir: &Directory,
    pool_id: &str,
    out: &mut Value,
) -> Result<(), WireError> {
    let domains = dir.pool_domains(pool_id).await?;
    if let Some(obj) = out.as_object_mut() {
        for d in domains {
            let key = if d.custom { "CustomDomain" } else { "Domain" };
            obj.insert(key.into(), json!(d.domain));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Resource servers

static IDENTIFIER_RE: OnceLock<Option<Regex>> = OnceLock::new();
const IDENTIFIER_PATTERN: &str = r"[\x21\x23-\x5B\x5D-\x7E]+";
static NAME_RE: OnceLock<Option<Regex>> = OnceLock::new();
const NAME_PATTERN: &str = r"[\w\s+=,.@-]+";
static SCOPE_NAME_RE: OnceLock<Option<Regex>> = OnceLock::new();
const SCOPE_NAME_PATTERN: &str = r"[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScopeIn {
    scope_name: Option<String>,
    scope_description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceServerIn {
    user_pool_id: Option<String>,
    identifier: Option<String>,
    name: Option<String>,
    scopes: Option<Vec<ScopeIn>>,
}

fn identifier(v: &Option<String>) -> Result<String, WireError> {
    let id = validate::required(v, "identifier")?;
    validate::length("identifier", id, 1, 256)?;
    pattern("identifier", id, &IDENTIFIER_RE, IDENTIFIER_PATTERN)?;
    Ok(id.clone())
}

fn server_request(r: ResourceServerIn) -> Result<ResourceServerRequest, WireError> {
    let identifier = identifier(&r.identifier)?;
    let name = validate::required(&r.name, "name")?;
    validate::length("name", name, 1, 256)?;
    pattern("name", name, &NAME_RE, NAME_PATTERN)?;
    let given = r.scopes.unwrap_or_default();
    if given.len() > gatehouse_core::resource_servers::MAX_SCOPES {
        return Err(invalid(format!(
            "1 validation error detected: Value at 'scopes' failed to satisfy constraint: Member must have length less than or equal to {}",
            gatehouse_core::resource_servers::MAX_SCOPES
        )));
    }
    let mut scopes = Vec::with_capacity(given.len());
    for (i, s) in given.into_iter().enumerate() {
        let field = |m: &str| format!("scopes.{}.member.{m}", i + 1);
        let n = validate::required(&s.scope_name, &field("scopeName"))?;
        validate::length(&field("scopeName"), n, 1, 256)?;
        pattern(&field("scopeName"), n, &SCOPE_NAME_RE, SCOPE_NAME_PATTERN)?;
        let d = validate::required(&s.scope_description, &field("scopeDescription"))?;
        validate::length(&field("scopeDescription"), d, 1, 256)?;
        scopes.push((n.clone(), d.clone()));
    }
    Ok(ResourceServerRequest {
        identifier,
        name: name.clone(),
        scopes,
    })
}

fn resource_server(s: &ResourceServer) -> Value {
    let mut v = json!({
        "UserPoolId": s.pool_id,
        "Identifier": s.identifier,
        "Name": s.name,
    });
    if let (false, Some(obj)) = (s.scopes.is_empty(), v.as_object_mut()) {
        obj.insert(
            "Scopes".into(),
            Value::Array(
                s.scopes
                    .iter()
                    .map(|sc| json!({ "ScopeName": sc.name, "ScopeDescription": sc.description }))
                    .collect(),
            ),
        );
    }
    v
}

pub async fn create_resource_server(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ResourceServerIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?.to_string();
    let req = server_request(r)?;
    let s = dir.create_resource_server(&pool_id, req).await?;
    Ok(json!({ "ResourceServer": resource_server(&s) }))
}

pub async fn update_resource_server(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ResourceServerIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?.to_string();
    let req = server_request(r)?;
    let s = dir.update_resource_server(&pool_id, req).await?;
    Ok(json!({ "ResourceServer": resource_server(&s) }))
}

pub async fn describe_resource_server(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ResourceServerIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let id = identifier(&r.identifier)?;
    let s = dir.describe_resource_server(pool_id, &id).await?;
    Ok(json!({ "ResourceServer": resource_server(&s) }))
}

pub async fn delete_resource_server(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ResourceServerIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let id = identifier(&r.identifier)?;
    dir.delete_resource_server(pool_id, &id).await?;
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIn {
    user_pool_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub async fn list_resource_servers(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: ListIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let max = validate::limit("maxResults", r.max_results, 1, 50, 50)?;
    let token = validate::pagination_token("nextToken", &r.next_token)?;
    let (servers, next) = dir.list_resource_servers(pool_id, max, token).await?;
    let mut out = json!({
        "ResourceServers": servers.iter().map(resource_server).collect::<Vec<_>>()
    });
    render::put_token(&mut out, "NextToken", next);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// App clients' OAuth members: the model's constraints on each list, with AWS's list message

static REDIRECT_RE: OnceLock<Option<Regex>> = OnceLock::new();
const REDIRECT_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+";
static SCOPE_RE: OnceLock<Option<Regex>> = OnceLock::new();
const SCOPE_PATTERN: &str = r"[\x21\x23-\x5B\x5D-\x7E]+";
static PROVIDER_RE: OnceLock<Option<Regex>> = OnceLock::new();
const PROVIDER_PATTERN: &str = r"[\p{L}\p{M}\p{S}\p{N}\p{P}\p{Z}]+";

struct MemberRule {
    field: &'static str,
    member: &'static str,
    max_items: Option<usize>,
    min_len: usize,
    max_len: usize,
    re: &'static OnceLock<Option<Regex>>,
    pattern: &'static str,
}

const CLIENT_LISTS: &[MemberRule] = &[
    MemberRule {
        field: "callbackURLs",
        member: "CallbackURLs",
        max_items: Some(100),
        min_len: 1,
        max_len: 1024,
        re: &REDIRECT_RE,
        pattern: REDIRECT_PATTERN,
    },
    MemberRule {
        field: "logoutURLs",
        member: "LogoutURLs",
        max_items: Some(100),
        min_len: 1,
        max_len: 1024,
        re: &REDIRECT_RE,
        pattern: REDIRECT_PATTERN,
    },
    MemberRule {
        field: "allowedOAuthScopes",
        member: "AllowedOAuthScopes",
        max_items: Some(50),
        min_len: 1,
        max_len: 256,
        re: &SCOPE_RE,
        pattern: SCOPE_PATTERN,
    },
    MemberRule {
        field: "supportedIdentityProviders",
        member: "SupportedIdentityProviders",
        max_items: None,
        min_len: 1,
        max_len: 32,
        re: &PROVIDER_RE,
        pattern: PROVIDER_PATTERN,
    },
];

fn list_shown(items: &[String]) -> String {
    shown(&format!("[{}]", items.join(", ")))
}

fn member_ok(rule: &MemberRule, v: &str) -> bool {
    let n = v.chars().count();
    (rule.min_len..=rule.max_len).contains(&n)
        && pattern(rule.field, v, rule.re, rule.pattern).is_ok()
}

/// CallbackURLs, LogoutURLs, AllowedOAuthScopes, SupportedIdentityProviders, DefaultRedirectURI
/// and AllowedOAuthFlows against the model (lengths, patterns, list sizes). What they mean for
/// the pool is the domain's to check.
pub(super) fn check_client_members(input: &Value) -> Result<(), WireError> {
    for rule in CLIENT_LISTS {
        let items: Vec<String> = match input.get(rule.member) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => continue,
        };
        if let Some(max) = rule.max_items {
            if items.len() > max {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                    list_shown(&items),
                    rule.field
                )));
            }
        }
        if !items.iter().all(|v| member_ok(rule, v)) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to {}, Member must have length greater than or equal to {}, Member must satisfy regular expression pattern: {}]",
                list_shown(&items),
                rule.field,
                rule.max_len,
                rule.min_len,
                rule.pattern
            )));
        }
    }
    if let Some(Value::String(d)) = input.get("DefaultRedirectURI") {
        validate::length("defaultRedirectURI", d, 1, 1024)?;
        pattern("defaultRedirectURI", d, &REDIRECT_RE, REDIRECT_PATTERN)?;
    }
    if let Some(Value::Array(flows)) = input.get("AllowedOAuthFlows") {
        if flows.len() > 3 {
            let items: Vec<String> = flows
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            return Err(invalid(format!(
                "1 validation error detected: Value '{}' at 'allowedOAuthFlows' failed to satisfy constraint: Member must have length less than or equal to 3",
                list_shown(&items)
            )));
        }
    }
    Ok(())
}

/// AWS leaves empty lists out of a client's description, as if they had never been given.
pub(super) fn is_empty_list(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.is_empty()) || v.is_null()
}

// ---------------------------------------------------------------------------------------------
// Hosted UI customization

/// The model's limit on CSSType and ImageFileType (bytes after base64 decoding).
const MAX_UI_MEMBER: usize = 131_072;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UiIn {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    #[serde(rename = "CSS")]
    css: Option<String>,
    image_file: Option<String>,
}

fn ui_value(pool_id: &str, client_id: &str, ui: Option<&UiCustomization>) -> Value {
    let mut v = Map::new();
    v.insert("UserPoolId".into(), json!(pool_id));
    v.insert("ClientId".into(), json!(client_id));
    if let Some(u) = ui {
        v.insert("ClientId".into(), json!(u.client_id));
        if let Some(l) = &u.logo {
            v.insert("ImageUrl".into(), json!(l.url));
        }
        if let Some(c) = &u.css {
            v.insert("CSS".into(), json!(c));
        }
        if let Some(c) = &u.css_version {
            v.insert("CSSVersion".into(), json!(c));
        }
        v.insert("LastModifiedDate".into(), json!(u.modified));
        v.insert("CreationDate".into(), json!(u.created));
    }
    json!({ "UICustomization": v })
}

fn ui_client(v: &Option<String>) -> Result<Option<String>, WireError> {
    match v {
        Some(_) => Ok(Some(validate::client_id(v)?.to_string())),
        None => Ok(None),
    }
}

pub async fn set_ui_customization(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UiIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?.to_string();
    let client_id = ui_client(&r.client_id)?;
    if let Some(css) = &r.css {
        validate::length("cSS", css, 0, MAX_UI_MEMBER)?;
    }
    let image = match &r.image_file {
        Some(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| {
                    WireError::Serialization(
                        "Unexpected value at 'ImageFile': not a base64-encoded blob".into(),
                    )
                })?;
            if bytes.len() > MAX_UI_MEMBER {
                return Err(invalid(format!(
                    "1 validation error detected: Value at 'imageFile' failed to satisfy constraint: Member must have length less than or equal to {MAX_UI_MEMBER}"
                )));
            }
            Some(bytes)
        }
        None => None,
    };
    let ui = dir
        .set_ui_customization(&pool_id, client_id.as_deref(), r.css, image)
        .await?;
    let shown_client = client_id.as_deref().unwrap_or(ALL_CLIENTS);
    Ok(ui_value(&pool_id, shown_client, ui.as_ref()))
}

pub async fn get_ui_customization(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: UiIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?.to_string();
    let client_id = ui_client(&r.client_id)?;
    let ui = dir
        .get_ui_customization(&pool_id, client_id.as_deref())
        .await?;
    let shown_client = client_id.as_deref().unwrap_or(ALL_CLIENTS);
    Ok(ui_value(&pool_id, shown_client, ui.as_ref()))
}
