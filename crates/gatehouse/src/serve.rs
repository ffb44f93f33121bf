//! `gatehouse serve`: wires the store, the domain and the adapters onto the two listeners.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Args;
use gatehouse_cognito::{Admission, CognitoApi, OperationName};
use gatehouse_core::apis::ApiService;
use gatehouse_core::env::{OsRandom, SystemClock};
use gatehouse_core::messages::{Messenger, Outbox, Smtp};
use gatehouse_core::password::PasswordHasher;
use gatehouse_core::{Directory, DirectoryConfig};
use gatehouse_mgmt::MgmtApi;
use gatehouse_sigv4::KeyLookup;
use gatehouse_store::changes::Topic;
use serde_json::json;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::metrics::Metrics;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where the embedded store, the outbox and generated credentials live.
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    pub data_dir: PathBuf,
    /// The control listener: Cognito API, management APIs, OIDC documents.
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:9229")]
    pub listen: SocketAddr,
    /// The gateway listener: the data plane of deployed APIs.
    #[arg(
        long,
        env = "GATEHOUSE_GATEWAY_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub gateway_listen: SocketAddr,
    /// Threads serving the gateway listener, each with its own socket (SO_REUSEPORT), runtime
    /// and upstream connections. 0: one per core.
    #[arg(long, env = "GATEHOUSE_GATEWAY_THREADS", default_value_t = 0)]
    pub gateway_threads: usize,
    /// The base URL clients reach the control listener at (token issuers derive from it).
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A declarative configuration file.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Absent: embedded SQLite in the data dir. `postgres://…`: PostgreSQL.
    #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// PEM file of CA certificates trusted for PostgreSQL's TLS certificate, besides the built-in
    /// roots (whether TLS is used is the URL's sslmode; certificates are always verified).
    #[arg(long, env = "GATEHOUSE_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
    /// Connections this node holds open to PostgreSQL at most (each node also holds one more
    /// for change notices). Nodes × this must stay under the server's max_connections.
    #[arg(long, env = "GATEHOUSE_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: usize,
    /// Redis for rate limits shared between nodes.
    #[arg(long, env = "GATEHOUSE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// While Redis is unreachable, throttled routes are decided by: `local` (each node's own
    /// limits), `open` (let through) or `closed` (503).
    #[arg(long, env = "GATEHOUSE_REDIS_FAIL_MODE", default_value = "local")]
    pub redis_fail_mode: gatehouse_gateway::shared_limits::FailMode,
    /// How long a request waits for Redis before the fail mode decides it (milliseconds).
    #[arg(long, env = "GATEHOUSE_REDIS_TIMEOUT_MS", default_value_t = gatehouse_gateway::shared_limits::DEFAULT_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub redis_timeout_ms: u64,
    /// Development mode: admin operations accept any signature.
    #[arg(long, env = "GATEHOUSE_DEV")]
    pub dev: bool,
    /// Region used in pool ids and ARNs.
    #[arg(long, env = "GATEHOUSE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Send email through this SMTP server (`smtp://host:port`) instead of the outbox.
    #[arg(long, env = "GATEHOUSE_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of emails.
    #[arg(
        long,
        env = "GATEHOUSE_SMTP_FROM",
        default_value = "no-reply@gatehouse.localhost"
    )]
    pub smtp_from: String,
    /// Log format: text or json.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Base64 of the 32-byte key sealing secrets at rest (default: generated into the data dir).
    #[arg(long, env = "GATEHOUSE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    #[arg(long, env = "GATEHOUSE_ADMIN_ACCESS_KEY_ID", hide = true)]
    pub admin_access_key_id: Option<String>,
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_SECRET_ACCESS_KEY",
        hide = true,
        hide_env_values = true
    )]
    pub admin_secret_access_key: Option<String>,
}

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or pipe gets no escape codes, and every request's
    // span fields are formatted without them (colouring them was ~2.5% of the user-space
    // instructions of a proxied request).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_target(false);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    let shared_limits = match &args.redis_url {
        Some(url) => Some(
            gatehouse_gateway::shared_limits::SharedLimits::new(
                url,
                args.redis_fail_mode,
                Duration::from_millis(args.redis_timeout_ms),
            )
            .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    // The file is read and checked before anything else, so a bad one stops start-up early.
    let config = match &args.config {
        Some(path) => Some(crate::config::ConfigFile::load(
            path,
            &args.region,
            &crate::config::process_env,
        )?),
        None => None,
    };
    let backend = crate::backend::Backend::open(
        &args.data_dir,
        args.database_url.as_deref(),
        args.database_ca_file.as_deref(),
        Some(args.database_max_connections),
    )
    .await?;
    let api_store = Arc::clone(&backend.apis);
    let pool_store = Arc::clone(&backend.pools);
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let messenger: Arc<dyn Messenger> = match &args.smtp_url {
        Some(url) => Arc::new(Smtp::new(
            url,
            &args.smtp_from,
            args.data_dir.join("outbox.jsonl"),
        )?),
        None => Arc::new(Outbox::new(args.data_dir.join("outbox.jsonl"))),
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let secrets = crate::master_key::load(&args.data_dir, args.master_key.clone())?;
    backend.check_master_key(&secrets).await?;
    let directory = Arc::new(
        Directory::new(
            Arc::clone(&backend.store),
            PasswordHasher::new(cores)?,
            messenger,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            secrets,
            DirectoryConfig {
                public_url: public_url.clone(),
                region: args.region.clone(),
                account_id: "000000000000".into(),
            },
        )
        .with_announcer(backend.announcer()),
    );
    let admin_keys: Option<Arc<dyn KeyLookup + Send + Sync>> = if args.dev {
        tracing::warn!(
            "DEV MODE: admin operations accept ANY signature. Never expose this server."
        );
        None
    } else {
        let from_file = match &config {
            Some(c) => c.admin_credentials(&crate::config::process_env)?,
            None => Vec::new(),
        };
        let keys = if from_file.is_empty() {
            crate::admin_keys::load(
                &args.data_dir,
                args.admin_access_key_id.clone(),
                args.admin_secret_access_key.clone(),
            )?
        } else {
            // The file's keys, and the environment's pair too when it is set.
            let mut keys = from_file;
            if let (Some(id), Some(secret)) = (
                args.admin_access_key_id.clone(),
                args.admin_secret_access_key.clone(),
            ) {
                keys.push(gatehouse_sigv4::Credentials {
                    access_key_id: id,
                    secret_access_key: secret,
                });
            }
            for k in &keys {
                tracing::info!(access_key_id = %k.access_key_id, "admin access key configured");
            }
            keys
        };
        Some(Arc::new(keys))
    };
    let admission = match &admin_keys {
        Some(keys) => Admission::Verify(Arc::clone(keys)),
        None => Admission::AcceptAny,
    };
    let apis = Arc::new(
        ApiService::new(
            Arc::clone(&api_store),
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            format!("localhost:{}", args.gateway_listen.port()),
        )
        .with_region(args.region.clone())
        .with_user_pools(pool_store)
        .with_secrets(directory.secrets())
        .with_announcer(backend.announcer()),
    );
    let mgmt = Arc::new(MgmtApi {
        apis: Arc::clone(&apis),
        admission: match admin_keys {
            Some(keys) => gatehouse_mgmt::Admission::Verify(keys),
            None => gatehouse_mgmt::Admission::AcceptAny,
        },
    });

    let metrics = Arc::new(Metrics::default());
    let control = control_router(
        Arc::clone(&directory),
        admission,
        mgmt,
        Arc::clone(&metrics),
    );
    let data_plane = gatehouse_gateway::Gateway::new(
        Arc::clone(&directory),
        gatehouse_gateway::GatewayConfig {
            lambda_endpoint: std::env::var("AWS_ENDPOINT_URL_LAMBDA")
                .ok()
                .filter(|v| !v.is_empty()),
            account_id: "000000000000".into(),
        },
    )
    .context("building the gateway's HTTP client")?;
    if let Some(shared) = shared_limits {
        // Reachable or not, start: until it is, the fail mode decides (logged once).
        shared.watch().await;
        data_plane.share_limits(Arc::clone(&shared));
        metrics.add_source(move |out| shared.render_metrics(out));
    }
    if let (Some(file), Some(path)) = (&config, &args.config) {
        let sandbox = crate::config::Sandbox::new(&args.region, &public_url)?;
        let real = crate::config::Target {
            dir: Arc::clone(&directory),
            apis: Arc::clone(&apis),
        };
        let summary = crate::config::apply(
            file,
            &sandbox.target,
            Some(&real),
            &crate::config::process_env,
        )
        .await?;
        for w in &summary.warnings {
            tracing::warn!("config: {w}");
        }
        tracing::info!(
            file = %path.display(),
            created = summary.created.len(),
            updated = summary.updated.len(),
            unchanged = summary.unchanged,
            "configuration applied"
        );
    }
    // Serve what is deployed from the first request on, then follow deployments.
    let stages = data_plane
        .reload(&apis)
        .await
        .context("loading the deployed APIs")?;
    tracing::info!(stages, "gateway snapshot loaded");
    data_plane.spawn_reloader(Arc::clone(&apis));
    if let Some(feed) = &backend.feed {
        spawn_change_listener(feed.subscribe(), Arc::clone(&directory), Arc::clone(&apis));
    }
    let control_listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the control listener {}", args.listen))?;
    let threads = match args.gateway_threads {
        0 => cores,
        n => n,
    };
    let gateway_listeners = bind_reuseport(args.gateway_listen, threads)
        .with_context(|| format!("binding the gateway listener {}", args.gateway_listen))?;
    let gateway_addr = gateway_listeners
        .first()
        .map(std::net::TcpListener::local_addr)
        .transpose()?
        .unwrap_or(args.gateway_listen);
    tracing::info!(
        control = %control_listener.local_addr()?,
        gateway = %gateway_addr,
        gateway_threads = threads,
        %public_url,
        data_dir = %args.data_dir.display(),
        store = %backend.description,
        "gatehouse listening"
    );

    let purge_dir = Arc::clone(&directory);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = purge_dir.purge_expired_sessions().await {
                tracing::warn!(error = %e, "purging expired sessions failed");
            }
        }
    });

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining requests");
        let _ = stop_tx.send(true);
    });
    let gateway_threads = spawn_data_plane(gateway_listeners, &data_plane, &metrics, &stop_rx)?;
    let gateway_drained = async {
        for done in gateway_threads {
            // An error is a thread that ended without saying so (it panicked): nothing to wait for.
            let _ = done.await;
        }
    };
    tokio::join!(
        crate::http_server::serve(control_listener, control, stop_rx),
        gateway_drained,
    );
    tracing::info!("stopped");
    Ok(())
}

/// Applies the other nodes' change notices to this node's in-memory state: the gateway's
/// snapshot, the revoked token families, the pools' signing keys.
fn spawn_change_listener(
    mut heard: tokio::sync::broadcast::Receiver<Topic>,
    directory: Arc<Directory>,
    apis: Arc<ApiService>,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            let topic = match heard.recv().await {
                Ok(topic) => topic,
                // Too many notices to keep up with: re-read everything once.
                Err(RecvError::Lagged(_)) => Topic::Resync,
                Err(RecvError::Closed) => break,
            };
            if matches!(topic, Topic::Apis | Topic::Resync) {
                apis.heard_change();
            }
            directory.heard(topic).await;
        }
    });
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn control_router(
    directory: Arc<Directory>,
    admission: Admission,
    mgmt: Arc<MgmtApi>,
    metrics: Arc<Metrics>,
) -> Router {
    let cognito = gatehouse_cognito::router(Arc::new(CognitoApi {
        directory: Arc::clone(&directory),
        admission,
    }));
    let m = Arc::clone(&metrics);
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(move || async move { m.render() }))
        .merge(cognito)
        .merge(gatehouse_mgmt::router(mgmt))
        .merge(gatehouse_oauth::router(directory))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            (metrics, "control"),
            request_context,
        ))
}

/// Binds `n` listening sockets on `addr` with SO_REUSEPORT, so that each data-plane thread
/// accepts its own share of the connections (the kernel spreads them by address hash). With port
/// 0, the others join the port the first was given.
fn bind_reuseport(addr: SocketAddr, n: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut addr = addr;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // As tokio's `TcpListener::bind`: a restart need not wait out TIME_WAIT.
        socket.set_reuse_address(true)?;
        #[cfg(unix)]
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let listener = std::net::TcpListener::from(socket);
        addr = listener.local_addr()?;
        out.push(listener);
    }
    Ok(out)
}

/// What every request on the gateway listener needs, held once per data-plane thread (so that
/// counting references to it stays on that thread's cache lines).
struct DataPlane {
    gateway: Arc<gatehouse_gateway::Gateway>,
    metrics: Arc<Metrics>,
}

/// The gateway listener's data plane, thread per core: each listener gets an OS thread with a
/// single-threaded runtime and an upstream client of its own, so a request is accepted,
/// authorized, proxied and answered on one thread, with no wake-ups across threads. The
/// snapshot, token caches, throttling buckets and API key counters stay shared (the `Gateway`).
/// Each receiver completes when its thread has drained its connections after `stop`.
fn spawn_data_plane(
    listeners: Vec<std::net::TcpListener>,
    gateway: &Arc<gatehouse_gateway::Gateway>,
    metrics: &Arc<Metrics>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::sync::oneshot::Receiver<()>>> {
    let mut done = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a gateway runtime")?;
        let client = gatehouse_gateway::client::build()
            .context("building a gateway thread's HTTP client")?;
        let gateway = Arc::clone(gateway);
        let metrics = Arc::clone(metrics);
        let stop = stop.clone();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name(format!("gateway-{i}"))
            .spawn(move || {
                gatehouse_gateway::client::set_thread_client(client);
                gatehouse_gateway::upstream::enable_on_this_thread();
                runtime.block_on(async move {
                    // Idle upstream connections past their time are closed even when no
                    // request comes to find them.
                    tokio::spawn(async {
                        let mut every = tokio::time::interval(std::time::Duration::from_secs(15));
                        loop {
                            every.tick().await;
                            gatehouse_gateway::upstream::sweep();
                        }
                    });
                    let listener = match TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "gateway listener unusable; thread ends");
                            return;
                        }
                    };
                    let shared = Arc::new(DataPlane { gateway, metrics });
                    crate::http_server::serve_with(listener, stop, move |peer| {
                        let shared = Arc::clone(&shared);
                        hyper::service::service_fn(move |req| {
                            gateway_request(Arc::clone(&shared), peer, req)
                        })
                    })
                    .await;
                });
                let _ = done_tx.send(());
            })
            .context("starting a gateway thread")?;
        done.push(done_rx);
    }
    Ok(done)
}

const X_AMZN_REQUESTID: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-amzn-requestid");

/// One request of the gateway listener, straight into the data plane (no router, no layers, no
/// span: the data plane logs its own request id): `/health` when no API is named by the host (so
/// an API may have a `/health` route of its own), else `Gateway::handle`; then the request id
/// header and the metrics.
async fn gateway_request(
    shared: Arc<DataPlane>,
    peer: SocketAddr,
    mut req: Request<hyper::body::Incoming>,
) -> Result<Response, std::convert::Infallible> {
    let started = std::time::Instant::now();
    let class = path_class(req.uri().path());
    // The peer address, for X-Forwarded-For, events and access logs.
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let req = req.map(Body::new);
    let mut resp = if class == "health" && !shared.gateway.addresses_an_api(&req) {
        health().await.into_response()
    } else {
        shared.gateway.handle(req).await
    };
    // REST APIs give their own (the one their Lambda events carry).
    if !resp.headers().contains_key(X_AMZN_REQUESTID) {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut buf);
        if let Ok(v) = HeaderValue::from_str(id) {
            resp.headers_mut().insert(X_AMZN_REQUESTID, v);
        }
    }
    let status = resp.status().as_u16();
    let elapsed_us = started.elapsed().as_micros() as u64;
    let op = resp
        .extensions()
        .get::<OperationName>()
        .map_or(class, |o| o.0.as_str());
    shared.metrics.record("gateway", op, status, elapsed_us);
    tracing::debug!(status, elapsed_us, "request done");
    Ok(resp)
}

/// The operation name metrics give a request no handler named.
fn path_class(path: &str) -> &'static str {
    match path {
        "/health" => "health",
        "/metrics" => "metrics",
        p if p.contains("/.well-known/") => "oidc",
        _ => "other",
    }
}

async fn health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "message": "Not Found" })),
    )
}

/// One span per request carrying its id, which is also returned as `x-amzn-requestid`.
async fn request_context(
    State((metrics, listener)): State<(Arc<Metrics>, &'static str)>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let path_class = path_class(req.uri().path());
    // From the thread's userspace RNG: `Uuid::new_v4` makes a getrandom(2) system call per
    // request, one in five of the gateway's system calls per proxied request.
    let id = uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        op = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    async move {
        let mut resp = next.run(req).await;
        // REST APIs on the gateway give their own (the one their Lambda events carry).
        if !resp.headers().contains_key("x-amzn-requestid") {
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-amzn-requestid", v);
            }
        }
        let elapsed_us = started.elapsed().as_micros() as u64;
        let op = resp
            .extensions()
            .get::<OperationName>()
            .map_or(path_class, |o| o.0.as_str());
        metrics.record(listener, op, resp.status().as_u16(), elapsed_us);
        tracing::debug!(status = resp.status().as_u16(), elapsed_us, "request done");
        resp
    }
    .instrument(span)
    .await
}
