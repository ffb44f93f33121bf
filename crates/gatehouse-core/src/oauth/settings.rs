//! The OAuth side of an app client, read from the members Create/UpdateUserPoolClient keep as
//! given (`AllowedOAuthFlows`, `AllowedOAuthScopes`, `CallbackURLs`, …).

use std::collections::BTreeMap;

use gatehouse_store::model::AppClient;
use serde_json::Value;

/// A client's OAuth 2.0 settings, typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthSettings {
    /// `AllowedOAuthFlowsUserPoolClient`: without it the client may use no OAuth flow at all.
    pub enabled: bool,
    pub code: bool,
    pub implicit: bool,
    pub client_credentials: bool,
    /// `AllowedOAuthScopes`: `openid`, `email`, `phone`, `profile`,
    /// `aws.cognito.signin.user.admin` and custom `resourceServer/scope`.
    pub scopes: Vec<String>,
    pub callback_urls: Vec<String>,
    pub logout_urls: Vec<String>,
    pub default_redirect_uri: Option<String>,
    pub identity_providers: Vec<String>,
}

fn strings(settings: &BTreeMap<String, Value>, member: &str) -> Vec<String> {
    match settings.get(member) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

impl OAuthSettings {
    pub fn of(client: &AppClient) -> Self {
        Self::from_settings(&client.settings)
    }

    /// The view of a client's settings map (`AppClient::settings`), before the client exists.
    pub fn from_settings(settings: &BTreeMap<String, Value>) -> Self {
        let flows = strings(settings, "AllowedOAuthFlows");
        let has = |f: &str| flows.iter().any(|x| x == f);
        Self {
            enabled: settings
                .get("AllowedOAuthFlowsUserPoolClient")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            code: has("code"),
            implicit: has("implicit"),
            client_credentials: has("client_credentials"),
            scopes: strings(settings, "AllowedOAuthScopes"),
            callback_urls: strings(settings, "CallbackURLs"),
            logout_urls: strings(settings, "LogoutURLs"),
            default_redirect_uri: settings
                .get("DefaultRedirectURI")
                .and_then(Value::as_str)
                .map(str::to_owned),
            identity_providers: strings(settings, "SupportedIdentityProviders"),
        }
    }

    /// Whether `scope` is one of the client's allowed scopes.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether `uri` is exactly one of the registered callback URLs (no normalisation, as
    /// RFC 6749 §3.1.2.3 and Cognito compare them).
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.callback_urls.iter().any(|u| u == uri)
    }

    pub fn allows_logout(&self, uri: &str) -> bool {
        self.logout_urls.iter().any(|u| u == uri)
    }

    /// The scopes of an earlier grant (space-separated) that the client may still be granted:
    /// a refresh must not bring back a scope removed from the client since (or whose resource
    /// server is gone).
    pub fn still_allowed(&self, granted: &str) -> Vec<String> {
        granted
            .split(' ')
            .filter(|s| !s.is_empty() && self.allows_scope(s))
            .map(str::to_string)
            .collect()
    }
}
