//! A Lambda function on the official Rust runtime (`lambda_http`) that answers every API Gateway
//! event with what the runtime made of it, so an end-to-end test can check that the events
//! Gatehouse sends (payload 2.0 and 1.0) parse with AWS's own event types, and that the responses
//! the runtime produces come back out of the gateway as they would on AWS.
//!
//! Paths ending in
//! - `/binary`: answers the request body's bytes as `application/octet-stream` (the runtime
//!   sends them base64-encoded);
//! - `/fail`: returns an error (a function error, as the Invoke API reports it);
//! - anything else: JSON describing the request, with the status from `?status=` (default 200),
//!   a single and a repeated header, and two cookies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{header, HeaderMap, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::{json, Map, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(handle)).await
}

async fn handle(req: Request) -> Result<Response<Body>, Error> {
    let path = req.raw_http_path().to_string();
    if path.ends_with("/fail") {
        return Err("the caller asked this function to fail".into());
    }
    if path.ends_with("/binary") {
        return Ok(Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::Binary(req.body().to_vec()))?);
    }
    let status = req
        .query_string_parameters_ref()
        .and_then(|q| q.first("status"))
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(200);
    let echo = describe(&req)?;
    Ok(Response::builder()
        .status(StatusCode::from_u16(status)?)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-echo-origin", echo["origin"].as_str().unwrap_or(""))
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header(header::SET_COOKIE, "echo=1; Path=/")
        .header(header::SET_COOKIE, "flavor=oat; HttpOnly")
        .body(Body::Text(serde_json::to_string(&echo)?))?)
}

fn describe(req: &Request) -> Result<Value, Error> {
    let context = req.request_context_ref();
    let (origin, claims, scopes) = match context {
        Some(RequestContext::ApiGatewayV2(c)) => {
            let jwt = c.authorizer.as_ref().and_then(|a| a.jwt.as_ref());
            (
                "apigw_http",
                jwt.map(|j| json!(j.claims)),
                jwt.and_then(|j| j.scopes.clone()).map(|s| json!(s)),
            )
        }
        Some(RequestContext::ApiGatewayV1(c)) => (
            "apigw_rest",
            c.authorizer.fields.get("claims").cloned(),
            c.authorizer.fields.get("scopes").cloned(),
        ),
        _ => ("other", None, None),
    };
    let body = req.body();
    let body_bytes: &[u8] = body.as_ref();
    Ok(json!({
        "origin": origin,
        "method": req.method().as_str(),
        "uri": req.uri().to_string(),
        "rawPath": req.raw_http_path(),
        "pathParameters": query_map(req.path_parameters_ref()),
        "query": query_map(req.query_string_parameters_ref()),
        "stageVariables": query_map(req.stage_variables_ref()),
        "headers": headers(req.headers()),
        "claims": claims,
        "scopes": scopes,
        "requestContext": serde_json::to_value(context)?,
        "body": match body {
            Body::Empty => Value::Null,
            Body::Text(t) => json!(t),
            Body::Binary(b) => json!(String::from_utf8_lossy(b)),
            _ => Value::Null,
        },
        "bodyBase64": STANDARD.encode(body_bytes),
        "awsRequestId": req.lambda_context_ref().map(|c| c.request_id.clone()),
        "functionName": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
    }))
}

/// Every value of every key, in order.
fn query_map(q: Option<&QueryMap>) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for (k, v) in q.into_iter().flat_map(QueryMap::iter) {
        if let Some(Value::Array(values)) = out.get_mut(k) {
            values.push(json!(v));
        } else {
            out.insert(k.to_string(), json!([v]));
        }
    }
    Value::Object(out)
}

fn headers(h: &HeaderMap) -> Value {
    let mut out = Map::new();
    for name in h.keys() {
        let values: Vec<Value> = h
            .get_all(name)
            .iter()
            .map(|v| json!(String::from_utf8_lossy(v.as_bytes())))
            .collect();
        out.insert(name.as_str().to_string(), Value::Array(values));
    }
    Value::Object(out)
}
