"""The authorization-code grant end to end at the token endpoint: a browser-like client signs in
on the hosted page, then redeems the code. Single use, bound to the client, the redirect_uri and
the PKCE verifier; tokens carry exactly the granted scopes, the nonce and at_hash; refresh keeps
the scopes; the implicit grant's tokens carry at_hash too."""
import base64
import hashlib
import secrets

import jwt
import pytest
import requests

from conftest import make_user
from test_hosted_ui import CALLBACK, Browser, oauth_client, oauth_pool, redirect_params


def verify(server, pool_id, token, **kw):
    issuer = f"{server.url}/{pool_id}"
    key = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, **kw)


def at_hash(access_token):
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def web(idp):
    pid, cid = oauth_pool(idp)
    make_user(idp, pid, "carol")
    yield {"pool_id": pid, "client_id": cid}
    idp.delete_user_pool(UserPoolId=pid)


def code_for(server, client_id, **extra):
    r = Browser(server).sign_in(client_id, "carol", **extra)
    _, params = redirect_params(r)
    return params["code"]


def redeem(server, client_id, code, redirect_uri=CALLBACK, **extra):
    return requests.post(f"{server.url}/oauth2/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": code,
        "redirect_uri": redirect_uri, **extra})


def test_code_with_pkce_nonce_and_scopes(server, web):
    verifier = secrets.token_urlsafe(48)
    code = code_for(server, web["client_id"], scope="openid email", nonce="n-0S6_WzA2Mj",
                    code_challenge=s256(verifier), code_challenge_method="S256")
    r = redeem(server, web["client_id"], code, code_verifier=verifier)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    tok = r.json()
    assert set(tok) == {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}
    access = verify(server, web["pool_id"], tok["access_token"])
    assert access["scope"] == "openid email" and access["username"] == "carol"
    assert access["client_id"] == web["client_id"] and access["token_use"] == "access"
    idt = verify(server, web["pool_id"], tok["id_token"], audience=web["client_id"])
    assert idt["nonce"] == "n-0S6_WzA2Mj" and idt["at_hash"] == at_hash(tok["access_token"])
    assert idt["cognito:username"] == "carol" and idt["email"] == "carol@example.com"
    # Without aws.cognito.signin.user.admin the access token does not reach the user API.
    with pytest.raises(Exception, match="NotAuthorized"):
        server.client(signed=False).get_user(AccessToken=tok["access_token"])
    # userInfo with openid + email.
    info = requests.get(f"{server.url}/oauth2/userInfo",
                        headers={"Authorization": f"Bearer {tok['access_token']}"}).json()
    assert info["email"] == "carol@example.com" and info["username"] == "carol"
    # Refresh keeps the scopes and issues no new refresh token.
    r = requests.post(f"{server.url}/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": web["client_id"], "refresh_token": tok["refresh_token"]})
    assert r.status_code == 200, r.text
    again = r.json()
    assert "refresh_token" not in again
    assert verify(server, web["pool_id"], again["access_token"])["scope"] == "openid email"
    refreshed_id = verify(server, web["pool_id"], again["id_token"], audience=web["client_id"])
    assert refreshed_id["at_hash"] == at_hash(again["access_token"]) and "nonce" not in refreshed_id


def test_a_code_is_single_use_and_a_replay_revokes_its_tokens(server, web):
    code = code_for(server, web["client_id"])
    first = redeem(server, web["client_id"], code)
    assert first.status_code == 200
    tok = first.json()
    r = redeem(server, web["client_id"], code)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    # RFC 6749 §4.1.2: the tokens the code was exchanged for are revoked.
    r = requests.post(f"{server.url}/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": web["client_id"], "refresh_token": tok["refresh_token"]})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
    r = requests.get(f"{server.url}/oauth2/userInfo", headers={"Authorization": f"Bearer {tok['access_token']}"})
    assert r.status_code == 401


@pytest.mark.parametrize("case", ["other_client", "redirect", "no_verifier", "wrong_verifier", "short_verifier"])
def test_a_code_is_bound(server, idp, web, case):
    verifier = secrets.token_urlsafe(48)
    code = code_for(server, web["client_id"], code_challenge=s256(verifier), code_challenge_method="S256")
    client, redirect, extra = web["client_id"], CALLBACK, {"code_verifier": verifier}
    if case == "other_client":
        client = oauth_client(idp, web["pool_id"], name="other")["ClientId"]
    elif case == "redirect":
        redirect = CALLBACK + "/other"
    elif case == "no_verifier":
        extra = {}
    elif case == "wrong_verifier":
        extra = {"code_verifier": secrets.token_urlsafe(48)}
    else:
        extra = {"code_verifier": "short"}
    r = redeem(server, client, code, redirect, **extra)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant"), r.text
    # A failed redemption burns the code (RFC 6749 §4.1.2: single use, whatever happened).
    r = redeem(server, web["client_id"], code, code_verifier=verifier)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_plain_pkce(server, web):
    verifier = secrets.token_urlsafe(48)
    code = code_for(server, web["client_id"], code_challenge=verifier, code_challenge_method="plain")
    assert redeem(server, web["client_id"], code, code_verifier=verifier).status_code == 200


def test_without_openid_there_is_no_id_token(server, idp, web):
    c = oauth_client(idp, web["pool_id"], name="noid", flows=("code",), scopes=("email", "openid", "aws.cognito.signin.user.admin"))
    code = code_for(server, c["ClientId"], scope="aws.cognito.signin.user.admin")
    tok = redeem(server, c["ClientId"], code).json()
    assert "id_token" not in tok
    assert verify(server, web["pool_id"], tok["access_token"])["scope"] == "aws.cognito.signin.user.admin"
    # With the admin scope the token reaches the Cognito user API.
    user = server.client(signed=False).get_user(AccessToken=tok["access_token"])
    assert user["Username"] == "carol"


def test_confidential_client_must_authenticate(server, idp, web):
    c = oauth_client(idp, web["pool_id"], name="conf", secret=True)
    code = code_for(server, c["ClientId"])
    r = redeem(server, c["ClientId"], code)
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    code = code_for(server, c["ClientId"])
    r = requests.post(f"{server.url}/oauth2/token", auth=(c["ClientId"], c["ClientSecret"]), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK})
    assert r.status_code == 200, r.text


def test_disabled_user_cannot_redeem(server, idp, web):
    code = code_for(server, web["client_id"])
    idp.admin_disable_user(UserPoolId=web["pool_id"], Username="carol")
    r = redeem(server, web["client_id"], code)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")


def test_implicit_tokens_carry_at_hash_and_nonce(server, web):
    r = Browser(server).sign_in(web["client_id"], "carol", response_type="token", nonce="xyz")
    _, params = redirect_params(r, fragment=True)
    assert params["token_type"] == "Bearer" and "refresh_token" not in params and "code" not in params
    idt = verify(server, web["pool_id"], params["id_token"], audience=web["client_id"])
    assert idt["nonce"] == "xyz" and idt["at_hash"] == at_hash(params["access_token"])


def test_oidc_rp_initiated_logout(server, web):
    """end_session_endpoint as OIDC RP-Initiated Logout uses it: the client named by
    id_token_hint, post_logout_redirect_uri (registered) with state passed back."""
    from test_hosted_ui import SIGNED_OUT
    b = Browser(server)
    _, params = redirect_params(b.sign_in(web["client_id"], "carol"))
    tok = redeem(server, web["client_id"], params["code"]).json()
    doc = requests.get(f"{server.url}/{web['pool_id']}/.well-known/openid-configuration").json()
    end = doc["end_session_endpoint"].replace(server.url, "")
    r = b.get(end, id_token_hint=tok["id_token"], post_logout_redirect_uri="https://evil.example/",
              state="s")
    assert r.status_code == 400 and "Location" not in r.headers
    r = b.get(end, id_token_hint=tok["id_token"], post_logout_redirect_uri=SIGNED_OUT, state="xyz")
    assert r.status_code == 302 and r.headers["Location"] == f"{SIGNED_OUT}?state=xyz"
    # The hosted session is over: the next authorize shows the sign-in page.
    assert b.authorize(web["client_id"]).status_code == 200
