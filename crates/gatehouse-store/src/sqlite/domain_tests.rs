//! What only the SQLite `DomainStore` has: durability across reopening the file. The behaviour
//! both stores share is in `contract_tests`.

use super::SqliteStore;
use crate::domains::{ApiMapping, DomainName, DomainNameConfiguration, DomainStore};

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
