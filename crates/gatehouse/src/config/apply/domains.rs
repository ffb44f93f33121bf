//! Custom domain names of the gateway and their API mappings (`/v2/domainnames`), after the
//! APIs they map to: rehearsed on the throwaway API service, then created when missing and
//! updated when they differ. Mappings are found by their key; none is ever deleted.

use std::collections::BTreeMap;

use gatehouse_core::apis::{
    ApiError, ApiMappingInput, ApiService, DomainNameConfigurationInput, DomainNameInput,
};
use gatehouse_core::store::domains::{ApiMapping, DomainName};
use serde_json::Value;

use super::{api_problem, Summary};
use crate::config::schema::{child, index};
use crate::config::{list, str_of, ConfigFile, EnvLookup, Problem};

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// CreateDomainName's input from a resolved `domainNames[]` item; `None` members are left
/// as they are by UpdateDomainName.
fn domain_input(d: &Value) -> DomainNameInput {
    let configurations = d.get("domainNameConfigurations").map(|_| {
        list(d, "domainNameConfigurations")
            .iter()
            .map(|c| DomainNameConfigurationInput {
                certificate_arn: opt_str(c, "certificateArn"),
                certificate_name: opt_str(c, "certificateName"),
                endpoint_type: opt_str(c, "endpointType"),
                security_policy: opt_str(c, "securityPolicy"),
                ip_address_type: opt_str(c, "ipAddressType"),
                ownership_verification_certificate_arn: opt_str(
                    c,
                    "ownershipVerificationCertificateArn",
                ),
            })
            .collect()
    });
    let mutual_tls = d
        .get("mutualTlsAuthentication")
        .map(|m| (opt_str(m, "truststoreUri"), opt_str(m, "truststoreVersion")));
    let tags = d.get("tags").and_then(Value::as_object).map(|m| {
        m.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    });
    DomainNameInput {
        domain_name: opt_str(d, "domainName"),
        configurations,
        mutual_tls,
        routing_mode: opt_str(d, "routingMode"),
        tags,
    }
}

fn mapping_input(m: &Value, api_id: &str) -> ApiMappingInput {
    ApiMappingInput {
        api_id: Some(api_id.to_string()),
        api_mapping_key: Some(str_of(m, "apiMappingKey").to_string()),
        stage: opt_str(m, "stage"),
    }
}

/// Creates every declared domain name and mapping on the throwaway service (whose APIs are
/// `api_ids`, by name); every problem collected at its item.
pub(super) async fn rehearse_domain_names(
    file: &ConfigFile,
    apis: &ApiService,
    api_ids: &BTreeMap<String, String>,
    env: &EnvLookup,
    problems: &mut Vec<Problem>,
) {
    for (i, d) in list(&file.doc, "domainNames").iter().enumerate() {
        let at = index("domainNames", i);
        let d = match file.resolve_tree(d, &at, env, None) {
            Ok(d) => d,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        let domain = match apis.create_domain_name(domain_input(&d)).await {
            Ok(domain) => domain,
            Err(e) => {
                problems.push(api_problem(&at, e));
                continue;
            }
        };
        for (j, m) in list(&d, "apiMappings").iter().enumerate() {
            // An API that was refused has its own problem reported.
            let Some(api_id) = api_ids.get(str_of(m, "api")) else {
                continue;
            };
            let input = mapping_input(m, api_id);
            if let Err(e) = apis.create_api_mapping(&domain.name, input).await {
                problems.push(api_problem(&index(&child(&at, "apiMappings"), j), e));
            }
        }
    }
}

/// A domain name's declared settings: not its DNS target, dates or tags.
fn domain_view(d: &DomainName) -> Value {
    let configurations: Vec<Value> = d
        .configurations
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                for k in [
                    "api_gateway_domain_name",
                    "hosted_zone_id",
                    "certificate_upload_date",
                ] {
                    m.remove(k);
                }
            }
            v
        })
        .collect();
    serde_json::json!({
        "configurations": configurations,
        "mutual_tls": d.mutual_tls,
        "routing_mode": d.routing_mode,
    })
}

async fn all_mappings(apis: &ApiService, name: &str) -> Result<Vec<ApiMapping>, ApiError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (page, next) = apis
            .list_api_mappings(name, Some(500), token.as_deref())
            .await?;
        out.extend(page);
        token = next;
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Brings each declared domain name and its mappings in line on the real service, whose APIs
/// are `api_ids` (by name).
pub(super) async fn reconcile_domain_names(
    file: &ConfigFile,
    sandbox: &ApiService,
    real: &ApiService,
    api_ids: &BTreeMap<String, String>,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    for (i, d) in list(&file.doc, "domainNames").iter().enumerate() {
        let at = index("domainNames", i);
        let fail = |e: ApiError| api_problem(&at, e);
        let d = file.resolve_tree(d, &at, env, None)?;
        let input = domain_input(&d);
        let declared = str_of(&d, "domainName");
        let name = match real.get_domain_name(declared).await {
            Err(ApiError::NotFound(_)) => {
                let created = real.create_domain_name(input).await.map_err(fail)?;
                summary.created(format!("domain name {}", created.name));
                created.name
            }
            Err(e) => return Err(fail(e)),
            Ok(have) => {
                let want = sandbox.get_domain_name(declared).await.map_err(fail)?;
                let tags_differ = input
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|(k, v)| have.tags.get(k) != Some(v)));
                if domain_view(&want) != domain_view(&have) || tags_differ {
                    let update = DomainNameInput {
                        domain_name: None,
                        configurations: Some(input.configurations.unwrap_or_default()),
                        ..input
                    };
                    real.update_domain_name(&have.name, update)
                        .await
                        .map_err(fail)?;
                    summary.updated(format!("domain name {}", have.name));
                } else {
                    summary.unchanged += 1;
                }
                have.name
            }
        };
        let existing = all_mappings(real, &name).await.map_err(fail)?;
        for (j, m) in list(&d, "apiMappings").iter().enumerate() {
            let mat = index(&child(&at, "apiMappings"), j);
            let mfail = |e: ApiError| api_problem(&mat, e);
            let api = str_of(m, "api");
            let api_id = api_ids
                .get(api)
                .ok_or_else(|| Problem::new(&mat, format!("API '{api}' was not applied")))?;
            let key = str_of(m, "apiMappingKey");
            let stage = str_of(m, "stage");
            let shown = if key.is_empty() { "(root)" } else { key };
            let what = format!("API mapping {shown} of domain name {name}");
            match existing.iter().find(|x| x.key == key) {
                None => {
                    real.create_api_mapping(&name, mapping_input(m, api_id))
                        .await
                        .map_err(mfail)?;
                    summary.created(what);
                }
                Some(x) if x.api_id != *api_id || x.stage != stage => {
                    real.update_api_mapping(&name, &x.id, mapping_input(m, api_id))
                        .await
                        .map_err(mfail)?;
                    summary.updated(what);
                }
                Some(_) => summary.unchanged += 1,
            }
        }
    }
    Ok(())
}
