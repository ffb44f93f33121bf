#!/usr/bin/env python3
"""Sign-in storm: 200 concurrent wrong-password InitiateAuth attempts against the release
Gatehouse server for DURATION seconds while one legitimate user signs in over and over.

The storm spreads over many usernames, so it exercises the expensive path (an Argon2id
verify: existing users before their lockout, and unknown usernames, which get the same
decoy hash) and the cheap one (existing users after 5 failures, refused with "Password
attempts exceeded" without hashing). Reports the server's peak RSS (VmHWM), the storm's
throughput by outcome and latency, and the legitimate user's success rate and latency, idle
and under the storm. Writes bench/results/storm.json and prints a Markdown section.

    bench/storm.py [--duration 10] [--concurrency 200] [--victims 200]
    (needs target/release/gatehouse and boto3; bench/run.sh builds and runs it unless STORM=0)
"""
import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import boto3
import botocore.config

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("GATEHOUSE_BIN", ROOT / "target" / "release" / "gatehouse"))
ACCESS_KEY, SECRET_KEY = "AKIAGATEHOUSESTORM01", "gatehouse-storm-secret-key-00000000000000"
PASSWORD, WRONG = "Corr3ct-Horse!", "Wr0ng-Password!"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # KiB
    return 0


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Conn:
    """One keep-alive connection sending InitiateAuth."""

    def __init__(self, port, client_id):
        self.port, self.client_id = port, client_id
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def sign_in(self, username, password):
        body = json.dumps({"ClientId": self.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                           "AuthParameters": {"USERNAME": username, "PASSWORD": password}})
        headers = {"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
                   "Content-Type": "application/x-amz-json-1.1"}
        t = time.perf_counter()
        try:
            self.c.request("POST", "/", body, headers)
            r = self.c.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return "transport:" + type(e).__name__, time.perf_counter() - t
        dt = time.perf_counter() - t
        if r.status == 200:
            return ("ok" if b"AccessToken" in data else "challenge"), dt
        try:
            msg = json.loads(data).get("message", "")
        except ValueError:
            msg = data[:80].decode(errors="replace")
        return f"{r.status}:{msg}", dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 10)))
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--victims", type=int, default=40, help="existing users the storm targets")
    ap.add_argument("--unknown-share", type=float, default=0.5, help="share of attempts on unknown names")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "storm.json"))
    args = ap.parse_args()
    if not BIN.exists():
        sys.exit(f"{BIN} not built (cargo build --release -p gatehouse)")

    work = Path(tempfile.mkdtemp(prefix="gatehouse-storm-"))
    port = free_port()
    env = dict(os.environ, GATEHOUSE_ADMIN_ACCESS_KEY_ID=ACCESS_KEY,
               GATEHOUSE_ADMIN_SECRET_ACCESS_KEY=SECRET_KEY, GATEHOUSE_LOG="warn")
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen([str(BIN), "serve", "--data-dir", str(work / "data"),
                             "--listen", f"127.0.0.1:{port}", "--gateway-listen", f"127.0.0.1:{free_port()}"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("server did not start: " + (work / "server.log").read_text()[-2000:])
            time.sleep(0.05)

        idp = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                           config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=120))
        pid_ = idp.create_user_pool(PoolName="storm")["UserPool"]["Id"]
        cid = idp.create_user_pool_client(UserPoolId=pid_, ClientName="app", PreventUserExistenceErrors="ENABLED",
                                          ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
                                          )["UserPoolClient"]["ClientId"]
        victims = [f"victim{i:04d}" for i in range(args.victims)]
        # Users are created in the pool's own API; a password is set once per user (one hash).
        lock = threading.Lock()
        todo = ["legit"] + victims

        def create():
            while True:
                with lock:
                    if not todo:
                        return
                    u = todo.pop()
                idp.admin_create_user(UserPoolId=pid_, Username=u, MessageAction="SUPPRESS")
                idp.admin_set_user_password(UserPoolId=pid_, Username=u, Password=PASSWORD, Permanent=True)

        ts = [threading.Thread(target=create) for _ in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]

        legit = Conn(port, cid)
        idle = []
        for _ in range(20):
            outcome, dt = legit.sign_in("legit", PASSWORD)
            assert outcome == "ok", outcome
            idle.append(dt)
        rss_before, hwm_before = vm(proc.pid, "VmRSS"), vm(proc.pid, "VmHWM")

        stop = threading.Event()
        results = []  # (outcome, seconds)

        def attacker(seed):
            rng = random.Random(seed)
            conn = Conn(port, cid)
            mine = []
            while not stop.is_set():
                if rng.random() < args.unknown_share:
                    name = "ghost-" + uuid.UUID(int=rng.getrandbits(128)).hex[:12]
                else:
                    name = rng.choice(victims)
                mine.append(conn.sign_in(name, WRONG))
            with lock:
                results.extend(mine)

        legit_storm = []

        def legit_loop():
            conn = Conn(port, cid)
            while not stop.is_set():
                legit_storm.append(conn.sign_in("legit", PASSWORD))

        rss_samples = []

        def sampler():
            while not stop.is_set():
                rss_samples.append(vm(proc.pid, "VmRSS"))
                time.sleep(0.1)

        threads = [threading.Thread(target=attacker, args=(i,)) for i in range(args.concurrency)]
        threads += [threading.Thread(target=legit_loop), threading.Thread(target=sampler)]
        t0 = time.monotonic()
        [t.start() for t in threads]
        time.sleep(args.duration)
        stop.set()
        [t.join() for t in threads]
        elapsed = time.monotonic() - t0
        hwm_after, rss_after = vm(proc.pid, "VmHWM"), vm(proc.pid, "VmRSS")
        threads_after = int(next(l.split()[1] for l in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                                 if l.startswith("Threads:")))

        by = {}
        for outcome, dt in results:
            by.setdefault(outcome, []).append(dt)
        ok = [dt for o, dt in legit_storm if o == "ok"]
        summary = {
            "duration_s": round(elapsed, 1),
            "concurrency": args.concurrency,
            "victims": args.victims,
            "cpus": os.cpu_count(),
            "storm_attempts": len(results),
            "storm_per_s": round(len(results) / elapsed, 1),
            "storm_outcomes": {o: {"count": len(v), "p50_ms": round(1000 * statistics.median(v), 1),
                                   "p95_ms": round(1000 * pct(v, 95), 1)} for o, v in sorted(by.items())},
            "legit_idle_p50_ms": round(1000 * statistics.median(idle), 1),
            "legit_attempts": len(legit_storm),
            "legit_ok": len(ok),
            "legit_success_rate": round(len(ok) / max(1, len(legit_storm)), 4),
            "legit_failures": sorted({o for o, _ in legit_storm if o != "ok"}),
            "legit_p50_ms": round(1000 * statistics.median(ok), 1) if ok else None,
            "legit_p95_ms": round(1000 * pct(ok, 95), 1) if ok else None,
            "legit_max_ms": round(1000 * max(ok), 1) if ok else None,
            "rss_before_mib": round(rss_before / 1024, 1),
            "hwm_before_mib": round(hwm_before / 1024, 1),
            "rss_peak_sampled_mib": round(max(rss_samples or [0]) / 1024, 1),
            "hwm_after_mib": round(hwm_after / 1024, 1),
            "rss_after_mib": round(rss_after / 1024, 1),
            "server_threads_after": threads_after,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary, indent=2))
        return 0 if summary["legit_success_rate"] == 1.0 else 1
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
