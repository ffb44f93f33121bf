//! HTTP APIs (API Gateway v2): the management rules (route keys, quick create, stages,
//! deployments) and what the data plane reads: the deployed stages and their snapshots, with
//! a generation counter that moves whenever what is served changes.

pub mod authorizers;
pub mod domains;
mod edit;
pub mod error;
pub mod http_apis;
pub mod import;
pub mod integrations;
pub mod keys;
pub mod rest;
pub mod route_key;
pub mod routes;
pub mod stages;
pub mod tags;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use authorizers::AuthorizerInput;
pub use domains::{ApiMappingInput, DomainNameConfigurationInput, DomainNameInput};
pub use error::{ApiError, ApiResult};
pub use http_apis::ApiInput;
pub use import::{ApiDefinition, ImportedRoute};
pub use integrations::IntegrationInput;
pub use routes::RouteInput;
pub use stages::StageInput;

use gatehouse_store::apis::{DeploymentSnapshot, HttpApi, Stage};
use gatehouse_store::{ApiStore, Page};
use tokio::sync::watch;

use crate::env::{Clock, Random};
use crate::error::Result;

/// One stage the gateway serves: the API (for its id and CORS), the stage and its snapshot.
#[derive(Debug, Clone)]
pub struct DeployedStage {
    pub api: Arc<HttpApi>,
    pub stage: Stage,
    pub snapshot: Arc<DeploymentSnapshot>,
}

pub struct ApiService {
    pub(crate) store: Arc<dyn ApiStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Random>,
    /// The base of `apiEndpoint`: `http://{apiId}.execute-api.{suffix}`.
    pub(crate) endpoint_suffix: String,
    /// The region in ARNs and hosted zone ids (`us-east-1` unless `with_region` says).
    pub(crate) region: String,
    generation: watch::Sender<u64>,
    /// Serializes management changes: each is a read-modify-write of one API document.
    pub(crate) edit_lock: tokio::sync::Mutex<()>,
    /// The user pools, when known, so Cognito authorizers of REST APIs name pools that exist.
    pub(crate) pools: Option<Arc<dyn gatehouse_store::PoolStore>>,
    /// Seals API key values at rest when set (`with_secrets`).
    pub(crate) secrets: Option<Arc<crate::crypt::SecretBox>>,
    /// Tells the other nodes sharing the store that what the gateway serves changed.
    announcer: Arc<dyn gatehouse_store::changes::Announce>,
}

impl ApiService {
    /// `endpoint_suffix` is what follows `{apiId}.execute-api.` in endpoints, e.g.
    /// `localhost:8080`.
    pub fn new(
        store: Arc<dyn ApiStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        endpoint_suffix: String,
    ) -> Self {
        let (generation, _) = watch::channel(0);
        Self {
            store,
            clock,
            rng,
            endpoint_suffix,
            region: "us-east-1".into(),
            generation,
            edit_lock: tokio::sync::Mutex::new(()),
            pools: None,
            secrets: None,
            announcer: Arc::new(gatehouse_store::changes::Silent),
        }
    }

    /// Announces changes to the other nodes sharing the store (silent by default).
    pub fn with_announcer(
        mut self,
        announcer: Arc<dyn gatehouse_store::changes::Announce>,
    ) -> Self {
        self.announcer = announcer;
        self
    }

    /// Another node changed what the gateway serves: reload, without announcing it again.
    pub fn heard_change(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Seals API key values at rest with the node's master key (the directory's box).
    pub fn with_secrets(mut self, secrets: Arc<crate::crypt::SecretBox>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The user pools Cognito authorizers may name (without them only the ARN's shape is
    /// checked).
    pub fn with_user_pools(mut self, pools: Arc<dyn gatehouse_store::PoolStore>) -> Self {
        self.pools = Some(pools);
        self
    }

    /// The region named in ARNs (`domainNameArn`) and regional hosted zone ids.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Moves whenever a deployment, stage, API, domain name or API mapping change alters what
    /// the gateway serves.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Tells the gateway to reload.
    pub(crate) fn bump(&self) {
        self.generation.send_modify(|g| *g += 1);
        self.announcer
            .announce(gatehouse_store::changes::Topic::Apis);
    }

    /// Every stage that has a deployment, with its snapshot.
    pub async fn deployed_stages(&self) -> Result<Vec<DeployedStage>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_apis(&Page {
                    limit: 500,
                    after: after.clone(),
                })
                .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id.clone());
            for api in page {
                let api = Arc::new(api);
                for stage in &api.stages {
                    let Some(dep) = &stage.deployment_id else {
                        continue;
                    };
                    if let Some(snapshot) = self.store.get_snapshot(&api.id, dep).await? {
                        out.push(DeployedStage {
                            api: Arc::clone(&api),
                            stage: stage.clone(),
                            snapshot: Arc::new(snapshot),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
