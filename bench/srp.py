#!/usr/bin/env python3
"""USER_SRP_AUTH benchmark: both round trips against the real server, compared with the bound
its modular exponentiations set, measured in the same run.

    bench/.venv/bin/python bench/srp.py [--seconds 10] [--rounds 3] [--workers 4]

Run by bench/run.sh after the main benchmark (it builds target/release/gatehouse and
target/release/examples/srp_bound). Per round:

1. `srp_bound --threads 2` (servers idle): sign-ins/s if the server did nothing but the SRP
   arithmetic of a sign-in (g^b, v^u, (A·v^u)^b), and so its CPU ms per sign-in.
2. `--workers` client processes sign `benchuser` in over and over (InitiateAuth USER_SRP_AUTH,
   then RespondToAuthChallenge PASSWORD_VERIFIER with a correct proof; each answer checked),
   for `--seconds`. The server's CPU time (utime + stime of `gatehouse serve` from /proc) over
   the completed sign-ins is its CPU ms per sign-in, both round trips, everything included.

The clients share the 2 cores with the server (their own SRP half costs more than the server's),
so raw throughput is not the figure: server CPU per sign-in is, and `ratio` = server CPU per
sign-in ÷ bound CPU per sign-in (target ≤ 1.5). `server-side sign-ins/s` = 2 cores ÷ server CPU
per sign-in, the throughput the server would reach with the machine to itself.

Writes bench/results/srp.json and bench/results/srp.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work-srp"
RESULTS = BENCH / "results"
BIN = ROOT / "target" / "release" / "gatehouse"
BOUND = ROOT / "target" / "release" / "examples" / "srp_bound"
ACCESS_KEY, SECRET_KEY = "AKIDSRPBENCH", "srp-bench-secret-key-0123456789"
PASSWORD = "Bench-Passw0rd!9"
USERNAME = "benchuser"

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] srp: {msg}", flush=True)


def pad(n: int) -> bytes:
    h = format(n, "x")
    if len(h) % 2:
        h = "0" + h
    elif h[0] in "89abcdef":
        h = "00" + h
    return bytes.fromhex(h)


K = int.from_bytes(hashlib.sha256(pad(N) + pad(G)).digest(), "big")
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def timestamp() -> str:
    t = dt.datetime.now(dt.timezone.utc)
    return f"{WEEKDAYS[t.weekday()]} {MONTHS[t.month - 1]} {t.day} {t:%H:%M:%S} UTC {t.year}"


class Client:
    """The client half of USER_SRP_AUTH, as amazon-cognito-identity-js computes it, with a
    short secret `a` and A and the verifier precomputed, to keep the load cheap."""

    def __init__(self, port: int, pool_id: str, client_id: str):
        self.port, self.pool_id, self.client_id = port, pool_id, client_id
        self.pool_name = pool_id.split("_", 1)[1]
        self.a = secrets.randbits(256) | 1
        self.A = pow(G, self.a, N)
        self.A_hex = format(self.A, "x")
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.kv = None

    def call(self, op: str, body: dict) -> dict:
        self.conn.request(
            "POST",
            "/",
            json.dumps(body),
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}"},
        )
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{op}: {r.status} {data[:300]!r}")
        return json.loads(data)

    def sign_in(self) -> None:
        c = self.call(
            "InitiateAuth",
            {"AuthFlow": "USER_SRP_AUTH", "ClientId": self.client_id, "AuthParameters": {"USERNAME": USERNAME, "SRP_A": self.A_hex}},
        )
        p = c["ChallengeParameters"]
        user_id = p["USER_ID_FOR_SRP"]
        B = int(p["SRP_B"], 16)
        if self.kv is None:  # the salt and verifier are the user's: compute them once
            inner = hashlib.sha256(f"{self.pool_name}{user_id}:{PASSWORD}".encode()).digest()
            self.x = int.from_bytes(hashlib.sha256(pad(int(p["SALT"], 16)) + inner).digest(), "big")
            self.kv = K * pow(G, self.x, N) % N
        u = int.from_bytes(hashlib.sha256(pad(self.A) + pad(B)).digest(), "big")
        S = pow((B - self.kv) % N, self.a + u * self.x, N)
        prk = hmac.new(pad(u), pad(S), hashlib.sha256).digest()
        key = hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]
        ts = timestamp()
        block = p["SECRET_BLOCK"]
        msg = self.pool_name.encode() + user_id.encode() + base64.b64decode(block) + ts.encode()
        sig = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
        out = self.call(
            "RespondToAuthChallenge",
            {
                "ClientId": self.client_id,
                "ChallengeName": "PASSWORD_VERIFIER",
                "Session": c["Session"],
                "ChallengeResponses": {
                    "USERNAME": user_id,
                    "PASSWORD_CLAIM_SECRET_BLOCK": block,
                    "PASSWORD_CLAIM_SIGNATURE": sig,
                    "TIMESTAMP": ts,
                },
            },
        )
        if not out.get("AuthenticationResult", {}).get("AccessToken"):
            raise RuntimeError(f"no tokens: {out}")


def worker(port, pool_id, client_id, go, stop, counter, errors):
    # The load generator yields the CPU to the server: what is measured is the server's cost,
    # and preempting it mid-request would add context switches that are the load's doing.
    os.nice(10)
    c = Client(port, pool_id, client_id)
    go.wait()
    while not stop.is_set():
        try:
            c.sign_in()
        except Exception as e:  # noqa: BLE001 - counted and reported
            with errors.get_lock():
                errors.value += 1
            print(f"srp worker: {e}", file=sys.stderr, flush=True)
            c.conn.close()
            c.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        with counter.get_lock():
            counter.value += 1


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_bound(seconds: float) -> dict:
    """srp_bound on 2 threads; its CPU ms per sign-in from its rusage (CPU time, not wall time
    × threads, so other load on the machine does not inflate the bound)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([str(BOUND), "--threads", "2", "--seconds", str(seconds)], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = json.loads(out.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r["wall_cpu_ms_per_sign_in"] = r["cpu_ms_per_sign_in"]
    r["cpu_ms_per_sign_in"] = 1000 * cpu / r["sign_ins"]
    r["cpu_pct"] = 100 * cpu / r["seconds"]
    return r


def measure(port, pool_id, client_id, pid, workers, seconds, warmup):
    go, stop = mp.Event(), mp.Event()
    counter, errors = mp.Value("q", 0), mp.Value("q", 0)
    procs = [mp.Process(target=worker, args=(port, pool_id, client_id, go, stop, counter, errors)) for _ in range(workers)]
    for p in procs:
        p.start()
    go.set()
    time.sleep(warmup)
    c0, t0, e0 = counter.value, time.monotonic(), errors.value
    cpu0 = cpu_ticks(pid)
    time.sleep(seconds)
    c1, t1, e1 = counter.value, time.monotonic(), errors.value
    cpu1 = cpu_ticks(pid)
    stop.set()
    for p in procs:
        p.join(timeout=30)
    n = c1 - c0
    cpu_s = (cpu1 - cpu0) / CLK_TCK
    return {
        "sign_ins": n,
        "seconds": t1 - t0,
        "sign_ins_per_sec": n / (t1 - t0),
        "server_cpu_s": cpu_s,
        "server_cpu_pct": 100 * cpu_s / (t1 - t0),
        "server_cpu_ms_per_sign_in": 1000 * cpu_s / n if n else None,
        "errors": e1 - e0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SRP_SECONDS", os.environ.get("DURATION", 10))))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--workers", type=int, default=int(os.environ.get("SRP_WORKERS", 4)))
    ap.add_argument("--bound-seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    args = ap.parse_args()
    for path in (BIN, BOUND):
        if not path.exists():
            log(f"{path} is missing: build it first (bench/run.sh does)")
            return 2

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    port = free_port()
    env = dict(os.environ, GATEHOUSE_ADMIN_ACCESS_KEY_ID=ACCESS_KEY, GATEHOUSE_ADMIN_SECRET_ACCESS_KEY=SECRET_KEY, GATEHOUSE_LOG="warn")
    log_file = open(WORK / "gatehouse.log", "wb")
    server = subprocess.Popen(
        [str(BIN), "serve", "--data-dir", str(WORK / "data"), "--listen", f"127.0.0.1:{port}", "--gateway-listen", f"127.0.0.1:{free_port()}"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                h = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                h.request("GET", "/health")
                if h.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                log("gatehouse did not start; see " + str(WORK / "gatehouse.log"))
                return 1
            time.sleep(0.05)
        idp = boto3.client(
            "cognito-idp",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}),
        )
        pool_id = idp.create_user_pool(PoolName="bench-srp")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="bench", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username=USERNAME, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=USERNAME, Password=PASSWORD, Permanent=True)
        Client(port, pool_id, client_id).sign_in()  # checks the whole exchange once
        log(f"server pid {server.pid}, pool {pool_id}; {args.rounds} round(s) of {args.seconds:g} s, {args.workers} client processes")

        rounds = []
        for i in range(args.rounds):
            time.sleep(1)
            bound = run_bound(args.bound_seconds)
            load = measure(port, pool_id, client_id, server.pid, args.workers, args.seconds, args.warmup)
            ratio = load["server_cpu_ms_per_sign_in"] / bound["cpu_ms_per_sign_in"] if load["server_cpu_ms_per_sign_in"] else None
            r = {"bound": bound, "load": load, "ratio": ratio}
            rounds.append(r)
            log(
                f"round {i + 1}: bound {bound['cpu_ms_per_sign_in']:.2f} CPU ms per sign-in ({bound['cpu_pct']:.0f}% CPU); "
                f"server {load['server_cpu_ms_per_sign_in']:.2f} CPU ms per sign-in ({load['sign_ins_per_sec']:.0f}/s with the clients, "
                f"{load['errors']} errors) → ratio {ratio:.2f}"
            )
        peak_kb = vm(server.pid, "VmHWM")
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
        log_file.close()

    med = lambda xs: statistics.median(xs)  # noqa: E731
    bound_ms = med([r["bound"]["cpu_ms_per_sign_in"] for r in rounds])
    bound_rate = 2000 / bound_ms  # on 2 cores, at the measured CPU cost
    server_ms = med([r["load"]["server_cpu_ms_per_sign_in"] for r in rounds])
    ratio = med([r["ratio"] for r in rounds])
    errors = sum(r["load"]["errors"] for r in rounds)
    summary = {
        "bound_cpu_ms_per_sign_in": bound_ms,
        "bound_sign_ins_per_sec": bound_rate,
        "server_cpu_ms_per_sign_in": server_ms,
        "server_side_sign_ins_per_sec": 2000 / server_ms,
        "loaded_sign_ins_per_sec": med([r["load"]["sign_ins_per_sec"] for r in rounds]),
        "ratio": ratio,
        "target": 1.5,
        "pass": ratio <= 1.5 and errors == 0,
        "errors": errors,
        "server_peak_rss_kb": peak_kb,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "srp.json").write_text(json.dumps({"when": dt.datetime.now().isoformat(timespec="seconds"), "args": vars(args), "rounds": rounds, "summary": summary}, indent=2))
    per_round = " / ".join(f"{r['ratio']:.2f}" for r in rounds)
    md = f"""# USER_SRP_AUTH — latest run

{dt.datetime.now():%Y-%m-%d %H:%M}, {len(rounds)} round(s), {args.seconds:g} s of load each, {args.workers} client processes, `nproc` = {os.cpu_count()}.

| figure | median |
|---|---:|
| bound: `srp_bound`, 2 threads, g^b + v^u + (A·v^u)^b per sign-in | {bound_ms:.2f} CPU ms per sign-in = {bound_rate:,.0f} sign-ins/s on 2 cores |
| Gatehouse, both round trips, server CPU per sign-in | {server_ms:.2f} CPU ms |
| Gatehouse server-side sign-ins/s (2 cores ÷ CPU per sign-in) | {2000 / server_ms:,.0f} |
| sign-ins/s with the clients on the same 2 cores | {summary['loaded_sign_ins_per_sec']:,.0f} |
| **ratio** server ÷ bound (target ≤ 1.5) | **{ratio:.2f}** ({'pass' if summary['pass'] else 'FAIL'}; rounds {per_round}) |
| errors | {errors} |
| server peak RSS | {peak_kb / 1024:.0f} MiB |
"""
    (RESULTS / "srp.md").write_text(md)
    print(md)
    return 0 if summary["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
