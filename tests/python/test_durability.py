"""Durability: everything acknowledged survives a graceful restart and a kill -9; SIGTERM drains
and exits cleanly."""
import signal
import time
import threading

import pytest
import requests

from awsraw import jwt_claims, secret_hash
from conftest import PASSWORD, make_user

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def build_world(idp):
    """A pool with custom attributes, a secret client, groups, a member with a password."""
    p = idp.create_user_pool(
        PoolName="durable", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": {"MinimumLength": 10}},
        Schema=[{"Name": "tier", "AttributeDataType": "String"}],
        DeletionProtection="ACTIVE",
    )["UserPool"]
    pid = p["Id"]
    c = idp.create_user_pool_client(UserPoolId=pid, ClientName="srv", GenerateSecret=True, ExplicitAuthFlows=FLOWS,
                                    AccessTokenValidity=10, TokenValidityUnits={"AccessToken": "minutes"},
                                    PreventUserExistenceErrors="LEGACY")["UserPoolClient"]
    idp.create_group(UserPoolId=pid, GroupName="staff", Precedence=3, Description="the staff")
    make_user(idp, pid, "dee@example.com", attrs=[{"Name": "email", "Value": "dee@example.com"},
                                                   {"Name": "email_verified", "Value": "true"},
                                                   {"Name": "custom:tier", "Value": "gold"}])
    idp.admin_add_user_to_group(UserPoolId=pid, Username="dee@example.com", GroupName="staff")
    return pid, c


def sign_in(idp, pid, c):
    return idp.admin_initiate_auth(
        UserPoolId=pid, ClientId=c["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "dee@example.com", "PASSWORD": PASSWORD,
                        "SECRET_HASH": secret_hash("dee@example.com", c["ClientId"], c["ClientSecret"])},
    )["AuthenticationResult"]


def check_world(server, pid, c, old_tokens):
    idp = server.client()
    d = idp.describe_user_pool(UserPoolId=pid)["UserPool"]
    assert d["Name"] == "durable" and d["UsernameAttributes"] == ["email"]
    assert d["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    assert d["DeletionProtection"] == "ACTIVE"
    assert any(a["Name"] == "custom:tier" for a in d["SchemaAttributes"])
    assert d["EstimatedNumberOfUsers"] == 1
    cc = idp.describe_user_pool_client(UserPoolId=pid, ClientId=c["ClientId"])["UserPoolClient"]
    assert cc["ClientSecret"] == c["ClientSecret"]
    assert cc["AccessTokenValidity"] == 10 and cc["PreventUserExistenceErrors"] == "LEGACY"
    g = idp.get_group(UserPoolId=pid, GroupName="staff")["Group"]
    assert g["Precedence"] == 3 and g["Description"] == "the staff"
    u = idp.admin_get_user(UserPoolId=pid, Username="dee@example.com")
    assert {"Name": "custom:tier", "Value": "gold"} in u["UserAttributes"]
    assert u["UserStatus"] == "CONFIRMED"
    # The password (hash) survived: signing in works, and the groups are in the new tokens.
    t = sign_in(idp, pid, c)
    assert jwt_claims(t["IdToken"])["cognito:groups"] == ["staff"]
    a = jwt_claims(t["AccessToken"])
    assert a["exp"] - a["iat"] == 600
    # Tokens issued before the restart still verify: the signing keys survived.
    assert jwt_claims(t["IdToken"])["iss"] == jwt_claims(old_tokens["IdToken"])["iss"]
    me = server.client(signed=False).get_user(AccessToken=old_tokens["AccessToken"])
    assert me["Username"] == u["Username"]
    # And so do refresh tokens.
    sub = jwt_claims(old_tokens["IdToken"])["sub"]
    r = server.client(signed=False).initiate_auth(
        ClientId=c["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": old_tokens["RefreshToken"],
                        "SECRET_HASH": secret_hash(sub, c["ClientId"], c["ClientSecret"])})
    assert r["AuthenticationResult"]["AccessToken"]


def jwks(server, pid):
    return requests.get(f"{server.url}/{pid}/.well-known/jwks.json").json()


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_everything_survives_a_restart(fresh_server, how):
    s = fresh_server()
    idp = s.client()
    pid, c = build_world(idp)
    tokens = sign_in(idp, pid, c)
    keys = jwks(s, pid)
    if how == "kill9":
        s.kill9()
    else:
        assert s.stop() == 0
    s.start()
    assert jwks(s, pid) == keys
    check_world(s, pid, c, tokens)


def test_acknowledged_writes_survive_kill9(fresh_server):
    s = fresh_server()
    idp = s.client()
    pid = idp.create_user_pool(PoolName="burst")["UserPool"]["Id"]
    idp.create_group(UserPoolId=pid, GroupName="doomed")
    idp.create_user_pool_client(UserPoolId=pid, ClientName="doomed")
    for i in range(20):
        idp.create_group(UserPoolId=pid, GroupName=f"g{i:02d}", Precedence=i)
    for i in range(5):
        idp.admin_create_user(UserPoolId=pid, Username=f"u{i}", MessageAction="SUPPRESS")
    idp.admin_add_user_to_group(UserPoolId=pid, Username="u0", GroupName="g00")
    idp.update_group(UserPoolId=pid, GroupName="g19", Description="last write")
    idp.delete_group(UserPoolId=pid, GroupName="doomed")
    doomed = idp.list_user_pool_clients(UserPoolId=pid)["UserPoolClients"][0]["ClientId"]
    idp.delete_user_pool_client(UserPoolId=pid, ClientId=doomed)
    gone = idp.create_user_pool(PoolName="gone")["UserPool"]["Id"]
    idp.delete_user_pool(UserPoolId=gone)
    # Crash right after the last acknowledgement.
    s.kill9()
    s.start()
    idp = s.client()
    groups = [g["GroupName"] for p in idp.get_paginator("list_groups").paginate(UserPoolId=pid) for g in p["Groups"]]
    assert sorted(groups) == [f"g{i:02d}" for i in range(20)]
    assert idp.get_group(UserPoolId=pid, GroupName="g19")["Group"]["Description"] == "last write"
    assert idp.describe_user_pool(UserPoolId=pid)["UserPool"]["EstimatedNumberOfUsers"] == 5
    assert [g["GroupName"] for g in idp.admin_list_groups_for_user(UserPoolId=pid, Username="u0")["Groups"]] == ["g00"]
    assert idp.list_user_pool_clients(UserPoolId=pid)["UserPoolClients"] == []
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool(UserPoolId=gone)


def test_repeated_crashes_and_writes_between_them(fresh_server):
    s = fresh_server()
    pid = s.client().create_user_pool(PoolName="crashy")["UserPool"]["Id"]
    for round_ in range(3):
        s.client().create_group(UserPoolId=pid, GroupName=f"round{round_}")
        s.kill9()
        s.start()
    groups = {g["GroupName"] for g in s.client().list_groups(UserPoolId=pid)["Groups"]}
    assert groups == {"round0", "round1", "round2"}
    # The server listed the pool after all of it, and with the same id.
    assert pid in {p["Id"] for p in s.client().list_user_pools(MaxResults=60)["UserPools"]}


def test_sigterm_is_graceful(fresh_server):
    s = fresh_server()
    idp = s.client()
    pid = idp.create_user_pool(PoolName="graceful")["UserPool"]["Id"]
    c = idp.create_user_pool_client(UserPoolId=pid, ClientName="c", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
    make_user(idp, pid, "busy")

    # Requests in flight when SIGTERM arrives are answered, not dropped.
    results, errors = [], []
    started = threading.Barrier(5)

    def worker():
        pub = s.client(signed=False)
        started.wait()
        try:
            r = pub.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": "busy", "PASSWORD": PASSWORD})
            results.append(r["AuthenticationResult"]["AccessToken"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()

    time.sleep(0.05)  # let the requests reach the server (password hashing keeps them busy)
    s.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    code = s.proc.wait(timeout=15)
    assert code == 0, s.logs()[-2000:]
    # Those that got in were answered; none failed mid-way with a server error.
    for e in errors:
        assert "Connection refused" in str(e) or "Could not connect" in str(e), e
    assert results, "no request in flight completed"
    logs = s.logs()
    assert "shutting down" in logs and "stopped" in logs
    s.stop()
    # After a graceful stop, everything is there on the next start.
    s.start()
    assert s.client().describe_user_pool(UserPoolId=pid)["UserPool"]["Name"] == "graceful"


def test_secrets_never_reach_the_log(fresh_server):
    s = fresh_server()
    idp = s.client()
    pid, c = build_world(idp)
    sign_in(idp, pid, c)
    logs = s.logs()
    assert PASSWORD not in logs
    assert c["ClientSecret"] not in logs
    from conftest import SECRET_KEY

    assert SECRET_KEY not in logs
