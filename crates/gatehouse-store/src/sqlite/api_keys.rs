//! `ApiKeyStore` on SQLite: keys as rows with their value hash indexed (the data plane's
//! lookup), usage plans as documents, plan keys and daily usage counters as rows that go with
//! their plan or key.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::doc_tables::{from_doc, to_doc};
use super::{map_err, SqliteStore};
use crate::api_keys::{ApiKey, ApiKeyStore, UsageCount, UsagePlan};
use crate::{Page, StoreError, StoreResult};

/// The members of a key kept in its `doc` column.
#[derive(Serialize, Deserialize, Default)]
struct KeyDoc {
    description: Option<String>,
    enabled: bool,
    generate_distinct_id: bool,
    stage_keys: Vec<String>,
    tags: std::collections::BTreeMap<String, String>,
    created: i64,
    last_updated: i64,
}

const KEY_COLUMNS: &str = "id, value_hash, value, value_sealed, name, customer_id, doc";

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(ApiKey, String)> {
    Ok((
        ApiKey {
            id: r.get(0)?,
            value_hash: r.get(1)?,
            value: r.get(2)?,
            value_sealed: r.get::<_, i64>(3)? != 0,
            name: r.get(4)?,
            customer_id: r.get(5)?,
            ..Default::default()
        },
        r.get(6)?,
    ))
}

fn with_doc((mut key, doc): (ApiKey, String)) -> StoreResult<ApiKey> {
    let d: KeyDoc = from_doc(&doc)?;
    key.description = d.description;
    key.enabled = d.enabled;
    key.generate_distinct_id = d.generate_distinct_id;
    key.stage_keys = d.stage_keys;
    key.tags = d.tags;
    key.created = d.created;
    key.last_updated = d.last_updated;
    Ok(key)
}

fn key_doc(k: &ApiKey) -> StoreResult<String> {
    to_doc(&KeyDoc {
        description: k.description.clone(),
        enabled: k.enabled,
        generate_distinct_id: k.generate_distinct_id,
        stage_keys: k.stage_keys.clone(),
        tags: k.tags.clone(),
        created: k.created,
        last_updated: k.last_updated,
    })
}

fn insert_key(tx: &rusqlite::Transaction<'_>, k: &ApiKey, doc: &str) -> StoreResult<()> {
    tx.execute(
        &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            k.id,
            k.value_hash,
            k.value,
            i64::from(k.value_sealed),
            k.name,
            k.customer_id,
            doc
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

fn count_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UsageCount> {
    Ok(UsageCount {
        plan_id: r.get(0)?,
        key_id: r.get(1)?,
        day: r.get(2)?,
        used: r.get(3)?,
    })
}

fn limit(page: &Page) -> i64 {
    i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000)
}

impl SqliteStore {
    fn query_keys(&self, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<ApiKey>> {
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
            let rows = stmt.query_map(args, key_row).map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })?;
        rows.into_iter().map(with_doc).collect()
    }

    fn query_strings(&self, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
            let rows = stmt.query_map(args, |r| r.get(0)).map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })
    }

    fn query_counts(&self, sql: &str, args: impl rusqlite::Params) -> StoreResult<Vec<UsageCount>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(sql).map_err(map_err)?;
            let rows = stmt.query_map(args, count_row).map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let (key, doc) = (key.clone(), key_doc(key)?);
        self.write(move |tx| insert_key(tx, &key, &doc)).await
    }

    async fn insert_api_keys(&self, keys: &[ApiKey]) -> StoreResult<()> {
        let keys = keys
            .iter()
            .map(|k| Ok((k.clone(), key_doc(k)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(move |tx| {
            for (k, doc) in &keys {
                insert_key(tx, k, doc)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1");
        Ok(self.query_keys(&sql, [id])?.pop())
    }

    async fn get_api_key_by_hash(&self, value_hash: &str) -> StoreResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE value_hash = ?1");
        Ok(self.query_keys(&sql, [value_hash])?.pop())
    }

    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let (id, name, customer, doc) = (
            key.id.clone(),
            key.name.clone(),
            key.customer_id.clone(),
            key_doc(key)?,
        );
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE api_keys SET name = ?2, customer_id = ?3, doc = ?4 WHERE id = ?1",
                    params![id, name, customer, doc],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_api_key(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            if tx
                .execute("DELETE FROM api_keys WHERE id = ?1", [&id])
                .map_err(map_err)?
                == 0
            {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn list_api_keys(&self, page: &Page) -> StoreResult<Vec<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id > ?1 ORDER BY id LIMIT ?2");
        let after = page.after.clone().unwrap_or_default();
        self.query_keys(&sql, params![after, limit(page)])
    }

    async fn insert_usage_plan(&self, plan: &UsagePlan) -> StoreResult<()> {
        let (id, doc) = (plan.id.clone(), to_doc(plan)?);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO usage_plans (id, doc) VALUES (?1, ?2)",
                params![id, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_usage_plan(&self, id: &str) -> StoreResult<Option<UsagePlan>> {
        let doc: Option<String> = self.read(|c| {
            c.prepare_cached("SELECT doc FROM usage_plans WHERE id = ?1")
                .map_err(map_err)?
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(map_err)
        })?;
        doc.map(|d| from_doc(&d)).transpose()
    }

    async fn update_usage_plan(&self, plan: &UsagePlan) -> StoreResult<()> {
        let (id, doc) = (plan.id.clone(), to_doc(plan)?);
        self.write(move |tx| {
            if tx
                .execute(
                    "UPDATE usage_plans SET doc = ?2 WHERE id = ?1",
                    params![id, doc],
                )
                .map_err(map_err)?
                == 0
            {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn delete_usage_plan(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |tx| {
            if tx
                .execute("DELETE FROM usage_plans WHERE id = ?1", [&id])
                .map_err(map_err)?
                == 0
            {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn list_usage_plans(&self, page: &Page) -> StoreResult<Vec<UsagePlan>> {
        let after = page.after.clone().unwrap_or_default();
        let docs = self.query_strings(
            "SELECT doc FROM usage_plans WHERE id > ?1 ORDER BY id LIMIT ?2",
            params![after, limit(page)],
        )?;
        docs.iter().map(|d| from_doc(d)).collect()
    }

    async fn insert_usage_plan_key(&self, plan_id: &str, key_id: &str) -> StoreResult<()> {
        let (plan, key) = (plan_id.to_string(), key_id.to_string());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO usage_plan_keys (plan_id, key_id) VALUES (?1, ?2)",
                params![plan, key],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_usage_plan_key(&self, plan_id: &str, key_id: &str) -> StoreResult<()> {
        let (plan, key) = (plan_id.to_string(), key_id.to_string());
        self.write(move |tx| {
            if tx
                .execute(
                    "DELETE FROM usage_plan_keys WHERE plan_id = ?1 AND key_id = ?2",
                    params![plan, key],
                )
                .map_err(map_err)?
                == 0
            {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    async fn usage_plan_keys(&self, plan_id: &str) -> StoreResult<Vec<String>> {
        self.query_strings(
            "SELECT key_id FROM usage_plan_keys WHERE plan_id = ?1 ORDER BY key_id",
            [plan_id],
        )
    }

    async fn plans_of_key(&self, key_id: &str) -> StoreResult<Vec<String>> {
        self.query_strings(
            "SELECT plan_id FROM usage_plan_keys WHERE key_id = ?1 ORDER BY plan_id",
            [key_id],
        )
    }

    async fn all_usage_plan_keys(&self) -> StoreResult<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT plan_id, key_id FROM usage_plan_keys ORDER BY plan_id, key_id",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })
    }

    async fn add_usage(&self, counts: &[UsageCount]) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let counts = counts.to_vec();
        self.write(move |tx| {
            // Through SELECT, so a count whose plan or key is gone inserts nothing.
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO usage_counters (plan_id, key_id, day, used)
                     SELECT plan_id, key_id, ?3, ?4 FROM usage_plan_keys
                      WHERE plan_id = ?1 AND key_id = ?2
                     ON CONFLICT (plan_id, key_id, day) DO UPDATE SET used = used + excluded.used",
                )
                .map_err(map_err)?;
            for c in &counts {
                stmt.execute(params![c.plan_id, c.key_id, c.day, c.used])
                    .map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<UsageCount>> {
        match key_id {
            Some(key) => self.query_counts(
                "SELECT plan_id, key_id, day, used FROM usage_counters
                  WHERE plan_id = ?1 AND key_id = ?2 AND day >= ?3 AND day <= ?4
                  ORDER BY key_id, day",
                params![plan_id, key, from, to],
            ),
            None => self.query_counts(
                "SELECT plan_id, key_id, day, used FROM usage_counters
                  WHERE plan_id = ?1 AND day >= ?2 AND day <= ?3
                  ORDER BY key_id, day",
                params![plan_id, from, to],
            ),
        }
    }

    async fn usage_since(&self, from: i64) -> StoreResult<Vec<UsageCount>> {
        self.query_counts(
            "SELECT plan_id, key_id, day, used FROM usage_counters WHERE day >= ?1
              ORDER BY plan_id, key_id, day",
            [from],
        )
    }
}
