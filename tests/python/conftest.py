"""End-to-end harness: starts the real `gatehouse serve` binary on free ports with a fresh data
dir and hands tests real clients (boto3, the aws CLI) pointed at it.

The binary is $GATEHOUSE_BIN, else target/debug/gatehouse (scripts/test builds it first).

The store: embedded SQLite in the data dir, unless $GATEHOUSE_E2E_DATABASE_URL names a
PostgreSQL cluster (`postgres://user@host:port/postgres`, one that may be thrown away): then
every `Server` gets a fresh database of its own on that cluster (kept across its restarts) and
runs with `--database-url`. Tests that look inside the store do it through `Server.sql()` and
`Server.raw_store_bytes()`, which work on both.
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from contextlib import closing
from pathlib import Path

import boto3
import botocore.config
import psycopg
import pytest
import requests
from psycopg import sql as pgsql
from psycopg.types.string import TextLoader

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GATEHOUSE_BIN", ROOT / "target" / "debug" / "gatehouse"))
ACCESS_KEY = "AKIDGATEHOUSETEST"
SECRET_KEY = "gatehouse-test-secret-key-0123456789"
REGION = "us-east-1"
E2E_DATABASE_URL = os.environ.get("GATEHOUSE_E2E_DATABASE_URL") or None
# The store every Server uses unless a test passes its own --database-url.
BACKEND = "postgres" if E2E_DATABASE_URL else "sqlite"
# The databases this process created on the E2E cluster (dropped when the session ends).
_CREATED_DATABASES = []


def database_url_named(url, name):
    """`url` with its database (the path) replaced by `name`."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def create_database():
    """A fresh, empty database on the E2E cluster; returns its URL."""
    name = f"gh_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(E2E_DATABASE_URL, autocommit=True) as c:
        c.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    _CREATED_DATABASES.append(name)
    return database_url_named(E2E_DATABASE_URL, name)


def pytest_sessionfinish(session, exitstatus):
    """Drops this process's databases (every server has stopped by now; FORCE ends any
    connection a crashed test left behind). Best effort: the cluster is thrown away anyway."""
    if not _CREATED_DATABASES:
        return
    try:
        with psycopg.connect(E2E_DATABASE_URL, autocommit=True) as c:
            for name in _CREATED_DATABASES:
                c.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)))
    except psycopg.Error as e:
        print(f"could not drop the e2e databases: {e}")
    _CREATED_DATABASES.clear()


def _copy_unescape(m):
    c = m.group(1)
    return {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}.get(c, c)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gatehouse process. `restart()` keeps the data dir; `kill9()` is a crash."""

    def __init__(self, data_dir, extra_env=None, extra_args=None):
        self.data_dir = Path(data_dir)
        self.extra_env = extra_env or {}
        self.extra_args = extra_args or []
        self.proc = None
        # The PostgreSQL database this server keeps its state in (None: SQLite in the data
        # dir). A test's own --database-url / GATEHOUSE_DATABASE_URL wins; otherwise, with
        # $GATEHOUSE_E2E_DATABASE_URL, a fresh database made on the first start.
        self.database_url = self._own_database_url()
        self._made_database = False
        self.port = free_port()
        self.gateway_port = free_port()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway_url(self):
        return f"http://127.0.0.1:{self.gateway_port}"

    def _own_database_url(self):
        args = self.extra_args
        for i, a in enumerate(args):
            if a == "--database-url" and i + 1 < len(args):
                return args[i + 1]
            if a.startswith("--database-url="):
                return a.split("=", 1)[1]
        return self.extra_env.get("GATEHOUSE_DATABASE_URL") or None

    @property
    def backend(self):
        """"postgres" or "sqlite": where this server keeps its state."""
        url = self.database_url or (E2E_DATABASE_URL and "postgres://")
        return "postgres" if url and url.startswith(("postgres://", "postgresql://")) else "sqlite"

    @property
    def outbox_path(self):
        return self.data_dir / "outbox.jsonl"

    @property
    def log_path(self):
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self):
        env = dict(os.environ)
        env.update(
            {
                "GATEHOUSE_ADMIN_ACCESS_KEY_ID": ACCESS_KEY,
                "GATEHOUSE_ADMIN_SECRET_ACCESS_KEY": SECRET_KEY,
                "GATEHOUSE_LOG": "info",
            }
        )
        env.update(self.extra_env)
        store_args = []
        if self.database_url is None and E2E_DATABASE_URL:
            self.database_url = create_database()
            self._made_database = True
        if self._made_database:
            store_args = ["--database-url", self.database_url]
        args = [
            str(BIN),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--gateway-listen",
            f"127.0.0.1:{self.gateway_port}",
            *store_args,
            *self.extra_args,
        ]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gatehouse exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("gatehouse did not become healthy")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def logs(self):
        return self.log_path.read_text(errors="replace")

    def sql(self, query, params=()):
        """Runs one SQL statement against this server's store (committed) and returns its rows
        as tuples. `?` placeholders on both backends (so no literal `?` or `%` in `query` on
        PostgreSQL); JSON documents come back as text and blobs as bytes, as from SQLite.
        Table and column names are the same in both stores' migrations."""
        if self.backend == "postgres":
            with psycopg.connect(self.database_url, autocommit=True) as c:
                c.adapters.register_loader("jsonb", TextLoader)
                c.adapters.register_loader("json", TextLoader)
                cur = c.execute(query.replace("?", "%s"), tuple(params))
                return [tuple(r) for r in cur.fetchall()] if cur.description else []
        with closing(sqlite3.connect(self.data_dir / "gatehouse.db", timeout=10)) as c:
            rows = c.execute(query, tuple(params)).fetchall()
            c.commit()
            return rows

    def raw_store_bytes(self):
        """Everything the store holds, as bytes, for "no secret in clear" checks. SQLite: the
        database files (main, WAL, journal) as they lie on disk. PostgreSQL: a plain pg_dump of
        the server's database, followed by the same text with COPY's backslash escapes undone
        and by every bytea value decoded, so a secret is found whichever form it is kept in."""
        if self.backend == "postgres":
            dump = subprocess.run(
                ["pg_dump", "--no-owner", "--no-privileges", "--dbname", self.database_url],
                capture_output=True,
                check=True,
                timeout=120,
            ).stdout
            unescaped = re.sub(rb"\\(.)", _copy_unescape, dump)
            blobs = [bytes.fromhex(h.decode()) for h in re.findall(rb"\\x((?:[0-9a-f]{2})+)", unescaped)]
            assert b"\nCOPY " in dump, "pg_dump shows no table data"
            return b"\n".join([dump, unescaped, *blobs])
        stored = b"".join(f.read_bytes() for f in sorted(self.data_dir.iterdir()) if f.name.startswith("gatehouse.db"))
        assert stored, f"no database files in {self.data_dir}"
        return stored

    def client(self, service="cognito-idp", access_key=ACCESS_KEY, secret_key=SECRET_KEY, signed=True):
        cfg = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5)
        if not signed:
            cfg = cfg.merge(botocore.config.Config(signature_version=botocore.UNSIGNED))
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=cfg,
        )

    def outbox(self):
        if not self.outbox_path.exists():
            return []
        return [json.loads(l) for l in self.outbox_path.read_text().splitlines() if l.strip()]

    def last_code(self, username=None, kind=None):
        """The newest outbox code for a user (and kind)."""
        for m in reversed(self.outbox()):
            if (username is None or m["username"] == username) and (kind is None or m["kind"] == kind):
                return m["code"]
        raise AssertionError(f"no message for {username!r} ({kind}) in the outbox")

    def aws(self, *args, check=True, env=None):
        """Runs the aws CLI against this server; returns parsed JSON (or None)."""
        e = dict(os.environ)
        e.update(
            {
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_PAGER": "",
            }
        )
        e.update(env or {})
        out = subprocess.run(
            ["aws", *args, "--endpoint-url", self.url, "--output", "json"],
            env=e,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {out.stderr}")
        if out.returncode != 0:
            return out
        return json.loads(out.stdout) if out.stdout.strip() else None


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One shared server for tests that only add their own pools."""
    s = Server(tmp_path_factory.mktemp("shared") / "data").start()
    yield s
    s.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own (restarts, crashes, special flags)."""
    servers = []

    def make(**kw):
        s = Server(tmp_path / f"data{len(servers)}", **kw).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def idp(server):
    return server.client()


@pytest.fixture
def public_idp(server):
    return server.client(signed=False)


@pytest.fixture
def pool(idp):
    """A fresh pool with a public client allowing password auth; deleted afterwards."""
    p = idp.create_user_pool(PoolName=f"t-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"])["UserPool"]
    c = idp.create_user_pool_client(
        UserPoolId=p["Id"],
        ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    yield {"id": p["Id"], "client_id": c["ClientId"], "pool": p, "client": c}
    try:
        idp.delete_user_pool(UserPoolId=p["Id"])
    except Exception:
        pass


PASSWORD = "Corr3ct-Horse!"


def make_user(idp, pool_id, username, password=PASSWORD, attrs=None):
    """A CONFIRMED user with a permanent password."""
    attrs = attrs or [{"Name": "email", "Value": f"{username}@example.com"}, {"Name": "email_verified", "Value": "true"}]
    idp.admin_create_user(UserPoolId=pool_id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
