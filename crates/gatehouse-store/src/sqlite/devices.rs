//! DeviceStore on SQLite: one JSON document per device, keyed by pool and device key, indexed
//! by user.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{map_err, SqliteStore};
use crate::{Device, DeviceStore, Page, StoreError, StoreResult};

fn to_doc(d: &Device) -> StoreResult<String> {
    serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc(s: &str) -> StoreResult<Device> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[tokio::test]
    async fn pending_devices_do_not_pile_up_and_lists_skip_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).unwrap();
        // Foreign keys: the device needs its user; reuse the aggregate API.
        use crate::*;
        let pool = UserPool {
            id: "us-east-1_abc".into(),
            name: "p".into(),
            created: 0,
            modified: 0,
            password_policy: PasswordPolicy::default(),
            username_attributes: vec![],
            alias_attributes: vec![],
            auto_verified_attributes: vec![],
            schema: vec![],
            mfa_configuration: "OFF".into(),
            admin_create_user: AdminCreateUserConfig::default(),
            deletion_protection: false,
            username_case_sensitive: false,
            attributes_require_verification_before_update: vec![],
            settings: BTreeMap::new(),
        };
        store.insert_pool(&pool).await.unwrap();
        let user = User {
            pool_id: pool.id.clone(),
            username: "alice".into(),
            sub: "s1".into(),
            status: UserStatus::Confirmed,
            enabled: true,
            password_hash: None,
            temporary_password_expires: None,
            attributes: BTreeMap::new(),
            created: 0,
            modified: 0,
            extra: BTreeMap::new(),
        };
        store.insert_user(&user, "alice").await.unwrap();
        let dev = |key: &str, created: i64, confirmed: bool| Device {
            pool_id: pool.id.clone(),
            sub: "s1".into(),
            device_key: key.into(),
            device_group_key: "-g".into(),
            confirmed,
            remembered_status: None,
            verifier: None,
            attributes: BTreeMap::new(),
            created,
            modified: created,
            last_authenticated: None,
        };
        store
            .add_pending_device(&dev("k1", 10, false), 0)
            .await
            .unwrap();
        store.put_device(&dev("k0", 5, true)).await.unwrap();
        store
            .add_pending_device(&dev("k2", 100, false), 50)
            .await
            .unwrap();
        assert!(store.get_device(&pool.id, "k1").await.unwrap().is_none());
        assert!(store.get_device(&pool.id, "k2").await.unwrap().is_some());
        let page = Page {
            limit: 10,
            after: None,
        };
        let listed = store.list_devices(&pool.id, "s1", &page).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].device_key, "k0");
        store.delete_device(&pool.id, "k0").await.unwrap();
        assert!(matches!(
            store.delete_device(&pool.id, "k0").await,
            Err(StoreError::NotFound)
        ));
        // Deleting the user deletes its devices.
        store.delete_user(&pool.id, "s1").await.unwrap();
        assert!(store.get_device(&pool.id, "k2").await.unwrap().is_none());
    }
}
