//! The user-pool aggregate traits on PostgreSQL. Single-row changes are single statements
//! (READ COMMITTED is enough: a row lock orders concurrent writers); changes to several rows run
//! in one transaction. Single use (codes, sessions) is a `DELETE … RETURNING`: concurrent callers
//! queue on the row lock and only the first finds the row.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{map_err, PgStore};
use crate::*;

fn to_doc<T: Serialize>(v: &T) -> StoreResult<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(row: &Row, idx: usize) -> StoreResult<T> {
    let v: Value = row.try_get(idx).map_err(map_err)?;
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn limit(page: &Page) -> i64 {
    i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000)
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(map_err)
}

async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query(&stmt, params).await.map_err(map_err)
}

async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.query_opt(&stmt, params).await.map_err(map_err)
}

async fn execute<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(map_err)?;
    c.execute(&stmt, params).await.map_err(map_err)
}

fn expect_changed(n: u64) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

fn docs<T: DeserializeOwned>(rows: &[Row]) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| from_doc(r, 0)).collect()
}

fn keyed_users(rows: &[Row]) -> StoreResult<Vec<(String, User)>> {
    rows.iter()
        .map(|r| Ok((get(r, 0)?, from_doc(r, 1)?)))
        .collect()
}

impl PgStore {
    async fn one_doc<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<T>> {
        let c = self.client().await?;
        query_opt(&c, sql, params)
            .await?
            .map(|r| from_doc(&r, 0))
            .transpose()
    }

    async fn docs<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<T>> {
        let c = self.client().await?;
        docs(&query(&c, sql, params).await?)
    }

    async fn keyed_users(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<(String, User)>> {
        let c = self.client().await?;
        keyed_users(&query(&c, sql, params).await?)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let c = self.client().await?;
        execute(&c, sql, params).await
    }
}

#[async_trait]
impl PoolStore for PgStore {
    async fn insert_pool(&self, pool: &UserPool) -> StoreResult<()> {
        self.execute(
            "INSERT INTO user_pools (id, name, doc) VALUES ($1, $2, $3)",
            &[&pool.id, &pool.name, &to_doc(pool)?],
        )
        .await
        .map(drop)
    }

    async fn get_pool(&self, pool_id: &str) -> StoreResult<Option<UserPool>> {
        self.one_doc("SELECT doc FROM user_pools WHERE id = $1", &[&pool_id])
            .await
    }

    async fn update_pool(&self, pool: &UserPool) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE user_pools SET name = $2, doc = $3 WHERE id = $1",
                &[&pool.id, &pool.name, &to_doc(pool)?],
            )
            .await?;
        expect_changed(n)
    }

    async fn delete_pool(&self, pool_id: &str) -> StoreResult<()> {
        // The foreign keys cascade to everything in the pool, in the one statement.
        let n = self
            .execute("DELETE FROM user_pools WHERE id = $1", &[&pool_id])
            .await?;
        expect_changed(n)
    }

    async fn list_pools(&self, page: &Page) -> StoreResult<Vec<UserPool>> {
        let after = page.after.as_deref().unwrap_or("");
        self.docs(
            "SELECT doc FROM user_pools WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after, &limit(page)],
        )
        .await
    }

    async fn count_users(&self, pool_id: &str) -> StoreResult<u64> {
        let c = self.client().await?;
        let rows = query(
            &c,
            "SELECT COUNT(*) FROM users WHERE pool_id = $1",
            &[&pool_id],
        )
        .await?;
        let n: i64 = rows.first().map(|r| get(r, 0)).transpose()?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl ClientStore for PgStore {
    async fn insert_client(&self, client: &AppClient) -> StoreResult<()> {
        self.execute(
            "INSERT INTO app_clients (client_id, pool_id, doc) VALUES ($1, $2, $3)",
            &[&client.client_id, &client.pool_id, &to_doc(client)?],
        )
        .await
        .map(drop)
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<AppClient>> {
        self.one_doc(
            "SELECT doc FROM app_clients WHERE client_id = $1",
            &[&client_id],
        )
        .await
    }

    async fn update_client(&self, client: &AppClient) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE app_clients SET doc = $2 WHERE client_id = $1",
                &[&client.client_id, &to_doc(client)?],
            )
            .await?;
        expect_changed(n)
    }

    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        execute(
            &tx,
            "DELETE FROM refresh_tokens WHERE pool_id = $1 AND client_id = $2",
            &[&pool_id, &client_id],
        )
        .await?;
        let n = execute(
            &tx,
            "DELETE FROM app_clients WHERE pool_id = $1 AND client_id = $2",
            &[&pool_id, &client_id],
        )
        .await?;
        expect_changed(n)?;
        tx.commit().await.map_err(map_err)
    }

    async fn list_clients(&self, pool_id: &str, page: &Page) -> StoreResult<Vec<AppClient>> {
        let after = page.after.as_deref().unwrap_or("");
        self.docs(
            "SELECT doc FROM app_clients WHERE pool_id = $1 AND client_id > $2
             ORDER BY client_id LIMIT $3",
            &[&pool_id, &after, &limit(page)],
        )
        .await
    }
}

/// The rows of the attribute index for a user: every attribute, plus the user's state, which
/// ListUsers can filter on like an attribute.
fn index_rows(user: &User) -> (Vec<&str>, Vec<&str>) {
    let enabled = if user.enabled { "Enabled" } else { "Disabled" };
    user.attributes
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain([
            ("cognito:user_status", user.status.as_aws()),
            ("status", enabled),
        ])
        .unzip()
}

const INSERT_ATTRIBUTES: &str = "INSERT INTO user_attributes (pool_id, sub, name, value)
     SELECT $1, $2, n, v FROM unnest($3::text[], $4::text[]) AS a(n, v)";

/// Rebuilds the user's attribute index rows (one round trip for all of them).
async fn index_attributes<C: GenericClient>(c: &C, user: &User) -> StoreResult<()> {
    execute(
        c,
        "DELETE FROM user_attributes WHERE pool_id = $1 AND sub = $2",
        &[&user.pool_id, &user.sub],
    )
    .await?;
    let (names, values) = index_rows(user);
    execute(
        c,
        INSERT_ATTRIBUTES,
        &[&user.pool_id, &user.sub, &names, &values],
    )
    .await
    .map(drop)
}

// Filtered listings start from the attribute index and only then fetch and sort the matching
// users (the planner picks that order from the index's selectivity).
pub(crate) const LIST_USERS_EQUALS: &str = "SELECT u.username_key, u.doc FROM user_attributes a
     JOIN users u ON u.pool_id = a.pool_id AND u.sub = a.sub
     WHERE a.pool_id = $1 AND a.name = $2 AND a.value = $3 AND u.username_key > $4
     ORDER BY u.username_key LIMIT $5";

pub(crate) const LIST_USERS_PREFIX: &str = "SELECT u.username_key, u.doc FROM user_attributes a
     JOIN users u ON u.pool_id = a.pool_id AND u.sub = a.sub
     WHERE a.pool_id = $1 AND a.name = $2 AND a.value >= $3 AND a.value < $4
       AND u.username_key > $5
     ORDER BY u.username_key LIMIT $6";

/// Bulk imports are written this many users per statement.
const IMPORT_CHUNK: usize = 500;

#[async_trait]
impl UserStore for PgStore {
    async fn insert_user(&self, user: &User, username_key: &str) -> StoreResult<()> {
        let doc = to_doc(user)?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        execute(
            &tx,
            "INSERT INTO users (pool_id, sub, username_key, doc) VALUES ($1, $2, $3, $4)",
            &[&user.pool_id, &user.sub, &username_key, &doc],
        )
        .await?;
        let (names, values) = index_rows(user);
        execute(
            &tx,
            INSERT_ATTRIBUTES,
            &[&user.pool_id, &user.sub, &names, &values],
        )
        .await?;
        tx.commit().await.map_err(map_err)
    }

    async fn insert_users(&self, users: &[(User, String)]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        for chunk in users.chunks(IMPORT_CHUNK) {
            let mut pools = Vec::with_capacity(chunk.len());
            let mut subs = Vec::with_capacity(chunk.len());
            let mut keys = Vec::with_capacity(chunk.len());
            let mut docs = Vec::with_capacity(chunk.len());
            let (mut a_pools, mut a_subs, mut a_names, mut a_values) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (user, key) in chunk {
                pools.push(user.pool_id.as_str());
                subs.push(user.sub.as_str());
                keys.push(key.as_str());
                docs.push(to_doc(user)?);
                let (names, values) = index_rows(user);
                for (n, v) in names.into_iter().zip(values) {
                    a_pools.push(user.pool_id.as_str());
                    a_subs.push(user.sub.as_str());
                    a_names.push(n);
                    a_values.push(v);
                }
            }
            execute(
                &tx,
                "INSERT INTO users (pool_id, sub, username_key, doc)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])",
                &[&pools, &subs, &keys, &docs],
            )
            .await?;
            execute(
                &tx,
                "INSERT INTO user_attributes (pool_id, sub, name, value)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])",
                &[&a_pools, &a_subs, &a_names, &a_values],
            )
            .await?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<User>> {
        self.one_doc(
            "SELECT doc FROM users WHERE pool_id = $1 AND username_key = $2",
            &[&pool_id, &username_key],
        )
        .await
    }

    async fn get_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>> {
        self.one_doc(
            "SELECT doc FROM users WHERE pool_id = $1 AND sub = $2",
            &[&pool_id, &sub],
        )
        .await
    }

    async fn find_users_by_attribute(
        &self,
        pool_id: &str,
        name: &str,
        value: &str,
    ) -> StoreResult<Vec<User>> {
        self.docs(
            "SELECT u.doc FROM user_attributes a
             JOIN users u ON u.pool_id = a.pool_id AND u.sub = a.sub
             WHERE a.pool_id = $1 AND a.name = $2 AND a.value = $3",
            &[&pool_id, &name, &value],
        )
        .await
    }

    async fn update_user(&self, user: &mut User) -> StoreResult<()> {
        let mut next = user.clone();
        next.version = user.version + 1;
        let doc = to_doc(&next)?;
        let read_at = i64::try_from(user.version).map_err(|_| {
            StoreError::Corrupt(format!("user version {} out of range", user.version))
        })?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // Under READ COMMITTED a concurrent writer of the row makes this wait, then re-check the
        // condition against its committed version: exactly one of two writers of one version wins.
        let n = execute(
            &tx,
            "UPDATE users SET doc = $3 WHERE pool_id = $1 AND sub = $2
             AND COALESCE((doc->>'version')::BIGINT, 0) = $4",
            &[&next.pool_id, &next.sub, &doc, &read_at],
        )
        .await?;
        if n == 0 {
            let exists = query_opt(
                &tx,
                "SELECT 1 FROM users WHERE pool_id = $1 AND sub = $2",
                &[&next.pool_id, &next.sub],
            )
            .await?
            .is_some();
            return Err(if exists {
                StoreError::Stale
            } else {
                StoreError::NotFound
            });
        }
        index_attributes(&tx, &next).await?;
        tx.commit().await.map_err(map_err)?;
        user.version = next.version;
        Ok(())
    }

    async fn delete_user(&self, pool_id: &str, sub: &str) -> StoreResult<()> {
        // Memberships, codes, refresh tokens and index rows go with it (ON DELETE CASCADE).
        let n = self
            .execute(
                "DELETE FROM users WHERE pool_id = $1 AND sub = $2",
                &[&pool_id, &sub],
            )
            .await?;
        expect_changed(n)
    }

    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        page: &Page,
    ) -> StoreResult<Vec<(String, User)>> {
        let after = page.after.as_deref().unwrap_or("");
        let lim = limit(page);
        match filter {
            Some(UserFilter::Equals { attribute, value }) if attribute == "username" => {
                self.keyed_users(
                    "SELECT username_key, doc FROM users
                     WHERE pool_id = $1 AND username_key = $2 AND username_key > $3
                     ORDER BY username_key LIMIT $4",
                    &[&pool_id, value, &after, &lim],
                )
                .await
            }
            Some(UserFilter::StartsWith { attribute, prefix }) if attribute == "username" => {
                let upper = format!("{prefix}\u{10FFFF}");
                self.keyed_users(
                    "SELECT username_key, doc FROM users
                     WHERE pool_id = $1 AND username_key >= $2 AND username_key < $3
                       AND username_key > $4
                     ORDER BY username_key LIMIT $5",
                    &[&pool_id, prefix, &upper, &after, &lim],
                )
                .await
            }
            None => {
                self.keyed_users(
                    "SELECT username_key, doc FROM users WHERE pool_id = $1 AND username_key > $2
                     ORDER BY username_key LIMIT $3",
                    &[&pool_id, &after, &lim],
                )
                .await
            }
            Some(UserFilter::Equals { attribute, value }) => {
                self.keyed_users(
                    LIST_USERS_EQUALS,
                    &[&pool_id, attribute, value, &after, &lim],
                )
                .await
            }
            Some(UserFilter::StartsWith { attribute, prefix }) => {
                // A range on the index: every string that starts with `prefix` sorts (in the
                // "C" collation) between `prefix` and `prefix` followed by the largest code point.
                let upper = format!("{prefix}\u{10FFFF}");
                self.keyed_users(
                    LIST_USERS_PREFIX,
                    &[&pool_id, attribute, prefix, &upper, &after, &lim],
                )
                .await
            }
        }
    }
}

#[async_trait]
impl GroupStore for PgStore {
    async fn insert_group(&self, group: &Group) -> StoreResult<()> {
        self.execute(
            "INSERT INTO groups (pool_id, name, doc) VALUES ($1, $2, $3)",
            &[&group.pool_id, &group.name, &to_doc(group)?],
        )
        .await
        .map(drop)
    }

    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<Group>> {
        self.one_doc(
            "SELECT doc FROM groups WHERE pool_id = $1 AND name = $2",
            &[&pool_id, &name],
        )
        .await
    }

    async fn update_group(&self, group: &Group) -> StoreResult<()> {
        let n = self
            .execute(
                "UPDATE groups SET doc = $3 WHERE pool_id = $1 AND name = $2",
                &[&group.pool_id, &group.name, &to_doc(group)?],
            )
            .await?;
        expect_changed(n)
    }

    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<()> {
        // Memberships cascade.
        let n = self
            .execute(
                "DELETE FROM groups WHERE pool_id = $1 AND name = $2",
                &[&pool_id, &name],
            )
            .await?;
        expect_changed(n)
    }

    async fn list_groups(&self, pool_id: &str, page: &Page) -> StoreResult<Vec<Group>> {
        let after = page.after.as_deref().unwrap_or("");
        self.docs(
            "SELECT doc FROM groups WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3",
            &[&pool_id, &after, &limit(page)],
        )
        .await
    }

    async fn add_member(&self, pool_id: &str, group: &str, sub: &str) -> StoreResult<()> {
        // Two nodes adding the same member at once: the loser's insert does nothing.
        self.execute(
            "INSERT INTO group_members (pool_id, group_name, sub) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&pool_id, &group, &sub],
        )
        .await
        .map(drop)
    }

    async fn remove_member(&self, pool_id: &str, group: &str, sub: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND sub = $3",
            &[&pool_id, &group, &sub],
        )
        .await
        .map(drop)
    }

    async fn groups_for_user(&self, pool_id: &str, sub: &str) -> StoreResult<Vec<Group>> {
        let mut groups: Vec<Group> = self
            .docs(
                "SELECT g.doc FROM group_members m
                 JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name
                 WHERE m.pool_id = $1 AND m.sub = $2",
                &[&pool_id, &sub],
            )
            .await?;
        groups.sort_by(|a, b| {
            (a.precedence.is_none(), a.precedence, &a.name).cmp(&(
                b.precedence.is_none(),
                b.precedence,
                &b.name,
            ))
        });
        Ok(groups)
    }

    async fn users_in_group(
        &self,
        pool_id: &str,
        group: &str,
        page: &Page,
    ) -> StoreResult<Vec<(String, User)>> {
        let after = page.after.as_deref().unwrap_or("");
        self.keyed_users(
            "SELECT u.username_key, u.doc FROM group_members m
             JOIN users u ON u.pool_id = m.pool_id AND u.sub = m.sub
             WHERE m.pool_id = $1 AND m.group_name = $2 AND u.username_key > $3
             ORDER BY u.username_key LIMIT $4",
            &[&pool_id, &group, &after, &limit(page)],
        )
        .await
    }
}

fn code_from_row(r: &Row) -> StoreResult<OneTimeCode> {
    let failed: i32 = get(r, 5)?;
    Ok(OneTimeCode {
        pool_id: get(r, 0)?,
        sub: get(r, 1)?,
        purpose: get(r, 2)?,
        code_hash: get(r, 3)?,
        expires: get(r, 4)?,
        failed_attempts: u32::try_from(failed).unwrap_or(0),
    })
}

#[async_trait]
impl CodeStore for PgStore {
    async fn put_code(&self, code: &OneTimeCode) -> StoreResult<()> {
        let failed = i32::try_from(code.failed_attempts).unwrap_or(i32::MAX);
        self.execute(
            "INSERT INTO one_time_codes
             (pool_id, sub, purpose, code_hash, expires, failed_attempts)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (pool_id, sub, purpose) DO UPDATE SET
               code_hash = excluded.code_hash, expires = excluded.expires,
               failed_attempts = excluded.failed_attempts",
            &[
                &code.pool_id,
                &code.sub,
                &code.purpose,
                &code.code_hash,
                &code.expires,
                &failed,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_code(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> StoreResult<Option<OneTimeCode>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT pool_id, sub, purpose, code_hash, expires, failed_attempts
             FROM one_time_codes WHERE pool_id = $1 AND sub = $2 AND purpose = $3",
            &[&pool_id, &sub, &purpose],
        )
        .await?
        .map(|r| code_from_row(&r))
        .transpose()
    }

    async fn consume_code(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
        code_hash: &str,
    ) -> StoreResult<bool> {
        // Concurrent callers wait on the row lock; after the winner commits the others re-check
        // the row, find it gone, and delete nothing.
        let n = self
            .execute(
                "DELETE FROM one_time_codes
                 WHERE pool_id = $1 AND sub = $2 AND purpose = $3 AND code_hash = $4",
                &[&pool_id, &sub, &purpose, &code_hash],
            )
            .await?;
        Ok(n == 1)
    }

    async fn record_code_failure(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> StoreResult<u32> {
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1
             WHERE pool_id = $1 AND sub = $2 AND purpose = $3
             RETURNING failed_attempts",
            &[&pool_id, &sub, &purpose],
        )
        .await?;
        let n: i32 = row.map(|r| get(&r, 0)).transpose()?.unwrap_or(0);
        Ok(u32::try_from(n).unwrap_or(0))
    }

    async fn delete_code(&self, pool_id: &str, sub: &str, purpose: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM one_time_codes WHERE pool_id = $1 AND sub = $2 AND purpose = $3",
            &[&pool_id, &sub, &purpose],
        )
        .await
        .map(drop)
    }
}

const SESSION_COLUMNS: &str = "id_hash, pool_id, client_id, username, challenge, expires, data";

fn session_from_row(r: &Row) -> StoreResult<AuthSession> {
    Ok(AuthSession {
        id_hash: get(r, 0)?,
        pool_id: get(r, 1)?,
        client_id: get(r, 2)?,
        username: get(r, 3)?,
        challenge: get(r, 4)?,
        expires: get(r, 5)?,
        data: get(r, 6)?,
    })
}

#[async_trait]
impl SessionStore for PgStore {
    async fn put_session(&self, s: &AuthSession) -> StoreResult<()> {
        self.execute(
            "INSERT INTO auth_sessions
             (id_hash, pool_id, client_id, username, challenge, expires, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &s.id_hash,
                &s.pool_id,
                &s.client_id,
                &s.username,
                &s.challenge,
                &s.expires,
                &s.data,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<AuthSession>> {
        let c = self.client().await?;
        let sql = format!("SELECT {SESSION_COLUMNS} FROM auth_sessions WHERE id_hash = $1");
        query_opt(&c, &sql, &[&id_hash])
            .await?
            .map(|r| session_from_row(&r))
            .transpose()
    }

    async fn take_session(&self, id_hash: &str) -> StoreResult<Option<AuthSession>> {
        let c = self.client().await?;
        let sql =
            format!("DELETE FROM auth_sessions WHERE id_hash = $1 RETURNING {SESSION_COLUMNS}");
        query_opt(&c, &sql, &[&id_hash])
            .await?
            .map(|r| session_from_row(&r))
            .transpose()
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.execute("DELETE FROM auth_sessions WHERE expires < $1", &[&now])
            .await
    }
}

fn refresh_from_row(r: &Row) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: get(r, 0)?,
        pool_id: get(r, 1)?,
        client_id: get(r, 2)?,
        sub: get(r, 3)?,
        origin_jti: get(r, 4)?,
        auth_time: get(r, 5)?,
        created: get(r, 6)?,
        expires: get(r, 7)?,
        revoked: get(r, 8)?,
        scopes: get(r, 9)?,
    })
}

fn revoked_from_row(r: &Row) -> StoreResult<RevokedFamily> {
    Ok(RevokedFamily {
        seq: get(r, 0)?,
        origin_jti: get(r, 1)?,
        pool_id: get(r, 2)?,
        sub: get(r, 3)?,
        revoked_at: get(r, 4)?,
        expires: get(r, 5)?,
    })
}

/// Serializes revocations (taken before any row lock) until their commit. An identity column hands
/// out seqs at insert but rows become visible at commit, so without this a reader could see
/// seq 8 before a slower transaction's seq 7 commits and then never ask for 7 again. Revocations
/// are rare, so the queue costs nothing noticeable.
const LOCK_REVOCATION_JOURNAL: &str =
    "SELECT pg_advisory_xact_lock(hashtext('gatehouse.revocations.' || current_schema()))";

/// Journals a revoked family (once: a second revocation keeps the first entry, extending its
/// expiry if needed) and returns the entry.
async fn record_revoked_family<C: GenericClient>(
    c: &C,
    origin_jti: &str,
    pool_id: &str,
    sub: &str,
    now: i64,
    expires: i64,
) -> StoreResult<RevokedFamily> {
    let rows = query(
        c,
        "INSERT INTO revoked_token_families (origin_jti, pool_id, sub, revoked_at, expires)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (origin_jti) DO UPDATE
           SET expires = GREATEST(revoked_token_families.expires, excluded.expires)
         RETURNING seq, origin_jti, pool_id, sub, revoked_at, expires",
        &[&origin_jti, &pool_id, &sub, &now, &expires],
    )
    .await?;
    rows.first()
        .map(revoked_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("journal insert returned no row".into()))
}

#[async_trait]
impl TokenStore for PgStore {
    async fn put_refresh_token(&self, t: &RefreshToken) -> StoreResult<()> {
        self.execute(
            "INSERT INTO refresh_tokens
             (token_hash, pool_id, client_id, sub, origin_jti, auth_time, created, expires,
              revoked, scopes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &t.token_hash,
                &t.pool_id,
                &t.client_id,
                &t.sub,
                &t.origin_jti,
                &t.auth_time,
                &t.created,
                &t.expires,
                &t.revoked,
                &t.scopes,
            ],
        )
        .await
        .map(drop)
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT token_hash, pool_id, client_id, sub, origin_jti, auth_time, created,
                    expires, revoked, scopes
             FROM refresh_tokens WHERE token_hash = $1",
            &[&token_hash],
        )
        .await?
        .map(|r| refresh_from_row(&r))
        .transpose()
    }

    async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE refresh_tokens SET revoked = TRUE WHERE token_hash = $1",
            &[&token_hash],
        )
        .await
        .map(drop)
    }

    async fn revoke_user_refresh_tokens(&self, pool_id: &str, sub: &str) -> StoreResult<u64> {
        self.execute(
            "UPDATE refresh_tokens SET revoked = TRUE
             WHERE pool_id = $1 AND sub = $2 AND NOT revoked",
            &[&pool_id, &sub],
        )
        .await
    }

    async fn revoke_token_family(
        &self,
        token_hash: &str,
        now: i64,
        grace: i64,
    ) -> StoreResult<Option<RevokedFamily>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // The journal lock first, then rows: every revocation takes them in this order, so two
        // nodes revoking overlapping tokens queue instead of deadlocking.
        execute(&tx, LOCK_REVOCATION_JOURNAL, &[]).await?;
        let token = query_opt(
            &tx,
            "UPDATE refresh_tokens SET revoked = TRUE WHERE token_hash = $1
             RETURNING origin_jti, pool_id, sub, expires",
            &[&token_hash],
        )
        .await?;
        let Some(row) = token else {
            return Ok(None);
        };
        let (origin_jti, pool_id, sub, expires): (String, String, String, i64) =
            (get(&row, 0)?, get(&row, 1)?, get(&row, 2)?, get(&row, 3)?);
        let family =
            record_revoked_family(&tx, &origin_jti, &pool_id, &sub, now, expires + grace).await?;
        // Other nodes hear of it when (and only if) this commits.
        self.notify_in(&tx, crate::changes::Topic::Revocations)
            .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(Some(family))
    }

    async fn revoke_user_token_families(
        &self,
        pool_id: &str,
        sub: &str,
        now: i64,
        grace: i64,
    ) -> StoreResult<Vec<RevokedFamily>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // As in revoke_token_family: the journal lock before any row lock.
        execute(&tx, LOCK_REVOCATION_JOURNAL, &[]).await?;
        execute(
            &tx,
            "UPDATE refresh_tokens SET revoked = TRUE
             WHERE pool_id = $1 AND sub = $2 AND NOT revoked",
            &[&pool_id, &sub],
        )
        .await?;
        let families = query(
            &tx,
            "SELECT origin_jti, MAX(expires) FROM refresh_tokens
             WHERE pool_id = $1 AND sub = $2 AND expires > $3
             GROUP BY origin_jti ORDER BY origin_jti",
            &[&pool_id, &sub, &(now - grace)],
        )
        .await?;
        let mut out = Vec::with_capacity(families.len());
        for row in &families {
            let (jti, expires): (String, i64) = (get(row, 0)?, get(row, 1)?);
            out.push(record_revoked_family(&tx, &jti, pool_id, sub, now, expires + grace).await?);
        }
        if !out.is_empty() {
            self.notify_in(&tx, crate::changes::Topic::Revocations)
                .await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(out)
    }

    async fn revoked_families_since(
        &self,
        after_seq: i64,
        now: i64,
    ) -> StoreResult<Vec<RevokedFamily>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT seq, origin_jti, pool_id, sub, revoked_at, expires
             FROM revoked_token_families WHERE seq > $1 AND expires > $2 ORDER BY seq",
            &[&after_seq, &now],
        )
        .await?
        .iter()
        .map(revoked_from_row)
        .collect()
    }

    async fn purge_revoked_families(&self, now: i64) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM revoked_token_families WHERE expires <= $1",
            &[&now],
        )
        .await
    }

    async fn purge_expired_refresh_tokens(&self, before: i64, limit: u32) -> StoreResult<u64> {
        // SKIP LOCKED: nodes purging at once take different rows instead of queueing.
        self.execute(
            "DELETE FROM refresh_tokens WHERE token_hash IN
             (SELECT token_hash FROM refresh_tokens WHERE expires < $1
              LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&before, &i64::from(limit)],
        )
        .await
    }
}

#[async_trait]
impl UserExtraStore for PgStore {
    async fn update_user_extra(
        &self,
        pool_id: &str,
        sub: &str,
        key: &str,
        update: ExtraUpdate,
    ) -> StoreResult<Option<Value>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        // FOR UPDATE: a concurrent update of the same user waits here, then reads our result.
        let row = query_opt(
            &tx,
            "SELECT doc FROM users WHERE pool_id = $1 AND sub = $2 FOR UPDATE",
            &[&pool_id, &sub],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut user: User = from_doc(&row, 0)?;
        let new = update(user.extra.remove(key));
        if let Some(v) = &new {
            user.extra.insert(key.to_string(), v.clone());
        }
        user.version += 1;
        // Only `extra` changed, so the attribute index stays as it is.
        execute(
            &tx,
            "UPDATE users SET doc = $3 WHERE pool_id = $1 AND sub = $2",
            &[&pool_id, &sub, &to_doc(&user)?],
        )
        .await?;
        tx.commit().await.map_err(map_err)?;
        Ok(new)
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn put_signing_key(&self, k: &SigningKey) -> StoreResult<()> {
        self.execute(
            "INSERT INTO signing_keys (pool_id, kid, private_pkcs8, created, active)
             VALUES ($1, $2, $3, $4, $5)",
            &[&k.pool_id, &k.kid, &k.private_pkcs8, &k.created, &k.active],
        )
        .await
        .map(drop)
    }

    async fn rotate_signing_key(&self, k: &SigningKey) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(map_err)?;
        execute(
            &tx,
            "UPDATE signing_keys SET active = FALSE WHERE pool_id = $1",
            &[&k.pool_id],
        )
        .await?;
        execute(
            &tx,
            "INSERT INTO signing_keys (pool_id, kid, private_pkcs8, created, active)
             VALUES ($1, $2, $3, $4, TRUE)",
            &[&k.pool_id, &k.kid, &k.private_pkcs8, &k.created],
        )
        .await?;
        tx.commit().await.map_err(map_err)
    }

    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKey>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT pool_id, kid, private_pkcs8, created, active FROM signing_keys
             WHERE pool_id = $1 ORDER BY created, kid",
            &[&pool_id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(SigningKey {
                pool_id: get(r, 0)?,
                kid: get(r, 1)?,
                private_pkcs8: get(r, 2)?,
                created: get(r, 3)?,
                active: get(r, 4)?,
            })
        })
        .collect()
    }
}
