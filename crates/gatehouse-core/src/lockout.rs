//! Brute-force protection: after repeated failed sign-ins a user is refused for a growing
//! interval, whichever flow is used.
//!
//! Cognito's rule: after 5 failures a user is locked out for 2^(n-5) seconds (n counts failures,
//! not refused attempts), up to about 15 minutes; attempts during a lockout are refused with
//! "Password attempts exceeded" and change nothing; a successful sign-in after the lockout, or
//! 15 minutes without failures, starts the count again. The clock has one-second resolution, so
//! a lockout of d seconds lasts between d and d+1 seconds.
//!
//! The count of a real user lives in `User::extra["sign_in_failures"]`, changed atomically in the
//! store so it neither races with nor clobbers other updates. With PreventUserExistenceErrors
//! ENABLED, usernames that do not exist get the same treatment from a bounded in-memory table,
//! so that a lockout does not tell an attacker the user exists.

use std::collections::HashMap;
use std::sync::Mutex;

use gatehouse_store::{AppClient, User, UserPool};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::AuthOutcome;
use crate::error::{Error, Result};
use crate::Directory;

const EXTRA_KEY: &str = "sign_in_failures";
/// Failures allowed before the first lockout.
const FREE_FAILURES: u32 = 5;
/// The longest lockout, and how long without a failure resets the count.
const MAX_LOCKOUT_SECS: i64 = 15 * 60;
/// Unknown usernames tracked at most (about 100 bytes each).
const MAX_UNKNOWN_TRACKED: usize = 50_000;

fn attempts_exceeded() -> Error {
    Error::not_authorized("Password attempts exceeded")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    /// Consecutive failed sign-ins (refused attempts not counted).
    pub count: u32,
    /// When the last one happened.
    pub last: i64,
}

impl Failures {
    /// Until when (inclusive) sign-ins are refused; `None` when not locked out.
    pub fn locked_until(&self) -> Option<i64> {
        let over = self.count.checked_sub(FREE_FAILURES)?;
        let secs = 1i64
            .checked_shl(over.min(20))
            .unwrap_or(MAX_LOCKOUT_SECS)
            .min(MAX_LOCKOUT_SECS);
        Some(self.last + secs)
    }

    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until().is_some_and(|until| now <= until)
    }

    /// The count after one more failure at `now`.
    pub fn after_failure(self, now: i64) -> Self {
        if self.is_locked(now) {
            // An attempt that raced with the failure that locked the user: it was refused in
            // spirit, and must not lengthen the lockout.
            return self;
        }
        let count = if now - self.last >= MAX_LOCKOUT_SECS {
            1
        } else {
            self.count.saturating_add(1)
        };
        Self { count, last: now }
    }

    fn from_extra(user: &User) -> Self {
        user.extra
            .get(EXTRA_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}

/// Failed sign-ins for usernames that do not exist, by pool and username key.
#[derive(Default)]
pub struct UnknownUserFailures {
    map: Mutex<HashMap<(String, String), Failures>>,
}

impl UnknownUserFailures {
    fn get(&self, key: &(String, String)) -> Failures {
        self.map
            .lock()
            .ok()
            .and_then(|m| m.get(key).copied())
            .unwrap_or_default()
    }

    fn record(&self, key: (String, String), now: i64) {
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= MAX_UNKNOWN_TRACKED && !map.contains_key(&key) {
            map.retain(|_, f| now - f.last < MAX_LOCKOUT_SECS);
            if map.len() >= MAX_UNKNOWN_TRACKED {
                // Full of live entries: an enumeration storm. Stop tracking new names rather
                // than grow without bound.
                return;
            }
        }
        let entry = map.entry(key).or_default();
        *entry = entry.after_failure(now);
    }

    /// How many usernames are tracked.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Directory {
    /// Refuses the attempt while the user is locked out. Cheap: no hashing, no I/O.
    pub(crate) fn check_lockout(&self, user: &User) -> Result<()> {
        if Failures::from_extra(user).is_locked(self.now()) {
            return Err(attempts_exceeded());
        }
        Ok(())
    }

    pub(crate) async fn record_failed_sign_in(&self, user: &User) -> Result<()> {
        let now = self.now();
        let result = self
            .store
            .update_user_extra(
                &user.pool_id,
                &user.sub,
                EXTRA_KEY,
                Box::new(move |current: Option<Value>| {
                    let before: Failures = current
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default();
                    serde_json::to_value(before.after_failure(now)).ok()
                }),
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            // Deleted while signing in: nothing left to lock.
            Err(gatehouse_store::StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn clear_failed_sign_ins(&self, user: &User) -> Result<()> {
        if !user.extra.contains_key(EXTRA_KEY) {
            return Ok(());
        }
        match self
            .store
            .update_user_extra(&user.pool_id, &user.sub, EXTRA_KEY, Box::new(|_| None))
            .await
        {
            Ok(_) | Err(gatehouse_store::StoreError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn unknown_key(
        pool: &UserPool,
        client: &AppClient,
        username: &str,
    ) -> Option<(String, String)> {
        (client.prevent_user_existence_errors == "ENABLED")
            .then(|| (pool.id.clone(), Self::username_key(pool, username)))
    }

    /// The lockout check for a username that does not exist, so it looks like one that does
    /// (only when the client hides which users exist).
    pub(crate) fn check_unknown_lockout(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
    ) -> Result<()> {
        match Self::unknown_key(pool, client, username) {
            Some(key) if self.unknown_failures.get(&key).is_locked(self.now()) => {
                Err(attempts_exceeded())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn record_unknown_failure(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
    ) {
        if let Some(key) = Self::unknown_key(pool, client, username) {
            self.unknown_failures.record(key, self.now());
        }
    }

    /// A password sign-in naming a user that does not exist: the same lockout, the same
    /// hashing work and the same error as a wrong password (or UserNotFoundException when the
    /// client does not hide which users exist). Always an error.
    pub(crate) async fn unknown_user_sign_in(
        &self,
        pool: &UserPool,
        client: &AppClient,
        username: &str,
        password: &str,
    ) -> Result<AuthOutcome> {
        self.check_unknown_lockout(pool, client, username)?;
        self.hasher.verify(password, None).await?;
        self.record_unknown_failure(pool, client, username);
        Err(Self::missing_user_error(client))
    }

    /// Unknown usernames with failed sign-ins held in memory (for metrics and tests).
    pub fn unknown_user_failures(&self) -> &UnknownUserFailures {
        &self.unknown_failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(n: u32, at: i64) -> Failures {
        (0..n).fold(Failures::default(), |f, _| f.after_failure(at))
    }

    #[test]
    fn five_failures_lock_for_a_second_then_double() {
        assert!(!after(4, 100).is_locked(100));
        let f = after(5, 100);
        assert_eq!(f.locked_until(), Some(101));
        assert!(f.is_locked(101));
        assert!(!f.is_locked(102));
        let f = f.after_failure(102);
        assert_eq!((f.count, f.locked_until()), (6, Some(104)));
        let f = f.after_failure(105);
        assert_eq!(f.locked_until(), Some(109));
    }

    #[test]
    fn failures_during_a_lockout_change_nothing() {
        let f = after(5, 100);
        assert_eq!(f.after_failure(101), f);
    }

    #[test]
    fn lockout_is_capped_and_resets_after_quiet_period() {
        let mut f = after(5, 0);
        for i in 0..40 {
            let t = f.locked_until().unwrap_or(0) + 1 + i;
            f = f.after_failure(t);
        }
        let until = f.locked_until().unwrap_or(0);
        assert!(until - f.last <= MAX_LOCKOUT_SECS);
        let later = f.last + MAX_LOCKOUT_SECS + 1;
        assert_eq!(f.after_failure(later).count, 1);
    }

    #[test]
    fn unknown_table_is_bounded() {
        let t = UnknownUserFailures::default();
        for i in 0..(MAX_UNKNOWN_TRACKED + 10) {
            t.record(("p".into(), format!("u{i}")), 1000);
        }
        assert_eq!(t.len(), MAX_UNKNOWN_TRACKED);
        // Once the old entries are stale they make room again.
        t.record(("p".into(), "late".into()), 1000 + MAX_LOCKOUT_SECS);
        assert_eq!(t.len(), 1);
    }
}
