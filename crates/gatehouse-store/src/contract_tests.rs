//! The store contract, held against every backend: each test is written once, generic over the
//! store, and `contract_tests!` instantiates it for SQLite and for PostgreSQL. Uniqueness is a
//! Conflict, missing rows are NotFound, deletes cascade, filters use the attribute index, codes
//! and sessions are single use under concurrency, per-user counters do not lose updates.
//!
//! The PostgreSQL run needs `GATEHOUSE_TEST_DATABASE_URL` (scripts/test starts a throwaway
//! cluster and sets it); without it those tests pass as skipped, unless
//! `GATEHOUSE_TEST_REQUIRE_POSTGRES` is set, which makes them fail instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::apis::{DeploymentSnapshot, HttpApi};
use crate::rest_apis::{RestApi, RestDeploymentSnapshot};
use crate::*;

/// The user-pool side both backends implement: all of `Store`, and `ApiKeyStore`. The API
/// side's tests ask for `ApiStore` (HTTP and REST APIs, domain names) or `DomainStore` directly.
pub(crate) trait Aggregates:
    PoolStore
    + ClientStore
    + UserStore
    + UserExtraStore
    + GroupStore
    + CodeStore
    + SessionStore
    + TokenStore
    + KeyStore
    + DeviceStore
    + OAuthConfigStore
    + ApiKeyStore
    + 'static
{
}

impl<T> Aggregates for T where
    T: PoolStore
        + ClientStore
        + UserStore
        + UserExtraStore
        + GroupStore
        + CodeStore
        + SessionStore
        + TokenStore
        + KeyStore
        + DeviceStore
        + OAuthConfigStore
        + ApiKeyStore
        + 'static
{
}

/// Instantiates each named contract test once per backend, as `<backend>::<name>`.
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store =
                        crate::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some((store, schema)) = crate::postgres::testing::store().await else {
                        return;
                    };
                    let store = std::sync::Arc::new(store);
                    super::$name(std::sync::Arc::clone(&store)).await;
                    crate::postgres::testing::drop_schema(&store, &schema).await;
                }
            )*
        }
    };
}

// Devices, OAuth configuration, API keys and usage plans (after the macro: they use it).
mod devices_oauth_keys;

contract_tests!(
    users_are_unique_and_filterable_by_index,
    pages_continue_after_the_last_key,
    deleting_a_pool_removes_everything_in_it,
    pools_and_clients_round_trip,
    deleting_a_client_drops_its_refresh_tokens,
    updating_a_user_reindexes_its_attributes,
    a_stale_user_write_is_refused,
    expired_refresh_tokens_are_purged_in_batches,
    deleting_a_user_removes_what_hangs_off_it,
    a_bulk_import_is_all_or_nothing,
    groups_order_by_precedence_and_membership_is_idempotent,
    a_code_is_consumed_by_exactly_one_caller,
    code_failures_count_and_a_new_code_replaces_the_old,
    a_session_is_taken_once,
    a_session_is_taken_once_under_concurrency,
    get_session_reads_without_consuming,
    expired_sessions_are_purged,
    refresh_token_scopes_round_trip,
    revoked_families_are_journaled_once_and_expire,
    concurrent_sign_outs_of_one_user_all_succeed,
    user_extra_updates_are_atomic_and_leave_the_rest_alone,
    signing_keys_round_trip,
    http_apis_and_their_snapshots_round_trip,
    api_listings_page_by_id_in_code_point_order,
    rest_apis_and_their_snapshots_round_trip,
    domain_names_are_unique_listed_in_order_and_updated,
    mapping_keys_are_unique_per_domain,
    mappings_are_found_by_api_and_go_with_their_domain,
);

pub(crate) fn pool(id: &str) -> UserPool {
    UserPool {
        id: id.into(),
        name: "p".into(),
        created: 1,
        modified: 1,
        password_policy: PasswordPolicy::default(),
        username_attributes: vec![],
        alias_attributes: vec![],
        auto_verified_attributes: vec![],
        schema: vec![],
        mfa_configuration: "OFF".into(),
        admin_create_user: AdminCreateUserConfig::default(),
        deletion_protection: false,
        username_case_sensitive: false,
        attributes_require_verification_before_update: vec![],
        settings: BTreeMap::new(),
    }
}

pub(crate) fn user(pool: &str, name: &str, email: &str) -> User {
    let mut attributes = BTreeMap::new();
    attributes.insert("email".to_string(), email.to_string());
    attributes.insert("sub".to_string(), format!("sub-{name}"));
    User {
        pool_id: pool.into(),
        username: name.into(),
        sub: format!("sub-{name}"),
        status: UserStatus::Confirmed,
        enabled: true,
        password_hash: None,
        temporary_password_expires: None,
        attributes,
        created: 1,
        modified: 1,
        extra: BTreeMap::new(),
        version: 0,
    }
}

fn client(pool: &str, id: &str) -> AppClient {
    AppClient {
        pool_id: pool.into(),
        client_id: id.into(),
        client_name: format!("client {id}"),
        client_secret: Some("s3cret".into()),
        created: 1,
        modified: 1,
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
        settings: BTreeMap::from([("AllowedOAuthFlows".into(), serde_json::json!(["code"]))]),
    }
}

fn group(pool: &str, name: &str, precedence: Option<i64>) -> Group {
    Group {
        pool_id: pool.into(),
        name: name.into(),
        description: None,
        role_arn: None,
        precedence,
        created: 1,
        modified: 1,
    }
}

fn code(sub: &str, purpose: &str, hash: &str) -> OneTimeCode {
    OneTimeCode {
        pool_id: "p1".into(),
        sub: sub.into(),
        purpose: purpose.into(),
        code_hash: hash.into(),
        expires: 100,
        failed_attempts: 0,
    }
}

fn session(id: &str, expires: i64) -> AuthSession {
    AuthSession {
        id_hash: id.into(),
        pool_id: "p1".into(),
        client_id: "c".into(),
        username: "alice".into(),
        challenge: "NEW_PASSWORD_REQUIRED".into(),
        expires,
        data: serde_json::json!({"k": 1, "nested": {"list": [1, "two", null]}}),
    }
}

fn refresh(hash: &str, sub: &str, origin: &str, expires: i64) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        pool_id: "p1".into(),
        client_id: "c".into(),
        sub: sub.into(),
        origin_jti: origin.into(),
        auth_time: 1,
        created: 1,
        expires,
        revoked: false,
        scopes: None,
    }
}

fn page(limit: usize) -> Page {
    Page { limit, after: None }
}

fn names(users: &[(String, User)]) -> Vec<&str> {
    users.iter().map(|(_, u)| u.username.as_str()).collect()
}

async fn with_alice<S: Aggregates>(s: &S) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
}

async fn users_are_unique_and_filterable_by_index<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
    s.insert_user(&user("p1", "bob", "b@x.com"), "bob")
        .await
        .unwrap();
    let dup = s
        .insert_user(&user("p1", "alice2", "c@x.com"), "alice")
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // The same sub twice is a conflict too.
    let mut same_sub = user("p1", "carol", "c@x.com");
    same_sub.sub = "sub-alice".into();
    assert!(matches!(
        s.insert_user(&same_sub, "carol").await,
        Err(StoreError::Conflict(_))
    ));
    // A failed insert leaves nothing behind in the index.
    assert!(s
        .find_users_by_attribute("p1", "email", "c@x.com")
        .await
        .unwrap()
        .is_empty());

    let eq = UserFilter::Equals {
        attribute: "email".into(),
        value: "b@x.com".into(),
    };
    let found = s.list_users("p1", Some(&eq), &page(10)).await.unwrap();
    assert_eq!(names(&found), ["bob"]);

    let pre = UserFilter::StartsWith {
        attribute: "email".into(),
        prefix: "a@".into(),
    };
    let found = s.list_users("p1", Some(&pre), &page(10)).await.unwrap();
    assert_eq!(names(&found), ["alice"]);

    let status = UserFilter::Equals {
        attribute: "cognito:user_status".into(),
        value: "CONFIRMED".into(),
    };
    assert_eq!(
        s.list_users("p1", Some(&status), &page(10))
            .await
            .unwrap()
            .len(),
        2
    );
    let enabled = UserFilter::Equals {
        attribute: "status".into(),
        value: "Enabled".into(),
    };
    assert_eq!(
        s.list_users("p1", Some(&enabled), &page(10))
            .await
            .unwrap()
            .len(),
        2
    );

    let by_name = UserFilter::StartsWith {
        attribute: "username".into(),
        prefix: "bo".into(),
    };
    assert_eq!(
        names(&s.list_users("p1", Some(&by_name), &page(10)).await.unwrap()),
        ["bob"]
    );
    let exact = UserFilter::Equals {
        attribute: "username".into(),
        value: "alice".into(),
    };
    assert_eq!(
        names(&s.list_users("p1", Some(&exact), &page(10)).await.unwrap()),
        ["alice"]
    );

    // Alias sign-in: by attribute value; by username key; by sub.
    let by_email = s
        .find_users_by_attribute("p1", "email", "a@x.com")
        .await
        .unwrap();
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0].username, "alice");
    assert_eq!(
        s.get_user("p1", "bob").await.unwrap().map(|u| u.sub),
        Some("sub-bob".to_string())
    );
    assert_eq!(
        s.get_user_by_sub("p1", "sub-bob")
            .await
            .unwrap()
            .map(|u| u.username),
        Some("bob".to_string())
    );
    assert_eq!(s.get_user("p2", "bob").await.unwrap(), None);
    assert_eq!(s.count_users("p1").await.unwrap(), 2);
}

async fn pages_continue_after_the_last_key<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    // Inserted out of order, and with keys whose order differs between byte order and
    // natural-language collations ("B" < "a" by code point).
    for name in ["u3", "u0", "B", "u6", "u1", "a", "u5", "u2", "u4"] {
        s.insert_user(&user("p1", name, &format!("{name}@x.com")), name)
            .await
            .unwrap();
    }
    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = s
            .list_users(
                "p1",
                None,
                &Page {
                    limit: 3,
                    after: after.clone(),
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(k, _)| k.clone());
        seen.extend(page.into_iter().map(|(_, u)| u.username));
    }
    assert_eq!(seen, ["B", "a", "u0", "u1", "u2", "u3", "u4", "u5", "u6"]);

    // Filtered listings page the same way.
    let filter = UserFilter::StartsWith {
        attribute: "email".into(),
        prefix: "u".into(),
    };
    let first = s.list_users("p1", Some(&filter), &page(4)).await.unwrap();
    assert_eq!(names(&first), ["u0", "u1", "u2", "u3"]);
    let rest = s
        .list_users(
            "p1",
            Some(&filter),
            &Page {
                limit: 4,
                after: first.last().map(|(k, _)| k.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&rest), ["u4", "u5", "u6"]);
}

async fn deleting_a_pool_removes_everything_in_it<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    s.insert_group(&group("p1", "g", None)).await.unwrap();
    s.add_member("p1", "g", "sub-alice").await.unwrap();
    s.insert_client(&client("p1", "c1")).await.unwrap();
    s.put_session(&session("sess", 10)).await.unwrap();
    s.put_refresh_token(&refresh("h1", "sub-alice", "o1", 100))
        .await
        .unwrap();
    s.put_code(&code("sub-alice", "signup", "h")).await.unwrap();
    s.delete_pool("p1").await.unwrap();
    assert!(s.get_pool("p1").await.unwrap().is_none());
    assert!(s
        .get_user_by_sub("p1", "sub-alice")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .find_users_by_attribute("p1", "email", "a@x.com")
        .await
        .unwrap()
        .is_empty());
    assert!(s.get_client("c1").await.unwrap().is_none());
    assert!(s.get_session("sess").await.unwrap().is_none());
    assert!(s.get_refresh_token("h1").await.unwrap().is_none());
    assert!(s
        .get_code("p1", "sub-alice", "signup")
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        s.delete_pool("p1").await,
        Err(StoreError::NotFound)
    ));
    // The pool can be made again from scratch.
    with_alice(&*s).await;
    assert!(s
        .groups_for_user("p1", "sub-alice")
        .await
        .unwrap()
        .is_empty());
}

async fn pools_and_clients_round_trip<S: Aggregates>(s: Arc<S>) {
    let mut p = pool("p1");
    p.settings
        .insert("UserPoolTags".into(), serde_json::json!({"team": "x"}));
    s.insert_pool(&p).await.unwrap();
    s.insert_pool(&pool("p0")).await.unwrap();
    assert!(matches!(
        s.insert_pool(&p).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_pool("p1").await.unwrap(), Some(p.clone()));
    p.name = "renamed".into();
    p.mfa_configuration = "OPTIONAL".into();
    s.update_pool(&p).await.unwrap();
    assert_eq!(s.get_pool("p1").await.unwrap(), Some(p.clone()));
    assert!(matches!(
        s.update_pool(&pool("nope")).await,
        Err(StoreError::NotFound)
    ));
    let ids: Vec<_> = s
        .list_pools(&page(10))
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["p0", "p1"]);
    let after_p0 = s
        .list_pools(&Page {
            limit: 10,
            after: Some("p0".into()),
        })
        .await
        .unwrap();
    assert_eq!(after_p0, [p]);

    let mut c = client("p1", "c2");
    s.insert_client(&c).await.unwrap();
    s.insert_client(&client("p1", "c1")).await.unwrap();
    s.insert_client(&client("p0", "c0")).await.unwrap();
    // Client ids are unique across pools.
    assert!(matches!(
        s.insert_client(&client("p0", "c2")).await,
        Err(StoreError::Conflict(_))
    ));
    // A client needs its pool.
    assert!(matches!(
        s.insert_client(&client("nope", "c9")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_client("c2").await.unwrap(), Some(c.clone()));
    c.client_name = "renamed".into();
    c.read_attributes = Some(vec!["email".into(), "custom:tier".into()]);
    s.update_client(&c).await.unwrap();
    assert_eq!(s.get_client("c2").await.unwrap(), Some(c.clone()));
    assert!(matches!(
        s.update_client(&client("p1", "nope")).await,
        Err(StoreError::NotFound)
    ));
    let ids: Vec<_> = s
        .list_clients("p1", &page(10))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["c1", "c2"]);
    s.delete_client("p1", "c2").await.unwrap();
    assert_eq!(s.get_client("c2").await.unwrap(), None);
    // Deleting through the wrong pool finds nothing.
    assert!(matches!(
        s.delete_client("p1", "c0").await,
        Err(StoreError::NotFound)
    ));
    assert!(s.get_client("c0").await.unwrap().is_some());
}

async fn deleting_a_client_drops_its_refresh_tokens<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    s.insert_client(&client("p1", "c")).await.unwrap();
    s.insert_client(&client("p1", "other")).await.unwrap();
    s.put_refresh_token(&refresh("h1", "sub-alice", "o1", 100))
        .await
        .unwrap();
    let mut t2 = refresh("h2", "sub-alice", "o2", 100);
    t2.client_id = "other".into();
    s.put_refresh_token(&t2).await.unwrap();
    s.delete_client("p1", "c").await.unwrap();
    assert_eq!(s.get_refresh_token("h1").await.unwrap(), None);
    assert_eq!(s.get_refresh_token("h2").await.unwrap(), Some(t2));
}

async fn updating_a_user_reindexes_its_attributes<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    let mut u = s.get_user("p1", "alice").await.unwrap().unwrap();
    u.attributes.insert("email".into(), "new@x.com".into());
    u.attributes.insert("custom:tier".into(), "gold".into());
    u.enabled = false;
    u.status = UserStatus::ResetRequired;
    u.password_hash = Some("$argon2id$v=19$...".into());
    u.extra
        .insert("mfa".into(), serde_json::json!({"totp": true}));
    s.update_user(&mut u).await.unwrap();
    assert_eq!(u.version, 1);
    assert_eq!(s.get_user("p1", "alice").await.unwrap(), Some(u.clone()));
    assert!(s
        .find_users_by_attribute("p1", "email", "a@x.com")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.find_users_by_attribute("p1", "email", "new@x.com")
            .await
            .unwrap(),
        [u.clone()]
    );
    assert_eq!(
        s.find_users_by_attribute("p1", "custom:tier", "gold")
            .await
            .unwrap(),
        [u.clone()]
    );
    for (attribute, value, hits) in [
        ("status", "Disabled", 1),
        ("status", "Enabled", 0),
        ("cognito:user_status", "RESET_REQUIRED", 1),
        ("cognito:user_status", "CONFIRMED", 0),
    ] {
        let f = UserFilter::Equals {
            attribute: attribute.into(),
            value: value.into(),
        };
        assert_eq!(
            s.list_users("p1", Some(&f), &page(10)).await.unwrap().len(),
            hits,
            "{attribute}={value}"
        );
    }
    assert!(matches!(
        s.update_user(&mut user("p1", "ghost", "g@x.com")).await,
        Err(StoreError::NotFound)
    ));
}

/// Two writers read the same version of a user: the first write wins, the second is `Stale`
/// and changes nothing; an atomic `extra` update also moves the version, so a whole-user write
/// read before it cannot undo it.
async fn a_stale_user_write_is_refused<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    let mut first = s.get_user("p1", "alice").await.unwrap().unwrap();
    let mut second = first.clone();
    first.enabled = false;
    s.update_user(&mut first).await.unwrap();
    second
        .attributes
        .insert("custom:tier".into(), "gold".into());
    assert!(matches!(
        s.update_user(&mut second).await,
        Err(StoreError::Stale)
    ));
    assert_eq!(
        second.version, 0,
        "a refused write leaves the caller's version"
    );
    let stored = s.get_user("p1", "alice").await.unwrap().unwrap();
    assert!(!stored.enabled);
    assert!(!stored.attributes.contains_key("custom:tier"));
    assert!(s
        .find_users_by_attribute("p1", "custom:tier", "gold")
        .await
        .unwrap()
        .is_empty());
    // Read again, redo: accepted.
    let mut again = stored;
    again.attributes.insert("custom:tier".into(), "gold".into());
    s.update_user(&mut again).await.unwrap();
    // Sequential writes of one copy are fine: the version follows the caller's copy.
    again.modified += 1;
    s.update_user(&mut again).await.unwrap();
    assert_eq!(again.version, 3);

    let mut before_extra = s.get_user("p1", "alice").await.unwrap().unwrap();
    s.update_user_extra(
        "p1",
        &before_extra.sub,
        "n",
        Box::new(|_| Some(serde_json::json!(1))),
    )
    .await
    .unwrap();
    before_extra.enabled = true;
    assert!(matches!(
        s.update_user(&mut before_extra).await,
        Err(StoreError::Stale)
    ));
    let stored = s.get_user("p1", "alice").await.unwrap().unwrap();
    assert_eq!(stored.extra.get("n"), Some(&serde_json::json!(1)));
    assert_eq!(stored.version, 4);
}

async fn deleting_a_user_removes_what_hangs_off_it<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    s.insert_user(&user("p1", "bob", "b@x.com"), "bob")
        .await
        .unwrap();
    s.insert_group(&group("p1", "g", None)).await.unwrap();
    s.add_member("p1", "g", "sub-alice").await.unwrap();
    s.add_member("p1", "g", "sub-bob").await.unwrap();
    s.put_code(&code("sub-alice", "signup", "h")).await.unwrap();
    s.put_refresh_token(&refresh("h1", "sub-alice", "o1", 100))
        .await
        .unwrap();
    s.delete_user("p1", "sub-alice").await.unwrap();
    assert_eq!(s.get_user("p1", "alice").await.unwrap(), None);
    assert!(s
        .find_users_by_attribute("p1", "email", "a@x.com")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        names(&s.users_in_group("p1", "g", &page(10)).await.unwrap()),
        ["bob"]
    );
    assert_eq!(s.get_code("p1", "sub-alice", "signup").await.unwrap(), None);
    assert_eq!(s.get_refresh_token("h1").await.unwrap(), None);
    assert!(matches!(
        s.delete_user("p1", "sub-alice").await,
        Err(StoreError::NotFound)
    ));
    // The username is free again.
    s.insert_user(&user("p1", "alice", "a@x.com"), "alice")
        .await
        .unwrap();
}

async fn a_bulk_import_is_all_or_nothing<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "taken", "t@x.com"), "taken")
        .await
        .unwrap();
    let batch: Vec<_> = (0..1200)
        .map(|i| {
            let name = format!("imp{i:04}");
            (user("p1", &name, &format!("{name}@x.com")), name)
        })
        .collect();
    // One clash at the end spoils the whole batch.
    let mut bad = batch.clone();
    bad.push((user("p1", "dup", "d@x.com"), "taken".into()));
    assert!(matches!(
        s.insert_users(&bad).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.count_users("p1").await.unwrap(), 1);
    assert!(s
        .find_users_by_attribute("p1", "email", "imp0001@x.com")
        .await
        .unwrap()
        .is_empty());

    s.insert_users(&batch).await.unwrap();
    assert_eq!(s.count_users("p1").await.unwrap(), 1201);
    assert_eq!(
        s.find_users_by_attribute("p1", "email", "imp1199@x.com")
            .await
            .unwrap()
            .len(),
        1
    );
    s.insert_users(&[]).await.unwrap();
}

async fn groups_order_by_precedence_and_membership_is_idempotent<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    for (name, precedence) in [
        ("z", Some(1)),
        ("none-b", None),
        ("a", Some(5)),
        ("none-a", None),
        ("m", Some(1)),
    ] {
        s.insert_group(&group("p1", name, precedence))
            .await
            .unwrap();
    }
    assert!(matches!(
        s.insert_group(&group("p1", "a", None)).await,
        Err(StoreError::Conflict(_))
    ));
    let mut g = group("p1", "a", Some(0));
    g.description = Some("admins".into());
    s.update_group(&g).await.unwrap();
    assert_eq!(s.get_group("p1", "a").await.unwrap(), Some(g));
    assert!(matches!(
        s.update_group(&group("p1", "nope", None)).await,
        Err(StoreError::NotFound)
    ));
    let listed: Vec<_> = s
        .list_groups("p1", &page(3))
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(listed, ["a", "m", "none-a"]);

    // Concurrent adds of the same member (two nodes): no error, one membership.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.add_member("p1", "z", "sub-alice").await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for name in ["none-b", "a", "none-a", "m"] {
        s.add_member("p1", name, "sub-alice").await.unwrap();
    }
    let order: Vec<_> = s
        .groups_for_user("p1", "sub-alice")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(order, ["a", "m", "z", "none-a", "none-b"]);
    assert_eq!(
        names(&s.users_in_group("p1", "z", &page(10)).await.unwrap()),
        ["alice"]
    );
    // A membership needs its user and its group.
    assert!(s.add_member("p1", "z", "sub-ghost").await.is_err());
    assert!(s.add_member("p1", "ghost", "sub-alice").await.is_err());

    s.remove_member("p1", "z", "sub-alice").await.unwrap();
    s.remove_member("p1", "z", "sub-alice").await.unwrap();
    assert!(s
        .users_in_group("p1", "z", &page(10))
        .await
        .unwrap()
        .is_empty());
    s.delete_group("p1", "a").await.unwrap();
    assert_eq!(s.get_group("p1", "a").await.unwrap(), None);
    assert_eq!(s.groups_for_user("p1", "sub-alice").await.unwrap().len(), 3);
    assert!(matches!(
        s.delete_group("p1", "a").await,
        Err(StoreError::NotFound)
    ));
}

async fn a_code_is_consumed_by_exactly_one_caller<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    for round in 0..5 {
        s.put_code(&code("sub-alice", "signup", "h")).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    s.consume_code("p1", "sub-alice", "signup", "h")
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
    // A wrong hash consumes nothing.
    s.put_code(&code("sub-alice", "signup", "h")).await.unwrap();
    assert!(!s
        .consume_code("p1", "sub-alice", "signup", "wrong")
        .await
        .unwrap());
    assert!(s
        .consume_code("p1", "sub-alice", "signup", "h")
        .await
        .unwrap());
}

async fn code_failures_count_and_a_new_code_replaces_the_old<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    let c = code("sub-alice", "forgot_password", "h1");
    s.put_code(&c).await.unwrap();
    assert_eq!(
        s.get_code("p1", "sub-alice", "forgot_password")
            .await
            .unwrap(),
        Some(c)
    );
    assert_eq!(
        s.record_code_failure("p1", "sub-alice", "forgot_password")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.record_code_failure("p1", "sub-alice", "forgot_password")
            .await
            .unwrap(),
        2
    );
    // No such code: nothing to count.
    assert_eq!(
        s.record_code_failure("p1", "sub-alice", "signup")
            .await
            .unwrap(),
        0
    );
    let replacement = code("sub-alice", "forgot_password", "h2");
    s.put_code(&replacement).await.unwrap();
    assert_eq!(
        s.get_code("p1", "sub-alice", "forgot_password")
            .await
            .unwrap(),
        Some(replacement)
    );
    s.delete_code("p1", "sub-alice", "forgot_password")
        .await
        .unwrap();
    s.delete_code("p1", "sub-alice", "forgot_password")
        .await
        .unwrap();
    assert_eq!(
        s.get_code("p1", "sub-alice", "forgot_password")
            .await
            .unwrap(),
        None
    );
    // A code needs its user.
    assert!(s.put_code(&code("sub-ghost", "signup", "h")).await.is_err());
}

async fn a_session_is_taken_once<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    let session = session("x", 10);
    s.put_session(&session).await.unwrap();
    assert!(matches!(
        s.put_session(&session).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.take_session("x").await.unwrap(), Some(session));
    assert_eq!(s.take_session("x").await.unwrap(), None);
}

async fn a_session_is_taken_once_under_concurrency<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.put_session(&session("x", 10)).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.take_session("x").await.unwrap() })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(taken, 1);
}

async fn get_session_reads_without_consuming<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    let session = AuthSession {
        id_hash: "abc".into(),
        pool_id: "p1".into(),
        client_id: "c".into(),
        username: "alice".into(),
        challenge: "HOSTED_SESSION".into(),
        expires: 100,
        data: serde_json::json!({ "auth_time": 5 }),
    };
    s.put_session(&session).await.unwrap();
    assert_eq!(s.get_session("abc").await.unwrap(), Some(session.clone()));
    assert_eq!(s.get_session("abc").await.unwrap(), Some(session.clone()));
    assert_eq!(s.take_session("abc").await.unwrap(), Some(session));
    assert_eq!(s.get_session("abc").await.unwrap(), None);
    assert_eq!(s.get_session("missing").await.unwrap(), None);
}

async fn expired_sessions_are_purged<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    for (id, expires) in [("a", 5), ("b", 9), ("c", 10), ("d", 50)] {
        s.put_session(&session(id, expires)).await.unwrap();
    }
    assert_eq!(s.purge_expired(10).await.unwrap(), 2);
    assert!(s.get_session("b").await.unwrap().is_none());
    assert!(s.get_session("c").await.unwrap().is_some());
    assert_eq!(s.purge_expired(10).await.unwrap(), 0);
}

async fn refresh_token_scopes_round_trip<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_user(&user("p1", "s1", "alice@example.com"), "s1")
        .await
        .unwrap();
    let mut t = refresh("h1", "sub-s1", "o1", 100);
    t.scopes = Some("openid pets/read".into());
    s.put_refresh_token(&t).await.unwrap();
    s.put_refresh_token(&refresh("h2", "sub-s1", "o2", 100))
        .await
        .unwrap();
    let got = s.get_refresh_token("h1").await.unwrap().unwrap();
    assert_eq!(got, t);
    assert_eq!(
        s.get_refresh_token("h2").await.unwrap().unwrap().scopes,
        None
    );
    assert!(matches!(
        s.put_refresh_token(&t).await,
        Err(StoreError::Conflict(_))
    ));
    s.revoke_refresh_token("h1").await.unwrap();
    assert!(s.get_refresh_token("h1").await.unwrap().unwrap().revoked);
    assert_eq!(
        s.revoke_user_refresh_tokens("p1", "sub-s1").await.unwrap(),
        1
    );
    assert_eq!(
        s.revoke_user_refresh_tokens("p1", "sub-s1").await.unwrap(),
        0
    );
}

/// Expired refresh tokens go in batches; live ones stay.
async fn expired_refresh_tokens_are_purged_in_batches<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    for i in 0..7 {
        s.put_refresh_token(&refresh(
            &format!("old{i}"),
            "sub-alice",
            &format!("o{i}"),
            100 + i,
        ))
        .await
        .unwrap();
    }
    s.put_refresh_token(&refresh("live", "sub-alice", "ol", 5000))
        .await
        .unwrap();
    s.put_refresh_token(&refresh("edge", "sub-alice", "oe", 1000))
        .await
        .unwrap();
    assert_eq!(s.purge_expired_refresh_tokens(1000, 3).await.unwrap(), 3);
    assert_eq!(s.purge_expired_refresh_tokens(1000, 3).await.unwrap(), 3);
    assert_eq!(s.purge_expired_refresh_tokens(1000, 3).await.unwrap(), 1);
    assert_eq!(s.purge_expired_refresh_tokens(1000, 3).await.unwrap(), 0);
    for i in 0..7 {
        assert!(s
            .get_refresh_token(&format!("old{i}"))
            .await
            .unwrap()
            .is_none());
    }
    // Expiring exactly at `before` is not yet expired before it.
    assert!(s.get_refresh_token("edge").await.unwrap().is_some());
    assert!(s.get_refresh_token("live").await.unwrap().is_some());
}

async fn revoked_families_are_journaled_once_and_expire<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    s.put_refresh_token(&refresh("h1", "sub-alice", "o1", 1000))
        .await
        .unwrap();
    s.put_refresh_token(&refresh("h2", "sub-alice", "o2", 2000))
        .await
        .unwrap();
    // Long expired, beyond the grace: nothing of that family can still be valid.
    s.put_refresh_token(&refresh("h3", "sub-alice", "o3", 10))
        .await
        .unwrap();

    assert_eq!(s.revoke_token_family("nope", 100, 50).await.unwrap(), None);
    let f = s.revoke_token_family("h1", 100, 50).await.unwrap().unwrap();
    assert_eq!((f.origin_jti.as_str(), f.expires), ("o1", 1050));
    assert_eq!(
        (f.pool_id.as_str(), f.sub.as_str(), f.revoked_at),
        ("p1", "sub-alice", 100)
    );
    assert!(s.get_refresh_token("h1").await.unwrap().unwrap().revoked);
    // Again: the same entry.
    let again = s.revoke_token_family("h1", 200, 50).await.unwrap().unwrap();
    assert_eq!(again.seq, f.seq);
    assert_eq!(again.revoked_at, 100);

    let all = s
        .revoke_user_token_families("p1", "sub-alice", 100, 50)
        .await
        .unwrap();
    let mut jtis: Vec<_> = all.iter().map(|f| f.origin_jti.as_str()).collect();
    jtis.sort();
    assert_eq!(jtis, ["o1", "o2"]);
    assert!(s.get_refresh_token("h2").await.unwrap().unwrap().revoked);

    let since = s.revoked_families_since(0, 100).await.unwrap();
    assert_eq!(since.len(), 2);
    assert!(since[0].seq < since[1].seq);
    assert!(s
        .revoked_families_since(since[1].seq, 100)
        .await
        .unwrap()
        .is_empty());
    // Past o1's expiry only o2 is live; the purge forgets o1.
    assert_eq!(s.revoked_families_since(0, 1500).await.unwrap().len(), 1);
    assert_eq!(s.purge_revoked_families(1500).await.unwrap(), 1);
    assert_eq!(s.revoked_families_since(0, 0).await.unwrap().len(), 1);

    // Many revocations at once: every entry is seen by a reader that follows seqs.
    let tokens: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
    for (i, t) in tokens.iter().enumerate() {
        s.put_refresh_token(&refresh(t, "sub-alice", &format!("f{i}"), 5000))
            .await
            .unwrap();
    }
    let last = s
        .revoked_families_since(0, 0)
        .await
        .unwrap()
        .last()
        .map_or(0, |f| f.seq);
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.revoke_token_family(&t, 300, 50).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_some());
    }
    assert_eq!(s.revoked_families_since(last, 300).await.unwrap().len(), 12);
}

/// GlobalSignOut on two nodes while tokens of the same user are revoked one by one: nothing
/// fails (no deadlock between overlapping revocations), every family is journaled once.
async fn concurrent_sign_outs_of_one_user_all_succeed<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    for i in 0..20 {
        s.put_refresh_token(&refresh(
            &format!("t{i}"),
            "sub-alice",
            &format!("f{i}"),
            5000,
        ))
        .await
        .unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                s.revoke_user_token_families("p1", "sub-alice", 100, 50)
                    .await
                    .map(|_| ())
            } else {
                s.revoke_token_family(&format!("t{}", 19 - i), 100, 50)
                    .await
                    .map(|_| ())
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let journal = s.revoked_families_since(0, 100).await.unwrap();
    assert_eq!(journal.len(), 20);
    for i in 0..20 {
        let t = s
            .get_refresh_token(&format!("t{i}"))
            .await
            .unwrap()
            .unwrap();
        assert!(t.revoked);
    }
}

async fn user_extra_updates_are_atomic_and_leave_the_rest_alone<S: Aggregates>(s: Arc<S>) {
    with_alice(&*s).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.update_user_extra(
                "p1",
                "sub-alice",
                "n",
                Box::new(|v| {
                    Some(serde_json::json!(
                        v.and_then(|v| v.as_i64()).unwrap_or(0) + 1
                    ))
                }),
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let u = s.get_user("p1", "alice").await.unwrap().unwrap();
    assert_eq!(u.extra.get("n"), Some(&serde_json::json!(20)));
    assert_eq!(
        u.attributes.get("email").map(String::as_str),
        Some("a@x.com")
    );
    s.update_user_extra("p1", "sub-alice", "n", Box::new(|_| None))
        .await
        .unwrap();
    assert!(!s
        .get_user("p1", "alice")
        .await
        .unwrap()
        .unwrap()
        .extra
        .contains_key("n"));
    assert!(matches!(
        s.update_user_extra("p1", "nobody", "n", Box::new(|_| None))
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn signing_keys_round_trip<S: Aggregates>(s: Arc<S>) {
    s.insert_pool(&pool("p1")).await.unwrap();
    s.insert_pool(&pool("p2")).await.unwrap();
    let k = |kid: &str, created: i64, active: bool| SigningKey {
        pool_id: "p1".into(),
        kid: kid.into(),
        private_pkcs8: vec![0, 1, 2, 255, 0, 7],
        created,
        active,
    };
    s.put_signing_key(&k("new", 20, true)).await.unwrap();
    s.put_signing_key(&k("old", 10, false)).await.unwrap();
    assert!(matches!(
        s.put_signing_key(&k("new", 30, true)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.signing_keys("p1").await.unwrap(),
        [k("old", 10, false), k("new", 20, true)]
    );
    assert!(s.signing_keys("p2").await.unwrap().is_empty());
    // Rotating keeps the old keys (they verify what they signed) with only the new one active.
    s.put_signing_key(&SigningKey {
        pool_id: "p2".into(),
        ..k("p2key", 5, true)
    })
    .await
    .unwrap();
    s.rotate_signing_key(&k("newer", 40, true)).await.unwrap();
    assert_eq!(
        s.signing_keys("p1").await.unwrap(),
        [
            k("old", 10, false),
            k("new", 20, false),
            k("newer", 40, true)
        ]
    );
    assert!(
        s.signing_keys("p2").await.unwrap()[0].active,
        "another pool's key changed"
    );
    // A kid taken: nothing changes.
    assert!(matches!(
        s.rotate_signing_key(&k("new", 50, true)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.signing_keys("p1").await.unwrap()[2], k("newer", 40, true));
}

fn http_api(id: &str) -> HttpApi {
    HttpApi {
        id: id.into(),
        name: format!("api {id}"),
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
            tls_config: Some(serde_json::json!({"ServerNameToVerify": "pets.test"})),
            ..Default::default()
        }],
        stages: vec![apis::Stage {
            name: "$default".into(),
            auto_deploy: true,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn http_snapshot(api: &HttpApi, deployment: &str) -> DeploymentSnapshot {
    DeploymentSnapshot {
        api_id: api.id.clone(),
        deployment_id: deployment.into(),
        cors: api.cors.clone(),
        routes: api.routes.clone(),
        integrations: api.integrations.clone(),
        authorizers: api.authorizers.clone(),
    }
}

fn rest_api(id: &str) -> RestApi {
    RestApi {
        id: id.into(),
        name: "pets".into(),
        api_key_source: "HEADER".into(),
        resources: vec![rest_apis::Resource {
            id: "root".into(),
            path: "/".into(),
            ..rest_apis::Resource::default()
        }],
        ..RestApi::default()
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| id(i).to_string()).collect()
}

async fn http_apis_and_their_snapshots_round_trip<S: ApiStore + 'static>(s: Arc<S>) {
    let mut api = http_api("abc123defg");
    s.insert_api(&api).await.unwrap();
    assert!(matches!(
        s.insert_api(&api).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_api("abc123defg").await.unwrap(), Some(api.clone()));
    assert_eq!(s.get_api("nope").await.unwrap(), None);

    api.name = "renamed".into();
    api.cors = Some(apis::Cors {
        allow_origins: vec!["https://app.test".into()],
        max_age: Some(600),
        ..Default::default()
    });
    api.deployments.push(apis::DeploymentInfo {
        id: "d1".into(),
        created: 5,
        status: "DEPLOYED".into(),
        ..Default::default()
    });
    s.update_api(&api).await.unwrap();
    assert_eq!(s.get_api("abc123defg").await.unwrap(), Some(api.clone()));
    assert!(matches!(
        s.update_api(&http_api("nope")).await,
        Err(StoreError::NotFound)
    ));

    // Snapshots are frozen copies, replaced only by the same deployment id.
    let d1 = http_snapshot(&api, "d1");
    s.put_snapshot(&d1).await.unwrap();
    api.routes.clear();
    s.update_api(&api).await.unwrap();
    let d2 = http_snapshot(&api, "d2");
    s.put_snapshot(&d2).await.unwrap();
    assert_eq!(
        s.get_snapshot("abc123defg", "d1").await.unwrap(),
        Some(d1.clone())
    );
    assert_eq!(
        s.get_snapshot("abc123defg", "d2").await.unwrap(),
        Some(d2.clone())
    );
    let mut d2b = d2.clone();
    d2b.cors = None;
    s.put_snapshot(&d2b).await.unwrap();
    assert_eq!(s.get_snapshot("abc123defg", "d2").await.unwrap(), Some(d2b));
    assert_eq!(s.get_snapshot("abc123defg", "d9").await.unwrap(), None);
    // A snapshot belongs to an API that exists.
    assert!(matches!(
        s.put_snapshot(&http_snapshot(&http_api("ghost"), "d1"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.delete_snapshot("abc123defg", "d2").await.unwrap();
    assert_eq!(s.get_snapshot("abc123defg", "d2").await.unwrap(), None);
    // Deleting a missing snapshot is not an error (deployments are deleted idempotently).
    s.delete_snapshot("abc123defg", "d2").await.unwrap();

    // Deleting the API takes its snapshots with it; a new API of that id starts clean.
    s.delete_api("abc123defg").await.unwrap();
    assert_eq!(s.get_api("abc123defg").await.unwrap(), None);
    assert!(matches!(
        s.delete_api("abc123defg").await,
        Err(StoreError::NotFound)
    ));
    s.insert_api(&http_api("abc123defg")).await.unwrap();
    assert_eq!(s.get_snapshot("abc123defg", "d1").await.unwrap(), None);
}

async fn api_listings_page_by_id_in_code_point_order<S: ApiStore + 'static>(s: Arc<S>) {
    // Code point order ("B" < "_" < "a"), whatever the database's locale.
    for id in ["a1", "_x", "B2", "a0"] {
        s.insert_api(&http_api(id)).await.unwrap();
        s.insert_rest_api(&rest_api(id)).await.unwrap();
    }
    let first = s.list_apis(&page(2)).await.unwrap();
    assert_eq!(ids(&first, |a| &a.id), ["B2", "_x"]);
    let rest = s
        .list_apis(&Page {
            limit: 10,
            after: Some("_x".into()),
        })
        .await
        .unwrap();
    assert_eq!(ids(&rest, |a| &a.id), ["a0", "a1"]);
    let all = s.list_rest_apis(&page(10)).await.unwrap();
    assert_eq!(ids(&all, |a| &a.id), ["B2", "_x", "a0", "a1"]);
    let after = s
        .list_rest_apis(&Page {
            limit: 1,
            after: Some("a0".into()),
        })
        .await
        .unwrap();
    assert_eq!(ids(&after, |a| &a.id), ["a1"]);
}

async fn rest_apis_and_their_snapshots_round_trip<S: ApiStore + 'static>(s: Arc<S>) {
    let mut api = rest_api("abc123defg");
    s.insert_rest_api(&api).await.unwrap();
    assert!(matches!(
        s.insert_rest_api(&api).await,
        Err(StoreError::Conflict(_))
    ));
    api.name = "renamed".into();
    api.extra.insert(
        "models".into(),
        serde_json::json!({"m1": {"name": "Pet", "schema": "{}"}}),
    );
    api.resources[0].methods.insert(
        "GET".into(),
        rest_apis::Method {
            http_method: "GET".into(),
            authorization_type: "COGNITO_USER_POOLS".into(),
            authorizer_id: Some("au1".into()),
            integration: Some(rest_apis::RestIntegration {
                integration_type: "MOCK".into(),
                request_templates: [(
                    "application/json".to_string(),
                    r#"{"statusCode": 200}"#.to_string(),
                )]
                .into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    s.update_rest_api(&api).await.unwrap();
    assert_eq!(
        s.get_rest_api("abc123defg").await.unwrap(),
        Some(api.clone())
    );
    assert!(matches!(
        s.update_rest_api(&rest_api("nope")).await,
        Err(StoreError::NotFound)
    ));
    let snap = RestDeploymentSnapshot {
        api_id: api.id.clone(),
        deployment_id: "d1".into(),
        api_key_source: "HEADER".into(),
        resources: api.resources.clone(),
        ..RestDeploymentSnapshot::default()
    };
    s.put_rest_snapshot(&snap).await.unwrap();
    assert_eq!(
        s.get_rest_snapshot("abc123defg", "d1").await.unwrap(),
        Some(snap.clone())
    );
    assert!(matches!(
        s.put_rest_snapshot(&RestDeploymentSnapshot {
            api_id: "ghost".into(),
            ..snap.clone()
        })
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.list_rest_apis(&page(10)).await.unwrap().len(), 1);
    // REST and HTTP APIs live apart.
    assert!(s.list_apis(&page(10)).await.unwrap().is_empty());
    assert_eq!(s.get_api("abc123defg").await.unwrap(), None);

    s.delete_rest_snapshot("abc123defg", "d1").await.unwrap();
    assert_eq!(s.get_rest_snapshot("abc123defg", "d1").await.unwrap(), None);
    s.put_rest_snapshot(&snap).await.unwrap();
    s.delete_rest_api("abc123defg").await.unwrap();
    assert_eq!(s.get_rest_api("abc123defg").await.unwrap(), None);
    assert_eq!(s.get_rest_snapshot("abc123defg", "d1").await.unwrap(), None);
    assert!(matches!(
        s.delete_rest_api("abc123defg").await,
        Err(StoreError::NotFound)
    ));
}

fn domain(name: &str) -> domains::DomainName {
    domains::DomainName {
        name: name.into(),
        configurations: vec![domains::DomainNameConfiguration {
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

fn mapping(domain: &str, id: &str, api: &str, stage: &str, key: &str) -> domains::ApiMapping {
    domains::ApiMapping {
        id: id.into(),
        domain_name: domain.into(),
        api_id: api.into(),
        stage: stage.into(),
        key: key.into(),
    }
}

async fn domain_names_are_unique_listed_in_order_and_updated<S: DomainStore + 'static>(s: Arc<S>) {
    s.insert_domain_name(&domain("b.example.test"))
        .await
        .unwrap();
    s.insert_domain_name(&domain("a.example.test"))
        .await
        .unwrap();
    s.insert_domain_name(&domain("*.example.test"))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_domain_name(&domain("a.example.test")).await,
        Err(StoreError::Conflict(_))
    ));
    // Code point order: `*` sorts before letters.
    let first = s.list_domain_names(&page(2)).await.unwrap();
    assert_eq!(
        ids(&first, |d| &d.name),
        ["*.example.test", "a.example.test"]
    );
    let rest = s
        .list_domain_names(&Page {
            limit: 10,
            after: Some("a.example.test".into()),
        })
        .await
        .unwrap();
    assert_eq!(ids(&rest, |d| &d.name), ["b.example.test"]);

    let mut d = domain("a.example.test");
    d.tags.insert("team".into(), "edge".into());
    d.mutual_tls = Some(domains::MutualTls {
        truststore_uri: "s3://bucket/truststore.pem".into(),
        truststore_version: None,
    });
    s.update_domain_name(&d).await.unwrap();
    assert_eq!(s.get_domain_name("a.example.test").await.unwrap(), Some(d));
    assert_eq!(s.get_domain_name("nope.example.test").await.unwrap(), None);
    assert!(matches!(
        s.update_domain_name(&domain("nope.example.test")).await,
        Err(StoreError::NotFound)
    ));
}

async fn mapping_keys_are_unique_per_domain<S: DomainStore + 'static>(s: Arc<S>) {
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
    // So is a taken id.
    assert!(matches!(
        s.insert_api_mapping(&mapping("a.example.test", "m1", "api2", "$default", "v9"))
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
    assert_eq!(
        s.get_api_mapping("b.example.test", "m2").await.unwrap(),
        None
    );
    assert!(matches!(
        s.update_api_mapping(&mapping("b.example.test", "m2", "api2", "prod", "x"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.insert_api_mapping(&mapping("none.example.test", "m9", "api1", "prod", ""))
            .await,
        Err(StoreError::NotFound)
    ));
    let listed = s.list_api_mappings("a.example.test").await.unwrap();
    assert_eq!(ids(&listed, |m| &m.id), ["m1", "m2"]);
    assert!(s
        .list_api_mappings("none.example.test")
        .await
        .unwrap()
        .is_empty());
}

async fn mappings_are_found_by_api_and_go_with_their_domain<S: DomainStore + 'static>(s: Arc<S>) {
    s.insert_domain_name(&domain("a.example.test"))
        .await
        .unwrap();
    s.insert_domain_name(&domain("b.example.test"))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("b.example.test", "m2", "api1", "dev", "dev"))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("a.example.test", "m1", "api1", "prod", ""))
        .await
        .unwrap();
    s.insert_api_mapping(&mapping("b.example.test", "m3", "api2", "prod", "other"))
        .await
        .unwrap();
    // Ordered by domain, then id.
    assert_eq!(
        s.api_mappings_to("api1", None).await.unwrap(),
        vec![
            mapping("a.example.test", "m1", "api1", "prod", ""),
            mapping("b.example.test", "m2", "api1", "dev", "dev"),
        ]
    );
    assert_eq!(
        s.api_mappings_to("api1", Some("prod")).await.unwrap(),
        vec![mapping("a.example.test", "m1", "api1", "prod", "")]
    );
    assert!(s
        .api_mappings_to("api1", Some("staging"))
        .await
        .unwrap()
        .is_empty());
    assert!(s.api_mappings_to("api3", None).await.unwrap().is_empty());
    let all = s.all_api_mappings().await.unwrap();
    assert_eq!(ids(&all, |m| &m.id), ["m1", "m2", "m3"]);

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
    // A domain created again under the name does not inherit the old mappings.
    s.insert_domain_name(&domain("b.example.test"))
        .await
        .unwrap();
    assert!(s
        .list_api_mappings("b.example.test")
        .await
        .unwrap()
        .is_empty());
}
