//! What only SQLite's `ApiKeyStore` has to show: keys, plans and counters survive reopening
//! the database file. The rest of its contract is in `contract_tests::devices_oauth_keys`,
//! held against both backends.

use super::SqliteStore;
use crate::api_keys::{ApiKey, ApiKeyStore, QuotaSettings, UsageCount, UsagePlan};

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
