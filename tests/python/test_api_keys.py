"""API keys and usage plans (API Gateway v1), end to end: keys, plans and plan keys made with
the aws CLI and boto3's `apigateway` client, then REST methods with `apiKeyRequired` called
through the gateway listener (`Host: {restApiId}.execute-api.localhost`, `/{stage}/…`) with
no key, a wrong key, a disabled key and a good one; a plan's throttle (429 Too Many
Requests) and quota (429 Limit Exceeded), GetUsage reporting the calls, and counts that
survive a restart."""
import datetime
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import Server

FORBIDDEN = {"message": "Forbidden"}


class Lambda(BaseHTTPRequestHandler):
    """The Lambda Invoke API: answers with the event it got."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["content-length"])))
        data = json.dumps({"statusCode": 200, "body": json.dumps(event)}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    lam = ThreadingHTTPServer(("127.0.0.1", 0), Lambda)
    threading.Thread(target=lam.serve_forever, daemon=True).start()
    srv = Server(tmp_path_factory.mktemp("keys") / "data",
                 extra_env={"AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{lam.server_address[1]}"}).start()
    yield srv
    srv.stop()
    lam.shutdown()


def call(server, api_id, path, key=None, wait_for=None):
    """One GET through the gateway; with `wait_for`, retried until that status (changes
    reach the data plane asynchronously, within milliseconds)."""
    headers = {"Host": f"{api_id}.execute-api.localhost"}
    if key is not None:
        headers["x-api-key"] = key
    deadline = time.time() + 5
    while True:
        r = requests.get(server.gateway_url + path, headers=headers, timeout=10)
        if wait_for is None or r.status_code == wait_for or time.time() > deadline:
            return r
        time.sleep(0.02)


def keyed_api(server, stage="prod"):
    """A REST API with MOCK `GET /pets` and AWS_PROXY `GET /echo`, both `apiKeyRequired`, and
    MOCK `GET /open` without; deployed to `stage`."""
    apigw = server.client("apigateway")
    api_id = apigw.create_rest_api(name=f"keys-{uuid.uuid4().hex[:6]}")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    for part, keyed in (("pets", True), ("open", False), ("echo", True)):
        rid = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=part)["id"]
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="GET", authorizationType="NONE",
                         apiKeyRequired=keyed)
        if part == "echo":
            apigw.put_integration(
                restApiId=api_id, resourceId=rid, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
                uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                    "arn:aws:lambda:us-east-1:000000000000:function:echo/invocations")
            continue
        apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")
        apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200",
                                       responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api_id, stageName=stage)
    return api_id


def today():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")


def test_keys_and_plans_with_the_aws_cli_gate_the_method(env):
    server = env
    api_id = keyed_api(server)
    key = server.aws("apigateway", "create-api-key", "--name", "partner", "--enabled",
                     "--customer-id", "acme")
    assert key["enabled"] is True and len(key["value"]) >= 20 and key["customerId"] == "acme"
    plan = server.aws("apigateway", "create-usage-plan", "--name", "basic",
                      "--api-stages", f"apiId={api_id},stage=prod",
                      "--throttle", "burstLimit=100,rateLimit=50",
                      "--quota", "limit=1000,period=MONTH")
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "prod"}]
    assert plan["quota"] == {"limit": 1000, "offset": 0, "period": "MONTH"}
    pk = server.aws("apigateway", "create-usage-plan-key", "--usage-plan-id", plan["id"],
                    "--key-id", key["id"], "--key-type", "API_KEY")
    assert pk == {"id": key["id"], "type": "API_KEY", "value": key["value"], "name": "partner"}

    # The method without apiKeyRequired is open; the keyed one wants a good key.
    assert call(server, api_id, "/prod/open", wait_for=200).status_code == 200
    r = call(server, api_id, "/prod/pets", key["value"], wait_for=200)
    assert (r.status_code, r.json()) == (200, {"ok": True})
    for bad in (None, "", "x" * 40, key["value"] + "x"):
        r = call(server, api_id, "/prod/pets", bad)
        assert (r.status_code, r.json()) == (403, FORBIDDEN), bad
        assert r.headers["x-amzn-errortype"] == "ForbiddenException"

    # A Lambda proxy integration sees the key in requestContext.identity.
    event = json.loads(call(server, api_id, "/prod/echo", key["value"]).text)
    assert event["requestContext"]["identity"]["apiKey"] == key["value"]
    assert event["requestContext"]["identity"]["apiKeyId"] == key["id"]

    # Disabled: refused; enabled again: served.
    server.aws("apigateway", "update-api-key", "--api-key", key["id"],
               "--patch-operations", "op=replace,path=/enabled,value=false")
    assert call(server, api_id, "/prod/pets", key["value"], wait_for=403).json() == FORBIDDEN
    server.aws("apigateway", "update-api-key", "--api-key", key["id"],
               "--patch-operations", "op=replace,path=/enabled,value=true")
    assert call(server, api_id, "/prod/pets", key["value"], wait_for=200).status_code == 200

    # A key in no plan for this stage is refused.
    loose = server.aws("apigateway", "create-api-key", "--name", "loose", "--enabled")
    assert call(server, api_id, "/prod/pets", loose["value"]).status_code == 403
    # Out of the plan: refused.
    server.aws("apigateway", "delete-usage-plan-key", "--usage-plan-id", plan["id"], "--key-id", key["id"])
    assert call(server, api_id, "/prod/pets", key["value"], wait_for=403).json() == FORBIDDEN

    # GetUsagePlans by key, GetApiKeys with values and filters.
    plans = server.aws("apigateway", "get-usage-plans", "--key-id", loose["id"])
    assert plans["items"] == []
    keys = server.aws("apigateway", "get-api-keys", "--name-query", "part", "--include-values")["items"]
    assert [(k["id"], k["value"]) for k in keys] == [(key["id"], key["value"])]
    assert "value" not in server.aws("apigateway", "get-api-key", "--api-key", key["id"])
    got = server.aws("apigateway", "get-api-key", "--api-key", key["id"], "--include-value")
    assert got["value"] == key["value"]


def test_throttle_quota_and_usage_with_boto3(env):
    server = env
    apigw = server.client("apigateway")
    api_id = keyed_api(server, stage="v1")
    value = "test-key-" + uuid.uuid4().hex
    key = apigw.create_api_key(name="metered", enabled=True, value=value)
    assert key["value"] == value
    plan = apigw.create_usage_plan(
        name="metered", apiStages=[{"apiId": api_id, "stage": "v1"}],
        throttle={"burstLimit": 2, "rateLimit": 0.01},
        quota={"limit": 5, "period": "DAY"},
    )
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")

    # Burst of two, then the plan's throttle.
    assert call(server, api_id, "/v1/pets", value, wait_for=200).status_code == 200
    assert call(server, api_id, "/v1/pets", value).status_code == 200
    r = call(server, api_id, "/v1/pets", value)
    assert (r.status_code, r.json()) == (429, {"message": "Too Many Requests"})

    # Lift the throttle; the quota of five a day allows three more requests.
    apigw.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "replace", "path": "/throttle/rateLimit", "value": "1000"},
        {"op": "replace", "path": "/throttle/burstLimit", "value": "1000"},
    ])
    assert call(server, api_id, "/v1/pets", value, wait_for=200).status_code == 200
    assert call(server, api_id, "/v1/pets", value).status_code == 200
    assert call(server, api_id, "/v1/pets", value).status_code == 200
    r = call(server, api_id, "/v1/pets", value)
    assert (r.status_code, r.json()) == (429, {"message": "Limit Exceeded"})
    assert r.headers["x-amzn-errortype"] == "LimitExceededException"

    # GetUsage reports the five counted requests (the throttled one does not count).
    deadline = time.time() + 5
    while True:
        usage = apigw.get_usage(usagePlanId=plan["id"], startDate=today(), endDate=today())
        if usage["items"].get(key["id"]) == [[5, 0]] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert usage["items"] == {key["id"]: [[5, 0]]}
    assert usage["startDate"] == today()

    # UpdateUsage gives two requests back.
    apigw.update_usage(usagePlanId=plan["id"], keyId=key["id"], patchOperations=[
        {"op": "replace", "path": "/remaining", "value": "2"}])
    assert call(server, api_id, "/v1/pets", value, wait_for=200).status_code == 200
    assert call(server, api_id, "/v1/pets", value).status_code == 200
    assert call(server, api_id, "/v1/pets", value).status_code == 429

    # The counts survive a restart: still over quota.
    time.sleep(1.5)
    server.restart()
    r = call(server, api_id, "/v1/pets", value)
    assert (r.status_code, r.json()) == (429, {"message": "Limit Exceeded"})
    usage = apigw.get_usage(usagePlanId=plan["id"], keyId=key["id"], startDate=today(), endDate=today())
    assert usage["items"][key["id"]][-1] == [5, 0]


def test_per_method_throttle_with_the_aws_cli(env):
    server = env
    api_id = keyed_api(server, stage="beta")
    key = server.aws("apigateway", "create-api-key", "--name", "m", "--enabled")
    plan = server.aws(
        "apigateway", "create-usage-plan", "--name", "per-method",
        "--api-stages", json.dumps([{"apiId": api_id, "stage": "beta",
                                     "throttle": {"/pets/GET": {"burstLimit": 1, "rateLimit": 0.01}}}]),
    )
    assert plan["apiStages"][0]["throttle"] == {"/pets/GET": {"burstLimit": 1, "rateLimit": 0.01}}
    server.aws("apigateway", "create-usage-plan-key", "--usage-plan-id", plan["id"],
               "--key-id", key["id"], "--key-type", "API_KEY")
    assert call(server, api_id, "/beta/pets", key["value"], wait_for=200).status_code == 200
    assert call(server, api_id, "/beta/pets", key["value"]).status_code == 429
    # Another method of the same stage has no throttle of its own.
    assert call(server, api_id, "/beta/echo", key["value"]).status_code == 200


def test_aws_errors(env):
    server = env
    apigw = server.client("apigateway")
    api_id = keyed_api(server, stage="prod")

    def error(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    assert error(apigw.create_api_key, name="x", value="short") == (
        "BadRequestException", "API Key value should be at least 20 characters")
    assert error(apigw.create_api_key, name="x", value="v" * 129) == (
        "BadRequestException", "API Key value exceeds maximum size of 128 characters")
    value = "dup-" + uuid.uuid4().hex
    apigw.create_api_key(name="a", value=value)
    assert error(apigw.create_api_key, name="b", value=value)[0] == "ConflictException"
    assert error(apigw.get_api_key, apiKey="nope")[0] == "NotFoundException"
    assert error(apigw.get_usage_plan, usagePlanId="nope")[0] == "NotFoundException"
    assert error(apigw.create_usage_plan, name="p", apiStages=[{"apiId": api_id, "stage": "missing"}]) == (
        "BadRequestException", f"Invalid API Stage {{api: {api_id}, stage: missing}} specified for usageplan p")
    assert error(apigw.create_usage_plan, name="p", quota={"limit": 5, "period": "YEAR"})[0] \
        == "BadRequestException"

    # One plan per API stage for a key.
    key = apigw.create_api_key(name="twice", enabled=True)
    p1 = apigw.create_usage_plan(name="p1", apiStages=[{"apiId": api_id, "stage": "prod"}])
    p2 = apigw.create_usage_plan(name="p2", apiStages=[{"apiId": api_id, "stage": "prod"}])
    apigw.create_usage_plan_key(usagePlanId=p1["id"], keyId=key["id"], keyType="API_KEY")
    assert error(apigw.create_usage_plan_key, usagePlanId=p2["id"], keyId=key["id"], keyType="API_KEY")[0] \
        == "ConflictException"
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=p1["id"])["items"]] == [key["id"]]
    assert error(apigw.get_usage, usagePlanId=p1["id"], startDate="2026-13-40", endDate=today())[0] \
        == "BadRequestException"
    code, message = error(apigw.delete_usage_plan, usagePlanId=p2["id"])
    assert (code, message) == ("BadRequestException", f"Cannot delete Usage Plan {p2['id']} because there are "
                                                      f"API Stages associated with it, including {api_id}:prod")
    apigw.update_usage_plan(usagePlanId=p2["id"], patchOperations=[
        {"op": "remove", "path": "/apiStages", "value": f"{api_id}:prod"}])
    apigw.delete_usage_plan(usagePlanId=p2["id"])
    apigw.delete_api_key(apiKey=key["id"])
    assert error(apigw.get_api_key, apiKey=key["id"])[0] == "NotFoundException"


def test_values_are_sealed_at_rest_and_never_logged(env):
    server = env
    apigw = server.client("apigateway")
    value = "secret-" + uuid.uuid4().hex
    key = apigw.create_api_key(name="sealed", enabled=True, value=value)
    assert apigw.get_api_key(apiKey=key["id"], includeValue=True)["value"] == value
    api_id = keyed_api(server, stage="s")
    plan = apigw.create_usage_plan(name="sealed", apiStages=[{"apiId": api_id, "stage": "s"}])
    assert apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")["value"] == value
    assert call(server, api_id, "/s/pets", value, wait_for=200).status_code == 200
    # Neither the store, nor any file in the data dir, nor the log holds the value in the clear.
    assert value.encode() not in server.raw_store_bytes()
    for f in list(server.data_dir.rglob("*")) + [server.log_path]:
        if f.is_file():
            assert value.encode() not in f.read_bytes(), f


def test_tags_of_keys_and_plans(env):
    server = env
    apigw = server.client("apigateway")
    key = apigw.create_api_key(name="tagged", tags={"team": "a"})
    assert key["tags"] == {"team": "a"}
    plan = apigw.create_usage_plan(name="tagged")
    for arn, first in ((f"arn:aws:apigateway:us-east-1::/apikeys/{key['id']}", {"team": "a"}),
                       (f"arn:aws:apigateway:us-east-1::/usageplans/{plan['id']}", {})):
        assert apigw.get_tags(resourceArn=arn)["tags"] == first
        apigw.tag_resource(resourceArn=arn, tags={"env": "dev"})
        assert apigw.get_tags(resourceArn=arn)["tags"] == {**first, "env": "dev"}
        apigw.untag_resource(resourceArn=arn, tagKeys=["env"])
        assert apigw.get_tags(resourceArn=arn)["tags"] == first


def test_import_api_keys_from_csv(env):
    server = env
    apigw = server.client("apigateway")
    plan = apigw.create_usage_plan(name="imported")
    v1, v2 = "imported-" + uuid.uuid4().hex, "imported-" + uuid.uuid4().hex
    csv = f"Name,Key,Description,Enabled,UsagePlanIds\nimp1,{v1},first,true,{plan['id']}\nimp2,{v2},,false,\n"
    out = apigw.import_api_keys(body=csv.encode(), format="csv")
    assert len(out["ids"]) == 2
    keys = {k["name"]: k for k in apigw.get_api_keys(nameQuery="imp", includeValues=True)["items"]}
    assert (keys["imp1"]["value"], keys["imp1"]["enabled"], keys["imp1"]["description"]) == (v1, True, "first")
    assert (keys["imp2"]["value"], keys["imp2"]["enabled"]) == (v2, False)
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [keys["imp1"]["id"]]
    # A value taken already: the whole file is refused.
    with pytest.raises(ClientError) as e:
        apigw.import_api_keys(body=f"key,name\n{v1},again\n".encode(), format="csv")
    assert e.value.response["Error"]["Code"] == "ConflictException"


def test_keys_from_an_authorizer_are_not_taken_from_the_header(env):
    server = env
    apigw = server.client("apigateway")
    api_id = keyed_api(server, stage="auth")
    key = apigw.create_api_key(name="authz", enabled=True)
    plan = apigw.create_usage_plan(name="authz", apiStages=[{"apiId": api_id, "stage": "auth"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert call(server, api_id, "/auth/pets", key["value"], wait_for=200).status_code == 200
    apigw.update_rest_api(restApiId=api_id, patchOperations=[
        {"op": "replace", "path": "/apiKeySource", "value": "AUTHORIZER"}])
    apigw.create_deployment(restApiId=api_id, stageName="auth")
    # No Lambda authorizer supplies a key here: refused, as AWS refuses a missing one.
    r = call(server, api_id, "/auth/pets", key["value"], wait_for=403)
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
