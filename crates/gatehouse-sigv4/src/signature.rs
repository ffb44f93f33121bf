//! The cryptography of SigV4: the string to sign, the derived signing key, the HMAC.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::canonical::ALGORITHM;

type HmacSha256 = Hmac<Sha256>;

pub(crate) const TERMINATOR: &str = "aws4_request";

/// The credential scope: `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Scope {
    fn as_string(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, TERMINATOR
        )
    }
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

// HMAC accepts keys of any length, so `new_from_slice` cannot fail; `None` is only there
// to avoid an unwrap, and callers treat it as a failed verification.
fn hmac(key: &[u8], data: &[u8]) -> Option<[u8; 32]> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().into())
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn signing_key(secret: &str, scope: &Scope) -> Option<[u8; 32]> {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac(k_secret.as_bytes(), scope.date.as_bytes())?;
    let k_region = hmac(&k_date, scope.region.as_bytes())?;
    let k_service = hmac(&k_region, scope.service.as_bytes())?;
    hmac(&k_service, TERMINATOR.as_bytes())
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex(sha256(canonical request))>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &Scope, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.as_string(),
        sha256_hex(canonical_request)
    )
}

/// The raw (not hex) signature of a string to sign.
pub(crate) fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> Option<[u8; 32]> {
    hmac(signing_key, string_to_sign.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example from AWS's SigV4 documentation (IAM ListUsers, 20150830, us-east-1).
    #[test]
    fn documented_signing_key_and_signature() {
        let scope = Scope {
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        assert_eq!(
            key.map(hex::encode).as_deref(),
            Some("c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        );
        let canonical = "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
            content-type:application/x-www-form-urlencoded; charset=utf-8\n\
            host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
            content-type;host;x-amz-date\n\
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let sts = string_to_sign("20150830T123600Z", &scope, canonical.as_bytes());
        let sig = key.and_then(|k| signature(&k, &sts));
        assert_eq!(
            sig.map(hex::encode).as_deref(),
            Some("5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        );
    }
}
