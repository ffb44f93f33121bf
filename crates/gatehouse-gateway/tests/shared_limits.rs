//! Shared rate limits against a real redis-server, started by each test on a free port.
//! Without redis-server installed the tests say so and pass, unless
//! `GATEHOUSE_TEST_REQUIRE_REDIS` is set (scripts/test installs Redis and sets it).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gatehouse_gateway::shared_limits::{key, FailMode, Rate, SharedLimits, Verdict};

struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn redis_installed() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("GATEHOUSE_TEST_REQUIRE_REDIS").is_none(),
            "redis-server is not installed but GATEHOUSE_TEST_REQUIRE_REDIS is set"
        );
        eprintln!("SKIPPED: redis-server is not installed (scripts/test installs it)");
    }
    found
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Redis {
    async fn start(port: u16) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) {
                if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut c).await;
                    if pong.is_ok() {
                        break;
                    }
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Redis {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A generous timeout: these tests are about sharing and falling back (a stopped Redis refuses
/// at once), not about a slow one, and must not flake on a busy machine.
fn limits(url: &str, mode: FailMode) -> std::sync::Arc<SharedLimits> {
    SharedLimits::new(url, mode, Duration::from_millis(500)).unwrap()
}

const NEVER: Rate = Rate {
    rate: 0.001,
    burst: 10.0,
};

#[tokio::test]
async fn gcra_allows_the_burst_then_the_rate() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start(free_port()).await;
    let l = limits(&redis.url(), FailMode::Closed);
    let rate = Rate {
        rate: 10.0,
        burst: 5.0,
    };
    let k = key("api1", "prod", "GET /pets", None);
    for i in 0..5 {
        assert_eq!(l.take(&k, rate, || false).await, Verdict::Allowed, "#{i}");
    }
    assert_eq!(l.take(&k, rate, || true).await, Verdict::Throttled);
    assert!(l.is_up());
    // One request per 100 ms comes back.
    tokio::time::sleep(Duration::from_millis(130)).await;
    assert_eq!(l.take(&k, rate, || false).await, Verdict::Allowed);
    assert_eq!(l.take(&k, rate, || true).await, Verdict::Throttled);
    // The key lives only until the bucket would be full again (5 × 100 ms).
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&k)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(ttl > 300 && ttl <= 501, "ttl {ttl}");
    // A zero burst lets nothing through; a zero rate allows the burst once.
    let none = Rate {
        rate: 100.0,
        burst: 0.0,
    };
    assert_eq!(
        l.take("gatehouse:rl:z", none, || true).await,
        Verdict::Throttled
    );
    let once = Rate {
        rate: 0.0,
        burst: 2.0,
    };
    let z = key("api1", "prod", "GET /zero", None);
    assert_eq!(l.take(&z, once, || false).await, Verdict::Allowed);
    assert_eq!(l.take(&z, once, || false).await, Verdict::Allowed);
    assert_eq!(l.take(&z, once, || true).await, Verdict::Throttled);
    assert_eq!(l.fallbacks(), 0);
}

#[tokio::test]
async fn two_nodes_share_one_budget() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start(free_port()).await;
    let (a, b) = (
        limits(&redis.url(), FailMode::Local),
        limits(&redis.url(), FailMode::Local),
    );
    let route = key("api1", "prod", "GET /pets", None);
    let mut allowed = 0;
    for i in 0..40 {
        let node = if i % 2 == 0 { &a } else { &b };
        // Each node's own bucket would allow everything: only Redis can refuse.
        if node.take(&route, NEVER, || true).await == Verdict::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
    // Per-user keys are budgets of their own, shared too.
    let alice = key("api1", "prod", "GET /pets", Some("alice"));
    let bob = key("api1", "prod", "GET /pets", Some("bob"));
    let one = Rate {
        rate: 0.001,
        burst: 1.0,
    };
    assert_eq!(a.take(&alice, one, || true).await, Verdict::Allowed);
    assert_eq!(b.take(&alice, one, || true).await, Verdict::Throttled);
    assert_eq!(b.take(&bob, one, || true).await, Verdict::Allowed);
    // Concurrent requests of one node pipeline on its connection and still count once each.
    let many = key("api1", "prod", "GET /many", None);
    let rate = Rate {
        rate: 0.001,
        burst: 50.0,
    };
    let results =
        futures_util::future::join_all((0..200).map(|_| a.take(&many, rate, || true))).await;
    assert_eq!(
        results.iter().filter(|v| **v == Verdict::Allowed).count(),
        50
    );
    assert_eq!(a.fallbacks() + b.fallbacks(), 0);
    // A node's first burst waits for the connection its first request opens, rather than
    // being decided without Redis.
    let c = limits(&redis.url(), FailMode::Closed);
    let first = key("api1", "prod", "GET /first", None);
    let results =
        futures_util::future::join_all((0..100).map(|_| c.take(&first, rate, || true))).await;
    assert_eq!(c.fallbacks(), 0);
    assert_eq!(
        results.iter().filter(|v| **v == Verdict::Allowed).count(),
        50
    );
}

/// Waits until `l` answers from Redis again (its fallback count stops growing).
async fn until_shared(l: &SharedLimits, k: &str) -> Verdict {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = l.fallbacks();
        let v = l.take(k, NEVER, || true).await;
        if l.fallbacks() == before {
            return v;
        }
        assert!(Instant::now() < deadline, "Redis limits never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_down_falls_back_per_mode_and_recovers() {
    if !redis_installed() {
        return;
    }
    let mut redis = Redis::start(free_port()).await;
    let url = redis.url();
    let local = limits(&url, FailMode::Local);
    let open = limits(&url, FailMode::Open);
    let closed = limits(&url, FailMode::Closed);
    let k = key("api1", "prod", "GET /down", None);
    let one = Rate {
        rate: 0.001,
        burst: 1.0,
    };
    assert_eq!(local.take(&k, one, || true).await, Verdict::Allowed);
    // The shared budget is used up: every node sees it.
    for l in [&local, &open, &closed] {
        assert_eq!(l.take(&k, one, || true).await, Verdict::Throttled);
        assert!(l.is_up());
    }

    redis.stop();
    // `local`: the node's own bucket decides (here: one more, then none).
    let own = AtomicU32::new(1);
    let local_bucket = || {
        own.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    };
    assert_eq!(local.take(&k, one, local_bucket).await, Verdict::Allowed);
    assert_eq!(local.take(&k, one, local_bucket).await, Verdict::Throttled);
    assert_eq!(open.take(&k, one, || false).await, Verdict::Allowed);
    assert_eq!(closed.take(&k, one, || true).await, Verdict::Unavailable);
    for l in [&local, &open, &closed] {
        assert!(!l.is_up());
    }
    assert_eq!(local.fallbacks(), 2);
    assert_eq!(open.fallbacks(), 1);
    assert_eq!(closed.fallbacks(), 1);
    // While down, requests do not each try to connect: they are decided at once.
    let started = Instant::now();
    for _ in 0..1000 {
        assert_eq!(closed.take(&k, one, || true).await, Verdict::Unavailable);
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    let mut metrics = String::new();
    closed.render_metrics(&mut metrics);
    assert!(
        metrics.contains("gatehouse_redis_limits_up 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_redis_limits_fallback_total{mode=\"closed\"} 1001\n"),
        "{metrics}"
    );

    // Back on the same port (empty, and without the script: EVALSHA falls back to EVAL).
    let _redis = Redis::start(redis.port).await;
    for l in [&local, &open, &closed] {
        assert_eq!(until_shared(l, &k).await, Verdict::Allowed);
        assert!(l.is_up());
    }
    // Shared again: the budget of 10 is now partly used by the three nodes.
    let mut allowed = 3;
    for l in [&local, &open, &closed].iter().cycle().take(30) {
        if l.take(&k, NEVER, || true).await == Verdict::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
    let mut metrics = String::new();
    closed.render_metrics(&mut metrics);
    assert!(
        metrics.contains("gatehouse_redis_limits_up 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn one_slow_answer_falls_back_alone_and_timeouts_in_a_row_mean_down() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start(free_port()).await;
    let l = SharedLimits::new(&redis.url(), FailMode::Open, Duration::from_millis(50)).unwrap();
    let k = key("api1", "prod", "GET /slow", None);
    assert_eq!(l.take(&k, NEVER, || false).await, Verdict::Allowed);
    assert!(l.is_up());
    // Redis holds every client's commands for 600 ms.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600)
        .query_async(&mut admin)
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(l.take(&k, NEVER, || false).await, Verdict::Allowed);
    assert_eq!(l.fallbacks(), 1);
    assert!(l.is_up(), "one timeout is not Redis gone");
    assert_eq!(l.take(&k, NEVER, || false).await, Verdict::Allowed);
    assert_eq!(l.take(&k, NEVER, || false).await, Verdict::Allowed);
    assert_eq!(l.fallbacks(), 3);
    assert!(!l.is_up(), "three in a row are");
    assert!(started.elapsed() < Duration::from_millis(500));
    // Then requests do not wait at all until the retry is due.
    let quick = Instant::now();
    for _ in 0..100 {
        l.take(&k, NEVER, || false).await;
    }
    assert!(
        quick.elapsed() < Duration::from_millis(40),
        "{:?}",
        quick.elapsed()
    );
    assert_eq!(until_shared(&l, &k).await, Verdict::Allowed);
    assert!(l.is_up());
}

#[tokio::test]
async fn starts_without_redis_and_joins_when_it_comes() {
    if !redis_installed() {
        return;
    }
    let port = free_port();
    let l = limits(&format!("redis://127.0.0.1:{port}"), FailMode::Local);
    l.watch().await;
    assert!(!l.is_up());
    let k = key("api1", "prod", "GET /late", None);
    assert_eq!(l.take(&k, NEVER, || true).await, Verdict::Allowed);
    assert_eq!(l.take(&k, NEVER, || false).await, Verdict::Throttled);
    let _redis = Redis::start(port).await;
    // The watcher notices within about a second, without any request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !l.is_up() {
        assert!(Instant::now() < deadline, "the watcher never saw Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(until_shared(&l, &k).await, Verdict::Allowed);
}

#[test]
fn bad_urls_are_refused() {
    for url in ["http://localhost:6379", "not a url", ""] {
        let e = SharedLimits::new(url, FailMode::Local, Duration::from_millis(50)).unwrap_err();
        assert!(e.contains("--redis-url"), "{e}");
    }
}
