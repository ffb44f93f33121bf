"""Real OpenID Connect clients against the pool's issuer: authlib (PyPI) here, openid-client (npm,
tests/node/oidc.test.mjs) run from here. Each does discovery, the authorization-code flow with
PKCE S256 (the hosted form driven like a browser would), the token exchange, ID-token validation
against the JWKS (issuer, audience, nonce, at_hash), userinfo, refresh and revocation.
"""
import os
import secrets
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    # authlib's own OIDC claim checks (CodeIDToken: nonce, at_hash) still sit on authlib.jose.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

from conftest import PASSWORD, make_user
from test_hosted_ui import CALLBACK, Browser, oauth_client, redirect_params

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"

# The issuer is plain http on loopback in tests; authlib refuses that unless told.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def oidc(idp):
    p = idp.create_user_pool(PoolName=f"oidc-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"])["UserPool"]
    public = oauth_client(idp, p["Id"], name="spa", flows=["code"])
    confidential = oauth_client(idp, p["Id"], name="backend", flows=["code"], secret=True)
    make_user(idp, p["Id"], "olivia", attrs=[
        {"Name": "email", "Value": "olivia@example.com"}, {"Name": "email_verified", "Value": "true"},
        {"Name": "given_name", "Value": "Olivia"}])
    yield {"pool_id": p["Id"], "public": public, "confidential": confidential}
    idp.delete_user_pool(UserPoolId=p["Id"])


def discover(server, pool_id):
    issuer = f"{server.url}/{pool_id}"
    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "code" in meta["response_types_supported"]
    return meta


def sign_in_at(server, url, username="olivia"):
    """The browser half: open the authorization URL, sign in on the hosted form, return the
    URL the pool sends the browser back to."""
    b = Browser(server)
    page = b.s.get(url, allow_redirects=False, timeout=30)
    assert page.status_code == 200, page.text[:1500]
    r = b.submit(page, username=username, password=PASSWORD)
    loc, _ = redirect_params(r)
    return loc


def validate_id_token(meta, client_id, token, nonce):
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)
    return claims


@pytest.mark.parametrize("kind", ["public", "confidential"])
def test_authlib_code_flow_with_pkce(server, oidc, kind):
    client = oidc[kind]
    meta = discover(server, oidc["pool_id"])
    auth = "client_secret_basic" if kind == "confidential" else "none"
    session = OAuth2Session(client["ClientId"], client.get("ClientSecret"), scope="openid email profile",
                            redirect_uri=CALLBACK, code_challenge_method="S256", token_endpoint_auth_method=auth)
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    assert "code_challenge=" in url and "code_challenge_method=S256" in url
    back = sign_in_at(server, url)
    token = session.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier,
                                state=state)
    assert token["token_type"] == "Bearer" and token["refresh_token"]
    claims = validate_id_token(meta, client["ClientId"], token, nonce)
    assert claims["cognito:username"] == "olivia" and claims["email"] == "olivia@example.com"
    info = session.get(meta["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"] and info.json()["email"] == "olivia@example.com"
    # Refresh, then revoke the refresh token: it stops refreshing.
    refreshed = session.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    r = session.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"],
                             token_type_hint="refresh_token")
    assert r.status_code == 200, r.text
    with pytest.raises(Exception):
        session.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])


def test_authlib_refuses_a_tampered_state(server, oidc):
    meta = discover(server, oidc["pool_id"])
    session = OAuth2Session(oidc["public"]["ClientId"], scope="openid", redirect_uri=CALLBACK,
                            code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
    back = sign_in_at(server, url)
    with pytest.raises(Exception):
        session.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier,
                            state="not-the-state")


def test_openid_client_from_node(server, oidc):
    """openid-client (npm) does discovery, code + PKCE, ID-token checks (JWKS signature, nonce),
    userinfo and refresh, driving the hosted form itself (tests/node/oidc.test.mjs)."""
    if not (NODE_DIR / "node_modules" / "openid-client").exists():
        pytest.fail("run `npm ci --prefix tests/node` first (scripts/test does)")
    node = shutil.which("node")
    assert node, "node is required"
    env = dict(os.environ)
    env.update({
        "GATEHOUSE_ISSUER": f"{server.url}/{oidc['pool_id']}",
        "GATEHOUSE_CLIENT_ID": oidc["public"]["ClientId"],
        "GATEHOUSE_REDIRECT_URI": CALLBACK,
        "GATEHOUSE_USERNAME": "olivia",
        "GATEHOUSE_PASSWORD": PASSWORD,
    })
    out = subprocess.run([node, "--test", "--test-reporter=spec", "oidc.test.mjs"], cwd=NODE_DIR, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"node --test failed:\n{out.stdout}\n{out.stderr}"
