//! The Amazon Cognito Identity Provider wire adapter: AWS JSON 1.1 over `POST /` with
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`. Each operation parses its request,
//! calls one domain function and renders the result; errors reach the wire in `error.rs`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

mod error;
mod ops;
mod render;
mod validate;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use gatehouse_core::Directory;
use gatehouse_sigv4::{KeyLookup, SigV4Error};
use http_body_util::BodyExt;
use serde_json::Value;

pub use error::WireError;

/// The operations for in-process callers (the declarative configuration file): the same
/// parsing, validation and domain calls as the wire, without HTTP or signatures, plus
/// creation with caller-chosen ids.
pub mod inproc {
    pub use crate::ops::clients::create_with_id as create_user_pool_client_with_id;
    pub use crate::ops::dispatch;
    pub use crate::ops::pools::create_with_id as create_user_pool_with_id;
}

/// Requests larger than this are refused before parsing (Cognito's largest requests are a few KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub(crate) const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// How signed operations are authenticated.
pub enum Admission {
    /// Verify SigV4 against these keys.
    Verify(Arc<dyn KeyLookup + Send + Sync>),
    /// `--dev`: any signature, or none, is accepted.
    AcceptAny,
}

pub struct CognitoApi {
    pub directory: Arc<Directory>,
    pub admission: Admission,
}

/// `POST /` for the Cognito API.
pub fn router(api: Arc<CognitoApi>) -> Router {
    Router::new().route("/", post(handle)).with_state(api)
}

/// Operations AWS leaves unsigned: a signed-in user or an app client calls them.
fn is_public(op: &str) -> bool {
    matches!(
        op,
        "SignUp"
            | "ConfirmSignUp"
            | "ResendConfirmationCode"
            | "InitiateAuth"
            | "RespondToAuthChallenge"
            | "ForgotPassword"
            | "ConfirmForgotPassword"
            | "ChangePassword"
            | "GetUser"
            | "DeleteUser"
            | "UpdateUserAttributes"
            | "DeleteUserAttributes"
            | "GetUserAttributeVerificationCode"
            | "VerifyUserAttribute"
            | "GlobalSignOut"
            | "RevokeToken"
            | "AssociateSoftwareToken"
            | "VerifySoftwareToken"
            | "SetUserMFAPreference"
            | "SetUserSettings"
            | "ConfirmDevice"
            | "ForgetDevice"
            | "GetDevice"
            | "ListDevices"
            | "UpdateDeviceStatus"
            | "GetTokensFromRefreshToken"
    )
}

/// The operation a response answered, for metrics and access logs.
#[derive(Debug, Clone)]
pub struct OperationName(pub String);

async fn handle(State(api): State<Arc<CognitoApi>>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let op_name = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .filter(|op| ops::is_known(op))
        .map(|op| OperationName(op.to_string()));
    let result = async {
        let op = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(TARGET_PREFIX))
            .filter(|op| !op.is_empty())
            .map(str::to_string)
            .ok_or(WireError::MissingTarget)?;
        if !ops::is_known(&op) {
            return Err(WireError::UnknownOperation(op));
        }
        tracing::Span::current().record("op", op.as_str());
        let body = read_body(body).await?;
        if !is_public(&op) {
            admit(&api, &parts, &body)?;
        }
        let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                WireError::Serialization(format!("Request body is not valid JSON: {e}"))
            })?
        };
        if !input.is_object() {
            return Err(WireError::Serialization(
                "Start of structure or map found where not expected.".into(),
            ));
        }
        ops::dispatch(&api.directory, &op, input).await
    }
    .await;
    let mut resp = match result {
        Ok(v) => {
            let mut resp = (StatusCode::OK, v.to_string()).into_response();
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            resp
        }
        Err(e) => e.into_response(),
    };
    if let Some(op) = op_name {
        resp.extensions_mut().insert(op);
    }
    resp
}

async fn read_body(body: Body) -> Result<bytes::Bytes, WireError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(WireError::TooLarge),
        Err(e) => Err(WireError::Serialization(format!(
            "Could not read the request body: {e}"
        ))),
    }
}

fn admit(api: &CognitoApi, parts: &http::request::Parts, body: &[u8]) -> Result<(), WireError> {
    match &api.admission {
        Admission::AcceptAny => Ok(()),
        Admission::Verify(keys) => {
            let now = time::OffsetDateTime::now_utc();
            let id = gatehouse_sigv4::verify(parts, body, now, keys.as_ref())
                .map_err(WireError::Signature)?;
            if id.service != "cognito-idp" {
                return Err(WireError::Signature(SigV4Error::Malformed(format!(
                    "Credential should be scoped to correct service: 'cognito-idp'. (got '{}')",
                    id.service
                ))));
            }
            tracing::debug!(access_key_id = %id.access_key_id, "signature verified");
            Ok(())
        }
    }
}
