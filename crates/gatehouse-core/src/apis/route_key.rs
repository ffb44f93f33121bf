//! Route keys of HTTP APIs: `$default`, or `METHOD /path` where METHOD is an HTTP method or
//! `ANY` and the path's segments are literals, `{param}`s, or a greedy `{param+}` as the
//! last segment. Anything else is refused before it reaches the store.

use super::error::{ApiError, ApiResult};

pub const DEFAULT_ROUTE: &str = "$default";

const METHODS: &[&str] = &[
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

/// Checks a route key; the error message says what is wrong with it.
pub fn validate(route_key: &str) -> ApiResult<()> {
    if route_key == DEFAULT_ROUTE {
        return Ok(());
    }
    let invalid = |why: &str| ApiError::bad(format!("Invalid route key: {route_key}. {why}"));
    let Some((method, path)) = route_key.split_once(' ') else {
        return Err(invalid(
            "A route key is $default or an HTTP method and a path, e.g. 'GET /pets'.",
        ));
    };
    if !METHODS.contains(&method) {
        return Err(invalid(&format!(
            "'{method}' is not one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS."
        )));
    }
    if !path.starts_with('/') {
        return Err(invalid("The path must start with '/'."));
    }
    if path == "/" {
        return Ok(());
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut names: Vec<&str> = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if seg.is_empty() {
            return Err(invalid("The path must not contain empty segments."));
        }
        if seg.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("The path must not contain whitespace."));
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
            {
                return Err(invalid(&format!("'{seg}' is not a valid path parameter.")));
            }
            if greedy && !last {
                return Err(invalid(
                    "A greedy path parameter ({name+}) must be the last segment.",
                ));
            }
            if names.contains(&name) {
                return Err(invalid(&format!("Path parameter '{name}' appears twice.")));
            }
            names.push(name);
        } else if seg.contains('{') || seg.contains('}') {
            return Err(invalid(&format!(
                "'{seg}': a path parameter must be a whole segment."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_aws_route_keys() {
        for k in [
            "$default",
            "GET /",
            "ANY /pets",
            "GET /pets/{id}",
            "POST /pets/{id}/toys/{toy}",
            "ANY /{proxy+}",
            "GET /static/{path+}",
            "OPTIONS /a.b/c-d_e",
        ] {
            assert!(validate(k).is_ok(), "{k}");
        }
    }

    #[test]
    fn refuses_malformed_keys() {
        for k in [
            "",
            "GET",
            "GET pets",
            "FETCH /pets",
            "get /pets",
            "GET /pets//x",
            "GET /pets/",
            "GET /{proxy+}/x",
            "GET /{}",
            "GET /a{b}",
            "GET /{id}/{id}",
            "GET  /pets",
            "$DEFAULT",
        ] {
            assert!(validate(k).is_err(), "{k:?}");
        }
    }
}
