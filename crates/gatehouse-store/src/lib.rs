//! Persistence for Gatehouse: one trait per aggregate, with two implementations: the embedded
//! SQLite store (one node) and PostgreSQL (`postgres`, feature `postgres`: any number of nodes,
//! see docs/postgres.md). The domain talks only to these traits and does not know which it has.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

pub mod api_keys;
pub mod apis;
pub mod changes;
#[cfg(test)]
mod contract_tests;
pub mod devices;
pub mod domains;
pub mod model;
pub mod oauth;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod rest_apis;
pub mod sqlite;
#[cfg(feature = "postgres")]
pub mod transfer;

use async_trait::async_trait;
use serde_json::Value;

pub use api_keys::ApiKeyStore;
pub use apis::ApiStore;
pub use devices::{Device, DeviceStore};
pub use domains::DomainStore;
pub use model::*;
pub use oauth::{
    OAuthConfigStore, ResourceServer, ResourceServerScope, UiCustomization, UserPoolDomain,
};
pub use rest_apis::RestApiStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is already taken (the message names it).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or is busy beyond our patience.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back (a bug or tampering).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// Another writer changed the record since it was read: read it again and redo the change.
    #[error("the record changed since it was read")]
    Stale,
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait PoolStore: Send + Sync {
    async fn insert_pool(&self, pool: &UserPool) -> StoreResult<()>;
    async fn get_pool(&self, pool_id: &str) -> StoreResult<Option<UserPool>>;
    async fn update_pool(&self, pool: &UserPool) -> StoreResult<()>;
    /// Deletes the pool and everything in it.
    async fn delete_pool(&self, pool_id: &str) -> StoreResult<()>;
    /// Pools ordered by id, after `page.after`.
    async fn list_pools(&self, page: &Page) -> StoreResult<Vec<UserPool>>;
    async fn count_users(&self, pool_id: &str) -> StoreResult<u64>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn insert_client(&self, client: &AppClient) -> StoreResult<()>;
    /// Client ids are globally unique, as on AWS (InitiateAuth names only the client).
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<AppClient>>;
    async fn update_client(&self, client: &AppClient) -> StoreResult<()>;
    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()>;
    async fn list_clients(&self, pool_id: &str, page: &Page) -> StoreResult<Vec<AppClient>>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// `username_key` is the username as the pool compares it (lower-cased when the pool is
    /// case-insensitive). Conflict when it is taken.
    async fn insert_user(&self, user: &User, username_key: &str) -> StoreResult<()>;
    /// Inserts many users in one transaction (bulk import); all or none.
    async fn insert_users(&self, users: &[(User, String)]) -> StoreResult<()>;
    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<User>>;
    async fn get_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>>;
    /// Users whose attribute `name` equals `value` exactly.
    async fn find_users_by_attribute(
        &self,
        pool_id: &str,
        name: &str,
        value: &str,
    ) -> StoreResult<Vec<User>>;
    /// Replaces the user (found by pool and sub) and re-indexes its attributes, if it is still
    /// at `user.version` (the version it was read at); then `user.version` is the new one.
    /// `Stale` when another write came first, `NotFound` when the user is gone.
    async fn update_user(&self, user: &mut User) -> StoreResult<()>;
    /// Deletes the user with its memberships, codes and refresh tokens.
    async fn delete_user(&self, pool_id: &str, sub: &str) -> StoreResult<()>;
    /// Users ordered by username key, after `page.after` (a username key).
    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        page: &Page,
    ) -> StoreResult<Vec<(String, User)>>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    async fn insert_group(&self, group: &Group) -> StoreResult<()>;
    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<Group>>;
    async fn update_group(&self, group: &Group) -> StoreResult<()>;
    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<()>;
    async fn list_groups(&self, pool_id: &str, page: &Page) -> StoreResult<Vec<Group>>;
    /// Idempotent.
    async fn add_member(&self, pool_id: &str, group: &str, sub: &str) -> StoreResult<()>;
    /// Idempotent.
    async fn remove_member(&self, pool_id: &str, group: &str, sub: &str) -> StoreResult<()>;
    /// Groups of a user ordered by precedence (lowest first, unset last), then name.
    async fn groups_for_user(&self, pool_id: &str, sub: &str) -> StoreResult<Vec<Group>>;
    /// Members ordered by username key, after `page.after`.
    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        page: &Page,
    ) -> StoreResult<Vec<(String, User)>>;
}

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Replaces any code of the same pool, user and purpose.
    async fn put_code(&self, code: &OneTimeCode) -> StoreResult<()>;
    async fn get_code(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> StoreResult<Option<OneTimeCode>>;
    /// Deletes the code only if it still has this hash; true for exactly one caller.
    async fn consume_code(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
        code_hash: &str,
    ) -> StoreResult<bool>;
    /// Counts a wrong guess; returns the new count.
    async fn record_code_failure(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> StoreResult<u32>;
    async fn delete_code(&self, pool_id: &str, sub: &str, purpose: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn put_session(&self, session: &AuthSession) -> StoreResult<()>;
    /// Reads a session without consuming it (the hosted pages' long-lived sign-in session).
    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<AuthSession>>;
    /// Removes and returns the session: a session answers one challenge only.
    async fn take_session(&self, id_hash: &str) -> StoreResult<Option<AuthSession>>;
    /// Drops sessions that expired before `now`; returns how many.
    async fn purge_expired(&self, now: i64) -> StoreResult<u64>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn put_refresh_token(&self, token: &RefreshToken) -> StoreResult<()>;
    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<()>;
    /// Revokes every refresh token of the user; returns how many.
    async fn revoke_user_refresh_tokens(&self, pool_id: &str, sub: &str) -> StoreResult<u64>;
    /// Revokes the refresh token and records its family as revoked until `grace` seconds after
    /// the token expires (tokens minted from it live that long). `None` when there is no such
    /// token. Idempotent.
    async fn revoke_token_family(
        &self,
        token_hash: &str,
        now: i64,
        grace: i64,
    ) -> StoreResult<Option<RevokedFamily>>;
    /// Revokes every refresh token of the user and records each family that may still have
    /// live tokens (as `revoke_token_family`). Returns those families.
    async fn revoke_user_token_families(
        &self,
        pool_id: &str,
        sub: &str,
        now: i64,
        grace: i64,
    ) -> StoreResult<Vec<RevokedFamily>>;
    /// Revoked families recorded after `after_seq` that have not expired at `now`, by seq.
    async fn revoked_families_since(
        &self,
        after_seq: i64,
        now: i64,
    ) -> StoreResult<Vec<RevokedFamily>>;
    /// Forgets revoked families past their expiry; returns how many.
    async fn purge_revoked_families(&self, now: i64) -> StoreResult<u64>;
    /// Deletes at most `limit` refresh tokens that expired before `before`; returns how many
    /// (callers repeat while it returns `limit`, so no single statement holds locks long).
    async fn purge_expired_refresh_tokens(&self, before: i64, limit: u32) -> StoreResult<u64>;
}

/// A revoked refresh-token family: every token carrying this `origin_jti` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedFamily {
    /// Position in the revocation journal; nodes poll for entries after the last one they saw.
    pub seq: i64,
    pub origin_jti: String,
    pub pool_id: String,
    pub sub: String,
    pub revoked_at: i64,
    /// After this no token of the family can be valid, so the entry can be forgotten.
    pub expires: i64,
}

/// Changes one entry of `User::extra` (see `UserStore::update_user_extra`): given the current
/// value, the new one (`None` removes it).
pub type ExtraUpdate = Box<dyn FnOnce(Option<Value>) -> Option<Value> + Send + 'static>;

/// Small per-user counters that must not race with whole-user updates (sign-in failures).
#[async_trait]
pub trait UserExtraStore: Send + Sync {
    /// Atomically replaces `extra[key]` of the user with `update(current)`, leaving the rest of
    /// the user untouched (its version moves, so a whole-user write read before this one cannot
    /// undo it); returns the new value. `NotFound` when the user does not exist.
    async fn update_user_extra(
        &self,
        pool_id: &str,
        sub: &str,
        key: &str,
        update: ExtraUpdate,
    ) -> StoreResult<Option<Value>>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn put_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    /// Stores `key` (marked active) and makes it the pool's only active key, in one
    /// transaction: the pool's other keys stay, to verify what they signed, but sign no more.
    async fn rotate_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKey>>;
}

/// Everything the domain needs from storage.
pub trait Store:
    PoolStore
    + ClientStore
    + UserStore
    + UserExtraStore
    + GroupStore
    + CodeStore
    + SessionStore
    + TokenStore
    + KeyStore
    + DeviceStore
    + OAuthConfigStore
{
}

impl<T> Store for T where
    T: PoolStore
        + ClientStore
        + UserStore
        + UserExtraStore
        + GroupStore
        + CodeStore
        + SessionStore
        + TokenStore
        + KeyStore
        + DeviceStore
        + OAuthConfigStore
{
}
