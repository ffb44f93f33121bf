//! The declarative configuration file (`serve --config`, `gatehouse config check`): admin
//! access keys, user pools with their clients, groups and users, and HTTP APIs, in YAML or
//! JSON with AWS's member names. Reading and checking live here; `apply/` brings a store
//! in line with the file through the same adapter and domain code the APIs use, after a
//! rehearsal on a throwaway store (`sandbox.rs`) that is also what `config check` runs.
//! See docs/config.md.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)
)]

mod apply;
pub mod check;
mod refs;
mod sandbox;
mod schema;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use gatehouse_sigv4::Credentials;
use serde_json::{Map, Value};

pub use apply::apply;
pub use sandbox::{Sandbox, Target};

use refs::{Declared, Reference};
use schema::{child, index};

/// One thing wrong with a file, at a location like `userPools[0].clients[1].ExplicitAuthFlows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        Problem {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem of a file, one per line.
#[derive(Debug, Clone)]
pub struct Problems {
    pub file: PathBuf,
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list.len();
        write!(
            f,
            "configuration file {} has {n} problem{}:",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// A file that parsed and passed the checks that need no store.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    doc: Value,
    declared: Declared,
}

/// How values are read from the environment (`${env:NAME}`); a parameter so tests need not
/// change the process environment.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl ConfigFile {
    /// Reads, parses and checks a file: syntax, members and types, names, ids and references.
    pub fn load(path: &Path, region: &str, env: &EnvLookup) -> Result<ConfigFile, Problems> {
        let fail = |list: Vec<Problem>| Problems {
            file: path.to_path_buf(),
            list,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(vec![Problem::new("", format!("cannot read the file: {e}"))]))?;
        let doc = parse_text(&text, path).map_err(|p| fail(vec![p]))?;
        Self::from_value(doc, path, region, env).map_err(fail)
    }

    fn from_value(
        mut doc: Value,
        path: &Path,
        region: &str,
        env: &EnvLookup,
    ) -> Result<ConfigFile, Vec<Problem>> {
        if doc.is_null() {
            doc = Value::Object(Map::new());
        }
        let mut problems = Vec::new();
        if !doc.is_object() {
            return Err(vec![Problem::new(
                "",
                "the file must be a mapping with userPools, apis and adminCredentials",
            )]);
        }
        // Top-level `x-…` members are the author's: a place for YAML anchors to share.
        if let Some(m) = doc.as_object_mut() {
            m.retain(|k, _| !k.starts_with("x-"));
        }
        schema::check(
            &mut doc,
            schema::Shape::Obj(schema::FILE),
            "",
            &mut problems,
        );
        let base = path.parent().unwrap_or(Path::new("."));
        load_openapi_files(&mut doc, base, &mut problems);
        let declared = declared(&doc);
        check_names(&doc, region, &mut problems);
        check_references(&doc, &declared, env, &mut problems);
        if problems.is_empty() {
            Ok(ConfigFile {
                path: path.to_path_buf(),
                doc,
                declared,
            })
        } else {
            Err(problems)
        }
    }

    /// The admin access keys the file adds (secrets resolved from the environment).
    pub fn admin_credentials(&self, env: &EnvLookup) -> Result<Vec<Credentials>, Problems> {
        let mut out = Vec::new();
        for (i, c) in list(&self.doc, "adminCredentials").iter().enumerate() {
            let at = index("adminCredentials", i);
            let get = |k: &str| -> Result<String, Problems> {
                self.resolve_str(str_of(c, k), &child(&at, k), env, None)
                    .map_err(|p| self.problems(vec![p]))
            };
            out.push(Credentials {
                access_key_id: get("AccessKeyId")?,
                secret_access_key: get("SecretAccessKey")?,
            });
        }
        Ok(out)
    }

    pub fn counts(&self) -> String {
        let pools = list(&self.doc, "userPools");
        let n = |k: &str| pools.iter().map(|p| list(p, k).len()).sum::<usize>();
        format!(
            "{} user pools, {} clients, {} groups, {} users, {} APIs, {} admin keys",
            pools.len(),
            n("clients"),
            n("groups"),
            n("users"),
            list(&self.doc, "apis").len(),
            list(&self.doc, "adminCredentials").len()
        )
    }

    fn problems(&self, list: Vec<Problem>) -> Problems {
        Problems {
            file: self.path.clone(),
            list,
        }
    }

    /// A string member with its references resolved.
    fn resolve_str(
        &self,
        text: &str,
        path: &str,
        env: &EnvLookup,
        values: Option<&refs::Values>,
    ) -> Result<String, Problem> {
        refs::substitute(text, &self.declared, |r| refs::resolve(r, env, values))
            .map_err(|m| Problem::new(path, m))
    }

    /// A subtree with the references of every string in it resolved.
    fn resolve_tree(
        &self,
        v: &Value,
        path: &str,
        env: &EnvLookup,
        values: Option<&refs::Values>,
    ) -> Result<Value, Problem> {
        Ok(match v {
            Value::String(s) => Value::String(self.resolve_str(s, path, env, values)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.resolve_tree(x, &index(path, i), env, values))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        Ok((
                            k.clone(),
                            self.resolve_tree(x, &child(path, k), env, values)?,
                        ))
                    })
                    .collect::<Result<_, Problem>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// YAML, or JSON for `.json` files (JSON's own parser gives the better messages there).
pub(crate) fn parse_text(text: &str, path: &Path) -> Result<Value, Problem> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_str(text).map_err(|e| Problem::new("", format!("invalid JSON: {e}")))
    } else {
        let invalid = |e: serde_yaml::Error| Problem::new("", format!("invalid YAML: {e}"));
        let mut v: serde_yaml::Value = serde_yaml::from_str(text).map_err(invalid)?;
        // `<<: *anchor` merge keys, so shared settings can be written once.
        v.apply_merge().map_err(invalid)?;
        serde_json::to_value(v).map_err(|e| Problem::new("", format!("invalid YAML: {e}")))
    }
}

pub(crate) fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `openapi: path/to/doc.yaml` is read (relative to the file) into the document, so its
/// references are checked and resolved like the rest.
fn load_openapi_files(doc: &mut Value, base: &Path, problems: &mut Vec<Problem>) {
    let Some(apis) = doc.get_mut("apis").and_then(Value::as_array_mut) else {
        return;
    };
    for (i, api) in apis.iter_mut().enumerate() {
        let Some(slot) = api.get_mut("openapi") else {
            continue;
        };
        let Some(rel) = slot.as_str().map(str::to_string) else {
            continue;
        };
        let at = child(&index("apis", i), "openapi");
        let file = base.join(&rel);
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse_text(&text, &file) {
                Ok(v) if v.is_object() => *slot = v,
                Ok(_) => problems.push(Problem::new(
                    &at,
                    format!("{rel} is not an OpenAPI document (a mapping)"),
                )),
                Err(p) => problems.push(Problem::new(&at, format!("{rel}: {}", p.message))),
            },
            Err(e) => problems.push(Problem::new(&at, format!("cannot read {rel}: {e}"))),
        }
    }
}

fn declared(doc: &Value) -> Declared {
    let mut d = Declared::default();
    for p in list(doc, "userPools") {
        let clients = list(p, "clients")
            .iter()
            .map(|c| str_of(c, "ClientName").to_string())
            .collect();
        d.pools.insert(str_of(p, "PoolName").to_string(), clients);
    }
    d
}

/// Reports a name (or id) used twice in one list.
fn unique<'a>(
    items: impl Iterator<Item = (String, &'a str)>,
    member: &str,
    what: &str,
    problems: &mut Vec<Problem>,
) {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (path, name) in items {
        if name.is_empty() {
            continue;
        }
        match seen.get(name) {
            Some(first) => problems.push(Problem::new(
                &child(&path, member),
                format!("duplicate {what} '{name}' (also at {first})"),
            )),
            None => {
                seen.insert(name, path);
            }
        }
    }
}

/// Names and ids: unique where they identify something, ids in AWS's shapes, and what a
/// user's groups and a route's integration / authorizer name declared in the file.
fn check_names(doc: &Value, region: &str, problems: &mut Vec<Problem>) {
    let creds = list(doc, "adminCredentials");
    unique(
        creds
            .iter()
            .enumerate()
            .map(|(i, c)| (index("adminCredentials", i), str_of(c, "AccessKeyId"))),
        "AccessKeyId",
        "access key id",
        problems,
    );
    for (i, c) in creds.iter().enumerate() {
        let at = index("adminCredentials", i);
        let id = str_of(c, "AccessKeyId");
        let ok = (16..=128).contains(&id.len())
            && id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !id.is_empty() && !id.contains("${") && !ok {
            problems.push(Problem::new(
                &child(&at, "AccessKeyId"),
                "an access key id is 16 to 128 letters, digits or '_'",
            ));
        }
        let secret = str_of(c, "SecretAccessKey");
        if !secret.is_empty() && !secret.contains("${") && secret.chars().count() < 16 {
            problems.push(Problem::new(
                &child(&at, "SecretAccessKey"),
                "a secret access key has at least 16 characters",
            ));
        }
    }

    let pools = list(doc, "userPools");
    unique(
        pools
            .iter()
            .enumerate()
            .map(|(i, p)| (index("userPools", i), str_of(p, "PoolName"))),
        "PoolName",
        "user pool name",
        problems,
    );
    unique(
        pools
            .iter()
            .enumerate()
            .map(|(i, p)| (index("userPools", i), str_of(p, "Id"))),
        "Id",
        "user pool id",
        problems,
    );
    unique(
        pools.iter().enumerate().flat_map(|(i, p)| {
            list(p, "clients").iter().enumerate().map(move |(j, c)| {
                (
                    index(&child(&index("userPools", i), "clients"), j),
                    str_of(c, "ClientId"),
                )
            })
        }),
        "ClientId",
        "client id",
        problems,
    );
    for (i, p) in pools.iter().enumerate() {
        let at = index("userPools", i);
        if let Some(id) = p.get("Id").and_then(Value::as_str) {
            if let Err(e) = gatehouse_core::pools::check_pool_id(id, region) {
                problems.push(Problem::new(&child(&at, "Id"), e.to_string()));
            }
        }
        let clients = list(p, "clients");
        let clients_at = child(&at, "clients");
        unique(
            clients
                .iter()
                .enumerate()
                .map(|(j, c)| (index(&clients_at, j), str_of(c, "ClientName"))),
            "ClientName",
            "client name",
            problems,
        );
        for (j, c) in clients.iter().enumerate() {
            let cat = index(&clients_at, j);
            if let Some(id) = c.get("ClientId").and_then(Value::as_str) {
                if let Err(e) = gatehouse_core::clients::check_client_id(id) {
                    problems.push(Problem::new(&child(&cat, "ClientId"), e.to_string()));
                }
            }
            if let Some(secret) = c.get("ClientSecret").and_then(Value::as_str) {
                if !secret.contains("${") {
                    if let Err(e) = gatehouse_core::clients::check_client_secret(secret) {
                        problems.push(Problem::new(&child(&cat, "ClientSecret"), e.to_string()));
                    }
                }
                if c.get("GenerateSecret") == Some(&Value::Bool(false)) {
                    problems.push(Problem::new(
                        &child(&cat, "GenerateSecret"),
                        "false, but a ClientSecret is given: a client with a secret has GenerateSecret true (or leave it out)",
                    ));
                }
            }
        }
        let groups = list(p, "groups");
        let groups_at = child(&at, "groups");
        unique(
            groups
                .iter()
                .enumerate()
                .map(|(j, g)| (index(&groups_at, j), str_of(g, "GroupName"))),
            "GroupName",
            "group name",
            problems,
        );
        let group_names: BTreeSet<&str> = groups.iter().map(|g| str_of(g, "GroupName")).collect();
        let users = list(p, "users");
        let users_at = child(&at, "users");
        unique(
            users
                .iter()
                .enumerate()
                .map(|(j, u)| (index(&users_at, j), str_of(u, "Username"))),
            "Username",
            "username",
            problems,
        );
        for (j, u) in users.iter().enumerate() {
            for (k, g) in list(u, "Groups").iter().enumerate() {
                let g = g.as_str().unwrap_or("");
                if !group_names.contains(g) {
                    problems.push(Problem::new(
                        &index(&child(&index(&users_at, j), "Groups"), k),
                        format!(
                            "group '{g}' is not declared in {groups_at} (declared: {})",
                            names(&group_names)
                        ),
                    ));
                }
            }
        }
    }

    let apis = list(doc, "apis");
    unique(
        apis.iter()
            .enumerate()
            .map(|(i, a)| (index("apis", i), str_of(a, "name"))),
        "name",
        "API name",
        problems,
    );
    unique(
        apis.iter()
            .enumerate()
            .map(|(i, a)| (index("apis", i), str_of(a, "apiId"))),
        "apiId",
        "API id",
        problems,
    );
    for (i, a) in apis.iter().enumerate() {
        check_api_names(a, &index("apis", i), problems);
    }
}

fn names(set: &BTreeSet<&str>) -> String {
    if set.is_empty() {
        "none".into()
    } else {
        set.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

fn check_api_names(a: &Value, at: &str, problems: &mut Vec<Problem>) {
    if let Some(id) = a.get("apiId").and_then(Value::as_str) {
        if let Err(e) = gatehouse_core::apis::http_apis::check_api_id(id) {
            problems.push(Problem::new(&child(at, "apiId"), e.to_string()));
        }
    }
    if a.get("openapi").is_some() {
        for k in ["integrations", "authorizers", "routes"] {
            if a.get(k).is_some() {
                problems.push(Problem::new(
                    &child(at, k),
                    "an API is defined either by an openapi document or by integrations, authorizers and routes, not both",
                ));
            }
        }
    }
    let section = |k: &str| -> (String, &[Value]) { (child(at, k), list(a, k)) };
    let (integrations_at, integrations) = section("integrations");
    let (authorizers_at, authorizers) = section("authorizers");
    let (routes_at, routes) = section("routes");
    let (stages_at, stages) = section("stages");
    for (items, items_at, key, what) in [
        (integrations, &integrations_at, "name", "integration name"),
        (authorizers, &authorizers_at, "name", "authorizer name"),
        (routes, &routes_at, "routeKey", "route key"),
        (stages, &stages_at, "stageName", "stage name"),
    ] {
        unique(
            items
                .iter()
                .enumerate()
                .map(|(j, x)| (index(items_at, j), str_of(x, key))),
            key,
            what,
            problems,
        );
    }
    let integration_names: BTreeSet<&str> =
        integrations.iter().map(|x| str_of(x, "name")).collect();
    let authorizer_names: BTreeSet<&str> = authorizers.iter().map(|x| str_of(x, "name")).collect();
    for (j, r) in routes.iter().enumerate() {
        let rat = index(&routes_at, j);
        if let Some(n) = r.get("integration").and_then(Value::as_str) {
            if !integration_names.contains(n) {
                problems.push(Problem::new(
                    &child(&rat, "integration"),
                    format!(
                        "integration '{n}' is not declared in {integrations_at} (declared: {})",
                        names(&integration_names)
                    ),
                ));
            }
        }
        match (
            r.get("authorizer").and_then(Value::as_str),
            r.get("authorizationType").and_then(Value::as_str),
        ) {
            (Some(n), t) => {
                if !authorizer_names.contains(n) {
                    problems.push(Problem::new(
                        &child(&rat, "authorizer"),
                        format!(
                            "authorizer '{n}' is not declared in {authorizers_at} (declared: {})",
                            names(&authorizer_names)
                        ),
                    ));
                }
                if t.is_some_and(|t| t != "JWT") {
                    problems.push(Problem::new(
                        &child(&rat, "authorizationType"),
                        "a route with an authorizer has authorizationType JWT (or leave it out)",
                    ));
                }
            }
            (None, Some("JWT")) => problems.push(Problem::new(
                &rat,
                "authorizationType JWT needs an 'authorizer' (the name of one of this API's authorizers)",
            )),
            _ => {}
        }
    }
}

/// Every `${…}` must parse and name something that exists; pool values are available to
/// APIs only (pools are applied first).
fn check_references(
    doc: &Value,
    declared: &Declared,
    env: &EnvLookup,
    problems: &mut Vec<Problem>,
) {
    fn walk(
        v: &Value,
        path: &str,
        in_apis: bool,
        declared: &Declared,
        env: &EnvLookup,
        problems: &mut Vec<Problem>,
    ) {
        match v {
            Value::String(s) => {
                match refs::scan(s, declared) {
                    Ok(found) => {
                        for r in found {
                            match &r {
                            Reference::Env(name) if env(name).is_none() => problems.push(Problem::new(
                                path,
                                format!("${{env:{name}}}: the environment variable {name} is not set"),
                            )),
                            Reference::Pool { .. } | Reference::Client { .. } if !in_apis => {
                                problems.push(Problem::new(
                                    path,
                                    "references to user pools are resolved in apis only",
                                ))
                            }
                            _ => {}
                        }
                        }
                    }
                    Err(m) => problems.push(Problem::new(path, m)),
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    walk(x, &index(path, i), in_apis, declared, env, problems);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    let in_apis = in_apis || (path.is_empty() && k == "apis");
                    walk(x, &child(path, k), in_apis, declared, env, problems);
                }
            }
            _ => {}
        }
    }
    walk(doc, "", false, declared, env, problems);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load_yaml(text: &str) -> Result<ConfigFile, Vec<String>> {
        let doc = parse_text(text, Path::new("t.yaml")).map_err(|p| vec![p.to_string()])?;
        ConfigFile::from_value(doc, Path::new("t.yaml"), "us-east-1", &no_env)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_complete_file_loads() {
        let f = load_yaml(
            r#"
adminCredentials:
  - {AccessKeyId: AKIDCONFIGEXAMPLE1, SecretAccessKey: config-secret-key-0123}
userPools:
  - PoolName: tutorial
    Id: us-east-1_Example01
    clients: [{ClientName: web, ClientId: 1example23456789abcdefghij}]
    groups: [{GroupName: admins}]
    users: [{Username: jane, Password: Passw0rd!, Groups: [admins], UserAttributes: {email: j@example.com}}]
apis:
  - name: api
    apiId: a1b2c3d4e5
    integrations: [{name: backend, integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:9/{proxy}", integrationMethod: ANY, payloadFormatVersion: 1.0}]
    authorizers:
      - name: cognito
        authorizerType: JWT
        identitySource: [$request.header.Authorization]
        jwtConfiguration:
          issuer: ${userPools.tutorial.issuer}
          audience: ["${userPools.tutorial.clients.web.ClientId}"]
    routes: [{routeKey: "GET /hello", integration: backend, authorizer: cognito}]
"#,
        );
        let f = f.unwrap();
        assert!(f
            .counts()
            .starts_with("1 user pools, 1 clients, 1 groups, 1 users, 1 APIs"));
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let e = load_yaml(
            r#"
userPools:
  - PoolName: a
    Id: eu-west-1_Example01
    users: [{Username: u, Groups: [nope]}]
  - PoolName: a
apis:
  - name: x
    apiId: UPPER
    routes: [{routeKey: "GET /", integration: missing}]
    authorizers: [{name: j, authorizerType: JWT, jwtConfiguration: {issuer: "${userPools.b.issuer}"}}]
"#,
        )
        .unwrap_err();
        let has = |s: &str| e.iter().any(|m| m.contains(s));
        assert!(
            has("userPools[1].PoolName: duplicate user pool name 'a' (also at userPools[0])"),
            "{e:#?}"
        );
        assert!(
            has("userPools[0].Id: Invalid user pool id eu-west-1_Example01"),
            "{e:#?}"
        );
        assert!(
            has("userPools[0].users[0].Groups[0]: group 'nope' is not declared"),
            "{e:#?}"
        );
        assert!(has("apis[0].apiId: Invalid API id UPPER"), "{e:#?}");
        assert!(
            has("apis[0].routes[0].integration: integration 'missing' is not declared"),
            "{e:#?}"
        );
        assert!(has("apis[0].authorizers[0].jwtConfiguration.issuer: ${userPools.b.issuer}: no user pool"), "{e:#?}");
    }

    #[test]
    fn merge_keys_share_settings_and_duplicate_keys_are_refused() {
        let f = load_yaml(
            "x-flows: &flows {ExplicitAuthFlows: [ALLOW_USER_SRP_AUTH]}\nuserPools: [{PoolName: p, clients: [{<<: *flows, ClientName: a}, {<<: *flows, ClientName: b}]}]\n",
        );
        assert!(f.is_ok(), "{f:?}");
        let doc = parse_text(
            "userPools: [{PoolName: p, clients: [{<<: {ExplicitAuthFlows: [ALLOW_USER_SRP_AUTH]}, ClientName: a}]}]",
            Path::new("t.yaml"),
        )
        .unwrap();
        assert_eq!(
            doc["userPools"][0]["clients"][0]["ExplicitAuthFlows"][0],
            "ALLOW_USER_SRP_AUTH"
        );
        let e = load_yaml("userPools: []\nuserPools: []\n").unwrap_err();
        assert!(e[0].contains("duplicate"), "{e:?}");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let e = load_yaml("userPools:\n  - PoolName: a\n   bad: [\n").unwrap_err();
        assert!(
            e[0].starts_with("invalid YAML:") && e[0].contains("line"),
            "{e:?}"
        );
    }

    #[test]
    fn env_references_must_be_set_and_pool_references_stay_in_apis() {
        let e = load_yaml(
            "adminCredentials: [{AccessKeyId: AKIDCONFIGEXAMPLE1, SecretAccessKey: '${env:GH_TEST_UNSET_VAR}'}]\nuserPools: [{PoolName: p, UserPoolTags: {t: '${userPools.p.Id}'}}]\n",
        )
        .unwrap_err();
        assert!(e.iter().any(|m| m == "adminCredentials[0].SecretAccessKey: ${env:GH_TEST_UNSET_VAR}: the environment variable GH_TEST_UNSET_VAR is not set"), "{e:?}");
        assert!(e.iter().any(|m| m == "userPools[0].UserPoolTags.t: references to user pools are resolved in apis only"), "{e:?}");
    }
}
