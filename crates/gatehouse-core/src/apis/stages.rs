//! Stages and deployments. A deployment freezes the API's routing; a stage serves one
//! deployment (or, with autoDeploy, follows every change).

use std::collections::BTreeMap;

use gatehouse_store::apis::{DeploymentInfo, RouteSettings, Stage};

use super::edit::paginate;
use super::error::{ApiError, ApiResult};
use super::route_key::{self, DEFAULT_ROUTE};
use super::ApiService;

#[derive(Debug, Clone, Default)]
pub struct StageInput {
    pub stage_name: Option<String>,
    pub description: Option<String>,
    pub deployment_id: Option<String>,
    pub auto_deploy: Option<bool>,
    pub default_route_settings: Option<RouteSettings>,
    pub route_settings: Option<BTreeMap<String, RouteSettings>>,
    pub stage_variables: Option<BTreeMap<String, String>>,
    /// (destinationArn, format), replaced as a whole.
    pub access_log_settings: Option<(Option<String>, Option<String>)>,
    pub tags: Option<BTreeMap<String, String>>,
}

fn stage_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Invalid stage identifier specified {name}"))
}

fn deployment_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Invalid Deployment identifier specified {id}"))
}

fn check_stage_name(name: &str) -> ApiResult<()> {
    let ok = name == DEFAULT_ROUTE
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "Invalid stage name: {name}. Use $default or letters, digits, '-' and '_'"
        )))
    }
}

fn check_settings(s: &RouteSettings) -> ApiResult<()> {
    if s.throttling_burst_limit.is_some_and(|b| b < 0) {
        return Err(ApiError::bad("throttlingBurstLimit must not be negative"));
    }
    if s.throttling_rate_limit
        .is_some_and(|r| r < 0.0 || !r.is_finite())
    {
        return Err(ApiError::bad("throttlingRateLimit must not be negative"));
    }
    if let Some(l) = &s.logging_level {
        if !matches!(l.as_str(), "ERROR" | "INFO" | "OFF") {
            return Err(ApiError::bad(format!("Invalid loggingLevel: {l}")));
        }
    }
    Ok(())
}

/// Fills the members given in `from` into `into` (UpdateStage merges route settings).
fn merge_settings(into: &mut RouteSettings, from: RouteSettings) {
    if from.throttling_burst_limit.is_some() {
        into.throttling_burst_limit = from.throttling_burst_limit;
    }
    if from.throttling_rate_limit.is_some() {
        into.throttling_rate_limit = from.throttling_rate_limit;
    }
    if from.detailed_metrics_enabled.is_some() {
        into.detailed_metrics_enabled = from.detailed_metrics_enabled;
    }
    if from.logging_level.is_some() {
        into.logging_level = from.logging_level;
    }
    if from.data_trace_enabled.is_some() {
        into.data_trace_enabled = from.data_trace_enabled;
    }
}

impl StageInput {
    /// Applies the given members; true when the stage now wants an immediate deployment.
    fn apply(self, s: &mut Stage, deployments: &[DeploymentInfo]) -> ApiResult<bool> {
        if let Some(d) = self.description {
            s.description = Some(d);
        }
        if let Some(id) = self.deployment_id {
            if !deployments.iter().any(|d| d.id == id) {
                return Err(deployment_not_found(&id));
            }
            s.deployment_id = Some(id);
        }
        let mut deploy_now = false;
        if let Some(a) = self.auto_deploy {
            deploy_now = a && !s.auto_deploy;
            s.auto_deploy = a;
        }
        if let Some(d) = self.default_route_settings {
            check_settings(&d)?;
            merge_settings(&mut s.default_route_settings, d);
        }
        if let Some(rs) = self.route_settings {
            for (key, settings) in rs {
                route_key::validate(&key)?;
                check_settings(&settings)?;
                merge_settings(s.route_settings.entry(key).or_default(), settings);
            }
        }
        if let Some(v) = self.stage_variables {
            for (k, val) in &v {
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(ApiError::bad(format!(
                        "Invalid stage variable name: {k}. Use letters, digits and '_'"
                    )));
                }
                if val.chars().count() > 2048 {
                    return Err(ApiError::bad(format!(
                        "Stage variable {k} is longer than 2048 characters"
                    )));
                }
            }
            s.stage_variables.extend(v);
        }
        if let Some((dest, format)) = self.access_log_settings {
            s.access_log_destination = dest;
            s.access_log_format = format;
        }
        if let Some(t) = self.tags {
            s.tags.extend(t);
        }
        Ok(deploy_now)
    }
}

impl ApiService {
    pub async fn create_stage(&self, api_id: &str, input: StageInput) -> ApiResult<Stage> {
        let name = input
            .stage_name
            .clone()
            .ok_or_else(|| ApiError::bad("StageName is required"))?;
        check_stage_name(&name)?;
        self.edit(api_id, |e| {
            if e.api.stages.iter().any(|s| s.name == name) {
                return Err(ApiError::conflict(format!("Stage already exists: {name}")));
            }
            let mut s = Stage {
                name: name.clone(),
                created: e.now,
                last_updated: e.now,
                ..Stage::default()
            };
            let deploy_now = input.apply(&mut s, &e.api.deployments)?;
            if s.deployment_id.is_some() {
                e.served_changed = true;
            }
            e.api.stages.push(s);
            if deploy_now {
                // The stage follows the API from now on: deploy what is there.
                e.routing_changed = true;
            }
            Ok(())
        })
        .await?;
        self.get_stage(api_id, &name).await
    }

    pub async fn get_stage(&self, api_id: &str, name: &str) -> ApiResult<Stage> {
        let api = self.load(api_id).await?;
        api.stages
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| stage_not_found(name))
    }

    pub async fn list_stages(
        &self,
        api_id: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> ApiResult<(Vec<Stage>, Option<String>)> {
        let api = self.load(api_id).await?;
        paginate(&api.stages, max_results, next_token)
    }

    pub async fn update_stage(
        &self,
        api_id: &str,
        name: &str,
        input: StageInput,
    ) -> ApiResult<Stage> {
        self.edit(api_id, |e| {
            let deployments = e.api.deployments.clone();
            let s = e
                .api
                .stages
                .iter_mut()
                .find(|s| s.name == name)
                .ok_or_else(|| stage_not_found(name))?;
            let deploy_now = input.apply(s, &deployments)?;
            s.last_updated = e.now;
            e.served_changed = true;
            if deploy_now {
                e.routing_changed = true;
            }
            Ok(())
        })
        .await?;
        self.get_stage(api_id, name).await
    }

    /// Refused while custom domain names map to the stage (as DeleteApi is on AWS).
    pub async fn delete_stage(&self, api_id: &str, name: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        self.check_unmapped(api_id, Some(name)).await?;
        self.edit_locked(api_id, |e| {
            let pos = e
                .api
                .stages
                .iter()
                .position(|s| s.name == name)
                .ok_or_else(|| stage_not_found(name))?;
            e.api.stages.remove(pos);
            e.served_changed = true;
            Ok(())
        })
        .await
    }

    pub async fn delete_route_settings(
        &self,
        api_id: &str,
        name: &str,
        route_key: &str,
    ) -> ApiResult<()> {
        self.edit(api_id, |e| {
            let s = e
                .api
                .stages
                .iter_mut()
                .find(|s| s.name == name)
                .ok_or_else(|| stage_not_found(name))?;
            if s.route_settings.remove(route_key).is_none() {
                return Err(ApiError::not_found(format!(
                    "No route settings for route key {route_key}"
                )));
            }
            s.last_updated = e.now;
            e.served_changed = true;
            Ok(())
        })
        .await
    }

    pub async fn delete_access_log_settings(&self, api_id: &str, name: &str) -> ApiResult<()> {
        self.edit(api_id, |e| {
            let s = e
                .api
                .stages
                .iter_mut()
                .find(|s| s.name == name)
                .ok_or_else(|| stage_not_found(name))?;
            s.access_log_destination = None;
            s.access_log_format = None;
            s.last_updated = e.now;
            e.served_changed = true;
            Ok(())
        })
        .await
    }

    /// Freezes the API's routing; with a stage name, the stage serves it from now on.
    pub async fn create_deployment(
        &self,
        api_id: &str,
        description: Option<String>,
        stage_name: Option<String>,
    ) -> ApiResult<DeploymentInfo> {
        self.edit(api_id, |e| {
            if let Some(name) = &stage_name {
                let s = e
                    .api
                    .stages
                    .iter()
                    .find(|s| &s.name == name)
                    .ok_or_else(|| {
                        ApiError::bad(format!("Invalid stage identifier specified {name}"))
                    })?;
                if s.auto_deploy {
                    return Err(ApiError::bad(format!(
                        "Stage {name} has autoDeploy enabled: it is deployed on every change"
                    )));
                }
            }
            if e.api.routes.is_empty() {
                return Err(ApiError::bad(
                    "Unable to deploy API because no routes exist in this API",
                ));
            }
            let id = e.deploy(description, false);
            if let Some(name) = &stage_name {
                let now = e.now;
                if let Some(s) = e.api.stages.iter_mut().find(|s| &s.name == name) {
                    s.deployment_id = Some(id.clone());
                    s.last_updated = now;
                    s.last_deployment_status_message = Some(format!(
                        "Successfully deployed stage with deployment ID '{id}'"
                    ));
                }
                e.served_changed = true;
            }
            e.api
                .deployments
                .iter()
                .find(|d| d.id == id)
                .cloned()
                .ok_or_else(|| ApiError::Internal("deployment vanished".into()))
        })
        .await
    }

    pub async fn get_deployment(&self, api_id: &str, id: &str) -> ApiResult<DeploymentInfo> {
        let api = self.load(api_id).await?;
        api.deployments
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| deployment_not_found(id))
    }

    pub async fn list_deployments(
        &self,
        api_id: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> ApiResult<(Vec<DeploymentInfo>, Option<String>)> {
        let api = self.load(api_id).await?;
        paginate(&api.deployments, max_results, next_token)
    }

    pub async fn update_deployment(
        &self,
        api_id: &str,
        id: &str,
        description: Option<String>,
    ) -> ApiResult<DeploymentInfo> {
        self.edit(api_id, |e| {
            let d = e
                .api
                .deployments
                .iter_mut()
                .find(|d| d.id == id)
                .ok_or_else(|| deployment_not_found(id))?;
            if let Some(desc) = description {
                d.description = Some(desc);
            }
            Ok(d.clone())
        })
        .await
    }

    pub async fn delete_deployment(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit(api_id, |e| {
            let pos = e
                .api
                .deployments
                .iter()
                .position(|d| d.id == id)
                .ok_or_else(|| deployment_not_found(id))?;
            if let Some(s) = e
                .api
                .stages
                .iter()
                .find(|s| s.deployment_id.as_deref() == Some(id))
            {
                return Err(ApiError::bad(format!(
                    "Active stages pointing to this deployment must be moved or deleted (stage '{}')",
                    s.name
                )));
            }
            e.api.deployments.remove(pos);
            Ok(())
        })
        .await?;
        self.store.delete_snapshot(api_id, id).await?;
        Ok(())
    }
}
