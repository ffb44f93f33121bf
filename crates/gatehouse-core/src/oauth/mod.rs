//! OAuth 2.0 and OpenID Connect: the clients' OAuth settings, authorization requests and codes,
//! the token endpoint's grants, userinfo.

pub mod hosted;
pub mod settings;

pub use settings::OAuthSettings;
