"""Signing-key rotation (GatehouseRotateSigningKey, Gatehouse's own admin operation): new tokens
carry the new key, old ones keep verifying."""
import jwt
import requests

import awsraw
from conftest import PASSWORD, make_user


def test_rotating_the_signing_key_keeps_old_tokens_valid(server, idp):
    """GatehouseRotateSigningKey (signed, admin): new tokens carry the new kid, the JWKS holds
    both keys, tokens signed before still work, and unsigned callers are refused."""
    pool_id = idp.create_user_pool(PoolName="rotate")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="c", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    make_user(idp, pool_id, "rot")
    before = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "rot", "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    old_kid = jwt.get_unverified_header(before["AccessToken"])["kid"]

    r = awsraw.call(server, "GatehouseRotateSigningKey", {"UserPoolId": pool_id})
    assert r.status_code == 200, r.text
    new_kid = r.json()["Kid"]
    assert new_kid != old_kid
    jwks = requests.get(f"{server.url}/{pool_id}/.well-known/jwks.json").json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}

    after = idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "rot", "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    assert jwt.get_unverified_header(after["AccessToken"])["kid"] == new_kid
    assert jwt.get_unverified_header(after["IdToken"])["kid"] == new_kid
    # Tokens from before still verify, and the refresh token mints new-key tokens.
    assert idp.get_user(AccessToken=before["AccessToken"])["Username"] == "rot"
    refreshed = idp.initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": before["RefreshToken"]}
    )["AuthenticationResult"]
    assert jwt.get_unverified_header(refreshed["AccessToken"])["kid"] == new_kid
    for token, kid in [(before["AccessToken"], old_kid), (after["AccessToken"], new_kid)]:
        key = next(k for k in jwks["keys"] if k["kid"] == kid)
        jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], options={"verify_aud": False})

    unsigned = awsraw.call(server, "GatehouseRotateSigningKey", {"UserPoolId": pool_id}, signed=False)
    assert unsigned.status_code in (400, 403), unsigned.text
    missing = awsraw.call(server, "GatehouseRotateSigningKey", {"UserPoolId": "us-east-1_nopenope1"})
    assert missing.status_code == 400 and missing.json()["__type"] == "ResourceNotFoundException"
