//! Passwords: the pool's policy, temporary passwords, and Argon2id hashing. Hashing is slow by
//! design, so it runs on the blocking pool behind a semaphore: a storm of sign-ins queues
//! instead of allocating 19 MiB per request until memory runs out.

use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use gatehouse_store::PasswordPolicy;
use subtle::ConstantTimeEq;
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

/// Argon2id with bounded concurrency. Each hashing slot reuses one 19 MiB work area instead of
/// allocating a fresh one per hash: freed per-hash allocations on short-lived blocking threads
/// are kept by the allocator's per-thread arenas, and a sign-in storm grew the process to
/// half a gigabyte that way.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// A hash of nothing in particular, verified when a user does not exist so that the
    /// response time does not say whether it does.
    decoy: Arc<String>,
}

/// Runs Argon2id into `out` using (and, if its size differs, resizing) the work area `mem`.
fn argon2id(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    mem: &mut Vec<Block>,
) -> Result<()> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    if mem.len() != params.block_count() {
        *mem = vec![Block::default(); params.block_count()];
    }
    argon
        .hash_password_into_with_memory(password, salt, out, &mut mem[..])
        .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

fn phc_string(params: &Params, salt: &[u8], hash: &[u8]) -> Result<String> {
    let bad = |e: argon2::password_hash::Error| Error::Internal(format!("argon2 encoding: {e}"));
    let salt = SaltString::encode_b64(salt).map_err(bad)?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: params.try_into().map_err(bad)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(hash).map_err(bad)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string in the work area `mem`.
fn verify_phc(phc: &str, password: &[u8], mem: &mut Vec<Block>) -> Result<bool> {
    let unreadable =
        |e: argon2::password_hash::Error| Error::Internal(format!("stored hash unreadable: {e}"));
    let parsed = PasswordHash::new(phc).map_err(unreadable)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(Error::Internal(format!(
            "stored hash is {}, not argon2id",
            parsed.algorithm
        )));
    }
    let params = Params::try_from(&parsed).map_err(unreadable)?;
    let mut salt_buf = [0u8; 64];
    let salt = parsed
        .salt
        .ok_or_else(|| Error::Internal("stored hash has no salt".into()))?
        .decode_b64(&mut salt_buf)
        .map_err(unreadable)?;
    let expected = parsed
        .hash
        .ok_or_else(|| Error::Internal("stored hash has no output".into()))?;
    let mut out = vec![0u8; expected.len()];
    argon2id(&params, password, salt, &mut out, mem)?;
    Ok(expected.as_bytes().ct_eq(&out).into())
}

impl PasswordHasher {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    pub fn new(max_concurrent: usize) -> Result<Self> {
        Self::with_params(max_concurrent, 19 * 1024, 2)
    }

    pub fn with_params(max_concurrent: usize, memory_kib: u32, iterations: u32) -> Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?;
        let mut mem = Vec::new();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2id(
            &params,
            b"decoy password",
            b"gatehouse-decoy!",
            &mut out,
            &mut mem,
        )?;
        let decoy = phc_string(&params, b"gatehouse-decoy!", &out)?;
        let slots = max_concurrent.max(1);
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(slots)),
            memory: Arc::new(Mutex::new(vec![mem])),
            decoy: Arc::new(decoy),
        })
    }

    /// Runs `work` on the blocking pool with a hashing slot and its work area.
    async fn with_slot<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Internal("hasher closed".into()))?;
        let memory = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            let mut mem = memory
                .lock()
                .ok()
                .and_then(|mut m| m.pop())
                .unwrap_or_default();
            let result = work(&mut mem);
            if let Ok(mut m) = memory.lock() {
                m.push(mem);
            }
            result
        })
        .await
        .map_err(|e| Error::Internal(format!("hash task: {e}")))?
    }

    pub async fn hash(&self, password: &str, rng: &dyn Random) -> Result<String> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let password = password.to_owned();
        let params = self.params.clone();
        self.with_slot(move |mem| {
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            argon2id(&params, password.as_bytes(), &salt, &mut out, mem)?;
            phc_string(&params, &salt, &out)
        })
        .await
    }

    /// True when `password` matches `phc`. With `None` a decoy hash is checked, so a missing
    /// user costs the same time as a wrong password.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        let is_real = phc.is_some();
        let phc = phc.map_or_else(|| self.decoy.as_str().to_string(), str::to_string);
        let password = password.to_owned();
        let ok = self
            .with_slot(move |mem| verify_phc(&phc, password.as_bytes(), mem))
            .await?;
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
    async fn phc_strings_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = PasswordHasher::with_params(1, 1024, 1).unwrap();
        // Ours verifies with the reference implementation ...
        let ours = h.hash("S3cret-pass!", &OsRandom).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"S3cret-pass!", &parsed)
            .is_ok());
        // ... and a reference hash (other parameters too) verifies with ours.
        let params = Params::new(2048, 2, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"S3cret-pass!", &salt)
            .unwrap()
            .to_string();
        assert!(h.verify("S3cret-pass!", Some(&theirs)).await.unwrap());
        assert!(!h.verify("wrong", Some(&theirs)).await.unwrap());
        assert!(h
            .verify(
                "x",
                Some("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")
            )
            .await
            .is_err());
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
