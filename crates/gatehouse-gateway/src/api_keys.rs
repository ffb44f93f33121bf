//! API keys on REST API methods (`apiKeyRequired`): the pipeline phase between authorize and
//! throttle, where usage plans plug in. It runs after the authorizer because a key may come
//! from it (`apiKeySource: AUTHORIZER`, Lambda authorizers only) and before the method's own
//! throttling, as on AWS.
//!
//! Today no usage plan reaches the data plane, so no key can be valid: a method that requires
//! one answers 403 `{"message":"Forbidden"}` with or without `x-api-key` (failing closed).
//! Usage plans plug in here: compile the stage's plans and keys into the snapshot (a hash of
//! key value -> plan, with the plan's throttle bucket and quota counter) and look the key up
//! in `check`; a plan's throttle is 429 `Too Many Requests`, an exhausted quota 429 `Limit
//! Exceeded`, an unknown or disabled key 403 `Forbidden`.

use crate::error::Reject;

/// The header API Gateway reads keys from (`apiKeySource: HEADER`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// What the API key phase knows of a request to a method with `apiKeyRequired`.
#[derive(Debug)]
pub struct KeyedRequest<'a> {
    pub api_id: &'a str,
    pub stage: &'a str,
    /// The method's identity, as usage plans' per-method throttles name it
    /// (`/pets/{petId}` and `GET`).
    pub resource_path: &'a str,
    pub http_method: &'a str,
    /// The `x-api-key` header, when sent and not empty.
    pub api_key: Option<&'a str>,
}

/// Whether the request may go on.
pub fn check(req: &KeyedRequest<'_>) -> Result<(), Reject> {
    if req.api_key.is_none() {
        return Err(Reject::Forbidden);
    }
    tracing::debug!(
        api = req.api_id,
        stage = req.stage,
        resource = req.resource_path,
        method = req.http_method,
        "API key presented, but usage plans are not served yet: refused"
    );
    Err(Reject::Forbidden)
}
