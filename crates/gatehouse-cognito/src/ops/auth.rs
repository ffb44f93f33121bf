//! InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge, AdminRespondToAuthChallenge.

use std::collections::BTreeMap;

use gatehouse_core::auth::Caller;
use gatehouse_core::Directory;
use serde::Deserialize;
use serde_json::Value;

use crate::render;
use crate::validate::{self, parse};
use crate::WireError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthIn {
    user_pool_id: Option<String>,
    client_id: Option<String>,
    auth_flow: Option<String>,
    auth_parameters: Option<BTreeMap<String, String>>,
    challenge_name: Option<String>,
    session: Option<String>,
    challenge_responses: Option<BTreeMap<String, String>>,
}

fn check_map(field: &str, m: &BTreeMap<String, String>) -> Result<(), WireError> {
    if m.len() > 64 {
        validate::range(field, m.len() as i64, 0, 64)?;
    }
    for (k, v) in m {
        validate::length(&format!("{field}.key"), k, 1, 256)?;
        validate::length(&format!("{field}.value"), v, 0, 16384)?;
    }
    Ok(())
}

pub async fn initiate(dir: &Directory, input: Value, admin: bool) -> Result<Value, WireError> {
    let r: AuthIn = parse(input)?;
    let pool_id = if admin {
        Some(validate::pool_id(&r.user_pool_id)?)
    } else {
        None
    };
    let client_id = validate::client_id(&r.client_id)?;
    let flow = validate::required(&r.auth_flow, "authFlow")?;
    let params = r.auth_parameters.clone().unwrap_or_default();
    check_map("authParameters", &params)?;
    let caller = match pool_id {
        Some(pool_id) => Caller::Admin { pool_id },
        None => Caller::Public,
    };
    let out = dir.initiate_auth(caller, client_id, flow, params).await?;
    render::auth_outcome(&out)
}

pub async fn respond(dir: &Directory, input: Value, admin: bool) -> Result<Value, WireError> {
    let r: AuthIn = parse(input)?;
    let pool_id = if admin {
        Some(validate::pool_id(&r.user_pool_id)?)
    } else {
        None
    };
    let client_id = validate::client_id(&r.client_id)?;
    let challenge = validate::required(&r.challenge_name, "challengeName")?;
    let responses = r.challenge_responses.clone().unwrap_or_default();
    check_map("challengeResponses", &responses)?;
    if let Some(s) = &r.session {
        validate::length("session", s, 20, 2048)?;
    }
    let caller = match pool_id {
        Some(pool_id) => Caller::Admin { pool_id },
        None => Caller::Public,
    };
    let out = dir
        .respond_to_auth_challenge(
            caller,
            client_id,
            challenge,
            r.session.as_deref(),
            responses,
        )
        .await?;
    render::auth_outcome(&out)
}
