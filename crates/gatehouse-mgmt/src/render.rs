//! The domain's resources as apigatewayv2 JSON: camelCase members, absent when unset.

use gatehouse_core::store::apis::{
    Authorizer, Cors, DeploymentInfo, HttpApi, Integration, Route, RouteSettings, Stage,
};
use serde_json::{json, Map, Value};

/// ISO 8601, as `__timestampIso8601` members are sent.
pub fn date(secs: i64) -> Value {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// Drops null members, and empty lists and maps, as AWS omits unset members.
pub(crate) fn compact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                })
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

pub fn cors(c: &Cors) -> Value {
    compact(json!({
        "allowOrigins": c.allow_origins,
        "allowMethods": c.allow_methods,
        "allowHeaders": c.allow_headers,
        "exposeHeaders": c.expose_headers,
        "allowCredentials": c.allow_credentials,
        "maxAge": c.max_age,
    }))
}

pub fn api(a: &HttpApi, endpoint: String) -> Value {
    let mut v = compact(json!({
        "apiId": a.id,
        "name": a.name,
        "protocolType": a.protocol_type,
        "apiEndpoint": endpoint,
        "apiKeySelectionExpression": a.api_key_selection_expression,
        "routeSelectionExpression": a.route_selection_expression,
        "createdDate": date(a.created),
        "description": a.description,
        "version": a.version,
        "corsConfiguration": a.cors.as_ref().map(cors),
        "disableExecuteApiEndpoint": a.disable_execute_api_endpoint,
    }));
    // Tags are always present, even when empty, as AWS sends them.
    if let Value::Object(m) = &mut v {
        m.insert("tags".into(), json!(a.tags));
    }
    v
}

pub fn route(r: &Route) -> Value {
    compact(json!({
        "routeId": r.id,
        "routeKey": r.route_key,
        "target": r.target,
        "authorizationType": r.authorization_type,
        "authorizerId": r.authorizer_id,
        "authorizationScopes": r.authorization_scopes,
        "operationName": r.operation_name,
        "apiKeyRequired": r.api_key_required,
        "requestParameters": r.request_parameters,
        "apiGatewayManaged": false,
    }))
}

pub fn integration(i: &Integration) -> Value {
    compact(json!({
        "integrationId": i.id,
        "integrationType": i.integration_type,
        "integrationUri": i.integration_uri,
        "integrationMethod": i.integration_method,
        "payloadFormatVersion": i.payload_format_version,
        "timeoutInMillis": i.timeout_in_millis,
        "connectionType": i.connection_type,
        "description": i.description,
        "requestParameters": i.request_parameters,
        "responseParameters": i.response_parameters,
        "tlsConfig": i.tls_config,
        "apiGatewayManaged": false,
    }))
}

pub fn authorizer(a: &Authorizer) -> Value {
    compact(json!({
        "authorizerId": a.id,
        "name": a.name,
        "authorizerType": a.authorizer_type,
        "identitySource": a.identity_source,
        "jwtConfiguration": compact(json!({
            "audience": a.jwt_audience,
            "issuer": a.jwt_issuer,
        })),
    }))
}

fn settings(s: &RouteSettings) -> Value {
    compact(json!({
        "throttlingBurstLimit": s.throttling_burst_limit,
        "throttlingRateLimit": s.throttling_rate_limit,
        "detailedMetricsEnabled": s.detailed_metrics_enabled,
        "loggingLevel": s.logging_level,
        "dataTraceEnabled": s.data_trace_enabled,
    }))
}

pub fn stage(s: &Stage) -> Value {
    let route_settings: Map<String, Value> = s
        .route_settings
        .iter()
        .map(|(k, v)| (k.clone(), settings(v)))
        .collect();
    let access_log =
        (s.access_log_destination.is_some() || s.access_log_format.is_some()).then(|| {
            compact(json!({
                "destinationArn": s.access_log_destination,
                "format": s.access_log_format,
            }))
        });
    let mut v = compact(json!({
        "stageName": s.name,
        "description": s.description,
        "deploymentId": s.deployment_id,
        "autoDeploy": s.auto_deploy,
        "createdDate": date(s.created),
        "lastUpdatedDate": date(s.last_updated),
        "lastDeploymentStatusMessage": s.last_deployment_status_message,
        "routeSettings": route_settings,
        "stageVariables": s.stage_variables,
        "accessLogSettings": access_log,
        "apiGatewayManaged": false,
    }));
    if let Value::Object(m) = &mut v {
        m.insert(
            "defaultRouteSettings".into(),
            settings(&s.default_route_settings),
        );
        m.insert("tags".into(), json!(s.tags));
    }
    v
}

pub fn deployment(d: &DeploymentInfo) -> Value {
    compact(json!({
        "deploymentId": d.id,
        "description": d.description,
        "createdDate": date(d.created),
        "autoDeployed": d.auto_deployed,
        "deploymentStatus": d.status,
    }))
}

/// `{"items": [...], "nextToken": ...}`.
pub fn page<T>(items: &[T], next: Option<String>, one: impl Fn(&T) -> Value) -> Value {
    let mut m = Map::new();
    m.insert(
        "items".into(),
        Value::Array(items.iter().map(one).collect()),
    );
    if let Some(n) = next {
        m.insert("nextToken".into(), Value::String(n));
    }
    Value::Object(m)
}
