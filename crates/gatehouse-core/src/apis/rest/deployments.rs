//! REST API deployments: CreateDeployment freezes the resource tree and the authorizers into a
//! `RestDeploymentSnapshot` (and, with `stageName`, creates or repoints that stage); a
//! deployment a stage serves cannot be deleted.

use std::collections::BTreeMap;

use gatehouse_store::rest_apis::{RestApi, RestDeploymentInfo, RestDeploymentSnapshot, RestStage};

use super::edit::{rest_page, RestEdit, RestPage};
use super::patch::{self, PatchKind, PatchOp, Patchable};
use super::stages::{check_stage_name, check_variables};
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

/// Members of CreateDeployment.
#[derive(Debug, Clone, Default)]
pub struct RestDeploymentInput {
    pub description: Option<String>,
    pub stage_name: Option<String>,
    pub stage_description: Option<String>,
    pub cache_cluster_enabled: Option<bool>,
    pub cache_cluster_size: Option<String>,
    pub variables: Option<BTreeMap<String, String>>,
    pub tracing_enabled: Option<bool>,
}

/// Path -> method -> (authorizationType, apiKeyRequired): GetDeployment's `apiSummary`.
pub type ApiSummary = BTreeMap<String, BTreeMap<String, (String, bool)>>;

pub(crate) fn deployment_not_found() -> ApiError {
    ApiError::not_found("Invalid Deployment identifier specified")
}

/// A REST API can be deployed once it has methods, each with an integration.
fn check_deployable(api: &RestApi) -> ApiResult<()> {
    let mut any = false;
    for r in &api.resources {
        for m in r.methods.values() {
            any = true;
            if m.integration.is_none() {
                return Err(ApiError::bad("No integration defined for method"));
            }
        }
    }
    if any {
        Ok(())
    } else {
        Err(ApiError::bad("The REST API doesn't contain any methods"))
    }
}

impl RestEdit<'_> {
    /// Freezes the API's resources and authorizers as a new deployment and returns it.
    pub fn deploy(&mut self, description: Option<String>) -> ApiResult<RestDeploymentInfo> {
        check_deployable(&self.api)?;
        let id = self.new_child_id();
        self.snapshots.push(RestDeploymentSnapshot {
            api_id: self.api.id.clone(),
            deployment_id: id.clone(),
            api_key_source: self.api.api_key_source.clone(),
            binary_media_types: self.api.binary_media_types.clone(),
            resources: self.api.resources.clone(),
            authorizers: self.api.authorizers.clone(),
        });
        let info = RestDeploymentInfo {
            id,
            description,
            created: self.now,
        };
        self.api.deployments.push(info.clone());
        Ok(info)
    }
}

struct Description<'a>(&'a mut Option<String>);

impl Patchable for Description<'_> {
    fn patch_paths(&self) -> &'static str {
        "/description"
    }
    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        match path {
            [p] if p == "description" => Ok(self.0.clone()),
            _ => Err(patch::invalid_path(
                PatchKind::Test,
                raw,
                self.patch_paths(),
            )),
        }
    }
    fn write(
        &mut self,
        op: PatchKind,
        path: &[String],
        raw: &str,
        value: Option<&str>,
    ) -> ApiResult<()> {
        match (path, op) {
            ([p], PatchKind::Replace) if p == "description" => {
                *self.0 = value.filter(|v| !v.is_empty()).map(str::to_string);
                Ok(())
            }
            ([p], _) if p == "description" => Err(patch::unsupported_op(op, raw)),
            _ => Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
    }
}

impl ApiService {
    pub async fn create_rest_deployment(
        &self,
        api_id: &str,
        input: RestDeploymentInput,
    ) -> ApiResult<RestDeploymentInfo> {
        if let Some(name) = &input.stage_name {
            check_stage_name(name)?;
        }
        if let Some(v) = &input.variables {
            check_variables(v)?;
        }
        if input.cache_cluster_enabled == Some(true) {
            return Err(ApiError::bad(
                "Stage caches (cacheClusterEnabled) are not supported by Gatehouse",
            ));
        }
        self.edit_rest(api_id, |e| {
            let info = e.deploy(input.description)?;
            let Some(name) = input.stage_name else {
                return Ok(info);
            };
            let now = e.now;
            match e.api.stages.iter_mut().find(|s| s.name == name) {
                Some(s) => {
                    s.deployment_id = info.id.clone();
                    if let Some(v) = input.variables {
                        s.variables.extend(v);
                    }
                    if let Some(t) = input.tracing_enabled {
                        s.tracing_enabled = t;
                    }
                    s.last_updated = now;
                }
                None => e.api.stages.push(RestStage {
                    name,
                    deployment_id: info.id.clone(),
                    description: input.stage_description,
                    variables: input.variables.unwrap_or_default(),
                    tracing_enabled: input.tracing_enabled.unwrap_or(false),
                    cache_cluster_size: input.cache_cluster_size,
                    created: now,
                    last_updated: now,
                    ..RestStage::default()
                }),
            }
            Ok(info)
        })
        .await
    }

    pub async fn get_rest_deployments(
        &self,
        api_id: &str,
        page: &RestPage,
    ) -> ApiResult<(Vec<RestDeploymentInfo>, Option<String>)> {
        let api = self.load_rest(api_id).await?;
        rest_page(&api.deployments, page)
    }

    pub async fn get_rest_deployment(
        &self,
        api_id: &str,
        id: &str,
    ) -> ApiResult<RestDeploymentInfo> {
        let api = self.load_rest(api_id).await?;
        api.deployments
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(deployment_not_found)
    }

    /// What the deployment serves, method by method (`embed=apisummary`).
    pub async fn rest_deployment_summary(&self, api_id: &str, id: &str) -> ApiResult<ApiSummary> {
        self.get_rest_deployment(api_id, id).await?;
        let snapshot = self
            .store
            .get_rest_snapshot(api_id, id)
            .await?
            .ok_or_else(deployment_not_found)?;
        let mut out = ApiSummary::new();
        for r in &snapshot.resources {
            if r.methods.is_empty() {
                continue;
            }
            let methods = out.entry(r.path.clone()).or_default();
            for (name, m) in &r.methods {
                methods.insert(
                    name.clone(),
                    (m.authorization_type.clone(), m.api_key_required),
                );
            }
        }
        Ok(out)
    }

    pub async fn update_rest_deployment(
        &self,
        api_id: &str,
        id: &str,
        ops: &[PatchOp],
    ) -> ApiResult<RestDeploymentInfo> {
        self.edit_rest(api_id, |e| {
            let d = e
                .api
                .deployments
                .iter_mut()
                .find(|d| d.id == id)
                .ok_or_else(deployment_not_found)?;
            let mut description = d.description.clone();
            patch::apply(&mut Description(&mut description), ops)?;
            d.description = description;
            Ok(d.clone())
        })
        .await
    }

    pub async fn delete_rest_deployment(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            if !e.api.deployments.iter().any(|d| d.id == id) {
                return Err(deployment_not_found());
            }
            if e.api.stages.iter().any(|s| s.deployment_id == id) {
                return Err(ApiError::bad(
                    "Active stages pointing to this deployment must be moved or deleted",
                ));
            }
            e.api.deployments.retain(|d| d.id != id);
            e.dropped.push(id.to_string());
            Ok(())
        })
        .await
    }
}
