//! OpenAPI 3 documents in and out: import / reimport read the `x-amazon-apigateway-*`
//! extensions (integration, any-method, cors, authorizer) and `securitySchemes` /
//! `security` into an `ApiDefinition`; export writes an API back the same way. What we do
//! not use is reported as warnings, as AWS does.

use std::collections::BTreeMap;

use gatehouse_core::apis::{
    ApiDefinition, ApiInput, AuthorizerInput, ImportedRoute, IntegrationInput, RouteInput,
};
use gatehouse_core::store::apis::{Authorizer, Cors, HttpApi, Integration};
use serde_json::{json, Map, Value};

use crate::error::WireError;

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";
const INTEGRATION: &str = "x-amazon-apigateway-integration";
const CORS: &str = "x-amazon-apigateway-cors";
const AUTHORIZER: &str = "x-amazon-apigateway-authorizer";

fn bad(msg: impl Into<String>) -> WireError {
    WireError::BadRequest(msg.into())
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn strs(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(one)) => one
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

fn string_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    v.and_then(Value::as_object).map(|m| {
        m.iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect()
    })
}

/// The document (JSON) of an ImportApi / ReimportApi `body`.
pub fn parse(text: &str) -> Result<(ApiDefinition, Vec<String>), WireError> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) if text.trim_start().starts_with('{') => {
            return Err(bad(format!("Invalid OpenAPI definition: {json_err}")))
        }
        Err(_) => {
            let y: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
                bad(format!(
                    "Invalid OpenAPI definition (neither JSON nor YAML): {e}"
                ))
            })?;
            yaml_to_json(y)
        }
    };
    let version = s(&doc, "openapi").unwrap_or_default();
    if !version.starts_with("3.") {
        return Err(bad(
            "Only OpenAPI 3.0 definitions are supported for HTTP APIs (the 'openapi' member is missing or not 3.x)",
        ));
    }
    let mut warnings = Vec::new();
    let info = doc.get("info").cloned().unwrap_or(Value::Null);
    let name = s(&info, "title").ok_or_else(|| bad("info.title is required: it names the API"))?;
    let cors = doc.get(CORS).map(|c| Cors {
        allow_origins: strs(c.get("allowOrigins")),
        allow_methods: strs(c.get("allowMethods")),
        allow_headers: strs(c.get("allowHeaders")),
        expose_headers: strs(c.get("exposeHeaders")),
        allow_credentials: c.get("allowCredentials").and_then(Value::as_bool),
        max_age: c.get("maxAge").and_then(Value::as_i64),
    });
    let mut def = ApiDefinition {
        api: ApiInput {
            name: Some(name),
            description: s(&info, "description"),
            version: s(&info, "version"),
            cors,
            ..ApiInput::default()
        },
        ..ApiDefinition::default()
    };

    if let Some(schemes) = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    {
        for (scheme, body) in schemes {
            let Some(ext) = body.get(AUTHORIZER) else {
                warnings.push(format!(
                    "Security scheme '{scheme}' has no {AUTHORIZER} extension and was ignored"
                ));
                continue;
            };
            let kind = s(ext, "type").unwrap_or_default();
            if !kind.eq_ignore_ascii_case("jwt") {
                return Err(bad(format!(
                    "Security scheme '{scheme}': authorizer type '{kind}' is not supported; use jwt"
                )));
            }
            let jwt = ext.get("jwtConfiguration").cloned().unwrap_or(Value::Null);
            def.authorizers.push(AuthorizerInput {
                name: Some(scheme.clone()),
                authorizer_type: Some("JWT".into()),
                identity_source: Some(strs(ext.get("identitySource"))),
                jwt_configuration: Some((strs(jwt.get("audience")), s(&jwt, "issuer"))),
            });
        }
    }
    let global_security = doc.get("security").cloned();

    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (path, item) in &paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (key, op) in item {
            let method = if key == ANY_METHOD {
                "ANY".to_string()
            } else if METHODS.contains(&key.as_str()) {
                key.to_ascii_uppercase()
            } else {
                if key != "parameters"
                    && key != "summary"
                    && key != "description"
                    && key != "servers"
                {
                    warnings.push(format!(
                        "Unsupported property '{key}' under path {path} was ignored"
                    ));
                }
                continue;
            };
            let is_default = path == "/$default"
                || path == "$default"
                || op.get("isDefaultRoute").and_then(Value::as_bool) == Some(true);
            let route_key = if is_default {
                "$default".to_string()
            } else {
                format!("{method} {path}")
            };
            let mut imported = ImportedRoute {
                route: RouteInput {
                    route_key: Some(route_key),
                    operation_name: s(op, "operationId"),
                    ..RouteInput::default()
                },
                ..ImportedRoute::default()
            };
            if let Some(ext) = op.get(INTEGRATION) {
                def.integrations.push(integration(ext)?);
                imported.integration = Some(def.integrations.len() - 1);
            }
            let security = op.get("security").or(global_security.as_ref());
            if let Some(reqs) = security.and_then(Value::as_array) {
                if let Some((scheme, scopes)) = reqs
                    .iter()
                    .filter_map(Value::as_object)
                    .flat_map(|m| m.iter())
                    .next()
                {
                    imported.authorizer = Some(scheme.clone());
                    let scopes = strs(Some(scopes));
                    if !scopes.is_empty() {
                        imported.route.authorization_scopes = Some(scopes);
                    }
                }
            }
            def.routes.push(imported);
        }
    }
    for key in doc
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if key.starts_with("x-amazon-apigateway-")
            && key != CORS
            && key != "x-amazon-apigateway-importexport-version"
        {
            warnings.push(format!("Unsupported extension '{key}' was ignored"));
        }
    }
    Ok((def, warnings))
}

/// YAML as JSON; keys that are not strings (`200:`) become their text.
pub(crate) fn yaml_to_json(y: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                n.as_f64().map_or(Value::Null, |f| json!(f))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => n.to_string(),
                        other => serde_yaml::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// The document as YAML text.
pub fn to_yaml(doc: &Value) -> Result<String, String> {
    serde_yaml::to_string(doc).map_err(|e| e.to_string())
}

fn integration(ext: &Value) -> Result<IntegrationInput, WireError> {
    let kind = s(ext, "type")
        .ok_or_else(|| bad(format!("{INTEGRATION} needs a type")))?
        .to_ascii_uppercase();
    Ok(IntegrationInput {
        integration_type: Some(kind),
        integration_uri: s(ext, "uri"),
        integration_method: s(ext, "httpMethod"),
        payload_format_version: s(ext, "payloadFormatVersion"),
        timeout_in_millis: ext.get("timeoutInMillis").and_then(Value::as_i64),
        connection_type: s(ext, "connectionType"),
        description: s(ext, "description"),
        request_parameters: string_map(ext.get("requestParameters")),
        response_parameters: ext
            .get("responseParameters")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| string_map(Some(v)).map(|inner| (k.clone(), inner)))
                    .collect()
            }),
        tls_config: ext.get("tlsConfig").cloned(),
    })
}

fn integration_ext(i: &Integration) -> Value {
    let mut m = Map::new();
    m.insert(
        "type".into(),
        json!(i.integration_type.to_ascii_lowercase()),
    );
    if let Some(u) = &i.integration_uri {
        m.insert("uri".into(), json!(u));
    }
    if let Some(h) = &i.integration_method {
        m.insert("httpMethod".into(), json!(h));
    }
    m.insert(
        "payloadFormatVersion".into(),
        json!(i.payload_format_version),
    );
    m.insert("connectionType".into(), json!(i.connection_type));
    m.insert("timeoutInMillis".into(), json!(i.timeout_in_millis));
    if !i.request_parameters.is_empty() {
        m.insert("requestParameters".into(), json!(i.request_parameters));
    }
    if !i.response_parameters.is_empty() {
        m.insert("responseParameters".into(), json!(i.response_parameters));
    }
    if let Some(t) = &i.tls_config {
        m.insert("tlsConfig".into(), t.clone());
    }
    Value::Object(m)
}

fn authorizer_scheme(a: &Authorizer) -> Value {
    json!({
        "type": "oauth2",
        "flows": {},
        AUTHORIZER: {
            "identitySource": a.identity_source.join(","),
            "jwtConfiguration": { "audience": a.jwt_audience, "issuer": a.jwt_issuer },
            "type": "jwt",
        }
    })
}

/// The API as an OpenAPI 3.0 document.
pub fn export(api: &HttpApi, server_url: &str, include_extensions: bool) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for r in &api.routes {
        let (method, path, default_route) = match r.route_key.split_once(' ') {
            Some((m, p)) => (m.to_string(), p.to_string(), false),
            None => ("ANY".to_string(), "/$default".to_string(), true),
        };
        let mut op = Map::new();
        if let Some(o) = &r.operation_name {
            op.insert("operationId".into(), json!(o));
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')))
            .map(|name| {
                json!({
                    "name": name.trim_end_matches('+'),
                    "in": "path",
                    "required": true,
                    "schema": { "type": "string" },
                })
            })
            .collect();
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        op.insert(
            "responses".into(),
            json!({ "default": { "description": format!("Default response for {}", r.route_key) } }),
        );
        if r.authorization_type == "JWT" {
            if let Some(a) = api
                .authorizers
                .iter()
                .find(|a| Some(&a.id) == r.authorizer_id.as_ref())
            {
                op.insert(
                    "security".into(),
                    json!([{ a.name.clone(): r.authorization_scopes }]),
                );
            }
        }
        if include_extensions {
            if default_route {
                op.insert("isDefaultRoute".into(), json!(true));
            }
            let integration = r
                .target
                .as_deref()
                .and_then(|t| t.strip_prefix("integrations/"))
                .and_then(|id| api.integrations.iter().find(|i| i.id == id));
            if let Some(i) = integration {
                op.insert(INTEGRATION.into(), integration_ext(i));
            }
        }
        let key = if method == "ANY" {
            ANY_METHOD.to_string()
        } else {
            method.to_ascii_lowercase()
        };
        paths
            .entry(path)
            .or_default()
            .insert(key, Value::Object(op));
    }
    let mut info = Map::new();
    info.insert("title".into(), json!(api.name));
    info.insert(
        "version".into(),
        json!(api
            .version
            .clone()
            .unwrap_or_else(|| crate::render::date(api.created)
                .as_str()
                .unwrap_or("1.0")
                .to_string())),
    );
    if let Some(d) = &api.description {
        info.insert("description".into(), json!(d));
    }
    let mut doc = Map::new();
    doc.insert("openapi".into(), json!("3.0.1"));
    doc.insert("info".into(), Value::Object(info));
    doc.insert("servers".into(), json!([{ "url": server_url }]));
    doc.insert("paths".into(), json!(paths));
    if !api.authorizers.is_empty() {
        let schemes: Map<String, Value> = api
            .authorizers
            .iter()
            .map(|a| (a.name.clone(), authorizer_scheme(a)))
            .collect();
        doc.insert("components".into(), json!({ "securitySchemes": schemes }));
    }
    if include_extensions {
        if let Some(c) = &api.cors {
            doc.insert(CORS.into(), crate::render::cors(c));
        }
        doc.insert(
            "x-amazon-apigateway-importexport-version".into(),
            json!("1.0"),
        );
    }
    Value::Object(doc)
}
