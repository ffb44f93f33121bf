//! Parameter mapping of HTTP_PROXY integrations: `append|overwrite|remove` on `header.*` and
//! `querystring.*`, `overwrite:path`, and on responses (per status code) headers and
//! `overwrite:statuscode`. Values are literals, `$request.*`, `$context.*`
//! (`$context.authorizer.claims.*` too) and `$stageVariables.*`, alone or as `${...}` within
//! a string.

use std::collections::{BTreeMap, HashMap};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// What mapping expressions can refer to.
pub struct Sources<'a> {
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub path: &'a str,
    pub path_parameters: &'a [(String, String)],
    pub stage_variables: &'a HashMap<String, String>,
    pub claims: Option<&'a Map<String, Value>>,
    pub request_id: &'a str,
    pub api_id: &'a str,
    pub stage: &'a str,
    pub route_key: &'a str,
    pub method: &'a str,
    pub domain: &'a str,
    pub source_ip: &'a str,
    /// The integration's response headers, for response mapping.
    pub response_headers: Option<&'a HeaderMap>,
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let values: Vec<String> = query?
        .split('&')
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k == name).then(|| {
                percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

fn header_value(h: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = h
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

impl Sources<'_> {
    /// The value of one variable without its `$` (`request.header.x`).
    fn variable(&self, var: &str) -> Option<String> {
        if let Some(n) = var.strip_prefix("request.header.") {
            return header_value(self.headers, n);
        }
        if let Some(n) = var.strip_prefix("request.querystring.") {
            return query_value(self.query, n);
        }
        if var == "request.path" {
            return Some(self.path.to_string());
        }
        if let Some(n) = var.strip_prefix("request.path.") {
            return self
                .path_parameters
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone());
        }
        if let Some(n) = var.strip_prefix("response.header.") {
            return self.response_headers.and_then(|h| header_value(h, n));
        }
        if let Some(n) = var.strip_prefix("stageVariables.") {
            return self.stage_variables.get(n).cloned();
        }
        if let Some(n) = var.strip_prefix("context.authorizer.claims.") {
            return self.claims?.get(n).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
        let v = match var {
            "context.requestId" | "context.extendedRequestId" => self.request_id,
            "context.apiId" => self.api_id,
            "context.stage" => self.stage,
            "context.routeKey" => self.route_key,
            "context.httpMethod" => self.method,
            "context.path" => self.path,
            "context.domainName" => self.domain,
            "context.domainPrefix" => self.domain.split('.').next().unwrap_or(""),
            "context.identity.sourceIp" => self.source_ip,
            _ => return None,
        };
        Some(v.to_string())
    }

    /// Evaluates a mapping value: a literal with `$var` or `${var}` anywhere in it.
    pub fn evaluate(&self, expr: &str) -> String {
        let mut out = String::new();
        let mut rest = expr;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(end) = inner.find('}') {
                    out.push_str(&self.variable(&inner[..end]).unwrap_or_default());
                    rest = &inner[end + 1..];
                    continue;
                }
            }
            let is_var = ["request.", "context.", "stageVariables.", "response."]
                .iter()
                .any(|p| after.starts_with(p));
            if !is_var {
                out.push('$');
                rest = after;
                continue;
            }
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
                .unwrap_or(after.len());
            out.push_str(&self.variable(&after[..end]).unwrap_or_default());
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn encode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Applies request mappings to the outgoing URI and headers.
pub fn map_request(
    mappings: &BTreeMap<String, String>,
    src: &Sources<'_>,
    uri: &mut String,
    headers: &mut HeaderMap,
) {
    if mappings.is_empty() {
        return;
    }
    let (base, query) = match uri.split_once('?') {
        Some((b, q)) => (b.to_string(), parse_query(q)),
        None => (uri.clone(), Vec::new()),
    };
    let mut base = base;
    let mut query = query;
    for (key, expr) in mappings {
        let Some((op, target)) = key.split_once(':') else {
            continue;
        };
        let value = src.evaluate(expr);
        if let Some(name) = target.strip_prefix("header.") {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            match op {
                "remove" => {
                    headers.remove(&name);
                }
                "append" | "overwrite" => {
                    let Ok(v) = HeaderValue::from_str(&value) else {
                        continue;
                    };
                    if op == "overwrite" {
                        headers.insert(name, v);
                    } else {
                        headers.append(name, v);
                    }
                }
                _ => {}
            }
        } else if let Some(name) = target.strip_prefix("querystring.") {
            let key = encode(name);
            match op {
                "remove" => query.retain(|(k, _)| *k != key),
                "overwrite" => {
                    query.retain(|(k, _)| *k != key);
                    query.push((key, encode(&value)));
                }
                "append" => query.push((key, encode(&value))),
                _ => {}
            }
        } else if target == "path" && op == "overwrite" {
            // Keep scheme and authority; replace the path.
            if let Some(start) = base.find("://").map(|i| i + 3) {
                let path_at = base[start..].find('/').map_or(base.len(), |i| start + i);
                let path = if value.starts_with('/') {
                    value
                } else {
                    format!("/{value}")
                };
                base = format!("{}{}", &base[..path_at], path);
            }
        }
    }
    *uri = base;
    if !query.is_empty() {
        uri.push('?');
        let q: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        uri.push_str(&q.join("&"));
    }
}

/// Applies the response mappings for the integration's status code.
pub fn map_response(
    mappings: &BTreeMap<String, BTreeMap<String, String>>,
    src: &Sources<'_>,
    status: &mut StatusCode,
    headers: &mut HeaderMap,
) {
    let Some(ops) = mappings.get(status.as_str()) else {
        return;
    };
    for (key, expr) in ops {
        let Some((op, target)) = key.split_once(':') else {
            continue;
        };
        let value = src.evaluate(expr);
        if target.eq_ignore_ascii_case("statuscode") && op == "overwrite" {
            if let Some(s) = value
                .trim()
                .parse()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
            {
                *status = s;
            }
        } else if let Some(name) = target.strip_prefix("header.") {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            match op {
                "remove" => {
                    headers.remove(&name);
                }
                "append" | "overwrite" => {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        if op == "overwrite" {
                            headers.insert(name, v);
                        } else {
                            headers.append(name, v);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_mapping() {
        let mut h = HeaderMap::new();
        h.insert("x-in", HeaderValue::from_static("v1"));
        h.insert("x-gone", HeaderValue::from_static("1"));
        let claims = json!({"sub": "u-1", "n": 3}).as_object().unwrap().clone();
        let vars = HashMap::from([("env".to_string(), "prod".to_string())]);
        let params = vec![("id".to_string(), "42".to_string())];
        let src = Sources {
            headers: &h.clone(),
            query: Some("q=a+b&z=1"),
            path: "/pets/42",
            path_parameters: &params,
            stage_variables: &vars,
            claims: Some(&claims),
            request_id: "rid",
            api_id: "api",
            stage: "$default",
            route_key: "GET /pets/{id}",
            method: "GET",
            domain: "api.execute-api.localhost",
            source_ip: "127.0.0.1",
            response_headers: None,
        };
        let mappings = BTreeMap::from([
            (
                "append:header.x-user".to_string(),
                "$context.authorizer.claims.sub".to_string(),
            ),
            (
                "overwrite:header.x-mixed".to_string(),
                "id-${request.path.id}-${stageVariables.env}".to_string(),
            ),
            ("remove:header.x-gone".to_string(), "''".to_string()),
            (
                "overwrite:querystring.q".to_string(),
                "$request.querystring.q".to_string(),
            ),
            ("remove:querystring.z".to_string(), "".to_string()),
            (
                "overwrite:path".to_string(),
                "/v2/items/$request.path.id".to_string(),
            ),
            (
                "append:querystring.rid".to_string(),
                "$context.requestId".to_string(),
            ),
        ]);
        let mut uri = "http://backend:9/pets/42?z=1&q=old".to_string();
        let mut out = h.clone();
        map_request(&mappings, &src, &mut uri, &mut out);
        assert_eq!(out["x-user"], "u-1");
        assert_eq!(out["x-mixed"], "id-42-prod");
        assert!(!out.contains_key("x-gone"));
        assert_eq!(uri, "http://backend:9/v2/items/42?rid=rid&q=a%20b");
        let mut status = StatusCode::OK;
        let mut rh = HeaderMap::new();
        let resp = BTreeMap::from([(
            "200".to_string(),
            BTreeMap::from([
                ("overwrite:statuscode".to_string(), "204".to_string()),
                (
                    "append:header.x-req".to_string(),
                    "$context.requestId".to_string(),
                ),
            ]),
        )]);
        map_response(&resp, &src, &mut status, &mut rh);
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(rh["x-req"], "rid");
    }
}
