"""Sign-out and revocation: GlobalSignOut, AdminUserGlobalSignOut and RevokeToken with AWS's
errors. After them the refresh tokens stop working and every operation that takes an
AccessToken refuses the access tokens minted from them; other users and other sessions are
unaffected; revocations survive a restart."""
import base64
import hashlib
import hmac
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
REVOKED = ("NotAuthorizedException", "Access Token has been revoked")
REFRESH_REVOKED = ("NotAuthorizedException", "Refresh Token has been revoked")


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


def sign_in(public_idp, cid, username, password=PASSWORD):
    return public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"]


def refresh(public_idp, cid, rt):
    return public_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": rt})["AuthenticationResult"]


def access_token_calls(public_idp, token):
    """Every operation that takes an AccessToken, with arguments that would otherwise be valid
    enough to reach the token check. Operations this build does not serve are skipped."""
    calls = {
        "GetUser": lambda: public_idp.get_user(AccessToken=token),
        "UpdateUserAttributes": lambda: public_idp.update_user_attributes(
            AccessToken=token, UserAttributes=[{"Name": "name", "Value": "x"}]),
        "DeleteUserAttributes": lambda: public_idp.delete_user_attributes(
            AccessToken=token, UserAttributeNames=["name"]),
        "ChangePassword": lambda: public_idp.change_password(
            AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword="N3w-Passw0rd!"),
        "GetUserAttributeVerificationCode": lambda: public_idp.get_user_attribute_verification_code(
            AccessToken=token, AttributeName="email"),
        "VerifyUserAttribute": lambda: public_idp.verify_user_attribute(
            AccessToken=token, AttributeName="email", Code="123456"),
        "GlobalSignOut": lambda: public_idp.global_sign_out(AccessToken=token),
        "AssociateSoftwareToken": lambda: public_idp.associate_software_token(AccessToken=token),
        "VerifySoftwareToken": lambda: public_idp.verify_software_token(AccessToken=token, UserCode="123456"),
        "SetUserMFAPreference": lambda: public_idp.set_user_mfa_preference(
            AccessToken=token, SoftwareTokenMfaSettings={"Enabled": False}),
        "ListDevices": lambda: public_idp.list_devices(AccessToken=token),
        "GetDevice": lambda: public_idp.get_device(AccessToken=token, DeviceKey="us-east-1_" + "0" * 36),
        "ForgetDevice": lambda: public_idp.forget_device(AccessToken=token, DeviceKey="us-east-1_" + "0" * 36),
        "DeleteUser": lambda: public_idp.delete_user(AccessToken=token),
    }
    return calls


def assert_refused_everywhere(public_idp, token):
    served = 0
    for name, call in access_token_calls(public_idp, token).items():
        try:
            call()
        except ClientError as e:
            err = e.response["Error"]
            if err["Code"] == "UnknownOperationException":
                continue
            assert (err["Code"], err.get("Message", "")) == REVOKED, name
            served += 1
            continue
        raise AssertionError(f"{name} accepted a revoked access token")
    assert served >= 8


def new_pool(idp, **client_kw):
    p = idp.create_user_pool(PoolName=f"so-{uuid.uuid4().hex[:8]}")["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app",
                                    **({"ExplicitAuthFlows": FLOWS} | client_kw))["UserPoolClient"]
    return p["Id"], c


def test_global_sign_out(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "gina")
    make_user(idp, pid, "hank")
    a = sign_in(public_idp, cid, "gina")
    b = sign_in(public_idp, cid, "gina")  # a second device
    minted = refresh(public_idp, cid, a["RefreshToken"])["AccessToken"]
    other = sign_in(public_idp, cid, "hank")

    public_idp.global_sign_out(AccessToken=a["AccessToken"])
    for token in (a["AccessToken"], b["AccessToken"], minted):
        assert error_of(public_idp.get_user, AccessToken=token) == REVOKED
    assert_refused_everywhere(public_idp, b["AccessToken"])
    for rt in (a["RefreshToken"], b["RefreshToken"]):
        assert error_of(refresh, public_idp, cid, rt) == REFRESH_REVOKED
    # Other users are unaffected.
    assert public_idp.get_user(AccessToken=other["AccessToken"])["Username"] == "hank"
    assert refresh(public_idp, cid, other["RefreshToken"])["AccessToken"]
    # Signing in again works, with tokens that are not revoked.
    again = sign_in(public_idp, cid, "gina")
    assert public_idp.get_user(AccessToken=again["AccessToken"])["Username"] == "gina"
    assert refresh(public_idp, cid, again["RefreshToken"])["AccessToken"]
    # Missing / garbage tokens.
    assert error_of(public_idp.global_sign_out, AccessToken="not-a-token")[0] == "NotAuthorizedException"


def test_admin_user_global_sign_out(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "ivy")
    make_user(idp, pid, "jon")
    a = sign_in(public_idp, cid, "ivy")
    other = sign_in(public_idp, cid, "jon")
    assert public_idp.get_user(AccessToken=a["AccessToken"])["Username"] == "ivy"

    idp.admin_user_global_sign_out(UserPoolId=pid, Username="ivy")
    assert error_of(public_idp.get_user, AccessToken=a["AccessToken"]) == REVOKED
    assert error_of(refresh, public_idp, cid, a["RefreshToken"]) == REFRESH_REVOKED
    assert public_idp.get_user(AccessToken=other["AccessToken"])["Username"] == "jon"
    # Idempotent, and AWS's errors for unknown users and pools.
    idp.admin_user_global_sign_out(UserPoolId=pid, Username="ivy")
    assert error_of(idp.admin_user_global_sign_out, UserPoolId=pid, Username="nobody")[0] == "UserNotFoundException"
    assert error_of(idp.admin_user_global_sign_out, UserPoolId="us-east-1_NoSuchPoo",
                    Username="ivy")[0] == "ResourceNotFoundException"
    # It is an admin call: unsigned requests are refused.
    with pytest.raises(ClientError):
        public_idp.admin_user_global_sign_out(UserPoolId=pid, Username="jon")
    assert public_idp.get_user(AccessToken=other["AccessToken"])["Username"] == "jon"


def test_revoke_token(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "kim")
    a = sign_in(public_idp, cid, "kim")
    b = sign_in(public_idp, cid, "kim")
    minted = refresh(public_idp, cid, a["RefreshToken"])["AccessToken"]

    public_idp.revoke_token(Token=a["RefreshToken"], ClientId=cid)
    for token in (a["AccessToken"], minted):
        assert error_of(public_idp.get_user, AccessToken=token) == REVOKED
    assert error_of(refresh, public_idp, cid, a["RefreshToken"]) == REFRESH_REVOKED
    assert_refused_everywhere(public_idp, minted)
    # Only that family: the other session of the same user goes on.
    assert public_idp.get_user(AccessToken=b["AccessToken"])["Username"] == "kim"
    assert refresh(public_idp, cid, b["RefreshToken"])["AccessToken"]
    # Revoking again is fine.
    public_idp.revoke_token(Token=a["RefreshToken"], ClientId=cid)


def test_revoke_token_errors(idp, public_idp):
    pid, c = new_pool(idp)
    cid = c["ClientId"]
    make_user(idp, pid, "lea")
    t = sign_in(public_idp, cid, "lea")
    # Access and ID tokens are not revocable by RevokeToken.
    for jwt in (t["AccessToken"], t["IdToken"]):
        assert error_of(public_idp.revoke_token, Token=jwt, ClientId=cid)[0] == "UnsupportedTokenTypeException"
    # A token of another client of the pool.
    other = idp.create_user_pool_client(UserPoolId=pid, ClientName="other", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    assert error_of(public_idp.revoke_token, Token=t["RefreshToken"],
                    ClientId=other["ClientId"])[0] == "UnauthorizedException"
    assert error_of(public_idp.revoke_token, Token=t["RefreshToken"],
                    ClientId="nosuchclient000000000000")[0] == "UnauthorizedException"
    # Revocation disabled on the client.
    off = idp.create_user_pool_client(UserPoolId=pid, ClientName="off", ExplicitAuthFlows=FLOWS,
                                      EnableTokenRevocation=False)["UserPoolClient"]
    t_off = sign_in(public_idp, off["ClientId"], "lea")
    assert error_of(public_idp.revoke_token, Token=t_off["RefreshToken"],
                    ClientId=off["ClientId"])[0] == "UnsupportedOperationException"
    # A client with a secret must present it.
    sec = idp.create_user_pool_client(UserPoolId=pid, ClientName="sec", GenerateSecret=True,
                                      ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    sh = base64.b64encode(hmac.new(sec["ClientSecret"].encode(), ("lea" + sec["ClientId"]).encode(),
                                   hashlib.sha256).digest()).decode()
    ts = idp.admin_initiate_auth(UserPoolId=pid, ClientId=sec["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": "lea", "PASSWORD": PASSWORD, "SECRET_HASH": sh})["AuthenticationResult"]
    assert error_of(public_idp.revoke_token, Token=ts["RefreshToken"], ClientId=sec["ClientId"])[0] == "UnauthorizedException"
    assert error_of(public_idp.revoke_token, Token=ts["RefreshToken"], ClientId=sec["ClientId"],
                    ClientSecret="x" * 40)[0] == "UnauthorizedException"
    public_idp.revoke_token(Token=ts["RefreshToken"], ClientId=sec["ClientId"], ClientSecret=sec["ClientSecret"])
    assert error_of(public_idp.get_user, AccessToken=ts["AccessToken"]) == REVOKED
    # None of the failed attempts revoked anything.
    assert public_idp.get_user(AccessToken=t["AccessToken"])["Username"] == "lea"
    assert public_idp.get_user(AccessToken=t_off["AccessToken"])["Username"] == "lea"


def test_revocation_survives_restart(fresh_server):
    s = fresh_server()
    idp, public_idp = s.client(), s.client(signed=False)
    pid, c = new_pool(idp)
    cid = c["ClientId"]
    make_user(idp, pid, "max")
    make_user(idp, pid, "ned")
    a = sign_in(public_idp, cid, "max")
    b = sign_in(public_idp, cid, "max")
    keep = sign_in(public_idp, cid, "ned")
    public_idp.global_sign_out(AccessToken=a["AccessToken"])
    ned2 = sign_in(public_idp, cid, "ned")
    public_idp.revoke_token(Token=ned2["RefreshToken"], ClientId=cid)

    s.restart()
    idp, public_idp = s.client(), s.client(signed=False)
    for token in (a["AccessToken"], b["AccessToken"], ned2["AccessToken"]):
        assert error_of(public_idp.get_user, AccessToken=token) == REVOKED
    assert error_of(refresh, public_idp, cid, b["RefreshToken"]) == REFRESH_REVOKED
    assert public_idp.get_user(AccessToken=keep["AccessToken"])["Username"] == "ned"
    assert refresh(public_idp, cid, keep["RefreshToken"])["AccessToken"]
