//! API keys and usage plans against the real SQLite store: AWS's rules on values, stages and
//! memberships, patches, and usage that adds up.

use std::sync::Arc;

use gatehouse_store::api_keys::{QuotaSettings, ThrottleSettings, UsageCount};
use gatehouse_store::rest_apis::{RestApi, RestStage};
use gatehouse_store::sqlite::SqliteStore;
use gatehouse_store::RestApiStore;

use super::*;
use crate::env::{ManualClock, OsRandom};

const NOW: i64 = 1_795_000_000;

async fn service(dir: &tempfile::TempDir) -> ApiService {
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    store
        .insert_rest_api(&RestApi {
            id: "api1".into(),
            name: "a".into(),
            stages: vec![RestStage {
                name: "prod".into(),
                deployment_id: "d1".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    ApiService::new(
        store,
        Arc::new(ManualClock::new(NOW)),
        Arc::new(OsRandom),
        "localhost:8080".into(),
    )
}

fn plan(stages: &[(&str, &str)]) -> UsagePlanInput {
    UsagePlanInput {
        name: Some("gold".into()),
        api_stages: stages
            .iter()
            .map(|(a, s)| ApiStageInput {
                api_id: a.to_string(),
                stage: s.to_string(),
                ..Default::default()
            })
            .collect(),
        throttle: Some(ThrottleSettings {
            burst_limit: Some(5),
            rate_limit: Some(2.0),
        }),
        quota: Some(QuotaSettings {
            limit: 100,
            offset: 0,
            period: "DAY".into(),
        }),
        ..Default::default()
    }
}

fn op(kind: PatchKind, path: &str, value: Option<&str>) -> PatchOp {
    PatchOp::new(kind, path, value)
}

#[tokio::test]
async fn keys_follow_aws_rules() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir).await;
    let generated = s.create_api_key(ApiKeyInput::default()).await.unwrap();
    let value = generated.value.clone().unwrap();
    assert_eq!(value.len(), 40);
    assert_eq!(generated.key.name, generated.key.id);
    assert!(!generated.key.enabled);
    assert_eq!(generated.key.value_hash, value_hash(&value));

    let e = s
        .create_api_key(ApiKeyInput {
            value: Some("short".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "API Key value should be at least 20 characters"
    );
    let e = s
        .create_api_key(ApiKeyInput {
            value: Some("x".repeat(129)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "API Key value exceeds maximum size of 128 characters"
    );
    let e = s
        .create_api_key(ApiKeyInput {
            value: Some(value.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Conflict(_)));
    assert!(s
        .create_api_key(ApiKeyInput {
            stage_keys: vec![("api1".into(), "nope".into())],
            ..Default::default()
        })
        .await
        .is_err());

    let id = generated.key.id.clone();
    assert!(s.get_api_key(&id, false).await.unwrap().value.is_none());
    assert_eq!(s.get_api_key(&id, true).await.unwrap().value, Some(value));
    let k = s
        .update_api_key(
            &id,
            &[
                op(PatchKind::Replace, "/name", Some("renamed")),
                op(PatchKind::Replace, "/enabled", Some("true")),
                op(PatchKind::Replace, "/customerId", Some("cust")),
                op(PatchKind::Add, "/stages", Some("api1/prod")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(k.key.name, "renamed");
    assert!(k.key.enabled);
    assert_eq!(k.key.stage_keys, ["api1/prod"]);
    assert!(s
        .update_api_key(&id, &[op(PatchKind::Replace, "/value", Some("x"))])
        .await
        .is_err());

    let (found, _) = s
        .get_api_keys(
            &ApiKeyQuery {
                name: Some("ren".into()),
                customer_id: Some("cust".into()),
                include_values: false,
            },
            &RestPage::default(),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    s.delete_api_key(&id).await.unwrap();
    assert!(matches!(
        s.get_api_key(&id, false).await,
        Err(ApiError::NotFound(_))
    ));
}

#[tokio::test]
async fn plans_cover_existing_stages_and_keys_join_one_plan_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir).await;
    let e = s
        .create_usage_plan(plan(&[("api1", "dev")]))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid API Stage {api: api1, stage: dev} specified for usageplan gold"
    );
    assert!(matches!(
        s.create_usage_plan(plan(&[("nope", "prod")])).await,
        Err(ApiError::BadRequest(_))
    ));
    let p1 = s
        .create_usage_plan(plan(&[("api1", "prod")]))
        .await
        .unwrap();
    let p2 = s
        .create_usage_plan(plan(&[("api1", "prod")]))
        .await
        .unwrap();
    let key = s
        .create_api_key(ApiKeyInput {
            enabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap()
        .key;
    s.create_usage_plan_key(&p1.id, &key.id, "API_KEY")
        .await
        .unwrap();
    assert!(matches!(
        s.create_usage_plan_key(&p2.id, &key.id, "API_KEY").await,
        Err(ApiError::Conflict(_))
    ));
    assert!(s
        .create_usage_plan_key(&p2.id, &key.id, "OTHER")
        .await
        .is_err());
    assert_eq!(
        s.get_usage_plan_key(&p1.id, &key.id).await.unwrap().id,
        key.id
    );
    let (plans, _) = s
        .get_usage_plans(Some(&key.id), &RestPage::default())
        .await
        .unwrap();
    assert_eq!(plans.len(), 1);

    let path = plans::method_throttle_path("api1", "prod", "/pets", "GET", "rateLimit");
    let updated = s
        .update_usage_plan(
            &p1.id,
            &[
                op(PatchKind::Replace, "/throttle/rateLimit", Some("7.5")),
                op(PatchKind::Replace, "/quota/limit", Some("3")),
                op(PatchKind::Replace, &path, Some("1")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(updated.throttle.unwrap().rate_limit, Some(7.5));
    assert_eq!(updated.quota.as_ref().unwrap().limit, 3);
    assert_eq!(
        updated.api_stages[0].throttle["/pets/GET"].rate_limit,
        Some(1.0)
    );
    assert!(s
        .update_usage_plan(
            &p1.id,
            &[op(PatchKind::Replace, "/quota/period", Some("YEAR"))]
        )
        .await
        .is_err());
    let removed = s
        .update_usage_plan(
            &p1.id,
            &[op(PatchKind::Remove, "/apiStages", Some("api1:prod"))],
        )
        .await
        .unwrap();
    assert!(removed.api_stages.is_empty());
    // Now the key may join p2, which covers the stage.
    s.create_usage_plan_key(&p2.id, &key.id, "API_KEY")
        .await
        .unwrap();
    s.delete_usage_plan_key(&p2.id, &key.id).await.unwrap();
    assert!(s.delete_usage_plan_key(&p2.id, &key.id).await.is_err());
    // A plan covering stages cannot be deleted.
    let e = s.delete_usage_plan(&p2.id).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Cannot delete Usage Plan {} because there are API Stages associated with it, including api1:prod",
            p2.id
        )
    );
    s.update_usage_plan(
        &p2.id,
        &[op(PatchKind::Remove, "/apiStages", Some("api1:prod"))],
    )
    .await
    .unwrap();
    s.delete_usage_plan(&p2.id).await.unwrap();
    assert!(matches!(
        s.get_usage_plan(&p2.id).await,
        Err(ApiError::NotFound(_))
    ));
}

#[tokio::test]
async fn usage_reports_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir).await;
    let p = s
        .create_usage_plan(plan(&[("api1", "prod")]))
        .await
        .unwrap();
    let key = s.create_api_key(ApiKeyInput::default()).await.unwrap().key;
    s.create_usage_plan_key(&p.id, &key.id, "API_KEY")
        .await
        .unwrap();
    let today = usage::day_of(NOW);
    s.record_usage(&[UsageCount {
        plan_id: p.id.clone(),
        key_id: key.id.clone(),
        day: today,
        used: 7,
    }])
    .await
    .unwrap();
    let date = usage::format_date(today);
    let u = s
        .get_usage(&p.id, None, &date, &date, &RestPage::default())
        .await
        .unwrap();
    assert_eq!(u.items[&key.id], vec![[7, 93]]);
    let u = s
        .update_usage(
            &p.id,
            &key.id,
            &[op(PatchKind::Replace, "/remaining", Some("50"))],
        )
        .await
        .unwrap();
    assert_eq!(u.items[&key.id], vec![[50, 50]]);
    assert!(s
        .get_usage(&p.id, None, &date, "2020-01-01", &RestPage::default())
        .await
        .is_err());
    let served = s.served_api_keys().await.unwrap();
    assert_eq!(served.keys.len(), 1);
    assert!(served.keys[0].value.is_empty());
    assert_eq!(served.plan_keys, vec![(p.id.clone(), key.id.clone())]);
}

#[tokio::test]
async fn values_are_sealed_at_rest_with_the_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let box_ = Arc::new(crate::crypt::SecretBox::new(&[3u8; 32]).unwrap());
    let s = service(&dir).await.with_secrets(box_);
    let value = "sealed-value-0123456789abcdef".to_string();
    let created = s
        .create_api_key(ApiKeyInput {
            value: Some(value.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.value.as_deref(), Some(value.as_str()));
    let stored = s.store.get_api_key(&created.key.id).await.unwrap().unwrap();
    assert!(stored.value_sealed);
    assert!(!stored.value.contains(&value));
    assert_eq!(stored.value_hash, value_hash(&value));
    let got = s.get_api_key(&created.key.id, true).await.unwrap();
    assert_eq!(got.value, Some(value.clone()));
    let p = s
        .create_usage_plan(plan(&[("api1", "prod")]))
        .await
        .unwrap();
    let pk = s
        .create_usage_plan_key(&p.id, &created.key.id, "API_KEY")
        .await
        .unwrap();
    assert_eq!(pk.value, value);
}
