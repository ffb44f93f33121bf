//! ImportRestApi and PutRestApi: a REST API definition (what the adapter read from an OpenAPI
//! 2.0 or 3.0 document) applied to an API in memory with the same checks as the one-by-one
//! operations, then stored in one write. `merge` adds and replaces paths, methods and
//! authorizers; `overwrite` replaces the resource tree and the authorizers (stages and
//! deployments stay, as on AWS).

use std::collections::BTreeMap;

use gatehouse_store::rest_apis::{Resource, RestApi, RestDeploymentSnapshot};

use super::authorizers::build_authorizer;
use super::edit::fresh_child_id;
use super::integrations::{build_integration, build_integration_response};
use super::methods::{build_method, build_method_response};
use super::resources::{check_child, recompute_paths};
use super::{
    IntegrationResponseInput, MethodInput, MethodResponseInput, RestApiInput, RestAuthorizerInput,
    RestIntegrationInput,
};
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;
use crate::env::Random;

/// A REST API as an OpenAPI document describes it.
#[derive(Debug, Clone, Default)]
pub struct RestApiDefinition {
    /// `info.title`: the name of an imported API.
    pub title: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub binary_media_types: Vec<String>,
    pub api_key_source: Option<String>,
    pub minimum_compression_size: Option<i64>,
    /// ImportRestApi's `endpointConfigurationTypes` parameter.
    pub endpoint_types: Option<Vec<String>>,
    /// Named by their security scheme.
    pub authorizers: Vec<RestAuthorizerInput>,
    /// Path (`/pets/{id}`) -> its methods.
    pub paths: Vec<(String, Vec<RestMethodDefinition>)>,
}

#[derive(Debug, Clone, Default)]
pub struct RestMethodDefinition {
    pub http_method: String,
    /// `authorizer_id` names the authorizer (the security scheme), resolved on import.
    pub method: MethodInput,
    pub responses: Vec<(String, MethodResponseInput)>,
    pub integration: Option<RestIntegrationInput>,
    pub integration_responses: Vec<(String, IntegrationResponseInput)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    Merge,
    Overwrite,
}

/// The resource at `path`, created with its missing ancestors.
fn resource_at(api: &mut RestApi, path: &str, rng: &dyn Random) -> ApiResult<String> {
    let mut cur = api
        .resources
        .iter()
        .find(|r| r.parent_id.is_none())
        .map(|r| r.id.clone())
        .ok_or_else(|| ApiError::Internal("a REST API without its root resource".into()))?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let existing = api
            .resources
            .iter()
            .find(|r| r.parent_id.as_deref() == Some(cur.as_str()) && r.path_part == part)
            .map(|r| r.id.clone());
        cur = match existing {
            Some(id) => id,
            None => {
                check_child(api, &cur, part, None)?;
                let id = fresh_child_id(api, rng);
                api.resources.push(Resource {
                    id: id.clone(),
                    parent_id: Some(cur.clone()),
                    path_part: part.to_string(),
                    path: String::new(),
                    methods: BTreeMap::new(),
                });
                id
            }
        };
    }
    Ok(cur)
}

/// Applies the definition to `api` (in memory).
pub fn apply_definition(
    api: &mut RestApi,
    def: RestApiDefinition,
    mode: PutMode,
    rng: &dyn Random,
) -> ApiResult<()> {
    if mode == PutMode::Overwrite {
        api.resources.retain(|r| r.parent_id.is_none());
        for r in &mut api.resources {
            r.methods.clear();
        }
        let keep: Vec<&str> = def
            .authorizers
            .iter()
            .filter_map(|a| a.name.as_deref())
            .collect();
        api.authorizers.retain(|a| keep.contains(&a.name.as_str()));
        if let Some(d) = &def.description {
            api.description = Some(d.clone());
        }
    }
    if let Some(v) = def.version {
        api.version = Some(v);
    }
    for t in def.binary_media_types {
        if !api.binary_media_types.contains(&t) {
            api.binary_media_types.push(t);
        }
    }
    if let Some(s) = def.api_key_source {
        api.api_key_source = s;
    }
    if def.minimum_compression_size.is_some() {
        api.minimum_compression_size = def.minimum_compression_size;
    }
    // Authorizers by name: a name the API has keeps its id (methods and snapshots use it).
    for input in def.authorizers {
        let mut a = build_authorizer(input)?;
        match api.authorizers.iter_mut().find(|x| x.name == a.name) {
            Some(existing) => {
                a.id = existing.id.clone();
                *existing = a;
            }
            None => {
                a.id = fresh_child_id(api, rng);
                api.authorizers.push(a);
            }
        }
    }
    for (path, methods) in def.paths {
        let resource_id = resource_at(api, &path, rng)?;
        recompute_paths(api);
        for m in methods {
            let mut input = m.method;
            if let Some(name) = input.authorizer_id.take() {
                let id = api
                    .authorizers
                    .iter()
                    .find(|a| a.name == name)
                    .map(|a| a.id.clone())
                    .ok_or_else(|| {
                        ApiError::bad(format!(
                            "Invalid authorizer specified for {} {path}: no security scheme {name}",
                            m.http_method
                        ))
                    })?;
                input.authorizer_id = Some(id);
            }
            let mut method = build_method(api, &m.http_method, input)?;
            for (code, r) in m.responses {
                method
                    .method_responses
                    .insert(code.clone(), build_method_response(&code, r)?);
            }
            if let Some(i) = m.integration {
                let mut responses = BTreeMap::new();
                for (code, r) in m.integration_responses {
                    responses.insert(code.clone(), build_integration_response(&code, r)?);
                }
                method.integration = Some(build_integration(&resource_id, i, responses)?);
            }
            if let Some(r) = api.resources.iter_mut().find(|r| r.id == resource_id) {
                r.methods.insert(m.http_method.clone(), method);
            }
        }
    }
    recompute_paths(api);
    Ok(())
}

impl ApiService {
    /// ImportRestApi: a new REST API from a definition.
    pub async fn import_rest_api(&self, def: RestApiDefinition) -> ApiResult<RestApi> {
        for a in &def.authorizers {
            self.check_pools_exist(&build_authorizer(a.clone())?)
                .await?;
        }
        let mut api = self.new_rest_api_doc(RestApiInput {
            name: Some(def.title.clone().ok_or_else(|| {
                ApiError::bad("Invalid REST API name specified: the definition has no info.title")
            })?),
            description: def.description.clone().filter(|d| !d.is_empty()),
            endpoint_types: def.endpoint_types.clone(),
            ..RestApiInput::default()
        })?;
        let _guard = self.edit_lock.lock().await;
        let rng = self.rng.as_ref();
        api.resources.push(Resource {
            id: crate::env::random_lower_alnum(rng, 10),
            parent_id: None,
            path_part: String::new(),
            path: "/".into(),
            methods: BTreeMap::new(),
        });
        apply_definition(&mut api, def, PutMode::Merge, rng)?;
        self.insert_rest_api_doc(api, None).await
    }

    /// PutRestApi: the definition merged into, or overwriting, an existing REST API.
    pub async fn put_rest_api(
        &self,
        api_id: &str,
        def: RestApiDefinition,
        mode: PutMode,
    ) -> ApiResult<RestApi> {
        for a in &def.authorizers {
            self.check_pools_exist(&build_authorizer(a.clone())?)
                .await?;
        }
        self.edit_rest(api_id, |e| {
            let mut api = e.api.clone();
            apply_definition(&mut api, def, mode, e.rng())?;
            e.api = api;
            Ok(e.api.clone())
        })
        .await
    }

    /// What a stage serves, for GetExport: the API and the stage's deployment snapshot.
    pub async fn rest_stage_snapshot(
        &self,
        api_id: &str,
        stage: &str,
    ) -> ApiResult<(RestApi, RestDeploymentSnapshot)> {
        let api = self.load_rest(api_id).await?;
        let deployment = api
            .stages
            .iter()
            .find(|s| s.name == stage)
            .map(|s| s.deployment_id.clone())
            .ok_or_else(super::stages::stage_not_found)?;
        let snapshot = self
            .store
            .get_rest_snapshot(api_id, &deployment)
            .await?
            .ok_or_else(super::deployments::deployment_not_found)?;
        Ok((api, snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::OsRandom;

    fn mock(verb: &str) -> RestMethodDefinition {
        RestMethodDefinition {
            http_method: verb.into(),
            method: MethodInput {
                authorization_type: Some("NONE".into()),
                ..MethodInput::default()
            },
            integration: Some(RestIntegrationInput {
                integration_type: Some("MOCK".into()),
                ..RestIntegrationInput::default()
            }),
            ..RestMethodDefinition::default()
        }
    }

    fn api() -> RestApi {
        RestApi {
            resources: vec![Resource {
                id: "root".into(),
                path: "/".into(),
                ..Resource::default()
            }],
            ..RestApi::default()
        }
    }

    fn paths(api: &RestApi) -> Vec<String> {
        let mut p: Vec<String> = api.resources.iter().map(|r| r.path.clone()).collect();
        p.sort();
        p
    }

    #[test]
    fn merge_builds_the_tree_and_overwrite_replaces_it() {
        let mut a = api();
        let def = RestApiDefinition {
            paths: vec![
                ("/pets/{id}".into(), vec![mock("GET")]),
                ("/pets".into(), vec![mock("POST")]),
            ],
            ..RestApiDefinition::default()
        };
        apply_definition(&mut a, def, PutMode::Merge, &OsRandom).unwrap();
        assert_eq!(paths(&a), vec!["/", "/pets", "/pets/{id}"]);
        let other = RestApiDefinition {
            paths: vec![("/toys".into(), vec![mock("ANY")])],
            ..RestApiDefinition::default()
        };
        apply_definition(&mut a.clone(), other.clone(), PutMode::Merge, &OsRandom).unwrap();
        apply_definition(&mut a, other, PutMode::Overwrite, &OsRandom).unwrap();
        assert_eq!(paths(&a), vec!["/", "/toys"]);
        assert_eq!(
            a.resources.iter().find(|r| r.path == "/").unwrap().id,
            "root"
        );
    }

    #[test]
    fn authorizers_resolve_by_name_and_keep_their_ids() {
        let arn = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_Abc";
        let cognito = RestAuthorizerInput {
            name: Some("pool".into()),
            authorizer_type: Some("COGNITO_USER_POOLS".into()),
            provider_arns: Some(vec![arn.into()]),
            identity_source: Some("method.request.header.Authorization".into()),
            ..RestAuthorizerInput::default()
        };
        let mut secured = mock("GET");
        secured.method.authorization_type = Some("COGNITO_USER_POOLS".into());
        secured.method.authorizer_id = Some("pool".into());
        let def = RestApiDefinition {
            authorizers: vec![cognito],
            paths: vec![("/me".into(), vec![secured])],
            ..RestApiDefinition::default()
        };
        let mut a = api();
        apply_definition(&mut a, def.clone(), PutMode::Merge, &OsRandom).unwrap();
        let id = a.authorizers[0].id.clone();
        let me = a.resources.iter().find(|r| r.path == "/me").unwrap();
        assert_eq!(
            me.methods["GET"].authorizer_id.as_deref(),
            Some(id.as_str())
        );
        apply_definition(&mut a, def.clone(), PutMode::Overwrite, &OsRandom).unwrap();
        assert_eq!(a.authorizers.len(), 1);
        assert_eq!(a.authorizers[0].id, id);
        // A scheme the definition does not declare is refused.
        let mut bad = def;
        bad.authorizers.clear();
        assert!(apply_definition(&mut api(), bad, PutMode::Merge, &OsRandom).is_err());
    }

    #[test]
    fn tree_rules_hold_on_import() {
        let def = RestApiDefinition {
            paths: vec![
                ("/{a}/x".into(), vec![mock("GET")]),
                ("/{b}/y".into(), vec![mock("GET")]),
            ],
            ..RestApiDefinition::default()
        };
        let e = apply_definition(&mut api(), def, PutMode::Merge, &OsRandom).unwrap_err();
        assert!(e.to_string().contains("only one is allowed"), "{e}");
        let greedy = RestApiDefinition {
            paths: vec![("/{proxy+}/x".into(), vec![mock("GET")])],
            ..RestApiDefinition::default()
        };
        assert!(apply_definition(&mut api(), greedy, PutMode::Merge, &OsRandom).is_err());
    }
}
