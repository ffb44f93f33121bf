//! HTTP APIs (API Gateway v2): the aggregate and its store trait. An API holds its routes,
//! integrations, authorizers and stages; a deployment is an immutable copy of the API's
//! routing configuration that stages point at and the data plane compiles.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Page, StoreResult};

/// An HTTP API with everything it contains.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HttpApi {
    pub id: String,
    pub name: String,
    /// Always `HTTP` for now (WEBSOCKET is not supported).
    pub protocol_type: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub created: i64,
    pub route_selection_expression: String,
    pub api_key_selection_expression: String,
    /// CorsConfiguration as AWS shapes it (AllowOrigins, AllowMethods, ...).
    pub cors: Option<Cors>,
    pub disable_execute_api_endpoint: bool,
    pub tags: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    pub integrations: Vec<Integration>,
    pub authorizers: Vec<Authorizer>,
    pub stages: Vec<Stage>,
    /// Deployment metadata; the snapshots themselves are stored apart.
    pub deployments: Vec<DeploymentInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub allow_credentials: Option<bool>,
    pub max_age: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Route {
    pub id: String,
    /// `GET /pets/{id}`, `ANY /{proxy+}`, `$default`.
    pub route_key: String,
    /// `integrations/{integrationId}`.
    pub target: Option<String>,
    /// NONE, JWT, AWS_IAM or CUSTOM.
    pub authorization_type: String,
    pub authorizer_id: Option<String>,
    pub authorization_scopes: Vec<String>,
    pub operation_name: Option<String>,
    pub api_key_required: bool,
    pub request_parameters: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Integration {
    pub id: String,
    /// HTTP_PROXY or AWS_PROXY.
    pub integration_type: String,
    pub integration_uri: Option<String>,
    pub integration_method: Option<String>,
    /// `1.0` or `2.0`.
    pub payload_format_version: String,
    pub timeout_in_millis: i64,
    pub connection_type: String,
    pub description: Option<String>,
    /// `append:header.x` -> value expression.
    pub request_parameters: BTreeMap<String, String>,
    /// status code -> (`overwrite:statuscode` -> value expression).
    pub response_parameters: BTreeMap<String, BTreeMap<String, String>>,
    pub tls_config: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Authorizer {
    pub id: String,
    pub name: String,
    /// JWT (REQUEST, Lambda authorizers, are not supported).
    pub authorizer_type: String,
    /// `$request.header.Authorization`, `$request.querystring.token`.
    pub identity_source: Vec<String>,
    pub jwt_audience: Vec<String>,
    pub jwt_issuer: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RouteSettings {
    pub throttling_burst_limit: Option<i64>,
    pub throttling_rate_limit: Option<f64>,
    pub detailed_metrics_enabled: Option<bool>,
    pub logging_level: Option<String>,
    pub data_trace_enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Stage {
    /// `$default` or a name; served at the root or under `/{name}`.
    pub name: String,
    pub description: Option<String>,
    pub deployment_id: Option<String>,
    pub auto_deploy: bool,
    pub default_route_settings: RouteSettings,
    /// route key -> settings.
    pub route_settings: BTreeMap<String, RouteSettings>,
    pub stage_variables: BTreeMap<String, String>,
    /// (destination, format) of access logs.
    pub access_log_destination: Option<String>,
    pub access_log_format: Option<String>,
    pub created: i64,
    pub last_updated: i64,
    pub last_deployment_status_message: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeploymentInfo {
    pub id: String,
    pub description: Option<String>,
    pub created: i64,
    pub auto_deployed: bool,
    /// DEPLOYED or FAILED.
    pub status: String,
}

/// What a deployment freezes: the routing-relevant parts of the API at deploy time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DeploymentSnapshot {
    pub api_id: String,
    pub deployment_id: String,
    pub cors: Option<Cors>,
    pub routes: Vec<Route>,
    pub integrations: Vec<Integration>,
    pub authorizers: Vec<Authorizer>,
}

/// The API service also keeps the custom domain names that route to its APIs, the REST APIs
/// (v1) beside the HTTP APIs, and the v1 API keys and usage plans, so one store object serves
/// them all.
#[async_trait]
pub trait ApiStore:
    crate::domains::DomainStore
    + crate::rest_apis::RestApiStore
    + crate::api_keys::ApiKeyStore
    + Send
    + Sync
{
    /// Conflict when the id is taken.
    async fn insert_api(&self, api: &HttpApi) -> StoreResult<()>;
    async fn get_api(&self, api_id: &str) -> StoreResult<Option<HttpApi>>;
    /// Replaces the API; NotFound when it does not exist.
    async fn update_api(&self, api: &HttpApi) -> StoreResult<()>;
    /// Deletes the API and its deployment snapshots.
    async fn delete_api(&self, api_id: &str) -> StoreResult<()>;
    /// APIs ordered by id, after `page.after`.
    async fn list_apis(&self, page: &Page) -> StoreResult<Vec<HttpApi>>;
    async fn put_snapshot(&self, snapshot: &DeploymentSnapshot) -> StoreResult<()>;
    async fn get_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<DeploymentSnapshot>>;
    async fn delete_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()>;
}
