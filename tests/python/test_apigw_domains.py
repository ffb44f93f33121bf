"""Custom domain names and API mappings end to end: configured with boto3 / the aws CLI
(apigatewayv2 /v2/domainnames…), then called on the gateway listener with the custom domain in
the Host header, as a DNS record (or /etc/hosts) pointing the name at Gatehouse would send it.
Also `disableExecuteApiEndpoint`: the `{apiId}.execute-api` host refuses, custom domains serve."""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import pytest
import requests

from test_gateway import LambdaDouble


class Echo(BaseHTTPRequestHandler):
    """Answers every request with its path and headers, as JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        out = json.dumps(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def backend():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture
def apigw(server):
    return server.client("apigatewayv2")


def unique_domain(prefix="api"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}.example.test"


def error(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"]["Message"]


def get(server, host, path, wait_for=None, **kw):
    """One request through the gateway listener with this Host. With `wait_for`, retries until
    the status is that (changes reach the data plane asynchronously, within milliseconds)."""
    headers = {"Host": host, **kw.pop("headers", {})}
    deadline = time.time() + 5
    while True:
        r = requests.get(server.gateway_url + path, headers=headers, timeout=10, **kw)
        if wait_for is None or r.status_code == wait_for or time.time() > deadline:
            return r
        time.sleep(0.02)


def make_api(apigw, backend, name, stages=("$default",)):
    """An API whose every request goes to `{backend}/{name}/{proxy}`, telling the backend the
    domain, stage and route it was served under."""
    api_id = apigw.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="ANY",
        IntegrationUri=f"{backend}/{name}/{{proxy}}",
        PayloadFormatVersion="1.0",
        RequestParameters={
            "overwrite:header.x-domain": "$context.domainName",
            "overwrite:header.x-prefix": "$context.domainPrefix",
            "overwrite:header.x-stage": "$context.stage",
            "overwrite:header.x-route": "$context.routeKey",
        },
    )["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}", Target=f"integrations/{integ}")
    apigw.create_route(ApiId=api_id, RouteKey="GET /", Target=f"integrations/{integ}")
    for stage in stages:
        apigw.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    return api_id


def test_domain_names_create_get_list_update_delete(server, apigw):
    name = unique_domain()
    d = apigw.create_domain_name(
        DomainName=name,
        DomainNameConfigurations=[{
            "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            "EndpointType": "REGIONAL",
            "SecurityPolicy": "TLS_1_2",
        }],
        MutualTlsAuthentication={"TruststoreUri": "s3://bucket/truststore.pem", "TruststoreVersion": "1"},
        Tags={"team": "edge"},
    )
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert d["DomainName"] == name
    assert d["DomainNameArn"] == f"arn:aws:apigateway:us-east-1::/domainnames/{name}"
    assert d["ApiMappingSelectionExpression"] == "$request.basepath"
    (c,) = d["DomainNameConfigurations"]
    assert c["ApiGatewayDomainName"].startswith("d-")
    assert c["HostedZoneId"] == "Z1UJRXOUMOOFQ8"  # AWS's regional zone of us-east-1
    assert c["DomainNameStatus"] == "AVAILABLE"
    assert c["EndpointType"] == "REGIONAL" and c["SecurityPolicy"] == "TLS_1_2"
    assert c["CertificateArn"].endswith("certificate/abc")
    assert d["MutualTlsAuthentication"] == {"TruststoreUri": "s3://bucket/truststore.pem", "TruststoreVersion": "1"}
    assert d["Tags"] == {"team": "edge"}

    got = apigw.get_domain_name(DomainName=name)
    assert got["DomainNameConfigurations"] == d["DomainNameConfigurations"]
    # Host names are case-insensitive.
    assert apigw.get_domain_name(DomainName=name.upper())["DomainName"] == name

    # Paging with nextToken walks every domain name once.
    other = unique_domain("other")
    apigw.create_domain_name(DomainName=other)
    seen, token = [], None
    while True:
        page = apigw.get_domain_names(MaxResults="1", **({"NextToken": token} if token else {}))
        assert len(page["Items"]) <= 1
        seen += [i["DomainName"] for i in page["Items"]]
        token = page.get("NextToken")
        if not token:
            break
    assert name in seen and other in seen and len(seen) == len(set(seen))

    # An update replaces the configuration but keeps the DNS target.
    u = apigw.update_domain_name(
        DomainName=name,
        DomainNameConfigurations=[{"EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2",
                                   "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/new"}],
    )
    assert u["DomainNameConfigurations"][0]["ApiGatewayDomainName"] == c["ApiGatewayDomainName"]
    assert u["DomainNameConfigurations"][0]["CertificateArn"].endswith("certificate/new")

    arn = d["DomainNameArn"]
    apigw.tag_resource(ResourceArn=arn, Tags={"env": "test"})
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"team": "edge", "env": "test"}
    apigw.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"env": "test"}

    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_domain_name(DomainName=name)
    assert error(e)[:2] == (409, "ConflictException")

    apigw.delete_domain_name(DomainName=name)
    apigw.delete_domain_name(DomainName=other)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_domain_name(DomainName=name)
    assert error(e) == (404, "NotFoundException", "Invalid domain name identifier specified")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_domain_name(DomainName=name)
    assert error(e)[:2] == (404, "NotFoundException")


def test_domain_name_input_errors(server, apigw):
    for bad in ["not a host", "localhost", "-x.example.test", "a..example.test"]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.create_domain_name(DomainName=bad)
        assert error(e)[:2] == (400, "BadRequestException"), bad
    for config in [{"EndpointType": "PRIVATE"}, {"SecurityPolicy": "TLS_1_3"}]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.create_domain_name(DomainName=unique_domain(), DomainNameConfigurations=[config])
        assert error(e)[:2] == (400, "BadRequestException"), config
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_domain_name(DomainName=unique_domain(),
                                 MutualTlsAuthentication={"TruststoreUri": "https://not-s3/x.pem"})
    assert error(e)[:2] == (400, "BadRequestException")
    # Unsigned calls are refused, as every management call.
    r = requests.get(server.url + "/v2/domainnames", timeout=5)
    assert r.status_code == 403 and r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_api_mappings_create_get_list_update_delete(server, apigw, backend):
    api_id = make_api(apigw, backend, "mapped", stages=("$default", "prod"))
    name = unique_domain()
    apigw.create_domain_name(DomainName=name)

    root = apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="$default")
    assert root["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert root["ApiId"] == api_id and root["Stage"] == "$default" and root["ApiMappingId"]
    assert root.get("ApiMappingKey", "") == ""
    orders = apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="prod", ApiMappingKey="v1/orders")
    assert orders["ApiMappingKey"] == "v1/orders"

    got = apigw.get_api_mapping(DomainName=name, ApiMappingId=orders["ApiMappingId"])
    assert {k: got[k] for k in ("ApiId", "ApiMappingId", "ApiMappingKey", "Stage")} == {
        k: orders[k] for k in ("ApiId", "ApiMappingId", "ApiMappingKey", "Stage")}
    items = apigw.get_api_mappings(DomainName=name)["Items"]
    assert sorted(i["ApiMappingId"] for i in items) == sorted([root["ApiMappingId"], orders["ApiMappingId"]])
    page = apigw.get_api_mappings(DomainName=name, MaxResults="1")
    assert len(page["Items"]) == 1 and page["NextToken"]
    rest = apigw.get_api_mappings(DomainName=name, MaxResults="1", NextToken=page["NextToken"])
    assert len(rest["Items"]) == 1 and "NextToken" not in rest

    # A key used twice is a conflict, as AWS answers it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="$default", ApiMappingKey="v1/orders")
    assert error(e) == (409, "ConflictException", "ApiMapping key already exists for this domain name")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.update_api_mapping(DomainName=name, ApiMappingId=root["ApiMappingId"], ApiId=api_id,
                                 ApiMappingKey="v1/orders")
    assert error(e)[:2] == (409, "ConflictException")
    # The stage must exist.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="nope", ApiMappingKey="x")
    assert error(e)[:2] == (400, "BadRequestException")
    assert "Invalid stage identifier specified" in error(e)[2]
    # Keys as AWS allows them.
    for key in ["/v1", "v1/", "v1//x", "v 1", "a" * 301]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="prod", ApiMappingKey=key)
        assert error(e)[:2] == (400, "BadRequestException"), key
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_api_mapping(DomainName=name, ApiId="zzzzzzzzzz", Stage="prod", ApiMappingKey="x")
    assert error(e)[:2] == (404, "NotFoundException")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_api_mapping(DomainName=unique_domain(), ApiId=api_id, Stage="prod")
    assert error(e) == (404, "NotFoundException", "Invalid domain name identifier specified")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_api_mapping(DomainName=name, ApiMappingId="nope")
    assert error(e)[:2] == (404, "NotFoundException")

    moved = apigw.update_api_mapping(DomainName=name, ApiMappingId=orders["ApiMappingId"], ApiId=api_id,
                                     ApiMappingKey="v2/orders")
    assert moved["ApiMappingKey"] == "v2/orders" and moved["Stage"] == "prod"

    # An API or a stage that a mapping uses cannot be deleted (AWS: remove the mappings first).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_api(ApiId=api_id)
    assert error(e) == (
        400, "BadRequestException",
        f"Deleting API {api_id} failed. Please remove all API mappings for the API from your custom domain names.",
    )
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_stage(ApiId=api_id, StageName="prod")
    assert error(e)[:2] == (400, "BadRequestException")

    apigw.delete_api_mapping(DomainName=name, ApiMappingId=orders["ApiMappingId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_api_mapping(DomainName=name, ApiMappingId=orders["ApiMappingId"])
    assert error(e)[:2] == (404, "NotFoundException")
    apigw.delete_stage(ApiId=api_id, StageName="prod")
    # Deleting the domain name takes its mappings with it; then the API can go.
    apigw.delete_domain_name(DomainName=name)
    apigw.delete_api(ApiId=api_id)


def test_http_apis_map_only_to_regional_tls12_domains(server, apigw, backend):
    api_id = make_api(apigw, backend, "edgecase")
    name = unique_domain("edge")
    apigw.create_domain_name(DomainName=name, DomainNameConfigurations=[{"EndpointType": "EDGE"}])
    d = apigw.get_domain_name(DomainName=name)
    assert d["DomainNameConfigurations"][0]["HostedZoneId"] == "Z2FDTNDATAQYW2"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="$default")
    assert error(e)[:2] == (400, "BadRequestException")
    apigw.delete_domain_name(DomainName=name)


def test_requests_route_by_the_longest_mapping_key(server, apigw, backend):
    shop = make_api(apigw, backend, "shop")
    orders = make_api(apigw, backend, "orders", stages=("$default", "prod"))
    items = make_api(apigw, backend, "items", stages=("v2",))
    name = unique_domain()
    apigw.create_domain_name(DomainName=name)
    root = apigw.create_api_mapping(DomainName=name, ApiId=shop, Stage="$default")
    apigw.create_api_mapping(DomainName=name, ApiId=orders, Stage="prod", ApiMappingKey="orders")
    deep = apigw.create_api_mapping(DomainName=name, ApiId=items, Stage="v2", ApiMappingKey="orders/v2/items")

    # The root mapping: the whole path, the `$default` stage.
    r = get(server, name, "/customers/7?x=1", wait_for=200)
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["path"] == "/shop/customers/7?x=1"
    assert seen["headers"]["x-domain"] == name
    assert seen["headers"]["x-prefix"] == name.split(".")[0]
    assert seen["headers"]["x-stage"] == "$default"
    assert seen["headers"]["x-route"] == "ANY /{proxy+}"
    assert get(server, name, "/").json()["path"] == "/shop/"

    # A single-level key: stripped, and its stage (prod) is used without being in the path.
    r = get(server, name, "/orders/42")
    assert r.json()["path"] == "/orders/42" and r.json()["headers"]["x-stage"] == "prod"
    assert get(server, name, "/orders").json()["headers"]["x-route"] == "GET /"
    # A multi-level key wins over the shorter one.
    r = get(server, name, "/orders/v2/items/5")
    assert r.json()["path"] == "/items/5" and r.json()["headers"]["x-stage"] == "v2"
    # Whole segments only: `/orders/v2/itemsX` is not under `orders/v2/items`.
    r = get(server, name, "/orders/v2/itemsX")
    assert r.json()["path"] == "/orders/v2/itemsX" and r.json()["headers"]["x-stage"] == "prod"
    # `/ordersX` is not under `orders` either: the root mapping serves it.
    assert get(server, name, "/ordersX").json()["path"] == "/shop/ordersX"

    # The Host's port and case do not matter.
    r = get(server, f"{name.upper()}:{server.gateway_port}", "/orders/1")
    assert r.status_code == 200 and r.json()["path"] == "/orders/1"
    assert r.json()["headers"]["x-domain"] == name
    # The custom domain's own `/health` is the API's, not the listener's.
    assert get(server, name, "/health").json()["path"] == "/shop/health"
    # An unknown host is not served.
    r = get(server, unique_domain("unknown"), "/orders/1")
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}

    # Removing a mapping takes effect: the shorter key serves what the longer did.
    apigw.delete_api_mapping(DomainName=name, ApiMappingId=deep["ApiMappingId"])
    r = get(server, name, "/orders/v2/items/5", wait_for=200)
    deadline = time.time() + 5
    while r.json()["headers"]["x-stage"] != "prod" and time.time() < deadline:
        time.sleep(0.02)
        r = get(server, name, "/orders/v2/items/5")
    assert r.json()["path"] == "/orders/v2/items/5" and r.json()["headers"]["x-stage"] == "prod"
    # Without a root mapping, paths under no key are 404.
    apigw.delete_api_mapping(DomainName=name, ApiMappingId=root["ApiMappingId"])
    r = get(server, name, "/customers/7", wait_for=404)
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}
    assert get(server, name, "/orders/1").status_code == 200
    # Deleting the domain name stops it being served at all.
    apigw.delete_domain_name(DomainName=name)
    r = get(server, name, "/orders/1", wait_for=404)
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}


def test_disable_execute_api_endpoint(server, apigw, backend):
    api_id = make_api(apigw, backend, "private")
    name = unique_domain()
    apigw.create_domain_name(DomainName=name)
    apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="$default", ApiMappingKey="svc")
    execute_api = f"{api_id}.execute-api.localhost"
    assert get(server, execute_api, "/x", wait_for=200).status_code == 200

    updated = apigw.update_api(ApiId=api_id, DisableExecuteApiEndpoint=True)
    assert updated["DisableExecuteApiEndpoint"] is True
    r = get(server, execute_api, "/x", wait_for=403)
    assert r.status_code == 403 and r.json() == {"message": "Forbidden"}
    assert r.headers["apigw-requestid"]
    # The custom domain keeps serving the API.
    r = get(server, name, "/svc/x")
    assert r.status_code == 200 and r.json()["path"] == "/private/x"

    apigw.update_api(ApiId=api_id, DisableExecuteApiEndpoint=False)
    assert get(server, execute_api, "/x", wait_for=200).status_code == 200

    # Created disabled from the start.
    api2 = apigw.create_api(Name="closed", ProtocolType="HTTP", Target=f"{backend}/closed",
                            DisableExecuteApiEndpoint=True)["ApiId"]
    apigw.create_api_mapping(DomainName=name, ApiId=api2, Stage="$default", ApiMappingKey="closed")
    r = get(server, name, "/closed", wait_for=200)
    assert r.status_code == 200 and r.json()["path"] == "/closed"
    r = get(server, f"{api2}.execute-api.localhost", "/")
    assert r.status_code == 403 and r.json() == {"message": "Forbidden"}


def test_lambda_event_names_the_custom_domain(fresh_server):
    lam = ThreadingHTTPServer(("127.0.0.1", 0), LambdaDouble)
    threading.Thread(target=lam.serve_forever, daemon=True).start()
    try:
        srv = fresh_server(extra_env={"AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{lam.server_address[1]}"})
        apigw = srv.client("apigatewayv2")
        arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
        api_id = apigw.create_api(Name="fn", ProtocolType="HTTP", Target=arn, RouteKey="GET /hello/{name}")["ApiId"]
        name = "fn.example.test"
        apigw.create_domain_name(DomainName=name)
        apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="$default", ApiMappingKey="v1/fn")
        r = get(srv, f"{name}:{srv.gateway_port}", "/v1/fn/hello/w", wait_for=200)
        assert r.status_code == 200, r.text
        ev = r.json()
        assert ev["routeKey"] == "GET /hello/{name}" and ev["pathParameters"] == {"name": "w"}
        rc = ev["requestContext"]
        assert rc["domainName"] == name and rc["domainPrefix"] == "fn"
        assert rc["stage"] == "$default" and rc["routeKey"] == "GET /hello/{name}"
        # As on AWS, the raw path is the one requested, mapping key included.
        assert ev["rawPath"] == "/v1/fn/hello/w"
    finally:
        lam.shutdown()


def test_domain_names_with_the_aws_cli(server, backend):
    """The aws CLI's spelling of the same operations."""
    name = unique_domain("cli")
    api_id = server.aws("apigatewayv2", "create-api", "--name", "cli", "--protocol-type", "HTTP",
                        "--target", f"{backend}/cli")["ApiId"]
    d = server.aws("apigatewayv2", "create-domain-name", "--domain-name", name,
                   "--domain-name-configurations", "EndpointType=REGIONAL,SecurityPolicy=TLS_1_2")
    assert d["DomainNameConfigurations"][0]["DomainNameStatus"] == "AVAILABLE"
    m = server.aws("apigatewayv2", "create-api-mapping", "--domain-name", name, "--api-id", api_id,
                   "--stage", "$default", "--api-mapping-key", "v1/cli")
    assert m["ApiMappingKey"] == "v1/cli"
    listed = server.aws("apigatewayv2", "get-api-mappings", "--domain-name", name)["Items"]
    assert [i["ApiMappingId"] for i in listed] == [m["ApiMappingId"]]
    r = get(server, name, "/v1/cli/anything", wait_for=200)
    assert r.status_code == 200 and r.json()["path"] == "/cli"
    assert name in [i["DomainName"] for i in server.aws("apigatewayv2", "get-domain-names")["Items"]]
    server.aws("apigatewayv2", "delete-api-mapping", "--domain-name", name, "--api-mapping-id", m["ApiMappingId"])
    server.aws("apigatewayv2", "delete-domain-name", "--domain-name", name)
    server.aws("apigatewayv2", "delete-api", "--api-id", api_id)
