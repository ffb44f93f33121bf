//! What only the PostgreSQL store has: migrations raced by several nodes, schema isolation, and
//! failure when the server is not there. The aggregate behaviour is in `contract_tests`.

use super::testing::{drop_schema, fresh_schema_name};
use super::*;
use crate::PoolStore;

fn url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn in_schema(schema: &str) -> PgOptions {
    PgOptions {
        max_connections: 2,
        schema: Some(schema.to_string()),
        ..PgOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_apply_each_migration_once() {
    let Some(url) = url() else {
        // The contract tests' helper enforces GATEHOUSE_TEST_REQUIRE_POSTGRES.
        return;
    };
    let schema = fresh_schema_name();
    let nodes: Vec<_> = (0..6)
        .map(|_| {
            let (url, schema) = (url.clone(), schema.clone());
            tokio::spawn(async move { PgStore::connect_with(&url, in_schema(&schema)).await })
        })
        .collect();
    let mut stores = Vec::new();
    for n in nodes {
        stores.push(n.await.unwrap().unwrap());
    }
    let latest = MIGRATIONS.iter().map(|m| m.0).max();
    for s in &stores {
        assert_eq!(Some(s.schema_version().await.unwrap()), latest);
    }
    let c = stores[0].client().await.unwrap();
    let applied: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(usize::try_from(applied).unwrap(), MIGRATIONS.len());
    // Reconnecting finds nothing to do.
    let again = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    assert_eq!(again.schema_version().await.unwrap(), latest.unwrap());
    drop_schema(&stores[0], &schema).await;
}

#[tokio::test]
async fn schemas_keep_installations_apart() {
    let Some(url) = url() else { return };
    let (a, b) = (fresh_schema_name(), fresh_schema_name());
    let sa = PgStore::connect_with(&url, in_schema(&a)).await.unwrap();
    let sb = PgStore::connect_with(&url, in_schema(&b)).await.unwrap();
    sa.insert_pool(&crate::contract_tests::pool("p1"))
        .await
        .unwrap();
    assert!(sb.get_pool("p1").await.unwrap().is_none());
    // The same id in the other schema is no conflict.
    sb.insert_pool(&crate::contract_tests::pool("p1"))
        .await
        .unwrap();
    drop_schema(&sa, &a).await;
    drop_schema(&sb, &b).await;
}

#[tokio::test]
async fn schema_names_are_plain_identifiers() {
    for bad in [
        "",
        "Upper",
        "1abc",
        "a-b",
        "a\"; DROP TABLE users; --",
        "a b",
    ] {
        assert!(check_schema_name(bad).is_err(), "{bad:?}");
    }
    for good in ["gatehouse", "t_1_2_3", "_x"] {
        assert!(check_schema_name(good).is_ok(), "{good:?}");
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_not_a_panic() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let err = PgStore::connect_with(
        &url,
        PgOptions {
            acquire_timeout: std::time::Duration::from_secs(2),
            ..PgOptions::default()
        },
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(matches!(
        PgStore::connect("mysql://nope").await,
        Err(StoreError::Unavailable(_))
    ));
}

/// Two nodes (two stores, two connection pools) redeeming the same code and taking the same
/// session at once: exactly one wins each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_redeeming_one_code_have_one_winner() {
    use crate::contract_tests::{pool, user};
    use crate::{CodeStore, OneTimeCode, UserStore};
    use std::sync::Arc;
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    let a = Arc::new(
        PgStore::connect_with(&url, in_schema(&schema))
            .await
            .unwrap(),
    );
    let b = Arc::new(
        PgStore::connect_with(&url, in_schema(&schema))
            .await
            .unwrap(),
    );
    a.insert_pool(&pool("p1")).await.unwrap();
    a.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    for round in 0..10 {
        b.put_code(&OneTimeCode {
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
            .map(|i| {
                let node = if i % 2 == 0 {
                    Arc::clone(&a)
                } else {
                    Arc::clone(&b)
                };
                tokio::spawn(async move {
                    node.consume_code("p1", "sub-alice", "signup", "h")
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "round {round}");
    }
    drop_schema(&a, &schema).await;
}

/// ListUsers filters start from the attribute index, as on SQLite: with enough users for the
/// planner to care, the plan reads user_attributes_by_value, not every user.
#[tokio::test]
async fn filtered_listings_start_from_the_value_index() {
    use crate::contract_tests::{pool, user};
    use crate::UserStore;
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    let s = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    s.insert_pool(&pool("p1")).await.unwrap();
    let users: Vec<_> = (0..3000)
        .map(|i| {
            let name = format!("u{i:05}");
            (user("p1", &name, &format!("{name}@x.com")), name)
        })
        .collect();
    s.insert_users(&users).await.unwrap();
    let c = s.client().await.unwrap();
    c.batch_execute("ANALYZE").await.unwrap();
    let limit: i64 = 60;
    for (sql, args) in [
        (
            super::aggregates::LIST_USERS_EQUALS,
            vec!["p1", "email", "u00042@x.com", ""],
        ),
        (
            super::aggregates::LIST_USERS_PREFIX,
            vec!["p1", "email", "u0004", "u0004\u{10FFFF}", ""],
        ),
    ] {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        params.push(&limit);
        let plan: Vec<String> = c
            .query(&format!("EXPLAIN {sql}"), &params)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("user_attributes_by_value"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
    drop_schema(&s, &schema).await;
}

/// A connection the server drops (restart, failover, idle kill) fails cleanly as Unavailable at
/// worst, and the pool replaces it: the store recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_replaced() {
    use crate::contract_tests::pool;
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    // Its own application_name, so the kill below touches no other test's connections.
    let sep = if url.contains('?') { '&' } else { '?' };
    let mine = format!("{url}{sep}application_name={schema}");
    let s = PgStore::connect_with(&mine, in_schema(&schema))
        .await
        .unwrap();
    s.insert_pool(&pool("p1")).await.unwrap();
    let killer = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    let killed: i64 = killer
        .client()
        .await
        .unwrap()
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1);
    let mut outcome = Vec::new();
    for _ in 0..4 {
        match s.get_pool("p1").await {
            Ok(p) => {
                assert!(p.is_some());
                outcome.push("ok");
            }
            Err(StoreError::Unavailable(_)) => outcome.push("unavailable"),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(outcome.last(), Some(&"ok"), "{outcome:?}");
    assert!(
        outcome.iter().filter(|o| **o != "ok").count() <= 2,
        "{outcome:?}"
    );
    drop_schema(&killer, &schema).await;
}

/// PostgreSQL cannot store U+0000 (SQLite can): that is a permanent refusal, not an outage to
/// retry, and it leaves nothing half-written.
#[tokio::test]
async fn a_value_postgres_cannot_store_is_refused_as_permanent() {
    use crate::contract_tests::{pool, user};
    use crate::UserStore;
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    let s = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    s.insert_pool(&pool("p1")).await.unwrap();
    let err = s
        .insert_user(&user("p1", "nul", "a\u{0}b@x.com"), "nul")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(s.get_user("p1", "nul").await.unwrap(), None);
    drop_schema(&s, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_notices_reach_the_other_nodes_only_when_committed() {
    use crate::changes::{Announce, Topic};
    use std::time::Duration;
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    let a = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    let b = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    let (feed_a, feed_b) = (
        a.change_feed().await.unwrap(),
        b.change_feed().await.unwrap(),
    );
    let (mut heard_a, mut heard_b) = (feed_a.subscribe(), feed_b.subscribe());
    let wait = Duration::from_secs(3);

    feed_b.announce(Topic::Apis);
    let got = tokio::time::timeout(wait, heard_a.recv()).await;
    assert_eq!(got.unwrap().unwrap(), Topic::Apis);
    // A node does not hear itself.
    let own = tokio::time::timeout(Duration::from_millis(300), heard_b.recv()).await;
    assert!(own.is_err(), "b heard its own notice: {own:?}");

    // Inside a transaction: nothing on rollback, delivered on commit.
    let mut c = b.client().await.unwrap();
    let tx = c.transaction().await.unwrap();
    b.notify_in(&tx, Topic::Revocations).await.unwrap();
    tx.rollback().await.unwrap();
    let none = tokio::time::timeout(Duration::from_millis(300), heard_a.recv()).await;
    assert!(
        none.is_err(),
        "a rolled-back notice was delivered: {none:?}"
    );
    let tx = c.transaction().await.unwrap();
    b.notify_in(&tx, Topic::Revocations).await.unwrap();
    tx.commit().await.unwrap();
    let got = tokio::time::timeout(wait, heard_a.recv()).await;
    assert_eq!(got.unwrap().unwrap(), Topic::Revocations);

    // Another installation (schema) hears nothing of this one.
    let other_schema = fresh_schema_name();
    let other = PgStore::connect_with(&url, in_schema(&other_schema))
        .await
        .unwrap();
    let other_feed = other.change_feed().await.unwrap();
    let mut heard_other = other_feed.subscribe();
    feed_b.announce(Topic::Pools);
    assert_eq!(
        tokio::time::timeout(wait, heard_a.recv())
            .await
            .unwrap()
            .unwrap(),
        Topic::Pools
    );
    let leak = tokio::time::timeout(Duration::from_millis(300), heard_other.recv()).await;
    assert!(leak.is_err(), "another schema heard it: {leak:?}");
    drop(c);
    drop_schema(&a, &schema).await;
    drop_schema(&other, &other_schema).await;
}

#[tokio::test]
async fn the_first_node_decides_a_setting() {
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    let a = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    let b = PgStore::connect_with(&url, in_schema(&schema))
        .await
        .unwrap();
    assert_eq!(a.init_setting("k", "first").await.unwrap(), "first");
    assert_eq!(b.init_setting("k", "second").await.unwrap(), "first");
    assert_eq!(a.applied_migrations().await.unwrap(), vec![1, 2, 3, 4]);
    drop_schema(&a, &schema).await;
}
