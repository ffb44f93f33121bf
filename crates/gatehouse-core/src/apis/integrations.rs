//! Integrations: where a route sends its requests. HTTP APIs proxy only: HTTP_PROXY to a URL,
//! AWS_PROXY to a Lambda function.

use std::collections::BTreeMap;

use gatehouse_store::apis::Integration;
use serde_json::Value;

use super::edit::paginate;
use super::error::{ApiError, ApiResult};
use super::ApiService;

#[derive(Debug, Clone, Default)]
pub struct IntegrationInput {
    pub integration_type: Option<String>,
    pub integration_uri: Option<String>,
    pub integration_method: Option<String>,
    pub payload_format_version: Option<String>,
    pub timeout_in_millis: Option<i64>,
    pub connection_type: Option<String>,
    pub description: Option<String>,
    pub request_parameters: Option<BTreeMap<String, String>>,
    pub response_parameters: Option<BTreeMap<String, BTreeMap<String, String>>>,
    pub tls_config: Option<Value>,
}

/// A Lambda function named by ARN (`arn:aws:lambda:...:function:f` or the apigateway
/// invocation form).
fn is_lambda_arn(uri: &str) -> bool {
    uri.starts_with("arn:") && uri.contains(":lambda:")
}

fn is_http_url(uri: &str) -> bool {
    // The whole URL may come from a stage variable, resolved per stage at request time.
    uri.starts_with("${stageVariables.")
        || ((uri.starts_with("http://") || uri.starts_with("https://"))
            && uri.split("://").nth(1).is_some_and(|rest| {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                !host.is_empty()
            }))
}

impl IntegrationInput {
    /// What quick create makes from a `target`.
    pub fn quick(target: &str) -> Self {
        if is_lambda_arn(target) {
            IntegrationInput {
                integration_type: Some("AWS_PROXY".into()),
                integration_uri: Some(target.into()),
                payload_format_version: Some("2.0".into()),
                ..Self::default()
            }
        } else {
            IntegrationInput {
                integration_type: Some("HTTP_PROXY".into()),
                integration_uri: Some(target.into()),
                integration_method: Some("ANY".into()),
                payload_format_version: Some("1.0".into()),
                ..Self::default()
            }
        }
    }

    /// A new integration from CreateIntegration's members.
    pub fn into_new(self, id: String) -> ApiResult<Integration> {
        let kind = self
            .integration_type
            .clone()
            .ok_or_else(|| ApiError::bad("IntegrationType is required"))?;
        let mut i = Integration {
            id,
            integration_type: kind,
            payload_format_version: String::new(),
            timeout_in_millis: 30_000,
            connection_type: "INTERNET".into(),
            ..Integration::default()
        };
        self.apply(&mut i)?;
        Ok(i)
    }

    /// Applies the given members to `i` and checks the result.
    pub fn apply(self, i: &mut Integration) -> ApiResult<()> {
        if let Some(t) = self.integration_type {
            i.integration_type = t;
        }
        if let Some(u) = self.integration_uri {
            i.integration_uri = Some(u);
        }
        if let Some(m) = self.integration_method {
            i.integration_method = Some(m.to_ascii_uppercase());
        }
        if let Some(p) = self.payload_format_version {
            i.payload_format_version = p;
        }
        if let Some(t) = self.timeout_in_millis {
            i.timeout_in_millis = t;
        }
        if let Some(c) = self.connection_type {
            i.connection_type = c;
        }
        if let Some(d) = self.description {
            i.description = Some(d);
        }
        if let Some(p) = self.request_parameters {
            i.request_parameters = p;
        }
        if let Some(p) = self.response_parameters {
            i.response_parameters = p;
        }
        if let Some(t) = self.tls_config {
            i.tls_config = Some(t);
        }
        check(i)
    }
}

fn check(i: &mut Integration) -> ApiResult<()> {
    let uri = i.integration_uri.clone().unwrap_or_default();
    match i.integration_type.as_str() {
        "HTTP_PROXY" => {
            if !is_http_url(&uri) {
                return Err(ApiError::bad(format!(
                    "Invalid integration URI specified: '{uri}'. An HTTP_PROXY integration needs an http(s) URL."
                )));
            }
            if i.integration_method.is_none() {
                i.integration_method = Some("ANY".into());
            }
            if i.payload_format_version.is_empty() {
                i.payload_format_version = "1.0".into();
            }
            if i.payload_format_version != "1.0" {
                return Err(ApiError::bad(
                    "HTTP_PROXY integrations support only payloadFormatVersion 1.0",
                ));
            }
        }
        "AWS_PROXY" => {
            if !is_lambda_arn(&uri) {
                return Err(ApiError::bad(format!(
                    "Invalid integration URI specified: '{uri}'. An AWS_PROXY integration needs a Lambda function ARN."
                )));
            }
            if i.payload_format_version.is_empty() {
                i.payload_format_version = "2.0".into();
            }
            if !matches!(i.payload_format_version.as_str(), "1.0" | "2.0") {
                return Err(ApiError::bad("payloadFormatVersion must be 1.0 or 2.0"));
            }
        }
        "HTTP" | "AWS" | "MOCK" => {
            return Err(ApiError::bad(format!(
                "Integration type {} is not supported for HTTP APIs; use HTTP_PROXY or AWS_PROXY",
                i.integration_type
            )))
        }
        other => {
            return Err(ApiError::bad(format!(
                "Invalid integration type specified: {other}"
            )))
        }
    }
    if let Some(m) = &i.integration_method {
        const METHODS: &[&str] = &[
            "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
        ];
        if !METHODS.contains(&m.as_str()) {
            return Err(ApiError::bad(format!("Invalid integration method: {m}")));
        }
    }
    if !(50..=30_000).contains(&i.timeout_in_millis) {
        return Err(ApiError::bad(
            "timeoutInMillis must be between 50 and 30000",
        ));
    }
    if i.connection_type != "INTERNET" {
        return Err(ApiError::bad(
            "Only connectionType INTERNET is supported (VPC links are not)",
        ));
    }
    for key in i.request_parameters.keys() {
        let ok = ["append:", "overwrite:", "remove:"].iter().any(|p| {
            key.strip_prefix(p).is_some_and(|rest| {
                rest.starts_with("header.") || rest.starts_with("querystring.") || rest == "path"
            })
        });
        if !ok {
            return Err(ApiError::bad(format!(
                "Invalid mapping expression specified: {key}"
            )));
        }
    }
    for status in i.response_parameters.keys() {
        if !(status.len() == 3 && status.chars().all(|c| c.is_ascii_digit())) {
            return Err(ApiError::bad(format!(
                "Invalid status code in responseParameters: {status}"
            )));
        }
    }
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Invalid Integration identifier specified {id}"))
}

impl ApiService {
    pub async fn create_integration(
        &self,
        api_id: &str,
        input: IntegrationInput,
    ) -> ApiResult<Integration> {
        self.edit(api_id, |e| {
            let i = input.into_new(e.new_child_id())?;
            e.api.integrations.push(i.clone());
            e.routing_changed = true;
            Ok(i)
        })
        .await
    }

    pub async fn get_integration(&self, api_id: &str, id: &str) -> ApiResult<Integration> {
        let api = self.load(api_id).await?;
        api.integrations
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| not_found(id))
    }

    pub async fn list_integrations(
        &self,
        api_id: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> ApiResult<(Vec<Integration>, Option<String>)> {
        let api = self.load(api_id).await?;
        paginate(&api.integrations, max_results, next_token)
    }

    pub async fn update_integration(
        &self,
        api_id: &str,
        id: &str,
        input: IntegrationInput,
    ) -> ApiResult<Integration> {
        self.edit(api_id, |e| {
            let i = e
                .api
                .integrations
                .iter_mut()
                .find(|i| i.id == id)
                .ok_or_else(|| not_found(id))?;
            input.apply(i)?;
            let out = i.clone();
            e.routing_changed = true;
            Ok(out)
        })
        .await
    }

    pub async fn delete_integration(&self, api_id: &str, id: &str) -> ApiResult<()> {
        self.edit(api_id, |e| {
            let pos = e
                .api
                .integrations
                .iter()
                .position(|i| i.id == id)
                .ok_or_else(|| not_found(id))?;
            let target = format!("integrations/{id}");
            if let Some(r) = e
                .api
                .routes
                .iter()
                .find(|r| r.target.as_deref() == Some(&target))
            {
                return Err(ApiError::conflict(format!(
                    "Integration {id} cannot be deleted: route '{}' targets it",
                    r.route_key
                )));
            }
            e.api.integrations.remove(pos);
            e.routing_changed = true;
            Ok(())
        })
        .await
    }
}
