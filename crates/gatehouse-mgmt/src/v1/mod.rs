//! The Amazon API Gateway (v1) management wire adapter: the REST JSON API under `/restapis…`
//! and `/tags/…` that `aws apigateway` and boto3's `apigateway` client call. Like the v2
//! adapter, each handler parses its request, calls one `ApiService` function and renders the
//! result; it sits behind the same SigV4 admission.

mod keys;
mod openapi;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::error::WireError;
use crate::parse::object;
use crate::{json, query, query_pairs, MgmtApi, Reply, Shared};
use gatehouse_core::apis::rest::{PutMode, RestApiDefinition};

const METHOD: &str = "/restapis/{restapi_id}/resources/{resource_id}/methods/{http_method}";

/// The `/restapis…` and `/tags/…` routes (state: the management API).
pub fn routes() -> Router<Arc<MgmtApi>> {
    api_routes()
        .method_not_allowed_fallback(unknown_operation)
        .layer(axum::middleware::map_response(throttle_when_unavailable))
}

/// A method the path does not take: AWS-shaped, not a bare 405.
async fn unknown_operation(req: Request) -> Reply {
    Err(WireError::Domain(
        gatehouse_core::apis::ApiError::not_found(format!(
            "Invalid operation: {} {} is not an API Gateway operation",
            req.method(),
            req.uri().path()
        )),
    ))
}

/// v1's model has no ServiceUnavailableException: a busy or unreachable store is answered
/// with 429 TooManyRequestsException and `Retry-After`, which the SDKs retry by themselves.
async fn throttle_when_unavailable(mut resp: Response) -> Response {
    let unavailable = resp.status() == StatusCode::SERVICE_UNAVAILABLE
        && resp
            .headers()
            .get("x-amzn-errortype")
            .is_some_and(|v| v == "ServiceUnavailableException");
    if unavailable {
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        let h = resp.headers_mut();
        h.insert(
            "x-amzn-errortype",
            http::HeaderValue::from_static("TooManyRequestsException"),
        );
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
    }
    resp
}

fn api_routes() -> Router<Arc<MgmtApi>> {
    Router::new()
        .route("/restapis", get(get_rest_apis).post(create_rest_api))
        .route(
            "/restapis/{restapi_id}",
            get(get_rest_api)
                .patch(update_rest_api)
                .delete(delete_rest_api)
                .put(put_rest_api),
        )
        .route("/restapis/{restapi_id}/resources", get(get_resources))
        .route(
            "/restapis/{restapi_id}/resources/{resource_id}",
            get(get_resource)
                .post(create_resource)
                .patch(update_resource)
                .delete(delete_resource),
        )
        .route(
            METHOD,
            get(get_method)
                .put(put_method)
                .patch(update_method)
                .delete(delete_method)
                .post(test_invoke_method),
        )
        .route(
            &format!("{METHOD}/responses/{{status_code}}"),
            get(get_method_response)
                .put(put_method_response)
                .patch(update_method_response)
                .delete(delete_method_response),
        )
        .route(
            &format!("{METHOD}/integration"),
            get(get_integration)
                .put(put_integration)
                .patch(update_integration)
                .delete(delete_integration),
        )
        .route(
            &format!("{METHOD}/integration/responses/{{status_code}}"),
            get(get_integration_response)
                .put(put_integration_response)
                .patch(update_integration_response)
                .delete(delete_integration_response),
        )
        .route(
            "/restapis/{restapi_id}/authorizers",
            get(get_authorizers).post(create_authorizer),
        )
        .route(
            "/restapis/{restapi_id}/authorizers/{authorizer_id}",
            get(get_authorizer)
                .patch(update_authorizer)
                .delete(delete_authorizer)
                .post(test_invoke_authorizer),
        )
        .route(
            "/restapis/{restapi_id}/deployments",
            get(get_deployments).post(create_deployment),
        )
        .route(
            "/restapis/{restapi_id}/deployments/{deployment_id}",
            get(get_deployment)
                .patch(update_deployment)
                .delete(delete_deployment),
        )
        .route(
            "/restapis/{restapi_id}/stages",
            get(get_stages).post(create_stage),
        )
        .route(
            "/restapis/{restapi_id}/stages/{stage_name}",
            get(get_stage).patch(update_stage).delete(delete_stage),
        )
        .route(
            "/restapis/{restapi_id}/stages/{stage_name}/exports/{export_type}",
            get(get_export),
        )
        .route(
            "/tags/{resource_arn}",
            get(get_tags).put(tag_resource).delete(untag_resource),
        )
        .merge(keys::routes())
}

fn accepted() -> Reply {
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::ACCEPTED,
    ))
}

fn no_content() -> Reply {
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::NO_CONTENT,
    ))
}

type Ids2 = Path<(String, String)>;
type Ids3 = Path<(String, String, String)>;
type Ids4 = Path<(String, String, String, String)>;

// REST APIs

async fn create_rest_api(State(m): Shared, req: Request) -> Reply {
    let (parts, body) = req.into_parts();
    let body = crate::body_bytes(body).await?;
    if query(&parts).get("mode").is_some_and(|v| v == "import") {
        let (def, warnings) = definition(&parts, &body)?;
        let api = m.apis.import_rest_api(def).await?;
        return json(
            StatusCode::CREATED,
            with_warnings(render::rest_api(&api), warnings),
        );
    }
    let input = parse::rest_api(&object(&body)?)?;
    let api = m.apis.create_rest_api(input).await?;
    json(StatusCode::CREATED, render::rest_api(&api))
}

/// The OpenAPI document of an ImportRestApi / PutRestApi body (the raw document), checked
/// against `failonwarnings`.
fn definition(
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(RestApiDefinition, Vec<String>), WireError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        WireError::BadRequest("Invalid OpenAPI input: the body is not UTF-8".into())
    })?;
    if text.trim().is_empty() {
        return Err(WireError::BadRequest(
            "Invalid OpenAPI input: the body is empty".into(),
        ));
    }
    let (mut def, warnings) = openapi::parse(text)?;
    let q = query(parts);
    if let Some(types) = q.get("endpointConfigurationTypes") {
        def.endpoint_types = Some(vec![types.clone()]);
    }
    let fail = q
        .get("failonwarnings")
        .or_else(|| q.get("failOnWarnings"))
        .is_some_and(|v| v == "true");
    if fail && !warnings.is_empty() {
        return Err(WireError::BadRequest(format!(
            "Warnings found during import: {}",
            warnings.join("; ")
        )));
    }
    Ok((def, warnings))
}

fn with_warnings(mut v: serde_json::Value, warnings: Vec<String>) -> serde_json::Value {
    if let serde_json::Value::Object(m) = &mut v {
        if !warnings.is_empty() {
            m.insert("warnings".into(), warnings.into());
        }
    }
    v
}

/// PutRestApi: `mode=merge` (the default) or `overwrite`.
async fn put_rest_api(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, body) = req.into_parts();
    let body = crate::body_bytes(body).await?;
    let mode = match query(&parts).get("mode").map(String::as_str) {
        None | Some("merge") => PutMode::Merge,
        Some("overwrite") => PutMode::Overwrite,
        Some(other) => {
            return Err(WireError::BadRequest(format!(
                "Invalid put mode specified: {other}. Valid values are merge and overwrite"
            )))
        }
    };
    let (def, warnings) = definition(&parts, &body)?;
    let api = m.apis.put_rest_api(&api_id, def, mode).await?;
    json(
        StatusCode::OK,
        with_warnings(render::rest_api(&api), warnings),
    )
}

/// GetExport: `oas30` or `swagger`, JSON or YAML by `Accept`, with the API Gateway extensions
/// when `extensions` asks (`integrations`, `authorizers`, `apigateway` for both).
async fn get_export(
    State(m): Shared,
    Path((api_id, stage, export_type)): Ids3,
    req: Request,
) -> Reply {
    let (parts, _) = req.into_parts();
    let oas3 = match export_type.as_str() {
        "oas30" => true,
        "swagger" => false,
        other => {
            return Err(WireError::BadRequest(format!(
                "Invalid export type specified: {other}. Valid values are oas30 and swagger"
            )))
        }
    };
    let accept = parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let yaml = accept.contains("yaml");
    if !yaml && !accept.contains("json") && !accept.contains("*/*") {
        return Err(WireError::BadRequest(format!(
            "Invalid Accept header: {accept}. Use application/json or application/yaml"
        )));
    }
    let q = query(&parts);
    let ext: Vec<&str> = q
        .get("extensions")
        .map(|e| e.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let options = openapi::ExportOptions {
        oas3,
        integrations: ext
            .iter()
            .any(|e| *e == "integrations" || *e == "apigateway"),
        authorizers: ext
            .iter()
            .any(|e| *e == "authorizers" || *e == "apigateway"),
    };
    let (api, snapshot) = m.apis.rest_stage_snapshot(&api_id, &stage).await?;
    let doc = openapi::export(
        &api,
        &snapshot,
        &stage,
        &m.apis.api_endpoint(&api.id),
        &options,
    );
    let text = if yaml {
        crate::openapi::to_yaml(&doc)
    } else {
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
    }
    .map_err(|e| WireError::Domain(gatehouse_core::apis::ApiError::Internal(e)))?;
    let (ct, ext_name) = if yaml {
        ("application/yaml", "yaml")
    } else {
        ("application/json", "json")
    };
    let mut resp = axum::response::IntoResponse::into_response((StatusCode::OK, text));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(ct),
    );
    let disposition = format!("attachment; filename=\"{export_type}_{api_id}_{stage}.{ext_name}\"");
    if let Ok(v) = http::HeaderValue::from_str(&disposition) {
        h.insert(http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn get_rest_apis(State(m): Shared, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let page = parse::page(&query(&parts))?;
    let (apis, next) = m.apis.list_rest_apis(&page).await?;
    json(StatusCode::OK, render::page(&apis, next, render::rest_api))
}

async fn get_rest_api(State(m): Shared, Path(api_id): Path<String>) -> Reply {
    json(
        StatusCode::OK,
        render::rest_api(&m.apis.get_rest_api(&api_id).await?),
    )
}

async fn update_rest_api(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let api = m.apis.update_rest_api(&api_id, &ops).await?;
    json(StatusCode::OK, render::rest_api(&api))
}

async fn delete_rest_api(State(m): Shared, Path(api_id): Path<String>) -> Reply {
    m.apis.delete_rest_api(&api_id).await?;
    accepted()
}

// Resources

async fn get_resources(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let page = parse::page(&query(&parts))?;
    let embed = parse::embeds(&query_pairs(&parts), "methods");
    let (items, next) = m.apis.get_resources(&api_id, &page).await?;
    json(
        StatusCode::OK,
        render::page(&items, next, |r| render::resource(r, embed)),
    )
}

async fn get_resource(State(m): Shared, Path((api_id, id)): Ids2, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let embed = parse::embeds(&query_pairs(&parts), "methods");
    let r = m.apis.get_resource(&api_id, &id).await?;
    json(StatusCode::OK, render::resource(&r, embed))
}

async fn create_resource(State(m): Shared, Path((api_id, parent)): Ids2, body: Bytes) -> Reply {
    let o = object(&body)?;
    let part = crate::parse::string(&o, "pathPart")?
        .ok_or_else(|| WireError::BadRequest("Invalid input: pathPart is required".into()))?;
    let r = m.apis.create_resource(&api_id, &parent, &part).await?;
    json(StatusCode::CREATED, render::resource(&r, false))
}

async fn update_resource(State(m): Shared, Path((api_id, id)): Ids2, body: Bytes) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let r = m.apis.update_resource(&api_id, &id, &ops).await?;
    json(StatusCode::OK, render::resource(&r, false))
}

async fn delete_resource(State(m): Shared, Path((api_id, id)): Ids2) -> Reply {
    m.apis.delete_resource(&api_id, &id).await?;
    accepted()
}

// Methods and method responses

async fn put_method(State(m): Shared, Path((api, res, method)): Ids3, body: Bytes) -> Reply {
    let input = parse::method(&object(&body)?)?;
    let out = m.apis.put_method(&api, &res, &method, input).await?;
    json(StatusCode::CREATED, render::method(&out))
}

async fn get_method(State(m): Shared, Path((api, res, method)): Ids3) -> Reply {
    let out = m.apis.get_method(&api, &res, &method).await?;
    json(StatusCode::OK, render::method(&out))
}

async fn update_method(State(m): Shared, Path((api, res, method)): Ids3, body: Bytes) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let out = m.apis.update_method(&api, &res, &method, &ops).await?;
    json(StatusCode::OK, render::method(&out))
}

async fn delete_method(State(m): Shared, Path((api, res, method)): Ids3) -> Reply {
    m.apis.delete_method(&api, &res, &method).await?;
    no_content()
}

async fn test_invoke_method() -> Reply {
    Err(WireError::BadRequest(
        "TestInvokeMethod is not supported by Gatehouse; call the stage on the gateway listener"
            .into(),
    ))
}

async fn put_method_response(
    State(m): Shared,
    Path((api, res, method, code)): Ids4,
    body: Bytes,
) -> Reply {
    let input = parse::method_response(&object(&body)?)?;
    let out = m
        .apis
        .put_method_response(&api, &res, &method, &code, input)
        .await?;
    json(StatusCode::CREATED, render::method_response(&out))
}

async fn get_method_response(State(m): Shared, Path((api, res, method, code)): Ids4) -> Reply {
    let out = m
        .apis
        .get_method_response(&api, &res, &method, &code)
        .await?;
    json(StatusCode::OK, render::method_response(&out))
}

async fn update_method_response(
    State(m): Shared,
    Path((api, res, method, code)): Ids4,
    body: Bytes,
) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let out = m
        .apis
        .update_method_response(&api, &res, &method, &code, &ops)
        .await?;
    // UpdateMethodResponse answers 201, as botocore's model says.
    json(StatusCode::CREATED, render::method_response(&out))
}

async fn delete_method_response(State(m): Shared, Path((api, res, method, code)): Ids4) -> Reply {
    m.apis
        .delete_method_response(&api, &res, &method, &code)
        .await?;
    no_content()
}

// Integrations and integration responses

async fn put_integration(State(m): Shared, Path((api, res, method)): Ids3, body: Bytes) -> Reply {
    let input = parse::integration(&object(&body)?)?;
    let out = m
        .apis
        .put_rest_integration(&api, &res, &method, input)
        .await?;
    json(StatusCode::CREATED, render::integration(&out))
}

async fn get_integration(State(m): Shared, Path((api, res, method)): Ids3) -> Reply {
    let out = m.apis.get_rest_integration(&api, &res, &method).await?;
    json(StatusCode::OK, render::integration(&out))
}

async fn update_integration(
    State(m): Shared,
    Path((api, res, method)): Ids3,
    body: Bytes,
) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let out = m
        .apis
        .update_rest_integration(&api, &res, &method, &ops)
        .await?;
    json(StatusCode::OK, render::integration(&out))
}

async fn delete_integration(State(m): Shared, Path((api, res, method)): Ids3) -> Reply {
    m.apis.delete_rest_integration(&api, &res, &method).await?;
    no_content()
}

async fn put_integration_response(
    State(m): Shared,
    Path((api, res, method, code)): Ids4,
    body: Bytes,
) -> Reply {
    let input = parse::integration_response(&object(&body)?)?;
    let out = m
        .apis
        .put_integration_response(&api, &res, &method, &code, input)
        .await?;
    json(StatusCode::CREATED, render::integration_response(&out))
}

async fn get_integration_response(State(m): Shared, Path((api, res, method, code)): Ids4) -> Reply {
    let out = m
        .apis
        .get_integration_response(&api, &res, &method, &code)
        .await?;
    json(StatusCode::OK, render::integration_response(&out))
}

async fn update_integration_response(
    State(m): Shared,
    Path((api, res, method, code)): Ids4,
    body: Bytes,
) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let out = m
        .apis
        .update_integration_response(&api, &res, &method, &code, &ops)
        .await?;
    json(StatusCode::OK, render::integration_response(&out))
}

async fn delete_integration_response(
    State(m): Shared,
    Path((api, res, method, code)): Ids4,
) -> Reply {
    m.apis
        .delete_integration_response(&api, &res, &method, &code)
        .await?;
    no_content()
}

// Authorizers

async fn test_invoke_authorizer() -> Reply {
    Err(WireError::BadRequest(
        "TestInvokeAuthorizer is not supported by Gatehouse; call a method the authorizer protects on the gateway listener".into(),
    ))
}

async fn create_authorizer(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::authorizer(&object(&body)?)?;
    let a = m.apis.create_rest_authorizer(&api_id, input).await?;
    json(StatusCode::CREATED, render::authorizer(&a))
}

async fn get_authorizers(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let page = parse::page(&query(&parts))?;
    let (items, next) = m.apis.get_rest_authorizers(&api_id, &page).await?;
    json(
        StatusCode::OK,
        render::page(&items, next, render::authorizer),
    )
}

async fn get_authorizer(State(m): Shared, Path((api_id, id)): Ids2) -> Reply {
    let a = m.apis.get_rest_authorizer(&api_id, &id).await?;
    json(StatusCode::OK, render::authorizer(&a))
}

async fn update_authorizer(State(m): Shared, Path((api_id, id)): Ids2, body: Bytes) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let a = m.apis.update_rest_authorizer(&api_id, &id, &ops).await?;
    json(StatusCode::OK, render::authorizer(&a))
}

async fn delete_authorizer(State(m): Shared, Path((api_id, id)): Ids2) -> Reply {
    m.apis.delete_rest_authorizer(&api_id, &id).await?;
    accepted()
}

// Deployments

async fn create_deployment(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::deployment(&object(&body)?)?;
    let d = m.apis.create_rest_deployment(&api_id, input).await?;
    json(StatusCode::CREATED, render::deployment(&d, None))
}

async fn get_deployments(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let page = parse::page(&query(&parts))?;
    let (items, next) = m.apis.get_rest_deployments(&api_id, &page).await?;
    json(
        StatusCode::OK,
        render::page(&items, next, |d| render::deployment(d, None)),
    )
}

async fn get_deployment(State(m): Shared, Path((api_id, id)): Ids2, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let d = m.apis.get_rest_deployment(&api_id, &id).await?;
    let summary = if parse::embeds(&query_pairs(&parts), "apisummary") {
        Some(m.apis.rest_deployment_summary(&api_id, &id).await?)
    } else {
        None
    };
    json(StatusCode::OK, render::deployment(&d, summary.as_ref()))
}

async fn update_deployment(State(m): Shared, Path((api_id, id)): Ids2, body: Bytes) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let d = m.apis.update_rest_deployment(&api_id, &id, &ops).await?;
    json(StatusCode::OK, render::deployment(&d, None))
}

async fn delete_deployment(State(m): Shared, Path((api_id, id)): Ids2) -> Reply {
    m.apis.delete_rest_deployment(&api_id, &id).await?;
    accepted()
}

// Stages

async fn create_stage(State(m): Shared, Path(api_id): Path<String>, body: Bytes) -> Reply {
    let input = parse::stage(&object(&body)?)?;
    let s = m.apis.create_rest_stage(&api_id, input).await?;
    json(StatusCode::CREATED, render::stage(&s))
}

/// GetStages is not paged: `{"item": [...]}`, optionally only a deployment's stages.
async fn get_stages(State(m): Shared, Path(api_id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let q = query(&parts);
    let items = m
        .apis
        .get_rest_stages(&api_id, q.get("deploymentId").map(String::as_str))
        .await?;
    json(StatusCode::OK, render::page(&items, None, render::stage))
}

async fn get_stage(State(m): Shared, Path((api_id, name)): Ids2) -> Reply {
    let s = m.apis.get_rest_stage(&api_id, &name).await?;
    json(StatusCode::OK, render::stage(&s))
}

async fn update_stage(State(m): Shared, Path((api_id, name)): Ids2, body: Bytes) -> Reply {
    let ops = parse::patch_operations(&object(&body)?)?;
    let s = m.apis.update_rest_stage(&api_id, &name, &ops).await?;
    json(StatusCode::OK, render::stage(&s))
}

async fn delete_stage(State(m): Shared, Path((api_id, name)): Ids2) -> Reply {
    m.apis.delete_rest_stage(&api_id, &name).await?;
    accepted()
}

// Tags

async fn get_tags(State(m): Shared, Path(arn): Path<String>) -> Reply {
    let tags = m.apis.get_tags_v1(&arn).await?;
    json(StatusCode::OK, json!({ "tags": tags }))
}

async fn tag_resource(State(m): Shared, Path(arn): Path<String>, body: Bytes) -> Reply {
    let tags = crate::parse::tags(&object(&body)?)?;
    m.apis.tag_resource_v1(&arn, tags, &[]).await?;
    no_content()
}

async fn untag_resource(State(m): Shared, Path(arn): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let keys: Vec<String> = query_pairs(&parts)
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .collect();
    m.apis
        .tag_resource_v1(&arn, Default::default(), &keys)
        .await?;
    no_content()
}
