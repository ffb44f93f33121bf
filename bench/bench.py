#!/usr/bin/env python3
"""Gatehouse benchmark driver: Gatehouse vs moto server vs cognito-local on this machine.

Run it through bench/run.sh (which installs wrk, the venv, the peers and builds Gatehouse).
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
PEERS = BENCH / ".peers"

REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"
POOL_SMALL = "bench-100"
POOL_LARGE = "bench-100k"
BENCH_PASSWORD = "Bench-Passw0rd!9"
SOMEONE_EMAIL = "someone@example.com"
FILTER = f'email = "{SOMEONE_EMAIL}"'
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"

ALL_SERVERS: list["Server"] = []

# Every subprocess we start, so that we stop exactly those (by pid / own process group).
STARTED: list[subprocess.Popen] = []


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Users

def bulk_users(count: int, someone_index: int):
    """The bulk users of a pool: user000000 … (user<i>@example.com), index `someone_index`
    being `someone` / someone@example.com (what the ListUsers filter looks for).
    moto_seeded.py applies the same rule."""
    for i in range(count):
        if i == someone_index:
            yield "someone", SOMEONE_EMAIL
        else:
            yield f"user{i:06d}", f"user{i:06d}@example.com"


@dataclass
class PoolSpec:
    name: str
    bulk: int  # users loaded in bulk (the large pool also gets the benchmark user: +1)

    @property
    def someone_index(self) -> int:
        return self.bulk // 2

    @property
    def probe_email(self) -> str:
        """An email near the end of the bulk set, to check the bulk load really happened."""
        i = self.bulk - 1
        if i == self.someone_index:
            i -= 1
        return f"user{i:06d}@example.com"


# ---------------------------------------------------------------------------------------------
# Processes

def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in KiB from /proc/PID/status."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return float("nan")


def settle(pids: list[int], quiet_pct: float = 5.0, timeout: float = 60.0,
           machine_pct: float = 25.0, machine_timeout: float = 5.0) -> float:
    """Wait until none of `pids` uses more than quiet_pct of a core over 0.5 s (a server may
    still be writing its data file, collecting garbage or finishing requests queued by the
    previous run), and, for at most machine_timeout s, until the whole machine is below
    machine_pct (other work on the machine disturbs the figures; what remains is reported as
    `other CPU`). Returns seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = {p: proc_cpu_seconds(p) for p in pids}
        m0 = system_cpu()[0]
        time.sleep(0.5)
        busy = [p for p in pids if 100 * (proc_cpu_seconds(p) - before[p]) / 0.5 > quiet_pct]
        machine_busy = 100 * (system_cpu()[0] - m0) / 0.5 > machine_pct
        if not busy and (not machine_busy or time.monotonic() - t0 > machine_timeout):
            break
    return time.monotonic() - t0


def system_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    steal = v[7] if len(v) > 7 else 0
    # guest time is already counted in user/nice
    busy = sum(v[:8]) - idle - steal
    return busy / CLK_TCK, steal / CLK_TCK


def spawn(cmd: list[str], log_path: Path, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    logf = open(log_path, "ab")
    p = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so we can stop it and only it
    )
    STARTED.append(p)
    return p


def stop(p: subprocess.Popen | None, timeout: float = 15.0) -> None:
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)  # the group we created for this child
    except ProcessLookupError:
        return
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(5)


def stop_all() -> None:
    for p in STARTED:
        stop(p)
    for s in ALL_SERVERS:
        if isinstance(s, GatehousePg):
            s.stop_cluster()


# ---------------------------------------------------------------------------------------------
# Servers

class Unavailable(Exception):
    pass


@dataclass
class Server:
    key: str
    label: str
    port: int
    access_key: str = "bench"
    secret_key: str = "bench"
    proc: subprocess.Popen | None = None
    ctx: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    memory_after_setup: dict[str, int] = field(default_factory=dict)
    startup_seconds: float | None = None

    @property
    def log_path(self) -> Path:
        return WORK / f"{self.key}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def boto(self):
        return boto3.client(
            "cognito-idp", endpoint_url=f"http://127.0.0.1:{self.port}", region_name=REGION,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            config=Config(retries={"max_attempts": 1, "mode": "standard"},
                          read_timeout=120, connect_timeout=5),
        )

    def wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise Unavailable(f"exited with {self.proc.returncode} during start-up "
                                  f"(log: {self.log_path.relative_to(ROOT)}): {tail(self.log_path)}")
            try:
                status, _ = http_get(self.port, path, timeout=1.0)
                if status < 500:
                    self.startup_seconds = time.monotonic() - started
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise Unavailable(f"not answering GET {path} after {timeout:.0f}s: {tail(self.log_path)}")

    def setup(self, small: PoolSpec, large: PoolSpec) -> None:
        raise NotImplementedError

    def extra_cpu_pids(self) -> list[int]:
        """Processes besides the server's own whose CPU is the server's (its database)."""
        return []

    # The part every server shares: app client, benchmark user, its tokens.
    def finish_setup(self, bench_username: str) -> None:
        c = self.boto()
        large = self.ctx["pools"][POOL_LARGE]
        self.ctx["client_id"] = c.create_user_pool_client(
            UserPoolId=large, ClientName="bench",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        c.admin_create_user(
            UserPoolId=large, Username=bench_username, TemporaryPassword="Temp-Passw0rd!9",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": "benchuser@example.com"},
                            {"Name": "email_verified", "Value": "true"}],
        )
        c.admin_set_user_password(UserPoolId=large, Username=bench_username,
                                  Password=BENCH_PASSWORD, Permanent=True)
        auth = c.initiate_auth(
            ClientId=self.ctx["client_id"], AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": bench_username, "PASSWORD": BENCH_PASSWORD},
        )["AuthenticationResult"]
        self.ctx["access_token"] = auth["AccessToken"]
        self.ctx["refresh_token"] = auth["RefreshToken"]


class Gatehouse(Server):
    binary = ROOT / "target" / "release" / "gatehouse"

    def __init__(self, port: int):
        super().__init__("gatehouse", "Gatehouse", port,
                         access_key="AKIAGATEHOUSEBENCH01",
                         secret_key="gatehouse-bench-secret-key-0000000000000")
        self.data_dir = WORK / "gatehouse-data"

    def env(self) -> dict:
        env = dict(os.environ)
        env["GATEHOUSE_ADMIN_ACCESS_KEY_ID"] = self.access_key
        env["GATEHOUSE_ADMIN_SECRET_ACCESS_KEY"] = self.secret_key
        return env

    def store_args(self) -> list[str]:
        """Where the store is: the embedded SQLite file in the data dir."""
        return []

    def start(self) -> None:
        if not port_free(self.port) or not port_free(self.port + 1):
            raise Unavailable(f"port {self.port} or {self.port + 1} already in use")
        self.proc = spawn(
            [str(self.binary), "serve", "--data-dir", str(self.data_dir), *self.store_args(),
             "--listen", f"127.0.0.1:{self.port}", "--gateway-listen", f"127.0.0.1:{self.port + 1}"],
            self.log_path, cwd=WORK, env=self.env())
        self.wait_ready("/health", 60)

    def setup(self, small: PoolSpec, large: PoolSpec) -> None:
        if os.environ.get("GATEHOUSE_BUILD_ERROR"):
            raise Unavailable(os.environ["GATEHOUSE_BUILD_ERROR"])
        if not self.binary.exists():
            raise Unavailable(f"{self.binary.relative_to(ROOT)} not built")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        self.start()
        c = self.boto()
        pools = {}
        for spec in (small, large):
            pools[spec.name] = c.create_user_pool(PoolName=spec.name)["UserPool"]["Id"]
        self.ctx["pools"] = pools
        header = None
        try:
            header = c.get_csv_header(UserPoolId=pools[POOL_LARGE])["CSVHeader"]
        except Exception as e:  # GetCSVHeader is optional for us; AWS's default header then
            self.notes.append(f"GetCSVHeader failed ({short(e)}); used AWS's default header")
        stop(self.proc)
        self.proc = None
        self.ctx["import_seconds"] = {}
        for spec in (small, large):
            path = WORK / f"import-{spec.name}.csv"
            write_import_csv(path, header, bulk_users(spec.bulk, spec.someone_index))
            t0 = time.monotonic()
            r = subprocess.run(
                [str(self.binary), "user", "import", "--data-dir", str(self.data_dir),
                 *self.store_args(), "--pool-id", pools[spec.name], str(path)],
                cwd=WORK, env=self.env(), capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise Unavailable(f"`gatehouse user import` failed ({r.returncode}): "
                                  f"{(r.stderr or r.stdout).strip()[-400:]}")
            self.ctx["import_seconds"][spec.name] = time.monotonic() - t0
        self.start()
        self.finish_setup("benchuser")


class GatehousePg(Gatehouse):
    """The same binary on PostgreSQL 15: a throwaway cluster (scripts/pg-test-cluster) with
    PostgreSQL's default durability (fsync, synchronous_commit on), as the embedded store's
    WAL with synchronous=FULL, on the same machine."""

    def __init__(self, port: int):
        super().__init__(port)
        self.key, self.label = "gatehouse-pg", "Gatehouse (PostgreSQL)"
        self.data_dir = WORK / "gatehouse-pg-data"
        self.pg_dir: Path | None = None
        self.db_url: str | None = None

    def store_args(self) -> list[str]:
        if self.db_url is None:
            self.start_cluster()
        return ["--database-url", self.db_url]

    def start_cluster(self) -> None:
        import tempfile
        # Outside the repository: as root the server runs as user postgres, who must reach it.
        self.pg_dir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-pg."))
        self.pg_dir.chmod(0o755)  # mkdtemp makes it 0700; the server user must pass through
        env = dict(os.environ, GATEHOUSE_PG_DURABLE="1")
        r = subprocess.run([str(ROOT / "scripts" / "pg-test-cluster"), "start", str(self.pg_dir / "c")],
                           env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise Unavailable(f"PostgreSQL did not start: {r.stderr.strip()[-400:]}")
        base = r.stdout.strip().splitlines()[-1]
        r = subprocess.run(["psql", base, "-qc", "CREATE DATABASE gatehouse_bench"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Unavailable(f"CREATE DATABASE failed: {r.stderr.strip()[-300:]}")
        self.db_url = base.rsplit("/", 1)[0] + "/gatehouse_bench"
        self.notes.append("PostgreSQL 15 on the same machine, default durability (fsync on), "
                          "its own cluster started for the run")

    def extra_cpu_pids(self) -> list[int]:
        """PostgreSQL's postmaster and every process it started (backends, WAL writer, …)."""
        if self.pg_dir is None:
            return []
        try:
            master = int((self.pg_dir / "c" / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        pids = [master]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == master:
                    pids.append(int(entry.name))
        return pids

    def stop_cluster(self) -> None:
        if self.pg_dir is not None:
            subprocess.run([str(ROOT / "scripts" / "pg-test-cluster"), "stop", str(self.pg_dir / "c")],
                           capture_output=True, timeout=120)
            shutil.rmtree(self.pg_dir, ignore_errors=True)
            self.pg_dir = None


AWS_DEFAULT_CSV_HEADER = [
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "email", "email_verified", "gender", "birthdate",
    "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at",
    "cognito:mfa_enabled", "cognito:username",
]


def write_import_csv(path: Path, header: list[str] | None, users) -> None:
    """AWS user-import CSV (header from GetCSVHeader): username, email, email_verified=true,
    cognito:mfa_enabled=false (both required by AWS); everything else empty."""
    header = list(header or AWS_DEFAULT_CSV_HEADER)
    fixed = {"email_verified": "true", "cognito:mfa_enabled": "false"}
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for username, email in users:
            row = dict(fixed, **{"cognito:username": username, "email": email})
            w.writerow([row.get(col, "") for col in header])


class Moto(Server):
    def __init__(self, port: int):
        super().__init__("moto", "moto server", port)

    def setup(self, small: PoolSpec, large: PoolSpec) -> None:
        if not port_free(self.port):
            raise Unavailable(f"port {self.port} already in use")
        spec_path = WORK / "moto-seed.json"
        spec_path.write_text(json.dumps({
            "region": REGION, "account": MOTO_ACCOUNT,
            "pools": [{"name": s.name, "count": s.bulk, "someone_index": s.someone_index}
                      for s in (small, large)]}))
        self.proc = spawn([sys.executable, str(BENCH / "moto_seeded.py"), str(spec_path), str(self.port)],
                          self.log_path, cwd=WORK)
        self.wait_ready("/", 300)  # any HTTP answer: serving (it listens once the bulk load is done)
        self.ctx["pools"] = json.loads(Path(str(spec_path) + ".ids.json").read_text())
        self.finish_setup("benchuser")


class CognitoLocal(Server):
    entry = PEERS / "node_modules" / "cognito-local" / "lib" / "bin" / "start.js"

    def __init__(self, port: int):
        super().__init__("cognito-local", "cognito-local", port)
        self.cwd = WORK / "cognito-local"

    def start(self) -> None:
        if not port_free(self.port):
            raise Unavailable(f"port {self.port} already in use")
        env = dict(os.environ, PORT=str(self.port), HOST="127.0.0.1")
        env.pop("DEBUG", None)
        self.proc = spawn(["node", str(self.entry)], self.log_path, cwd=self.cwd, env=env)
        self.wait_ready("/health", 300)

    def setup(self, small: PoolSpec, large: PoolSpec) -> None:
        if not self.entry.exists():
            raise Unavailable("cognito-local not installed in bench/.peers")
        shutil.rmtree(self.cwd, ignore_errors=True)
        self.cwd.mkdir(parents=True)
        self.start()
        c = self.boto()
        # Pools are created with cognito-local's defaults (UsernameAttributes ["email"]: the
        # username is the user's sub, which is its fast path for GetUser).
        pools = {s.name: c.create_user_pool(PoolName=s.name)["UserPool"]["Id"] for s in (small, large)}
        self.ctx["pools"] = pools
        stop(self.proc)
        self.proc = None
        # Writing 100 000 users through its API rewrites its JSON file on every write, so
        # the bulk users go straight into its data file, in its format.
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for spec in (small, large):
            path = self.cwd / ".cognito" / "db" / f"{pools[spec.name]}.json"
            db = json.loads(path.read_text())
            users = db.setdefault("Users", {})
            for _username, email in bulk_users(spec.bulk, spec.someone_index):
                sub = str(uuid.uuid4())
                users[sub] = {
                    "Username": sub,
                    "Attributes": [{"Name": "email", "Value": email},
                                   {"Name": "email_verified", "Value": "true"},
                                   {"Name": "sub", "Value": sub}],
                    "Enabled": True,
                    "UserStatus": "RESET_REQUIRED",
                    "UserCreateDate": now,
                    "UserLastModifiedDate": now,
                    "RefreshTokens": [],
                }
            path.write_text(json.dumps(db, indent=2))
        self.start()
        self.finish_setup("benchuser@example.com")


def check_population(server: Server, specs) -> None:
    """The bulk load really happened: the last bulk user of each pool is there."""
    c = server.boto()
    for spec in specs:
        pool = server.ctx["pools"][spec.name]
        try:
            users = c.list_users(UserPoolId=pool, Filter=f'email = "{spec.probe_email}"')["Users"]
        except Exception as e:
            server.notes.append(f"could not check the bulk load of {spec.name} with ListUsers: {short(e)}")
            continue
        if len(users) != 1:
            raise Unavailable(f"bulk load of {spec.name} incomplete: ListUsers for {spec.probe_email} "
                              f"returned {len(users)} users")


def tail(path: Path, n: int = 400) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip().replace("\n", " | ")
    except OSError:
        return ""


def short(e: BaseException, n: int = 300) -> str:
    s = f"{type(e).__name__}: {e}"
    return s if len(s) <= n else s[:n] + "…"


# ---------------------------------------------------------------------------------------------
# Requests and wrk

@dataclass
class Request:
    headers: dict[str, str]
    body: str


def lua_str(s: str) -> str:
    out = []
    for b in s.encode():
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


LUA_DONE = r'''
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
'''


def write_lua(path: Path, req: Request) -> None:
    lines = ['wrk.method = "POST"', 'wrk.path = "/"', f"wrk.body = {lua_str(req.body)}"]
    for k, v in req.headers.items():
        lines.append(f"wrk.headers[{lua_str(k)}] = {lua_str(v)}")
    path.write_text("\n".join(lines) + "\n" + LUA_DONE)


def send_once(port: int, req: Request) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/", req.body.encode(), req.headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def plain_request(server: Server, target: str, body: dict) -> Request:
    return Request({"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + target},
                   json.dumps(body, separators=(",", ":")))


def signed_request(server: Server, target: str, body: dict) -> Request:
    """A SigV4-signed request as boto3 sends it (admin operations). Signed right before each
    run; AWS-style verification accepts it for minutes, which covers one wrk run."""
    data = json.dumps(body, separators=(",", ":"))
    headers = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + target,
               "Host": f"127.0.0.1:{server.port}"}
    areq = AWSRequest(method="POST", url=f"http://127.0.0.1:{server.port}/", data=data, headers=headers)
    SigV4Auth(Credentials(server.access_key, server.secret_key), "cognito-idp", REGION).add_auth(areq)
    return Request(dict(areq.headers.items()), data)


@dataclass
class Scenario:
    key: str
    title: str
    build: Callable[[Server], Request]
    check: Callable[[Server, dict], str | None]  # None = response is right, else why not
    servers: tuple[str, ...]


def check_getuser(server: Server, resp: dict) -> str | None:
    return None if resp.get("Username") else f"no Username in {str(resp)[:200]}"


def check_refresh(server: Server, resp: dict) -> str | None:
    ar = resp.get("AuthenticationResult") or {}
    return None if ar.get("AccessToken") and ar.get("IdToken") else f"no tokens in {str(resp)[:200]}"


def check_someone(server: Server, resp: dict) -> str | None:
    users = resp.get("Users")
    if not isinstance(users, list) or len(users) != 1:
        return f"expected exactly 1 user, got {str(users)[:200]}"
    attrs = {a.get("Name"): a.get("Value") for a in users[0].get("Attributes", [])}
    return None if attrs.get("email") == SOMEONE_EMAIL else f"wrong user {str(users[0])[:200]}"


def listusers_scenario(key: str, pool: str, title: str) -> Scenario:
    return Scenario(
        key, title,
        lambda s: signed_request(s, "ListUsers", {"UserPoolId": s.ctx["pools"][pool], "Filter": FILTER}),
        check_someone, ("gatehouse", "gatehouse-pg", "moto", "cognito-local"))


SCENARIOS = [
    Scenario("getuser", "GetUser (access token), 100k-user pool",
             lambda s: plain_request(s, "GetUser", {"AccessToken": s.ctx["access_token"]}),
             check_getuser, ("gatehouse", "gatehouse-pg", "moto", "cognito-local")),
    Scenario("refresh", "InitiateAuth REFRESH_TOKEN_AUTH, 100k-user pool",
             lambda s: plain_request(s, "InitiateAuth", {
                 "AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": s.ctx["client_id"],
                 "AuthParameters": {"REFRESH_TOKEN": s.ctx["refresh_token"]}}),
             check_refresh, ("gatehouse", "gatehouse-pg", "moto", "cognito-local")),
    listusers_scenario("listusers-100", POOL_SMALL, f"ListUsers Filter {FILTER}, 100-user pool"),
    listusers_scenario("listusers-100k", POOL_LARGE, f"ListUsers Filter {FILTER}, 100k-user pool"),
]


def probe(server: Server, sc: Scenario) -> str | None:
    """Send the exact request once; None if the answer is a correct 200."""
    try:
        status, body = send_once(server.port, sc.build(server))
    except Exception as e:
        return short(e)
    if status != 200:
        return f"HTTP {status}: {body[:300].decode(errors='replace')}"
    try:
        return sc.check(server, json.loads(body))
    except ValueError:
        return f"not JSON: {body[:200]!r}"


def run_wrk(server: Server, sc: Scenario, args, duration: float) -> dict:
    lua = WORK / "lua" / f"{server.key}-{sc.key}.lua"
    write_lua(lua, sc.build(server))
    pid = server.pid
    others = [x.pid for x in ALL_SERVERS if x.pid and x.pid != pid]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys0, steal0 = system_cpu()
    oth0 = sum(proc_cpu_seconds(p) for p in others)
    extra = server.extra_cpu_pids()
    extra0 = {p: proc_cpu_seconds(p) for p in extra}
    cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
    r = subprocess.run(
        ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration:g}s",
         "--timeout", f"{args.wrk_timeout}s", "-s", str(lua), f"http://127.0.0.1:{server.port}/"],
        capture_output=True, text=True, timeout=duration + args.wrk_timeout + 60)
    cpu1, t1 = proc_cpu_seconds(pid), time.monotonic()
    # The server's own database (PostgreSQL's processes, new backends included) is the server's.
    for p in server.extra_cpu_pids():
        now = proc_cpu_seconds(p)
        if now == now:  # not NaN: the process is still there
            cpu1 += now - extra0.get(p, 0.0)
    oth1 = sum(proc_cpu_seconds(p) for p in others)
    sys1, steal1 = system_cpu()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = t1 - t0
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    line = next((l for l in r.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({r.returncode}): {r.stderr.strip()[-300:]} {r.stdout[-300:]}")
    w = json.loads(line[len("WRKJSON "):])
    secs = w["duration_us"] / 1e6
    ok = w["requests"] - w["status"]
    return {
        "rps": ok / secs,
        "requests": w["requests"],
        "non_2xx": w["status"],
        "socket_errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "timeouts": w["timeout"],
        "p50_ms": w["p50_us"] / 1000, "p90_ms": w["p90_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
        "mean_ms": w["mean_us"] / 1000, "max_ms": w["max_us"] / 1000,
        "server_cpu_pct": 100 * (cpu1 - cpu0) / wall,
        "wrk_cpu_pct": 100 * wrk_cpu / wall,
        # Everything else on the machine (other servers included, the driver, the kernel, and
        # whatever else runs here): a disturbed run shows up here.
        "other_cpu_pct": 100 * ((sys1 - sys0) - (cpu1 - cpu0) - wrk_cpu) / wall,
        "idle_servers_cpu_pct": 100 * (oth1 - oth0) / wall,
        "steal_pct": 100 * (steal1 - steal0) / wall,
        "seconds": secs,
    }


def run_rsa_bound(args) -> dict:
    if os.environ.get("RSA_BOUND_BUILD_ERROR"):
        raise RuntimeError(os.environ["RSA_BOUND_BUILD_ERROR"])
    exe = os.environ.get("RSA_SIGN_BOUND_BIN") or ROOT / "target" / "release" / "examples" / "rsa_sign_bound"
    ru0, sys0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), system_cpu()[0], time.monotonic()
    r = subprocess.run([str(exe), "--threads", str(args.rsa_threads), "--seconds", str(args.rsa_seconds)],
                       capture_output=True, text=True, timeout=args.rsa_seconds + 120)
    ru1, sys1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), system_cpu()[0], time.monotonic()
    if r.returncode != 0:
        raise RuntimeError(f"rsa_sign_bound failed: {r.stderr.strip()[-300:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    own = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    out["other_cpu_pct"] = 100 * ((sys1 - sys0) - own) / (t1 - t0)
    return out


# ---------------------------------------------------------------------------------------------
# Report

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_rps(x):
    return "—" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:,.1f}")


def fmt_ms(x):
    return "—" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.2f}" if x < 10 else f"{x:.1f}")


def fmt_mib(kib):
    return "—" if kib is None else f"{kib / 1024:,.0f} MiB"


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""


def machine_info() -> dict:
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
    return {
        "nproc": sh("nproc"), "cpu_model": model, "free_g": sh("free -g"),
        "kernel": platform.release(), "os": sh(". /etc/os-release && echo $PRETTY_NAME"),
    }


def versions() -> dict:
    v = {"python": platform.python_version(), "node": sh("node --version"),
         "wrk": sh("wrk -v 2>&1 | head -1").split(" Copyright")[0]}
    try:
        v["moto"] = importlib.metadata.version("moto")
    except Exception:
        v["moto"] = "?"
    try:
        v["cognito-local"] = json.loads((PEERS / "node_modules/cognito-local/package.json").read_text())["version"]
    except Exception:
        v["cognito-local"] = "?"
    v["gatehouse"] = sh(f"cd {ROOT} && (git rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')")
    if sh(f"cd {ROOT} && git status --porcelain -- crates Cargo.toml Cargo.lock | head -1"):
        v["gatehouse"] += " + uncommitted changes"
    return v


def render(report: dict) -> str:
    a = report["settings"]
    servers = report["servers"]
    labels = {s["key"]: s["label"] for s in servers}
    server_error = {s["key"]: s.get("error") for s in servers}
    res = report["results"]  # scenario -> server -> list of per-round dicts
    unavailable = report["unavailable"]  # scenario -> server -> reason
    def title(sc):
        t = sc.title.replace("100k-user pool", f"{a['large_pool_users']:,}-user pool")
        return t.replace(", 100-user pool", f", {a['small_pool_users']:,}-user pool")

    med = {}
    for sc in SCENARIOS:
        for key in labels:
            runs = res.get(sc.key, {}).get(key, [])
            if runs:
                med[(sc.key, key)] = {m: median([r.get(m) for r in runs]) for m in
                                      ("rps", "p50_ms", "p99_ms", "server_cpu_pct",
                                       "wrk_cpu_pct", "other_cpu_pct")}
                med[(sc.key, key)]["errors"] = sum(r["non_2xx"] + r["socket_errors"] for r in runs)
                med[(sc.key, key)]["rounds"] = [r["rps"] for r in runs]
    L = []
    L.append("# Gatehouse benchmark — latest run\n")
    L.append(f"Run {report['started']} → {report['finished']} ({report['elapsed_min']:.1f} min). "
             f"wrk {a['threads']} thread(s), {a['connections']} connections, {a['duration']:g} s per run, "
             f"{a['rounds']} rounds (medians below), {a['warmup']:g} s warm-up before round 1; "
             f"all load on 127.0.0.1. Large pool: {a['large_pool_users']:,} users, small pool: "
             f"{a['small_pool_users']:,} users.\n")
    m = report["machine"]
    L.append("## Machine\n")
    L.append(f"- CPU: {m['cpu_model']} — `nproc` = {m['nproc']}")
    L.append(f"- OS: {m['os']}, kernel {m['kernel']}")
    L.append("- Memory (`free -g`):\n\n```\n" + m["free_g"] + "\n```")
    vs = report["versions"]
    L.append(f"- Versions: Gatehouse {vs['gatehouse']}; moto {vs['moto']} (`moto_server`, Python "
             f"{vs['python']}); cognito-local {vs['cognito-local']} (Node {vs['node']}); {vs['wrk']}\n")

    L.append("## Throughput and latency (median of rounds)\n")
    L.append("| scenario | server | req/s | p50 ms | p99 ms | server CPU | wrk CPU | other CPU | req/s per round | errors |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for sc in SCENARIOS:
        for key in labels:
            if key not in sc.servers:
                continue
            d = med.get((sc.key, key))
            if d is None:
                if server_error.get(key):
                    why = "server not ready (see Memory)"
                else:
                    why = unavailable.get(sc.key, {}).get(key) or "not run"
                L.append(f"| {title(sc)} | {labels[key]} | pending | | | | | | {why} | |")
                continue
            L.append(f"| {title(sc)} | {labels[key]} | {fmt_rps(d['rps'])} | {fmt_ms(d['p50_ms'])} | "
                     f"{fmt_ms(d['p99_ms'])} | {d['server_cpu_pct']:.0f}% | {d['wrk_cpu_pct']:.0f}% | "
                     f"{max(0.0, d['other_cpu_pct']):.0f}% | "
                     f"{' / '.join(fmt_rps(x) for x in d['rounds'])} | {d['errors']} |")
    L.append("")
    L.append("CPU columns: CPU time during the run ÷ wall time (200% = both cores) of the server "
             "process (with its PostgreSQL's processes for Gatehouse on PostgreSQL), of wrk, and of everything else on the machine (the idle peers, the driver, the "
             "kernel, anything else running: a high figure means a disturbed run). `errors` counts "
             "non-2xx answers and socket errors/timeouts over all rounds; req/s counts only 2xx "
             "answers.\n")

    rsa = report["rsa"]
    bound = None
    if rsa:
        sps = median([r["signatures_per_sec"] for r in rsa])
        bound = sps / 2
        L.append("## Token issuance bound\n")
        L.append(f"RSA-2048 PKCS#1 v1.5 SHA-256 signatures with aws-lc-rs on {rsa[0]['threads']} threads "
                 f"(`rsa_sign_bound`, {a['rsa_seconds']:g} s per round): median **{sps:,.0f} signatures/s** "
                 f"(rounds: {' / '.join(format(r['signatures_per_sec'], ',.0f') for r in rsa)}; "
                 f"other CPU during them: {' / '.join(format(max(0.0, r.get('other_cpu_pct', 0)), '.0f') + '%' for r in rsa)}). "
                 f"REFRESH_TOKEN_AUTH signs two tokens (access + ID), so its bound is "
                 f"**{bound:,.0f} req/s**.\n")
    elif report.get("rsa_error"):
        L.append("## Token issuance bound\n")
        L.append(f"pending: {report['rsa_error']}\n")

    L.append("## Targets\n")
    L.append("| check | measured | target | result |")
    L.append("|---|---:|---:|---|")

    def rps(sc, key):
        d = med.get((sc, key))
        return d["rps"] if d else None

    def verdict(ok):
        return "pending" if ok is None else ("pass" if ok else "**FAIL**")

    g = rps("getuser", "gatehouse")
    L.append(f"| GetUser, Gatehouse req/s | {fmt_rps(g)} | ≥ 10,000 | {verdict(None if g is None else g >= 10000)} |")
    for peer in ("moto", "cognito-local"):
        p = rps("getuser", peer)
        ratio = g / p if g and p else None
        L.append(f"| GetUser, Gatehouse ÷ {labels.get(peer, peer)} | "
                 f"{'—' if ratio is None else f'{ratio:,.1f}×'} | ≥ 3× | {verdict(None if ratio is None else ratio >= 3)} |")
    for sc_key, what in (("getuser", "GetUser"), ("refresh", "REFRESH_TOKEN_AUTH")):
        lite, pg = rps(sc_key, "gatehouse"), rps(sc_key, "gatehouse-pg")
        ratio = lite / pg if lite and pg else None
        L.append(f"| {what}, Gatehouse on SQLite ÷ on PostgreSQL | "
                 f"{'—' if ratio is None else f'{ratio:,.2f}× ({fmt_rps(lite)} vs {fmt_rps(pg)})'} | ≤ 2× | "
                 f"{verdict(None if ratio is None else ratio <= 2)} |")
    rt = rps("refresh", "gatehouse")
    frac = rt / bound if rt and bound else None
    L.append(f"| REFRESH_TOKEN_AUTH, Gatehouse ÷ signing bound | "
             f"{'—' if frac is None else f'{100 * frac:.0f}% ({fmt_rps(rt)} of {fmt_rps(bound)})'} | ≥ 70% | "
             f"{verdict(None if frac is None else frac >= 0.7)} |")
    for key in labels:
        small, big = rps("listusers-100", key), rps("listusers-100k", key)
        ratio = small / big if small and big else None
        target = "≤ 2×" if key == "gatehouse" else "(reference)"
        v = verdict(None if ratio is None else ratio <= 2) if key == "gatehouse" else (
            "—" if ratio is None else "")
        L.append(f"| ListUsers filter, {labels[key]}: req/s at 100 ÷ req/s at 100k | "
                 f"{'—' if ratio is None else f'{ratio:,.2f}×'} | {target} | {v} |")
    L.append("")

    L.append("## Memory\n")
    L.append("| server | RSS after seeding | peak RSS (VmHWM) at end of run | seeding |")
    L.append("|---|---:|---:|---|")
    for s in servers:
        if s.get("error"):
            L.append(f"| {s['label']} | pending | pending | {s['error'][:300]} |")
            continue
        L.append(f"| {s['label']} | {fmt_mib(s['memory_after_setup'].get('VmRSS'))} | "
                 f"{fmt_mib(s['memory_end'].get('VmHWM'))} | {s['seeding']} |")
    L.append("")
    notes = [f"- {s['label']}: {n}" for s in servers for n in s.get("notes", [])]
    dist = report.get("disturbed_runs") or []
    if dist:
        notes.append(f"- {len(dist)} run(s) were disturbed by other work on the machine (other CPU > "
                     f"{a['disturbed_pct']:g}%) and run again; the first attempts are in latest.json "
                     f"under `disturbed_runs`.")
    for sc_key, by in unavailable.items():
        for key, why in by.items():
            if server_error.get(key):
                continue
            notes.append(f"- {labels.get(key, key)}, {sc_key}: not measured — {why}")
    if notes:
        L.append("## Notes\n")
        L.extend(notes)
        L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("ROUNDS", 3)))
    ap.add_argument("--duration", type=float, default=float(os.environ.get("DURATION", 10)))
    ap.add_argument("--connections", type=int, default=int(os.environ.get("CONNECTIONS", 32)))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("WRK_THREADS", 2)))
    ap.add_argument("--warmup", type=float, default=float(os.environ.get("WARMUP", 2)))
    ap.add_argument("--wrk-timeout", type=int, default=20)
    ap.add_argument("--disturbed-pct", type=float, default=30,
                    help="re-run once a run during which other processes used more CPU than this")
    ap.add_argument("--max-reruns", type=int, default=8, help="re-run budget for the whole run")
    ap.add_argument("--users", type=int, default=int(os.environ.get("USERS", 100_000)),
                    help="size of the large pool")
    ap.add_argument("--small-users", type=int, default=100)
    ap.add_argument("--rsa-seconds", type=float, default=5)
    ap.add_argument("--rsa-threads", type=int, default=2)
    ap.add_argument("--servers", default=os.environ.get("SERVERS", "gatehouse,moto,cognito-local"))
    ap.add_argument("--scenarios", default=os.environ.get("SCENARIOS", ",".join(s.key for s in SCENARIOS)))
    ap.add_argument("--base-port", type=int, default=int(os.environ.get("BASE_PORT", 18100)))
    ap.add_argument("--out", default=str(RESULTS / "latest.md"))
    args = ap.parse_args()
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 120 and 1 <= args.connections <= 1024):
        ap.error("rounds 1..20, duration 1..120 s, connections 1..1024")

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "lua").mkdir(parents=True)
    RESULTS.mkdir(exist_ok=True)
    started = time.time()

    small = PoolSpec(POOL_SMALL, args.small_users)
    large = PoolSpec(POOL_LARGE, args.users - 1)  # + the benchmark user
    wanted = args.servers.split(",")
    all_servers = [Gatehouse(args.base_port), GatehousePg(args.base_port + 300),
                   Moto(args.base_port + 100), CognitoLocal(args.base_port + 200)]
    servers = [s for s in all_servers if s.key in wanted]
    ALL_SERVERS.extend(servers)
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios.split(",")]

    def on_signal(signum, frame):
        stop_all()
        sys.exit(130)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    report: dict[str, Any] = {"results": {}, "unavailable": {}, "rsa": []}
    try:
        for s in servers:
            log(f"setting up {s.label} on 127.0.0.1:{s.port} ({args.users:,} + {args.small_users} users)")
            t0 = time.monotonic()
            try:
                s.setup(small, large)
                secs = time.monotonic() - t0
                how = {"gatehouse": "pools + client + bench user via API, bulk users via `gatehouse user import` (CSV)",
                       "gatehouse-pg": "as Gatehouse, into PostgreSQL (`gatehouse user import --database-url`)",
                       "moto": "bulk users in-process via the AdminCreateUser backend call, rest via API",
                       "cognito-local": "bulk users written into its JSON data file, rest via API"}[s.key]
                s.ctx["seeding"] = f"{how}; {secs:.0f} s"
                if "import_seconds" in s.ctx:
                    s.ctx["seeding"] += " (import: " + ", ".join(
                        f"{k} {v:.1f} s" for k, v in s.ctx["import_seconds"].items()) + ")"
                check_population(s, (small, large))
                data = {"gatehouse": WORK / "gatehouse-data", "cognito-local": WORK / "cognito-local"}.get(s.key)
                if data is not None:
                    size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
                    s.ctx["seeding"] += f"; data on disk {size / 2**20:,.0f} MiB"
                if isinstance(s, GatehousePg) and s.db_url:
                    r = subprocess.run(["psql", s.db_url, "-Atc", "SELECT pg_database_size(current_database())"],
                                       capture_output=True, text=True, timeout=60)
                    if r.returncode == 0 and r.stdout.strip().isdigit():
                        s.ctx["seeding"] += f"; database size {int(r.stdout.strip()) / 2**20:,.0f} MiB"
                time.sleep(1)
                s.memory_after_setup = proc_status(s.pid) if s.pid else {}
                log(f"  ready in {secs:.1f}s, RSS {fmt_mib(s.memory_after_setup.get('VmRSS'))}")
            except Exception as e:
                s.error = f"setup failed: {short(e, 400)}"
                log(f"  {s.label} unavailable: {s.error}")
                if not isinstance(e, Unavailable):
                    traceback.print_exc()
                stop(s.proc)
                s.proc = None

        # Probe every scenario once with the exact request wrk will send.
        runnable: dict[str, list[Server]] = {}
        for sc in scenarios:
            runnable[sc.key] = []
            for s in servers:
                if s.key not in sc.servers:
                    continue
                if s.error:
                    report["unavailable"].setdefault(sc.key, {})[s.key] = s.error
                    continue
                why = probe(s, sc)
                if why:
                    report["unavailable"].setdefault(sc.key, {})[s.key] = f"probe failed: {why}"
                    log(f"  {s.label} {sc.key}: {why}")
                else:
                    runnable[sc.key].append(s)

        if args.warmup > 0:
            for sc in scenarios:
                for s in runnable[sc.key]:
                    settle([x.pid for x in servers if x.pid], timeout=30)
                    try:
                        run_wrk(s, sc, args, args.warmup)
                    except Exception as e:
                        log(f"  warm-up {s.label} {sc.key}: {short(e)}")

        live = [s.pid for s in servers if s.pid]
        waited = settle(live)
        if waited > 1:
            log(f"waited {waited:.1f}s for the servers to go idle")

        reruns_left = [args.max_reruns]
        for rnd in range(args.rounds):
            log(f"round {rnd + 1}/{args.rounds}")
            try:
                for attempt in range(2):
                    settle([x.pid for x in servers if x.pid], timeout=30)
                    rsa = run_rsa_bound(args)
                    if rsa["other_cpu_pct"] > args.disturbed_pct and reruns_left[0] > 0 and attempt == 0:
                        reruns_left[0] -= 1
                        log(f"  rsa_sign_bound disturbed (other CPU {rsa['other_cpu_pct']:.0f}%, "
                            f"{rsa['signatures_per_sec']:,.0f}/s): running it again")
                        report.setdefault("disturbed_runs", []).append(
                            {"scenario": "rsa_sign_bound", "round": rnd + 1, **rsa})
                        continue
                    break
                report["rsa"].append(rsa)
                log(f"  rsa_sign_bound: {rsa['signatures_per_sec']:,.0f} signatures/s on {rsa['threads']} threads"
                    f"  other {rsa['other_cpu_pct']:.0f}%")
            except Exception as e:
                report["rsa_error"] = short(e, 400)
                log(f"  rsa_sign_bound unavailable: {short(e)}")
            for sc in scenarios:
                order = runnable[sc.key][rnd % max(1, len(runnable[sc.key])):] + \
                    runnable[sc.key][:rnd % max(1, len(runnable[sc.key]))]
                for s in order:
                    if s.pid is None:
                        report["unavailable"].setdefault(sc.key, {})[s.key] = "server process died"
                        continue
                    r = None
                    for attempt in range(2):
                        # Requests a slow server still has queued from the previous run (wrk
                        # closed the connections, the server may not notice) must not overlap.
                        settle([x.pid for x in servers if x.pid], timeout=30)
                        try:
                            r = run_wrk(s, sc, args, args.duration)
                        except Exception as e:
                            log(f"  {sc.key:15s} {s.label:14s} failed: {short(e)}")
                            r = None
                            break
                        r["attempt"] = attempt + 1
                        # Something else on the machine took a big share of the CPU during
                        # this run: run it again once (within a budget for the whole run).
                        if r["other_cpu_pct"] > args.disturbed_pct and reruns_left[0] > 0 and attempt == 0:
                            reruns_left[0] -= 1
                            log(f"  {sc.key:15s} {s.label:14s} disturbed (other CPU "
                                f"{r['other_cpu_pct']:.0f}%, {r['rps']:,.0f} req/s): running it again")
                            report.setdefault("disturbed_runs", []).append(
                                {"scenario": sc.key, "server": s.key, "round": rnd + 1, **r})
                            continue
                        break
                    if r is None:
                        continue
                    report["results"].setdefault(sc.key, {}).setdefault(s.key, []).append(r)
                    log(f"  {sc.key:15s} {s.label:14s} {fmt_rps(r['rps']):>8s} req/s  p50 {fmt_ms(r['p50_ms'])} ms"
                        f"  p99 {fmt_ms(r['p99_ms'])} ms  cpu {r['server_cpu_pct']:.0f}%"
                        + f"  wrk {r['wrk_cpu_pct']:.0f}%  other {r['other_cpu_pct']:.0f}%"
                        + (f"  steal {r['steal_pct']:.0f}%" if r["steal_pct"] >= 1 else "")
                        + (f"  non-2xx {r['non_2xx']}" if r["non_2xx"] else "")
                        + (f"  socket errors {r['socket_errors']}" if r["socket_errors"] else ""))
    finally:
        for s in servers:
            s.ctx["memory_end"] = proc_status(s.pid) if s.pid else {}
        stop_all()

    if not os.environ.get("KEEP_WORK"):
        # The seeded data (≈ 300 MB); the logs and wrk scripts stay in bench/.work.
        for path in [WORK / "gatehouse-data", WORK / "cognito-local", *WORK.glob("*.csv"),
                     *WORK.glob("moto-seed.json*")]:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    finished = time.time()
    report.update({
        "started": dt.datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S"),
        "finished": dt.datetime.fromtimestamp(finished).strftime("%H:%M:%S"),
        "elapsed_min": (finished - started) / 60,
        "settings": {"rounds": args.rounds, "duration": args.duration, "connections": args.connections,
                     "threads": args.threads, "warmup": args.warmup, "rsa_seconds": args.rsa_seconds,
                     "disturbed_pct": args.disturbed_pct,
                     "large_pool_users": args.users, "small_pool_users": args.small_users},
        "machine": machine_info(),
        "versions": versions(),
        "servers": [{"key": s.key, "label": s.label, "port": s.port, "error": s.error, "notes": s.notes,
                     "memory_after_setup": s.memory_after_setup,
                     "memory_end": s.ctx.get("memory_end", {}), "seeding": s.ctx.get("seeding", ""),
                     "startup_seconds": s.startup_seconds} for s in servers],
    })
    md = render(report)
    out = Path(args.out)
    out.write_text(md + "\n")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    print()
    print(md)
    log(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
