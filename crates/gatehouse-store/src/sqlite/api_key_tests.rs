//! The SQLite `ApiKeyStore` against its contract: unique values, lookups by hash, plan keys
//! and counters that go with their plan or key, counters that add up, durability.

use std::sync::Arc;

use super::SqliteStore;
use crate::api_keys::{ApiKey, ApiKeyStore, QuotaSettings, UsageCount, UsagePlan};
use crate::{Page, StoreError};

fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    (dir, Arc::new(store))
}

fn key(id: &str, hash: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("name-{id}"),
        enabled: true,
        value: format!("value-{id}"),
        value_hash: hash.into(),
        stage_keys: vec!["api/prod".into()],
        created: 5,
        last_updated: 6,
        ..Default::default()
    }
}

fn plan(id: &str) -> UsagePlan {
    UsagePlan {
        id: id.into(),
        name: id.into(),
        quota: Some(QuotaSettings {
            limit: 10,
            offset: 0,
            period: "DAY".into(),
        }),
        created: 1,
        ..Default::default()
    }
}

fn count(plan: &str, key: &str, day: i64, used: i64) -> UsageCount {
    UsageCount {
        plan_id: plan.into(),
        key_id: key.into(),
        day,
        used,
    }
}

#[tokio::test]
async fn keys_are_unique_by_value_and_found_by_hash() {
    let (_d, s) = open();
    s.insert_api_key(&key("k1", "h1")).await.unwrap();
    assert!(matches!(
        s.insert_api_key(&key("k2", "h1")).await,
        Err(StoreError::Conflict(_))
    ));
    let got = s.get_api_key_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(got, key("k1", "h1"));
    assert_eq!(s.get_api_key("k1").await.unwrap().unwrap(), got);
    assert!(s.get_api_key_by_hash("nope").await.unwrap().is_none());

    let mut changed = got.clone();
    changed.enabled = false;
    changed.customer_id = Some("c".into());
    s.update_api_key(&changed).await.unwrap();
    assert_eq!(s.get_api_key("k1").await.unwrap().unwrap(), changed);
    assert!(matches!(
        s.update_api_key(&key("zz", "hz")).await,
        Err(StoreError::NotFound)
    ));

    // A batch is all or none.
    assert!(s
        .insert_api_keys(&[key("k3", "h3"), key("k4", "h1")])
        .await
        .is_err());
    assert!(s.get_api_key("k3").await.unwrap().is_none());
    s.insert_api_keys(&[key("k3", "h3"), key("k4", "h4")])
        .await
        .unwrap();
    let page = s
        .list_api_keys(&Page {
            limit: 2,
            after: Some("k1".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["k3", "k4"]
    );
    s.delete_api_key("k3").await.unwrap();
    assert!(matches!(
        s.delete_api_key("k3").await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn plan_keys_and_usage_go_with_their_plan_or_key() {
    let (_d, s) = open();
    s.insert_api_key(&key("k1", "h1")).await.unwrap();
    s.insert_api_key(&key("k2", "h2")).await.unwrap();
    s.insert_usage_plan(&plan("p1")).await.unwrap();
    s.insert_usage_plan(&plan("p2")).await.unwrap();
    s.insert_usage_plan_key("p1", "k1").await.unwrap();
    s.insert_usage_plan_key("p1", "k2").await.unwrap();
    s.insert_usage_plan_key("p2", "k1").await.unwrap();
    assert!(matches!(
        s.insert_usage_plan_key("p1", "k1").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.usage_plan_keys("p1").await.unwrap(), ["k1", "k2"]);
    assert_eq!(s.plans_of_key("k1").await.unwrap(), ["p1", "p2"]);

    s.add_usage(&[
        count("p1", "k1", 100, 3),
        count("p1", "k1", 101, 1),
        count("p1", "k2", 101, 2),
        count("p2", "k1", 101, 7),
        // Not a key of the plan: dropped.
        count("p2", "k2", 101, 9),
    ])
    .await
    .unwrap();
    s.add_usage(&[count("p1", "k1", 101, 4), count("p1", "k1", 101, -2)])
        .await
        .unwrap();
    assert_eq!(
        s.usage("p1", None, 100, 101).await.unwrap(),
        vec![
            count("p1", "k1", 100, 3),
            count("p1", "k1", 101, 3),
            count("p1", "k2", 101, 2)
        ]
    );
    assert_eq!(
        s.usage("p1", Some("k1"), 101, 200).await.unwrap(),
        vec![count("p1", "k1", 101, 3)]
    );
    assert_eq!(s.usage_since(101).await.unwrap().len(), 3);

    s.delete_usage_plan_key("p1", "k2").await.unwrap();
    assert!(matches!(
        s.delete_usage_plan_key("p1", "k2").await,
        Err(StoreError::NotFound)
    ));
    s.delete_api_key("k1").await.unwrap();
    assert!(s
        .usage("p1", None, 0, 1000)
        .await
        .unwrap()
        .iter()
        .all(|c| c.key_id != "k1"));
    assert!(s.all_usage_plan_keys().await.unwrap().is_empty());
    s.delete_usage_plan("p1").await.unwrap();
    assert!(s.get_usage_plan("p1").await.unwrap().is_none());
    assert_eq!(
        s.list_usage_plans(&Page {
            limit: 10,
            after: None
        })
        .await
        .unwrap()
        .len(),
        1
    );
}

#[tokio::test]
async fn survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.insert_api_key(&key("k1", "h1")).await.unwrap();
        s.insert_usage_plan(&plan("p1")).await.unwrap();
        s.insert_usage_plan_key("p1", "k1").await.unwrap();
        s.add_usage(&[count("p1", "k1", 9, 5)]).await.unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.get_usage_plan("p1").await.unwrap().unwrap(), plan("p1"));
    assert_eq!(
        s.usage_since(0).await.unwrap(),
        vec![count("p1", "k1", 9, 5)]
    );
    assert_eq!(
        s.all_usage_plan_keys().await.unwrap(),
        vec![("p1".to_string(), "k1".to_string())]
    );
}
