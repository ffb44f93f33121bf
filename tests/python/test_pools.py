"""User pools: CreateUserPool with AWS's options and defaults, DescribeUserPool, UpdateUserPool,
ListUserPools pagination, DeleteUserPool (with deletion protection), AddCustomAttributes."""
import re
import uuid

import botocore.exceptions
import pytest

from awsraw import unvalidated
from conftest import PASSWORD, make_user

POOL_ID = re.compile(r"^us-east-1_[0-9A-Za-z]{9}$")


def name():
    return f"p-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pools(idp):
    """Creates pools and deletes them afterwards."""
    made = []

    def make(**kw):
        kw.setdefault("PoolName", name())
        p = idp.create_user_pool(**kw)["UserPool"]
        made.append(p["Id"])
        return p

    yield make
    for pid in made:
        try:
            idp.update_user_pool(UserPoolId=pid, DeletionProtection="INACTIVE")
            idp.delete_user_pool(UserPoolId=pid)
        except botocore.exceptions.ClientError:
            pass


def code_msg(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def schema_of(pool):
    return {a["Name"]: a for a in pool["SchemaAttributes"]}


def test_create_pool_defaults_look_like_aws(idp, pools):
    p = pools()
    assert POOL_ID.match(p["Id"]), p["Id"]
    assert p["Arn"] == f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{p['Id']}"
    pp = p["Policies"]["PasswordPolicy"]
    assert pp == {"MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
                  "RequireSymbols": True, "TemporaryPasswordValidityDays": 7}
    assert p["MfaConfiguration"] == "OFF"
    assert p["DeletionProtection"] == "INACTIVE"
    assert p["EstimatedNumberOfUsers"] == 0
    assert p["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert "UsernameAttributes" not in p and "AliasAttributes" not in p
    s = schema_of(p)
    assert s["sub"]["Required"] is True and s["sub"]["Mutable"] is False
    assert s["email"]["AttributeDataType"] == "String"
    assert s["email_verified"]["AttributeDataType"] == "Boolean"
    assert not any(n.startswith("custom:") for n in s)
    # CreationDate / LastModifiedDate are real timestamps boto3 parses.
    assert p["CreationDate"].year >= 2024 and p["LastModifiedDate"] >= p["CreationDate"]


def test_pool_ids_are_unique_and_random(pools):
    ids = {pools()["Id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(POOL_ID.match(i) for i in ids)


def test_create_pool_with_everything(idp, pools):
    p = pools(
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": False, "RequireLowercase": True,
                                     "RequireNumbers": False, "RequireSymbols": False,
                                     "TemporaryPasswordValidityDays": 3}},
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Schema=[
            {"Name": "tier", "AttributeDataType": "String", "Mutable": True,
             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "16"}},
            {"Name": "age", "AttributeDataType": "Number",
             "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "150"}},
            {"Name": "admin", "AttributeDataType": "Boolean"},
            {"Name": "name", "AttributeDataType": "String", "Required": True, "Mutable": True},
        ],
        MfaConfiguration="OFF",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        DeletionProtection="ACTIVE",
    )
    d = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    for pool in (p, d):
        pp = pool["Policies"]["PasswordPolicy"]
        assert pp["MinimumLength"] == 12 and pp["RequireUppercase"] is False and pp["RequireLowercase"] is True
        assert pp["TemporaryPasswordValidityDays"] == 3
        assert pool["UsernameAttributes"] == ["email"]
        assert pool["AutoVerifiedAttributes"] == ["email"]
        assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
        assert pool["DeletionProtection"] == "ACTIVE"
        s = schema_of(pool)
        assert s["custom:tier"]["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "16"}
        assert s["custom:tier"]["AttributeDataType"] == "String"
        assert s["custom:age"]["AttributeDataType"] == "Number"
        assert s["custom:age"]["NumberAttributeConstraints"] == {"MinValue": "0", "MaxValue": "150"}
        assert s["custom:admin"]["AttributeDataType"] == "Boolean"
        assert s["name"]["Required"] is True
        assert "tier" not in s


def test_password_policy_is_enforced(idp, pools):
    p = pools(Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": False,
                                           "RequireLowercase": False, "RequireNumbers": True,
                                           "RequireSymbols": False}})
    idp.admin_create_user(UserPoolId=p["Id"], Username="u1", MessageAction="SUPPRESS")
    with pytest.raises(idp.exceptions.InvalidPasswordException) as e:
        idp.admin_set_user_password(UserPoolId=p["Id"], Username="u1", Password="short1", Permanent=True)
    assert "Password did not conform with policy" in code_msg(e)[1]
    with pytest.raises(idp.exceptions.InvalidPasswordException) as e:
        idp.admin_set_user_password(UserPoolId=p["Id"], Username="u1", Password="longenoughbutnonumber",
                                    Permanent=True)
    assert "numeric" in code_msg(e)[1]
    idp.admin_set_user_password(UserPoolId=p["Id"], Username="u1", Password="alllowercase1", Permanent=True)


def test_username_attributes_email(idp, pools):
    p = pools(UsernameAttributes=["email"])
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.admin_create_user(UserPoolId=p["Id"], Username="not-an-email", MessageAction="SUPPRESS")
    assert code_msg(e)[1] == "Username should be an email."
    u = idp.admin_create_user(UserPoolId=p["Id"], Username="jo@example.com", MessageAction="SUPPRESS")["User"]
    # With email as username, the username is the sub and the email becomes an attribute.
    attrs = {a["Name"]: a["Value"] for a in u["Attributes"]}
    assert attrs["email"] == "jo@example.com"
    assert u["Username"] == attrs["sub"]


def test_alias_and_username_attributes_are_exclusive(idp):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool(PoolName=name(), UsernameAttributes=["email"], AliasAttributes=["preferred_username"])
    assert "aliasAttributes" in code_msg(e)[1] and "usernameAttributes" in code_msg(e)[1]


def test_alias_attributes_are_kept(idp, pools):
    p = pools(AliasAttributes=["email", "preferred_username"])
    d = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    assert d["AliasAttributes"] == ["email", "preferred_username"]
    assert "UsernameAttributes" not in d


@pytest.mark.parametrize("kw,fragment", [
    ({"UsernameAttributes": ["preferred_username"]}, "username"),
    ({"AliasAttributes": ["name"]}, "alias"),
    ({"AutoVerifiedAttributes": ["name"]}, "autoVerifiedAttributes"),
    ({"MfaConfiguration": "MAYBE"}, "mfaConfiguration"),
    ({"Policies": {"PasswordPolicy": {"MinimumLength": 3}}}, "minimumLength"),
    ({"Policies": {"PasswordPolicy": {"TemporaryPasswordValidityDays": 400}}}, "temporaryPasswordValidityDays"),
    ({"Schema": [{"Name": "x" * 21, "AttributeDataType": "String"}]}, "x" * 20),
    ({"Schema": [{"Name": "bad", "AttributeDataType": "Blob"}]}, "AttributeDataType"),
    ({"Schema": [{"Name": "req", "AttributeDataType": "String", "Required": True}]},
     "Required custom attributes are not supported currently."),
    ({"AdminCreateUserConfig": {"UnusedAccountValidityDays": 400}}, "unusedAccountValidityDays"),
    ({"Schema": [{"Name": "big", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "4096"}}]},
     "String attributes cannot have a length of more than 2048"),
    ({"Schema": [{"Name": "inv", "AttributeDataType": "String",
                  "StringAttributeConstraints": {"MinLength": "10", "MaxLength": "5"}}]}, "MinLength"),
    ({"Schema": [{"Name": "num", "AttributeDataType": "Number",
                  "NumberAttributeConstraints": {"MinValue": "10", "MaxValue": "5"}}]}, "MinValue"),
    ({"Schema": [{"Name": "num", "AttributeDataType": "Number",
                  "NumberAttributeConstraints": {"MinValue": "ten"}}]}, "MinValue"),
    ({"Schema": [{"Name": "email", "AttributeDataType": "Number"}]},
     "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute email"),
    ({"Schema": [{"Name": "dup", "AttributeDataType": "String"}, {"Name": "dup", "AttributeDataType": "String"}]},
     "custom:dup"),
    ({"UserPoolTier": "GOLD"}, "userPoolTier"),
])
def test_create_pool_rejects_bad_options(server, kw, fragment):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool(PoolName=name(), **kw)
    assert fragment.lower() in code_msg(e)[1].lower(), code_msg(e)


def test_describe_missing_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.describe_user_pool(UserPoolId="us-east-1_ZZZZZZZZZ")
    assert code_msg(e)[1] == "User pool us-east-1_ZZZZZZZZZ does not exist."


def test_estimated_number_of_users(idp, pools):
    p = pools()
    idp.admin_create_user(UserPoolId=p["Id"], Username="a", MessageAction="SUPPRESS")
    idp.admin_create_user(UserPoolId=p["Id"], Username="b", MessageAction="SUPPRESS")
    assert idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]["EstimatedNumberOfUsers"] == 2


def test_update_pool_changes_and_resets(idp, pools):
    p = pools(AutoVerifiedAttributes=["email"], MfaConfiguration="OFF",
              AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    before = p["LastModifiedDate"]
    idp.update_user_pool(
        UserPoolId=p["Id"],
        Policies={"PasswordPolicy": {"MinimumLength": 20, "RequireUppercase": False, "RequireLowercase": False,
                                     "RequireNumbers": False, "RequireSymbols": False}},
        DeletionProtection="ACTIVE",
        AutoVerifiedAttributes=["email"],
    )
    d = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    assert d["Policies"]["PasswordPolicy"]["MinimumLength"] == 20
    assert d["Policies"]["PasswordPolicy"]["RequireUppercase"] is False
    assert d["DeletionProtection"] == "ACTIVE"
    assert d["Name"] == p["Name"] and d["Id"] == p["Id"]
    assert d["LastModifiedDate"] >= before
    # As on AWS, what UpdateUserPool leaves out returns to its default.
    assert d["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    idp.update_user_pool(UserPoolId=p["Id"])
    d = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    assert d["DeletionProtection"] == "INACTIVE"
    assert d["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert d.get("AutoVerifiedAttributes", []) == []
    # Schema, username attributes and the id survive any update.
    assert schema_of(d).keys() == schema_of(p).keys()


def test_update_pool_policy_is_enforced(idp, pools):
    p = pools()
    idp.admin_create_user(UserPoolId=p["Id"], Username="u", MessageAction="SUPPRESS")
    idp.update_user_pool(UserPoolId=p["Id"], Policies={"PasswordPolicy": {"MinimumLength": 16}})
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.admin_set_user_password(UserPoolId=p["Id"], Username="u", Password="Abcdef1!xyz", Permanent=True)
    idp.admin_set_user_password(UserPoolId=p["Id"], Username="u", Password="abcdefghijklmnop", Permanent=True)


def test_update_missing_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.update_user_pool(UserPoolId="us-east-1_ZZZZZZZZZ", MfaConfiguration="OFF")


def test_update_rejects_bad_values(server, pools):
    p = pools()
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.update_user_pool(UserPoolId=p["Id"], MfaConfiguration="SOMETIMES")
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.update_user_pool(UserPoolId=p["Id"], Policies={"PasswordPolicy": {"MinimumLength": 200}})


def test_admin_create_user_only_blocks_sign_up(idp, public_idp, pools):
    p = pools(AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="c")["UserPoolClient"]
    with pytest.raises(public_idp.exceptions.NotAuthorizedException) as e:
        public_idp.sign_up(ClientId=c["ClientId"], Username="someone", Password=PASSWORD)
    assert code_msg(e)[1] == "SignUp is not permitted for this user pool"


def test_delete_pool(idp, pools):
    p = pools()
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="c")["UserPoolClient"]
    idp.delete_user_pool(UserPoolId=p["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool(UserPoolId=p["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_user_pool(UserPoolId=p["Id"])
    # Its clients went with it.
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "x", "PASSWORD": "y"})


def test_deletion_protection(idp, pools):
    p = pools(DeletionProtection="ACTIVE")
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.delete_user_pool(UserPoolId=p["Id"])
    assert "deletion protection" in code_msg(e)[1].lower()
    idp.describe_user_pool(UserPoolId=p["Id"])
    idp.update_user_pool(UserPoolId=p["Id"], DeletionProtection="INACTIVE")
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_list_pools_paginates(idp, pools):
    mine = {pools()["Id"] for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = idp.list_user_pools(**kw)
        pages += 1
        assert len(page["UserPools"]) <= 2
        for s in page["UserPools"]:
            assert set(s) >= {"Id", "Name", "CreationDate", "LastModifiedDate"}
            seen.append(s["Id"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages >= 3
    assert len(seen) == len(set(seen)), "a pool was listed twice"
    assert mine <= set(seen)
    # boto3's paginator walks the same pages.
    paged = [p["Id"] for page in idp.get_paginator("list_user_pools").paginate(MaxResults=3) for p in page["UserPools"]]
    assert mine <= set(paged) and len(paged) == len(set(paged))


def test_list_pools_rejects_a_bad_token(server):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.list_user_pools(MaxResults=5, NextToken="!!not-a-token!!")


def test_add_custom_attributes(idp, pools):
    p = pools()
    idp.add_custom_attributes(UserPoolId=p["Id"], CustomAttributes=[
        {"Name": "plan", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "10"}},
        {"Name": "score", "AttributeDataType": "Number", "Mutable": True},
    ])
    s = schema_of(idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"])
    assert s["custom:plan"]["StringAttributeConstraints"]["MaxLength"] == "10"
    assert s["custom:score"]["AttributeDataType"] == "Number"
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.add_custom_attributes(UserPoolId=p["Id"], CustomAttributes=[{"Name": "plan", "AttributeDataType": "String"}])
    assert code_msg(e)[1] == "Existing attribute already has name custom:plan."
    # The new attribute is usable on users, and its constraints hold.
    idp.admin_create_user(UserPoolId=p["Id"], Username="u", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "custom:plan", "Value": "gold"}])
    u = idp.admin_get_user(UserPoolId=p["Id"], Username="u")
    assert {"Name": "custom:plan", "Value": "gold"} in u["UserAttributes"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_update_user_attributes(UserPoolId=p["Id"], Username="u",
                                         UserAttributes=[{"Name": "custom:plan", "Value": "x" * 11}])
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_update_user_attributes(UserPoolId=p["Id"], Username="u",
                                         UserAttributes=[{"Name": "custom:nope", "Value": "x"}])


def test_add_custom_attributes_errors(server, idp, pools):
    raw = unvalidated(server)
    p = pools()
    with pytest.raises(raw.exceptions.ResourceNotFoundException):
        raw.add_custom_attributes(UserPoolId="us-east-1_ZZZZZZZZZ",
                                  CustomAttributes=[{"Name": "a", "AttributeDataType": "String"}])
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.add_custom_attributes(UserPoolId=p["Id"], CustomAttributes=[])
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.add_custom_attributes(UserPoolId=p["Id"], CustomAttributes=[{"Name": "has space", "AttributeDataType": "String"}])
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.add_custom_attributes(UserPoolId=p["Id"], CustomAttributes=[{"Name": "r", "AttributeDataType": "String",
                                                                         "Required": True}])
    # A failed call adds nothing.
    assert not any(n.startswith("custom:") for n in schema_of(idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]))


def test_pool_lifecycle_with_aws_cli(server):
    p = server.aws(
        "cognito-idp", "create-user-pool", "--pool-name", name(),
        "--policies", "PasswordPolicy={MinimumLength=10,RequireUppercase=false,RequireLowercase=true,RequireNumbers=true,RequireSymbols=false}",
        "--alias-attributes", "email", "preferred_username",
        "--auto-verified-attributes", "email",
        "--schema", "Name=department,AttributeDataType=String,Mutable=true",
        "Name=level,AttributeDataType=Number,NumberAttributeConstraints={MinValue=1,MaxValue=10}",
        "--mfa-configuration", "OFF",
        "--admin-create-user-config", "AllowAdminCreateUserOnly=false",
        "--deletion-protection", "ACTIVE",
    )["UserPool"]
    pid = p["Id"]
    assert POOL_ID.match(pid)
    d = server.aws("cognito-idp", "describe-user-pool", "--user-pool-id", pid)["UserPool"]
    assert d["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    assert d["AliasAttributes"] == ["email", "preferred_username"]
    s = schema_of(d)
    assert "custom:department" in s and s["custom:level"]["NumberAttributeConstraints"]["MaxValue"] == "10"
    server.aws("cognito-idp", "add-custom-attributes", "--user-pool-id", pid,
               "--custom-attributes", "Name=team,AttributeDataType=String")
    d = server.aws("cognito-idp", "describe-user-pool", "--user-pool-id", pid)["UserPool"]
    assert "custom:team" in schema_of(d)
    out = server.aws("cognito-idp", "delete-user-pool", "--user-pool-id", pid, check=False)
    assert out.returncode != 0 and "(InvalidParameterException)" in out.stderr
    server.aws("cognito-idp", "update-user-pool", "--user-pool-id", pid, "--deletion-protection", "INACTIVE")
    # --max-results turns the CLI's own paging off; walk the pages with --next-token.
    listed, token = [], None
    while True:
        extra = ["--next-token", token] if token else []
        page = server.aws("cognito-idp", "list-user-pools", "--max-results", "60", *extra)
        assert len(page["UserPools"]) <= 60
        listed += [x["Id"] for x in page["UserPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pid in listed and len(listed) == len(set(listed))
    server.aws("cognito-idp", "delete-user-pool", "--user-pool-id", pid)
    out = server.aws("cognito-idp", "describe-user-pool", "--user-pool-id", pid, check=False)
    assert "(ResourceNotFoundException)" in out.stderr


def test_users_of_a_deleted_pool_are_gone(idp, pools):
    p = pools()
    make_user(idp, p["Id"], "gone")
    idp.delete_user_pool(UserPoolId=p["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_get_user(UserPoolId=p["Id"], Username="gone")


def test_standard_attribute_overrides(idp, pools):
    # Required / Mutable of standard attributes can be set; the type may be left out.
    p = pools(Schema=[{"Name": "email", "Required": True, "Mutable": True},
                      {"Name": "email_verified", "Mutable": True},
                      {"Name": "family_name", "AttributeDataType": "String", "Required": True}])
    s = schema_of(p)
    assert s["email"]["Required"] is True and s["email"]["AttributeDataType"] == "String"
    assert s["email_verified"]["AttributeDataType"] == "Boolean"
    assert s["family_name"]["Required"] is True
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.admin_create_user(UserPoolId=p["Id"], Username="noreq", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "n@example.com"}])
    assert "family_name" in code_msg(e)[1]


@pytest.mark.parametrize("member,value", [
    ("LambdaConfig", "not-a-map"),
    ("UserPoolTags", {"team": 5}),
    ("EmailVerificationMessage", ["x"]),
    ("AccountRecoverySetting", [1, 2]),
    ("Schema", {"Name": "x"}),
    ("AutoVerifiedAttributes", "email"),
])
def test_create_pool_wrong_member_types(server, member, value):
    from awsraw import call, error

    r = call(server, "CreateUserPool", {"PoolName": name(), member: value})
    kind, msg = error(r)
    assert kind == "SerializationException" and member in msg, msg


def test_passthrough_settings_are_kept(idp, pools):
    p = pools(UserPoolTags={"team": "core"}, EmailVerificationSubject="Your code",
              AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]})
    d = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    assert d["UserPoolTags"] == {"team": "core"}
    assert d["EmailVerificationSubject"] == "Your code"
    assert d["AccountRecoverySetting"]["RecoveryMechanisms"] == [{"Priority": 1, "Name": "verified_email"}]
