//! OAuth scopes: the standard ones Cognito knows and custom `resourceServer/scope` ones.

/// The scopes every pool has.
pub const STANDARD: &[&str] = &[
    "openid",
    "email",
    "phone",
    "profile",
    crate::auth::USER_ADMIN_SCOPE,
];

/// A custom scope names a resource server: `identifier/name`.
pub fn is_custom(scope: &str) -> bool {
    scope.contains('/')
}

/// The scopes of a `scope` parameter (space-separated, RFC 6749 §3.3), in order, without
/// duplicates; `None` when the parameter is absent or empty.
pub fn requested(scope: Option<&str>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in scope?.split(' ').filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_scopes() {
        assert_eq!(requested(None), None);
        assert_eq!(requested(Some("  ")), None);
        assert_eq!(
            requested(Some("openid  email openid")),
            Some(vec!["openid".to_string(), "email".to_string()])
        );
        assert!(is_custom("pets/admin"));
        assert!(!is_custom("openid"));
    }
}
