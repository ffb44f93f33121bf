//! API keys, usage plans, usage plan keys and usage on the v1 wire: `/apikeys…` and
//! `/usageplans…` as botocore's `apigateway` model shapes them. Parse → one `ApiService` call
//! → render; key values leave only in the answers that carry them (CreateApiKey, GetApiKey
//! with `includeValue`, usage plan keys), as on AWS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::Router;
use gatehouse_core::apis::keys::{
    ApiKeyInput, ApiKeyQuery, ApiKeyView, ApiStageInput, Usage, UsagePlanInput, UsagePlanKeyView,
};
use gatehouse_core::store::api_keys::{QuotaSettings, ThrottleSettings, UsagePlan};
use serde_json::{json, Map, Value};

use super::parse::{page, patch_operations};
use super::render;
use crate::error::WireError;
use crate::parse::{boolean, integer, obj, object, present, string, string_map};
use crate::{json, query, MgmtApi, Reply, Shared};

type R<T = ()> = Result<T, WireError>;

pub fn routes() -> Router<Arc<MgmtApi>> {
    Router::new()
        .route("/apikeys", get(get_api_keys).post(create_api_key))
        .route(
            "/apikeys/{api_key}",
            get(get_api_key)
                .patch(update_api_key)
                .delete(delete_api_key),
        )
        .route("/usageplans", get(get_usage_plans).post(create_usage_plan))
        .route(
            "/usageplans/{plan_id}",
            get(get_usage_plan)
                .patch(update_usage_plan)
                .delete(delete_usage_plan),
        )
        .route(
            "/usageplans/{plan_id}/keys",
            get(get_usage_plan_keys).post(create_usage_plan_key),
        )
        .route(
            "/usageplans/{plan_id}/keys/{key_id}",
            get(get_usage_plan_key).delete(delete_usage_plan_key),
        )
        .route("/usageplans/{plan_id}/usage", get(get_usage))
        .route(
            "/usageplans/{plan_id}/keys/{key_id}/usage",
            patch(update_usage),
        )
}

fn bad(member: &str, what: &str) -> WireError {
    WireError::BadRequest(format!(
        "Invalid input for member {member}: expected {what}"
    ))
}

fn truthy(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// Parsing

fn throttle(o: &Map<String, Value>, k: &str) -> R<Option<ThrottleSettings>> {
    let Some(t) = obj(o, k)? else {
        return Ok(None);
    };
    let rate = present(t, "rateLimit")
        .map(|v| v.as_f64().ok_or_else(|| bad("rateLimit", "a number")))
        .transpose()?;
    Ok(Some(ThrottleSettings {
        burst_limit: integer(t, "burstLimit")?,
        rate_limit: rate,
    }))
}

fn quota(o: &Map<String, Value>) -> R<Option<QuotaSettings>> {
    let Some(q) = obj(o, "quota")? else {
        return Ok(None);
    };
    Ok(Some(QuotaSettings {
        limit: integer(q, "limit")?.ok_or_else(|| bad("quota.limit", "an integer"))?,
        offset: integer(q, "offset")?.unwrap_or(0),
        period: string(q, "period")?.ok_or_else(|| bad("quota.period", "DAY, WEEK or MONTH"))?,
    }))
}

fn api_stages(o: &Map<String, Value>) -> R<Vec<ApiStageInput>> {
    let Some(list) = present(o, "apiStages") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("apiStages", "a list of API stages"))?;
    list.iter()
        .map(|s| {
            let s = s
                .as_object()
                .ok_or_else(|| bad("apiStages", "a list of API stages"))?;
            let mut per_method = BTreeMap::new();
            if let Some(t) = obj(s, "throttle")? {
                for k in t.keys() {
                    if let Some(v) = throttle(t, k)? {
                        per_method.insert(k.clone(), v);
                    }
                }
            }
            Ok(ApiStageInput {
                api_id: string(s, "apiId")?.ok_or_else(|| bad("apiStages.apiId", "a string"))?,
                stage: string(s, "stage")?.ok_or_else(|| bad("apiStages.stage", "a string"))?,
                throttle: per_method,
            })
        })
        .collect()
}

fn stage_keys(o: &Map<String, Value>) -> R<Vec<(String, String)>> {
    let Some(list) = present(o, "stageKeys") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("stageKeys", "a list of stage keys"))?;
    list.iter()
        .map(|s| {
            let s = s
                .as_object()
                .ok_or_else(|| bad("stageKeys", "a list of stage keys"))?;
            Ok((
                string(s, "restApiId")?.unwrap_or_default(),
                string(s, "stageName")?.unwrap_or_default(),
            ))
        })
        .collect()
}

// Rendering

fn throttle_json(t: &ThrottleSettings) -> Value {
    let mut m = Map::new();
    if let Some(b) = t.burst_limit {
        m.insert("burstLimit".into(), json!(b));
    }
    if let Some(r) = t.rate_limit {
        m.insert("rateLimit".into(), json!(r));
    }
    Value::Object(m)
}

fn api_key_json(v: &ApiKeyView) -> Value {
    let k = &v.key;
    let mut m = Map::new();
    m.insert("id".into(), json!(k.id));
    if let Some(value) = &v.value {
        m.insert("value".into(), json!(value));
    }
    m.insert("name".into(), json!(k.name));
    if let Some(c) = &k.customer_id {
        m.insert("customerId".into(), json!(c));
    }
    if let Some(d) = &k.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("enabled".into(), json!(k.enabled));
    m.insert("createdDate".into(), json!(k.created));
    m.insert("lastUpdatedDate".into(), json!(k.last_updated));
    m.insert("stageKeys".into(), json!(k.stage_keys));
    if !k.tags.is_empty() {
        m.insert("tags".into(), json!(k.tags));
    }
    Value::Object(m)
}

fn usage_plan_json(p: &UsagePlan) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("name".into(), json!(p.name));
    if let Some(d) = &p.description {
        m.insert("description".into(), json!(d));
    }
    let stages: Vec<Value> = p
        .api_stages
        .iter()
        .map(|s| {
            let mut st = Map::new();
            st.insert("apiId".into(), json!(s.api_id));
            st.insert("stage".into(), json!(s.stage));
            if !s.throttle.is_empty() {
                let t: Map<String, Value> = s
                    .throttle
                    .iter()
                    .map(|(k, v)| (k.clone(), throttle_json(v)))
                    .collect();
                st.insert("throttle".into(), Value::Object(t));
            }
            Value::Object(st)
        })
        .collect();
    m.insert("apiStages".into(), Value::Array(stages));
    if let Some(t) = &p.throttle {
        m.insert("throttle".into(), throttle_json(t));
    }
    if let Some(q) = &p.quota {
        m.insert(
            "quota".into(),
            json!({ "limit": q.limit, "offset": q.offset, "period": q.period }),
        );
    }
    if !p.tags.is_empty() {
        m.insert("tags".into(), json!(p.tags));
    }
    Value::Object(m)
}

fn usage_plan_key_json(k: &UsagePlanKeyView) -> Value {
    json!({ "id": k.id, "type": k.key_type, "value": k.value, "name": k.name })
}

fn usage_json(u: &Usage) -> Value {
    let mut m = Map::new();
    m.insert("usagePlanId".into(), json!(u.usage_plan_id));
    m.insert("startDate".into(), json!(u.start_date));
    m.insert("endDate".into(), json!(u.end_date));
    if let Some(p) = &u.position {
        m.insert("position".into(), json!(p));
    }
    // botocore reads `items` from the `values` member.
    m.insert("values".into(), json!(u.items));
    Value::Object(m)
}

// API keys

async fn create_api_key(State(m): Shared, req: Request) -> Reply {
    let (parts, body) = req.into_parts();
    let q = query(&parts);
    let body = crate::body_bytes(body).await?;
    if q.get("mode").is_some_and(|v| v == "import") {
        if !q
            .get("format")
            .is_some_and(|f| f.eq_ignore_ascii_case("csv"))
        {
            return Err(WireError::BadRequest(
                "Invalid format specified: only csv is supported".into(),
            ));
        }
        let csv = std::str::from_utf8(&body)
            .map_err(|_| WireError::BadRequest("Invalid API keys file: not UTF-8".into()))?;
        let (ids, warnings) = m
            .apis
            .import_api_keys(csv, truthy(&q, "failonwarnings"))
            .await?;
        return json(
            StatusCode::CREATED,
            json!({ "ids": ids, "warnings": warnings }),
        );
    }
    let o = object(&body)?;
    let input = ApiKeyInput {
        name: string(&o, "name")?,
        description: string(&o, "description")?,
        enabled: boolean(&o, "enabled")?,
        generate_distinct_id: boolean(&o, "generateDistinctId")?,
        value: string(&o, "value")?,
        stage_keys: stage_keys(&o)?,
        customer_id: string(&o, "customerId")?,
        tags: string_map(&o, "tags")?.unwrap_or_default(),
    };
    let key = m.apis.create_api_key(input).await?;
    json(StatusCode::CREATED, api_key_json(&key))
}

async fn get_api_keys(State(m): Shared, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let q = query(&parts);
    let filter = ApiKeyQuery {
        name: q.get("name").cloned(),
        customer_id: q.get("customerId").cloned(),
        include_values: truthy(&q, "includeValues"),
    };
    let (keys, next) = m.apis.get_api_keys(&filter, &page(&q)?).await?;
    json(StatusCode::OK, render::page(&keys, next, api_key_json))
}

async fn get_api_key(State(m): Shared, Path(id): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let include = truthy(&query(&parts), "includeValue");
    let key = m.apis.get_api_key(&id, include).await?;
    json(StatusCode::OK, api_key_json(&key))
}

async fn update_api_key(State(m): Shared, Path(id): Path<String>, body: Bytes) -> Reply {
    let ops = patch_operations(&object(&body)?)?;
    let key = m.apis.update_api_key(&id, &ops).await?;
    json(StatusCode::OK, api_key_json(&key))
}

async fn delete_api_key(State(m): Shared, Path(id): Path<String>) -> Reply {
    m.apis.delete_api_key(&id).await?;
    super::accepted()
}

// Usage plans

async fn create_usage_plan(State(m): Shared, body: Bytes) -> Reply {
    let o = object(&body)?;
    let input = UsagePlanInput {
        name: string(&o, "name")?,
        description: string(&o, "description")?,
        api_stages: api_stages(&o)?,
        throttle: throttle(&o, "throttle")?,
        quota: quota(&o)?,
        tags: string_map(&o, "tags")?.unwrap_or_default(),
    };
    let plan = m.apis.create_usage_plan(input).await?;
    json(StatusCode::CREATED, usage_plan_json(&plan))
}

async fn get_usage_plans(State(m): Shared, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let q = query(&parts);
    let (plans, next) = m
        .apis
        .get_usage_plans(q.get("keyId").map(String::as_str), &page(&q)?)
        .await?;
    json(StatusCode::OK, render::page(&plans, next, usage_plan_json))
}

async fn get_usage_plan(State(m): Shared, Path(id): Path<String>) -> Reply {
    json(
        StatusCode::OK,
        usage_plan_json(&m.apis.get_usage_plan(&id).await?),
    )
}

async fn update_usage_plan(State(m): Shared, Path(id): Path<String>, body: Bytes) -> Reply {
    let ops = patch_operations(&object(&body)?)?;
    let plan = m.apis.update_usage_plan(&id, &ops).await?;
    json(StatusCode::OK, usage_plan_json(&plan))
}

async fn delete_usage_plan(State(m): Shared, Path(id): Path<String>) -> Reply {
    m.apis.delete_usage_plan(&id).await?;
    super::accepted()
}

// Usage plan keys

async fn create_usage_plan_key(State(m): Shared, Path(plan): Path<String>, body: Bytes) -> Reply {
    let o = object(&body)?;
    let key_id = string(&o, "keyId")?
        .ok_or_else(|| WireError::BadRequest("Invalid input: keyId is required".into()))?;
    let key_type = string(&o, "keyType")?
        .ok_or_else(|| WireError::BadRequest("Invalid input: keyType is required".into()))?;
    let k = m
        .apis
        .create_usage_plan_key(&plan, &key_id, &key_type)
        .await?;
    json(StatusCode::CREATED, usage_plan_key_json(&k))
}

async fn get_usage_plan_keys(State(m): Shared, Path(plan): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let q = query(&parts);
    let (keys, next) = m
        .apis
        .get_usage_plan_keys(&plan, q.get("name").map(String::as_str), &page(&q)?)
        .await?;
    json(
        StatusCode::OK,
        render::page(&keys, next, usage_plan_key_json),
    )
}

async fn get_usage_plan_key(State(m): Shared, Path((plan, key)): Path<(String, String)>) -> Reply {
    let k = m.apis.get_usage_plan_key(&plan, &key).await?;
    json(StatusCode::OK, usage_plan_key_json(&k))
}

async fn delete_usage_plan_key(
    State(m): Shared,
    Path((plan, key)): Path<(String, String)>,
) -> Reply {
    m.apis.delete_usage_plan_key(&plan, &key).await?;
    super::accepted()
}

// Usage

async fn get_usage(State(m): Shared, Path(plan): Path<String>, req: Request) -> Reply {
    let (parts, _) = req.into_parts();
    let q = query(&parts);
    let date = |k: &str| {
        q.get(k)
            .cloned()
            .ok_or_else(|| WireError::BadRequest(format!("Invalid input: {k} is required")))
    };
    let (start, end) = (date("startDate")?, date("endDate")?);
    let usage = m
        .apis
        .get_usage(
            &plan,
            q.get("keyId").map(String::as_str),
            &start,
            &end,
            &page(&q)?,
        )
        .await?;
    json(StatusCode::OK, usage_json(&usage))
}

async fn update_usage(
    State(m): Shared,
    Path((plan, key)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let ops = patch_operations(&object(&body)?)?;
    let usage = m.apis.update_usage(&plan, &key, &ops).await?;
    json(StatusCode::OK, usage_json(&usage))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use gatehouse_core::apis::ApiService;
    use gatehouse_core::env::{ManualClock, OsRandom};
    use gatehouse_store::sqlite::SqliteStore;
    use http_body_util::BodyExt;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::{router, Admission, MgmtApi};

    fn app(dir: &tempfile::TempDir) -> axum::Router {
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        router(Arc::new(MgmtApi {
            apis: Arc::new(ApiService::new(
                Arc::new(store),
                Arc::new(ManualClock::new(1_795_000_000)),
                Arc::new(OsRandom),
                "localhost:8080".into(),
            )),
            admission: Admission::AcceptAny,
        }))
    }

    async fn call(app: &axum::Router, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v)
    }

    /// A REST API with a MOCK `GET /` deployed to `prod`; its id.
    async fn deployed(app: &axum::Router) -> String {
        let (_, api) = call(app, "POST", "/restapis", r#"{"name":"k"}"#).await;
        let (id, root) = (
            api["id"].as_str().unwrap(),
            api["rootResourceId"].as_str().unwrap(),
        );
        let method = format!("/restapis/{id}/resources/{root}/methods/GET");
        call(
            app,
            "PUT",
            &method,
            r#"{"authorizationType":"NONE","apiKeyRequired":true}"#,
        )
        .await;
        call(
            app,
            "PUT",
            &format!("{method}/integration"),
            r#"{"type":"MOCK"}"#,
        )
        .await;
        let (status, _) = call(
            app,
            "POST",
            &format!("/restapis/{id}/deployments"),
            r#"{"stageName":"prod"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        id.to_string()
    }

    #[tokio::test]
    async fn keys_plans_and_usage_on_the_wire() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(&dir);
        let api = deployed(&app).await;
        let (status, key) = call(
            &app,
            "POST",
            "/apikeys",
            r#"{"name":"k","enabled":true,"value":"0123456789abcdefghijKLMN"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(key["value"], "0123456789abcdefghijKLMN");
        assert_eq!(key["createdDate"], json!(1_795_000_000));
        let id = key["id"].as_str().unwrap();
        let (_, got) = call(&app, "GET", &format!("/apikeys/{id}"), "").await;
        assert!(got.get("value").is_none());
        let (_, got) = call(&app, "GET", &format!("/apikeys/{id}?includeValue=true"), "").await;
        assert_eq!(got["value"], "0123456789abcdefghijKLMN");
        let (_, list) = call(&app, "GET", "/apikeys?includeValues=true&limit=1", "").await;
        assert_eq!(list["item"][0]["id"], id);

        let body = json!({
            "name": "p",
            "apiStages": [{"apiId": api, "stage": "prod",
                           "throttle": {"/GET": {"burstLimit": 1, "rateLimit": 2.5}}}],
            "quota": {"limit": 10, "period": "WEEK"},
        });
        let (status, plan) = call(&app, "POST", "/usageplans", &body.to_string()).await;
        assert_eq!(status, StatusCode::CREATED, "{plan}");
        assert_eq!(
            plan["quota"],
            json!({"limit": 10, "offset": 0, "period": "WEEK"})
        );
        assert_eq!(
            plan["apiStages"][0]["throttle"],
            json!({"/GET": {"burstLimit": 1, "rateLimit": 2.5}})
        );
        let pid = plan["id"].as_str().unwrap();
        let (status, pk) = call(
            &app,
            "POST",
            &format!("/usageplans/{pid}/keys"),
            &json!({"keyId": id, "keyType": "API_KEY"}).to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(pk["type"], "API_KEY");
        let (status, usage) = call(
            &app,
            "GET",
            &format!("/usageplans/{pid}/usage?startDate=2026-11-20&endDate=2026-11-21"),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(usage["values"][id], json!([[0, 10], [0, 10]]));
        assert_eq!(usage["startDate"], "2026-11-20");

        let (status, _) = call(&app, "DELETE", &format!("/usageplans/{pid}/keys/{id}"), "").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, _) = call(&app, "DELETE", &format!("/apikeys/{id}"), "").await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }

    #[tokio::test]
    async fn bad_input_is_a_4xx() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(&dir);
        for (method, uri, body, want) in [
            ("POST", "/apikeys", "{not json", StatusCode::BAD_REQUEST),
            (
                "POST",
                "/apikeys",
                r#"{"enabled":"yes"}"#,
                StatusCode::BAD_REQUEST,
            ),
            (
                "POST",
                "/apikeys",
                r#"{"value":"short"}"#,
                StatusCode::BAD_REQUEST,
            ),
            ("GET", "/apikeys/nope", "", StatusCode::NOT_FOUND),
            (
                "PATCH",
                "/apikeys/nope",
                r#"{"patchOperations":[]}"#,
                StatusCode::NOT_FOUND,
            ),
            ("POST", "/usageplans", r#"{}"#, StatusCode::BAD_REQUEST),
            (
                "POST",
                "/usageplans",
                r#"{"name":"p","quota":{"limit":"x"}}"#,
                StatusCode::BAD_REQUEST,
            ),
            (
                "POST",
                "/usageplans",
                r#"{"name":"p","apiStages":[{"apiId":"x","stage":"y"}]}"#,
                StatusCode::BAD_REQUEST,
            ),
            (
                "GET",
                "/usageplans/nope/usage?startDate=2026-01-01&endDate=2026-01-02",
                "",
                StatusCode::NOT_FOUND,
            ),
            (
                "POST",
                "/apikeys?mode=import&format=json",
                "",
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (status, v) = call(&app, method, uri, body).await;
            assert_eq!(status, want, "{method} {uri} {body}: {v}");
            assert!(v["message"].is_string(), "{v}");
        }
        let (_, plan) = call(&app, "POST", "/usageplans", r#"{"name":"p"}"#).await;
        let pid = plan["id"].as_str().unwrap();
        for q in [
            "",
            "?startDate=2026-01-01",
            "?startDate=x&endDate=2026-01-01",
        ] {
            let (status, _) = call(&app, "GET", &format!("/usageplans/{pid}/usage{q}"), "").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        }
        let (status, _) = call(
            &app,
            "PATCH",
            &format!("/usageplans/{pid}"),
            r#"{"patchOperations":[{"op":"replace","path":"/quota/period","value":"YEAR"}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
