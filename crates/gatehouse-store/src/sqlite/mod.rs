//! The embedded store: SQLite in WAL mode with `synchronous=FULL`, so a write is on disk before
//! it is acknowledged. One writer connection (SQLite has one writer anyway) used from the
//! blocking pool, since a commit waits for fsync; point reads run inline on a pooled reader
//! connection, since they take microseconds and a thread hop would cost more than the read.

mod aggregates;
#[cfg(test)]
mod api_key_tests;
mod api_keys;
mod apis;
mod backup;
mod devices;
mod doc_tables;
#[cfg(test)]
mod domain_tests;
mod domains;
mod oauth;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

use crate::{StoreError, StoreResult};

pub use backup::{inspect, vacuum_into, DatabaseSummary};

pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_devices.sql")),
    (3, include_str!("migrations/0003_revocations.sql")),
    (4, include_str!("migrations/0004_apis.sql")),
    (5, include_str!("migrations/0005_domain_names.sql")),
    (6, include_str!("migrations/0006_oauth_config.sql")),
    (7, include_str!("migrations/0007_oauth_grants.sql")),
    (9, include_str!("migrations/0009_rest_apis.sql")),
    (10, include_str!("migrations/0010_api_keys.sql")),
    (11, include_str!("migrations/0011_refresh_token_expiry.sql")),
];

/// How many idle reader connections we keep.
const MAX_IDLE_READERS: usize = 16;

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    /// The migrations this `open` applied (none when the file was up to date).
    applied_at_open: Vec<i64>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = open_connection(path, false)?;
        let applied_at_open = migrate(&mut writer)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
            readers: Mutex::new(Vec::new()),
            applied_at_open,
        })
    }

    /// The versions of the migrations `open` applied, in order (`gatehouse migrate` says so).
    pub fn migrations_applied_at_open(&self) -> &[i64] {
        &self.applied_at_open
    }

    /// The versions of every migration applied to the file, in order.
    pub fn applied_migrations(&self) -> StoreResult<Vec<i64>> {
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT version FROM schema_migrations ORDER BY version")
                .map_err(map_err)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(map_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(map_err)
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> StoreResult<i64> {
        self.read(|c| {
            c.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(map_err)
        })
    }

    /// Runs `f` in one transaction on the writer connection, off the async runtime.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .map_err(|_| StoreError::Unavailable("writer connection poisoned".into()))?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let out = f(&tx)?;
            tx.commit().map_err(map_err)?;
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }

    /// Runs `f` on a reader connection on the calling thread.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = match self.readers.lock().ok().and_then(|mut r| r.pop()) {
            Some(c) => c,
            None => open_connection(&self.path, true)?,
        };
        let out = f(&conn);
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < MAX_IDLE_READERS {
                readers.push(conn);
            }
        }
        out
    }
}

pub(crate) fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(map_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -16000;",
    )
    .map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies the pending migrations; returns their versions.
fn migrate(conn: &mut Connection) -> StoreResult<Vec<i64>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied INTEGER NOT NULL
         )",
    )
    .map_err(map_err)?;
    // Every version not yet applied, not just those above the highest: migrations are numbered
    // when they are written and may land out of order (3 before 2).
    let applied: Vec<i64> = {
        let mut stmt = conn
            .prepare("SELECT version FROM schema_migrations")
            .map_err(map_err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(map_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(map_err)?
    };
    let mut newly = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        let tx = conn.transaction().map_err(map_err)?;
        tx.execute_batch(sql).map_err(map_err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied) VALUES (?1, strftime('%s','now'))",
            [version],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        tracing::info!(version, "applied store migration");
        newly.push(*version);
    }
    Ok(newly)
}

pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}
