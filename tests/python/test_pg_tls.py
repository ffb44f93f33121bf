"""PostgreSQL over TLS (issue 7): `serve --database-url postgres://…?sslmode=require` with
`--database-ca-file` against a server with a private CA signs users up and in, every connection
the node holds is encrypted, and without the CA the node refuses to start, saying why.

The module starts its own throwaway PostgreSQL serving TLS (scripts/pg-test-cluster with
GATEHOUSE_PG_TLS=1; the CA it made is DIR/ca.pem) and gives each test a fresh database.
"""
import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql as pgsql

from conftest import BIN, PASSWORD, Server

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "scripts" / "pg-test-cluster"


@pytest.fixture(scope="module")
def tls_pg():
    # Not under pytest's tmp dir: that is 0700 root, and the server runs as `postgres`.
    d = tempfile.mkdtemp(prefix="gh-pgtls-")
    env = {**os.environ, "GATEHOUSE_PG_TLS": "1"}
    out = subprocess.run([str(PG_SCRIPT), "start", d], capture_output=True, text=True,
                         timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    yield out.stdout.strip().splitlines()[-1], Path(d) / "ca.pem"
    subprocess.run([str(PG_SCRIPT), "stop", d], capture_output=True, timeout=60)


def fresh_database(cluster_url):
    name = f"tls_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster_url, autocommit=True, sslmode="disable") as c:
        c.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return cluster_url.rsplit("/", 1)[0] + "/" + name, name


def connections(cluster_url, database):
    """(encrypted, in the clear) counts of the client connections open to `database`."""
    with psycopg.connect(cluster_url, autocommit=True, sslmode="disable") as c:
        return c.execute(
            """SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl)
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                WHERE a.datname = %s AND a.backend_type = 'client backend'""",
            (database,),
        ).fetchone()


def gatehouse(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_DATABASE")}
    e.pop("GATEHOUSE_MASTER_KEY", None)
    e.update(env or {})
    out = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True,
                         timeout=60, env=e)
    assert "panicked" not in out.stderr and "RUST_BACKTRACE" not in out.stderr, out.stderr
    return out


def test_serve_with_sslmode_require_and_the_ca_signs_users_up_and_in(tls_pg, tmp_path):
    cluster_url, ca = tls_pg
    url, database = fresh_database(cluster_url)
    server = Server(tmp_path / "data", extra_args=[
        "--database-url", f"{url}?sslmode=require", "--database-ca-file", str(ca)]).start()
    try:
        idp, public = server.client(), server.client(signed=False)
        pool_id = idp.create_user_pool(PoolName="tls")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="app",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        public.sign_up(ClientId=client_id, Username="tess", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "tess@example.com"}])
        idp.admin_confirm_sign_up(UserPoolId=pool_id, Username="tess")
        tokens = public.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "tess", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        me = public.get_user(AccessToken=tokens["AccessToken"])
        assert me["Username"] == "tess"
        assert {"Name": "email", "Value": "tess@example.com"} in me["UserAttributes"]
        # The user is in this database, and every connection the node holds to it (the pool
        # and the LISTEN connection) is TLS.
        with psycopg.connect(url, autocommit=True, sslmode="disable") as c:
            assert c.execute("SELECT count(*) FROM users").fetchone() == (1,)
        encrypted, clear = connections(cluster_url, database)
        assert encrypted >= 2 and clear == 0, (encrypted, clear)
    finally:
        server.stop()


def test_without_the_ca_the_node_refuses_to_start_and_says_why(tls_pg, tmp_path):
    cluster_url, ca = tls_pg
    url, database = fresh_database(cluster_url)
    out = gatehouse("serve", "--data-dir", tmp_path / "data", "--listen", "127.0.0.1:0",
                    "--gateway-listen", "127.0.0.1:0", "--database-url", f"{url}?sslmode=require")
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "not signed by a trusted CA" in out.stderr, out.stderr
    assert "--database-ca-file" in out.stderr, out.stderr
    # A CA file that is not there is named.
    out = gatehouse("migrate", "--database-url", f"{url}?sslmode=require",
                    "--database-ca-file", tmp_path / "missing-ca.pem")
    assert out.returncode == 1 and "missing-ca.pem" in out.stderr, out.stderr
    assert connections(cluster_url, database) == (0, 0)


def test_the_other_commands_take_the_ca_from_the_environment(tls_pg):
    cluster_url, ca = tls_pg
    url, _ = fresh_database(cluster_url)
    out = gatehouse("migrate", "--database-url", f"{url}?sslmode=require",
                    env={"GATEHOUSE_DATABASE_CA_FILE": str(ca)})
    assert out.returncode == 0, out.stderr
    assert "now at schema version" in out.stdout, out.stdout
    # libpq's spelling works too: the CA in the URL, verify-full.
    out = gatehouse("migrate", "--database-url",
                    f"{url}?sslmode=verify-full&sslrootcert={ca}")
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout, out.stdout
