"""The declarative configuration file end to end: `gatehouse serve --config FILE` creates the
pools, clients, groups, users and APIs it declares (with fixed ids), boto3 and the aws CLI see
them, a declared user signs in and calls a declared API through the gateway; restarting with
the same file changes nothing, a changed value is applied; `gatehouse config check` accepts
good files and reports every problem of bad ones with its location."""
import base64
import json
import re
import subprocess
import textwrap
import threading
from http.server import ThreadingHTTPServer

import boto3
import botocore.config
import pytest
import requests

from conftest import BIN, REGION, ROOT, free_port
from test_gateway import Echo, call

POOL_ID = "us-east-1_Config001"
SPA_ID = "3config4spa5client6id7abcd"
BACKEND_ID = "8config9backend0client1id"
BACKEND_SECRET = "cfgsecret0123456789abcdefghijklmnop"
API_ID = "cfgapi0001"
USER_PASSWORD = "Config-Pass1"
FILE_KEY_ID = "AKIDCONFIGFILEKEY01"
FILE_SECRET_KEY = "config-file-admin-secret-0123456789"
SECRETS_ENV = {
    "GH_TEST_USER_PASSWORD": USER_PASSWORD,
    "GH_TEST_CLIENT_SECRET": BACKEND_SECRET,
    "GH_TEST_ADMIN_SECRET": FILE_SECRET_KEY,
}


@pytest.fixture(scope="module")
def backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def config_text(backend, access_token_minutes=60, group_description="Administrators", extra_route=""):
    return textwrap.dedent(
        f"""\
        version: 1
        adminCredentials:
          - AccessKeyId: {FILE_KEY_ID}
            SecretAccessKey: ${{env:GH_TEST_ADMIN_SECRET}}
        userPools:
          - PoolName: config-tutorial
            Id: {POOL_ID}
            Policies:
              PasswordPolicy: {{MinimumLength: 8, RequireUppercase: true, RequireLowercase: true,
                                RequireNumbers: true, RequireSymbols: false}}
            AutoVerifiedAttributes: [email]
            Schema:
              - {{Name: team, AttributeDataType: String, StringAttributeConstraints: {{MaxLength: 32}}}}
            clients:
              - ClientName: spa
                ClientId: {SPA_ID}
                ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
                AccessTokenValidity: {access_token_minutes}
                TokenValidityUnits: {{AccessToken: minutes}}
              - ClientName: backend
                ClientId: {BACKEND_ID}
                ClientSecret: ${{env:GH_TEST_CLIENT_SECRET}}
                ExplicitAuthFlows: [ALLOW_ADMIN_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]
              - ClientName: generated
            groups:
              - GroupName: admins
                Description: {group_description}
                Precedence: 1
              - GroupName: readers
            users:
              - Username: jane
                Password: ${{env:GH_TEST_USER_PASSWORD}}
                UserAttributes:
                  email: jane@example.com
                  email_verified: "true"
                  custom:team: blue
                Groups: [admins, readers]
              - Username: bob
                UserAttributes: [{{Name: email, Value: bob@example.com}}]
        apis:
          - name: config-api
            apiId: {API_ID}
            integrations:
              - name: backend
                integrationType: HTTP_PROXY
                integrationUri: {backend}/backend/{{proxy}}
                integrationMethod: ANY
                payloadFormatVersion: 1.0
            authorizers:
              - name: cognito
                authorizerType: JWT
                identitySource: [$request.header.Authorization]
                jwtConfiguration:
                  issuer: ${{userPools.config-tutorial.issuer}}
                  audience: ["${{userPools.config-tutorial.clients.spa.ClientId}}"]
            routes:
              - routeKey: GET /pets/{{proxy+}}
                integration: backend
                authorizer: cognito
              - routeKey: GET /open/{{proxy+}}
                integration: backend
        EXTRA_ROUTE
          - name: config-openapi
            openapi: openapi.yaml
            stages:
              - stageName: live
                stageVariables: {{color: green}}
        """
    ).replace("EXTRA_ROUTE\n", extra_route)


OPENAPI = textwrap.dedent(
    """\
    openapi: 3.0.1
    info: {title: ignored-title, version: "1.0"}
    paths:
      /hello:
        get:
          x-amazon-apigateway-integration:
            type: http_proxy
            httpMethod: GET
            uri: BACKEND/from-openapi
            payloadFormatVersion: "1.0"
          security: [{cognito: []}]
    components:
      securitySchemes:
        cognito:
          type: oauth2
          flows: {}
          x-amazon-apigateway-authorizer:
            type: jwt
            identitySource: $request.header.Authorization
            jwtConfiguration:
              issuer: ${userPools.config-tutorial.issuer}
              audience: ["${userPools.config-tutorial.clients.spa.ClientId}"]
    """
)


def write_config(tmp_path, backend, **kw):
    (tmp_path / "openapi.yaml").write_text(OPENAPI.replace("BACKEND", backend))
    path = tmp_path / "gatehouse.yaml"
    path.write_text(config_text(backend, **kw))
    return path


def check(path, env=None):
    e = {"PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run([str(BIN), "config", "check", str(path)], env=e, capture_output=True, text=True, timeout=60)


def sign_in(server, username, password, client_id=SPA_ID):
    out = server.client(signed=False).initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return out["AuthenticationResult"]


def last_apply(server):
    """The last start-up's 'configuration applied' line, without colours."""
    lines = [l for l in server.logs().splitlines() if "configuration applied" in l]
    return re.sub(r"\x1b\[[0-9;]*m", "", lines[-1])


def snapshot(server):
    """What a restart must not change: every object's dates, ids and deployments."""
    idp = server.client()
    apigw = server.client("apigatewayv2")
    pools = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == "config-tutorial"]
    pool = idp.describe_user_pool(UserPoolId=POOL_ID)["UserPool"]
    clients = idp.list_user_pool_clients(UserPoolId=POOL_ID, MaxResults=60)["UserPoolClients"]
    described = [idp.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=c["ClientId"])["UserPoolClient"] for c in clients]
    groups = idp.list_groups(UserPoolId=POOL_ID)["Groups"]
    users = idp.list_users(UserPoolId=POOL_ID)["Users"]
    apis = [a for a in apigw.get_apis()["Items"] if a["Name"].startswith("config-")]
    deployments = {a["ApiId"]: sorted(d["DeploymentId"] for d in apigw.get_deployments(ApiId=a["ApiId"])["Items"]) for a in apis}
    routes = {a["ApiId"]: sorted(r["RouteId"] for r in apigw.get_routes(ApiId=a["ApiId"])["Items"]) for a in apis}
    return {
        "pools": [(p["Id"], str(p["CreationDate"])) for p in pools],
        "pool_modified": str(pool["LastModifiedDate"]),
        "clients": sorted((c["ClientId"], c["ClientName"], str(c["LastModifiedDate"])) for c in described),
        "groups": sorted((g["GroupName"], str(g["LastModifiedDate"])) for g in groups),
        "users": sorted((u["Username"], str(u["UserLastModifiedDate"])) for u in users),
        "apis": sorted(a["ApiId"] for a in apis),
        "deployments": deployments,
        "routes": routes,
    }


def test_serve_with_a_config_file_end_to_end(fresh_server, backend, tmp_path):
    path = write_config(tmp_path, backend)
    server = fresh_server(extra_args=["--config", str(path)], extra_env=SECRETS_ENV)
    idp = server.client()

    # The pool, its clients, groups and users, with the ids the file fixes.
    pool = idp.describe_user_pool(UserPoolId=POOL_ID)["UserPool"]
    assert pool["Name"] == "config-tutorial"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert any(a["Name"] == "custom:team" for a in pool["SchemaAttributes"])
    spa = idp.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=SPA_ID)["UserPoolClient"]
    assert spa["ClientName"] == "spa" and "ClientSecret" not in spa
    assert spa["AccessTokenValidity"] == 60 and spa["TokenValidityUnits"]["AccessToken"] == "minutes"
    backend_client = idp.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=BACKEND_ID)["UserPoolClient"]
    assert backend_client["ClientSecret"] == BACKEND_SECRET
    names = {c["ClientName"] for c in idp.list_user_pool_clients(UserPoolId=POOL_ID, MaxResults=60)["UserPoolClients"]}
    assert names == {"spa", "backend", "generated"}
    assert {g["GroupName"] for g in idp.list_groups(UserPoolId=POOL_ID)["Groups"]} == {"admins", "readers"}
    jane = idp.admin_get_user(UserPoolId=POOL_ID, Username="jane")
    assert jane["UserStatus"] == "CONFIRMED"
    attrs = {a["Name"]: a["Value"] for a in jane["UserAttributes"]}
    assert attrs["email"] == "jane@example.com" and attrs["custom:team"] == "blue"
    groups = {g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=POOL_ID, Username="jane")["Groups"]}
    assert groups == {"admins", "readers"}
    assert idp.admin_get_user(UserPoolId=POOL_ID, Username="bob")["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    # The aws CLI sees the same, and the file's admin key signs as well as the environment's.
    assert server.aws("cognito-idp", "describe-user-pool", "--user-pool-id", POOL_ID)["UserPool"]["Id"] == POOL_ID
    with_file_key = server.client(access_key=FILE_KEY_ID, secret_key=FILE_SECRET_KEY)
    assert any(p["Id"] == POOL_ID for p in with_file_key.list_user_pools(MaxResults=60)["UserPools"])

    # The declared API: routes, an authorizer whose issuer and audience name the pool above.
    apigw = server.client("apigatewayv2")
    api = apigw.get_api(ApiId=API_ID)
    assert api["Name"] == "config-api"
    authorizer = apigw.get_authorizers(ApiId=API_ID)["Items"][0]
    assert authorizer["JwtConfiguration"] == {"Issuer": f"{server.url}/{POOL_ID}", "Audience": [SPA_ID]}
    assert {r["RouteKey"] for r in apigw.get_routes(ApiId=API_ID)["Items"]} == {"GET /pets/{proxy+}", "GET /open/{proxy+}"}
    assert [s["StageName"] for s in apigw.get_stages(ApiId=API_ID)["Items"]] == ["$default"]

    # Served right after start: 401 without a token, 200 with the declared user's.
    r = call(server, API_ID, "GET", "/open/x")
    assert r.status_code == 200 and r.json()["path"] == "/backend/x"
    r = call(server, API_ID, "GET", "/pets/1")
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}
    tokens = sign_in(server, "jane", USER_PASSWORD)
    r = call(server, API_ID, "GET", "/pets/1", headers={"Authorization": tokens["AccessToken"]})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/backend/1"
    claims = json.loads(base64.urlsafe_b64decode(tokens["AccessToken"].split(".")[1] + "=="))
    assert claims["iss"] == f"{server.url}/{POOL_ID}" and claims["client_id"] == SPA_ID
    assert sorted(claims["cognito:groups"]) == ["admins", "readers"]

    # The OpenAPI-defined API (by relative path), on its named stage, with the same authorizer.
    openapi_api = next(a for a in apigw.get_apis()["Items"] if a["Name"] == "config-openapi")
    oid = openapi_api["ApiId"]
    assert call(server, oid, "GET", "/live/hello").status_code == 401
    r = call(server, oid, "GET", "/live/hello", headers={"Authorization": tokens["AccessToken"]})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/from-openapi"
    assert apigw.get_stage(ApiId=oid, StageName="live")["StageVariables"] == {"color": "green"}

    # Restart with the same file: nothing is created, changed or redeployed.
    before = snapshot(server)
    server.restart()
    assert snapshot(server) == before
    assert "created=0 updated=0 unchanged=10" in last_apply(server)
    assert sign_in(server, "jane", USER_PASSWORD)["AccessToken"]

    # Drift is corrected and changed values are applied; objects the file does not name stay.
    idp.admin_remove_user_from_group(UserPoolId=POOL_ID, Username="jane", GroupName="readers")
    idp.update_group(UserPoolId=POOL_ID, GroupName="readers", Description="edited through the API")
    extra = idp.create_user_pool_client(UserPoolId=POOL_ID, ClientName="not-in-file")["UserPoolClient"]["ClientId"]
    idp.admin_disable_user(UserPoolId=POOL_ID, Username="bob")  # e.g. a compromised account
    path.write_text(config_text(
        backend, access_token_minutes=30, group_description="Admins, renamed",
        extra_route="      - routeKey: GET /extra\n        integration: backend\n",
    ))
    server.restart()
    assert "created=0 updated=4" in last_apply(server)  # spa, admins, jane (readers again), config-api
    spa = idp.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=SPA_ID)["UserPoolClient"]
    assert spa["AccessTokenValidity"] == 30
    assert idp.get_group(UserPoolId=POOL_ID, GroupName="admins")["Group"]["Description"] == "Admins, renamed"
    groups = {g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=POOL_ID, Username="jane")["Groups"]}
    assert groups == {"admins", "readers"}
    idp.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=extra)
    assert idp.admin_get_user(UserPoolId=POOL_ID, Username="bob")["Enabled"] is False
    assert "GET /extra" in {r["RouteKey"] for r in apigw.get_routes(ApiId=API_ID)["Items"]}
    assert call(server, API_ID, "GET", "/extra", wait_for=200).status_code == 200
    assert len([p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == "config-tutorial"]) == 1
    assert len([a for a in apigw.get_apis()["Items"] if a["Name"] == "config-api"]) == 1

    # Secrets from the file never reach the log.
    logs = server.logs()
    for secret in (USER_PASSWORD, BACKEND_SECRET, FILE_SECRET_KEY):
        assert secret not in logs


def test_a_bad_file_stops_start_up_with_a_clear_message(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("userPools:\n  - PoolName: p\n    clients: [{ClientName: c, ExplicitAuthFlows: [ALLOW_NOTHING]}]\n")
    port, gw = free_port(), free_port()
    out = subprocess.run(
        [str(BIN), "serve", "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}",
         "--gateway-listen", f"127.0.0.1:{gw}", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "userPools[0].clients[0].ExplicitAuthFlows[0]: 'ALLOW_NOTHING' is not one of" in out.stderr
    assert f"configuration file {path} has 1 problem" in out.stderr


def test_config_check_accepts_the_example_and_a_valid_file(tmp_path, backend):
    out = check(ROOT / "examples" / "gatehouse.yaml")
    assert out.returncode == 0, out.stderr
    assert "OK (1 user pools, 2 clients, 1 groups, 1 users, 1 APIs, 1 admin keys)" in out.stdout
    path = write_config(tmp_path, backend)
    out = check(path, env=SECRETS_ENV)
    assert out.returncode == 0, out.stderr
    # The check touched no data dir: nothing was created next to the file or in the cwd.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gatehouse.yaml", "openapi.yaml"]


BAD_FILES = {
    "unknown member": (
        "userPools:\n  - PoolName: p\n    clients:\n      - ClientName: a\n      - ClientName: b\n        ExplicitAuthFlow: [ALLOW_USER_SRP_AUTH]\n",
        ["userPools[0].clients[1].ExplicitAuthFlow: unknown member 'ExplicitAuthFlow'; did you mean 'ExplicitAuthFlows'?"],
    ),
    "bad enum": (
        "userPools:\n  - PoolName: p\n    MfaConfiguration: SOMETIMES\n",
        ["userPools[0].MfaConfiguration: 'SOMETIMES' is not one of: OFF, ON, OPTIONAL"],
    ),
    "dangling reference": (
        "userPools: [{PoolName: p, clients: [{ClientName: web}]}]\n"
        "apis:\n  - name: a\n    authorizers:\n      - name: j\n        authorizerType: JWT\n"
        "        identitySource: [$request.header.Authorization]\n"
        "        jwtConfiguration: {issuer: '${userPools.q.issuer}', audience: ['${userPools.p.clients.mobile.ClientId}']}\n",
        [
            "apis[0].authorizers[0].jwtConfiguration.issuer: ${userPools.q.issuer}: no user pool of this file is named by it (pools: p)",
            "apis[0].authorizers[0].jwtConfiguration.audience[0]: ${userPools.p.clients.mobile.ClientId}: pool 'p' has no client of this file named by it (clients: web)",
        ],
    ),
    "duplicate name": (
        "userPools:\n  - PoolName: p\n    groups: [{GroupName: g}, {GroupName: g}]\n  - PoolName: p\n",
        [
            "userPools[1].PoolName: duplicate user pool name 'p' (also at userPools[0])",
            "userPools[0].groups[1].GroupName: duplicate group name 'g' (also at userPools[0].groups[0])",
        ],
    ),
    "invalid yaml": (
        "userPools:\n  - PoolName: p\n   clients: [\n",
        ["invalid YAML:", "line 3"],
    ),
    "bad ids": (
        "userPools:\n  - PoolName: p\n    Id: eu-west-1_Example01\n"
        "    clients: [{ClientName: c, ClientId: 'bad id', ClientSecret: short-secret-value}]\n"
        "apis:\n  - {name: a, apiId: BadId}\n",
        [
            "userPools[0].Id: Invalid user pool id eu-west-1_Example01: a pool id starts with this server's region (us-east-1_)",
            "userPools[0].clients[0].ClientId: Invalid client id bad id",
            "userPools[0].clients[0].ClientSecret: Invalid client secret: it must be 24 to 64 characters",
            "apis[0].apiId: Invalid API id BadId",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_config_check_reports_every_problem_with_its_location(tmp_path, case):
    text, expected = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = check(path)
    assert out.returncode == 1, out.stdout
    for e in expected:
        assert e in out.stderr, out.stderr
    assert "short-secret-value" not in out.stderr + out.stdout


def test_config_check_finds_problems_only_the_domain_knows(tmp_path):
    """A file that is well formed but breaks the rules the APIs enforce: each problem is
    reported at the member it concerns, all in one run."""
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        userPools:
          - PoolName: p
            UsernameAttributes: [email]
            AliasAttributes: [preferred_username]
          - PoolName: q
            Policies: {PasswordPolicy: {MinimumLength: 10}}
            users: [{Username: u, Password: Short1pa}]
        apis:
          - name: a
            integrations: [{name: i, integrationType: HTTP_PROXY, integrationUri: not-a-url}]
            routes: [{routeKey: GET /x}]
            stages: [{stageName: 'bad name!'}]
        """))
    out = check(path)
    assert out.returncode == 1
    err = out.stderr
    assert "has 4 problems" in err, err
    assert "userPools[0]: InvalidParameterException: Only one of the aliasAttributes or usernameAttributes" in err
    assert "userPools[1].users[0].Password: InvalidPasswordException" in err
    assert "apis[0].integrations[0]: Invalid integration URI specified" in err
    assert "apis[0].stages[0]: Invalid stage name" in err
    assert "Short1pa" not in err


def test_json_files_are_read_as_json(tmp_path):
    path = tmp_path / "gatehouse.json"
    path.write_text(json.dumps({"userPools": [{"PoolName": "p", "clients": [{"ClientName": "c", "GenerateSecret": True}]}]}))
    out = check(path)
    assert out.returncode == 0, out.stderr
    path.write_text('{"userPools": [')
    out = check(path)
    assert out.returncode == 1 and "invalid JSON" in out.stderr
