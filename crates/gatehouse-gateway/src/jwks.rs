//! Keys of issuers that are not our own pools: OIDC discovery, then the `jwks_uri`, cached for
//! up to an hour. An unknown `kid` triggers a refetch at most once per `REFETCH_INTERVAL` per
//! issuer, one fetch at a time, so a flood of random `kid`s cannot make us hammer an issuer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::client::{get_small, HttpClient};

const MAX_AGE: Duration = Duration::from_secs(3600);
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOC: usize = 512 * 1024;

/// A verification key from a JWKS.
#[derive(Debug)]
pub enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// P-256, uncompressed point.
    Ec(Vec<u8>),
}

impl PublicKey {
    pub fn verify(&self, alg: &str, input: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::Rsa { n, e }, "RS256" | "RS384" | "RS512") => {
                let params = match alg {
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA256,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, input, sig)
                    .is_ok()
            }
            (PublicKey::Ec(point), "ES256") => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, sig)
                    .is_ok()
            }
            _ => false,
        }
    }

    fn from_jwk(jwk: &Value) -> Option<Self> {
        let b64 = |name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        };
        match jwk.get("kty").and_then(Value::as_str)? {
            "RSA" => Some(PublicKey::Rsa {
                n: b64("n")?,
                e: b64("e")?,
            }),
            "EC" if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
                let (x, y) = (b64("x")?, b64("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Some(PublicKey::Ec(point))
            }
            _ => None,
        }
    }
}

/// Parses a JWKS document: keys by kid (keys without a kid kept apart).
pub fn parse_jwks(doc: &Value) -> KeySet {
    let mut set = KeySet::default();
    for jwk in doc
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if jwk
            .get("use")
            .and_then(Value::as_str)
            .is_some_and(|u| u != "sig")
        {
            continue;
        }
        let Some(key) = PublicKey::from_jwk(jwk) else {
            continue;
        };
        match jwk.get("kid").and_then(Value::as_str) {
            Some(kid) => {
                set.by_kid.insert(kid.to_string(), Arc::new(key));
            }
            None => set.unnamed.push(Arc::new(key)),
        }
    }
    set
}

#[derive(Debug, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<PublicKey>>,
    unnamed: Vec<Arc<PublicKey>>,
}

impl KeySet {
    fn find(&self, kid: Option<&str>) -> Option<Arc<PublicKey>> {
        match kid {
            Some(k) => self.by_kid.get(k).cloned(),
            // No kid: only unambiguous when the set has one key.
            None => {
                let all: Vec<_> = self.by_kid.values().chain(self.unnamed.iter()).collect();
                (all.len() == 1).then(|| Arc::clone(all[0]))
            }
        }
    }
}

#[derive(Default)]
struct IssuerState {
    keys: Mutex<Option<(Arc<KeySet>, Instant)>>,
    last_fetch: Mutex<Option<Instant>>,
    fetching: tokio::sync::Mutex<()>,
}

pub struct JwksCache {
    client: HttpClient,
    issuers: Mutex<HashMap<String, Arc<IssuerState>>>,
}

impl JwksCache {
    pub fn new(client: HttpClient) -> Self {
        Self {
            client,
            issuers: Mutex::new(HashMap::new()),
        }
    }

    fn state(&self, issuer: &str) -> Arc<IssuerState> {
        match self.issuers.lock() {
            Ok(mut map) => Arc::clone(map.entry(issuer.to_string()).or_default()),
            Err(_) => Arc::new(IssuerState::default()),
        }
    }

    /// The issuer's key `kid`; a description of the failure otherwise.
    pub async fn key(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<PublicKey>, String> {
        let state = self.state(issuer);
        let cached = state.keys.lock().ok().and_then(|k| k.clone());
        if let Some((set, at)) = &cached {
            if at.elapsed() < MAX_AGE {
                if let Some(k) = set.find(kid) {
                    return Ok(k);
                }
            }
        }
        let _guard = state.fetching.lock().await;
        // Another request may have refreshed while this one waited.
        let cached = state.keys.lock().ok().and_then(|k| k.clone());
        if let Some((set, at)) = &cached {
            if at.elapsed() < MAX_AGE {
                if let Some(k) = set.find(kid) {
                    return Ok(k);
                }
            }
        }
        let recently = state
            .last_fetch
            .lock()
            .ok()
            .and_then(|l| *l)
            .is_some_and(|t| t.elapsed() < REFETCH_INTERVAL);
        if recently {
            return cached
                .and_then(|(set, _)| set.find(kid))
                .ok_or_else(|| "the signing key is not in the issuer's JWKS".into());
        }
        if let Ok(mut l) = state.last_fetch.lock() {
            *l = Some(Instant::now());
        }
        match self.fetch(issuer).await {
            Ok(set) => {
                let set = Arc::new(set);
                if let Ok(mut k) = state.keys.lock() {
                    *k = Some((Arc::clone(&set), Instant::now()));
                }
                set.find(kid)
                    .ok_or_else(|| "the signing key is not in the issuer's JWKS".into())
            }
            Err(e) => {
                tracing::warn!(issuer, error = %e, "fetching the issuer's JWKS failed");
                // An issuer that is briefly down keeps working with the keys we have.
                cached
                    .and_then(|(set, _)| set.find(kid))
                    .ok_or_else(|| "the issuer's keys could not be fetched".into())
            }
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<KeySet, String> {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc = get_small(&self.client, &discovery, MAX_DOC, FETCH_TIMEOUT).await?;
        let doc: Value = serde_json::from_slice(&doc).map_err(|e| format!("{discovery}: {e}"))?;
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{discovery}: no jwks_uri"))?;
        let jwks = get_small(&self.client, jwks_uri, MAX_DOC, FETCH_TIMEOUT).await?;
        let jwks: Value = serde_json::from_slice(&jwks).map_err(|e| format!("{jwks_uri}: {e}"))?;
        Ok(parse_jwks(&jwks))
    }
}
