//! Throttling: a token bucket per route of a stage, from the stage's `defaultRouteSettings`
//! and its `routeSettings` for the route (`throttlingRateLimit` requests per second refilled
//! up to `throttlingBurstLimit`). Buckets live in the compiled stage, so a deployment starts
//! them full.
//!
//! Beyond AWS: with the stage variable `gatehouse_throttle_claim` (e.g. `sub`), each route's
//! limits apply per value of that JWT claim, so one user cannot use up everyone's quota.
//! Requests without the claim share the route's bucket.

use std::collections::HashMap;

use std::sync::Mutex;
use std::time::Instant;

use gatehouse_store::apis::RouteSettings;

/// The stage variable naming the claim that keys per-user limits.
pub const CLAIM_VARIABLE: &str = "gatehouse_throttle_claim";
/// Keys remembered per route before the map is reset.
const MAX_KEYS: usize = 100_000;

/// A route's limits: one shared bucket, and optionally one per claim value.
#[derive(Debug)]
pub struct RouteLimiter {
    shared: TokenBucket,
    per_key: Option<(String, Mutex<HashMap<String, TokenBucket>>)>,
}

impl RouteLimiter {
    pub fn from_settings(s: &RouteSettings, claim: Option<&str>) -> Option<Self> {
        let shared = TokenBucket::from_settings(s)?;
        let per_key = claim
            .filter(|c| !c.is_empty())
            .map(|c| (c.to_string(), Mutex::new(HashMap::new())));
        Some(Self { shared, per_key })
    }

    /// The claim whose value keys the buckets, if any.
    pub fn claim(&self) -> Option<&str> {
        self.per_key.as_ref().map(|(c, _)| c.as_str())
    }

    /// The route's limits (each claim value's too), for limits counted elsewhere
    /// (shared_limits.rs).
    pub fn rate(&self) -> crate::shared_limits::Rate {
        crate::shared_limits::Rate {
            rate: self.shared.rate,
            burst: self.shared.burst,
        }
    }

    /// Takes a token for `key` (the claim's value), or from the shared bucket without one.
    pub fn try_take(&self, key: Option<&str>, now: Instant) -> bool {
        let (Some(key), Some((_, map))) = (key, &self.per_key) else {
            return self.shared.try_take(now);
        };
        let Ok(mut map) = map.lock() else {
            return true;
        };
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.clear();
        }
        map.entry(key.to_string())
            .or_insert_with(|| TokenBucket::new(self.shared.rate, self.shared.burst, now))
            .try_take(now)
    }
}

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A bucket when the settings limit anything.
    pub fn from_settings(s: &RouteSettings) -> Option<Self> {
        if s.throttling_rate_limit.is_none() && s.throttling_burst_limit.is_none() {
            return None;
        }
        // AWS's account-level defaults fill whichever of the two is missing.
        let rate = s.throttling_rate_limit.unwrap_or(10_000.0).max(0.0);
        let burst = s.throttling_burst_limit.unwrap_or(5_000).max(0) as f64;
        Some(Self::new(rate, burst, Instant::now()))
    }

    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            state: Mutex::new((burst, now)),
        }
    }

    /// Takes one token at `now`; false when the bucket is empty.
    pub fn try_take(&self, now: Instant) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        let elapsed = now.saturating_duration_since(s.1).as_secs_f64();
        s.0 = (s.0 + elapsed * self.rate).min(self.burst);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let b = TokenBucket::new(2.0, 3.0, t0);
        assert!(b.try_take(t0) && b.try_take(t0) && b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(b.try_take(t0 + Duration::from_millis(500)));
        assert!(!b.try_take(t0 + Duration::from_millis(600)));
        // Refill never exceeds the burst.
        let later = t0 + Duration::from_secs(100);
        assert!((0..3).all(|_| b.try_take(later)));
        assert!(!b.try_take(later));
    }

    #[test]
    fn per_key_buckets() {
        let settings = RouteSettings {
            throttling_rate_limit: Some(0.001),
            throttling_burst_limit: Some(1),
            ..Default::default()
        };
        let l = RouteLimiter::from_settings(&settings, Some("sub")).unwrap();
        let now = Instant::now();
        assert!(l.try_take(Some("alice"), now));
        assert!(!l.try_take(Some("alice"), now));
        assert!(l.try_take(Some("bob"), now));
        assert!(l.try_take(None, now));
        assert!(!l.try_take(None, now));
    }

    #[test]
    fn zero_rate_blocks_everything() {
        let b = TokenBucket::from_settings(&RouteSettings {
            throttling_rate_limit: Some(0.0),
            throttling_burst_limit: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert!(!b.try_take(Instant::now()));
        assert!(TokenBucket::from_settings(&RouteSettings::default()).is_none());
    }
}
