//! The OAuth grants against a real SQLite store and a clock the tests move: what the e2e tests
//! cannot wait for (code expiry) and the authorize decisions one by one.

use std::collections::BTreeMap;
use std::sync::Arc;

use gatehouse_store::sqlite::SqliteStore;
use serde_json::json;

use super::authorize::{AuthorizeError, AuthorizeRequest, ResponseType, CODE_SECONDS};
use super::token::TokenRequest;
use super::HostedStep;
use crate::clients::ClientSettings;
use crate::crypt::SecretBox;
use crate::env::{ManualClock, OsRandom};
use crate::messages::Outbox;
use crate::password::PasswordHasher;
use crate::pools::NewPool;
use crate::users::NewUser;
use crate::{Directory, DirectoryConfig};

const NOW: i64 = 1_800_000_000;
const CALLBACK: &str = "https://app.example/cb";
const PASSWORD: &str = "Corr3ct-Horse!";

struct Env {
    _dir: tempfile::TempDir,
    dir: Directory,
    clock: Arc<ManualClock>,
    client_id: String,
}

async fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&tmp.path().join("o.db")).unwrap());
    let clock = Arc::new(ManualClock::new(NOW));
    let dir = Directory::new(
        store,
        PasswordHasher::new(1).unwrap(),
        Arc::new(Outbox::new(tmp.path().join("outbox.jsonl"))),
        clock.clone(),
        Arc::new(OsRandom),
        SecretBox::new(&[9u8; 32]).unwrap(),
        DirectoryConfig {
            public_url: "http://idp.test".into(),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        },
    );
    let pool = dir
        .create_pool(NewPool {
            name: "p".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut settings = BTreeMap::new();
    settings.insert("AllowedOAuthFlowsUserPoolClient".into(), json!(true));
    settings.insert("AllowedOAuthFlows".into(), json!(["code", "implicit"]));
    settings.insert("AllowedOAuthScopes".into(), json!(["openid", "email"]));
    settings.insert("CallbackURLs".into(), json!([CALLBACK]));
    settings.insert("SupportedIdentityProviders".into(), json!(["COGNITO"]));
    let client = dir
        .create_client(
            &pool.id,
            false,
            ClientSettings {
                client_name: "web".into(),
                settings,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    dir.admin_create_user(
        &pool.id,
        NewUser {
            username: "alice".into(),
            message_action: Some("SUPPRESS".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    dir.admin_set_user_password(&pool.id, "alice", PASSWORD, true)
        .await
        .unwrap();
    Env {
        _dir: tmp,
        dir,
        clock,
        client_id: client.client_id,
    }
}

fn request(client_id: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        response_type: Some("code".into()),
        client_id: Some(client_id.into()),
        redirect_uri: Some(CALLBACK.into()),
        state: Some("s1".into()),
        ..Default::default()
    }
}

/// Signs alice in through the hosted pipeline and returns the code of the redirect.
async fn code(e: &Env) -> String {
    let grant = e.dir.oauth_authorize(&request(&e.client_id)).await.unwrap();
    let HostedStep::SignedIn { user, auth_time } = e
        .dir
        .hosted_sign_in(&e.client_id, "alice", PASSWORD)
        .await
        .unwrap()
    else {
        panic!("expected a signed-in user");
    };
    let url = e
        .dir
        .oauth_complete(&grant, &user, auth_time)
        .await
        .unwrap();
    let query = url.strip_prefix(&format!("{CALLBACK}?")).unwrap();
    assert!(query.ends_with("&state=s1"), "{url}");
    query
        .strip_prefix("code=")
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

fn redeem(e: &Env, code: &str) -> TokenRequest {
    TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(code.into()),
        redirect_uri: Some(CALLBACK.into()),
        client_id: Some(e.client_id.clone()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_code_lives_five_minutes() {
    let e = env().await;
    let fresh = code(&e).await;
    let stale = code(&e).await;
    e.clock.advance(CODE_SECONDS - 1);
    let ok = e.dir.oauth_token(&redeem(&e, &fresh)).await.unwrap();
    assert!(ok.id_token.is_some() && ok.refresh_token.is_some());
    e.clock.advance(2);
    let err = e.dir.oauth_token(&redeem(&e, &stale)).await.unwrap_err();
    assert_eq!(err.error, "invalid_grant");
    assert!(err.description.contains("expired"), "{}", err.description);
}

#[tokio::test]
async fn authorize_decides_what_may_be_redirected() {
    let e = env().await;
    let page = |r: Result<_, AuthorizeError>| matches!(r, Err(AuthorizeError::Page(_)));
    let redirect = |r: Result<_, AuthorizeError>, error: &str| match r {
        Err(AuthorizeError::Redirect(u)) => {
            u.starts_with(CALLBACK) && u.contains(&format!("error={error}"))
        }
        _ => false,
    };
    let ok = e.dir.oauth_authorize(&request(&e.client_id)).await.unwrap();
    assert_eq!(ok.response_type, ResponseType::Code);
    assert_eq!(ok.scopes, vec!["openid", "email"]);

    let mut r = request(&e.client_id);
    r.client_id = Some("nope".into());
    assert!(page(e.dir.oauth_authorize(&r).await));
    let mut r = request(&e.client_id);
    r.redirect_uri = Some("https://evil.example/cb".into());
    assert!(page(e.dir.oauth_authorize(&r).await));
    let mut r = request(&e.client_id);
    r.redirect_uri = Some(format!("{CALLBACK}/"));
    assert!(page(e.dir.oauth_authorize(&r).await), "exact match only");

    let mut r = request(&e.client_id);
    r.response_type = Some("id_token".into());
    assert!(redirect(
        e.dir.oauth_authorize(&r).await,
        "unsupported_response_type"
    ));
    let mut r = request(&e.client_id);
    r.scope = Some("openid phone".into());
    assert!(redirect(e.dir.oauth_authorize(&r).await, "invalid_scope"));
    let mut r = request(&e.client_id);
    r.code_challenge = Some("short".into());
    assert!(redirect(e.dir.oauth_authorize(&r).await, "invalid_request"));
    let mut r = request(&e.client_id);
    r.code_challenge = Some("a".repeat(43));
    r.code_challenge_method = Some("S512".into());
    assert!(redirect(e.dir.oauth_authorize(&r).await, "invalid_request"));
    let mut r = request(&e.client_id);
    r.code_challenge = Some("a".repeat(43));
    let plain = e.dir.oauth_authorize(&r).await.unwrap();
    assert_eq!(plain.code_challenge_method.as_deref(), Some("plain"));
    let mut r = request(&e.client_id);
    r.identity_provider = Some("Google".into());
    assert!(redirect(e.dir.oauth_authorize(&r).await, "invalid_request"));
    let mut r = request(&e.client_id);
    r.state = Some("x".repeat(3000));
    assert!(page(e.dir.oauth_authorize(&r).await));
}

#[tokio::test]
async fn hosted_sessions_end_and_do_not_cross_pools() {
    let e = env().await;
    let HostedStep::SignedIn { user, auth_time } = e
        .dir
        .hosted_sign_in(&e.client_id, "alice", PASSWORD)
        .await
        .unwrap()
    else {
        panic!("expected a signed-in user");
    };
    let token = e
        .dir
        .hosted_session_start(&user.pool_id, &user, auth_time)
        .await
        .unwrap();
    let (found, at) = e
        .dir
        .hosted_session(&user.pool_id, &token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.sub.as_str(), at), (user.sub.as_str(), auth_time));
    assert!(e
        .dir
        .hosted_session("us-east-1_other0000", &token)
        .await
        .unwrap()
        .is_none());
    e.clock.advance(super::hosted::HOSTED_SESSION_SECONDS + 1);
    assert!(e
        .dir
        .hosted_session(&user.pool_id, &token)
        .await
        .unwrap()
        .is_none());
    let token = e
        .dir
        .hosted_session_start(&user.pool_id, &user, auth_time)
        .await
        .unwrap();
    e.dir
        .hosted_session_end(&user.pool_id, &token)
        .await
        .unwrap();
    assert!(e
        .dir
        .hosted_session(&user.pool_id, &token)
        .await
        .unwrap()
        .is_none());
}

/// RFC 9700 §2.1.1: a code_verifier is accepted only when the authorization request had a
/// code_challenge, or an attacker who injects a code obtained without PKCE defeats it.
#[tokio::test]
async fn a_verifier_for_a_code_without_challenge_is_refused() {
    let e = env().await;
    let code = code(&e).await;
    let mut req = redeem(&e, &code);
    req.code_verifier = Some("v".repeat(43));
    let err = e.dir.oauth_token(&req).await.unwrap_err();
    assert_eq!(err.error, "invalid_grant", "{}", err.description);
}

/// A refresh grants no scope the client has lost since the code was issued (RFC 6749 §6: never
/// more than originally granted; docs/oauth-config.md: no token carries a removed scope), and
/// a `scope` parameter narrows the new access token.
#[tokio::test]
async fn refresh_grants_only_scopes_the_client_still_has() {
    let e = env().await;
    let code = code(&e).await;
    let tokens = e.dir.oauth_token(&redeem(&e, &code)).await.unwrap();
    let refresh = TokenRequest {
        grant_type: Some("refresh_token".into()),
        refresh_token: tokens.refresh_token.clone(),
        client_id: Some(e.client_id.clone()),
        ..Default::default()
    };
    let scope_of = |t: &str| {
        crate::tokens::decode(t).unwrap().claims["scope"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let narrowed = TokenRequest {
        scope: Some("openid".into()),
        ..refresh.clone()
    };
    let t = e.dir.oauth_token(&narrowed).await.unwrap();
    assert_eq!(scope_of(&t.access_token), "openid");
    let wider = TokenRequest {
        scope: Some("openid email phone".into()),
        ..refresh.clone()
    };
    let err = e.dir.oauth_token(&wider).await.unwrap_err();
    assert_eq!(err.error, "invalid_scope", "{}", err.description);

    let mut client = e.dir.store.get_client(&e.client_id).await.unwrap().unwrap();
    client
        .settings
        .insert("AllowedOAuthScopes".into(), json!(["openid"]));
    e.dir.store.update_client(&client).await.unwrap();
    // Written past the domain (which would say so): drop the sign-in paths' cached copy.
    e.dir.configuration_changed();
    let t = e.dir.oauth_token(&refresh).await.unwrap();
    assert_eq!(scope_of(&t.access_token), "openid");
    // The Cognito API's REFRESH_TOKEN_AUTH with the same token, too.
    let mut params = BTreeMap::new();
    params.insert(
        "REFRESH_TOKEN".to_string(),
        tokens.refresh_token.clone().unwrap(),
    );
    let crate::auth::AuthOutcome::Authenticated(t) = e
        .dir
        .initiate_auth(
            crate::auth::Caller::Public,
            &e.client_id,
            "REFRESH_TOKEN_AUTH",
            params,
        )
        .await
        .unwrap()
    else {
        panic!("expected tokens");
    };
    assert_eq!(scope_of(&t.access_token), "openid");
}

/// OIDC Core §3.1.2.1: `prompt=none` with any other value is an error.
#[tokio::test]
async fn prompt_none_stands_alone() {
    let e = env().await;
    let mut r = request(&e.client_id);
    r.prompt = Some("none login".into());
    match e.dir.oauth_authorize(&r).await {
        Err(AuthorizeError::Redirect(u)) => assert!(u.contains("error=invalid_request"), "{u}"),
        other => panic!("expected an error redirect, got {other:?}"),
    }
    r.prompt = Some("none".into());
    assert!(e.dir.oauth_authorize(&r).await.is_ok());
}

/// Signing out everywhere ends the hosted session too: it mints codes, so tokens revoked by
/// GlobalSignOut would otherwise come back with the next authorize (DESIGN.md).
#[tokio::test]
async fn global_sign_out_ends_hosted_sessions() {
    let e = env().await;
    let HostedStep::SignedIn { user, auth_time } = e
        .dir
        .hosted_sign_in(&e.client_id, "alice", PASSWORD)
        .await
        .unwrap()
    else {
        panic!("expected a signed-in user");
    };
    let token = e
        .dir
        .hosted_session_start(&user.pool_id, &user, auth_time)
        .await
        .unwrap();
    e.dir
        .admin_user_global_sign_out(&user.pool_id, "alice")
        .await
        .unwrap();
    assert!(e
        .dir
        .hosted_session(&user.pool_id, &token)
        .await
        .unwrap()
        .is_none());
    // A session started afterwards is live.
    let token = e
        .dir
        .hosted_session_start(&user.pool_id, &user, auth_time)
        .await
        .unwrap();
    assert!(e
        .dir
        .hosted_session(&user.pool_id, &token)
        .await
        .unwrap()
        .is_some());
}

/// A user who must reset their password (AdminResetUserPassword) is no longer signed in: the
/// hosted session ends and no grant completes for them, implicit tokens included (the code
/// grant refused them already).
#[tokio::test]
async fn a_user_who_must_reset_the_password_is_not_signed_in() {
    let e = env().await;
    let HostedStep::SignedIn { user, auth_time } = e
        .dir
        .hosted_sign_in(&e.client_id, "alice", PASSWORD)
        .await
        .unwrap()
    else {
        panic!("expected a signed-in user");
    };
    let token = e
        .dir
        .hosted_session_start(&user.pool_id, &user, auth_time)
        .await
        .unwrap();
    // What AdminResetUserPassword does to her.
    let mut reset = e
        .dir
        .store
        .get_user_by_sub(&user.pool_id, &user.sub)
        .await
        .unwrap()
        .unwrap();
    reset.status = gatehouse_store::UserStatus::ResetRequired;
    e.dir.store.update_user(&mut reset).await.unwrap();
    assert!(e
        .dir
        .hosted_session(&user.pool_id, &token)
        .await
        .unwrap()
        .is_none());
    let mut r = request(&e.client_id);
    r.response_type = Some("token".into());
    let grant = e.dir.oauth_authorize(&r).await.unwrap();
    assert!(e
        .dir
        .oauth_complete(&grant, &reset, auth_time)
        .await
        .is_err());
}

/// Implicit tokens have no refresh token, but GlobalSignOut must still revoke them, as it
/// does every other token of the user (DESIGN.md: at the gateway too).
#[tokio::test]
async fn global_sign_out_revokes_implicit_tokens() {
    let e = env().await;
    let mut r = request(&e.client_id);
    r.response_type = Some("token".into());
    let grant = e.dir.oauth_authorize(&r).await.unwrap();
    let HostedStep::SignedIn { user, auth_time } = e
        .dir
        .hosted_sign_in(&e.client_id, "alice", PASSWORD)
        .await
        .unwrap()
    else {
        panic!("expected a signed-in user");
    };
    let url = e
        .dir
        .oauth_complete(&grant, &user, auth_time)
        .await
        .unwrap();
    let access = url
        .split(['#', '&'])
        .find_map(|p| p.strip_prefix("access_token="))
        .unwrap()
        .to_string();
    assert!(e.dir.verify_access_token(&access).await.is_ok());
    e.dir
        .admin_user_global_sign_out(&user.pool_id, "alice")
        .await
        .unwrap();
    assert!(e.dir.verify_access_token(&access).await.is_err());
}
