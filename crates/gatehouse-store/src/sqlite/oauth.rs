//! OAuthConfigStore on SQLite: domains, resource servers and UI customizations as JSON
//! documents keyed by their identities; the logo as a BLOB beside its document.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{de::DeserializeOwned, Serialize};

use super::{map_err, SqliteStore};
use crate::oauth::{
    ClientRewrite, OAuthConfigStore, ResourceServer, UiCustomization, UserPoolDomain,
};
use crate::{AppClient, Page, StoreError, StoreResult};

fn to_doc<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(from_doc(&row.map_err(map_err)?)?);
    }
    Ok(out)
}

fn kind(d: &UserPoolDomain) -> &'static str {
    if d.custom {
        "custom"
    } else {
        "prefix"
    }
}

fn changed(n: usize) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
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
            docs(
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
            changed(n)
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
            changed(n)
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
            docs(
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
            changed(n)?;
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
            changed(n)?;
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::oauth::{ClientRewrite, ResourceServerScope};
    use crate::*;

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    async fn pool(s: &SqliteStore, id: &str) {
        s.insert_pool(&UserPool {
            id: id.into(),
            name: "p".into(),
            created: 1,
            modified: 1,
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
        })
        .await
        .unwrap();
    }

    fn client(pool: &str, id: &str) -> AppClient {
        AppClient {
            pool_id: pool.into(),
            client_id: id.into(),
            client_name: "c".into(),
            client_secret: None,
            created: 1,
            modified: 1,
            explicit_auth_flows: vec![],
            refresh_token_validity: 30,
            access_token_validity: 1,
            id_token_validity: 1,
            token_validity_units: TokenValidityUnits::default(),
            read_attributes: None,
            write_attributes: None,
            prevent_user_existence_errors: "ENABLED".into(),
            enable_token_revocation: true,
            auth_session_validity_minutes: 3,
            settings: BTreeMap::new(),
        }
    }

    fn domain(pool: &str, name: &str, custom: bool) -> UserPoolDomain {
        UserPoolDomain {
            domain: name.into(),
            pool_id: pool.into(),
            custom,
            certificate_arn: None,
            security_policy: None,
            managed_login_version: 1,
            routing: None,
            cloudfront_distribution: "d1.cloudfront.net".into(),
            version: "20260101000000".into(),
            created: 1,
            modified: 1,
        }
    }

    fn server(pool: &str, id: &str, scopes: &[&str]) -> ResourceServer {
        ResourceServer {
            pool_id: pool.into(),
            identifier: id.into(),
            name: "api".into(),
            scopes: scopes
                .iter()
                .map(|s| ResourceServerScope {
                    name: s.to_string(),
                    description: format!("{s} things"),
                })
                .collect(),
            created: 1,
            modified: 1,
        }
    }

    #[tokio::test]
    async fn domains_are_globally_unique_and_one_of_each_kind_per_pool() {
        let (_d, s) = open();
        pool(&s, "p1").await;
        pool(&s, "p2").await;
        s.insert_domain(&domain("p1", "myapp", false))
            .await
            .unwrap();
        // Taken by another pool.
        assert!(matches!(
            s.insert_domain(&domain("p2", "myapp", false)).await,
            Err(StoreError::Conflict(_))
        ));
        // A second prefix domain for the same pool.
        assert!(matches!(
            s.insert_domain(&domain("p1", "other", false)).await,
            Err(StoreError::Conflict(_))
        ));
        // A custom domain beside the prefix one is fine.
        s.insert_domain(&domain("p1", "auth.example.com", true))
            .await
            .unwrap();
        let all = s.pool_domains("p1").await.unwrap();
        assert_eq!(
            all.iter().map(|d| d.domain.as_str()).collect::<Vec<_>>(),
            ["myapp", "auth.example.com"]
        );
        let mut d = domain("p1", "myapp", false);
        d.managed_login_version = 2;
        s.update_domain(&d).await.unwrap();
        assert_eq!(
            s.get_domain("myapp")
                .await
                .unwrap()
                .unwrap()
                .managed_login_version,
            2
        );
        // Only the owning pool may delete it.
        assert!(matches!(
            s.delete_domain("p2", "myapp").await,
            Err(StoreError::NotFound)
        ));
        s.delete_domain("p1", "myapp").await.unwrap();
        assert!(s.get_domain("myapp").await.unwrap().is_none());
        // Deleting the pool deletes what is left.
        s.delete_pool("p1").await.unwrap();
        assert!(s.get_domain("auth.example.com").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn resource_servers_page_by_identifier_and_rewrite_clients_atomically() {
        let (_d, s) = open();
        pool(&s, "p1").await;
        for id in ["c-api", "a-api", "b-api"] {
            s.insert_resource_server(&server("p1", id, &["read"]))
                .await
                .unwrap();
        }
        assert!(matches!(
            s.insert_resource_server(&server("p1", "a-api", &[])).await,
            Err(StoreError::Conflict(_))
        ));
        let page = |after: Option<&str>| Page {
            limit: 2,
            after: after.map(str::to_string),
        };
        let first = s.list_resource_servers("p1", &page(None)).await.unwrap();
        assert_eq!(
            first
                .iter()
                .map(|r| r.identifier.as_str())
                .collect::<Vec<_>>(),
            ["a-api", "b-api"]
        );
        let rest = s
            .list_resource_servers("p1", &page(Some("b-api")))
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].identifier, "c-api");

        let mut c = client("p1", "client1");
        s.insert_client(&c).await.unwrap();
        s.insert_client(&client("p1", "client2")).await.unwrap();
        c.settings
            .insert("AllowedOAuthScopes".into(), serde_json::json!(["openid"]));
        let expected = c.clone();
        let rewrite: ClientRewrite =
            Box::new(move |old: &AppClient| (old.client_id == "client1").then(|| expected.clone()));
        s.update_resource_server(&server("p1", "a-api", &["write", "read"]), rewrite)
            .await
            .unwrap();
        let rs = s.get_resource_server("p1", "a-api").await.unwrap().unwrap();
        assert_eq!(rs.scopes[0].name, "write");
        assert_eq!(s.get_client("client1").await.unwrap().unwrap(), c);
        assert!(s
            .get_client("client2")
            .await
            .unwrap()
            .unwrap()
            .settings
            .is_empty());

        // A failed change leaves the clients alone.
        let rename: ClientRewrite = Box::new(|old: &AppClient| {
            let mut new = old.clone();
            new.client_name = "changed".into();
            Some(new)
        });
        assert!(matches!(
            s.delete_resource_server("p1", "nope", rename).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            s.get_client("client1").await.unwrap().unwrap().client_name,
            "c"
        );
        s.delete_resource_server("p1", "a-api", Box::new(|_: &AppClient| None))
            .await
            .unwrap();
        assert!(s
            .get_resource_server("p1", "a-api")
            .await
            .unwrap()
            .is_none());
        s.delete_pool("p1").await.unwrap();
        assert!(s
            .get_resource_server("p1", "b-api")
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn ui_customizations_keep_their_image_and_follow_their_client() {
        let (_d, s) = open();
        pool(&s, "p1").await;
        s.insert_client(&client("p1", "client1")).await.unwrap();
        let ui = |client: &str, image: Option<Vec<u8>>| UiCustomization {
            pool_id: "p1".into(),
            client_id: client.into(),
            css: Some(".banner-customizable { color: red; }".into()),
            css_version: Some("20260101000000".into()),
            image_content_type: image.as_ref().map(|_| "image/png".to_string()),
            image_version: image.as_ref().map(|_| "v1".to_string()),
            image,
            created: 1,
            modified: 2,
        };
        let png = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3];
        s.put_ui_customization(&ui("client1", Some(png.clone())))
            .await
            .unwrap();
        s.put_ui_customization(&ui("ALL", None)).await.unwrap();
        let got = s
            .get_ui_customization("p1", "client1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.image.as_deref(), Some(png.as_slice()));
        assert_eq!(got, ui("client1", Some(png)));
        // Replacing drops the image when the new one has none.
        s.put_ui_customization(&ui("client1", None)).await.unwrap();
        let got = s
            .get_ui_customization("p1", "client1")
            .await
            .unwrap()
            .unwrap();
        assert!(got.image.is_none());
        s.delete_ui_customization("p1", "ALL").await.unwrap();
        s.delete_ui_customization("p1", "ALL").await.unwrap();
        assert!(s.get_ui_customization("p1", "ALL").await.unwrap().is_none());
        s.put_ui_customization(&ui("ALL", None)).await.unwrap();
        // Deleting the client deletes its customization, not the pool's.
        s.delete_client("p1", "client1").await.unwrap();
        assert!(s
            .get_ui_customization("p1", "client1")
            .await
            .unwrap()
            .is_none());
        assert!(s.get_ui_customization("p1", "ALL").await.unwrap().is_some());
        s.delete_pool("p1").await.unwrap();
        assert!(s.get_ui_customization("p1", "ALL").await.unwrap().is_none());
    }
}
