//! The declarative configuration file (`serve --config`, `gatehouse config check`): admin
//! access keys, user pools with their clients, groups, users and OAuth set-up (domain,
//! resource servers, hosted UI look), HTTP APIs and their custom domain names, in TOML, YAML
//! or JSON (chosen by the extension) with AWS's member names. Reading and checking live here;
//! `apply/` brings a store in line with the file through the same adapter and domain code the
//! APIs use, after a rehearsal on a throwaway store (`sandbox.rs`) that is also what
//! `config check` runs. See docs/config.md.
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
        load_image_files(&mut doc, base, &mut problems);
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
        let mut out = format!(
            "{} user pools, {} clients, {} groups, {} users, {} APIs, {} admin keys",
            pools.len(),
            n("clients"),
            n("groups"),
            n("users"),
            list(&self.doc, "apis").len(),
            list(&self.doc, "adminCredentials").len()
        );
        // The OAuth and domain sections only when the file has them.
        let pool_domains = pools.iter().filter(|p| p.get("Domain").is_some()).count();
        let domain_names = list(&self.doc, "domainNames").len();
        for (count, what) in [
            (pool_domains, "pool domains"),
            (n("ResourceServers"), "resource servers"),
            (domain_names, "API domain names"),
        ] {
            if count > 0 {
                out.push_str(&format!(", {count} {what}"));
            }
        }
        out
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

/// The formats a file may be written in, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Yaml,
    Json,
}

impl Format {
    /// `.toml`, `.json`, else YAML (`.yaml`, `.yml`, and any other name, as before TOML).
    pub(crate) fn of(path: &Path) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("toml") => Format::Toml,
            Some("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// A file's text as a JSON value, in the format its extension names; syntax errors carry
/// the line and column.
pub(crate) fn parse_text(text: &str, path: &Path) -> Result<Value, Problem> {
    match Format::of(path) {
        Format::Json => {
            serde_json::from_str(text).map_err(|e| Problem::new("", format!("invalid JSON: {e}")))
        }
        Format::Toml => parse_toml(text),
        Format::Yaml => {
            let invalid = |e: serde_yaml::Error| Problem::new("", format!("invalid YAML: {e}"));
            let mut v: serde_yaml::Value = serde_yaml::from_str(text).map_err(invalid)?;
            // `<<: *anchor` merge keys, so shared settings can be written once.
            v.apply_merge().map_err(invalid)?;
            serde_json::to_value(v).map_err(|e| Problem::new("", format!("invalid YAML: {e}")))
        }
    }
}

/// TOML, with errors in the YAML errors' shape: `invalid TOML: <what> at line L column C`.
fn parse_toml(text: &str) -> Result<Value, Problem> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let (line, column) = line_column(text, s.start);
                format!(" at line {line} column {column}")
            })
            .unwrap_or_default();
        // toml's message may span lines ("invalid array\nexpected `]`"): one line, as YAML's.
        let message: Vec<&str> = e.message().lines().map(str::trim).collect();
        Problem::new("", format!("invalid TOML: {}{at}", message.join(", ")))
    })?;
    Ok(toml_to_json(toml::Value::Table(table)))
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// TOML's values as JSON's; dates and times (which no member takes) as their RFC 3339 text,
/// so the schema reports them as the strings they look like.
fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
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

/// `UICustomization.ImageFile: logo.png` (a pool's or a client's) is read, relative to the
/// file, into the base64 SetUICustomization takes.
fn load_image_files(doc: &mut Value, base: &Path, problems: &mut Vec<Problem>) {
    let Some(pools) = doc.get_mut("userPools").and_then(Value::as_array_mut) else {
        return;
    };
    for (i, pool) in pools.iter_mut().enumerate() {
        let at = index("userPools", i);
        let Some(pool) = pool.as_object_mut() else {
            continue;
        };
        for (k, v) in pool.iter_mut() {
            match k.as_str() {
                "UICustomization" => load_image(v, &child(&at, k), base, problems),
                "clients" => {
                    let clients = v.as_array_mut().map_or(&mut [][..], Vec::as_mut_slice);
                    for (j, c) in clients.iter_mut().enumerate() {
                        if let Some(ui) = c.get_mut("UICustomization") {
                            let cat = index(&child(&at, "clients"), j);
                            load_image(ui, &child(&cat, "UICustomization"), base, problems);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn load_image(ui: &mut Value, at: &str, base: &Path, problems: &mut Vec<Problem>) {
    use base64::Engine;
    let Some(slot) = ui.get_mut("ImageFile") else {
        return;
    };
    let Some(rel) = slot.as_str().map(str::to_string) else {
        return;
    };
    match std::fs::read(base.join(&rel)) {
        Ok(bytes) => *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Err(e) => problems.push(Problem::new(
            &child(at, "ImageFile"),
            format!("cannot read {rel}: {e}"),
        )),
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
        let servers_at = child(&at, "ResourceServers");
        unique(
            list(p, "ResourceServers")
                .iter()
                .enumerate()
                .map(|(j, r)| (index(&servers_at, j), str_of(r, "Identifier"))),
            "Identifier",
            "resource server identifier",
            problems,
        );
        let mut looks = vec![(child(&at, "UICustomization"), p.get("UICustomization"))];
        looks.extend(clients.iter().enumerate().map(|(j, c)| {
            (
                child(&index(&clients_at, j), "UICustomization"),
                c.get("UICustomization"),
            )
        }));
        for (uat, ui) in looks {
            // SetUICustomization with neither removes the look: the file never deletes.
            if ui.is_some_and(|u| u.get("CSS").is_none() && u.get("ImageFile").is_none()) {
                problems.push(Problem::new(&uat, "give CSS, ImageFile or both"));
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
    check_domain_names(doc, problems);
}

/// Custom domain names: unique, with mappings that name APIs of the file under distinct keys.
fn check_domain_names(doc: &Value, problems: &mut Vec<Problem>) {
    let domains = list(doc, "domainNames");
    let lower: Vec<String> = domains
        .iter()
        .map(|d| {
            str_of(d, "domainName")
                .trim_end_matches('.')
                .to_ascii_lowercase()
        })
        .collect();
    unique(
        lower
            .iter()
            .enumerate()
            .map(|(i, n)| (index("domainNames", i), n.as_str())),
        "domainName",
        "domain name",
        problems,
    );
    let api_names: BTreeSet<&str> = list(doc, "apis")
        .iter()
        .map(|a| str_of(a, "name"))
        .collect();
    for (i, d) in domains.iter().enumerate() {
        let mappings_at = child(&index("domainNames", i), "apiMappings");
        let mappings = list(d, "apiMappings");
        unique(
            mappings
                .iter()
                .enumerate()
                .map(|(j, m)| (index(&mappings_at, j), str_of(m, "apiMappingKey"))),
            "apiMappingKey",
            "API mapping key",
            problems,
        );
        let roots = mappings
            .iter()
            .filter(|m| str_of(m, "apiMappingKey").is_empty())
            .count();
        if roots > 1 {
            problems.push(Problem::new(
                &mappings_at,
                "more than one mapping without an apiMappingKey (the root)",
            ));
        }
        for (j, m) in mappings.iter().enumerate() {
            let api = str_of(m, "api");
            if !api.is_empty() && !api_names.contains(api) {
                problems.push(Problem::new(
                    &child(&index(&mappings_at, j), "api"),
                    format!(
                        "API '{api}' is not declared in apis (declared: {})",
                        names(&api_names)
                    ),
                ));
            }
        }
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

    fn load_toml(text: &str) -> Result<ConfigFile, Vec<String>> {
        let doc = parse_text(text, Path::new("t.toml")).map_err(|p| vec![p.to_string()])?;
        ConfigFile::from_value(doc, Path::new("t.toml"), "us-east-1", &no_env)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn the_toml_and_yaml_examples_declare_the_same() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let read = |name: &str| {
            let path = examples.join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            let doc = parse_text(&text, &path).unwrap();
            ConfigFile::from_value(doc, &path, "us-east-1", &no_env)
                .unwrap()
                .doc
        };
        assert_eq!(read("gatehouse.toml"), read("gatehouse.yaml"));
    }

    #[test]
    fn toml_is_chosen_by_extension_and_checked_like_yaml() {
        assert_eq!(Format::of(Path::new("a/gatehouse.TOML")), Format::Toml);
        assert_eq!(Format::of(Path::new("gatehouse.yml")), Format::Yaml);
        assert_eq!(Format::of(Path::new("gatehouse.json")), Format::Json);
        let e = load_toml(
            "[[userPools]]\nPoolName = \"p\"\nMfaConfiguration = \"SOMETIMES\"\n\n[[userPools.clients]]\nClientName = \"a\"\nExplicitAuthFlow = [\"ALLOW_USER_SRP_AUTH\"]\n",
        )
        .unwrap_err();
        assert!(e.contains(&"userPools[0].clients[0].ExplicitAuthFlow: unknown member 'ExplicitAuthFlow'; did you mean 'ExplicitAuthFlows'?".to_string()), "{e:?}");
        assert!(
            e.iter()
                .any(|m| m.starts_with("userPools[0].MfaConfiguration: 'SOMETIMES' is not one of")),
            "{e:?}"
        );
        // Numbers for text members, dates where a string is due, references.
        let f = load_toml(
            "[[apis]]\nname = \"a\"\n[[apis.integrations]]\nname = \"i\"\nintegrationType = \"HTTP_PROXY\"\npayloadFormatVersion = 1.0\n",
        )
        .unwrap();
        assert_eq!(
            f.doc["apis"][0]["integrations"][0]["payloadFormatVersion"],
            "1.0"
        );
        let e = load_toml("[[userPools]]\nPoolName = 1979-05-27\nUserPoolTags = { t = \"${env:GH_TEST_UNSET_VAR}\" }\n").unwrap_err();
        assert!(e.contains(&"userPools[0].UserPoolTags.t: ${env:GH_TEST_UNSET_VAR}: the environment variable GH_TEST_UNSET_VAR is not set".to_string()), "{e:?}");
        assert!(load_toml("").is_ok());
    }

    #[test]
    fn toml_syntax_errors_carry_the_line_and_column() {
        let e = load_toml("[[userPools]]\nPoolName = \"p\"\nclients = [\n").unwrap_err();
        assert!(
            e[0].starts_with("invalid TOML:") && e[0].contains(" at line 4 column 1"),
            "{e:?}"
        );
        assert!(!e[0].contains('\n'), "one line: {e:?}");
        let e = load_toml("version = 1\nversion = 1\n").unwrap_err();
        assert!(
            e[0].contains("duplicate") && e[0].contains("line 2 column 1"),
            "{e:?}"
        );
        assert_eq!(line_column("ab\ncé\nx", 6), (2, 3));
        assert_eq!(line_column("ab\ncé\nx", 5), (2, 2), "inside a character");
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
