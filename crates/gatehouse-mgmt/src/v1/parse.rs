//! v1 request bodies (camelCase JSON) and query strings into the domain's inputs; wrong types
//! are BadRequestException, as AWS answers them.

use std::collections::{BTreeMap, HashMap};

use gatehouse_core::apis::rest::{
    IntegrationResponseInput, MethodInput, MethodResponseInput, PatchKind, PatchOp, RestApiInput,
    RestAuthorizerInput, RestDeploymentInput, RestIntegrationInput, RestPage, RestStageInput,
};
use serde_json::{Map, Value};

use crate::error::WireError;
use crate::parse::{boolean, integer, obj, present, string, string_map, strings};

type R<T = ()> = Result<T, WireError>;

fn bad(member: &str, what: &str) -> WireError {
    WireError::BadRequest(format!(
        "Invalid input for member {member}: expected {what}"
    ))
}

fn bool_map(o: &Map<String, Value>, k: &str) -> R<Option<BTreeMap<String, bool>>> {
    obj(o, k)?
        .map(|m| {
            m.iter()
                .map(|(key, v)| {
                    v.as_bool()
                        .map(|b| (key.clone(), b))
                        .ok_or_else(|| bad(k, "a map of booleans"))
                })
                .collect()
        })
        .transpose()
}

/// `patchOperations`: values are strings on the wire; numbers and booleans are taken as their
/// text, as some SDKs send them.
pub fn patch_operations(o: &Map<String, Value>) -> R<Vec<PatchOp>> {
    let Some(list) = present(o, "patchOperations") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("patchOperations", "a list of patch operations"))?;
    let text = |v: Option<&Value>, member: &str| -> R<Option<String>> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(bad(member, "a string")),
        }
    };
    list.iter()
        .map(|item| {
            let m = item
                .as_object()
                .ok_or_else(|| bad("patchOperations", "a list of patch operations"))?;
            let op = text(m.get("op"), "op")?.ok_or_else(|| {
                WireError::BadRequest("Invalid patch operation: op is required".into())
            })?;
            let path = text(m.get("path"), "path")?.ok_or_else(|| {
                WireError::BadRequest("Invalid patch operation: path is required".into())
            })?;
            Ok(PatchOp {
                op: PatchKind::parse(&op)?,
                path,
                value: text(m.get("value"), "value")?,
                from: text(m.get("from"), "from")?,
            })
        })
        .collect()
}

/// `limit` and `position` of a list call.
pub fn page(q: &HashMap<String, String>) -> R<RestPage> {
    let limit = q
        .get("limit")
        .map(|l| {
            l.parse::<i64>()
                .map_err(|_| WireError::BadRequest(format!("Invalid limit specified: {l}")))
        })
        .transpose()?;
    Ok(RestPage {
        limit,
        position: q.get("position").cloned(),
    })
}

/// Whether `embed` (comma-separated, possibly repeated) names `what`.
pub fn embeds(pairs: &[(String, String)], what: &str) -> bool {
    pairs
        .iter()
        .filter(|(k, _)| k == "embed")
        .flat_map(|(_, v)| v.split(','))
        .any(|v| v.trim() == what)
}

pub fn rest_api(o: &Map<String, Value>) -> R<RestApiInput> {
    let endpoint_types = obj(o, "endpointConfiguration")?
        .map(|e| strings(e, "types"))
        .transpose()?
        .flatten();
    Ok(RestApiInput {
        name: string(o, "name")?,
        description: string(o, "description")?,
        version: string(o, "version")?,
        clone_from: string(o, "cloneFrom")?,
        binary_media_types: strings(o, "binaryMediaTypes")?,
        minimum_compression_size: integer(o, "minimumCompressionSize")?,
        api_key_source: string(o, "apiKeySource")?,
        endpoint_types,
        policy: string(o, "policy")?,
        tags: string_map(o, "tags")?,
        disable_execute_api_endpoint: boolean(o, "disableExecuteApiEndpoint")?,
    })
}

pub fn method(o: &Map<String, Value>) -> R<MethodInput> {
    Ok(MethodInput {
        authorization_type: string(o, "authorizationType")?,
        authorizer_id: string(o, "authorizerId")?,
        api_key_required: boolean(o, "apiKeyRequired")?,
        operation_name: string(o, "operationName")?,
        request_parameters: bool_map(o, "requestParameters")?,
        request_models: string_map(o, "requestModels")?,
        request_validator_id: string(o, "requestValidatorId")?,
        authorization_scopes: strings(o, "authorizationScopes")?,
    })
}

pub fn method_response(o: &Map<String, Value>) -> R<MethodResponseInput> {
    Ok(MethodResponseInput {
        response_parameters: bool_map(o, "responseParameters")?,
        response_models: string_map(o, "responseModels")?,
    })
}

pub fn integration(o: &Map<String, Value>) -> R<RestIntegrationInput> {
    Ok(RestIntegrationInput {
        integration_type: string(o, "type")?,
        http_method: string(o, "httpMethod")?,
        uri: string(o, "uri")?,
        connection_type: string(o, "connectionType")?,
        connection_id: string(o, "connectionId")?,
        credentials: string(o, "credentials")?,
        request_parameters: string_map(o, "requestParameters")?,
        request_templates: string_map(o, "requestTemplates")?,
        passthrough_behavior: string(o, "passthroughBehavior")?,
        cache_namespace: string(o, "cacheNamespace")?,
        cache_key_parameters: strings(o, "cacheKeyParameters")?,
        content_handling: string(o, "contentHandling")?,
        timeout_in_millis: integer(o, "timeoutInMillis")?,
        tls_config: obj(o, "tlsConfig")?.map(|m| Value::Object(m.clone())),
    })
}

pub fn integration_response(o: &Map<String, Value>) -> R<IntegrationResponseInput> {
    Ok(IntegrationResponseInput {
        selection_pattern: string(o, "selectionPattern")?,
        response_parameters: string_map(o, "responseParameters")?,
        response_templates: string_map(o, "responseTemplates")?,
        content_handling: string(o, "contentHandling")?,
    })
}

pub fn authorizer(o: &Map<String, Value>) -> R<RestAuthorizerInput> {
    Ok(RestAuthorizerInput {
        name: string(o, "name")?,
        authorizer_type: string(o, "type")?,
        provider_arns: strings(o, "providerARNs")?,
        auth_type: string(o, "authType")?,
        authorizer_uri: string(o, "authorizerUri")?,
        authorizer_credentials: string(o, "authorizerCredentials")?,
        identity_source: string(o, "identitySource")?,
        identity_validation_expression: string(o, "identityValidationExpression")?,
        authorizer_result_ttl_in_seconds: integer(o, "authorizerResultTtlInSeconds")?,
    })
}

pub fn deployment(o: &Map<String, Value>) -> R<RestDeploymentInput> {
    if present(o, "canarySettings").is_some() {
        return Err(WireError::BadRequest(
            "Canary deployments (canarySettings) are not supported by Gatehouse".into(),
        ));
    }
    Ok(RestDeploymentInput {
        description: string(o, "description")?,
        stage_name: string(o, "stageName")?,
        stage_description: string(o, "stageDescription")?,
        cache_cluster_enabled: boolean(o, "cacheClusterEnabled")?,
        cache_cluster_size: string(o, "cacheClusterSize")?,
        variables: string_map(o, "variables")?,
        tracing_enabled: boolean(o, "tracingEnabled")?,
    })
}

pub fn stage(o: &Map<String, Value>) -> R<RestStageInput> {
    if present(o, "canarySettings").is_some() {
        return Err(WireError::BadRequest(
            "Canary deployments (canarySettings) are not supported by Gatehouse".into(),
        ));
    }
    Ok(RestStageInput {
        stage_name: string(o, "stageName")?,
        deployment_id: string(o, "deploymentId")?,
        description: string(o, "description")?,
        cache_cluster_enabled: boolean(o, "cacheClusterEnabled")?,
        cache_cluster_size: string(o, "cacheClusterSize")?,
        variables: string_map(o, "variables")?,
        tracing_enabled: boolean(o, "tracingEnabled")?,
        tags: string_map(o, "tags")?,
    })
}
