//! The errors of API management, in the kinds the apigatewayv2 API answers with; the
//! adapter maps each to its status and `x-amzn-errortype` in one place.

use gatehouse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: the API, route, integration, authorizer, stage or deployment does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request is invalid (a bad route key, a missing member, a bad reference).
    #[error("{0}")]
    BadRequest(String),
    /// 409: the name or key is taken, or the resource is in use.
    #[error("{0}")]
    Conflict(String),
    /// Our fault: the message is for the log.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store is down; retrying later may work.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        ApiError::Conflict(msg.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::NotFound => ApiError::NotFound("Not found".into()),
            StoreError::Corrupt(m) => ApiError::Internal(m),
            // API documents are written under the service's edit lock; a stale one is a bug.
            StoreError::Stale => ApiError::Internal("stale API record".into()),
        }
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Unavailable(m) => ApiError::Unavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
