"""Users end to end: sign-up and confirmation, admin management, self-service with an access
token, attribute schema and verification, ListUsers, sign-in names, user status transitions.
boto3 throughout, the aws CLI for a representative subset."""
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import PASSWORD, make_user


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


def attrs_of(user, key="UserAttributes"):
    return {a["Name"]: a["Value"] for a in user[key]}


def new_pool(idp, **kw):
    p = idp.create_user_pool(PoolName=f"u-{uuid.uuid4().hex[:8]}", **kw)["UserPool"]
    c = idp.create_user_pool_client(
        UserPoolId=p["Id"],
        ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return p["Id"], c["ClientId"]


def sign_in(public_idp, client_id, username, password=PASSWORD):
    return public_idp.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


def tokens(public_idp, client_id, username, password=PASSWORD):
    return sign_in(public_idp, client_id, username, password)["AuthenticationResult"]


def test_sign_up_confirm_and_user_status(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    out = public_idp.sign_up(
        ClientId=cid, Username="alice", Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "alice@example.com"}, {"Name": "given_name", "Value": "Alice"}],
    )
    assert out["UserConfirmed"] is False
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", out["UserSub"])
    assert out["CodeDeliveryDetails"] == {
        "Destination": "a***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email",
    }
    u = idp.admin_get_user(UserPoolId=pid, Username="alice")
    assert u["UserStatus"] == "UNCONFIRMED" and u["Enabled"] is True
    assert attrs_of(u)["sub"] == out["UserSub"]
    assert "email_verified" not in attrs_of(u) or attrs_of(u)["email_verified"] == "false"

    # Unconfirmed users cannot sign in.
    assert error_of(sign_in, public_idp, cid, "alice") == ("UserNotConfirmedException", "User is not confirmed.")

    code = server.last_code("alice", "sign_up_code")
    wrong = "000000" if code != "000000" else "111111"
    assert error_of(public_idp.confirm_sign_up, ClientId=cid, Username="alice", ConfirmationCode=wrong) == (
        "CodeMismatchException", "Invalid verification code provided, please try again.")
    public_idp.confirm_sign_up(ClientId=cid, Username="alice", ConfirmationCode=code)
    u = idp.admin_get_user(UserPoolId=pid, Username="alice")
    assert u["UserStatus"] == "CONFIRMED"
    assert attrs_of(u)["email_verified"] == "true"
    assert error_of(public_idp.confirm_sign_up, ClientId=cid, Username="alice", ConfirmationCode=code) == (
        "NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")

    assert tokens(public_idp, cid, "alice")["AccessToken"]
    # The same username again.
    assert error_of(public_idp.sign_up, ClientId=cid, Username="alice", Password=PASSWORD) == (
        "UsernameExistsException", "User already exists")
    # Pools created through the API are case sensitive by default, as on AWS.
    assert public_idp.sign_up(ClientId=cid, Username="ALICE", Password=PASSWORD)["UserSub"]


def test_sign_up_rejects_weak_passwords_and_bad_attributes(public_idp, pool):
    cid = pool["client_id"]
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password="Sh0rt!") == (
        "InvalidPasswordException", "Password did not conform with policy: Password not long enough")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password="nouppercase1!") == (
        "InvalidPasswordException", "Password did not conform with policy: Password must have uppercase characters")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password="NOLOWERCASE1!") == (
        "InvalidPasswordException", "Password did not conform with policy: Password must have lowercase characters")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password="NoNumbers!!") == (
        "InvalidPasswordException", "Password did not conform with policy: Password must have numeric characters")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password="NoSymbols11") == (
        "InvalidPasswordException", "Password did not conform with policy: Password must have symbol characters")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password=PASSWORD,
                    UserAttributes=[{"Name": "favourite", "Value": "x"}]) == (
        "InvalidParameterException", "Attributes did not conform to the schema: favourite: Attribute does not exist in the schema.")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "not-an-email"}]) == (
        "InvalidParameterException", "Invalid email address format.")
    # Users never write *_verified themselves.
    assert error_of(public_idp.sign_up, ClientId=cid, Username="bob", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "b@example.com"}, {"Name": "email_verified", "Value": "true"}])[0] == "NotAuthorizedException"


def test_schema_required_custom_and_immutable_attributes(idp, public_idp):
    pid, cid = new_pool(
        idp, AutoVerifiedAttributes=["email"],
        Schema=[
            {"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True},
            {"Name": "tier", "AttributeDataType": "String", "Mutable": False,
             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "5"}},
            {"Name": "age", "AttributeDataType": "Number", "Mutable": True,
             "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "150"}},
        ],
    )
    base = [{"Name": "email", "Value": "c@example.com"}]
    assert error_of(public_idp.sign_up, ClientId=cid, Username="carol", Password=PASSWORD, UserAttributes=base) == (
        "InvalidParameterException", "Attributes did not conform to the schema: name: The attribute is required")
    code, msg = error_of(public_idp.sign_up, ClientId=cid, Username="carol", Password=PASSWORD,
                         UserAttributes=base + [{"Name": "name", "Value": "C"}, {"Name": "custom:tier", "Value": "toolong"}])
    assert code == "InvalidParameterException" and msg.startswith("Attributes did not conform to the schema: custom:tier:")
    code, msg = error_of(public_idp.sign_up, ClientId=cid, Username="carol", Password=PASSWORD,
                         UserAttributes=base + [{"Name": "name", "Value": "C"}, {"Name": "custom:age", "Value": "old"}])
    assert code == "InvalidParameterException" and "custom:age" in msg
    public_idp.sign_up(ClientId=cid, Username="carol", Password=PASSWORD, UserAttributes=base + [
        {"Name": "name", "Value": "Carol"}, {"Name": "custom:tier", "Value": "gold"}, {"Name": "custom:age", "Value": "42"}])
    u = attrs_of(idp.admin_get_user(UserPoolId=pid, Username="carol"))
    assert u["custom:tier"] == "gold" and u["custom:age"] == "42" and u["name"] == "Carol"

    # Immutable once set; required ones cannot be deleted; unknown ones do not exist.
    code, msg = error_of(idp.admin_update_user_attributes, UserPoolId=pid, Username="carol",
                         UserAttributes=[{"Name": "custom:tier", "Value": "plat"}])
    assert code == "InvalidParameterException" and msg.startswith("Attributes did not conform to the schema: custom:tier:")
    code, msg = error_of(idp.admin_delete_user_attributes, UserPoolId=pid, Username="carol", UserAttributeNames=["name"])
    assert code == "InvalidParameterException" and "name" in msg
    code, msg = error_of(idp.admin_update_user_attributes, UserPoolId=pid, Username="carol",
                         UserAttributes=[{"Name": "custom:nope", "Value": "1"}])
    assert (code, msg) == ("InvalidParameterException",
                           "Attributes did not conform to the schema: custom:nope: Attribute does not exist in the schema.")
    idp.admin_update_user_attributes(UserPoolId=pid, Username="carol", UserAttributes=[
        {"Name": "custom:age", "Value": "43"}, {"Name": "family_name", "Value": "Jones"}])
    idp.admin_delete_user_attributes(UserPoolId=pid, Username="carol", UserAttributeNames=["family_name"])
    u = attrs_of(idp.admin_get_user(UserPoolId=pid, Username="carol"))
    assert u["custom:age"] == "43" and "family_name" not in u

    # AdminCreateUser checks required attributes too.
    code, msg = error_of(idp.admin_create_user, UserPoolId=pid, Username="dave", MessageAction="SUPPRESS")
    assert (code, msg) == ("InvalidParameterException", "Attributes did not conform to the schema: name: The attribute is required")


def test_resend_confirmation_code_replaces_the_old_one(server, idp, public_idp, pool):
    cid = pool["client_id"]
    public_idp.sign_up(ClientId=cid, Username="erin", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "erin@example.com"}])
    first = server.last_code("erin", "sign_up_code")
    out = public_idp.resend_confirmation_code(ClientId=cid, Username="erin")
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    second = server.last_code("erin", "sign_up_code")
    if first != second:
        assert error_of(public_idp.confirm_sign_up, ClientId=cid, Username="erin", ConfirmationCode=first)[0] == "CodeMismatchException"
    public_idp.confirm_sign_up(ClientId=cid, Username="erin", ConfirmationCode=second)
    assert error_of(public_idp.resend_confirmation_code, ClientId=cid, Username="erin") == (
        "InvalidParameterException", "User is already confirmed.")


def test_admin_create_user_generated_password_and_first_sign_in(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    u = idp.admin_create_user(UserPoolId=pid, Username="frank",
                              UserAttributes=[{"Name": "email", "Value": "frank@example.com"},
                                              {"Name": "email_verified", "Value": "true"}])["User"]
    assert u["UserStatus"] == "FORCE_CHANGE_PASSWORD" and u["Enabled"] is True and u["Username"] == "frank"
    assert "sub" in attrs_of(u, "Attributes")
    msg = [m for m in server.outbox() if m["username"] == "frank"][-1]
    assert msg["kind"] == "temporary_password" and msg["channel"] == "email"
    assert msg["destination"] == "frank@example.com" and msg["code"] in msg["body"]
    temp = msg["code"]
    assert len(temp) >= 8

    ch = sign_in(public_idp, cid, "frank", temp)
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert ch["ChallengeParameters"]["USER_ID_FOR_SRP"] == "frank"
    out = public_idp.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
        ChallengeResponses={"USERNAME": "frank", "NEW_PASSWORD": "N3w-Passw0rd!"},
    )
    assert out["AuthenticationResult"]["AccessToken"]
    assert idp.admin_get_user(UserPoolId=pid, Username="frank")["UserStatus"] == "CONFIRMED"
    assert error_of(sign_in, public_idp, cid, "frank", temp)[0] == "NotAuthorizedException"
    assert tokens(public_idp, cid, "frank", "N3w-Passw0rd!")["IdToken"]

    assert error_of(idp.admin_create_user, UserPoolId=pid, Username="frank", MessageAction="SUPPRESS") == (
        "UsernameExistsException", "User account already exists")


def test_admin_create_user_message_actions(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    email = [{"Name": "email", "Value": "gina@example.com"}]
    idp.admin_create_user(UserPoolId=pid, Username="gina", UserAttributes=email,
                          TemporaryPassword="Temp-Pass1!", MessageAction="SUPPRESS")
    assert not [m for m in server.outbox() if m["username"] == "gina"]
    ch = sign_in(public_idp, cid, "gina", "Temp-Pass1!")
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"

    # RESEND: a new temporary password goes out, the old one stops working.
    idp.admin_create_user(UserPoolId=pid, Username="gina", MessageAction="RESEND", DesiredDeliveryMediums=["EMAIL"])
    sent = [m for m in server.outbox() if m["username"] == "gina"]
    assert len(sent) == 1 and sent[0]["kind"] == "temporary_password" and sent[0]["channel"] == "email"
    assert error_of(sign_in, public_idp, cid, "gina", "Temp-Pass1!")[0] == "NotAuthorizedException"
    assert sign_in(public_idp, cid, "gina", sent[0]["code"])["ChallengeName"] == "NEW_PASSWORD_REQUIRED"

    assert error_of(idp.admin_create_user, UserPoolId=pid, Username="nobody", MessageAction="RESEND") == (
        "UserNotFoundException", "User does not exist.")
    code, _ = error_of(idp.admin_create_user, UserPoolId=pid, Username="hal", MessageAction="SHOUT")
    assert code == "InvalidParameterException"
    # An invitation that cannot be delivered fails the call and leaves no user behind.
    code, _ = error_of(idp.admin_create_user, UserPoolId=pid, Username="hal", DesiredDeliveryMediums=["SMS"],
                       UserAttributes=[{"Name": "email", "Value": "hal@example.com"}])
    assert code == "InvalidParameterException"
    assert error_of(idp.admin_get_user, UserPoolId=pid, Username="hal")[0] == "UserNotFoundException"
    assert error_of(idp.admin_create_user, UserPoolId=pid, Username="hal", TemporaryPassword="weak",
                    MessageAction="SUPPRESS") == (
        "InvalidPasswordException", "Password did not conform with policy: Password not long enough")


def test_admin_create_user_resend_for_confirmed_user(idp, pool):
    make_user(idp, pool["id"], "ivan")
    code, msg = error_of(idp.admin_create_user, UserPoolId=pool["id"], Username="ivan", MessageAction="RESEND")
    assert "FORCE_CHANGE_PASSWORD" in msg
    assert code == "UnsupportedUserStateException"


def test_admin_set_user_password_permanent_and_temporary(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "judy")
    assert idp.admin_get_user(UserPoolId=pid, Username="judy")["UserStatus"] == "CONFIRMED"
    idp.admin_set_user_password(UserPoolId=pid, Username="judy", Password="Temp-Only1!", Permanent=False)
    assert idp.admin_get_user(UserPoolId=pid, Username="judy")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert sign_in(public_idp, cid, "judy", "Temp-Only1!")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    idp.admin_set_user_password(UserPoolId=pid, Username="judy", Password="Perm-Pass1!", Permanent=True)
    assert idp.admin_get_user(UserPoolId=pid, Username="judy")["UserStatus"] == "CONFIRMED"
    assert tokens(public_idp, cid, "judy", "Perm-Pass1!")["AccessToken"]
    assert error_of(idp.admin_set_user_password, UserPoolId=pid, Username="judy", Password="weakpass", Permanent=True)[0] == "InvalidPasswordException"
    assert error_of(idp.admin_set_user_password, UserPoolId=pid, Username="ghost", Password=PASSWORD, Permanent=True) == (
        "UserNotFoundException", "User does not exist.")


def test_enable_disable_confirm_delete(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "kim")
    access = tokens(public_idp, cid, "kim")["AccessToken"]
    idp.admin_disable_user(UserPoolId=pid, Username="kim")
    assert idp.admin_get_user(UserPoolId=pid, Username="kim")["Enabled"] is False
    assert error_of(sign_in, public_idp, cid, "kim") == ("NotAuthorizedException", "User is disabled.")
    assert error_of(public_idp.get_user, AccessToken=access)[0] == "NotAuthorizedException"
    idp.admin_enable_user(UserPoolId=pid, Username="kim")
    assert idp.admin_get_user(UserPoolId=pid, Username="kim")["Enabled"] is True
    assert tokens(public_idp, cid, "kim")

    # AdminConfirmSignUp: only for UNCONFIRMED users.
    public_idp.sign_up(ClientId=cid, Username="leo", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "leo@example.com"}])
    idp.admin_confirm_sign_up(UserPoolId=pid, Username="leo")
    assert idp.admin_get_user(UserPoolId=pid, Username="leo")["UserStatus"] == "CONFIRMED"
    assert tokens(public_idp, cid, "leo")
    assert error_of(idp.admin_confirm_sign_up, UserPoolId=pid, Username="leo") == (
        "NotAuthorizedException", "User cannot be confirmed. Current status is CONFIRMED")

    idp.admin_delete_user(UserPoolId=pid, Username="kim")
    assert error_of(idp.admin_get_user, UserPoolId=pid, Username="kim") == ("UserNotFoundException", "User does not exist.")
    assert error_of(idp.admin_delete_user, UserPoolId=pid, Username="kim") == ("UserNotFoundException", "User does not exist.")
    assert error_of(idp.admin_get_user, UserPoolId="us-east-1_nopenope1", Username="kim")[0] == "ResourceNotFoundException"


def test_admin_reset_password_and_forgot_password(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "mia")
    idp.admin_reset_user_password(UserPoolId=pid, Username="mia")
    assert idp.admin_get_user(UserPoolId=pid, Username="mia")["UserStatus"] == "RESET_REQUIRED"
    assert error_of(sign_in, public_idp, cid, "mia") == (
        "PasswordResetRequiredException", "Password reset required for the user")
    code = server.last_code("mia", "forgot_password_code")
    assert error_of(public_idp.confirm_forgot_password, ClientId=cid, Username="mia", ConfirmationCode=code,
                    Password="weak") [0] == "InvalidPasswordException"
    public_idp.confirm_forgot_password(ClientId=cid, Username="mia", ConfirmationCode=code, Password="Reset-Pass1!")
    assert idp.admin_get_user(UserPoolId=pid, Username="mia")["UserStatus"] == "CONFIRMED"
    assert tokens(public_idp, cid, "mia", "Reset-Pass1!")

    # Self-service ForgotPassword.
    out = public_idp.forgot_password(ClientId=cid, Username="mia")
    assert out["CodeDeliveryDetails"] == {"Destination": "m***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    code = server.last_code("mia", "forgot_password_code")
    public_idp.confirm_forgot_password(ClientId=cid, Username="mia", ConfirmationCode=code, Password="Forgot-Pass2!")
    assert error_of(sign_in, public_idp, cid, "mia", "Reset-Pass1!") == ("NotAuthorizedException", "Incorrect username or password.")
    assert tokens(public_idp, cid, "mia", "Forgot-Pass2!")


def test_change_password_get_user_delete_user(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "ned", attrs=[{"Name": "email", "Value": "ned@example.com"},
                                      {"Name": "email_verified", "Value": "true"},
                                      {"Name": "given_name", "Value": "Ned"}])
    access = tokens(public_idp, cid, "ned")["AccessToken"]
    me = public_idp.get_user(AccessToken=access)
    assert me["Username"] == "ned"
    a = attrs_of(me)
    assert a["given_name"] == "Ned" and a["email"] == "ned@example.com" and a["email_verified"] == "true"

    assert error_of(public_idp.change_password, AccessToken=access, PreviousPassword="Wrong-Pass1!",
                    ProposedPassword="Chang3d-Pass!") == ("NotAuthorizedException", "Incorrect username or password.")
    assert error_of(public_idp.change_password, AccessToken=access, PreviousPassword=PASSWORD,
                    ProposedPassword="short")[0] == "InvalidPasswordException"
    public_idp.change_password(AccessToken=access, PreviousPassword=PASSWORD, ProposedPassword="Chang3d-Pass!")
    assert error_of(sign_in, public_idp, cid, "ned")[0] == "NotAuthorizedException"
    access = tokens(public_idp, cid, "ned", "Chang3d-Pass!")["AccessToken"]

    public_idp.delete_user(AccessToken=access)
    assert error_of(idp.admin_get_user, UserPoolId=pid, Username="ned")[0] == "UserNotFoundException"
    code, _ = error_of(public_idp.get_user, AccessToken=access)
    assert code in ("NotAuthorizedException", "UserNotFoundException")


def test_update_user_attributes_reverifies_email(server, idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "olga")
    access = tokens(public_idp, cid, "olga")["AccessToken"]
    out = public_idp.update_user_attributes(AccessToken=access, UserAttributes=[
        {"Name": "email", "Value": "olga.new@example.com"}, {"Name": "nickname", "Value": "O"}])
    assert out["CodeDeliveryDetailsList"] == [
        {"Destination": "o***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}]
    a = attrs_of(public_idp.get_user(AccessToken=access))
    assert a["nickname"] == "O"
    assert a["email"] == "olga.new@example.com" and a["email_verified"] == "false"
    msg = server.outbox()[-1]
    assert msg["kind"] == "verify_attribute_code" and msg["destination"] == "olga.new@example.com"

    # A fresh code, then verification; the first code was replaced.
    first = msg["code"]
    out = public_idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    assert out["CodeDeliveryDetails"]["AttributeName"] == "email"
    code = server.last_code("olga", "verify_attribute_code")
    if code != first:
        assert error_of(public_idp.verify_user_attribute, AccessToken=access, AttributeName="email", Code=first)[0] == "CodeMismatchException"
    public_idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code)
    assert attrs_of(public_idp.get_user(AccessToken=access))["email_verified"] == "true"
    assert error_of(public_idp.verify_user_attribute, AccessToken=access, AttributeName="email", Code=code)[0] in (
        "CodeMismatchException", "ExpiredCodeException")

    # Users cannot mark their own attributes verified, nor write what does not exist.
    assert error_of(public_idp.update_user_attributes, AccessToken=access, UserAttributes=[
        {"Name": "email_verified", "Value": "true"}])[0] == "NotAuthorizedException"
    assert error_of(public_idp.update_user_attributes, AccessToken=access, UserAttributes=[
        {"Name": "custom:nope", "Value": "1"}])[0] == "InvalidParameterException"

    public_idp.delete_user_attributes(AccessToken=access, UserAttributeNames=["nickname"])
    assert "nickname" not in attrs_of(public_idp.get_user(AccessToken=access))

    # An admin may set the new address verified directly: no code goes out.
    before = len(server.outbox())
    idp.admin_update_user_attributes(UserPoolId=pid, Username="olga", UserAttributes=[
        {"Name": "email", "Value": "olga3@example.com"}, {"Name": "email_verified", "Value": "true"}])
    a = attrs_of(idp.admin_get_user(UserPoolId=pid, Username="olga"))
    assert a["email"] == "olga3@example.com" and a["email_verified"] == "true"
    assert len(server.outbox()) == before


def test_list_users_filters_and_pagination(idp, pool):
    pid = pool["id"]
    names = [f"user{i:02d}" for i in range(7)]
    for i, n in enumerate(names):
        idp.admin_create_user(UserPoolId=pid, Username=n, MessageAction="SUPPRESS", TemporaryPassword=PASSWORD,
                              UserAttributes=[{"Name": "email", "Value": f"{n}@{'corp' if i % 2 else 'home'}.example.com"},
                                              {"Name": "given_name", "Value": "Zed" if i < 3 else "Amy"}])
    make_user(idp, pid, "zoe")

    seen, token = [], None
    while True:
        kw = {"PaginationToken": token} if token else {}
        page = idp.list_users(UserPoolId=pid, Limit=3, **kw)
        assert len(page["Users"]) <= 3
        seen += [u["Username"] for u in page["Users"]]
        token = page.get("PaginationToken")
        if not token:
            break
    assert sorted(seen) == sorted(names + ["zoe"]) and len(seen) == len(set(seen))

    got = idp.list_users(UserPoolId=pid, Filter='email = "user03@corp.example.com"')["Users"]
    assert [u["Username"] for u in got] == ["user03"]
    got = idp.list_users(UserPoolId=pid, Filter='given_name ^= "Ze"')["Users"]
    assert sorted(u["Username"] for u in got) == ["user00", "user01", "user02"]
    got = idp.list_users(UserPoolId=pid, Filter='username ^= "user0"', Limit=60)["Users"]
    assert len(got) == 7
    got = idp.list_users(UserPoolId=pid, Filter='cognito:user_status = "CONFIRMED"')["Users"]
    assert [u["Username"] for u in got] == ["zoe"]
    got = idp.list_users(UserPoolId=pid, Filter='status = "Enabled"')["Users"]
    assert len(got) == 8
    got = idp.list_users(UserPoolId=pid, Filter='email = "nobody@example.com"')["Users"]
    assert got == []
    u = idp.list_users(UserPoolId=pid, Filter='username = "zoe"', AttributesToGet=["email"])["Users"][0]
    assert [a["Name"] for a in u["Attributes"]] == ["email"]
    assert u["UserStatus"] == "CONFIRMED" and u["Enabled"] is True
    assert error_of(idp.list_users, UserPoolId=pid, Filter="email ~ \"x\"")[0] == "InvalidParameterException"
    assert error_of(idp.list_users, UserPoolId=pid, Filter='custom:x = "1"')[0] == "InvalidParameterException"


def test_sign_in_by_email_alias(idp, public_idp):
    # Case-insensitive pools also match the email alias in any case.
    pid, cid = new_pool(idp, AliasAttributes=["email"], AutoVerifiedAttributes=["email"],
                        UsernameConfiguration={"CaseSensitive": False})
    make_user(idp, pid, "pat", attrs=[{"Name": "email", "Value": "pat@example.com"},
                                      {"Name": "email_verified", "Value": "true"}])
    t = tokens(public_idp, cid, "pat@example.com")
    me = public_idp.get_user(AccessToken=t["AccessToken"])
    assert me["Username"] == "pat"
    assert tokens(public_idp, cid, "PAT@example.com")
    assert idp.admin_get_user(UserPoolId=pid, Username="pat@example.com")["Username"] == "pat"
    # An unverified email is not an alias.
    make_user(idp, pid, "quin", attrs=[{"Name": "email", "Value": "quin@example.com"}])
    assert error_of(sign_in, public_idp, cid, "quin@example.com")[0] in ("NotAuthorizedException", "UserNotFoundException")
    assert tokens(public_idp, cid, "quin")
    # A verified email belongs to one user only.
    code, _ = error_of(idp.admin_create_user, UserPoolId=pid, Username="rex", MessageAction="SUPPRESS",
                       UserAttributes=[{"Name": "email", "Value": "pat@example.com"}, {"Name": "email_verified", "Value": "true"}])
    assert code == "AliasExistsException"


def test_email_as_username(server, idp, public_idp):
    pid, cid = new_pool(idp, UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    out = public_idp.sign_up(ClientId=cid, Username="sam@example.com", Password=PASSWORD)
    code = server.last_code(out["UserSub"], "sign_up_code")
    public_idp.confirm_sign_up(ClientId=cid, Username="sam@example.com", ConfirmationCode=code)
    u = idp.admin_get_user(UserPoolId=pid, Username="sam@example.com")
    # The username is the sub; the email is an attribute.
    assert u["Username"] == out["UserSub"]
    assert attrs_of(u)["email"] == "sam@example.com"
    me = public_idp.get_user(AccessToken=tokens(public_idp, cid, "sam@example.com")["AccessToken"])
    assert me["Username"] == out["UserSub"]
    assert error_of(public_idp.sign_up, ClientId=cid, Username="not-an-email", Password=PASSWORD) == (
        "InvalidParameterException", "Username should be an email.")
    assert error_of(public_idp.sign_up, ClientId=cid, Username="sam@example.com", Password=PASSWORD) == (
        "UsernameExistsException", "An account with the given email already exists.")


def test_users_with_aws_cli(server):
    pool = server.aws("cognito-idp", "create-user-pool", "--pool-name", f"cli-{uuid.uuid4().hex[:6]}",
                      "--auto-verified-attributes", "email")["UserPool"]
    pid = pool["Id"]
    cid = server.aws("cognito-idp", "create-user-pool-client", "--user-pool-id", pid, "--client-name", "cli",
                     "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")["UserPoolClient"]["ClientId"]
    u = server.aws("cognito-idp", "admin-create-user", "--user-pool-id", pid, "--username", "tess",
                   "--user-attributes", "Name=email,Value=tess@example.com", "Name=email_verified,Value=true",
                   "--temporary-password", "Temp-Pass1!", "--message-action", "SUPPRESS")["User"]
    assert u["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    server.aws("cognito-idp", "admin-set-user-password", "--user-pool-id", pid, "--username", "tess",
               "--password", PASSWORD, "--permanent")
    got = server.aws("cognito-idp", "admin-get-user", "--user-pool-id", pid, "--username", "tess")
    assert got["UserStatus"] == "CONFIRMED"
    server.aws("cognito-idp", "admin-update-user-attributes", "--user-pool-id", pid, "--username", "tess",
               "--user-attributes", "Name=given_name,Value=Tess")
    listed = server.aws("cognito-idp", "list-users", "--user-pool-id", pid, "--filter", 'given_name = "Tess"')["Users"]
    assert [x["Username"] for x in listed] == ["tess"]

    out = server.aws("cognito-idp", "sign-up", "--client-id", cid, "--username", "uma", "--password", PASSWORD,
                     "--user-attributes", "Name=email,Value=uma@example.com")
    assert out["UserConfirmed"] is False
    server.aws("cognito-idp", "confirm-sign-up", "--client-id", cid, "--username", "uma",
               "--confirmation-code", server.last_code("uma", "sign_up_code"))
    server.aws("cognito-idp", "admin-disable-user", "--user-pool-id", pid, "--username", "uma")
    r = server.aws("cognito-idp", "initiate-auth", "--client-id", cid, "--auth-flow", "USER_PASSWORD_AUTH",
                   "--auth-parameters", f"USERNAME=uma,PASSWORD={PASSWORD}", check=False)
    assert r.returncode != 0 and "NotAuthorizedException" in r.stderr and "User is disabled." in r.stderr
    server.aws("cognito-idp", "admin-delete-user", "--user-pool-id", pid, "--username", "uma")
    r = server.aws("cognito-idp", "admin-get-user", "--user-pool-id", pid, "--username", "uma", check=False)
    assert r.returncode != 0 and "UserNotFoundException" in r.stderr
    server.aws("cognito-idp", "delete-user-pool", "--user-pool-id", pid)


def test_email_change_held_back_until_verified(server, idp, public_idp):
    pid, cid = new_pool(idp, AutoVerifiedAttributes=["email"],
                        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]})
    make_user(idp, pid, "vic")
    access = tokens(public_idp, cid, "vic")["AccessToken"]
    public_idp.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": "vic.new@example.com"}])
    a = attrs_of(public_idp.get_user(AccessToken=access))
    assert a["email"] == "vic@example.com" and a["email_verified"] == "true"
    m = server.outbox()[-1]
    assert m["kind"] == "verify_attribute_code" and m["destination"] == "vic.new@example.com"
    public_idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=m["code"])
    a = attrs_of(public_idp.get_user(AccessToken=access))
    assert a["email"] == "vic.new@example.com" and a["email_verified"] == "true"


def test_alias_conflict_at_confirmation(server, idp, public_idp):
    pid, cid = new_pool(idp, AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    make_user(idp, pid, "wes", attrs=[{"Name": "email", "Value": "shared@example.com"}, {"Name": "email_verified", "Value": "true"}])
    public_idp.sign_up(ClientId=cid, Username="xia", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "shared@example.com"}])
    code = server.last_code("xia", "sign_up_code")
    assert error_of(public_idp.confirm_sign_up, ClientId=cid, Username="xia", ConfirmationCode=code) == (
        "AliasExistsException", "An account with the given email already exists.")
    public_idp.resend_confirmation_code(ClientId=cid, Username="xia")
    public_idp.confirm_sign_up(ClientId=cid, Username="xia", ForceAliasCreation=True,
                               ConfirmationCode=server.last_code("xia", "sign_up_code"))
    # The alias moved: the email now signs in xia, and wes lost it.
    assert public_idp.get_user(AccessToken=tokens(public_idp, cid, "shared@example.com")["AccessToken"])["Username"] == "xia"
    assert "email" not in attrs_of(idp.admin_get_user(UserPoolId=pid, Username="wes"))


def test_forgot_password_needs_a_verified_contact(idp, public_idp, pool):
    pid, cid = pool["id"], pool["client_id"]
    make_user(idp, pid, "yul", attrs=[{"Name": "email", "Value": "yul@example.com"}])
    assert error_of(public_idp.forgot_password, ClientId=cid, Username="yul") == (
        "InvalidParameterException",
        "Cannot reset password for the user as there is no registered/verified email or phone_number")
