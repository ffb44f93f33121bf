//! Secrets at rest: values that must be stored but must not be readable from the database alone
//! (SRP verifiers, TOTP secrets, device verifiers) are sealed with AES-256-GCM under the node's
//! master key. The pool/user identity is bound in as associated data, so a sealed value copied
//! onto another user does not open.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::env::{random_bytes, Random};
use crate::error::{Error, Result};

pub const KEY_LEN: usize = 32;

pub struct SecretBox {
    key: LessSafeKey,
}

impl SecretBox {
    pub fn new(master_key: &[u8; KEY_LEN]) -> Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, master_key)
            .map_err(|_| Error::Internal("bad master key".into()))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)`.
    pub fn seal(&self, plaintext: &[u8], context: &str, rng: &dyn Random) -> Result<String> {
        let nonce_bytes = random_bytes::<NONCE_LEN>(rng);
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>> {
        let corrupt = || {
            Error::Internal("a sealed secret does not open (wrong master key or tampered)".into())
        };
        let raw = STANDARD.decode(sealed).map_err(|_| corrupt())?;
        if raw.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| corrupt())?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::OsRandom;

    #[test]
    fn seals_and_opens_bound_to_context() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = b.seal(b"verifier", "pool/alice", &OsRandom).unwrap();
        assert!(!sealed.contains("verifier"));
        assert_eq!(b.open(&sealed, "pool/alice").unwrap(), b"verifier");
        assert!(b.open(&sealed, "pool/bob").is_err());
        let other = SecretBox::new(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed, "pool/alice").is_err());
        assert!(b.open("not base64!", "pool/alice").is_err());
        assert!(b.open("AAAA", "pool/alice").is_err());
    }
}
