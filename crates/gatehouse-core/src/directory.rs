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
    /// Pools and clients as the sign-in paths read them (read_cache.rs).
    pub(crate) read_cache: crate::read_cache::ReadCache,
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
            read_cache: Default::default(),
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
            self.read_cache.clear();
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

    /// The pool as the sign-in paths read it: from the read cache (at most a second old, and
    /// cleared by any pool or client change), else the store.
    pub(crate) async fn cached_pool(&self, pool_id: &str) -> Result<Arc<UserPool>> {
        if let Some(p) = self.read_cache.pool(pool_id) {
            return Ok(p);
        }
        let pool = Arc::new(self.pool(pool_id).await?);
        self.read_cache.put_pool(Arc::clone(&pool));
        Ok(pool)
    }

    /// An app client as the sign-in paths read it (see `cached_pool`).
    pub(crate) async fn cached_client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<gatehouse_store::AppClient>>> {
        if let Some(c) = self.read_cache.client(client_id) {
            return Ok(Some(c));
        }
        let Some(client) = self.store.get_client(client_id).await? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        self.read_cache.put_client(Arc::clone(&client));
        Ok(Some(client))
    }

    /// A pool or app client changed through this node: forget the cached copies here and on
    /// every other node.
    pub(crate) fn configuration_changed(&self) {
        self.read_cache.clear();
        self.announcer.announce(Topic::Pools);
    }

    /// The JSON Web Key Set of a pool.
    pub async fn jwks(&self, pool_id: &str) -> Result<serde_json::Value> {
        self.pool(pool_id).await?;
        Ok(self.keys.keys(pool_id).await?.jwks().clone())
    }

    /// Drops sessions past their expiry, and refresh tokens a day after theirs (until then a
    /// sign-out must still find them, to revoke the access and ID tokens they minted); run
    /// periodically. Returns how many rows went.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        const BATCH: u32 = 5_000;
        const MOST_BATCHES: usize = 20;
        let now = self.now();
        let mut purged = self.store.purge_expired(now).await?;
        let before = now - crate::revocation::TOKEN_GRACE_SECS;
        for _ in 0..MOST_BATCHES {
            let n = self
                .store
                .purge_expired_refresh_tokens(before, BATCH)
                .await?;
            purged += n;
            if n < u64::from(BATCH) {
                break;
            }
        }
        Ok(purged)
    }
}
