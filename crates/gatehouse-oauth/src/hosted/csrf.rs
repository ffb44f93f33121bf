//! CSRF protection for every hosted form: a random token in an HttpOnly SameSite=Lax cookie,
//! repeated in a hidden field, compared in constant time (the double-submit pattern). A
//! cross-site page can neither read the cookie nor, under SameSite=Lax, make the browser send
//! it with a POST; with the `__Host-` prefix on https it cannot plant one either.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_core::env::{random_bytes, Random};
use subtle::ConstantTimeEq;

/// 32 random bytes, base64url: 43 characters.
pub const TOKEN_LEN: usize = 43;

pub fn new_token(rng: &dyn Random) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>(rng))
}

/// Whether `s` is shaped like one of our tokens (so a cookie we did not set is replaced).
pub fn well_formed(s: &str) -> bool {
    s.len() == TOKEN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The form's token matches the cookie's.
pub fn verify(cookie: Option<&str>, field: Option<&str>) -> bool {
    match (cookie, field) {
        (Some(c), Some(f)) if well_formed(c) => c.as_bytes().ct_eq(f.as_bytes()).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::env::OsRandom;

    #[test]
    fn tokens_match_only_themselves() {
        let t = new_token(&OsRandom);
        assert!(well_formed(&t));
        assert!(verify(Some(&t), Some(&t)));
        assert!(!verify(Some(&t), Some(&new_token(&OsRandom))));
        assert!(!verify(Some(&t), None));
        assert!(!verify(None, Some(&t)));
        assert!(!verify(Some(""), Some("")));
        assert!(!verify(Some("short"), Some("short")));
    }
}
