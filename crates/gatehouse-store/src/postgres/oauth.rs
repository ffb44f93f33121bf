//! OAuthConfigStore on PostgreSQL: domains, resource servers and UI customizations as JSONB
//! documents keyed by their identities; the logo as BYTEA beside its document. A resource
//! server change rewrites the pool's clients in its own transaction, with the clients locked
//! (`FOR UPDATE`) so a concurrent client update is neither lost nor overwritten.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{map_err, PgStore};
use crate::oauth::{
    ClientRewrite, OAuthConfigStore, ResourceServer, UiCustomization, UserPoolDomain,
};
use crate::{AppClient, Page, StoreError, StoreResult};

fn to_doc<T: Serialize>(v: &T) -> StoreResult<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(row: &Row, idx: usize) -> StoreResult<T> {
    let v: Value = row.try_get(idx).map_err(map_err)?;
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn kind(d: &UserPoolDomain) -> &'static str {
    if d.custom {
        "custom"
    } else {
        "prefix"
    }
}

fn changed(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.execute(&stmt, params).await.map_err(map_err)
}

async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query(&stmt, params).await.map_err(map_err)
}

/// Rewrites the pool's clients inside a resource-server change. The clients are locked in id
/// order (two changes in one pool queue rather than deadlock).
async fn rewrite_clients<C: GenericClient>(
    tx: &C,
    pool_id: &str,
    rewrite: &ClientRewrite,
) -> StoreResult<()> {
    let rows = query(
        tx,
        "SELECT client_id, doc FROM app_clients WHERE pool_id = $1
         ORDER BY client_id FOR UPDATE",
        &[&pool_id],
    )
    .await?;
    for row in &rows {
        let id: String = row.try_get(0).map_err(map_err)?;
        let client: AppClient = from_doc(row, 1)?;
        if let Some(new) = rewrite(&client) {
            execute(
                tx,
                "UPDATE app_clients SET doc = $2 WHERE client_id = $1",
                &[&id, &to_doc(&new)?],
            )
            .await?;
        }
    }
    Ok(())
}

impl PgStore {
    async fn oauth_docs<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<T>> {
        let c = self.client().await?;
        query(&c, sql, params)
            .await?
            .iter()
            .map(|r| from_doc(r, 0))
            .collect()
    }

    async fn oauth_execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let c = self.client().await?;
        execute(&c, sql, params).await
    }
}

#[async_trait]
impl OAuthConfigStore for PgStore {
    async fn insert_domain(&self, domain: &UserPoolDomain) -> StoreResult<()> {
        self.oauth_execute(
            "INSERT INTO user_pool_domains (domain, pool_id, kind, doc) VALUES ($1, $2, $3, $4)",
            &[
                &domain.domain,
                &domain.pool_id,
                &kind(domain),
                &to_doc(domain)?,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_domain(&self, domain: &str) -> StoreResult<Option<UserPoolDomain>> {
        Ok(self
            .oauth_docs(
                "SELECT doc FROM user_pool_domains WHERE domain = $1",
                &[&domain],
            )
            .await?
            .pop())
    }

    async fn pool_domains(&self, pool_id: &str) -> StoreResult<Vec<UserPoolDomain>> {
        // 'custom' < 'prefix': descending puts the prefix first.
        self.oauth_docs(
            "SELECT doc FROM user_pool_domains WHERE pool_id = $1 ORDER BY kind DESC",
            &[&pool_id],
        )
        .await
    }

    async fn update_domain(&self, domain: &UserPoolDomain) -> StoreResult<()> {
        let n = self
            .oauth_execute(
                "UPDATE user_pool_domains SET doc = $3 WHERE domain = $1 AND pool_id = $2",
                &[&domain.domain, &domain.pool_id, &to_doc(domain)?],
            )
            .await?;
        changed(n)
    }

    async fn delete_domain(&self, pool_id: &str, domain: &str) -> StoreResult<()> {
        let n = self
            .oauth_execute(
                "DELETE FROM user_pool_domains WHERE domain = $1 AND pool_id = $2",
                &[&domain, &pool_id],
            )
            .await?;
        changed(n)
    }

    async fn insert_resource_server(&self, server: &ResourceServer) -> StoreResult<()> {
        self.oauth_execute(
            "INSERT INTO resource_servers (pool_id, identifier, doc) VALUES ($1, $2, $3)",
            &[&server.pool_id, &server.identifier, &to_doc(server)?],
        )
        .await
        .map(drop)
    }

    async fn get_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<Option<ResourceServer>> {
        Ok(self
            .oauth_docs(
                "SELECT doc FROM resource_servers WHERE pool_id = $1 AND identifier = $2",
                &[&pool_id, &identifier],
            )
            .await?
            .pop())
    }

    async fn list_resource_servers(
        &self,
        pool_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<ResourceServer>> {
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let after = page.after.as_deref().unwrap_or("");
        self.oauth_docs(
            "SELECT doc FROM resource_servers WHERE pool_id = $1 AND identifier > $2
             ORDER BY identifier LIMIT $3",
            &[&pool_id, &after, &limit],
        )
        .await
    }

    async fn update_resource_server(
        &self,
        server: &ResourceServer,
        rewrite: ClientRewrite,
    ) -> StoreResult<()> {
        let doc = to_doc(server)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let n = execute(
            &tx,
            "UPDATE resource_servers SET doc = $3 WHERE pool_id = $1 AND identifier = $2",
            &[&server.pool_id, &server.identifier, &doc],
        )
        .await?;
        changed(n)?;
        rewrite_clients(&tx, &server.pool_id, &rewrite).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        rewrite: ClientRewrite,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        let n = execute(
            &tx,
            "DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2",
            &[&pool_id, &identifier],
        )
        .await?;
        changed(n)?;
        rewrite_clients(&tx, pool_id, &rewrite).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn put_ui_customization(&self, ui: &UiCustomization) -> StoreResult<()> {
        self.oauth_execute(
            "INSERT INTO ui_customizations (pool_id, client_id, doc, image)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (pool_id, client_id) DO UPDATE
             SET doc = EXCLUDED.doc, image = EXCLUDED.image",
            &[&ui.pool_id, &ui.client_id, &to_doc(ui)?, &ui.image],
        )
        .await
        .map(drop)
    }

    async fn delete_ui_customization(&self, pool_id: &str, client_id: &str) -> StoreResult<()> {
        self.oauth_execute(
            "DELETE FROM ui_customizations WHERE pool_id = $1 AND client_id = $2",
            &[&pool_id, &client_id],
        )
        .await
        .map(drop)
    }

    async fn get_ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<UiCustomization>> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT doc, image FROM ui_customizations WHERE pool_id = $1 AND client_id = $2",
            &[&pool_id, &client_id],
        )
        .await?;
        rows.first()
            .map(|row| {
                let mut ui: UiCustomization = from_doc(row, 0)?;
                ui.image = row.try_get(1).map_err(map_err)?;
                Ok(ui)
            })
            .transpose()
    }
}
