//! The one domain error type. Its kinds are Cognito's exceptions, because Cognito's semantics
//! are what we implement; each adapter maps them to its wire in one place.

use gatehouse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidPassword(String),
    #[error("{0}")]
    NotAuthorized(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    UserNotFound(String),
    #[error("{0}")]
    UsernameExists(String),
    #[error("{0}")]
    AliasExists(String),
    #[error("{0}")]
    GroupExists(String),
    #[error("{0}")]
    UserNotConfirmed(String),
    #[error("{0}")]
    PasswordResetRequired(String),
    #[error("{0}")]
    CodeMismatch(String),
    #[error("{0}")]
    ExpiredCode(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    InvalidUserPoolConfiguration(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The user is in a state the operation does not apply to.
    #[error("{0}")]
    UnsupportedUserState(String),
    #[error("{0}")]
    CodeDeliveryFailure(String),
    /// VerifySoftwareToken refused the code.
    #[error("{0}")]
    EnableSoftwareTokenMfa(String),
    /// The user has no software token (TOTP) to check or verify.
    #[error("{0}")]
    SoftwareTokenMfaNotFound(String),
    /// The app client could not be authenticated (RevokeToken's UnauthorizedException).
    #[error("{0}")]
    Unauthorized(String),
    /// A token of a kind the operation does not take (an access token given to RevokeToken).
    #[error("{0}")]
    UnsupportedTokenType(String),
    /// An app client names an OAuth scope that is neither standard nor a resource server's.
    #[error("{0}")]
    ScopeDoesNotExist(String),
    /// An app client's OAuth flows contradict each other or the client.
    #[error("{0}")]
    InvalidOAuthFlow(String),
    /// Another request changed the same record at the same time, more often than retrying
    /// could absorb; the client may try again.
    #[error("{0}")]
    ConcurrentModification(String),
    /// Our fault: the message is for the log, the client gets a generic one.
    #[error("internal error: {0}")]
    Internal(String),
    /// A dependency (the store, the mail server) is down; retrying later may work.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Error::Unavailable(m),
            StoreError::Stale => Error::ConcurrentModification(
                "The resource was changed by another request at the same time; try again.".into(),
            ),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidParameter(msg.into())
    }
    pub fn not_authorized(msg: impl Into<String>) -> Self {
        Error::NotAuthorized(msg.into())
    }
    pub fn pool_not_found(pool_id: &str) -> Self {
        Error::ResourceNotFound(format!("User pool {pool_id} does not exist."))
    }
    pub fn user_not_found() -> Self {
        Error::UserNotFound("User does not exist.".into())
    }
}
