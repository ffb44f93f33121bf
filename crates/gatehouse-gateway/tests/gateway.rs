//! The data plane driven through `Gateway::handle` with a real upstream on a local port,
//! tokens signed by a real pool's keys (and by a remote issuer served from a local port).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::body::Body;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::apis::DeployedStage;
use gatehouse_core::crypt::SecretBox;
use gatehouse_core::env::{OsRandom, SystemClock};
use gatehouse_core::messages::Outbox;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::pools::NewPool;
use gatehouse_core::{Directory, DirectoryConfig};
use gatehouse_gateway::{Gateway, GatewayConfig};
use gatehouse_store::apis::{
    Authorizer, Cors, DeploymentSnapshot, HttpApi, Integration, Route, Stage,
};
use gatehouse_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{json, Value};

const PUBLIC_URL: &str = "http://issuer.test:9229";

struct Env {
    _dir: tempfile::TempDir,
    directory: Arc<Directory>,
    gw: Arc<Gateway>,
    pool_id: String,
    upstream: SocketAddr,
}

async fn echo(req: Request) -> impl IntoResponse {
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    (
        [
            ("access-control-allow-origin", "http://evil.example"),
            ("x-upstream", "yes"),
        ],
        Json(json!({
            "method": method,
            "uri": uri,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        })),
    )
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn upstream() -> SocketAddr {
    serve(
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    "slow"
                }),
            )
            // 2 MiB in 64 chunks (chunked on the wire), each chunk's bytes its index.
            .route(
                "/stream",
                axum::routing::any(|| async {
                    let chunks = (0..64u8).map(|i| {
                        Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![i; 32 * 1024]))
                    });
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            )
            .fallback(echo),
    )
    .await
}

/// A Lambda Invoke API double: `echo` returns the event it got as its body, `bare` a JSON
/// object without statusCode, `boom` a function error, `slow` takes a second.
async fn lambda() -> SocketAddr {
    serve(
        Router::new().route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                |axum::extract::Path(name): axum::extract::Path<String>,
                 body: axum::body::Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap();
                    match name.as_str() {
                        "echo" => Json(json!({
                            "statusCode": 202,
                            "headers": {"content-type": "application/json", "x-fn": "echo"},
                            "cookies": ["c=1"],
                            "body": event.to_string(),
                        }))
                        .into_response(),
                        "bare" => Json(json!({"hello": "world"})).into_response(),
                        "boom" => (
                            [("x-amz-function-error", "Unhandled")],
                            Json(json!({"errorMessage": "boom"})),
                        )
                            .into_response(),
                        _ => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            Json(json!({"statusCode": 200})).into_response()
                        }
                    }
                },
            ),
        ),
    )
    .await
}

async fn env() -> Env {
    // As on a data-plane thread: bodyless requests to http upstreams go through the data
    // plane's own client (upstream.rs), the others through the pooled hyper client.
    gatehouse_gateway::upstream::enable_on_this_thread();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("g.db")).unwrap());
    let directory = Arc::new(Directory::new(
        store,
        PasswordHasher::new(1).unwrap(),
        Arc::new(Outbox::new(dir.path().join("outbox.jsonl"))),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        SecretBox::new(&[7u8; 32]).unwrap(),
        DirectoryConfig {
            public_url: PUBLIC_URL.into(),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        },
    ));
    let pool = directory
        .create_pool(NewPool {
            name: "p".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let gw = Gateway::new(
        Arc::clone(&directory),
        GatewayConfig {
            lambda_endpoint: Some(format!("http://{}", lambda().await)),
            account_id: "123456789012".into(),
        },
    )
    .unwrap();
    Env {
        _dir: dir,
        directory,
        gw,
        pool_id: pool.id,
        upstream: upstream().await,
    }
}

fn route(key: &str, target: &str, auth: Option<(&str, &[&str])>) -> Route {
    Route {
        id: key.replace(' ', "_"),
        route_key: key.into(),
        target: Some(format!("integrations/{target}")),
        authorization_type: if auth.is_some() { "JWT" } else { "NONE" }.into(),
        authorizer_id: auth.map(|(a, _)| a.to_string()),
        authorization_scopes: auth
            .map(|(_, s)| s.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default(),
        ..Default::default()
    }
}

fn http_integration(id: &str, uri: String, timeout_ms: i64) -> Integration {
    Integration {
        id: id.into(),
        integration_type: "HTTP_PROXY".into(),
        integration_uri: Some(uri),
        integration_method: Some("ANY".into()),
        payload_format_version: "1.0".into(),
        timeout_in_millis: timeout_ms,
        ..Default::default()
    }
}

fn deploy(api_id: &str, stage: &str, snap: DeploymentSnapshot) -> DeployedStage {
    DeployedStage {
        api: Arc::new(HttpApi {
            id: api_id.into(),
            ..Default::default()
        }),
        stage: Stage {
            name: stage.into(),
            deployment_id: Some(snap.deployment_id.clone()),
            ..Default::default()
        },
        snapshot: Arc::new(snap),
    }
}

fn standard_api(e: &Env, issuer: &str) -> DeploymentSnapshot {
    let up = e.upstream;
    DeploymentSnapshot {
        api_id: "abc123".into(),
        deployment_id: "d1".into(),
        cors: Some(Cors {
            allow_origins: vec!["https://app.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["authorization".into()],
            expose_headers: vec!["x-upstream".into()],
            allow_credentials: None,
            max_age: Some(300),
        }),
        routes: vec![
            route("GET /pets/{id}", "i1", None),
            route("ANY /files/{proxy+}", "i1", None),
            route("GET /private", "i1", Some(("a1", &[]))),
            route("GET /admin", "i1", Some(("a1", &["admin/write"]))),
            route("GET /slow", "slow", None),
            route("GET /down", "down", None),
        ],
        integrations: vec![
            http_integration("i1", format!("http://{up}/{{proxy}}"), 0),
            http_integration("slow", format!("http://{up}/slow"), 300),
            http_integration("down", "http://127.0.0.1:1/x".into(), 0),
        ],
        authorizers: vec![Authorizer {
            id: "a1".into(),
            name: "cognito".into(),
            authorizer_type: "JWT".into(),
            identity_source: vec!["$request.header.Authorization".into()],
            jwt_audience: vec!["client-1".into()],
            jwt_issuer: Some(issuer.into()),
        }],
    }
}

async fn call(
    gw: &Gateway,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, Value) {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = gw.handle(req.body(Body::empty()).unwrap()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, headers, v)
}

const HOST: &str = "abc123.execute-api.localhost:8080";

#[tokio::test]
async fn routes_and_proxies() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let mut snap = standard_api(&e, &issuer);
    // The pets route fills {id} into a different URI.
    snap.integrations.push(http_integration(
        "pets",
        format!("http://{}/backend/pets/{{id}}", e.upstream),
        0,
    ));
    snap.routes[0].target = Some("integrations/pets".into());
    e.gw.install(&[
        deploy("abc123", "$default", snap.clone()),
        deploy("abc123", "prod", snap),
    ]);

    let (s, h, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/pets/a%20b?x=1",
        &[
            ("x-forwarded-for", "10.0.0.1"),
            ("connection", "x-drop"),
            ("x-drop", "1"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uri"], "/backend/pets/a%20b?x=1");
    assert_eq!(v["headers"]["x-forwarded-host"], HOST);
    assert_eq!(v["headers"]["x-forwarded-proto"], "http");
    assert_eq!(v["headers"]["host"], e.upstream.to_string());
    assert!(v["headers"].get("x-drop").is_none());
    assert!(h.contains_key("apigw-requestid"));

    let (s, _, v) = call(
        &e.gw,
        "POST",
        "ABC123.Execute-Api.localhost",
        "/prod/files/a/b/c.txt",
        &[],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["method"], "POST");
    assert_eq!(v["uri"], "/a/b/c.txt");

    for (host, path) in [
        (HOST, "/nothing"),
        (HOST, "/pets"),
        ("other.execute-api.localhost", "/pets/1"),
        ("localhost:8080", "/pets/1"),
    ] {
        let (s, h, v) = call(&e.gw, "GET", host, path, &[]).await;
        assert_eq!(
            (s, v),
            (404, json!({"message": "Not Found"})),
            "{host}{path}"
        );
        assert!(h.contains_key("apigw-requestid"));
    }
}

#[tokio::test]
async fn streams_large_chunked_responses_and_keeps_connections() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    e.gw.install(&[deploy("abc123", "$default", standard_api(&e, &issuer))]);
    for method in ["GET", "DELETE", "GET"] {
        let req = http::Request::builder()
            .method(method)
            .uri("/files/stream")
            .header("host", HOST)
            .body(Body::empty())
            .unwrap();
        let resp = e.gw.handle(req).await;
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("transfer-encoding").is_none());
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.len(), 64 * 32 * 1024, "{method}");
        for (i, chunk) in body.chunks(32 * 1024).enumerate() {
            assert!(
                chunk.iter().all(|b| usize::from(*b) == i),
                "{method}: chunk {i}"
            );
        }
    }
    let req = http::Request::builder()
        .method("HEAD")
        .uri("/files/stream")
        .header("host", HOST)
        .body(Body::empty())
        .unwrap();
    let resp = e.gw.handle(req).await;
    assert_eq!(resp.status(), 200);
    assert!(resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .is_empty());
    // A request with a body goes through the other client, to the same upstream.
    let req = http::Request::builder()
        .method("POST")
        .uri("/files/echo")
        .header("host", HOST)
        .body(Body::from("payload"))
        .unwrap();
    let resp = e.gw.handle(req).await;
    assert_eq!(resp.status(), 200);
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["body"], "payload");
}

#[tokio::test]
async fn integration_failures() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    e.gw.install(&[deploy("abc123", "$default", standard_api(&e, &issuer))]);
    let (s, _, v) = call(&e.gw, "GET", HOST, "/slow", &[]).await;
    assert_eq!((s, v), (503, json!({"message": "Service Unavailable"})));
    let (s, _, v) = call(&e.gw, "GET", HOST, "/down", &[]).await;
    assert_eq!((s, v), (500, json!({"message": "Internal Server Error"})));
    let (s, _, v) = call(
        &e.gw,
        "POST",
        HOST,
        "/files/x",
        &[("content-length", "10485761")],
    )
    .await;
    assert_eq!(s, 413, "{v}");
    let big = "x".repeat(10 * 1024);
    let (s, _, v) = call(&e.gw, "GET", HOST, "/files/x", &[("x-big", &big)]).await;
    assert_eq!(
        (s, v),
        (431, json!({"message": "Request Header Fields Too Large"}))
    );
}

#[tokio::test]
async fn cors_preflight_and_headers() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    e.gw.install(&[deploy("abc123", "$default", standard_api(&e, &issuer))]);
    // Preflight of a JWT route: answered before the authorizer.
    let (s, h, _) = call(
        &e.gw,
        "OPTIONS",
        HOST,
        "/private",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(h["access-control-allow-origin"], "https://app.example");
    assert_eq!(h["access-control-allow-methods"], "GET,POST");
    assert_eq!(h["access-control-max-age"], "300");
    // The backend's CORS headers are replaced by the API's.
    let (s, h, _) = call(
        &e.gw,
        "GET",
        HOST,
        "/pets/1",
        &[("origin", "https://app.example")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["access-control-allow-origin"], "https://app.example");
    assert_eq!(h["access-control-expose-headers"], "x-upstream");
    let (_, h, _) = call(
        &e.gw,
        "GET",
        HOST,
        "/pets/1",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert!(!h.contains_key("access-control-allow-origin"));
}

fn claims(e: &Env, extra: Value) -> Value {
    let now = e.directory.now();
    let mut c = json!({
        "sub": "u1",
        "iss": e.directory.config().issuer(&e.pool_id),
        "client_id": "client-1",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "iat": now,
        "exp": now + 3600,
        "jti": "j1",
        "origin_jti": "o1",
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

#[tokio::test]
async fn jwt_authorizer_for_own_pool() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    e.gw.install(&[deploy("abc123", "$default", standard_api(&e, &issuer))]);
    let sign = |extra: Value| {
        let c = claims(&e, extra);
        let d = Arc::clone(&e.directory);
        let pool = e.pool_id.clone();
        async move { d.sign_with_pool_key(&pool, &c).await.unwrap() }
    };

    let (s, h, v) = call(&e.gw, "GET", HOST, "/private", &[]).await;
    assert_eq!((s, v), (401, json!({"message": "Unauthorized"})));
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));

    let good = sign(json!({})).await;
    for value in [format!("Bearer {good}"), good.clone()] {
        let (s, _, v) = call(&e.gw, "GET", HOST, "/private", &[("authorization", &value)]).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["headers"]["authorization"], value.as_str());
    }
    // An ID token: aud instead of client_id.
    let id = sign(json!({"client_id": null, "aud": "client-1", "token_use": "id"})).await;
    let (s, _, _) = call(&e.gw, "GET", HOST, "/private", &[("authorization", &id)]).await;
    assert_eq!(s, 200);

    let cases = [
        (json!({"exp": e.directory.now() - 120}), "expired"),
        (json!({"client_id": "other"}), "audience"),
        (json!({"aud": "other"}), "audience"),
        (
            json!({"iss": format!("{PUBLIC_URL}/us-east-1_other")}),
            "issuer",
        ),
        (json!({"nbf": e.directory.now() + 600}), "not valid yet"),
        (json!({"exp": null}), "exp"),
    ];
    for (extra, why) in cases {
        let t = sign(extra.clone()).await;
        let (s, h, _) = call(&e.gw, "GET", HOST, "/private", &[("authorization", &t)]).await;
        assert_eq!(s, 401, "{extra}");
        let www = h["www-authenticate"].to_str().unwrap();
        assert!(
            www.contains("error=\"invalid_token\"") && www.contains(why),
            "{www}"
        );
    }
    // A tampered signature.
    let mut bad = good.clone();
    bad.pop();
    bad.push(if good.ends_with('A') { 'B' } else { 'A' });
    let (s, _, _) = call(&e.gw, "GET", HOST, "/private", &[("authorization", &bad)]).await;
    assert_eq!(s, 401);

    // Scopes: one match needed.
    let (s, _, v) = call(&e.gw, "GET", HOST, "/admin", &[("authorization", &good)]).await;
    assert_eq!((s, v), (403, json!({"message": "Forbidden"})));
    let admin = sign(json!({"scope": "openid admin/write"})).await;
    let (s, _, _) = call(&e.gw, "GET", HOST, "/admin", &[("authorization", &admin)]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn snapshot_swap_keeps_requests_in_flight() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let mut snap = standard_api(&e, &issuer);
    snap.integrations[1].timeout_in_millis = 5000;
    e.gw.install(&[deploy("abc123", "$default", snap)]);
    let gw = Arc::clone(&e.gw);
    let slow = tokio::spawn(async move { call(&gw, "GET", HOST, "/slow", &[]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The new deployment drops every route; the request in flight still completes.
    let empty = DeploymentSnapshot {
        api_id: "abc123".into(),
        deployment_id: "d2".into(),
        ..Default::default()
    };
    e.gw.install(&[deploy("abc123", "$default", empty)]);
    let (s, _, _) = call(&e.gw, "GET", HOST, "/pets/1", &[]).await;
    assert_eq!(s, 404);
    let (s, _, v) = slow.await.unwrap();
    assert_eq!((s, v), (200, Value::String("slow".into())));
}

/// A remote OIDC issuer with an ES256 key, its discovery and JWKS served locally.
#[tokio::test]
async fn jwt_authorizer_for_remote_issuer() {
    let e = env().await;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = key.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let issuer = format!("http://{addr}/realm");
    let jwks_uri = format!("http://{addr}/realm/jwks");
    let app = Router::new()
        .route(
            "/realm/.well-known/openid-configuration",
            get(move || {
                let jwks_uri = jwks_uri.clone();
                async move { Json(json!({"jwks_uri": jwks_uri})) }
            }),
        )
        .route(
            "/realm/jwks",
            get(move || {
                let jwk = jwk.clone();
                async move { Json(json!({"keys": [jwk]})) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    e.gw.install(&[deploy("abc123", "$default", standard_api(&e, &issuer))]);

    let sign = |kid: &str, c: Value| {
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid}).to_string());
        let p = URL_SAFE_NO_PAD.encode(c.to_string());
        let input = format!("{h}.{p}");
        let sig = key.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    };
    let now = e.directory.now();
    let good = sign(
        "k1",
        json!({"iss": issuer, "aud": ["x", "client-1"], "exp": now + 60, "scp": ["admin/write"]}),
    );
    let (s, _, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/admin",
        &[("authorization", &format!("Bearer {good}"))],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let unknown = sign(
        "k2",
        json!({"iss": issuer, "aud": "client-1", "exp": now + 60}),
    );
    let (s, h, _) = call(
        &e.gw,
        "GET",
        HOST,
        "/private",
        &[("authorization", &unknown)],
    )
    .await;
    assert_eq!(s, 401);
    assert!(h["www-authenticate"].to_str().unwrap().contains("JWKS"));
}

fn lambda_integration(id: &str, function: &str, version: &str, timeout_ms: i64) -> Integration {
    Integration {
        id: id.into(),
        integration_type: "AWS_PROXY".into(),
        integration_uri: Some(format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{function}"
        )),
        payload_format_version: version.into(),
        timeout_in_millis: timeout_ms,
        ..Default::default()
    }
}

#[tokio::test]
async fn lambda_proxy_payloads() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let mut snap = standard_api(&e, &issuer);
    snap.integrations.extend([
        lambda_integration("echo2", "echo", "2.0", 0),
        lambda_integration("echo1", "echo", "1.0", 0),
        lambda_integration("bare", "bare", "2.0", 0),
        lambda_integration("boom", "boom", "2.0", 0),
        lambda_integration("slowfn", "slow", "2.0", 200),
        lambda_integration("byvar", "${stageVariables.fn}", "2.0", 0),
    ]);
    snap.routes.extend([
        route("POST /v2/{id}", "echo2", Some(("a1", &[]))),
        route("GET /v1/{id}", "echo1", None),
        route("GET /bare", "bare", None),
        route("GET /boom", "boom", None),
        route("GET /slowfn", "slowfn", None),
        route("GET /byvar", "byvar", None),
    ]);
    let mut stage = deploy("abc123", "prod", snap);
    stage.stage.stage_variables = BTreeMap::from([
        ("color".to_string(), "blue".to_string()),
        ("fn".to_string(), "bare".to_string()),
    ]);
    e.gw.install(&[stage]);
    let token = e
        .directory
        .sign_with_pool_key(
            &e.pool_id,
            &claims(&e, json!({"cognito:groups": ["admins", "ops"]})),
        )
        .await
        .unwrap();

    let req = http::Request::post("/prod/v2/a%20b?x=1&x=2&y=%C3%A9")
        .header("host", HOST)
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", "s=1; t=2")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .body(Body::from("payload"))
        .unwrap();
    let resp = e.gw.handle(req).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["x-fn"], "echo");
    assert_eq!(resp.headers()["set-cookie"], "c=1");
    let ev: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(ev["version"], "2.0");
    assert_eq!(ev["routeKey"], "POST /v2/{id}");
    assert_eq!(ev["rawPath"], "/prod/v2/a%20b");
    assert_eq!(ev["rawQueryString"], "x=1&x=2&y=%C3%A9");
    assert_eq!(ev["queryStringParameters"], json!({"x": "1,2", "y": "é"}));
    assert_eq!(ev["pathParameters"], json!({"id": "a b"}));
    assert_eq!(ev["stageVariables"], json!({"color": "blue", "fn": "bare"}));
    assert_eq!(ev["cookies"], json!(["s=1", "t=2"]));
    assert_eq!(ev["headers"]["x-multi"], "a,b");
    assert!(ev["headers"].get("cookie").is_none());
    assert_eq!(ev["body"], "payload");
    assert_eq!(ev["isBase64Encoded"], false);
    let rc = &ev["requestContext"];
    assert_eq!(rc["accountId"], "123456789012");
    assert_eq!(rc["apiId"], "abc123");
    assert_eq!(rc["stage"], "prod");
    assert_eq!(rc["domainName"], HOST);
    assert_eq!(rc["domainPrefix"], "abc123");
    assert_eq!(rc["http"]["method"], "POST");
    assert_eq!(rc["authorizer"]["jwt"]["claims"]["sub"], "u1");
    assert_eq!(
        rc["authorizer"]["jwt"]["claims"]["cognito:groups"],
        "[admins ops]"
    );
    assert_eq!(
        rc["authorizer"]["jwt"]["claims"]["exp"]
            .as_str()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(
        rc["authorizer"]["jwt"]["scopes"],
        json!(["aws.cognito.signin.user.admin"])
    );
    assert!(rc["timeEpoch"].as_i64().unwrap() > 1_600_000_000_000);

    let (s, _, ev) = call(&e.gw, "GET", HOST, "/prod/v1/7?a=1&a=2", &[]).await;
    assert_eq!(s, 202);
    assert_eq!(ev["version"], "1.0");
    assert_eq!(ev["resource"], "/v1/{id}");
    assert_eq!(ev["httpMethod"], "GET");
    assert_eq!(ev["queryStringParameters"], json!({"a": "2"}));
    assert_eq!(
        ev["multiValueQueryStringParameters"],
        json!({"a": ["1", "2"]})
    );
    assert_eq!(ev["pathParameters"], json!({"id": "7"}));

    let (s, h, v) = call(&e.gw, "GET", HOST, "/prod/bare", &[]).await;
    assert_eq!((s, v), (200, json!({"hello": "world"})));
    assert_eq!(h["content-type"], "application/json");
    let (s, _, v) = call(&e.gw, "GET", HOST, "/prod/byvar", &[]).await;
    assert_eq!((s, v), (200, json!({"hello": "world"})));
    let (s, _, v) = call(&e.gw, "GET", HOST, "/prod/boom", &[]).await;
    assert_eq!((s, v), (500, json!({"message": "Internal Server Error"})));
    let (s, _, v) = call(&e.gw, "GET", HOST, "/prod/slowfn", &[]).await;
    assert_eq!((s, v), (503, json!({"message": "Service Unavailable"})));
}

#[tokio::test]
async fn throttling_per_route() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let mut stage = deploy("abc123", "$default", standard_api(&e, &issuer));
    stage.stage.route_settings.insert(
        "GET /pets/{id}".into(),
        gatehouse_store::apis::RouteSettings {
            throttling_burst_limit: Some(2),
            throttling_rate_limit: Some(0.001),
            ..Default::default()
        },
    );
    e.gw.install(&[stage]);
    assert_eq!(call(&e.gw, "GET", HOST, "/pets/1", &[]).await.0, 200);
    assert_eq!(call(&e.gw, "GET", HOST, "/pets/1", &[]).await.0, 200);
    let (s, h, v) = call(&e.gw, "GET", HOST, "/pets/1", &[]).await;
    assert_eq!((s, v), (429, json!({"message": "Too Many Requests"})));
    assert!(h.contains_key("apigw-requestid"));
    // Other routes have their own (here: no) limit.
    assert_eq!(call(&e.gw, "GET", HOST, "/files/x", &[]).await.0, 200);
}

#[tokio::test]
async fn parameter_mapping_and_streamed_limit() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let mut snap = standard_api(&e, &issuer);
    let mut mapped = http_integration("mapped", format!("http://{}/{{proxy}}", e.upstream), 0);
    mapped.request_parameters = BTreeMap::from([
        (
            "append:header.x-user".to_string(),
            "$context.authorizer.claims.sub".to_string(),
        ),
        (
            "overwrite:path".to_string(),
            "/rewritten/$request.path.proxy".to_string(),
        ),
        (
            "append:querystring.stage".to_string(),
            "${context.stage}".to_string(),
        ),
        ("remove:header.x-secret".to_string(), "''".to_string()),
    ]);
    mapped.response_parameters = BTreeMap::from([(
        "200".to_string(),
        BTreeMap::from([
            ("overwrite:statuscode".to_string(), "203".to_string()),
            (
                "append:header.x-from".to_string(),
                "$response.header.x-upstream".to_string(),
            ),
        ]),
    )]);
    snap.integrations.push(mapped);
    snap.routes
        .push(route("GET /m/{proxy+}", "mapped", Some(("a1", &[]))));
    e.gw.install(&[deploy("abc123", "$default", snap)]);
    let token = e
        .directory
        .sign_with_pool_key(&e.pool_id, &claims(&e, json!({})))
        .await
        .unwrap();
    let (s, h, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/m/a/b?x=1",
        &[("authorization", &token), ("x-secret", "s")],
    )
    .await;
    assert_eq!(s, 203, "{v}");
    assert_eq!(h["x-from"], "yes");
    assert_eq!(v["uri"], "/rewritten/a/b?x=1&stage=%24default");
    assert_eq!(v["headers"]["x-user"], "u1");
    assert!(v["headers"].get("x-secret").is_none());

    // A chunked body over 10 MB is cut off at the limit.
    let chunks =
        (0..11).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 1024 * 1024])));
    let req = http::Request::post("/files/upload")
        .header("host", HOST)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let resp = e.gw.handle(req).await;
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn access_log_in_the_stage_format() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let path = e._dir.path().join("access.log");
    let mut stage = deploy("abc123", "$default", standard_api(&e, &issuer));
    stage.stage.access_log_destination = Some(path.display().to_string());
    stage.stage.access_log_format = Some(
        r#"{"requestId":"$context.requestId","route":"$context.routeKey","status":"$context.status","method":"$context.httpMethod"}"#
            .into(),
    );
    e.gw.install(&[stage]);
    let (_, h, _) = call(&e.gw, "GET", HOST, "/pets/9", &[]).await;
    let (_, _, _) = call(&e.gw, "GET", HOST, "/nothing", &[]).await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["requestId"],
        h["apigw-requestid"].to_str().unwrap()
    );
    assert_eq!(lines[0]["route"], "GET /pets/{id}");
    assert_eq!(lines[0]["status"], "200");
    assert_eq!(lines[1]["route"], "-");
    assert_eq!(lines[1]["status"], "404");
}

#[tokio::test]
async fn throttling_per_user_claim() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    let mut stage = deploy("abc123", "$default", standard_api(&e, &issuer));
    stage.stage.default_route_settings = gatehouse_store::apis::RouteSettings {
        throttling_burst_limit: Some(1),
        throttling_rate_limit: Some(0.001),
        ..Default::default()
    };
    stage.stage.stage_variables =
        BTreeMap::from([("gatehouse_throttle_claim".to_string(), "sub".to_string())]);
    e.gw.install(&[stage]);
    let token = |sub: &'static str| {
        let c = claims(&e, json!({ "sub": sub }));
        let d = Arc::clone(&e.directory);
        let pool = e.pool_id.clone();
        async move { d.sign_with_pool_key(&pool, &c).await.unwrap() }
    };
    let (alice, bob) = (token("alice").await, token("bob").await);
    let get = |t: String| {
        let gw = Arc::clone(&e.gw);
        async move {
            call(&gw, "GET", HOST, "/private", &[("authorization", &t)])
                .await
                .0
        }
    };
    assert_eq!(get(alice.clone()).await, 200);
    assert_eq!(get(alice.clone()).await, 429);
    assert_eq!(get(bob.clone()).await, 200);
    assert_eq!(get(bob).await, 429);
}

#[tokio::test]
async fn malformed_and_confused_tokens_are_401() {
    let e = env().await;
    let issuer = e.directory.config().issuer(&e.pool_id);
    e.gw.install(&[deploy("abc123", "$default", standard_api(&e, &issuer))]);
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = b64(claims(&e, json!({})));
    let good = e
        .directory
        .sign_with_pool_key(
            &e.pool_id,
            &serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&claims).unwrap()).unwrap(),
        )
        .await
        .unwrap();
    let kid = serde_json::from_slice::<Value>(
        &URL_SAFE_NO_PAD
            .decode(good.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let sig = good.rsplit('.').next().unwrap().to_string();
    let huge = "a".repeat(5_000);
    let cases = vec![
        "Bearer".to_string(),
        ".".to_string(),
        "..".to_string(),
        "a.b.c".to_string(),
        "a.b.c.d".to_string(),
        format!("{}.{claims}.", b64(json!({"alg": "none", "kid": kid}))),
        format!(
            "{}.{claims}.{sig}",
            b64(json!({"alg": "HS256", "kid": kid}))
        ),
        format!(
            "{}.{claims}.{sig}",
            b64(json!({"alg": "ES256", "kid": kid}))
        ),
        format!(
            "{}.{claims}.{sig}",
            b64(json!({"alg": "RS256", "kid": "other"}))
        ),
        format!("{}.{claims}.{sig}", b64(json!({"alg": "RS256"}))),
        format!(
            "{}.{}.{sig}",
            b64(json!({"alg": "RS256", "kid": kid})),
            URL_SAFE_NO_PAD.encode("not json")
        ),
        format!(
            "{}.{claims}.{huge}",
            b64(json!({"alg": "RS256", "kid": kid}))
        ),
        "\u{7f}\u{1}".to_string(),
    ];
    for token in cases {
        let Ok(v) = http::HeaderValue::from_str(&token) else {
            continue;
        };
        let req = http::Request::get("/private")
            .header("host", HOST)
            .header("authorization", v)
            .body(Body::empty())
            .unwrap();
        let resp = e.gw.handle(req).await;
        assert_eq!(resp.status(), 401, "{token:.80}");
    }
    let (s, _, _) = call(&e.gw, "GET", HOST, "/private", &[("authorization", &good)]).await;
    assert_eq!(s, 200);
}
