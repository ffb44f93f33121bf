"""Moving up (issue 7, item 5): `gatehouse migrate --from DATA --to postgres://…` copies an
embedded installation into PostgreSQL, and a server on PostgreSQL given the old master key
carries on where the embedded one stopped: same passwords (USER_PASSWORD_AUTH and SRP), TOTP
MFA, tokens issued before (GetUser, REFRESH_TOKEN_AUTH, the gateway), revocations, groups, HTTP
and REST APIs, API keys. Also `gatehouse migrate` on its own, `gatehouse backup` of a server
that keeps writing and `gatehouse restore`, and bad input (exit code 1, a clear message, no
panic).

The module starts its own throwaway PostgreSQL (scripts/pg-test-cluster) and gives each test a
fresh database on it. The source servers always run on SQLite, whatever
GATEHOUSE_E2E_DATABASE_URL says (`--database-url ""` is the embedded store).
"""
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

import psycopg
import pyotp
import pytest
import requests
from botocore.exceptions import ClientError
from psycopg import sql as pgsql
from pycognito.aws_srp import AWSSRP

from conftest import BIN, PASSWORD, Server, make_user
from test_gateway import Echo
from test_mfa import enrol_totp, fresh_step

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "scripts" / "pg-test-cluster"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
         "ALLOW_REFRESH_TOKEN_AUTH"]
EMBEDDED = ["--database-url", ""]


@pytest.fixture(scope="module")
def pg():
    # Not under pytest's tmp dir: that is 0700 root, and the server runs as `postgres`.
    d = tempfile.mkdtemp(prefix="gh-pgm-")
    out = subprocess.run([str(PG_SCRIPT), "start", d], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    yield out.stdout.strip().splitlines()[-1]
    subprocess.run([str(PG_SCRIPT), "stop", d], capture_output=True, timeout=60)


def fresh_database(cluster_url):
    name = f"mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(cluster_url, autocommit=True) as c:
        c.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    return cluster_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def gatehouse(*args, env=None):
    e = dict(os.environ)
    e.pop("GATEHOUSE_MASTER_KEY", None)
    e.pop("GATEHOUSE_DATABASE_URL", None)
    e.update(env or {})
    out = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=120, env=e)
    assert "panicked" not in out.stderr and "RUST_BACKTRACE" not in out.stderr, out.stderr
    return out


def fails(out, *expected):
    """Exit code 1 and a message saying each of `expected`."""
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert out.stderr.startswith("gatehouse: "), out.stderr
    for text in expected:
        assert text in out.stderr, out.stderr


def gw(server, api_id, path, wait_for=None, **headers):
    headers = {"Host": f"{api_id}.execute-api.localhost", **headers}
    deadline = time.time() + 5
    while True:
        r = requests.get(server.gateway_url + path, headers=headers, timeout=10)
        if wait_for is None or r.status_code == wait_for or time.time() > deadline:
            return r
        time.sleep(0.02)


def password_sign_in(idp, client_id, username, password=PASSWORD):
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password})


def build_installation(src, backend):
    """A pool with MFA, users, groups, an HTTP API behind a JWT authorizer, a REST API with an
    API key; tokens issued; one user signed out everywhere. Returns what the checks need."""
    idp, public = src.client(), src.client(signed=False)
    pool_id = idp.create_user_pool(PoolName="moving", AutoVerifiedAttributes=["email"],
                                   Schema=[{"Name": "tier", "AttributeDataType": "String"}])["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                            ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    for name in ("alice", "bob", "carol"):
        make_user(idp, pool_id, name, attrs=[{"Name": "email", "Value": f"{name}@example.com"},
                                             {"Name": "email_verified", "Value": "true"},
                                             {"Name": "custom:tier", "Value": "gold"}])
    idp.create_group(UserPoolId=pool_id, GroupName="admins", Precedence=1)
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username="alice", GroupName="admins")
    totp, step = enrol_totp(public, client_id, "bob")

    apigw = src.client("apigatewayv2")
    api_id = apigw.create_api(Name="pets", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                     IntegrationUri=f"{backend}/backend/{{proxy}}",
                                     PayloadFormatVersion="1.0")["IntegrationId"]
    auth_id = apigw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="cognito",
                                      IdentitySource=["$request.header.Authorization"],
                                      JwtConfiguration={"Audience": [client_id],
                                                        "Issuer": f"{src.url}/{pool_id}"})["AuthorizerId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /pets/{proxy+}", Target=f"integrations/{integ}",
                       AuthorizationType="JWT", AuthorizerId=auth_id)
    apigw.create_stage(ApiId=api_id, StageName="prod")
    dep = apigw.create_deployment(ApiId=api_id, StageName="prod")["DeploymentId"]

    rest = src.client("apigateway")
    rest_id = rest.create_rest_api(name="rest-pets")["id"]
    root = rest.get_resources(restApiId=rest_id)["items"][0]["id"]
    rid = rest.create_resource(restApiId=rest_id, parentId=root, pathPart="pets")["id"]
    rest.put_method(restApiId=rest_id, resourceId=rid, httpMethod="GET", authorizationType="NONE",
                    apiKeyRequired=True)
    rest.put_integration(restApiId=rest_id, resourceId=rid, httpMethod="GET", type="MOCK",
                         requestTemplates={"application/json": '{"statusCode": 200}'})
    rest.put_method_response(restApiId=rest_id, resourceId=rid, httpMethod="GET", statusCode="200")
    rest.put_integration_response(restApiId=rest_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                  responseTemplates={"application/json": '{"ok": true}'})
    rest.create_deployment(restApiId=rest_id, stageName="prod")
    key = rest.create_api_key(name="partner", enabled=True)
    plan = rest.create_usage_plan(name="basic", apiStages=[{"apiId": rest_id, "stage": "prod"}])
    rest.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")

    alice = password_sign_in(public, client_id, "alice")["AuthenticationResult"]
    carol = password_sign_in(public, client_id, "carol")["AuthenticationResult"]
    public.global_sign_out(AccessToken=carol["AccessToken"])

    # What works before the move.
    bearer = {"Authorization": f"Bearer {alice['AccessToken']}"}
    assert gw(src, api_id, "/prod/pets/1", wait_for=200, **bearer).json()["path"] == "/backend/1"
    assert gw(src, api_id, "/prod/pets/1", Authorization=carol["AccessToken"]).status_code == 401
    assert gw(src, rest_id, "/prod/pets", wait_for=200, **{"x-api-key": key["value"]}).json() == {"ok": True}
    jwks = requests.get(f"{src.url}/{pool_id}/.well-known/jwks.json", timeout=5).json()
    return dict(pool_id=pool_id, client_id=client_id, api_id=api_id, deployment=dep, rest_id=rest_id,
                key=key["value"], alice=alice, carol=carol, totp=totp, totp_step=step, jwks=jwks)


def test_an_embedded_installation_moves_to_postgresql_and_carries_on(pg, backend, tmp_path):
    src = Server(tmp_path / "embedded", extra_args=EMBEDDED).start()
    try:
        before = build_installation(src, backend)
    finally:
        src.stop()
    assert (src.data_dir / "gatehouse.db").is_file()
    key_file = src.data_dir / "master.key"
    master_key = key_file.read_text().strip()
    url = fresh_database(pg)

    out = gatehouse("migrate", "--from", src.data_dir, "--to", url)
    assert out.returncode == 0, out.stderr
    rows = dict(line.split() for line in out.stdout.splitlines()
                if line.startswith("  ") and len(line.split()) == 2)
    assert rows["users"] == "3" and rows["user_pools"] == "1" and rows["user_attributes"] != "0"
    for table in ("group_members", "refresh_tokens", "signing_keys", "revoked_token_families",
                  "http_apis", "api_deployments", "rest_apis", "rest_api_deployments", "api_keys",
                  "usage_plans", "usage_plan_keys"):
        assert int(rows[table]) >= 1, (table, out.stdout)
    assert "row counts verified" in out.stdout
    assert f"GATEHOUSE_MASTER_KEY set to the key in {key_file}" in out.stdout
    assert master_key not in out.stdout + out.stderr

    # The target is taken now: a second copy is refused and changes nothing.
    again = gatehouse("migrate", "--from", src.data_dir, "--to", url)
    fails(again, "already holds Gatehouse data", "users", "nothing was changed")

    # A node on PostgreSQL with the old key (and the old public URL, the tokens' issuer), from a
    # data dir of its own: nothing of the old one is needed but the key.
    dst = Server(tmp_path / "node", extra_args=["--database-url", url, "--public-url", src.url],
                 extra_env={"GATEHOUSE_MASTER_KEY": master_key}).start()
    try:
        assert not (dst.data_dir / "master.key").exists()
        assert "PostgreSQL" in dst.logs()
        idp, public = dst.client(), dst.client(signed=False)
        pool_id, client_id = before["pool_id"], before["client_id"]
        assert requests.get(f"{dst.url}/{pool_id}/.well-known/jwks.json", timeout=5).json() == before["jwks"]

        # Same passwords, by both flows.
        assert password_sign_in(public, client_id, "alice")["AuthenticationResult"]["AccessToken"]
        srp = AWSSRP(username="alice", password=PASSWORD, pool_id=pool_id, client_id=client_id, client=public)
        assert srp.authenticate_user()["AuthenticationResult"]["IdToken"]
        with pytest.raises(ClientError) as e:
            password_sign_in(public, client_id, "alice", "Wr0ng-Password!")
        assert e.value.response["Error"]["Code"] == "NotAuthorizedException"

        # TOTP MFA still asks for, and accepts, the authenticator's code (a later step than the
        # one used to enrol, which would be a replay).
        r = password_sign_in(public, client_id, "bob")
        assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        t = max(fresh_step(), before["totp_step"] + 30)
        done = public.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=r["Session"],
            ChallengeResponses={"USERNAME": "bob", "SOFTWARE_TOKEN_MFA_CODE": before["totp"].at(t)})
        assert done["AuthenticationResult"]["AccessToken"]

        # Tokens issued before the move keep working; the signed-out user's stay revoked.
        alice = before["alice"]
        me = public.get_user(AccessToken=alice["AccessToken"])
        assert me["Username"] == "alice"
        assert {a["Name"]: a["Value"] for a in me["UserAttributes"]}["custom:tier"] == "gold"
        refreshed = public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                         AuthParameters={"REFRESH_TOKEN": alice["RefreshToken"]})
        assert refreshed["AuthenticationResult"]["AccessToken"]
        with pytest.raises(ClientError):
            public.get_user(AccessToken=before["carol"]["AccessToken"])
        with pytest.raises(ClientError):
            public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": before["carol"]["RefreshToken"]})

        groups = idp.admin_list_groups_for_user(UserPoolId=pool_id, Username="alice")["Groups"]
        assert [g["GroupName"] for g in groups] == ["admins"]
        assert len(idp.list_users(UserPoolId=pool_id)["Users"]) == 3

        # The gateway serves both APIs, accepts the old token and refuses the revoked one.
        api_id = before["api_id"]
        r = gw(dst, api_id, "/prod/pets/7", wait_for=200, Authorization=f"Bearer {alice['AccessToken']}")
        assert r.status_code == 200 and r.json()["path"] == "/backend/7", r.text
        r = gw(dst, api_id, "/prod/pets/7", Authorization=f"Bearer {refreshed['AuthenticationResult']['AccessToken']}")
        assert r.status_code == 200
        r = gw(dst, api_id, "/prod/pets/7", Authorization=before["carol"]["AccessToken"])
        assert r.status_code == 401 and "revoked" in r.headers["www-authenticate"]
        assert gw(dst, api_id, "/prod/pets/7").status_code == 401
        stage = dst.client("apigatewayv2").get_stage(ApiId=api_id, StageName="prod")
        assert stage["DeploymentId"] == before["deployment"]
        rest_id = before["rest_id"]
        r = gw(dst, rest_id, "/prod/pets", wait_for=200, **{"x-api-key": before["key"]})
        assert (r.status_code, r.json()) == (200, {"ok": True})
        assert gw(dst, rest_id, "/prod/pets").status_code == 403

        # New writes go on normally (the revocation journal continues after the copied seqs).
        public.global_sign_out(AccessToken=alice["AccessToken"])
        r = gw(dst, api_id, "/prod/pets/7", wait_for=401, Authorization=f"Bearer {alice['AccessToken']}")
        assert r.status_code == 401
        make_user(idp, pool_id, "dave")
        assert password_sign_in(public, client_id, "dave")["AuthenticationResult"]["AccessToken"]

        # `user import` writes into the same database (given the same key), as the nodes do.
        csv = tmp_path / "users.csv"
        csv.write_text("cognito:username,email,email_verified\nerin,erin@example.com,true\n")
        importer = tmp_path / "importer"
        fails(gatehouse("user", "import", "--data-dir", importer, "--database-url", url, "--pool-id", pool_id,
                        csv, env={"GATEHOUSE_MASTER_KEY": "A" * 43 + "="}), "different master key")
        out = gatehouse("user", "import", "--data-dir", importer, "--pool-id", pool_id, csv,
                        env={"GATEHOUSE_MASTER_KEY": master_key, "GATEHOUSE_DATABASE_URL": url})
        assert out.returncode == 0 and f"imported 1 users into {pool_id}" in out.stdout, out.stderr
        assert idp.admin_get_user(UserPoolId=pool_id, Username="erin")["UserStatus"] == "RESET_REQUIRED"
    finally:
        dst.stop()

    # Another key is refused by the node, with a message that says why.
    wrong = Server(tmp_path / "wrong", extra_args=["--database-url", url],
                   extra_env={"GATEHOUSE_MASTER_KEY": "A" * 43 + "="})
    with pytest.raises(RuntimeError, match="different master key"):
        wrong.start()
    wrong.stop()


def test_migrate_applies_and_reports_migrations(pg, tmp_path):
    url = fresh_database(pg)
    out = gatehouse("migrate", "--database-url", url)
    assert out.returncode == 0, out.stderr
    assert "applied migrations 1, 2, 3, 4" in out.stdout and "postgres@" in out.stdout
    out = gatehouse("migrate", env={"GATEHOUSE_DATABASE_URL": url})
    assert out.returncode == 0 and "up to date at schema version" in out.stdout, out.stdout

    data = tmp_path / "embedded"
    fails(gatehouse("migrate", "--data-dir", data), "no embedded store at", str(data))
    assert not data.exists()
    src = Server(data, extra_args=EMBEDDED).start()
    src.stop()
    out = gatehouse("migrate", "--data-dir", data)
    assert out.returncode == 0 and "up to date at schema version" in out.stdout, out.stdout
    assert "embedded SQLite" in out.stdout


def test_bad_input_gets_a_clear_message_and_exit_code_1(pg, tmp_path):
    fails(gatehouse("migrate", "--from", tmp_path / "nowhere", "--to", fresh_database(pg)),
          "no embedded store at")
    src = Server(tmp_path / "src", extra_args=EMBEDDED).start()
    try:
        src.client().create_user_pool(PoolName="keyed")
    finally:
        src.stop()
    url = fresh_database(pg)
    fails(gatehouse("migrate", "--from", src.data_dir, "--to", "mysql://u:pw@db/x"),
          "only postgres:// URLs are supported")
    fails(gatehouse("migrate", "--from", src.data_dir, "--to", "postgres://u:s3cret@127.0.0.1:1/x"),
          "Connection refused", "postgres://u:***@127.0.0.1:1/x")
    fails(gatehouse("migrate", "--from", src.data_dir, "--to", "postgres://nobody@127.0.0.1:1:2/x"),
          "bad PostgreSQL URL")
    out = gatehouse("migrate", "--from", src.data_dir, "--to", "postgres://u:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in out.stderr + out.stdout
    # The copy must seal the check with the key the source used: a wrong one is caught before
    # anything is written; so is a missing one (never a new key generated).
    fails(gatehouse("migrate", "--from", src.data_dir, "--to", url,
                    env={"GATEHOUSE_MASTER_KEY": "A" * 43 + "="}),
          "does not open the signing keys")
    key = (src.data_dir / "master.key").read_text()
    (src.data_dir / "master.key").unlink()
    fails(gatehouse("migrate", "--from", src.data_dir, "--to", url), "no master key")
    assert not (src.data_dir / "master.key").exists()
    with psycopg.connect(url) as c:  # the target was not even touched
        assert c.execute("SELECT to_regclass('user_pools')").fetchone()[0] is None
    out = gatehouse("migrate", "--from", src.data_dir, "--to", url, env={"GATEHOUSE_MASTER_KEY": key.strip()})
    assert out.returncode == 0, out.stderr
    assert "GATEHOUSE_MASTER_KEY set to the GATEHOUSE_MASTER_KEY this command was given" in out.stdout

    fails(gatehouse("backup", tmp_path / "b.db", "--data-dir", tmp_path / "nowhere"), "no embedded store at")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some bytes " * 10)
    fails(gatehouse("restore", junk, "--data-dir", tmp_path / "r"), "is not a usable backup")
    fails(gatehouse("restore", tmp_path / "missing.db", "--data-dir", tmp_path / "r"), "no such file")


def test_backup_while_serving_restores_into_a_working_installation(tmp_path):
    src = Server(tmp_path / "live", extra_args=EMBEDDED).start()
    idp = src.client()
    pool_id = idp.create_user_pool(PoolName="backed-up")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app",
                                            ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    make_user(idp, pool_id, "first")
    created, stop = [], threading.Event()

    def write():
        w = src.client()
        while not stop.is_set():
            name = f"u{len(created):04d}"
            w.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
            created.append(name)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(created) < 20:
            time.sleep(0.02)
        acknowledged = list(created)
        backup = tmp_path / "backups" / "gatehouse-backup.db"
        backup.parent.mkdir()
        out = gatehouse("backup", backup, "--data-dir", src.data_dir)
        during = len(created)
    finally:
        stop.set()
        writer.join()
    src.stop()
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert "does not contain the master key" in out.stdout and "master.key" in out.stdout
    assert [p.name for p in backup.parent.iterdir()] == [backup.name]  # no temp file left

    restored = tmp_path / "restored"
    out = gatehouse("restore", backup, "--data-dir", restored)
    assert out.returncode == 0, out.stderr
    assert "warning" in out.stdout and "master.key" in out.stdout
    fails(gatehouse("restore", backup, "--data-dir", restored), "already exists", "--force")
    shutil.copy(src.data_dir / "master.key", restored / "master.key")
    out = gatehouse("restore", backup, "--data-dir", restored, "--force")
    assert out.returncode == 0 and "warning" not in out.stdout, out.stdout

    node = Server(restored, extra_args=EMBEDDED).start()
    try:
        idp = node.client()
        users, token = [], None
        while True:
            kw = {"PaginationToken": token} if token else {}
            page = idp.list_users(UserPoolId=pool_id, **kw)
            users += [u["Username"] for u in page["Users"]]
            token = page.get("PaginationToken")
            if not token:
                break
        # Every write acknowledged before the backup started is in it; nothing torn.
        assert set(acknowledged) | {"first"} <= set(users), sorted(set(acknowledged) - set(users))
        assert len(users) <= 2 + during  # at most one write in flight when counted
        r = node.client(signed=False).initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "first", "PASSWORD": PASSWORD})
        assert r["AuthenticationResult"]["AccessToken"]
    finally:
        node.stop()
