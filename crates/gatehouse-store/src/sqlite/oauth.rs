//! OAuthConfigStore on SQLite: domains, resource servers and UI customizations as JSON
//! documents keyed by their identities; the logo as a BLOB beside its document.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Transaction};

use super::doc_tables::{expect_changed, from_doc, query_docs, to_doc};
use super::{map_err, SqliteStore};
use crate::oauth::{
    ClientRewrite, OAuthConfigStore, ResourceServer, UiCustomization, UserPoolDomain,
};
use crate::{AppClient, Page, StoreResult};

fn kind(d: &UserPoolDomain) -> &'static str {
    if d.custom {
        "custom"
    } else {
        "prefix"
    }
}

/// Rewrites the pool's clients inside a resource-server change.
fn rewrite_clients(
    tx: &Transaction<'_>,
    pool_id: &str,
    rewrite: &ClientRewrite,
) -> StoreResult<()> {
    let docs: Vec<(String, String)> = {
        let mut stmt = tx
            .prepare_cached("SELECT client_id, doc FROM app_clients WHERE pool_id = ?1")
            .map_err(map_err)?;
        let rows = stmt
            .query_map([pool_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(map_err)?
    };
    for (id, doc) in docs {
        let client: AppClient = from_doc(&doc)?;
        if let Some(new) = rewrite(&client) {
            tx.execute(
                "UPDATE app_clients SET doc = ?2 WHERE client_id = ?1",
                params![id, to_doc(&new)?],
            )
            .map_err(map_err)?;
        }
    }
    Ok(())
}

#[async_trait]
impl OAuthConfigStore for SqliteStore {
    async fn insert_domain(&self, domain: &UserPoolDomain) -> StoreResult<()> {
        let (name, pool, kind, doc) = (
            domain.domain.clone(),
            domain.pool_id.clone(),
            kind(domain),
            to_doc(domain)?,
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO user_pool_domains (domain, pool_id, kind, doc) VALUES (?1, ?2, ?3, ?4)",
                params![name, pool, kind, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_domain(&self, domain: &str) -> StoreResult<Option<UserPoolDomain>> {
        self.read(|c| {
            let doc: Option<String> = c
                .prepare_cached("SELECT doc FROM user_pool_domains WHERE domain = ?1")
                .map_err(map_err)?
                .query_row([domain], |r| r.get(0))
                .optional()
                .map_err(map_err)?;
            doc.map(|d| from_doc(&d)).transpose()
        })
    }

    async fn pool_domains(&self, pool_id: &str) -> StoreResult<Vec<UserPoolDomain>> {
        self.read(|c| {
            // 'custom' < 'prefix': order descending for prefix first.
            query_docs(
                c,
                "SELECT doc FROM user_pool_domains WHERE pool_id = ?1 ORDER BY kind DESC",
                [pool_id],
            )
        })
    }

    async fn update_domain(&self, domain: &UserPoolDomain) -> StoreResult<()> {
        let (name, pool, doc) = (
            domain.domain.clone(),
            domain.pool_id.clone(),
            to_doc(domain)?,
        );
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE user_pool_domains SET doc = ?3 WHERE domain = ?1 AND pool_id = ?2",
                    params![name, pool, doc],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn delete_domain(&self, pool_id: &str, domain: &str) -> StoreResult<()> {
        let (pool, name) = (pool_id.to_string(), domain.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM user_pool_domains WHERE domain = ?1 AND pool_id = ?2",
                    params![name, pool],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn insert_resource_server(&self, server: &ResourceServer) -> StoreResult<()> {
        let (pool, id, doc) = (
            server.pool_id.clone(),
            server.identifier.clone(),
            to_doc(server)?,
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO resource_servers (pool_id, identifier, doc) VALUES (?1, ?2, ?3)",
                params![pool, id, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> StoreResult<Option<ResourceServer>> {
        self.read(|c| {
            let doc: Option<String> = c
                .prepare_cached(
                    "SELECT doc FROM resource_servers WHERE pool_id = ?1 AND identifier = ?2",
                )
                .map_err(map_err)?
                .query_row(params![pool_id, identifier], |r| r.get(0))
                .optional()
                .map_err(map_err)?;
            doc.map(|d| from_doc(&d)).transpose()
        })
    }

    async fn list_resource_servers(
        &self,
        pool_id: &str,
        page: &Page,
    ) -> StoreResult<Vec<ResourceServer>> {
        let limit = i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000);
        let after = page.after.clone().unwrap_or_default();
        self.read(|c| {
            query_docs(
                c,
                "SELECT doc FROM resource_servers WHERE pool_id = ?1 AND identifier > ?2
                 ORDER BY identifier LIMIT ?3",
                params![pool_id, after, limit],
            )
        })
    }

    async fn update_resource_server(
        &self,
        server: &ResourceServer,
        rewrite: ClientRewrite,
    ) -> StoreResult<()> {
        let (pool, id, doc) = (
            server.pool_id.clone(),
            server.identifier.clone(),
            to_doc(server)?,
        );
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE resource_servers SET doc = ?3 WHERE pool_id = ?1 AND identifier = ?2",
                    params![pool, id, doc],
                )
                .map_err(map_err)?;
            expect_changed(n)?;
            rewrite_clients(tx, &pool, &rewrite)
        })
        .await
    }

    async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
        rewrite: ClientRewrite,
    ) -> StoreResult<()> {
        let (pool, id) = (pool_id.to_string(), identifier.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM resource_servers WHERE pool_id = ?1 AND identifier = ?2",
                    params![pool, id],
                )
                .map_err(map_err)?;
            expect_changed(n)?;
            rewrite_clients(tx, &pool, &rewrite)
        })
        .await
    }

    async fn put_ui_customization(&self, ui: &UiCustomization) -> StoreResult<()> {
        let (pool, client, doc, image) = (
            ui.pool_id.clone(),
            ui.client_id.clone(),
            to_doc(ui)?,
            ui.image.clone(),
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO ui_customizations (pool_id, client_id, doc, image)
                 VALUES (?1, ?2, ?3, ?4)",
                params![pool, client, doc, image],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn delete_ui_customization(&self, pool_id: &str, client_id: &str) -> StoreResult<()> {
        let (pool, client) = (pool_id.to_string(), client_id.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM ui_customizations WHERE pool_id = ?1 AND client_id = ?2",
                params![pool, client],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<UiCustomization>> {
        self.read(|c| {
            let row: Option<(String, Option<Vec<u8>>)> = c
                .prepare_cached(
                    "SELECT doc, image FROM ui_customizations WHERE pool_id = ?1 AND client_id = ?2",
                )
                .map_err(map_err)?
                .query_row(params![pool_id, client_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(map_err)?;
            row.map(|(doc, image)| {
                let mut ui: UiCustomization = from_doc(&doc)?;
                ui.image = image;
                Ok(ui)
            })
            .transpose()
        })
    }
}
