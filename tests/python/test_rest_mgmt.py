"""The API Gateway v1 management API (apigateway REST JSON) with boto3 and the aws CLI: REST
APIs, the resource tree, methods, integrations, Cognito authorizers, deployments, stages, tags,
patch operations, paging and AWS's error shapes and messages."""
import json
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

BACKEND = "https://backend.example.com/items"
FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
LAMBDA_URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN_ARN}/invocations"


@pytest.fixture
def apigw(server):
    return server.client("apigateway")


@pytest.fixture
def rest(apigw):
    a = apigw.create_rest_api(name=f"t-{uuid.uuid4().hex[:8]}")
    yield a
    try:
        apigw.delete_rest_api(restApiId=a["id"])
    except botocore.exceptions.ClientError:
        pass


def error_of(exc_info):
    e = exc_info.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"].get("Message", "")


def fails(fn, code, status, message=None, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    got = error_of(e)
    assert got[:2] == (code, status), got
    if message is not None:
        assert got[2] == message, got
    return got[2]


def cognito_authorizer(apigw, api_id, pool_arn, **extra):
    return apigw.create_authorizer(
        restApiId=api_id, name="cognito", type="COGNITO_USER_POOLS", providerARNs=[pool_arn],
        identitySource="method.request.header.Authorization", **extra,
    )


def resource_with_method(apigw, api_id, path_part="items", method="GET", integration=True):
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    r = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=path_part)
    apigw.put_method(restApiId=api_id, resourceId=r["id"], httpMethod=method, authorizationType="NONE")
    if integration:
        apigw.put_integration(
            restApiId=api_id, resourceId=r["id"], httpMethod=method, type="HTTP_PROXY",
            integrationHttpMethod=method, uri=BACKEND,
        )
    return r


# The tutorial's REST path with the aws CLI


def test_tutorial_rest_path_with_aws_cli(server, pool):
    api = server.aws("apigateway", "create-rest-api", "--name", "tutorial-rest", "--endpoint-configuration", "types=REGIONAL")
    api_id = api["id"]
    try:
        assert api["endpointConfiguration"]["types"] == ["REGIONAL"] and api["apiKeySource"] == "HEADER"
        resources = server.aws("apigateway", "get-resources", "--rest-api-id", api_id)["items"]
        assert len(resources) == 1 and resources[0]["path"] == "/" and resources[0]["id"] == api["rootResourceId"]
        users = server.aws(
            "apigateway", "create-resource", "--rest-api-id", api_id, "--parent-id", api["rootResourceId"], "--path-part", "users",
        )
        assert users["path"] == "/users" and users["pathPart"] == "users" and users["parentId"] == api["rootResourceId"]

        pool_arn = pool["pool"]["Arn"]
        auth = server.aws(
            "apigateway", "create-authorizer", "--rest-api-id", api_id, "--name", "cognito", "--type", "COGNITO_USER_POOLS",
            "--provider-arns", pool_arn, "--identity-source", "method.request.header.Authorization",
        )
        assert auth["type"] == "COGNITO_USER_POOLS" and auth["providerARNs"] == [pool_arn]
        assert auth["authorizerResultTtlInSeconds"] == 300

        method = server.aws(
            "apigateway", "put-method", "--rest-api-id", api_id, "--resource-id", users["id"], "--http-method", "GET",
            "--authorization-type", "COGNITO_USER_POOLS", "--authorizer-id", auth["id"],
        )
        assert method["authorizationType"] == "COGNITO_USER_POOLS" and method["authorizerId"] == auth["id"]
        assert method["apiKeyRequired"] is False

        integ = server.aws(
            "apigateway", "put-integration", "--rest-api-id", api_id, "--resource-id", users["id"], "--http-method", "GET",
            "--type", "HTTP_PROXY", "--integration-http-method", "GET", "--uri", BACKEND,
        )
        assert integ["type"] == "HTTP_PROXY" and integ["uri"] == BACKEND and integ["timeoutInMillis"] == 29000
        assert integ["connectionType"] == "INTERNET" and integ["passthroughBehavior"] == "WHEN_NO_MATCH"

        resp = server.aws(
            "apigateway", "put-method-response", "--rest-api-id", api_id, "--resource-id", users["id"], "--http-method", "GET",
            "--status-code", "200",
        )
        assert resp == {"statusCode": "200"}

        dep = server.aws("apigateway", "create-deployment", "--rest-api-id", api_id, "--stage-name", "dev")
        stage = server.aws("apigateway", "get-stage", "--rest-api-id", api_id, "--stage-name", "dev")
        assert stage["deploymentId"] == dep["id"] and stage["stageName"] == "dev"

        got = server.aws("apigateway", "get-deployment", "--rest-api-id", api_id, "--deployment-id", dep["id"], "--embed", "apisummary")
        assert got["apiSummary"] == {"/users": {"GET": {"authorizationType": "COGNITO_USER_POOLS", "apiKeyRequired": False}}}

        embedded = server.aws("apigateway", "get-resources", "--rest-api-id", api_id, "--embed", "methods")["items"]
        u = next(r for r in embedded if r["path"] == "/users")
        assert u["resourceMethods"]["GET"]["methodIntegration"]["uri"] == BACKEND
        assert u["resourceMethods"]["GET"]["methodResponses"] == {"200": {"statusCode": "200"}}

        up = server.aws(
            "apigateway", "update-stage", "--rest-api-id", api_id, "--stage-name", "dev",
            "--patch-operations", "op=replace,path=/*/*/throttling/rateLimit,value=50",
            "op=replace,path=/*/*/throttling/burstLimit,value=10",
        )
        assert up["methodSettings"]["*/*"]["throttlingRateLimit"] == 50.0
        assert up["methodSettings"]["*/*"]["throttlingBurstLimit"] == 10

        out = server.aws("apigateway", "get-rest-api", "--rest-api-id", "nosuchapi0", check=False)
        assert out.returncode != 0 and "NotFoundException" in out.stderr
        assert "Invalid API identifier specified 000000000000:nosuchapi0" in out.stderr
    finally:
        server.aws("apigateway", "delete-rest-api", "--rest-api-id", api_id)


# REST APIs


def test_rest_api_crud(apigw):
    a = apigw.create_rest_api(
        name="pets", description="d", version="1", binaryMediaTypes=["image/png"], minimumCompressionSize=1024,
        apiKeySource="AUTHORIZER", tags={"team": "a"},
    )
    api_id = a["id"]
    try:
        assert len(api_id) == 10 and api_id.isalnum() and api_id == api_id.lower()
        assert a["name"] == "pets" and a["description"] == "d" and a["version"] == "1"
        assert a["binaryMediaTypes"] == ["image/png"] and a["minimumCompressionSize"] == 1024
        assert a["apiKeySource"] == "AUTHORIZER" and a["endpointConfiguration"]["types"] == ["EDGE"]
        assert a["tags"] == {"team": "a"} and a["disableExecuteApiEndpoint"] is False
        assert a["createdDate"].year >= 2024 and a["rootResourceId"]

        got = apigw.get_rest_api(restApiId=api_id)
        assert got["name"] == "pets" and got["rootResourceId"] == a["rootResourceId"]

        up = apigw.update_rest_api(restApiId=api_id, patchOperations=[
            {"op": "replace", "path": "/name", "value": "pets2"},
            {"op": "replace", "path": "/description", "value": "d2"},
            {"op": "replace", "path": "/apiKeySource", "value": "HEADER"},
            {"op": "add", "path": "/binaryMediaTypes/image~1jpeg"},
            {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
            {"op": "replace", "path": "/minimumCompressionSize", "value": "0"},
            {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"},
            {"op": "replace", "path": "/endpointConfiguration/types/EDGE", "value": "REGIONAL"},
        ])
        assert up["name"] == "pets2" and up["description"] == "d2" and up["apiKeySource"] == "HEADER"
        assert up["binaryMediaTypes"] == ["image/jpeg"] and up["minimumCompressionSize"] == 0
        assert up["disableExecuteApiEndpoint"] is True and up["endpointConfiguration"]["types"] == ["REGIONAL"]

        up = apigw.update_rest_api(restApiId=api_id, patchOperations=[
            {"op": "replace", "path": "/binaryMediaTypes/image~1jpeg", "value": "application/octet-stream"},
            {"op": "replace", "path": "/minimumCompressionSize", "value": ""},
            {"op": "test", "path": "/name", "value": "pets2"},
            {"op": "copy", "from": "/name", "path": "/description"},
        ])
        assert up["binaryMediaTypes"] == ["application/octet-stream"] and "minimumCompressionSize" not in up
        assert up["description"] == "pets2"

        # One refused operation leaves the API as it was.
        fails(apigw.update_rest_api, "BadRequestException", 400, restApiId=api_id, patchOperations=[
            {"op": "replace", "path": "/name", "value": "never"},
            {"op": "replace", "path": "/minimumCompressionSize", "value": "99999999"},
        ])
        assert apigw.get_rest_api(restApiId=api_id)["name"] == "pets2"
        fails(apigw.update_rest_api, "BadRequestException", 400,
              "Invalid patch path  '/nope' specified for op 'replace'. Must be one of: [/name, /description, /version, /policy, /apiKeySource, /binaryMediaTypes/{type}, /minimumCompressionSize, /disableExecuteApiEndpoint, /endpointConfiguration/types/{type}]",
              restApiId=api_id, patchOperations=[{"op": "replace", "path": "/nope", "value": "x"}])
        fails(apigw.update_rest_api, "BadRequestException", 400,
              "Invalid patch path  '/name' specified for op 'add'. Please choose supported operations",
              restApiId=api_id, patchOperations=[{"op": "add", "path": "/name", "value": "x"}])
        fails(apigw.update_rest_api, "BadRequestException", 400,
              restApiId=api_id, patchOperations=[{"op": "test", "path": "/name", "value": "other"}])
        fails(apigw.update_rest_api, "BadRequestException", 400,
              restApiId=api_id, patchOperations=[{"op": "replace", "path": "/apiKeySource", "value": "COOKIE"}])
        fails(apigw.update_rest_api, "BadRequestException", 400,
              restApiId=api_id, patchOperations=[{"op": "replace", "path": "/endpointConfiguration/types/EDGE", "value": "REGIONAL"}])
    finally:
        apigw.delete_rest_api(restApiId=api_id)
    fails(apigw.get_rest_api, "NotFoundException", 404, f"Invalid API identifier specified 000000000000:{api_id}", restApiId=api_id)
    fails(apigw.delete_rest_api, "NotFoundException", 404, restApiId=api_id)
    fails(apigw.update_rest_api, "NotFoundException", 404, restApiId=api_id, patchOperations=[])


def test_create_rest_api_errors(apigw):
    fails(apigw.create_rest_api, "BadRequestException", 400, "Description cannot be an empty string", name="x", description="")
    fails(apigw.create_rest_api, "BadRequestException", 400,
          "Invalid minimum compression size, must be between 0 and 10485760", name="x", minimumCompressionSize=10485761)
    fails(apigw.create_rest_api, "BadRequestException", 400, name="x", apiKeySource="COOKIE")
    fails(apigw.create_rest_api, "BadRequestException", 400, name="x", endpointConfiguration={"types": ["EDGE", "REGIONAL"]})
    fails(apigw.create_rest_api, "BadRequestException", 400, name="  ")
    fails(apigw.create_rest_api, "NotFoundException", 404, name="x", cloneFrom="nosuchapi0")


def test_clone_from_copies_resources_and_authorizers(apigw, rest, pool):
    auth = cognito_authorizer(apigw, rest["id"], pool["pool"]["Arn"])
    r = resource_with_method(apigw, rest["id"])
    apigw.update_method(restApiId=rest["id"], resourceId=r["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/authorizationType", "value": "COGNITO_USER_POOLS"},
        {"op": "replace", "path": "/authorizerId", "value": auth["id"]},
    ])
    c = apigw.create_rest_api(name="clone", cloneFrom=rest["id"])
    try:
        items = apigw.get_resources(restApiId=c["id"], embed=["methods"])["items"]
        assert sorted(i["path"] for i in items) == ["/", "/items"]
        new_auth = apigw.get_authorizers(restApiId=c["id"])["items"]
        assert len(new_auth) == 1 and new_auth[0]["id"] != auth["id"]
        m = next(i for i in items if i["path"] == "/items")["resourceMethods"]["GET"]
        assert m["authorizerId"] == new_auth[0]["id"]
        assert c["rootResourceId"] == next(i["id"] for i in items if i["path"] == "/")
    finally:
        apigw.delete_rest_api(restApiId=c["id"])


def test_get_rest_apis_pages_with_position_and_limit(fresh_server):
    s = fresh_server()
    c = s.client("apigateway")
    ids = sorted(c.create_rest_api(name=f"p{i}")["id"] for i in range(5))
    seen, position = [], None
    while True:
        kw = {"limit": 2}
        if position:
            kw["position"] = position
        page = c.get_rest_apis(**kw)
        assert len(page["items"]) <= 2
        seen += [a["id"] for a in page["items"]]
        position = page.get("position")
        if not position:
            break
    assert seen == ids
    assert [a["id"] for a in c.get_rest_apis()["items"]] == ids
    # The paginator follows `position` too.
    got = [a["id"] for p in c.get_paginator("get_rest_apis").paginate(PaginationConfig={"PageSize": 2}) for a in p["items"]]
    assert got == ids
    fails(c.get_rest_apis, "BadRequestException", 400, limit=0)


def test_ids_are_shared_with_http_apis(server, apigw, rest):
    v2 = server.client("apigatewayv2")
    h = v2.create_api(Name="h", ProtocolType="HTTP")
    try:
        assert h["ApiId"] != rest["id"]
        fails(apigw.get_rest_api, "NotFoundException", 404, restApiId=h["ApiId"])
        with pytest.raises(botocore.exceptions.ClientError) as e:
            v2.get_api(ApiId=rest["id"])
        assert error_of(e)[:2] == ("NotFoundException", 404)
    finally:
        v2.delete_api(ApiId=h["ApiId"])


# Resources


def test_resource_tree_rules(apigw, rest):
    api_id, root = rest["id"], rest["rootResourceId"]
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    toys = apigw.create_resource(restApiId=api_id, parentId=pet["id"], pathPart="toys")
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    assert pet["path"] == "/pets/{petId}" and toys["path"] == "/pets/{petId}/toys" and proxy["path"] == "/{proxy+}"

    fails(apigw.create_resource, "ConflictException", 409,
          "Another resource with the same parent already has this name: pets", restApiId=api_id, parentId=root, pathPart="pets")
    fails(apigw.create_resource, "BadRequestException", 400,
          "A sibling ({petId}) of this resource already has a variable path part -- only one is allowed",
          restApiId=api_id, parentId=pets["id"], pathPart="{id}")
    fails(apigw.create_resource, "BadRequestException", 400,
          "Cannot create a child of a resource with a greedy path variable: {proxy+}",
          restApiId=api_id, parentId=proxy["id"], pathPart="x")
    fails(apigw.create_resource, "BadRequestException", 400,
          "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.",
          restApiId=api_id, parentId=root, pathPart="a b")
    fails(apigw.create_resource, "NotFoundException", 404, "Invalid Resource identifier specified",
          restApiId=api_id, parentId="nosuch", pathPart="x")
    fails(apigw.get_resource, "NotFoundException", 404, "Invalid Resource identifier specified", restApiId=api_id, resourceId="nosuch")

    got = apigw.get_resource(restApiId=api_id, resourceId=pet["id"])
    assert got == {k: v for k, v in pet.items() if k != "ResponseMetadata"} | {"ResponseMetadata": got["ResponseMetadata"]}

    # Rename and move: the subtree's paths follow.
    up = apigw.update_resource(restApiId=api_id, resourceId=pets["id"], patchOperations=[{"op": "replace", "path": "/pathPart", "value": "animals"}])
    assert up["path"] == "/animals"
    assert apigw.get_resource(restApiId=api_id, resourceId=toys["id"])["path"] == "/animals/{petId}/toys"
    moved = apigw.update_resource(restApiId=api_id, resourceId=toys["id"], patchOperations=[{"op": "replace", "path": "/parentId", "value": root}])
    assert moved["path"] == "/toys" and moved["parentId"] == root
    fails(apigw.update_resource, "BadRequestException", 400, "Resources cannot be cyclical.",
          restApiId=api_id, resourceId=pets["id"], patchOperations=[{"op": "replace", "path": "/parentId", "value": pet["id"]}])
    fails(apigw.update_resource, "ConflictException", 409,
          restApiId=api_id, resourceId=toys["id"], patchOperations=[{"op": "replace", "path": "/pathPart", "value": "animals"}])
    fails(apigw.update_resource, "BadRequestException", 400,
          "Invalid patch path  '/path' specified for op 'replace'. Must be one of: [/parentId, /pathPart]",
          restApiId=api_id, resourceId=toys["id"], patchOperations=[{"op": "replace", "path": "/path", "value": "x"}])

    # Paging and embedding.
    apigw.put_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", authorizationType="NONE")
    items = apigw.get_resources(restApiId=api_id)["items"]
    assert len(items) == 5
    assert next(i for i in items if i["id"] == pet["id"])["resourceMethods"] == {"GET": {}}
    root_item = next(i for i in items if i["id"] == root)
    assert "parentId" not in root_item and "pathPart" not in root_item and root_item["path"] == "/"
    embedded = apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]
    assert next(i for i in embedded if i["id"] == pet["id"])["resourceMethods"]["GET"]["authorizationType"] == "NONE"
    page1 = apigw.get_resources(restApiId=api_id, limit=3)
    page2 = apigw.get_resources(restApiId=api_id, limit=3, position=page1["position"])
    assert len(page1["items"]) == 3 and len(page2["items"]) == 2 and "position" not in page2

    # Deleting deletes the subtree; the root stays.
    apigw.delete_resource(restApiId=api_id, resourceId=pets["id"])
    fails(apigw.get_resource, "NotFoundException", 404, restApiId=api_id, resourceId=pet["id"])
    assert sorted(i["path"] for i in apigw.get_resources(restApiId=api_id)["items"]) == ["/", "/toys", "/{proxy+}"]
    fails(apigw.delete_resource, "BadRequestException", 400, restApiId=api_id, resourceId=root)
    fails(apigw.delete_resource, "NotFoundException", 404, restApiId=api_id, resourceId=pets["id"])


# Methods


def test_methods_and_method_responses(apigw, rest, pool):
    api_id = rest["id"]
    r = apigw.create_resource(restApiId=api_id, parentId=rest["rootResourceId"], pathPart="items")
    m = apigw.put_method(
        restApiId=api_id, resourceId=r["id"], httpMethod="POST", authorizationType="NONE", apiKeyRequired=True,
        operationName="CreateItem", requestParameters={"method.request.header.X-Trace": False, "method.request.querystring.q": True},
        requestModels={"application/json": "Empty"},
    )
    assert m["httpMethod"] == "POST" and m["apiKeyRequired"] is True and m["operationName"] == "CreateItem"
    assert m["requestParameters"] == {"method.request.header.X-Trace": False, "method.request.querystring.q": True}
    fails(apigw.put_method, "ConflictException", 409, "Method already exists for this resource",
          restApiId=api_id, resourceId=r["id"], httpMethod="POST", authorizationType="NONE")
    fails(apigw.put_method, "BadRequestException", 400,
          "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY",
          restApiId=api_id, resourceId=r["id"], httpMethod="FETCH", authorizationType="NONE")
    invalid_auth = "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer."
    fails(apigw.put_method, "BadRequestException", 400, invalid_auth,
          restApiId=api_id, resourceId=r["id"], httpMethod="GET", authorizationType="COGNITO_USER_POOLS")
    fails(apigw.put_method, "BadRequestException", 400, invalid_auth,
          restApiId=api_id, resourceId=r["id"], httpMethod="GET", authorizationType="COGNITO_USER_POOLS", authorizerId="nosuch")
    fails(apigw.put_method, "BadRequestException", 400, "Parameter names must be unique across querystring, header and path",
          restApiId=api_id, resourceId=r["id"], httpMethod="GET", authorizationType="NONE",
          requestParameters={"method.request.header.id": True, "method.request.querystring.id": False})
    fails(apigw.put_method, "BadRequestException", 400, "Invalid model identifier specified: Pet",
          restApiId=api_id, resourceId=r["id"], httpMethod="GET", authorizationType="NONE", requestModels={"application/json": "Pet"})
    fails(apigw.put_method, "NotFoundException", 404, "Invalid Resource identifier specified",
          restApiId=api_id, resourceId="nosuch", httpMethod="GET", authorizationType="NONE")

    # A TOKEN authorizer does not serve COGNITO_USER_POOLS.
    token = apigw.create_authorizer(restApiId=api_id, name="lambda", type="TOKEN", authorizerUri=LAMBDA_URI,
                                    identitySource="method.request.header.Authorization")
    fails(apigw.put_method, "BadRequestException", 400,
          restApiId=api_id, resourceId=r["id"], httpMethod="GET", authorizationType="COGNITO_USER_POOLS", authorizerId=token["id"])
    custom = apigw.put_method(restApiId=api_id, resourceId=r["id"], httpMethod="PUT", authorizationType="CUSTOM", authorizerId=token["id"])
    assert custom["authorizerId"] == token["id"]

    auth = cognito_authorizer(apigw, api_id, pool["pool"]["Arn"])
    up = apigw.update_method(restApiId=api_id, resourceId=r["id"], httpMethod="POST", patchOperations=[
        {"op": "replace", "path": "/authorizationType", "value": "COGNITO_USER_POOLS"},
        {"op": "replace", "path": "/authorizerId", "value": auth["id"]},
        {"op": "add", "path": "/authorizationScopes", "value": "items/write"},
        {"op": "replace", "path": "/apiKeyRequired", "value": "false"},
        {"op": "add", "path": "/requestParameters/method.request.path.id", "value": "true"},
        {"op": "remove", "path": "/requestParameters/method.request.header.X-Trace"},
        {"op": "replace", "path": "/operationName", "value": "PostItem"},
    ])
    assert up["authorizationType"] == "COGNITO_USER_POOLS" and up["authorizerId"] == auth["id"]
    assert up["authorizationScopes"] == ["items/write"] and up["apiKeyRequired"] is False
    assert up["requestParameters"] == {"method.request.path.id": True, "method.request.querystring.q": True}
    assert up["operationName"] == "PostItem"
    fails(apigw.update_method, "BadRequestException", 400, invalid_auth,
          restApiId=api_id, resourceId=r["id"], httpMethod="POST",
          patchOperations=[{"op": "replace", "path": "/authorizerId", "value": "nosuch"}])
    none = apigw.update_method(restApiId=api_id, resourceId=r["id"], httpMethod="POST",
                               patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "NONE"}])
    assert none["authorizationType"] == "NONE" and "authorizerId" not in none
    fails(apigw.update_method, "BadRequestException", 400, restApiId=api_id, resourceId=r["id"], httpMethod="POST",
          patchOperations=[{"op": "replace", "path": "/httpMethod", "value": "GET"}])
    fails(apigw.get_method, "NotFoundException", 404, "Invalid Method identifier specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="DELETE")

    # Method responses.
    mr = apigw.put_method_response(restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="201",
                                   responseParameters={"method.response.header.Location": True},
                                   responseModels={"application/json": "Empty"})
    assert mr == {**mr, "statusCode": "201", "responseParameters": {"method.response.header.Location": True}}
    fails(apigw.put_method_response, "ConflictException", 409, "Response already exists for this resource",
          restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="201")
    fails(apigw.put_method_response, "BadRequestException", 400, "Invalid status code specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="2000")
    fails(apigw.put_method_response, "BadRequestException", 400,
          restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="400", responseParameters={"header.X": True})
    up = apigw.update_method_response(restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="201", patchOperations=[
        {"op": "add", "path": "/responseParameters/method.response.header.X-Id", "value": "false"},
        {"op": "remove", "path": "/responseModels/application~1json"},
    ])
    assert up["responseParameters"] == {"method.response.header.Location": True, "method.response.header.X-Id": False}
    assert "responseModels" not in up
    got = apigw.get_method_response(restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="201")
    assert got["responseParameters"] == up["responseParameters"]
    assert apigw.get_method(restApiId=api_id, resourceId=r["id"], httpMethod="POST")["methodResponses"]["201"]["statusCode"] == "201"
    apigw.delete_method_response(restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="201")
    fails(apigw.get_method_response, "NotFoundException", 404, "Invalid Response status code specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="POST", statusCode="201")

    apigw.delete_method(restApiId=api_id, resourceId=r["id"], httpMethod="POST")
    fails(apigw.delete_method, "NotFoundException", 404, "Invalid Method identifier specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="POST")


# Integrations


def test_integrations_and_integration_responses(apigw, rest):
    api_id = rest["id"]
    r = apigw.create_resource(restApiId=api_id, parentId=rest["rootResourceId"], pathPart="{proxy+}")
    apigw.put_method(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", authorizationType="NONE",
                     requestParameters={"method.request.path.proxy": True})
    fails(apigw.get_integration, "NotFoundException", 404, "Invalid Integration identifier specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="ANY")

    put = lambda **kw: apigw.put_integration(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", **kw)  # noqa: E731
    i = put(type="HTTP_PROXY", integrationHttpMethod="ANY", uri="https://backend.example.com/{proxy}",
            requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
            cacheKeyParameters=["method.request.path.proxy"])
    assert i["type"] == "HTTP_PROXY" and i["httpMethod"] == "ANY" and i["uri"] == "https://backend.example.com/{proxy}"
    assert i["timeoutInMillis"] == 29000 and i["passthroughBehavior"] == "WHEN_NO_MATCH" and i["connectionType"] == "INTERNET"
    assert i["cacheNamespace"] == r["id"] and i["cacheKeyParameters"] == ["method.request.path.proxy"]
    assert i["requestParameters"] == {"integration.request.path.proxy": "method.request.path.proxy"}

    lam = put(type="AWS_PROXY", integrationHttpMethod="POST", uri=LAMBDA_URI, timeoutInMillis=5000)
    assert lam["type"] == "AWS_PROXY" and lam["uri"] == LAMBDA_URI and lam["timeoutInMillis"] == 5000
    mock = put(type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    assert mock["type"] == "MOCK" and mock["requestTemplates"] == {"application/json": '{"statusCode": 200}'}
    assert "uri" not in mock and "httpMethod" not in mock

    fails(put, "BadRequestException", 400, "Enumeration value for HttpMethod must be non-empty", type="HTTP_PROXY", uri=BACKEND)
    fails(put, "BadRequestException", 400, "Invalid HTTP endpoint specified for URI", type="HTTP", integrationHttpMethod="GET", uri="ftp://x")
    fails(put, "BadRequestException", 400,
          "Integrations of type 'AWS_PROXY' currently only supports Lambda function and Firehose stream invocations.",
          type="AWS_PROXY", integrationHttpMethod="POST", uri="arn:aws:apigateway:us-east-1:s3:path/bucket")
    fails(put, "BadRequestException", 400, type="AWS_PROXY", integrationHttpMethod="POST",
          uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/hello/invocations")
    fails(put, "BadRequestException", 400, "Timeout should be between 50 ms and 29000 ms",
          type="HTTP_PROXY", integrationHttpMethod="GET", uri=BACKEND, timeoutInMillis=29001)
    fails(put, "BadRequestException", 400, "Timeout should be between 50 ms and 29000 ms",
          type="HTTP_PROXY", integrationHttpMethod="GET", uri=BACKEND, timeoutInMillis=49)
    fails(put, "BadRequestException", 400, type="HTTP_PROXY", integrationHttpMethod="GET", uri=BACKEND, passthroughBehavior="ALWAYS")
    fails(put, "BadRequestException", 400,
          "1 validation error detected: Value 'SOAP' at 'putIntegrationInput.type' failed to satisfy constraint: Member must satisfy enum value set: [HTTP, AWS, MOCK, HTTP_PROXY, AWS_PROXY]",
          type="SOAP")
    # Stage variables in the backend: the host, or the whole function ARN.
    put(type="HTTP_PROXY", integrationHttpMethod="GET", uri="https://${stageVariables.host}/{proxy}")
    put(type="AWS_PROXY", integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${stageVariables.fnArn}/invocations")
    put(type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    fails(put, "BadRequestException", 400, type="HTTP_PROXY", integrationHttpMethod="GET", uri=BACKEND,
          requestParameters={"integration.request.body": "method.request.path.proxy"})
    # The refused puts left the MOCK integration in place.
    assert apigw.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod="ANY")["type"] == "MOCK"

    # Integration responses need a method response of the same status.
    fails(apigw.put_integration_response, "NotFoundException", 404, "Invalid Response status code specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200")
    apigw.put_method_response(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200")
    ir = apigw.put_integration_response(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200",
                                        selectionPattern="", responseTemplates={"application/json": '{"ok": true}'})
    assert ir["statusCode"] == "200" and ir["selectionPattern"] == "" and ir["responseTemplates"] == {"application/json": '{"ok": true}'}
    fails(apigw.put_integration_response, "BadRequestException", 400,
          restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200", selectionPattern="(")
    up = apigw.update_integration_response(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200", patchOperations=[
        {"op": "replace", "path": "/selectionPattern", "value": "2\\d{2}"},
        {"op": "add", "path": "/responseParameters/method.response.header.X-A", "value": "'a'"},
        {"op": "remove", "path": "/responseTemplates/application~1json"},
    ])
    assert up["selectionPattern"] == "2\\d{2}" and up["responseParameters"] == {"method.response.header.X-A": "'a'"}
    assert "responseTemplates" not in up
    got = apigw.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod="ANY")
    assert got["integrationResponses"]["200"]["selectionPattern"] == "2\\d{2}"

    # UpdateIntegration by patch; a patch that breaks the integration is refused whole.
    up = apigw.update_integration(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "1000"},
        {"op": "add", "path": "/requestTemplates/text~1plain", "value": "x"},
        {"op": "replace", "path": "/passthroughBehavior", "value": "NEVER"},
    ])
    assert up["timeoutInMillis"] == 1000 and up["requestTemplates"]["text/plain"] == "x" and up["passthroughBehavior"] == "NEVER"
    fails(apigw.update_integration, "BadRequestException", 400, restApiId=api_id, resourceId=r["id"], httpMethod="ANY",
          patchOperations=[{"op": "replace", "path": "/timeoutInMillis", "value": "100000"}])
    fails(apigw.update_integration, "BadRequestException", 400, restApiId=api_id, resourceId=r["id"], httpMethod="ANY",
          patchOperations=[{"op": "replace", "path": "/type", "value": "HTTP"}])

    apigw.delete_integration_response(restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200")
    fails(apigw.get_integration_response, "NotFoundException", 404,
          restApiId=api_id, resourceId=r["id"], httpMethod="ANY", statusCode="200")
    apigw.delete_integration(restApiId=api_id, resourceId=r["id"], httpMethod="ANY")
    fails(apigw.delete_integration, "NotFoundException", 404, "Invalid Integration identifier specified",
          restApiId=api_id, resourceId=r["id"], httpMethod="ANY")


# Authorizers


def test_cognito_authorizers(server, apigw, rest, pool, idp):
    api_id, arn = rest["id"], pool["pool"]["Arn"]
    other = idp.create_user_pool(PoolName=f"t-{uuid.uuid4().hex[:8]}")["UserPool"]
    missing = arn.replace(pool["id"], pool["id"].split("_")[0] + "_Missing99")
    a = cognito_authorizer(apigw, api_id, arn, identityValidationExpression="^Bearer [-0-9a-zA-Z._]+$")
    assert a["name"] == "cognito" and a["type"] == "COGNITO_USER_POOLS" and a["providerARNs"] == [arn]
    assert a["identitySource"] == "method.request.header.Authorization"
    assert a["identityValidationExpression"] == "^Bearer [-0-9a-zA-Z._]+$"
    assert apigw.get_authorizer(restApiId=api_id, authorizerId=a["id"])["providerARNs"] == [arn]

    create = lambda **kw: apigw.create_authorizer(restApiId=api_id, name="x", **kw)  # noqa: E731
    fails(create, "BadRequestException", 400, type="COGNITO_USER_POOLS", providerARNs=[arn])
    fails(create, "BadRequestException", 400, type="COGNITO_USER_POOLS", providerARNs=[],
          identitySource="method.request.header.Authorization")
    fails(create, "BadRequestException", 400, type="COGNITO_USER_POOLS", providerARNs=["us-east-1_abc"],
          identitySource="method.request.header.Authorization")
    # The pool must exist here.
    fails(create, "BadRequestException", 400,
          f"Invalid Cognito User Pool ARN specified: {missing}. There is no user pool {missing.rsplit('/', 1)[1]}",
          type="COGNITO_USER_POOLS", providerARNs=[missing], identitySource="method.request.header.Authorization")
    fails(apigw.create_authorizer, "NotFoundException", 404, restApiId="nosuchapi0", name="x", type="COGNITO_USER_POOLS",
          providerARNs=[arn], identitySource="method.request.header.Authorization")
    fails(create, "BadRequestException", 400, type="COGNITO_USER_POOLS", providerARNs=[arn],
          identitySource="method.request.querystring.token")
    fails(create, "BadRequestException", 400, type="COGNITO_USER_POOLS", providerARNs=[arn],
          identitySource="method.request.header.Authorization", identityValidationExpression="(")
    fails(create, "BadRequestException", 400, type="JWT", providerARNs=[arn])
    fails(create, "BadRequestException", 400, type="TOKEN", identitySource="method.request.header.Authorization")
    req = apigw.create_authorizer(restApiId=api_id, name="req", type="REQUEST", authorizerUri=LAMBDA_URI,
                                  identitySource="method.request.header.X-Key,method.request.querystring.k",
                                  authorizerResultTtlInSeconds=0)
    assert req["type"] == "REQUEST" and req["authorizerResultTtlInSeconds"] == 0

    page1 = apigw.get_authorizers(restApiId=api_id, limit=1)
    page2 = apigw.get_authorizers(restApiId=api_id, limit=1, position=page1["position"])
    assert [x["id"] for x in page1["items"] + page2["items"]] == [a["id"], req["id"]]

    up = apigw.update_authorizer(restApiId=api_id, authorizerId=a["id"], patchOperations=[
        {"op": "replace", "path": "/name", "value": "cog2"},
        {"op": "replace", "path": "/identityValidationExpression", "value": ".+"},
        {"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "60"},
        {"op": "add", "path": "/providerARNs", "value": other["Arn"]},
    ])
    assert up["name"] == "cog2" and up["identityValidationExpression"] == ".+" and up["authorizerResultTtlInSeconds"] == 60
    assert len(up["providerARNs"]) == 2
    fails(apigw.update_authorizer, "BadRequestException", 400, restApiId=api_id, authorizerId=a["id"],
          patchOperations=[{"op": "add", "path": "/providerARNs", "value": "not-an-arn"}])
    fails(apigw.update_authorizer, "BadRequestException", 400, restApiId=api_id, authorizerId=a["id"],
          patchOperations=[{"op": "add", "path": "/providerARNs", "value": missing}])
    up = apigw.update_authorizer(restApiId=api_id, authorizerId=a["id"],
                                 patchOperations=[{"op": "remove", "path": "/providerARNs", "value": other["Arn"]}])
    assert up["providerARNs"] == [arn]
    idp.delete_user_pool(UserPoolId=other["Id"])
    fails(apigw.update_authorizer, "BadRequestException", 400, restApiId=api_id, authorizerId=a["id"],
          patchOperations=[{"op": "replace", "path": "/identitySource", "value": ""}])

    # In use: refused until the method lets go.
    r = resource_with_method(apigw, api_id)
    apigw.update_method(restApiId=api_id, resourceId=r["id"], httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/authorizationType", "value": "COGNITO_USER_POOLS"},
        {"op": "replace", "path": "/authorizerId", "value": a["id"]},
    ])
    fails(apigw.delete_authorizer, "ConflictException", 409, "Cannot delete authorizer, is referenced in method: GET//items",
          restApiId=api_id, authorizerId=a["id"])
    fails(apigw.update_authorizer, "BadRequestException", 400, restApiId=api_id, authorizerId=a["id"],
          patchOperations=[{"op": "replace", "path": "/type", "value": "TOKEN"},
                           {"op": "replace", "path": "/authorizerUri", "value": LAMBDA_URI}])
    apigw.delete_method(restApiId=api_id, resourceId=r["id"], httpMethod="GET")
    apigw.delete_authorizer(restApiId=api_id, authorizerId=a["id"])
    fails(apigw.get_authorizer, "NotFoundException", 404, "Invalid Authorizer identifier specified",
          restApiId=api_id, authorizerId=a["id"])
    fails(apigw.delete_authorizer, "NotFoundException", 404, restApiId=api_id, authorizerId=a["id"])


# Deployments and stages


def test_deployments_and_stages(apigw, rest):
    api_id = rest["id"]
    fails(apigw.create_deployment, "BadRequestException", 400, "The REST API doesn't contain any methods", restApiId=api_id)
    r = resource_with_method(apigw, api_id, integration=False)
    fails(apigw.create_deployment, "BadRequestException", 400, "No integration defined for method", restApiId=api_id)
    apigw.put_integration(restApiId=api_id, resourceId=r["id"], httpMethod="GET", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})

    d1 = apigw.create_deployment(restApiId=api_id, description="first", stageName="dev", stageDescription="development",
                                 variables={"backend": "https://b.example.com"})
    assert d1["description"] == "first" and d1["createdDate"].year >= 2024
    dev = apigw.get_stage(restApiId=api_id, stageName="dev")
    assert dev["deploymentId"] == d1["id"] and dev["description"] == "development"
    assert dev["variables"] == {"backend": "https://b.example.com"} and dev["tracingEnabled"] is False
    assert dev["cacheClusterEnabled"] is False and dev["cacheClusterStatus"] == "NOT_AVAILABLE"

    d2 = apigw.create_deployment(restApiId=api_id, description="second")
    assert [d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]] == [d1["id"], d2["id"]]
    p1 = apigw.get_deployments(restApiId=api_id, limit=1)
    assert len(p1["items"]) == 1 and p1["position"]
    assert apigw.get_deployment(restApiId=api_id, deploymentId=d2["id"])["description"] == "second"
    summary = apigw.get_deployment(restApiId=api_id, deploymentId=d2["id"], embed=["apisummary"])["apiSummary"]
    assert summary == {"/items": {"GET": {"authorizationType": "NONE", "apiKeyRequired": False}}}
    up = apigw.update_deployment(restApiId=api_id, deploymentId=d2["id"],
                                 patchOperations=[{"op": "replace", "path": "/description", "value": "2nd"}])
    assert up["description"] == "2nd"

    prod = apigw.create_stage(restApiId=api_id, stageName="prod", deploymentId=d2["id"], description="p",
                              variables={"v": "1"}, tags={"env": "prod"})
    assert prod["stageName"] == "prod" and prod["deploymentId"] == d2["id"] and prod["tags"] == {"env": "prod"}
    fails(apigw.create_stage, "ConflictException", 409, "Stage already exists", restApiId=api_id, stageName="prod", deploymentId=d2["id"])
    fails(apigw.create_stage, "NotFoundException", 404, "Invalid Deployment identifier specified",
          restApiId=api_id, stageName="qa", deploymentId="nosuch")
    fails(apigw.create_stage, "BadRequestException", 400, "Stage name only allows a-zA-Z0-9_-",
          restApiId=api_id, stageName="q a", deploymentId=d2["id"])
    fails(apigw.create_stage, "BadRequestException", 400,
          "Stage variable names may only contain alphanumeric characters and underscores",
          restApiId=api_id, stageName="qa", deploymentId=d2["id"], variables={"bad name": "x"})
    fails(apigw.create_stage, "BadRequestException", 400,
          "Stage variable values must match the regular expression [A-Za-z0-9-._~:/?#&=,]+",
          restApiId=api_id, stageName="qa", deploymentId=d2["id"], variables={"v": "a b"})
    assert sorted(s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]) == ["dev", "prod"]
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id, deploymentId=d1["id"])["item"]] == ["dev"]

    # Repointing a stage by deployment, and by UpdateStage.
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    assert apigw.get_stage(restApiId=api_id, stageName="dev")["deploymentId"] != d1["id"]

    s = apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": d1["id"]},
        {"op": "replace", "path": "/description", "value": "production"},
        {"op": "replace", "path": "/variables/backend", "value": "https://prod.example.com"},
        {"op": "remove", "path": "/variables/v"},
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "20"},
        {"op": "replace", "path": "/~1items/GET/throttling/burstLimit", "value": "5"},
        {"op": "replace", "path": "/~1items/GET/logging/loglevel", "value": "INFO"},
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": "arn:aws:logs:us-east-1:000000000000:log-group:access"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"},
        {"op": "replace", "path": "/tracingEnabled", "value": "true"},
    ])
    assert s["deploymentId"] == d1["id"] and s["description"] == "production"
    assert s["variables"] == {"backend": "https://prod.example.com"} and s["tracingEnabled"] is True
    assert s["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0 and s["methodSettings"]["*/*"]["throttlingBurstLimit"] == 20
    item = s["methodSettings"]["~1items/GET"]
    assert item["throttlingBurstLimit"] == 5 and item["throttlingRateLimit"] == 100.0 and item["loggingLevel"] == "INFO"
    assert s["accessLogSettings"] == {"destinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:access", "format": "$context.requestId"}
    assert s["lastUpdatedDate"] >= s["createdDate"]

    msg = fails(apigw.update_stage, "BadRequestException", 400, restApiId=api_id, stageName="prod",
                patchOperations=[{"op": "replace", "path": "/nope", "value": "x"}])
    assert msg.startswith("Invalid method setting path: /nope. Must be one of: [/deploymentId, /description,")
    fails(apigw.update_stage, "BadRequestException", 400, restApiId=api_id, stageName="prod",
          patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "fast"}])
    fails(apigw.update_stage, "NotFoundException", 404, "Invalid Deployment identifier specified", restApiId=api_id, stageName="prod",
          patchOperations=[{"op": "replace", "path": "/deploymentId", "value": "nosuch"}])
    s = apigw.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "remove", "path": "/*/*"}, {"op": "remove", "path": "/accessLogSettings"}])
    assert "*/*" not in s["methodSettings"] and "accessLogSettings" not in s
    fails(apigw.update_stage, "BadRequestException", 400,
          "Cannot remove method setting */* because there is no method setting for this method ",
          restApiId=api_id, stageName="prod", patchOperations=[{"op": "remove", "path": "/*/*"}])

    fails(apigw.delete_deployment, "BadRequestException", 400, "Active stages pointing to this deployment must be moved or deleted",
          restApiId=api_id, deploymentId=d1["id"])
    apigw.delete_stage(restApiId=api_id, stageName="prod")
    fails(apigw.get_stage, "NotFoundException", 404, "Invalid stage identifier specified", restApiId=api_id, stageName="prod")
    fails(apigw.delete_stage, "NotFoundException", 404, restApiId=api_id, stageName="prod")
    apigw.delete_deployment(restApiId=api_id, deploymentId=d1["id"])
    fails(apigw.get_deployment, "NotFoundException", 404, "Invalid Deployment identifier specified",
          restApiId=api_id, deploymentId=d1["id"])
    fails(apigw.create_deployment, "BadRequestException", 400, restApiId=api_id, stageName="x", cacheClusterEnabled=True)


def test_deployment_freezes_the_api(apigw, rest):
    api_id = rest["id"]
    r = resource_with_method(apigw, api_id)
    d = apigw.create_deployment(restApiId=api_id, stageName="v1")
    apigw.put_method(restApiId=api_id, resourceId=r["id"], httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=r["id"], httpMethod="POST", type="MOCK")
    before = apigw.get_deployment(restApiId=api_id, deploymentId=d["id"], embed=["apisummary"])["apiSummary"]
    assert before == {"/items": {"GET": {"authorizationType": "NONE", "apiKeyRequired": False}}}
    d2 = apigw.create_deployment(restApiId=api_id)
    after = apigw.get_deployment(restApiId=api_id, deploymentId=d2["id"], embed=["apisummary"])["apiSummary"]
    assert set(after["/items"]) == {"GET", "POST"}


# Tags


def test_tags_of_rest_apis_and_stages(apigw, rest):
    api_id = rest["id"]
    resource_with_method(apigw, api_id)
    apigw.create_deployment(restApiId=api_id, stageName="dev")
    api_arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}"
    stage_arn = f"{api_arn}/stages/dev"
    apigw.tag_resource(resourceArn=api_arn, tags={"team": "a", "env": "test"})
    apigw.tag_resource(resourceArn=stage_arn, tags={"tier": "gold"})
    assert apigw.get_tags(resourceArn=api_arn)["tags"] == {"team": "a", "env": "test"}
    assert apigw.get_tags(resourceArn=stage_arn)["tags"] == {"tier": "gold"}
    assert apigw.get_rest_api(restApiId=api_id)["tags"] == {"team": "a", "env": "test"}
    assert apigw.get_stage(restApiId=api_id, stageName="dev")["tags"] == {"tier": "gold"}
    apigw.untag_resource(resourceArn=api_arn, tagKeys=["env"])
    assert apigw.get_tags(resourceArn=api_arn)["tags"] == {"team": "a"}
    fails(apigw.tag_resource, "BadRequestException", 400, resourceArn=api_arn, tags={"aws:x": "y"})
    fails(apigw.get_tags, "NotFoundException", 404, resourceArn=f"{api_arn}/stages/nosuch")
    fails(apigw.get_tags, "NotFoundException", 404, resourceArn="arn:aws:apigateway:us-east-1::/restapis/nosuchapi0")
    fails(apigw.get_tags, "BadRequestException", 400, resourceArn=f"{api_arn}/resources/x")


# Wire


def signed(server, method, path, body=b"", service="apigateway"):
    url = server.url + path
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
    botocore.auth.SigV4Auth(
        botocore.credentials.Credentials("AKIDGATEHOUSETEST", "gatehouse-test-secret-key-0123456789"), service, "us-east-1",
    ).add_auth(req)
    return requests.request(method, url, data=body, headers=dict(req.headers))


def test_wire_errors_and_signatures(server, rest):
    r = requests.get(server.url + "/restapis")
    assert r.status_code == 403 and r.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    bad = server.client("apigateway", secret_key="wrong-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.get_rest_apis()
    assert error_of(e)[:2] == ("InvalidSignatureException", 403)
    assert signed(server, "GET", "/restapis", service="cognito-idp").status_code == 403

    r = signed(server, "GET", "/restapis/nosuchapi0")
    assert r.status_code == 404 and r.headers["x-amzn-errortype"] == "NotFoundException"
    assert r.json() == {"message": "Invalid API identifier specified 000000000000:nosuchapi0"}
    for body in [b"{not json", b"[1]", b'{"name": 5}']:
        r = signed(server, "POST", "/restapis", body)
        assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "BadRequestException", body
    for body in [b'{"patchOperations": 5}', b'{"patchOperations": [{"op": "frob", "path": "/name"}]}',
                 b'{"patchOperations": [{"op": "replace"}]}', b'{"patchOperations": [{"op": "replace", "path": "name", "value": "x"}]}']:
        r = signed(server, "PATCH", f"/restapis/{rest['id']}", body)
        assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "BadRequestException", body
    r = signed(server, "GET", f"/restapis/{rest['id']}/resources?limit=abc")
    assert r.status_code == 400
    r = signed(server, "POST", "/restapis?mode=import", b"{}")
    assert r.status_code == 400 and r.headers["x-amzn-errortype"] == "BadRequestException"
    # The v2 API keeps answering beside v1.
    assert signed(server, "GET", "/v2/apis").status_code == 200
    # Dates are epoch seconds, as AWS sends them.
    assert isinstance(signed(server, "GET", f"/restapis/{rest['id']}").json()["createdDate"], int)


def test_concurrent_changes_are_not_lost(server, rest):
    import concurrent.futures

    def add(n):
        c = server.client("apigateway")
        return c.create_resource(restApiId=rest["id"], parentId=rest["rootResourceId"], pathPart=f"r{n}")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(16)))
    c = server.client("apigateway")
    assert len(c.get_resources(restApiId=rest["id"], limit=100)["items"]) == 17


def test_state_survives_restart(fresh_server):
    s = fresh_server()
    c = s.client("apigateway")
    a = c.create_rest_api(name="durable")
    resource_with_method(c, a["id"])
    d = c.create_deployment(restApiId=a["id"], stageName="prod")
    s.restart()
    c = s.client("apigateway")
    assert c.get_rest_api(restApiId=a["id"])["name"] == "durable"
    assert c.get_stage(restApiId=a["id"], stageName="prod")["deploymentId"] == d["id"]
    summary = c.get_deployment(restApiId=a["id"], deploymentId=d["id"], embed=["apisummary"])["apiSummary"]
    assert "/items" in summary


# OpenAPI import, put and export


def oas30_doc(pool_arn, title="petstore"):
    return f"""
openapi: 3.0.1
info:
  title: {title}
  version: "2026-11-27"
x-amazon-apigateway-binary-media-types: ["image/png"]
paths:
  /pets:
    get:
      operationId: ListPets
      parameters:
        - name: limit
          in: query
          required: false
          schema: {{type: string}}
      security:
        - cognito: [pets/read]
      responses:
        "200":
          description: ok
          headers:
            X-Count: {{schema: {{type: string}}}}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: https://backend.example.com/pets
        passthroughBehavior: when_no_match
        timeoutInMillis: 3000
  /pets/{{petId}}:
    parameters:
      - name: petId
        in: path
        required: true
        schema: {{type: string}}
    get:
      security:
        - cognito: []
        - api_key: []
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {LAMBDA_URI}
  /{{proxy+}}:
    x-amazon-apigateway-any-method:
      security:
        - api_key: []
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{{"statusCode": 200}}'
        responses:
          default:
            statusCode: "200"
components:
  securitySchemes:
    cognito:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: cognito_user_pools
      x-amazon-apigateway-authorizer:
        type: cognito_user_pools
        providerARNs: ["{pool_arn}"]
    api_key:
      type: apiKey
      name: x-api-key
      in: header
"""


def summary_of(apigw, api_id, stage="s"):
    d = apigw.create_deployment(restApiId=api_id, stageName=stage)
    return apigw.get_deployment(restApiId=api_id, deploymentId=d["id"], embed=["apisummary"])["apiSummary"]


EXPECTED_SUMMARY = {
    "/pets": {"GET": {"authorizationType": "COGNITO_USER_POOLS", "apiKeyRequired": False}},
    "/pets/{petId}": {"GET": {"authorizationType": "COGNITO_USER_POOLS", "apiKeyRequired": True}},
    "/{proxy+}": {"ANY": {"authorizationType": "NONE", "apiKeyRequired": True}},
}


def test_import_oas30_with_cognito_authorizer_and_export_round_trip(apigw, pool):
    arn = pool["pool"]["Arn"]
    a = apigw.import_rest_api(body=oas30_doc(arn).encode(), failOnWarnings=True)
    try:
        assert a["name"] == "petstore" and a["version"] == "2026-11-27" and a["binaryMediaTypes"] == ["image/png"]
        auths = apigw.get_authorizers(restApiId=a["id"])["items"]
        assert len(auths) == 1 and auths[0]["name"] == "cognito" and auths[0]["type"] == "COGNITO_USER_POOLS"
        assert auths[0]["providerARNs"] == [arn] and auths[0]["identitySource"] == "method.request.header.Authorization"
        items = {r["path"]: r for r in apigw.get_resources(restApiId=a["id"], embed=["methods"])["items"]}
        assert set(items) == {"/", "/pets", "/pets/{petId}", "/{proxy+}"}
        get_pets = items["/pets"]["resourceMethods"]["GET"]
        assert get_pets["authorizerId"] == auths[0]["id"] and get_pets["authorizationScopes"] == ["pets/read"]
        assert get_pets["operationName"] == "ListPets"
        assert get_pets["requestParameters"] == {"method.request.querystring.limit": False}
        assert get_pets["methodResponses"]["200"]["responseParameters"] == {"method.response.header.X-Count": False}
        assert get_pets["methodIntegration"]["type"] == "HTTP_PROXY" and get_pets["methodIntegration"]["timeoutInMillis"] == 3000
        pet = items["/pets/{petId}"]["resourceMethods"]["GET"]
        assert pet["requestParameters"] == {"method.request.path.petId": True}
        assert pet["methodIntegration"]["uri"] == LAMBDA_URI and pet["apiKeyRequired"] is True
        any_ = items["/{proxy+}"]["resourceMethods"]["ANY"]
        assert any_["methodIntegration"]["integrationResponses"]["200"]["statusCode"] == "200"
        assert summary_of(apigw, a["id"]) == EXPECTED_SUMMARY

        # Export with the extensions, and import the export: the same API.
        for export_type, accepts in [("oas30", "application/json"), ("swagger", "application/yaml")]:
            out = apigw.get_export(restApiId=a["id"], stageName="s", exportType=export_type,
                                   parameters={"extensions": "apigateway"}, accepts=accepts)
            assert out["contentType"] == accepts
            body = out["body"].read()
            doc = json.loads(body) if accepts == "application/json" else None
            if doc:
                assert doc["openapi"] == "3.0.1" and doc["info"]["title"] == "petstore"
                assert doc["components"]["securitySchemes"]["cognito"]["x-amazon-apigateway-authorizer"]["providerARNs"] == [arn]
                assert doc["paths"]["/pets"]["get"]["security"] == [{"cognito": ["pets/read"]}]
            else:
                assert b"swagger: '2.0'" in body or b'swagger: "2.0"' in body
            b = apigw.import_rest_api(body=body, failOnWarnings=True)
            try:
                assert summary_of(apigw, b["id"]) == EXPECTED_SUMMARY
                assert apigw.get_authorizers(restApiId=b["id"])["items"][0]["providerARNs"] == [arn]
            finally:
                apigw.delete_rest_api(restApiId=b["id"])

        # Without extensions: no integrations or authorizer details.
        plain = json.loads(apigw.get_export(restApiId=a["id"], stageName="s", exportType="oas30")["body"].read())
        assert "x-amazon-apigateway-integration" not in plain["paths"]["/pets"]["get"]
        fails(apigw.get_export, "BadRequestException", 400, restApiId=a["id"], stageName="s", exportType="raml")
        fails(apigw.get_export, "NotFoundException", 404, restApiId=a["id"], stageName="nosuch", exportType="oas30")
    finally:
        apigw.delete_rest_api(restApiId=a["id"])


def test_put_rest_api_merge_and_overwrite(apigw, pool, rest):
    arn = pool["pool"]["Arn"]
    api_id = rest["id"]
    resource_with_method(apigw, api_id, path_part="legacy")
    merged = apigw.put_rest_api(restApiId=api_id, mode="merge", body=oas30_doc(arn).encode())
    assert merged["id"] == api_id
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id, limit=50)["items"])
    assert paths == ["/", "/legacy", "/pets", "/pets/{petId}", "/{proxy+}"]
    auth_id = apigw.get_authorizers(restApiId=api_id)["items"][0]["id"]
    # Overwrite: only the document's paths; the authorizer of the same name keeps its id.
    over = apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=oas30_doc(arn).encode())
    assert over["rootResourceId"] == rest["rootResourceId"]
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id, limit=50)["items"])
    assert paths == ["/", "/pets", "/pets/{petId}", "/{proxy+}"]
    assert [a["id"] for a in apigw.get_authorizers(restApiId=api_id)["items"]] == [auth_id]
    fails(apigw.put_rest_api, "NotFoundException", 404, restApiId="nosuchapi0", body=oas30_doc(arn).encode())


def test_import_swagger_and_errors(server, apigw, pool, tmp_path):
    arn = pool["pool"]["Arn"]
    swagger = {
        "swagger": "2.0",
        "info": {"title": "swag", "version": "1"},
        "securityDefinitions": {
            "pool": {"type": "apiKey", "name": "Authorization", "in": "header",
                     "x-amazon-apigateway-authtype": "cognito_user_pools",
                     "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [arn]}},
        },
        "paths": {"/orders": {"post": {
            "security": [{"pool": ["orders/write"]}],
            "responses": {"201": {"description": "created"}},
            "x-amazon-apigateway-integration": {"type": "http", "httpMethod": "POST", "uri": "https://backend.example.com/orders",
                                                 "responses": {"default": {"statusCode": "201"}}},
        }}},
    }
    path = tmp_path / "swagger.json"
    path.write_text(json.dumps(swagger))
    a = server.aws("apigateway", "import-rest-api", "--body", f"fileb://{path}", "--parameters", "endpointConfigurationTypes=REGIONAL")
    try:
        assert a["name"] == "swag" and a["endpointConfiguration"]["types"] == ["REGIONAL"]
        m = apigw.get_resources(restApiId=a["id"], embed=["methods"])["items"]
        post = next(r for r in m if r["path"] == "/orders")["resourceMethods"]["POST"]
        assert post["authorizationType"] == "COGNITO_USER_POOLS" and post["authorizationScopes"] == ["orders/write"]
        assert post["methodIntegration"]["integrationResponses"]["201"]["statusCode"] == "201"
        apigw.create_deployment(restApiId=a["id"], stageName="prod")
        out = tmp_path / "export.yaml"
        server.aws("apigateway", "get-export", "--rest-api-id", a["id"], "--stage-name", "prod", "--export-type", "swagger",
                   "--accepts", "application/yaml", str(out))
        assert "orders/write" in out.read_text()
    finally:
        apigw.delete_rest_api(restApiId=a["id"])

    imp = lambda body, **kw: apigw.import_rest_api(body=body, **kw)  # noqa: E731
    fails(imp, "BadRequestException", 400, body=b'{"info": {"title": "x"}}')
    fails(imp, "BadRequestException", 400, body=b"{not json")
    fails(imp, "BadRequestException", 400, body=b"")
    no_integration = json.dumps({"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"get": {}}}}).encode()
    msg = fails(imp, "BadRequestException", 400, body=no_integration, failOnWarnings=True)
    assert msg.startswith("Warnings found during import:")
    w = apigw.import_rest_api(body=no_integration)
    assert any("x-amazon-apigateway-integration" in x for x in w["warnings"])
    apigw.delete_rest_api(restApiId=w["id"])
    bad_integration = json.dumps({"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"get": {
        "x-amazon-apigateway-integration": {"type": "http_proxy", "uri": "https://b.example.com"}}}}}).encode()
    fails(imp, "BadRequestException", 400, "Enumeration value for HttpMethod must be non-empty", body=bad_integration)
    missing_pool = json.dumps({**swagger, "securityDefinitions": {"pool": {
        **swagger["securityDefinitions"]["pool"],
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [arn.replace(pool["id"], "us-east-1_Missing99")]}}}}).encode()
    fails(imp, "BadRequestException", 400, body=missing_pool)
    bad_path = json.dumps({"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/{a}/x": {}, "/{b}/y": {"get": {
        "x-amazon-apigateway-integration": {"type": "mock"}}}, "/{a}/z": {"get": {"x-amazon-apigateway-integration": {"type": "mock"}}}}}).encode()
    fails(imp, "BadRequestException", 400, body=bad_path)
    # Nothing half-imported stayed behind.
    assert not [x for x in apigw.get_rest_apis(limit=500)["items"] if x["name"] == "x"]
