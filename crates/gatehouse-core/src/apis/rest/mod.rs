//! REST APIs (API Gateway v1): the management operations on the `RestApi` aggregate and what
//! the data plane reads of it. The gateway compiles each deployed stage (`DeployedRestStage`)
//! into the same kind of immutable snapshot as HTTP APIs' stages.

pub mod authorizers;
pub mod deployments;
mod edit;
pub mod import;
pub mod integrations;
pub mod methods;
pub mod patch;
pub mod resources;
pub mod rest_apis;
pub mod stages;
pub mod tags;

use std::sync::Arc;

pub use authorizers::RestAuthorizerInput;
pub use deployments::RestDeploymentInput;
pub use edit::{rest_page, RestPage};
pub use import::{PutMode, RestApiDefinition, RestMethodDefinition};
pub use integrations::{IntegrationResponseInput, RestIntegrationInput};
pub use methods::{MethodInput, MethodResponseInput};
pub use patch::{PatchKind, PatchOp};
pub use rest_apis::RestApiInput;
pub use stages::RestStageInput;

use gatehouse_store::rest_apis::{RestApi, RestDeploymentSnapshot, RestStage};
use gatehouse_store::Page;

use super::ApiService;
use crate::error::Result;

/// A stage of a REST API with the deployment it serves.
#[derive(Debug, Clone)]
pub struct DeployedRestStage {
    pub api: Arc<RestApi>,
    pub stage: RestStage,
    pub snapshot: Arc<RestDeploymentSnapshot>,
}

impl ApiService {
    /// Every stage of every REST API, with the snapshot of its deployment.
    pub async fn deployed_rest_stages(&self) -> Result<Vec<DeployedRestStage>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_rest_apis(&Page {
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
                    let snapshot = self
                        .store
                        .get_rest_snapshot(&api.id, &stage.deployment_id)
                        .await?;
                    if let Some(snapshot) = snapshot {
                        out.push(DeployedRestStage {
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
