//! The hosted pages' cookies: the CSRF token and the per-pool hosted session. Both HttpOnly and
//! SameSite=Lax, Path=/, Secure when the public URL is https (and then the CSRF cookie takes the
//! `__Host-` prefix, so a sibling subdomain cannot plant one).

use axum::http::{header, HeaderMap, HeaderValue};

/// The value of cookie `name` in the request, if present exactly once.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k.trim() == name {
                    if found.is_some() {
                        // Two cookies of one name (a planted one beside ours): trust neither.
                        return None;
                    }
                    found = Some(v.trim().trim_matches('"'));
                }
            }
        }
    }
    found
}

#[derive(Debug, Clone, Copy)]
pub struct CookieJar {
    pub secure: bool,
}

impl CookieJar {
    pub fn csrf_name(&self) -> &'static str {
        if self.secure {
            "__Host-gh_csrf"
        } else {
            "gh_csrf"
        }
    }

    /// The hosted session cookie of a pool (pool ids are `<region>_<alphanumerics>`, valid
    /// cookie-name characters). `__Host-` on https too: a session planted by a sibling
    /// subdomain would sign the victim in to the planter's account.
    pub fn session_name(&self, pool_id: &str) -> String {
        if self.secure {
            format!("__Host-gh_session_{pool_id}")
        } else {
            format!("gh_session_{pool_id}")
        }
    }

    fn build(&self, name: &str, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
        let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).ok()
    }

    /// A browser-session cookie: the server-side session decides how long it is good for.
    pub fn set(&self, name: &str, value: &str) -> Option<HeaderValue> {
        self.build(name, value, None)
    }

    pub fn clear(&self, name: &str) -> Option<HeaderValue> {
        self.build(name, "", Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many_and_refuses_duplicates() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gh_csrf=abc; b=2"),
        );
        assert_eq!(get(&h, "gh_csrf"), Some("abc"));
        assert_eq!(get(&h, "missing"), None);
        h.append(header::COOKIE, HeaderValue::from_static("gh_csrf=evil"));
        assert_eq!(get(&h, "gh_csrf"), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_on_https() {
        let jar = CookieJar { secure: true };
        let c = jar
            .set("gh_session_x", "v")
            .map(|v| v.to_str().unwrap_or("").to_string());
        assert_eq!(
            c.as_deref(),
            Some("gh_session_x=v; Path=/; HttpOnly; SameSite=Lax; Secure")
        );
        assert_eq!(jar.csrf_name(), "__Host-gh_csrf");
        assert_eq!(jar.session_name("p"), "__Host-gh_session_p");
        let plain = CookieJar { secure: false };
        let c = plain
            .clear("gh_csrf")
            .map(|v| v.to_str().unwrap_or("").to_string());
        assert_eq!(
            c.as_deref(),
            Some("gh_csrf=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
        );
    }
}
