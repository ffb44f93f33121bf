//! The copy from SQLite to PostgreSQL: both schemas are held to `TABLES` (a table or column a
//! future migration adds fails here until it is mapped), and a store with rows in every table
//! reads back the same through the PostgreSQL store's traits after the copy.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::*;
use crate::api_keys::{ApiKey, QuotaSettings, ThrottleSettings, UsageCount, UsagePlan};
use crate::apis::{DeploymentSnapshot, HttpApi};
use crate::domains::{ApiMapping, DomainName};
use crate::rest_apis::{RestApi, RestDeploymentSnapshot};
use crate::*;

fn sqlite_type(kind: Kind) -> &'static str {
    match kind {
        Text | OptText | Json => "TEXT",
        BigInt | Int | Bool => "INTEGER",
        Bytes | OptBytes => "BLOB",
    }
}

fn pg_type(kind: Kind) -> (&'static str, bool) {
    let ty = match kind {
        Text | OptText => "text",
        Json => "jsonb",
        BigInt => "bigint",
        Int => "integer",
        Bool => "boolean",
        Bytes | OptBytes => "bytea",
    };
    (ty, matches!(kind, OptText | OptBytes))
}

#[test]
fn every_sqlite_table_and_column_is_mapped() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
    let conn = open_connection(store.path(), true).unwrap();
    let schema = sqlite_schema(&conn).unwrap();
    let mut seen = BTreeSet::new();
    for (table, columns) in &schema {
        if SQLITE_OWN_TABLES.contains(&table.as_str()) {
            continue;
        }
        let t = TABLES
            .iter()
            .find(|t| t.name == table)
            .unwrap_or_else(|| panic!("SQLite table {table} is not in transfer::TABLES"));
        let mapped: BTreeSet<String> = t.columns.iter().map(|(c, _)| c.to_string()).collect();
        assert_eq!(columns, &mapped, "columns of {table}");
        for (column, kind) in t.columns {
            let declared: String = conn
                .query_row(
                    "SELECT type FROM pragma_table_info(?1) WHERE name = ?2",
                    [table.as_str(), column],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(declared, sqlite_type(*kind), "type of {table}.{column}");
        }
        seen.insert(table.as_str());
    }
    for t in TABLES {
        assert!(seen.contains(t.name), "{} is not a SQLite table", t.name);
    }
    assert_eq!(TABLES.len(), seen.len(), "a table is mapped twice");
}

#[tokio::test]
async fn every_postgres_table_and_column_is_mapped() {
    let Some((pg, schema)) = crate::postgres::testing::store().await else {
        return;
    };
    let client = pg.client().await.unwrap();
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                    is_generated::text
             FROM information_schema.columns WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap();
    let mut tables: BTreeMap<String, BTreeMap<String, (String, bool)>> = BTreeMap::new();
    for r in &rows {
        let (table, column, ty, nullable, generated): (String, String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        if generated == "ALWAYS" {
            continue;
        }
        tables
            .entry(table)
            .or_default()
            .insert(column, (ty, nullable == "YES"));
    }
    for (table, columns) in &tables {
        if PG_OWN_TABLES.contains(&table.as_str()) {
            continue;
        }
        let t = TABLES
            .iter()
            .find(|t| t.name == table)
            .unwrap_or_else(|| panic!("PostgreSQL table {table} is not in transfer::TABLES"));
        let expected: BTreeMap<String, (String, bool)> = t
            .columns
            .iter()
            .map(|(c, k)| {
                let (ty, nullable) = pg_type(*k);
                (c.to_string(), (ty.to_string(), nullable))
            })
            .collect();
        assert_eq!(columns, &expected, "columns of {table}");
    }
    for t in TABLES {
        assert!(
            tables.contains_key(t.name),
            "{} is not a PostgreSQL table",
            t.name
        );
    }
    crate::postgres::testing::drop_schema(&pg, &schema).await;
}

const POOL: &str = "us-east-1_Transfer1";
const NOW: i64 = 1_700_000_000;

fn client(id: &str) -> AppClient {
    AppClient {
        pool_id: POOL.into(),
        client_id: id.into(),
        client_name: format!("client {id}"),
        client_secret: Some("s3cret".into()),
        created: 11,
        modified: 12,
        explicit_auth_flows: vec!["ALLOW_USER_SRP_AUTH".into()],
        refresh_token_validity: 30,
        access_token_validity: 1,
        id_token_validity: 1,
        token_validity_units: TokenValidityUnits::default(),
        read_attributes: None,
        write_attributes: Some(vec!["email".into()]),
        prevent_user_existence_errors: "ENABLED".into(),
        enable_token_revocation: true,
        auth_session_validity_minutes: 3,
        settings: BTreeMap::from([("AllowedOAuthFlows".into(), json!(["code"]))]),
    }
}

fn refresh(hash: &str, origin: &str, scopes: Option<&str>) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        pool_id: POOL.into(),
        client_id: "client1".into(),
        sub: "sub-alice".into(),
        origin_jti: origin.into(),
        auth_time: NOW - 10,
        created: NOW - 5,
        expires: NOW + 3600,
        revoked: false,
        scopes: scopes.map(str::to_string),
    }
}

fn http_api() -> HttpApi {
    HttpApi {
        id: "httpapi1".into(),
        name: "pets".into(),
        protocol_type: "HTTP".into(),
        route_selection_expression: "$request.method $request.path".into(),
        api_key_selection_expression: "$request.header.x-api-key".into(),
        routes: vec![apis::Route {
            id: "r1".into(),
            route_key: "GET /pets/{id}".into(),
            target: Some("integrations/i1".into()),
            authorization_type: "JWT".into(),
            authorizer_id: Some("a1".into()),
            authorization_scopes: vec!["pets/read".into()],
            ..Default::default()
        }],
        integrations: vec![apis::Integration {
            id: "i1".into(),
            integration_type: "HTTP_PROXY".into(),
            integration_uri: Some("http://127.0.0.1:9/pets".into()),
            payload_format_version: "1.0".into(),
            timeout_in_millis: 30_000,
            connection_type: "INTERNET".into(),
            tls_config: Some(json!({"ServerNameToVerify": "pets.test"})),
            ..Default::default()
        }],
        authorizers: vec![apis::Authorizer {
            id: "a1".into(),
            name: "cognito".into(),
            authorizer_type: "JWT".into(),
            identity_source: vec!["$request.header.Authorization".into()],
            jwt_audience: vec!["client1".into()],
            jwt_issuer: Some(format!("http://127.0.0.1:9229/{POOL}")),
        }],
        stages: vec![apis::Stage {
            name: "$default".into(),
            deployment_id: Some("dep1".into()),
            auto_deploy: true,
            default_route_settings: apis::RouteSettings {
                throttling_rate_limit: Some(0.1),
                throttling_burst_limit: Some(3),
                ..Default::default()
            },
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn rest_api() -> RestApi {
    RestApi {
        id: "restapi1".into(),
        name: "rest pets".into(),
        api_key_source: "HEADER".into(),
        resources: vec![rest_apis::Resource {
            id: "root".into(),
            path: "/".into(),
            ..Default::default()
        }],
        stages: vec![rest_apis::RestStage {
            name: "prod".into(),
            deployment_id: "rdep1".into(),
            ..Default::default()
        }],
        extra: BTreeMap::from([("apiStatus".into(), json!("AVAILABLE"))]),
        ..Default::default()
    }
}

/// At least one row in every table, through the traits, with values off the defaults.
async fn fill<S: Store + ApiStore>(s: &S) {
    let mut pool = crate::contract_tests::pool(POOL);
    pool.mfa_configuration = "OPTIONAL".into();
    pool.settings
        .insert("SmsConfiguration".into(), json!({"ExternalId": "x"}));
    s.insert_pool(&pool).await.unwrap();
    s.insert_client(&client("client1")).await.unwrap();

    let mut alice = crate::contract_tests::user(POOL, "alice", "alice@example.com");
    alice.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    alice
        .attributes
        .insert("custom:tier".into(), "gold ✓ ünïcode".into());
    alice.extra.insert(
        "srp".into(),
        json!("sealed:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
    );
    alice.extra.insert(
        "mfa".into(),
        json!({"totp": "sealed-totp", "preferred": "SOFTWARE_TOKEN_MFA"}),
    );
    s.insert_user(&alice, "alice").await.unwrap();
    let bob = crate::contract_tests::user(POOL, "Bob", "bob@example.com");
    s.insert_user(&bob, "bob").await.unwrap();

    s.insert_group(&Group {
        pool_id: POOL.into(),
        name: "admins".into(),
        description: Some("the admins".into()),
        role_arn: Some("arn:aws:iam::000000000000:role/admin".into()),
        precedence: Some(1),
        created: 3,
        modified: 4,
    })
    .await
    .unwrap();
    s.add_member(POOL, "admins", "sub-alice").await.unwrap();

    s.put_code(&OneTimeCode {
        pool_id: POOL.into(),
        sub: "sub-Bob".into(),
        purpose: "confirm_signup".into(),
        code_hash: "c0dehash".into(),
        expires: NOW + 600,
        failed_attempts: 0,
    })
    .await
    .unwrap();
    s.record_code_failure(POOL, "sub-Bob", "confirm_signup")
        .await
        .unwrap();

    s.put_session(&AuthSession {
        id_hash: "sessionhash".into(),
        pool_id: POOL.into(),
        client_id: "client1".into(),
        username: "alice".into(),
        challenge: "SOFTWARE_TOKEN_MFA".into(),
        expires: NOW + 180,
        data: json!({"k": 1, "f": 0.25, "nested": {"list": [1, "two", null]}}),
    })
    .await
    .unwrap();

    s.put_refresh_token(&refresh("rt-live", "jti-live", Some("openid email")))
        .await
        .unwrap();
    s.put_refresh_token(&refresh("rt-revoked", "jti-revoked", None))
        .await
        .unwrap();
    s.revoke_token_family("rt-revoked", NOW, 300)
        .await
        .unwrap()
        .unwrap();

    s.put_signing_key(&SigningKey {
        pool_id: POOL.into(),
        kid: "kid-1".into(),
        // Not UTF-8: a BLOB must arrive as bytes, not text.
        private_pkcs8: vec![0x30, 0x82, 0xff, 0x00, 0xfe, 0x01],
        created: NOW - 100,
        active: true,
    })
    .await
    .unwrap();

    s.put_device(&Device {
        pool_id: POOL.into(),
        sub: "sub-alice".into(),
        device_key: format!("{POOL}_device-1"),
        device_group_key: "group-1".into(),
        confirmed: true,
        remembered_status: Some("remembered".into()),
        verifier: Some("sealed-verifier".into()),
        attributes: BTreeMap::from([("device_name".into(), "laptop".into())]),
        created: NOW - 50,
        modified: NOW - 40,
        last_authenticated: Some(NOW - 30),
    })
    .await
    .unwrap();

    s.insert_domain(&UserPoolDomain {
        domain: "auth.example.com".into(),
        pool_id: POOL.into(),
        custom: true,
        certificate_arn: Some("arn:aws:acm:us-east-1:1:certificate/x".into()),
        security_policy: None,
        managed_login_version: 2,
        routing: Some(json!({"failover": [{"region": "eu-west-1"}]})),
        cloudfront_distribution: "d1.cloudfront.net".into(),
        version: "20260101000000".into(),
        created: 5,
        modified: 6,
    })
    .await
    .unwrap();
    s.insert_resource_server(&ResourceServer {
        pool_id: POOL.into(),
        identifier: "https://api.example.com".into(),
        name: "api".into(),
        scopes: vec![ResourceServerScope {
            name: "pets.read".into(),
            description: "read pets".into(),
        }],
        created: 7,
        modified: 8,
    })
    .await
    .unwrap();
    for (client_id, image) in [
        ("ALL", None),
        ("client1", Some(vec![0x89, b'P', b'N', b'G', 0, 255])),
    ] {
        s.put_ui_customization(&UiCustomization {
            pool_id: POOL.into(),
            client_id: client_id.into(),
            css: Some(".banner { color: red }".into()),
            css_version: Some("v1".into()),
            image_content_type: image.as_ref().map(|_| "image/png".to_string()),
            image_version: image.as_ref().map(|_| "i1".to_string()),
            image,
            created: 9,
            modified: 10,
        })
        .await
        .unwrap();
    }

    let api = http_api();
    s.insert_api(&api).await.unwrap();
    s.put_snapshot(&DeploymentSnapshot {
        api_id: api.id.clone(),
        deployment_id: "dep1".into(),
        cors: None,
        routes: api.routes.clone(),
        integrations: api.integrations.clone(),
        authorizers: api.authorizers.clone(),
    })
    .await
    .unwrap();
    let rest = rest_api();
    s.insert_rest_api(&rest).await.unwrap();
    s.put_rest_snapshot(&RestDeploymentSnapshot {
        api_id: rest.id.clone(),
        deployment_id: "rdep1".into(),
        api_key_source: "HEADER".into(),
        binary_media_types: vec!["image/png".into()],
        resources: rest.resources.clone(),
        authorizers: vec![],
    })
    .await
    .unwrap();

    s.insert_domain_name(&DomainName {
        name: "api.example.com".into(),
        routing_mode: "API_MAPPING_ONLY".into(),
        tags: BTreeMap::from([("team".into(), "pets".into())]),
        created: 13,
        ..Default::default()
    })
    .await
    .unwrap();
    s.insert_api_mapping(&ApiMapping {
        id: "map1".into(),
        domain_name: "api.example.com".into(),
        api_id: api.id.clone(),
        stage: "$default".into(),
        key: "v1".into(),
    })
    .await
    .unwrap();

    s.insert_api_key(&ApiKey {
        id: "key1".into(),
        name: "partner".into(),
        description: Some("a partner".into()),
        enabled: true,
        customer_id: Some("cust-1".into()),
        generate_distinct_id: true,
        value: "sealed-key-value".into(),
        value_sealed: true,
        value_hash: "ab12".into(),
        stage_keys: vec!["restapi1/prod".into()],
        tags: BTreeMap::new(),
        created: 14,
        last_updated: 15,
    })
    .await
    .unwrap();
    s.insert_usage_plan(&UsagePlan {
        id: "plan1".into(),
        name: "gold".into(),
        api_stages: vec![crate::api_keys::UsagePlanStage {
            api_id: rest.id.clone(),
            stage: "prod".into(),
            throttle: BTreeMap::new(),
        }],
        throttle: Some(ThrottleSettings {
            burst_limit: Some(5),
            rate_limit: Some(2.5),
        }),
        quota: Some(QuotaSettings {
            limit: 1000,
            offset: 0,
            period: "DAY".into(),
        }),
        created: 16,
        ..Default::default()
    })
    .await
    .unwrap();
    s.insert_usage_plan_key("plan1", "key1").await.unwrap();
    s.add_usage(&[UsageCount {
        plan_id: "plan1".into(),
        key_id: "key1".into(),
        day: 19_700,
        used: 42,
    }])
    .await
    .unwrap();
}

/// Everything `fill` wrote, read back through the traits.
async fn read_all<S: Store + ApiStore>(s: &S) -> String {
    let all = Page {
        limit: 100,
        after: None,
    };
    let mut out = Vec::<String>::new();
    macro_rules! show {
        ($e:expr) => {
            out.push(format!("{} = {:?}", stringify!($e), $e.await.unwrap()))
        };
    }
    show!(s.list_pools(&all));
    show!(s.count_users(POOL));
    show!(s.get_client("client1"));
    show!(s.get_user(POOL, "alice"));
    show!(s.get_user_by_sub(POOL, "sub-Bob"));
    show!(s.find_users_by_attribute(POOL, "custom:tier", "gold ✓ ünïcode"));
    show!(s.list_users(
        POOL,
        Some(&UserFilter::StartsWith {
            attribute: "email".into(),
            prefix: "bob@".into()
        }),
        &all
    ));
    show!(s.list_groups(POOL, &all));
    show!(s.groups_for_user(POOL, "sub-alice"));
    show!(s.users_in_group(POOL, "admins", &all));
    show!(s.get_code(POOL, "sub-Bob", "confirm_signup"));
    show!(s.get_session("sessionhash"));
    show!(s.get_refresh_token("rt-live"));
    show!(s.get_refresh_token("rt-revoked"));
    show!(s.revoked_families_since(0, NOW));
    show!(s.signing_keys(POOL));
    show!(s.list_devices(POOL, "sub-alice", &all));
    show!(s.pool_domains(POOL));
    show!(s.list_resource_servers(POOL, &all));
    show!(s.get_ui_customization(POOL, "ALL"));
    show!(s.get_ui_customization(POOL, "client1"));
    // The logo is not in the document (serde skips it): show its bytes.
    let logo = s.get_ui_customization(POOL, "client1").await.unwrap();
    out.push(format!("logo = {:?}", logo.and_then(|u| u.image)));
    show!(s.list_apis(&all));
    show!(s.get_snapshot("httpapi1", "dep1"));
    show!(s.list_rest_apis(&all));
    show!(s.get_rest_snapshot("restapi1", "rdep1"));
    show!(s.list_domain_names(&all));
    show!(s.all_api_mappings());
    show!(s.list_api_keys(&all));
    show!(s.get_api_key_by_hash("ab12"));
    show!(s.list_usage_plans(&all));
    show!(s.all_usage_plan_keys());
    show!(s.usage("plan1", None, 0, i64::MAX));
    out.join("\n")
}

async fn filled_sqlite(dir: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(&dir.join("gatehouse.db")).unwrap();
    fill(&store).await;
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_arrives_whole_and_reads_back_the_same() {
    let Some((pg, schema)) = crate::postgres::testing::store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = filled_sqlite(dir.path()).await;
    let before = read_all(&sqlite).await;
    // The readers see what `fill` wrote (so equal listings below are not two empty ones).
    for expected in [
        "gold ✓ ünïcode",
        "sealed-totp",
        "Some([137, 80, 78, 71, 0, 255])",
        "jti-revoked",
        "used: 42",
        "rate_limit: Some(2.5)",
        "failed_attempts: 1",
        "[48, 130, 255, 0, 254, 1]",
    ] {
        assert!(
            before.contains(expected),
            "{expected} missing from\n{before}"
        );
    }

    let settings = vec![("master_key_check".to_string(), "sealed-check".to_string())];
    let report = sqlite_to_postgres(&sqlite, &pg, &settings).await.unwrap();

    // Every table was copied and held at least one row: the fixture covers the whole schema.
    let names: Vec<&str> = report.tables.iter().map(|(t, _)| *t).collect();
    assert_eq!(names, TABLES.iter().map(|t| t.name).collect::<Vec<_>>());
    for (table, rows) in &report.tables {
        assert!(*rows > 0, "the fixture leaves {table} empty");
    }
    assert!(report.replaced_settings.is_empty());
    assert_eq!(
        pg.init_setting("master_key_check", "other").await.unwrap(),
        "sealed-check"
    );

    let after = read_all(&pg).await;
    for (b, a) in before.lines().zip(after.lines()) {
        assert_eq!(b, a);
    }
    assert_eq!(before, after);

    // The journal continues after the copied seq instead of reusing it.
    let copied = pg.revoked_families_since(0, NOW).await.unwrap();
    pg.put_refresh_token(&refresh("rt-later", "jti-later", None))
        .await
        .unwrap();
    let later = pg
        .revoke_token_family("rt-later", NOW, 300)
        .await
        .unwrap()
        .unwrap();
    assert!(later.seq > copied[0].seq, "{later:?} after {copied:?}");

    // A second copy into the same database is refused and changes nothing.
    let err = sqlite_to_postgres(&sqlite, &pg, &settings)
        .await
        .unwrap_err();
    match &err {
        TransferError::TargetNotEmpty(tables) => {
            assert!(tables.contains(&"users".to_string()), "{tables:?}")
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert_eq!(pg.count_users(POOL).await.unwrap(), 2);
    crate::postgres::testing::drop_schema(&pg, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_with_tables_or_columns_the_copy_does_not_know_is_refused_whole() {
    for (ddl, what) in [
        (
            "CREATE TABLE shiny_new_things (id TEXT PRIMARY KEY)",
            "table shiny_new_things",
        ),
        (
            "ALTER TABLE users ADD COLUMN shoe_size INTEGER",
            "column users.shoe_size",
        ),
    ] {
        let Some((pg, schema)) = crate::postgres::testing::store().await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let sqlite = filled_sqlite(dir.path()).await;
        rusqlite::Connection::open(sqlite.path())
            .unwrap()
            .execute_batch(ddl)
            .unwrap();
        let err = sqlite_to_postgres(&sqlite, &pg, &[]).await.unwrap_err();
        assert!(matches!(err, TransferError::UnknownSchema(_)), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        // Nothing arrived.
        assert!(pg
            .list_pools(&Page {
                limit: 10,
                after: None
            })
            .await
            .unwrap()
            .is_empty());
        crate::postgres::testing::drop_schema(&pg, &schema).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_the_target_cannot_hold_names_its_table_and_row_and_leaves_nothing() {
    let Some((pg, schema)) = crate::postgres::testing::store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = filled_sqlite(dir.path()).await;
    rusqlite::Connection::open(sqlite.path())
        .unwrap()
        .execute_batch("UPDATE groups SET doc = '{not json'")
        .unwrap();
    let err = sqlite_to_postgres(&sqlite, &pg, &[]).await.unwrap_err();
    assert!(err.to_string().starts_with("groups, row 1: doc:"), "{err}");
    assert!(pg
        .list_pools(&Page {
            limit: 10,
            after: None
        })
        .await
        .unwrap()
        .is_empty());
    crate::postgres::testing::drop_schema(&pg, &schema).await;
}
