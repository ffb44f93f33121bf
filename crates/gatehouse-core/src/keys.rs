//! Per-pool RS256 signing keys: generated at pool creation (aws-lc-rs), stored by the store,
//! held in memory once loaded so signing and verifying never touch the disk.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use gatehouse_store::{SigningKey, Store};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::crypt::SecretBox;
use crate::env::Random;
use crate::error::{Error, Result};

/// The loaded keys of one pool.
pub struct PoolKeys {
    active_kid: String,
    signer: KeyPair,
    verifiers: Vec<(String, ParsedPublicKey)>,
    jwks: Value,
    rng: SystemRandom,
}

impl PoolKeys {
    fn load(keys: &[SigningKey]) -> Result<Self> {
        let mut verifiers = Vec::new();
        let mut jwks = Vec::new();
        let mut active = None;
        for k in keys {
            let pair = KeyPair::from_pkcs8(&k.private_pkcs8)
                .map_err(|e| Error::Internal(format!("signing key {} unreadable: {e}", k.kid)))?;
            let public = pair.public_key();
            let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public.as_ref())
                .map_err(|e| Error::Internal(format!("public key {}: {e}", k.kid)))?;
            verifiers.push((k.kid.clone(), parsed));
            jwks.push(json!({
                "alg": "RS256",
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                "kid": k.kid,
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "use": "sig",
            }));
            if k.active {
                active = Some((k.kid.clone(), pair));
            }
        }
        let (active_kid, signer) =
            active.ok_or_else(|| Error::Internal("pool has no active signing key".into()))?;
        Ok(Self {
            active_kid,
            signer,
            verifiers,
            jwks: json!({ "keys": jwks }),
            rng: SystemRandom::new(),
        })
    }

    /// A compact JWS (RS256) of `claims` with the active key.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let header = json!({ "kid": self.active_kid, "alg": "RS256" });
        let mut out = String::with_capacity(1024);
        URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut out);
        let mut sig = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
            .map_err(|_| Error::Internal("RSA signing failed".into()))?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
        Ok(out)
    }

    /// Checks the signature of `signing_input` made by the key `kid`.
    pub fn verify(&self, kid: &str, signing_input: &[u8], signature: &[u8]) -> bool {
        self.verifiers
            .iter()
            .find(|(k, _)| k == kid)
            .is_some_and(|(_, key)| key.verify_sig(signing_input, signature).is_ok())
    }

    /// The JSON Web Key Set of the pool.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

/// The key ring of every pool, filled lazily from the store. Private keys are stored sealed
/// under the master key, so the database alone does not let anyone mint tokens.
pub struct KeyRing {
    store: Arc<dyn Store>,
    secrets: Arc<SecretBox>,
    cache: RwLock<HashMap<String, Arc<PoolKeys>>>,
}

fn seal_context(pool_id: &str, kid: &str) -> String {
    format!("signing-key/{pool_id}/{kid}")
}

impl KeyRing {
    pub fn new(store: Arc<dyn Store>, secrets: Arc<SecretBox>) -> Self {
        Self {
            store,
            secrets,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The PKCS#8 DER of a stored key. Keys written before sealing was introduced are plain
    /// DER (which starts with a SEQUENCE tag); sealed ones are base64 text.
    fn private_der(&self, key: &SigningKey) -> Result<Vec<u8>> {
        // Keys stored before sealing are plain PKCS#8 DER: an RSA key's starts with a SEQUENCE
        // with a two-byte length (30 82). Sealed keys are base64 text, which can start with '0'
        // (0x30) but never holds 0x82.
        if key.private_pkcs8.starts_with(&[0x30, 0x82]) {
            return Ok(key.private_pkcs8.clone());
        }
        let sealed = std::str::from_utf8(&key.private_pkcs8)
            .map_err(|_| Error::Internal(format!("signing key {} unreadable", key.kid)))?;
        self.secrets
            .open(sealed, &seal_context(&key.pool_id, &key.kid))
    }

    /// Generates and stores the first signing key of a new pool.
    pub async fn create_for_pool(&self, pool_id: &str, now: i64, rng: &dyn Random) -> Result<()> {
        let (mut key, der) = self.generate(pool_id, now, rng).await?;
        self.store.put_signing_key(&key).await?;
        key.private_pkcs8 = der;
        let loaded = PoolKeys::load(std::slice::from_ref(&key))?;
        self.insert(pool_id, Arc::new(loaded));
        Ok(())
    }

    /// Makes a new key the pool's signing key; the old ones stay in the JWKS to verify the
    /// tokens they signed. Returns the new key's id.
    pub async fn rotate(&self, pool_id: &str, now: i64, rng: &dyn Random) -> Result<String> {
        let (key, _) = self.generate(pool_id, now, rng).await?;
        self.store.rotate_signing_key(&key).await?;
        self.forget(pool_id);
        Ok(key.kid)
    }

    /// A new RSA-2048 key, sealed for the store (and its DER, for memory).
    async fn generate(
        &self,
        pool_id: &str,
        now: i64,
        rng: &dyn Random,
    ) -> Result<(SigningKey, Vec<u8>)> {
        let der = tokio::task::spawn_blocking(|| {
            let pair = KeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| Error::Internal("RSA key generation failed".into()))?;
            let der = pair
                .as_der()
                .map_err(|_| Error::Internal("RSA key encoding failed".into()))?;
            Ok::<_, Error>(der.as_ref().to_vec())
        })
        .await
        .map_err(|e| Error::Internal(format!("keygen task: {e}")))??;
        let pair = KeyPair::from_pkcs8(&der)
            .map_err(|e| Error::Internal(format!("generated key unreadable: {e}")))?;
        // The kid is a digest of the public key, base64 like Cognito's.
        let kid = STANDARD.encode(Sha256::digest(pair.public_key().as_ref()));
        let sealed = self.secrets.seal(&der, &seal_context(pool_id, &kid), rng)?;
        let key = SigningKey {
            pool_id: pool_id.to_string(),
            kid,
            private_pkcs8: sealed.into_bytes(),
            created: now,
            active: true,
        };
        Ok((key, der))
    }

    pub async fn keys(&self, pool_id: &str) -> Result<Arc<PoolKeys>> {
        if let Some(k) = self.cache.read().ok().and_then(|c| c.get(pool_id).cloned()) {
            return Ok(k);
        }
        let mut stored = self.store.signing_keys(pool_id).await?;
        if stored.is_empty() {
            return Err(Error::pool_not_found(pool_id));
        }
        for key in &mut stored {
            key.private_pkcs8 = self.private_der(key)?;
        }
        let loaded = Arc::new(PoolKeys::load(&stored)?);
        self.insert(pool_id, Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Drops every cached key set (another node changed some): each is re-read on next use.
    pub fn forget_all(&self) {
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    pub fn forget(&self, pool_id: &str) {
        if let Ok(mut c) = self.cache.write() {
            c.remove(pool_id);
        }
    }

    fn insert(&self, pool_id: &str, keys: Arc<PoolKeys>) {
        if let Ok(mut c) = self.cache.write() {
            c.insert(pool_id.to_string(), keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Outbox;
    use crate::password::PasswordHasher;
    use crate::pools::NewPool;
    use crate::{Directory, DirectoryConfig};
    use gatehouse_store::sqlite::SqliteStore;

    /// Randomness whose first byte is fixed: a nonce starting 0xD0 makes base64 text that
    /// starts with '0', the byte plain DER starts with.
    struct Leading(u8);
    impl Random for Leading {
        fn fill(&self, buf: &mut [u8]) {
            crate::env::OsRandom.fill(buf);
            if let Some(b) = buf.first_mut() {
                *b = self.0;
            }
        }
    }

    #[tokio::test]
    async fn sealed_keys_are_read_back_whatever_their_first_character() {
        let tmp = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&tmp.path().join("k.db")).unwrap());
        let secrets = Arc::new(SecretBox::new(&[7; crate::crypt::KEY_LEN]).unwrap());
        let dir = Directory::new(
            Arc::clone(&store),
            PasswordHasher::new(1).unwrap(),
            Arc::new(Outbox::new(tmp.path().join("outbox.jsonl"))),
            Arc::new(crate::env::SystemClock),
            Arc::new(crate::env::OsRandom),
            SecretBox::new(&[7; crate::crypt::KEY_LEN]).unwrap(),
            DirectoryConfig {
                public_url: "http://idp.test".into(),
                region: "us-east-1".into(),
                account_id: "000000000000".into(),
            },
        );
        let pool = dir
            .create_pool(NewPool {
                name: "p".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .id;
        let maker = KeyRing::new(Arc::clone(&store), Arc::clone(&secrets));
        for first in [0xD0u8, 0xD3, 0x00, 0xFF] {
            let kid = maker.rotate(&pool, 2, &Leading(first)).await.unwrap();
            let stored = store.signing_keys(&pool).await.unwrap();
            let new = stored.iter().find(|k| k.kid == kid).unwrap();
            if first == 0xD0 {
                assert_eq!(new.private_pkcs8.first(), Some(&b'0'));
            }
            // Another node (a fresh ring) loads the keys from the store and signs with the new
            // one; the maker verifies.
            let reader = KeyRing::new(Arc::clone(&store), Arc::clone(&secrets));
            let token = reader
                .keys(&pool)
                .await
                .unwrap()
                .sign(&serde_json::json!({"sub": "x"}))
                .unwrap();
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            assert!(maker
                .keys(&pool)
                .await
                .unwrap()
                .verify(&kid, input.as_bytes(), &sig));
        }
    }
}
