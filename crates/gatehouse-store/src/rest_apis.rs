//! REST APIs (API Gateway v1): the aggregate and its store trait. A REST API holds its resource
//! tree (each resource with its methods, each method with its integration), its authorizers and
//! its stages; a deployment freezes the resource tree and the authorizers, and stages point at
//! deployments. Members the data plane does not act on are kept as AWS shaped them in `extra`
//! maps, so Get* echoes them.
//!
//! REST API ids share the `{apiId}.execute-api.*` namespace with HTTP APIs: the domain makes
//! sure an id is used by one API of either kind.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Page, StoreResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RestApi {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub created: i64,
    /// HEADER (`x-api-key`) or AUTHORIZER.
    pub api_key_source: String,
    pub binary_media_types: Vec<String>,
    pub minimum_compression_size: Option<i64>,
    /// `endpointConfiguration.types`: EDGE, REGIONAL or PRIVATE.
    pub endpoint_types: Vec<String>,
    pub disable_execute_api_endpoint: bool,
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The resource tree; the root (`/`, no parent) is created with the API.
    pub resources: Vec<Resource>,
    pub authorizers: Vec<RestAuthorizer>,
    pub stages: Vec<RestStage>,
    /// Deployment metadata; the snapshots themselves are stored apart.
    pub deployments: Vec<RestDeploymentInfo>,
    /// Models, request validators, documentation parts…: kept as given, keyed by kind then id.
    pub extra: BTreeMap<String, Value>,
}

/// A node of the resource tree: `/pets/{petId}` is the resource with path part `{petId}` under
/// `/pets`. Path parts are literals, `{param}` or a greedy `{proxy+}` (last only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Resource {
    pub id: String,
    pub parent_id: Option<String>,
    /// Empty for the root.
    pub path_part: String,
    /// The full path, `/` for the root.
    pub path: String,
    /// HTTP method (`GET`, …, `ANY`) -> method.
    pub methods: BTreeMap<String, Method>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Method {
    pub http_method: String,
    /// NONE, COGNITO_USER_POOLS, AWS_IAM or CUSTOM.
    pub authorization_type: String,
    pub authorizer_id: Option<String>,
    /// With scopes, a COGNITO_USER_POOLS method wants an access token holding one of them;
    /// without, an ID token.
    pub authorization_scopes: Vec<String>,
    pub api_key_required: bool,
    pub operation_name: Option<String>,
    pub request_validator_id: Option<String>,
    /// `method.request.header.X` / `.querystring.x` / `.path.x` -> required.
    pub request_parameters: BTreeMap<String, bool>,
    /// content type -> model name.
    pub request_models: BTreeMap<String, String>,
    /// status code -> method response.
    pub method_responses: BTreeMap<String, MethodResponse>,
    pub integration: Option<RestIntegration>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct MethodResponse {
    pub status_code: String,
    /// `method.response.header.X` -> required.
    pub response_parameters: BTreeMap<String, bool>,
    pub response_models: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RestIntegration {
    /// HTTP, HTTP_PROXY, AWS, AWS_PROXY or MOCK.
    pub integration_type: String,
    /// The method used towards the backend (`POST` for Lambda).
    pub http_method: Option<String>,
    /// `https://backend/{proxy}` or a Lambda invocation ARN
    /// (`arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fnArn}/invocations`).
    pub uri: Option<String>,
    /// INTERNET or VPC_LINK.
    pub connection_type: String,
    pub connection_id: Option<String>,
    pub credentials: Option<String>,
    /// `integration.request.header.X` -> `method.request.path.id`, `'literal'`, …
    pub request_parameters: BTreeMap<String, String>,
    /// content type -> template (MOCK uses `{"statusCode": 200}`).
    pub request_templates: BTreeMap<String, String>,
    /// WHEN_NO_MATCH, WHEN_NO_TEMPLATES or NEVER.
    pub passthrough_behavior: Option<String>,
    pub content_handling: Option<String>,
    pub timeout_in_millis: i64,
    pub cache_namespace: Option<String>,
    pub cache_key_parameters: Vec<String>,
    /// status code -> integration response.
    pub integration_responses: BTreeMap<String, IntegrationResponse>,
    pub tls_config: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct IntegrationResponse {
    pub status_code: String,
    /// A regex on the backend's status (HTTP) or error message (Lambda); `None` is the default.
    pub selection_pattern: Option<String>,
    /// `method.response.header.X` -> `integration.response.header.Y` or `'literal'`.
    pub response_parameters: BTreeMap<String, String>,
    pub response_templates: BTreeMap<String, String>,
    pub content_handling: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RestAuthorizer {
    pub id: String,
    pub name: String,
    /// COGNITO_USER_POOLS (TOKEN and REQUEST Lambda authorizers are kept but not run).
    pub authorizer_type: String,
    /// `arn:aws:cognito-idp:{region}:{account}:userpool/{poolId}` for Cognito authorizers.
    pub provider_arns: Vec<String>,
    pub auth_type: Option<String>,
    pub authorizer_uri: Option<String>,
    pub authorizer_credentials: Option<String>,
    /// `method.request.header.Authorization`.
    pub identity_source: Option<String>,
    /// A regex the token must match before it is even decoded.
    pub identity_validation_expression: Option<String>,
    pub authorizer_result_ttl_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct MethodSetting {
    pub throttling_burst_limit: Option<i64>,
    pub throttling_rate_limit: Option<f64>,
    pub metrics_enabled: Option<bool>,
    pub logging_level: Option<String>,
    pub data_trace_enabled: Option<bool>,
    pub caching_enabled: Option<bool>,
    pub cache_ttl_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RestStage {
    pub name: String,
    pub deployment_id: String,
    pub description: Option<String>,
    /// Stage variables.
    pub variables: BTreeMap<String, String>,
    /// `*/*` or `{resourcePath}/{httpMethod}` (path with `/` escaped as `~1`) -> settings.
    pub method_settings: BTreeMap<String, MethodSetting>,
    pub access_log_destination: Option<String>,
    pub access_log_format: Option<String>,
    pub tracing_enabled: bool,
    pub cache_cluster_enabled: bool,
    pub cache_cluster_size: Option<String>,
    pub created: i64,
    pub last_updated: i64,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RestDeploymentInfo {
    pub id: String,
    pub description: Option<String>,
    pub created: i64,
}

/// What a deployment freezes: the resource tree (with methods and integrations) and the
/// authorizers, as they were when it was created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RestDeploymentSnapshot {
    pub api_id: String,
    pub deployment_id: String,
    pub api_key_source: String,
    pub binary_media_types: Vec<String>,
    pub resources: Vec<Resource>,
    pub authorizers: Vec<RestAuthorizer>,
}

#[async_trait]
pub trait RestApiStore: Send + Sync {
    /// Conflict when the id is taken (by a REST API; the domain checks HTTP APIs).
    async fn insert_rest_api(&self, api: &RestApi) -> StoreResult<()>;
    async fn get_rest_api(&self, api_id: &str) -> StoreResult<Option<RestApi>>;
    /// Replaces the API; NotFound when it does not exist.
    async fn update_rest_api(&self, api: &RestApi) -> StoreResult<()>;
    /// Deletes the API and its deployment snapshots.
    async fn delete_rest_api(&self, api_id: &str) -> StoreResult<()>;
    /// REST APIs ordered by id, after `page.after`.
    async fn list_rest_apis(&self, page: &Page) -> StoreResult<Vec<RestApi>>;
    async fn put_rest_snapshot(&self, snapshot: &RestDeploymentSnapshot) -> StoreResult<()>;
    async fn get_rest_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<RestDeploymentSnapshot>>;
    async fn delete_rest_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()>;
}
