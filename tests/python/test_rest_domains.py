"""A REST API (v1) stage behind a custom domain name: mapped through apigatewayv2's
domain-name API as on AWS, served without the stage in the path."""
import time
import uuid

import requests


def test_rest_stage_behind_a_custom_domain(server):
    v1 = server.client("apigateway")
    v2 = server.client("apigatewayv2")
    api = v1.create_rest_api(name=f"rest-{uuid.uuid4().hex[:6]}")["id"]
    root = next(r["id"] for r in v1.get_resources(restApiId=api)["items"] if r["path"] == "/")
    pets = v1.create_resource(restApiId=api, parentId=root, pathPart="pets")["id"]
    v1.put_method(restApiId=api, resourceId=pets, httpMethod="GET", authorizationType="NONE")
    v1.put_integration(restApiId=api, resourceId=pets, httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    v1.put_method_response(restApiId=api, resourceId=pets, httpMethod="GET", statusCode="200")
    v1.put_integration_response(restApiId=api, resourceId=pets, httpMethod="GET", statusCode="200",
                                responseTemplates={"application/json": '{"pets": []}'})
    v1.create_deployment(restApiId=api, stageName="prod")
    domain = f"rest-{uuid.uuid4().hex[:6]}.example.test"
    v2.create_domain_name(DomainName=domain, DomainNameConfigurations=[
        {"EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2",
         "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}])
    # An unknown stage is refused like on an HTTP API.
    try:
        v2.create_api_mapping(DomainName=domain, ApiId=api, Stage="nope", ApiMappingKey="v1")
        raise AssertionError("mapping to a missing stage was accepted")
    except v2.exceptions.BadRequestException:
        pass
    v2.create_api_mapping(DomainName=domain, ApiId=api, Stage="prod", ApiMappingKey="v1")
    url = f"{server.gateway_url}/v1/pets"
    deadline = time.time() + 5
    r = requests.get(url, headers={"Host": domain})
    while r.status_code != 200 and time.time() < deadline:
        time.sleep(0.05)
        r = requests.get(url, headers={"Host": domain})
    assert r.status_code == 200, r.text
    assert r.json() == {"pets": []}
    # The execute-api host still serves it with the stage in the path.
    r = requests.get(f"{server.gateway_url}/prod/pets", headers={"Host": f"{api}.execute-api.localhost"})
    assert r.status_code == 200
    # Mapped stages and APIs cannot be deleted; unmapped they can.
    for call in (lambda: v1.delete_stage(restApiId=api, stageName="prod"),
                 lambda: v1.delete_rest_api(restApiId=api)):
        try:
            call()
            raise AssertionError("a mapped REST API or stage was deleted")
        except v1.exceptions.BadRequestException as e:
            assert "remove all API mappings" in str(e)
    mapping = v2.get_api_mappings(DomainName=domain)["Items"][0]["ApiMappingId"]
    v2.delete_api_mapping(DomainName=domain, ApiMappingId=mapping)
    v1.delete_stage(restApiId=api, stageName="prod")
    v1.delete_rest_api(restApiId=api)
