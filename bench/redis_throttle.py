#!/usr/bin/env python3
"""Shared rate limits' cost: the JWT-authorized gateway path of bench/gateway.py with a
throttled stage, on a node without Redis (local token buckets) and on a node with --redis-url
(one EVALSHA per request on the data-plane thread's pipelined connection), in the same run,
alternating, in front of the same nginx origin; the unthrottled route of the first node is
measured too, as the baseline. Limits are set far above what wrk sends, so every request is
let through (2xx) and both nodes really decide each one.

Run it through bench/redis_throttle.sh (installs wrk, nginx and redis-server; builds Gatehouse).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

import gateway as gw
from bench import fmt_ms, fmt_rps, log, median, spawn, stop_all

BENCH = Path(__file__).resolve().parent
gw.WORK = BENCH / ".work-redis"
WORK = gw.WORK
RESULTS = BENCH / "results"
# Far above what one machine sends: every request passes, every request is decided.
LIMITS = {"ThrottlingRateLimit": 1_000_000.0, "ThrottlingBurstLimit": 1_000_000}


def throttle(s: gw.Setup, api: str) -> None:
    """Gives the API's $default stage route limits (auto-deployed) and waits until they serve."""
    apigw = boto3.client(
        "apigatewayv2", endpoint_url=f"http://127.0.0.1:{s.control_port}", region_name=gw.REGION,
        aws_access_key_id=gw.ACCESS_KEY, aws_secret_access_key=gw.SECRET_KEY,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    apigw.update_stage(ApiId=api, StageName="$default", DefaultRouteSettings=LIMITS)
    time.sleep(0.5)


def metric(port: int, name: str) -> float | None:
    status, body = gw.get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def redis_calls(port: int) -> int:
    """EVALSHA + EVAL calls Redis has answered (INFO commandstats)."""
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"], capture_output=True,
                         text=True, check=True).stdout
    n = 0
    for line in out.splitlines():
        if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")):
            n += int(line.split("calls=")[1].split(",")[0])
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 15)))
    ap.add_argument("--warmup", type=float, default=float(os.environ.get("WARMUP", 3)))
    ap.add_argument("--connections", type=int, default=int(os.environ.get("CONNECTIONS", 32)))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("WRK_THREADS", 2)))
    ap.add_argument("--paced-delay-ms", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round of 2 s, 1 s warm-up")
    ap.add_argument("--out", default=str(RESULTS / "redis_throttle.md"))
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 2, 1
        if args.out == str(RESULTS / "redis_throttle.md"):
            args.out = str(WORK / "quick.md")

    import shutil
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    RESULTS.mkdir(exist_ok=True)
    (WORK / "report.lua").write_text(gw.LUA)

    def on_signal(signum, frame):
        stop_all()
        sys.exit(130)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    gh_bin = gw.gatehouse_binary()
    results: dict[str, list[dict]] = {}
    try:
        ports = {k: gw.free_port() for k in ("origin", "redis", "control", "gateway", "control-redis",
                                             "gateway-redis")}
        origin = gw.start_nginx("origin", gw.origin_block(ports["origin"]))
        gw.wait_http(ports["origin"], origin, WORK / "origin-error.log")
        redis = spawn(["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(WORK)], WORK / "redis.log", cwd=WORK)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(ports["redis"]), "PING"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline or redis.poll() is not None:
                raise gw.BenchError(f"redis-server did not start: {gw.tail(WORK / 'redis.log', 500)}")
            time.sleep(0.05)

        env = dict(os.environ, GATEHOUSE_ADMIN_ACCESS_KEY_ID=gw.ACCESS_KEY,
                   GATEHOUSE_ADMIN_SECRET_ACCESS_KEY=gw.SECRET_KEY)
        env.pop("GATEHOUSE_LOG", None)
        nodes = {}
        for name, extra in (("local", []), ("redis", ["--redis-url", f"redis://127.0.0.1:{ports['redis']}"])):
            control, gateway = (ports["control"], ports["gateway"]) if name == "local" else \
                (ports["control-redis"], ports["gateway-redis"])
            p = spawn([str(gh_bin), "serve", "--data-dir", str(WORK / f"gatehouse-{name}-data"),
                       "--listen", f"127.0.0.1:{control}", "--gateway-listen", f"127.0.0.1:{gateway}",
                       *extra], WORK / f"gatehouse-{name}.log", cwd=WORK, env=env)
            gw.wait_http(control, p, WORK / f"gatehouse-{name}.log", timeout=60, path="/health")
            s = gw.Setup(control, gateway)
            gw.setup_gatehouse(s, ports["origin"], 1)
            throttle(s, s.api_small)
            nodes[name] = (p, s)
        (p_local, s_local), (p_redis, s_redis) = nodes["local"], nodes["redis"]
        if metric(s_redis.control_port, "gatehouse_redis_limits_up") != 1:
            raise gw.BenchError("the Redis node does not share its limits (gatehouse_redis_limits_up != 1)")
        targets = {
            "none": gw.Target("none", "JWT route, no throttling", s_local.gateway_port, p_local,
                              host=f"{s_local.api_large}.execute-api.localhost", auth=True, token=s_local.token),
            "local": gw.Target("local", "JWT route, stage throttling, local buckets", s_local.gateway_port,
                               p_local, host=f"{s_local.api_small}.execute-api.localhost", auth=True,
                               token=s_local.token),
            "redis": gw.Target("redis", "JWT route, stage throttling in Redis (--redis-url)",
                               s_redis.gateway_port, p_redis,
                               host=f"{s_redis.api_small}.execute-api.localhost", auth=True, token=s_redis.token),
        }
        direct = gw.Target("direct", "origin", ports["origin"], origin)
        pgids = [p.pid for p in (origin, redis, p_local, p_redis)]
        for t in targets.values():
            gw.check(t, t.token)
        calls_before = redis_calls(ports["redis"])
        for t in targets.values():
            gw.settle(pgids)
            gw.run_wrk(t, direct, t.token, args, args.warmup)
        order = list(targets)
        redis_requests = 0
        for rnd in range(args.rounds):
            log(f"round {rnd + 1}/{args.rounds}")
            shift = rnd % len(order)
            for k in order[shift:] + order[:shift]:
                gw.settle(pgids)
                r = gw.run_wrk(targets[k], direct, targets[k].token, args, args.duration)
                if r["non_2xx"] or r["socket_errors"]:
                    raise gw.BenchError(f"{k}: {r['non_2xx']} non-2xx, {r['socket_errors']} socket errors")
                log(f"  {k:6s} {fmt_rps(r['rps']):>8s} req/s  p50 {fmt_ms(r['p50_ms'])}  "
                    f"p99 {fmt_ms(r['p99_ms'])} ms  gatehouse {r['proxy_cpu_us_per_req']:.1f} µs/req")
                results.setdefault(k, []).append(r)
        # Every request of the Redis node went through the script (warm-up included).
        calls = redis_calls(ports["redis"]) - calls_before
        redis_requests = sum(r["requests"] for r in results["redis"])
        if calls < redis_requests:
            raise gw.BenchError(f"Redis answered {calls} script calls for {redis_requests} requests")
        fallbacks = metric(s_redis.control_port, 'gatehouse_redis_limits_fallback_total{mode="local"}')
    finally:
        stop_all()

    summary = {k: {m: median([r[m] for r in rs]) for m in ("rps", "p50_ms", "p99_ms", "proxy_cpu_us_per_req")}
               for k, rs in results.items()}
    base = summary["local"]["rps"]
    lines = [
        "# Shared rate limits: the JWT gateway path with and without Redis",
        "",
        f"{args.rounds} round(s) of {args.duration:g} s per target, wrk -t{args.threads} -c{args.connections}, "
        "targets alternated; medians. Throttle limits far above the load, so every request is decided "
        f"and let through. Redis answered {calls:,} script calls for {redis_requests:,} measured requests "
        f"of the Redis node; {int(fallbacks or 0)} were decided without it.",
        "",
        "| target | req/s | vs local | p50 ms | p99 ms | Gatehouse CPU µs/req |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k, t in targets.items():
        s = summary[k]
        lines.append(f"| {t.label} | {fmt_rps(s['rps'])} | {s['rps'] / base:.2f}x | {fmt_ms(s['p50_ms'])} | "
                     f"{fmt_ms(s['p99_ms'])} | {s['proxy_cpu_us_per_req']:.1f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
    print(text)
    log(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
