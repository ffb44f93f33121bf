//! Applying a file. First a rehearsal: everything is created on a throwaway store through
//! the Cognito operations and the management API's functions, which reports every problem
//! with its location. Then, for real, each declared object is found (by its id, else by its
//! name), created when missing and updated when it differs from what the rehearsal made of
//! the file; objects the file does not declare are left alone. Re-applying an unchanged
//! file changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_cognito::{inproc, WireError};
use gatehouse_core::apis::{
    ApiDefinition, ApiError, ApiInput, ApiService, ImportedRoute, RouteInput, StageInput,
};
use gatehouse_core::store::apis::{Authorizer, Cors, HttpApi, Integration, Route, Stage};
use gatehouse_core::Directory;
use serde_json::{json, Map, Value};
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::refs::Values;
use super::schema::{child, index, POOL_FILE_MEMBERS, POOL_MFA_MEMBERS};
use super::{list, str_of, ConfigFile, EnvLookup, Problem, Problems, Target};

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

// --- helpers -------------------------------------------------------------------------------

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

// --- rehearsal -----------------------------------------------------------------------------

struct RehearsedPool {
    id: String,
    clients: Vec<Option<String>>,
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
        if let Err(ps) = build_api(&sandbox.apis, &plan, &at).await {
            r.problems.extend(ps);
        }
    }
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

async fn rehearse_pool(
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

// --- APIs: what the file asks for, parsed by the management API's own parsers --------------

struct ApiPlan {
    name: String,
    api_id: Option<String>,
    /// CreateApi's members (name, description, version, CORS, tags, disableExecuteApiEndpoint).
    input: ApiInput,
    def: ApiDefinition,
    from_openapi: bool,
    stages: Vec<StageInput>,
    warnings: Vec<String>,
}

fn plan_api(
    file: &ConfigFile,
    api: &Value,
    at: &str,
    env: &EnvLookup,
    values: &Values,
) -> Result<ApiPlan, Vec<Problem>> {
    let api = file
        .resolve_tree(api, at, env, Some(values))
        .map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let base = without(
        &api,
        &[
            "apiId",
            "integrations",
            "authorizers",
            "routes",
            "openapi",
            "stages",
        ],
    );
    let mut input = gatehouse_mgmt::inproc::api(&base).map_err(|e| vec![api_problem(at, e)])?;
    input.protocol_type = Some("HTTP".into());
    let mut def = ApiDefinition::default();
    let mut warnings = Vec::new();
    let from_openapi = api.get("openapi").is_some();
    if let Some(doc) = api.get("openapi") {
        let oat = child(at, "openapi");
        let text = doc.to_string();
        match gatehouse_mgmt::inproc::openapi(&text) {
            Ok((d, w)) => {
                def = d;
                warnings.extend(w.into_iter().map(|w| format!("{oat}: {w}")));
            }
            Err(e) => problems.push(api_problem(&oat, e)),
        }
    } else {
        for (k, x) in list(&api, "integrations").iter().enumerate() {
            let m = without(x, &["name"]);
            match gatehouse_mgmt::inproc::integration(&m) {
                Ok(i) => def.integrations.push(i),
                Err(e) => problems.push(api_problem(&index(&child(at, "integrations"), k), e)),
            }
        }
        for (k, x) in list(&api, "authorizers").iter().enumerate() {
            match gatehouse_mgmt::inproc::authorizer(&without(x, &[])) {
                Ok(a) => def.authorizers.push(a),
                Err(e) => problems.push(api_problem(&index(&child(at, "authorizers"), k), e)),
            }
        }
        let integration_names: Vec<&str> = list(&api, "integrations")
            .iter()
            .map(|x| str_of(x, "name"))
            .collect();
        for (k, x) in list(&api, "routes").iter().enumerate() {
            match gatehouse_mgmt::inproc::route(&without(x, &["integration", "authorizer"])) {
                Ok(route) => def.routes.push(ImportedRoute {
                    route,
                    integration: x
                        .get("integration")
                        .and_then(Value::as_str)
                        .and_then(|n| integration_names.iter().position(|i| *i == n)),
                    authorizer: x
                        .get("authorizer")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }),
                Err(e) => problems.push(api_problem(&index(&child(at, "routes"), k), e)),
            }
        }
    }
    // The file's members win over the document's.
    def.api.name = input.name.clone();
    if input.description.is_some() {
        def.api.description = input.description.clone();
    }
    if input.version.is_some() {
        def.api.version = input.version.clone();
    }
    if input.cors.is_some() || !from_openapi {
        def.api.cors = input.cors.clone();
    }
    input.cors = def.api.cors.clone();
    let default_stage = [json!({ "stageName": "$default", "autoDeploy": true })];
    let stages: &[Value] = match api.get("stages") {
        Some(_) => list(&api, "stages"),
        None => &default_stage,
    };
    let mut stage_inputs = Vec::new();
    for (k, s) in stages.iter().enumerate() {
        match gatehouse_mgmt::inproc::stage(&without(s, &[])) {
            Ok(s) => stage_inputs.push(s),
            Err(e) => problems.push(api_problem(&index(&child(at, "stages"), k), e)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ApiPlan {
        name: str_of(&api, "name").to_string(),
        api_id: api.get("apiId").and_then(Value::as_str).map(str::to_string),
        input,
        def,
        from_openapi,
        stages: stage_inputs,
        warnings,
    })
}

/// Builds the planned API from scratch, piece by piece so a refusal names its piece. Used on
/// the sandbox: for the rehearsal, and to learn what the file makes of an API before
/// comparing it with the real one.
async fn build_api(apis: &ApiService, plan: &ApiPlan, at: &str) -> Result<HttpApi, Vec<Problem>> {
    let api = apis
        .create_api(plan.input.clone())
        .await
        .map_err(|e| vec![api_problem(at, e)])?;
    let id = api.id.clone();
    let mut problems = Vec::new();
    if plan.from_openapi {
        if let Err(e) = apis.reimport_api(&id, plan.def.clone()).await {
            problems.push(api_problem(&child(at, "openapi"), e));
        }
    } else {
        // Each piece on its own, so every refusal is reported; a route whose integration or
        // authorizer was refused is not tried (its own problem is already reported).
        let mut integration_ids = Vec::new();
        for (k, i) in plan.def.integrations.iter().enumerate() {
            match apis.create_integration(&id, i.clone()).await {
                Ok(created) => integration_ids.push(Some(created.id)),
                Err(e) => {
                    problems.push(api_problem(&index(&child(at, "integrations"), k), e));
                    integration_ids.push(None);
                }
            }
        }
        let mut authorizer_ids = BTreeMap::new();
        for (k, a) in plan.def.authorizers.iter().enumerate() {
            match apis.create_authorizer(&id, a.clone()).await {
                Ok(created) => {
                    authorizer_ids.insert(created.name.clone(), created.id);
                }
                Err(e) => problems.push(api_problem(&index(&child(at, "authorizers"), k), e)),
            }
        }
        for (k, r) in plan.def.routes.iter().enumerate() {
            let mut input: RouteInput = r.route.clone();
            if let Some(i) = r.integration {
                match integration_ids.get(i) {
                    Some(Some(i)) => input.target = Some(format!("integrations/{i}")),
                    _ => continue,
                }
            }
            if let Some(name) = &r.authorizer {
                match authorizer_ids.get(name) {
                    Some(a) => {
                        input.authorizer_id = Some(a.clone());
                        input.authorization_type = Some("JWT".into());
                    }
                    None => continue,
                }
            }
            if let Err(e) = apis.create_route(&id, input).await {
                problems.push(api_problem(&index(&child(at, "routes"), k), e));
            }
        }
    }
    for (k, s) in plan.stages.iter().enumerate() {
        if let Err(e) = create_stage(apis, &id, s).await {
            problems.push(api_problem(&index(&child(at, "stages"), k), e));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    apis.get_api(&id)
        .await
        .map_err(|e| vec![api_problem(at, e)])
}

/// CreateStage, then a deployment for a stage that does not deploy itself.
async fn create_stage(apis: &ApiService, api_id: &str, s: &StageInput) -> Result<(), ApiError> {
    let stage = apis.create_stage(api_id, s.clone()).await?;
    if !stage.auto_deploy {
        let api = apis.get_api(api_id).await?;
        if !api.routes.is_empty() {
            apis.create_deployment(api_id, Some(DEPLOYMENT_NOTE.into()), Some(stage.name))
                .await?;
        }
    }
    Ok(())
}

const DEPLOYMENT_NOTE: &str = "Deployed by the configuration file";

/// An API's routing with the generated ids replaced by what they point at, so two APIs built
/// from the same definition compare equal.
fn routing_view(
    cors: &Option<Cors>,
    routes: &[Route],
    integrations: &[Integration],
    authorizers: &[Authorizer],
) -> Value {
    let strip = |v: Value| -> Value {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("id");
        Value::Object(m)
    };
    let integration = |id: &str| {
        integrations
            .iter()
            .find(|i| i.id == id)
            .map(|i| strip(serde_json::to_value(i).unwrap_or_default()))
    };
    let mut route_views: Vec<(String, Value)> = routes
        .iter()
        .map(|r| {
            let mut v = strip(serde_json::to_value(r).unwrap_or_default());
            if let Some(m) = v.as_object_mut() {
                let target = r
                    .target
                    .as_deref()
                    .and_then(|t| t.strip_prefix("integrations/"))
                    .and_then(integration);
                m.insert("target".into(), target.unwrap_or(Value::Null));
                let auth = r
                    .authorizer_id
                    .as_deref()
                    .and_then(|id| authorizers.iter().find(|a| a.id == id))
                    .map(|a| Value::String(a.name.clone()));
                m.insert("authorizer_id".into(), auth.unwrap_or(Value::Null));
            }
            (r.route_key.clone(), v)
        })
        .collect();
    route_views.sort_by(|a, b| a.0.cmp(&b.0));
    let mut integration_views: Vec<String> = integrations
        .iter()
        .map(|i| strip(serde_json::to_value(i).unwrap_or_default()).to_string())
        .collect();
    integration_views.sort();
    let mut authorizer_views: Vec<(String, Value)> = authorizers
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                strip(serde_json::to_value(a).unwrap_or_default()),
            )
        })
        .collect();
    authorizer_views.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "cors": cors,
        "routes": route_views.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "integrations": integration_views,
        "authorizers": authorizer_views.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    })
}

fn api_routing(api: &HttpApi) -> Value {
    routing_view(&api.cors, &api.routes, &api.integrations, &api.authorizers)
}

/// A stage's declared settings (not its deployment or dates).
fn stage_view(s: &Stage) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for k in [
            "deployment_id",
            "created",
            "last_updated",
            "last_deployment_status_message",
        ] {
            m.remove(k);
        }
    }
    v
}

// --- the real apply ------------------------------------------------------------------------

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
    for (i, api) in list(&file.doc, "apis").iter().enumerate() {
        let at = index("apis", i);
        let plan = plan_api(file, api, &at, env, &values).map_err(first)?;
        reconcile_api(&plan, sandbox, real, &at, summary).await?;
    }
    Ok(())
}

fn first(mut ps: Vec<Problem>) -> Problem {
    if ps.is_empty() {
        Problem::new("", "unknown problem")
    } else {
        ps.swap_remove(0)
    }
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
async fn reconcile_pool(
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
async fn find_client(dir: &Directory, pool_id: &str, c: &Value) -> Result<Option<String>, String> {
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

async fn find_api(apis: &ApiService, plan: &ApiPlan) -> Result<Option<String>, String> {
    if let Some(id) = &plan.api_id {
        return match apis.get_api(id).await {
            Ok(_) => Ok(Some(id.clone())),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        };
    }
    let mut matching = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = apis
            .list_apis(Some(500), token)
            .await
            .map_err(|e| e.to_string())?;
        matching.extend(
            page.into_iter()
                .filter(|a| a.name == plan.name)
                .map(|a| a.id),
        );
        token = next;
        if token.is_none() {
            break;
        }
    }
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "{} APIs are named '{}' ({}): give the API's apiId in the file to say which",
            many.len(),
            plan.name,
            many.join(", ")
        )),
    }
}

async fn reconcile_api(
    plan: &ApiPlan,
    sandbox: &Target,
    real: &Target,
    at: &str,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let apis = &*real.apis;
    let fail = |e: ApiError| api_problem(at, e);
    // What the file makes of this API, built where it harms nothing.
    let want = build_api(&sandbox.apis, plan, at)
        .with_subscriber(NoSubscriber::default())
        .await
        .map_err(first)?;
    let what = |id: &str| format!("API {} ({id})", plan.name);
    let id = match find_api(apis, plan)
        .await
        .map_err(|m| Problem::new(at, m))?
    {
        None => {
            let mut input = plan.input.clone();
            input.cors = None;
            let api = match &plan.api_id {
                Some(id) => apis.create_api_with_id(id, input).await,
                None => apis.create_api(input).await,
            }
            .map_err(fail)?;
            apis.reimport_api(&api.id, plan.def.clone())
                .await
                .map_err(fail)?;
            for (k, s) in plan.stages.iter().enumerate() {
                create_stage(apis, &api.id, s)
                    .await
                    .map_err(|e| api_problem(&index(&child(at, "stages"), k), e))?;
            }
            summary.created(what(&api.id));
            api.id
        }
        Some(id) => {
            let have = apis.get_api(&id).await.map_err(fail)?;
            let mut changed = false;
            // Description and version are compared only when the file gives them:
            // UpdateApi cannot clear them.
            let differs = want.name != have.name
                || want.disable_execute_api_endpoint != have.disable_execute_api_endpoint
                || (want.description.is_some() && want.description != have.description)
                || (want.version.is_some() && want.version != have.version);
            if differs {
                let input = ApiInput {
                    name: Some(want.name.clone()),
                    description: want.description.clone(),
                    version: want.version.clone(),
                    disable_execute_api_endpoint: Some(want.disable_execute_api_endpoint),
                    ..ApiInput::default()
                };
                apis.update_api(&id, input).await.map_err(fail)?;
                changed = true;
            }
            if plan.input.tags.is_some() && want.tags != have.tags {
                let arn = format!(
                    "arn:aws:apigateway:{}::/apis/{id}",
                    real.dir.config().region
                );
                let removed: Vec<String> = have
                    .tags
                    .keys()
                    .filter(|k| !want.tags.contains_key(*k))
                    .cloned()
                    .collect();
                apis.tag_resource(&arn, want.tags.clone(), &removed)
                    .await
                    .map_err(fail)?;
                changed = true;
            }
            if api_routing(&want) != api_routing(&have) {
                apis.reimport_api(&id, plan.def.clone())
                    .await
                    .map_err(fail)?;
                changed = true;
            }
            for (k, s) in plan.stages.iter().enumerate() {
                let sat = index(&child(at, "stages"), k);
                let sfail = |e: ApiError| api_problem(&sat, e);
                let name = s.stage_name.clone().unwrap_or_default();
                let want_stage = want.stages.iter().find(|x| x.name == name);
                let have_api = apis.get_api(&id).await.map_err(fail)?;
                match have_api.stages.iter().find(|x| x.name == name) {
                    None => {
                        create_stage(apis, &id, s).await.map_err(sfail)?;
                        changed = true;
                    }
                    Some(have_stage) => {
                        let want_view = want_stage.map(stage_view);
                        if want_view.as_ref() != Some(&stage_view(have_stage)) {
                            let updated = apis
                                .update_stage(&id, &name, s.clone())
                                .await
                                .map_err(sfail)?;
                            if want_view.as_ref() != Some(&stage_view(&updated)) {
                                // Something was removed from the stage: UpdateStage only adds.
                                apis.delete_stage(&id, &name).await.map_err(sfail)?;
                                create_stage(apis, &id, s).await.map_err(sfail)?;
                            }
                            changed = true;
                        }
                    }
                }
            }
            if changed {
                summary.updated(what(&id));
            } else {
                summary.unchanged += 1;
            }
            id
        }
    };
    deploy_declared_stages(apis, &id, plan, at).await
}

/// Every declared stage serves the API as it now is: a stage that does not deploy itself
/// gets a deployment when its own is missing or out of date.
async fn deploy_declared_stages(
    apis: &ApiService,
    id: &str,
    plan: &ApiPlan,
    at: &str,
) -> Result<(), Problem> {
    let fail = |e: ApiError| api_problem(at, e);
    let api = apis.get_api(id).await.map_err(fail)?;
    if api.routes.is_empty() {
        return Ok(());
    }
    let current = api_routing(&api);
    let mut redeploy_auto = false;
    for s in &plan.stages {
        let name = s.stage_name.clone().unwrap_or_default();
        let Some(stage) = api.stages.iter().find(|x| x.name == name) else {
            continue;
        };
        let fresh = match stage.deployment_id {
            Some(_) => apis
                .api_as_deployed(id, Some(&name))
                .await
                .map(|d| api_routing(&d) == current)
                .unwrap_or(false),
            None => false,
        };
        if fresh {
            continue;
        }
        if stage.auto_deploy {
            redeploy_auto = true;
        } else {
            apis.create_deployment(id, Some(DEPLOYMENT_NOTE.into()), Some(name))
                .await
                .map_err(fail)?;
        }
    }
    if redeploy_auto {
        // Auto-deploying stages follow changes: re-applying the definition deploys them.
        apis.reimport_api(id, plan.def.clone())
            .await
            .map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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
