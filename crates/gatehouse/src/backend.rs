//! Which store a node runs on: the embedded SQLite file in its data dir (one node), or the
//! PostgreSQL database named by `--database-url` (any number of nodes, one system).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use gatehouse_core::crypt::SecretBox;
use gatehouse_core::env::OsRandom;
use gatehouse_store::changes::{Announce, Silent};
use gatehouse_store::postgres::{PgChangeFeed, PgOptions, PgStore};
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::{ApiStore, PoolStore, Store};

/// The setting holding a value sealed with the master key of the first node that started (or
/// of the embedded installation `gatehouse migrate --from` copied).
pub const MASTER_KEY_CHECK: &str = "master_key_check";
const MASTER_KEY_CHECK_CONTEXT: &str = "gatehouse.master-key-check";

/// A fresh value for `MASTER_KEY_CHECK`: sealed with `secrets`, so only the same key opens it.
pub fn master_key_check_value(secrets: &SecretBox) -> anyhow::Result<String> {
    Ok(secrets.seal(b"gatehouse", MASTER_KEY_CHECK_CONTEXT, &OsRandom)?)
}

/// Whether a recorded `MASTER_KEY_CHECK` value was sealed with the key of `secrets`.
pub fn master_key_opens_check(secrets: &SecretBox, recorded: &str) -> bool {
    secrets.open(recorded, MASTER_KEY_CHECK_CONTEXT).is_ok()
}

pub struct Backend {
    pub store: Arc<dyn Store>,
    pub apis: Arc<dyn ApiStore>,
    pub pools: Arc<dyn PoolStore>,
    /// PostgreSQL only: the other nodes' change notices, and where this node's go.
    pub feed: Option<Arc<PgChangeFeed>>,
    pg: Option<PgStore>,
    /// For the start-up log line (no password).
    pub description: String,
}

impl Backend {
    /// Opens (and migrates) the store: PostgreSQL when `database_url` is given, else the
    /// embedded SQLite file in `data_dir`. The data dir is made either way: the outbox and
    /// generated credentials live there on PostgreSQL too. `ca_file`: CA certificates trusted
    /// for PostgreSQL's TLS besides the built-in roots; `max_connections`: the node's pool size
    /// (default 16).
    pub async fn open(
        data_dir: &Path,
        database_url: Option<&str>,
        ca_file: Option<&Path>,
        max_connections: Option<usize>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        match database_url.filter(|u| !u.trim().is_empty()) {
            None => {
                let store = Arc::new(open_sqlite(data_dir)?);
                Ok(Self {
                    store: Arc::clone(&store) as Arc<dyn Store>,
                    apis: Arc::clone(&store) as Arc<dyn ApiStore>,
                    pools: store as Arc<dyn PoolStore>,
                    feed: None,
                    pg: None,
                    description: format!(
                        "embedded SQLite {}",
                        data_dir.join("gatehouse.db").display()
                    ),
                })
            }
            Some(url) => {
                let pg = connect_postgres_with(url, ca_file, max_connections).await?;
                let feed = Arc::new(
                    pg.change_feed()
                        .await
                        .context("listening for other nodes' changes on PostgreSQL")?,
                );
                let store = Arc::new(pg.clone());
                Ok(Self {
                    store: Arc::clone(&store) as Arc<dyn Store>,
                    apis: Arc::clone(&store) as Arc<dyn ApiStore>,
                    pools: store as Arc<dyn PoolStore>,
                    feed: Some(feed),
                    pg: Some(pg),
                    description: format!("PostgreSQL {}", redact(url)),
                })
            }
        }
    }

    /// Where this node announces its changes.
    pub fn announcer(&self) -> Arc<dyn Announce> {
        match &self.feed {
            Some(feed) => Arc::clone(feed) as Arc<dyn Announce>,
            None => Arc::new(Silent),
        }
    }

    /// Every node of a shared store must seal secrets with the same master key, or each would
    /// fail to open what the others sealed (SRP verifiers, TOTP secrets, signing keys). The
    /// first node records a value sealed with its key; the others must be able to open it.
    pub async fn check_master_key(&self, secrets: &SecretBox) -> anyhow::Result<()> {
        let Some(pg) = &self.pg else {
            return Ok(());
        };
        let sealed = master_key_check_value(secrets)?;
        let recorded = pg.init_setting(MASTER_KEY_CHECK, &sealed).await?;
        if !master_key_opens_check(secrets, &recorded) {
            bail!(
                "the database's secrets are sealed with a different master key: give every node \
                 the same GATEHOUSE_MASTER_KEY (the key the first node used is in its data dir's \
                 master.key, unless it was given in GATEHOUSE_MASTER_KEY)"
            );
        }
        Ok(())
    }
}

/// Opens the embedded store in the data dir.
pub fn open_sqlite(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    SqliteStore::open(&data_dir.join("gatehouse.db")).context("opening the embedded store")
}

/// Connects to a `postgres://` (or `postgresql://`) URL and applies pending migrations; TLS as
/// the URL's sslmode says, trusting `ca_file`'s certificates besides the built-in roots.
pub async fn connect_postgres(url: &str, ca_file: Option<&Path>) -> anyhow::Result<PgStore> {
    connect_postgres_with(url, ca_file, None).await
}

/// `connect_postgres` with a pool of `max_connections` (default 16) instead of the default.
pub async fn connect_postgres_with(
    url: &str,
    ca_file: Option<&Path>,
    max_connections: Option<usize>,
) -> anyhow::Result<PgStore> {
    let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !scheme_ok {
        bail!(
            "--database-url {}: only postgres:// URLs are supported (leave it unset for the embedded store)",
            redact(url)
        );
    }
    let defaults = PgOptions::default();
    let options = PgOptions {
        ca_file: ca_file.map(Path::to_path_buf),
        max_connections: max_connections.unwrap_or(defaults.max_connections).max(1),
        ..defaults
    };
    PgStore::connect_with(url, options)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", redact(url)))
}

/// The URL without its password, for logs and messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact("postgres://gh:s3cret@db:5432/gatehouse?sslmode=disable"),
            "postgres://gh:***@db:5432/gatehouse?sslmode=disable"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact("postgres://gh@db/x"), "postgres://gh@db/x");
        assert_eq!(redact("postgres://a:b:c@h"), "postgres://a:***@h");
        assert_eq!(redact("nonsense"), "nonsense");
    }
}
