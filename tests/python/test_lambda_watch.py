"""AWS_PROXY integrations against a REAL Lambda function: tests/lambda/echo, a Rust function on
the official runtime (`lambda_http`), served by `cargo lambda watch` (the Lambda Invoke API on a
local port). The gateway invokes it through AWS_ENDPOINT_URL_LAMBDA, so what passes here is our
payload 2.0 / 1.0 events parsed by AWS's own event types and the runtime's own responses turned
back into HTTP, with a JWT authorizer of a pool of the same server in front.

Needs `cargo-lambda` (tests/python/requirements.txt installs it into the test venv) and cargo;
the function is built into .test-tools/lambda-target before `cargo lambda watch` starts, so the
first invoke does not wait for a compile. Nothing here is skipped: if cargo-lambda cannot run,
the tests fail and say why.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import PASSWORD, ROOT, Server, free_port

FUNCTION_DIR = ROOT / "tests" / "lambda" / "echo"
TARGET_DIR = ROOT / ".test-tools" / "lambda-target"
# `cargo lambda watch` serves each binary of the package under its name (and the only one also
# under `_`); the ARN's function name is what the gateway puts in the Invoke API path.
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"
# The API Gateway form of the same function, as the console and CloudFormation write it.
FUNCTION_URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                f"{FUNCTION_ARN}/invocations")
BUILD_TIMEOUT = 20 * 60


def _cargo_lambda():
    found = shutil.which("cargo-lambda") or shutil.which("cargo-lambda", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail(
            "cargo-lambda is not installed: `pip install -r tests/python/requirements.txt` into the "
            "test venv (scripts/test does) or put cargo-lambda on PATH", pytrace=False)
    return found


def _tail(path, n=4000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError as e:
        return f"<{path}: {e}>"


def _children(pid):
    """Direct children of pid (the function instances cargo-lambda runs in sessions of their own)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            out.append(int(stat.parent.name))
    return out


class CargoLambdaWatch:
    """`cargo lambda watch` for tests/lambda/echo on a port of its own."""

    def __init__(self, log_path):
        self.port = free_port()
        self.log_path = Path(log_path)
        self.proc = None
        self.env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET_DIR), CARGO_TERM_COLOR="never")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def fail(self, what):
        pytest.fail(f"{what}\n--- cargo lambda watch log ({self.log_path}), last lines:\n"
                    f"{_tail(self.log_path)}", pytrace=False)

    def build(self):
        """The same `cargo run` that cargo-lambda does on the first invoke finds it built."""
        started = time.time()
        try:
            out = subprocess.run(
                ["cargo", "build", "--locked", "--manifest-path", str(FUNCTION_DIR / "Cargo.toml")],
                env=self.env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        except FileNotFoundError:
            pytest.fail("cargo is not on PATH: it builds the Lambda function under test", pytrace=False)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"building {FUNCTION_DIR} took over {BUILD_TIMEOUT} s:\n{(e.stderr or '')[-4000:]}",
                        pytrace=False)
        if out.returncode != 0:
            pytest.fail(f"building {FUNCTION_DIR} failed:\n{out.stderr[-6000:]}", pytrace=False)
        return time.time() - started

    def start(self):
        cmd = [
            _cargo_lambda(), "lambda", "watch",
            "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port),
            # Start the function on the first invoke (not a second `_` instance at start-up),
            # and never rebuild while the test runs.
            "--wait", "--ignore-changes",
            "--manifest-path", str(FUNCTION_DIR / "Cargo.toml"), "--locked",
        ]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"cargo lambda watch exited with {self.proc.returncode}: {' '.join(cmd)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.fail(f"cargo lambda watch did not listen on {self.port} within 60 s")

    def invoke(self, event, timeout=300):
        """A direct Invoke API call (no gateway): starts the function and proves it answers."""
        try:
            r = requests.post(f"{self.url}/2015-03-31/functions/echo/invocations", json=event, timeout=timeout)
        except requests.RequestException as e:
            self.fail(f"invoking the function through cargo lambda watch failed: {e}")
        if r.status_code != 200:
            self.fail(f"direct invoke answered {r.status_code}: {r.text[:2000]}")
        return r.json()

    def stop(self):
        if not self.proc:
            return
        instances = _children(self.proc.pid)
        if self.proc.poll() is None:
            # SIGTERM: cargo-lambda shuts its function instances down and exits.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in instances:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        self.proc = None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """cargo lambda watch + a gatehouse pointed at it + a pool, a user and an API whose routes
    invoke the function with payload 2.0 and 1.0, some behind a JWT authorizer."""
    base = tmp_path_factory.mktemp("lambda-watch")
    watch = CargoLambdaWatch(base / "cargo-lambda.log")
    srv = None
    try:
        build_seconds = watch.build()
        print(f"echo function built in {build_seconds:.1f} s")
        watch.start()
        warm = watch.invoke({
            "version": "2.0", "routeKey": "$default", "rawPath": "/warm-up", "rawQueryString": "",
            "headers": {"host": "localhost"}, "isBase64Encoded": False,
            "requestContext": {"http": {"method": "GET", "path": "/warm-up", "protocol": "HTTP/1.1",
                                        "sourceIp": "127.0.0.1", "userAgent": "pytest"},
                               "stage": "$default", "routeKey": "$default", "requestId": "warm-up"},
        })
        if warm.get("statusCode") != 200:
            watch.fail(f"the function answered the warm-up event with {warm}")

        srv = Server(base / "data", extra_env={"AWS_ENDPOINT_URL_LAMBDA": watch.url}).start()
        idp = srv.client()
        pool_id = idp.create_user_pool(PoolName="lambda-watch", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName="spa",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool_id, Username="lam", MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": "lam@example.com"}, {"Name": "email_verified", "Value": "true"}])
        idp.admin_set_user_password(UserPoolId=pool_id, Username="lam", Password=PASSWORD, Permanent=True)
        tokens = srv.client(signed=False).initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "lam", "PASSWORD": PASSWORD})["AuthenticationResult"]

        apigw = srv.client("apigatewayv2")
        api_id = apigw.create_api(Name=f"lw-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
        v2 = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FUNCTION_ARN,
                                      PayloadFormatVersion="2.0")["IntegrationId"]
        v1 = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FUNCTION_URI,
                                      IntegrationMethod="POST", PayloadFormatVersion="1.0")["IntegrationId"]
        auth = apigw.create_authorizer(ApiId=api_id, AuthorizerType="JWT", Name="pool",
                                       IdentitySource=["$request.header.Authorization"],
                                       JwtConfiguration={"Audience": [client_id],
                                                         "Issuer": f"{srv.url}/{pool_id}"})["AuthorizerId"]
        jwt = {"AuthorizationType": "JWT", "AuthorizerId": auth}
        apigw.create_route(ApiId=api_id, RouteKey="GET /hello/{name}", Target=f"integrations/{v2}")
        apigw.create_route(ApiId=api_id, RouteKey="ANY /v2/{proxy+}", Target=f"integrations/{v2}", **jwt)
        apigw.create_route(ApiId=api_id, RouteKey="ANY /v1/items/{id}", Target=f"integrations/{v1}", **jwt)
        apigw.create_route(ApiId=api_id, RouteKey="GET /v1/open", Target=f"integrations/{v1}")
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True,
                           StageVariables={"flavor": "oat"})
        apigw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"flavor": "rye"})

        st = {"srv": srv, "watch": watch, "api_id": api_id, "pool_id": pool_id, "client_id": client_id,
              "tokens": tokens}
        # The deployment reaches the data plane asynchronously (milliseconds).
        r = call(st, "GET", "/hello/ready", wait_for=200)
        assert r.status_code == 200, explain(st, r)
        yield st
    finally:
        if srv:
            srv.stop()
        watch.stop()


def explain(st, r):
    """A failed expectation with what both processes logged."""
    return (f"{r.status_code} {r.headers} {r.text[:2000]}\n--- cargo lambda watch log:\n"
            f"{_tail(st['watch'].log_path)}\n--- gatehouse log:\n{st['srv'].logs()[-3000:]}")


def call(st, method, path, wait_for=None, **kw):
    headers = {"Host": f"{st['api_id']}.execute-api.localhost", **kw.pop("headers", {})}
    deadline = time.time() + 10
    while True:
        r = requests.request(method, st["srv"].gateway_url + path, headers=headers, timeout=60, **kw)
        if wait_for is None or r.status_code == wait_for or time.time() > deadline:
            return r
        time.sleep(0.05)


def cookies_of(r):
    return r.raw.headers.getlist("set-cookie")


def test_payload_v2_parsed_by_lambda_http_and_its_response_served(stack):
    st = stack
    r = call(st, "GET", "/hello/w%20x?a=1&a=2&status=203",
             headers={"Cookie": "k=v; k2=v2", "User-Agent": "pytest-lw", "X-Custom": "yes"})
    assert r.status_code == 203, explain(st, r)
    # The runtime's response: status, headers, cookies (payload 2.0 `cookies`), JSON body.
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-echo-origin"] == "apigw_http"
    assert "a" in r.headers["x-multi"]  # lambda_http keeps only the first value in 2.0 `headers`
    assert cookies_of(r) == ["echo=1; Path=/", "flavor=oat; HttpOnly"]
    assert r.headers["apigw-requestid"]
    ev = r.json()
    # What the function saw, through lambda_http's ApiGatewayV2httpRequest.
    assert ev["origin"] == "apigw_http" and ev["method"] == "GET"
    assert ev["functionName"] == "echo"
    assert ev["rawPath"] == "/hello/w%20x"
    assert ev["pathParameters"] == {"name": ["w x"]}
    assert ev["query"] == {"a": ["1", "2"], "status": ["203"]}
    assert ev["stageVariables"] == {"flavor": ["oat"]}
    # lambda_http takes the scheme from x-forwarded-proto (https when it is missing).
    assert ev["uri"] == f"http://{st['api_id']}.execute-api.localhost/hello/w%20x?a=1&a=2&status=203"
    h = ev["headers"]
    assert h["user-agent"] == ["pytest-lw"] and h["x-custom"] == ["yes"]
    assert h["x-forwarded-for"] == ["127.0.0.1"] and h["x-forwarded-proto"] == ["http"]
    assert h["cookie"] == ["k=v; k2=v2"]  # from the event's `cookies`, joined back by the runtime
    assert "authorization" not in h
    assert ev["claims"] is None and ev["body"] is None
    rc = ev["requestContext"]
    assert rc["routeKey"] == "GET /hello/{name}" and rc["stage"] == "$default"
    assert rc["apiId"] == st["api_id"] and rc["accountId"]
    assert rc["requestId"] == r.headers["apigw-requestid"]
    assert rc["domainName"] == f"{st['api_id']}.execute-api.localhost" and rc["domainPrefix"] == st["api_id"]
    assert rc["http"] == {"method": "GET", "path": "/hello/w%20x", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "pytest-lw"}
    assert abs(rc["timeEpoch"] / 1000 - time.time()) < 300 and rc["time"]
    assert "authorizer" not in rc


def test_payload_v2_behind_a_jwt_authorizer(stack):
    st = stack
    r = call(st, "POST", "/v2/things", json={"n": 1})
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}, explain(st, r)
    assert "www-authenticate" in r.headers

    id_token = st["tokens"]["IdToken"]
    r = call(st, "POST", "/v2/things/1?x=y", json={"n": 1}, headers={"Authorization": f"Bearer {id_token}"})
    assert r.status_code == 200, explain(st, r)
    ev = r.json()
    assert ev["method"] == "POST" and ev["pathParameters"] == {"proxy": ["things/1"]}
    assert json.loads(ev["body"]) == {"n": 1}
    assert ev["headers"]["content-type"] == ["application/json"]
    claims = ev["claims"]
    # requestContext.authorizer.jwt.claims, as AWS renders them (strings), into the runtime's
    # HashMap<String, String>.
    assert claims["cognito:username"] == "lam" and claims["email"] == "lam@example.com"
    assert claims["aud"] == st["client_id"] and claims["token_use"] == "id"
    assert claims["iss"] == f"{st['srv'].url}/{st['pool_id']}"
    assert claims["email_verified"] == "true" and claims["exp"].isdigit()
    assert ev["requestContext"]["routeKey"] == "ANY /v2/{proxy+}"
    assert ev["requestContext"]["authorizer"]["jwt"]["claims"] == claims

    access = st["tokens"]["AccessToken"]
    r = call(st, "GET", "/v2/me", headers={"Authorization": access})
    assert r.status_code == 200, explain(st, r)
    claims = r.json()["claims"]
    assert claims["client_id"] == st["client_id"] and claims["token_use"] == "access"
    assert claims["username"] == "lam" and "aws.cognito.signin.user.admin" in claims["scope"]


def test_payload_v1_parsed_by_lambda_http_and_its_response_served(stack):
    st = stack
    r = call(st, "POST", "/v1/items/42?x=1&x=2", data="plain text", headers={"Content-Type": "text/plain"})
    assert r.status_code == 401, explain(st, r)

    r = call(st, "POST", "/v1/items/42?x=1&x=2&status=202", data="plain text",
             headers={"Content-Type": "text/plain", "Authorization": st["tokens"]["IdToken"], "Cookie": "k=v"})
    assert r.status_code == 202, explain(st, r)
    # Payload 1.0 responses carry every header in multiValueHeaders, cookies included.
    assert r.headers["x-echo-origin"] == "apigw_rest"
    assert r.raw.headers.getlist("x-multi") == ["a", "b"]
    assert cookies_of(r) == ["echo=1; Path=/", "flavor=oat; HttpOnly"]
    ev = r.json()
    assert ev["origin"] == "apigw_rest" and ev["method"] == "POST" and ev["functionName"] == "echo"
    assert ev["rawPath"] == "/v1/items/42"
    assert ev["pathParameters"] == {"id": ["42"]}
    assert ev["query"] == {"status": ["202"], "x": ["1", "2"]}
    assert ev["stageVariables"] == {"flavor": ["oat"]}
    assert ev["body"] == "plain text"
    assert ev["headers"]["cookie"] == ["k=v"] and ev["headers"]["content-type"] == ["text/plain"]
    assert ev["headers"]["x-forwarded-for"] == ["127.0.0.1"]
    # (the runtime rebuilds a 1.0 query string from a hash map: its order is not kept)
    assert ev["uri"].startswith(f"http://{st['api_id']}.execute-api.localhost/v1/items/42?")
    claims = ev["claims"]
    assert claims["cognito:username"] == "lam" and claims["aud"] == st["client_id"]
    rc = ev["requestContext"]
    assert rc["httpMethod"] == "POST" and rc["resourcePath"] == "/v1/items/{id}"
    assert rc["path"] == "/v1/items/42" and rc["stage"] == "$default"
    assert rc["requestId"] == r.headers["apigw-requestid"] and rc["apiId"] == st["api_id"]
    assert rc["identity"]["sourceIp"] == "127.0.0.1"

    r = call(st, "GET", "/v1/open")
    assert r.status_code == 200, explain(st, r)
    ev = r.json()
    assert ev["origin"] == "apigw_rest" and ev["claims"] is None and ev["pathParameters"] == {}


def test_binary_bodies_both_ways(stack):
    st = stack
    data = bytes([0, 255, 254, 128]) + b" gatehouse " + bytes(range(0, 256, 7))
    auth = {"Authorization": st["tokens"]["IdToken"]}
    for path in ("/v2/echo", "/v1/items/echo"):
        # Not UTF-8: sent base64-encoded (isBase64Encoded), decoded by the runtime.
        r = call(st, "PUT", path, data=data, headers={**auth, "Content-Type": "application/octet-stream"})
        assert r.status_code == 200, explain(st, r)
        assert base64.b64decode(r.json()["bodyBase64"]) == data, path
    for path in ("/v2/binary", "/v1/items/binary"):
        # The runtime answers application/octet-stream base64-encoded; the client gets the bytes.
        r = call(st, "POST", path, data=data, headers={**auth, "Content-Type": "application/octet-stream"})
        assert r.status_code == 200, explain(st, r)
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.content == data, path


def test_function_errors_are_a_500(stack):
    st = stack
    for path in ("/v2/fail", "/v1/items/fail"):
        r = call(st, "GET", path, headers={"Authorization": st["tokens"]["IdToken"]})
        assert r.status_code == 500 and r.json() == {"message": "Internal Server Error"}, explain(st, r)
    # The function keeps serving after an error.
    r = call(st, "GET", "/hello/again")
    assert r.status_code == 200 and r.json()["pathParameters"] == {"name": ["again"]}, explain(st, r)


def test_a_named_stage(stack):
    """HTTP APIs keep the stage in rawPath / path; lambda_http must not add it a second time."""
    st = stack
    host = f"http://{st['api_id']}.execute-api.localhost"
    r = call(st, "GET", "/prod/hello/x", wait_for=200)
    assert r.status_code == 200, explain(st, r)
    ev = r.json()
    assert ev["requestContext"]["stage"] == "prod" and ev["stageVariables"] == {"flavor": ["rye"]}
    assert ev["rawPath"] == "/prod/hello/x" and ev["uri"] == f"{host}/prod/hello/x"
    assert ev["requestContext"]["routeKey"] == "GET /hello/{name}"
    r = call(st, "GET", "/prod/v1/open", wait_for=200)
    assert r.status_code == 200, explain(st, r)
    ev = r.json()
    assert ev["origin"] == "apigw_rest" and ev["uri"] == f"{host}/prod/v1/open"
    assert ev["requestContext"]["path"] == "/prod/v1/open" and ev["requestContext"]["resourcePath"] == "/v1/open"
