//! Aggregates stored as one JSON document per id (HTTP APIs, REST APIs), with the immutable
//! deployment snapshots of each in a second table keyed by (api id, deployment id).

use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{map_err, SqliteStore};
use crate::{Page, StoreError, StoreResult};

pub(crate) fn to_doc<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_doc<T: DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Every document a query's first column holds.
pub(crate) fn query_docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(from_doc(&row.map_err(map_err)?)?);
    }
    Ok(out)
}

/// The document of a query's first column, if a row matched.
pub(crate) fn one_doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let doc: Option<String> = stmt
        .query_row(params, |r| r.get(0))
        .optional()
        .map_err(map_err)?;
    doc.map(|d| from_doc(&d)).transpose()
}

/// NotFound when a write touched no row.
pub(crate) fn expect_changed(n: usize) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The two tables of one kind of API: `{table}(id, doc)` and
/// `{snapshots}(api_id, deployment_id, doc)`. Names are compile-time constants.
pub(super) struct DocTables {
    pub table: &'static str,
    pub snapshots: &'static str,
}

impl DocTables {
    pub async fn insert<T: Serialize>(&self, s: &SqliteStore, id: &str, v: &T) -> StoreResult<()> {
        let sql = format!("INSERT INTO {} (id, doc) VALUES (?1, ?2)", self.table);
        let (id, doc) = (id.to_string(), to_doc(v)?);
        s.write(move |tx| {
            tx.execute(&sql, params![id, doc]).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    pub fn get<T: DeserializeOwned>(&self, s: &SqliteStore, id: &str) -> StoreResult<Option<T>> {
        let sql = format!("SELECT doc FROM {} WHERE id = ?1", self.table);
        let doc: Option<String> = s.read(|c| {
            c.prepare_cached(&sql)
                .map_err(map_err)?
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(map_err)
        })?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    /// NotFound when there is no such id.
    pub async fn update<T: Serialize>(&self, s: &SqliteStore, id: &str, v: &T) -> StoreResult<()> {
        let sql = format!("UPDATE {} SET doc = ?2 WHERE id = ?1", self.table);
        let (id, doc) = (id.to_string(), to_doc(v)?);
        s.write(move |tx| {
            if tx.execute(&sql, params![id, doc]).map_err(map_err)? == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// Deletes the document and its snapshots; NotFound when there is no such id.
    pub async fn delete(&self, s: &SqliteStore, id: &str) -> StoreResult<()> {
        let snaps = format!("DELETE FROM {} WHERE api_id = ?1", self.snapshots);
        let doc = format!("DELETE FROM {} WHERE id = ?1", self.table);
        let id = id.to_string();
        s.write(move |tx| {
            tx.execute(&snaps, [&id]).map_err(map_err)?;
            if tx.execute(&doc, [&id]).map_err(map_err)? == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// Documents ordered by id, after `page.after`.
    pub fn list<T: DeserializeOwned>(&self, s: &SqliteStore, page: &Page) -> StoreResult<Vec<T>> {
        let sql = format!(
            "SELECT doc FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2",
            self.table
        );
        let after = page.after.clone().unwrap_or_default();
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let docs: Vec<String> = s.read(|c| {
            let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
            let rows = stmt
                .query_map(params![after, limit], |r| r.get::<_, String>(0))
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })?;
        docs.iter().map(|d| from_doc(d)).collect()
    }

    pub async fn put_snapshot<T: Serialize>(
        &self,
        s: &SqliteStore,
        api_id: &str,
        deployment_id: &str,
        v: &T,
    ) -> StoreResult<()> {
        let sql = format!(
            "INSERT OR REPLACE INTO {} (api_id, deployment_id, doc) VALUES (?1, ?2, ?3)",
            self.snapshots
        );
        let (api, dep, doc) = (api_id.to_string(), deployment_id.to_string(), to_doc(v)?);
        s.write(move |tx| {
            tx.execute(&sql, params![api, dep, doc]).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    pub fn get_snapshot<T: DeserializeOwned>(
        &self,
        s: &SqliteStore,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<T>> {
        let sql = format!(
            "SELECT doc FROM {} WHERE api_id = ?1 AND deployment_id = ?2",
            self.snapshots
        );
        let doc: Option<String> = s.read(|c| {
            c.prepare_cached(&sql)
                .map_err(map_err)?
                .query_row([api_id, deployment_id], |r| r.get(0))
                .optional()
                .map_err(map_err)
        })?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    pub async fn delete_snapshot(
        &self,
        s: &SqliteStore,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<()> {
        let sql = format!(
            "DELETE FROM {} WHERE api_id = ?1 AND deployment_id = ?2",
            self.snapshots
        );
        let (api, dep) = (api_id.to_string(), deployment_id.to_string());
        s.write(move |tx| {
            tx.execute(&sql, params![api, dep]).map_err(map_err)?;
            Ok(())
        })
        .await
    }
}
