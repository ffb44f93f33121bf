//! What the gateway asks of the directory to verify a token issued by one of our pools without
//! any I/O: which pool an issuer names, and whether a signature is one of that pool's keys.
//! The claims checks (issuer, audience, expiry, scopes) are the authorizer's business.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::Directory;

impl Directory {
    /// The pool id when `issuer` is one of ours (`<public_url>/<poolId>`), else `None`.
    pub fn own_pool_of_issuer<'a>(&self, issuer: &'a str) -> Option<&'a str> {
        let base = self.config.public_url.trim_end_matches('/');
        issuer
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|p| !p.is_empty() && !p.contains('/'))
    }

    /// Whether `signature` over `signing_input` was made by the pool's key `kid` (RS256). In
    /// memory once the pool's keys are loaded; `false` for a pool that does not exist.
    pub async fn verify_pool_signature(
        &self,
        pool_id: &str,
        kid: &str,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        match self.keys.keys(pool_id).await {
            Ok(keys) => Ok(keys.verify(kid, signing_input, signature)),
            Err(Error::ResourceNotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Signs arbitrary claims with the pool's active key: for tests and tooling that need
    /// tokens the gateway must judge (expired, wrong audience, other scopes).
    pub async fn sign_with_pool_key(&self, pool_id: &str, claims: &Value) -> Result<String> {
        self.keys.keys(pool_id).await?.sign(claims)
    }
}
