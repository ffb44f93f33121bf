//! The contract of devices, the OAuth configuration (user pool domains, resource servers, UI
//! customizations) and API keys with usage plans, held against SQLite and PostgreSQL alike
//! (`contract_tests::devices_oauth_keys::{sqlite,postgres}::*`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{client, pool, Aggregates};
use crate::api_keys::{ApiKey, QuotaSettings, UsageCount, UsagePlan};
use crate::oauth::{ClientRewrite, ResourceServer, ResourceServerScope, UiCustomization};
use crate::*;

contract_tests!(
    pending_devices_do_not_pile_up_and_lists_skip_them,
    devices_are_replaced_paged_and_go_with_their_user,
    domains_are_globally_unique_and_one_of_each_kind_per_pool,
    resource_servers_page_by_identifier_and_rewrite_clients_atomically,
    a_resource_server_change_loses_no_concurrent_client_rewrite,
    ui_customizations_keep_their_image_and_follow_their_client,
    keys_are_unique_by_value_and_found_by_hash,
    plan_keys_and_usage_go_with_their_plan_or_key,
    concurrent_usage_flushes_add_up,
    usage_of_a_key_deleted_meanwhile_is_dropped,
);

fn page(limit: usize, after: Option<&str>) -> Page {
    Page {
        limit,
        after: after.map(str::to_string),
    }
}

// ---------------------------------------------------------------- devices

fn device(pool: &str, sub: &str, key: &str, created: i64, confirmed: bool) -> Device {
    Device {
        pool_id: pool.into(),
        sub: sub.into(),
        device_key: key.into(),
        device_group_key: "-g".into(),
        confirmed,
        remembered_status: confirmed.then(|| "remembered".to_string()),
        verifier: confirmed.then(|| "sealed-verifier".to_string()),
        attributes: BTreeMap::from([("device_name".to_string(), format!("phone {key}"))]),
        created,
        modified: created,
        last_authenticated: None,
    }
}

async fn with_user<S: Aggregates>(s: &S, pool_id: &str, name: &str) -> String {
    if s.get_pool(pool_id).await.unwrap().is_none() {
        s.insert_pool(&pool(pool_id)).await.unwrap();
    }
    let u = super::user(pool_id, name, &format!("{name}@example.com"));
    s.insert_user(&u, name).await.unwrap();
    u.sub
}

async fn pending_devices_do_not_pile_up_and_lists_skip_them<S: Aggregates>(s: Arc<S>) {
    let sub = with_user(&*s, "p1", "alice").await;
    s.add_pending_device(&device("p1", &sub, "k1", 10, false), 0)
        .await
        .unwrap();
    s.put_device(&device("p1", &sub, "k0", 5, true))
        .await
        .unwrap();
    // Drops the user's unconfirmed devices created before 50 (k1), not the confirmed one.
    s.add_pending_device(&device("p1", &sub, "k2", 100, false), 50)
        .await
        .unwrap();
    assert!(s.get_device("p1", "k1").await.unwrap().is_none());
    assert_eq!(
        s.get_device("p1", "k2").await.unwrap(),
        Some(device("p1", &sub, "k2", 100, false))
    );
    let listed = s.list_devices("p1", &sub, &page(10, None)).await.unwrap();
    assert_eq!(listed, vec![device("p1", &sub, "k0", 5, true)]);
    // A pending device with a taken key is a conflict, and the sweep is undone with it.
    s.add_pending_device(&device("p1", &sub, "k3", 10, false), 0)
        .await
        .unwrap();
    assert!(matches!(
        s.add_pending_device(&device("p1", &sub, "k0", 200, false), 150)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.get_device("p1", "k3").await.unwrap().is_some());
    assert!(s.get_device("p1", "k2").await.unwrap().is_some());
    // A device needs its user.
    assert!(matches!(
        s.add_pending_device(&device("p1", "nobody", "k9", 1, false), 0)
            .await,
        Err(StoreError::Conflict(_))
    ));

    s.delete_device("p1", "k0").await.unwrap();
    assert!(matches!(
        s.delete_device("p1", "k0").await,
        Err(StoreError::NotFound)
    ));
    // Deleting the user deletes its devices.
    s.delete_user("p1", &sub).await.unwrap();
    assert!(s.get_device("p1", "k2").await.unwrap().is_none());
}

async fn devices_are_replaced_paged_and_go_with_their_user<S: Aggregates>(s: Arc<S>) {
    let alice = with_user(&*s, "p1", "alice").await;
    let bob = with_user(&*s, "p1", "bob").await;
    // Code point order: "B" < "_" < "a".
    for key in ["a1", "_x", "B2", "a0"] {
        s.put_device(&device("p1", &alice, key, 1, true))
            .await
            .unwrap();
    }
    s.put_device(&device("p1", &bob, "b-only", 1, true))
        .await
        .unwrap();
    let keys = |d: &[Device]| d.iter().map(|d| d.device_key.clone()).collect::<Vec<_>>();
    let first = s.list_devices("p1", &alice, &page(2, None)).await.unwrap();
    assert_eq!(keys(&first), ["B2", "_x"]);
    let rest = s
        .list_devices("p1", &alice, &page(10, Some("_x")))
        .await
        .unwrap();
    assert_eq!(keys(&rest), ["a0", "a1"]);

    // Confirming a pending device replaces it (put is insert-or-replace).
    s.add_pending_device(&device("p1", &alice, "new", 7, false), 0)
        .await
        .unwrap();
    let mut confirmed = device("p1", &alice, "new", 7, true);
    confirmed.last_authenticated = Some(9);
    s.put_device(&confirmed).await.unwrap();
    assert_eq!(s.get_device("p1", "new").await.unwrap(), Some(confirmed));
    assert_eq!(
        s.list_devices("p1", &alice, &page(10, None))
            .await
            .unwrap()
            .len(),
        5
    );

    // The pool takes everything with it.
    s.delete_pool("p1").await.unwrap();
    assert!(s.get_device("p1", "b-only").await.unwrap().is_none());
}

// ---------------------------------------------------------------- OAuth configuration

fn domain(pool: &str, name: &str, custom: bool) -> UserPoolDomain {
    UserPoolDomain {
        domain: name.into(),
        pool_id: pool.into(),
        custom,
        certificate_arn: custom.then(|| "arn:aws:acm:us-east-1:1:certificate/x".to_string()),
        security_policy: None,
        managed_login_version: 1,
        routing: custom.then(|| serde_json::json!({"failover": [{"region": "eu-west-1"}]})),
        cloudfront_distribution: "d1.cloudfront.net".into(),
        version: "20260101000000".into(),
        created: 1,
        modified: 1,
    }
}

fn server(pool: &str, id: &str, scopes: &[&str]) -> ResourceServer {
    ResourceServer {
        pool_id: pool.into(),
        identifier: id.into(),
        name: "api".into(),
        scopes: scopes
            .iter()
            .map(|s| ResourceServerScope {
                name: s.to_string(),
                description: format!("{s} things"),
            })
            .collect(),
        created: 1,
        modified: 1,
    }
}

async fn domains_are_globally_unique_and_one_of_each_kind_per_pool<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_pool(&pool("p2")).await.unwrap();
    s.insert_domain(&domain("p1", "myapp", false))
        .await
        .unwrap();
    // Taken by another pool.
    assert!(matches!(
        s.insert_domain(&domain("p2", "myapp", false)).await,
        Err(StoreError::Conflict(_))
    ));
    // A second prefix domain for the same pool.
    assert!(matches!(
        s.insert_domain(&domain("p1", "other", false)).await,
        Err(StoreError::Conflict(_))
    ));
    // A domain needs its pool.
    assert!(matches!(
        s.insert_domain(&domain("nope", "ghost", false)).await,
        Err(StoreError::Conflict(_))
    ));
    // A custom domain beside the prefix one is fine.
    s.insert_domain(&domain("p1", "auth.example.com", true))
        .await
        .unwrap();
    let all = s.pool_domains("p1").await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.domain.as_str()).collect::<Vec<_>>(),
        ["myapp", "auth.example.com"]
    );
    assert_eq!(all[1], domain("p1", "auth.example.com", true));
    assert!(s.pool_domains("p2").await.unwrap().is_empty());
    let mut d = domain("p1", "myapp", false);
    d.managed_login_version = 2;
    s.update_domain(&d).await.unwrap();
    assert_eq!(s.get_domain("myapp").await.unwrap(), Some(d));
    // Only the owning pool may change or delete it.
    assert!(matches!(
        s.update_domain(&domain("p2", "myapp", false)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_domain("p2", "myapp").await,
        Err(StoreError::NotFound)
    ));
    s.delete_domain("p1", "myapp").await.unwrap();
    assert!(s.get_domain("myapp").await.unwrap().is_none());
    // The name is free again, for any pool.
    s.insert_domain(&domain("p2", "myapp", false))
        .await
        .unwrap();
    // Deleting the pool deletes what is left.
    s.delete_pool("p1").await.unwrap();
    assert!(s.get_domain("auth.example.com").await.unwrap().is_none());
    assert!(s.get_domain("myapp").await.unwrap().is_some());
}

async fn resource_servers_page_by_identifier_and_rewrite_clients_atomically<S: Aggregates>(
    s: Arc<S>,
) {
    s.insert_pool(&pool("p1")).await.unwrap();
    for id in ["c-api", "a-api", "b-api", "B-api"] {
        s.insert_resource_server(&server("p1", id, &["read"]))
            .await
            .unwrap();
    }
    assert!(matches!(
        s.insert_resource_server(&server("p1", "a-api", &[])).await,
        Err(StoreError::Conflict(_))
    ));
    let ids = |r: &[ResourceServer]| r.iter().map(|r| r.identifier.clone()).collect::<Vec<_>>();
    let first = s.list_resource_servers("p1", &page(2, None)).await.unwrap();
    // Code point order: upper case first.
    assert_eq!(ids(&first), ["B-api", "a-api"]);
    let rest = s
        .list_resource_servers("p1", &page(2, Some("a-api")))
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["b-api", "c-api"]);

    let mut c = client("p1", "client1");
    s.insert_client(&c).await.unwrap();
    s.insert_client(&client("p1", "client2")).await.unwrap();
    c.settings
        .insert("AllowedOAuthScopes".into(), serde_json::json!(["openid"]));
    let expected = c.clone();
    let rewrite: ClientRewrite =
        Box::new(move |old: &AppClient| (old.client_id == "client1").then(|| expected.clone()));
    s.update_resource_server(&server("p1", "a-api", &["write", "read"]), rewrite)
        .await
        .unwrap();
    let rs = s.get_resource_server("p1", "a-api").await.unwrap().unwrap();
    assert_eq!(rs, server("p1", "a-api", &["write", "read"]));
    assert_eq!(s.get_client("client1").await.unwrap().unwrap(), c);
    assert_eq!(
        s.get_client("client2").await.unwrap().unwrap(),
        client("p1", "client2")
    );

    // A failed change leaves the clients alone.
    let rename = || -> ClientRewrite {
        Box::new(|old: &AppClient| {
            let mut new = old.clone();
            new.client_name = "changed".into();
            Some(new)
        })
    };
    assert!(matches!(
        s.delete_resource_server("p1", "nope", rename()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_resource_server(&server("p1", "nope", &[]), rename())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.get_client("client1").await.unwrap().unwrap().client_name,
        c.client_name
    );
    s.delete_resource_server("p1", "a-api", rename())
        .await
        .unwrap();
    assert!(s
        .get_resource_server("p1", "a-api")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.get_client("client2").await.unwrap().unwrap().client_name,
        "changed"
    );
    s.delete_pool("p1").await.unwrap();
    assert!(s
        .get_resource_server("p1", "b-api")
        .await
        .unwrap()
        .is_none());
}

/// Resource-server changes rewriting the same client concurrently: each rewrite sees the
/// previous one's result (the clients are read and written in the change's transaction), so
/// none is lost.
async fn a_resource_server_change_loses_no_concurrent_client_rewrite<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_client(&client("p1", "c1")).await.unwrap();
    const N: usize = 8;
    for i in 0..N {
        s.insert_resource_server(&server("p1", &format!("rs{i}"), &["read"]))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..N {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let rewrite: ClientRewrite = Box::new(move |old: &AppClient| {
                let mut new = old.clone();
                new.explicit_auth_flows.push(format!("rs{i}"));
                Some(new)
            });
            s.update_resource_server(&server("p1", &format!("rs{i}"), &["write"]), rewrite)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let flows = s
        .get_client("c1")
        .await
        .unwrap()
        .unwrap()
        .explicit_auth_flows;
    // The one flow the client started with, plus one per change.
    assert_eq!(flows.len(), 1 + N, "{flows:?}");
}

async fn ui_customizations_keep_their_image_and_follow_their_client<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_client(&client("p1", "client1")).await.unwrap();
    let ui = |client: &str, image: Option<Vec<u8>>| UiCustomization {
        pool_id: "p1".into(),
        client_id: client.into(),
        css: Some(".banner-customizable { color: red; }".into()),
        css_version: Some("20260101000000".into()),
        image_content_type: image.as_ref().map(|_| "image/png".to_string()),
        image_version: image.as_ref().map(|_| "v1".to_string()),
        image,
        created: 1,
        modified: 2,
    };
    // Every byte value, NUL included, comes back as it went in.
    let mut png = vec![0x89, b'P', b'N', b'G', 0, 1, 2, 3];
    png.extend((0..=255u8).cycle().take(100_000));
    s.put_ui_customization(&ui("client1", Some(png.clone())))
        .await
        .unwrap();
    s.put_ui_customization(&ui("ALL", None)).await.unwrap();
    let got = s
        .get_ui_customization("p1", "client1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.image.as_deref(), Some(png.as_slice()));
    assert_eq!(got, ui("client1", Some(png)));
    assert_eq!(
        s.get_ui_customization("p1", "ALL").await.unwrap(),
        Some(ui("ALL", None))
    );
    // Replacing drops the image when the new one has none.
    s.put_ui_customization(&ui("client1", None)).await.unwrap();
    let got = s
        .get_ui_customization("p1", "client1")
        .await
        .unwrap()
        .unwrap();
    assert!(got.image.is_none());
    // Deleting is idempotent.
    s.delete_ui_customization("p1", "ALL").await.unwrap();
    s.delete_ui_customization("p1", "ALL").await.unwrap();
    assert!(s.get_ui_customization("p1", "ALL").await.unwrap().is_none());
    s.put_ui_customization(&ui("ALL", None)).await.unwrap();
    // Deleting the client deletes its customization, not the pool's.
    s.delete_client("p1", "client1").await.unwrap();
    assert!(s
        .get_ui_customization("p1", "client1")
        .await
        .unwrap()
        .is_none());
    assert!(s.get_ui_customization("p1", "ALL").await.unwrap().is_some());
    s.delete_pool("p1").await.unwrap();
    assert!(s.get_ui_customization("p1", "ALL").await.unwrap().is_none());
}

// ---------------------------------------------------------------- API keys and usage plans

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

async fn keys_are_unique_by_value_and_found_by_hash<S: Aggregates>(s: Arc<S>) {
    s.insert_api_key(&key("k1", "h1")).await.unwrap();
    assert!(matches!(
        s.insert_api_key(&key("k2", "h1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.insert_api_key(&key("k1", "h9")).await,
        Err(StoreError::Conflict(_))
    ));
    let got = s.get_api_key_by_hash("h1").await.unwrap().unwrap();
    assert_eq!(got, key("k1", "h1"));
    assert_eq!(s.get_api_key("k1").await.unwrap().unwrap(), got);
    assert!(s.get_api_key_by_hash("nope").await.unwrap().is_none());

    let mut changed = got.clone();
    changed.enabled = false;
    changed.customer_id = Some("c".into());
    changed.description = Some("for the mobile app".into());
    changed.tags.insert("team".into(), "edge".into());
    changed.value_sealed = true;
    s.update_api_key(&changed).await.unwrap();
    // The value stays as inserted; everything else is replaced.
    changed.value_sealed = false;
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
    let mut sealed = key("k4", "h4");
    sealed.value_sealed = true;
    s.insert_api_keys(&[key("k3", "h3"), sealed.clone()])
        .await
        .unwrap();
    assert_eq!(s.get_api_key_by_hash("h4").await.unwrap(), Some(sealed));
    let listed = s.list_api_keys(&page(2, Some("k1"))).await.unwrap();
    assert_eq!(
        listed.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["k3", "k4"]
    );
    s.delete_api_key("k3").await.unwrap();
    assert!(matches!(
        s.delete_api_key("k3").await,
        Err(StoreError::NotFound)
    ));
    // Its value is free again.
    s.insert_api_key(&key("k5", "h3")).await.unwrap();
}

async fn plan_keys_and_usage_go_with_their_plan_or_key<S: Aggregates>(s: Arc<S>) {
    s.insert_api_key(&key("k1", "h1")).await.unwrap();
    s.insert_api_key(&key("k2", "h2")).await.unwrap();
    s.insert_usage_plan(&plan("p1")).await.unwrap();
    s.insert_usage_plan(&plan("p2")).await.unwrap();
    assert!(matches!(
        s.insert_usage_plan(&plan("p1")).await,
        Err(StoreError::Conflict(_))
    ));
    let mut p2 = plan("p2");
    p2.description = Some("gold".into());
    s.update_usage_plan(&p2).await.unwrap();
    assert_eq!(s.get_usage_plan("p2").await.unwrap(), Some(p2));
    assert!(matches!(
        s.update_usage_plan(&plan("p9")).await,
        Err(StoreError::NotFound)
    ));
    s.insert_usage_plan_key("p1", "k1").await.unwrap();
    s.insert_usage_plan_key("p1", "k2").await.unwrap();
    s.insert_usage_plan_key("p2", "k1").await.unwrap();
    assert!(matches!(
        s.insert_usage_plan_key("p1", "k1").await,
        Err(StoreError::Conflict(_))
    ));
    // Both ends must exist.
    assert!(matches!(
        s.insert_usage_plan_key("p1", "k9").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.insert_usage_plan_key("p9", "k1").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.usage_plan_keys("p1").await.unwrap(), ["k1", "k2"]);
    assert_eq!(s.plans_of_key("k1").await.unwrap(), ["p1", "p2"]);
    assert_eq!(s.all_usage_plan_keys().await.unwrap().len(), 3);

    s.add_usage(&[]).await.unwrap();
    s.add_usage(&[
        count("p1", "k1", 100, 3),
        count("p1", "k1", 101, 1),
        count("p1", "k2", 101, 2),
        count("p2", "k1", 101, 7),
        // Not a key of the plan: dropped.
        count("p2", "k2", 101, 9),
        // No such plan or key: dropped.
        count("p9", "k1", 101, 1),
        count("p1", "k9", 101, 1),
    ])
    .await
    .unwrap();
    // The same counter twice in one flush, and a negative count (UpdateUsage).
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
    assert_eq!(
        s.usage_since(101).await.unwrap(),
        vec![
            count("p1", "k1", 101, 3),
            count("p1", "k2", 101, 2),
            count("p2", "k1", 101, 7)
        ]
    );

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
    assert!(s.plans_of_key("k1").await.unwrap().is_empty());
    s.delete_usage_plan("p1").await.unwrap();
    assert!(matches!(
        s.delete_usage_plan("p1").await,
        Err(StoreError::NotFound)
    ));
    assert!(s.get_usage_plan("p1").await.unwrap().is_none());
    assert!(s.usage("p1", None, 0, 1000).await.unwrap().is_empty());
    let plans = s.list_usage_plans(&page(10, None)).await.unwrap();
    assert_eq!(
        plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["p2"]
    );
}

/// Several nodes flushing their counters at once: every count is added, none is lost.
async fn concurrent_usage_flushes_add_up<S: Aggregates>(s: Arc<S>) {
    s.insert_usage_plan(&plan("p1")).await.unwrap();
    for k in ["k1", "k2"] {
        s.insert_api_key(&key(k, &format!("h-{k}"))).await.unwrap();
        s.insert_usage_plan_key("p1", k).await.unwrap();
    }
    const TASKS: i64 = 8;
    const FLUSHES: i64 = 10;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for _ in 0..FLUSHES {
                // Alternate the order within a flush: the store must not deadlock on it.
                let mut counts = vec![count("p1", "k1", 7, 1), count("p1", "k2", 7, 2)];
                if t % 2 == 1 {
                    counts.reverse();
                }
                s.add_usage(&counts).await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        s.usage("p1", None, 7, 7).await.unwrap(),
        vec![
            count("p1", "k1", 7, TASKS * FLUSHES),
            count("p1", "k2", 7, 2 * TASKS * FLUSHES)
        ]
    );
}

/// Flushes racing the deletion of a key: the flushes all succeed (counts of the deleted key
/// are dropped), and no counter of the key survives it.
async fn usage_of_a_key_deleted_meanwhile_is_dropped<S: Aggregates>(s: Arc<S>) {
    s.insert_usage_plan(&plan("p1")).await.unwrap();
    for k in ["k1", "k2"] {
        s.insert_api_key(&key(k, &format!("h-{k}"))).await.unwrap();
        s.insert_usage_plan_key("p1", k).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for day in 0..20 {
                s.add_usage(&[count("p1", "k1", day, 1), count("p1", "k2", day, 1)])
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    tokio::task::yield_now().await;
    s.delete_api_key("k1").await.unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let left = s.usage("p1", None, 0, 100).await.unwrap();
    assert!(left.iter().all(|c| c.key_id == "k2"), "{left:?}");
    assert_eq!(left.iter().map(|c| c.used).sum::<i64>(), 4 * 20);
}
