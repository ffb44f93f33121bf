//! The OAuth settings of an app client (AllowedOAuthFlows, AllowedOAuthScopes, CallbackURLs,
//! LogoutURLs, DefaultRedirectURI, SupportedIdentityProviders, AllowedOAuthFlowsUserPoolClient)
//! checked as Create/UpdateUserPoolClient check them, with AWS's exceptions and messages.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::oauth::OAuthSettings;
use crate::Directory;

use crate::oauth::scopes::STANDARD as STANDARD_SCOPES;

/// The identity providers a client may name: only the pool's own directory, until federation.
const PROVIDERS: &[&str] = &["COGNITO"];

/// Schemes that run or embed content rather than reach an app: a code or tokens sent there
/// would be handed to script.
const UNSAFE_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "blob"];

/// Where plain HTTP is allowed: the loopback, for development.
const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The parts of an absolute URI a redirect check needs.
struct Uri<'a> {
    scheme: &'a str,
    /// `None` for URIs without an authority (`myapp:/callback`).
    host: Option<&'a str>,
}

/// RFC 3986 scheme `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`, then an optional authority.
fn parse_uri(u: &str) -> Option<Uri<'_>> {
    let (scheme, rest) = u.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let host = rest.strip_prefix("//").map(|after| {
        let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
        let hostport = authority.rsplit('@').next().unwrap_or_default();
        if hostport.starts_with('[') {
            // An IPv6 literal keeps its brackets; the port follows them.
            hostport.find(']').map_or(hostport, |end| &hostport[..=end])
        } else {
            hostport.split(':').next().unwrap_or_default()
        }
    });
    Some(Uri { scheme, host })
}

/// A callback or logout URL: absolute, without a fragment, HTTPS unless it is the loopback (or
/// an app's own scheme, `myapp://callback`).
fn check_redirect(url: &str) -> Result<()> {
    let Some(uri) = parse_uri(url) else {
        return Err(Error::invalid(format!(
            "Invalid URL provided: {url} is not an absolute URI."
        )));
    };
    if url.contains('#') {
        return Err(Error::invalid(format!(
            "Invalid URL provided: {url} must not contain a fragment."
        )));
    }
    let scheme = uri.scheme.to_ascii_lowercase();
    if UNSAFE_SCHEMES.contains(&scheme.as_str()) {
        return Err(Error::invalid(format!(
            "Invalid URL provided: {url} uses a scheme that is not allowed."
        )));
    }
    let needs_host = scheme == "http" || scheme == "https";
    if needs_host && uri.host.is_none_or(str::is_empty) {
        return Err(Error::invalid(format!(
            "Invalid URL provided: {url} is not an absolute URI."
        )));
    }
    if scheme == "http" {
        let host = uri.host.unwrap_or_default().to_ascii_lowercase();
        if !LOOPBACK_HOSTS.contains(&host.as_str()) {
            return Err(Error::invalid(format!(
                "{url} cannot use the HTTP protocol."
            )));
        }
    }
    Ok(())
}

impl Directory {
    /// Checks a client's OAuth members (`settings` as CreateUserPoolClient keeps them) against
    /// the pool: its resource servers' scopes, its identity providers, whether the client has a
    /// secret.
    pub async fn check_client_oauth(
        &self,
        pool_id: &str,
        has_secret: bool,
        settings: &BTreeMap<String, Value>,
    ) -> Result<()> {
        let o = OAuthSettings::from_settings(settings);
        if o.enabled && (o.scopes.is_empty() || !(o.code || o.implicit || o.client_credentials)) {
            return Err(Error::invalid(
                "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.",
            ));
        }
        for p in &o.identity_providers {
            if !PROVIDERS.contains(&p.as_str()) {
                return Err(Error::invalid(format!(
                    "The provider {p} does not exist for User Pool {pool_id}"
                )));
            }
        }
        let custom = if o
            .scopes
            .iter()
            .any(|s| !STANDARD_SCOPES.contains(&s.as_str()))
        {
            self.custom_scopes(pool_id).await?
        } else {
            Default::default()
        };
        for s in &o.scopes {
            if !STANDARD_SCOPES.contains(&s.as_str()) && !custom.contains(s) {
                return Err(Error::ScopeDoesNotExist(format!(
                    "Invalid scope requested: {s}"
                )));
            }
        }
        if o.client_credentials {
            if o.code || o.implicit {
                return Err(Error::InvalidOAuthFlow(
                    "client_credentials flow can not be selected along with code flow or implicit flow.".into(),
                ));
            }
            if let Some(s) = o
                .scopes
                .iter()
                .find(|s| STANDARD_SCOPES.contains(&s.as_str()))
            {
                return Err(Error::InvalidOAuthFlow(format!(
                    "{s} is not supported with client_credentials flow"
                )));
            }
            if !has_secret {
                return Err(Error::InvalidOAuthFlow(
                    "client_credentials flow can not be selected if client does not have a client secret.".into(),
                ));
            }
        }
        if o.enabled && (o.code || o.implicit) && o.callback_urls.is_empty() {
            return Err(Error::InvalidOAuthFlow(
                "CallbackUrls can not be empty when code flow or implicit flow is selected".into(),
            ));
        }
        for u in o.callback_urls.iter().chain(&o.logout_urls) {
            check_redirect(u)?;
        }
        if let Some(d) = &o.default_redirect_uri {
            check_redirect(d)?;
            if !o.allows_redirect(d) {
                return Err(Error::invalid(format!(
                    "DefaultRedirectURI {d} must be one of the CallbackURLs."
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_are_absolute_https_or_loopback() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb?x=1",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "HTTP://LOCALHOST/cb",
            "myapp://callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect(ok).is_ok(), "{ok}");
        }
        let msg = |u: &str| check_redirect(u).unwrap_err().to_string();
        assert_eq!(
            msg("http://example.com/cb"),
            "http://example.com/cb cannot use the HTTP protocol."
        );
        assert!(msg("http://localhost.evil.com/cb").contains("HTTP protocol"));
        assert!(msg("http://user@evil.com/cb").contains("HTTP protocol"));
        assert!(msg("/relative/path").contains("absolute"));
        assert!(msg("https:///nohost").contains("absolute"));
        assert!(msg("https://app.example.com/cb#frag").contains("fragment"));
        assert!(msg("1abc://x").contains("absolute"));
        // Schemes that run or embed content where the code or tokens would land.
        for bad in [
            "javascript:alert(document.domain)//",
            "JavaScript://%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
            "blob:https://app.example.com/x",
        ] {
            assert!(msg(bad).contains("scheme"), "{bad}");
        }
    }
}
