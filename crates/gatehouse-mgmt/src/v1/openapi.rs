//! OpenAPI 2.0 (Swagger) and 3.0 documents for REST APIs: read into a `RestApiDefinition`
//! for ImportRestApi / PutRestApi, with the `x-amazon-apigateway-integration`,
//! `x-amazon-apigateway-any-method`, `x-amazon-apigateway-authorizer` /
//! `x-amazon-apigateway-authtype` (on `apiKey` security schemes), binary media type and API key
//! source extensions; and written back from a stage's deployment for GetExport. What Gatehouse
//! does not take is reported as warnings.

use std::collections::BTreeMap;

use gatehouse_core::apis::rest::{
    IntegrationResponseInput, MethodInput, MethodResponseInput, RestApiDefinition,
    RestAuthorizerInput, RestIntegrationInput, RestMethodDefinition,
};
use gatehouse_core::store::rest_apis::{Method, RestApi, RestAuthorizer, RestDeploymentSnapshot};
use serde_json::{json, Map, Value};

use crate::error::WireError;

const INTEGRATION: &str = "x-amazon-apigateway-integration";
const AUTHORIZER: &str = "x-amazon-apigateway-authorizer";
const AUTHTYPE: &str = "x-amazon-apigateway-authtype";
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";
const BINARY: &str = "x-amazon-apigateway-binary-media-types";
const KEY_SOURCE: &str = "x-amazon-apigateway-api-key-source";
const COMPRESSION: &str = "x-amazon-apigateway-minimum-compression-size";
const VERBS: [&str; 7] = ["get", "put", "post", "delete", "patch", "options", "head"];

fn bad(msg: impl Into<String>) -> WireError {
    WireError::BadRequest(msg.into())
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn strs(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

fn string_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    v.and_then(Value::as_object).map(|m| {
        m.iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    })
}

/// JSON or YAML.
fn load(text: &str) -> Result<Value, WireError> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(e) if text.trim_start().starts_with('{') => {
            Err(bad(format!("Invalid OpenAPI input: {e}")))
        }
        Err(_) => serde_yaml::from_str::<serde_yaml::Value>(text)
            .map(crate::openapi::yaml_to_json)
            .map_err(|e| {
                bad(format!(
                    "Invalid OpenAPI input (neither JSON nor YAML): {e}"
                ))
            }),
    }
}

/// What a security scheme does to the methods that name it.
enum Scheme {
    /// A Cognito or Lambda authorizer of this name.
    Authorizer {
        cognito: bool,
    },
    ApiKey,
    Iam,
}

fn authorizer_of(
    name: &str,
    scheme: &Value,
    warnings: &mut Vec<String>,
) -> Option<(RestAuthorizerInput, bool)> {
    let ext = scheme.get(AUTHORIZER)?;
    let header = s(scheme, "name").unwrap_or_else(|| "Authorization".into());
    let kind = s(ext, "type").unwrap_or_default().to_ascii_lowercase();
    let authorizer_type = match kind.as_str() {
        "cognito_user_pools" => "COGNITO_USER_POOLS",
        "token" => "TOKEN",
        "request" => "REQUEST",
        other => {
            warnings.push(format!(
                "Security scheme {name}: authorizer type '{other}' is not supported for REST APIs; ignored"
            ));
            return None;
        }
    };
    let identity_source = s(ext, "identitySource").or_else(|| {
        (authorizer_type != "REQUEST").then(|| format!("method.request.header.{header}"))
    });
    Some((
        RestAuthorizerInput {
            name: Some(name.to_string()),
            authorizer_type: Some(authorizer_type.into()),
            provider_arns: strs(ext.get("providerARNs")),
            auth_type: s(scheme, AUTHTYPE),
            authorizer_uri: s(ext, "authorizerUri"),
            authorizer_credentials: s(ext, "authorizerCredentials"),
            identity_source,
            identity_validation_expression: s(ext, "identityValidationExpression"),
            authorizer_result_ttl_in_seconds: ext
                .get("authorizerResultTtlInSeconds")
                .and_then(Value::as_i64),
        },
        authorizer_type == "COGNITO_USER_POOLS",
    ))
}

fn integration_of(
    ext: &Value,
) -> (
    RestIntegrationInput,
    Vec<(String, IntegrationResponseInput)>,
) {
    let input = RestIntegrationInput {
        integration_type: s(ext, "type").map(|t| t.to_ascii_uppercase()),
        http_method: s(ext, "httpMethod").map(|m| m.to_ascii_uppercase()),
        uri: s(ext, "uri"),
        connection_type: s(ext, "connectionType"),
        connection_id: s(ext, "connectionId"),
        credentials: s(ext, "credentials"),
        request_parameters: string_map(ext.get("requestParameters")),
        request_templates: string_map(ext.get("requestTemplates")),
        passthrough_behavior: s(ext, "passthroughBehavior").map(|p| p.to_ascii_uppercase()),
        cache_namespace: s(ext, "cacheNamespace"),
        cache_key_parameters: strs(ext.get("cacheKeyParameters")),
        content_handling: s(ext, "contentHandling"),
        timeout_in_millis: ext.get("timeoutInMillis").and_then(Value::as_i64),
        tls_config: ext.get("tlsConfig").cloned(),
    };
    let mut responses = Vec::new();
    if let Some(m) = ext.get("responses").and_then(Value::as_object) {
        for (pattern, r) in m {
            let code = s(r, "statusCode").unwrap_or_else(|| "200".into());
            responses.push((
                code,
                IntegrationResponseInput {
                    selection_pattern: (pattern != "default").then(|| pattern.clone()),
                    response_parameters: string_map(r.get("responseParameters")),
                    response_templates: string_map(r.get("responseTemplates")),
                    content_handling: s(r, "contentHandling"),
                },
            ));
        }
    }
    (input, responses)
}

/// `method.request.{path|querystring|header}.{name}` from OpenAPI parameters.
fn parameters(list: &[&Value], warnings: &mut Vec<String>, at: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for p in list {
        if p.get("$ref").is_some() {
            warnings.push(format!(
                "{at}: parameter references ($ref) are not resolved; ignored"
            ));
            continue;
        }
        let (Some(name), Some(loc)) = (s(p, "name"), s(p, "in")) else {
            continue;
        };
        let loc = match loc.as_str() {
            "path" => "path",
            "query" => "querystring",
            "header" => "header",
            other => {
                warnings.push(format!(
                    "{at}: parameters in '{other}' are not mapped; ignored"
                ));
                continue;
            }
        };
        let required = p
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(loc == "path");
        out.insert(format!("method.request.{loc}.{name}"), required);
    }
    out
}

/// Reads an OpenAPI 2.0 or 3.0 document.
pub fn parse(text: &str) -> Result<(RestApiDefinition, Vec<String>), WireError> {
    let doc = load(text)?;
    let swagger = s(&doc, "swagger").is_some_and(|v| v == "2.0");
    let oas3 = s(&doc, "openapi").is_some_and(|v| v.starts_with("3."));
    if !swagger && !oas3 {
        return Err(bad(
            "Invalid OpenAPI input: the definition must be OpenAPI 2.0 ('swagger': '2.0') or 3.0 ('openapi': '3.0.x')",
        ));
    }
    let mut warnings = Vec::new();
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    let mut def = RestApiDefinition {
        title: s(&info, "title"),
        description: s(&info, "description"),
        version: s(&info, "version"),
        binary_media_types: strs(doc.get(BINARY)).unwrap_or_default(),
        api_key_source: s(&doc, KEY_SOURCE),
        minimum_compression_size: doc.get(COMPRESSION).and_then(Value::as_i64),
        ..RestApiDefinition::default()
    };
    for ext in [
        "x-amazon-apigateway-request-validators",
        "x-amazon-apigateway-gateway-responses",
        "x-amazon-apigateway-documentation",
        "x-amazon-apigateway-policy",
    ] {
        if doc.get(ext).is_some() {
            warnings.push(format!("{ext} is not supported by Gatehouse; ignored"));
        }
    }
    let schemes = if swagger {
        doc.get("securityDefinitions")
    } else {
        doc.get("components").and_then(|c| c.get("securitySchemes"))
    };
    let mut by_name: BTreeMap<String, Scheme> = BTreeMap::new();
    for (name, scheme) in schemes.and_then(Value::as_object).into_iter().flatten() {
        if let Some((a, cognito)) = authorizer_of(name, scheme, &mut warnings) {
            def.authorizers.push(a);
            by_name.insert(name.clone(), Scheme::Authorizer { cognito });
        } else if s(scheme, AUTHTYPE).is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4")) {
            by_name.insert(name.clone(), Scheme::Iam);
        } else if s(scheme, "type").as_deref() == Some("apiKey")
            && s(scheme, "in").as_deref() == Some("header")
            && s(scheme, "name").is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"))
        {
            by_name.insert(name.clone(), Scheme::ApiKey);
        } else if scheme.get(AUTHORIZER).is_none() {
            warnings.push(format!(
                "Security scheme {name} is neither an API key, IAM nor an x-amazon-apigateway-authorizer; ignored"
            ));
        }
    }
    let global_security = doc.get("security").and_then(Value::as_array).cloned();
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if !path.starts_with('/') {
            return Err(bad(format!(
                "Invalid OpenAPI input: path {path} must start with '/'"
            )));
        }
        let shared: Vec<&Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let mut methods = Vec::new();
        for (key, op) in item.as_object().into_iter().flatten() {
            let verb = if key == ANY_METHOD {
                "ANY".to_string()
            } else if VERBS.contains(&key.as_str()) {
                key.to_ascii_uppercase()
            } else {
                continue;
            };
            let at = format!("{verb} {path}");
            let mut plist = shared.clone();
            plist.extend(
                op.get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
            let mut method = MethodInput {
                authorization_type: Some("NONE".into()),
                operation_name: s(op, "operationId"),
                request_parameters: Some(parameters(&plist, &mut warnings, &at)),
                ..MethodInput::default()
            };
            let security = op
                .get("security")
                .and_then(Value::as_array)
                .cloned()
                .or_else(|| global_security.clone())
                .unwrap_or_default();
            // API Gateway applies every requirement listed (an authorizer and `api_key`
            // are usually two entries), not OpenAPI's either-or.
            for req in security.iter().filter_map(Value::as_object) {
                for (scheme, scopes) in req {
                    match by_name.get(scheme) {
                        Some(Scheme::Authorizer { cognito }) => {
                            method.authorization_type = Some(
                                if *cognito {
                                    "COGNITO_USER_POOLS"
                                } else {
                                    "CUSTOM"
                                }
                                .into(),
                            );
                            method.authorizer_id = Some(scheme.clone());
                            let scopes = strs(Some(scopes)).unwrap_or_default();
                            if *cognito && !scopes.is_empty() {
                                method.authorization_scopes = Some(scopes);
                            }
                        }
                        Some(Scheme::ApiKey) => method.api_key_required = Some(true),
                        Some(Scheme::Iam) => method.authorization_type = Some("AWS_IAM".into()),
                        None => warnings
                            .push(format!("{at}: unknown security scheme {scheme}; ignored")),
                    }
                }
            }
            let mut responses = Vec::new();
            for (code, r) in op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if code.len() != 3 || !code.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                let headers: BTreeMap<String, bool> = r
                    .get("headers")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(h, _)| (format!("method.response.header.{h}"), false))
                    .collect();
                responses.push((
                    code.clone(),
                    MethodResponseInput {
                        response_parameters: Some(headers),
                        response_models: None,
                    },
                ));
            }
            let (integration, integration_responses) = match op.get(INTEGRATION) {
                Some(ext) => {
                    let (i, r) = integration_of(ext);
                    (Some(i), r)
                }
                None => {
                    warnings.push(format!(
                        "{at} has no {INTEGRATION}; it cannot be deployed until it has one"
                    ));
                    (None, Vec::new())
                }
            };
            methods.push(RestMethodDefinition {
                http_method: verb,
                method,
                responses,
                integration,
                integration_responses,
            });
        }
        def.paths.push((path.clone(), methods));
    }
    Ok((def, warnings))
}

fn parameter_doc(key: &str, required: bool, oas3: bool) -> Option<Value> {
    let rest = key.strip_prefix("method.request.")?;
    let (loc, name) = rest.split_once('.')?;
    let loc = match loc {
        "path" => "path",
        "querystring" => "query",
        "header" => "header",
        _ => return None,
    };
    Some(if oas3 {
        json!({ "name": name, "in": loc, "required": required || loc == "path", "schema": { "type": "string" } })
    } else {
        json!({ "name": name, "in": loc, "required": required || loc == "path", "type": "string" })
    })
}

fn integration_doc(m: &Method) -> Option<Value> {
    let i = m.integration.as_ref()?;
    let responses: Map<String, Value> = i
        .integration_responses
        .values()
        .map(|r| {
            let key = r
                .selection_pattern
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "default".into());
            let v = crate::render::compact(json!({
                "statusCode": r.status_code,
                "responseParameters": r.response_parameters,
                "responseTemplates": r.response_templates,
                "contentHandling": r.content_handling,
            }));
            (key, v)
        })
        .collect();
    let connection = (!i.connection_type.is_empty()).then_some(&i.connection_type);
    Some(crate::render::compact(json!({
        "type": i.integration_type.to_ascii_lowercase(),
        "httpMethod": i.http_method,
        "uri": i.uri,
        "connectionType": connection,
        "credentials": i.credentials,
        "requestParameters": i.request_parameters,
        "requestTemplates": i.request_templates,
        "passthroughBehavior": i.passthrough_behavior.as_ref().map(|p| p.to_ascii_lowercase()),
        "contentHandling": i.content_handling,
        "timeoutInMillis": i.timeout_in_millis,
        "cacheNamespace": i.cache_namespace,
        "cacheKeyParameters": i.cache_key_parameters,
        "responses": responses,
    })))
}

fn scheme_doc(a: &RestAuthorizer, with_authorizer: bool) -> Value {
    let header = a
        .identity_source
        .as_deref()
        .and_then(|s| s.strip_prefix("method.request.header."))
        .filter(|h| !h.contains(','))
        .unwrap_or("Authorization");
    let cognito = a.authorizer_type == "COGNITO_USER_POOLS";
    let mut v = json!({
        "type": "apiKey",
        "name": header,
        "in": "header",
        AUTHTYPE: if cognito { "cognito_user_pools" } else { "custom" },
    });
    if with_authorizer {
        let ext = crate::render::compact(json!({
            "type": a.authorizer_type.to_ascii_lowercase(),
            "providerARNs": a.provider_arns,
            "authorizerUri": a.authorizer_uri,
            "authorizerCredentials": a.authorizer_credentials,
            "identitySource": (!cognito && a.authorizer_type == "REQUEST").then(|| a.identity_source.clone()).flatten(),
            "identityValidationExpression": a.identity_validation_expression,
            "authorizerResultTtlInSeconds": a.authorizer_result_ttl_in_seconds,
        }));
        if let Value::Object(m) = &mut v {
            m.insert(AUTHORIZER.into(), ext);
        }
    }
    v
}

/// What to export: the OpenAPI version and which extensions.
pub struct ExportOptions {
    pub oas3: bool,
    pub integrations: bool,
    pub authorizers: bool,
}

/// The stage's deployment as an OpenAPI document. `base_url` is the stage's invoke URL
/// without the stage (`http://{id}.execute-api.localhost:8080`).
pub fn export(
    api: &RestApi,
    snap: &RestDeploymentSnapshot,
    stage: &str,
    base_url: &str,
    o: &ExportOptions,
) -> Value {
    let mut paths = Map::new();
    let mut used: BTreeMap<String, Value> = BTreeMap::new();
    for r in &snap.resources {
        if r.methods.is_empty() {
            continue;
        }
        let mut item = Map::new();
        for (verb, m) in &r.methods {
            let key = if verb == "ANY" {
                ANY_METHOD.to_string()
            } else {
                verb.to_ascii_lowercase()
            };
            let params: Vec<Value> = m
                .request_parameters
                .iter()
                .filter_map(|(k, req)| parameter_doc(k, *req, o.oas3))
                .collect();
            let mut responses = Map::new();
            for (code, mr) in &m.method_responses {
                let headers: Map<String, Value> = mr
                    .response_parameters
                    .keys()
                    .filter_map(|k| k.strip_prefix("method.response.header."))
                    .map(|h| {
                        let v = if o.oas3 {
                            json!({ "schema": { "type": "string" } })
                        } else {
                            json!({ "type": "string" })
                        };
                        (h.to_string(), v)
                    })
                    .collect();
                let mut resp = json!({ "description": format!("{code} response") });
                if !headers.is_empty() {
                    resp["headers"] = Value::Object(headers);
                }
                responses.insert(code.clone(), resp);
            }
            let mut security = Map::new();
            if let Some(a) = m
                .authorizer_id
                .as_deref()
                .and_then(|id| snap.authorizers.iter().find(|a| a.id == id))
            {
                security.insert(a.name.clone(), json!(m.authorization_scopes));
                used.insert(a.name.clone(), scheme_doc(a, o.authorizers));
            }
            if m.authorization_type == "AWS_IAM" {
                security.insert("sigv4".into(), json!([]));
                used.insert(
                    "sigv4".into(),
                    json!({ "type": "apiKey", "name": "Authorization", "in": "header", AUTHTYPE: "awsSigv4" }),
                );
            }
            if m.api_key_required {
                security.insert("api_key".into(), json!([]));
                used.insert(
                    "api_key".into(),
                    json!({ "type": "apiKey", "name": "x-api-key", "in": "header" }),
                );
            }
            let mut op = crate::render::compact(json!({
                "operationId": m.operation_name,
                "parameters": params,
                "security": security
                    .into_iter()
                    .map(|(k, v)| json!({ k: v }))
                    .collect::<Vec<_>>(),
            }));
            op["responses"] = Value::Object(responses);
            if o.integrations {
                if let Some(i) = integration_doc(m) {
                    op[INTEGRATION] = i;
                }
            }
            item.insert(key, op);
        }
        paths.insert(r.path.clone(), Value::Object(item));
    }
    let version = api.version.clone().unwrap_or_else(|| {
        crate::render::date(api.created)
            .as_str()
            .map(str::to_string)
            .unwrap_or_default()
    });
    let mut doc = if o.oas3 {
        json!({
            "openapi": "3.0.1",
            "info": { "title": api.name, "version": version },
            "servers": [{ "url": format!("{base_url}/{{basePath}}"), "variables": { "basePath": { "default": stage } } }],
            "paths": paths,
        })
    } else {
        let (scheme, host) = base_url.split_once("://").unwrap_or(("http", base_url));
        json!({
            "swagger": "2.0",
            "info": { "title": api.name, "version": version },
            "host": host,
            "basePath": format!("/{stage}"),
            "schemes": [scheme],
            "paths": paths,
        })
    };
    if let Some(d) = &api.description {
        doc["info"]["description"] = json!(d);
    }
    if !used.is_empty() {
        let schemes = Value::Object(used.into_iter().collect());
        if o.oas3 {
            doc["components"] = json!({ "securitySchemes": schemes });
        } else {
            doc["securityDefinitions"] = schemes;
        }
    }
    if !snap.binary_media_types.is_empty() {
        doc[BINARY] = json!(snap.binary_media_types);
    }
    doc
}
