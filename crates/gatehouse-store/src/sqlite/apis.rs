//! `ApiStore` on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::{map_err, SqliteStore};
use crate::apis::{ApiStore, DeploymentSnapshot, HttpApi};
use crate::{Page, StoreError, StoreResult};

fn to_doc<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl ApiStore for SqliteStore {
    async fn insert_api(&self, api: &HttpApi) -> StoreResult<()> {
        let (id, doc) = (api.id.clone(), to_doc(api)?);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO http_apis (id, doc) VALUES (?1, ?2)",
                params![id, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_api(&self, api_id: &str) -> StoreResult<Option<HttpApi>> {
        let doc: Option<String> = self.read(|c| {
            use rusqlite::OptionalExtension;
            c.prepare_cached("SELECT doc FROM http_apis WHERE id = ?1")
                .map_err(map_err)?
                .query_row([api_id], |r| r.get(0))
                .optional()
                .map_err(map_err)
        })?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    async fn update_api(&self, api: &HttpApi) -> StoreResult<()> {
        let (id, doc) = (api.id.clone(), to_doc(api)?);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE http_apis SET doc = ?2 WHERE id = ?1",
                    params![id, doc],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_api(&self, api_id: &str) -> StoreResult<()> {
        let id = api_id.to_string();
        self.write(move |tx| {
            tx.execute("DELETE FROM api_deployments WHERE api_id = ?1", [&id])
                .map_err(map_err)?;
            let n = tx
                .execute("DELETE FROM http_apis WHERE id = ?1", [&id])
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn list_apis(&self, page: &Page) -> StoreResult<Vec<HttpApi>> {
        let after = page.after.clone().unwrap_or_default();
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let docs: Vec<String> = self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM http_apis WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![after, limit], |r| r.get::<_, String>(0))
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })?;
        docs.iter().map(|d| from_doc(d)).collect()
    }

    async fn put_snapshot(&self, snapshot: &DeploymentSnapshot) -> StoreResult<()> {
        let (api, dep, doc) = (
            snapshot.api_id.clone(),
            snapshot.deployment_id.clone(),
            to_doc(snapshot)?,
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO api_deployments (api_id, deployment_id, doc)
                 VALUES (?1, ?2, ?3)",
                params![api, dep, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<DeploymentSnapshot>> {
        let doc: Option<String> = self.read(|c| {
            use rusqlite::OptionalExtension;
            c.prepare_cached(
                "SELECT doc FROM api_deployments WHERE api_id = ?1 AND deployment_id = ?2",
            )
            .map_err(map_err)?
            .query_row([api_id, deployment_id], |r| r.get(0))
            .optional()
            .map_err(map_err)
        })?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    async fn delete_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()> {
        let (api, dep) = (api_id.to_string(), deployment_id.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM api_deployments WHERE api_id = ?1 AND deployment_id = ?2",
                params![api, dep],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }
}
