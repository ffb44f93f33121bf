//! REST API resources as apigateway (v1) JSON: camelCase members, absent when unset, dates as
//! epoch seconds, lists as `{"item": [...], "position": ...}`.

use gatehouse_core::apis::rest::deployments::ApiSummary;
use gatehouse_core::store::rest_apis::{
    IntegrationResponse, Method, MethodResponse, MethodSetting, Resource, RestApi, RestAuthorizer,
    RestDeploymentInfo, RestIntegration, RestStage,
};
use serde_json::{json, Map, Value};

use crate::render::compact;

/// A compacted object with some members kept even when empty.
fn with(mut v: Value, keep: &[(&str, Value)]) -> Value {
    v = compact(v);
    if let Value::Object(m) = &mut v {
        for (k, val) in keep {
            m.insert((*k).to_string(), val.clone());
        }
    }
    v
}

pub fn rest_api(a: &RestApi) -> Value {
    let root = a
        .resources
        .iter()
        .find(|r| r.parent_id.is_none())
        .map(|r| r.id.clone());
    compact(json!({
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "createdDate": a.created,
        "version": a.version,
        "binaryMediaTypes": a.binary_media_types,
        "minimumCompressionSize": a.minimum_compression_size,
        "apiKeySource": a.api_key_source,
        "endpointConfiguration": { "types": a.endpoint_types },
        "policy": a.policy,
        "tags": a.tags,
        "disableExecuteApiEndpoint": a.disable_execute_api_endpoint,
        "rootResourceId": root,
        "apiStatus": "AVAILABLE",
    }))
}

/// Without `embed=methods` a resource lists its methods by name only (`{"GET": {}}`).
pub fn resource(r: &Resource, embed_methods: bool) -> Value {
    let methods: Map<String, Value> = r
        .methods
        .iter()
        .map(|(k, m)| {
            let v = if embed_methods { method(m) } else { json!({}) };
            (k.clone(), v)
        })
        .collect();
    let part = (!r.path_part.is_empty()).then_some(&r.path_part);
    compact(json!({
        "id": r.id,
        "parentId": r.parent_id,
        "pathPart": part,
        "path": r.path,
        "resourceMethods": methods,
    }))
}

pub fn method(m: &Method) -> Value {
    let responses: Map<String, Value> = m
        .method_responses
        .iter()
        .map(|(k, r)| (k.clone(), method_response(r)))
        .collect();
    with(
        json!({
            "httpMethod": m.http_method,
            "authorizationType": m.authorization_type,
            "authorizerId": m.authorizer_id,
            "requestValidatorId": m.request_validator_id,
            "operationName": m.operation_name,
            "requestParameters": m.request_parameters,
            "requestModels": m.request_models,
            "methodResponses": responses,
            "methodIntegration": m.integration.as_ref().map(integration),
            "authorizationScopes": m.authorization_scopes,
        }),
        &[("apiKeyRequired", Value::Bool(m.api_key_required))],
    )
}

pub fn method_response(r: &MethodResponse) -> Value {
    compact(json!({
        "statusCode": r.status_code,
        "responseParameters": r.response_parameters,
        "responseModels": r.response_models,
    }))
}

pub fn integration(i: &RestIntegration) -> Value {
    let responses: Map<String, Value> = i
        .integration_responses
        .iter()
        .map(|(k, r)| (k.clone(), integration_response(r)))
        .collect();
    let connection = (!i.connection_type.is_empty()).then_some(&i.connection_type);
    with(
        json!({
            "type": i.integration_type,
            "httpMethod": i.http_method,
            "uri": i.uri,
            "connectionType": connection,
            "connectionId": i.connection_id,
            "credentials": i.credentials,
            "requestParameters": i.request_parameters,
            "requestTemplates": i.request_templates,
            "passthroughBehavior": i.passthrough_behavior,
            "contentHandling": i.content_handling,
            "timeoutInMillis": i.timeout_in_millis,
            "cacheNamespace": i.cache_namespace,
            "integrationResponses": responses,
            "tlsConfig": i.tls_config,
        }),
        &[("cacheKeyParameters", json!(i.cache_key_parameters))],
    )
}

pub fn integration_response(r: &IntegrationResponse) -> Value {
    let mut v = compact(json!({
        "statusCode": r.status_code,
        "responseParameters": r.response_parameters,
        "responseTemplates": r.response_templates,
        "contentHandling": r.content_handling,
    }));
    // An empty selection pattern is a pattern too (it matches nothing but the default).
    if let (Value::Object(m), Some(p)) = (&mut v, &r.selection_pattern) {
        m.insert("selectionPattern".into(), Value::String(p.clone()));
    }
    v
}

pub fn authorizer(a: &RestAuthorizer) -> Value {
    compact(json!({
        "id": a.id,
        "name": a.name,
        "type": a.authorizer_type,
        "providerARNs": a.provider_arns,
        "authType": a.auth_type,
        "authorizerUri": a.authorizer_uri,
        "authorizerCredentials": a.authorizer_credentials,
        "identitySource": a.identity_source,
        "identityValidationExpression": a.identity_validation_expression,
        "authorizerResultTtlInSeconds": a.authorizer_result_ttl_in_seconds,
    }))
}

pub fn deployment(d: &RestDeploymentInfo, summary: Option<&ApiSummary>) -> Value {
    let summary = summary.map(|s| {
        s.iter()
            .map(|(path, methods)| {
                let m: Map<String, Value> = methods
                    .iter()
                    .map(|(name, (auth, key))| {
                        (
                            name.clone(),
                            json!({ "authorizationType": auth, "apiKeyRequired": key }),
                        )
                    })
                    .collect();
                (path.clone(), Value::Object(m))
            })
            .collect::<Map<String, Value>>()
    });
    compact(json!({
        "id": d.id,
        "description": d.description,
        "createdDate": d.created,
        "apiSummary": summary,
    }))
}

/// A method setting with AWS's defaults where nothing was set: the stage-wide `*/*` values
/// for a per-method setting, else the account's (10 000 requests per second, bursts of 5 000).
fn method_setting(s: &MethodSetting, base: Option<&MethodSetting>) -> Value {
    let b = |f: fn(&MethodSetting) -> Value| base.map(f).filter(|v| !v.is_null());
    let pick = |own: Value, f: fn(&MethodSetting) -> Value, default: Value| {
        if own.is_null() {
            b(f).unwrap_or(default)
        } else {
            own
        }
    };
    json!({
        "metricsEnabled": pick(json!(s.metrics_enabled), |x| json!(x.metrics_enabled), json!(false)),
        "loggingLevel": pick(json!(s.logging_level), |x| json!(x.logging_level), json!("OFF")),
        "dataTraceEnabled": pick(json!(s.data_trace_enabled), |x| json!(x.data_trace_enabled), json!(false)),
        "throttlingBurstLimit": pick(json!(s.throttling_burst_limit), |x| json!(x.throttling_burst_limit), json!(5000)),
        "throttlingRateLimit": pick(json!(s.throttling_rate_limit), |x| json!(x.throttling_rate_limit), json!(10000.0)),
        "cachingEnabled": pick(json!(s.caching_enabled), |x| json!(x.caching_enabled), json!(false)),
        "cacheTtlInSeconds": pick(json!(s.cache_ttl_in_seconds), |x| json!(x.cache_ttl_in_seconds), json!(300)),
        "cacheDataEncrypted": false,
        "requireAuthorizationForCacheControl": true,
        "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER",
    })
}

pub fn stage(s: &RestStage) -> Value {
    let base = s.method_settings.get("*/*");
    let settings: Map<String, Value> = s
        .method_settings
        .iter()
        .map(|(k, v)| {
            let inherit = if k == "*/*" { None } else { base };
            (k.clone(), method_setting(v, inherit))
        })
        .collect();
    let access_log =
        (s.access_log_destination.is_some() || s.access_log_format.is_some()).then(|| {
            compact(json!({
                "destinationArn": s.access_log_destination,
                "format": s.access_log_format,
            }))
        });
    with(
        json!({
            "deploymentId": s.deployment_id,
            "stageName": s.name,
            "description": s.description,
            "cacheClusterSize": s.cache_cluster_size,
            "variables": s.variables,
            "accessLogSettings": access_log,
            "tags": s.tags,
            "createdDate": s.created,
            "lastUpdatedDate": s.last_updated,
        }),
        &[
            ("cacheClusterEnabled", Value::Bool(s.cache_cluster_enabled)),
            ("cacheClusterStatus", json!("NOT_AVAILABLE")),
            ("tracingEnabled", Value::Bool(s.tracing_enabled)),
            ("methodSettings", Value::Object(settings)),
        ],
    )
}

/// `{"item": [...], "position": ...}`.
pub fn page<T>(items: &[T], position: Option<String>, one: impl Fn(&T) -> Value) -> Value {
    let mut m = Map::new();
    m.insert("item".into(), Value::Array(items.iter().map(one).collect()));
    if let Some(p) = position {
        m.insert("position".into(), Value::String(p));
    }
    Value::Object(m)
}
