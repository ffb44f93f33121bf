"""The gateway's data plane end to end: APIs configured through the management API (aws CLI
and boto3), called over HTTP on the gateway listener with `Host: {apiId}.execute-api.localhost`,
proxied to a small local HTTP backend; JWT authorizers with tokens of our own pools."""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import PASSWORD, make_user


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON; `/slow` takes a second."""

    protocol_version = "HTTP/1.1"

    def _answer(self):
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        out = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        ).encode()
        self.send_response(201 if self.path.startswith("/created") else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.send_header("access-control-allow-origin", "http://backend-says.example")
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture
def apigw(server):
    return server.client("apigatewayv2")


def call(server, api_id, method, path, wait_for=None, **kw):
    """One request through the gateway. With `wait_for`, retries until the status is that
    (deployments reach the data plane asynchronously, within milliseconds)."""
    headers = {"Host": f"{api_id}.execute-api.localhost", **kw.pop("headers", {})}
    deadline = time.time() + 5
    while True:
        r = requests.request(method, server.gateway_url + path, headers=headers, timeout=10, **kw)
        if wait_for is None or r.status_code == wait_for or time.time() > deadline:
            return r
        time.sleep(0.02)


def test_tutorial_end_to_end_with_aws_cli(server, backend):
    """Pool -> client -> user -> API with a JWT authorizer -> 401 without a token -> 200 with
    one -> 403 without the scope -> 401 once the user signed out everywhere."""
    pool_id = server.aws("cognito-idp", "create-user-pool", "--pool-name", "gw-tutorial")["UserPool"]["Id"]
    client_id = server.aws(
        "cognito-idp", "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "spa",
        "--no-generate-secret", "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
    )["UserPoolClient"]["ClientId"]
    server.aws("cognito-idp", "admin-create-user", "--user-pool-id", pool_id, "--username", "jane",
               "--message-action", "SUPPRESS")
    server.aws("cognito-idp", "admin-set-user-password", "--user-pool-id", pool_id, "--username", "jane",
               "--password", PASSWORD, "--permanent")

    api_id = server.aws("apigatewayv2", "create-api", "--name", "pets", "--protocol-type", "HTTP")["ApiId"]
    integ = server.aws(
        "apigatewayv2", "create-integration", "--api-id", api_id, "--integration-type", "HTTP_PROXY",
        "--integration-uri", f"{backend}/backend/{{proxy}}", "--integration-method", "ANY",
        "--payload-format-version", "1.0",
    )["IntegrationId"]
    issuer = f"{server.url}/{pool_id}"
    auth_id = server.aws(
        "apigatewayv2", "create-authorizer", "--api-id", api_id, "--authorizer-type", "JWT",
        "--name", "cognito", "--identity-source", "$request.header.Authorization",
        "--jwt-configuration", f"Audience={client_id},Issuer={issuer}",
    )["AuthorizerId"]
    server.aws("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /pets/{proxy+}",
               "--target", f"integrations/{integ}", "--authorization-type", "JWT", "--authorizer-id", auth_id)
    server.aws("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /admin/{proxy+}",
               "--target", f"integrations/{integ}", "--authorization-type", "JWT", "--authorizer-id", auth_id,
               "--authorization-scopes", "pets/admin")
    server.aws("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /open/{proxy+}",
               "--target", f"integrations/{integ}")
    server.aws("apigatewayv2", "create-stage", "--api-id", api_id, "--stage-name", "$default", "--auto-deploy")

    r = call(server, api_id, "GET", "/open/hello", wait_for=200)
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "/backend/hello"

    r = call(server, api_id, "GET", "/pets/1")
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["apigw-requestid"]

    tokens = server.aws(
        "cognito-idp", "initiate-auth", "--client-id", client_id, "--auth-flow", "USER_PASSWORD_AUTH",
        "--auth-parameters", f"USERNAME=jane,PASSWORD={PASSWORD}",
    )["AuthenticationResult"]
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        r = call(server, api_id, "GET", "/pets/1", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        seen = r.json()
        assert seen["path"] == "/backend/1"
        assert seen["headers"]["authorization"] == f"Bearer {token}"
        assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
        assert seen["headers"]["x-forwarded-host"] == f"{api_id}.execute-api.localhost"

    r = call(server, api_id, "GET", "/admin/x", headers={"Authorization": tokens["AccessToken"]})
    assert r.status_code == 403 and r.json() == {"message": "Forbidden"}

    r = call(server, api_id, "GET", "/pets/1", headers={"Authorization": "Bearer " + tokens["AccessToken"][:-4] + "AAAA"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]

    # Revocation reaches the edge: AWS would keep accepting the token until it expires.
    server.aws("cognito-idp", "global-sign-out", "--access-token", tokens["AccessToken"])
    r = call(server, api_id, "GET", "/pets/1", headers={"Authorization": tokens["AccessToken"]})
    assert r.status_code == 401
    assert "revoked" in r.headers["www-authenticate"]


def test_stages_routing_and_redeploy(server, apigw, backend):
    api_id = apigw.create_api(Name=f"r-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    i = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                 IntegrationUri=f"{backend}/{{proxy}}", PayloadFormatVersion="1.0")["IntegrationId"]
    pets = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                    IntegrationUri=f"{backend}/pets/{{id}}", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}", Target=f"integrations/{i}")
    apigw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}", Target=f"integrations/{pets}")
    apigw.create_stage(ApiId=api_id, StageName="prod")
    apigw.create_deployment(ApiId=api_id, StageName="prod")

    r = call(server, api_id, "GET", "/prod/pets/a%20b?q=1", wait_for=200)
    assert r.status_code == 200 and r.json()["path"] == "/pets/a%20b?q=1"
    r = call(server, api_id, "POST", "/prod/created/x", data=b"hello")
    assert r.status_code == 201 and r.json()["method"] == "POST" and r.json()["body"] == "hello"
    # No $default stage: the root is not served.
    r = call(server, api_id, "GET", "/pets/1")
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}
    r = call(server, "nosuchapi0", "GET", "/prod/pets/1")
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}

    # A redeploy without the catch-all: /prod/other stops matching.
    routes = apigw.get_routes(ApiId=api_id)["Items"]
    catch_all = next(x for x in routes if x["RouteKey"] == "ANY /{proxy+}")
    apigw.delete_route(ApiId=api_id, RouteId=catch_all["RouteId"])
    r = call(server, api_id, "GET", "/prod/other")
    assert r.status_code == 200  # still the old deployment
    apigw.create_deployment(ApiId=api_id, StageName="prod")
    r = call(server, api_id, "GET", "/prod/other", wait_for=404)
    assert r.status_code == 404


def test_cors_timeout_and_limits(server, apigw, backend):
    api_id = apigw.create_api(
        Name=f"c-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP",
        CorsConfiguration={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
                           "AllowHeaders": ["authorization"], "MaxAge": 600},
    )["ApiId"]
    i = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                 IntegrationUri=f"{backend}/{{proxy}}", PayloadFormatVersion="1.0",
                                 TimeoutInMillis=200)["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}", Target=f"integrations/{i}")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    r = call(server, api_id, "GET", "/x", headers={"Origin": "https://app.example"}, wait_for=200)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    r = call(server, api_id, "OPTIONS", "/x", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-methods"] == "GET,POST"
    assert r.headers["access-control-max-age"] == "600"
    r = call(server, api_id, "GET", "/x", headers={"Origin": "https://other.example"})
    assert "access-control-allow-origin" not in r.headers

    r = call(server, api_id, "GET", "/slow")
    assert r.status_code == 503 and r.json() == {"message": "Service Unavailable"}
    r = call(server, api_id, "POST", "/big", data=b"x" * (10 * 1024 * 1024 + 1))
    assert r.status_code == 413
