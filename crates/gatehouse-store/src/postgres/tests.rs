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
    assert_eq!(
        a.applied_migrations().await.unwrap(),
        MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>()
    );
    drop_schema(&a, &schema).await;
}

/// A PostgreSQL of its own serving TLS with a throwaway CA (`scripts/pg-test-cluster` with
/// `GATEHOUSE_PG_TLS=1`), stopped and removed when dropped. Runs wherever the other PostgreSQL
/// tests run (and so cannot be skipped under `GATEHOUSE_TEST_REQUIRE_POSTGRES`).
struct TlsCluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl TlsCluster {
    fn script() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-cluster")
    }

    fn start() -> Option<Self> {
        if url().is_none() {
            assert!(
                std::env::var_os("GATEHOUSE_TEST_REQUIRE_POSTGRES").is_none(),
                "GATEHOUSE_TEST_REQUIRE_POSTGRES is set but GATEHOUSE_TEST_DATABASE_URL is not"
            );
            eprintln!("GATEHOUSE_TEST_DATABASE_URL unset: skipping the PostgreSQL TLS run");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(Self::script())
            .arg("start")
            .arg(dir.path())
            .env("GATEHOUSE_PG_TLS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "starting a TLS cluster: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap();
        let port = url
            .trim()
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url:?}"));
        Some(Self { dir, port })
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

fn tls_options(schema: &str, ca_file: Option<std::path::PathBuf>) -> PgOptions {
    PgOptions {
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(3),
        schema: Some(schema.to_string()),
        ca_file,
    }
}

/// Whether this store's connections are encrypted, by the server's account.
async fn uses_tls(store: &PgStore) -> bool {
    let c = store.client().await.unwrap();
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

fn refused(result: StoreResult<PgStore>) -> String {
    match result {
        Err(StoreError::Unavailable(message)) => message,
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected where it must be refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verifies_the_server_and_carries_the_pool_and_the_change_feed() {
    use crate::changes::{Announce, Topic};
    use std::time::Duration;
    let Some(cluster) = TlsCluster::start() else {
        return;
    };
    let schema = fresh_schema_name();
    let require = cluster.url("127.0.0.1", "sslmode=require");

    // sslmode=require + the CA: connected, encrypted, migrated.
    let a = PgStore::connect_with(&require, tls_options(&schema, Some(cluster.ca())))
        .await
        .unwrap();
    assert!(uses_tls(&a).await);
    assert_eq!(
        a.applied_migrations().await.unwrap(),
        MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>()
    );
    // The libpq spelling (the CA in the URL, verify-full) and a DNS name the certificate carries.
    let rootcert = format!("sslmode=verify-full&sslrootcert={}", cluster.ca().display());
    let b = PgStore::connect_with(
        &cluster.url("localhost", &rootcert),
        tls_options(&schema, None),
    )
    .await
    .unwrap();
    assert!(uses_tls(&b).await);

    // The LISTEN connection is TLS too: notices cross, and no connection of the cluster (which
    // only this test uses) is in the clear.
    let (feed_a, feed_b) = (
        a.change_feed().await.unwrap(),
        b.change_feed().await.unwrap(),
    );
    let mut heard_a = feed_a.subscribe();
    feed_b.announce(Topic::Apis);
    let got = tokio::time::timeout(Duration::from_secs(3), heard_a.recv()).await;
    assert_eq!(got.unwrap().unwrap(), Topic::Apis);
    let c = a.client().await.unwrap();
    let listen = format!("LISTEN gatehouse_changes_{schema}");
    let row = c
        .query_one(
            "SELECT count(*) FILTER (WHERE a.query = $1 AND s.ssl),
                    count(*) FILTER (WHERE NOT s.ssl)
               FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
              WHERE a.backend_type = 'client backend'",
            &[&listen],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (2, 0));
    // A lost LISTEN connection comes back over TLS (and says Resync).
    c.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE query = $1 AND pid <> pg_backend_pid()",
        &[&listen],
    )
    .await
    .unwrap();
    let resync = async {
        loop {
            if heard_a.recv().await.unwrap() == Topic::Resync {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), resync)
        .await
        .expect("the change feed did not reconnect over TLS");
    feed_b.announce(Topic::Pools);
    let got = tokio::time::timeout(Duration::from_secs(3), heard_a.recv()).await;
    assert_eq!(got.unwrap().unwrap(), Topic::Pools);

    // Without the CA: refused, saying why (the built-in roots do not know a private CA).
    let message = refused(PgStore::connect_with(&require, tls_options(&schema, None)).await);
    assert!(message.contains("not signed by a trusted CA"), "{message}");
    assert!(message.contains("--database-ca-file"), "{message}");
    // sslmode=prefer verifies as well when the server offers TLS.
    let message = refused(
        PgStore::connect_with(
            &cluster.url("127.0.0.1", "sslmode=prefer"),
            tls_options(&schema, None),
        )
        .await,
    );
    assert!(message.contains("not signed by a trusted CA"), "{message}");
    // A trusted certificate for another name: connecting to 127.0.0.1 as "db.invalid".
    let message = refused(
        PgStore::connect_with(
            &cluster.url("db.invalid", "hostaddr=127.0.0.1&sslmode=require"),
            tls_options(&schema, Some(cluster.ca())),
        )
        .await,
    );
    assert!(
        message.contains("not valid for the host name \"db.invalid\""),
        "{message}"
    );
    // A CA file that is not there names itself.
    let message = refused(
        PgStore::connect_with(
            &require,
            tls_options(&schema, Some(cluster.dir.path().join("nope.pem"))),
        )
        .await,
    );
    assert!(message.contains("nope.pem"), "{message}");
    // sslmode=disable stays in the clear, even with TLS on offer.
    let plain = PgStore::connect_with(
        &cluster.url("127.0.0.1", "sslmode=disable"),
        tls_options(&schema, None),
    )
    .await
    .unwrap();
    assert!(!uses_tls(&plain).await);
}

#[tokio::test]
async fn sslmode_against_a_server_without_tls() {
    let Some(url) = url() else { return };
    let schema = fresh_schema_name();
    let with = |mode: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode={mode}")
    };
    // require: refused, naming the cause.
    let message =
        refused(PgStore::connect_with(&with("require"), tls_options(&schema, None)).await);
    assert!(message.contains("server does not support TLS"), "{message}");
    // prefer (tokio-postgres' default, like libpq's): plain.
    let store = PgStore::connect_with(&with("prefer"), tls_options(&schema, None))
        .await
        .unwrap();
    assert!(!uses_tls(&store).await);
    store.change_feed().await.unwrap();
    drop_schema(&store, &schema).await;
}
