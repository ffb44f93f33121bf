"""Groups: create/get/update/delete/list, memberships, and cognito:groups in issued tokens."""
import pytest

from awsraw import jwt_claims, unvalidated
from conftest import PASSWORD, make_user

ROLE = "arn:aws:iam::000000000000:role/readers"


def code_msg(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def sign_in(idp, pool, username):
    return idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]


def test_group_crud(idp, pool):
    pid = pool["id"]
    g = idp.create_group(UserPoolId=pid, GroupName="readers", Description="can read", RoleArn=ROLE,
                         Precedence=5)["Group"]
    assert g["GroupName"] == "readers" and g["UserPoolId"] == pid
    assert g["Description"] == "can read" and g["RoleArn"] == ROLE and g["Precedence"] == 5
    assert g["CreationDate"] and g["LastModifiedDate"]
    got = idp.get_group(UserPoolId=pid, GroupName="readers")["Group"]
    assert got == g

    # Only the members given change.
    u = idp.update_group(UserPoolId=pid, GroupName="readers", Description="can read a lot")["Group"]
    assert u["Description"] == "can read a lot" and u["Precedence"] == 5 and u["RoleArn"] == ROLE
    u = idp.update_group(UserPoolId=pid, GroupName="readers", Precedence=1)["Group"]
    assert u["Precedence"] == 1 and u["Description"] == "can read a lot"
    assert idp.get_group(UserPoolId=pid, GroupName="readers")["Group"]["Precedence"] == 1

    idp.delete_group(UserPoolId=pid, GroupName="readers")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_group(UserPoolId=pid, GroupName="readers")


def test_minimal_group_has_no_optional_members(idp, pool):
    g = idp.create_group(UserPoolId=pool["id"], GroupName="plain")["Group"]
    assert "Description" not in g and "RoleArn" not in g and "Precedence" not in g


def test_duplicate_group(idp, pool):
    idp.create_group(UserPoolId=pool["id"], GroupName="dup")
    with pytest.raises(idp.exceptions.GroupExistsException) as e:
        idp.create_group(UserPoolId=pool["id"], GroupName="dup")
    assert code_msg(e)[1] == "A group with the name already exists."


def test_group_names_are_case_sensitive_and_unicode(idp, pool):
    idp.create_group(UserPoolId=pool["id"], GroupName="Admins")
    idp.create_group(UserPoolId=pool["id"], GroupName="admins")
    idp.create_group(UserPoolId=pool["id"], GroupName="équipe-α_1")
    names = {g["GroupName"] for g in idp.list_groups(UserPoolId=pool["id"])["Groups"]}
    assert names == {"Admins", "admins", "équipe-α_1"}


def test_same_group_name_in_two_pools(idp, pool):
    other = idp.create_user_pool(PoolName="other")["UserPool"]["Id"]
    try:
        idp.create_group(UserPoolId=pool["id"], GroupName="shared")
        idp.create_group(UserPoolId=other, GroupName="shared", Description="other")
        assert "Description" not in idp.get_group(UserPoolId=pool["id"], GroupName="shared")["Group"]
        idp.delete_group(UserPoolId=other, GroupName="shared")
        idp.get_group(UserPoolId=pool["id"], GroupName="shared")
    finally:
        idp.delete_user_pool(UserPoolId=other)


def test_missing_groups_and_pools(idp, pool):
    pid = pool["id"]
    for call, kw in ((idp.get_group, {}), (idp.delete_group, {}), (idp.update_group, {"Description": "x"}),
                     (idp.list_users_in_group, {})):
        with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
            call(UserPoolId=pid, GroupName="nope", **kw)
        assert "nope" in code_msg(e)[1] or "not found" in code_msg(e)[1].lower()
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.create_group(UserPoolId="us-east-1_ZZZZZZZZZ", GroupName="g")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_groups(UserPoolId="us-east-1_ZZZZZZZZZ")


def test_group_validation(server, pool):
    raw = unvalidated(server)
    pid = pool["id"]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_group(UserPoolId=pid, GroupName="g", Precedence=-1)
    assert "precedence" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_group(UserPoolId=pid, GroupName="g", RoleArn="short")
    assert "roleArn" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_group(UserPoolId=pid, GroupName="g", RoleArn="this-is-not-an-arn-at-all")
    assert "roleArn" in code_msg(e)[1] and "regular expression pattern" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_group(UserPoolId=pid, GroupName="g", Description="d" * 2049)
    assert "description" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_group(UserPoolId=pid, GroupName="")
    assert "groupName" in code_msg(e)[1]
    # Nothing was created by the failed calls.
    assert raw.list_groups(UserPoolId=pid)["Groups"] == []


def test_list_groups_paginates(idp, pool):
    names = {f"g{i:02d}" for i in range(7)}
    for n in names:
        idp.create_group(UserPoolId=pool["id"], GroupName=n)
    seen, token = [], None
    while True:
        kw = {"UserPoolId": pool["id"], "Limit": 3}
        if token:
            kw["NextToken"] = token
        page = idp.list_groups(**kw)
        assert len(page["Groups"]) <= 3
        seen += [g["GroupName"] for g in page["Groups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(names)
    paged = [g["GroupName"] for p in idp.get_paginator("list_groups").paginate(
        UserPoolId=pool["id"], PaginationConfig={"PageSize": 2}) for g in p["Groups"]]
    assert sorted(paged) == sorted(names)


def test_memberships(idp, pool):
    pid = pool["id"]
    for g in ("a", "b", "c"):
        idp.create_group(UserPoolId=pid, GroupName=g, Precedence={"a": 3, "b": 1, "c": 2}[g])
    make_user(idp, pid, "ann")
    make_user(idp, pid, "bob")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="a")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="b")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="bob", GroupName="a")
    # Adding twice is fine (idempotent, as on AWS).
    idp.admin_add_user_to_group(UserPoolId=pid, Username="ann", GroupName="a")

    ann = idp.admin_list_groups_for_user(UserPoolId=pid, Username="ann")["Groups"]
    assert sorted(g["GroupName"] for g in ann) == ["a", "b"]
    assert all(g["UserPoolId"] == pid for g in ann)
    in_a = idp.list_users_in_group(UserPoolId=pid, GroupName="a")["Users"]
    assert sorted(u["Username"] for u in in_a) == ["ann", "bob"]
    assert all(u["UserStatus"] == "CONFIRMED" and u["Enabled"] for u in in_a)
    assert any(a["Name"] == "email" for a in in_a[0]["Attributes"])
    assert idp.list_users_in_group(UserPoolId=pid, GroupName="c")["Users"] == []

    idp.admin_remove_user_from_group(UserPoolId=pid, Username="ann", GroupName="a")
    assert [g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=pid, Username="ann")["Groups"]] == ["b"]
    assert [u["Username"] for u in idp.list_users_in_group(UserPoolId=pid, GroupName="a")["Users"]] == ["bob"]
    # Removing a non-member is not an error.
    idp.admin_remove_user_from_group(UserPoolId=pid, Username="ann", GroupName="c")


def test_membership_errors(idp, pool):
    pid = pool["id"]
    idp.create_group(UserPoolId=pid, GroupName="g")
    make_user(idp, pid, "eve")
    with pytest.raises(idp.exceptions.UserNotFoundException) as e:
        idp.admin_add_user_to_group(UserPoolId=pid, Username="ghost", GroupName="g")
    assert code_msg(e)[1] == "User does not exist."
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_add_user_to_group(UserPoolId=pid, Username="eve", GroupName="nogroup")
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_remove_user_from_group(UserPoolId=pid, Username="ghost", GroupName="g")
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_list_groups_for_user(UserPoolId=pid, Username="ghost")


def test_membership_pagination(idp, pool):
    pid = pool["id"]
    for i in range(5):
        idp.create_group(UserPoolId=pid, GroupName=f"m{i}")
    make_user(idp, pid, "many")
    for i in range(5):
        idp.admin_add_user_to_group(UserPoolId=pid, Username="many", GroupName=f"m{i}")
    seen, token = [], None
    while True:
        kw = {"UserPoolId": pid, "Username": "many", "Limit": 2}
        if token:
            kw["NextToken"] = token
        page = idp.admin_list_groups_for_user(**kw)
        assert len(page["Groups"]) <= 2
        seen += [g["GroupName"] for g in page["Groups"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == [f"m{i}" for i in range(5)]
    # A token that is not one of ours is refused, not read as "from the start".
    import base64

    forged = base64.urlsafe_b64encode(b"m3").decode().rstrip("=")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_list_groups_for_user(UserPoolId=pid, Username="many", NextToken=forged)

    # ListUsersInGroup pages too (users without passwords keep this cheap).
    for i in range(5):
        idp.admin_create_user(UserPoolId=pid, Username=f"u{i}", MessageAction="SUPPRESS")
        idp.admin_add_user_to_group(UserPoolId=pid, Username=f"u{i}", GroupName="m0")
    seen, token = [], None
    while True:
        kw = {"UserPoolId": pid, "GroupName": "m0", "Limit": 2}
        if token:
            kw["NextToken"] = token
        page = idp.list_users_in_group(**kw)
        assert len(page["Users"]) <= 2
        seen += [u["Username"] for u in page["Users"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == ["many"] + [f"u{i}" for i in range(5)]


def test_deleting_a_group_or_user_ends_memberships(idp, pool):
    pid = pool["id"]
    idp.create_group(UserPoolId=pid, GroupName="temp")
    idp.create_group(UserPoolId=pid, GroupName="keep")
    make_user(idp, pid, "mem")
    idp.admin_create_user(UserPoolId=pid, Username="leaver", MessageAction="SUPPRESS")
    for u in ("mem", "leaver"):
        idp.admin_add_user_to_group(UserPoolId=pid, Username=u, GroupName="keep")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="mem", GroupName="temp")
    idp.delete_group(UserPoolId=pid, GroupName="temp")
    assert [g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=pid, Username="mem")["Groups"]] == ["keep"]
    assert "cognito:groups" in jwt_claims(sign_in(idp, pool, "mem")["IdToken"])
    assert jwt_claims(sign_in(idp, pool, "mem")["IdToken"])["cognito:groups"] == ["keep"]
    # A group created again under the same name starts empty.
    idp.create_group(UserPoolId=pid, GroupName="temp")
    assert idp.list_users_in_group(UserPoolId=pid, GroupName="temp")["Users"] == []
    idp.admin_delete_user(UserPoolId=pid, Username="leaver")
    assert [u["Username"] for u in idp.list_users_in_group(UserPoolId=pid, GroupName="keep")["Users"]] == ["mem"]
    # A new user with the deleted user's name is not in the old user's groups.
    idp.admin_create_user(UserPoolId=pid, Username="leaver", MessageAction="SUPPRESS")
    assert idp.admin_list_groups_for_user(UserPoolId=pid, Username="leaver")["Groups"] == []


def test_cognito_groups_claim_in_id_and_access_tokens(idp, public_idp, pool):
    pid = pool["id"]
    make_user(idp, pid, "claimy")
    t = sign_in(public_idp, pool, "claimy")
    assert "cognito:groups" not in jwt_claims(t["IdToken"])
    assert "cognito:groups" not in jwt_claims(t["AccessToken"])

    idp.create_group(UserPoolId=pid, GroupName="editors", Precedence=2)
    idp.create_group(UserPoolId=pid, GroupName="admins", Precedence=1)
    idp.admin_add_user_to_group(UserPoolId=pid, Username="claimy", GroupName="editors")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="claimy", GroupName="admins")
    t = sign_in(public_idp, pool, "claimy")
    for tok in (t["IdToken"], t["AccessToken"]):
        assert sorted(jwt_claims(tok)["cognito:groups"]) == ["admins", "editors"]

    # Refreshed tokens reflect the current memberships.
    idp.admin_remove_user_from_group(UserPoolId=pid, Username="claimy", GroupName="admins")
    r = public_idp.initiate_auth(ClientId=pool["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": t["RefreshToken"]})["AuthenticationResult"]
    assert jwt_claims(r["IdToken"])["cognito:groups"] == ["editors"]
    assert jwt_claims(r["AccessToken"])["cognito:groups"] == ["editors"]


def test_groups_with_aws_cli(server, idp, pool):
    pid = pool["id"]
    g = server.aws("cognito-idp", "create-group", "--user-pool-id", pid, "--group-name", "cli-group",
                   "--description", "from the cli", "--precedence", "7", "--role-arn", ROLE)["Group"]
    assert g["Precedence"] == 7 and g["RoleArn"] == ROLE
    server.aws("cognito-idp", "update-group", "--user-pool-id", pid, "--group-name", "cli-group",
               "--description", "changed")
    got = server.aws("cognito-idp", "get-group", "--user-pool-id", pid, "--group-name", "cli-group")["Group"]
    assert got["Description"] == "changed" and got["Precedence"] == 7
    make_user(idp, pid, "cliuser")
    server.aws("cognito-idp", "admin-add-user-to-group", "--user-pool-id", pid, "--username", "cliuser",
               "--group-name", "cli-group")
    users = server.aws("cognito-idp", "list-users-in-group", "--user-pool-id", pid, "--group-name", "cli-group")
    assert [u["Username"] for u in users["Users"]] == ["cliuser"]
    groups = server.aws("cognito-idp", "admin-list-groups-for-user", "--user-pool-id", pid, "--username", "cliuser")
    assert [x["GroupName"] for x in groups["Groups"]] == ["cli-group"]
    listed = server.aws("cognito-idp", "list-groups", "--user-pool-id", pid)
    assert [x["GroupName"] for x in listed["Groups"]] == ["cli-group"]
    out = server.aws("cognito-idp", "create-group", "--user-pool-id", pid, "--group-name", "cli-group", check=False)
    assert "(GroupExistsException)" in out.stderr
    server.aws("cognito-idp", "admin-remove-user-from-group", "--user-pool-id", pid, "--username", "cliuser",
               "--group-name", "cli-group")
    server.aws("cognito-idp", "delete-group", "--user-pool-id", pid, "--group-name", "cli-group")
    out = server.aws("cognito-idp", "get-group", "--user-pool-id", pid, "--group-name", "cli-group", check=False)
    assert "(ResourceNotFoundException)" in out.stderr
