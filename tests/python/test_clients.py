"""App clients: create/describe/update/delete/list, secrets and SECRET_HASH, ExplicitAuthFlows,
token validity (checked in issued tokens), Read/WriteAttributes, PreventUserExistenceErrors,
EnableTokenRevocation."""
import re
import uuid

import pytest

from awsraw import jwt_claims, secret_hash, unvalidated
from conftest import PASSWORD, make_user


@pytest.fixture
def pool_id(idp):
    p = idp.create_user_pool(PoolName=f"c-{uuid.uuid4().hex[:8]}")["UserPool"]
    yield p["Id"]
    idp.delete_user_pool(UserPoolId=p["Id"])


def code_msg(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def password_auth(idp, client_id, username, password=PASSWORD, **extra):
    params = {"USERNAME": username, "PASSWORD": password, **extra}
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params)


PW_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def test_create_client_defaults(idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web")["UserPoolClient"]
    assert re.match(r"^[a-z0-9]{26}$", c["ClientId"]), c["ClientId"]
    assert c["UserPoolId"] == pool_id and c["ClientName"] == "web"
    assert "ClientSecret" not in c
    assert c["PreventUserExistenceErrors"] == "ENABLED"
    assert c["EnableTokenRevocation"] is True
    assert c["AuthSessionValidity"] == 3
    assert c["RefreshTokenValidity"] == 30
    assert c["TokenValidityUnits"]["RefreshToken"] == "days"
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert d["ClientId"] == c["ClientId"] and d["PreventUserExistenceErrors"] == "ENABLED"
    assert d["CreationDate"] == c["CreationDate"]


def test_generate_secret(idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="srv", GenerateSecret=True)["UserPoolClient"]
    assert re.match(r"^[a-z0-9]{40,}$", c["ClientSecret"])
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert d["ClientSecret"] == c["ClientSecret"]
    listed = idp.list_user_pool_clients(UserPoolId=pool_id)["UserPoolClients"]
    assert listed == [{"ClientId": c["ClientId"], "UserPoolId": pool_id, "ClientName": "srv"}]
    # An update keeps the secret.
    u = idp.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"], ClientName="srv2")["UserPoolClient"]
    assert u["ClientSecret"] == c["ClientSecret"] and u["ClientName"] == "srv2"


def test_secret_hash_is_required_where_aws_requires_it(idp, public_idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="srv", GenerateSecret=True,
                                    ExplicitAuthFlows=PW_FLOWS + ["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    cid, secret = c["ClientId"], c["ClientSecret"]
    make_user(idp, pool_id, "sam")
    good = secret_hash("sam", cid, secret)

    with pytest.raises(public_idp.exceptions.NotAuthorizedException) as e:
        password_auth(public_idp, cid, "sam")
    assert code_msg(e)[1] == f"Client {cid} is configured with secret but SECRET_HASH was not received"
    with pytest.raises(public_idp.exceptions.NotAuthorizedException) as e:
        password_auth(public_idp, cid, "sam", SECRET_HASH=secret_hash("sam", cid, "wrong"))
    assert code_msg(e)[1] == f"Unable to verify secret hash for client {cid}"
    # A hash for another username does not do.
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        password_auth(public_idp, cid, "sam", SECRET_HASH=secret_hash("other", cid, secret))
    tokens = password_auth(public_idp, cid, "sam", SECRET_HASH=good)["AuthenticationResult"]

    # Admin flow too.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "sam", "PASSWORD": PASSWORD})
    idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=cid, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "sam", "PASSWORD": PASSWORD, "SECRET_HASH": good})

    # Refresh with a secret client: the hash is over the user's sub (or username).
    sub = jwt_claims(tokens["IdToken"])["sub"]
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    r = public_idp.initiate_auth(ClientId=cid, AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"],
                                                 "SECRET_HASH": secret_hash(sub, cid, secret)})
    assert "IdToken" in r["AuthenticationResult"]

    # SignUp / ConfirmSignUp / ForgotPassword need it as well.
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.sign_up(ClientId=cid, Username="newbie", Password=PASSWORD)
    public_idp.sign_up(ClientId=cid, Username="newbie", Password=PASSWORD,
                       SecretHash=secret_hash("newbie", cid, secret),
                       UserAttributes=[{"Name": "email", "Value": "newbie@example.com"}])
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.confirm_sign_up(ClientId=cid, Username="newbie", ConfirmationCode="123456")
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.forgot_password(ClientId=cid, Username="sam")
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.resend_confirmation_code(ClientId=cid, Username="newbie")
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.confirm_forgot_password(ClientId=cid, Username="sam", ConfirmationCode="123456",
                                           Password=PASSWORD)


def test_secret_hash_on_challenge_responses(idp, public_idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="srv", GenerateSecret=True,
                                    ExplicitAuthFlows=PW_FLOWS)["UserPoolClient"]
    cid, secret = c["ClientId"], c["ClientSecret"]
    idp.admin_create_user(UserPoolId=pool_id, Username="newpw", TemporaryPassword="Temp-Pass1!",
                          MessageAction="SUPPRESS")
    h = secret_hash("newpw", cid, secret)
    ch = password_auth(public_idp, cid, "newpw", "Temp-Pass1!", SECRET_HASH=h)
    assert ch["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(public_idp.exceptions.NotAuthorizedException) as e:
        public_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
                                             ChallengeResponses={"USERNAME": "newpw", "NEW_PASSWORD": PASSWORD})
    assert "SECRET_HASH" in code_msg(e)[1]
    ch = password_auth(public_idp, cid, "newpw", "Temp-Pass1!", SECRET_HASH=h)
    r = public_idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=ch["Session"],
                                             ChallengeResponses={"USERNAME": "newpw", "NEW_PASSWORD": PASSWORD,
                                                                 "SECRET_HASH": h})
    assert r["AuthenticationResult"]["AccessToken"]


def test_explicit_auth_flows_are_enforced(idp, public_idp, pool_id):
    srp_only = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="srp",
                                           ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"])["UserPoolClient"]
    make_user(idp, pool_id, "flo")
    with pytest.raises(public_idp.exceptions.InvalidParameterException) as e:
        password_auth(public_idp, srp_only["ClientId"], "flo")
    assert code_msg(e)[1] == "USER_PASSWORD_AUTH flow not enabled for this client"
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.admin_initiate_auth(UserPoolId=pool_id, ClientId=srp_only["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "flo", "PASSWORD": PASSWORD})
    assert code_msg(e)[1] == "Auth flow not enabled for this client"
    # Enabling the flow with an update makes it work.
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=srp_only["ClientId"], ExplicitAuthFlows=PW_FLOWS)
    assert password_auth(public_idp, srp_only["ClientId"], "flo")["AuthenticationResult"]["AccessToken"]
    # Legacy names work as on AWS.
    legacy = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="legacy",
                                         ExplicitAuthFlows=["USER_PASSWORD_AUTH"])["UserPoolClient"]
    assert password_auth(public_idp, legacy["ClientId"], "flo")["AuthenticationResult"]["AccessToken"]


def test_explicit_auth_flows_validation(server, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", ExplicitAuthFlows=["ALLOW_EVERYTHING"])
    assert "explicitAuthFlows" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x",
                                    ExplicitAuthFlows=["USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"])
    assert "legacy" in code_msg(e)[1].lower()


@pytest.mark.parametrize("validity,units,expect", [
    ({"AccessTokenValidity": 5, "IdTokenValidity": 2}, {"AccessToken": "minutes", "IdToken": "hours"}, (300, 7200)),
    ({"AccessTokenValidity": 1, "IdTokenValidity": 1}, {"AccessToken": "days", "IdToken": "days"}, (86400, 86400)),
    ({"AccessTokenValidity": 600, "IdTokenValidity": 3600}, {"AccessToken": "seconds", "IdToken": "seconds"},
     (600, 3600)),
    ({}, None, (3600, 3600)),
])
def test_token_validity_is_enforced_in_issued_tokens(idp, public_idp, pool_id, validity, units, expect):
    kw = dict(UserPoolId=pool_id, ClientName="tv", ExplicitAuthFlows=PW_FLOWS, **validity)
    if units:
        kw["TokenValidityUnits"] = units
    c = idp.create_user_pool_client(**kw)["UserPoolClient"]
    for k, v in validity.items():
        assert c[k] == v
    if units:
        for k, v in units.items():
            assert c["TokenValidityUnits"][k] == v
    make_user(idp, pool_id, "tv")
    res = password_auth(public_idp, c["ClientId"], "tv")["AuthenticationResult"]
    access, ident = jwt_claims(res["AccessToken"]), jwt_claims(res["IdToken"])
    assert access["exp"] - access["iat"] == expect[0]
    assert ident["exp"] - ident["iat"] == expect[1]
    assert res["ExpiresIn"] == expect[0]
    # Refreshed tokens follow the same validity.
    again = public_idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                                     AuthParameters={"REFRESH_TOKEN": res["RefreshToken"]})["AuthenticationResult"]
    a2 = jwt_claims(again["AccessToken"])
    assert a2["exp"] - a2["iat"] == expect[0]


def test_token_validity_update_changes_new_tokens(idp, public_idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="tv", ExplicitAuthFlows=PW_FLOWS)["UserPoolClient"]
    make_user(idp, pool_id, "tvu")
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"], ExplicitAuthFlows=PW_FLOWS,
                                AccessTokenValidity=10, TokenValidityUnits={"AccessToken": "minutes"})
    res = password_auth(public_idp, c["ClientId"], "tvu")["AuthenticationResult"]
    a = jwt_claims(res["AccessToken"])
    assert a["exp"] - a["iat"] == 600 and res["ExpiresIn"] == 600


@pytest.mark.parametrize("kw", [
    {"AccessTokenValidity": 4, "TokenValidityUnits": {"AccessToken": "minutes"}},
    {"AccessTokenValidity": 25, "TokenValidityUnits": {"AccessToken": "hours"}},
    {"IdTokenValidity": 2, "TokenValidityUnits": {"IdToken": "days"}},
    {"RefreshTokenValidity": 30, "TokenValidityUnits": {"RefreshToken": "minutes"}},
    {"RefreshTokenValidity": 3651, "TokenValidityUnits": {"RefreshToken": "days"}},
])
def test_token_validity_out_of_range(idp, pool_id, kw):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="bad", **kw)
    assert "token validity" in code_msg(e)[1].lower() or "Validity" in code_msg(e)[1]


def test_token_validity_unit_must_be_known(server, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="bad", AccessTokenValidity=1,
                                    TokenValidityUnits={"AccessToken": "weeks"})
    assert "weeks" in code_msg(e)[1]


def test_read_and_write_attributes(idp, public_idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="ro", ExplicitAuthFlows=PW_FLOWS,
                                    ReadAttributes=["email", "email_verified"],
                                    WriteAttributes=["name"])["UserPoolClient"]
    assert sorted(c["ReadAttributes"]) == ["email", "email_verified"]
    assert c["WriteAttributes"] == ["name"]
    make_user(idp, pool_id, "rw", attrs=[{"Name": "email", "Value": "rw@example.com"},
                                          {"Name": "email_verified", "Value": "true"},
                                          {"Name": "name", "Value": "Ro Wu"}])
    res = password_auth(public_idp, c["ClientId"], "rw")["AuthenticationResult"]
    claims = jwt_claims(res["IdToken"])
    assert claims["email"] == "rw@example.com"
    assert "name" not in claims
    me = {a["Name"]: a["Value"] for a in public_idp.get_user(AccessToken=res["AccessToken"])["UserAttributes"]}
    assert me["email"] == "rw@example.com" and "name" not in me
    public_idp.update_user_attributes(AccessToken=res["AccessToken"], UserAttributes=[{"Name": "name", "Value": "New"}])
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        public_idp.update_user_attributes(AccessToken=res["AccessToken"],
                                          UserAttributes=[{"Name": "email", "Value": "x@example.com"}])


def test_unknown_read_or_write_attribute(idp, pool_id):
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="x", ReadAttributes=["custom:nope"])
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="x", WriteAttributes=["shoe_size"])


def test_prevent_user_existence_errors(idp, public_idp, pool_id):
    enabled = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="e", ExplicitAuthFlows=PW_FLOWS)["UserPoolClient"]
    legacy = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="l", ExplicitAuthFlows=PW_FLOWS,
                                         PreventUserExistenceErrors="LEGACY")["UserPoolClient"]
    assert enabled["PreventUserExistenceErrors"] == "ENABLED"
    assert legacy["PreventUserExistenceErrors"] == "LEGACY"
    with pytest.raises(public_idp.exceptions.NotAuthorizedException) as e:
        password_auth(public_idp, enabled["ClientId"], "ghost")
    assert code_msg(e)[1] == "Incorrect username or password."
    with pytest.raises(public_idp.exceptions.UserNotFoundException) as e:
        password_auth(public_idp, legacy["ClientId"], "ghost")
    assert code_msg(e)[1] == "User does not exist."
    # Flip it with an update.
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=legacy["ClientId"], ExplicitAuthFlows=PW_FLOWS,
                                PreventUserExistenceErrors="ENABLED")
    with pytest.raises(public_idp.exceptions.NotAuthorizedException):
        password_auth(public_idp, legacy["ClientId"], "ghost")


def test_prevent_user_existence_errors_enum(server, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", PreventUserExistenceErrors="SOMETIMES")
    assert "preventUserExistenceErrors" in code_msg(e)[1]


def test_enable_token_revocation(idp, public_idp, pool_id):
    on = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="on", ExplicitAuthFlows=PW_FLOWS)["UserPoolClient"]
    off = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="off", ExplicitAuthFlows=PW_FLOWS,
                                      EnableTokenRevocation=False)["UserPoolClient"]
    assert on["EnableTokenRevocation"] is True and off["EnableTokenRevocation"] is False
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=off["ClientId"])["UserPoolClient"]
    assert d["EnableTokenRevocation"] is False
    make_user(idp, pool_id, "rev")
    # With revocation enabled, tokens carry origin_jti (as on AWS).
    res = password_auth(public_idp, on["ClientId"], "rev")["AuthenticationResult"]
    assert "origin_jti" in jwt_claims(res["AccessToken"])


def test_update_resets_what_is_left_out(idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="u", ExplicitAuthFlows=PW_FLOWS,
                                    AccessTokenValidity=5, TokenValidityUnits={"AccessToken": "minutes"},
                                    ReadAttributes=["email"], PreventUserExistenceErrors="LEGACY",
                                    EnableTokenRevocation=False)["UserPoolClient"]
    u = idp.update_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert u["ClientName"] == "u"
    assert u["ClientId"] == c["ClientId"] and u["CreationDate"] == c["CreationDate"]
    assert u["AccessTokenValidity"] * {"minutes": 60, "hours": 3600}[u["TokenValidityUnits"]["AccessToken"]] == 3600
    assert "ReadAttributes" not in u
    assert u["PreventUserExistenceErrors"] == "ENABLED"
    assert u["EnableTokenRevocation"] is True
    assert u["LastModifiedDate"] >= c["LastModifiedDate"]
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert d == u


def test_missing_clients(idp, pool_id):
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.describe_user_pool_client(UserPoolId=pool_id, ClientId="abcdefghijklmnopqrstuvwxyz")
    assert code_msg(e)[1] == "User pool client abcdefghijklmnopqrstuvwxyz does not exist."
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.update_user_pool_client(UserPoolId=pool_id, ClientId="abcdefghijklmnopqrstuvwxyz", ClientName="x")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_user_pool_client(UserPoolId=pool_id, ClientId="abcdefghijklmnopqrstuvwxyz")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.create_user_pool_client(UserPoolId="us-east-1_ZZZZZZZZZ", ClientName="x")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_user_pool_clients(UserPoolId="us-east-1_ZZZZZZZZZ")


def test_client_of_another_pool_is_not_found(idp, pool_id):
    other = idp.create_user_pool(PoolName="other")["UserPool"]["Id"]
    try:
        c = idp.create_user_pool_client(UserPoolId=other, ClientName="theirs")["UserPoolClient"]
        for call in (idp.describe_user_pool_client, idp.delete_user_pool_client):
            with pytest.raises(idp.exceptions.ResourceNotFoundException):
                call(UserPoolId=pool_id, ClientId=c["ClientId"])
        idp.describe_user_pool_client(UserPoolId=other, ClientId=c["ClientId"])
    finally:
        idp.delete_user_pool(UserPoolId=other)


def test_delete_client(idp, public_idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="d", ExplicitAuthFlows=PW_FLOWS)["UserPoolClient"]
    make_user(idp, pool_id, "del")
    password_auth(public_idp, c["ClientId"], "del")
    idp.delete_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])
    with pytest.raises(public_idp.exceptions.ResourceNotFoundException):
        password_auth(public_idp, c["ClientId"], "del")


def test_list_clients_paginates(idp, pool_id):
    made = {idp.create_user_pool_client(UserPoolId=pool_id, ClientName=f"c{i}")["UserPoolClient"]["ClientId"]
            for i in range(5)}
    seen, token = [], None
    while True:
        kw = {"UserPoolId": pool_id, "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = idp.list_user_pool_clients(**kw)
        assert len(page["UserPoolClients"]) <= 2
        seen += [c["ClientId"] for c in page["UserPoolClients"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(made)
    assert len(idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]) == 5


def test_client_lifecycle_with_aws_cli(server, pool_id):
    c = server.aws("cognito-idp", "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "cli",
                   "--generate-secret", "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                   "--access-token-validity", "15", "--id-token-validity", "15",
                   "--token-validity-units", "AccessToken=minutes,IdToken=minutes,RefreshToken=days",
                   "--prevent-user-existence-errors", "ENABLED", "--enable-token-revocation")["UserPoolClient"]
    assert c["ClientSecret"] and c["AccessTokenValidity"] == 15
    cid = c["ClientId"]
    d = server.aws("cognito-idp", "describe-user-pool-client", "--user-pool-id", pool_id, "--client-id", cid)
    assert d["UserPoolClient"]["TokenValidityUnits"]["AccessToken"] == "minutes"
    u = server.aws("cognito-idp", "update-user-pool-client", "--user-pool-id", pool_id, "--client-id", cid,
                   "--client-name", "cli2", "--explicit-auth-flows", "ALLOW_USER_SRP_AUTH",
                   "ALLOW_REFRESH_TOKEN_AUTH")["UserPoolClient"]
    assert u["ClientName"] == "cli2" and u["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    listed = server.aws("cognito-idp", "list-user-pool-clients", "--user-pool-id", pool_id, "--max-results", "1")
    assert [x["ClientId"] for x in listed["UserPoolClients"]] == [cid]
    server.aws("cognito-idp", "delete-user-pool-client", "--user-pool-id", pool_id, "--client-id", cid)
    out = server.aws("cognito-idp", "describe-user-pool-client", "--user-pool-id", pool_id, "--client-id", cid,
                     check=False)
    assert "(ResourceNotFoundException)" in out.stderr


def test_cli_initiate_auth_with_secret_hash(server, idp, pool_id):
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="s", GenerateSecret=True,
                                    ExplicitAuthFlows=PW_FLOWS)["UserPoolClient"]
    make_user(idp, pool_id, "clisec")
    h = secret_hash("clisec", c["ClientId"], c["ClientSecret"])
    out = server.aws("cognito-idp", "initiate-auth", "--client-id", c["ClientId"], "--auth-flow", "USER_PASSWORD_AUTH",
                     "--auth-parameters", f"USERNAME=clisec,PASSWORD={PASSWORD},SECRET_HASH={h}")
    assert out["AuthenticationResult"]["AccessToken"]
    out = server.aws("cognito-idp", "initiate-auth", "--client-id", c["ClientId"], "--auth-flow", "USER_PASSWORD_AUTH",
                     "--auth-parameters", f"USERNAME=clisec,PASSWORD={PASSWORD}", check=False)
    assert "(NotAuthorizedException)" in out.stderr and "SECRET_HASH was not received" in out.stderr


@pytest.mark.parametrize("member,value", [
    ("CallbackURLs", "https://example.com/cb"),
    ("AllowedOAuthScopes", [1, 2]),
    ("AllowedOAuthFlowsUserPoolClient", "yes"),
    ("ExplicitAuthFlows", "ALLOW_USER_SRP_AUTH"),
    ("AccessTokenValidity", "60"),
    ("GenerateSecret", "true"),
    ("TokenValidityUnits", ["minutes"]),
])
def test_client_wrong_member_types(server, pool_id, member, value):
    from awsraw import call, error

    r = call(server, "CreateUserPoolClient", {"UserPoolId": pool_id, "ClientName": "x", member: value})
    kind, msg = error(r)
    assert kind == "SerializationException" and member in msg, msg


def test_oauth_settings_validated_and_kept(server, idp, pool_id):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", AllowedOAuthFlows=["password"])
    assert "allowedOAuthFlows" in code_msg(e)[1]
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.create_user_pool_client(UserPoolId=pool_id, ClientName="x", CallbackURLs=["https://x/" + "a" * 1100])
    assert "callbackURLs" in code_msg(e)[1]
    c = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web", AllowedOAuthFlows=["code"],
                                    AllowedOAuthScopes=["openid", "email"], AllowedOAuthFlowsUserPoolClient=True,
                                    CallbackURLs=["https://app.example.com/cb"],
                                    SupportedIdentityProviders=["COGNITO"])["UserPoolClient"]
    d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
    assert d["AllowedOAuthFlows"] == ["code"] and d["CallbackURLs"] == ["https://app.example.com/cb"]
    assert d["AllowedOAuthScopes"] == ["openid", "email"] and d["AllowedOAuthFlowsUserPoolClient"] is True
