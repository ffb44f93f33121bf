//! DeviceStore on SQLite: one JSON document per device, keyed by pool and device key, indexed
//! by user.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::doc_tables::{from_doc, to_doc};
use super::{map_err, SqliteStore};
use crate::{Device, DeviceStore, Page, StoreError, StoreResult};

const UPSERT: &str =
    "INSERT OR REPLACE INTO devices (pool_id, device_key, sub, confirmed, created, doc)
                      VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        let d = device.clone();
        let doc = to_doc(&d)?;
        self.write(move |tx| {
            tx.execute(
                UPSERT,
                params![d.pool_id, d.device_key, d.sub, d.confirmed, d.created, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn add_pending_device(&self, device: &Device, stale_before: i64) -> StoreResult<()> {
        let d = device.clone();
        let doc = to_doc(&d)?;
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM devices
                 WHERE pool_id = ?1 AND sub = ?2 AND confirmed = 0 AND created < ?3",
                params![d.pool_id, d.sub, stale_before],
            )
            .map_err(map_err)?;
            tx.execute(
                "INSERT INTO devices (pool_id, device_key, sub, confirmed, created, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![d.pool_id, d.device_key, d.sub, d.confirmed, d.created, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<Device>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT doc FROM devices WHERE pool_id = ?1 AND device_key = ?2")
                .map_err(map_err)?;
            let doc: Option<String> = stmt
                .query_row(params![pool_id, device_key], |r| r.get(0))
                .optional()
                .map_err(map_err)?;
            doc.map(|d| from_doc(&d)).transpose()
        })
    }

    async fn list_devices(
        &self,
        pool_id: &str,
        sub: &str,
        page: &Page,
    ) -> StoreResult<Vec<Device>> {
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let after = page.after.clone().unwrap_or_default();
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT doc FROM devices
                     WHERE pool_id = ?1 AND sub = ?2 AND confirmed = 1 AND device_key > ?3
                     ORDER BY device_key LIMIT ?4",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![pool_id, sub, after, limit], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(from_doc(&row.map_err(map_err)?)?);
            }
            Ok(out)
        })
    }

    async fn delete_device(&self, pool_id: &str, device_key: &str) -> StoreResult<()> {
        let (pool_id, device_key) = (pool_id.to_string(), device_key.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM devices WHERE pool_id = ?1 AND device_key = ?2",
                    params![pool_id, device_key],
                )
                .map_err(map_err)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }
}
