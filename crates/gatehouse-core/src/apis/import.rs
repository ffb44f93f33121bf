//! Import and reimport of a whole API definition (what an OpenAPI document describes):
//! integrations, authorizers and routes replaced in one change, all checked before any is
//! stored. Export reads the API as a stage serves it.

use gatehouse_store::apis::{Authorizer, HttpApi, Route};

use super::authorizers::AuthorizerInput;
use super::error::{ApiError, ApiResult};
use super::http_apis::ApiInput;
use super::integrations::IntegrationInput;
use super::routes::RouteInput;
use super::ApiService;

/// A route of a definition; its integration and authorizer are named by position and name.
#[derive(Debug, Clone, Default)]
pub struct ImportedRoute {
    pub route: RouteInput,
    /// Index into [`ApiDefinition::integrations`].
    pub integration: Option<usize>,
    /// Name of one of [`ApiDefinition::authorizers`].
    pub authorizer: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ApiDefinition {
    /// Name, description, version, CORS (protocol type is HTTP).
    pub api: ApiInput,
    pub integrations: Vec<IntegrationInput>,
    pub authorizers: Vec<AuthorizerInput>,
    pub routes: Vec<ImportedRoute>,
}

impl ApiService {
    /// A new API from a definition.
    pub async fn import_api(&self, def: ApiDefinition) -> ApiResult<HttpApi> {
        let mut base = def.api.clone();
        base.protocol_type = Some("HTTP".into());
        base.cors = None;
        base.target = None;
        base.route_key = None;
        let api = self.create_api(base).await?;
        match self.reimport_api(&api.id, def).await {
            Ok(api) => Ok(api),
            Err(e) => {
                // The definition was refused: leave nothing behind.
                if let Err(del) = self.delete_api(&api.id).await {
                    tracing::warn!(error = %del, api_id = %api.id, "could not remove a failed import");
                }
                Err(e)
            }
        }
    }

    /// Replaces the routes, integrations, authorizers and CORS of an API with a definition's;
    /// stages stay (auto-deploying ones redeploy).
    pub async fn reimport_api(&self, api_id: &str, def: ApiDefinition) -> ApiResult<HttpApi> {
        self.edit(api_id, |e| {
            let mut next = e.api.clone();
            next.routes.clear();
            next.integrations.clear();
            next.authorizers.clear();
            let mut integration_ids = Vec::new();
            for input in def.integrations {
                let i = input.into_new(e.new_child_id_avoiding(&next))?;
                integration_ids.push(i.id.clone());
                next.integrations.push(i);
            }
            for input in def.authorizers {
                let mut a = Authorizer {
                    id: e.new_child_id_avoiding(&next),
                    ..Authorizer::default()
                };
                input.apply(&mut a)?;
                if next.authorizers.iter().any(|o| o.name == a.name) {
                    return Err(ApiError::bad(format!(
                        "Authorizer '{}' is defined twice",
                        a.name
                    )));
                }
                next.authorizers.push(a);
            }
            for imported in def.routes {
                let mut input = imported.route;
                if let Some(idx) = imported.integration {
                    let id = integration_ids.get(idx).ok_or_else(|| {
                        ApiError::Internal("imported route names a missing integration".into())
                    })?;
                    input.target = Some(format!("integrations/{id}"));
                }
                if let Some(name) = imported.authorizer {
                    let a = next
                        .authorizers
                        .iter()
                        .find(|a| a.name == name)
                        .ok_or_else(|| {
                            ApiError::bad(format!(
                                "Route {} uses security scheme '{name}', which is not defined",
                                input.route_key.clone().unwrap_or_default()
                            ))
                        })?;
                    input.authorizer_id = Some(a.id.clone());
                    input.authorization_type = Some("JWT".into());
                }
                if input.route_key.is_none() {
                    return Err(ApiError::bad("A route has no route key"));
                }
                let mut r = Route {
                    id: e.new_child_id_avoiding(&next),
                    authorization_type: "NONE".into(),
                    ..Route::default()
                };
                input.apply(&mut r, &next)?;
                next.routes.push(r);
            }
            if let Some(name) = def.api.name {
                next.name = name;
            }
            if def.api.description.is_some() {
                next.description = def.api.description;
            }
            if def.api.version.is_some() {
                next.version = def.api.version;
            }
            next.cors = def.api.cors;
            e.api = next;
            e.routing_changed = true;
            Ok(())
        })
        .await?;
        self.load(api_id).await
    }

    /// The API with the routing its stage serves (or the latest, without a stage).
    pub async fn api_as_deployed(
        &self,
        api_id: &str,
        stage_name: Option<&str>,
    ) -> ApiResult<HttpApi> {
        let mut api = self.load(api_id).await?;
        let Some(name) = stage_name else {
            return Ok(api);
        };
        let stage = api.stages.iter().find(|s| s.name == name).ok_or_else(|| {
            ApiError::not_found(format!("Invalid stage identifier specified {name}"))
        })?;
        let dep = stage
            .deployment_id
            .clone()
            .ok_or_else(|| ApiError::bad(format!("Stage {name} has no deployment to export")))?;
        let snapshot = self
            .store
            .get_snapshot(api_id, &dep)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("deployment {dep} has no snapshot")))?;
        api.routes = snapshot.routes;
        api.integrations = snapshot.integrations;
        api.authorizers = snapshot.authorizers;
        api.cors = snapshot.cors;
        Ok(api)
    }
}
