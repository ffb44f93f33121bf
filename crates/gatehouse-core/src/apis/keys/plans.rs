//! Usage plans and usage plan keys: CreateUsagePlan (its API stages must be stages of
//! existing REST APIs), GetUsagePlan(s), UpdateUsagePlan (patch operations on the name,
//! description, throttle, quota and API stages), DeleteUsagePlan, and Create / Get / Delete
//! UsagePlanKey(s). A key may join several plans, but only one per API stage, as on AWS.

use std::collections::BTreeMap;

use gatehouse_store::api_keys::{
    ApiKey, QuotaSettings, ThrottleSettings, UsagePlan, UsagePlanStage,
};
use gatehouse_store::{Page, StoreError};

use super::key_not_found;
use crate::apis::rest::patch::{
    self, escape, invalid_path, need_value, parse_double, parse_int, unsupported_op, Patchable,
};
use crate::apis::rest::tags::check_tag_keys;
use crate::apis::rest::{rest_page, PatchKind, PatchOp, RestPage};
use crate::apis::{ApiError, ApiResult, ApiService};
use crate::env::random_lower_alnum;

/// Length of usage plan ids (AWS uses 6 characters).
const PLAN_ID_LEN: usize = 6;

#[derive(Debug, Clone, Default)]
pub struct ApiStageInput {
    pub api_id: String,
    pub stage: String,
    /// `{resourcePath}/{METHOD}` -> throttle.
    pub throttle: BTreeMap<String, ThrottleSettings>,
}

#[derive(Debug, Clone, Default)]
pub struct UsagePlanInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub api_stages: Vec<ApiStageInput>,
    pub throttle: Option<ThrottleSettings>,
    pub quota: Option<QuotaSettings>,
    pub tags: BTreeMap<String, String>,
}

/// A usage plan key as GetUsagePlanKey shows it: the key's id, type, name and value.
#[derive(Debug, Clone)]
pub struct UsagePlanKeyView {
    pub id: String,
    pub key_type: String,
    pub name: String,
    pub value: String,
}

impl UsagePlanKeyView {
    fn of(key: &ApiKey, value: String) -> Self {
        Self {
            id: key.id.clone(),
            key_type: "API_KEY".into(),
            name: key.name.clone(),
            value,
        }
    }
}

pub(crate) fn plan_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Invalid Usage Plan ID specified: {id}"))
}

fn check_throttle(t: &ThrottleSettings) -> ApiResult<()> {
    if t.burst_limit.is_some_and(|b| b < 0) || t.rate_limit.is_some_and(|r| r.is_nan() || r < 0.0) {
        return Err(ApiError::bad(
            "Invalid throttle settings: burstLimit and rateLimit must not be negative",
        ));
    }
    Ok(())
}

fn check_quota(q: &QuotaSettings) -> ApiResult<()> {
    if !matches!(q.period.as_str(), "DAY" | "WEEK" | "MONTH") {
        return Err(ApiError::bad(format!(
            "Invalid quota period '{}': must be one of DAY, WEEK or MONTH",
            q.period
        )));
    }
    if q.limit < 0 {
        return Err(ApiError::bad("Invalid quota limit: must not be negative"));
    }
    if q.offset < 0 || q.offset >= q.limit.max(1) {
        return Err(ApiError::bad(
            "Invalid quota offset: must be at least 0 and less than the limit",
        ));
    }
    Ok(())
}

/// A method throttle key: `{resourcePath}/{METHOD}` with a path starting with `/`.
fn check_method_key(key: &str) -> ApiResult<()> {
    let ok = key
        .rsplit_once('/')
        // `/GET` (or `//GET`) is the root resource's.
        .is_some_and(|(path, method)| {
            (path.is_empty() || path.starts_with('/')) && !method.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "Invalid method throttle key '{key}': expected {{resourcePath}}/{{httpMethod}}"
        )))
    }
}

fn check_plan(plan: &UsagePlan) -> ApiResult<()> {
    if plan.name.is_empty() {
        return Err(ApiError::bad("Usage Plan name must not be empty"));
    }
    if let Some(t) = &plan.throttle {
        check_throttle(t)?;
    }
    if let Some(q) = &plan.quota {
        check_quota(q)?;
    }
    for s in &plan.api_stages {
        for (k, t) in &s.throttle {
            check_method_key(k)?;
            check_throttle(t)?;
        }
    }
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for s in &plan.api_stages {
        if seen.contains(&(s.api_id.as_str(), s.stage.as_str())) {
            return Err(ApiError::bad(format!(
                "Duplicate API stage {}:{} in the usage plan",
                s.api_id, s.stage
            )));
        }
        seen.push((&s.api_id, &s.stage));
    }
    Ok(())
}

/// `{apiId}:{stage}` as patch values and paths name an API stage.
fn api_stage_of(v: &str) -> ApiResult<(String, String)> {
    v.split_once(':')
        .filter(|(a, s)| !a.is_empty() && !s.is_empty())
        .map(|(a, s)| (a.to_string(), s.to_string()))
        .ok_or_else(|| {
            ApiError::bad(format!(
                "Invalid API stage '{v}': expected {{restApiId}}:{{stageName}}"
            ))
        })
}

/// A plan's patchable members. Stages added are checked once the patch is applied.
struct PlanPatch<'a> {
    plan: &'a mut UsagePlan,
    added_stages: Vec<(String, String)>,
}

impl PlanPatch<'_> {
    fn throttle_member(t: &mut ThrottleSettings, member: &str, value: Option<f64>) -> bool {
        match member {
            "rateLimit" => t.rate_limit = value,
            "burstLimit" => t.burst_limit = value.map(|v| v as i64),
            _ => return false,
        }
        true
    }
}

impl Patchable for PlanPatch<'_> {
    fn patch_paths(&self) -> &'static str {
        "/name, /description, /productCode, /throttle/rateLimit, /throttle/burstLimit, /quota/limit, /quota/offset, /quota/period, /apiStages, /apiStages/{apiId}:{stage}/throttle/{resourcePath}/{httpMethod}/rateLimit, /apiStages/{apiId}:{stage}/throttle/{resourcePath}/{httpMethod}/burstLimit"
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p = &self.plan;
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match segs.as_slice() {
            ["name"] => Some(p.name.clone()),
            ["description"] => p.description.clone(),
            ["throttle", "rateLimit"] => {
                p.throttle.and_then(|t| t.rate_limit).map(|v| v.to_string())
            }
            ["throttle", "burstLimit"] => p
                .throttle
                .and_then(|t| t.burst_limit)
                .map(|v| v.to_string()),
            ["quota", "limit"] => p.quota.as_ref().map(|q| q.limit.to_string()),
            ["quota", "offset"] => p.quota.as_ref().map(|q| q.offset.to_string()),
            ["quota", "period"] => p.quota.as_ref().map(|q| q.period.clone()),
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
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let set = matches!(op, PatchKind::Add | PatchKind::Replace);
        match (segs.as_slice(), op) {
            (["name"], PatchKind::Replace) => {
                self.plan.name = need_value(op, raw, value)?.to_string();
            }
            (["description"], PatchKind::Replace | PatchKind::Add) => {
                self.plan.description = value.map(str::to_string);
            }
            (["description"], PatchKind::Remove) => self.plan.description = None,
            (["productCode"], _) => {}
            (["throttle"], PatchKind::Remove) => self.plan.throttle = None,
            (["throttle", member], _) if set || op == PatchKind::Remove => {
                let v = if set {
                    Some(parse_double(raw, need_value(op, raw, value)?)?)
                } else {
                    None
                };
                let t = self.plan.throttle.get_or_insert_with(Default::default);
                if !Self::throttle_member(t, member, v) {
                    return Err(invalid_path(op, raw, self.patch_paths()));
                }
                if t.rate_limit.is_none() && t.burst_limit.is_none() {
                    self.plan.throttle = None;
                }
            }
            (["quota"], PatchKind::Remove) => self.plan.quota = None,
            (["quota", member], PatchKind::Replace | PatchKind::Add) => {
                let v = need_value(op, raw, value)?;
                let q = self.plan.quota.get_or_insert_with(|| QuotaSettings {
                    limit: 0,
                    offset: 0,
                    period: "DAY".into(),
                });
                match *member {
                    "limit" => q.limit = parse_int(raw, v)?,
                    "offset" => q.offset = parse_int(raw, v)?,
                    "period" => q.period = v.to_ascii_uppercase(),
                    _ => return Err(invalid_path(op, raw, self.patch_paths())),
                }
            }
            (["apiStages"], PatchKind::Add) => {
                let (api, stage) = api_stage_of(need_value(op, raw, value)?)?;
                let exists = self
                    .plan
                    .api_stages
                    .iter()
                    .any(|s| s.api_id == api && s.stage == stage);
                if !exists {
                    self.plan.api_stages.push(UsagePlanStage {
                        api_id: api.clone(),
                        stage: stage.clone(),
                        throttle: BTreeMap::new(),
                    });
                    self.added_stages.push((api, stage));
                }
            }
            (["apiStages"], PatchKind::Remove) => {
                let (api, stage) = api_stage_of(need_value(op, raw, value)?)?;
                let before = self.plan.api_stages.len();
                self.plan
                    .api_stages
                    .retain(|s| !(s.api_id == api && s.stage == stage));
                if self.plan.api_stages.len() == before {
                    return Err(ApiError::bad("Invalid API Stage specified"));
                }
            }
            (["apiStages", api_stage, "throttle", rest @ ..], _) => {
                let (api, stage) = api_stage_of(api_stage)?;
                let s = self
                    .plan
                    .api_stages
                    .iter_mut()
                    .find(|s| s.api_id == api && s.stage == stage)
                    .ok_or_else(|| {
                        ApiError::not_found(format!(
                            "Invalid API stage {api}:{stage}: not in the usage plan"
                        ))
                    })?;
                match (rest, op) {
                    ([], PatchKind::Remove) => s.throttle.clear(),
                    ([resource, method], PatchKind::Remove) => {
                        s.throttle.remove(&format!("{resource}/{method}"));
                    }
                    ([resource, method, member], _) if set || op == PatchKind::Remove => {
                        let key = format!("{resource}/{method}");
                        check_method_key(&key)?;
                        let v = if set {
                            Some(parse_double(raw, need_value(op, raw, value)?)?)
                        } else {
                            None
                        };
                        let t = s.throttle.entry(key.clone()).or_default();
                        if !Self::throttle_member(t, member, v) {
                            return Err(invalid_path(op, raw, self.patch_paths()));
                        }
                        if t.rate_limit.is_none() && t.burst_limit.is_none() {
                            s.throttle.remove(&key);
                        }
                    }
                    _ => return Err(invalid_path(op, raw, self.patch_paths())),
                }
            }
            (["name"] | ["quota", _] | ["apiStages"], _) => return Err(unsupported_op(op, raw)),
            _ => return Err(invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl ApiService {
    pub(crate) async fn load_usage_plan(&self, id: &str) -> ApiResult<UsagePlan> {
        self.store
            .get_usage_plan(id)
            .await?
            .ok_or_else(|| plan_not_found(id))
    }

    /// Each stage is a stage of an existing REST API (AWS's BadRequestException names the
    /// stage and the plan).
    async fn check_api_stages(&self, plan: &str, stages: &[(String, String)]) -> ApiResult<()> {
        for (api_id, stage) in stages {
            let exists = self
                .store
                .get_rest_api(api_id)
                .await?
                .is_some_and(|api| api.stages.iter().any(|s| s.name == *stage));
            if !exists {
                return Err(ApiError::bad(format!(
                    "Invalid API Stage {{api: {api_id}, stage: {stage}}} specified for usageplan {plan}"
                )));
            }
        }
        Ok(())
    }

    pub async fn create_usage_plan(&self, input: UsagePlanInput) -> ApiResult<UsagePlan> {
        check_tag_keys(&input.tags)?;
        let plan = UsagePlan {
            id: random_lower_alnum(self.rng.as_ref(), PLAN_ID_LEN),
            name: input
                .name
                .ok_or_else(|| ApiError::bad("Invalid input: name is required"))?,
            description: input.description,
            api_stages: input
                .api_stages
                .into_iter()
                .map(|s| UsagePlanStage {
                    api_id: s.api_id,
                    stage: s.stage,
                    throttle: s.throttle,
                })
                .collect(),
            throttle: input.throttle,
            quota: input.quota,
            tags: input.tags,
            created: self.clock.now(),
        };
        check_plan(&plan)?;
        let stages: Vec<(String, String)> = plan
            .api_stages
            .iter()
            .map(|s| (s.api_id.clone(), s.stage.clone()))
            .collect();
        self.check_api_stages(&plan.name, &stages).await?;
        let _guard = self.edit_lock.lock().await;
        self.store.insert_usage_plan(&plan).await?;
        self.bump();
        Ok(plan)
    }

    pub async fn get_usage_plan(&self, id: &str) -> ApiResult<UsagePlan> {
        self.load_usage_plan(id).await
    }

    /// Plans ordered by id; with `key_id`, only the plans holding that key.
    pub async fn get_usage_plans(
        &self,
        key_id: Option<&str>,
        page: &RestPage,
    ) -> ApiResult<(Vec<UsagePlan>, Option<String>)> {
        let mut plans = Vec::new();
        match key_id {
            Some(key) => {
                self.load_api_key(key).await?;
                for id in self.store.plans_of_key(key).await? {
                    if let Some(p) = self.store.get_usage_plan(&id).await? {
                        plans.push(p);
                    }
                }
            }
            None => {
                let mut after = None;
                loop {
                    let batch = self
                        .store
                        .list_usage_plans(&Page {
                            limit: 500,
                            after: after.clone(),
                        })
                        .await?;
                    let Some(last) = batch.last() else { break };
                    after = Some(last.id.clone());
                    let full = batch.len() == 500;
                    plans.extend(batch);
                    if !full {
                        break;
                    }
                }
            }
        }
        rest_page(&plans, page)
    }

    pub async fn update_usage_plan(&self, id: &str, ops: &[PatchOp]) -> ApiResult<UsagePlan> {
        let _guard = self.edit_lock.lock().await;
        let mut plan = self.load_usage_plan(id).await?;
        let mut p = PlanPatch {
            plan: &mut plan,
            added_stages: Vec::new(),
        };
        patch::apply(&mut p, ops)?;
        let added = std::mem::take(&mut p.added_stages);
        check_plan(&plan)?;
        self.check_api_stages(&plan.name, &added).await?;
        for (api, stage) in &added {
            for key in self.store.usage_plan_keys(id).await? {
                self.check_one_plan_per_stage(id, &key, &[(api.clone(), stage.clone())])
                    .await?;
            }
        }
        self.store.update_usage_plan(&plan).await?;
        self.bump();
        Ok(plan)
    }

    /// Refused while the plan covers API stages, as on AWS.
    pub async fn delete_usage_plan(&self, id: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        if let Some(s) = self.load_usage_plan(id).await?.api_stages.first() {
            return Err(ApiError::bad(format!(
                "Cannot delete Usage Plan {id} because there are API Stages associated with it, including {}:{}",
                s.api_id, s.stage
            )));
        }
        match self.store.delete_usage_plan(id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(plan_not_found(id)),
            Err(e) => return Err(e.into()),
        }
        self.bump();
        Ok(())
    }

    /// A key may be in one plan per API stage: none of `stages` may be covered by another
    /// plan of the key.
    async fn check_one_plan_per_stage(
        &self,
        plan_id: &str,
        key_id: &str,
        stages: &[(String, String)],
    ) -> ApiResult<()> {
        for other in self.store.plans_of_key(key_id).await? {
            if other == plan_id {
                continue;
            }
            let Some(other) = self.store.get_usage_plan(&other).await? else {
                continue;
            };
            if let Some(s) = other.api_stages.iter().find(|s| {
                stages
                    .iter()
                    .any(|(a, st)| *a == s.api_id && *st == s.stage)
            }) {
                return Err(ApiError::conflict(format!(
                    "Usage Plan {plan_id} cannot be added because API Key {key_id} cannot reference multiple Usage Plans with the same API Stage: {}:{}",
                    s.api_id, s.stage
                )));
            }
        }
        Ok(())
    }

    pub async fn create_usage_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
        key_type: &str,
    ) -> ApiResult<UsagePlanKeyView> {
        if key_type != "API_KEY" {
            return Err(ApiError::bad(format!(
                "Invalid key type specified: {key_type}. Must be API_KEY"
            )));
        }
        let _guard = self.edit_lock.lock().await;
        let plan = self.load_usage_plan(plan_id).await?;
        let key = self.load_api_key(key_id).await?;
        let stages: Vec<(String, String)> = plan
            .api_stages
            .iter()
            .map(|s| (s.api_id.clone(), s.stage.clone()))
            .collect();
        self.check_one_plan_per_stage(plan_id, key_id, &stages)
            .await?;
        match self.store.insert_usage_plan_key(plan_id, key_id).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict(format!(
                    "Usage Plan {plan_id} already has API Key {key_id}"
                )))
            }
            Err(e) => return Err(e.into()),
        }
        self.bump();
        Ok(UsagePlanKeyView::of(&key, self.key_value(&key)?))
    }

    pub async fn get_usage_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> ApiResult<UsagePlanKeyView> {
        self.load_usage_plan(plan_id).await?;
        if !self
            .store
            .usage_plan_keys(plan_id)
            .await?
            .iter()
            .any(|k| k == key_id)
        {
            return Err(key_not_found());
        }
        let key = self.load_api_key(key_id).await?;
        Ok(UsagePlanKeyView::of(&key, self.key_value(&key)?))
    }

    /// The plan's keys ordered by id; `name` filters by name prefix.
    pub async fn get_usage_plan_keys(
        &self,
        plan_id: &str,
        name: Option<&str>,
        page: &RestPage,
    ) -> ApiResult<(Vec<UsagePlanKeyView>, Option<String>)> {
        self.load_usage_plan(plan_id).await?;
        let mut views = Vec::new();
        for id in self.store.usage_plan_keys(plan_id).await? {
            if let Some(key) = self.store.get_api_key(&id).await? {
                if name.is_none_or(|n| key.name.starts_with(n)) {
                    views.push(UsagePlanKeyView::of(&key, self.key_value(&key)?));
                }
            }
        }
        rest_page(&views, page)
    }

    pub async fn delete_usage_plan_key(&self, plan_id: &str, key_id: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        self.load_usage_plan(plan_id).await?;
        match self.store.delete_usage_plan_key(plan_id, key_id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(key_not_found()),
            Err(e) => return Err(e.into()),
        }
        self.bump();
        Ok(())
    }
}

/// The patch path of a method throttle member (for messages and tests).
pub fn method_throttle_path(
    api: &str,
    stage: &str,
    resource: &str,
    method: &str,
    member: &str,
) -> String {
    format!(
        "/apiStages/{api}:{stage}/throttle/{}/{method}/{member}",
        escape(resource)
    )
}

/// What a `…::/apikeys/{id}` or `…::/usageplans/{id}` ARN names.
pub(crate) enum TaggedArn {
    ApiKey(String),
    UsagePlan(String),
}

impl TaggedArn {
    pub(crate) fn parse(arn: &str) -> Option<Self> {
        let (_, rest) = arn.strip_prefix("arn:")?.split_once("::/")?;
        let (kind, id) = rest.split_once('/')?;
        if id.is_empty() || id.contains('/') {
            return None;
        }
        match kind {
            "apikeys" => Some(Self::ApiKey(id.to_string())),
            "usageplans" => Some(Self::UsagePlan(id.to_string())),
            _ => None,
        }
    }
}

impl ApiService {
    /// GetTags of an API key or usage plan.
    pub(crate) async fn key_or_plan_tags(
        &self,
        arn: &TaggedArn,
    ) -> ApiResult<BTreeMap<String, String>> {
        Ok(match arn {
            TaggedArn::ApiKey(id) => self.load_api_key(id).await?.tags,
            TaggedArn::UsagePlan(id) => self.load_usage_plan(id).await?.tags,
        })
    }

    /// TagResource / UntagResource of an API key or usage plan.
    pub(crate) async fn tag_key_or_plan(
        &self,
        arn: &TaggedArn,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> ApiResult<()> {
        check_tag_keys(&add)?;
        let _guard = self.edit_lock.lock().await;
        let edit = |tags: &mut BTreeMap<String, String>| {
            for k in remove {
                tags.remove(k);
            }
            tags.extend(add);
        };
        match arn {
            TaggedArn::ApiKey(id) => {
                let mut key = self.load_api_key(id).await?;
                edit(&mut key.tags);
                self.store.update_api_key(&key).await?;
            }
            TaggedArn::UsagePlan(id) => {
                let mut plan = self.load_usage_plan(id).await?;
                edit(&mut plan.tags);
                self.store.update_usage_plan(&plan).await?;
            }
        }
        Ok(())
    }
}
