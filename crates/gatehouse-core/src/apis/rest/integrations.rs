//! A method's integration and its integration responses: PutIntegration (HTTP, HTTP_PROXY,
//! AWS, AWS_PROXY to Lambda, MOCK) / Get / Update / Delete, and the same for integration
//! responses, with AWS's checks on the backend method, the URI and the timeout.

use std::collections::BTreeMap;

use gatehouse_store::rest_apis::{IntegrationResponse, RestIntegration};

use super::methods::{check_http_method, check_status_code, method_mut, method_of};
use super::patch::{self, need_value, PatchKind, PatchOp, Patchable};
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

const DEFAULT_TIMEOUT_MS: i64 = 29_000;

/// Members of PutIntegration.
#[derive(Debug, Clone, Default)]
pub struct RestIntegrationInput {
    pub integration_type: Option<String>,
    pub http_method: Option<String>,
    pub uri: Option<String>,
    pub connection_type: Option<String>,
    pub connection_id: Option<String>,
    pub credentials: Option<String>,
    pub request_parameters: Option<BTreeMap<String, String>>,
    pub request_templates: Option<BTreeMap<String, String>>,
    pub passthrough_behavior: Option<String>,
    pub cache_namespace: Option<String>,
    pub cache_key_parameters: Option<Vec<String>>,
    pub content_handling: Option<String>,
    pub timeout_in_millis: Option<i64>,
    pub tls_config: Option<serde_json::Value>,
}

/// Members of PutIntegrationResponse.
#[derive(Debug, Clone, Default)]
pub struct IntegrationResponseInput {
    pub selection_pattern: Option<String>,
    pub response_parameters: Option<BTreeMap<String, String>>,
    pub response_templates: Option<BTreeMap<String, String>>,
    pub content_handling: Option<String>,
}

fn integration_not_found() -> ApiError {
    ApiError::not_found("Invalid Integration identifier specified")
}

fn integration_response_not_found() -> ApiError {
    ApiError::not_found("Invalid Response status code specified")
}

/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`.
pub fn is_lambda_invocation_uri(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("arn:aws:apigateway:") else {
        return false;
    };
    let Some((region, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some(function) = rest
        .strip_prefix("lambda:path/2015-03-31/functions/")
        .and_then(|f| f.strip_suffix("/invocations"))
    else {
        return false;
    };
    // The function may come from a stage variable (`${stageVariables.fn}`).
    let from_stage = function.contains("${stageVariables.");
    !region.is_empty()
        && (from_stage
            || ((function.starts_with("arn:aws:lambda:") || function.starts_with("arn:aws-"))
                && function.contains(":function:")))
}

fn is_http_url(uri: &str) -> bool {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !uri.chars().any(char::is_whitespace)
    })
}

fn check_timeout(ms: i64) -> ApiResult<()> {
    if (50..=DEFAULT_TIMEOUT_MS).contains(&ms) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "Timeout should be between 50 ms and 29000 ms",
        ))
    }
}

fn check_passthrough(p: &str) -> ApiResult<()> {
    match p {
        "WHEN_NO_MATCH" | "WHEN_NO_TEMPLATES" | "NEVER" => Ok(()),
        other => Err(ApiError::bad(format!(
            "Invalid passthrough behavior specified: {other}. Valid values are WHEN_NO_MATCH, WHEN_NO_TEMPLATES and NEVER"
        ))),
    }
}

fn check_content_handling(c: &str) -> ApiResult<()> {
    match c {
        "CONVERT_TO_BINARY" | "CONVERT_TO_TEXT" => Ok(()),
        other => Err(ApiError::bad(format!(
            "Invalid content handling specified: {other}. Valid values are CONVERT_TO_BINARY and CONVERT_TO_TEXT"
        ))),
    }
}

/// `integration.request.{header|querystring|path|multivaluequerystring}.{name}` keys.
fn check_request_parameters(params: &BTreeMap<String, String>) -> ApiResult<()> {
    for (k, v) in params {
        let ok = k
            .strip_prefix("integration.request.")
            .and_then(|r| r.split_once('.'))
            .is_some_and(|(loc, name)| {
                matches!(
                    loc,
                    "header" | "querystring" | "path" | "multivaluequerystring"
                ) && !name.is_empty()
            });
        if !ok || v.is_empty() {
            return Err(ApiError::bad(format!(
                "Invalid mapping expression specified: Validation Result: warnings : [], errors : [Invalid mapping expression specified: {k}]"
            )));
        }
    }
    Ok(())
}

fn check_selection_pattern(p: &str) -> ApiResult<()> {
    regex::Regex::new(p)
        .map(|_| ())
        .map_err(|_| ApiError::bad(format!("Invalid selection pattern specified: {p}")))
}

/// The whole integration is consistent: a backend method and URI where the type needs them.
fn check_integration(i: &RestIntegration) -> ApiResult<()> {
    match i.integration_type.as_str() {
        "MOCK" => {}
        "HTTP" | "HTTP_PROXY" | "AWS" | "AWS_PROXY" => {
            let method = i
                .http_method
                .as_deref()
                .ok_or_else(|| ApiError::bad("Enumeration value for HttpMethod must be non-empty"))?;
            check_http_method(method)?;
            let uri = i.uri.as_deref().unwrap_or("");
            match i.integration_type.as_str() {
                "HTTP" | "HTTP_PROXY" if !is_http_url(uri) => {
                    return Err(ApiError::bad("Invalid HTTP endpoint specified for URI"))
                }
                "AWS_PROXY" if !uri.contains(":lambda:") => {
                    return Err(ApiError::bad(
                        "Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.",
                    ))
                }
                "AWS_PROXY" if !is_lambda_invocation_uri(uri) => {
                    return Err(ApiError::bad(
                        "Invalid ARN specified in the request: a Lambda integration URI is arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations",
                    ))
                }
                "AWS" if !(uri.starts_with("arn:aws:apigateway:")
                    && (uri.contains(":path/") || uri.contains(":action/"))) =>
                {
                    return Err(ApiError::bad("AWS ARN for integration must contain path or action"))
                }
                _ => {}
            }
        }
        other => {
            return Err(ApiError::bad(format!(
                "1 validation error detected: Value '{other}' at 'putIntegrationInput.type' failed to satisfy constraint: Member must satisfy enum value set: [HTTP, AWS, MOCK, HTTP_PROXY, AWS_PROXY]"
            )))
        }
    }
    match i.connection_type.as_str() {
        "INTERNET" | "" => {}
        "VPC_LINK" => {
            return Err(ApiError::bad(
                "VPC links (connectionType VPC_LINK) are not supported by Gatehouse",
            ))
        }
        other => {
            return Err(ApiError::bad(format!(
                "Invalid connection type specified: {other}. Valid values are INTERNET and VPC_LINK"
            )))
        }
    }
    check_timeout(i.timeout_in_millis)?;
    if let Some(p) = &i.passthrough_behavior {
        check_passthrough(p)?;
    }
    if let Some(c) = &i.content_handling {
        check_content_handling(c)?;
    }
    check_request_parameters(&i.request_parameters)
}

/// An integration from PutIntegration's members, checked; `integration_responses` are the
/// ones it keeps.
pub(crate) fn build_integration(
    resource_id: &str,
    input: RestIntegrationInput,
    integration_responses: BTreeMap<String, IntegrationResponse>,
) -> ApiResult<RestIntegration> {
    let integration_type = input
        .integration_type
        .ok_or_else(|| ApiError::bad("Enumeration value for IntegrationType must be non-empty"))?;
    let http = matches!(integration_type.as_str(), "HTTP" | "HTTP_PROXY");
    let i = RestIntegration {
        integration_type,
        http_method: input.http_method.filter(|h| !h.is_empty()),
        uri: input.uri.filter(|u| !u.is_empty()),
        connection_type: input.connection_type.unwrap_or_else(|| {
            if http {
                "INTERNET".into()
            } else {
                String::new()
            }
        }),
        connection_id: input.connection_id,
        credentials: input.credentials,
        request_parameters: input.request_parameters.unwrap_or_default(),
        request_templates: input.request_templates.unwrap_or_default(),
        passthrough_behavior: Some(
            input
                .passthrough_behavior
                .unwrap_or_else(|| "WHEN_NO_MATCH".into()),
        ),
        content_handling: input.content_handling,
        timeout_in_millis: input.timeout_in_millis.unwrap_or(DEFAULT_TIMEOUT_MS),
        cache_namespace: Some(
            input
                .cache_namespace
                .unwrap_or_else(|| resource_id.to_string()),
        ),
        cache_key_parameters: input.cache_key_parameters.unwrap_or_default(),
        integration_responses,
        tls_config: input.tls_config,
    };
    check_integration(&i)?;
    Ok(i)
}

/// An integration response from PutIntegrationResponse's members, checked.
pub(crate) fn build_integration_response(
    status_code: &str,
    input: IntegrationResponseInput,
) -> ApiResult<IntegrationResponse> {
    check_status_code(status_code)?;
    if let Some(p) = &input.selection_pattern {
        check_selection_pattern(p)?;
    }
    if let Some(c) = &input.content_handling {
        check_content_handling(c)?;
    }
    Ok(IntegrationResponse {
        status_code: status_code.to_string(),
        selection_pattern: input.selection_pattern,
        response_parameters: input.response_parameters.unwrap_or_default(),
        response_templates: input.response_templates.unwrap_or_default(),
        content_handling: input.content_handling,
    })
}

fn write_map(
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

fn opt(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_string)
}

impl Patchable for RestIntegration {
    fn patch_paths(&self) -> &'static str {
        "/uri, /httpMethod, /connectionType, /connectionId, /credentials, /passthroughBehavior, /contentHandling, /timeoutInMillis, /cacheNamespace, /cacheKeyParameters/{name}, /requestParameters/{name}, /requestTemplates/{contentType}, /tlsConfig/insecureSkipVerification"
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match p.as_slice() {
            ["uri"] => self.uri.clone(),
            ["httpMethod"] => self.http_method.clone(),
            ["connectionType"] => Some(self.connection_type.clone()).filter(|c| !c.is_empty()),
            ["connectionId"] => self.connection_id.clone(),
            ["credentials"] => self.credentials.clone(),
            ["passthroughBehavior"] => self.passthrough_behavior.clone(),
            ["contentHandling"] => self.content_handling.clone(),
            ["timeoutInMillis"] => Some(self.timeout_in_millis.to_string()),
            ["cacheNamespace"] => self.cache_namespace.clone(),
            ["cacheKeyParameters", k] => self.cache_key_parameters.iter().find(|c| c == k).cloned(),
            ["requestParameters", k] => self.request_parameters.get(*k).cloned(),
            ["requestTemplates", k] => self.request_templates.get(*k).cloned(),
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
            (["uri"], Replace) => self.uri = opt(value),
            (["httpMethod"], Replace) => self.http_method = opt(value),
            (["connectionType"], Replace) => {
                self.connection_type = need_value(op, raw, value)?.to_string()
            }
            (["connectionId"], Replace) => self.connection_id = opt(value),
            (["credentials"], Replace) => self.credentials = opt(value),
            (["passthroughBehavior"], Replace) => self.passthrough_behavior = opt(value),
            (["contentHandling"], Replace) => self.content_handling = opt(value),
            (["contentHandling"], Remove) => self.content_handling = None,
            (["timeoutInMillis"], Replace) => {
                self.timeout_in_millis = patch::parse_int(raw, need_value(op, raw, value)?)?
            }
            (["cacheNamespace"], Replace) => self.cache_namespace = opt(value),
            (["cacheKeyParameters", k], Add) => {
                if !self.cache_key_parameters.iter().any(|c| c == k) {
                    self.cache_key_parameters.push(k.to_string());
                }
            }
            (["cacheKeyParameters", k], Remove) => self.cache_key_parameters.retain(|c| c != k),
            (["requestParameters", k], Add | Replace | Remove) => {
                write_map(&mut self.request_parameters, k, op, raw, value)?
            }
            (["requestTemplates", k], Add | Replace | Remove) => {
                write_map(&mut self.request_templates, k, op, raw, value)?
            }
            (["tlsConfig", "insecureSkipVerification"], Replace) => {
                let v = patch::parse_bool(raw, need_value(op, raw, value)?)?;
                self.tls_config = Some(serde_json::json!({ "insecureSkipVerification": v }));
            }
            (
                ["uri"
                | "httpMethod"
                | "connectionType"
                | "connectionId"
                | "credentials"
                | "passthroughBehavior"
                | "contentHandling"
                | "timeoutInMillis"
                | "cacheNamespace"]
                | ["cacheKeyParameters" | "requestParameters" | "requestTemplates", _]
                | ["tlsConfig", "insecureSkipVerification"],
                _,
            ) => return Err(patch::unsupported_op(op, raw)),
            _ => return Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl Patchable for IntegrationResponse {
    fn patch_paths(&self) -> &'static str {
        "/selectionPattern, /contentHandling, /responseParameters/{name}, /responseTemplates/{contentType}"
    }
    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match p.as_slice() {
            ["selectionPattern"] => self.selection_pattern.clone(),
            ["contentHandling"] => self.content_handling.clone(),
            ["responseParameters", k] => self.response_parameters.get(*k).cloned(),
            ["responseTemplates", k] => self.response_templates.get(*k).cloned(),
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
            (["selectionPattern"], Replace) => {
                if let Some(v) = value {
                    check_selection_pattern(v)?;
                }
                self.selection_pattern = value.map(str::to_string);
            }
            (["contentHandling"], Replace) => {
                if let Some(v) = opt(value) {
                    check_content_handling(&v)?;
                }
                self.content_handling = opt(value);
            }
            (["responseParameters", k], Add | Replace | Remove) => {
                write_map(&mut self.response_parameters, k, op, raw, value)?
            }
            (["responseTemplates", k], Add | Replace | Remove) => {
                write_map(&mut self.response_templates, k, op, raw, value)?
            }
            (["selectionPattern" | "contentHandling"], _) => {
                return Err(patch::unsupported_op(op, raw))
            }
            _ => return Err(patch::invalid_path(op, raw, self.patch_paths())),
        }
        Ok(())
    }
}

impl ApiService {
    /// Sets the method's integration; integration responses already there are kept.
    pub async fn put_rest_integration(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        input: RestIntegrationInput,
    ) -> ApiResult<RestIntegration> {
        self.edit_rest(api_id, |e| {
            let m = method_mut(&mut e.api, resource_id, http_method)?;
            let kept = m
                .integration
                .as_ref()
                .map(|i| i.integration_responses.clone())
                .unwrap_or_default();
            let i = build_integration(resource_id, input, kept)?;
            m.integration = Some(i.clone());
            Ok(i)
        })
        .await
    }

    pub async fn get_rest_integration(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
    ) -> ApiResult<RestIntegration> {
        let api = self.load_rest(api_id).await?;
        method_of(&api, resource_id, http_method)?
            .integration
            .clone()
            .ok_or_else(integration_not_found)
    }

    pub async fn update_rest_integration(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        ops: &[PatchOp],
    ) -> ApiResult<RestIntegration> {
        self.edit_rest(api_id, |e| {
            let m = method_mut(&mut e.api, resource_id, http_method)?;
            let mut i = m.integration.clone().ok_or_else(integration_not_found)?;
            patch::apply(&mut i, ops)?;
            check_integration(&i)?;
            m.integration = Some(i.clone());
            Ok(i)
        })
        .await
    }

    pub async fn delete_rest_integration(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
    ) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            method_mut(&mut e.api, resource_id, http_method)?
                .integration
                .take()
                .map(|_| ())
                .ok_or_else(integration_not_found)
        })
        .await
    }

    /// The status code must be one of the method's responses, as on AWS.
    pub async fn put_integration_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        input: IntegrationResponseInput,
    ) -> ApiResult<IntegrationResponse> {
        self.edit_rest(api_id, |e| {
            let m = method_mut(&mut e.api, resource_id, http_method)?;
            check_status_code(status_code)?;
            if !m.method_responses.contains_key(status_code) {
                return Err(ApiError::not_found(
                    "Invalid Response status code specified",
                ));
            }
            let i = m.integration.as_mut().ok_or_else(integration_not_found)?;
            let r = build_integration_response(status_code, input)?;
            i.integration_responses
                .insert(status_code.to_string(), r.clone());
            Ok(r)
        })
        .await
    }

    pub async fn get_integration_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> ApiResult<IntegrationResponse> {
        let api = self.load_rest(api_id).await?;
        method_of(&api, resource_id, http_method)?
            .integration
            .as_ref()
            .ok_or_else(integration_not_found)?
            .integration_responses
            .get(status_code)
            .cloned()
            .ok_or_else(integration_response_not_found)
    }

    pub async fn update_integration_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        ops: &[PatchOp],
    ) -> ApiResult<IntegrationResponse> {
        self.edit_rest(api_id, |e| {
            let r = method_mut(&mut e.api, resource_id, http_method)?
                .integration
                .as_mut()
                .ok_or_else(integration_not_found)?
                .integration_responses
                .get_mut(status_code)
                .ok_or_else(integration_response_not_found)?;
            let mut copy = r.clone();
            patch::apply(&mut copy, ops)?;
            *r = copy.clone();
            Ok(copy)
        })
        .await
    }

    pub async fn delete_integration_response(
        &self,
        api_id: &str,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> ApiResult<()> {
        self.edit_rest(api_id, |e| {
            method_mut(&mut e.api, resource_id, http_method)?
                .integration
                .as_mut()
                .ok_or_else(integration_not_found)?
                .integration_responses
                .remove(status_code)
                .map(|_| ())
                .ok_or_else(integration_response_not_found)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_uris() {
        assert!(is_lambda_invocation_uri(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:hello/invocations"
        ));
        assert!(!is_lambda_invocation_uri(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/hello/invocations"
        ));
        assert!(!is_lambda_invocation_uri("https://example.com"));
        assert!(is_lambda_invocation_uri(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}/invocations"
        ));
        assert!(is_lambda_invocation_uri(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${stageVariables.fnArn}/invocations"
        ));
        assert!(is_http_url("https://${stageVariables.host}/pets"));
    }

    #[test]
    fn integration_checks() {
        let base = RestIntegration {
            integration_type: "HTTP_PROXY".into(),
            http_method: Some("GET".into()),
            uri: Some("https://backend.example.com/{proxy}".into()),
            timeout_in_millis: 29_000,
            ..RestIntegration::default()
        };
        check_integration(&base).unwrap();
        let mut i = base.clone();
        i.http_method = None;
        assert_eq!(
            check_integration(&i).unwrap_err().to_string(),
            "Enumeration value for HttpMethod must be non-empty"
        );
        let mut i = base.clone();
        i.uri = Some("ftp://x".into());
        assert!(check_integration(&i).is_err());
        let mut i = base.clone();
        i.timeout_in_millis = 30_000;
        assert!(check_integration(&i).is_err());
        let mut i = base.clone();
        i.integration_type = "AWS_PROXY".into();
        i.http_method = Some("POST".into());
        assert!(check_integration(&i).is_err());
        let mut i = base;
        i.integration_type = "MOCK".into();
        i.http_method = None;
        i.uri = None;
        check_integration(&i).unwrap();
    }
}
