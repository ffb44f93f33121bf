//! The hosted pages without sockets: the router driven with `oneshot` over a real Directory on
//! SQLite in a temp dir. The end-to-end suite (tests/python/test_hosted_ui.py) covers every
//! page; these pin the security contract where it is cheapest to see.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use gatehouse_core::clients::ClientSettings;
use gatehouse_core::crypt::SecretBox;
use gatehouse_core::env::{OsRandom, SystemClock};
use gatehouse_core::messages::Outbox;
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::pools::NewPool;
use gatehouse_core::users::NewUser;
use gatehouse_core::{Directory, DirectoryConfig};
use gatehouse_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

const CALLBACK: &str = "https://app.example.com/cb";
const PASSWORD: &str = "Corr3ct-Horse!";

struct Env {
    _dir: tempfile::TempDir,
    app: Router,
    client_id: String,
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    csp: Option<String>,
    body: String,
}

async fn env(public_url: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("h.db")).unwrap());
    let directory = Arc::new(Directory::new(
        store,
        PasswordHasher::with_params(1, 1024, 1).unwrap(),
        Arc::new(Outbox::new(dir.path().join("outbox.jsonl"))),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        SecretBox::new(&[7u8; 32]).unwrap(),
        DirectoryConfig {
            public_url: public_url.into(),
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
    let mut settings = BTreeMap::new();
    settings.insert("AllowedOAuthFlowsUserPoolClient".to_string(), json!(true));
    settings.insert("AllowedOAuthFlows".to_string(), json!(["code"]));
    settings.insert("AllowedOAuthScopes".to_string(), json!(["openid"]));
    settings.insert("CallbackURLs".to_string(), json!([CALLBACK]));
    settings.insert(
        "LogoutURLs".to_string(),
        json!(["https://app.example.com/bye"]),
    );
    settings.insert("SupportedIdentityProviders".to_string(), json!(["COGNITO"]));
    let client = directory
        .create_client(
            &pool.id,
            false,
            ClientSettings {
                client_name: "App <One>".into(),
                settings,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    directory
        .admin_create_user(
            &pool.id,
            NewUser {
                username: "alice".into(),
                message_action: Some("SUPPRESS".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    directory
        .admin_set_user_password(&pool.id, "alice", PASSWORD, true)
        .await
        .unwrap();
    Env {
        _dir: dir,
        app: super::router(directory),
        client_id: client.client_id,
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let h = resp.headers().clone();
    let text = |n: header::HeaderName| h.get(n).map(|v| v.to_str().unwrap().to_string());
    let cookies = h
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    Reply {
        status: resp.status(),
        location: text(header::LOCATION),
        csp: text(header::CONTENT_SECURITY_POLICY),
        cookies,
        body: String::from_utf8(
            resp.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap(),
    }
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri(uri);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

fn post(uri: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap()
}

fn authorize_uri(client_id: &str) -> String {
    format!("/oauth2/authorize?client_id={client_id}&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=s1")
}

/// The value of a `name=value; …` Set-Cookie.
fn cookie_value(r: &Reply, name: &str) -> Option<String> {
    r.cookies.iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_string())
    })
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap() + marker.len();
    body[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn the_sign_in_page_is_escaped_and_locked_down() {
    let e = env("http://127.0.0.1:9229").await;
    let r = send(&e.app, get(&authorize_uri(&e.client_id), None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("App &lt;One&gt;"));
    assert!(!r.body.contains("<script"));
    let csp = r.csp.clone().unwrap();
    assert!(csp.contains("style-src 'nonce-"));
    assert!(csp.contains("form-action 'self' https://app.example.com"));
    let csrf = cookie_value(&r, "gh_csrf").unwrap();
    assert_eq!(hidden(&r.body, "_csrf"), csrf);
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_a_page_not_a_redirect() {
    let e = env("http://127.0.0.1:9229").await;
    let uri = format!(
        "/oauth2/authorize?client_id={}&response_type=code&redirect_uri=https%3A%2F%2Fevil.example.com%2F",
        e.client_id
    );
    let r = send(&e.app, get(&uri, None)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.location, None);
    assert!(r.body.contains("role=\"alert\""));
}

#[tokio::test]
async fn sign_in_needs_the_csrf_cookie_and_then_the_session_signs_in_again() {
    let e = env("http://127.0.0.1:9229").await;
    let page = send(&e.app, get(&authorize_uri(&e.client_id), None)).await;
    let csrf = cookie_value(&page, "gh_csrf").unwrap();
    let login = format!(
        "/login?{}",
        authorize_uri(&e.client_id).split_once('?').unwrap().1
    );
    let form = format!("_csrf={csrf}&username=alice&password=Corr3ct-Horse%21");

    // Without the cookie (a cross-site POST) and with another token: refused.
    let r = send(&e.app, post(&login, "x=1", &form)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let other = "A".repeat(43);
    let r = send(&e.app, post(&login, &format!("gh_csrf={other}"), &form)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = send(&e.app, post(&login, &format!("gh_csrf={csrf}"), &form)).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let loc = r.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CALLBACK}?code=")) && loc.ends_with("&state=s1"));
    let (name, session) = r
        .cookies
        .iter()
        .find(|c| c.starts_with("gh_session_"))
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .unwrap();
    assert!(r
        .cookies
        .iter()
        .any(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")));

    // The session answers the next authorize at once, until /logout ends it.
    let again = send(
        &e.app,
        get(
            &authorize_uri(&e.client_id),
            Some(&format!("{name}={session}")),
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::FOUND);
    let logout = format!(
        "/logout?client_id={}&logout_uri=https%3A%2F%2Fapp.example.com%2Fbye",
        e.client_id
    );
    let out = send(&e.app, get(&logout, Some(&format!("{name}={session}")))).await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert_eq!(out.location.as_deref(), Some("https://app.example.com/bye"));
    assert!(out
        .cookies
        .iter()
        .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")));
    let after = send(
        &e.app,
        get(
            &authorize_uri(&e.client_id),
            Some(&format!("{name}={session}")),
        ),
    )
    .await;
    assert_eq!(after.status, StatusCode::OK);
}

#[tokio::test]
async fn https_public_urls_make_secure_host_only_cookies() {
    let e = env("https://id.example.com").await;
    let r = send(&e.app, get(&authorize_uri(&e.client_id), None)).await;
    let c = r.cookies.iter().find(|c| c.contains("gh_csrf=")).unwrap();
    assert!(c.starts_with("__Host-gh_csrf=") && c.contains("; Secure"));
}

#[tokio::test]
async fn oversized_and_malformed_forms_are_4xx_pages() {
    let e = env("http://127.0.0.1:9229").await;
    let page = send(&e.app, get(&authorize_uri(&e.client_id), None)).await;
    let csrf = cookie_value(&page, "gh_csrf").unwrap();
    let login = format!(
        "/login?{}",
        authorize_uri(&e.client_id).split_once('?').unwrap().1
    );
    let big = format!("_csrf={csrf}&username={}&password=x", "a".repeat(20_000));
    let r = send(&e.app, post(&login, &format!("gh_csrf={csrf}"), &big)).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let dup = format!("_csrf={csrf}&_csrf={csrf}&username=a&password=b");
    let r = send(&e.app, post(&login, &format!("gh_csrf={csrf}"), &dup)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(&e.app, get("/oauth2/authorize?client_id=%FF", None)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn links_keep_the_public_urls_path_prefix() {
    let e = env("https://example.com/auth/").await;
    let r = send(&e.app, get(&authorize_uri(&e.client_id), None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r
        .body
        .contains("action=\"/auth/login?response_type=code&amp;client_id="));
    assert!(r.body.contains("href=\"/auth/signup?response_type=code"));
    let logout = format!(
        "/logout?client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code",
        e.client_id
    );
    let r = send(&e.app, get(&logout, None)).await;
    assert!(r.location.unwrap().starts_with("/auth/login?"));
}
