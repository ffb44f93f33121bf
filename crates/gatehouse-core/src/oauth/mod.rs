//! OAuth 2.0 and OpenID Connect: the clients' OAuth settings, authorization requests and codes,
//! the hosted pages' sign-in and session, the token endpoint's grants, userinfo.

pub mod authorize;
pub mod hosted;
pub mod scopes;
pub mod settings;
pub mod token;

pub use authorize::{AuthorizeError, AuthorizeGrant, AuthorizeRequest, ResponseType};
pub use hosted::HostedStep;
pub use settings::OAuthSettings;
pub use token::{OAuthError, TokenRequest, TokenResponse};

#[cfg(test)]
mod tests;
