//! REST API stages: each serves one deployment, with stage variables, method settings
//! (throttling per `*/*` or per `{resourcePath}/{METHOD}`, keyed with the path's `/` as `~1`),
//! access log settings and tracing. UpdateStage takes AWS's patch paths.

use std::collections::BTreeMap;

use gatehouse_store::rest_apis::{MethodSetting, RestStage};

use super::deployments::deployment_not_found;
use super::methods::check_http_method;
use super::patch::{self, escape, need_value, PatchKind, PatchOp, Patchable};
use super::tags::check_tag_keys;
use crate::apis::error::{ApiError, ApiResult};
use crate::apis::ApiService;

/// Members of CreateStage.
#[derive(Debug, Clone, Default)]
pub struct RestStageInput {
    pub stage_name: Option<String>,
    pub deployment_id: Option<String>,
    pub description: Option<String>,
    pub cache_cluster_enabled: Option<bool>,
    pub cache_cluster_size: Option<String>,
    pub variables: Option<BTreeMap<String, String>>,
    pub tracing_enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// The paths UpdateStage takes, as AWS lists them.
const STAGE_PATHS: &str = "/deploymentId, /description, /cacheClusterEnabled, /cacheClusterSize, /clientCertificateId, /accessLogSettings, /accessLogSettings/destinationArn, /accessLogSettings/format, /{resourcePath}/{httpMethod}/metrics/enabled, /{resourcePath}/{httpMethod}/logging/dataTrace, /{resourcePath}/{httpMethod}/logging/loglevel, /{resourcePath}/{httpMethod}/throttling/burstLimit /{resourcePath}/{httpMethod}/throttling/rateLimit /{resourcePath}/{httpMethod}/caching/ttlInSeconds, /{resourcePath}/{httpMethod}/caching/enabled, /*/*/metrics/enabled, /*/*/logging/dataTrace, /*/*/logging/loglevel, /*/*/throttling/burstLimit /*/*/throttling/rateLimit /*/*/caching/ttlInSeconds, /*/*/caching/enabled, /variables/{variable_name}, /tracingEnabled";

pub(crate) fn stage_not_found() -> ApiError {
    ApiError::not_found("Invalid stage identifier specified")
}

pub fn check_stage_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad("Stage name only allows a-zA-Z0-9_-"))
    }
}

pub fn check_variables(v: &BTreeMap<String, String>) -> ApiResult<()> {
    for (k, val) in v {
        if k.is_empty() || k.len() > 64 || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ApiError::bad(
                "Stage variable names may only contain alphanumeric characters and underscores",
            ));
        }
        let value_ok = !val.is_empty()
            && val.len() <= 512
            && val
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c));
        if !value_ok {
            return Err(ApiError::bad(
                "Stage variable values must match the regular expression [A-Za-z0-9-._~:/?#&=,]+",
            ));
        }
    }
    Ok(())
}

fn check_cache(enabled: bool) -> ApiResult<()> {
    if enabled {
        Err(ApiError::bad(
            "Stage caches (cacheClusterEnabled) are not supported by Gatehouse",
        ))
    } else {
        Ok(())
    }
}

fn invalid_stage_path(raw: &str) -> ApiError {
    ApiError::bad(format!(
        "Invalid method setting path: {raw}. Must be one of: [{STAGE_PATHS}]"
    ))
}

/// The `methodSettings` key of `/{resourcePath}/{METHOD}`: `*/*` or `~1pets/GET`.
fn setting_key(resource: &str, method: &str, raw: &str) -> ApiResult<String> {
    match (resource, method) {
        ("*", "*") => Ok("*/*".into()),
        (r, m) if r.starts_with('/') => {
            if m != "*" {
                check_http_method(m).map_err(|_| invalid_stage_path(raw))?;
            }
            Ok(format!("{}/{m}", escape(r)))
        }
        _ => Err(invalid_stage_path(raw)),
    }
}

fn read_setting(s: &MethodSetting, group: &str, name: &str) -> Option<Option<String>> {
    Some(match (group, name) {
        ("metrics", "enabled") => s.metrics_enabled.map(|v| v.to_string()),
        ("logging", "dataTrace") => s.data_trace_enabled.map(|v| v.to_string()),
        ("logging", "loglevel") => s.logging_level.clone(),
        ("throttling", "burstLimit") => s.throttling_burst_limit.map(|v| v.to_string()),
        ("throttling", "rateLimit") => s.throttling_rate_limit.map(|v| v.to_string()),
        ("caching", "ttlInSeconds") => s.cache_ttl_in_seconds.map(|v| v.to_string()),
        ("caching", "enabled") => s.caching_enabled.map(|v| v.to_string()),
        _ => return None,
    })
}

fn write_setting(
    s: &mut MethodSetting,
    group: &str,
    name: &str,
    raw: &str,
    v: &str,
) -> ApiResult<()> {
    match (group, name) {
        ("metrics", "enabled") => s.metrics_enabled = Some(patch::parse_bool(raw, v)?),
        ("logging", "dataTrace") => s.data_trace_enabled = Some(patch::parse_bool(raw, v)?),
        ("logging", "loglevel") => {
            if !matches!(v, "OFF" | "ERROR" | "INFO") {
                return Err(ApiError::bad(format!(
                    "Invalid logging level specified: {v}. Valid values are OFF, ERROR and INFO"
                )));
            }
            s.logging_level = Some(v.to_string());
        }
        ("throttling", "burstLimit") => {
            let n = patch::parse_int(raw, v)?;
            if n < 0 {
                return Err(ApiError::bad("Burst limit must be a non-negative integer"));
            }
            s.throttling_burst_limit = Some(n);
        }
        ("throttling", "rateLimit") => {
            let n = patch::parse_double(raw, v)?;
            if n < 0.0 {
                return Err(ApiError::bad("Rate limit must be a non-negative number"));
            }
            s.throttling_rate_limit = Some(n);
        }
        ("caching", "ttlInSeconds") => {
            let n = patch::parse_int(raw, v)?;
            if !(0..=3600).contains(&n) {
                return Err(ApiError::bad(
                    "Cache TTL must be between 0 and 3600 seconds",
                ));
            }
            s.cache_ttl_in_seconds = Some(n);
        }
        ("caching", "enabled") => {
            let on = patch::parse_bool(raw, v)?;
            check_cache(on)?;
            s.caching_enabled = Some(on);
        }
        _ => return Err(invalid_stage_path(raw)),
    }
    Ok(())
}

impl Patchable for RestStage {
    fn patch_paths(&self) -> &'static str {
        STAGE_PATHS
    }

    fn read(&self, path: &[String], raw: &str) -> ApiResult<Option<String>> {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        Ok(match p.as_slice() {
            ["deploymentId"] => Some(self.deployment_id.clone()),
            ["description"] => self.description.clone(),
            ["tracingEnabled"] => Some(self.tracing_enabled.to_string()),
            ["cacheClusterEnabled"] => Some(self.cache_cluster_enabled.to_string()),
            ["cacheClusterSize"] => self.cache_cluster_size.clone(),
            ["accessLogSettings", "destinationArn"] => self.access_log_destination.clone(),
            ["accessLogSettings", "format"] => self.access_log_format.clone(),
            ["variables", k] => self.variables.get(*k).cloned(),
            [resource, method, group, name] => {
                let key = setting_key(resource, method, raw)?;
                match self.method_settings.get(&key) {
                    None => None,
                    Some(s) => {
                        read_setting(s, group, name).ok_or_else(|| invalid_stage_path(raw))?
                    }
                }
            }
            _ => return Err(invalid_stage_path(raw)),
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
            // Checked against the API's deployments by the caller.
            (["deploymentId"], Replace) => {
                self.deployment_id = need_value(op, raw, value)?.to_string()
            }
            (["description"], Replace) => {
                self.description = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["tracingEnabled"], Replace) => {
                self.tracing_enabled = patch::parse_bool(raw, need_value(op, raw, value)?)?
            }
            (["cacheClusterEnabled"], Replace) => {
                let on = patch::parse_bool(raw, need_value(op, raw, value)?)?;
                check_cache(on)?;
                self.cache_cluster_enabled = on;
            }
            (["cacheClusterSize"], Replace) => {
                self.cache_cluster_size = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["accessLogSettings"], Remove) => {
                self.access_log_destination = None;
                self.access_log_format = None;
            }
            (["accessLogSettings", "destinationArn"], Replace) => {
                self.access_log_destination = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["accessLogSettings", "format"], Replace) => {
                self.access_log_format = value.filter(|v| !v.is_empty()).map(str::to_string)
            }
            (["variables", k], Add | Replace) => {
                let v = need_value(op, raw, value)?;
                let one = BTreeMap::from([(k.to_string(), v.to_string())]);
                check_variables(&one)?;
                self.variables.extend(one);
            }
            (["variables", k], Remove) => {
                self.variables.remove(*k);
            }
            // `op=remove,path=/*/*` or `/~1pets/GET`: drops the method setting.
            ([resource, method], Remove) => {
                let key = setting_key(resource, method, raw)?;
                if self.method_settings.remove(&key).is_none() {
                    return Err(ApiError::bad(format!(
                        "Cannot remove method setting {key} because there is no method setting for this method "
                    )));
                }
            }
            ([resource, method, group, name], Add | Replace) => {
                let key = setting_key(resource, method, raw)?;
                let v = need_value(op, raw, value)?;
                let mut s = self.method_settings.get(&key).cloned().unwrap_or_default();
                write_setting(&mut s, group, name, raw, v)?;
                self.method_settings.insert(key, s);
            }
            (
                ["deploymentId"
                | "description"
                | "tracingEnabled"
                | "cacheClusterEnabled"
                | "cacheClusterSize"
                | "accessLogSettings"]
                | ["accessLogSettings", "destinationArn" | "format"]
                | ["variables", _]
                | [_, _, _, _],
                _,
            ) => return Err(patch::unsupported_op(op, raw)),
            _ => return Err(invalid_stage_path(raw)),
        }
        Ok(())
    }
}

impl ApiService {
    pub async fn create_rest_stage(
        &self,
        api_id: &str,
        input: RestStageInput,
    ) -> ApiResult<RestStage> {
        let name = input
            .stage_name
            .ok_or_else(|| ApiError::bad("Stage name must be non-empty"))?;
        check_stage_name(&name)?;
        let deployment_id = input
            .deployment_id
            .ok_or_else(|| ApiError::bad("Deployment id must be non-empty"))?;
        let variables = input.variables.unwrap_or_default();
        check_variables(&variables)?;
        check_cache(input.cache_cluster_enabled.unwrap_or(false))?;
        let tags = input.tags.unwrap_or_default();
        check_tag_keys(&tags)?;
        self.edit_rest(api_id, |e| {
            if !e.api.deployments.iter().any(|d| d.id == deployment_id) {
                return Err(deployment_not_found());
            }
            if e.api.stages.iter().any(|s| s.name == name) {
                return Err(ApiError::conflict("Stage already exists"));
            }
            let s = RestStage {
                name,
                deployment_id,
                description: input.description.filter(|d| !d.is_empty()),
                variables,
                tracing_enabled: input.tracing_enabled.unwrap_or(false),
                cache_cluster_size: input.cache_cluster_size,
                created: e.now,
                last_updated: e.now,
                tags,
                ..RestStage::default()
            };
            e.api.stages.push(s.clone());
            Ok(s)
        })
        .await
    }

    /// The API's stages, or only those serving `deployment_id`.
    pub async fn get_rest_stages(
        &self,
        api_id: &str,
        deployment_id: Option<&str>,
    ) -> ApiResult<Vec<RestStage>> {
        let api = self.load_rest(api_id).await?;
        Ok(api
            .stages
            .into_iter()
            .filter(|s| deployment_id.is_none_or(|d| s.deployment_id == d))
            .collect())
    }

    pub async fn get_rest_stage(&self, api_id: &str, name: &str) -> ApiResult<RestStage> {
        let api = self.load_rest(api_id).await?;
        api.stages
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(stage_not_found)
    }

    pub async fn update_rest_stage(
        &self,
        api_id: &str,
        name: &str,
        ops: &[PatchOp],
    ) -> ApiResult<RestStage> {
        self.edit_rest(api_id, |e| {
            let now = e.now;
            let deployments: Vec<String> = e.api.deployments.iter().map(|d| d.id.clone()).collect();
            let s = e
                .api
                .stages
                .iter_mut()
                .find(|s| s.name == name)
                .ok_or_else(stage_not_found)?;
            let mut copy = s.clone();
            patch::apply(&mut copy, ops)?;
            if !deployments.contains(&copy.deployment_id) {
                return Err(deployment_not_found());
            }
            copy.last_updated = now;
            *s = copy.clone();
            Ok(copy)
        })
        .await
    }

    /// Refused while custom domain names map to the stage, as for HTTP APIs.
    pub async fn delete_rest_stage(&self, api_id: &str, name: &str) -> ApiResult<()> {
        self.check_unmapped(api_id, Some(name)).await?;
        self.edit_rest(api_id, |e| {
            if !e.api.stages.iter().any(|s| s.name == name) {
                return Err(stage_not_found());
            }
            e.api.stages.retain(|s| s.name != name);
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> RestStage {
        RestStage {
            name: "prod".into(),
            deployment_id: "d1".into(),
            ..RestStage::default()
        }
    }

    fn op(kind: PatchKind, path: &str, value: Option<&str>) -> PatchOp {
        PatchOp::new(kind, path, value)
    }

    #[test]
    fn method_settings_by_path() {
        let mut s = stage();
        patch::apply(
            &mut s,
            &[
                op(PatchKind::Replace, "/*/*/throttling/rateLimit", Some("100")),
                op(PatchKind::Replace, "/*/*/throttling/burstLimit", Some("50")),
                op(
                    PatchKind::Replace,
                    "/~1pets~1{id}/GET/throttling/burstLimit",
                    Some("5"),
                ),
                op(
                    PatchKind::Replace,
                    "/~1pets/*/logging/loglevel",
                    Some("INFO"),
                ),
                op(
                    PatchKind::Replace,
                    "/variables/backend",
                    Some("https://b.example.com"),
                ),
                op(PatchKind::Replace, "/description", Some("d")),
                op(PatchKind::Replace, "/tracingEnabled", Some("true")),
                op(
                    PatchKind::Replace,
                    "/accessLogSettings/format",
                    Some("$context.requestId"),
                ),
            ],
        )
        .unwrap();
        assert_eq!(s.method_settings["*/*"].throttling_rate_limit, Some(100.0));
        assert_eq!(s.method_settings["*/*"].throttling_burst_limit, Some(50));
        assert_eq!(
            s.method_settings["~1pets~1{id}/GET"].throttling_burst_limit,
            Some(5)
        );
        assert_eq!(
            s.method_settings["~1pets/*"].logging_level.as_deref(),
            Some("INFO")
        );
        assert_eq!(s.variables["backend"], "https://b.example.com");
        assert!(s.tracing_enabled);
        patch::apply(
            &mut s,
            &[
                op(PatchKind::Remove, "/*/*", None),
                op(PatchKind::Remove, "/variables/backend", None),
                op(PatchKind::Remove, "/accessLogSettings", None),
            ],
        )
        .unwrap();
        assert!(!s.method_settings.contains_key("*/*"));
        assert!(s.variables.is_empty());
        assert_eq!(s.access_log_format, None);
        let e = patch::apply(&mut s, &[op(PatchKind::Remove, "/*/*", None)]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Cannot remove method setting */*"));
    }

    #[test]
    fn refused_stage_patches() {
        let mut s = stage();
        for (kind, path, value) in [
            (
                PatchKind::Replace,
                "/*/*/throttling/rateLimit",
                Some("fast"),
            ),
            (PatchKind::Replace, "/*/*/throttling/burstLimit", Some("-1")),
            (PatchKind::Replace, "/*/*/throttling/other", Some("1")),
            (
                PatchKind::Replace,
                "/pets/GET/throttling/rateLimit",
                Some("1"),
            ),
            (
                PatchKind::Replace,
                "/~1pets/FETCH/throttling/rateLimit",
                Some("1"),
            ),
            (PatchKind::Replace, "/variables/bad name", Some("x")),
            (PatchKind::Replace, "/variables/ok", Some("white space")),
            (PatchKind::Replace, "/nope", Some("x")),
            (PatchKind::Replace, "/cacheClusterEnabled", Some("true")),
            (PatchKind::Add, "/description", Some("x")),
        ] {
            assert!(
                patch::apply(&mut s, &[op(kind, path, value)]).is_err(),
                "{path}"
            );
        }
        let e = patch::apply(&mut s, &[op(PatchKind::Replace, "/nope", Some("x"))]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Invalid method setting path: /nope. Must be one of: ["));
    }

    #[test]
    fn names_and_variables() {
        check_stage_name("prod_1-a").unwrap();
        assert!(check_stage_name("").is_err());
        assert!(check_stage_name("a b").is_err());
        check_variables(&BTreeMap::from([(
            "url".into(),
            "https://x.example.com/a?b=c".into(),
        )]))
        .unwrap();
        assert!(check_variables(&BTreeMap::from([("u".into(), "".into())])).is_err());
    }
}
