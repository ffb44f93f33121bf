//! Applying a file. First a rehearsal: everything is created on a throwaway store through
//! the Cognito operations and the management API's functions, which reports every problem
//! with its location. Then, for real, each declared object is found (by its id, else by its
//! name), created when missing and updated when it differs from what the rehearsal made of
//! the file; objects the file does not declare are left alone. Re-applying an unchanged
//! file changes nothing.

mod apis;
mod domains;
mod oauth;
mod pools;

use std::collections::BTreeMap;

use gatehouse_cognito::{inproc, WireError};
use gatehouse_core::Directory;
use serde_json::{Map, Value};
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use crate::config::refs::Values;
use crate::config::schema::{child, index};
use crate::config::{list, str_of, ConfigFile, EnvLookup, Problem, Problems, Target};

#[cfg(test)]
use apis::api_routing;
use apis::{build_api, plan_api, reconcile_api};
use pools::{find_client, reconcile_pool, rehearse_pool, RehearsedPool};

/// What applying a file did, for the start-up log.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    /// OpenAPI import warnings (members the importer does not use).
    pub warnings: Vec<String>,
}

impl Summary {
    fn created(&mut self, what: String) {
        tracing::info!("config: created {what}");
        self.created.push(what);
    }
    fn updated(&mut self, what: String) {
        tracing::info!("config: updated {what}");
        self.updated.push(what);
    }
}

/// Rehearses `file` on `sandbox` and, when that finds no problem, applies it to `real`.
pub async fn apply(
    file: &ConfigFile,
    sandbox: &Target,
    real: Option<&Target>,
    env: &EnvLookup,
) -> Result<Summary, Problems> {
    let mut summary = Summary::default();
    // The rehearsal's own log lines (pools created on the throwaway store) would only mislead.
    let rehearsal = rehearse(file, sandbox, env, &mut summary)
        .with_subscriber(NoSubscriber::default())
        .await;
    if !rehearsal.problems.is_empty() {
        return Err(file.problems(rehearsal.problems));
    }
    if let Some(real) = real {
        reconcile(file, &rehearsal, sandbox, real, env, &mut summary)
            .await
            .map_err(|p| file.problems(vec![p]))?;
    }
    Ok(summary)
}

async fn call(dir: &Directory, op: &str, input: Value) -> Result<Value, WireError> {
    inproc::dispatch(dir, op, input).await
}

/// The location of a Cognito error: AWS names the member in camelCase
/// (`… at 'policies.passwordPolicy.minimumLength' …`), the file in PascalCase.
fn cognito_problem(path: &str, obj: &Value, e: &WireError) -> Problem {
    let msg = e.to_string();
    let mut at = path.to_string();
    let field = msg
        .split_once(" at '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(f, _)| f.to_string());
    if let Some(field) = field {
        let mut cur = obj;
        for seg in field.split('.') {
            // Lists: `scopes.1.member.scopeName` is `Scopes[0].ScopeName`.
            if seg == "member" {
                continue;
            }
            if let (Ok(n), Some(items)) = (seg.parse::<usize>(), cur.as_array()) {
                match n.checked_sub(1).and_then(|k| items.get(k).map(|x| (k, x))) {
                    Some((k, next)) => {
                        at = index(&at, k);
                        cur = next;
                        continue;
                    }
                    None => break,
                }
            }
            let mut chars = seg.chars();
            let pascal: String = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect();
            match cur.get(&pascal) {
                Some(next) => {
                    at = child(&at, &pascal);
                    cur = next;
                }
                None => break,
            }
        }
    }
    Problem::new(&at, msg)
}

/// `message` without `secret` (nor the first 64 characters AWS's messages quote of it).
fn redact(message: &str, secret: &str) -> String {
    if secret.is_empty() {
        return message.to_string();
    }
    let quoted: String = secret.chars().take(64).collect();
    message.replace(secret, "***").replace(&quoted, "***")
}

fn api_problem(path: &str, e: impl std::fmt::Display) -> Problem {
    Problem::new(path, e.to_string())
}

fn is_not_found(e: &WireError) -> bool {
    use gatehouse_core::Error;
    matches!(
        e,
        WireError::Domain(Error::ResourceNotFound(_)) | WireError::Domain(Error::UserNotFound(_))
    )
}

fn without(v: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut m = v.as_object().cloned().unwrap_or_default();
    for k in keys {
        m.remove(*k);
    }
    m
}

struct Rehearsal {
    pools: Vec<Option<RehearsedPool>>,
    problems: Vec<Problem>,
}

async fn rehearse(
    file: &ConfigFile,
    sandbox: &Target,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Rehearsal {
    let mut r = Rehearsal {
        pools: Vec::new(),
        problems: Vec::new(),
    };
    let dir = &*sandbox.dir;
    for (i, pool) in list(&file.doc, "userPools").iter().enumerate() {
        let at = index("userPools", i);
        let rehearsed = match rehearse_pool(file, dir, pool, &at, env, &mut r.problems).await {
            Ok(p) => Some(p),
            Err(p) => {
                r.problems.push(p);
                None
            }
        };
        r.pools.push(rehearsed);
    }
    let ids: Vec<_> = r
        .pools
        .iter()
        .map(|p| p.as_ref().map(|p| (p.id.clone(), p.clients.clone())))
        .collect();
    let values = values_of(file, dir, &ids);
    let mut api_ids = BTreeMap::new();
    for (i, api) in list(&file.doc, "apis").iter().enumerate() {
        let at = index("apis", i);
        let plan = match plan_api(file, api, &at, env, &values) {
            Ok(p) => p,
            Err(ps) => {
                r.problems.extend(ps);
                continue;
            }
        };
        summary.warnings.extend(plan.warnings.iter().cloned());
        match build_api(&sandbox.apis, &plan, &at).await {
            Ok(built) => {
                api_ids.insert(plan.name.clone(), built.id);
            }
            Err(ps) => r.problems.extend(ps),
        }
    }
    domains::rehearse_domain_names(file, &sandbox.apis, &api_ids, env, &mut r.problems).await;
    r
}

/// A pool's id and its clients' ids (in the file's order; `None` where one is unknown).
type PoolIds = (String, Vec<Option<String>>);

/// The values `${userPools…}` references stand for: each pool's id (when it has one) and its
/// clients' ids, in the order of the file.
fn values_of(file: &ConfigFile, dir: &Directory, ids: &[Option<PoolIds>]) -> Values {
    let mut v = Values::default();
    for (i, pool) in list(&file.doc, "userPools").iter().enumerate() {
        let Some(Some((id, clients))) = ids.get(i) else {
            continue;
        };
        let name = str_of(pool, "PoolName").to_string();
        for (j, c) in list(pool, "clients").iter().enumerate() {
            if let Some(Some(cid)) = clients.get(j) {
                v.clients.insert(
                    (name.clone(), str_of(c, "ClientName").to_string()),
                    cid.clone(),
                );
            }
        }
        v.pools.insert(
            name,
            (
                id.clone(),
                dir.config().pool_arn(id),
                dir.config().issuer(id),
            ),
        );
    }
    v
}

async fn reconcile(
    file: &ConfigFile,
    rehearsal: &Rehearsal,
    sandbox: &Target,
    real: &Target,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let mut real_ids = Vec::new();
    for (i, pool) in list(&file.doc, "userPools").iter().enumerate() {
        let at = index("userPools", i);
        let rehearsed = rehearsal
            .pools
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| Problem::new(&at, "the rehearsal of this pool failed"))?;
        let id = reconcile_pool(file, pool, rehearsed, sandbox, real, &at, env, summary).await?;
        real_ids.push(id);
    }
    let mut ids = Vec::new();
    for (i, pool) in list(&file.doc, "userPools").iter().enumerate() {
        let Some(pool_id) = real_ids.get(i) else {
            continue;
        };
        let mut clients = Vec::new();
        for c in list(pool, "clients") {
            let cid = find_client(&real.dir, pool_id, c)
                .await
                .map_err(|m| Problem::new(&index("userPools", i), m))?;
            clients.push(cid);
        }
        ids.push(Some((pool_id.clone(), clients)));
    }
    let values = values_of(file, &real.dir, &ids);
    let mut api_ids = BTreeMap::new();
    for (i, api) in list(&file.doc, "apis").iter().enumerate() {
        let at = index("apis", i);
        let plan = plan_api(file, api, &at, env, &values).map_err(first)?;
        let id = reconcile_api(&plan, sandbox, real, &at, summary).await?;
        api_ids.insert(plan.name.clone(), id);
    }
    domains::reconcile_domain_names(file, &sandbox.apis, &real.apis, &api_ids, env, summary).await
}

fn first(mut ps: Vec<Problem>) -> Problem {
    if ps.is_empty() {
        Problem::new("", "unknown problem")
    } else {
        ps.swap_remove(0)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::config::Sandbox;

    fn env(name: &str) -> Option<String> {
        (name == "TEST_PASSWORD").then(|| "Passw0rd-for-tests".to_string())
    }

    const FILE: &str = r#"
userPools:
  - PoolName: p
    Id: us-east-1_UnitTest1
    MfaConfiguration: OPTIONAL
    SoftwareTokenMfaConfiguration: {Enabled: true}
    clients: [{ClientName: web, ClientId: unittestclient1, ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH]}]
    groups: [{GroupName: g, Precedence: 2}]
    users: [{Username: u, Password: "${env:TEST_PASSWORD}", Groups: [g], UserAttributes: {email_verified: true}}]
apis:
  - name: a
    integrations: [{name: i, integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:9/{proxy}", integrationMethod: ANY, payloadFormatVersion: 1.0}]
    authorizers: [{name: j, authorizerType: JWT, identitySource: [$request.header.Authorization],
                   jwtConfiguration: {issuer: "${userPools.p.issuer}", audience: ["${userPools.p.clients.web.ClientId}"]}}]
    routes: [{routeKey: "GET /x", integration: i, authorizer: j}, {routeKey: "GET /y", integration: i}]
    stages: [{stageName: manual}, {stageName: $default, autoDeploy: true}]
"#;

    fn load(text: &str) -> ConfigFile {
        let doc = crate::config::parse_text(text, Path::new("t.yaml")).unwrap();
        ConfigFile::from_value(doc, Path::new("t.yaml"), "us-east-1", &env).unwrap()
    }

    async fn apply_to(file: &ConfigFile, real: &Target) -> Summary {
        let rehearsal = Sandbox::new("us-east-1", "http://gh.test").unwrap();
        apply(file, &rehearsal.target, Some(real), &env)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn applying_twice_changes_nothing_and_a_change_is_applied() {
        let real = Sandbox::new("us-east-1", "http://gh.test").unwrap();
        let file = load(FILE);
        let first = apply_to(&file, &real.target).await;
        assert_eq!(first.created.len(), 5, "{first:?}");
        let api = real
            .target
            .apis
            .list_apis(None, None)
            .await
            .unwrap()
            .0
            .remove(0);
        let auth = &api.authorizers[0];
        assert_eq!(
            auth.jwt_issuer.as_deref(),
            Some("http://gh.test/us-east-1_UnitTest1")
        );
        assert_eq!(auth.jwt_audience, vec!["unittestclient1".to_string()]);
        assert!(
            api.stages.iter().all(|s| s.deployment_id.is_some()),
            "{:?}",
            api.stages
        );

        let mfa = call(
            &real.target.dir,
            "GetUserPoolMfaConfig",
            json!({"UserPoolId": "us-east-1_UnitTest1"}),
        )
        .await
        .unwrap();
        assert_eq!(
            mfa["SoftwareTokenMfaConfiguration"]["Enabled"], true,
            "{mfa}"
        );
        assert_eq!(mfa["MfaConfiguration"], "OPTIONAL", "{mfa}");

        let second = apply_to(&file, &real.target).await;
        assert!(
            second.created.is_empty() && second.updated.is_empty(),
            "{second:?}"
        );
        assert_eq!(second.unchanged, 5);
        let again = real.target.apis.get_api(&api.id).await.unwrap();
        assert_eq!(again, api, "nothing moved, not even a date");

        let changed = load(
            &FILE
                .replace("Precedence: 2", "Precedence: 3")
                .replace("GET /y", "GET /z"),
        );
        let third = apply_to(&changed, &real.target).await;
        assert_eq!(third.updated.len(), 2, "{third:?}");
        let api = real.target.apis.get_api(&api.id).await.unwrap();
        assert!(api.routes.iter().any(|r| r.route_key == "GET /z"));
        let manual = api.stages.iter().find(|s| s.name == "manual").unwrap();
        let served = real
            .target
            .apis
            .api_as_deployed(&api.id, Some(&manual.name))
            .await
            .unwrap();
        assert_eq!(
            api_routing(&served),
            api_routing(&api),
            "the manual stage was redeployed"
        );
    }

    const OAUTH_FILE: &str = r#"
userPools:
  - PoolName: o
    Id: us-east-1_UnitOauth1
    Domain: unit-oauth
    ResourceServers: [{Identifier: orders, Name: Orders, Scopes: [{ScopeName: read, ScopeDescription: Read}]}]
    UICustomization: {CSS: ".banner-customizable { color: red; }"}
    clients:
      - {ClientName: svc, ClientId: unitoauthsvc1, GenerateSecret: true, AllowedOAuthFlowsUserPoolClient: true,
         AllowedOAuthFlows: [client_credentials], AllowedOAuthScopes: [orders/read],
         UICustomization: {CSS: ".logo-customizable { max-width: 50%; }"}}
apis:
  - name: a
    integrations: [{name: i, integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:9/{proxy}", integrationMethod: ANY}]
    routes: [{routeKey: "GET /x", integration: i}]
domainNames:
  - {domainName: Api.Example.com, apiMappings: [{api: a, stage: $default}, {api: a, stage: $default, apiMappingKey: v1}]}
"#;

    #[tokio::test]
    async fn oauth_sections_and_domain_names_are_applied_once() {
        let real = Sandbox::new("us-east-1", "http://gh.test").unwrap();
        let file = load(OAUTH_FILE);
        let first = apply_to(&file, &real.target).await;
        // pool, domain, resource server, client, two looks, API, domain name, two mappings
        assert_eq!(first.created.len(), 10, "{first:?}");
        let client = call(
            &real.target.dir,
            "DescribeUserPoolClient",
            json!({"UserPoolId": "us-east-1_UnitOauth1", "ClientId": "unitoauthsvc1"}),
        )
        .await
        .unwrap();
        assert_eq!(
            client["UserPoolClient"]["AllowedOAuthScopes"],
            json!(["orders/read"])
        );
        let mappings = real
            .target
            .apis
            .list_api_mappings("api.example.com", None, None)
            .await
            .unwrap()
            .0;
        assert_eq!(mappings.len(), 2);
        let second = apply_to(&file, &real.target).await;
        assert!(
            second.created.is_empty() && second.updated.is_empty(),
            "{second:?}"
        );
        assert_eq!(second.unchanged, 10);
        let changed = load(&OAUTH_FILE.replace("color: red", "color: blue").replace(
            "{ScopeName: read, ScopeDescription: Read}",
            "{ScopeName: read, ScopeDescription: Read them}",
        ));
        let third = apply_to(&changed, &real.target).await;
        assert_eq!(third.updated.len(), 2, "{third:?}");
        let e = apply_err(
            &load(&OAUTH_FILE.replace("Domain: unit-oauth", "Domain: unit-oauth-2")),
            &real.target,
        )
        .await;
        assert!(
            e[0].starts_with(
                "userPools[0].Domain: the pool us-east-1_UnitOauth1 has the domain 'unit-oauth'"
            ),
            "{e:?}"
        );
    }

    async fn apply_err(file: &ConfigFile, real: &Target) -> Vec<String> {
        let rehearsal = Sandbox::new("us-east-1", "http://gh.test").unwrap();
        match apply(file, &rehearsal.target, Some(real), &env).await {
            Ok(s) => panic!("applied: {s:?}"),
            Err(ps) => ps.list.iter().map(ToString::to_string).collect(),
        }
    }

    #[tokio::test]
    async fn what_cannot_change_or_cannot_be_told_apart_stops_with_a_clear_message() {
        let real = Sandbox::new("us-east-1", "http://gh.test").unwrap();
        let file = load(
            "userPools: [{PoolName: p, Id: us-east-1_UnitTest2, clients: [{ClientName: c, ClientId: unittestclient2, GenerateSecret: true}]}]",
        );
        apply_to(&file, &real.target).await;
        let e = apply_err(
            &load(
                "userPools: [{PoolName: p, Id: us-east-1_UnitTest2, UsernameAttributes: [email]}]",
            ),
            &real.target,
        )
        .await;
        assert!(
            e[0].starts_with("userPools[0].UsernameAttributes: differs from the existing pool us-east-1_UnitTest2, and UsernameAttributes cannot be changed"),
            "{e:?}"
        );
        let e = apply_err(
            &load("userPools: [{PoolName: p, Id: us-east-1_UnitTest2, clients: [{ClientName: c, ClientId: unittestclient2}]}]"),
            &real.target,
        )
        .await;
        assert!(
            e[0].starts_with("userPools[0].clients[0].GenerateSecret: differs from the existing client unittestclient2, whose secret cannot be changed"),
            "{e:?}"
        );
        // Two pools named alike: the file must say which by id.
        let dir = &real.target.dir;
        call(dir, "CreateUserPool", json!({"PoolName": "p"}))
            .await
            .unwrap();
        let e = apply_err(&load("userPools: [{PoolName: p}]"), &real.target).await;
        assert!(
            e[0].starts_with("userPools[0]: 2 user pools are named 'p'")
                && e[0].contains("give the pool's Id"),
            "{e:?}"
        );
        // A client id that belongs to another pool.
        let e = apply_err(
            &load(
                "userPools: [{PoolName: q, clients: [{ClientName: c, ClientId: unittestclient2}]}]",
            ),
            &real.target,
        )
        .await;
        assert!(
            e[0].contains("A user pool client with id unittestclient2 already exists (in pool us-east-1_UnitTest2)"),
            "{e:?}"
        );
    }

    #[test]
    fn cognito_errors_point_at_the_member_they_name() {
        let pool = serde_json::json!({"Policies": {"PasswordPolicy": {"MinimumLength": 3}}});
        let e = WireError::Domain(gatehouse_core::Error::InvalidParameter(
            "1 validation error detected: Value '3' at 'policies.passwordPolicy.minimumLength' failed".into(),
        ));
        let p = cognito_problem("userPools[0]", &pool, &e);
        assert_eq!(p.path, "userPools[0].Policies.PasswordPolicy.MinimumLength");
        assert!(p
            .message
            .starts_with("InvalidParameterException: 1 validation error"));
    }

    #[test]
    fn secrets_are_redacted_from_messages() {
        let long = "x".repeat(80);
        let msg = format!("Value '{}...' at 'password' failed", &long[..64]);
        assert_eq!(redact(&msg, &long), "Value '***...' at 'password' failed");
        assert_eq!(redact("Password too short", "abc"), "Password too short");
    }
}
