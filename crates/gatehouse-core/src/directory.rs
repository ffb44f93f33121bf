//! The directory service: the one entry point the adapters call. Its operations live in the
//! modules named after what they act on (pools, clients, users, groups, auth).

use std::sync::Arc;

use gatehouse_store::changes::{Announce, Silent, Topic};
use gatehouse_store::{Store, UserPool};

use crate::crypt::SecretBox;
use crate::env::{Clock, Random};
use crate::error::{Error, Result};
use crate::keys::KeyRing;
use crate::messages::Messenger;
use crate::password::PasswordHasher;

#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// The base of every issuer URL: `<public_url>/<poolId>`.
    pub public_url: String,
    /// The region in pool ids and ARNs.
    pub region: String,
    /// The AWS account id in ARNs.
    pub account_id: String,
}

impl DirectoryConfig {
    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{}", self.public_url.trim_end_matches('/'), pool_id)
    }

    pub fn pool_arn(&self, pool_id: &str) -> String {
        format!(
            "arn:aws:cognito-idp:{}:{}:userpool/{}",
            self.region, self.account_id, pool_id
        )
    }
}

pub struct Directory {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: KeyRing,
    pub(crate) hasher: PasswordHasher,
    pub(crate) messenger: Arc<dyn Messenger>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Random>,
    pub(crate) secrets: Arc<SecretBox>,
    pub(crate) config: DirectoryConfig,
    /// Revoked token families, in memory for O(1) checks (revocation.rs).
    pub(crate) revoked: crate::revocation::RevokedFamilies,
    /// Failed sign-ins of usernames that do not exist (lockout.rs).
    pub(crate) unknown_failures: crate::lockout::UnknownUserFailures,
    /// Tells the other nodes sharing the store what this one changed.
    pub(crate) announcer: Arc<dyn Announce>,
}

impl Directory {
    pub fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        messenger: Arc<dyn Messenger>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Random>,
        secrets: SecretBox,
        config: DirectoryConfig,
    ) -> Self {
        let secrets = Arc::new(secrets);
        Self {
            secrets: Arc::clone(&secrets),
            keys: KeyRing::new(Arc::clone(&store), Arc::clone(&secrets)),
            store,
            hasher,
            messenger,
            clock,
            rng,
            config,
            revoked: Default::default(),
            unknown_failures: Default::default(),
            announcer: Arc::new(Silent),
        }
    }

    /// Announces this node's changes to the other nodes sharing the store (silent by default:
    /// an embedded store has no other node).
    pub fn with_announcer(mut self, announcer: Arc<dyn Announce>) -> Self {
        self.announcer = announcer;
        self
    }

    /// Another node announced `topic`: re-read what this node holds of it in memory.
    pub async fn heard(&self, topic: Topic) {
        if matches!(topic, Topic::Pools | Topic::Resync) {
            self.keys.forget_all();
        }
        if matches!(topic, Topic::Revocations | Topic::Resync) {
            self.refresh_revocations().await;
        }
    }

    /// The master-key box secrets at rest are sealed with (shared with the API service, which
    /// seals API key values with it).
    pub fn secrets(&self) -> Arc<SecretBox> {
        Arc::clone(&self.secrets)
    }

    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) async fn pool(&self, pool_id: &str) -> Result<UserPool> {
        self.store
            .get_pool(pool_id)
            .await?
            .ok_or_else(|| Error::pool_not_found(pool_id))
    }

    /// The JSON Web Key Set of a pool.
    pub async fn jwks(&self, pool_id: &str) -> Result<serde_json::Value> {
        self.pool(pool_id).await?;
        Ok(self.keys.keys(pool_id).await?.jwks().clone())
    }

    /// Drops sessions past their expiry; run periodically.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        Ok(self.store.purge_expired(self.now()).await?)
    }
}
