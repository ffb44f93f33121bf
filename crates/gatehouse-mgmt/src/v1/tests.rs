//! The v1 adapter without sockets: routes, status codes and wire shapes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use gatehouse_core::apis::{ApiError, ApiService};
use gatehouse_core::env::{ManualClock, OsRandom};
use gatehouse_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{router, Admission, MgmtApi, WireError};

fn app(dir: &tempfile::TempDir) -> axum::Router {
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    let apis = Arc::new(ApiService::new(
        Arc::new(store),
        Arc::new(ManualClock::new(1_700_000_000)),
        Arc::new(OsRandom),
        "localhost:8080".into(),
    ));
    router(Arc::new(MgmtApi {
        apis,
        admission: Admission::AcceptAny,
    }))
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(if body.is_null() {
            String::new()
        } else {
            body.to_string()
        }))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, v)
}

#[tokio::test]
async fn the_tutorial_rest_path_and_its_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir);
    let (status, api) = call(&app, "POST", "/restapis", json!({"name": "t"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(api["createdDate"], json!(1_700_000_000));
    assert_eq!(api["endpointConfiguration"], json!({"types": ["EDGE"]}));
    let id = api["id"].as_str().unwrap();
    let root = api["rootResourceId"].as_str().unwrap();

    let (status, r) = call(
        &app,
        "POST",
        &format!("/restapis/{id}/resources/{root}"),
        json!({"pathPart": "users"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(r["path"], "/users");
    let rid = r["id"].as_str().unwrap();
    let method = format!("/restapis/{id}/resources/{rid}/methods/GET");
    let (status, m) = call(&app, "PUT", &method, json!({"authorizationType": "NONE"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        m,
        json!({"httpMethod": "GET", "authorizationType": "NONE", "apiKeyRequired": false})
    );
    let (status, i) = call(
        &app,
        "PUT",
        &format!("{method}/integration"),
        json!({"type": "MOCK"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(i["cacheKeyParameters"], json!([]));
    let (status, d) = call(
        &app,
        "POST",
        &format!("/restapis/{id}/deployments"),
        json!({"stageName": "dev"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, stages) = call(&app, "GET", &format!("/restapis/{id}/stages"), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stages["item"][0]["deploymentId"], d["id"]);
    let (_, list) = call(
        &app,
        "GET",
        &format!("/restapis/{id}/resources"),
        Value::Null,
    )
    .await;
    let users = list["item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/users")
        .unwrap();
    assert_eq!(users["resourceMethods"], json!({"GET": {}}));

    // Deletes answer as the model says: 202 for the API's parts, 204 for a method's.
    let (status, _) = call(&app, "DELETE", &method, Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, "DELETE", &format!("/restapis/{id}"), Value::Null).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // A method a path does not take is an AWS-shaped 404, not a bare 405.
    let (status, body) = call(&app, "PATCH", "/restapis", Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("PATCH /restapis"));
    let (status, _) = call(
        &app,
        "POST",
        &format!("/restapis/{id}/authorizers/x"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The v2 API answers beside v1.
    let (status, _) = call(&app, "GET", "/v2/apis", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_unavailable_store_is_too_many_requests() {
    let resp = WireError::Domain(ApiError::Unavailable("busy".into())).into_response();
    let resp = super::throttle_when_unavailable(resp).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "TooManyRequestsException"
    );
    assert_eq!(resp.headers()["retry-after"], "1");
    let other = WireError::BadRequest("x".into()).into_response();
    let other = super::throttle_when_unavailable(other).await;
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
}
