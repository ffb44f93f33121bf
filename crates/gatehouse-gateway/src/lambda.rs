//! AWS_PROXY integrations: the request turned into API Gateway's Lambda event (payload format
//! 2.0 or 1.0), sent to the Lambda Invoke API at the configured endpoint
//! (`AWS_ENDPOINT_URL_LAMBDA`: `cargo lambda watch`, `sam local start-lambda`, the Runtime
//! Interface Emulator), and the function's answer turned back into an HTTP response.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use crate::client::HttpClient;
use crate::error::Reject;
use crate::jwt::Authorized;

/// Everything the event describes besides the request itself.
pub struct EventContext<'a> {
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    pub route_key: &'a str,
    pub request_id: &'a str,
    pub source_ip: String,
    pub path_parameters: &'a [(String, String)],
    pub stage_variables: &'a HashMap<String, String>,
    pub auth: Option<&'a Authorized>,
    /// Seconds and milliseconds since the epoch.
    pub now_ms: i64,
    /// The custom domain name the request came through; else the Host header is the domain.
    pub domain_name: Option<&'a str>,
}

/// The function an integration URI names, and its qualifier.
pub fn function_of(uri: &str) -> Option<(String, Option<String>)> {
    // arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations
    let arn = match uri.split_once("/functions/") {
        Some((_, rest)) => rest.strip_suffix("/invocations").unwrap_or(rest),
        None => uri,
    };
    if let Some(rest) = arn.strip_prefix("arn:") {
        // aws:lambda:{region}:{account}:function:{name}[:{qualifier}]
        let parts: Vec<&str> = rest.split(':').collect();
        let name = parts.get(5)?.to_string();
        let qualifier = parts.get(6).map(|q| q.to_string());
        return (!name.is_empty()).then_some((name, qualifier));
    }
    (!arn.is_empty()).then(|| (arn.to_string(), None))
}

/// AWS renders claims as strings; arrays as `[a b]`.
fn claim_string(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.clone()),
        Value::Array(a) => Value::String(format!(
            "[{}]",
            a.iter()
                .map(|x| x
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        other => Value::String(other.to_string()),
    }
}

fn claims_as_strings(a: &Authorized) -> Value {
    Value::Object(
        a.claims
            .iter()
            .map(|(k, v)| (k.clone(), claim_string(v)))
            .collect::<Map<_, _>>(),
    )
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn body_fields(body: &Bytes) -> (Value, bool) {
    if body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(body) {
        Ok(s) => (Value::String(s.to_string()), false),
        Err(_) => (Value::String(STANDARD.encode(body)), true),
    }
}

/// The `X-Forwarded-*` headers API Gateway adds to every event: the client's address appended
/// to any `X-Forwarded-For` it sent, and the protocol it spoke to the gateway listener (plain
/// HTTP; HTTP_PROXY integrations get the same, `proxy.rs`). Runtimes read them: `lambda_http`
/// builds the request URI's scheme from `x-forwarded-proto`, frameworks the client address
/// from `x-forwarded-for`.
fn forwarded(parts: &http::request::Parts, source_ip: &str) -> [(&'static str, Option<String>); 2] {
    let sent: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let chain: Vec<&str> = sent
        .into_iter()
        .chain((!source_ip.is_empty()).then_some(source_ip))
        .collect();
    [
        (
            "x-forwarded-for",
            (!chain.is_empty()).then(|| chain.join(", ")),
        ),
        ("x-forwarded-proto", Some("http".to_string())),
    ]
}

fn non_empty(m: Map<String, Value>) -> Value {
    if m.is_empty() {
        Value::Null
    } else {
        Value::Object(m)
    }
}

pub(crate) fn clf_time(now_ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from_unix_timestamp(now_ms / 1000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// The payload format 2.0 event.
pub fn event_v2(parts: &http::request::Parts, body: &Bytes, ctx: &EventContext<'_>) -> Value {
    let mut headers: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let Ok(v) = value.to_str() else { continue };
        if name == header::COOKIE {
            cookies.extend(
                v.split(';')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .or_default()
            .push(v);
    }
    let mut headers: Map<String, Value> = headers
        .into_iter()
        .map(|(k, v)| (k, Value::String(v.join(","))))
        .collect();
    for (name, value) in forwarded(parts, &ctx.source_ip) {
        if let Some(value) = value {
            headers.insert(name.to_string(), Value::String(value));
        }
    }
    let raw_query = parts.uri.query().unwrap_or("");
    let mut qs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query_pairs(raw_query) {
        qs.entry(k).or_default().push(v);
    }
    let qs: Map<String, Value> = qs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v.join(","))))
        .collect();
    let host = ctx.domain_name.unwrap_or_else(|| {
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    });
    let (body, b64) = body_fields(body);
    let mut event = json!({
        "version": "2.0",
        "routeKey": ctx.route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ctx.account_id,
            "apiId": ctx.api_id,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(""),
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": ctx.source_ip,
                "userAgent": parts.headers.get(header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or(""),
            },
            "requestId": ctx.request_id,
            "routeKey": ctx.route_key,
            "stage": ctx.stage,
            "time": clf_time(ctx.now_ms),
            "timeEpoch": ctx.now_ms,
        },
        "isBase64Encoded": b64,
    });
    let o = match event.as_object_mut() {
        Some(o) => o,
        None => return event,
    };
    if !cookies.is_empty() {
        o.insert("cookies".into(), json!(cookies));
    }
    if !qs.is_empty() {
        o.insert("queryStringParameters".into(), Value::Object(qs));
    }
    let params: Map<String, Value> = ctx
        .path_parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if !params.is_empty() {
        o.insert("pathParameters".into(), Value::Object(params));
    }
    if !ctx.stage_variables.is_empty() {
        o.insert("stageVariables".into(), json!(ctx.stage_variables));
    }
    if !body.is_null() {
        o.insert("body".into(), body);
    }
    if let Some(a) = ctx.auth {
        let scopes = a.scopes();
        let scopes = if scopes.is_empty() {
            Value::Null
        } else {
            json!(scopes)
        };
        if let Some(rc) = o.get_mut("requestContext").and_then(Value::as_object_mut) {
            rc.insert(
                "authorizer".into(),
                json!({ "jwt": { "claims": claims_as_strings(a), "scopes": scopes } }),
            );
        }
    }
    event
}

/// The payload format 1.0 event (REST-API-shaped).
pub fn event_v1(parts: &http::request::Parts, body: &Bytes, ctx: &EventContext<'_>) -> Value {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in &parts.headers {
        let Ok(v) = value.to_str() else { continue };
        single.insert(name.as_str().to_string(), json!(v));
        if let Some(Value::Array(a)) = multi.get_mut(name.as_str()) {
            a.push(json!(v));
        } else {
            multi.insert(name.as_str().to_string(), json!([v]));
        }
    }
    for (name, value) in forwarded(parts, &ctx.source_ip) {
        if let Some(value) = value {
            single.insert(name.to_string(), json!(value));
            multi.insert(name.to_string(), json!([value]));
        }
    }
    let mut qs = Map::new();
    let mut mqs: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(parts.uri.query().unwrap_or("")) {
        qs.insert(k.clone(), json!(v));
        if let Some(Value::Array(a)) = mqs.get_mut(&k) {
            a.push(json!(v));
        } else {
            mqs.insert(k, json!([v]));
        }
    }
    let host = ctx.domain_name.unwrap_or_else(|| {
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    });
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let (body, b64) = body_fields(body);
    let params: Map<String, Value> = ctx
        .path_parameters
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let resource = ctx
        .route_key
        .split_once(' ')
        .map_or(ctx.route_key, |(_, p)| p);
    let authorizer = ctx.auth.map(|a| {
        json!({ "claims": claims_as_strings(a), "scopes": match a.scopes() { s if s.is_empty() => Value::Null, s => json!(s) } })
    });
    json!({
        "version": "1.0",
        "resource": resource,
        "path": parts.uri.path(),
        "httpMethod": parts.method.as_str(),
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": non_empty(qs),
        "multiValueQueryStringParameters": non_empty(mqs),
        "requestContext": {
            "accountId": ctx.account_id,
            "apiId": ctx.api_id,
            "authorizer": authorizer,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(""),
            "extendedRequestId": ctx.request_id,
            "httpMethod": parts.method.as_str(),
            "identity": { "sourceIp": ctx.source_ip, "userAgent": user_agent },
            "path": parts.uri.path(),
            "protocol": "HTTP/1.1",
            "requestId": ctx.request_id,
            "requestTime": clf_time(ctx.now_ms),
            "requestTimeEpoch": ctx.now_ms,
            "resourceId": ctx.route_key,
            "resourcePath": resource,
            "stage": ctx.stage,
        },
        "pathParameters": non_empty(params),
        "stageVariables": if ctx.stage_variables.is_empty() { Value::Null } else { json!(ctx.stage_variables) },
        "body": body,
        "isBase64Encoded": b64,
    })
}

fn header_value(v: &Value) -> Option<HeaderValue> {
    match v {
        Value::String(s) => HeaderValue::from_str(s).ok(),
        Value::Number(_) | Value::Bool(_) => HeaderValue::from_str(&v.to_string()).ok(),
        _ => None,
    }
}

/// The HTTP response a function's output stands for; `None` when it is malformed.
pub fn response_of(output: &[u8], v2: bool) -> Option<Response> {
    let value: Value = serde_json::from_slice(output).ok()?;
    let structured = value
        .as_object()
        .filter(|o| o.contains_key("statusCode"))
        .cloned();
    let Some(o) = structured else {
        if !v2 {
            return None;
        }
        // Payload 2.0's shortcut: any other JSON is a 200 with that JSON as its body.
        let mut resp = Response::new(Body::from(output.to_vec()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Some(resp);
    };
    let status = o
        .get("statusCode")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|x| x.parse().ok()))
        })
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())?;
    let body = match o.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            if o.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                STANDARD.decode(s).ok()?
            } else {
                s.clone().into_bytes()
            }
        }
        Some(other) => other.to_string().into_bytes(),
    };
    let mut headers = HeaderMap::new();
    if let Some(Value::Object(mv)) = o.get("multiValueHeaders") {
        for (k, vals) in mv {
            let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
                continue;
            };
            for v in vals.as_array().into_iter().flatten() {
                if let Some(v) = header_value(v) {
                    headers.append(name.clone(), v);
                }
            }
        }
    }
    if let Some(Value::Object(h)) = o.get("headers") {
        for (k, v) in h {
            let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
                continue;
            };
            if let Some(v) = header_value(v) {
                headers.insert(name, v);
            }
        }
    }
    if v2 {
        for c in o
            .get("cookies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(v) = c.as_str().and_then(|c| HeaderValue::from_str(c).ok()) {
                headers.append(header::SET_COOKIE, v);
            }
        }
    }
    if !headers.contains_key(header::CONTENT_TYPE) && v2 {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    crate::proxy::strip_hop_by_hop(&mut headers);
    headers.remove(header::CONTENT_LENGTH);
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Some(resp)
}

/// Invokes the function with the event and maps its answer.
pub async fn invoke(
    client: &HttpClient,
    endpoint: Option<&str>,
    integration_uri: &str,
    event: Value,
    v2: bool,
    timeout: Duration,
) -> Result<Response, Reject> {
    let Some(endpoint) = endpoint else {
        tracing::warn!(
            "AWS_PROXY integration but no Lambda endpoint is configured (AWS_ENDPOINT_URL_LAMBDA)"
        );
        return Err(Reject::Internal);
    };
    let Some((name, qualifier)) = function_of(integration_uri) else {
        tracing::warn!(
            uri = integration_uri,
            "AWS_PROXY integration URI names no function"
        );
        return Err(Reject::Internal);
    };
    let mut url = format!(
        "{}/2015-03-31/functions/{}/invocations",
        endpoint.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
    );
    if let Some(q) = qualifier {
        url.push_str("?Qualifier=");
        url.push_str(
            &percent_encoding::utf8_percent_encode(&q, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
    }
    let req = http::Request::post(&url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-amz-invocation-type", "RequestResponse")
        .body(Body::from(event.to_string()))
        .map_err(|_| Reject::Internal)?;
    let call = async {
        let resp = client.request(req).await.map_err(|e| {
            tracing::warn!(%url, error = %e, "Lambda invoke failed");
            Reject::Internal
        })?;
        let failed = resp.headers().contains_key("x-amz-function-error");
        let status = resp.status();
        let body = http_body_util::Limited::new(resp.into_body(), 10 * 1024 * 1024)
            .collect()
            .await
            .map_err(|_| Reject::Internal)?
            .to_bytes();
        Ok::<_, Reject>((status, failed, body))
    };
    let (status, failed, body) = tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| Reject::Unavailable)??;
    if failed || !status.is_success() {
        tracing::warn!(%url, %status, function_error = failed, "Lambda function failed");
        return Err(if failed {
            Reject::BadIntegrationResponse
        } else {
            Reject::Internal
        });
    }
    response_of(&body, v2).ok_or_else(|| {
        tracing::warn!(%url, "Lambda response is not a valid proxy response");
        Reject::BadIntegrationResponse
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        assert_eq!(
            function_of("arn:aws:lambda:us-east-1:123:function:hello").unwrap(),
            ("hello".into(), None)
        );
        assert_eq!(
            function_of("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123:function:hi:live/invocations").unwrap(),
            ("hi".into(), Some("live".into()))
        );
        assert_eq!(function_of("plain").unwrap(), ("plain".into(), None));
        assert!(function_of("").is_none());
    }

    #[test]
    fn responses() {
        let r = response_of(
            br#"{"statusCode":201,"headers":{"x-a":"1"},"cookies":["a=1","b=2"],"body":"hi"}"#,
            true,
        )
        .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        let r = response_of(br#"{"hello":"world"}"#, true).unwrap();
        assert_eq!(r.status(), 200);
        assert!(response_of(br#"{"hello":"world"}"#, false).is_none());
        assert!(response_of(b"not json", true).is_none());
        let r = response_of(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true,"multiValueHeaders":{"x-m":["1","2"]}}"#, false).unwrap();
        assert_eq!(r.headers().get_all("x-m").iter().count(), 2);
        assert!(response_of(br#"{"statusCode":99999}"#, true).is_none());
    }

    #[test]
    fn events_carry_the_forwarded_headers_aws_adds() {
        let (parts, ()) = http::Request::post("/p?q=1")
            .header("host", "a.execute-api.localhost")
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-forwarded-proto", "https")
            .body(())
            .unwrap()
            .into_parts();
        let vars = HashMap::new();
        let ctx = EventContext {
            account_id: "123456789012",
            api_id: "a",
            stage: "$default",
            route_key: "POST /p",
            request_id: "r",
            source_ip: "127.0.0.1".into(),
            path_parameters: &[],
            stage_variables: &vars,
            auth: None,
            now_ms: 0,
            domain_name: None,
        };
        let v2 = event_v2(&parts, &Bytes::new(), &ctx);
        assert_eq!(v2["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(v2["headers"]["x-forwarded-proto"], "http");
        let v1 = event_v1(&parts, &Bytes::new(), &ctx);
        assert_eq!(v1["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(
            v1["multiValueHeaders"]["x-forwarded-proto"],
            json!(["http"])
        );

        let (parts, ()) = http::Request::get("/").body(()).unwrap().into_parts();
        let ctx = EventContext {
            source_ip: String::new(),
            ..ctx
        };
        let v2 = event_v2(&parts, &Bytes::new(), &ctx);
        assert!(v2["headers"].get("x-forwarded-for").is_none());
        assert_eq!(v2["headers"]["x-forwarded-proto"], "http");
    }

    #[test]
    fn claims_render_as_aws_does() {
        assert_eq!(claim_string(&json!(["a", "b"])), json!("[a b]"));
        assert_eq!(claim_string(&json!(12)), json!("12"));
        assert_eq!(claim_string(&json!(true)), json!("true"));
    }
}
