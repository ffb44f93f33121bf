//! API keys and usage plans (API Gateway v1): the aggregates and their store trait. A usage
//! plan names the REST API stages it covers, with its throttle and quota; keys join plans
//! through usage plan keys; usage is counted per plan, key and UTC day.
//!
//! The store sees a key's value only in its stored form (sealed by the domain when it can be)
//! and its SHA-256, by which the data plane finds keys.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Page, StoreResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub customer_id: Option<String>,
    pub generate_distinct_id: bool,
    /// The value as stored: sealed (`value_sealed`) or as given.
    pub value: String,
    pub value_sealed: bool,
    /// Lower-case hex SHA-256 of the value; unique.
    pub value_hash: String,
    /// `{restApiId}/{stageName}` (the legacy `stageKeys`).
    pub stage_keys: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub last_updated: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct ThrottleSettings {
    pub burst_limit: Option<i64>,
    pub rate_limit: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct QuotaSettings {
    pub limit: i64,
    /// Requests taken off the limit in the plan's first period.
    pub offset: i64,
    /// DAY, WEEK or MONTH.
    pub period: String,
}

/// A stage a usage plan covers, with per-method throttles keyed `{resourcePath}/{METHOD}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UsagePlanStage {
    pub api_id: String,
    pub stage: String,
    pub throttle: BTreeMap<String, ThrottleSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UsagePlan {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub api_stages: Vec<UsagePlanStage>,
    pub throttle: Option<ThrottleSettings>,
    pub quota: Option<QuotaSettings>,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
}

/// Requests counted for a key under a plan on one UTC day (days since 1970-01-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub plan_id: String,
    pub key_id: String,
    pub day: i64,
    /// May be negative on a day UpdateUsage gave requests back.
    pub used: i64,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Conflict when the id or the value (by hash) is taken.
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// Inserts many keys in one transaction (ImportApiKeys); all or none.
    async fn insert_api_keys(&self, keys: &[ApiKey]) -> StoreResult<()>;
    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    async fn get_api_key_by_hash(&self, value_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// Replaces the key (the value and its hash stay); NotFound when it does not exist.
    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// Deletes the key, its usage plan keys and its usage; NotFound when it does not exist.
    async fn delete_api_key(&self, id: &str) -> StoreResult<()>;
    /// Keys ordered by id, after `page.after`.
    async fn list_api_keys(&self, page: &Page) -> StoreResult<Vec<ApiKey>>;

    /// Conflict when the id is taken.
    async fn insert_usage_plan(&self, plan: &UsagePlan) -> StoreResult<()>;
    async fn get_usage_plan(&self, id: &str) -> StoreResult<Option<UsagePlan>>;
    /// NotFound when it does not exist.
    async fn update_usage_plan(&self, plan: &UsagePlan) -> StoreResult<()>;
    /// Deletes the plan, its keys and its usage; NotFound when it does not exist.
    async fn delete_usage_plan(&self, id: &str) -> StoreResult<()>;
    /// Plans ordered by id, after `page.after`.
    async fn list_usage_plans(&self, page: &Page) -> StoreResult<Vec<UsagePlan>>;

    /// Conflict when the key is already in the plan.
    async fn insert_usage_plan_key(&self, plan_id: &str, key_id: &str) -> StoreResult<()>;
    /// NotFound when the key is not in the plan.
    async fn delete_usage_plan_key(&self, plan_id: &str, key_id: &str) -> StoreResult<()>;
    /// The ids of the plan's keys, ordered.
    async fn usage_plan_keys(&self, plan_id: &str) -> StoreResult<Vec<String>>;
    /// The ids of the plans holding the key, ordered.
    async fn plans_of_key(&self, key_id: &str) -> StoreResult<Vec<String>>;
    /// Every (plan id, key id) pair (what the gateway serves).
    async fn all_usage_plan_keys(&self) -> StoreResult<Vec<(String, String)>>;

    /// Adds each count to its (plan, key, day) counter, in one transaction. Counts of a plan
    /// or key deleted meanwhile are dropped.
    async fn add_usage(&self, counts: &[UsageCount]) -> StoreResult<()>;
    /// The counters of a plan (of one key when given) for days `from..=to`, ordered by key
    /// and day.
    async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<UsageCount>>;
    /// Every counter of every plan from day `from` on (what the gateway loads).
    async fn usage_since(&self, from: i64) -> StoreResult<Vec<UsageCount>>;
}
