//! DeviceStore on PostgreSQL: one JSONB document per device, keyed by pool and device key,
//! indexed by user; the devices go with their user (foreign key, ON DELETE CASCADE).

use async_trait::async_trait;
use serde_json::Value;
use tokio_postgres::Row;

use super::{map_err, PgStore};
use crate::{Device, DeviceStore, Page, StoreError, StoreResult};

fn to_doc(d: &Device) -> StoreResult<Value> {
    serde_json::to_value(d).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc(row: &Row) -> StoreResult<Device> {
    let v: Value = row.try_get(0).map_err(map_err)?;
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn put_device(&self, device: &Device) -> StoreResult<()> {
        let d = device;
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO devices (pool_id, device_key, sub, confirmed, created, doc)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (pool_id, device_key) DO UPDATE
                 SET sub = EXCLUDED.sub, confirmed = EXCLUDED.confirmed,
                     created = EXCLUDED.created, doc = EXCLUDED.doc",
            )
            .await
            .map_err(map_err)?;
        c.execute(
            &stmt,
            &[
                &d.pool_id,
                &d.device_key,
                &d.sub,
                &d.confirmed,
                &d.created,
                &to_doc(d)?,
            ],
        )
        .await
        .map_err(map_err)
        .map(drop)
    }

    async fn add_pending_device(&self, device: &Device, stale_before: i64) -> StoreResult<()> {
        let d = device;
        let doc = to_doc(d)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let sweep = tx
            .prepare_cached(
                "DELETE FROM devices
                 WHERE pool_id = $1 AND sub = $2 AND NOT confirmed AND created < $3",
            )
            .await
            .map_err(map_err)?;
        tx.execute(&sweep, &[&d.pool_id, &d.sub, &stale_before])
            .await
            .map_err(map_err)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO devices (pool_id, device_key, sub, confirmed, created, doc)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await
            .map_err(map_err)?;
        tx.execute(
            &insert,
            &[
                &d.pool_id,
                &d.device_key,
                &d.sub,
                &d.confirmed,
                &d.created,
                &doc,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn get_device(&self, pool_id: &str, device_key: &str) -> StoreResult<Option<Device>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT doc FROM devices WHERE pool_id = $1 AND device_key = $2")
            .await
            .map_err(map_err)?;
        c.query_opt(&stmt, &[&pool_id, &device_key])
            .await
            .map_err(map_err)?
            .map(|r| from_doc(&r))
            .transpose()
    }

    async fn list_devices(
        &self,
        pool_id: &str,
        sub: &str,
        page: &Page,
    ) -> StoreResult<Vec<Device>> {
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let after = page.after.as_deref().unwrap_or("");
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT doc FROM devices
                 WHERE pool_id = $1 AND sub = $2 AND confirmed AND device_key > $3
                 ORDER BY device_key LIMIT $4",
            )
            .await
            .map_err(map_err)?;
        c.query(&stmt, &[&pool_id, &sub, &after, &limit])
            .await
            .map_err(map_err)?
            .iter()
            .map(from_doc)
            .collect()
    }

    async fn delete_device(&self, pool_id: &str, device_key: &str) -> StoreResult<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("DELETE FROM devices WHERE pool_id = $1 AND device_key = $2")
            .await
            .map_err(map_err)?;
        let n = c
            .execute(&stmt, &[&pool_id, &device_key])
            .await
            .map_err(map_err)?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}
