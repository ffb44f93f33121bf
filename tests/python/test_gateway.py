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


def test_disabled_and_deleted_users_tokens_are_refused_at_the_edge(server, idp, backend):
    """AdminDisableUser revokes the user's tokens (as on AWS) and so does deleting the user;
    the gateway refuses them from that moment, not at their expiry."""
    pool_id = idp.create_user_pool(PoolName=f"gw-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="spa",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    apigw = server.client("apigatewayv2")
    api_id = apigw.create_api(Name=f"d-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                     IntegrationUri=f"{backend}/backend/{{proxy}}",
                                     PayloadFormatVersion="1.0")["IntegrationId"]
    auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="c",
                                   IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Audience": [client_id],
                                                     "Issuer": f"{server.url}/{pool_id}"})["AuthorizerId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /me/{proxy+}", Target=f"integrations/{integ}",
                       AuthorizationType="JWT", AuthorizerId=auth)
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    public = server.client(signed=False)
    tokens = {}
    for name in ("dora", "dave"):
        idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
        tokens[name] = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD})["AuthenticationResult"]
        r = call(server, api_id, "GET", "/me/x", headers={"Authorization": tokens[name]["AccessToken"]}, wait_for=200)
        assert r.status_code == 200, r.text

    idp.admin_disable_user(UserPoolId=pool_id, Username="dora")
    idp.admin_delete_user(UserPoolId=pool_id, Username="dave")
    for name in ("dora", "dave"):
        r = call(server, api_id, "GET", "/me/x", headers={"Authorization": tokens[name]["AccessToken"]})
        assert r.status_code == 401, (name, r.text)
    # Re-enabling does not bring the old tokens back; a new sign-in works.
    idp.admin_enable_user(UserPoolId=pool_id, Username="dora")
    r = call(server, api_id, "GET", "/me/x", headers={"Authorization": tokens["dora"]["AccessToken"]})
    assert r.status_code == 401
    fresh = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": "dora", "PASSWORD": PASSWORD})["AuthenticationResult"]
    r = call(server, api_id, "GET", "/me/x", headers={"Authorization": fresh["AccessToken"]})
    assert r.status_code == 200, r.text


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


class LambdaDouble(BaseHTTPRequestHandler):
    """The Lambda Invoke API: `echo` answers with the event it got; `boom` fails."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        name = self.path.split("/functions/")[1].split("/")[0]
        event = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if name == "boom":
            out, extra = {"errorMessage": "boom", "errorType": "Error"}, {"X-Amz-Function-Error": "Unhandled"}
        else:
            out = {"statusCode": 200, "headers": {"content-type": "application/json"},
                   "cookies": ["seen=1"], "body": json.dumps(event)}
            extra = {}
        data = json.dumps(out).encode()
        self.send_response(200)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_lambda_proxy_payload_v2(fresh_server):
    lam = ThreadingHTTPServer(("127.0.0.1", 0), LambdaDouble)
    threading.Thread(target=lam.serve_forever, daemon=True).start()
    try:
        srv = fresh_server(extra_env={"AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{lam.server_address[1]}"})
        apigw = srv.client("apigatewayv2")
        arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
        api = apigw.create_api(Name="fn", ProtocolType="HTTP", Target=arn, RouteKey="POST /hello/{name}")
        api_id = api["ApiId"]
        r = call(srv, api_id, "POST", "/hello/w%20x?a=1&a=2", wait_for=200, data="hi",
                 headers={"Cookie": "k=v", "User-Agent": "pytest"})
        assert r.status_code == 200, r.text
        assert r.headers["set-cookie"] == "seen=1"
        ev = r.json()
        assert ev["version"] == "2.0" and ev["routeKey"] == "POST /hello/{name}"
        assert ev["rawPath"] == "/hello/w%20x" and ev["rawQueryString"] == "a=1&a=2"
        assert ev["queryStringParameters"] == {"a": "1,2"}
        assert ev["pathParameters"] == {"name": "w x"}
        assert ev["cookies"] == ["k=v"] and ev["body"] == "hi" and ev["isBase64Encoded"] is False
        rc = ev["requestContext"]
        assert rc["apiId"] == api_id and rc["stage"] == "$default"
        assert rc["http"]["method"] == "POST" and rc["http"]["sourceIp"] == "127.0.0.1"
        assert rc["http"]["userAgent"] == "pytest" and rc["requestId"] == r.headers["apigw-requestid"]

        boom = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
                                        IntegrationUri="arn:aws:lambda:us-east-1:123456789012:function:boom")
        apigw.create_route(ApiId=api_id, RouteKey="GET /boom", Target=f"integrations/{boom['IntegrationId']}")
        r = call(srv, api_id, "GET", "/boom", wait_for=500)
        assert r.status_code == 500 and r.json() == {"message": "Internal Server Error"}
    finally:
        lam.shutdown()


def test_jwt_authorizer_with_a_remote_oidc_issuer(server, apigw, backend):
    """An issuer that is not one of our pools: discovery -> jwks_uri, RS256 and ES256 keys."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    import jwt

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {"keys": [
        {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())), "kid": "rsa1", "use": "sig"},
        {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec1", "use": "sig"},
    ]}
    hits = []

    class Idp(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            doc = {"issuer": base, "jwks_uri": f"{base}/keys"} if "openid" in self.path else jwks
            data = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    idp = ThreadingHTTPServer(("127.0.0.1", 0), Idp)
    threading.Thread(target=idp.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{idp.server_address[1]}"
    try:
        api_id = apigw.create_api(Name=f"o-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
        i = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                     IntegrationUri=f"{backend}/{{proxy}}", PayloadFormatVersion="1.0")["IntegrationId"]
        a = apigw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="oidc",
                                    IdentitySource=["$request.querystring.token"],
                                    JwtConfiguration={"Issuer": issuer, "Audience": ["api://gw"]})["AuthorizerId"]
        apigw.create_route(ApiId=api_id, RouteKey="GET /{proxy+}", Target=f"integrations/{i}",
                           AuthorizationType="JWT", AuthorizerId=a, AuthorizationScopes=["read"])
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        now = int(time.time())
        claims = {"iss": issuer, "aud": "api://gw", "sub": "svc", "iat": now, "exp": now + 300, "scp": ["read"]}
        rs = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa1"})
        es = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "ec1"})
        r = call(server, api_id, "GET", f"/x?token={rs}", wait_for=200)
        assert r.status_code == 200, r.text
        assert call(server, api_id, "GET", f"/x?token={es}").status_code == 200
        fetched = len(hits)
        assert fetched == 2  # discovery and JWKS, once
        wrong_aud = jwt.encode({**claims, "aud": "other"}, rsa_key, algorithm="RS256", headers={"kid": "rsa1"})
        assert call(server, api_id, "GET", f"/x?token={wrong_aud}").status_code == 401
        no_scope = jwt.encode({**claims, "scp": ["write"]}, ec_key, algorithm="ES256", headers={"kid": "ec1"})
        assert call(server, api_id, "GET", f"/x?token={no_scope}").status_code == 403
        # Unknown kids: one refetch at most, however many arrive.
        for n in range(5):
            t = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": f"nope{n}"})
            assert call(server, api_id, "GET", f"/x?token={t}").status_code == 401
        assert len(hits) <= fetched + 2
    finally:
        idp.shutdown()


def test_deployed_apis_are_served_right_after_a_restart(fresh_server, backend):
    srv = fresh_server()
    apigw = srv.client("apigatewayv2")
    api = apigw.create_api(Name="durable", ProtocolType="HTTP", Target=f"{backend}/hello")
    assert call(srv, api["ApiId"], "GET", "/anything", wait_for=200).status_code == 200
    srv.restart()
    r = call(srv, api["ApiId"], "GET", "/anything")  # no waiting: loaded before listening
    assert r.status_code == 200 and r.json()["path"] == "/hello"


def test_throttling_and_access_logs_from_stage_settings(server, apigw, backend, tmp_path):
    log = tmp_path / "access.log"
    api_id = apigw.create_api(Name=f"t-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    i = apigw.create_integration(ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                 IntegrationUri=f"{backend}/{{proxy}}", PayloadFormatVersion="1.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /limited/{proxy+}", Target=f"integrations/{i}")
    apigw.create_route(ApiId=api_id, RouteKey="GET /free/{proxy+}", Target=f"integrations/{i}")
    apigw.create_stage(
        ApiId=api_id, StageName="$default", AutoDeploy=True,
        RouteSettings={"GET /limited/{proxy+}": {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.01}},
        AccessLogSettings={"DestinationArn": f"file://{log}",
                           "Format": '{"id":"$context.requestId","route":"$context.routeKey","status":"$context.status"}'},
    )
    assert call(server, api_id, "GET", "/free/x", wait_for=200).status_code == 200
    statuses = [call(server, api_id, "GET", "/limited/x").status_code for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429]
    r = call(server, api_id, "GET", "/limited/x")
    assert r.status_code == 429 and r.json() == {"message": "Too Many Requests"}
    assert call(server, api_id, "GET", "/free/y").status_code == 200
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert {"id": r.headers["apigw-requestid"], "route": "GET /limited/{proxy+}", "status": "429"} in lines
