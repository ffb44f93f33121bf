"""USER_SRP_AUTH with the real clients: pycognito (PyPI), amazon-cognito-identity-js (npm, run by
`node --test tests/node`), plus the attacks the server must refuse.
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP, N_HEX

from conftest import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH"]


def srp_pool(idp, pue="ENABLED", secret=False, device_config=None):
    kw = {"DeviceConfiguration": device_config} if device_config else {}
    p = idp.create_user_pool(PoolName=f"srp-{uuid.uuid4().hex[:8]}", **kw)["UserPool"]
    c = idp.create_user_pool_client(
        UserPoolId=p["Id"],
        ClientName="web",
        ExplicitAuthFlows=FLOWS,
        PreventUserExistenceErrors=pue,
        GenerateSecret=secret,
    )["UserPoolClient"]
    return p["Id"], c["ClientId"], c.get("ClientSecret")


@pytest.fixture
def srp(idp):
    pool_id, client_id, _ = srp_pool(idp)
    make_user(idp, pool_id, "alice")
    yield {"pool_id": pool_id, "client_id": client_id}
    idp.delete_user_pool(UserPoolId=pool_id)


def error(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


class StaleSRP(AWSSRP):
    """pycognito, signing with a clock `shift` away from now."""

    shift = datetime.timedelta(0)
    fmt = None

    def get_cognito_formatted_timestamp(self, input_datetime):
        if self.fmt:
            return self.fmt
        return AWSSRP.get_cognito_formatted_timestamp(input_datetime + self.shift)


def start(public_idp, srp_info, username="alice", password=PASSWORD, cls=AWSSRP, client_id=None):
    aws = cls(
        username=username,
        password=password,
        pool_id=srp_info["pool_id"],
        client_id=client_id or srp_info["client_id"],
        client=public_idp,
    )
    params = aws.get_auth_params()
    r = public_idp.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=client_id or srp_info["client_id"])
    return aws, params, r


def test_pycognito_signs_in_with_srp(public_idp, srp):
    aws = AWSSRP(username="alice", password=PASSWORD, pool_id=srp["pool_id"], client_id=srp["client_id"], client=public_idp)
    tokens = aws.authenticate_user()
    result = tokens["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    me = public_idp.get_user(AccessToken=result["AccessToken"])
    assert me["Username"] == "alice"
    # The refresh token of an SRP sign-in works like any other.
    again = public_idp.initiate_auth(
        AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]}, ClientId=srp["client_id"]
    )
    assert again["AuthenticationResult"]["AccessToken"]


def test_challenge_parameters_are_cognitos(public_idp, srp):
    _, _, r = start(public_idp, srp)
    assert r["ChallengeName"] == "PASSWORD_VERIFIER"
    p = r["ChallengeParameters"]
    assert set(p) == {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"}
    assert p["USER_ID_FOR_SRP"] == "alice"
    # SALT is padHex of its integer: even length, and a leading 00 exactly when needed.
    salt = p["SALT"]
    assert len(salt) % 2 == 0
    if salt.startswith("00"):
        assert int(salt[2], 16) >= 8
    else:
        assert int(salt[0], 16) < 8
    int(p["SRP_B"], 16)
    base64.b64decode(p["SECRET_BLOCK"])
    # The salt is the user's: the same on every attempt.
    _, _, r2 = start(public_idp, srp)
    assert r2["ChallengeParameters"]["SALT"] == salt
    assert r2["ChallengeParameters"]["SRP_B"] != p["SRP_B"]


def test_email_username_pool_uses_the_internal_username(idp, public_idp):
    p = idp.create_user_pool(PoolName=f"srp-{uuid.uuid4().hex[:8]}", UsernameAttributes=["email"])["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="web", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    try:
        public_idp.sign_up(ClientId=c["ClientId"], Username="bob@example.com", Password=PASSWORD)
        idp.admin_confirm_sign_up(UserPoolId=p["Id"], Username="bob@example.com")
        aws = AWSSRP(username="bob@example.com", password=PASSWORD, pool_id=p["Id"], client_id=c["ClientId"], client=public_idp)
        tokens = aws.authenticate_user()
        assert tokens["AuthenticationResult"]["AccessToken"]
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_client_secret(idp, public_idp):
    pool_id, client_id, secret = srp_pool(idp, secret=True)
    try:
        make_user(idp, pool_id, "carol")
        aws = AWSSRP(
            username="carol", password=PASSWORD, pool_id=pool_id, client_id=client_id, client_secret=secret, client=public_idp
        )
        assert aws.authenticate_user()["AuthenticationResult"]["AccessToken"]
        # Without SECRET_HASH the client is refused before any SRP work.
        with pytest.raises(ClientError) as e:
            public_idp.initiate_auth(
                AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "carol", "SRP_A": "0a"}, ClientId=client_id
            )
        assert error(e)[0] == "NotAuthorizedException"
    finally:
        idp.delete_user_pool(UserPoolId=pool_id)


def test_admin_initiate_auth_with_srp(idp, srp):
    aws = AWSSRP(username="alice", password=PASSWORD, pool_id=srp["pool_id"], client_id=srp["client_id"], client=idp)
    params = aws.get_auth_params()
    r = idp.admin_initiate_auth(
        UserPoolId=srp["pool_id"], ClientId=srp["client_id"], AuthFlow="USER_SRP_AUTH", AuthParameters=params
    )
    assert r["ChallengeName"] == "PASSWORD_VERIFIER"
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    out = idp.admin_respond_to_auth_challenge(
        UserPoolId=srp["pool_id"],
        ClientId=srp["client_id"],
        ChallengeName="PASSWORD_VERIFIER",
        Session=r["Session"],
        ChallengeResponses=responses,
    )
    assert out["AuthenticationResult"]["IdToken"]


def test_srp_after_password_change(public_idp, idp, srp):
    idp.admin_set_user_password(UserPoolId=srp["pool_id"], Username="alice", Password="N3w-Passw0rd!", Permanent=True)
    aws = AWSSRP(username="alice", password="N3w-Passw0rd!", pool_id=srp["pool_id"], client_id=srp["client_id"], client=public_idp)
    assert aws.authenticate_user()["AuthenticationResult"]["AccessToken"]
    with pytest.raises(ClientError) as e:
        AWSSRP(username="alice", password=PASSWORD, pool_id=srp["pool_id"], client_id=srp["client_id"], client=public_idp).authenticate_user()
    assert error(e) == ("NotAuthorizedException", "Incorrect username or password.")


def test_temporary_password_leads_to_new_password_required(public_idp, idp, srp):
    idp.admin_create_user(UserPoolId=srp["pool_id"], Username="dave", TemporaryPassword="Temp-Passw0rd!", MessageAction="SUPPRESS")
    aws = AWSSRP(username="dave", password="Temp-Passw0rd!", pool_id=srp["pool_id"], client_id=srp["client_id"], client=public_idp)
    out = aws.set_new_password_challenge("Final-Passw0rd!")
    assert out["AuthenticationResult"]["AccessToken"]
    aws2 = AWSSRP(username="dave", password="Final-Passw0rd!", pool_id=srp["pool_id"], client_id=srp["client_id"], client=public_idp)
    assert aws2.authenticate_user()["AuthenticationResult"]["AccessToken"]


# ----- attacks --------------------------------------------------------------------------------


def test_wrong_password(public_idp, srp):
    aws, params, r = start(public_idp, srp, password="Wr0ng-Password!")
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e:
        public_idp.respond_to_auth_challenge(
            ClientId=srp["client_id"], ChallengeName="PASSWORD_VERIFIER", Session=r["Session"], ChallengeResponses=responses
        )
    assert error(e) == ("NotAuthorizedException", "Incorrect username or password.")


def respond(public_idp, srp, r, responses, client_id=None):
    return public_idp.respond_to_auth_challenge(
        ClientId=client_id or srp["client_id"], ChallengeName="PASSWORD_VERIFIER", Session=r["Session"], ChallengeResponses=responses
    )


def test_tampered_secret_block(public_idp, srp):
    aws, params, r = start(public_idp, srp)
    block = bytearray(base64.b64decode(r["ChallengeParameters"]["SECRET_BLOCK"]))
    block[20] ^= 1
    r["ChallengeParameters"]["SECRET_BLOCK"] = base64.b64encode(bytes(block)).decode()
    # The client signs the tampered block with the right password: still refused.
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses)
    assert error(e) == ("NotAuthorizedException", "Incorrect username or password.")


def test_secret_block_of_another_session(public_idp, srp):
    aws, params, r = start(public_idp, srp)
    _, _, other = start(public_idp, srp)
    r["ChallengeParameters"]["SECRET_BLOCK"] = other["ChallengeParameters"]["SECRET_BLOCK"]
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses)
    assert error(e)[0] == "NotAuthorizedException"


@pytest.mark.parametrize("minutes", [-30, 30])
def test_stale_timestamp(public_idp, srp, minutes):
    cls = type("Shifted", (StaleSRP,), {"shift": datetime.timedelta(minutes=minutes)})
    aws, params, r = start(public_idp, srp, cls=cls)
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses)
    assert error(e) == ("NotAuthorizedException", "Incorrect username or password.")


@pytest.mark.parametrize("ts", ["2024-10-06T13:37:50Z", "Sun Oct 6 13:37 UTC 2024", "Mon Oct 6 13:37:50 UTC 2024", ""])
def test_malformed_timestamp(public_idp, srp, ts):
    cls = type("Malformed", (StaleSRP,), {"fmt": ts or " "})
    aws, params, r = start(public_idp, srp, cls=cls)
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses)
    assert error(e)[0] == "InvalidParameterException"


def test_day_is_not_zero_padded(public_idp, srp):
    """The TIMESTAMP the clients send has `Oct 6`, not `Oct 06`: a correctly signed one of today
    passes whatever the day."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    fmt = AWSSRP.get_cognito_formatted_timestamp(now)
    assert f" {now.day} " in fmt
    cls = type("Fixed", (StaleSRP,), {"fmt": fmt})
    aws, params, r = start(public_idp, srp, cls=cls)
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    assert respond(public_idp, srp, r, responses)["AuthenticationResult"]["AccessToken"]


@pytest.mark.parametrize("a", ["0", "00", N_HEX, hex(2 * int(N_HEX, 16))[2:]])
def test_a_multiple_of_n_is_refused(public_idp, srp, a):
    with pytest.raises(ClientError) as e:
        public_idp.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "alice", "SRP_A": a}, ClientId=srp["client_id"])
    assert error(e)[0] == "InvalidParameterException"


@pytest.mark.parametrize("a", ["xyz", "f" * 1000])
def test_malformed_a_is_refused(public_idp, srp, a):
    with pytest.raises(ClientError) as e:
        public_idp.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "alice", "SRP_A": a}, ClientId=srp["client_id"])
    assert error(e)[0] == "InvalidParameterException"


def test_replayed_session_is_refused(public_idp, srp):
    aws, params, r = start(public_idp, srp)
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    assert respond(public_idp, srp, r, responses)["AuthenticationResult"]["AccessToken"]
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses)
    assert error(e)[0] == "NotAuthorizedException"


def test_session_with_another_client_is_refused(idp, public_idp, srp):
    other = idp.create_user_pool_client(UserPoolId=srp["pool_id"], ClientName="other", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    aws, params, r = start(public_idp, srp)
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses, client_id=other["ClientId"])
    assert error(e)[0] == "NotAuthorizedException"
    # ... and the session is spent.
    with pytest.raises(ClientError):
        respond(public_idp, srp, r, responses)


def test_srp_flow_must_be_enabled(idp, public_idp, srp):
    c = idp.create_user_pool_client(
        UserPoolId=srp["pool_id"], ClientName="nosrp", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]
    with pytest.raises(ClientError) as e:
        public_idp.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "alice", "SRP_A": "0a"}, ClientId=c["ClientId"])
    assert error(e)[0] == "InvalidParameterException"


def test_unknown_user_looks_like_a_wrong_password(public_idp, srp):
    """PreventUserExistenceErrors ENABLED: an unknown user gets a challenge like anyone (with a
    salt that does not change between attempts) and fails at the proof like a wrong password."""
    aws, params, r = start(public_idp, srp, username="nobody")
    assert r["ChallengeName"] == "PASSWORD_VERIFIER"
    p = r["ChallengeParameters"]
    assert set(p) == {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"}
    _, _, r2 = start(public_idp, srp, username="nobody")
    assert r2["ChallengeParameters"]["SALT"] == p["SALT"]
    responses = aws.process_challenge(p, params)
    with pytest.raises(ClientError) as e:
        respond(public_idp, srp, r, responses)
    assert error(e) == ("NotAuthorizedException", "Incorrect username or password.")

    # The same as a real user with a wrong password.
    aws, params, r = start(public_idp, srp, password="Wr0ng-Password!")
    responses = aws.process_challenge(r["ChallengeParameters"], params)
    with pytest.raises(ClientError) as e2:
        respond(public_idp, srp, r, responses)
    assert error(e2) == error(e)


def test_unknown_user_legacy(idp, public_idp):
    pool_id, client_id, _ = srp_pool(idp, pue="LEGACY")
    try:
        with pytest.raises(ClientError) as e:
            public_idp.initiate_auth(
                AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": "nobody", "SRP_A": "0a"}, ClientId=client_id
            )
        assert error(e)[0] == "UserNotFoundException"
    finally:
        idp.delete_user_pool(UserPoolId=pool_id)


def test_wrong_srp_proofs_lock_the_user_out(public_idp, srp):
    for _ in range(5):
        aws, params, r = start(public_idp, srp, password="Wr0ng-Password!")
        responses = aws.process_challenge(r["ChallengeParameters"], params)
        with pytest.raises(ClientError) as e:
            respond(public_idp, srp, r, responses)
        assert error(e)[1] == "Incorrect username or password."
    with pytest.raises(ClientError) as e:
        aws, params, r = start(public_idp, srp)
        respond(public_idp, srp, r, aws.process_challenge(r["ChallengeParameters"], params))
    assert error(e) == ("NotAuthorizedException", "Password attempts exceeded")


def test_unknown_users_lock_out_like_real_ones_under_srp(public_idp, srp):
    """With PreventUserExistenceErrors ENABLED an unknown name gives the same sequence of
    answers as a real user with wrong proofs: five wrong passwords, then a lockout."""
    def sequence(username, password):
        seen = []
        for _ in range(6):
            try:
                aws, params, r = start(public_idp, srp, username=username, password=password)
                respond(public_idp, srp, r, aws.process_challenge(r["ChallengeParameters"], params))
                seen.append(("ok", ""))
            except ClientError as e:
                seen.append((e.response["Error"]["Code"], e.response["Error"]["Message"]))
        return seen

    real = sequence("alice", "Wr0ng-Password!")
    unknown = sequence("nobody-at-all", "Wr0ng-Password!")
    assert real == unknown
    assert real[:5] == [("NotAuthorizedException", "Incorrect username or password.")] * 5
    assert real[5] == ("NotAuthorizedException", "Password attempts exceeded")


def test_verifier_is_sealed_at_rest(server, idp, srp):
    """The SRP verifier is a fast hash of the password: it must not be readable from the
    database."""
    docs = [json.loads(d) for (d,) in server.sql("SELECT doc FROM users WHERE pool_id = ?", (srp["pool_id"],))]
    extra = docs[0]["extra"]
    sealed = extra["srp_verifier"]
    assert isinstance(sealed, str)
    raw = base64.b64decode(sealed)
    assert b"salt" not in raw and b'"v"' not in raw


# ----- amazon-cognito-identity-js ---------------------------------------------------------------


def test_amazon_cognito_identity_js(server, idp):
    """The npm client signs in with USER_SRP_AUTH, confirms and remembers its device, and signs
    in again with DEVICE_SRP_AUTH (tests/node/srp.test.mjs)."""
    if not (NODE_DIR / "node_modules" / "amazon-cognito-identity-js").exists():
        pytest.fail("run `npm ci --prefix tests/node` first (scripts/test does)")
    node = shutil.which("node")
    assert node, "node is required"
    env = dict(os.environ)
    for cfg_name, cfg in {
        "always": {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False},
        "opt-in": {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True},
    }.items():
        pool_id, client_id, _ = srp_pool(idp, device_config=cfg)
        try:
            make_user(idp, pool_id, "jsuser")
            env.update(
                {
                    "GATEHOUSE_URL": server.url + "/",
                    "GATEHOUSE_POOL_ID": pool_id,
                    "GATEHOUSE_CLIENT_ID": client_id,
                    "GATEHOUSE_USERNAME": "jsuser",
                    "GATEHOUSE_PASSWORD": PASSWORD,
                    "GATEHOUSE_DEVICE_OPT_IN": "1" if cfg["DeviceOnlyRememberedOnUserPrompt"] else "0",
                }
            )
            out = subprocess.run(
                [node, "--test", "--test-reporter=spec", "srp.test.mjs"],
                cwd=NODE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 0, f"node --test failed ({cfg_name}):\n{out.stdout}\n{out.stderr}"
            devices = idp.admin_list_devices(UserPoolId=pool_id, Username="jsuser")["Devices"]
            assert len(devices) == 1
            attrs = {a["Name"]: a["Value"] for a in devices[0]["DeviceAttributes"]}
            assert attrs["dev:device_remembered_status"] == "remembered"
        finally:
            idp.delete_user_pool(UserPoolId=pool_id)
