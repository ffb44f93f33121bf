//! References inside string values: `${env:NAME}` (an environment variable, for secrets kept
//! out of the file), `${userPools.<PoolName>.Id|Arn|issuer}` and
//! `${userPools.<PoolName>.clients.<ClientName>.ClientId}` (values of the same file, for API
//! authorizers). `$${` writes a literal `${`, e.g. for API Gateway's own `${stageVariables.x}`
//! … which is also left alone as it is: only the prefixes above are references.

use std::collections::BTreeMap;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Env(String),
    Pool { pool: String, attr: PoolAttr },
    Client { pool: String, client: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolAttr {
    Id,
    Arn,
    Issuer,
}

/// The names a file declares, which `${userPools…}` references are parsed against (names
/// may themselves contain dots).
#[derive(Debug, Default, Clone)]
pub struct Declared {
    /// Pool name -> its client names.
    pub pools: BTreeMap<String, Vec<String>>,
}

/// What references resolve to.
#[derive(Debug, Default, Clone)]
pub struct Values {
    /// Pool name -> (id, arn, issuer).
    pub pools: BTreeMap<String, (String, String, String)>,
    /// (pool name, client name) -> client id.
    pub clients: BTreeMap<(String, String), String>,
}

/// Longest declared name `text` starts with, followed by a dot; and the rest.
fn split_name<'a, 'b>(
    text: &'a str,
    names: impl Iterator<Item = &'b String>,
) -> Option<(&'b String, &'a str)> {
    names
        .filter_map(|n| {
            text.strip_prefix(n.as_str())?
                .strip_prefix('.')
                .map(|rest| (n, rest))
        })
        .max_by_key(|(n, _)| n.len())
}

/// Parses the inside of one `${…}`; `Ok(None)` when it is not ours (left as written).
pub fn parse(inner: &str, declared: &Declared) -> Result<Option<Reference>, String> {
    if let Some(name) = inner.strip_prefix("env:") {
        let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!(
                "${{{inner}}}: an environment variable name is letters, digits and '_'"
            ));
        }
        return Ok(Some(Reference::Env(name.to_string())));
    }
    let Some(rest) = inner.strip_prefix("userPools.") else {
        return Ok(None);
    };
    let (pool, rest) = split_name(rest, declared.pools.keys()).ok_or_else(|| {
        format!(
            "${{{inner}}}: no user pool of this file is named by it (pools: {})",
            list(declared.pools.keys())
        )
    })?;
    let attr = match rest {
        "Id" => Some(PoolAttr::Id),
        "Arn" => Some(PoolAttr::Arn),
        "issuer" => Some(PoolAttr::Issuer),
        _ => None,
    };
    if let Some(attr) = attr {
        return Ok(Some(Reference::Pool {
            pool: pool.clone(),
            attr,
        }));
    }
    let Some(rest) = rest.strip_prefix("clients.") else {
        return Err(format!(
            "${{{inner}}}: after the pool name comes Id, Arn, issuer or clients.<ClientName>.ClientId"
        ));
    };
    let clients = declared.pools.get(pool).cloned().unwrap_or_default();
    let (client, rest) = split_name(rest, clients.iter()).ok_or_else(|| {
        format!(
            "${{{inner}}}: pool '{pool}' has no client of this file named by it (clients: {})",
            list(clients.iter())
        )
    })?;
    if rest != "ClientId" {
        return Err(format!(
            "${{{inner}}}: a client reference ends in .ClientId"
        ));
    }
    Ok(Some(Reference::Client {
        pool: pool.clone(),
        client: client.clone(),
    }))
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Every reference in `text`, or the first malformed one.
pub fn scan(text: &str, declared: &Declared) -> Result<Vec<Reference>, String> {
    let mut out = Vec::new();
    walk(text, declared, |r| {
        out.push(r.clone());
        Ok(String::new())
    })?;
    Ok(out)
}

/// `text` with its references replaced by `value(reference)` and `$${` by `${`.
pub fn substitute(
    text: &str,
    declared: &Declared,
    value: impl FnMut(&Reference) -> Result<String, String>,
) -> Result<String, String> {
    walk(text, declared, value)
}

fn walk(
    text: &str,
    declared: &Declared,
    mut value: impl FnMut(&Reference) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some(tail) = after.strip_prefix("${") else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = tail.find('}') else {
            // The text is not quoted: it may be a secret.
            return Err("an unterminated '${' (write '$${' for a literal '${')".into());
        };
        let inner = &tail[..end];
        match parse(inner, declared)? {
            Some(r) => out.push_str(&value(&r)?),
            None => {
                out.push_str("${");
                out.push_str(inner);
                out.push('}');
            }
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What a reference stands for, given the environment and the file's values.
pub fn resolve(
    r: &Reference,
    env: &dyn Fn(&str) -> Option<String>,
    values: Option<&Values>,
) -> Result<String, String> {
    match r {
        Reference::Env(name) => env(name)
            .ok_or_else(|| format!("${{env:{name}}}: the environment variable {name} is not set")),
        Reference::Pool { pool, attr } => {
            let (id, arn, issuer) = values
                .and_then(|v| v.pools.get(pool))
                .ok_or_else(|| format!("user pool '{pool}' is not available here"))?;
            Ok(match attr {
                PoolAttr::Id => id.clone(),
                PoolAttr::Arn => arn.clone(),
                PoolAttr::Issuer => issuer.clone(),
            })
        }
        Reference::Client { pool, client } => values
            .and_then(|v| v.clients.get(&(pool.clone(), client.clone())))
            .cloned()
            .ok_or_else(|| format!("client '{client}' of pool '{pool}' is not available here")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Declared {
        let mut d = Declared::default();
        d.pools
            .insert("tutorial".into(), vec!["web".into(), "web.v2".into()]);
        d.pools.insert("tutorial.eu".into(), vec![]);
        d
    }

    #[test]
    fn parses_pool_client_and_env_references() {
        let d = declared();
        assert_eq!(
            scan("${userPools.tutorial.issuer}", &d).unwrap(),
            vec![Reference::Pool {
                pool: "tutorial".into(),
                attr: PoolAttr::Issuer
            }]
        );
        assert_eq!(
            scan("x ${userPools.tutorial.eu.Id} y", &d).unwrap(),
            vec![Reference::Pool {
                pool: "tutorial.eu".into(),
                attr: PoolAttr::Id
            }]
        );
        assert_eq!(
            scan("${userPools.tutorial.clients.web.v2.ClientId}", &d).unwrap(),
            vec![Reference::Client {
                pool: "tutorial".into(),
                client: "web.v2".into()
            }]
        );
        assert_eq!(
            scan("${env:SECRET_1}", &d).unwrap(),
            vec![Reference::Env("SECRET_1".into())]
        );
    }

    #[test]
    fn dangling_references_say_what_exists() {
        let d = declared();
        let e = scan("${userPools.nope.issuer}", &d).unwrap_err();
        assert!(
            e.contains("no user pool of this file") && e.contains("tutorial"),
            "{e}"
        );
        let e = scan("${userPools.tutorial.clients.mobile.ClientId}", &d).unwrap_err();
        assert!(
            e.contains("no client of this file") && e.contains("web"),
            "{e}"
        );
        let e = scan("${userPools.tutorial.Name}", &d).unwrap_err();
        assert!(e.contains("Id, Arn, issuer"), "{e}");
        assert!(scan("${userPools.tutorial.issuer", &d).is_err());
    }

    #[test]
    fn other_dollar_forms_are_left_alone_and_escapes_unescaped() {
        let d = declared();
        let out = substitute(
            "${stageVariables.url}/$${env:X}/a$b/${env:HOME_X}",
            &d,
            |_| Ok("v".into()),
        )
        .unwrap();
        assert_eq!(out, "${stageVariables.url}/${env:X}/a$b/v");
    }
}
