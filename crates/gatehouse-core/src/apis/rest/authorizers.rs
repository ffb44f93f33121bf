//! REST API authorizers: COGNITO_USER_POOLS (user pools named by ARN, the token in a header),
//! and Lambda TOKEN / REQUEST authorizers (stored and echoed; the gateway does not run them).
//! An authorizer a method uses cannot be deleted.

use gatehouse_store::rest_apis::{RestApi, RestAuthorizer};

use super::edit::{rest_page, RestPage};
use super::integrations::is_lambda_invocation_uri;
use super::patch::{self, need_value, PatchKind, PatchOp, Patchable};
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

/// Members of CreateAuthorizer.
#[derive(Debug, Clone, Default)]
pub struct RestAuthorizerInput {
    pub name: Option<String>,
    pub authorizer_type: Option<String>,
    pub provider_arns: Option<Vec<String>>,
    pub auth_type: Option<String>,
    pub authorizer_uri: Option<String>,
    pub authorizer_credentials: Option<String>,
    pub identity_source: Option<String>,
    pub identity_validation_expression: Option<String>,
    pub authorizer_result_ttl_in_seconds: Option<i64>,
}

pub(crate) fn authorizer_not_found() -> ApiError {
    ApiError::not_found("Invalid Authorizer identifier specified")
}

/// `arn:aws:cognito-idp:{region}:{account}:userpool/{region}_{id}`.
pub fn check_pool_arn(arn: &str) -> ApiResult<()> {
    let invalid = || {
        ApiError::bad(format!(
            "Invalid Cognito User Pool ARN specified: {arn}. Use arn:aws:cognito-idp:{{region}}:{{account}}:userpool/{{poolId}}"
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    let pool = resource.strip_prefix("userpool/").ok_or_else(invalid)?;
    let pool_ok = pool.split_once('_').is_some_and(|(r, id)| {
        r == *region && !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let ok = *prefix == "arn"
        && partition.starts_with("aws")
        && *service == "cognito-idp"
        && !region.is_empty()
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && pool_ok;
    if ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn check_header_source(source: &str) -> ApiResult<()> {
    let ok = source
        .strip_prefix("method.request.header.")
        .is_some_and(|h| !h.is_empty() && !h.contains(','));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "Invalid identity source specified: {source}. A token authorizer takes method.request.header.{{name}}"
        )))
    }
}

/// The authorizer is complete and consistent for its type.
fn check_authorizer(a: &RestAuthorizer) -> ApiResult<()> {
    if a.name.trim().is_empty() {
        return Err(ApiError::bad("Authorizer name must be non-empty"));
    }
    match a.authorizer_type.as_str() {
        "COGNITO_USER_POOLS" => {
            if a.provider_arns.is_empty() {
                return Err(ApiError::bad(
                    "ProviderARNs must be specified for a COGNITO_USER_POOLS authorizer",
                ));
            }
            for arn in &a.provider_arns {
                check_pool_arn(arn)?;
            }
            let source = a.identity_source.as_deref().ok_or_else(|| {
                ApiError::bad("IdentitySource must be specified for a COGNITO_USER_POOLS authorizer: method.request.header.Authorization")
            })?;
            check_header_source(source)?;
        }
        "TOKEN" | "REQUEST" => {
            let uri = a.authorizer_uri.as_deref().ok_or_else(|| {
                ApiError::bad(format!(
                    "AuthorizerUri must be specified for a {} authorizer",
                    a.authorizer_type
                ))
            })?;
            if !is_lambda_invocation_uri(uri) {
                return Err(ApiError::bad(format!(
                    "Invalid Authorizer URI specified: {uri}. Use arn:aws:apigateway:{{region}}:lambda:path/2015-03-31/functions/{{functionArn}}/invocations"
                )));
            }
            if a.authorizer_type == "TOKEN" {
                let source = a.identity_source.as_deref().ok_or_else(|| {
                    ApiError::bad("IdentitySource must be specified for a TOKEN authorizer")
                })?;
                check_header_source(source)?;
            }
        }
        "JWT" => {
            return Err(ApiError::bad(
                "JWT authorizers are for HTTP APIs (apigatewayv2); a REST API takes COGNITO_USER_POOLS, TOKEN or REQUEST",
            ))
        }
        other => {
            return Err(ApiError::bad(format!(
                "Invalid authorizer type specified: {other}. Valid values are TOKEN, REQUEST and COGNITO_USER_POOLS"
            )))
        }
    }
    if let Some(expr) = &a.identity_validation_expression {
        regex::Regex::new(expr).map_err(|_| {
            ApiError::bad(format!(
                "Invalid identity validation expression specified: {expr}"
            ))
        })?;
    }
    if let Some(ttl) = a.authorizer_result_ttl_in_seconds {
        if !(0..=3600).contains(&ttl) {
            return Err(ApiError::bad(
                "Invalid authorizer result TTL: must be between 0 and 3600 seconds",
            ));
        }
    }
    Ok(())
}

/// An authorizer (without its id yet) from CreateAuthorizer's members, checked.
pub(crate) fn build_authorizer(input: RestAuthorizerInput) -> ApiResult<RestAuthorizer> {
    let a = RestAuthorizer {
        id: String::new(),
        name: input.name.unwrap_or_default(),
        authorizer_type: input.authorizer_type.unwrap_or_default(),
        provider_arns: input.provider_arns.unwrap_or_default(),
        auth_type: input.auth_type,
        authorizer_uri: input.authorizer_uri,
        authorizer_credentials: input.authorizer_credentials,
        identity_source: input.identity_source,
        identity_validation_expression: input.identity_validation_expression,
        authorizer_result_ttl_in_seconds: Some(
            input.authorizer_result_ttl_in_seconds.unwrap_or(300),
        ),
    };
    check_authorizer(&a)?;
    Ok(a)
}

/// `{METHOD}/{path}` of the first method using the authorizer, as AWS names it.
fn used_by(api: &RestApi, authorizer_id: &str) -> Option<String> {
    api.resources.iter().find_map(|r| {
        r.methods
            .values()
            .find(|m| m.authorizer_id.as_deref() == Some(authorizer_id))
            .map(|m| format!("{}/{}", m.http_method, r.path))
    })
}

fn opt(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_string)
}

impl Patchable for RestAuthorizer {
    fn patch_paths(&self) -> &'static str {
        "/name, /type, /providerARNs, /authType, /authorizerUri, /authorizerCredentials, /identitySource, /identityValidationExpression, /authorizerResultTtlInSeconds"
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match p.as_slice() {
            ["name"] => Some(self.name.clone()),
            ["type"] => Some(self.authorizer_type.clone()),
            ["authType"] => self.auth_type.clone(),
            ["authorizerUri"] => self.authorizer_uri.clone(),
            ["authorizerCredentials"] => self.authorizer_credentials.clone(),
            ["identitySource"] => self.identity_source.clone(),
            ["identityValidationExpression"] => self.identity_validation_expression.clone(),
            ["authorizerResultTtlInSeconds"] => {
                self.authorizer_result_ttl_in_seconds.map(|t| t.to_string())
            }
            ["providerARNs", arn] => self.provider_arns.iter().find(|a| a == arn).cloned(),
            _ => {
                return Err(patch::invalid_path(
                    PatchKind::Test,
                    raw,
                    self.patch_paths(),
                ))
            }
        })
    }

    fn write(
        &mut self,
        op: PatchKind,
        path: &[String],
        raw: &str,
        value: Option<&str>,
    ) -> ApiResult<()> {
        use PatchKind::*;
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match (p.as_slice(), op) {
            (["name"], Replace) => self.name = need_value(op, raw, value)?.to_string(),
            (["type"], Replace) => self.authorizer_type = need_value(op, raw, value)?.to_string(),
            (["authType"], Replace) => self.auth_type = opt(value),
            (["authorizerUri"], Replace) => self.authorizer_uri = opt(value),
            (["authorizerCredentials"], Replace) => self.authorizer_credentials = opt(value),
            (["identitySource"], Replace) => self.identity_source = opt(value),
            (["identityValidationExpression"], Replace) => {
                self.identity_validation_expression = opt(value)
            }
            (["authorizerResultTtlInSeconds"], Replace) => {
                self.authorizer_result_ttl_in_seconds =
                    Some(patch::parse_int(raw, need_value(op, raw, value)?)?)
            }
            // `op=add,path=/providerARNs,value={arn}`; remove by value or by path.
            (["providerARNs"], Add) => {
                let v = need_value(op, raw, value)?;
                if !self.provider_arns.iter().any(|a| a == v) {
                    self.provider_arns.push(v.to_string());
                }
            }
            (["providerARNs"], Remove) => {
                let v = need_value(op, raw, value)?;
                self.provider_arns.retain(|a| a != v);
            }
            (["providerARNs", arn], Remove) => self.provider_arns.retain(|a| a != arn),
            (["providerARNs", arn], Add) => {
                if !self.provider_arns.iter().any(|a| a == arn) {
                    self.provider_arns.push(arn.to_string());
                }
            }
            (
                ["name"
                | "type"
                | "authType"
                | "authorizerUri"
                | "authorizerCredentials"
                | "identitySource"
                | "identityValidationExpression"
                | "authorizerResultTtlInSeconds"
                | "providerARNs"]
                | ["providerARNs", _],
                _,
            ) => return Err(patch::unsupported_op(op, raw)),
            _ => return Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl ApiService {
    /// The pools a Cognito authorizer names exist here (when the service knows the pools).
    pub(crate) async fn check_pools_exist(&self, a: &RestAuthorizer) -> ApiResult<()> {
        let Some(pools) = &self.pools else {
            return Ok(());
        };
        if a.authorizer_type != "COGNITO_USER_POOLS" {
            return Ok(());
        }
        for arn in &a.provider_arns {
            let pool_id = arn.rsplit('/').next().unwrap_or_default();
            if pools.get_pool(pool_id).await?.is_none() {
                return Err(ApiError::bad(format!(
                    "Invalid Cognito User Pool ARN specified: {arn}. There is no user pool {pool_id}"
                )));
            }
        }
        Ok(())
    }

    pub async fn create_rest_authorizer(
        &self,
        api_id: &str,
        input: RestAuthorizerInput,
    ) -> ApiResult<RestAuthorizer> {
        let mut a = build_authorizer(input)?;
        // The API first, so an unknown API is 404 whatever the authorizer says.
        self.load_rest(api_id).await?;
        self.check_pools_exist(&a).await?;
        self.edit_rest(api_id, |e| {
            a.id = e.new_child_id();
            e.api.authorizers.push(a.clone());
            Ok(a)
        })
        .await
    }

    pub async fn get_rest_authorizers(
        &self,
        api_id: &str,
        page: &RestPage,
    ) -> ApiResult<(Vec<RestAuthorizer>, Option<String>)> {
        let api = self.load_rest(api_id).await?;
        rest_page(&api.authorizers, page)
    }

    pub async fn get_rest_authorizer(&self, api_id: &str, id: &str) -> ApiResult<RestAuthorizer> {
        let api = self.load_rest(api_id).await?;
        api.authorizers
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(authorizer_not_found)
    }

    /// A method using the authorizer must still be able to: a Cognito method keeps a Cognito
    /// authorizer, a CUSTOM one a Lambda authorizer.
    pub async fn update_rest_authorizer(
        &self,
        api_id: &str,
        id: &str,
        ops: &[PatchOp],
    ) -> ApiResult<RestAuthorizer> {
        // The patched authorizer's pools are checked before the edit (which cannot wait).
        let mut preview = self
            .load_rest(api_id)
            .await?
            .authorizers
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(authorizer_not_found)?;
        patch::apply(&mut preview, ops)?;
        check_authorizer(&preview)?;
        self.check_pools_exist(&preview).await?;
        self.edit_rest(api_id, |e| {
            let a = e
                .api
                .authorizers
                .iter_mut()
                .find(|a| a.id == id)
                .ok_or_else(authorizer_not_found)?;
            let mut copy = a.clone();
            patch::apply(&mut copy, ops)?;
            check_authorizer(&copy)?;
            let type_changed = copy.authorizer_type != a.authorizer_type;
            *a = copy.clone();
            if type_changed {
                if let Some(m) = used_by(&e.api, id) {
                    return Err(ApiError::bad(format!(
                        "Cannot change the type of authorizer {id}, is referenced in method: {m}"
                    )));
                }
            }
            Ok(copy)
        })
        .await
    }

    pub async fn delete_rest_authorizer(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            if !e.api.authorizers.iter().any(|a| a.id == id) {
                return Err(authorizer_not_found());
            }
            if let Some(m) = used_by(&e.api, id) {
                return Err(ApiError::conflict(format!(
                    "Cannot delete authorizer, is referenced in method: {m}"
                )));
            }
            e.api.authorizers.retain(|a| a.id != id);
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_arns() {
        check_pool_arn("arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_AbC123xyz")
            .unwrap();
        for bad in [
            "arn:aws:cognito-idp:us-east-1:000000000000:userpool/eu-west-1_AbC123xyz",
            "arn:aws:cognito-idp:us-east-1:000000000000:pool/us-east-1_AbC",
            "arn:aws:cognito-idp:us-east-1:0000:userpool/us-east-1_AbC",
            "arn:aws:s3:us-east-1:000000000000:userpool/us-east-1_AbC",
            "us-east-1_AbC",
        ] {
            assert!(check_pool_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cognito_authorizer_checks() {
        let a = RestAuthorizer {
            id: "a".into(),
            name: "cog".into(),
            authorizer_type: "COGNITO_USER_POOLS".into(),
            provider_arns: vec![
                "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_AbC".into(),
            ],
            identity_source: Some("method.request.header.Authorization".into()),
            ..RestAuthorizer::default()
        };
        check_authorizer(&a).unwrap();
        let mut b = a.clone();
        b.identity_source = None;
        assert!(check_authorizer(&b).is_err());
        let mut b = a.clone();
        b.identity_validation_expression = Some("(".into());
        assert!(check_authorizer(&b).is_err());
        let mut b = a.clone();
        b.provider_arns.clear();
        assert!(check_authorizer(&b).is_err());
        let mut b = a;
        b.authorizer_type = "JWT".into();
        assert!(check_authorizer(&b).is_err());
    }
}
