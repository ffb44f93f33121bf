//! How long the hosted sign-in page takes to make on the server: the template alone, and the
//! whole `GET /oauth2/authorize` through the router (query parsing, the client and pool read
//! from SQLite, CSRF token and CSP nonce, rendering, headers), without sockets.
//!
//! `cargo run --release -p gatehouse-oauth --example hosted_render [iterations]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gatehouse_core::clients::ClientSettings;
use gatehouse_core::crypt::SecretBox;
use gatehouse_core::env::{OsRandom, SystemClock};
use gatehouse_core::messages::Outbox;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::pools::NewPool;
use gatehouse_core::{Directory, DirectoryConfig};
use gatehouse_oauth::hosted::pages::{self, Form, Frame, NameKind, SignIn};
use gatehouse_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);

    // 1. The template alone, with a realistic query, client CSS and a notice.
    let query = "client_id=3n4b5urk1ft4fl3mg5e62d9ado&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&state=af0ifjsldkj&scope=openid+email+profile&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&nonce=n-0S6_WzA2Mj";
    let css =
        ".banner-customizable{background:#123456}.submitButton-customizable{background:#2d7d46}";
    let frame = Frame {
        app_name: "Pet Store",
        css: Some(css),
        logo_url: Some("https://app.example.com/logo.png"),
        nonce: "Vq3cQ4x2yNnT0iXKg2m1tw8o",
    };
    let form = Form {
        base: "",
        query,
        csrf: "q9Yc2Zl3u8pT0yWJbM6d1f5xN4sHkA7eRjVgLwC0iOo",
    };
    let page = SignIn {
        name: NameKind::Email,
        username: "jane@example.com",
        sign_up: true,
    };
    let notice = pages::Notice::Error("Incorrect username or password.".into());
    let mut bytes = 0;
    for _ in 0..n / 10 {
        bytes = pages::sign_in(&frame, &form, &page, Some(&notice))
            .into_string()
            .len();
    }
    let start = Instant::now();
    for _ in 0..n {
        let html = pages::sign_in(&frame, &form, &page, Some(&notice)).into_string();
        std::hint::black_box(html);
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("template: {n} renders of the sign-in page ({bytes} bytes): {per:.2} µs/render");

    // 2. The whole request through the router, on an SQLite store in a temp dir.
    let dir = std::env::temp_dir().join(format!("gh-hosted-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open(&dir.join("bench.db")).unwrap());
    let directory = Arc::new(Directory::new(
        store,
        PasswordHasher::new(1).unwrap(),
        Arc::new(Outbox::new(dir.join("outbox.jsonl"))),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        SecretBox::new(&[7u8; 32]).unwrap(),
        DirectoryConfig {
            public_url: "http://127.0.0.1:9229".into(),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        },
    ));
    let pool = directory
        .create_pool(NewPool {
            name: "bench".into(),
            username_attributes: vec!["email".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut settings = BTreeMap::new();
    settings.insert("AllowedOAuthFlowsUserPoolClient".to_string(), json!(true));
    settings.insert("AllowedOAuthFlows".to_string(), json!(["code"]));
    settings.insert(
        "AllowedOAuthScopes".to_string(),
        json!(["openid", "email", "profile"]),
    );
    settings.insert(
        "CallbackURLs".to_string(),
        json!(["https://app.example.com/callback"]),
    );
    settings.insert("SupportedIdentityProviders".to_string(), json!(["COGNITO"]));
    let client = directory
        .create_client(
            &pool.id,
            false,
            ClientSettings {
                client_name: "Pet Store".into(),
                settings,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let app = gatehouse_oauth::hosted::router(Arc::clone(&directory));
    let uri = format!(
        "/oauth2/authorize?client_id={}&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&state=af0ifjsldkj&scope=openid+email+profile&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&nonce=n-0S6_WzA2Mj",
        client.client_id
    );
    let requests = (n / 4).max(100);
    let call = |app: axum::Router, uri: String| async move {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.into_body().collect().await.unwrap().to_bytes().len()
    };
    for _ in 0..requests / 10 {
        call(app.clone(), uri.clone()).await;
    }
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        std::hint::black_box(call(app.clone(), uri.clone()).await);
        times.push(t.elapsed());
    }
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e6 / requests as f64;
    println!(
        "GET /oauth2/authorize (validate the query, read the client and pool, render): {requests} requests: mean {mean:.1} µs, p50 {:.1} µs, p99 {:.1} µs",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
