//! `DomainStore` on SQLite: one document per domain name, one row per API mapping (so a key
//! is unique per domain by constraint and mappings are found by API).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::doc_tables::{from_doc, to_doc};
use super::{map_err, SqliteStore};
use crate::domains::{ApiMapping, DomainName, DomainStore};
use crate::{Page, StoreError, StoreResult};

const MAPPING_COLUMNS: &str = "domain_name, id, api_id, stage, mapping_key";

fn mapping_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiMapping> {
    Ok(ApiMapping {
        domain_name: r.get(0)?,
        id: r.get(1)?,
        api_id: r.get(2)?,
        stage: r.get(3)?,
        key: r.get(4)?,
    })
}

fn domain_exists(tx: &rusqlite::Transaction<'_>, name: &str) -> StoreResult<bool> {
    tx.query_row("SELECT 1 FROM domain_names WHERE name = ?1", [name], |_| {
        Ok(())
    })
    .optional()
    .map(|o| o.is_some())
    .map_err(map_err)
}

impl SqliteStore {
    fn query_mappings(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> StoreResult<Vec<ApiMapping>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
            let rows = stmt.query_map(args, mapping_row).map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })
    }
}

#[async_trait]
impl DomainStore for SqliteStore {
    async fn insert_domain_name(&self, domain: &DomainName) -> StoreResult<()> {
        let (name, doc) = (domain.name.clone(), to_doc(domain)?);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO domain_names (name, doc) VALUES (?1, ?2)",
                params![name, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_domain_name(&self, name: &str) -> StoreResult<Option<DomainName>> {
        let doc: Option<String> = self.read(|c| {
            c.prepare_cached("SELECT doc FROM domain_names WHERE name = ?1")
                .map_err(map_err)?
                .query_row([name], |r| r.get(0))
                .optional()
                .map_err(map_err)
        })?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    async fn update_domain_name(&self, domain: &DomainName) -> StoreResult<()> {
        let (name, doc) = (domain.name.clone(), to_doc(domain)?);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE domain_names SET doc = ?2 WHERE name = ?1",
                    params![name, doc],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_domain_name(&self, name: &str) -> StoreResult<()> {
        let name = name.to_string();
        self.write(move |tx| {
            tx.execute("DELETE FROM api_mappings WHERE domain_name = ?1", [&name])
                .map_err(map_err)?;
            let n = tx
                .execute("DELETE FROM domain_names WHERE name = ?1", [&name])
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn list_domain_names(&self, page: &Page) -> StoreResult<Vec<DomainName>> {
        let after = page.after.clone().unwrap_or_default();
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let docs: Vec<String> = self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc FROM domain_names WHERE name > ?1 ORDER BY name LIMIT ?2",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![after, limit], |r| r.get::<_, String>(0))
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })?;
        docs.iter().map(|d| from_doc(d)).collect()
    }

    async fn insert_api_mapping(&self, mapping: &ApiMapping) -> StoreResult<()> {
        let m = mapping.clone();
        self.write(move |tx| {
            if !domain_exists(tx, &m.domain_name)? {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                "INSERT INTO api_mappings (domain_name, id, api_id, stage, mapping_key)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![m.domain_name, m.id, m.api_id, m.stage, m.key],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_api_mapping(&self, domain: &str, id: &str) -> StoreResult<Option<ApiMapping>> {
        let sql = format!(
            "SELECT {MAPPING_COLUMNS} FROM api_mappings WHERE domain_name = ?1 AND id = ?2"
        );
        Ok(self.query_mappings(&sql, [domain, id])?.into_iter().next())
    }

    async fn update_api_mapping(&self, mapping: &ApiMapping) -> StoreResult<()> {
        let m = mapping.clone();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE api_mappings SET api_id = ?3, stage = ?4, mapping_key = ?5
                     WHERE domain_name = ?1 AND id = ?2",
                    params![m.domain_name, m.id, m.api_id, m.stage, m.key],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_api_mapping(&self, domain: &str, id: &str) -> StoreResult<()> {
        let (domain, id) = (domain.to_string(), id.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM api_mappings WHERE domain_name = ?1 AND id = ?2",
                    params![domain, id],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn list_api_mappings(&self, domain: &str) -> StoreResult<Vec<ApiMapping>> {
        let sql = format!(
            "SELECT {MAPPING_COLUMNS} FROM api_mappings WHERE domain_name = ?1 ORDER BY id"
        );
        self.query_mappings(&sql, [domain])
    }

    async fn api_mappings_to(
        &self,
        api_id: &str,
        stage: Option<&str>,
    ) -> StoreResult<Vec<ApiMapping>> {
        match stage {
            Some(stage) => {
                let sql = format!(
                    "SELECT {MAPPING_COLUMNS} FROM api_mappings WHERE api_id = ?1 AND stage = ?2
                     ORDER BY domain_name, id"
                );
                self.query_mappings(&sql, [api_id, stage])
            }
            None => {
                let sql = format!(
                    "SELECT {MAPPING_COLUMNS} FROM api_mappings WHERE api_id = ?1
                     ORDER BY domain_name, id"
                );
                self.query_mappings(&sql, [api_id])
            }
        }
    }

    async fn all_api_mappings(&self) -> StoreResult<Vec<ApiMapping>> {
        let sql = format!("SELECT {MAPPING_COLUMNS} FROM api_mappings ORDER BY domain_name, id");
        self.query_mappings(&sql, [])
    }
}
