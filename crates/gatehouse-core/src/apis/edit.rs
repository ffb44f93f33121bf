//! How every management change is applied: one API is loaded, changed in memory under the
//! service's edit lock, auto-deploying stages redeployed when what they would serve changed,
//! and the result written back; the gateway is told to reload when what it serves moved.

use gatehouse_store::apis::{DeploymentInfo, DeploymentSnapshot, HttpApi};

use super::error::{ApiError, ApiResult};
use super::ApiService;
use crate::env::{random_lower_alnum, Random};

/// Length of route, integration, authorizer and deployment ids (AWS uses 7 characters).
const CHILD_ID_LEN: usize = 7;

/// One change to one API in progress.
pub struct Edit<'a> {
    pub api: HttpApi,
    pub now: i64,
    rng: &'a dyn Random,
    snapshots: Vec<DeploymentSnapshot>,
    /// Deployments removed by this change, whose snapshots go once the API is stored.
    dropped: Vec<String>,
    /// Routes, integrations, authorizers or CORS changed: auto-deploying stages redeploy.
    pub routing_changed: bool,
    /// Something the gateway serves changed (a stage moved to another deployment...).
    pub served_changed: bool,
}

impl Edit<'_> {
    /// A fresh id unused by any route, integration, authorizer or deployment of the API.
    pub fn new_child_id(&self) -> String {
        loop {
            let id = random_lower_alnum(self.rng, CHILD_ID_LEN);
            let api = &self.api;
            let taken = api.routes.iter().any(|r| r.id == id)
                || api.integrations.iter().any(|i| i.id == id)
                || api.authorizers.iter().any(|a| a.id == id)
                || api.deployments.iter().any(|d| d.id == id);
            if !taken {
                return id;
            }
        }
    }

    /// A fresh id unused in `api` nor in the API being edited (for a replacement in progress).
    pub fn new_child_id_avoiding(&self, api: &HttpApi) -> String {
        loop {
            let id = self.new_child_id();
            let taken = api.routes.iter().any(|r| r.id == id)
                || api.integrations.iter().any(|i| i.id == id)
                || api.authorizers.iter().any(|a| a.id == id);
            if !taken {
                return id;
            }
        }
    }

    /// Freezes the API's routing as a new deployment and returns its id.
    pub fn deploy(&mut self, description: Option<String>, auto: bool) -> String {
        let id = self.new_child_id();
        self.snapshots.push(DeploymentSnapshot {
            api_id: self.api.id.clone(),
            deployment_id: id.clone(),
            cors: self.api.cors.clone(),
            routes: self.api.routes.clone(),
            integrations: self.api.integrations.clone(),
            authorizers: self.api.authorizers.clone(),
        });
        self.api.deployments.push(DeploymentInfo {
            id: id.clone(),
            description,
            created: self.now,
            auto_deployed: auto,
            status: "DEPLOYED".into(),
        });
        id
    }

    /// Points every auto-deploying stage at a fresh deployment of the current routing.
    fn auto_deploy(&mut self) {
        let names: Vec<String> = self
            .api
            .stages
            .iter()
            .filter(|s| s.auto_deploy)
            .map(|s| s.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        if self.api.routes.is_empty() {
            for s in self.api.stages.iter_mut().filter(|s| s.auto_deploy) {
                s.last_deployment_status_message =
                    Some("Deployment attempt failed: the API has no routes.".into());
            }
            return;
        }
        let dep = self.deploy(
            Some("Automatic deployment triggered by changes to the Api configuration".into()),
            true,
        );
        let now = self.now;
        let superseded: Vec<String> = self
            .api
            .stages
            .iter()
            .filter(|s| names.contains(&s.name))
            .filter_map(|s| s.deployment_id.clone())
            .collect();
        for s in self
            .api
            .stages
            .iter_mut()
            .filter(|s| names.contains(&s.name))
        {
            s.deployment_id = Some(dep.clone());
            s.last_updated = now;
            s.last_deployment_status_message = Some(format!(
                "Successfully deployed stage with deployment ID '{dep}'"
            ));
        }
        self.drop_superseded_auto_deployments(&superseded);
        self.served_changed = true;
    }

    /// Automatic deployments no stage serves any more are dropped, so an auto-deploying stage
    /// does not store one full copy of the API per change (manual deployments are kept). The
    /// ones superseded by this very change stay one generation longer: a gateway reload that
    /// read the API just before this change still finds their snapshots.
    fn drop_superseded_auto_deployments(&mut self, just_superseded: &[String]) {
        let api = &mut self.api;
        let dropped: Vec<String> = api
            .deployments
            .iter()
            .filter(|d| d.auto_deployed && !just_superseded.contains(&d.id))
            .filter(|d| {
                !api.stages
                    .iter()
                    .any(|s| s.deployment_id.as_deref() == Some(d.id.as_str()))
            })
            .map(|d| d.id.clone())
            .collect();
        api.deployments.retain(|d| !dropped.contains(&d.id));
        self.dropped.extend(dropped);
    }
}

impl ApiService {
    pub(crate) fn api_not_found(api_id: &str) -> ApiError {
        ApiError::not_found(format!("Invalid API identifier specified {api_id}"))
    }

    /// Applies `change` to the API and stores the result, redeploying and reloading as needed.
    pub(crate) async fn edit<T>(
        &self,
        api_id: &str,
        change: impl FnOnce(&mut Edit<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let _guard = self.edit_lock.lock().await;
        self.edit_locked(api_id, change).await
    }

    /// `edit` for a caller that already holds the edit lock (to check something else first).
    pub(crate) async fn edit_locked<T>(
        &self,
        api_id: &str,
        change: impl FnOnce(&mut Edit<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let api = self
            .store
            .get_api(api_id)
            .await?
            .ok_or_else(|| Self::api_not_found(api_id))?;
        let mut edit = Edit {
            api,
            now: self.clock.now(),
            rng: self.rng.as_ref(),
            snapshots: Vec::new(),
            dropped: Vec::new(),
            routing_changed: false,
            served_changed: false,
        };
        let out = change(&mut edit)?;
        if edit.routing_changed {
            edit.auto_deploy();
        }
        for snapshot in &edit.snapshots {
            self.store.put_snapshot(snapshot).await?;
        }
        self.store.update_api(&edit.api).await?;
        for id in &edit.dropped {
            // Unreferenced now; a leftover row is harmless, so a failure is only logged.
            if let Err(e) = self.store.delete_snapshot(api_id, id).await {
                tracing::warn!(error = %e, api_id, deployment_id = %id, "could not drop a superseded snapshot");
            }
        }
        if edit.served_changed {
            self.bump();
        }
        Ok(out)
    }

    pub(crate) async fn load(&self, api_id: &str) -> ApiResult<HttpApi> {
        self.store
            .get_api(api_id)
            .await?
            .ok_or_else(|| Self::api_not_found(api_id))
    }
}

/// One page of `items` from `next_token` (an offset we handed out), at most `max` long.
pub fn paginate<T: Clone>(
    items: &[T],
    max_results: Option<usize>,
    next_token: Option<&str>,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let start = match next_token {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::bad("Invalid nextToken"))?,
    };
    let max = check_max_results(max_results)?;
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// `maxResults` defaults to 100 and must be positive.
pub fn check_max_results(max_results: Option<usize>) -> ApiResult<usize> {
    match max_results {
        None => Ok(100),
        Some(0) => Err(ApiError::bad("maxResults must be at least 1")),
        Some(n) => Ok(n.min(500)),
    }
}
