"""Challenge sessions: single use (also under concurrent replay), bound to their client, pool
and user, tamper-evident, and expiring. Driven through the NEW_PASSWORD_REQUIRED challenge,
which every pool can raise."""
import base64
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

import awsraw

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TEMP = "Temp-Pass1!"
NEW = "N3w-Passw0rd!"
EXPIRED = ("NotAuthorizedException", "Invalid session for the user, session is expired.")


def error_of(call, *args, **kw):
    with pytest.raises(ClientError) as e:
        call(*args, **kw)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", "")


@pytest.fixture
def setup(idp, public_idp):
    p = idp.create_user_pool(PoolName=f"se-{uuid.uuid4().hex[:8]}")["UserPool"]
    pid = p["Id"]
    clients = [idp.create_user_pool_client(UserPoolId=pid, ClientName=f"c{i}", ExplicitAuthFlows=FLOWS)
               ["UserPoolClient"]["ClientId"] for i in range(2)]
    for name in ("uma", "vic"):
        idp.admin_create_user(UserPoolId=pid, Username=name, TemporaryPassword=TEMP, MessageAction="SUPPRESS")

    def challenge(username="uma", cid=clients[0]):
        out = public_idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": username, "PASSWORD": TEMP})
        assert out["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        return out["Session"]

    def respond(session, username="uma", cid=clients[0], name="NEW_PASSWORD_REQUIRED"):
        return public_idp.respond_to_auth_challenge(
            ClientId=cid, ChallengeName=name, Session=session,
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": NEW})

    yield {"pid": pid, "clients": clients, "challenge": challenge, "respond": respond}
    idp.delete_user_pool(UserPoolId=pid)


def test_replayed_response_is_refused(setup, public_idp):
    s = setup["challenge"]()
    tokens = setup["respond"](s)["AuthenticationResult"]
    assert public_idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "uma"
    assert error_of(setup["respond"], s) == EXPIRED
    assert error_of(setup["respond"], s) == EXPIRED


def test_concurrent_replay_succeeds_once(setup):
    s = setup["challenge"]("vic")

    def go(_):
        try:
            return "ok" if setup["respond"](s, "vic")["AuthenticationResult"] else "?"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "NotAuthorizedException"}


def test_session_is_bound_to_client_pool_and_user(idp, setup):
    other_cid = setup["clients"][1]
    # Another client of the same pool.
    assert error_of(setup["respond"], setup["challenge"](), cid=other_cid) == EXPIRED
    # Another user's name with this user's session.
    assert error_of(setup["respond"], setup["challenge"](), "vic") == EXPIRED
    # A client of another pool.
    p2 = idp.create_user_pool(PoolName=f"se2-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    c2 = idp.create_user_pool_client(UserPoolId=p2, ClientName="x", ExplicitAuthFlows=FLOWS)["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=p2, Username="uma", TemporaryPassword=TEMP, MessageAction="SUPPRESS")
    assert error_of(setup["respond"], setup["challenge"](), cid=c2) == EXPIRED
    # The admin variant naming another pool.
    s = setup["challenge"]()
    code, _ = error_of(idp.admin_respond_to_auth_challenge, UserPoolId=p2, ClientId=setup["clients"][0],
                       ChallengeName="NEW_PASSWORD_REQUIRED", Session=s,
                       ChallengeResponses={"USERNAME": "uma", "NEW_PASSWORD": NEW})
    assert code == "ResourceNotFoundException"
    # A session for one challenge does not answer another.
    code, _ = error_of(setup["respond"], setup["challenge"](), name="SOFTWARE_TOKEN_MFA")
    assert code in ("InvalidParameterException", "NotAuthorizedException")
    idp.delete_user_pool(UserPoolId=p2)
    # None of that signed anyone in: the user is still waiting for a new password.
    assert idp.admin_get_user(UserPoolId=setup["pid"], Username="uma")["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def flip(s, i):
    c = s[i]
    return s[:i] + ("B" if c != "B" else "C") + s[i + 1:]


def test_tampered_or_truncated_sessions_are_refused(server, setup):
    s = setup["challenge"]()
    variants = [
        flip(s, 0), flip(s, len(s) // 2), flip(s, len(s) - 3),  # one character changed
        s[:-1], s[: len(s) // 2], s[:24],                           # truncated
        s + "A", s + s,                                             # extended
        base64.b64encode(b"x" * 96).decode(),                       # well-formed, made up
        s.lower(),
    ]
    for v in variants:
        code, msg = error_of(setup["respond"], v)
        assert (code, msg) == EXPIRED or code == "InvalidParameterException", v
    # Too short or too long to be a session at all (boto3 would not even send these).
    for bad in (s[:10], "A" * 5000):
        r = awsraw.call(server, "RespondToAuthChallenge", {
            "ClientId": setup["clients"][0], "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": bad,
            "ChallengeResponses": {"USERNAME": "uma", "NEW_PASSWORD": NEW}}, signed=False)
        assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
    # The genuine session was never consumed by the forgeries.
    assert setup["respond"](s)["AuthenticationResult"]["AccessToken"]


def age_sessions(server, pool_id, seconds):
    server.sql("UPDATE auth_sessions SET expires = expires - ? WHERE pool_id = ?", (seconds, pool_id))


def test_sessions_expire(server, setup):
    """A session lives for the client's AuthSessionValidity (default 3 minutes)."""
    pid = setup["pid"]
    s = setup["challenge"]()
    age_sessions(server, pid, 3 * 60 - 30)   # 30 s left: still good
    assert setup["respond"](s)["AuthenticationResult"]["AccessToken"]
    s = setup["challenge"]("vic")
    age_sessions(server, pid, 3 * 60 + 1)
    assert error_of(setup["respond"], s, "vic") == EXPIRED
    # ...and an expired session stays dead: a fresh one is needed.
    assert error_of(setup["respond"], s, "vic") == EXPIRED
    assert setup["respond"](setup["challenge"]("vic"), "vic")["AuthenticationResult"]["AccessToken"]
