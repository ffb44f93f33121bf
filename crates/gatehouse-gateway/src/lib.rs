//! The Gatehouse data plane: every deployed HTTP API and REST API served from a compiled
//! snapshot, one request at a time through route → authorize → API key → throttle →
//! integrate → log, each a small function over the request's context. REST APIs share the
//! pipeline; their routes carry a REST flavour (rest.rs, cognito.rs, api_keys.rs).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

pub mod access_log;
pub mod api_keys;
pub mod client;
pub mod cognito;
pub mod cors;
pub mod domains;
pub mod error;
pub mod jwks;
pub mod jwt;
pub mod lambda;
pub mod mapping;
pub mod proxy;
pub mod rest;
pub mod router;
pub mod shared_limits;
pub mod snapshot;
pub mod throttle;
pub mod upstream;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_core::apis::rest::DeployedRestStage;
use gatehouse_core::apis::{ApiService, DeployedStage};
use gatehouse_core::Directory;
use gatehouse_store::domains::ApiMapping;
use http::{header, HeaderName, HeaderValue, Request};
use http_body_util::BodyExt;
use rand::RngCore;
use tracing::Instrument;

use crate::client::HttpClient;
use crate::error::Reject;
use crate::jwks::JwksCache;
use crate::jwt::{Authorized, Denied};
use crate::snapshot::{CompiledStage, Snapshot, DEFAULT_TIMEOUT};

/// Largest request body passed on, as API Gateway's payload limit.
const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const X_AMZ_APIGW_ID: HeaderName = HeaderName::from_static("x-amz-apigw-id");
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");

pub const MAX_PAYLOAD: u64 = 10 * 1024 * 1024;
/// Largest request line plus headers, as API Gateway's.
pub const MAX_HEAD: usize = 10 * 1024;

/// Where the data plane reaches what is outside it.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// The Lambda Invoke API's base URL (`AWS_ENDPOINT_URL_LAMBDA`).
    pub lambda_endpoint: Option<String>,
    /// The account id in Lambda events.
    pub account_id: String,
}

pub struct Gateway {
    config: GatewayConfig,
    directory: Arc<Directory>,
    snapshot: ArcSwap<Snapshot>,
    client: HttpClient,
    jwks: JwksCache,
    verified: jwt::VerifiedTokens,
    /// API keys' buckets and counters, kept across snapshots and flushed to the store.
    usage: api_keys::UsageState,
    /// Route limits shared between nodes through Redis (`--redis-url`); unset: each node's own.
    shared_limits: std::sync::OnceLock<Arc<shared_limits::SharedLimits>>,
}

/// What the pipeline learns about a request as it goes.
#[derive(Default)]
struct Ctx {
    request_id: String,
    stage: Option<Arc<CompiledStage>>,
    /// The path within the stage.
    stage_path: String,
    route: Option<usize>,
    path_parameters: Vec<(String, String)>,
    auth: Option<Authorized>,
    origin: Option<HeaderValue>,
    host: Option<HeaderValue>,
    /// The custom domain name the request came through (lower case, no port); `None` on the
    /// `{apiId}.execute-api` host.
    domain_name: Option<String>,
    client_ip: Option<IpAddr>,
    /// Answered as a CORS preflight (its headers are already set).
    preflight: bool,
    /// A REST API's request: REST error shapes and request ids (`request_id` is then a UUID).
    rest: bool,
    /// REST APIs' `extendedRequestId` (`x-amz-apigw-id`).
    extended_request_id: Option<String>,
    /// The API key a REST method with `apiKeyRequired` was let through with, and its value
    /// (`$context.identity.apiKeyId` / `apiKey`).
    api_key: Option<(api_keys::KeyUse, String)>,
}

impl Ctx {
    fn route(&self) -> Option<&snapshot::CompiledRoute> {
        self.stage.as_ref()?.routes.get(self.route?)
    }
}

/// An id shaped like API Gateway's (`apigw-requestid`).
fn request_id() -> String {
    let mut b = [0u8; 11];
    rand::thread_rng().fill_bytes(&mut b);
    STANDARD.encode(b)
}

/// The API id of a `{apiId}.execute-api.{anything}` host.
pub fn api_id_of_host(host: &str) -> Option<&str> {
    let (id, rest) = host.split_once('.')?;
    let rest = rest.get(..12)?;
    (rest.eq_ignore_ascii_case("execute-api.") && !id.is_empty()).then_some(id)
}

fn host_of<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
}

/// Whether a request names an API by its `{apiId}.execute-api` host (see
/// `Gateway::addresses_an_api` for custom domain names too).
pub fn addresses_an_api<B>(req: &Request<B>) -> bool {
    host_of(req).and_then(api_id_of_host).is_some()
}

impl Gateway {
    pub fn new(
        directory: Arc<Directory>,
        config: GatewayConfig,
    ) -> Result<Arc<Self>, rustls::Error> {
        let client = client::build()?;
        Ok(Arc::new(Self {
            config,
            directory,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            jwks: JwksCache::new(client.clone()),
            verified: jwt::VerifiedTokens::default(),
            usage: api_keys::UsageState::default(),
            shared_limits: std::sync::OnceLock::new(),
            client,
        }))
    }

    /// Counts route limits in Redis from now on, shared with every node using it
    /// (shared_limits.rs). A second call changes nothing.
    pub fn share_limits(&self, shared: Arc<shared_limits::SharedLimits>) {
        let _ = self.shared_limits.set(shared);
    }

    /// The client integrations use: the data-plane thread's own (`client::set_thread_client`),
    /// else the shared one.
    fn client(&self) -> HttpClient {
        client::thread_client().unwrap_or_else(|| self.client.clone())
    }

    /// Whether a request names an API by its host: `{apiId}.execute-api.*` or a custom domain
    /// name with mappings (else the listener's own paths, like `/health`, may answer it).
    pub fn addresses_an_api<B>(&self, req: &Request<B>) -> bool {
        host_of(req).is_some_and(|h| {
            api_id_of_host(h).is_some() || self.snapshot.load().domains.lookup(h).is_some()
        })
    }

    /// Compiles the deployed stages and swaps them in; requests in flight finish on the old.
    pub fn install(&self, stages: &[DeployedStage]) {
        self.install_with_domains(stages, &[]);
    }

    /// Compiles the deployed stages and the custom domains' API mappings, and swaps them in
    /// together.
    pub fn install_with_domains(&self, stages: &[DeployedStage], mappings: &[ApiMapping]) {
        self.install_all(stages, &[], mappings);
    }

    /// Compiles the deployed HTTP API and REST API stages and the custom domains' API
    /// mappings, and swaps them in together.
    pub fn install_all(
        &self,
        stages: &[DeployedStage],
        rest_stages: &[DeployedRestStage],
        mappings: &[ApiMapping],
    ) {
        self.snapshot.store(Arc::new(Snapshot::compile_all(
            stages,
            rest_stages,
            mappings,
            &self.directory.config().public_url,
        )));
    }

    /// Loads and installs what is deployed now; the number of stages served.
    pub async fn reload(&self, apis: &ApiService) -> gatehouse_core::Result<usize> {
        let stages = apis.deployed_stages().await?;
        let rest_stages = apis.deployed_rest_stages().await?;
        let mappings = apis.served_api_mappings().await?;
        let keys = apis.served_api_keys().await?;
        let _flush = self.usage.flush.lock().await;
        let counts = apis
            .usage_counts_since(api_keys::stored_since(apis.now()))
            .await?;
        let mut snapshot = Snapshot::compile_all(
            &stages,
            &rest_stages,
            &mappings,
            &self.directory.config().public_url,
        );
        let authorizer_sourced = rest_stages
            .iter()
            .filter(|ds| {
                ds.snapshot
                    .api_key_source
                    .eq_ignore_ascii_case("AUTHORIZER")
            })
            .map(|ds| (ds.api.id.clone(), ds.stage.name.clone()));
        snapshot.api_keys = Arc::new(
            self.usage
                .compile(&keys, &counts)
                .with_authorizer_sourced(authorizer_sourced),
        );
        self.snapshot.store(Arc::new(snapshot));
        Ok(stages.len() + rest_stages.len())
    }

    /// Writes the API keys' counts to the store's usage counters (GetUsage, quotas after a
    /// restart); counts that could not be written wait for the next flush.
    pub async fn flush_usage(&self, apis: &ApiService) {
        let _flush = self.usage.flush.lock().await;
        let (counts, taken) = self.usage.take_pending();
        if counts.is_empty() {
            return;
        }
        let written = match apis.record_usage(&counts).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "writing API key usage failed; retrying");
                false
            }
        };
        api_keys::UsageState::finish(taken, written);
    }

    /// Re-reads the stored usage counters, so quotas see what other nodes counted.
    pub async fn refresh_usage(&self, apis: &ApiService) {
        let _flush = self.usage.flush.lock().await;
        match apis
            .usage_counts_since(api_keys::stored_since(apis.now()))
            .await
        {
            Ok(counts) => self.usage.refresh(&counts),
            Err(e) => tracing::warn!(error = %e, "reading API key usage failed; retrying"),
        }
    }

    /// Flushes API key usage every second, and re-reads everyone's every few seconds.
    fn spawn_usage_flusher(self: &Arc<Self>, apis: Arc<ApiService>) {
        const REFRESH_EVERY: u32 = 5;
        let gw = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut ticks = 0u32;
            loop {
                tick.tick().await;
                gw.flush_usage(&apis).await;
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(REFRESH_EVERY) {
                    gw.refresh_usage(&apis).await;
                }
            }
        });
    }

    /// Keeps the snapshot current: reloads on every change the API service announces.
    pub fn spawn_reloader(self: &Arc<Self>, apis: Arc<ApiService>) -> tokio::task::JoinHandle<()> {
        self.spawn_usage_flusher(Arc::clone(&apis));
        let gw = Arc::clone(self);
        let mut changes = apis.changes();
        tokio::spawn(async move {
            loop {
                changes.borrow_and_update();
                let ok = match gw.reload(&apis).await {
                    Ok(stages) => {
                        tracing::debug!(stages, "gateway snapshot installed");
                        true
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "loading deployed stages failed; retrying");
                        false
                    }
                };
                if ok {
                    if changes.changed().await.is_err() {
                        break;
                    }
                } else {
                    tokio::select! {
                        r = changes.changed() => if r.is_err() { break },
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        })
    }

    /// Serves one request of the data plane.
    pub async fn handle(&self, req: Request<Body>) -> Response {
        let started = Instant::now();
        let mut ctx = Ctx {
            request_id: request_id(),
            ..Default::default()
        };
        let method = req.method().clone();
        // For the access log (a clone of the request's URI shares its bytes).
        let uri = req.uri().clone();
        let mut resp = match self.pipeline(&mut ctx, req).await {
            Ok(r) => r,
            Err(reject) if ctx.rest => reject.into_rest_response(),
            Err(reject) => reject.into_response(),
        };
        self.log(&ctx, &method, uri.path(), &mut resp, started);
        resp
    }

    async fn pipeline(&self, ctx: &mut Ctx, req: Request<Body>) -> Result<Response, Reject> {
        self.select(ctx, &req)?;
        let cors = ctx.stage.as_ref().and_then(|s| s.cors.as_ref());
        if let Some(resp) = cors::preflight(cors, req.method(), req.headers()) {
            ctx.preflight = true;
            return Ok(resp);
        }
        Self::limits(&req)?;
        self.route(ctx, &req)?;
        self.authorize(ctx, req.headers(), req.uri().query())
            .await?;
        match self.shared_limits.get() {
            None => {
                self.api_key(ctx, req.headers())?;
                self.throttle(ctx)?;
            }
            // Boxed, so the request future of a node without Redis does not grow by it.
            Some(shared) => Box::pin(self.limit_shared(ctx, req.headers(), shared)).await?,
        }
        self.integrate(ctx, req).await
    }

    /// Selection: on `{apiId}.execute-api.*` the API by host and the stage by the first path
    /// segment; on a custom domain name the API mapping with the longest matching key.
    fn select(&self, ctx: &mut Ctx, req: &Request<Body>) -> Result<(), Reject> {
        let host = host_of(req).ok_or(Reject::NotFound)?;
        ctx.host = HeaderValue::from_str(host).ok();
        ctx.origin = req.headers().get(header::ORIGIN).cloned();
        ctx.client_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let snapshot = self.snapshot.load();
        let Some(api_id) = api_id_of_host(host) else {
            let (name, mappings) = snapshot.domains.lookup(host).ok_or(Reject::NotFound)?;
            let (mapping, path) = mappings.resolve(req.uri().path()).ok_or(Reject::NotFound)?;
            let stage = mapping.stage.clone().ok_or(Reject::NotFound)?;
            if stage.rest {
                Self::rest_request(ctx);
            }
            ctx.stage = Some(stage);
            ctx.stage_path = path.to_string();
            ctx.domain_name = Some(name.into_owned());
            return Ok(());
        };
        // Host names are case-insensitive; API ids are lower case.
        let api = match snapshot.apis.get(api_id) {
            Some(api) => api,
            None => snapshot
                .apis
                .get(&api_id.to_ascii_lowercase())
                .ok_or(Reject::NotFound)?,
        };
        if api.rest {
            Self::rest_request(ctx);
        }
        if api.disable_execute_api_endpoint {
            return Err(Reject::Forbidden);
        }
        // On a REST API an unknown stage is a 403 Missing Authentication Token (ctx.rest).
        let (stage, path) = api.stage_for(req.uri().path()).ok_or(Reject::NotFound)?;
        ctx.stage_path = path.to_string();
        ctx.stage = Some(stage);
        Ok(())
    }

    /// A REST API's request: REST error shapes from here on, and its ids as REST APIs give
    /// them (a UUID `requestId`, the short id as `extendedRequestId`).
    fn rest_request(ctx: &mut Ctx) {
        ctx.rest = true;
        let extended = std::mem::replace(&mut ctx.request_id, rest::request_uuid());
        ctx.extended_request_id = Some(extended);
    }

    fn limits(req: &Request<Body>) -> Result<(), Reject> {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|l| l > MAX_PAYLOAD) {
            return Err(Reject::PayloadTooLarge);
        }
        let head = req.method().as_str().len()
            + req.uri().path_and_query().map_or(0, |p| p.as_str().len())
            + req
                .headers()
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 4)
                .sum::<usize>();
        if head > MAX_HEAD {
            return Err(Reject::HeadersTooLarge);
        }
        Ok(())
    }

    /// Routing: the stage's route table, AWS's priority.
    fn route(&self, ctx: &mut Ctx, req: &Request<Body>) -> Result<(), Reject> {
        let stage = ctx.stage.as_ref().ok_or(Reject::NotFound)?;
        let m = stage
            .table
            .find(req.method().as_str(), &ctx.stage_path)
            .ok_or(Reject::NotFound)?;
        ctx.route = Some(m.route);
        ctx.path_parameters = m.path_parameters;
        Ok(())
    }

    /// The route's JWT authorizer, if it has one, and revocation for our own pools.
    async fn authorize(
        &self,
        ctx: &mut Ctx,
        headers: &http::HeaderMap,
        query: Option<&str>,
    ) -> Result<(), Reject> {
        // The stage (shared) holds the route: nothing of it is copied per request.
        let Some(stage) = ctx.stage.clone() else {
            return Ok(());
        };
        let Some(route) = ctx.route.and_then(|i| stage.routes.get(i)) else {
            return Ok(());
        };
        if let Some(method) = route.rest.clone() {
            return self.authorize_rest(ctx, &method, headers).await;
        }
        let Some(authorizer) = route.authorizer.as_deref() else {
            return Ok(());
        };
        let token = jwt::identity(&authorizer.identity_source, headers, query);
        match jwt::authorize(
            &self.directory,
            &self.jwks,
            &self.verified,
            authorizer,
            token.as_deref(),
            &route.scopes,
        )
        .await
        {
            Ok(a) => {
                ctx.auth = Some(a);
                Ok(())
            }
            Err(Denied::Unauthorized(d)) => Err(Reject::Unauthorized(d)),
            Err(Denied::Forbidden) => Err(Reject::Forbidden),
        }
    }

    /// A REST method's authorization: its Cognito authorizer; IAM and Lambda authorizers are
    /// not run yet, so their methods are refused.
    async fn authorize_rest(
        &self,
        ctx: &mut Ctx,
        method: &rest::RestMethod,
        headers: &http::HeaderMap,
    ) -> Result<(), Reject> {
        match &method.auth {
            rest::RestAuth::None => Ok(()),
            rest::RestAuth::Cognito(authorizer) => {
                let a = cognito::authorize(
                    &self.directory,
                    &self.jwks,
                    &self.verified,
                    authorizer,
                    headers,
                    &method.scopes,
                )
                .await?;
                ctx.auth = Some(a);
                Ok(())
            }
            rest::RestAuth::Iam => {
                tracing::warn!(request_id = %ctx.request_id, resource = %method.resource_path, method = %method.http_method, "AWS_IAM methods are not served yet: refused");
                Err(Reject::MissingAuthenticationToken)
            }
            rest::RestAuth::Unsupported(kind) => {
                tracing::warn!(request_id = %ctx.request_id, resource = %method.resource_path, method = %method.http_method, authorization = %kind, "REST authorization type not supported yet: refused");
                Err(Reject::Unauthorized(None))
            }
        }
    }

    /// API keys: a REST method with `apiKeyRequired` (api_keys.rs, where usage plans plug in).
    fn api_key(&self, ctx: &mut Ctx, headers: &http::HeaderMap) -> Result<(), Reject> {
        let (Some(stage), Some(method)) = (
            ctx.stage.as_deref(),
            ctx.route().and_then(|r| r.rest.as_deref()),
        ) else {
            return Ok(());
        };
        if !method.api_key_required {
            return Ok(());
        }
        let value = headers
            .get(api_keys::API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        let used = self.snapshot.load().api_keys.check(
            &api_keys::KeyedRequest {
                api_id: &stage.api_id,
                stage: &stage.name,
                resource_path: &method.resource_path,
                http_method: &method.http_method,
                api_key: value,
            },
            self.directory.now(),
            api_keys::monotonic_ns(Instant::now()),
        )?;
        ctx.api_key = Some((used, value.unwrap_or_default().to_string()));
        Ok(())
    }

    /// The API key and throttle phases with `--redis-url`: usage plans' throttles and the
    /// route's limits counted in Redis for every node (quotas stay as `api_key` counts them).
    async fn limit_shared(
        &self,
        ctx: &mut Ctx,
        headers: &http::HeaderMap,
        shared: &shared_limits::SharedLimits,
    ) -> Result<(), Reject> {
        self.api_key_shared(ctx, headers, shared).await?;
        self.throttle_shared(ctx, shared).await
    }

    /// `api_key`, with the plan's throttle counted in Redis (`local`: this node's bucket).
    async fn api_key_shared(
        &self,
        ctx: &mut Ctx,
        headers: &http::HeaderMap,
        shared: &shared_limits::SharedLimits,
    ) -> Result<(), Reject> {
        let (Some(stage), Some(method)) =
            (ctx.stage.clone(), ctx.route().and_then(|r| r.rest.clone()))
        else {
            return Ok(());
        };
        if !method.api_key_required {
            return Ok(());
        }
        let value = headers
            .get(api_keys::API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        let snapshot = self.snapshot.load_full();
        let found = snapshot.api_keys.find(&api_keys::KeyedRequest {
            api_id: &stage.api_id,
            stage: &stage.name,
            resource_path: &method.resource_path,
            http_method: &method.http_method,
            api_key: value,
        })?;
        if let Some(limit) = found.limit() {
            let key = shared_limits::key(&stage.api_id, &stage.name, &found.budget_name(), None);
            let rate = shared_limits::Rate {
                rate: limit.rate,
                burst: limit.burst,
            };
            let verdict = shared
                .take(&key, rate, || {
                    found.take_local(api_keys::monotonic_ns(Instant::now()))
                })
                .await;
            match verdict {
                shared_limits::Verdict::Allowed => {}
                shared_limits::Verdict::Throttled => return Err(found.throttled()),
                shared_limits::Verdict::Unavailable => return Err(Reject::LimitsUnavailable),
            }
        }
        let used = found.admit(self.directory.now())?;
        ctx.api_key = Some((used, value.unwrap_or_default().to_string()));
        Ok(())
    }

    /// Throttling: the route's token bucket (per user when the stage says so).
    fn throttle(&self, ctx: &Ctx) -> Result<(), Reject> {
        let Some(limiter) = ctx.route().and_then(|r| r.limiter.as_ref()) else {
            return Ok(());
        };
        let key = Self::throttle_key(ctx, limiter);
        if limiter.try_take(key.as_deref(), Instant::now()) {
            Ok(())
        } else {
            Err(Reject::TooManyRequests)
        }
    }

    /// The value of the claim that keys a route's limits per user, when it has one.
    fn throttle_key(ctx: &Ctx, limiter: &throttle::RouteLimiter) -> Option<String> {
        let v = ctx.auth.as_ref()?.claims.get(limiter.claim()?)?;
        Some(match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// Throttling with `--redis-url`: the same limits, counted in Redis for every node; while
    /// Redis cannot answer, the fail mode decides (`local`: this node's bucket, as `throttle`).
    async fn throttle_shared(
        &self,
        ctx: &Ctx,
        shared: &shared_limits::SharedLimits,
    ) -> Result<(), Reject> {
        let (Some(stage), Some(route)) = (ctx.stage.as_deref(), ctx.route()) else {
            return Ok(());
        };
        let Some(limiter) = route.limiter.as_ref() else {
            return Ok(());
        };
        let key = Self::throttle_key(ctx, limiter);
        let redis_key =
            shared_limits::key(&stage.api_id, &stage.name, &route.route_key, key.as_deref());
        let verdict = shared
            .take(&redis_key, limiter.rate(), || {
                limiter.try_take(key.as_deref(), Instant::now())
            })
            .await;
        match verdict {
            shared_limits::Verdict::Allowed => Ok(()),
            shared_limits::Verdict::Throttled => Err(Reject::TooManyRequests),
            shared_limits::Verdict::Unavailable => Err(Reject::LimitsUnavailable),
        }
    }

    /// Integration: the route's target.
    async fn integrate(&self, ctx: &mut Ctx, mut req: Request<Body>) -> Result<Response, Reject> {
        let stage = ctx.stage.clone().ok_or(Reject::NotFound)?;
        let route = ctx.route().ok_or(Reject::NotFound)?;
        let integration = route.integration.clone().ok_or(Reject::Internal)?;
        let timeout = match integration.timeout_in_millis {
            t if t > 0 => Duration::from_millis(t as u64),
            _ => DEFAULT_TIMEOUT,
        };
        match integration.integration_type.to_ascii_uppercase().as_str() {
            "HTTP_PROXY" => {
                let template = integration.integration_uri.as_deref().unwrap_or("");
                let mut uri = proxy::target_uri(
                    template,
                    &ctx.path_parameters,
                    &stage.stage_variables,
                    req.uri().query(),
                );
                let mapped = !integration.request_parameters.is_empty()
                    || !integration.response_parameters.is_empty();
                // Mapping reads the request as the client sent it.
                let original = mapped.then(|| (req.headers().clone(), req.uri().clone()));
                // Only mapping reads these (most proxied requests have none).
                let mut source_ip = String::new();
                let mut domain = String::new();
                let mut method = String::new();
                if mapped {
                    if let Some(ip) = ctx.client_ip {
                        proxy::push_ip(&mut source_ip, ip);
                    }
                    domain = match &ctx.domain_name {
                        Some(d) => d.clone(),
                        None => ctx
                            .host
                            .as_ref()
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("")
                            .to_string(),
                    };
                    method = req.method().to_string();
                }
                // REST APIs map claims as they render them (rest.rs).
                let rest_claims = match (&ctx.auth, mapped && route.rest.is_some()) {
                    (Some(a), true) => Some(rest::rest_claims(&a.claims)),
                    _ => None,
                };
                let sources = original
                    .as_ref()
                    .map(|(headers, original_uri)| mapping::Sources {
                        headers,
                        query: original_uri.query(),
                        path: original_uri.path(),
                        path_parameters: &ctx.path_parameters,
                        stage_variables: &stage.stage_variables,
                        claims: rest_claims
                            .as_ref()
                            .or_else(|| ctx.auth.as_ref().map(|a| &*a.claims)),
                        request_id: &ctx.request_id,
                        api_id: &stage.api_id,
                        stage: &stage.name,
                        route_key: &route.route_key,
                        method: &method,
                        domain: &domain,
                        source_ip: &source_ip,
                        response_headers: None,
                    });
                if let Some(src) = &sources {
                    mapping::map_request(
                        &integration.request_parameters,
                        src,
                        &mut uri,
                        req.headers_mut(),
                    );
                }
                let mut resp = proxy::forward(
                    &self.client(),
                    proxy::Forward {
                        request_id: &ctx.request_id,
                        uri,
                        method: integration.integration_method.as_deref(),
                        timeout,
                        client_ip: ctx.client_ip,
                        host: ctx.host.clone(),
                    },
                    req,
                )
                .await?;
                if let Some(src) = sources {
                    let response_headers = resp.headers().clone();
                    let src = mapping::Sources {
                        response_headers: Some(&response_headers),
                        ..src
                    };
                    let mut status = resp.status();
                    mapping::map_response(
                        &integration.response_parameters,
                        &src,
                        &mut status,
                        resp.headers_mut(),
                    );
                    *resp.status_mut() = status;
                }
                Ok(resp)
            }
            "AWS_PROXY" => {
                let (parts, body) = req.into_parts();
                let body = http_body_util::Limited::new(body, MAX_PAYLOAD as usize)
                    .collect()
                    .await
                    .map_err(|_| Reject::PayloadTooLarge)?
                    .to_bytes();
                let event_ctx = lambda::EventContext {
                    account_id: &self.config.account_id,
                    api_id: &stage.api_id,
                    stage: &stage.name,
                    route_key: &route.route_key,
                    request_id: &ctx.request_id,
                    source_ip: ctx.client_ip.map(|i| i.to_string()).unwrap_or_default(),
                    path_parameters: &ctx.path_parameters,
                    stage_variables: &stage.stage_variables,
                    auth: ctx.auth.as_ref(),
                    now_ms: self.directory.now() * 1000,
                    domain_name: ctx.domain_name.as_deref(),
                };
                let v2 = integration.payload_format_version != "1.0" && route.rest.is_none();
                let mut event = if v2 {
                    lambda::event_v2(&parts, &body, &event_ctx)
                } else {
                    lambda::event_v1(&parts, &body, &event_ctx)
                };
                if let Some(method) = &route.rest {
                    let claims = ctx.auth.as_ref().map(|a| rest::rest_claims(&a.claims));
                    event = rest::rest_event(
                        event,
                        &rest::RestEvent {
                            method,
                            path: if ctx.domain_name.is_some() {
                                parts.uri.path()
                            } else {
                                &ctx.stage_path
                            },
                            request_path: parts.uri.path(),
                            request_id: &ctx.request_id,
                            extended_request_id: ctx
                                .extended_request_id
                                .as_deref()
                                .unwrap_or(&ctx.request_id),
                            claims: claims.as_ref(),
                        },
                    );
                }
                if let Some((used, value)) = &ctx.api_key {
                    api_keys::identify(&mut event, &used.key_id, value);
                }
                let resp = lambda::invoke(
                    &self.client(),
                    self.config.lambda_endpoint.as_deref(),
                    // Stage variables may name the function (`function:${stageVariables.fn}`).
                    &proxy::target_uri(
                        integration.integration_uri.as_deref().unwrap_or(""),
                        &[],
                        &stage.stage_variables,
                        None,
                    ),
                    event,
                    v2,
                    timeout,
                )
                // Its warnings name the request (the gateway listener has no per-request span).
                .instrument(tracing::info_span!("request", request_id = %ctx.request_id))
                .await;
                match resp {
                    // REST APIs type a Lambda proxy answer without a Content-Type as JSON.
                    Ok(mut r) if route.rest.is_some() => {
                        if !r.headers().contains_key(header::CONTENT_TYPE) {
                            r.headers_mut().insert(
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            );
                        }
                        Ok(r)
                    }
                    other => other,
                }
            }
            "MOCK" if route.rest.is_some() => {
                match route.rest.as_ref().and_then(|m| m.mock.as_ref()) {
                    Some(mock) => mock.respond(
                        req.headers()
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok()),
                    ),
                    None => Err(Reject::Internal),
                }
            }
            other if route.rest.is_some() => {
                tracing::warn!(
                    request_id = %ctx.request_id,
                    integration = other,
                    "REST integration type not supported yet (HTTP_PROXY, AWS_PROXY and MOCK are)"
                );
                Err(Reject::Internal)
            }
            other => {
                tracing::warn!(request_id = %ctx.request_id, integration = other, "integration type not supported");
                Err(Reject::Internal)
            }
        }
    }

    /// Logging: request id and CORS on every response, one access log line.
    fn log(
        &self,
        ctx: &Ctx,
        method: &http::Method,
        path: &str,
        resp: &mut Response,
        started: Instant,
    ) {
        let cors = ctx.stage.as_ref().and_then(|s| s.cors.as_ref());
        if !ctx.preflight {
            cors::decorate(cors, ctx.origin.as_ref(), resp);
        }
        if ctx.rest {
            if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
                resp.headers_mut().insert(X_AMZN_REQUESTID, v);
            }
            if let Some(v) = ctx
                .extended_request_id
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                resp.headers_mut().insert(X_AMZ_APIGW_ID, v);
            }
        } else if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
            resp.headers_mut().insert(APIGW_REQUESTID, v);
        }
        let status = resp.status().as_u16();
        let stage = ctx.stage.as_deref();
        if let Some(log) = stage.and_then(|s| s.access_log.as_ref()) {
            let latency_ms = started.elapsed().as_millis();
            let now_ms = self.directory.now() * 1000;
            let length = resp
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let domain = ctx.domain_name.as_deref().unwrap_or_else(|| {
                ctx.host
                    .as_ref()
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
            });
            let lookup = |name: &str| -> Option<String> {
                if let Some(claim) = name.strip_prefix("context.authorizer.claims.") {
                    let v = ctx.auth.as_ref()?.claims.get(claim)?;
                    if ctx.rest {
                        return rest::rest_claim(claim, v);
                    }
                    return Some(match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                }
                let rest = ctx.route().and_then(|r| r.rest.as_deref());
                Some(match name {
                    "context.requestId" => ctx.request_id.clone(),
                    "context.extendedRequestId" => ctx
                        .extended_request_id
                        .clone()
                        .unwrap_or_else(|| ctx.request_id.clone()),
                    "context.resourcePath" => rest?.resource_path.clone(),
                    "context.resourceId" => rest?.resource_id.clone(),
                    "context.apiId" => stage?.api_id.clone(),
                    "context.stage" => stage?.name.clone(),
                    "context.routeKey" => ctx.route()?.route_key.clone(),
                    "context.httpMethod" => method.to_string(),
                    "context.path" => path.to_string(),
                    "context.protocol" => "HTTP/1.1".to_string(),
                    "context.identity.sourceIp" => ctx.client_ip?.to_string(),
                    "context.identity.apiKeyId" => ctx.api_key.as_ref()?.0.key_id.clone(),
                    "context.status" => status.to_string(),
                    "context.responseLength" => length.clone()?,
                    "context.responseLatency" => latency_ms.to_string(),
                    "context.requestTime" => lambda::clf_time(now_ms),
                    "context.requestTimeEpoch" => now_ms.to_string(),
                    "context.domainName" => domain.to_string(),
                    "context.domainPrefix" => domain.split('.').next()?.to_string(),
                    _ => return None,
                })
            };
            log.write(&log.render(&lookup));
        } else {
            tracing::debug!(
                target: "gatehouse::access",
                request_id = %ctx.request_id,
                api = stage.map_or("-", |s| s.api_id.as_str()),
                stage = stage.map_or("-", |s| s.name.as_str()),
                route = ctx.route().map_or("-", |r| r.route_key.as_str()),
                %method,
                path,
                status,
                latency_ms = started.elapsed().as_millis() as u64,
            );
        }
    }
}
