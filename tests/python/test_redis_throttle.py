"""Shared rate limits (issue 7, item 4): two real gatehouse nodes, each with a store of its own,
serve the same API (declared with a fixed id through --config) and count its stage throttle in
one Redis. Hammered alternately, both nodes together accept one budget, not two. With Redis
stopped, each node falls back to its own limits (or answers 503 with --redis-fail-mode closed),
says so once in its log and in /metrics; with Redis back, the budget is shared again.

The module starts its own redis-server on a free port (Debian's redis-server package, which
scripts/test installs).
"""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer

import pytest
import requests

from conftest import free_port
from test_gateway import Echo

API_ID = "rlshared01"
HOST = f"{API_ID}.execute-api.localhost"
# Burst 20, then 1 a second: a burst of 60 requests gets ~20 through per budget.
BURST = 20
HAMMER = 60
DOWN_LINE = "Redis is unreachable"
BACK_LINE = "Redis is reachable again"
# Generous, so a busy test machine does not send requests to the fail mode: what is tested is
# sharing and a stopped Redis (which refuses at once), not a slow one.
TIMEOUT = ["--redis-timeout-ms", "500"]


class RedisServer:
    """A throwaway redis-server on a free port that a test may stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="gatehouse-redis-")
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        out = ""
        deadline = time.time() + 10
        while time.time() < deadline:
            out = subprocess.run(["redis-cli", "-p", str(self.port), "PING"], capture_output=True,
                                 text=True).stdout
            if out.strip() == "PONG":
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {out}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                              text=True, check=True).stdout


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        assert not os.environ.get("GATEHOUSE_TEST_REQUIRE_REDIS"), "redis-server is not installed"
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    r = RedisServer().start()
    yield r
    r.stop()
    shutil.rmtree(r.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def config(tmp_path, backend):
    path = tmp_path / "gatehouse.toml"
    path.write_text(f"""\
version = 1

[[apis]]
name = "shared-limits"
apiId = "{API_ID}"

[[apis.integrations]]
name = "backend"
integrationType = "HTTP_PROXY"
integrationUri = "{backend}/{{proxy}}"
integrationMethod = "ANY"
payloadFormatVersion = "1.0"

[[apis.routes]]
routeKey = "GET /{{proxy+}}"
integration = "backend"

[[apis.stages]]
stageName = "$default"
autoDeploy = true
defaultRouteSettings = {{ throttlingRateLimit = 1, throttlingBurstLimit = {BURST} }}
""")
    return path


def hammer(nodes, n=HAMMER):
    """`n` requests, node after node; the statuses, and a 429's and a 503's body."""
    sessions = [requests.Session() for _ in nodes]
    statuses, bodies = [], {}
    for i in range(n):
        node, s = nodes[i % len(nodes)], sessions[i % len(nodes)]
        r = s.get(f"{node.gateway_url}/pets/{i}", headers={"Host": HOST}, timeout=10)
        statuses.append(r.status_code)
        bodies.setdefault(r.status_code, r.json())
    for s in sessions:
        s.close()
    return statuses, bodies


def metric(node, name):
    text = requests.get(node.url + "/metrics", timeout=5).text
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics:\n{text}"
    return float(m.group(1))


def log_lines(node, needle):
    return [line for line in node.logs().splitlines() if needle in line]


def wait_for(pred, what, timeout=10):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def served(node):
    r = requests.get(f"{node.gateway_url}/pets/probe", headers={"Host": HOST}, timeout=10)
    return r.status_code


def test_two_nodes_share_one_budget_and_fall_back_when_redis_is_down(
        fresh_server, redis_server, backend, tmp_path):
    path = config(tmp_path, backend)
    args = ["--config", str(path), "--redis-url", redis_server.url, *TIMEOUT]
    a = fresh_server(extra_args=args)
    b = fresh_server(extra_args=args)
    for node in (a, b):
        wait_for(lambda: metric(node, "gatehouse_redis_limits_up") == 1, "limits to be shared")

    # One budget for both nodes: 20 of the burst (+ at most a few refilled), not 40.
    statuses, bodies = hammer([a, b])
    accepted = statuses.count(200)
    assert BURST <= accepted <= BURST + 4, statuses
    assert statuses.count(429) == HAMMER - accepted, statuses
    assert bodies[429] == {"message": "Too Many Requests"}
    # Each node accepted some of them: the budget really is shared, not one node's.
    assert statuses[0::2].count(200) >= 5 and statuses[1::2].count(200) >= 5, statuses
    # One key for the route, namespaced, expiring once the bucket would be full again.
    keys = redis_server.cli("--scan", "--pattern", "gatehouse:rl:*").splitlines()
    route_key = f"gatehouse:rl:{API_ID}:$default:GET /{{proxy+}}"
    assert keys == [route_key]
    assert 0 < int(redis_server.cli("PTTL", route_key)) <= (BURST + 1) * 1000

    # A third node that fails closed, started while Redis is down.
    redis_server.stop()
    c = fresh_server(extra_args=["--config", str(path), "--redis-url", redis_server.url, *TIMEOUT,
                                 "--redis-fail-mode", "closed"])
    assert len(log_lines(c, "Redis is unreachable at start-up")) == 1
    assert metric(c, "gatehouse_redis_limits_up") == 0
    r = requests.get(f"{c.gateway_url}/pets/1", headers={"Host": HOST}, timeout=10)
    assert r.status_code == 503 and r.json() == {"message": "Service Unavailable"}, r.text

    # Redis down: each node decides with its own buckets (untouched so far: a burst each).
    statuses, _ = hammer([a, b])
    accepted = statuses.count(200)
    assert 2 * BURST <= accepted <= 2 * BURST + 6, statuses
    assert 429 in statuses and 503 not in statuses, statuses
    for node in (a, b):
        assert metric(node, "gatehouse_redis_limits_up") == 0
        assert metric(node, 'gatehouse_redis_limits_fallback_total{mode="local"}') >= HAMMER / 2
    # More requests while down are still decided locally, and logged once, not per request.
    hammer([a, b], 20)
    for node in (a, b):
        assert len(log_lines(node, DOWN_LINE)) == 1, log_lines(node, DOWN_LINE)
    assert metric(c, 'gatehouse_redis_limits_fallback_total{mode="closed"}') >= 1

    # Redis back (empty): shared again within a second or two, logged once.
    redis_server.start()
    for node in (a, b, c):
        wait_for(lambda: metric(node, "gatehouse_redis_limits_up") == 1, "Redis to be seen again")
        assert len(log_lines(node, BACK_LINE)) == 1, node.logs()[-2000:]
    assert served(c) == 200
    statuses, _ = hammer([a, b, c])
    accepted = statuses.count(200) + 1  # c's probe above took one too
    assert BURST <= accepted <= BURST + 4, statuses
    for node in (a, b):
        assert len(log_lines(node, DOWN_LINE)) == 1


def test_rest_method_settings_are_counted_in_redis_and_fail_closed(fresh_server, redis_server):
    """A REST API's method-settings throttle and a usage plan's throttle go through Redis too:
    emptying Redis gives the budget back (no local bucket is involved while it answers), while
    the plan's quota still counts; with Redis gone a closed node refuses throttled methods with
    REST's 503 and still serves unthrottled ones."""
    node = fresh_server(extra_args=["--redis-url", redis_server.url, *TIMEOUT, "--redis-fail-mode", "closed"])
    apigw = node.client("apigateway")
    api_id = apigw.create_rest_api(name="rl-rest")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    for part in ("limited", "free", "keyed"):
        rid = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=part)["id"]
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod="GET", authorizationType="NONE",
                         apiKeyRequired=part == "keyed")
        apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod="GET", type="MOCK",
                              requestTemplates={"application/json": '{"statusCode": 200}'})
        apigw.put_method_response(restApiId=api_id, resourceId=rid, httpMethod="GET", statusCode="200")
        apigw.put_integration_response(restApiId=api_id, resourceId=rid, httpMethod="GET",
                                       statusCode="200",
                                       responseTemplates={"application/json": '{"ok": true}'})
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    apigw.update_stage(restApiId=api_id, stageName="v1", patchOperations=[
        {"op": "replace", "path": "/~1limited/GET/throttling/rateLimit", "value": "0.001"},
        {"op": "replace", "path": "/~1limited/GET/throttling/burstLimit", "value": "3"},
    ])
    host = {"Host": f"{api_id}.execute-api.localhost"}

    def get(path, **headers):
        return requests.get(f"{node.gateway_url}/v1/{path}", headers={**host, **headers}, timeout=10)

    wait_for(lambda: get("limited").status_code == 429, "the method's limit to be served")
    route_key = f"gatehouse:rl:{api_id}:v1:GET /limited"
    assert redis_server.cli("--scan", "--pattern", f"gatehouse:rl:{api_id}:*").splitlines() == [route_key]
    r = get("limited")
    assert (r.status_code, r.json(), r.headers["x-amzn-errortype"]) == \
        (429, {"message": "Too Many Requests"}, "TooManyRequestsException")
    # Redis holds the budget: emptied, it is whole again (3 requests).
    redis_server.cli("FLUSHALL")
    assert [get("limited").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert get("free").status_code == 200

    # A usage plan's throttle (burst 2) is a budget in Redis too; its quota (4 a day) is not.
    value = "rl-key-0123456789abcdefghij"
    key = apigw.create_api_key(name="rl", enabled=True, value=value)
    plan = apigw.create_usage_plan(name="rl", apiStages=[{"apiId": api_id, "stage": "v1"}],
                                   throttle={"burstLimit": 2, "rateLimit": 0.001},
                                   quota={"limit": 4, "period": "DAY"})
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    wait_for(lambda: get("keyed", **{"x-api-key": value}).status_code != 403, "the key to be served")
    r = get("keyed", **{"x-api-key": value})
    assert r.status_code == 200, r.text
    r = get("keyed", **{"x-api-key": value})
    assert (r.status_code, r.json()) == (429, {"message": "Too Many Requests"})
    plan_key = f"gatehouse:rl:{api_id}:v1:plan:{plan['id']}:key:{key['id']}"
    assert int(redis_server.cli("PTTL", plan_key)) > 0
    redis_server.cli("FLUSHALL")
    assert [get("keyed", **{"x-api-key": value}).status_code for _ in range(3)] == [200, 200, 429]
    redis_server.cli("FLUSHALL")
    r = get("keyed", **{"x-api-key": value})
    assert (r.status_code, r.json()) == (429, {"message": "Limit Exceeded"})

    redis_server.stop()
    r = get("limited")
    assert (r.status_code, r.json(), r.headers["x-amzn-errortype"]) == \
        (503, {"message": "Service Unavailable"}, "ServiceUnavailableException")
    assert get("free").status_code == 200
    r = get("keyed", **{"x-api-key": value})
    assert (r.status_code, r.json()) == (503, {"message": "Service Unavailable"})
    assert metric(node, 'gatehouse_redis_limits_fallback_total{mode="closed"}') >= 2
    assert len(log_lines(node, DOWN_LINE)) == 1
