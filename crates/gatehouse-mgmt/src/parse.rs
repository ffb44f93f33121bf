//! Request bodies (camelCase JSON) into the domain's inputs. Wrong types are
//! BadRequestException, as AWS answers them.

use std::collections::BTreeMap;

use gatehouse_core::apis::{ApiInput, AuthorizerInput, IntegrationInput, RouteInput, StageInput};
use gatehouse_core::store::apis::{Cors, RouteSettings};
use serde_json::{Map, Value};

use crate::error::WireError;

type R<T = ()> = Result<T, WireError>;

fn bad(member: &str, what: &str) -> WireError {
    WireError::BadRequest(format!(
        "Invalid input for member {member}: expected {what}"
    ))
}

/// The body as a JSON object (an empty body is `{}`).
pub fn object(body: &[u8]) -> R<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(WireError::BadRequest(
            "The request body must be a JSON object".into(),
        )),
        Err(e) => Err(WireError::BadRequest(format!("Invalid JSON body: {e}"))),
    }
}

pub(crate) fn present<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

pub fn string(o: &Map<String, Value>, k: &str) -> R<Option<String>> {
    present(o, k)
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(k, "a string"))
        })
        .transpose()
}

pub(crate) fn boolean(o: &Map<String, Value>, k: &str) -> R<Option<bool>> {
    present(o, k)
        .map(|v| v.as_bool().ok_or_else(|| bad(k, "a boolean")))
        .transpose()
}

pub(crate) fn integer(o: &Map<String, Value>, k: &str) -> R<Option<i64>> {
    present(o, k)
        .map(|v| v.as_i64().ok_or_else(|| bad(k, "an integer")))
        .transpose()
}

fn double(o: &Map<String, Value>, k: &str) -> R<Option<f64>> {
    present(o, k)
        .map(|v| v.as_f64().ok_or_else(|| bad(k, "a number")))
        .transpose()
}

pub(crate) fn strings(o: &Map<String, Value>, k: &str) -> R<Option<Vec<String>>> {
    present(o, k)
        .map(|v| {
            v.as_array()
                .ok_or_else(|| bad(k, "a list of strings"))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(k, "a list of strings"))
                })
                .collect()
        })
        .transpose()
}

pub(crate) fn obj<'a>(o: &'a Map<String, Value>, k: &str) -> R<Option<&'a Map<String, Value>>> {
    present(o, k)
        .map(|v| v.as_object().ok_or_else(|| bad(k, "an object")))
        .transpose()
}

pub(crate) fn string_map(o: &Map<String, Value>, k: &str) -> R<Option<BTreeMap<String, String>>> {
    obj(o, k)?
        .map(|m| {
            m.iter()
                .map(|(key, v)| {
                    v.as_str()
                        .map(|s| (key.clone(), s.to_string()))
                        .ok_or_else(|| bad(k, "a map of strings"))
                })
                .collect()
        })
        .transpose()
}

fn cors(o: &Map<String, Value>) -> R<Option<Cors>> {
    obj(o, "corsConfiguration")?
        .map(|c| {
            Ok(Cors {
                allow_origins: strings(c, "allowOrigins")?.unwrap_or_default(),
                allow_methods: strings(c, "allowMethods")?.unwrap_or_default(),
                allow_headers: strings(c, "allowHeaders")?.unwrap_or_default(),
                expose_headers: strings(c, "exposeHeaders")?.unwrap_or_default(),
                allow_credentials: boolean(c, "allowCredentials")?,
                max_age: integer(c, "maxAge")?,
            })
        })
        .transpose()
}

pub fn api(o: &Map<String, Value>) -> R<ApiInput> {
    Ok(ApiInput {
        name: string(o, "name")?,
        protocol_type: string(o, "protocolType")?,
        description: string(o, "description")?,
        version: string(o, "version")?,
        route_selection_expression: string(o, "routeSelectionExpression")?,
        api_key_selection_expression: string(o, "apiKeySelectionExpression")?,
        cors: cors(o)?,
        disable_execute_api_endpoint: boolean(o, "disableExecuteApiEndpoint")?,
        tags: string_map(o, "tags")?,
        target: string(o, "target")?,
        route_key: string(o, "routeKey")?,
    })
}

pub fn route(o: &Map<String, Value>) -> R<RouteInput> {
    Ok(RouteInput {
        route_key: string(o, "routeKey")?,
        target: string(o, "target")?,
        authorization_type: string(o, "authorizationType")?,
        authorizer_id: string(o, "authorizerId")?,
        authorization_scopes: strings(o, "authorizationScopes")?,
        operation_name: string(o, "operationName")?,
        api_key_required: boolean(o, "apiKeyRequired")?,
        request_parameters: obj(o, "requestParameters")?
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    })
}

pub fn integration(o: &Map<String, Value>) -> R<IntegrationInput> {
    let response_parameters = obj(o, "responseParameters")?
        .map(|m| {
            m.iter()
                .map(|(status, v)| {
                    let inner = v
                        .as_object()
                        .ok_or_else(|| bad("responseParameters", "a map of maps"))?;
                    let inner = inner
                        .iter()
                        .map(|(k, v)| {
                            v.as_str()
                                .map(|s| (k.clone(), s.to_string()))
                                .ok_or_else(|| bad("responseParameters", "a map of maps"))
                        })
                        .collect::<R<BTreeMap<_, _>>>()?;
                    Ok((status.clone(), inner))
                })
                .collect::<R<BTreeMap<_, _>>>()
        })
        .transpose()?;
    Ok(IntegrationInput {
        integration_type: string(o, "integrationType")?,
        integration_uri: string(o, "integrationUri")?,
        integration_method: string(o, "integrationMethod")?,
        payload_format_version: string(o, "payloadFormatVersion")?,
        timeout_in_millis: integer(o, "timeoutInMillis")?,
        connection_type: string(o, "connectionType")?,
        description: string(o, "description")?,
        request_parameters: string_map(o, "requestParameters")?,
        response_parameters,
        tls_config: obj(o, "tlsConfig")?.map(|m| Value::Object(m.clone())),
    })
}

pub fn authorizer(o: &Map<String, Value>) -> R<AuthorizerInput> {
    let jwt = obj(o, "jwtConfiguration")?
        .map(|j| {
            R::Ok((
                strings(j, "audience")?.unwrap_or_default(),
                string(j, "issuer")?,
            ))
        })
        .transpose()?;
    Ok(AuthorizerInput {
        name: string(o, "name")?,
        authorizer_type: string(o, "authorizerType")?,
        identity_source: strings(o, "identitySource")?,
        jwt_configuration: jwt,
    })
}

fn settings(s: &Map<String, Value>) -> R<RouteSettings> {
    Ok(RouteSettings {
        throttling_burst_limit: integer(s, "throttlingBurstLimit")?,
        throttling_rate_limit: double(s, "throttlingRateLimit")?,
        detailed_metrics_enabled: boolean(s, "detailedMetricsEnabled")?,
        logging_level: string(s, "loggingLevel")?,
        data_trace_enabled: boolean(s, "dataTraceEnabled")?,
    })
}

pub fn stage(o: &Map<String, Value>) -> R<StageInput> {
    let route_settings = obj(o, "routeSettings")?
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let s = v
                        .as_object()
                        .ok_or_else(|| bad("routeSettings", "a map of RouteSettings"))?;
                    Ok((k.clone(), settings(s)?))
                })
                .collect::<R<BTreeMap<_, _>>>()
        })
        .transpose()?;
    Ok(StageInput {
        stage_name: string(o, "stageName")?,
        description: string(o, "description")?,
        deployment_id: string(o, "deploymentId")?,
        auto_deploy: boolean(o, "autoDeploy")?,
        default_route_settings: obj(o, "defaultRouteSettings")?.map(settings).transpose()?,
        route_settings,
        stage_variables: string_map(o, "stageVariables")?,
        access_log_settings: obj(o, "accessLogSettings")?
            .map(|a| R::Ok((string(a, "destinationArn")?, string(a, "format")?)))
            .transpose()?,
        tags: string_map(o, "tags")?,
    })
}

/// TagResource's `tags`.
pub fn tags(o: &Map<String, Value>) -> R<BTreeMap<String, String>> {
    Ok(string_map(o, "tags")?.unwrap_or_default())
}
