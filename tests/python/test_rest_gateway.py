"""REST APIs (API Gateway v1) on the gateway listener, end to end: the tutorial's REST path
configured with the aws CLI (create-rest-api, create-resource, create-authorizer --type
COGNITO_USER_POOLS, put-method --authorization-type COGNITO_USER_POOLS, put-integration
HTTP_PROXY / AWS_PROXY / MOCK, create-deployment --stage-name), then called over HTTP with
`Host: {restApiId}.execute-api.localhost` and tokens of our own pools, as AWS answers them."""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import PASSWORD, Server

UNAUTHORIZED = {"message": "Unauthorized"}
MISSING = {"message": "Missing Authentication Token"}


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self):
        out = json.dumps({"method": self.command, "path": self.path,
                          "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


class Lambda(BaseHTTPRequestHandler):
    """The Lambda Invoke API: `echo` answers with the event it got (no Content-Type), `bad`
    with JSON that is no proxy response, `boom` with a function error."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        name = self.path.split("/functions/")[1].split("/")[0]
        event = json.loads(self.rfile.read(int(self.headers["content-length"])))
        extra = {}
        if name == "boom":
            out, extra = {"errorMessage": "boom", "errorType": "Error"}, {"X-Amz-Function-Error": "Unhandled"}
        elif name == "bad":
            out = {"hello": "world"}
        else:
            out = {"statusCode": 200, "body": json.dumps(event)}
        data = json.dumps(out).encode()
        self.send_response(200)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve(handler):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A server of this module's own, its Lambda endpoint a local Invoke API double."""
    backend, lam = serve(Echo), serve(Lambda)
    srv = Server(tmp_path_factory.mktemp("rest") / "data",
                 extra_env={"AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{lam.server_address[1]}"}).start()
    yield srv, f"http://127.0.0.1:{backend.server_address[1]}"
    srv.stop()
    backend.shutdown()
    lam.shutdown()


def call(server, api_id, method, path, token=None, wait_for=None, **kw):
    """One request through the gateway; with `wait_for`, retried until that status
    (deployments reach the data plane asynchronously, within milliseconds)."""
    headers = {"Host": f"{api_id}.execute-api.localhost", **kw.pop("headers", {})}
    if token is not None:
        headers["Authorization"] = token
    deadline = time.time() + 5
    while True:
        r = requests.request(method, server.gateway_url + path, headers=headers, timeout=10, **kw)
        if wait_for is None or r.status_code == wait_for or time.time() > deadline:
            return r
        time.sleep(0.02)


def lambda_uri(name):
    return ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:us-east-1:000000000000:function:{name}/invocations")


def pool_with_user(server, name):
    """A pool, a public client allowing passwords, user `jane` in group `readers`; and a
    resource server `pets` with a client_credentials client allowed pets/read and pets/admin."""
    pool_id = server.aws("cognito-idp", "create-user-pool", "--pool-name", name)["UserPool"]["Id"]
    client_id = server.aws(
        "cognito-idp", "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "spa",
        "--no-generate-secret", "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
    )["UserPoolClient"]["ClientId"]
    server.aws("cognito-idp", "admin-create-user", "--user-pool-id", pool_id, "--username", "jane",
               "--message-action", "SUPPRESS")
    server.aws("cognito-idp", "admin-set-user-password", "--user-pool-id", pool_id, "--username", "jane",
               "--password", PASSWORD, "--permanent")
    server.aws("cognito-idp", "create-group", "--user-pool-id", pool_id, "--group-name", "readers")
    server.aws("cognito-idp", "admin-add-user-to-group", "--user-pool-id", pool_id, "--username", "jane",
               "--group-name", "readers")
    idp = server.client()
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets API",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "read"},
                                       {"ScopeName": "admin", "ScopeDescription": "admin"}])
    svc = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="svc", GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["pets/read", "pets/admin"], AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    return {"id": pool_id, "client": client_id, "svc": svc["ClientId"], "secret": svc["ClientSecret"],
            "arn": f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool_id}"}


def sign_in(server, pool):
    return server.aws(
        "cognito-idp", "initiate-auth", "--client-id", pool["client"], "--auth-flow", "USER_PASSWORD_AUTH",
        "--auth-parameters", f"USERNAME=jane,PASSWORD={PASSWORD}",
    )["AuthenticationResult"]


def client_credentials(server, pool, scope):
    r = requests.post(f"{server.url}/oauth2/token", auth=(pool["svc"], pool["secret"]),
                      data={"grant_type": "client_credentials", "scope": scope})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def add_method(server, api_id, resource_id, verb, integration, authorizer=None, scopes=None):
    args = ["apigateway", "put-method", "--rest-api-id", api_id, "--resource-id", resource_id,
            "--http-method", verb]
    if authorizer:
        args += ["--authorization-type", "COGNITO_USER_POOLS", "--authorizer-id", authorizer]
        if scopes:
            args += ["--authorization-scopes", *scopes]
    else:
        args += ["--authorization-type", "NONE"]
    server.aws(*args)
    server.aws("apigateway", "put-integration", "--rest-api-id", api_id, "--resource-id", resource_id,
               "--http-method", verb, *integration)


def test_the_tutorials_rest_path_with_the_aws_cli(env):
    server, backend = env
    pool = pool_with_user(server, "rest-tutorial")
    other = pool_with_user(server, "rest-other")

    api_id = server.aws("apigateway", "create-rest-api", "--name", "pets")["id"]
    root = server.aws("apigateway", "get-resources", "--rest-api-id", api_id)["items"][0]["id"]

    def resource(parent, part):
        return server.aws("apigateway", "create-resource", "--rest-api-id", api_id, "--parent-id", parent,
                          "--path-part", part)["id"]

    pets, admin, open_ = resource(root, "pets"), resource(root, "admin"), resource(root, "open")
    pet, greedy = resource(pets, "{petId}"), resource(open_, "{proxy+}")
    authorizer = server.aws(
        "apigateway", "create-authorizer", "--rest-api-id", api_id, "--name", "cognito",
        "--type", "COGNITO_USER_POOLS", "--provider-arns", pool["arn"],
        "--identity-source", "method.request.header.Authorization",
    )["id"]
    http_proxy = ["--type", "HTTP_PROXY", "--integration-http-method", "ANY"]
    claims_to_headers = ("integration.request.header.x-user=context.authorizer.claims.cognito:username,"
                         "integration.request.header.x-groups=context.authorizer.claims.cognito:groups")
    add_method(server, api_id, pets, "GET",
               [*http_proxy, "--uri", f"{backend}/backend/pets", "--request-parameters", claims_to_headers],
               authorizer)
    add_method(server, api_id, pet, "GET",
               ["--type", "AWS_PROXY", "--integration-http-method", "POST", "--uri", lambda_uri("echo")], authorizer)
    add_method(server, api_id, admin, "GET", [*http_proxy, "--uri", f"{backend}/admin"], authorizer,
               scopes=["pets/admin"])
    add_method(server, api_id, greedy, "ANY",
               [*http_proxy, "--uri", f"{backend}/open/{{proxy}}",
                "--request-parameters", "integration.request.path.proxy=method.request.path.proxy"])
    server.aws("apigateway", "create-deployment", "--rest-api-id", api_id, "--stage-name", "prod")

    r = call(server, api_id, "GET", "/prod/open/a/b?x=1", wait_for=200)
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/open/a/b?x=1"
    assert len(r.headers["x-amzn-requestid"]) == 36 and r.headers["x-amz-apigw-id"]

    # No token, an access token where an ID token is wanted, garbage, another pool's token.
    tokens, others = sign_in(server, pool), sign_in(server, other)
    for token in (None, tokens["AccessToken"], "not-a-token", others["IdToken"]):
        r = call(server, api_id, "GET", "/prod/pets", token)
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED), token
        assert r.headers["x-amzn-errortype"] == "UnauthorizedException"

    # An ID token, raw or as a Bearer token: through to the backend.
    for token in (tokens["IdToken"], f"Bearer {tokens['IdToken']}"):
        r = call(server, api_id, "GET", "/prod/pets", token)
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["path"] == "/backend/pets"
        assert seen["headers"]["authorization"] == token
        # $context.authorizer.claims.* in parameter mappings, rendered as REST APIs do.
        assert seen["headers"]["x-user"] == "jane" and seen["headers"]["x-groups"] == "readers"

    # AWS_PROXY: the payload 1.0 event as REST APIs send it, claims as strings.
    r = call(server, api_id, "GET", "/prod/pets/7?tag=a&tag=b", tokens["IdToken"],
             headers={"User-Agent": "pytest"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    ev = r.json()
    assert "version" not in ev
    assert ev["resource"] == "/pets/{petId}" and ev["path"] == "/pets/7" and ev["httpMethod"] == "GET"
    assert ev["pathParameters"] == {"petId": "7"}
    assert ev["queryStringParameters"] == {"tag": "b"}
    assert ev["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert ev["headers"]["User-Agent".lower()] == "pytest"
    assert ev["body"] is None and ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["resourceId"] == pet and rc["resourcePath"] == "/pets/{petId}"
    assert rc["path"] == "/prod/pets/7" and rc["stage"] == "prod" and rc["apiId"] == api_id
    assert rc["requestId"] == r.headers["x-amzn-requestid"]
    assert rc["extendedRequestId"] == r.headers["x-amz-apigw-id"]
    assert rc["identity"]["sourceIp"] == "127.0.0.1" and rc["identity"]["userAgent"] == "pytest"
    assert rc["domainName"].startswith(f"{api_id}.execute-api.localhost") and rc["domainPrefix"] == api_id
    claims = rc["authorizer"]["claims"]
    assert all(isinstance(v, str) for v in claims.values()), claims
    assert claims["token_use"] == "id" and claims["aud"] == pool["client"]
    assert claims["cognito:username"] == "jane" and claims["cognito:groups"] == "readers"
    assert claims["exp"].endswith(time.strftime("%Y", time.gmtime())) and " UTC " in claims["exp"]
    assert claims["auth_time"].isdigit()

    # Scopes: an access token holding one passes; without it, or an ID token, 401 as AWS.
    r = call(server, api_id, "GET", "/prod/admin", client_credentials(server, pool, "pets/admin"))
    assert r.status_code == 200, r.text
    for token in (client_credentials(server, pool, "pets/read"), tokens["IdToken"], tokens["AccessToken"]):
        r = call(server, api_id, "GET", "/prod/admin", token)
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED)

    # Anything not deployed: AWS's 403.
    for method, path in [("GET", "/pets"), ("GET", "/dev/pets"), ("DELETE", "/prod/pets"),
                         ("GET", "/prod/nothing"), ("GET", "/prod/open")]:
        r = call(server, api_id, method, path, tokens["IdToken"])
        assert (r.status_code, r.json()) == (403, MISSING), (method, path)

    # Revocation reaches the edge: AWS would keep accepting the ID token until it expires.
    server.aws("cognito-idp", "global-sign-out", "--access-token", tokens["AccessToken"])
    r = call(server, api_id, "GET", "/prod/pets", tokens["IdToken"])
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    fresh = sign_in(server, pool)
    assert call(server, api_id, "GET", "/prod/pets", fresh["IdToken"]).status_code == 200


def test_lambda_errors_mock_throttling_and_api_keys_with_boto3(env):
    server, _ = env
    apigw = server.client("apigateway")
    api_id = apigw.create_rest_api(name=f"r-{uuid.uuid4().hex[:6]}")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]

    def method(part, verb="GET", **integration):
        rid = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=part)["id"]
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod=verb, authorizationType="NONE",
                         apiKeyRequired=part == "keyed")
        apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod=verb, **integration)
        return rid

    for name in ("bad", "boom"):
        method(name, type="AWS_PROXY", integrationHttpMethod="POST", uri=lambda_uri(name))
    mock = dict(type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    for part in ("mocked", "keyed", "limited"):
        rid = method(part, **mock)
        apigw.put_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                  responseParameters={"method.response.header.X-Mocked": False})
        apigw.put_integration_response(
            restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
            responseParameters={"method.response.header.X-Mocked": "'yes'"},
            responseTemplates={"application/json": '{"mocked": true}'},
        )
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    apigw.update_stage(restApiId=api_id, stageName="v1", patchOperations=[
        {"op": "replace", "path": "/~1limited/GET/throttling/rateLimit", "value": "0.01"},
        {"op": "replace", "path": "/~1limited/GET/throttling/burstLimit", "value": "1"},
    ])

    r = call(server, api_id, "GET", "/v1/mocked", wait_for=200)
    assert (r.status_code, r.json(), r.headers["x-mocked"]) == (200, {"mocked": True}, "yes")

    # A function error or an answer that is no proxy response: REST's 502.
    for path in ("/v1/bad", "/v1/boom"):
        r = call(server, api_id, "GET", path)
        assert (r.status_code, r.json()) == (502, {"message": "Internal server error"}), path

    # apiKeyRequired without usage plans: refused with or without a key.
    for headers in ({}, {"x-api-key": "k" * 30}):
        r = call(server, api_id, "GET", "/v1/keyed", headers=headers)
        assert (r.status_code, r.json()) == (403, {"message": "Forbidden"})

    # The stage's method settings throttle the method (one request of burst).
    statuses = [call(server, api_id, "GET", "/v1/limited", wait_for=429).status_code for _ in range(2)]
    assert statuses[-1] == 429
    r = call(server, api_id, "GET", "/v1/limited")
    assert (r.status_code, r.json()) == (429, {"message": "Too Many Requests"})
    # Other methods are not limited by it.
    assert call(server, api_id, "GET", "/v1/mocked").status_code == 200
