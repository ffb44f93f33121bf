//! Methods of resources and their method responses: PutMethod / GetMethod / UpdateMethod /
//! DeleteMethod and the same for method responses. A method's `authorizationType` is NONE,
//! AWS_IAM, CUSTOM (a TOKEN or REQUEST authorizer) or COGNITO_USER_POOLS (a Cognito
//! authorizer); the last two need an authorizer of the API of the matching type.

use std::collections::BTreeMap;

use gatehouse_store::rest_apis::{Method, MethodResponse, Resource, RestApi};

use super::patch::{self, need_value, PatchKind, PatchOp, Patchable};
use super::resources::resource_not_found;
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

/// Members of PutMethod.
#[derive(Debug, Clone, Default)]
pub struct MethodInput {
    pub authorization_type: Option<String>,
    pub authorizer_id: Option<String>,
    pub api_key_required: Option<bool>,
    pub operation_name: Option<String>,
    pub request_parameters: Option<BTreeMap<String, bool>>,
    pub request_models: Option<BTreeMap<String, String>>,
    pub request_validator_id: Option<String>,
    pub authorization_scopes: Option<Vec<String>>,
}

/// Members of PutMethodResponse.
#[derive(Debug, Clone, Default)]
pub struct MethodResponseInput {
    pub response_parameters: Option<BTreeMap<String, bool>>,
    pub response_models: Option<BTreeMap<String, String>>,
}

pub(crate) fn method_not_found() -> ApiError {
    ApiError::not_found("Invalid Method identifier specified")
}

fn response_not_found() -> ApiError {
    ApiError::not_found("Invalid Response status code specified")
}

pub fn check_http_method(m: &str) -> ApiResult<()> {
    match m {
        "GET" | "PUT" | "POST" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD" | "ANY" => Ok(()),
        _ => Err(ApiError::bad(
            "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY",
        )),
    }
}

/// A 3-digit HTTP status code, as method and integration responses are keyed.
pub fn check_status_code(code: &str) -> ApiResult<()> {
    let ok = code.len() == 3
        && code.bytes().all(|b| b.is_ascii_digit())
        && matches!(code.as_bytes().first(), Some(b'1'..=b'5'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad("Invalid status code specified"))
    }
}

/// `method.request.{header|querystring|path|multivalueheader|multivaluequerystring}.{name}`,
/// each name once across the locations.
fn check_request_parameters(params: &BTreeMap<String, bool>) -> ApiResult<()> {
    let mut names = std::collections::BTreeSet::new();
    for k in params.keys() {
        let name = k
            .strip_prefix("method.request.")
            .and_then(|r| r.split_once('.'))
            .filter(|(loc, name)| {
                matches!(
                    *loc,
                    "header" | "querystring" | "path" | "multivalueheader" | "multivaluequerystring"
                ) && !name.is_empty()
            })
            .map(|(_, name)| name)
            .ok_or_else(|| {
                ApiError::bad(format!(
                    "Invalid method request parameter specified: {k}. Use method.request.header.*, method.request.querystring.* or method.request.path.*"
                ))
            })?;
        if !names.insert(name.to_string()) {
            return Err(ApiError::bad(
                "Parameter names must be unique across querystring, header and path",
            ));
        }
    }
    Ok(())
}

fn check_response_parameters(params: &BTreeMap<String, bool>) -> ApiResult<()> {
    for k in params.keys() {
        let ok = k
            .strip_prefix("method.response.header.")
            .is_some_and(|n| !n.is_empty());
        if !ok {
            return Err(ApiError::bad(format!(
                "Invalid mapping expression specified: {k}. Use method.response.header.*"
            )));
        }
    }
    Ok(())
}

/// Models AWS creates with every REST API; the only ones Gatehouse knows.
fn check_models(models: &BTreeMap<String, String>) -> ApiResult<()> {
    for name in models.values() {
        if name != "Empty" && name != "Error" {
            return Err(ApiError::bad(format!(
                "Invalid model identifier specified: {name}"
            )));
        }
    }
    Ok(())
}

/// The method's authorizer matches its authorization type; NONE and AWS_IAM drop it.
fn check_authorization(api: &RestApi, m: &mut Method) -> ApiResult<()> {
    let wanted: &[&str] = match m.authorization_type.as_str() {
        "NONE" | "AWS_IAM" => {
            m.authorizer_id = None;
            return Ok(());
        }
        "COGNITO_USER_POOLS" => &["COGNITO_USER_POOLS"],
        "CUSTOM" => &["TOKEN", "REQUEST"],
        other => {
            return Err(ApiError::bad(format!(
                "Invalid authorization type specified: {other}. Valid options are NONE,AWS_IAM,CUSTOM,COGNITO_USER_POOLS"
            )))
        }
    };
    let found = m
        .authorizer_id
        .as_deref()
        .and_then(|id| api.authorizers.iter().find(|a| a.id == id));
    match found {
        None => Err(ApiError::bad(
            "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.",
        )),
        Some(a) if !wanted.contains(&a.authorizer_type.as_str()) => Err(ApiError::bad(format!(
            "Invalid authorizer ID specified. Authorizer {} is of type {}, which authorization type {} cannot use.",
            a.id, a.authorizer_type, m.authorization_type
        ))),
        Some(_) => Ok(()),
    }
}

/// A new method of `api` from PutMethod's members, checked.
pub(crate) fn build_method(
    api: &RestApi,
    http_method: &str,
    input: MethodInput,
) -> ApiResult<Method> {
    check_http_method(http_method)?;
    let authorization_type = input.authorization_type.ok_or_else(|| {
        ApiError::bad("Invalid authorization type specified: the authorization type is required")
    })?;
    let request_parameters = input.request_parameters.unwrap_or_default();
    check_request_parameters(&request_parameters)?;
    let request_models = input.request_models.unwrap_or_default();
    check_models(&request_models)?;
    if input
        .request_validator_id
        .as_deref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(ApiError::bad(
            "Invalid Request Validator identifier specified",
        ));
    }
    let mut m = Method {
        http_method: http_method.to_string(),
        authorization_type,
        authorizer_id: input.authorizer_id.filter(|a| !a.is_empty()),
        authorization_scopes: input.authorization_scopes.unwrap_or_default(),
        api_key_required: input.api_key_required.unwrap_or(false),
        operation_name: input.operation_name,
        request_validator_id: None,
        request_parameters,
        request_models,
        method_responses: BTreeMap::new(),
        integration: None,
    };
    check_authorization(api, &mut m)?;
    Ok(m)
}

/// A method response from PutMethodResponse's members, checked.
pub(crate) fn build_method_response(
    status_code: &str,
    input: MethodResponseInput,
) -> ApiResult<MethodResponse> {
    check_status_code(status_code)?;
    let response_parameters = input.response_parameters.unwrap_or_default();
    check_response_parameters(&response_parameters)?;
    let response_models = input.response_models.unwrap_or_default();
    check_models(&response_models)?;
    Ok(MethodResponse {
        status_code: status_code.to_string(),
        response_parameters,
        response_models,
    })
}

pub(crate) fn resource_mut<'a>(api: &'a mut RestApi, id: &str) -> ApiResult<&'a mut Resource> {
    api.resources
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(resource_not_found)
}

pub(crate) fn method_mut<'a>(
    api: &'a mut RestApi,
    resource_id: &str,
    http_method: &str,
) -> ApiResult<&'a mut Method> {
    resource_mut(api, resource_id)?
        .methods
        .get_mut(http_method)
        .ok_or_else(method_not_found)
}

pub(crate) fn method_of<'a>(
    api: &'a RestApi,
    resource_id: &str,
    http_method: &str,
) -> ApiResult<&'a Method> {
    api.resources
        .iter()
        .find(|r| r.id == resource_id)
        .ok_or_else(resource_not_found)?
        .methods
        .get(http_method)
        .ok_or_else(method_not_found)
}

/// `/requestParameters/method.request.header.X` style map entries of booleans.
fn write_bool_map(
    map: &mut BTreeMap<String, bool>,
    key: &str,
    op: PatchKind,
    raw: &str,
    value: Option<&str>,
) -> ApiResult<()> {
    match op {
        PatchKind::Remove => {
            map.remove(key);
        }
        _ => {
            // AWS takes an absent value for `add` as "not required".
            let v = match value {
                None | Some("") => false,
                Some(v) => patch::parse_bool(raw, v)?,
            };
            map.insert(key.to_string(), v);
        }
    }
    Ok(())
}

fn write_string_map(
    map: &mut BTreeMap<String, String>,
    key: &str,
    op: PatchKind,
    raw: &str,
    value: Option<&str>,
) -> ApiResult<()> {
    match op {
        PatchKind::Remove => {
            map.remove(key);
        }
        _ => {
            map.insert(key.to_string(), need_value(op, raw, value)?.to_string());
        }
    }
    Ok(())
}

impl Patchable for Method {
    fn patch_paths(&self) -> &'static str {
        "/authorizationType, /authorizerId, /apiKeyRequired, /operationName, /requestValidatorId, /authorizationScopes, /requestParameters/{name}, /requestModels/{contentType}"
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match p.as_slice() {
            ["authorizationType"] => Some(self.authorization_type.clone()),
            ["authorizerId"] => self.authorizer_id.clone(),
            ["apiKeyRequired"] => Some(self.api_key_required.to_string()),
            ["operationName"] => self.operation_name.clone(),
            ["requestValidatorId"] => self.request_validator_id.clone(),
            ["requestParameters", k] => self.request_parameters.get(*k).map(bool::to_string),
            ["requestModels", k] => self.request_models.get(*k).cloned(),
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
            (["authorizationType"], Replace) => {
                self.authorization_type = need_value(op, raw, value)?.to_string()
            }
            (["authorizerId"], Replace) => {
                self.authorizer_id = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["apiKeyRequired"], Replace) => {
                self.api_key_required = patch::parse_bool(raw, need_value(op, raw, value)?)?
            }
            (["operationName"], Replace) => {
                self.operation_name = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["requestValidatorId"], Replace) => match value.filter(|v| !v.is_empty()) {
                None => self.request_validator_id = None,
                Some(_) => {
                    return Err(ApiError::bad(
                        "Invalid Request Validator identifier specified",
                    ))
                }
            },
            // `op=add,path=/authorizationScopes,value=scope` adds one scope.
            (["authorizationScopes"], Add) => {
                let v = need_value(op, raw, value)?;
                if !self.authorization_scopes.iter().any(|s| s == v) {
                    self.authorization_scopes.push(v.to_string());
                }
            }
            (["authorizationScopes"], Remove) => match value {
                Some(v) => self.authorization_scopes.retain(|s| s != v),
                None => self.authorization_scopes.clear(),
            },
            (["authorizationScopes", s], Remove) => self.authorization_scopes.retain(|x| x != s),
            (["requestParameters", k], Add | Replace | Remove) => {
                write_bool_map(&mut self.request_parameters, k, op, raw, value)?;
                check_request_parameters(&self.request_parameters)?;
            }
            (["requestModels", k], Add | Replace | Remove) => {
                write_string_map(&mut self.request_models, k, op, raw, value)?;
                check_models(&self.request_models)?;
            }
            (
                ["authorizationType"
                | "authorizerId"
                | "apiKeyRequired"
                | "operationName"
                | "requestValidatorId"
                | "authorizationScopes"]
                | ["authorizationScopes", _],
                _,
            ) => return Err(patch::unsupported_op(op, raw)),
            _ => return Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl Patchable for MethodResponse {
    fn patch_paths(&self) -> &'static str {
        "/responseParameters/{name}, /responseModels/{contentType}"
    }
    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match p.as_slice() {
            ["responseParameters", k] => self.response_parameters.get(*k).map(bool::to_string),
            ["responseModels", k] => self.response_models.get(*k).cloned(),
            ["statusCode"] => Some(self.status_code.clone()),
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
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["responseParameters", k] if op != PatchKind::Test => {
                write_bool_map(&mut self.response_parameters, k, op, raw, value)?;
                check_response_parameters(&self.response_parameters)
            }
            ["responseModels", k] if op != PatchKind::Test => {
                write_string_map(&mut self.response_models, k, op, raw, value)?;
                check_models(&self.response_models)
            }
            _ => Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
    }
}

impl ApiService {
    pub async fn put_method(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        input: MethodInput,
    ) -> ApiResult<Method> {
        self.edit_rest(api_id, |e| {
            resource_mut(&mut e.api, resource_id)?;
            let m = build_method(&e.api, http_method, input)?;
            let r = resource_mut(&mut e.api, resource_id)?;
            if r.methods.contains_key(http_method) {
                return Err(ApiError::conflict(
                    "Method already exists for this resource",
                ));
            }
            r.methods.insert(http_method.to_string(), m.clone());
            Ok(m)
        })
        .await
    }

    pub async fn get_method(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
    ) -> ApiResult<Method> {
        let api = self.load_rest(api_id).await?;
        method_of(&api, resource_id, http_method).cloned()
    }

    pub async fn update_method(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        ops: &[PatchOp],
    ) -> ApiResult<Method> {
        self.edit_rest(api_id, |e| {
            let mut m = method_of(&e.api, resource_id, http_method)?.clone();
            patch::apply(&mut m, ops)?;
            check_authorization(&e.api, &mut m)?;
            *method_mut(&mut e.api, resource_id, http_method)? = m.clone();
            Ok(m)
        })
        .await
    }

    pub async fn delete_method(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
    ) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            resource_mut(&mut e.api, resource_id)?
                .methods
                .remove(http_method)
                .map(|_| ())
                .ok_or_else(method_not_found)
        })
        .await
    }

    pub async fn put_method_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        input: MethodResponseInput,
    ) -> ApiResult<MethodResponse> {
        self.edit_rest(api_id, |e| {
            let m = method_mut(&mut e.api, resource_id, http_method)?;
            let r = build_method_response(status_code, input)?;
            if m.method_responses.contains_key(status_code) {
                return Err(ApiError::conflict(
                    "Response already exists for this resource",
                ));
            }
            m.method_responses
                .insert(status_code.to_string(), r.clone());
            Ok(r)
        })
        .await
    }

    pub async fn get_method_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> ApiResult<MethodResponse> {
        let api = self.load_rest(api_id).await?;
        method_of(&api, resource_id, http_method)?
            .method_responses
            .get(status_code)
            .cloned()
            .ok_or_else(response_not_found)
    }

    pub async fn update_method_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        ops: &[PatchOp],
    ) -> ApiResult<MethodResponse> {
        self.edit_rest(api_id, |e| {
            let r = method_mut(&mut e.api, resource_id, http_method)?
                .method_responses
                .get_mut(status_code)
                .ok_or_else(response_not_found)?;
            let mut copy = r.clone();
            patch::apply(&mut copy, ops)?;
            *r = copy.clone();
            Ok(copy)
        })
        .await
    }

    pub async fn delete_method_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            method_mut(&mut e.api, resource_id, http_method)?
                .method_responses
                .remove(status_code)
                .map(|_| ())
                .ok_or_else(response_not_found)
        })
        .await
    }
}
