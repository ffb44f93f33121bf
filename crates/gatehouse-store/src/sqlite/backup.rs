//! Online backups of the embedded store (`gatehouse backup`). `VACUUM INTO` writes a consistent
//! snapshot of the live file from one read transaction: in WAL mode that does not block the
//! serving node's writer, and the copy comes out compacted. The online backup API would copy
//! pages in steps instead, restarting whenever another process writes meanwhile, so under a
//! steady write load it may never finish (or must hold the read lock for the whole copy, which
//! is what `VACUUM INTO` does anyway) and it needs rusqlite's `backup` feature on top.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{map_err, open_connection};
use crate::{StoreError, StoreResult};

/// What a database file holds, to show that a backup is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSummary {
    pub schema_version: i64,
    pub pools: i64,
    pub users: i64,
    pub clients: i64,
    pub http_apis: i64,
    pub rest_apis: i64,
}

/// Writes a consistent copy of the database at `db` into `dest`, which must not exist or be
/// empty (the caller creates it with the permissions it wants). Never creates `db`.
pub fn vacuum_into(db: &Path, dest: &Path) -> StoreResult<()> {
    if !db.is_file() {
        return Err(StoreError::Unavailable(format!(
            "no embedded store at {}",
            db.display()
        )));
    }
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::Unavailable(format!("{}: not a UTF-8 path", dest.display())))?;
    // A reader connection: it opens the WAL file like the server's readers do, so the snapshot
    // includes every committed write not yet checkpointed.
    let conn = open_connection(db, true)?;
    conn.execute("VACUUM INTO ?1", [dest]).map_err(map_err)?;
    Ok(())
}

/// Opens `path` read-only and checks that it is an intact Gatehouse database; what it holds.
pub fn inspect(path: &Path) -> StoreResult<DatabaseSummary> {
    if !path.is_file() {
        return Err(StoreError::Unavailable(format!(
            "{}: no such file",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_err)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    if check != "ok" {
        return Err(StoreError::Corrupt(format!(
            "{}: integrity check failed: {check}",
            path.display()
        )));
    }
    let count = |sql: &str| -> StoreResult<i64> {
        conn.query_row(sql, [], |r| r.get(0)).map_err(|e| {
            StoreError::Corrupt(format!(
                "{}: not a Gatehouse database ({e})",
                path.display()
            ))
        })
    };
    Ok(DatabaseSummary {
        schema_version: count("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")?,
        pools: count("SELECT COUNT(*) FROM user_pools")?,
        users: count("SELECT COUNT(*) FROM users")?,
        clients: count("SELECT COUNT(*) FROM app_clients")?,
        http_apis: count("SELECT COUNT(*) FROM http_apis")?,
        rest_apis: count("SELECT COUNT(*) FROM rest_apis")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;
    use crate::PoolStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backup_taken_during_writes_is_consistent_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gatehouse.db");
        let store = std::sync::Arc::new(SqliteStore::open(&db).unwrap());
        for i in 0..20 {
            store
                .insert_pool(&crate::contract_tests::pool(&format!("p{i:03}")))
                .await
                .unwrap();
        }
        // Writes keep going while the backup runs; it sees a prefix of them, never a torn one.
        let writer = {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                for i in 20..200 {
                    store
                        .insert_pool(&crate::contract_tests::pool(&format!("p{i:03}")))
                        .await
                        .unwrap();
                }
            })
        };
        let dest = dir.path().join("backup.db");
        let db2 = db.clone();
        let dest2 = dest.clone();
        tokio::task::spawn_blocking(move || vacuum_into(&db2, &dest2))
            .await
            .unwrap()
            .unwrap();
        writer.await.unwrap();
        let summary = inspect(&dest).unwrap();
        assert!(summary.pools >= 20 && summary.pools <= 200, "{summary:?}");
        assert_eq!(summary.schema_version, store.schema_version().unwrap());
        let restored = SqliteStore::open(&dest).unwrap();
        assert!(restored.migrations_applied_at_open().is_empty());
        assert!(restored.get_pool("p000").await.unwrap().is_some());
    }

    #[test]
    fn nothing_is_created_for_a_missing_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gatehouse.db");
        let err = vacuum_into(&db, &dir.path().join("b.db")).unwrap_err();
        assert!(err.to_string().contains("no embedded store"), "{err}");
        assert!(!db.exists());
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not a database at all, just some bytes").unwrap();
        assert!(matches!(inspect(&junk), Err(StoreError::Corrupt(_))));
    }
}
