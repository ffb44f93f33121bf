//! Resource servers (Create/Describe/Update/Delete/ListResourceServers): an API's identifier and
//! the custom scopes app clients may be allowed, as `identifier/scope`.
//! Removing a scope (or the whole server) is allowed while clients use it, as on AWS; the
//! scope then disappears from those clients' AllowedOAuthScopes, so no token can carry a scope
//! that no longer exists.

use std::collections::BTreeSet;

use gatehouse_store::oauth::ClientRewrite;
use gatehouse_store::{AppClient, Page, ResourceServer, ResourceServerScope, StoreError};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::Directory;

/// Resource servers a pool may have (AWS's quota).
pub const MAX_RESOURCE_SERVERS: usize = 25;
/// Scopes a resource server may define.
pub const MAX_SCOPES: usize = 100;

/// What Create/UpdateResourceServer ask for. On update, as on AWS, the scopes left out are
/// gone.
#[derive(Debug, Clone, Default)]
pub struct ResourceServerRequest {
    pub identifier: String,
    pub name: String,
    /// (name, description) in the order given.
    pub scopes: Vec<(String, String)>,
}

fn not_found(identifier: &str) -> Error {
    Error::ResourceNotFound(format!("Resource server {identifier} does not exist."))
}

fn scopes(req: &ResourceServerRequest) -> Result<Vec<ResourceServerScope>> {
    if req.scopes.len() > MAX_SCOPES {
        return Err(Error::LimitExceeded(format!(
            "A resource server may define at most {MAX_SCOPES} scopes."
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(req.scopes.len());
    for (name, description) in &req.scopes {
        if !seen.insert(name.as_str()) {
            return Err(Error::invalid(format!(
                "Duplicate scope name {name} in resource server {}.",
                req.identifier
            )));
        }
        out.push(ResourceServerScope {
            name: name.clone(),
            description: description.clone(),
        });
    }
    Ok(out)
}

/// The full names (`identifier/scope`) of a server's scopes.
pub fn scope_names(server: &ResourceServer) -> impl Iterator<Item = String> + '_ {
    server
        .scopes
        .iter()
        .map(move |s| format!("{}/{}", server.identifier, s.name))
}

/// The client without the scopes in `gone`; `None` when it had none of them.
fn pruned(client: &AppClient, gone: &BTreeSet<String>, now: i64) -> Option<AppClient> {
    let Some(Value::Array(list)) = client.settings.get("AllowedOAuthScopes") else {
        return None;
    };
    let kept: Vec<Value> = list
        .iter()
        .filter(|v| v.as_str().is_none_or(|s| !gone.contains(s)))
        .cloned()
        .collect();
    if kept.len() == list.len() {
        return None;
    }
    let mut c = client.clone();
    if kept.is_empty() {
        c.settings.remove("AllowedOAuthScopes");
    } else {
        c.settings
            .insert("AllowedOAuthScopes".into(), Value::Array(kept));
    }
    c.modified = now;
    Some(c)
}

/// The store's rewrite of a pool's clients that takes `gone` off them.
fn pruner(gone: BTreeSet<String>, now: i64) -> ClientRewrite {
    Box::new(move |c: &AppClient| pruned(c, &gone, now))
}

impl Directory {
    pub async fn create_resource_server(
        &self,
        pool_id: &str,
        req: ResourceServerRequest,
    ) -> Result<ResourceServer> {
        self.pool(pool_id).await?;
        let scopes = scopes(&req)?;
        let exists = || {
            Error::invalid(format!(
                "{} already exists in user pool {pool_id}.",
                req.identifier
            ))
        };
        if self
            .store
            .get_resource_server(pool_id, &req.identifier)
            .await?
            .is_some()
        {
            return Err(exists());
        }
        let page = Page {
            limit: MAX_RESOURCE_SERVERS,
            after: None,
        };
        if self
            .store
            .list_resource_servers(pool_id, &page)
            .await?
            .len()
            >= MAX_RESOURCE_SERVERS
        {
            return Err(Error::LimitExceeded(format!(
                "A user pool may have at most {MAX_RESOURCE_SERVERS} resource servers."
            )));
        }
        let now = self.now();
        let server = ResourceServer {
            pool_id: pool_id.to_string(),
            identifier: req.identifier.clone(),
            name: req.name.clone(),
            scopes,
            created: now,
            modified: now,
        };
        match self.store.insert_resource_server(&server).await {
            Ok(()) => Ok(server),
            Err(StoreError::Conflict(_)) => Err(exists()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn describe_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<ResourceServer> {
        self.pool(pool_id).await?;
        self.store
            .get_resource_server(pool_id, identifier)
            .await?
            .ok_or_else(|| not_found(identifier))
    }

    /// Replaces the name and scopes; clients lose the scopes that are gone.
    pub async fn update_resource_server(
        &self,
        pool_id: &str,
        req: ResourceServerRequest,
    ) -> Result<ResourceServer> {
        let current = self
            .describe_resource_server(pool_id, &req.identifier)
            .await?;
        let scopes = scopes(&req)?;
        let mut server = ResourceServer {
            name: req.name,
            scopes,
            modified: self.now(),
            ..current.clone()
        };
        let kept: BTreeSet<String> = scope_names(&server).collect();
        let gone: BTreeSet<String> = scope_names(&current)
            .filter(|s| !kept.contains(s))
            .collect();
        let rewrite = pruner(gone, server.modified);
        match self.store.update_resource_server(&server, rewrite).await {
            // Clients may have lost scopes.
            Ok(()) => self.configuration_changed(),
            Err(StoreError::NotFound) => return Err(not_found(&server.identifier)),
            Err(e) => return Err(e.into()),
        }
        server.pool_id = pool_id.to_string();
        Ok(server)
    }

    /// Deletes the server; clients lose its scopes.
    pub async fn delete_resource_server(&self, pool_id: &str, identifier: &str) -> Result<()> {
        let current = self.describe_resource_server(pool_id, identifier).await?;
        let gone: BTreeSet<String> = scope_names(&current).collect();
        let rewrite = pruner(gone, self.now());
        match self
            .store
            .delete_resource_server(pool_id, identifier, rewrite)
            .await
        {
            Ok(()) => {
                self.configuration_changed();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(not_found(identifier)),
            Err(e) => Err(e.into()),
        }
    }

    /// Servers after `next_token`, and the token for the page after this one.
    pub async fn list_resource_servers(
        &self,
        pool_id: &str,
        max_results: usize,
        next_token: Option<String>,
    ) -> Result<(Vec<ResourceServer>, Option<String>)> {
        self.pool(pool_id).await?;
        let page = Page {
            limit: max_results + 1,
            after: next_token,
        };
        let mut servers = self.store.list_resource_servers(pool_id, &page).await?;
        let more = servers.len() > max_results;
        servers.truncate(max_results);
        let next = more
            .then(|| servers.last().map(|s| s.identifier.clone()))
            .flatten();
        Ok((servers, next))
    }

    /// Every custom scope of the pool, as `identifier/scope`.
    pub async fn custom_scopes(&self, pool_id: &str) -> Result<BTreeSet<String>> {
        let page = Page {
            limit: 10_000,
            after: None,
        };
        let servers = self.store.list_resource_servers(pool_id, &page).await?;
        Ok(servers.iter().flat_map(scope_names).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_takes_only_the_gone_scopes_off() {
        let mut c: AppClient = serde_json::from_value(serde_json::json!({
            "pool_id": "p", "client_id": "c", "client_name": "c", "client_secret": null,
            "created": 1, "modified": 1, "explicit_auth_flows": [],
            "refresh_token_validity": 30, "access_token_validity": 1, "id_token_validity": 1,
            "token_validity_units": {"access_token": "hours", "id_token": "hours", "refresh_token": "days"},
            "read_attributes": null, "write_attributes": null,
            "prevent_user_existence_errors": "ENABLED", "enable_token_revocation": true,
            "auth_session_validity_minutes": 3, "settings": {}
        }))
        .unwrap();
        let gone: BTreeSet<String> = ["pets/admin".to_string()].into();
        assert!(pruned(&c, &gone, 5).is_none());
        c.settings.insert(
            "AllowedOAuthScopes".into(),
            serde_json::json!(["openid", "pets/admin", "pets/read"]),
        );
        let p = pruned(&c, &gone, 5).unwrap();
        assert_eq!(
            p.settings["AllowedOAuthScopes"],
            serde_json::json!(["openid", "pets/read"])
        );
        assert_eq!(p.modified, 5);
        c.settings.insert(
            "AllowedOAuthScopes".into(),
            serde_json::json!(["pets/admin"]),
        );
        assert!(!pruned(&c, &gone, 5)
            .unwrap()
            .settings
            .contains_key("AllowedOAuthScopes"));
    }

    #[test]
    fn duplicate_scope_names_are_refused() {
        let req = ResourceServerRequest {
            identifier: "api".into(),
            name: "API".into(),
            scopes: vec![("read".into(), "r".into()), ("read".into(), "again".into())],
        };
        assert!(matches!(scopes(&req), Err(Error::InvalidParameter(_))));
    }
}
