//! User pools, their clients, groups and users: rehearsed through the Cognito operations,
//! then found, created or brought in line on the real directory.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_cognito::{inproc, WireError};
use gatehouse_core::Directory;
use serde_json::{json, Map, Value};

use super::oauth;
use super::{call, cognito_problem, is_not_found, redact, without, Summary};
use crate::config::schema::{child, index, POOL_FILE_MEMBERS, POOL_MFA_MEMBERS};
use crate::config::{list, str_of, ConfigFile, EnvLookup, Problem, Target};

/// A user's attributes as `(name, value)`, from AWS's list or a mapping.
fn attributes(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| {
                (
                    str_of(a, "Name").to_string(),
                    str_of(a, "Value").to_string(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn attribute_list(pairs: &[(String, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({ "Name": k, "Value": v }))
            .collect(),
    )
}

/// A pool on the throwaway store: what the real one is compared with.
pub(super) struct RehearsedPool {
    pub id: String,
    pub clients: Vec<Option<String>>,
}

/// Creates the pool, its MFA factors, clients, groups and users on the throwaway store;
/// problems of the pool's children are collected, the pool's own is returned.
pub(super) async fn rehearse_pool(
    file: &ConfigFile,
    dir: &Directory,
    pool: &Value,
    at: &str,
    env: &EnvLookup,
    problems: &mut Vec<Problem>,
) -> Result<RehearsedPool, Problem> {
    let input = pool_input(file, pool, at, env)?;
    let out = call(dir, "CreateUserPool", input)
        .await
        .map_err(|e| cognito_problem(at, pool, &e))?;
    let id = out["UserPool"]["Id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    apply_mfa(file, dir, pool, &id, None, at, env).await?;
    oauth::rehearse_before_clients(file, dir, pool, &id, at, env, problems).await;
    let mut clients = Vec::new();
    for (j, c) in list(pool, "clients").iter().enumerate() {
        let cat = index(&child(at, "clients"), j);
        let created = async {
            let (input, _, _) = client_input(file, c, &id, &cat, env)?;
            let out = call(dir, "CreateUserPoolClient", input)
                .await
                .map_err(|e| cognito_problem(&cat, c, &e))?;
            Ok::<_, Problem>(
                out["UserPoolClient"]["ClientId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
        .await;
        match created {
            Ok(cid) => clients.push(Some(cid)),
            Err(p) => {
                problems.push(p);
                clients.push(None);
            }
        }
    }
    oauth::rehearse_ui(file, dir, pool, &id, &clients, at, env, problems).await;
    for (j, g) in list(pool, "groups").iter().enumerate() {
        let gat = index(&child(at, "groups"), j);
        if let Err(p) = create_group(file, dir, &id, g, &gat, env).await {
            problems.push(p);
        }
    }
    for (j, u) in list(pool, "users").iter().enumerate() {
        let uat = index(&child(at, "users"), j);
        let result = async {
            let u = file.resolve_tree(u, &uat, env, None)?;
            create_user(dir, &id, &u, &uat).await
        }
        .await;
        if let Err(p) = result {
            problems.push(p);
        }
    }
    Ok(RehearsedPool { id, clients })
}

/// CreateUserPool's input: the pool's members without the file's own.
fn pool_input(
    file: &ConfigFile,
    pool: &Value,
    at: &str,
    env: &EnvLookup,
) -> Result<Value, Problem> {
    let resolved = file.resolve_tree(pool, at, env, None)?;
    Ok(Value::Object(without(&resolved, POOL_FILE_MEMBERS)))
}

/// SetUserPoolMfaConfig's input when the pool declares MFA factors.
fn mfa_input(
    file: &ConfigFile,
    pool: &Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
) -> Result<Option<Value>, Problem> {
    if !POOL_MFA_MEMBERS.iter().any(|k| pool.get(*k).is_some()) {
        return Ok(None);
    }
    let resolved = file.resolve_tree(pool, at, env, None)?;
    let mut m: Map<String, Value> = POOL_MFA_MEMBERS
        .iter()
        .chain(&["MfaConfiguration"])
        .filter_map(|k| resolved.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    m.insert("UserPoolId".into(), json!(pool_id));
    Ok(Some(Value::Object(m)))
}

async fn pool_mfa(dir: &Directory, pool_id: &str) -> Result<Value, WireError> {
    call(
        dir,
        "GetUserPoolMfaConfig",
        json!({ "UserPoolId": pool_id }),
    )
    .await
}

/// Sets the pool's MFA factors as the file declares them; true when they changed.
async fn apply_mfa(
    file: &ConfigFile,
    dir: &Directory,
    pool: &Value,
    pool_id: &str,
    want: Option<(&Directory, &str)>,
    at: &str,
    env: &EnvLookup,
) -> Result<bool, Problem> {
    let Some(input) = mfa_input(file, pool, pool_id, at, env)? else {
        return Ok(false);
    };
    let fail = |e: WireError| cognito_problem(at, pool, &e);
    if let Some((sandbox, sandbox_id)) = want {
        let wanted = pool_mfa(sandbox, sandbox_id).await.map_err(fail)?;
        let current = pool_mfa(dir, pool_id).await.map_err(fail)?;
        if wanted == current {
            return Ok(false);
        }
    }
    call(dir, "SetUserPoolMfaConfig", input)
        .await
        .map_err(fail)?;
    Ok(true)
}

/// CreateUserPoolClient's input, and the client id and secret the file fixes.
fn client_input(
    file: &ConfigFile,
    c: &Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
) -> Result<(Value, Option<String>, Option<String>), Problem> {
    let resolved = file.resolve_tree(c, at, env, None)?;
    let id = resolved
        .get("ClientId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let secret = resolved
        .get("ClientSecret")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut m = without(&resolved, &["ClientId", "ClientSecret"]);
    if secret.is_some() {
        m.insert("GenerateSecret".into(), Value::Bool(true));
    }
    m.insert("UserPoolId".into(), json!(pool_id));
    Ok((Value::Object(m), id, secret))
}

fn group_input(
    file: &ConfigFile,
    g: &Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
) -> Result<Value, Problem> {
    let mut m = without(&file.resolve_tree(g, at, env, None)?, &[]);
    m.insert("UserPoolId".into(), json!(pool_id));
    Ok(Value::Object(m))
}

async fn create_group(
    file: &ConfigFile,
    dir: &Directory,
    pool_id: &str,
    g: &Value,
    at: &str,
    env: &EnvLookup,
) -> Result<(), Problem> {
    let input = group_input(file, g, pool_id, at, env)?;
    call(dir, "CreateGroup", input)
        .await
        .map_err(|e| cognito_problem(at, g, &e))?;
    Ok(())
}

/// AdminCreateUser (no message sent), then the permanent password, the enabled flag and the
/// group memberships. `u` is resolved.
async fn create_user(dir: &Directory, pool_id: &str, u: &Value, at: &str) -> Result<(), Problem> {
    let username = str_of(u, "Username");
    let fail = |e: WireError| cognito_problem(at, u, &e);
    call(
        dir,
        "AdminCreateUser",
        json!({
            "UserPoolId": pool_id,
            "Username": username,
            "UserAttributes": attribute_list(&attributes(u.get("UserAttributes"))),
            "MessageAction": "SUPPRESS",
        }),
    )
    .await
    .map_err(fail)?;
    if let Some(password) = u.get("Password").and_then(Value::as_str) {
        set_password(dir, pool_id, username, password, at, u).await?;
    }
    if u.get("Enabled") == Some(&Value::Bool(false)) {
        call(
            dir,
            "AdminDisableUser",
            json!({ "UserPoolId": pool_id, "Username": username }),
        )
        .await
        .map_err(fail)?;
    }
    for g in list(u, "Groups") {
        call(
            dir,
            "AdminAddUserToGroup",
            json!({ "UserPoolId": pool_id, "Username": username, "GroupName": g }),
        )
        .await
        .map_err(fail)?;
    }
    Ok(())
}

async fn set_password(
    dir: &Directory,
    pool_id: &str,
    username: &str,
    password: &str,
    at: &str,
    u: &Value,
) -> Result<(), Problem> {
    call(
        dir,
        "AdminSetUserPassword",
        json!({
            "UserPoolId": pool_id,
            "Username": username,
            "Password": password,
            "Permanent": true,
        }),
    )
    .await
    .map_err(|e| {
        // Policy messages name the rule, not the password; a length message would echo it.
        let p = cognito_problem(at, u, &e);
        Problem::new(&child(at, "Password"), redact(&p.message, password))
    })?;
    Ok(())
}

/// Every pool (`ListUserPools`, all pages).
async fn all_pools(dir: &Directory) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "MaxResults": 60 });
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(dir, "ListUserPools", input)
            .await
            .map_err(|e| e.to_string())?;
        out.extend(list(&page, "UserPools").iter().cloned());
        token = page
            .get("NextToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The real pool a declared one is: by `Id`, else by name (which must then be unambiguous).
async fn find_pool(dir: &Directory, pool: &Value) -> Result<Option<String>, String> {
    if let Some(id) = pool.get("Id").and_then(Value::as_str) {
        return match call(dir, "DescribeUserPool", json!({ "UserPoolId": id })).await {
            Ok(_) => Ok(Some(id.to_string())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    let name = str_of(pool, "PoolName");
    let matching: Vec<String> = all_pools(dir)
        .await?
        .iter()
        .filter(|p| str_of(p, "Name") == name)
        .map(|p| str_of(p, "Id").to_string())
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "{} user pools are named '{name}' ({}): give the pool's Id in the file to say which",
            many.len(),
            many.join(", ")
        )),
    }
}

async fn describe_pool(dir: &Directory, id: &str) -> Result<Value, WireError> {
    call(dir, "DescribeUserPool", json!({ "UserPoolId": id }))
        .await
        .map(|v| v["UserPool"].clone())
}

async fn describe_client(dir: &Directory, pool_id: &str, id: &str) -> Result<Value, WireError> {
    call(
        dir,
        "DescribeUserPoolClient",
        json!({ "UserPoolId": pool_id, "ClientId": id }),
    )
    .await
    .map(|v| v["UserPoolClient"].clone())
}

/// Members of DescribeUserPool that UpdateUserPool sets.
const POOL_UPDATABLE: &[&str] = &[
    "Name",
    "Policies",
    "DeletionProtection",
    "AutoVerifiedAttributes",
    "MfaConfiguration",
    "UserAttributeUpdateSettings",
    "AdminCreateUserConfig",
    "LambdaConfig",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "UserPoolTier",
];

/// Members fixed when a pool is created (as on AWS).
const POOL_FIXED: &[&str] = &[
    "UsernameAttributes",
    "AliasAttributes",
    "UsernameConfiguration",
];

#[allow(clippy::too_many_arguments)]
pub(super) async fn reconcile_pool(
    file: &ConfigFile,
    pool: &Value,
    rehearsed: &RehearsedPool,
    sandbox: &Target,
    real: &Target,
    at: &str,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<String, Problem> {
    let dir = &*real.dir;
    let name = str_of(pool, "PoolName");
    let input = pool_input(file, pool, at, env)?;
    let fail = |e: WireError| cognito_problem(at, pool, &e);
    let id = match find_pool(dir, pool)
        .await
        .map_err(|m| Problem::new(at, m))?
    {
        None => {
            let out = match pool.get("Id").and_then(Value::as_str) {
                Some(id) => inproc::create_user_pool_with_id(dir, id, input).await,
                None => call(dir, "CreateUserPool", input).await,
            }
            .map_err(fail)?;
            let id = str_of(&out["UserPool"], "Id").to_string();
            apply_mfa(file, dir, pool, &id, None, at, env).await?;
            summary.created(format!("user pool {name} ({id})"));
            id
        }
        Some(id) => {
            let want = describe_pool(&sandbox.dir, &rehearsed.id)
                .await
                .map_err(fail)?;
            let have = describe_pool(dir, &id).await.map_err(fail)?;
            for k in POOL_FIXED {
                if want.get(*k) != have.get(*k) {
                    return Err(Problem::new(
                        &child(at, k),
                        format!(
                            "differs from the existing pool {id}, and {k} cannot be changed once a pool exists (the pool has {})",
                            have.get(*k).unwrap_or(&Value::Null)
                        ),
                    ));
                }
            }
            let mut changed = false;
            let missing = missing_custom_attributes(&want, &have, &id, at)?;
            if !missing.is_empty() {
                call(
                    dir,
                    "AddCustomAttributes",
                    json!({ "UserPoolId": id, "CustomAttributes": missing }),
                )
                .await
                .map_err(fail)?;
                changed = true;
            }
            if POOL_UPDATABLE.iter().any(|k| want.get(*k) != have.get(*k)) {
                let mut update = without(
                    &input,
                    &[
                        "UsernameAttributes",
                        "AliasAttributes",
                        "UsernameConfiguration",
                        "Schema",
                    ],
                );
                update.insert("UserPoolId".into(), json!(id));
                call(dir, "UpdateUserPool", Value::Object(update))
                    .await
                    .map_err(fail)?;
                changed = true;
            }
            let sandbox_pool = Some((&*sandbox.dir, rehearsed.id.as_str()));
            if apply_mfa(file, dir, pool, &id, sandbox_pool, at, env).await? {
                changed = true;
            }
            if changed {
                summary.updated(format!("user pool {name} ({id})"));
            } else {
                summary.unchanged += 1;
            }
            id
        }
    };
    oauth::reconcile_domain(file, dir, pool, &id, at, env, summary).await?;
    let sandbox_pool = (&*sandbox.dir, rehearsed.id.as_str());
    oauth::reconcile_resource_servers(file, pool, &id, sandbox_pool, dir, at, env, summary).await?;
    for (j, c) in list(pool, "clients").iter().enumerate() {
        let cat = index(&child(at, "clients"), j);
        let rehearsed_client = rehearsed
            .clients
            .get(j)
            .and_then(Option::as_ref)
            .ok_or_else(|| Problem::new(&cat, "the rehearsal of this client failed"))?;
        reconcile_client(
            file,
            c,
            &id,
            &rehearsed.id,
            rehearsed_client,
            sandbox,
            real,
            &cat,
            env,
            summary,
        )
        .await?;
    }
    if let Some(ui_clients) = ui_clients(dir, pool, &id, at).await? {
        let sandbox_ui = (&*sandbox.dir, rehearsed.id.as_str(), &rehearsed.clients[..]);
        oauth::reconcile_ui(
            file,
            pool,
            &id,
            &ui_clients,
            sandbox_ui,
            dir,
            at,
            env,
            summary,
        )
        .await?;
    }
    for (j, g) in list(pool, "groups").iter().enumerate() {
        let gat = index(&child(at, "groups"), j);
        reconcile_group(file, g, &id, real, &gat, env, summary).await?;
    }
    for (j, u) in list(pool, "users").iter().enumerate() {
        let uat = index(&child(at, "users"), j);
        let u = file.resolve_tree(u, &uat, env, None)?;
        reconcile_user(&u, &id, real, &uat, summary).await?;
    }
    Ok(id)
}

/// The real ids of the pool's clients, when the pool or a client declares a UICustomization.
async fn ui_clients(
    dir: &Directory,
    pool: &Value,
    pool_id: &str,
    at: &str,
) -> Result<Option<Vec<Option<String>>>, Problem> {
    let clients = list(pool, "clients");
    let any = pool.get("UICustomization").is_some()
        || clients.iter().any(|c| c.get("UICustomization").is_some());
    if !any {
        return Ok(None);
    }
    let mut ids = Vec::new();
    for (j, c) in clients.iter().enumerate() {
        let id = if c.get("UICustomization").is_some() {
            find_client(dir, pool_id, c)
                .await
                .map_err(|m| Problem::new(&index(&child(at, "clients"), j), m))?
        } else {
            None
        };
        ids.push(id);
    }
    Ok(Some(ids))
}

/// Custom attributes the file declares that the pool lacks; one that exists with other
/// settings cannot be changed (as on AWS).
fn missing_custom_attributes(
    want: &Value,
    have: &Value,
    id: &str,
    at: &str,
) -> Result<Vec<Value>, Problem> {
    let have_attrs = list(have, "SchemaAttributes");
    let mut missing = Vec::new();
    for a in list(want, "SchemaAttributes") {
        let name = str_of(a, "Name");
        match have_attrs.iter().find(|h| str_of(h, "Name") == name) {
            None => missing.push(a.clone()),
            Some(h) if h != a => {
                return Err(Problem::new(
                    &child(at, "Schema"),
                    format!("attribute {name} differs from the existing pool {id}'s, and a schema attribute cannot be changed once it exists"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(missing)
}

async fn all_clients(dir: &Directory, pool_id: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "UserPoolId": pool_id, "MaxResults": 60 });
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = call(dir, "ListUserPoolClients", input)
            .await
            .map_err(|e| e.to_string())?;
        out.extend(list(&page, "UserPoolClients").iter().cloned());
        token = page
            .get("NextToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The real client a declared one is: by `ClientId`, else by name within the pool.
pub(super) async fn find_client(
    dir: &Directory,
    pool_id: &str,
    c: &Value,
) -> Result<Option<String>, String> {
    if let Some(id) = c.get("ClientId").and_then(Value::as_str) {
        return match call(
            dir,
            "DescribeUserPoolClient",
            json!({ "UserPoolId": pool_id, "ClientId": id }),
        )
        .await
        {
            Ok(_) => Ok(Some(id.to_string())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    let name = str_of(c, "ClientName");
    let matching: Vec<String> = all_clients(dir, pool_id)
        .await?
        .iter()
        .filter(|x| str_of(x, "ClientName") == name)
        .map(|x| str_of(x, "ClientId").to_string())
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "{} clients of pool {pool_id} are named '{name}' ({}): give the client's ClientId in the file to say which",
            many.len(),
            many.join(", ")
        )),
    }
}

/// DescribeUserPoolClient members that are not settings.
fn client_settings(v: &Value) -> Map<String, Value> {
    let mut m = without(v, &["UserPoolId", "ClientId", "ClientSecret"]);
    m.retain(|k, _| !k.ends_with("Date"));
    m
}

#[allow(clippy::too_many_arguments)]
async fn reconcile_client(
    file: &ConfigFile,
    c: &Value,
    pool_id: &str,
    sandbox_pool: &str,
    sandbox_client: &str,
    sandbox: &Target,
    real: &Target,
    at: &str,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let dir = &*real.dir;
    let name = str_of(c, "ClientName");
    let fail = |e: WireError| cognito_problem(at, c, &e);
    let (input, fixed_id, secret) = client_input(file, c, pool_id, at, env)?;
    match find_client(dir, pool_id, c)
        .await
        .map_err(|m| Problem::new(at, m))?
    {
        None => {
            let out = match &fixed_id {
                Some(id) => inproc::create_user_pool_client_with_id(dir, input, id, secret).await,
                None => call(dir, "CreateUserPoolClient", input).await,
            }
            .map_err(fail)?;
            summary.created(format!(
                "client {name} ({}) of pool {pool_id}",
                str_of(&out["UserPoolClient"], "ClientId")
            ));
        }
        Some(id) => {
            let want = describe_client(&sandbox.dir, sandbox_pool, sandbox_client)
                .await
                .map_err(fail)?;
            let have = describe_client(dir, pool_id, &id).await.map_err(fail)?;
            let has_secret = have.get("ClientSecret").and_then(Value::as_str);
            let wants_secret = input.get("GenerateSecret") == Some(&Value::Bool(true));
            let secret_ok = match (&secret, has_secret) {
                (Some(given), Some(existing)) => given == existing,
                (None, existing) => wants_secret == existing.is_some(),
                (Some(_), None) => false,
            };
            if !secret_ok {
                return Err(Problem::new(
                    &child(at, if secret.is_some() { "ClientSecret" } else { "GenerateSecret" }),
                    format!("differs from the existing client {id}, whose secret cannot be changed: delete the client or declare a new one"),
                ));
            }
            if client_settings(&want) != client_settings(&have) {
                let mut update = without(&input, &["GenerateSecret"]);
                update.insert("ClientId".into(), json!(id));
                call(dir, "UpdateUserPoolClient", Value::Object(update))
                    .await
                    .map_err(fail)?;
                summary.updated(format!("client {name} ({id}) of pool {pool_id}"));
            } else {
                summary.unchanged += 1;
            }
        }
    }
    Ok(())
}

async fn reconcile_group(
    file: &ConfigFile,
    g: &Value,
    pool_id: &str,
    real: &Target,
    at: &str,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let dir = &*real.dir;
    let name = str_of(g, "GroupName");
    let fail = |e: WireError| cognito_problem(at, g, &e);
    let input = group_input(file, g, pool_id, at, env)?;
    match call(
        dir,
        "GetGroup",
        json!({ "UserPoolId": pool_id, "GroupName": name }),
    )
    .await
    {
        Err(e) if is_not_found(&e) => {
            call(dir, "CreateGroup", input).await.map_err(fail)?;
            summary.created(format!("group {name} of pool {pool_id}"));
        }
        Err(e) => return Err(fail(e)),
        Ok(have) => {
            let have = &have["Group"];
            let differs = ["Description", "Precedence", "RoleArn"]
                .iter()
                .any(|k| input.get(*k).is_some() && input.get(*k) != have.get(*k));
            if differs {
                call(dir, "UpdateGroup", input).await.map_err(fail)?;
                summary.updated(format!("group {name} of pool {pool_id}"));
            } else {
                summary.unchanged += 1;
            }
        }
    }
    Ok(())
}

/// `u` is resolved.
async fn reconcile_user(
    u: &Value,
    pool_id: &str,
    real: &Target,
    at: &str,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let dir = &*real.dir;
    let username = str_of(u, "Username");
    let fail = |e: WireError| cognito_problem(at, u, &e);
    let ids = json!({ "UserPoolId": pool_id, "Username": username });
    let have = match call(dir, "AdminGetUser", ids.clone()).await {
        Err(e) if is_not_found(&e) => {
            create_user(dir, pool_id, u, at).await?;
            summary.created(format!("user {username} of pool {pool_id}"));
            return Ok(());
        }
        Err(e) => return Err(fail(e)),
        Ok(v) => v,
    };
    let mut changed = false;
    let current: BTreeMap<String, String> =
        attributes(have.get("UserAttributes")).into_iter().collect();
    let differing: Vec<(String, String)> = attributes(u.get("UserAttributes"))
        .into_iter()
        .filter(|(k, v)| current.get(k) != Some(v))
        .collect();
    if !differing.is_empty() {
        let mut input = ids.clone();
        input["UserAttributes"] = attribute_list(&differing);
        call(dir, "AdminUpdateUserAttributes", input)
            .await
            .map_err(fail)?;
        changed = true;
    }
    if let Some(password) = u.get("Password").and_then(Value::as_str) {
        let confirmed = str_of(&have, "UserStatus") == "CONFIRMED";
        let same = dir
            .admin_password_matches(pool_id, username, password)
            .await
            .map_err(|e| Problem::new(at, e.to_string()))?;
        if !confirmed || !same {
            set_password(dir, pool_id, username, password, at, u).await?;
            changed = true;
        }
    }
    // Only when the file says: a user disabled through the API (a compromised account) must
    // not come back to life because the server restarted.
    if let Some(enabled) = u.get("Enabled").and_then(Value::as_bool) {
        if have.get("Enabled").and_then(Value::as_bool) != Some(enabled) {
            let op = if enabled {
                "AdminEnableUser"
            } else {
                "AdminDisableUser"
            };
            call(dir, op, ids.clone()).await.map_err(fail)?;
            changed = true;
        }
    }
    if u.get("Groups").is_some() {
        let wanted: BTreeSet<String> = list(u, "Groups")
            .iter()
            .filter_map(|g| g.as_str().map(str::to_string))
            .collect();
        let mut member_of = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let mut input = ids.clone();
            input["Limit"] = json!(60);
            if let Some(t) = &token {
                input["NextToken"] = json!(t);
            }
            let page = call(dir, "AdminListGroupsForUser", input)
                .await
                .map_err(fail)?;
            member_of.extend(
                list(&page, "Groups")
                    .iter()
                    .map(|g| str_of(g, "GroupName").to_string()),
            );
            token = page
                .get("NextToken")
                .and_then(Value::as_str)
                .map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        for g in wanted.difference(&member_of) {
            let mut input = ids.clone();
            input["GroupName"] = json!(g);
            call(dir, "AdminAddUserToGroup", input)
                .await
                .map_err(fail)?;
            changed = true;
        }
        for g in member_of.difference(&wanted) {
            let mut input = ids.clone();
            input["GroupName"] = json!(g);
            call(dir, "AdminRemoveUserFromGroup", input)
                .await
                .map_err(fail)?;
            changed = true;
        }
    }
    if changed {
        summary.updated(format!("user {username} of pool {pool_id}"));
    } else {
        summary.unchanged += 1;
    }
    Ok(())
}
