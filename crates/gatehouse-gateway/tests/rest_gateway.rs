//! REST APIs (API Gateway v1) driven through `Gateway::handle`: a deployed stage's resource
//! tree with Cognito authorizers (tokens signed by real pools' keys), HTTP_PROXY to a local
//! upstream, AWS_PROXY to a local Lambda Invoke API double, MOCK, throttling, API keys and a
//! custom domain mapped to a REST stage.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::{Json, Router};
use gatehouse_core::apis::rest::DeployedRestStage;
use gatehouse_core::crypt::SecretBox;
use gatehouse_core::env::{OsRandom, SystemClock};
use gatehouse_core::messages::Outbox;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::pools::NewPool;
use gatehouse_core::{Directory, DirectoryConfig};
use gatehouse_gateway::{Gateway, GatewayConfig};
use gatehouse_store::domains::ApiMapping;
use gatehouse_store::rest_apis::{
    IntegrationResponse, Method, MethodSetting, Resource, RestApi, RestAuthorizer,
    RestDeploymentSnapshot, RestIntegration, RestStage,
};
use gatehouse_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::{json, Value};

const PUBLIC_URL: &str = "http://issuer.test:9229";
const HOST: &str = "rest123.execute-api.localhost:8080";

struct Env {
    _dir: tempfile::TempDir,
    directory: Arc<Directory>,
    gw: Arc<Gateway>,
    pool: String,
    other_pool: String,
    upstream: SocketAddr,
    log: std::path::PathBuf,
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn echo(req: Request) -> impl IntoResponse {
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    Json(json!({"method": method, "uri": uri, "headers": headers}))
}

/// `echo` answers with the event it got; `bad` with JSON that is no proxy response; `boom`
/// with a function error.
async fn lambda() -> SocketAddr {
    serve(
        Router::new().route(
            "/2015-03-31/functions/{name}/invocations",
            axum::routing::post(
                |axum::extract::Path(name): axum::extract::Path<String>,
                 body: axum::body::Bytes| async move {
                    let event: Value = serde_json::from_slice(&body).unwrap();
                    match name.as_str() {
                        "echo" => Json(json!({"statusCode": 200, "body": event.to_string()}))
                            .into_response(),
                        "bad" => Json(json!({"hello": "world"})).into_response(),
                        _ => (
                            [("x-amz-function-error", "Unhandled")],
                            Json(json!({"errorMessage": "boom"})),
                        )
                            .into_response(),
                    }
                },
            ),
        ),
    )
    .await
}

async fn env() -> Env {
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
    let mut pools = Vec::new();
    for name in ["p", "q"] {
        let pool = directory
            .create_pool(NewPool {
                name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        pools.push(pool.id);
    }
    let gw = Gateway::new(
        Arc::clone(&directory),
        GatewayConfig {
            lambda_endpoint: Some(format!("http://{}", lambda().await)),
            account_id: "123456789012".into(),
        },
    )
    .unwrap();
    Env {
        log: dir.path().join("access.log"),
        _dir: dir,
        directory,
        gw,
        other_pool: pools.pop().unwrap(),
        pool: pools.pop().unwrap(),
        upstream: serve(Router::new().fallback(echo)).await,
    }
}

fn integration(kind: &str, uri: &str) -> RestIntegration {
    RestIntegration {
        integration_type: kind.into(),
        http_method: Some(if kind == "AWS_PROXY" { "POST" } else { "ANY" }.into()),
        uri: Some(uri.into()),
        ..Default::default()
    }
}

fn lambda_arn(name: &str) -> String {
    format!("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:{name}/invocations")
}

fn method(verb: &str, auth: &str, scopes: &[&str], i: RestIntegration) -> (String, Method) {
    (
        verb.to_string(),
        Method {
            http_method: verb.into(),
            authorization_type: auth.into(),
            authorizer_id: (auth == "COGNITO_USER_POOLS").then(|| "au1".to_string()),
            authorization_scopes: scopes.iter().map(|s| s.to_string()).collect(),
            integration: Some(i),
            ..Default::default()
        },
    )
}

fn resource(id: &str, path: &str, methods: Vec<(String, Method)>) -> Resource {
    Resource {
        id: id.into(),
        parent_id: (path != "/").then(|| "root".to_string()),
        path_part: path.rsplit('/').next().unwrap_or("").into(),
        path: path.into(),
        methods: methods.into_iter().collect(),
    }
}

fn mock() -> RestIntegration {
    RestIntegration {
        integration_type: "MOCK".into(),
        request_templates: BTreeMap::from([(
            "application/json".into(),
            "{\"statusCode\": 200}".into(),
        )]),
        integration_responses: BTreeMap::from([(
            "200".into(),
            IntegrationResponse {
                status_code: "200".into(),
                response_parameters: BTreeMap::from([(
                    "method.response.header.X-Mock".into(),
                    "'yes'".into(),
                )]),
                response_templates: BTreeMap::from([(
                    "application/json".into(),
                    "{\"mocked\": true}".into(),
                )]),
                ..Default::default()
            },
        )]),
        ..Default::default()
    }
}

fn deployed(e: &Env) -> DeployedRestStage {
    let up = e.upstream;
    let mut keyed = method("GET", "NONE", &[], mock());
    keyed.1.api_key_required = true;
    let resources = vec![
        resource("root", "/", vec![method("GET", "NONE", &[], mock())]),
        resource(
            "r-pets",
            "/pets",
            vec![method(
                "GET",
                "NONE",
                &[],
                integration("HTTP_PROXY", &format!("http://{up}/backend/pets")),
            )],
        ),
        resource(
            "r-pet",
            "/pets/{petId}",
            vec![method(
                "GET",
                "COGNITO_USER_POOLS",
                &[],
                integration("AWS_PROXY", &lambda_arn("echo")),
            )],
        ),
        resource(
            "r-admin",
            "/admin",
            vec![method(
                "GET",
                "COGNITO_USER_POOLS",
                &["pets/admin"],
                integration("HTTP_PROXY", &format!("http://{up}/admin")),
            )],
        ),
        resource(
            "r-files",
            "/files/{proxy+}",
            vec![method(
                "ANY",
                "NONE",
                &[],
                integration("HTTP_PROXY", &format!("http://{up}/f/{{proxy}}")),
            )],
        ),
        resource(
            "r-bad",
            "/bad",
            vec![method(
                "GET",
                "NONE",
                &[],
                integration("AWS_PROXY", &lambda_arn("bad")),
            )],
        ),
        resource(
            "r-boom",
            "/boom",
            vec![method(
                "GET",
                "NONE",
                &[],
                integration("AWS_PROXY", &lambda_arn("boom")),
            )],
        ),
        resource("r-keyed", "/keyed", vec![keyed]),
        resource(
            "r-limited",
            "/limited",
            vec![method("GET", "NONE", &[], mock())],
        ),
        resource(
            "r-http",
            "/legacy",
            vec![method("GET", "NONE", &[], integration("HTTP", "http://x/"))],
        ),
    ];
    DeployedRestStage {
        api: Arc::new(RestApi {
            id: "rest123".into(),
            ..Default::default()
        }),
        stage: RestStage {
            name: "prod".into(),
            deployment_id: "d1".into(),
            variables: BTreeMap::from([("env".into(), "production".into())]),
            method_settings: BTreeMap::from([(
                "~1limited/GET".into(),
                MethodSetting {
                    throttling_rate_limit: Some(0.001),
                    throttling_burst_limit: Some(1),
                    ..Default::default()
                },
            )]),
            access_log_destination: Some(e.log.display().to_string()),
            access_log_format: Some(
                "$context.requestId $context.extendedRequestId $context.resourcePath $context.status"
                    .into(),
            ),
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
                provider_arns: vec![format!(
                    "arn:aws:cognito-idp:us-east-1:000000000000:userpool/{}",
                    e.pool
                )],
                identity_source: Some("method.request.header.Authorization".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
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

async fn sign(e: &Env, pool: &str, claims: Value) -> String {
    let now = e.directory.now();
    let mut c = json!({
        "iss": format!("{PUBLIC_URL}/{pool}"),
        "sub": "user-1",
        "iat": now,
        "exp": now + 3600,
        "jti": format!("jti-{now}-{}", claims),
    });
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    e.directory.sign_with_pool_key(pool, &c).await.unwrap()
}

fn missing_token() -> Value {
    json!({"message": "Missing Authentication Token"})
}

#[tokio::test]
async fn rest_stages_are_selected_routed_and_shaped_like_aws() {
    let e = env().await;
    e.gw.install_all(&[], &[deployed(&e)], &[]);

    let (s, h, v) = call(&e.gw, "GET", HOST, "/prod/pets?x=1", &[]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["uri"], "/backend/pets?x=1");
    let rid = h["x-amzn-requestid"].to_str().unwrap().to_string();
    assert_eq!(rid.len(), 36);
    assert!(h.contains_key("x-amz-apigw-id"));
    assert!(!h.contains_key("apigw-requestid"));

    let (s, _, v) = call(&e.gw, "POST", HOST, "/prod/files/a/b%20c.txt", &[]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["method"].as_str(), v["uri"].as_str()),
        (Some("POST"), Some("/f/a/b%20c.txt"))
    );

    // The stage is always in the path; anything unknown is AWS's 403.
    for (method, path) in [
        ("GET", "/pets"),
        ("GET", "/staging/pets"),
        ("GET", "/"),
        ("DELETE", "/prod/pets"),
        ("GET", "/prod/nothing"),
        ("GET", "/prod/files"),
    ] {
        let (s, h, v) = call(&e.gw, method, HOST, path, &[]).await;
        assert_eq!((s, v), (403, missing_token()), "{method} {path}");
        assert_eq!(h["x-amzn-errortype"], "MissingAuthenticationTokenException");
        assert!(h.contains_key("x-amzn-requestid"));
    }

    // MOCK: the integration response's template and literal headers.
    let (s, h, v) = call(&e.gw, "GET", HOST, "/prod", &[]).await;
    assert_eq!((s, v), (200, json!({"mocked": true})));
    assert_eq!(h["x-mock"], "yes");

    // Lambda answers that are no proxy response, and function errors: 502, REST's wording.
    for path in ["/prod/bad", "/prod/boom"] {
        let (s, h, v) = call(&e.gw, "GET", HOST, path, &[]).await;
        assert_eq!(
            (s, v),
            (502, json!({"message": "Internal server error"})),
            "{path}"
        );
        assert_eq!(h["x-amzn-errortype"], "InternalServerErrorException");
    }
    // Non-proxy HTTP integrations are not served yet.
    let (s, _, v) = call(&e.gw, "GET", HOST, "/prod/legacy", &[]).await;
    assert_eq!((s, v), (500, json!({"message": "Internal server error"})));

    // apiKeyRequired: refused without a key (and, until usage plans land, with one).
    for headers in [&[][..], &[("x-api-key", "k-123")][..]] {
        let (s, h, v) = call(&e.gw, "GET", HOST, "/prod/keyed", headers).await;
        assert_eq!((s, v), (403, json!({"message": "Forbidden"})));
        assert_eq!(h["x-amzn-errortype"], "ForbiddenException");
    }

    // methodSettings throttling per method.
    let (s, _, _) = call(&e.gw, "GET", HOST, "/prod/limited", &[]).await;
    assert_eq!(s, 200);
    let (s, h, v) = call(&e.gw, "GET", HOST, "/prod/limited", &[]).await;
    assert_eq!((s, v), (429, json!({"message": "Too Many Requests"})));
    assert_eq!(h["x-amzn-errortype"], "TooManyRequestsException");

    // Access logs with REST's $context variables.
    let log = std::fs::read_to_string(&e.log).unwrap();
    let first = log.lines().next().unwrap();
    let parts: Vec<&str> = first.split(' ').collect();
    assert_eq!(parts[0], rid);
    assert_eq!(&parts[2..], ["/pets", "200"]);
}

#[tokio::test]
async fn cognito_authorizers_and_the_payload_1_0_event() {
    let e = env().await;
    e.gw.install_all(&[], &[deployed(&e)], &[]);
    let id = sign(
        &e,
        &e.pool,
        json!({"token_use": "id", "aud": "client-1", "cognito:groups": ["admin", "users"], "email_verified": true}),
    )
    .await;
    let access = sign(
        &e,
        &e.pool,
        json!({"token_use": "access", "client_id": "client-1", "scope": "openid pets/admin"}),
    )
    .await;
    let access_no_scope = sign(
        &e,
        &e.pool,
        json!({"token_use": "access", "client_id": "client-1", "scope": "openid"}),
    )
    .await;
    let unauthorized = json!({"message": "Unauthorized"});

    let (s, h, v) = call(&e.gw, "GET", HOST, "/prod/pets/7", &[]).await;
    assert_eq!((s, &v), (401, &unauthorized));
    assert_eq!(h["x-amzn-errortype"], "UnauthorizedException");
    assert!(!h.contains_key("www-authenticate"));

    let (s, h, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/prod/pets/7?a=1&a=2&b=x",
        &[("authorization", &id), ("user-agent", "tests/1")],
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["content-type"], "application/json");
    // The function answered with the event as its body.
    let event = v;
    assert!(event.get("version").is_none());
    assert_eq!(event["resource"], "/pets/{petId}");
    assert_eq!(event["path"], "/pets/7");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["pathParameters"], json!({"petId": "7"}));
    assert_eq!(event["stageVariables"], json!({"env": "production"}));
    assert_eq!(event["queryStringParameters"]["b"], "x");
    assert_eq!(
        event["multiValueQueryStringParameters"]["a"],
        json!(["1", "2"])
    );
    assert_eq!(event["headers"]["authorization"], id.as_str());
    assert_eq!(event["multiValueHeaders"]["user-agent"], json!(["tests/1"]));
    assert_eq!(event["isBase64Encoded"], false);
    let rc = &event["requestContext"];
    assert_eq!(rc["resourceId"], "r-pet");
    assert_eq!(rc["resourcePath"], "/pets/{petId}");
    assert_eq!(rc["path"], "/prod/pets/7");
    assert_eq!(rc["stage"], "prod");
    assert_eq!(rc["apiId"], "rest123");
    assert_eq!(rc["accountId"], "123456789012");
    assert_eq!(rc["protocol"], "HTTP/1.1");
    assert_eq!(rc["domainName"], HOST);
    assert_eq!(rc["domainPrefix"], "rest123");
    assert_eq!(rc["requestId"], h["x-amzn-requestid"].to_str().unwrap());
    assert_eq!(
        rc["extendedRequestId"],
        h["x-amz-apigw-id"].to_str().unwrap()
    );
    assert_eq!(rc["identity"]["userAgent"], "tests/1");
    assert!(rc["identity"].get("cognitoIdentityId").unwrap().is_null());
    assert!(rc["requestTimeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    let claims = &rc["authorizer"]["claims"];
    assert_eq!(claims["cognito:groups"], "admin,users");
    assert_eq!(claims["email_verified"], "true");
    assert_eq!(claims["token_use"], "id");
    assert!(claims["exp"].as_str().unwrap().contains(" UTC "));
    assert!(claims.as_object().unwrap().values().all(Value::is_string));

    // `Bearer ` is taken too.
    let (s, _, _) = call(
        &e.gw,
        "GET",
        HOST,
        "/prod/pets/7",
        &[("authorization", &format!("Bearer {id}"))],
    )
    .await;
    assert_eq!(s, 200);
    // The wrong kind of token for the method, or no scope: 401.
    for (path, token) in [
        ("/prod/pets/7", &access),
        ("/prod/admin", &id),
        ("/prod/admin", &access_no_scope),
        ("/prod/pets/7", &"garbage".to_string()),
    ] {
        let (s, _, v) = call(&e.gw, "GET", HOST, path, &[("authorization", token)]).await;
        assert_eq!((s, &v), (401, &unauthorized), "{path}");
    }
    let (s, _, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/prod/admin",
        &[("authorization", &access)],
    )
    .await;
    assert_eq!((s, v["uri"].as_str()), (200, Some("/admin")));

    // A token of another pool; an expired one.
    let foreign = sign(
        &e,
        &e.other_pool,
        json!({"token_use": "id", "aud": "client-1"}),
    )
    .await;
    let (s, _, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/prod/pets/7",
        &[("authorization", &foreign)],
    )
    .await;
    assert_eq!((s, &v), (401, &unauthorized));
    let now = e.directory.now();
    let expired = sign(
        &e,
        &e.pool,
        json!({"token_use": "id", "aud": "client-1", "iat": now - 7200, "exp": now - 3600}),
    )
    .await;
    let (s, h, v) = call(
        &e.gw,
        "GET",
        HOST,
        "/prod/pets/7",
        &[("authorization", &expired)],
    )
    .await;
    assert_eq!(
        (s, v),
        (401, json!({"message": "The incoming token has expired"}))
    );
    assert_eq!(h["x-amzn-errortype"], "UnauthorizedException");
}

#[tokio::test]
async fn custom_domains_map_to_rest_stages() {
    let e = env().await;
    let mapping = ApiMapping {
        id: "m1".into(),
        domain_name: "api.example.com".into(),
        api_id: "rest123".into(),
        stage: "prod".into(),
        key: "v1".into(),
    };
    e.gw.install_all(&[], &[deployed(&e)], &[mapping]);
    let (s, h, v) = call(&e.gw, "GET", "api.example.com", "/v1/pets", &[]).await;
    assert_eq!((s, v["uri"].as_str()), (200, Some("/backend/pets")), "{v}");
    assert!(h.contains_key("x-amzn-requestid"));
    // Within the mapped stage, unknown resources are REST's 403.
    let (s, _, v) = call(&e.gw, "GET", "api.example.com", "/v1/nothing", &[]).await;
    assert_eq!((s, v), (403, missing_token()));
    // The execute-api host still serves it, the stage in the path.
    let (s, _, _) = call(&e.gw, "GET", HOST, "/prod/pets", &[]).await;
    assert_eq!(s, 200);
    // Lambda events through a custom domain: `path` as requested (base path included), the
    // domain's name and prefix, the mapped stage.
    let id = sign(&e, &e.pool, json!({"token_use": "id", "aud": "client-1"})).await;
    let (s, _, event) = call(
        &e.gw,
        "GET",
        "api.example.com",
        "/v1/pets/9",
        &[("authorization", &id)],
    )
    .await;
    assert_eq!(s, 200, "{event}");
    assert_eq!(event["path"], "/v1/pets/9");
    assert_eq!(event["resource"], "/pets/{petId}");
    let rc = &event["requestContext"];
    assert_eq!(rc["path"], "/v1/pets/9");
    assert_eq!(rc["stage"], "prod");
    assert_eq!(rc["domainName"], "api.example.com");
    assert_eq!(rc["domainPrefix"], "api");
}
