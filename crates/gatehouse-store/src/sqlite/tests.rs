//! What only the SQLite store has: query plans, durability across reopen, and the aggregates
//! PostgreSQL does not store yet. The shared behaviour (uniqueness, cascades, index-backed
//! filters, single use under concurrency) is in `crate::contract_tests`, run on both backends.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::SqliteStore;
use crate::*;

fn pool(id: &str) -> UserPool {
    UserPool {
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
    }
}

fn user(pool: &str, name: &str, email: &str) -> User {
    let mut attributes = BTreeMap::new();
    attributes.insert("email".to_string(), email.to_string());
    attributes.insert("sub".to_string(), format!("sub-{name}"));
    User {
        pool_id: pool.into(),
        username: name.into(),
        sub: format!("sub-{name}"),
        status: UserStatus::Confirmed,
        enabled: true,
        password_hash: None,
        temporary_password_expires: None,
        attributes,
        created: 1,
        modified: 1,
        extra: BTreeMap::new(),
        version: 0,
    }
}

fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    (dir, Arc::new(store))
}

/// The filtered listings start from the value index: a lookup, never a walk over users. (The
/// listings' results are in `contract_tests`, held against every backend.)
#[tokio::test]
async fn filtered_listings_start_from_the_value_index() {
    let (_d, s) = open();
    for sql in [
        super::aggregates::LIST_USERS_EQUALS,
        super::aggregates::LIST_USERS_PREFIX,
    ] {
        let plan: Vec<String> = s
            .read(|c| {
                let mut stmt = c
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .map_err(super::map_err)?;
                let rows = stmt
                    .query_map(
                        rusqlite::params_from_iter(
                            std::iter::repeat_n("x", 6).take(sql.matches('?').count()),
                        ),
                        |r| r.get::<_, String>(3),
                    )
                    .map_err(super::map_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(super::map_err)
            })
            .unwrap();
        assert!(plan[0].contains("user_attributes_by_value"), "{plan:?}");
        assert!(
            plan.iter().all(|p| !p.contains("users_by_username")),
            "{plan:?}"
        );
    }
}

#[tokio::test]
async fn writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.insert_pool(&pool("p1")).await.unwrap();
        s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
            .await
            .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let latest = super::MIGRATIONS.iter().map(|m| m.0).max();
    assert_eq!(Some(s.schema_version().unwrap()), latest);
    assert_eq!(
        s.get_user("p1", "alice").await.unwrap().unwrap().username,
        "alice"
    );
}
