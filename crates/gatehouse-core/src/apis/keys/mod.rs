//! API keys (API Gateway v1): CreateApiKey, GetApiKey(s), UpdateApiKey, DeleteApiKey and
//! ImportApiKeys. A key's value is a secret: it is found by its SHA-256 (the data plane never
//! needs it), returned only when asked for (`includeValue`) and never logged. Usage plans,
//! usage plan keys and usage live in `plans.rs` and `usage.rs`.
//!
//! Values are sealed at rest with the node's master key when the service has it
//! (`ApiService::with_secrets`), bound to the key's id; the hash is what is indexed.

pub mod plans;
pub mod usage;

use std::collections::BTreeMap;

use gatehouse_store::api_keys::ApiKey;
use gatehouse_store::{Page, StoreError};
use sha2::{Digest, Sha256};

use super::rest::patch::{self, invalid_path, need_value, parse_bool, unsupported_op, Patchable};
use super::rest::tags::check_tag_keys;
use super::rest::{PatchKind, PatchOp, RestPage};
use super::{ApiError, ApiResult, ApiService};
use crate::env::{random_alnum, random_lower_alnum};

pub use plans::{ApiStageInput, UsagePlanInput, UsagePlanKeyView};
pub use usage::{period_start, ServedKeys, Usage};

/// Shortest and longest key values AWS takes.
pub const MIN_VALUE_LEN: usize = 20;
pub const MAX_VALUE_LEN: usize = 128;
/// Length of generated values (AWS generates 40 characters).
const GENERATED_VALUE_LEN: usize = 40;
/// Length of key ids (AWS uses 10 characters).
const KEY_ID_LEN: usize = 10;

/// Lower-case hex SHA-256 of a key value: how keys are stored and looked up.
pub fn value_hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// What CreateApiKey (and each ImportApiKeys row) gives.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub generate_distinct_id: Option<bool>,
    pub value: Option<String>,
    /// `(restApiId, stageName)` pairs.
    pub stage_keys: Vec<(String, String)>,
    pub customer_id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// GetApiKeys' filters.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyQuery {
    /// A prefix of the name.
    pub name: Option<String>,
    pub customer_id: Option<String>,
    pub include_values: bool,
}

/// A key as the wire shows it: the value only when asked for.
#[derive(Debug, Clone)]
pub struct ApiKeyView {
    pub key: ApiKey,
    pub value: Option<String>,
}

pub(crate) fn key_not_found() -> ApiError {
    ApiError::not_found("Invalid API Key identifier specified")
}

fn check_value(value: &str) -> ApiResult<()> {
    let n = value.chars().count();
    if n < MIN_VALUE_LEN {
        return Err(ApiError::bad(format!(
            "API Key value should be at least {MIN_VALUE_LEN} characters"
        )));
    }
    if n > MAX_VALUE_LEN {
        return Err(ApiError::bad(format!(
            "API Key value exceeds maximum size of {MAX_VALUE_LEN} characters"
        )));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::bad(
            "API Key value contains characters that are not allowed",
        ));
    }
    Ok(())
}

/// `{restApiId}/{stageName}`, the stage key form AWS returns.
fn stage_key(api: &str, stage: &str) -> String {
    format!("{api}/{stage}")
}

/// A key's patchable members: `/name`, `/description`, `/enabled`, `/customerId` and
/// `/stages` (add or remove `{restApiId}/{stageName}`).
struct KeyPatch<'a> {
    key: &'a mut ApiKey,
    /// Stage keys added, to check against the REST APIs once the patch is applied.
    added_stages: Vec<String>,
}

impl Patchable for KeyPatch<'_> {
    fn patch_paths(&self) -> &'static str {
        "/name, /description, /enabled, /customerId, /stages"
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let k = &self.key;
        Ok(match path {
            [p] if p == "name" => Some(k.name.clone()),
            [p] if p == "description" => k.description.clone(),
            [p] if p == "enabled" => Some(k.enabled.to_string()),
            [p] if p == "customerId" => k.customer_id.clone(),
            _ => return Err(invalid_path(PatchKind::Test, raw, self.patch_paths())),
        })
    }

    fn write(
        &mut self,
        op: PatchKind,
        path: &[String],
        raw: &str,
        value: Option<&str>,
    ) -> ApiResult<()> {
        let first = path.first().map(String::as_str).unwrap_or("");
        match (first, path.len(), op) {
            ("name", 1, PatchKind::Replace) => {
                let v = need_value(op, raw, value)?;
                if v.is_empty() {
                    return Err(ApiError::bad("API Key name must not be empty"));
                }
                self.key.name = v.to_string();
            }
            ("description", 1, PatchKind::Replace) => {
                self.key.description = value.map(str::to_string);
            }
            ("enabled", 1, PatchKind::Replace) => {
                self.key.enabled = parse_bool(raw, need_value(op, raw, value)?)?;
            }
            ("customerId", 1, PatchKind::Replace) => {
                self.key.customer_id = value.filter(|v| !v.is_empty()).map(str::to_string);
            }
            ("customerId" | "description", 1, PatchKind::Remove) => {
                if first == "customerId" {
                    self.key.customer_id = None;
                } else {
                    self.key.description = None;
                }
            }
            ("stages", 1, PatchKind::Add) => {
                let v = need_value(op, raw, value)?;
                let (api, stage) = v.split_once('/').ok_or_else(|| {
                    ApiError::bad(format!(
                        "Invalid stage key '{v}': expected {{restApiId}}/{{stageName}}"
                    ))
                })?;
                let sk = stage_key(api, stage);
                if !self.key.stage_keys.contains(&sk) {
                    self.key.stage_keys.push(sk.clone());
                    self.added_stages.push(sk);
                }
            }
            ("stages", 1, PatchKind::Remove) => {
                let v = need_value(op, raw, value)?;
                self.key.stage_keys.retain(|s| s != v);
            }
            ("name" | "description" | "enabled" | "customerId" | "stages", 1, _) => {
                return Err(unsupported_op(op, raw))
            }
            _ => return Err(invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl ApiService {
    /// The key, or AWS's NotFound.
    pub(crate) async fn load_api_key(&self, id: &str) -> ApiResult<ApiKey> {
        self.store.get_api_key(id).await?.ok_or_else(key_not_found)
    }

    fn view(&self, key: ApiKey, include_value: bool) -> ApiResult<ApiKeyView> {
        let value = if include_value {
            Some(self.key_value(&key)?)
        } else {
            None
        };
        Ok(ApiKeyView { key, value })
    }

    /// The value as stored for key `id`: sealed when the service has a master key.
    fn seal_value(&self, id: &str, value: &str) -> ApiResult<(String, bool)> {
        match &self.secrets {
            Some(b) => b
                .seal(value.as_bytes(), &format!("apikey:{id}"), self.rng.as_ref())
                .map(|s| (s, true))
                .map_err(|e| ApiError::Internal(e.to_string())),
            None => Ok((value.to_string(), false)),
        }
    }

    /// A key's value in the clear.
    pub(crate) fn key_value(&self, key: &ApiKey) -> ApiResult<String> {
        if !key.value_sealed {
            return Ok(key.value.clone());
        }
        let b = self.secrets.as_ref().ok_or_else(|| {
            ApiError::Internal(format!(
                "API key {} is sealed but this node has no master key",
                key.id
            ))
        })?;
        let plain = b
            .open(&key.value, &format!("apikey:{}", key.id))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        String::from_utf8(plain)
            .map_err(|_| ApiError::Internal(format!("API key {} value is not UTF-8", key.id)))
    }

    /// Every stage key names an existing stage of a REST API.
    async fn check_stage_keys(&self, stage_keys: &[String]) -> ApiResult<()> {
        for sk in stage_keys {
            let (api_id, stage) = sk.split_once('/').unwrap_or((sk.as_str(), ""));
            let api = self
                .store
                .get_rest_api(api_id)
                .await?
                .ok_or_else(|| Self::rest_api_not_found(api_id))?;
            if !api.stages.iter().any(|s| s.name == stage) {
                return Err(ApiError::bad(format!(
                    "Invalid stage identifier specified: {sk}"
                )));
            }
        }
        Ok(())
    }

    /// A key from its input, with a fresh id and a generated value when none is given.
    fn new_api_key(&self, input: ApiKeyInput, now: i64) -> ApiResult<(ApiKey, String)> {
        let value = match input.value {
            Some(v) => {
                check_value(&v)?;
                v
            }
            None => random_alnum(self.rng.as_ref(), GENERATED_VALUE_LEN),
        };
        check_tag_keys(&input.tags)?;
        let id = random_lower_alnum(self.rng.as_ref(), KEY_ID_LEN);
        let (stored, value_sealed) = self.seal_value(&id, &value)?;
        let key = ApiKey {
            id,
            name: input.name.filter(|n| !n.is_empty()).unwrap_or_default(),
            description: input.description,
            enabled: input.enabled.unwrap_or(false),
            customer_id: input.customer_id.filter(|c| !c.is_empty()),
            generate_distinct_id: input.generate_distinct_id.unwrap_or(false),
            value: stored,
            value_sealed,
            value_hash: value_hash(&value),
            stage_keys: input
                .stage_keys
                .iter()
                .map(|(a, s)| stage_key(a, s))
                .collect(),
            tags: input.tags,
            created: now,
            last_updated: now,
        };
        Ok((key, value))
    }

    pub async fn create_api_key(&self, input: ApiKeyInput) -> ApiResult<ApiKeyView> {
        let now = self.clock.now();
        let (mut key, value) = self.new_api_key(input, now)?;
        self.check_stage_keys(&key.stage_keys).await?;
        if key.name.is_empty() {
            // AWS names an unnamed key after its id.
            key.name = key.id.clone();
        }
        let _guard = self.edit_lock.lock().await;
        match self.store.insert_api_key(&key).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict("API Key already exists"));
            }
            Err(e) => return Err(e.into()),
        }
        self.bump();
        Ok(ApiKeyView {
            key,
            value: Some(value),
        })
    }

    pub async fn get_api_key(&self, id: &str, include_value: bool) -> ApiResult<ApiKeyView> {
        self.view(self.load_api_key(id).await?, include_value)
    }

    /// Keys ordered by id, filtered by name prefix and customer id, one page at a time.
    pub async fn get_api_keys(
        &self,
        query: &ApiKeyQuery,
        page: &RestPage,
    ) -> ApiResult<(Vec<ApiKeyView>, Option<String>)> {
        let limit = page.limit()?;
        let mut after = match &page.position {
            None => None,
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p.clone()),
        };
        let mut out = Vec::new();
        loop {
            let batch = self
                .store
                .list_api_keys(&Page {
                    limit: 500,
                    after: after.clone(),
                })
                .await?;
            let Some(last) = batch.last() else {
                return Ok((out, None));
            };
            after = Some(last.id.clone());
            let full = batch.len() == 500;
            for key in batch {
                let matches = query
                    .name
                    .as_deref()
                    .is_none_or(|n| key.name.starts_with(n))
                    && query
                        .customer_id
                        .as_deref()
                        .is_none_or(|c| key.customer_id.as_deref() == Some(c));
                if !matches {
                    continue;
                }
                let id = key.id.clone();
                out.push(self.view(key, query.include_values)?);
                if out.len() == limit {
                    return Ok((out, Some(id)));
                }
            }
            if !full {
                return Ok((out, None));
            }
        }
    }

    pub async fn update_api_key(&self, id: &str, ops: &[PatchOp]) -> ApiResult<ApiKeyView> {
        let _guard = self.edit_lock.lock().await;
        let mut key = self.load_api_key(id).await?;
        let mut p = KeyPatch {
            key: &mut key,
            added_stages: Vec::new(),
        };
        patch::apply(&mut p, ops)?;
        let added = std::mem::take(&mut p.added_stages);
        self.check_stage_keys(&added).await?;
        key.last_updated = self.clock.now();
        self.store.update_api_key(&key).await?;
        self.bump();
        self.view(key, false)
    }

    pub async fn delete_api_key(&self, id: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        match self.store.delete_api_key(id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(key_not_found()),
            Err(e) => return Err(e.into()),
        }
        self.bump();
        Ok(())
    }

    /// ImportApiKeys from CSV (`name,key,description,enabled,usageplanIds`, header first,
    /// columns in any order, `key` required). Returns the new ids and the warnings; with
    /// `fail_on_warnings` a warning refuses the whole import.
    pub async fn import_api_keys(
        &self,
        csv: &str,
        fail_on_warnings: bool,
    ) -> ApiResult<(Vec<String>, Vec<String>)> {
        let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .ok_or_else(|| ApiError::bad("Invalid API keys file: it is empty"))?
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name);
        let key_col = col("key")
            .ok_or_else(|| ApiError::bad("Invalid API keys file: a 'key' column is required"))?;
        let (name_col, desc_col, enabled_col, plans_col) = (
            col("name"),
            col("description"),
            col("enabled"),
            col("usageplanids"),
        );
        let now = self.clock.now();
        let mut keys = Vec::new();
        let mut memberships = Vec::new();
        let mut warnings = Vec::new();
        for (n, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let cell = |c: Option<usize>| {
                c.and_then(|i| cells.get(i))
                    .copied()
                    .filter(|s| !s.is_empty())
            };
            let Some(value) = cell(Some(key_col)) else {
                warnings.push(format!("Line {}: no key value; skipped", n + 2));
                continue;
            };
            let enabled = match cell(enabled_col).map(str::to_ascii_lowercase).as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    warnings.push(format!("Line {}: invalid enabled value {other}", n + 2));
                    true
                }
            };
            let (key, _) = self.new_api_key(
                ApiKeyInput {
                    name: cell(name_col).map(str::to_string),
                    description: cell(desc_col).map(str::to_string),
                    enabled: Some(enabled),
                    value: Some(value.to_string()),
                    ..Default::default()
                },
                now,
            )?;
            let mut key = key;
            if key.name.is_empty() {
                key.name = key.id.clone();
            }
            for plan in cell(plans_col)
                .unwrap_or("")
                .split(';')
                .filter(|p| !p.is_empty())
            {
                memberships.push((plan.to_string(), key.id.clone()));
            }
            keys.push(key);
        }
        if fail_on_warnings && !warnings.is_empty() {
            return Err(ApiError::bad(warnings.join("; ")));
        }
        let _guard = self.edit_lock.lock().await;
        for (plan, _) in &memberships {
            self.load_usage_plan(plan).await?;
        }
        match self.store.insert_api_keys(&keys).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict("API Key already exists"));
            }
            Err(e) => return Err(e.into()),
        }
        for (plan, key) in &memberships {
            self.store.insert_usage_plan_key(plan, key).await?;
        }
        self.bump();
        Ok((keys.into_iter().map(|k| k.id).collect(), warnings))
    }
}

#[cfg(test)]
mod tests;
