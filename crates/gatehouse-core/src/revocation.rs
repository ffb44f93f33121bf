//! Sign-out and revocation: GlobalSignOut, AdminUserGlobalSignOut, RevokeToken, and the check
//! every access-token operation (and the gateway) makes.
//!
//! A revocation names a refresh-token family by its `origin_jti`, which every access and ID
//! token minted from that refresh token carries. The store journals revoked families; each node
//! keeps the live ones in memory (loaded on first use, then polled for new journal entries at
//! most once every `SYNC_INTERVAL_SECS`), so the check is a hash lookup, not a database round
//! trip. A revocation made on this node is in the set before the call returns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use gatehouse_store::RevokedFamily;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::auth::sha256_hex;
use crate::error::{Error, Result};
use crate::tokens;
use crate::Directory;

/// Tokens minted from a refresh token outlive it by at most this much (Cognito's longest
/// access/ID token validity), so a revoked family is remembered that long after its refresh
/// token expires.
pub(crate) const TOKEN_GRACE_SECS: i64 = 24 * 60 * 60;

/// How stale this node's view of revocations made on other nodes may get.
const SYNC_INTERVAL_SECS: i64 = 1;

/// How often expired entries are dropped from memory and from the journal.
const PRUNE_INTERVAL_SECS: i64 = 10 * 60;

/// The revoked families this node knows of: `origin_jti` → (pool, when it may be forgotten).
#[derive(Default)]
pub struct RevokedFamilies {
    set: RwLock<HashMap<String, (String, i64)>>,
    /// Highest journal seq seen.
    cursor: AtomicI64,
    /// When the journal was last read (0: never; nothing can be answered before the first load).
    synced_at: AtomicI64,
    pruned_at: AtomicI64,
    sync: tokio::sync::Mutex<()>,
}

impl RevokedFamilies {
    fn insert(&self, families: &[RevokedFamily]) {
        if families.is_empty() {
            return;
        }
        if let Ok(mut set) = self.set.write() {
            for f in families {
                set.insert(f.origin_jti.clone(), (f.pool_id.clone(), f.expires));
            }
        }
    }

    /// O(1): whether the family is revoked as far as this node knows.
    fn contains(&self, pool_id: &str, origin_jti: &str, now: i64) -> bool {
        let Ok(set) = self.set.read() else {
            // A poisoned lock means a panic mid-insert; refuse rather than let tokens through.
            return true;
        };
        set.get(origin_jti)
            .is_some_and(|(pool, expires)| pool == pool_id && *expires > now)
    }

    fn prune(&self, now: i64) {
        if let Ok(mut set) = self.set.write() {
            set.retain(|_, (_, expires)| *expires > now);
        }
    }

    /// How many families are held in memory.
    pub fn len(&self) -> usize {
        self.set.read().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Directory {
    /// Whether tokens descending from the refresh token `origin_jti` were revoked. In memory
    /// except for the first call and a journal poll at most once a second.
    pub async fn is_revoked(&self, pool_id: &str, origin_jti: &str) -> Result<bool> {
        self.sync_revocations().await?;
        Ok(self.revoked.contains(pool_id, origin_jti, self.now()))
    }

    /// The same check for a token's claims, as the gateway holds them: its family
    /// (`origin_jti`), or its own `jti` for tokens that are their own family.
    pub async fn is_token_revoked(
        &self,
        pool_id: &str,
        claims: &Map<String, Value>,
    ) -> Result<bool> {
        for claim in ["origin_jti", "jti"] {
            if let Some(id) = claims.get(claim).and_then(Value::as_str) {
                if self.is_revoked(pool_id, id).await? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Reads the journal entries this node has not seen now (another node announced a
    /// revocation), whatever the interval. Failures are logged; the regular sync retries.
    pub(crate) async fn refresh_revocations(&self) {
        let _guard = self.revoked.sync.lock().await;
        if let Err(e) = self.read_journal(self.now()).await {
            tracing::warn!(error = %e, "reading the revocation journal failed");
        }
    }

    /// Adds the journal entries after this node's cursor to its set and moves the cursor.
    /// The caller holds `revoked.sync`.
    async fn read_journal(&self, now: i64) -> gatehouse_store::StoreResult<()> {
        let cursor = self.revoked.cursor.load(Ordering::Acquire);
        let families = self.store.revoked_families_since(cursor, now).await?;
        self.revoked.insert(&families);
        if let Some(last) = families.last() {
            self.revoked.cursor.fetch_max(last.seq, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Reads journal entries this node has not seen, when the last read is older than the sync
    /// interval. The first call waits for the load; later ones skip if another task is reading.
    async fn sync_revocations(&self) -> Result<()> {
        let now = self.now();
        let synced = self.revoked.synced_at.load(Ordering::Acquire);
        if synced != 0 && now - synced < SYNC_INTERVAL_SECS {
            return Ok(());
        }
        let _guard = if synced == 0 {
            self.revoked.sync.lock().await
        } else {
            match self.revoked.sync.try_lock() {
                Ok(g) => g,
                Err(_) => return Ok(()),
            }
        };
        let synced = self.revoked.synced_at.load(Ordering::Acquire);
        if synced != 0 && now - synced < SYNC_INTERVAL_SECS {
            return Ok(());
        }
        match self.read_journal(now).await {
            Ok(()) => {}
            // Never answered yet: fail closed.
            Err(e) if synced == 0 => return Err(e.into()),
            // Keep answering from what we know; retry at the next interval.
            Err(e) => tracing::warn!(error = %e, "reading the revocation journal failed"),
        }
        self.revoked.synced_at.store(now.max(1), Ordering::Release);
        let pruned = self.revoked.pruned_at.load(Ordering::Acquire);
        if pruned == 0 {
            self.revoked.pruned_at.store(now, Ordering::Release);
        } else if now - pruned >= PRUNE_INTERVAL_SECS {
            self.revoked.pruned_at.store(now, Ordering::Release);
            self.revoked.prune(now);
            if let Err(e) = self.store.purge_revoked_families(now).await {
                tracing::warn!(error = %e, "purging the revocation journal failed");
            }
        }
        Ok(())
    }

    /// Revoked families in memory (for metrics and tests).
    pub fn revoked_families(&self) -> &RevokedFamilies {
        &self.revoked
    }

    /// Revokes every token family of the user (sign-out everywhere, disable, delete).
    /// Revokes the family of a refresh token known by its hash (a reused authorization code's
    /// grant, RFC 6749 §4.1.2). Nothing happens when there is no such token.
    pub(crate) async fn revoke_family_of(&self, refresh_hash: &str) -> Result<()> {
        let family = self
            .store
            .revoke_token_family(refresh_hash, self.now(), TOKEN_GRACE_SECS)
            .await?;
        if let Some(f) = family {
            self.revoked.insert(std::slice::from_ref(&f));
        }
        Ok(())
    }

    pub(crate) async fn revoke_user(&self, pool_id: &str, sub: &str) -> Result<()> {
        let families = self
            .store
            .revoke_user_token_families(pool_id, sub, self.now(), TOKEN_GRACE_SECS)
            .await?;
        self.revoked.insert(&families);
        tracing::info!(
            pool_id,
            sub,
            families = families.len(),
            "user signed out globally"
        );
        Ok(())
    }

    /// GlobalSignOut: the user of the access token signs out everywhere. Every refresh token
    /// stops working and every token minted from one is refused.
    pub async fn global_sign_out(&self, access_token: &str) -> Result<()> {
        let auth = self.authenticate_access_token(access_token).await?;
        self.revoke_user(&auth.user.pool_id, &auth.user.sub).await
    }

    /// AdminUserGlobalSignOut.
    pub async fn admin_user_global_sign_out(&self, pool_id: &str, username: &str) -> Result<()> {
        let (_, user) = self.admin_user(pool_id, username).await?;
        self.revoke_user(pool_id, &user.sub).await
    }

    /// RevokeToken: revokes one refresh token and the access tokens minted from it. The client
    /// proves itself with its secret (if it has one) and must have token revocation enabled.
    pub async fn revoke_token(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        token: &str,
    ) -> Result<()> {
        let client = match self.client(client_id).await {
            Ok(c) => c,
            Err(Error::ResourceNotFound(_)) => {
                return Err(Error::Unauthorized(format!(
                    "Invalid client id {client_id}"
                )))
            }
            Err(e) => return Err(e),
        };
        if let Some(secret) = &client.client_secret {
            let given = client_secret.unwrap_or_default();
            if !bool::from(secret.as_bytes().ct_eq(given.as_bytes())) {
                return Err(Error::Unauthorized(format!(
                    "Unable to verify client secret for client {client_id}"
                )));
            }
        }
        if !client.enable_token_revocation {
            return Err(Error::UnsupportedOperation(
                "Token revocation is not enabled for this app client.".into(),
            ));
        }
        if tokens::decode(token).is_some() {
            return Err(Error::UnsupportedTokenType(
                "Only refresh tokens can be revoked.".into(),
            ));
        }
        if token.len() > 8192 {
            return Err(Error::invalid("Invalid token"));
        }
        let hash = sha256_hex(token);
        let Some(stored) = self.store.get_refresh_token(&hash).await? else {
            // As OAuth 2.0 token revocation (RFC 7009): an unknown token is already unusable.
            return Ok(());
        };
        if stored.client_id != client.client_id || stored.pool_id != client.pool_id {
            return Err(Error::Unauthorized(
                "The token was not issued to this app client.".into(),
            ));
        }
        let family = self
            .store
            .revoke_token_family(&hash, self.now(), TOKEN_GRACE_SECS)
            .await?;
        if let Some(f) = family {
            self.revoked.insert(std::slice::from_ref(&f));
        }
        tracing::info!(pool_id = %stored.pool_id, sub = %stored.sub, "refresh token revoked");
        Ok(())
    }
}
