//! The shared store for several nodes: PostgreSQL through a deadpool-postgres connection pool.
//! Owns its own versioned migrations (`migrations/`), applied at connect under an advisory lock
//! so nodes starting together apply each migration once. Statements are prepared once per
//! connection (`prepare_cached`) and every value travels as a bind parameter.
//!
//! Every trait of `Store` and `ApiStore` (with its supertraits) is here, and the change notices
//! nodes send each other (`notify.rs`, LISTEN/NOTIFY).

mod aggregates;
mod api_keys;
mod apis;
mod devices;
mod notify;
mod oauth;
mod tls;

pub use notify::PgChangeFeed;

use std::path::PathBuf;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

use self::tls::RustlsConnect;

use crate::{StoreError, StoreResult};

/// Versioned migrations, applied in order; a version once released never changes.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_apis.sql")),
    (3, include_str!("migrations/0003_devices_oauth_keys.sql")),
    (4, include_str!("migrations/0004_cluster_settings.sql")),
    (5, include_str!("migrations/0005_refresh_token_expiry.sql")),
];

/// How long a connection may go unanswered before it counts as dead.
const DEAD_PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most connections this node holds open.
    pub max_connections: usize,
    /// How long a request waits for a free connection (or a new one) before `Unavailable`.
    pub acquire_timeout: Duration,
    /// Keep Gatehouse's tables in this schema (created if missing) instead of the URL's default
    /// `search_path`: several installations, or the tests, can share one database.
    pub schema: Option<String>,
    /// A PEM file of CA certificates trusted for the server's TLS certificate, besides the
    /// built-in (Mozilla) roots; for a private CA or a managed database's own (RDS, Cloud SQL).
    /// Whether TLS is used is the URL's `sslmode`; when it is, the certificate is verified.
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            schema: None,
            ca_file: None,
        }
    }
}

/// A handle on the installation's database; clones share the connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// How to open connections outside the pool (the change-notice listener).
    config: tokio_postgres::Config,
    /// TLS for those, as for the pool's.
    tls: RustlsConnect,
    /// The LISTEN/NOTIFY channel of this installation (one per schema).
    channel: String,
    /// Tells this node's notices from other nodes'.
    node: String,
    /// The migrations this connect applied (none when the schema was up to date).
    applied_at_connect: Vec<i64>,
}

impl PgStore {
    /// Connects to a `postgres://` URL with default options and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, PgOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: PgOptions) -> StoreResult<Self> {
        // libpq URLs carry `sslrootcert` and `sslmode=verify-full`, which tokio-postgres refuses.
        let (url, rootcert) = tls::take_libpq_tls_params(url);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("bad PostgreSQL URL: {}", with_causes(&e)))
        })?;
        let mut ca_files: Vec<&std::path::Path> = Vec::new();
        ca_files.extend(options.ca_file.as_deref());
        ca_files.extend(rootcert.as_deref());
        let tls = RustlsConnect::new(&ca_files)?;
        if config.get_application_name().is_none() {
            config.application_name("gatehouse");
        }
        // A database host that vanishes without a reset (a crash, a partition) must not hold
        // requests for the kernel's ~15-minute retransmission timeout: unacknowledged writes
        // fail after TCP_USER_TIMEOUT, idle connections are probed, and connecting gives up
        // when a request would. The URL's own settings win.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.acquire_timeout);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEAD_PEER_TIMEOUT);
        }
        config
            .keepalives(true)
            .keepalives_idle(DEAD_PEER_TIMEOUT)
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            // Set per connection at start-up, so every pooled connection sees the same tables.
            let mut opts = config.get_options().unwrap_or_default().to_string();
            opts.push_str(&format!(" -c search_path={schema}"));
            config.options(opts.trim());
        }
        let channel = format!(
            "gatehouse_changes_{}",
            options.schema.as_deref().unwrap_or("public")
        );
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                // A broken connection fails its query and is dropped; checking each one before
                // use would add a round trip to every request.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.acquire_timeout))
            .create_timeout(Some(options.acquire_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL pool: {e}")))?;
        let mut store = Self {
            pool,
            config,
            tls,
            channel,
            node: node_id(),
            applied_at_connect: Vec::new(),
        };
        store.applied_at_connect = store.migrate(options.schema.as_deref()).await?;
        Ok(store)
    }

    /// The highest schema version applied.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(map_err)?;
        row.try_get(0).map_err(map_err)
    }

    /// The versions of the migrations this connect applied, in order (`gatehouse migrate`
    /// says so).
    pub fn migrations_applied_at_connect(&self) -> &[i64] {
        &self.applied_at_connect
    }

    /// The versions of the migrations applied, in order.
    pub async fn applied_migrations(&self) -> StoreResult<Vec<i64>> {
        let client = self.client().await?;
        client
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .map_err(map_err)?
            .iter()
            .map(|r| r.try_get(0).map_err(map_err))
            .collect()
    }

    /// The installation-wide setting `name`, storing `value` first if it has none yet: the
    /// first node to start decides, and every node gets the same answer.
    pub async fn init_setting(&self, name: &str, value: &str) -> StoreResult<String> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO cluster_settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &value],
            )
            .await
            .map_err(map_err)?;
        let row = client
            .query_one(
                "SELECT value FROM cluster_settings WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(map_err)?;
        row.try_get(0).map_err(map_err)
    }

    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            StoreError::Unavailable(format!(
                "no PostgreSQL connection available: {}",
                with_causes(&e)
            ))
        })
    }

    /// Applies every migration not yet recorded, all in one transaction holding an advisory
    /// lock: nodes starting at once queue behind the first, which applies them; the rest then
    /// find nothing to do. DDL is transactional in PostgreSQL, so a failed migration leaves the
    /// schema as it was.
    async fn migrate(&self, schema: Option<&str>) -> StoreResult<Vec<i64>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Keyed by schema, so installations in different schemas of one database do not wait on
        // each other. The configured name, not current_schema(): that is NULL until the schema
        // exists, and creating it races too (two CREATE SCHEMA IF NOT EXISTS at once collide).
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('gatehouse.migrate.' || $1::text))",
            &[&schema.unwrap_or("")],
        )
        .await
        .map_err(map_err)?;
        if let Some(schema) = schema {
            // The name was checked to be a plain identifier; DDL takes no bind parameters.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(map_err)?;
        }
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 applied TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(map_err)?;
        let applied: Vec<i64> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(map_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(map_err)?;
        // Every version not yet applied, not just those above the highest: migrations are
        // numbered when written and may land out of order.
        let mut newly = Vec::new();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
            tx.batch_execute(sql).await.map_err(map_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await
            .map_err(map_err)?;
            tracing::info!(version, "applied PostgreSQL store migration");
            newly.push(*version);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(newly)
    }
}

/// An error with its causes ("error connecting to server: Connection refused"), each said once.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A name for this process among the nodes: notices it sent come back to it, and are ignored.
fn node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's randomness; uniqueness is all that is needed.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

/// Schema names go into DDL, which takes no bind parameters: only plain identifiers pass.
fn check_schema_name(schema: &str) -> StoreResult<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "PostgreSQL schema name {schema:?} must be lower-case letters, digits and _"
        )))
    }
}

/// Integrity violations (unique, foreign key, check) are the caller's conflict, as on SQLite;
/// everything else but data exceptions (connection lost, server shutting down, serialization
/// failure) is the store being unavailable, which the edge answers with a retryable error.
pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if db.code().code().starts_with("23") => {
            let what = db.constraint().unwrap_or_else(|| db.message());
            StoreError::Conflict(what.to_string())
        }
        // Data exceptions (a NUL character PostgreSQL cannot store, a number out of range) are
        // permanent: retrying would not help, so not Unavailable.
        Some(db) if db.code().code().starts_with("22") => StoreError::Corrupt(format!(
            "value PostgreSQL cannot store ({}): {}",
            db.code().code(),
            db.message()
        )),
        Some(db) => StoreError::Unavailable(format!("{}: {}", db.code().code(), db.message())),
        // The kind alone ("error performing TLS handshake") would hide the cause.
        None => StoreError::Unavailable(with_causes(&e)),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A fresh store per test, each in its own schema of the database named by
    //! `GATEHOUSE_TEST_DATABASE_URL` (`scripts/pg-test-cluster` starts one), so tests run in
    //! parallel without seeing each other's rows.

    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// The store, or `None` when no test database is configured (and it is not required).
    pub(crate) async fn store() -> Option<(PgStore, String)> {
        let url = match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                // scripts/test sets this, so CI cannot pass by silently skipping PostgreSQL.
                assert!(
                    std::env::var_os("GATEHOUSE_TEST_REQUIRE_POSTGRES").is_none(),
                    "GATEHOUSE_TEST_REQUIRE_POSTGRES is set but GATEHOUSE_TEST_DATABASE_URL is not"
                );
                eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: skipping the PostgreSQL run");
                return None;
            }
        };
        let schema = fresh_schema_name();
        let store = PgStore::connect_with(
            &url,
            PgOptions {
                max_connections: 8,
                schema: Some(schema.clone()),
                ..PgOptions::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("test database at GATEHOUSE_TEST_DATABASE_URL: {e}"));
        Some((store, schema))
    }

    pub(crate) fn fresh_schema_name() -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "t_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Drops the test's schema (best effort: a failed test leaves it for inspection).
    pub(crate) async fn drop_schema(store: &PgStore, schema: &str) {
        if let Ok(client) = store.client().await {
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await;
        }
    }
}

#[cfg(test)]
mod tests;
