"""The API Gateway v2 management API (apigatewayv2 REST JSON) with boto3 and the aws CLI:
APIs, routes, integrations, JWT authorizers, stages, deployments, pagination and AWS's
error shapes."""
import re
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

BACKEND = "https://backend.example.com/items"


@pytest.fixture
def apigw(server):
    return server.client("apigatewayv2")


@pytest.fixture
def api(apigw):
    a = apigw.create_api(Name=f"t-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")
    yield a
    try:
        apigw.delete_api(ApiId=a["ApiId"])
    except botocore.exceptions.ClientError:
        pass


def error_of(exc_info):
    e = exc_info.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"].get("Message", "")


def http_integration(apigw, api_id, uri=BACKEND):
    return apigw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=uri, IntegrationMethod="ANY",
        PayloadFormatVersion="1.0",
    )


# APIs


def test_create_get_update_delete_api(server, apigw):
    a = apigw.create_api(
        Name="pets", ProtocolType="HTTP", Description="d", Version="1",
        CorsConfiguration={"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET"], "MaxAge": 60},
        Tags={"team": "a"},
    )
    api_id = a["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert a["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{server.gateway_port}"
    assert a["ProtocolType"] == "HTTP" and a["Name"] == "pets" and a["Description"] == "d"
    assert a["RouteSelectionExpression"] == "$request.method $request.path"
    assert a["CorsConfiguration"]["AllowOrigins"] == ["https://app.example.com"]
    assert a["CorsConfiguration"]["MaxAge"] == 60
    assert a["Tags"] == {"team": "a"}
    assert a["CreatedDate"].year >= 2024

    got = apigw.get_api(ApiId=api_id)
    assert got["Name"] == "pets" and got["ApiEndpoint"] == a["ApiEndpoint"]

    up = apigw.update_api(ApiId=api_id, Name="pets2", CorsConfiguration={"AllowOrigins": ["*"]})
    assert up["Name"] == "pets2" and up["Description"] == "d"
    assert up["CorsConfiguration"] == {"AllowOrigins": ["*"]}

    apigw.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in apigw.get_api(ApiId=api_id)

    apigw.delete_api(ApiId=api_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_api(ApiId=api_id)
    assert error_of(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_api(ApiId=api_id)
    assert error_of(e)[:2] == ("NotFoundException", 404)


def test_create_api_errors(apigw):
    for kwargs, code in [
        ({"Name": "x", "ProtocolType": "WEBSOCKET"}, "BadRequestException"),
        ({"Name": "", "ProtocolType": "HTTP"}, "BadRequestException"),
        ({"Name": "x", "ProtocolType": "HTTP", "RouteKey": "GET /"}, "BadRequestException"),
        ({"Name": "x", "ProtocolType": "HTTP", "Target": BACKEND, "RouteKey": "GET pets"}, "BadRequestException"),
        ({"Name": "x", "ProtocolType": "HTTP", "Target": "ftp://nowhere"}, "BadRequestException"),
        (
            {"Name": "x", "ProtocolType": "HTTP",
             "CorsConfiguration": {"AllowOrigins": ["*"], "AllowCredentials": True}},
            "BadRequestException",
        ),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.create_api(**kwargs)
        assert error_of(e)[:2] == (code, 400), kwargs


def test_quick_create_http_target(apigw):
    a = apigw.create_api(Name="quick", ProtocolType="HTTP", Target=BACKEND)
    api_id = a["ApiId"]
    try:
        integrations = apigw.get_integrations(ApiId=api_id)["Items"]
        assert len(integrations) == 1
        i = integrations[0]
        assert i["IntegrationType"] == "HTTP_PROXY" and i["IntegrationUri"] == BACKEND
        assert i["IntegrationMethod"] == "ANY" and i["PayloadFormatVersion"] == "1.0"
        routes = apigw.get_routes(ApiId=api_id)["Items"]
        assert [(r["RouteKey"], r["Target"]) for r in routes] == [("$default", f"integrations/{i['IntegrationId']}")]
        stages = apigw.get_stages(ApiId=api_id)["Items"]
        assert len(stages) == 1
        st = stages[0]
        assert st["StageName"] == "$default" and st["AutoDeploy"] is True and st["DeploymentId"]
        deps = apigw.get_deployments(ApiId=api_id)["Items"]
        assert [d["DeploymentId"] for d in deps] == [st["DeploymentId"]]
        assert deps[0]["AutoDeployed"] is True and deps[0]["DeploymentStatus"] == "DEPLOYED"
        # `%24default` in the path is URL-decoded.
        assert apigw.get_stage(ApiId=api_id, StageName="$default")["StageName"] == "$default"
        # An auto-deploying stage follows every change.
        apigw.create_route(ApiId=api_id, RouteKey="GET /more", Target=f"integrations/{i['IntegrationId']}")
        st2 = apigw.get_stage(ApiId=api_id, StageName="$default")
        assert st2["DeploymentId"] != st["DeploymentId"]
        assert len(apigw.get_deployments(ApiId=api_id)["Items"]) == 2
    finally:
        apigw.delete_api(ApiId=api_id)


def test_quick_create_lambda_target_with_route_key(apigw):
    arn = "arn:aws:lambda:us-east-1:000000000000:function:hello"
    a = apigw.create_api(Name="ql", ProtocolType="HTTP", Target=arn, RouteKey="POST /hello")
    try:
        i = apigw.get_integrations(ApiId=a["ApiId"])["Items"][0]
        assert i["IntegrationType"] == "AWS_PROXY" and i["IntegrationUri"] == arn
        assert i["PayloadFormatVersion"] == "2.0"
        assert [r["RouteKey"] for r in apigw.get_routes(ApiId=a["ApiId"])["Items"]] == ["POST /hello"]
    finally:
        apigw.delete_api(ApiId=a["ApiId"])


def test_get_apis_paginates(apigw):
    ids = {apigw.create_api(Name=f"page-{n}", ProtocolType="HTTP")["ApiId"] for n in range(5)}
    try:
        seen, token, pages = [], None, 0
        while True:
            kw = {"MaxResults": "2"}
            if token:
                kw["NextToken"] = token
            page = apigw.get_apis(**kw)
            assert len(page["Items"]) <= 2
            seen += [a["ApiId"] for a in page["Items"]]
            pages += 1
            token = page.get("NextToken")
            if not token:
                break
        assert ids <= set(seen) and len(seen) == len(set(seen)) and pages >= 3
        every = [a["ApiId"] for a in apigw.get_paginator("get_apis").paginate(PaginationConfig={"PageSize": 2}).build_full_result()["Items"]]
        assert ids <= set(every)
    finally:
        for i in ids:
            apigw.delete_api(ApiId=i)


def test_bad_max_results_and_next_token(apigw, api):
    for kw in [{"MaxResults": "zero"}, {"MaxResults": "0"}, {"NextToken": "nonsense"}]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.get_routes(ApiId=api["ApiId"], **kw)
        assert error_of(e)[:2] == ("BadRequestException", 400), kw


# Routes


@pytest.mark.parametrize(
    "key",
    ["$default", "GET /", "ANY /pets", "GET /pets/{id}", "ANY /{proxy+}", "POST /a/{b}/c/{rest+}"],
)
def test_valid_route_keys(apigw, api, key):
    r = apigw.create_route(ApiId=api["ApiId"], RouteKey=key)
    assert r["RouteKey"] == key and r["AuthorizationType"] == "NONE"
    assert re.fullmatch(r"[a-z0-9]{7}", r["RouteId"])


@pytest.mark.parametrize(
    "key",
    ["GET", "GET pets", "FETCH /pets", "GET /{proxy+}/more", "GET /a//b", "GET /{}", "GET /x{y}", "$DEFAULT", "GET /{a}/{a}"],
)
def test_invalid_route_keys(apigw, api, key):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_route(ApiId=api["ApiId"], RouteKey=key)
    assert error_of(e)[:2] == ("BadRequestException", 400)


def test_route_crud_and_errors(apigw, api):
    api_id = api["ApiId"]
    i = http_integration(apigw, api_id)
    r = apigw.create_route(ApiId=api_id, RouteKey="GET /pets", Target=f"integrations/{i['IntegrationId']}", OperationName="listPets")
    assert r["Target"] == f"integrations/{i['IntegrationId']}" and r["OperationName"] == "listPets"
    assert apigw.get_route(ApiId=api_id, RouteId=r["RouteId"])["RouteKey"] == "GET /pets"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_route(ApiId=api_id, RouteKey="GET /pets")
    assert error_of(e)[:2] == ("ConflictException", 409)

    r2 = apigw.create_route(ApiId=api_id, RouteKey="POST /pets")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.update_route(ApiId=api_id, RouteId=r2["RouteId"], RouteKey="GET /pets")
    assert error_of(e)[:2] == ("ConflictException", 409)

    up = apigw.update_route(ApiId=api_id, RouteId=r["RouteId"], RouteKey="GET /pets/{id}")
    assert up["RouteKey"] == "GET /pets/{id}" and up["Target"] == r["Target"]

    for kw in [
        {"Target": "integrations/nope123"},
        {"Target": "lambda"},
        {"AuthorizationType": "JWT"},
        {"AuthorizationType": "JWT", "AuthorizerId": "nope123"},
        {"AuthorizationType": "CUSTOM"},
        {"AuthorizationType": "WHATEVER"},
        {"AuthorizationScopes": ["a"]},
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.update_route(ApiId=api_id, RouteId=r["RouteId"], **kw)
        assert error_of(e)[:2] == ("BadRequestException", 400), kw

    # The integration a route targets cannot go.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_integration(ApiId=api_id, IntegrationId=i["IntegrationId"])
    assert error_of(e)[:2] == ("ConflictException", 409)

    apigw.delete_route(ApiId=api_id, RouteId=r["RouteId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_route(ApiId=api_id, RouteId=r["RouteId"])
    assert error_of(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_route(ApiId=api_id, RouteId=r["RouteId"])
    assert error_of(e)[:2] == ("NotFoundException", 404)
    apigw.delete_integration(ApiId=api_id, IntegrationId=i["IntegrationId"])

    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_route(ApiId="nosuchapi0", RouteKey="GET /")
    assert error_of(e)[:2] == ("NotFoundException", 404)


def test_routes_paginate(apigw, api):
    keys = {f"GET /r{n}" for n in range(7)}
    for k in keys:
        apigw.create_route(ApiId=api["ApiId"], RouteKey=k)
    seen = []
    pages = apigw.get_paginator("get_routes").paginate(ApiId=api["ApiId"], PaginationConfig={"PageSize": 3})
    n = 0
    for page in pages:
        n += 1
        seen += [r["RouteKey"] for r in page["Items"]]
    assert sorted(seen) == sorted(keys) and n == 3


# Integrations


def test_integration_crud_and_errors(apigw, api):
    api_id = api["ApiId"]
    i = apigw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri="http://127.0.0.1:9/{proxy}",
        IntegrationMethod="GET", TimeoutInMillis=5000,
        RequestParameters={"append:header.x-from": "gatehouse", "overwrite:path": "/v1/$request.path.proxy"},
        ResponseParameters={"404": {"overwrite:statuscode": "204"}},
    )
    assert i["IntegrationType"] == "HTTP_PROXY" and i["IntegrationMethod"] == "GET"
    assert i["TimeoutInMillis"] == 5000 and i["ConnectionType"] == "INTERNET"
    assert i["PayloadFormatVersion"] == "1.0"
    assert i["RequestParameters"]["append:header.x-from"] == "gatehouse"
    assert i["ResponseParameters"] == {"404": {"overwrite:statuscode": "204"}}
    iid = i["IntegrationId"]
    assert apigw.get_integration(ApiId=api_id, IntegrationId=iid)["IntegrationUri"] == "http://127.0.0.1:9/{proxy}"
    up = apigw.update_integration(ApiId=api_id, IntegrationId=iid, TimeoutInMillis=29000, Description="x")
    assert up["TimeoutInMillis"] == 29000 and up["Description"] == "x" and up["IntegrationMethod"] == "GET"

    staged = apigw.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri="${stageVariables.backend}/items",
    )
    assert staged["IntegrationUri"] == "${stageVariables.backend}/items"
    lam = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY",
        IntegrationUri="arn:aws:lambda:us-east-1:000000000000:function:f",
    )
    assert lam["PayloadFormatVersion"] == "2.0"

    for kw in [
        {"IntegrationType": "HTTP_PROXY", "IntegrationUri": "not a url"},
        {"IntegrationType": "HTTP_PROXY"},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": "https://x.example.com"},
        {"IntegrationType": "MOCK"},
        {"IntegrationType": "HTTP_PROXY", "IntegrationUri": BACKEND, "TimeoutInMillis": 40000},
        {"IntegrationType": "HTTP_PROXY", "IntegrationUri": BACKEND, "PayloadFormatVersion": "2.0"},
        {"IntegrationType": "HTTP_PROXY", "IntegrationUri": BACKEND, "RequestParameters": {"bogus": "x"}},
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.create_integration(ApiId=api_id, **kw)
        assert error_of(e)[:2] == ("BadRequestException", 400), kw

    apigw.delete_integration(ApiId=api_id, IntegrationId=iid)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_integration(ApiId=api_id, IntegrationId=iid)
    assert error_of(e)[:2] == ("NotFoundException", 404)


# Authorizers


def test_jwt_authorizer_crud_and_errors(server, apigw, api, pool):
    api_id = api["ApiId"]
    issuer = f"{server.url}/{pool['id']}"
    a = apigw.create_authorizer(
        ApiId=api_id, Name="cognito", AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Audience": [pool["client_id"]], "Issuer": issuer},
    )
    assert a["AuthorizerType"] == "JWT" and a["JwtConfiguration"] == {"Audience": [pool["client_id"]], "Issuer": issuer}
    assert a["IdentitySource"] == ["$request.header.Authorization"]
    aid = a["AuthorizerId"]
    assert apigw.get_authorizer(ApiId=api_id, AuthorizerId=aid)["Name"] == "cognito"
    assert [x["AuthorizerId"] for x in apigw.get_authorizers(ApiId=api_id)["Items"]] == [aid]
    up = apigw.update_authorizer(ApiId=api_id, AuthorizerId=aid, JwtConfiguration={"Audience": ["a", "b"], "Issuer": issuer})
    assert up["JwtConfiguration"]["Audience"] == ["a", "b"] and up["Name"] == "cognito"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_authorizer(ApiId=api_id, Name="cognito", AuthorizerType="JWT",
                                IdentitySource=["$request.header.Authorization"],
                                JwtConfiguration={"Audience": ["a"], "Issuer": issuer})
    assert error_of(e)[:2] == ("ConflictException", 409)
    for kw in [
        {"AuthorizerType": "REQUEST", "IdentitySource": ["$request.header.Authorization"]},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"]},
        {"AuthorizerType": "JWT", "IdentitySource": ["Authorization"], "JwtConfiguration": {"Audience": ["a"], "Issuer": issuer}},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"], "JwtConfiguration": {"Audience": ["a"], "Issuer": "not-a-url"}},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"], "JwtConfiguration": {"Issuer": issuer}},
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization", "$request.querystring.t"],
         "JwtConfiguration": {"Audience": ["a"], "Issuer": issuer}},
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.create_authorizer(ApiId=api_id, Name=f"n{uuid.uuid4().hex[:6]}", **kw)
        assert error_of(e)[:2] == ("BadRequestException", 400), kw

    # In use by a route: cannot be deleted; NONE detaches it.
    r = apigw.create_route(ApiId=api_id, RouteKey="GET /secure", AuthorizationType="JWT", AuthorizerId=aid, AuthorizationScopes=["read"])
    assert r["AuthorizerId"] == aid and r["AuthorizationScopes"] == ["read"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_authorizer(ApiId=api_id, AuthorizerId=aid)
    assert error_of(e)[:2] == ("ConflictException", 409)
    r = apigw.update_route(ApiId=api_id, RouteId=r["RouteId"], AuthorizationType="NONE")
    assert r["AuthorizationType"] == "NONE" and "AuthorizerId" not in r and "AuthorizationScopes" not in r
    apigw.delete_authorizer(ApiId=api_id, AuthorizerId=aid)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_authorizer(ApiId=api_id, AuthorizerId=aid)
    assert error_of(e)[:2] == ("NotFoundException", 404)


# Stages and deployments


def test_stages_and_deployments(apigw, api):
    api_id = api["ApiId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_deployment(ApiId=api_id)
    assert error_of(e)[:2] == ("BadRequestException", 400)  # no routes yet

    i = http_integration(apigw, api_id)
    apigw.create_route(ApiId=api_id, RouteKey="GET /items", Target=f"integrations/{i['IntegrationId']}")
    st = apigw.create_stage(
        ApiId=api_id, StageName="prod", Description="production",
        DefaultRouteSettings={"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0},
        RouteSettings={"GET /items": {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 1.0}},
        StageVariables={"backend": "blue"},
        AccessLogSettings={"DestinationArn": "stdout", "Format": "$context.requestId $context.status"},
    )
    assert st["StageName"] == "prod" and "DeploymentId" not in st and st["AutoDeploy"] is False
    assert st["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 10
    assert st["RouteSettings"]["GET /items"] == {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 1.0}
    assert st["StageVariables"] == {"backend": "blue"}
    assert st["AccessLogSettings"]["Format"] == "$context.requestId $context.status"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_stage(ApiId=api_id, StageName="prod")
    assert error_of(e)[:2] == ("ConflictException", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_stage(ApiId=api_id, StageName="bad name!")
    assert error_of(e)[:2] == ("BadRequestException", 400)

    d = apigw.create_deployment(ApiId=api_id, StageName="prod", Description="first")
    assert d["DeploymentStatus"] == "DEPLOYED" and d["Description"] == "first" and d["AutoDeployed"] is False
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == d["DeploymentId"]
    assert apigw.get_deployment(ApiId=api_id, DeploymentId=d["DeploymentId"])["Description"] == "first"
    assert apigw.update_deployment(ApiId=api_id, DeploymentId=d["DeploymentId"], Description="renamed")["Description"] == "renamed"

    # A manual stage does not move by itself.
    apigw.create_route(ApiId=api_id, RouteKey="POST /items", Target=f"integrations/{i['IntegrationId']}")
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == d["DeploymentId"]

    d2 = apigw.create_deployment(ApiId=api_id)
    up = apigw.update_stage(ApiId=api_id, StageName="prod", DeploymentId=d2["DeploymentId"],
                            DefaultRouteSettings={"ThrottlingRateLimit": 50.0}, StageVariables={"color": "green"})
    assert up["DeploymentId"] == d2["DeploymentId"]
    assert up["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 50.0}
    assert up["StageVariables"] == {"backend": "blue", "color": "green"}

    # The deployment a stage serves cannot be deleted; an unused one can.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_deployment(ApiId=api_id, DeploymentId=d2["DeploymentId"])
    assert error_of(e)[:2] == ("BadRequestException", 400)
    apigw.delete_deployment(ApiId=api_id, DeploymentId=d["DeploymentId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_deployment(ApiId=api_id, DeploymentId=d["DeploymentId"])
    assert error_of(e)[:2] == ("NotFoundException", 404)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.update_stage(ApiId=api_id, StageName="prod", DeploymentId="nope123")
    assert error_of(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_deployment(ApiId=api_id, StageName="nosuch")
    assert error_of(e)[:2] == ("BadRequestException", 400)

    apigw.delete_route_settings(ApiId=api_id, StageName="prod", RouteKey="GET /items")
    assert "RouteSettings" not in apigw.get_stage(ApiId=api_id, StageName="prod")
    apigw.delete_access_log_settings(ApiId=api_id, StageName="prod")
    assert "AccessLogSettings" not in apigw.get_stage(ApiId=api_id, StageName="prod")

    # Turning autoDeploy on deploys at once.
    auto = apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    assert auto["AutoDeploy"] is True and auto["DeploymentId"]
    assert apigw.get_deployment(ApiId=api_id, DeploymentId=auto["DeploymentId"])["AutoDeployed"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.create_deployment(ApiId=api_id, StageName="dev")
    assert error_of(e)[:2] == ("BadRequestException", 400)

    names = [s["StageName"] for s in apigw.get_stages(ApiId=api_id)["Items"]]
    assert names == ["prod", "dev"]
    apigw.delete_stage(ApiId=api_id, StageName="dev")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_stage(ApiId=api_id, StageName="dev")
    assert error_of(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.delete_stage(ApiId=api_id, StageName="dev")
    assert error_of(e)[:2] == ("NotFoundException", 404)


# Wire


def test_unsigned_and_badly_signed_calls_are_refused(server, api):
    r = requests.get(server.url + "/v2/apis")
    assert r.status_code == 403
    assert r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert r.json() == {"message": "Missing Authentication Token"}

    bad = server.client("apigatewayv2", secret_key="wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.get_apis()
    assert error_of(e)[:2] == ("InvalidSignatureException", 403)
    unknown = server.client("apigatewayv2", access_key="AKIDUNKNOWN")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.get_api(ApiId=api["ApiId"])
    assert error_of(e)[:2] == ("UnrecognizedClientException", 403)
    # A cognito-idp scoped signature is not valid for apigateway.
    req = botocore.awsrequest.AWSRequest(method="GET", url=server.url + "/v2/apis", headers={})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("AKIDGATEHOUSETEST", "gatehouse-test-secret-key-0123456789"), "cognito-idp", "us-east-1").add_auth(req)
    r = requests.get(server.url + "/v2/apis", headers=dict(req.headers))
    assert r.status_code == 403


def test_error_shape_and_bad_json(server, apigw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.get_api(ApiId="nosuchapi0")
    code, status, message = error_of(e)
    assert (code, status) == ("NotFoundException", 404) and "nosuchapi0" in message
    # A raw signed call with a malformed body.
    for body in [b"{not json", b"[1,2]", b'{"name": 5, "protocolType": "HTTP"}']:
        req = botocore.awsrequest.AWSRequest(method="POST", url=server.url + "/v2/apis", data=body, headers={"content-type": "application/json"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials("AKIDGATEHOUSETEST", "gatehouse-test-secret-key-0123456789"), "apigateway", "us-east-1").add_auth(req)
        r = requests.post(server.url + "/v2/apis", data=body, headers=dict(req.headers))
        assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "BadRequestException", body
        assert "message" in r.json()


def test_state_survives_restart(fresh_server):
    s = fresh_server()
    c = s.client("apigatewayv2")
    a = c.create_api(Name="durable", ProtocolType="HTTP", Target=BACKEND)
    s.restart()
    c = s.client("apigatewayv2")
    assert c.get_api(ApiId=a["ApiId"])["Name"] == "durable"
    st = c.get_stage(ApiId=a["ApiId"], StageName="$default")
    assert st["DeploymentId"]


# The tutorial's steps 2-4 with the aws CLI


def test_tutorial_api_steps_with_aws_cli(server, pool):
    api = server.aws("apigatewayv2", "create-api", "--name", "tutorial-api", "--protocol-type", "HTTP")
    api_id = api["ApiId"]
    try:
        assert api["ApiEndpoint"] == f"http://{api_id}.execute-api.localhost:{server.gateway_port}"
        integ = server.aws(
            "apigatewayv2", "create-integration", "--api-id", api_id, "--integration-type", "HTTP_PROXY",
            "--integration-method", "GET", "--integration-uri", "https://httpbin.org/get",
            "--payload-format-version", "1.0",
        )
        route = server.aws(
            "apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /hello",
            "--target", f"integrations/{integ['IntegrationId']}",
        )
        assert route["RouteKey"] == "GET /hello" and route["AuthorizationType"] == "NONE"
        issuer = f"{server.url}/{pool['id']}"
        auth = server.aws(
            "apigatewayv2", "create-authorizer", "--api-id", api_id, "--authorizer-type", "JWT",
            "--identity-source", "$request.header.Authorization", "--name", "cognito-authorizer",
            "--jwt-configuration", f"Audience={pool['client_id']},Issuer={issuer}",
        )
        assert auth["JwtConfiguration"] == {"Audience": [pool["client_id"]], "Issuer": issuer}
        secured = server.aws(
            "apigatewayv2", "update-route", "--api-id", api_id, "--route-id", route["RouteId"],
            "--authorization-type", "JWT", "--authorizer-id", auth["AuthorizerId"],
        )
        assert secured["AuthorizationType"] == "JWT" and secured["AuthorizerId"] == auth["AuthorizerId"]
        stage = server.aws("apigatewayv2", "create-stage", "--api-id", api_id, "--stage-name", "prod")
        assert stage["StageName"] == "prod"
        dep = server.aws("apigatewayv2", "create-deployment", "--api-id", api_id, "--stage-name", "prod")
        assert server.aws("apigatewayv2", "get-stage", "--api-id", api_id, "--stage-name", "prod")["DeploymentId"] == dep["DeploymentId"]
        auto = server.aws("apigatewayv2", "create-stage", "--api-id", api_id, "--stage-name", "$default", "--auto-deploy")
        assert auto["AutoDeploy"] is True and auto["DeploymentId"]
        routes = server.aws("apigatewayv2", "get-routes", "--api-id", api_id)["Items"]
        assert [r["RouteKey"] for r in routes] == ["GET /hello"]
        apis = server.aws("apigatewayv2", "get-apis")["Items"]
        assert api_id in [a["ApiId"] for a in apis]
        bad = server.aws("apigatewayv2", "create-route", "--api-id", api_id, "--route-key", "GET /{proxy+}/x", check=False)
        assert bad.returncode != 0 and "BadRequestException" in bad.stderr
    finally:
        server.aws("apigatewayv2", "delete-api", "--api-id", api_id)


# OpenAPI import, reimport and export

OPENAPI = {
    "openapi": "3.0.1",
    "info": {"title": "imported", "version": "2024-01-01", "description": "from a file"},
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "security": [{"cognito": ["pets/read"]}],
                "x-amazon-apigateway-integration": {
                    "type": "http_proxy", "httpMethod": "GET", "uri": "https://pets.example.com/pets",
                    "payloadFormatVersion": "1.0", "connectionType": "INTERNET", "timeoutInMillis": 10000,
                },
            },
        },
        "/pets/{id}": {
            "x-amazon-apigateway-any-method": {
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy", "uri": "arn:aws:lambda:us-east-1:000000000000:function:pets",
                    "payloadFormatVersion": "2.0",
                },
            },
        },
        "/$default": {
            "x-amazon-apigateway-any-method": {
                "isDefaultRoute": True,
                "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "ANY", "uri": "https://fallback.example.com"},
            },
        },
    },
    "components": {
        "securitySchemes": {
            "cognito": {
                "type": "oauth2", "flows": {},
                "x-amazon-apigateway-authorizer": {
                    "identitySource": "$request.header.Authorization",
                    "jwtConfiguration": {"audience": ["client1"], "issuer": "https://issuer.example.com/pool"},
                    "type": "jwt",
                },
            },
        },
    },
    "x-amazon-apigateway-cors": {"allowOrigins": ["https://app.example.com"], "allowMethods": ["GET", "POST"]},
    "x-amazon-apigateway-policy": {"ignored": True},
}


def test_import_export_reimport(apigw):
    import json as _json

    a = apigw.import_api(Body=_json.dumps(OPENAPI))
    api_id = a["ApiId"]
    try:
        assert a["Name"] == "imported" and a["Version"] == "2024-01-01"
        assert a["CorsConfiguration"]["AllowOrigins"] == ["https://app.example.com"]
        assert any("x-amazon-apigateway-policy" in w for w in a["Warnings"])
        routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
        assert set(routes) == {"GET /pets", "ANY /pets/{id}", "$default"}
        auth = apigw.get_authorizers(ApiId=api_id)["Items"]
        assert len(auth) == 1 and auth[0]["Name"] == "cognito"
        assert auth[0]["JwtConfiguration"] == {"Audience": ["client1"], "Issuer": "https://issuer.example.com/pool"}
        assert auth[0]["IdentitySource"] == ["$request.header.Authorization"]
        get_pets = routes["GET /pets"]
        assert get_pets["AuthorizationType"] == "JWT" and get_pets["AuthorizerId"] == auth[0]["AuthorizerId"]
        assert get_pets["AuthorizationScopes"] == ["pets/read"] and get_pets["OperationName"] == "listPets"
        integrations = {i["IntegrationId"]: i for i in apigw.get_integrations(ApiId=api_id)["Items"]}
        target = integrations[get_pets["Target"].split("/")[1]]
        assert target["IntegrationUri"] == "https://pets.example.com/pets" and target["TimeoutInMillis"] == 10000
        lam = integrations[routes["ANY /pets/{id}"]["Target"].split("/")[1]]
        assert lam["IntegrationType"] == "AWS_PROXY" and lam["PayloadFormatVersion"] == "2.0"

        exported = _json.loads(apigw.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON")["body"].read())
        assert exported["openapi"].startswith("3.0") and exported["info"]["title"] == "imported"
        assert set(exported["paths"]) == {"/pets", "/pets/{id}", "/$default"}
        get_op = exported["paths"]["/pets"]["get"]
        assert get_op["security"] == [{"cognito": ["pets/read"]}]
        assert get_op["x-amazon-apigateway-integration"]["uri"] == "https://pets.example.com/pets"
        assert exported["paths"]["/$default"]["x-amazon-apigateway-any-method"]["isDefaultRoute"] is True
        assert exported["components"]["securitySchemes"]["cognito"]["x-amazon-apigateway-authorizer"]["type"] == "jwt"
        assert exported["x-amazon-apigateway-cors"]["allowMethods"] == ["GET", "POST"]
        bare = _json.loads(apigw.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON", IncludeExtensions=False)["body"].read())
        assert "x-amazon-apigateway-integration" not in bare["paths"]["/pets"]["get"]

        # The export imports again into an identical API.
        again = apigw.import_api(Body=_json.dumps(exported))
        try:
            keys = sorted(r["RouteKey"] for r in apigw.get_routes(ApiId=again["ApiId"])["Items"])
            assert keys == sorted(routes)
        finally:
            apigw.delete_api(ApiId=again["ApiId"])

        # Reimport replaces the routing; a stage that auto-deploys follows.
        apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        first = apigw.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"]
        smaller = dict(OPENAPI, paths={"/only": {"post": {"x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "POST", "uri": "https://only.example.com"}}}})
        apigw.reimport_api(ApiId=api_id, Body=_json.dumps(smaller))
        assert [r["RouteKey"] for r in apigw.get_routes(ApiId=api_id)["Items"]] == ["POST /only"]
        assert len(apigw.get_integrations(ApiId=api_id)["Items"]) == 1
        assert apigw.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"] != first

        # A stage's export is what that stage serves.
        staged = _json.loads(apigw.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON", StageName="$default")["body"].read())
        assert list(staged["paths"]) == ["/only"]
    finally:
        apigw.delete_api(ApiId=api_id)


def test_import_errors(apigw):
    import json as _json

    before = {a["ApiId"] for a in apigw.get_apis()["Items"]}
    for body in [
        "not json at all: yaml maybe",
        "{broken",
        _json.dumps({"swagger": "2.0", "info": {"title": "x"}, "paths": {}}),
        _json.dumps({"openapi": "3.0.1", "info": {}, "paths": {}}),
        _json.dumps(dict(OPENAPI, paths={"/x/{p+}/y": {"get": {}}})),
        _json.dumps(dict(OPENAPI, paths={"/x": {"get": {"security": [{"nosuch": []}]}}})),
        _json.dumps(dict(OPENAPI, paths={"/x": {"get": {"x-amazon-apigateway-integration": {"type": "mock"}}}})),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.import_api(Body=body)
        assert error_of(e)[:2] == ("BadRequestException", 400), body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.import_api(Body=_json.dumps(OPENAPI), FailOnWarnings=True)
    assert error_of(e)[:2] == ("BadRequestException", 400)
    # A refused import leaves no API behind.
    assert {a["ApiId"] for a in apigw.get_apis()["Items"]} == before
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigw.reimport_api(ApiId="nosuchapi0", Body=_json.dumps(OPENAPI))
    assert error_of(e)[:2] == ("NotFoundException", 404)
    a = apigw.create_api(Name="exp", ProtocolType="HTTP")
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.export_api(ApiId=a["ApiId"], Specification="SWAGGER2", OutputType="JSON")
        assert error_of(e)[:2] == ("BadRequestException", 400)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.export_api(ApiId=a["ApiId"], Specification="OAS30", OutputType="JSON", StageName="nosuch")
        assert error_of(e)[:2] == ("NotFoundException", 404)
    finally:
        apigw.delete_api(ApiId=a["ApiId"])


def test_export_with_aws_cli(server, apigw, tmp_path):
    import json as _json

    a = apigw.create_api(Name="cli-export", ProtocolType="HTTP", Target=BACKEND)
    try:
        out = tmp_path / "api.json"
        server.aws("apigatewayv2", "export-api", "--api-id", a["ApiId"], "--output-type", "JSON",
                   "--specification", "OAS30", "--stage-name", "$default", str(out))
        doc = _json.loads(out.read_text())
        assert doc["paths"]["/$default"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]["uri"] == BACKEND
        assert doc["servers"][0]["url"] == a["ApiEndpoint"]
    finally:
        apigw.delete_api(ApiId=a["ApiId"])


def test_tags_of_apis_and_stages(apigw, api):
    api_id = api["ApiId"]
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    apigw.tag_resource(ResourceArn=arn, Tags={"env": "test", "team": "gw"})
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"env": "test", "team": "gw"}
    assert apigw.get_api(ApiId=api_id)["Tags"] == {"env": "test", "team": "gw"}
    apigw.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"env": "test"}

    apigw.create_stage(ApiId=api_id, StageName="prod", Tags={"a": "1"})
    stage_arn = f"{arn}/stages/prod"
    apigw.tag_resource(ResourceArn=stage_arn, Tags={"b": "2"})
    assert apigw.get_tags(ResourceArn=stage_arn)["Tags"] == {"a": "1", "b": "2"}
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["Tags"] == {"a": "1", "b": "2"}

    for bad_arn, code in [("not-an-arn", "BadRequestException"), (f"{arn}/routes/x", "BadRequestException"),
                          ("arn:aws:apigateway:us-east-1::/apis/nosuchapi0", "NotFoundException"),
                          (f"{arn}/stages/nosuch", "NotFoundException")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigw.get_tags(ResourceArn=bad_arn)
        assert error_of(e)[0] == code, bad_arn


YAML_DEFINITION = """
openapi: 3.0.1
info:
  title: from-yaml
  version: '1'
paths:
  /items/{id}:
    get:
      responses:
        200:
          description: ok
      x-amazon-apigateway-integration:
        type: HTTP_PROXY
        httpMethod: GET
        uri: https://items.example.com/{id}
        payloadFormatVersion: '1.0'
x-amazon-apigateway-cors:
  allowOrigins:
    - '*'
"""


def test_import_yaml_and_export_yaml(server, apigw, tmp_path):
    a = apigw.import_api(Body=YAML_DEFINITION)
    try:
        assert a["Name"] == "from-yaml" and a["CorsConfiguration"]["AllowOrigins"] == ["*"]
        routes = apigw.get_routes(ApiId=a["ApiId"])["Items"]
        assert [r["RouteKey"] for r in routes] == ["GET /items/{id}"]
        src = tmp_path / "api.yaml"
        src.write_text(YAML_DEFINITION.replace("/items/{id}:", "/things/{id}:"))
        server.aws("apigatewayv2", "reimport-api", "--api-id", a["ApiId"], "--body", f"file://{src}")
        assert [r["RouteKey"] for r in apigw.get_routes(ApiId=a["ApiId"])["Items"]] == ["GET /things/{id}"]
        text = apigw.export_api(ApiId=a["ApiId"], Specification="OAS30", OutputType="YAML")["body"].read().decode()
        assert "openapi: 3.0.1" in text and "/things/{id}:" in text and "x-amazon-apigateway-integration:" in text
        # What we export as YAML imports again.
        again = apigw.import_api(Body=text)
        try:
            assert [r["RouteKey"] for r in apigw.get_routes(ApiId=again["ApiId"])["Items"]] == ["GET /things/{id}"]
        finally:
            apigw.delete_api(ApiId=again["ApiId"])
    finally:
        apigw.delete_api(ApiId=a["ApiId"])


def test_concurrent_changes_are_not_lost(server, api):
    """Each change is a read-modify-write of the API: concurrent ones must all land."""
    from concurrent.futures import ThreadPoolExecutor

    api_id = api["ApiId"]

    def add(n):
        c = server.client("apigatewayv2")
        return c.create_route(ApiId=api_id, RouteKey=f"GET /c{n}")["RouteId"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(add, range(24)))
    c = server.client("apigatewayv2")
    routes = c.get_routes(ApiId=api_id, MaxResults="100")["Items"]
    assert sorted(r["RouteId"] for r in routes) == sorted(ids)
    assert len(set(ids)) == 24
