//! Moving an embedded installation onto PostgreSQL (`gatehouse migrate --from DIR --to URL`).
//! The two stores hold one logical schema written twice (JSON text → `JSONB`, 0/1 → `BOOLEAN`,
//! `BLOB` → `BYTEA`, an identity column for the revocation journal), so the copy is table by
//! table, each mapped explicitly in `TABLES`, rows unchanged: sealed secrets, password hashes
//! and signing keys move as they are and open with the same master key on the other side.
//!
//! The source is read from one SQLite read transaction (a consistent snapshot) on a blocking
//! thread that streams batches to the writer, so memory stays bounded whatever the size; the
//! target is written with binary `COPY` in one PostgreSQL transaction that holds every table
//! locked, refuses a database that already holds data, resets the identity sequence, and
//! compares row counts before it commits. Either everything arrives or nothing does.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::postgres::{map_err, PgStore};
use crate::sqlite::{open_connection, SqliteStore, MIGRATIONS};
use crate::StoreError;

/// How a column is stored: its SQLite form is read, its PostgreSQL form written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `TEXT NOT NULL` on both.
    Text,
    /// Nullable `TEXT` on both.
    OptText,
    /// JSON text → `JSONB`.
    Json,
    /// `INTEGER` → `BIGINT`.
    BigInt,
    /// `INTEGER` → `INTEGER` (checked to fit 32 bits).
    Int,
    /// `INTEGER` 0/1 → `BOOLEAN`.
    Bool,
    /// `BLOB NOT NULL` → `BYTEA`.
    Bytes,
    /// Nullable `BLOB` → `BYTEA`.
    OptBytes,
}

impl Kind {
    fn pg_type(self) -> Type {
        match self {
            Kind::Text | Kind::OptText => Type::TEXT,
            Kind::Json => Type::JSONB,
            Kind::BigInt => Type::INT8,
            Kind::Int => Type::INT4,
            Kind::Bool => Type::BOOL,
            Kind::Bytes | Kind::OptBytes => Type::BYTEA,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    /// Every column of the SQLite table, and every column of the PostgreSQL table that is not
    /// generated from the others (the tests hold both schemas to this list).
    pub columns: &'static [(&'static str, Kind)],
    /// An identity column whose sequence must continue after the copied values.
    pub identity: Option<&'static str>,
}

use Kind::*;

const fn table(name: &'static str, columns: &'static [(&'static str, Kind)]) -> Table {
    Table {
        name,
        columns,
        identity: None,
    }
}

/// Every table of the store, parents before children (the foreign keys are checked row by row).
/// A table added by a migration must be added here: `every_table_and_column_is_mapped` fails
/// until it is, and a source holding a table or column not listed is refused.
pub(crate) const TABLES: &[Table] = &[
    table("user_pools", &[("id", Text), ("name", Text), ("doc", Json)]),
    table(
        "app_clients",
        &[("client_id", Text), ("pool_id", Text), ("doc", Json)],
    ),
    table(
        "users",
        &[
            ("pool_id", Text),
            ("sub", Text),
            ("username_key", Text),
            ("doc", Json),
        ],
    ),
    table(
        "user_attributes",
        &[
            ("pool_id", Text),
            ("sub", Text),
            ("name", Text),
            ("value", Text),
        ],
    ),
    table(
        "groups",
        &[("pool_id", Text), ("name", Text), ("doc", Json)],
    ),
    table(
        "group_members",
        &[("pool_id", Text), ("group_name", Text), ("sub", Text)],
    ),
    table(
        "one_time_codes",
        &[
            ("pool_id", Text),
            ("sub", Text),
            ("purpose", Text),
            ("code_hash", Text),
            ("expires", BigInt),
            ("failed_attempts", Int),
        ],
    ),
    table(
        "auth_sessions",
        &[
            ("id_hash", Text),
            ("pool_id", Text),
            ("client_id", Text),
            ("username", Text),
            ("challenge", Text),
            ("expires", BigInt),
            ("data", Json),
        ],
    ),
    table(
        "refresh_tokens",
        &[
            ("token_hash", Text),
            ("pool_id", Text),
            ("client_id", Text),
            ("sub", Text),
            ("origin_jti", Text),
            ("auth_time", BigInt),
            ("created", BigInt),
            ("expires", BigInt),
            ("revoked", Bool),
            ("scopes", OptText),
        ],
    ),
    table(
        "signing_keys",
        &[
            ("pool_id", Text),
            ("kid", Text),
            ("private_pkcs8", Bytes),
            ("created", BigInt),
            ("active", Bool),
        ],
    ),
    Table {
        name: "revoked_token_families",
        columns: &[
            ("seq", BigInt),
            ("origin_jti", Text),
            ("pool_id", Text),
            ("sub", Text),
            ("revoked_at", BigInt),
            ("expires", BigInt),
        ],
        // Nodes read the journal "after the last seq I saw": seqs are copied as they are and
        // new ones continue after them.
        identity: Some("seq"),
    },
    table(
        "devices",
        &[
            ("pool_id", Text),
            ("device_key", Text),
            ("sub", Text),
            ("confirmed", Bool),
            ("created", BigInt),
            ("doc", Json),
        ],
    ),
    table(
        "user_pool_domains",
        &[
            ("domain", Text),
            ("pool_id", Text),
            ("kind", Text),
            ("doc", Json),
        ],
    ),
    table(
        "resource_servers",
        &[("pool_id", Text), ("identifier", Text), ("doc", Json)],
    ),
    // PostgreSQL's generated `client_ref` (the foreign key to the client) is computed.
    table(
        "ui_customizations",
        &[
            ("pool_id", Text),
            ("client_id", Text),
            ("doc", Json),
            ("image", OptBytes),
        ],
    ),
    table("http_apis", &[("id", Text), ("doc", Json)]),
    table(
        "api_deployments",
        &[("api_id", Text), ("deployment_id", Text), ("doc", Json)],
    ),
    table("rest_apis", &[("id", Text), ("doc", Json)]),
    table(
        "rest_api_deployments",
        &[("api_id", Text), ("deployment_id", Text), ("doc", Json)],
    ),
    table("domain_names", &[("name", Text), ("doc", Json)]),
    table(
        "api_mappings",
        &[
            ("domain_name", Text),
            ("id", Text),
            ("api_id", Text),
            ("stage", Text),
            ("mapping_key", Text),
        ],
    ),
    table(
        "api_keys",
        &[
            ("id", Text),
            ("value_hash", Text),
            ("value", Text),
            ("value_sealed", Bool),
            ("name", Text),
            ("customer_id", OptText),
            ("doc", Json),
        ],
    ),
    table("usage_plans", &[("id", Text), ("doc", Json)]),
    table("usage_plan_keys", &[("plan_id", Text), ("key_id", Text)]),
    table(
        "usage_counters",
        &[
            ("plan_id", Text),
            ("key_id", Text),
            ("day", BigInt),
            ("used", BigInt),
        ],
    ),
];

/// Bookkeeping tables each store keeps for itself; not copied.
pub(crate) const SQLITE_OWN_TABLES: &[&str] = &["schema_migrations"];
#[cfg(test)]
pub(crate) const PG_OWN_TABLES: &[&str] = &["schema_migrations", "cluster_settings"];

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(
        "the target database already holds Gatehouse data (in {}); migrate into an empty \
         database (or schema): nothing was changed",
        .0.join(", ")
    )]
    TargetNotEmpty(Vec<String>),
    #[error("the source was written by a newer Gatehouse (it has {0}); copy it with that version")]
    UnknownSchema(String),
    #[error("{table}, row {row}: {detail}")]
    BadValue {
        table: &'static str,
        row: u64,
        detail: String,
    },
    #[error("{table}: {rows} rows read but {written} in the target after the copy")]
    CountMismatch {
        table: &'static str,
        rows: u64,
        written: i64,
    },
    #[error("copying {table}: {source}")]
    Table {
        table: &'static str,
        source: StoreError,
    },
    #[error("reading the source: {0}")]
    Source(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a transfer copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReport {
    /// Rows per table, in copy order (every table, including empty ones).
    pub tables: Vec<(&'static str, u64)>,
    /// Settings that held another value in the target before and were replaced.
    pub replaced_settings: Vec<(String, String)>,
}

/// One value on its way, already in its PostgreSQL form.
#[derive(Debug)]
enum Cell {
    Text(Option<String>),
    Json(Value),
    BigInt(i64),
    Int(i32),
    Bool(bool),
    Bytes(Option<Vec<u8>>),
}

impl Cell {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Text(v) => v,
            Cell::Json(v) => v,
            Cell::BigInt(v) => v,
            Cell::Int(v) => v,
            Cell::Bool(v) => v,
            Cell::Bytes(v) => v,
        }
    }
}

/// From the reader thread to the writer, table by table in `TABLES` order.
enum Batch {
    Rows(Vec<Vec<Cell>>),
    /// The table is done; this many rows were read.
    End(u64),
}

const BATCH_ROWS: usize = 1000;

/// Copies everything in `source` into `target`, which must hold no Gatehouse data, in one
/// PostgreSQL transaction; `settings` (name, value) are written to `cluster_settings` in it.
pub async fn sqlite_to_postgres(
    source: &SqliteStore,
    target: &PgStore,
    settings: &[(String, String)],
) -> Result<TransferReport, TransferError> {
    let path = source.path().to_path_buf();
    let (tx_rows, mut rx_rows) = tokio::sync::mpsc::channel::<Batch>(4);

    let mut client = target.client().await?;
    let tx = client.transaction().await.map_err(map_err)?;
    // Nothing else writes while we check and copy: a node already running on the target, or a
    // second `migrate`, waits (or times out) instead of interleaving.
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {}, cluster_settings IN EXCLUSIVE MODE",
        names.join(", ")
    ))
    .await
    .map_err(map_err)?;
    let mut occupied = Vec::new();
    for t in TABLES {
        let row = tx
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {})", t.name), &[])
            .await
            .map_err(map_err)?;
        if row.try_get::<_, bool>(0).map_err(map_err)? {
            occupied.push(t.name.to_string());
        }
    }
    if !occupied.is_empty() {
        return Err(TransferError::TargetNotEmpty(occupied));
    }

    // Only now start reading: the snapshot is taken after the target was found empty.
    let reader = tokio::task::spawn_blocking(move || read_source(path, tx_rows));

    let mut report = TransferReport {
        tables: Vec::with_capacity(TABLES.len()),
        replaced_settings: Vec::new(),
    };
    for t in TABLES {
        let columns: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
        let types: Vec<Type> = t.columns.iter().map(|(_, k)| k.pg_type()).collect();
        let sink = tx
            .copy_in(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                t.name,
                columns.join(", ")
            ))
            .await
            .map_err(|e| table_err(t.name, e))?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
        let rows = loop {
            match rx_rows.recv().await {
                Some(Batch::Rows(rows)) => {
                    for row in &rows {
                        let values: Vec<&(dyn ToSql + Sync)> =
                            row.iter().map(Cell::as_sql).collect();
                        writer
                            .as_mut()
                            .write(&values)
                            .await
                            .map_err(|e| table_err(t.name, e))?;
                    }
                }
                Some(Batch::End(n)) => break n,
                // The reader stopped early: its error says why.
                None => return Err(reader_failure(reader).await),
            }
        };
        writer
            .as_mut()
            .finish()
            .await
            .map_err(|e| table_err(t.name, e))?;
        report.tables.push((t.name, rows));
    }
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => {
            return Err(TransferError::Source(StoreError::Unavailable(format!(
                "reader task: {e}"
            ))))
        }
    }

    for t in TABLES {
        if let Some(column) = t.identity {
            // Continue after the highest copied value (or start at 1 when there is none).
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                                   COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL)
                     FROM {table}",
                    table = t.name
                ),
                &[],
            )
            .await
            .map_err(|e| table_err(t.name, e))?;
        }
    }
    for (table, rows) in &report.tables {
        let row = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .map_err(map_err)?;
        let written: i64 = row.try_get(0).map_err(map_err)?;
        if u64::try_from(written).ok() != Some(*rows) {
            return Err(TransferError::CountMismatch {
                table,
                rows: *rows,
                written,
            });
        }
    }
    for (name, value) in settings {
        let previous = tx
            .query_opt(
                "SELECT value FROM cluster_settings WHERE name = $1",
                &[name],
            )
            .await
            .map_err(map_err)?;
        if let Some(previous) = previous {
            let previous: String = previous.try_get(0).map_err(map_err)?;
            report.replaced_settings.push((name.clone(), previous));
        }
        tx.execute(
            "INSERT INTO cluster_settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[name, value],
        )
        .await
        .map_err(map_err)?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(report)
}

fn table_err(table: &'static str, e: tokio_postgres::Error) -> TransferError {
    TransferError::Table {
        table,
        source: map_err(e),
    }
}

async fn reader_failure(
    reader: tokio::task::JoinHandle<Result<(), TransferError>>,
) -> TransferError {
    match reader.await {
        Ok(Err(e)) => e,
        Ok(Ok(())) => TransferError::Source(StoreError::Unavailable(
            "the reader finished before the writer".into(),
        )),
        Err(e) => TransferError::Source(StoreError::Unavailable(format!("reader task: {e}"))),
    }
}

/// Reads every table from one read transaction and sends the rows on. Stops quietly when the
/// writer has gone (it failed and reports why).
fn read_source(path: PathBuf, out: tokio::sync::mpsc::Sender<Batch>) -> Result<(), TransferError> {
    let source = |e: StoreError| TransferError::Source(e);
    let conn = open_connection(&path, true).map_err(source)?;
    conn.execute_batch("BEGIN")
        .map_err(|e| source(crate::sqlite::map_err(e)))?;
    check_source_schema(&conn)?;
    for t in TABLES {
        let columns: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
        let sql = format!("SELECT {} FROM {}", columns.join(", "), t.name);
        let mut stmt = conn
            .prepare(&sql)
            .map_err(|e| source(crate::sqlite::map_err(e)))?;
        let mut rows = stmt
            .query([])
            .map_err(|e| source(crate::sqlite::map_err(e)))?;
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let mut n = 0u64;
        while let Some(row) = rows.next().map_err(|e| source(crate::sqlite::map_err(e)))? {
            n += 1;
            let mut cells = Vec::with_capacity(t.columns.len());
            for (i, (column, kind)) in t.columns.iter().enumerate() {
                let value = row
                    .get_ref(i)
                    .map_err(|e| source(crate::sqlite::map_err(e)))?;
                cells.push(
                    cell(*kind, value).map_err(|detail| TransferError::BadValue {
                        table: t.name,
                        row: n,
                        detail: format!("{column}: {detail}"),
                    })?,
                );
            }
            batch.push(cells);
            if batch.len() == BATCH_ROWS
                && out
                    .blocking_send(Batch::Rows(std::mem::take(&mut batch)))
                    .is_err()
            {
                return Ok(());
            }
        }
        if !batch.is_empty() && out.blocking_send(Batch::Rows(batch)).is_err() {
            return Ok(());
        }
        if out.blocking_send(Batch::End(n)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// The source must hold exactly the tables and columns `TABLES` knows: anything else would be
/// left behind silently.
fn check_source_schema(conn: &rusqlite::Connection) -> Result<(), TransferError> {
    let err = |e: rusqlite::Error| TransferError::Source(crate::sqlite::map_err(e));
    let known: BTreeSet<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
    let applied: Vec<i64> = {
        let mut stmt = conn
            .prepare("SELECT version FROM schema_migrations")
            .map_err(err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)?
    };
    if let Some(v) = applied.iter().find(|v| !known.contains(v)) {
        return Err(TransferError::UnknownSchema(format!("migration {v}")));
    }
    for (table, columns) in sqlite_schema(conn).map_err(err)? {
        let Some(t) = TABLES.iter().find(|t| t.name == table) else {
            if SQLITE_OWN_TABLES.contains(&table.as_str()) {
                continue;
            }
            return Err(TransferError::UnknownSchema(format!("table {table}")));
        };
        let mapped: BTreeSet<String> = t.columns.iter().map(|(c, _)| c.to_string()).collect();
        if let Some(c) = columns.iter().find(|c| !mapped.contains(*c)) {
            return Err(TransferError::UnknownSchema(format!("column {table}.{c}")));
        }
    }
    Ok(())
}

/// Every table of a SQLite database with its columns.
pub(crate) fn sqlite_schema(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<Vec<(String, BTreeSet<String>)>> {
    let tables: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let columns = stmt
            .query_map([&table], |r| r.get(0))?
            .collect::<rusqlite::Result<BTreeSet<String>>>()?;
        out.push((table, columns));
    }
    Ok(out)
}

fn cell(kind: Kind, value: rusqlite::types::ValueRef<'_>) -> Result<Cell, String> {
    use rusqlite::types::ValueRef as V;
    let text =
        |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| "text that is not UTF-8".to_string());
    Ok(match (kind, value) {
        (Text | OptText, V::Text(b)) => Cell::Text(Some(text(b)?)),
        (OptText, V::Null) => Cell::Text(None),
        (Json, V::Text(b)) => Cell::Json(
            serde_json::from_slice(b).map_err(|e| format!("a document that is not JSON: {e}"))?,
        ),
        (BigInt, V::Integer(i)) => Cell::BigInt(i),
        (Int, V::Integer(i)) => {
            Cell::Int(i32::try_from(i).map_err(|_| format!("{i} does not fit 32 bits"))?)
        }
        (Bool, V::Integer(i)) => Cell::Bool(i != 0),
        (Bytes | OptBytes, V::Blob(b) | V::Text(b)) => Cell::Bytes(Some(b.to_vec())),
        (OptBytes, V::Null) => Cell::Bytes(None),
        (kind, value) => {
            return Err(format!(
                "a {:?} value where {kind:?} was expected",
                value.data_type()
            ))
        }
    })
}

#[cfg(test)]
mod tests;
