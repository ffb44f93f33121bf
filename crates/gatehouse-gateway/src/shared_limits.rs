//! Shared rate limits: the stage/route/per-user limits of throttle.rs enforced across nodes
//! through Redis (`--redis-url`). One Lua script per request does a GCRA on one key, with the
//! Redis server's clock; each data-plane thread has its own multiplexed connection, so the
//! concurrent requests of a thread pipeline on it.
//!
//! When Redis cannot answer within the timeout, the request is decided by the fail mode: the
//! node's own buckets (`local`), allowed (`open`) or refused with 503 (`closed`). Going down
//! and coming back are logged once each, a connection is retried at most once a second per
//! thread, and `render_metrics` says whether limits are shared and how many requests were
//! decided without Redis.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, RedisError, ServerErrorKind};
use sha2::{Digest, Sha256};

/// How long a request waits for Redis before its fail mode decides it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// A thread whose connection failed tries again after this long, not on every request.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Timeouts in a row after which a connection counts as lost (one slow answer, say under a
/// CPU stall, only sends its own request to the fail mode).
const TIMEOUTS_TO_DOWN: u32 = 3;
/// Connecting goes on in the background this long (a request waits `timeout` at most).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The key the health probe takes from (a limit nothing else uses).
const PROBE_KEY: &str = "gatehouse:rl:_probe";

/// GCRA: the key holds the theoretical arrival time (TAT, microseconds of the server's clock)
/// of the next request. A request is let through when the TAT it would leave is at most
/// `tolerance` (= burst × interval) ahead of now, which is the token bucket of throttle.rs:
/// `burst` requests at once, then one per `interval`. The key expires when its TAT passes,
/// i.e. when the bucket would be full again, so idle keys vanish.
///
/// The server's `TIME`, not the node's: every decision on a key is made on one clock, so
/// nodes whose clocks differ neither create nor lose budget. (Redis 5+ replicates a script's
/// effects, so reading the clock before writing is allowed.)
pub const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > tolerance then
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
return 1
";

/// What decides a request while Redis cannot (`--redis-fail-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// The node's own buckets, as without Redis.
    #[default]
    Local,
    /// Let every request through.
    Open,
    /// Refuse every throttled route's requests with 503.
    Closed,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Local => "local",
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }
}

impl std::str::FromStr for FailMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "local" => Ok(FailMode::Local),
            "open" => Ok(FailMode::Open),
            "closed" => Ok(FailMode::Closed),
            other => Err(format!(
                "unknown Redis fail mode {other:?} (local, open or closed)"
            )),
        }
    }
}

/// How a request came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Throttled,
    /// Redis is unreachable and the fail mode is `closed`.
    Unavailable,
}

/// A rate in requests per second refilled up to `burst` (throttle.rs's semantics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub rate: f64,
    pub burst: f64,
}

impl Rate {
    /// The script's arguments: the interval between requests and the tolerance, in µs. A rate
    /// of 0 refills (practically) never.
    fn gcra(self) -> (u64, u64) {
        const NEVER_US: f64 = 365.0 * 86_400.0 * 1e6;
        let interval = if self.rate > 0.0 {
            (1e6 / self.rate).clamp(1.0, NEVER_US)
        } else {
            NEVER_US
        };
        (interval as u64, (interval * self.burst.max(0.0)) as u64)
    }
}

/// The Redis key of a route's limit, and of one claim value's: the value is hashed, so keys
/// stay short and hold no personal data.
pub fn key(api_id: &str, stage: &str, route_key: &str, claim_value: Option<&str>) -> String {
    let mut k = String::with_capacity(96);
    let _ = write!(k, "gatehouse:rl:{api_id}:{stage}:{route_key}");
    if let Some(v) = claim_value {
        let digest = Sha256::digest(v.as_bytes());
        k.push(':');
        for b in &digest[..16] {
            let _ = write!(k, "{b:02x}");
        }
    }
    k
}

fn no_connection() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no connection yet",
    ))
}

/// Whether the limits are shared now (`up`), as logged and measured.
const UNKNOWN: u8 = 2;
const UP: u8 = 1;
const DOWN: u8 = 0;

/// One data-plane thread's connection.
enum Slot {
    /// None yet, or the last one failed: connect again from `retry_at` on.
    Idle { retry_at: Option<Instant> },
    /// Being opened; the receiver sees its sender dropped once the slot says how it went.
    Connecting(tokio::sync::watch::Receiver<()>),
    /// Open, with the timeouts in a row its latest calls had.
    Ready(MultiplexedConnection, u32),
}

thread_local! {
    /// Each thread's connection per `SharedLimits` (by id): a multiplexed connection's driver
    /// runs on the runtime that opened it, so each data-plane thread opens its own.
    static SLOTS: RefCell<Vec<(u64, Arc<Mutex<Slot>>)>> = const { RefCell::new(Vec::new()) };
}

pub struct SharedLimits {
    id: u64,
    client: redis::Client,
    fail_mode: FailMode,
    timeout: Duration,
    script: redis::Script,
    state: AtomicU8,
    /// Requests decided by the fail mode because Redis did not answer.
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("fail_mode", &self.fail_mode)
            .field("timeout", &self.timeout)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl SharedLimits {
    /// Limits on the Redis at `url` (`redis://[:password@]host:port[/db]`); an error only for
    /// a URL that cannot name a Redis server. Nothing is connected yet.
    pub fn new(url: &str, fail_mode: FailMode, timeout: Duration) -> Result<Arc<Self>, String> {
        static IDS: AtomicU64 = AtomicU64::new(0);
        // The URL may hold a password: the error names the shape, never the URL.
        let client = redis::Client::open(url).map_err(|e| {
            format!("--redis-url is not a usable Redis URL (redis://[[user]:password@]host[:port][/db]): {e}")
        })?;
        Ok(Arc::new(Self {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            client,
            fail_mode,
            timeout,
            script: redis::Script::new(SCRIPT),
            state: AtomicU8::new(UNKNOWN),
            fallbacks: AtomicU64::new(0),
        }))
    }

    pub fn fail_mode(&self) -> FailMode {
        self.fail_mode
    }

    /// Whether the last word from Redis was an answer.
    pub fn is_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UP
    }

    /// Requests decided by the fail mode so far.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Takes one request from the budget at `key`; while Redis cannot answer, the fail mode
    /// decides (`local` asks `local`, the node's own bucket).
    pub async fn take(&self, key: &str, rate: Rate, local: impl FnOnce() -> bool) -> Verdict {
        if rate.burst < 1.0 {
            // Nothing can pass, whoever counts.
            return Verdict::Throttled;
        }
        let (interval, tolerance) = rate.gcra();
        match self.eval(key, interval, tolerance, self.timeout).await {
            Some(true) => Verdict::Allowed,
            Some(false) => Verdict::Throttled,
            None => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                match self.fail_mode {
                    FailMode::Local if local() => Verdict::Allowed,
                    FailMode::Local => Verdict::Throttled,
                    FailMode::Open => Verdict::Allowed,
                    FailMode::Closed => Verdict::Unavailable,
                }
            }
        }
    }

    /// Runs the script on this thread's connection: `None` when Redis did not answer in time
    /// (connecting first, when due, waits at most `connect_wait`).
    async fn eval(
        &self,
        key: &str,
        interval: u64,
        tolerance: u64,
        connect_wait: Duration,
    ) -> Option<bool> {
        let slot = self.slot();
        let ready = match &*slot.lock().ok()? {
            Slot::Ready(c, timeouts) => Some((c.clone(), *timeouts)),
            _ => None,
        };
        if let Some((mut conn, timeouts)) = ready {
            match self.call(&mut conn, key, interval, tolerance).await {
                Ok(allowed) => {
                    if timeouts > 0 {
                        if let Ok(mut s) = slot.lock() {
                            if let Slot::Ready(_, t) = &mut *s {
                                *t = 0;
                            }
                        }
                    }
                    self.mark_up();
                    return Some(allowed);
                }
                Err(e) if e.is_timeout() => {
                    // Its answer may still come (the connection keeps its order); only
                    // timeouts in a row mean Redis is gone: then wait out the retry interval.
                    let mut lost = false;
                    if let Ok(mut s) = slot.lock() {
                        if let Slot::Ready(_, t) = &mut *s {
                            *t += 1;
                            if *t >= TIMEOUTS_TO_DOWN {
                                *s = Slot::Idle {
                                    retry_at: Some(Instant::now() + RETRY_EVERY),
                                };
                                lost = true;
                            }
                        }
                    }
                    if lost {
                        self.mark_down(&e);
                    }
                    return None;
                }
                Err(_) => {
                    // A dropped connection (say, Redis restarted since this thread last used
                    // it) is replaced right away.
                    if let Ok(mut s) = slot.lock() {
                        *s = Slot::Idle { retry_at: None };
                    }
                }
            }
        }
        let mut conn = match self.connect_if_due(&slot, connect_wait).await {
            Ok(Some(c)) => c,
            // Not due yet, or another request is connecting.
            Ok(None) => return None,
            Err(e) => {
                self.mark_down(&e);
                return None;
            }
        };
        match self.call(&mut conn, key, interval, tolerance).await {
            Ok(allowed) => {
                self.mark_up();
                Some(allowed)
            }
            Err(e) => {
                if let Ok(mut s) = slot.lock() {
                    *s = Slot::Idle {
                        retry_at: Some(Instant::now() + RETRY_EVERY),
                    };
                }
                self.mark_down(&e);
                None
            }
        }
    }

    /// EVALSHA, and EVAL when the server does not know the script yet (a restarted or new
    /// Redis), which also caches it there: one round trip either way after the first.
    async fn call(
        &self,
        conn: &mut MultiplexedConnection,
        key: &str,
        interval: u64,
        tolerance: u64,
    ) -> Result<bool, RedisError> {
        let run = async {
            let sha: Result<i64, RedisError> = redis::cmd("EVALSHA")
                .arg(self.script.get_hash())
                .arg(1)
                .arg(key)
                .arg(interval)
                .arg(tolerance)
                .query_async(conn)
                .await;
            let n = match sha {
                Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    redis::cmd("EVAL")
                        .arg(SCRIPT)
                        .arg(1)
                        .arg(key)
                        .arg(interval)
                        .arg(tolerance)
                        .query_async(conn)
                        .await?
                }
                other => other?,
            };
            Ok(n == 1)
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer within the rate limit timeout",
            ))),
        }
    }

    /// This thread's connection slot.
    fn slot(&self) -> Arc<Mutex<Slot>> {
        SLOTS.with(|slots| {
            let mut slots = slots.borrow_mut();
            if let Some((_, s)) = slots.iter().find(|(id, _)| *id == self.id) {
                return Arc::clone(s);
            }
            let s = Arc::new(Mutex::new(Slot::Idle { retry_at: None }));
            slots.push((self.id, Arc::clone(&s)));
            s
        })
    }

    /// Opens this thread's connection when it has none and may try again: on this thread's
    /// runtime, in the background, waiting for it at most `wait`.
    async fn connect_if_due(
        &self,
        slot: &Arc<Mutex<Slot>>,
        wait: Duration,
    ) -> Result<Option<MultiplexedConnection>, RedisError> {
        let (done, opened) = tokio::sync::watch::channel(());
        let pending = {
            let Ok(mut s) = slot.lock() else {
                return Ok(None);
            };
            match &*s {
                Slot::Ready(c, _) => return Ok(Some(c.clone())),
                Slot::Connecting(rx) => Some(rx.clone()),
                Slot::Idle { retry_at: Some(at) } if *at > Instant::now() => return Ok(None),
                Slot::Idle { .. } => {
                    *s = Slot::Connecting(opened);
                    None
                }
            }
        };
        if let Some(mut rx) = pending {
            // Another request of this thread is connecting (say, the first burst after
            // start-up): wait for that connection rather than fall back.
            let _ = tokio::time::timeout(wait, rx.changed()).await;
            return Ok(match &*slot.lock().map_err(|_| no_connection())? {
                Slot::Ready(c, _) => Some(c.clone()),
                _ => None,
            });
        }
        let client = self.client.clone();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(self.timeout));
        let target = Arc::clone(slot);
        let task = tokio::spawn(async move {
            let conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await;
            if let Ok(mut s) = target.lock() {
                *s = match &conn {
                    Ok(c) => Slot::Ready(c.clone(), 0),
                    Err(_) => Slot::Idle {
                        retry_at: Some(Instant::now() + RETRY_EVERY),
                    },
                };
            }
            drop(done);
            conn
        });
        match tokio::time::timeout(wait, task).await {
            Ok(Ok(conn)) => conn.map(Some),
            Ok(Err(join)) => Err(RedisError::from(std::io::Error::other(join.to_string()))),
            Err(_) => Err(no_connection()),
        }
    }

    fn mark_up(&self) {
        match self.state.swap(UP, Ordering::Relaxed) {
            UP => {}
            DOWN => tracing::info!("Redis is reachable again: rate limits are shared again"),
            _ => tracing::info!("rate limits are shared through Redis"),
        }
    }

    fn mark_down(&self, error: &RedisError) {
        let mode = self.fail_mode.as_str();
        match self.state.swap(DOWN, Ordering::Relaxed) {
            DOWN => {}
            UNKNOWN => tracing::warn!(
                error = %error,
                fail_mode = mode,
                "Redis is unreachable at start-up: rate limits are not shared until it is; throttled requests are decided by the fail mode"
            ),
            _ => tracing::warn!(
                error = %error,
                fail_mode = mode,
                "Redis is unreachable: rate limits are not shared until it is back; throttled requests are decided by the fail mode"
            ),
        }
    }

    /// Checks Redis now and then every second from the calling runtime, so the gauge and the
    /// logs follow Redis even when no request comes (and start-up says at once whether it is
    /// reachable). The probe runs the script, so a Redis that answers PING but cannot run it
    /// counts as down.
    pub async fn watch(self: &Arc<Self>) {
        self.probe().await;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RETRY_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                me.probe().await;
            }
        });
    }

    async fn probe(&self) {
        let allowed = self.eval(PROBE_KEY, 1, 1_000_000, CONNECT_TIMEOUT).await;
        if allowed.is_none() && self.state.load(Ordering::Relaxed) == UNKNOWN {
            // Not due yet (another probe is connecting): still a start without Redis.
            let e = RedisError::from(std::io::Error::other("not connected"));
            self.mark_down(&e);
        }
    }

    /// The Prometheus lines: whether limits are shared, and requests decided without Redis.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str(
            "# HELP gatehouse_redis_limits_up Whether rate limits are shared through Redis (1) or decided by the fail mode (0).\n",
        );
        out.push_str("# TYPE gatehouse_redis_limits_up gauge\n");
        let _ = writeln!(out, "gatehouse_redis_limits_up {}", u8::from(self.is_up()));
        out.push_str(
            "# HELP gatehouse_redis_limits_fallback_total Throttled requests decided without Redis, by fail mode.\n",
        );
        out.push_str("# TYPE gatehouse_redis_limits_fallback_total counter\n");
        let _ = writeln!(
            out,
            "gatehouse_redis_limits_fallback_total{{mode=\"{}\"}} {}",
            self.fail_mode.as_str(),
            self.fallbacks()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_hash_claims() {
        assert_eq!(
            key("a1", "prod", "GET /pets", None),
            "gatehouse:rl:a1:prod:GET /pets"
        );
        let k = key("a1", "prod", "GET /pets", Some("alice@example.com"));
        assert!(k.starts_with("gatehouse:rl:a1:prod:GET /pets:"));
        assert!(!k.contains("alice"));
        assert_eq!(k.len(), "gatehouse:rl:a1:prod:GET /pets:".len() + 32);
        assert_ne!(k, key("a1", "prod", "GET /pets", Some("bob")));
    }

    #[test]
    fn gcra_arguments() {
        assert_eq!(
            Rate {
                rate: 10.0,
                burst: 5.0
            }
            .gcra(),
            (100_000, 500_000)
        );
        let (interval, _) = Rate {
            rate: 0.0,
            burst: 1.0,
        }
        .gcra();
        assert!(interval > 86_400_000_000);
        assert_eq!("CLOSED".parse::<FailMode>(), Ok(FailMode::Closed));
        assert!("maybe".parse::<FailMode>().is_err());
    }
}
