//! The OAuth configuration of a pool: its domains, resource servers (custom scopes) and
//! hosted-UI customizations, and the store trait that keeps them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AppClient, Page, StoreResult};

/// A user pool domain: a prefix (`myapp`) or a custom domain (`auth.example.com`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserPoolDomain {
    /// Globally unique.
    pub domain: String,
    pub pool_id: String,
    /// A custom domain (with a certificate) rather than a prefix.
    pub custom: bool,
    /// `CustomDomainConfig.CertificateArn`.
    pub certificate_arn: Option<String>,
    /// `CustomDomainConfig.SecurityPolicy`.
    pub security_policy: Option<String>,
    /// 1 = hosted UI (classic), 2 = managed login.
    pub managed_login_version: i64,
    /// `Routing` as given (replica failover; echoed only).
    pub routing: Option<Value>,
    /// The distribution a custom domain's DNS points at.
    pub cloudfront_distribution: String,
    /// The domain's version string (`yyyyMMddHHmmss` of its last change).
    pub version: String,
    pub created: i64,
    pub modified: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResourceServerScope {
    pub name: String,
    pub description: String,
}

/// An OAuth 2.0 resource server: its custom scopes are `identifier/scope`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResourceServer {
    pub pool_id: String,
    pub identifier: String,
    pub name: String,
    /// In the order given.
    pub scopes: Vec<ResourceServerScope>,
    pub created: i64,
    pub modified: i64,
}

/// The hosted UI's look for one app client, or for the whole pool (`client_id` = `ALL`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UiCustomization {
    pub pool_id: String,
    pub client_id: String,
    pub css: Option<String>,
    pub css_version: Option<String>,
    /// The logo; stored apart from the document.
    #[serde(skip)]
    pub image: Option<Vec<u8>>,
    /// `image/png` or `image/jpeg`.
    pub image_content_type: Option<String>,
    /// Changes whenever the image does (cache busting for its URL).
    pub image_version: Option<String>,
    pub created: i64,
    pub modified: i64,
}

/// Given a client of the pool, its new version, or `None` to leave it alone. Runs inside the
/// resource-server change's transaction, so no concurrent client update is lost.
pub type ClientRewrite = Box<dyn Fn(&AppClient) -> Option<AppClient> + Send + Sync + 'static>;

#[async_trait]
pub trait OAuthConfigStore: Send + Sync {
    /// Conflict when the domain name is taken, or the pool already has a domain of this kind.
    async fn insert_domain(&self, domain: &UserPoolDomain) -> StoreResult<()>;
    async fn get_domain(&self, domain: &str) -> StoreResult<Option<UserPoolDomain>>;
    /// The pool's domains, prefix first.
    async fn pool_domains(&self, pool_id: &str) -> StoreResult<Vec<UserPoolDomain>>;
    /// NotFound when the pool has no such domain.
    async fn update_domain(&self, domain: &UserPoolDomain) -> StoreResult<()>;
    /// NotFound when the pool has no such domain.
    async fn delete_domain(&self, pool_id: &str, domain: &str) -> StoreResult<()>;

    /// Conflict when the pool already has a server with this identifier.
    async fn insert_resource_server(&self, server: &ResourceServer) -> StoreResult<()>;
    async fn get_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<Option<ResourceServer>>;
    /// Ordered by identifier, after `page.after`.
    async fn list_resource_servers(
        &self,
        pool_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<ResourceServer>>;
    /// Replaces the server and, in the same transaction, rewrites the pool's clients (to prune
    /// the scopes the change removed). NotFound when there is no such server.
    async fn update_resource_server(
        &self,
        server: &ResourceServer,
        rewrite: ClientRewrite,
    ) -> StoreResult<()>;
    /// Deletes the server and, in the same transaction, rewrites the pool's clients.
    /// NotFound when there is no such server.
    async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        rewrite: ClientRewrite,
    ) -> StoreResult<()>;

    /// Inserts or replaces the customization (image included).
    async fn put_ui_customization(&self, ui: &UiCustomization) -> StoreResult<()>;
    /// Idempotent.
    async fn delete_ui_customization(&self, pool_id: &str, client_id: &str) -> StoreResult<()>;
    /// The customization with its image.
    async fn get_ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<UiCustomization>>;
}
