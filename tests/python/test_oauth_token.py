"""The OAuth 2.0 token, userInfo and revocation endpoints and the discovery document, driven
with curl and requests: client credentials (client_secret_basic and client_secret_post, custom
scopes only), RFC 6749 errors, userInfo scopes, RFC 7009 revocation, and client-credentials
tokens meeting a gateway route's authorizationScopes."""
import base64
import json
import subprocess
import time
import uuid

import jwt
import pytest
import requests

from conftest import PASSWORD, make_user


def token_url(server):
    return f"{server.url}/oauth2/token"


@pytest.fixture
def service(idp, pool):
    """A resource server `pets` with read/admin scopes and a confidential client allowed
    client_credentials with both."""
    idp.create_resource_server(
        UserPoolId=pool["id"], Identifier="pets", Name="Pets API",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read pets"},
                {"ScopeName": "admin", "ScopeDescription": "manage pets"}],
    )
    c = idp.create_user_pool_client(
        UserPoolId=pool["id"], ClientName="svc", GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["pets/read", "pets/admin"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    return {**pool, "svc_id": c["ClientId"], "svc_secret": c["ClientSecret"]}


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def verify(server, pool_id, token, **kw):
    issuer = f"{server.url}/{pool_id}"
    keys = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json")
    key = keys.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, **kw)


def test_discovery_advertises_every_endpoint(server, service):
    pool = service
    doc = requests.get(f"{server.url}/{pool['id']}/.well-known/openid-configuration").json()
    base = server.url
    assert doc["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{base}/oauth2/userInfo"
    assert doc["revocation_endpoint"] == f"{base}/oauth2/revoke"
    assert doc["end_session_endpoint"] == f"{base}/logout"
    assert set(doc["grant_types_supported"]) >= {"authorization_code", "refresh_token", "client_credentials"}
    assert set(doc["code_challenge_methods_supported"]) == {"S256", "plain"}
    assert set(doc["scopes_supported"]) == {"openid", "email", "phone", "profile",
                                            "aws.cognito.signin.user.admin", "pets/read", "pets/admin"}
    assert set(doc["response_types_supported"]) == {"code", "token"}
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]


def test_client_credentials_with_curl_basic(server, service):
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", token_url(server),
         "-u", f"{service['svc_id']}:{service['svc_secret']}",
         "-H", "Content-Type: application/x-www-form-urlencoded",
         "-d", "grant_type=client_credentials&scope=pets/admin",
         "-D", "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 200")
    assert "cache-control: no-store" in head.lower()
    tok = json.loads(body)
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600
    assert "id_token" not in tok and "refresh_token" not in tok
    claims = verify(server, service["id"], tok["access_token"])
    assert claims["sub"] == service["svc_id"] and claims["client_id"] == service["svc_id"]
    assert claims["token_use"] == "access" and claims["scope"] == "pets/admin"
    assert claims["exp"] - claims["iat"] == 3600 and claims["version"] == 2
    assert "username" not in claims


def test_client_credentials_post_and_default_scopes(server, service):
    r = requests.post(token_url(server), data={
        "grant_type": "client_credentials",
        "client_id": service["svc_id"], "client_secret": service["svc_secret"]})
    assert r.status_code == 200, r.text
    claims = verify(server, service["id"], r.json()["access_token"])
    # Without a scope parameter every custom scope the client is allowed.
    assert sorted(claims["scope"].split()) == ["pets/admin", "pets/read"]


@pytest.mark.parametrize("form,auth,status,error", [
    ({"grant_type": "client_credentials"}, ("wrong",), 401, "invalid_client"),
    ({"grant_type": "client_credentials", "scope": "pets/delete"}, None, 400, "invalid_scope"),
    ({"grant_type": "client_credentials", "scope": "openid"}, None, 400, "invalid_scope"),
    ({}, None, 400, "invalid_request"),
    ({"grant_type": "password"}, None, 400, "unsupported_grant_type"),
    ({"grant_type": "authorization_code"}, None, 400, "unauthorized_client"),
])
def test_client_credentials_errors(server, service, form, auth, status, error):
    secret = auth[0] if auth else service["svc_secret"]
    r = requests.post(token_url(server), data=form,
                      headers={"Authorization": basic(service["svc_id"], secret)})
    assert r.status_code == status, r.text
    assert r.json()["error"] == error
    assert r.json()["error_description"]
    if status == 401:
        assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_client_authentication_is_strict(server, service):
    url = token_url(server)
    cc = {"grant_type": "client_credentials"}
    # Unknown client, both methods at once, malformed Basic, a public client.
    r = requests.post(url, data=cc, headers={"Authorization": basic("nope", "x")})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    r = requests.post(url, data={**cc, "client_secret": service["svc_secret"]},
                      headers={"Authorization": basic(service["svc_id"], service["svc_secret"])})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data=cc, headers={"Authorization": "Basic !!!notbase64"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    r = requests.post(url, data={**cc, "client_id": service["client_id"]})
    assert (r.status_code, r.json()["error"]) == (400, "unauthorized_client")
    # No secret for a confidential client.
    r = requests.post(url, data={**cc, "client_id": service["svc_id"]})
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")


def test_malformed_token_requests(server, service):
    url = token_url(server)
    auth = {"Authorization": basic(service["svc_id"], service["svc_secret"])}
    r = requests.post(url, json={"grant_type": "client_credentials"}, headers=auth)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data="grant_type=client_credentials&grant_type=client_credentials",
                      headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data=b"grant_type=\xff\xfe",
                      headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data=b"a=" + b"x" * 200_000,
                      headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    r = requests.get(url)
    assert r.status_code == 405


def test_authorization_code_errors_without_a_code(server, service, idp):
    c = idp.create_user_pool_client(
        UserPoolId=service["id"], ClientName="web", AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], AllowedOAuthFlowsUserPoolClient=True,
        CallbackURLs=["https://app.example/cb"], SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    url = token_url(server)
    r = requests.post(url, data={"grant_type": "authorization_code", "client_id": c["ClientId"],
                                 "redirect_uri": "https://app.example/cb"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data={"grant_type": "authorization_code", "client_id": c["ClientId"],
                                 "code": "forged", "redirect_uri": "https://app.example/cb"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_userinfo(server, public_idp, idp, pool):
    make_user(idp, pool["id"], "uinfo", attrs=[
        {"Name": "email", "Value": "uinfo@example.com"}, {"Name": "email_verified", "Value": "true"},
        {"Name": "name", "Value": "Ui Nfo"}])
    toks = public_idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "uinfo", "PASSWORD": PASSWORD})["AuthenticationResult"]
    url = f"{server.url}/oauth2/userInfo"
    r = requests.get(url, headers={"Authorization": f"Bearer {toks['AccessToken']}"})
    assert r.status_code == 200, r.text
    info = r.json()
    sub = jwt.decode(toks["AccessToken"], options={"verify_signature": False})["sub"]
    assert info == {"sub": sub, "email": "uinfo@example.com", "email_verified": "true",
                    "name": "Ui Nfo", "username": "uinfo"}
    assert r.headers["Cache-Control"] == "no-store"
    # POST with the token in the header works too.
    assert requests.post(url, headers={"Authorization": f"Bearer {toks['AccessToken']}"}).json() == info
    # Missing, forged, ID token instead of access token.
    r = requests.get(url)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    for bad in ["x.y.z", toks["AccessToken"][:-4] + "AAAA", toks["IdToken"]]:
        r = requests.get(url, headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
        assert r.json()["error"] == "invalid_token"
    # After GlobalSignOut the token is refused here too.
    public_idp.global_sign_out(AccessToken=toks["AccessToken"])
    r = requests.get(url, headers={"Authorization": f"Bearer {toks['AccessToken']}"})
    assert r.status_code == 401


def test_userinfo_refuses_client_credentials_tokens(server, service):
    tok = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                        headers={"Authorization": basic(service["svc_id"], service["svc_secret"])}).json()
    r = requests.get(f"{server.url}/oauth2/userInfo", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert r.status_code in (401, 403)


def test_revocation_endpoint(server, public_idp, idp, pool):
    make_user(idp, pool["id"], "revoker")
    toks = public_idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "revoker", "PASSWORD": PASSWORD})["AuthenticationResult"]
    url = f"{server.url}/oauth2/revoke"
    # An access token is not revocable here (Cognito revokes refresh tokens only).
    r = requests.post(url, data={"token": toks["AccessToken"], "client_id": pool["client_id"]})
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_token_type")
    # An unknown token is fine (RFC 7009 §2.2).
    r = requests.post(url, data={"token": "unknown-token", "client_id": pool["client_id"]})
    assert r.status_code == 200
    r = requests.post(url, data={"client_id": pool["client_id"]})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = requests.post(url, data={"token": toks["RefreshToken"], "client_id": pool["client_id"]})
    assert r.status_code == 200 and r.text == ""
    # The refresh token is dead, and so is the access token of its family.
    r = requests.post(token_url(server), data={"grant_type": "refresh_token", "client_id": pool["client_id"],
                                               "refresh_token": toks["RefreshToken"]})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    r = requests.get(f"{server.url}/oauth2/userInfo", headers={"Authorization": f"Bearer {toks['AccessToken']}"})
    assert r.status_code == 401


def test_refresh_grant_issues_api_scoped_tokens(server, public_idp, idp, pool):
    """A refresh token of a Cognito API sign-in refreshed at the token endpoint (the client has
    OAuth enabled) keeps the API's scope."""
    make_user(idp, pool["id"], "refresher")
    idp.update_user_pool_client(
        UserPoolId=pool["id"], ClientId=pool["client_id"], ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid"], AllowedOAuthFlowsUserPoolClient=True,
        CallbackURLs=["https://app.example/cb"], SupportedIdentityProviders=["COGNITO"])
    toks = public_idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "refresher", "PASSWORD": PASSWORD})["AuthenticationResult"]
    r = requests.post(token_url(server), data={"grant_type": "refresh_token", "client_id": pool["client_id"],
                                               "refresh_token": toks["RefreshToken"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body
    claims = verify(server, pool["id"], body["access_token"])
    assert claims["scope"] == "aws.cognito.signin.user.admin" and claims["username"] == "refresher"
    idc = verify(server, pool["id"], body["id_token"], audience=pool["client_id"])
    assert idc["cognito:username"] == "refresher"
    # Another client cannot use it.
    other = idp.create_user_pool_client(UserPoolId=pool["id"], ClientName="other")["UserPoolClient"]
    r = requests.post(token_url(server), data={"grant_type": "refresh_token", "client_id": other["ClientId"],
                                               "refresh_token": toks["RefreshToken"]})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_gateway_route_scopes_meet_client_credentials(server, service, idp, public_idp):
    """Issue 5, item 5: a client-credentials token with pets/admin passes a route demanding
    pets/admin; a user's token without it gets 403; no token 401."""
    apigw = server.client("apigatewayv2")
    issuer = f"{server.url}/{service['id']}"
    api = apigw.create_api(Name=f"pets-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="ANY",
                                     IntegrationUri=f"{server.url}/health", PayloadFormatVersion="1.0")["IntegrationId"]
    auth = apigw.create_authorizer(ApiId=api, AuthorizerType="JWT", Name="pool",
                                   IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Issuer": issuer,
                                                     "Audience": [service["svc_id"], service["client_id"]]})["AuthorizerId"]
    apigw.create_route(ApiId=api, RouteKey="GET /pets", Target=f"integrations/{integ}",
                       AuthorizationType="JWT", AuthorizerId=auth, AuthorizationScopes=["pets/admin"])
    apigw.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    cc = requests.post(token_url(server), data={"grant_type": "client_credentials", "scope": "pets/admin"},
                       headers={"Authorization": basic(service["svc_id"], service["svc_secret"])}).json()["access_token"]
    read_only = requests.post(token_url(server), data={"grant_type": "client_credentials", "scope": "pets/read"},
                              headers={"Authorization": basic(service["svc_id"], service["svc_secret"])}).json()["access_token"]
    make_user(idp, service["id"], "petowner")
    user = public_idp.initiate_auth(ClientId=service["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "petowner", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
    host = {"Host": f"{api}.execute-api.localhost"}

    def call(token=None):
        headers = dict(host)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.get(f"{server.gateway_url}/pets", headers=headers)

    deadline = time.time() + 5
    while call(cc).status_code == 404 and time.time() < deadline:
        time.sleep(0.05)
    assert call(cc).status_code == 200
    assert call().status_code == 401
    r = call(read_only)
    assert r.status_code == 403 and r.json() == {"message": "Forbidden"}
    r = call(user)
    assert r.status_code == 403 and r.json() == {"message": "Forbidden"}
