//! Custom domain names on the data plane: the host → domain → API mapping table compiled into
//! every snapshot. A request for a configured domain goes to the mapping whose key matches the
//! most leading segments of its path (the root mapping, key ``, matches every path); the key
//! is stripped and the mapped stage serves the rest (the stage is not in the path, as on AWS).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use gatehouse_store::domains::ApiMapping;

use crate::snapshot::{CompiledApi, CompiledStage};

/// Every custom domain name that has mappings, by lower-case name.
#[derive(Debug, Default)]
pub struct DomainTable {
    exact: HashMap<String, MappingTable>,
    /// `*.example.com` under `example.com`: one label in front of it matches.
    wildcard: HashMap<String, MappingTable>,
}

/// The mappings of one domain name, the longest keys first.
#[derive(Debug, Default)]
pub struct MappingTable {
    mappings: Vec<CompiledMapping>,
}

#[derive(Debug)]
pub struct CompiledMapping {
    /// The key's segments; empty for the root mapping.
    pub key: Vec<String>,
    pub api_id: String,
    pub stage_name: String,
    /// `None` while the stage has no deployment (its requests are 404).
    pub stage: Option<Arc<CompiledStage>>,
}

/// The host name of a Host header: without the port or a trailing dot.
pub fn host_name(host: &str) -> &str {
    let name = match host.strip_prefix('[') {
        // An IPv6 literal: `[::1]:8080`.
        Some(rest) => rest
            .find(']')
            .and_then(|i| host.get(..i + 2))
            .unwrap_or(host),
        None => host.split(':').next().unwrap_or(host),
    };
    name.strip_suffix('.').unwrap_or(name)
}

impl DomainTable {
    /// The mappings, each pointing at its stage in `apis` (the snapshot's compiled stages).
    pub fn compile(mappings: &[ApiMapping], apis: &HashMap<String, CompiledApi>) -> Self {
        let mut table = DomainTable::default();
        for m in mappings {
            let stage = apis.get(&m.api_id).and_then(|api| {
                if m.stage == "$default" {
                    api.default_stage.clone()
                } else {
                    api.stages.get(&m.stage).cloned()
                }
            });
            let compiled = CompiledMapping {
                key: if m.key.is_empty() {
                    Vec::new()
                } else {
                    m.key.split('/').map(str::to_string).collect()
                },
                api_id: m.api_id.clone(),
                stage_name: m.stage.clone(),
                stage,
            };
            let name = m.domain_name.to_ascii_lowercase();
            let entry = match name.strip_prefix("*.") {
                Some(parent) => table.wildcard.entry(parent.to_string()).or_default(),
                None => table.exact.entry(name).or_default(),
            };
            entry.mappings.push(compiled);
        }
        for t in table.exact.values_mut().chain(table.wildcard.values_mut()) {
            t.mappings.sort_by_key(|m| std::cmp::Reverse(m.key.len()));
        }
        table
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }

    /// The domain a Host header names (port ignored, case-insensitive) and its mappings: the
    /// exact name, else a wildcard name one label up. The name is the host as requested, in
    /// lower case (`$context.domainName`).
    pub fn lookup<'h>(&self, host: &'h str) -> Option<(Cow<'h, str>, &MappingTable)> {
        if self.is_empty() {
            return None;
        }
        let name = host_name(host);
        let name: Cow<'h, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        if let Some(t) = self.exact.get(name.as_ref()) {
            return Some((name, t));
        }
        let parent = name.split_once('.').map(|(_, p)| p)?;
        let t = self.wildcard.get(parent)?;
        Some((name, t))
    }
}

impl MappingTable {
    /// The mapping with the longest key matching the leading segments of `path`, and the
    /// path with the key stripped (`/` when nothing is left).
    pub fn resolve<'p>(&self, path: &'p str) -> Option<(&CompiledMapping, &'p str)> {
        self.mappings
            .iter()
            .find_map(|m| strip_key(&m.key, path).map(|rest| (m, rest)))
    }
}

/// `path` without the key's segments, if it starts with them (segments compare decoded).
fn strip_key<'p>(key: &[String], path: &'p str) -> Option<&'p str> {
    let mut rest = path;
    for seg in key {
        let body = rest.strip_prefix('/')?;
        let end = body.find('/').unwrap_or(body.len());
        let head = &body[..end];
        let same = head == seg
            || (head.contains('%')
                && percent_encoding::percent_decode_str(head).decode_utf8_lossy() == seg.as_str());
        if !same {
            return None;
        }
        rest = &body[end..];
    }
    Some(if rest.is_empty() { "/" } else { rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(domain: &str, key: &str, api: &str) -> ApiMapping {
        ApiMapping {
            id: format!("{api}-{key}"),
            domain_name: domain.into(),
            api_id: api.into(),
            stage: "$default".into(),
            key: key.into(),
        }
    }

    /// AWS's example: `(none)` → 1, `orders` → 2, `orders/v1/items` → 3, `orders/v2/items`
    /// → 4, `orders/v2/items/categories` → 5.
    fn aws_example() -> DomainTable {
        DomainTable::compile(
            &[
                mapping("api.example.com", "", "api1"),
                mapping("api.example.com", "orders/v2/items/categories", "api5"),
                mapping("api.example.com", "orders", "api2"),
                mapping("api.example.com", "orders/v1/items", "api3"),
                mapping("api.example.com", "orders/v2/items", "api4"),
            ],
            &HashMap::new(),
        )
    }

    fn resolve<'p>(t: &DomainTable, host: &str, path: &'p str) -> Option<(String, &'p str)> {
        let (_, mappings) = t.lookup(host)?;
        mappings
            .resolve(path)
            .map(|(m, rest)| (m.api_id.clone(), rest))
    }

    #[test]
    fn the_longest_matching_key_wins_as_in_aws_documentation() {
        let t = aws_example();
        let host = "api.example.com";
        for (path, api, rest) in [
            ("/orders", "api2", "/"),
            ("/orders/v1/items", "api3", "/"),
            ("/orders/v2/items", "api4", "/"),
            ("/orders/v1/items/123", "api3", "/123"),
            ("/orders/v2/items/categories/5", "api5", "/5"),
            ("/customers", "api1", "/customers"),
            ("/", "api1", "/"),
            ("/orders/v3", "api2", "/v3"),
            ("/orders/", "api2", "/"),
        ] {
            assert_eq!(
                resolve(&t, host, path),
                Some((api.to_string(), rest)),
                "{path}"
            );
        }
    }

    #[test]
    fn keys_match_whole_segments_only() {
        let t = DomainTable::compile(&[mapping("api.example.com", "v1", "a")], &HashMap::new());
        assert_eq!(resolve(&t, "api.example.com", "/v1x"), None);
        assert_eq!(resolve(&t, "api.example.com", "/"), None);
        assert_eq!(
            resolve(&t, "api.example.com", "/v1/pets/1"),
            Some(("a".into(), "/pets/1"))
        );
        // Keys compare with the path's segments decoded.
        let t = DomainTable::compile(&[mapping("api.example.com", "$v1", "a")], &HashMap::new());
        assert_eq!(
            resolve(&t, "api.example.com", "/%24v1/x"),
            Some(("a".into(), "/x"))
        );
    }

    #[test]
    fn hosts_match_without_port_or_case_and_wildcards_one_label_deep() {
        let t = DomainTable::compile(
            &[
                mapping("api.example.com", "", "a"),
                mapping("*.example.org", "", "w"),
            ],
            &HashMap::new(),
        );
        assert_eq!(
            resolve(&t, "API.Example.com:8080", "/x"),
            Some(("a".into(), "/x"))
        );
        assert_eq!(
            resolve(&t, "api.example.com.", "/x").map(|r| r.0),
            Some("a".into())
        );
        let (name, _) = t.lookup("Shop.Example.org:443").unwrap();
        assert_eq!(name, "shop.example.org");
        assert!(t.lookup("a.b.example.org").is_none());
        assert!(t.lookup("example.org").is_none());
        assert!(t.lookup("other.example.com").is_none());
        assert!(DomainTable::default().lookup("api.example.com").is_none());
    }

    #[test]
    fn mappings_point_at_the_compiled_stages_of_the_snapshot() {
        use gatehouse_core::apis::DeployedStage;
        use gatehouse_store::apis::{DeploymentSnapshot, HttpApi, Route, Stage};

        let api = Arc::new(HttpApi {
            id: "abc123".into(),
            disable_execute_api_endpoint: true,
            ..HttpApi::default()
        });
        let deployed = |stage: &str| DeployedStage {
            api: Arc::clone(&api),
            stage: Stage {
                name: stage.into(),
                ..Stage::default()
            },
            snapshot: Arc::new(DeploymentSnapshot {
                api_id: "abc123".into(),
                routes: vec![Route {
                    route_key: "$default".into(),
                    ..Route::default()
                }],
                ..DeploymentSnapshot::default()
            }),
        };
        let mut undeployed = mapping("api.example.com", "later", "abc123");
        undeployed.stage = "staging".into();
        let mut prod = mapping("api.example.com", "v1", "abc123");
        prod.stage = "prod".into();
        let snapshot = crate::snapshot::Snapshot::compile_with_domains(
            &[deployed("$default"), deployed("prod")],
            &[
                mapping("api.example.com", "", "abc123"),
                prod,
                undeployed,
                mapping("api.example.com", "gone", "nope"),
            ],
        );
        assert!(snapshot.apis["abc123"].disable_execute_api_endpoint);
        let (_, t) = snapshot.domains.lookup("api.example.com").unwrap();
        let stage_of = |path: &str| {
            let (m, _) = t.resolve(path).unwrap();
            m.stage.as_ref().map(|s| s.name.clone())
        };
        assert_eq!(stage_of("/x"), Some("$default".into()));
        assert_eq!(stage_of("/v1/x"), Some("prod".into()));
        // A stage without a deployment, or an API that is gone, serves nothing (404).
        assert_eq!(stage_of("/later/x"), None);
        assert_eq!(stage_of("/gone"), None);
    }

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("api.example.com:8080"), "api.example.com");
        assert_eq!(host_name("api.example.com"), "api.example.com");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("api.example.com.:80"), "api.example.com");
    }
}
