//! A pool's OAuth set-up: its prefix domain (CreateUserPoolDomain), resource servers
//! (CreateResourceServer, before the clients whose scopes name them) and the hosted pages'
//! look (SetUICustomization, for the pool and for single clients), through the Cognito
//! operations like the rest of the pool.

use gatehouse_cognito::WireError;
use gatehouse_core::Directory;
use serde_json::{json, Map, Value};

use super::{call, cognito_problem, is_not_found, Summary};
use crate::config::schema::{child, index};
use crate::config::{list, str_of, ConfigFile, EnvLookup, Problem};

/// CreateUserPoolDomain's input for the pool's `Domain`, if it declares one.
fn domain_input(
    file: &ConfigFile,
    pool: &Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
) -> Result<Option<Value>, Problem> {
    let Some(domain) = pool.get("Domain").and_then(Value::as_str) else {
        return Ok(None);
    };
    let domain = file.resolve_str(domain, &child(at, "Domain"), env, None)?;
    Ok(Some(json!({ "UserPoolId": pool_id, "Domain": domain })))
}

/// CreateResourceServer's inputs, in the file's order, with their locations and declarations.
fn server_inputs<'a>(
    file: &ConfigFile,
    pool: &'a Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
) -> Vec<(String, &'a Value, Result<Value, Problem>)> {
    let servers_at = child(at, "ResourceServers");
    list(pool, "ResourceServers")
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let sat = index(&servers_at, j);
            let input = file.resolve_tree(s, &sat, env, None).map(|v| {
                let mut m = v.as_object().cloned().unwrap_or_default();
                m.insert("UserPoolId".into(), json!(pool_id));
                Value::Object(m)
            });
            (sat, s, input)
        })
        .collect()
}

/// The pool's domain and resource servers on the throwaway store; every problem collected.
pub(super) async fn rehearse_before_clients(
    file: &ConfigFile,
    dir: &Directory,
    pool: &Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
    problems: &mut Vec<Problem>,
) {
    match domain_input(file, pool, pool_id, at, env) {
        Ok(Some(input)) => {
            if let Err(e) = call(dir, "CreateUserPoolDomain", input).await {
                problems.push(Problem::new(&child(at, "Domain"), e.to_string()));
            }
        }
        Ok(None) => {}
        Err(p) => problems.push(p),
    }
    for (sat, server, input) in server_inputs(file, pool, pool_id, at, env) {
        let result = match input {
            Ok(input) => call(dir, "CreateResourceServer", input)
                .await
                .map(|_| ())
                .map_err(|e| cognito_problem(&sat, server, &e)),
            Err(p) => Err(p),
        };
        if let Err(p) = result {
            problems.push(p);
        }
    }
}

/// Creates the pool's domain when it has none; a pool with another prefix domain is a
/// problem (a domain is never renamed or deleted by the file).
pub(super) async fn reconcile_domain(
    file: &ConfigFile,
    dir: &Directory,
    pool: &Value,
    pool_id: &str,
    at: &str,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let Some(input) = domain_input(file, pool, pool_id, at, env)? else {
        return Ok(());
    };
    let dat = child(at, "Domain");
    let wanted = str_of(&input, "Domain").to_string();
    let described = call(dir, "DescribeUserPool", json!({ "UserPoolId": pool_id }))
        .await
        .map_err(|e| Problem::new(&dat, e.to_string()))?;
    match described["UserPool"].get("Domain").and_then(Value::as_str) {
        Some(have) if have == wanted => summary.unchanged += 1,
        Some(have) => {
            return Err(Problem::new(
                &dat,
                format!(
                    "the pool {pool_id} has the domain '{have}', and a domain cannot be renamed: delete it with DeleteUserPoolDomain to use '{wanted}'"
                ),
            ))
        }
        None => {
            call(dir, "CreateUserPoolDomain", input)
                .await
                .map_err(|e| Problem::new(&dat, e.to_string()))?;
            summary.created(format!("domain {wanted} of pool {pool_id}"));
        }
    }
    Ok(())
}

async fn describe_server(
    dir: &Directory,
    pool_id: &str,
    identifier: &str,
) -> Result<Value, WireError> {
    let out = call(
        dir,
        "DescribeResourceServer",
        json!({ "UserPoolId": pool_id, "Identifier": identifier }),
    )
    .await?;
    let mut server = out["ResourceServer"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    server.remove("UserPoolId");
    Ok(Value::Object(server))
}

/// Each declared resource server is created when missing and updated (UpdateResourceServer:
/// name and scopes) when it differs from what the rehearsal made of it.
#[allow(clippy::too_many_arguments)]
pub(super) async fn reconcile_resource_servers(
    file: &ConfigFile,
    pool: &Value,
    pool_id: &str,
    sandbox: (&Directory, &str),
    real: &Directory,
    at: &str,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let (sandbox_dir, sandbox_pool) = sandbox;
    for (sat, server, input) in server_inputs(file, pool, pool_id, at, env) {
        let input = input?;
        let fail = |e: WireError| cognito_problem(&sat, server, &e);
        let identifier = str_of(&input, "Identifier").to_string();
        let what = format!("resource server {identifier} of pool {pool_id}");
        match describe_server(real, pool_id, &identifier).await {
            Err(e) if is_not_found(&e) => {
                call(real, "CreateResourceServer", input)
                    .await
                    .map_err(fail)?;
                summary.created(what);
            }
            Err(e) => return Err(fail(e)),
            Ok(have) => {
                let want = describe_server(sandbox_dir, sandbox_pool, &identifier)
                    .await
                    .map_err(fail)?;
                if want == have {
                    summary.unchanged += 1;
                } else {
                    call(real, "UpdateResourceServer", input)
                        .await
                        .map_err(fail)?;
                    summary.updated(what);
                }
            }
        }
    }
    Ok(())
}

/// Where a `UICustomization` applies: the whole pool (`None`) or one client (its index).
fn looks(pool: &Value, at: &str) -> Vec<(Option<usize>, String, Value)> {
    let mut out = Vec::new();
    if let Some(ui) = pool.get("UICustomization") {
        out.push((None, child(at, "UICustomization"), ui.clone()));
    }
    for (j, c) in list(pool, "clients").iter().enumerate() {
        if let Some(ui) = c.get("UICustomization") {
            let cat = index(&child(at, "clients"), j);
            out.push((Some(j), child(&cat, "UICustomization"), ui.clone()));
        }
    }
    out
}

/// SetUICustomization's input (`ImageFile` already holds the image's base64).
fn ui_input(
    file: &ConfigFile,
    ui: &Value,
    pool_id: &str,
    client_id: Option<&str>,
    uat: &str,
    env: &EnvLookup,
) -> Result<Value, Problem> {
    let resolved = file.resolve_tree(ui, uat, env, None)?;
    let mut m: Map<String, Value> = resolved.as_object().cloned().unwrap_or_default();
    m.insert("UserPoolId".into(), json!(pool_id));
    if let Some(c) = client_id {
        m.insert("ClientId".into(), json!(c));
    }
    Ok(Value::Object(m))
}

fn ui_problem(uat: &str, ui: &Value, e: &WireError) -> Problem {
    let p = cognito_problem(uat, ui, e);
    // Messages about the image are the ImageFile member's; the CSS ones the CSS member's.
    let msg = p.message.to_ascii_lowercase();
    if p.path == uat && msg.contains("image") {
        Problem::new(&child(uat, "ImageFile"), p.message)
    } else if p.path == uat && msg.contains("css") {
        Problem::new(&child(uat, "CSS"), p.message)
    } else {
        p
    }
}

/// The pool's and its clients' looks on the throwaway store (after the domain and clients).
#[allow(clippy::too_many_arguments)]
pub(super) async fn rehearse_ui(
    file: &ConfigFile,
    dir: &Directory,
    pool: &Value,
    pool_id: &str,
    clients: &[Option<String>],
    at: &str,
    env: &EnvLookup,
    problems: &mut Vec<Problem>,
) {
    for (j, uat, ui) in looks(pool, at) {
        let client = match j {
            None => None,
            Some(j) => match clients.get(j) {
                Some(Some(c)) => Some(c.as_str()),
                // The client was refused: its own problem is reported.
                _ => continue,
            },
        };
        let result = match ui_input(file, &ui, pool_id, client, &uat, env) {
            Ok(input) => call(dir, "SetUICustomization", input)
                .await
                .map(|_| ())
                .map_err(|e| ui_problem(&uat, &ui, &e)),
            Err(p) => Err(p),
        };
        if let Err(p) = result {
            problems.push(p);
        }
    }
}

/// What a customization looks like, for comparing: its CSS and its logo's version (the
/// URL's `v=`, a digest of the image), or `None` when the target has no look of its own.
async fn look_of(
    dir: &Directory,
    pool_id: &str,
    client_id: Option<&str>,
) -> Result<Option<(Value, Option<String>)>, WireError> {
    let mut input = json!({ "UserPoolId": pool_id });
    if let Some(c) = client_id {
        input["ClientId"] = json!(c);
    }
    let out = call(dir, "GetUICustomization", input).await?;
    let ui = &out["UICustomization"];
    // Without a look of its own, a client is shown the pool's: that is not the client's.
    let own = str_of(ui, "ClientId") == client_id.unwrap_or("ALL");
    if !own || ui.get("LastModifiedDate").is_none() {
        return Ok(None);
    }
    let version = ui
        .get("ImageUrl")
        .and_then(Value::as_str)
        .and_then(|u| u.rsplit_once("?v="))
        .map(|(_, v)| v.to_string());
    Ok(Some((
        ui.get("CSS").cloned().unwrap_or(Value::Null),
        version,
    )))
}

/// Sets each declared look where the real one differs from the rehearsal's.
#[allow(clippy::too_many_arguments)]
pub(super) async fn reconcile_ui(
    file: &ConfigFile,
    pool: &Value,
    pool_id: &str,
    clients: &[Option<String>],
    sandbox: (&Directory, &str, &[Option<String>]),
    real: &Directory,
    at: &str,
    env: &EnvLookup,
    summary: &mut Summary,
) -> Result<(), Problem> {
    let (sandbox_dir, sandbox_pool, sandbox_clients) = sandbox;
    for (j, uat, ui) in looks(pool, at) {
        let fail = |e: WireError| ui_problem(&uat, &ui, &e);
        let (client, sandbox_client) = match j {
            None => (None, None),
            Some(j) => {
                let real_id = clients.get(j).cloned().flatten();
                let sandbox_id = sandbox_clients.get(j).cloned().flatten();
                match (real_id, sandbox_id) {
                    (Some(r), Some(s)) => (Some(r), Some(s)),
                    _ => return Err(Problem::new(&uat, "the client of this look was not found")),
                }
            }
        };
        let want = look_of(sandbox_dir, sandbox_pool, sandbox_client.as_deref())
            .await
            .map_err(fail)?;
        let have = look_of(real, pool_id, client.as_deref())
            .await
            .map_err(fail)?;
        let what = match &client {
            None => format!("hosted UI customization of pool {pool_id}"),
            Some(c) => format!("hosted UI customization of client {c} of pool {pool_id}"),
        };
        if want.is_some() && want == have {
            summary.unchanged += 1;
            continue;
        }
        let input = ui_input(file, &ui, pool_id, client.as_deref(), &uat, env)?;
        call(real, "SetUICustomization", input)
            .await
            .map_err(fail)?;
        if have.is_none() {
            summary.created(what);
        } else {
            summary.updated(what);
        }
    }
    Ok(())
}
