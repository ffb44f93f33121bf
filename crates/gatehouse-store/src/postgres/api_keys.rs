//! `ApiKeyStore` on PostgreSQL: keys as rows with their value hash unique and indexed (the data
//! plane's lookup), usage plans as JSONB documents, plan keys and daily usage counters as rows
//! that go with their plan or key (foreign keys, ON DELETE CASCADE). Usage is added with one
//! atomic upsert per flush, so counts from several nodes add up and none is lost.

use std::collections::BTreeMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{map_err, PgStore};
use crate::api_keys::{ApiKey, ApiKeyStore, UsageCount, UsagePlan};
use crate::{Page, StoreError, StoreResult};

/// The members of a key kept in its `doc` column (the same shape as SQLite's); `key_row` reads
/// the columns in the order `id, value_hash, value, value_sealed, name, customer_id, doc`.
#[derive(Serialize, Deserialize, Default)]
struct KeyDoc {
    description: Option<String>,
    enabled: bool,
    generate_distinct_id: bool,
    stage_keys: Vec<String>,
    tags: BTreeMap<String, String>,
    created: i64,
    last_updated: i64,
}

fn key_doc(k: &ApiKey) -> StoreResult<Value> {
    serde_json::to_value(KeyDoc {
        description: k.description.clone(),
        enabled: k.enabled,
        generate_distinct_id: k.generate_distinct_id,
        stage_keys: k.stage_keys.clone(),
        tags: k.tags.clone(),
        created: k.created,
        last_updated: k.last_updated,
    })
    .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn key_row(r: &Row) -> StoreResult<ApiKey> {
    let doc: Value = r.try_get(6).map_err(map_err)?;
    let d: KeyDoc = serde_json::from_value(doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(ApiKey {
        id: r.try_get(0).map_err(map_err)?,
        value_hash: r.try_get(1).map_err(map_err)?,
        value: r.try_get(2).map_err(map_err)?,
        value_sealed: r.try_get(3).map_err(map_err)?,
        name: r.try_get(4).map_err(map_err)?,
        customer_id: r.try_get(5).map_err(map_err)?,
        description: d.description,
        enabled: d.enabled,
        generate_distinct_id: d.generate_distinct_id,
        stage_keys: d.stage_keys,
        tags: d.tags,
        created: d.created,
        last_updated: d.last_updated,
    })
}

fn plan_doc(p: &UsagePlan) -> StoreResult<Value> {
    serde_json::to_value(p).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn plan_row(r: &Row) -> StoreResult<UsagePlan> {
    let doc: Value = r.try_get(0).map_err(map_err)?;
    serde_json::from_value(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn count_row(r: &Row) -> StoreResult<UsageCount> {
    Ok(UsageCount {
        plan_id: r.try_get(0).map_err(map_err)?,
        key_id: r.try_get(1).map_err(map_err)?,
        day: r.try_get(2).map_err(map_err)?,
        used: r.try_get(3).map_err(map_err)?,
    })
}

fn limit(page: &Page) -> i64 {
    i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000)
}

fn changed(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query(&stmt, params).await.map_err(map_err)
}

async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.execute(&stmt, params).await.map_err(map_err)
}

async fn insert_key<C: GenericClient>(c: &C, k: &ApiKey) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO api_keys (id, value_hash, value, value_sealed, name, customer_id, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &k.id,
            &k.value_hash,
            &k.value,
            &k.value_sealed,
            &k.name,
            &k.customer_id,
            &key_doc(k)?,
        ],
    )
    .await
    .map(drop)
}

impl PgStore {
    async fn key_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let c = self.client().await?;
        query(&c, sql, params).await
    }

    async fn key_execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let c = self.client().await?;
        execute(&c, sql, params).await
    }

    async fn plan_key_ids(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<String>> {
        self.key_rows(sql, params)
            .await?
            .iter()
            .map(|r| r.try_get(0).map_err(map_err))
            .collect()
    }

    async fn usage_rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<UsageCount>> {
        self.key_rows(sql, params)
            .await?
            .iter()
            .map(count_row)
            .collect()
    }
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let c = self.client().await?;
        insert_key(&c, key).await
    }

    async fn insert_api_keys(&self, keys: &[ApiKey]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        for k in keys {
            insert_key(&tx, k).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        self.key_rows(
            "SELECT id, value_hash, value, value_sealed, name, customer_id, doc
               FROM api_keys WHERE id = $1",
            &[&id],
        )
        .await?
        .first()
        .map(key_row)
        .transpose()
    }

    async fn get_api_key_by_hash(&self, value_hash: &str) -> StoreResult<Option<ApiKey>> {
        self.key_rows(
            "SELECT id, value_hash, value, value_sealed, name, customer_id, doc
               FROM api_keys WHERE value_hash = $1",
            &[&value_hash],
        )
        .await?
        .first()
        .map(key_row)
        .transpose()
    }

    async fn update_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let n = self
            .key_execute(
                "UPDATE api_keys SET name = $2, customer_id = $3, doc = $4 WHERE id = $1",
                &[&key.id, &key.name, &key.customer_id, &key_doc(key)?],
            )
            .await?;
        changed(n)
    }

    async fn delete_api_key(&self, id: &str) -> StoreResult<()> {
        // Its plan keys and counters go with it (ON DELETE CASCADE, same statement).
        let n = self
            .key_execute("DELETE FROM api_keys WHERE id = $1", &[&id])
            .await?;
        changed(n)
    }

    async fn list_api_keys(&self, page: &Page) -> StoreResult<Vec<ApiKey>> {
        let after = page.after.as_deref().unwrap_or("");
        self.key_rows(
            "SELECT id, value_hash, value, value_sealed, name, customer_id, doc
               FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &limit(page)],
        )
        .await?
        .iter()
        .map(key_row)
        .collect()
    }

    async fn insert_usage_plan(&self, plan: &UsagePlan) -> StoreResult<()> {
        self.key_execute(
            "INSERT INTO usage_plans (id, doc) VALUES ($1, $2)",
            &[&plan.id, &plan_doc(plan)?],
        )
        .await
        .map(drop)
    }

    async fn get_usage_plan(&self, id: &str) -> StoreResult<Option<UsagePlan>> {
        self.key_rows("SELECT doc FROM usage_plans WHERE id = $1", &[&id])
            .await?
            .first()
            .map(plan_row)
            .transpose()
    }

    async fn update_usage_plan(&self, plan: &UsagePlan) -> StoreResult<()> {
        let n = self
            .key_execute(
                "UPDATE usage_plans SET doc = $2 WHERE id = $1",
                &[&plan.id, &plan_doc(plan)?],
            )
            .await?;
        changed(n)
    }

    async fn delete_usage_plan(&self, id: &str) -> StoreResult<()> {
        let n = self
            .key_execute("DELETE FROM usage_plans WHERE id = $1", &[&id])
            .await?;
        changed(n)
    }

    async fn list_usage_plans(&self, page: &Page) -> StoreResult<Vec<UsagePlan>> {
        let after = page.after.as_deref().unwrap_or("");
        self.key_rows(
            "SELECT doc FROM usage_plans WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &limit(page)],
        )
        .await?
        .iter()
        .map(plan_row)
        .collect()
    }

    async fn insert_usage_plan_key(&self, plan_id: &str, key_id: &str) -> StoreResult<()> {
        self.key_execute(
            "INSERT INTO usage_plan_keys (plan_id, key_id) VALUES ($1, $2)",
            &[&plan_id, &key_id],
        )
        .await
        .map(drop)
    }

    async fn delete_usage_plan_key(&self, plan_id: &str, key_id: &str) -> StoreResult<()> {
        let n = self
            .key_execute(
                "DELETE FROM usage_plan_keys WHERE plan_id = $1 AND key_id = $2",
                &[&plan_id, &key_id],
            )
            .await?;
        changed(n)
    }

    async fn usage_plan_keys(&self, plan_id: &str) -> StoreResult<Vec<String>> {
        self.plan_key_ids(
            "SELECT key_id FROM usage_plan_keys WHERE plan_id = $1 ORDER BY key_id",
            &[&plan_id],
        )
        .await
    }

    async fn plans_of_key(&self, key_id: &str) -> StoreResult<Vec<String>> {
        self.plan_key_ids(
            "SELECT plan_id FROM usage_plan_keys WHERE key_id = $1 ORDER BY plan_id",
            &[&key_id],
        )
        .await
    }

    async fn all_usage_plan_keys(&self) -> StoreResult<Vec<(String, String)>> {
        self.key_rows(
            "SELECT plan_id, key_id FROM usage_plan_keys ORDER BY plan_id, key_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(map_err)?,
                r.try_get(1).map_err(map_err)?,
            ))
        })
        .collect()
    }

    async fn add_usage(&self, counts: &[UsageCount]) -> StoreResult<()> {
        // Summed per counter first: one statement may not upsert the same row twice. Ordered,
        // so concurrent flushes from several nodes lock counters in the same order.
        let mut sums: BTreeMap<(&str, &str, i64), i64> = BTreeMap::new();
        for c in counts {
            let used = sums
                .entry((c.plan_id.as_str(), c.key_id.as_str(), c.day))
                .or_insert(0);
            *used = used.saturating_add(c.used);
        }
        if sums.is_empty() {
            return Ok(());
        }
        let (mut plans, mut keys, mut days, mut used) = (vec![], vec![], vec![], vec![]);
        for ((plan, key, day), n) in &sums {
            plans.push(*plan);
            keys.push(*key);
            days.push(*day);
            used.push(*n);
        }
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // Hold the plans and keys (KEY SHARE, in id order) so one deleted meanwhile is either
        // gone before the insert reads the plan keys (its counts are dropped) or waits for this
        // transaction (and then deletes the counters with it): never a foreign-key error.
        execute(
            &tx,
            "SELECT 1 FROM usage_plans WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE",
            &[&plans],
        )
        .await?;
        execute(
            &tx,
            "SELECT 1 FROM api_keys WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE",
            &[&keys],
        )
        .await?;
        // Through usage_plan_keys, so a count whose key is not (or no longer) in the plan
        // inserts nothing.
        execute(
            &tx,
            "INSERT INTO usage_counters (plan_id, key_id, day, used)
             SELECT pk.plan_id, pk.key_id, c.day, c.used
               FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[])
                    WITH ORDINALITY AS c(plan_id, key_id, day, used, ord)
               JOIN usage_plan_keys pk ON pk.plan_id = c.plan_id AND pk.key_id = c.key_id
              ORDER BY c.ord
             ON CONFLICT (plan_id, key_id, day) DO UPDATE SET used = usage_counters.used + EXCLUDED.used",
            &[&plans, &keys, &days, &used],
        )
        .await?;
        tx.commit().await.map_err(map_err)
    }

    async fn usage(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<UsageCount>> {
        match key_id {
            Some(key) => {
                self.usage_rows(
                    "SELECT plan_id, key_id, day, used FROM usage_counters
                      WHERE plan_id = $1 AND key_id = $2 AND day >= $3 AND day <= $4
                      ORDER BY key_id, day",
                    &[&plan_id, &key, &from, &to],
                )
                .await
            }
            None => {
                self.usage_rows(
                    "SELECT plan_id, key_id, day, used FROM usage_counters
                      WHERE plan_id = $1 AND day >= $2 AND day <= $3
                      ORDER BY key_id, day",
                    &[&plan_id, &from, &to],
                )
                .await
            }
        }
    }

    async fn usage_since(&self, from: i64) -> StoreResult<Vec<UsageCount>> {
        self.usage_rows(
            "SELECT plan_id, key_id, day, used FROM usage_counters WHERE day >= $1
              ORDER BY plan_id, key_id, day",
            &[&from],
        )
        .await
    }
}
