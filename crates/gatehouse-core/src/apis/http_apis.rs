//! The API resource itself: create (including quick create from a `target`), get, list,
//! update and delete.

use std::collections::BTreeMap;

use gatehouse_store::apis::{Cors, HttpApi, Integration, Route, Stage};
use gatehouse_store::{Page, StoreError};

use super::edit::check_max_results;
use super::error::{ApiError, ApiResult};
use super::integrations::IntegrationInput;
use super::route_key::{self, DEFAULT_ROUTE};
use super::ApiService;
use crate::env::random_lower_alnum;

/// Members of CreateApi / UpdateApi; `None` leaves a member as it is (or at its default).
#[derive(Debug, Clone, Default)]
pub struct ApiInput {
    pub name: Option<String>,
    pub protocol_type: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub route_selection_expression: Option<String>,
    pub api_key_selection_expression: Option<String>,
    pub cors: Option<Cors>,
    pub disable_execute_api_endpoint: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
    /// Quick create: the integration target (an HTTP URL or a Lambda ARN).
    pub target: Option<String>,
    /// Quick create: the route key (default `$default`).
    pub route_key: Option<String>,
}

const API_ID_LEN: usize = 10;

/// The shape of the API ids AWS hands out: 10 lower-case letters and digits (they are also
/// the first label of the `{apiId}.execute-api.` host).
pub fn check_api_id(id: &str) -> ApiResult<()> {
    if id.len() == API_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "Invalid API id {id}: an API id is {API_ID_LEN} lower-case letters and digits"
        )))
    }
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::bad("Name must be between 1 and 128 characters"));
    }
    Ok(())
}

fn check_cors(cors: &Cors) -> ApiResult<()> {
    if let Some(age) = cors.max_age {
        if !(-1..=86_400).contains(&age) {
            return Err(ApiError::bad("maxAge must be between -1 and 86400"));
        }
    }
    if cors.allow_credentials == Some(true) && cors.allow_origins.iter().any(|o| o == "*") {
        return Err(ApiError::bad(
            "allowCredentials cannot be true when allowOrigins contains '*'",
        ));
    }
    Ok(())
}

impl ApiService {
    /// `http://{apiId}.execute-api.{suffix}`.
    pub fn api_endpoint(&self, api_id: &str) -> String {
        format!("http://{api_id}.execute-api.{}", self.endpoint_suffix)
    }

    pub async fn create_api(&self, input: ApiInput) -> ApiResult<HttpApi> {
        self.insert_new_api(input, None).await
    }

    /// CreateApi with an id chosen by the caller (the declarative configuration, so an API
    /// keeps its `{apiId}.execute-api` host across data dirs). The id must look like the ones
    /// AWS hands out (10 lower-case letters and digits) and be free.
    pub async fn create_api_with_id(&self, api_id: &str, input: ApiInput) -> ApiResult<HttpApi> {
        check_api_id(api_id)?;
        self.insert_new_api(input, Some(api_id)).await
    }

    async fn insert_new_api(&self, input: ApiInput, given_id: Option<&str>) -> ApiResult<HttpApi> {
        let name = input
            .name
            .ok_or_else(|| ApiError::bad("Name is required"))?;
        check_name(&name)?;
        let protocol = input
            .protocol_type
            .ok_or_else(|| ApiError::bad("ProtocolType is required"))?;
        match protocol.as_str() {
            "HTTP" => {}
            "WEBSOCKET" => {
                return Err(ApiError::bad(
                    "WEBSOCKET APIs are not supported by Gatehouse; use protocolType HTTP",
                ))
            }
            other => return Err(ApiError::bad(format!("Invalid protocolType: {other}"))),
        }
        if let Some(cors) = &input.cors {
            check_cors(cors)?;
        }
        if input.route_key.is_some() && input.target.is_none() {
            return Err(ApiError::bad("routeKey can only be specified with target"));
        }
        let now = self.clock.now();
        let mut api = HttpApi {
            id: String::new(),
            name,
            protocol_type: protocol,
            description: input.description,
            version: input.version,
            created: now,
            route_selection_expression: input
                .route_selection_expression
                .unwrap_or_else(|| "$request.method $request.path".into()),
            api_key_selection_expression: input
                .api_key_selection_expression
                .unwrap_or_else(|| "$request.header.x-api-key".into()),
            cors: input.cors,
            disable_execute_api_endpoint: input.disable_execute_api_endpoint.unwrap_or(false),
            tags: input.tags.unwrap_or_default(),
            ..HttpApi::default()
        };
        let quick = match input.target {
            Some(target) => {
                let key = input.route_key.unwrap_or_else(|| DEFAULT_ROUTE.into());
                route_key::validate(&key)?;
                let integration = IntegrationInput::quick(&target).into_new(String::new())?;
                Some((key, integration))
            }
            None => None,
        };
        // Insert with a fresh id, retrying on the (unlikely) collision; a given id is tried once.
        for _ in 0..8 {
            api.id = match given_id {
                Some(id) => id.to_string(),
                None => random_lower_alnum(self.rng.as_ref(), API_ID_LEN),
            };
            // REST APIs share the id namespace: checked and inserted under the edit lock,
            // as REST API creation does.
            let inserted = {
                let _guard = self.edit_lock.lock().await;
                if self.store.get_rest_api(&api.id).await?.is_some() {
                    Err(StoreError::Conflict(api.id.clone()))
                } else {
                    self.store.insert_api(&api).await
                }
            };
            match inserted {
                Ok(()) => {
                    let Some((key, integration)) = quick else {
                        return Ok(api);
                    };
                    return self.quick_create(&api.id, key, integration).await;
                }
                Err(StoreError::Conflict(_)) if given_id.is_some() => {
                    return Err(ApiError::conflict(format!(
                        "An API with id {} already exists",
                        api.id
                    )))
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::Internal("could not find a free API id".into()))
    }

    /// Quick create: the integration, a route to it and an auto-deploying `$default` stage.
    async fn quick_create(
        &self,
        api_id: &str,
        key: String,
        mut integration: Integration,
    ) -> ApiResult<HttpApi> {
        self.edit(api_id, |e| {
            integration.id = e.new_child_id();
            let route = Route {
                id: e.new_child_id(),
                route_key: key,
                target: Some(format!("integrations/{}", integration.id)),
                authorization_type: "NONE".into(),
                ..Route::default()
            };
            e.api.integrations.push(integration);
            e.api.routes.push(route);
            e.api.stages.push(Stage {
                name: DEFAULT_ROUTE.into(),
                auto_deploy: true,
                created: e.now,
                last_updated: e.now,
                ..Stage::default()
            });
            e.routing_changed = true;
            Ok(())
        })
        .await?;
        self.load(api_id).await
    }

    pub async fn get_api(&self, api_id: &str) -> ApiResult<HttpApi> {
        self.load(api_id).await
    }

    /// APIs ordered by id; the token is the last id of the previous page.
    pub async fn list_apis(
        &self,
        max_results: Option<usize>,
        next_token: Option<String>,
    ) -> ApiResult<(Vec<HttpApi>, Option<String>)> {
        let max = check_max_results(max_results)?;
        let mut apis = self
            .store
            .list_apis(&Page {
                limit: max + 1,
                after: next_token,
            })
            .await?;
        let next = if apis.len() > max {
            apis.truncate(max);
            apis.last().map(|a| a.id.clone())
        } else {
            None
        };
        Ok((apis, next))
    }

    pub async fn update_api(&self, api_id: &str, input: ApiInput) -> ApiResult<HttpApi> {
        if input.protocol_type.is_some() {
            return Err(ApiError::bad("protocolType cannot be changed"));
        }
        self.edit(api_id, |e| {
            let api = &mut e.api;
            if let Some(name) = input.name {
                check_name(&name)?;
                api.name = name;
            }
            if let Some(d) = input.description {
                api.description = Some(d);
            }
            if let Some(v) = input.version {
                api.version = Some(v);
            }
            if let Some(r) = input.route_selection_expression {
                api.route_selection_expression = r;
            }
            if let Some(k) = input.api_key_selection_expression {
                api.api_key_selection_expression = k;
            }
            if let Some(d) = input.disable_execute_api_endpoint {
                api.disable_execute_api_endpoint = d;
                e.served_changed = true;
            }
            if let Some(cors) = input.cors {
                check_cors(&cors)?;
                e.api.cors = Some(cors);
                e.routing_changed = true;
            }
            if input.target.is_some() || input.route_key.is_some() {
                return Err(ApiError::bad(
                    "target and routeKey can only be given when the API is created",
                ));
            }
            Ok(())
        })
        .await?;
        self.load(api_id).await
    }

    pub async fn delete_cors(&self, api_id: &str) -> ApiResult<()> {
        self.edit(api_id, |e| {
            e.api.cors = None;
            e.routing_changed = true;
            Ok(())
        })
        .await
    }

    /// Refused while custom domain names map to the API, as on AWS.
    pub async fn delete_api(&self, api_id: &str) -> ApiResult<()> {
        let _guard = self.edit_lock.lock().await;
        self.check_unmapped(api_id, None).await?;
        match self.store.delete_api(api_id).await {
            Ok(()) => {
                self.bump();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(Self::api_not_found(api_id)),
            Err(e) => Err(e.into()),
        }
    }
}
