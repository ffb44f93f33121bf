//! The `/v2/domainnames…` operations: custom domain names and their API mappings, parsed,
//! handed to `ApiService` and rendered as apigatewayv2 JSON.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use gatehouse_core::apis::{
    ApiMappingInput, ApiService, DomainNameConfigurationInput, DomainNameInput,
};
use gatehouse_core::store::domains::{ApiMapping, DomainName, DomainNameConfiguration};
use serde_json::{json, Map, Value};

use crate::error::WireError;
use crate::{json, no_content, paging, parse, render, MgmtApi, Reply, Shared};

/// The routes, to be merged under the same admission as the rest of the API.
pub fn routes() -> Router<Arc<MgmtApi>> {
    Router::new()
        .route(
            "/v2/domainnames",
            get(get_domain_names).post(create_domain_name),
        )
        .route(
            "/v2/domainnames/{domain_name}",
            get(get_domain_name)
                .patch(update_domain_name)
                .delete(delete_domain_name),
        )
        .route(
            "/v2/domainnames/{domain_name}/apimappings",
            get(get_api_mappings).post(create_api_mapping),
        )
        .route(
            "/v2/domainnames/{domain_name}/apimappings/{id}",
            get(get_api_mapping)
                .patch(update_api_mapping)
                .delete(delete_api_mapping),
        )
}

// Parsing

fn configuration(c: &Map<String, Value>) -> Result<DomainNameConfigurationInput, WireError> {
    Ok(DomainNameConfigurationInput {
        certificate_arn: parse::string(c, "certificateArn")?,
        certificate_name: parse::string(c, "certificateName")?,
        endpoint_type: parse::string(c, "endpointType")?,
        security_policy: parse::string(c, "securityPolicy")?,
        ip_address_type: parse::string(c, "ipAddressType")?,
        ownership_verification_certificate_arn: parse::string(
            c,
            "ownershipVerificationCertificateArn",
        )?,
    })
}

fn domain_name_input(o: &Map<String, Value>) -> Result<DomainNameInput, WireError> {
    let bad = |what: &str| {
        WireError::BadRequest(format!(
            "Invalid input for member {what}: expected a list of DomainNameConfiguration"
        ))
    };
    let configurations = match o.get("domainNameConfigurations") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|c| {
                    c.as_object()
                        .ok_or_else(|| bad("domainNameConfigurations"))
                        .and_then(configuration)
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(bad("domainNameConfigurations")),
    };
    let mutual_tls = parse::obj(o, "mutualTlsAuthentication")?
        .map(|m| {
            Ok::<_, WireError>((
                parse::string(m, "truststoreUri")?,
                parse::string(m, "truststoreVersion")?,
            ))
        })
        .transpose()?;
    Ok(DomainNameInput {
        domain_name: parse::string(o, "domainName")?,
        configurations,
        mutual_tls,
        routing_mode: parse::string(o, "routingMode")?,
        tags: parse::string_map(o, "tags")?,
    })
}

fn api_mapping_input(o: &Map<String, Value>) -> Result<ApiMappingInput, WireError> {
    Ok(ApiMappingInput {
        api_id: parse::string(o, "apiId")?,
        api_mapping_key: parse::string(o, "apiMappingKey")?,
        stage: parse::string(o, "stage")?,
    })
}

// Rendering

fn configuration_json(c: &DomainNameConfiguration) -> Value {
    render::compact(json!({
        "apiGatewayDomainName": c.api_gateway_domain_name,
        "certificateArn": c.certificate_arn,
        "certificateName": c.certificate_name,
        "certificateUploadDate": c.certificate_upload_date.map(render::date),
        "domainNameStatus": "AVAILABLE",
        "endpointType": c.endpoint_type,
        "hostedZoneId": c.hosted_zone_id,
        "ipAddressType": c.ip_address_type,
        "securityPolicy": c.security_policy,
        "ownershipVerificationCertificateArn": c.ownership_verification_certificate_arn,
    }))
}

fn domain_name_json(apis: &ApiService, d: &DomainName) -> Value {
    let mutual_tls = d.mutual_tls.as_ref().map(|m| {
        render::compact(json!({
            "truststoreUri": m.truststore_uri,
            "truststoreVersion": m.truststore_version,
        }))
    });
    let mut v = render::compact(json!({
        "domainName": d.name,
        "domainNameArn": apis.domain_name_arn(&d.name),
        "apiMappingSelectionExpression": "$request.basepath",
        "domainNameConfigurations": d.configurations.iter().map(configuration_json).collect::<Vec<_>>(),
        "mutualTlsAuthentication": mutual_tls,
        "routingMode": d.routing_mode,
    }));
    // Tags are always present, even when empty, as AWS sends them.
    if let Value::Object(m) = &mut v {
        m.insert("tags".into(), json!(d.tags));
    }
    v
}

fn api_mapping_json(m: &ApiMapping) -> Value {
    render::compact(json!({
        "apiId": m.api_id,
        "apiMappingId": m.id,
        // The root mapping has no key member, as AWS answers it.
        "apiMappingKey": (!m.key.is_empty()).then_some(&m.key),
        "stage": m.stage,
    }))
}

// Handlers

async fn create_domain_name(State(m): Shared, body: Bytes) -> Reply {
    let input = domain_name_input(&parse::object(&body)?)?;
    let d = m.apis.create_domain_name(input).await?;
    json(StatusCode::CREATED, domain_name_json(&m.apis, &d))
}

async fn get_domain_names(State(m): Shared, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m.apis.list_domain_names(max, token).await?;
    json(
        StatusCode::OK,
        render::page(&items, next, |d| domain_name_json(&m.apis, d)),
    )
}

async fn get_domain_name(State(m): Shared, Path(name): Path<String>) -> Reply {
    let d = m.apis.get_domain_name(&name).await?;
    json(StatusCode::OK, domain_name_json(&m.apis, &d))
}

async fn update_domain_name(State(m): Shared, Path(name): Path<String>, body: Bytes) -> Reply {
    let o = parse::object(&body)?;
    if o.contains_key("domainName") {
        return Err(WireError::BadRequest(
            "domainName cannot be changed; create a new domain name".into(),
        ));
    }
    let input = domain_name_input(&o)?;
    let d = m.apis.update_domain_name(&name, input).await?;
    json(StatusCode::OK, domain_name_json(&m.apis, &d))
}

async fn delete_domain_name(State(m): Shared, Path(name): Path<String>) -> Reply {
    m.apis.delete_domain_name(&name).await?;
    no_content()
}

async fn create_api_mapping(State(m): Shared, Path(name): Path<String>, body: Bytes) -> Reply {
    let input = api_mapping_input(&parse::object(&body)?)?;
    let mapping = m.apis.create_api_mapping(&name, input).await?;
    json(StatusCode::CREATED, api_mapping_json(&mapping))
}

async fn get_api_mappings(State(m): Shared, Path(name): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m
        .apis
        .list_api_mappings(&name, max, token.as_deref())
        .await?;
    json(StatusCode::OK, render::page(&items, next, api_mapping_json))
}

async fn get_api_mapping(State(m): Shared, Path((name, id)): Path<(String, String)>) -> Reply {
    let mapping = m.apis.get_api_mapping(&name, &id).await?;
    json(StatusCode::OK, api_mapping_json(&mapping))
}

async fn update_api_mapping(
    State(m): Shared,
    Path((name, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let input = api_mapping_input(&parse::object(&body)?)?;
    let mapping = m.apis.update_api_mapping(&name, &id, input).await?;
    json(StatusCode::OK, api_mapping_json(&mapping))
}

async fn delete_api_mapping(State(m): Shared, Path((name, id)): Path<(String, String)>) -> Reply {
    m.apis.delete_api_mapping(&name, &id).await?;
    no_content()
}
