"""MFA end to end: the pool's MFA configuration (OFF / OPTIONAL / ON), TOTP set-up with an
access token and inside sign-in (MFA_SETUP), the SOFTWARE_TOKEN_MFA, SMS_MFA, EMAIL_OTP and
SELECT_MFA_TYPE challenges, one step of clock skew, replayed and wrong codes, sessions that end
after too many wrong codes, user MFA preferences, and TOTP secrets that never reach the
database in clear.

TOTP codes are computed here from the SecretCode the server returned (pyotp); SMS and email
codes come from the outbox."""
import base64
import time
import uuid

import pyotp
import pytest
from botocore.exceptions import ClientError

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


def mfa_pool(idp, mode="OPTIONAL", totp=True, sms=False, email=False, **create):
    p = idp.create_user_pool(PoolName=f"m-{uuid.uuid4().hex[:8]}", **create)["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    kw = {"UserPoolId": p["Id"], "MfaConfiguration": mode,
          "SoftwareTokenMfaConfiguration": {"Enabled": totp}}
    if sms:
        kw["SmsMfaConfiguration"] = {"SmsAuthenticationMessage": "Your sign-in code is {####}"}
    if email:
        kw["EmailMfaConfiguration"] = {"Message": "Code {####} for you", "Subject": "Sign-in code"}
    idp.set_user_pool_mfa_config(**kw)
    return p["Id"], c["ClientId"]


def sign_in(public_idp, cid, username, password=PASSWORD):
    return public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": username, "PASSWORD": password})


def respond(public_idp, cid, challenge, session, username, **answers):
    return public_idp.respond_to_auth_challenge(
        ClientId=cid, ChallengeName=challenge, Session=session,
        ChallengeResponses={"USERNAME": username, **answers})


def fresh_step():
    """Waits until at least 5 s remain in the current 30 s step, so this side and the server
    agree on "now" for the rest of a short test; returns the time to compute codes at."""
    while time.time() % 30 > 25:
        time.sleep(0.5)
    return time.time()


def enrol_totp(public_idp, cid, username, at=None):
    """Signs in (no MFA yet), associates and verifies a TOTP token; returns the pyotp TOTP.
    The verification code is the one of step `at` (default now)."""
    access = sign_in(public_idp, cid, username)["AuthenticationResult"]["AccessToken"]
    secret = public_idp.associate_software_token(AccessToken=access)["SecretCode"]
    totp = pyotp.TOTP(secret)
    t = at if at is not None else fresh_step()
    out = public_idp.verify_software_token(AccessToken=access, UserCode=totp.at(t),
                                           FriendlyDeviceName="phone")
    assert out["Status"] == "SUCCESS"
    public_idp.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return totp, t


def test_pool_mfa_config_round_trip_and_describe(idp):
    pid, _ = mfa_pool(idp, "OFF", totp=False)
    assert idp.get_user_pool_mfa_config(UserPoolId=pid)["MfaConfiguration"] == "OFF"
    out = idp.set_user_pool_mfa_config(
        UserPoolId=pid, MfaConfiguration="ON",
        SoftwareTokenMfaConfiguration={"Enabled": True},
        SmsMfaConfiguration={"SmsAuthenticationMessage": "Code {####}"},
        EmailMfaConfiguration={"Message": "Mail code {####}", "Subject": "Code"})
    assert out["MfaConfiguration"] == "ON"
    assert out["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    got = idp.get_user_pool_mfa_config(UserPoolId=pid)
    assert got["MfaConfiguration"] == "ON"
    assert got["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert got["SmsMfaConfiguration"]["SmsAuthenticationMessage"] == "Code {####}"
    assert got["EmailMfaConfiguration"] == {"Message": "Mail code {####}", "Subject": "Code"}
    assert idp.describe_user_pool(UserPoolId=pid)["UserPool"]["MfaConfiguration"] == "ON"
    # UpdateUserPool keeps the factors; DescribeUserPool does not leak internal settings.
    idp.update_user_pool(UserPoolId=pid, MfaConfiguration="OPTIONAL")
    assert idp.get_user_pool_mfa_config(UserPoolId=pid)["SoftwareTokenMfaConfiguration"]["Enabled"]
    described = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
    assert described["MfaConfiguration"] == "OPTIONAL"
    assert not [k for k in described if k.startswith("_")]
    # MFA on with no method is refused; a message without the code placeholder too.
    code, _ = error_of(idp.set_user_pool_mfa_config, UserPoolId=pid, MfaConfiguration="ON",
                       SoftwareTokenMfaConfiguration={"Enabled": False})
    assert code == "InvalidParameterException"
    code, _ = error_of(idp.set_user_pool_mfa_config, UserPoolId=pid, MfaConfiguration="ON",
                       SmsMfaConfiguration={"SmsAuthenticationMessage": "no code here"})
    assert code == "InvalidParameterException"
    code, _ = error_of(idp.get_user_pool_mfa_config, UserPoolId="us-east-1_nothere00")
    assert code == "ResourceNotFoundException"


def test_create_user_pool_mfa_configuration(idp):
    p = idp.create_user_pool(PoolName=f"m-{uuid.uuid4().hex[:8]}", MfaConfiguration="OPTIONAL")["UserPool"]
    assert p["MfaConfiguration"] == "OPTIONAL"
    assert idp.get_user_pool_mfa_config(UserPoolId=p["Id"])["MfaConfiguration"] == "OPTIONAL"


def test_optional_totp_enrol_then_challenge(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "tina")
    # No MFA set up: OPTIONAL signs straight in.
    assert "AuthenticationResult" in sign_in(public_idp, cid, "tina")
    access = sign_in(public_idp, cid, "tina")["AuthenticationResult"]["AccessToken"]
    secret = public_idp.associate_software_token(AccessToken=access)["SecretCode"]
    assert len(secret) == 52 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    totp = pyotp.TOTP(secret)
    # Enabling before verifying is refused.
    code, msg = error_of(public_idp.set_user_mfa_preference, AccessToken=access,
                         SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert code == "InvalidParameterException" and "software token" in msg
    code, _ = error_of(public_idp.verify_software_token, AccessToken=access, UserCode="000000"
                       if totp.now() != "000000" else "111111")
    assert code == "EnableSoftwareTokenMFAException"
    t = fresh_step()
    assert public_idp.verify_software_token(AccessToken=access, UserCode=totp.at(t))["Status"] == "SUCCESS"
    public_idp.set_user_mfa_preference(AccessToken=access,
                                       SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    u = idp.admin_get_user(UserPoolId=pid, Username="tina")
    assert u["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert u["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    me = public_idp.get_user(AccessToken=access)
    assert me["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    r = sign_in(public_idp, cid, "tina")
    assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" not in r
    # The verification code was used once already; the next step's code is within skew.
    code, msg = error_of(respond, public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "tina",
                         SOFTWARE_TOKEN_MFA_CODE=totp.at(t))
    assert code == "ExpiredCodeException", msg
    out = respond(public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "tina",
                  SOFTWARE_TOKEN_MFA_CODE=totp.at(t + 30))
    tokens = out["AuthenticationResult"]
    assert tokens["AccessToken"] and tokens["RefreshToken"]
    assert public_idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "tina"


def test_replayed_code_is_refused(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "rita")
    totp, t = enrol_totp(public_idp, cid, "rita")
    code_now = totp.at(t + 30)
    r = sign_in(public_idp, cid, "rita")
    assert "AuthenticationResult" in respond(public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "rita",
                                             SOFTWARE_TOKEN_MFA_CODE=code_now)
    # Same code, new sign-in: refused, never accepted twice.
    r = sign_in(public_idp, cid, "rita")
    code, msg = error_of(respond, public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "rita",
                         SOFTWARE_TOKEN_MFA_CODE=code_now)
    assert code == "ExpiredCodeException"
    assert msg == "Your software token has already been used once."


def test_one_step_of_skew_each_way(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "sam")
    t = fresh_step()
    # One step behind is accepted for verification ...
    totp, _ = enrol_totp(public_idp, cid, "sam", at=t - 30)
    r = sign_in(public_idp, cid, "sam")
    # ... two steps ahead is not ...
    code, _ = error_of(respond, public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "sam",
                       SOFTWARE_TOKEN_MFA_CODE=totp.at(t + 60))
    assert code == "CodeMismatchException"
    # ... one step ahead is, with the same session.
    out = respond(public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "sam",
                  SOFTWARE_TOKEN_MFA_CODE=totp.at(t + 30))
    assert "AuthenticationResult" in out


def test_wrong_codes_then_the_session_ends(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "wes")
    totp, t = enrol_totp(public_idp, cid, "wes")
    good = totp.at(t + 30)
    wrong = "123456" if good != "123456" else "654321"
    r = sign_in(public_idp, cid, "wes")
    s = r["Session"]
    for _ in range(2):
        code, msg = error_of(respond, public_idp, cid, "SOFTWARE_TOKEN_MFA", s, "wes",
                             SOFTWARE_TOKEN_MFA_CODE=wrong)
        assert code == "CodeMismatchException"
        assert msg == "Invalid code received for user"
    code, msg = error_of(respond, public_idp, cid, "SOFTWARE_TOKEN_MFA", s, "wes",
                         SOFTWARE_TOKEN_MFA_CODE=wrong)
    assert code == "NotAuthorizedException" and "Invalid session" in msg
    # The right code no longer helps this session.
    code, _ = error_of(respond, public_idp, cid, "SOFTWARE_TOKEN_MFA", s, "wes",
                       SOFTWARE_TOKEN_MFA_CODE=good)
    assert code == "NotAuthorizedException"
    # A new sign-in still works.
    r = sign_in(public_idp, cid, "wes")
    assert "AuthenticationResult" in respond(public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "wes",
                                             SOFTWARE_TOKEN_MFA_CODE=good)


def test_mfa_off_ignores_user_factors(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "olga")
    enrol_totp(public_idp, cid, "olga")
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OFF")
    assert "AuthenticationResult" in sign_in(public_idp, cid, "olga")


def test_mfa_on_requires_setup_in_sign_in(idp, public_idp):
    pid, cid = mfa_pool(idp, "ON")
    make_user(idp, pid, "nina")
    r = sign_in(public_idp, cid, "nina")
    assert r["ChallengeName"] == "MFA_SETUP"
    assert "SOFTWARE_TOKEN_MFA" in r["ChallengeParameters"]["MFAS_CAN_SETUP"]
    # Answering before setting up does not sign in, and the session survives.
    code, _ = error_of(respond, public_idp, cid, "MFA_SETUP", r["Session"], "nina")
    assert code == "InvalidParameterException"
    assoc = public_idp.associate_software_token(Session=r["Session"])
    assert assoc["Session"] and assoc["Session"] != r["Session"]
    totp = pyotp.TOTP(assoc["SecretCode"])
    t = fresh_step()
    bad = "000000" if totp.at(t) != "000000" else "111111"
    code, _ = error_of(public_idp.verify_software_token, Session=assoc["Session"], UserCode=bad)
    assert code == "EnableSoftwareTokenMFAException"
    ver = public_idp.verify_software_token(Session=assoc["Session"], UserCode=totp.at(t),
                                           FriendlyDeviceName="laptop")
    assert ver["Status"] == "SUCCESS" and ver["Session"]
    out = respond(public_idp, cid, "MFA_SETUP", ver["Session"], "nina")
    assert out["AuthenticationResult"]["AccessToken"]
    u = idp.admin_get_user(UserPoolId=pid, Username="nina")
    assert u["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    # From now on the token is asked for.
    r = sign_in(public_idp, cid, "nina")
    assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" in respond(public_idp, cid, "SOFTWARE_TOKEN_MFA", r["Session"], "nina",
                                             SOFTWARE_TOKEN_MFA_CODE=totp.at(t + 30))
    # The set-up session was single use.
    code, _ = error_of(public_idp.associate_software_token, Session=r["Session"])
    assert code == "NotAuthorizedException"


def test_email_otp_from_the_outbox(server, idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL", totp=False, email=True)
    make_user(idp, pid, "emma")
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="emma",
                                      EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    u = idp.admin_get_user(UserPoolId=pid, Username="emma")
    assert u["UserMFASettingList"] == ["EMAIL_OTP"] and u["PreferredMfaSetting"] == "EMAIL_OTP"
    r = sign_in(public_idp, cid, "emma")
    assert r["ChallengeName"] == "EMAIL_OTP"
    assert r["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    assert r["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "e***@e***"
    msg = [m for m in server.outbox() if m["username"] == "emma" and m["kind"] == "mfa_code"][-1]
    assert msg["channel"] == "email" and msg["subject"] == "Sign-in code"
    assert msg["body"] == f"Code {msg['code']} for you"
    code, _ = error_of(respond, public_idp, cid, "EMAIL_OTP", r["Session"], "emma",
                       EMAIL_OTP_CODE="000000" if msg["code"] != "000000" else "111111")
    assert code == "CodeMismatchException"
    out = respond(public_idp, cid, "EMAIL_OTP", r["Session"], "emma", EMAIL_OTP_CODE=msg["code"])
    assert out["AuthenticationResult"]["IdToken"]


def test_sms_mfa_from_the_outbox(server, idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL", totp=False, sms=True)
    make_user(idp, pid, "sid", attrs=[{"Name": "phone_number", "Value": "+15555550123"},
                                      {"Name": "phone_number_verified", "Value": "true"}])
    code, msg = error_of(idp.admin_set_user_mfa_preference, UserPoolId=pid, Username="sid",
                         EmailMfaSettings={"Enabled": True})
    assert code == "InvalidParameterException" and "EMAIL_OTP" in msg
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="sid",
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    r = sign_in(public_idp, cid, "sid")
    assert r["ChallengeName"] == "SMS_MFA"
    assert r["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS"
    assert r["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"].endswith("0123")
    sms = server.last_code("sid", kind="mfa_code")
    m = [x for x in server.outbox() if x["username"] == "sid"][-1]
    assert m["channel"] == "sms" and m["body"] == f"Your sign-in code is {sms}"
    code, msg = error_of(respond, public_idp, cid, "SMS_MFA", r["Session"], "sid",
                         SMS_MFA_CODE="000000" if sms != "000000" else "111111")
    assert (code, msg) == ("CodeMismatchException", "Invalid code or auth state for the user.")
    out = respond(public_idp, cid, "SMS_MFA", r["Session"], "sid", SMS_MFA_CODE=sms)
    assert out["AuthenticationResult"]["AccessToken"]


def test_select_mfa_type_when_several_and_none_preferred(server, idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL", totp=True, sms=True)
    make_user(idp, pid, "seb", attrs=[{"Name": "phone_number", "Value": "+15555550199"}])
    totp, t = enrol_totp(public_idp, cid, "seb")
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="seb",
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False})
    u = idp.admin_get_user(UserPoolId=pid, Username="seb")
    assert sorted(u["UserMFASettingList"]) == ["SMS_MFA", "SOFTWARE_TOKEN_MFA"]
    assert "PreferredMfaSetting" not in u
    r = sign_in(public_idp, cid, "seb")
    assert r["ChallengeName"] == "SELECT_MFA_TYPE"
    import json
    assert sorted(json.loads(r["ChallengeParameters"]["MFAS_CAN_CHOOSE"])) == ["SMS_MFA", "SOFTWARE_TOKEN_MFA"]
    nxt = respond(public_idp, cid, "SELECT_MFA_TYPE", r["Session"], "seb", ANSWER="SMS_MFA")
    assert nxt["ChallengeName"] == "SMS_MFA"
    out = respond(public_idp, cid, "SMS_MFA", nxt["Session"], "seb",
                  SMS_MFA_CODE=server.last_code("seb", kind="mfa_code"))
    assert "AuthenticationResult" in out
    # Choosing TOTP leads to the token challenge.
    r = sign_in(public_idp, cid, "seb")
    nxt = respond(public_idp, cid, "SELECT_MFA_TYPE", r["Session"], "seb", ANSWER="SOFTWARE_TOKEN_MFA")
    assert nxt["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" in respond(public_idp, cid, "SOFTWARE_TOKEN_MFA", nxt["Session"], "seb",
                                             SOFTWARE_TOKEN_MFA_CODE=totp.at(t + 30))
    # A preference settles it without asking.
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="seb",
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert sign_in(public_idp, cid, "seb")["ChallengeName"] == "SMS_MFA"


def test_admin_flow_and_disabling_mfa(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "ada")
    totp, t = enrol_totp(public_idp, cid, "ada")
    r = idp.admin_initiate_auth(UserPoolId=pid, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "ada", "PASSWORD": PASSWORD})
    assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    out = idp.admin_respond_to_auth_challenge(
        UserPoolId=pid, ClientId=cid, ChallengeName="SOFTWARE_TOKEN_MFA", Session=r["Session"],
        ChallengeResponses={"USERNAME": "ada", "SOFTWARE_TOKEN_MFA_CODE": totp.at(t + 30)})
    assert "AuthenticationResult" in out
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="ada",
                                      SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False})
    u = idp.admin_get_user(UserPoolId=pid, Username="ada")
    assert "UserMFASettingList" not in u and "PreferredMfaSetting" not in u
    assert "AuthenticationResult" in sign_in(public_idp, cid, "ada")


def test_legacy_mfa_options(idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL", totp=False, sms=True)
    make_user(idp, pid, "leo", attrs=[{"Name": "phone_number", "Value": "+15555550111"}])
    idp.admin_set_user_settings(UserPoolId=pid, Username="leo",
                                MFAOptions=[{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}])
    u = idp.admin_get_user(UserPoolId=pid, Username="leo")
    assert u["MFAOptions"] == [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    assert u["UserMFASettingList"] == ["SMS_MFA"]
    assert sign_in(public_idp, cid, "leo")["ChallengeName"] == "SMS_MFA"
    idp.admin_set_user_settings(UserPoolId=pid, Username="leo", MFAOptions=[])
    assert "MFAOptions" not in idp.admin_get_user(UserPoolId=pid, Username="leo")


def test_totp_secret_never_stored_in_clear(server, idp, public_idp):
    pid, cid = mfa_pool(idp, "OPTIONAL")
    make_user(idp, pid, "cleo")
    access = sign_in(public_idp, cid, "cleo")["AuthenticationResult"]["AccessToken"]
    pending = public_idp.associate_software_token(AccessToken=access)["SecretCode"]
    totp, _ = enrol_totp(public_idp, cid, "cleo")
    blob = server.raw_store_bytes()
    for secret in (pending, totp.secret):
        raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
        for form in (secret.encode(), secret.lower().encode(), raw, raw.hex().encode(),
                     base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")):
            assert form not in blob
    assert pending not in server.logs() and totp.secret not in server.logs()


def test_aws_cli_totp(server, idp):
    pid, cid = mfa_pool(idp, "OFF", totp=False)
    make_user(idp, pid, "cli")
    out = server.aws("cognito-idp", "set-user-pool-mfa-config", "--user-pool-id", pid,
                     "--software-token-mfa-configuration", "Enabled=true", "--mfa-configuration", "OPTIONAL")
    assert out["MfaConfiguration"] == "OPTIONAL"
    got = server.aws("cognito-idp", "get-user-pool-mfa-config", "--user-pool-id", pid)
    assert got["SoftwareTokenMfaConfiguration"]["Enabled"] is True
    auth = server.aws("cognito-idp", "initiate-auth", "--client-id", cid, "--auth-flow", "USER_PASSWORD_AUTH",
                      "--auth-parameters", f"USERNAME=cli,PASSWORD={PASSWORD}")
    access = auth["AuthenticationResult"]["AccessToken"]
    secret = server.aws("cognito-idp", "associate-software-token", "--access-token", access)["SecretCode"]
    totp = pyotp.TOTP(secret)
    t = fresh_step()
    v = server.aws("cognito-idp", "verify-software-token", "--access-token", access,
                   "--user-code", totp.at(t), "--friendly-device-name", "cli-phone")
    assert v["Status"] == "SUCCESS"
    server.aws("cognito-idp", "admin-set-user-mfa-preference", "--user-pool-id", pid, "--username", "cli",
               "--software-token-mfa-settings", "Enabled=true,PreferredMfa=true")
    u = server.aws("cognito-idp", "admin-get-user", "--user-pool-id", pid, "--username", "cli")
    assert u["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    r = server.aws("cognito-idp", "initiate-auth", "--client-id", cid, "--auth-flow", "USER_PASSWORD_AUTH",
                   "--auth-parameters", f"USERNAME=cli,PASSWORD={PASSWORD}")
    assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    out = server.aws("cognito-idp", "respond-to-auth-challenge", "--client-id", cid,
                     "--challenge-name", "SOFTWARE_TOKEN_MFA", "--session", r["Session"],
                     "--challenge-responses", f"USERNAME=cli,SOFTWARE_TOKEN_MFA_CODE={totp.at(t + 30)}")
    assert out["AuthenticationResult"]["AccessToken"]
