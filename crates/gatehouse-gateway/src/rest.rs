//! REST APIs (API Gateway v1) on the shared data plane. A deployed stage's resource tree
//! compiles into the same route trie and `CompiledStage` as an HTTP API's routes: each
//! resource path and method is a route (`GET /pets/{id}`, `ANY /{proxy+}`), carrying a
//! `RestMethod` for what REST methods add (the authorizer kind, `apiKeyRequired`, MOCK
//! integrations). HTTP_PROXY and AWS_PROXY integrations become the routes' ordinary
//! integrations and run through proxy.rs and lambda.rs; this module adds what REST APIs send
//! differently (the payload 1.0 event as REST APIs shape it, claims rendered as they render
//! them, request ids) and answers MOCK integrations.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use gatehouse_core::apis::rest::DeployedRestStage;
use gatehouse_store::apis::{Integration, RouteSettings};
use gatehouse_store::rest_apis::{MethodSetting, Resource, RestIntegration};
use http::{header, HeaderName, HeaderValue, StatusCode};
use rand::RngCore;
use regex::Regex;
use serde_json::{json, Map, Value};

use crate::cognito::CognitoAuthorizer;
use crate::error::Reject;
use crate::router::RouteTable;
use crate::snapshot::{CompiledRoute, CompiledStage};

/// API Gateway REST APIs' default (and largest) integration timeout.
pub const DEFAULT_TIMEOUT_MS: i64 = 29_000;

/// What a REST API method adds to its compiled route.
#[derive(Debug)]
pub struct RestMethod {
    pub resource_id: String,
    /// The resource's path with its templates (`/pets/{petId}`): `resource` and
    /// `$context.resourcePath`.
    pub resource_path: String,
    /// The method as declared (`GET`, `ANY`).
    pub http_method: String,
    pub auth: RestAuth,
    /// With scopes, a Cognito authorizer wants an access token holding one of them.
    pub scopes: Vec<String>,
    pub api_key_required: bool,
    /// `integrationType`, upper case.
    pub integration_type: String,
    pub mock: Option<MockIntegration>,
}

/// How a method is authorized.
#[derive(Debug)]
pub enum RestAuth {
    None,
    Cognito(Arc<CognitoAuthorizer>),
    /// AWS_IAM: SigV4-signed calls are not verified on the data plane yet; refused.
    Iam,
    /// CUSTOM (Lambda authorizers) and anything else: refused (fail closed).
    Unsupported(String),
}

/// `/pets/{id}` as a method-settings key path: `~1pets~1{id}`.
fn settings_path(resource_path: &str) -> String {
    resource_path.replace('/', "~1")
}

/// The method's throttling: `*/*`, overridden by `{path}/*`, overridden by `{path}/{METHOD}`.
fn method_settings(
    settings: &BTreeMap<String, MethodSetting>,
    resource_path: &str,
    method: &str,
) -> RouteSettings {
    let path = settings_path(resource_path);
    let mut out = RouteSettings::default();
    for key in [
        "*/*".to_string(),
        format!("{path}/*"),
        format!("{path}/{method}"),
    ] {
        if let Some(s) = settings.get(&key) {
            if s.throttling_burst_limit.is_some() {
                out.throttling_burst_limit = s.throttling_burst_limit;
            }
            if s.throttling_rate_limit.is_some() {
                out.throttling_rate_limit = s.throttling_rate_limit;
            }
        }
    }
    out
}

/// A method request source (`method.request.header.X`, `'literal'`, `context.x`,
/// `stageVariables.x`) as a parameter-mapping expression of mapping.rs.
fn mapping_expression(source: &str) -> Option<String> {
    let source = source.trim();
    if let Some(lit) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(lit.to_string());
    }
    for (from, to) in [
        ("method.request.header.", "$request.header."),
        ("method.request.multivalueheader.", "$request.header."),
        ("method.request.querystring.", "$request.querystring."),
        (
            "method.request.multivaluequerystring.",
            "$request.querystring.",
        ),
        ("method.request.path.", "$request.path."),
        ("context.", "$context."),
        ("stageVariables.", "$stageVariables."),
    ] {
        if let Some(name) = source.strip_prefix(from) {
            return Some(format!("{to}{name}"));
        }
    }
    None
}

/// An HTTP_PROXY integration's URI with its `integration.request.path.x` mappings applied
/// (`{x}` becomes the method parameter it maps from, or the literal), so proxy.rs fills it.
fn mapped_uri(uri: &str, params: &BTreeMap<String, String>) -> String {
    let mut uri = uri.to_string();
    for (target, source) in params {
        let Some(name) = target.strip_prefix("integration.request.path.") else {
            continue;
        };
        let source = source.trim();
        let with = if let Some(from) = source.strip_prefix("method.request.path.") {
            format!("{{{from}}}")
        } else if let Some(lit) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            percent_encoding::utf8_percent_encode(lit, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        } else {
            continue;
        };
        for pattern in [format!("{{{name}}}"), format!("{{{name}+}}")] {
            uri = uri.replace(&pattern, &with);
        }
    }
    uri
}

/// The integration as the shared pipeline runs it: HTTP_PROXY (with its header and query
/// string mappings as mapping.rs expressions) and AWS_PROXY (payload 1.0) as they are; MOCK,
/// HTTP and AWS by type only (answered here, or refused).
fn shared_integration(i: &RestIntegration) -> Integration {
    let kind = i.integration_type.to_ascii_uppercase();
    let mut request_parameters = BTreeMap::new();
    if kind == "HTTP_PROXY" {
        for (target, source) in &i.request_parameters {
            let op = if let Some(h) = target.strip_prefix("integration.request.header.") {
                format!("overwrite:header.{h}")
            } else if let Some(q) = target
                .strip_prefix("integration.request.querystring.")
                .or_else(|| target.strip_prefix("integration.request.multivaluequerystring."))
            {
                format!("overwrite:querystring.{q}")
            } else {
                // Path parameters are in the URI (mapped_uri); anything else is not a target.
                continue;
            };
            match mapping_expression(source) {
                Some(expr) => {
                    request_parameters.insert(op, expr);
                }
                None => tracing::warn!(
                    target = %target,
                    source = %source,
                    "REST request parameter source not supported; ignored"
                ),
            }
        }
    }
    let uri = i.uri.as_deref().map(|u| {
        if kind == "HTTP_PROXY" {
            mapped_uri(u, &i.request_parameters)
        } else {
            u.to_string()
        }
    });
    Integration {
        id: String::new(),
        integration_type: kind,
        integration_uri: uri,
        integration_method: i.http_method.clone(),
        payload_format_version: "1.0".into(),
        timeout_in_millis: if i.timeout_in_millis > 0 {
            i.timeout_in_millis
        } else {
            DEFAULT_TIMEOUT_MS
        },
        connection_type: i.connection_type.clone(),
        request_parameters,
        ..Default::default()
    }
}

fn compile_method(
    ds: &DeployedRestStage,
    resource: &Resource,
    verb: &str,
    method: &gatehouse_store::rest_apis::Method,
    authorizers: &HashMap<&str, Arc<CognitoAuthorizer>>,
) -> CompiledRoute {
    let auth = match method.authorization_type.to_ascii_uppercase().as_str() {
        "" | "NONE" => RestAuth::None,
        "COGNITO_USER_POOLS" => RestAuth::Cognito(
            method
                .authorizer_id
                .as_deref()
                .and_then(|id| authorizers.get(id).cloned())
                // A Cognito method whose authorizer is gone must not become open.
                .unwrap_or_else(|| Arc::new(CognitoAuthorizer::closed())),
        ),
        "AWS_IAM" => RestAuth::Iam,
        other => RestAuth::Unsupported(other.to_string()),
    };
    let integration = method.integration.as_ref();
    let settings = method_settings(&ds.stage.method_settings, &resource.path, verb);
    let rest = RestMethod {
        resource_id: resource.id.clone(),
        resource_path: resource.path.clone(),
        http_method: verb.to_string(),
        auth,
        scopes: method.authorization_scopes.clone(),
        api_key_required: method.api_key_required,
        integration_type: integration
            .map(|i| i.integration_type.to_ascii_uppercase())
            .unwrap_or_default(),
        mock: integration
            .filter(|i| i.integration_type.eq_ignore_ascii_case("MOCK"))
            .map(MockIntegration::compile),
    };
    CompiledRoute {
        route_key: format!("{verb} {}", resource.path),
        integration: integration.map(|i| Arc::new(shared_integration(i))),
        authorizer: None,
        scopes: method.authorization_scopes.clone(),
        limiter: crate::throttle::RouteLimiter::from_settings(
            &settings,
            ds.stage
                .variables
                .get(crate::throttle::CLAIM_VARIABLE)
                .map(String::as_str),
        ),
        settings,
        rest: Some(Arc::new(rest)),
    }
}

/// Compiles a REST API stage: every method of the deployment's resource tree a route of the
/// trie (AWS's priority: literal > `{param}` > `{proxy+}`, the method before `ANY`). A method
/// whose path cannot be routed is left out (logged); the others are served.
pub fn compile_stage(ds: &DeployedRestStage, public_url: &str) -> CompiledStage {
    let snap = &ds.snapshot;
    let authorizers: HashMap<&str, Arc<CognitoAuthorizer>> = snap
        .authorizers
        .iter()
        .filter(|a| a.authorizer_type.eq_ignore_ascii_case("COGNITO_USER_POOLS"))
        .map(|a| {
            (
                a.id.as_str(),
                Arc::new(CognitoAuthorizer::compile(a, public_url)),
            )
        })
        .collect();
    let mut keys = Vec::new();
    let mut routes = Vec::new();
    for resource in &snap.resources {
        for (verb, method) in &resource.methods {
            let verb = verb.to_ascii_uppercase();
            let key = format!("{verb} {}", resource.path);
            if let Err(e) = RouteTable::compile([key.as_str()]) {
                tracing::warn!(api = %ds.api.id, stage = %ds.stage.name, error = %e, "REST method not served");
                continue;
            }
            routes.push(compile_method(ds, resource, &verb, method, &authorizers));
            keys.push(key);
        }
    }
    let table = RouteTable::compile(keys.iter().map(String::as_str)).unwrap_or_else(|e| {
        tracing::warn!(api = %ds.api.id, stage = %ds.stage.name, error = %e, "REST stage not routable");
        RouteTable::default()
    });
    CompiledStage {
        api_id: ds.api.id.clone(),
        name: ds.stage.name.clone(),
        rest: true,
        // REST APIs answer CORS preflights with their own (usually MOCK) OPTIONS methods.
        cors: None,
        table,
        routes,
        stage_variables: ds
            .stage
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        default_route_settings: RouteSettings::default(),
        access_log: crate::access_log::AccessLog::from_settings(
            ds.stage.access_log_destination.as_deref(),
            ds.stage.access_log_format.as_deref(),
        ),
    }
}

/// A regex matched against a whole value, as API Gateway's (Java) selection patterns are.
pub(crate) fn whole_match(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// A MOCK integration: the status its request template names, and its integration responses.
#[derive(Debug)]
pub struct MockIntegration {
    /// Request template content type -> the `statusCode` it names.
    request_status: Vec<(String, u16)>,
    responses: Vec<MockResponse>,
}

#[derive(Debug)]
struct MockResponse {
    status: StatusCode,
    /// `None`: the default response.
    pattern: Option<Regex>,
    headers: Vec<(HeaderName, HeaderValue)>,
    content_type: HeaderValue,
    body: String,
}

/// The `statusCode` a MOCK request template names (`{"statusCode": 200}`); the template is
/// taken literally (no VTL), and a number is looked for after `"statusCode"`.
fn template_status(template: &str) -> Option<u16> {
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(template) {
        let v = o.get("statusCode")?;
        return v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|n| u16::try_from(n).ok());
    }
    let rest = &template[template.find("statusCode")? + "statusCode".len()..];
    let rest = rest.trim_start_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    let rest = rest.strip_prefix(':')?;
    let rest = rest.trim_start_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The template for `application/json`, else the first.
fn preferred(templates: &BTreeMap<String, String>) -> Option<(&str, &str)> {
    templates
        .get_key_value("application/json")
        .or_else(|| templates.iter().next())
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

impl MockIntegration {
    pub fn compile(i: &RestIntegration) -> Self {
        let request_status = i
            .request_templates
            .iter()
            .filter_map(|(ct, t)| Some((ct.to_ascii_lowercase(), template_status(t)?)))
            .collect();
        let mut responses: Vec<MockResponse> = Vec::new();
        for r in i.integration_responses.values() {
            let Some(status) = r
                .status_code
                .trim()
                .parse::<u16>()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
            else {
                tracing::warn!(status = %r.status_code, "MOCK integration response with an invalid status; ignored");
                continue;
            };
            let pattern = match r.selection_pattern.as_deref().filter(|p| !p.is_empty()) {
                None => None,
                Some(p) => match whole_match(p) {
                    Ok(re) => Some(re),
                    Err(e) => {
                        tracing::warn!(pattern = p, error = %e, "MOCK selection pattern is not a valid regex; ignored");
                        continue;
                    }
                },
            };
            let mut headers = Vec::new();
            for (target, source) in &r.response_parameters {
                let Some(name) = target.strip_prefix("method.response.header.") else {
                    continue;
                };
                let literal = source
                    .trim()
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''));
                match (
                    HeaderName::from_bytes(name.as_bytes()),
                    literal.map(HeaderValue::from_str),
                ) {
                    (Ok(n), Some(Ok(v))) => headers.push((n, v)),
                    _ => tracing::warn!(
                        target = %target,
                        source = %source,
                        "MOCK response parameter is not a literal header; ignored"
                    ),
                }
            }
            let (content_type, body) = match preferred(&r.response_templates) {
                Some((ct, body)) => (
                    HeaderValue::from_str(ct)
                        .unwrap_or(HeaderValue::from_static("application/json")),
                    body.to_string(),
                ),
                None => (HeaderValue::from_static("application/json"), String::new()),
            };
            responses.push(MockResponse {
                status,
                pattern,
                headers,
                content_type,
                body,
            });
        }
        // Patterns are tried before the default, as API Gateway selects.
        responses.sort_by_key(|r| r.pattern.is_none());
        Self {
            request_status,
            responses,
        }
    }

    /// The response for a request of `content_type`: the request template's status (200
    /// without one) selects the integration response.
    pub fn respond(&self, content_type: Option<&str>) -> Result<Response, Reject> {
        let wanted = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        let status = wanted
            .as_deref()
            .and_then(|w| self.request_status.iter().find(|(ct, _)| ct == w))
            .or_else(|| {
                self.request_status
                    .iter()
                    .find(|(ct, _)| ct == "application/json")
            })
            .or_else(|| self.request_status.first())
            .map_or(200, |(_, s)| *s)
            .to_string();
        let Some(r) = self.responses.iter().find(|r| match &r.pattern {
            Some(re) => re.is_match(&status),
            None => true,
        }) else {
            tracing::warn!(
                status,
                "MOCK integration: no integration response matches and none is the default"
            );
            return Err(Reject::Internal);
        };
        let mut resp = Response::new(Body::from(r.body.clone()));
        *resp.status_mut() = r.status;
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, r.content_type.clone());
        for (name, value) in &r.headers {
            headers.insert(name.clone(), value.clone());
        }
        Ok(resp)
    }
}

/// A request id shaped like REST APIs' (`x-amzn-RequestId`, `requestContext.requestId`): a
/// random UUID.
pub fn request_uuid() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(x >> 4)]));
        out.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    out
}

/// `exp` and `iat` as REST APIs render them (Java's `Date.toString()` in UTC):
/// `Tue Jun 04 04:23:31 UTC 2019`.
fn java_date(secs: i64) -> Option<String> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(&fmt)
        .ok()
}

/// A token's claims as REST APIs pass them on (`requestContext.authorizer.claims`,
/// `$context.authorizer.claims.*`): every value a string, lists comma-joined
/// (`"cognito:groups": "admin,users"`), `exp` / `iat` as dates, nulls left out.
pub fn rest_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), Value::String(rest_claim(k, v)?))))
        .collect()
}

/// One claim as REST APIs render it (`rest_claims`); `None` for a null.
pub fn rest_claim(name: &str, v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Number(n) if name == "exp" || name == "iat" => n
            .as_i64()
            .and_then(java_date)
            .unwrap_or_else(|| n.to_string()),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    })
}

/// What the REST event says beyond payload 1.0's common part.
pub struct RestEvent<'a> {
    pub method: &'a RestMethod,
    /// `path`: the path within the stage on `{apiId}.execute-api`, the path as requested on a
    /// custom domain (base path included), as AWS sends it.
    pub path: &'a str,
    /// `requestContext.path`: the path as requested (`/{stage}/...`).
    pub request_path: &'a str,
    pub request_id: &'a str,
    pub extended_request_id: &'a str,
    /// Already rendered (`rest_claims`).
    pub claims: Option<&'a Map<String, Value>>,
}

/// Turns lambda.rs's payload 1.0 event into the one REST APIs send: no `version`, the
/// resource's id and path, the stage-less `path`, the UUID request id, the Cognito claims
/// only (`requestContext.authorizer.claims`), the full `identity` object.
pub fn rest_event(mut event: Value, e: &RestEvent<'_>) -> Value {
    let Some(o) = event.as_object_mut() else {
        return event;
    };
    o.remove("version");
    o.insert("resource".into(), json!(e.method.resource_path));
    o.insert("path".into(), json!(e.path));
    if let Some(rc) = o.get_mut("requestContext").and_then(Value::as_object_mut) {
        rc.insert("resourceId".into(), json!(e.method.resource_id));
        rc.insert("resourcePath".into(), json!(e.method.resource_path));
        rc.insert("path".into(), json!(e.request_path));
        rc.insert("requestId".into(), json!(e.request_id));
        rc.insert("extendedRequestId".into(), json!(e.extended_request_id));
        match e.claims {
            Some(c) => {
                rc.insert("authorizer".into(), json!({ "claims": c }));
            }
            None => {
                rc.remove("authorizer");
            }
        }
        let identity = rc.get("identity").cloned().unwrap_or(Value::Null);
        let mut full = Map::new();
        for name in [
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "sourceIp",
            "principalOrgId",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
            "userAgent",
            "user",
        ] {
            full.insert(
                name.into(),
                identity.get(name).cloned().unwrap_or(Value::Null),
            );
        }
        rc.insert("identity".into(), Value::Object(full));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_store::rest_apis::{
        IntegrationResponse, Method, RestApi, RestAuthorizer, RestDeploymentSnapshot, RestStage,
    };

    fn method(auth: &str, integration: RestIntegration) -> Method {
        Method {
            http_method: String::new(),
            authorization_type: auth.into(),
            authorizer_id: (auth == "COGNITO_USER_POOLS").then(|| "au1".to_string()),
            integration: Some(integration),
            ..Default::default()
        }
    }

    fn http(uri: &str) -> RestIntegration {
        RestIntegration {
            integration_type: "HTTP_PROXY".into(),
            http_method: Some("ANY".into()),
            uri: Some(uri.into()),
            ..Default::default()
        }
    }

    fn resource(id: &str, path: &str, methods: &[(&str, Method)]) -> Resource {
        Resource {
            id: id.into(),
            parent_id: None,
            path_part: path.rsplit('/').next().unwrap_or("").into(),
            path: path.into(),
            methods: methods
                .iter()
                .map(|(m, x)| {
                    let mut x = x.clone();
                    x.http_method = m.to_string();
                    (m.to_string(), x)
                })
                .collect(),
        }
    }

    fn deployed(resources: Vec<Resource>, settings: &[(&str, MethodSetting)]) -> DeployedRestStage {
        DeployedRestStage {
            api: Arc::new(RestApi {
                id: "rest123".into(),
                ..Default::default()
            }),
            stage: RestStage {
                name: "prod".into(),
                deployment_id: "d1".into(),
                method_settings: settings
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                ..Default::default()
            },
            snapshot: Arc::new(RestDeploymentSnapshot {
                api_id: "rest123".into(),
                deployment_id: "d1".into(),
                resources,
                authorizers: vec![RestAuthorizer {
                    id: "au1".into(),
                    name: "pool".into(),
                    authorizer_type: "COGNITO_USER_POOLS".into(),
                    provider_arns: vec![
                        "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_abc".into(),
                    ],
                    identity_source: Some("method.request.header.Authorization".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    fn tree() -> Vec<Resource> {
        let m = || method("NONE", http("http://b/{proxy}"));
        vec![
            resource("r0", "/", &[("GET", m())]),
            resource("r1", "/pets", &[("GET", m()), ("POST", m())]),
            resource("r2", "/pets/{petId}", &[("GET", m()), ("ANY", m())]),
            resource("r3", "/pets/dogs", &[("GET", m())]),
            resource("r4", "/{proxy+}", &[("ANY", m())]),
            resource("r5", "/files/{proxy+}", &[("GET", m())]),
            resource(
                "r6",
                "/private",
                &[("GET", method("COGNITO_USER_POOLS", http("http://b/")))],
            ),
            // Not routable: a greedy part that is not last.
            resource("bad", "/{x+}/y", &[("GET", m())]),
        ]
    }

    fn find(
        stage: &CompiledStage,
        verb: &str,
        path: &str,
    ) -> Option<(String, Vec<(String, String)>)> {
        let m = stage.table.find(verb, path)?;
        let r = stage.routes.get(m.route)?.rest.as_ref()?;
        Some((
            format!("{} {}", r.http_method, r.resource_path),
            m.path_parameters,
        ))
    }

    #[test]
    fn resource_trees_route_with_aws_priority() {
        let stage = compile_stage(&deployed(tree(), &[]), "http://issuer");
        assert!(stage.rest);
        let key = |v, p| find(&stage, v, p).map(|x| x.0);
        assert_eq!(key("GET", "/").as_deref(), Some("GET /"));
        assert_eq!(key("GET", "/pets").as_deref(), Some("GET /pets"));
        assert_eq!(key("POST", "/pets").as_deref(), Some("POST /pets"));
        // No DELETE on /pets: the greedy root resource takes it.
        assert_eq!(key("DELETE", "/pets").as_deref(), Some("ANY /{proxy+}"));
        assert_eq!(key("GET", "/pets/dogs").as_deref(), Some("GET /pets/dogs"));
        assert_eq!(key("GET", "/pets/7").as_deref(), Some("GET /pets/{petId}"));
        assert_eq!(
            key("PATCH", "/pets/7").as_deref(),
            Some("ANY /pets/{petId}")
        );
        assert_eq!(
            key("GET", "/files/a/b").as_deref(),
            Some("GET /files/{proxy+}")
        );
        assert_eq!(key("POST", "/files/a/b").as_deref(), Some("ANY /{proxy+}"));
        // `{proxy+}` needs at least one segment: the root has only GET.
        assert_eq!(key("POST", "/"), None);
        let (_, params) = find(&stage, "GET", "/pets/a%20b").unwrap();
        assert_eq!(params, vec![("petId".to_string(), "a b".to_string())]);
        let (_, params) = find(&stage, "GET", "/files/x/y.txt").unwrap();
        assert_eq!(params, vec![("proxy".to_string(), "x/y.txt".to_string())]);
        // The unroutable method is left out; the others are served.
        assert_eq!(stage.routes.len(), 9);
    }

    #[test]
    fn methods_carry_their_authorizer_and_integration() {
        let stage = compile_stage(&deployed(tree(), &[]), "http://issuer:9229/");
        let m = stage.table.find("GET", "/private").unwrap();
        let route = &stage.routes[m.route];
        let rest = route.rest.as_ref().unwrap();
        match &rest.auth {
            RestAuth::Cognito(a) => assert_eq!(
                a.pools,
                vec![(
                    "us-east-1_abc".to_string(),
                    "http://issuer:9229/us-east-1_abc".to_string()
                )]
            ),
            other => panic!("{other:?}"),
        }
        let i = route.integration.as_ref().unwrap();
        assert_eq!(i.integration_type, "HTTP_PROXY");
        assert_eq!(i.timeout_in_millis, DEFAULT_TIMEOUT_MS);
        // A Cognito method whose authorizer is missing stays closed.
        let mut resources = tree();
        resources[6].methods.get_mut("GET").unwrap().authorizer_id = Some("gone".into());
        let stage = compile_stage(&deployed(resources, &[]), "http://issuer");
        let m = stage.table.find("GET", "/private").unwrap();
        match &stage.routes[m.route].rest.as_ref().unwrap().auth {
            RestAuth::Cognito(a) => assert!(a.pools.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn method_settings_throttle_per_method() {
        let s = |rate: f64, burst: i64| MethodSetting {
            throttling_rate_limit: Some(rate),
            throttling_burst_limit: Some(burst),
            ..Default::default()
        };
        let stage = compile_stage(
            &deployed(
                tree(),
                &[
                    ("*/*", s(100.0, 50)),
                    ("~1pets~1{petId}/GET", s(1.0, 1)),
                    ("~1pets/*", s(2.0, 2)),
                ],
            ),
            "",
        );
        let settings = |v, p| {
            let m = stage.table.find(v, p).unwrap();
            let r = &stage.routes[m.route];
            (
                r.settings.throttling_rate_limit,
                r.settings.throttling_burst_limit,
            )
        };
        assert_eq!(settings("GET", "/pets/1"), (Some(1.0), Some(1)));
        assert_eq!(settings("PUT", "/pets/1"), (Some(100.0), Some(50)));
        assert_eq!(settings("POST", "/pets"), (Some(2.0), Some(2)));
        assert_eq!(settings("GET", "/"), (Some(100.0), Some(50)));
        let m = stage.table.find("GET", "/pets/1").unwrap();
        assert!(stage.routes[m.route].limiter.is_some());
    }

    #[test]
    fn http_proxy_parameters_become_mappings_and_uri_templates() {
        let mut i = http("http://b/items/{itemId}/{proxy}");
        i.request_parameters = BTreeMap::from([
            (
                "integration.request.path.itemId".into(),
                "method.request.path.id".into(),
            ),
            (
                "integration.request.header.x-user".into(),
                "context.authorizer.claims.sub".into(),
            ),
            ("integration.request.header.x-const".into(), "'v 1'".into()),
            (
                "integration.request.querystring.q".into(),
                "method.request.querystring.search".into(),
            ),
            (
                "integration.request.header.x-odd".into(),
                "integration.response.body".into(),
            ),
        ]);
        let s = shared_integration(&i);
        assert_eq!(
            s.integration_uri.as_deref(),
            Some("http://b/items/{id}/{proxy}")
        );
        assert_eq!(
            s.request_parameters,
            BTreeMap::from([
                (
                    "overwrite:header.x-user".to_string(),
                    "$context.authorizer.claims.sub".to_string()
                ),
                ("overwrite:header.x-const".to_string(), "v 1".to_string()),
                (
                    "overwrite:querystring.q".to_string(),
                    "$request.querystring.search".to_string()
                ),
            ])
        );
        assert_eq!(
            mapped_uri(
                "http://b/{v}",
                &BTreeMap::from([("integration.request.path.v".into(), "'a/b'".into())])
            ),
            "http://b/a%2Fb"
        );
    }

    #[tokio::test]
    async fn mock_integrations_answer_from_their_templates() {
        use http_body_util::BodyExt;
        let i = RestIntegration {
            integration_type: "MOCK".into(),
            request_templates: BTreeMap::from([
                ("application/json".into(), "{\"statusCode\": 200}".into()),
                (
                    "text/plain".into(),
                    "#set($x = 1)\n{ \"statusCode\" : 404 }".into(),
                ),
            ]),
            integration_responses: BTreeMap::from([
                (
                    "200".into(),
                    IntegrationResponse {
                        status_code: "200".into(),
                        selection_pattern: None,
                        response_parameters: BTreeMap::from([(
                            "method.response.header.Access-Control-Allow-Origin".into(),
                            "'*'".into(),
                        )]),
                        response_templates: BTreeMap::from([(
                            "application/json".into(),
                            "{\"ok\": true}".into(),
                        )]),
                        ..Default::default()
                    },
                ),
                (
                    "404".into(),
                    IntegrationResponse {
                        status_code: "404".into(),
                        selection_pattern: Some("4\\d\\d".into()),
                        ..Default::default()
                    },
                ),
            ]),
            ..Default::default()
        };
        let mock = MockIntegration::compile(&i);
        let r = mock.respond(None).unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert_eq!(r.headers()["content-type"], "application/json");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"{\"ok\": true}");
        let r = mock.respond(Some("text/plain; charset=utf-8")).unwrap();
        assert_eq!(r.status(), 404);
        // No default response and no match: AWS's configuration error, a 500.
        let only_404 = MockIntegration {
            request_status: vec![],
            responses: MockIntegration::compile(&i)
                .responses
                .into_iter()
                .filter(|r| r.pattern.is_some())
                .collect(),
        };
        assert_eq!(only_404.respond(None).unwrap_err(), Reject::Internal);
        assert_eq!(template_status("{\"statusCode\": \"201\"}"), Some(201));
        assert_eq!(template_status("nothing"), None);
    }

    #[test]
    fn claims_render_as_rest_apis_do() {
        let claims = json!({
            "sub": "u1",
            "cognito:groups": ["admin", "users"],
            "email_verified": true,
            "auth_time": 1_559_612_917,
            "exp": 1_559_622_211,
            "iat": 1_559_618_611,
            "gone": null,
        });
        assert_eq!(
            Value::Object(rest_claims(claims.as_object().unwrap())),
            json!({
                "sub": "u1",
                "cognito:groups": "admin,users",
                "email_verified": "true",
                "auth_time": "1559612917",
                "exp": "Tue Jun 04 04:23:31 UTC 2019",
                "iat": "Tue Jun 04 03:23:31 UTC 2019",
            })
        );
    }

    #[test]
    fn request_ids_are_uuids() {
        let id = request_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, request_uuid());
    }
}
