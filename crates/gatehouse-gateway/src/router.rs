//! Route matching for one stage: the route keys compiled into a segment trie, searched with
//! AWS's priority (literal segments before `{param}`, `{param}` before a greedy `{proxy+}`,
//! the exact method before `ANY`, then `$default`). Lookup cost follows the depth of the path,
//! not the number of routes.

use std::borrow::Cow;
use std::collections::HashMap;

use percent_encoding::percent_decode_str;

/// One segment of a route key's path.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Debug, Default)]
struct Terminal {
    methods: HashMap<String, usize>,
    any: Option<usize>,
}

impl Terminal {
    fn pick(&self, method: &str) -> Option<usize> {
        self.methods.get(method).copied().or(self.any)
    }

    fn insert(&mut self, method: &str, idx: usize) {
        if method == "ANY" {
            self.any.get_or_insert(idx);
        } else {
            self.methods.entry(method.to_string()).or_insert(idx);
        }
    }
}

#[derive(Debug, Default)]
struct Node {
    literal: HashMap<String, Node>,
    param: Option<Box<Node>>,
    greedy: Terminal,
    here: Terminal,
}

/// The compiled routes of a stage. Routes are referred to by their index in the order given.
#[derive(Debug, Default)]
pub struct RouteTable {
    root: Node,
    patterns: Vec<Vec<Pattern>>,
    default_route: Option<usize>,
}

/// A route that matched, with its path parameters URL-decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub route: usize,
    pub path_parameters: Vec<(String, String)>,
}

/// Why a route key cannot be compiled.
#[derive(Debug, thiserror::Error)]
#[error("invalid route key {0:?}")]
pub struct InvalidRouteKey(pub String);

fn parse_key(key: &str) -> Result<Option<(String, Vec<Pattern>)>, InvalidRouteKey> {
    let key = key.trim();
    if key == "$default" {
        return Ok(None);
    }
    let bad = || InvalidRouteKey(key.to_string());
    let (method, path) = key.split_once(' ').ok_or_else(bad)?;
    let path = path.trim();
    if !path.starts_with('/') {
        return Err(bad());
    }
    let mut patterns = Vec::new();
    let body = &path[1..];
    if !body.is_empty() {
        let segs: Vec<&str> = body.split('/').collect();
        for (i, seg) in segs.iter().enumerate() {
            let p = if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if let Some(name) = inner.strip_suffix('+') {
                    if i + 1 != segs.len() || name.is_empty() {
                        return Err(bad());
                    }
                    Pattern::Greedy(name.to_string())
                } else if inner.is_empty() {
                    return Err(bad());
                } else {
                    Pattern::Param(inner.to_string())
                }
            } else {
                Pattern::Literal(seg.to_string())
            };
            patterns.push(p);
        }
    }
    Ok(Some((method.to_ascii_uppercase(), patterns)))
}

fn decode(seg: &str) -> String {
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

impl RouteTable {
    /// Compiles route keys; the i-th key is route i. The first of duplicate keys wins.
    pub fn compile<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidRouteKey> {
        let mut table = RouteTable::default();
        for (idx, key) in keys.into_iter().enumerate() {
            match parse_key(key)? {
                None => {
                    table.default_route.get_or_insert(idx);
                    table.patterns.push(Vec::new());
                }
                Some((method, patterns)) => {
                    let mut node = &mut table.root;
                    for p in &patterns {
                        node = match p {
                            Pattern::Literal(s) => node.literal.entry(s.clone()).or_default(),
                            Pattern::Param(_) => node.param.get_or_insert_with(Default::default),
                            Pattern::Greedy(_) => break,
                        };
                    }
                    if matches!(patterns.last(), Some(Pattern::Greedy(_))) {
                        node.greedy.insert(&method, idx);
                    } else {
                        node.here.insert(&method, idx);
                    }
                    table.patterns.push(patterns);
                }
            }
        }
        Ok(table)
    }

    /// Finds the route for `method` and a raw (still percent-encoded) `path`.
    pub fn find(&self, method: &str, path: &str) -> Option<Match> {
        let body = path.strip_prefix('/').unwrap_or(path);
        let raw: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        // Borrowed unless a segment has escapes: no allocation per segment on the hot path.
        let decoded: Vec<Cow<'_, str>> = raw
            .iter()
            .map(|s| percent_decode_str(s).decode_utf8_lossy())
            .collect();
        let found = find_in(&self.root, &decoded, 0, method);
        match found {
            Some(route) => Some(Match {
                route,
                path_parameters: self.parameters(route, &raw),
            }),
            None => self.default_route.map(|route| Match {
                route,
                path_parameters: Vec::new(),
            }),
        }
    }

    fn parameters(&self, route: usize, raw: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Some(patterns) = self.patterns.get(route) else {
            return out;
        };
        for (i, p) in patterns.iter().enumerate() {
            match p {
                Pattern::Literal(_) => {}
                Pattern::Param(name) => {
                    if let Some(seg) = raw.get(i) {
                        out.push((name.clone(), decode(seg)));
                    }
                }
                Pattern::Greedy(name) => {
                    let rest = raw.get(i..).map(|r| r.join("/")).unwrap_or_default();
                    out.push((name.clone(), decode(&rest)));
                }
            }
        }
        out
    }
}

fn find_in(node: &Node, segs: &[Cow<'_, str>], i: usize, method: &str) -> Option<usize> {
    let Some(seg) = segs.get(i) else {
        return node.here.pick(method);
    };
    if let Some(child) = node.literal.get(seg.as_ref()) {
        if let Some(r) = find_in(child, segs, i + 1, method) {
            return Some(r);
        }
    }
    if let Some(child) = &node.param {
        if !seg.is_empty() {
            if let Some(r) = find_in(child, segs, i + 1, method) {
                return Some(r);
            }
        }
    }
    node.greedy.pick(method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(keys: &[&str]) -> RouteTable {
        RouteTable::compile(keys.iter().copied()).unwrap()
    }

    fn hit(t: &RouteTable, keys: &[&str], method: &str, path: &str) -> Option<String> {
        t.find(method, path).map(|m| keys[m.route].to_string())
    }

    #[test]
    fn aws_priority() {
        let keys = [
            "GET /pets/dog/1",
            "GET /pets/dog/{id}",
            "GET /pets/{proxy+}",
            "ANY /{proxy+}",
            "$default",
            "ANY /pets/cat",
            "POST /pets/cat",
            "GET /",
        ];
        let t = table(&keys);
        let h = |m, p| hit(&t, &keys, m, p);
        assert_eq!(h("GET", "/pets/dog/1").unwrap(), "GET /pets/dog/1");
        assert_eq!(h("GET", "/pets/dog/2").unwrap(), "GET /pets/dog/{id}");
        assert_eq!(h("GET", "/pets/dog/2/x").unwrap(), "GET /pets/{proxy+}");
        assert_eq!(h("POST", "/pets/dog/1").unwrap(), "ANY /{proxy+}");
        assert_eq!(h("POST", "/pets/cat").unwrap(), "POST /pets/cat");
        assert_eq!(h("DELETE", "/pets/cat").unwrap(), "ANY /pets/cat");
        assert_eq!(h("GET", "/").unwrap(), "GET /");
        assert_eq!(h("POST", "/").unwrap(), "$default");
        assert_eq!(h("GET", "/a/b/c").unwrap(), "ANY /{proxy+}");
    }

    #[test]
    fn no_default_is_none() {
        let keys = ["GET /pets"];
        let t = table(&keys);
        assert!(t.find("GET", "/pets/1").is_none());
        assert!(t.find("POST", "/pets").is_none());
        assert!(t.find("GET", "/pets").is_some());
    }

    #[test]
    fn parameters_are_decoded() {
        let keys = ["GET /users/{name}/files/{path+}"];
        let t = table(&keys);
        let m = t
            .find("GET", "/users/J%C3%BCrgen%20X/files/a/b%2Fc")
            .unwrap();
        assert_eq!(
            m.path_parameters,
            vec![
                ("name".to_string(), "Jürgen X".to_string()),
                ("path".to_string(), "a/b/c".to_string())
            ]
        );
    }

    #[test]
    fn backtracks_from_literal_to_param() {
        let keys = ["GET /a/b/c", "GET /a/{x}/d"];
        let t = table(&keys);
        assert_eq!(hit(&t, &keys, "GET", "/a/b/d").unwrap(), "GET /a/{x}/d");
    }

    #[test]
    fn invalid_keys_refused() {
        for k in ["GET pets", "GET /{proxy+}/x", "GET /{}", "nonsense"] {
            assert!(RouteTable::compile([k]).is_err(), "{k}");
        }
    }

    #[test]
    fn thousand_routes() {
        let keys: Vec<String> = (0..1000)
            .map(|i| format!("GET /r{i}/items/{{id}}"))
            .chain(["ANY /{proxy+}".to_string()])
            .collect();
        let t = RouteTable::compile(keys.iter().map(String::as_str)).unwrap();
        for i in (0..1000).step_by(37) {
            let m = t.find("GET", &format!("/r{i}/items/x")).unwrap();
            assert_eq!(keys[m.route], format!("GET /r{i}/items/{{id}}"));
            assert_eq!(m.path_parameters, vec![("id".to_string(), "x".to_string())]);
        }
        assert_eq!(t.find("GET", "/r5000/items/x").unwrap().route, 1000);
    }

    proptest! {
        // Every literal route is found for its own path and method, whatever else is there.
        #[test]
        fn literal_routes_find_themselves(
            paths in proptest::collection::vec("(/[a-z]{1,3}){1,4}", 1..40),
            path_idx in 0usize..40,
        ) {
            let keys: Vec<String> = paths.iter().map(|p| format!("GET {p}"))
                .chain(["ANY /{proxy+}".to_string(), "GET /{a}/{b}".to_string()]).collect();
            let t = RouteTable::compile(keys.iter().map(String::as_str)).unwrap();
            let p = &paths[path_idx % paths.len()];
            let m = t.find("GET", p).unwrap();
            prop_assert_eq!(&keys[m.route], &format!("GET {p}"));
        }

        // Arbitrary paths never panic and, with a catch-all, always match.
        #[test]
        fn any_path_matches_catch_all(path in "/[^?#]{0,60}") {
            let t = table(&["ANY /{proxy+}", "$default", "GET /x/{y}"]);
            prop_assert!(t.find("GET", &path).is_some());
        }
    }
}
