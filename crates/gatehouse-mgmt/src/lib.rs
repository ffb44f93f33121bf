//! The Amazon API Gateway management wire adapters: the v2 REST JSON API under `/v2/apis…` and
//! `/v2/domainnames…` (`domains.rs`) that `aws apigatewayv2` and boto3 call, and the v1 one
//! under `/restapis…` and `/tags/…` (`v1/`) for `aws apigateway`. Each handler
//! parses its request, calls one `ApiService` function and renders the result; errors reach
//! the wire in `error.rs`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

mod domains;
mod error;
mod openapi;
mod parse;
mod render;
#[cfg(test)]
mod tests;
mod v1;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use gatehouse_core::apis::ApiService;
use gatehouse_sigv4::{KeyLookup, SigV4Error};
use http_body_util::BodyExt;
use serde_json::Value;

pub use error::WireError;

/// The request members of the management operations, parsed exactly as the REST API parses
/// them, for in-process callers (the declarative configuration file).
pub mod inproc {
    pub use crate::openapi::parse as openapi;
    pub use crate::parse::{api, authorizer, integration, route, stage};
}

/// Requests larger than this are refused before parsing (OpenAPI imports are the largest).
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// How management calls are authenticated.
pub enum Admission {
    /// Verify SigV4 (service `apigateway`) against these keys.
    Verify(Arc<dyn KeyLookup + Send + Sync>),
    /// `--dev`: any signature, or none, is accepted.
    AcceptAny,
}

pub struct MgmtApi {
    pub apis: Arc<ApiService>,
    pub admission: Admission,
}

type Shared = State<Arc<MgmtApi>>;
type Reply = Result<Response, WireError>;

/// The `/v2/apis…` routes, each behind SigV4 admission.
pub fn router(api: Arc<MgmtApi>) -> Router {
    Router::new()
        .route("/v2/apis", get(get_apis).post(create_api).put(import_api))
        .route(
            "/v2/apis/{api_id}",
            get(get_api)
                .patch(update_api)
                .delete(delete_api)
                .put(reimport_api),
        )
        .route("/v2/apis/{api_id}/exports/{specification}", get(export_api))
        .route("/v2/apis/{api_id}/cors", axum::routing::delete(delete_cors))
        .route(
            "/v2/apis/{api_id}/routes",
            get(get_routes).post(create_route),
        )
        .route(
            "/v2/apis/{api_id}/routes/{id}",
            get(get_route).patch(update_route).delete(delete_route),
        )
        .route(
            "/v2/apis/{api_id}/integrations",
            get(get_integrations).post(create_integration),
        )
        .route(
            "/v2/apis/{api_id}/integrations/{id}",
            get(get_integration)
                .patch(update_integration)
                .delete(delete_integration),
        )
        .route(
            "/v2/apis/{api_id}/authorizers",
            get(get_authorizers).post(create_authorizer),
        )
        .route(
            "/v2/apis/{api_id}/authorizers/{id}",
            get(get_authorizer)
                .patch(update_authorizer)
                .delete(delete_authorizer),
        )
        .route(
            "/v2/apis/{api_id}/stages",
            get(get_stages).post(create_stage),
        )
        .route(
            "/v2/apis/{api_id}/stages/{id}",
            get(get_stage).patch(update_stage).delete(delete_stage),
        )
        .route(
            "/v2/apis/{api_id}/stages/{id}/routesettings/{route_key}",
            axum::routing::delete(delete_route_settings),
        )
        .route(
            "/v2/apis/{api_id}/stages/{id}/accesslogsettings",
            axum::routing::delete(delete_access_log_settings),
        )
        .route(
            "/v2/apis/{api_id}/deployments",
            get(get_deployments).post(create_deployment),
        )
        .route(
            "/v2/apis/{api_id}/deployments/{id}",
            get(get_deployment)
                .patch(update_deployment)
                .delete(delete_deployment),
        )
        .route(
            "/v2/tags/{arn}",
            get(get_tags).post(tag_resource).delete(untag_resource),
        )
        .merge(domains::routes())
        .merge(v1::routes())
        .layer(middleware::from_fn_with_state(Arc::clone(&api), admit))
        .with_state(api)
}

/// Reads the body (bounded), verifies the signature, and hands the request on with its body.
async fn admit(State(api): Shared, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return WireError::TooLarge.into_response()
        }
        Err(e) => {
            return WireError::BadRequest(format!("Could not read the request body: {e}"))
                .into_response()
        }
    };
    if let Admission::Verify(keys) = &api.admission {
        let now = time::OffsetDateTime::now_utc();
        match gatehouse_sigv4::verify(&parts, &body, now, keys.as_ref()) {
            Ok(id) if id.service == "apigateway" => {
                tracing::debug!(access_key_id = %id.access_key_id, "signature verified");
            }
            Ok(id) => {
                return WireError::Signature(SigV4Error::Malformed(format!(
                    "Credential should be scoped to correct service: 'apigateway'. (got '{}')",
                    id.service
                )))
                .into_response()
            }
            Err(e) => return WireError::Signature(e).into_response(),
        }
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

fn json(status: StatusCode, v: Value) -> Reply {
    let mut resp = (status, v.to_string()).into_response();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The query string, decoded.
fn query(req: &http::request::Parts) -> HashMap<String, String> {
    query_pairs(req).into_iter().collect()
}

/// The query string's pairs, decoded, repeats kept.
fn query_pairs(req: &http::request::Parts) -> Vec<(String, String)> {
    let mut q = Vec::new();
    for pair in req
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        q.push((decode(k), decode(v)));
    }
    q
}

/// `maxResults` and `nextToken` from the query string.
fn paging(req: &http::request::Parts) -> Result<(Option<usize>, Option<String>), WireError> {
    let mut q = query(req);
    let max = q
        .get("maxResults")
        .map(|m| {
            m.parse::<usize>()
                .map_err(|_| WireError::BadRequest(format!("Invalid maxResults: {m}")))
        })
        .transpose()?;
    Ok((max, q.remove("nextToken")))
}

// APIs

async fn create_api(State(m): Shared, body: Bytes) -> Reply {
    let input = parse::api(&parse::object(&body)?)?;
    let api = m.apis.create_api(input).await?;
    json(
        StatusCode::CREATED,
        render::api(&api, m.apis.api_endpoint(&api.id)),
    )
}

async fn get_apis(State(m): Shared, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (apis, next) = m.apis.list_apis(max, token).await?;
    json(
        StatusCode::OK,
        render::page(&apis, next, |a| render::api(a, m.apis.api_endpoint(&a.id))),
    )
}

async fn get_api(State(m): Shared, Path(api_id): Path<String>) -> Reply {
    let api = m.apis.get_api(&api_id).await?;
    json(
        StatusCode::OK,
        render::api(&api, m.apis.api_endpoint(&api.id)),
    )
}

async fn update_api(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::api(&parse::object(&body)?)?;
    let api = m.apis.update_api(&api_id, input).await?;
    json(
        StatusCode::OK,
        render::api(&api, m.apis.api_endpoint(&api.id)),
    )
}

async fn delete_api(State(m): Shared, Path(api_id): Path<String>) -> Reply {
    m.apis.delete_api(&api_id).await?;
    no_content()
}

async fn delete_cors(State(m): Shared, Path(api_id): Path<String>) -> Reply {
    m.apis.delete_cors(&api_id).await?;
    no_content()
}

// OpenAPI import, reimport and export

/// The OpenAPI document of an ImportApi / ReimportApi body, and `failOnWarnings`.
fn definition(
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(gatehouse_core::apis::ApiDefinition, Vec<String>), WireError> {
    let o = parse::object(body)?;
    let text = parse::string(&o, "body")?
        .ok_or_else(|| WireError::BadRequest("Body is required".into()))?;
    let (def, warnings) = openapi::parse(&text)?;
    let fail = query(parts)
        .get("failOnWarnings")
        .is_some_and(|v| v == "true");
    if fail && !warnings.is_empty() {
        return Err(WireError::BadRequest(format!(
            "Warnings found during import: {}",
            warnings.join("; ")
        )));
    }
    Ok((def, warnings))
}

fn with_warnings(mut v: Value, warnings: Vec<String>) -> Value {
    if let Value::Object(m) = &mut v {
        if !warnings.is_empty() {
            m.insert("warnings".into(), Value::from(warnings));
        }
    }
    v
}

async fn import_api(State(m): Shared, req: Request) -> Reply {
    let (parts, body) = req.into_parts();
    let body = body_bytes(body).await?;
    let (def, warnings) = definition(&parts, &body)?;
    let api = m.apis.import_api(def).await?;
    let v = render::api(&api, m.apis.api_endpoint(&api.id));
    json(StatusCode::CREATED, with_warnings(v, warnings))
}

async fn reimport_api(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, body) = req.into_parts();
    let body = body_bytes(body).await?;
    let (def, warnings) = definition(&parts, &body)?;
    let api = m.apis.reimport_api(&api_id, def).await?;
    let v = render::api(&api, m.apis.api_endpoint(&api.id));
    json(StatusCode::CREATED, with_warnings(v, warnings))
}

async fn export_api(
    State(m): Shared,
    Path((api_id, spec)): Path<(String, String)>,
    req: Request,
) -> Reply {
    let (parts, _) = req.into_parts();
    let q = query(&parts);
    if spec != "OAS30" {
        return Err(WireError::BadRequest(format!(
            "Invalid specification: {spec}. Only OAS30 is supported"
        )));
    }
    let output = q.get("outputType").map_or("JSON", String::as_str);
    if output != "JSON" && output != "YAML" {
        return Err(WireError::BadRequest(format!(
            "Invalid outputType: {output}. Use JSON or YAML"
        )));
    }
    let stage = q.get("stageName").map(String::as_str);
    let include = q.get("includeExtensions").is_none_or(|v| v != "false");
    let api = m.apis.api_as_deployed(&api_id, stage).await?;
    let mut url = m.apis.api_endpoint(&api.id);
    if let Some(st) = stage.filter(|s| *s != "$default") {
        url = format!("{url}/{st}");
    }
    let doc = openapi::export(&api, &url, include);
    let text = if output == "YAML" {
        openapi::to_yaml(&doc)
    } else {
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
    }
    .map_err(|e| WireError::Domain(gatehouse_core::apis::ApiError::Internal(e)))?;
    let mut resp = (StatusCode::OK, text).into_response();
    let ct = if output == "YAML" {
        "application/yaml"
    } else {
        "application/json"
    };
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ct));
    Ok(resp)
}

async fn body_bytes(body: Body) -> Result<Bytes, WireError> {
    body.collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| WireError::BadRequest(format!("Could not read the request body: {e}")))
}

// Tags

async fn get_tags(State(m): Shared, Path(arn): Path<String>) -> Reply {
    let tags = m.apis.get_tags(&arn).await?;
    json(StatusCode::OK, serde_json::json!({ "tags": tags }))
}

async fn tag_resource(State(m): Shared, Path(arn): Path<String>, body: Bytes) -> Reply {
    let o = parse::object(&body)?;
    let tags = parse::tags(&o)?;
    m.apis.tag_resource(&arn, tags, &[]).await?;
    json(StatusCode::CREATED, serde_json::json!({}))
}

async fn untag_resource(State(m): Shared, Path(arn): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let keys: Vec<String> = query_pairs(&parts)
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    m.apis.tag_resource(&arn, Default::default(), &keys).await?;
    no_content()
}

// Routes

async fn create_route(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::route(&parse::object(&body)?)?;
    let r = m.apis.create_route(&api_id, input).await?;
    json(StatusCode::CREATED, render::route(&r))
}

async fn get_routes(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m.apis.list_routes(&api_id, max, token.as_deref()).await?;
    json(StatusCode::OK, render::page(&items, next, render::route))
}

async fn get_route(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    json(
        StatusCode::OK,
        render::route(&m.apis.get_route(&api_id, &id).await?),
    )
}

async fn update_route(
    State(m): Shared,
    Path((api_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let input = parse::route(&parse::object(&body)?)?;
    let r = m.apis.update_route(&api_id, &id, input).await?;
    json(StatusCode::OK, render::route(&r))
}

async fn delete_route(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    m.apis.delete_route(&api_id, &id).await?;
    no_content()
}

// Integrations

async fn create_integration(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::integration(&parse::object(&body)?)?;
    let i = m.apis.create_integration(&api_id, input).await?;
    json(StatusCode::CREATED, render::integration(&i))
}

async fn get_integrations(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m
        .apis
        .list_integrations(&api_id, max, token.as_deref())
        .await?;
    json(
        StatusCode::OK,
        render::page(&items, next, render::integration),
    )
}

async fn get_integration(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    json(
        StatusCode::OK,
        render::integration(&m.apis.get_integration(&api_id, &id).await?),
    )
}

async fn update_integration(
    State(m): Shared,
    Path((api_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let input = parse::integration(&parse::object(&body)?)?;
    let i = m.apis.update_integration(&api_id, &id, input).await?;
    json(StatusCode::OK, render::integration(&i))
}

async fn delete_integration(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    m.apis.delete_integration(&api_id, &id).await?;
    no_content()
}

// Authorizers

async fn create_authorizer(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::authorizer(&parse::object(&body)?)?;
    let a = m.apis.create_authorizer(&api_id, input).await?;
    json(StatusCode::CREATED, render::authorizer(&a))
}

async fn get_authorizers(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m
        .apis
        .list_authorizers(&api_id, max, token.as_deref())
        .await?;
    json(
        StatusCode::OK,
        render::page(&items, next, render::authorizer),
    )
}

async fn get_authorizer(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    json(
        StatusCode::OK,
        render::authorizer(&m.apis.get_authorizer(&api_id, &id).await?),
    )
}

async fn update_authorizer(
    State(m): Shared,
    Path((api_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let input = parse::authorizer(&parse::object(&body)?)?;
    let a = m.apis.update_authorizer(&api_id, &id, input).await?;
    json(StatusCode::OK, render::authorizer(&a))
}

async fn delete_authorizer(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    m.apis.delete_authorizer(&api_id, &id).await?;
    no_content()
}

// Stages

async fn create_stage(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::stage(&parse::object(&body)?)?;
    let s = m.apis.create_stage(&api_id, input).await?;
    json(StatusCode::CREATED, render::stage(&s))
}

async fn get_stages(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m.apis.list_stages(&api_id, max, token.as_deref()).await?;
    json(StatusCode::OK, render::page(&items, next, render::stage))
}

async fn get_stage(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    json(
        StatusCode::OK,
        render::stage(&m.apis.get_stage(&api_id, &id).await?),
    )
}

async fn update_stage(
    State(m): Shared,
    Path((api_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let o = parse::object(&body)?;
    let input = parse::stage(&o)?;
    let s = m.apis.update_stage(&api_id, &id, input).await?;
    json(StatusCode::OK, render::stage(&s))
}

async fn delete_stage(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    m.apis.delete_stage(&api_id, &id).await?;
    no_content()
}

async fn delete_route_settings(
    State(m): Shared,
    Path((api_id, id, route_key)): Path<(String, String, String)>,
) -> Reply {
    m.apis
        .delete_route_settings(&api_id, &id, &route_key)
        .await?;
    no_content()
}

async fn delete_access_log_settings(
    State(m): Shared,
    Path((api_id, id)): Path<(String, String)>,
) -> Reply {
    m.apis.delete_access_log_settings(&api_id, &id).await?;
    no_content()
}

// Deployments

async fn create_deployment(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let o = parse::object(&body)?;
    let d = m
        .apis
        .create_deployment(
            &api_id,
            parse::string(&o, "description")?,
            parse::string(&o, "stageName")?,
        )
        .await?;
    json(StatusCode::CREATED, render::deployment(&d))
}

async fn get_deployments(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let (max, token) = paging(&parts)?;
    let (items, next) = m
        .apis
        .list_deployments(&api_id, max, token.as_deref())
        .await?;
    json(
        StatusCode::OK,
        render::page(&items, next, render::deployment),
    )
}

async fn get_deployment(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    json(
        StatusCode::OK,
        render::deployment(&m.apis.get_deployment(&api_id, &id).await?),
    )
}

async fn update_deployment(
    State(m): Shared,
    Path((api_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let o = parse::object(&body)?;
    let d = m
        .apis
        .update_deployment(&api_id, &id, parse::string(&o, "description")?)
        .await?;
    json(StatusCode::OK, render::deployment(&d))
}

async fn delete_deployment(State(m): Shared, Path((api_id, id)): Path<(String, String)>) -> Reply {
    m.apis.delete_deployment(&api_id, &id).await?;
    no_content()
}
