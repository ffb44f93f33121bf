#!/usr/bin/env python3
"""OAuth benchmark: client_credentials token issuance at /oauth2/token against its CPU bound,
one RSA-2048 signature per token (`rsa_sign_bound` measured in the same run, same threads).

    bench/.venv/bin/python bench/oauth.py [--rounds 3] [--duration 10]

Needs `target/release/gatehouse` and `target/release/examples/rsa_sign_bound`
(bench/run.sh builds both; or `cargo build --release -p gatehouse && cargo build --release -p
gatehouse-core --example rsa_sign_bound`). Writes bench/results/oauth.json and oauth.md.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402  (shared helpers: spawn/stop, CPU accounting, rsa bound, machine)

WORK = B.BENCH / ".work-oauth"
PORT, GW_PORT = 18400, 18401
KEY_ID, SECRET = "AKIDBENCHOAUTH", "bench-oauth-secret"


def start_gatehouse() -> "subprocess.Popen":
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    exe = os.environ.get("GATEHOUSE_BIN") or str(B.ROOT / "target" / "release" / "gatehouse")
    env = {**os.environ, "GATEHOUSE_ADMIN_ACCESS_KEY_ID": KEY_ID,
           "GATEHOUSE_ADMIN_SECRET_ACCESS_KEY": SECRET, "RUST_LOG": "warn"}
    p = B.spawn([exe, "serve", "--data-dir", str(WORK / "data"), "--listen", f"127.0.0.1:{PORT}",
                 "--gateway-listen", f"127.0.0.1:{GW_PORT}"], WORK / "gatehouse.log", env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=1)
            return p
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("gatehouse did not start; see " + str(WORK / "gatehouse.log"))


def seed() -> tuple[str, str, str]:
    idp = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{PORT}", region_name="us-east-1",
                       aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                       config=Config(retries={"max_attempts": 0}))
    pool = idp.create_user_pool(PoolName="bench-oauth")["UserPool"]["Id"]
    idp.create_resource_server(UserPoolId=pool, Identifier="pets", Name="Pets",
                               Scopes=[{"ScopeName": "admin", "ScopeDescription": "admin"}])
    c = idp.create_user_pool_client(UserPoolId=pool, ClientName="svc", GenerateSecret=True,
                                    AllowedOAuthFlows=["client_credentials"],
                                    AllowedOAuthScopes=["pets/admin"],
                                    AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]
    return pool, c["ClientId"], c["ClientSecret"]


def request_parts(client_id: str, secret: str) -> tuple[dict, str]:
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return ({"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"},
            "grant_type=client_credentials&scope=pets%2Fadmin")


def check_once(headers: dict, body: str, pool: str, client_id: str) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}/oauth2/token", data=body.encode(),
                                 headers=headers, method="POST")
    tok = json.loads(urllib.request.urlopen(req, timeout=10).read())
    claims = json.loads(base64.urlsafe_b64decode(tok["access_token"].split(".")[1] + "=="))
    assert claims["sub"] == client_id and claims["scope"] == "pets/admin", claims
    assert claims["iss"].endswith(pool), claims


def run_wrk(pid: int, headers: dict, body: str, args) -> dict:
    lua = WORK / "token.lua"
    lines = ['wrk.method = "POST"', 'wrk.path = "/oauth2/token"', f"wrk.body = {B.lua_str(body)}"]
    lines += [f"wrk.headers[{B.lua_str(k)}] = {B.lua_str(v)}" for k, v in headers.items()]
    lua.write_text("\n".join(lines) + "\n" + B.LUA_DONE)
    sys0, _ = B.system_cpu()
    cpu0, t0 = B.proc_cpu_seconds(pid), time.monotonic()
    r = subprocess.run(["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.duration:g}s",
                        "-s", str(lua), f"http://127.0.0.1:{PORT}/"],
                       capture_output=True, text=True, timeout=args.duration + 60)
    cpu1, t1 = B.proc_cpu_seconds(pid), time.monotonic()
    sys1, _ = B.system_cpu()
    line = next((l for l in r.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {r.stderr[-300:]} {r.stdout[-300:]}")
    w = json.loads(line[len("WRKJSON "):])
    secs = w["duration_us"] / 1e6
    wall = t1 - t0
    return {"rps": (w["requests"] - w["status"]) / secs, "non_2xx": w["status"],
            "errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
            "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
            "server_cpu_pct": 100 * (cpu1 - cpu0) / wall,
            "machine_cpu_pct": 100 * (sys1 - sys0) / wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rsa-seconds", type=float, default=5)
    args = ap.parse_args()
    args.rsa_threads = 2
    p = start_gatehouse()
    try:
        pool, client_id, secret = seed()
        headers, body = request_parts(client_id, secret)
        check_once(headers, body, pool, client_id)
        rounds = []
        for i in range(args.rounds):
            B.settle([p.pid])
            wrk = run_wrk(p.pid, headers, body, args)
            B.settle([p.pid])
            bound = B.run_rsa_bound(args)
            rounds.append({"wrk": wrk, "rsa": bound})
            B.log(f"round {i + 1}: {wrk['rps']:,.0f} tokens/s, bound {bound['signatures_per_sec']:,.0f}/s "
                  f"(non-2xx {wrk['non_2xx']}, errors {wrk['errors']})")
    finally:
        B.stop_all()
    rps = B.median([r["wrk"]["rps"] for r in rounds])
    sps = B.median([r["rsa"]["signatures_per_sec"] for r in rounds])
    report = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": B.machine_info(), "gatehouse": B.versions()["gatehouse"],
        "settings": {"rounds": args.rounds, "duration_s": args.duration, "connections": args.connections,
                     "wrk_threads": 2, "rsa_threads": 2, "rsa_seconds": args.rsa_seconds},
        "rounds": rounds, "median_tokens_per_s": rps, "median_signatures_per_s": sps,
        "ratio": rps / sps if sps else None,
    }
    B.RESULTS.mkdir(exist_ok=True)
    (B.RESULTS / "oauth.json").write_text(json.dumps(report, indent=2))
    md = [
        f"# client_credentials issuance ({report['when']}, {report['machine']['cpu_model']}, "
        f"{report['machine']['nproc']} cores, gatehouse {report['gatehouse']})", "",
        "| round | tokens/s | p50 ms | p99 ms | non-2xx | server CPU % | machine CPU % | RSA-2048 signatures/s (2 threads) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rounds, 1):
        w = r["wrk"]
        md.append(f"| {i} | {w['rps']:,.0f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {w['non_2xx']} | "
                  f"{w['server_cpu_pct']:.0f} | {w['machine_cpu_pct']:.0f} | {r['rsa']['signatures_per_sec']:,.0f} |")
    md += ["", f"Median: **{rps:,.0f} tokens/s** = **{100 * report['ratio']:.0f} %** of the bound "
               f"({sps:,.0f} signatures/s; one signature per token). Target: 70 %.", ""]
    (B.RESULTS / "oauth.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
