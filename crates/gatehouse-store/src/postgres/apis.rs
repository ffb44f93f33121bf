//! HTTP APIs, REST APIs and custom domain names on PostgreSQL (migration 0002): one JSONB
//! document per API or domain name, the deployment snapshots of an API in their own table (they
//! go with it by `ON DELETE CASCADE`), one row per API mapping. Every change is one statement.
//!
//! `ApiStore` forwards to the inherent `*_http_*` methods (which need no `ApiKeyStore`).

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{map_err, PgStore};
use crate::apis::{ApiStore, DeploymentSnapshot, HttpApi};
use crate::domains::{ApiMapping, DomainName, DomainStore};
use crate::rest_apis::{RestApi, RestApiStore, RestDeploymentSnapshot};
use crate::{Page, StoreError, StoreResult};

fn to_doc<T: Serialize>(v: &T) -> StoreResult<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(row: &Row) -> StoreResult<T> {
    let v: Value = row.try_get(0).map_err(map_err)?;
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn limit(page: &Page) -> i64 {
    i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000)
}

fn expect_changed(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

impl PgStore {
    async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
        c.query(&stmt, params).await.map_err(map_err)
    }

    async fn changed(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
        c.execute(&stmt, params).await.map_err(map_err)
    }

    async fn doc_opt<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<T>> {
        self.rows(sql, params)
            .await?
            .first()
            .map(from_doc)
            .transpose()
    }

    async fn doc_list<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<T>> {
        self.rows(sql, params).await?.iter().map(from_doc).collect()
    }
}

/// The statements of one kind of API: `{table}(id, doc)` and
/// `{snapshots}(api_id, deployment_id, doc)`. Table names are compile-time constants; values
/// are always bind parameters.
struct DocTables {
    insert: &'static str,
    get: &'static str,
    update: &'static str,
    delete: &'static str,
    list: &'static str,
    put_snapshot: &'static str,
    get_snapshot: &'static str,
    delete_snapshot: &'static str,
}

macro_rules! doc_tables {
    ($table:literal, $snapshots:literal) => {
        DocTables {
            insert: concat!("INSERT INTO ", $table, " (id, doc) VALUES ($1, $2)"),
            get: concat!("SELECT doc FROM ", $table, " WHERE id = $1"),
            update: concat!("UPDATE ", $table, " SET doc = $2 WHERE id = $1"),
            // Snapshots go by ON DELETE CASCADE.
            delete: concat!("DELETE FROM ", $table, " WHERE id = $1"),
            list: concat!(
                "SELECT doc FROM ",
                $table,
                " WHERE id > $1 ORDER BY id LIMIT $2"
            ),
            // A snapshot of an API that is not there is a foreign-key Conflict, as on SQLite.
            put_snapshot: concat!(
                "INSERT INTO ",
                $snapshots,
                " (api_id, deployment_id, doc) VALUES ($1, $2, $3)
                 ON CONFLICT (api_id, deployment_id) DO UPDATE SET doc = EXCLUDED.doc"
            ),
            get_snapshot: concat!(
                "SELECT doc FROM ",
                $snapshots,
                " WHERE api_id = $1 AND deployment_id = $2"
            ),
            delete_snapshot: concat!(
                "DELETE FROM ",
                $snapshots,
                " WHERE api_id = $1 AND deployment_id = $2"
            ),
        }
    };
}

const HTTP: DocTables = doc_tables!("http_apis", "api_deployments");
const REST: DocTables = doc_tables!("rest_apis", "rest_api_deployments");

impl DocTables {
    async fn insert<T: Serialize>(&self, s: &PgStore, id: &str, v: &T) -> StoreResult<()> {
        s.changed(self.insert, &[&id, &to_doc(v)?]).await.map(drop)
    }

    async fn get<T: DeserializeOwned>(&self, s: &PgStore, id: &str) -> StoreResult<Option<T>> {
        s.doc_opt(self.get, &[&id]).await
    }

    async fn update<T: Serialize>(&self, s: &PgStore, id: &str, v: &T) -> StoreResult<()> {
        expect_changed(s.changed(self.update, &[&id, &to_doc(v)?]).await?)
    }

    async fn delete(&self, s: &PgStore, id: &str) -> StoreResult<()> {
        expect_changed(s.changed(self.delete, &[&id]).await?)
    }

    async fn list<T: DeserializeOwned>(&self, s: &PgStore, page: &Page) -> StoreResult<Vec<T>> {
        let after = page.after.clone().unwrap_or_default();
        s.doc_list(self.list, &[&after, &limit(page)]).await
    }

    async fn put_snapshot<T: Serialize>(
        &self,
        s: &PgStore,
        api_id: &str,
        deployment_id: &str,
        v: &T,
    ) -> StoreResult<()> {
        s.changed(self.put_snapshot, &[&api_id, &deployment_id, &to_doc(v)?])
            .await
            .map(drop)
    }

    async fn get_snapshot<T: DeserializeOwned>(
        &self,
        s: &PgStore,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<T>> {
        s.doc_opt(self.get_snapshot, &[&api_id, &deployment_id])
            .await
    }

    async fn delete_snapshot(
        &self,
        s: &PgStore,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<()> {
        s.changed(self.delete_snapshot, &[&api_id, &deployment_id])
            .await
            .map(drop)
    }
}

/// The HTTP-API (API Gateway v2) half of `ApiStore`, with its semantics: Conflict on a taken
/// id, NotFound on updating or deleting a missing API, listings ordered by id.
impl PgStore {
    pub async fn insert_http_api(&self, api: &HttpApi) -> StoreResult<()> {
        HTTP.insert(self, &api.id, api).await
    }

    pub async fn get_http_api(&self, api_id: &str) -> StoreResult<Option<HttpApi>> {
        HTTP.get(self, api_id).await
    }

    pub async fn update_http_api(&self, api: &HttpApi) -> StoreResult<()> {
        HTTP.update(self, &api.id, api).await
    }

    /// Deletes the API and its deployment snapshots.
    pub async fn delete_http_api(&self, api_id: &str) -> StoreResult<()> {
        HTTP.delete(self, api_id).await
    }

    pub async fn list_http_apis(&self, page: &Page) -> StoreResult<Vec<HttpApi>> {
        HTTP.list(self, page).await
    }

    pub async fn put_http_snapshot(&self, snapshot: &DeploymentSnapshot) -> StoreResult<()> {
        HTTP.put_snapshot(self, &snapshot.api_id, &snapshot.deployment_id, snapshot)
            .await
    }

    pub async fn get_http_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<DeploymentSnapshot>> {
        HTTP.get_snapshot(self, api_id, deployment_id).await
    }

    pub async fn delete_http_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()> {
        HTTP.delete_snapshot(self, api_id, deployment_id).await
    }
}

#[async_trait]
impl ApiStore for PgStore {
    async fn insert_api(&self, api: &HttpApi) -> StoreResult<()> {
        self.insert_http_api(api).await
    }

    async fn get_api(&self, api_id: &str) -> StoreResult<Option<HttpApi>> {
        self.get_http_api(api_id).await
    }

    async fn update_api(&self, api: &HttpApi) -> StoreResult<()> {
        self.update_http_api(api).await
    }

    async fn delete_api(&self, api_id: &str) -> StoreResult<()> {
        self.delete_http_api(api_id).await
    }

    async fn list_apis(&self, page: &Page) -> StoreResult<Vec<HttpApi>> {
        self.list_http_apis(page).await
    }

    async fn put_snapshot(&self, snapshot: &DeploymentSnapshot) -> StoreResult<()> {
        self.put_http_snapshot(snapshot).await
    }

    async fn get_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<DeploymentSnapshot>> {
        self.get_http_snapshot(api_id, deployment_id).await
    }

    async fn delete_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()> {
        self.delete_http_snapshot(api_id, deployment_id).await
    }
}

#[async_trait]
impl RestApiStore for PgStore {
    async fn insert_rest_api(&self, api: &RestApi) -> StoreResult<()> {
        REST.insert(self, &api.id, api).await
    }

    async fn get_rest_api(&self, api_id: &str) -> StoreResult<Option<RestApi>> {
        REST.get(self, api_id).await
    }

    async fn update_rest_api(&self, api: &RestApi) -> StoreResult<()> {
        REST.update(self, &api.id, api).await
    }

    async fn delete_rest_api(&self, api_id: &str) -> StoreResult<()> {
        REST.delete(self, api_id).await
    }

    async fn list_rest_apis(&self, page: &Page) -> StoreResult<Vec<RestApi>> {
        REST.list(self, page).await
    }

    async fn put_rest_snapshot(&self, snapshot: &RestDeploymentSnapshot) -> StoreResult<()> {
        REST.put_snapshot(self, &snapshot.api_id, &snapshot.deployment_id, snapshot)
            .await
    }

    async fn get_rest_snapshot(
        &self,
        api_id: &str,
        deployment_id: &str,
    ) -> StoreResult<Option<RestDeploymentSnapshot>> {
        REST.get_snapshot(self, api_id, deployment_id).await
    }

    async fn delete_rest_snapshot(&self, api_id: &str, deployment_id: &str) -> StoreResult<()> {
        REST.delete_snapshot(self, api_id, deployment_id).await
    }
}

fn mapping(r: &Row) -> StoreResult<ApiMapping> {
    Ok(ApiMapping {
        domain_name: r.try_get(0).map_err(map_err)?,
        id: r.try_get(1).map_err(map_err)?,
        api_id: r.try_get(2).map_err(map_err)?,
        stage: r.try_get(3).map_err(map_err)?,
        key: r.try_get(4).map_err(map_err)?,
    })
}

impl PgStore {
    async fn mappings(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<ApiMapping>> {
        self.rows(sql, params).await?.iter().map(mapping).collect()
    }
}

#[async_trait]
impl DomainStore for PgStore {
    async fn insert_domain_name(&self, domain: &DomainName) -> StoreResult<()> {
        self.changed(
            "INSERT INTO domain_names (name, doc) VALUES ($1, $2)",
            &[&domain.name, &to_doc(domain)?],
        )
        .await
        .map(drop)
    }

    async fn get_domain_name(&self, name: &str) -> StoreResult<Option<DomainName>> {
        self.doc_opt("SELECT doc FROM domain_names WHERE name = $1", &[&name])
            .await
    }

    async fn update_domain_name(&self, domain: &DomainName) -> StoreResult<()> {
        expect_changed(
            self.changed(
                "UPDATE domain_names SET doc = $2 WHERE name = $1",
                &[&domain.name, &to_doc(domain)?],
            )
            .await?,
        )
    }

    /// Its mappings go by ON DELETE CASCADE.
    async fn delete_domain_name(&self, name: &str) -> StoreResult<()> {
        expect_changed(
            self.changed("DELETE FROM domain_names WHERE name = $1", &[&name])
                .await?,
        )
    }

    async fn list_domain_names(&self, page: &Page) -> StoreResult<Vec<DomainName>> {
        let after = page.after.clone().unwrap_or_default();
        self.doc_list(
            "SELECT doc FROM domain_names WHERE name > $1 ORDER BY name LIMIT $2",
            &[&after, &limit(page)],
        )
        .await
    }

    /// One statement: no row inserted means the domain is not there (NotFound); a taken id or
    /// key is a unique violation (Conflict). The foreign key still holds against a concurrent
    /// delete of the domain (then a Conflict).
    async fn insert_api_mapping(&self, m: &ApiMapping) -> StoreResult<()> {
        expect_changed(
            self.changed(
                "INSERT INTO api_mappings (domain_name, id, api_id, stage, mapping_key)
                 SELECT name, $2, $3, $4, $5 FROM domain_names WHERE name = $1",
                &[&m.domain_name, &m.id, &m.api_id, &m.stage, &m.key],
            )
            .await?,
        )
    }

    async fn get_api_mapping(&self, domain: &str, id: &str) -> StoreResult<Option<ApiMapping>> {
        Ok(self
            .mappings(
                "SELECT domain_name, id, api_id, stage, mapping_key FROM api_mappings
                 WHERE domain_name = $1 AND id = $2",
                &[&domain, &id],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn update_api_mapping(&self, m: &ApiMapping) -> StoreResult<()> {
        expect_changed(
            self.changed(
                "UPDATE api_mappings SET api_id = $3, stage = $4, mapping_key = $5
                 WHERE domain_name = $1 AND id = $2",
                &[&m.domain_name, &m.id, &m.api_id, &m.stage, &m.key],
            )
            .await?,
        )
    }

    async fn delete_api_mapping(&self, domain: &str, id: &str) -> StoreResult<()> {
        expect_changed(
            self.changed(
                "DELETE FROM api_mappings WHERE domain_name = $1 AND id = $2",
                &[&domain, &id],
            )
            .await?,
        )
    }

    async fn list_api_mappings(&self, domain: &str) -> StoreResult<Vec<ApiMapping>> {
        self.mappings(
            "SELECT domain_name, id, api_id, stage, mapping_key FROM api_mappings
             WHERE domain_name = $1 ORDER BY id",
            &[&domain],
        )
        .await
    }

    async fn api_mappings_to(
        &self,
        api_id: &str,
        stage: Option<&str>,
    ) -> StoreResult<Vec<ApiMapping>> {
        // `$2::text IS NULL` keeps one prepared statement for both; the index on (api_id, stage)
        // answers either way.
        self.mappings(
            "SELECT domain_name, id, api_id, stage, mapping_key FROM api_mappings
             WHERE api_id = $1 AND ($2::text IS NULL OR stage = $2)
             ORDER BY domain_name, id",
            &[&api_id, &stage],
        )
        .await
    }

    async fn all_api_mappings(&self) -> StoreResult<Vec<ApiMapping>> {
        self.mappings(
            "SELECT domain_name, id, api_id, stage, mapping_key FROM api_mappings
             ORDER BY domain_name, id",
            &[],
        )
        .await
    }
}
