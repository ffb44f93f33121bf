//! The compiled, immutable view of every deployed stage, and of the custom domain names
//! mapped to them, that requests read. A new one is built from
//! `ApiService::deployed_stages()`, `deployed_rest_stages()` and `served_api_mappings()` on
//! every change and swapped in atomically; requests in flight keep the `Arc` of the one they
//! started on. REST API stages compile into the same `CompiledStage` (rest.rs), flagged `rest`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::apis::rest::DeployedRestStage;
use gatehouse_core::apis::DeployedStage;
use gatehouse_store::apis::{Cors, Integration, RouteSettings};
use gatehouse_store::domains::ApiMapping;

use crate::domains::DomainTable;
use crate::router::RouteTable;

/// Every deployed API, by id, and the custom domain names mapped to their stages.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub apis: HashMap<String, CompiledApi>,
    pub domains: DomainTable,
    /// API keys and their usage plans (api_keys.rs); set by `Gateway::reload`.
    pub api_keys: Arc<crate::api_keys::KeyTable>,
}

#[derive(Debug, Default)]
pub struct CompiledApi {
    pub id: String,
    /// A REST API (API Gateway v1): stages always in the path, AWS's REST error shapes.
    pub rest: bool,
    /// `{apiId}.execute-api.*` answers 403; custom domains still serve the API.
    pub disable_execute_api_endpoint: bool,
    pub default_stage: Option<Arc<CompiledStage>>,
    pub stages: HashMap<String, Arc<CompiledStage>>,
}

#[derive(Debug)]
pub struct CompiledStage {
    pub api_id: String,
    pub name: String,
    /// A REST API's stage: its routes carry `rest` methods.
    pub rest: bool,
    pub cors: Option<Cors>,
    pub table: RouteTable,
    pub routes: Vec<CompiledRoute>,
    pub stage_variables: HashMap<String, String>,
    pub default_route_settings: RouteSettings,
    pub access_log: Option<Arc<crate::access_log::AccessLog>>,
}

#[derive(Debug)]
pub struct CompiledRoute {
    pub route_key: String,
    pub integration: Option<Arc<Integration>>,
    pub authorizer: Option<Arc<JwtAuthorizer>>,
    pub scopes: Vec<String>,
    pub settings: RouteSettings,
    pub limiter: Option<crate::throttle::RouteLimiter>,
    /// A REST API method: its authorizer, API key and integration details (rest.rs).
    pub rest: Option<Arc<crate::rest::RestMethod>>,
}

/// Where a JWT authorizer finds its token.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentitySource {
    /// Lower-cased header name.
    Header(String),
    QueryString(String),
}

#[derive(Debug)]
pub struct JwtAuthorizer {
    pub id: String,
    pub name: String,
    pub identity_source: Vec<IdentitySource>,
    pub issuer: String,
    pub audience: Vec<String>,
}

impl IdentitySource {
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some(h) = s.strip_prefix("$request.header.") {
            return Some(Self::Header(h.to_ascii_lowercase()));
        }
        s.strip_prefix("$request.querystring.")
            .map(|q| Self::QueryString(q.to_string()))
    }
}

/// The default integration timeout, as AWS's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Snapshot {
    /// Compiles every stage. A stage whose routes cannot be compiled is left out (logged);
    /// the others are still served.
    pub fn compile(stages: &[DeployedStage]) -> Self {
        Self::compile_with_domains(stages, &[])
    }

    /// Compiles every stage, and the API mappings of custom domain names pointing at them.
    pub fn compile_with_domains(stages: &[DeployedStage], mappings: &[ApiMapping]) -> Self {
        Self::compile_all(stages, &[], mappings, "")
    }

    /// Compiles every HTTP API and REST API stage, and the API mappings of custom domain
    /// names pointing at them. `public_url` makes our pools' issuers (Cognito authorizers
    /// name pools by ARN).
    pub fn compile_all(
        stages: &[DeployedStage],
        rest_stages: &[DeployedRestStage],
        mappings: &[ApiMapping],
        public_url: &str,
    ) -> Self {
        let mut apis: HashMap<String, CompiledApi> = HashMap::new();
        for ds in stages {
            let stage = match compile_stage(ds) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    tracing::warn!(api = %ds.api.id, stage = %ds.stage.name, error = %e, "stage not served");
                    continue;
                }
            };
            let api = apis
                .entry(ds.api.id.clone())
                .or_insert_with(|| CompiledApi {
                    id: ds.api.id.clone(),
                    disable_execute_api_endpoint: ds.api.disable_execute_api_endpoint,
                    ..Default::default()
                });
            if ds.stage.name == "$default" {
                api.default_stage = Some(stage);
            } else {
                api.stages.insert(ds.stage.name.clone(), stage);
            }
        }
        for ds in rest_stages {
            let api = apis
                .entry(ds.api.id.clone())
                .or_insert_with(|| CompiledApi {
                    id: ds.api.id.clone(),
                    rest: true,
                    disable_execute_api_endpoint: ds.api.disable_execute_api_endpoint,
                    ..Default::default()
                });
            if !api.rest {
                tracing::warn!(api = %ds.api.id, "a REST API shares its id with an HTTP API; not served");
                continue;
            }
            let stage = crate::rest::compile_stage(ds, public_url);
            api.stages.insert(ds.stage.name.clone(), Arc::new(stage));
        }
        let domains = DomainTable::compile(mappings, &apis);
        Self {
            apis,
            domains,
            api_keys: Arc::default(),
        }
    }
}

fn compile_stage(ds: &DeployedStage) -> Result<CompiledStage, crate::router::InvalidRouteKey> {
    let snap = &ds.snapshot;
    let table = RouteTable::compile(snap.routes.iter().map(|r| r.route_key.as_str()))?;
    let integrations: HashMap<&str, Arc<Integration>> = snap
        .integrations
        .iter()
        .map(|i| (i.id.as_str(), Arc::new(i.clone())))
        .collect();
    let authorizers: HashMap<&str, Arc<JwtAuthorizer>> = snap
        .authorizers
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                Arc::new(JwtAuthorizer {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    identity_source: a
                        .identity_source
                        .iter()
                        .filter_map(|s| IdentitySource::parse(s))
                        .collect(),
                    issuer: a.jwt_issuer.clone().unwrap_or_default(),
                    audience: a.jwt_audience.clone(),
                }),
            )
        })
        .collect();
    let routes = snap
        .routes
        .iter()
        .map(|r| {
            let integration = r
                .target
                .as_deref()
                .and_then(|t| t.strip_prefix("integrations/"))
                .and_then(|id| integrations.get(id).cloned());
            let authorizer = if r.authorization_type.eq_ignore_ascii_case("JWT") {
                r.authorizer_id
                    .as_deref()
                    .and_then(|id| authorizers.get(id).cloned())
            } else {
                None
            };
            let mut settings = ds.stage.default_route_settings.clone();
            if let Some(s) = ds.stage.route_settings.get(&r.route_key) {
                if s.throttling_burst_limit.is_some() {
                    settings.throttling_burst_limit = s.throttling_burst_limit;
                }
                if s.throttling_rate_limit.is_some() {
                    settings.throttling_rate_limit = s.throttling_rate_limit;
                }
            }
            CompiledRoute {
                route_key: r.route_key.clone(),
                integration,
                // A JWT route whose authorizer is gone must not become open.
                authorizer: authorizer.or_else(|| {
                    r.authorization_type.eq_ignore_ascii_case("JWT").then(|| {
                        Arc::new(JwtAuthorizer {
                            id: String::new(),
                            name: String::new(),
                            identity_source: Vec::new(),
                            issuer: String::new(),
                            audience: Vec::new(),
                        })
                    })
                }),
                scopes: r.authorization_scopes.clone(),
                limiter: crate::throttle::RouteLimiter::from_settings(
                    &settings,
                    ds.stage
                        .stage_variables
                        .get(crate::throttle::CLAIM_VARIABLE)
                        .map(String::as_str),
                ),
                settings,
                rest: None,
            }
        })
        .collect();
    Ok(CompiledStage {
        api_id: ds.api.id.clone(),
        name: ds.stage.name.clone(),
        rest: false,
        cors: snap.cors.clone().or_else(|| ds.api.cors.clone()),
        table,
        routes,
        stage_variables: ds
            .stage
            .stage_variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        default_route_settings: ds.stage.default_route_settings.clone(),
        access_log: crate::access_log::AccessLog::from_settings(
            ds.stage.access_log_destination.as_deref(),
            ds.stage.access_log_format.as_deref(),
        ),
    })
}

impl CompiledApi {
    /// The stage serving `path` and the path within it: a named stage by its first segment,
    /// else `$default` at the root.
    pub fn stage_for<'p>(&self, path: &'p str) -> Option<(Arc<CompiledStage>, &'p str)> {
        let body = path.strip_prefix('/').unwrap_or(path);
        let (first, rest_start) = match body.find('/') {
            Some(i) => (&body[..i], i + 1),
            None => (body, body.len() + 1),
        };
        if !first.is_empty() {
            let decoded = percent_encoding::percent_decode_str(first).decode_utf8_lossy();
            if let Some(stage) = self.stages.get(decoded.as_ref()) {
                let rest = path.get(rest_start..).unwrap_or("");
                let rest = if rest.is_empty() { "/" } else { rest };
                return Some((Arc::clone(stage), rest));
            }
        }
        self.default_stage.as_ref().map(|s| (Arc::clone(s), path))
    }
}
