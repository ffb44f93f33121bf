"""The OAuth configuration of a pool through the Cognito API, as AWS answers it: user pool
domains, resource servers (custom scopes), app clients' OAuth settings, and the hosted UI's
customization (SetUICustomization / GetUICustomization, with the logo served)."""
import base64
import uuid

import pytest

from awsraw import call, error, unvalidated


def uid():
    return uuid.uuid4().hex[:10]


def code_msg(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture
def pool_id(idp):
    p = idp.create_user_pool(PoolName=f"oauth-{uid()}")["UserPool"]
    yield p["Id"]
    d = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    for key in ("Domain", "CustomDomain"):
        if key in d:
            idp.delete_user_pool_domain(UserPoolId=p["Id"], Domain=d[key])
    idp.delete_user_pool(UserPoolId=p["Id"])


# --- User pool domains ---------------------------------------------------------------------


def test_prefix_domain_round_trip(idp, pool_id):
    name = f"app-{uid()}"
    out = idp.create_user_pool_domain(UserPoolId=pool_id, Domain=name)
    assert out["ManagedLoginVersion"] == 1 and "CloudFrontDomain" not in out
    d = idp.describe_user_pool_domain(Domain=name)["DomainDescription"]
    assert d["UserPoolId"] == pool_id and d["Domain"] == name and d["Status"] == "ACTIVE"
    assert d["AWSAccountId"].isdigit() and len(d["Version"]) == 14 and d["ManagedLoginVersion"] == 1
    assert d["CustomDomainConfig"] == {}
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Domain"] == name and "CustomDomain" not in pool

    out = idp.update_user_pool_domain(UserPoolId=pool_id, Domain=name, ManagedLoginVersion=2)
    assert out["ManagedLoginVersion"] == 2
    assert idp.describe_user_pool_domain(Domain=name)["DomainDescription"]["ManagedLoginVersion"] == 2

    idp.delete_user_pool_domain(UserPoolId=pool_id, Domain=name)
    assert idp.describe_user_pool_domain(Domain=name)["DomainDescription"] == {}
    assert "Domain" not in idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]


def test_unknown_domain_is_an_empty_description(server, idp):
    # AWS answers 200 with an empty description rather than ResourceNotFoundException.
    r = call(server, "DescribeUserPoolDomain", {"Domain": f"nobody-{uid()}"})
    assert r.status_code == 200 and r.json() == {"DomainDescription": {}}
    assert idp.describe_user_pool_domain(Domain=f"nobody-{uid()}")["DomainDescription"] == {}


def test_custom_domain_echoes_its_config(idp, pool_id):
    name = f"auth-{uid()}.example.com"
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/a1b2c3d4-5678-90ab-cdef-EXAMPLE22222"
    out = idp.create_user_pool_domain(UserPoolId=pool_id, Domain=name,
                                      CustomDomainConfig={"CertificateArn": arn})
    assert out["CloudFrontDomain"].endswith(".cloudfront.net")
    d = idp.describe_user_pool_domain(Domain=name)["DomainDescription"]
    assert d["CustomDomainConfig"] == {"CertificateArn": arn}
    assert d["CloudFrontDistribution"] == out["CloudFrontDomain"]
    # A prefix domain may sit beside it; DescribeUserPool names both.
    prefix = f"app-{uid()}"
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=prefix)
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["CustomDomain"] == name and pool["Domain"] == prefix
    arn2 = arn.replace("22222", "33333")
    out = idp.update_user_pool_domain(UserPoolId=pool_id, Domain=name,
                                      CustomDomainConfig={"CertificateArn": arn2, "SecurityPolicy": "TLS_V1_2_2021"})
    assert out["CloudFrontDomain"] == d["CloudFrontDistribution"]
    d = idp.describe_user_pool_domain(Domain=name)["DomainDescription"]
    assert d["CustomDomainConfig"] == {"CertificateArn": arn2, "SecurityPolicy": "TLS_V1_2_2021"}
    # The branding version survives a certificate change that does not name it.
    idp.update_user_pool_domain(UserPoolId=pool_id, Domain=name, ManagedLoginVersion=2)
    out = idp.update_user_pool_domain(UserPoolId=pool_id, Domain=name, CustomDomainConfig={"CertificateArn": arn})
    assert out["ManagedLoginVersion"] == 2
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.update_user_pool_domain(UserPoolId=pool_id, Domain=name, ManagedLoginVersion=3)
    # Routing (replica failover) is echoed, and only custom domains have it.
    routing = {"Failover": {"SecondaryRegion": "us-west-2", "PrimaryRoute53HealthCheckId": "hc-1"}}
    out = idp.update_user_pool_domain(UserPoolId=pool_id, Domain=name, Routing=routing)
    assert out["Routing"] == routing
    assert idp.describe_user_pool_domain(Domain=name)["DomainDescription"]["Routing"] == routing
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.update_user_pool_domain(UserPoolId=pool_id, Domain=prefix, Routing=routing)
    # Only a custom domain has a certificate.
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.update_user_pool_domain(UserPoolId=pool_id, Domain=prefix,
                                    CustomDomainConfig={"CertificateArn": arn})


@pytest.mark.parametrize("domain,message", [
    ("my.app", "The domain name contains an invalid character. Domain names can only contain lower-case "
               "letters, numbers, and hyphens. Please enter a different name that follows this format: "
               "^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$"),
    ("MyApp", "The domain name contains an invalid character."),
    ("-app", "The domain name contains an invalid character."),
    ("app-", "The domain name contains an invalid character."),
    ("my-aws-app", "Domain cannot contain reserved word: aws"),
    ("newcognito", "Domain cannot contain reserved word: cognito"),
    ("amazonian", "Domain cannot contain reserved word: amazon"),
])
def test_prefix_domain_rules(idp, pool_id, domain, message):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    assert code_msg(e)[1].startswith(message)


def test_domain_length_is_validated(server, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_domain(UserPoolId=pool_id, Domain="a" * 64)
    assert "Member must have length less than or equal to 63" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_domain(UserPoolId=pool_id, Domain="a.example.com",
                                    CustomDomainConfig={"CertificateArn": "not-an-arn"})
    assert "customDomainConfig.certificateArn" in code_msg(e)[1]


def test_domains_are_unique_and_one_per_pool(idp, pool_id):
    name = f"app-{uid()}"
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=name)
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_domain(UserPoolId=pool_id, Domain=f"other-{uid()}")
    assert code_msg(e)[1] == "User pool already has a domain configured."
    other = idp.create_user_pool(PoolName=f"other-{uid()}")["UserPool"]["Id"]
    try:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.create_user_pool_domain(UserPoolId=other, Domain=name)
        assert code_msg(e)[1] == "Domain already associated with another user pool."
        # Another pool can neither update nor delete it.
        for op in (idp.update_user_pool_domain, idp.delete_user_pool_domain):
            with pytest.raises(idp.exceptions.InvalidParameterException) as e:
                op(UserPoolId=other, Domain=name)
            assert code_msg(e)[1] == "No such domain or user pool exists."
    finally:
        idp.delete_user_pool(UserPoolId=other)
    assert idp.describe_user_pool_domain(Domain=name)["DomainDescription"]["UserPoolId"] == pool_id


def test_pool_with_a_domain_cannot_be_deleted(idp, pool_id):
    name = f"app-{uid()}"
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=name)
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.delete_user_pool(UserPoolId=pool_id)
    assert code_msg(e)[1] == "User pool cannot be deleted. It has a domain configured that should be deleted first."
    idp.delete_user_pool_domain(UserPoolId=pool_id, Domain=name)
    # The name is free again, for any pool.
    other = idp.create_user_pool(PoolName=f"other-{uid()}")["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=other, Domain=name)
    idp.delete_user_pool_domain(UserPoolId=other, Domain=name)
    idp.delete_user_pool(UserPoolId=other)


def test_domain_of_an_unknown_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.create_user_pool_domain(UserPoolId="us-east-1_nopool123", Domain=f"app-{uid()}")


def test_domains_with_the_aws_cli(server, pool_id):
    name = f"cli-{uid()}"
    assert server.aws("cognito-idp", "create-user-pool-domain", "--user-pool-id", pool_id,
                      "--domain", name)["ManagedLoginVersion"] == 1
    d = server.aws("cognito-idp", "describe-user-pool-domain", "--domain", name)
    assert d["DomainDescription"]["UserPoolId"] == pool_id
    out = server.aws("cognito-idp", "create-user-pool-domain", "--user-pool-id", pool_id, "--domain", "x-aws",
                     check=False)
    assert "(InvalidParameterException)" in out.stderr and "reserved word: aws" in out.stderr
    server.aws("cognito-idp", "delete-user-pool-domain", "--user-pool-id", pool_id, "--domain", name)


# --- Resource servers ----------------------------------------------------------------------


SCOPES = [{"ScopeName": "pets.read", "ScopeDescription": "Read pets"},
          {"ScopeName": "admin", "ScopeDescription": "Everything"}]


def test_resource_server_round_trip(idp, pool_id):
    rs = idp.create_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com", Name="Pets API",
                                    Scopes=SCOPES)["ResourceServer"]
    assert rs == {"UserPoolId": pool_id, "Identifier": "https://api.example.com", "Name": "Pets API",
                  "Scopes": SCOPES}
    assert idp.describe_resource_server(UserPoolId=pool_id,
                                        Identifier="https://api.example.com")["ResourceServer"] == rs
    up = idp.update_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com", Name="Pets",
                                    Scopes=SCOPES[:1])["ResourceServer"]
    assert up["Name"] == "Pets" and up["Scopes"] == SCOPES[:1]
    # Left out on update, the scopes are gone (AWS: missing members return to their defaults).
    up = idp.update_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com",
                                    Name="Pets")["ResourceServer"]
    assert "Scopes" not in up
    idp.delete_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.update_resource_server(UserPoolId=pool_id, Identifier="nope", Name="x")


def test_resource_server_duplicates(idp, pool_id):
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets")
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Again")
    assert code_msg(e)[1] == f"pets already exists in user pool {pool_id}."
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_resource_server(UserPoolId=pool_id, Identifier="pets2", Name="P",
                                   Scopes=[SCOPES[0], SCOPES[0]])
    assert "pets.read" in code_msg(e)[1]


@pytest.mark.parametrize("kw,field", [
    ({"Identifier": "has space", "Name": "x"}, "identifier"),
    ({"Identifier": "back\\slash", "Name": "x"}, "identifier"),
    ({"Identifier": "", "Name": "x"}, "identifier"),
    ({"Identifier": "i" * 257, "Name": "x"}, "identifier"),
    ({"Identifier": "ok", "Name": "bad/name"}, "name"),
    ({"Identifier": "ok", "Name": "x",
      "Scopes": [{"ScopeName": "a/b", "ScopeDescription": "slash"}]}, "scopes.1.member.scopeName"),
    ({"Identifier": "ok", "Name": "x",
      "Scopes": [SCOPES[0], {"ScopeName": "x", "ScopeDescription": ""}]}, "scopes.2.member.scopeDescription"),
    ({"Identifier": "ok", "Name": "x", "Scopes": [{"ScopeName": "x"}]}, "scopes.1.member.scopeDescription"),
    ({"Identifier": "ok", "Name": "x",
      "Scopes": [{"ScopeName": f"s{i}", "ScopeDescription": "d"} for i in range(101)]}, "scopes"),
])
def test_resource_server_validation(server, pool_id, kw, field):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_resource_server(UserPoolId=pool_id, **kw)
    msg = code_msg(e)[1]
    assert msg.startswith("1 validation error detected") and f"at '{field}'" in msg, msg


def test_resource_servers_per_pool_are_limited(idp, pool_id):
    for i in range(25):
        idp.create_resource_server(UserPoolId=pool_id, Identifier=f"api-{i:02}", Name="API")
    with pytest.raises(idp.exceptions.LimitExceededException):
        idp.create_resource_server(UserPoolId=pool_id, Identifier="one-too-many", Name="API")


def test_resource_servers_page(idp, pool_id):
    for i in range(5):
        idp.create_resource_server(UserPoolId=pool_id, Identifier=f"api-{i}", Name=f"API {i}",
                                   Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}])
    page = idp.list_resource_servers(UserPoolId=pool_id, MaxResults=2)
    seen = [s["Identifier"] for s in page["ResourceServers"]]
    while "NextToken" in page:
        page = idp.list_resource_servers(UserPoolId=pool_id, MaxResults=2, NextToken=page["NextToken"])
        seen += [s["Identifier"] for s in page["ResourceServers"]]
    assert seen == [f"api-{i}" for i in range(5)]
    # boto3's paginator and the CLI agree.
    pages = idp.get_paginator("list_resource_servers").paginate(UserPoolId=pool_id,
                                                                 PaginationConfig={"PageSize": 3})
    assert [s["Identifier"] for p in pages for s in p["ResourceServers"]] == seen
    # MaxResults is optional in today's model; without it, up to 50 come back.
    assert len(idp.list_resource_servers(UserPoolId=pool_id)["ResourceServers"]) == 5


def test_list_resource_servers_validation(server, idp, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.list_resource_servers(UserPoolId=pool_id, MaxResults=51)
    assert "Member must have value less than or equal to 50" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.list_resource_servers(UserPoolId=pool_id, MaxResults=2, NextToken="%%%not-a-token")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_resource_servers(UserPoolId="us-east-1_nopool123", MaxResults=5)


def test_resource_servers_with_the_aws_cli(server, pool_id):
    out = server.aws("cognito-idp", "create-resource-server", "--user-pool-id", pool_id, "--identifier",
                     "solar-system-data", "--name", "Solar system object tracker", "--scopes",
                     "ScopeName=sunproximity.read,ScopeDescription=Distance in AU from Sol",
                     "ScopeName=asteroids.add,ScopeDescription=Enter a new asteroid")
    assert [s["ScopeName"] for s in out["ResourceServer"]["Scopes"]] == ["sunproximity.read", "asteroids.add"]
    out = server.aws("cognito-idp", "list-resource-servers", "--user-pool-id", pool_id, "--max-results", "2")
    assert out["ResourceServers"][0]["Identifier"] == "solar-system-data"


# --- App clients' OAuth settings -----------------------------------------------------------


def web_client(**kw):
    base = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
                AllowedOAuthScopes=["openid", "email"], CallbackURLs=["https://app.example.com/cb"],
                SupportedIdentityProviders=["COGNITO"])
    base.update(kw)
    return base


def test_custom_scopes_must_exist(idp, pool_id):
    with pytest.raises(idp.exceptions.ScopeDoesNotExistException) as e:
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="m2m", GenerateSecret=True,
                                    **web_client(AllowedOAuthFlows=["client_credentials"],
                                                 AllowedOAuthScopes=["pets/admin"], CallbackURLs=[]))
    assert code_msg(e)[1] == "Invalid scope requested: pets/admin"
    with pytest.raises(idp.exceptions.ScopeDoesNotExistException) as e:
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web",
                                    **web_client(AllowedOAuthScopes=["openid", "Cognito"]))
    assert code_msg(e)[1] == "Invalid scope requested: Cognito"
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets",
                               Scopes=[{"ScopeName": "admin", "ScopeDescription": "all"},
                                       {"ScopeName": "read", "ScopeDescription": "read"}])
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="m2m", GenerateSecret=True,
                                    AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"],
                                    AllowedOAuthScopes=["pets/admin", "pets/read"])["UserPoolClient"]
    assert c["AllowedOAuthScopes"] == ["pets/admin", "pets/read"]
    # Every standard scope is known to every pool.
    idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web", **web_client(
        AllowedOAuthScopes=["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin", "pets/read"]))


def test_removed_scopes_leave_the_clients(idp, pool_id):
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets",
                               Scopes=[{"ScopeName": "admin", "ScopeDescription": "all"},
                                       {"ScopeName": "read", "ScopeDescription": "read"}])
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web", **web_client(
        AllowedOAuthScopes=["openid", "pets/admin", "pets/read"]))["UserPoolClient"]
    idp.update_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert d["AllowedOAuthScopes"] == ["openid", "pets/read"]
    idp.delete_resource_server(UserPoolId=pool_id, Identifier="pets")
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert d["AllowedOAuthScopes"] == ["openid"]


@pytest.mark.parametrize("kw,secret,exc,message", [
    (dict(AllowedOAuthFlows=["client_credentials", "code"], AllowedOAuthScopes=["pets/read"]), True,
     "InvalidOAuthFlowException",
     "client_credentials flow can not be selected along with code flow or implicit flow."),
    (dict(AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["pets/read"], CallbackURLs=[]), False,
     "InvalidOAuthFlowException",
     "client_credentials flow can not be selected if client does not have a client secret."),
    (dict(AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["openid"], CallbackURLs=[]), True,
     "InvalidOAuthFlowException", "openid is not supported with client_credentials flow"),
    (dict(AllowedOAuthFlows=[]), False, "InvalidParameterException",
     "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows."),
    (dict(AllowedOAuthScopes=[]), False, "InvalidParameterException",
     "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows."),
    (dict(CallbackURLs=[]), False, "InvalidOAuthFlowException",
     "CallbackUrls can not be empty when code flow or implicit flow is selected"),
    (dict(CallbackURLs=["http://app.example.com/cb"]), False, "InvalidParameterException",
     "http://app.example.com/cb cannot use the HTTP protocol."),
    (dict(LogoutURLs=["http://app.example.com/bye"]), False, "InvalidParameterException",
     "http://app.example.com/bye cannot use the HTTP protocol."),
    (dict(CallbackURLs=["https://app.example.com/cb#frag"]), False, "InvalidParameterException", "fragment"),
    (dict(CallbackURLs=["/relative/cb"]), False, "InvalidParameterException", "absolute"),
    (dict(DefaultRedirectURI="https://elsewhere.example.com/cb"), False, "InvalidParameterException",
     "CallbackURLs"),
    (dict(SupportedIdentityProviders=["COGNITO", "Google"]), False, "InvalidParameterException",
     "The provider Google does not exist for User Pool {pool}"),
])
def test_client_oauth_settings_refused(idp, pool_id, kw, secret, exc, message):
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    with pytest.raises(idp.exceptions.ClientError) as e:
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c", GenerateSecret=secret, **web_client(**kw))
    code, msg = code_msg(e)
    assert code == exc and message.format(pool=pool_id) in msg, (code, msg)
    # UpdateUserPoolClient checks the same way.
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c", GenerateSecret=secret)["UserPoolClient"]
    with pytest.raises(idp.exceptions.ClientError) as e:
        idp.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"], **web_client(**kw))
    assert code_msg(e)[0] == exc


@pytest.mark.parametrize("urls", [
    ["http://localhost:3000/callback"],
    ["http://127.0.0.1/cb"],
    ["http://[::1]:8080/cb"],
    ["myapp://callback", "com.example.app:/oauth2redirect"],
    ["https://app.example.com/cb?tenant=1", "https://app.example.com:8443/cb"],
])
def test_client_callback_urls_accepted(idp, pool_id, urls):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="c", **web_client(
        CallbackURLs=urls, LogoutURLs=urls, DefaultRedirectURI=urls[0]))["UserPoolClient"]
    assert c["CallbackURLs"] == urls and c["DefaultRedirectURI"] == urls[0] and c["LogoutURLs"] == urls


def test_client_oauth_list_constraints(server, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", LogoutURLs=[""])
    assert code_msg(e)[1] == (
        "1 validation error detected: Value '[]' at 'logoutURLs' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must have length less than or equal to 1024, Member must have length "
        "greater than or equal to 1, Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+]")
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", AllowedOAuthScopes=["has space"])
    assert "at 'allowedOAuthScopes'" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x",
                                    CallbackURLs=[f"https://a.example.com/{i}" for i in range(101)])
    assert "Member must have length less than or equal to 100" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", AllowedOAuthScopes=["s"] * 51)
    assert "Member must have length less than or equal to 50" in code_msg(e)[1]


def test_empty_oauth_lists_are_left_out(idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="plain", AllowedOAuthFlows=[],
                                    AllowedOAuthScopes=[], CallbackURLs=[], LogoutURLs=[],
                                    AllowedOAuthFlowsUserPoolClient=False)["UserPoolClient"]
    for k in ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs"):
        assert k not in c
    assert c["AllowedOAuthFlowsUserPoolClient"] is False


def test_client_oauth_settings_with_the_aws_cli(server, idp, pool_id):
    out = server.aws("cognito-idp", "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "web",
                     "--allowed-o-auth-flows", "code", "--allowed-o-auth-scopes", "openid", "profile",
                     "--allowed-o-auth-flows-user-pool-client",
                     # JSON, or the CLI fetches the URL (its cli_follow_urlparam behaviour).
                     "--callback-urls", '["https://app.example.com/cb"]',
                     "--supported-identity-providers", "COGNITO")
    assert out["UserPoolClient"]["AllowedOAuthScopes"] == ["openid", "profile"]
    out = server.aws("cognito-idp", "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "m2m",
                     "--allowed-o-auth-flows", "client_credentials", "--allowed-o-auth-scopes", "nope/x",
                     "--allowed-o-auth-flows-user-pool-client", check=False)
    assert "(ScopeDoesNotExistException)" in out.stderr


def test_oauth_operations_are_signed(server, pool_id):
    for op, body in [("CreateUserPoolDomain", {"UserPoolId": pool_id, "Domain": f"x-{uid()}"}),
                     ("DescribeUserPoolDomain", {"Domain": "x"}),
                     ("ListResourceServers", {"UserPoolId": pool_id, "MaxResults": 1}),
                     ("CreateResourceServer", {"UserPoolId": pool_id, "Identifier": "a", "Name": "a"})]:
        kind, _ = error(call(server, op, body, signed=False))
        assert kind in ("MissingAuthenticationTokenException", "IncompleteSignatureException",
                        "InvalidSignatureException", "UnrecognizedClientException", "AccessDeniedException",
                        "MissingAuthenticationToken"), (op, kind)


def test_wrong_member_types_are_serialization_errors(server, pool_id):
    for op, body, member in [
        ("CreateUserPoolDomain", {"UserPoolId": pool_id, "Domain": 5}, "Domain"),
        ("CreateUserPoolDomain", {"UserPoolId": pool_id, "Domain": "a", "ManagedLoginVersion": "2"},
         "ManagedLoginVersion"),
        ("CreateResourceServer", {"UserPoolId": pool_id, "Identifier": "a", "Name": "a", "Scopes": "x"}, "Scopes"),
    ]:
        kind, msg = error(call(server, op, body))
        assert kind == "SerializationException" and member in msg, (op, msg)


# --- Hosted UI customization ---------------------------------------------------------------


def png(payload=b""):
    """A 1x1 PNG (plus an optional tEXt chunk to make it unique or large)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    if payload:
        body += chunk(b"tEXt", b"Comment\x00" + payload)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IEND", b"")


JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")

CSS = (".logo-customizable {\n\tmax-width: 60%;\n\tmax-height: 30%;\n}\n"
       ".banner-customizable {\n\tpadding: 25px 0px 25px 0px;\n\tbackground-color: lightgray;\n}\n"
       ".submitButton-customizable:hover {\n\tcolor: #fff;\n\tbackground-color: #286090;\n}\n")


@pytest.fixture
def hosted_pool(idp, pool_id):
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=f"ui-{uid()}")
    return pool_id


def test_ui_customization_needs_a_domain(idp, pool_id):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.set_ui_customization(UserPoolId=pool_id, ClientId="ALL", CSS=CSS)
    assert "domain" in code_msg(e)[1]


def test_ui_customization_round_trip_and_logo_served(server, idp, hosted_pool):
    import requests

    pool_id = hosted_pool
    image = png(b"pool logo")
    ui = idp.set_ui_customization(UserPoolId=pool_id, ClientId="ALL", CSS=CSS, ImageFile=image)["UICustomization"]
    assert ui["UserPoolId"] == pool_id and ui["ClientId"] == "ALL" and ui["CSS"] == CSS
    assert len(ui["CSSVersion"]) == 14 and ui["CSSVersion"].isdigit()
    assert ui["CreationDate"] <= ui["LastModifiedDate"]
    url = ui["ImageUrl"]
    assert url.startswith(f"{server.url}/{pool_id}/ui/ALL/logo.png?v=")
    assert idp.get_ui_customization(UserPoolId=pool_id, ClientId="ALL")["UICustomization"]["ImageUrl"] == url
    assert idp.get_ui_customization(UserPoolId=pool_id)["UICustomization"]["CSS"] == CSS

    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content == image
    assert r.headers["Content-Type"] == "image/png"
    assert "immutable" in r.headers["Cache-Control"] and r.headers["X-Content-Type-Options"] == "nosniff"
    etag = r.headers["ETag"]
    r = requests.get(url.split("?")[0], headers={"If-None-Match": etag}, timeout=10)
    assert r.status_code == 304 and "max-age=300" in r.headers["Cache-Control"]
    assert requests.get(url.replace("logo.png", "logo.jpg"), timeout=10).status_code == 404
    assert requests.get(f"{server.url}/{pool_id}/ui/nobody/logo.png", timeout=10).status_code == 404

    # A client without its own falls back to the pool's; with its own, it has only that.
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"]["ClientId"]
    got = idp.get_ui_customization(UserPoolId=pool_id, ClientId=c)["UICustomization"]
    assert got["ClientId"] == "ALL" and got["ImageUrl"] == url
    own = idp.set_ui_customization(UserPoolId=pool_id, ClientId=c, ImageFile=JPEG)["UICustomization"]
    assert own["ClientId"] == c and "CSS" not in own and own["ImageUrl"].split("?")[0].endswith(f"/{c}/logo.jpg")
    r = requests.get(own["ImageUrl"], timeout=10)
    assert r.content == JPEG and r.headers["Content-Type"] == "image/jpeg"
    assert idp.get_ui_customization(UserPoolId=pool_id, ClientId=c)["UICustomization"]["ImageUrl"] == own["ImageUrl"]
    # A new image changes the URL, so caches holding the old one are never wrong.
    newer = idp.set_ui_customization(UserPoolId=pool_id, ClientId=c, ImageFile=png(b"v2"))["UICustomization"]
    assert newer["ImageUrl"] != own["ImageUrl"]
    # Setting neither CSS nor image removes the client's own: the pool's applies again.
    idp.set_ui_customization(UserPoolId=pool_id, ClientId=c)
    assert idp.get_ui_customization(UserPoolId=pool_id, ClientId=c)["UICustomization"]["ClientId"] == "ALL"
    # Deleting the client deletes its customization and its logo URL.
    idp.set_ui_customization(UserPoolId=pool_id, ClientId=c, ImageFile=JPEG)
    idp.delete_user_pool_client(UserPoolId=pool_id, ClientId=c)
    assert requests.get(f"{server.url}/{pool_id}/ui/{c}/logo.jpg", timeout=10).status_code == 404


def test_ui_customization_without_any(idp, hosted_pool):
    got = idp.get_ui_customization(UserPoolId=hosted_pool)["UICustomization"]
    assert got == {"UserPoolId": hosted_pool, "ClientId": "ALL"}


def test_ui_customization_unknown_client(idp, hosted_pool):
    for op in (idp.set_ui_customization, idp.get_ui_customization):
        with pytest.raises(idp.exceptions.ResourceNotFoundException):
            op(UserPoolId=hosted_pool, ClientId="nosuchclient123")


@pytest.mark.parametrize("css", [
    "body { color: red; }",
    ".banner-customizable div { color: red; }",
    "@import url(https://evil.example.com/x.css);",
    "@media (max-width: 1px) { .banner-customizable { color: red; } }",
    ".banner-customizable { background: url(javascript:alert(1)); }",
    ".banner-customizable { color: red; } </style><script>alert(1)</script>",
    ".banner-customizable { color: red; ",
])
def test_ui_customization_css_is_restricted(idp, hosted_pool, css):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.set_ui_customization(UserPoolId=hosted_pool, ClientId="ALL", CSS=css)
    assert "CSS" in code_msg(e)[1]


def test_ui_customization_image_rules(server, idp, hosted_pool):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.set_ui_customization(UserPoolId=hosted_pool, ClientId="ALL", ImageFile=b"GIF89a....")
    assert "PNG or JPEG" in code_msg(e)[1]
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.set_ui_customization(UserPoolId=hosted_pool, ClientId="ALL", ImageFile=png(b"x" * 110_000))
    assert "100 KB" in code_msg(e)[1]
    # Just under the limit is fine.
    idp.set_ui_customization(UserPoolId=hosted_pool, ClientId="ALL", ImageFile=png(b"x" * 100_000))
    kind, msg = error(call(server, "SetUICustomization",
                           {"UserPoolId": hosted_pool, "ClientId": "ALL", "ImageFile": "%%%"}))
    assert kind == "SerializationException" and "ImageFile" in msg


def test_ui_customization_with_the_aws_cli(server, idp, hosted_pool, tmp_path):
    logo = tmp_path / "logo.png"
    logo.write_bytes(png(b"cli"))
    out = server.aws("cognito-idp", "set-ui-customization", "--user-pool-id", hosted_pool, "--client-id", "ALL",
                     "--css", CSS, "--image-file", f"fileb://{logo}")
    assert out["UICustomization"]["CSS"] == CSS and out["UICustomization"]["ImageUrl"]
    out = server.aws("cognito-idp", "get-ui-customization", "--user-pool-id", hosted_pool)
    assert out["UICustomization"]["CSSVersion"]
