//! The aggregate traits on SQLite.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::doc_tables::{expect_changed, from_doc, one_doc, query_docs, to_doc};
use super::{map_err, SqliteStore};
use crate::*;

fn limit(page: &Page) -> i64 {
    i64::try_from(page.limit.clamp(1, 10_000)).unwrap_or(10_000)
}

fn query_keyed_users(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<(String, User)>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(map_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (key, doc) = row.map_err(map_err)?;
        out.push((key, from_doc(&doc)?));
    }
    Ok(out)
}

#[async_trait]
impl PoolStore for SqliteStore {
    async fn insert_pool(&self, pool: &UserPool) -> StoreResult<()> {
        let (id, name, doc) = (pool.id.clone(), pool.name.clone(), to_doc(pool)?);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO user_pools (id, name, doc) VALUES (?1, ?2, ?3)",
                params![id, name, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_pool(&self, pool_id: &str) -> StoreResult<Option<UserPool>> {
        self.read(|c| one_doc(c, "SELECT doc FROM user_pools WHERE id = ?1", [pool_id]))
    }

    async fn update_pool(&self, pool: &UserPool) -> StoreResult<()> {
        let (id, name, doc) = (pool.id.clone(), pool.name.clone(), to_doc(pool)?);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE user_pools SET name = ?2, doc = ?3 WHERE id = ?1",
                    params![id, name, doc],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn delete_pool(&self, pool_id: &str) -> StoreResult<()> {
        let id = pool_id.to_string();
        self.write(move |tx| {
            // Rows that reference users go first so the cascade stays small and ordered.
            for sql in [
                "DELETE FROM group_members WHERE pool_id = ?1",
                "DELETE FROM one_time_codes WHERE pool_id = ?1",
                "DELETE FROM refresh_tokens WHERE pool_id = ?1",
                "DELETE FROM user_attributes WHERE pool_id = ?1",
                "DELETE FROM users WHERE pool_id = ?1",
                "DELETE FROM groups WHERE pool_id = ?1",
                "DELETE FROM app_clients WHERE pool_id = ?1",
                "DELETE FROM auth_sessions WHERE pool_id = ?1",
                "DELETE FROM signing_keys WHERE pool_id = ?1",
            ] {
                tx.execute(sql, [&id]).map_err(map_err)?;
            }
            let n = tx
                .execute("DELETE FROM user_pools WHERE id = ?1", [&id])
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn list_pools(&self, page: &Page) -> StoreResult<Vec<UserPool>> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|c| {
            query_docs(
                c,
                "SELECT doc FROM user_pools WHERE id > ?1 ORDER BY id LIMIT ?2",
                params![after, limit(page)],
            )
        })
    }

    async fn count_users(&self, pool_id: &str) -> StoreResult<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM users WHERE pool_id = ?1")
                .map_err(map_err)?
                .query_row([pool_id], |r| r.get(0))
                .map_err(map_err)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn insert_client(&self, client: &AppClient) -> StoreResult<()> {
        let (id, pool, doc) = (
            client.client_id.clone(),
            client.pool_id.clone(),
            to_doc(client)?,
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO app_clients (client_id, pool_id, doc) VALUES (?1, ?2, ?3)",
                params![id, pool, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<AppClient>> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM app_clients WHERE client_id = ?1",
                [client_id],
            )
        })
    }

    async fn update_client(&self, client: &AppClient) -> StoreResult<()> {
        let (id, doc) = (client.client_id.clone(), to_doc(client)?);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE app_clients SET doc = ?2 WHERE client_id = ?1",
                    params![id, doc],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn delete_client(&self, pool_id: &str, client_id: &str) -> StoreResult<()> {
        let (pool, id) = (pool_id.to_string(), client_id.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM refresh_tokens WHERE pool_id = ?1 AND client_id = ?2",
                params![pool, id],
            )
            .map_err(map_err)?;
            let n = tx
                .execute(
                    "DELETE FROM app_clients WHERE pool_id = ?1 AND client_id = ?2",
                    params![pool, id],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn list_clients(&self, pool_id: &str, page: &Page) -> StoreResult<Vec<AppClient>> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|c| {
            query_docs(
                c,
                "SELECT doc FROM app_clients WHERE pool_id = ?1 AND client_id > ?2
                 ORDER BY client_id LIMIT ?3",
                params![pool_id, after, limit(page)],
            )
        })
    }
}

// Filtered listings start from the attribute index and only then fetch and sort the matching
// users: `CROSS JOIN` fixes that join order, which SQLite's planner would otherwise invert to
// walk every user in username order (a full scan at 100 000 users).
pub(crate) const LIST_USERS_EQUALS: &str = "SELECT u.username_key, u.doc FROM user_attributes a
     CROSS JOIN users u ON u.pool_id = a.pool_id AND u.sub = a.sub
     WHERE a.pool_id = ?1 AND a.name = ?2 AND a.value = ?3 AND u.username_key > ?4
     ORDER BY u.username_key LIMIT ?5";

pub(crate) const LIST_USERS_PREFIX: &str = "SELECT u.username_key, u.doc FROM user_attributes a
     CROSS JOIN users u ON u.pool_id = a.pool_id AND u.sub = a.sub
     WHERE a.pool_id = ?1 AND a.name = ?2 AND a.value >= ?3 AND a.value < ?4
       AND u.username_key > ?5
     ORDER BY u.username_key LIMIT ?6";

fn index_attributes(tx: &Transaction<'_>, user: &User) -> StoreResult<()> {
    tx.execute(
        "DELETE FROM user_attributes WHERE pool_id = ?1 AND sub = ?2",
        params![user.pool_id, user.sub],
    )
    .map_err(map_err)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO user_attributes (pool_id, sub, name, value) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(map_err)?;
    for (name, value) in &user.attributes {
        stmt.execute(params![user.pool_id, user.sub, name, value])
            .map_err(map_err)?;
    }
    // ListUsers can also filter on the user's state, so it is indexed like an attribute.
    let enabled = if user.enabled { "Enabled" } else { "Disabled" };
    for (name, value) in [
        ("cognito:user_status", user.status.as_aws()),
        ("status", enabled),
    ] {
        stmt.execute(params![user.pool_id, user.sub, name, value])
            .map_err(map_err)?;
    }
    Ok(())
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User, username_key: &str) -> StoreResult<()> {
        let (user, key, doc) = (user.clone(), username_key.to_string(), to_doc(user)?);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO users (pool_id, sub, username_key, doc) VALUES (?1, ?2, ?3, ?4)",
                params![user.pool_id, user.sub, key, doc],
            )
            .map_err(map_err)?;
            index_attributes(tx, &user)
        })
        .await
    }

    async fn insert_users(&self, users: &[(User, String)]) -> StoreResult<()> {
        let rows = users
            .iter()
            .map(|(u, k)| Ok((u.clone(), k.clone(), to_doc(u)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(move |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO users (pool_id, sub, username_key, doc) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(map_err)?;
            for (user, key, doc) in &rows {
                stmt.execute(params![user.pool_id, user.sub, key, doc])
                    .map_err(map_err)?;
                index_attributes(tx, user)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_user(&self, pool_id: &str, username_key: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM users WHERE pool_id = ?1 AND username_key = ?2",
                [pool_id, username_key],
            )
        })
    }

    async fn get_user_by_sub(&self, pool_id: &str, sub: &str) -> StoreResult<Option<User>> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM users WHERE pool_id = ?1 AND sub = ?2",
                [pool_id, sub],
            )
        })
    }

    async fn find_users_by_attribute(
        &self,
        pool_id: &str,
        name: &str,
        value: &str,
    ) -> StoreResult<Vec<User>> {
        self.read(|c| {
            query_docs(
                c,
                "SELECT u.doc FROM user_attributes a
                 CROSS JOIN users u ON u.pool_id = a.pool_id AND u.sub = a.sub
                 WHERE a.pool_id = ?1 AND a.name = ?2 AND a.value = ?3",
                [pool_id, name, value],
            )
        })
    }

    async fn update_user(&self, user: &mut User) -> StoreResult<()> {
        let read_at = user.version;
        let mut next = user.clone();
        next.version = read_at + 1;
        let doc = to_doc(&next)?;
        let read_at = version_param(read_at)?;
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET doc = ?3 WHERE pool_id = ?1 AND sub = ?2
                     AND COALESCE(json_extract(doc, '$.version'), 0) = ?4",
                    params![next.pool_id, next.sub, doc, read_at],
                )
                .map_err(map_err)?;
            if n == 0 {
                let exists = tx
                    .query_row(
                        "SELECT 1 FROM users WHERE pool_id = ?1 AND sub = ?2",
                        params![next.pool_id, next.sub],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(map_err)?
                    .is_some();
                return Err(if exists {
                    StoreError::Stale
                } else {
                    StoreError::NotFound
                });
            }
            index_attributes(tx, &next)
        })
        .await?;
        user.version += 1;
        Ok(())
    }

    async fn delete_user(&self, pool_id: &str, sub: &str) -> StoreResult<()> {
        let (pool, sub) = (pool_id.to_string(), sub.to_string());
        self.write(move |tx| {
            for sql in [
                "DELETE FROM group_members WHERE pool_id = ?1 AND sub = ?2",
                "DELETE FROM one_time_codes WHERE pool_id = ?1 AND sub = ?2",
                "DELETE FROM refresh_tokens WHERE pool_id = ?1 AND sub = ?2",
                "DELETE FROM user_attributes WHERE pool_id = ?1 AND sub = ?2",
            ] {
                tx.execute(sql, params![pool, sub]).map_err(map_err)?;
            }
            let n = tx
                .execute(
                    "DELETE FROM users WHERE pool_id = ?1 AND sub = ?2",
                    params![pool, sub],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn list_users(
        &self,
        pool_id: &str,
        filter: Option<&UserFilter>,
        page: &Page,
    ) -> StoreResult<Vec<(String, User)>> {
        let after = page.after.clone().unwrap_or_default();
        let lim = limit(page);
        self.read(|c| match filter {
            Some(UserFilter::Equals { attribute, value }) if attribute == "username" => {
                query_keyed_users(
                    c,
                    "SELECT username_key, doc FROM users
                     WHERE pool_id = ?1 AND username_key = ?2 AND username_key > ?3
                     ORDER BY username_key LIMIT ?4",
                    params![pool_id, value, after, lim],
                )
            }
            Some(UserFilter::StartsWith { attribute, prefix }) if attribute == "username" => {
                let upper = format!("{prefix}\u{10FFFF}");
                query_keyed_users(
                    c,
                    "SELECT username_key, doc FROM users
                     WHERE pool_id = ?1 AND username_key >= ?2 AND username_key < ?3
                       AND username_key > ?4
                     ORDER BY username_key LIMIT ?5",
                    params![pool_id, prefix, upper, after, lim],
                )
            }
            None => query_keyed_users(
                c,
                "SELECT username_key, doc FROM users WHERE pool_id = ?1 AND username_key > ?2
                 ORDER BY username_key LIMIT ?3",
                params![pool_id, after, lim],
            ),
            Some(UserFilter::Equals { attribute, value }) => query_keyed_users(
                c,
                LIST_USERS_EQUALS,
                params![pool_id, attribute, value, after, lim],
            ),
            Some(UserFilter::StartsWith { attribute, prefix }) => {
                // A range on the index: every string that starts with `prefix` sorts between
                // `prefix` and `prefix` followed by the largest code point.
                let upper = format!("{prefix}\u{10FFFF}");
                query_keyed_users(
                    c,
                    LIST_USERS_PREFIX,
                    params![pool_id, attribute, prefix, upper, after, lim],
                )
            }
        })
    }
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn insert_group(&self, group: &Group) -> StoreResult<()> {
        let (pool, name, doc) = (group.pool_id.clone(), group.name.clone(), to_doc(group)?);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO groups (pool_id, name, doc) VALUES (?1, ?2, ?3)",
                params![pool, name, doc],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_group(&self, pool_id: &str, name: &str) -> StoreResult<Option<Group>> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM groups WHERE pool_id = ?1 AND name = ?2",
                [pool_id, name],
            )
        })
    }

    async fn update_group(&self, group: &Group) -> StoreResult<()> {
        let (pool, name, doc) = (group.pool_id.clone(), group.name.clone(), to_doc(group)?);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE groups SET doc = ?3 WHERE pool_id = ?1 AND name = ?2",
                    params![pool, name, doc],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn delete_group(&self, pool_id: &str, name: &str) -> StoreResult<()> {
        let (pool, name) = (pool_id.to_string(), name.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM group_members WHERE pool_id = ?1 AND group_name = ?2",
                params![pool, name],
            )
            .map_err(map_err)?;
            let n = tx
                .execute(
                    "DELETE FROM groups WHERE pool_id = ?1 AND name = ?2",
                    params![pool, name],
                )
                .map_err(map_err)?;
            expect_changed(n)
        })
        .await
    }

    async fn list_groups(&self, pool_id: &str, page: &Page) -> StoreResult<Vec<Group>> {
        let after = page.after.clone().unwrap_or_default();
        self.read(|c| {
            query_docs(
                c,
                "SELECT doc FROM groups WHERE pool_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
                params![pool_id, after, limit(page)],
            )
        })
    }

    async fn add_member(&self, pool_id: &str, group: &str, sub: &str) -> StoreResult<()> {
        let (pool, group, sub) = (pool_id.to_string(), group.to_string(), sub.to_string());
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO group_members (pool_id, group_name, sub) VALUES (?1, ?2, ?3)",
                params![pool, group, sub],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, pool_id: &str, group: &str, sub: &str) -> StoreResult<()> {
        let (pool, group, sub) = (pool_id.to_string(), group.to_string(), sub.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM group_members WHERE pool_id = ?1 AND group_name = ?2 AND sub = ?3",
                params![pool, group, sub],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn groups_for_user(&self, pool_id: &str, sub: &str) -> StoreResult<Vec<Group>> {
        let mut groups: Vec<Group> = self.read(|c| {
            query_docs(
                c,
                "SELECT g.doc FROM group_members m
                 JOIN groups g ON g.pool_id = m.pool_id AND g.name = m.group_name
                 WHERE m.pool_id = ?1 AND m.sub = ?2",
                [pool_id, sub],
            )
        })?;
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
        let after = page.after.clone().unwrap_or_default();
        self.read(|c| {
            query_keyed_users(
                c,
                "SELECT u.username_key, u.doc FROM group_members m
                 CROSS JOIN users u ON u.pool_id = m.pool_id AND u.sub = m.sub
                 WHERE m.pool_id = ?1 AND m.group_name = ?2 AND u.username_key > ?3
                 ORDER BY u.username_key LIMIT ?4",
                params![pool_id, group, after, limit(page)],
            )
        })
    }
}

fn code_from_row(r: &Row<'_>) -> rusqlite::Result<OneTimeCode> {
    Ok(OneTimeCode {
        pool_id: r.get(0)?,
        sub: r.get(1)?,
        purpose: r.get(2)?,
        code_hash: r.get(3)?,
        expires: r.get(4)?,
        failed_attempts: r.get(5)?,
    })
}

#[async_trait]
impl CodeStore for SqliteStore {
    async fn put_code(&self, code: &OneTimeCode) -> StoreResult<()> {
        let code = code.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO one_time_codes
                 (pool_id, sub, purpose, code_hash, expires, failed_attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    code.pool_id,
                    code.sub,
                    code.purpose,
                    code.code_hash,
                    code.expires,
                    code.failed_attempts
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_code(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> StoreResult<Option<OneTimeCode>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT pool_id, sub, purpose, code_hash, expires, failed_attempts
                 FROM one_time_codes WHERE pool_id = ?1 AND sub = ?2 AND purpose = ?3",
            )
            .map_err(map_err)?
            .query_row([pool_id, sub, purpose], code_from_row)
            .optional()
            .map_err(map_err)
        })
    }

    async fn consume_code(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
        code_hash: &str,
    ) -> StoreResult<bool> {
        let args = [pool_id, sub, purpose, code_hash].map(str::to_string);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM one_time_codes
                     WHERE pool_id = ?1 AND sub = ?2 AND purpose = ?3 AND code_hash = ?4",
                    params![args[0], args[1], args[2], args[3]],
                )
                .map_err(map_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn record_code_failure(
        &self,
        pool_id: &str,
        sub: &str,
        purpose: &str,
    ) -> StoreResult<u32> {
        let args = [pool_id, sub, purpose].map(str::to_string);
        self.write(move |tx| {
            tx.query_row(
                "UPDATE one_time_codes SET failed_attempts = failed_attempts + 1
                 WHERE pool_id = ?1 AND sub = ?2 AND purpose = ?3
                 RETURNING failed_attempts",
                params![args[0], args[1], args[2]],
                |r| r.get(0),
            )
            .optional()
            .map_err(map_err)
            .map(|n| n.unwrap_or(0))
        })
        .await
    }

    async fn delete_code(&self, pool_id: &str, sub: &str, purpose: &str) -> StoreResult<()> {
        let args = [pool_id, sub, purpose].map(str::to_string);
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM one_time_codes WHERE pool_id = ?1 AND sub = ?2 AND purpose = ?3",
                params![args[0], args[1], args[2]],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }
}

type SessionRow = (String, String, String, String, String, i64, String);

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn session_from_row(
    (id_hash, pool_id, client_id, username, challenge, expires, data): SessionRow,
) -> StoreResult<AuthSession> {
    Ok(AuthSession {
        id_hash,
        pool_id,
        client_id,
        username,
        challenge,
        expires,
        data: from_doc(&data)?,
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn put_session(&self, session: &AuthSession) -> StoreResult<()> {
        let s = session.clone();
        let data = to_doc(&s.data)?;
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO auth_sessions
                 (id_hash, pool_id, client_id, username, challenge, expires, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.id_hash,
                    s.pool_id,
                    s.client_id,
                    s.username,
                    s.challenge,
                    s.expires,
                    data
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<AuthSession>> {
        let row = self.read(|c| {
            c.prepare_cached(
                "SELECT id_hash, pool_id, client_id, username, challenge, expires, data
                 FROM auth_sessions WHERE id_hash = ?1",
            )
            .map_err(map_err)?
            .query_row([id_hash], session_row)
            .optional()
            .map_err(map_err)
        })?;
        row.map(session_from_row).transpose()
    }

    async fn take_session(&self, id_hash: &str) -> StoreResult<Option<AuthSession>> {
        let id = id_hash.to_string();
        let row = self
            .write(move |tx| {
                tx.query_row(
                    "DELETE FROM auth_sessions WHERE id_hash = ?1
                     RETURNING id_hash, pool_id, client_id, username, challenge, expires, data",
                    [id],
                    session_row,
                )
                .optional()
                .map_err(map_err)
            })
            .await?;
        row.map(session_from_row).transpose()
    }

    async fn purge_expired(&self, now: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM auth_sessions WHERE expires < ?1", [now])
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }
}

fn refresh_from_row(r: &Row<'_>) -> rusqlite::Result<RefreshToken> {
    Ok(RefreshToken {
        token_hash: r.get(0)?,
        pool_id: r.get(1)?,
        client_id: r.get(2)?,
        sub: r.get(3)?,
        origin_jti: r.get(4)?,
        auth_time: r.get(5)?,
        created: r.get(6)?,
        expires: r.get(7)?,
        revoked: r.get::<_, i64>(8)? != 0,
        scopes: r.get(9)?,
    })
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn put_refresh_token(&self, t: &RefreshToken) -> StoreResult<()> {
        let t = t.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO refresh_tokens
                 (token_hash, pool_id, client_id, sub, origin_jti, auth_time, created, expires,
                  revoked, scopes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    t.token_hash,
                    t.pool_id,
                    t.client_id,
                    t.sub,
                    t.origin_jti,
                    t.auth_time,
                    t.created,
                    t.expires,
                    i64::from(t.revoked),
                    t.scopes
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT token_hash, pool_id, client_id, sub, origin_jti, auth_time, created,
                        expires, revoked, scopes
                 FROM refresh_tokens WHERE token_hash = ?1",
            )
            .map_err(map_err)?
            .query_row([token_hash], refresh_from_row)
            .optional()
            .map_err(map_err)
        })
    }

    async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<()> {
        let h = token_hash.to_string();
        self.write(move |tx| {
            tx.execute(
                "UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = ?1",
                [h],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn revoke_user_refresh_tokens(&self, pool_id: &str, sub: &str) -> StoreResult<u64> {
        let (pool, sub) = (pool_id.to_string(), sub.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE refresh_tokens SET revoked = 1
                     WHERE pool_id = ?1 AND sub = ?2 AND revoked = 0",
                    params![pool, sub],
                )
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn revoke_token_family(
        &self,
        token_hash: &str,
        now: i64,
        grace: i64,
    ) -> StoreResult<Option<RevokedFamily>> {
        let h = token_hash.to_string();
        self.write(move |tx| {
            let token: Option<(String, String, String, i64)> = tx
                .query_row(
                    "UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = ?1
                     RETURNING origin_jti, pool_id, sub, expires",
                    [h],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(map_err)?;
            let Some((origin_jti, pool_id, sub, expires)) = token else {
                return Ok(None);
            };
            record_revoked_family(tx, &origin_jti, &pool_id, &sub, now, expires + grace).map(Some)
        })
        .await
    }

    async fn revoke_user_token_families(
        &self,
        pool_id: &str,
        sub: &str,
        now: i64,
        grace: i64,
    ) -> StoreResult<Vec<RevokedFamily>> {
        let (pool, sub) = (pool_id.to_string(), sub.to_string());
        self.write(move |tx| {
            tx.execute(
                "UPDATE refresh_tokens SET revoked = 1
                 WHERE pool_id = ?1 AND sub = ?2 AND revoked = 0",
                params![pool, sub],
            )
            .map_err(map_err)?;
            let families: Vec<(String, i64)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT origin_jti, MAX(expires) FROM refresh_tokens
                         WHERE pool_id = ?1 AND sub = ?2 AND expires > ?3
                         GROUP BY origin_jti",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(params![pool, sub, now - grace], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map_err(map_err)?;
                rows.collect::<rusqlite::Result<_>>().map_err(map_err)?
            };
            families
                .into_iter()
                .map(|(jti, expires)| {
                    record_revoked_family(tx, &jti, &pool, &sub, now, expires + grace)
                })
                .collect()
        })
        .await
    }

    async fn revoked_families_since(
        &self,
        after_seq: i64,
        now: i64,
    ) -> StoreResult<Vec<RevokedFamily>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, origin_jti, pool_id, sub, revoked_at, expires
                     FROM revoked_token_families WHERE seq > ?1 AND expires > ?2 ORDER BY seq",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![after_seq, now], revoked_from_row)
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })
    }

    async fn purge_revoked_families(&self, now: i64) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM revoked_token_families WHERE expires <= ?1",
                    [now],
                )
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn purge_expired_refresh_tokens(&self, before: i64, limit: u32) -> StoreResult<u64> {
        self.write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM refresh_tokens WHERE token_hash IN
                     (SELECT token_hash FROM refresh_tokens WHERE expires < ?1 LIMIT ?2)",
                    params![before, limit],
                )
                .map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }
}

fn revoked_from_row(r: &Row<'_>) -> rusqlite::Result<RevokedFamily> {
    Ok(RevokedFamily {
        seq: r.get(0)?,
        origin_jti: r.get(1)?,
        pool_id: r.get(2)?,
        sub: r.get(3)?,
        revoked_at: r.get(4)?,
        expires: r.get(5)?,
    })
}

/// Journals a revoked family (once: a second revocation keeps the first entry, extending its
/// expiry if needed) and returns the entry.
fn record_revoked_family(
    tx: &Transaction<'_>,
    origin_jti: &str,
    pool_id: &str,
    sub: &str,
    now: i64,
    expires: i64,
) -> StoreResult<RevokedFamily> {
    tx.execute(
        "INSERT INTO revoked_token_families (origin_jti, pool_id, sub, revoked_at, expires)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (origin_jti) DO UPDATE SET expires = MAX(expires, excluded.expires)",
        params![origin_jti, pool_id, sub, now, expires],
    )
    .map_err(map_err)?;
    tx.query_row(
        "SELECT seq, origin_jti, pool_id, sub, revoked_at, expires
         FROM revoked_token_families WHERE origin_jti = ?1",
        [origin_jti],
        revoked_from_row,
    )
    .map_err(map_err)
}

#[async_trait]
impl UserExtraStore for SqliteStore {
    async fn update_user_extra(
        &self,
        pool_id: &str,
        sub: &str,
        key: &str,
        update: ExtraUpdate,
    ) -> StoreResult<Option<serde_json::Value>> {
        let (pool, sub, key) = (pool_id.to_string(), sub.to_string(), key.to_string());
        self.write(move |tx| {
            let doc: String = tx
                .query_row(
                    "SELECT doc FROM users WHERE pool_id = ?1 AND sub = ?2",
                    params![pool, sub],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?
                .ok_or(StoreError::NotFound)?;
            let mut user: User = from_doc(&doc)?;
            let new = update(user.extra.remove(&key));
            if let Some(v) = &new {
                user.extra.insert(key, v.clone());
            }
            user.version += 1;
            // Only `extra` changed, so the attribute index stays as it is.
            tx.execute(
                "UPDATE users SET doc = ?3 WHERE pool_id = ?1 AND sub = ?2",
                params![pool, sub, to_doc(&user)?],
            )
            .map_err(map_err)?;
            Ok(new)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn put_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO signing_keys (pool_id, kid, private_pkcs8, created, active)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    k.pool_id,
                    k.kid,
                    k.private_pkcs8,
                    k.created,
                    i64::from(k.active)
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn rotate_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        let k = key.clone();
        self.write(move |tx| {
            tx.execute(
                "UPDATE signing_keys SET active = 0 WHERE pool_id = ?1",
                params![k.pool_id],
            )
            .map_err(map_err)?;
            tx.execute(
                "INSERT INTO signing_keys (pool_id, kid, private_pkcs8, created, active)
                 VALUES (?1, ?2, ?3, ?4, 1)",
                params![k.pool_id, k.kid, k.private_pkcs8, k.created],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn signing_keys(&self, pool_id: &str) -> StoreResult<Vec<SigningKey>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT pool_id, kid, private_pkcs8, created, active FROM signing_keys
                     WHERE pool_id = ?1 ORDER BY created",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map([pool_id], |r| {
                    Ok(SigningKey {
                        pool_id: r.get(0)?,
                        kid: r.get(1)?,
                        private_pkcs8: r.get(2)?,
                        created: r.get(3)?,
                        active: r.get::<_, i64>(4)? != 0,
                    })
                })
                .map_err(map_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(map_err)
        })
    }
}

/// A user version as SQLite's integer (versions count writes: never near i64::MAX).
fn version_param(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("user version {v} out of range")))
}
