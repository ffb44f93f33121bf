"""The Cognito wire protocol: AWS JSON 1.1 over POST /, AWS's error shape, SigV4 on the
operations AWS signs (and none on the ones it leaves unsigned), input validation with AWS's
messages, body limits and hostile input over raw sockets. Never a 500, a panic or a hang."""
import datetime
import json
import os
import random
import socket
import uuid

import botocore.exceptions
import pytest
import requests

from awsraw import CT, TARGET, call, error, signed_headers, unvalidated
from conftest import PASSWORD, make_user


def err(exc_info):
    e = exc_info.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def assert_healthy(server):
    assert requests.get(server.url + "/health", timeout=5).status_code == 200


# --- SigV4 ---------------------------------------------------------------------------------

SIGNED_OPS = [
    ("list_user_pools", {"MaxResults": 5}),
    ("create_user_pool", {"PoolName": "unsigned"}),
    ("describe_user_pool", {"UserPoolId": "us-east-1_AAAAAAAAA"}),
    ("update_user_pool", {"UserPoolId": "us-east-1_AAAAAAAAA"}),
    ("delete_user_pool", {"UserPoolId": "us-east-1_AAAAAAAAA"}),
    ("add_custom_attributes", {"UserPoolId": "us-east-1_AAAAAAAAA",
                               "CustomAttributes": [{"Name": "x", "AttributeDataType": "String"}]}),
    ("create_user_pool_client", {"UserPoolId": "us-east-1_AAAAAAAAA", "ClientName": "c"}),
    ("list_user_pool_clients", {"UserPoolId": "us-east-1_AAAAAAAAA"}),
    ("create_group", {"UserPoolId": "us-east-1_AAAAAAAAA", "GroupName": "g"}),
    ("list_groups", {"UserPoolId": "us-east-1_AAAAAAAAA"}),
    ("admin_get_user", {"UserPoolId": "us-east-1_AAAAAAAAA", "Username": "u"}),
    ("admin_create_user", {"UserPoolId": "us-east-1_AAAAAAAAA", "Username": "u"}),
    ("admin_add_user_to_group", {"UserPoolId": "us-east-1_AAAAAAAAA", "Username": "u", "GroupName": "g"}),
    ("list_users", {"UserPoolId": "us-east-1_AAAAAAAAA"}),
    ("admin_initiate_auth", {"UserPoolId": "us-east-1_AAAAAAAAA", "ClientId": "abc",
                             "AuthFlow": "ADMIN_USER_PASSWORD_AUTH"}),
]


@pytest.mark.parametrize("method,params", SIGNED_OPS, ids=[m for m, _ in SIGNED_OPS])
def test_signed_operations_refuse_unsigned_calls(server, public_idp, method, params):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(public_idp, method)(**params)
    code, msg, status = err(e)
    assert code == "MissingAuthenticationTokenException"
    assert msg == "Missing Authentication Token"
    assert status in (400, 403)


@pytest.mark.parametrize("method,params", SIGNED_OPS[:6], ids=[m for m, _ in SIGNED_OPS[:6]])
def test_signed_operations_refuse_a_wrong_secret(server, method, params):
    bad = server.client(secret_key="not-the-secret-key-at-all-0000000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(bad, method)(**params)
    code, msg, status = err(e)
    assert code == "InvalidSignatureException"
    assert msg.startswith("The request signature we calculated does not match the signature you provided.")
    assert status == 400


def test_unknown_access_key_is_unrecognized(server):
    bad = server.client(access_key="AKIDNOBODYKNOWS")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_user_pools(MaxResults=1)
    code, msg, _ = err(e)
    assert code == "UnrecognizedClientException"
    assert msg == "The security token included in the request is invalid."


def test_tampered_body_breaks_the_signature(server):
    body = json.dumps({"MaxResults": 5}).encode()
    h = signed_headers(server.url, "ListUserPools", body)
    r = requests.post(server.url + "/", data=json.dumps({"MaxResults": 6}).encode(), headers=h)
    assert error(r)[0] == "InvalidSignatureException"
    # Retargeting a signed request at another operation also fails: the target is signed.
    h = signed_headers(server.url, "ListUserPools", body)
    h["X-Amz-Target"] = TARGET + "CreateUserPool"
    r = requests.post(server.url + "/", data=body, headers=h)
    assert error(r)[0] == "InvalidSignatureException"


def test_stale_request_time_is_refused(server, monkeypatch):
    import botocore.auth

    an_hour_ago = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(hours=1)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: an_hour_ago)
    r = call(server, "ListUserPools", {"MaxResults": 5})
    kind, msg = error(r)
    assert kind == "InvalidSignatureException"
    assert "expired" in msg.lower()


def test_signature_scoped_to_another_service_is_refused(server):
    r = call(server, "ListUserPools", {"MaxResults": 5}, service="s3")
    kind, msg = error(r)
    assert kind in ("InvalidSignatureException", "IncompleteSignatureException")
    assert "cognito-idp" in msg or "signature" in msg.lower()


def test_garbage_authorization_header_is_an_incomplete_signature(server):
    r = call(server, "ListUserPools", {"MaxResults": 5}, signed=False,
             headers={"Authorization": "AWS4-HMAC-SHA256 nonsense"})
    kind, msg = error(r)
    assert kind in ("IncompleteSignatureException", "InvalidSignatureException")
    assert msg


def test_signed_call_succeeds_and_cli_signs_too(server, idp):
    assert "UserPools" in idp.list_user_pools(MaxResults=1)
    assert "UserPools" in server.aws("cognito-idp", "list-user-pools", "--max-results", "1")


def test_cli_with_wrong_secret_or_unsigned_fails_with_aws_error(server):
    out = server.aws("cognito-idp", "list-user-pools", "--max-results", "1", check=False,
                     env={"AWS_SECRET_ACCESS_KEY": "wrong-wrong-wrong-wrong-wrong-wrong"})
    assert out.returncode != 0
    assert "(InvalidSignatureException) when calling the ListUserPools operation" in out.stderr
    out = server.aws("cognito-idp", "list-user-pools", "--max-results", "1", "--no-sign-request", check=False)
    assert out.returncode != 0
    assert "(MissingAuthenticationTokenException)" in out.stderr


def test_public_operations_stay_unsigned(server, pool, public_idp):
    # SignUp / InitiateAuth work with no credentials at all, through boto3, the CLI and raw HTTP.
    public_idp.sign_up(ClientId=pool["client_id"], Username="pub1", Password=PASSWORD,
                       UserAttributes=[{"Name": "email", "Value": "pub1@example.com"}])
    r = call(server, "SignUp", {"ClientId": pool["client_id"], "Username": "pub2", "Password": PASSWORD,
                                "UserAttributes": [{"Name": "email", "Value": "pub2@example.com"}]},
             signed=False)
    assert r.status_code == 200, r.text
    assert r.json()["UserConfirmed"] is False and "UserSub" in r.json()
    out = server.aws("cognito-idp", "sign-up", "--client-id", pool["client_id"], "--username", "pub3",
                     "--password", PASSWORD, "--user-attributes", "Name=email,Value=pub3@example.com",
                     "--no-sign-request")
    assert out["UserConfirmed"] is False
    make_user(server.client(), pool["id"], "pubauth")
    r = call(server, "InitiateAuth", {"ClientId": pool["client_id"], "AuthFlow": "USER_PASSWORD_AUTH",
                                      "AuthParameters": {"USERNAME": "pubauth", "PASSWORD": PASSWORD}},
             signed=False)
    assert r.status_code == 200, r.text
    assert r.json()["AuthenticationResult"]["TokenType"] == "Bearer"
    # A public call that happens to carry a (wrong) signature is not refused for it.
    r = call(server, "InitiateAuth", {"ClientId": pool["client_id"], "AuthFlow": "USER_PASSWORD_AUTH",
                                      "AuthParameters": {"USERNAME": "pubauth", "PASSWORD": PASSWORD}},
             secret_key="wrong")
    assert r.status_code == 200, r.text


# --- Response metadata ---------------------------------------------------------------------

def test_every_response_carries_a_request_id(server, idp):
    ids = set()
    responses = [
        call(server, "ListUserPools", {"MaxResults": 1}),  # success
        call(server, "ListUserPools", {}),  # validation error
        call(server, "ListUserPools", {"MaxResults": 1}, signed=False),  # auth error
        call(server, "NoSuchOperation", {}),
        requests.get(server.url + "/health"),
        requests.get(server.gateway_url + "/health"),
        requests.get(server.url + "/definitely/not/here"),
        requests.get(server.url + "/"),
        requests.post(server.url + "/", data=b"{}"),
    ]
    for r in responses:
        rid = r.headers.get("x-amzn-requestid")
        assert rid, (r.status_code, r.headers)
        uuid.UUID(rid)
        ids.add(rid)
        assert r.status_code < 500, r.text
    assert len(ids) == len(responses)
    meta = idp.list_user_pools(MaxResults=1)["ResponseMetadata"]
    assert meta["RequestId"] and meta["HTTPStatusCode"] == 200


def test_success_content_type_is_amz_json(server):
    r = call(server, "ListUserPools", {"MaxResults": 1})
    assert r.status_code == 200
    assert r.headers["content-type"] == CT
    assert isinstance(r.json()["UserPools"], list)


def test_health_on_both_listeners(server):
    for url in (server.url, server.gateway_url):
        r = requests.get(url + "/health", timeout=5)
        assert r.status_code == 200
        assert r.json()["status"] == "ok"


# --- Unknown operations, malformed input ------------------------------------------------------

@pytest.mark.parametrize("signed", [True, False])
def test_unknown_operation_names_the_operation(server, signed):
    r = call(server, "FrobnicateUserPool", {}, signed=signed)
    kind, msg = error(r)
    assert kind == "UnknownOperationException"
    assert "FrobnicateUserPool" in msg


@pytest.mark.parametrize("target", [None, "", "AWSCognitoIdentityProviderService.", "SomethingElse.ListUserPools",
                                    "AWSCognitoIdentityProviderService"])
def test_missing_or_foreign_target_is_an_unknown_operation(server, target):
    h = {"Content-Type": CT}
    if target is not None:
        h["X-Amz-Target"] = target
    r = requests.post(server.url + "/", data=b"{}", headers=h)
    kind, msg = error(r)
    assert kind == "UnknownOperationException"
    assert "X-Amz-Target" in msg or "operation" in msg.lower()


@pytest.mark.parametrize("raw,needle", [
    (b"{bad json", "JSON"),
    (b'{"ClientId": "abc",', "JSON"),  # truncated
    (b"\xff\xfe\x00garbage", "JSON"),  # invalid UTF-8
    (b'{"ClientId": "\xff\xfe"}', "JSON"),  # invalid UTF-8 inside a string
    (b"[]", "structure"),
    (b'"just a string"', "structure"),
    (b"null", "structure"),
    (b"42", "structure"),
])
def test_malformed_bodies_are_serialization_errors(server, raw, needle):
    for op, signed in (("SignUp", False), ("ListUserPools", True)):
        r = call(server, op, raw=raw, signed=signed)
        kind, msg = error(r)
        assert kind == "SerializationException", (op, raw, r.text)
        assert needle.lower() in msg.lower(), msg


@pytest.mark.parametrize("body,field", [
    ({"ClientId": 5, "Username": "u", "Password": PASSWORD}, "ClientId"),
    ({"ClientId": "abc", "Username": ["u"], "Password": PASSWORD}, "Username"),
    ({"ClientId": "abc", "Username": "u", "Password": PASSWORD, "UserAttributes": {"email": "x"}}, "UserAttributes"),
    ({"ClientId": "abc", "Username": "u", "Password": {"a": 1}}, "Password"),
])
def test_wrong_types_name_the_member(server, body, field):
    r = call(server, "SignUp", body, signed=False)
    kind, msg = error(r)
    assert kind == "SerializationException"
    assert field in msg, msg


def test_wrong_types_on_signed_operations(server):
    r = call(server, "ListUserPools", {"MaxResults": "ten"})
    kind, msg = error(r)
    assert kind == "SerializationException" and "MaxResults" in msg
    r = call(server, "CreateUserPool", {"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": "8"}}})
    kind, msg = error(r)
    assert kind == "SerializationException" and "Policies" in msg
    r = call(server, "CreateUserPool", {"PoolName": "p", "DeletionProtection": True})
    kind, msg = error(r)
    assert kind == "SerializationException" and "DeletionProtection" in msg


@pytest.mark.parametrize("op,body,field,signed", [
    ("SignUp", {}, "clientId", False),
    ("SignUp", {"ClientId": "abc", "Password": PASSWORD}, "username", False),
    ("InitiateAuth", {"ClientId": "abc"}, "authFlow", False),
    ("ListUserPools", {}, "maxResults", True),
    ("CreateUserPool", {}, "poolName", True),
    ("DescribeUserPool", {}, "userPoolId", True),
    ("CreateUserPoolClient", {"UserPoolId": "us-east-1_AAAAAAAAA"}, "clientName", True),
    ("CreateGroup", {"UserPoolId": "us-east-1_AAAAAAAAA"}, "groupName", True),
    ("AdminGetUser", {"UserPoolId": "us-east-1_AAAAAAAAA"}, "username", True),
])
def test_missing_required_members(server, op, body, field, signed):
    r = call(server, op, body, signed=signed)
    kind, msg = error(r)
    assert kind == "InvalidParameterException"
    assert msg == (f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: "
                   "Member must not be null")


def test_empty_body_is_an_empty_request(server):
    r = call(server, "ListUserPools", raw=b"")
    kind, msg = error(r)
    assert kind == "InvalidParameterException" and "'maxResults'" in msg


@pytest.mark.parametrize("op,body,fragment", [
    ("DescribeUserPool", {"UserPoolId": "no-underscore"}, "at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern"),
    ("DescribeUserPool", {"UserPoolId": "us-east-1_" + "a" * 60}, "at 'userPoolId' failed to satisfy constraint: Member must have length less than or equal to 55"),
    ("CreateUserPool", {"PoolName": ""}, "at 'poolName' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    ("CreateUserPool", {"PoolName": "p" * 129}, "at 'poolName' failed to satisfy constraint: Member must have length less than or equal to 128"),
    ("CreateUserPool", {"PoolName": "bad/name"}, "at 'poolName' failed to satisfy constraint: Member must satisfy regular expression pattern"),
    ("ListUserPools", {"MaxResults": 0}, "at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"),
    ("ListUserPools", {"MaxResults": 61}, "at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 60"),
    ("CreateUserPool", {"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 5}}}, "Member must have value greater than or equal to 6"),
    ("CreateUserPool", {"PoolName": "p", "Policies": {"PasswordPolicy": {"MinimumLength": 100}}}, "Member must have value less than or equal to 99"),
    ("CreateUserPool", {"PoolName": "p", "MfaConfiguration": "SOMETIMES"}, "Member must satisfy enum value set: [OFF, ON, OPTIONAL]"),
    ("CreateUserPool", {"PoolName": "p", "DeletionProtection": "MAYBE"}, "Member must satisfy enum value set: [ACTIVE, INACTIVE]"),
    ("CreateGroup", {"UserPoolId": "us-east-1_AAAAAAAAA", "GroupName": "g" * 129}, "at 'groupName' failed to satisfy constraint: Member must have length less than or equal to 128"),
    ("CreateGroup", {"UserPoolId": "us-east-1_AAAAAAAAA", "GroupName": "has space"}, "at 'groupName' failed to satisfy constraint: Member must satisfy regular expression pattern"),
    ("CreateGroup", {"UserPoolId": "us-east-1_AAAAAAAAA", "GroupName": "g", "Precedence": -1}, "precedence"),
    ("DescribeUserPoolClient", {"UserPoolId": "us-east-1_AAAAAAAAA", "ClientId": "x" * 129}, "at 'clientId' failed to satisfy constraint: Member must have length less than or equal to 128"),
    ("DescribeUserPoolClient", {"UserPoolId": "us-east-1_AAAAAAAAA", "ClientId": "bad-id!"}, "at 'clientId' failed to satisfy constraint: Member must satisfy regular expression pattern"),
])
def test_values_outside_aws_limits(server, op, body, fragment):
    r = call(server, op, body)
    kind, msg = error(r)
    assert kind == "InvalidParameterException", r.text
    assert fragment in msg, msg
    if "validation error" in msg:
        assert msg.startswith("1 validation error detected: Value ")


def test_limits_on_public_operations(server):
    r = call(server, "SignUp", {"ClientId": "c" * 129, "Username": "u", "Password": PASSWORD}, signed=False)
    kind, msg = error(r)
    assert kind == "InvalidParameterException" and "'clientId'" in msg
    r = call(server, "SignUp", {"ClientId": "abc", "Username": "u" * 129, "Password": PASSWORD}, signed=False)
    kind, msg = error(r)
    assert kind == "InvalidParameterException" and "'username'" in msg
    r = call(server, "SignUp", {"ClientId": "abc", "Username": "u", "Password": "p" * 257}, signed=False)
    kind, msg = error(r)
    assert kind == "InvalidParameterException" and "'password'" in msg
    # A long value is shown shortened in the message, never echoed whole.
    assert "p" * 100 not in msg


def test_boto3_sees_aws_error_codes(server):
    raw = unvalidated(server)
    with pytest.raises(raw.exceptions.InvalidParameterException) as e:
        raw.list_user_pools(MaxResults=0)
    assert "maxResults" in e.value.response["Error"]["Message"]
    with pytest.raises(raw.exceptions.ResourceNotFoundException) as e:
        raw.describe_user_pool(UserPoolId="us-east-1_Nope12345")
    assert e.value.response["Error"]["Message"] == "User pool us-east-1_Nope12345 does not exist."


def test_cli_shows_aws_error_lines(server):
    out = server.aws("cognito-idp", "describe-user-pool", "--user-pool-id", "us-east-1_Nope12345", check=False)
    assert out.returncode != 0
    assert ("An error occurred (ResourceNotFoundException) when calling the DescribeUserPool operation: "
            "User pool us-east-1_Nope12345 does not exist.") in out.stderr


# --- Body size, content types, hostile transport ------------------------------------------------

def test_request_bodies_are_size_limited(server):
    big = json.dumps({"ClientId": "abc", "Username": "u", "Password": "x" * (300 * 1024)}).encode()
    r = call(server, "SignUp", raw=big, signed=False)
    assert r.status_code == 413
    kind, msg = r.json()["__type"], r.json()["message"]
    assert kind == "SerializationException" and "larger than" in msg
    assert r.headers["x-amzn-errortype"] == kind
    # Chunked (no Content-Length) is limited the same way.

    def chunks():
        for _ in range(40):
            yield b" " * 16384

    r = requests.post(server.url + "/", data=chunks(), headers={"X-Amz-Target": TARGET + "SignUp", "Content-Type": CT})
    assert r.status_code == 413
    # A signed call is limited too (the limit applies before the signature is checked).
    r = call(server, "ListUserPools", raw=b" " * (300 * 1024))
    assert r.status_code == 413
    assert_healthy(server)


def test_moderate_bodies_are_accepted(server):
    body = {"MaxResults": 1, "Padding": "x" * 100_000}
    r = call(server, "ListUserPools", body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/x-www-form-urlencoded", None,
                                   "application/x-amz-json-1.0"])
def test_other_content_types_are_not_a_server_error(server, ctype):
    body = json.dumps({"MaxResults": 1}).encode()
    extra = {} if ctype is None else {"Content-Type": ctype}
    h = signed_headers(server.url, "ListUserPools", body, extra=extra)
    if ctype is None:
        h.pop("Content-Type", None)
    r = requests.post(server.url + "/", data=body, headers=h)
    assert r.status_code < 500
    if r.status_code != 200:
        error(r)


def raw_exchange(server, payload, timeout=10, half_close=True):
    """Sends bytes on a fresh connection, (half-)closes it and returns what came back."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(payload)
        if half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data


def status_of(data):
    if not data:
        return None
    line = data.split(b"\r\n", 1)[0]
    return int(line.split()[1])


def test_truncated_body_does_not_hang_or_crash(server):
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {TARGET}SignUp\r\n"
            f"Content-Type: {CT}\r\nContent-Length: 500\r\n\r\n").encode()
    data = raw_exchange(server, head + b'{"ClientId": "abc"')
    st = status_of(data)
    assert st is None or 400 <= st < 500, data[:300]
    assert_healthy(server)


@pytest.mark.parametrize("payload", [
    b"GARBAGE\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: \xff\xfe\r\nContent-Length: 2\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: x\r\nBad Header Name: v\r\nContent-Length: 2\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\n" + b"X-Junk: " + b"a" * 200_000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
    b"\x00" * 1024,
])
def test_garbage_on_the_socket_is_refused_cleanly(server, payload):
    data = raw_exchange(server, payload)
    st = status_of(data) if data.startswith(b"HTTP/") else None
    assert st is None or 400 <= st < 500, data[:300]
    assert_healthy(server)


def test_non_utf8_target_header_is_an_unknown_operation(server):
    payload = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSCognitoIdentityProviderService.\xc3\x28\r\n"
               b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    data = raw_exchange(server, payload, half_close=False)
    assert status_of(data) == 400, data[:300]
    assert b"UnknownOperationException" in data


def test_slow_client_does_not_block_others(server, idp):
    # One connection sends half a request and stalls; others are still served.
    s = socket.create_connection(("127.0.0.1", server.port))
    try:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        for _ in range(3):
            assert idp.list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        s.close()


def test_only_post_serves_the_api(server):
    for method in ("GET", "PUT", "DELETE"):
        r = requests.request(method, server.url + "/", headers={"X-Amz-Target": TARGET + "ListUserPools"})
        assert r.status_code in (404, 405)
    r = requests.post(server.url + "/some/path", data=b"{}", headers={"X-Amz-Target": TARGET + "ListUserPools"})
    assert r.status_code == 404


def test_many_bad_requests_never_500(server):
    bodies = [b"", b"{", b"{}", b'{"UserPoolId": null}', b'{"UserPoolId": 1}', b'{"UserPoolId": "x_y"}',
              b'{"UserPoolId": "us-east-1_AAAAAAAAA", "Username": null}', b'{"UserPoolId": [], "GroupName": {}}',
              b'{"' + b"k" * 5000 + b'": 1}', b'{"a":' * 200 + b"1" + b"}" * 200]
    ops = ["DescribeUserPool", "UpdateUserPool", "DeleteUserPool", "ListUserPoolClients", "CreateGroup",
           "GetGroup", "ListGroups", "AdminAddUserToGroup", "AdminListGroupsForUser", "ListUsersInGroup",
           "CreateUserPoolClient", "UpdateUserPoolClient", "AddCustomAttributes", "AdminCreateUser",
           "AdminGetUser", "ListUsers", "AdminInitiateAuth"]
    for op in ops:
        for b in bodies:
            r = call(server, op, raw=b)
            assert 400 <= r.status_code < 500, (op, b[:40], r.status_code, r.text)
            error(r)
    for op in ["SignUp", "ConfirmSignUp", "InitiateAuth", "RespondToAuthChallenge", "ForgotPassword",
               "ConfirmForgotPassword", "GetUser", "ChangePassword"]:
        for b in bodies:
            r = call(server, op, raw=b, signed=False)
            assert 400 <= r.status_code < 500, (op, b[:40], r.status_code, r.text)
            error(r)
    assert_healthy(server)


def test_fuzzed_members_never_500(fresh_server):
    """Random values of every JSON type in the members of the pool/client/group operations:
    each answer is a success or a 4xx in AWS's shape, never a 5xx, and the server stays up."""
    s = fresh_server()
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "20240611")))
    pid = s.client().create_user_pool(PoolName="fuzz")["UserPool"]["Id"]
    cid = s.client().create_user_pool_client(UserPoolId=pid, ClientName="fuzz")["UserPoolClient"]["ClientId"]

    def value(depth=0):
        choices = [None, True, False, 0, -1, 2**31, 2**63 - 1, -(2**63), 1.5, 1e308, "", "x", "us-east-1_AAAAAAAAA",
                   "ü" * 300, "\u0000\u202e", "a" * 5000, "custom:x", pid, cid, "ALLOW_USER_SRP_AUTH", "minutes"]
        if depth < 2:
            choices += [[value(depth + 1)], {"Name": value(depth + 1), "Value": value(depth + 1)}, {}]
        return rng.choice(choices)

    members = {
        "CreateUserPool": ["PoolName", "Policies", "Schema", "UsernameAttributes", "AliasAttributes",
                           "AutoVerifiedAttributes", "MfaConfiguration", "AdminCreateUserConfig", "DeletionProtection",
                           "UsernameConfiguration", "LambdaConfig", "UserPoolTags"],
        "UpdateUserPool": ["UserPoolId", "Policies", "MfaConfiguration", "DeletionProtection",
                           "AutoVerifiedAttributes", "AdminCreateUserConfig"],
        "AddCustomAttributes": ["UserPoolId", "CustomAttributes"],
        "ListUserPools": ["MaxResults", "NextToken"],
        "CreateUserPoolClient": ["UserPoolId", "ClientName", "GenerateSecret", "ExplicitAuthFlows",
                                 "AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity", "TokenValidityUnits",
                                 "ReadAttributes", "WriteAttributes", "PreventUserExistenceErrors",
                                 "EnableTokenRevocation", "AuthSessionValidity", "CallbackURLs", "AllowedOAuthFlows"],
        "UpdateUserPoolClient": ["UserPoolId", "ClientId", "ClientName", "ExplicitAuthFlows", "AccessTokenValidity",
                                 "TokenValidityUnits", "ReadAttributes"],
        "ListUserPoolClients": ["UserPoolId", "MaxResults", "NextToken"],
        "CreateGroup": ["UserPoolId", "GroupName", "Description", "RoleArn", "Precedence"],
        "UpdateGroup": ["UserPoolId", "GroupName", "Description", "RoleArn", "Precedence"],
        "ListGroups": ["UserPoolId", "Limit", "NextToken"],
        "AdminAddUserToGroup": ["UserPoolId", "Username", "GroupName"],
        "AdminListGroupsForUser": ["UserPoolId", "Username", "Limit", "NextToken"],
        "ListUsersInGroup": ["UserPoolId", "GroupName", "Limit", "NextToken"],
    }
    for _ in range(int(os.environ.get("FUZZ_ROUNDS", "15"))):
        for op, names in members.items():
            body = {n: value() for n in names if rng.random() < 0.7}
            if "UserPoolId" in names and rng.random() < 0.6:
                body["UserPoolId"] = pid
            r = call(s, op, body)
            assert r.status_code < 500, (op, body, r.text)
            if r.status_code != 200:
                error(r)
    assert_healthy(s)
    assert s.proc.poll() is None


def test_metrics_count_requests_by_operation_and_status(server, idp):
    import re as _re
    _requests = requests
    idp.create_user_pool(PoolName="metrics-probe")
    with pytest.raises(botocore.exceptions.ClientError):
        idp.describe_user_pool(UserPoolId="us-east-1_NoSuchPoo")
    text = _requests.get(server.url + "/metrics").text
    ok = _re.search(r'gatehouse_requests_total\{listener="control",operation="CreateUserPool",status="200"\} (\d+)', text)
    bad = _re.search(r'gatehouse_requests_total\{listener="control",operation="DescribeUserPool",status="400"\} (\d+)', text)
    assert ok and int(ok.group(1)) >= 1, text
    assert bad and int(bad.group(1)) >= 1, text
    _requests.get(server.gateway_url + "/health")
    assert 'listener="gateway",operation="health",status="200"' in _requests.get(server.url + "/metrics").text
