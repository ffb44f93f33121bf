//! The SQLite store against its contract: uniqueness, cascades, index-backed filters, single
//! use of codes and sessions under concurrency, durability across reopen.

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

#[tokio::test]
async fn users_are_unique_and_filterable_by_index() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    s.insert_user(&user("p1", "bob", "b@x.com"), "bob")
        .await
        .unwrap();
    let dup = s
        .insert_user(&user("p1", "alice2", "c@x.com"), "alice")
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));

    let eq = UserFilter::Equals {
        attribute: "email".into(),
        value: "b@x.com".into(),
    };
    let page = Page {
        limit: 10,
        after: None,
    };
    let found = s.list_users("p1", Some(&eq), &page).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.username, "bob");

    let pre = UserFilter::StartsWith {
        attribute: "email".into(),
        prefix: "a@".into(),
    };
    let found = s.list_users("p1", Some(&pre), &page).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|(_, u)| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice"]
    );

    let status = UserFilter::Equals {
        attribute: "cognito:user_status".into(),
        value: "CONFIRMED".into(),
    };
    assert_eq!(
        s.list_users("p1", Some(&status), &page)
            .await
            .unwrap()
            .len(),
        2
    );

    // The filtered listings start from the value index: a lookup, never a walk over users.
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
async fn pages_continue_after_the_last_key() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    for i in 0..7 {
        let name = format!("u{i}");
        s.insert_user(&user("p1", &name, &format!("{name}@x.com")), &name)
            .await
            .unwrap();
    }
    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = s
            .list_users(
                "p1",
                None,
                &Page {
                    limit: 3,
                    after: after.clone(),
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(k, _)| k.clone());
        seen.extend(page.into_iter().map(|(_, u)| u.username));
    }
    assert_eq!(seen, ["u0", "u1", "u2", "u3", "u4", "u5", "u6"]);
}

#[tokio::test]
async fn deleting_a_pool_removes_everything_in_it() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    let g = Group {
        pool_id: "p1".into(),
        name: "g".into(),
        description: None,
        role_arn: None,
        precedence: None,
        created: 1,
        modified: 1,
    };
    s.insert_group(&g).await.unwrap();
    s.add_member("p1", "g", "sub-alice").await.unwrap();
    s.delete_pool("p1").await.unwrap();
    assert!(s.get_pool("p1").await.unwrap().is_none());
    assert!(s
        .get_user_by_sub("p1", "sub-alice")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .find_users_by_attribute("p1", "email", "a@x.com")
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        s.delete_pool("p1").await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn a_code_is_consumed_by_exactly_one_caller() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    s.put_code(&OneTimeCode {
        pool_id: "p1".into(),
        sub: "sub-alice".into(),
        purpose: "signup".into(),
        code_hash: "h".into(),
        expires: 100,
        failed_attempts: 0,
    })
    .await
    .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.consume_code("p1", "sub-alice", "signup", "h")
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn a_session_is_taken_once() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    let session = AuthSession {
        id_hash: "x".into(),
        pool_id: "p1".into(),
        client_id: "c".into(),
        username: "alice".into(),
        challenge: "NEW_PASSWORD_REQUIRED".into(),
        expires: 10,
        data: serde_json::json!({"k": 1}),
    };
    s.put_session(&session).await.unwrap();
    assert_eq!(s.take_session("x").await.unwrap(), Some(session));
    assert_eq!(s.take_session("x").await.unwrap(), None);
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

fn refresh(hash: &str, sub: &str, origin: &str, expires: i64) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        pool_id: "p1".into(),
        client_id: "c".into(),
        sub: sub.into(),
        origin_jti: origin.into(),
        auth_time: 1,
        created: 1,
        expires,
        revoked: false,
        scopes: None,
    }
}

#[tokio::test]
async fn refresh_token_scopes_round_trip() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "s1", "alice@example.com"), "s1")
        .await
        .unwrap();
    let mut t = refresh("h1", "sub-s1", "o1", 100);
    t.scopes = Some("openid pets/read".into());
    s.put_refresh_token(&t).await.unwrap();
    s.put_refresh_token(&refresh("h2", "sub-s1", "o2", 100))
        .await
        .unwrap();
    let got = s.get_refresh_token("h1").await.unwrap().unwrap();
    assert_eq!(got.scopes.as_deref(), Some("openid pets/read"));
    assert_eq!(
        s.get_refresh_token("h2").await.unwrap().unwrap().scopes,
        None
    );
}

#[tokio::test]
async fn get_session_reads_without_consuming() {
    let (_d, s) = open();
    s.insert_pool(&pool("p1")).await.unwrap();
    let session = AuthSession {
        id_hash: "abc".into(),
        pool_id: "p1".into(),
        client_id: "c".into(),
        username: "alice".into(),
        challenge: "HOSTED_SESSION".into(),
        expires: 100,
        data: serde_json::json!({ "auth_time": 5 }),
    };
    s.put_session(&session).await.unwrap();
    assert_eq!(s.get_session("abc").await.unwrap(), Some(session.clone()));
    assert_eq!(s.get_session("abc").await.unwrap(), Some(session.clone()));
    assert_eq!(s.take_session("abc").await.unwrap(), Some(session));
    assert_eq!(s.get_session("abc").await.unwrap(), None);
    assert_eq!(s.get_session("missing").await.unwrap(), None);
}

#[tokio::test]
async fn revoked_families_are_journaled_once_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    s.put_refresh_token(&refresh("h1", "sub-alice", "o1", 1000))
        .await
        .unwrap();
    s.put_refresh_token(&refresh("h2", "sub-alice", "o2", 2000))
        .await
        .unwrap();
    // Long expired, beyond the grace: nothing of that family can still be valid.
    s.put_refresh_token(&refresh("h3", "sub-alice", "o3", 10))
        .await
        .unwrap();

    assert_eq!(s.revoke_token_family("nope", 100, 50).await.unwrap(), None);
    let f = s.revoke_token_family("h1", 100, 50).await.unwrap().unwrap();
    assert_eq!((f.origin_jti.as_str(), f.expires), ("o1", 1050));
    assert!(s.get_refresh_token("h1").await.unwrap().unwrap().revoked);
    // Again: the same entry.
    let again = s.revoke_token_family("h1", 200, 50).await.unwrap().unwrap();
    assert_eq!(again.seq, f.seq);

    let all = s
        .revoke_user_token_families("p1", "sub-alice", 100, 50)
        .await
        .unwrap();
    let mut jtis: Vec<_> = all.iter().map(|f| f.origin_jti.as_str()).collect();
    jtis.sort();
    assert_eq!(jtis, ["o1", "o2"]);
    assert!(s.get_refresh_token("h2").await.unwrap().unwrap().revoked);

    let since = s.revoked_families_since(0, 100).await.unwrap();
    assert_eq!(since.len(), 2);
    assert!(s
        .revoked_families_since(since[1].seq, 100)
        .await
        .unwrap()
        .is_empty());
    // Past o1's expiry only o2 is live; the purge forgets o1.
    assert_eq!(s.revoked_families_since(0, 1500).await.unwrap().len(), 1);
    assert_eq!(s.purge_revoked_families(1500).await.unwrap(), 1);
    assert_eq!(s.revoked_families_since(0, 0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn user_extra_updates_are_atomic_and_leave_the_rest_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.update_user_extra(
                "p1",
                "sub-alice",
                "n",
                Box::new(|v| {
                    Some(serde_json::json!(
                        v.and_then(|v| v.as_i64()).unwrap_or(0) + 1
                    ))
                }),
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let u = s.get_user("p1", "alice").await.unwrap().unwrap();
    assert_eq!(u.extra.get("n"), Some(&serde_json::json!(20)));
    assert_eq!(
        u.attributes.get("email").map(String::as_str),
        Some("a@x.com")
    );
    s.update_user_extra("p1", "sub-alice", "n", Box::new(|_| None))
        .await
        .unwrap();
    assert!(!s
        .get_user("p1", "alice")
        .await
        .unwrap()
        .unwrap()
        .extra
        .contains_key("n"));
    assert!(matches!(
        s.update_user_extra("p1", "nobody", "n", Box::new(|_| None))
            .await,
        Err(StoreError::NotFound)
    ));
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
