//! Authorizers: JWT only (any OIDC issuer, our own pools included). Lambda (REQUEST)
//! authorizers are refused.

use gatehouse_store::apis::Authorizer;

use super::edit::paginate;
use super::error::{ApiError, ApiResult};
use super::ApiService;

#[derive(Debug, Clone, Default)]
pub struct AuthorizerInput {
    pub name: Option<String>,
    pub authorizer_type: Option<String>,
    pub identity_source: Option<Vec<String>>,
    /// jwtConfiguration, replaced as a whole: (audience, issuer).
    pub jwt_configuration: Option<(Vec<String>, Option<String>)>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Invalid Authorizer identifier specified {id}"))
}

impl AuthorizerInput {
    pub(crate) fn apply(self, a: &mut Authorizer) -> ApiResult<()> {
        if let Some(n) = self.name {
            a.name = n;
        }
        if let Some(t) = self.authorizer_type {
            a.authorizer_type = t;
        }
        if let Some(s) = self.identity_source {
            a.identity_source = s;
        }
        if let Some((aud, iss)) = self.jwt_configuration {
            a.jwt_audience = aud;
            a.jwt_issuer = iss;
        }
        if a.name.is_empty() || a.name.chars().count() > 128 {
            return Err(ApiError::bad("Name must be between 1 and 128 characters"));
        }
        match a.authorizer_type.as_str() {
            "JWT" => {}
            "REQUEST" => {
                return Err(ApiError::bad(
                    "REQUEST (Lambda) authorizers are not supported; use JWT",
                ))
            }
            other => {
                return Err(ApiError::bad(format!(
                    "Invalid authorizer type specified: {other}"
                )))
            }
        }
        if a.identity_source.is_empty() {
            return Err(ApiError::bad("IdentitySource is required"));
        }
        if a.identity_source.len() > 1 {
            return Err(ApiError::bad(
                "A JWT authorizer takes exactly one identity source",
            ));
        }
        for s in &a.identity_source {
            let ok = ["$request.header.", "$request.querystring."]
                .iter()
                .any(|p| s.strip_prefix(p).is_some_and(|n| !n.is_empty()));
            if !ok {
                return Err(ApiError::bad(format!(
                    "Invalid identity source specified: {s}. Use $request.header.<name> or $request.querystring.<name>"
                )));
            }
        }
        let issuer = a.jwt_issuer.as_deref().ok_or_else(|| {
            ApiError::bad("JwtConfiguration with an Issuer is required for JWT authorizers")
        })?;
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(ApiError::bad(format!(
                "Invalid issuer: {issuer}. The issuer must be an http(s) URL"
            )));
        }
        if a.jwt_audience.is_empty() {
            return Err(ApiError::bad(
                "JwtConfiguration must have at least one Audience",
            ));
        }
        Ok(())
    }
}

impl ApiService {
    pub async fn create_authorizer(
        &self,
        api_id: &str,
        input: AuthorizerInput,
    ) -> ApiResult<Authorizer> {
        self.edit(api_id, |e| {
            if let Some(n) = &input.name {
                if e.api.authorizers.iter().any(|a| &a.name == n) {
                    return Err(ApiError::conflict(format!(
                        "An authorizer named '{n}' already exists"
                    )));
                }
            }
            let mut a = Authorizer {
                id: e.new_child_id(),
                ..Authorizer::default()
            };
            input.apply(&mut a)?;
            e.api.authorizers.push(a.clone());
            e.routing_changed = true;
            Ok(a)
        })
        .await
    }

    pub async fn get_authorizer(&self, api_id: &str, id: &str) -> ApiResult<Authorizer> {
        let api = self.load(api_id).await?;
        api.authorizers
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| not_found(id))
    }

    pub async fn list_authorizers(
        &self,
        api_id: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> ApiResult<(Vec<Authorizer>, Option<String>)> {
        let api = self.load(api_id).await?;
        paginate(&api.authorizers, max_results, next_token)
    }

    pub async fn update_authorizer(
        &self,
        api_id: &str,
        id: &str,
        input: AuthorizerInput,
    ) -> ApiResult<Authorizer> {
        self.edit(api_id, |e| {
            if let Some(n) = &input.name {
                if e.api.authorizers.iter().any(|a| &a.name == n && a.id != id) {
                    return Err(ApiError::conflict(format!(
                        "An authorizer named '{n}' already exists"
                    )));
                }
            }
            let a = e
                .api
                .authorizers
                .iter_mut()
                .find(|a| a.id == id)
                .ok_or_else(|| not_found(id))?;
            input.apply(a)?;
            let out = a.clone();
            e.routing_changed = true;
            Ok(out)
        })
        .await
    }

    pub async fn delete_authorizer(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit(api_id, |e| {
            let pos = e
                .api
                .authorizers
                .iter()
                .position(|a| a.id == id)
                .ok_or_else(|| not_found(id))?;
            if let Some(r) = e
                .api
                .routes
                .iter()
                .find(|r| r.authorizer_id.as_deref() == Some(id))
            {
                return Err(ApiError::conflict(format!(
                    "Authorizer {id} cannot be deleted: route '{}' uses it",
                    r.route_key
                )));
            }
            e.api.authorizers.remove(pos);
            e.routing_changed = true;
            Ok(())
        })
        .await
    }
}
