//! GlobalSignOut, AdminUserGlobalSignOut, RevokeToken.

use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::Value;

use super::empty;
use crate::validate::{self, parse};
use crate::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignOutIn {
    access_token: Option<String>,
    user_pool_id: Option<String>,
    username: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

pub async fn global_sign_out(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: SignOutIn = parse(input)?;
    let token = validate::token("accessToken", &r.access_token)?;
    dir.global_sign_out(&token).await?;
    Ok(empty())
}

pub async fn admin_user_global_sign_out(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: SignOutIn = parse(input)?;
    let pool_id = validate::pool_id(&r.user_pool_id)?;
    let username = validate::name("username", &r.username)?;
    dir.admin_user_global_sign_out(pool_id, &username).await?;
    Ok(empty())
}

pub async fn revoke_token(dir: &Directory, input: Value) -> Result<Value, WireError> {
    let r: SignOutIn = parse(input)?;
    let token = validate::token("token", &r.token)?;
    let client_id = validate::client_id(&r.client_id)?;
    if let Some(secret) = &r.client_secret {
        validate::length("clientSecret", secret, 1, 64)?;
    }
    dir.revoke_token(client_id, r.client_secret.as_deref(), &token)
        .await?;
    Ok(empty())
}
