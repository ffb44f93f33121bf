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
    assert ("OK (1 user pools, 2 clients, 1 groups, 1 users, 1 APIs, 1 admin keys, "
            "1 pool domains, 1 resource servers, 1 API domain names)") in out.stdout
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


# --- TOML ---------------------------------------------------------------------------------

TOML_POOL_ID = "us-east-1_ConfigToml1"
TOML_SPA_ID = "5configtoml6spa7client8id"
TOML_API_ID = "cfgtoml001"


def toml_text(backend, description="Administrators"):
    return textwrap.dedent(
        f"""\
        version = 1

        [[adminCredentials]]
        AccessKeyId = "{FILE_KEY_ID}"
        SecretAccessKey = "${{env:GH_TEST_ADMIN_SECRET}}"

        [[userPools]]
        PoolName = "config-toml"
        Id = "{TOML_POOL_ID}"
        AutoVerifiedAttributes = ["email"]
        Policies = {{ PasswordPolicy = {{ MinimumLength = 8, RequireSymbols = false }} }}

        [[userPools.clients]]
        ClientName = "spa"
        ClientId = "{TOML_SPA_ID}"
        ExplicitAuthFlows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

        [[userPools.groups]]
        GroupName = "admins"
        Description = "{description}"

        [[userPools.users]]
        Username = "jane"
        Password = "${{env:GH_TEST_USER_PASSWORD}}"
        Groups = ["admins"]
        UserAttributes = {{ email = "jane@example.com", email_verified = true }}

        [[apis]]
        name = "config-toml-api"
        apiId = "{TOML_API_ID}"

        [[apis.integrations]]
        name = "backend"
        integrationType = "HTTP_PROXY"
        integrationUri = "{backend}/backend/{{proxy}}"
        integrationMethod = "ANY"
        payloadFormatVersion = 1.0

        [[apis.authorizers]]
        name = "cognito"
        authorizerType = "JWT"
        identitySource = ["$request.header.Authorization"]
        jwtConfiguration = {{ issuer = "${{userPools.config-toml.issuer}}", audience = ["${{userPools.config-toml.clients.spa.ClientId}}"] }}

        [[apis.routes]]
        routeKey = "GET /pets/{{proxy+}}"
        integration = "backend"
        authorizer = "cognito"
        """
    )


def test_a_toml_file_is_checked_served_and_reapplied_unchanged(fresh_server, backend, tmp_path):
    path = tmp_path / "gatehouse.toml"
    path.write_text(toml_text(backend))
    out = check(path, env=SECRETS_ENV)
    assert out.returncode == 0, out.stderr
    assert "OK (1 user pools, 1 clients, 1 groups, 1 users, 1 APIs, 1 admin keys)" in out.stdout

    server = fresh_server(extra_args=["--config", str(path)], extra_env=SECRETS_ENV)
    idp = server.client()
    assert idp.describe_user_pool(UserPoolId=TOML_POOL_ID)["UserPool"]["Name"] == "config-toml"
    assert idp.describe_user_pool_client(UserPoolId=TOML_POOL_ID, ClientId=TOML_SPA_ID)["UserPoolClient"]["ClientName"] == "spa"
    jane = idp.admin_get_user(UserPoolId=TOML_POOL_ID, Username="jane")
    assert jane["UserStatus"] == "CONFIRMED"
    assert {a["Name"]: a["Value"] for a in jane["UserAttributes"]}["email_verified"] == "true"
    # The file's admin key signs.
    with_file_key = server.client(access_key=FILE_KEY_ID, secret_key=FILE_SECRET_KEY)
    assert with_file_key.describe_user_pool(UserPoolId=TOML_POOL_ID)["UserPool"]["Id"] == TOML_POOL_ID
    # The API's authorizer names the pool of the same file; jane's token passes it.
    apigw = server.client("apigatewayv2")
    authorizer = apigw.get_authorizers(ApiId=TOML_API_ID)["Items"][0]
    assert authorizer["JwtConfiguration"] == {"Issuer": f"{server.url}/{TOML_POOL_ID}", "Audience": [TOML_SPA_ID]}
    assert call(server, TOML_API_ID, "GET", "/pets/1").status_code == 401
    tokens = sign_in(server, "jane", USER_PASSWORD, client_id=TOML_SPA_ID)
    r = call(server, TOML_API_ID, "GET", "/pets/1", headers={"Authorization": tokens["AccessToken"]})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/backend/1"

    server.restart()
    assert "created=0 updated=0" in last_apply(server)
    path.write_text(toml_text(backend, description="Admins, from TOML"))
    server.restart()
    assert "created=0 updated=1" in last_apply(server)
    assert idp.get_group(UserPoolId=TOML_POOL_ID, GroupName="admins")["Group"]["Description"] == "Admins, from TOML"
    logs = server.logs()
    for secret in (USER_PASSWORD, FILE_SECRET_KEY):
        assert secret not in logs


def test_config_check_accepts_the_toml_example():
    out = check(ROOT / "examples" / "gatehouse.toml")
    assert out.returncode == 0, out.stderr
    assert ("OK (1 user pools, 2 clients, 1 groups, 1 users, 1 APIs, 1 admin keys, "
            "1 pool domains, 1 resource servers, 1 API domain names)") in out.stdout


BAD_TOML = {
    "syntax error": (
        '[[userPools]]\nPoolName = "p"\nclients = [{ ClientName = "c" }\n',
        ["invalid TOML:", "at line 4 column 1"],
    ),
    "duplicate key": (
        '[[userPools]]\nPoolName = "p"\nPoolName = "q"\n',
        ["invalid TOML:", "duplicate key", "at line 3 column 1"],
    ),
    "unknown member": (
        '[[userPools]]\nPoolName = "p"\n\n[[userPools.clients]]\nClientName = "c"\nExplicitAuthFlow = ["ALLOW_USER_SRP_AUTH"]\n',
        ["userPools[0].clients[0].ExplicitAuthFlow: unknown member 'ExplicitAuthFlow'; did you mean 'ExplicitAuthFlows'?"],
    ),
    "wrong type and dangling reference": (
        '[[userPools]]\nPoolName = "p"\nMfaConfiguration = true\n\n[[apis]]\nname = "a"\n'
        '[[apis.authorizers]]\nname = "j"\nauthorizerType = "JWT"\n'
        'jwtConfiguration = { issuer = "${userPools.q.issuer}" }\n',
        [
            "userPools[0].MfaConfiguration: expected one of: OFF, ON, OPTIONAL, found a boolean",
            "apis[0].authorizers[0].jwtConfiguration.issuer: ${userPools.q.issuer}: no user pool of this file is named by it (pools: p)",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOML))
def test_config_check_reports_toml_problems_with_their_location(tmp_path, case):
    text, expected = BAD_TOML[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = check(path)
    assert out.returncode == 1, out.stdout
    for e in expected:
        assert e in out.stderr, out.stderr


def test_a_bad_toml_file_stops_start_up_with_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('version = 1\n\n[[userPools]]\nPoolName = "p\n')
    port, gw = free_port(), free_port()
    out = subprocess.run(
        [str(BIN), "serve", "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{port}",
         "--gateway-listen", f"127.0.0.1:{gw}"],
        env={"PATH": "/usr/bin:/bin", "GATEHOUSE_CONFIG": str(path)},
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert f"configuration file {path} has 1 problem" in out.stderr
    assert "invalid TOML:" in out.stderr and "at line 4 column" in out.stderr, out.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


# --- OAuth set-up and custom domain names -----------------------------------------------------

OAUTH_POOL_ID = "us-east-1_ConfigOauth1"
SVC_ID = "6config7svc8client9id0abcd"
SVC_SECRET = "cfgsvcsecret0123456789abcdefghijklm"
WEB_ID = "7config8web9client0id1abcd"
OAUTH_API_ID = "cfgoauth01"
# The smallest thing SetUICustomization takes for a PNG: its signature.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def oauth_toml(backend, scopes=("read",), svc_scopes=("orders/read",), css_color="#1d4ed8", mapping_key="orders"):
    scope_items = ",\n  ".join(
        f'{{ ScopeName = "{s}", ScopeDescription = "{s} orders" }}' for s in scopes)
    svc = ", ".join(f'"{s}"' for s in svc_scopes)
    return textwrap.dedent(
        f"""\
        [[userPools]]
        PoolName = "config-oauth"
        Id = "{OAUTH_POOL_ID}"
        Domain = "config-oauth-test"

        [[userPools.ResourceServers]]
        Identifier = "orders"
        Name = "Orders API"
        Scopes = [
          SCOPES
        ]

        [userPools.UICustomization]
        CSS = ".banner-customizable {{ background-color: {css_color}; }}"
        ImageFile = "logo.png"

        [[userPools.clients]]
        ClientName = "svc"
        ClientId = "{SVC_ID}"
        ClientSecret = "${{env:GH_TEST_SVC_SECRET}}"
        AllowedOAuthFlowsUserPoolClient = true
        AllowedOAuthFlows = ["client_credentials"]
        AllowedOAuthScopes = [{svc}]

        [[userPools.clients]]
        ClientName = "web"
        ClientId = "{WEB_ID}"
        AllowedOAuthFlowsUserPoolClient = true
        AllowedOAuthFlows = ["code"]
        AllowedOAuthScopes = ["openid", "email", "orders/read"]
        CallbackURLs = ["http://localhost:3000/callback", "https://app.example.com/callback"]
        LogoutURLs = ["http://localhost:3000/"]
        DefaultRedirectURI = "http://localhost:3000/callback"
        SupportedIdentityProviders = ["COGNITO"]
        UICustomization = {{ CSS = ".submitButton-customizable {{ color: #fff; }}" }}

        [[apis]]
        name = "config-oauth-api"
        apiId = "{OAUTH_API_ID}"

        [[apis.integrations]]
        name = "backend"
        integrationType = "HTTP_PROXY"
        integrationUri = "{backend}/backend/{{proxy}}"
        integrationMethod = "ANY"

        [[apis.authorizers]]
        name = "cognito"
        authorizerType = "JWT"
        identitySource = ["$request.header.Authorization"]
        jwtConfiguration = {{ issuer = "${{userPools.config-oauth.issuer}}", audience = ["${{userPools.config-oauth.clients.svc.ClientId}}"] }}

        [[apis.routes]]
        routeKey = "GET /{{proxy+}}"
        integration = "backend"
        authorizer = "cognito"
        authorizationScopes = ["orders/read"]

        [[domainNames]]
        domainName = "orders.config.example.com"
        tags = {{ team = "orders" }}
        apiMappings = [{{ api = "config-oauth-api", stage = "$default", apiMappingKey = "{mapping_key}" }}]
        """
    ).replace("SCOPES", scope_items)


def client_credentials(server, scope):
    return requests.post(f"{server.url}/oauth2/token", auth=(SVC_ID, SVC_SECRET),
                         data={"grant_type": "client_credentials", "scope": scope}, timeout=10)


def oauth_snapshot(server):
    idp = server.client()
    apigw = server.client("apigatewayv2")
    pool = idp.describe_user_pool(UserPoolId=OAUTH_POOL_ID)["UserPool"]
    domain = idp.describe_user_pool_domain(Domain="config-oauth-test")["DomainDescription"]
    clients = [idp.describe_user_pool_client(UserPoolId=OAUTH_POOL_ID, ClientId=c)["UserPoolClient"] for c in (SVC_ID, WEB_ID)]
    uis = [idp.get_ui_customization(UserPoolId=OAUTH_POOL_ID, **kw)["UICustomization"] for kw in ({}, {"ClientId": WEB_ID})]
    return {
        "pool": str(pool["LastModifiedDate"]),
        "domain": (domain["Domain"], domain["Version"]),
        "servers": idp.list_resource_servers(UserPoolId=OAUTH_POOL_ID, MaxResults=50)["ResourceServers"],
        "clients": [(c["ClientId"], str(c["LastModifiedDate"])) for c in clients],
        "ui": [(u.get("CSSVersion"), u.get("ImageUrl"), str(u["LastModifiedDate"])) for u in uis],
        "domain_name": {k: v for k, v in apigw.get_domain_name(DomainName="orders.config.example.com").items()
                        if k != "ResponseMetadata"},
        "mappings": apigw.get_api_mappings(DomainName="orders.config.example.com")["Items"],
    }


def test_an_oauth_set_up_from_one_file(fresh_server, backend, tmp_path):
    (tmp_path / "logo.png").write_bytes(PNG)
    path = tmp_path / "gatehouse.toml"
    path.write_text(oauth_toml(backend))
    env = {"GH_TEST_SVC_SECRET": SVC_SECRET}
    out = check(path, env=env)
    assert out.returncode == 0, out.stderr
    server = fresh_server(extra_args=["--config", str(path)], extra_env=env)
    idp = server.client()

    # The domain, the resource server, the clients' OAuth members, the hosted pages' look.
    assert idp.describe_user_pool(UserPoolId=OAUTH_POOL_ID)["UserPool"]["Domain"] == "config-oauth-test"
    assert idp.describe_user_pool_domain(Domain="config-oauth-test")["DomainDescription"]["UserPoolId"] == OAUTH_POOL_ID
    server_ = idp.describe_resource_server(UserPoolId=OAUTH_POOL_ID, Identifier="orders")["ResourceServer"]
    assert server_["Name"] == "Orders API"
    assert server_["Scopes"] == [{"ScopeName": "read", "ScopeDescription": "read orders"}]
    web = idp.describe_user_pool_client(UserPoolId=OAUTH_POOL_ID, ClientId=WEB_ID)["UserPoolClient"]
    assert web["AllowedOAuthFlows"] == ["code"] and web["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(web["AllowedOAuthScopes"]) == ["email", "openid", "orders/read"]
    assert web["CallbackURLs"] == ["http://localhost:3000/callback", "https://app.example.com/callback"]
    assert web["LogoutURLs"] == ["http://localhost:3000/"]
    assert web["DefaultRedirectURI"] == "http://localhost:3000/callback"
    assert web["SupportedIdentityProviders"] == ["COGNITO"]
    ui = idp.get_ui_customization(UserPoolId=OAUTH_POOL_ID)["UICustomization"]
    assert ui["CSS"] == ".banner-customizable { background-color: #1d4ed8; }"
    logo = requests.get(ui["ImageUrl"], timeout=10)
    assert logo.status_code == 200 and logo.content == PNG
    web_ui = idp.get_ui_customization(UserPoolId=OAUTH_POOL_ID, ClientId=WEB_ID)["UICustomization"]
    assert web_ui["ClientId"] == WEB_ID and "submitButton" in web_ui["CSS"]

    # The declared machine client gets a token with the declared scope, which the declared
    # route's authorizationScopes accept, here through the declared custom domain name.
    r = client_credentials(server, "orders/read")
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["scope"] == "orders/read" and claims["client_id"] == SVC_ID
    assert claims["iss"] == f"{server.url}/{OAUTH_POOL_ID}"
    host = {"Host": "orders.config.example.com"}
    r = requests.get(f"{server.gateway_url}/orders/list", headers={**host, "Authorization": token}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/backend/list"
    assert requests.get(f"{server.gateway_url}/orders/list", headers=host, timeout=10).status_code == 401

    # A restart changes nothing: no date, version or mapping moves.
    before = oauth_snapshot(server)
    server.restart()
    assert "created=0 updated=0" in last_apply(server), last_apply(server)
    assert oauth_snapshot(server) == before
    assert client_credentials(server, "orders/read").status_code == 200

    # A new scope given to the machine client, a new look and a new mapping are applied; the
    # mapping under the old key stays (mappings are found by their key, and never deleted).
    path.write_text(oauth_toml(backend, scopes=("read", "write"), svc_scopes=("orders/read", "orders/write"),
                               css_color="#000000", mapping_key="v2/orders"))
    server.restart()
    # the new mapping; the resource server, svc, the pool's look
    assert "created=1 updated=3" in last_apply(server), last_apply(server)
    r = client_credentials(server, "orders/write")
    assert r.status_code == 200, r.text
    assert "#000000" in idp.get_ui_customization(UserPoolId=OAUTH_POOL_ID)["UICustomization"]["CSS"]
    apigw = server.client("apigatewayv2")
    keys = {m["ApiMappingKey"] for m in apigw.get_api_mappings(DomainName="orders.config.example.com")["Items"]}
    assert keys == {"orders", "v2/orders"}
    assert apigw.get_domain_name(DomainName="orders.config.example.com")["Tags"] == {"team": "orders"}
    assert SVC_SECRET not in server.logs()


def test_a_pool_domain_is_never_renamed(fresh_server, backend, tmp_path):
    (tmp_path / "logo.png").write_bytes(PNG)
    path = tmp_path / "gatehouse.toml"
    path.write_text(oauth_toml(backend))
    env = {"GH_TEST_SVC_SECRET": SVC_SECRET}
    server = fresh_server(extra_args=["--config", str(path)], extra_env=env)
    server.stop()
    path.write_text(oauth_toml(backend).replace('Domain = "config-oauth-test"', 'Domain = "config-oauth-other"'))
    with pytest.raises(RuntimeError) as e:
        server.start()
    assert "userPools[0].Domain: the pool us-east-1_ConfigOauth1 has the domain 'config-oauth-test'" in str(e.value)


def test_config_check_reports_oauth_problems_at_their_members(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent("""\
        userPools:
          - PoolName: p
            Domain: my-cognito-pages
            ResourceServers:
              - {Identifier: orders, Name: Orders, Scopes: [{ScopeName: ok, ScopeDescription: fine}, {ScopeName: "a/b", ScopeDescription: x}]}
            UICustomization: {ImageFile: missing.png}
            clients:
              - {ClientName: svc, GenerateSecret: true, AllowedOAuthFlowsUserPoolClient: true,
                 AllowedOAuthFlows: [client_credentials], AllowedOAuthScopes: [orders/nope]}
        apis:
          - name: a
            integrations: [{name: i, integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:9/", integrationMethod: ANY}]
            routes: [{routeKey: "GET /", integration: i}]
        domainNames:
          - domainName: api.example.com
            apiMappings: [{api: a, stage: nope}, {api: b, stage: $default}, {apiId: x, stage: y}]
        """))
    out = check(path)
    assert out.returncode == 1
    assert "userPools[0].UICustomization.ImageFile: cannot read missing.png" in out.stderr, out.stderr
    assert "domainNames[0].apiMappings[1].api: API 'b' is not declared in apis (declared: a)" in out.stderr
    assert "domainNames[0].apiMappings[2].apiId: unknown member 'apiId'; an API mapping names its API with 'api: <name>'" in out.stderr
    # Once the shape is right, the rehearsal names what the operations refuse.
    text = path.read_text().replace("UICustomization: {ImageFile: missing.png}", "UICustomization: {CSS: 'body { color: red }'}")
    text = text.replace(", {api: b, stage: $default}, {apiId: x, stage: y}", "")
    path.write_text(text)
    out = check(path)
    assert out.returncode == 1
    err = out.stderr
    assert "userPools[0].Domain: InvalidParameterException: Domain cannot contain reserved word: cognito" in err, err
    assert "userPools[0].ResourceServers[0].Scopes[1].ScopeName: InvalidParameterException" in err, err
    assert "userPools[0].clients[0]: ScopeDoesNotExistException: Invalid scope requested: orders/nope" in err, err
    assert "domainNames[0].apiMappings[0]: Invalid stage identifier specified nope" in err, err
