//! Passwords: the pool's policy, temporary passwords, and Argon2id hashing. Hashing is slow by
//! design, so it runs on the blocking pool behind a semaphore: a storm of sign-ins queues
//! instead of allocating 19 MiB per request until memory runs out.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse_store::PasswordPolicy;
use tokio::sync::Semaphore;

use crate::env::{random_string, Random};
use crate::error::{Error, Result};

/// Cognito's accepted symbols for password policies.
pub const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-";

/// Checks a password against the pool policy, with AWS's message.
pub fn check_policy(policy: &PasswordPolicy, password: &str) -> Result<()> {
    let fail = |why: &str| {
        Err(Error::InvalidPassword(format!(
            "Password did not conform with policy: {why}"
        )))
    };
    if password.chars().count() < policy.minimum_length as usize {
        return fail("Password not long enough");
    }
    if password.chars().count() > 256 {
        return fail("Password must have length less than or equal to 256");
    }
    if policy.require_lowercase && !password.chars().any(|c| c.is_lowercase()) {
        return fail("Password must have lowercase characters");
    }
    if policy.require_uppercase && !password.chars().any(|c| c.is_uppercase()) {
        return fail("Password must have uppercase characters");
    }
    if policy.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if policy.require_symbols && !password.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    Ok(())
}

/// A temporary password that satisfies `policy` (AdminCreateUser without one).
pub fn temporary_password(policy: &PasswordPolicy, rng: &dyn Random) -> String {
    let len = (policy.minimum_length as usize).max(12);
    let mut pw = String::new();
    pw.push_str(&random_string(rng, b"ABCDEFGHJKLMNPQRSTUVWXYZ", 1));
    pw.push_str(&random_string(rng, b"abcdefghijkmnopqrstuvwxyz", 1));
    pw.push_str(&random_string(rng, b"23456789", 1));
    pw.push_str(&random_string(rng, b"!#%&*+-=?@^_", 1));
    pw.push_str(&random_string(
        rng,
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
        len - 4,
    ));
    pw
}

/// Argon2id with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    /// A hash of nothing in particular, verified when a user does not exist so that the
    /// response time does not say whether it does.
    decoy: Arc<String>,
}

impl PasswordHasher {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    pub fn new(max_concurrent: usize) -> Result<Self> {
        Self::with_params(max_concurrent, 19 * 1024, 2)
    }

    pub fn with_params(max_concurrent: usize, memory_kib: u32, iterations: u32) -> Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"gatehouse-decoy!")
            .map_err(|e| Error::Internal(format!("argon2 salt: {e}")))?;
        let decoy = argon
            .hash_password(b"decoy password", &salt)
            .map_err(|e| Error::Internal(format!("argon2: {e}")))?
            .to_string();
        Ok(Self {
            argon: Arc::new(argon),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            decoy: Arc::new(decoy),
        })
    }

    pub async fn hash(&self, password: &str, rng: &dyn Random) -> Result<String> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let password = password.to_owned();
        let argon = Arc::clone(&self.argon);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("hasher closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&salt)
                .map_err(|e| Error::Internal(format!("argon2 salt: {e}")))?;
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2: {e}")))
        })
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))?
    }

    /// True when `password` matches `phc`. With `None` a decoy hash is checked, so a missing
    /// user costs the same time as a wrong password.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let is_real = phc.is_some();
        let phc = phc.map_or_else(|| self.decoy.as_str().to_string(), str::to_string);
        let password = password.to_owned();
        let argon = Arc::clone(&self.argon);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("hasher closed".into()))?;
        let ok = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&phc)
                .map_err(|e| Error::Internal(format!("stored hash unreadable: {e}")))?;
            Ok::<_, Error>(argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))??;
        Ok(ok && is_real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::OsRandom;

    #[test]
    fn policy_messages() {
        let p = PasswordPolicy::default();
        assert!(check_policy(&p, "Passw0rd!").is_ok());
        let e = check_policy(&p, "short").unwrap_err().to_string();
        assert_eq!(
            e,
            "Password did not conform with policy: Password not long enough"
        );
        let e = check_policy(&p, "password1!").unwrap_err().to_string();
        assert!(e.contains("uppercase"), "{e}");
        let e = check_policy(&p, "Password!!").unwrap_err().to_string();
        assert!(e.contains("numeric"), "{e}");
        let e = check_policy(&p, "Password11").unwrap_err().to_string();
        assert!(e.contains("symbol"), "{e}");
    }

    #[test]
    fn temporary_passwords_satisfy_policy() {
        let p = PasswordPolicy {
            minimum_length: 20,
            ..Default::default()
        };
        for _ in 0..50 {
            let pw = temporary_password(&p, &OsRandom);
            assert!(check_policy(&p, &pw).is_ok(), "{pw}");
        }
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = PasswordHasher::with_params(2, 1024, 1).unwrap();
        let phc = h.hash("Correct horse 1!", &OsRandom).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(!phc.contains("Correct"));
        assert!(h.verify("Correct horse 1!", Some(&phc)).await.unwrap());
        assert!(!h.verify("wrong", Some(&phc)).await.unwrap());
        assert!(!h.verify("decoy password", None).await.unwrap());
    }
}
