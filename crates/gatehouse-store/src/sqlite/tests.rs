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

#[tokio::test]
async fn rest_apis_and_their_snapshots_round_trip() {
    use crate::rest_apis::*;
    let (_d, s) = open();
    let mut api = RestApi {
        id: "abc123defg".into(),
        name: "pets".into(),
        api_key_source: "HEADER".into(),
        resources: vec![Resource {
            id: "root".into(),
            path: "/".into(),
            ..Resource::default()
        }],
        ..RestApi::default()
    };
    s.insert_rest_api(&api).await.unwrap();
    assert!(matches!(
        s.insert_rest_api(&api).await,
        Err(StoreError::Conflict(_))
    ));
    api.name = "renamed".into();
    s.update_rest_api(&api).await.unwrap();
    assert_eq!(
        s.get_rest_api("abc123defg").await.unwrap(),
        Some(api.clone())
    );
    let snap = RestDeploymentSnapshot {
        api_id: api.id.clone(),
        deployment_id: "d1".into(),
        resources: api.resources.clone(),
        ..RestDeploymentSnapshot::default()
    };
    s.put_rest_snapshot(&snap).await.unwrap();
    assert_eq!(
        s.get_rest_snapshot("abc123defg", "d1").await.unwrap(),
        Some(snap)
    );
    let page = Page {
        after: None,
        limit: 10,
    };
    assert_eq!(s.list_rest_apis(&page).await.unwrap().len(), 1);
    // REST and HTTP APIs live apart.
    assert!(s.list_apis(&page).await.unwrap().is_empty());
    s.delete_rest_api("abc123defg").await.unwrap();
    assert_eq!(s.get_rest_api("abc123defg").await.unwrap(), None);
    assert_eq!(s.get_rest_snapshot("abc123defg", "d1").await.unwrap(), None);
    assert!(matches!(
        s.delete_rest_api("abc123defg").await,
        Err(StoreError::NotFound)
    ));
}
