"""Sign-in end to end: the password flows (public and admin), refresh, NEW_PASSWORD_REQUIRED
with single-use expiring sessions, AWS's errors for disabled / unconfirmed / reset / unknown
users (PreventUserExistenceErrors ENABLED vs LEGACY), secret-hash clients, and passwords that
never reach the database or the log in clear."""
import base64
import hashlib
import hmac
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


def new_pool(idp, client_kw=None, **kw):
    p = idp.create_user_pool(PoolName=f"a-{uuid.uuid4().hex[:8]}", **kw)["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app",
                                    **({"ExplicitAuthFlows": FLOWS} | (client_kw or {})))["UserPoolClient"]
    return p["Id"], c


def add_client(idp, pid, **kw):
    return idp.create_user_pool_client(UserPoolId=pid, ClientName="c2", **({"ExplicitAuthFlows": FLOWS} | kw))["UserPoolClient"]


def password_auth(public_idp, cid, username, password=PASSWORD, **extra):
    return public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": username, "PASSWORD": password, **extra})


def admin_auth(idp, pid, cid, username, password=PASSWORD, flow="ADMIN_USER_PASSWORD_AUTH", **extra):
    return idp.admin_initiate_auth(UserPoolId=pid, ClientId=cid, AuthFlow=flow,
                                   AuthParameters={"USERNAME": username, "PASSWORD": password, **extra})


def secret_hash(secret, username, client_id):
    mac = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def age(server, table, pool_id, seconds):
    """Moves every expiry of `table` in the pool `seconds` into the past (a clock we cannot set)."""
    server.sql(f"UPDATE {table} SET expires = expires - ? WHERE pool_id = ?", (seconds, pool_id))


def test_password_flows(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "amy")
    out = password_auth(public_idp, cid, "amy")
    assert out["ChallengeParameters"] == {}
    r = out["AuthenticationResult"]
    assert r["TokenType"] == "Bearer" and r["ExpiresIn"] == 3600
    assert r["AccessToken"].count(".") == 2 and r["IdToken"].count(".") == 2 and r["RefreshToken"]
    for flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
        r = admin_auth(idp, pid, cid, "amy", flow=flow)["AuthenticationResult"]
        assert r["AccessToken"] and r["RefreshToken"]

    assert error_of(password_auth, public_idp, cid, "amy", "Wrong-Pass1!") == (
        "NotAuthorizedException", "Incorrect username or password.")
    assert error_of(admin_auth, idp, pid, cid, "amy", "Wrong-Pass1!") == (
        "NotAuthorizedException", "Incorrect username or password.")
    code, _ = error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                       AuthParameters={"USERNAME": "amy"})
    assert code == "InvalidParameterException"
    code, _ = error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="NOT_A_FLOW",
                       AuthParameters={"USERNAME": "amy", "PASSWORD": PASSWORD})
    assert code == "InvalidParameterException"
    code, _ = error_of(public_idp.initiate_auth, ClientId="nosuchclient0000000000000",
                       AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "amy", "PASSWORD": PASSWORD})
    assert code == "ResourceNotFoundException"
    # AdminInitiateAuth checks that the client belongs to the pool.
    other_pid, other = new_pool(idp)
    code, _ = error_of(admin_auth, idp, other_pid, cid, "amy")
    assert code == "ResourceNotFoundException"


def test_flows_must_be_enabled_on_the_client(idp, public_idp, pool):
    pid = pool["id"]
    make_user(idp, pid, "ben")
    srp_only = add_client(idp, pid, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["ClientId"]
    assert error_of(password_auth, public_idp, srp_only, "ben") == (
        "InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client")
    assert error_of(admin_auth, idp, pid, srp_only, "ben") == (
        "InvalidParameterException", "Auth flow not enabled for this client")
    # The legacy spelling of the flows still works.
    legacy = add_client(idp, pid, ExplicitAuthFlows=["USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])["ClientId"]
    assert password_auth(public_idp, legacy, "ben")["AuthenticationResult"]
    assert admin_auth(idp, pid, legacy, "ben", flow="ADMIN_NO_SRP_AUTH")["AuthenticationResult"]


def test_refresh_token_flows(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "cat")
    first = password_auth(public_idp, cid, "cat")["AuthenticationResult"]
    for flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        r = public_idp.initiate_auth(ClientId=cid, AuthFlow=flow,
                                     AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})["AuthenticationResult"]
        assert r["AccessToken"] and r["IdToken"] and "RefreshToken" not in r
        assert public_idp.get_user(AccessToken=r["AccessToken"])["Username"] == "cat"
    r = idp.admin_initiate_auth(UserPoolId=pid, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})["AuthenticationResult"]
    assert r["AccessToken"]

    assert error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": "garbage-token"}) == ("NotAuthorizedException", "Invalid Refresh Token")
    # Bound to its client.
    other = add_client(idp, pid)["ClientId"]
    assert error_of(public_idp.initiate_auth, ClientId=other, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}) == ("NotAuthorizedException", "Invalid Refresh Token")
    # A disabled user cannot refresh.
    idp.admin_disable_user(UserPoolId=pid, Username="cat")
    assert error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}) == ("NotAuthorizedException", "User is disabled.")
    idp.admin_enable_user(UserPoolId=pid, Username="cat")
    # A deleted user's refresh tokens die with them.
    idp.admin_delete_user(UserPoolId=pid, Username="cat")
    assert error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]})[0] == "NotAuthorizedException"


def test_refresh_token_expiry(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "dan")
    rt = password_auth(public_idp, cid, "dan")["AuthenticationResult"]["RefreshToken"]
    age(server, "refresh_tokens", pid, 31 * 86400)
    assert error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": rt}) == ("NotAuthorizedException", "Refresh Token has expired")


def test_new_password_required_challenge(server, idp, public_idp):
    pid, client = new_pool(idp, Schema=[{"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True}])
    cid = client["ClientId"]
    idp.admin_create_user(UserPoolId=pid, Username="eve", TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "eve@example.com"}, {"Name": "name", "Value": "Eve"}])
    idp.admin_create_user(UserPoolId=pid, Username="fay", TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "name", "Value": "Fay"}])
    ch = admin_auth(idp, pid, cid, "eve", "Temp-Pass1!")
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert ch["ChallengeParameters"]["USER_ID_FOR_SRP"] == "eve"
    assert '"email":"eve@example.com"' in ch["ChallengeParameters"]["userAttributes"].replace(" ", "")
    assert "AuthenticationResult" not in ch

    def respond(session, password="N3w-Passw0rd!", **attrs):
        return idp.admin_respond_to_auth_challenge(
            UserPoolId=pid, ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
            ChallengeResponses={"USERNAME": "eve", "NEW_PASSWORD": password, **attrs})

    # A new password against the policy is refused, and may be retried in the same session.
    assert error_of(respond, ch["Session"], "weak") == (
        "InvalidPasswordException", "Password did not conform with policy: Password not long enough")
    out = respond(ch["Session"])
    r = out["AuthenticationResult"]
    assert r["AccessToken"] and r["RefreshToken"]
    assert idp.admin_get_user(UserPoolId=pid, Username="eve")["UserStatus"] == "CONFIRMED"
    # Sessions are single use.
    assert error_of(respond, ch["Session"]) == (
        "NotAuthorizedException", "Invalid session for the user, session is expired.")
    assert error_of(respond, "A" * 64) == ("NotAuthorizedException", "Invalid session for the user, session is expired.")

    # Public RespondToAuthChallenge, with a session that expires after 3 minutes.
    ch = password_auth(public_idp, cid, "fay", "Temp-Pass1!")
    age(server, "auth_sessions", pid, 3 * 60 + 1)
    assert error_of(public_idp.respond_to_auth_challenge, ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED",
                    Session=ch["Session"], ChallengeResponses={"USERNAME": "fay", "NEW_PASSWORD": "N3w-Passw0rd!"}) == (
        "NotAuthorizedException", "Invalid session for the user, session is expired.")
    ch = password_auth(public_idp, cid, "fay", "Temp-Pass1!")
    # A session belongs to the client it was issued to.
    other = add_client(idp, pid)["ClientId"]
    assert error_of(public_idp.respond_to_auth_challenge, ClientId=other, ChallengeName="NEW_PASSWORD_REQUIRED",
                    Session=ch["Session"], ChallengeResponses={"USERNAME": "fay", "NEW_PASSWORD": "N3w-Passw0rd!"})[0] == "NotAuthorizedException"
    ch = password_auth(public_idp, cid, "fay", "Temp-Pass1!")
    out = public_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
                                               ChallengeResponses={"USERNAME": "fay", "NEW_PASSWORD": "N3w-Passw0rd!"})
    assert public_idp.get_user(AccessToken=out["AuthenticationResult"]["AccessToken"])["Username"] == "fay"


def test_new_password_challenge_collects_required_attributes(idp, public_idp):
    pid, client = new_pool(idp, Schema=[{"Name": "family_name", "AttributeDataType": "String", "Required": True, "Mutable": True}])
    cid = client["ClientId"]
    # The challenge lists required attributes the user still lacks (none here: AdminCreateUser
    # insisted on them) and accepts writable attributes along with the new password.
    idp.admin_create_user(UserPoolId=pid, Username="gus", TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "family_name", "Value": "G"}])
    ch = password_auth(public_idp, cid, "gus", "Temp-Pass1!")
    assert ch["ChallengeParameters"]["requiredAttributes"] == "[]"
    out = public_idp.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
        ChallengeResponses={"USERNAME": "gus", "NEW_PASSWORD": "N3w-Passw0rd!", "userAttributes.given_name": "Gus"})
    me = public_idp.get_user(AccessToken=out["AuthenticationResult"]["AccessToken"])
    assert {a["Name"]: a["Value"] for a in me["UserAttributes"]}["given_name"] == "Gus"


def test_disabled_unconfirmed_and_reset_users(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "hank")
    idp.admin_disable_user(UserPoolId=pid, Username="hank")
    assert error_of(password_auth, public_idp, cid, "hank") == ("NotAuthorizedException", "User is disabled.")
    assert error_of(admin_auth, idp, pid, cid, "hank") == ("NotAuthorizedException", "User is disabled.")

    public_idp.sign_up(ClientId=cid, Username="ida", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "ida@example.com"}])
    assert error_of(admin_auth, idp, pid, cid, "ida") == ("UserNotConfirmedException", "User is not confirmed.")
    # A wrong password for an unconfirmed user is still just a wrong password.
    assert error_of(admin_auth, idp, pid, cid, "ida", "Wrong-Pass1!") == (
        "NotAuthorizedException", "Incorrect username or password.")

    make_user(idp, pid, "jon")
    idp.admin_reset_user_password(UserPoolId=pid, Username="jon")
    assert error_of(admin_auth, idp, pid, cid, "jon") == (
        "PasswordResetRequiredException", "Password reset required for the user")


def test_prevent_user_existence_errors(idp, public_idp, pool):
    pid = pool["id"]
    enabled = add_client(idp, pid, PreventUserExistenceErrors="ENABLED")["ClientId"]
    legacy = add_client(idp, pid, PreventUserExistenceErrors="LEGACY")["ClientId"]
    assert idp.describe_user_pool_client(UserPoolId=pid, ClientId=enabled)["UserPoolClient"]["PreventUserExistenceErrors"] == "ENABLED"

    assert error_of(password_auth, public_idp, enabled, "ghost") == ("NotAuthorizedException", "Incorrect username or password.")
    assert error_of(admin_auth, idp, pid, enabled, "ghost") == ("NotAuthorizedException", "Incorrect username or password.")
    assert error_of(password_auth, public_idp, legacy, "ghost") == ("UserNotFoundException", "User does not exist.")
    assert error_of(admin_auth, idp, pid, legacy, "ghost") == ("UserNotFoundException", "User does not exist.")

    # Recovery and confirmation: a simulated delivery instead of an error.
    d = public_idp.forgot_password(ClientId=enabled, Username="ghost@example.com")["CodeDeliveryDetails"]
    assert d["DeliveryMedium"] == "EMAIL" and d["AttributeName"] == "email" and d["Destination"] == "g***@e***"
    d = public_idp.resend_confirmation_code(ClientId=enabled, Username="ghost@example.com")["CodeDeliveryDetails"]
    assert d["DeliveryMedium"] == "EMAIL"
    assert error_of(public_idp.confirm_sign_up, ClientId=enabled, Username="ghost", ConfirmationCode="123456")[0] == "CodeMismatchException"
    assert error_of(public_idp.confirm_forgot_password, ClientId=enabled, Username="ghost", ConfirmationCode="123456",
                    Password=PASSWORD)[0] == "CodeMismatchException"

    for call, kw in [
        (public_idp.forgot_password, {}),
        (public_idp.resend_confirmation_code, {}),
        (public_idp.confirm_sign_up, {"ConfirmationCode": "123456"}),
        (public_idp.confirm_forgot_password, {"ConfirmationCode": "123456", "Password": PASSWORD}),
    ]:
        assert error_of(call, ClientId=legacy, Username="ghost", **kw) == ("UserNotFoundException", "User does not exist."), call

    # A real user with a wrong password looks the same as a missing one under ENABLED.
    make_user(idp, pid, "kay")
    assert error_of(password_auth, public_idp, enabled, "kay", "Wrong-Pass1!") == error_of(password_auth, public_idp, enabled, "ghost")


def test_secret_hash_clients(server, idp, public_idp, pool):
    pid = pool["id"]
    c = add_client(idp, pid, GenerateSecret=True)
    cid, secret = c["ClientId"], c["ClientSecret"]
    sh = lambda u: secret_hash(secret, u, cid)  # noqa: E731

    missing = ("NotAuthorizedException", f"Client {cid} is configured with secret but SECRET_HASH was not received")
    wrong = ("NotAuthorizedException", f"Unable to verify secret hash for client {cid}")
    attrs = [{"Name": "email", "Value": "lou@example.com"}]
    assert error_of(public_idp.sign_up, ClientId=cid, Username="lou", Password=PASSWORD, UserAttributes=attrs) == missing
    assert error_of(public_idp.sign_up, ClientId=cid, Username="lou", Password=PASSWORD, UserAttributes=attrs,
                    SecretHash=sh("someone-else")) == wrong
    public_idp.sign_up(ClientId=cid, Username="lou", Password=PASSWORD, UserAttributes=attrs, SecretHash=sh("lou"))

    assert error_of(public_idp.resend_confirmation_code, ClientId=cid, Username="lou") == missing
    public_idp.resend_confirmation_code(ClientId=cid, Username="lou", SecretHash=sh("lou"))
    code = server.last_code("lou", "sign_up_code")
    assert error_of(public_idp.confirm_sign_up, ClientId=cid, Username="lou", ConfirmationCode=code) == missing
    public_idp.confirm_sign_up(ClientId=cid, Username="lou", ConfirmationCode=code, SecretHash=sh("lou"))

    assert error_of(password_auth, public_idp, cid, "lou") == missing
    assert error_of(password_auth, public_idp, cid, "lou", SECRET_HASH=sh("lu")) == wrong
    r = password_auth(public_idp, cid, "lou", SECRET_HASH=sh("lou"))["AuthenticationResult"]
    assert admin_auth(idp, pid, cid, "lou", SECRET_HASH=sh("lou"))["AuthenticationResult"]
    assert error_of(admin_auth, idp, pid, cid, "lou") == missing

    assert error_of(public_idp.initiate_auth, ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": r["RefreshToken"]}) == missing
    assert public_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": r["RefreshToken"], "SECRET_HASH": sh("lou")})["AuthenticationResult"]

    assert error_of(public_idp.forgot_password, ClientId=cid, Username="lou") == missing
    public_idp.forgot_password(ClientId=cid, Username="lou", SecretHash=sh("lou"))
    code = server.last_code("lou", "forgot_password_code")
    assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="lou", ConfirmationCode=code,
                    Password="Reset-Pass1!") == missing
    public_idp.confirm_forgot_password(ClientId=cid, Username="lou", ConfirmationCode=code,
                                       Password="Reset-Pass1!", SecretHash=sh("lou"))

    idp.admin_set_user_password(UserPoolId=pid, Username="lou", Password="Temp-Pass1!", Permanent=False)
    ch = password_auth(public_idp, cid, "lou", "Temp-Pass1!", SECRET_HASH=sh("lou"))
    assert error_of(public_idp.respond_to_auth_challenge, ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED",
                    Session=ch["Session"], ChallengeResponses={"USERNAME": "lou", "NEW_PASSWORD": "N3w-Passw0rd!"}) == missing
    ch = password_auth(public_idp, cid, "lou", "Temp-Pass1!", SECRET_HASH=sh("lou"))
    out = public_idp.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
        ChallengeResponses={"USERNAME": "lou", "NEW_PASSWORD": "N3w-Passw0rd!", "SECRET_HASH": sh("lou")})
    assert out["AuthenticationResult"]["AccessToken"]


def test_passwords_never_stored_or_logged_in_clear(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    secrets = ["Signup-Secret1!", "Chosen-Temp9!", "Admin-Perm7!", "Changed-Pw5!", "Reset-Pw3!", "Challenge-Pw2!"]
    public_idp.sign_up(ClientId=cid, Username="max", Password=secrets[0],
                       UserAttributes=[{"Name": "email", "Value": "max@example.com"}])
    public_idp.confirm_sign_up(ClientId=cid, Username="max", ConfirmationCode=server.last_code("max", "sign_up_code"))
    idp.admin_create_user(UserPoolId=pid, Username="ned", TemporaryPassword=secrets[1],
                          UserAttributes=[{"Name": "email", "Value": "ned@example.com"}, {"Name": "email_verified", "Value": "true"}])
    generated = idp.admin_create_user(UserPoolId=pid, Username="ona",
                                      UserAttributes=[{"Name": "email", "Value": "ona@example.com"}])
    temp = server.last_code("ona", "temporary_password")
    ch = password_auth(public_idp, cid, "ned", secrets[1])
    public_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
                                         ChallengeResponses={"USERNAME": "ned", "NEW_PASSWORD": secrets[5]})
    idp.admin_set_user_password(UserPoolId=pid, Username="max", Password=secrets[2], Permanent=True)
    r = password_auth(public_idp, cid, "max", secrets[2])["AuthenticationResult"]
    public_idp.change_password(AccessToken=r["AccessToken"], PreviousPassword=secrets[2], ProposedPassword=secrets[3])
    public_idp.forgot_password(ClientId=cid, Username="ned")
    public_idp.confirm_forgot_password(ClientId=cid, Username="ned", Password=secrets[4],
                                       ConfirmationCode=server.last_code("ned", "forgot_password_code"))
    # A failed attempt with a password-looking string must not be logged either.
    error_of(password_auth, public_idp, cid, "max", "Typo-Secret8!")
    secrets += [temp, "Typo-Secret8!", r["RefreshToken"]]
    assert generated

    stored = server.raw_store_bytes()
    docs = [row[0] for row in server.sql("SELECT doc FROM users WHERE pool_id = ?", (pid,))]
    assert len(docs) == 3 and all("$argon2id$" in d for d in docs)
    log = server.logs()
    for s in secrets:
        assert s.encode() not in stored, f"{s!r} stored in clear"
        assert s not in log, f"{s!r} logged in clear"


def test_auth_with_aws_cli(server, idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    idp.admin_create_user(UserPoolId=pid, Username="pia", TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "pia@example.com"}])
    ch = server.aws("cognito-idp", "admin-initiate-auth", "--user-pool-id", pid, "--client-id", cid,
                    "--auth-flow", "ADMIN_USER_PASSWORD_AUTH", "--auth-parameters", "USERNAME=pia,PASSWORD=Temp-Pass1!")
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    out = server.aws("cognito-idp", "admin-respond-to-auth-challenge", "--user-pool-id", pid, "--client-id", cid,
                     "--challenge-name", "NEW_PASSWORD_REQUIRED", "--session", ch["Session"],
                     "--challenge-responses", f"USERNAME=pia,NEW_PASSWORD={PASSWORD}")
    rt = out["AuthenticationResult"]["RefreshToken"]
    out = server.aws("cognito-idp", "initiate-auth", "--client-id", cid, "--auth-flow", "REFRESH_TOKEN_AUTH",
                     "--auth-parameters", f"REFRESH_TOKEN={rt}")
    assert out["AuthenticationResult"]["AccessToken"]
    r = server.aws("cognito-idp", "initiate-auth", "--client-id", cid, "--auth-flow", "USER_PASSWORD_AUTH",
                   "--auth-parameters", "USERNAME=pia,PASSWORD=Wrong-Pass1!", check=False)
    assert r.returncode != 0 and "NotAuthorizedException" in r.stderr and "Incorrect username or password." in r.stderr


def test_temporary_password_expiry_and_session_validity(server, idp, public_idp):
    pid, client = new_pool(idp, client_kw={"AuthSessionValidity": 10})
    cid = client["ClientId"]
    idp.admin_create_user(UserPoolId=pid, Username="quy", TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS")
    idp.admin_create_user(UserPoolId=pid, Username="rae", TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "rae@example.com"}])
    # The client's AuthSessionValidity (10 minutes) governs the session, not the 3-minute default.
    ch = password_auth(public_idp, cid, "quy", "Temp-Pass1!")
    age(server, "auth_sessions", pid, 4 * 60)
    out = public_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
                                               ChallengeResponses={"USERNAME": "quy", "NEW_PASSWORD": PASSWORD})
    assert out["AuthenticationResult"]["AccessToken"]

    # Temporary passwords stop working after TemporaryPasswordValidityDays (7 by default).
    if server.backend == "postgres":
        server.sql("UPDATE users SET doc = jsonb_set(doc, '{temporary_password_expires}', "
                   "to_jsonb((doc->>'temporary_password_expires')::bigint - 8 * 86400)) "
                   "WHERE pool_id = ? AND username_key = 'rae'", (pid,))
    else:
        server.sql("UPDATE users SET doc = json_set(doc, '$.temporary_password_expires', "
                   "json_extract(doc, '$.temporary_password_expires') - 8 * 86400) WHERE pool_id = ? AND username_key = 'rae'", (pid,))
    assert error_of(password_auth, public_idp, cid, "rae", "Temp-Pass1!") == (
        "NotAuthorizedException", "Temporary password has expired and must be reset by an administrator.")
    # An administrator resends a new one.
    idp.admin_create_user(UserPoolId=pid, Username="rae", TemporaryPassword="Temp-Pass2!", MessageAction="RESEND")
    assert password_auth(public_idp, cid, "rae", "Temp-Pass2!")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_usernames_are_case_sensitive_unless_configured(idp, public_idp, pool):
    # AWS: without UsernameConfiguration, a pool is case sensitive.
    make_user(idp, pool["id"], "Tom")
    make_user(idp, pool["id"], "tom", password="Other-Pass1!")
    assert password_auth(public_idp, pool["client_id"], "Tom")["AuthenticationResult"]
    assert password_auth(public_idp, pool["client_id"], "tom", "Other-Pass1!")["AuthenticationResult"]
    assert idp.describe_user_pool(UserPoolId=pool["id"])["UserPool"]["UsernameConfiguration"] == {"CaseSensitive": True}
    pid, client = new_pool(idp, UsernameConfiguration={"CaseSensitive": False})
    make_user(idp, pid, "Sue")
    assert password_auth(public_idp, client["ClientId"], "sUE")["AuthenticationResult"]
    assert idp.admin_get_user(UserPoolId=pid, Username="SUE")["Username"] == "Sue"
    assert error_of(idp.admin_create_user, UserPoolId=pid, Username="SUE", MessageAction="SUPPRESS")[0] == "UsernameExistsException"
    assert error_of(password_auth, public_idp, pool["client_id"], "TOM")[0] in ("NotAuthorizedException", "UserNotFoundException")
