//! The management rules against the real SQLite store: what deploys, what tells the
//! gateway to reload, and what the data plane then reads.

use std::sync::Arc;

use gatehouse_store::sqlite::SqliteStore;

use super::*;
use crate::env::{ManualClock, OsRandom};

fn service(dir: &tempfile::TempDir) -> ApiService {
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    ApiService::new(
        Arc::new(store),
        Arc::new(ManualClock::new(1_700_000_000)),
        Arc::new(OsRandom),
        "localhost:8080".into(),
    )
}

fn api(name: &str) -> ApiInput {
    ApiInput {
        name: Some(name.into()),
        protocol_type: Some("HTTP".into()),
        ..ApiInput::default()
    }
}

fn http(uri: &str) -> IntegrationInput {
    IntegrationInput {
        integration_type: Some("HTTP_PROXY".into()),
        integration_uri: Some(uri.into()),
        ..IntegrationInput::default()
    }
}

fn route(key: &str, integration: &str) -> RouteInput {
    RouteInput {
        route_key: Some(key.into()),
        target: Some(format!("integrations/{integration}")),
        ..RouteInput::default()
    }
}

#[tokio::test]
async fn quick_create_is_served_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir);
    let changes = svc.changes();
    let a = svc
        .create_api(ApiInput {
            target: Some("https://example.com".into()),
            ..api("q")
        })
        .await
        .unwrap();
    assert_eq!(a.id.len(), 10);
    assert!(changes.has_changed().unwrap());
    let served = svc.deployed_stages().await.unwrap();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].stage.name, "$default");
    assert_eq!(served[0].snapshot.routes[0].route_key, "$default");
    assert_eq!(
        svc.api_endpoint(&a.id),
        format!("http://{}.execute-api.localhost:8080", a.id)
    );
}

#[tokio::test]
async fn manual_stages_change_only_on_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir);
    let a = svc.create_api(api("m")).await.unwrap();
    let i = svc
        .create_integration(&a.id, http("https://x.example"))
        .await
        .unwrap();
    svc.create_route(&a.id, route("GET /a", &i.id))
        .await
        .unwrap();
    svc.create_stage(
        &a.id,
        StageInput {
            stage_name: Some("prod".into()),
            ..StageInput::default()
        },
    )
    .await
    .unwrap();
    assert!(svc.deployed_stages().await.unwrap().is_empty());

    let mut changes = svc.changes();
    changes.borrow_and_update();
    let d = svc
        .create_deployment(&a.id, None, Some("prod".into()))
        .await
        .unwrap();
    assert!(changes.has_changed().unwrap());
    changes.borrow_and_update();

    // A route added later is not served until the next deployment.
    svc.create_route(&a.id, route("GET /b", &i.id))
        .await
        .unwrap();
    assert!(!changes.has_changed().unwrap());
    let served = svc.deployed_stages().await.unwrap();
    assert_eq!(served[0].snapshot.deployment_id, d.id);
    assert_eq!(served[0].snapshot.routes.len(), 1);
}

#[tokio::test]
async fn auto_deploy_follows_routing_changes_and_delete_unserves() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir);
    let a = svc.create_api(api("auto")).await.unwrap();
    let stage = svc
        .create_stage(
            &a.id,
            StageInput {
                stage_name: Some("$default".into()),
                auto_deploy: Some(true),
                ..StageInput::default()
            },
        )
        .await
        .unwrap();
    // Nothing to deploy yet: no routes.
    assert!(stage.deployment_id.is_none());
    let i = svc
        .create_integration(&a.id, http("https://x.example"))
        .await
        .unwrap();
    let r = svc
        .create_route(&a.id, route("ANY /{proxy+}", &i.id))
        .await
        .unwrap();
    let served = svc.deployed_stages().await.unwrap();
    assert_eq!(served[0].snapshot.routes[0].id, r.id);

    let mut changes = svc.changes();
    changes.borrow_and_update();
    svc.delete_api(&a.id).await.unwrap();
    assert!(changes.has_changed().unwrap());
    assert!(svc.deployed_stages().await.unwrap().is_empty());
}

#[tokio::test]
async fn references_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir);
    let a = svc.create_api(api("refs")).await.unwrap();
    let err = svc
        .create_route(&a.id, route("GET /a", "missing"))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::BadRequest(_)), "{err:?}");
    let i = svc
        .create_integration(&a.id, http("https://x.example"))
        .await
        .unwrap();
    svc.create_route(&a.id, route("GET /a", &i.id))
        .await
        .unwrap();
    let err = svc
        .create_route(&a.id, route("GET /a", &i.id))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
    let err = svc.delete_integration(&a.id, &i.id).await.unwrap_err();
    assert!(matches!(err, ApiError::Conflict(_)), "{err:?}");
    let err = svc.get_api("nosuchapi0").await.unwrap_err();
    assert!(matches!(err, ApiError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn auto_deploy_keeps_a_bounded_history() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(&dir);
    let a = svc
        .create_api(ApiInput {
            target: Some("https://example.com".into()),
            ..api("bounded")
        })
        .await
        .unwrap();
    let i = svc.list_integrations(&a.id, None, None).await.unwrap().0[0].clone();
    let manual = svc
        .create_deployment(&a.id, Some("keep".into()), None)
        .await
        .unwrap();
    for n in 0..20 {
        svc.create_route(&a.id, route(&format!("GET /r{n}"), &i.id))
            .await
            .unwrap();
    }
    let (deps, _) = svc.list_deployments(&a.id, None, None).await.unwrap();
    // The manual one, the one served and the one just superseded.
    assert_eq!(deps.len(), 3, "{deps:?}");
    assert!(deps.iter().any(|d| d.id == manual.id));
    let served = svc.deployed_stages().await.unwrap();
    assert_eq!(served[0].snapshot.routes.len(), 21);
    for d in &deps {
        assert!(svc
            .store
            .get_snapshot(&a.id, &d.id)
            .await
            .unwrap()
            .is_some());
    }
}
