//! The per-pool OpenID Connect documents: discovery and the JSON Web Key Set, at
//! `<issuer>/.well-known/…` where the issuer is `<public-url>/<poolId>`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::{Directory, Error};
use serde_json::json;

pub mod hosted;
mod token;
mod ui_assets;

pub fn router(directory: Arc<Directory>) -> Router {
    Router::new()
        .route("/{pool_id}/.well-known/jwks.json", get(jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(discovery),
        )
        .with_state(Arc::clone(&directory))
        .merge(hosted::router(Arc::clone(&directory)))
        .merge(token::router(Arc::clone(&directory)))
        .merge(ui_assets::router(Arc::clone(&directory)))
}

fn error(e: Error) -> Response {
    match e {
        Error::ResourceNotFound(m) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "not_found", "message": m })),
        )
            .into_response(),
        other => {
            tracing::error!(error = %other, "well-known document failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "server_error" })),
            )
                .into_response()
        }
    }
}

fn cacheable(body: serde_json::Value) -> Response {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(body)).into_response()
}

async fn jwks(State(dir): State<Arc<Directory>>, Path(pool_id): Path<String>) -> Response {
    match dir.jwks(&pool_id).await {
        Ok(keys) => cacheable(keys),
        Err(e) => error(e),
    }
}

async fn discovery(State(dir): State<Arc<Directory>>, Path(pool_id): Path<String>) -> Response {
    if let Err(e) = dir.jwks(&pool_id).await {
        return error(e);
    }
    let mut scopes: Vec<String> = gatehouse_core::oauth::scopes::STANDARD
        .iter()
        .map(|s| s.to_string())
        .collect();
    match dir.custom_scopes(&pool_id).await {
        Ok(custom) => scopes.extend(custom),
        Err(e) => return error(e),
    }
    let issuer = dir.config().issuer(&pool_id);
    let base = dir.config().public_url.trim_end_matches('/').to_string();
    cacheable(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userInfo"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "end_session_endpoint": format!("{base}/logout"),
        "response_types_supported": ["code", "token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "request_parameter_supported": false,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "token_use", "cognito:username",
            "cognito:groups", "email", "email_verified", "phone_number", "phone_number_verified",
            "name", "given_name", "family_name", "preferred_username"
        ],
    }))
}
