//! Custom domain names (API Gateway v2) and their API mappings: the aggregate and its store
//! trait. A domain name routes requests whose Host is that name; each of its mappings sends the
//! requests under one path prefix (the mapping key; empty for the root) to one stage of an API.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Page, StoreResult};

/// A custom domain name. Its mappings are stored apart (`ApiMapping`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DomainName {
    /// Lower case, as host names compare; `*.example.com` for a wildcard name.
    pub name: String,
    pub configurations: Vec<DomainNameConfiguration>,
    pub mutual_tls: Option<MutualTls>,
    /// Only `API_MAPPING_ONLY` (routing rules are not supported).
    pub routing_mode: String,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DomainNameConfiguration {
    /// The target a DNS record of the domain would point at.
    pub api_gateway_domain_name: String,
    pub certificate_arn: Option<String>,
    pub certificate_name: Option<String>,
    pub certificate_upload_date: Option<i64>,
    /// REGIONAL or EDGE.
    pub endpoint_type: String,
    pub hosted_zone_id: Option<String>,
    /// ipv4 or dualstack.
    pub ip_address_type: String,
    /// TLS_1_0 or TLS_1_2.
    pub security_policy: String,
    pub ownership_verification_certificate_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct MutualTls {
    pub truststore_uri: String,
    pub truststore_version: Option<String>,
}

/// One path prefix of a domain name mapped to a stage of an API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ApiMapping {
    pub id: String,
    pub domain_name: String,
    pub api_id: String,
    pub stage: String,
    /// `` (the root), `orders` or `v1/orders`.
    pub key: String,
}

#[async_trait]
pub trait DomainStore: Send + Sync {
    /// Conflict when the name is taken.
    async fn insert_domain_name(&self, domain: &DomainName) -> StoreResult<()>;
    async fn get_domain_name(&self, name: &str) -> StoreResult<Option<DomainName>>;
    /// Replaces the domain name; NotFound when it does not exist.
    async fn update_domain_name(&self, domain: &DomainName) -> StoreResult<()>;
    /// Deletes the domain name and its API mappings; NotFound when it does not exist.
    async fn delete_domain_name(&self, name: &str) -> StoreResult<()>;
    /// Domain names ordered by name, after `page.after`.
    async fn list_domain_names(&self, page: &Page) -> StoreResult<Vec<DomainName>>;

    /// Conflict when the domain already has the mapping's key (or id); NotFound when the
    /// domain does not exist.
    async fn insert_api_mapping(&self, mapping: &ApiMapping) -> StoreResult<()>;
    async fn get_api_mapping(&self, domain: &str, id: &str) -> StoreResult<Option<ApiMapping>>;
    /// Replaces the mapping (found by domain and id); NotFound, or Conflict on a taken key.
    async fn update_api_mapping(&self, mapping: &ApiMapping) -> StoreResult<()>;
    /// NotFound when there is no such mapping.
    async fn delete_api_mapping(&self, domain: &str, id: &str) -> StoreResult<()>;
    /// The mappings of one domain, ordered by id.
    async fn list_api_mappings(&self, domain: &str) -> StoreResult<Vec<ApiMapping>>;
    /// The mappings, on any domain, to the API (and, when given, to that stage of it).
    async fn api_mappings_to(
        &self,
        api_id: &str,
        stage: Option<&str>,
    ) -> StoreResult<Vec<ApiMapping>>;
    /// Every mapping of every domain, ordered by domain and id (what the gateway serves).
    async fn all_api_mappings(&self) -> StoreResult<Vec<ApiMapping>>;
}
