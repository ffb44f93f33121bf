"""Tokens end to end: RS256 ID and access tokens with Cognito's claims, verified with PyJWT
against the pool's published JWKS and discovery document; validity from the client (defaults
and units); opaque refresh tokens stored only as hashes; forged tokens refused by GetUser."""
import base64
import json
import time
import uuid

import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
ID_CLAIMS = {"sub", "aud", "iss", "token_use", "auth_time", "exp", "iat", "jti", "origin_jti",
             "cognito:username", "event_id"}
ACCESS_CLAIMS = {"sub", "client_id", "username", "scope", "token_use", "auth_time", "exp", "iat", "jti",
                 "origin_jti", "iss", "event_id"}


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


def sign_in(public_idp, cid, username, password=PASSWORD):
    return public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token):
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p))), s


def verifier(server, pool_id):
    issuer = f"{server.url}/{pool_id}"
    disco = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
    assert disco.status_code == 200
    d = disco.json()
    assert d["issuer"] == issuer and d["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert "RS256" in d["id_token_signing_alg_values_supported"]
    return issuer, jwt.PyJWKClient(d["jwks_uri"])


def test_id_and_access_token_claims(server, idp, public_idp):
    p = idp.create_user_pool(PoolName=f"t-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"],
                             Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True},
                                     {"Name": "level", "AttributeDataType": "Number", "Mutable": True}])["UserPool"]
    pid = p["Id"]
    cid = idp.create_user_pool_client(UserPoolId=pid, ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    make_user(idp, pid, "ann", attrs=[
        {"Name": "email", "Value": "ann@example.com"}, {"Name": "email_verified", "Value": "true"},
        {"Name": "given_name", "Value": "Ann"}, {"Name": "custom:tier", "Value": "gold"},
        {"Name": "custom:level", "Value": "7"}])
    idp.create_group(UserPoolId=pid, GroupName="admins")
    idp.create_group(UserPoolId=pid, GroupName="staff")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="admins")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="staff")
    sub = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=pid, Username="ann")["UserAttributes"]}["sub"]

    before = int(time.time())
    r = sign_in(public_idp, cid, "ann")
    issuer, jwks = verifier(server, pid)

    header, _, _ = parts(r["IdToken"])
    assert header["alg"] == "RS256" and header["kid"]
    assert header["kid"] in [k["kid"] for k in requests.get(f"{issuer}/.well-known/jwks.json").json()["keys"]]

    key = jwks.get_signing_key_from_jwt(r["IdToken"]).key
    idt = jwt.decode(r["IdToken"], key, algorithms=["RS256"], audience=cid, issuer=issuer)
    assert ID_CLAIMS <= set(idt)
    assert idt["sub"] == sub and idt["aud"] == cid and idt["token_use"] == "id"
    assert idt["cognito:username"] == "ann"
    assert idt["email"] == "ann@example.com" and idt["email_verified"] is True
    assert idt["given_name"] == "Ann" and idt["custom:tier"] == "gold" and idt["custom:level"] == "7"
    assert sorted(idt["cognito:groups"]) == ["admins", "staff"]
    assert before - 5 <= idt["iat"] <= before + 60 and idt["exp"] - idt["iat"] == 3600
    assert idt["auth_time"] == idt["iat"]

    key = jwks.get_signing_key_from_jwt(r["AccessToken"]).key
    at = jwt.decode(r["AccessToken"], key, algorithms=["RS256"], issuer=issuer)
    assert ACCESS_CLAIMS <= set(at)
    assert "aud" not in at and "email" not in at and "cognito:username" not in at
    assert at["sub"] == sub and at["client_id"] == cid and at["username"] == "ann"
    assert at["token_use"] == "access" and at["scope"] == "aws.cognito.signin.user.admin"
    assert sorted(at["cognito:groups"]) == ["admins", "staff"]
    assert at["exp"] - at["iat"] == 3600
    assert at["origin_jti"] == idt["origin_jti"] and at["event_id"] == idt["event_id"]
    assert at["jti"] != idt["jti"]
    for claim in ("jti", "origin_jti", "event_id"):
        uuid.UUID(at[claim])

    # A later sign-in is a new authentication event.
    again = parts(sign_in(public_idp, cid, "ann")["AccessToken"])[1]
    assert again["origin_jti"] != at["origin_jti"] and again["jti"] != at["jti"]
    idp.delete_user_pool(UserPoolId=pid)


def test_validity_comes_from_the_client(server, idp, public_idp, pool):
    pid = pool["id"]
    make_user(idp, pid, "bea")
    c = idp.create_user_pool_client(
        UserPoolId=pid, ClientName="short", ExplicitAuthFlows=FLOWS,
        AccessTokenValidity=5, IdTokenValidity=2, RefreshTokenValidity=90,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "minutes"})["UserPoolClient"]
    r = sign_in(public_idp, c["ClientId"], "bea")
    at, idt = parts(r["AccessToken"])[1], parts(r["IdToken"])[1]
    assert at["exp"] - at["iat"] == 300 and r["ExpiresIn"] == 300
    assert idt["exp"] - idt["iat"] == 7200
    (created, expires), = server.sql("SELECT created, expires FROM refresh_tokens WHERE client_id = ?", (c["ClientId"],))
    assert expires - created == 90 * 60

    # Defaults: 1 hour, 1 hour, 30 days.
    r = sign_in(public_idp, pool["client_id"], "bea")
    assert r["ExpiresIn"] == 3600
    rows = server.sql("SELECT created, expires FROM refresh_tokens WHERE client_id = ?", (pool["client_id"],))
    assert [e - c for c, e in rows] == [30 * 86400]


def test_refresh_keeps_auth_time_and_stores_only_hashes(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "cal")
    first = sign_in(public_idp, cid, "cal")
    t0 = parts(first["IdToken"])[1]
    time.sleep(1.1)
    r = public_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})["AuthenticationResult"]
    issuer, jwks = verifier(server, pid)
    idt = jwt.decode(r["IdToken"], jwks.get_signing_key_from_jwt(r["IdToken"]).key, algorithms=["RS256"],
                     audience=cid, issuer=issuer)
    assert idt["auth_time"] == t0["auth_time"] and idt["iat"] > t0["iat"]
    assert idt["origin_jti"] == t0["origin_jti"] and idt["jti"] != t0["jti"]
    assert idt["sub"] == t0["sub"]
    assert public_idp.get_user(AccessToken=r["AccessToken"])["Username"] == "cal"

    # Opaque, and only a hash of it is stored.
    assert first["RefreshToken"].count(".") != 2
    hashes_ = [h for (h,) in server.sql("SELECT token_hash FROM refresh_tokens WHERE pool_id = ?", (pid,))]
    assert hashes_ and first["RefreshToken"] not in hashes_
    stored = server.raw_store_bytes()
    assert first["RefreshToken"].encode() not in stored


def forge(claims, key, kid, alg="RS256"):
    header = {"alg": alg, "kid": kid, "typ": "JWT"} if alg else {"kid": kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if alg == "RS256":
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = b""
    return f"{signing_input}.{b64(sig)}"


def test_forged_tokens_are_refused(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "dee")
    good = sign_in(public_idp, cid, "dee")
    assert public_idp.get_user(AccessToken=good["AccessToken"])["Username"] == "dee"
    header, claims, sig = parts(good["AccessToken"])

    other = idp.create_user_pool(PoolName=f"o-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    other_cid = idp.create_user_pool_client(UserPoolId=other, ClientName="o", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    make_user(idp, other, "dee")
    other_token = sign_in(public_idp, other_cid, "dee")["AccessToken"]
    _, other_claims, _ = parts(other_token)

    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    h, p, s = good["AccessToken"].split(".")
    tampered_claims = dict(claims, username="admin", exp=claims["exp"] + 86400)
    bad = {
        "truncated": good["AccessToken"][:-10],
        "no signature": f"{h}.{p}.",
        "two parts": f"{h}.{p}",
        "garbage": "not-a-jwt",
        "tampered payload": f"{h}.{b64(json.dumps(tampered_claims).encode())}.{s}",
        "alg none": forge(claims, None, header["kid"], alg="none"),
        "HS256": forge(claims, None, header["kid"], alg="HS256"),
        "attacker key, our kid": forge(claims, attacker, header["kid"]),
        "attacker key, unknown kid": forge(claims, attacker, "attacker-kid"),
        "id token": good["IdToken"],
        # Claims of our pool with the other pool's signature.
        "other pool's key": f"{other_token.split('.')[0]}.{p}.{other_token.split('.')[2]}",
        "unknown issuer": forge(dict(claims, iss="https://evil.example.com/" + pid), attacker, header["kid"]),
    }
    for name, token in bad.items():
        code, msg = error_of(public_idp.get_user, AccessToken=token)
        assert code == "NotAuthorizedException", (name, code, msg)
        assert msg == "Invalid Access Token", (name, msg)
    # The other pool's own token is valid, for its own user only.
    me = public_idp.get_user(AccessToken=other_token)
    assert me["Username"] == "dee" and other_claims["sub"] != claims["sub"]


def test_jwks_and_discovery(server, idp):
    a = idp.create_user_pool(PoolName=f"j-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    b = idp.create_user_pool(PoolName=f"j-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    ka = requests.get(f"{server.url}/{a}/.well-known/jwks.json").json()["keys"]
    kb = requests.get(f"{server.url}/{b}/.well-known/jwks.json").json()["keys"]
    assert ka and kb and {k["kid"] for k in ka}.isdisjoint({k["kid"] for k in kb})
    for k in ka:
        assert k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["e"] == "AQAB"
        assert "d" not in k and "p" not in k
        n = base64.urlsafe_b64decode(k["n"] + "=" * (-len(k["n"]) % 4))
        assert len(n) * 8 >= 2048
    r = requests.get(f"{server.url}/us-east-1_NoSuchPl/.well-known/jwks.json")
    assert r.status_code == 404
    r = requests.get(f"{server.url}/us-east-1_NoSuchPl/.well-known/openid-configuration")
    assert r.status_code == 404
    idp.delete_user_pool(UserPoolId=a)
    idp.delete_user_pool(UserPoolId=b)
    assert requests.get(f"{server.url}/{a}/.well-known/jwks.json").status_code == 404


def test_tokens_with_aws_cli(server, idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "eli")
    r = server.aws("cognito-idp", "initiate-auth", "--client-id", cid, "--auth-flow", "USER_PASSWORD_AUTH",
                   "--auth-parameters", f"USERNAME=eli,PASSWORD={PASSWORD}")["AuthenticationResult"]
    issuer, jwks = verifier(server, pid)
    claims = jwt.decode(r["AccessToken"], jwks.get_signing_key_from_jwt(r["AccessToken"]).key,
                        algorithms=["RS256"], issuer=issuer)
    assert claims["username"] == "eli"
    me = server.aws("cognito-idp", "get-user", "--access-token", r["AccessToken"])
    assert me["Username"] == "eli"
    out = server.aws("cognito-idp", "get-user", "--access-token", r["AccessToken"][:-4] + "AAAA", check=False)
    assert out.returncode != 0 and "NotAuthorizedException" in out.stderr and "Invalid Access Token" in out.stderr


def test_tokens_survive_a_restart(fresh_server):
    srv = fresh_server()
    idp, public_idp = srv.client(), srv.client(signed=False)
    pid = idp.create_user_pool(PoolName="restart")["UserPool"]["Id"]
    cid = idp.create_user_pool_client(UserPoolId=pid, ClientName="a", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    make_user(idp, pid, "zed")
    r = sign_in(public_idp, cid, "zed")
    kids = requests.get(f"{srv.url}/{pid}/.well-known/jwks.json").json()
    srv.restart()
    idp, public_idp = srv.client(), srv.client(signed=False)
    assert requests.get(f"{srv.url}/{pid}/.well-known/jwks.json").json() == kids
    assert public_idp.get_user(AccessToken=r["AccessToken"])["Username"] == "zed"
    assert public_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": r["RefreshToken"]})["AuthenticationResult"]


def test_signing_keys_are_sealed_at_rest(server, idp):
    """The database alone must not let anyone mint tokens: private keys are stored sealed under
    the master key (not as PKCS#8 DER, which starts with a SEQUENCE tag 0x30 0x82)."""
    pool_id = idp.create_user_pool(PoolName="sealed-keys")["UserPool"]["Id"]
    rows = server.sql("SELECT kid, private_pkcs8 FROM signing_keys WHERE pool_id = ?", (pool_id,))
    assert len(rows) == 1
    kid, blob = rows[0]
    assert not bytes(blob).startswith(b"\x30\x82")
    raw = base64.b64decode(bytes(blob))
    assert b"\x30\x82" not in raw[:16]
    # And the pool still signs and publishes that key.
    jwks = requests.get(f"{server.url}/{pool_id}/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [kid]
