//! API keys and usage plans on the data plane: the phase between authorize and throttle for
//! REST methods with `apiKeyRequired`. One call, `KeyTable::check`, decides a request:
//!
//! - the key from `x-api-key` (`apiKeySource: HEADER`), found by the SHA-256 of its value;
//!   missing, unknown, disabled, or in no usage plan covering this API stage: 403 `Forbidden`;
//! - the plan's throttle (or its per-method throttle) as a token bucket per key: 429
//!   `Too Many Requests`;
//! - the plan's quota per key and period: 429 `Limit Exceeded`; else the request is counted.
//!
//! The table is compiled from the store on every change and swapped in with the snapshot; the
//! buckets and counters it points at outlive it (`UsageState`), so a change elsewhere does not
//! refill buckets or forget counts. Counting takes no lock shared by requests: each (plan,
//! key) has its own atomics, and the flusher writes their deltas to the store's daily
//! counters every second (what GetUsage reports and what a restart starts from).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use gatehouse_core::apis::keys::usage::{day_of, period_limit};
use gatehouse_core::apis::keys::{period_start, ServedKeys};
use gatehouse_core::store::api_keys::{QuotaSettings, ThrottleSettings, UsageCount};
use sha2::{Digest, Sha256};

use crate::error::Reject;

/// The header API Gateway reads keys from (`apiKeySource: HEADER`).
pub const API_KEY_HEADER: &str = "x-api-key";
/// Days of stored counts kept in memory: the longest quota period (a month) and then some.
const KEPT_DAYS: i64 = 32;

/// What the API key phase knows of a request to a method with `apiKeyRequired`.
#[derive(Debug)]
pub struct KeyedRequest<'a> {
    pub api_id: &'a str,
    pub stage: &'a str,
    /// The method's identity, as usage plans' per-method throttles name it
    /// (`/pets/{petId}` and `GET`).
    pub resource_path: &'a str,
    pub http_method: &'a str,
    /// The `x-api-key` header, when sent and not empty.
    pub api_key: Option<&'a str>,
}

/// The key a request was let through with (`$context.identity.apiKeyId`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyUse {
    pub key_id: String,
}

/// A token bucket in one atomic: the generic cell rate algorithm keeps the theoretical
/// arrival time of the next request (nanoseconds since `BASE`).
#[derive(Debug, Default)]
pub struct Gcra {
    tat: AtomicU64,
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since the process's time base.
pub fn monotonic_ns(now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(base()).as_nanos()).unwrap_or(u64::MAX)
}

/// A plan's (or a method's) limits: requests per second, refilled up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

impl Limit {
    /// Limits when the settings name any; AWS's account defaults fill the missing one.
    pub fn from_settings(t: &ThrottleSettings) -> Option<Self> {
        if t.rate_limit.is_none() && t.burst_limit.is_none() {
            return None;
        }
        Some(Self {
            rate: t.rate_limit.unwrap_or(10_000.0).max(0.0),
            burst: t.burst_limit.unwrap_or(5_000).max(0) as f64,
        })
    }
}

impl Gcra {
    /// Takes one token at `now_ns`; false when the bucket is empty.
    pub fn try_take(&self, limit: Limit, now_ns: u64) -> bool {
        if limit.rate <= 0.0 || limit.burst < 1.0 {
            return false;
        }
        let interval = (1e9 / limit.rate).max(1.0) as u64;
        let tolerance = (interval as f64 * limit.burst) as u64;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now_ns).saturating_add(interval);
            if next - now_ns > tolerance {
                return false;
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }
}

/// `pending` packs the UTC day in its high bits and the count in its low 40.
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

fn pack(day: i64, count: u64) -> u64 {
    ((day.max(0) as u64) << COUNT_BITS) | (count & COUNT_MASK)
}

fn unpack(v: u64) -> (i64, u64) {
    ((v >> COUNT_BITS) as i64, v & COUNT_MASK)
}

/// The requests of one key under one plan: what the store holds for recent days, and what
/// this node counted since its last flush.
#[derive(Debug, Default)]
pub struct Counter {
    /// (day, count) of the stored counters of the last `KEPT_DAYS` days.
    stored: ArcSwap<Vec<(i64, i64)>>,
    /// Counted today and not yet flushed (`pack(day, count)`).
    pending: AtomicU64,
    /// Being written by the flusher: still counted, so a quota is never under-read.
    in_flight: AtomicU64,
    /// Counts of an earlier day that were pending when the day changed (rare; flushed next).
    carry: Mutex<Vec<(i64, u64)>>,
}

impl Counter {
    /// Requests counted in the period starting on `start`, up to `today`.
    pub fn used_since(&self, start: i64) -> i64 {
        let stored: i64 = self
            .stored
            .load()
            .iter()
            .filter(|(d, _)| *d >= start)
            .map(|(_, n)| *n)
            .sum();
        let (day, pending) = unpack(self.pending.load(Ordering::Acquire));
        let pending = if day >= start { pending as i64 } else { 0 };
        stored + pending + self.in_flight.load(Ordering::Acquire) as i64
    }

    /// Counts one request on `today`.
    pub fn count(&self, today: i64) {
        let mut v = self.pending.load(Ordering::Acquire);
        loop {
            let (day, n) = unpack(v);
            let next = if day == today {
                pack(day, n + 1)
            } else {
                pack(today, 1)
            };
            match self
                .pending
                .compare_exchange_weak(v, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if day != today && n > 0 {
                        if let Ok(mut c) = self.carry.lock() {
                            c.push((day, n));
                        }
                    }
                    return;
                }
                Err(actual) => v = actual,
            }
        }
    }

    /// Takes what is pending for the flusher: (day, count) pairs, and how much of it came
    /// from `pending` (moved to `in_flight` until settled).
    fn take(&self) -> (Vec<(i64, u64)>, u64) {
        let mut out = match self.carry.lock() {
            Ok(mut c) => std::mem::take(&mut *c),
            Err(_) => Vec::new(),
        };
        let mut v = self.pending.load(Ordering::Acquire);
        loop {
            let (day, n) = unpack(v);
            if n == 0 {
                return (out, 0);
            }
            // Counted twice for an instant rather than not at all.
            self.in_flight.fetch_add(n, Ordering::AcqRel);
            match self.pending.compare_exchange_weak(
                v,
                pack(day, 0),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    out.push((day, n));
                    return (out, n);
                }
                Err(actual) => {
                    self.in_flight.fetch_sub(n, Ordering::AcqRel);
                    v = actual;
                }
            }
        }
    }

    /// The flush of `taken` is over: stored or given back to be retried.
    fn settle(&self, taken: &[(i64, u64)], from_pending: u64, written: bool) {
        if !written {
            if let Ok(mut c) = self.carry.lock() {
                c.extend_from_slice(taken);
            }
        }
        // Carried counts were not in flight; only the pending one was.
        self.in_flight.fetch_sub(from_pending, Ordering::AcqRel);
    }

    fn set_stored(&self, days: Vec<(i64, i64)>) {
        self.stored.store(Arc::new(days));
    }

    /// Adds a flushed count to the stored view until the next reload reads the store.
    fn add_stored(&self, day: i64, n: i64) {
        let mut days = (**self.stored.load()).clone();
        match days.iter_mut().find(|(d, _)| *d == day) {
            Some((_, c)) => *c += n,
            None => days.push((day, n)),
        }
        self.stored.store(Arc::new(days));
    }
}

/// The counters and buckets of every (plan, key), kept across table rebuilds. Only the
/// compiler and the flusher lock these maps, never a request.
#[derive(Debug, Default)]
pub struct UsageState {
    counters: Mutex<HashMap<(String, String), Arc<Counter>>>,
    /// (plan, key, method or "" with its limits) -> bucket: new limits start a full bucket.
    buckets: Mutex<HashMap<(String, String, String), Arc<Gcra>>>,
    /// Held by a flush and by a reload's read of the stored counts, so a count is never
    /// both read from the store and added to the stored view by the flush that wrote it.
    pub flush: tokio::sync::Mutex<()>,
}

/// A quota as a request checks it.
#[derive(Debug, Clone)]
struct QuotaRule {
    quota: QuotaSettings,
    plan_created: i64,
}

/// What a key may do on one API stage: its plan's limits and its counter there.
#[derive(Debug)]
struct StagePlan {
    plan_id: String,
    throttle: Option<(Limit, Arc<Gcra>)>,
    /// `{resourcePath}/{METHOD}` -> its own limits and bucket.
    /// Resource path -> method (or `*`) -> its own limits and bucket.
    methods: HashMap<String, HashMap<String, (Limit, Arc<Gcra>)>>,
    quota: Option<QuotaRule>,
    counter: Arc<Counter>,
}

#[derive(Debug)]
struct KeyEntry {
    id: String,
    enabled: bool,
    /// `{apiId}/{stage}` -> the plan covering it.
    /// API id -> stage -> the plan covering it (nested, so a request looks up with its
    /// own strings and allocates nothing).
    stages: HashMap<String, HashMap<String, StagePlan>>,
}

/// The immutable key table of a snapshot: SHA-256 of a key's value -> the key.
#[derive(Debug, Default)]
pub struct KeyTable {
    keys: HashMap<[u8; 32], KeyEntry>,
    /// `{apiId}/{stage}` of REST APIs whose keys come from a Lambda authorizer
    /// (`apiKeySource: AUTHORIZER`): Lambda authorizers are not run, so no key reaches them.
    /// API id -> stages.
    authorizer_sourced: HashMap<String, std::collections::HashSet<String>>,
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The 32 bytes of a lower- or upper-case hex SHA-256.
fn hash_of_hex(hex_hash: &str) -> Option<[u8; 32]> {
    let digits = hex_hash.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

impl UsageState {
    fn counter(&self, plan: &str, key: &str) -> Arc<Counter> {
        match self.counters.lock() {
            Ok(mut m) => Arc::clone(m.entry((plan.to_string(), key.to_string())).or_default()),
            Err(_) => Arc::default(),
        }
    }

    fn bucket(&self, plan: &str, key: &str, method: &str) -> Arc<Gcra> {
        match self.buckets.lock() {
            Ok(mut m) => Arc::clone(
                m.entry((plan.to_string(), key.to_string(), method.to_string()))
                    .or_default(),
            ),
            Err(_) => Arc::default(),
        }
    }

    /// Compiles the served keys and plans, with the stored counts of the last days (from
    /// `usage_since(today - KEPT_DAYS)`), into a table. Counters and buckets of pairs no
    /// longer served are dropped.
    pub fn compile(&self, served: &ServedKeys, stored: &[UsageCount]) -> KeyTable {
        let plans: HashMap<&str, _> = served.plans.iter().map(|p| (p.id.as_str(), p)).collect();
        let mut counts: HashMap<(&str, &str), Vec<(i64, i64)>> = HashMap::new();
        for c in stored {
            counts
                .entry((c.plan_id.as_str(), c.key_id.as_str()))
                .or_default()
                .push((c.day, c.used));
        }
        let mut keys: HashMap<[u8; 32], KeyEntry> = HashMap::new();
        let mut by_id: HashMap<&str, [u8; 32]> = HashMap::new();
        for k in &served.keys {
            let Some(hash) = hash_of_hex(&k.value_hash) else {
                tracing::warn!(key_id = %k.id, "API key with an unreadable hash; not served");
                continue;
            };
            by_id.insert(&k.id, hash);
            keys.insert(
                hash,
                KeyEntry {
                    id: k.id.clone(),
                    enabled: k.enabled,
                    stages: HashMap::new(),
                },
            );
        }
        let mut live_counters = Vec::new();
        let mut live_buckets = Vec::new();
        for (plan_id, key_id) in &served.plan_keys {
            let (Some(plan), Some(hash)) =
                (plans.get(plan_id.as_str()), by_id.get(key_id.as_str()))
            else {
                continue;
            };
            let Some(entry) = keys.get_mut(hash) else {
                continue;
            };
            let counter = self.counter(plan_id, key_id);
            counter.set_stored(
                counts
                    .remove(&(plan_id.as_str(), key_id.as_str()))
                    .unwrap_or_default(),
            );
            live_counters.push((plan_id.clone(), key_id.clone()));
            let throttle = plan
                .throttle
                .as_ref()
                .and_then(Limit::from_settings)
                .map(|l| {
                    let name = format!("{}/{}", l.rate, l.burst);
                    live_buckets.push((plan_id.clone(), key_id.clone(), name.clone()));
                    (l, self.bucket(plan_id, key_id, &name))
                });
            for s in &plan.api_stages {
                let mut methods: HashMap<String, HashMap<String, _>> = HashMap::new();
                for (m, t) in &s.throttle {
                    let (Some(limit), Some((path, verb))) =
                        (Limit::from_settings(t), m.rsplit_once('/'))
                    else {
                        continue;
                    };
                    let name = format!(
                        "{}:{}/{m}/{}/{}",
                        s.api_id, s.stage, limit.rate, limit.burst
                    );
                    live_buckets.push((plan_id.clone(), key_id.clone(), name.clone()));
                    // `/GET` names the root resource, as `//GET` does.
                    let path = if path.is_empty() { "/" } else { path };
                    methods.entry(path.to_string()).or_default().insert(
                        verb.to_ascii_uppercase(),
                        (limit, self.bucket(plan_id, key_id, &name)),
                    );
                }
                entry.stages.entry(s.api_id.clone()).or_default().insert(
                    s.stage.clone(),
                    StagePlan {
                        plan_id: plan_id.clone(),
                        throttle: throttle.clone(),
                        methods,
                        quota: plan.quota.clone().map(|quota| QuotaRule {
                            quota,
                            plan_created: plan.created,
                        }),
                        counter: Arc::clone(&counter),
                    },
                );
            }
        }
        if let Ok(mut m) = self.counters.lock() {
            let live: std::collections::HashSet<_> = live_counters.into_iter().collect();
            m.retain(|k, _| live.contains(k));
        }
        if let Ok(mut m) = self.buckets.lock() {
            let live: std::collections::HashSet<_> = live_buckets.into_iter().collect();
            m.retain(|k, _| live.contains(k));
        }
        KeyTable {
            keys,
            authorizer_sourced: Default::default(),
        }
    }

    /// Replaces every counter's view of the stored counts (other nodes' counts reach this
    /// one this way). Call with the flush lock held.
    pub fn refresh(&self, stored: &[UsageCount]) {
        let mut counts: HashMap<(&str, &str), Vec<(i64, i64)>> = HashMap::new();
        for c in stored {
            counts
                .entry((c.plan_id.as_str(), c.key_id.as_str()))
                .or_default()
                .push((c.day, c.used));
        }
        let counters: Vec<_> = match self.counters.lock() {
            Ok(m) => m.iter().map(|(k, c)| (k.clone(), Arc::clone(c))).collect(),
            Err(_) => return,
        };
        for ((plan, key), counter) in &counters {
            let days = counts
                .remove(&(plan.as_str(), key.as_str()))
                .unwrap_or_default();
            counter.set_stored(days);
        }
    }

    /// Takes every counter's pending counts for the store: the counts, and what to settle
    /// once they are written (`finish`).
    pub fn take_pending(&self) -> (Vec<UsageCount>, Vec<Taken>) {
        let counters: Vec<_> = match self.counters.lock() {
            Ok(m) => m.iter().map(|(k, c)| (k.clone(), Arc::clone(c))).collect(),
            Err(_) => Vec::new(),
        };
        let mut counts = Vec::new();
        let mut taken = Vec::new();
        for ((plan, key), counter) in counters {
            let (t, from_pending) = counter.take();
            if t.is_empty() {
                continue;
            }
            for (day, n) in &t {
                counts.push(UsageCount {
                    plan_id: plan.clone(),
                    key_id: key.clone(),
                    day: *day,
                    used: i64::try_from(*n).unwrap_or(i64::MAX),
                });
            }
            taken.push(Taken {
                counter,
                days: t,
                from_pending,
            });
        }
        (counts, taken)
    }

    /// Settles a flush: written counts join the stored view; failed ones wait for the next.
    pub fn finish(taken: Vec<Taken>, written: bool) {
        for t in taken {
            if written {
                for (day, n) in &t.days {
                    t.counter
                        .add_stored(*day, i64::try_from(*n).unwrap_or(i64::MAX));
                }
            }
            t.counter.settle(&t.days, t.from_pending, written);
        }
    }
}

/// Counts taken from one counter by a flush in progress.
pub struct Taken {
    counter: Arc<Counter>,
    days: Vec<(i64, u64)>,
    from_pending: u64,
}

/// The first day whose stored counts a table needs.
pub fn stored_since(now: i64) -> i64 {
    day_of(now) - KEPT_DAYS
}

impl KeyTable {
    /// Whether the request may go on, counting it when it does. `now` is Unix seconds (quota
    /// periods), `now_ns` the monotonic clock (buckets).
    pub fn check(&self, req: &KeyedRequest<'_>, now: i64, now_ns: u64) -> Result<KeyUse, Reject> {
        let found = self.find(req)?;
        if !found.take_local(now_ns) {
            return Err(found.throttled());
        }
        found.admit(now)
    }

    /// The key and plan a request names (403 when none may call this stage); its throttle
    /// and quota are still to be checked (`KeyMatch`), as `check` does.
    pub fn find<'t>(&'t self, req: &KeyedRequest<'_>) -> Result<KeyMatch<'t>, Reject> {
        if self
            .authorizer_sourced
            .get(req.api_id)
            .is_some_and(|s| s.contains(req.stage))
        {
            return Err(Reject::Forbidden);
        }
        let value = req.api_key.ok_or(Reject::Forbidden)?;
        let entry = self.keys.get(&digest(value)).ok_or(Reject::Forbidden)?;
        if !entry.enabled {
            return Err(Reject::Forbidden);
        }
        let plan = entry
            .stages
            .get(req.api_id)
            .and_then(|s| s.get(req.stage))
            .ok_or(Reject::Forbidden)?;
        let method = plan
            .methods
            .get_key_value(req.resource_path)
            .and_then(|(path, m)| {
                m.get_key_value(req.http_method)
                    .or_else(|| m.get_key_value("*"))
                    .map(|(verb, limit)| (path.as_str(), verb.as_str(), limit))
            });
        let (limit, method) = match method {
            Some((path, verb, limit)) => (Some(limit), Some((path, verb))),
            None => (plan.throttle.as_ref(), None),
        };
        Ok(KeyMatch {
            entry,
            plan,
            limit,
            method,
        })
    }

    /// Marks the stages whose API takes its keys from a Lambda authorizer
    /// (`apiKeySource: AUTHORIZER`): refused, as no authorizer here supplies a key.
    pub fn with_authorizer_sourced(
        mut self,
        stages: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        for (api, stage) in stages {
            self.authorizer_sourced
                .entry(api)
                .or_default()
                .insert(stage);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A request's key and plan, found; its throttle and quota not checked yet.
pub struct KeyMatch<'t> {
    entry: &'t KeyEntry,
    plan: &'t StagePlan,
    /// The plan's throttle, or its method's (`method` then names it).
    limit: Option<&'t (Limit, Arc<Gcra>)>,
    method: Option<(&'t str, &'t str)>,
}

impl KeyMatch<'_> {
    /// The throttle the request is under, if any.
    pub fn limit(&self) -> Option<Limit> {
        self.limit.map(|(l, _)| *l)
    }

    /// What names this throttle's budget among the stage's (shared_limits.rs): the plan and
    /// key, and the method when the plan limits it on its own.
    pub fn budget_name(&self) -> String {
        let mut name = format!("plan:{}:key:{}", self.plan.plan_id, self.entry.id);
        if let Some((path, verb)) = self.method {
            name.push(':');
            name.push_str(path);
            name.push('/');
            name.push_str(verb);
        }
        name
    }

    /// Takes a token from this node's bucket (true without a throttle).
    pub fn take_local(&self, now_ns: u64) -> bool {
        match self.limit {
            Some((limit, bucket)) => bucket.try_take(*limit, now_ns),
            None => true,
        }
    }

    /// The refusal of a throttled request.
    pub fn throttled(&self) -> Reject {
        tracing::debug!(key_id = %self.entry.id, plan = %self.plan.plan_id, "key throttle limit exceeded");
        Reject::TooManyRequests
    }

    /// The quota: refused when used up, else the request is counted.
    pub fn admit(self, now: i64) -> Result<KeyUse, Reject> {
        let (entry, plan) = (self.entry, self.plan);
        let today = day_of(now);
        if let Some(rule) = &plan.quota {
            let start = period_start(&rule.quota.period, today);
            let limit = period_limit(&rule.quota, rule.plan_created, start);
            if plan.counter.used_since(start) >= limit {
                tracing::debug!(key_id = %entry.id, plan = %plan.plan_id, "key quota exhausted");
                return Err(Reject::QuotaExceeded);
            }
        }
        plan.counter.count(today);
        Ok(KeyUse {
            key_id: entry.id.clone(),
        })
    }
}

/// Puts the key into a payload 1.0 event's `requestContext.identity` (`apiKey`, `apiKeyId`),
/// as REST APIs do for methods that require one.
pub fn identify(event: &mut serde_json::Value, key_id: &str, value: &str) {
    let identity = event
        .get_mut("requestContext")
        .and_then(|rc| rc.get_mut("identity"))
        .and_then(serde_json::Value::as_object_mut);
    if let Some(identity) = identity {
        identity.insert("apiKey".into(), value.into());
        identity.insert("apiKeyId".into(), key_id.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::apis::keys::value_hash;
    use gatehouse_core::store::api_keys::{ApiKey, UsagePlan, UsagePlanStage};
    use std::collections::BTreeMap;

    const NOW: i64 = 1_795_000_000;
    const VALUE: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";

    fn served(throttle: Option<(f64, i64)>, quota: Option<(i64, &str)>) -> ServedKeys {
        let hash = value_hash(VALUE);
        let mut methods = BTreeMap::new();
        methods.insert(
            "/GET".to_string(),
            ThrottleSettings {
                burst_limit: Some(1),
                rate_limit: Some(0.001),
            },
        );
        methods.insert(
            "/slow/GET".to_string(),
            ThrottleSettings {
                burst_limit: Some(1),
                rate_limit: Some(0.001),
            },
        );
        ServedKeys {
            keys: vec![
                ApiKey {
                    id: "k1".into(),
                    enabled: true,
                    value_hash: hash,
                    ..Default::default()
                },
                ApiKey {
                    id: "off".into(),
                    enabled: false,
                    value_hash: value_hash("disabled-key-value-000000"),
                    ..Default::default()
                },
            ],
            plans: vec![UsagePlan {
                id: "p1".into(),
                api_stages: vec![UsagePlanStage {
                    api_id: "api".into(),
                    stage: "prod".into(),
                    throttle: methods,
                }],
                throttle: throttle.map(|(r, b)| ThrottleSettings {
                    rate_limit: Some(r),
                    burst_limit: Some(b),
                }),
                quota: quota.map(|(limit, period)| QuotaSettings {
                    limit,
                    offset: 0,
                    period: period.into(),
                }),
                created: NOW - 30 * 86_400,
                ..Default::default()
            }],
            plan_keys: vec![("p1".into(), "k1".into()), ("p1".into(), "off".into())],
        }
    }

    fn req<'a>(key: Option<&'a str>, stage: &'a str, path: &'a str) -> KeyedRequest<'a> {
        KeyedRequest {
            api_id: "api",
            stage,
            resource_path: path,
            http_method: "GET",
            api_key: key,
        }
    }

    #[test]
    fn keys_must_be_known_enabled_and_in_a_plan_for_the_stage() {
        let state = UsageState::default();
        let t = state.compile(&served(None, None), &[]);
        let ns = monotonic_ns(Instant::now());
        let ok = t
            .check(&req(Some(VALUE), "prod", "/pets"), NOW, ns)
            .unwrap();
        assert_eq!(ok.key_id, "k1");
        for bad in [
            req(None, "prod", "/pets"),
            req(Some("not-a-key-at-all-00000000"), "prod", "/pets"),
            req(Some("disabled-key-value-000000"), "prod", "/pets"),
            req(Some(VALUE), "dev", "/pets"),
        ] {
            assert_eq!(t.check(&bad, NOW, ns), Err(Reject::Forbidden));
        }
    }

    #[test]
    fn throttles_per_key_and_per_method() {
        let state = UsageState::default();
        let t = state.compile(&served(Some((1.0, 2)), None), &[]);
        let ns = monotonic_ns(Instant::now());
        let r = req(Some(VALUE), "prod", "/pets");
        assert!(t.check(&r, NOW, ns).is_ok());
        assert!(t.check(&r, NOW, ns).is_ok());
        assert_eq!(t.check(&r, NOW, ns), Err(Reject::TooManyRequests));
        // A second later one token is back.
        assert!(t.check(&r, NOW, ns + 1_000_000_000).is_ok());
        // The method's own bucket: one request, then throttled.
        let slow = req(Some(VALUE), "prod", "/slow");
        assert!(t.check(&slow, NOW, ns).is_ok());
        assert_eq!(t.check(&slow, NOW, ns), Err(Reject::TooManyRequests));
        // The root resource's own bucket (`/GET`).
        let root = req(Some(VALUE), "prod", "/");
        assert!(t.check(&root, NOW, ns).is_ok());
        assert_eq!(t.check(&root, NOW, ns), Err(Reject::TooManyRequests));
        // A rebuilt table keeps the buckets.
        let t2 = state.compile(&served(Some((1.0, 2)), None), &[]);
        assert_eq!(t2.check(&slow, NOW, ns), Err(Reject::TooManyRequests));
        // An API whose keys come from an authorizer refuses header keys.
        let t3 = state
            .compile(&served(None, None), &[])
            .with_authorizer_sourced([("api".to_string(), "prod".to_string())]);
        assert_eq!(t3.check(&r, NOW, ns), Err(Reject::Forbidden));
    }

    #[test]
    fn quotas_count_flush_and_reset_with_the_period() {
        let state = UsageState::default();
        let today = day_of(NOW);
        // Two requests already stored today.
        let stored = vec![UsageCount {
            plan_id: "p1".into(),
            key_id: "k1".into(),
            day: today,
            used: 2,
        }];
        let t = state.compile(&served(None, Some((5, "DAY"))), &stored);
        let ns = monotonic_ns(Instant::now());
        let r = req(Some(VALUE), "prod", "/pets");
        assert!(t.check(&r, NOW, ns).is_ok());
        assert!(t.check(&r, NOW, ns).is_ok());
        // A flush in the middle neither loses nor doubles counts.
        let (counts, taken) = state.take_pending();
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].used, 2);
        UsageState::finish(taken, true);
        assert!(t.check(&r, NOW, ns).is_ok());
        assert_eq!(t.check(&r, NOW, ns), Err(Reject::QuotaExceeded));
        // The next day starts afresh.
        assert!(t.check(&r, NOW + 86_400, ns).is_ok());
        // A failed flush keeps its counts for the next one.
        let (counts, taken) = state.take_pending();
        let total: i64 = counts.iter().map(|c| c.used).sum();
        assert_eq!(total, 2);
        UsageState::finish(taken, false);
        let (counts, taken) = state.take_pending();
        assert_eq!(counts.iter().map(|c| c.used).sum::<i64>(), 2);
        UsageState::finish(taken, true);
        // Another node used the rest of tomorrow's quota: a refresh brings it in.
        state.refresh(&[UsageCount {
            plan_id: "p1".into(),
            key_id: "k1".into(),
            day: today + 1,
            used: 5,
        }]);
        assert_eq!(t.check(&r, NOW + 86_400, ns), Err(Reject::QuotaExceeded));
    }

    #[test]
    fn counting_is_exact_under_contention() {
        let c = Arc::new(Counter::default());
        let today = day_of(NOW);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || (0..10_000).for_each(|_| c.count(today)))
            })
            .collect();
        let mut flushed = 0u64;
        for _ in 0..50 {
            let (days, from_pending) = c.take();
            flushed += days.iter().map(|(_, n)| n).sum::<u64>();
            c.settle(&days, from_pending, true);
        }
        for t in threads {
            t.join().unwrap();
        }
        flushed += c.take().0.iter().map(|(_, n)| n).sum::<u64>();
        assert_eq!(flushed, 40_000);
    }

    #[test]
    fn gcra_allows_the_burst_then_the_rate() {
        let g = Gcra::default();
        let l = Limit {
            rate: 2.0,
            burst: 3.0,
        };
        let t0 = 10_000_000_000;
        assert!((0..3).all(|_| g.try_take(l, t0)));
        assert!(!g.try_take(l, t0));
        assert!(g.try_take(l, t0 + 500_000_000));
        assert!(!g.try_take(l, t0 + 600_000_000));
        assert!(!Gcra::default().try_take(
            Limit {
                rate: 0.0,
                burst: 0.0
            },
            t0
        ));
    }
}
