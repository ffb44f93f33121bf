//! The SQLite `DomainStore` against its contract: unique names and keys, cascades, lookups by
//! API, durability across reopen.

use std::sync::Arc;

use super::SqliteStore;
use crate::domains::{ApiMapping, DomainName, DomainNameConfiguration, DomainStore};
use crate::{Page, StoreError};

fn open() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    (dir, Arc::new(store))
}

fn domain(name: &str) -> DomainName {
    DomainName {
        name: name.into(),
        configurations: vec![DomainNameConfiguration {
            api_gateway_domain_name: "d-abc.execute-api.localhost".into(),
            endpoint_type: "REGIONAL".into(),
            security_policy: "TLS_1_2".into(),
            ip_address_type: "ipv4".into(),
            ..Default::default()
        }],
        routing_mode: "API_MAPPING_ONLY".into(),
        created: 1,
        ..Default::default()
    }
}

fn mapping(domain: &str, id: &str, api: &str, stage: &str, key: &str) -> ApiMapping {
    ApiMapping {
        id: id.into(),
        domain_name: domain.into(),
        api_id: api.into(),
        stage: stage.into(),
        key: key.into(),
    }
}

#[tokio::test]
async fn domain_names_are_unique_listed_in_order_and_updated() {
    let (_d, s) = open();
    s.insert_domain_name(&domain("b.example.test"))
        .await
        .unwrap();
    s.insert_domain_name(&domain("a.example.test"))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_domain_name(&domain("a.example.test")).await,
        Err(StoreError::Conflict(_))
    ));
    let page = s
        .list_domain_names(&Page {
            limit: 1,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].name, "a.example.test");
    let rest = s
        .list_domain_names(&Page {
            limit: 10,
            after: Some("a.example.test".into()),
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].name, "b.example.test");

    let mut d = domain("a.example.test");
    d.tags.insert("team".into(), "edge".into());
    s.update_domain_name(&d).await.unwrap();
    assert_eq!(s.get_domain_name("a.example.test").await.unwrap(), Some(d));
    assert!(matches!(
        s.update_domain_name(&domain("nope.example.test")).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn mapping_keys_are_unique_per_domain() {
    let (_d, s) = open();
    s.insert_domain_name(&domain("a.example.test"))
        .await
        .unwrap();
    s.insert_domain_name(&domain("b.example.test"))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("a.example.test", "m1", "api1", "prod", "v1"))
        .await
        .unwrap();
    // The same key on another domain is fine; on the same domain it is a conflict.
    s.insert_api_mapping(&mapping("b.example.test", "m1", "api1", "prod", "v1"))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_api_mapping(&mapping("a.example.test", "m2", "api2", "$default", "v1"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.insert_api_mapping(&mapping("a.example.test", "m2", "api2", "$default", ""))
        .await
        .unwrap();
    // Moving m2 onto m1's key conflicts too.
    assert!(matches!(
        s.update_api_mapping(&mapping("a.example.test", "m2", "api2", "$default", "v1"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.update_api_mapping(&mapping(
        "a.example.test",
        "m2",
        "api2",
        "$default",
        "v2/orders",
    ))
    .await
    .unwrap();
    assert_eq!(
        s.get_api_mapping("a.example.test", "m2").await.unwrap(),
        Some(mapping(
            "a.example.test",
            "m2",
            "api2",
            "$default",
            "v2/orders"
        ))
    );
    assert!(matches!(
        s.insert_api_mapping(&mapping("none.example.test", "m9", "api1", "prod", ""))
            .await,
        Err(StoreError::NotFound)
    ));
    let ids: Vec<String> = s
        .list_api_mappings("a.example.test")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["m1", "m2"]);
}

#[tokio::test]
async fn mappings_are_found_by_api_and_go_with_their_domain() {
    let (_d, s) = open();
    s.insert_domain_name(&domain("a.example.test"))
        .await
        .unwrap();
    s.insert_domain_name(&domain("b.example.test"))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("a.example.test", "m1", "api1", "prod", ""))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("b.example.test", "m2", "api1", "dev", "dev"))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("b.example.test", "m3", "api2", "prod", "other"))
        .await
        .unwrap();
    assert_eq!(s.api_mappings_to("api1", None).await.unwrap().len(), 2);
    let prod = s.api_mappings_to("api1", Some("prod")).await.unwrap();
    assert_eq!(
        prod,
        vec![mapping("a.example.test", "m1", "api1", "prod", "")]
    );
    assert!(s.api_mappings_to("api3", None).await.unwrap().is_empty());
    assert_eq!(s.all_api_mappings().await.unwrap().len(), 3);

    s.delete_api_mapping("b.example.test", "m3").await.unwrap();
    assert!(matches!(
        s.delete_api_mapping("b.example.test", "m3").await,
        Err(StoreError::NotFound)
    ));
    s.delete_domain_name("b.example.test").await.unwrap();
    assert!(matches!(
        s.delete_domain_name("b.example.test").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.all_api_mappings().await.unwrap(),
        vec![mapping("a.example.test", "m1", "api1", "prod", "")]
    );
}

#[tokio::test]
async fn domains_and_mappings_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.insert_domain_name(&domain("a.example.test"))
            .await
            .unwrap();
        s.insert_api_mapping(&mapping(
            "a.example.test",
            "m1",
            "api1",
            "prod",
            "v1/orders",
        ))
        .await
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(
        s.get_domain_name("a.example.test").await.unwrap(),
        Some(domain("a.example.test"))
    );
    assert_eq!(s.all_api_mappings().await.unwrap().len(), 1);
}
