//! The adapter without sockets: admission, status codes and the wire shapes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gatehouse_core::apis::ApiService;
use gatehouse_core::env::{ManualClock, OsRandom};
use gatehouse_sigv4::Credentials;
use gatehouse_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{router, Admission, MgmtApi};

fn app(dir: &tempfile::TempDir, admission: Admission) -> axum::Router {
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    let apis = Arc::new(ApiService::new(
        Arc::new(store),
        Arc::new(ManualClock::new(1_700_000_000)),
        Arc::new(OsRandom),
        "localhost:8080".into(),
    ));
    router(Arc::new(MgmtApi { apis, admission }))
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let kind = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, kind, v)
}

#[tokio::test]
async fn unsigned_calls_are_refused_like_aws_rest_services() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Credentials::new("AKID", "secret");
    let app = app(&dir, Admission::Verify(Arc::new(keys)));
    let (status, kind, body) = call(&app, "GET", "/v2/apis", Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(kind.as_deref(), Some("MissingAuthenticationTokenException"));
    assert_eq!(body, json!({ "message": "Missing Authentication Token" }));
}

#[tokio::test]
async fn create_and_read_back_in_aws_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir, Admission::AcceptAny);
    let (status, _, api) = call(
        &app,
        "POST",
        "/v2/apis",
        json!({ "name": "pets", "protocolType": "HTTP", "target": "https://example.com" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = api["apiId"].as_str().unwrap().to_string();
    assert_eq!(
        api["apiEndpoint"],
        json!(format!("http://{id}.execute-api.localhost:8080"))
    );
    assert_eq!(api["createdDate"], json!("2023-11-14T22:13:20Z"));
    assert_eq!(api["tags"], json!({}));

    let (status, _, stage) = call(
        &app,
        "GET",
        &format!("/v2/apis/{id}/stages/%24default"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stage["stageName"], json!("$default"));
    assert_eq!(stage["autoDeploy"], json!(true));

    let (status, _, page) = call(
        &app,
        "GET",
        &format!("/v2/apis/{id}/routes?maxResults=1"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["routeKey"], json!("$default"));
    assert!(page.get("nextToken").is_none());

    let (status, _, _) = call(&app, "DELETE", &format!("/v2/apis/{id}"), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn errors_carry_type_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir, Admission::AcceptAny);
    let (status, kind, body) = call(&app, "GET", "/v2/apis/nosuchapi0", Value::Null).await;
    assert_eq!(
        (status, kind.as_deref()),
        (StatusCode::NOT_FOUND, Some("NotFoundException"))
    );
    assert!(body["message"].as_str().unwrap().contains("nosuchapi0"));

    let (_, _, api) = call(
        &app,
        "POST",
        "/v2/apis",
        json!({ "name": "x", "protocolType": "HTTP" }),
    )
    .await;
    let id = api["apiId"].as_str().unwrap();
    let uri = format!("/v2/apis/{id}/routes");
    let (status, kind, _) =
        call(&app, "POST", &uri, json!({ "routeKey": "GET /{proxy+}/x" })).await;
    assert_eq!(
        (status, kind.as_deref()),
        (StatusCode::BAD_REQUEST, Some("BadRequestException"))
    );
    call(&app, "POST", &uri, json!({ "routeKey": "GET /a" })).await;
    let (status, kind, _) = call(&app, "POST", &uri, json!({ "routeKey": "GET /a" })).await;
    assert_eq!(
        (status, kind.as_deref()),
        (StatusCode::CONFLICT, Some("ConflictException"))
    );
    let (status, kind, _) = call(&app, "POST", &uri, json!({ "routeKey": 5 })).await;
    assert_eq!(
        (status, kind.as_deref()),
        (StatusCode::BAD_REQUEST, Some("BadRequestException"))
    );
}
