"""Remembered devices through boto3 with pycognito's SRP helpers: NewDeviceMetadata, ConfirmDevice,
DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER, the device operations and their Admin variants, and
a remembered device skipping MFA when the pool says so.
"""
import base64
import hashlib
import hmac
import re
import uuid
import datetime

import pyotp
import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP, generate_hash_device

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]


def device_pool(idp, challenge=True, opt_in=False, mfa=None):
    kw = {}
    if mfa:
        kw["MfaConfiguration"] = mfa
    p = idp.create_user_pool(
        PoolName=f"dev-{uuid.uuid4().hex[:8]}",
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": challenge, "DeviceOnlyRememberedOnUserPrompt": opt_in},
        **kw,
    )["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    return p["Id"], c["ClientId"]


@pytest.fixture
def dpool(idp):
    pool_id, client_id = device_pool(idp)
    make_user(idp, pool_id, "erin")
    yield {"pool_id": pool_id, "client_id": client_id}
    idp.delete_user_pool(UserPoolId=pool_id)


def password_sign_in(public_idp, pool, device_key=None):
    params = {"USERNAME": "erin", "PASSWORD": PASSWORD}
    if device_key:
        params["DEVICE_KEY"] = device_key
    return public_idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params, ClientId=pool["client_id"])


def srp_sign_in(public_idp, pool, device_key=None):
    aws = AWSSRP(username="erin", password=PASSWORD, pool_id=pool["pool_id"], client_id=pool["client_id"], client=public_idp)
    params = aws.get_auth_params()
    r = public_idp.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=pool["client_id"])
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    if device_key:
        responses["DEVICE_KEY"] = device_key
    return public_idp.respond_to_auth_challenge(
        ClientId=pool["client_id"], ChallengeName="PASSWORD_VERIFIER", Session=r["Session"], ChallengeResponses=responses
    )


def confirm(public_idp, result, name="laptop"):
    meta = result["NewDeviceMetadata"]
    password, config = generate_hash_device(meta["DeviceGroupKey"], meta["DeviceKey"])
    out = public_idp.confirm_device(
        AccessToken=result["AccessToken"], DeviceKey=meta["DeviceKey"], DeviceSecretVerifierConfig=config, DeviceName=name
    )
    return {"key": meta["DeviceKey"], "group": meta["DeviceGroupKey"], "password": password}, out


def device_proof(public_idp, pool, challenge, device, password=None):
    """DEVICE_SRP_AUTH then DEVICE_PASSWORD_VERIFIER, as amazon-cognito-identity-js does them."""
    aws = AWSSRP(
        username="erin",
        password=PASSWORD,
        pool_id=pool["pool_id"],
        client_id=pool["client_id"],
        client=public_idp,
        device_key=device["key"],
        device_group_key=device["group"],
        device_password=password or device["password"],
    )
    r = public_idp.respond_to_auth_challenge(
        ClientId=pool["client_id"],
        ChallengeName="DEVICE_SRP_AUTH",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "erin", "DEVICE_KEY": device["key"], "SRP_A": format(aws.large_a_value, "x")},
    )
    assert r["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    responses = aws.process_device_challenge(r["ChallengeParameters"])
    return public_idp.respond_to_auth_challenge(
        ClientId=pool["client_id"], ChallengeName="DEVICE_PASSWORD_VERIFIER", Session=r["Session"], ChallengeResponses=responses
    )


def error(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_no_device_configuration_no_devices(public_idp, idp, pool):
    make_user(idp, pool["id"], "zed")
    out = public_idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "zed", "PASSWORD": PASSWORD}, ClientId=pool["client_id"]
    )
    assert "NewDeviceMetadata" not in out["AuthenticationResult"]


def test_device_lifecycle(public_idp, idp, dpool):
    first = srp_sign_in(public_idp, dpool)["AuthenticationResult"]
    meta = first["NewDeviceMetadata"]
    assert re.fullmatch(r"us-east-1_[0-9a-f-]{36}", meta["DeviceKey"])
    assert meta["DeviceGroupKey"]
    device, out = confirm(public_idp, first)
    assert out["UserConfirmationNecessary"] is False

    # Confirming twice is refused; so is confirming a key that was never issued.
    _, config = generate_hash_device(device["group"], device["key"])
    with pytest.raises(ClientError):
        public_idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey=device["key"], DeviceSecretVerifierConfig=config)
    with pytest.raises(ClientError) as e:
        public_idp.confirm_device(AccessToken=first["AccessToken"], DeviceKey="us-east-1_" + str(uuid.uuid4()), DeviceSecretVerifierConfig=config)
    assert error(e)[0] == "ResourceNotFoundException"

    got = public_idp.get_device(AccessToken=first["AccessToken"], DeviceKey=device["key"])["Device"]
    attrs = {a["Name"]: a["Value"] for a in got["DeviceAttributes"]}
    assert attrs["device_name"] == "laptop"
    assert attrs["dev:device_remembered_status"] == "remembered"
    assert got["DeviceCreateDate"] and got["DeviceLastModifiedDate"]

    # The device signs in: SRP, then the device proves itself; no new device.
    challenge = srp_sign_in(public_idp, dpool, device_key=device["key"])
    assert challenge["ChallengeName"] == "DEVICE_SRP_AUTH"
    done = device_proof(public_idp, dpool, challenge, device)
    assert "NewDeviceMetadata" not in done["AuthenticationResult"]

    # USER_PASSWORD_AUTH naming the device must prove the device too.
    challenge = password_sign_in(public_idp, dpool, device_key=device["key"])
    assert challenge["ChallengeName"] == "DEVICE_SRP_AUTH"
    with pytest.raises(ClientError) as e:
        device_proof(public_idp, dpool, challenge, device, password="not-the-device-password")
    assert error(e) == ("NotAuthorizedException", "Incorrect username or password.")

    # An unknown DEVICE_KEY is a new device, not an error.
    out = srp_sign_in(public_idp, dpool, device_key="us-east-1_" + str(uuid.uuid4()))
    assert out["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"] != device["key"]

    # Status, listing, admin views, forgetting.
    token = done["AuthenticationResult"]["AccessToken"]
    public_idp.update_device_status(AccessToken=token, DeviceKey=device["key"], DeviceRememberedStatus="not_remembered")
    admin = idp.admin_get_device(UserPoolId=dpool["pool_id"], Username="erin", DeviceKey=device["key"])["Device"]
    assert {a["Name"]: a["Value"] for a in admin["DeviceAttributes"]}["dev:device_remembered_status"] == "not_remembered"
    idp.admin_update_device_status(UserPoolId=dpool["pool_id"], Username="erin", DeviceKey=device["key"], DeviceRememberedStatus="remembered")
    listed = public_idp.list_devices(AccessToken=token)["Devices"]
    assert [d["DeviceKey"] for d in listed] == [device["key"]]  # unconfirmed devices are not listed
    assert idp.admin_list_devices(UserPoolId=dpool["pool_id"], Username="erin")["Devices"][0]["DeviceKey"] == device["key"]
    public_idp.forget_device(AccessToken=token, DeviceKey=device["key"])
    assert public_idp.list_devices(AccessToken=token)["Devices"] == []
    with pytest.raises(ClientError) as e:
        idp.admin_forget_device(UserPoolId=dpool["pool_id"], Username="erin", DeviceKey=device["key"])
    assert error(e)[0] == "ResourceNotFoundException"
    # A forgotten device is just a new device again.
    out = password_sign_in(public_idp, dpool, device_key=device["key"])
    assert "NewDeviceMetadata" in out["AuthenticationResult"]


def test_device_pagination(public_idp, idp, dpool):
    keys = []
    for _ in range(3):
        result = password_sign_in(public_idp, dpool)["AuthenticationResult"]
        keys.append(confirm(public_idp, result)[0]["key"])
    seen, token = [], None
    while True:
        kw = {"PaginationToken": token} if token else {}
        page = idp.admin_list_devices(UserPoolId=dpool["pool_id"], Username="erin", Limit=2, **kw)
        seen += [d["DeviceKey"] for d in page["Devices"]]
        token = page.get("PaginationToken")
        if not token:
            break
    assert sorted(seen) == sorted(keys)


def test_other_users_device_is_not_found(public_idp, idp, dpool):
    make_user(idp, dpool["pool_id"], "frank")
    result = password_sign_in(public_idp, dpool)["AuthenticationResult"]
    device, _ = confirm(public_idp, result)
    franks = public_idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "frank", "PASSWORD": PASSWORD}, ClientId=dpool["client_id"]
    )["AuthenticationResult"]
    with pytest.raises(ClientError) as e:
        public_idp.get_device(AccessToken=franks["AccessToken"], DeviceKey=device["key"])
    assert error(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        public_idp.forget_device(AccessToken=franks["AccessToken"], DeviceKey=device["key"])


def test_opt_in_device_is_remembered_only_on_request(public_idp, idp):
    pool_id, client_id = device_pool(idp, opt_in=True)
    try:
        make_user(idp, pool_id, "erin")
        pool = {"pool_id": pool_id, "client_id": client_id}
        result = password_sign_in(public_idp, pool)["AuthenticationResult"]
        device, out = confirm(public_idp, result)
        assert out["UserConfirmationNecessary"] is True
        got = public_idp.get_device(AccessToken=result["AccessToken"], DeviceKey=device["key"])["Device"]
        assert {a["Name"]: a["Value"] for a in got["DeviceAttributes"]}["dev:device_remembered_status"] == "not_remembered"
    finally:
        idp.delete_user_pool(UserPoolId=pool_id)


def totp_user(public_idp, idp, pool_id, client_id):
    """erin with TOTP MFA set up (the code computed from the secret the server returned)."""
    make_user(idp, pool_id, "erin")
    tokens = public_idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "erin", "PASSWORD": PASSWORD}, ClientId=client_id
    )
    if "AuthenticationResult" in tokens:
        access = tokens["AuthenticationResult"]["AccessToken"]
        secret = public_idp.associate_software_token(AccessToken=access)["SecretCode"]
        public_idp.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).now())
        public_idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        return secret, tokens
    raise AssertionError(f"unexpected {tokens.get('ChallengeName')}")


@pytest.mark.parametrize("challenge_required", [True, False])
def test_remembered_device_skips_mfa_when_the_pool_says_so(public_idp, idp, challenge_required):
    pool_id, client_id = device_pool(idp, challenge=challenge_required, mfa="OPTIONAL")
    try:
        pool = {"pool_id": pool_id, "client_id": client_id}
        secret, first = totp_user(public_idp, idp, pool_id, client_id)
        device, _ = confirm(public_idp, first["AuthenticationResult"])
        # From the remembered device: password, device proof, then MFA only if the pool wants it.
        challenge = srp_sign_in(public_idp, pool, device_key=device["key"])
        assert challenge["ChallengeName"] == "DEVICE_SRP_AUTH"
        out = device_proof(public_idp, pool, challenge, device)
        if challenge_required:
            assert out["AuthenticationResult"]["AccessToken"]
        else:
            assert out["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        # Naming the device without proving it never skips MFA: a wrong device proof fails.
        challenge = srp_sign_in(public_idp, pool, device_key=device["key"])
        with pytest.raises(ClientError):
            device_proof(public_idp, pool, challenge, device, password="guess")
        # Without the device: MFA.
        out = srp_sign_in(public_idp, pool)
        assert out["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    finally:
        idp.delete_user_pool(UserPoolId=pool_id)
