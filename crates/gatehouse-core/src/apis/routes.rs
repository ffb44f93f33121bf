//! Routes: a route key, the integration it targets and how callers are authorized.

use std::collections::BTreeMap;

use gatehouse_store::apis::{HttpApi, Route};
use serde_json::Value;

use super::edit::paginate;
use super::error::{ApiError, ApiResult};
use super::route_key;
use super::ApiService;

#[derive(Debug, Clone, Default)]
pub struct RouteInput {
    pub route_key: Option<String>,
    pub target: Option<String>,
    pub authorization_type: Option<String>,
    pub authorizer_id: Option<String>,
    pub authorization_scopes: Option<Vec<String>>,
    pub operation_name: Option<String>,
    pub api_key_required: Option<bool>,
    pub request_parameters: Option<BTreeMap<String, Value>>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Invalid Route identifier specified {id}"))
}

impl RouteInput {
    pub(crate) fn apply(self, r: &mut Route, api: &HttpApi) -> ApiResult<()> {
        if let Some(k) = self.route_key {
            route_key::validate(&k)?;
            if api.routes.iter().any(|o| o.route_key == k && o.id != r.id) {
                return Err(ApiError::conflict(format!(
                    "Unable to complete operation due to concurrent modification. Route key '{k}' already exists"
                )));
            }
            r.route_key = k;
        }
        if let Some(t) = self.target {
            r.target = (!t.is_empty()).then_some(t);
        }
        let type_given = self.authorization_type.is_some();
        if let Some(t) = self.authorization_type {
            r.authorization_type = t;
        }
        if let Some(a) = self.authorizer_id {
            r.authorizer_id = (!a.is_empty()).then_some(a);
        }
        if let Some(s) = self.authorization_scopes {
            r.authorization_scopes = s;
        }
        if let Some(o) = self.operation_name {
            r.operation_name = Some(o);
        }
        if let Some(k) = self.api_key_required {
            r.api_key_required = k;
        }
        if let Some(p) = self.request_parameters {
            r.request_parameters = p;
        }
        if let Some(t) = &r.target {
            let id = t.strip_prefix("integrations/").ok_or_else(|| {
                ApiError::bad(format!(
                    "Invalid target: '{t}'. A target has the form integrations/{{integrationId}}"
                ))
            })?;
            if !api.integrations.iter().any(|i| i.id == id) {
                return Err(ApiError::bad(format!(
                    "Invalid integration identifier specified: {id}"
                )));
            }
        }
        match r.authorization_type.as_str() {
            "NONE" | "AWS_IAM" => {
                if type_given {
                    r.authorizer_id = None;
                    r.authorization_scopes.clear();
                } else if r.authorizer_id.is_some() {
                    return Err(ApiError::bad(
                        "An authorizer can only be attached with authorizationType JWT",
                    ));
                }
                if !r.authorization_scopes.is_empty() {
                    return Err(ApiError::bad(
                        "authorizationScopes are only supported with authorizationType JWT",
                    ));
                }
            }
            "JWT" => {
                let id = r.authorizer_id.as_deref().ok_or_else(|| {
                    ApiError::bad("authorizerId is required with authorizationType JWT")
                })?;
                match api.authorizers.iter().find(|a| a.id == id) {
                    None => {
                        return Err(ApiError::bad(format!(
                            "Invalid authorizer identifier specified: {id}"
                        )))
                    }
                    Some(a) if a.authorizer_type != "JWT" => {
                        return Err(ApiError::bad(format!(
                            "Authorizer {id} is not a JWT authorizer"
                        )))
                    }
                    Some(_) => {}
                }
            }
            "CUSTOM" => {
                return Err(ApiError::bad(
                    "authorizationType CUSTOM (Lambda authorizers) is not supported; use JWT",
                ))
            }
            other => {
                return Err(ApiError::bad(format!(
                    "Invalid authorization type specified: {other}. Valid values are NONE, JWT, AWS_IAM"
                )))
            }
        }
        Ok(())
    }
}

impl ApiService {
    pub async fn create_route(&self, api_id: &str, input: RouteInput) -> ApiResult<Route> {
        if input.route_key.is_none() {
            return Err(ApiError::bad("RouteKey is required"));
        }
        self.edit(api_id, |e| {
            let mut r = Route {
                id: e.new_child_id(),
                authorization_type: "NONE".into(),
                ..Route::default()
            };
            input.apply(&mut r, &e.api)?;
            e.api.routes.push(r.clone());
            e.routing_changed = true;
            Ok(r)
        })
        .await
    }

    pub async fn get_route(&self, api_id: &str, id: &str) -> ApiResult<Route> {
        let api = self.load(api_id).await?;
        api.routes
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| not_found(id))
    }

    pub async fn list_routes(
        &self,
        api_id: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> ApiResult<(Vec<Route>, Option<String>)> {
        let api = self.load(api_id).await?;
        paginate(&api.routes, max_results, next_token)
    }

    pub async fn update_route(
        &self,
        api_id: &str,
        id: &str,
        input: RouteInput,
    ) -> ApiResult<Route> {
        self.edit(api_id, |e| {
            let pos = e
                .api
                .routes
                .iter()
                .position(|r| r.id == id)
                .ok_or_else(|| not_found(id))?;
            let mut r = e.api.routes[pos].clone();
            input.apply(&mut r, &e.api)?;
            e.api.routes[pos] = r.clone();
            e.routing_changed = true;
            Ok(r)
        })
        .await
    }

    pub async fn delete_route(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit(api_id, |e| {
            let pos = e
                .api
                .routes
                .iter()
                .position(|r| r.id == id)
                .ok_or_else(|| not_found(id))?;
            e.api.routes.remove(pos);
            e.routing_changed = true;
            Ok(())
        })
        .await
    }
}
