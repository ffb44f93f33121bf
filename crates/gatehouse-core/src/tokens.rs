//! JSON Web Tokens: decoding a compact JWS and checking its RS256 signature against a pool's
//! keys. Building the claims is the auth flows' business (auth.rs).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// A compact JWS split and decoded, with any algorithm: nothing in it is trusted yet.
pub struct Jws<'a> {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, what the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// The parts of one of our tokens (RS256 with a kid), decoded but not yet trusted.
pub struct UnverifiedToken<'a> {
    pub kid: String,
    pub claims: Map<String, Value>,
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

/// Largest token we look at; real ones are 1-2 KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Splits and decodes a compact JWS. `None` for anything malformed or oversized.
pub fn parse(token: &str) -> Option<Jws<'_>> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    Some(Jws {
        alg: header.get("alg")?.as_str()?.to_string(),
        kid: header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_string),
        claims,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: URL_SAFE_NO_PAD.decode(s).ok()?,
    })
}

/// Decodes one of our tokens. `None` for anything that is not a well-formed RS256 JWT with a
/// kid.
pub fn decode(token: &str) -> Option<UnverifiedToken<'_>> {
    let jws = parse(token)?;
    if jws.alg != "RS256" {
        return None;
    }
    Some(UnverifiedToken {
        kid: jws.kid?,
        claims: jws.claims,
        signing_input: jws.signing_input,
        signature: jws.signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        for t in [
            "",
            "a",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "....",
            "eyJ.eyJ.x",
            "\u{0}.\u{1}.\u{2}",
        ] {
            assert!(decode(t).is_none(), "{t:?}");
        }
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)
        );
        assert!(decode(&none_alg).is_none());
    }
}
